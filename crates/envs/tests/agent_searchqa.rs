//! SearchQA (agent-envs.md, E3): formats, goldens, solvability, splits, invalid actions, the
//! search limit, truncation of documents, distractors, EM and the shaping totals.
use std::collections::HashSet;

use polopt_envs::agent::searchqa::{
    exact_match, normalize_answer, question_split, EntityKind, QuestionKind, SearchQa,
    EPISODE_OVER_MESSAGE, INVALID_MESSAGE, NO_RESULTS_MESSAGE, SEARCH_LIMIT_MESSAGE, STOPS,
};
use polopt_envs::agent::{
    normalize_action, nth_seed, split_of_seed, AgentEnv, Step, AGENT_EXTRA_CHARS,
};
use polopt_envs::text::{Split, TaskError, CHARSET};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

fn env(config: Value) -> SearchQa {
    SearchQa::from_json(&config).unwrap_or_else(|e| panic!("{config}: {e}"))
}

fn build_error(config: Value) -> TaskError {
    match SearchQa::from_json(&config) {
        Ok(_) => panic!("{config} should be rejected"),
        Err(e) => e,
    }
}

fn allowed(text: &str) -> bool {
    text.chars()
        .all(|c| CHARSET.contains(c) || AGENT_EXTRA_CHARS.contains(c))
}

/// The first train seed whose question is of `kind`.
fn seed_of_kind(e: &mut SearchQa, kind: QuestionKind) -> u64 {
    (0..10_000)
        .map(|n| nth_seed(Split::Train, n))
        .find(|&seed| {
            e.reset(seed);
            e.question().is_some_and(|q| q.kind == kind)
        })
        .unwrap_or_else(|| panic!("no {kind:?} question in 10k seeds"))
}

/// Observations of `actions` played after `reset(seed)`, the reset's first.
fn replay(e: &mut SearchQa, seed: u64, actions: &[&str]) -> Vec<String> {
    let mut out = vec![e.reset(seed).observation];
    out.extend(actions.iter().map(|a| e.step(a).observation));
    out
}

fn rewards(e: &mut SearchQa, actions: &[String]) -> Vec<f64> {
    actions.iter().map(|a| e.step(a).reward).collect()
}

#[test]
fn the_defaults_are_the_spec_knobs() {
    let e = env(json!({}));
    let c = e.config();
    assert_eq!(
        (
            c.persons,
            c.cities,
            c.countries,
            c.companies,
            c.universities
        ),
        (300, 80, 20, 120, 40)
    );
    assert_eq!(c.mixture, [0.3, 0.4, 0.2, 0.1]);
    assert_eq!((c.top_k, c.doc_chars, c.max_searches), (3, 200, 4));
    assert_eq!((e.horizon(), c.max_action_chars), (6, 1024));
    assert!(!c.shaping && c.shaping_lambda == 0.1 && c.distractor_frac == 0.2);
    assert_eq!(e.action_stops(), ["</search>", "</answer>"]);
    assert_eq!(e.name(), "searchqa");
    let again = SearchQa::from_json(&e.config_json()).expect("config_json parses back");
    assert_eq!(again.config(), c);
}

#[test]
fn config_errors_name_the_key() {
    let e = build_error(json!({"persons": 0}));
    assert!(
        matches!(&e, TaskError::OutOfRange { field, .. } if field == "searchqa.persons"),
        "{e}"
    );
    let e = build_error(json!({"retriever": "e5"}));
    assert!(
        matches!(&e, TaskError::Invalid { field, .. } if field == "searchqa.retriever"),
        "{e}"
    );
    let e = build_error(json!({"mixture": [0.0, 0.0, 0.0, 0.0]}));
    assert!(matches!(&e, TaskError::OutOfRange { field, .. } if field == "searchqa.mixture"));
    let e = build_error(json!({"cities": 10, "countries": 20}));
    assert!(matches!(&e, TaskError::OutOfRange { field, .. } if field == "searchqa.cities"));
    // One company: no comparison can be asked.
    let e = build_error(json!({"companies": 1, "mixture": [1.0, 1.0, 0.0, 1.0]}));
    assert!(
        matches!(&e, TaskError::Invalid { field, .. } if field == "searchqa.mixture[3]"),
        "{e}"
    );
    assert!(SearchQa::from_json(&json!({"companies": 1, "mixture": [1.0, 1.0, 0.0, 0.0]})).is_ok());
}

