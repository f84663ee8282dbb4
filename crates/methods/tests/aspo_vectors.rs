//! aspo.md "CPU-scale check" and the properties the spec states: the numeric vector, k = 0
//! equals the unshaped method exactly, a single eligible response gets no bias, and the bounds
//! use |A| so a correct response's advantage keeps its sign.
use polopt_methods::credit::{
    add_bias, aspo_bias, Advantages, AspoConfig, CreditBatch, ResponseInfo,
};
use polopt_methods::plan::{MethodRuntime, StepContext};
use polopt_methods::presets::preset;
use polopt_methods::MethodConfig;

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

fn info(correct: bool, first_call: Option<usize>) -> ResponseInfo {
    ResponseInfo {
        correct,
        first_tool_call: first_call,
    }
}

fn sequence(a: Advantages) -> Vec<f64> {
    match a {
        Advantages::Sequence(a) => a,
        Advantages::Token(_) => panic!("expected sequence-level advantages"),
    }
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
    }
}

#[test]
fn spec_vector_three_correct_tool_responses() {
    let (rewards, groups, lens) = ([1.0; 3], [0; 3], [4000, 5000, 6000]);
    let b = batch(&rewards, &groups, &lens);
    let infos = [
        info(true, Some(500)),
        info(true, Some(2000)),
        info(true, Some(3500)),
    ];
    let a = [0.8; 3];
    let bias = aspo_bias(&a, &b, &infos, &AspoConfig::default()).unwrap();
    // Raw bias -2 (p - 2000) / 5000 = [0.6, 0, -0.6], clipped to +-0.7 * 0.8 = +-0.56.
    assert_close(&bias, &[0.56, 0.0, -0.56]);
    let mut shaped = Advantages::Sequence(a.to_vec());
    add_bias(&mut shaped, &bias);
    assert_close(&sequence(shaped), &[1.36, 0.80, 0.24]);
    // Inside the bounds the raw bias passes unclipped.
    let wide = AspoConfig {
        delta: -2.0,
        k: 0.9,
    };
    assert_close(
        &aspo_bias(&a, &b, &infos, &wide).unwrap(),
        &[0.6, 0.0, -0.6],
    );
}

