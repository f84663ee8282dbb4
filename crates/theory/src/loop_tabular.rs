//! LOOP (He, Zhong & Yang 2024, "Sample-efficient Learning of Infinite-horizon Average-reward
//! MDPs with General Function Approximation", arXiv 2404.12648) in the tabular model-based
//! instantiation of loop.md:
//!
//! - confidence set `{P : ‖P(·|s,a) − P̂(·|s,a)‖₁ ≤ √(2 S ln(2 S A t/δ) / N⁺(s,a))}` and, unless
//!   the rewards are known, `r̃(s,a) = min(1, r̂ + √(ln(2 S A t/δ) / (2 N⁺)))` (1 when unvisited);
//! - optimistic planning by extended relative value iteration,
//!   `h_{n+1}(s) = max_a [r̃(s,a) + max_{p ∈ P(s,a)} p · h_n]`, until `sp(h_{n+1} − h_n) < 1/√t`;
//! - lazy switching: replan only when some `N(s,a)` has doubled since the last plan
//!   ([`DoublingTrigger`]). With `lazy = false` it replans after every step (the
//!   `ucrl-riverswim` baseline: same planner, no laziness).
//!
//! Measurement: cumulative regret `Σ_t (J* − r_t)` with `J*` exact, its log-log slope, and the
//! number of policy switches.
use polopt_envs::tabular::riverswim::riverswim;
use polopt_envs::tabular::solve::{average_evaluate, average_optimal, one_hot_policy, span};
use polopt_envs::tabular::TabularMdp;

use crate::optimism::{descending, l1_radius, ConfidenceSet, Counts, DoublingTrigger};
use crate::regret::insert_slopes;
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// Aperiodicity transform `τ P + (1 − τ) I`: same gain and optimal policies, and relative value
/// iteration converges even when the optimistic kernel is periodic.
const TAU: f64 = 0.5;

/// The output of extended value iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct AveragePlan {
    /// Optimistic gain `J̃` (midpoint of the last sweep's bounds).
    pub gain: f64,
    /// Optimistic bias, pinned at `h(0) = 0`.
    pub bias: Vec<f64>,
    /// Greedy action per state (lowest index among ties).
    pub policy: Vec<usize>,
    pub sweeps: usize,
}

/// Extended relative value iteration over `set` with optimistic rewards `reward[s][a]`
/// (row-major), warm-started from `bias` (the previous plan's: after a small change of the
/// counts it needs a few sweeps, which is what makes replanning every step affordable).
pub fn extended_value_iteration(
    set: &ConfidenceSet,
    reward: &[f64],
    bias: &[f64],
    tol: f64,
    max_sweeps: usize,
) -> AveragePlan {
    let (n_states, n_actions) = (set.n_states(), set.n_actions());
    let mut h = bias.to_vec();
    let mut policy = vec![0; n_states];
    let mut next = vec![0.0; n_states];
    let mut sweeps = 0;
    loop {
        let order = descending(&h);
        for s in 0..n_states {
            let mut best = f64::NEG_INFINITY;
            for a in 0..n_actions {
                let q = reward[s * n_actions + a] + set.max_expectation(s, a, &h, &order);
                if q > best {
                    best = q;
                    policy[s] = a;
                }
            }
            next[s] = TAU * best + (1.0 - TAU) * h[s];
        }
        let diff: Vec<f64> = next.iter().zip(&h).map(|(a, b)| a - b).collect();
        let (lo, hi) = span(&diff);
        sweeps += 1;
        for s in 0..n_states {
            h[s] = next[s] - next[0];
        }
        if hi - lo < tol * TAU || sweeps >= max_sweeps {
            return AveragePlan {
                gain: (lo + hi) / 2.0 / TAU,
                bias: h,
                policy,
                sweeps,
            };
        }
    }
}

/// The knobs of LOOP and of its non-lazy UCRL baseline.
struct Knobs {
    delta: f64,
    lazy: bool,
    known_rewards: bool,
    /// Multiplies both confidence radii (1 = the spec's).
    confidence_scale: f64,
}

/// `loop-riverswim`: replans when a count doubles.
pub fn run_lazy(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, true)
}

