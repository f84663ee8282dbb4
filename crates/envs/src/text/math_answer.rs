//! The pure-Rust core of the `math` reward (issue 12): pull the final answer out of a GSM8K- or
//! MATH-style completion and decide whether it equals a reference answer, the way RL-for-reasoning
//! toolkits (TRL, verl) score such completions with Hugging Face's `math-verify`.
//!
//! What it implements (details in `docs/rewards/math.md`):
//! - [`extract_answer`]: the content of the last `\boxed{...}` / `\fbox{...}` (nested braces
//!   balanced), else the text after the last `####`, else the last `<answer>...</answer>`, else
//!   the last number in the text.
//! - [`answers_match`]: both sides are normalized (LaTeX spacing and wrappers, `$`, `\text{}`,
//!   units, thousands separators, `\dfrac`/`\tfrac`), then compared as numbers when both read as
//!   one (integers, decimals, `a/b`, `\frac`, mixed numbers, percent) with a relative tolerance of
//!   [`REL_TOL`], and as normalized strings otherwise.
//! - [`math_reward`]: 1.0 when the extracted answer matches, else 0.0.
//!
//! What it deliberately does not do: symbolic algebra. `1+x` and `x+1`, `2\sqrt{2}` and
//! `\sqrt{8}`, `\pi` and `3.14159` are different answers here, where math-verify (through sympy)
//! may call them equal. Expressions are only compared as strings after normalization; a checker
//! that needs algebra should call math-verify itself.
//!
//! Dependency-free and total: every function accepts any string (unbalanced braces, empty,
//! unicode) without panicking.

/// Relative tolerance for numeric answers: `|a - b| <= REL_TOL * max(1, |a|, |b|)`. Chosen to
/// sit where math-verify lands (it rounds floats to 6 decimals): `0.333333` equals `1/3`, but
/// `1.000001` does not equal `1`, nor `0.33` equal `1/3`, nor `1000001` equal `1000000`.
pub const REL_TOL: f64 = 5e-7;

/// 1.0 when the answer extracted from `completion` equals `reference` ([`answers_match`]), else
/// 0.0 (also when nothing can be extracted).
pub fn math_reward(completion: &str, reference: &str) -> f64 {
    match extract_answer(completion) {
        Some(answer) if answers_match(&answer, reference) => 1.0,
        _ => 0.0,
    }
}

/// The final answer of `completion`, in order of preference: the content of the last balanced
/// `\boxed{...}` or `\fbox{...}`; the rest of the line after the last `####` (GSM8K); the content
/// of the last `<answer>...</answer>`; the last number (`-12`, `1,000`, `0.5`, `3/4`). Empty
/// candidates fall through to the next rule; `None` when there is nothing.
pub fn extract_answer(completion: &str) -> Option<String> {
    last_boxed(completion)
        .or_else(|| after_hashes(completion))
        .or_else(|| answer_tag(completion))
        .or_else(|| last_number(completion))
}

/// Whether `predicted` and `reference` are the same answer after normalization: numerically
/// within [`REL_TOL`] when both read as numbers (a side written as a percent, `50%` or `50\%`,
/// may equal either `50` or `0.5`, as in math-verify), else as equal normalized strings.
pub fn answers_match(predicted: &str, reference: &str) -> bool {
    let p = normalize(predicted);
    let r = normalize(reference);
    if p.text.is_empty() || r.text.is_empty() {
        return false;
    }
    match (parse_value(&p.text), parse_value(&r.text)) {
        (Some(a), Some(b)) => candidates(a, p.percent)
            .iter()
            .any(|&x| candidates(b, r.percent).iter().any(|&y| close(x, y))),
        _ => p.percent == r.percent && strip_spaces(&p.text) == strip_spaces(&r.text),
    }
}

