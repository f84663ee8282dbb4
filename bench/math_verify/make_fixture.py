#!/usr/bin/env python3
"""Reference fixture for polopt's `math` reward (crates/envs/src/text/math_answer.rs).

Generates (completion, reference) cases deterministically (seeded), scores each with Hugging
Face's `math-verify` and writes crates/envs/tests/fixtures/math_verify.jsonl: one JSON object a
line with id, category, completion, reference, math_verify (the verdict) and version. The Rust
test (crates/envs/tests/math_answer.rs) reads the file, so the test suite never needs Python.

    python3 -m venv /tmp/mvenv && /tmp/mvenv/bin/pip install math-verify
    /tmp/mvenv/bin/python bench/math_verify/make_fixture.py

Scoring follows math-verify's documented use: `verify(parse(gold), parse(completion))` with the
default extraction configs. The reference is parsed as `$reference$` (math mode), so a bare
`x + 1` or `(1,2)` is read as an expression, not searched for its last number.
"""
import json
import os
import random
import sys
from importlib.metadata import version

from math_verify import parse, verify

SEED = 12
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "envs", "tests",
                   "fixtures", "math_verify.jsonl")

rng = random.Random(SEED)
cases = []  # (category, completion, reference)


def add(cat, completion, reference):
    cases.append((cat, completion, reference))


def thousands(n):
    return f"{n:,}"


LEADS = ["Let me compute step by step.", "First, we add the parts.",
         "We set up the equation and solve it.", "Counting carefully:", ""]


def lead():
    return rng.choice(LEADS)


def for_ints(count, lo, hi, cat, make):
    """`count` cases of `cat`, each from one integer drawn in [lo, hi]: make(n) gives
    (completion, reference)."""
    for _ in range(count):
        add(cat, *make(rng.randint(lo, hi)))


# 1. boxed integers, right and wrong (off by one, sign).
for_ints(40, 0, 5000, "boxed_int",
         lambda n: (f"{lead()} 3 + 4 = 7, so the result is \\boxed{{{n}}}.", str(n)))
for_ints(20, 1, 5000, "boxed_int_wrong",
         lambda n: (f"{lead()} So we get \\boxed{{{n + rng.choice([-1, 1, 10])}}}.", str(n)))

# 2. nested braces: fractions inside boxes, compared with decimals and a/b.
for _ in range(35):
    b = rng.choice([2, 4, 5, 8, 10, 20, 25])
    a = rng.randint(1, 3 * b)
    ref = rng.choice([f"{a / b:g}", f"{a}/{b}", f"\\frac{{{a}}}{{{b}}}"])
    add("boxed_frac", f"{lead()} Dividing, $x = \\boxed{{\\frac{{{a}}}{{{b}}}}}$.", ref)
for _ in range(15):
    b = rng.choice([3, 7, 9, 11])
    a = rng.randint(1, b - 1)
    add("boxed_frac_wrong", f"Hence \\boxed{{\\frac{{{a}}}{{{b}}}}}.", f"{a / b:.2f}")
for _ in range(10):
    b = rng.choice([3, 6, 7, 9])
    a = rng.randint(1, b - 1)
    add("boxed_frac_close", f"Hence \\boxed{{{a / b:.7f}}}.", f"\\frac{{{a}}}{{{b}}}")

# 3. \dfrac, \tfrac, \frac12 shorthand.
for _ in range(25):
    a, b = rng.randint(1, 9), rng.choice([2, 4, 5, 8])
    cmd = rng.choice(["\\dfrac", "\\tfrac"])
    body = rng.choice([f"{cmd}{{{a}}}{{{b}}}", f"{cmd}{a}{b}", f"\\frac{a}{b}"])
    ref = rng.choice([f"{a / b:g}", f"{a}/{b}"])
    add("frac_variants", f"The ratio is $\\boxed{{{body}}}$", ref)

# 4. GSM8K final line, with thousands separators.
for _ in range(40):
    n = rng.randint(0, 3_000_000)
    shown = rng.choice([str(n), thousands(n)])
    ref = rng.choice([str(n), thousands(n)])
    add("gsm8k", f"Natalia sold 48 clips in April and 24 in May.\n48 + 24 = 72\n#### {shown}", ref)
for _ in range(15):
    n = rng.randint(10, 3000)
    add("gsm8k_wrong", f"She has {n} apples, gives 2 away.\n#### {n - 2}", str(n))

# 5. <answer> tags (R1-style templates put the content on its own line).
for _ in range(30):
    n = rng.randint(0, 999)
    other = n + rng.randint(1, 50)
    add("answer_tag", f"<think>\n{other} - {other - n} = {n}\n</think>\n<answer>\n{n}\n</answer>", str(n))
