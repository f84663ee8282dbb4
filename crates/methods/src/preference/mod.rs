//! Preference losses (issue 15): DPO and its loss types, SimPO, ORPO, KTO, RPO, INPO, SePPO
//! and the Bradley–Terry reward-model loss, as pure functions over one tensor contract.
//!
//! Inputs are per-sequence numbers, not tokens: summed response log-probs `[B]` under the
//! policy and (for reference-based losses) the frozen reference, and response token counts
//! `[B]` for the length-normalised ones (preference-baselines.md, "Common notation"). Every
//! loss returns the mean over pairs (or examples, for KTO) and a metrics map. Data loading,
//! presets and the training loop live elsewhere and name a loss through
//! [`PREFERENCE_LOSSES`]; no loss knows where its log-probs came from.
//!
//! One file per loss: [`sigmoid`] (DPO, label smoothing / conservative DPO), [`ipo`],
//! [`hinge`], [`robust`], [`simpo`], [`orpo`], [`kto`], [`rpo`], [`inpo`], [`seppo`], [`bt`].
pub mod bt;
pub mod hinge;
pub mod inpo;
pub mod ipo;
pub mod kto;
pub mod orpo;
pub mod robust;
pub mod rpo;
pub mod seppo;
pub mod sigmoid;
pub mod simpo;
mod support;

use std::collections::BTreeMap;

use tch::Tensor;

use crate::error::{unknown, MethodError};

pub use bt::{bt_loss, BtConfig};
pub use hinge::{hinge_loss, HingeConfig};
pub use inpo::{inpo_loss, InpoConfig};
pub use ipo::{ipo_loss, IpoConfig};
pub use kto::{kto_loss, KtoConfig};
pub use orpo::{orpo_loss, OrpoConfig};
pub use robust::{robust_loss, RobustConfig};
pub use rpo::{rpo_loss, RpoConfig, RpoNll};
pub use seppo::{seppo_loss, SeppoConfig};
pub use sigmoid::{sigmoid_loss, SigmoidConfig};
pub use simpo::{simpo_loss, SimpoConfig};

/// Paired preference data: one chosen (`y_w`) and one rejected (`y_l`) response per prompt.
/// Every tensor is `[B]`. Log-probs are summed over response tokens; the reference ones must be
/// detached (they are treated as constants). `chosen_len`/`rejected_len` are response token
/// counts (> 0), used only by length-normalised losses.
///
/// For `seppo` the pair is not a human preference: "chosen" is the positive sample `y+` and
/// "rejected" the reference model's own sample `y_ref` (see [`seppo`]).
pub struct PreferenceBatch<'a> {
    pub policy_chosen_logp: &'a Tensor,
    pub policy_rejected_logp: &'a Tensor,
    /// Required by every loss except `simpo` and `orpo`, which ignore it.
    pub reference_chosen_logp: Option<&'a Tensor>,
    pub reference_rejected_logp: Option<&'a Tensor>,
    /// The previous iterate `pi_t`, for INPO; other losses ignore them. Detached, `[B]`.
    pub iterate_chosen_logp: Option<&'a Tensor>,
    pub iterate_rejected_logp: Option<&'a Tensor>,
    pub chosen_len: &'a Tensor,
    pub rejected_len: &'a Tensor,
}

/// Unpaired (unary-feedback) data for KTO: one response per example, labelled desirable or
/// not. `policy_logp`, `reference_logp` and `desirable` (bool, or float 1.0/0.0) are `[B]`.
/// `kl_policy_logp`/`kl_reference_logp` `[B']` are the log-probs of mismatched pairs
/// `(x', y)` (a response scored under another example's prompt), from which KTO estimates its
/// reference point; give both or neither (neither: reference point 0, see [`kto`]).
pub struct UnpairedBatch<'a> {
    pub policy_logp: &'a Tensor,
    pub reference_logp: &'a Tensor,
    pub desirable: &'a Tensor,
    pub kl_policy_logp: Option<&'a Tensor>,
    pub kl_reference_logp: Option<&'a Tensor>,
}

/// Scalar reward-model outputs for chosen and rejected responses, `[B]` each, for the
/// Bradley–Terry loss; `margin` `[B]` is an optional per-pair margin from the data.
pub struct RewardPairs<'a> {
    pub chosen_reward: &'a Tensor,
    pub rejected_reward: &'a Tensor,
    pub margin: Option<&'a Tensor>,
}

