//! PARL and its RLHF baseline (a reward model learned from the oracle's labels on current-
//! policy pairs) end to end on the tiny model, and the finite-difference directional
//! derivative behind PARL's implicit term against autograd.
mod common;

use polopt_train::codec::Codec;
use polopt_train::group_rl::model_config;
use polopt_train::learned_reward::{directional_derivatives, sequence_logprobs};
use polopt_train::packing::pack;
use polopt_train::policy::Policy;
use polopt_train::seeds::with_torch_seed;
use tch::{Kind, Tensor};

#[test]
fn learned_reward_presets_train_and_resume_exactly() {
    for preset in ["rlhf_rm", "parl"] {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("method.preset=\"{preset}\"");
        common::straight_and_resumed(dir.path(), &[&name], 3, common::dense, |_| {});
        let straight = common::metric_rows(&dir.path().join("straight"), &[]);
        let split = common::metric_rows(&dir.path().join("split"), &[]);
        assert_eq!(straight.len(), 7, "{preset}: warm start + 6 steps");
        assert_eq!(straight, split, "{preset}: the resumed run differs");
        let (mut fitted, mut implicit_rows) = (0, 0);
        for row in &straight[1..] {
            assert_eq!(row["nan_events"], 0.0, "{preset}: {row}");
            // The dense reward gives every group unequal rewards, so each is queried once.
            assert_eq!(row["learned_reward/pairs"], 4.0, "{preset}: {row}");
            if row.get("learned_reward/grad_norm").is_some() {
                fitted += 1;
            }
            // The implicit term is PARL's only, and needs g2 != 0: at step 1 the zero head
            // ties every pair, so every U is equal and the centred score function vanishes.
            if row.get("learned_reward/implicit_abs_mean").is_some() {
                assert_eq!(preset, "parl", "{row}");
                assert!(
                    row["learned_reward/g2_norm"].as_f64().unwrap() > 0.0,
                    "{row}"
                );
                implicit_rows += 1;
            }
        }
        assert_eq!(fitted, 6, "{preset}: one reward-model step per RL step");
        if preset == "parl" {
            assert_eq!(implicit_rows, 5, "{preset}: every step after the first");
        }
    }
}

/// The reward model is what the policy is trained on: with a zero head every score ties, so
/// the first step's advantages are zero however unequal the oracle's rewards are.
#[test]
fn the_policy_sees_the_learned_reward_not_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::tiny_config(
        dir.path(),
        "r",
        &["method.preset=\"rlhf_rm\"", "rl.steps=1"],
    );
    polopt_train::train(&cfg, common::dense()).expect("trains");
    let rows = common::metric_rows(&dir.path().join("r"), &[]);
    let first = &rows[1];
    assert_eq!(first["learned_reward/score_mean"], 0.0, "{first}");
    assert!(
        first["learned_reward/oracle_mean"].as_f64().unwrap() > 0.0,
        "{first}"
    );
    assert_eq!(first["advantage_abs_mean"], 0.0, "{first}");
}

/// `∇_θ log π(τ_i) · v` by the central difference equals the autograd value per response.
#[test]
fn directional_derivative_matches_autograd() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "fd", &[]);
    let tok = Codec::builtin();
    let policy = with_torch_seed(5, "init", 0, || {
        Policy::new(model_config(&config, &tok), tch::Device::Cpu)
    })
    .unwrap();
    let prompts: Vec<Vec<i64>> = ["12+7=", "3+45="]
        .iter()
        .map(|p| tok.encode(p).unwrap())
        .collect();
    let responses: Vec<Vec<i64>> = ["19", "48"]
        .iter()
        .map(|p| tok.encode(p).unwrap())
        .collect();
    let p: Vec<&[i64]> = prompts.iter().map(Vec::as_slice).collect();
    let r: Vec<&[i64]> = responses.iter().map(Vec::as_slice).collect();
    let packed = pack(&p, &r, tok.pad_id(), tch::Device::Cpu);
    let params = policy.trainable_vs().trainable_variables();
    let direction: Vec<Tensor> = with_torch_seed(5, "direction", 0, || {
        params.iter().map(|p| p.randn_like()).collect()
    });
    let fd = directional_derivatives(&policy, &packed, 1.0, &direction, 1e-3).unwrap();
    let logp = sequence_logprobs(&policy, &packed, 1.0);
    for (i, got) in fd.iter().enumerate() {
        let grads = Tensor::run_backward(&[logp.get(i as i64)], &params, true, false);
        let exact: f64 = grads
            .iter()
            .zip(&direction)
            .map(|(g, v)| (g * v).sum(Kind::Double).double_value(&[]))
            .sum();
        // f32 log-probs: the difference quotient is good to a few parts in a thousand.
        let tol = 5e-3 * exact.abs().max(1.0);
        assert!(
            (got - exact).abs() < tol,
            "response {i}: fd {got} vs autograd {exact}"
        );
    }
    // The weights are restored exactly.
    let after: Vec<Tensor> = policy.trainable_vs().trainable_variables();
    let logp_after = sequence_logprobs(&policy, &packed, 1.0);
    assert!(logp.equal(&logp_after));
    assert_eq!(after.len(), params.len());
}

#[test]
fn a_learned_reward_needs_the_group_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<String> = [
        "method.preset=\"online_dpo\"",
        "method.learned_reward.enabled=true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut all = vec![format!(
        "run.out_dir={:?}",
        dir.path().display().to_string()
    )];
    all.extend(sets);
    let err = polopt_train::config::resolve(&toml::Table::new(), &all).unwrap_err();
    assert!(
        err.to_string().contains("method.learned_reward.enabled"),
        "{err}"
    );
    let err = polopt_train::config::resolve(
        &toml::Table::new(),
        &[
            "method.preset=parl".into(),
            "method.learned_reward.fd_eps=2".into(),
        ],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("method.learned_reward.fd_eps"),
        "{err}"
    );
}

/// PARL on a Hugging Face model (the tiny Qwen2 fixture): the reward head sits on its frozen
/// copy, the registry reward of the dataset labels the pairs, and the checkpoint keeps the head.
#[test]
fn parl_trains_a_hf_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::own_config(
        dir.path(),
        "parl_hf",
        "tiny_math.jsonl",
        &["method.preset=parl"],
    );
    let summary = polopt_train::train(&cfg, polopt_train::TrainOptions::default()).expect("trains");
    assert_eq!(summary.nan_events, 0);
    assert!(summary.final_metrics.contains_key("eval/pass@1"));
    let last = summary.run_dir.join("checkpoints/step-000004");
    assert!(last.join("reward_head.safetensors").is_file());
    assert!(last.join("learned_reward.json").is_file());
    let rows = common::metric_rows(&summary.run_dir, &[]);
    assert!(rows[1..]
        .iter()
        .all(|r| r.get("learned_reward/score_mean").is_some()));
}
