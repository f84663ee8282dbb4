//! E3 SearchQA (agent-envs.md): Search-R1-like multi-hop question answering over a synthetic
//! corpus with a BM25 retriever.
//!
//! **Per config** (built once in [`SearchQa::new`] and shared through an `Arc` by every
//! [`AgentEnv::boxed_clone`]): the knowledge base of fictional entities (names from a syllable
//! generator, so no pretrained knowledge helps), one document per entity, near-duplicate
//! distractor documents (`distractor_frac` of the real ones), the BM25 index, and every question
//! the expert can solve, split into train/validation/test pools by a hash of its text (the seeds'
//! 80/10/10 rule), so a test question is never a training question.
//!
//! **Per instance** ([`AgentEnv::reset`]): `ChaCha8Rng::seed_from_u64(seed)` draws, in order, the
//! hop group by `mixture` (1-hop, 2-hop, 3-hop, comparison; one `next_u64`), then the question
//! uniformly among the group's questions in the seed's split (both 2-hop templates pooled).
//! Questions the expert cannot solve (a hop's document not in its query's top-k, or too many
//! searches, turns or characters) were dropped from the pools when the world was built: the
//! spec's reject-and-redraw, made deterministic and paid once per config. Entity names are
//! unique words, so the expert's queries (entity names, `{city} headquarters`) find their
//! documents: at the defaults hardly any question is dropped.
//!
//! **Protocol.** The action is the turn text cut after the first `</search>` or `</answer>`
//! ([`STOPS`], tag kept), lower-cased and whitespace-normalised. `... <search>q</search>` runs a
//! search with `q` (the text after the last `<search>`; anything before it is free thought):
//! `<information>[1] {title}: {text} [2] ...</information>`, the `top_k` best BM25 documents, each
//! text cut to `doc_chars` characters. After `max_searches` searches a search gets
//! [`SEARCH_LIMIT_MESSAGE`] (invalid: nothing changes). `... <answer>x</answer>` ends the episode
//! with reward `EM(x, gold)` ([`exact_match`]) and an empty observation. Any other text is
//! invalid ([`INVALID_MESSAGE`]). Every turn counts; the episode is truncated after `max_turns`
//! turns or once the actions total `max_action_chars` characters.
//!
//! **Shaping** (`shaping`, off by default and meant to stay off in evaluation): a search pays
//! `lambda * (newly retrieved gold documents) / |gold|`, or `-lambda / 2` when it retrieves no
//! new document at all. The spec pays shaping "only when the answer also has the correct
//! format"; rewards are per step, so shaping is paid as it is earned, and when the episode ends
//! without a well-formed answer (`<answer>` with non-empty text) the last step takes all of it
//! back. The episode total is therefore `EM + shaping` after a well-formed answer and `0`
//! otherwise.
//!
//! Map: this file holds the config, the protocol and the episode state; `searchqa/kb.rs`
//! builds the knowledge base, corpus and index; `searchqa/questions.rs` the question pools with
//! their gold sets and expert plans.
mod kb;
mod questions;

use std::fmt::Write as _;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use kb::{Doc, EntityKind};
pub use questions::{question_split, Question, QuestionKind};

use super::bm25::Bm25;
use super::{normalize_action, split_of_seed, AgentEnv, Info, Reset, Step};
use crate::text::draw::below;
use crate::text::{check_range, out_of_range, parse_config, Split, TaskError};

pub const NAME: &str = "searchqa";
/// Where an action ends: the closing tags, which stay in the action.
pub const STOPS: &[&str] = &["</search>", "</answer>"];
pub const INVALID_MESSAGE: &str =
    "Invalid action. Use <search>query</search> or <answer>text</answer>.";
pub const SEARCH_LIMIT_MESSAGE: &str = "<information>Search limit reached.</information>";
/// A search whose query matches no document (an empty query, or only unknown words).
pub const NO_RESULTS_MESSAGE: &str = "<information>No results.</information>";
/// The observation of a step taken with no episode running.
pub const EPISODE_OVER_MESSAGE: &str = "The episode is over.";

