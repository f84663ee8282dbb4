//! Several rewards as one: `reward = sum_k w_k * r_k`, and one correctness per completion for
//! pass@k that shaping terms cannot inflate.
//!
//! Correctness rule: a component that answers `correct: Some(_)` is a verifier (math, exact, a
//! user reward that returns `correct`). When at least one component is a verifier for a
//! completion, it is correct iff every verifier says so. When none is, it is correct iff the
//! total reaches `correct_threshold` (default [`DEFAULT_CORRECT_THRESHOLD`]), so that a lone
//! user reward returning plain floats still gives an accuracy. `well_formed` is the AND of the
//! components'. A NaN component makes the total NaN (also under weight 0), never 0.
use polopt_envs::text::{Problem, Verdict};

use super::{Judgement, Reward};
use crate::error::TrainError;
use crate::reward::{Completion, RewardFn};

/// `correct_threshold` when no table sets it.
pub const DEFAULT_CORRECT_THRESHOLD: f64 = 1.0;

/// The weighted sum of rewards; a single reward is a sum of one with weight 1.
pub struct Weighted {
    name: String,
    parts: Vec<(f64, Box<dyn Reward>)>,
    correct_threshold: f64,
}

impl Weighted {
    pub fn new(parts: Vec<(f64, Box<dyn Reward>)>, correct_threshold: f64) -> Self {
        let name = sum_name(parts.iter().map(|(w, r)| (*w, r.name())));
        Self {
            name,
            parts,
            correct_threshold,
        }
    }

    pub fn correct_threshold(&self) -> f64 {
        self.correct_threshold
    }

    /// `(weight, name)` of every component, in config order.
    pub fn components(&self) -> impl Iterator<Item = (f64, &str)> {
        self.parts.iter().map(|(w, r)| (*w, r.name()))
    }

    /// The combined verdict from one judgement per component.
    pub fn combine(&self, judgements: &[Judgement]) -> Verdict {
        let mut reward = 0.0;
        let mut well_formed = true;
        let mut verdicts: Option<bool> = None;
        for ((weight, _), j) in self.parts.iter().zip(judgements) {
            // 0 * NaN is NaN, so a failed component cannot vanish behind a zero weight.
            reward += weight * j.reward;
            well_formed &= j.well_formed;
            if let Some(c) = j.correct {
                verdicts = Some(verdicts.unwrap_or(true) && c);
            }
        }
        let correct = verdicts.unwrap_or(reward >= self.correct_threshold);
        Verdict {
            reward,
            correct,
            well_formed,
        }
    }
}

/// `math+0.2*regex-0.5*length`: weight 1 is left out, negative weights read as a difference.
fn sum_name<'a>(parts: impl Iterator<Item = (f64, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (w, name)) in parts.enumerate() {
        let sign = if w < 0.0 { "-" } else { "+" };
        if i > 0 || w < 0.0 {
            out.push_str(sign);
        }
        let magnitude = w.abs();
        if magnitude != 1.0 {
            out.push_str(&format!("{magnitude}*"));
        }
        out.push_str(name);
    }
    out
}

impl RewardFn for Weighted {
    fn name(&self) -> &str {
        &self.name
    }

    /// One completion without its token count: the length is taken as its character count
    /// (exact for the character tokenizer). A failure cannot be returned here, so it is logged
    /// and answered as a NaN reward, which `run.on_nan` then counts or stops on.
    fn score(&self, problem: &Problem, completion: &str) -> Verdict {
        let item = Completion {
            problem,
            text: completion,
            tokens: completion.chars().count(),
        };
        match self.score_batch(&[item]) {
            Ok(mut v) if v.len() == 1 => v.remove(0),
            Ok(v) => failed(
                &self.name,
                &format!("{} verdicts for 1 completion", v.len()),
            ),
            Err(e) => failed(&self.name, &e.to_string()),
        }
    }

    fn score_batch(&self, items: &[Completion<'_>]) -> Result<Vec<Verdict>, TrainError> {
        let mut per_part = Vec::with_capacity(self.parts.len());
        for (_, part) in &self.parts {
            let judged = part.judge(items)?;
            if judged.len() != items.len() {
                return Err(TrainError::Reward {
                    reward: part.name().to_string(),
                    detail: format!(
                        "{} judgements for {} completions",
                        judged.len(),
                        items.len()
                    ),
                });
            }
            per_part.push(judged);
        }
        Ok((0..items.len())
            .map(|i| {
                let row: Vec<Judgement> = per_part.iter().map(|p| p[i]).collect();
                self.combine(&row)
            })
            .collect())
    }
}

fn failed(name: &str, detail: &str) -> Verdict {
    tracing::error!("reward `{name}` failed, scored as NaN: {detail}");
    Verdict {
        reward: f64::NAN,
        correct: false,
        well_formed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::sum_name;

    #[test]
    fn name_leaves_out_unit_weights_and_reads_negatives_as_differences() {
        let parts = [(1.0, "math"), (0.2, "regex"), (-0.5, "length")];
        assert_eq!(sum_name(parts.into_iter()), "math+0.2*regex-0.5*length");
        assert_eq!(sum_name([(2.0, "exact")].into_iter()), "2*exact");
        assert_eq!(sum_name([(-1.0, "length")].into_iter()), "-length");
    }
}
