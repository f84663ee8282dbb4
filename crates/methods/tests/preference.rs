//! Preference losses: the spec's test vectors (preference-baselines.md, rpo.md, inpo.md,
//! seppo.md), parity with TRL's loss code (fixture from bench/preference/make_trl_fixture.py),
//! autograd against central finite differences in f64, and properties of each loss.
use std::collections::BTreeMap;

use polopt_methods::preference::{
    bt_loss, build_preference_loss, hinge_loss, inpo_loss, ipo_loss, kto_loss, orpo_loss,
    robust_loss, rpo_loss, seppo_loss, sigmoid_loss, simpo_loss, BtConfig, HingeConfig, InpoConfig,
    IpoConfig, KtoConfig, OrpoConfig, PreferenceBatch, PreferenceData, PreferenceLoss, RewardPairs,
    RobustConfig, RpoConfig, RpoNll, SeppoConfig, SigmoidConfig, SimpoConfig, UnpairedBatch,
    PREFERENCE_LOSSES,
};
use polopt_methods::MethodError;
use serde_json::Value;
use tch::Tensor;

fn t(values: &[f64]) -> Tensor {
    Tensor::from_slice(values)
}

fn values(t: &Tensor) -> Vec<f64> {
    let t = t.to_kind(tch::Kind::Double);
    (0..t.numel() as i64)
        .map(|i| t.double_value(&[i]))
        .collect()
}

fn close(actual: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: got {actual}, expected {expected} (tolerance {tol})"
    );
}

/// Owned tensors of a paired batch, so that tests can build [`PreferenceBatch`] views.
/// `ic`/`ir` are the previous iterate's log-probs (INPO), absent unless set.
struct Pairs {
    pc: Tensor,
    pr: Tensor,
    rc: Tensor,
    rr: Tensor,
    lc: Tensor,
    lr: Tensor,
    ic: Option<Tensor>,
    ir: Option<Tensor>,
}

impl Pairs {
    fn new(pc: &[f64], pr: &[f64], rc: &[f64], rr: &[f64], lc: &[f64], lr: &[f64]) -> Self {
        Self {
            pc: t(pc),
            pr: t(pr),
            rc: t(rc),
            rr: t(rr),
            lc: t(lc),
            lr: t(lr),
            ic: None,
            ir: None,
        }
    }
    fn with_iterate(mut self, ic: &[f64], ir: &[f64]) -> Self {
        self.ic = Some(t(ic));
        self.ir = Some(t(ir));
        self
    }
    fn batch(&self) -> PreferenceBatch<'_> {
        PreferenceBatch {
            policy_chosen_logp: &self.pc,
            policy_rejected_logp: &self.pr,
            reference_chosen_logp: Some(&self.rc),
            reference_rejected_logp: Some(&self.rr),
            iterate_chosen_logp: self.ic.as_ref(),
            iterate_rejected_logp: self.ir.as_ref(),
            chosen_len: &self.lc,
            rejected_len: &self.lr,
        }
    }
    /// Chosen and rejected exchanged, lengths and reference included.
    fn swapped(&self) -> Self {
        Self {
            pc: self.pr.shallow_clone(),
            pr: self.pc.shallow_clone(),
            rc: self.rr.shallow_clone(),
            rr: self.rc.shallow_clone(),
            lc: self.lr.shallow_clone(),
            lr: self.lc.shallow_clone(),
            ic: self.ir.as_ref().map(Tensor::shallow_clone),
            ir: self.ic.as_ref().map(Tensor::shallow_clone),
        }
    }
}

/// The spec's single pair: log pi(y_w) = -10, log pi(y_l) = -12, both reference -11.
fn spec_pair(len_w: f64, len_l: f64) -> Pairs {
    Pairs::new(&[-10.0], &[-12.0], &[-11.0], &[-11.0], &[len_w], &[len_l])
}

// ---- (a) spec test vectors ----------------------------------------------------------------

#[test]
fn spec_vectors_of_preference_baselines() {
    let p = spec_pair(20.0, 24.0);
    let dpo = sigmoid_loss(&p.batch(), &SigmoidConfig::default()).expect("dpo");
    close(dpo.loss.double_value(&[]), 0.598139, 5e-7, "DPO loss");
    close(dpo.metrics["reward_margin"], 0.2, 1e-12, "DPO u");

    let ipo = ipo_loss(&p.batch(), &IpoConfig::default()).expect("ipo");
    close(ipo.loss.double_value(&[]), 9.0, 1e-12, "IPO loss");

    let simpo = simpo_loss(&p.batch(), &SimpoConfig::default()).expect("simpo");
    close(simpo.loss.double_value(&[]), 1.313262, 5e-7, "SimPO loss");

    let (r_w, r_l) = (t(&[1.3]), t(&[0.4]));
    let rewards = RewardPairs {
        chosen_reward: &r_w,
        rejected_reward: &r_l,
        margin: None,
    };
    let bt = bt_loss(&rewards, &BtConfig::default()).expect("bt");
    close(bt.loss.double_value(&[]), 0.341154, 5e-7, "BT loss");
}

