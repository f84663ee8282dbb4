//! The spec's "Small CPU check" (`algorithms/expo.md`): EXPO on the 1-D bimodal bandit
//! (`BimodalBandit-v0`, best action 0.6) with 2000 offline actions, 70 % near −0.6 and 30 % near
//! 0.5 (`polopt_envs::offline::bandit::expo_bandit`), online interaction with symmetric 50/50
//! offline/online batches (the RLPD setting), N = n_e = 8, β = 0.2.
//!
//! One update = act once with π_OTF (EMA base, target critic) and store the transition, then the
//! spec's four updates on one batch: critic (TD target with π_OTF on s'; every bandit
//! transition is terminal, so y = r), base imitation + EMA, edit policy, temperature, and the
//! critic's Polyak step. [`Mode::BaseOnly`] is the control: it trains only the base policy and
//! acts with one base sample.
//!
//! Evaluation plays `eval_episodes` one-step episodes of the environment (through the `Env`
//! trait) with the acting policy and reports the mean reward, plus the share of base samples
//! near each data mode.
use polopt_envs::classic::{make, ActionRef, Env};
use polopt_envs::offline::bandit::expo_bandit;
use polopt_envs::offline::Actions;
use rand::RngExt;
use tch::{Kind, Tensor};

use super::critic::QEnsemble;
use super::ddpm::{DiffusionConfig, DiffusionPolicy};
use super::edit::{apply_edit, EditPolicy};
use super::otf::{self, OtfConfig};
use crate::optim::{AdamW, StepOutcome};
use crate::seeds::{stream, with_torch_seed};

/// Which policy acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// π_OTF over base and edited candidates, critic and edit policy trained.
    Expo,
    /// One sample of the (EMA) base policy; only imitation is trained.
    BaseOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BanditCheckConfig {
    pub seed: u64,
    pub mode: Mode,
    pub updates: u64,
    pub batch: i64,
    pub offline_transitions: usize,
    pub otf: OtfConfig,
    pub lr: f64,
    pub tau: f64,
    pub init_alpha: f64,
    /// EMA rate τ_a of the acting base copy (spec: 0.001).
    pub base_ema: f64,
    /// Hidden width of the critic and edit MLPs (two layers; spec: 256).
    pub hidden: i64,
    pub eval_every: u64,
    pub eval_episodes: usize,
}

impl Default for BanditCheckConfig {
    fn default() -> Self {
        BanditCheckConfig {
            seed: 0,
            mode: Mode::Expo,
            updates: 5000,
            batch: 256,
            offline_transitions: 2000,
            otf: OtfConfig {
                base_samples: 8,
                edited_samples: 8,
                beta: 0.2,
            },
            lr: 3e-4,
            tau: 0.005,
            init_alpha: 1.0,
            base_ema: 0.001,
            hidden: 256,
            eval_every: 500,
            eval_episodes: 200,
        }
    }
}

/// One evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalPoint {
    pub update: u64,
    /// Mean reward of the acting policy over the evaluation episodes.
    pub mean_reward: f64,
    /// Mean acting action.
    pub mean_action: f64,
    /// Share of acting actions within 0.1 of 0.6.
    pub near_best: f64,
    /// Shares of EMA base samples within 0.15 of −0.6 and of 0.5.
    pub base_mass_low: f64,
    pub base_mass_high: f64,
    /// Edit temperature α and the number of skipped non-finite updates so far.
    pub alpha: f64,
    pub skipped: u64,
}

struct Learner {
    base: DiffusionPolicy,
    edit: EditPolicy,
    critic: QEnsemble,
    log_alpha: tch::nn::VarStore,
    base_opt: AdamW,
    edit_opt: AdamW,
    critic_opt: AdamW,
    alpha_opt: AdamW,
}

fn alpha(log_alpha: &tch::nn::VarStore) -> Tensor {
    log_alpha
        .root()
        .get("log_alpha")
        .map(|t| t.exp())
        .unwrap_or_else(|| Tensor::from(1.0f32))
}

