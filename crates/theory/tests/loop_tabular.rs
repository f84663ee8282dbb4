//! LOOP (loop.md): extended value iteration against RiverSwim's exact gain, optimism, lazy
//! switching, determinism and settings errors.
mod common;

use common::{assert_deterministic, close, metric, run};
use polopt_envs::tabular::riverswim::{riverswim, RIGHT};
use polopt_envs::tabular::solve::average_optimal;
use polopt_envs::tabular::TabularMdp;
use polopt_theory::loop_tabular::extended_value_iteration;
use polopt_theory::optimism::ConfidenceSet;

/// The true kernel as a confidence set of radius `radius` everywhere.
fn set_around(mdp: &TabularMdp, radius: f64) -> ConfidenceSet {
    let (n, a) = (mdp.n_states(), mdp.n_actions());
    let mut centers = Vec::new();
    for s in 0..n {
        for b in 0..a {
            centers.extend_from_slice(mdp.p(s, b));
        }
    }
    ConfidenceSet::new(n, a, centers, vec![radius; n * a])
}

fn rewards(mdp: &TabularMdp) -> Vec<f64> {
    (0..mdp.n_states())
        .flat_map(|s| (0..mdp.n_actions()).map(move |a| (s, a)))
        .map(|(s, a)| mdp.r(s, a))
        .collect()
}

#[test]
fn evi_with_zero_radius_recovers_riverswim_gain_and_bias() {
    let mdp = riverswim(6).unwrap();
    let plan = extended_value_iteration(
        &set_around(&mdp, 0.0),
        &rewards(&mdp),
        &[0.0; 6],
        1e-10,
        1_000_000,
    );
    assert!(close(plan.gain, 0.428622, 1e-6), "gain {}", plan.gain);
    assert_eq!(plan.policy, vec![RIGHT; 6]);
    let bias = [0.0, 0.714371, 2.041059, 3.455222, 4.881880, 6.310324];
    for (h, want) in plan.bias.iter().zip(bias) {
        assert!(close(*h, want, 1e-5), "bias {:?}", plan.bias);
    }
}

#[test]
fn optimistic_gain_grows_with_the_radius_and_bounds_the_true_gain() {
    let mdp = riverswim(6).unwrap();
    let j_star = average_optimal(&mdp, 1e-12).gain;
    let mut last = j_star - 1e-9;
    for radius in [0.05, 0.2, 0.5, 2.0] {
        let plan = extended_value_iteration(
            &set_around(&mdp, radius),
            &rewards(&mdp),
            &[0.0; 6],
            1e-10,
            1_000_000,
        );
        assert!(
            plan.gain > last,
            "radius {radius}: gain {} <= {last}",
            plan.gain
        );
        last = plan.gain;
    }
    // Radius 2: every state can jump to state 5 and collect r(5, R) = 1 forever.
    assert!(close(last, 1.0, 1e-6), "gain {last}");
}

#[test]
fn lazy_loop_replans_logarithmically_and_ucrl_every_step() {
    let steps = 20_000;
    let lazy = run("loop-riverswim", 0, steps, "").unwrap();
    let eager = run("ucrl-riverswim", 0, steps, "").unwrap();
    // O(SA log T): 12 pairs, each doubling at most log2(T) + 1 times.
    assert!(metric(&lazy, "replans") < 200.0, "{:?}", lazy.final_metrics);
    assert!(metric(&lazy, "switches") <= metric(&lazy, "replans"));
    assert_eq!(metric(&eager, "replans"), steps as f64 + 1.0);
    assert!(metric(&eager, "switches") > metric(&lazy, "switches"));
    assert!(metric(&lazy, "regret").is_finite());
}

#[test]
fn lazy_false_turns_loop_into_ucrl() {
    let a = run("loop-riverswim", 1, 3000, "lazy = false").unwrap();
    let b = run("ucrl-riverswim", 1, 3000, "").unwrap();
    assert_eq!(a, b);
}

#[test]
fn loop_learns_the_optimal_policy_with_known_rewards() {
    let out = run("loop-riverswim", 0, 30_000, "known_rewards = true").unwrap();
    assert!(
        close(metric(&out, "final_policy_gain"), 0.428622, 1e-5),
        "{:?}",
        out.final_metrics
    );
}

#[test]
fn qlearning_stays_near_always_left() {
    let out = run("qlearning-riverswim", 0, 20_000, "").unwrap();
    // Linear regret: about J* − 0.005 per step.
    assert!(
        metric(&out, "regret") > 0.3 * 20_000.0,
        "{:?}",
        out.final_metrics
    );
}

#[test]
fn runs_are_deterministic_in_the_seed() {
    assert_deterministic("loop-riverswim", 5000);
    assert_deterministic("ucrl-riverswim", 2000);
    assert_deterministic("qlearning-riverswim", 5000);
}

#[test]
fn unknown_and_out_of_range_settings_name_their_key() {
    let err = run("loop-riverswim", 0, 10, "delat = 0.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("settings.delat"), "{err}");
    let err = run("loop-riverswim", 0, 10, "delta = 2.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("settings.delta"), "{err}");
}
