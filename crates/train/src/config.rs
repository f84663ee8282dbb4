//! Run configuration: one TOML document (architecture.md, "Configuration").
//!
//! Layers, later wins: the embedded default, the preset's method choices, the user's file,
//! then each `--set key=value`. Unknown keys, wrong types and out-of-range values are errors
//! that name the key. The resolved config is saved next to the run's metrics.
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use polopt_methods::presets::{preset, Family, Preset};
use polopt_methods::MethodConfig;
use polopt_methods::{CreditConfig, ObjectiveConfig, SelectConfig};
use polopt_methods::{
    CriticConfig, DapoStepConfig, LearnedRewardConfig, PreferenceConfig, RolloutConfig,
};
use polopt_models::SamplingConfig;

use crate::codec::Codec;
use crate::error::TrainError;
use crate::prompts::DataSection;
use crate::rollout_source::config::RolloutSection;

/// The embedded default run: warm start then GRPO on addition, CPU, about ten minutes.
pub const DEFAULT_CONFIG: &str = include_str!("../configs/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub run: RunSection,
    pub model: ModelSection,
    pub task: TaskSection,
    pub sft: SftSection,
    pub rl: RlSection,
    pub eval: EvalSection,
    pub method: MethodSection,
    /// A dataset file instead of the built-in task's generator (docs/own-model.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSection>,
    /// `[[reward]]` tables: the reward registry's functions, summed with their weights
    /// (docs/rewards/README.md). Empty: the task's own verifier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reward: Vec<Table>,
    /// `[rollout]`: completions from the in-process sampler (default) or a vLLM / SGLang
    /// server (docs/scale-out.md). Left out of a written config while it is the default.
    #[serde(default, skip_serializing_if = "RolloutSection::is_local")]
    pub rollout: RolloutSection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnNan {
    /// Skip the update, count the event, and go on.
    Skip,
    /// Stop the run with an error.
    Stop,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub seed: u64,
    pub out_dir: String,
    /// CPU threads for libtorch; 0 = all available cores.
    pub threads: usize,
    /// `cpu`, `cuda` or `auto`.
    pub device: String,
    pub on_nan: OnNan,
    /// RL steps between checkpoints; the last step is always saved.
    pub checkpoint_every: usize,
    /// `off`, or `auto`: join the launcher's data-parallel world (group_rl/data_parallel.rs).
    #[serde(default)]
    pub distributed: crate::world::Distributed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub hidden_size: i64,
    pub intermediate_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub num_key_value_heads: i64,
    pub max_position_embeddings: i64,
    pub tie_word_embeddings: bool,
    pub rope_theta: f64,
    /// A Hugging Face model directory (config.json, safetensors, tokenizer.json) to train
    /// instead of a fresh character model; the size keys above are then taken from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// LoRA adapters on `model.path`'s projections (docs/lora.md): only they train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<polopt_models::LoraConfig>,
    /// Decode steps as replayed CUDA graphs: "auto" (on CUDA devices), "on", "off" (docs/hf.md).
    #[serde(default, skip_serializing_if = "is_auto")]
    pub cuda_graphs: polopt_models::CudaGraphs,
    /// Sampler steps between checks that every row has ended (0 = auto: 1 on CPU, 8 on CUDA).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stop_check_every: i64,
}

fn is_auto(value: &polopt_models::CudaGraphs) -> bool {
    *value == polopt_models::CudaGraphs::Auto
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSection {
    pub name: String,
    /// Knobs of the RL and evaluation distribution (the task's own config).
    pub rl: Table,
    /// Knobs of the warm-start distribution.
    pub sft: Table,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftSection {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_steps: usize,
    /// Distinct training problems the warm start cycles through; 0 = fresh problems each step.
    pub pool_size: usize,
    /// Reuse an identical warm start from `<run.out_dir>/.warmstart/` (see `warm_cache`).
    pub reuse_cache: bool,
    /// Stop the warm start once its greedy pass@1 on `check_problems` validation problems of
    /// the warm-start distribution reaches this (0 = always train `steps`): the restricted skill
    /// is learned, and training on stops teaching only the restriction.
    pub target_pass1: f64,
    /// Steps between those checks.
    pub check_every: usize,
    pub check_problems: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlSection {
    pub steps: usize,
    pub prompts_per_step: usize,
    pub group_size: usize,
    pub epochs: usize,
    pub minibatch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: i64,
    pub reference_model: bool,
    /// End a completion at `<eos>`; off gives exactly `max_new_tokens` per completion (benchmarks).
    pub stop_at_eos: bool,
    /// Distinct training problems RL draws its prompts from, so that queries recur (a finite
    /// dataset with epochs, as per-query methods like R³ assume); 0 = fresh problems each step.
    #[serde(default)]
    pub pool_size: usize,
    /// Agent environments: tokens one turn's action may take (0 = no limit but the budget).
    /// A longer turn is cut there and played as the episode's last action, so one rambling
    /// row cannot hold every other row's turn for the whole budget.
    #[serde(default)]
    pub max_turn_tokens: usize,
    /// Agent environments: keep the KV cache across an episode's turns, so that a round
    /// prefills only each row's new tokens (the environment's reply). False re-feeds every
    /// row's whole history each round: the same episodes up to float rounding, slower.
    #[serde(default = "keep_turn_cache")]
    pub turn_cache: bool,
    /// Agent environments: what each action is sampled from. `history` (the default): the
    /// prompt and every earlier turn. `workspace`: IterResearch's reconstruction (EAPO), the
    /// prompt, earlier actions with their observations elided and the last observation in
    /// full; each turn is then its own training row.
    #[serde(default)]
    pub agent_context: AgentContext,
    /// Completions sampled per generation call (0 = a step's whole batch at once): bounds the
    /// sampler's memory (KV cache) independently of the training batch.
    #[serde(default)]
    pub generation_batch_size: usize,
    /// Sequences per forward/backward pass (0 = the whole minibatch): a minibatch is then
    /// `minibatch_size / micro_batch_size` accumulated passes and still one optimizer step,
    /// with the same gradient (normalizers of the whole minibatch).
    #[serde(default)]
    pub micro_batch_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// RL steps between held-out evaluations (0 = only before and after RL).
    pub every: usize,
    pub problems: usize,
    pub k: Vec<usize>,
    pub temperature: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSection {
    pub preset: String,
    pub credit: CreditConfig,
    pub select: SelectConfig,
    pub objective: ObjectiveConfig,
    /// Loops with a value model (T-PPO, step-level DAPO); defaults keep the group loop.
    #[serde(default)]
    pub rollout: RolloutConfig,
    #[serde(default)]
    pub critic: CriticConfig,
    #[serde(default)]
    pub dapo_step: DapoStepConfig,
    /// The preference rollout kinds' loss, pair source and reference schedule.
    #[serde(default)]
    pub preference: PreferenceConfig,
    /// A reward model fit during the run on preference queries (rlhf_rm, parl).
    #[serde(default)]
    pub learned_reward: LearnedRewardConfig,
}

impl MethodSection {
    pub fn parts(&self) -> MethodConfig {
        MethodConfig {
            credit: self.credit.clone(),
            select: self.select.clone(),
            objective: self.objective.clone(),
            rollout: self.rollout.clone(),
            critic: self.critic.clone(),
            dapo_step: self.dapo_step.clone(),
            preference: self.preference.clone(),
            learned_reward: self.learned_reward.clone(),
        }
    }
}

/// Builds a config from the embedded default, an optional user file and `--set` overrides.
pub fn load_config(
    file: Option<&std::path::Path>,
    sets: &[String],
) -> Result<RunConfig, TrainError> {
    resolve(&read_user_file(file)?, sets)
}

/// The user's config file as a table (empty without one); shared by every loop's config.
pub(crate) fn read_user_file(file: Option<&std::path::Path>) -> Result<Table, TrainError> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
            text.parse::<Table>()
                .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
        }
        None => Ok(Table::new()),
    }
}

/// Deserializes a resolved table, naming the key of the first wrong or unknown value.
pub(crate) fn deserialize_named<T: serde::de::DeserializeOwned>(
    table: Table,
) -> Result<T, TrainError> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        TrainError::Config(format!("config key `{path}`: {}", e.into_inner().message()))
    })
}

