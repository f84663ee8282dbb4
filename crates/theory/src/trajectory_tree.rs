//! TrajectoryTree: agnostic policy learning with a generative model (Gene Li's thesis, arXiv
//! 2506.01884; Jia, Li, Rakhlin, Sekhari, Srebro, NeurIPS 2023). Spec: agnostic-rl.md.
//!
//! Tree i: draw `s_1 ~ d_1`; at a node (layer h, state s) reached by history x, query the
//! generative model once for every action some policy consistent with x plays there,
//! `A_x = {π(x) : π ∈ Π consistent with x}`, and recurse into each sampled next state with the
//! policies that played that action. Every π's root-to-leaf path is then an exact sample of its
//! return, `v̂_i(π)`; after n trees the output is the ERM `argmax_π (1/n) Σ_i v̂_i(π)`.
//! Hoeffding and a union bound give `n = ⌈2 ln(2|Π|/δ)/ε²⌉` trees for ε-optimality w.p. 1 − δ,
//! and a tree costs at most `H · C(Π)` queries (C = spanning capacity).
//!
//! The baseline (`mc-eval-*`) draws one independent rollout per policy per round: `|Π| · H`
//! queries for the same one sample per policy that a tree gives.
use std::collections::BTreeMap;

use polopt_envs::tabular::layered::{binary_tree, LayeredMdp};
use rand::Rng;

use crate::policy_class::{PolicyClass, CLASSES};
use crate::spanning_capacity::spanning_capacity;
use crate::{log_points, rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

pub const ENVS: &[&str] = &["binary-tree"];
/// agnostic-rl.md's leaf means (leaf index = the action bits a1 a2 a3).
pub const LEAVES: [f64; 8] = [0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.6, 0.7];
/// The most deterministic MDPs the per-run spanning-capacity metric enumerates.
const CAPACITY_LIMIT: u64 = 1 << 20;

/// One sample of every policy's return and the generative-model calls it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub values: Vec<f64>,
    pub queries: u64,
}

/// One trajectory tree: each policy's return along its own path.
pub fn grow_tree(mdp: &LayeredMdp, class: &PolicyClass, rng: &mut impl Rng) -> Round {
    let mut round = Round {
        values: vec![0.0; class.len()],
        queries: 0,
    };
    let s = mdp.sample_start(rng);
    let members: Vec<usize> = (0..class.len()).collect();
    expand(mdp, class, 0, s, &members, &mut round, rng);
    round
}

fn expand(
    mdp: &LayeredMdp,
    class: &PolicyClass,
    h: usize,
    s: usize,
    members: &[usize],
    round: &mut Round,
    rng: &mut impl Rng,
) {
    // Ordered by action so the query order (and the random stream) is reproducible.
    let mut by_action: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &m in members {
        by_action.entry(class.tables[m][h][s]).or_default().push(m);
    }
    for (a, group) in by_action {
        let (r, next) = mdp.query(h, s, a, rng);
        round.queries += 1;
        for &m in &group {
            round.values[m] += r;
        }
        if let Some(t) = next {
            expand(mdp, class, h + 1, t, &group, round, rng);
        }
    }
}

/// One independent rollout per policy.
pub fn monte_carlo_round(mdp: &LayeredMdp, class: &PolicyClass, rng: &mut impl Rng) -> Round {
    let mut round = Round {
        values: vec![0.0; class.len()],
        queries: 0,
    };
    for (m, table) in class.tables.iter().enumerate() {
        let mut s = Some(mdp.sample_start(rng));
        let mut h = 0;
        while let Some(state) = s {
            let (r, next) = mdp.query(h, state, table[h][state], rng);
            round.queries += 1;
            round.values[m] += r;
            s = next;
            h += 1;
        }
    }
    round
}

/// `⌈2 ln(2|Π|/δ)/ε²⌉`.
pub fn hoeffding_trees(class_size: usize, epsilon: f64, delta: f64) -> u64 {
    (2.0 * (2.0 * class_size as f64 / delta).ln() / (epsilon * epsilon)).ceil() as u64
}

