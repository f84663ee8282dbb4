//! Exact references for distributional-dp.md by enumeration: the return distributions of every
//! deterministic policy of a class, so any functional's optimum over the class is a max over a
//! list.
//!
//! - [`history_distributions`]: history-dependent policies (a separate choice after every
//!   history). The choices after different histories are independent, so the set reachable
//!   from (t, s, stock) is the product over outcomes of the children's sets; exponential, for
//!   tiny problems (the 2-step bet).
//! - [`markov_distributions`]: stock-agnostic Markov policies `π_t(s)`, the class plain DP
//!   optimizes over. Enumerated layer by layer over the joint law of (state, stock), choosing
//!   an action for every state in its support; identical laws are merged, which keeps the grid
//!   (deterministic moves, random rewards) small.
use std::collections::{BTreeMap, HashMap};

use polopt_envs::tabular::outcome_mdp::OutcomeMdp;

use crate::return_dist::{value_key, ReturnDist};
use crate::TheoryError;

fn too_many(what: &str, limit: usize) -> TheoryError {
    TheoryError::Setting {
        key: "steps".into(),
        reason: format!(
            "enumerating {what} needs more than {limit} entries; use a shorter horizon"
        ),
    }
}

fn dedup(dists: Vec<ReturnDist>) -> Vec<ReturnDist> {
    let mut seen = HashMap::new();
    for d in dists {
        seen.entry(d.key()).or_insert(d);
    }
    let mut out: Vec<(Vec<(i64, i64)>, ReturnDist)> = seen.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, d)| d).collect()
}

/// Laws of the return G of every deterministic history-dependent policy over `horizon` steps,
/// de-duplicated; an error past `limit` distributions at any node.
pub fn history_distributions(
    mdp: &OutcomeMdp,
    horizon: usize,
    limit: usize,
) -> Result<Vec<ReturnDist>, TheoryError> {
    let mut memo = HashMap::new();
    history_set(mdp, horizon, 0, mdp.start(), 0.0, limit, &mut memo)
}

type HistoryMemo = HashMap<(usize, usize, i64), Vec<ReturnDist>>;

fn history_set(
    mdp: &OutcomeMdp,
    horizon: usize,
    t: usize,
    s: usize,
    c: f64,
    limit: usize,
    memo: &mut HistoryMemo,
) -> Result<Vec<ReturnDist>, TheoryError> {
    if t == horizon {
        return Ok(vec![ReturnDist::point(c)]);
    }
    if let Some(v) = memo.get(&(t, s, value_key(c))) {
        return Ok(v.clone());
    }
    let mut all = Vec::new();
    for a in 0..mdp.n_actions() {
        // Product over outcomes: one child distribution per outcome, mixed.
        let mut partial: Vec<Vec<(f64, ReturnDist)>> = vec![Vec::new()];
        for o in mdp.outcomes(s, a) {
            let children = history_set(mdp, horizon, t + 1, o.next, c + o.reward, limit, memo)?;
            if partial.len() * children.len() > limit {
                return Err(too_many("history-dependent policies", limit));
            }
            partial = partial
                .iter()
                .flat_map(|prefix| {
                    children.iter().map(move |child| {
                        let mut next = prefix.clone();
                        next.push((o.prob, child.clone()));
                        next
                    })
                })
                .collect();
        }
        all.extend(
            partial
                .iter()
                .map(|parts| ReturnDist::mixture(parts.iter().map(|(w, d)| (*w, d)))),
        );
    }
    let all = dedup(all);
    if all.len() > limit {
        return Err(too_many("history-dependent policies", limit));
    }
    memo.insert((t, s, value_key(c)), all.clone());
    Ok(all)
}

/// Joint law of (state, accumulated reward) at one time: `(s, key) → (reward, probability)`.
type Partial = BTreeMap<(usize, i64), (f64, f64)>;

/// Laws of G of every deterministic stock-agnostic Markov policy `π_t(s)`, de-duplicated; an
/// error past `limit` laws in a layer.
pub fn markov_distributions(
    mdp: &OutcomeMdp,
    horizon: usize,
    limit: usize,
) -> Result<Vec<ReturnDist>, TheoryError> {
    let mut layer: Vec<Partial> = vec![BTreeMap::from([((mdp.start(), 0), (0.0, 1.0))])];
    let m = mdp.n_actions();
    for _ in 0..horizon {
        let mut next_layer: HashMap<Vec<(usize, i64, i64)>, Partial> = HashMap::new();
        for partial in &layer {
            let mut states: Vec<usize> = partial.keys().map(|(s, _)| *s).collect();
            states.dedup();
            let choices = m
                .checked_pow(states.len() as u32)
                .filter(|&c| c <= limit)
                .ok_or_else(|| too_many("Markov policies", limit))?;
            for index in 0..choices {
                let mut next = Partial::new();
                for ((s, _), (c, p)) in partial {
                    let slot = states.binary_search(s).unwrap_or(0);
                    let a = index / m.pow(slot as u32) % m;
                    for o in mdp.outcomes(*s, a) {
                        let c2 = c + o.reward;
                        next.entry((o.next, value_key(c2))).or_insert((c2, 0.0)).1 += p * o.prob;
                    }
                }
                let key = next
                    .iter()
                    .map(|((s, c), (_, p))| (*s, *c, (p * 1e12).round() as i64))
                    .collect();
                next_layer.entry(key).or_insert(next);
            }
            if next_layer.len() > limit {
                return Err(too_many("Markov policies", limit));
            }
        }
        let mut sorted: Vec<_> = next_layer.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        layer = sorted.into_iter().map(|(_, p)| p).collect();
    }
    Ok(dedup(
        layer
            .iter()
            .map(|partial| ReturnDist::from_atoms(partial.values().copied()))
            .collect(),
    ))
}