/// Resolves a user table plus overrides against the default and the chosen preset.
pub fn resolve(user: &Table, sets: &[String]) -> Result<RunConfig, TrainError> {
    let mut overlay = user.clone();
    for set in sets {
        apply_set(&mut overlay, set)?;
    }
    let mut base: Table = DEFAULT_CONFIG
        .parse()
        .map_err(|e| TrainError::Config(format!("embedded default: {e}")))?;
    let layer_method = apply_task_layer(&mut base, &overlay)?;
    let (preset_name, preset) = preset_for_loop(&overlay, &base, Family::GroupRl)?;
    let method_defaults = Table::try_from((preset.build)()).map_err(|e| {
        TrainError::Config(format!("preset `{preset_name}` does not serialize: {e}"))
    })?;
    if let Some(Value::Table(method)) = base.get_mut("method") {
        merge(method, &method_defaults);
        merge(method, &layer_method);
    }
    merge(&mut base, &overlay);
    let mut config: RunConfig = deserialize_named(base)?;
    config.validate()?;
    // The saved config shows every setting of the parts that run, defaults included.
    let resolved = config.method.parts().with_resolved_parts()?;
    config.method.credit = resolved.credit;
    config.method.select = resolved.select;
    config.method.objective = resolved.objective;
    Ok(config)
}