#[test]
fn spec_vectors_of_kto_with_reference_point_from_mismatched_pairs() {
    // Mismatched pairs whose mean log-ratio is z_ref = 0.2.
    let (kl_p, kl_r) = (t(&[-5.0, -7.6]), t(&[-5.5, -7.5]));
    let (pol, reference, desirable) = (t(&[1.0, -1.0]), t(&[0.0, 0.0]), t(&[1.0, 0.0]));
    let batch = UnpairedBatch {
        policy_logp: &pol,
        reference_logp: &reference,
        desirable: &desirable,
        kl_policy_logp: Some(&kl_p),
        kl_reference_logp: Some(&kl_r),
    };
    let out = kto_loss(&batch, &KtoConfig::default()).expect("kto");
    let losses = values(&out.losses);
    close(losses[0], 0.480011, 5e-7, "KTO desirable");
    close(losses[1], 0.470036, 5e-7, "KTO undesirable");
    close(out.metrics["kl_reference_point"], 0.2, 1e-12, "z_ref");
}

#[test]
fn spec_vectors_of_rpo() {
    let p = spec_pair(10.0, 12.0);
    let config = RpoConfig {
        beta: 0.01,
        coef: 0.005,
        nll: RpoNll::Summed,
    };
    let out = rpo_loss(&p.batch(), &config).expect("rpo");
    close(out.metrics["dpo_loss"], 0.683197, 5e-7, "RPO's DPO term");
    close(out.loss.double_value(&[]), 0.683697, 5e-7, "RPO loss");
    let beta_01 = RpoConfig {
        beta: 0.1,
        coef: 0.0,
        ..config
    };
    let out = rpo_loss(&p.batch(), &beta_01).expect("rpo");
    close(
        out.loss.double_value(&[]),
        0.598139,
        5e-7,
        "RPO without NLL is DPO",
    );
}

/// inpo.md's pair: log pi = -10 / -12, log pi_t = -10.5 / -11.5, log pi_ref = -11 / -11.
fn inpo_spec_pair() -> Pairs {
    spec_pair(10.0, 12.0).with_iterate(&[-10.5], &[-11.5])
}

#[test]
fn spec_vectors_of_inpo() {
    let p = inpo_spec_pair();
    for (eta, tau, expected) in [(1.0, 0.1, 0.36), (0.5, 0.05, 0.01)] {
        let out = inpo_loss(&p.batch(), &InpoConfig { eta, tau }).expect("inpo");
        let what = format!("INPO eta {eta} tau {tau}");
        close(out.loss.double_value(&[]), expected, 1e-12, &what);
        close(out.metrics["h"], 1.1, 1e-12, &what);
        close(out.metrics["reward_margin"], eta * 1.1, 1e-12, &what);
    }
}

#[test]
fn spec_vectors_of_seppo() {
    // Pair 0 is seppo.md's vector: d_pos = 0.4 > 0, so s = +1, d_ref = -0.5.
    // seppo.md's second value is the same pair with s forced to -1 (z = 0.1 (0.4 - 0.5)); a real
    // flip needs d_pos <= 0, so pair 1 reaches the same z = -0.01 with d_pos = -0.4,
    // d_ref = 0.3, and pair 2 is a tie, d_pos = 0, which flips too (d_ref = -0.1).
    let p = Pairs::new(
        &[-10.0, -10.8, -10.4],
        &[-9.0, -8.2, -8.6],
        &[-10.4, -10.4, -10.4],
        &[-8.5, -8.5, -8.5],
        &[1.0; 3],
        &[1.0; 3],
    );
    let out = seppo_loss(&p.batch(), &SeppoConfig::default()).expect("seppo");
    let losses = values(&out.losses);
    close(losses[0], 0.649159, 5e-7, "SePPO, s = +1");
    close(losses[1], 0.698160, 5e-7, "SePPO, s = -1");
    close(losses[2], 0.698160, 5e-7, "SePPO, tie flips");
    close(
        out.metrics["flip_fraction"],
        2.0 / 3.0,
        1e-12,
        "flip fraction",
    );
}

// ---- (b) parity with TRL ------------------------------------------------------------------

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array in fixture")
        .iter()
        .map(|x| x.as_f64().expect("number in fixture"))
        .collect()
}

fn max_error(actual: &[f64], expected: &[f64], what: &str) -> f64 {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0, f64::max)
}

