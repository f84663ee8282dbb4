//! T1 — multi-digit addition with carries (`text-tasks.md` §3 T1).
//!
//! Prompt `"{a}+{b}="` (2 to 4 operands, as in a chain sum). The completion's first line is the
//! sum, plain or with its digits least-significant first (`reverse_output`, which small
//! transformers learn far more easily). With `scratchpad` the model first writes the carry into
//! every column and the sum, then the answer after the GSM8K marker:
//! `"c:0110 s:579\n#### 579"`, and the verifier reads the text after the last `#### `.
//!
//! For the "warm up on a restricted distribution, RL on the full one" recipe, build two
//! instances: e.g. `{d_max = 3}` or `{c_max = 1}` for the warm-up and the defaults for RL. The
//! prompt, hence the split, of a problem does not depend on the config.
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::draw::{below, bernoulli, between};
use super::{
    check_r_fmt, check_range, first_line, generated_by, out_of_range, spend, split_of, Generator,
    Problem, Split, Task, TaskError, Verdict,
};

pub const NAME: &str = "addition";

/// Knobs of the addition generator and verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdditionConfig {
    /// Fewest digits of an operand (1..=18).
    pub d_min: u32,
    /// Most digits of an operand (d_min..=18; 18 keeps four operands' sum inside `u64`).
    pub d_max: u32,
    /// Fewest operands (2..=4).
    pub operands_min: u32,
    /// Most operands (operands_min..=4).
    pub operands_max: u32,
    /// Probability that a problem is redrawn until it has at least `c_min` carries; this
    /// oversamples carry chains, which uniform operands rarely produce.
    pub p_carry_bias: f64,
    /// Carry positions a biased problem must have (0..=18). Capped at `d_max`: a sum cannot
    /// carry out of more columns than its widest operand has.
    pub c_min: u32,
    /// Most carry positions any problem may have (`None`: no limit). A restriction knob for
    /// warm-up data, e.g. `c_max = 0` for carry-free sums.
    pub c_max: Option<u32>,
    /// Write the sum least-significant digit first.
    pub reverse_output: bool,
    /// Write the column carries and the sum before `#### ANSWER`.
    pub scratchpad: bool,
    /// Reward of a well-formed but wrong answer (0 <= r_fmt < 1); 0.1 is TinyZero's shaping.
    pub r_fmt: f64,
}

impl Default for AdditionConfig {
    fn default() -> Self {
        AdditionConfig {
            d_min: 1,
            d_max: 5,
            operands_min: 2,
            operands_max: 2,
            p_carry_bias: 0.5,
            c_min: 2,
            c_max: None,
            reverse_output: false,
            scratchpad: false,
            r_fmt: 0.0,
        }
    }
}

const MAX_DIGITS: u32 = 18;

impl AdditionConfig {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("addition.d_min", self.d_min, 1, MAX_DIGITS)?;
        check_range("addition.d_max", self.d_max, self.d_min, MAX_DIGITS)?;
        check_range("addition.operands_min", self.operands_min, 2, 4)?;
        check_range(
            "addition.operands_max",
            self.operands_max,
            self.operands_min,
            4,
        )?;
        if !(0.0..=1.0).contains(&self.p_carry_bias) {
            return Err(out_of_range(
                "addition.p_carry_bias",
                "in [0, 1]",
                self.p_carry_bias,
            ));
        }
        check_range("addition.c_min", self.c_min, 0, MAX_DIGITS)?;
        if let Some(c_max) = self.c_max {
            check_range("addition.c_max", c_max, 0, MAX_DIGITS)?;
            if self.p_carry_bias > 0.0 && c_max < self.effective_c_min() {
                return Err(TaskError::Invalid {
                    field: "addition.c_max".into(),
                    message: format!(
                        "{c_max} is below addition.c_min ({}) while addition.p_carry_bias > 0, so biased \
                         problems cannot exist; lower c_min or set p_carry_bias = 0",
                        self.effective_c_min()
                    ),
                });
            }
        }
        check_r_fmt("addition.r_fmt", self.r_fmt)
    }

    fn effective_c_min(&self) -> u32 {
        self.c_min.min(self.d_max)
    }
}

/// The addition task; see the module doc.
#[derive(Debug, Clone)]
pub struct Addition {
    config: AdditionConfig,
}

