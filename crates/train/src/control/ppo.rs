//! PPO's policy loss for control (ppo-baseline.md): the shared clipped surrogate of
//! `polopt_methods::objective`, called with one "token" per environment step, so that control
//! and group RL run literally the same kernel (clip, dual clip, aggregation, entropy bonus and
//! the clip-fraction / approx-KL metrics).
use polopt_methods::objective::{LossOutput, LossScale, PolicyObjective, PolicyTerms};
use tch::Tensor;

/// The per-minibatch inputs of a policy loss, each `[B]`; `old_logp` and `advantages` detached.
pub struct PolicyBatch<'a> {
    pub logp: &'a Tensor,
    pub old_logp: &'a Tensor,
    pub advantages: &'a Tensor,
    pub entropy: &'a Tensor,
}

/// `mean(-min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)) - c_e mean(H)` through
/// [`PolicyObjective::loss`] on `[B, 1]` views with an all-ones mask.
pub fn ppo_policy_loss(objective: &PolicyObjective, b: &PolicyBatch) -> LossOutput {
    let col = |t: &Tensor| t.view([-1, 1]);
    let (logp, old, adv, ent) = (
        col(b.logp),
        col(b.old_logp),
        col(b.advantages),
        col(b.entropy),
    );
    let mask = logp.ones_like().detach();
    let scale = LossScale::of_mask(&mask, 1.0);
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &adv,
        mask: &mask,
        entropy: Some(&ent),
    };
    objective.loss(&terms, &scale, None)
}
