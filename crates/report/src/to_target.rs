//! Cost to a target: how many steps, samples and seconds a run took until a metric first
//! reached a value (the sample-efficiency claims of T-PPO, D³S, ADORA and R³ are of this kind).
//!
//! For each run the metric lines are read in order; the first line where `metric >= value`
//! (or `<=` for a lower-is-better target) gives
//! - `steps`: its step;
//! - `samples`: the sum of the `samples` field over the lines up to it (responses generated,
//!   logged by the group-RL loop), or else the `env_steps` field at it (control loops log the
//!   running count);
//! - `wall_s`: the sum of `step_time_s` over the lines up to it.
//!
//! A run that never reaches the target is counted at its whole budget (the same sums over all
//! its lines), a lower bound on its true cost, so that a method failing on some seeds cannot
//! look cheaper by dropping them; the report says how many runs reached the target. A bound
//! only argues against a method: one whose whole budget is cheaper than the baseline's cost
//! (fewer responses per step) can look cheaper without ever reaching the target, so a
//! difference in its favour is meaningful only when its runs reached it. The three
//! costs become final metrics of the run (lower is better), so the final-metric tables, the
//! probability of improvement and the paired differences treat them like any other.
use std::fmt;
use std::str::FromStr;

use crate::runs::Run;

/// `METRIC>=VALUE` or `METRIC<=VALUE` (`METRIC=VALUE` means `>=`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub metric: String,
    pub value: f64,
    /// True for `<=`: the target is reached from above (a loss, a cost).
    pub lower_is_better: bool,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (metric, value, lower_is_better) = if let Some((m, v)) = text.split_once("<=") {
            (m, v, true)
        } else if let Some((m, v)) = text.split_once(">=") {
            (m, v, false)
        } else if let Some((m, v)) = text.split_once('=') {
            (m, v, false)
        } else {
            return Err(format!(
                "target {text:?}: expected METRIC>=VALUE or METRIC<=VALUE, e.g. eval/pass@1>=0.5"
            ));
        };
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("target {text:?}: {:?} is not a number", value.trim()))?;
        let metric = metric.trim();
        if metric.is_empty() || !value.is_finite() {
            return Err(format!(
                "target {text:?}: needs a metric name and a finite value"
            ));
        }
        Ok(Target {
            metric: metric.to_string(),
            value,
            lower_is_better,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.lower_is_better { "<=" } else { ">=" };
        write!(f, "{}{op}{}", self.metric, self.value)
    }
}

/// What one run spent until the target (or in all, when it never got there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub reached: bool,
    pub steps: f64,
    pub samples: Option<f64>,
    pub wall_s: Option<f64>,
}

/// The run's cost to `target`; `None` when it never logged the target's metric.
pub fn cost_to_target(run: &Run, target: &Target) -> Option<Cost> {
    if !run.logs(&target.metric) {
        return None;
    }
    let (mut samples, mut wall) = (None::<f64>, None::<f64>);
    let mut env_steps = None;
    let mut last_step = 0.0;
    for record in &run.metrics {
        if let Some(n) = record.values.get("samples") {
            *samples.get_or_insert(0.0) += n;
        }
        if let Some(s) = record.values.get("step_time_s") {
            *wall.get_or_insert(0.0) += s;
        }
        env_steps = record.values.get("env_steps").copied().or(env_steps);
        last_step = record.step as f64;
        let hit = record
            .get(&target.metric)
            .is_some_and(|v| match target.lower_is_better {
                true => v <= target.value,
                false => v >= target.value,
            });
        if hit {
            return Some(Cost {
                reached: true,
                steps: last_step,
                samples: samples.or(env_steps),
                wall_s: wall,
            });
        }
    }
    Some(Cost {
        reached: false,
        steps: last_step,
        samples: samples.or(env_steps),
        wall_s: wall,
    })
}

/// The final-metric names of `target`'s three costs.
pub fn cost_metrics(target: &Target) -> [String; 3] {
    ["steps", "samples", "wall_s"].map(|what| format!("{what} to {target}"))
}

