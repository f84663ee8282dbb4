"""Writes each text preset's "On the countdown testbed" section in docs/methods/ and the
combined table in docs/methods/README.md from the issue-13 grid (`runs/compare/countdown_grid`).

    python bench/countdown_pages.py [runs/compare/countdown_grid]

For every preset with 5 finished seeds (and GRPO's 5), `polopt report` renders the preset
against GRPO (runs of one seed share their warm start, so differences are paired); the section
holds the per-seed pass@1 table, the paired differences with their 95% bootstrap CI for the
measurements the paper's claim is about, the curves, and a verdict per claim that follows from
the CI: "reproduced" when it excludes zero on the claimed side, "not reproduced" when it
excludes zero on the other side, "inconclusive" when it holds zero. Presets not finished yet
are listed as such in the combined table and their pages are left alone.

Step-level DAPO's claim is an improvement over its own starting point, so its gain over the
warm start gets a percentile bootstrap over seeds here (10 000 resamples, seeded), the same
definition the report uses for its intervals.
"""
import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys

from run_archive import finished as run_finished

GRID = sys.argv[1] if len(sys.argv) > 1 else "runs/compare/countdown_grid"
BASE = "grpo"
SEEDS = 5
TARGET = "eval/pass@1>=0.33"
POLOPT = os.environ.get("POLOPT", "target/release/polopt")

P1 = ("eval/pass@1", "held-out greedy pass@1")
P16 = ("eval/pass@16", "held-out pass@16")
SP1 = ("eval/sampled_pass@1", "held-out sampled pass@1 (the papers' mean@k)")
ENT = ("entropy, mean of the last 20% of steps", "token entropy over the last 100 steps")
SIGNAL = ("nonzero_adv_group_frac, mean over all steps", "share of groups with a learning signal")
GSTD = ("grad_norm_std, mean over all steps", "spread of the gradient norms within a step")
# Stability is judged on the relative spread: the raw one grows with the size of a method's
# gradients (REINFORCE++'s global normalisation gives |A| 0.48 against GRPO's 0.28 on seed 0,
# and its norms are larger and more spread in proportion; BNPO's norms are 3.6x GRPO's at
# smaller mean |A|). The pages show both means beside the raw spread.
GCV = ("grad_norm_std / grad_norm, mean over all steps",
       "relative spread of the gradient norms within a step (std / mean)")
SAMPLES = (f"samples to {TARGET}", f"responses generated until pass@1 >= 0.33")
WALL = (f"wall_s to {TARGET}", f"seconds until pass@1 >= 0.33")

