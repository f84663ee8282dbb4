//! GOSPRL (Tarbouriech, Pirotta, Valko & Lazaric 2021, "A Provably Efficient Sample Collection
//! Strategy for Reinforcement Learning", NeurIPS; arXiv 2007.06437) as gosprl.md describes it:
//! collect `b(s,a)` samples of every pair as fast as possible in an unknown MDP.
//!
//! Until `N(s,a) ≥ b(s,a)` everywhere: in an under-sampled state (the goal set `G`) take its
//! least-sampled under-sampled action; elsewhere follow the greedy policy of an optimistic
//! stochastic-shortest-path plan to `G` (unit cost per step, goals absorbing at cost 0),
//!
//! `V(s) = 1 + min_a min_{p ∈ P(s,a)} p · V` for `s ∉ G`, `V(g) = 0`,
//!
//! with L1 sets of radius `√(2 S ln(2 S A N⁺/δ) / N⁺)` (an unvisited pair is fully uncertain:
//! it may jump straight to a goal), until a goal is reached or some count doubles. The
//! pivot/restart mechanism of the paper's analysis is left out (spec: not needed on small
//! problems). The baselines `random-collect` (uniform actions) and `least-sampled` (always the
//! current state's least-sampled action) share the loop.
use polopt_envs::tabular::riverswim::riverswim;
use rand::{Rng, RngExt};

use crate::optimism::{ascending, l1_radius, ConfidenceSet, Counts, DoublingTrigger};
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

/// Expected-hitting-time values are capped here: a state whose optimistic plan cannot reach a
/// goal would otherwise grow without bound (spec: "a cap on V").
const VALUE_CAP: f64 = 1e4;
const MAX_SWEEPS: usize = 1_000_000;

/// The optimistic SSP values and action values of one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SspPlan {
    /// Optimistic expected steps to reach a goal, `V(g) = 0`.
    pub values: Vec<f64>,
    /// `q[s][a] = 1 + min_{p ∈ P(s,a)} p · V` (row-major; 0 at goals).
    pub q: Vec<f64>,
    pub sweeps: usize,
}

/// Extended value iteration for the optimistic SSP to `goals`, until the sup-norm change of a
/// sweep is below `tol`.
pub fn ssp_extended_value_iteration(set: &ConfidenceSet, goals: &[bool], tol: f64) -> SspPlan {
    let (n_states, n_actions) = (set.n_states(), set.n_actions());
    let mut v = vec![0.0; n_states];
    let mut q = vec![0.0; n_states * n_actions];
    let mut sweeps = 0;
    loop {
        let order = ascending(&v);
        let mut next = v.clone();
        for s in (0..n_states).filter(|&s| !goals[s]) {
            let mut best = f64::INFINITY;
            for a in 0..n_actions {
                let value = 1.0 + set.min_expectation(s, a, &v, &order);
                q[s * n_actions + a] = value;
                best = best.min(value);
            }
            next[s] = best.min(VALUE_CAP);
        }
        let change = next
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        v = next;
        sweeps += 1;
        if change < tol || sweeps >= MAX_SWEEPS {
            return SspPlan {
                values: v,
                q,
                sweeps,
            };
        }
    }
}

/// GOSPRL's planning knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Planner {
    delta: f64,
    tol: f64,
    /// Multiplies the confidence radius (1 = the spec's).
    confidence_scale: f64,
}

/// How the next action is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    Gosprl(Planner),
    Random,
    LeastSampled,
}

/// `gosprl-riverswim`.
pub fn run_gosprl(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    let planner = Planner {
        delta: settings.f64("delta", 0.1, 1e-12, 1.0)?,
        tol: settings.f64("tol", 1e-3, 1e-12, 1.0)?,
        confidence_scale: settings.f64("confidence_scale", 1.0, 0.0, 100.0)?,
    };
    collect(spec, settings, progress, Strategy::Gosprl(planner))
}

/// `random-collect-riverswim`.
pub fn run_random(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    collect(spec, settings, progress, Strategy::Random)
}

/// `least-sampled-riverswim`.
pub fn run_least_sampled(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    collect(spec, settings, progress, Strategy::LeastSampled)
}

