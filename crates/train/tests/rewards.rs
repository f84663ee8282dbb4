//! The reward registry (`polopt_train::rewards`): each reward's values, the weighted sum and
//! its correctness rule, config errors naming `reward[i].<key>`, and user rewards (a Python
//! function, a child process) including every way they can fail without becoming a 0.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polopt_envs::text::{Problem, Verdict};
use polopt_methods::select::overlong_penalty;
use polopt_train::reward::{Completion, RewardFn};
use polopt_train::rewards::{build_rewards, resolve_rewards, reward_names, REWARDS};
use polopt_train::TrainError;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rewards")
}

/// The `[[reward]]` tables of a TOML snippet.
fn tables(src: &str) -> Vec<toml::Table> {
    let doc: toml::Table = toml::from_str(src).expect("test TOML parses");
    doc["reward"]
        .as_array()
        .expect("[[reward]] list")
        .iter()
        .map(|t| t.as_table().expect("a table").clone())
        .collect()
}

fn build(src: &str) -> Result<Box<dyn RewardFn>, TrainError> {
    build_rewards(&tables(src), &fixtures())
}

fn config_error(src: &str) -> String {
    match build(src) {
        Err(TrainError::Config(msg)) => msg,
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(r) => panic!("expected a config error, built {}", r.name()),
    }
}

fn problem(answer: &str, meta: serde_json::Value) -> Problem {
    Problem {
        prompt: format!("what is the answer ({answer})?"),
        solution: String::new(),
        answer: answer.to_string(),
        key: answer.to_string(),
        meta,
    }
}

/// Scores `texts` against `problems` (one each) as one batch.
fn score(
    reward: &dyn RewardFn,
    problems: &[Problem],
    texts: &[&str],
) -> Result<Vec<Verdict>, TrainError> {
    let items: Vec<Completion> = problems
        .iter()
        .zip(texts)
        .map(|(p, t)| Completion {
            problem: p,
            text: t,
            tokens: t.chars().count(),
        })
        .collect();
    reward.score_batch(&items)
}

fn rewards_of(verdicts: &[Verdict]) -> Vec<f64> {
    verdicts.iter().map(|v| v.reward).collect()
}

fn reward_error(result: Result<Vec<Verdict>, TrainError>) -> String {
    match result {
        Err(e @ TrainError::Reward { .. }) => e.to_string(),
        Err(other) => panic!("expected a reward error, got {other}"),
        Ok(v) => panic!("expected a reward error, got {v:?}"),
    }
}

#[test]
fn the_registry_lists_every_reward_with_a_summary() {
    let names: Vec<&str> = reward_names().iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["math", "exact", "regex", "length", "python", "command"]
    );
    assert!(REWARDS.iter().all(|e| !e.summary.is_empty()));
}