# preset -> (page, the paper's claim in one line, [measurements the claim is about][, the paper's
# baseline when it is not GRPO: the verdict is against it, GRPO's differences are shown too]).
CLAIMS = {
    "dr_grpo": ("grpo_family", "removes GRPO's length and difficulty biases at equal accuracy", [P1]),
    "dapo": ("grpo_family", "clip-higher and dynamic sampling: higher accuracy, no entropy collapse, no wasted groups", [P1, ENT, SAMPLES]),
    "rloo": ("grpo_family", "leave-one-out baseline: an unbiased, lower-variance estimate, accuracy at least GRPO's", [P1]),
    "reinforce_pp": ("grpo_family", "a global-batch baseline is more stable than per-prompt normalisation", [P1, GCV]),
    "gspo": ("grpo_family", "sequence-level ratios: more stable and more accurate than token-level GRPO", [P1, GCV]),
    "etr": ("etr", "higher accuracy than GRPO and slower entropy decay", [P1, ENT]),
    "bnpo": ("bnpo", "best accuracy among policy-optimisation baselines and more stable training", [P1, GCV]),
    "adora": ("adora", "gains over GRPO with fewer samples (data re-weighting)", [P1, SAMPLES]),
    "copo": ("copo", "uses all-consistent groups through a global term: higher accuracy than GRPO", [P1, SP1]),
    "gbpo": ("gbpo", "matches or beats GRPO", [P1, GCV]),
    "d3s": ("d3s", "higher accuracy than GRPO, reached about 2x faster", [P1, SAMPLES, WALL]),
    "riskpo": ("riskpo", "gains on pass@1 and pass@k, more stable entropy", [P1, P16, ENT]),
    "r3": ("r3", "better accuracy than GRPO-style methods by reviving zero-variance groups", [P1, SIGNAL]),
    "dcpo": ("dcpo", "higher accuracy and pass@k than GRPO; entropy does not collapse", [P1, P16, ENT]),
    "hapo": ("hapo", "above DAPO-style training with higher entropy during training", [P1, ENT], "dapo"),
    "tppo": ("tppo", "up to 2.5x training efficiency at equal accuracy", [P1, SAMPLES, WALL]),
    "dapo_step": ("dapo_step", "improves reasoning over the starting point (offline, step-level critic)", [P1]),
    "spo_chain": ("spo", "segment-level credit: higher accuracy than GRPO (+6-12 points on GSM8K)", [P1]),
    "spo_tree": ("spo", "tree-sampled segment credit: higher accuracy than GRPO at short context", [P1]),
}
# What a measurement means for one method, where that is not what it means for the others.
NOTES = {
    "r3": "Beyond the claim's measurements, the report's paired differences show R3 narrower at "
          "k > 1: pass@8 -0.034 [-0.064, -0.006], pass@16 -0.041 [-0.074, -0.007].",
    "d3s": "D3S generates as many responses per step as GRPO and selects among them by masking "
           "the loss (a quarter of the responses and a fifth of their tokens early, all of both "
           "by the end), so its update costs about what GRPO's does (500 RL steps: 325-369 s of step "
           "time against GRPO's 370-409 s) and a speed-up can show here only in steps: the "
           "responses-to-target measure counts steps (256 responses each), and it is level there.",
    "adora": "ADORA's criterion (Length-Advantage, the code's default and the only one built) keeps "
             "a group's full advantage only when its longest correct answer is longer than its "
             "average wrong one. On countdown, where a correct answer is a short expression, that "
             "held for 12-15% of the groups in the first 100 steps and 3-8% in the last 100, so "
             "most groups learned at a tenth (mean |A| 0.08-0.10 against GRPO's 0.28), and the "
             "groups that did learn rewarded longer answers: the response length rose to 10.6-15.5 "
             "tokens over the last 100 steps (GRPO 8.3-9.1) and the entropy with it (0.12-0.27 "
             "against 0.11-0.12); held-out pass@1 ends below the warm start on 3 of 5 seeds. The "
             "spec names the Difficulty-Advantage criterion for tasks where length is not the "
             "target; it is not built, so this verdict is on the length criterion.",
    "gbpo": "GBPO's steps are much smaller at the shared learning rate: mean gradient norm 0.10 "
            "against GRPO's 0.85. At ratio 1 its squared kernel's gradient is eps * |A| = 0.2 |A| "
            "where the clipped loss's is |A|, and its median baseline (no division by the group's "
            "std, as reconstructed) gives a smaller mean |A|. A 5-seed run at five times the "
            "learning rate (`rl.lr = 5e-4`) would tell slower steps from a worse direction; it has not been "
            "run (open: the machine holding the grid's runs was lost before its turn came, and the "
            "grid's last chunk took the next session's cores).",
    "bnpo": "BNPO's gradients are about 3.6 times GRPO's at less than half its mean |A|: its "
            "spec's loss sums the token terms of a response (`seq-mean-token-sum`) where GRPO "
            "averages them, and countdown's answers are 7-8 tokens long. That is why its raw "
            "spread is much larger while its spread relative to the mean norm is smaller.",
    "dapo": "Dynamic sampling drops the groups without a learning signal and samples more, so the "
            "share of groups with a signal is 1 by construction; its price is in the responses "
            "generated until the target, measured above. In steps and seconds DAPO reaches the "
            "target sooner than GRPO (-120 [-160, -100] steps, -54 [-83, -26] s: on this model the "
            "update costs more than the extra sampling); in responses generated it costs more.",
    "copo": "COPO's global term reaches the all-consistent groups through the loss, not through the "
            "per-response advantages that `nonzero_adv_group_frac` counts, so that share is not its "
            "measurement; its paper reports mean@8, i.e. sampled accuracy, measured above.",
}
NOTES["tppo"] = ("T-PPO, as preset (2-token windows), falls in the first 100 steps on every seed "
                 "(greedy pass@1 0.24-0.30 -> 0.06-0.11) and does not recover; its entropy stays high "
                 "(0.43-0.92 over the last 100 steps against GRPO's 0.11-0.12) and its answers grow "
                 "longer (10.4-14.9 tokens against 8.3-9.1). It finishes 37-49 responses a step (GRPO: "
                 "256), so its whole budget is fewer responses than GRPO needs to reach the target: the "
                 "responses-to-target difference is negative without T-PPO ever reaching it, and the "
                 "verdict reads it as not reproduced. Its steps also cost more (median 1.25-1.58 s "
                 "against 0.56-0.81 s: a critic forward and update every step). This is the truncation "
                 "found on addition (above, \"Why T-PPO trails GRPO here\"): at window 2 most windows "
                 "end unfinished and their advantages are the critic's temporal differences alone. A "
                 "probe on two seeds with whole-answer windows (`--set method.rollout.window=24`, "
                 "countdown's max_new_tokens; same warm starts, `--name countdown_tppo_window24`) "
                 "tracks GRPO, as on addition: greedy pass@1 0.385 and 0.389 at step 500 (GRPO 0.393, "
                 "0.373), late entropy 0.09-0.11, at about twice GRPO's step time (median 1.46-1.61 s, "
                 "the critic). Seeds 2-4 of that probe were not run.")
