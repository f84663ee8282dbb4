//! HDPO (`algorithms/hdpo.md`): the tensor simulators against the f64 reference simulators,
//! the spec's pathwise-gradient vector, finite-difference checks, and the runner's
//! determinism, exact resume and NaN guard.
use std::collections::BTreeMap;
use std::path::Path;

use polopt_envs::inventory::scenarios::{sample_serial, sample_store, sample_warehouse};
use polopt_envs::inventory::serial::SerialProblem;
use polopt_envs::inventory::store::{base_stock_order, simulate, StoreProblem};
use polopt_envs::inventory::warehouse::WarehouseProblem;
use polopt_train::hdpo::config::PolicyKind;
use polopt_train::hdpo::policy::Policy;
use polopt_train::hdpo::rollout::{costs, pathwise_loss, ScenarioTensors};
use polopt_train::hdpo::sim::{f64s, TensorSim};
use polopt_train::hdpo::{load_inventory_config, train_inventory, InventoryOptions};
use polopt_train::optim::{AdamW, StepOutcome};
use polopt_train::seeds::with_torch_seed;
use tch::{Kind, Tensor};

fn set_param(policy: &Policy, name: &str, values: &[f64]) {
    let mut vars = policy.vs.variables();
    let var = vars.get_mut(name).expect("parameter exists");
    tch::no_grad(|| var.copy_(&f64s(values).view(var.size().as_slice())));
}

fn tensor_costs(sim: &TensorSim, policy: &Policy, data: &ScenarioTensors) -> Vec<f64> {
    let c = tch::no_grad(|| costs(sim, policy, data));
    Vec::<f64>::try_from(c.contiguous().view([-1])).unwrap()
}

