//! `calc` — sums of products with a calculator tool (the toy task of `algorithms/aspo.md`).
//!
//! Prompt `"37*12+5*41="` (1 to 3 products of two operands). The policy may call a calculator
//! anywhere in its answer: it writes `<calc>EXPR</calc>`, the environment evaluates `EXPR`
//! exactly ([`super::expr`]) and appends `<result>VALUE</result>` (or `<result>error</result>`),
//! then generation continues. The answer is the completion's last line, a decimal integer.
//!
//! Canonical solutions always use the tool once, at varied positions: an early one calls it
//! at once, `<calc>37*12+5*41</calc><result>649</result>\n649`; a late one first restates the
//! products, one per line (`37*12\n5*41\n<calc>...`), so that the first call sits 6 to 24
//! tokens into the answer. `p_late` sets the mix; RL with ASPO should move the first call
//! earlier, which is the spec's toy check. The prompt alone decides the split, so a problem's
//! split does not depend on how its solution is written.
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::draw::{bernoulli, between};
use super::expr::parse;
use super::{
    check_r_fmt, check_range, generated_by, out_of_range, spend, split_of, Generator, Problem,
    Split, Task, TaskError, ToolProtocol, ToolReply, Verdict,
};

pub const NAME: &str = "calc";
pub const CALL_OPEN: &str = "<calc>";
pub const CALL_CLOSE: &str = "</calc>";
pub const RESULT_OPEN: &str = "<result>";
pub const RESULT_CLOSE: &str = "</result>";

/// Knobs of the calc generator, verifier and tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalcConfig {
    /// Fewest products in the sum (1..=3).
    pub terms_min: u32,
    /// Most products in the sum (terms_min..=3).
    pub terms_max: u32,
    /// Fewest digits of an operand (1..=3).
    pub d_min: u32,
    /// Most digits of an operand (d_min..=3).
    pub d_max: u32,
    /// Probability that the canonical solution restates the products before calling the tool.
    pub p_late: f64,
    /// Calculator calls answered per response (1..=8); the environment ends a response at the
    /// closing tag of any further call.
    pub max_calls: u32,
    /// Reward of a well-formed but wrong answer (0 <= r_fmt < 1).
    pub r_fmt: f64,
}

impl Default for CalcConfig {
    fn default() -> Self {
        CalcConfig {
            terms_min: 1,
            terms_max: 2,
            d_min: 1,
            d_max: 2,
            p_late: 0.5,
            max_calls: 2,
            r_fmt: 0.0,
        }
    }
}

impl CalcConfig {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("calc.terms_min", self.terms_min, 1, 3)?;
        check_range("calc.terms_max", self.terms_max, self.terms_min, 3)?;
        check_range("calc.d_min", self.d_min, 1, 3)?;
        check_range("calc.d_max", self.d_max, self.d_min, 3)?;
        if !(0.0..=1.0).contains(&self.p_late) {
            return Err(out_of_range("calc.p_late", "in [0, 1]", self.p_late));
        }
        check_range("calc.max_calls", self.max_calls, 1, 8)?;
        check_r_fmt("calc.r_fmt", self.r_fmt)
    }
}

/// The calc task; see the module doc.
#[derive(Debug, Clone)]
pub struct Calc {
    config: CalcConfig,
}

impl Calc {
    pub fn new(config: CalcConfig) -> Result<Self, TaskError> {
        config.validate()?;
        let task = Calc { config };
        task.probe()?;
        Ok(task)
    }

    fn draw_operand(&self, rng: &mut ChaCha8Rng) -> u64 {
        let n = between(
            rng,
            u64::from(self.config.d_min),
            u64::from(self.config.d_max),
        ) as u32;
        if n == 1 {
            between(rng, 0, 9)
        } else {
            between(rng, 10u64.pow(n - 1), 10u64.pow(n) - 1)
        }
    }

    fn problem(&self, products: &[(u64, u64)], late: bool) -> Problem {
        let terms: Vec<String> = products.iter().map(|(a, b)| format!("{a}*{b}")).collect();
        let expr = terms.join("+");
        let value: u64 = products.iter().map(|(a, b)| a * b).sum();
        let preamble = if late {
            terms.iter().map(|t| format!("{t}\n")).collect()
        } else {
            String::new()
        };
        let solution = format!(
            "{preamble}{CALL_OPEN}{expr}{CALL_CLOSE}{RESULT_OPEN}{value}{RESULT_CLOSE}\n{value}"
        );
        let prompt = format!("{expr}=");
        Problem {
            key: prompt.clone(),
            prompt,
            solution,
            answer: value.to_string(),
            meta: serde_json::json!({
                "task": NAME,
                "products": products.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>(),
                "late_call": late,
            }),
        }
    }
}

impl Generator for Calc {
    const NAME: &'static str = NAME;
    const SPARSE_HINT: &'static str = "widen d_min..d_max or terms_min..terms_max";

    fn draw_within(&self, split: Split, rng: &mut ChaCha8Rng, budget: &mut u64) -> Option<Problem> {
        let c = &self.config;
        loop {
            if !spend(budget) {
                return None;
            }
            let k = between(rng, u64::from(c.terms_min), u64::from(c.terms_max)) as usize;
            let products: Vec<(u64, u64)> = (0..k)
                .map(|_| (self.draw_operand(rng), self.draw_operand(rng)))
                .collect();
            let late = bernoulli(rng, c.p_late);
            let problem = self.problem(&products, late);
            if split_of(&problem.key) == split {
                return Some(problem);
            }
        }
    }
}

