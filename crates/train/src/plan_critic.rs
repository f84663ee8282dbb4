//! HiPER's critic (hiper-hae.md): one value trunk with three heads, read on plan-execute
//! episodes (`task.*.plan_execute = true`) and trained on HAE's targets, so that the `hiper`
//! estimator has `V_high`, `V_low` and `V_term` for every turn.
//!
//! Where each head is read, in the row's state columns (column `c` is the state before
//! response token `c`, `Critic::state_head_values`): `V_high(s_t)` and `V_term(t)` at the turn's
//! first token (the state right after the environment's reply), `V_low(s_t, g_t)` at the first
//! token of the action (the state after the decision and the subgoal). The group loop calls
//! [`PlanCritic::annotate`] before credit and [`PlanCritic::train`] after the policy update;
//! weights and moments go into every checkpoint.
use std::collections::BTreeMap;
use std::path::Path;

use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{hiper_value_targets, HiperConfig};
use tch::{Device, Kind, Tensor};

use crate::codec::Codec;
use crate::config::RunConfig;
use crate::critic::Critic;
use crate::error::TrainError;
use crate::minibatch::NonFiniteGuard;
use crate::optim::StepOutcome;
use crate::packing::{pack, Sequence};
use crate::run_dir::write_atomic;

const HIGH: usize = 0;
const LOW: usize = 1;
const TERM: usize = 2;
const HEADS: usize = 3;
const STATE_FILE: &str = "plan_critic.json";

pub struct PlanCritic {
    critic: Critic,
    hiper: HiperConfig,
    updates: usize,
    pad: i64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedState {
    optimizer_step: i64,
}

impl PlanCritic {
    pub fn for_run(config: &RunConfig, tok: &Codec, device: Device) -> Result<Self, TrainError> {
        let hiper = config
            .method
            .credit
            .settings::<HiperConfig>("hiper")
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Self {
            critic: Critic::for_run_with_heads(config, tok, HEADS as i64, device)?,
            hiper,
            updates: config.method.rollout.critic_updates.max(1),
            pad: tok.pad_id(),
        })
    }

    /// `[B][R + 1][HEADS]` state values of the sequences, on the host.
    fn state_values(&self, seqs: &[Sequence]) -> Result<(Vec<Vec<f32>>, usize), TrainError> {
        let prompts: Vec<&[i64]> = seqs.iter().map(|s| s.prompt.as_slice()).collect();
        let responses: Vec<&[i64]> = seqs.iter().map(|s| s.response.as_slice()).collect();
        let packed = pack(&prompts, &responses, self.pad, self.critic.vs.device());
        let values = tch::no_grad(|| self.critic.state_head_values(&packed));
        let columns = values.size()[1] as usize;
        let rows = values
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([seqs.len() as i64, -1]);
        let rows: Vec<Vec<f32>> = Vec::<Vec<f32>>::try_from(rows)
            .map_err(|e| TrainError::Model(format!("plan critic values: {e}")))?;
        Ok((rows, columns))
    }

    /// Writes the critic's values into every plan-execute episode of `seqs`.
    pub fn annotate(&self, seqs: &mut [Sequence]) -> Result<(), TrainError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let (rows, columns) = self.state_values(seqs)?;
        for (seq, row) in seqs.iter_mut().zip(&rows) {
            let Some(episode) = seq.episode.as_mut() else {
                continue;
            };
            let at =
                |column: usize, head: usize| f64::from(row[column.min(columns - 1) * HEADS + head]);
            let spans = episode.spans.clone();
            let Some(plan) = episode.plan.as_mut() else {
                continue;
            };
            for (t, &(action_start, _)) in spans.iter().enumerate() {
                let turn_start = plan.switch_spans[t].0;
                plan.v_high[t] = at(turn_start, HIGH);
                plan.v_low[t] = at(action_start, LOW);
                if let Some(v_term) = plan.v_term.as_mut() {
                    v_term[t] = at(turn_start, TERM);
                }
            }
        }
        Ok(())
    }

    /// `critic_updates` steps of masked MSE against HAE's targets: `V_low` per turn at the
    /// action, `V_high` per segment at its boundary turn, `V_term` per turn at the turn. A
    /// non-finite loss or gradient applies nothing and goes to the run's `guard` (`run.on_nan`).
    pub fn train(
        &mut self,
        seqs: &[Sequence],
        guard: &mut NonFiniteGuard,
        step: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let episodes: Vec<Episode> = seqs.iter().filter_map(|s| s.episode.clone()).collect();
        let mut row = BTreeMap::new();
        if episodes.is_empty() || episodes.len() != seqs.len() {
            return Ok(row);
        }
        let targets = hiper_value_targets(&episodes, &self.hiper)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        let prompts: Vec<&[i64]> = seqs.iter().map(|s| s.prompt.as_slice()).collect();
        let responses: Vec<&[i64]> = seqs.iter().map(|s| s.response.as_slice()).collect();
        let device = self.critic.vs.device();
        let packed = pack(&prompts, &responses, self.pad, device);
        let columns = packed.width + 1;
        let mut goal = vec![0f32; seqs.len() * columns * HEADS];
        let mut mask = vec![0f32; goal.len()];
        let mut set = |i: usize, column: usize, head: usize, value: f64| {
            let k = (i * columns + column.min(columns - 1)) * HEADS + head;
            goal[k] = value as f32;
            mask[k] = 1.0;
        };
        for (i, (episode, target)) in episodes.iter().zip(&targets).enumerate() {
            let Some(plan) = &episode.plan else { continue };
            let boundaries = (0..episode.turns()).filter(|&t| t == 0 || plan.switch[t]);
            for (t, &(action_start, _)) in episode.spans.iter().enumerate() {
                set(i, action_start, LOW, target.v_low[t]);
                set(i, plan.switch_spans[t].0, TERM, target.v_term[t]);
            }
            for (b, &value) in boundaries.zip(&target.v_high) {
                set(i, plan.switch_spans[b].0, HIGH, value);
            }
        }
        let shape = [seqs.len() as i64, columns as i64, HEADS as i64];
        let goal = Tensor::from_slice(&goal).view(shape).to_device(device);
        let mask = Tensor::from_slice(&mask).view(shape).to_device(device);
        let count = mask.sum(Kind::Float).clamp_min(1.0);
        let mut losses = Vec::new();
        for _ in 0..self.updates {
            let v = self.critic.state_head_values(&packed);
            let loss = ((v - &goal).square() * &mask).sum(Kind::Float) / &count;
            match self.critic.step_on(&loss) {
                StepOutcome::Applied { loss, .. } => losses.push(loss),
                StepOutcome::NonFinite { what } => {
                    guard.report(&format!("plan critic {what}"), step)?
                }
            }
        }
        if let Some(last) = losses.last() {
            row.insert("plan_critic/loss".into(), *last);
        }
        row.insert(
            "plan_critic/skipped_steps".into(),
            (self.updates - losses.len()) as f64,
        );
        Ok(row)
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.critic.save(dir)?;
        let state = SavedState {
            optimizer_step: self.critic.opt.step,
        };
        let text = serde_json::to_string(&state)
            .map_err(|e| TrainError::Config(format!("plan critic state: {e}")))?;
        write_atomic(&dir.join(STATE_FILE), text.as_bytes())
    }

    pub fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        let state: SavedState =
            serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        self.critic.load(dir, state.optimizer_step)
    }
}