#[test]
fn tensor_store_simulator_matches_the_reference_period_by_period() {
    for problem in [
        StoreProblem::backlogged(4, 9.0),
        StoreProblem::lost_sales(2, 4.0),
    ] {
        let s = sample_store(&problem, 16, 40, 3);
        let sim = TensorSim::Store(problem);
        let policy = Policy::new(PolicyKind::BaseStock, &sim, &[4]);
        set_param(&policy, "level", &[27.3]);
        let got = tensor_costs(&sim, &policy, &ScenarioTensors::new(&s));
        for i in 0..s.count {
            let mut x = s.initial_of(i).to_vec();
            let d: Vec<f64> = (0..s.periods).map(|t| s.demand_at(i, t, 0)).collect();
            let want = simulate(&problem, &mut x, &d, |x| base_stock_order(x, 27.3));
            for (t, w) in want.iter().enumerate() {
                let g = got[i * s.periods + t];
                assert!(
                    (g - w).abs() < 1e-9,
                    "{problem:?} scenario {i} t {t}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn tensor_serial_simulator_matches_the_reference_under_echelon_stock() {
    let problem = SerialProblem::four_echelon();
    let s = sample_serial(&problem, 8, 60, 4);
    let sim = TensorSim::Serial(problem.clone());
    let policy = Policy::new(PolicyKind::EchelonStock, &sim, &[4]);
    // theta = 0: every level step is softplus(10); levels counted from the store up.
    let step = (10f64.exp() + 1.0).ln();
    let levels: Vec<f64> = (0..4).map(|k| step * (4 - k) as f64).collect();
    let got = tensor_costs(&sim, &policy, &ScenarioTensors::new(&s));
    for i in 0..s.count {
        let mut x = s.initial_of(i).to_vec();
        for t in 0..s.periods {
            let a = problem.echelon_orders(&x, &levels);
            let want = problem.step(&mut x, &a, s.demand_at(i, t, 0));
            let g = got[i * s.periods + t];
            assert!((g - want).abs() < 1e-9, "scenario {i} t {t}: {g} vs {want}");
        }
    }
}

#[test]
fn tensor_warehouse_simulator_matches_the_reference_under_a_network_policy() {
    let problem = WarehouseProblem::sample(3, 5);
    let s = sample_warehouse(&problem, 8, 30, 6);
    let sim = TensorSim::warehouse(problem.clone());
    // An untrained network: whatever it orders, both simulators must charge the same.
    let policy = with_torch_seed(0, "test-init", 0, || {
        Policy::new(PolicyKind::Symmetric, &sim, &[8])
    });
    let data = ScenarioTensors::new(&s);
    let got = tensor_costs(&sim, &policy, &data);
    for i in 0..s.count {
        let mut x = s.initial_of(i).to_vec();
        for t in 0..s.periods {
            let a = tch::no_grad(|| policy.actions(&f64s(&x).view([1, -1])));
            let a = Vec::<f64>::try_from(a.view([-1])).unwrap();
            let want = problem.step(&mut x, a[0], &a[1..], s.demands(i, t));
            let g = got[i * s.periods + t];
            assert!((g - want).abs() < 1e-8, "scenario {i} t {t}: {g} vs {want}");
        }
    }
}

/// Spec vector: one period's cost on hand S = 6, demands {3, 5, 8}, h = 1, p = 9: mean 22/3,
/// dL/dS = (1 + 1 - 9) / 3. With L = 1 the order of period 0 is on hand in period 1.
#[test]
fn pathwise_gradient_of_the_spec_vector() {
    let problem = StoreProblem::backlogged(1, 9.0);
    let sim = TensorSim::Store(problem);
    let policy = Policy::new(PolicyKind::BaseStock, &sim, &[4]);
    set_param(&policy, "level", &[6.0]);
    let data = ScenarioTensors {
        initial: f64s(&[0.0, 0.0, 0.0]).view([3, 1]),
        demand: f64s(&[0.0, 3.0, 0.0, 5.0, 0.0, 8.0]).view([3, 2, 1]),
    };
    let total = costs(&sim, &policy, &data)
        .sum_dim_intlist(1, false, Kind::Double)
        .mean(Kind::Double);
    assert!((total.double_value(&[]) - 22.0 / 3.0).abs() < 1e-12);
    total.backward();
    let grad = policy.vs.variables()["level"].grad().double_value(&[0]);
    assert!((grad + 7.0 / 3.0).abs() < 1e-12, "{grad}");
}

fn loss_at(sim: &TensorSim, policy: &Policy, data: &ScenarioTensors) -> f64 {
    tch::no_grad(|| pathwise_loss(sim, policy, data, 1).1)
}

#[test]
fn pathwise_gradients_match_finite_differences() {
    let problem = StoreProblem::backlogged(4, 9.0);
    let s = sample_store(&problem, 64, 50, 8);
    let data = ScenarioTensors::new(&s);
    let sim = TensorSim::Store(problem);
    // Base-stock: d cost / d S (piecewise linear; a small step crosses no kink).
    let policy = Policy::new(PolicyKind::BaseStock, &sim, &[4]);
    for level in [22.0, 29.585, 35.0] {
        set_param(&policy, "level", &[level]);
        let (loss, _) = pathwise_loss(&sim, &policy, &data, 1);
        loss.backward();
        let var = &policy.vs.variables()["level"];
        let grad = var.grad().double_value(&[0]);
        let _ = var.grad().zero_();
        let h = 1e-6;
        set_param(&policy, "level", &[level + h]);
        let up = loss_at(&sim, &policy, &data);
        set_param(&policy, "level", &[level - h]);
        let down = loss_at(&sim, &policy, &data);
        let fd = (up - down) / (2.0 * h);
        assert!(
            (grad - fd).abs() < 1e-5 * (1.0 + fd.abs()),
            "S={level}: {grad} vs {fd}"
        );
    }
    // The vanilla net: the directional derivative along a random direction of all weights.
    let policy = with_torch_seed(1, "test-init", 0, || {
        Policy::new(PolicyKind::Vanilla, &sim, &[16, 16])
    });
    let (loss, _) = pathwise_loss(&sim, &policy, &data, 1);
    loss.backward();
    let vars: Vec<Tensor> = policy.vs.trainable_variables();
    let dirs: Vec<Tensor> = with_torch_seed(2, "test-direction", 0, || {
        vars.iter().map(|v| v.randn_like()).collect()
    });
    let analytic: f64 = vars
        .iter()
        .zip(&dirs)
        .map(|(v, d)| (v.grad() * d).sum(Kind::Double).double_value(&[]))
        .sum();
    let shift = |eps: f64| {
        tch::no_grad(|| {
            for (v, d) in vars.iter().zip(&dirs) {
                let _ = v.shallow_clone().g_add_(&(d * eps));
            }
        })
    };
    let h = 1e-6;
    shift(h);
    let up = loss_at(&sim, &policy, &data);
    shift(-2.0 * h);
    let down = loss_at(&sim, &policy, &data);
    shift(h);
    let fd = (up - down) / (2.0 * h);
    assert!(
        (analytic - fd).abs() < 1e-4 * (1.0 + fd.abs()),
        "{analytic} vs {fd}"
    );
}

#[test]
fn a_non_finite_loss_moves_no_parameter() {
    let problem = StoreProblem::backlogged(1, 9.0);
    let sim = TensorSim::Store(problem);
    let policy = Policy::new(PolicyKind::BaseStock, &sim, &[4]);
    let data = ScenarioTensors {
        initial: f64s(&[0.0]).view([1, 1]),
        demand: f64s(&[1.0, f64::NAN]).view([1, 2, 1]),
    };
    let mut opt = AdamW::new(&policy.vs, 0.5, 0.0);
    let (loss, _) = pathwise_loss(&sim, &policy, &data, 1);
    assert!(matches!(
        opt.guarded_step(&loss, f64::INFINITY),
        StepOutcome::NonFinite { .. }
    ));
    assert_eq!(policy.vs.variables()["level"].double_value(&[0]), 10.0);
}

fn small(out: &Path, name: &str, preset: &str, extra: &[&str]) -> Vec<String> {
    let mut sets = vec![
        format!("run.out_dir={:?}", out.display().to_string()),
        format!("run.name={name}"),
        format!("method.preset={preset}"),
        "train.scenarios=256".into(),
        "train.batch=64".into(),
        "train.periods=20".into(),
        "train.epochs=6".into(),
        "eval.every=2".into(),
        "eval.dev_scenarios=64".into(),
        "eval.dev_periods=40".into(),
        "eval.dev_ignore=20".into(),
        "eval.test_scenarios=16".into(),
        "eval.test_periods=200".into(),
        "eval.test_ignore=100".into(),
        "run.checkpoint_every=2".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    sets
}

/// metrics.jsonl without the clock.
fn metrics_without_time(dir: &Path) -> Vec<BTreeMap<String, serde_json::Value>> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut m: BTreeMap<String, serde_json::Value> = serde_json::from_str(l).unwrap();
            m.remove("wall_s");
            m
        })
        .collect()
}

#[test]
fn same_seed_same_metrics_and_a_resumed_run_matches_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    for preset in ["hdpo-backlog", "reinforce-backlog"] {
        let run = |name: &str, seed: u64, opts: InventoryOptions| {
            let seed = format!("run.seed={seed}");
            let cfg =
                load_inventory_config(None, &small(dir.path(), name, preset, &[&seed])).unwrap();
            train_inventory(&cfg, opts).unwrap()
        };
        let a = run(&format!("{preset}-a"), 1, InventoryOptions::default());
        let b = run(&format!("{preset}-b"), 1, InventoryOptions::default());
        let other = run(&format!("{preset}-c"), 2, InventoryOptions::default());
        let (ma, mb) = (
            metrics_without_time(&a.run_dir),
            metrics_without_time(&b.run_dir),
        );
        assert_eq!(ma.len(), 6);
        assert_eq!(ma, mb, "{preset}: same seed, same metrics");
        assert_ne!(
            ma,
            metrics_without_time(&other.run_dir),
            "{preset}: seeds differ"
        );
        let name = format!("{preset}-r");
        let stopped = run(
            &name,
            1,
            InventoryOptions {
                stop_after: Some(3),
                ..Default::default()
            },
        );
        assert!(stopped.final_metrics.is_empty());
        let resumed = run(
            &name,
            1,
            InventoryOptions {
                resume: true,
                ..Default::default()
            },
        );
        assert_eq!(
            metrics_without_time(&resumed.run_dir),
            ma,
            "{preset}: resume is exact"
        );
        let mut fa = a.final_metrics.clone();
        let mut fr = resumed.final_metrics.clone();
        for m in [&mut fa, &mut fr] {
            m.remove("wall_s");
            m.remove("seconds_to_tol");
        }
        assert_eq!(fa, fr);
    }
}

#[test]
fn hdpo_learns_the_optimal_base_stock_level() {
    // Spec small CPU check: L = 1, p = 9, learned S within 0.2 of S* = 12.8998.
    let dir = tempfile::tempdir().unwrap();
    let sets = small(
        dir.path(),
        "bs",
        "hdpo-basestock-backlog",
        &[
            "inventory.lead_time=1",
            "train.scenarios=1024",
            "train.batch=256",
            "train.periods=50",
            "train.epochs=40",
            "eval.dev_scenarios=512",
            "eval.dev_periods=60",
        ],
    );
    let cfg = load_inventory_config(None, &sets).unwrap();
    let s = train_inventory(&cfg, InventoryOptions::default()).unwrap();
    let level = s.final_metrics["policy/level"];
    assert!((level - 12.8998).abs() < 0.2, "S = {level}");
    assert!(
        s.final_metrics["test/gap_pct"] < 1.0,
        "{:?}",
        s.final_metrics
    );
}

#[test]
fn compare_plans_inventory_cells_and_refuses_mixing_them_with_control() {
    use polopt_train::compare::{plan, CompareError, CompareSpec};
    let tmp = tempfile::tempdir().unwrap();
    let spec = |presets: &[&str], sets: &[&str]| CompareSpec {
        presets: presets.iter().map(|p| p.to_string()).collect(),
        task: Some("lost-sales".into()),
        seeds: 2,
        steps: Some(7),
        sets: sets.iter().map(|s| s.to_string()).collect(),
        dir: tmp.path().to_path_buf(),
        threads: 1,
    };
    let cells = plan(&spec(&["reinforce-backlog", "hdpo-backlog"], &[])).expect("plan");
    assert_eq!(cells.len(), 4);
    let cfg = load_inventory_config(None, &cells[3].sets).unwrap();
    assert_eq!(cfg.method.preset, "hdpo-backlog");
    assert_eq!(cfg.train.epochs, 7, "--steps sets train.epochs");
    assert_eq!(cfg.run.seed, 1);
    assert_eq!(
        format!("{:?}", cfg.inventory.problem),
        "LostSales",
        "--task sets the problem"
    );
    let err = plan(&spec(&["hdpo-backlog", "ppo-cartpole"], &[])).unwrap_err();
    assert!(matches!(err, CompareError::MixedFamilies { .. }), "{err}");
    let err = plan(&spec(&["hdpo-backlog"], &["train.bogus=1"])).unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
}

/// The serial preset is measured against the Clark–Scarf optimum (10.7339 per period, levels
/// 83.18 / 72.82 / 49.00 / 32.36 upstream first), and the reference on the dev scenarios is
/// exactly what the tensor echelon-stock policy at those levels costs there.
#[test]
fn hdpo_serial_is_measured_against_the_clark_scarf_optimum() {
    use polopt_envs::inventory::clark_scarf::echelon_optimum;
    use polopt_train::hdpo::problem::setup;
    use polopt_train::hdpo::rollout::evaluate;
    let dir = tempfile::tempdir().unwrap();
    let sets = small(dir.path(), "serial", "hdpo-serial", &[]);
    let cfg = load_inventory_config(None, &sets).unwrap();
    let s = setup(&cfg);
    let optimum = s.optimal_cost.unwrap();
    assert!((optimum - 10.7339).abs() < 1e-4, "{optimum}");
    let opt = echelon_optimum(&SerialProblem::four_echelon(), 0.01).unwrap();
    // theta_k = softplus^{-1}(S_k - S_{k+1}) - 10 (the store's step is its own level).
    let theta: Vec<f64> = (0..4)
        .map(|k| {
            let step = opt.levels[k] - opt.levels.get(k + 1).unwrap_or(&0.0);
            step.exp_m1().ln() - 10.0
        })
        .collect();
    let policy = Policy::new(PolicyKind::EchelonStock, &s.sim, &[4]);
    set_param(&policy, "theta", &theta);
    let dev = ScenarioTensors::new(&s.dev);
    let got = evaluate(&s.sim, &policy, &dev, cfg.eval.dev_ignore, 1);
    let want = s.dev_reference.unwrap();
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
    let run = train_inventory(&cfg, InventoryOptions::default()).unwrap();
    for key in ["optimal_cost", "test/gap_pct", "test/gap_known_pct"] {
        assert!(run.final_metrics[key].is_finite(), "{key}");
    }
}
