//! A-PARL on parl.md's two-action bandit: the spec vector, the hypergradient against finite
//! differences of G, and the fixed points of the implicit and the naive updates.
use polopt_methods::games::*;

fn spec_bandit(lambda: f64) -> ParlBandit {
    ParlBandit::new([1.0, 0.2], lambda, 0.1).unwrap()
}

/// ν* solving (u1 − u2) π1 π2 / λ = 2cν, by bisection (the left side minus the right is
/// positive at 0 and decreasing for ν > 0).
fn nu_star(bandit: &ParlBandit) -> f64 {
    let f = |nu: f64| {
        let [p1, p2] = ParlBandit::policy(bandit.lower_optimum(nu));
        (bandit.utility[0] - bandit.utility[1]) * p1 * p2 / bandit.lambda - 2.0 * bandit.cost * nu
    };
    let (mut lo, mut hi) = (0.0, 10.0);
    assert!(f(lo) > 0.0 && f(hi) < 0.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn finite_difference(bandit: &ParlBandit, nu: f64) -> f64 {
    let h = 1e-5;
    (bandit.upper_objective(nu + h) - bandit.upper_objective(nu - h)) / (2.0 * h)
}

#[test]
fn hypergradient_matches_the_spec_vector_and_finite_differences() {
    let bandit = spec_bandit(1.0);
    let x = bandit.lower_optimum(0.5);
    let pi = ParlBandit::policy(x);
    assert!((pi[0] - 0.622459).abs() < 1e-6 && (pi[1] - 0.377541).abs() < 1e-6);
    let g = bandit.hypergradient(0.5, x);
    assert!((g.total - 0.088003).abs() < 1e-6, "{g:?}");
    assert!((g.dx_dnu - 1.0).abs() < 1e-12);
    assert!((finite_difference(&bandit, 0.5) - 0.088003).abs() < 1e-6);
    for lambda in [0.3, 1.0, 2.5] {
        let bandit = spec_bandit(lambda);
        for nu in [-1.0, 0.0, 0.5, 2.0] {
            let g = bandit.hypergradient(nu, bandit.lower_optimum(nu)).total;
            let fd = finite_difference(&bandit, nu);
            assert!(
                (g - fd).abs() < 1e-8,
                "lambda {lambda}, nu {nu}: {g} vs {fd}"
            );
        }
    }
    assert!(ParlBandit::new([1.0, 0.2], 0.0, 0.1).is_err());
}

/// The inner gradient loop reaches x* = ν/λ, and the implicit derivative ∂x*/∂ν from the
/// Hessians agrees with differentiating that loop's end point numerically.
#[test]
fn inner_gradient_steps_reach_the_lower_optimum_with_the_implicit_derivative() {
    let bandit = spec_bandit(0.5);
    let solve = |nu| bandit.inner_steps(0.0, nu, 4000, 2.0);
    let x = solve(0.7);
    assert!((x - bandit.lower_optimum(0.7)).abs() < 1e-10, "{x}");
    assert!(bandit.lower_grad(x, 0.7).abs() < 1e-12);
    let numeric = (solve(0.7 + 1e-5) - solve(0.7 - 1e-5)) / 2e-5;
    let implicit = bandit.hypergradient(0.7, x).dx_dnu;
    assert!((numeric - implicit).abs() < 1e-6, "{numeric} vs {implicit}");
    assert!((implicit - 2.0).abs() < 1e-9);
}

#[test]
fn a_parl_converges_to_the_bilevel_optimum_and_the_naive_update_does_not() {
    for lambda in [0.5, 1.0] {
        let bandit = spec_bandit(lambda);
        let target = nu_star(&bandit);
        let exact = run_parl(
            &bandit,
            LowerSolver::ClosedForm,
            UpperGradient::Implicit,
            0.0,
            1.0,
            500,
        )
        .unwrap();
        // A-PARL's loop: 5 warm-started inner gradient steps per outer step.
        let inner = LowerSolver::Gradient {
            steps: 5,
            beta: 2.0,
        };
        let warm = run_parl(&bandit, inner, UpperGradient::Implicit, 0.0, 1.0, 500).unwrap();
        let naive = run_parl(&bandit, inner, UpperGradient::Naive, 0.0, 1.0, 500).unwrap();
        let from_above = run_parl(&bandit, inner, UpperGradient::Naive, 2.0, 1.0, 500).unwrap();
        println!(
            "lambda {lambda}: nu* {target:.6}, A-PARL closed form {:.6}, A-PARL K=5 {:.6} \
             (x {:.6} vs nu/lambda {:.6}), naive {:.6} / {:.6}",
            exact.nu,
            warm.nu,
            warm.x,
            warm.nu / lambda,
            naive.nu,
            from_above.nu
        );
        assert!((exact.nu - target).abs() < 1e-8);
        assert!((warm.nu - target).abs() < 1e-6);
        assert!((warm.x - bandit.lower_optimum(warm.nu)).abs() < 1e-6);
        // G is maximised at ν*: the bisection root is where the true dG/dν vanishes.
        assert!(finite_difference(&bandit, target).abs() < 1e-8);
        // The naive update ends at ν = 0 (uniform policy), from either side.
        assert!(naive.nu.abs() < 1e-8 && from_above.nu.abs() < 1e-8);
        assert!(bandit.upper_objective(naive.nu) < bandit.upper_objective(target) - 1e-3);
    }
}
