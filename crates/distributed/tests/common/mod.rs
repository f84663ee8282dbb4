//! This test binary started again under `mpirun -n 2`, running one child test.
use std::process::Command;

/// Set in the children: they run the child test, the parent's test returns at once.
pub const CHILD: &str = "POLOPT_MPI_TEST_CHILD";

/// Runs test `child` of this binary on 2 ranks and returns their output, after checking that
/// both printed `rank ok`; `None` (with the reason printed) where `mpirun` is not installed.
pub fn run_two_ranks(child: &str) -> Option<String> {
    if Command::new("mpirun").arg("--version").output().is_err() {
        eprintln!("skipped: `mpirun` not found (install openmpi-bin)");
        return None;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-n", "2"])
        .arg(exe)
        .args(["--exact", child, "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("mpirun starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("rank ok").count(), 2, "{text}");
    Some(text)
}
