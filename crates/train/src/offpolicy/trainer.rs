//! The off-policy loop, one environment step at a time (CleanRL's `td3_continuous_action.py` /
//! `sac_continuous_action.py` order): act (uniform random for `algo.learning_starts` steps),
//! step, store the transition, and every `algo.train_freq` steps run `algo.gradient_steps`
//! updates on uniform minibatches; a metrics row every `algo.log_every` steps, evaluations and
//! atomic checkpoints on row boundaries.
//!
//! Exact resume: the action noise of env step `t` comes from `(run.seed, "offpolicy-act", t)`,
//! the minibatch and update noise of gradient step `k` from `(run.seed, "offpolicy-update", k)`,
//! environments restore by replay (`control::envs`), and the checkpoint holds every network,
//! target and optimiser moment (`agent.safetensors`) and the whole replay buffer
//! (`replay.safetensors`). A run stopped at a checkpoint and resumed writes the same
//! `metrics.jsonl` as one that was never stopped (tests/offpolicy.rs).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::a2pr::A2pr;
use super::agent::{self, Agent, NonFinite};
use super::config::{AlgoKind, OffPolicyConfig};
use super::eval::evaluate_agent;
use super::expo::Expo;
use super::replay::ReplayBuffer;
use super::sac::Sac;
use super::td3::Td3;
use super::td3_bc::td3_bc;
use crate::control::envs::{ControlEnvs, EnvsState};
use crate::control::trainer::progress_bar;
use crate::error::TrainError;
use crate::run_dir::{
    checkpoint_name, open_run_dir, save_checkpoint_dir, write_atomic, MetricsSink, RunInfo,
};
use crate::seeds::{stream, with_torch_seed};
use polopt_envs::classic::Space;

/// Consecutive non-finite updates after which the run stops: a diverged critic does not come
/// back by skipping.
const MAX_CONSECUTIVE_NONFINITE: u64 = 100;

#[derive(Default)]
pub struct OffPolicyOptions {
    /// Continue from the run directory's newest checkpoint.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop after this env step as if killed (resume tests); must fall on a metrics row
    /// (a multiple of `algo.log_every`), where checkpoints are written.
    pub stop_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct OffPolicySummary {
    pub run_dir: PathBuf,
    pub final_metrics: BTreeMap<String, f64>,
    /// Environment steps online, gradient steps offline.
    pub env_steps: u64,
    pub updates: u64,
    pub nonfinite_updates: u64,
}

/// Everything a checkpoint holds besides tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OffPolicyState {
    #[serde(alias = "env_steps")]
    steps: u64,
    updates: u64,
    nonfinite_updates: u64,
    consecutive_nonfinite: u64,
    envs: EnvsState,
    /// Online only: offline runs rebuild the buffer from `offline.dataset`.
    replay_pos: usize,
    replay_len: usize,
    optimizer_steps: BTreeMap<String, i64>,
}

/// `[-1, 1]` actor units to the environment's box: `bias + scale * a`.
pub(crate) struct ActionMap {
    scale: Vec<f32>,
    bias: Vec<f32>,
}

impl ActionMap {
    pub(crate) fn new(space: &Space) -> Result<Self, TrainError> {
        match space {
            Space::Box { low, high } => Ok(Self {
                scale: low.iter().zip(high).map(|(l, h)| (h - l) / 2.0).collect(),
                bias: low.iter().zip(high).map(|(l, h)| (h + l) / 2.0).collect(),
            }),
            Space::Discrete { .. } => Err(TrainError::Config(
                "config key `env.id`: the off-policy trainer needs continuous actions".into(),
            )),
        }
    }

    /// The inverse of [`Self::to_env`], clipped to `[-1, 1]` (dataset actions).
    pub(crate) fn to_unit(&self, action: &[f32], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = ((action[i] - self.bias[i]) / self.scale[i]).clamp(-1.0, 1.0);
        }
    }

    /// Action dimensions.
    pub(crate) fn dim(&self) -> usize {
        self.scale.len()
    }

    pub(crate) fn to_env(&self, action: &[f32], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.bias[i] + self.scale[i] * action[i];
        }
    }
}

/// Sums of the update metrics and the finished episodes between two rows.
#[derive(Default)]
struct RowAccumulator {
    sums: BTreeMap<String, (f64, u64)>,
    returns: Vec<f64>,
    lengths: Vec<f64>,
}

