//! C-MORL's pure parts against the exact vectors of `algorithms/c-morl.md` ("Small CPU
//! check"): hypervolume, crowding distance, expected utility, sparsity, the log barrier, the
//! preference grid, the archive and selection.
use polopt_methods::multi_objective::barrier::{constrained, sign_safe_thresholds};
use polopt_methods::multi_objective::{
    assign_policy, crowding_distance, dominates, eu_weights, expected_utility, hypervolume,
    hypervolume_2d, hypervolume_by_slicing, log_barrier, non_dominated, preference_grid,
    select_by_crowding, sparsity, BarrierConfig, ParetoArchive,
};
use polopt_methods::MethodError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CONCAVE_FRONT: [[f64; 2]; 10] = [
    [0.7, -1.0],
    [8.2, -3.0],
    [11.5, -5.0],
    [14.0, -7.0],
    [15.1, -8.0],
    [16.1, -9.0],
    [19.6, -13.0],
    [20.3, -14.0],
    [22.4, -17.0],
    [23.7, -19.0],
];
const CONVEX_VALUES: [f64; 10] = [1.0, 2.0, 3.0, 5.0, 8.0, 16.0, 24.0, 50.0, 74.0, 124.0];

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

/// Every hypervolume routine on one 2-objective set, checked to agree before returning.
fn hv_all(points: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    let a = hypervolume(points, &reference).unwrap();
    let b = hypervolume_2d(points, reference).unwrap();
    let c = hypervolume_by_slicing(points, &reference).unwrap();
    close(a, b, 1e-9);
    close(a, c, 1e-9);
    a
}

#[test]
fn hypervolume_of_deep_sea_treasure_fronts_matches_the_spec() {
    close(hv_all(&CONCAVE_FRONT, [0.0, -25.0]), 401.8, 1e-9);
    close(hv_all(&CONCAVE_FRONT[..5], [0.0, -25.0]), 311.5, 1e-9);
    let convex: Vec<[f64; 2]> = CONVEX_VALUES
        .iter()
        .zip(CONCAVE_FRONT)
        .map(|(&v, p)| [v, p[1]])
        .collect();
    close(hv_all(&convex, [0.0, -25.0]), 1155.0, 1e-9);
    close(hv_all(&CONCAVE_FRONT, [0.0, -50.0]), 994.3, 1e-9);
}

#[test]
fn hypervolume_ignores_dominated_points_and_points_beyond_the_reference() {
    let mut points = CONCAVE_FRONT.to_vec();
    points.push([10.0, -10.0]); // dominated by (14, -7)
    points.push([30.0, -30.0]); // below the reference in the second objective
    points.push([0.7, -1.0]); // a duplicate
    close(hv_all(&points, [0.0, -25.0]), 401.8, 1e-9);
    assert_eq!(hypervolume(&[[-1.0, -30.0]], &[0.0, -25.0]).unwrap(), 0.0);
    assert_eq!(hypervolume::<[f64; 2]>(&[], &[0.0, -25.0]).unwrap(), 0.0);
}

/// Exact volume of integer points by counting the unit cells of the reference box they cover.
fn grid_count(points: &[Vec<f64>], side: usize) -> f64 {
    let m = points[0].len();
    let cells = side.pow(m as u32);
    (0..cells)
        .filter(|&c| {
            // The cell's upper corner, (x_i + 1) in every objective.
            let corner: Vec<f64> = (0..m)
                .map(|i| ((c / side.pow(i as u32)) % side) as f64 + 1.0)
                .collect();
            points
                .iter()
                .any(|p| p.iter().zip(&corner).all(|(x, y)| x >= y))
        })
        .count() as f64
}

