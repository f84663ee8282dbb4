//! EXPO's parts (`algorithms/expo.md`): the spec's test vector for the edit and the on-the-fly
//! selector, the scaled log-prob against a finite-difference density, the DDPM's two modes,
//! and the bimodal-bandit check.
mod common;

use polopt_train::expo::bandit_check::{run, BanditCheckConfig, Mode};
use polopt_train::expo::ddpm::{DiffusionConfig, DiffusionPolicy, Schedule};
use polopt_train::expo::edit::{apply_edit, scaled_log_prob, tanh_gaussian_log_prob};
use polopt_train::expo::otf::select;
use polopt_train::offpolicy::{
    evaluate_checkpoint, resolve_offpolicy, train_offpolicy, OffPolicyOptions,
};
use polopt_train::optim::AdamW;
use polopt_train::seeds::with_torch_seed;
use tch::{Kind, Tensor};

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).view([-1])).unwrap()
}

#[test]
fn spec_test_vector_edits_and_picks_half() {
    // Base candidates [0.1, 0.5, −0.3]; the first two edited with β = 0.05, raw u = [0.2, −1.0].
    let base = Tensor::from_slice(&[0.1f64, 0.5, -0.3]).view([3, 1]);
    let u = Tensor::from_slice(&[0.2f64, -1.0]).view([2, 1]);
    let edited = apply_edit(&base.narrow(0, 0, 2), &u, 0.05);
    let e = values(&edited);
    assert!(
        (e[0] - 0.109869).abs() < 1e-6 && (e[1] - 0.461920).abs() < 1e-6,
        "{e:?}"
    );
    let candidates = Tensor::cat(&[base, edited], 0).view([1, 5, 1]);
    let q = -(&candidates - 0.6).square().view([1, 5]);
    let want = [-0.25, -0.01, -0.81, -0.240229, -0.019066];
    for (got, want) in values(&q).iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    let (chosen, index) = select(&candidates, &q);
    assert_eq!(index.int64_value(&[0]), 1);
    assert!((chosen.double_value(&[0, 0]) - 0.5).abs() < 1e-12);
}

#[test]
fn scaled_log_prob_is_the_density_of_the_scaled_edit() {
    // p(βδ) must integrate to 1 over βδ ∈ (−β, β): a Riemann sum of exp(log p) in x = β tanh(u).
    let (mean, log_std, beta) = (0.3f64, -0.2f64, 0.2f64);
    let steps = 20_000;
    let h = 2.0 * beta / steps as f64;
    let x: Vec<f64> = (0..steps).map(|i| -beta + (i as f64 + 0.5) * h).collect();
    let u =
        Tensor::from_slice(&x.iter().map(|x| (x / beta).atanh()).collect::<Vec<_>>()).view([-1, 1]);
    let lp = tanh_gaussian_log_prob(&u, &Tensor::from(mean), &Tensor::from(log_std));
    let scaled = scaled_log_prob(&lp, 1, beta);
    let total: f64 = values(&scaled).iter().map(|l| l.exp() * h).sum();
    assert!((total - 1.0).abs() < 2e-3, "{total}");
    // And the shift is exactly k log β.
    let d = values(&(lp - scaled));
    assert!(d.iter().all(|d| (d - beta.ln()).abs() < 1e-9));
}

#[test]
fn vp_schedule_is_decreasing_and_ends_near_pure_noise() {
    let s = Schedule::vp(10);
    assert_eq!(s.steps(), 10);
    assert!(s.alpha_bars.windows(2).all(|w| w[1] < w[0]));
    assert!(s.alpha_bars[9] < 0.01, "{}", s.alpha_bars[9]);
    assert!(s.betas.iter().all(|b| *b > 0.0 && *b < 1.0));
}

#[test]
fn ddpm_base_policy_reproduces_both_modes() {
    let data = polopt_envs::offline::bandit::expo_bandit(2000, 0);
    let polopt_envs::offline::Actions::Continuous(actions) = &data.actions else {
        unreachable!()
    };
    let actions = Tensor::from_slice(actions).view([-1, 1]);
    let policy = with_torch_seed(0, "ddpm-test", 0, || {
        DiffusionPolicy::new(DiffusionConfig {
            ema: 0.01,
            ..DiffusionConfig::default()
        })
    });
    let mut opt = AdamW::new(&policy.vs, 1e-3, 0.0);
    for step in 0..1500 {
        with_torch_seed(0, "ddpm-test", step + 1, || {
            let idx = Tensor::randint(2000, [256], (Kind::Int64, tch::Device::Cpu));
            let batch = actions.index_select(0, &idx);
            let obs = Tensor::zeros([256, 1], (Kind::Float, tch::Device::Cpu));
            opt.guarded_step(&policy.imitation_loss(&obs, &batch), 10.0);
            policy.update_ema();
        });
    }
    let samples = with_torch_seed(0, "ddpm-test", 99_999, || {
        values(&policy.sample(
            &Tensor::zeros([1, 1], (Kind::Float, tch::Device::Cpu)),
            1000,
            false,
        ))
    });
    let share = |c: f64| samples.iter().filter(|x| (*x - c).abs() < 0.15).count() as f64 / 1000.0;
    let (low, high) = (share(-0.6), share(0.5));
    // Data: 70 % / 30 %; a T = 10 DDPM blurs the modes a little but keeps both.
    assert!((0.5..0.85).contains(&low), "mass near -0.6: {low}");
    assert!((0.15..0.45).contains(&high), "mass near 0.5: {high}");
    assert!(
        low + high > 0.75,
        "little mass at the modes: {low} + {high}"
    );
    assert!(share(0.0) < 0.1, "mass between the modes");
}