NOTES["dapo_step"] = ("Seeds 0-2 repeat the diagnosis above to the digit (-0.125, -0.067, -0.051 over "
                      "their warm starts; the grid's runs add evaluations every 100 steps, which do not "
                      "touch training): at the spec's beta 0.1 the fit lowers the sampled tokens on "
                      "average, and no setting tried there gains (\"Why step-level DAPO trails GRPO\"). "
                      "Its pass@16 ends where GRPO's does (0.430-0.551 against 0.459-0.539, both below "
                      "the warm starts' 0.60-0.63): what it loses is the greedy answer.")
NOTES["spo_chain"] = ("SPO-chain is ahead of GRPO on 4 of 5 seeds and the CI just holds zero. Its "
                      "segment values come from Monte-Carlo rollouts at each cutpoint, so its steps "
                      "cost about 2.7 times GRPO's (median 1.67-2.08 s against 0.56-0.81 s; a run, "
                      "warm start included, 1,070-1,225 s against 497-740 s). Its advantages are a "
                      "third of GRPO's in size (mean |A| 0.09-0.10 against 0.27-0.29) and its token "
                      "entropy stays far higher (0.59-0.61 over the last 100 steps against "
                      "0.11-0.12; not part of its claim, measured from the same runs). Beyond the "
                      "claim's measurement, the report's paired differences show its sampled pass@1 "
                      "higher (+0.016 [+0.004, +0.027]) and pass@16 level (-0.009 [-0.036, +0.018]).")
NOTES["spo_tree"] = ("SPO-tree samples a tree per prompt (512 responses a step, sharing prefixes) and its "
                     "steps cost about what GRPO's do (median 0.57-0.69 s against 0.56-0.81 s). Its "
                     "token entropy stays far higher (0.61-0.65 over the last 100 steps against "
                     "0.11-0.12), and beyond the claim's measurement the report's paired differences "
                     "show it broader at k > 1: pass@8 +0.033 [+0.011, +0.056], pass@16 +0.039 "
                     "[+0.018, +0.061] (sampled pass@1 level, +0.000 [-0.015, +0.016]). On addition it "
                     "was behind on all 3 seeds (above); here, where the task leaves room, it is level "
                     "on greedy pass@1.")
