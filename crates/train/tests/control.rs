//! The control trainer: loss kernels against the shared objective, network init and
//! log-probs, config errors, exact resume, and a short run that learns. Whole file: seconds.
mod common;

use std::fs;
use std::path::Path;

use polopt_methods::objective::{
    clipped_surrogate, ClipBounds, Divergence, PolicyKernel, PolicyObjective,
};
use polopt_methods::ObjectiveConfig;
use polopt_train::control::mlp::{gaussian_log_prob, ActorCritic, Head};
use polopt_train::control::ppo::{ppo_policy_loss, PolicyBatch};
use polopt_train::control::{resolve_control, train_control, ControlOptions};
use serde_json::Value;
use tch::{Kind, Tensor};

fn objective(entropy_coef: f64) -> PolicyObjective {
    PolicyObjective::new(ObjectiveConfig {
        aggregation: polopt_methods::objective::Aggregation::TokenMean,
        entropy_coef,
        ..Default::default()
    })
    .expect("valid objective")
}

fn sample_batch() -> (Tensor, Tensor, Tensor, Tensor) {
    let logp = Tensor::from_slice(&[-0.1f32, -0.9, -0.4, -2.0, -0.7, -0.05, -1.3, -0.2]);
    let old = Tensor::from_slice(&[-0.3f32, -0.5, -0.4, -1.5, -1.2, -0.1, -1.0, -0.6]);
    let adv = Tensor::from_slice(&[1.0f32, -1.0, 0.5, -2.0, 1.5, -0.3, 0.0, 2.0]);
    let ent = Tensor::from_slice(&[0.6f32, 0.5, 0.69, 0.3, 0.1, 0.4, 0.2, 0.65]);
    (logp, old, adv, ent)
}

#[test]
fn ppo_loss_is_the_shared_clipped_surrogate_plus_entropy_bonus() {
    let (logp, old, adv, ent) = sample_batch();
    let out = ppo_policy_loss(
        &objective(0.01),
        &PolicyBatch {
            logp: &logp,
            old_logp: &old,
            advantages: &adv,
            entropy: &ent,
        },
    );
    let ratio = (&logp - &old).exp();
    let shared = clipped_surrogate(&ratio, &adv, &ClipBounds::constant(0.2, 0.2), None);
    let want = shared.per_token_loss.mean(Kind::Float) - ent.mean(Kind::Float) * 0.01;
    let diff = (out.loss - want).abs().double_value(&[]);
    assert!(diff < 1e-7, "{diff}");
    let low = shared
        .clipped_low
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[]);
    assert!((out.metrics["clip_frac_low"] - low).abs() < 1e-7);
}

#[test]
fn spec_clipped_surrogate_vectors_through_the_control_kernel() {
    // ppo-baseline.md: min(rho A, clip(rho) A) for eps = 0.2.
    for (rho, a, want) in [
        (1.3f64, 1.0f64, 1.2f64),
        (1.3, -1.0, -1.3),
        (0.7, 1.0, 0.7),
        (0.7, -1.0, -0.8),
        (1.1, 2.0, 2.2),
    ] {
        let logp = Tensor::from_slice(&[rho.ln()]);
        let zero = Tensor::from_slice(&[0.0f64]);
        let adv = Tensor::from_slice(&[a]);
        let out = ppo_policy_loss(
            &objective(0.0),
            &PolicyBatch {
                logp: &logp,
                old_logp: &zero,
                advantages: &adv,
                entropy: &zero,
            },
        );
        let got = -out.loss.double_value(&[]);
        assert!((got - want).abs() < 1e-9, "rho {rho} A {a}: {got}");
    }
}

#[test]
fn bpo_kernel_with_hinge_gives_exactly_ppos_gradients_in_the_control_loss() {
    let (logp0, old, adv, ent) = sample_batch();
    let grad = |bpo: bool| {
        let logp = logp0.detach().set_requires_grad(true);
        let b = PolicyBatch {
            logp: &logp,
            old_logp: &old,
            advantages: &adv,
            entropy: &ent,
        };
        let mut objective = objective(0.0);
        if bpo {
            objective.config.kernel = PolicyKernel::BoundedRatio;
            objective.config.divergence = Divergence::Hinge;
        }
        let out = ppo_policy_loss(&objective, &b);
        out.loss.backward();
        logp.grad()
    };
    let diff = (grad(true) - grad(false)).abs().max().double_value(&[]);
    assert!(diff < 1e-7, "{diff}");
}