/// The ERM: highest mean estimate, lowest index among ties.
pub fn erm(sums: &[f64]) -> usize {
    (0..sums.len())
        .reduce(|best, i| if sums[i] > sums[best] { i } else { best })
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
enum Learner {
    Tree,
    MonteCarlo,
}

pub fn run_tree(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, Learner::Tree)
}

pub fn run_monte_carlo(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, Learner::MonteCarlo)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    learner: Learner,
) -> Result<TheoryRun, TheoryError> {
    if spec.env != "binary-tree" {
        return Err(TheoryError::Setting {
            key: "env".into(),
            reason: format!("`{}` is not one of {}", spec.env, ENVS.join(", ")),
        });
    }
    let leaves = settings.f64_list("leaves", &LEAVES)?;
    let class_name = settings.choice("class", "spec4", CLASSES)?;
    let epsilon = settings.f64("epsilon", 0.1, 1e-3, 1.0)?;
    let delta = settings.f64("delta", 0.05, 1e-6, 1.0)?;
    settings.finish()?;
    let mdp = binary_tree(&leaves).map_err(|e| TheoryError::Setting {
        key: "settings.leaves".into(),
        reason: e.to_string(),
    })?;
    let class = PolicyClass::by_name(&class_name, &mdp)?;
    let rounds = spec.steps;
    if rounds == 0 {
        return Err(TheoryError::Setting {
            key: "steps".into(),
            reason: "needs at least 1 tree".into(),
        });
    }
    let values = class.values(&mdp);
    let best = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut stream = rng(spec.seed, "generative-model");
    let mut sums = vec![0.0; class.len()];
    let mut queries = 0u64;
    // (round, queries) when the ERM last became ε-optimal and stayed so to the end of the
    // budget; None while it is wrong.
    let mut since_good: Option<(u64, u64)> = None;
    let is_logged = log_points(rounds, 150);
    let mut out = TheoryRun::default();
    let mut measures = Vec::new();
    for i in 1..=rounds {
        let round = match learner {
            Learner::Tree => grow_tree(&mdp, &class, &mut stream),
            Learner::MonteCarlo => monte_carlo_round(&mdp, &class, &mut stream),
        };
        for (s, v) in sums.iter_mut().zip(&round.values) {
            *s += v;
        }
        queries += round.queries;
        let pick = erm(&sums);
        let suboptimality = best - values[pick];
        let good = suboptimality <= epsilon;
        since_good = match (good, since_good) {
            (false, _) => None,
            (true, None) => Some((i, queries)),
            (true, kept) => kept,
        };
        // Every round early on, where the probability curve moves; then ~150 points.
        if i <= 64 || is_logged(i) {
            let max_error = sums
                .iter()
                .zip(&values)
                .map(|(s, v)| (s / i as f64 - v).abs())
                .fold(0.0, f64::max);
            measures = vec![
                ("eps_optimal", f64::from(u8::from(good))),
                ("suboptimality", suboptimality),
                ("queries", queries as f64),
                ("max_value_error", max_error),
            ];
            out.log(i, &measures);
            progress(i, rounds);
        }
    }
    // A run still wrong at the end is censored at its whole budget.
    let (first_good, queries_to_good) = since_good.unwrap_or((rounds, queries));
    let mut finals: Vec<(&str, f64)> = measures;
    finals.extend([
        ("queries_to_eps_optimal", queries_to_good as f64),
        ("trees_to_eps_optimal", first_good as f64),
        ("censored", f64::from(u8::from(since_good.is_none()))),
        ("queries_per_tree", queries as f64 / rounds as f64),
        (
            "n_hoeffding",
            hoeffding_trees(class.len(), epsilon, delta) as f64,
        ),
        ("class_size", class.len() as f64),
    ]);
    if let Ok(c) = spanning_capacity(mdp.layers(), mdp.n_actions(), &class, CAPACITY_LIMIT) {
        finals.push(("spanning_capacity", c as f64));
    }
    out.final_metrics = finals
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok(out)
}
