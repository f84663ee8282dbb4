//! What every preference loss shares: settings parsing, input checks, the log-ratios, and the
//! metrics that TRL logs (so that runs compare one to one).
use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::{PreferenceBatch, PreferenceData, PreferenceLoss, PreferenceObjective};
use crate::error::MethodError;
use crate::objective::accumulation_kind;
use crate::parts::Settings;

/// Parses `table` into `T` (unknown keys and wrong types are errors naming the key), checks
/// its ranges, and boxes it: each loss's settings struct is the loss.
pub(crate) fn build<T>(
    name: &'static str,
    table: Option<&toml::Value>,
) -> Result<Box<dyn PreferenceObjective>, MethodError>
where
    T: Settings + PreferenceObjective + 'static,
{
    let settings: T = match table {
        None => T::default(),
        Some(table) => serde_path_to_error::deserialize(table.clone()).map_err(|e| {
            let path = e.path().to_string();
            let key = if path.is_empty() || path == "." {
                format!("preference.{name}")
            } else {
                format!("preference.{name}.{path}")
            };
            MethodError::Settings {
                key,
                detail: e.into_inner().to_string(),
            }
        })?,
    };
    settings.validate()?;
    Ok(Box::new(settings))
}

/// The variant a loss needs, or an error naming the loss and what it was given.
pub(crate) fn wrong_input(loss: &'static str, needs: &str, data: &PreferenceData) -> MethodError {
    let given = match data {
        PreferenceData::Paired(_) => "paired",
        PreferenceData::Unpaired(_) => "unpaired",
        PreferenceData::Rewards(_) => "rewards",
    };
    MethodError::Unsupported {
        key: format!("preference.{loss}"),
        value: given.to_string(),
        detail: format!("this loss needs {needs} data"),
    }
}

/// Every tensor is 1-D with the same length as the first; returns that length.
pub(crate) fn same_length(
    part: &'static str,
    tensors: &[(&str, &Tensor)],
) -> Result<i64, MethodError> {
    let Some((_, first)) = tensors.first() else {
        return Ok(0);
    };
    let n = first.size().first().copied().unwrap_or(0);
    for (what, t) in tensors {
        if t.dim() != 1 || t.size()[0] != n {
            return Err(MethodError::Shape {
                part,
                detail: format!("{what} has shape {:?}, expected [{n}]", t.size()),
            });
        }
    }
    if n == 0 {
        return Err(MethodError::Shape {
            part,
            detail: "empty batch".into(),
        });
    }
    Ok(n)
}

/// Checks the paired batch; the reference tensors are required when `reference` is true.
pub(crate) fn check_paired(
    part: &'static str,
    b: &PreferenceBatch,
    reference: bool,
) -> Result<(), MethodError> {
    let mut tensors = vec![
        ("policy_chosen_logp", b.policy_chosen_logp),
        ("policy_rejected_logp", b.policy_rejected_logp),
        ("chosen_len", b.chosen_len),
        ("rejected_len", b.rejected_len),
    ];
    if reference {
        for (what, t) in [
            ("reference_chosen_logp", b.reference_chosen_logp),
            ("reference_rejected_logp", b.reference_rejected_logp),
        ] {
            let t = t.ok_or_else(|| MethodError::Shape {
                part,
                detail: format!("{what} is missing; this loss needs the reference model"),
            })?;
            tensors.push((what, t));
        }
    }
    same_length(part, &tensors)?;
    Ok(())
}

/// Token counts as the accumulation kind, after checking that every count is positive and
/// finite (a length-normalised loss divides by them).
pub(crate) fn lengths(b: &PreferenceBatch) -> Result<(Tensor, Tensor), MethodError> {
    let kind = accumulation_kind(b.policy_chosen_logp);
    let checked = |what: &'static str, t: &Tensor| -> Result<Tensor, MethodError> {
        let t = t.to_kind(kind).detach();
        let bad = t.le(0.0).logical_or(&t.isfinite().logical_not());
        if bad.any().int64_value(&[]) == 0 {
            return Ok(t);
        }
        let index = bad.to_kind(Kind::Int64).argmax(0, false).int64_value(&[]);
        Err(MethodError::OutOfRange {
            field: what,
            value: format!("{} at index {index}", t.double_value(&[index])),
            expected: "token counts > 0",
        })
    };
    Ok((
        checked("chosen_len", b.chosen_len)?,
        checked("rejected_len", b.rejected_len)?,
    ))
}

