//! Stock-augmented distributional DP (Ávila Pires et al., "Optimizing Return Distributions with
//! Distributional Dynamic Programming", arXiv 2501.13028). Spec: distributional-dp.md, partly
//! reconstructed (abstract and outline read; formulas from the stock-augmentation idea).
//!
//! Finite horizon H, γ = 1. The state is augmented with the stock c (initial `c_0`, then
//! `c_{t+1} = c_t + r_t`), and `η_t(s,c)` is the exact finite-support law of `c + G_t` under
//! the greedy policy:
//! `η_H(s,c) = δ_c`, `η_t(s,c) = Σ_{(p,r,s')} p · η_{t+1}(s', c + r)` for the action
//! `a*(t,s,c) = argmax_a K(Σ_{(p,r,s')} p · η_{t+1}(s', c + r))`, with `K = E f` an expected
//! utility: the mean (f(x) = x), the threshold probability `P(G ≥ θ)` (f = 1[x ≥ 0], c_0 = −θ)
//! and, inside the CVaR search, f(x) = min(x, 0).
//! CVaR_τ (lower tail) by Rockafellar–Uryasev with `c_0 = −b`:
//! `max_π CVaR_τ(G^π) = max_{c_0} { −c_0 + (1/τ) max_π E[min(c_0 + G^π, 0)] }`; the outer
//! objective is piecewise linear in c_0 with kinks where `c_0 + g = 0` for an achievable return
//! g, so the search over `c_0 ∈ {−g}` is exact.
//!
//! The baseline `mean-dp-*` is ordinary risk-neutral backward induction on the mean-reward MDP
//! (no stock); both are judged by the exact return law of the policy they output.
use std::collections::{BTreeSet, HashMap};

use polopt_envs::tabular::outcome_mdp::{two_step_bet, OutcomeMdp};
use polopt_envs::tabular::risky_grid::{risky_grid, DEFAULT_PENALTY, ICY};
use polopt_envs::tabular::solve::horizon_optimal;
use rand::RngExt;

use crate::policy_enumeration::{history_distributions, markov_distributions};
use crate::return_dist::{value_key, ReturnDist};
use crate::{rng, Progress, RunSpec, Settings, TheoryError, TheoryRun};

pub const ENVS_TWOSTEP: &[&str] = &["twostep", "grid"];
pub const ENVS_GRID: &[&str] = &["grid", "twostep"];
/// The most distributions the Markov enumeration may hold in one layer.
const ENUMERATION_LIMIT: usize = 200_000;
/// The same for the history-dependent enumeration, which only the 2-step bet needs.
const HISTORY_LIMIT: usize = 10_000;

/// The utility f of an expected-utility objective `K(ν) = E_ν[f(X)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Utility {
    Identity,
    /// `1[x ≥ 0]`.
    AtLeastZero,
    /// `min(x, 0)`.
    MinZero,
}

impl Utility {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Self::Identity => x,
            Self::AtLeastZero => f64::from(u8::from(value_key(x) >= 0)),
            Self::MinZero => x.min(0.0),
        }
    }
}

/// What a run optimizes, over the return G.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    Mean,
    /// `P(G ≥ θ)`.
    Threshold(f64),
    /// Lower-tail `CVaR_τ(G)`.
    Cvar(f64),
}

impl Objective {
    pub fn score(self, g: &ReturnDist) -> f64 {
        match self {
            Self::Mean => g.mean(),
            Self::Threshold(theta) => g.prob_at_least(theta),
            Self::Cvar(tau) => g.cvar(tau),
        }
    }
}

/// The greedy stock-augmented DP for one utility, memoized over `(t, s, stock)`.
pub struct StockDp<'a> {
    mdp: &'a OutcomeMdp,
    horizon: usize,
    utility: Utility,
    memo: HashMap<(usize, usize, i64), (usize, ReturnDist)>,
}

impl<'a> StockDp<'a> {
    pub fn new(mdp: &'a OutcomeMdp, horizon: usize, utility: Utility) -> Self {
        Self {
            mdp,
            horizon,
            utility,
            memo: HashMap::new(),
        }
    }

    /// `η_t(s,c)`, the law of `c + G_t` under the greedy policy, and the greedy action.
    pub fn solve(&mut self, t: usize, s: usize, c: f64) -> (usize, ReturnDist) {
        if t >= self.horizon {
            return (0, ReturnDist::point(c));
        }
        if let Some(hit) = self.memo.get(&(t, s, value_key(c))) {
            return hit.clone();
        }
        let mdp = self.mdp;
        let mut best: Option<(usize, f64, ReturnDist)> = None;
        for a in 0..mdp.n_actions() {
            let children: Vec<(f64, ReturnDist)> = mdp
                .outcomes(s, a)
                .iter()
                .map(|o| (o.prob, self.solve(t + 1, o.next, c + o.reward).1))
                .collect();
            let law = ReturnDist::mixture(children.iter().map(|(p, d)| (*p, d)));
            let k = law.expect(|x| self.utility.apply(x));
            // A later action must be better by more than rounding to win a tie.
            if best.as_ref().is_none_or(|(_, kb, _)| k > kb + 1e-12) {
                best = Some((a, k, law));
            }
        }
        let (a, _, law) = best.unwrap_or((0, 0.0, ReturnDist::point(c)));
        self.memo.insert((t, s, value_key(c)), (a, law.clone()));
        (a, law)
    }
}