/// Defaults a task needs beyond the default run's (which is addition's): a TOML layer per task,
/// embedded, so that `--set task.name=calc` (or `polopt compare --task calc`) gives a runnable
/// config. `None` for tasks the default run already suits.
fn task_layer(name: &str) -> Option<&'static str> {
    match name {
        "calc" => Some(include_str!("../configs/tasks/calc.toml")),
        "countdown" => Some(include_str!("../configs/tasks/countdown.toml")),
        "corridor" => Some(include_str!("../configs/tasks/corridor.toml")),
        "minishop" => Some(include_str!("../configs/tasks/minishop.toml")),
        "texthouse" => Some(include_str!("../configs/tasks/texthouse.toml")),
        "searchqa" => Some(include_str!("../configs/tasks/searchqa.toml")),
        _ => None,
    }
}

/// Applies the layer of the task the overlay names: its `[task]` replaces the default's whole
/// (addition's knobs would not parse for another task), other sections merge. Returns its
/// `[method]` part, which goes over the preset's choices (task-sized lengths, not a method).
fn apply_task_layer(base: &mut Table, overlay: &Table) -> Result<Table, TrainError> {
    let name = lookup(overlay, "task.name").and_then(Value::as_str);
    let Some(text) = name.and_then(task_layer) else {
        return Ok(Table::new());
    };
    let mut layer: Table = text
        .parse()
        .map_err(|e| TrainError::Config(format!("embedded task layer: {e}")))?;
    let method = match layer.remove("method") {
        Some(Value::Table(t)) => t,
        _ => Table::new(),
    };
    if let Some(task) = layer.remove("task") {
        base.insert("task".into(), task);
    }
    merge(base, &layer);
    Ok(method)
}

/// The preset a run asks for (the overlay's `method.preset`, else the base's), checked to be
/// one that `family`'s training loop runs.
/// The user's layer (a config file's table with each `--set` applied) and a loop's embedded
/// defaults parsed: the first two steps of every loop's config layering.
pub(crate) fn user_and_defaults(
    mut user: Table,
    sets: &[String],
    defaults: &str,
    what: &str,
) -> Result<(Table, Table), TrainError> {
    for set in sets {
        apply_set(&mut user, set)?;
    }
    let base = defaults
        .parse::<Table>()
        .map_err(|e| TrainError::Config(format!("{what}: {e}")))?;
    Ok((user, base))
}

pub(crate) fn preset_for_loop(
    overlay: &Table,
    base: &Table,
    family: Family,
) -> Result<(String, &'static Preset), TrainError> {
    let name = lookup(overlay, "method.preset")
        .or_else(|| lookup(base, "method.preset"))
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| TrainError::Config("config key `method.preset` must be a string".into()))?;
    let found = preset(&name)
        .map_err(|e| TrainError::Config(format!("config key `method.preset`: {e}")))?;
    if found.family != family {
        let describe = |f: Family| match f {
            Family::Control => ("a control preset", "the control trainer"),
            Family::GroupRl => ("a text-task preset", "the group-RL loop"),
            Family::Theory => ("a theory-solver preset", "the theory runner"),
            Family::MultiObjective => ("a multi-objective preset", "the theory runner"),
            Family::Inventory => ("an inventory preset", "the inventory trainer"),
            Family::OffPolicy => ("an off-policy control preset", "the off-policy trainer"),
        };
        let ((is, runs_with), (wanted, _)) = (describe(found.family), describe(family));
        return Err(TrainError::Config(format!(
            "config key `method.preset`: `{name}` is {is}, not {wanted}; it runs with {runs_with}"
        )));
    }
    Ok((name, found))
}