#[test]
fn the_prompt_and_messages_have_the_spec_formats() {
    let mut e = env(json!({}));
    let reset = e.reset(nth_seed(Split::Train, 0));
    let question = reset.info.task.clone();
    assert_eq!(
        reset.observation,
        format!(
            "Answer the question. Search with <search>query</search> (at most 4 times), then \
             answer with <answer>text</answer>.\nQuestion: {question}"
        )
    );
    assert!(reset.info.admissible.is_empty());
    assert_eq!(
        INVALID_MESSAGE,
        "Invalid action. Use <search>query</search> or <answer>text</answer>."
    );
    assert_eq!(
        SEARCH_LIMIT_MESSAGE,
        "<information>Search limit reached.</information>"
    );
    // Questions follow the spec's five templates.
    for n in 0..300 {
        e.reset(nth_seed(Split::Train, n));
        let q = e.question().expect("reset");
        let (head, tail) = match q.kind {
            QuestionKind::BornCity => ("Where was ", " born?"),
            QuestionKind::BornCountry => ("In which country was ", " born?"),
            QuestionKind::HqFounder => ("Who founded the company headquartered in ", "?"),
            QuestionKind::HqCountry => (
                "In which country is the headquarters of the company founded by ",
                "?",
            ),
            QuestionKind::Comparison => ("Which company was founded earlier, ", "?"),
        };
        assert!(
            q.text.starts_with(head) && q.text.ends_with(tail),
            "{}",
            q.text
        );
    }
}

#[test]
fn a_search_shows_the_top_k_documents_cut_to_doc_chars() {
    let mut e = env(json!({"doc_chars": 30, "top_k": 2}));
    let seed = seed_of_kind(&mut e, QuestionKind::BornCountry);
    e.reset(seed);
    // The birthplace: its city, and persons and universities there.
    let query = e.expert()[1].clone();
    let step = e.step(&query);
    let name = &query["<search>".len()..query.len() - "</search>".len()];
    let hits = e.retrieve(name);
    assert_eq!(hits.len(), 2);
    let shown: Vec<String> = hits
        .iter()
        .enumerate()
        .map(|(rank, &d)| {
            let doc = &e.docs()[d];
            format!("[{}] {}: {}", rank + 1, doc.title, &doc.text[..30])
        })
        .collect();
    assert_eq!(
        step.observation,
        format!("<information>{}</information>", shown.join(" "))
    );
    assert!(e.docs()[hits[0]].text.len() > 30);
    assert_eq!(e.retrieved_docs(), hits.as_slice());
    assert_eq!(e.searches_used(), 1);
    // A query without known words finds nothing, and still counts.
    assert_eq!(
        e.step("<search>qqqq</search>").observation,
        NO_RESULTS_MESSAGE
    );
    assert_eq!(e.searches_used(), 2);
}

#[test]
fn golden_replays() {
    let mut e = env(json!({}));
    // A 3-hop question solved by the expert: the first search already finds the company.
    let seed = nth_seed(Split::Train, 0);
    e.reset(seed);
    assert_eq!(
        e.expert(),
        [
            "<search>dralkrakro donpunkro</search>",
            "<search>barbonan</search>",
            "<answer>durlivi</answer>"
        ]
    );
    let obs = replay(
        &mut e,
        seed,
        &[
            "<search>Dralkrakro  Donpunkro</search> trailing text",
            "<search>barbonan</search>",
            "<answer>Durlivi</answer>",
        ],
    );
    assert_eq!(
        obs,
        [
            "Answer the question. Search with <search>query</search> (at most 4 times), then \
             answer with <answer>text</answer>.\nQuestion: In which country is the headquarters \
             of the company founded by Dralkrakro Donpunkro?",
            "<information>[1] Dralkrakro Donpunkro: Dralkrakro Donpunkro is a painter born in \
             Vaka. Donpunkro studied at Kasto University. [2] Tostil: Tostil is a company \
             founded in 2002 by Dralkrakro Donpunkro. Its headquarters are in \
             Barbonan.</information>",
            "<information>[1] Barbonan: Barbonan is a city in Durlivi. It lies on the coast. [2] \
             Nipalfe University: Nipalfe University is a university in Barbonan. It teaches \
             physics and history. [3] Dizimu Nostil: Dizimu Nostil is a banker born in \
             Barbonan. Nostil studied at Tranne University.</information>",
            "",
        ]
    );
    assert_eq!(e.gold_answer().as_deref(), Some("Durlivi"));
    // A 2-hop test question with a near-duplicate distractor, an invalid turn, a wrong answer.
    let seed = nth_seed(Split::Test, 1);
    let obs = replay(
        &mut e,
        seed,
        &[
            "darvun guzul",
            "<search>darvun guzul</search>",
            "<search>stersen</search>",
            "<answer>Vaka</answer>",
        ],
    );
    assert_eq!(
        obs[1..],
        [
            INVALID_MESSAGE,
            "<information>[1] Darvun Guzul: Darvun Guzul is a sailor born in Stersen. Guzul \
             studied at Sinzatu University. [2] Darvun Gazul: Darvun Gazul is a singer born in \
             Vaka. Gazul studied at Brustun University.</information>",
            "<information>[1] Stersen: Stersen is a city in Durlivi. It lies near a lake. [2] \
             Votral University: Votral University is a university in Stersen. It teaches art \
             and medicine. [3] Brustun University: Brustun University is a university in \
             Stersen. It teaches art and law.</information>",
            "",
        ]
    );
    assert_eq!(e.gold_answer().as_deref(), Some("Durlivi"));
    assert_eq!(e.retrieved_gold(), 2);
}

