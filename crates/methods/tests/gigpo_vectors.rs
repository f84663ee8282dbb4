//! gigpo.md "Test vector" (N = 3, gamma = 0.95, omega = 1, mean_norm, and the std-norm episode
//! advantages), plus the properties the spec states: groups of one give a zero step advantage,
//! anchor groups never cross episode groups, the invalid-action penalty reaches both returns
//! and R(tau), advantages land on action tokens only.
mod common;

use common::{assert_close, assert_rows_close, config, episode, per_turn, run};
use polopt_methods::credit::turn_groups::{Relative, RelativeNorm};
use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{anchor_step_advantages, episode_advantages, episode_credit};

const S0: u64 = 10;
const S1: u64 = 11;
const S2: u64 = 12;
const A: u64 = 1;
const B: u64 = 2;
const C: u64 = 3;
const D: u64 = 4;
const E: u64 = 5;

/// tau1: (s0,a) -> (s1,b), rewards [0,1]; tau2: (s0,c) -> (s1,d) -> (s2,e); tau3: (s0,a) ->
/// (s1,d) -> (s2,e); tau2 and tau3 earn nothing.
fn spec_group() -> Vec<Episode> {
    vec![
        episode(&[S0, S1], &[A, B], &[0.0, 1.0]),
        episode(&[S0, S1, S2], &[C, D, E], &[0.0, 0.0, 0.0]),
        episode(&[S0, S1, S2], &[A, D, E], &[0.0, 0.0, 0.0]),
    ]
}

fn mean_norm() -> Relative {
    Relative {
        norm: RelativeNorm::Mean,
        std_ddof: 1,
        eps: 1e-6,
    }
}

#[test]
fn spec_vector_returns_episode_and_step_advantages() {
    let episodes = spec_group();
    let group: Vec<&Episode> = episodes.iter().collect();
    let credit = episode_credit(&group, 0.95, 0.1, &mean_norm());
    assert_rows_close(
        &credit.returns,
        &[vec![0.95, 1.0], vec![0.0; 3], vec![0.0; 3]],
        1e-12,
    );
    assert_close(&credit.episode, &[0.666667, -0.333333, -0.333333], 1e-6);

    let step = anchor_step_advantages(&group, &credit.returns, &mean_norm());
    assert_rows_close(
        &step,
        &[
            vec![0.633333, 0.666667],
            vec![-0.316667, -0.333333, 0.0],
            vec![-0.316667, -0.333333, 0.0],
        ],
        1e-6,
    );
}

#[test]
fn spec_vector_combined_advantages_through_the_registry() {
    let episodes = spec_group();
    let rows = run(&config("gigpo"), &episodes, &[0, 0, 0]).expect("valid batch");
    assert_rows_close(
        &per_turn(&episodes, &rows),
        &[
            vec![1.3, 1.333333],
            vec![-0.65, -0.666667, -0.333333],
            vec![-0.65, -0.666667, -0.333333],
        ],
        1e-6,
    );
}

#[test]
fn spec_vector_episode_advantage_with_sample_std() {
    // The spec's numbers divide by the sample std alone (eps = 0).
    let relative = Relative {
        norm: RelativeNorm::MeanStd,
        std_ddof: 1,
        eps: 0.0,
    };
    let rewards = [vec![0.0, 1.0], vec![0.0; 3], vec![0.0; 3]];
    assert_close(
        &episode_advantages(&rewards, &relative),
        &[1.154701, -0.577350, -0.577350],
        1e-6,
    );
    let mut c = config("gigpo");
    c.eps = 0.0;
    c.parts.set("gigpo", "norm", "mean_std");
    let episodes = spec_group();
    let turns = per_turn(&episodes, &run(&c, &episodes, &[0, 0, 0]).unwrap());
    // s2's group is two zero returns: its step advantage is 0, so the turn keeps A^E.
    assert!((turns[1][2] - -0.577350).abs() < 1e-6, "{turns:?}");
}

#[test]
fn anchor_groups_stay_within_their_episode_group() {
    let mut episodes = spec_group();
    // A fourth task instance that visits the same observation hashes.
    episodes.push(episode(&[S0, S1], &[A, B], &[0.0, 5.0]));
    let rows = run(&config("gigpo"), &episodes, &[0, 0, 0, 1]).unwrap();
    let turns = per_turn(&episodes, &rows);
    assert_rows_close(
        &turns[..3],
        &[
            vec![1.3, 1.333333],
            vec![-0.65, -0.666667, -0.333333],
            vec![-0.65, -0.666667, -0.333333],
        ],
        1e-6,
    );
    // Alone in its group: no episode and no step signal.
    assert_eq!(turns[3], vec![0.0, 0.0]);
}

#[test]
fn invalid_turns_pay_the_penalty_in_returns_and_episode_return() {
    let valid = episode(&[S0, S1], &[A, B], &[0.0, 0.0]);
    let mut invalid = valid.clone();
    invalid.invalid = vec![true, false];
    let episodes = [valid, invalid];
    let group: Vec<&Episode> = episodes.iter().collect();
    let credit = episode_credit(&group, 0.95, 0.1, &mean_norm());
    assert_rows_close(&credit.returns, &[vec![0.0, 0.0], vec![-0.1, 0.0]], 1e-12);
    assert_close(&credit.episode, &[0.05, -0.05], 1e-12);
    let turns = per_turn(
        &episodes,
        &run(&config("gigpo"), &episodes, &[0, 0]).unwrap(),
    );
    // A = A^E + (R_t - mean over the anchor group): s0 holds returns 0 and -0.1.
    assert_rows_close(&turns, &[vec![0.1, 0.05], vec![-0.1, -0.05]], 1e-12);
}

#[test]
fn needs_the_agent_rollout_and_names_bad_settings() {
    let lens = [2];
    let batch = polopt_methods::credit::CreditBatch {
        rewards: &[1.0],
        group_ids: &[0],
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: None,
    };
    let estimator = polopt_methods::credit::estimator(&config("gigpo")).unwrap();
    let e = estimator.estimate(&batch).unwrap_err().to_string();
    assert!(e.contains("agent"), "{e}");

    for (key, value) in [("gamma", 1.5), ("omega", -1.0), ("invalid_penalty", -0.1)] {
        let mut c = config("gigpo");
        c.parts.set("gigpo", key, value);
        let e = polopt_methods::credit::estimator(&c)
            .err()
            .expect("rejected")
            .to_string();
        assert!(e.contains(&format!("method.credit.gigpo.{key}")), "{e}");
    }
    let mut c = config("gigpo");
    c.parts.set("gigpo", "norm", "zscore");
    let e = polopt_methods::credit::estimator(&c)
        .err()
        .expect("rejected")
        .to_string();
    assert!(e.contains("method.credit.gigpo.norm"), "{e}");
}

#[test]
fn ragged_invalid_flags_are_a_shape_error() {
    let mut bad = episode(&[S0, S1], &[A, B], &[0.0, 1.0]);
    bad.invalid = vec![false];
    let e = run(&config("gigpo"), &[bad], &[0]).unwrap_err().to_string();
    assert!(e.contains("invalid 1"), "{e}");
}
