//! MiniShop (agent-envs.md E2): golden replays, the spec's page formats and reward formula,
//! expert solvability, determinism, invalid actions, fuzzing and the character set.
use polopt_envs::agent::minishop::{
    purchase_score, Chosen, Config, Goal, MiniShop, Product, INVALID_ACTION, NAME,
};
use polopt_envs::agent::{nth_seed, AgentEnv, AGENT_EXTRA_CHARS};
use polopt_envs::text::draw::below;
use polopt_envs::text::{Split, TaskError, CHARSET};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn shop(config: Config) -> MiniShop {
    MiniShop::new(config).expect("valid config")
}

/// Three results per page and short option replies: the goldens stay readable.
fn compact() -> Config {
    Config {
        results_per_page: 3,
        compact_option_clicks: true,
        ..Config::default()
    }
}

/// Plays `actions` after `reset(seed)` and checks every observation against `expected`
/// (the reset's first).
fn replay(env: &mut MiniShop, seed: u64, actions: &[&str], expected: &[&str]) {
    assert_eq!(actions.len() + 1, expected.len());
    assert_eq!(env.reset(seed).observation, expected[0]);
    for (i, action) in actions.iter().enumerate() {
        assert_eq!(
            env.step(action).observation,
            expected[i + 1],
            "after {action}"
        );
    }
}

const SEED7_SEARCH: &str =
    "search[i need a ceramic and double wall mug in navy, and price lower than 150 dollars]";
const SEED7_PAGE1: &str = "Page 1 (Total results: 32)\n[Back to Search]\n[Next >]\n\
    [p135] kinix ceramic double wall mug $101.88\n\
    [p226] marex ceramic double wall mug $115.43\n\
    [p88] ralora double wall stainless steel mug $89.28";
const SEED7_P226: &str = "[Back to Search]\n[< Prev]\nmarex ceramic double wall mug\n\
    Price: $115.43\ncolor: [white] [green] [gray] [navy]\n[Description] [Buy Now]";

#[test]
fn golden_replay_browses_every_page_kind_and_buys() {
    let actions = [
        SEED7_SEARCH,
        "click[next >]",
        "Click[< Prev]",
        "click[p226]",
        "click[description]",
        "click[< prev]",
        "click[back to search]",
        "search[ceramic mug]",
        "click[p135]",
        "click[navy]\nignored after the newline",
        "click[buy now]",
    ];
    let expected = [
        "Instruction: i need a ceramic and double wall mug in navy, and price lower than 150 \
         dollars\n[Search]",
        SEED7_PAGE1,
        "Page 2 (Total results: 32)\n[Back to Search]\n[< Prev]\n[Next >]\n\
         [p44] velus with lid double wall mug $5.76\n\
         [p187] kinik double wall insulated mug $32.33\n\
         [p199] ralora large double wall mug $108.75",
        SEED7_PAGE1,
        SEED7_P226,
        "Features: ceramic, double wall, travel.\n[< Prev]",
        SEED7_P226,
        "[Search]",
        "Page 1 (Total results: 32)\n[Back to Search]\n[Next >]\n\
         [p135] kinix ceramic double wall mug $101.88\n\
         [p96] daxix ceramic stainless steel mug $60.60\n\
         [p226] marex ceramic double wall mug $115.43",
        "[Back to Search]\n[< Prev]\nkinix ceramic double wall mug\nPrice: $101.88\n\
         color: [white] [green] [navy]\n[Description] [Buy Now]",
        "Selected color: navy.",
        "Thank you for shopping with us. Your score: 1.00",
    ];
    replay(&mut shop(compact()), 7, &actions, &expected);
}

#[test]
fn golden_replay_of_the_expert_at_the_spec_defaults() {
    let mut env = shop(Config::default());
    env.reset(3);
    let expert = env.expert();
    let actions = [
        "search[i need a breathable, non-slip and lightweight sneakers in blue, size s, and price \
         lower than 16 dollars]",
        "click[p5]",
        "click[blue]",
        "click[s]",
        "click[buy now]",
    ];
    assert_eq!(expert, actions);
    let item = "[Back to Search]\n[< Prev]\ntalora lace up breathable sneakers\nPrice: $11.71\n\
                color: [blue] [gray] [pink] [brown]\nsize: [s] [m] [l] [xl]\n[Description] [Buy Now]";
    let expected = [
        "Instruction: i need a breathable, non-slip and lightweight sneakers in blue, size s, and \
         price lower than 16 dollars\n[Search]",
        "Page 1 (Total results: 50)\n[Back to Search]\n[Next >]\n\
         [p73] marix non-slip breathable sneakers $98.44\n\
         [p5] talora lace up breathable sneakers $11.71\n\
         [p18] kinik breathable slip on sneakers $35.40\n\
         [p0] quiix slip on breathable sneakers $103.95\n\
         [p20] fenia running breathable sneakers $32.31\n\
         [p193] fenix lightweight slip on sneakers $45.90\n\
         [p40] kinal running non-slip sneakers $104.05\n\
         [p124] ralia slip on non-slip sneakers $76.25\n\
         [p177] velal slip on breathable sneakers $99.31\n\
         [p103] fenik non-slip running sneakers $62.24",
        item,
        item,
        item,
        "Thank you for shopping with us. Your score: 1.00",
    ];
    replay(&mut env, 3, &actions, &expected);
}

