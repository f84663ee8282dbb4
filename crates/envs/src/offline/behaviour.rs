//! Behaviour policies of the datasets (`envs/offline-data.md` §2-§3): the scripted experts on
//! the environments' internal state, the uniform-random policy, and the ε-mixture of the two
//! that every split is made of.
//!
//! One family covers all splits: with probability ε the action is uniform over the action
//! space, otherwise it is the expert's, plus N(0, (0.1·range)²) clipped for continuous actions.
//! random is ε = 1; expert is ε = 0.05 (discrete) or ε = 0 with the Gaussian noise
//! (continuous); medium is the bisected ε; medium-replay a stream of ε_k.
//!
//! Randomness is drawn from the raw `u64`s of a `ChaCha8Rng` (the crate is pinned), not from
//! `rand`'s distributions, so a seed's data depends only on that stream.
use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::error::OfflineError;
use crate::classic::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum, Space};

/// The environments with a scripted expert.
pub const DATASET_ENV_IDS: [&str; 5] = [
    CartPole::ID,
    Acrobot::ID,
    MountainCar::ID,
    MountainCarContinuous::ID,
    Pendulum::ID,
];

/// A uniform double in [0, 1) from the top 53 bits of one `u64` (NumPy's `next_double`).
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal by Box-Muller from two units (always two draws, so streams stay aligned).
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = unit(rng);
    let u2 = unit(rng);
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// The scripted expert's action on the internal state (§2 table): an index for discrete
/// environments, the unclipped-by-noise mean action for continuous ones.
pub fn expert_action(env_id: &str, state: &[f64]) -> Result<f64, OfflineError> {
    let s = |i: usize| state.get(i).copied().unwrap_or(f64::NAN);
    Ok(match env_id {
        // a = 1 if θ + 0.5 θ̇ + 0.05 x + 0.1 ẋ > 0; state [x, ẋ, θ, θ̇].
        CartPole::ID => f64::from(u8::from(s(2) + 0.5 * s(3) + 0.05 * s(0) + 0.1 * s(1) > 0.0)),
        // Energy pumping: a = 2 (torque +1) if θ̇₂ > 0 else 0; state [θ1, θ2, θ̇1, θ̇2].
        Acrobot::ID => {
            if s(3) > 0.0 {
                2.0
            } else {
                0.0
            }
        }
        // Push along the velocity; state [position, velocity].
        MountainCar::ID => {
            if s(1) >= 0.0 {
                2.0
            } else {
                0.0
            }
        }
        MountainCarContinuous::ID => {
            if s(1) >= 0.0 {
                1.0
            } else {
                -1.0
            }
        }
        Pendulum::ID => pendulum_expert(s(0), s(1)),
        other => {
            return Err(OfflineError::Unsupported(format!(
                "no scripted expert for {other:?}; datasets exist for {}",
                DATASET_ENV_IDS.join(", ")
            )))
        }
    })
}

/// Near the top (cos θ > 0.85) a PD controller on the wrapped angle; elsewhere bang-bang energy
/// pumping toward E = 15, with E = ½θ̇² + 15 cos θ (§2 table). `sign(0) = 0` as in NumPy.
fn pendulum_expert(theta: f64, theta_dot: f64) -> f64 {
    if theta.cos() > 0.85 {
        let wrapped = (theta + PI).rem_euclid(2.0 * PI) - PI;
        (-(10.0 * wrapped + 2.0 * theta_dot)).clamp(-2.0, 2.0)
    } else {
        let energy = 0.5 * theta_dot * theta_dot + 15.0 * theta.cos();
        let x = theta_dot * (15.0 - energy);
        2.0 * if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        }
    }
}

/// One action chosen by a [`Behaviour`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chosen {
    Discrete(i64),
    /// A one-dimensional continuous action and its behaviour log-density (see
    /// [`Behaviour::act`]).
    Continuous {
        action: f32,
        logp: f32,
    },
}

