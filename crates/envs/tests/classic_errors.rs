//! Every bad input to a classic-control environment is a typed error whose message names the
//! environment, the offending value and what would have been valid.
use polopt_envs::classic::{
    make, make_vec, make_with_limit, ActionKind, ActionRef, CartPole, Env, EnvError, ResetReason,
    VecActions, VecEnv, ENV_IDS,
};

#[test]
fn discrete_action_out_of_range_names_env_action_and_range() {
    for (id, n) in [("CartPole-v1", 2), ("Acrobot-v1", 3), ("MountainCar-v0", 3)] {
        let mut env = make(id).unwrap();
        env.reset(Some(0));
        for bad in [n as i64, -1, i64::MAX] {
            let err = env.step(ActionRef::Discrete(bad)).unwrap_err();
            assert_eq!(
                err,
                EnvError::ActionOutOfRange {
                    env: id,
                    action: bad,
                    n
                }
            );
            let msg = err.to_string();
            assert!(
                msg.contains(id)
                    && msg.contains(&format!("action {bad}"))
                    && msg.contains(&format!("0..{n}")),
                "{msg}"
            );
        }
        // A rejected action leaves the episode running.
        assert!(env.step(ActionRef::Discrete(0)).is_ok());
    }
}

#[test]
fn non_finite_continuous_action_is_rejected_with_its_value() {
    for id in ["MountainCarContinuous-v0", "Pendulum-v1"] {
        let mut env = make(id).unwrap();
        env.reset(Some(0));
        let before = env.state();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = env.step(ActionRef::Continuous(&[bad])).unwrap_err();
            assert!(
                matches!(err, EnvError::NonFiniteAction { env, index: 0, value } if env == id && value.to_bits() == bad.to_bits()),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(id) && msg.contains("action[0]") && msg.contains(&bad.to_string()),
                "{msg}"
            );
        }
        assert_eq!(
            env.state(),
            before,
            "{id}: a rejected action must not move the state"
        );
        assert_eq!(env.elapsed_steps(), 0);
    }
}

#[test]
fn out_of_box_continuous_actions_are_accepted_as_in_gymnasium() {
    // MountainCarContinuous clips the force only; Pendulum clips the torque (spec §4, §5).
    for id in ["MountainCarContinuous-v0", "Pendulum-v1"] {
        let mut env = make(id).unwrap();
        env.reset(Some(0));
        assert!(env.step(ActionRef::Continuous(&[5.0])).is_ok(), "{id}");
    }
}

#[test]
fn wrong_action_kind_and_dimension_are_named() {
    let mut cartpole = make("CartPole-v1").unwrap();
    cartpole.reset(Some(0));
    let err = cartpole.step(ActionRef::Continuous(&[1.0])).unwrap_err();
    assert_eq!(
        err,
        EnvError::WrongActionKind {
            env: "CartPole-v1",
            expected: ActionKind::Discrete,
            got: ActionKind::Continuous
        }
    );
    assert!(err.to_string().contains("expected a discrete"), "{err}");

    let mut pendulum = make("Pendulum-v1").unwrap();
    pendulum.reset(Some(0));
    let err = pendulum.step(ActionRef::Discrete(1)).unwrap_err();
    assert!(
        matches!(
            err,
            EnvError::WrongActionKind {
                expected: ActionKind::Continuous,
                ..
            }
        ),
        "{err:?}"
    );
    let err = pendulum
        .step(ActionRef::Continuous(&[0.0, 1.0]))
        .unwrap_err();
    assert_eq!(
        err,
        EnvError::WrongActionDim {
            env: "Pendulum-v1",
            expected: 1,
            got: 2
        }
    );
    assert!(err.to_string().contains("2 components"), "{err}");
}

#[test]
fn step_after_done_without_reset_is_an_error_for_both_flags() {
    // Terminated: CartPole pushed right from the edge of the track ends on the first step.
    let mut env = make("CartPole-v1").unwrap();
    env.set_state(&[2.39, 1.0, 0.0, 0.0]).unwrap();
    let step = env.step(ActionRef::Discrete(1)).unwrap();
    assert!(step.terminated && !step.truncated);
    let err = env.step(ActionRef::Discrete(1)).unwrap_err();
    assert_eq!(
        err,
        EnvError::ResetNeeded {
            env: "CartPole-v1",
            reason: ResetReason::EpisodeEnded {
                terminated: true,
                truncated: false
            }
        }
    );
    assert!(
        err.to_string().contains("reset()") && err.to_string().contains("terminated"),
        "{err}"
    );

    // Truncated: a time limit of 3 on Pendulum, which never terminates.
    let mut env = make_with_limit("Pendulum-v1", 3).unwrap();
    env.reset(Some(1));
    for t in 0..3 {
        assert_eq!(
            env.step(ActionRef::Continuous(&[0.0])).unwrap().truncated,
            t == 2
        );
    }
    let err = env.step(ActionRef::Continuous(&[0.0])).unwrap_err();
    assert!(matches!(
        err,
        EnvError::ResetNeeded {
            reason: ResetReason::EpisodeEnded {
                truncated: true,
                ..
            },
            ..
        }
    ));
    assert!(err.to_string().contains("time limit"), "{err}");

    // A reset makes the environment steppable again.
    env.reset(None);
    assert!(env.step(ActionRef::Continuous(&[0.0])).is_ok());
}

