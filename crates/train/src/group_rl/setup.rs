//! What a run trains and on what: the built-in character model on a synthetic task, or a
//! Hugging Face model directory (`model.path`) on a dataset file (`[data]`), with the reward
//! registry's functions (`[[reward]]`). Everything after this module sees the same types.
use std::path::Path;
use std::sync::Arc;

use polopt_envs::text::{eval_set, Problem, Split, Task};
use polopt_models::checkpoint;
use tch::Device;

use super::{model_config, task_from};
use crate::agent_rollout::TurnCache;
use crate::codec::{Codec, PromptFormat};
use crate::config::RunConfig;
use crate::error::TrainError;
use crate::policy::Policy;
use crate::preference::pairs::{load_file, PreferenceSet};
use crate::prompts::{DataSection, DatasetTask, Prompts};
use crate::reward::{RewardFn, VerifierReward};
use crate::seeds::with_torch_seed;
use polopt_methods::RolloutKind;

/// The run's config with `model.*` sizes read from `model.path` when one is given, so that
/// every loop reads the model's real limits (positions) from one place.
pub fn effective_config(config: &RunConfig) -> Result<RunConfig, TrainError> {
    check_turn_credit(config)?;
    let mut config = config.clone();
    if let Some(dir) = config.model.path.clone() {
        let hf = checkpoint::read_config(Path::new(&dir))
            .map_err(|e| TrainError::Config(format!("config key `model.path`: {e}")))?;
        let m = &mut config.model;
        m.hidden_size = hf.hidden_size;
        m.intermediate_size = hf.intermediate_size;
        m.num_hidden_layers = hf.num_hidden_layers;
        m.num_attention_heads = hf.num_attention_heads;
        m.num_key_value_heads = hf.num_key_value_heads;
        m.max_position_embeddings = hf.max_position_embeddings;
        m.tie_word_embeddings = hf.tie_word_embeddings;
        m.rope_theta = hf.rope_theta;
        crate::config::check(
            "rl.max_new_tokens",
            config.rl.max_new_tokens < hf.max_position_embeddings,
            &format!(
                "below the model's max_position_embeddings = {} ({dir}/config.json)",
                hf.max_position_embeddings
            ),
            config.rl.max_new_tokens,
        )?;
    }
    Ok(config)
}

/// The policy to train and the codec of its vocabulary.
pub fn policy_and_codec(config: &RunConfig, device: Device) -> Result<(Policy, Codec), TrainError> {
    let (mut policy, codec) = load_policy_and_codec(config, device)?;
    let options = polopt_models::DecodeOptions {
        stop_check_every: config.model.stop_check_every,
        cuda_graphs: config.model.cuda_graphs,
        static_step: false,
    };
    options
        .validate()
        .map_err(|e| TrainError::Config(e.to_string()))?;
    policy.model.set_decode_options(options);
    policy.turn_cache = match config.rl.turn_cache {
        true => TurnCache::Keep,
        false => TurnCache::Refill,
    };
    policy.agent_context = config.rl.agent_context;
    Ok((policy, codec))
}

fn load_policy_and_codec(
    config: &RunConfig,
    device: Device,
) -> Result<(Policy, Codec), TrainError> {
    let Some(dir) = &config.model.path else {
        if config.model.lora.is_some() {
            return Err(TrainError::Config(
                "config key `model.lora`: adapters need a pretrained model; set model.path".into(),
            ));
        }
        // An agent environment renders characters the text tasks do not ('$', ...).
        let extra = polopt_envs::text::make_task(&config.task.name, &serde_json::Value::Null)
            .map(|task| task.extra_chars())
            .unwrap_or("");
        let tok = Codec::builtin_with(extra)?;
        let policy = with_torch_seed(config.run.seed, "init", 0, || {
            Policy::new(model_config(config, &tok), device)
        })?;
        return Ok((policy, tok));
    };
    let dir = Path::new(dir);
    // The random init is overwritten by the checkpoint, but it draws from libtorch's global
    // generator: under the seeded-draw lock, so that a concurrent run's draws are untouched.
    let mut policy = with_torch_seed(config.run.seed, "init", 0, || {
        Policy::from_hf_dir(dir, device)
    })?;
    if let Some(lora) = &config.model.lora {
        with_torch_seed(config.run.seed, "lora-init", 0, || policy.attach_lora(lora))?;
    }
    let format = PromptFormat {
        chat_template: config.data.as_ref().is_none_or(|d| d.chat_template),
        system_prompt: config.data.as_ref().and_then(|d| d.system_prompt.clone()),
    };
    let codec = Codec::from_model_dir(dir, &policy.config, &format)?;
    Ok((policy, codec))
}

/// Where problems come from: the task (generator, verifier, tool) and the training prompts,
/// plus the held-out problems of evaluation.
pub struct Problems {
    pub task: Box<dyn Task>,
    pub prompts: Prompts,
    pub eval: Vec<Problem>,
    /// A `[data]` run of the pairs rollout: its preference files (train, eval).
    pub preference_files: Option<(PreferenceSet, Option<PreferenceSet>)>,
}

