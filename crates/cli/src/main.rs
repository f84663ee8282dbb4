//! `polopt`: train, evaluate, list and compare policy-optimization methods.
//! A thin shell: every behaviour lives in the library crates.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod list;
mod train_cmd;

#[derive(Parser)]
#[command(
    name = "polopt",
    version,
    about = "Policy optimization for language models and control"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a policy. With no arguments: the embedded default (warm start, then GRPO on
    /// addition, CPU, about ten minutes).
    Train {
        /// A run config in TOML; keys not given keep their defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Shorthand for `--set method.preset=NAME`.
        #[arg(long)]
        preset: Option<String>,
        /// Override one key, e.g. `--set rl.steps=50 --set objective.clip_high=0.28`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Continue the run from its newest checkpoint.
        #[arg(long)]
        resume: bool,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Evaluate a checkpoint on the held-out test split.
    Eval {
        /// A checkpoint directory (`runs/NAME/checkpoints/step-N`) or a run directory (its newest).
        path: PathBuf,
        /// Number of test problems (default: the run's `eval.problems`).
        #[arg(long)]
        problems: Option<usize>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// List presets and the parts they are made of, each with its description and spec.
    List,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(Cli::parse()) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            config,
            preset,
            mut sets,
            resume,
            quiet,
        } => {
            if let Some(p) = preset {
                sets.insert(0, format!("method.preset={p}"));
            }
            train_cmd::run_train(config.as_deref(), &sets, resume, !quiet)
        }
        Command::Eval {
            path,
            problems,
            sets,
        } => train_cmd::eval(&path, problems, &sets).context("eval failed"),
        Command::List => {
            print!("{}", list::listing());
            Ok(())
        }
    }
}
