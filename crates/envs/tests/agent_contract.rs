//! The contract every agent environment keeps with the rollout (docs/agents.md): as a task,
//! its expert's trajectory replays to success; the text between actions is exactly the
//! environment's reply (so the reply mask is right); no observation contains the turn prompt;
//! every character is in the built-in vocabulary; splits are disjoint and problems are
//! deterministic; and the plan-execute wrapper keeps all of this.
use std::collections::HashSet;

use polopt_envs::agent::{
    make_env, replay, solution_env_mask, split_of_seed, AgentTask, AGENT_EXTRA_CHARS, ENV_NAMES,
    TURN_PROMPT,
};
use polopt_envs::text::{make_task, Split, CHARSET};
use rand::SeedableRng;

fn allowed(c: char) -> bool {
    CHARSET.contains(c) || AGENT_EXTRA_CHARS.contains(c)
}

fn check_task(name: &str, config: serde_json::Value, problems: usize) {
    let task = make_task(name, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for split in Split::ALL {
        for _ in 0..problems {
            let problem = task.sample(split, &mut rng);
            let seed = AgentTask::seed_of(&problem).expect("a seed in meta");
            assert_eq!(split_of_seed(seed), split, "{name}");
            assert!(problem.prompt.ends_with(TURN_PROMPT), "{name}");
            for text in [&problem.prompt, &problem.solution] {
                if let Some(c) = text.chars().find(|&c| !allowed(c)) {
                    panic!("{name}: character {c:?} outside the vocabulary in {text:?}");
                }
            }
            let prompt_obs = &problem.prompt[..problem.prompt.len() - TURN_PROMPT.len()];
            assert!(!prompt_obs.contains(TURN_PROMPT), "{name}: {prompt_obs:?}");
            let verdict = task.verify(&problem, &problem.solution);
            assert!(
                verdict.correct,
                "{name} seed {seed}: {:?}",
                problem.solution
            );
            let mut env = task.agent_env().unwrap();
            let played = replay(env.as_mut(), seed, &problem.solution);
            assert!(!played.diverged, "{name} seed {seed}");
            assert_eq!(played.reward, verdict.reward);
            assert_eq!(
                played.env_mask,
                solution_env_mask(env.as_ref(), &problem.solution),
                "{name} seed {seed}: the structural mask must equal the replayed one"
            );
            // Exactly one turn prompt per reply, and only in replies.
            let replies = problem.solution.matches(TURN_PROMPT).count();
            assert_eq!(replies + 1, played.turns, "{name} seed {seed}");
        }
    }
    // Determinism: two fresh tasks draw identical problems from the same rng.
    let other = make_task(name, &config).unwrap();
    let (mut a, mut b) = (
        rand_chacha::ChaCha8Rng::seed_from_u64(3),
        rand_chacha::ChaCha8Rng::seed_from_u64(3),
    );
    for _ in 0..5 {
        assert_eq!(
            task.sample(Split::Test, &mut a),
            other.sample(Split::Test, &mut b)
        );
    }
}

#[test]
fn every_environment_keeps_the_rollout_contract() {
    for name in ENV_NAMES {
        check_task(name, serde_json::Value::Null, 40);
    }
}

#[test]
fn plan_execute_turns_keep_the_contract() {
    for name in ENV_NAMES {
        check_task(name, serde_json::json!({"plan_execute": true}), 10);
    }
    let e = make_env("corridor", &serde_json::json!({"plan_execute": 1}))
        .err()
        .expect("a non-boolean plan_execute is refused")
        .to_string();
    assert!(e.contains("corridor.plan_execute"), "{e}");
}

#[test]
fn instances_differ_across_seeds() {
    for name in ENV_NAMES {
        let task = make_task(name, &serde_json::Value::Null).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let prompts: HashSet<String> = (0..30)
            .map(|_| task.sample(Split::Train, &mut rng).key)
            .collect();
        assert!(
            prompts.len() >= 25,
            "{name}: {} distinct of 30",
            prompts.len()
        );
    }
}

#[test]
fn texthouse_subgoals_follow_the_experts_phases() {
    let mut env = make_env("texthouse", &serde_json::Value::Null).unwrap();
    let mut phases_seen = HashSet::new();
    for seed in 0..200 {
        env.reset(seed);
        let (actions, subgoals) = (env.expert(), env.expert_subgoals());
        assert_eq!(actions.len(), subgoals.len(), "seed {seed}");
        for (action, subgoal) in actions.iter().zip(&subgoals) {
            // A take ends a find phase; a put is always part of placing.
            if action.starts_with("take ") {
                assert!(
                    subgoal.starts_with("find "),
                    "seed {seed}: {action} / {subgoal}"
                );
            }
            if action.starts_with("put ") {
                assert!(
                    subgoal.starts_with("place "),
                    "seed {seed}: {action} / {subgoal}"
                );
            }
            phases_seen.insert(subgoal.split(' ').next().unwrap().to_string());
        }
        assert!(subgoals[0].starts_with("find "), "seed {seed}");
    }
    for phase in ["find", "place", "clean", "heat", "cool", "light"] {
        assert!(
            phases_seen.contains(phase),
            "{phase} never seen: {phases_seen:?}"
        );
    }
}