fn candidates(v: f64, percent: bool) -> Vec<f64> {
    if percent {
        vec![v, v / 100.0]
    } else {
        vec![v]
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL_TOL * 1f64.max(a.abs()).max(b.abs())
}

// ---------------------------------------------------------------------------------------------
// Extraction

/// Content of the last `\boxed{..}` / `\fbox{..}` whose braces balance and which is not empty.
fn last_boxed(s: &str) -> Option<String> {
    let mut starts: Vec<(usize, usize)> = Vec::new();
    for cmd in ["\\boxed", "\\fbox"] {
        starts.extend(s.match_indices(cmd).map(|(i, m)| (i, i + m.len())));
    }
    starts.sort_unstable();
    starts.into_iter().rev().find_map(|(_, after)| {
        let rest = s[after..].trim_start();
        let (content, _) = braced(rest)?;
        let content = content.trim();
        (!content.is_empty()).then(|| content.to_string())
    })
}

/// When `s` starts with `{`, the text inside the matching `}` and what follows it. `\{` and `\}`
/// are literal braces in LaTeX, so they do not count.
fn braced(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('{') {
        return None;
    }
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The rest of the line after the last `####`, trimmed, when not empty.
fn after_hashes(s: &str) -> Option<String> {
    let i = s.rfind("####")?;
    let line = s[i + 4..].split('\n').next().unwrap_or("");
    let line = line.trim_start_matches('#').trim();
    (!line.is_empty()).then(|| line.to_string())
}

/// The content of the last `<answer>...</answer>`, trimmed, when not empty.
fn answer_tag(s: &str) -> Option<String> {
    let open = s.rfind("<answer>")?;
    let body = &s[open + "<answer>".len()..];
    let close = body.find("</answer>")?;
    let content = body[..close].trim();
    (!content.is_empty()).then(|| content.to_string())
}

/// The last number in `s`: an optional `-` (not after a digit or letter, so `5-3` gives `3`),
/// digits with optional `,ddd` groups, an optional decimal part and an optional `/digits`.
fn last_number(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut last: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = digits_end(&chars, i);
        // Thousands groups: a comma followed by exactly three digits.
        while end < chars.len() && chars[end] == ',' && digits_end(&chars, end + 1) == end + 4 {
            end += 4;
        }
        if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
            end = digits_end(&chars, end + 1);
        }
        if end + 1 < chars.len() && chars[end] == '/' && chars[end + 1].is_ascii_digit() {
            end = digits_end(&chars, end + 1);
        }
        let negative = start > 0
            && chars[start - 1] == '-'
            && (start < 2 || !chars[start - 2].is_alphanumeric());
        let from = if negative { start - 1 } else { start };
        last = Some(chars[from..end].iter().collect());
        i = end;
    }
    last
}

fn digits_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------------
// Normalization

struct Normalized {
    /// The answer with wrappers, units and spacing removed; a space is kept only between two
    /// digits, where it may separate a mixed number (`1 1/2`).
    text: String,
    /// It ended in `%` (or `\%`), now removed.
    percent: bool,
}

/// Commands whose argument is kept and the command dropped: text and font wrappers, and a box
/// left inside the answer (`\boxed{\boxed{5}}`).
const UNWRAP: [&str; 9] = [
    "\\text",
    "\\textbf",
    "\\textit",
    "\\mathrm",
    "\\mathbf",
    "\\mbox",
    "\\boxed",
    "\\fbox",
    "\\operatorname",
];

/// LaTeX that carries no value: sizing, spacing, math-mode delimiters, degree signs.
const DROP: [&str; 17] = [
    "\\left",
    "\\right",
    "\\displaystyle",
    "\\!",
    "\\,",
    "\\;",
    "\\:",
    "\\ ",
    "\\$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "^{\\circ}",
    "^\\circ",
    "\\circ",
    "\\degree",
];

fn normalize(s: &str) -> Normalized {
    let mut t = s.trim().to_string();
    // Wrappers may nest (`\boxed{\text{5}}`): unwrap until nothing changes, a bounded number
    // of rounds so that a pathological input cannot make this slow.
    for _ in 0..8 {
        let before = t.len();
        for cmd in UNWRAP {
            t = unwrap_command(&t, cmd);
        }
        if t.len() == before {
            break;
        }
    }
    for d in DROP {
        t = t.replace(d, "");
    }
    t = t
        .replace("\\dfrac", "\\frac")
        .replace("\\tfrac", "\\frac")
        .replace("\\%", "%")
        .replace("{,}", ",")
        .replace('$', "")
        .replace('~', " ");
    let mut t = strip_units(t.trim()).to_string();
    // A sentence's full stop after the answer (`5.`) is not part of it.
    if t.ends_with('.') {
        t.pop();
    }
    let mut text = squeeze_spaces(&t);
    while let Some(inner) = whole_braced(&text) {
        text = inner.to_string();
    }
    let percent = text.ends_with('%');
    if percent {
        text.pop();
    }
    Normalized {
        text: text.trim().to_string(),
        percent,
    }
}

