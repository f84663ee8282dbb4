//! ε-greedy Q-learning (discount 0.99): the undirected-exploration baseline loop.md compares
//! LOOP against on RiverSwim. `Q(s,a) ← Q(s,a) + α (r + γ max_a' Q(s',a') − Q(s,a))`, actions
//! ε-greedy with uniform tie-breaking. Its regret is measured like LOOP's, against the exact
//! average-reward optimum: `Σ_t (J* − r_t)`.
use polopt_envs::tabular::riverswim::riverswim;
use polopt_envs::tabular::solve::{average_evaluate, average_optimal, one_hot_policy};
use rand::{Rng, RngExt};

use crate::regret::insert_slopes;
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// `qlearning-riverswim`.
pub fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    let epsilon = settings.f64("epsilon", 0.1, 0.0, 1.0)?;
    let gamma = settings.f64("gamma", 0.99, 0.0, 0.999_999)?;
    let lr = settings.f64("lr", 0.1, 1e-9, 1.0)?;
    settings.finish()?;
    let mdp = riverswim(6)?;
    let j_star = average_optimal(&mdp, 1e-12).gain;
    let (n_states, n_actions) = (mdp.n_states(), mdp.n_actions());
    let steps = spec.steps;
    let mut env_rng = rng(spec.seed, "env");
    let mut policy_rng = rng(spec.seed, "policy");

    let mut q = vec![0.0; n_states * n_actions];
    let mut greedy = vec![0; n_states];
    let mut switches = 0u64;
    let mut s = mdp.sample_start(&mut env_rng);
    let mut cumulative = 0.0;
    let mut regret = Vec::with_capacity(steps as usize);
    let mut out = TheoryRun::default();
    let log = log_points(steps, 200);
    for t in 1..=steps {
        let row = &q[s * n_actions..][..n_actions];
        let a = if policy_rng.random_bool(epsilon) {
            policy_rng.random_range(0..n_actions)
        } else {
            argmax_random_ties(row, &mut policy_rng)
        };
        let r = mdp.r(s, a);
        let next = mdp.sample_next(s, a, &mut env_rng);
        let target = r + gamma
            * q[next * n_actions..][..n_actions]
                .iter()
                .fold(f64::NEG_INFINITY, |m, x| m.max(*x));
        q[s * n_actions + a] += lr * (target - q[s * n_actions + a]);
        // A switch is a change of the greedy action (lowest index among ties) at the updated
        // state: the policy Q-learning would deploy without its ε.
        let row = &q[s * n_actions..][..n_actions];
        let now = (0..n_actions).fold(0, |b, i| if row[i] > row[b] { i } else { b });
        if now != greedy[s] {
            greedy[s] = now;
            switches += 1;
        }
        cumulative += j_star - r;
        regret.push(cumulative);
        s = next;
        if log(t) {
            out.log(
                t,
                &[
                    ("regret", cumulative),
                    ("regret_per_sqrt_t", cumulative / (t as f64).sqrt()),
                    ("switches", switches as f64),
                ],
            );
            progress(t, steps);
        }
    }
    if let Some(bad) = q.iter().find(|x| !x.is_finite()) {
        return Err(TheoryError::NonFinite {
            what: "Q".into(),
            value: *bad,
            step: steps,
        });
    }
    let final_gain = average_evaluate(&mdp, &one_hot_policy(&greedy, n_actions), 1e-12);
    let metrics = &mut out.final_metrics;
    metrics.insert("regret".into(), cumulative);
    insert_slopes(metrics, &regret);
    metrics.insert("switches".into(), switches as f64);
    metrics.insert("final_policy_gain".into(), final_gain);
    Ok(out)
}

/// The index of a maximum, uniformly among ties.
pub fn argmax_random_ties(row: &[f64], rng: &mut impl Rng) -> usize {
    let best = row.iter().fold(f64::NEG_INFINITY, |m, x| m.max(*x));
    let ties: Vec<usize> = (0..row.len()).filter(|&i| row[i] == best).collect();
    ties[rng.random_range(0..ties.len())]
}
