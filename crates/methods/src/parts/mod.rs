//! Method parts beyond the advantage estimator, each registered by name in [`PARTS`].
//!
//! A part is one file (`credit/adora.rs`, `select/d3s.rs`, `objective/etr.rs`, ...) that holds
//! its math, its settings table, its cross-step state and a [`Part`] implementation, and ends
//! with one [`PartEntry`]; adding a part is that file plus one line in [`PARTS`]. A run picks
//! at most one part of each [`PartKind`] through the kind's slot key
//! (`method.credit.reweight = "adora"`); the part's settings live in its own table next to the
//! slot (`method.credit.adora.weight_tds = 0.1`). [`crate::plan::MethodRuntime`] applies the
//! chosen parts in kind order and never names one: what a part needs from the loop (the old
//! policy's entropy, a tempered old pass, token entropies, a replay extension) it declares in
//! [`Needs`] and the loop provides it generically.
mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use tables::PartTables;

use crate::config::MethodConfig;
use crate::credit::{Advantages, CreditBatch};
use crate::error::MethodError;
use crate::objective::{EntropyStats, TokenTrustRegion};
use crate::plan::{StepContext, StepFeedback, UpdatePlan};

/// The kinds of part, in the order a step applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartKind {
    /// Rewrites each group's rewards from comparisons among its responses, before credit
    /// (SPO self-play's win rates under a preference oracle).
    Judge,
    /// Cross-step replay of past responses; may rewrite rewards before credit (R³).
    Replay,
    /// A bias on the estimator's advantages from per-response rollout data (ASPO).
    Shaping,
    /// Per-group weights on the advantages (ADORA).
    Reweight,
    /// A cross-step controller that reshapes the advantages (DCPO).
    Controller,
    /// Per-sample or per-token clip ranges (ETR, HAPO).
    TrustRegion,
    /// A second, batch-level advantage blended into the loss (COPO).
    GlobalAdvantage,
    /// Sample and token selection between credit and loss (D3S).
    Selector,
}

impl PartKind {
    pub const ALL: [PartKind; 8] = [
        PartKind::Judge,
        PartKind::Replay,
        PartKind::Shaping,
        PartKind::Reweight,
        PartKind::Controller,
        PartKind::TrustRegion,
        PartKind::GlobalAdvantage,
        PartKind::Selector,
    ];

    /// The config key that names this kind's part.
    pub fn slot(self) -> &'static str {
        match self {
            PartKind::Judge => "method.credit.judge",
            PartKind::Replay => "method.select.replay",
            PartKind::Shaping => "method.credit.shaping",
            PartKind::Reweight => "method.credit.reweight",
            PartKind::Controller => "method.credit.entropy_control",
            PartKind::TrustRegion => "method.objective.trust_region",
            PartKind::GlobalAdvantage => "method.credit.global_advantage",
            PartKind::Selector => "method.select.downsample",
        }
    }

    /// The slot's value when no part of this kind runs.
    pub fn off(self) -> &'static str {
        match self {
            PartKind::TrustRegion => "constant",
            _ => "none",
        }
    }

    /// What "off" means, for `polopt list`.
    pub fn off_description(self) -> &'static str {
        match self {
            PartKind::TrustRegion => "clip_low / clip_high for every token",
            _ => "no part of this kind",
        }
    }

    /// `credit`, `select` or `objective`: where the slot and the parts' tables live.
    pub fn section(self) -> &'static str {
        let slot = self.slot();
        let rest = &slot["method.".len()..];
        &rest[..rest.find('.').unwrap_or(rest.len())]
    }
}

/// What a part needs from the loop beyond the scored batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// The old policy's full-vocabulary entropy per token ([`StepContext::old_entropy`]).
    pub old_entropy: bool,
    /// Every trained token's entropy after the update ([`StepFeedback::token_entropies`]).
    pub token_entropies: bool,
    /// Per-response correctness and tool-call positions ([`StepContext::responses`]).
    pub responses: bool,
    /// The loop's replay extension (past responses mixed into the batch, reflection groups).
    pub replay: bool,
}

impl Needs {
    fn union(self, other: Needs) -> Needs {
        Needs {
            old_entropy: self.old_entropy || other.old_entropy,
            token_entropies: self.token_entropies || other.token_entropies,
            responses: self.responses || other.responses,
            replay: self.replay || other.replay,
        }
    }
}

/// What [`Part::apply`] works on: the step's plan so far, the scored batch (rewards after any
/// shaping) and the step's context.
pub struct PlanStep<'s, 'a> {
    pub plan: &'s mut UpdatePlan,
    pub batch: &'s CreditBatch<'a>,
    pub ctx: &'s StepContext<'a>,
}

