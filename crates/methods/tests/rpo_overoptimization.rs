//! rpo.md's small-scale check, in the form where the effect shows: preference data covers
//! two of three responses, and the policy is log-linear in shared features, so the unseen
//! response's log-ratio is not constrained by the data. DPO maximises the margin
//! `theta . (phi_w - phi_l)` without bound and the unseen (bad) response, which lies further
//! along that direction, takes the mass; RPO's NLL on the chosen response holds it back.
//! (With one free logit per response DPO cannot leak: its loss sees only logit differences
//! of covered responses, so the unseen logits get no gradient.)
use polopt_methods::preference::{
    rpo_loss, sigmoid_loss, PreferenceBatch, RpoConfig, RpoNll, SigmoidConfig,
};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

/// Features of the three responses: 0 (good, chosen), 1 (worse, rejected), 2 (unseen, bad,
/// along phi_0 - phi_1).
const FEATURES: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 2.0, -1.0];
/// Hidden reward.
const REWARD: [f64; 3] = [1.0, 0.5, 0.0];

struct Outcome {
    true_reward: f64,
    unseen_mass: f64,
    logp_best_change: f64,
}

fn train(rpo_coef: Option<f64>) -> Outcome {
    let vs = nn::VarStore::new(Device::Cpu);
    let theta = vs.root().zeros("theta", &[2]);
    let features = Tensor::from_slice(&FEATURES).view([3, 2]);
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let (w, l) = (Tensor::from_slice(&[0i64]), Tensor::from_slice(&[1i64]));
    // pi_ref = the initial policy, uniform.
    let ref_logp = Tensor::from_slice(&[-(3f32.ln())]);
    let ones = Tensor::ones([1], (Kind::Float, Device::Cpu));
    let logp_of = || features.mv(&theta).log_softmax(0, Kind::Float);
    let logp0 = logp_of().double_value(&[0]);
    for _ in 0..400 {
        let logp = logp_of();
        let batch = PreferenceBatch {
            policy_chosen_logp: &logp.index_select(0, &w),
            policy_rejected_logp: &logp.index_select(0, &l),
            reference_chosen_logp: Some(&ref_logp),
            reference_rejected_logp: Some(&ref_logp),
            iterate_chosen_logp: None,
            iterate_rejected_logp: None,
            chosen_len: &ones,
            rejected_len: &ones,
        };
        let loss = match rpo_coef {
            None => sigmoid_loss(&batch, &SigmoidConfig::default()),
            Some(coef) => rpo_loss(
                &batch,
                &RpoConfig {
                    coef,
                    nll: RpoNll::Summed,
                    ..RpoConfig::default()
                },
            ),
        }
        .expect("loss");
        opt.backward_step(&loss.loss);
    }
    let logp = logp_of();
    let probs: Vec<f64> = (0..3).map(|i| logp.double_value(&[i]).exp()).collect();
    Outcome {
        true_reward: probs.iter().zip(REWARD).map(|(p, r)| p * r).sum(),
        unseen_mass: probs[2],
        logp_best_change: logp.double_value(&[0]) - logp0,
    }
}

#[test]
fn rpo_keeps_mass_on_covered_responses_where_dpo_leaks_it() {
    let dpo = train(None);
    let rpo = train(Some(2.0));
    assert!(
        dpo.unseen_mass > 0.5,
        "DPO's leak onto unseen responses: {:.3}",
        dpo.unseen_mass
    );
    assert!(
        rpo.unseen_mass < dpo.unseen_mass / 2.0,
        "unseen mass: RPO {:.3}, DPO {:.3}",
        rpo.unseen_mass,
        dpo.unseen_mass
    );
    assert!(
        rpo.true_reward > dpo.true_reward + 0.2,
        "true reward: RPO {:.3}, DPO {:.3}",
        rpo.true_reward,
        dpo.true_reward
    );
    // DPO lowers the chosen response's likelihood (its mass goes to the unseen one); RPO
    // keeps it near where it started (rpo.md: "mitigates the drop in chosen likelihood").
    assert!(
        dpo.logp_best_change < -1.0 && rpo.logp_best_change > -0.1,
        "change of log pi(y_w): DPO {:.3}, RPO {:.3}",
        dpo.logp_best_change,
        rpo.logp_best_change
    );
}
