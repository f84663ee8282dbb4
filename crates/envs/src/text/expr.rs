//! Integer arithmetic expressions with `+ - * /` and parentheses, evaluated exactly.
//!
//! Used by the countdown verifier and generator; meant to be shared by the calculator tool task
//! later. Grammar (recursive descent; `* /` bind tighter than `+ -`, both left associative; no
//! unary minus, because countdown answers combine the given numbers with binary operations only):
//!
//! ```text
//! expr   := term   (('+' | '-') term)*
//! term   := factor (('*' | '/') factor)*
//! factor := NUMBER | '(' expr ')'
//! ```
//! Spaces between tokens are ignored. Inputs are bounded ([`MAX_TOKENS`]) so that recursion in
//! parsing, evaluation and drop stays shallow on arbitrary model output.
use std::fmt;

/// Longest accepted input, in tokens; far above any countdown answer, and it bounds the tree
/// depth (hence the recursion depth) on adversarial input.
pub const MAX_TOKENS: usize = 256;

/// An exact rational `num / den` with `den > 0` and `gcd(|num|, den) = 1`.
///
/// Hand-written on `i128` rather than taken from `num-rational`: it is about sixty lines, has no
/// dependency to version-pin, and its range is provably enough for countdown. With at most 6
/// literals of at most 999, every numerator and denominator met while evaluating stays below
/// `2^5 * 999^6 < 2^65`, and every product formed below `2^127`. Arithmetic is still checked, so
/// that out-of-range input (other tasks, hand-written expressions) fails instead of wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    pub fn integer(n: i128) -> Self {
        Ratio { num: n, den: 1 }
    }

    /// `num / den` in lowest terms; `None` when `den == 0` or on overflow.
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = num.checked_neg()?;
            den = den.checked_neg()?;
        }
        Some(Ratio { num, den })
    }

    pub fn numer(&self) -> i128 {
        self.num
    }

    pub fn denom(&self) -> i128 {
        self.den
    }

    pub fn is_integer(&self) -> bool {
        self.den == 1
    }

    /// The value when it is an integer.
    pub fn to_integer(&self) -> Option<i128> {
        self.is_integer().then_some(self.num)
    }

    pub fn checked_add(self, rhs: Ratio) -> Option<Ratio> {
        let num = self
            .num
            .checked_mul(rhs.den)?
            .checked_add(rhs.num.checked_mul(self.den)?)?;
        Ratio::new(num, self.den.checked_mul(rhs.den)?)
    }

    pub fn checked_sub(self, rhs: Ratio) -> Option<Ratio> {
        self.checked_add(Ratio {
            num: rhs.num.checked_neg()?,
            den: rhs.den,
        })
    }

    pub fn checked_mul(self, rhs: Ratio) -> Option<Ratio> {
        Ratio::new(
            self.num.checked_mul(rhs.num)?,
            self.den.checked_mul(rhs.den)?,
        )
    }

    /// `None` on division by zero as well as on overflow; [`Expr::eval`] tells them apart.
    pub fn checked_div(self, rhs: Ratio) -> Option<Ratio> {
        Ratio::new(
            self.num.checked_mul(rhs.den)?,
            self.den.checked_mul(rhs.num)?,
        )
    }

    pub fn is_zero(&self) -> bool {
        self.num == 0
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Add, Op::Sub, Op::Mul, Op::Div];

    pub fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '-',
            Op::Mul => '*',
            Op::Div => '/',
        }
    }

    pub fn from_symbol(c: char) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.symbol() == c)
    }

    fn precedence(self) -> u8 {
        match self {
            Op::Add | Op::Sub => 1,
            Op::Mul | Op::Div => 2,
        }
    }

    /// `Some(value)`, or `None` for division by zero or overflow.
    pub fn apply(self, lhs: Ratio, rhs: Ratio) -> Option<Ratio> {
        match self {
            Op::Add => lhs.checked_add(rhs),
            Op::Sub => lhs.checked_sub(rhs),
            Op::Mul => lhs.checked_mul(rhs),
            Op::Div => lhs.checked_div(rhs),
        }
    }
}

