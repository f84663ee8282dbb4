//! Demonstration-regularised RL (demo-regularized-rl.md): the spec's vectors and its chain
//! check, in plain f64 with fixed seeds.
use polopt_methods::games::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const S: usize = 10;
const A: usize = 3;
const H: usize = 10;
const RIGHT: usize = 2;

/// The chain: from state 0, `right` moves one state up (capped at S − 1), the other two
/// actions fall back to state 0; reward 1 only for `right` at the last stage in the last
/// state, i.e. only the all-right path is rewarded (a combination lock). V* = 1.
fn chain() -> TabularMdp {
    let mut reward = vec![vec![vec![0.0; A]; S]; H];
    reward[H - 1][S - 1][RIGHT] = 1.0;
    let mut transition = vec![vec![vec![vec![0.0; S]; A]; S]; H];
    for stage in transition.iter_mut() {
        for (s, row) in stage.iter_mut().enumerate() {
            for (a, p) in row.iter_mut().enumerate() {
                let next = if a == RIGHT { (s + 1).min(S - 1) } else { 0 };
                p[next] = 1.0;
            }
        }
    }
    TabularMdp {
        states: S,
        actions: A,
        horizon: H,
        reward,
        transition,
    }
}

fn sample(pi: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in pi.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    pi.len() - 1
}

fn step(mdp: &TabularMdp, h: usize, s: usize, a: usize) -> (f64, usize) {
    let next = mdp.transition[h][s][a]
        .iter()
        .position(|&p| p == 1.0)
        .unwrap();
    (mdp.reward[h][s][a], next)
}

/// BC (κ = 1) from `n_demos` expert episodes: right w.p. 0.9, else one of the others.
fn bc_policy(mdp: &TabularMdp, n_demos: usize, rng: &mut ChaCha8Rng) -> TabularPolicy {
    let mut counts = vec![vec![vec![0u64; A]; S]; H];
    for _ in 0..n_demos {
        let mut s = 0;
        for (h, stage) in counts.iter_mut().enumerate() {
            let a = if rng.random::<f64>() < 0.9 {
                RIGHT
            } else {
                usize::from(rng.random::<f64>() < 0.5)
            };
            stage[s][a] += 1;
            s = step(mdp, h, s, a).1;
        }
    }
    counts
        .iter()
        .map(|stage| stage.iter().map(|c| laplace_bc(c, 1.0).unwrap()).collect())
        .collect()
}

/// The online learner's settings: KL weight, bonus constant `c`, the known bound on an
/// episode's return (1 in the chain), the target `ε` and the episode budget.
struct Learner {
    lambda: f64,
    bonus: f64,
    max_return: f64,
    eps: f64,
    budget: usize,
}

/// Online optimistic regularised VI: acts with the optimistic soft policy and returns the
/// number of episodes after which the recommended (plug-in, no-bonus) policy's true value is
/// within `ε` of V* = 1 (`None`: not within the budget), and the true values of the
/// recommended and of the acting policy at the end.
fn episodes_to_eps(
    mdp: &TabularMdp,
    pi_bc: &TabularPolicy,
    learner: &Learner,
    rng: &mut ChaCha8Rng,
) -> (Option<usize>, f64, f64) {
    let mut model = EmpiricalModel::new(S, A, H);
    let (mut recommended, mut acting) = (0.0, 0.0);
    for episode in 0..learner.budget {
        let (policy, _) = model
            .optimistic_plan(pi_bc, learner.lambda, learner.bonus, learner.max_return)
            .unwrap();
        let (rec, _) = model.empirical_plan(pi_bc, learner.lambda).unwrap();
        recommended = policy_value(mdp, &rec).unwrap()[0][0];
        acting = policy_value(mdp, &policy).unwrap()[0][0];
        if recommended >= 1.0 - learner.eps {
            return (Some(episode), recommended, acting);
        }
        let mut s = 0;
        for (h, stage) in policy.iter().enumerate() {
            let a = sample(&stage[s], rng);
            let (r, next) = step(mdp, h, s, a);
            model.record(h, s, a, r, next);
            s = next;
        }
    }
    (None, recommended, acting)
}

