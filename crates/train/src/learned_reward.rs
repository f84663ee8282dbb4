//! A reward model learned during the run from the preference oracle's labels on the policy's
//! own samples, scoring the group rollout in place of the run's reward (`method.learned_reward`,
//! presets `rlhf_rm` and `parl`; parl.md).
//!
//! Each step is one outer iteration of A-PARL with one warm-started inner step: the rollout is
//! scored by `R_ν` ([`LearnedReward::rescore`]), the policy takes its usual GRPO update on those
//! scores (the lower level), and then ν takes one step ([`LearnedReward::train`]) on the upper
//! objective, the Bradley–Terry log-likelihood `U` of the oracle's labels on pairs of this
//! step's samples (each group's best and worst by the run's reward; ties are not queried).
//!
//! Standard RLHF (`hypergradient = false`) follows `g1 = E[∇_ν U]` only. PARL adds the implicit
//! term `(∂θ*/∂ν)ᵀ g2` with `g2 = ∇_θ E_{τ∼π_θ}[U] = E[U ∇_θ log π(τ)]` (score function) and
//! `∂θ*/∂ν = −[∇²_θθ V]⁻¹ ∇²_θν V`. Reconstructed (the spec leaves the inverse Hessian open):
//! `−[∇²_θθ V]⁻¹ ≈ κ I` (`hyper_scale`, the one-term Neumann series, which is also what
//! differentiating one inner gradient step of size κ gives), and
//! `∇²_θν V = E[∇_θ log π(τ) ∇_ν R_ν(τ)ᵀ]`, so the term is `κ E[w(τ) ∇_ν R_ν(τ)]` with
//! `w(τ) = ∇_θ log π(τ) · g2`. `w` is a directional derivative, taken by a central finite
//! difference of the sequence log-probs along `g2` (two forwards, no Hessian-vector product).
//!
//! ν is a linear head on the frozen warm start's last-token hidden state: the reward model is
//! separate from the policy (bilevel), and cheap.
use std::collections::BTreeMap;
use std::path::Path;

use polopt_methods::LearnedRewardConfig;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::minibatch::NonFiniteGuard;
use crate::optim::StepOutcome;
use crate::packing::{pack, Packed, Sequence};
use crate::policy::Policy;
use crate::preference::reward_head::{last_hidden, RewardHead};
use crate::run_dir::write_atomic;

const STATE: &str = "learned_reward.json";

#[derive(Serialize, Deserialize)]
struct State {
    optimizer_step: i64,
}

pub struct LearnedReward {
    head: RewardHead,
    settings: LearnedRewardConfig,
    temperature: f64,
    grad_clip: f64,
    pad: i64,
}

type Row = BTreeMap<String, f64>;

/// What one step's scoring hands to the reward model's own step.
pub struct Scored {
    /// The run's reward per sequence: the preference oracle.
    pub oracle: Vec<f64>,
    /// `[B, H]` last-token hidden states of the frozen trunk.
    pub features: Tensor,
}

/// PARL's per-sample weights of `∇_ν R_ν(τ)` in the implicit term.
enum Implicit {
    Weights(Tensor),
    /// `g2 = 0`: the term vanishes.
    None,
    NonFinite,
}

impl LearnedReward {
    pub fn for_run(config: &RunConfig, policy: &Policy, pad: i64) -> Self {
        let settings = config.method.learned_reward.clone();
        Self {
            head: RewardHead::new(policy.config.hidden_size, policy.device(), settings.lr),
            settings,
            temperature: config.rl.temperature,
            grad_clip: config.rl.grad_clip,
            pad,
        }
    }

    fn packed(&self, seqs: &[Sequence], device: tch::Device) -> (Packed, Vec<usize>) {
        let prompts: Vec<&[i64]> = seqs.iter().map(|s| s.prompt.as_slice()).collect();
        let responses: Vec<&[i64]> = seqs.iter().map(|s| s.response.as_slice()).collect();
        let lens = seqs.iter().map(|s| s.response.len()).collect();
        (pack(&prompts, &responses, self.pad, device), lens)
    }

    /// Replaces every sequence's reward by `R_ν`; returns what [`Self::train`] needs of this
    /// step: the run's rewards (the oracle's) and the frozen trunk's features.
    pub fn rescore(
        &self,
        reward_trunk: &Policy,
        seqs: &mut [Sequence],
    ) -> Result<(Scored, Row), TrainError> {
        let oracle: Vec<f64> = seqs.iter().map(|s| s.reward).collect();
        let mut row = Row::new();
        if seqs.is_empty() {
            let features = Tensor::zeros([0, 0], (Kind::Float, reward_trunk.device()));
            return Ok((Scored { oracle, features }, row));
        }
        let (packed, lens) = self.packed(seqs, reward_trunk.device());
        // The trunk is frozen and the policy's update does not touch the head, so these
        // features serve the reward-model step after the update too: one trunk forward a step.
        let features = tch::no_grad(|| last_hidden(reward_trunk, &packed, &lens));
        let scores = host(&tch::no_grad(|| self.head.score(&features)))?;
        for (s, r) in seqs.iter_mut().zip(&scores) {
            s.reward = *r;
        }
        let n = scores.len() as f64;
        row.insert(
            "learned_reward/score_mean".into(),
            scores.iter().sum::<f64>() / n,
        );
        row.insert(
            "learned_reward/oracle_mean".into(),
            oracle.iter().sum::<f64>() / n,
        );
        Ok((Scored { oracle, features }, row))
    }

