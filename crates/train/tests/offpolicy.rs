//! The off-policy trainer (TD3, SAC): gradients of every loss against central finite
//! differences (float64), the squashed-Gaussian density against the numeric derivative of its
//! CDF, the NaN guard, exact resume (replay buffer included) for every preset, config errors.
//! Whole file: seconds.
mod common;

use std::path::Path;

use polopt_methods::presets::{Family, PRESETS};
use polopt_train::offpolicy::nets::{
    squashed_gaussian_log_prob, DeterministicActor, SquashedGaussianActor, TwinCritic,
};
use polopt_train::offpolicy::replay::Batch;
use polopt_train::offpolicy::sac::{sac_actor_loss, temperature_loss};
use polopt_train::offpolicy::td3::{td3_actor_loss, twin_critic_loss};
use polopt_train::offpolicy::trainer::build_agent;
use polopt_train::offpolicy::{
    evaluate_checkpoint, resolve_offpolicy, train_offpolicy, OffPolicyOptions,
};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const OBS: i64 = 3;
const ACT: i64 = 2;
const B: i64 = 5;

/// A fixed float64 batch (values from a seeded generator).
fn batch() -> Batch {
    tch::manual_seed(7);
    let d = (Kind::Double, Device::Cpu);
    Batch {
        obs: Tensor::randn([B, OBS], d),
        actions: Tensor::rand([B, ACT], d) * 2.0 - 1.0,
        rewards: Tensor::randn([B], d),
        next_obs: Tensor::randn([B, OBS], d),
        terminated: Tensor::from_slice(&[0.0f64, 1.0, 0.0, 0.0, 1.0]),
    }
}

fn double_store() -> VarStore {
    VarStore::new(Device::Cpu)
}