impl RowAccumulator {
    fn add(&mut self, metrics: &BTreeMap<String, f64>) {
        for (k, v) in metrics {
            let e = self.sums.entry(k.clone()).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }

    fn flush(&mut self) -> BTreeMap<String, f64> {
        let mut row: BTreeMap<String, f64> = self
            .sums
            .iter()
            .map(|(k, (s, n))| (k.clone(), s / *n as f64))
            .collect();
        if !self.returns.is_empty() {
            let n = self.returns.len() as f64;
            row.insert(
                "episode_return_mean".into(),
                self.returns.iter().sum::<f64>() / n,
            );
            row.insert(
                "episode_length_mean".into(),
                self.lengths.iter().sum::<f64>() / n,
            );
        }
        row.insert("episodes".into(), self.returns.len() as f64);
        *self = Self::default();
        row
    }
}

pub fn run_dir_of(cfg: &OffPolicyConfig) -> PathBuf {
    Path::new(&cfg.run.out_dir).join(&cfg.run.name)
}

/// Builds the preset's agent with its seeded initial weights.
pub fn build_agent(
    cfg: &OffPolicyConfig,
    obs_dim: usize,
    act_dim: usize,
) -> Result<Box<dyn Agent>, TrainError> {
    with_torch_seed(cfg.run.seed, "offpolicy-init", 0, || {
        Ok(match cfg.algo.kind {
            AlgoKind::Td3 => Box::new(Td3::new(cfg, obs_dim, act_dim)?) as Box<dyn Agent>,
            AlgoKind::Sac => Box::new(Sac::new(cfg, obs_dim, act_dim)?),
            AlgoKind::Expo => Box::new(Expo::new(cfg, obs_dim, act_dim)?),
            AlgoKind::Td3Bc => Box::new(td3_bc(cfg, obs_dim, act_dim)?),
            AlgoKind::A2pr => Box::new(A2pr::new(cfg, obs_dim, act_dim)?),
        })
    })
}

struct Trainer<'a> {
    cfg: &'a OffPolicyConfig,
    agent: Box<dyn Agent>,
    envs: ControlEnvs,
    replay: ReplayBuffer,
    actions: ActionMap,
    /// Environment steps online, gradient steps offline (the run's step counter).
    steps: u64,
    updates: u64,
    nonfinite_updates: u64,
    consecutive_nonfinite: u64,
    /// Offline runs: the dataset's state statistics (identity when normalisation is off).
    states: Option<StateNormalizer>,
}