/// What a loss consumes; a loss given the wrong kind returns [`MethodError::Unsupported`].
pub enum PreferenceData<'a> {
    Paired(PreferenceBatch<'a>),
    Unpaired(UnpairedBatch<'a>),
    Rewards(RewardPairs<'a>),
}

/// Which [`PreferenceData`] variant a loss needs, so that a loop can prepare it by table lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Paired,
    Unpaired,
    Rewards,
}

/// A loss to backpropagate and what to log.
///
/// `losses` is per pair (per example for KTO), with gradient; `loss` is its mean.
/// `chosen_rewards`/`rejected_rewards` are the detached implicit rewards (`beta * log-ratio`
/// for DPO-style losses, `beta * mean token log-prob` for SimPO, the scalar reward for `bt`);
/// for KTO they hold the desirable and the undesirable examples respectively.
/// `metrics` holds `reward_accuracy`, `reward_chosen`, `reward_rejected`, `reward_margin`,
/// `logp_chosen`, `logp_rejected` (batch means) and loss-specific entries.
pub struct PreferenceLoss {
    pub loss: Tensor,
    pub losses: Tensor,
    pub chosen_rewards: Tensor,
    pub rejected_rewards: Tensor,
    pub metrics: BTreeMap<&'static str, f64>,
}

/// A configured preference loss, built from [`PREFERENCE_LOSSES`].
pub trait PreferenceObjective: Send + Sync {
    fn name(&self) -> &'static str;
    fn input(&self) -> InputKind;
    fn loss(&self, data: &PreferenceData) -> Result<PreferenceLoss, MethodError>;
}

/// One registered loss: its name, what it does, the spec section, the data it needs, and a
/// builder from its (optional) TOML settings table.
pub struct PreferenceLossEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub spec: &'static str,
    pub input: InputKind,
    /// Reads the frozen reference's log-probs (a run without it needs no reference model).
    pub uses_reference: bool,
    /// Reads the previous iterate's log-probs (INPO): the loop then keeps a snapshot pi_t.
    pub uses_iterate: bool,
    pub build: BuildLoss,
}

/// Builds a loss from its optional settings table.
pub type BuildLoss = fn(Option<&toml::Value>) -> Result<Box<dyn PreferenceObjective>, MethodError>;

/// Every preference loss, by name. Adding one is one file and one line here.
pub const PREFERENCE_LOSSES: &[PreferenceLossEntry] = &[
    PreferenceLossEntry {
        name: "sigmoid",
        description: "DPO: -log sigmoid(beta * log-ratio margin), optional label smoothing (cDPO)",
        spec: "preference-baselines.md#dpo",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<SigmoidConfig>("sigmoid", t),
    },
    PreferenceLossEntry {
        name: "ipo",
        description: "IPO: (log-ratio margin - 1/(2 beta))^2",
        spec: "preference-baselines.md#ipo",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<IpoConfig>("ipo", t),
    },
    PreferenceLossEntry {
        name: "hinge",
        description: "SLiC hinge: relu(1 - beta * log-ratio margin)",
        spec: "none (TRL loss_type = \"hinge\")",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<HingeConfig>("hinge", t),
    },
    PreferenceLossEntry {
        name: "robust",
        description: "robust DPO (Chowdhury et al. 2024): unbiased under label-flip rate eps",
        spec: "none (TRL loss_type = \"robust\")",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<RobustConfig>("robust", t),
    },
    PreferenceLossEntry {
        name: "simpo",
        description: "SimPO: reference-free, length-normalised, target margin gamma",
        spec: "preference-baselines.md#simpo",
        input: InputKind::Paired,
        uses_reference: false,
        uses_iterate: false,
        build: |t| support::build::<SimpoConfig>("simpo", t),
    },
    PreferenceLossEntry {
        name: "orpo",
        description: "ORPO: reference-free, chosen NLL - lambda * log sigmoid(log odds ratio)",
        spec: "none (Hong et al. 2024 and TRL ORPOTrainer)",
        input: InputKind::Paired,
        uses_reference: false,
        uses_iterate: false,
        build: |t| support::build::<OrpoConfig>("orpo", t),
    },
    PreferenceLossEntry {
        name: "kto",
        description:
            "KTO: unpaired desirable/undesirable, KL reference point from mismatched pairs",
        spec: "preference-baselines.md#kto",
        input: InputKind::Unpaired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<KtoConfig>("kto", t),
    },
    PreferenceLossEntry {
        name: "rpo",
        description: "RPO: DPO + coef * NLL of the chosen response (partly reconstructed)",
        spec: "rpo.md",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<RpoConfig>("rpo", t),
    },
    PreferenceLossEntry {
        name: "inpo",
        description: "INPO: (h - 1/(2 eta))^2 against reference and previous iterate \
                      (paper values unverified)",
        spec: "inpo.md",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: true,
        build: |t| support::build::<InpoConfig>("inpo", t),
    },
    PreferenceLossEntry {
        name: "seppo",
        description: "SePPO: DPO on (positive, reference sample) with the anchor's sign flip \
                      (reconstructed)",
        spec: "seppo.md",
        input: InputKind::Paired,
        uses_reference: true,
        uses_iterate: false,
        build: |t| support::build::<SeppoConfig>("seppo", t),
    },
    PreferenceLossEntry {
        name: "bt",
        description: "Bradley-Terry reward model: -log sigmoid(r_chosen - r_rejected - margin)",
        spec: "preference-baselines.md#bradleyterry-reward-model",
        input: InputKind::Rewards,
        uses_reference: false,
        uses_iterate: false,
        build: |t| support::build::<BtConfig>("bt", t),
    },
];

/// The loss registered as `name`, with settings from `table` (keys as in its config struct;
/// `None` takes the spec's defaults). Errors name the key at fault, as `preference.<name>.<key>`.
pub fn build_preference_loss(
    name: &str,
    table: Option<&toml::Value>,
) -> Result<Box<dyn PreferenceObjective>, MethodError> {
    let entry = PREFERENCE_LOSSES
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = PREFERENCE_LOSSES.iter().map(|e| e.name).collect();
            unknown("preference loss", name, &known)
        })?;
    (entry.build)(table)
}
