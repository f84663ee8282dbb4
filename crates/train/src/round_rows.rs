//! One training row per turn under workspace reconstruction (`rl.agent_context =
//! "workspace"`, EAPO / IterResearch): credit runs on the episodes (their turns, rewards and
//! states, as for every agent preset), then turn `t` of an episode becomes a row whose prompt
//! is the workspace its action was sampled from ([`Sequence::round_prompts`]) and whose
//! response is that action, carrying its tokens' credit. The old-policy forward over these
//! rows is the distribution the sampler drew from, so the first ratio is exactly 1, as in the
//! paper's "each round is an independent training sample".
use polopt_methods::credit::Advantages;
use polopt_methods::objective::SampleBounds;
use polopt_methods::plan::UpdatePlan;

use crate::error::TrainError;
use crate::packing::Sequence;

/// The round rows of `episodes` and the plan that `plan` (over the episodes) gives them.
pub fn round_rows(
    episodes: &[Sequence],
    plan: UpdatePlan,
) -> Result<(Vec<Sequence>, UpdatePlan), TrainError> {
    if plan.blend.is_some() {
        return Err(refused("a blended (COPO) objective"));
    }
    let mut rows = Vec::new();
    let mut sequence_adv = Vec::new();
    let mut token_adv = Vec::new();
    let mut keep = plan.token_keep.as_ref().map(|_| Vec::new());
    let mut bounds = plan.clip_bounds.as_ref().map(|_| (Vec::new(), Vec::new()));
    for (i, seq) in episodes.iter().enumerate() {
        let turns = seq.episode.as_ref().ok_or_else(|| {
            TrainError::Task(format!(
                "row {i}: workspace rounds need multi-turn episodes (an agent task)"
            ))
        })?;
        if seq.round_prompts.len() != turns.spans.len() {
            return Err(TrainError::Task(format!(
                "episode {i}: {} workspace prompts for {} turns",
                seq.round_prompts.len(),
                turns.spans.len()
            )));
        }
        for (prompt, &(start, end)) in seq.round_prompts.iter().zip(&turns.spans) {
            let end = end.min(seq.response.len());
            let start = start.min(end);
            rows.push(Sequence {
                group: seq.group,
                prompt: prompt.clone(),
                response: seq.response[start..end].to_vec(),
                reward: seq.reward,
                correct: seq.correct,
                truncated: seq.truncated,
                replayed: seq.replayed,
                env: Vec::new(),
                first_tool_call: None,
                episode: None,
                behaviour_logp: seq.behaviour_logp.as_ref().map(|b| slice(b, start, end)),
                round_prompts: Vec::new(),
            });
            match &plan.advantages {
                Advantages::Sequence(a) => sequence_adv.push(a[i]),
                Advantages::Token(a) => token_adv.push(slice(&a[i], start, end)),
            }
            if let (Some(keep), Some(all)) = (keep.as_mut(), plan.token_keep.as_ref()) {
                keep.push(slice(&all[i], start, end));
            }
            if let (Some((low, high)), Some(b)) = (bounds.as_mut(), plan.clip_bounds.as_ref()) {
                low.push(b.low[i]);
                high.push(b.high[i]);
            }
        }
    }
    let advantages = match plan.advantages {
        Advantages::Sequence(_) => Advantages::Sequence(sequence_adv),
        Advantages::Token(_) => Advantages::Token(token_adv),
    };
    let plan = UpdatePlan {
        advantages,
        clip_bounds: bounds.map(|(low, high)| SampleBounds { low, high }),
        token_keep: keep,
        blend: None,
        metrics: plan.metrics,
    };
    Ok((rows, plan))
}

/// `values[start..end]`, zero-filled where a per-token vector is shorter than its response.
fn slice<T: Copy + Default>(values: &[T], start: usize, end: usize) -> Vec<T> {
    (start..end)
        .map(|t| values.get(t).copied().unwrap_or_default())
        .collect()
}

fn refused(what: &str) -> TrainError {
    TrainError::Config(format!(
        "config key `rl.agent_context` = \"workspace\": {what} is not available with one row \
         per turn; use rl.agent_context = \"history\""
    ))
}

/// Refuses, naming the key, what a per-turn row cannot carry: parts that read the old
/// policy's entropy or a second temperature over whole responses.
pub fn check_method(needs_old_entropy: bool, extra_temperature: bool) -> Result<(), TrainError> {
    match (needs_old_entropy, extra_temperature) {
        (false, false) => Ok(()),
        (true, _) => Err(refused("a part that reads the old policy's token entropy")),
        (_, true) => Err(refused("a part with a second sampling temperature")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polopt_methods::credit::turns::Episode;

    fn episode(group: usize, response: Vec<i64>, spans: Vec<(usize, usize)>) -> Sequence {
        let prompts = (0..spans.len()).map(|t| vec![1, 100 + t as i64]).collect();
        Sequence {
            group,
            prompt: vec![1, 100],
            response,
            reward: 1.0,
            correct: true,
            truncated: false,
            replayed: false,
            env: Vec::new(),
            first_tool_call: None,
            episode: Some(Episode {
                spans,
                ..Default::default()
            }),
            behaviour_logp: None,
            round_prompts: prompts,
        }
    }

    #[test]
    fn each_turn_becomes_a_row_with_its_workspace_and_its_tokens_credit() {
        // Episode 0: turns at tokens 0..2 and 5..8 (3..5 is the environment's reply).
        let a = episode(
            0,
            vec![10, 11, 90, 91, 92, 12, 13, 14],
            vec![(0, 2), (5, 8)],
        );
        let b = episode(0, vec![20, 21, 22], vec![(0, 3)]);
        let adv = vec![
            vec![0.1, 0.2, 0.0, 0.0, 0.0, 0.5, 0.6, 0.7],
            vec![-1.0, -1.0, -1.0],
        ];
        let mut plan = UpdatePlan::of(Advantages::Token(adv));
        plan.token_keep = Some(vec![vec![1.0; 8], vec![1.0, 0.0, 1.0]]);
        let (rows, plan) = round_rows(&[a, b], plan).unwrap();
        let responses: Vec<&[i64]> = rows.iter().map(|r| r.response.as_slice()).collect();
        assert_eq!(responses, [&[10, 11][..], &[12, 13, 14], &[20, 21, 22]]);
        let prompts: Vec<&[i64]> = rows.iter().map(|r| r.prompt.as_slice()).collect();
        assert_eq!(prompts, [&[1, 100][..], &[1, 101], &[1, 100]]);
        assert!(rows.iter().all(|r| r.episode.is_none() && r.env.is_empty()));
        let Advantages::Token(adv) = &plan.advantages else {
            panic!("token advantages stay token advantages")
        };
        assert_eq!(adv, &[vec![0.1, 0.2], vec![0.5, 0.6, 0.7], vec![-1.0; 3]]);
        assert_eq!(plan.token_keep.unwrap()[2], [1.0, 0.0, 1.0]);
    }

    #[test]
    fn a_prompt_count_that_does_not_match_the_turns_is_an_error() {
        let mut a = episode(0, vec![10, 11], vec![(0, 2)]);
        a.round_prompts.push(vec![1]);
        let plan = UpdatePlan::of(Advantages::Sequence(vec![1.0]));
        let err = round_rows(&[a], plan).unwrap_err().to_string();
        assert!(err.contains("2 workspace prompts for 1 turns"), "{err}");
    }
}
