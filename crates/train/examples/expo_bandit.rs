//! EXPO's bimodal-bandit check (`algorithms/expo.md`, "Small CPU check") with the spec's
//! settings, EXPO and the base-only control, printing every evaluation.
//!
//! `cargo run --release -p polopt-train --example expo_bandit -- [seeds] [updates]`
use polopt_train::expo::bandit_check::{run, BanditCheckConfig, Mode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let updates: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5000);
    for mode in [Mode::BaseOnly, Mode::Expo] {
        for seed in 0..seeds {
            let config = BanditCheckConfig {
                seed,
                mode,
                updates,
                ..BanditCheckConfig::default()
            };
            let start = std::time::Instant::now();
            run(&config, &mut |p| {
                println!(
                    "{mode:?} seed {seed} update {}: reward {:.4} mean action {:.3} near 0.6 {:.2} \
                     base mass -0.6 {:.2} 0.5 {:.2} alpha {:.3} skipped {}",
                    p.update, p.mean_reward, p.mean_action, p.near_best, p.base_mass_low,
                    p.base_mass_high, p.alpha, p.skipped
                )
            })?;
            println!(
                "{mode:?} seed {seed}: {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
