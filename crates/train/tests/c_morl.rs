//! C-MORL's learner and runner (issue 16): the tabular PPO gradients against finite
//! differences, the convex-hull classification of Deep Sea Treasure's fronts, determinism per
//! seed, the archive written to the run directory, and key errors.
use polopt_envs::multi_objective::{DeepSeaTreasure, TreasureValues};
use polopt_methods::ObjectiveConfig;
use polopt_theory::{RunSpec, Settings, TheoryRun};
use polopt_train::multi_objective::c_morl::{run_c_morl, run_linear, supported_points};
use polopt_train::multi_objective::tabular_ppo::{loss_and_grads, Barrier, Samples, TabularAgent};
use polopt_train::theory::{load_theory_config, train_theory};

fn agent() -> TabularAgent {
    // Non-uniform tables so that every gradient term is exercised.
    let mut a = TabularAgent::new(5, 3, 2);
    for (k, x) in a.logits.iter_mut().enumerate() {
        *x = ((k * 7 % 11) as f64 - 5.0) * 0.13;
    }
    for (k, v) in a.values.iter_mut().enumerate() {
        *v = (k as f64 * 0.37).sin();
    }
    a
}

/// Observations, actions, old log-probs, advantages and `[objective][sample]` returns.
type Minibatch = (Vec<usize>, Vec<usize>, Vec<f64>, Vec<f64>, Vec<Vec<f64>>);

/// Samples whose old log-probs sit near the current policy's, so that some ratios fall inside
/// the clip and some outside.
fn samples(a: &TabularAgent) -> Minibatch {
    let obs = vec![0, 1, 1, 2, 3, 4, 4, 0];
    let actions = vec![0, 2, 1, 1, 0, 2, 1, 2];
    let old: Vec<f64> = obs
        .iter()
        .zip(&actions)
        .enumerate()
        .map(|(k, (&s, &act))| {
            a.probs(s)[act].ln() + [0.05, -0.3, 0.1, 0.4, -0.02, 0.0, -0.5, 0.15][k]
        })
        .collect();
    let adv = vec![0.8, -1.2, 0.3, 1.5, -0.4, 0.9, -0.7, 0.2];
    let returns = vec![
        vec![1.0, 0.5, -0.2, 2.0, 0.0, 1.1, -0.5, 0.3],
        vec![-3.0, -2.5, -2.0, -1.0, -4.0, -0.5, -1.5, -2.2],
    ];
    (obs, actions, old, adv, returns)
}

#[test]
fn tabular_ppo_gradients_match_finite_differences() {
    let base = agent();
    let (obs, actions, old, adv, returns) = samples(&base);
    let objective = ObjectiveConfig {
        clip_low: 0.2,
        clip_high: 0.2,
        entropy_coef: 0.05,
        ..ObjectiveConfig::default()
    };
    let barrier = Barrier {
        means: vec![-2.0],
        thresholds: vec![-2.2],
        t: 20.0,
        clip: 0.2,
    };
    let eval = |a: &TabularAgent| {
        let s = Samples {
            obs: &obs,
            actions: &actions,
            old_logp: &old,
            advantages: &adv,
            returns: &returns,
        };
        loss_and_grads(a, &s, &objective, Some(&barrier)).unwrap()
    };
    let g = eval(&base);
    assert!(g.metrics.contains_key("barrier"));
    let h = 1e-6;
    for k in 0..base.logits.len() {
        let mut plus = base.clone();
        plus.logits[k] += h;
        let mut minus = base.clone();
        minus.logits[k] -= h;
        let numeric = (eval(&plus).policy_loss - eval(&minus).policy_loss) / (2.0 * h);
        assert!(
            (numeric - g.d_logits[k]).abs() < 1e-6,
            "logit {k}: analytic {} vs numeric {numeric}",
            g.d_logits[k]
        );
    }
    for k in 0..base.values.len() {
        let mut plus = base.clone();
        plus.values[k] += h;
        let mut minus = base.clone();
        minus.values[k] -= h;
        let numeric = (eval(&plus).value_loss - eval(&minus).value_loss) / (2.0 * h);
        assert!(
            (numeric - g.d_values[k]).abs() < 1e-6,
            "value {k}: analytic {} vs numeric {numeric}",
            g.d_values[k]
        );
    }
}