#[test]
fn losses_and_rewards_match_trl() {
    let text = include_str!("fixtures/preference/trl_dpo.json");
    let fixture: Value = serde_json::from_str(text).expect("fixture parses");
    let trl = fixture["trl_version"]
        .as_str()
        .expect("trl version recorded");
    let col = |set: &str, key: &str| t(&floats(&fixture[set][key]));
    let pairs = Pairs {
        pc: col("pairs", "policy_chosen_logp"),
        pr: col("pairs", "policy_rejected_logp"),
        rc: col("pairs", "reference_chosen_logp"),
        rr: col("pairs", "reference_rejected_logp"),
        lc: col("pairs", "chosen_len"),
        lr: col("pairs", "rejected_len"),
        ic: None,
        ir: None,
    };
    let (pol, reference, desirable) = (
        col("unpaired", "policy_logp"),
        col("unpaired", "reference_logp"),
        col("unpaired", "desirable"),
    );
    let (r_w, r_l, margin) = (
        col("rewards", "chosen_reward"),
        col("rewards", "rejected_reward"),
        col("rewards", "margin"),
    );
    let mut worst: BTreeMap<String, f64> = BTreeMap::new();
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20, "fixture has {} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().expect("case name");
        let settings: toml::Value =
            toml::Value::try_from(&case["settings"]).expect("settings convert to TOML");
        let loss = build_preference_loss(name, Some(&settings)).expect("fixture settings valid");
        let what = format!("{name} {} ({})", case["settings"], case["trl"]);
        let (kl_p, kl_r);
        let own_pairs;
        let data = match name {
            "kto" => {
                kl_p = t(&floats(&case["kl_policy_logp"]));
                kl_r = t(&floats(&case["kl_reference_logp"]));
                PreferenceData::Unpaired(UnpairedBatch {
                    policy_logp: &pol,
                    reference_logp: &reference,
                    desirable: &desirable,
                    kl_policy_logp: Some(&kl_p),
                    kl_reference_logp: Some(&kl_r),
                })
            }
            "bt" => PreferenceData::Rewards(RewardPairs {
                chosen_reward: &r_w,
                rejected_reward: &r_l,
                margin: case["use_margin"]
                    .as_bool()
                    .unwrap_or(false)
                    .then_some(&margin),
            }),
            // ORPO's cases carry their own pairs, with mean log-probs down to -1e-6.
            "orpo" => {
                let col = |key: &str| t(&floats(&case["pairs"][key]));
                let (pc, pr) = (col("policy_chosen_logp"), col("policy_rejected_logp"));
                let (lc, lr) = (col("chosen_len"), col("rejected_len"));
                own_pairs = Pairs {
                    rc: pc.shallow_clone(),
                    rr: pr.shallow_clone(),
                    pc,
                    pr,
                    lc,
                    lr,
                    ic: None,
                    ir: None,
                };
                let mut batch = own_pairs.batch();
                batch.reference_chosen_logp = None;
                batch.reference_rejected_logp = None;
                PreferenceData::Paired(batch)
            }
            _ => PreferenceData::Paired(pairs.batch()),
        };
        let out = loss.loss(&data).expect("loss runs");
        let mut err =
            (out.loss.double_value(&[]) - case["mean_loss"].as_f64().expect("loss")).abs();
        for (key, tensor) in [
            ("losses", &out.losses),
            ("chosen_rewards", &out.chosen_rewards),
            ("rejected_rewards", &out.rejected_rewards),
        ] {
            if !case[key].is_null() {
                err = err.max(max_error(&values(tensor), &floats(&case[key]), &what));
            }
        }
        for key in [
            "reward_accuracy",
            "reward_margin",
            "kl_reference_point",
            "nll",
            "log_odds_ratio",
            "log_odds_chosen",
        ] {
            if let Some(expected) = case[key].as_f64() {
                err = err.max((out.metrics[key] - expected).abs());
            }
        }
        assert!(err <= 1e-6, "{what}: max error {err} against TRL {trl}");
        let e = worst.entry(name.to_string()).or_insert(0.0);
        *e = e.max(err);
    }
    for name in [
        "sigmoid", "ipo", "hinge", "robust", "simpo", "orpo", "kto", "bt",
    ] {
        assert!(worst.contains_key(name), "no TRL case for {name}");
    }
    eprintln!("max |polopt - TRL {trl}| per loss: {worst:?}");
}

// ---- (c) gradients against central finite differences -----------------------------------

/// Compares autograd of `f` at `x` with central differences, element by element.
fn check_gradient(x: &[f64], f: impl Fn(&Tensor) -> Tensor) {
    let input = t(x).set_requires_grad(true);
    f(&input).backward();
    let grad = values(&input.grad());
    let h = 1e-6;
    for i in 0..x.len() {
        let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let numeric =
            (f(&t(&plus)).double_value(&[]) - f(&t(&minus)).double_value(&[])) / (2.0 * h);
        assert!(
            (numeric - grad[i]).abs() < 1e-6 * numeric.abs().max(1.0),
            "element {i}: autograd {}, finite difference {numeric}",
            grad[i]
        );
    }
}

/// Policy log-probs `[chosen..., rejected...]` as one input, the rest fixed.
const POLICY: [f64; 8] = [-10.0, -25.0, -7.5, -40.0, -12.0, -22.5, -9.0, -31.0];
const REF_C: [f64; 4] = [-11.0, -24.0, -9.0, -38.5];
const REF_R: [f64; 4] = [-11.5, -21.0, -8.0, -33.0];
const LEN_C: [f64; 4] = [12.0, 30.0, 5.0, 41.0];
const LEN_R: [f64; 4] = [10.0, 26.0, 9.0, 35.0];
/// The previous iterate, for INPO (the other losses ignore it).
const ITER_C: [f64; 4] = [-10.5, -24.5, -8.0, -39.0];
const ITER_R: [f64; 4] = [-12.5, -21.5, -8.5, -32.0];

fn paired_gradient(loss: impl Fn(&PreferenceBatch) -> Result<PreferenceLoss, MethodError>) {
    paired_gradient_at(&POLICY, &LEN_C, &LEN_R, loss);
}