/// Carry out of every column, least significant first, for column-wise addition; one entry per
/// column of the widest operand (the last is the carry into the sum's extra leading digit).
fn column_carries(operands: &[u64]) -> Vec<u64> {
    let columns = operands.iter().map(|&x| digit_count(x)).max().unwrap_or(1);
    let mut rest = operands.to_vec();
    let mut carry = 0;
    let mut out = Vec::with_capacity(columns as usize);
    for _ in 0..columns {
        let column: u64 = rest.iter().map(|x| x % 10).sum::<u64>() + carry;
        carry = column / 10;
        out.push(carry);
        rest.iter_mut().for_each(|x| *x /= 10);
    }
    out
}

fn digit_count(x: u64) -> u32 {
    x.checked_ilog10().map_or(1, |l| l + 1)
}

fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// `digits` without leading zeros ("0" stays "0").
fn strip_leading_zeros(digits: &str) -> &str {
    let t = digits.trim_start_matches('0');
    if t.is_empty() {
        "0"
    } else {
        t
    }
}

impl Addition {
    /// Validates the config and checks that every split can be sampled.
    pub fn new(config: AdditionConfig) -> Result<Addition, TaskError> {
        config.validate()?;
        let task = Addition { config };
        task.probe()?;
        Ok(task)
    }

    pub fn config(&self) -> &AdditionConfig {
        &self.config
    }

    /// One operand of `n` digits, uniform over those integers (a one-digit operand may be 0).
    fn draw_operand(&self, rng: &mut ChaCha8Rng) -> u64 {
        let n = between(
            rng,
            u64::from(self.config.d_min),
            u64::from(self.config.d_max),
        ) as u32;
        if n == 1 {
            below(rng, 10)
        } else {
            let lo = 10u64.pow(n - 1);
            between(rng, lo, 10 * lo - 1)
        }
    }

    fn carries_allowed(&self, carries: u32, biased: bool) -> bool {
        let enough = !biased || carries >= self.config.effective_c_min();
        let not_too_many = self.config.c_max.is_none_or(|m| carries <= m);
        enough && not_too_many
    }

    fn problem(&self, operands: Vec<u64>) -> Problem {
        let carries = column_carries(&operands);
        let sum: u64 = operands.iter().sum();
        let prompt = format!(
            "{}=",
            operands
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("+")
        );
        let answer = sum.to_string();
        let written = if self.config.reverse_output {
            reversed(&answer)
        } else {
            answer.clone()
        };
        let solution = if self.config.scratchpad {
            // Carry into each column, least significant first, starting with the zero carry into
            // the units column: each digit depends only on its column and the digit before it.
            let carry_digits: String = std::iter::once(0)
                .chain(carries.iter().copied())
                .map(|c| c.to_string())
                .collect();
            format!("c:{carry_digits} s:{written}\n#### {written}")
        } else {
            written
        };
        let n_carries = carries.iter().filter(|&&c| c > 0).count();
        let meta = serde_json::json!({
            "task": NAME,
            "operands": operands,
            "carries": n_carries,
            "columns": carries.len(),
        });
        Problem {
            key: prompt.clone(),
            prompt,
            solution,
            answer,
            meta,
        }
    }

    /// The answer text the verifier grades: after the last `#### ` with a scratchpad, else all of
    /// the completion; then its first line, trimmed. `None` when the marker is missing.
    fn answer_text<'a>(&self, completion: &'a str) -> Option<&'a str> {
        let tail = if self.config.scratchpad {
            let at = completion.rfind("#### ")?;
            &completion[at + "#### ".len()..]
        } else {
            completion
        };
        Some(first_line(tail).trim())
    }
}

impl Generator for Addition {
    const NAME: &'static str = NAME;
    const SPARSE_HINT: &'static str =
        "widen d_min..d_max or the operand count, or relax c_min / c_max";

    /// See [`Task::sample`] on [`Addition`] for the draw order.
    fn draw_within(&self, split: Split, rng: &mut ChaCha8Rng, budget: &mut u64) -> Option<Problem> {
        let c = &self.config;
        loop {
            let k = between(rng, u64::from(c.operands_min), u64::from(c.operands_max)) as usize;
            let biased = bernoulli(rng, c.p_carry_bias);
            let operands = loop {
                if !spend(budget) {
                    return None;
                }
                let operands: Vec<u64> = (0..k).map(|_| self.draw_operand(rng)).collect();
                let carries = column_carries(&operands).iter().filter(|&&c| c > 0).count() as u32;
                if self.carries_allowed(carries, biased) {
                    break operands;
                }
            };
            let problem = self.problem(operands);
            if split_of(&problem.key) == split {
                return Some(problem);
            }
        }
    }
}

