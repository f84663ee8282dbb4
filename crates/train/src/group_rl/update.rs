//! Credit, then K epochs of shuffled minibatch updates on a step's kept sequences.

use super::*;
use crate::group_rl::data_parallel::GroupWorld;
use crate::method_hooks::OldPass;
use crate::minibatch::{MinibatchUpdate, NonFiniteGuard};
use crate::rollout_source::mismatch::LogpMismatch;
use crate::turn_entropy::TurnEntropy;
use polopt_methods::objective::column;

impl Loop<'_> {
    /// Workspace reconstruction (`rl.agent_context = "workspace"`): credit on the episodes,
    /// then [`Self::update`] on one row per turn ([`crate::round_rows`]).
    pub(super) fn update_rounds(
        &mut self,
        step: usize,
        episodes: &[Sequence],
        planned: Option<UpdatePlan>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        crate::round_rows::check_method(
            self.method.needs_old_entropy(),
            self.method.extra_old_temperature().is_some(),
        )?;
        let plan = match planned {
            Some(plan) => plan,
            None => {
                let rows = CreditRows::of(episodes);
                let infos = response_infos(episodes);
                let ctx = StepContext {
                    progress: step as f64 / self.config.rl.steps.max(1) as f64,
                    responses: Some(&infos),
                    truncated: Some(&rows.truncated),
                    replayed: Some(&rows.replayed),
                    ..Default::default()
                };
                self.method.plan(&rows.batch(), &ctx)?
            }
        };
        let (rounds, plan) = crate::round_rows::round_rows(episodes, plan)?;
        // An optimizer step takes the rounds of `rl.minibatch_size` episodes, so that a step
        // makes as many updates on the same actions as it would on whole episodes.
        let per_episode = rounds.len() as f64 / episodes.len().max(1) as f64;
        let minibatch_rows = (self.config.rl.minibatch_size as f64 * per_episode).ceil() as usize;
        let mut row = self.update_with(step, &rounds, Some(plan), minibatch_rows)?;
        row.insert("agent/round_rows".into(), rounds.len() as f64);
        Ok(row)
    }

    /// Credit (unless the rollout planned it), then K epochs of shuffled minibatch updates.
    pub(super) fn update(
        &mut self,
        step: usize,
        seqs: &[Sequence],
        planned: Option<UpdatePlan>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        self.update_with(step, seqs, planned, self.config.rl.minibatch_size)
    }

    /// [`Self::update`] with `minibatch_rows` rows per optimizer step.
    fn update_with(
        &mut self,
        step: usize,
        seqs: &[Sequence],
        planned: Option<UpdatePlan>,
        minibatch_rows: usize,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let cfg = self.config;
        let rows = CreditRows::of(seqs);
        let CreditRows {
            lens,
            truncated,
            replayed,
            episodes,
            ..
        } = &rows;
        let batch = rows.batch();
        let prompts: Vec<&[i64]> = seqs.iter().map(|s| s.prompt.as_slice()).collect();
        let responses: Vec<&[i64]> = seqs.iter().map(|s| s.response.as_slice()).collect();
        let device = self.policy.device();
        let mut packed = pack(&prompts, &responses, self.tok.pad_id(), device);
        let env: Vec<&[bool]> = seqs.iter().map(|s| s.env.as_slice()).collect();
        mask_env_tokens(&mut packed, &env);
        let (env_in_loss, env_tokens) = env_tokens_in_loss(&packed, &env);
        let infos = response_infos(seqs);
        if cfg.method.select.overlong_filter {
            let keep: Vec<f64> = seqs
                .iter()
                .map(|s| if s.truncated { 0.0 } else { 1.0 })
                .collect();
            packed.response_mask = &packed.response_mask * column(&keep, device);
        }
        let width = packed.width;
        let temperature = cfg.rl.temperature;
        // Old (behaviour) log-probs recomputed with the training forward, so the first ratio
        // is exactly 1 (verl's recompute); the reference likewise. When the whole step is one
        // optimizer step, no update happens before the loss, so the old log-probs are the
        // current ones detached: the minibatch forward gives them for free (TRL does the same).
        let single_update = cfg.rl.epochs == 1 && minibatch_rows >= seqs.len();
        let extra_temperature = self.method.extra_old_temperature();
        // Rows an engine sampled (`[rollout]`) carry its log-probs: they are the behaviour
        // policy of the ratio, and the trainer's own pass only measures the mismatch.
        let behaviour: Option<Vec<&[f32]>> =
            seqs.iter().map(|s| s.behaviour_logp.as_deref()).collect();
        let recompute = behaviour.is_some()
            || !single_update
            || self.method.needs_old_entropy()
            || extra_temperature.is_some();
        let old_pass = |packed: &crate::packing::Packed| {
            old_policy_pass(
                &self.policy,
                packed,
                temperature,
                self.method.needs_old_entropy(),
                extra_temperature,
            )
        };
        let old = match (recompute, &self.world) {
            (false, _) => None,
            (true, None) => Some(old_pass(&packed)),
            (true, Some(world)) => Some(gathered_old_pass(world, &packed, old_pass)?),
        };
        let old_entropy = old
            .as_ref()
            .and_then(|o| o.entropy.as_ref())
            .map(|e| token_rows(e, lens));
        let tempered_rows = old.as_ref().and_then(|o| {
            let (t, tempered) = o.tempered.as_ref()?;
            Some((*t, token_rows(tempered, lens), token_rows(&o.logp, lens)))
        });
        let old_logp = old.map_or_else(Tensor::new, |o| o.logp);
        let (old_logp, mismatch) = match &behaviour {
            Some(rows) => {
                let mismatch = LogpMismatch::of(rows, &token_rows(&old_logp, lens));
                (behaviour_tensor(rows, width, device), Some(mismatch))
            }
            None => (old_logp, None),
        };
        let step_ctx = StepContext {
            progress: step as f64 / cfg.rl.steps.max(1) as f64,
            old_entropy: old_entropy.as_deref(),
            responses: Some(&infos),
            truncated: Some(truncated),
            replayed: Some(replayed),
            tempered_old_logp: tempered_rows
                .as_ref()
                .map(|(t, tempered, base)| TemperedOldLogp {
                    temperature: *t,
                    tempered,
                    base,
                }),
        };
        let plan = match planned {
            Some(plan) => plan,
            None => self.method.plan(&batch, &step_ctx)?,
        };
        let credit = &plan.advantages;
        let planned = PlannedLoss::new(&plan, lens, width, device);
        let ref_pass =
            |packed: &crate::packing::Packed| match (&self.reference, self.reference_is_base) {
                (_, true) => Some(self.policy.base_logprobs(packed, temperature)),
                (Some(r), false) => Some(tch::no_grad(|| r.logprobs(packed, temperature, false).0)),
                (None, false) => None,
            };
        let ref_logp = match &self.world {
            None => ref_pass(&packed),
            Some(world) if self.reference.is_some() || self.reference_is_base => {
                let rows = seqs.len();
                let mut all = world.row_tensors(rows, device, |index| {
                    ref_pass(&packed.select(index)).into_iter().collect()
                })?;
                all.pop()
            }
            Some(_) => None,
        };
        let update = MinibatchUpdate {
            config: cfg,
            policy: &self.policy,
            objective: &self.objective,
            packed: &packed,
            loss: &planned,
            old_logp: recompute.then_some(&old_logp),
            ref_logp: ref_logp.as_ref(),
            stream_tag: "rl-minibatch",
            world: self.world,
            minibatch_rows,
        };
        let mut guard = NonFiniteGuard {
            events: &mut self.nan_events,
            on_nan: cfg.run.on_nan,
            hint: "lower rl.lr or check the reward",
        };
        let mut tally = EntropyTally::new(self.method.needs_token_entropies());
        if episodes.is_some() {
            tally = tally.with_turns(TurnEntropy::of(&env, width, device));
        }
        let mut row = update.run(&mut self.opt, &mut guard, Some(&mut tally), step)?;
        if let Some(world) = self.world {
            tally.reduce(|sums| {
                world
                    .comm
                    .all_reduce_sum_f64(sums)
                    .map_err(crate::world::collective_err)
            })?;
        }
        row.extend(tally.turn_metrics());
        if let Some(feedback) = tally.finish() {
            self.method.observe_step(&feedback);
        }
        let n = seqs.len();
        let adv_abs: f64 =
            credit.per_sequence().iter().map(|a| a.abs()).sum::<f64>() / n.max(1) as f64;
        row.insert("advantage_abs_mean".into(), adv_abs);
        if let Some(mismatch) = mismatch {
            row.extend(mismatch.metrics());
        }
        row.extend(plan.metrics.iter().map(|(k, v)| (k.to_string(), *v)));
        if env_tokens > 0 {
            // Tool output in the trained batch, and the loss weight it got (0 by construction).
            row.insert("tool/env_tokens_trained".into(), env_tokens as f64);
            row.insert("tool/env_tokens_in_loss".into(), env_in_loss);
        }
        Ok(row)
    }
}

