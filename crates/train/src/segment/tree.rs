//! SPO-tree rollout: not built yet; `method.credit.rollout = "spo_tree"` stops with an error.
use polopt_methods::credit::SpoConfig;

use super::CollectedStep;
use crate::error::TrainError;
use crate::rollout::RolloutContext;

pub(super) fn collect(
    _ctx: &RolloutContext,
    _spo: &SpoConfig,
    _step: usize,
) -> Result<CollectedStep, TrainError> {
    Err(TrainError::Config(
        "method.credit.rollout = \"spo_tree\" is not implemented yet".into(),
    ))
}
