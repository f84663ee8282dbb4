//! SearchQA's questions (agent-envs.md, E3 "Questions"), built once per config: every instance
//! of every template over the knowledge base, each with its gold answer, gold supporting
//! documents and expert actions, kept only when the expert's plan works against the index, and
//! sorted into train/validation/test pools by a hash of the question text.
use std::collections::{HashMap, HashSet};

use super::kb::Kb;
use super::Config;
use crate::agent::bm25::Bm25;
use crate::agent::split_of_seed;
use crate::text::{fnv1a64, Split};

/// The question templates of the spec; the mixture's four groups are
/// 1-hop = [`BornCity`](Self::BornCity), 2-hop = [`BornCountry`](Self::BornCountry) or
/// [`HqFounder`](Self::HqFounder), 3-hop = [`HqCountry`](Self::HqCountry), comparison.
///
/// The gold documents are those holding the facts the answer needs; with the spec's company
/// template (founder and headquarters in one document) a hop count is not a document count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuestionKind {
    /// `Where was {person} born?` Gold: the person. Expert: search the person's name.
    BornCity,
    /// `In which country was {person} born?` Gold: the person, the birthplace. Expert: search
    /// the name, then the city.
    BornCountry,
    /// `Who founded the company headquartered in {city}?` (asked only for cities where exactly
    /// one document, distractors included, places a headquarters). Gold: the company. Expert:
    /// search `{city} headquarters`.
    HqFounder,
    /// `In which country is the headquarters of the company founded by {person}?` (asked only of
    /// persons exactly one document names as a founder). Gold: the company, its city. Expert:
    /// search the person's name (which also finds the company), then the city.
    HqCountry,
    /// `Which company was founded earlier, {c1} or {c2}?` (founding years differ). Gold: both
    /// companies. Expert: search each name.
    Comparison,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 5] = [
        QuestionKind::BornCity,
        QuestionKind::BornCountry,
        QuestionKind::HqFounder,
        QuestionKind::HqCountry,
        QuestionKind::Comparison,
    ];

    /// The position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The mixture group (0: 1-hop, 1: 2-hop, 2: 3-hop, 3: comparison).
    pub fn group(self) -> usize {
        match self {
            QuestionKind::BornCity => 0,
            QuestionKind::BornCountry | QuestionKind::HqFounder => 1,
            QuestionKind::HqCountry => 2,
            QuestionKind::Comparison => 3,
        }
    }
}

/// A question with its gold answer, gold supporting documents and expert actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub kind: QuestionKind,
    pub text: String,
    pub answer: String,
    /// The documents holding the facts the answer needs, ascending.
    pub gold: Vec<usize>,
    /// The expert's turns, already in normalised (lower-case) form.
    pub expert: Vec<String>,
}

/// One step of an expert's plan: search `query` unless `doc` is already retrieved, and it must
/// then be among the hits.
struct Hop {
    query: String,
    doc: usize,
}

