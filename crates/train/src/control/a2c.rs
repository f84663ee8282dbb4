//! A2C's policy loss (reinforce-ac-baseline.md, "Vanilla actor-critic"):
//! `L = -mean(log pi(a|s) A) - c_e mean(H)` with `A` detached and no ratio or clip; one
//! gradient step per rollout of N envs x n steps (the trainer's `epochs = minibatches = 1`).
use std::collections::BTreeMap;

use polopt_methods::objective::LossOutput;
use tch::Kind;

use super::ppo::PolicyBatch;

pub fn a2c_policy_loss(b: &PolicyBatch, entropy_coef: f64) -> LossOutput {
    let policy_loss = -(b.logp * b.advantages).mean(Kind::Float);
    let entropy = b.entropy.mean(Kind::Float);
    let loss = &policy_loss - &entropy * entropy_coef;
    let mut metrics = BTreeMap::new();
    metrics.insert("policy_loss", policy_loss.double_value(&[]));
    metrics.insert("entropy", entropy.double_value(&[]));
    LossOutput { loss, metrics }
}
