//! Layered episodic MDPs with a generative model (agnostic-rl.md): layer h has its own states,
//! every step moves from layer h to layer h + 1, and rewards are Bernoulli with known means so
//! that a policy's value is exact while a learner only sees 0/1 draws.
//!
//! - [`LayeredMdp::query`]: one generative-model call `(h, s, a) → (r, s')`, the unit the
//!   sample complexities of the agnostic learners are counted in.
//! - [`LayeredMdp::value`]: the exact value of a deterministic layered policy.
//! - [`binary_tree`]: the spec's full binary tree (state = action history); [`two_layer_example`]:
//!   its deterministic 2-layer test case.
use rand::{Rng, RngExt};

use super::mdp::sample_index;
use super::TabularError;

/// A deterministic layered policy: `table[h][s]` is the action in state s of layer h.
pub type LayeredPolicy = Vec<Vec<usize>>;

#[derive(Debug, Clone, PartialEq)]
pub struct LayeredMdp {
    /// States per layer, `h = 0..H`.
    layers: Vec<usize>,
    n_actions: usize,
    /// `kernel[h]`, row-major `[s][a][s']` into layer h + 1, for `h < H − 1`.
    kernel: Vec<Vec<f64>>,
    /// `reward[h]`, row-major `[s][a]`: the Bernoulli mean in [0, 1].
    reward: Vec<Vec<f64>>,
    /// Over layer 0's states.
    start: Vec<f64>,
}

impl LayeredMdp {
    pub fn new(
        layers: Vec<usize>,
        n_actions: usize,
        kernel: Vec<Vec<f64>>,
        reward: Vec<Vec<f64>>,
        start: Vec<f64>,
    ) -> Result<Self, TabularError> {
        let horizon = layers.len();
        if horizon == 0 || n_actions == 0 || layers.contains(&0) {
            return Err(TabularError::Invalid {
                what: "layered mdp",
                reason: format!("needs non-empty layers and actions, got {layers:?} x {n_actions}"),
            });
        }
        if kernel.len() != horizon - 1 || reward.len() != horizon {
            return Err(TabularError::Shape {
                what: "layered kernel / reward layers",
                expected: horizon,
                got: reward.len(),
            });
        }
        for h in 0..horizon {
            let rows = layers[h] * n_actions;
            if reward[h].len() != rows {
                return Err(TabularError::Shape {
                    what: "layer reward",
                    expected: rows,
                    got: reward[h].len(),
                });
            }
            if let Some(x) = reward[h].iter().find(|x| !(0.0..=1.0).contains(*x)) {
                return Err(TabularError::Invalid {
                    what: "layer reward",
                    reason: format!("Bernoulli mean {x} at layer {h} is outside [0, 1]"),
                });
            }
            if h + 1 < horizon {
                let width = layers[h + 1];
                if kernel[h].len() != rows * width {
                    return Err(TabularError::Shape {
                        what: "layer kernel",
                        expected: rows * width,
                        got: kernel[h].len(),
                    });
                }
                for (row, p) in kernel[h].chunks(width).enumerate() {
                    let sum: f64 = p.iter().sum();
                    if p.iter().any(|x| *x < 0.0) || (sum - 1.0).abs() > 1e-9 {
                        return Err(TabularError::NotADistribution {
                            what: "layer kernel",
                            row: format!("(h={h}, s={}, a={})", row / n_actions, row % n_actions),
                            reason: format!("sums to {sum}"),
                        });
                    }
                }
            }
        }
        if start.len() != layers[0] || (start.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
            return Err(TabularError::NotADistribution {
                what: "start",
                row: "0".into(),
                reason: format!("needs {} entries summing to 1", layers[0]),
            });
        }
        Ok(Self {
            layers,
            n_actions,
            kernel,
            reward,
            start,
        })
    }

    pub fn horizon(&self) -> usize {
        self.layers.len()
    }

    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    pub fn n_actions(&self) -> usize {
        self.n_actions
    }