NOTES["hapo"] = ("The logged entropy is the policy's raw-logit entropy at the positions of each method's own "
                 "samples; HAPO draws them at entropy-aware temperatures, so its curve starts lower than "
                 "GRPO's already at step 1 (0.54 against 0.60, mean of 5 seeds, same warm starts): the entropy "
                 "comparison mixes where the samples go with how sharp the policy is. HAPO runs on DAPO's "
                 "parts (dynamic sampling, clip-higher, overlong shaping), so its gain over GRPO "
                 "(+0.047 [+0.030, +0.068] greedy pass@1) is DAPO's (+0.054 [+0.038, +0.073]); what its "
                 "own parts add on top of DAPO is late entropy at the edge of the CI and a small loss of "
                 "sampled accuracy (sampled pass@1 -0.015 [-0.021, -0.009], pass@16 -0.006 "
                 "[-0.009, -0.002]).")
NOTES["riskpo"] = ("RiskPO ends below its own warm start on 4 of 5 seeds (greedy pass@1 falls in the first "
                   "100 steps, 0.266 -> 0.131 on seed 1, and does not recover) while its entropy stays "
                   "high: the same direction as on addition (behind GRPO on all 3 seeds). A first probe "
                   "(seed 1 only): the spec's natural-baseline term `(a - b)` makes every advantage <= 0 "
                   "(|A| 2-3 against GRPO's 0.4), so every sampled response is pushed down; with "
                   "`method.credit.riskpo.natural_baseline=false` the same seed ends at 0.281 (+0.015 over "
                   "its warm start, no early drop) instead of 0.172, still far below GRPO's 0.373. Not "
                   "checked on 5 seeds (the 5-seed run was queued on a machine that was lost before it ran); "
                   "the verdict is on the preset as built.")
ORDER = ["grpo", "dr_grpo", "dapo", "rloo", "reinforce_pp", "gspo", "etr", "bnpo", "adora", "copo",
         "gbpo", "d3s", "riskpo", "r3", "dcpo", "hapo", "tppo", "dapo_step", "spo_chain", "spo_tree"]


@functools.lru_cache(maxsize=None)
def rows(preset, seed):
    """A run's metrics lines, read once (the sections and the means read them many times)."""
    path = os.path.join(GRID, "runs", f"{preset}-seed{seed}", "metrics.jsonl")
    return [json.loads(line) for line in open(path)]


def finished(preset):
    return all(run_finished(os.path.join(GRID, "runs", f"{preset}-seed{s}")) for s in range(SEEDS))


def evals(preset, seed):
    return [r for r in rows(preset, seed) if "eval/pass@1" in r]


def mean_over_steps(preset, key):
    """The mean of a per-step metric over every step of every seed."""
    values = [r[key] for s in range(SEEDS) for r in rows(preset, s) if key in r]
    return sum(values) / len(values)


def mean_norm(preset):
    return mean_over_steps(preset, "grad_norm")


def mean_abs_adv(preset):
    return mean_over_steps(preset, "advantage_abs_mean")


def reached(preset):
    """On how many seeds the preset's held-out pass@1 reached the target."""
    value = float(TARGET.split(">=")[1])
    return sum(any(r["eval/pass@1"] >= value for r in evals(preset, s)) for s in range(SEEDS))


def censored(v, hits):
    """A cost-to-target verdict once the seeds that missed the target are accounted for.

    A missed seed counts at its whole budget, a lower bound on its cost: that can only argue
    against the method. A method whose whole budget is cheaper than GRPO's way to the target
    (T-PPO finishes fewer responses per step) would otherwise look cheaper without reaching it.
    """
    if hits == SEEDS or v == "not reproduced":
        return v
    if hits == 0:
        return "not reproduced (never reaches the target)"
    return f"inconclusive (reaches the target on {hits} of {SEEDS} seeds)"


def bootstrap_mean_ci(xs, resamples=10000, seed=0):
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(xs) for _ in xs) / len(xs) for _ in range(resamples))
    return sum(xs) / len(xs), means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def verdict(lo, hi, higher_is_better):
    if lo > 0 or hi < 0:
        better = (lo > 0) == higher_is_better
        return "reproduced" if better else "not reproduced"
    return "inconclusive"


def baselines(preset):
    claim = CLAIMS[preset]
    return [claim[3], BASE] if len(claim) > 3 else [BASE]


