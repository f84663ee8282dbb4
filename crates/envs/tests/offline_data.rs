//! Offline datasets (`envs/offline-data.md`): the §5 sanity checks on small N, the frozen
//! reference returns, and the file format's round trip and error messages.
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use polopt_envs::classic::{make, ActionRef, Env};
use polopt_envs::offline::bandit::{a2pr_bandit, expo_bandit};
use polopt_envs::offline::reference::measure_reference;
use polopt_envs::offline::{
    generate, normalized_score, Actions, GenerateConfig, OfflineDataset, OfflineError, Split,
    DATASET_ENV_IDS, REFERENCE_RETURNS,
};

fn config(env_id: &str, split: Split, n: usize, seed: u64) -> GenerateConfig {
    GenerateConfig {
        env_id: env_id.to_string(),
        split,
        n,
        seed,
        generator_sha: "test".into(),
    }
}

fn make_split(env_id: &str, split: Split, n: usize) -> OfflineDataset {
    generate(&config(env_id, split, n, 0), &mut |_| {}).unwrap()
}

fn score(d: &OfflineDataset) -> f64 {
    let returns = d.complete_episode_returns();
    let mean = returns.iter().sum::<f64>() / returns.len() as f64;
    normalized_score(d.meta("env_id").unwrap(), mean).unwrap()
}

#[test]
fn reference_returns_are_frozen_from_the_rust_protocol() {
    for r in REFERENCE_RETURNS {
        let ((random, random_sd), (expert, expert_sd)) = measure_reference(r.env_id).unwrap();
        assert_eq!((random, expert), (r.random, r.expert), "{}", r.env_id);
        assert_eq!(
            (random_sd, expert_sd),
            (r.random_std, r.expert_std),
            "{}",
            r.env_id
        );
    }
}

#[test]
fn reference_returns_agree_with_gymnasium_within_sampling_error() {
    // Same dynamics, different reset streams: the means of 100 episodes may differ by a few
    // standard errors of the difference (and the table rounds to 0.1).
    for r in REFERENCE_RETURNS {
        let (ge, ge_sd, gr, gr_sd) = r.gymnasium;
        let tol = |a: f64, b: f64| 3.0 * (a * a + b * b).sqrt() / 10.0 + 0.1;
        assert!(
            (r.expert - ge).abs() <= tol(r.expert_std, ge_sd),
            "{} expert {} vs {ge}",
            r.env_id,
            r.expert
        );
        assert!(
            (r.random - gr).abs() <= tol(r.random_std, gr_sd),
            "{} random {} vs {gr}",
            r.env_id,
            r.random
        );
    }
    // Exact where the task leaves no room: CartPole's expert always reaches the limit, a random
    // MountainCar never reaches the flag.
    assert_eq!(REFERENCE_RETURNS[0].expert, 500.0);
    assert_eq!(REFERENCE_RETURNS[2].random, -200.0);
}

fn digest(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[test]
fn same_seeds_give_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    for (env_id, split) in [
        ("Pendulum-v1", Split::MediumReplay),
        ("CartPole-v1", Split::MediumExpert),
    ] {
        let mut hashes = Vec::new();
        for (round, seed) in [(0, 7), (1, 7), (2, 8)] {
            let path = dir.path().join(format!("{round}.safetensors"));
            generate(&config(env_id, split, 3000, seed), &mut |_| {})
                .unwrap()
                .save(&path)
                .unwrap();
            hashes.push(digest(&std::fs::read(&path).unwrap()));
        }
        assert_eq!(hashes[0], hashes[1], "{env_id}: same seed, same bytes");
        assert_ne!(hashes[0], hashes[2], "{env_id}: another seed, other bytes");
    }
}

#[test]
fn splits_are_ordered_and_their_scores_in_the_bands() {
    for env_id in DATASET_ENV_IDS {
        // MountainCarContinuous's episodes are bimodal (flag or not) and long: 50k
        // transitions hold ~60 of them, too few for the band; 200k hold ~230.
        let n = if env_id == "MountainCarContinuous-v0" {
            200_000
        } else {
            50_000
        };
        let random = score(&make_split(env_id, Split::Random, n));
        let medium = score(&make_split(env_id, Split::Medium, n));
        let expert = score(&make_split(env_id, Split::Expert, n));
        eprintln!("{env_id}: random {random:.1}, medium {medium:.1}, expert {expert:.1}");
        assert!(random < medium && medium < expert, "{env_id}: ordering");
        assert!(random.abs() <= 5.0, "{env_id}: random score {random}");
        assert!(
            (30.0..=45.0).contains(&medium),
            "{env_id}: medium score {medium}"
        );
        assert!(
            (expert - 100.0).abs() <= 5.0,
            "{env_id}: expert score {expert}"
        );
    }
}

