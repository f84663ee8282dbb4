//! Group RL with verifiable rewards, top to bottom (architecture.md, "One iteration"):
//! warm start -> [rollout -> score -> credit -> select -> K epochs of minibatch updates] x N,
//! with held-out evaluation, metrics per step, atomic checkpoints and exact resume.
//! The update (credit, K epochs of minibatches) lives in [`update`], checkpoints in
//! [`checkpoint`].
mod checkpoint;
pub mod data_parallel;
mod eval_run;
pub use eval_run::{evaluate_checkpoint, evaluate_weights};
mod publish;
pub mod setup;
mod update;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use polopt_envs::text::{make_task, Problem, Task};
use polopt_methods::credit::{CreditBatch, ResponseInfo};
use polopt_methods::objective::{token_rows, PlannedLoss, PolicyObjective};
use polopt_methods::plan::{MethodRuntime, StepContext, TemperedOldLogp, UpdatePlan};
use polopt_models::{AdaptiveTemperature, TransformerConfig};

use crate::codec::Codec;
use tch::{Device, Tensor};

use crate::config::RunConfig;
use crate::driver::{driver_for, DriverCtx, DriverInputs, StepDriver};
use crate::error::TrainError;
use crate::eval::{evaluate, EvalSpec};
use crate::learned_reward::LearnedReward;
use crate::method_hooks::{old_policy_pass, EntropyTally};
use crate::optim::AdamW;
use crate::packing::{env_tokens_in_loss, mask_env_tokens, pack, Sequence};
use crate::plan_critic::PlanCritic;
use crate::policy::Policy;
use crate::prompts::Prompts;
use crate::r3::R3Hook;
use crate::reward::RewardFn;
use crate::rollout::{RolloutContext, StepExperience};
use crate::rollout_source::RolloutSource;
use crate::run_dir::{
    checkpoint_name, open_run_dir, save_checkpoint_dir, MetricsSink, RunInfo, TrainState,
};
use crate::seeds::with_torch_seed;
use crate::segment::collect_step;
use crate::sft::{warm_start, WarmStartContext};
use crate::warm_cache;
use crate::world::{abort_world_on_error, comm_seconds};
use data_parallel::GroupWorld;

/// How a run is driven, beyond its config.
#[derive(Default)]
pub struct TrainOptions {
    /// Continue from the run directory's newest checkpoint.
    pub resume: bool,
    /// Stop after this RL step as if killed (tests of resume); the run stays `running`.
    pub stop_after: Option<usize>,
    /// Show progress bars.
    pub progress: bool,
    /// Replace the task's verifier as the reward (library users; NaN tests).
    pub reward: Option<Box<dyn RewardFn>>,
}

/// What the CLI prints at the end: held-out metrics before and after RL.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub run_dir: PathBuf,
    pub warmstart: BTreeMap<String, f64>,
    pub final_metrics: BTreeMap<String, f64>,
    pub steps_done: usize,
    pub nan_events: usize,
}

pub fn run_dir_of(config: &RunConfig) -> PathBuf {
    Path::new(&config.run.out_dir).join(&config.run.name)
}

pub fn select_device(name: &str) -> Result<Device, TrainError> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(Device::cuda_if_available()),
        "cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        "cuda" => Err(TrainError::Config(
            "run.device = \"cuda\" but no CUDA device is available; use \"cpu\" or \"auto\"".into(),
        )),
        other => Err(TrainError::Config(format!(
            "run.device = {other:?}: expected cpu, cuda or auto"
        ))),
    }
}

pub fn model_config(config: &RunConfig, tok: &Codec) -> TransformerConfig {
    let m = &config.model;
    TransformerConfig::small(
        tok.vocab_size() as i64,
        m.hidden_size,
        m.intermediate_size,
        m.num_hidden_layers,
        m.num_attention_heads,
        m.num_key_value_heads,
        m.max_position_embeddings,
        m.tie_word_embeddings,
        m.rope_theta,
        tok.bos_id(),
        tok.eos_id(),
        tok.pad_id(),
    )
}