#[test]
fn math_reads_gsm8k_gold_solutions_and_boxed_completions() {
    let r = build("[[reward]]\nname = \"math\"\nunparsable = -0.5").unwrap();
    assert_eq!(r.name(), "math");
    let gsm8k = problem(
        "Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 1,072",
        serde_json::Value::Null,
    );
    let boxed_gold = problem(r"so the answer is \boxed{\frac12}", serde_json::Value::Null);
    let ps = [gsm8k.clone(), gsm8k.clone(), gsm8k, boxed_gold];
    let v = score(
        &*r,
        &ps,
        &[r"so \boxed{1072}", r"\boxed{1071}", "no idea", "it is 0.5"],
    )
    .unwrap();
    assert_eq!(rewards_of(&v), [1.0, 0.0, -0.5, 1.0]);
    assert_eq!(
        v.iter().map(|v| v.correct).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    assert_eq!(
        v.iter().map(|v| v.well_formed).collect::<Vec<_>>(),
        [true, true, false, true]
    );
}

#[test]
fn math_without_any_reference_answer_is_an_error_not_a_wrong_answer() {
    let r = build("[[reward]]\nname = \"math\"").unwrap();
    let msg = reward_error(score(
        &*r,
        &[problem(" ", serde_json::Value::Null)],
        &["42"],
    ));
    assert!(msg.contains("no reference answer"), "{msg}");
}

#[test]
fn exact_trims_and_optionally_folds_case() {
    let p = [problem("Paris", serde_json::Value::Null)];
    let default = build("[[reward]]\nname = \"exact\"").unwrap();
    let folded = build("[[reward]]\nname = \"exact\"\ncase_sensitive = false").unwrap();
    let unstripped = build("[[reward]]\nname = \"exact\"\nstrip = false").unwrap();
    let correct = |r: &dyn RewardFn, t: &str| score(r, &p, &[t]).unwrap()[0].correct;
    assert!(correct(&*default, " Paris\n"));
    assert!(!correct(&*default, "paris"));
    assert!(correct(&*folded, "PARIS "));
    assert!(!correct(&*unstripped, " Paris"));
    assert_eq!(score(&*default, &p, &["Rome"]).unwrap()[0].reward, 0.0);
}

const THINK_ANSWER: &str = r#"
[[reward]]
name = "regex"
pattern = '^<think>.*?</think>\s*<answer>.*?</answer>$'
dot_all = true
full_match = true
reward = 0.5
otherwise = -0.1
"#;

#[test]
fn regex_rewards_the_think_answer_format_and_never_makes_a_completion_correct() {
    let r = build(THINK_ANSWER).unwrap();
    let p = vec![problem("4", serde_json::Value::Null); 4];
    let texts = [
        "<think>2+2\nis four</think>\n<answer>4</answer>",
        "<answer>4</answer>",
        "<think>a</think><answer>4</answer> trailing",
        "<think>\n\n</think><answer>\n5\n</answer>",
    ];
    let v = score(&*r, &p, &texts).unwrap();
    assert_eq!(rewards_of(&v), [0.5, -0.1, -0.1, 0.5]);
    assert_eq!(
        v.iter().map(|v| v.well_formed).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    // Not a verifier: with the default threshold 1.0 a 0.5 format reward is not "correct".
    assert!(v.iter().all(|v| !v.correct));

    let without_dot_all = build(&THINK_ANSWER.replace("dot_all = true", "")).unwrap();
    assert_eq!(
        score(&*without_dot_all, &p[..1], &texts[..1]).unwrap()[0].reward,
        -0.1
    );
}

#[test]
fn length_penalty_matches_the_methods_crate_at_every_breakpoint() {
    let r = build("[[reward]]\nname = \"length\"\nmax_len = 20\ncache_len = 4").unwrap();
    let p = problem("x", serde_json::Value::Null);
    for (tokens, expected) in [
        (0, 0.0),
        (16, 0.0),
        (17, -0.25),
        (18, -0.5),
        (20, -1.0),
        (21, -1.0),
        (500, -1.0),
    ] {
        let item = Completion {
            problem: &p,
            text: "",
            tokens,
        };
        let v = r.score_batch(&[item]).unwrap();
        assert_eq!(v[0].reward, expected, "tokens = {tokens}");
        assert_eq!(v[0].reward, overlong_penalty(tokens, 20, 4));
    }
}

#[test]
fn a_weighted_sum_is_correct_only_when_its_verifiers_are() {
    let r = build(&format!(
        "[[reward]]\nname = \"math\"\n{THINK_ANSWER}weight = 0.2\n"
    ))
    .unwrap();
    assert_eq!(r.name(), "math+0.2*regex");
    let p = vec![problem("4", serde_json::Value::Null); 3];
    let texts = [
        "<think>easy</think><answer>4</answer>",
        "<think>hmm</think><answer>5</answer>",
        "4",
    ];
    let v = score(&*r, &p, &texts).unwrap();
    let expected = [1.0 + 0.2 * 0.5, 0.2 * 0.5, 1.0 - 0.2 * 0.1];
    for (got, want) in rewards_of(&v).iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    // The format bonus never turns a wrong answer correct; well_formed needs every component.
    assert_eq!(
        v.iter().map(|v| v.correct).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(
        v.iter().map(|v| v.well_formed).collect::<Vec<_>>(),
        [true, true, false]
    );
}

#[test]
fn without_a_verifier_correct_means_reaching_the_threshold() {
    let p = vec![problem("4", serde_json::Value::Null); 2];
    let texts = ["<think>a</think><answer>4</answer>", "4"];
    let full = THINK_ANSWER.replace("reward = 0.5", "reward = 1.0");
    let v = score(&*build(&full).unwrap(), &p, &texts).unwrap();
    assert_eq!(
        v.iter().map(|v| v.correct).collect::<Vec<_>>(),
        [true, false]
    );
    let strict = build(&format!("{full}correct_threshold = 1.5\n")).unwrap();
    assert!(score(&*strict, &p, &texts)
        .unwrap()
        .iter()
        .all(|v| !v.correct));
}

#[test]
fn config_errors_name_the_table_and_key() {
    let unknown = config_error("[[reward]]\nname = \"math\"\n[[reward]]\nname = \"bleu\"");
    assert!(
        unknown.starts_with("reward[1].name: unknown reward `bleu`"),
        "{unknown}"
    );
    assert!(
        unknown.contains("math, exact, regex, length, python, command"),
        "{unknown}"
    );

    let bad_pattern = config_error(
        "[[reward]]\nname = \"math\"\n[[reward]]\nname = \"regex\"\npattern = '(<think>'",
    );
    assert!(
        bad_pattern.starts_with("reward[1].pattern: invalid regex"),
        "{bad_pattern}"
    );

    let missing = config_error("[[reward]]\nname = \"regex\"");
    assert_eq!(missing, "reward[0].pattern: missing (required)");

    let typo = config_error("[[reward]]\nname = \"exact\"\ncase_sensitiv = false");
    assert!(
        typo.starts_with("reward[0]") && typo.contains("case_sensitiv"),
        "{typo}"
    );

    let wrong_type = config_error("[[reward]]\nname = \"exact\"\nstrip = \"yes\"");
    assert!(wrong_type.starts_with("reward[0].strip"), "{wrong_type}");

    let weight = config_error("[[reward]]\nname = \"math\"\nweight = \"heavy\"");
    assert!(
        weight.starts_with("reward[0].weight: expected a finite number"),
        "{weight}"
    );

    let no_name = config_error("[[reward]]\nweight = 1.0");
    assert!(no_name.starts_with("reward[0].name: missing"), "{no_name}");

    let ramp = config_error("[[reward]]\nname = \"length\"\nmax_len = 8\ncache_len = 9");
    assert!(ramp.starts_with("reward[0].cache_len"), "{ramp}");

    let twice = config_error(
        "[[reward]]\nname = \"math\"\ncorrect_threshold = 0.5\n[[reward]]\nname = \"exact\"\ncorrect_threshold = 0.7",
    );
    assert!(
        twice.starts_with("reward[1].correct_threshold: already set in reward[0]"),
        "{twice}"
    );

    let spec = config_error("[[reward]]\nname = \"python\"\nfunction = \"user_rewards.py\"");
    assert!(
        spec.starts_with("reward[0].function: expected \"file.py:function\""),
        "{spec}"
    );

    let empty = config_error("[[reward]]\nname = \"command\"\ncommand = []");
    assert!(empty.starts_with("reward[0].command"), "{empty}");

    let timeout = config_error("[[reward]]\nname = \"command\"\ncommand = [\"sh\"]\ntimeout_s = 0");
    assert!(timeout.starts_with("reward[0].timeout_s"), "{timeout}");

    let missing_program =
        config_error("[[reward]]\nname = \"command\"\ncommand = [\"./no_such_scorer\"]");
    assert!(
        missing_program.starts_with("reward[0].command: cannot start"),
        "{missing_program}"
    );

    assert!(build_rewards(&[], &fixtures()).is_err());
}

#[test]
fn resolve_fills_every_default() {
    let resolved = resolve_rewards(&tables(
        "[[reward]]\nname = \"math\"\n[[reward]]\nname = \"command\"\ncommand = [\"sh\"]\nweight = 0.5",
    ))
    .unwrap();
    assert_eq!(resolved[0]["correct"].as_float(), Some(1.0));
    assert_eq!(resolved[0]["unparsable"].as_float(), Some(0.0));
    assert_eq!(resolved[0]["correct_threshold"].as_float(), Some(1.0));
    assert_eq!(resolved[1]["timeout_s"].as_float(), Some(60.0));
    assert_eq!(resolved[1]["weight"].as_float(), Some(0.5));
}

#[cfg(feature = "python")]
mod python {
    use super::*;

    fn python(function: &str, extra: &str) -> Box<dyn RewardFn> {
        build(&format!(
            "[[reward]]\nname = \"python\"\nfunction = \"user_rewards.py:{function}\"\n{extra}"
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn python_reward_reads_the_answer_and_meta_columns() {
        let r = python("match_answer", "");
        assert_eq!(r.name(), "python(user_rewards.py:match_answer)");
        let ps = [
            problem("Paris", serde_json::json!({"bonus": 0.25})),
            problem("Rome", serde_json::json!({"bonus": 0.5})),
            problem("Oslo", serde_json::json!({})),
        ];
        let v = score(&*r, &ps, &[" paris", "Milan", "OSLO"]).unwrap();
        assert_eq!(rewards_of(&v), [1.25, 0.5, 1.0]);
        // Plain floats do not define correctness: the threshold (1.0) does.
        assert_eq!(
            v.iter().map(|v| v.correct).collect::<Vec<_>>(),
            [true, false, true]
        );
    }

    #[test]
    fn python_reward_gets_json_meta_as_python_objects() {
        let r = python("meta_types", "");
        let ps = [
            problem(
                "a",
                serde_json::json!({"tags": ["x", "y"], "count": 3, "nested": {"k": [1, 2.5, null, true]}}),
            ),
            problem("b", serde_json::json!({"tags": [], "count": -7})),
        ];
        assert_eq!(
            rewards_of(&score(&*r, &ps, &["a", "b"]).unwrap()),
            [1.0, 1.0]
        );
    }

    #[test]
    fn python_none_is_a_nan_reward_never_a_zero() {
        let r = python("none_for_questions", "");
        let ps = vec![problem("1", serde_json::Value::Null); 2];
        let v = score(&*r, &ps, &["1", "is it 1?"]).unwrap();
        assert_eq!(v[0].reward, 1.0);
        assert!(v[1].reward.is_nan());
        // A zero weight does not hide it either.
        let hidden = python("none_for_questions", "weight = 0.0");
        assert!(score(&*hidden, &ps, &["1", "?"]).unwrap()[1]
            .reward
            .is_nan());
    }

    #[test]
    fn python_dicts_make_a_verifier() {
        let r = python("verdicts", "");
        let ps = vec![problem("7", serde_json::Value::Null); 2];
        let v = score(&*r, &ps, &["7", ""]).unwrap();
        assert_eq!(rewards_of(&v), [1.0, 0.5]);
        assert_eq!((v[0].correct, v[1].correct), (true, false));
        assert_eq!((v[0].well_formed, v[1].well_formed), (true, false));
    }

    #[test]
    fn python_exceptions_and_bad_results_are_errors_naming_the_function() {
        let ps = vec![problem("1", serde_json::Value::Null); 2];
        let raised = reward_error(score(&*python("raises", ""), &ps, &["1", "2"]));
        assert!(
            raised.contains("ValueError: reward exploded on purpose"),
            "{raised}"
        );
        assert!(
            raised.contains("Traceback") && raised.contains("user_rewards.py"),
            "{raised}"
        );

        let long = reward_error(score(&*python("wrong_length", ""), &ps, &["1", "2"]));
        assert!(
            long.contains("`user_rewards.py:wrong_length` returned 3 values for 2 completions"),
            "{long}"
        );

        let typed = reward_error(score(&*python("wrong_type", ""), &ps, &["1", "2"]));
        assert!(
            typed.contains("result [1]") && typed.contains("'high'"),
            "{typed}"
        );

        let scalar = reward_error(score(&*python("not_a_list", ""), &ps, &["1", "2"]));
        assert!(scalar.contains("returned a float"), "{scalar}");

        // The one-completion `score` cannot return the error: it answers NaN instead of 0.
        assert!(python("raises", "").score(&ps[0], "1").reward.is_nan());
    }

    #[test]
    fn python_batch_size_splits_the_calls() {
        let r = python("batch_sizes", "batch_size = 2");
        let ps = vec![problem("1", serde_json::Value::Null); 5];
        let v = score(&*r, &ps, &["a", "b", "c", "d", "e"]).unwrap();
        assert_eq!(rewards_of(&v), [2.0, 2.0, 2.0, 2.0, 1.0]);
        let whole = python("batch_sizes", "");
        assert_eq!(
            rewards_of(&score(&*whole, &ps, &["a"; 5]).unwrap()),
            [5.0; 5]
        );
        let fractions = python("fractions", "");
        assert_eq!(
            score(&*fractions, &ps[..1], &["a"]).unwrap()[0].reward,
            0.25
        );
    }

    #[test]
    fn python_string_hashes_repeat_across_processes() {
        if std::env::var_os("PYTHONHASHSEED").is_some() {
            return; // the user's seed wins; nothing fixed to compare with
        }
        let r = python("string_hash", "");
        let got =
            score(&*r, &[problem("1", serde_json::Value::Null)], &["polopt"]).unwrap()[0].reward;
        let out = std::process::Command::new("python3")
            .args(["-c", "print(hash('polopt') % 1000003)"])
            .env("PYTHONHASHSEED", "0")
            .output()
            .expect("python3 on PATH (scripts/env.sh)");
        let want: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn python_load_errors_name_the_function_key() {
        let missing_file = config_error("[[reward]]\nname = \"python\"\nfunction = \"nope.py:f\"");
        assert!(
            missing_file.starts_with("reward[0].function: cannot read"),
            "{missing_file}"
        );
        let missing_fn =
            config_error("[[reward]]\nname = \"python\"\nfunction = \"user_rewards.py:nope\"");
        assert!(missing_fn.contains("defines no `nope`"), "{missing_fn}");
        let not_fn = config_error(
            "[[reward]]\nname = \"python\"\nfunction = \"user_rewards.py:NOT_CALLABLE\"",
        );
        assert!(not_fn.contains("not callable"), "{not_fn}");
    }
}

fn command(argv: &str, extra: &str) -> Box<dyn RewardFn> {
    build(&format!(
        "[[reward]]\nname = \"command\"\ncommand = {argv}\n{extra}"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn command_reward_answers_over_json_lines() {
    let r = command(r#"["python3", "score.py"]"#, "");
    assert_eq!(r.name(), "command(python3 score.py)");
    let ps = [
        problem("Paris", serde_json::json!({"bonus": 0.5})),
        problem("Rome", serde_json::Value::Null),
        problem("Oslo", serde_json::Value::Null),
        problem("Oslo", serde_json::Value::Null),
    ];
    let v = score(&*r, &ps, &["Paris", "Milan", "nan", "?"]).unwrap();
    assert_eq!(v[0].reward, 1.5);
    assert_eq!(v[1].reward, 0.0);
    assert!(v[2].reward.is_nan());
    assert_eq!(v[3].reward, 0.25);
    assert_eq!((v[0].correct, v[1].correct), (true, false));
    // The same child answers the next batch.
    assert_eq!(
        rewards_of(&score(&*r, &ps[1..2], &["Rome"]).unwrap()),
        [1.0]
    );
}

#[test]
fn a_hanging_command_times_out_and_is_killed() {
    let r = command(r#"["sh", "hang.sh"]"#, "timeout_s = 1");
    let start = Instant::now();
    let msg = reward_error(score(&*r, &[problem("1", serde_json::Value::Null)], &["1"]));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        msg.contains("`sh hang.sh`") && msg.contains("timeout_s = 1"),
        "{msg}"
    );
}

#[test]
fn a_command_that_exits_early_is_an_error_with_its_status_and_stderr() {
    let r = command(r#"["sh", "exit_early.sh"]"#, "timeout_s = 5");
    let ps = vec![problem("1", serde_json::Value::Null); 3];
    let msg = reward_error(score(&*r, &ps, &["1", "2", "3"]));
    assert!(msg.contains("stopped after answering 1 of 3"), "{msg}");
    assert!(
        msg.contains("exit status: 3") && msg.contains("giving up"),
        "{msg}"
    );
    // The next batch starts it afresh.
    let msg = reward_error(score(&*r, &ps, &["1", "2", "3"]));
    assert!(msg.contains("stopped after answering 1 of 3"), "{msg}");
}

#[test]
fn a_command_writing_garbage_or_extra_lines_is_an_error_naming_the_line() {
    let ps = vec![problem("1", serde_json::Value::Null); 2];
    let garbage = reward_error(score(
        &*command(r#"["sh", "garbage.sh"]"#, ""),
        &ps,
        &["1", "2"],
    ));
    assert!(
        garbage.contains("line 1 of 2 \"reward: high\": not JSON"),
        "{garbage}"
    );

    // Two lines per completion: the surplus is caught before a later batch can read it as
    // its own answer (it may take a batch or two to arrive, hence the loop).
    let r = command(r#"["sh", "./too_many.sh"]"#, "");
    assert_eq!(rewards_of(&score(&*r, &ps[..1], &["1"]).unwrap()), [1.0]);
    let mut caught = None;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        if let Err(e) = score(&*r, &ps[..1], &["1"]) {
            caught = Some(e.to_string());
            break;
        }
    }
    let extra = caught.expect("the surplus lines are an error");
    assert!(
        extra.contains("wrote a line before it was sent anything"),
        "{extra}"
    );
}

#[cfg(not(feature = "python"))]
#[test]
fn without_the_python_feature_a_python_table_points_to_command() {
    let msg = config_error("[[reward]]\nname = \"python\"\nfunction = \"user_rewards.py:raises\"");
    assert!(
        msg.starts_with("reward[0].name") && msg.contains("`command`"),
        "{msg}"
    );
}