/// One part, built once per run from its settings; `&self` hooks run every step.
pub trait Part: Send + Sync {
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Rewrites the batch's rewards before credit; `None` keeps them.
    fn shape_rewards(
        &self,
        _batch: &CreditBatch,
        _ctx: &StepContext,
        _metrics: &mut BTreeMap<&'static str, f64>,
    ) -> Result<Option<Vec<f64>>, MethodError> {
        Ok(None)
    }
    /// Edits the step's plan after credit (advantages, clip bounds, keep-masks, blend).
    fn apply(&self, _step: PlanStep) -> Result<(), MethodError> {
        Ok(())
    }
    /// A second old-policy temperature the next step's [`Part::apply`] needs log-probs at.
    fn extra_old_temperature(&self) -> Option<f64> {
        None
    }
    /// `tau` and entropy statistics for per-token sampling temperatures, when the part sets
    /// them for the next rollout.
    fn sampling_entropy_stats(&self) -> Option<(f64, EntropyStats)> {
        None
    }
    /// Takes the finished step's statistics into the part's cross-step state.
    fn observe_step(&mut self, _feedback: &StepFeedback) {}
    /// A trust region the loss computes per token from the training forward itself.
    fn token_trust_region(&self) -> Option<Arc<dyn TokenTrustRegion>> {
        None
    }
    /// Cross-step state for checkpoints (see [`save_state`]); `Null` when stateless.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), MethodError> {
        Ok(())
    }
}

/// A part built for a run, with its registry entry.
pub type BuiltPart = (&'static PartEntry, Box<dyn Part>);

/// A registered part.
pub struct PartEntry {
    /// The slot value that selects it.
    pub name: &'static str,
    pub kind: PartKind,
    /// Its settings table, `method.<section>.<table>`.
    pub table: &'static str,
    pub description: &'static str,
    pub spec: &'static str,
    /// The spec was rebuilt from an abstract (`CONFIDENCE: LOW` / `[RECON]`).
    pub reconstructed: bool,
    pub build: fn(&PartInput) -> Result<Box<dyn Part>, MethodError>,
    /// The part's settings with every default filled in (the resolved config shows them).
    pub resolve: fn(&PartInput) -> Result<toml::Value, MethodError>,
}

/// What a part is built from: its own table and the method's shared knobs (clip range, eps).
pub struct PartInput<'a> {
    pub method: &'a MethodConfig,
    pub table: Option<&'a toml::Value>,
    /// `method.<section>.<table>`, for error messages.
    pub key: String,
}

impl PartInput<'_> {
    /// The table deserialized into the part's settings type; unknown keys and wrong types are
    /// errors naming the key.
    pub fn settings<T: DeserializeOwned + Default>(&self) -> Result<T, MethodError> {
        let Some(table) = self.table else {
            return Ok(T::default());
        };
        serde_path_to_error::deserialize(table.clone()).map_err(|e| {
            let path = e.path().to_string();
            let key = if path.is_empty() || path == "." {
                self.key.clone()
            } else {
                format!("{}.{path}", self.key)
            };
            MethodError::Settings {
                key,
                detail: e.into_inner().to_string(),
            }
        })
    }
}

/// A part's or estimator's settings: a TOML table with a default for every key and a range
/// check that names the key at fault.
pub trait Settings: Serialize + DeserializeOwned + Default {
    fn validate(&self) -> Result<(), MethodError> {
        Ok(())
    }
}

impl PartInput<'_> {
    /// [`PartInput::settings`], range-checked.
    pub fn parse<T: Settings>(&self) -> Result<T, MethodError> {
        let settings: T = self.settings()?;
        settings.validate()?;
        Ok(settings)
    }
}

/// [`PartEntry::resolve`] for a part whose settings are `T`.
pub fn resolve<T: Settings>(input: &PartInput) -> Result<toml::Value, MethodError> {
    to_table(&input.parse::<T>()?, &input.key)
}

/// A settings struct as a TOML table (for [`PartEntry::resolve`]).
pub fn to_table<T: Serialize>(settings: &T, key: &str) -> Result<toml::Value, MethodError> {
    toml::Value::try_from(settings).map_err(|e| MethodError::Settings {
        key: key.to_string(),
        detail: e.to_string(),
    })
}

/// Every part, by name. Adding one is its file and one line here.
pub const PARTS: &[PartEntry] = &[
    crate::credit::win_rate::ENTRY,
    crate::select::r3::ENTRY,
    crate::credit::aspo::ENTRY,
    crate::credit::adora::ENTRY,
    crate::credit::clip_advantage::ENTRY,
    crate::credit::dcpo::ENTRY,
    crate::objective::etr::ENTRY,
    crate::objective::hapo::ENTRY,
    crate::credit::copo::ENTRY,
    crate::select::d3s::ENTRY,
];

/// The advantages of one response row, whatever level the estimator produced (token `t`).
pub fn token_advantage(advantages: &Advantages, i: usize, t: usize) -> f64 {
    match advantages {
        Advantages::Sequence(a) => a[i],
        Advantages::Token(rows) => rows[i].get(t).copied().unwrap_or(0.0),
    }
}

/// The union of what `parts` need.
pub fn needs_of<'a>(parts: impl Iterator<Item = &'a dyn Part>) -> Needs {
    parts.fold(Needs::default(), |acc, p| acc.union(p.needs()))
}

/// A part's state as the checkpoint stores it.
pub fn save_state<T: Serialize>(state: &T) -> serde_json::Value {
    serde_json::to_value(state).unwrap_or_default()
}

/// A part's state back from a checkpoint; an error naming the part when it does not fit.
pub fn load_state<T: DeserializeOwned>(
    part: &'static str,
    state: &serde_json::Value,
) -> Result<T, MethodError> {
    serde_json::from_value(state.clone()).map_err(|e| MethodError::State {
        part,
        detail: e.to_string(),
    })
}
