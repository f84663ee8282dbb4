//! What every classic-control environment shares: the episode bookkeeping of Gymnasium's
//! `TimeLimit` and order enforcement, the reset RNG, action checks and the libm square.
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::{ActionKind, EnvError, ResetReason};
use super::ActionRef;

/// `x**2` on a NumPy float64 scalar: libm `pow`, which differs from `x*x` by one ulp on ~0.08% of
/// inputs (spec §0.2). `black_box` stops LLVM from rewriting `powf(x, 2.0)` into `x*x`.
#[inline(always)]
pub(crate) fn pow2(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

/// `x**2` on a NumPy float32 scalar: libm `powf` (spec §0.2, §5).
#[inline(always)]
pub(crate) fn pow2f(x: f32) -> f32 {
    x.powf(std::hint::black_box(2.0f32))
}

/// Gymnasium's `TimeLimit` plus the "reset before step" rule (spec §0.6).
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    pub(crate) max_steps: u32,
    elapsed: u32,
    status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    NeverReset,
    Running,
    Ended { terminated: bool, truncated: bool },
}

impl Episode {
    pub(crate) fn new(env: &'static str, max_steps: u32) -> Result<Self, EnvError> {
        if max_steps == 0 {
            return Err(EnvError::InvalidTimeLimit {
                env,
                got: max_steps,
            });
        }
        Ok(Episode {
            max_steps,
            elapsed: 0,
            status: Status::NeverReset,
        })
    }

    /// For the registered limits, which are constants above zero.
    pub(crate) const fn registered(max_steps: u32) -> Self {
        Episode {
            max_steps,
            elapsed: 0,
            status: Status::NeverReset,
        }
    }

    pub(crate) fn begin(&mut self) {
        self.elapsed = 0;
        self.status = Status::Running;
    }

    #[inline(always)]
    pub(crate) fn check_running(&self, env: &'static str) -> Result<(), EnvError> {
        match self.status {
            Status::Running => Ok(()),
            Status::NeverReset => Err(EnvError::ResetNeeded {
                env,
                reason: ResetReason::NeverReset,
            }),
            Status::Ended {
                terminated,
                truncated,
            } => Err(EnvError::ResetNeeded {
                env,
                reason: ResetReason::EpisodeEnded {
                    terminated,
                    truncated,
                },
            }),
        }
    }

    /// Counts one step and returns `truncated`. Both flags may be true at once, as in Gymnasium.
    #[inline(always)]
    pub(crate) fn advance(&mut self, terminated: bool) -> bool {
        self.elapsed += 1;
        let truncated = self.elapsed >= self.max_steps;
        if terminated || truncated {
            self.status = Status::Ended {
                terminated,
                truncated,
            };
        }
        truncated
    }

    pub(crate) fn elapsed(&self) -> u32 {
        self.elapsed
    }
}

/// The reset RNG. Gymnasium's semantics: `reset(Some(seed))` reseeds, `reset(None)` continues
/// the stream, and an environment never seeded draws its seed from the OS. Only the
/// distribution matches Gymnasium, not NumPy's stream (spec §0.7).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResetRng {
    rng: Option<ChaCha8Rng>,
}

impl ResetRng {
    pub(crate) fn reseed(&mut self, seed: Option<u64>) {
        match seed {
            Some(seed) => self.rng = Some(ChaCha8Rng::seed_from_u64(seed)),
            None if self.rng.is_none() => self.rng = Some(rand::make_rng()),
            None => {}
        }
    }

    /// NumPy's `uniform(lo, hi) = lo + (hi - lo) * next_double()`, where `next_double` is the top
    /// 53 bits of one `u64` as a fraction in [0, 1). Written out instead of using `rand`'s
    /// distributions so that a seed's initial states depend only on the pinned ChaCha stream.
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let rng = self.rng.get_or_insert_with(rand::make_rng);
        let unit = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        lo + (hi - lo) * unit
    }
}

/// The index of a valid discrete action, or the error Gymnasium's `action_space.contains` would
/// have raised as an assertion.
#[inline(always)]
pub(crate) fn discrete_action(
    env: &'static str,
    action: ActionRef<'_>,
    n: usize,
) -> Result<usize, EnvError> {
    match action {
        ActionRef::Discrete(a) if a >= 0 && (a as u64) < n as u64 => Ok(a as usize),
        ActionRef::Discrete(a) => Err(EnvError::ActionOutOfRange { env, action: a, n }),
        ActionRef::Continuous(_) => Err(EnvError::WrongActionKind {
            env,
            expected: ActionKind::Discrete,
            got: ActionKind::Continuous,
        }),
    }
}

/// The single component of a one-dimensional continuous action, checked for finiteness. Range
/// is not checked: MountainCarContinuous accepts any value and Pendulum clips (spec §4, §5).
#[inline(always)]
pub(crate) fn scalar_action(env: &'static str, action: ActionRef<'_>) -> Result<f32, EnvError> {
    match action {
        ActionRef::Continuous(&[a]) if a.is_finite() => Ok(a),
        ActionRef::Continuous(&[a]) => Err(EnvError::NonFiniteAction {
            env,
            index: 0,
            value: a,
        }),
        ActionRef::Continuous(a) => Err(EnvError::WrongActionDim {
            env,
            expected: 1,
            got: a.len(),
        }),
        ActionRef::Discrete(_) => Err(EnvError::WrongActionKind {
            env,
            expected: ActionKind::Continuous,
            got: ActionKind::Discrete,
        }),
    }
}

/// `state` as an array of `N` finite values, for `set_state`.
pub(crate) fn checked_state<const N: usize>(
    env: &'static str,
    state: &[f64],
) -> Result<[f64; N], EnvError> {
    let array: [f64; N] = state.try_into().map_err(|_| EnvError::WrongStateLength {
        env,
        expected: N,
        got: state.len(),
    })?;
    if let Some((index, &value)) = array.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(EnvError::NonFiniteState { env, index, value });
    }
    Ok(array)
}

/// An observation buffer as an array of exactly `N` slots.
///
/// # Panics
/// If `obs.len() != N`: a buffer of the wrong size is a bug in the caller, like a copy between
/// slices of different lengths.
#[inline(always)]
pub(crate) fn obs_row<'a, const N: usize>(
    env: &'static str,
    obs: &'a mut [f32],
) -> &'a mut [f32; N] {
    let len = obs.len();
    match <&mut [f32; N]>::try_from(obs) {
        Ok(row) => row,
        Err(_) => panic!("{env}: the observation buffer has {len} slots; it needs exactly {N}"),
    }
}