#[test]
fn cartpole_terminals_and_timeouts_are_consistent() {
    let theta_max = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
    for split in [Split::Random, Split::Expert, Split::MediumReplay] {
        let d = make_split("CartPole-v1", split, 5_000);
        let n = d.len();
        for t in 0..n {
            let next = d.next_observation(t);
            let (x, th) = (next[0] as f64, next[2] as f64);
            // The thresholds are tested on the f64 state; its f32 image may round onto them.
            let outside = x.abs() >= 2.4 - 1e-6 || th.abs() >= theta_max - 1e-6;
            assert_eq!(
                d.terminals[t] == 1,
                outside,
                "{split:?} t={t}: terminal vs state"
            );
            if d.timeouts[t] == 1 {
                assert!(d.terminals[t] == 0);
                assert!(d.step_in_episode[t] == 499 || t == n - 1, "{split:?} t={t}");
            }
            if d.step_in_episode[t] == 499 {
                assert!(d.terminals[t] == 1 || d.timeouts[t] == 1);
            }
            // Episodes are contiguous: the next row starts a new one exactly after an end.
            if t + 1 < n {
                let ended = d.terminals[t] == 1 || d.timeouts[t] == 1;
                assert_eq!(d.episode_id[t + 1] != d.episode_id[t], ended);
                assert_eq!(d.step_in_episode[t + 1] == 0, ended);
                if !ended {
                    assert_eq!(d.observation(t + 1), d.next_observation(t));
                }
            }
        }
        assert_eq!(
            d.terminals[n - 1] + d.timeouts[n - 1],
            1,
            "the cut at N ends an episode"
        );
    }
}

#[test]
fn medium_expert_is_medium_then_expert() {
    let medium = make_split("Pendulum-v1", Split::Medium, 1000);
    let expert = make_split("Pendulum-v1", Split::Expert, 1000);
    let both = make_split("Pendulum-v1", Split::MediumExpert, 1000);
    assert_eq!(both.len(), 2000);
    assert_eq!(both.observations[..3000], medium.observations[..]);
    assert_eq!(both.observations[3000..], expert.observations[..]);
    assert_eq!(both.policy_id.iter().filter(|&&p| p == 1).count(), 1000);
    let shift = medium.episode_id[999] + 1;
    assert_eq!(both.episode_id[1000], shift);
    assert_eq!(both.meta("split").unwrap(), "medium-expert");
}

#[test]
fn medium_replay_streams_eps_from_one_to_medium() {
    let d = make_split("Acrobot-v1", Split::MediumReplay, 4000);
    let eps: Vec<f64> = d
        .meta("eps")
        .unwrap()
        .split(',')
        .map(|e| e.parse().unwrap())
        .collect();
    assert_eq!(eps.len(), 20);
    assert_eq!(eps[0], 1.0);
    assert!(eps.windows(2).all(|w| w[1] < w[0]));
    assert_eq!(d.policy_id.iter().filter(|&&p| p == 0).count(), 200);
    assert_eq!(d.policy_id[3999], 19);
    assert!(d.meta("behaviour").unwrap().contains("option B"));
}

#[test]
fn metadata_holds_the_spec_keys() {
    let d = make_split("MountainCarContinuous-v0", Split::Expert, 500);
    for key in [
        "env_id",
        "env_version",
        "split",
        "N",
        "behaviour",
        "eps",
        "seeds",
        "ref_random_return",
        "ref_expert_return",
        "generator_git_sha",
    ] {
        assert!(d.metadata.contains_key(key), "missing {key}");
    }
    assert_eq!(d.meta("env_version").unwrap(), "gymnasium-1.4.0-bitexact");
    assert!(matches!(d.actions, Actions::Continuous(_)));
    let logp = d.logp.as_ref().unwrap();
    assert!(logp.iter().all(|l| l.is_finite()));
    // Actions stay in the box after noise.
    let Actions::Continuous(a) = &d.actions else {
        unreachable!()
    };
    assert!(a.iter().all(|a| (-1.0..=1.0).contains(a)));
}

#[test]
fn save_then_load_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for (env_id, split) in [
        ("CartPole-v1", Split::Medium),
        ("Pendulum-v1", Split::Random),
    ] {
        let d = make_split(env_id, split, 700);
        let path = dir
            .path()
            .join("sub")
            .join(polopt_envs::offline::file_name(env_id, split));
        d.save(&path).unwrap();
        assert!(path
            .to_string_lossy()
            .ends_with(&format!("{env_id}-{}-v0.safetensors", split.name())));
        assert_eq!(OfflineDataset::load(&path).unwrap(), d);
    }
}

