//! PPO with a vector critic on a small discrete environment: the learner C-MORL runs on Deep
//! Sea Treasure (spec `c-morl.md`, "Small CPU check": "tabular/small-MLP PPO").
//!
//! The policy is a softmax over a table of logits and the critic a table `V(s) ∈ R^m`, so every
//! gradient is closed-form (`d log π(a|s) / d θ_{s,b} = 1[b = a] − π(b|s)`). What is not
//! tabular is shared with the rest of polopt: GAE per objective is the credit registry's
//! [`gae`], the clipped surrogate and its metrics are [`policy_loss_rows`] (the element-wise
//! form of the objective every other loop uses), the constrained objectives' penalty is
//! `multi_objective::log_barrier_terms`, and the optimiser is the theory crate's Adam.
use std::collections::BTreeMap;

use polopt_envs::multi_objective::VectorRewardEnv;
use polopt_envs::tabular::solve::argmax;
use polopt_methods::credit::{gae, Trajectories};
use polopt_methods::multi_objective::log_barrier_terms;
use polopt_methods::objective::pointwise::policy_loss_rows;
use polopt_methods::ObjectiveConfig;
use polopt_theory::adam::Adam;
use polopt_theory::{finite, softmax, TheoryError};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// PPO's knobs (C-MORL's repository defaults where a table can use them; see [`Default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PpoSettings {
    pub gamma: f64,
    pub gae_lambda: f64,
    pub clip: f64,
    pub epochs: usize,
    pub minibatches: usize,
    pub num_envs: usize,
    pub rollout_steps: usize,
    /// Adam's step on the logits. A table needs far larger steps than the repository's 3e-4
    /// for a network: one visited entry moves by about `lr` per minibatch.
    pub lr_actor: f64,
    pub lr_critic: f64,
    pub entropy_coef: f64,
    pub max_grad_norm: f64,
}

impl Default for PpoSettings {
    fn default() -> Self {
        PpoSettings {
            gamma: 0.99,
            gae_lambda: 0.95,
            clip: 0.2,
            epochs: 10,
            minibatches: 4,
            num_envs: 4,
            rollout_steps: 128,
            lr_actor: 0.03,
            lr_critic: 0.1,
            entropy_coef: 0.0,
            max_grad_norm: 0.5,
        }
    }
}

impl PpoSettings {
    pub fn batch_size(&self) -> usize {
        self.num_envs * self.rollout_steps
    }
}

/// Which advantage the policy climbs.
#[derive(Debug, Clone, PartialEq)]
pub enum Direction {
    /// Stage 1: `A_w = Σ_j w_j A_j`, normalised over the batch.
    Scalarized(Vec<f64>),
    /// Stage 2: objective `objective`'s advantage alone, every other objective under the log
    /// barrier with thresholds from [`Thresholds`].
    Constrained {
        objective: usize,
        thresholds: Thresholds,
        beta: f64,
        barrier_t: f64,
    },
}

/// How the barrier's thresholds ε_j follow from the batch-mean returns R̄_j (spec "Ambiguities").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thresholds {
    /// The repository's `ε_j = β R̄_j`: right for positive objectives, always violated (a
    /// constant penalty, no gradient) for negative ones.
    Code,
    /// `ε_j = R̄_j − (1 − β)|R̄_j|`: the same slack whatever the sign (DST's time objective is
    /// negative).
    SignSafe,
}

/// A tabular softmax policy with a vector critic; cloning it is how C-MORL copies a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularAgent {
    pub n_obs: usize,
    pub n_actions: usize,
    pub n_objectives: usize,
    /// `[s * n_actions + a]`.
    pub logits: Vec<f64>,
    /// `[s * n_objectives + j]`.
    pub values: Vec<f64>,
}

impl TabularAgent {
    /// The uniform policy and a zero critic.
    pub fn new(n_obs: usize, n_actions: usize, n_objectives: usize) -> Self {
        TabularAgent {
            n_obs,
            n_actions,
            n_objectives,
            logits: vec![0.0; n_obs * n_actions],
            values: vec![0.0; n_obs * n_objectives],
        }
    }

    pub fn probs(&self, s: usize) -> Vec<f64> {
        softmax(&self.logits[s * self.n_actions..(s + 1) * self.n_actions])
    }

    fn value(&self, s: usize) -> &[f64] {
        &self.values[s * self.n_objectives..(s + 1) * self.n_objectives]
    }