/// Knobs of SearchQA; the defaults are the spec's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seed of the knowledge base, corpus and question pools (not of the instances).
    pub kb_seed: u64,
    pub persons: usize,
    pub cities: usize,
    pub countries: usize,
    pub companies: usize,
    pub universities: usize,
    /// Distractor documents per real document (near-duplicate names, invented facts).
    pub distractor_frac: f64,
    /// Weights of the 1-hop, 2-hop, 3-hop and comparison questions.
    pub mixture: [f64; 4],
    /// Documents returned by a search.
    pub top_k: usize,
    /// Characters of a document's text shown in a search result.
    pub doc_chars: usize,
    pub max_searches: usize,
    /// Turns of an episode (the horizon).
    pub max_turns: usize,
    /// Characters of all actions together after which the episode is truncated.
    pub max_action_chars: usize,
    /// Information-gain shaping (see the module doc).
    pub shaping: bool,
    pub shaping_lambda: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kb_seed: 0,
            persons: 300,
            cities: 80,
            countries: 20,
            companies: 120,
            universities: 40,
            distractor_frac: 0.2,
            mixture: [0.3, 0.4, 0.2, 0.1],
            top_k: 3,
            doc_chars: 200,
            max_searches: 4,
            max_turns: 6,
            max_action_chars: 1024,
            shaping: false,
            shaping_lambda: 0.1,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("searchqa.persons", self.persons, 1, 5000)?;
        check_range("searchqa.countries", self.countries, 1, 500)?;
        check_range("searchqa.cities", self.cities, self.countries, 2000)?;
        check_range("searchqa.companies", self.companies, 0, 2000)?;
        check_range("searchqa.universities", self.universities, 1, 500)?;
        if !(0.0..=1.0).contains(&self.distractor_frac) {
            return Err(out_of_range(
                "searchqa.distractor_frac",
                "in [0, 1]",
                self.distractor_frac,
            ));
        }
        if self.mixture.iter().any(|w| !w.is_finite() || *w < 0.0)
            || self.mixture.iter().sum::<f64>() <= 0.0
        {
            return Err(out_of_range(
                "searchqa.mixture",
                "four finite weights >= 0 with a positive sum",
                format!("{:?}", self.mixture),
            ));
        }
        check_range("searchqa.top_k", self.top_k, 1, 20)?;
        check_range("searchqa.doc_chars", self.doc_chars, 1, 2000)?;
        check_range("searchqa.max_searches", self.max_searches, 1, 16)?;
        check_range("searchqa.max_turns", self.max_turns, 2, 32)?;
        check_range(
            "searchqa.max_action_chars",
            self.max_action_chars,
            32,
            100_000,
        )?;
        if !(0.0..=1.0).contains(&self.shaping_lambda) {
            return Err(out_of_range(
                "searchqa.shaping_lambda",
                "in [0, 1]",
                self.shaping_lambda,
            ));
        }
        Ok(())
    }
}

/// Everything shared by the copies of one env.
#[derive(Debug)]
struct World {
    docs: Vec<Doc>,
    index: Bm25,
    questions: Vec<Question>,
    /// `pools[kind][split]`: indices into `questions` (kind in [`QuestionKind::ALL`] order,
    /// split in [`Split::ALL`] order).
    pools: [[Vec<u32>; 3]; 5],
}

