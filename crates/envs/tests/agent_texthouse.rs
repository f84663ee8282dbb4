//! TextHouse (envs/agent-envs.md, E1) through the `AgentEnv` contract: golden replays,
//! solvability by the expert, determinism, invalid actions, fuzzing, the character set and the
//! config. The exact texts of every action on a hand-built scene are unit tests in
//! `src/agent/texthouse/tests.rs`.
use std::collections::HashSet;

use polopt_envs::agent::texthouse::{Config, TaskType, TextHouse, NAME, NOTHING_HAPPENS};
use polopt_envs::agent::{nth_seed, AgentEnv, Step, AGENT_EXTRA_CHARS};
use polopt_envs::text::{Split, TaskError, CHARSET};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn env(config: Config) -> TextHouse {
    TextHouse::new(config).unwrap()
}

fn default_env() -> TextHouse {
    env(Config::default())
}

/// The observations of reset(seed) followed by `actions`.
fn replay(env: &mut dyn AgentEnv, seed: u64, actions: &[&str]) -> Vec<String> {
    let mut out = vec![env.reset(seed).observation];
    out.extend(actions.iter().map(|a| env.step(a).observation));
    out
}

/// A small deterministic index source for random policies and fuzzing.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    polopt_envs::text::draw::below(rng, n as u64) as usize
}

#[test]
fn golden_replay_of_a_pick_and_place_with_detours_and_a_failed_put() {
    let mut env = default_env();
    let actions = [
        "look",
        "inventory",
        "Go  To Countertop 1\nand then some",
        "examine countertop 1",
        "take spoon 1 from countertop 1",
        "examine spoon 1",
        "go to drawer 1",
        "put spoon 1 in drawer 1",
        "open drawer 1",
        "put spoon 1 on drawer 1",
        "look",
    ];
    let expected = [
        "You are in the middle of a room. Looking quickly around you, you see a countertop 1, a \
         countertop 2, a cabinet 1, a cabinet 2, a drawer 1, a drawer 2, a drawer 3, a fridge 1, \
         a stoveburner 1, a garbagecan 1, and a desklamp 1.\nYour task is to: put a spoon in \
         drawer.",
        "You are in the middle of a room.",
        "You are not carrying anything.",
        "You arrive at countertop 1. On the countertop 1, you see a plate 1, a spoon 1, and a \
         spoon 2.",
        "On the countertop 1, you see a plate 1, a spoon 1, and a spoon 2.",
        "You pick up the spoon 1 from the countertop 1.",
        "There's nothing special about spoon 1.",
        "You arrive at drawer 1. The drawer 1 is closed.",
        // The drawer is closed: the put fails.
        "Nothing happens.",
        "You open the drawer 1. In it, you see nothing.",
        "You put the spoon 1 in/on the drawer 1.",
        // After the goal every action is invalid.
        "Nothing happens.",
    ];
    assert_eq!(replay(&mut env, 0, &actions), expected);
    assert_eq!(
        env.expert(),
        [
            "go to countertop 1",
            "take spoon 1 from countertop 1",
            "go to drawer 1",
            "open drawer 1",
            "put spoon 1 in/on drawer 1",
        ]
    );
}

#[test]
fn golden_replay_of_the_expert_on_pick_two() {
    let mut env = default_env();
    env.reset(3);
    let plan = env.expert();
    let actions: Vec<&str> = plan.iter().map(String::as_str).collect();
    let expected = [
        "You are in the middle of a room. Looking quickly around you, you see a countertop 1, a \
         diningtable 1, a shelf 1, a cabinet 1, a cabinet 2, a drawer 1, a drawer 2, a fridge 1, \
         a microwave 1, and a stoveburner 1.\nYour task is to: put two egg in fridge.",
        "You arrive at countertop 1. On the countertop 1, you see a egg 1, a egg 2, a egg 3, a \
         cup 1, and a fork 1.",
        "You pick up the egg 1 from the countertop 1.",
        "You arrive at fridge 1. The fridge 1 is closed.",
        "You open the fridge 1. In it, you see a tomato 2.",
        "You put the egg 1 in/on the fridge 1.",
        "You arrive at countertop 1. On the countertop 1, you see a egg 2, a egg 3, a cup 1, and \
         a fork 1.",
        "You pick up the egg 2 from the countertop 1.",
        "You arrive at fridge 1. In the fridge 1, you see a tomato 2, and a egg 1.",
        "You put the egg 2 in/on the fridge 1.",
    ];
    assert_eq!(replay(&mut env, 3, &actions), expected);
}