/// `(log pi(y_w) - log pi_ref(y_w), log pi(y_l) - log pi_ref(y_l))`, checked.
pub(crate) fn log_ratios(
    part: &'static str,
    b: &PreferenceBatch,
) -> Result<(Tensor, Tensor), MethodError> {
    check_paired(part, b, true)?;
    let kind = accumulation_kind(b.policy_chosen_logp);
    let reference = |t: Option<&Tensor>| t.map(|t| t.detach().to_kind(kind));
    let (Some(ref_c), Some(ref_r)) = (
        reference(b.reference_chosen_logp),
        reference(b.reference_rejected_logp),
    ) else {
        return Err(MethodError::Shape {
            part,
            detail: "reference log-probs are missing".into(),
        });
    };
    let chosen = b.policy_chosen_logp.to_kind(kind) - ref_c;
    let rejected = b.policy_rejected_logp.to_kind(kind) - ref_r;
    Ok((chosen, rejected))
}

/// Mean of a tensor as f64, for the metrics map.
pub(crate) fn mean(t: &Tensor) -> f64 {
    if t.numel() == 0 {
        return f64::NAN;
    }
    t.detach()
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[])
}

/// The loss and TRL's pairwise metrics from per-pair losses and (detached) rewards.
pub(crate) fn paired_output(
    losses: Tensor,
    chosen_rewards: Tensor,
    rejected_rewards: Tensor,
    b: &PreferenceBatch,
) -> PreferenceLoss {
    let chosen_rewards = chosen_rewards.detach();
    let rejected_rewards = rejected_rewards.detach();
    let mut metrics = BTreeMap::new();
    // Ties count as wrong, as in TRL (`chosen_rewards > rejected_rewards`).
    metrics.insert(
        "reward_accuracy",
        mean(&chosen_rewards.gt_tensor(&rejected_rewards)),
    );
    metrics.insert("reward_chosen", mean(&chosen_rewards));
    metrics.insert("reward_rejected", mean(&rejected_rewards));
    metrics.insert(
        "reward_margin",
        mean(&(&chosen_rewards - &rejected_rewards)),
    );
    metrics.insert("logp_chosen", mean(b.policy_chosen_logp));
    metrics.insert("logp_rejected", mean(b.policy_rejected_logp));
    let loss = losses.mean(losses.kind());
    metrics.insert("loss", mean(&loss));
    PreferenceLoss {
        loss,
        losses,
        chosen_rewards,
        rejected_rewards,
        metrics,
    }
}

/// The shared shape of the DPO loss types: `logits = chosen log-ratio - rejected log-ratio`
/// (each log-ratio divided by its token count when `per_token`), per-pair losses
/// `loss_of(logits)`. Rewards stay `beta * summed log-ratio` either way: that is DPO's implicit
/// reward, and what TRL logs for every loss type.
pub(crate) fn margin_loss(
    part: &'static str,
    b: &PreferenceBatch,
    beta: f64,
    per_token: bool,
    loss_of: impl Fn(&Tensor) -> Tensor,
) -> Result<PreferenceLoss, MethodError> {
    let (chosen, rejected) = log_ratios(part, b)?;
    let logits = if per_token {
        let (len_c, len_r) = lengths(b)?;
        &chosen / len_c - &rejected / len_r
    } else {
        &chosen - &rejected
    };
    let losses = loss_of(&logits);
    Ok(paired_output(losses, chosen * beta, rejected * beta, b))
}

/// `-(1 - eps) log sigmoid(z) - eps log sigmoid(-z)`: the cross-entropy against a label that
/// is flipped with probability `eps` (cDPO; also SimPO's label smoothing in TRL).
pub(crate) fn smoothed_logistic(z: &Tensor, eps: f64) -> Tensor {
    -(z.log_sigmoid() * (1.0 - eps)) - (-z).log_sigmoid() * eps
}
