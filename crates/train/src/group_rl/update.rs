//! Credit, then K epochs of shuffled minibatch updates on a step's kept sequences.

use super::*;
use crate::optim::StepOutcome;
use crate::seeds::shuffle;

impl Loop<'_> {
    /// Credit (unless the rollout planned it), then K epochs of shuffled minibatch updates.
    pub(super) fn update(
        &mut self,
        step: usize,
        seqs: &[Sequence],
        planned: Option<UpdatePlan>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let cfg = self.config;
        let rewards: Vec<f64> = seqs.iter().map(|s| s.reward).collect();
        let groups: Vec<usize> = seqs.iter().map(|s| s.group).collect();
        let lens: Vec<usize> = seqs.iter().map(|s| s.response.len()).collect();
        let truncated: Vec<bool> = seqs.iter().map(|s| s.truncated).collect();
        let replayed: Vec<bool> = seqs.iter().map(|s| s.replayed).collect();
        let batch = CreditBatch {
            rewards: &rewards,
            group_ids: &groups,
            response_lens: &lens,
            token_kl: None,
            trajectories: None,
        };
        let prompts: Vec<&[i64]> = seqs.iter().map(|s| s.prompt.as_slice()).collect();
        let responses: Vec<&[i64]> = seqs.iter().map(|s| s.response.as_slice()).collect();
        let device = self.policy.device();
        let mut packed = pack(&prompts, &responses, self.tok.pad_id(), device);
        let env: Vec<&[bool]> = seqs.iter().map(|s| s.env.as_slice()).collect();
        mask_env_tokens(&mut packed, &env);
        let (env_in_loss, env_tokens) = env_tokens_in_loss(&packed, &env);
        let infos: Vec<ResponseInfo> = seqs
            .iter()
            .map(|s| ResponseInfo {
                correct: s.correct,
                first_tool_call: s.first_tool_call,
            })
            .collect();
        if cfg.method.select.overlong_filter {
            let keep: Vec<f32> = seqs
                .iter()
                .map(|s| if s.truncated { 0.0 } else { 1.0 })
                .collect();
            packed.response_mask =
                &packed.response_mask * Tensor::from_slice(&keep).view([-1, 1]).to_device(device);
        }
        let width = packed.width;
        let temperature = cfg.rl.temperature;
        // Old (behaviour) log-probs recomputed with the training forward, so the first ratio
        // is exactly 1 (verl's recompute); the reference likewise. When the whole step is one
        // optimizer step, no update happens before the loss, so the old log-probs are the
        // current ones detached: the minibatch forward gives them for free (TRL does the same).
        let single_update = cfg.rl.epochs == 1 && cfg.rl.minibatch_size >= seqs.len();
        let extra_temperature = self.method.extra_old_temperature();
        let recompute =
            !single_update || self.method.needs_old_entropy() || extra_temperature.is_some();
        let old = recompute.then(|| {
            old_policy_pass(
                &self.policy,
                &packed,
                temperature,
                self.method.needs_old_entropy(),
                extra_temperature,
            )
        });
        let old_entropy = old
            .as_ref()
            .and_then(|o| o.entropy.as_ref())
            .map(|e| token_rows(e, &lens));
        let tempered_rows = old.as_ref().and_then(|o| {
            let (t, tempered) = o.tempered.as_ref()?;
            Some((*t, token_rows(tempered, &lens), token_rows(&o.logp, &lens)))
        });
        let old_logp = old.map_or_else(Tensor::new, |o| o.logp);
        let step_ctx = StepContext {
            progress: step as f64 / cfg.rl.steps.max(1) as f64,
            old_entropy: old_entropy.as_deref(),
            responses: Some(&infos),
            truncated: Some(&truncated),
            replayed: Some(&replayed),
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
        let planned = PlannedLoss::new(&plan, &lens, width, device);
        let advantages = &planned.advantages;
        let ref_logp = self
            .reference
            .as_ref()
            .map(|r| tch::no_grad(|| r.logprobs(&packed, temperature, false).0));
        let max_len = cfg
            .method
            .objective
            .max_len_normalizer
            .unwrap_or(cfg.rl.max_new_tokens as f64);

        let mut sums: BTreeMap<&'static str, f64> = BTreeMap::new();
        let mut updates = 0usize;
        let mut skipped = 0usize;
        let mut grad_norm_sum = 0.0;
        let mut tally = EntropyTally::new(self.method.needs_token_entropies());
        let n = seqs.len();
        for epoch in 0..cfg.rl.epochs {
            let mut order: Vec<i64> = (0..n as i64).collect();
            shuffle(
                &mut order,
                &mut stream(
                    cfg.run.seed,
                    "rl-minibatch",
                    (step as u64) << 8 | epoch as u64,
                ),
            );
            for chunk in order.chunks(cfg.rl.minibatch_size) {
                let index = Tensor::from_slice(chunk).to_device(device);
                let mb: Packed = packed.select(&index);
                let (logp, entropy) = self.policy.logprobs(&mb, temperature, true);
                let old = if recompute {
                    old_logp.index_select(0, &index)
                } else {
                    logp.detach()
                };
                let reference = ref_logp.as_ref().map(|r| r.index_select(0, &index));
                let adv = advantages.index_select(0, &index);
                let terms = PolicyTerms {
                    logp: &logp,
                    old_logp: &old,
                    ref_logp: reference.as_ref(),
                    advantages: &adv,
                    mask: &mb.response_mask,
                    entropy: entropy.as_ref(),
                };
                let out = planned.loss(&self.objective, &terms, &index, max_len);
                let (loss_value, norm) = match self.opt.guarded_step(&out.loss, cfg.rl.grad_clip) {
                    StepOutcome::Applied { loss, grad_norm } => (loss, grad_norm),
                    StepOutcome::NonFinite { what } => {
                        self.non_finite(what, step)?;
                        skipped += 1;
                        continue;
                    }
                };
                tally.add(&logp, entropy.as_ref(), &mb.response_mask, epoch == 0);
                updates += 1;
                grad_norm_sum += norm;
                for (k, v) in out.metrics {
                    *sums.entry(k).or_default() += v;
                }
                *sums.entry("loss").or_default() += loss_value;
            }
        }
        if let Some(feedback) = tally.finish() {
            self.method.observe_step(&feedback);
        }
        let mut row: BTreeMap<String, f64> = sums
            .into_iter()
            .map(|(k, v)| (k.to_string(), v / updates.max(1) as f64))
            .collect();
        row.insert("grad_norm".into(), grad_norm_sum / updates.max(1) as f64);
        row.insert("updates".into(), updates as f64);
        row.insert("skipped_updates".into(), skipped as f64);
        let adv_abs: f64 =
            credit.per_sequence().iter().map(|a| a.abs()).sum::<f64>() / n.max(1) as f64;
        row.insert("advantage_abs_mean".into(), adv_abs);
        row.extend(plan.metrics.iter().map(|(k, v)| (k.to_string(), *v)));
        if env_tokens > 0 {
            // Tool output in the trained batch, and the loss weight it got (0 by construction).
            row.insert("tool/env_tokens_trained".into(), env_tokens as f64);
            row.insert("tool/env_tokens_in_loss".into(), env_in_loss);
        }
        Ok(row)
    }

    pub(super) fn non_finite(&mut self, what: &str, step: usize) -> Result<(), TrainError> {
        self.nan_events += 1;
        match self.config.run.on_nan {
            OnNan::Skip => {
                tracing::warn!(
                    step,
                    what,
                    "non-finite value: update skipped (run.on_nan = \"skip\")"
                );
                Ok(())
            }
            OnNan::Stop => Err(TrainError::NonFinite {
                what: what.to_string(),
                step,
                hint: "lower rl.lr or check the reward",
            }),
        }
    }
}
