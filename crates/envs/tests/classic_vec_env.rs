//! `VecEnv`: same-step autoreset keeps the final observation, episode statistics are right, one
//! seed fixes the whole run, and the typed fast path equals the boxed one.
use polopt_envs::classic::{
    make, make_vec, make_vec_with_limit, ActionRef, CartPole, Env, Space, VecActions, VecEnv,
    ENV_IDS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn truncated_episode_keeps_final_obs_and_returns_the_reset_obs() {
    let (n, limit, seed) = (3, 5, 7);
    let mut vec = make_vec_with_limit("Pendulum-v1", n, limit).unwrap();
    vec.reset(Some(seed));
    // The same episodes, one environment at a time: environment i is seeded with seed + i.
    let mut singles: Vec<Box<dyn Env>> = (0..n)
        .map(|_| make_vec_env_member("Pendulum-v1", limit))
        .collect();
    for (i, env) in singles.iter_mut().enumerate() {
        assert_eq!(
            bits(&env.reset(Some(seed + i as u64))),
            bits(&vec.obs()[i * 3..(i + 1) * 3])
        );
    }
    let actions = [0.5f32, -1.0, 2.5];
    let mut returns = vec![0.0f64; n];
    for t in 0..limit {
        let step = vec.step(VecActions::Continuous(&actions)).unwrap();
        let last = t + 1 == limit;
        for (i, env) in singles.iter_mut().enumerate() {
            let single = env.step(ActionRef::Continuous(&actions[i..i + 1])).unwrap();
            returns[i] += single.reward;
            let row = i * 3..(i + 1) * 3;
            assert_eq!(step.rewards[i].to_bits(), single.reward.to_bits());
            assert_eq!((step.terminated[i], step.truncated[i]), (false, last));
            assert_eq!(
                bits(&step.final_obs[row.clone()]),
                bits(&single.obs),
                "final obs of env {i}"
            );
            if last {
                // The returned observation starts the next episode, drawn from the continued stream.
                assert_eq!(
                    bits(&step.obs[row]),
                    bits(&env.reset(None)),
                    "reset obs of env {i}"
                );
            } else {
                assert_eq!(bits(&step.obs[row]), bits(&single.obs));
            }
        }
        if last {
            assert_eq!(step.completed_episodes.len(), n);
            for (i, ep) in step.completed_episodes.iter().enumerate() {
                assert_eq!(
                    (ep.env_index, ep.length, ep.terminated, ep.truncated),
                    (i, limit, false, true)
                );
                assert_eq!(ep.episode_return.to_bits(), returns[i].to_bits());
            }
        } else {
            assert!(step.completed_episodes.is_empty());
        }
    }
    // The new episodes run on: their statistics started from zero.
    let step = vec.step(VecActions::Continuous(&actions)).unwrap();
    assert!(step.completed_episodes.is_empty() && step.truncated.iter().all(|t| !t));
}

fn make_vec_env_member(id: &str, limit: u32) -> Box<dyn Env> {
    polopt_envs::classic::make_with_limit(id, limit).unwrap()
}

#[test]
fn terminated_episode_is_reset_in_the_same_step_and_reported() {
    let mut vec = VecEnv::new(vec![CartPole::new(), CartPole::new()]).unwrap();
    vec.reset(Some(3));
    let mut single = CartPole::new();
    single.reset(Some(4));
    // Always pushing right topples the pole within a few dozen steps.
    let mut length = 0;
    loop {
        let step = vec.step(VecActions::Discrete(&[1, 1])).unwrap();
        let want = single.step(ActionRef::Discrete(1)).unwrap();
        length += 1;
        assert_eq!(bits(&step.final_obs[4..]), bits(&want.obs));
        assert_eq!(step.terminated[1], want.terminated);
        if want.terminated {
            assert!(!step.truncated[1]);
            assert_eq!(bits(&step.obs[4..]), bits(&single.reset(None)));
            let ep = step
                .completed_episodes
                .iter()
                .find(|e| e.env_index == 1)
                .unwrap();
            assert_eq!(
                (ep.length, ep.episode_return, ep.terminated),
                (length, length as f64, true)
            );
            break;
        }
        assert!(length < 500, "pushing right forever should topple the pole");
    }
}

/// Runs `steps` random steps and returns every observation, reward and flag as bits.
fn trajectory<E: Env>(vec: &mut VecEnv<E>, seed: u64, steps: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut out: Vec<u64> = vec
        .reset(Some(seed))
        .iter()
        .map(|v| v.to_bits() as u64)
        .collect();
    let n = vec.num_envs();
    for _ in 0..steps {
        let step = match vec.action_space().clone() {
            Space::Discrete { n: k } => {
                let actions: Vec<i64> =
                    (0..n).map(|_| (rng.next_u64() % k as u64) as i64).collect();
                vec.step(VecActions::Discrete(&actions)).unwrap()
            }
            Space::Box { low, .. } => {
                let actions: Vec<f32> = (0..n * low.len())
                    .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0)
                    .collect();
                vec.step(VecActions::Continuous(&actions)).unwrap()
            }
        };
        out.extend(
            step.obs
                .iter()
                .chain(step.final_obs)
                .map(|v| v.to_bits() as u64),
        );
        out.extend(step.rewards.iter().map(|r| r.to_bits()));
        out.extend(
            step.terminated
                .iter()
                .zip(step.truncated)
                .map(|(&a, &b)| a as u64 * 2 + b as u64),
        );
        out.extend(step.completed_episodes.iter().map(|e| e.length as u64));
    }
    out
}

