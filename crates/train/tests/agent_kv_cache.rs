//! The multi-turn rollout keeps the KV cache across turns (`TurnCache::Keep`, the default):
//! it must play the same episodes as re-feeding every row's history each round
//! (`TurnCache::Refill`), the same tokens from the same seed and log-probs within 1e-5, with
//! the turn limit, the budget and the model's positions all cutting episodes.
mod common;

use polopt_train::agent_rollout::{Rollout, TurnCache};
use polopt_train::config::AgentContext;
use polopt_train::seeds::with_torch_seed;

/// Plays `n` TextHouse episodes (two instances, a group each) with both feeds and compares them.
fn same_episodes(sets: &[&str], budget: i64, max_turn_tokens: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "kv", sets);
    let batch = common::ChattyTextHouse::new(&config);
    let (task, tok, policy) = (&batch.task, &batch.tok, &batch.policy);
    let (problems, prompts) = (batch.problems(), batch.prompts());
    let mut sampling = config.rl.sampling(tok, budget);
    sampling.temperature = 1.0;
    let play = |cache| {
        let rollout = Rollout {
            policy,
            tok,
            task: task.as_ref(),
            sampling: &sampling,
            max_turn_tokens,
            cache,
            context: AgentContext::History,
        };
        with_torch_seed(5, "agent-test", 0, || rollout.play(&prompts, &problems)).unwrap()
    };
    let (reference, ref_logp) = play(TurnCache::Refill);
    let (kept, kept_logp) = play(TurnCache::Keep);
    assert_eq!(reference, kept);
    for (a, b) in ref_logp.iter().zip(&kept_logp) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
    let turns: usize = kept
        .iter()
        .map(|r| r.episode.as_ref().unwrap().turns())
        .sum();
    turns as f64 / kept.len() as f64
}

#[test]
fn kept_cache_plays_the_episodes_of_refilling() {
    // The budget ends most episodes; a turn limit cuts some turns.
    let turns = same_episodes(&["task.name=texthouse"], 240, 12);
    assert!(turns > 3.0, "episodes must span turns: {turns}");
}

#[test]
fn kept_cache_stops_at_the_models_positions_as_refilling_does() {
    // Prompt (about 250 tokens) + budget exceed the positions: rounds shrink to the room left.
    let turns = same_episodes(
        &[
            "task.name=texthouse",
            "model.max_position_embeddings=330",
            "rl.max_new_tokens=200",
        ],
        200,
        0,
    );
    assert!(turns > 2.0, "episodes must span turns: {turns}");
}
