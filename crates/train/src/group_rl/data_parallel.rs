//! Data-parallel group RL (`run.distributed = "auto"`, issue 18): the step's groups are split
//! across ranks for sampling, every rank then holds the whole batch, and each minibatch's rows
//! are split for the forward and backward, with one gradient all-reduce per optimizer step.
//!
//! Why `mpirun -n N` equals one process: every rank draws the same prompts (the data stream is
//! the step's), and a prompt's group is sampled under its own seeded stream
//! `(run.seed, "rl-sampling-group", step << 24 | round << 16 | group)`, whichever rank samples
//! it; the sampled rows are gathered (exact: bytes through a zero-padded sum) so scoring,
//! credit and selection see the global batch on every rank, bit for bit. The old and reference
//! log-probs are computed for a rank's rows and gathered likewise. A minibatch is the same
//! global permutation's chunk on every rank; a rank's loss over its rows uses the whole
//! minibatch's normalizers (as micro-batching does), so the summed gradients are the one-process
//! gradient up to f32 summation order. Rank 0 writes metrics and checkpoints (atomically, as
//! always); every rank reads the checkpoint on resume.
//!
//! `"auto"` at world size 1 samples group by group, so its numbers differ from `"off"`'s (one
//! batch under one stream). Refused across ranks (errors name the key): loops with a driver
//! (`method.rollout.kind`), R³ replay, HiPER's plan critic, a learned reward, an engine
//! (`rollout.source`), methods that read token entropies, and LoRA dropout.
use std::collections::BTreeMap;
use std::ops::Range;

use polopt_distributed::{gather_bytes, Collective};
use polopt_methods::plan::MethodRuntime;
use polopt_methods::RolloutKind;
use tch::{Device, Kind, Tensor};

use crate::config::RunConfig;
use crate::error::TrainError;
use crate::optim::AdamW;
use crate::tool_rollout::Sampled;
use crate::world::{collective_err, join_world_on, Distributed};

pub struct GroupWorld {
    pub comm: Box<dyn Collective>,
}

impl GroupWorld {
    /// The run's world, or `None` under `run.distributed = "off"` (today's one-process layout).
    pub fn join(config: &RunConfig, refused: Option<&str>) -> Result<Option<Self>, TrainError> {
        let on_gpu = config.run.device != "cpu" && tch::Cuda::is_available();
        let comm = join_world_on(config.run.distributed, on_gpu, |world| match refused {
            Some(why) => Err(TrainError::Config(format!(
                "{why} with {world} data-parallel ranks (run.distributed = \"auto\")"
            ))),
            None => Ok(()),
        })?;
        Ok((config.run.distributed == Distributed::Auto).then_some(Self { comm }))
    }

    pub fn is_root(&self) -> bool {
        self.comm.is_root()
    }

    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// This rank's contiguous share of `n` items; sizes differ by at most one.
    pub fn share(&self, n: usize) -> Range<usize> {
        let (r, w) = (self.comm.rank(), self.comm.world_size());
        r * n / w..(r + 1) * n / w
    }

    /// Samples this rank's share of `groups` groups with `sample_group(g)` (each under its own
    /// stream), then every rank's rows, in group order, on every rank.
    pub fn sample_groups(
        &self,
        groups: usize,
        mut sample_group: impl FnMut(usize) -> Result<Vec<Sampled>, TrainError>,
    ) -> Result<Vec<Sampled>, TrainError> {
        let mut mine = Vec::new();
        for g in self.share(groups) {
            mine.extend(sample_group(g)?);
        }
        if self.world_size() == 1 {
            return Ok(mine);
        }
        let bytes = serde_json::to_vec(&mine).map_err(|e| TrainError::Task(e.to_string()))?;
        let mut all = Vec::new();
        for part in gather_bytes(self.comm.as_ref(), &bytes).map_err(collective_err)? {
            let rows: Vec<Sampled> =
                serde_json::from_slice(&part).map_err(|e| TrainError::Task(e.to_string()))?;
            all.extend(rows);
        }
        Ok(all)
    }