#[test]
fn same_seed_gives_the_same_trajectory_and_another_seed_does_not() {
    for id in ENV_IDS {
        let run = |seed| trajectory(&mut make_vec_with_limit(id, 4, 60).unwrap(), seed, 300);
        let first = run(11);
        assert_eq!(first, run(11), "{id}: same seed, same trajectory");
        assert_ne!(first, run(12), "{id}: another seed, another trajectory");
    }
}

#[test]
fn typed_vec_env_matches_the_boxed_one() {
    let mut typed = VecEnv::new((0..8).map(|_| CartPole::new()).collect()).unwrap();
    let mut boxed = make_vec("CartPole-v1", 8).unwrap();
    assert_eq!(
        trajectory(&mut typed, 5, 2000),
        trajectory(&mut boxed, 5, 2000)
    );
}

#[test]
fn reset_draws_from_gymnasiums_initial_distributions() {
    let mut means = Vec::new();
    for &id in ENV_IDS {
        let mut env = make(id).unwrap();
        let mut sum = vec![0.0f64; env.state().len()];
        let draws = 4000;
        for seed in 0..draws {
            env.reset(Some(seed));
            let s = env.state();
            let ok = match id {
                "CartPole-v1" => s.iter().all(|v| (-0.05..0.05).contains(v)),
                "Acrobot-v1" => s
                    .iter()
                    .all(|v| (-0.1..=0.1).contains(v) && *v as f32 as f64 == *v),
                "MountainCar-v0" | "MountainCarContinuous-v0" => {
                    (-0.6..-0.4).contains(&s[0]) && s[1] == 0.0
                }
                _ => {
                    (-std::f64::consts::PI..std::f64::consts::PI).contains(&s[0])
                        && (-1.0..1.0).contains(&s[1])
                }
            };
            assert!(
                ok,
                "{id}: initial state {s:?} outside Gymnasium's distribution"
            );
            for (acc, v) in sum.iter_mut().zip(&s) {
                *acc += v / draws as f64;
            }
        }
        means.push((id, sum));
    }
    // Uniform draws centred where Gymnasium centres them (tolerances are > 5 standard errors).
    for (id, mean) in means {
        let centre: &[f64] = if id.starts_with("MountainCar") {
            &[-0.5, 0.0]
        } else {
            &[0.0; 4]
        };
        let tol: &[f64] = match id {
            "CartPole-v1" => &[0.003; 4],
            "Acrobot-v1" => &[0.005; 4],
            "Pendulum-v1" => &[0.15, 0.05],
            _ => &[0.006, 0.0],
        };
        for ((m, c), t) in mean.iter().zip(centre).zip(tol) {
            assert!((m - c).abs() <= *t, "{id}: mean {mean:?}");
        }
    }
}

#[test]
fn reset_without_seed_continues_the_stream_and_unseeded_envs_differ() {
    let mut a = CartPole::new();
    let first = a.reset(Some(1));
    let second = a.reset(None);
    assert_ne!(bits(&first), bits(&second));
    let mut b = CartPole::new();
    b.reset(Some(1));
    assert_eq!(bits(&b.reset(None)), bits(&second));
    // Never-seeded environments draw their seed from the OS, as Gymnasium's do.
    let (mut c, mut d) = (CartPole::new(), CartPole::new());
    assert_ne!(bits(&c.reset(None)), bits(&d.reset(None)));
}