pub fn task_from(
    config: &RunConfig,
    which: &str,
    table: &toml::Table,
) -> Result<Box<dyn Task>, TrainError> {
    let json = serde_json::to_value(table).map_err(|e| TrainError::Config(e.to_string()))?;
    make_task(&config.task.name, &json)
        .map_err(|e| TrainError::Config(format!("config key `task.{which}`: {e}")))
}

struct Loop<'a> {
    config: &'a RunConfig,
    tok: Codec,
    policy: Policy,
    reference: Option<Policy>,
    /// The reference policy is the policy's base model, adapters off (LoRA runs).
    reference_is_base: bool,
    opt: AdamW,
    task: Box<dyn Task>,
    /// The training prompts (task generator or dataset order).
    prompts: Prompts,
    reward: Box<dyn RewardFn>,
    eval_problems: Vec<Problem>,
    objective: PolicyObjective,
    /// Credit and selection parts, built once: some carry state across steps (RiskPO).
    method: MethodRuntime,
    /// R³'s per-query buffer and rollout extension, when `method.select.replay = "r3"`.
    r3: Option<R3Hook>,
    /// Replaces collect-and-update for loops with a value model (`method.rollout.kind`).
    driver: Option<Box<dyn StepDriver>>,
    /// HiPER's three-head critic, when the estimator reads plan values.
    plan_critic: Option<PlanCritic>,
    learned_reward: Option<LearnedReward>,
    nan_events: usize,
    /// The vLLM / SGLang server the rollout samples from (`[rollout]`); `None`: the policy.
    engine: Option<Box<dyn RolloutSource>>,
    /// Where the policy is published for `engine` after every update.
    publish_dir: PathBuf,
    /// The data-parallel world (`run.distributed = "auto"`); `None`: one process as before.
    world: Option<&'a GroupWorld>,
}

pub fn train(config: &RunConfig, options: TrainOptions) -> Result<TrainSummary, TrainError> {
    let world = GroupWorld::join(config, data_parallel::refused(config)?.as_deref())?;
    let result = run(config, options, world.as_ref());
    match &world {
        Some(world) => abort_world_on_error(world.comm.as_ref(), result),
        None => result,
    }
}