/// A solved objective: the initial stock, the law of G under the computed stock-augmented
/// policy, and the expected number of steps that end in `watch` states.
#[derive(Debug, Clone)]
pub struct StockSolution {
    pub c0: f64,
    pub returns: ReturnDist,
    pub watched_steps: f64,
}

/// Every total reward some action sequence can collect in `horizon` steps.
pub fn achievable_returns(mdp: &OutcomeMdp, horizon: usize) -> Vec<f64> {
    let mut layer: BTreeSet<(usize, i64)> = BTreeSet::from([(mdp.start(), 0)]);
    let mut values: HashMap<i64, f64> = HashMap::from([(0, 0.0)]);
    for _ in 0..horizon {
        let mut next = BTreeSet::new();
        for &(s, ck) in &layer {
            let c = values[&ck];
            for a in 0..mdp.n_actions() {
                for o in mdp.outcomes(s, a) {
                    let c2 = c + o.reward;
                    values.entry(value_key(c2)).or_insert(c2);
                    next.insert((o.next, value_key(c2)));
                }
            }
        }
        layer = next;
    }
    let finals: BTreeSet<i64> = layer.iter().map(|(_, c)| *c).collect();
    finals.into_iter().map(|k| values[&k]).collect()
}

/// Solves `objective` by the stock-augmented DP (with the c_0 search for CVaR).
pub fn optimize(
    mdp: &OutcomeMdp,
    horizon: usize,
    objective: Objective,
    watch: &[usize],
) -> StockSolution {
    let (c0, utility) = match objective {
        Objective::Mean => (0.0, Utility::Identity),
        Objective::Threshold(theta) => (-theta, Utility::AtLeastZero),
        Objective::Cvar(tau) => {
            // −c_0 + E[min(c_0 + G, 0)]/τ at each candidate; the first maximum wins ties.
            let mut best = (f64::NEG_INFINITY, 0.0);
            for g in achievable_returns(mdp, horizon) {
                let c0 = -g;
                let law = StockDp::new(mdp, horizon, Utility::MinZero)
                    .solve(0, mdp.start(), c0)
                    .1;
                let j = -c0 + law.expect(|x| x.min(0.0)) / tau;
                if j > best.0 + 1e-12 {
                    best = (j, c0);
                }
            }
            (best.1, Utility::MinZero)
        }
    };
    let mut dp = StockDp::new(mdp, horizon, utility);
    let (returns, watched_steps) =
        propagate(mdp, horizon, c0, watch, &mut |t, s, c| dp.solve(t, s, c).0);
    StockSolution {
        c0,
        returns,
        watched_steps,
    }
}

/// Runs a stock-augmented policy `act(t, s, stock)` from the start with stock `c0`: the law of
/// G (without the stock) and the expected number of steps ending in a `watch` state.
pub fn propagate(
    mdp: &OutcomeMdp,
    horizon: usize,
    c0: f64,
    watch: &[usize],
    act: &mut dyn FnMut(usize, usize, f64) -> usize,
) -> (ReturnDist, f64) {
    let mut layer: HashMap<(usize, i64), (f64, f64)> =
        HashMap::from([((mdp.start(), value_key(c0)), (c0, 1.0))]);
    let mut watched = 0.0;
    for t in 0..horizon {
        let mut entries: Vec<_> = layer.into_iter().collect();
        entries.sort_by_key(|e| e.0);
        let mut next: HashMap<(usize, i64), (f64, f64)> = HashMap::new();
        for ((s, _), (c, p)) in entries {
            let a = act(t, s, c);
            for o in mdp.outcomes(s, a) {
                let c2 = c + o.reward;
                if watch.contains(&o.next) {
                    watched += p * o.prob;
                }
                next.entry((o.next, value_key(c2))).or_insert((c2, 0.0)).1 += p * o.prob;
            }
        }
        layer = next;
    }
    let law = ReturnDist::from_atoms(layer.into_values().map(|(c, p)| (c - c0, p)));
    (law, watched)
}

/// The environment of a run and its defaults.
struct Problem {
    mdp: OutcomeMdp,
    /// States whose visits are reported (the grid's icy cells).
    watch: Vec<usize>,
    objective: Objective,
    tau: f64,
    threshold: f64,
    p_slip: Option<f64>,
    /// Whether to enumerate history-dependent policies (tiny problems only).
    history_reference: bool,
}

