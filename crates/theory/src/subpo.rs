//! SubPO (subpo.md; Prajapat, Mutný, Zeilinger, Krause, "Submodular Reinforcement Learning",
//! ICLR 2024): policy gradient on a set-function objective J(π) = E[F(τ)] by REINFORCE on the
//! marginal gains r_j = F(s_{j+1} | s_0..s_j), whose sum is F(τ) − F({s_0}):
//! ```text
//! ∇J ≈ mean_τ Σ_i ∇log π_θ(a_i | x_i) (G_i − b_i),   G_i = Σ_{j≥i} r_j,
//! b_i = the batch mean of G_i at time index i,        θ ← Adam(θ, ∇J)
//! ```
//! with a history-aware softmax-linear policy: x_i = one-hot(cell) ⊕ one-hot(time i)
//! (⊕ the 25-bit visited mask with `visited_features = true`), on the coverage gridworld
//! ([`CoverageGrid`]), F(V) = |∪_{v∈V} N_r(v)|.
//!
//! The baseline `modular-rl-*` is the same learner on the Markov reward r_j = |N_r(s_{j+1})|
//! (the per-state value F({s}), blind to what was already covered), scored by the same F(τ).
use polopt_envs::tabular::coverage::{CoverageGrid, Covered, N_ACTIONS};
use polopt_envs::tabular::sample_index;
use polopt_envs::tabular::solve::argmax;
use rand_chacha::ChaCha8Rng;

use crate::adam::Adam;
use crate::pg::softmax_linear::SoftmaxLinear;
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// `coverage`: sensing radius 1 (the spec's task); `coverage-r0`: radius 0, F = distinct cells.
pub const ENVS: &[&str] = &["coverage", "coverage-r0"];

const CURVE_POINTS: u64 = 100;

/// What each step earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    /// F(s_{j+1} | s_0..s_j): SubPO.
    MarginalGain,
    /// F({s_{j+1}}) = |N_r(s_{j+1})|: modular RL.
    Modular,
}

/// One episode: the policy inputs, actions, per-step rewards and the set score F(τ).
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// `[horizon][dim]` row-major.
    pub features: Vec<f64>,
    pub actions: Vec<usize>,
    pub rewards: Vec<f64>,
    pub coverage: usize,
}

/// The coverage task with its policy's feature map.
pub struct CoverageTask {
    pub grid: CoverageGrid,
    pub visited_features: bool,
}

impl CoverageTask {
    pub fn policy(&self) -> SoftmaxLinear {
        let cells = self.grid.n_cells();
        let extra = if self.visited_features { cells } else { 0 };
        SoftmaxLinear {
            actions: N_ACTIONS,
            dim: cells + self.grid.horizon() + extra,
        }
    }

    /// x(s, j, V) into `out` (zeroed first).
    fn features(&self, cell: usize, time: usize, visited: &[bool], out: &mut [f64]) {
        let cells = self.grid.n_cells();
        out.fill(0.0);
        out[cell] = 1.0;
        out[cells + time] = 1.0;
        if self.visited_features {
            let offset = cells + self.grid.horizon();
            for (o, v) in out[offset..].iter_mut().zip(visited) {
                *o = f64::from(u8::from(*v));
            }
        }
    }

    /// Samples an episode; `greedy` takes the most likely action instead (ties to the lowest).
    pub fn episode(
        &self,
        theta: &[f64],
        reward: Reward,
        rng: &mut ChaCha8Rng,
        greedy: bool,
    ) -> Episode {
        let policy = self.policy();
        let horizon = self.grid.horizon();
        let mut ep = Episode {
            features: vec![0.0; horizon * policy.dim],
            actions: Vec::with_capacity(horizon),
            rewards: Vec::with_capacity(horizon),
            coverage: 0,
        };
        let mut covered = Covered::new(&self.grid);
        let mut visited = vec![false; self.grid.n_cells()];
        let mut cell = self.grid.start();
        covered.add(&self.grid, cell);
        visited[cell] = true;
        let mut probs = vec![0.0; N_ACTIONS];
        for j in 0..horizon {
            let x = &mut ep.features[j * policy.dim..][..policy.dim];
            self.features(cell, j, &visited, x);
            policy.probs(theta, x, &mut probs);
            let a = if greedy {
                argmax(&probs)
            } else {
                sample_index(&probs, rng)
            };
            cell = self.grid.step(cell, a);
            let gain = covered.add(&self.grid, cell);
            visited[cell] = true;
            ep.actions.push(a);
            ep.rewards.push(match reward {
                Reward::MarginalGain => gain as f64,
                Reward::Modular => self.grid.sensed(cell).len() as f64,
            });
        }
        ep.coverage = covered.value();
        ep
    }
}