/// `ucrl-riverswim`: the same planner, replanning after every step.
pub fn run_every_step(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, false)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    lazy_default: bool,
) -> Result<TheoryRun, TheoryError> {
    let knobs = Knobs {
        delta: settings.f64("delta", 0.05, 1e-12, 1.0)?,
        lazy: settings.bool("lazy", lazy_default)?,
        known_rewards: settings.bool("known_rewards", false)?,
        confidence_scale: settings.f64("confidence_scale", 1.0, 0.0, 100.0)?,
    };
    settings.finish()?;
    let mdp = riverswim(6)?;
    let j_star = average_optimal(&mdp, 1e-12).gain;
    let (n_states, n_actions) = (mdp.n_states(), mdp.n_actions());
    let steps = spec.steps;
    let mut env_rng = rng(spec.seed, "env");

    let mut counts = Counts::new(n_states, n_actions);
    let mut trigger = DoublingTrigger::new(&counts);
    let mut plan = optimistic_plan(&mdp, &counts, &knobs, 1, &vec![0.0; n_states]);
    let (mut switches, mut replans) = (0u64, 1u64);
    let mut s = mdp.sample_start(&mut env_rng);
    let mut cumulative = 0.0;
    let mut regret = Vec::with_capacity(steps as usize);
    let mut out = TheoryRun::default();
    let log = log_points(steps, 200);
    for t in 1..=steps {
        let a = plan.policy[s];
        let r = mdp.r(s, a);
        let next = mdp.sample_next(s, a, &mut env_rng);
        counts.record(s, a, r, next);
        cumulative += j_star - r;
        regret.push(cumulative);
        if !knobs.lazy || trigger.fired_at(&counts, s, a) {
            let fresh = optimistic_plan(&mdp, &counts, &knobs, t + 1, &plan.bias);
            replans += 1;
            switches += u64::from(fresh.policy != plan.policy);
            plan = fresh;
            trigger.reset(&counts);
        }
        s = next;
        if log(t) {
            out.log(
                t,
                &[
                    ("regret", cumulative),
                    ("regret_per_sqrt_t", cumulative / (t as f64).sqrt()),
                    ("switches", switches as f64),
                    ("replans", replans as f64),
                    ("optimistic_gain", plan.gain),
                ],
            );
            progress(t, steps);
        }
    }
    if !cumulative.is_finite() || !plan.gain.is_finite() {
        return Err(TheoryError::NonFinite {
            what: "regret or optimistic gain".into(),
            value: cumulative + plan.gain,
            step: steps,
        });
    }
    let final_gain = average_evaluate(&mdp, &one_hot_policy(&plan.policy, n_actions), 1e-12);
    let metrics = &mut out.final_metrics;
    metrics.insert("regret".into(), cumulative);
    insert_slopes(metrics, &regret);
    metrics.insert("switches".into(), switches as f64);
    metrics.insert("replans".into(), replans as f64);
    metrics.insert("final_policy_gain".into(), final_gain);
    Ok(out)
}

/// Builds the confidence set at time `t` and runs extended value iteration to `1/√t`.
fn optimistic_plan(
    mdp: &TabularMdp,
    counts: &Counts,
    knobs: &Knobs,
    t: u64,
    warm: &[f64],
) -> AveragePlan {
    let (n_states, n_actions) = (counts.n_states(), counts.n_actions());
    let log_arg = 2.0 * (n_states * n_actions) as f64 * t as f64 / knobs.delta;
    let scale = knobs.confidence_scale;
    let set = ConfidenceSet::from_counts(counts, |n| {
        (scale * l1_radius(n_states, n, log_arg)).min(2.0)
    });
    let mut reward = vec![0.0; n_states * n_actions];
    for s in 0..n_states {
        for a in 0..n_actions {
            let n = counts.n(s, a);
            reward[s * n_actions + a] = if knobs.known_rewards {
                mdp.r(s, a)
            } else if n == 0 {
                1.0
            } else {
                let bonus = scale * (log_arg.ln() / (2.0 * n as f64)).sqrt();
                (counts.mean_reward(s, a) + bonus).min(1.0)
            };
        }
    }
    extended_value_iteration(&set, &reward, warm, 1.0 / (t as f64).sqrt(), 100_000)
}
