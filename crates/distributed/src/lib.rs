//! Collective operations for data-parallel training, behind one narrow trait (design/scale-out.md,
//! "Multi-GPU data-parallel training from Rust"). We write no collective algorithm: a world of one
//! process is [`Local`], a world of many is an existing engine ([`mpi`](crate::Mpi) over Open MPI
//! or MPICH, with the `mpi` feature).
//!
//! Map of the crate:
//! - [`collective`]: the [`Collective`] trait (rank, world size, all-reduce sum / mean,
//!   broadcast, barrier, abort) and [`gather_bytes`] on top of it.
//! - [`local`]: [`Local`], the world of one (every operation is the identity).
//! - [`launcher`]: who started us, from the launcher's environment (`mpirun`, Slurm's `srun`,
//!   torchrun-style `RANK`/`WORLD_SIZE`), with errors that name the variable.
//! - `mpi` (feature `mpi`): [`Mpi`], the adapter to rsmpi.
//! - [`connect`]: picks the implementation for the detected launch.
//!
//! - `nccl` (feature `nccl`): [`Nccl`], sums of CUDA device buffers in place, bootstrapped over
//!   MPI; [`connect_with_device_sums`] adds it to an MPI world when it can be loaded.
pub mod collective;
pub mod launcher;
pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;

#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;
#[cfg(feature = "nccl")]
pub use self::nccl::Nccl;
pub use collective::{gather_bytes, Collective, CollectiveError};
pub use launcher::{detect, detect_from, Launch, Launcher};
pub use local::Local;

/// Whether this build carries the MPI adapter (`--features mpi`).
pub const MPI_BUILT: bool = cfg!(feature = "mpi");

/// The collective for `launch`: [`Local`] for a world of one, MPI for more. A world larger than
/// one in a build without the `mpi` feature is an error that says how to rebuild, never a silent
/// fall-back to N independent runs writing the same files.
pub fn connect(launch: &Launch) -> Result<Box<dyn Collective>, CollectiveError> {
    if launch.world_size <= 1 {
        return Ok(Box::new(Local));
    }
    connect_many(launch)
}

#[cfg(feature = "mpi")]
fn connect_many(launch: &Launch) -> Result<Box<dyn Collective>, CollectiveError> {
    if launch.launcher == Launcher::Torchrun {
        // torchrun's rendezvous is a TCP store at MASTER_ADDR:MASTER_PORT; MPI_Init cannot join
        // it, and we write no rendezvous of our own.
        return Err(CollectiveError::Launch(format!(
            "{} says world size {} (torchrun-style RANK/WORLD_SIZE{}), but polopt's only multi-process \
             collective is MPI, which needs an MPI launcher: start it with `mpirun -n {}` or Slurm's \
             `srun --mpi=pmix` (rendezvous through MASTER_ADDR is not implemented)",
            launch.launcher.describe(),
            launch.world_size,
            launch
                .master_addr
                .as_deref()
                .map(|a| format!(", MASTER_ADDR={a}"))
                .unwrap_or_default(),
            launch.world_size
        )));
    }
    let mpi = Mpi::init()?;
    if mpi.world_size() != launch.world_size || mpi.rank() != launch.rank {
        return Err(CollectiveError::Launch(format!(
            "{} says rank {} of {}, but MPI_Init gave rank {} of {} (is this binary linked \
             against the MPI that launched it?)",
            launch.launcher.describe(),
            launch.rank,
            launch.world_size,
            mpi.rank(),
            mpi.world_size()
        )));
    }
    Ok(Box::new(mpi))
}

#[cfg(not(feature = "mpi"))]
fn connect_many(launch: &Launch) -> Result<Box<dyn Collective>, CollectiveError> {
    Err(CollectiveError::Launch(format!(
        "{} says this is rank {} of {} processes, but polopt was built without MPI; rebuild with \
         `cargo build --release --features mpi` (needs libopenmpi-dev or MPICH and libclang), or run \
         one process",
        launch.launcher.describe(),
        launch.rank,
        launch.world_size
    )))
}

/// `base` with NCCL for device buffers, when this build has NCCL, the world has more than one
/// rank and NCCL loads and joins here; otherwise `base` alone, with the reason (a device path is
/// an optimisation: host buffers over `base` give the same sums).
pub fn connect_with_device_sums(
    base: Box<dyn Collective>,
) -> (Box<dyn Collective>, Option<String>) {
    if base.world_size() <= 1 {
        return (base, None);
    }
    #[cfg(feature = "nccl")]
    {
        match Nccl::connect(base.as_ref()) {
            Ok(nccl) => (Box::new(nccl::WithNccl { host: base, nccl }), None),
            Err(e) => (base, Some(e.to_string())),
        }
    }
    #[cfg(not(feature = "nccl"))]
    {
        (
            base,
            Some("polopt was built without NCCL (`--features nccl`)".into()),
        )
    }
}
