//! Renders a report from synthetic runs, to look at the plots and tables without training:
//!
//! ```text
//! cargo run -p polopt-report --release --example synthetic_report -- /tmp/polopt-report-demo
//! ```
//!
//! Writes `runs/` (three text-task presets x 5 seeds, two control presets x 5 seeds) and
//! `report/`, `report-control/` under the given directory.

#[path = "../tests/common/mod.rs"]
mod common;

use polopt_report::{render_report, ReportOptions};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "polopt-report-demo".to_string()),
    );
    let runs = root.join("runs");
    let mut text_dirs = Vec::new();
    for (preset, skill) in [
        ("grpo", 0.45),
        ("dapo", 0.55),
        ("etr-long-preset-name", 0.5),
    ] {
        for seed in 0..5 {
            text_dirs.push(common::write_text_run(&runs, preset, skill, seed, 300));
        }
    }
    let summary = render_report(&text_dirs, &root.join("report"), &ReportOptions::default())?;
    println!("{}", summary.markdown.display());

    let mut control_dirs = Vec::new();
    for (preset, skill) in [("ppo", 480.0), ("ppo-no-gae", 300.0)] {
        for seed in 0..5 {
            control_dirs.push(common::write_control_run(&runs, preset, skill, seed));
        }
    }
    let options = ReportOptions {
        title: "CartPole: PPO vs PPO without GAE".to_string(),
        ..ReportOptions::default()
    };
    let summary = render_report(&control_dirs, &root.join("report-control"), &options)?;
    println!("{}", summary.markdown.display());
    Ok(())
}