#[test]
fn only_correct_tool_using_responses_are_eligible_and_singletons_get_nothing() {
    // Group 0: two eligible (p = 2, 10; L = 20, 20), one correct without a call, one wrong with
    // a call. Group 1: a single eligible response.
    let rewards = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0];
    let groups = [0, 0, 0, 0, 1, 1];
    let lens = [20, 20, 30, 5, 40, 40];
    let infos = [
        info(true, Some(2)),
        info(true, Some(10)),
        info(true, None),
        info(false, Some(0)),
        info(true, Some(30)),
        info(false, None),
    ];
    let a = [0.5, 0.5, 0.5, -1.5, 0.7, -0.7];
    let bias = aspo_bias(
        &a,
        &batch(&rewards, &groups, &lens),
        &infos,
        &AspoConfig::default(),
    )
    .unwrap();
    // -2 (2 - 6) / 20 = 0.4 and -0.4, inside +-0.35? No: clipped to 0.7 * 0.5 = 0.35.
    assert_close(&bias, &[0.35, -0.35, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn bounds_use_the_absolute_advantage() {
    // A correct response can have A <= 0 when rewards carry shaping (e.g. overlong penalties).
    let (rewards, groups, lens) = ([1.0, 1.0], [0, 0], [10, 10]);
    let infos = [info(true, Some(0)), info(true, Some(10))];
    let a = [-0.5, 0.5];
    let bias = aspo_bias(
        &a,
        &batch(&rewards, &groups, &lens),
        &infos,
        &AspoConfig::default(),
    )
    .unwrap();
    // Raw -2 (0 - 5) / 10 = 1.0 and -1.0, clipped to +-0.35 each.
    assert_close(&bias, &[0.35, -0.35]);
}

fn runtime_advantages(config: &MethodConfig, infos: Option<&[ResponseInfo]>) -> Vec<f64> {
    let rewards = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let groups = [0, 0, 0, 0, 1, 1, 1, 1];
    let lens = [12, 30, 7, 25, 9, 14, 40, 40];
    let ctx = StepContext {
        responses: infos,
        ..Default::default()
    };
    let plan = MethodRuntime::new(config)
        .expect("valid")
        .plan(&batch(&rewards, &groups, &lens), &ctx)
        .expect("plan");
    sequence(plan.advantages)
}

fn tool_infos() -> Vec<ResponseInfo> {
    vec![
        info(true, Some(0)),
        info(true, Some(12)),
        info(false, Some(3)),
        info(true, Some(6)),
        info(false, None),
        info(true, Some(2)),
        info(true, Some(20)),
        info(false, Some(1)),
    ]
}

#[test]
fn k_zero_equals_the_unshaped_preset_exactly() {
    let dapo = (preset("dapo").unwrap().build)();
    let mut aspo = (preset("aspo").unwrap().build)();
    assert_eq!(aspo.credit.shaping, "aspo");
    aspo.credit.parts.set("aspo", "k", 0.0);
    let infos = tool_infos();
    let base = runtime_advantages(&dapo, None);
    let shaped = runtime_advantages(&aspo, Some(&infos));
    assert_eq!(
        base.iter().map(|a| a.to_bits()).collect::<Vec<_>>(),
        shaped.iter().map(|a| a.to_bits()).collect::<Vec<_>>()
    );
    // Apart from the shaping part, the preset is DAPO.
    aspo.credit.shaping = "none".into();
    aspo.credit.parts.remove("aspo");
    assert_eq!(aspo, dapo);
}

#[test]
fn the_preset_shapes_the_estimator_advantages() {
    let aspo = (preset("aspo").unwrap().build)();
    let infos = tool_infos();
    let base = runtime_advantages(&(preset("dapo").unwrap().build)(), None);
    let shaped = runtime_advantages(&aspo, Some(&infos));
    // Group 0: eligible 0, 1, 3 with p = [0, 12, 6], L = [12, 30, 25]: mean p 6, mean L 67/3.
    let mean_l = 67.0 / 3.0;
    let raw = [-2.0 * -6.0 / mean_l, 0.0, 0.0, 0.0];
    let raw1 = -2.0 * 6.0 / mean_l;
    let mut want = base.clone();
    let clip = |x: f64, a: f64| x.clamp(-0.7 * a.abs(), 0.7 * a.abs());
    want[0] += clip(raw[0], base[0]);
    want[1] += clip(raw1, base[1]);
    // Group 1: eligible 5, 6 with p = [2, 20], L = [14, 40]: mean p 11, mean L 27.
    want[5] += clip(-2.0 * -9.0 / 27.0, base[5]);
    want[6] += clip(-2.0 * 9.0 / 27.0, base[6]);
    assert_close(&shaped, &want);
    assert!(shaped[0] > shaped[3] && shaped[3] > shaped[1], "{shaped:?}");
    assert!(shaped
        .iter()
        .zip(&base)
        .all(|(s, b)| s.signum() == b.signum()));
}

#[test]
fn missing_rollout_data_and_bad_knobs_are_named_errors() {
    let aspo = (preset("aspo").unwrap().build)();
    let (rewards, groups, lens) = ([1.0, 0.0], [0, 0], [3, 3]);
    let err = MethodRuntime::new(&aspo)
        .unwrap()
        .plan(&batch(&rewards, &groups, &lens), &StepContext::default())
        .unwrap_err();
    assert!(err.to_string().contains("aspo"), "{err}");
    let short = [info(true, Some(1))];
    let ctx = StepContext {
        responses: Some(&short),
        ..Default::default()
    };
    let err = MethodRuntime::new(&aspo)
        .unwrap()
        .plan(&batch(&rewards, &groups, &lens), &ctx)
        .unwrap_err();
    assert!(err.to_string().contains("response info 1"), "{err}");
    for (k, delta, key) in [
        (1.5, -2.0, "method.credit.aspo.k"),
        (0.7, f64::NAN, "method.credit.aspo.delta"),
    ] {
        let mut bad = aspo.clone();
        bad.credit
            .parts
            .put("aspo", &AspoConfig { delta, k })
            .expect("serializes");
        let err = MethodRuntime::new(&bad).err().expect("rejected");
        assert!(err.to_string().contains(key), "{err}");
    }
}