#[test]
fn golden_replay_of_the_expert_on_heat_with_a_stove_burner() {
    let mut env = default_env();
    env.reset(7);
    let plan = env.expert();
    let actions: Vec<&str> = plan.iter().map(String::as_str).collect();
    let expected = [
        "You are in the middle of a room. Looking quickly around you, you see a countertop 1, a \
         shelf 1, a shelf 2, a sidetable 1, a cabinet 1, a drawer 1, a stoveburner 1, a \
         stoveburner 2, a stoveburner 3, a sinkbasin 1, and a garbagecan 1.\nYour task is to: \
         put a hot mug in shelf.",
        "You arrive at countertop 1. On the countertop 1, you see a tomato 1, a plate 1, and a \
         book 1.",
        "You arrive at cabinet 1. The cabinet 1 is closed.",
        "You open the cabinet 1. In it, you see nothing.",
        "You arrive at sinkbasin 1. In the sinkbasin 1, you see a apple 1, a egg 1, a mug 1, \
         and a knife 1.",
        "You pick up the mug 1 from the sinkbasin 1.",
        "You arrive at stoveburner 1. On the stoveburner 1, you see nothing.",
        "You heat the mug 1 using the stoveburner 1.",
        "You arrive at shelf 1. On the shelf 1, you see a bowl 1.",
        "You put the mug 1 in/on the shelf 1.",
    ];
    assert_eq!(replay(&mut env, 7, &actions), expected);
}

#[test]
fn golden_replay_with_the_admissible_list_shown() {
    let mut env = env(Config {
        show_admissible: true,
        ..Config::default()
    });
    let got = replay(
        &mut env,
        1,
        &["go to sidetable 1", "take watch 1 from sidetable 1"],
    );
    let expected = [
        "You are in the middle of a room. Looking quickly around you, you see a diningtable 1, a \
         sidetable 1, a cabinet 1, a cabinet 2, a drawer 1, a stoveburner 1, a sinkbasin 1, and \
         a desklamp 1.\nYour task is to: look at book under the desklamp.\nAdmissible actions: \
         go to diningtable 1, go to sidetable 1, go to cabinet 1, go to cabinet 2, go to drawer \
         1, go to stoveburner 1, go to sinkbasin 1, go to desklamp 1, inventory, look.",
        "You arrive at sidetable 1. On the sidetable 1, you see a keychain 2, and a watch \
         1.\nAdmissible actions: go to diningtable 1, go to cabinet 1, go to cabinet 2, go to \
         drawer 1, go to stoveburner 1, go to sinkbasin 1, go to desklamp 1, take keychain 2 \
         from sidetable 1, take watch 1 from sidetable 1, examine sidetable 1, inventory, look.",
        "You pick up the watch 1 from the sidetable 1.\nAdmissible actions: go to diningtable 1, \
         go to cabinet 1, go to cabinet 2, go to drawer 1, go to stoveburner 1, go to sinkbasin \
         1, go to desklamp 1, put watch 1 in/on sidetable 1, examine sidetable 1, examine watch \
         1, inventory, look.",
    ];
    assert_eq!(got, expected);
}

#[test]
fn the_first_observation_is_the_room_then_the_task() {
    let mut env = default_env();
    for n in 0..200 {
        let reset = env.reset(nth_seed(Split::Train, n));
        let (room, task) = reset.observation.split_once('\n').unwrap();
        let listing = room
            .strip_prefix("You are in the middle of a room. Looking quickly around you, you see ")
            .unwrap();
        assert!(listing.ends_with('.'));
        let receptacles = listing.split(", ").count();
        assert!((8..=14).contains(&receptacles), "{room}");
        assert_eq!(task, format!("Your task is to: {}.", reset.info.task));
        assert!(!reset.info.admissible.is_empty());
    }
}

