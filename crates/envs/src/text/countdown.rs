//! T2 — countdown (`text-tasks.md` §3 T2; the TinyZero / Countdown-Tasks-3to4 setup).
//!
//! Prompt `"nums:3,5,7,9 target:24\n"`; the completion's first line is an infix expression over
//! the numbers with `+ - * /` and parentheses, e.g. `(9-5)*(7-3)`. Problems are built backward
//! from a random expression tree, so each has at least one solution (the canonical one, which
//! supervised training sees); the verifier accepts any expression that uses the numbers as the
//! rules say and equals the target exactly. That gap between one taught solution and many
//! rewarded ones is why RL helps here.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::draw::{below, between, shuffle};
use super::expr::{parse, Expr, Op, Ratio};
use super::{
    check_r_fmt, check_range, first_line, fnv1a64, generated_by, spend, split_of, Generator,
    Problem, Split, Task, TaskError, Verdict,
};

pub const NAME: &str = "countdown";

/// How the prompt lists the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Listing {
    /// Ascending (the spec's default).
    Sorted,
    /// In an order drawn from the problem's own hash (so the problem sequence of a seed does not
    /// depend on the listing); the split still hashes the sorted form.
    Shuffled,
}

/// Knobs of the countdown generator and verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CountdownConfig {
    /// Fewest numbers in a problem (2..=6).
    pub count_min: u32,
    /// Most numbers in a problem (count_min..=6; the spec's hard setting goes up to 6).
    pub count_max: u32,
    /// Numbers are drawn from `1..=n_max` (1..=999; the spec's hard setting is 99).
    pub n_max: u32,
    /// Smallest target (0..=1000000).
    pub t_min: u32,
    /// Largest target (t_min..=1000000).
    pub t_max: u32,
    /// Operators the generator may use, as a string of distinct symbols from `+-*/`. The verifier
    /// accepts all four regardless: the knob shapes the problems, not the answers.
    pub ops: String,
    /// Reject constructions with a negative or fractional intermediate value, so every problem
    /// has an all-integer solution.
    pub integer_only: bool,
    pub listing: Listing,
    /// Each given number may be used at most once (reasoning-gym's rule) instead of exactly once
    /// (TinyZero's rule, the default).
    pub at_most_once: bool,
    /// Reward of a well-formed but wrong answer (0 <= r_fmt < 1); 0.1 is TinyZero's shaping.
    pub r_fmt: f64,
}

impl Default for CountdownConfig {
    fn default() -> Self {
        CountdownConfig {
            count_min: 3,
            count_max: 4,
            n_max: 20,
            t_min: 1,
            t_max: 100,
            ops: "+-*/".into(),
            integer_only: true,
            listing: Listing::Sorted,
            at_most_once: false,
            r_fmt: 0.0,
        }
    }
}

const MAX_COUNT: u32 = 6;
/// With at most 6 numbers below 1000, every exact intermediate fits `i128` (see [`Ratio`]).
const MAX_NUMBER: u32 = 999;
const MAX_TARGET: u32 = 1_000_000;

impl CountdownConfig {
    pub fn validate(&self) -> Result<(), TaskError> {
        check_range("countdown.count_min", self.count_min, 2, MAX_COUNT)?;
        check_range(
            "countdown.count_max",
            self.count_max,
            self.count_min,
            MAX_COUNT,
        )?;
        check_range("countdown.n_max", self.n_max, 1, MAX_NUMBER)?;
        check_range("countdown.t_min", self.t_min, 0, MAX_TARGET)?;
        check_range("countdown.t_max", self.t_max, self.t_min, MAX_TARGET)?;
        self.operators()?;
        check_r_fmt("countdown.r_fmt", self.r_fmt)
    }

    /// The operator set in the order written, which is the order `below` indexes.
    fn operators(&self) -> Result<Vec<Op>, TaskError> {
        let bad = || TaskError::OutOfRange {
            field: "countdown.ops".into(),
            allowed: "a non-empty string of distinct symbols from \"+-*/\"".into(),
            got: format!("{:?}", self.ops),
        };
        let mut ops = Vec::new();
        for c in self.ops.chars() {
            let op = Op::from_symbol(c).ok_or_else(bad)?;
            if ops.contains(&op) {
                return Err(bad());
            }
            ops.push(op);
        }
        if ops.is_empty() {
            return Err(bad());
        }
        Ok(ops)
    }
}

