//! E2 MiniShop, a WebShop-like shopping site (envs/agent-envs.md, section E2).
//!
//! The agent reads an instruction such as
//! `i need a cotton and slim fit t-shirt in red, size m, and price lower than 40 dollars`,
//! searches a product catalog, opens items, picks options and buys. Buying scores WebShop's
//! formula with a simplified type term:
//!
//! ```text
//! r = r_type · (|U_att ∩ Y_att| + |U_opt ∩ Y_opt| + 1[price(y) ≤ price_ub]) / (|U_att| + |U_opt| + 1)
//! r_type = 1 if category(y) == category(p*) else 0.1
//! ```
//!
//! (U: the requested attributes and options; Y: the bought product's attributes and the options
//! chosen on its page, an option not chosen counting as missing.) Success means r == 1;
//! reaching the horizon (15 steps) without buying scores 0.
//!
//! Per config (built once, shared by every `boxed_clone` through an `Arc`): the catalog of
//! `products` items drawn from `catalog_seed` (category, 2–4 attributes, 2–4 colours, 2–4 sizes
//! for clothes and shoes, a price in cents, a brand from 40 generated names), its titles
//! `"{brand} {attr1} {attr2} {category}"` and the BM25 index over title plus attributes.
//! Per instance (`reset(seed)`): the target product, its colour and size, 1–3 of its attributes
//! and `price_ub = ceil(price · f)` with `f` uniform on the grid `1.100, 1.101, ..., 1.600`.
//!
//! Expert: `search[{instruction}]`, then the result of page 1 (the spec's top 10, or
//! `results_per_page`) with the highest score it can reach (first on ties), the requested
//! options it offers, `buy now`: at most 5 steps.
//!
//! Generator rejection: page 1 for the instruction does not always hold a product that can
//! score 1 (the target may rank lower). Such draws are rejected and redrawn from the same
//! seed's stream, so the expert solves every instance; which instance a seed gives therefore
//! also depends on `results_per_page` and `max_results`. Rejections are rare at the defaults
//! (0.5% of draws) and common only for big catalogs with short pages (3,000 products, one
//! result per page: 3.1 draws per instance on average, 21 at most over 2,000 seeds). After
//! [`MAX_DRAWS`] draws the last one is kept; that was never reached.
//!
//! Pages, as the spec renders them (buttons in `[...]`, clicked by their lower-cased text):
//! - search: `[Search]` (the first observation adds `Instruction: {instruction}` above it);
//! - results: `Page {k} (Total results: {n})`, `[Back to Search]`, `[< Prev]` (from page 2 on),
//!   `[Next >]` (while there is a next page), then `[{id}] {title} ${price}` per result, up to
//!   `results_per_page` of the top `max_results` BM25 hits;
//! - item: `[Back to Search]`, `[< Prev]` (back to the results page), title, `Price: ${price}`,
//!   `color: [red] [blue]`, `size: [s] [m]` (sized categories only), `[Description] [Buy Now]`;
//! - description: `Features: {attributes}.` and `[< Prev]` (back to the item, options kept).
//!
//! Options chosen on an item page are not marked on it (WebShop's text pages do not either);
//! the agent's own actions in the trajectory say what it chose. Clicking an option shows the
//! item page again, or with `compact_option_clicks` just `Selected color: red.`; with that and
//! `results_per_page = 5` an expert episode takes at most about 860 characters (1,400 at the
//! defaults).
//! The buy click answers `Thank you for shopping with us. Your score: {r:.2}`.
use std::fmt::{self, Write};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

mod catalog;

use catalog::Catalog;
pub use catalog::{Product, COLORS, SIZES};

use super::{normalize_action, AgentEnv, Info, Reset, Step};
use crate::text::draw::{below, between, shuffle};
use crate::text::{check_range, parse_config, TaskError};

pub const NAME: &str = "minishop";

/// The observation of an invalid action.
pub const INVALID_ACTION: &str = "Invalid action.";

/// Instance draws before the generator keeps a draw the expert cannot solve.
pub const MAX_DRAWS: usize = 1000;

/// What `info.admissible` lists for the search box, whose text is free.
pub const SEARCH_TEMPLATE: &str = "search[...]";