#[test]
fn the_expert_solves_1000_train_instances_within_the_horizon() {
    let mut e = env(json!({}));
    let mut kinds = HashSet::new();
    for n in 0..1000 {
        let seed = nth_seed(Split::Train, n);
        e.reset(seed);
        let actions = e.expert();
        assert!(actions.len() <= e.horizon(), "seed {seed}");
        let mut last = None;
        let mut total = 0.0;
        for (turn, a) in actions.iter().enumerate() {
            assert_eq!(
                &normalize_action(a, STOPS),
                a,
                "expert actions are normalised"
            );
            let step = e.step(a);
            assert!(!step.invalid, "seed {seed} turn {turn}: {a}");
            total += step.reward;
            last = Some(step);
        }
        let last = last.expect("the expert acts");
        assert!(
            last.terminated && last.success && !last.truncated,
            "seed {seed}"
        );
        assert_eq!(total, 1.0);
        // The expert's searches reach every gold document.
        assert_eq!(e.retrieved_gold(), e.gold_docs().len(), "seed {seed}");
        assert!(e.searches_used() <= 4);
        kinds.insert(e.question().map(|q| q.kind));
    }
    assert_eq!(kinds.len(), 5, "all five templates appear");
}

#[test]
fn same_seed_same_episode_other_seeds_other_questions_and_splits_stay_apart() {
    let mut a = env(json!({}));
    let mut b = a.boxed_clone();
    let mut distinct = HashSet::new();
    for n in 0..200 {
        let seed = nth_seed(Split::Train, n);
        let (ra, rb) = (a.reset(seed), b.reset(seed));
        assert_eq!(ra, rb);
        for action in a.expert() {
            assert_eq!(a.step(&action), b.step(&action));
        }
        distinct.insert(ra.info.task);
    }
    // Pools of a few hundred questions per group make some repeats; most draws differ.
    assert!(distinct.len() >= 150, "{}", distinct.len());

    let questions = |e: &mut SearchQa, split: Split, n: u64| -> HashSet<String> {
        (0..n)
            .map(|i| {
                let seed = nth_seed(split, i);
                let task = e.reset(seed).info.task;
                assert_eq!(question_split(&task), split_of_seed(seed));
                task
            })
            .collect()
    };
    let train = questions(&mut a, Split::Train, 3000);
    let test = questions(&mut a, Split::Test, 500);
    let validation = questions(&mut a, Split::Validation, 500);
    assert!(train.is_disjoint(&test) && train.is_disjoint(&validation));
    assert!(test.is_disjoint(&validation));
    // Test pools are a tenth of each kind (15 to 700 questions).
    assert!(test.len() > 80, "{}", test.len());
}

#[test]
fn invalid_actions_cost_a_turn_and_change_nothing() {
    let mut e = env(json!({}));
    let seed = seed_of_kind(&mut e, QuestionKind::BornCountry);
    e.reset(seed);
    let expert = e.expert();
    assert_eq!(expert.len(), 3);
    for bad in ["who is it?", "<answer>x</search>", "<search>x", "</answer>"] {
        let before = (e.retrieved_docs().to_vec(), e.searches_used());
        let step = e.step(bad);
        assert!(step.invalid && !step.terminated && !step.truncated, "{bad}");
        assert_eq!(
            (step.observation.as_str(), step.reward),
            (INVALID_MESSAGE, 0.0)
        );
        assert_eq!((e.retrieved_docs().to_vec(), e.searches_used()), before);
        if bad == "who is it?" {
            // One invalid turn still leaves room for the expert.
            let last = expert.iter().map(|a| e.step(a)).last().expect("acts");
            assert!(last.success);
            e.reset(seed);
        }
    }
    // Three invalid turns since the reset and three more: the sixth turn truncates.
    let steps: Vec<Step> = (0..3).map(|_| e.step("nothing")).collect();
    assert!(!steps[1].truncated && steps[2].truncated);
    assert!(steps[2].invalid && !steps[2].terminated && steps[2].reward == 0.0);
    let after = e.step(&expert[0]);
    assert_eq!(after.observation, EPISODE_OVER_MESSAGE);
    assert!(after.invalid && after.truncated && e.searches_used() == 0);
}