#[test]
fn many_objective_hypervolume_equals_a_cell_count() {
    let fixed = vec![
        vec![3.0, 1.0, 2.0],
        vec![1.0, 3.0, 1.0],
        vec![2.0, 2.0, 3.0],
        vec![1.0, 1.0, 4.0],
    ];
    // Slices along the third objective, top down: 1 + 4 + 5 + 6 (worked by hand).
    close(
        hypervolume(&fixed, &[0.0; 3]).unwrap(),
        grid_count(&fixed, 5),
        1e-9,
    );
    close(hypervolume(&fixed, &[0.0; 3]).unwrap(), 16.0, 1e-9);
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for m in [3usize, 4] {
        for _ in 0..20 {
            let n = rng.random_range(1..8);
            let points: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..m).map(|_| rng.random_range(1..=5) as f64).collect())
                .collect();
            close(
                hypervolume(&points, &vec![0.0; m]).unwrap(),
                grid_count(&points, 5),
                1e-9,
            );
        }
    }
}

#[test]
fn three_objective_hypervolume_of_a_flat_front_is_area_times_height() {
    let points: Vec<[f64; 3]> = CONCAVE_FRONT.iter().map(|p| [p[0], p[1], 2.5]).collect();
    close(
        hypervolume(&points, &[0.0, -25.0, 0.0]).unwrap(),
        401.8 * 2.5,
        1e-9,
    );
}

#[test]
fn crowding_distances_match_the_spec() {
    let points = [
        [0.7, -1.0],
        [8.2, -3.0],
        [14.0, -7.0],
        [16.1, -9.0],
        [23.7, -19.0],
    ];
    let cd = crowding_distance(&points).unwrap();
    assert_eq!(cd[0], f64::INFINITY);
    assert_eq!(cd[4], f64::INFINITY);
    for (got, want) in cd[1..4].iter().zip([0.911594, 0.676812, 1.088406]) {
        close(*got, want, 1e-6);
    }
}

#[test]
fn crowding_distance_of_two_points_is_all_boundary() {
    let cd = crowding_distance(&[[1.0, 2.0], [2.0, 1.0]]).unwrap();
    assert_eq!(cd, vec![f64::INFINITY; 2]);
}

#[test]
fn expected_utility_and_sparsity_match_the_spec() {
    let weights = [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]];
    close(
        expected_utility(&CONCAVE_FRONT, &weights).unwrap(),
        8.75,
        1e-12,
    );
    close(sparsity(&CONCAVE_FRONT).unwrap(), 15.3822, 1e-4);
    assert_eq!(sparsity(&CONCAVE_FRONT[..1]).unwrap(), 0.0);
}

#[test]
fn barrier_matches_the_spec_vectors() {
    let config = BarrierConfig::default();
    assert_eq!((config.t, config.beta, config.clip), (20.0, 0.9, 0.2));
    let b = |ratio: f64, mean: f64| log_barrier(&[ratio], &[mean], &config).unwrap();
    close(b(1.0, 5.0), 0.034657, 1e-6);
    close(b(1.1, 5.0), 0.0, 1e-12);
    close(b(0.85, 5.0), 0.345388, 1e-6);
    close(b(1.1, -5.0), 0.345388, 1e-6);
    // The mean runs over samples and constrained objectives together.
    close(
        log_barrier(&[1.0, 1.1], &[5.0, 5.0], &config).unwrap(),
        (0.034657 + 0.0) / 2.0,
        1e-6,
    );
}

#[test]
fn barrier_helpers_pick_constrained_objectives_and_sign_safe_thresholds() {
    assert_eq!(constrained(&[1.0, 2.0, 3.0], 1), vec![1.0, 3.0]);
    assert_eq!(constrained(&[4.0], 0), Vec::<f64>::new());
    let eps = sign_safe_thresholds(&[10.0, -10.0], 0.9);
    close(eps[0], 9.0, 1e-12);
    close(eps[1], -11.0, 1e-12);
    // No constrained objective: nothing to penalise.
    assert_eq!(
        log_barrier(&[1.0], &[], &BarrierConfig::default()).unwrap(),
        0.0
    );
}