/// SQuAD's answer normalisation: lower-case, drop punctuation, drop the articles a/an/the,
/// collapse whitespace.
pub fn normalize_answer(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    lowered
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Exact match after [`normalize_answer`].
pub fn exact_match(prediction: &str, gold: &str) -> bool {
    normalize_answer(prediction) == normalize_answer(gold)
}

/// What a normalised action asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command<'a> {
    Search(&'a str),
    Answer(&'a str),
    Unparsable,
}

/// The action must end with a closing tag and hold its opening tag; the body is the text
/// between the last opening tag and the end.
fn parse_command(action: &str) -> Command<'_> {
    let body = |close: &str, open: &str| {
        let head = action.strip_suffix(close)?;
        let at = head.rfind(open)?;
        Some(head[at + open.len()..].trim())
    };
    if let Some(q) = body("</search>", "<search>") {
        Command::Search(q)
    } else if let Some(a) = body("</answer>", "<answer>") {
        Command::Answer(a)
    } else {
        Command::Unparsable
    }
}

/// The SearchQA environment; see the module doc.
#[derive(Debug, Clone)]
pub struct SearchQa {
    config: Config,
    world: Arc<World>,
    /// The question of the running or last episode (index into `world.questions`).
    question: Option<usize>,
    turns: usize,
    searches: usize,
    action_chars: usize,
    /// Every document any search of this episode returned, in first-retrieval order.
    retrieved: Vec<usize>,
    /// Shaping paid so far this episode, net of a take-back.
    shaping_paid: f64,
    terminated: bool,
    truncated: bool,
}

impl SearchQa {
    /// An environment over a built world, before any reset (clones share the world).
    fn over(config: Config, world: Arc<World>) -> Self {
        SearchQa {
            config,
            world,
            question: None,
            turns: 0,
            searches: 0,
            action_chars: 0,
            retrieved: Vec::new(),
            shaping_paid: 0.0,
            terminated: false,
            truncated: false,
        }
    }

    /// Builds the world of `config` (a fraction of a second at the defaults). Fails on a knob out
    /// of range, or when a question group with positive weight has no solvable question in some
    /// split.
    pub fn new(config: Config) -> Result<Self, TaskError> {
        config.validate()?;
        let kb = kb::build(&config);
        let (questions, pools) = questions::build(&kb, &config);
        let world = World {
            docs: kb.docs,
            index: kb.index,
            questions,
            pools,
        };
        for (group, weight) in config.mixture.iter().enumerate() {
            if *weight <= 0.0 {
                continue;
            }
            for (s, split) in Split::ALL.iter().enumerate() {
                let available: usize = QuestionKind::ALL
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.group() == group)
                    .map(|(k, _)| world.pools[k][s].len())
                    .sum();
                if available == 0 {
                    return Err(TaskError::Invalid {
                        field: format!("searchqa.mixture[{group}]"),
                        message: format!(
                            "no solvable question of this group in the {split} split; raise the \
                             entity counts, top_k, max_searches or max_turns, or set its weight \
                             to 0"
                        ),
                    });
                }
            }
        }
        Ok(SearchQa::over(config, Arc::new(world)))
    }

    pub fn from_json(config: &serde_json::Value) -> Result<Self, TaskError> {
        Self::new(parse_config(NAME, config)?)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The corpus, in index order (document ids are positions here).
    pub fn docs(&self) -> &[Doc] {
        &self.world.docs
    }

    /// The ids of the `top_k` documents BM25 ranks best for `query`, best first.
    pub fn retrieve(&self, query: &str) -> Vec<usize> {
        self.world
            .index
            .search(query, self.config.top_k)
            .into_iter()
            .map(|h| h.0)
            .collect()
    }

    /// The question of the last reset.
    pub fn question(&self) -> Option<&Question> {
        self.question.map(|q| &self.world.questions[q])
    }

    /// The gold supporting documents of the last reset's question, ascending.
    pub fn gold_docs(&self) -> &[usize] {
        self.question().map_or(&[], |q| &q.gold)
    }

    /// The documents this episode's searches returned, in first-retrieval order.
    pub fn retrieved_docs(&self) -> &[usize] {
        &self.retrieved
    }

    /// The gold documents among [`Self::retrieved_docs`].
    pub fn retrieved_gold(&self) -> usize {
        let gold = self.gold_docs();
        self.retrieved.iter().filter(|d| gold.contains(d)).count()
    }

    pub fn searches_used(&self) -> usize {
        self.searches
    }

    /// Shaping paid so far this episode (0 after a take-back).
    pub fn shaping_paid(&self) -> f64 {
        self.shaping_paid
    }

    /// The number of questions in each split's pool (train, validation, test) of `kind`.
    pub fn pool_sizes(&self, kind: QuestionKind) -> [usize; 3] {
        self.world.pools[kind.index()].each_ref().map(Vec::len)
    }

    fn info(&self) -> Info {
        Info {
            admissible: Vec::new(),
            task: self.question().map_or_else(String::new, |q| q.text.clone()),
        }
    }

    fn prompt(&self, question: &str) -> String {
        format!(
            "Answer the question. Search with <search>query</search> (at most {} times), then \
             answer with <answer>text</answer>.\nQuestion: {question}",
            self.config.max_searches
        )
    }

    fn draw_question(&self, seed: u64) -> usize {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let s = questions::split_index(split_of_seed(seed));
        let pools = &self.world.pools;
        let weights = self.config.mixture;
        let total: f64 = weights.iter().sum();
        let unit = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * total;
        let mut group = 3;
        let mut acc = 0.0;
        for (g, w) in weights.iter().enumerate() {
            acc += w;
            if *w > 0.0 && unit < acc {
                group = g;
                break;
            }
        }
        if weights[group] <= 0.0 {
            // Rounding left `unit` past the last positive weight.
            group = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
        }
        // Uniform over the group's questions of the split, so that every split sees the 2-hop
        // templates in the proportion its pool holds them.
        let pools_of_group = || {
            QuestionKind::ALL
                .iter()
                .zip(pools)
                .filter(move |(k, _)| k.group() == group)
                .map(|(_, p)| &p[s])
        };
        let total: usize = pools_of_group().map(Vec::len).sum();
        let mut pick = below(&mut rng, total as u64) as usize;
        for pool in pools_of_group() {
            if pick < pool.len() {
                return pool[pick] as usize;
            }
            pick -= pool.len();
        }
        // `new` proved every positive-weight group non-empty in every split.
        unreachable!("question group {group} has no question in split {s}")
    }

    fn render_hits(&self, hits: &[usize]) -> String {
        if hits.is_empty() {
            return NO_RESULTS_MESSAGE.to_string();
        }
        let mut out = String::from("<information>");
        for (rank, &d) in hits.iter().enumerate() {
            let doc = &self.world.docs[d];
            let text: String = doc.text.chars().take(self.config.doc_chars).collect();
            if rank > 0 {
                out.push(' ');
            }
            let _ = write!(out, "[{}] {}: {}", rank + 1, doc.title, text);
        }
        out.push_str("</information>");
        out
    }

    /// Runs a search; returns the observation and the shaping reward.
    fn search(&mut self, query: &str) -> (String, f64) {
        let hits = self.retrieve(query);
        let gold = self.gold_docs().to_vec();
        let (mut new_docs, mut new_gold) = (0usize, 0usize);
        for &d in &hits {
            if !self.retrieved.contains(&d) {
                self.retrieved.push(d);
                new_docs += 1;
                new_gold += usize::from(gold.contains(&d));
            }
        }
        self.searches += 1;
        let lambda = self.config.shaping_lambda;
        let reward = match (self.config.shaping, new_docs) {
            (false, _) => 0.0,
            (true, 0) => -lambda / 2.0,
            (true, _) => lambda * new_gold as f64 / gold.len().max(1) as f64,
        };
        self.shaping_paid += reward;
        (self.render_hits(&hits), reward)
    }

    /// Takes back the shaping paid so far (the episode ends without a well-formed answer).
    fn take_back_shaping(&mut self) -> f64 {
        std::mem::take(&mut self.shaping_paid)
    }
}

impl AgentEnv for SearchQa {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    fn horizon(&self) -> usize {
        self.config.max_turns
    }

    fn action_stops(&self) -> &'static [&'static str] {
        STOPS
    }

    fn reset(&mut self, seed: u64) -> Reset {
        let q = self.draw_question(seed);
        self.question = Some(q);
        self.turns = 0;
        self.searches = 0;
        self.action_chars = 0;
        self.retrieved.clear();
        self.shaping_paid = 0.0;
        self.terminated = false;
        self.truncated = false;
        Reset {
            observation: self.prompt(&self.world.questions[q].text),
            info: self.info(),
        }
    }

    fn step(&mut self, action: &str) -> Step {
        let running = self.question.is_some() && !self.terminated && !self.truncated;
        if !running {
            return Step {
                observation: EPISODE_OVER_MESSAGE.to_string(),
                reward: 0.0,
                terminated: self.terminated,
                truncated: self.truncated,
                invalid: true,
                success: false,
                info: self.info(),
            };
        }
        let action = normalize_action(action, STOPS);
        self.turns += 1;
        self.action_chars += action.chars().count();
        let (mut reward, mut invalid, mut success) = (0.0, false, false);
        let observation = match parse_command(&action) {
            Command::Search(_) if self.searches >= self.config.max_searches => {
                invalid = true;
                SEARCH_LIMIT_MESSAGE.to_string()
            }
            Command::Search(query) => {
                let (observation, shaping) = self.search(query);
                reward = shaping;
                observation
            }
            Command::Answer(text) => {
                self.terminated = true;
                success = self
                    .question()
                    .is_some_and(|q| exact_match(text, &q.answer));
                reward = f64::from(u8::from(success));
                if text.is_empty() {
                    reward -= self.take_back_shaping();
                }
                String::new()
            }
            Command::Unparsable => {
                invalid = true;
                INVALID_MESSAGE.to_string()
            }
        };
        if !self.terminated
            && (self.turns >= self.config.max_turns
                || self.action_chars >= self.config.max_action_chars)
        {
            self.truncated = true;
            reward -= self.take_back_shaping();
        }
        Step {
            observation,
            reward,
            terminated: self.terminated,
            truncated: self.truncated,
            invalid,
            success,
            info: self.info(),
        }
    }

    fn expert(&self) -> Vec<String> {
        self.question().map_or_else(Vec::new, |q| q.expert.clone())
    }

    fn gold_answer(&self) -> Option<String> {
        self.question().map(|q| q.answer.clone())
    }

    /// IGPO's probe reads the gold answer where the policy would write it.
    fn answer_prefix(&self) -> &'static str {
        "<answer>"
    }

    fn boxed_clone(&self) -> Box<dyn AgentEnv> {
        Box::new(SearchQa::over(self.config.clone(), Arc::clone(&self.world)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_the_last_opening_tag() {
        assert_eq!(
            parse_command("<search> ravelo dunn </search>"),
            Command::Search("ravelo dunn")
        );
        assert_eq!(
            parse_command("i think <search>a</search> no <search>b</search>"),
            Command::Search("b")
        );
        assert_eq!(parse_command("<answer></answer>"), Command::Answer(""));
        assert_eq!(parse_command("<answer>x</search>"), Command::Unparsable);
        assert_eq!(parse_command("<search>x"), Command::Unparsable);
        assert_eq!(parse_command("x</answer>"), Command::Unparsable);
    }
}
