//! Vanilla softmax actor-critic with an on-policy TD(0) critic: the baseline ac-optimal.md
//! compares the optimistic rare-switching actor-critic against (no optimism, no switching, a
//! critic of the current policy rather than of `Q*`).
//!
//! Per step `h` of the episode: `δ = r + V_{h+1}(s') − V_h(s)`, critic `V_h(s) += α_c δ`, actor
//! logits `θ_h(s,·) += α_a δ (e_a − π_h(·|s))` (the policy-gradient step with the TD error as
//! advantage). Both start at zero, so the first policy is uniform like the optimistic one's.
//! With `hybrid_episodes > 0` the critic first runs TD(0) over that many uniform-policy
//! episodes (uniform is the initial policy, so these updates are on-policy).
use polopt_envs::tabular::riverswim::riverswim;
use polopt_envs::tabular::solve::{horizon_optimal, start_value, Policy};
use polopt_envs::tabular::{sample_index, TabularMdp};
use rand::Rng;

use crate::ac_optimal::{one_hot_argmax, policy_value};
use crate::regret::insert_slopes;
use crate::{log_points, rng, softmax, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// Tabular softmax actor and TD critic, indexed `[h][s]`.
struct ActorCritic {
    logits: Vec<Vec<Vec<f64>>>,
    /// `values[h][s]`, with `values[H] = 0`.
    values: Vec<Vec<f64>>,
}

impl ActorCritic {
    fn policy(&self) -> Vec<Policy> {
        self.logits
            .iter()
            .map(|h| h.iter().map(|row| softmax(row)).collect())
            .collect()
    }

    /// One episode: act with the current softmax, update critic (and actor if `actor_lr > 0`)
    /// after every transition. Returns the episode's return.
    fn episode(
        &mut self,
        mdp: &TabularMdp,
        lrs: (f64, f64),
        env_rng: &mut impl Rng,
        policy_rng: &mut impl Rng,
    ) -> f64 {
        let (critic_lr, actor_lr) = lrs;
        let mut s = mdp.sample_start(env_rng);
        let mut ret = 0.0;
        for h in 0..self.logits.len() {
            let pi = softmax(&self.logits[h][s]);
            let a = sample_index(&pi, policy_rng);
            let next = mdp.sample_next(s, a, env_rng);
            let r = mdp.r(s, a);
            let td = r + self.values[h + 1][next] - self.values[h][s];
            self.values[h][s] += critic_lr * td;
            for (b, logit) in self.logits[h][s].iter_mut().enumerate() {
                *logit += actor_lr * td * (f64::from(u8::from(a == b)) - pi[b]);
            }
            ret += r;
            s = next;
        }
        ret
    }
}

/// `ac-vanilla-riverswim`.
pub fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    let horizon = settings.usize("horizon", 20, 1, 10_000)?;
    let critic_lr = settings.f64("critic_lr", 0.1, 1e-9, 1.0)?;
    let actor_lr = settings.f64("actor_lr", 0.1, 1e-9, 100.0)?;
    let hybrid_episodes = settings.usize("hybrid_episodes", 0, 0, 1_000_000)?;
    settings.finish()?;
    let mdp = riverswim(6)?;
    let (n_states, n_actions) = (mdp.n_states(), mdp.n_actions());
    let episodes = spec.steps;
    let v_star = start_value(&mdp, &horizon_optimal(&mdp, horizon).values[0]);
    let mut env_rng = rng(spec.seed, "env");
    let mut policy_rng = rng(spec.seed, "policy");

    let mut ac = ActorCritic {
        logits: vec![vec![vec![0.0; n_actions]; n_states]; horizon],
        values: vec![vec![0.0; n_states]; horizon + 1],
    };
    let (mut offline_env, mut offline_policy) = (
        rng(spec.seed, "offline-env"),
        rng(spec.seed, "offline-policy"),
    );
    for _ in 0..hybrid_episodes {
        ac.episode(
            &mdp,
            (critic_lr, 0.0),
            &mut offline_env,
            &mut offline_policy,
        );
    }
    let mut cumulative = 0.0;
    let mut regret = Vec::with_capacity(episodes as usize);
    let mut out = TheoryRun::default();
    let log = log_points(episodes, 200);
    for k in 1..=episodes {
        let value = policy_value(&mdp, &ac.policy());
        cumulative += v_star - value;
        regret.push(cumulative);
        let ret = ac.episode(&mdp, (critic_lr, actor_lr), &mut env_rng, &mut policy_rng);
        if log(k) {
            out.log(
                k,
                &[
                    ("regret", cumulative),
                    ("regret_per_sqrt_t", cumulative / (k as f64).sqrt()),
                    ("return", ret),
                    ("policy_value", policy_value(&mdp, &ac.policy())),
                ],
            );
            progress(k, episodes);
        }
    }
    let final_value = policy_value(&mdp, &ac.policy());
    crate::finite("regret or policy value", cumulative + final_value, episodes)?;
    let greedy: Vec<Policy> = ac
        .logits
        .iter()
        .map(|h| h.iter().map(|row| one_hot_argmax(row)).collect())
        .collect();
    let metrics = &mut out.final_metrics;
    metrics.insert("regret".into(), cumulative);
    insert_slopes(metrics, &regret);
    metrics.insert("final_value".into(), final_value);
    metrics.insert("greedy_value".into(), policy_value(&mdp, &greedy));
    Ok(out)
}