/// `key.path=value`; the value is read as a TOML literal (`0.3`, `true`, `[1, 4]`, `"x"`),
/// falling back to a bare string so that `--set method.preset=dapo` works unquoted. TOML's
/// `nan` and `inf` also stay strings: no config value may be non-finite, and `run.name=nan`
/// must mean the name.
pub fn apply_set(table: &mut Table, set: &str) -> Result<(), TrainError> {
    let (key, raw) = set
        .split_once('=')
        .ok_or_else(|| TrainError::Config(format!("--set `{set}`: expected key=value")))?;
    let key = key.trim();
    let value = format!("v = {}", raw.trim())
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| v.as_float().is_none_or(f64::is_finite))
        .unwrap_or_else(|| Value::String(raw.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(TrainError::Config(format!(
            "--set `{set}`: empty key segment"
        )));
    }
    let mut cursor = table;
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cursor.insert(part.to_string(), value);
            break;
        }
        let entry = cursor
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cursor = entry.as_table_mut().ok_or_else(|| {
            TrainError::Config(format!(
                "--set `{set}`: `{}` is not a table",
                parts[..=i].join(".")
            ))
        })?;
    }
    Ok(())
}

pub(crate) fn lookup<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// Deep merge: tables merge key by key, anything else is replaced.
pub(crate) fn merge(base: &mut Table, overlay: &Table) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

pub(crate) fn check(
    field: &str,
    ok: bool,
    expected: &str,
    value: impl std::fmt::Display,
) -> Result<(), TrainError> {
    if ok {
        Ok(())
    } else {
        Err(TrainError::Config(format!(
            "config key `{field}` = {value} is out of range: expected {expected}"
        )))
    }
}

/// A network's hidden-layer widths: at least one layer, each 1..=4096 units.
pub(crate) fn check_widths(field: &str, widths: &[i64]) -> Result<(), TrainError> {
    check(
        field,
        !widths.is_empty() && widths.iter().all(|&h| (1..=4096).contains(&h)),
        "a non-empty list of 1..=4096",
        format!("{widths:?}"),
    )
}

fn keep_turn_cache() -> bool {
    true
}

/// `rl.agent_context`: the context an agent's action is sampled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentContext {
    /// The prompt and the whole history (actions and observations).
    #[default]
    History,
    /// [`polopt_envs::agent::Workspace`]: bounded by the actions, one training row per turn.
    Workspace,
}

impl RlSection {
    /// The sampler's settings for RL rollouts: `temperature`, `top_p`, `stop_at_eos` and the
    /// tokenizer's `<eos>`/`<pad>`, with `max_new_tokens` given by the loop (which may cap it).
    pub fn sampling(&self, tok: &Codec, max_new_tokens: i64) -> SamplingConfig {
        SamplingConfig {
            temperature: self.temperature,
            top_p: self.top_p,
            max_new_tokens,
            eos_token_id: tok.eos_id(),
            pad_token_id: tok.pad_id(),
            stop_at_eos: self.stop_at_eos,
        }
    }
}

