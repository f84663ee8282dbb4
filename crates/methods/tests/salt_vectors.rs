//! salt.md "Test vector" (GRPO base, sample std, R = [1, 0, 0]) on episodes whose edges are
//! shared as in the spec's cases, plus properties: prefix vs state merging, a trajectory that
//! takes an edge twice counts once, the mix with the trajectory's own advantage, RLOO base.
//! SALT is reconstructed (salt.md: confidence low); these check the spec's reconstruction.
mod common;

use common::{assert_rows_close, config, episode, per_turn, run};
use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{graph_edge_advantages, NodeMerge};
use polopt_methods::CreditConfig;

const S0: u64 = 10;
const S1: u64 = 11;
const S2: u64 = 12;
const A: u64 = 1;
const B: u64 = 2;
const C: u64 = 3;
const D: u64 = 4;
const E: u64 = 5;

/// Turn 0 (s0, a) is shared by all three; turn 1 (s1, b) by tau1 and tau3 (same prefix);
/// (s1, c) is unique to tau2; turn 2 (s2, d) is unique to tau1, (s2, e) to tau3.
fn spec_group() -> Vec<Episode> {
    vec![
        episode(&[S0, S1, S2], &[A, B, D], &[0.0, 0.0, 1.0]),
        episode(&[S0, S1], &[A, C], &[0.0, 0.0]),
        episode(&[S0, S1, S2], &[A, B, E], &[0.0, 0.0, 0.0]),
    ]
}

/// The spec's numbers divide by the sample std alone.
fn salt(set: &[(&str, toml::Value)]) -> CreditConfig {
    let mut c = config("salt");
    c.eps = 0.0;
    for (key, value) in set {
        c.parts.set("salt", key, value.clone());
    }
    c
}

fn turns(c: &CreditConfig, episodes: &[Episode]) -> Vec<Vec<f64>> {
    let groups = vec![0; episodes.len()];
    per_turn(episodes, &run(c, episodes, &groups).expect("valid batch"))
}

#[test]
fn spec_vector_edge_advantages() {
    assert_rows_close(
        &turns(&salt(&[]), &spec_group()),
        &[
            vec![0.0, 0.288675, 1.154701],
            vec![0.0, -0.577350],
            vec![0.0, 0.288675, -0.577350],
        ],
        1e-6,
    );
}

#[test]
fn spec_vector_base_advantages_with_no_mix() {
    let got = turns(&salt(&[("mix", 0.0.into())]), &spec_group());
    assert_rows_close(
        &got,
        &[vec![1.154701; 3], vec![-0.577350; 2], vec![-0.577350; 3]],
        1e-6,
    );
    let half = turns(&salt(&[("mix", 0.5.into())]), &spec_group());
    assert!(
        (half[0][1] - (1.154701 + 0.288675) / 2.0).abs() < 1e-6,
        "{half:?}"
    );
}

#[test]
fn state_merging_joins_an_edge_reached_through_different_histories() {
    // tau2 takes (s1, b) like tau1, but after (s0, c) -> (s2, f): a different prefix.
    let episodes = vec![
        episode(&[S0, S1], &[A, B], &[0.0, 1.0]),
        episode(&[S0, S2, S1], &[C, 6, B], &[0.0, 0.0, 0.0]),
        episode(&[S0, S2], &[C, 7], &[0.0, 0.0]),
    ];
    let prefix = turns(&salt(&[]), &episodes);
    assert_rows_close(
        &prefix,
        &[
            vec![1.154701, 1.154701],
            vec![-0.577350, -0.577350, -0.577350],
            vec![-0.577350, -0.577350],
        ],
        1e-6,
    );
    let state = turns(&salt(&[("merge", "state".into())]), &episodes);
    assert!((state[0][1] - 0.288675).abs() < 1e-6, "{state:?}");
    assert!((state[1][2] - 0.288675).abs() < 1e-6, "{state:?}");
}

#[test]
fn a_trajectory_through_an_edge_twice_counts_once() {
    let looping = episode(&[S0, S0], &[A, A], &[0.0, 1.0]);
    let once = episode(&[S0], &[A], &[0.0]);
    let group = [&looping, &once];
    let got = graph_edge_advantages(&group, &[1.0, -1.0], NodeMerge::State);
    assert_eq!(got, vec![vec![0.0, 0.0], vec![0.0]]);
}

#[test]
fn rloo_base_gives_the_same_neutral_shared_steps() {
    // RLOO: A = R_i - mean of the others = [1, -0.5, -0.5].
    let got = turns(&salt(&[("base", "rloo".into())]), &spec_group());
    assert_rows_close(
        &got,
        &[vec![0.0, 0.25, 1.0], vec![0.0, -0.5], vec![0.0, 0.25, -0.5]],
        1e-12,
    );
}

#[test]
fn bad_settings_name_their_key() {
    let e = polopt_methods::credit::estimator(&salt(&[("mix", 1.5.into())]))
        .err()
        .expect("rejected")
        .to_string();
    assert!(e.contains("method.credit.salt.mix"), "{e}");
    let e = polopt_methods::credit::estimator(&salt(&[("merge", "graph".into())]))
        .err()
        .expect("rejected")
        .to_string();
    assert!(e.contains("method.credit.salt.merge"), "{e}");
}