/// Checks d loss / d theta of every variable of `vs` (up to 6 entries each) against central
/// differences; `loss` must rebuild the graph from the current weights.
fn check_gradients(vs: &VarStore, loss: impl Fn() -> Tensor) {
    for (_, p) in vs.variables() {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    loss().backward();
    let mut checked = 0;
    for (name, p) in vs.variables() {
        let grad = p.grad().view([-1]);
        let flat = p.view([-1]);
        let n = flat.size()[0];
        for k in (0..n).step_by((n as usize / 6).max(1)).take(6) {
            let original = flat.double_value(&[k]);
            let h = 1e-6;
            let at = |v: f64| {
                tch::no_grad(|| {
                    let _ = flat.get(k).fill_(v);
                });
                tch::no_grad(|| loss().double_value(&[]))
            };
            let fd = (at(original + h) - at(original - h)) / (2.0 * h);
            tch::no_grad(|| {
                let _ = flat.get(k).fill_(original);
            });
            let analytic = grad.double_value(&[k]);
            let tol = 1e-6 * (1.0 + fd.abs());
            assert!(
                (fd - analytic).abs() < tol,
                "{name}[{k}]: finite difference {fd} vs autograd {analytic}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} entries checked");
}

#[test]
fn twin_critic_loss_gradient_matches_finite_differences() {
    tch::manual_seed(1);
    let mut vs = double_store();
    let critic = TwinCritic::new(&vs, OBS, ACT, &[8, 8]);
    vs.double();
    let b = batch();
    let target = Tensor::randn([B], (Kind::Double, Device::Cpu));
    check_gradients(&vs, || twin_critic_loss(&critic, &b, &target));
    // The loss itself: sum over both critics of the mean squared TD error.
    let (q1, q2) = critic.forward(&b.obs, &b.actions);
    let by_hand =
        (&q1 - &target).square().mean(Kind::Double) + (&q2 - &target).square().mean(Kind::Double);
    let loss = twin_critic_loss(&critic, &b, &target);
    assert!((loss.double_value(&[]) - by_hand.double_value(&[])).abs() < 1e-12);
}

#[test]
fn td3_actor_loss_gradient_matches_finite_differences() {
    tch::manual_seed(2);
    let mut actor_vs = double_store();
    let actor = DeterministicActor::new(&actor_vs, OBS, &[8, 8], ACT);
    actor_vs.double();
    let mut critic_vs = double_store();
    let critic = TwinCritic::new(&critic_vs, OBS, ACT, &[8, 8]);
    critic_vs.double();
    let b = batch();
    check_gradients(&actor_vs, || td3_actor_loss(&actor, &critic, &b.obs));
}

#[test]
fn sac_actor_loss_gradient_matches_finite_differences() {
    tch::manual_seed(3);
    let mut actor_vs = double_store();
    let actor = SquashedGaussianActor::new(&actor_vs, OBS, &[8, 8], ACT);
    actor_vs.double();
    let mut critic_vs = double_store();
    let critic = TwinCritic::new(&critic_vs, OBS, ACT, &[8, 8]);
    critic_vs.double();
    let b = batch();
    let eps = Tensor::randn([B, ACT], (Kind::Double, Device::Cpu));
    check_gradients(&actor_vs, || {
        let (a, logp) = actor.sample(&b.obs, &eps);
        sac_actor_loss(&critic, &b.obs, &a, &logp, 0.3)
    });
}

#[test]
fn temperature_loss_gradient_raises_alpha_when_entropy_is_below_target() {
    let log_alpha = Tensor::from_slice(&[0.0f64]).set_requires_grad(true);
    // Entropy -mean(logp) = -1.5 < target -1: alpha must grow, i.e. the gradient is negative.
    let logp = Tensor::from_slice(&[1.0f64, 2.0]);
    let loss = temperature_loss(&log_alpha, &logp, -1.0);
    loss.backward();
    let g = log_alpha.grad().double_value(&[0]);
    assert!((g - (-(1.5 - 1.0))).abs() < 1e-12, "{g}");
}

/// Phi(x) through erf, elementwise.
fn normal_cdf(x: &Tensor) -> Tensor {
    ((x / 2f64.sqrt()).erf() + 1.0) * 0.5
}

#[test]
fn squashed_gaussian_log_prob_matches_the_numeric_density_of_tanh_of_a_gaussian() {
    let (mu, sigma) = (0.4f64, 0.7f64);
    let mean = Tensor::from_slice(&[mu]).view([1, 1]);
    let log_std = Tensor::from_slice(&[sigma.ln()]).view([1, 1]);
    // P(tanh(U) <= a) = Phi((atanh(a) - mu) / sigma); its derivative is the density.
    let cdf =
        |a: f64| normal_cdf(&Tensor::from_slice(&[(a.atanh() - mu) / sigma])).double_value(&[0]);
    let mut integral = 0.0;
    let n = 4000;
    for i in 0..n {
        let a = -1.0 + (i as f64 + 0.5) * 2.0 / n as f64;
        let u = Tensor::from_slice(&[a.atanh()]).view([1, 1]);
        let density = squashed_gaussian_log_prob(&u, &mean, &log_std)
            .double_value(&[0])
            .exp();
        integral += density * 2.0 / n as f64;
        if i % 400 == 0 {
            let h = 1e-5;
            let numeric = (cdf(a + h) - cdf(a - h)) / (2.0 * h);
            assert!(
                (numeric - density).abs() < 1e-5 * (1.0 + numeric),
                "a = {a}: numeric density {numeric} vs {density}"
            );
        }
    }
    assert!(
        (integral - 1.0).abs() < 1e-3,
        "density integrates to {integral}"
    );
    // Dimensions are independent: the log-density of a 2-D action is the sum of the two.
    let u2 = Tensor::from_slice(&[0.3f64, -1.2]).view([1, 2]);
    let m2 = Tensor::from_slice(&[0.1f64, 0.5]).view([1, 2]);
    let s2 = Tensor::from_slice(&[-0.2f64, 0.3]).view([1, 2]);
    let joint = squashed_gaussian_log_prob(&u2, &m2, &s2).double_value(&[0]);
    let parts: f64 = (0..2)
        .map(|d| {
            squashed_gaussian_log_prob(
                &u2.narrow(1, d, 1),
                &m2.narrow(1, d, 1),
                &s2.narrow(1, d, 1),
            )
            .double_value(&[0])
        })
        .sum();
    assert!((joint - parts).abs() < 1e-12);
    // Far in the tail tanh(u) rounds to 1, yet the log-density stays finite (no log(0)).
    let far = Tensor::from_slice(&[30.0f32]).view([1, 1]);
    let lp = squashed_gaussian_log_prob(
        &far,
        &Tensor::zeros([1, 1], (Kind::Float, Device::Cpu)),
        &Tensor::zeros([1, 1], (Kind::Float, Device::Cpu)),
    );
    assert!(lp.double_value(&[0]).is_finite());
}

fn config(
    dir: &Path,
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
    resolve_offpolicy(&toml::Table::new(), &sets).expect("valid config")
}

#[test]
fn a_nan_reward_is_skipped_and_moves_no_weight() {
    let dir = tempfile::tempdir().unwrap();
    for preset in ["td3-pendulum", "sac-pendulum"] {
        let cfg = config(dir.path(), "nan", preset, &["model.hidden=[8]"]);
        let mut agent = build_agent(&cfg, 3, 1).unwrap();
        let before = polopt_train::offpolicy::agent::state_tensors(agent.as_mut());
        let d = (Kind::Float, Device::Cpu);
        let b = Batch {
            obs: Tensor::ones([4, 3], d),
            actions: Tensor::zeros([4, 1], d),
            rewards: Tensor::from_slice(&[0.0f32, f32::NAN, 0.0, 0.0]),
            next_obs: Tensor::ones([4, 3], d),
            terminated: Tensor::zeros([4], d),
        };
        let mut rng = polopt_train::seeds::stream(0, "t", 0);
        let err = agent
            .update(&b, &mut rng, 2)
            .expect_err("NaN must be caught");
        assert_eq!(err.what, "critic loss", "{preset}");
        let after = polopt_train::offpolicy::agent::state_tensors(agent.as_mut());
        for (k, t) in &before {
            if k.starts_with("critic.")
                || k.starts_with("actor.")
                || k.starts_with("critic_target.")
            {
                assert!(t.equal(&after[k]), "{preset}: {k} moved");
            }
        }
    }
}

/// Every off-policy preset: a run stopped at a checkpoint and resumed writes the same metrics
/// as one run straight through (networks, targets, moments, replay buffer, environment
/// mid-episode, delay counters); its final checkpoint evaluated apart gives the same final
/// evaluation.
#[test]
fn stop_and_resume_reproduces_the_uninterrupted_run_for_every_preset() {
    let presets: Vec<&str> = PRESETS
        .iter()
        // EXPO's presets have their own resume test (tests/expo.rs).
        .filter(|p| p.family == Family::OffPolicy && !p.name.starts_with("expo"))
        .map(|p| p.name)
        .collect();
    assert_eq!(presets.len(), 6);
    let data_dir = tempfile::tempdir().unwrap();
    let bandit = bandit_file(data_dir.path());
    for preset in presets {
        let dir = tempfile::tempdir().unwrap();
        let offline = preset.starts_with("td3-bc") || preset.starts_with("a2pr");
        let dataset = format!("offline.dataset={bandit:?}");
        let mut extra = vec![
            "model.vae_hidden=[16, 16]",
            "algo.total_steps=600",
            "algo.learning_starts=150",
            "algo.log_every=100",
            "run.checkpoint_every=300",
            "algo.batch_size=16",
            "algo.train_freq=50",
            "algo.gradient_steps=5",
            "model.hidden=[16, 16]",
            "eval.every=200",
            "eval.episodes=1",
        ];
        if offline {
            extra.extend(["env.id=Bandit1D-v0", dataset.as_str()]);
        }
        let straight = config(dir.path(), "straight", preset, &extra);
        let summary =
            train_offpolicy(&straight, OffPolicyOptions::default()).expect("uninterrupted run");
        // `polopt eval` of the final checkpoint reproduces the run's final evaluation (offline
        // runs: with the dataset's state statistics recomputed).
        let (_, ckpt) = polopt_train::run_dir::latest_checkpoint(&summary.run_dir).unwrap();
        let (metrics, step) = evaluate_checkpoint(&straight, &ckpt).expect("checkpoint eval");
        assert_eq!(step, 600, "{preset}");
        assert_eq!(metrics.len(), 6, "{preset}: {metrics:?}");
        for (k, v) in &metrics {
            assert_eq!(summary.final_metrics.get(k), Some(v), "{preset}: {k}");
        }
        let split = config(dir.path(), "split", preset, &extra);
        let first = train_offpolicy(
            &split,
            OffPolicyOptions {
                stop_after: Some(300),
                ..Default::default()
            },
        )
        .expect("first half");
        assert_eq!(first.env_steps, 300, "{preset}");
        train_offpolicy(
            &split,
            OffPolicyOptions {
                resume: true,
                ..Default::default()
            },
        )
        .expect("resumed half");
        let timing = ["sps", "eval_time_s"];
        let a = common::metric_rows(&dir.path().join("straight"), &timing);
        let b = common::metric_rows(&dir.path().join("split"), &timing);
        assert_eq!(a.len(), 6, "{preset}");
        assert!(a[5].get("critic_loss").is_some(), "{preset}: updates ran");
        assert_eq!(a, b, "{preset}");
    }
}

/// The spec's 1-D bandit data (a2pr.md, "Small CPU check"), 2000 transitions, 30 % good.
fn bandit_file(dir: &Path) -> String {
    let path = dir.join("bandit.safetensors");
    polopt_envs::offline::bandit::a2pr_bandit(2000, 0.3, 0)
        .unwrap()
        .save(&path)
        .unwrap();
    path.display().to_string()
}

#[test]
fn offline_runs_check_their_dataset_against_the_environment() {
    let data_dir = tempfile::tempdir().unwrap();
    let bandit = bandit_file(data_dir.path());
    let dir = tempfile::tempdir().unwrap();
    // The bandit's data evaluated on Pendulum: refused, naming the key.
    let cfg = config(
        dir.path(),
        "mismatch",
        "td3-bc-pendulum",
        &[&format!("offline.dataset={bandit:?}")],
    );
    let err = train_offpolicy(&cfg, OffPolicyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("offline.dataset") && err.contains("Bandit1D"),
        "{err}"
    );
    let cfg = config(
        dir.path(),
        "missing",
        "a2pr-pendulum",
        &["offline.dataset=\"/nonexistent.safetensors\""],
    );
    let err = train_offpolicy(&cfg, OffPolicyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("offline.dataset"), "{err}");
}

/// A short A2PR run on the bandit: the VAE learns only from the positive-advantage part of the
/// batch, and the policy reaches the spec's mean reward >= 0.95 (a2pr.md's check, at a test's
/// budget: 1500 steps instead of 20k).
#[test]
fn a2pr_on_the_bandit_masks_part_of_the_data_and_learns() {
    let data_dir = tempfile::tempdir().unwrap();
    let bandit = bandit_file(data_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "bandit",
        "a2pr-pendulum",
        &[
            "env.id=Bandit1D-v0",
            &format!("offline.dataset={bandit:?}"),
            "algo.total_steps=1500",
            "algo.log_every=500",
            "run.checkpoint_every=1500",
            "algo.batch_size=64",
            "model.hidden=[32, 32]",
            "model.vae_hidden=[32, 32]",
            "eval.every=0",
            "eval.episodes=200",
        ],
    );
    let summary = train_offpolicy(&cfg, OffPolicyOptions::default()).unwrap();
    let rows = common::metric_rows(&summary.run_dir, &["sps", "eval_time_s"]);
    let last = rows.last().unwrap();
    let frac = |k: &str| last.get(k).and_then(|v| v.as_f64()).unwrap();
    assert!(
        frac("vae_mask_frac") > 0.05 && frac("vae_mask_frac") < 0.95,
        "{last}"
    );
    // Reward 1 - (a - s/2)^2: a uniform policy averages about 0.58, the optimum 1.
    let ret = summary.final_metrics["eval/return_mean"];
    assert!(ret >= 0.95, "eval return {ret}");
}

#[test]
fn config_errors_name_the_key() {
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        resolve_offpolicy(&toml::Table::new(), &sets)
            .expect_err("invalid config")
            .to_string()
    };
    let e = err(&["method.preset=sac-pendulum", "algo.bogus=1"]);
    assert!(e.contains("algo") && e.contains("bogus"), "{e}");
    let e = err(&["method.preset=sac-pendulum", "algo.tau=2.0"]);
    assert!(e.contains("algo.tau"), "{e}");
    let e = err(&["method.preset=td3-pendulum", "algo.kind=ddpg"]);
    assert!(e.contains("algo.kind"), "{e}");
    let e = err(&["method.preset=td3-pendulum", "env.id=CartPole-v1"]);
    assert!(e.contains("env.id") && e.contains("continuous"), "{e}");
    let e = err(&["method.preset=sac-pendulum", "run.checkpoint_every=150"]);
    assert!(e.contains("run.checkpoint_every"), "{e}");
    let e = err(&["method.preset=ppo-pendulum"]);
    assert!(
        e.contains("method.preset") && e.contains("off-policy"),
        "{e}"
    );
    let e = err(&["method.preset=td3-bc-pendulum", "offline.dataset=\"\""]);
    assert!(e.contains("offline.dataset"), "{e}");
    let e = err(&[
        "method.preset=sac-pendulum",
        "offline.dataset=x.safetensors",
    ]);
    assert!(e.contains("offline.dataset"), "{e}");
    let e = err(&["method.preset=sac-pendulum", "model.hidden=[]"]);
    assert!(e.contains("model.hidden"), "{e}");
}