/// The spec's text: `i need a {attrs} {category} in {color}, size {size}, and price lower than
/// {price_ub} dollars`, attributes listed as `a`, `a and b` or `a, b and c`.
fn instruction_by_hand(goal: &Goal) -> String {
    let attrs = match goal.attrs.as_slice() {
        [a] => a.to_string(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        other => panic!("1-3 attributes, got {other:?}"),
    };
    let size = goal.size.map(|s| format!(" size {s},")).unwrap_or_default();
    format!(
        "i need a {attrs} {} in {},{size} and price lower than {} dollars",
        goal.category, goal.color, goal.price_ub
    )
}

fn price(cents: u32) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

#[test]
fn pages_render_the_spec_templates_from_catalog_data() {
    let mut env = shop(Config::default());
    for seed in 0..50 {
        let reset = env.reset(seed);
        let goal = env.goal().expect("reset").clone();
        let target = env
            .product(env.target().expect("reset"))
            .expect("in catalog")
            .clone();
        assert_eq!(reset.info.task, instruction_by_hand(&goal));
        assert_eq!(
            reset.observation,
            format!("Instruction: {}\n[Search]", reset.info.task)
        );
        // The goal is drawn from the target: its category, 1-3 of its attributes, options it
        // offers, and a bound of ceil(price * [1.1, 1.6]).
        assert_eq!(goal.category, target.category);
        assert!(goal.attrs.iter().all(|a| target.attrs.contains(a)));
        assert!(target.colors.contains(&goal.color));
        assert_eq!(goal.size.is_some(), !target.sizes.is_empty());
        let ub_cents = u64::from(goal.price_ub) * 100;
        assert!(ub_cents >= u64::from(target.price_cents) * 11 / 10);
        assert!(ub_cents < u64::from(target.price_cents) * 16 / 10 + 100);

        let results = env
            .step(&format!("search[{}]", reset.info.task))
            .observation;
        let lines: Vec<&str> = results.lines().collect();
        assert!(lines[0].starts_with("Page 1 (Total results: "));
        assert_eq!(&lines[1..3], ["[Back to Search]", "[Next >]"]);
        assert_eq!(lines.len(), 13, "ten results on a full first page");
        let mut first = None;
        for line in &lines[3..] {
            let id = &line[1..line.find(']').expect("id button")];
            let p = product_by_id(&env, id);
            let (a0, a1) = (p.attrs[0], p.attrs[1]);
            assert_eq!(p.title, format!("{} {a0} {a1} {}", p.brand, p.category));
            assert_eq!(
                *line,
                format!("[{id}] {} {}", p.title, price(p.price_cents))
            );
            first.get_or_insert(p.clone());
        }
        let p = first.expect("a result");
        let item = env.step(&format!("click[{}]", p.id)).observation;
        let buttons = |v: &[&str]| {
            v.iter()
                .map(|x| format!("[{x}]"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let sizes = if p.sizes.is_empty() {
            String::new()
        } else {
            format!("size: {}\n", buttons(&p.sizes))
        };
        assert_eq!(
            item,
            format!(
                "[Back to Search]\n[< Prev]\n{}\nPrice: {}\ncolor: {}\n{sizes}[Description] [Buy Now]",
                p.title,
                price(p.price_cents),
                buttons(&p.colors)
            )
        );
        let description = env.step("click[description]").observation;
        assert_eq!(
            description,
            format!("Features: {}.\n[< Prev]", p.attrs.join(", "))
        );
    }
}

fn product_by_id(env: &MiniShop, id: &str) -> Product {
    let index: usize = id[1..].parse().expect("p{index}");
    let p = env.product(index).expect("in catalog").clone();
    assert_eq!(p.id, id);
    p
}

fn tee(attrs: &[&'static str], colors: &[&'static str], cents: u32) -> Product {
    Product {
        id: "p0".into(),
        brand: "zorex".into(),
        title: "zorex t-shirt".into(),
        category: "t-shirt",
        attrs: attrs.to_vec(),
        colors: colors.to_vec(),
        sizes: vec!["s", "m"],
        price_cents: cents,
    }
}

fn assert_close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

#[test]
fn reward_follows_the_spec_formula_on_hand_built_cases() {
    // U: 2 attributes + colour + size + price: denominator 5.
    let goal = Goal {
        category: "t-shirt",
        attrs: vec!["cotton", "slim fit"],
        color: "red",
        size: Some("m"),
        price_ub: 40,
    };
    let both = Chosen {
        color: Some("red"),
        size: Some("m"),
    };
    let y = tee(&["slim fit", "cotton", "v-neck"], &["red", "blue"], 3999);
    let full = purchase_score(&goal, &y, &both);
    assert_close(full.reward, 1.0);
    assert!(full.success);

    // The bound is inclusive: $40.00 passes, $40.01 does not.
    assert!(purchase_score(&goal, &tee(&["cotton", "slim fit"], &["red"], 4000), &both).success);
    let dear = purchase_score(&goal, &tee(&["cotton", "slim fit"], &["red"], 4001), &both);
    assert_close(dear.reward, 4.0 / 5.0);
    assert!(!dear.success);

    // Options not chosen count as missing; a wrong option counts as missing.
    assert_close(
        purchase_score(&goal, &y, &Chosen::default()).reward,
        3.0 / 5.0,
    );
    let wrong_size = Chosen {
        color: Some("red"),
        size: Some("s"),
    };
    assert_close(purchase_score(&goal, &y, &wrong_size).reward, 4.0 / 5.0);

    // One attribute missing.
    let one_attr = tee(&["cotton", "v-neck"], &["red"], 1000);
    assert_close(purchase_score(&goal, &one_attr, &both).reward, 4.0 / 5.0);

    // Another category: everything else matches, r_type = 0.1, never a success.
    let mut hoodie = y.clone();
    hoodie.category = "hoodie";
    let other = purchase_score(&goal, &hoodie, &both);
    assert_close(other.reward, 0.1);
    assert!(!other.success);
    assert_close(
        purchase_score(&goal, &hoodie, &Chosen::default()).reward,
        0.1 * 3.0 / 5.0,
    );

    // Without sizes the denominator is |U_att| + 1 + 1; a size chosen anyway counts for nothing.
    let mug_goal = Goal {
        category: "mug",
        attrs: vec!["ceramic"],
        color: "navy",
        size: None,
        price_ub: 10,
    };
    let mug = Product {
        category: "mug",
        attrs: vec!["travel", "large"],
        sizes: vec![],
        ..tee(&[], &["navy"], 999)
    };
    let navy = Chosen {
        color: Some("navy"),
        size: None,
    };
    assert_close(purchase_score(&mug_goal, &mug, &navy).reward, 2.0 / 3.0);
}

#[test]
fn buying_pays_the_formula_and_ends_the_episode() {
    // Seed 7's p187 (`double wall insulated mug`, $32.33, not ceramic) bought without a
    // colour: (1 attribute + 0 options + price) / (2 + 1 + 1).
    let mut env = shop(compact());
    env.reset(7);
    let goal = env.goal().expect("reset").clone();
    let p187 = env.product(187).expect("in catalog").clone();
    assert_eq!(goal.attrs, ["ceramic", "double wall"]);
    assert_eq!(p187.attrs, ["double wall", "insulated"]);
    env.step(SEED7_SEARCH);
    env.step("click[next >]");
    env.step("click[p187]");
    let buy = env.step("click[buy now]");
    assert_eq!(
        buy.observation,
        "Thank you for shopping with us. Your score: 0.50"
    );
    assert_close(buy.reward, 0.5);
    assert!(buy.terminated && !buy.truncated && !buy.success && !buy.invalid);
    assert!(buy.info.admissible.is_empty());
    let after = env.step("click[buy now]");
    assert_eq!(after.observation, INVALID_ACTION);
    assert!(after.invalid && after.terminated && after.reward == 0.0);
}

/// Plays the expert after `reset(seed)`; the final step.
fn play_expert(env: &mut MiniShop, seed: u64) -> (usize, polopt_envs::agent::Step) {
    env.reset(seed);
    let actions = env.expert();
    let mut last = None;
    for (i, action) in actions.iter().enumerate() {
        let step = env.step(action);
        assert!(!step.invalid, "seed {seed}: {action}");
        let done = step.terminated || step.truncated;
        last = Some((i + 1, step));
        if done {
            break;
        }
    }
    last.expect("the expert acts")
}

#[test]
fn the_expert_buys_a_perfect_match_on_a_thousand_train_instances() {
    let mut env = shop(Config::default());
    for n in 0..1000 {
        let seed = nth_seed(Split::Train, n);
        let (steps, last) = play_expert(&mut env, seed);
        assert!(steps <= env.horizon());
        assert!(last.terminated && last.success, "seed {seed}");
        assert_close(last.reward, 1.0);
    }
}

#[test]
fn rejection_keeps_instances_solvable_with_a_large_catalog_and_one_result_per_page() {
    // With one result per page the target often ranks below the only visible result, so the
    // generator must redraw; every kept instance is still solved.
    let mut env = shop(Config {
        products: 3000,
        results_per_page: 1,
        ..Config::default()
    });
    for n in 0..300 {
        let seed = nth_seed(Split::Test, n);
        let (_, last) = play_expert(&mut env, seed);
        assert!(last.success, "seed {seed}");
    }
}

fn transcript(env: &mut dyn AgentEnv, seed: u64) -> Vec<String> {
    let mut out = vec![env.reset(seed).observation];
    let mut actions = env.expert();
    actions.insert(1, "click[next >]".into());
    actions.insert(2, "click[< prev]".into());
    for action in actions {
        out.push(env.step(&action).observation);
    }
    out
}

#[test]
fn same_seed_same_episode_and_seeds_differ() {
    let mut a = shop(Config::default());
    let mut b = a.boxed_clone();
    let mut c = shop(Config::default());
    for seed in [0, 1, 99, 12345] {
        let t = transcript(&mut a, seed);
        assert_eq!(t, transcript(b.as_mut(), seed));
        assert_eq!(t, transcript(&mut c, seed));
    }
    let instructions: std::collections::HashSet<String> = (0..200)
        .map(|n| a.reset(nth_seed(Split::Train, n)).info.task)
        .collect();
    assert!(instructions.len() >= 195, "{}", instructions.len());
    // Another catalog seed gives another catalog, hence other episodes.
    let mut other = shop(Config {
        catalog_seed: 1,
        ..Config::default()
    });
    assert_ne!(transcript(&mut a, 5), transcript(&mut other, 5));
}

#[test]
fn invalid_actions_cost_a_step_and_change_nothing() {
    let mut env = shop(compact());
    env.reset(7);
    let mut bad_by_page = vec![(
        env.current_page(),
        vec![
            "click[search]",
            "click[p135]",
            "buy",
            "search",
            "search[x",
            "",
        ],
    )];
    env.step(SEED7_SEARCH);
    bad_by_page.push((
        env.current_page(),
        vec![
            "search[mug]",
            "click[< prev]",
            "click[p44]",
            "click[buy now]",
            "click[p0135]",
        ],
    ));
    env.step("click[p135]");
    bad_by_page.push((
        env.current_page(),
        vec![
            "click[red]",
            "click[s]",
            "click[next >]",
            "click[p135]",
            "click [navy]",
        ],
    ));
    env.step("click[description]");
    bad_by_page.push((
        env.current_page(),
        vec!["click[buy now]", "click[back to search]", "click[navy]"],
    ));
    let mut env = shop(compact());
    let path = [SEED7_SEARCH, "click[p135]", "click[description]"];
    for (depth, (page, bad)) in bad_by_page.into_iter().enumerate() {
        for action in bad {
            env.reset(7);
            for a in &path[..depth] {
                env.step(a);
            }
            assert_eq!(env.current_page(), page);
            let step = env.step(action);
            assert_eq!(step.observation, INVALID_ACTION, "{action:?}");
            assert!(step.invalid && !step.terminated && !step.truncated && step.reward == 0.0);
            assert_eq!(env.current_page(), page, "{action:?}");
        }
    }

    // Each invalid action uses a step: 14 of them leave one step, which truncates with 0.
    env.reset(7);
    for i in 1..env.horizon() {
        let step = env.step("click[nothing]");
        assert!(step.invalid && !step.truncated, "step {i}");
    }
    let last = env.step(SEED7_SEARCH);
    assert!(!last.invalid && last.truncated && !last.terminated && last.reward == 0.0);
    let after = env.step("click[back to search]");
    assert!(after.invalid && after.truncated);

    // A buy on the last step terminates rather than truncates.
    env.reset(7);
    for _ in 0..env.horizon() - 4 {
        env.step("noop");
    }
    for action in [SEED7_SEARCH, "click[p135]", "click[navy]", "click[buy now]"] {
        let step = env.step(action);
        if action == "click[buy now]" {
            assert!(step.terminated && !step.truncated && step.success);
        }
    }
}

#[test]
fn admissible_actions_are_exactly_the_valid_ones() {
    let mut env = shop(compact());
    let reset = env.reset(7);
    assert_eq!(reset.info.admissible, ["search[...]"]);
    let results = env.step(SEED7_SEARCH);
    assert_eq!(
        results.info.admissible,
        [
            "click[back to search]",
            "click[next >]",
            "click[p135]",
            "click[p226]",
            "click[p88]"
        ]
    );
    let item = env.step("click[p226]");
    assert_eq!(
        item.info.admissible,
        [
            "click[back to search]",
            "click[< prev]",
            "click[white]",
            "click[green]",
            "click[gray]",
            "click[navy]",
            "click[description]",
            "click[buy now]"
        ]
    );
    // Each admissible click is valid from this page.
    for action in &item.info.admissible {
        env.reset(7);
        env.step(SEED7_SEARCH);
        env.step("click[p226]");
        assert!(!env.step(action).invalid, "{action}");
    }
}

fn allowed(c: char) -> bool {
    CHARSET.contains(c) || AGENT_EXTRA_CHARS.contains(c)
}

/// A random string over printable ASCII, a few non-ASCII characters and the env's own syntax.
fn random_text(rng: &mut ChaCha8Rng) -> String {
    const PIECES: [&str; 12] = [
        "search[", "click[", "]", "[", "buy now", "next >", "< prev", "p1", "\n", " ", "é", "🛒",
    ];
    let mut s = String::new();
    for _ in 0..below(rng, 8) {
        if below(rng, 2) == 0 {
            s.push_str(PIECES[below(rng, PIECES.len() as u64) as usize]);
        } else {
            s.push(char::from(32 + below(rng, 95) as u8));
        }
    }
    s
}

#[test]
fn random_text_never_panics_and_rendered_text_stays_in_the_charset() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut env = shop(compact());
    let before_reset = env.step("click[buy now]");
    assert!(before_reset.invalid);
    for n in 0..300 {
        let seed = nth_seed(Split::Train, n);
        let reset = env.reset(seed);
        let mut admissible = reset.info.admissible;
        let mut texts = vec![reset.observation, reset.info.task];
        texts.extend(env.expert());
        loop {
            // Mostly admissible moves (the search box gets the instruction or random words),
            // sometimes random text.
            let step = if below(&mut rng, 4) == 0 {
                env.step(&random_text(&mut rng))
            } else {
                let pick = admissible[below(&mut rng, admissible.len() as u64) as usize].clone();
                let action = if pick == "search[...]" {
                    [
                        "search[mug]",
                        "search[]",
                        "search[cotton hoodie]",
                        "search[red]",
                    ][below(&mut rng, 4) as usize]
                        .to_string()
                } else {
                    pick
                };
                texts.push(action.clone());
                env.step(&action)
            };
            assert!((0.0..=1.0).contains(&step.reward));
            texts.push(step.observation);
            texts.extend(step.info.admissible.iter().cloned());
            admissible = step.info.admissible;
            if step.terminated || step.truncated {
                break;
            }
        }
        for t in texts {
            assert!(t.chars().all(allowed), "{t:?}");
        }
    }
}

#[test]
fn configs_parse_with_defaults_and_name_bad_keys() {
    let env = MiniShop::from_json(&serde_json::Value::Null).expect("defaults");
    assert_eq!(env.name(), NAME);
    assert_eq!(env.horizon(), 15);
    assert_eq!(
        env.config_json(),
        serde_json::json!({"catalog_seed": 0, "products": 300, "results_per_page": 10,
            "max_results": 50, "horizon": 15, "compact_option_clicks": false})
    );
    match MiniShop::from_json(&serde_json::json!({"products": 5})) {
        Err(TaskError::OutOfRange { field, .. }) => assert_eq!(field, "minishop.products"),
        other => panic!("{other:?}"),
    }
    match MiniShop::from_json(&serde_json::json!({"pages": 5})) {
        Err(TaskError::Invalid { field, .. }) => assert_eq!(field, "minishop.pages"),
        other => panic!("{other:?}"),
    }
    match MiniShop::from_json(&serde_json::json!({"results_per_page": 11})) {
        Err(TaskError::OutOfRange { field, .. }) => assert_eq!(field, "minishop.results_per_page"),
        other => panic!("{other:?}"),
    }
}