/// Replaces every `cmd{body}` by `body` (so `5\text{ cm}` becomes `5 cm`). A command with no
/// balanced argument is left as it is.
fn unwrap_command(s: &str, cmd: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(cmd) {
        let after = &rest[i + cmd.len()..];
        // `\text` must not eat the start of `\textbf`: the command name ends at a non-letter.
        let name_ends = !after.starts_with(|c: char| c.is_ascii_alphabetic());
        match braced(after.trim_start()) {
            Some((body, tail)) if name_ends => {
                out.push_str(&rest[..i]);
                out.push_str(body);
                rest = tail;
            }
            _ => {
                out.push_str(&rest[..i + cmd.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Drops trailing words after a number (`5 dollars`, `12 cm`, `3 hours.`): when the text is a
/// number, whitespace, then only letters, spaces and full stops. A single letter is kept
/// (`5 x` is an expression, not a unit).
fn strip_units(s: &str) -> &str {
    for (i, c) in s.char_indices() {
        if !c.is_whitespace() {
            continue;
        }
        let (head, tail) = (s[..i].trim(), s[i..].trim());
        let wordy = tail
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '.');
        let letters = tail.chars().filter(|c| c.is_alphabetic()).count();
        if wordy && letters >= 2 && parse_value(&squeeze_spaces(head)).is_some() {
            return head;
        }
    }
    s
}

/// Removes whitespace, except one space between two digits.
fn squeeze_spaces(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_whitespace() {
            out.push(c);
            continue;
        }
        let prev_digit = out.ends_with(|p: char| p.is_ascii_digit());
        let next_digit = chars[i..]
            .iter()
            .find(|c| !c.is_whitespace())
            .is_some_and(|c| c.is_ascii_digit());
        if prev_digit && next_digit && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out
}

fn strip_spaces(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The inside of `s` when all of it is one `{...}` group.
fn whole_braced(s: &str) -> Option<&str> {
    match braced(s) {
        Some((inner, "")) => Some(inner),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers

/// The value of a normalized answer that is a number: an optional sign, then a decimal (with
/// `,ddd` groups), `a/b`, `\frac{a}{b}` (or `\frac12`), or a mixed number `2\frac{1}{2}` /
/// `2 1/2`. Anything else (expressions, intervals, words) is `None`.
fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = parse_unsigned(rest.trim_start())?;
    v.is_finite().then_some(sign * v)
}

fn parse_unsigned(s: &str) -> Option<f64> {
    if let Some(inner) = whole_braced(s) {
        return parse_value(inner);
    }
    // Mixed number written with a space: `2 1/2`.
    if let Some((whole, frac)) = s.split_once(' ') {
        let w = integer(whole)?;
        let (a, b) = frac.split_once('/')?;
        return Some(w + ratio(integer(a)?, integer(b)?)?);
    }
    if let Some(i) = s.find("\\frac") {
        let (a, b) = frac_args(&s[i + "\\frac".len()..])?;
        let f = ratio(parse_value(a)?, parse_value(b)?)?;
        return match &s[..i] {
            "" => Some(f),
            // Mixed number: `2\frac{1}{2}` is 5/2, as in math-verify.
            whole => Some(integer(whole)? + f),
        };
    }
    if let Some((a, b)) = s.split_once('/') {
        return ratio(decimal(a)?, parse_value(b)?);
    }
    decimal(s)
}

/// The two arguments of `\frac` (after the command): each a `{...}` group or a single character,
/// and nothing after them.
fn frac_args(s: &str) -> Option<(&str, &str)> {
    let (a, rest) = frac_arg(s)?;
    let (b, rest) = frac_arg(rest)?;
    rest.is_empty().then_some((a, b))
}

fn frac_arg(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('{') {
        return braced(s);
    }
    let c = s.chars().next()?;
    Some(s.split_at(c.len_utf8()))
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

fn integer(s: &str) -> Option<f64> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// A plain decimal: digits (the integer part optionally in `,ddd` groups), an optional `.digits`.
fn decimal(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let int_digits: String = groups.concat();
    let frac_ok = frac.is_none_or(|f| !f.is_empty());
    let all_digits = int_digits
        .chars()
        .chain(frac.unwrap_or("").chars())
        .all(|c| c.is_ascii_digit());
    if !grouped_ok || !frac_ok || !all_digits || int_digits.is_empty() {
        return None;
    }
    match frac {
        Some(f) => format!("{int_digits}.{f}").parse().ok(),
        None => int_digits.parse().ok(),
    }
}
