//! `polopt compare` and `polopt report`: glue between the grid (`polopt_train::compare`) and
//! the report (`polopt_report`). The metric set is chosen per preset family: held-out pass@k
//! for text tasks, evaluation return for control.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polopt_methods::presets::{preset, Family};
use polopt_report::log_means::LogMean;
use polopt_report::to_target::Target;
use polopt_report::{load_runs, render_report_from_runs, CurveSpec, ReportOptions, Run};
use polopt_train::compare::{self, CompareSpec};

pub struct CompareArgs {
    pub presets: Vec<String>,
    pub task: Option<String>,
    pub seeds: u64,
    pub steps: Option<u64>,
    pub sets: Vec<String>,
    pub out: PathBuf,
    pub name: Option<String>,
    pub jobs: Option<usize>,
    pub threads: Option<usize>,
    pub quiet: bool,
    /// Cost-to-target tables in the report (`--target`).
    pub targets: Vec<Target>,
    /// Print the plan and exit (`--dry-run`).
    pub dry_run: bool,
}

pub fn run_compare(args: CompareArgs) -> Result<()> {
    let presets: Vec<String> = args
        .presets
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let family = compare::validate_presets(&presets)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Half the cores by default: each run's libtorch gets two threads, and two runs at a time
    // use the cores better than one run with all of them (small models scale poorly).
    let jobs = args.jobs.unwrap_or((cores / 2).max(1)).max(1);
    let threads = args.threads.unwrap_or((cores / jobs).max(1));
    let name = args
        .name
        .unwrap_or_else(|| compare::auto_name(&presets, args.task.as_deref()));
    let spec = CompareSpec {
        presets,
        task: args.task,
        seeds: args.seeds,
        steps: args.steps,
        sets: args.sets,
        dir: args.out.join(name),
        threads,
    };
    let cells = compare::plan(&spec)?;
    if args.dry_run {
        println!(
            "{} runs in {}, {jobs} at a time, {threads} thread(s) each:",
            cells.len(),
            spec.dir.display()
        );
        for cell in &cells {
            println!("  {}", cell.describe());
        }
        return Ok(());
    }
    compare::write_spec(&spec)?;
    let exe = std::env::current_exe().context("cannot locate the polopt binary to run cells")?;
    eprintln!(
        "polopt compare: {} presets x {} seeds in {} | {jobs} at a time, {threads} thread(s) each",
        spec.presets.len(),
        spec.seeds,
        spec.dir.display()
    );
    let outcome = compare::run_grid(&cells, &exe, jobs, !args.quiet)?;
    eprintln!(
        "runs: {} finished now, {} already finished, {} failed",
        outcome.finished.len(),
        outcome.skipped.len(),
        outcome.failed.len()
    );

    let run_dirs = compare::run_dirs_of(&spec.dir)?;
    if run_dirs.is_empty() {
        bail!(
            "no run produced a run.json; see the logs under {}",
            spec.dir.join(compare::RUNS_DIR).display()
        );
    }
    let report_dir = spec.dir.join("report");
    let title = format!(
        "{} on {}",
        spec.presets.join(" vs "),
        spec.task.as_deref().unwrap_or("the presets' default task")
    );
    let report = render(
        &run_dirs,
        &report_dir,
        Some(family),
        title,
        &spec.presets,
        &args.targets,
    )?;
    println!("{report}");
    if !outcome.failed.is_empty() {
        for f in &outcome.failed {
            eprintln!(
                "failed: {} ({}); log: {}",
                f.name,
                f.reason,
                f.log.display()
            );
        }
        bail!(
            "{} of {} runs failed; fix the cause and run the same command again to finish only those",
            outcome.failed.len(),
            cells.len()
        );
    }
    Ok(())
}

