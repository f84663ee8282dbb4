//! The native control backend: gradients against finite differences (f64) for every head and
//! loss, forward / loss / gradients against libtorch on the same weights (f32), Adam against
//! `optim::AdamW`, and whole runs (same seed, same metrics; first update equal across
//! backends; exact resume on the torch backend, the native one being the default that
//! tests/control.rs resumes). Whole file: seconds.
mod common;

use polopt_train::seeds::with_torch_seed;
use std::path::Path;

use polopt_methods::objective::{clipped_value_loss, Divergence, PolicyKernel, PolicyObjective};
use polopt_methods::ObjectiveConfig;
use polopt_train::control::a2c::a2c_policy_loss;
use polopt_train::control::config::AlgoKind;
use polopt_train::control::mlp::{ActorCritic, Head};
use polopt_train::control::native::adam::NativeAdam;
use polopt_train::control::native::mlp::{NativeMlp, Tape};
use polopt_train::control::native::policy::{Grads, NativeActorCritic, PolicyTape};
use polopt_train::control::native::{flat_f32, loss_and_grads, LossSpec, Minibatch};
use polopt_train::control::ppo::{ppo_policy_loss, PolicyBatch};
use polopt_train::control::{resolve_control, train_control, ControlOptions};
use polopt_train::optim::AdamW;
use serde_json::Value;
use tch::{Kind, Tensor};