/// `runs` with their costs to every target added to their final metrics, the names of those
/// metrics (all lower is better), and per target and preset a note of how many runs reached it.
pub fn with_costs(runs: &[Run], targets: &[Target]) -> (Vec<Run>, Vec<String>, Vec<String>) {
    let mut runs = runs.to_vec();
    let mut names = Vec::new();
    let mut notes = Vec::new();
    for target in targets {
        let [steps, samples, wall] = cost_metrics(target);
        let mut tally: Vec<(String, usize, usize)> = Vec::new();
        for run in &mut runs {
            let Some(cost) = cost_to_target(run, target) else {
                continue;
            };
            let finals = &mut run.info.final_metrics;
            finals.insert(steps.clone(), cost.steps);
            if let Some(n) = cost.samples {
                finals.insert(samples.clone(), n);
            }
            if let Some(s) = cost.wall_s {
                finals.insert(wall.clone(), s);
            }
            match tally.iter_mut().find(|t| t.0 == run.info.preset) {
                Some(t) => {
                    t.1 += cost.reached as usize;
                    t.2 += 1;
                }
                None => tally.push((run.info.preset.clone(), cost.reached as usize, 1)),
            }
        }
        let counts: Vec<String> = tally
            .iter()
            .map(|(preset, hit, n)| format!("{preset} {hit}/{n}"))
            .collect();
        if !counts.is_empty() {
            notes.push(format!(
                "target {target}: runs that reached it: {}; a run that did not is counted at its \
                 whole budget (a lower bound on its cost)",
                counts.join(", ")
            ));
        }
        names.extend([steps, samples, wall]);
    }
    (runs, names, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::run_of_lines as run;

    #[test]
    fn targets_parse_and_bad_ones_name_the_text() {
        let t: Target = "eval/pass@1>=0.5".parse().unwrap();
        assert_eq!(
            (t.metric.as_str(), t.value, t.lower_is_better),
            ("eval/pass@1", 0.5, false)
        );
        assert_eq!("eval/pass@1=0.5".parse::<Target>().unwrap(), t);
        assert!("loss<=0.1".parse::<Target>().unwrap().lower_is_better);
        assert_eq!(t.to_string(), "eval/pass@1>=0.5");
        for bad in ["eval/pass@1", "eval/pass@1>=high", ">=0.5", "x>=inf"] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_first_line_at_the_target_gives_the_summed_samples_and_seconds() {
        let r = run(
            "grpo",
            &[
                (0, &[("eval/pass@1", 0.2)]),
                (1, &[("samples", 256.0), ("step_time_s", 2.0)]),
                (
                    2,
                    &[
                        ("samples", 512.0),
                        ("step_time_s", 3.0),
                        ("eval/pass@1", 0.4),
                    ],
                ),
                (3, &[("samples", 256.0), ("step_time_s", 2.5)]),
                (
                    4,
                    &[
                        ("samples", 256.0),
                        ("step_time_s", 2.5),
                        ("eval/pass@1", 0.6),
                    ],
                ),
                (
                    5,
                    &[
                        ("samples", 256.0),
                        ("step_time_s", 9.0),
                        ("eval/pass@1", 0.7),
                    ],
                ),
            ],
        );
        let target: Target = "eval/pass@1>=0.5".parse().unwrap();
        let cost = cost_to_target(&r, &target).unwrap();
        assert_eq!(
            cost,
            Cost {
                reached: true,
                steps: 4.0,
                samples: Some(1280.0),
                wall_s: Some(10.0)
            }
        );
        // Never reached: the whole budget, flagged.
        let far: Target = "eval/pass@1>=0.9".parse().unwrap();
        let cost = cost_to_target(&r, &far).unwrap();
        assert!(!cost.reached);
        assert_eq!(
            (cost.steps, cost.samples, cost.wall_s),
            (5.0, Some(1536.0), Some(19.0))
        );
        // Reached by the warm start itself: nothing spent.
        let low: Target = "eval/pass@1>=0.1".parse().unwrap();
        assert_eq!(cost_to_target(&r, &low).unwrap().steps, 0.0);
        assert!(cost_to_target(&r, &"entropy>=1".parse().unwrap()).is_none());
    }

    #[test]
    fn control_runs_count_their_env_steps() {
        let r = run(
            "ppo",
            &[
                (1, &[("env_steps", 2048.0), ("eval/return_mean", 50.0)]),
                (2, &[("env_steps", 4096.0), ("eval/return_mean", 200.0)]),
            ],
        );
        let cost = cost_to_target(&r, &"eval/return_mean>=195".parse().unwrap()).unwrap();
        assert_eq!((cost.samples, cost.wall_s), (Some(4096.0), None));
    }

    #[test]
    fn costs_become_final_metrics_with_a_note_of_who_reached_the_target() {
        let lines: &[(u64, &[(&str, f64)])] = &[
            (1, &[("samples", 10.0), ("eval/pass@1", 0.3)]),
            (2, &[("samples", 10.0), ("eval/pass@1", 0.6)]),
        ];
        let slow: &[(u64, &[(&str, f64)])] = &[(1, &[("samples", 10.0), ("eval/pass@1", 0.3)])];
        let runs = [run("a", lines), run("b", slow)];
        let target: Target = "eval/pass@1>=0.5".parse().unwrap();
        let (runs, names, notes) = with_costs(&runs, &[target]);
        assert_eq!(names[1], "samples to eval/pass@1>=0.5");
        assert_eq!(runs[0].final_value(&names[1]), Some(20.0));
        assert_eq!(runs[1].final_value(&names[1]), Some(10.0));
        assert!(notes[0].contains("a 1/1, b 0/1"), "{}", notes[0]);
    }
}