/// A file with the fields of `d`, but `edit` applied to the (name -> (dtype, shape, bytes)) map.
fn write_edited(
    d: &OfflineDataset,
    path: &std::path::Path,
    edit: impl FnOnce(&mut HashMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)>),
) {
    let bytes = d.to_safetensors_bytes();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut fields: HashMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    edit(&mut fields);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = fields
        .iter()
        .map(|(k, (dtype, shape, data))| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

#[test]
fn load_errors_name_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = make_split("CartPole-v1", Split::Random, 50);
    let path = dir.path().join("bad.safetensors");
    let message = |e: OfflineError| e.to_string();

    write_edited(&d, &path, |f| {
        f.remove("timeouts");
    });
    let e = OfflineDataset::load(&path).unwrap_err();
    assert!(matches!(
        e,
        OfflineError::MissingField {
            field: "timeouts",
            ..
        }
    ));
    let m = message(e);
    assert!(
        m.contains("bad.safetensors") && m.contains("timeouts"),
        "{m}"
    );

    write_edited(&d, &path, |f| {
        let (_, shape, data) = f.remove("rewards").unwrap();
        let data: Vec<u8> = data
            .chunks(4)
            .flat_map(|c| (f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).to_le_bytes())
            .collect();
        f.insert("rewards".into(), (safetensors::Dtype::F64, shape, data));
    });
    let m = message(OfflineDataset::load(&path).unwrap_err());
    assert!(
        m.contains("rewards") && m.contains("F64") && m.contains("F32"),
        "{m}"
    );

    write_edited(&d, &path, |f| {
        let (dtype, _, data) = f.remove("episode_id").unwrap();
        f.insert(
            "episode_id".into(),
            (dtype, vec![49], data[..49 * 8].to_vec()),
        );
    });
    let e = OfflineDataset::load(&path).unwrap_err();
    assert!(
        matches!(
            e,
            OfflineError::LengthMismatch {
                field: "episode_id",
                n: 50,
                got: 49,
                ..
            }
        ),
        "{e}"
    );

    write_edited(&d, &path, |f| {
        let (dtype, _, data) = f.remove("terminals").unwrap();
        f.insert("terminals".into(), (dtype, vec![25, 2], data));
    });
    let m = message(OfflineDataset::load(&path).unwrap_err());
    assert!(m.contains("terminals") && m.contains("[25, 2]"), "{m}");

    std::fs::write(&path, b"not a safetensors file").unwrap();
    let m = message(OfflineDataset::load(&path).unwrap_err());
    assert!(
        m.contains("bad.safetensors") && m.contains("not a valid safetensors"),
        "{m}"
    );

    let missing = dir.path().join("missing.safetensors");
    let m = message(OfflineDataset::load(&missing).unwrap_err());
    assert!(m.contains("missing.safetensors"), "{m}");
}

#[test]
fn bandit_datasets_match_their_environments() {
    let d = a2pr_bandit(5000, 0.3, 1).unwrap();
    let good = d.policy_id.iter().filter(|&&p| p == 1).count() as f64 / 5000.0;
    assert!((good - 0.3).abs() < 0.03, "{good}");
    let hard = a2pr_bandit(5000, 0.05, 1).unwrap();
    let good = hard.policy_id.iter().filter(|&&p| p == 1).count() as f64 / 5000.0;
    assert!((good - 0.05).abs() < 0.015, "{good}");
    let mut env = make("Bandit1D-v0").unwrap();
    let Actions::Continuous(actions) = &d.actions else {
        unreachable!()
    };
    for t in 0..200 {
        env.set_state(&[d.observations[t] as f64]).unwrap();
        let step = env.step(ActionRef::Continuous(&actions[t..t + 1])).unwrap();
        assert!((step.reward as f32 - d.rewards[t]).abs() < 1e-5);
        assert!(step.terminated && d.terminals[t] == 1);
    }

    let e = expo_bandit(2000, 0);
    let Actions::Continuous(a) = &e.actions else {
        unreachable!()
    };
    let near = |c: f32| a.iter().filter(|&&x| (x - c).abs() < 0.15).count() as f64 / 2000.0;
    assert!((near(-0.6) - 0.7).abs() < 0.04 && (near(0.5) - 0.3).abs() < 0.04);
    let mut env = make("BimodalBandit-v0").unwrap();
    for t in 0..100 {
        env.reset(Some(t as u64));
        let step = env.step(ActionRef::Continuous(&a[t..t + 1])).unwrap();
        assert!((step.reward as f32 - e.rewards[t]).abs() < 1e-5);
    }
    assert!(polopt_envs::classic::make_vec("BimodalBandit-v0", 4).is_ok());
}
