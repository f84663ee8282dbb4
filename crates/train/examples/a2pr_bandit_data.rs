//! Writes the A2PR spec's 1-D bandit dataset (a2pr.md, "Small CPU check") for
//! `offline.dataset`: `cargo run --release -p polopt-train --example a2pr_bandit_data -- OUT
//! [good_fraction=0.3] [n=10000] [seed=0]`. (`polopt dataset` writes the classic-env splits.)
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .ok_or("usage: a2pr_bandit_data OUT [good_fraction] [n] [seed]")?;
    let good: f64 = args.get(1).map_or(Ok(0.3), |s| s.parse())?;
    let n: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let seed: u64 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    polopt_envs::offline::bandit::a2pr_bandit(n, good, seed)?.save(out)?;
    println!("{out}: {n} transitions, good fraction {good}, seed {seed}");
    Ok(())
}
