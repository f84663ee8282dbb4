//! Multi-turn episodes through the real loop, on CorridorKeys (the smallest agent
//! environment): the rollout's turns must agree with a replay of the text, the environment's
//! replies must stay out of the loss, and a multi-turn run must resume exactly.
mod common;

use polopt_envs::agent::{replay, AgentTask};
use polopt_envs::text::{make_task, Problem, Split, Task};
use polopt_train::agent_rollout::sample_episodes;
use polopt_train::codec::Codec;
use polopt_train::group_rl::model_config;
use polopt_train::policy::Policy;
use polopt_train::seeds::with_torch_seed;
use rand::SeedableRng;

fn corridor() -> Box<dyn Task> {
    make_task("corridor", &serde_json::json!({"horizon": 6})).expect("corridor builds")
}

/// A randomly initialised policy of `config`'s size over `task`'s vocabulary, and `n` train
/// problems of `task` with their prompts.
struct Setup {
    tok: Codec,
    policy: Policy,
    problems: Vec<Problem>,
    prompts: Vec<Vec<i64>>,
}

fn setup(config: &polopt_train::RunConfig, task: &dyn Task, n: usize, rng_seed: u64) -> Setup {
    let tok = Codec::builtin_with(task.extra_chars()).unwrap();
    let policy = with_torch_seed(3, "init", 0, || {
        Policy::new(model_config(config, &tok), tch::Device::Cpu)
    })
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng_seed);
    let problems: Vec<Problem> = (0..n)
        .map(|_| task.sample(Split::Train, &mut rng))
        .collect();
    let prompts = problems
        .iter()
        .map(|p| tok.encode_prompt(p).unwrap())
        .collect();
    Setup {
        tok,
        policy,
        problems,
        prompts,
    }
}

#[test]
fn rollout_turns_agree_with_a_replay_of_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "probe", &common::CORRIDOR);
    let task = corridor();
    let Setup {
        tok,
        policy,
        problems,
        prompts,
    } = setup(&config, task.as_ref(), 6, 1);
    let refs: Vec<&Problem> = problems.iter().collect();
    // A random policy at a high temperature writes long, mostly invalid actions: the budget,
    // the horizon and `<eos>` all end episodes here.
    let mut sampling = config.rl.sampling(&tok, 48);
    sampling.temperature = 1.0;
    let rows = with_torch_seed(5, "agent-test", 0, || {
        sample_episodes(&policy, &tok, task.as_ref(), &prompts, &refs, &sampling, 0)
    })
    .unwrap();
    let mut ended = [0usize; 2];
    for (row, problem) in rows.iter().zip(&problems) {
        let episode = row
            .episode
            .as_ref()
            .expect("an agent row carries its turns");
        assert!(episode.turns() >= 1 && episode.turns() <= 6, "{episode:?}");
        assert!(row.response.len() <= 48);
        assert_eq!(row.env.len(), row.response.len());
        // Every token is either the environment's or in exactly one turn's span.
        let mut owner = vec![0u8; row.response.len()];
        for &(start, end) in &episode.spans {
            assert!(start < end && end <= row.response.len());
            for o in &mut owner[start..end] {
                *o += 1;
            }
        }
        for (t, (&o, &env)) in owner.iter().zip(&row.env).enumerate() {
            assert_eq!(o as usize + env as usize, 1, "token {t} of {row:?}");
        }
        // The replay of the decoded text gives the same turns, rewards and mask.
        let text = tok.decode(&row.response);
        let mut env = task.agent_env().unwrap();
        let played = replay(env.as_mut(), AgentTask::seed_of(problem).unwrap(), &text);
        assert!(!played.diverged, "{text:?}");
        assert_eq!(played.turns, episode.turns(), "{text:?}");
        assert_eq!(played.reward, episode.rewards.iter().sum::<f64>());
        let env_chars: Vec<bool> = row.env[..played.env_mask.len()].to_vec();
        assert_eq!(played.env_mask, env_chars, "{text:?}");
        assert_eq!(
            played.invalid,
            episode.invalid.iter().filter(|&&b| b).count()
        );
        // Turn 0 acts from the first observation; each later state is an observation hash.
        let first = polopt_envs::text::fnv1a64(problem.prompt.trim_end_matches("\n> "));
        assert_eq!(episode.states[0], first);
        ended[row.truncated as usize] += 1;
    }
    assert!(
        ended[1] > 0,
        "some episodes must run out of budget: {ended:?}"
    );
}

