//! `polopt`: train, evaluate, list and compare policy-optimization methods.
//! A thin shell: every behaviour lives in the library crates.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod compare_cmd;
mod dataset_cmd;
mod export_cmd;
mod list;
mod merge_cmd;
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
    /// Evaluate a checkpoint: a text run on its held-out test split, a control or off-policy
    /// run over evaluation episodes.
    Eval {
        /// A checkpoint directory (`runs/NAME/checkpoints/step-N`), a run directory (its
        /// newest), or a Hugging Face model directory (with `--data`).
        path: PathBuf,
        /// Held-out prompts (JSONL or Parquet) for a Hugging Face model directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// A config file for a model directory: `[[reward]]`, `[data]` field map, `[eval]`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write every scored completion (greedy and sampled) to this JSON lines file.
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Number of test problems (default: the run's `eval.problems`).
        #[arg(long)]
        problems: Option<usize>,
        /// Control and off-policy runs: number of evaluation episodes (default: the run's
        /// `eval.episodes`).
        #[arg(long)]
        episodes: Option<usize>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// List presets and the parts they are made of, each with its description and spec.
    List,
    /// Merge a PEFT LoRA adapter into its base model: writes a plain Hugging Face directory.
    Merge(merge_cmd::MergeArgs),
    /// Train every (preset, seed) pair, several at a time, then write a report. Resumable:
    /// running the same command again runs only what is missing.
    Compare {
        /// Presets to compare, comma-separated; the first is the baseline.
        #[arg(long, value_delimiter = ',', required = true)]
        presets: Vec<String>,
        /// Text task (`task.name`) or, for control presets, environment id (`env.id`).
        #[arg(long)]
        task: Option<String>,
        /// Number of seeds: runs use seeds 0..N.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// RL steps per run (`rl.steps`; for control, `algo.total_steps` environment steps).
        #[arg(long)]
        steps: Option<u64>,
        /// Override one key in every run, as for `polopt train`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Parent directory of the comparison.
        #[arg(long, default_value = "runs/compare")]
        out: PathBuf,
        /// Name of the comparison directory under --out (default: from presets and task).
        #[arg(long)]
        name: Option<String>,
        /// Runs at a time (default: half the cores, at least 1).
        #[arg(long)]
        jobs: Option<usize>,
        /// libtorch threads per run (default: cores / jobs).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Add steps, samples and seconds until a metric first reaches a value, e.g.
        /// `eval/pass@1>=0.5` (repeatable; `<=` for a loss); lower is better.
        #[arg(long = "target", value_name = "METRIC>=VALUE", value_parser = parse_target)]
        targets: Vec<polopt_report::to_target::Target>,
        /// Print what each run would do (skip, resume or start, and the warm-start cache entry
        /// it reads or trains) and exit without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a checkpoint (or a run's newest) as a Hugging Face model directory; a built-in
    /// run's character vocabulary becomes `tokenizer.json`.
    ExportModel {
        /// A checkpoint directory or a run directory.
        path: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write problems of a run config's task as a JSON lines dataset (`prompt`, `answer`, `key`);
    /// `--split test` is exactly the held-out set a run with that config and seed evaluates on.
    ExportData {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// train, validation or test.
        #[arg(long, default_value = "train")]
        split: String,
        /// Number of problems.
        #[arg(long)]
        n: usize,
        #[arg(long)]
        out: PathBuf,
        /// Write synthetic preference pairs (prompt, chosen, rejected; TRL's field names) made
        /// as `method.preference.synthetic_rejected` says, instead of prompts and answers.
        #[arg(long)]
        pairs: bool,
    },
    /// Write an offline-RL dataset split of a classic environment (scripted experts, fixed
    /// seeds) as `<out>/<env>-<split>-v0.safetensors`; see docs/offline-data.md.
    Dataset(dataset_cmd::DatasetArgs),
    /// Render a report from existing run directories or comparison directories, without training.
    Report {
        /// Run directories (holding run.json) or comparison directories (holding runs/).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Report directory (default: COMPARE_DIR/report for one comparison, else ./report).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Preset to compare the others against (default: the first).
        #[arg(long)]
        baseline: Option<String>,
        /// Add steps, samples and seconds until a metric first reaches a value, e.g.
        /// `eval/pass@1>=0.5` (repeatable; `<=` for a loss); lower is better.
        #[arg(long = "target", value_name = "METRIC>=VALUE", value_parser = parse_target)]
        targets: Vec<polopt_report::to_target::Target>,
    },
}

fn parse_target(text: &str) -> Result<polopt_report::to_target::Target, String> {
    text.parse()
}

/// libtorch allocates every intermediate tensor with `malloc`. glibc serves blocks above its
/// mmap threshold (128 KiB at first) with fresh `mmap`s and trims the heap eagerly, so each
/// forward and backward pass page-faults its activations in again: measured on the default
/// model, one RL iteration took 0.30 s, and 0.235 s with these two settings (`bench/`). Keeping
/// freed memory in the heap is what PyTorch's own caching allocators do on the GPU.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's tuning parameters; called before any other thread
    // exists. A refused setting (return 0) leaves glibc's default, which is merely slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() {
    tune_allocator();
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
            // A cell of `polopt compare` stops when the comparison is killed.
            polopt_train::compare::exit_with_compare_parent();
            if let Some(p) = preset {
                sets.insert(0, format!("method.preset={p}"));
            }
            train_cmd::run_train(config.as_deref(), &sets, resume, !quiet)
        }
        Command::Eval {
            path,
            data,
            config,
            samples,
            problems,
            episodes,
            sets,
        } => {
            let target = train_cmd::EvalTarget {
                path: &path,
                data: data.as_deref(),
                config: config.as_deref(),
                samples: samples.as_deref(),
            };
            train_cmd::eval(&target, problems, episodes, &sets).context("eval failed")
        }
        Command::Compare {
            presets,
            task,
            seeds,
            steps,
            sets,
            out,
            name,
            jobs,
            threads,
            quiet,
            targets,
            dry_run,
        } => compare_cmd::run_compare(compare_cmd::CompareArgs {
            presets,
            task,
            seeds,
            steps,
            sets,
            out,
            name,
            jobs,
            threads,
            quiet,
            targets,
            dry_run,
        }),
        Command::Report {
            paths,
            out,
            baseline,
            targets,
        } => compare_cmd::run_report(&paths, out, baseline, &targets),
        Command::Merge(args) => merge_cmd::run_merge(&args),
        Command::Dataset(args) => dataset_cmd::run_dataset(&args),
        Command::ExportModel { path, out } => export_cmd::export_model(&path, &out),
        Command::ExportData {
            config,
            sets,
            split,
            n,
            out,
            pairs,
        } => export_cmd::export_data(config.as_deref(), &sets, &split, n, &out, pairs),
        Command::List => {
            print!("{}", list::listing());
            Ok(())
        }
    }
}
