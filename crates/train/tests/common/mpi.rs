//! Starting this test binary again under `mpirun` (data-parallel tests, `--features mpi`): the
//! child runs only the binary's `child_trains_one_rank` test, configured through [`CHILD`].
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Newline-separated `--set`s for the child, then `stop_after=<n>` / `resume` lines.
pub const CHILD: &str = "POLOPT_MPI_CHILD";

pub fn mpirun_available() -> bool {
    let ok = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `mpirun` not found (apt-get install openmpi-bin libopenmpi-dev)");
    }
    ok
}

pub fn mpirun(ranks: usize, child: &[String]) -> Command {
    let exe = std::env::current_exe().expect("test executable path");
    let mut cmd = Command::new("mpirun");
    cmd.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-n",
        &ranks.to_string(),
    ])
    .arg(exe)
    .args([
        "--exact",
        "child_trains_one_rank",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, child.join("\n"))
    .env("OMP_NUM_THREADS", "1");
    cmd
}

pub fn run_mpi(ranks: usize, child: &[String]) -> Output {
    let out = mpirun(ranks, child).output().expect("mpirun starts");
    assert!(out.status.success(), "mpirun failed:\n{}", text(&out));
    out
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The largest relative difference between two runs' metrics; panics if their rows or keys
/// differ.
pub fn max_difference(a: &[Value], b: &[Value]) -> f64 {
    assert_eq!(a.len(), b.len(), "row counts");
    let mut worst = 0f64;
    for (ra, rb) in a.iter().zip(b) {
        let (oa, ob) = (ra.as_object().unwrap(), rb.as_object().unwrap());
        assert_eq!(
            oa.keys().collect::<Vec<_>>(),
            ob.keys().collect::<Vec<_>>(),
            "metric keys"
        );
        for (k, va) in oa {
            match (va.as_f64(), ob[k].as_f64()) {
                (Some(x), Some(y)) => worst = worst.max((x - y).abs() / x.abs().max(1.0)),
                _ => assert_eq!(va, &ob[k], "{k}"),
            }
        }
    }
    worst
}

pub fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// What the parent asked of this child rank: its `--set`s, and `stop_after=N` / `resume`;
/// `None` when this process is not a child.
pub struct ChildSpec {
    pub sets: Vec<String>,
    pub stop_after: Option<usize>,
    pub resume: bool,
}

pub fn child_spec() -> Option<ChildSpec> {
    let spec = std::env::var(CHILD).ok()?;
    let mut child = ChildSpec {
        sets: Vec::new(),
        stop_after: None,
        resume: false,
    };
    for line in spec.lines() {
        if let Some(n) = line.strip_prefix("stop_after=") {
            child.stop_after = Some(n.parse().expect("stop_after"));
        } else if line == "resume" {
            child.resume = true;
        } else {
            child.sets.push(line.to_string());
        }
    }
    Some(child)
}

/// Ends the child rank with a visible error, so that mpirun reports it.
pub fn exit_on_error<E: std::fmt::Display>(result: Result<impl Sized, E>) {
    if let Err(e) = result {
        eprintln!("child error: {e}");
        std::process::exit(3);
    }
}

/// Starts `child` on 2 ranks, waits until `metrics` has `rows` lines (both ranks in the loop),
/// SIGKILLs rank 1 (no chance to clean up, like a lost machine) and checks that the whole job
/// ends with an error that names the signal.
pub fn kill_a_rank_mid_run(child: &[String], metrics: &std::path::Path, rows: usize) {
    let mut job = mpirun(2, child)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let started = Instant::now();
    while std::fs::read_to_string(metrics).map_or(0, |t| t.lines().count()) < rows {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(100));
    }
    let ranks = children(job.id());
    assert_eq!(ranks.len(), 2, "mpirun's children: {ranks:?}");
    let _ = Command::new("kill")
        .args(["-9", &ranks[1].to_string()])
        .status();
    let status = wait_timeout(&mut job, Duration::from_secs(60));
    if status.is_none() {
        let _ = job.kill();
    }
    let out = job.wait_with_output().expect("mpirun output");
    let log = text(&out);
    let status = status.expect("the job did not end within 60 s of a rank's death");
    assert!(!status.success(), "{log}");
    println!("mpirun exit {status}; its report:\n{log}");
    assert!(
        log.contains("signal 9") || log.contains("Killed"),
        "mpirun should name the lost rank's signal:\n{log}"
    );
}
