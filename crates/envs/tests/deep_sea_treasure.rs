//! Deep Sea Treasure against the "Small CPU check" of `algorithms/c-morl.md`: the exact front,
//! walls, episode end on a treasure and truncation at 100 steps.
use polopt_envs::multi_objective::deep_sea_treasure::{DOWN, LEFT, RIGHT, UP};
use polopt_envs::multi_objective::{
    one_hot, DeepSeaTreasure, MultiObjectiveError, TreasureValues, VectorRewardEnv,
};

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

/// Plays `actions` from a reset and returns the undiscounted return and the last step's flags.
fn play(env: &mut DeepSeaTreasure, actions: &[usize]) -> ([f64; 2], bool, bool) {
    env.reset(0);
    let mut ret = [0.0; 2];
    let (mut done, mut truncated) = (false, false);
    for &a in actions {
        let step = env.step(a).expect("valid action in a running episode");
        ret[0] += step.reward[0];
        ret[1] += step.reward[1];
        (done, truncated) = (step.done, step.truncated);
    }
    (ret, done, truncated)
}

#[test]
fn concave_front_from_the_map_equals_the_spec_list() {
    let env = DeepSeaTreasure::new(TreasureValues::Concave);
    assert_eq!(env.pareto_front(), CONCAVE_FRONT.to_vec());
}

#[test]
fn convex_front_has_the_classic_values_at_the_same_distances() {
    let env = DeepSeaTreasure::new(TreasureValues::Convex);
    let expected: Vec<[f64; 2]> = CONVEX_VALUES
        .iter()
        .zip(CONCAVE_FRONT)
        .map(|(&v, p)| [v, p[1]])
        .collect();
    assert_eq!(env.pareto_front(), expected);
}

#[test]
fn default_values_are_concave() {
    assert_eq!(TreasureValues::default(), TreasureValues::Concave);
}

#[test]
fn replaying_each_shortest_path_earns_its_front_point() {
    let mut env = DeepSeaTreasure::new(TreasureValues::Concave);
    for (path, point) in env.shortest_paths().iter().zip(CONCAVE_FRONT) {
        let (ret, done, truncated) = play(&mut env, path);
        assert_eq!(ret, point, "path {path:?}");
        assert!(done && !truncated);
    }
}

#[test]
fn off_grid_moves_and_rock_leave_the_submarine_in_place() {
    let mut env = DeepSeaTreasure::new(TreasureValues::Concave);
    assert_eq!(env.reset(7), 0);
    for a in [UP, LEFT] {
        let step = env.step(a).unwrap();
        assert_eq!((step.obs, step.reward.clone()), (0, vec![0.0, -1.0]));
    }
    // (5, 6) is open water; (5, 5) to its left is rock below the treasure at (4, 5).
    assert!(DeepSeaTreasure::is_wall(5, 5));
    assert!(!DeepSeaTreasure::is_wall(5, 6));
    let mut route = vec![RIGHT; 6];
    route.extend([DOWN; 5]);
    env.reset(0);
    for &a in &route {
        env.step(a).unwrap();
    }
    let step = env.step(LEFT).unwrap();
    assert_eq!(step.obs, DeepSeaTreasure::cell(5, 6));
    assert_eq!(step.reward, vec![0.0, -1.0]);
    assert!(!step.done && !step.truncated);
}

#[test]
fn every_cell_below_a_treasure_is_rock_and_no_other() {
    let env = DeepSeaTreasure::new(TreasureValues::Concave);
    let walls: usize = (0..11)
        .flat_map(|r| (0..10).map(move |c| (r, c)))
        .filter(|&(r, c)| DeepSeaTreasure::is_wall(r, c))
        .count();
    let expected: usize = env.treasures().iter().map(|t| 10 - t.row).sum();
    assert_eq!(walls, expected);
}

#[test]
fn a_treasure_ends_the_episode_and_further_steps_need_a_reset() {
    let mut env = DeepSeaTreasure::new(TreasureValues::Concave);
    env.reset(0);
    let step = env.step(DOWN).unwrap();
    assert_eq!(step.reward, vec![0.7, -1.0]);
    assert!(step.done && !step.truncated);
    assert!(matches!(
        env.step(DOWN),
        Err(MultiObjectiveError::ResetNeeded { .. })
    ));
    assert_eq!(env.reset(0), 0);
    assert!(env.step(RIGHT).is_ok());
}

#[test]
fn episode_is_truncated_after_100_steps() {
    let mut env = DeepSeaTreasure::new(TreasureValues::Concave);
    let (ret, done, truncated) = play(&mut env, &[UP; 99]);
    assert_eq!(ret, [0.0, -99.0]);
    assert!(!done && !truncated);
    let step = env.step(UP).unwrap();
    assert!(!step.done && step.truncated);
    assert!(env.step(UP).is_err());
}

#[test]
fn bad_actions_and_settings_are_errors_that_name_the_value() {
    let mut env = DeepSeaTreasure::new(TreasureValues::Concave);
    assert!(matches!(
        env.step(UP),
        Err(MultiObjectiveError::ResetNeeded { .. })
    ));
    env.reset(0);
    let err = env.step(4).unwrap_err();
    assert!(err.to_string().contains("action 4"), "{err}");
    let err = DeepSeaTreasure::new(TreasureValues::Convex)
        .with_max_steps(0)
        .unwrap_err();
    assert!(err.to_string().contains("max_steps"), "{err}");
}

#[test]
fn sizes_and_one_hot_observations() {
    let env = DeepSeaTreasure::new(TreasureValues::Concave);
    assert_eq!(
        (env.n_objectives(), env.n_actions(), env.n_observations()),
        (2, 4, 110)
    );
    let x = one_hot(DeepSeaTreasure::cell(10, 9), 110).unwrap();
    assert_eq!(x.iter().sum::<f32>(), 1.0);
    assert_eq!(x[109], 1.0);
    assert!(one_hot(110, 110).is_none());
}