fn run(
    config: &RunConfig,
    mut options: TrainOptions,
    world: Option<&GroupWorld>,
) -> Result<TrainSummary, TrainError> {
    let root = world.is_none_or(|w| w.is_root());
    let ranks = world.map_or(1, |w| w.world_size());
    let threads = if config.run.threads == 0 {
        // Ranks on one machine share its cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / ranks).max(1)
    } else {
        config.run.threads
    };
    tch::set_num_threads(threads as i32);
    let device = select_device(&config.run.device)?;
    let run_dir = run_dir_of(config);
    // Rank 0 alone writes the run directory; the others only read checkpoints from it.
    let resume_from = open_run_dir(&run_dir, options.resume, root, &config.to_toml()?)?;
    let effective = setup::effective_config(config)?;
    let config = &effective;

    let (policy, tok) = setup::policy_and_codec(config, device)?;
    let problems = setup::problems(config, &tok)?;
    let reward = setup::reward(config, options.reward.take())?;
    let opt = AdamW::new(policy.trainable_vs(), config.rl.lr, config.rl.weight_decay);
    let method = MethodRuntime::new(&config.method.parts())?;
    // The replay extension of the rollout, for the part that asks for one (R³).
    let r3 = R3Hook::new(
        &config.method.parts(),
        method.needs().replay,
        &tok,
        config.model.max_position_embeddings,
        config.rl.max_new_tokens,
    )?;
    let mut problems = problems;
    let driver = driver_for(
        config,
        DriverInputs {
            tok: &tok,
            device,
            task: problems.task.as_ref(),
            policy: &policy,
            run_dir: &run_dir,
            preference_files: problems.preference_files.take(),
        },
    )?;
    let plan_critic = match method.needs_plan() {
        true => Some(PlanCritic::for_run(config, &tok, device)?),
        false => None,
    };
    let learned_reward = config
        .method
        .learned_reward
        .enabled
        .then(|| LearnedReward::for_run(config, &policy, tok.pad_id()));
    let engine = publish::rollout_engine(
        config,
        problems.task.as_ref(),
        driver.is_some() || r3.is_some(),
        policy.lora.is_some(),
    )?;
    let mut lp = Loop {
        config,
        tok,
        policy,
        reference: None,
        reference_is_base: false,
        opt,
        task: problems.task,
        prompts: problems.prompts,
        reward,
        eval_problems: problems.eval,
        objective: method.objective()?,
        method,
        r3,
        driver,
        plan_critic,
        learned_reward,
        nan_events: 0,
        engine,
        publish_dir: config.rollout.publish_dir(&run_dir),
        world,
    };
    let bars = Bars::new(options.progress && root);
    let mut info = RunInfo {
        preset: config.method.preset.clone(),
        task: setup::task_label(config, lp.task.as_ref()),
        seed: config.run.seed,
        status: "running".into(),
        final_metrics: BTreeMap::new(),
        warmstart_metrics: BTreeMap::new(),
    };

    let start_step = match &resume_from {
        Some((step, dir)) => {
            let state = lp.load_checkpoint(dir)?;
            info.warmstart_metrics = state.warmstart_metrics;
            lp.nan_events = state.nan_events;
            lp.prompts
                .restore(state.data_order.clone(), &dir.join("state.json"))?;
            lp.method
                .restore(state.method_state.clone())
                .map_err(|e| TrainError::Checkpoint {
                    path: dir.join("state.json"),
                    detail: e.to_string(),
                })?;
            *step
        }
        // A model of the user's (`model.path`) is its own starting point: no warm start.
        None if config.model.path.is_some() => {
            let warm = lp.evaluate(0)?;
            info.warmstart_metrics = warm;
            lp.save_checkpoint(&run_dir, 0, &info.warmstart_metrics)?;
            0
        }
        None => {
            let cache = warm_cache::entry_dir(config, threads)?;
            let cached = match config.sft.reuse_cache {
                true => warm_cache::load(&cache, &mut lp.policy)?,
                false => None,
            };
            let sft = match cached {
                Some(metrics) => {
                    tracing::info!("warm start reused from {}", cache.display());
                    metrics
                }
                None => {
                    let sft_task = task_from(config, "sft", &config.task.sft)?;
                    let bar = bars.bar(config.sft.steps as u64, "warm start");
                    let context = WarmStartContext {
                        task: sft_task.as_ref(),
                        seed: config.run.seed,
                        on_nan: config.run.on_nan,
                        reward: lp.reward.as_ref(),
                        max_new_tokens: config.rl.max_new_tokens,
                        max_turn_tokens: config.rl.max_turn_tokens,
                    };
                    let sft = warm_start(&lp.policy, &lp.tok, &config.sft, &context, &bar)?;
                    bar.finish_and_clear();
                    if config.sft.reuse_cache && root {
                        warm_cache::store(&cache, &lp.policy, &sft)?;
                    }
                    sft
                }
            };
            lp.nan_events += sft.get("sft/nan_events").copied().unwrap_or(0.0) as usize;
            let mut warm = lp.evaluate(0)?;
            warm.extend(sft);
            info.warmstart_metrics = warm;
            lp.save_checkpoint(&run_dir, 0, &info.warmstart_metrics)?;
            0
        }
    };
    if let Some(world) = world {
        // The reference below reads checkpoint 0, which rank 0 has just written; and the
        // ranks start from rank 0's parameters, whatever their warm starts' arithmetic.
        world.barrier()?;
        world.broadcast_parameters(&lp.opt)?;
    }
    let driver_needs_reference = lp.driver.as_ref().is_some_and(|d| d.needs_reference());
    let learned_reward = config.method.learned_reward.enabled;
    if learned_reward && lp.policy.lora.is_some() {
        return Err(TrainError::Config(
            "config key `model.lora`: a learned reward (method.learned_reward) is a head on the \
             frozen warm start, which a LoRA run does not keep; train without model.lora"
                .into(),
        ));
    }
    if config.rl.reference_model
        || config.method.objective.kl_coef > 0.0
        || driver_needs_reference
        || learned_reward
    {
        // The reference is the warm start, reloaded so that a resumed run gets the same one.
        // Its random init is overwritten, but it draws from libtorch's global generator: under
        // the lock, so that a concurrent run's seeded draw (tests share a process) is untouched.
        if lp.policy.lora.is_some() {
            // The base model with the adapters off is the reference: no second copy.
            let samples_reference = lp
                .driver
                .as_ref()
                .is_some_and(|d| d.needs_reference() && !d.reference_logprobs_only());
            if samples_reference {
                return Err(TrainError::Config(format!(
                    "config key `model.lora`: preset `{}` samples from a separate reference \
                     model; train it without LoRA",
                    config.method.preset
                )));
            }
            lp.reference_is_base = true;
        } else {
            let start = run_dir.join("checkpoints").join(checkpoint_name(0));
            let reference = with_torch_seed(config.run.seed, "reference-init", 0, || {
                lp.policy.frozen_from(&start)
            })?;
            lp.reference = Some(reference);
        }
    }
    if root {
        info.write(&run_dir)?;
    }
    lp.publish_start(&run_dir)?;
    let mut metrics = match root {
        true => Some(MetricsSink::open(
            &run_dir.join("metrics.jsonl"),
            resume_from.as_ref().map(|(s, _)| *s),
        )?),
        false => None,
    };
    if let (None, Some(metrics)) = (&resume_from, metrics.as_mut()) {
        metrics.write(0, &info.warmstart_metrics)?;
    }

    let bar = bars.bar(config.rl.steps as u64, config.method.preset.as_str());
    bar.set_position(start_step as u64);
    let mut last_eval = BTreeMap::new();
    for step in start_step + 1..=config.rl.steps {
        let mut row = lp.rl_step(step)?;
        let eval_due =
            config.eval.every > 0 && step % config.eval.every == 0 || step == config.rl.steps;
        if eval_due {
            last_eval = lp.evaluate(step as u64)?;
            row.extend(last_eval.clone());
        }
        if let Some(metrics) = metrics.as_mut() {
            metrics.write(step, &row)?;
        }
        bar.set_message(format!(
            "reward {:.3} acc {:.3}{}",
            row.get("reward_mean").copied().unwrap_or(f64::NAN),
            row.get("accuracy").copied().unwrap_or(f64::NAN),
            last_eval
                .get("eval/pass@1")
                .map(|v| format!(" pass@1 {v:.3}"))
                .unwrap_or_default()
        ));
        bar.inc(1);
        let stopping = options.stop_after == Some(step);
        if step % config.run.checkpoint_every.max(1) == 0 || step == config.rl.steps || stopping {
            lp.save_checkpoint(&run_dir, step, &info.warmstart_metrics)?;
        }
        if stopping {
            bar.finish_and_clear();
            return Ok(TrainSummary {
                run_dir,
                warmstart: info.warmstart_metrics,
                final_metrics: last_eval,
                steps_done: step,
                nan_events: lp.nan_events,
            });
        }
    }
    bar.finish_and_clear();
    if last_eval.is_empty() {
        last_eval = lp.evaluate(config.rl.steps as u64)?;
    }
    info.status = "finished".into();
    info.final_metrics = last_eval.clone();
    if root {
        info.write(&run_dir)?;
    }
    Ok(TrainSummary {
        run_dir,
        warmstart: info.warmstart_metrics,
        final_metrics: last_eval,
        steps_done: config.rl.steps,
        nan_events: lp.nan_events,
    })
}

