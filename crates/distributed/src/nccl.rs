//! NCCL for gradients that live on the GPU (feature `nccl`, which implies `mpi`): the sums run
//! on CUDA device memory in place, through cudarc's NCCL bindings. cudarc loads `libnccl` and
//! `libcuda` when first called, so this compiles on a machine without CUDA; [`Nccl::probe`]
//! says at run time whether they can be used, and callers fall back to host buffers over MPI.
//!
//! MPI stays the bootstrap and the collective for host buffers (metrics, sampled rows): rank 0
//! creates NCCL's unique id and broadcasts it over MPI, then every rank joins NCCL on its
//! current CUDA device. One GPU per rank, seen as device 0 (the launcher sets
//! `CUDA_VISIBLE_DEVICES` per rank, as `srun --gpus-per-task=1` does). Operations are enqueued on
//! the legacy default stream, which libtorch's kernels also use, so they are ordered after the
//! backward that wrote the gradients and before the optimizer step that reads them.
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::nccl::{result, sys};

use crate::collective::{Collective, CollectiveError};

/// An NCCL communicator over the ranks of an MPI world.
pub struct Nccl {
    comm: sys::ncclComm_t,
}

fn op_err(op: &'static str, e: impl std::fmt::Debug) -> CollectiveError {
    CollectiveError::Op {
        op,
        detail: format!("NCCL: {e:?}"),
    }
}

/// `call`, with cudarc's panic on a missing library turned into an error.
fn guarded<T>(
    op: &'static str,
    call: impl FnOnce() -> Result<T, CollectiveError>,
) -> Result<T, CollectiveError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(CollectiveError::Op {
            op,
            detail: format!("NCCL cannot be used on this machine: {why}"),
        })
    })
}

impl Nccl {
    /// NCCL's version code, or why it cannot be loaded here (no `libnccl.so`, no driver).
    pub fn probe() -> Result<i32, CollectiveError> {
        guarded("probe", || {
            result::get_nccl_version().map_err(|e| op_err("probe", e))
        })
    }

    /// Joins NCCL on this process's current CUDA device, with `bootstrap`'s ranks.
    pub fn connect(bootstrap: &dyn Collective) -> Result<Self, CollectiveError> {
        // Every rank must take the same branch: NCCL's init blocks until all ranks call it.
        let probed = Self::probe();
        let mut failed = [f64::from(u8::from(probed.is_err()))];
        bootstrap.all_reduce_sum_f64(&mut failed)?;
        probed?;
        if failed[0] > 0.0 {
            return Err(CollectiveError::Op {
                op: "probe",
                detail: format!(
                    "NCCL cannot be loaded on {} of {} ranks",
                    failed[0],
                    bootstrap.world_size()
                ),
            });
        }
        let mut id = [0f64; 128];
        if bootstrap.is_root() {
            let unique = guarded("init", || {
                result::get_uniqueid().map_err(|e| op_err("init", e))
            })?;
            for (slot, byte) in id.iter_mut().zip(unique.internal) {
                *slot = f64::from(byte as u8);
            }
        }
        bootstrap.broadcast_f64(&mut id, 0)?;
        let mut unique = sys::ncclUniqueId { internal: [0; 128] };
        for (slot, &byte) in unique.internal.iter_mut().zip(&id) {
            *slot = byte as u8 as std::ffi::c_char;
        }
        let (rank, world) = (bootstrap.rank(), bootstrap.world_size());
        let comm = guarded("init", || {
            let mut comm = std::mem::MaybeUninit::uninit();
            // SAFETY: `comm` is written by ncclCommInitRank before it is read.
            unsafe {
                result::comm_init_rank(comm.as_mut_ptr(), world as i32, unique, rank as i32)
                    .map_err(|e| op_err("init", e))?;
                Ok(comm.assume_init())
            }
        })?;
        Ok(Self { comm })
    }

    /// Sums `len` f32 at device address `ptr` over all ranks, in place, on the default stream.
    ///
    /// # Safety
    /// `ptr` must point to `len` f32 in CUDA device memory of this rank's device, valid and not
    /// written by anything else until the default stream has run the operation.
    pub unsafe fn all_reduce_sum_f32(
        &self,
        ptr: *mut c_void,
        len: usize,
    ) -> Result<(), CollectiveError> {
        result::all_reduce(
            ptr,
            ptr,
            len,
            sys::ncclDataType_t::ncclFloat32,
            sys::ncclRedOp_t::ncclSum,
            self.comm,
            std::ptr::null_mut(),
        )
        .map(|_| ())
        .map_err(|e| op_err("all_reduce (device)", e))
    }

    /// Several [`Self::all_reduce_sum_f32`] as one NCCL group (one launch for all buffers).
    ///
    /// # Safety
    /// As [`Self::all_reduce_sum_f32`], for every `(ptr, len)`.
    pub unsafe fn all_reduce_sum_f32_many(
        &self,
        buffers: &[(*mut c_void, usize)],
    ) -> Result<(), CollectiveError> {
        result::group_start().map_err(|e| op_err("group_start", e))?;
        let mut outcome = Ok(());
        for &(ptr, len) in buffers {
            outcome = outcome.and_then(|_| self.all_reduce_sum_f32(ptr, len));
        }
        result::group_end().map_err(|e| op_err("group_end", e))?;
        outcome
    }
}

impl Drop for Nccl {
    fn drop(&mut self) {
        // SAFETY: the communicator was initialised in `connect` and is destroyed once.
        let _ = unsafe { result::comm_destroy(self.comm) };
    }
}

/// A host collective (MPI) for host buffers and NCCL for device buffers.
pub struct WithNccl {
    pub host: Box<dyn Collective>,
    pub nccl: Nccl,
}

type Done = Result<(), CollectiveError>;

impl Collective for WithNccl {
    fn rank(&self) -> usize {
        self.host.rank()
    }
    fn world_size(&self) -> usize {
        self.host.world_size()
    }
    fn backend(&self) -> &'static str {
        "mpi+nccl"
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Done {
        self.host.all_reduce_sum_f32(buf)
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Done {
        self.host.all_reduce_sum_f64(buf)
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Done {
        self.host.broadcast_f32(buf, root)
    }
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Done {
        self.host.broadcast_f64(buf, root)
    }
    fn barrier(&self) -> Done {
        self.host.barrier()
    }
    fn abort(&self, code: i32) -> ! {
        self.host.abort(code)
    }
    unsafe fn all_reduce_sum_f32_device(&self, buffers: &[(*mut c_void, usize)]) -> Option<Done> {
        Some(self.nccl.all_reduce_sum_f32_many(buffers))
    }
}