/// What credit reads of each row, owned ([`CreditBatch`] borrows it).
struct CreditRows {
    rewards: Vec<f64>,
    groups: Vec<usize>,
    lens: Vec<usize>,
    truncated: Vec<bool>,
    replayed: Vec<bool>,
    /// Multi-turn rows hand their turns to credit; a batch is all episodes or none.
    episodes: Option<Vec<polopt_methods::credit::turns::Episode>>,
}

impl CreditRows {
    fn of(seqs: &[Sequence]) -> Self {
        Self {
            rewards: seqs.iter().map(|s| s.reward).collect(),
            groups: seqs.iter().map(|s| s.group).collect(),
            lens: seqs.iter().map(|s| s.response.len()).collect(),
            truncated: seqs.iter().map(|s| s.truncated).collect(),
            replayed: seqs.iter().map(|s| s.replayed).collect(),
            episodes: seqs.iter().map(|s| s.episode.clone()).collect(),
        }
    }

    fn batch(&self) -> CreditBatch<'_> {
        CreditBatch {
            rewards: &self.rewards,
            group_ids: &self.groups,
            response_lens: &self.lens,
            token_kl: None,
            trajectories: None,
            episodes: self.episodes.as_deref(),
        }
    }
}

fn response_infos(seqs: &[Sequence]) -> Vec<ResponseInfo> {
    seqs.iter()
        .map(|s| ResponseInfo {
            correct: s.correct,
            first_tool_call: s.first_tool_call,
        })
        .collect()
}