/// A parsed expression tree; literals are non-negative integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Num(u64),
    Bin {
        op: Op,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty expression")]
    Empty,
    #[error("unexpected character {ch:?} at byte {pos}")]
    BadChar { pos: usize, ch: char },
    #[error("number at byte {pos} does not fit in 64 bits")]
    NumberTooLarge { pos: usize },
    #[error("expected {expected} at byte {pos}")]
    Expected { pos: usize, expected: &'static str },
    #[error("unexpected {found:?} at byte {pos} after a complete expression")]
    Trailing { pos: usize, found: char },
    #[error("expression longer than {MAX_TOKENS} tokens")]
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("arithmetic overflow")]
    Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Num(u64),
    Op(Op),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let tok = match b {
            b' ' => {
                i += 1;
                continue;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let value = s[start..i]
                    .parse()
                    .map_err(|_| ParseError::NumberTooLarge { pos: start })?;
                out.push((start, Tok::Num(value)));
                continue;
            }
            b'(' => Tok::Open,
            b')' => Tok::Close,
            _ => match Op::from_symbol(b as char) {
                Some(op) if b.is_ascii() => Tok::Op(op),
                _ => {
                    let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                    return Err(ParseError::BadChar { pos: i, ch });
                }
            },
        };
        out.push((i, tok));
        i += 1;
    }
    if out.len() > MAX_TOKENS {
        return Err(ParseError::TooLong);
    }
    Ok(out)
}

