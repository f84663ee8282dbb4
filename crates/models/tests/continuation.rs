//! A kept-cache continuation samples the same multi-turn rows as re-prefilling every row's whole
//! sequence each round (`generate_until_any` on the concatenated prefixes): the same tokens from
//! the same seed, log-probs within float rounding.
mod common;

use common::*;
use polopt_models::{generate_until_any, Continuation, Rollout, SamplingConfig, Transformer};

/// Tokens kept and their behaviour log-probs, per row.
type Played = (Vec<Vec<i64>>, Vec<Vec<f32>>);

/// One round of sampling: row ids, their whole sequences, the round's config.
type Round<'a> = dyn FnMut(&[usize], &[Vec<i64>], &SamplingConfig) -> Rollout + 'a;

/// A scripted multi-turn rollout: every live row samples until token 10, the pair `11 12`,
/// `<eos>` or the round's length; it keeps at most a row-dependent number of the sampled
/// tokens (a turn limit that cuts a turn), then gets a reply of row- and round-dependent length
/// appended, until its round limit. `sample(ids, sequences, cfg)` is one round.
fn play(sample: &mut Round) -> Played {
    let prompts = [prompts(), prompts()[..2].to_vec()].concat();
    let n = prompts.len();
    let mut sequences = prompts.clone();
    let (mut kept, mut logps) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let mut live: Vec<usize> = (0..n).collect();
    for round in 0..7 {
        if live.is_empty() {
            break;
        }
        let cfg = cfg(1.0, 1.0, 4 + round as i64 % 3, true);
        let seqs: Vec<Vec<i64>> = live.iter().map(|&i| sequences[i].clone()).collect();
        let rollout = sample(&live, &seqs, &cfg);
        let logp = to_vec_f32(&rollout.logp);
        let width = rollout.response_width() as usize;
        let mut next = Vec::new();
        for (k, (&i, new)) in live.iter().zip(rollout.response_ids_with_eos()).enumerate() {
            let take = new.len().min(3 + i % 3);
            sequences[i].extend_from_slice(&new[..take]);
            kept[i].extend_from_slice(&new[..take]);
            logps[i].extend_from_slice(&logp[k * width..k * width + take]);
            let ended = new[..take].last() == Some(&EOS);
            if ended || round >= 3 + i % 4 {
                continue;
            }
            let reply = (0..1 + (i + round) % 4).map(|j| 13 + ((i + round + j) % 5) as i64);
            sequences[i].extend(reply);
            next.push(i);
        }
        live = next;
    }
    (kept, logps)
}

fn reprefill(model: &Transformer) -> Played {
    play(&mut |_, seqs, cfg| generate_until_any(model, seqs, cfg, &[&[10], &[11, 12]]).unwrap())
}

fn kept_cache(model: &Transformer, reserve: i64) -> (Played, usize) {
    let mut cont = Continuation::new(model, reserve);
    let played = play(&mut |ids, seqs, cfg| {
        cont.sample_until_any(ids, seqs, cfg, &[&[10], &[11, 12]])
            .unwrap()
    });
    (played, cont.rebuilds())
}

fn assert_same(reference: &Played, other: &Played) {
    assert_eq!(reference.0, other.0, "tokens");
    for (a, b) in reference.1.iter().zip(&other.1) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn a_kept_cache_samples_what_reprefilling_samples() {
    let _rng = rng_lock();
    for config in [qwen2_config(), tiny_config(1, true)] {
        let (_vs, model) = model(&config, 21);
        for seed in [3, 4] {
            tch::manual_seed(seed);
            let reference = reprefill(&model);
            let turns: usize = reference.0.iter().map(Vec::len).sum();
            assert!(turns > 30, "the script must sample: {reference:?}");
            tch::manual_seed(seed);
            let (kept, rebuilds) = kept_cache(&model, 128);
            assert_same(&reference, &kept);
            assert_eq!(rebuilds, 1, "room for every round after the first");
            // No reserve: rounds that do not fit rebuild the cache, with the same samples.
            tch::manual_seed(seed);
            let (tight, rebuilds) = kept_cache(&model, 0);
            assert_same(&reference, &tight);
            assert!(rebuilds > 1);
        }
    }
}

#[test]
fn a_round_refuses_mismatched_or_repeated_ids() {
    let _rng = rng_lock();
    let (_vs, model) = model(&qwen2_config(), 22);
    let mut cont = Continuation::new(&model, 16);
    let seqs = prompts();
    let cfg = cfg(1.0, 1.0, 4, true);
    assert!(cont.sample_until_any(&[0, 1], &seqs, &cfg, &[]).is_err());
    assert!(cont
        .sample_until_any(&[0, 1, 1, 2], &seqs, &cfg, &[])
        .is_err());
    assert!(cont
        .sample_until_any(&[0, 1, 2, 3], &seqs, &cfg, &[])
        .is_ok());
}
