//! The control loop, top to bottom (architecture.md, "Classic control follows the same path"):
//! rollout (Rust actor snapshot) -> critic values -> GAE from the credit registry -> the
//! method's minibatch update -> evaluation, metrics, atomic checkpoints.
//!
//! Exact resume: every random stream is derived from `(run.seed, tag, update)` (sampling,
//! minibatch order, evaluation episodes), environments restore by replay (see `envs`), and
//! the checkpoint holds weights, both Adam states, the normalisers and the counters. A run of
//! N updates and one stopped at N/2 then resumed write identical metrics (tests/control.rs).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::config::{AlgoKind, Backend, ControlConfig};
use super::data_parallel::{collective_err, comm_seconds, World};
use super::envs::{ControlEnvs, EnvsState};
use super::eval::evaluate;
use super::learner::Learner;
use super::mlp::{ActorCritic, Head};
use super::native::RowPlan;
use super::normalize::{ObsNormalizer, RewardScaler};
use super::reinforce::collect_episodes;
use super::rollout::{collect, critic_values, Normalizers};
use super::update::{explained_variance, RolloutData};
use crate::error::TrainError;
use crate::run_dir::{
    checkpoint_name, open_run_dir, save_checkpoint_dir, write_atomic, MetricsSink, RunInfo,
};
use crate::seeds::{stream, with_torch_seed};
use crate::world::abort_world_on_error;
use indicatif::{ProgressBar, ProgressStyle};
use polopt_envs::classic::Space;
use polopt_methods::credit::{estimator, median, CreditBatch};
use polopt_methods::objective::PolicyObjective;
use serde::{Deserialize, Serialize};

#[derive(Default)]
pub struct ControlOptions {
    /// Continue from the run directory's newest checkpoint.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop after this update as if killed (resume tests); the run stays `running`.
    pub stop_after: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ControlSummary {
    pub run_dir: PathBuf,
    pub final_metrics: BTreeMap<String, f64>,
    pub updates: usize,
    pub env_steps: u64,
}

/// Everything a checkpoint holds besides tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ControlState {
    update: usize,
    env_steps: u64,
    actor_opt_step: i64,
    critic_opt_step: i64,
    envs: EnvsState,
    norms: Normalizers,
}

pub fn run_dir_of(config: &ControlConfig) -> PathBuf {
    Path::new(&config.run.out_dir).join(&config.run.name)
}

pub(crate) fn head_of(space: &Space) -> Head {
    match space {
        Space::Discrete { n } => Head::Categorical { n: *n },
        Space::Box { low, high } => Head::Gaussian {
            dim: low.len(),
            low: low.clone(),
            high: high.clone(),
        },
    }
}

struct Trainer<'a> {
    cfg: &'a ControlConfig,
    world: &'a World,
    learner: Learner,
    envs: ControlEnvs,
    norms: Normalizers,
    objective: PolicyObjective,
    env_steps: u64,
}

pub fn train_control(
    cfg: &ControlConfig,
    options: ControlOptions,
) -> Result<ControlSummary, TrainError> {
    let world = World::join(cfg)?;
    let result = run(cfg, options, &world);
    abort_world_on_error(world.comm.as_ref(), result)
}