    pub fn reward_mean(&self, h: usize, s: usize, a: usize) -> f64 {
        self.reward[h][s * self.n_actions + a]
    }

    /// `P(·|h, s, a)` over layer h + 1 (empty at the last layer).
    pub fn p(&self, h: usize, s: usize, a: usize) -> &[f64] {
        match self.kernel.get(h) {
            Some(k) => {
                let width = self.layers[h + 1];
                &k[(s * self.n_actions + a) * width..][..width]
            }
            None => &[],
        }
    }

    pub fn sample_start(&self, rng: &mut impl Rng) -> usize {
        sample_index(&self.start, rng)
    }

    /// One generative-model call: a Bernoulli reward and, before the last layer, the next
    /// state. Always two uniforms (one at the last layer), so streams stay aligned.
    pub fn query(&self, h: usize, s: usize, a: usize, rng: &mut impl Rng) -> (f64, Option<usize>) {
        let u: f64 = rng.random();
        let r = f64::from(u8::from(u < self.reward_mean(h, s, a)));
        let next = (h + 1 < self.horizon()).then(|| sample_index(self.p(h, s, a), rng));
        (r, next)
    }

    /// The exact value of `pi` (expected sum of rewards from the start distribution).
    pub fn value(&self, pi: &LayeredPolicy) -> f64 {
        let mut occupancy = self.start.clone();
        let mut total = 0.0;
        for (h, actions) in pi.iter().enumerate().take(self.horizon()) {
            let mut next = vec![0.0; self.layers.get(h + 1).copied().unwrap_or(0)];
            for (s, &w) in occupancy.iter().enumerate() {
                if w == 0.0 {
                    continue;
                }
                let a = actions[s];
                total += w * self.reward_mean(h, s, a);
                for (t, p) in self.p(h, s, a).iter().enumerate() {
                    next[t] += w * p;
                }
            }
            occupancy = next;
        }
        total
    }
}

/// The full binary tree of agnostic-rl.md: `H = log2(leaves)` layers, A = {0, 1}, the state at
/// layer h is the action history read as a binary number (first action most significant),
/// transitions are deterministic (`s' = 2s + a`), and only the last layer pays, Bernoulli with
/// mean `p_leaves[2s + a]` (so the leaf index is the bit string a1 a2 ... aH).
pub fn binary_tree(p_leaves: &[f64]) -> Result<LayeredMdp, TabularError> {
    let n = p_leaves.len();
    if n < 2 || !n.is_power_of_two() {
        return Err(TabularError::Invalid {
            what: "binary tree",
            reason: format!("needs a power of two >= 2 leaves, got {n}"),
        });
    }
    let horizon = n.trailing_zeros() as usize;
    let layers: Vec<usize> = (0..horizon).map(|h| 1 << h).collect();
    let kernel = (0..horizon - 1)
        .map(|h| {
            let (width, next) = (layers[h], layers[h + 1]);
            let mut k = vec![0.0; width * 2 * next];
            for s in 0..width {
                for a in 0..2 {
                    k[(s * 2 + a) * next + 2 * s + a] = 1.0;
                }
            }
            k
        })
        .collect();
    let mut reward: Vec<Vec<f64>> = layers.iter().map(|w| vec![0.0; w * 2]).collect();
    reward[horizon - 1] = p_leaves.to_vec();
    LayeredMdp::new(layers, 2, kernel, reward, vec![1.0])
}

/// agnostic-rl.md's deterministic 2-layer example: s0; action 0 → s1, action 1 → s2; reward 1
/// only for action 0 in s2 (layer 1 states are indexed s1 = 0, s2 = 1).
pub fn two_layer_example() -> Result<LayeredMdp, TabularError> {
    LayeredMdp::new(
        vec![1, 2],
        2,
        vec![vec![1.0, 0.0, 0.0, 1.0]],
        vec![vec![0.0, 0.0], vec![0.0, 0.0, 1.0, 0.0]],
        vec![1.0],
    )
}