#[test]
fn bandit_check_otf_concentrates_near_the_best_action() {
    // Shortened for a test: 700 updates at lr 1e-3, a faster EMA for the acting base,
    // narrower nets (the spec's settings run in examples/expo_bandit.rs).
    let config = BanditCheckConfig {
        updates: 700,
        eval_every: 700,
        lr: 1e-3,
        base_ema: 0.02,
        hidden: 64,
        batch: 128,
        ..BanditCheckConfig::default()
    };
    let evals = run(&config, &mut |_| {}).unwrap();
    let last = evals.last().unwrap();
    eprintln!("{last:?}");
    assert!(last.mean_reward > 0.9, "{last:?}");
    assert!(last.near_best > 0.8, "{last:?}");
    let base = run(
        &BanditCheckConfig {
            mode: Mode::BaseOnly,
            ..config.clone()
        },
        &mut |_| {},
    )
    .unwrap();
    let base_last = base.last().unwrap();
    assert!(base_last.mean_reward < 0.7, "{base_last:?}");
}

fn loop_config(
    dir: &std::path::Path,
    name: &str,
    preset: &str,
    extra: &[&str],
) -> polopt_train::offpolicy::OffPolicyConfig {
    let mut sets = vec![
        format!("method.preset={preset}"),
        format!("run.name={name}"),
        format!("run.out_dir={}", dir.display()),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    resolve_offpolicy(&toml::Table::new(), &sets).unwrap()
}

/// Every EXPO preset in the off-policy loop: stopped at a checkpoint and resumed, a run writes
/// the same metrics as one run straight through (base, EMA, edit, critic, targets, temperature,
/// moments, replay buffer; on Pendulum the episode is mid-way at the checkpoint and the offline
/// medium split joins every batch). The straight run's final checkpoint, evaluated as
/// `polopt eval` does, gives the run's own final evaluation to the last digit.
#[test]
fn expo_presets_resume_exactly() {
    for preset in [
        "expo-bandit",
        "expo-bandit-base",
        "expo-pendulum",
        "expo-pendulum-base",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let extra = [
            "algo.total_steps=40",
            "algo.learning_starts=5",
            "algo.log_every=10",
            "run.checkpoint_every=20",
            "algo.batch_size=16",
            "model.hidden=[16, 16]",
            "expo.base_hidden=[16]",
            "expo.base_samples=4",
            "expo.edited_samples=2",
            "expo.offline_transitions=400",
            "eval.every=20",
            "eval.episodes=2",
        ];
        let straight = loop_config(dir.path(), "straight", preset, &extra);
        let summary = train_offpolicy(&straight, OffPolicyOptions::default()).unwrap();
        let split = loop_config(dir.path(), "split", preset, &extra);
        let first = train_offpolicy(
            &split,
            OffPolicyOptions {
                stop_after: Some(20),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(first.env_steps, 20);
        train_offpolicy(
            &split,
            OffPolicyOptions {
                resume: true,
                ..Default::default()
            },
        )
        .unwrap();
        let timing = ["sps", "eval_time_s"];
        let a = common::metric_rows(&dir.path().join("straight"), &timing);
        let b = common::metric_rows(&dir.path().join("split"), &timing);
        assert_eq!(a.len(), 4, "{preset}");
        assert!(a[3].get("base_loss").is_some(), "{preset}: updates ran");
        let with_critic = !preset.ends_with("-base");
        assert_eq!(a[3].get("critic_loss").is_some(), with_critic, "{preset}");
        assert_eq!(a, b, "{preset}");
        // `polopt eval` of the final checkpoint: the run's final evaluation, every eval/* key.
        let (_, ckpt) = polopt_train::run_dir::latest_checkpoint(&summary.run_dir).unwrap();
        let (metrics, step) = evaluate_checkpoint(&straight, &ckpt).unwrap();
        assert_eq!(step, 40);
        for (k, v) in &metrics {
            assert_eq!(summary.final_metrics.get(k), Some(v), "{preset}: {k}");
        }
        assert_eq!(metrics.len(), 6, "{preset}: {metrics:?}");
    }
}

#[test]
fn expo_config_errors_name_the_key() {
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        resolve_offpolicy(&toml::Table::new(), &sets)
            .unwrap_err()
            .to_string()
    };
    let e = err(&["method.preset=expo-bandit", "expo.beta=0"]);
    assert!(e.contains("expo.beta"), "{e}");
    let e = err(&["method.preset=expo-bandit", "expo.edited_samples=9"]);
    assert!(e.contains("expo.edited_samples"), "{e}");
    let e = err(&["method.preset=expo-bandit", "expo.bogus=1"]);
    assert!(e.contains("bogus"), "{e}");
    // A dataset that does not fit the environment is refused when the agent is built.
    let dir = tempfile::tempdir().unwrap();
    let cfg = loop_config(
        dir.path(),
        "x",
        "expo-bandit",
        &["expo.offline_data=medium", "expo.offline_transitions=50"],
    );
    let e = polopt_train::offpolicy::trainer::build_agent(&cfg, 1, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expo.offline_data"), "{e}");
}
