//! hapo.md "CPU-scale check": entropy normalization (with the intended `|min z|` on the low
//! side, not the released code's sign slip), per-token clip bounds, advantage redistribution,
//! the token-level group average, and the property that zero knobs with GRPO advantages give
//! DAPO's loss exactly.
use polopt_methods::credit::{
    group_relative_advantage, token_group_mean_advantage, Advantages, CreditBatch,
};
use polopt_methods::objective::{
    entropy_stats, hapo_terms, normalized_entropy, quantile_nearest, HapoConfig, LossScale,
    PolicyObjective, PolicyTerms,
};
use polopt_methods::plan::MethodRuntime;
use polopt_methods::presets::preset;
use polopt_methods::MethodConfig;
use tch::{Kind, Tensor};

const SPEC_H: [f64; 6] = [0.05, 0.2, 1.0, 2.5, 0.01, 0.5];
const SPEC_HAT: [f64; 6] = [-0.6505, -0.3495, 0.0, 1.0, -1.0, -0.1505];

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).contiguous().view([-1])).unwrap()
}

fn batch<'a>(rewards: &'a [f64], groups: &'a [usize], lens: &'a [usize]) -> CreditBatch<'a> {
    CreditBatch {
        rewards,
        group_ids: groups,
        response_lens: lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    }
}

#[test]
fn spec_entropies_normalize_to_the_spec_values() {
    let h: Vec<f64> = SPEC_H.iter().map(|e| e.ln()).collect();
    assert!(close(quantile_nearest(&h, 0.8), 0.0, 1e-12));
    let stats = entropy_stats(&SPEC_H, 0.8);
    assert!(close(stats.pivot, 0.0, 1e-12));
    assert!(close(stats.spread, 2.3837, 1e-4), "{stats:?}");
    let z: Vec<f64> = h.iter().map(|x| (x - stats.pivot) / stats.spread).collect();
    for (got, want) in z
        .iter()
        .zip([-1.2568, -0.6752, 0.0, 0.3844, -1.9319, -0.2908])
    {
        assert!(close(*got, want, 1e-4), "{z:?}");
    }
    for (e, want) in SPEC_H.iter().zip(SPEC_HAT) {
        let got = stats.normalize(*e);
        assert!(close(got, want, 1e-4), "H = {e}: {got} != {want}");
    }
    // The tensor path (the loss) agrees, and masked-out tokens do not enter the statistics.
    let padded = Tensor::from_slice(&[0.05f64, 0.2, 1.0, 2.5, 0.01, 0.5, 9.0, 9.0]).view([2, 4]);
    let mask = Tensor::from_slice(&[1f64, 1., 1., 1., 1., 1., 0., 0.]).view([2, 4]);
    let hat = to_vec(&normalized_entropy(&padded, &mask, 0.8));
    for (got, want) in hat.iter().zip(SPEC_HAT) {
        assert!(close(*got, want, 1e-4), "{hat:?}");
    }
}

#[test]
fn low_entropy_tokens_normalize_negative_unlike_the_released_sign_slip() {
    // The released code divides negative z by min(z) < 0, which would give +1 here.
    let stats = entropy_stats(&SPEC_H, 0.8);
    assert_eq!(stats.normalize(0.01), -1.0);
    assert!(stats.scale_neg > 0.0);
}

fn spec_terms(ratio: [f64; 2]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    // Tokens 4 (h^ = 1) and 5 (h^ = -1) of the spec, A = 1, eps = 0.2, alpha_c = beta_a = 1.
    let hat = Tensor::from_slice(&[1.0f64, -1.0]);
    let r = Tensor::from_slice(&[ratio[0] as f32, ratio[1] as f32]);
    let a = Tensor::from_slice(&[1.0f32, 1.0]);
    let t = hapo_terms(&r, &a, &hat, 0.2, 0.2, &HapoConfig::default());
    (
        to_vec(&t.bounds.low),
        to_vec(&t.bounds.high),
        to_vec(&t.advantages),
    )
}

#[test]
fn spec_clip_bounds_widen_one_side_per_token() {
    let (low, high, _) = spec_terms([1.0, 1.0]);
    assert!(
        close(high[0], 0.4, 1e-12) && close(low[0], 0.2, 1e-12),
        "{low:?} {high:?}"
    );
    assert!(
        close(low[1], 0.4, 1e-12) && close(high[1], 0.2, 1e-12),
        "{low:?} {high:?}"
    );
}

#[test]
fn spec_redistribution_uses_the_neutral_zone_of_the_current_ratio() {
    // Token 4: r = 1.3 left N = (0.9, 1.2) -> A^ent = 2; token 5: r = 1.0 in N = (0.8, 1.1) -> 0.
    let (_, _, adv) = spec_terms([1.3, 1.0]);
    assert!(
        close(adv[0], 2.0, 1e-6) && close(adv[1], 0.0, 1e-6),
        "{adv:?}"
    );
    // The other branches: token 4 inside N keeps A; token 5 outside N keeps A.
    let (_, _, adv) = spec_terms([1.0, 1.15]);
    assert!(
        close(adv[0], 1.0, 1e-6) && close(adv[1], 1.0, 1e-6),
        "{adv:?}"
    );
}

