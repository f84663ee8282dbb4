//! The numbers of the final-metric tables (mean, IQM, their intervals) and of probability of
//! improvement over the baseline and the paired differences against it, from finished runs
//! grouped by preset.

use super::{Improvement, MetricTable, PairedDifference, PresetRow};
use crate::paired::compare_paired;
use crate::runs::PresetGroup;
use crate::stats::{
    probability_of_improvement_ci, stratified_bootstrap_ci, Aggregate, BootstrapConfig, StatsError,
};

pub(super) fn metric_table(
    metric: &str,
    higher_is_better: bool,
    presets: &[String],
    groups: &[PresetGroup<'_>],
    config: &BootstrapConfig,
) -> Result<MetricTable, StatsError> {
    let mut rows = Vec::new();
    for preset in presets {
        let empty = PresetRow {
            preset: preset.clone(),
            n_seeds: 0,
            mean: None,
            iqm: None,
            median: None,
        };
        let Some(group) = groups.iter().find(|g| &g.preset == preset) else {
            rows.push(empty);
            continue;
        };
        let strata: Vec<Vec<f64>> = group
            .final_values_by_task(metric, &group.tasks())
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if strata.is_empty() {
            rows.push(empty);
            continue;
        }
        let strata: Vec<&[f64]> = strata.iter().map(Vec::as_slice).collect();
        rows.push(PresetRow {
            preset: preset.clone(),
            n_seeds: strata.iter().map(|s| s.len()).sum(),
            mean: Some(stratified_bootstrap_ci(&strata, Aggregate::Mean, config)?),
            iqm: Some(stratified_bootstrap_ci(&strata, Aggregate::Iqm, config)?),
            median: Some(Aggregate::Median.of_strata(&strata)?),
        });
    }
    Ok(MetricTable {
        metric: metric.to_string(),
        higher_is_better,
        rows,
    })
}

pub(super) fn improvements_over_baseline(
    metric: &str,
    higher_is_better: bool,
    groups: &[PresetGroup<'_>],
    config: &BootstrapConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<Improvement>, StatsError> {
    let Some((base, others)) = groups.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for other in others {
        // Strata are the tasks where both presets have at least one value.
        let candidate_tasks: Vec<&str> = other
            .tasks()
            .into_iter()
            .filter(|t| base.tasks().contains(t))
            .collect();
        let xs = other.final_values_by_task(metric, &candidate_tasks);
        let ys = base.final_values_by_task(metric, &candidate_tasks);
        let mut tasks = Vec::new();
        let mut x_strata = Vec::new();
        let mut y_strata = Vec::new();
        for ((task, x), y) in candidate_tasks.iter().zip(xs).zip(ys) {
            if !x.is_empty() && !y.is_empty() {
                tasks.push(task.to_string());
                // Lower is better: P(x < y) = P(-x > -y).
                let sign = if higher_is_better { 1.0 } else { -1.0 };
                x_strata.push(x.iter().map(|v| sign * v).collect::<Vec<f64>>());
                y_strata.push(y.iter().map(|v| sign * v).collect::<Vec<f64>>());
            }
        }
        if tasks.is_empty() {
            warnings.push(format!(
                "no probability of improvement of {} over {} on {metric}: no task where both \
                 have finished runs reporting it",
                other.preset, base.preset
            ));
            continue;
        }
        let x_refs: Vec<&[f64]> = x_strata.iter().map(Vec::as_slice).collect();
        let y_refs: Vec<&[f64]> = y_strata.iter().map(Vec::as_slice).collect();
        out.push(Improvement {
            metric: metric.to_string(),
            preset: other.preset.clone(),
            baseline: base.preset.clone(),
            probability: probability_of_improvement_ci(&x_refs, &y_refs, config)?,
            tasks,
        });
    }
    Ok(out)
}

/// Paired differences of each non-baseline preset against `baseline`, runs matched by seed
/// within each task both ran.
pub(super) fn paired_against_baseline(
    metric: &str,
    higher_is_better: bool,
    baseline: &str,
    groups: &[PresetGroup<'_>],
    config: &BootstrapConfig,
) -> Result<Vec<PairedDifference>, StatsError> {
    // By name: a baseline without finished runs is absent from `groups`, and then there is
    // nothing to pair with.
    let Some(base) = groups.iter().find(|g| g.preset == baseline) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for other in groups.iter().filter(|g| g.preset != baseline) {
        let mut tasks = Vec::new();
        let mut strata = Vec::new();
        for task in other.tasks() {
            if !base.tasks().contains(&task) {
                continue;
            }
            let m = other.final_values_by_seed(metric, task);
            let b = base.final_values_by_seed(metric, task);
            if !m.is_empty() || !b.is_empty() {
                tasks.push(task.to_string());
                strata.push((m, b));
            }
        }
        if strata.is_empty() {
            // Neither side reported the metric on a shared task: nothing to pair or count.
            continue;
        }
        out.push(PairedDifference {
            metric: metric.to_string(),
            preset: other.preset.clone(),
            baseline: base.preset.clone(),
            higher_is_better,
            tasks,
            result: compare_paired(&strata, higher_is_better, config)?,
        });
    }
    Ok(out)
}