#[test]
fn the_fifth_search_hits_the_limit() {
    let mut e = env(json!({}));
    let seed = seed_of_kind(&mut e, QuestionKind::BornCity);
    e.reset(seed);
    let expert = e.expert();
    for _ in 0..4 {
        assert!(!e.step(&expert[0]).invalid);
    }
    let retrieved = e.retrieved_docs().to_vec();
    let fifth = e.step("<search>anything else</search>");
    assert_eq!(fifth.observation, SEARCH_LIMIT_MESSAGE);
    assert!(fifth.invalid && !fifth.truncated);
    assert_eq!(
        (e.searches_used(), e.retrieved_docs()),
        (4, retrieved.as_slice())
    );
    // The sixth turn is the last; an answer there still terminates.
    let last = e.step(&expert[1]);
    assert!(last.terminated && last.success && !last.truncated);
    assert_eq!(last.reward, 1.0);
}

#[test]
fn long_actions_truncate_the_episode() {
    // Only 1-hop questions fit 64 characters of actions.
    let mut e = env(json!({"max_action_chars": 64, "mixture": [1.0, 0.0, 0.0, 0.0]}));
    e.reset(nth_seed(Split::Train, 0));
    let step = e.step("<search>a rather long query text with many more words in it</search>");
    assert!(!step.invalid && step.truncated && !step.terminated);
}

#[test]
fn answers_are_scored_by_exact_match_after_normalisation() {
    assert_eq!(normalize_answer("  The  Kezal! "), "kezal");
    assert_eq!(
        normalize_answer("an Apple, a pie; THE end."),
        "apple pie end"
    );
    assert_eq!(normalize_answer("Vaku-Trafan"), "vakutrafan");
    assert_eq!(normalize_answer("theory"), "theory");
    assert!(exact_match("the vaku  trafan.", "Vaku Trafan"));
    assert!(!exact_match("vaku", "Vaku Trafan"));

    let mut e = env(json!({}));
    let seed = nth_seed(Split::Train, 0);
    e.reset(seed);
    let expert = e.expert();
    for a in &expert[..2] {
        e.step(a);
    }
    let step = e.step("I think <answer>The Durlivi.</answer>");
    assert!(step.terminated && step.success && step.reward == 1.0);
    e.reset(seed);
    let step = e.step("<answer>Kezal</answer>");
    assert!(step.terminated && !step.success && !step.invalid && step.reward == 0.0);
}

#[test]
fn the_corpus_holds_near_duplicate_distractors() {
    let e = env(json!({}));
    let docs = e.docs();
    let real: Vec<_> = docs.iter().filter(|d| !d.distractor).collect();
    let fake: Vec<_> = docs.iter().filter(|d| d.distractor).collect();
    assert_eq!(real.len(), 300 + 80 + 20 + 120 + 40);
    assert_eq!(fake.len(), 112, "20% of 560");
    let titles: HashSet<&str> = real.iter().map(|d| d.title.as_str()).collect();
    for d in &fake {
        assert!(!titles.contains(d.title.as_str()));
        assert_ne!(d.kind, EntityKind::Country);
        let near = real.iter().any(|r| {
            r.kind == d.kind
                && r.title.len() == d.title.len()
                && r.title
                    .chars()
                    .zip(d.title.chars())
                    .filter(|(a, b)| a != b)
                    .count()
                    == 1
        });
        assert!(near, "{} is one letter away from a real name", d.title);
    }
    assert!(env(json!({"distractor_frac": 0.0}))
        .docs()
        .iter()
        .all(|d| !d.distractor));
}

