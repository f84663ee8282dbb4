//! Joining a data-parallel world, for every loop that trains across processes (control and
//! group RL, issue 18): the launcher's rank and world size, `run.distributed`'s rules, and the
//! collective wrapped so that its time is measured (`comm_s`).
use polopt_distributed::{connect, detect, Collective, Local};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Whether the run joins a data-parallel world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distributed {
    /// One process with the sampling layout of earlier runs; an error if a launcher started
    /// several processes.
    #[default]
    Off,
    /// Rank and world size from the launcher (`mpirun`, `srun`; one process when none): the
    /// batch is split across ranks with one sampling stream per unit (an environment, a
    /// prompt's group), gradients are summed every optimizer step. The same config gives the
    /// same run at any world size.
    Auto,
}

/// The collective of this run: [`Local`] under `"off"` (after checking that no launcher started
/// several processes, which would have them all write one run directory), the launcher's world
/// under `"auto"`. `refuse(world_size)` rejects what the loop cannot split, before connecting.
pub fn join_world(
    distributed: Distributed,
    refuse: impl FnOnce(usize) -> Result<(), TrainError>,
) -> Result<Box<dyn Collective>, TrainError> {
    join_world_on(distributed, false, refuse)
}

/// [`join_world`]; with `device_sums`, NCCL sums device buffers when it can (GPU runs), and
/// the reason it cannot is logged, the host path then giving the same sums.
pub fn join_world_on(
    distributed: Distributed,
    device_sums: bool,
    refuse: impl FnOnce(usize) -> Result<(), TrainError>,
) -> Result<Box<dyn Collective>, TrainError> {
    let launch = detect().map_err(|e| TrainError::Config(e.to_string()))?;
    if distributed == Distributed::Off {
        if launch.world_size > 1 {
            return Err(TrainError::Config(format!(
                "config key `run.distributed` is \"off\", but {} started {} processes; set \
                 run.distributed = \"auto\" for data-parallel training, or start one process",
                launch.launcher.describe(),
                launch.world_size
            )));
        }
        return Ok(Box::new(Local));
    }
    if launch.world_size > 1 {
        refuse(launch.world_size)?;
    }
    let mut comm = connect(&launch)
        .map_err(|e| TrainError::Config(format!("config key `run.distributed` = \"auto\": {e}")))?;
    if device_sums {
        let (with, why_not) = polopt_distributed::connect_with_device_sums(comm);
        if let Some(why) = why_not {
            tracing::warn!("gradients are summed through host memory over MPI: {why}");
        }
        comm = with;
    }
    Ok(Box::new(Timed { inner: comm }))
}

/// A run's error on one rank of several: the other ranks are (or soon will be) waiting in a
/// collective for this one, and returning would leave them there; MPI_Abort ends the job.
pub fn abort_world_on_error<T>(
    comm: &dyn Collective,
    result: Result<T, TrainError>,
) -> Result<T, TrainError> {
    match result {
        Err(e) if comm.world_size() > 1 => {
            eprintln!(
                "error on rank {} of {}: {e}\naborting all ranks",
                comm.rank(),
                comm.world_size()
            );
            comm.abort(1)
        }
        other => other,
    }
}

pub fn collective_err(e: polopt_distributed::CollectiveError) -> TrainError {
    TrainError::Task(e.to_string())
}

/// Seconds this process has spent in collective calls (waiting for the slowest rank included),
/// for the `comm_s` metric and the distributed benchmarks.
pub fn comm_seconds(c: &dyn Collective) -> f64 {
    COMM_NANOS.with(|n| n.get()) as f64 * 1e-9 * f64::from(u8::from(c.world_size() > 1))
}

thread_local! {
    static COMM_NANOS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A collective that adds the time of every call to this thread's `COMM_NANOS`.
struct Timed {
    inner: Box<dyn Collective>,
}

impl Timed {
    fn timed<R>(&self, call: impl FnOnce(&dyn Collective) -> R) -> R {
        let started = std::time::Instant::now();
        let out = call(self.inner.as_ref());
        let nanos = started.elapsed().as_nanos() as u64;
        COMM_NANOS.with(|n| n.set(n.get() + nanos));
        out
    }
}

type Done = Result<(), polopt_distributed::CollectiveError>;

impl Collective for Timed {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn world_size(&self) -> usize {
        self.inner.world_size()
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Done {
        self.timed(|c| c.all_reduce_sum_f32(buf))
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Done {
        self.timed(|c| c.all_reduce_sum_f64(buf))
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Done {
        self.timed(|c| c.broadcast_f32(buf, root))
    }
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Done {
        self.timed(|c| c.broadcast_f64(buf, root))
    }
    fn barrier(&self) -> Done {
        self.timed(|c| c.barrier())
    }
    fn abort(&self, code: i32) -> ! {
        self.inner.abort(code)
    }
    unsafe fn all_reduce_sum_f32_device(
        &self,
        buffers: &[(*mut std::ffi::c_void, usize)],
    ) -> Option<Done> {
        // SAFETY: forwarded with the caller's guarantees.
        self.timed(|c| unsafe { c.all_reduce_sum_f32_device(buffers) })
    }
}