/// As [`paired_gradient`] at other policy log-probs and lengths.
fn paired_gradient_at(
    policy: &[f64; 8],
    len_c: &[f64; 4],
    len_r: &[f64; 4],
    loss: impl Fn(&PreferenceBatch) -> Result<PreferenceLoss, MethodError>,
) {
    let (rc, rr, lc, lr) = (t(&REF_C), t(&REF_R), t(len_c), t(len_r));
    let (ic, ir) = (t(&ITER_C), t(&ITER_R));
    check_gradient(policy, |x| {
        let (pc, pr) = (x.narrow(0, 0, 4), x.narrow(0, 4, 4));
        let batch = PreferenceBatch {
            policy_chosen_logp: &pc,
            policy_rejected_logp: &pr,
            reference_chosen_logp: Some(&rc),
            reference_rejected_logp: Some(&rr),
            iterate_chosen_logp: Some(&ic),
            iterate_rejected_logp: Some(&ir),
            chosen_len: &lc,
            rejected_len: &lr,
        };
        loss(&batch).expect("loss runs").loss
    });
}

#[test]
fn every_paired_loss_gradient_matches_finite_differences() {
    for beta in [0.1, 0.5] {
        paired_gradient(|b| {
            sigmoid_loss(
                b,
                &SigmoidConfig {
                    beta,
                    label_smoothing: 0.2,
                },
            )
        });
        paired_gradient(|b| {
            robust_loss(
                b,
                &RobustConfig {
                    beta,
                    label_smoothing: 0.3,
                },
            )
        });
        paired_gradient(|b| hinge_loss(b, &HingeConfig { beta }));
        for length_normalized in [false, true] {
            paired_gradient(|b| {
                ipo_loss(
                    b,
                    &IpoConfig {
                        beta,
                        length_normalized,
                    },
                )
            });
        }
        for nll in [RpoNll::Summed, RpoNll::TokenMean] {
            paired_gradient(|b| {
                rpo_loss(
                    b,
                    &RpoConfig {
                        beta,
                        coef: 0.05,
                        nll,
                    },
                )
            });
        }
    }
    let simpo = SimpoConfig {
        beta: 2.5,
        gamma: 1.4,
        label_smoothing: 0.1,
    };
    paired_gradient(|b| simpo_loss(b, &simpo));
    for beta in [0.1, 2.0] {
        paired_gradient(|b| orpo_loss(b, &OrpoConfig { beta }));
        // Mean log-probs near 0 too, on both sides of log1mexp's branch at -ln 2.
        paired_gradient_at(
            &[-0.05, -6.0, -0.3, -0.002, -9.0, -0.4, -20.0, -0.01],
            &[10.0, 5.0, 2.0, 1.0],
            &[3.0, 7.0, 1.0, 2.0],
            |b| orpo_loss(b, &OrpoConfig { beta }),
        );
        paired_gradient(|b| seppo_loss(b, &SeppoConfig { beta }));
    }
    for (eta, tau) in [(1.0, 0.1), (0.5, 0.0), (0.2, 0.2), (2.0, 0.7)] {
        paired_gradient(|b| inpo_loss(b, &InpoConfig { eta, tau }));
    }
}

#[test]
fn kto_gradient_matches_finite_differences_and_skips_the_reference_point() {
    let (reference, desirable) = (t(&[-9.0, -20.0, -7.0, -30.0]), t(&[1.0, 0.0, 1.0, 0.0]));
    let kl_r = t(&[-14.0, -18.0, -6.0]);
    let config = KtoConfig {
        beta: 0.5,
        desirable_weight: 1.0,
        undesirable_weight: 1.3,
    };
    let kl_values = [-13.0, -17.5, -6.2];
    let kl_p = t(&kl_values);
    check_gradient(&[-10.0, -19.0, -7.5, -33.0], |x| {
        let batch = UnpairedBatch {
            policy_logp: x,
            reference_logp: &reference,
            desirable: &desirable,
            kl_policy_logp: Some(&kl_p),
            kl_reference_logp: Some(&kl_r),
        };
        kto_loss(&batch, &config).expect("kto").loss
    });
    // z_ref is detached (preference-baselines.md): no gradient reaches the mismatched pairs.
    let kl_p = t(&kl_values).set_requires_grad(true);
    let pol = t(&[-10.0, -19.0, -7.5, -33.0]).set_requires_grad(true);
    let batch = UnpairedBatch {
        policy_logp: &pol,
        reference_logp: &reference,
        desirable: &desirable,
        kl_policy_logp: Some(&kl_p),
        kl_reference_logp: Some(&kl_r),
    };
    kto_loss(&batch, &config).expect("kto").loss.backward();
    assert!(
        !kl_p.grad().defined(),
        "gradient flowed into the KL reference point"
    );
}

#[test]
fn bt_gradient_matches_finite_differences() {
    let margin = t(&[0.5, 0.0, 1.0]);
    let config = BtConfig {
        margin: 0.2,
        center_rewards_coefficient: 0.01,
    };
    check_gradient(&[1.3, -0.2, 2.0, 0.4, 0.5, -1.0], |x| {
        let (c, r) = (x.narrow(0, 0, 3), x.narrow(0, 3, 3));
        let pairs = RewardPairs {
            chosen_reward: &c,
            rejected_reward: &r,
            margin: Some(&margin),
        };
        bt_loss(&pairs, &config).expect("bt").loss
    });
}

// ---- (d) properties -----------------------------------------------------------------------

fn fixture_like_pairs() -> Pairs {
    Pairs::new(&POLICY[..4], &POLICY[4..], &REF_C, &REF_R, &LEN_C, &LEN_R)
}