#[test]
fn barrier_rejects_bad_settings_and_inputs_by_name() {
    let bad = BarrierConfig {
        t: 0.0,
        ..BarrierConfig::default()
    };
    let err = log_barrier(&[1.0], &[5.0], &bad).unwrap_err();
    assert!(err.to_string().contains("barrier_t"), "{err}");
    let err = log_barrier(&[f64::NAN], &[5.0], &BarrierConfig::default()).unwrap_err();
    assert!(matches!(err, MethodError::NonFinite { what: "ratios", .. }));
    assert!(log_barrier(&[], &[5.0], &BarrierConfig::default()).is_err());
}

#[test]
fn preference_grid_sizes_and_sums() {
    for (m, delta, size) in [
        (2, 0.2, 6),
        (2, 0.25, 5),
        (2, 0.5, 3),
        (3, 0.5, 6),
        (3, 0.2, 21),
        (1, 0.5, 1),
    ] {
        let grid = preference_grid(m, delta).unwrap();
        assert_eq!(grid.len(), size, "m = {m}, delta = {delta}");
        for w in &grid {
            assert_eq!(w.len(), m);
            close(w.iter().sum(), 1.0, 1e-12);
        }
    }
    assert_eq!(
        preference_grid(2, 0.25).unwrap(),
        vec![
            vec![0.0, 1.0],
            vec![0.25, 0.75],
            vec![0.5, 0.5],
            vec![0.75, 0.25],
            vec![1.0, 0.0]
        ]
    );
    assert_eq!(eu_weights(2).unwrap().len(), 101);
    assert_eq!(eu_weights(3).unwrap().len(), 5151);
    let err = preference_grid(2, 0.3).unwrap_err();
    assert!(err.to_string().contains("delta_weight"), "{err}");
    assert!(preference_grid(0, 0.5).is_err());
}

#[test]
fn dominance_and_the_non_dominated_filter() {
    assert!(dominates(&[1.0, 2.0], &[1.0, 1.0]));
    assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
    assert!(!dominates(&[2.0, 0.0], &[1.0, 1.0]));
    let points = [[1.0, 1.0], [2.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.0, 2.0]];
    assert_eq!(non_dominated(&points), vec![0, 1, 4]);
}

#[test]
fn archive_trimming_keeps_the_boundary_points() {
    let mut archive = ParetoArchive::new(4, vec![0.0, -25.0]).unwrap();
    let kept = archive
        .extend(CONCAVE_FRONT.iter().enumerate().map(|(k, p)| {
            polopt_methods::multi_objective::ArchiveEntry {
                objectives: p.to_vec(),
                policy: k,
            }
        }))
        .unwrap();
    assert_eq!((kept, archive.len()), (4, 4));
    let policies: Vec<usize> = archive.entries().iter().map(|e| e.policy).collect();
    assert!(
        policies.contains(&0) && policies.contains(&9),
        "{policies:?}"
    );
    // The two interior survivors are the ones of largest crowding distance in the full front.
    let cd = crowding_distance(&CONCAVE_FRONT).unwrap();
    let mut interior: Vec<usize> = (1..9).collect();
    interior.sort_by(|&a, &b| cd[b].total_cmp(&cd[a]));
    for k in &interior[..2] {
        assert!(policies.contains(k), "{policies:?} lacks {k}");
    }
}

#[test]
fn archive_rejects_dominated_candidates_and_those_not_above_the_reference() {
    let mut archive = ParetoArchive::new(200, vec![0.0, -25.0]).unwrap();
    assert!(archive.insert(vec![14.0, -7.0], "a").unwrap());
    assert!(!archive.insert(vec![10.0, -10.0], "dominated").unwrap());
    assert!(!archive.insert(vec![14.0, -7.0], "duplicate").unwrap());
    assert!(!archive
        .insert(vec![30.0, -26.0], "beyond reference")
        .unwrap());
    assert!(archive.insert(vec![15.0, -7.0], "better").unwrap());
    assert_eq!(archive.len(), 1);
    assert_eq!(archive.entries()[0].policy, "better");
    let err = archive.insert(vec![1.0], "short").unwrap_err();
    assert!(matches!(err, MethodError::Shape { .. }));
    assert_eq!(
        archive.len(),
        1,
        "a bad candidate must not disturb the archive"
    );
    assert!(ParetoArchive::<()>::new(0, vec![0.0, 0.0]).is_err());
}

