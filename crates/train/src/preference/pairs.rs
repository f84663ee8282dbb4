//! The preference data a step trains on, as text and as token ids: pairs (chosen, rejected)
//! or unpaired examples (completion, desirable), from a file or made from the task with a
//! known ground truth (synthetic pairs: the solution against a wrong or a padded one).
use std::path::Path;

use polopt_envs::data::{
    load_preferences, OnBadRow, Preference, PreferenceExample, PreferenceFields,
};
use polopt_envs::text::{eval_set, sample_batch, Problem, Split, Task};
use polopt_methods::SyntheticRejected;
use rand::RngExt;

use crate::codec::Codec;
use crate::error::TrainError;
use crate::seeds::stream;

/// One preference: the prompt and two responses, `chosen` preferred.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPair {
    pub problem: Problem,
    pub chosen: String,
    pub rejected: String,
}

/// One unary-feedback example (KTO).
#[derive(Debug, Clone, PartialEq)]
pub struct TextExample {
    pub problem: Problem,
    pub completion: String,
    pub desirable: bool,
}

/// A training or held-out preference set.
#[derive(Debug, Clone)]
pub enum PreferenceSet {
    Paired(Vec<TextPair>),
    Unpaired(Vec<TextExample>),
}

impl PreferenceSet {
    pub fn len(&self) -> usize {
        match self {
            PreferenceSet::Paired(p) => p.len(),
            PreferenceSet::Unpaired(u) => u.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Paired data as unpaired examples (chosen desirable, rejected not), as TRL's
    /// `unpair_preference_dataset`; unpaired data as it is.
    pub fn unpaired(self) -> Vec<TextExample> {
        match self {
            PreferenceSet::Unpaired(u) => u,
            PreferenceSet::Paired(pairs) => pairs
                .into_iter()
                .flat_map(|p| {
                    [
                        TextExample {
                            problem: p.problem.clone(),
                            completion: p.chosen,
                            desirable: true,
                        },
                        TextExample {
                            problem: p.problem,
                            completion: p.rejected,
                            desirable: false,
                        },
                    ]
                })
                .collect(),
        }
    }
}

impl PreferenceSet {
    /// The examples of one preference file (the loader gives one layout per file).
    pub fn from_examples(examples: Vec<PreferenceExample>) -> Self {
        let mut pairs = Vec::new();
        let mut unpaired = Vec::new();
        for e in examples {
            match e.response {
                Preference::Paired { chosen, rejected } => pairs.push(TextPair {
                    problem: e.prompt,
                    chosen,
                    rejected,
                }),
                Preference::Unpaired {
                    completion,
                    desirable,
                } => unpaired.push(TextExample {
                    problem: e.prompt,
                    completion,
                    desirable,
                }),
            }
        }
        match pairs.is_empty() {
            true => PreferenceSet::Unpaired(unpaired),
            false => PreferenceSet::Paired(pairs),
        }
    }

    /// The prompts of the set, each once, in file order.
    pub fn problems(&self) -> Vec<Problem> {
        let mut seen = std::collections::BTreeSet::new();
        let all: Vec<&Problem> = match self {
            PreferenceSet::Paired(p) => p.iter().map(|p| &p.problem).collect(),
            PreferenceSet::Unpaired(u) => u.iter().map(|e| &e.problem).collect(),
        };
        all.into_iter()
            .filter(|p| {
                seen.insert(
                    p.key
                        .rsplit_once('/')
                        .map_or(p.key.as_str(), |k| k.0)
                        .to_string(),
                )
            })
            .cloned()
            .collect()
    }
}

/// A preference file (`data.train` / `data.eval` of a pairs run); errors name the config key.
pub fn load_file(
    key: &str,
    file: &str,
    fields: &PreferenceFields,
    on_bad_row: OnBadRow,
) -> Result<PreferenceSet, TrainError> {
    let (examples, report) = load_preferences(Path::new(file), fields, on_bad_row)
        .map_err(|e| TrainError::Config(format!("config key `data.{key}`: {e}")))?;
    tracing::info!(
        file,
        rows = report.rows_kept,
        skipped = report.skipped,
        "preference data"
    );
    Ok(PreferenceSet::from_examples(examples))
}

/// Synthetic pairs from `n` problems of `split`: the solution is chosen; the rejected one is
/// made by `how`. A problem for which no rejected response can be made is left out.
pub fn synthetic_pairs(
    task: &dyn Task,
    split: Split,
    n: usize,
    seed: u64,
    how: SyntheticRejected,
) -> Vec<TextPair> {
    let problems = match split {
        // Held-out pairs: the task's fixed, de-duplicated evaluation set of that split.
        Split::Validation | Split::Test => eval_set(task, split, n, seed),
        Split::Train => sample_batch(task, split, n, &mut stream(seed, "pref-synthetic", 0)),
    };
    let mut rng = stream(seed, "pref-rejected", split as u64);
    problems
        .into_iter()
        .filter_map(|problem| {
            let rejected = match how {
                SyntheticRejected::Wrong => wrong_answer(task, &problem, &mut rng)?,
                SyntheticRejected::Long => long_answer(task, &problem)?,
            };
            Some(TextPair {
                chosen: problem.solution.clone(),
                rejected,
                problem,
            })
        })
        .collect()
}

/// The solution with one digit replaced, retried until the verifier calls it wrong.
fn wrong_answer(
    task: &dyn Task,
    problem: &Problem,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Option<String> {
    let chars: Vec<char> = problem.solution.chars().collect();
    let digits: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_digit())
        .collect();
    if digits.is_empty() {
        return None;
    }
    for _ in 0..32 {
        let at = digits[rng.random_range(0..digits.len())];
        let old = chars[at] as u8 - b'0';
        let new = (old + rng.random_range(1..10u8)) % 10;
        let mut changed = chars.clone();
        changed[at] = (b'0' + new) as char;
        let text: String = changed.into_iter().collect();
        if !task.verify(problem, &text).correct {
            return Some(text);
        }
    }
    None
}

/// The solution, a line break and the solution again: still correct for verifiers that read
/// the first line, and longer. Left out where the verifier disagrees.
fn long_answer(task: &dyn Task, problem: &Problem) -> Option<String> {
    let text = format!("{}\n{}", problem.solution, problem.solution);
    task.verify(problem, &text).correct.then_some(text)
}

/// A pair or an example in token ids: `prompt` with `<bos>` (and chat template), responses
/// with `<eos>`.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub prompt: Vec<i64>,
    pub chosen: Vec<i64>,
    pub rejected: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct TokenExample {
    pub prompt: Vec<i64>,
    pub response: Vec<i64>,
    pub desirable: bool,
}

/// What a step draws from: the encoded training set.
pub enum TokenSet {
    Paired(Vec<TokenPair>),
    Unpaired(Vec<TokenExample>),
}

impl TokenSet {
    pub fn len(&self) -> usize {
        match self {
            TokenSet::Paired(p) => p.len(),
            TokenSet::Unpaired(u) => u.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response's ids with the `<eos>` that ends it.
pub fn encode_response(tok: &Codec, text: &str) -> Result<Vec<i64>, TrainError> {
    let mut ids = tok
        .encode(text)
        .map_err(|e| TrainError::Model(e.to_string()))?;
    ids.push(tok.eos_id());
    Ok(ids)
}

/// Encodes a set, checking that every prompt + response fits the model's positions.
pub fn encode_set(
    set: PreferenceSet,
    tok: &Codec,
    max_positions: usize,
    what: &str,
) -> Result<TokenSet, TrainError> {
    let fits = |prompt: &[i64], response: &[i64], key: &str| {
        if prompt.len() + response.len() > max_positions {
            return Err(TrainError::Config(format!(
                "{what}: example {key:?} has {} prompt + {} response tokens, more than the \
                 model's {max_positions} positions",
                prompt.len(),
                response.len()
            )));
        }
        Ok(())
    };
    Ok(match set {
        PreferenceSet::Paired(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for p in pairs {
                let prompt = tok.encode_prompt(&p.problem)?;
                let chosen = encode_response(tok, &p.chosen)?;
                let rejected = encode_response(tok, &p.rejected)?;
                fits(&prompt, &chosen, &p.problem.key)?;
                fits(&prompt, &rejected, &p.problem.key)?;
                out.push(TokenPair {
                    prompt,
                    chosen,
                    rejected,
                });
            }
            TokenSet::Paired(out)
        }
        PreferenceSet::Unpaired(examples) => {
            let mut out = Vec::with_capacity(examples.len());
            for e in examples {
                let prompt = tok.encode_prompt(&e.problem)?;
                let response = encode_response(tok, &e.completion)?;
                fits(&prompt, &response, &e.problem.key)?;
                out.push(TokenExample {
                    prompt,
                    response,
                    desirable: e.desirable,
                });
            }
            TokenSet::Unpaired(out)
        }
    })
}