impl Loop<'_> {
    fn evaluate(&self, index: u64) -> Result<BTreeMap<String, f64>, TrainError> {
        if !self.is_root() {
            // Only rank 0 writes metrics; evaluation changes no state the others need.
            return Ok(BTreeMap::new());
        }
        let spec = EvalSpec {
            problems: &self.eval_problems,
            ks: &self.config.eval.k,
            temperature: self.config.eval.temperature,
            max_new_tokens: self.config.rl.max_new_tokens,
            max_turn_tokens: self.config.rl.max_turn_tokens,
            seed: self.config.run.seed,
            index,
            task: self.task.as_ref(),
        };
        let mut row = evaluate(&self.policy, &self.tok, self.reward.as_ref(), &spec)?;
        if let Some(driver) = &self.driver {
            row.extend(driver.evaluate(&self.policy, &self.tok, self.reference.as_ref())?);
        }
        Ok(row)
    }

    fn is_root(&self) -> bool {
        self.world.is_none_or(|w| w.is_root())
    }

    fn rl_step(&mut self, step: usize) -> Result<BTreeMap<String, f64>, TrainError> {
        let started = Instant::now();
        let comm_before = self.world.map(|w| comm_seconds(w.comm.as_ref()));
        let cfg = self.config;
        if let Some(driver) = self.driver.as_mut() {
            let mut ctx = DriverCtx {
                config: cfg,
                policy: &self.policy,
                opt: &mut self.opt,
                tok: &self.tok,
                task: self.task.as_ref(),
                reward: self.reward.as_ref(),
                objective: &self.objective,
                reference: self.reference.as_ref(),
                prompts: &self.prompts,
                nan_events: &mut self.nan_events,
            };
            let mut row = driver.step(&mut ctx, step)?;
            row.insert("step_time_s".into(), started.elapsed().as_secs_f64());
            row.insert("nan_events".into(), self.nan_events as f64);
            return Ok(row);
        }
        let ctx = RolloutContext {
            policy: &self.policy,
            tok: &self.tok,
            task: self.task.as_ref(),
            prompts: &self.prompts,
            reward: self.reward.as_ref(),
            rl: &cfg.rl,
            select: &cfg.method.select,
            seed: cfg.run.seed,
            on_nan: cfg.run.on_nan,
            adaptive: self
                .method
                .sampling_entropy_stats()
                .map(|(tau, s)| AdaptiveTemperature {
                    tau,
                    pivot: s.pivot,
                    spread: s.spread,
                    scale_pos: s.scale_pos,
                    scale_neg: s.scale_neg,
                }),
            gold_probe: self.method.needs_gold_probe(),
            engine: self.engine.as_deref(),
            world: self.world,
        };
        if ctx.engine.is_some() && ctx.adaptive.is_some() {
            return Err(TrainError::Config(format!(
                "config key `rollout.source` = {:?}: preset `{}` samples at a per-token \
                 temperature, which an engine cannot; use rollout.source = \"local\"",
                cfg.rollout.source, cfg.method.preset
            )));
        }
        let collected = collect_step(&ctx, &cfg.method.parts(), step)?;
        let mut exp = collected.experience;
        let mut row = experience_metrics(&exp);
        row.extend(collected.metrics);
        if let Some(r3) = self.r3.as_mut() {
            row.extend(r3.extend(&ctx, step, &mut exp)?);
        }
        let generation_s = started.elapsed().as_secs_f64();
        self.nan_events += exp.nan_reward_groups;
        if let Some(critic) = &self.plan_critic {
            critic.annotate(&mut exp.sequences)?;
        }
        // A learned reward scores the rollout; the run's reward only labels its pairs.
        let scored = match (&self.learned_reward, &self.reference) {
            (Some(model), Some(trunk)) => {
                let (scored, metrics) = model.rescore(trunk, &mut exp.sequences)?;
                row.extend(metrics);
                Some(scored)
            }
            _ => None,
        };
        if !exp.sequences.is_empty() {
            let workspace = exp.sequences.iter().any(|s| !s.round_prompts.is_empty());
            let update = match workspace {
                true => self.update_rounds(step, &exp.sequences, collected.plan)?,
                false => self.update(step, &exp.sequences, collected.plan)?,
            };
            row.extend(update);
        }
        if let (Some(model), Some(scored)) = (self.learned_reward.as_mut(), scored) {
            let mut guard = crate::minibatch::NonFiniteGuard {
                events: &mut self.nan_events,
                on_nan: cfg.run.on_nan,
                hint: "lower method.learned_reward.lr",
            };
            row.extend(model.train(&self.policy, &exp.sequences, &scored, &mut guard, step)?);
        }
        if let Some(critic) = self.plan_critic.as_mut() {
            let mut guard = crate::minibatch::NonFiniteGuard {
                events: &mut self.nan_events,
                on_nan: cfg.run.on_nan,
                hint: "lower method.critic.lr",
            };
            row.extend(critic.train(&exp.sequences, &mut guard, step)?);
        }
        if self.engine.is_some() {
            let publishing = Instant::now();
            self.publish()?;
            row.insert("publish_s".into(), publishing.elapsed().as_secs_f64());
        }
        let step_time = started.elapsed().as_secs_f64();
        row.insert("step_time_s".into(), step_time);
        row.insert("generation_s".into(), generation_s);
        // Only where graphs were asked for (auto on CUDA, or on): CPU rows stay as they were.
        let decode = self.policy.model.last_decode_report();
        if decode.cuda_graphs || decode.fallback.is_some() {
            row.insert(
                "gen/cuda_graphs".into(),
                f64::from(u8::from(decode.cuda_graphs)),
            );
        }
        row.insert(
            "tokens_per_s".into(),
            exp.generated_tokens as f64 / step_time.max(1e-9),
        );
        row.insert("nan_events".into(), self.nan_events as f64);
        if let (Some(world), Some(before)) = (self.world, comm_before) {
            row.insert("comm_s".into(), comm_seconds(world.comm.as_ref()) - before);
        }
        Ok(row)
    }
}