#[test]
fn dpo_at_zero_margin_is_log_two_for_any_beta_and_smoothing() {
    let p = Pairs::new(
        &[-3.0, -8.0],
        &[-5.0, -6.0],
        &[-3.0, -8.0],
        &[-5.0, -6.0],
        &[1.0, 2.0],
        &[1.0, 2.0],
    );
    for beta in [0.01, 0.1, 0.5] {
        for label_smoothing in [0.0, 0.25, 0.5] {
            let out = sigmoid_loss(
                &p.batch(),
                &SigmoidConfig {
                    beta,
                    label_smoothing,
                },
            )
            .expect("dpo");
            close(
                out.loss.double_value(&[]),
                std::f64::consts::LN_2,
                1e-12,
                "DPO at u = 0",
            );
        }
    }
}

#[test]
fn swapping_chosen_and_rejected_flips_margin_and_accuracy() {
    let p = fixture_like_pairs();
    let q = p.swapped();
    let config = SigmoidConfig::default();
    let a = sigmoid_loss(&p.batch(), &config).expect("dpo");
    let b = sigmoid_loss(&q.batch(), &config).expect("dpo");
    close(
        b.metrics["reward_margin"],
        -a.metrics["reward_margin"],
        1e-12,
        "margin",
    );
    // No ties in this batch, so accuracy complements.
    close(
        b.metrics["reward_accuracy"],
        1.0 - a.metrics["reward_accuracy"],
        1e-12,
        "accuracy",
    );
    assert!(a.metrics["reward_accuracy"] > 0.0 && a.metrics["reward_accuracy"] < 1.0);
    // -log sigmoid(u) - (-log sigmoid(-u)) = -u per pair.
    let u = values(&(&a.chosen_rewards - &a.rejected_rewards));
    let (la, lb) = (values(&a.losses), values(&b.losses));
    for i in 0..u.len() {
        close(la[i] - lb[i], -u[i], 1e-12, "loss difference under swap");
    }
}

#[test]
fn ipo_is_minimal_at_margin_one_over_two_beta() {
    for beta in [0.1, 0.25, 1.0] {
        let target = 1.0 / (2.0 * beta);
        let at = |h: f64| {
            // chosen log-ratio h, rejected 0.
            let p = Pairs::new(&[-5.0 + h], &[-7.0], &[-5.0], &[-7.0], &[3.0], &[4.0]);
            ipo_loss(
                &p.batch(),
                &IpoConfig {
                    beta,
                    length_normalized: false,
                },
            )
            .expect("ipo")
            .loss
            .double_value(&[])
        };
        close(at(target), 0.0, 1e-9, "IPO at its minimum");
        assert!(at(target - 0.1) > 1e-3 && at(target + 0.1) > 1e-3);
        close(
            at(target - 0.3),
            at(target + 0.3),
            1e-9,
            "IPO symmetric about its minimum",
        );
    }
}

#[test]
fn ipo_length_normalized_divides_log_ratios_by_token_counts() {
    let p = spec_pair(2.0, 4.0);
    let out = ipo_loss(
        &p.batch(),
        &IpoConfig {
            beta: 0.1,
            length_normalized: true,
        },
    )
    .expect("ipo");
    // h = 1/2 - (-1/4) = 0.75.
    close(
        out.loss.double_value(&[]),
        (0.75f64 - 5.0).powi(2),
        1e-12,
        "normalized IPO",
    );
}

#[test]
fn simpo_ignores_reference_log_probs() {
    let p = fixture_like_pairs();
    let with = simpo_loss(&p.batch(), &SimpoConfig::default()).expect("simpo");
    let garbage = t(&[1e3, -1e3, 0.0, 7.0]);
    let mut batch = p.batch();
    batch.reference_chosen_logp = Some(&garbage);
    batch.reference_rejected_logp = None;
    let odd = simpo_loss(&batch, &SimpoConfig::default()).expect("simpo");
    batch.reference_chosen_logp = None;
    let without = simpo_loss(&batch, &SimpoConfig::default()).expect("simpo without reference");
    for other in [&odd, &without] {
        close(
            other.loss.double_value(&[]),
            with.loss.double_value(&[]),
            0.0,
            "SimPO loss",
        );
    }
}

#[test]
fn kto_reference_point_is_clamped_at_zero_and_defaults_to_zero() {
    let (pol, reference, desirable) = (t(&[1.0, -1.0]), t(&[0.0, 0.0]), t(&[1.0, 0.0]));
    let (kl_p, kl_r) = (t(&[-9.0]), t(&[-5.0]));
    let mut batch = UnpairedBatch {
        policy_logp: &pol,
        reference_logp: &reference,
        desirable: &desirable,
        kl_policy_logp: Some(&kl_p),
        kl_reference_logp: Some(&kl_r),
    };
    let negative = kto_loss(&batch, &KtoConfig::default()).expect("kto");
    assert_eq!(negative.metrics["kl_reference_point"], 0.0);
    batch.kl_policy_logp = None;
    batch.kl_reference_logp = None;
    let none = kto_loss(&batch, &KtoConfig::default()).expect("kto");
    close(
        none.loss.double_value(&[]),
        negative.loss.double_value(&[]),
        0.0,
        "z_ref = 0",
    );
    batch.kl_policy_logp = Some(&kl_p);
    assert!(matches!(
        kto_loss(&batch, &KtoConfig::default()),
        Err(MethodError::Shape { .. })
    ));
}