for _ in range(10):
    n = rng.randint(0, 999)
    add("answer_tag_wrong", f"<think>\nwe get {n}\n</think>\n<answer>\n{n + 1}\n</answer>", str(n))
add("answer_tag_tight", "<answer>42</answer>", "42")
add("answer_tag_tight", "I think 7. <answer>42</answer>", "42")

# 6. last number in plain text.
for _ in range(35):
    a, b = rng.randint(1, 500), rng.randint(1, 500)
    add("last_number", f"She buys {a} pens and then {b} more, so she has {a + b} pens.", str(a + b))
for _ in range(20):
    a, b = rng.randint(1, 500), rng.randint(1, 500)
    add("last_number_wrong", f"We first find {a + b} pens. Then {b} are lost, leaving {a}.",
        str(a + b))

# 7. thousands separators inside boxes.
for_ints(20, 1000, 9_999_999, "thousands",
         lambda n: (f"Total cost: $\\boxed{{{thousands(n)}}}$", str(n)))

# 8. leading plus.
for_ints(10, 1, 99, "plus_sign", lambda n: (f"The change is \\boxed{{+{n}}}", str(n)))

# 9. trailing zeros.
for _ in range(25):
    n = rng.randint(0, 999)
    z = rng.choice([".0", ".00", ".000"])
    if rng.random() < 0.5:
        add("trailing_zeros", f"So \\boxed{{{n}{z}}}", str(n))
    else:
        add("trailing_zeros", f"So \\boxed{{{n}}}", f"{n}{z}")
for_ints(10, 0, 999, "trailing_zeros_wrong", lambda n: (f"So \\boxed{{{n}.5}}", str(n)))

# Sections with several written forms draw one per case (`rng.choice`, one draw like the
# `randrange` it replaces, so the fixture does not change): each form maps the drawn values to
# (completion, reference).
def add_forms(cat, forms, *values):
    completion, reference = rng.choice(forms)(*values)
    add(cat, completion, reference)


# 10. percent: math-verify accepts x% as x and as x/100, both ways round.
PERCENT_FORMS = [
    lambda p: (f"The discount is \\boxed{{{p:g}\\%}}", f"{p:g}"),
    lambda p: (f"The discount is \\boxed{{{p:g}\\%}}", f"{p / 100:g}"),
    lambda p: (f"The discount is \\boxed{{{p:g}}}", f"{p:g}\\%"),
    lambda p: (f"Discount:\n#### {p:g}%", f"{p:g}"),
]
for _ in range(30):
    add_forms("percent", PERCENT_FORMS, rng.choice([5, 10, 12.5, 20, 25, 40, 50, 75, 80]))
for _ in range(8):
    p = rng.choice([10, 20, 30])
    add("percent_wrong", f"The discount is \\boxed{{{p + 5}\\%}}", f"{p}")

# 11. LaTeX wrappers.
WRAPPER_FORMS = [
    lambda n, a, b: (f"The point is $\\boxed{{\\left({a},{b}\\right)}}$", f"({a},{b})"),
    lambda n, a, b: (f"So $\\boxed{{\\text{{{n}}}}}$", str(n)),
    lambda n, a, b: (f"So $\\boxed{{\\mathrm{{{n}}}}}$", str(n)),
    lambda n, a, b: (f"So $\\boxed{{\\,{n}\\!}}$", str(n)),
    lambda n, a, b: (f"The answer is \\(\\boxed{{{n}}}\\).", f"${n}$"),
    lambda n, a, b: (f"The point is $\\boxed{{({a}, {b})}}$", f"\\left( {a}, {b} \\right)"),
]
for _ in range(30):
    n = rng.randint(1, 999)
    a, b = rng.randint(-9, 9), rng.randint(-9, 9)
    add_forms("latex_wrappers", WRAPPER_FORMS, n, a, b)

# 12. units and currency.
UNIT_FORMS = [
    lambda n: (f"The rope is \\boxed{{{n}\\text{{ cm}}}} long.", str(n)),
    lambda n: (f"It costs \\boxed{{\\${n}}}.", str(n)),
    lambda n: (f"So the total is {n} dollars.", str(n)),
    lambda n: (f"Total:\n#### ${n}", str(n)),
    lambda n: (f"The width is \\boxed{{{n}\\text{{ meters}}}}", str(n)),
]
for _ in range(30):
    add_forms("units", UNIT_FORMS, rng.randint(1, 999))
for_ints(8, 1, 999, "units_wrong", lambda n: (f"It costs \\boxed{{\\${n + 1}}}.", str(n)))

# 13. negative numbers.
NEGATIVE_FORMS = [
    lambda n: (f"The temperature drops to \\boxed{{-{n}}}", f"-{n}"),
    lambda n: (f"Change:\n#### -{n}", f"-{n}"),
    lambda n: (f"x = \\boxed{{-\\frac{{{n}}}{{4}}}}", f"{-n / 4:g}"),
]
for _ in range(20):
    add_forms("negative", NEGATIVE_FORMS, rng.randint(1, 999))