fn experience_metrics(exp: &StepExperience) -> BTreeMap<String, f64> {
    let n = exp.generated.max(1) as f64;
    let mut row = BTreeMap::new();
    row.insert("reward_mean".into(), exp.reward_sum / n);
    // Responses generated this step, kept or not (cost-to-target sums them).
    row.insert("samples".into(), exp.generated as f64);
    row.insert("accuracy".into(), exp.correct as f64 / n);
    row.insert("response_len_mean".into(), exp.generated_tokens as f64 / n);
    row.insert("truncated_frac".into(), exp.truncated as f64 / n);
    row.insert("kept_groups".into(), exp.fill.kept_groups as f64);
    row.insert("dropped_groups".into(), exp.fill.dropped_groups as f64);
    row.insert("gen_batches".into(), exp.fill.gen_batches as f64);
    row.insert("nan_reward_groups".into(), exp.nan_reward_groups as f64);
    row.extend(exp.tool.metrics());
    row.extend(exp.agent.metrics());
    if let Some(sum) = exp.temperature_sum {
        let tokens = exp.generated_tokens.max(1) as f64;
        row.insert("sampling_temperature_mean".into(), sum / tokens);
    }
    if !exp.fill.filled && exp.fill.gen_batches > 1 {
        tracing::warn!(
            kept = exp.fill.kept_groups,
            target = exp.fill.target_groups,
            rounds = exp.fill.gen_batches,
            "dynamic sampling could not fill the batch within method.select.max_gen_batches; training on fewer groups"
        );
    }
    row
}

struct Bars {
    enabled: bool,
}

impl Bars {
    fn new(enabled: bool) -> Self {
        Self { enabled }
    }
    fn bar(&self, len: u64, label: &str) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        bar
    }
}