/// Deterministic numbers in `[-scale, scale)`.
fn numbers(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn mlp64(dims: &[usize], seed: u64) -> NativeMlp<f64> {
    let n: usize = dims.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    NativeMlp::from_flat(dims, numbers(n, seed, 0.7)).expect("sizes match")
}

fn heads() -> Vec<Head> {
    vec![
        Head::Categorical { n: 3 },
        Head::Gaussian {
            dim: 2,
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
        },
    ]
}

/// Every loss the control methods build: PPO (with and without the dual clip), BPO's three
/// divergences, A2C (also REINFORCE's), each with and without value clipping.
fn loss_cases() -> Vec<(AlgoKind, ObjectiveConfig, Option<f64>)> {
    let mut out = Vec::new();
    for (kind, kernel, divergence, dual) in [
        (AlgoKind::Ppo, PolicyKernel::Clip, Divergence::Squared, None),
        (
            AlgoKind::Ppo,
            PolicyKernel::Clip,
            Divergence::Squared,
            Some(1.5),
        ),
        (
            AlgoKind::Ppo,
            PolicyKernel::BoundedRatio,
            Divergence::Hinge,
            None,
        ),
        (
            AlgoKind::Ppo,
            PolicyKernel::BoundedRatio,
            Divergence::Squared,
            None,
        ),
        (
            AlgoKind::Ppo,
            PolicyKernel::BoundedRatio,
            Divergence::Kl,
            None,
        ),
        (AlgoKind::A2c, PolicyKernel::Clip, Divergence::Squared, None),
    ] {
        for value_clip in [Some(0.2), None] {
            let objective = ObjectiveConfig {
                kernel,
                divergence,
                dual_clip: dual,
                entropy_coef: 0.05,
                ..Default::default()
            };
            out.push((kind, objective, value_clip));
        }
    }
    out
}

struct Inputs {
    obs: Vec<f64>,
    actions: Vec<f32>,
    advantages: Vec<f64>,
}

fn inputs(head: &Head, obs_dim: usize, batch: usize) -> Inputs {
    let actions = match head {
        Head::Categorical { n } => (0..batch).map(|i| (i % n) as f32).collect(),
        Head::Gaussian { dim, .. } => numbers(batch * dim, 7, 1.2)
            .into_iter()
            .map(|v| v as f32)
            .collect(),
    };
    Inputs {
        obs: numbers(batch * obs_dim, 3, 1.5),
        actions,
        advantages: numbers(batch, 5, 2.0),
    }
}

/// Old log-probs and values offset from the current ones so that ratios and value changes
/// fall inside, below and above their clip ranges, none within 1e-3 of a kink.
const LOGP_OFFSETS: [f64; 8] = [0.0, 0.1, -0.1, 0.5, -0.5, 0.05, -0.3, 0.3];
const VALUE_OFFSETS: [f64; 8] = [0.0, 0.1, -0.35, 0.5, -0.05, 0.3, -0.6, 0.15];

#[test]
fn native_gradients_match_finite_differences_for_every_head_and_loss() {
    let (obs_dim, batch) = (3, 8);
    for head in heads() {
        let out_dim = head.output_dim();
        let mut model = NativeActorCritic {
            actor: mlp64(&[obs_dim, 5, 4, out_dim], 11),
            critic: mlp64(&[obs_dim, 5, 4, 1], 13),
            log_std: match head {
                Head::Gaussian { dim, .. } => numbers(dim, 17, 0.5),
                Head::Categorical { .. } => Vec::new(),
            },
            head: head.clone(),
            obs_dim,
        };
        let x = inputs(&head, obs_dim, batch);
        let (mut tape, mut vtape) = (PolicyTape::default(), Tape::default());
        let (logp, _) = model.log_prob_entropy(&x.obs, &x.actions, batch, &mut tape);
        let values = model.values(&x.obs, batch, &mut vtape);
        let old_logp: Vec<f64> = logp.iter().zip(LOGP_OFFSETS).map(|(l, o)| l - o).collect();
        let old_values: Vec<f64> = values
            .iter()
            .zip(VALUE_OFFSETS)
            .map(|(v, o)| v - o)
            .collect();
        let returns = numbers(batch, 19, 1.0);
        for (kind, objective, value_clip) in loss_cases() {
            let spec = LossSpec {
                kind,
                objective: &objective,
                value_clip,
                vf_coef: 0.5,
            };
            let mb = Minibatch {
                obs: &x.obs,
                actions: &x.actions,
                old_logp: &old_logp,
                advantages: &x.advantages,
                old_values: &old_values,
                returns: &returns,
            };
            let loss_of = |m: &NativeActorCritic<f64>| {
                let mut g = Grads::default();
                let tapes = (&mut PolicyTape::default(), &mut Tape::default());
                (loss_and_grads(m, &mb, &spec, tapes, &mut g).loss, g)
            };
            let (_, grads) = loss_of(&model);
            let what = format!(
                "{head:?} {kind:?} {:?}/{:?} dual {:?} value clip {value_clip:?}",
                objective.kernel, objective.divergence, objective.dual_clip
            );
            let h = 1e-6;
            let mut nonzero = 0;
            for part in 0..3 {
                let len = [
                    model.actor.params.len(),
                    model.log_std.len(),
                    model.critic.params.len(),
                ][part];
                for k in 0..len {
                    let shifted = |delta: f64| {
                        let mut m = model.clone();
                        match part {
                            0 => m.actor.params[k] += delta,
                            1 => m.log_std[k] += delta,
                            _ => m.critic.params[k] += delta,
                        }
                        m.actor.sync();
                        m.critic.sync();
                        loss_of(&m).0
                    };
                    let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                    let analytic = [&grads.actor, &grads.log_std, &grads.critic][part][k];
                    assert!(
                        (numeric - analytic).abs() < 1e-6 + 1e-5 * numeric.abs(),
                        "{what}: part {part} param {k}: analytic {analytic}, numeric {numeric}"
                    );
                    nonzero += usize::from(analytic.abs() > 1e-4);
                }
            }
            assert!(
                nonzero > 20,
                "{what}: gradients should not vanish ({nonzero})"
            );
            // Keep the model unchanged between cases.
            model.actor.sync();
        }
    }
}

fn torch_grads(ac: &ActorCritic) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    for vs in [&ac.actor_vs, &ac.critic_vs] {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in vars {
            out.push((name, flat_f32(&t.grad())));
        }
    }
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
}