#[test]
fn orthogonal_init_has_the_cleanrl_gains_and_zero_biases() {
    // Under the process-wide RNG lock, so that other tests' seeded runs are not shifted.
    let ac = polopt_train::seeds::with_torch_seed(0, "test-init", 0, || {
        ActorCritic::new(4, Head::Categorical { n: 2 }, &[64, 64], 0.0)
    });
    let gram = |w: &Tensor| {
        let (rows, cols) = (w.size()[0], w.size()[1]);
        if rows >= cols {
            w.transpose(0, 1).matmul(w)
        } else {
            w.matmul(&w.transpose(0, 1))
        }
    };
    let check = |w: &Tensor, gain: f64| {
        let g = gram(w);
        let eye = Tensor::eye(g.size()[0], (Kind::Float, tch::Device::Cpu)) * gain * gain;
        let err = (g - eye).abs().max().double_value(&[]);
        assert!(err < 1e-4 * gain.max(1.0) * 2.0, "gain {gain}: {err}");
    };
    let actor = ac.actor().layers();
    check(&actor[0].0, 2f64.sqrt());
    check(&actor[1].0, 2f64.sqrt());
    check(&actor[2].0, 0.01);
    let critic = ac.critic().layers();
    check(&critic[0].0, 2f64.sqrt());
    check(&critic[2].0, 1.0);
    for (_, bias) in actor.iter().chain(&critic) {
        assert_eq!(bias.abs().max().double_value(&[]), 0.0);
    }
}

#[test]
fn gaussian_log_prob_matches_the_closed_form_and_its_derivative() {
    let mean = Tensor::from_slice(&[0.3f64, -1.0]).view([1, 2]);
    let log_std = Tensor::from_slice(&[-0.5f64, 0.2]);
    let a = Tensor::from_slice(&[0.1f64, 0.4]).view([1, 2]);
    let got = gaussian_log_prob(&mean, &log_std, &a).double_value(&[0]);
    let closed = |m: [f64; 2]| -> f64 {
        let (s, x) = ([(-0.5f64).exp(), 0.2f64.exp()], [0.1, 0.4]);
        (0..2)
            .map(|d| {
                -((x[d] - m[d]) * (x[d] - m[d])) / (2.0 * s[d] * s[d])
                    - s[d].ln()
                    - 0.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .sum()
    };
    assert!((got - closed([0.3, -1.0])).abs() < 1e-12);
    // d logp / d mu_0 by central differences equals (a - mu) / sigma^2.
    let h = 1e-6;
    let fd = (closed([0.3 + h, -1.0]) - closed([0.3 - h, -1.0])) / (2.0 * h);
    let m = mean.detach().set_requires_grad(true);
    gaussian_log_prob(&m, &log_std, &a)
        .sum(Kind::Double)
        .backward();
    let analytic = m.grad().double_value(&[0, 0]);
    assert!((fd - analytic).abs() < 1e-6, "{fd} vs {analytic}");
}

fn config(
    dir: &Path,
    name: &str,
    preset: &str,
    extra: &[&str],
) -> polopt_train::control::ControlConfig {
    let mut sets = vec![
        format!("method.preset={preset}"),
        format!("run.name={name}"),
        format!("run.out_dir={}", dir.display()),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    resolve_control(&toml::Table::new(), &sets).expect("valid config")
}

/// Metrics lines without the wall-clock fields, which differ between any two runs.
fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &common::CONTROL_TIMING)
}

fn assert_resume_is_exact(preset: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let straight = config(dir.path(), "straight", preset, extra);
    train_control(&straight, ControlOptions::default()).expect("uninterrupted run");
    let split = config(dir.path(), "split", preset, extra);
    let first = train_control(
        &split,
        ControlOptions {
            stop_after: Some(3),
            ..Default::default()
        },
    )
    .expect("first half");
    assert_eq!(first.updates, 3);
    train_control(
        &split,
        ControlOptions {
            resume: true,
            ..Default::default()
        },
    )
    .expect("resumed half");
    let (a, b) = (
        metric_lines(&dir.path().join("straight")),
        metric_lines(&dir.path().join("split")),
    );
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
}

#[test]
fn stop_and_resume_reproduces_the_uninterrupted_discrete_run() {
    // 6 updates of 3 envs x 40 steps: episodes run across update and checkpoint boundaries.
    assert_resume_is_exact(
        "ppo-cartpole",
        &[
            "algo.total_steps=720",
            "env.num_envs=3",
            "algo.rollout_steps=40",
            "algo.epochs=2",
            "algo.minibatches=3",
            "eval.every=2",
            "eval.episodes=2",
            "run.checkpoint_every=100",
        ],
    );
}

#[test]
fn stop_and_resume_reproduces_a_normalised_gaussian_bpo_run() {
    // Pendulum: Gaussian head, observation and reward normalisers carried in the checkpoint.
    assert_resume_is_exact(
        "ppo-pendulum",
        &[
            "method.objective.kernel=bounded_ratio",
            "algo.median_advantage=true",
            "algo.total_steps=360",
            "env.num_envs=2",
            "algo.rollout_steps=30",
            "algo.epochs=2",
            "algo.minibatches=2",
            "eval.every=3",
            "eval.episodes=1",
            "run.checkpoint_every=100",
        ],
    );
}

#[test]
fn short_ppo_run_on_cartpole_improves_the_episode_return() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "learn",
        "ppo-cartpole",
        &["algo.total_steps=12288", "eval.every=0", "eval.episodes=5"],
    );
    let summary = train_control(&cfg, ControlOptions::default()).expect("run");
    let rows = metric_lines(&summary.run_dir);
    let ret = |r: &Value| r["episode_return_mean"].as_f64().unwrap_or(f64::NAN);
    let early = ret(&rows[0]);
    let late: f64 = rows[rows.len() - 3..].iter().map(ret).sum::<f64>() / 3.0;
    assert!(
        late > 2.0 * early && late > 60.0,
        "early {early}, late {late}"
    );
    let info: Value =
        serde_json::from_str(&fs::read_to_string(summary.run_dir.join("run.json")).unwrap())
            .unwrap();
    assert!(info["final"]["eval/return_mean"].is_number());
    assert_eq!(info["status"], "finished");
}