impl Task for Addition {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    /// Draw order of one candidate, with the primitives of [`draw`](super::draw); the whole order
    /// is repeated while the split does not match:
    /// 1. operand count `k = between(operands_min, operands_max)`;
    /// 2. `biased = bernoulli(p_carry_bias)`;
    /// 3. `k` operands in prompt order, each as a digit count `n = between(d_min, d_max)` then a
    ///    value (`below(10)` if `n = 1`, else `between(10^(n-1), 10^n - 1)`); the operands alone
    ///    are redrawn (same `k`, same `biased`) while the carry count is below `min(c_min, d_max)`
    ///    for a biased problem, or above `c_max` for any problem;
    /// 4. accept iff `split_of(prompt)` is the split asked for.
    fn sample(&self, split: Split, rng: &mut ChaCha8Rng) -> Problem {
        self.sample_unbounded(split, rng)
    }

    /// Format: `^-?[0-9]+$` on the answer text (see `answer_text`); digits are reversed back when
    /// `reverse_output` is on; then integer equality with the sum, so leading zeros are tolerated.
    fn verify(&self, problem: &Problem, completion: &str) -> Verdict {
        if !generated_by(problem, NAME) {
            return Verdict::malformed();
        }
        let Some(text) = self.answer_text(completion) else {
            return Verdict::malformed();
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Verdict::malformed();
        }
        let digits = if self.config.reverse_output {
            reversed(digits)
        } else {
            digits.to_string()
        };
        let magnitude = strip_leading_zeros(&digits);
        let expected = &problem.answer;
        let expected_ok = !expected.is_empty() && expected.bytes().all(|b| b.is_ascii_digit());
        // "-0" is the integer 0; any other negative number differs from a (non-negative) sum.
        let correct = expected_ok
            && (!negative || magnitude == "0")
            && magnitude == strip_leading_zeros(expected);
        Verdict::graded(correct, true, self.config.r_fmt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn task(config: AdditionConfig) -> Addition {
        match Addition::new(config) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn carries_are_counted_per_column() {
        assert_eq!(column_carries(&[189, 390]), vec![0, 1, 0]);
        assert_eq!(column_carries(&[999, 1]), vec![1, 1, 1]);
        assert_eq!(column_carries(&[9, 9, 9, 9]), vec![3]);
        assert_eq!(column_carries(&[0, 0]), vec![0]);
        assert_eq!(column_carries(&[4, 12345]), vec![0, 0, 0, 0, 0]);
        assert_eq!(column_carries(&[5, 12345]), vec![1, 0, 0, 0, 0]);
    }

    #[test]
    fn digit_counts() {
        assert_eq!(digit_count(0), 1);
        assert_eq!(digit_count(9), 1);
        assert_eq!(digit_count(10), 2);
        assert_eq!(digit_count(999_999_999_999_999_999), 18);
    }

    #[test]
    fn scratchpad_solution_lists_carries_from_the_units_column() {
        let t = task(AdditionConfig {
            scratchpad: true,
            ..Default::default()
        });
        let p = t.problem(vec![189, 390]);
        assert_eq!(p.prompt, "189+390=");
        assert_eq!(p.solution, "c:0010 s:579\n#### 579");
        let r = task(AdditionConfig {
            scratchpad: true,
            reverse_output: true,
            ..Default::default()
        });
        assert_eq!(r.problem(vec![999, 1]).solution, "c:0111 s:0001\n#### 0001");
    }

    #[test]
    fn carry_limits_hold_for_every_sample() {
        let t = task(AdditionConfig {
            c_max: Some(1),
            p_carry_bias: 1.0,
            c_min: 1,
            ..Default::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let p = t.sample(Split::Train, &mut rng);
            assert_eq!(p.meta["carries"], 1, "{}", p.prompt);
        }
    }

    #[test]
    fn c_min_is_capped_at_d_max() {
        let t = task(AdditionConfig {
            d_min: 1,
            d_max: 1,
            c_min: 5,
            p_carry_bias: 1.0,
            ..Default::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let p = t.sample(Split::Train, &mut rng);
        assert_eq!(p.meta["carries"], 1);
    }
}