def pair_report(preset, base):
    out = os.path.join(GRID, "pages", f"{preset}_vs_{base}")
    dirs = [os.path.join(GRID, "runs", f"{p}-seed{s}") for p in (base, preset) for s in range(SEEDS)]
    subprocess.run([POLOPT, "report", *dirs, "--out", out, "--baseline", base, "--target", TARGET],
                   check=True, capture_output=True)
    return out, json.load(open(os.path.join(out, "summary.json")))


def fmt_ci(mean, lo, hi, digits):
    return f"{mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def paired_lines(preset, base, summary, measures):
    """The paired differences against `base` as markdown lines, and (label, value, verdict)."""
    paired = {p["metric"]: p for p in summary["paired"] if p["preset"] == preset}
    lines, verdicts = [f"Paired differences {preset} - {base} (mean over 5 seeds, 95% bootstrap CI):", ""], []
    for metric, label in measures:
        p = paired.get(metric)
        if p is None or p.get("ci") is None:
            lines.append(f"- {label}: not logged by this loop")
            verdicts.append((label, "n/a", "not measured"))
            continue
        ci = p["ci"]
        cost = metric.startswith(("samples", "wall_s"))
        digits = 0 if cost else 3
        v = verdict(ci["lower"], ci["upper"], p["higher_is_better"])
        if cost:
            v = censored(v, reached(preset))
        text = fmt_ci(p["mean"], ci["lower"], ci["upper"], digits)
        lines.append(f"- {label} (`{metric}`): {text} ({'higher' if p['higher_is_better'] else 'lower'} "
                     f"is better): **{v}**")
        verdicts.append((label, text, v))
    return lines + [""], verdicts


def section(preset, reports):
    page, claim, measures = CLAIMS[preset][:3]
    bases = baselines(preset)
    base = bases[0]
    lines = [f"## On the countdown testbed (`{preset}`, issue 13)", "",
             f"`polopt compare --presets {','.join(ORDER)} --task countdown --seeds 5 --steps 500 "
             f"--set eval.every=100 --set 'eval.k=[1, 8, 16]' --target '{TARGET}' --jobs 2 --threads 1 "
             f"--name countdown_grid` (docs/results.md, \"The countdown testbed\"). Held-out greedy pass@1 "
             f"on 512 test problems, pass@k from 16 samples; runs of one seed share their warm start, "
             f"so every difference below is paired.", "",
             f"Paper's claim (against {base}): {claim}.", "",
             f"| seed | warm start | {' | '.join(bases)} | {preset} | difference | pass@16 {base} -> {preset} |",
             "|---|---|" + "---|" * len(bases) + "---|---|---|"]
    gains = []
    for s in range(SEEDS):
        b, m = evals(base, s), evals(preset, s)
        gains.append(m[-1]["eval/pass@1"] - m[0]["eval/pass@1"])
        finals = " | ".join(f"{evals(x, s)[-1]['eval/pass@1']:.3f}" for x in bases)
        lines.append(f"| {s} | {b[0]['eval/pass@1']:.3f} | {finals} | "
                     f"{m[-1]['eval/pass@1']:.3f} | {m[-1]['eval/pass@1'] - b[-1]['eval/pass@1']:+.3f} | "
                     f"{b[-1]['eval/pass@16']:.3f} -> {m[-1]['eval/pass@16']:.3f} |")
    lines.append("")
    verdicts = []
    for i, b in enumerate(bases):
        out, summary = reports[b]
        more, v = paired_lines(preset, b, summary, measures)
        lines += more
        if i == 0:
            verdicts = v
            notes = [n for n in summary["notes"] if n.startswith("target")]
            plots = out
    if preset == "dapo_step":
        mean, lo, hi = bootstrap_mean_ci(gains)
        v = verdict(lo, hi, True)
        lines.insert(-1, f"- gain of held-out pass@1 over its own warm start (the paper's claim): "
                         f"{fmt_ci(mean, lo, hi, 3)}: **{v}**")
        verdicts.insert(0, ("gain over its warm start", fmt_ci(mean, lo, hi, 3), v))
    if any(m is GCV for m in measures):
        raw = {p["metric"]: p for p in reports[base][1]["paired"] if p["preset"] == preset}.get(GSTD[0])
        if raw and raw.get("ci"):
            lines.insert(-1, f"- for reference, the raw {GSTD[1]} (`{GSTD[0]}`): "
                             f"{fmt_ci(raw['mean'], raw['ci']['lower'], raw['ci']['upper'], 3)}; it grows "
                             f"with the size of the gradient itself (mean norm {mean_norm(preset):.2f} for "
                             f"{preset} against {mean_norm(base):.2f} for {base}, mean |A| "
                             f"{mean_abs_adv(preset):.2f} against {mean_abs_adv(base):.2f}), so the verdict "
                             f"reads the relative spread")
    lines += [*(f"Note: {n}." for n in notes), "", *([NOTES[preset], ""] if preset in NOTES else []),
              f"![held-out pass@1, {preset} vs {base}](compare/countdown_{preset}_eval_pass_at_1.png)", ""]
    for png in ("eval_pass_at_1.png", "entropy.png"):
        src = os.path.join(plots, "plots", png)
        if os.path.exists(src):
            shutil.copy(src, os.path.join("docs", "methods", "compare", f"countdown_{preset}_{png}"))
    if any(m is ENT for m in measures):
        lines += [f"![token entropy, {preset} vs {base}](compare/countdown_{preset}_entropy.png)", ""]
    return page, "\n".join(lines), claim, verdicts