    /// One or more steps of ν on this step's pairs (see the module doc). A non-finite loss or
    /// gradient applies nothing and goes to the run's `guard`.
    pub fn train(
        &mut self,
        policy: &Policy,
        seqs: &[Sequence],
        scored: &Scored,
        guard: &mut NonFiniteGuard,
        step: usize,
    ) -> Result<Row, TrainError> {
        let pairs = oracle_pairs(seqs, &scored.oracle);
        let mut row = Row::new();
        row.insert("learned_reward/pairs".into(), pairs.len() as f64);
        if pairs.is_empty() {
            return Ok(row);
        }
        let device = scored.features.device();
        let chosen = index(pairs.iter().map(|p| p.0), device);
        let rejected = index(pairs.iter().map(|p| p.1), device);
        let weights = match self.settings.hypergradient && self.settings.hyper_scale > 0.0 {
            true => self.implicit_weights(policy, seqs, scored, &pairs, &mut row)?,
            false => Implicit::None,
        };
        let weights = match weights {
            Implicit::Weights(w) => Some(w),
            Implicit::None => None,
            Implicit::NonFinite => {
                // Fit to the labels alone this step rather than follow a broken direction.
                guard.report("PARL implicit-term directional derivative", step)?;
                None
            }
        };
        for _ in 0..self.settings.updates {
            let scores = self.head.score(&scored.features);
            let margin = scores.index_select(0, &chosen) - scores.index_select(0, &rejected);
            let loglik = margin.log_sigmoid().mean(Kind::Float);
            let mut loss = -&loglik;
            if let Some(w) = &weights {
                loss -= (w * &scores).mean(Kind::Float) * self.settings.hyper_scale;
            }
            row.insert(
                "learned_reward/pair_accuracy".into(),
                margin
                    .gt(0.0)
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[]),
            );
            row.insert("learned_reward/loglik".into(), loglik.double_value(&[]));
            match self.head.opt.guarded_step(&loss, self.grad_clip) {
                StepOutcome::Applied { grad_norm, .. } => {
                    row.insert("learned_reward/grad_norm".into(), grad_norm);
                }
                StepOutcome::NonFinite { what } => {
                    guard.report(&format!("learned reward {what}"), step)?
                }
            }
        }
        Ok(row)
    }

    /// `w(τ) − mean_group(w)` for every sequence, as a `[B]` constant; none when `g2`
    /// vanishes (every pair's log-likelihood equal).
    fn implicit_weights(
        &self,
        policy: &Policy,
        seqs: &[Sequence],
        scored: &Scored,
        pairs: &[(usize, usize)],
        row: &mut Row,
    ) -> Result<Implicit, TrainError> {
        let device = policy.device();
        // U per pair under the current ν, centred: the centring is a baseline of the score
        // function estimator (E[∇ log π] = 0), so g2 keeps its mean and loses variance.
        let scores = host(&tch::no_grad(|| self.head.score(&scored.features)))?;
        let u: Vec<f64> = pairs
            .iter()
            .map(|&(c, r)| -(1.0 + (scores[r] - scores[c]).exp()).ln())
            .collect();
        let mean_u = u.iter().sum::<f64>() / u.len() as f64;
        let mut coef = vec![0.0; seqs.len()];
        for (&(c, r), ui) in pairs.iter().zip(&u) {
            coef[c] += (ui - mean_u) / pairs.len() as f64;
            coef[r] += (ui - mean_u) / pairs.len() as f64;
        }
        let (packed, _) = self.packed(seqs, device);
        let params = policy.trainable_vs().trainable_variables();
        let surrogate = (sequence_logprobs(policy, &packed, self.temperature)
            * Tensor::from_slice(&coef)
                .to_kind(Kind::Float)
                .to_device(device))
        .sum(Kind::Float);
        let g2 = Tensor::run_backward(&[surrogate], &params, false, false);
        let norm = l2_norm(&g2);
        row.insert("learned_reward/g2_norm".into(), norm);
        if norm == 0.0 {
            return Ok(Implicit::None);
        }
        if !norm.is_finite() {
            return Ok(Implicit::NonFinite);
        }
        let w =
            directional_derivatives(policy, &packed, self.temperature, &g2, self.settings.fd_eps)?;
        if w.iter().any(|x| !x.is_finite()) {
            return Ok(Implicit::NonFinite);
        }
        let centred = centre_by_group(seqs, &w);
        row.insert(
            "learned_reward/implicit_abs_mean".into(),
            centred.iter().map(|x| x.abs()).sum::<f64>() / centred.len() as f64,
        );
        Ok(Implicit::Weights(
            Tensor::from_slice(&centred)
                .to_kind(Kind::Float)
                .to_device(scored.features.device()),
        ))
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.head.save(dir)?;
        let state = State {
            optimizer_step: self.head.opt.step,
        };
        let text = serde_json::to_string(&state).map_err(|e| TrainError::Config(e.to_string()))?;
        write_atomic(&dir.join(STATE), text.as_bytes())
    }

    pub fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(STATE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        let state: State = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        self.head.load(dir, state.optimizer_step)
    }
}