/// The ε-mixture of the scripted expert and the uniform policy, for one environment.
#[derive(Debug, Clone)]
pub struct Behaviour {
    env_id: &'static str,
    /// `Some(n)` for discrete action spaces.
    num_actions: Option<usize>,
    low: f64,
    high: f64,
    /// Probability of a uniform action.
    pub eps: f64,
    /// Standard deviation of the Gaussian noise on the expert's continuous action.
    pub noise_std: f64,
}

impl Behaviour {
    /// The mixture for `env_id` with uniform probability `eps`; continuous experts get the §3
    /// exploration noise of 0.1 × the action range.
    pub fn new(env_id: &str, eps: f64) -> Result<Self, OfflineError> {
        let env_id = DATASET_ENV_IDS
            .iter()
            .copied()
            .find(|id| *id == env_id)
            .ok_or_else(|| {
                OfflineError::Unsupported(format!(
                    "no scripted expert for {env_id:?}; datasets exist for {}",
                    DATASET_ENV_IDS.join(", ")
                ))
            })?;
        if !(0.0..=1.0).contains(&eps) {
            return Err(OfflineError::Unsupported(format!(
                "eps must be in [0, 1], got {eps}"
            )));
        }
        let env = crate::classic::make(env_id)?;
        let (num_actions, low, high) = match env.action_space() {
            Space::Discrete { n } => (Some(n), 0.0, n as f64),
            Space::Box { low, high } => (None, low[0] as f64, high[0] as f64),
        };
        Ok(Behaviour {
            env_id,
            num_actions,
            low,
            high,
            eps,
            noise_std: if num_actions.is_some() {
                0.0
            } else {
                0.1 * (high - low)
            },
        })
    }

    /// The deterministic expert (no noise, ε = 0), for the reference returns.
    pub fn deterministic_expert(env_id: &str) -> Result<Self, OfflineError> {
        Ok(Behaviour {
            noise_std: 0.0,
            ..Self::new(env_id, 0.0)?
        })
    }

    pub fn is_discrete(&self) -> bool {
        self.num_actions.is_some()
    }

    /// A human-readable description for the metadata.
    pub fn describe(&self) -> String {
        match self.num_actions {
            Some(n) => format!(
                "eps-mixture: with prob {} uniform over {n} actions, else the scripted expert of {}",
                self.eps, self.env_id
            ),
            None => format!(
                "eps-mixture: with prob {} uniform on [{}, {}], else the scripted expert of {} \
                 + N(0, {}^2) clipped",
                self.eps, self.low, self.high, self.env_id, self.noise_std
            ),
        }
    }

    /// Draws an action for the environment's internal `state`. Per step: one unit decides
    /// uniform vs expert, then one unit (uniform) or two (the expert's Gaussian noise).
    ///
    /// `logp` of a continuous action is its log-density under the mixture with respect to
    /// Lebesgue measure plus point masses at the bounds: in the interior
    /// log(ε/range + (1-ε)·N(a; μ, σ²)); at a bound the clipped noise has an atom, and logp is
    /// log((1-ε)·P(μ + σz beyond the bound)). With σ = 0 (the deterministic expert) it is
    /// `log(ε/range)` off the expert action and 0 on it, only meaningful for ε = 1.
    pub fn act(&self, state: &[f64], rng: &mut ChaCha8Rng) -> Result<Chosen, OfflineError> {
        let uniform = unit(rng) < self.eps;
        let mean = expert_action(self.env_id, state)?;
        match self.num_actions {
            Some(n) => {
                let a = if uniform {
                    ((unit(rng) * n as f64) as i64).min(n as i64 - 1)
                } else {
                    mean as i64
                };
                Ok(Chosen::Discrete(a))
            }
            None => {
                let action = if uniform {
                    (self.low + (self.high - self.low) * unit(rng)) as f32
                } else if self.noise_std > 0.0 {
                    let raw = mean + self.noise_std * standard_normal(rng);
                    raw.clamp(self.low, self.high) as f32
                } else {
                    mean as f32
                };
                let logp = self.log_density(mean, action as f64) as f32;
                Ok(Chosen::Continuous { action, logp })
            }
        }
    }