/// `polopt report PATH... [--out DIR]`: each PATH is a run directory or a comparison directory.
pub fn run_report(
    paths: &[PathBuf],
    out: Option<PathBuf>,
    baseline: Option<String>,
    targets: &[Target],
) -> Result<()> {
    let mut run_dirs = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut compare_dirs = Vec::new();
    for p in paths {
        if p.join("run.json").is_file() {
            run_dirs.push(p.clone());
        } else if p.join(compare::RUNS_DIR).is_dir() {
            if let Some(spec) = compare::read_spec(p)? {
                order.extend(spec.presets);
            }
            let dirs = compare::run_dirs_of(p)?;
            if dirs.is_empty() {
                bail!("{}: no finished or running runs under runs/", p.display());
            }
            run_dirs.extend(dirs);
            compare_dirs.push(p.clone());
        } else {
            bail!(
                "{}: neither a run directory (no run.json) nor a comparison directory (no runs/)",
                p.display()
            );
        }
    }
    if run_dirs.is_empty() {
        bail!("give at least one run directory or comparison directory");
    }
    let out = match (out, compare_dirs.as_slice()) {
        (Some(o), _) => o,
        (None, [one]) => one.join("report"),
        (None, _) => PathBuf::from("report"),
    };
    if let Some(b) = baseline {
        order.retain(|p| p != &b);
        order.insert(0, b);
    }
    let report = render(
        &run_dirs,
        &out,
        None,
        "polopt report".to_string(),
        &order,
        targets,
    )?;
    println!("{report}");
    Ok(())
}

/// Loads the runs and renders the report; returns a short text summary for the terminal.
fn render(
    run_dirs: &[PathBuf],
    out: &Path,
    family: Option<Family>,
    title: String,
    order: &[String],
    targets: &[Target],
) -> Result<String> {
    let runs = load_runs(run_dirs)?;
    let family = family.unwrap_or_else(|| family_of_runs(&runs));
    let mut opts = report_options(&runs, family);
    opts.title = title;
    opts.targets = targets.to_vec();
    opts.baseline = order
        .iter()
        .find(|p| runs.iter().any(|r| &r.info.preset == *p))
        .cloned();
    let summary = render_report_from_runs(&runs, out, &opts)?;
    let mut text = String::new();
    if let Some(png) = polopt_report::write_front_figure(&runs, out, order, &opts.title)? {
        // Multi-objective runs: the fronts they found, after the tables and curves.
        let section = "\n## Pareto front\n\nThe true front (hollow circles) and the points each \
                       preset's archives found; marker size: the share of seeds that found it.\n\n\
                       ![Pareto front](plots/pareto_front.png)\n";
        let mut md = std::fs::read_to_string(&summary.markdown)?;
        md.push_str(section);
        std::fs::write(&summary.markdown, md)?;
        text.push_str(&format!("pareto front: {}\n", png.display()));
    }
    for table in &summary.tables {
        text.push_str(&format!("{}:\n", table.metric));
        for row in &table.rows {
            let est = |ci: &Option<polopt_report::ConfidenceInterval>| {
                ci.map_or("—".to_string(), |c| {
                    format!("{:.3} [{:.3}, {:.3}]", c.estimate, c.lower, c.upper)
                })
            };
            text.push_str(&format!(
                "  {:<16} n={:<3} mean {}  IQM {}\n",
                row.preset,
                row.n_seeds,
                est(&row.mean),
                est(&row.iqm)
            ));
        }
    }
    for w in &summary.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    for n in &summary.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text.push_str(&format!(
        "report: {} (and {})",
        summary.markdown.display(),
        summary.html.display()
    ));
    Ok(text)
}

/// The family of the runs' presets; unknown presets (renamed since) fall back to what the runs
/// logged: an evaluation return means control.
fn family_of_runs(runs: &[Run]) -> Family {
    runs.iter()
        .find_map(|r| preset(&r.info.preset).ok().map(|p| p.family))
        .unwrap_or_else(|| {
            if runs.iter().any(|r| r.final_value(RETURN).is_some()) {
                Family::Control
            } else {
                Family::GroupRl
            }
        })
}

const RETURN: &str = "eval/return_mean";