/// `[B]` log-probabilities of the packed responses, with gradients.
pub fn sequence_logprobs(policy: &Policy, packed: &Packed, temperature: f64) -> Tensor {
    let (logp, _) = policy.logprobs(packed, temperature, false);
    (logp * &packed.response_mask).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
}

fn l2_norm(tensors: &[Tensor]) -> f64 {
    tensors
        .iter()
        .map(|t| t.square().sum(Kind::Double).double_value(&[]))
        .sum::<f64>()
        .sqrt()
}

/// `∇_θ log π(τ_i) · v` for every packed response, by a central difference along `v/|v|` with
/// a step `fd_eps · max(|θ|, 1)`: two forwards instead of one backward per response. `v` is
/// one tensor per trainable variable of the policy (in `trainable_variables()` order). The
/// weights are restored bit for bit from a copy, not by subtracting the step again.
pub fn directional_derivatives(
    policy: &Policy,
    packed: &Packed,
    temperature: f64,
    v: &[Tensor],
    fd_eps: f64,
) -> Result<Vec<f64>, TrainError> {
    let params = policy.trainable_vs().trainable_variables();
    if params.len() != v.len() {
        return Err(TrainError::Model(format!(
            "directional derivative: {} direction tensors for {} trainable variables",
            v.len(),
            params.len()
        )));
    }
    let norm = l2_norm(v);
    let h = fd_eps * l2_norm(&params).max(1.0);
    let shifted = |sign: f64| -> Tensor {
        tch::no_grad(|| {
            let backup: Vec<Tensor> = params.iter().map(|p| p.copy()).collect();
            for (p, g) in params.iter().zip(v) {
                let _ = p
                    .shallow_clone()
                    .g_add_(&(g * (sign * h / norm)).to_kind(p.kind()));
            }
            let out = sequence_logprobs(policy, packed, temperature).to_kind(Kind::Double);
            for (p, b) in params.iter().zip(&backup) {
                p.shallow_clone().copy_(b);
            }
            out
        })
    };
    let plus = shifted(1.0);
    let minus = shifted(-1.0);
    ((plus - minus) * (norm / (2.0 * h)))
        .try_into()
        .map_err(|e: tch::TchError| TrainError::Model(e.to_string()))
}

/// Each group's best and worst sequence by the oracle's reward, when they differ: the
/// preference queries of this step.
pub fn oracle_pairs(seqs: &[Sequence], oracle: &[f64]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut start = 0;
    while start < seqs.len() {
        let group = seqs[start].group;
        let end = (start..seqs.len())
            .find(|&i| seqs[i].group != group)
            .unwrap_or(seqs.len());
        let members = start..end;
        let best = members
            .clone()
            .reduce(|a, b| if oracle[b] > oracle[a] { b } else { a });
        let worst = members.reduce(|a, b| if oracle[b] < oracle[a] { b } else { a });
        if let (Some(b), Some(w)) = (best, worst) {
            if oracle[b] > oracle[w] {
                pairs.push((b, w));
            }
        }
        start = end;
    }
    pairs
}

fn centre_by_group(seqs: &[Sequence], w: &[f64]) -> Vec<f64> {
    let mut sums: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for (s, x) in seqs.iter().zip(w) {
        let e = sums.entry(s.group).or_default();
        e.0 += x;
        e.1 += 1;
    }
    seqs.iter()
        .zip(w)
        .map(|(s, x)| {
            let (sum, n) = sums[&s.group];
            x - sum / n as f64
        })
        .collect()
}

fn host(t: &Tensor) -> Result<Vec<f64>, TrainError> {
    t.to_kind(Kind::Double)
        .try_into()
        .map_err(|e: tch::TchError| TrainError::Model(e.to_string()))
}

fn index(ids: impl Iterator<Item = usize>, device: tch::Device) -> Tensor {
    let ids: Vec<i64> = ids.map(|i| i as i64).collect();
    Tensor::from_slice(&ids).to_device(device)
}
