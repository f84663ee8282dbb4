//! Optimistic rare-switching actor-critic (Tan, Fan & Wei 2025, "Actor-Critics Can Achieve
//! Optimal Sample Efficiency", ICML; arXiv 2505.03710), reconstructed from the abstract's three
//! ingredients in the tabular form of ac-optimal.md:
//!
//! - critic: optimistic LSVI targeting `Q*` on all past transitions (stationary kernel, so the
//!   data of every step `h` is pooled), `Q_h(s,a) = min{H, r̂ + P̂ · max_a' Q_{h+1}(·,a') +
//!   b/√N(s,a)}`; an unvisited pair gets `H` when `b > 0` and the ridge estimate 0 when `b = 0`;
//! - rare switching: the critic is recomputed only when some `N(s,a)` has doubled
//!   ([`DoublingTrigger`]), and every switch resets the actor to uniform;
//! - actor: mirror descent (NPG) on the current critic after every episode,
//!   `π_h(a|s) ∝ π_h(a|s) exp(η Q_h(s,a))`.
//!
//! `b = c · H √(ln(S A H K / δ))` with `c = bonus_c` (`ac-nooptimism`: `c = 0`). The hybrid
//! variant adds `hybrid_episodes` uniform-policy episodes to the data before the first episode.
//! Measurement: cumulative regret `Σ_k (V*_1(s_1) − V^{π_k}_1(s_1))`, computed exactly.
use polopt_envs::tabular::riverswim::riverswim;
use polopt_envs::tabular::solve::{argmax, horizon_evaluate, horizon_optimal, start_value, Policy};
use polopt_envs::tabular::{sample_index, TabularMdp};
use rand::Rng;

use crate::optimism::{Counts, DoublingTrigger};
use crate::regret::insert_slopes;
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// One mirror-descent step `π' ∝ π exp(η q)` (shifted by `max q` so large values cannot
/// overflow).
pub fn mirror_step(pi: &[f64], q: &[f64], eta: f64) -> Vec<f64> {
    let top = q.iter().fold(f64::NEG_INFINITY, |m, x| m.max(*x));
    let w: Vec<f64> = pi
        .iter()
        .zip(q)
        .map(|(p, x)| p * (eta * (x - top)).exp())
        .collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

/// The tabular bonus `b / √N` (`‖φ‖_{Λ⁻¹}` for a one-hot feature seen `N` times); infinite for
/// an unvisited pair when `b > 0`, so its value is the cap `H`.
pub fn bonus(n: u64, b: f64) -> f64 {
    match (n, b > 0.0) {
        (_, false) => 0.0,
        (0, true) => f64::INFINITY,
        (n, true) => b / (n as f64).sqrt(),
    }
}

/// Optimistic LSVI over `horizon` steps from the pooled counts: `q[h][s][a]`, capped at `H`.
pub fn optimistic_lsvi(counts: &Counts, horizon: usize, b: f64) -> Vec<Vec<Vec<f64>>> {
    let (n_states, n_actions) = (counts.n_states(), counts.n_actions());
    let cap = horizon as f64;
    let mut q = vec![vec![vec![0.0; n_actions]; n_states]; horizon];
    let mut v_next = vec![0.0; n_states];
    for q_h in q.iter_mut().rev() {
        for (s, row) in q_h.iter_mut().enumerate() {
            for (a, q_sa) in row.iter_mut().enumerate() {
                let n = counts.n(s, a);
                let estimate = if n == 0 {
                    0.0
                } else {
                    let p = counts.p_hat(s, a);
                    counts.mean_reward(s, a)
                        + p.iter().zip(&v_next).map(|(p, v)| p * v).sum::<f64>()
                };
                *q_sa = (estimate + bonus(n, b)).min(cap);
            }
        }
        v_next = q_h
            .iter()
            .map(|row| row.iter().fold(f64::NEG_INFINITY, |m, x| m.max(*x)))
            .collect();
    }
    q
}

/// The uniform policy at every step.
pub fn uniform(horizon: usize, n_states: usize, n_actions: usize) -> Vec<Policy> {
    vec![vec![vec![1.0 / n_actions as f64; n_actions]; n_states]; horizon]
}

/// `V^π_1` from the start distribution, exactly.
pub fn policy_value(mdp: &TabularMdp, pi: &[Policy]) -> f64 {
    start_value(mdp, &horizon_evaluate(mdp, pi)[0])
}

/// Rolls out one episode of `pi`, recording every transition; returns its return.
pub fn rollout(
    mdp: &TabularMdp,
    pi: &[Policy],
    counts: &mut Counts,
    env_rng: &mut impl Rng,
    policy_rng: &mut impl Rng,
) -> f64 {
    let mut s = mdp.sample_start(env_rng);
    let mut ret = 0.0;
    for step in pi {
        let a = sample_index(&step[s], policy_rng);
        let next = mdp.sample_next(s, a, env_rng);
        let r = mdp.r(s, a);
        counts.record(s, a, r, next);
        ret += r;
        s = next;
    }
    ret
}

/// `ac-optimal-riverswim`.
pub fn run_optimistic(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, 0.1)
}