for _ in range(10):
    n = rng.randint(1, 999)
    if rng.random() < 0.5:
        add("negative_wrong", f"The value is \\boxed{{-{n}}}", str(n))
    else:
        add("negative_wrong", f"The value is \\boxed{{{n}}}", f"-{n}")

# 14. mixed numbers.
for _ in range(15):
    w, b = rng.randint(1, 9), rng.choice([2, 4, 5])
    a = rng.randint(1, b - 1)
    ref = rng.choice([f"{w + a / b:g}", f"{w * b + a}/{b}"])
    add("mixed_number", f"So it takes \\boxed{{{w}\\frac{{{a}}}{{{b}}}}} hours.", ref)

# 15. expressions compared as normalized strings.
EXPRS = [("x+1", "x + 1"), ("2x-3", "2x - 3"), ("(1,2)", "(1, 2)"), ("x^2+1", "x^2 + 1"),
         ("[0,1]", "[0, 1]"), ("a+b", "a + b"), ("3x+2y", "3x + 2y"), ("\\{1,2,3\\}", "\\{1, 2, 3\\}")]
for _ in range(20):
    p, r = rng.choice(EXPRS)
    add("expression", f"Simplifying, we get $\\boxed{{{p}}}$.", r)
for p, r in [("x+2", "x+1"), ("2x-3", "2x+3"), ("(1,3)", "(1,2)"), ("x^3+1", "x^2+1")]:
    add("expression_wrong", f"Simplifying, we get $\\boxed{{{p}}}$.", r)

# 16. nested boxes and box preference over other markers (the category follows the form).
BOX_FORMS = [
    lambda n: ("nested_box", f"We get \\boxed{{{{{n}}}}}", str(n)),
    lambda n: ("box_over_number", f"\\boxed{{{n}}} is the answer; check: {n} - 1 = {n - 1}", str(n)),
    lambda n: ("box_over_number", f"Thus \\boxed{{\\frac{{{n}}}{{1}}}} (we tried {n + 3} first).",
               str(n)),
]
for _ in range(15):
    n = rng.randint(1, 99)
    add(*rng.choice(BOX_FORMS)(n))
for_ints(10, 1, 99, "box_wrong_content",
         lambda n: (f"We found {n} earlier, but the result is \\boxed{{{n + 2}}}.", str(n)))

# 17. near misses on decimals and fractions.
for a, b, shown in [(1, 3, "0.33"), (2, 3, "0.67"), (1, 3, "0.333"), (1, 7, "0.14"), (5, 6, "0.83"),
                    (1, 6, "0.17"), (4, 9, "0.44"), (2, 7, "0.286")]:
    add("decimal_vs_fraction_wrong", f"So \\boxed{{{shown}}}", f"\\frac{{{a}}}{{{b}}}")
for a, b, shown in [(1, 3, "0.333333"), (2, 3, "0.666667"), (1, 8, "0.125"), (3, 8, "0.375")]:
    add("decimal_vs_fraction", f"So \\boxed{{{shown}}}", f"{a}/{b}")
for n in [1000, 250, 37]:
    add("tolerance_wrong", f"So \\boxed{{{n}.001}}", str(n))
    add("tolerance_wrong", f"So \\boxed{{{n + 1}}}", str(n))

# 18. nothing to extract.
for text in ["I am not sure.", "", "Let me think about it...", "The answer is unknown.",
             "\\boxed{}", "<answer>\n\n</answer>", "#### ", "No numbers here at all!"]:
    add("no_answer", text, str(rng.randint(1, 99)))

# 19. known limitations of a non-symbolic checker (documented disagreements).
for p, r in [("1+x", "x+1"), ("2\\sqrt{2}", "\\sqrt{8}"), ("\\frac{x}{2}", "x/2"),
             ("\\fbox{7}", "7"), ("7\\,000", "7000"), ("1 \\frac{1}{2}", "1.5")]:
    add("symbolic", f"So we get $\\boxed{{{p}}}$" if not p.startswith("\\fbox") else f"So {p}", r)
add("symbolic", "\\boxed{1}\\boxed{2}", "2")
add("symbolic", "The answer is 12 and then 13", "13")

rows = []
for i, (cat, completion, reference) in enumerate(cases):
    gold = parse("$" + reference + "$")
    pred = parse(completion)
    ok = bool(verify(gold, pred)) if gold and pred else False
    rows.append({"id": i, "category": cat, "completion": completion, "reference": reference,
                 "math_verify": ok})

mv = version("math-verify")
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    for r in rows:
        r["version"] = mv
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(rows)} cases, {sum(r['math_verify'] for r in rows)} accepted by math-verify {mv}",
      file=sys.stderr)