/// Final metrics and curves per family, keeping only what some run logged.
pub fn report_options(runs: &[Run], family: Family) -> ReportOptions {
    let mut opts = ReportOptions::default();
    let (finals, x, curves): (Vec<String>, &str, &[&str]) = match family {
        Family::GroupRl => {
            // Greedy pass@1 first, then sampled pass@1 and pass@k by k.
            let mut keys: Vec<(usize, String)> = runs
                .iter()
                .flat_map(|r| r.info.final_metrics.keys())
                .filter_map(|k| {
                    let order = match k.as_str() {
                        "eval/pass@1" => 0,
                        "eval/sampled_pass@1" => 1,
                        _ => k.strip_prefix("eval/pass@")?.parse::<usize>().ok()?,
                    };
                    Some((order, k.clone()))
                })
                .collect();
            keys.sort();
            keys.dedup();
            // The claim measurements of issue 13 (docs/compare.md): late entropy (collapse),
            // the share of groups with a learning signal, the spread of gradient norms.
            opts.log_means = vec![
                LogMean::new("entropy", 0.2, true),
                LogMean::new("nonzero_adv_group_frac", 1.0, true),
                LogMean::new("grad_norm_std", 1.0, false),
                // Scale-free: a method with larger gradients has more spread norms.
                LogMean::new("grad_norm_std", 1.0, false).relative_to("grad_norm"),
            ];
            (
                keys.into_iter().map(|(_, k)| k).collect(),
                "step",
                &[
                    "eval/pass@1",
                    "eval/pass@16",
                    "reward_mean",
                    "entropy",
                    "clip_frac_low",
                    "clip_frac_high",
                    "response_len_mean",
                ],
            )
        }
        Family::Theory | Family::MultiObjective => {
            // Every final measurement the solvers logged, the headline first; curves of every
            // logged quantity against the solver's own step unit.
            let solver = runs
                .iter()
                .find_map(|r| polopt_train::theory::find_solver(&r.info.preset).ok());
            let mut finals: Vec<String> = runs
                .iter()
                .flat_map(|r| r.info.final_metrics.keys().cloned())
                .collect();
            finals.sort();
            finals.dedup();
            if let Some(s) = solver {
                finals.sort_by_key(|k| k != s.headline);
                opts.lower_is_better = s.lower_is_better.iter().map(|k| k.to_string()).collect();
            }
            // The runner logs the step again under the solver's unit: the x axis.
            let x = solver.map_or("step", |s| s.step_unit);
            let mut curves: Vec<String> = runs
                .iter()
                .flat_map(|r| r.metrics.iter().flat_map(|m| m.values.keys().cloned()))
                .filter(|k| k != x)
                .collect();
            curves.sort();
            curves.dedup();
            let x = match runs.iter().any(|r| r.logs(x)) {
                true => x,
                false => "step",
            };
            opts.final_metrics = Some(finals);
            opts.curves = Some(curves.iter().map(|y| CurveSpec::new(x, y)).collect());
            return opts;
        }
        Family::Inventory => {
            // The test cost and its gap to the known optimum first, then the time to reach
            // the tolerance; curves against epochs and against wall time (the claim is speed).
            let finals = [
                "test/gap_pct",
                "test/cost",
                "test/gap_known_pct",
                "seconds_to_tol",
                "epochs_to_tol",
                "tol_reached",
                "wall_s",
                "optimal_cost",
                "policy/level",
            ];
            let logged = |k: &&&str| runs.iter().any(|r| r.final_value(k).is_some());
            opts.final_metrics = Some(
                finals
                    .iter()
                    .filter(logged)
                    .map(|k| k.to_string())
                    .collect(),
            );
            opts.lower_is_better = [
                "test/gap_pct",
                "test/cost",
                "test/gap_known_pct",
                "seconds_to_tol",
                "epochs_to_tol",
                "wall_s",
            ]
            .iter()
            .map(|k| k.to_string())
            .collect();
            let curves = [
                ("epoch", "dev/gap_pct_cap10"),
                ("wall_s", "dev/gap_pct_cap10"),
                ("epoch", "dev/cost"),
                ("epoch", "train/cost"),
                ("epoch", "policy/level"),
            ];
            opts.curves = Some(
                curves
                    .iter()
                    .filter(|(_, y)| runs.iter().any(|r| r.logs(y)))
                    .map(|(x, y)| CurveSpec::new(x, y))
                    .collect(),
            );
            return opts;
        }
        Family::Control | Family::OffPolicy => {
            let x = if runs.iter().any(|r| r.logs("env_steps")) {
                "env_steps"
            } else {
                "step"
            };
            (
                vec![RETURN.to_string()],
                x,
                &[
                    RETURN,
                    "episode_return_mean",
                    "entropy",
                    "clip_frac_low",
                    "clip_frac_high",
                    "critic_loss",
                    "alpha",
                ],
            )
        }
    };
    opts.final_metrics = Some(finals);
    opts.curves = Some(
        curves
            .iter()
            .filter(|y| runs.iter().any(|r| r.logs(y)))
            .map(|y| CurveSpec::new(x, y))
            .collect(),
    );
    opts
}