#[test]
fn spec_token_level_group_average_and_its_grpo_fallback() {
    let rewards = [1.0, 0.0];
    let b = batch(&rewards, &[0, 0], &[1, 3]);
    let a = token_group_mean_advantage(&b, 1, 1e-6);
    assert!(
        close(a[0], 1.732, 1e-3) && close(a[1], -0.577, 1e-3),
        "{a:?}"
    );
    let grpo = group_relative_advantage(&b, true, 1, 1e-6);
    assert!(close(grpo[0], 0.707, 1e-3), "{grpo:?}");
    // One long wrong answer: mu = 1/101, the short right one gets |A| = 10 >= 5 -> GRPO.
    let b = batch(&rewards, &[0, 0], &[1, 100]);
    assert_eq!(token_group_mean_advantage(&b, 1, 1e-6), grpo);
    // Through the registry, as the preset uses it.
    let runtime = MethodRuntime::new(&hapo()).unwrap();
    let b = batch(&rewards, &[0, 0], &[1, 3]);
    let Advantages::Sequence(via) = runtime.plan(&b, &Default::default()).unwrap().advantages
    else {
        panic!("sequence-level");
    };
    assert!(close(via[0], 1.732, 1e-3), "{via:?}");
}

fn hapo() -> MethodConfig {
    (preset("hapo").expect("registered").build)()
}

/// Loss and gradient wrt logp of a fixed minibatch under `config`'s objective.
fn loss_and_grad(config: &MethodConfig) -> (f64, Vec<f64>) {
    let old = Tensor::from_slice(&[-0.5f32, -1.0, -0.2, -0.7, -0.3, -0.9, -1.2, -0.4]).view([2, 4]);
    // Ratios from 0.55 to 1.6: inside and outside every bound, both signs of A.
    let step = Tensor::from_slice(&[0.47f32, -0.6, 0.1, -0.35, 0.05, 0.25, -0.12, 0.3]);
    let logp = (&old + step.view([2, 4])).set_requires_grad(true);
    let adv = Tensor::from_slice(&[1.2f32, 1.2, 1.2, 1.2, -0.7, -0.7, -0.7, -0.7]).view([2, 4]);
    let mask = Tensor::from_slice(&[1f32, 1., 1., 1., 1., 1., 1., 0.]).view([2, 4]);
    let entropy = Tensor::from_slice(&[0.05f32, 0.2, 1.0, 2.5, 0.01, 0.5, 0.3, 7.0]).view([2, 4]);
    let terms = PolicyTerms {
        logp: &logp,
        old_logp: &old,
        ref_logp: None,
        advantages: &adv,
        mask: &mask,
        entropy: Some(&entropy),
    };
    let objective = PolicyObjective::new(config.objective.clone()).expect("valid objective");
    let out = objective.loss(&terms, &LossScale::of_mask(&mask, 4.0), None);
    out.loss.backward();
    (out.loss.double_value(&[]), to_vec(&logp.grad()))
}

#[test]
fn zero_knobs_give_the_dapo_loss_exactly() {
    let dapo = (preset("dapo").unwrap().build)();
    let mut zero = dapo.clone();
    zero.objective.trust_region = "entropy_adaptive".into();
    zero.objective.parts.set("hapo", "clip_alpha", 0.0);
    zero.objective.parts.set("hapo", "adv_beta", 0.0);
    zero.objective.parts.set("hapo", "temperature_tau", 0.0);
    assert_eq!(loss_and_grad(&zero), loss_and_grad(&dapo));
    // HAPO's own clip settings (0.2/0.2, dual clip 10) with zero knobs: the constant trust region.
    let mut hapo_zero = hapo();
    hapo_zero.objective.parts.set("hapo", "clip_alpha", 0.0);
    hapo_zero.objective.parts.set("hapo", "adv_beta", 0.0);
    let mut constant = hapo_zero.clone();
    constant.objective.trust_region = "constant".into();
    assert_eq!(loss_and_grad(&hapo_zero), loss_and_grad(&constant));
    // The knobs do act: the equalities above could not hold by accident.
    assert_ne!(loss_and_grad(&hapo()).1, loss_and_grad(&constant).1);
}

#[test]
fn out_of_range_knobs_name_their_key() {
    let mut c = hapo();
    c.objective.parts.set("hapo", "temperature_tau", 1.0);
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("method.objective.hapo.temperature_tau"),
        "{err}"
    );
    let mut c = hapo();
    c.objective.parts.set("hapo", "entropy_pivot", 1.5);
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("method.objective.hapo.entropy_pivot"), "{err}");
}