    /// See [`Behaviour::act`].
    fn log_density(&self, mean: f64, a: f64) -> f64 {
        let range = self.high - self.low;
        let at_bound = a <= self.low || a >= self.high;
        let expert = if self.noise_std == 0.0 {
            if a == mean {
                1.0
            } else {
                0.0
            }
        } else if at_bound {
            let z = if a >= self.high {
                (self.high - mean) / self.noise_std
            } else {
                (mean - self.low) / self.noise_std
            };
            // P(N(0,1) > z) = erfc(z / √2) / 2
            0.5 * erfc(z / std::f64::consts::SQRT_2)
        } else {
            let z = (a - mean) / self.noise_std;
            (-0.5 * z * z).exp() / (self.noise_std * (2.0 * PI).sqrt())
        };
        let uniform = if at_bound { 0.0 } else { 1.0 / range };
        (self.eps * uniform + (1.0 - self.eps) * expert).ln()
    }
}

/// The complementary error function, with relative error below 1.2e-7 everywhere (Numerical
/// Recipes' `erfcc`, a Chebyshev fit); enough for an f32 log-probability.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (-1.0, 1.842_700_792_949_715),
        ] {
            assert!(((erfc(x) - want) / want).abs() < 2e-7, "erfc({x})");
        }
    }

    #[test]
    fn the_experts_follow_the_table() {
        assert_eq!(
            expert_action("CartPole-v1", &[0.0, 0.0, 0.01, 0.0]).unwrap(),
            1.0
        );
        assert_eq!(
            expert_action("CartPole-v1", &[0.0, 0.0, 0.01, -0.1]).unwrap(),
            0.0
        );
        assert_eq!(
            expert_action("Acrobot-v1", &[0.0, 0.0, 0.0, 0.3]).unwrap(),
            2.0
        );
        assert_eq!(expert_action("MountainCar-v0", &[-0.5, 0.0]).unwrap(), 2.0);
        assert_eq!(
            expert_action("MountainCarContinuous-v0", &[-0.5, -0.01]).unwrap(),
            -1.0
        );
        // Upright and still: no torque; slightly off: PD, clipped.
        assert_eq!(expert_action("Pendulum-v1", &[0.0, 0.0]).unwrap(), 0.0);
        assert!((expert_action("Pendulum-v1", &[0.1, 0.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(
            expert_action("Pendulum-v1", &[2.0 * PI + 0.5, 0.0]).unwrap(),
            -2.0
        );
        // Hanging down at rest: E = -15 < 15 but θ̇ = 0, so sign(0) = 0.
        assert_eq!(expert_action("Pendulum-v1", &[PI, 0.0]).unwrap(), 0.0);
        assert_eq!(expert_action("Pendulum-v1", &[PI, 0.5]).unwrap(), 2.0);
        assert!(expert_action("Nope-v0", &[]).is_err());
    }

    #[test]
    fn continuous_logp_is_a_density_with_atoms_at_the_bounds() {
        // Integrate exp(logp) over the interior plus the two atoms for a mean near a bound.
        let b = Behaviour::new("Pendulum-v1", 0.3).unwrap();
        let mean = 1.5;
        let steps = 40_000;
        let h = 4.0 / steps as f64;
        let interior: f64 = (0..steps)
            .map(|i| b.log_density(mean, -2.0 + (i as f64 + 0.5) * h).exp() * h)
            .sum();
        let atoms = b.log_density(mean, 2.0).exp() + b.log_density(mean, -2.0).exp();
        assert!(
            (interior + atoms - 1.0).abs() < 1e-5,
            "{interior} + {atoms}"
        );
    }

    #[test]
    fn eps_one_is_uniform_and_eps_zero_is_the_expert() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let uniform = Behaviour::new("CartPole-v1", 1.0).unwrap();
        let ones = (0..4000)
            .filter(|_| {
                uniform.act(&[0.0, 0.0, 0.1, 0.0], &mut rng).unwrap() == Chosen::Discrete(1)
            })
            .count();
        assert!((1800..2200).contains(&ones), "{ones}");
        let expert = Behaviour::new("CartPole-v1", 0.0).unwrap();
        assert!((0..100)
            .all(|_| expert.act(&[0.0, 0.0, 0.1, 0.0], &mut rng).unwrap() == Chosen::Discrete(1)));
    }
}
