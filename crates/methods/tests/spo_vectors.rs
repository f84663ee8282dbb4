//! spo-segment.md "CPU-scale check": the chain's cutpoints and segment advantages, the
//! probability mask, whitening over masked-in tokens, and the tree's edge advantages.
use polopt_methods::credit::{
    chain_cutpoints, chain_token_advantages, edge_advantages, estimator, probability_keep,
    whiten_masked, CreditBatch, TreeAdvantage,
};
use polopt_methods::loops::RolloutKind;
use polopt_methods::presets::preset;
use polopt_methods::{MethodConfig, MethodError};

const PROBS: [f64; 8] = [0.95, 0.5, 0.99, 0.3, 0.97, 0.98, 0.6, 0.99];
const RHO: f64 = 0.9;

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

/// The spec's chain, masked: A = [0, -0.2, 0, 0.4, 0, 0, 0.3, 0].
fn spec_chain() -> (Vec<isize>, Vec<f64>, Vec<f64>) {
    let cuts = chain_cutpoints(&PROBS, RHO, 1);
    let values = [0.4, 0.5, 0.3, 0.7];
    let adv = chain_token_advantages(8, &cuts, &values, 1.0).unwrap();
    let keep = probability_keep(&PROBS, RHO);
    let masked: Vec<f64> = adv.iter().zip(&keep).map(|(a, k)| a * k).collect();
    (cuts, adv, masked)
}

#[test]
fn spec_chain_cutpoints_are_before_low_probability_tokens() {
    assert_eq!(chain_cutpoints(&PROBS, RHO, 1), vec![-1, 0, 2, 5]);
}

#[test]
fn spec_chain_gives_the_spec_segment_advantages() {
    let (_, adv, masked) = spec_chain();
    assert_close(&adv, &[0.1, -0.2, -0.2, 0.4, 0.4, 0.4, 0.3, 0.3], 1e-12);
    assert_close(&masked, &[0.0, -0.2, 0.0, 0.4, 0.0, 0.0, 0.3, 0.0], 1e-12);
}

#[test]
fn interval_keeps_every_kth_candidate_starting_with_the_first() {
    assert_eq!(chain_cutpoints(&PROBS, RHO, 2), vec![-1, 0, 5]);
    assert_eq!(chain_cutpoints(&PROBS, RHO, 100), vec![-1, 0]);
    // A low-probability first token puts its cutpoint on the prompt state itself.
    let first_low = [0.4, 0.95, 0.5, 0.99];
    assert_eq!(chain_cutpoints(&first_low, RHO, 1), vec![-1, 1]);
    assert_eq!(chain_cutpoints(&[0.99, 0.95], RHO, 1), vec![-1]);
}

#[test]
fn one_segment_gives_reward_minus_prompt_value_on_unmasked_tokens() {
    // The first candidate is token 0, so with a large interval the only cutpoint is -1.
    let probs = [0.4, 0.95, 0.5, 0.99, 0.2];
    let cuts = chain_cutpoints(&probs, RHO, 100);
    assert_eq!(cuts, vec![-1]);
    let (v_prompt, reward) = (0.25, 1.0);
    let adv = chain_token_advantages(5, &cuts, &[v_prompt], reward).unwrap();
    let keep = probability_keep(&probs, RHO);
    let masked: Vec<f64> = adv.iter().zip(&keep).map(|(a, k)| a * k).collect();
    assert_close(&masked, &[0.75, 0.0, 0.75, 0.0, 0.75], 1e-12);
}