#[test]
fn robust_with_no_flips_is_dpo_and_differs_from_cdpo_otherwise() {
    let p = fixture_like_pairs();
    let dpo = sigmoid_loss(&p.batch(), &SigmoidConfig::default()).expect("dpo");
    let clean = robust_loss(&p.batch(), &RobustConfig::default()).expect("robust");
    close(
        clean.loss.double_value(&[]),
        dpo.loss.double_value(&[]),
        1e-12,
        "robust eps=0",
    );
    let eps = 0.2;
    let r = robust_loss(
        &p.batch(),
        &RobustConfig {
            beta: 0.1,
            label_smoothing: eps,
        },
    )
    .expect("robust");
    let c = sigmoid_loss(
        &p.batch(),
        &SigmoidConfig {
            beta: 0.1,
            label_smoothing: eps,
        },
    )
    .expect("cdpo");
    assert!((r.loss.double_value(&[]) - c.loss.double_value(&[])).abs() > 1e-3);
}

#[test]
fn orpo_at_equal_mean_log_probs_is_nll_plus_lambda_log_two() {
    // a_w = a_l: the odds ratio is 1, log sigmoid(0) = -log 2.
    let p = Pairs::new(
        &[-3.0, -0.02],
        &[-1.5, -0.04],
        &[0.0, 0.0],
        &[0.0, 0.0],
        &[2.0, 4.0],
        &[1.0, 8.0],
    );
    let beta = 0.3;
    let out = orpo_loss(&p.batch(), &OrpoConfig { beta }).expect("orpo");
    let losses = values(&out.losses);
    let ln2 = std::f64::consts::LN_2;
    close(losses[0], 1.5 + beta * ln2, 1e-12, "pair 0");
    close(losses[1], 0.005 + beta * ln2, 1e-12, "pair 1");
    close(out.metrics["log_odds_chosen"], 0.0, 1e-12, "log odds");
    close(out.metrics["nll"], (1.5 + 0.005) / 2.0, 1e-12, "nll");
    close(
        out.metrics["reward_chosen"],
        beta * (-1.5 - 0.005) / 2.0,
        1e-12,
        "reward",
    );
}

#[test]
fn orpo_is_finite_with_gradient_when_mean_log_probs_reach_zero() {
    for kind in [tch::Kind::Double, tch::Kind::Float] {
        for (chosen, rejected) in [
            ([-1e-12, 0.0, 0.0, -1e-30], [-2.0, 0.0, -1e-7, 0.0]),
            (
                [-0.7, -std::f64::consts::LN_2, -1e-3, -40.0],
                [-1e-300, -0.69, -5.0, -1e-3],
            ),
        ] {
            let pc = t(&chosen).to_kind(kind).set_requires_grad(true);
            let pr = t(&rejected).to_kind(kind).set_requires_grad(true);
            let len = t(&[1.0; 4]);
            let batch = PreferenceBatch {
                policy_chosen_logp: &pc,
                policy_rejected_logp: &pr,
                reference_chosen_logp: None,
                reference_rejected_logp: None,
                iterate_chosen_logp: None,
                iterate_rejected_logp: None,
                chosen_len: &len,
                rejected_len: &len,
            };
            let out = orpo_loss(&batch, &OrpoConfig::default()).expect("orpo");
            out.loss.backward();
            let what = format!("{kind:?} {chosen:?} {rejected:?}");
            for v in values(&out.losses)
                .into_iter()
                .chain(values(&pc.grad()))
                .chain(values(&pr.grad()))
            {
                assert!(v.is_finite(), "{what}: {v}");
            }
            for key in ["log_odds_ratio", "log_odds_chosen"] {
                assert!(out.metrics[key].is_finite(), "{what}: {key}");
            }
        }
    }
}

#[test]
fn orpo_ignores_reference_and_rejects_positive_log_probs() {
    let p = fixture_like_pairs();
    let with = orpo_loss(&p.batch(), &OrpoConfig::default()).expect("orpo");
    let mut batch = p.batch();
    batch.reference_chosen_logp = None;
    batch.reference_rejected_logp = None;
    let without = orpo_loss(&batch, &OrpoConfig::default()).expect("orpo without reference");
    close(
        without.loss.double_value(&[]),
        with.loss.double_value(&[]),
        0.0,
        "ORPO loss",
    );
    let positive = t(&[-1.0, 0.5, -2.0, -3.0]);
    batch.policy_chosen_logp = &positive;
    let err = orpo_loss(&batch, &OrpoConfig::default())
        .err()
        .expect("positive log-prob");
    assert!(err.to_string().contains("policy_chosen_logp"), "{err}");
    assert!(err.to_string().contains("index 1"), "{err}");
}

/// Seeded normal draws, `[n]` in f64.
fn random(n: i64, scale: f64) -> Vec<f64> {
    values(&(Tensor::randn([n], (tch::Kind::Double, tch::Device::Cpu)) * scale))
}