    /// The greedy policy's undiscounted vector return over one episode: what C-MORL's archive
    /// stores for each iterate (a deterministic environment needs one episode).
    pub fn evaluate(&self, env: &mut dyn VectorRewardEnv) -> Result<Vec<f64>, TheoryError> {
        let mut s = env.reset(0);
        let mut total = vec![0.0; self.n_objectives];
        loop {
            let a = argmax(&self.logits[s * self.n_actions..(s + 1) * self.n_actions]);
            let step = env.step(a).map_err(env_error)?;
            for (t, r) in total.iter_mut().zip(&step.reward) {
                *t += r;
            }
            if step.done || step.truncated {
                return Ok(total);
            }
            s = step.obs;
        }
    }
}

fn env_error(e: impl std::fmt::Display) -> TheoryError {
    TheoryError::Setting {
        key: "env".into(),
        reason: e.to_string(),
    }
}

/// N copies of an environment stepped in lockstep, each resetting when its episode ends.
pub struct Envs {
    envs: Vec<Box<dyn VectorRewardEnv>>,
    obs: Vec<usize>,
}

impl Envs {
    pub fn new(envs: Vec<Box<dyn VectorRewardEnv>>) -> Self {
        let mut envs = envs;
        let obs = envs.iter_mut().map(|e| e.reset(0)).collect();
        Envs { envs, obs }
    }
}

