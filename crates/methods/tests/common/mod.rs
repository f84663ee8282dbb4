//! Episode fixtures shared by the turn-level estimator vectors (gigpo, hgpo, salt).
#![allow(dead_code)] // each test crate uses its own subset

use polopt_methods::credit::turns::Episode;
use polopt_methods::credit::{estimator, Advantages, CreditBatch};
use polopt_methods::{CreditConfig, MethodError};

/// Tokens per action; one environment token follows each action.
pub const ACTION_TOKENS: usize = 2;

/// An episode whose turn t takes the tokens `[3t, 3t + 2)`, followed by one environment token.
pub fn episode(states: &[u64], actions: &[u64], rewards: &[f64]) -> Episode {
    let turns = states.len();
    Episode {
        spans: (0..turns).map(|t| (3 * t, 3 * t + ACTION_TOKENS)).collect(),
        rewards: rewards.to_vec(),
        states: states.to_vec(),
        actions: actions.to_vec(),
        invalid: vec![false; turns],
        ..Default::default()
    }
}

pub fn row_len(episode: &Episode) -> usize {
    3 * episode.turns()
}

/// Runs the registered estimator `config.estimator` on `episodes` (row reward = sum of turn
/// rewards) and returns the token advantages.
pub fn run(
    config: &CreditConfig,
    episodes: &[Episode],
    groups: &[usize],
) -> Result<Vec<Vec<f64>>, MethodError> {
    let rewards: Vec<f64> = episodes.iter().map(|e| e.rewards.iter().sum()).collect();
    let lens: Vec<usize> = episodes.iter().map(row_len).collect();
    let batch = CreditBatch {
        rewards: &rewards,
        group_ids: groups,
        response_lens: &lens,
        token_kl: None,
        trajectories: None,
        episodes: Some(episodes),
    };
    match estimator(config)?.estimate(&batch)? {
        Advantages::Token(rows) => Ok(rows),
        Advantages::Sequence(_) => panic!("turn estimators are token-level"),
    }
}

/// Per-turn advantages read back from token rows (the first token of each span), after
/// checking that every token of a span carries the same value and that the environment's
/// tokens carry 0.
pub fn per_turn(episodes: &[Episode], rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    episodes
        .iter()
        .zip(rows)
        .map(|(episode, row)| {
            let mut covered = vec![false; row.len()];
            let turns = episode
                .spans
                .iter()
                .map(|&(start, end)| {
                    for n in start..end {
                        assert_eq!(row[n], row[start], "one value per turn");
                        covered[n] = true;
                    }
                    row[start]
                })
                .collect();
            for (n, &a) in row.iter().enumerate() {
                assert!(
                    covered[n] || a == 0.0,
                    "token {n} outside any action has {a}"
                );
            }
            turns
        })
        .collect()
}

pub fn config(name: &str) -> CreditConfig {
    CreditConfig {
        estimator: name.into(),
        ..Default::default()
    }
}

pub fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
    }
}

pub fn assert_rows_close(got: &[Vec<f64>], want: &[Vec<f64>], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_close(g, w, tol);
    }
}
