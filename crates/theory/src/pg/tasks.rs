//! The two environments of the policy-gradient presets (npg-igt-harpg.md, "Small CPU check"):
//! - `bandit`: two arms, rewards r = [1, 0], H = 1, π_θ = softmax(θ) (features: the constant
//!   1), where J(θ) = π_θ(0), its gradient and Hessian are known exactly;
//! - `cartpole`: Gymnasium's CartPole-v1 truncated at H steps, softmax-linear policy over the
//!   observation plus a bias feature.
use polopt_envs::classic::{ActionRef, CartPole, Env};
use polopt_envs::tabular::sample_index;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::estimators::Trajectory;
use super::softmax_linear::SoftmaxLinear;
use crate::TheoryError;

pub const ENVS: &[&str] = &["cartpole", "bandit"];

/// The bandit's mean rewards, arm 0 optimal.
pub const BANDIT_REWARDS: [f64; 2] = [1.0, 0.0];

pub enum Task {
    Bandit,
    CartPole { env: Box<CartPole>, horizon: usize },
}

impl Task {
    /// `horizon` is H for CartPole; the bandit has H = 1 and rejects any other.
    pub fn new(name: &str, horizon: usize) -> Result<Self, TheoryError> {
        match name {
            "bandit" if horizon == 1 => Ok(Task::Bandit),
            "bandit" => Err(TheoryError::Setting {
                key: "settings.horizon".into(),
                reason: format!("the bandit has horizon 1, got {horizon}"),
            }),
            "cartpole" => {
                let limit = u32::try_from(horizon).map_err(|_| TheoryError::Setting {
                    key: "settings.horizon".into(),
                    reason: format!("{horizon} is too large"),
                })?;
                let env =
                    CartPole::with_max_episode_steps(limit).map_err(|e| TheoryError::Setting {
                        key: "settings.horizon".into(),
                        reason: e.to_string(),
                    })?;
                Ok(Task::CartPole {
                    env: Box::new(env),
                    horizon,
                })
            }
            other => Err(TheoryError::Setting {
                key: "env".into(),
                reason: format!("`{other}` is not one of {}", ENVS.join(", ")),
            }),
        }
    }

    /// The default H: 1 on the bandit, 200 on CartPole (the spec's truncation).
    pub fn default_horizon(name: &str) -> usize {
        if name == "bandit" {
            1
        } else {
            200
        }
    }

    pub fn policy(&self) -> SoftmaxLinear {
        match self {
            Task::Bandit => SoftmaxLinear { actions: 2, dim: 1 },
            Task::CartPole { .. } => SoftmaxLinear {
                actions: CartPole::NUM_ACTIONS,
                dim: CartPole::OBS_DIM + 1,
            },
        }
    }

    /// One episode under π_θ: actions from `policy_rng`, the start state from `env_rng`.
    pub fn sample(
        &mut self,
        theta: &[f64],
        policy_rng: &mut ChaCha8Rng,
        env_rng: &mut ChaCha8Rng,
    ) -> Trajectory {
        let policy = self.policy();
        let mut probs = vec![0.0; policy.actions];
        let mut traj = Trajectory::default();
        match self {
            Task::Bandit => {
                policy.probs(theta, &[1.0], &mut probs);
                let a = sample_index(&probs, policy_rng);
                traj.features.push(1.0);
                traj.actions.push(a);
                traj.rewards.push(BANDIT_REWARDS[a]);
            }
            Task::CartPole { env, horizon } => {
                let mut obs = [0.0f32; CartPole::OBS_DIM];
                env.reset_into(Some(env_rng.random()), &mut obs);
                for _ in 0..*horizon {
                    let start = traj.features.len();
                    traj.features.extend(obs.iter().map(|&o| f64::from(o)));
                    traj.features.push(1.0);
                    policy.probs(theta, &traj.features[start..], &mut probs);
                    let a = sample_index(&probs, policy_rng);
                    // The action is in range and the episode is running, so stepping cannot
                    // fail; an error would be a bug in this loop, not in the settings.
                    let step = env
                        .step_into(ActionRef::Discrete(a as i64), &mut obs)
                        .expect("CartPole step within a running episode");
                    traj.actions.push(a);
                    traj.rewards.push(step.reward);
                    if step.terminated || step.truncated {
                        break;
                    }
                }
            }
        }
        traj
    }
}

/// The bandit's exact J(θ) = Σ_a π_θ(a) r_a.
pub fn bandit_value(theta: &[f64]) -> f64 {
    let probs = bandit_probs(theta);
    probs.iter().zip(BANDIT_REWARDS).map(|(p, r)| p * r).sum()
}

/// ∇J(θ) = π ⊙ (r − J).
pub fn bandit_gradient(theta: &[f64]) -> Vec<f64> {
    let probs = bandit_probs(theta);
    let j = bandit_value(theta);
    probs
        .iter()
        .zip(BANDIT_REWARDS)
        .map(|(p, r)| p * (r - j))
        .collect()
}

/// ∇²J(θ) v. With J = σ(θ_0 − θ_1) for r = [1, 0]: ∇²J = σ''·[[1,−1],[−1,1]],
/// σ'' = σ(1−σ)(1−2σ).
pub fn bandit_hessian_vector(theta: &[f64], v: &[f64]) -> Vec<f64> {
    let s = bandit_probs(theta)[0];
    let curvature = s * (1.0 - s) * (1.0 - 2.0 * s);
    let diff = v[0] - v[1];
    vec![curvature * diff, -curvature * diff]
}

fn bandit_probs(theta: &[f64]) -> Vec<f64> {
    let mut probs = vec![0.0; 2];
    SoftmaxLinear { actions: 2, dim: 1 }.probs(theta, &[1.0], &mut probs);
    probs
}
