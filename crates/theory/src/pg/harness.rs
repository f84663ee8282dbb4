//! What the policy-gradient presets share: the task, the batch of GPOMDP gradients, the
//! random streams, and the measurement (npg-igt-harpg.md, "Small CPU check"): on CartPole the
//! average undiscounted return of the current θ over fresh evaluation episodes, on the bandit
//! the exact optimality gap J* − J(θ). Each method's file keeps its own update loop in view.
use rand_chacha::ChaCha8Rng;

use super::estimators::{gpomdp, Trajectory};
use super::softmax_linear::SoftmaxLinear;
use super::tasks::{bandit_value, Task, BANDIT_REWARDS};
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// About this many curve points per run.
const CURVE_POINTS: u64 = 100;

pub struct Harness {
    task: Task,
    pub policy: SoftmaxLinear,
    pub gamma: f64,
    /// Trajectories per gradient estimate.
    pub batch: usize,
    eval_episodes: usize,
    final_eval_episodes: usize,
    policy_rng: ChaCha8Rng,
    env_rng: ChaCha8Rng,
    eval_policy_rng: ChaCha8Rng,
    eval_env_rng: ChaCha8Rng,
    steps: u64,
    /// Trajectories sampled for learning so far (evaluation episodes not counted).
    trajectories: u64,
    batch_return_sum: f64,
    iterations: u64,
    run: TheoryRun,
}

impl Harness {
    /// Reads the shared knobs: `gamma`, `horizon`, `batch`, `eval_episodes`,
    /// `final_eval_episodes`.
    pub fn new(spec: &RunSpec, settings: &mut Settings) -> Result<Self, TheoryError> {
        let gamma = settings.f64("gamma", 0.99, 0.0, 1.0)?;
        let horizon = settings.usize("horizon", Task::default_horizon(&spec.env), 1, 100_000)?;
        let batch = settings.usize("batch", 10, 1, 100_000)?;
        let eval_episodes = settings.usize("eval_episodes", 20, 1, 100_000)?;
        let final_eval_episodes = settings.usize("final_eval_episodes", 100, 1, 1_000_000)?;
        let task = Task::new(&spec.env, horizon)?;
        Ok(Self {
            policy: task.policy(),
            task,
            gamma,
            batch,
            eval_episodes,
            final_eval_episodes,
            policy_rng: rng(spec.seed, "policy"),
            env_rng: rng(spec.seed, "env"),
            eval_policy_rng: rng(spec.seed, "eval-policy"),
            eval_env_rng: rng(spec.seed, "eval-env"),
            steps: spec.steps,
            trajectories: 0,
            batch_return_sum: 0.0,
            iterations: 0,
            run: TheoryRun::default(),
        })
    }

    /// Whether this run is on the bandit, whose step sizes default differently (its gradients
    /// are O(1) where CartPole's are O(100)).
    pub fn is_bandit(&self) -> bool {
        matches!(self.task, Task::Bandit)
    }

    /// θ_0 = 0: the uniform policy.
    pub fn initial_theta(&self) -> Vec<f64> {
        vec![0.0; self.policy.n_params()]
    }

    /// One learning trajectory under π_θ.
    pub fn sample(&mut self, theta: &[f64]) -> Trajectory {
        self.trajectories += 1;
        self.task
            .sample(theta, &mut self.policy_rng, &mut self.env_rng)
    }

    /// The batch-mean GPOMDP gradient at θ and the batch's mean undiscounted return.
    pub fn batch_gradient(&mut self, theta: &[f64]) -> (Vec<f64>, f64) {
        let mut grad = vec![0.0; self.policy.n_params()];
        let mut total = 0.0;
        for _ in 0..self.batch {
            let traj = self.sample(theta);
            total += traj.total_reward();
            for (g, x) in grad
                .iter_mut()
                .zip(gpomdp(&self.policy, theta, &traj, self.gamma))
            {
                *g += x / self.batch as f64;
            }
        }
        (grad, total / self.batch as f64)
    }

    /// Records iteration `t` (0-based) that ended at θ_{t+1} = `theta` after a batch with mean
    /// return `batch_return`; logs a curve point now and then. A non-finite θ is an error.
    pub fn record(
        &mut self,
        t: u64,
        theta: &[f64],
        batch_return: f64,
        progress: Progress,
    ) -> Result<(), TheoryError> {
        if let Some(x) = theta.iter().find(|x| !x.is_finite()) {
            return Err(TheoryError::NonFinite {
                what: "θ".into(),
                value: *x,
                step: t,
            });
        }
        self.iterations += 1;
        self.batch_return_sum += batch_return;
        let done = t + 1;
        if log_points(self.steps, CURVE_POINTS)(done) {
            let trajectories = self.trajectories as f64;
            let mut values = vec![
                ("batch_return", batch_return),
                ("trajectories", trajectories),
            ];
            match self.task {
                Task::Bandit => {
                    let j = bandit_value(theta);
                    values.push(("return", j));
                    let gap = optimal_bandit_value() - j;
                    values.push(("gap", gap));
                    values.push(("log10_gap", log10_gap(gap)));
                }
                Task::CartPole { .. } => {
                    values.push(("return", self.evaluate(theta, self.eval_episodes)));
                }
            }
            self.run.log(done, &values);
            progress(done, self.steps);
        }
        Ok(())
    }

    /// The final measurements: `return` (exact J on the bandit, the mean over
    /// `final_eval_episodes` fresh episodes on CartPole), `gap` and `log10_gap` on the bandit,
    /// `mean_batch_return` (the learning curve's average, i.e. return at the whole sample
    /// budget) and `trajectories`.
    pub fn finish(mut self, theta: &[f64]) -> TheoryRun {
        let mut finals = vec![
            (
                "mean_batch_return",
                self.batch_return_sum / self.iterations.max(1) as f64,
            ),
            ("trajectories", self.trajectories as f64),
        ];
        match self.task {
            Task::Bandit => {
                let j = bandit_value(theta);
                finals.push(("return", j));
                let gap = optimal_bandit_value() - j;
                finals.push(("gap", gap));
                finals.push(("log10_gap", log10_gap(gap)));
            }
            Task::CartPole { .. } => {
                let episodes = self.final_eval_episodes;
                finals.push(("return", self.evaluate(theta, episodes)));
            }
        }
        for (k, v) in finals {
            self.run.final_metrics.insert(k.to_string(), v);
        }
        self.run
    }

    /// Mean undiscounted return of π_θ over `episodes` evaluation episodes, on streams of their
    /// own so that evaluating never changes what the learner samples.
    fn evaluate(&mut self, theta: &[f64], episodes: usize) -> f64 {
        let total: f64 = (0..episodes)
            .map(|_| {
                self.task
                    .sample(theta, &mut self.eval_policy_rng, &mut self.eval_env_rng)
                    .total_reward()
            })
            .sum();
        total / episodes as f64
    }
}

fn optimal_bandit_value() -> f64 {
    BANDIT_REWARDS
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
}

/// log10 of the gap, floored at 1e-300 so that a gap rounded to 0 stays finite (the rate of
/// convergence reads off a log scale).
fn log10_gap(gap: f64) -> f64 {
    gap.max(1e-300).log10()
}
