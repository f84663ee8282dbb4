//! Data-parallel control training (`run.distributed = "auto"`, issue 18): every rank steps a
//! contiguous share of the `env.num_envs` environments and computes the gradient of its rows of
//! each minibatch; one all-reduce per optimizer step sums the shares, so every rank takes the
//! same Adam step and the parameters stay equal without being sent again.
//!
//! Why the sum equals the one-process gradient: the minibatch order is one permutation of the
//! global rows (`t * num_envs + i`, from the same seeded stream on every rank); a rank keeps the
//! rows of its environments, computes its loss as the mean over its `b_r` rows and scales the
//! gradient by `b_r / b` (`b` the global minibatch size). Summed over ranks that is the mean over
//! all `b` rows, the one-process loss. What the one-process loop computes over a whole minibatch
//! or rollout (advantage normalisation, BPO's median, explained variance) is computed on the
//! gathered global vectors, in the same order, so it is bit-identical; only the gradient sums
//! are added in another order (f32 rounding: runs agree to a tolerance, not bit for bit).
//!
//! Sampling: each environment draws its actions from its own stream
//! `(run.seed, "control-rollout-env", update << 20 | global index)`, so a rank draws for its
//! environments exactly what one process draws for them. `run.distributed = "off"` keeps the one
//! shared stream of earlier runs; its results differ from `"auto"`'s at world size 1.
//!
//! Checkpoints: rank 0 writes them (atomically, as always) with the environments' state gathered
//! from all ranks, so a checkpoint is the same file at any world size and can resume on another.
//! Observation and reward normalisation see every environment each step: with them on, each
//! step's observations, rewards and ends are gathered (one small all-reduce per environment
//! step) and every rank updates the same global statistics. Not supported across ranks:
//! REINFORCE (one environment) and the torch backend; the run refuses them with world size > 1.
use std::ops::Range;

use polopt_distributed::{gather_bytes, Collective};
use rand_chacha::ChaCha8Rng;

use super::config::{AlgoKind, Backend, ControlConfig, Distributed};
use super::envs::EnvsState;
use crate::error::TrainError;
use crate::seeds::stream;
use crate::world::join_world;
pub use crate::world::{collective_err, comm_seconds};

/// Which environments a rank holds, out of `global`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub envs: Range<usize>,
    pub global: usize,
}

impl Shard {
    /// Rank `rank`'s contiguous share of `global` environments; sizes differ by at most one.
    pub fn of(rank: usize, world: usize, global: usize) -> Self {
        let start = rank * global / world;
        let end = (rank + 1) * global / world;
        Self {
            envs: start..end,
            global,
        }
    }

    pub fn whole(global: usize) -> Self {
        Self::of(0, 1, global)
    }

    pub fn len(&self) -> usize {
        self.envs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// The local row of global row `g` (time-major `t * global + i`), if env `i` is ours.
    pub fn local_row(&self, g: usize) -> Option<usize> {
        let (t, i) = (g / self.global, g % self.global);
        self.envs
            .contains(&i)
            .then(|| t * self.len() + (i - self.envs.start))
    }

    /// The global time-major vector of per-row values, `local` holding this rank's rows
    /// (`[steps * len]`, time-major). Each rank writes its rows and zeros elsewhere; the
    /// all-reduce sum is then exact.
    pub fn gather_rows(&self, c: &dyn Collective, local: &[f64]) -> Result<Vec<f64>, TrainError> {
        let steps = local.len() / self.len().max(1);
        let mut all = vec![0.0; steps * self.global];
        for (k, &v) in local.iter().enumerate() {
            let (t, j) = (k / self.len(), k % self.len());
            all[t * self.global + self.envs.start + j] = v;
        }
        c.all_reduce_sum_f64(&mut all).map_err(collective_err)?;
        Ok(all)
    }
}

/// The run's world: the collective, this rank's share, and how actions are sampled.
pub struct World {
    pub comm: Box<dyn Collective>,
    pub shard: Shard,
    /// One sampling stream per environment (`run.distributed = "auto"`).
    pub per_env_streams: bool,
}

impl World {
    /// Joins the launcher's world (`"auto"`) or checks that no launcher started several
    /// processes (`"off"`, which would have them all write the same run directory).
    pub fn join(cfg: &ControlConfig) -> Result<Self, TrainError> {
        let n = cfg.env.num_envs;
        let comm = join_world(cfg.run.distributed, |world| check_supported(cfg, world))?;
        let per_env_streams = cfg.run.distributed == Distributed::Auto;
        let shard = match per_env_streams {
            true => Shard::of(comm.rank(), comm.world_size(), n),
            false => Shard::whole(n),
        };
        Ok(Self {
            comm,
            shard,
            per_env_streams,
        })
    }

    pub fn is_root(&self) -> bool {
        self.comm.is_root()
    }

    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }

    /// This update's sampling streams for this rank's environments.
    pub fn rollout_streams(&self, seed: u64, update: usize) -> Vec<ChaCha8Rng> {
        if !self.per_env_streams {
            return vec![stream(seed, "control-rollout", update as u64)];
        }
        self.shard
            .envs
            .clone()
            .map(|i| {
                stream(
                    seed,
                    "control-rollout-env",
                    (update as u64) << 20 | i as u64,
                )
            })
            .collect()
    }

