//! The in-process sampler behind the `RolloutSource` trait gives the group rollout's rows: the
//! same prompts repeated n times, sampled under the same seeded stream, yield the same tokens
//! and the same behaviour log-probs as calling the policy's sampler directly.
mod common;

use common::tiny_config;
use polopt_models::SamplingConfig;
use polopt_train::group_rl::setup::policy_and_codec;
use polopt_train::rollout_source::{FinishReason, LocalSource, RolloutSource, SamplingRequest};
use polopt_train::seeds::with_torch_seed;
use tch::{Device, Kind};

#[test]
fn local_source_matches_the_policy_sampler_token_for_token() {
    let out = tempfile::tempdir().expect("tempdir");
    let config = tiny_config(out.path(), "local-source", &[]);
    let (policy, tok) = policy_and_codec(&config, Device::Cpu).expect("policy");
    let prompts: Vec<Vec<i64>> = ["12+3=", "7*8="]
        .iter()
        .map(|p| {
            let mut ids = vec![tok.bos_id()];
            ids.extend(tok.encode(p).expect("encodes"));
            ids
        })
        .collect();
    let request = SamplingRequest {
        n: 3,
        max_new_tokens: 6,
        temperature: 1.0,
        top_p: 1.0,
    };
    let source = LocalSource {
        policy: &policy,
        eos_token_id: tok.eos_id(),
        pad_token_id: tok.pad_id(),
        stop_at_eos: true,
        generation_batch_size: 0,
    };
    let groups = with_torch_seed(7, "local-source", 0, || source.generate(&prompts, &request))
        .expect("generate");

    let repeated: Vec<Vec<i64>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), request.n))
        .collect();
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: 6,
        eos_token_id: tok.eos_id(),
        pad_token_id: tok.pad_id(),
        stop_at_eos: true,
    };
    let direct = with_torch_seed(7, "local-source", 0, || {
        policy.sample_adaptive(&repeated, &sampling, None)
    })
    .expect("sample");
    let ids = direct.response_ids_with_eos();
    let width = direct.response_width() as usize;
    let logp = Vec::<f32>::try_from(direct.logp.to_kind(Kind::Float).contiguous().view([-1]))
        .expect("logp");
    assert_eq!(groups.len(), 2);
    for (row, completion) in groups.iter().flatten().enumerate() {
        assert_eq!(completion.tokens, ids[row], "row {row}");
        assert_eq!(
            completion.logprobs,
            logp[row * width..row * width + ids[row].len()].to_vec(),
            "row {row}"
        );
        let truncated = completion.finish == FinishReason::Length;
        assert_eq!(truncated, direct.truncated[row], "row {row}");
    }
}