#[test]
fn whitening_uses_only_masked_in_tokens() {
    let (_, adv, _) = spec_chain();
    let keep = probability_keep(&PROBS, RHO);
    let mut rows = vec![adv.clone(), vec![0.5, -0.5]];
    let keep_rows = vec![keep.clone(), vec![1.0, 0.0]];
    whiten_masked(&mut rows, &keep_rows, 1e-8);
    // Masked-in values: -0.2, 0.4, 0.3 (row 0) and 0.5 (row 1).
    let kept = [-0.2, 0.4, 0.3, 0.5];
    let mean = kept.iter().sum::<f64>() / 4.0;
    let var = kept.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / 3.0;
    let scale = (var + 1e-8).sqrt();
    let want0: Vec<f64> = adv
        .iter()
        .zip(&keep)
        .map(|(a, k)| (a * k - mean) / scale)
        .collect();
    assert_close(&rows[0], &want0, 1e-12);
    assert_close(&rows[1], &[(0.5 - mean) / scale, -mean / scale], 1e-12);
    // Over the masked-in tokens the result has mean 0 and unbiased variance ~1.
    let out: Vec<f64> = rows
        .iter()
        .zip(&keep_rows)
        .flat_map(|(r, k)| r.iter().zip(k).filter(|(_, &k)| k > 0.0).map(|(&a, _)| a))
        .collect();
    let m = out.iter().sum::<f64>() / out.len() as f64;
    let v = out.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (out.len() - 1) as f64;
    assert!(
        m.abs() < 1e-12 && (v - 1.0).abs() < 1e-6,
        "mean {m}, var {v}"
    );
}

#[test]
fn whitening_a_single_kept_token_centres_it() {
    let mut rows = vec![vec![0.7, 3.0]];
    whiten_masked(&mut rows, &[vec![1.0, 0.0]], 1e-8);
    assert_close(&rows[0], &[0.0, -0.7 / 1e-4], 1e-9);
}

#[test]
fn spec_tree_edges_rloo_and_grpo() {
    let rloo = edge_advantages(0.5, &[1.0, 0.5, 0.0], TreeAdvantage::Rloo);
    assert_eq!(rloo, vec![Some(0.5), None, Some(-0.5)]);
    let grpo = edge_advantages(0.5, &[1.0, 0.5, 0.0], TreeAdvantage::Grpo);
    let std = (1.0f64 / 6.0).sqrt();
    assert!((grpo[0].unwrap() - 0.5 / (std + 1e-8)).abs() < 1e-12);
    assert_eq!(grpo[1], None);
    assert!((grpo[2].unwrap() + 0.5 / (std + 1e-8)).abs() < 1e-12);
    // Rounding of a mean must not keep an edge that is zero.
    let parent = (0.1 + 0.2 + 0.3) / 3.0;
    assert_eq!(
        edge_advantages(parent, &[0.2], TreeAdvantage::Rloo),
        vec![None]
    );
}

#[test]
fn bad_cutpoints_are_shape_errors() {
    assert!(matches!(
        chain_token_advantages(4, &[0, 2], &[0.1, 0.2], 1.0),
        Err(MethodError::Shape { .. })
    ));
    assert!(matches!(
        chain_token_advantages(4, &[-1, 3], &[0.1, 0.2], 1.0),
        Err(MethodError::Shape { .. })
    ));
}

#[test]
fn presets_select_the_segment_rollouts() {
    let chain = (preset("spo_chain").unwrap().build)();
    assert_eq!(chain.rollout.kind, RolloutKind::SpoChain);
    chain.validate().unwrap();
    let tree = (preset("spo_tree").unwrap().build)();
    assert_eq!(tree.rollout.kind, RolloutKind::SpoTree);
    tree.validate().unwrap();
    let spo: polopt_methods::credit::SpoConfig = tree.credit.settings("spo").unwrap();
    assert_eq!(spo.tree_branching, vec![4, 2, 2]);
}

#[test]
fn rollout_and_estimator_must_agree() {
    let mut m = MethodConfig::default();
    m.rollout.kind = RolloutKind::SpoChain;
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("method.credit.estimator"), "{err}");
    let mut m = (preset("spo_chain").unwrap().build)();
    m.select.dynamic_sampling = true;
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("method.select.dynamic_sampling"), "{err}");
    let mut m = (preset("spo_tree").unwrap().build)();
    m.credit
        .parts
        .set("spo", "tree_branching", Vec::<i64>::new());
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("method.credit.spo.tree_branching"), "{err}");
}

#[test]
fn the_spo_estimator_refuses_a_plain_group_batch() {
    let mut m = (preset("spo_chain").unwrap().build)();
    m.credit.estimator = "spo".into();
    let batch = CreditBatch {
        rewards: &[1.0, 0.0],
        group_ids: &[0, 0],
        response_lens: &[2, 2],
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let err = estimator(&m.credit)
        .unwrap()
        .estimate(&batch)
        .unwrap_err()
        .to_string();
    assert!(err.contains("method.rollout.kind"), "{err}");
}