fn collect(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    strategy: Strategy,
) -> Result<TheoryRun, TheoryError> {
    let requirement = settings.usize("requirement", 5, 1, 1_000_000)? as u64;
    settings.finish()?;
    let mdp = riverswim(6)?;
    let (n_states, n_actions) = (mdp.n_states(), mdp.n_actions());
    let cap = spec.steps;
    let mut env_rng = rng(spec.seed, "env");
    let mut policy_rng = rng(spec.seed, "policy");

    let mut counts = Counts::new(n_states, n_actions);
    let mut trigger = DoublingTrigger::new(&counts);
    let mut plan: Option<Vec<usize>> = None;
    let mut replans = 0u64;
    let mut missing = n_states * n_actions;
    let mut s = mdp.sample_start(&mut env_rng);
    let mut out = TheoryRun::default();
    let log = log_points(cap, 200);
    let mut t = 0;
    while t < cap && missing > 0 {
        let under: Vec<usize> = (0..n_actions)
            .filter(|&a| counts.n(s, a) < requirement)
            .collect();
        let a = match strategy {
            Strategy::Random => policy_rng.random_range(0..n_actions),
            Strategy::LeastSampled => least_sampled(
                &counts,
                s,
                &(0..n_actions).collect::<Vec<_>>(),
                &mut policy_rng,
            ),
            Strategy::Gosprl(_) if !under.is_empty() => {
                // A goal is reached: the plan that led here is spent.
                plan = None;
                least_sampled(&counts, s, &under, &mut policy_rng)
            }
            Strategy::Gosprl(planner) => {
                let policy = match plan.take() {
                    Some(p) => p,
                    None => {
                        replans += 1;
                        trigger.reset(&counts);
                        plan_to_goals(&counts, requirement, &planner, &mut policy_rng)
                    }
                };
                let a = policy[s];
                plan = Some(policy);
                a
            }
        };
        let next = mdp.sample_next(s, a, &mut env_rng);
        counts.record(s, a, mdp.r(s, a), next);
        if counts.n(s, a) == requirement {
            missing -= 1;
        }
        if plan.is_some() && trigger.fired_at(&counts, s, a) {
            plan = None;
        }
        s = next;
        t += 1;
        if log(t) {
            let done = 1.0 - missing as f64 / (n_states * n_actions) as f64;
            out.log(
                t,
                &[("satisfied_fraction", done), ("replans", replans as f64)],
            );
            progress(t, cap);
        }
    }
    // A finished collector stays finished: the curve runs on to the cap at fraction 1, so every
    // seed has a point at every logged step and the seeds' curves can be averaged.
    for later in (t + 1..=cap).filter(|&u| log(u)) {
        out.log(
            later,
            &[("satisfied_fraction", 1.0), ("replans", replans as f64)],
        );
    }
    progress(cap, cap);
    let metrics = &mut out.final_metrics;
    metrics.insert("steps_to_complete".into(), t as f64);
    metrics.insert("completed".into(), f64::from(u8::from(missing == 0)));
    metrics.insert(
        "satisfied_fraction".into(),
        1.0 - missing as f64 / (n_states * n_actions) as f64,
    );
    if matches!(strategy, Strategy::Gosprl(_)) {
        metrics.insert("replans".into(), replans as f64);
    }
    Ok(out)
}

/// The least-sampled action among `actions` at `s`, uniformly among ties.
fn least_sampled(counts: &Counts, s: usize, actions: &[usize], rng: &mut impl Rng) -> usize {
    let fewest = actions.iter().map(|&a| counts.n(s, a)).min().unwrap_or(0);
    let ties: Vec<usize> = actions
        .iter()
        .copied()
        .filter(|&a| counts.n(s, a) == fewest)
        .collect();
    ties[rng.random_range(0..ties.len())]
}

/// The optimistic SSP plan to the under-sampled states; greedy actions with uniform
/// tie-breaking (spec). Ties are common early on: pairs with few samples have radius 2, and
/// every action there may jump to a goal in one step.
fn plan_to_goals(
    counts: &Counts,
    requirement: u64,
    planner: &Planner,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let (n_states, n_actions) = (counts.n_states(), counts.n_actions());
    let pairs = (n_states * n_actions) as f64;
    let set = ConfidenceSet::from_counts(counts, |n| {
        let radius = l1_radius(n_states, n, 2.0 * pairs * n.max(1) as f64 / planner.delta);
        // An unvisited pair stays fully uncertain whatever the scale.
        if n == 0 {
            radius
        } else {
            (planner.confidence_scale * radius).min(2.0)
        }
    });
    let goals: Vec<bool> = (0..n_states)
        .map(|s| (0..n_actions).any(|a| counts.n(s, a) < requirement))
        .collect();
    let ssp = ssp_extended_value_iteration(&set, &goals, planner.tol);
    (0..n_states)
        .map(|s| {
            let row = &ssp.q[s * n_actions..][..n_actions];
            let best = row.iter().fold(f64::INFINITY, |m, x| m.min(*x));
            let ties: Vec<usize> = (0..n_actions)
                .filter(|&a| row[a] <= best + 1e-9 * best.abs().max(1.0))
                .collect();
            ties[rng.random_range(0..ties.len())]
        })
        .collect()
}