fn run(
    cfg: &ControlConfig,
    options: ControlOptions,
    world: &World,
) -> Result<ControlSummary, TrainError> {
    let root = world.is_root();
    let threads = match cfg.run.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    tch::set_num_threads(threads as i32);
    let run_dir = run_dir_of(cfg);
    // Rank 0 alone writes the run directory; the others only read checkpoints from it.
    let resume_from = open_run_dir(&run_dir, options.resume, root, &cfg.to_toml()?)?;

    let (e, a, seed) = (&cfg.env, &cfg.algo, cfg.run.seed);
    let envs = ControlEnvs::share(
        &e.id,
        world.shard.envs.clone(),
        e.max_episode_steps,
        seed,
        "train-env",
    )?;
    let head = head_of(&envs.action_space());
    let ac = with_torch_seed(seed, "control-init", 0, || {
        ActorCritic::new(
            envs.obs_dim,
            head,
            &cfg.model.hidden,
            cfg.model.log_std_init,
        )
    });
    let critic_lr = if a.kind == AlgoKind::Reinforce {
        a.baseline_lr
    } else {
        a.lr
    };
    let learner = Learner::new(ac, cfg, (a.lr, critic_lr), a.backend == Backend::Native)
        .map_err(TrainError::Config)?;
    let norms = Normalizers {
        obs: e
            .norm_obs
            .then(|| ObsNormalizer::new(envs.obs_dim, e.obs_clip)),
        reward: e
            .norm_reward
            .then(|| RewardScaler::new(e.num_envs, cfg.method.credit.gamma, e.reward_clip)),
    };
    let mut t = Trainer {
        cfg,
        world,
        learner,
        envs,
        norms,
        objective: PolicyObjective::new(cfg.method.objective.clone())?,
        env_steps: 0,
    };
    let start = match &resume_from {
        Some((_, dir)) => t.load_checkpoint(dir)?,
        None => {
            if let Some(n) = &mut t.norms.obs {
                if world.world_size() > 1 {
                    let (obs, _, _) = world.gather_step(&t.envs.obs, &t.envs.rewards, &[])?;
                    n.update(&obs);
                } else {
                    n.update(&t.envs.obs);
                }
            }
            0
        }
    };
    // Every rank starts from rank 0's weights (seeded init and checkpoints agree already;
    // this makes it so whatever a rank's libtorch did).
    if let Some(mut params) = t.learner.native_params() {
        world.broadcast_params(&mut params)?;
        t.learner.sync_native();
    }
    let mut info = RunInfo {
        preset: cfg.method.preset.clone(),
        task: e.id.clone(),
        seed,
        status: "running".into(),
        final_metrics: BTreeMap::new(),
        warmstart_metrics: BTreeMap::new(),
    };
    let mut sink = None;
    if root {
        info.write(&run_dir)?;
        let keep = resume_from.map(|(s, _)| s);
        sink = Some(MetricsSink::open(&run_dir.join("metrics.jsonl"), keep)?);
    }
    let bar = progress_bar(options.progress && root, a.total_steps, &cfg.method.preset);
    bar.set_position(t.env_steps);
    let mut last_eval = BTreeMap::new();
    let mut update = start;
    while t.env_steps < a.total_steps {
        update += 1;
        let mut row = t.iteration(update)?;
        let last = t.env_steps >= a.total_steps;
        if root && (last || (cfg.eval.every > 0 && update % cfg.eval.every == 0)) {
            let started = Instant::now();
            last_eval = t.evaluate(update as u64)?;
            row.extend(last_eval.clone());
            row.insert("eval_time_s".into(), started.elapsed().as_secs_f64());
        }
        if let Some(sink) = &mut sink {
            sink.write(update, &row)?;
        }
        bar.set_position(t.env_steps.min(a.total_steps));
        bar.set_message(format!(
            "return {:.1}{}",
            row.get("episode_return_mean").copied().unwrap_or(f64::NAN),
            last_eval
                .get("eval/return_mean")
                .map(|v| format!(" eval {v:.1}"))
                .unwrap_or_default()
        ));
        let stopping = options.stop_after == Some(update);
        if last || stopping || update % cfg.run.checkpoint_every.max(1) == 0 {
            t.save_checkpoint(&run_dir, update)?;
        }
        if stopping && !last {
            bar.finish_and_clear();
            return Ok(ControlSummary {
                run_dir,
                final_metrics: last_eval,
                updates: update,
                env_steps: t.env_steps,
            });
        }
    }
    bar.finish_and_clear();
    if root && last_eval.is_empty() {
        last_eval = t.evaluate(update as u64)?;
    }
    last_eval.insert("env_steps".into(), t.env_steps as f64);
    if root {
        info.status = "finished".into();
        info.final_metrics = last_eval.clone();
        info.write(&run_dir)?;
    }
    Ok(ControlSummary {
        run_dir,
        final_metrics: last_eval,
        updates: update,
        env_steps: t.env_steps,
    })
}