/// `[B, width]` f32 behaviour log-probs, row `i`'s tokens first and 0 after (masked out).
fn behaviour_tensor(rows: &[&[f32]], width: usize, device: Device) -> Tensor {
    let mut flat = vec![0f32; rows.len() * width];
    for (i, row) in rows.iter().enumerate() {
        let n = row.len().min(width);
        flat[i * width..i * width + n].copy_from_slice(&row[..n]);
    }
    Tensor::from_slice(&flat)
        .view([rows.len() as i64, width as i64])
        .to_device(device)
}

/// The old-policy pass over this rank's rows, gathered into the whole batch's on every rank.
fn gathered_old_pass(
    world: &GroupWorld,
    packed: &crate::packing::Packed,
    pass: impl Fn(&crate::packing::Packed) -> OldPass,
) -> Result<OldPass, TrainError> {
    let rows = packed.tokens.size()[0] as usize;
    let mut shape = None;
    let mut all = world
        .row_tensors(rows, packed.tokens.device(), |index| {
            let local = pass(&packed.select(index));
            shape = Some((
                local.entropy.is_some(),
                local.tempered.as_ref().map(|t| t.0),
            ));
            let mut out = vec![local.logp];
            out.extend(local.entropy);
            out.extend(local.tempered.map(|t| t.1));
            out
        })?
        .into_iter();
    let (has_entropy, tempered) = shape.unwrap_or((false, None));
    let logp = all.next().unwrap_or_else(Tensor::new);
    let entropy = if has_entropy { all.next() } else { None };
    let tempered = tempered.and_then(|t| all.next().map(|x| (t, x)));
    Ok(OldPass {
        logp,
        entropy,
        tempered,
    })
}