fn problem(spec: &RunSpec, settings: &mut Settings, stock: bool) -> Result<Problem, TheoryError> {
    let grid = match spec.env.as_str() {
        "grid" => true,
        "twostep" => false,
        other => {
            return Err(TheoryError::Setting {
                key: "env".into(),
                reason: format!("`{other}` is not one of grid, twostep"),
            })
        }
    };
    let (tau, threshold) = if grid { (0.1, -7.0) } else { (0.25, 2.0) };
    let tau = settings.f64("tau", tau, 1e-6, 1.0)?;
    let threshold = settings.f64("threshold", threshold, -1e6, 1e6)?;
    let objective = if stock {
        match settings
            .choice(
                "objective",
                if grid { "cvar" } else { "threshold" },
                &["cvar", "threshold", "mean"],
            )?
            .as_str()
        {
            "cvar" => Objective::Cvar(tau),
            "threshold" => Objective::Threshold(threshold),
            _ => Objective::Mean,
        }
    } else {
        Objective::Mean
    };
    if !grid {
        return Ok(Problem {
            mdp: two_step_bet()?,
            watch: Vec::new(),
            objective,
            tau,
            threshold,
            p_slip: None,
            history_reference: true,
        });
    }
    // The seed's grid variant: its slip probability, uniform in the range.
    let range = settings.f64_list("p_slip_range", &[0.05, 0.15])?;
    let penalty = settings.f64("slip_penalty", DEFAULT_PENALTY, -1e6, 0.0)?;
    let (lo, hi) = match range[..] {
        [lo, hi] if (0.0..1.0).contains(&lo) && (lo..1.0).contains(&hi) => (lo, hi),
        _ => {
            return Err(TheoryError::Setting {
                key: "settings.p_slip_range".into(),
                reason: format!("needs [lo, hi] with 0 <= lo <= hi < 1, got {range:?}"),
            })
        }
    };
    let p_slip = lo + (hi - lo) * rng(spec.seed, "grid-variant").random::<f64>();
    Ok(Problem {
        mdp: risky_grid(p_slip, penalty)?,
        watch: ICY.to_vec(),
        objective,
        tau,
        threshold,
        p_slip: Some(p_slip),
        history_reference: false,
    })
}

pub fn run_stock(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, true)
}

pub fn run_mean(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
) -> Result<TheoryRun, TheoryError> {
    run(spec, settings, progress, false)
}

fn run(
    spec: &RunSpec,
    settings: &mut Settings,
    progress: Progress,
    stock: bool,
) -> Result<TheoryRun, TheoryError> {
    let p = problem(spec, settings, stock)?;
    settings.finish()?;
    if spec.steps == 0 {
        return Err(TheoryError::Setting {
            key: "steps".into(),
            reason: "the horizon needs at least 1 step".into(),
        });
    }
    let horizon = spec.steps as usize;
    let mut out = TheoryRun::default();
    let mut finals = Vec::new();
    // One point per horizon 1..=H: what each horizon's solution achieves.
    for h in 1..=horizon {
        let solution = if stock {
            optimize(&p.mdp, h, p.objective, &p.watch)
        } else {
            let mean = horizon_optimal(&p.mdp.mean_mdp()?, h);
            let (returns, watched_steps) =
                propagate(&p.mdp, h, 0.0, &p.watch, &mut |t, s, _| mean.greedy[t][s]);
            StockSolution {
                c0: 0.0,
                returns,
                watched_steps,
            }
        };
        let g = &solution.returns;
        let mut point = vec![
            ("cvar", g.cvar(p.tau)),
            ("threshold_prob", g.prob_at_least(p.threshold)),
            ("mean_return", g.mean()),
        ];
        if !p.watch.is_empty() {
            point.push(("icy_steps", solution.watched_steps));
        }
        let markov = markov_distributions(&p.mdp, h, ENUMERATION_LIMIT)?;
        let best = |dists: &[ReturnDist], o: Objective| {
            dists
                .iter()
                .map(|d| o.score(d))
                .fold(f64::NEG_INFINITY, f64::max)
        };
        point.extend([
            ("cvar_markov_best", best(&markov, Objective::Cvar(p.tau))),
            (
                "threshold_markov_best",
                best(&markov, Objective::Threshold(p.threshold)),
            ),
            ("mean_markov_best", best(&markov, Objective::Mean)),
        ]);
        // History-dependent enumeration only on the 2-step bet (exponential in the horizon).
        if p.history_reference {
            let all = history_distributions(&p.mdp, h, HISTORY_LIMIT)?;
            point.extend([
                ("cvar_history_best", best(&all, Objective::Cvar(p.tau))),
                (
                    "threshold_history_best",
                    best(&all, Objective::Threshold(p.threshold)),
                ),
                ("mean_history_best", best(&all, Objective::Mean)),
            ]);
        }
        if let Some((k, v)) = point.iter().find(|(_, v)| !v.is_finite()) {
            return Err(TheoryError::NonFinite {
                what: k.to_string(),
                value: *v,
                step: h as u64,
            });
        }
        out.log(h as u64, &point);
        progress(h as u64, horizon as u64);
        finals = point;
        finals.push(("c0", solution.c0));
    }
    if let Some(x) = p.p_slip {
        finals.push(("p_slip", x));
    }
    out.final_metrics = finals
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok(out)
}