/// Plays the expert of `seed` and returns the steps.
fn play_expert(env: &mut TextHouse, seed: u64) -> Vec<Step> {
    let mut admissible = env.reset(seed).info.admissible;
    let mut steps = Vec::new();
    for action in env.expert() {
        assert!(
            admissible.contains(&action),
            "seed {seed}: `{action}` not admissible"
        );
        let step = env.step(&action);
        admissible = step.info.admissible.clone();
        steps.push(step);
    }
    steps
}

#[test]
fn the_expert_solves_a_thousand_train_instances_within_the_horizon() {
    let mut env = default_env();
    let mut tasks = HashSet::new();
    for n in 0..1000 {
        let seed = nth_seed(Split::Train, n);
        let steps = play_expert(&mut env, seed);
        assert!(steps.len() <= env.horizon() - 5, "seed {seed}");
        let (last, before) = steps.split_last().unwrap();
        assert!(
            last.terminated && last.success && !last.truncated,
            "seed {seed}"
        );
        assert_eq!(last.reward, 1.0);
        assert!(last.info.admissible.is_empty());
        for s in before {
            assert!(
                !s.invalid && !s.terminated && !s.truncated && !s.success,
                "seed {seed}"
            );
            assert_eq!(s.reward, 0.0);
        }
        tasks.insert(
            env.reset(seed)
                .info
                .task
                .split(' ')
                .take(2)
                .collect::<String>(),
        );
    }
    // All six templates appear: put a / look at / put two (a clean, a hot... share "put a").
    assert!(tasks.contains("puta") && tasks.contains("lookat") && tasks.contains("puttwo"));
}

#[test]
fn the_goal_at_the_last_step_of_the_horizon_terminates_rather_than_truncates() {
    let mut env = default_env();
    env.reset(0);
    let plan = env.expert();
    for _ in 0..env.horizon() - plan.len() {
        assert!(env.step("wait").invalid);
    }
    let steps: Vec<Step> = plan.iter().map(|a| env.step(a)).collect();
    let last = steps.last().unwrap();
    assert!(last.terminated && !last.truncated && last.reward == 1.0);
}

#[test]
fn episodes_truncate_at_the_horizon_and_then_refuse_actions() {
    let mut env = default_env();
    env.reset(5);
    for i in 1..=30 {
        let step = env.step("look");
        assert!(!step.invalid);
        assert_eq!(step.truncated, i == 30, "step {i}");
        assert!(!step.terminated);
    }
    let after = env.step("look");
    assert!(after.invalid && after.truncated && !after.terminated);
    assert_eq!(after.observation, NOTHING_HAPPENS);
    assert!(after.info.admissible.is_empty());
}

#[test]
fn a_step_before_any_reset_is_invalid() {
    let mut env = default_env();
    let step = env.step("look");
    assert!(step.invalid && !step.terminated && !step.truncated);
    assert_eq!(step.observation, "Nothing happens.");
    assert!(env.expert().is_empty());
}

/// Random admissible actions for up to the horizon: every one is valid.
fn random_walk(env: &mut dyn AgentEnv, seed: u64, rng: &mut ChaCha8Rng) -> Vec<Step> {
    let mut admissible = env.reset(seed).info.admissible;
    let mut steps = Vec::new();
    while !admissible.is_empty() {
        let action = admissible[below(rng, admissible.len())].clone();
        let step = env.step(&action);
        assert!(
            !step.invalid,
            "seed {seed}: admissible `{action}` was invalid"
        );
        assert_eq!(step.reward == 1.0, step.terminated);
        admissible = step.info.admissible.clone();
        steps.push(step);
    }
    steps
}