#[test]
fn step_before_first_reset_is_an_error() {
    for id in ENV_IDS {
        let mut env = make(id).unwrap();
        let action = match env.action_space() {
            polopt_envs::classic::Space::Discrete { .. } => ActionRef::Discrete(0),
            polopt_envs::classic::Space::Box { .. } => ActionRef::Continuous(&[0.0]),
        };
        let err = env.step(action).unwrap_err();
        assert_eq!(
            err,
            EnvError::ResetNeeded {
                env: id,
                reason: ResetReason::NeverReset
            }
        );
        assert!(
            err.to_string().contains("before the first reset()"),
            "{err}"
        );
    }
}

#[test]
fn unknown_id_lists_the_known_ones() {
    let Err(err) = make("CartPole-v0") else {
        panic!("CartPole-v0 is not registered")
    };
    assert_eq!(
        err,
        EnvError::UnknownEnv {
            id: "CartPole-v0".into()
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("\"CartPole-v0\""), "{msg}");
    for id in ENV_IDS {
        assert!(msg.contains(id), "{msg} should list {id}");
    }
    assert!(make_vec("Nope", 2).is_err());
}

#[test]
fn zero_time_limit_is_rejected() {
    let Err(err) = make_with_limit("Acrobot-v1", 0) else {
        panic!("a limit of 0 must be rejected")
    };
    assert_eq!(
        err,
        EnvError::InvalidTimeLimit {
            env: "Acrobot-v1",
            got: 0
        }
    );
    assert!(err.to_string().contains("max_episode_steps"), "{err}");
}

#[test]
fn bad_states_are_rejected_with_their_position() {
    let mut env = make("MountainCar-v0").unwrap();
    assert_eq!(
        env.set_state(&[0.0, 0.0, 0.0]).unwrap_err(),
        EnvError::WrongStateLength {
            env: "MountainCar-v0",
            expected: 2,
            got: 3
        }
    );
    let err = env.set_state(&[0.0, f64::NAN]).unwrap_err();
    assert!(
        matches!(err, EnvError::NonFiniteState { index: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("state[1]"), "{err}");
}

#[test]
fn vec_env_rejects_a_bad_batch_without_moving_any_env() {
    let mut vec = make_vec("CartPole-v1", 3).unwrap();
    let err = vec.step(VecActions::Discrete(&[0, 1, 0])).unwrap_err();
    assert!(
        matches!(
            err,
            EnvError::ResetNeeded {
                reason: ResetReason::NeverReset,
                ..
            }
        ),
        "{err:?}"
    );

    vec.reset(Some(0));
    let before: Vec<Vec<f64>> = vec.envs().iter().map(|e| e.state()).collect();
    let err = vec.step(VecActions::Discrete(&[0, 1, 2])).unwrap_err();
    assert_eq!(
        err,
        EnvError::InVecEnv {
            index: 2,
            source: Box::new(EnvError::ActionOutOfRange {
                env: "CartPole-v1",
                action: 2,
                n: 2
            })
        }
    );
    assert!(
        err.to_string().starts_with("environment 2 of the vector"),
        "{err}"
    );
    let err = vec.step(VecActions::Discrete(&[0, 1])).unwrap_err();
    assert_eq!(
        err,
        EnvError::WrongBatchSize {
            env: "CartPole-v1",
            num_envs: 3,
            expected: 3,
            got: 2
        }
    );
    let err = vec.step(VecActions::Continuous(&[0.0; 3])).unwrap_err();
    assert!(matches!(err, EnvError::WrongActionKind { .. }), "{err:?}");
    let after: Vec<Vec<f64>> = vec.envs().iter().map(|e| e.state()).collect();
    assert_eq!(before, after);

    let mut pendulums = make_vec("Pendulum-v1", 2).unwrap();
    pendulums.reset(Some(0));
    let err = pendulums
        .step(VecActions::Continuous(&[0.0, f32::NAN]))
        .unwrap_err();
    assert!(
        matches!(&err, EnvError::InVecEnv { index: 1, source } if matches!(**source, EnvError::NonFiniteAction { .. }))
    );
}

#[test]
fn vec_env_needs_one_kind_of_environment() {
    assert!(matches!(
        VecEnv::<CartPole>::new(Vec::new()),
        Err(EnvError::InvalidVecEnv { .. })
    ));
    let mixed: Vec<Box<dyn Env>> = vec![make("CartPole-v1").unwrap(), make("Acrobot-v1").unwrap()];
    let Err(err) = VecEnv::new(mixed) else {
        panic!("mixed environments must be rejected")
    };
    assert!(err.to_string().contains("Acrobot-v1"), "{err}");
}