/// `(s - mean) / std` with the offline dataset's statistics (`std + 1e-3`, TD3+BC / A2PR).
#[derive(Debug, Clone)]
pub struct StateNormalizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl StateNormalizer {
    pub fn of(rows: &[f32], dim: usize) -> Self {
        let n = (rows.len() / dim).max(1) as f64;
        let mut mean = vec![0f64; dim];
        for row in rows.chunks(dim) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += *x as f64 / n;
            }
        }
        let mut var = vec![0f64; dim];
        for row in rows.chunks(dim) {
            for ((v, x), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (*x as f64 - m).powi(2) / n;
            }
        }
        Self {
            mean: mean.iter().map(|m| *m as f32).collect(),
            std: var.iter().map(|v| (v.sqrt() + 1e-3) as f32).collect(),
        }
    }

    pub fn identity(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }

    pub fn apply(&self, rows: &mut [f32]) {
        let dim = self.mean.len();
        for row in rows.chunks_mut(dim) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// Fills a buffer with `offline.dataset` (actions rescaled to `[-1, 1]`, states normalised);
/// the dataset's `env_id` must be `env.id`, its actions continuous.
pub(crate) fn load_offline(
    cfg: &OffPolicyConfig,
    actions: &ActionMap,
) -> Result<(ReplayBuffer, StateNormalizer), TrainError> {
    use polopt_envs::offline::{Actions, OfflineDataset};
    let path = &cfg.offline.dataset;
    let key_err = |detail: String| {
        TrainError::Config(format!("config key `offline.dataset` ({path}): {detail}"))
    };
    if !std::path::Path::new(path).is_file() {
        return Err(key_err(format!(
            "no such file; write it with `polopt dataset --env {} --split <split>` (or set offline.dataset)",
            cfg.env.id
        )));
    }
    let data = OfflineDataset::load(path).map_err(|e| key_err(e.to_string()))?;
    let env_id = data.metadata.get("env_id").cloned().unwrap_or_default();
    if env_id != cfg.env.id {
        return Err(key_err(format!(
            "the dataset was collected on `{env_id}`, but env.id = `{}` (evaluation runs there)",
            cfg.env.id
        )));
    }
    let Actions::Continuous(raw) = &data.actions else {
        return Err(key_err(
            "discrete actions; TD3+BC and A2PR need continuous ones".into(),
        ));
    };
    let (o, a) = (data.obs_dim, data.act_dim);
    let norm = if cfg.offline.normalize_states {
        StateNormalizer::of(&data.observations, o)
    } else {
        StateNormalizer::identity(o)
    };
    let mut replay = ReplayBuffer::new(data.len().max(1), o, a);
    let (mut obs, mut next) = (data.observations.clone(), data.next_observations.clone());
    norm.apply(&mut obs);
    norm.apply(&mut next);
    let mut unit = vec![0f32; a];
    for t in 0..data.len() {
        actions.to_unit(&raw[t * a..(t + 1) * a], &mut unit);
        replay.push(
            &obs[t * o..(t + 1) * o],
            &unit,
            data.rewards[t] as f64,
            &next[t * o..(t + 1) * o],
            data.terminals[t] != 0,
        );
    }
    Ok((replay, norm))
}

/// libtorch's CPU threads: `run.threads`, 0 = every core. Evaluation sets the same, since the
/// small per-step batches of acting slow down with spare threads on a loaded machine.
pub(crate) fn set_torch_threads(cfg: &OffPolicyConfig) {
    let threads = match cfg.run.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    tch::set_num_threads(threads as i32);
}

pub fn train_offpolicy(
    cfg: &OffPolicyConfig,
    options: OffPolicyOptions,
) -> Result<OffPolicySummary, TrainError> {
    set_torch_threads(cfg);
    if let Some(stop) = options.stop_after {
        if !stop.is_multiple_of(cfg.algo.log_every) {
            return Err(TrainError::Config(format!(
                "stop_after = {stop} is not a multiple of algo.log_every = {}",
                cfg.algo.log_every
            )));
        }
    }
    let run_dir = run_dir_of(cfg);
    let resume_from = open_run_dir(&run_dir, options.resume, true, &cfg.to_toml()?)?;
    let (e, a, seed) = (&cfg.env, &cfg.algo, cfg.run.seed);
    let envs = ControlEnvs::new(&e.id, 1, e.max_episode_steps, seed, "train-env")?;
    let actions = ActionMap::new(&envs.action_space())?;
    let agent = build_agent(cfg, envs.obs_dim, envs.action_dim)?;
    let (replay, states) = if a.kind.is_offline() {
        let (replay, norm) = load_offline(cfg, &actions)?;
        (replay, Some(norm))
    } else {
        let replay = ReplayBuffer::new(a.buffer_size, envs.obs_dim, envs.action_dim);
        (replay, None)
    };
    if replay.obs_dim != envs.obs_dim || replay.act_dim != envs.action_dim {
        return Err(TrainError::Config(format!(
            "config key `offline.dataset`: rows of {} states / {} actions, env.id has {} / {}",
            replay.obs_dim, replay.act_dim, envs.obs_dim, envs.action_dim
        )));
    }
    let mut t = Trainer {
        cfg,
        agent,
        envs,
        replay,
        actions,
        steps: 0,
        updates: 0,
        nonfinite_updates: 0,
        consecutive_nonfinite: 0,
        states,
    };
    if let Some((_, dir)) = &resume_from {
        t.load_checkpoint(dir)?;
    }
    let mut info = RunInfo {
        preset: cfg.method.preset.clone(),
        task: e.id.clone(),
        seed,
        status: "running".into(),
        final_metrics: BTreeMap::new(),
        warmstart_metrics: BTreeMap::new(),
    };
    info.write(&run_dir)?;
    let keep = resume_from.map(|(s, _)| s);
    let mut sink = MetricsSink::open(&run_dir.join("metrics.jsonl"), keep)?;
    let bar = progress_bar(options.progress, a.total_steps, &cfg.method.preset);
    bar.set_position(t.steps);
    let mut acc = RowAccumulator::default();
    let mut last_eval = BTreeMap::new();
    let mut row_started = Instant::now();
    let mut row_start_step = t.steps;
    while t.steps < a.total_steps {
        if t.states.is_some() {
            t.offline_step(&mut acc)?;
        } else {
            t.env_step(&mut acc)?;
        }
        let step = t.steps;
        let last = step >= a.total_steps;
        if !(last || step.is_multiple_of(a.log_every)) {
            continue;
        }
        let mut row = acc.flush();
        let elapsed = row_started.elapsed().as_secs_f64();
        if t.states.is_none() {
            row.insert("env_steps".into(), step as f64);
            row.insert("replay_size".into(), t.replay.len() as f64);
        }
        row.insert("updates".into(), t.updates as f64);
        row.insert("nonfinite_updates".into(), t.nonfinite_updates as f64);
        row.insert(
            "sps".into(),
            (step - row_start_step) as f64 / elapsed.max(1e-9),
        );
        if last || (cfg.eval.every > 0 && step.is_multiple_of(cfg.eval.every as u64)) {
            let started = Instant::now();
            last_eval = t.evaluate(step)?;
            row.extend(last_eval.clone());
            row.insert("eval_time_s".into(), started.elapsed().as_secs_f64());
        }
        sink.write(step as usize, &row)?;
        bar.set_position(step);
        bar.set_message(format!(
            "return {:.1}{}",
            row.get("episode_return_mean").copied().unwrap_or(f64::NAN),
            last_eval
                .get("eval/return_mean")
                .map(|v| format!(" eval {v:.1}"))
                .unwrap_or_default()
        ));
        let stopping = options.stop_after == Some(step);
        if last || stopping || step.is_multiple_of(cfg.run.checkpoint_every as u64) {
            t.save_checkpoint(&run_dir)?;
        }
        if stopping && !last {
            bar.finish_and_clear();
            return Ok(t.summary(run_dir, last_eval));
        }
        row_started = Instant::now();
        row_start_step = step;
    }
    bar.finish_and_clear();
    if last_eval.is_empty() {
        last_eval = t.evaluate(t.steps)?;
    }
    let unit = if t.states.is_some() {
        "updates"
    } else {
        "env_steps"
    };
    last_eval.insert(unit.into(), t.steps as f64);
    info.status = "finished".into();
    info.final_metrics = last_eval.clone();
    info.write(&run_dir)?;
    Ok(t.summary(run_dir, last_eval))
}

impl Trainer<'_> {
    /// One environment step, and the updates due after it.
    fn env_step(&mut self, acc: &mut RowAccumulator) -> Result<(), TrainError> {
        let a = &self.cfg.algo;
        let seed = self.cfg.run.seed;
        self.steps += 1;
        let step = self.steps;
        let dim = self.envs.action_dim;
        let mut action = vec![0f32; dim];
        let mut rng = stream(seed, "offpolicy-act", step);
        if step <= a.learning_starts {
            for x in action.iter_mut() {
                *x = rng.random_range(-1.0f32..=1.0);
            }
        } else {
            self.agent.act(&self.envs.obs, true, &mut rng, &mut action);
        }
        let mut sent = vec![0f32; dim];
        self.actions.to_env(&action, &mut sent);
        let obs = self.envs.obs.clone();
        self.envs.step(&sent)?;
        self.replay.push(
            &obs,
            &action,
            self.envs.rewards[0],
            &self.envs.final_obs,
            self.envs.terminated[0],
        );
        for f in &self.envs.finished {
            acc.returns.push(f.episode_return);
            acc.lengths.push(f.length as f64);
        }
        if step > a.learning_starts && step.is_multiple_of(a.train_freq) {
            for _ in 0..a.gradient_steps {
                self.update(acc)?;
            }
        }
        Ok(())
    }

    /// Offline: one gradient step on a dataset minibatch is one step of the run.
    fn offline_step(&mut self, acc: &mut RowAccumulator) -> Result<(), TrainError> {
        self.steps += 1;
        self.update(acc)
    }

    /// Gradient step `updates + 1` on a minibatch drawn from its own stream, through the NaN
    /// guard: a non-finite step is skipped and counted, a run of them stops the run.
    fn update(&mut self, acc: &mut RowAccumulator) -> Result<(), TrainError> {
        self.updates += 1;
        let mut urng = stream(self.cfg.run.seed, "offpolicy-update", self.updates);
        let batch = self.replay.sample(self.cfg.algo.batch_size, &mut urng);
        match self.agent.update(&batch, &mut urng, self.updates) {
            Ok(metrics) => {
                self.consecutive_nonfinite = 0;
                acc.add(&metrics);
            }
            Err(NonFinite { what }) => {
                self.nonfinite_updates += 1;
                self.consecutive_nonfinite += 1;
                tracing::warn!(update = self.updates, what, "non-finite update skipped");
                if self.consecutive_nonfinite >= MAX_CONSECUTIVE_NONFINITE {
                    return Err(TrainError::NonFinite {
                        what: format!("{what} ({MAX_CONSECUTIVE_NONFINITE} updates in a row)"),
                        step: self.steps as usize,
                        hint: "the critic diverged; lower algo.critic_lr or set algo.max_grad_norm",
                    });
                }
            }
        }
        Ok(())
    }

    fn evaluate(&self, index: u64) -> Result<BTreeMap<String, f64>, TrainError> {
        let states = self.states.as_ref();
        evaluate_agent(self.cfg, self.agent.as_ref(), &self.actions, states, index)
    }

    fn summary(&self, run_dir: PathBuf, final_metrics: BTreeMap<String, f64>) -> OffPolicySummary {
        OffPolicySummary {
            run_dir,
            final_metrics,
            env_steps: self.steps,
            updates: self.updates,
            nonfinite_updates: self.nonfinite_updates,
        }
    }

    fn save_checkpoint(&mut self, run_dir: &Path) -> Result<(), TrainError> {
        let (replay_pos, replay_len) = self.replay.position();
        let state = OffPolicyState {
            steps: self.steps,
            updates: self.updates,
            nonfinite_updates: self.nonfinite_updates,
            consecutive_nonfinite: self.consecutive_nonfinite,
            envs: self.envs.state(),
            replay_pos,
            replay_len,
            optimizer_steps: agent::optimizer_steps(self.agent.as_mut()),
        };
        let weights = agent::state_tensors(self.agent.as_mut());
        let replay = self.states.is_none().then(|| self.replay.tensors());
        let ckpt_err = |dir: &Path, e: String| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail: e,
        };
        save_checkpoint_dir(run_dir, &checkpoint_name(self.steps as usize), |dir| {
            let save = |name: &str, tensors| {
                polopt_models::checkpoint::save_tensors(&dir.join(name), tensors)
                    .map_err(|e| ckpt_err(dir, e.to_string()))
            };
            save(AGENT_FILE, &weights)?;
            if let Some(replay) = &replay {
                save(REPLAY_FILE, replay)?;
            }
            let text =
                serde_json::to_string_pretty(&state).map_err(|e| ckpt_err(dir, e.to_string()))?;
            write_atomic(&dir.join("state.json"), text.as_bytes())
        })?;
        Ok(())
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<(), TrainError> {
        let ckpt_err = |path: &Path, detail: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            detail,
        };
        let state: OffPolicyState = crate::run_dir::read_checkpoint_state(dir)?;
        let load = |name: &str| crate::run_dir::load_checkpoint_tensors(dir, name);
        let weights = load(AGENT_FILE)?;
        agent::load_state(self.agent.as_mut(), &weights, &state.optimizer_steps)
            .map_err(|e| ckpt_err(&dir.join(AGENT_FILE), e))?;
        if self.states.is_none() {
            self.replay
                .load(&load(REPLAY_FILE)?, (state.replay_pos, state.replay_len))
                .map_err(|e| ckpt_err(&dir.join(REPLAY_FILE), e))?;
        }
        self.envs.restore(&state.envs)?;
        self.steps = state.steps;
        self.updates = state.updates;
        self.nonfinite_updates = state.nonfinite_updates;
        self.consecutive_nonfinite = state.consecutive_nonfinite;
        Ok(())
    }
}

/// Networks, targets, temperature and optimiser moments.
pub(crate) const AGENT_FILE: &str = "agent.safetensors";
/// The replay buffer's filled part.
const REPLAY_FILE: &str = "replay.safetensors";