/// Mean episodes-to-ε over seeds 0..5 (the demos and the online episodes share the seed's
/// stream), a run that misses the budget counting as the budget.
fn mean_episodes(mdp: &TabularMdp, n_demos: usize, learner: &Learner) -> f64 {
    let runs: Vec<f64> = (0..5u64)
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let bc = bc_policy(mdp, n_demos, &mut rng);
            let (episodes, _, _) = episodes_to_eps(mdp, &bc, learner, &mut rng);
            episodes.unwrap_or(learner.budget) as f64
        })
        .collect();
    runs.iter().sum::<f64>() / runs.len() as f64
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
}

#[test]
fn laplace_bc_matches_the_spec_vector() {
    let bc = laplace_bc(&[7, 2, 1], 1.0).unwrap();
    assert!(close(&bc, &[0.615385, 0.230769, 0.153846], 1e-6), "{bc:?}");
    assert!(close(
        &laplace_bc(&[0, 0], 0.5).unwrap(),
        &[0.5, 0.5],
        1e-15
    ));
    assert!(laplace_bc(&[1], 0.0).is_err());
}

#[test]
fn kl_regularised_optimum_matches_the_spec_vectors() {
    let (pi_bc, r) = ([0.7, 0.2, 0.1], [0.0, 1.0, 0.5]);
    let (pi, v) = kl_regularised_optimum(&pi_bc, &r, 0.5).unwrap();
    assert!(close(&pi, &[0.285756, 0.603277, 0.110967], 1e-6), "{pi:?}");
    assert!((v - 0.447970).abs() < 1e-6, "{v}");
    let (pi, v) = kl_regularised_optimum(&pi_bc, &r, 2.0).unwrap();
    assert!(close(&pi, &[0.604414, 0.284717, 0.110869], 1e-6), "{pi:?}");
    assert!((v - 0.293642).abs() < 1e-6, "{v}");
    // V is the regularised objective at π*: E_π r − λ KL(π || π^BC).
    let kl: f64 = pi.iter().zip(&pi_bc).map(|(p, q)| p * (p / q).ln()).sum();
    let objective: f64 = pi.iter().zip(&r).map(|(p, r)| p * r).sum::<f64>() - 2.0 * kl;
    assert!((objective - v).abs() < 1e-12);
    // λ = 0: the hard max, split among ties.
    let (pi, v) = kl_regularised_optimum(&pi_bc, &[1.0, 1.0, 0.0], 0.0).unwrap();
    assert_eq!((pi, v), (vec![0.5, 0.5, 0.0], 1.0));
    assert!(kl_regularised_optimum(&pi_bc, &r, -1.0).is_err());
    assert!(kl_regularised_optimum(&[0.5, 0.4, 0.0], &r, 1.0).is_err());
}

/// Soft VI's value is the regularised objective of its own policy (evaluated forward with
/// the per-state KL cost folded into the reward), and no perturbed policy does better.
#[test]
fn soft_value_iteration_value_is_its_policys_regularised_objective() {
    let mdp = chain();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let bc = bc_policy(&mdp, 5, &mut rng);
    let lambda = 0.2;
    let regularised_objective = |policy: &TabularPolicy| {
        let mut shaped = mdp.clone();
        for h in 0..H {
            for s in 0..S {
                let kl: f64 = policy[h][s]
                    .iter()
                    .zip(&bc[h][s])
                    .map(|(p, q)| if *p > 0.0 { p * (p / q).ln() } else { 0.0 })
                    .sum();
                for a in 0..A {
                    shaped.reward[h][s][a] -= lambda * kl;
                }
            }
        }
        policy_value(&shaped, policy).unwrap()[0][0]
    };
    let (policy, values) = soft_value_iteration(&mdp, &bc, lambda).unwrap();
    assert_eq!(values.len(), H + 1);
    assert!(values[H].iter().all(|&v| v == 0.0));
    let best = regularised_objective(&policy);
    assert!(
        (best - values[0][0]).abs() < 1e-12,
        "{best} vs {}",
        values[0][0]
    );
    for (h, s) in [(0, 0), (4, 4), (9, 9), (5, 0)] {
        let mut other = policy.clone();
        other[h][s] = vec![0.2, 0.3, 0.5];
        assert!(regularised_objective(&other) < best);
    }
    // λ = 0 is plain value iteration: the all-right path, V* = 1.
    let (greedy, values) = soft_value_iteration(&mdp, &bc, 0.0).unwrap();
    assert_eq!(values[0][0], 1.0);
    assert_eq!(policy_value(&mdp, &greedy).unwrap()[0][0], 1.0);
}