def committed_rows(body, begin, end):
    """The combined table's measured rows as committed, by preset."""
    block = re.search(re.escape(begin) + "(.*?)" + re.escape(end), body, flags=re.S)
    measured = re.finditer(r"^\| \[`(\w+)`\]\(.*$", block.group(1) if block else "", flags=re.M)
    return {m.group(1): m.group(0) for m in measured}


def write_section(page, header, text):
    path = os.path.join("docs", "methods", f"{page}.md")
    body = open(path).read() if os.path.exists(path) else f"# {page}\n"
    if header + "\n" in body:
        body = re.sub(re.escape(header) + r"\n.*?(?=\n## |\Z)", lambda _: text, body, flags=re.S)
    else:
        body = body.rstrip() + "\n\n" + text
    open(path, "w").write(body.rstrip() + "\n")


def main():
    if not finished(BASE):
        sys.exit(f"{GRID}: {BASE} has not finished 5 seeds (runs kept in the repository come back with "
                 f"`python bench/run_archive.py restore bench/results/countdown_grid {GRID}`)")
    table = ["| method | paper's claim | our measurement (paired vs GRPO unless named, 5 seeds, 95% CI) | verdict |",
             "|---|---|---|---|"]
    readme = os.path.join("docs", "methods", "README.md")
    begin, end = "<!-- countdown-table:begin -->", "<!-- countdown-table:end -->"
    body = open(readme).read()
    written = committed_rows(body, begin, end)
    for preset in ORDER[1:]:
        claim = CLAIMS[preset][1]
        if not all(finished(p) for p in [preset, *baselines(preset)]):
            # Run directories are not committed: a preset measured on another machine keeps
            # the row (and page section) it was given there.
            table.append(written.get(preset, f"| `{preset}` | {claim} | not run yet | — |"))
            continue
        reports = {b: pair_report(preset, b) for b in baselines(preset)}
        page, text, claim, verdicts = section(preset, reports)
        if baselines(preset)[0] != BASE:
            claim += f" (against `{baselines(preset)[0]}`)"
        write_section(page, text.split("\n", 1)[0], text)
        measured = "; ".join(f"{label} {value}" for label, value, _ in verdicts)
        table.append(f"| [`{preset}`]({page}.md) | {claim} | {measured} | "
                     f"{'; '.join(v for _, _, v in verdicts)} |")
        print(f"{preset}: {'; '.join(v for _, _, v in verdicts)}")
    block = begin + "\n" + "\n".join(table) + "\n" + end
    body = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    open(readme, "w").write(body)


if __name__ == "__main__":
    main()