#[test]
fn native_forward_losses_and_gradients_equal_libtorch_on_the_same_weights() {
    let (obs_dim, batch) = (4, 32);
    for head in heads() {
        // Under the process-wide RNG lock: an unlocked draw here would shift the seeded init
        // of a run training in another test thread of this binary.
        let ac = with_torch_seed(0, "test-init", 0, || {
            ActorCritic::new(obs_dim, head.clone(), &[64, 64], -0.4)
        });
        let native = NativeActorCritic::from_torch(&ac, &[64, 64]).expect("same shapes");
        let x = inputs(&head, obs_dim, batch);
        let obs32: Vec<f32> = x.obs.iter().map(|&v| v as f32).collect();
        let obs_t = Tensor::from_slice(&obs32).view([batch as i64, obs_dim as i64]);
        let actions_t = match head {
            Head::Categorical { .. } => Tensor::from_slice(&x.actions).to_kind(Kind::Int64),
            Head::Gaussian { dim, .. } => {
                Tensor::from_slice(&x.actions).view([batch as i64, dim as i64])
            }
        };
        let (mut tape, mut vtape) = (PolicyTape::default(), Tape::default());
        let (logp_n, ent_n) = native.log_prob_entropy(&obs32, &x.actions, batch, &mut tape);
        let values_n = native.values(&obs32, batch, &mut vtape);
        let (logp_t, ent_t) = tch::no_grad(|| ac.log_prob_entropy(&obs_t, &actions_t));
        let values_t = tch::no_grad(|| ac.value(&obs_t));
        for (n, t, what) in [
            (&logp_n, &logp_t, "logp"),
            (&ent_n, &ent_t, "entropy"),
            (&values_n, &values_t, "value"),
        ] {
            let t = Vec::<f64>::try_from(&t.to_kind(Kind::Double)).expect("f64");
            for (a, b) in n.iter().zip(&t) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{head:?} {what}: native {a}, torch {b}"
                );
            }
        }
        let old_logp: Vec<f64> = logp_n
            .iter()
            .enumerate()
            .map(|(i, l)| l - LOGP_OFFSETS[i % 8])
            .collect();
        let old_values: Vec<f64> = values_n
            .iter()
            .enumerate()
            .map(|(i, v)| v - VALUE_OFFSETS[i % 8])
            .collect();
        let returns = numbers(batch, 23, 1.0);
        let f32s =
            |v: &[f64]| Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>());
        for (kind, objective, value_clip) in loss_cases() {
            let spec = LossSpec {
                kind,
                objective: &objective,
                value_clip,
                vf_coef: 0.5,
            };
            let mb = Minibatch {
                obs: &obs32,
                actions: &x.actions,
                old_logp: &old_logp,
                advantages: &x.advantages,
                old_values: &old_values,
                returns: &returns,
            };
            let mut grads = Grads::default();
            let tapes = (&mut PolicyTape::default(), &mut Tape::default());
            let native_out = loss_and_grads(&native, &mb, &spec, tapes, &mut grads);

            for (_, t) in ac.named_tensors() {
                let mut g = t.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            let (logp, ent) = ac.log_prob_entropy(&obs_t, &actions_t);
            let (old, adv) = (f32s(&old_logp), f32s(&x.advantages));
            let pb = PolicyBatch {
                logp: &logp,
                old_logp: &old,
                advantages: &adv,
                entropy: &ent,
            };
            let out = match kind {
                AlgoKind::Ppo => ppo_policy_loss(
                    &PolicyObjective::new(objective.clone()).expect("valid objective"),
                    &pb,
                ),
                _ => a2c_policy_loss(&pb, objective.entropy_coef),
            };
            let vloss = clipped_value_loss(
                &ac.value(&obs_t),
                &f32s(&old_values),
                &f32s(&returns),
                value_clip,
            )
            .mean(Kind::Float);
            let loss = &out.loss + &vloss * 0.5;
            loss.backward();
            let what = format!(
                "{head:?} {kind:?} {:?}/{:?} dual {:?} value clip {value_clip:?}",
                objective.kernel, objective.divergence, objective.dual_clip
            );
            let lt = loss.double_value(&[]);
            assert!(
                (native_out.loss - lt).abs() < 1e-5 * (1.0 + lt.abs()),
                "{what}: loss {} vs {lt}",
                native_out.loss
            );
            for (k, v) in &out.metrics {
                let n = native_out.metrics[k];
                assert!(
                    (n - v).abs() < 1e-5 * (1.0 + v.abs()),
                    "{what}: {k} {n} vs {v}"
                );
            }
            for (name, g) in torch_grads(&ac) {
                let n: &[f32] = match name.as_str() {
                    "actor.params" => &grads.actor,
                    "log_std" => &grads.log_std,
                    _ => &grads.critic,
                };
                let scale = g.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
                let diff = max_abs_diff(n, &g);
                assert!(scale > 1e-4, "{what}: {name} has no gradient");
                assert!(
                    diff < 1e-5 * (1.0 + scale),
                    "{what}: {name} differs by {diff} (scale {scale})"
                );
            }
        }
    }
}