/// The REINFORCE gradient of a batch with the per-time-index mean baseline, plus `entropy` ×
/// the gradient of the mean per-step policy entropy. All episodes have the same length H.
pub fn batch_gradient(
    policy: &SoftmaxLinear,
    theta: &[f64],
    batch: &[Episode],
    entropy: f64,
) -> Vec<f64> {
    let n = batch.len() as f64;
    let to_go: Vec<Vec<f64>> = batch
        .iter()
        .map(|ep| {
            let mut g = ep.rewards.clone();
            for i in (0..g.len().saturating_sub(1)).rev() {
                g[i] += g[i + 1];
            }
            g
        })
        .collect();
    let horizon = batch.first().map_or(0, |ep| ep.actions.len());
    let baseline: Vec<f64> = (0..horizon)
        .map(|i| to_go.iter().map(|g| g[i]).sum::<f64>() / n)
        .collect();
    let mut grad = vec![0.0; policy.n_params()];
    let mut probs = vec![0.0; policy.actions];
    for (ep, g) in batch.iter().zip(&to_go) {
        for i in 0..horizon {
            let x = &ep.features[i * policy.dim..][..policy.dim];
            policy.probs(theta, x, &mut probs);
            policy.add_score(
                &probs,
                x,
                ep.actions[i],
                (g[i] - baseline[i]) / n,
                &mut grad,
            );
            if entropy > 0.0 {
                policy.add_entropy_gradient(&probs, x, entropy / n, &mut grad);
            }
        }
    }
    grad
}

/// `subpo-*`.
pub fn run_subpo(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, Reward::MarginalGain)
}

/// `modular-rl-*`.
pub fn run_modular(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, Reward::Modular)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    reward: Reward,
) -> Result<TheoryRun, TheoryError> {
    let radius = match spec.env.as_str() {
        "coverage" => 1,
        "coverage-r0" => 0,
        other => {
            return Err(TheoryError::Setting {
                key: "env".into(),
                reason: format!("`{other}` is not one of {}", ENVS.join(", ")),
            })
        }
    };
    let horizon = settings.usize("horizon", 10, 1, 1000)?;
    let batch = settings.usize("batch", 20, 2, 100_000)?;
    let lr = settings.f64("lr", 0.1, 0.0, 1e3)?;
    let entropy = settings.f64("entropy", 0.0, 0.0, 1e3)?;
    let visited_features = settings.bool("visited_features", false)?;
    let eval_episodes = settings.usize("eval_episodes", 100, 1, 1_000_000)?;
    settings.finish()?;
    if spec.steps < batch as u64 {
        return Err(TheoryError::Setting {
            key: "steps".into(),
            reason: format!(
                "the budget of {} episodes is less than one batch of {batch}",
                spec.steps
            ),
        });
    }
    let grid = CoverageGrid::new(5, 5, (2, 2), horizon, radius)?;
    let task = CoverageTask {
        grid,
        visited_features,
    };
    let policy = task.policy();
    let mut theta = vec![0.0; policy.n_params()];
    let mut adam = Adam::new(theta.len(), lr);
    let mut policy_rng = rng(spec.seed, "policy");
    let iterations = spec.steps / batch as u64;
    let should_log = log_points(iterations, CURVE_POINTS);
    let mut out = TheoryRun::default();
    for it in 1..=iterations {
        let episodes: Vec<Episode> = (0..batch)
            .map(|_| task.episode(&theta, reward, &mut policy_rng, false))
            .collect();
        let grad = batch_gradient(&policy, &theta, &episodes, entropy);
        adam.ascend(&mut theta, &grad);
        if let Some(x) = theta.iter().find(|x| !x.is_finite()) {
            return Err(TheoryError::NonFinite {
                what: "θ".into(),
                value: *x,
                step: it * batch as u64,
            });
        }
        if should_log(it) {
            let done = it * batch as u64;
            let mean_f = episodes.iter().map(|e| e.coverage as f64).sum::<f64>() / batch as f64;
            let greedy = task.episode(&theta, reward, &mut policy_rng, true).coverage as f64;
            out.log(done, &[("coverage", mean_f), ("coverage_greedy", greedy)]);
            progress(done, spec.steps);
        }
    }
    let mut eval_rng = rng(spec.seed, "eval-policy");
    let mean_f = (0..eval_episodes)
        .map(|_| task.episode(&theta, reward, &mut eval_rng, false).coverage as f64)
        .sum::<f64>()
        / eval_episodes as f64;
    let greedy = task.episode(&theta, reward, &mut eval_rng, true).coverage as f64;
    let optimal = task.grid.optimal_coverage() as f64;
    for (k, v) in [
        ("coverage", mean_f),
        ("coverage_greedy", greedy),
        ("optimal_coverage", optimal),
        ("coverage_ratio", mean_f / optimal),
    ] {
        out.final_metrics.insert(k.to_string(), v);
    }
    Ok(out)
}
