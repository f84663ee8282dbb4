//! [`Mpi`]: the collective over rsmpi (Open MPI or MPICH from the system packages), on CPU
//! buffers. MPI's default error handler aborts the whole job on a failed call, so these methods
//! only return errors we detect ourselves; a rank that dies makes `mpirun` end the others.
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Root};

use crate::collective::{Collective, CollectiveError};

pub struct Mpi {
    world: SimpleCommunicator,
    /// Finalises MPI when dropped; kept after `world` so the communicator goes first.
    _universe: Universe,
}

impl Mpi {
    /// `MPI_Init`; an error if MPI was already initialised in this process (MPI allows it once).
    pub fn init() -> Result<Self, CollectiveError> {
        let universe = mpi::initialize().ok_or_else(|| {
            CollectiveError::Launch("MPI is already initialised in this process".into())
        })?;
        Ok(Self {
            world: universe.world(),
            _universe: universe,
        })
    }

    fn root(&self, root: usize, op: &'static str) -> Result<i32, CollectiveError> {
        if root < self.world_size() {
            Ok(root as i32)
        } else {
            Err(CollectiveError::Op {
                op,
                detail: format!("root {root} in a world of {}", self.world_size()),
            })
        }
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn world_size(&self) -> usize {
        self.world.size() as usize
    }
    fn backend(&self) -> &'static str {
        "mpi"
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> Result<(), CollectiveError> {
        // rsmpi has no in-place all-reduce; the copy is small next to the network.
        let send = buf.to_vec();
        self.world
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<(), CollectiveError> {
        let send = buf.to_vec();
        self.world
            .all_reduce_into(&send[..], buf, SystemOperation::sum());
        Ok(())
    }
    fn broadcast_f32(&self, buf: &mut [f32], root: usize) -> Result<(), CollectiveError> {
        let root = self.root(root, "broadcast")?;
        self.world.process_at_rank(root).broadcast_into(buf);
        Ok(())
    }
    fn broadcast_f64(&self, buf: &mut [f64], root: usize) -> Result<(), CollectiveError> {
        let root = self.root(root, "broadcast")?;
        self.world.process_at_rank(root).broadcast_into(buf);
        Ok(())
    }
    fn barrier(&self) -> Result<(), CollectiveError> {
        self.world.barrier();
        Ok(())
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