/// One rollout, time-major (`t * N + i`), one row per objective for the per-objective data.
struct Rollout {
    obs: Vec<usize>,
    actions: Vec<usize>,
    logp: Vec<f64>,
    rewards: Vec<Vec<f64>>,
    values: Vec<Vec<f64>>,
    next_values: Vec<Vec<f64>>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

fn collect(
    agent: &TabularAgent,
    envs: &mut Envs,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Rollout, TheoryError> {
    let (n, m) = (envs.envs.len(), agent.n_objectives);
    let rows = n * steps;
    let mut r = Rollout {
        obs: Vec::with_capacity(rows),
        actions: Vec::with_capacity(rows),
        logp: Vec::with_capacity(rows),
        rewards: vec![Vec::with_capacity(rows); m],
        values: vec![Vec::with_capacity(rows); m],
        next_values: vec![Vec::with_capacity(rows); m],
        terminated: Vec::with_capacity(rows),
        truncated: Vec::with_capacity(rows),
    };
    for _ in 0..steps {
        for (env, obs) in envs.envs.iter_mut().zip(envs.obs.iter_mut()) {
            let s = *obs;
            let p = agent.probs(s);
            let a = sample(&p, rng);
            let step = env.step(a).map_err(env_error)?;
            r.obs.push(s);
            r.actions.push(a);
            r.logp.push(p[a].ln());
            for j in 0..m {
                r.rewards[j].push(step.reward[j]);
                r.values[j].push(agent.value(s)[j]);
                // The cell the step reached, before any reset: GAE ignores it at a terminal.
                r.next_values[j].push(agent.value(step.obs)[j]);
            }
            r.terminated.push(step.done);
            r.truncated.push(step.truncated && !step.done);
            *obs = if step.done || step.truncated {
                env.reset(0)
            } else {
                step.obs
            };
        }
    }
    Ok(r)
}

fn sample(p: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (a, &q) in p.iter().enumerate() {
        acc += q;
        if u < acc {
            return a;
        }
    }
    p.len() - 1
}

/// One PPO learner: the agent and its two Adam states.
pub struct Learner {
    pub agent: TabularAgent,
    actor_opt: Adam,
    critic_opt: Adam,
}

impl Learner {
    /// Fresh optimiser states, as C-MORL's copy of a selected policy starts with.
    pub fn new(agent: TabularAgent, settings: &PpoSettings) -> Self {
        let actor_opt = Adam::new(agent.logits.len(), settings.lr_actor);
        let critic_opt = Adam::new(agent.values.len(), settings.lr_critic);
        Learner {
            agent,
            actor_opt,
            critic_opt,
        }
    }

    /// Collects one rollout and runs PPO's epochs on it; returns the iteration's metrics.
    pub fn iterate(
        &mut self,
        envs: &mut Envs,
        settings: &PpoSettings,
        direction: &Direction,
        rng: &mut ChaCha8Rng,
        step: u64,
    ) -> Result<BTreeMap<&'static str, f64>, TheoryError> {
        let m = self.agent.n_objectives;
        let roll = collect(&self.agent, envs, settings.rollout_steps, rng)?;
        let mut advantages = Vec::with_capacity(m);
        let mut returns = Vec::with_capacity(m);
        for j in 0..m {
            let traj = Trajectories {
                values: &roll.values[j],
                next_values: &roll.next_values[j],
                terminated: &roll.terminated,
                truncated: &roll.truncated,
                num_envs: envs.envs.len(),
            };
            let (adv, ret) = gae(&roll.rewards[j], &traj, settings.gamma, settings.gae_lambda);
            advantages.push(adv);
            returns.push(ret);
        }
        let rows = roll.obs.len();
        let (climb, barrier) = match direction {
            Direction::Scalarized(w) => (
                (0..rows)
                    .map(|k| (0..m).map(|j| w[j] * advantages[j][k]).sum())
                    .collect::<Vec<f64>>(),
                None,
            ),
            Direction::Constrained {
                objective,
                thresholds,
                beta,
                barrier_t,
            } => {
                let means: Vec<f64> = (0..m)
                    .filter(|&j| j != *objective)
                    .map(|j| returns[j].iter().sum::<f64>() / rows as f64)
                    .collect();
                let eps: Vec<f64> = means
                    .iter()
                    .map(|&r| match thresholds {
                        Thresholds::Code => beta * r,
                        Thresholds::SignSafe => r - (1.0 - beta) * r.abs(),
                    })
                    .collect();
                (
                    advantages[*objective].clone(),
                    Some(Barrier {
                        means,
                        thresholds: eps,
                        t: *barrier_t,
                        clip: settings.clip,
                    }),
                )
            }
        };
        let climb = normalized(&climb);
        let objective = ObjectiveConfig {
            clip_low: settings.clip,
            clip_high: settings.clip,
            entropy_coef: settings.entropy_coef,
            ..ObjectiveConfig::default()
        };
        let mut order: Vec<usize> = (0..rows).collect();
        let mb = rows.div_ceil(settings.minibatches.max(1));
        let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
        let mut updates = 0.0;
        for _ in 0..settings.epochs {
            shuffle(&mut order, rng);
            for chunk in order.chunks(mb) {
                let stats = self.minibatch(
                    chunk, &roll, &climb, &returns, &objective, settings, &barrier,
                )?;
                for (k, v) in stats {
                    *sums.entry(k).or_default() += finite(k, v, step)?;
                }
                updates += 1.0;
            }
        }
        for v in sums.values_mut() {
            *v /= updates;
        }
        Ok(sums)
    }

    #[allow(clippy::too_many_arguments)]
    fn minibatch(
        &mut self,
        rows: &[usize],
        roll: &Rollout,
        climb: &[f64],
        returns: &[Vec<f64>],
        objective: &ObjectiveConfig,
        settings: &PpoSettings,
        barrier: &Option<Barrier>,
    ) -> Result<BTreeMap<&'static str, f64>, TheoryError> {
        let pick = |v: &[f64]| rows.iter().map(|&k| v[k]).collect::<Vec<f64>>();
        let obs: Vec<usize> = rows.iter().map(|&k| roll.obs[k]).collect();
        let actions: Vec<usize> = rows.iter().map(|&k| roll.actions[k]).collect();
        let (old_logp, advantages) = (pick(&roll.logp), pick(climb));
        let returns: Vec<Vec<f64>> = returns.iter().map(|r| pick(r)).collect();
        let samples = Samples {
            obs: &obs,
            actions: &actions,
            old_logp: &old_logp,
            advantages: &advantages,
            returns: &returns,
        };
        let LossGrads {
            mut d_logits,
            mut d_values,
            mut metrics,
            ..
        } = loss_and_grads(&self.agent, &samples, objective, barrier.as_ref())?;
        metrics.insert(
            "grad_norm",
            clip_norm(&mut d_logits, settings.max_grad_norm),
        );
        clip_norm(&mut d_values, settings.max_grad_norm);
        // Adam here ascends; the losses are minimised.
        let neg = |g: &[f64]| g.iter().map(|x| -x).collect::<Vec<f64>>();
        self.actor_opt
            .ascend(&mut self.agent.logits, &neg(&d_logits));
        self.critic_opt
            .ascend(&mut self.agent.values, &neg(&d_values));
        Ok(metrics)
    }
}

/// One minibatch, one entry per sample.
pub struct Samples<'a> {
    pub obs: &'a [usize],
    pub actions: &'a [usize],
    /// The behaviour policy's log-probs (the rollout's).
    pub old_logp: &'a [f64],
    /// The advantage the policy climbs (already scalarised and normalised).
    pub advantages: &'a [f64],
    /// The critic's targets, `[objective][sample]`.
    pub returns: &'a [Vec<f64>],
}