/// Runs the check; `on_eval` sees every evaluation as it happens.
pub fn run(
    config: &BanditCheckConfig,
    on_eval: &mut dyn FnMut(&EvalPoint),
) -> Result<Vec<EvalPoint>, polopt_envs::classic::EnvError> {
    let data = expo_bandit(config.offline_transitions, config.seed);
    let Actions::Continuous(offline_actions) = &data.actions else {
        unreachable!("expo_bandit has continuous actions")
    };
    let offline_rewards = data.rewards.clone();
    let learner = with_torch_seed(config.seed, "expo-init", 0, || {
        let base = DiffusionPolicy::new(DiffusionConfig {
            ema: config.base_ema,
            ..DiffusionConfig::default()
        });
        let hidden = [config.hidden, config.hidden];
        let edit = EditPolicy::new(1, 1, &hidden);
        let critic = QEnsemble::new(1, 1, &hidden, 2);
        let log_alpha = tch::nn::VarStore::new(tch::Device::Cpu);
        let _ = log_alpha
            .root()
            .var_copy("log_alpha", &Tensor::from(config.init_alpha.ln() as f32));
        let base_opt = AdamW::new(&base.vs, config.lr, 0.0);
        let edit_opt = AdamW::new(&edit.vs, config.lr, 0.0);
        let critic_opt = AdamW::new(&critic.vs, config.lr, 0.0);
        let alpha_opt = AdamW::new(&log_alpha, config.lr, 0.0);
        Learner {
            base,
            edit,
            critic,
            log_alpha,
            base_opt,
            edit_opt,
            critic_opt,
            alpha_opt,
        }
    });
    let Learner {
        base,
        edit,
        critic,
        log_alpha,
        mut base_opt,
        mut edit_opt,
        mut critic_opt,
        mut alpha_opt,
    } = learner;
    let mut env = make("BimodalBandit-v0")?;
    let (mut online_actions, mut online_rewards) = (Vec::<f32>::new(), Vec::<f32>::new());
    let mut skipped = 0u64;
    let mut evals = Vec::new();
    let act_dim = 1i64;
    let target_entropy = -(act_dim as f64) / 2.0;
    let acting = |base: &DiffusionPolicy, edit: &EditPolicy, critic: &QEnsemble, n: i64| {
        let obs = Tensor::zeros([n, 1], (Kind::Float, tch::Device::Cpu));
        match config.mode {
            Mode::Expo => otf::act(&obs, base, edit, critic, config.otf, true),
            Mode::BaseOnly => base.sample(&obs, 1, true).squeeze_dim(1),
        }
    };
    for update in 0..config.updates {
        if update % config.eval_every == 0 || update + 1 == config.updates {
            let point = with_torch_seed(config.seed, "expo-eval", update, || {
                evaluate(
                    config, update, &base, &edit, &critic, &log_alpha, skipped, &mut *env, &acting,
                )
            })?;
            on_eval(&point);
            evals.push(point);
        }
        let mut rng = stream(config.seed, "expo-batch", update);
        let outcome = with_torch_seed(config.seed, "expo-update", update, || {
            // Act once and store the transition (one-step episodes).
            let a = f32::try_from(acting(&base, &edit, &critic, 1).view([-1])).unwrap_or(0.0);
            env.reset(None);
            let r = env.step(ActionRef::Continuous(&[a]))?.reward as f32;
            online_actions.push(a);
            online_rewards.push(r);
            // Symmetric sampling: half offline, half online (RLPD).
            let half = config.batch / 2;
            let mut acts = Vec::with_capacity(config.batch as usize);
            let mut rews = Vec::with_capacity(config.batch as usize);
            for i in 0..config.batch {
                let (pool_a, pool_r) = if i < half || config.mode == Mode::BaseOnly {
                    (offline_actions.as_slice(), offline_rewards.as_slice())
                } else {
                    (online_actions.as_slice(), online_rewards.as_slice())
                };
                let j = rng.random_range(0..pool_a.len());
                acts.push(pool_a[j]);
                rews.push(pool_r[j]);
            }
            let actions = Tensor::from_slice(&acts).view([-1, 1]);
            let rewards = Tensor::from_slice(&rews);
            let obs = Tensor::zeros([config.batch, 1], (Kind::Float, tch::Device::Cpu));
            let mut outcomes = Vec::new();
            // Base policy: imitation on all replay data, then EMA.
            outcomes.push(base_opt.guarded_step(&base.imitation_loss(&obs, &actions), 10.0));
            base.update_ema();
            if config.mode == Mode::Expo {
                // Critic: every transition is terminal, so the TD target is the reward
                // (the γ·mask·min Q̄(s', π_OTF(s')) term is zero and not computed).
                let q = critic.all(&obs, &actions, false);
                let critic_loss = (q - rewards.unsqueeze(0)).square().mean(Kind::Float);
                outcomes.push(critic_opt.guarded_step(&critic_loss, 10.0));
                // Edit policy on the replay actions: α log p(βδ) − mean_j Q_j(s, a + βδ).
                let sample = edit.sample(&obs, &actions, config.otf.beta);
                let edited = apply_edit(&actions, &sample.u, config.otf.beta);
                let q_edit = critic
                    .all(&obs, &edited, false)
                    .mean_dim(0, false, Kind::Float);
                let a_now = alpha(&log_alpha).detach();
                let edit_loss = (&sample.log_prob * &a_now - q_edit).mean(Kind::Float);
                outcomes.push(edit_opt.guarded_step(&edit_loss, 10.0));
                // Temperature: α (H − H_target), H = −mean log p (detached).
                let entropy = -sample.log_prob.detach().mean(Kind::Float);
                let alpha_loss = alpha(&log_alpha) * (entropy - target_entropy);
                outcomes.push(alpha_opt.guarded_step(&alpha_loss, 10.0));
                critic.update_target(config.tau);
            }
            Ok::<_, polopt_envs::classic::EnvError>(outcomes)
        })?;
        skipped += outcome
            .iter()
            .filter(|o| matches!(o, StepOutcome::NonFinite { .. }))
            .count() as u64;
    }
    Ok(evals)
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    config: &BanditCheckConfig,
    update: u64,
    base: &DiffusionPolicy,
    edit: &EditPolicy,
    critic: &QEnsemble,
    log_alpha: &tch::nn::VarStore,
    skipped: u64,
    env: &mut dyn Env,
    acting: &dyn Fn(&DiffusionPolicy, &EditPolicy, &QEnsemble, i64) -> Tensor,
) -> Result<EvalPoint, polopt_envs::classic::EnvError> {
    let n = config.eval_episodes as i64;
    let actions =
        Vec::<f32>::try_from(acting(base, edit, critic, n).view([-1])).unwrap_or_default();
    let mut total = 0.0;
    for a in &actions {
        env.reset(None);
        total += env.step(ActionRef::Continuous(&[*a]))?.reward;
    }
    let count = actions.len().max(1) as f64;
    let samples = Vec::<f32>::try_from(
        base.sample(
            &Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu)),
            512,
            true,
        )
        .view([-1]),
    )
    .unwrap_or_default();
    let share = |xs: &[f32], c: f32, w: f32| {
        xs.iter().filter(|x| (**x - c).abs() < w).count() as f64 / xs.len().max(1) as f64
    };
    Ok(EvalPoint {
        update,
        mean_reward: total / count,
        mean_action: actions.iter().map(|a| *a as f64).sum::<f64>() / count,
        near_best: share(&actions, 0.6, 0.1),
        base_mass_low: share(&samples, -0.6, 0.15),
        base_mass_high: share(&samples, 0.5, 0.15),
        alpha: alpha(log_alpha).double_value(&[]),
        skipped,
    })
}
