//! The [`Collective`] trait: the handful of operations data-parallel training needs, on CPU
//! buffers of f32 (gradients, parameters) and f64 (metrics, statistics).
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CollectiveError {
    /// The launcher's environment is inconsistent, or asks for what this build cannot do.
    #[error("distributed launch: {0}")]
    Launch(String),
    /// A collective call failed or was given inconsistent buffers.
    #[error("collective {op}: {detail}")]
    Op { op: &'static str, detail: String },
}

/// One process's handle on a world of `world_size` processes. Every rank must make the same
/// calls in the same order with buffers of the same length; the implementations do not check
/// that across ranks (MPI would hang or abort), so callers derive all lengths from the config.
pub trait Collective {
    /// This process's index, `0..world_size`.
    fn rank(&self) -> usize;
    fn world_size(&self) -> usize;
    /// Which engine: `"local"`, `"mpi"`.
    fn backend(&self) -> &'static str;
    /// Element-wise sum over all ranks, result on every rank.
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<(), CollectiveError>;
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<(), CollectiveError>;
    /// `root`'s buffer on every rank.
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<(), CollectiveError>;
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Result<(), CollectiveError>;
    fn barrier(&self) -> Result<(), CollectiveError>;
    /// Ends every process of the world with `code`. A rank that fails alone must not leave the
    /// others waiting in their next collective forever.
    fn abort(&self, code: i32) -> !;

    fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Sums each `(ptr, len)` buffer of f32 in CUDA device memory over all ranks, in place, when
    /// this collective has a device path (NCCL); `None` when it has none, and the caller sums
    /// through host buffers instead.
    ///
    /// # Safety
    /// Every `ptr` must point to `len` f32 on this rank's current CUDA device, valid and not
    /// written by anything else until the device's default stream has run the operation.
    unsafe fn all_reduce_sum_f32_device(
        &self,
        buffers: &[(*mut std::ffi::c_void, usize)],
    ) -> Option<Result<(), CollectiveError>> {
        let _ = buffers;
        None
    }

    /// Element-wise mean over all ranks (the sum divided by the world size).
    fn all_reduce_mean_f32(&self, buf: &mut [f32]) -> Result<(), CollectiveError> {
        self.all_reduce_sum_f32(buf)?;
        let n = self.world_size() as f32;
        buf.iter_mut().for_each(|x| *x /= n);
        Ok(())
    }

    fn all_reduce_mean_f64(&self, buf: &mut [f64]) -> Result<(), CollectiveError> {
        self.all_reduce_sum_f64(buf)?;
        let n = self.world_size() as f64;
        buf.iter_mut().for_each(|x| *x /= n);
        Ok(())
    }
}

/// Every rank's `local` bytes, in rank order, on every rank. For small control data (checkpoint
/// state, a few KiB): it is two f64 all-reduces, the second of `total bytes` numbers, where each
/// rank writes its bytes into its own span and zeros elsewhere, so the sum is exact.
pub fn gather_bytes(c: &dyn Collective, local: &[u8]) -> Result<Vec<Vec<u8>>, CollectiveError> {
    let (world, rank) = (c.world_size(), c.rank());
    let mut lens = vec![0f64; world];
    lens[rank] = local.len() as f64;
    c.all_reduce_sum_f64(&mut lens)?;
    let lens: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
    let start: usize = lens[..rank].iter().sum();
    let mut all = vec![0f64; lens.iter().sum()];
    for (slot, &b) in all[start..start + local.len()].iter_mut().zip(local) {
        *slot = b as f64;
    }
    c.all_reduce_sum_f64(&mut all)?;
    let mut out = Vec::with_capacity(world);
    let mut at = 0;
    for len in lens {
        out.push(all[at..at + len].iter().map(|&x| x as u8).collect());
        at += len;
    }
    Ok(out)
}