struct Parser<'a> {
    toks: &'a [(usize, Tok)],
    at: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.at).map(|&(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |&(p, _)| p)
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.term()?;
        while let Some(Tok::Op(op @ (Op::Add | Op::Sub))) = self.peek() {
            self.at += 1;
            let rhs = self.term()?;
            lhs = Expr::Bin {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.factor()?;
        while let Some(Tok::Op(op @ (Op::Mul | Op::Div))) = self.peek() {
            self.at += 1;
            let rhs = self.factor()?;
            lhs = Expr::Bin {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn factor(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.expr()?;
                if self.peek() != Some(Tok::Close) {
                    return Err(ParseError::Expected {
                        pos: self.pos(),
                        expected: "')'",
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            _ => Err(ParseError::Expected {
                pos: self.pos(),
                expected: "a number or '('",
            }),
        }
    }
}

/// Parses the whole of `s` (see the module doc for the grammar).
pub fn parse(s: &str) -> Result<Expr, ParseError> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut p = Parser {
        toks: &toks,
        at: 0,
        end: s.len(),
    };
    let e = p.expr()?;
    match toks.get(p.at) {
        None => Ok(e),
        Some(&(pos, _)) => Err(ParseError::Trailing {
            pos,
            found: s[pos..].chars().next().unwrap_or(' '),
        }),
    }
}

impl Expr {
    pub fn bin(op: Op, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Bin {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// The exact value; division by zero anywhere in the tree is an error, even in a branch
    /// that is later multiplied by zero.
    pub fn eval(&self) -> Result<Ratio, EvalError> {
        match self {
            Expr::Num(n) => Ok(Ratio::integer(i128::from(*n))),
            Expr::Bin { op, lhs, rhs } => {
                let (a, b) = (lhs.eval()?, rhs.eval()?);
                if *op == Op::Div && b.is_zero() {
                    return Err(EvalError::DivisionByZero);
                }
                op.apply(a, b).ok_or(EvalError::Overflow)
            }
        }
    }

    /// The literals, left to right.
    pub fn literals(&self) -> Vec<u64> {
        let mut out = Vec::new();
        self.collect_literals(&mut out);
        out
    }

    fn collect_literals(&self, out: &mut Vec<u64>) {
        match self {
            Expr::Num(n) => out.push(*n),
            Expr::Bin { lhs, rhs, .. } => {
                lhs.collect_literals(out);
                rhs.collect_literals(out);
            }
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Num(_) => u8::MAX,
            Expr::Bin { op, .. } => op.precedence(),
        }
    }

    /// Infix text with the fewest parentheses that [`parse`] reads back as the same tree up to
    /// exact value: a left operand is bracketed only when it binds more loosely, a right operand
    /// also when it binds equally under `-` or `/` (the non-associative operators). Under `+`
    /// and `*` an equal-precedence right operand is left bare: `a+(b-c)` becomes `a+b-c`, which
    /// parses as `(a+b)-c`, a different tree with the same exact value.
    pub fn to_infix(&self) -> String {
        let mut s = String::new();
        self.write_infix(&mut s);
        s
    }

    fn write_infix(&self, s: &mut String) {
        match self {
            Expr::Num(n) => s.push_str(&n.to_string()),
            Expr::Bin { op, lhs, rhs } => {
                let p = op.precedence();
                let wrap_left = lhs.precedence() < p;
                let wrap_right = rhs.precedence() < p
                    || (rhs.precedence() == p && matches!(op, Op::Sub | Op::Div));
                write_operand(lhs, wrap_left, s);
                s.push(op.symbol());
                write_operand(rhs, wrap_right, s);
            }
        }
    }
}

fn write_operand(e: &Expr, wrap: bool, s: &mut String) {
    if wrap {
        s.push('(');
    }
    e.write_infix(s);
    if wrap {
        s.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Ratio {
        match parse(s) {
            Ok(e) => match e.eval() {
                Ok(v) => v,
                Err(err) => panic!("{s:?}: {err}"),
            },
            Err(err) => panic!("{s:?}: {err}"),
        }
    }

    #[test]
    fn ratios_reduce_and_keep_the_sign_on_the_numerator() {
        assert_eq!(Ratio::new(6, -4), Ratio::new(-3, 2));
        assert_eq!(Ratio::new(0, -5), Some(Ratio::integer(0)));
        assert_eq!(Ratio::new(1, 0), None);
        let third = Ratio::new(1, 3).unwrap_or(Ratio::integer(0));
        assert_eq!(
            third.checked_add(third).and_then(|x| x.checked_add(third)),
            Some(Ratio::integer(1))
        );
    }

    #[test]
    fn precedence_and_left_associativity() {
        assert_eq!(value("2+3*4"), Ratio::integer(14));
        assert_eq!(value("8-4-2"), Ratio::integer(2));
        assert_eq!(value("16/4/2"), Ratio::integer(2));
        assert_eq!(
            value("2*3/4"),
            Ratio::new(3, 2).unwrap_or(Ratio::integer(0))
        );
        assert_eq!(value("8/(4/2)"), Ratio::integer(4));
        assert_eq!(value(" ( 9 - 5 ) * ( 7 - 3 ) "), Ratio::integer(16));
    }

    #[test]
    fn division_by_zero_is_an_eval_error_not_a_parse_error() {
        for s in ["1/0", "5/(3-3)", "0*(1/0)"] {
            assert_eq!(
                parse(s).map(|e| e.eval()),
                Ok(Err(EvalError::DivisionByZero)),
                "{s}"
            );
        }
    }

    #[test]
    fn malformed_inputs_are_parse_errors() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("   "), Err(ParseError::Empty));
        assert!(matches!(
            parse("-1+2"),
            Err(ParseError::Expected { pos: 0, .. })
        ));
        assert!(matches!(parse("(1+2"), Err(ParseError::Expected { .. })));
        assert!(matches!(
            parse("1+"),
            Err(ParseError::Expected { pos: 2, .. })
        ));
        assert!(matches!(parse("()"), Err(ParseError::Expected { .. })));
        assert!(matches!(
            parse("1 2"),
            Err(ParseError::Trailing { pos: 2, .. })
        ));
        assert!(matches!(
            parse("3x"),
            Err(ParseError::BadChar { pos: 1, ch: 'x' })
        ));
        assert!(matches!(
            parse("2×3"),
            Err(ParseError::BadChar { ch: '×', .. })
        ));
        assert!(matches!(
            parse("99999999999999999999999"),
            Err(ParseError::NumberTooLarge { pos: 0 })
        ));
        let long = vec!["1"; MAX_TOKENS].join("+");
        assert_eq!(parse(&long), Err(ParseError::TooLong));
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(parse(&deep), Err(ParseError::TooLong));
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        let e = parse("18446744073709551615*18446744073709551615*18446744073709551615");
        assert_eq!(e.map(|e| e.eval()), Ok(Err(EvalError::Overflow)));
    }

    #[test]
    fn minimal_infix_round_trips_to_the_same_value() {
        let n = |x| Expr::Num(x);
        let cases = [
            (
                Expr::bin(Op::Sub, n(8), Expr::bin(Op::Sub, n(4), n(2))),
                "8-(4-2)",
            ),
            (
                Expr::bin(Op::Sub, Expr::bin(Op::Sub, n(8), n(4)), n(2)),
                "8-4-2",
            ),
            (
                Expr::bin(Op::Div, n(8), Expr::bin(Op::Mul, n(4), n(2))),
                "8/(4*2)",
            ),
            (
                Expr::bin(Op::Mul, n(8), Expr::bin(Op::Div, n(4), n(2))),
                "8*4/2",
            ),
            (
                Expr::bin(Op::Add, n(1), Expr::bin(Op::Sub, n(4), n(2))),
                "1+4-2",
            ),
            (
                Expr::bin(
                    Op::Mul,
                    Expr::bin(Op::Add, n(1), n(2)),
                    Expr::bin(Op::Sub, n(7), n(3)),
                ),
                "(1+2)*(7-3)",
            ),
        ];
        for (tree, text) in cases {
            assert_eq!(tree.to_infix(), text);
            assert_eq!(parse(text).map(|e| e.eval()), Ok(tree.eval()), "{text}");
        }
    }

    #[test]
    fn literals_are_listed_left_to_right() {
        assert_eq!(
            parse("(9-5)*(7-3)").map(|e| e.literals()),
            Ok(vec![9, 5, 7, 3])
        );
    }
}