#[test]
fn selection_takes_largest_crowding_and_skips_what_was_selected() {
    let points = [
        [0.7, -1.0],
        [8.2, -3.0],
        [14.0, -7.0],
        [16.1, -9.0],
        [23.7, -19.0],
    ];
    // CD = [inf, 0.91, 0.68, 1.09, inf]
    assert_eq!(
        select_by_crowding(&points, &[] as &[[f64; 2]], 3).unwrap(),
        vec![0, 4, 3]
    );
    assert_eq!(
        select_by_crowding(&points, &[[23.7, -19.0], [16.1, -9.0]], 2).unwrap(),
        vec![0, 1]
    );

    let mut archive = ParetoArchive::new(200, vec![0.0, -25.0]).unwrap();
    for (k, p) in points.iter().enumerate() {
        archive.insert(p.to_vec(), k).unwrap();
    }
    let first: Vec<usize> = archive
        .select(3)
        .unwrap()
        .iter()
        .map(|e| e.policy)
        .collect();
    let second: Vec<usize> = archive
        .select(3)
        .unwrap()
        .iter()
        .map(|e| e.policy)
        .collect();
    assert_eq!(first, vec![0, 4, 3]);
    assert_eq!(second, vec![1, 2]);
    assert!(archive.select(3).unwrap().is_empty());
}

#[test]
fn policy_assignment_maximises_the_weighted_return() {
    assert_eq!(assign_policy(&[1.0, 0.0], &CONCAVE_FRONT).unwrap(), 9);
    assert_eq!(assign_policy(&[0.0, 1.0], &CONCAVE_FRONT).unwrap(), 0);
    // 0.5·(v − s) is 7.1 for both (15.1, −8) and (16.1, −9) (up to rounding); either is right.
    let k = assign_policy(&[0.5, 0.5], &CONCAVE_FRONT).unwrap();
    assert!(k == 4 || k == 5, "{k}");
    let mut archive = ParetoArchive::new(10, vec![0.0, -25.0]).unwrap();
    for (k, p) in CONCAVE_FRONT.iter().enumerate() {
        archive.insert(p.to_vec(), k).unwrap();
    }
    assert_eq!(archive.assign(&[1.0, 0.0]).unwrap().policy, 9);
    assert!(assign_policy::<[f64; 2]>(&[1.0, 0.0], &[]).is_err());
}

#[test]
fn barrier_ratio_gradient_matches_finite_differences() {
    use polopt_methods::multi_objective::log_barrier_terms;
    // Ratios inside the clip, on its edges' outside, and one with the floor active; two
    // constrained objectives of either sign with sign-safe thresholds.
    let ratios = [0.95, 1.05, 1.3, 0.7, 1.12];
    let means = [5.0, -3.0];
    let thresholds = [4.5, -3.3];
    let (t, clip) = (20.0, 0.2);
    let terms = log_barrier_terms(&ratios, &means, &thresholds, t, clip).unwrap();
    let h = 1e-6;
    for k in 0..ratios.len() {
        let at = |delta: f64| {
            let mut r = ratios;
            r[k] += delta;
            log_barrier_terms(&r, &means, &thresholds, t, clip)
                .unwrap()
                .value
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        assert!(
            (numeric - terms.d_ratio[k]).abs() < 1e-6,
            "ratio {k}: analytic {} vs numeric {numeric}",
            terms.d_ratio[k]
        );
    }
    // Outside the clip the barrier is flat in the ratio.
    assert_eq!(terms.d_ratio[2], 0.0);
    assert_eq!(terms.d_ratio[3], 0.0);
    // The value agrees with the value-only entry point.
    let value = polopt_methods::multi_objective::log_barrier_with_thresholds(
        &ratios,
        &means,
        &thresholds,
        t,
        clip,
    )
    .unwrap();
    assert_eq!(value, terms.value);
}