/// The spec's chain check: with KL to BC, episodes to an ε-optimal (ε = 0.1) recommendation
/// fall as the number of demonstrations grows. Measured (mean over seeds 0..5, c = 0.1,
/// return bound 1): λ = 0.03 → N^E = 0: 80.6, 5: 43.6, 50: 2.4 episodes; plain UCBVI
/// (λ = 0) → 80.6, 79.0, 81.2, since it ignores π^BC. At the spec's λ = 0.1 the
/// N^E = 0 learner never gets there: the KL cost of a deterministic path to the uniform
/// BC policy (H log 3 ≈ 11 nats, ×λ ≈ 1.1) exceeds the reward, so even the exact regularised
/// optimum has true value 0.272; N^E = 5 and 50 take 38.2 and 2.4.
#[test]
fn demonstrations_reduce_episodes_to_eps_optimal() {
    let mdp = chain();
    let learner = |lambda| Learner {
        lambda,
        bonus: 0.1,
        max_return: 1.0,
        eps: 0.1,
        budget: 400,
    };
    let mut report = Vec::new();
    for lambda in [0.0, 0.03, 0.1] {
        let means: Vec<f64> = [0, 5, 50]
            .iter()
            .map(|&n| mean_episodes(&mdp, n, &learner(lambda)))
            .collect();
        report.push((lambda, means));
    }
    println!("mean episodes to eps-optimal for N^E = 0, 5, 50: {report:?}");
    for (lambda, means) in &report[1..] {
        assert!(
            means[2] < means[1] && means[1] < means[0],
            "lambda {lambda}: {means:?}"
        );
    }
    // Regularised with 50 demos beats plain UCBVI by far.
    assert!(report[1].1[2] < report[0].1[0] / 4.0);
    // λ = 0.1 without demos stays out of reach (the regularisation bias above).
    assert_eq!(report[2].1[0], 400.0);
    let uniform = bc_policy(&mdp, 0, &mut ChaCha8Rng::seed_from_u64(0));
    let (biased, _) = soft_value_iteration(&mdp, &uniform, 0.1).unwrap();
    assert!(policy_value(&mdp, &biased).unwrap()[0][0] < 0.9);
}

/// λ large: the learner stays at the BC policy's value. The soft policy's per-state ratio to
/// π^BC is at most e^{1/λ} when Q lies in [0, 1] (the return bound), so any such policy's
/// value is within a factor e^{±H/λ} of V^{π^BC}, far below V* = 1.
#[test]
fn large_lambda_caps_the_value_at_the_bc_policys_value() {
    let mdp = chain();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let bc = bc_policy(&mdp, 50, &mut rng);
    let v_bc = policy_value(&mdp, &bc).unwrap()[0][0];
    let lambda = 100.0;
    let learner = Learner {
        lambda,
        bonus: 0.1,
        max_return: 1.0,
        eps: 0.1,
        budget: 200,
    };
    let (episodes, recommended, acting) = episodes_to_eps(&mdp, &bc, &learner, &mut rng);
    let factor = (H as f64 / lambda).exp();
    println!("V^BC {v_bc:.4}, lambda {lambda}: recommended {recommended:.4}, acting {acting:.4}");
    assert_eq!(episodes, None);
    for v in [recommended, acting] {
        assert!(
            v <= factor * v_bc + 1e-12 && v >= v_bc / factor - 1e-12,
            "{v} vs {v_bc}"
        );
    }
    let (exact, _) = soft_value_iteration(&mdp, &bc, lambda).unwrap();
    let v_exact = policy_value(&mdp, &exact).unwrap()[0][0];
    assert!(v_exact <= factor * v_bc && v_exact < 0.5, "{v_exact}");
}