#[test]
fn multi_turn_grpo_trains_masks_replies_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let straight = common::resumes_exactly(dir.path(), &common::CORRIDOR, 2);
    assert_eq!(straight.len(), 5);
    let warm = &straight[0];
    let success = warm["eval/pass@1"].as_f64().unwrap();
    assert!(
        success > 0.0,
        "the warm start must solve some held-out corridors: {warm}"
    );
    for row in &straight[1..] {
        for key in [
            "agent/turns",
            "agent/invalid_rate",
            "agent/terminated_frac",
            "agent/env_tokens",
        ] {
            let v = row[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v >= 0.0, "{key} = {v} in {row}");
        }
        assert!(row["agent/env_tokens"].as_f64().unwrap() > 0.0);
        assert!(row["loss"].as_f64().unwrap().is_finite(), "{row}");
    }
    assert!(straight[2]["eval/agent/turns"].as_f64().is_some());

    // The exported model carries the run's extended character vocabulary.
    let checkpoint = dir
        .path()
        .join("straight/checkpoints")
        .join(polopt_train::run_dir::checkpoint_name(4));
    let out = dir.path().join("exported");
    polopt_train::export::export_model(&checkpoint, &out).expect("export");
    let hf = polopt_models::HfTokenizer::from_dir(&out).expect("tokenizer.json loads");
    let text = "You arrive at cabinet 1. There's a pen for $12.50.";
    let run_codec = Codec::builtin_with(polopt_envs::agent::AGENT_EXTRA_CHARS).unwrap();
    assert_eq!(
        hf.encode(text, false).unwrap(),
        run_codec.encode(text).unwrap()
    );
}

/// The presets whose estimator reads turns: each trains on CorridorKeys without NaN.
#[test]
fn every_turn_level_preset_trains_on_an_agent_environment() {
    use polopt_methods::credit::ESTIMATORS;
    use polopt_methods::presets::PRESETS;
    let dir = tempfile::tempdir().unwrap();
    let turn_presets: Vec<&str> = PRESETS
        .iter()
        .filter(|p| {
            let estimator = (p.build)().credit.estimator;
            ESTIMATORS.iter().any(|e| e.name == estimator && e.turns)
        })
        .map(|p| p.name)
        .collect();
    assert!(turn_presets.len() >= 3, "{turn_presets:?}");
    for preset in turn_presets {
        // IGPO probes the gold answer, which only SearchQA has; short episodes keep it fast.
        let env: &[&str] = match preset {
            "igpo" => &["task.name=searchqa", "rl.max_new_tokens=160"],
            // HiPER's turns are plan-execute turns, in the warm start and in RL.
            "hiper" => &[
                "task.name=corridor",
                "task.rl.plan_execute=true",
                "task.sft.plan_execute=true",
                "model.max_position_embeddings=512",
                "rl.max_new_tokens=448",
                "rl.max_turn_tokens=40",
            ],
            _ => &["task.name=corridor"],
        };
        let sets = [
            "sft.steps=20",
            "rl.steps=2",
            "eval.every=0",
            "eval.problems=4",
        ];
        let mut sets: Vec<&str> = env.iter().chain(&sets).copied().collect();
        let preset_set = format!("method.preset={preset}");
        sets.push(&preset_set);
        let config = common::tiny_config(dir.path(), preset, &sets);
        let summary = polopt_train::train(&config, polopt_train::TrainOptions::default())
            .unwrap_or_else(|e| panic!("{preset}: {e}"));
        let rows = common::metric_rows(&summary.run_dir, &[]);
        for row in &rows[1..] {
            for (k, v) in row.as_object().unwrap() {
                if let Some(x) = v.as_f64() {
                    assert!(x.is_finite(), "{preset}: {k} = {x}");
                }
            }
            assert!(row["agent/turns"].as_f64().unwrap() >= 1.0, "{preset}");
        }
    }
}

#[test]
fn a_turn_level_estimator_on_a_single_turn_task_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(dir.path(), "refused", &["method.preset=gigpo"]);
    let Err(e) = polopt_train::train(&config, polopt_train::TrainOptions::default()) else {
        panic!("gigpo on addition must be refused");
    };
    let e = e.to_string();
    assert!(
        e.contains("method.credit.estimator") && e.contains("corridor"),
        "{e}"
    );
}