#[test]
fn native_adam_steps_equal_adamw() {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let init = numbers(50, 29, 1.0)
        .iter()
        .map(|&v| v as f32)
        .collect::<Vec<f32>>();
    let p = vs.root().var_copy("w", &Tensor::from_slice(&init));
    let mut torch = AdamW::new(&vs, 3e-3, 0.0);
    torch.eps = 1e-5;
    let mut native = NativeAdam::new(&[("w", 50)], 3e-3, 1e-5);
    let mut params = init.clone();
    for step in 0..5u64 {
        let g: Vec<f32> = numbers(50, 31 + step, 0.5 + step as f64)
            .iter()
            .map(|&v| v as f32)
            .collect();
        torch.zero_grad();
        (&p * Tensor::from_slice(&g)).sum(Kind::Float).backward();
        torch.lr = 3e-3 * (1.0 - step as f64 / 5.0);
        native.lr = torch.lr;
        torch.step();
        native.step(&mut [&mut params], &[&g]);
        let diff = max_abs_diff(&params, &flat_f32(&p));
        assert!(diff < 1e-7, "step {step}: {diff}");
    }
    let state = native.state_tensors();
    let t_state = torch.state_tensors();
    for (k, v) in &t_state {
        assert!(
            max_abs_diff(&flat_f32(v), &flat_f32(&state[k])) < 1e-7,
            "{k}"
        );
    }
}

fn config(dir: &Path, name: &str, extra: &[&str]) -> polopt_train::control::ControlConfig {
    let mut sets = vec![
        "method.preset=ppo-cartpole".to_string(),
        format!("run.name={name}"),
        format!("run.out_dir={}", dir.display()),
        "env.num_envs=2".into(),
        "algo.rollout_steps=64".into(),
        "eval.episodes=2".into(),
        "eval.every=2".into(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    resolve_control(&toml::Table::new(), &sets).expect("valid config")
}

fn metric_lines(run_dir: &Path) -> Vec<Value> {
    common::metric_rows(run_dir, &common::CONTROL_TIMING)
}

#[test]
fn same_seed_gives_the_same_metrics_on_the_native_backend() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a", "b"] {
        let cfg = config(dir.path(), name, &["algo.total_steps=768"]);
        train_control(&cfg, ControlOptions::default()).expect("run");
    }
    let (a, b) = (
        metric_lines(&dir.path().join("a")),
        metric_lines(&dir.path().join("b")),
    );
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
    let other = config(dir.path(), "c", &["algo.total_steps=768", "run.seed=1"]);
    train_control(&other, ControlOptions::default()).expect("run");
    assert_ne!(a, metric_lines(&dir.path().join("c")));
}

