//! The MPI collective over 2 real ranks: this test binary starts itself under `mpirun -n 2`
//! (the child runs only `child_checks_the_collective_in_a_world_of_two`). Skipped, with the
//! reason printed, where `mpirun` is not installed.
#![cfg(feature = "mpi")]
mod common;

use common::CHILD;
use polopt_distributed::{connect, detect, gather_bytes};

#[test]
fn all_reduce_broadcast_and_gather_agree_across_two_ranks() {
    if std::env::var_os(CHILD).is_none() {
        common::run_two_ranks("child_checks_the_collective_in_a_world_of_two");
    }
}

#[test]
fn child_checks_the_collective_in_a_world_of_two() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let launch = detect().expect("launcher variables");
    assert_eq!(launch.world_size, 2);
    let c = connect(&launch).expect("MPI world");
    let r = c.rank();
    let mut v = vec![r as f32 + 1.0, 10.0];
    c.all_reduce_sum_f32(&mut v).unwrap();
    assert_eq!(v, [3.0, 20.0]);
    let mut m = vec![r as f64];
    c.all_reduce_mean_f64(&mut m).unwrap();
    assert_eq!(m, [0.5]);
    let mut b = vec![r as f64 + 7.0; 3];
    c.broadcast_f64(&mut b, 1).unwrap();
    assert_eq!(b, [8.0; 3]);
    let local = vec![r as u8; r + 1];
    let all = gather_bytes(c.as_ref(), &local).unwrap();
    assert_eq!(all, vec![vec![0u8], vec![1u8, 1u8]]);
    c.barrier().unwrap();
    println!("rank ok {r}");
}