/// Knobs of MiniShop (spec defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seed of the catalog; instances are drawn from it by the reset seed.
    pub catalog_seed: u64,
    /// Products in the catalog (12..=3000; the spec's range is 300..3000).
    pub products: usize,
    /// Results shown per results page (1..=10); fewer keeps observations short.
    pub results_per_page: usize,
    /// BM25 hits a search returns (1..=100; the spec's top 50).
    pub max_results: usize,
    /// Steps after which the episode is truncated with reward 0 (5..=100).
    pub horizon: usize,
    /// Answer an option click with `Selected {name}: {value}.` instead of the whole item page
    /// again (off in the spec; on saves about 150 characters per option for tiny contexts).
    pub compact_option_clicks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            catalog_seed: 0,
            products: 300,
            results_per_page: 10,
            max_results: 50,
            horizon: 15,
            compact_option_clicks: false,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("minishop.products", self.products, 12, 3000)?;
        check_range("minishop.results_per_page", self.results_per_page, 1, 10)?;
        check_range("minishop.max_results", self.max_results, 1, 100)?;
        // The expert needs 5 steps: search, item, colour, size, buy.
        check_range("minishop.horizon", self.horizon, 5, 100)
    }
}

/// What the instruction asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub category: &'static str,
    pub attrs: Vec<&'static str>,
    pub color: &'static str,
    /// `None` for categories without sizes.
    pub size: Option<&'static str>,
    /// Whole dollars; a price at most this matches.
    pub price_ub: u32,
}

/// The options chosen on an item page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Chosen {
    pub color: Option<&'static str>,
    pub size: Option<&'static str>,
}

/// The outcome of a purchase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub reward: f64,
    /// r == 1: right category and every attribute, option and the price bound matched.
    pub success: bool,
}

/// The spec's reward of buying `product` with options `chosen` for `goal` (module doc).
pub fn purchase_score(goal: &Goal, product: &Product, chosen: &Chosen) -> Score {
    let attrs_hit = goal
        .attrs
        .iter()
        .filter(|a| product.attrs.contains(a))
        .count();
    let color_hit = usize::from(chosen.color == Some(goal.color));
    let size_hit = usize::from(goal.size.is_some() && chosen.size == goal.size);
    let price_hit = usize::from(u64::from(product.price_cents) <= u64::from(goal.price_ub) * 100);
    let options = 1 + usize::from(goal.size.is_some());
    let hits = attrs_hit + color_hit + size_hit + price_hit;
    let total = goal.attrs.len() + options + 1;
    let same_type = product.category == goal.category;
    let r_type = if same_type { 1.0 } else { 0.1 };
    Score {
        reward: r_type * hits as f64 / total as f64,
        success: same_type && hits == total,
    }
}