/// `ac-nooptimism-riverswim`: the same loop with `b = 0`.
pub fn run_no_optimism(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, 0.0)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    bonus_c_default: f64,
) -> Result<TheoryRun, TheoryError> {
    let horizon = settings.usize("horizon", 20, 1, 10_000)?;
    let bonus_c = settings.f64("bonus_c", bonus_c_default, 0.0, 100.0)?;
    let delta = settings.f64("delta", 0.05, 1e-12, 1.0)?;
    let eta = settings.f64("eta", 1.0 / horizon as f64, 0.0, 1e6)?;
    let hybrid_episodes = settings.usize("hybrid_episodes", 0, 0, 1_000_000)?;
    settings.finish()?;
    let mdp = riverswim(6)?;
    let (n_states, n_actions) = (mdp.n_states(), mdp.n_actions());
    let episodes = spec.steps;
    let h = horizon as f64;
    let log_arg = (n_states * n_actions) as f64 * h * episodes.max(1) as f64 / delta;
    let b = bonus_c * h * log_arg.max(1.0).ln().sqrt();
    let v_star = start_value(&mdp, &horizon_optimal(&mdp, horizon).values[0]);
    let mut env_rng = rng(spec.seed, "env");
    let mut policy_rng = rng(spec.seed, "policy");

    let mut counts = Counts::new(n_states, n_actions);
    let offline = uniform(horizon, n_states, n_actions);
    let (mut offline_env, mut offline_policy) = (
        rng(spec.seed, "offline-env"),
        rng(spec.seed, "offline-policy"),
    );
    for _ in 0..hybrid_episodes {
        rollout(
            &mdp,
            &offline,
            &mut counts,
            &mut offline_env,
            &mut offline_policy,
        );
    }
    let mut q = optimistic_lsvi(&counts, horizon, b);
    let mut pi = uniform(horizon, n_states, n_actions);
    let mut trigger = DoublingTrigger::new(&counts);
    let mut switches = 0u64;
    let mut cumulative = 0.0;
    let mut regret = Vec::with_capacity(episodes as usize);
    let mut out = TheoryRun::default();
    let log = log_points(episodes, 200);
    for k in 1..=episodes {
        cumulative += v_star - policy_value(&mdp, &pi);
        regret.push(cumulative);
        let ret = rollout(&mdp, &pi, &mut counts, &mut env_rng, &mut policy_rng);
        if trigger.fired(&counts) {
            q = optimistic_lsvi(&counts, horizon, b);
            pi = uniform(horizon, n_states, n_actions);
            trigger.reset(&counts);
            switches += 1;
        } else {
            for (pi_h, q_h) in pi.iter_mut().zip(&q) {
                for (row, q_row) in pi_h.iter_mut().zip(q_h) {
                    *row = mirror_step(row, q_row, eta);
                }
            }
        }
        if log(k) {
            out.log(
                k,
                &[
                    ("regret", cumulative),
                    ("regret_per_sqrt_t", cumulative / (k as f64).sqrt()),
                    ("return", ret),
                    ("policy_value", policy_value(&mdp, &pi)),
                    ("switches", switches as f64),
                ],
            );
            progress(k, episodes);
        }
    }
    let final_value = policy_value(&mdp, &pi);
    crate::finite("regret or policy value", cumulative + final_value, episodes)?;
    let greedy: Vec<Policy> = q
        .iter()
        .map(|q_h| q_h.iter().map(|row| one_hot_argmax(row)).collect())
        .collect();
    let metrics = &mut out.final_metrics;
    metrics.insert("regret".into(), cumulative);
    insert_slopes(metrics, &regret);
    metrics.insert("final_value".into(), final_value);
    metrics.insert("greedy_value".into(), policy_value(&mdp, &greedy));
    metrics.insert("switches".into(), switches as f64);
    Ok(out)
}

/// The greedy action of `row` (lowest index among ties) as a one-hot distribution.
pub fn one_hot_argmax(row: &[f64]) -> Vec<f64> {
    let best = argmax(row);
    (0..row.len())
        .map(|i| f64::from(u8::from(i == best)))
        .collect()
}