pub fn problems(config: &RunConfig, codec: &Codec) -> Result<Problems, TrainError> {
    let Some(data) = &config.data else {
        let task = task_from(config, "rl", &config.task.rl)?;
        let eval = eval_set(
            task.as_ref(),
            Split::Test,
            config.eval.problems,
            config.run.seed,
        );
        let prompts = Prompts::from_task(task.as_ref(), config.rl.pool_size, config.run.seed);
        return Ok(Problems {
            task,
            prompts,
            eval,
            preference_files: None,
        });
    };
    if config.method.rollout.kind == RolloutKind::Pairs {
        return preference_problems(data, config);
    }
    let limit = (config.model.max_position_embeddings - config.rl.max_new_tokens).max(1) as usize;
    let train = data.load("train", &data.train, codec, limit)?;
    tracing::info!(
        file = data.train,
        rows = train.problems.len(),
        skipped = train.report.skipped,
        long_prompts = train.long_prompts,
        "training data"
    );
    let eval = match &data.eval {
        Some(file) => {
            let mut rows = data.load("eval", file, codec, limit)?.problems;
            if config.eval.problems > 0 {
                rows.truncate(config.eval.problems);
            }
            rows
        }
        None => {
            tracing::warn!("no data.eval: the run has no held-out evaluation");
            Vec::new()
        }
    };
    let rows = Arc::new(train.problems);
    Ok(Problems {
        task: Box::new(DatasetTask::new(Arc::clone(&rows), &data.train)),
        prompts: Prompts::from_rows(rows, config.run.seed)?,
        eval,
        preference_files: None,
    })
}

/// A pairs run on `[data]`: `data.train` (and `data.eval`) are preference files; their
/// prompts are the run's prompts, and the eval prompts with an `answer` column its held-out
/// task problems.
fn preference_problems(data: &DataSection, config: &RunConfig) -> Result<Problems, TrainError> {
    let fields = &data.preference_fields;
    let train = load_file("train", &data.train, fields, data.on_bad_row)?;
    let eval_set = match &data.eval {
        Some(file) => Some(load_file("eval", file, fields, data.on_bad_row)?),
        None => {
            tracing::warn!("no data.eval: the run has no held-out preference accuracy");
            None
        }
    };
    let mut eval: Vec<Problem> = eval_set
        .as_ref()
        .map(|e| {
            e.problems()
                .into_iter()
                .filter(|p| !p.answer.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if config.eval.problems > 0 {
        eval.truncate(config.eval.problems);
    }
    let rows = Arc::new(train.problems());
    Ok(Problems {
        task: Box::new(DatasetTask::new(Arc::clone(&rows), &data.train)),
        prompts: Prompts::from_rows(rows, config.run.seed)?,
        eval,
        preference_files: Some((train, eval_set)),
    })
}

/// The reward: the `[[reward]]` registry functions when the config has some, else the task's
/// verifier, or for `[data]` the registry's `math` reward (`library` replaces all three:
/// library users, NaN tests).
pub fn reward(
    config: &RunConfig,
    library: Option<Box<dyn RewardFn>>,
) -> Result<Box<dyn RewardFn>, TrainError> {
    if let Some(r) = library {
        return Ok(r);
    }
    if !config.reward.is_empty() {
        return crate::rewards::build_rewards(&config.reward, Path::new("."));
    }
    if config.data.is_some() {
        let mut math = toml::Table::new();
        math.insert("name".into(), "math".into());
        return crate::rewards::build_rewards(&[math], Path::new("."));
    }
    Ok(Box::new(VerifierReward(task_from(
        config,
        "rl",
        &config.task.rl,
    )?)))
}

/// The task name a run reports (`run.json`, the compare harness).
pub fn task_label(config: &RunConfig, task: &dyn Task) -> String {
    match &config.data {
        Some(data) => format!("data:{}", data.train),
        None => task.name().to_string(),
    }
}

/// A turn-level estimator (GiGPO, HGPO, ...) reads the turns of agent episodes; on a
/// single-turn task it would fail at the first step, so the config is refused up front.
fn check_turn_credit(config: &RunConfig) -> Result<(), TrainError> {
    let name = &config.method.credit.estimator;
    let turns = polopt_methods::credit::ESTIMATORS
        .iter()
        .any(|e| e.name == name && e.turns);
    let agent = config.data.is_none()
        && polopt_envs::agent::env_names().contains(&config.task.name.as_str());
    if turns && !agent {
        return Err(TrainError::Config(format!(
            "config key `method.credit.estimator`: `{name}` assigns credit over the turns of \
             multi-turn episodes; set task.name to an agent environment ({}), docs/agents.md",
            polopt_envs::agent::env_names().join(", ")
        )));
    }
    // HiPER reads plan-execute turns: the RL task and the warm start's both write them.
    let needs_plan = polopt_methods::credit::estimator(&config.method.credit)
        .map(|e| e.needs_plan())
        .unwrap_or(false);
    if needs_plan {
        let key = polopt_envs::agent::PLAN_EXECUTE_KEY;
        for (which, table) in [("rl", &config.task.rl), ("sft", &config.task.sft)] {
            if table.get(key).and_then(toml::Value::as_bool) != Some(true) {
                return Err(TrainError::Config(format!(
                    "config key `task.{which}.{key}`: `{name}` reads plan-execute turns \
                     (\"switch|keep SUBGOAL => ACTION\"); set task.rl.{key} = true and \
                     task.sft.{key} = true"
                )));
            }
        }
    }
    Ok(())
}