#[test]
fn inpo_with_tau_equal_to_eta_is_ipo_with_beta_eta_whatever_the_iterate() {
    tch::manual_seed(15);
    for eta in [0.05, 0.5, 1.0, 3.0] {
        let (pc, pr) = (random(32, 20.0), random(32, 20.0));
        let (rc, rr) = (random(32, 20.0), random(32, 20.0));
        let p = Pairs::new(&pc, &pr, &rc, &rr, &[1.0; 32], &[1.0; 32])
            .with_iterate(&random(32, 50.0), &random(32, 50.0));
        let inpo = inpo_loss(&p.batch(), &InpoConfig { eta, tau: eta }).expect("inpo");
        let ipo = ipo_loss(
            &p.batch(),
            &IpoConfig {
                beta: eta,
                length_normalized: false,
            },
        )
        .expect("ipo");
        for (a, b, what) in [
            (&inpo.losses, &ipo.losses, "losses"),
            (&inpo.chosen_rewards, &ipo.chosen_rewards, "chosen rewards"),
            (
                &inpo.rejected_rewards,
                &ipo.rejected_rewards,
                "rejected rewards",
            ),
        ] {
            let err = max_error(&values(a), &values(b), what);
            assert!(err <= 1e-9, "eta {eta}: {what} differ by {err}");
        }
    }
}

#[test]
fn inpo_is_minimal_at_h_one_over_two_eta_with_zero_gradient() {
    for (eta, tau) in [(1.0, 0.1), (0.25, 0.0), (2.0, 1.5)] {
        let target = 1.0 / (2.0 * eta);
        // The reference and the iterate margins are 0.5 and -0.3; for log pi(y_w) = x and
        // log pi(y_l) = -2, h = x + 2 - (tau/eta) 0.5 - (1 - tau/eta)(-0.3) = x + offset.
        let offset = 2.0 - (tau / eta) * 0.5 + (1.0 - tau / eta) * 0.3;
        let at = |h: f64| {
            let pc = t(&[h - offset]).set_requires_grad(true);
            let (pr, rc, rr, ic, ir, len) = (
                t(&[-2.0]),
                t(&[-1.0]),
                t(&[-1.5]),
                t(&[-4.0]),
                t(&[-3.7]),
                t(&[5.0]),
            );
            let batch = PreferenceBatch {
                policy_chosen_logp: &pc,
                policy_rejected_logp: &pr,
                reference_chosen_logp: Some(&rc),
                reference_rejected_logp: Some(&rr),
                iterate_chosen_logp: Some(&ic),
                iterate_rejected_logp: Some(&ir),
                chosen_len: &len,
                rejected_len: &len,
            };
            let out = inpo_loss(&batch, &InpoConfig { eta, tau }).expect("inpo");
            close(out.metrics["h"], h, 1e-9, "h as set up");
            out.loss.backward();
            (out.loss.double_value(&[]), pc.grad().double_value(&[0]))
        };
        let (minimum, slope) = at(target);
        close(minimum, 0.0, 1e-12, "INPO at its minimum");
        close(slope, 0.0, 1e-9, "INPO's gradient at its minimum");
        assert!(at(target - 0.1).0 > 1e-3 && at(target + 0.1).0 > 1e-3);
        close(
            at(target - 0.3).0,
            at(target + 0.3).0,
            1e-9,
            "INPO symmetric about its minimum",
        );
    }
}

#[test]
fn seppo_without_flips_is_dpo() {
    // Every anchor log-ratio positive: s = +1 throughout, the loss is DPO's on (y+, y_ref).
    let p = Pairs::new(
        &[-10.0, -23.0, -7.0, -38.0],
        &REF_R,
        &REF_C,
        &[-12.0, -20.5, -8.1, -30.0],
        &LEN_C,
        &LEN_R,
    );
    for beta in [0.1, 0.7] {
        let seppo = seppo_loss(&p.batch(), &SeppoConfig { beta }).expect("seppo");
        let dpo = sigmoid_loss(
            &p.batch(),
            &SigmoidConfig {
                beta,
                label_smoothing: 0.0,
            },
        )
        .expect("dpo");
        assert_eq!(seppo.metrics["flip_fraction"], 0.0);
        let err = max_error(&values(&seppo.losses), &values(&dpo.losses), "losses");
        assert!(err <= 1e-12, "beta {beta}: SePPO and DPO differ by {err}");
    }
}

#[test]
fn seppo_flip_pulls_the_reference_sample_up() {
    // d_pos < 0: s = -1, so the loss falls as log pi(y_ref) rises (DPO would push it down).
    let p = Pairs::new(&[-11.0], &[-9.0], &[-10.0], &[-9.5], &[1.0], &[1.0]);
    let pr = t(&[-9.0]).set_requires_grad(true);
    let mut batch = p.batch();
    batch.policy_rejected_logp = &pr;
    let out = seppo_loss(&batch, &SeppoConfig::default()).expect("seppo");
    assert_eq!(out.metrics["flip_fraction"], 1.0);
    out.loss.backward();
    assert!(pr.grad().double_value(&[0]) < 0.0);
}

// ---- registry and errors ------------------------------------------------------------------

