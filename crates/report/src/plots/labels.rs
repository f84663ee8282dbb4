//! What each metric's axis says and where it stops: titles with units, and the range a
//! metric cannot leave.

use crate::runs::STEP;

/// A human label with units for a metric name, e.g. `entropy` -> "policy entropy (nats/token)".
/// Unknown names are returned unchanged so any logged field can be plotted.
pub fn metric_label(name: &str) -> String {
    // The trainer's eval/pass@1 is greedy decoding; pass@k (k > 1) and sampled_pass@1 are
    // unbiased estimates from samples at the eval temperature.
    if name == "eval/pass@1" {
        return "eval pass@1, greedy (fraction of problems solved)".to_string();
    }
    if let Some(k) = name.strip_prefix("eval/pass@") {
        return format!("eval pass@{k}, sampled (fraction of problems solved)");
    }
    if let Some(k) = name.strip_prefix("eval/sampled_pass@") {
        return format!("eval pass@{k}, sampled (fraction of problems solved)");
    }
    let known = match name {
        STEP => "RL step (one rollout batch and its updates)",
        "env_steps" => "environment steps (transitions)",
        "reward_mean" => "mean reward per response",
        "accuracy" => "training accuracy (fraction correct)",
        "entropy" => "policy entropy (nats/token)",
        "kl" => "KL to reference policy (nats/token)",
        "approx_kl" => "approx. KL to the rollout policy (nats/token)",
        "clip_frac_low" => "clipped fraction, low side (fraction of tokens)",
        "clip_frac_high" => "clipped fraction, high side (fraction of tokens)",
        "response_len_mean" => "mean response length (tokens)",
        "grad_norm" => "gradient norm (L2, before clipping)",
        "tokens_per_s" => "throughput (tokens/s)",
        "step_time_s" => "step time (s)",
        "episodic_return" => "episodic return (sum of rewards)",
        "eval/return" => "evaluation return (sum of rewards)",
        "eval/return_mean" => "evaluation return (mean over episodes)",
        "episode_return_mean" => "training episodic return (sum of rewards)",
        "eval/response_len" => "eval response length (tokens)",
        "truncated_frac" => "truncated responses (fraction)",
        _ => return name.to_string(),
    };
    known.to_string()
}

/// The range a metric cannot leave, `(floor, ceiling)`: the y axis is clipped to it, so a
/// fraction near 0 is not drawn on an axis running to -1, and a length never shows negative
/// ticks. Unknown metrics are unbounded.
pub fn metric_bounds(name: &str) -> (Option<f64>, Option<f64>) {
    let fraction = name.starts_with("eval/pass@")
        || name.starts_with("eval/sampled_pass@")
        || name.starts_with("clip_frac")
        || matches!(name, "accuracy" | "truncated_frac");
    let non_negative = matches!(
        name,
        "entropy"
            | "kl"
            | "approx_kl"
            | "response_len_mean"
            | "eval/response_len"
            | "grad_norm"
            | "tokens_per_s"
            | "step_time_s"
            | "env_steps"
            | STEP
    );
    if fraction {
        (Some(0.0), Some(1.0))
    } else if non_negative {
        (Some(0.0), None)
    } else {
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_carry_units() {
        assert_eq!(
            metric_label("eval/pass@4"),
            "eval pass@4, sampled (fraction of problems solved)"
        );
        assert!(metric_label("eval/pass@1").contains("greedy"));
        assert!(metric_label("entropy").contains("nats/token"));
        assert_eq!(metric_label("my_custom_metric"), "my_custom_metric");
    }
}