/// The options the expert clicks on `product`: the requested ones it offers.
fn best_options(goal: &Goal, product: &Product) -> Chosen {
    Chosen {
        color: product.colors.contains(&goal.color).then_some(goal.color),
        size: goal.size.filter(|s| product.sizes.contains(s)),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn natural_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// One generated task: per instance seed.
#[derive(Debug, Clone)]
struct Instance {
    target: usize,
    goal: Goal,
    instruction: String,
    /// BM25 hits for the instruction itself (the expert's search), cached.
    hits: Vec<usize>,
    /// The result of page 1 the expert buys.
    expert_pick: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Page {
    Search,
    /// `page` counts from 0.
    Results {
        page: usize,
    },
    Item {
        product: usize,
        page: usize,
    },
    Description {
        product: usize,
        page: usize,
    },
}

/// What a valid click does.
enum Move {
    ToSearch,
    ToResults(usize),
    ToItem(usize),
    ToDescription,
    BackToItem,
    Color(&'static str),
    Size(&'static str),
    Buy,
}

#[derive(Debug, Clone)]
struct Episode {
    instance: Instance,
    page: Page,
    results: Vec<usize>,
    chosen: Chosen,
    steps: usize,
    terminated: bool,
    truncated: bool,
}

/// The MiniShop environment; see the module doc.
#[derive(Debug, Clone)]
pub struct MiniShop {
    config: Config,
    catalog: Arc<Catalog>,
    episode: Option<Episode>,
}

impl MiniShop {
    pub fn new(config: Config) -> Result<Self, TaskError> {
        config.validate()?;
        let catalog = Arc::new(Catalog::generate(config.catalog_seed, config.products));
        Ok(MiniShop {
            config,
            catalog,
            episode: None,
        })
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self, TaskError> {
        Self::new(parse_config(NAME, value)?)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The catalog item with index `index` (its id is `p{index}`).
    pub fn product(&self, index: usize) -> Option<&Product> {
        self.catalog.products.get(index)
    }

    /// The goal of the last reset.
    pub fn goal(&self) -> Option<&Goal> {
        self.episode.as_ref().map(|e| &e.instance.goal)
    }

    /// The catalog index of the product the last reset's instruction was drawn from.
    pub fn target(&self) -> Option<usize> {
        self.episode.as_ref().map(|e| e.instance.target)
    }

    /// The current page as it would be rendered now (empty before the first reset).
    pub fn current_page(&self) -> String {
        self.episode
            .as_ref()
            .map_or_else(String::new, |e| self.render(e))
    }

    /// Draws one candidate instance: target, colour, size, attribute subset (1–3 of the
    /// target's, shuffled), price factor in thousandths.
    fn draw_candidate(&self, rng: &mut ChaCha8Rng) -> Instance {
        let products = &self.catalog.products;
        let target = below(rng, products.len() as u64) as usize;
        let p = &products[target];
        let color = p.colors[below(rng, p.colors.len() as u64) as usize];
        let size =
            (!p.sizes.is_empty()).then(|| p.sizes[below(rng, p.sizes.len() as u64) as usize]);
        let mut attrs = p.attrs.clone();
        shuffle(rng, &mut attrs);
        attrs.truncate(between(rng, 1, attrs.len().min(3) as u64) as usize);
        let factor_milli = between(rng, 1100, 1600);
        let price_ub = (u64::from(p.price_cents) * factor_milli).div_ceil(100_000) as u32;
        let size_text = size.map_or_else(String::new, |s| format!(" size {s},"));
        let instruction = format!(
            "i need a {} {} in {color},{size_text} and price lower than {price_ub} dollars",
            natural_list(&attrs),
            p.category
        );
        let goal = Goal {
            category: p.category,
            attrs,
            color,
            size,
            price_ub,
        };
        let hits: Vec<usize> = self
            .catalog
            .index
            .search(&instruction, self.config.max_results)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let first_page = &hits[..hits.len().min(self.config.results_per_page)];
        let expert_pick = first_page
            .iter()
            .copied()
            .map(|i| {
                let y = &products[i];
                (i, purchase_score(&goal, y, &best_options(&goal, y)).reward)
            })
            .fold(None, |best: Option<(usize, f64)>, (i, r)| match best {
                Some((_, b)) if b >= r => best,
                _ => Some((i, r)),
            })
            .map(|(i, _)| i);
        Instance {
            target,
            goal,
            instruction,
            hits,
            expert_pick,
        }
    }

    fn solvable(&self, instance: &Instance) -> bool {
        instance.expert_pick.is_some_and(|i| {
            let y = &self.catalog.products[i];
            purchase_score(&instance.goal, y, &best_options(&instance.goal, y)).success
        })
    }

    fn draw_instance(&self, seed: u64) -> Instance {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut instance = self.draw_candidate(&mut rng);
        for _ in 1..MAX_DRAWS {
            if self.solvable(&instance) {
                break;
            }
            instance = self.draw_candidate(&mut rng);
        }
        instance
    }

    fn pages(&self, results: usize) -> usize {
        results.div_ceil(self.config.results_per_page)
    }

    // Pages are written into one buffer with `write!`, which cannot fail on a `String`: this
    // runs on most steps, and per-line `format!` allocations showed in the throughput.
    fn render(&self, e: &Episode) -> String {
        let products = &self.catalog.products;
        let mut out = String::with_capacity(512);
        match e.page {
            Page::Search => out.push_str("[Search]"),
            Page::Results { page } => {
                let _ = write!(
                    out,
                    "Page {} (Total results: {})\n[Back to Search]",
                    page + 1,
                    e.results.len()
                );
                if page > 0 {
                    out.push_str("\n[< Prev]");
                }
                if page + 1 < self.pages(e.results.len()) {
                    out.push_str("\n[Next >]");
                }
                for &i in self.on_page(e, page) {
                    let p = &products[i];
                    let _ = write!(out, "\n[{}] {} ${}", p.id, p.title, Dollars(p.price_cents));
                }
            }
            Page::Item { product, .. } => {
                let p = &products[product];
                let _ = write!(
                    out,
                    "[Back to Search]\n[< Prev]\n{}\nPrice: ${}\ncolor:",
                    p.title,
                    Dollars(p.price_cents)
                );
                for c in &p.colors {
                    let _ = write!(out, " [{c}]");
                }
                if !p.sizes.is_empty() {
                    out.push_str("\nsize:");
                    for s in &p.sizes {
                        let _ = write!(out, " [{s}]");
                    }
                }
                out.push_str("\n[Description] [Buy Now]");
            }
            Page::Description { product, .. } => {
                let _ = write!(
                    out,
                    "Features: {}.\n[< Prev]",
                    products[product].attrs.join(", ")
                );
            }
        }
        out
    }

    fn on_page<'e>(&self, e: &'e Episode, page: usize) -> &'e [usize] {
        let per = self.config.results_per_page;
        let start = (page * per).min(e.results.len());
        &e.results[start..(start + per).min(e.results.len())]
    }

    /// The actions valid on the current page, buttons in the order the page shows them.
    fn admissible(&self, e: &Episode) -> Vec<String> {
        if e.terminated || e.truncated {
            return Vec::new();
        }
        let click = |b: &str| format!("click[{b}]");
        let products = &self.catalog.products;
        match e.page {
            Page::Search => vec![SEARCH_TEMPLATE.to_string()],
            Page::Results { page } => {
                let mut out = vec![click("back to search")];
                if page > 0 {
                    out.push(click("< prev"));
                }
                if page + 1 < self.pages(e.results.len()) {
                    out.push(click("next >"));
                }
                out.extend(
                    self.on_page(e, page)
                        .iter()
                        .map(|&i| click(&products[i].id)),
                );
                out
            }
            Page::Item { product, .. } => {
                let p = &products[product];
                let mut out = vec![click("back to search"), click("< prev")];
                out.extend(p.colors.iter().chain(&p.sizes).map(|v| click(v)));
                out.push(click("description"));
                out.push(click("buy now"));
                out
            }
            Page::Description { .. } => vec![click("< prev")],
        }
    }

    /// What clicking `label` does on the current page, if it is a visible button.
    fn resolve_click(&self, e: &Episode, label: &str) -> Option<Move> {
        let products = &self.catalog.products;
        match e.page {
            Page::Search => None,
            Page::Results { page } => match label {
                "back to search" => Some(Move::ToSearch),
                "< prev" if page > 0 => Some(Move::ToResults(page - 1)),
                "next >" if page + 1 < self.pages(e.results.len()) => {
                    Some(Move::ToResults(page + 1))
                }
                _ => self
                    .on_page(e, page)
                    .iter()
                    .find(|&&i| products[i].id == label)
                    .map(|&i| Move::ToItem(i)),
            },
            Page::Item { product, page } => {
                let p = &products[product];
                match label {
                    "back to search" => Some(Move::ToSearch),
                    "< prev" => Some(Move::ToResults(page)),
                    "description" => Some(Move::ToDescription),
                    "buy now" => Some(Move::Buy),
                    _ => {
                        if let Some(&c) = p.colors.iter().find(|&&c| c == label) {
                            Some(Move::Color(c))
                        } else {
                            p.sizes
                                .iter()
                                .find(|&&s| s == label)
                                .map(|&s| Move::Size(s))
                        }
                    }
                }
            }
            Page::Description { .. } => (label == "< prev").then_some(Move::BackToItem),
        }
    }

    fn info(&self, e: &Episode) -> Info {
        Info {
            admissible: self.admissible(e),
            task: e.instance.instruction.clone(),
        }
    }
}

/// Cents printed as dollars: `1234` as `12.34`.
struct Dollars(u32);

impl fmt::Display for Dollars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

fn invalid_step(info: Info, terminated: bool, truncated: bool) -> Step {
    Step {
        observation: INVALID_ACTION.to_string(),
        reward: 0.0,
        terminated,
        truncated,
        invalid: true,
        success: false,
        info,
    }
}

impl AgentEnv for MiniShop {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn horizon(&self) -> usize {
        self.config.horizon
    }

    fn reset(&mut self, seed: u64) -> Reset {
        let instance = self.draw_instance(seed);
        let observation = format!("Instruction: {}\n[Search]", instance.instruction);
        let episode = Episode {
            instance,
            page: Page::Search,
            results: Vec::new(),
            chosen: Chosen::default(),
            steps: 0,
            terminated: false,
            truncated: false,
        };
        let info = self.info(&episode);
        self.episode = Some(episode);
        Reset { observation, info }
    }

    /// After the end of an episode (or before any reset) every action is invalid, uses no
    /// step and repeats the end flags.
    fn step(&mut self, action: &str) -> Step {
        let action = normalize_action(action, self.action_stops());
        let Some(mut e) = self.episode.take() else {
            return invalid_step(Info::default(), false, false);
        };
        if e.terminated || e.truncated {
            let step = invalid_step(self.info(&e), e.terminated, e.truncated);
            self.episode = Some(e);
            return step;
        }
        e.steps += 1;
        let mut step = Step {
            observation: String::new(),
            reward: 0.0,
            terminated: false,
            truncated: false,
            invalid: false,
            success: false,
            info: Info::default(),
        };
        let query = action
            .strip_prefix("search[")
            .and_then(|q| q.strip_suffix(']'));
        let click = action
            .strip_prefix("click[")
            .and_then(|b| b.strip_suffix(']'));
        let outcome = match (query, click) {
            (Some(q), _) if e.page == Page::Search => {
                e.results = if q == e.instance.instruction {
                    e.instance.hits.clone()
                } else {
                    let hits = self.catalog.index.search(q, self.config.max_results);
                    hits.into_iter().map(|(d, _)| d).collect()
                };
                e.page = Page::Results { page: 0 };
                true
            }
            (_, Some(label)) => match self.resolve_click(&e, label) {
                None => false,
                Some(Move::Buy) => {
                    if let Page::Item { product, .. } = e.page {
                        let y = &self.catalog.products[product];
                        let score = purchase_score(&e.instance.goal, y, &e.chosen);
                        step.reward = score.reward;
                        step.success = score.success;
                        step.terminated = true;
                        e.terminated = true;
                        step.observation = format!(
                            "Thank you for shopping with us. Your score: {:.2}",
                            score.reward
                        );
                    }
                    true
                }
                Some(m) => {
                    if self.config.compact_option_clicks {
                        step.observation = match m {
                            Move::Color(c) => format!("Selected color: {c}."),
                            Move::Size(s) => format!("Selected size: {s}."),
                            _ => String::new(),
                        };
                    }
                    apply(&mut e, m);
                    true
                }
            },
            _ => false,
        };
        if !outcome {
            step.invalid = true;
            step.observation = INVALID_ACTION.to_string();
        } else if step.observation.is_empty() {
            step.observation = self.render(&e);
        }
        if !step.terminated && e.steps >= self.config.horizon {
            step.truncated = true;
            e.truncated = true;
        }
        step.info = self.info(&e);
        self.episode = Some(e);
        step
    }

    /// `search[{instruction}]`, the best of page 1 by the score it can reach, its requested
    /// options that it offers, `buy now`.
    fn expert(&self) -> Vec<String> {
        let Some(e) = &self.episode else {
            return Vec::new();
        };
        let mut actions = vec![format!("search[{}]", e.instance.instruction)];
        if let Some(pick) = e.instance.expert_pick {
            let y = &self.catalog.products[pick];
            let chosen = best_options(&e.instance.goal, y);
            actions.push(format!("click[{}]", y.id));
            actions.extend(
                chosen
                    .color
                    .iter()
                    .chain(&chosen.size)
                    .map(|v| format!("click[{v}]")),
            );
            actions.push("click[buy now]".to_string());
        }
        actions
    }

    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(MiniShop {
            config: self.config.clone(),
            catalog: Arc::clone(&self.catalog),
            episode: None,
        })
    }
}

fn apply(e: &mut Episode, m: Move) {
    match (m, e.page) {
        (Move::ToSearch, _) => e.page = Page::Search,
        (Move::ToResults(page), _) => e.page = Page::Results { page },
        (Move::ToItem(product), Page::Results { page }) => {
            e.page = Page::Item { product, page };
            e.chosen = Chosen::default();
        }
        (Move::ToDescription, Page::Item { product, page }) => {
            e.page = Page::Description { product, page }
        }
        (Move::BackToItem, Page::Description { product, page }) => {
            e.page = Page::Item { product, page }
        }
        (Move::Color(c), _) => e.chosen.color = Some(c),
        (Move::Size(s), _) => e.chosen.size = Some(s),
        // resolve_click only yields moves that fit the page.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        assert_eq!(natural_list(&["a"]), "a");
        assert_eq!(natural_list(&["a", "b"]), "a and b");
        assert_eq!(natural_list(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn prices_print_with_two_decimals() {
        assert_eq!(Dollars(500).to_string(), "5.00");
        assert_eq!(Dollars(12_007).to_string(), "120.07");
    }

    #[test]
    fn unsolvable_draws_are_redrawn_from_the_same_stream() {
        let env = MiniShop::new(Config {
            products: 3000,
            results_per_page: 1,
            ..Config::default()
        })
        .expect("valid");
        let mut redrawn = 0;
        for seed in 0..100 {
            let first = env.draw_candidate(&mut ChaCha8Rng::seed_from_u64(seed));
            let kept = env.draw_instance(seed);
            assert!(env.solvable(&kept), "seed {seed}");
            if !env.solvable(&first) {
                redrawn += 1;
                assert_ne!(first.instruction, kept.instruction);
            }
        }
        assert!(redrawn > 10, "{redrawn}");
    }
}