/// The countdown task; see the module doc.
#[derive(Debug, Clone)]
pub struct Countdown {
    config: CountdownConfig,
    ops: Vec<Op>,
}

/// What the verifier needs, stored in [`Problem::meta`].
#[derive(Debug, Deserialize)]
struct Meta {
    numbers: Vec<u64>,
    target: u64,
}

fn listing_text(numbers: &[u64]) -> String {
    numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Countdown {
    /// Validates the config and checks that every split can be sampled.
    pub fn new(config: CountdownConfig) -> Result<Countdown, TaskError> {
        config.validate()?;
        let ops = config.operators()?;
        let task = Countdown { config, ops };
        task.probe()?;
        Ok(task)
    }

    pub fn config(&self) -> &CountdownConfig {
        &self.config
    }

    /// A random tree over `leaves` in order (step 3 of the draw order on `sample`).
    fn draw_tree(&self, rng: &mut ChaCha8Rng, leaves: &[u64]) -> Expr {
        match leaves {
            [] => Expr::Num(0),
            [x] => Expr::Num(*x),
            _ => {
                let split = between(rng, 1, leaves.len() as u64 - 1) as usize;
                let op = self.ops[below(rng, self.ops.len() as u64) as usize];
                let lhs = self.draw_tree(rng, &leaves[..split]);
                let rhs = self.draw_tree(rng, &leaves[split..]);
                Expr::bin(op, lhs, rhs)
            }
        }
    }

    /// The tree's value if the construction is acceptable: no division by zero, and under
    /// `integer_only` no negative or fractional value at any node.
    fn constructed_value(&self, e: &Expr) -> Option<Ratio> {
        let value = match e {
            Expr::Num(n) => Ratio::integer(i128::from(*n)),
            Expr::Bin { op, lhs, rhs } => {
                let (a, b) = (self.constructed_value(lhs)?, self.constructed_value(rhs)?);
                if *op == Op::Div && b.is_zero() {
                    return None;
                }
                op.apply(a, b)?
            }
        };
        let bad = self.config.integer_only && (!value.is_integer() || value.numer() < 0);
        (!bad).then_some(value)
    }

    fn prompt(numbers: &[u64], target: u64) -> String {
        format!("nums:{} target:{target}\n", listing_text(numbers))
    }
}

impl Generator for Countdown {
    const NAME: &'static str = NAME;
    const SPARSE_HINT: &'static str =
        "widen t_min..t_max, raise n_max or count_max, or allow more ops";

    /// See [`Task::sample`] on [`Countdown`] for the draw order.
    fn draw_within(&self, split: Split, rng: &mut ChaCha8Rng, budget: &mut u64) -> Option<Problem> {
        let c = &self.config;
        loop {
            if !spend(budget) {
                return None;
            }
            let k = between(rng, u64::from(c.count_min), u64::from(c.count_max)) as usize;
            let leaves: Vec<u64> = (0..k)
                .map(|_| between(rng, 1, u64::from(c.n_max)))
                .collect();
            let tree = self.draw_tree(rng, &leaves);
            let Some(target) = self.constructed_value(&tree).and_then(|v| v.to_integer()) else {
                continue;
            };
            if target < i128::from(c.t_min) || target > i128::from(c.t_max) {
                continue;
            }
            let target = target as u64;
            let mut numbers = leaves;
            numbers.sort_unstable();
            let key = Countdown::prompt(&numbers, target);
            if split_of(&key) != split {
                continue;
            }
            if c.listing == Listing::Shuffled {
                shuffle(&mut ChaCha8Rng::seed_from_u64(fnv1a64(&key)), &mut numbers);
            }
            let solution = tree.to_infix();
            let meta = serde_json::json!({ "task": NAME, "numbers": numbers, "target": target });
            return Some(Problem {
                prompt: Countdown::prompt(&numbers, target),
                answer: solution.clone(),
                solution,
                key,
                meta,
            });
        }
    }
}

/// Whether `used` is allowed by `given`: the same multiset, or with `at_most_once` a sub-multiset.
fn uses_numbers(used: &[u64], given: &[u64], at_most_once: bool) -> bool {
    let mut used = used.to_vec();
    let mut given = given.to_vec();
    used.sort_unstable();
    given.sort_unstable();
    if !at_most_once {
        return used == given;
    }
    // Merge walk over the two sorted lists: every used number must consume one given copy.
    let mut g = given.into_iter();
    used.into_iter().all(|u| g.by_ref().any(|x| x == u))
}

impl Task for Countdown {
    fn name(&self) -> &'static str {
        NAME
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    /// Draw order of one candidate, with the primitives of [`draw`](super::draw); the whole
    /// order is repeated on any rejection:
    /// 1. count `k = between(count_min, count_max)`;
    /// 2. `k` numbers, each `between(1, n_max)`; as they are i.i.d., the drawn order is already a
    ///    uniformly random order of the multiset, and the tree's leaves take them in that order;
    /// 3. the tree, pre-order: for a run of `m >= 2` leaves, the size of the left part
    ///    `between(1, m-1)`, then the operator `ops[below(|ops|)]` (indexing `ops` as written),
    ///    then the left part, then the right part;
    /// 4. reject on a division by zero, under `integer_only` on any negative or fractional node
    ///    value, and unless the root value is an integer in `t_min..=t_max`;
    /// 5. reject unless `split_of(key)` is the split asked for, where the key is the prompt with
    ///    the numbers sorted.
    ///
    /// With `listing = "shuffled"` the prompt's order comes from `shuffle` driven by a separate
    /// `ChaCha8Rng::seed_from_u64(fnv1a64(key))`, not from `rng`: the listing is then a function
    /// of the problem, and both listings of one seed give the same sequence of problems.
    fn sample(&self, split: Split, rng: &mut ChaCha8Rng) -> Problem {
        self.sample_unbounded(split, rng)
    }

    /// The first line of the completion must match `^[0-9+\-*/() ]+$` (else malformed); it is
    /// correct iff it parses, uses the numbers by the multiset rule, has no division by zero,
    /// and equals the target exactly (rationals, so `(1/3)*3` counts as 1).
    fn verify(&self, problem: &Problem, completion: &str) -> Verdict {
        let Ok(meta) = Meta::deserialize(&problem.meta) else {
            return Verdict::malformed();
        };
        if !generated_by(problem, NAME) {
            return Verdict::malformed();
        }
        let line = first_line(completion);
        let allowed = |b: u8| b.is_ascii_digit() || b"+-*/() ".contains(&b);
        if line.is_empty() || !line.bytes().all(allowed) {
            return Verdict::malformed();
        }
        let correct = parse(line).ok().is_some_and(|expr| {
            uses_numbers(&expr.literals(), &meta.numbers, self.config.at_most_once)
                && expr.eval().ok() == Some(Ratio::integer(i128::from(meta.target)))
        });
        Verdict::graded(correct, true, self.config.r_fmt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiset_rules() {
        assert!(uses_numbers(&[3, 5, 7], &[7, 5, 3], false));
        assert!(!uses_numbers(&[3, 5], &[7, 5, 3], false));
        assert!(!uses_numbers(&[3, 3, 5, 7], &[7, 5, 3], false));
        assert!(uses_numbers(&[3, 5], &[7, 5, 3], true));
        assert!(uses_numbers(&[3, 3], &[3, 5, 3], true));
        assert!(!uses_numbers(&[3, 3], &[3, 5, 7], true));
        assert!(!uses_numbers(&[4], &[3, 5, 7], true));
        assert!(uses_numbers(&[], &[3], true));
    }

    #[test]
    fn ops_knob_rejects_unknown_or_repeated_symbols() {
        for ops in ["", "+^", "++", "x"] {
            let c = CountdownConfig {
                ops: ops.into(),
                ..Default::default()
            };
            match c.validate() {
                Err(TaskError::OutOfRange { field, .. }) => assert_eq!(field, "countdown.ops"),
                other => panic!("{ops:?}: {other:?}"),
            }
        }
    }
}
