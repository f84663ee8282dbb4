//! Summaries of the training log as final metrics: the mean of a per-step quantity over the
//! last part of a run. The seed papers' claims are about such quantities, not only about the
//! final accuracy: entropy collapse (ETR, DCPO, RiskPO, COPO, HAPO) is a claim about the policy
//! entropy late in training, wasted zero-advantage groups (COPO, D³S, DAPO) about the share of
//! groups with a learning signal, stability (BNPO, GBPO) about the spread of gradient norms.
//! Made final metrics, they get the tables, probability of improvement and paired differences
//! against the baseline that accuracy gets.
use crate::runs::Run;

/// The mean of `metric` (or of its per-step ratio to another logged quantity) over the lines
/// of the last `last_fraction` of a run's steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogMean {
    pub metric: String,
    /// Divide each step's value by this quantity of the same line (lines where it is not
    /// positive are left out): a scale-free version, e.g. the spread of the gradient norms
    /// relative to their mean, which does not grow just because a method's gradients are larger.
    #[serde(default)]
    pub per: Option<String>,
    /// In (0, 1]: 1 averages the whole run.
    pub last_fraction: f64,
    pub higher_is_better: bool,
}

impl LogMean {
    pub fn new(metric: &str, last_fraction: f64, higher_is_better: bool) -> Self {
        Self {
            metric: metric.to_string(),
            per: None,
            last_fraction,
            higher_is_better,
        }
    }

    /// The same summary of `metric / per`, step by step.
    pub fn relative_to(mut self, per: &str) -> Self {
        self.per = Some(per.to_string());
        self
    }

    /// The final-metric name, e.g. `entropy, mean of the last 20% of steps` or
    /// `grad_norm_std / grad_norm, mean over all steps`.
    pub fn name(&self) -> String {
        let quantity = match &self.per {
            Some(per) => format!("{} / {per}", self.metric),
            None => self.metric.clone(),
        };
        if self.last_fraction >= 1.0 {
            format!("{quantity}, mean over all steps")
        } else {
            let pct = (self.last_fraction * 100.0).round();
            format!("{quantity}, mean of the last {pct}% of steps")
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
            .filter_map(|r| {
                let value = *r.values.get(&self.metric)?;
                match &self.per {
                    None => Some(value),
                    Some(per) => r.values.get(per).filter(|&&d| d > 0.0).map(|d| value / d),
                }
            })
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
    fn a_relative_summary_divides_step_by_step_and_skips_steps_without_a_positive_divisor() {
        let lines: [(u64, &[(&str, f64)]); 3] = [
            (1, &[("grad_norm_std", 1.0), ("grad_norm", 4.0)]),
            (2, &[("grad_norm_std", 3.0), ("grad_norm", 2.0)]),
            (3, &[("grad_norm_std", 5.0), ("grad_norm", 0.0)]),
        ];
        let r = run_of_lines("grpo", &lines);
        let cv = LogMean::new("grad_norm_std", 1.0, false).relative_to("grad_norm");
        // (1/4 + 3/2) / 2: the mean of the ratios, not the ratio of the means (9/6).
        assert_eq!(cv.of(&r), Some(0.875));
        assert_eq!(cv.name(), "grad_norm_std / grad_norm, mean over all steps");
        // Doubling every advantage doubles both norms: the relative spread does not move.
        let doubled: Vec<(u64, Vec<(&str, f64)>)> = lines
            .iter()
            .map(|(s, kv)| (*s, kv.iter().map(|&(k, v)| (k, 2.0 * v)).collect()))
            .collect();
        let doubled: Vec<(u64, &[(&str, f64)])> =
            doubled.iter().map(|(s, kv)| (*s, &kv[..])).collect();
        let r2 = run_of_lines("grpo", &doubled);
        assert_eq!(cv.of(&r2), cv.of(&r));
        assert!(
            LogMean::new("grad_norm_std", 1.0, false).of(&r2)
                != LogMean::new("grad_norm_std", 1.0, false).of(&r)
        );
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