impl Task for Calc {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    /// Draw order of one candidate, repeated while the split does not match: the product count
    /// `k = between(terms_min, terms_max)`; then for each product its two operands, each as a
    /// digit count `n = between(d_min, d_max)` and a value (`between(0, 9)` if `n = 1`, else
    /// `between(10^(n-1), 10^n - 1)`); then `late = bernoulli(p_late)`.
    fn sample(&self, split: Split, rng: &mut ChaCha8Rng) -> Problem {
        self.sample_unbounded(split, rng)
    }

    /// Format: the last line of the completion (text after the last newline, trimmed) matches
    /// `^-?[0-9]+$`; then integer equality with the sum. The tool's own output never counts as
    /// the answer: a completion that ends right after `</result>` is malformed.
    fn verify(&self, problem: &Problem, completion: &str) -> Verdict {
        if !generated_by(problem, NAME) {
            return Verdict::malformed();
        }
        let last = completion.rsplit('\n').next().unwrap_or("").trim();
        let digits = last.strip_prefix('-').unwrap_or(last);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Verdict::malformed();
        }
        let correct = match (last.parse::<i128>(), problem.answer.parse::<i128>()) {
            (Ok(got), Ok(want)) => got == want,
            _ => false,
        };
        Verdict::graded(correct, true, self.config.r_fmt)
    }

    fn tool(&self) -> Option<ToolProtocol> {
        Some(ToolProtocol {
            call_open: CALL_OPEN,
            call_close: CALL_CLOSE,
            max_calls: self.config.max_calls as usize,
        })
    }

    /// Exact evaluation of `+ - * /` with parentheses; a non-integer quotient is printed as a
    /// reduced fraction. Anything that does not parse or evaluate answers `error`.
    fn tool_response(&self, call: &str) -> ToolReply {
        let value = parse(call).ok().and_then(|e| e.eval().ok());
        ToolReply {
            text: format!(
                "{RESULT_OPEN}{}{RESULT_CLOSE}",
                value.map_or_else(|| "error".to_string(), |v| v.to_string())
            ),
            error: value.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tool_output_mask;
    use rand::SeedableRng;

    fn task(config: CalcConfig) -> Calc {
        match Calc::new(config) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn early_and_late_solutions_call_the_tool_once_and_verify() {
        let t = task(CalcConfig::default());
        let early = t.problem(&[(37, 12), (5, 41)], false);
        assert_eq!(early.prompt, "37*12+5*41=");
        assert_eq!(
            early.solution,
            "<calc>37*12+5*41</calc><result>649</result>\n649"
        );
        let late = t.problem(&[(37, 12), (5, 41)], true);
        assert_eq!(
            late.solution,
            "37*12\n5*41\n<calc>37*12+5*41</calc><result>649</result>\n649"
        );
        for p in [&early, &late] {
            assert!(t.verify(p, &p.solution).correct);
            assert_eq!(p.key, "37*12+5*41=");
        }
    }

    #[test]
    fn verifier_reads_the_last_line_only() {
        let t = task(CalcConfig::default());
        let p = t.problem(&[(6, 7)], false);
        assert!(t.verify(&p, "42").correct);
        assert!(
            t.verify(&p, "<calc>6*7</calc><result>42</result>\n 42 ")
                .correct
        );
        let ends_in_tool = t.verify(&p, "<calc>6*7</calc><result>42</result>");
        assert!(!ends_in_tool.well_formed);
        let wrong = t.verify(&p, "<calc>6*7</calc><result>42</result>\n41");
        assert!(wrong.well_formed && !wrong.correct);
        assert!(!t.verify(&p, "").well_formed);
        assert!(!t.verify(&p, "\n-").well_formed);
    }

    #[test]
    fn tool_evaluates_exactly_and_reports_errors() {
        let t = task(CalcConfig::default());
        let reply = |s: &str| t.tool_response(s);
        assert_eq!(reply("37*12").text, "<result>444</result>");
        assert_eq!(reply("2*(3+4)-20").text, "<result>-6</result>");
        assert_eq!(reply("7/2").text, "<result>7/2</result>");
        for bad in ["", "1/0", "3+", "x", "99999999999999999999"] {
            let r = reply(bad);
            assert!(r.error, "{bad:?}");
            assert_eq!(r.text, "<result>error</result>");
        }
        assert!(!reply("1+1").error);
    }

    #[test]
    fn tool_output_mask_covers_exactly_the_inserted_result() {
        let t = task(CalcConfig::default());
        let text = "6*7\n<calc>6*7</calc><result>42</result>\n42";
        let mask = tool_output_mask(&t, text);
        let masked: String = text
            .chars()
            .zip(&mask)
            .filter(|(_, &m)| m)
            .map(|(c, _)| c)
            .collect();
        assert_eq!(masked, "<result>42</result>");
        assert_eq!(mask.len(), text.chars().count());
        // A result the model wrote itself after a call does not match the tool's: not masked.
        let forged = "<calc>6*7</calc><result>43</result>\n43";
        assert!(tool_output_mask(&t, forged).iter().all(|&m| !m));
    }

    #[test]
    fn p_late_sets_the_share_of_late_solutions() {
        let t = task(CalcConfig {
            p_late: 0.7,
            ..Default::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let late = (0..2000)
            .filter(|_| t.sample(Split::Train, &mut rng).meta["late_call"] == true)
            .count();
        assert!((1250..1550).contains(&late), "{late}");
    }
}