#[test]
fn a2c_and_reinforce_presets_run() {
    let dir = tempfile::tempdir().unwrap();
    for (preset, steps) in [("a2c-acrobot", "400"), ("reinforce-cartpole", "300")] {
        let cfg = config(
            dir.path(),
            preset,
            preset,
            &[&format!("algo.total_steps={steps}"), "eval.episodes=1"],
        );
        let s = train_control(&cfg, ControlOptions::default()).expect(preset);
        assert!(s.env_steps >= 300, "{preset}: {}", s.env_steps);
        assert!(s.final_metrics["eval/return_mean"].is_finite());
    }
}

#[test]
fn config_errors_name_the_key() {
    let err = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        resolve_control(&toml::Table::new(), &sets)
            .expect_err("invalid config")
            .to_string()
    };
    let e = err(&["method.preset=ppo-cartpole", "algo.bogus=1"]);
    assert!(e.contains("algo") && e.contains("bogus"), "{e}");
    let e = err(&["method.preset=ppo-cartpole", "algo.lr=2.0"]);
    assert!(e.contains("algo.lr"), "{e}");
    let e = err(&["method.preset=ppo-cartpole", "env.num_envs=four"]);
    assert!(e.contains("env.num_envs"), "{e}");
    let e = err(&["method.preset=ppo-cartpole", "env.id=CartPole-v9"]);
    assert!(e.contains("env.id") && e.contains("CartPole-v9"), "{e}");
    let e = err(&["method.preset=ppo-cartpole", "algo.kind=trpo"]);
    assert!(e.contains("algo.kind"), "{e}");
    let e = err(&["method.preset=grpo"]);
    assert!(e.contains("method.preset") && e.contains("control"), "{e}");
    let e = err(&["method.preset=ppo-cartpole", "method.credit.gae_lambda=1.5"]);
    assert!(e.contains("method.credit.gae_lambda"), "{e}");
}