/// Every question the expert solves under `c`, and `pools[kind][split]`: indices into it (kind in
/// [`QuestionKind::ALL`] order, split in [`Split::ALL`] order).
pub(super) fn build(kb: &Kb, c: &Config) -> (Vec<Question>, [[Vec<u32>; 3]; 5]) {
    let mut planner = Planner {
        index: &kb.index,
        top_k: c.top_k,
        memo: HashMap::new(),
    };
    let mut questions = Vec::new();
    let mut add = |kind: QuestionKind, text: String, answer: String, hops: Vec<Hop>| {
        if let Some(q) = planner.question(c, kind, text, answer, hops) {
            questions.push(q);
        }
    };
    let search = |query: &str, doc: usize| Hop {
        query: query.to_string(),
        doc,
    };
    for person in &kb.persons {
        let city = &kb.cities[person.born];
        add(
            QuestionKind::BornCity,
            format!("Where was {} born?", person.name),
            city.name.clone(),
            vec![search(&person.name, person.doc)],
        );
        add(
            QuestionKind::BornCountry,
            format!("In which country was {} born?", person.name),
            kb.country_names[city.country].clone(),
            vec![
                search(&person.name, person.doc),
                search(&city.name, city.doc),
            ],
        );
    }
    // Asked only where one document names the city as a headquarters (or the person as a
    // founder), distractors included, so that the answer is unique in the corpus.
    for (c_index, city) in kb.cities.iter().enumerate() {
        let Some(company) = kb.companies.iter().find(|co| co.hq == c_index) else {
            continue;
        };
        if kb.hq_count[c_index] != 1 {
            continue;
        }
        add(
            QuestionKind::HqFounder,
            format!("Who founded the company headquartered in {}?", city.name),
            kb.persons[company.founder].name.clone(),
            vec![search(&format!("{} headquarters", city.name), company.doc)],
        );
    }
    for (p, person) in kb.persons.iter().enumerate() {
        let Some(company) = kb.companies.iter().find(|co| co.founder == p) else {
            continue;
        };
        if kb.founded_count[p] != 1 {
            continue;
        }
        let city = &kb.cities[company.hq];
        add(
            QuestionKind::HqCountry,
            format!(
                "In which country is the headquarters of the company founded by {}?",
                person.name
            ),
            kb.country_names[city.country].clone(),
            vec![
                search(&person.name, company.doc),
                search(&city.name, city.doc),
            ],
        );
    }
    for (i, a) in kb.companies.iter().enumerate() {
        for b in &kb.companies[i + 1..] {
            if a.year == b.year {
                continue;
            }
            let earlier = if a.year < b.year { a } else { b };
            add(
                QuestionKind::Comparison,
                format!(
                    "Which company was founded earlier, {} or {}?",
                    a.name, b.name
                ),
                earlier.name.clone(),
                vec![search(&a.name, a.doc), search(&b.name, b.doc)],
            );
        }
    }

    let mut pools: [[Vec<u32>; 3]; 5] = Default::default();
    for (i, q) in questions.iter().enumerate() {
        pools[q.kind.index()][split_index(question_split(&q.text))].push(i as u32);
    }
    (questions, pools)
}

/// The split of a question: its text hashed onto the seeds' 80/10/10 rule, so that a test
/// question is never a training question, whatever the seeds.
pub fn question_split(text: &str) -> Split {
    split_of_seed(fnv1a64(text))
}

pub(super) fn split_index(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Validation => 1,
        Split::Test => 2,
    }
}

/// Runs expert plans against the index, remembering each query's hits.
struct Planner<'a> {
    index: &'a Bm25,
    top_k: usize,
    memo: HashMap<String, Vec<usize>>,
}

impl Planner<'_> {
    fn hits(&mut self, query: &str) -> &[usize] {
        let (index, k) = (self.index, self.top_k);
        self.memo
            .entry(query.to_string())
            .or_insert_with(|| index.search(query, k).into_iter().map(|h| h.0).collect())
    }

    /// The question, or `None` when the expert cannot answer it within the knobs: a hop's
    /// document missing from its query's top-k, or more searches, turns or characters than the
    /// episode allows (the spec's reject-and-redraw, done once per config).
    fn question(
        &mut self,
        c: &Config,
        kind: QuestionKind,
        text: String,
        answer: String,
        hops: Vec<Hop>,
    ) -> Option<Question> {
        let mut retrieved: HashSet<usize> = HashSet::new();
        let mut expert = Vec::new();
        for hop in &hops {
            if retrieved.contains(&hop.doc) {
                continue;
            }
            let hits = self.hits(&hop.query);
            if !hits.contains(&hop.doc) {
                return None;
            }
            retrieved.extend(hits.iter().copied());
            expert.push(format!("<search>{}</search>", hop.query.to_lowercase()));
        }
        let searches = expert.len();
        expert.push(format!("<answer>{}</answer>", answer.to_lowercase()));
        let chars: usize = expert.iter().map(|a| a.chars().count()).sum();
        if searches > c.max_searches || expert.len() > c.max_turns || chars >= c.max_action_chars {
            return None;
        }
        let mut gold: Vec<usize> = hops.iter().map(|h| h.doc).collect();
        gold.sort_unstable();
        gold.dedup();
        Some(Question {
            kind,
            text,
            answer,
            gold,
            expert,
        })
    }
}