#[test]
fn the_first_update_is_the_same_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for backend in ["native", "torch"] {
        let set = format!("algo.backend={backend}");
        let cfg = config(dir.path(), backend, &["algo.total_steps=128", &set]);
        train_control(&cfg, ControlOptions::default()).expect("run");
        rows.push(metric_lines(&dir.path().join(backend)).remove(0));
    }
    for key in [
        "policy_loss",
        "value_loss",
        "entropy",
        "approx_kl",
        "clip_frac_low",
        "grad_norm",
        "loss",
        "explained_variance",
    ] {
        let (a, b) = (rows[0][key].as_f64(), rows[1][key].as_f64());
        let (a, b) = (a.expect(key), b.expect(key));
        assert!(
            (a - b).abs() < 1e-4 * (1.0 + b.abs()),
            "{key}: native {a}, torch {b}"
        );
    }
}

#[test]
fn stop_and_resume_is_exact_on_the_torch_backend() {
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        "algo.total_steps=768",
        "algo.backend=torch",
        "run.checkpoint_every=100",
    ];
    train_control(
        &config(dir.path(), "straight", &extra),
        ControlOptions::default(),
    )
    .expect("uninterrupted run");
    let split = config(dir.path(), "split", &extra);
    let stop = ControlOptions {
        stop_after: Some(3),
        ..Default::default()
    };
    train_control(&split, stop).expect("first half");
    let resume = ControlOptions {
        resume: true,
        ..Default::default()
    };
    train_control(&split, resume).expect("resumed half");
    assert_eq!(
        metric_lines(&dir.path().join("straight")),
        metric_lines(&dir.path().join("split"))
    );
}

#[test]
fn evaluating_the_final_checkpoint_reproduces_the_runs_final_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "run",
        &["algo.total_steps=768", "eval.episodes=3"],
    );
    let summary = train_control(&cfg, ControlOptions::default()).expect("run");
    let ckpt = dir.path().join("run/checkpoints/step-000006");
    let again = polopt_train::control::eval::evaluate_checkpoint(&cfg, &ckpt).expect("eval");
    for key in ["eval/return_mean", "eval/return_std", "eval/length_mean"] {
        assert_eq!(again[key], summary.final_metrics[key], "{key}");
    }
    assert!(again["eval/return_min"] <= again["eval/return_mean"]);
    assert!(again["eval/return_max"] >= again["eval/return_mean"]);
    let mut more = cfg.clone();
    more.eval.episodes = 7;
    let seven = polopt_train::control::eval::evaluate_checkpoint(&more, &ckpt).expect("eval");
    assert_eq!(seven["eval/episodes"], 7.0);
    let missing = polopt_train::control::eval::evaluate_checkpoint(&cfg, &dir.path().join("run"));
    assert!(missing.is_err_and(|e| e.to_string().contains("state.json")));
}

#[test]
fn a_native_checkpoint_resumes_on_the_torch_backend() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["algo.total_steps=512", "run.checkpoint_every=100"];
    train_control(
        &config(dir.path(), "native", &extra),
        ControlOptions::default(),
    )
    .expect("native run");
    let stop = ControlOptions {
        stop_after: Some(3),
        ..Default::default()
    };
    train_control(&config(dir.path(), "mixed", &extra), stop).expect("first half");
    let torch = [extra[0], extra[1], "algo.backend=torch"];
    let resume = ControlOptions {
        resume: true,
        ..Default::default()
    };
    train_control(&config(dir.path(), "mixed", &torch), resume).expect("resumed on torch");
    let (a, b) = (
        metric_lines(&dir.path().join("native")),
        metric_lines(&dir.path().join("mixed")),
    );
    assert_eq!(a[..3], b[..3]);
    for key in [
        "policy_loss",
        "value_loss",
        "entropy",
        "grad_norm",
        "explained_variance",
    ] {
        let (x, y) = (
            a[3][key].as_f64().expect(key),
            b[3][key].as_f64().expect(key),
        );
        assert!(
            (x - y).abs() < 1e-4 * (1.0 + y.abs()),
            "{key}: native {x}, torch {y}"
        );
    }
}