    /// Rank 0's values in `bufs` on every rank, in one broadcast.
    pub fn broadcast_params(&self, bufs: &mut [&mut Vec<f32>]) -> Result<(), TrainError> {
        if self.world_size() == 1 {
            return Ok(());
        }
        let mut flat: Vec<f32> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        self.comm
            .broadcast_f32(&mut flat, 0)
            .map_err(collective_err)?;
        let mut at = 0;
        for b in bufs.iter_mut() {
            let n = b.len();
            b.copy_from_slice(&flat[at..at + n]);
            at += n;
        }
        Ok(())
    }

    /// One step's observations (`[len * obs_dim]`), rewards and episode ends of this rank's
    /// environments, as those of all `global` environments, on every rank: one all-reduce of
    /// a zero-padded f64 buffer (f32 observations and the flags convert exactly).
    #[allow(clippy::type_complexity)]
    pub fn gather_step(
        &self,
        obs: &[f32],
        rewards: &[f64],
        done: &[bool],
    ) -> Result<(Vec<f32>, Vec<f64>, Vec<bool>), TrainError> {
        let (n, first) = (self.shard.global, self.shard.envs.start);
        let obs_dim = obs.len() / self.shard.len().max(1);
        let mut all = vec![0f64; n * obs_dim + 2 * n];
        let (o, rest) = all.split_at_mut(n * obs_dim);
        let (r, d) = rest.split_at_mut(n);
        for (slot, &x) in o[first * obs_dim..].iter_mut().zip(obs) {
            *slot = f64::from(x);
        }
        r[first..first + rewards.len()].copy_from_slice(rewards);
        for (slot, &x) in d[first..].iter_mut().zip(done) {
            *slot = f64::from(u8::from(x));
        }
        self.comm
            .all_reduce_sum_f64(&mut all)
            .map_err(collective_err)?;
        let (o, rest) = all.split_at(n * obs_dim);
        let (r, d) = rest.split_at(n);
        Ok((
            o.iter().map(|&x| x as f32).collect(),
            r.to_vec(),
            d.iter().map(|&x| x > 0.5).collect(),
        ))
    }

    /// The global environments' state (all ranks' shares in env order), on every rank.
    pub fn gather_envs(&self, local: EnvsState) -> Result<EnvsState, TrainError> {
        if self.world_size() == 1 {
            return Ok(local);
        }
        let bytes = serde_json::to_vec(&local).map_err(|e| TrainError::Task(e.to_string()))?;
        let mut out = EnvsState {
            episodes_started: Vec::new(),
            actions: Vec::new(),
        };
        for part in gather_bytes(self.comm.as_ref(), &bytes).map_err(collective_err)? {
            let part: EnvsState =
                serde_json::from_slice(&part).map_err(|e| TrainError::Task(e.to_string()))?;
            out.episodes_started.extend(part.episodes_started);
            out.actions.extend(part.actions);
        }
        Ok(out)
    }

    /// This rank's share of a global environments' state (a checkpoint's).
    pub fn share_of(&self, global: &EnvsState) -> Result<EnvsState, TrainError> {
        let n = global.episodes_started.len();
        if n != self.shard.global || global.actions.len() != n {
            return Err(TrainError::Config(format!(
                "checkpoint holds {n} environments, config env.num_envs = {}",
                self.shard.global
            )));
        }
        let r = self.shard.envs.clone();
        Ok(EnvsState {
            episodes_started: global.episodes_started[r.clone()].to_vec(),
            actions: global.actions[r].to_vec(),
        })
    }
}

/// What world size > 1 cannot run yet; errors name the key.
fn check_supported(cfg: &ControlConfig, world: usize) -> Result<(), TrainError> {
    let refuse = |key: &str, why: &str| {
        Err(TrainError::Config(format!(
            "config key `{key}`: {why} with {world} data-parallel ranks (run.distributed = \"auto\")"
        )))
    };
    if cfg.algo.backend != Backend::Native {
        return refuse(
            "algo.backend",
            "only \"native\" averages gradients across ranks",
        );
    }
    if cfg.algo.kind == AlgoKind::Reinforce {
        return refuse(
            "algo.kind",
            "\"reinforce\" steps one environment, it cannot be split",
        );
    }
    if cfg.env.num_envs < world {
        return refuse("env.num_envs", "needs at least one environment per rank");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polopt_distributed::Local;

    #[test]
    fn shards_cover_the_environments_once_and_map_global_rows() {
        for (world, n) in [(1, 4), (2, 4), (2, 5), (3, 7), (4, 4)] {
            let shards: Vec<Shard> = (0..world).map(|r| Shard::of(r, world, n)).collect();
            let all: Vec<usize> = shards.iter().flat_map(|s| s.envs.clone()).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
            let steps = 3;
            let mut seen = vec![0; steps * n];
            for s in &shards {
                let mut locals: Vec<usize> =
                    (0..steps * n).filter_map(|g| s.local_row(g)).collect();
                locals.sort();
                assert_eq!(locals, (0..steps * s.len()).collect::<Vec<_>>());
                for (g, count) in seen.iter_mut().enumerate() {
                    *count += usize::from(s.local_row(g).is_some());
                }
            }
            assert!(seen.iter().all(|&c| c == 1));
        }
    }

    #[test]
    fn gathering_rows_in_a_world_of_one_is_the_identity() {
        let s = Shard::whole(3);
        let v = vec![1.0, -2.0, 3.5, 0.25, 7.0, 8.0];
        assert_eq!(s.gather_rows(&Local, &v).unwrap(), v);
    }
}
