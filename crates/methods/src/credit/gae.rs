//! Generalized Advantage Estimation (Schulman et al. 2016; ppo-baseline.md, "Method"):
//!
//! `delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)`,
//! `A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}`, `R_t = A_t + V(s_t)`,
//! with `done_t = term_t or trunc_t`.
//!
//! Termination and truncation differ only in the bootstrap: a terminal state is worth 0, a
//! time-limit cut is worth the critic's value of the observation that ended the episode
//! (`final_obs`, kept by the vector env before its autoreset). Either one stops the recursion,
//! because the next row of the rollout belongs to a new episode.
use super::{AdvantageEstimator, Advantages, CreditBatch};
use crate::error::MethodError;

/// Per-step critic data of a rollout of `N` environments for `T` steps, time-major: the
/// element of step `t` in environment `i` is at `t * N + i`. Rewards come separately (the
/// `rewards` of [`CreditBatch`]).
#[derive(Debug, Clone, Copy)]
pub struct Trajectories<'a> {
    /// `V(s_t)` of the observation acted on, `[T * N]`.
    pub values: &'a [f64],
    /// `V` of the observation the step produced, before any autoreset, `[T * N]`: the next
    /// row's observation while the episode runs on, `V(final_obs)` where it ended, and the
    /// bootstrap value of the last observation in the last row. Ignored where `terminated`.
    pub next_values: &'a [f64],
    /// The task ended the episode (bootstrap with 0), `[T * N]`.
    pub terminated: &'a [bool],
    /// The time limit ended the episode (bootstrap with `next_values`), `[T * N]`.
    pub truncated: &'a [bool],
    /// `N`, the number of environments stepped together.
    pub num_envs: usize,
}

impl Trajectories<'_> {
    fn check(&self, rewards: usize) -> Result<(), MethodError> {
        let n = self.values.len();
        let lens_agree = [
            rewards,
            self.next_values.len(),
            self.terminated.len(),
            self.truncated.len(),
        ]
        .iter()
        .all(|&l| l == n);
        if !lens_agree || self.num_envs == 0 || !n.is_multiple_of(self.num_envs) {
            return Err(MethodError::Shape {
                part: "gae",
                detail: format!(
                    "rewards {rewards}, values {n}, next_values {}, terminated {}, truncated {}, num_envs {} (all lengths must be equal and a multiple of num_envs)",
                    self.next_values.len(),
                    self.terminated.len(),
                    self.truncated.len(),
                    self.num_envs
                ),
            });
        }
        let non_finite = self
            .values
            .iter()
            .chain(self.next_values)
            .enumerate()
            .find(|(_, v)| !v.is_finite());
        if let Some((index, &value)) = non_finite {
            return Err(MethodError::NonFinite {
                part: "gae",
                what: "value",
                index: index % n,
                value,
            });
        }
        Ok(())
    }
}

/// Advantages and returns (`A + V`), both `[T * N]` time-major, by the backward recursion.
/// Lengths are the caller's contract (see [`Trajectories`]); [`Gae`] checks them.
pub fn gae(rewards: &[f64], traj: &Trajectories, gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let n = traj.num_envs.max(1);
    let len = rewards.len();
    let mut advantages = vec![0.0; len];
    // A_{t+1} per environment; 0 past the end of the rollout, where delta already bootstraps.
    let mut next_advantage = vec![0.0; n];
    for k in (0..len).rev() {
        let env = k % n;
        let not_terminal = if traj.terminated[k] { 0.0 } else { 1.0 };
        let continues = if traj.terminated[k] || traj.truncated[k] {
            0.0
        } else {
            1.0
        };
        let delta = rewards[k] + gamma * not_terminal * traj.next_values[k] - traj.values[k];
        let a = delta + gamma * lambda * continues * next_advantage[env];
        advantages[k] = a;
        next_advantage[env] = a;
    }
    let returns = advantages
        .iter()
        .zip(traj.values)
        .map(|(a, v)| a + v)
        .collect();
    (advantages, returns)
}

/// GAE in the credit registry: one advantage per environment step ([`Advantages::Sequence`]
/// over the `[T * N]` steps); returns are `advantage + value`.
pub struct Gae {
    pub gamma: f64,
    pub lambda: f64,
}

impl AdvantageEstimator for Gae {
    fn name(&self) -> &'static str {
        "gae"
    }

    fn estimate(&self, batch: &CreditBatch) -> Result<Advantages, MethodError> {
        batch.check("gae")?;
        let traj = batch.trajectories.ok_or_else(|| MethodError::Shape {
            part: "gae",
            detail: "needs per-step trajectories (values, next values, done flags); it is a control estimator".into(),
        })?;
        traj.check(batch.rewards.len())?;
        Ok(Advantages::Sequence(
            gae(batch.rewards, traj, self.gamma, self.lambda).0,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_terminal_ignores_the_bootstrap() {
        // ppo-baseline.md, "Exact test vectors".
        let traj = Trajectories {
            values: &[0.5, 0.4, 0.3],
            next_values: &[0.4, 0.3, 0.2],
            terminated: &[false, false, true],
            truncated: &[false, false, false],
            num_envs: 1,
        };
        let (adv, ret) = gae(&[1.0, 1.0, 1.0], &traj, 0.99, 0.95);
        for (got, want) in adv.iter().zip([2.358807, 1.555350, 0.700000]) {
            assert!((got - want).abs() < 1e-6, "{adv:?}");
        }
        for (got, want) in ret.iter().zip([2.858807, 1.955350, 1.000000]) {
            assert!((got - want).abs() < 1e-6, "{ret:?}");
        }
    }

    #[test]
    fn registry_estimator_needs_trajectories() {
        let batch = CreditBatch {
            rewards: &[1.0],
            group_ids: &[0],
            response_lens: &[1],
            token_kl: None,
            trajectories: None,
            episodes: None,
        };
        let err = Gae {
            gamma: 0.99,
            lambda: 0.95,
        }
        .estimate(&batch)
        .unwrap_err();
        assert!(err.to_string().contains("trajectories"), "{err}");
    }
}