    /// `[rows, W]` tensors of all ranks from `compute(my_rows)` over this rank's share of
    /// `rows` rows: each rank writes its rows into a zero buffer and the sum is exact.
    pub fn row_tensors(
        &self,
        rows: usize,
        device: Device,
        compute: impl FnOnce(&Tensor) -> Vec<Tensor>,
    ) -> Result<Vec<Tensor>, TrainError> {
        let mine = self.share(rows);
        let index = Tensor::from_slice(&(mine.start as i64..mine.end as i64).collect::<Vec<_>>())
            .to_device(device);
        let local = compute(&index);
        if self.world_size() == 1 {
            return Ok(local);
        }
        let mut out = Vec::with_capacity(local.len());
        for t in local {
            let width = t.size().get(1).copied().unwrap_or(1);
            let kind = t.kind();
            let mut flat = vec![0f32; rows * width as usize];
            let values =
                Vec::<f32>::try_from(t.to_kind(Kind::Float).to_device(Device::Cpu).view(-1))
                    .map_err(|e| TrainError::Task(e.to_string()))?;
            flat[mine.start * width as usize..][..values.len()].copy_from_slice(&values);
            self.comm
                .all_reduce_sum_f32(&mut flat)
                .map_err(collective_err)?;
            out.push(
                Tensor::from_slice(&flat)
                    .view([rows as i64, width])
                    .to_kind(kind)
                    .to_device(device),
            );
        }
        Ok(out)
    }

    /// Sums every rank's trainable gradients (and the loss value) in one f32 all-reduce.
    pub fn all_reduce_grads(&self, opt: &mut AdamW, loss: &mut f64) -> Result<(), TrainError> {
        if self.world_size() == 1 {
            return Ok(());
        }
        if let Some(done) = opt.all_reduce_grads_on_device(self.comm.as_ref()) {
            done.map_err(collective_err)?;
            let mut value = [*loss];
            self.comm
                .all_reduce_sum_f64(&mut value)
                .map_err(collective_err)?;
            *loss = value[0];
            return Ok(());
        }
        let mut flat = opt.flat_grads();
        flat.push(*loss as f32);
        self.comm
            .all_reduce_sum_f32(&mut flat)
            .map_err(collective_err)?;
        *loss = f64::from(flat.pop().unwrap_or(f32::NAN));
        opt.set_flat_grads(&flat);
        Ok(())
    }

    /// Rank 0's trainable parameters on every rank (the warm start is computed on each rank
    /// from the same seed; this makes the start identical whatever each rank's arithmetic).
    pub fn broadcast_parameters(&self, opt: &AdamW) -> Result<(), TrainError> {
        if self.world_size() == 1 {
            return Ok(());
        }
        let mut flat = opt.flat_parameters();
        self.comm
            .broadcast_f32(&mut flat, 0)
            .map_err(collective_err)?;
        opt.set_flat_parameters(&flat);
        Ok(())
    }

    /// Per-key sums over the ranks of `local` (keys may differ: a rank without rows in a
    /// minibatch reports none).
    pub fn sum_metrics(
        &self,
        local: &BTreeMap<String, f64>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        if self.world_size() == 1 {
            return Ok(local.clone());
        }
        let bytes = serde_json::to_vec(local).map_err(|e| TrainError::Task(e.to_string()))?;
        let mut out = BTreeMap::new();
        for part in gather_bytes(self.comm.as_ref(), &bytes).map_err(collective_err)? {
            let part: BTreeMap<String, f64> =
                serde_json::from_slice(&part).map_err(|e| TrainError::Task(e.to_string()))?;
            for (k, v) in part {
                *out.entry(k).or_default() += v;
            }
        }
        Ok(out)
    }

    pub fn barrier(&self) -> Result<(), TrainError> {
        self.comm.barrier().map_err(collective_err)
    }
}

/// What a multi-rank group-RL run cannot split yet, as the message that names the key.
pub fn refused(config: &RunConfig) -> Result<Option<String>, TrainError> {
    if config.run.distributed == Distributed::Off {
        return Ok(None);
    }
    let m = &config.method;
    let parts = MethodRuntime::new(&m.parts())?;
    let why = if m.rollout.kind != RolloutKind::Group {
        "config key `method.rollout.kind`: only the \"group\" rollout is split across ranks"
    } else if parts.needs().replay {
        "config key `method.select.replay`: R³'s per-query buffer is not split across ranks"
    } else if parts.needs_plan() {
        "config key `method.credit`: HiPER's plan critic is not trained across ranks"
    } else if m.learned_reward.enabled {
        "config key `method.learned_reward`: the learned reward is not trained across ranks"
    } else if config.rollout.source != "local" {
        "config key `rollout.source`: an engine samples for one process; use \"local\""
    } else if parts.needs_token_entropies() || parts.sampling_entropy_stats().is_some() {
        "config key `method.preset`: the method reads every token's entropy, which the ranks \
         do not gather"
    } else if config.rl.agent_context == crate::config::AgentContext::Workspace {
        "config key `rl.agent_context`: workspace rounds (one row per turn, EAPO's adaptive \
         downsampling) are not split across ranks yet; use \"history\""
    } else if config.model.lora.as_ref().is_some_and(|l| l.dropout > 0.0) {
        "config key `model.lora.dropout`: dropout draws from each process's own generator; \
         set it to 0"
    } else {
        return Ok(None);
    };
    Ok(Some(why.to_string()))
}
