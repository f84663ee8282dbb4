//! `polopt dataset`: writes an offline-RL split as `<out>/<env>-<split>-v0.safetensors`
//! (`polopt_envs::offline`, docs/offline-data.md).
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use polopt_envs::offline::{file_name, generate, GenerateConfig, Split};

#[derive(Args)]
pub struct DatasetArgs {
    /// Environment id: CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0,
    /// Pendulum-v1.
    #[arg(long)]
    pub env: String,
    /// random, medium, expert, medium-replay, medium-expert, or `all` for the five.
    #[arg(long, default_value = "all")]
    pub split: String,
    /// Transitions per split (medium-expert holds twice as many).
    #[arg(long, default_value_t = 200_000)]
    pub n: usize,
    /// Seed of the reset and policy streams (recorded in the file).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (created).
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The commit of the source tree this binary was built from, if git can tell; recorded as
/// `generator_git_sha` so a file can be traced to its generator.
fn generator_sha() -> String {
    std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn run_dataset(args: &DatasetArgs) -> Result<()> {
    let splits = if args.split == "all" {
        Split::ALL.to_vec()
    } else {
        vec![Split::parse(&args.split)?]
    };
    let sha = generator_sha();
    for split in splits {
        let config = GenerateConfig {
            env_id: args.env.clone(),
            split,
            n: args.n,
            seed: args.seed,
            generator_sha: sha.clone(),
        };
        let total = if split == Split::MediumExpert {
            2 * args.n
        } else {
            args.n
        };
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total as u64)
        };
        let style = ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(split.name());
        let dataset = generate(&config, &mut |done| bar.set_position(done as u64))
            .with_context(|| format!("generating {} {}", args.env, split.name()))?;
        bar.finish_and_clear();
        let path = args.out.join(file_name(&args.env, split));
        dataset.save(&path)?;
        let get = |k: &str| dataset.metadata.get(k).cloned().unwrap_or_default();
        println!(
            "{}: {} transitions, {} complete episodes, mean return {}, normalised score {:.1} (eps {})",
            path.display(),
            dataset.len(),
            get("episodes_complete"),
            get("mean_return"),
            get("normalized_score").parse::<f64>().unwrap_or(f64::NAN),
            get("eps"),
        );
    }
    Ok(())
}
