//! Preference oracles over item ids (spo-selfplay.md "Method"; inpo.md "Small-scale check").
//!
//! `P(a ≻ b) ∈ [0, 1]` with `P(b ≻ a) = 1 − P(a ≻ b)` and `P(a ≻ a) = 0.5`. For text, item ids
//! index one group's completions; in the synthetic games they index the actions of a bandit.
//! The oracles here are the small-scale checks' games: rock-paper-scissors (a pure cycle, no
//! scalar reward can represent it), a Bradley–Terry score oracle (transitive, with a Condorcet
//! winner) and a score oracle with an intransitive twist on ties.
use crate::error::{check_range, MethodError};

/// The probability that item `a` is preferred to item `b`.
///
/// Implementations must satisfy `prob(a, b) + prob(b, a) == 1` and `prob(a, a) == 0.5`;
/// ids outside the oracle's items panic, like slice indexing.
pub trait PreferenceOracle {
    fn prob(&self, a: usize, b: usize) -> f64;
}

/// Rock-paper-scissors over ids 0 = R, 1 = P, 2 = S: R ≻ S, S ≻ P, P ≻ R, ties 0.5.
/// Its Minimax Winner is uniform (spo-selfplay.md, "Small-scale check" 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RockPaperScissors;

impl RockPaperScissors {
    pub const ROCK: usize = 0;
    pub const PAPER: usize = 1;
    pub const SCISSORS: usize = 2;
}

/// 1 when class `a` beats class `b` in the RPS cycle on `0, 1, 2`, 0 when it loses, 0.5 on a
/// tie. With 0 = R, 1 = P, 2 = S, `a` beats `b` exactly when `a − b ≡ 1 (mod 3)`.
fn cycle(a: usize, b: usize) -> f64 {
    match (a + 3 - b) % 3 {
        0 => 0.5,
        1 => 1.0,
        _ => 0.0,
    }
}

impl PreferenceOracle for RockPaperScissors {
    fn prob(&self, a: usize, b: usize) -> f64 {
        assert!(
            a < 3 && b < 3,
            "rock-paper-scissors has items 0..3, got ({a}, {b})"
        );
        cycle(a, b)
    }
}

/// Bradley–Terry over hidden scores: `P(a ≻ b) = sigmoid((s_a − s_b) / temperature)`.
/// Temperature 0 is the hard comparison (the higher score wins, equal scores tie at 0.5).
/// Transitive: the best-scored item is a Condorcet winner (spo-selfplay.md check 2).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOracle {
    pub scores: Vec<f64>,
    /// ≥ 0.
    pub temperature: f64,
}

impl ScoreOracle {
    /// Checks that the scores are finite and the temperature is ≥ 0.
    pub fn new(scores: Vec<f64>, temperature: f64) -> Result<Self, MethodError> {
        check_range(
            "score_oracle.temperature",
            temperature,
            temperature >= 0.0,
            ">= 0",
        )?;
        for &s in &scores {
            check_range("score_oracle.scores", s, true, "finite")?;
        }
        Ok(Self {
            scores,
            temperature,
        })
    }
}

/// The hard comparison of two numbers: 1, 0 or 0.5 on equality.
fn hard(sa: f64, sb: f64) -> f64 {
    if sa > sb {
        1.0
    } else if sa < sb {
        0.0
    } else {
        0.5
    }
}

impl PreferenceOracle for ScoreOracle {
    fn prob(&self, a: usize, b: usize) -> f64 {
        let (sa, sb) = (self.scores[a], self.scores[b]);
        if self.temperature == 0.0 {
            hard(sa, sb)
        } else {
            // Written as 1/(1+e^{-z}) so that P(a≻b) + P(b≻a) = 1 holds to rounding.
            1.0 / (1.0 + (-(sa - sb) / self.temperature).exp())
        }
    }
}

/// Items with a `(score, class)`: the higher score wins; equal scores are decided by the
/// rock-paper-scissors cycle on `class mod 3` (0 = R, 1 = P, 2 = S), and tie at 0.5 when the
/// classes agree mod 3.
///
/// This is our reading of the "intransitive twist" of spo-selfplay.md's check 3 (a hidden
/// preference that is mostly a score but cycles among equals); the spec does not define it.
#[derive(Debug, Clone, PartialEq)]
pub struct CyclicOracle {
    pub items: Vec<(f64, usize)>,
}

impl PreferenceOracle for CyclicOracle {
    fn prob(&self, a: usize, b: usize) -> f64 {
        let ((sa, ca), (sb, cb)) = (self.items[a], self.items[b]);
        if sa == sb {
            cycle(ca % 3, cb % 3)
        } else {
            hard(sa, sb)
        }
    }
}
