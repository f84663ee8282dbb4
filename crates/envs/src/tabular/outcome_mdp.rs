//! MDPs whose rewards are random with finite support (distributional-dp.md): every `(s,a)` has
//! a list of outcomes `(probability, reward, next state)`, so return distributions over a finite
//! horizon are finite and computed exactly, atom by atom.
//!
//! - [`two_step_bet`]: the spec's 2-step example (a coin, then safe or a bet).
//! - [`super::risky_grid`]: the 4×4 grid with a short slippery path and a long safe one.
use super::{TabularError, TabularMdp};

/// One possible result of taking an action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub prob: f64,
    pub reward: f64,
    pub next: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeMdp {
    n_states: usize,
    n_actions: usize,
    /// Row-major `[s][a]`.
    outcomes: Vec<Vec<Outcome>>,
    start: usize,
}

impl OutcomeMdp {
    /// Checks that every `(s,a)` has outcomes whose probabilities are positive and sum to 1,
    /// with finite rewards and next states in range.
    pub fn new(
        n_states: usize,
        n_actions: usize,
        outcomes: Vec<Vec<Outcome>>,
        start: usize,
    ) -> Result<Self, TabularError> {
        if outcomes.len() != n_states * n_actions {
            return Err(TabularError::Shape {
                what: "outcomes",
                expected: n_states * n_actions,
                got: outcomes.len(),
            });
        }
        if start >= n_states {
            return Err(TabularError::Invalid {
                what: "start",
                reason: format!("state {start} of {n_states}"),
            });
        }
        for (i, row) in outcomes.iter().enumerate() {
            let sum: f64 = row.iter().map(|o| o.prob).sum();
            let bad = row.iter().any(|o| {
                o.prob.is_nan() || o.prob <= 0.0 || !o.reward.is_finite() || o.next >= n_states
            });
            if row.is_empty() || bad || (sum - 1.0).abs() > 1e-9 {
                return Err(TabularError::NotADistribution {
                    what: "outcomes",
                    row: format!("(s={}, a={})", i / n_actions, i % n_actions),
                    reason: format!(
                        "needs positive probabilities summing to 1, finite rewards and next < \
                         {n_states}; got {row:?}"
                    ),
                });
            }
        }
        Ok(Self {
            n_states,
            n_actions,
            outcomes,
            start,
        })
    }

    pub fn n_states(&self) -> usize {
        self.n_states
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn outcomes(&self, s: usize, a: usize) -> &[Outcome] {
        &self.outcomes[s * self.n_actions + a]
    }

    /// The risk-neutral view: kernel `P(s'|s,a)` and mean rewards, for ordinary DP.
    pub fn mean_mdp(&self) -> Result<TabularMdp, TabularError> {
        let n = self.n_states;
        let mut kernel = vec![0.0; n * self.n_actions * n];
        let mut reward = vec![0.0; n * self.n_actions];
        for (i, row) in self.outcomes.iter().enumerate() {
            for o in row {
                kernel[i * n + o.next] += o.prob;
                reward[i] += o.prob * o.reward;
            }
        }
        let mut start = vec![0.0; n];
        start[self.start] = 1.0;
        TabularMdp::new(n, self.n_actions, kernel, reward, start)
    }
}

/// `SAFE` / `BET` at the decision state of [`two_step_bet`].
pub const SAFE: usize = 0;
pub const BET: usize = 1;

/// distributional-dp.md's 2-step example (horizon 2): step 1 has no choice, reward 0 or 2 w.p.
/// 1/2; step 2: `SAFE` pays 1, `BET` pays −1 or 3 w.p. 1/2. States: 0 start, 1 decision,
/// 2 absorbing end (reward 0).
pub fn two_step_bet() -> Result<OutcomeMdp, TabularError> {
    let o = |prob, reward, next| Outcome { prob, reward, next };
    let coin = vec![o(0.5, 0.0, 1), o(0.5, 2.0, 1)];
    let end = vec![o(1.0, 0.0, 2)];
    OutcomeMdp::new(
        3,
        2,
        vec![
            coin.clone(),
            coin,
            vec![o(1.0, 1.0, 2)],
            vec![o(0.5, -1.0, 2), o(0.5, 3.0, 2)],
            end.clone(),
            end,
        ],
        0,
    )
}