#[test]
fn hiper_without_plan_execute_turns_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "refused",
        &["task.name=corridor", "method.preset=hiper"],
    );
    let Err(e) = polopt_train::train(&config, polopt_train::TrainOptions::default()) else {
        panic!("hiper without plan_execute must be refused");
    };
    let e = e.to_string();
    assert!(e.contains("task.rl.plan_execute"), "{e}");
}

/// IGPO's probe: one probability per turn, in (0, 1]; the episodes of one instance share their
/// turn-0 context, so their P_0 agree; and a batched, padded probe equals the same context
/// scored alone.
#[test]
fn the_gold_answer_probe_gives_one_consistent_probability_per_turn() {
    use polopt_train::agent_rollout::probe_gold_answers;
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "probe",
        &["task.name=searchqa", "rl.max_new_tokens=96"],
    );
    let task = make_task("searchqa", &serde_json::Value::Null).unwrap();
    let Setup {
        tok,
        policy,
        problems: instances,
        prompts: instance_prompts,
    } = setup(&config, task.as_ref(), 2, 2);
    // Three episodes of each instance.
    let problems: Vec<&Problem> = instances.iter().flat_map(|p| [p, p, p]).collect();
    let prompts: Vec<Vec<i64>> = instance_prompts
        .iter()
        .flat_map(|p| [p.clone(), p.clone(), p.clone()])
        .collect();
    let sampling = config.rl.sampling(&tok, 96);
    let mut rows = with_torch_seed(5, "probe-test", 0, || {
        sample_episodes(
            &policy,
            &tok,
            task.as_ref(),
            &prompts,
            &problems,
            &sampling,
            24,
        )
    })
    .unwrap();
    probe_gold_answers(&policy, &tok, task.as_ref(), &prompts, &problems, &mut rows).unwrap();
    for row in &rows {
        let episode = row.episode.as_ref().unwrap();
        assert_eq!(episode.gold_probs.len(), episode.turns());
        assert!(episode.gold_probs.iter().all(|&p| p > 0.0 && p <= 1.0));
    }
    for group in rows.chunks(3) {
        let p0: Vec<f64> = group
            .iter()
            .map(|r| r.episode.as_ref().unwrap().gold_probs[0])
            .collect();
        assert!(p0.iter().all(|&p| (p - p0[0]).abs() < 1e-6), "{p0:?}");
    }
    // Turn 0 of the first episode, scored alone: prompt + "<answer>" + the gold answer.
    let context = [prompts[0].clone(), tok.encode("<answer>").unwrap()].concat();
    let gold = tok.encode(&problems[0].answer).unwrap();
    let packed = polopt_train::packing::pack(&[&context], &[&gold], tok.pad_id(), tch::Device::Cpu);
    let (logp, _) = tch::no_grad(|| policy.logprobs(&packed, 1.0, false));
    let mean = logp.sum(tch::Kind::Double).double_value(&[]) / gold.len() as f64;
    let alone = mean.exp();
    let batched = rows[0].episode.as_ref().unwrap().gold_probs[0];
    assert!((alone - batched).abs() < 1e-5, "{alone} vs {batched}");
}

/// A budget that the model's positions cannot hold after the prompt: episodes end at the
/// position limit (the cut turn played last) instead of failing the sampler.
#[test]
fn episodes_end_at_the_models_position_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::tiny_config(
        dir.path(),
        "positions",
        &[
            "task.name=corridor",
            "model.max_position_embeddings=96",
            "rl.max_new_tokens=80",
        ],
    );
    let task = corridor();
    let Setup {
        tok,
        policy,
        problems,
        prompts,
    } = setup(&config, task.as_ref(), 4, 1);
    assert!(
        prompts.iter().all(|p| p.len() + 80 > 96),
        "the limit must bind"
    );
    let refs: Vec<&Problem> = problems.iter().collect();
    let sampling = config.rl.sampling(&tok, 80);
    let rows = with_torch_seed(5, "agent-test", 0, || {
        sample_episodes(&policy, &tok, task.as_ref(), &prompts, &refs, &sampling, 0)
    })
    .expect("the position limit ends episodes, it does not fail them");
    for (row, prompt) in rows.iter().zip(&prompts) {
        assert!(prompt.len() + row.response.len() <= 96, "{row:?}");
        assert!(row.episode.as_ref().unwrap().turns() >= 1);
    }
}
