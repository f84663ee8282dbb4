//! The NCCL adapter (feature `nccl`) on a machine that may have no GPU: probing never panics,
//! and a world that cannot join NCCL keeps its host collective and says why.
#![cfg(feature = "nccl")]
mod common;

use common::CHILD;
use polopt_distributed::{connect, connect_with_device_sums, detect, Local, Nccl};

#[test]
fn probing_reports_a_version_or_why_not_without_panicking() {
    let probed = Nccl::probe();
    println!("NCCL probe here: {probed:?}");
    match probed {
        // NCCL_VERSION_CODE is major * 10000 + minor * 100 + patch since 2.9.
        Ok(version) => assert!((20000..40000).contains(&version), "{version}"),
        Err(e) => assert!(e.to_string().contains("NCCL"), "{e}"),
    }
}

#[test]
fn a_world_of_one_needs_no_device_path() {
    let (comm, why_not) = connect_with_device_sums(Box::new(Local));
    assert_eq!(comm.backend(), "local");
    assert!(why_not.is_none());
    let mut grad = [1.0f32, 2.0];
    // SAFETY: `Local` has no device path, so the pointer is never dereferenced.
    let device = unsafe { comm.all_reduce_sum_f32_device(&[(grad.as_mut_ptr().cast(), 2)]) };
    assert!(device.is_none(), "host collectives have no device path");
}

/// Two MPI ranks try to add NCCL. Without libnccl or a GPU per rank (this CI) they keep MPI and
/// report why; with them, they join (`mpi+nccl`).
#[test]
fn two_ranks_join_nccl_or_keep_mpi_and_say_why() {
    if std::env::var_os(CHILD).is_none() {
        common::run_two_ranks("child_adds_nccl_to_its_world");
    }
}

#[test]
fn child_adds_nccl_to_its_world() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let launch = detect().expect("launcher environment");
    let base = connect(&launch).expect("MPI world");
    let (comm, why_not) = connect_with_device_sums(base);
    assert_eq!(comm.world_size(), 2);
    match (comm.backend(), why_not) {
        ("mpi+nccl", None) => println!("rank {} joined NCCL", comm.rank()),
        ("mpi", Some(why)) => {
            assert!(why.contains("NCCL"), "{why}");
            println!("rank {} keeps MPI: {why}", comm.rank());
        }
        (backend, why) => panic!("unexpected {backend} / {why:?}"),
    }
    // The host collective still works after the attempt.
    let mut x = [comm.rank() as f64 + 1.0];
    comm.all_reduce_sum_f64(&mut x).expect("all-reduce");
    assert_eq!(x[0], 3.0);
    println!("rank ok");
}
