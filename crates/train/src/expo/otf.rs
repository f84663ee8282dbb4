//! EXPO's on-the-fly policy π_OTF (spec §Method): candidates C = {a¹..a^N} ∪ {ã¹..ã^{n_e}}
//! with a ~ μ_ψ(·|s) and ã^l = a^l + βδ^l for the first n_e base samples; the action is
//! argmax_{c ∈ C} min_j Q_j(s, c). The same selector acts (EMA base, target critic) and builds
//! TD targets (online base, target critic).
use tch::{Kind, Tensor};

use super::critic::QEnsemble;
use super::ddpm::DiffusionPolicy;
use super::edit::{apply_edit, EditPolicy};

/// The best candidate per row: `candidates: [B, M, k]`, `q: [B, M]` → (`[B, k]`, index `[B]`).
/// Ties go to the first candidate (base samples come first).
pub fn select(candidates: &Tensor, q: &Tensor) -> (Tensor, Tensor) {
    let index = q.argmax(1, false);
    let k = candidates.size()[2];
    let gather = index.view([-1, 1, 1]).expand([-1, 1, k], false);
    (candidates.gather(1, &gather, false).squeeze_dim(1), index)
}

/// Candidate counts and edit scale of π_OTF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtfConfig {
    /// Base samples N.
    pub base_samples: i64,
    /// Edited samples n_e ≤ N (0 disables editing).
    pub edited_samples: i64,
    pub beta: f64,
}

/// All candidates of π_OTF for `obs: [B, obs_dim]` → `[B, N + n_e, k]`. No gradient.
pub fn candidates(
    obs: &Tensor,
    base: &DiffusionPolicy,
    edit: &EditPolicy,
    config: OtfConfig,
    ema_base: bool,
) -> Tensor {
    let a = base.sample(obs, config.base_samples, ema_base);
    if config.edited_samples == 0 {
        return a;
    }
    tch::no_grad(|| {
        let (b, k) = (a.size()[0], a.size()[2]);
        let ne = config.edited_samples.min(config.base_samples);
        let to_edit = a.narrow(1, 0, ne).reshape([b * ne, k]);
        let s = obs
            .unsqueeze(1)
            .expand([b, ne, obs.size()[1]], false)
            .reshape([b * ne, -1]);
        let u = edit.sample(&s, &to_edit, config.beta).u;
        let edited = apply_edit(&to_edit, &u, config.beta).reshape([b, ne, k]);
        Tensor::cat(&[a, edited], 1)
    })
}

/// π_OTF(s): the candidate with the largest min-ensemble Q (`target` picks the critic copy).
pub fn act(
    obs: &Tensor,
    base: &DiffusionPolicy,
    edit: &EditPolicy,
    critic: &QEnsemble,
    config: OtfConfig,
    ema_base: bool,
) -> Tensor {
    let c = candidates(obs, base, edit, config, ema_base);
    let (b, m, k) = (c.size()[0], c.size()[1], c.size()[2]);
    tch::no_grad(|| {
        let s = obs
            .unsqueeze(1)
            .expand([b, m, obs.size()[1]], false)
            .reshape([b * m, -1]);
        let q = critic.min_q(&s, &c.reshape([b * m, k]), true).view([b, m]);
        select(&c, &q.to_kind(Kind::Float)).0
    })
}