#[test]
fn shaping_pays_information_gain_and_is_taken_back_without_an_answer() {
    let mut e = env(json!({"shaping": true}));
    let seed = seed_of_kind(&mut e, QuestionKind::BornCountry);
    e.reset(seed);
    let expert = e.expert();
    let (person, city) = (expert[0].clone(), expert[1].clone());
    assert_eq!(e.gold_docs().len(), 2);
    // Person: one of two gold documents is new (+0.1 * 1/2); again: nothing new (-0.1 / 2);
    // the city: the second gold document (+0.05); the answer: EM 1.
    let plan = [
        person.clone(),
        person.clone(),
        city.clone(),
        expert[2].clone(),
    ];
    let r = rewards(&mut e, &plan);
    let expected = [0.05, -0.05, 0.05, 1.0];
    for (got, want) in r.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{r:?}");
    }
    assert!((r.iter().sum::<f64>() - 1.05).abs() < 1e-12);
    assert!((e.shaping_paid() - 0.05).abs() < 1e-12);

    // A well-formed wrong answer keeps the shaping.
    e.reset(seed);
    let r = rewards(
        &mut e,
        &[person.clone(), city.clone(), "<answer>no</answer>".into()],
    );
    assert!((r.iter().sum::<f64>() - 0.1).abs() < 1e-12, "{r:?}");

    // Truncated without an answer: the sixth turn takes all of it back.
    e.reset(seed);
    let mut plan = vec![person.clone(), person.clone(), city.clone()];
    plan.extend(["x".to_string(), "y".into(), "z".into()]);
    let r = rewards(&mut e, &plan);
    assert!((r[5] + 0.05).abs() < 1e-12, "{r:?}");
    assert!(r.iter().sum::<f64>().abs() < 1e-12);
    assert_eq!(e.shaping_paid(), 0.0);

    // An empty answer is not well formed.
    e.reset(seed);
    let r = rewards(&mut e, &[person.clone(), "<answer> </answer>".into()]);
    assert!(
        (r[0] - 0.05).abs() < 1e-12 && (r[1] + 0.05).abs() < 1e-12,
        "{r:?}"
    );

    // Shaping off: searches pay nothing.
    let mut plain = env(json!({}));
    plain.reset(seed);
    assert_eq!(rewards(&mut plain, &plan), [0.0; 6]);
}

#[test]
fn random_text_never_panics_and_observations_stay_in_the_charset() {
    let mut e = env(json!({"shaping": true}));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pieces = [
        "<search>",
        "</search>",
        "<answer>",
        "</answer>",
        "<",
        ">",
        "/",
        " ",
        "\n",
        "\t",
        "é",
        "ß",
        "日本",
        "the",
        "a",
        "kezal",
        "vaku trafan",
        "search",
        "answer",
        "?",
        "0",
        "\u{0}",
    ];
    for n in 0..2000 {
        e.reset(nth_seed(Split::Train, n));
        for _ in 0..8 {
            let len = rng.random_range(0..12);
            let text: String = (0..len)
                .map(|_| pieces[rng.random_range(0..pieces.len())])
                .collect();
            let step = e.step(&text);
            assert!(allowed(&step.observation), "{:?}", step.observation);
            assert!(step.reward.is_finite());
        }
    }
}

#[test]
fn everything_rendered_stays_in_the_charset() {
    let mut e = env(json!({}));
    assert!(allowed(INVALID_MESSAGE) && allowed(SEARCH_LIMIT_MESSAGE));
    assert!(allowed(NO_RESULTS_MESSAGE) && allowed(EPISODE_OVER_MESSAGE));
    for d in e.docs() {
        assert!(allowed(&d.title) && allowed(&d.text), "{d:?}");
    }
    for split in Split::ALL {
        for n in 0..300 {
            let reset = e.reset(nth_seed(split, n));
            assert!(allowed(&reset.observation), "{}", reset.observation);
            for a in e.expert() {
                assert!(allowed(&a), "{a}");
                assert!(allowed(&e.step(&a).observation));
            }
            assert!(e.gold_answer().is_some_and(|g| allowed(&g)));
        }
    }
}

#[test]
fn reduced_knobs_keep_every_instance_solvable() {
    // A small world for tiny models: fewer entities, two hits of 120 characters.
    let mut e = env(json!({
        "persons": 100, "cities": 30, "countries": 8, "companies": 40, "universities": 12,
        "top_k": 2, "doc_chars": 120
    }));
    for n in 0..300 {
        e.reset(nth_seed(Split::Train, n));
        let last = e.expert().iter().map(|a| e.step(a)).last().expect("acts");
        assert!(last.success, "seed {n}");
    }
    assert!(e.pool_sizes(QuestionKind::BornCity)[0] > 0);
}