#[test]
fn the_same_seed_and_actions_give_the_same_episode() {
    let mut a = default_env();
    let mut b = a.boxed_clone();
    for seed in 0..100 {
        let steps_a = random_walk(&mut a, seed, &mut ChaCha8Rng::seed_from_u64(seed));
        let steps_b = random_walk(b.as_mut(), seed, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(steps_a, steps_b, "seed {seed}");
        assert_eq!(a.expert(), b.expert());
    }
}

#[test]
fn different_seeds_give_different_instances() {
    let mut env = default_env();
    let firsts: HashSet<String> = (0..1000)
        .map(|n| env.reset(nth_seed(Split::Train, n)).observation)
        .collect();
    assert!(firsts.len() >= 990, "{} distinct of 1000", firsts.len());
}

#[test]
fn invalid_actions_cost_a_step_and_change_nothing() {
    // A long horizon leaves room for an invalid action after every expert action.
    let config = Config {
        horizon: 120,
        ..Config::default()
    };
    let mut clean = env(config.clone());
    let mut noisy = env(config);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for seed in 0..200 {
        let reference = play_expert(&mut clean, seed);
        let plan = clean.expert();
        let first = noisy.reset(seed);
        let mut admissible = first.info.admissible;
        let mut used = 0;
        for (action, want) in plan.iter().zip(&reference) {
            let here = noisy.step("look").observation;
            used += 1;
            let bad = [
                "",
                "go to nowhere 1",
                "take unicorn 1 from countertop 1",
                "put apple 1 in/on desklamp 1",
                "open countertop 1",
                "use fridge 1",
                "jump",
            ][below(&mut rng, 7)];
            let step = noisy.step(bad);
            used += 1;
            assert!(
                step.invalid && !step.terminated && !step.truncated,
                "seed {seed}: `{bad}`"
            );
            assert_eq!(step.observation, NOTHING_HAPPENS);
            assert_eq!(step.reward, 0.0);
            assert_eq!(step.info.admissible, admissible, "seed {seed}: `{bad}`");
            assert_eq!(noisy.step("look").observation, here, "seed {seed}: `{bad}`");
            used += 1;
            let got = noisy.step(action);
            used += 1;
            assert_eq!(got.observation, want.observation, "seed {seed}: `{action}`");
            assert_eq!(got.terminated, want.terminated);
            admissible = got.info.admissible;
        }
        assert_eq!(used, 4 * plan.len());
    }
}

#[test]
fn random_text_never_panics_and_invalid_text_says_nothing_happens() {
    let mut env = default_env();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789 /\n\t.,'$<>éß中🙂\u{0}\r"
        .chars()
        .collect();
    let words = [
        "go",
        "to",
        "take",
        "from",
        "put",
        "in/on",
        "in",
        "on",
        "open",
        "close",
        "clean",
        "heat",
        "cool",
        "with",
        "use",
        "examine",
        "look",
        "inventory",
        "apple",
        "1",
        "2",
        "countertop",
        "cabinet",
        "fridge",
        "desklamp",
        "sinkbasin",
        "microwave",
        "mug",
        "book",
        "",
    ];
    for seed in 0..300 {
        env.reset(seed);
        for _ in 0..40 {
            let text: String = if below(&mut rng, 2) == 0 {
                (0..below(&mut rng, 30))
                    .map(|_| alphabet[below(&mut rng, alphabet.len())])
                    .collect()
            } else {
                (0..below(&mut rng, 7))
                    .map(|_| words[below(&mut rng, words.len())])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let step = env.step(&text);
            if step.invalid {
                assert_eq!(step.observation, NOTHING_HAPPENS);
                assert_eq!(step.reward, 0.0);
            }
        }
    }
}

fn assert_in_charset(text: &str, what: &str) {
    for c in text.chars() {
        assert!(
            CHARSET.contains(c) || AGENT_EXTRA_CHARS.contains(c),
            "{what}: {c:?} in {text:?}"
        );
    }
}

#[test]
fn every_rendered_character_is_in_the_vocabulary() {
    let mut env = env(Config {
        show_admissible: true,
        ..Config::default()
    });
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for seed in 0..500 {
        let reset = env.reset(seed);
        assert_in_charset(&reset.observation, "reset");
        assert_in_charset(&reset.info.task, "task");
        for action in env.expert() {
            assert_in_charset(&action, "expert");
        }
        for step in random_walk(&mut env, seed, &mut rng) {
            assert_in_charset(&step.observation, "step");
            step.info
                .admissible
                .iter()
                .for_each(|a| assert_in_charset(a, "admissible"));
        }
    }
}

#[test]
fn the_config_parses_with_defaults_and_names_bad_keys() {
    let env = TextHouse::from_json(&serde_json::Value::Null).unwrap();
    assert_eq!(env.config(), &Config::default());
    assert_eq!(env.name(), NAME);
    assert_eq!(env.horizon(), 30);
    assert_eq!(env.action_stops(), ["\n"]);
    let json = env.config_json();
    assert_eq!(json["p_closed"], 0.8);
    assert_eq!(json["task_types"][5], "pick_two_obj_and_place");
    let back = TextHouse::from_json(&json).unwrap();
    assert_eq!(back.config(), env.config());

    let err = |v: serde_json::Value| TextHouse::from_json(&v).err().unwrap();
    match err(serde_json::json!({"rooms": 3})) {
        TaskError::Invalid { field, .. } => assert_eq!(field, "texthouse.rooms"),
        other => panic!("{other:?}"),
    }
    match err(serde_json::json!({"receptacles_max": 40})) {
        TaskError::OutOfRange { field, .. } => assert_eq!(field, "texthouse.receptacles_max"),
        other => panic!("{other:?}"),
    }
    match err(serde_json::json!({"objects_min": 10, "objects_max": 8})) {
        TaskError::OutOfRange { field, .. } => assert_eq!(field, "texthouse.objects_max"),
        other => panic!("{other:?}"),
    }
    match err(serde_json::json!({"p_closed": 1.5})) {
        TaskError::OutOfRange { field, .. } => assert_eq!(field, "texthouse.p_closed"),
        other => panic!("{other:?}"),
    }
    match err(serde_json::json!({"task_types": []})) {
        TaskError::Invalid { field, .. } => assert_eq!(field, "texthouse.task_types"),
        other => panic!("{other:?}"),
    }
    match err(serde_json::json!({"task_types": ["make_coffee"]})) {
        TaskError::Invalid { field, .. } => assert_eq!(field, "texthouse.task_types"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_knobs_restrict_the_instances() {
    let mut env = TextHouse::from_json(&serde_json::json!({
        "task_types": ["pick_cool_then_place"],
        "receptacles_min": 5,
        "receptacles_max": 6,
        "objects_min": 3,
        "objects_max": 3,
        "p_closed": 1.0,
    }))
    .unwrap();
    assert_eq!(env.config().task_types, [TaskType::PickCoolThenPlace]);
    for seed in 0..200 {
        let reset = env.reset(seed);
        assert!(
            reset.info.task.starts_with("put a cool "),
            "{}",
            reset.info.task
        );
        let room = reset.observation.split('\n').next().unwrap();
        assert!(
            (5..=6).contains(&room.split(", ").skip(1).count()),
            "{room}"
        );
        // Every openable receptacle starts closed: the first visit of one needs `open`.
        let plan = env.expert();
        for (i, a) in plan.iter().enumerate() {
            let r = a.strip_prefix("go to ").unwrap_or("");
            let openable = ["cabinet", "drawer", "fridge", "microwave"];
            if openable.iter().any(|k| r.starts_with(k)) && !plan[..i].contains(a) {
                let next = plan.get(i + 1).map(String::as_str);
                let opened = next == Some(format!("open {r}").as_str());
                let used_closed =
                    next.is_some_and(|n| n.starts_with("cool ") || n.starts_with("heat "));
                assert!(opened || used_closed, "seed {seed}: {plan:?}");
            }
        }
    }
}