#[test]
fn every_registered_loss_builds_with_defaults_and_names_are_unique() {
    let mut names: Vec<&str> = PREFERENCE_LOSSES.iter().map(|e| e.name).collect();
    for entry in PREFERENCE_LOSSES {
        let loss = build_preference_loss(entry.name, None).expect("defaults valid");
        assert_eq!(loss.name(), entry.name);
        assert_eq!(loss.input(), entry.input);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), PREFERENCE_LOSSES.len());
    assert!(matches!(
        build_preference_loss("dpo_typo", None),
        Err(MethodError::Unknown { .. })
    ));
}

#[test]
fn out_of_range_and_unknown_settings_name_the_key() {
    let table = |s: &str| -> toml::Value { toml::from_str(s).expect("toml") };
    for (name, settings, key) in [
        (
            "sigmoid",
            "label_smoothing = 0.6",
            "preference.sigmoid.label_smoothing",
        ),
        (
            "robust",
            "label_smoothing = 0.5",
            "preference.robust.label_smoothing",
        ),
        ("ipo", "beta = 0.0", "preference.ipo.beta"),
        ("simpo", "gamma = -1.0", "preference.simpo.gamma"),
        (
            "kto",
            "undesirable_weight = -1.0",
            "preference.kto.undesirable_weight",
        ),
        ("rpo", "coef = -0.1", "preference.rpo.coef"),
        (
            "bt",
            "center_rewards_coefficient = -1.0",
            "preference.bt.center_rewards_coefficient",
        ),
        ("sigmoid", "betta = 0.1", "preference.sigmoid"),
        ("rpo", "nll = \"mean\"", "preference.rpo.nll"),
        ("orpo", "beta = 0.0", "preference.orpo.beta"),
        ("inpo", "eta = 0.0", "preference.inpo.eta"),
        ("inpo", "eta = 0.5\ntau = 0.6", "preference.inpo.tau"),
        ("inpo", "tau = -0.1", "preference.inpo.tau"),
        ("inpo", "beta = 0.1", "preference.inpo"),
        ("seppo", "beta = -1.0", "preference.seppo.beta"),
    ] {
        let err = build_preference_loss(name, Some(&table(settings)))
            .err()
            .unwrap_or_else(|| panic!("{name} {settings} accepted"));
        assert!(err.to_string().contains(key), "{name} {settings}: {err}");
    }
}

#[test]
fn wrong_data_kind_missing_reference_and_bad_lengths_are_errors() {
    let p = fixture_like_pairs();
    let kto = build_preference_loss("kto", None).expect("kto");
    assert!(matches!(
        kto.loss(&PreferenceData::Paired(p.batch())),
        Err(MethodError::Unsupported { .. })
    ));
    let mut batch = p.batch();
    batch.reference_rejected_logp = None;
    let err = sigmoid_loss(&batch, &SigmoidConfig::default())
        .err()
        .expect("needs reference");
    assert!(err.to_string().contains("reference_rejected_logp"), "{err}");
    let zero = t(&[12.0, 0.0, 5.0, 41.0]);
    let mut batch = p.batch();
    batch.chosen_len = &zero;
    let err = simpo_loss(&batch, &SimpoConfig::default())
        .err()
        .expect("zero length");
    assert!(err.to_string().contains("chosen_len"), "{err}");
    let short = t(&[-1.0, -2.0]);
    let mut batch = p.batch();
    batch.policy_rejected_logp = &short;
    assert!(matches!(
        hinge_loss(&batch, &HingeConfig::default()),
        Err(MethodError::Shape { .. })
    ));
}

#[test]
fn inpo_needs_reference_and_iterate_and_seppo_the_reference() {
    let p = fixture_like_pairs().with_iterate(&ITER_C, &ITER_R);
    inpo_loss(&p.batch(), &InpoConfig::default()).expect("complete batch");
    let expect_missing = |batch: &PreferenceBatch, what: &str| {
        let err = inpo_loss(batch, &InpoConfig::default())
            .err()
            .unwrap_or_else(|| panic!("inpo ran without {what}"));
        assert!(err.to_string().contains(what), "{what}: {err}");
    };
    let mut batch = p.batch();
    batch.iterate_chosen_logp = None;
    expect_missing(&batch, "iterate_chosen_logp");
    let mut batch = p.batch();
    batch.iterate_rejected_logp = None;
    expect_missing(&batch, "iterate_rejected_logp");
    let mut batch = p.batch();
    batch.reference_chosen_logp = None;
    expect_missing(&batch, "reference_chosen_logp");
    let short = t(&[-1.0, -2.0]);
    let mut batch = p.batch();
    batch.iterate_rejected_logp = Some(&short);
    assert!(matches!(
        inpo_loss(&batch, &InpoConfig::default()),
        Err(MethodError::Shape { .. })
    ));
    let mut batch = p.batch();
    batch.reference_rejected_logp = None;
    let err = seppo_loss(&batch, &SeppoConfig::default())
        .err()
        .expect("seppo needs the reference");
    assert!(err.to_string().contains("reference_rejected_logp"), "{err}");
    for name in ["orpo", "inpo", "seppo"] {
        let loss = build_preference_loss(name, None).expect("defaults");
        let (r_w, r_l) = (t(&[1.0]), t(&[0.0]));
        let rewards = PreferenceData::Rewards(RewardPairs {
            chosen_reward: &r_w,
            rejected_reward: &r_l,
            margin: None,
        });
        assert!(matches!(
            loss.loss(&rewards),
            Err(MethodError::Unsupported { .. })
        ));
    }
}