/// The log barrier over the constrained objectives: batch-mean returns R̄_j, thresholds ε_j,
/// sharpness t and the ratio clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Barrier {
    pub means: Vec<f64>,
    pub thresholds: Vec<f64>,
    pub t: f64,
    pub clip: f64,
}

/// The minibatch's losses and their exact gradients with respect to the tables.
pub struct LossGrads {
    /// Clipped surrogate − entropy bonus + barrier.
    pub policy_loss: f64,
    /// `mean_samples Σ_j ½ (V_j(s) − R_j)²`.
    pub value_loss: f64,
    pub d_logits: Vec<f64>,
    pub d_values: Vec<f64>,
    pub metrics: BTreeMap<&'static str, f64>,
}

/// PPO's losses on a tabular softmax policy and vector critic, with closed-form gradients:
/// the shared objective's `d loss / d log π` per sample (plus the barrier's, by the chain rule
/// `d/d log π = ρ d/dρ`), then `d log π(a|s) / d θ_{s,b} = 1[b = a] − π(b|s)` and
/// `d H(s) / d θ_{s,b} = −π(b|s) (log π(b|s) + H(s))`.
pub fn loss_and_grads(
    agent: &TabularAgent,
    samples: &Samples,
    objective: &ObjectiveConfig,
    barrier: Option<&Barrier>,
) -> Result<LossGrads, TheoryError> {
    let (na, m) = (agent.n_actions, agent.n_objectives);
    let probs: Vec<Vec<f64>> = samples.obs.iter().map(|&s| agent.probs(s)).collect();
    let logp: Vec<f64> = samples
        .actions
        .iter()
        .zip(&probs)
        .map(|(&a, p)| p[a].ln())
        .collect();
    let entropy: Vec<f64> = probs
        .iter()
        .map(|p| {
            -p.iter()
                .filter(|&&q| q > 0.0)
                .map(|q| q * q.ln())
                .sum::<f64>()
        })
        .collect();
    let loss = policy_loss_rows(
        objective,
        &logp,
        samples.old_logp,
        samples.advantages,
        Some(&entropy),
    );
    let mut d_logp = loss.d_logp.clone();
    let mut metrics = loss.metrics.clone();
    let mut policy_loss = loss.loss;
    if let Some(b) = barrier {
        let ratios: Vec<f64> = logp
            .iter()
            .zip(samples.old_logp)
            .map(|(l, o)| (l - o).exp())
            .collect();
        let terms =
            log_barrier_terms(&ratios, &b.means, &b.thresholds, b.t, b.clip).map_err(|e| {
                TheoryError::Setting {
                    key: "settings.barrier".into(),
                    reason: e.to_string(),
                }
            })?;
        for ((d, &dr), &rho) in d_logp.iter_mut().zip(&terms.d_ratio).zip(&ratios) {
            *d += dr * rho;
        }
        policy_loss += terms.value;
        metrics.insert("barrier", terms.value);
    }
    let mut d_logits = vec![0.0; agent.logits.len()];
    for ((((&s, &a), p), &dl), &h) in samples
        .obs
        .iter()
        .zip(samples.actions)
        .zip(&probs)
        .zip(&d_logp)
        .zip(&entropy)
    {
        for (b, &q) in p.iter().enumerate() {
            let d_log = f64::from(u8::from(b == a)) - q;
            let d_ent = if q > 0.0 { -q * (q.ln() + h) } else { 0.0 };
            d_logits[s * na + b] += dl * d_log + loss.d_entropy * d_ent;
        }
    }
    let mut d_values = vec![0.0; agent.values.len()];
    let mut value_loss = 0.0;
    let n = samples.obs.len().max(1) as f64;
    for (k, &s) in samples.obs.iter().enumerate() {
        for j in 0..m {
            let err = agent.values[s * m + j] - samples.returns[j][k];
            value_loss += 0.5 * err * err / n;
            d_values[s * m + j] += err / n;
        }
    }
    metrics.insert("value_loss", value_loss);
    Ok(LossGrads {
        policy_loss,
        value_loss,
        d_logits,
        d_values,
        metrics,
    })
}

/// Scales `g` to at most `max_norm` (PPO's `max_grad_norm`); returns the norm before.
fn clip_norm(g: &mut [f64], max_norm: f64) -> f64 {
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > max_norm && norm > 0.0 {
        let f = max_norm / norm;
        g.iter_mut().for_each(|x| *x *= f);
    }
    norm
}

fn normalized(x: &[f64]) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    x.iter().map(|v| (v - mean) / (std + 1e-8)).collect()
}

/// Fisher–Yates from the run's stream.
fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