impl RunConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        self.rollout.validate()?;
        let r = &self.run;
        check(
            "run.name",
            !r.name.is_empty() && !r.name.contains('/'),
            "a non-empty name without '/'",
            &r.name,
        )?;
        check(
            "run.device",
            ["cpu", "cuda", "auto"].contains(&r.device.as_str()),
            "cpu, cuda or auto",
            &r.device,
        )?;
        check("run.threads", r.threads <= 1024, "0..=1024", r.threads)?;
        let m = &self.model;
        check(
            "model.hidden_size",
            (8..=16384).contains(&m.hidden_size),
            "8..=16384",
            m.hidden_size,
        )?;
        check(
            "model.num_attention_heads",
            m.num_attention_heads >= 1 && m.hidden_size % m.num_attention_heads == 0,
            "a divisor of hidden_size",
            m.num_attention_heads,
        )?;
        check(
            "model.num_key_value_heads",
            m.num_key_value_heads >= 1 && m.num_attention_heads % m.num_key_value_heads == 0,
            "a divisor of num_attention_heads",
            m.num_key_value_heads,
        )?;
        check(
            "model.num_hidden_layers",
            (1..=128).contains(&m.num_hidden_layers),
            "1..=128",
            m.num_hidden_layers,
        )?;
        check(
            "model.intermediate_size",
            m.intermediate_size >= 1,
            ">= 1",
            m.intermediate_size,
        )?;
        check(
            "model.max_position_embeddings",
            m.max_position_embeddings >= 8,
            ">= 8",
            m.max_position_embeddings,
        )?;
        let s = &self.sft;
        check("sft.batch_size", s.batch_size >= 1, ">= 1", s.batch_size)?;
        check("sft.lr", s.lr > 0.0 && s.lr < 1.0, "in (0, 1)", s.lr)?;
        check(
            "sft.weight_decay",
            (0.0..1.0).contains(&s.weight_decay),
            "in [0, 1)",
            s.weight_decay,
        )?;
        check(
            "sft.target_pass1",
            (0.0..=1.0).contains(&s.target_pass1),
            "in [0, 1]",
            s.target_pass1,
        )?;
        check("sft.check_every", s.check_every >= 1, ">= 1", s.check_every)?;
        check(
            "sft.check_problems",
            s.check_problems >= 1,
            ">= 1",
            s.check_problems,
        )?;
        let l = &self.rl;
        check(
            "rl.prompts_per_step",
            l.prompts_per_step >= 1,
            ">= 1",
            l.prompts_per_step,
        )?;
        check(
            "rl.group_size",
            l.group_size >= 2,
            ">= 2 (the group is the baseline)",
            l.group_size,
        )?;
        check("rl.epochs", l.epochs >= 1, ">= 1", l.epochs)?;
        check(
            "rl.minibatch_size",
            l.minibatch_size >= 1,
            ">= 1",
            l.minibatch_size,
        )?;
        check("rl.lr", l.lr > 0.0 && l.lr < 1.0, "in (0, 1)", l.lr)?;
        check(
            "rl.weight_decay",
            (0.0..1.0).contains(&l.weight_decay),
            "in [0, 1)",
            l.weight_decay,
        )?;
        check("rl.grad_clip", l.grad_clip > 0.0, "> 0", l.grad_clip)?;
        check(
            "rl.temperature",
            l.temperature > 0.0 && l.temperature <= 10.0,
            "in (0, 10]",
            l.temperature,
        )?;
        check(
            "rl.top_p",
            l.top_p > 0.0 && l.top_p <= 1.0,
            "in (0, 1]",
            l.top_p,
        )?;
        // With `model.path` the size keys are placeholders: the model's own positions bound
        // the completion, checked once its config.json is read (`group_rl::setup`).
        let positions = match m.path {
            Some(_) => i64::MAX,
            None => m.max_position_embeddings,
        };
        check(
            "rl.max_new_tokens",
            l.max_new_tokens >= 1 && l.max_new_tokens < positions,
            "1..max_position_embeddings",
            l.max_new_tokens,
        )?;
        let e = &self.eval;
        check("eval.problems", e.problems >= 1, ">= 1", e.problems)?;
        check(
            "eval.k",
            !e.k.is_empty() && e.k.iter().all(|&k| (1..=256).contains(&k)),
            "a non-empty list of 1..=256",
            format!("{:?}", e.k),
        )?;
        check(
            "eval.temperature",
            e.temperature > 0.0 && e.temperature <= 10.0,
            "in (0, 10]",
            e.temperature,
        )?;
        self.method
            .parts()
            .validate()
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(())
    }

    pub fn to_toml(&self) -> Result<String, TrainError> {
        toml::to_string_pretty(self)
            .map_err(|e| TrainError::Config(format!("config does not serialize: {e}")))
    }
}
