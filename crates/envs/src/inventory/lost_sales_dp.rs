//! The exact optimal average cost of the lost-sales store with Poisson demand, by relative
//! value iteration on this simulator's dynamics (spec, benchmark 2: "exact average-cost DP").
//!
//! State `(I, p_1, ..., p_{L-1})` in integers (integer demand, so integer orders lose nothing
//! from integer states); cost of a period `E[p (d - I)^+ + h (I - d)^+]`; order `q` lands at
//! slot `L - 1`. The grid is truncated at `I <= max_on_hand`, `p_j, q <= max_order`, far above
//! anything an optimal policy reaches for the small means here. Bounds on the gain
//! (`min` and `max` of `T h - h`, Odoni) stop the iteration when they agree to `tol`.

/// Result of [`solve`]: the optimal average cost per period with its bracket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AverageCost {
    pub cost: f64,
    pub lower: f64,
    pub upper: f64,
    pub iterations: usize,
}

/// Grid of the DP.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub max_on_hand: usize,
    pub max_order: usize,
}

fn poisson_pmf(mean: f64, max: usize) -> Vec<f64> {
    let mut pmf = vec![(-mean).exp()];
    for k in 1..=max {
        let prev = pmf[k - 1];
        pmf.push(prev * mean / k as f64);
    }
    pmf
}

/// Solves the lost-sales store with `Poisson(mean)` demand, lead time `lead_time >= 1`.
pub fn solve(
    mean: f64,
    lead_time: usize,
    holding: f64,
    underage: f64,
    grid: Grid,
    tol: f64,
    max_iterations: usize,
) -> AverageCost {
    let (imax, qmax) = (grid.max_on_hand, grid.max_order);
    let dmax = (mean * 6.0 + 30.0) as usize;
    let pmf = poisson_pmf(mean, dmax);
    let expected_cost: Vec<f64> = (0..=imax)
        .map(|i| {
            pmf.iter()
                .enumerate()
                .map(|(d, pr)| {
                    let post = i as f64 - d as f64;
                    pr * (underage * (-post).max(0.0) + holding * post.max(0.0))
                })
                .sum()
        })
        .collect();
    // Pipeline slots p_1..p_{L-1} in mixed radix after I.
    let pipes = lead_time - 1;
    let pipe_states = (qmax + 1).pow(pipes as u32);
    let states = (imax + 1) * pipe_states;
    let mut h = vec![0.0; states];
    let mut next_h = vec![0.0; states];
    let mut result = AverageCost {
        cost: f64::NAN,
        lower: f64::NEG_INFINITY,
        upper: f64::INFINITY,
        iterations: 0,
    };
    for it in 1..=max_iterations {
        for pipe in 0..pipe_states {
            // What arrives next period (p_1, or the order itself when L = 1) and the index
            // of the shifted pipeline without the new order.
            let (arriving, shifted) = match pipes {
                0 => (None, 0),
                _ => (Some(pipe % (qmax + 1)), pipe / (qmax + 1)),
            };
            for i in 0..=imax {
                let mut best = f64::INFINITY;
                for q in 0..=qmax {
                    let (arrive, next_pipe) = match arriving {
                        None => (q, 0),
                        Some(a) => (a, shifted + q * (qmax + 1).pow(pipes as u32 - 1)),
                    };
                    let mut value = 0.0;
                    for (d, pr) in pmf.iter().enumerate() {
                        let next_i = (i.saturating_sub(d) + arrive).min(imax);
                        value += pr * h[next_pipe * (imax + 1) + next_i];
                    }
                    best = best.min(value);
                }
                next_h[pipe * (imax + 1) + i] = expected_cost[i] + best;
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (n, o) in next_h.iter().zip(&h) {
            lo = lo.min(n - o);
            hi = hi.max(n - o);
        }
        let reference = next_h[0];
        for (slot, n) in h.iter_mut().zip(&next_h) {
            *slot = n - reference;
        }
        result = AverageCost {
            cost: 0.5 * (lo + hi),
            lower: lo,
            upper: hi,
            iterations: it,
        };
        if hi - lo < tol {
            break;
        }
    }
    result
}
