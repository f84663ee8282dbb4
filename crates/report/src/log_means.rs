//! Summaries of the training log as final metrics: the mean of a per-step quantity over the
//! last part of a run. The seed papers' claims are about such quantities, not only about the
//! final accuracy: entropy collapse (ETR, DCPO, RiskPO, COPO, HAPO) is a claim about the policy
//! entropy late in training, wasted zero-advantage groups (COPO, D³S, DAPO) about the share of
//! groups with a learning signal, stability (BNPO, GBPO) about the spread of gradient norms.
//! Made final metrics, they get the tables, probability of improvement and paired differences
//! against the baseline that accuracy gets.
use crate::runs::Run;

/// The mean of `metric` over the lines of the last `last_fraction` of a run's steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogMean {
    pub metric: String,
    /// In (0, 1]: 1 averages the whole run.
    pub last_fraction: f64,
    pub higher_is_better: bool,
}

impl LogMean {
    pub fn new(metric: &str, last_fraction: f64, higher_is_better: bool) -> Self {
        Self {
            metric: metric.to_string(),
            last_fraction,
            higher_is_better,
        }
    }

    /// The final-metric name, e.g. `entropy, mean of the last 20% of steps`.
    pub fn name(&self) -> String {
        if self.last_fraction >= 1.0 {
            format!("{}, mean over all steps", self.metric)
        } else {
            let pct = (self.last_fraction * 100.0).round();
            format!("{}, mean of the last {pct}% of steps", self.metric)
        }
    }

    /// The run's mean, or `None` when it logged no finite value in the window. The window is
    /// the lines whose step exceeds `(1 - last_fraction)` of the last logged step, so an
    /// evaluation-only line at step 0 never counts.
    pub fn of(&self, run: &Run) -> Option<f64> {
        let last = run.metrics.iter().map(|r| r.step).max()? as f64;
        let from = last * (1.0 - self.last_fraction.clamp(0.0, 1.0));
        let values: Vec<f64> = run
            .metrics
            .iter()
            .filter(|r| r.step as f64 > from)
            .filter_map(|r| r.values.get(&self.metric).copied())
            .filter(|v| v.is_finite())
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// `runs` with every summary that some run logged added to their final metrics, and the names
/// added (in `summaries`' order) with whether higher is better.
pub fn with_log_means(runs: &[Run], summaries: &[LogMean]) -> (Vec<Run>, Vec<(String, bool)>) {
    let mut runs = runs.to_vec();
    let mut names = Vec::new();
    for summary in summaries {
        let name = summary.name();
        let mut any = false;
        for run in &mut runs {
            if let Some(v) = summary.of(run) {
                run.info.final_metrics.insert(name.clone(), v);
                any = true;
            }
        }
        if any {
            names.push((name, summary.higher_is_better));
        }
    }
    (runs, names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::run_of_lines;

    fn run(lines: &[(u64, f64)]) -> Run {
        let lines: Vec<(u64, [(&str, f64); 1])> =
            lines.iter().map(|&(s, v)| (s, [("entropy", v)])).collect();
        let lines: Vec<(u64, &[(&str, f64)])> = lines.iter().map(|(s, v)| (*s, &v[..])).collect();
        run_of_lines("grpo", &lines)
    }

    #[test]
    fn the_window_is_the_last_share_of_steps_and_skips_non_finite_values() {
        let lines: Vec<(u64, f64)> = (0..=10).map(|s| (s, s as f64)).collect();
        let r = run(&lines);
        // Steps 9 and 10: above 10 * (1 - 0.2) = 8.
        assert_eq!(LogMean::new("entropy", 0.2, true).of(&r), Some(9.5));
        // The whole run leaves out step 0 (the warm start's evaluation line).
        assert_eq!(LogMean::new("entropy", 1.0, true).of(&r), Some(5.5));
        let r = run(&[(1, 1.0), (2, f64::NAN), (3, 3.0)]);
        assert_eq!(LogMean::new("entropy", 1.0, true).of(&r), Some(2.0));
        assert_eq!(LogMean::new("grad_norm_std", 1.0, false).of(&r), None);
    }

    #[test]
    fn summaries_become_named_final_metrics_only_when_logged() {
        let runs = [run(&[(1, 2.0), (2, 4.0)])];
        let (runs, names) = with_log_means(
            &runs,
            &[
                LogMean::new("entropy", 0.5, true),
                LogMean::new("grad_norm_std", 1.0, false),
            ],
        );
        assert_eq!(
            names,
            vec![("entropy, mean of the last 50% of steps".to_string(), true)]
        );
        assert_eq!(runs[0].final_value(&names[0].0), Some(4.0));
    }
}
