//! Workspace reconstruction (`rl.agent_context = "workspace"`, EAPO / IterResearch): every
//! action is sampled from the episode's rebuilt workspace, each turn trains as its own row,
//! and the rows must be exactly what the sampler saw: their prompts are the text-level
//! workspace of the scored trajectory, and a forward over them gives the sampler's log-probs.
mod common;

use polopt_envs::agent::{workspace_rounds, ELIDED};
use polopt_train::agent_rollout::{Rollout, TurnCache};
use polopt_train::config::AgentContext;
use polopt_train::packing::pack;
use polopt_train::seeds::with_torch_seed;

#[test]
fn round_rows_are_the_workspaces_the_sampler_drew_from() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "ws", &["task.name=texthouse"]);
    let batch = common::ChattyTextHouse::new(&config);
    let (task, tok, policy) = (&batch.task, &batch.tok, &batch.policy);
    let (problems, prompts) = (batch.problems(), batch.prompts());
    let mut sampling = config.rl.sampling(tok, 240);
    sampling.temperature = 1.0;
    sampling.top_p = 1.0;
    let rollout = Rollout {
        policy,
        tok,
        task: task.as_ref(),
        sampling: &sampling,
        max_turn_tokens: 12,
        cache: TurnCache::Keep,
        context: AgentContext::Workspace,
    };
    let (rows, logps) =
        with_torch_seed(5, "agent-test", 0, || rollout.play(&prompts, &problems)).unwrap();
    let stops = task.agent_env().unwrap().action_stops().to_vec();
    let mut elided = 0;
    let mut turns = 0;
    for (i, row) in rows.iter().enumerate() {
        let episode = row.episode.as_ref().unwrap();
        assert_eq!(row.round_prompts.len(), episode.spans.len());
        // The text the scorer replays, read back into rounds by the environment-side rule.
        let completion = tok.decode(&row.response);
        let rounds = workspace_rounds(&problems[i].prompt, &completion, &stops);
        let mut round_prompts: Vec<&[i64]> = Vec::new();
        let mut actions: Vec<&[i64]> = Vec::new();
        for (t, (prompt, &(start, end))) in row.round_prompts.iter().zip(&episode.spans).enumerate()
        {
            let action = &row.response[start..end];
            round_prompts.push(prompt);
            actions.push(action);
            let eos = action.last() == Some(&sampling.eos_token_id);
            let action_text = tok.decode(&action[..action.len() - eos as usize]);
            // A last turn of `<eos>` alone plays an empty action, which the text does not show.
            let Some((context, written)) = rounds.get(t) else {
                assert!(action_text.is_empty() && t + 1 == episode.spans.len());
                continue;
            };
            assert_eq!(&tok.decode(&prompt[1..]), context, "row {i} turn {t}");
            assert_eq!(&action_text, written, "row {i} turn {t}");
            elided += context.matches(ELIDED).count();
        }
        turns += actions.len();
        // One forward over the round rows: the sampler's log-probs, token for token.
        let packed = pack(&round_prompts, &actions, tok.pad_id(), tch::Device::Cpu);
        let (logp, _) = tch::no_grad(|| policy.logprobs(&packed, 1.0, false));
        let logp = Vec::<f32>::try_from(logp.contiguous().view([-1])).unwrap();
        let width = packed.width;
        let forward: Vec<f32> = episode
            .spans
            .iter()
            .enumerate()
            .flat_map(|(k, &(start, end))| logp[k * width..k * width + end - start].to_vec())
            .collect();
        assert_eq!(forward.len(), logps[i].len(), "row {i}");
        for (x, y) in forward.iter().zip(&logps[i]) {
            assert!((x - y).abs() < 1e-4, "row {i}: forward {x} vs sampler {y}");
        }
    }
    assert!(
        turns as f64 / rows.len() as f64 > 3.0,
        "episodes must span turns"
    );
    assert!(
        elided > 0,
        "some workspace must have dropped an observation"
    );
}

#[test]
fn eapo_in_workspaces_trains_one_row_per_turn_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut sets = common::CORRIDOR.to_vec();
    sets.extend([
        "eval.problems=8",
        "method.preset=eapo",
        "rl.agent_context=\"workspace\"",
    ]);
    let straight = common::resumes_exactly(dir.path(), &sets, 2);
    // The warm start imitated the expert's rounds in workspaces, so it acts from them.
    let warm = straight[0]["eval/pass@1"].as_f64().unwrap();
    assert!(
        warm > 0.0,
        "the workspace warm start solves some corridors: {warm}"
    );
    for row in &straight[1..] {
        // tiny_config's groups hold 4 episodes.
        let episodes = row["kept_groups"].as_f64().unwrap() * 4.0;
        // Every generated episode counts, kept or not: 4 prompts x 4 per generation batch.
        let generated = 16.0 * row["gen_batches"].as_f64().unwrap();
        assert_eq!(row["samples"].as_f64(), Some(generated), "{row}");
        let turns = row["agent/turns"].as_f64().unwrap();
        let round_rows = row["agent/round_rows"].as_f64().unwrap();
        assert!(round_rows > episodes && turns > 1.0, "{row}");
        // An optimizer step takes the rounds of minibatch_size (8) of the 16 episodes, over 2
        // epochs: 4 updates per RL step, as whole episodes make (not one per 8 rounds).
        assert_eq!(row["updates"].as_f64(), Some(4.0), "{row}");
        assert!(row["loss"].as_f64().unwrap().is_finite(), "{row}");
    }
}

#[test]
fn workspaces_with_plan_execute_turns_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        "task.name=corridor",
        "task.rl.plan_execute=true",
        "sft.steps=2",
        "rl.steps=1",
        "rl.agent_context=\"workspace\"",
    ];
    let config = common::tiny_config(dir.path(), "refused", &sets);
    let Err(e) = polopt_train::train(&config, polopt_train::TrainOptions::default()) else {
        panic!("plan-execute turns in workspaces must be refused");
    };
    let e = e.to_string();
    assert!(e.contains("rl.agent_context"), "{e}");
    let bad = polopt_train::config::resolve(
        &toml::Table::new(),
        &["rl.agent_context=\"report\"".to_string()],
    );
    let Err(e) = bad else {
        panic!("an unknown agent_context must be refused");
    };
    let e = e.to_string();
    assert!(e.contains("agent_context"), "{e}");
}