#[test]
fn hull_vertices_of_the_two_deep_sea_treasure_fronts() {
    // In raw units the "concave" values put every point but (20.3, -14) on the hull's
    // vertices ((20.3, -14) is on the edge from (19.6, -13) to (22.4, -17)); the classic
    // "convex" values leave only the two ends.
    let concave = DeepSeaTreasure::new(TreasureValues::Concave).pareto_front();
    let flags = supported_points(&concave);
    let off: Vec<[f64; 2]> = concave
        .iter()
        .zip(&flags)
        .filter(|(_, &f)| !f)
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(off, vec![[20.3, -14.0]]);
    let convex = DeepSeaTreasure::new(TreasureValues::Convex).pareto_front();
    let flags = supported_points(&convex);
    assert_eq!(flags.iter().filter(|&&f| f).count(), 2);
    assert!(flags[0] && flags[flags.len() - 1]);
}

fn run(c_morl: bool, seed: u64, steps: u64) -> TheoryRun {
    let spec = RunSpec {
        seed,
        steps,
        env: "dst-concave".into(),
    };
    let mut settings = Settings::new(toml::Table::new());
    let mut quiet = |_: u64, _: u64| {};
    match c_morl {
        true => run_c_morl(&spec, &mut settings, &mut quiet).unwrap(),
        false => run_linear(&spec, &mut settings, &mut quiet).unwrap(),
    }
}

#[test]
fn runs_are_deterministic_per_seed_and_spend_the_budget() {
    let a = run(true, 3, 60_000);
    assert_eq!(a, run(true, 3, 60_000));
    assert_ne!(a.curve, run(true, 4, 60_000).curve);
    let m = &a.final_metrics;
    // Whole batches of 4 x 128 steps, as many as fit.
    assert_eq!(m["env_steps_used"], (60_000 / 512 * 512) as f64);
    // The archive only ever gains dominance: the final front dominates stage 1's.
    assert!(m["hypervolume"] >= m["stage1_hypervolume"]);
    assert!(m["extension_rounds"] >= 1.0);
    // Every archived point is on the true front (the environment is deterministic and the
    // archive keeps only non-dominated greedy returns), so HV cannot pass the true front's.
    assert!(m["hv_ratio"] <= 1.0 + 1e-12);
    assert!(m["front_points"] <= m["archive_size"]);
    let linear = run(false, 3, 60_000);
    assert_eq!(linear.final_metrics["extension_rounds"], 0.0);
    assert_eq!(
        linear.final_metrics["hypervolume"],
        linear.final_metrics["stage1_hypervolume"]
    );
}

#[test]
fn the_runner_writes_the_archive_and_rejects_unknown_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_string();
    let sets = |extra: &[&str]| {
        let mut v = vec![
            "method.preset=c-morl-dst".to_string(),
            format!("run.out_dir={out}"),
            "theory.steps=20000".to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cfg = load_theory_config(None, &sets(&[])).unwrap();
    let summary = train_theory(&cfg, false).unwrap();
    let csv = std::fs::read_to_string(summary.run_dir.join("pareto_front.csv")).unwrap();
    let archived = csv.lines().filter(|l| l.starts_with("archive,")).count();
    assert_eq!(archived as f64, summary.final_metrics["archive_size"]);
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("true_front,")).count(),
        10
    );

    let bad = load_theory_config(None, &sets(&["theory.settings.betta=0.5"])).unwrap();
    let err = train_theory(&bad, false).unwrap_err().to_string();
    assert!(err.contains("betta"), "{err}");
    let bad = load_theory_config(None, &sets(&["theory.settings.reference=[0.0]"])).unwrap();
    let err = train_theory(&bad, false).unwrap_err().to_string();
    assert!(err.contains("reference"), "{err}");
    let err = load_theory_config(None, &sets(&["theory.env=riverswim"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("theory.env"), "{err}");
}