impl Trainer<'_> {
    fn iteration(&mut self, update: usize) -> Result<BTreeMap<String, f64>, TrainError> {
        let started = Instant::now();
        let comm_before = comm_seconds(self.world.comm.as_ref());
        let (cfg, a) = (self.cfg, &self.cfg.algo);
        let frac = 1.0 - self.env_steps as f64 / a.total_steps as f64;
        let lr_scale = if a.anneal_lr { frac.max(0.0) } else { 1.0 };
        let critic_lr = if a.kind == AlgoKind::Reinforce {
            a.baseline_lr
        } else {
            a.lr
        };
        self.learner.set_lr(a.lr * lr_scale, critic_lr * lr_scale);

        let snapshot = self.learner.snapshot();
        let head = self.learner.head().clone();
        let mut rngs = self.world.rollout_streams(cfg.run.seed, update);
        let buf = if a.kind == AlgoKind::Reinforce {
            collect_episodes(
                &snapshot,
                &head,
                &mut self.envs,
                &mut self.norms,
                &mut rngs[0],
                a.batch_episodes,
            )?
        } else {
            collect(
                &snapshot,
                &head,
                &mut self.envs,
                &mut self.norms,
                &mut rngs,
                a.rollout_steps,
                Some(self.world),
            )?
        };
        let shard = &self.world.shard;
        // Every rank steps `rollout_steps` per environment of its share.
        self.env_steps += (buf.len() / shard.len().max(1) * shard.global) as u64;
        let rollout_s = started.elapsed().as_secs_f64();

        let learner = &mut self.learner;
        let critic = critic_values(|obs| learner.values(obs, buf.obs_dim), &buf);
        let groups: Vec<usize> = (0..buf.len()).map(|k| k % buf.num_envs).collect();
        let ones = vec![1usize; buf.len()];
        let traj = critic.trajectories(&buf);
        let credit = estimator(&cfg.method.credit)?.estimate(&CreditBatch {
            rewards: &buf.rewards,
            group_ids: &groups,
            response_lens: &ones,
            token_kl: None,
            trajectories: Some(&traj),
            episodes: None,
        })?;
        let advantages = credit.per_sequence();
        let returns: Vec<f64> = advantages
            .iter()
            .zip(&critic.values)
            .map(|(a, v)| a + v)
            .collect();
        // Whole-rollout statistics are taken over the gathered global rows, in the
        // one-process order (data_parallel.rs).
        let comm = self.world.comm.as_ref();
        let global_advantages = shard.gather_rows(comm, &advantages)?;
        let centre = if a.median_advantage {
            median(&global_advantages)
        } else {
            0.0
        };

        let centred: Vec<f64> = advantages.iter().map(|x| x - centre).collect();
        let global_centred: Vec<f64> = global_advantages.iter().map(|x| x - centre).collect();
        let plan = RowPlan {
            shard,
            global_advantages: &global_centred,
            comm,
        };
        let data = RolloutData {
            obs: &buf.obs,
            actions: &buf.actions,
            old_values: &critic.values,
            advantages: &centred,
            returns: &returns,
        };
        let seed = cfg.run.seed;
        let mut mb_rng = |epoch: usize| {
            stream(
                seed,
                "control-minibatch",
                (update as u64) << 8 | epoch as u64,
            )
        };
        let mut row = self
            .learner
            .update(&data, cfg, &self.objective, &mut mb_rng, &plan)?;
        let mut episodes = [
            buf.finished.len() as f64,
            buf.finished.iter().map(|f| f.episode_return).sum::<f64>(),
            buf.finished.iter().map(|f| f.length as f64).sum::<f64>(),
        ];
        if self.world.world_size() > 1 {
            comm.all_reduce_sum_f64(&mut episodes)
                .map_err(collective_err)?;
        }
        let [finished, return_sum, length_sum] = episodes;
        if finished > 0.0 {
            row.insert("episode_return_mean".into(), return_sum / finished);
            row.insert("episode_length_mean".into(), length_sum / finished);
        }
        row.insert("episodes".into(), finished);
        row.insert("env_steps".into(), self.env_steps as f64);
        row.insert(
            "explained_variance".into(),
            explained_variance(
                &shard.gather_rows(comm, &critic.values)?,
                &shard.gather_rows(comm, &returns)?,
            ),
        );
        let step_time = started.elapsed().as_secs_f64();
        row.insert("lr".into(), a.lr * lr_scale);
        row.insert("rollout_s".into(), rollout_s);
        row.insert("step_time_s".into(), step_time);
        if self.world.world_size() > 1 {
            // Time in collectives during this update (written only by data-parallel runs, so
            // one-process metrics keep their keys).
            let comm = comm_seconds(self.world.comm.as_ref()) - comm_before;
            row.insert("comm_s".into(), comm);
        }
        row.insert(
            "sps".into(),
            (buf.len() * self.world.world_size()) as f64 / step_time.max(1e-9),
        );
        Ok(row)
    }

    fn evaluate(&self, index: u64) -> Result<BTreeMap<String, f64>, TrainError> {
        let e = &self.cfg.env;
        evaluate(
            &self.learner.snapshot(),
            self.learner.head(),
            &self.norms,
            (&e.id, e.max_episode_steps),
            &self.cfg.eval,
            self.cfg.run.seed,
            index,
        )
    }

    /// Collective: every rank calls it (the environments' state is gathered), rank 0 writes.
    fn save_checkpoint(&self, run_dir: &Path, update: usize) -> Result<(), TrainError> {
        let envs = self.world.gather_envs(self.envs.state())?;
        if !self.world.is_root() {
            return Ok(());
        }
        let (actor_opt_step, critic_opt_step) = self.learner.opt_steps();
        let state = ControlState {
            update,
            env_steps: self.env_steps,
            actor_opt_step,
            critic_opt_step,
            envs,
            norms: self.norms.clone(),
        };
        let ckpt_err = |dir: &Path, e: String| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e,
        };
        save_checkpoint_dir(run_dir, &checkpoint_name(update), |dir| {
            let save = |name: &str, tensors| {
                polopt_models::checkpoint::save_tensors(&dir.join(name), &tensors)
                    .map_err(|e| ckpt_err(dir, e.to_string()))
            };
            let [model, actor_opt, critic_opt] = self.learner.state_tensors();
            save(STATE_FILES[0], model)?;
            save(STATE_FILES[1], actor_opt)?;
            save(STATE_FILES[2], critic_opt)?;
            let text =
                serde_json::to_string_pretty(&state).map_err(|e| ckpt_err(dir, e.to_string()))?;
            write_atomic(&dir.join("state.json"), text.as_bytes())
        })?;
        Ok(())
    }

    /// Restores a checkpoint; returns its update index.
    fn load_checkpoint(&mut self, dir: &Path) -> Result<usize, TrainError> {
        let ckpt_err = |path: &Path, detail: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        };
        let state: ControlState = crate::run_dir::read_checkpoint_state(dir)?;
        let load = |name: &str| crate::run_dir::load_checkpoint_tensors(dir, name);
        let tensors = [
            load(STATE_FILES[0])?,
            load(STATE_FILES[1])?,
            load(STATE_FILES[2])?,
        ];
        self.learner
            .load_state_tensors(&tensors, (state.actor_opt_step, state.critic_opt_step))
            .map_err(|(i, e)| ckpt_err(&dir.join(STATE_FILES[i]), e))?;
        self.envs.restore(&self.world.share_of(&state.envs)?)?;
        self.norms = state.norms;
        self.env_steps = state.env_steps;
        Ok(state.update)
    }
}

/// A checkpoint's tensor files: model, actor optimiser, critic optimiser.
const STATE_FILES: [&str; 3] = [
    "model.safetensors",
    "actor_optimizer.safetensors",
    "critic_optimizer.safetensors",
];

/// The env-step progress bar of the control and off-policy trainers (hidden when disabled).
pub(crate) fn progress_bar(enabled: bool, len: u64, label: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix:>14} [{bar:30}] {pos}/{len} steps {elapsed_precise} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}
