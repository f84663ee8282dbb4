//! Who started this process, read from the launcher's environment. We run no scheduler:
//! `mpirun`, Slurm's `srun` and Kubernetes (through torchrun-style variables) place the
//! processes and tell each one its rank.
//!
//! Checked in this order, the first launcher whose variables are present wins:
//! 1. Open MPI's `mpirun`: `OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`.
//! 2. PMI (MPICH's `mpiexec`/Hydra, Slurm's `srun --mpi=pmi2`): `PMI_RANK`, `PMI_SIZE`.
//! 3. Slurm's own task variables (`srun` with any `--mpi`): `SLURM_PROCID`, `SLURM_NTASKS`.
//! 4. torchrun-style (`torchrun`, Kubernetes Jobs, the Kubeflow training operator): `RANK`,
//!    `WORLD_SIZE`, and `MASTER_ADDR` reported when present.
//!
//! A launcher is only reported; the MPI library's own `MPI_Init` does the real rendezvous
//! (crate::connect checks that both agree).
use crate::collective::CollectiveError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// No launcher variables: one process.
    None,
    OpenMpi,
    Pmi,
    Slurm,
    Torchrun,
}

impl Launcher {
    /// The launcher and the variables it was read from, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Launcher::None => "no launcher (no rank variables set)",
            Launcher::OpenMpi => "Open MPI (OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE)",
            Launcher::Pmi => "PMI (PMI_RANK/PMI_SIZE)",
            Launcher::Slurm => "Slurm (SLURM_PROCID/SLURM_NTASKS)",
            Launcher::Torchrun => "torchrun-style environment (RANK/WORLD_SIZE)",
        }
    }
}

/// What the environment says about this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub launcher: Launcher,
    pub rank: usize,
    pub world_size: usize,
    /// torchrun's `MASTER_ADDR` (reported only; MPI does its own rendezvous).
    pub master_addr: Option<String>,
}

impl Launch {
    pub fn single() -> Self {
        Self {
            launcher: Launcher::None,
            rank: 0,
            world_size: 1,
            master_addr: None,
        }
    }
}

/// The launch described by this process's environment.
pub fn detect() -> Result<Launch, CollectiveError> {
    detect_from(|key| std::env::var(key).ok())
}

/// [`detect`] over any variable lookup (tests pass a map).
pub fn detect_from(var: impl Fn(&str) -> Option<String>) -> Result<Launch, CollectiveError> {
    const SOURCES: [(Launcher, &str, &str); 4] = [
        (
            Launcher::OpenMpi,
            "OMPI_COMM_WORLD_RANK",
            "OMPI_COMM_WORLD_SIZE",
        ),
        (Launcher::Pmi, "PMI_RANK", "PMI_SIZE"),
        (Launcher::Slurm, "SLURM_PROCID", "SLURM_NTASKS"),
        (Launcher::Torchrun, "RANK", "WORLD_SIZE"),
    ];
    for (launcher, rank_key, size_key) in SOURCES {
        let (rank, size) = (var(rank_key), var(size_key));
        if rank.is_none() && size.is_none() {
            continue;
        }
        let rank = parse(rank_key, rank, size_key)?;
        let world_size = parse(size_key, size, rank_key)?;
        if world_size == 0 {
            return Err(CollectiveError::Launch(format!(
                "environment variable {size_key} = 0: a world needs at least one process"
            )));
        }
        if rank >= world_size {
            return Err(CollectiveError::Launch(format!(
                "environment variable {rank_key} = {rank} is not below {size_key} = {world_size}"
            )));
        }
        let master_addr = if launcher == Launcher::Torchrun {
            var("MASTER_ADDR").filter(|a| !a.is_empty())
        } else {
            None
        };
        return Ok(Launch {
            launcher,
            rank,
            world_size,
            master_addr,
        });
    }
    Ok(Launch::single())
}

fn parse(key: &str, value: Option<String>, partner: &str) -> Result<usize, CollectiveError> {
    let value = value.ok_or_else(|| {
        CollectiveError::Launch(format!(
            "environment variable {partner} is set but {key} is not; a launcher sets both"
        ))
    })?;
    value.trim().parse::<usize>().map_err(|_| {
        CollectiveError::Launch(format!(
            "environment variable {key} = {value:?} is not a non-negative integer"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn launch(vars: &[(&str, &str)]) -> Result<Launch, CollectiveError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect_from(|k| map.get(k).cloned())
    }

    #[test]
    fn no_launcher_variables_mean_a_world_of_one() {
        assert_eq!(launch(&[]).unwrap(), Launch::single());
    }

    #[test]
    fn each_launcher_is_read_from_its_own_variables() {
        let l = launch(&[("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")]).unwrap();
        assert_eq!(
            (l.launcher, l.rank, l.world_size),
            (Launcher::OpenMpi, 1, 2)
        );
        let l = launch(&[("PMI_RANK", "3"), ("PMI_SIZE", "4")]).unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size), (Launcher::Pmi, 3, 4));
        let l = launch(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "8")]).unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size), (Launcher::Slurm, 0, 8));
        let l = launch(&[
            ("RANK", "2"),
            ("WORLD_SIZE", "3"),
            ("MASTER_ADDR", "trainer-0.trainer"),
        ])
        .unwrap();
        assert_eq!(
            (l.launcher, l.rank, l.world_size),
            (Launcher::Torchrun, 2, 3)
        );
        assert_eq!(l.master_addr.as_deref(), Some("trainer-0.trainer"));
    }

    #[test]
    fn mpirun_wins_over_slurm_and_torchrun_variables() {
        let l = launch(&[
            ("OMPI_COMM_WORLD_RANK", "0"),
            ("OMPI_COMM_WORLD_SIZE", "2"),
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "6"),
            ("RANK", "1"),
            ("WORLD_SIZE", "4"),
        ])
        .unwrap();
        assert_eq!(
            (l.launcher, l.rank, l.world_size),
            (Launcher::OpenMpi, 0, 2)
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = launch(&[("PMI_RANK", "one"), ("PMI_SIZE", "2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PMI_RANK") && e.contains("one"), "{e}");
        let e = launch(&[("RANK", "0"), ("WORLD_SIZE", "-2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("WORLD_SIZE"), "{e}");
        let e = launch(&[("RANK", "2"), ("WORLD_SIZE", "2")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RANK = 2") && e.contains("WORLD_SIZE = 2"),
            "{e}"
        );
        let e = launch(&[("WORLD_SIZE", "2")]).unwrap_err().to_string();
        assert!(e.contains("RANK is not"), "{e}");
        let e = launch(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "0")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_NTASKS = 0"), "{e}");
    }

    #[cfg(not(feature = "mpi"))]
    #[test]
    fn a_world_above_one_without_the_mpi_feature_says_how_to_rebuild() {
        let l = launch(&[("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "2")]).unwrap();
        let e = crate::connect(&l)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("--features mpi") && e.contains("OMPI_COMM_WORLD_SIZE"),
            "{e}"
        );
        assert_eq!(crate::connect(&Launch::single()).unwrap().world_size(), 1);
    }
}
