mod common;

use common::*;
use polopt_models::{response_logprobs, Transformer, TransformerConfig};
use tch::{nn::VarStore, Device, Kind};

#[test]
fn logits_have_shape_batch_by_time_by_vocab() {
    let _rng = rng_lock();
    let (_vs, model) = model(&tiny_config(4, false), 1);
    let (tokens, mask) = left_padded(&prompts());
    let logits = model.forward(&tokens, &mask);
    assert_eq!(logits.size(), vec![4, 8, VOCAB]);
    assert_eq!(logits.kind(), Kind::Float);
    assert!(bool::try_from(logits.isfinite().all()).unwrap());
}

fn names(config: &TransformerConfig) -> Vec<String> {
    let vs = VarStore::new(Device::Cpu);
    Transformer::new(&vs.root(), config).unwrap();
    let mut names: Vec<String> = vs.variables().into_keys().collect();
    names.sort();
    names
}

#[test]
fn parameters_have_hugging_face_names() {
    let _rng = rng_lock();
    let mut config = tiny_config(2, false);
    config.num_hidden_layers = 1;
    let expected = [
        "lm_head.weight",
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.post_attention_layernorm.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.v_proj.weight",
        "model.norm.weight",
    ];
    assert_eq!(names(&config), expected);

    config.tie_word_embeddings = true;
    assert_eq!(names(&config), expected[1..]);

    let mut qwen = qwen2_config();
    qwen.num_hidden_layers = 1;
    let with_bias = names(&qwen);
    for proj in ["q", "k", "v"] {
        assert!(
            with_bias.contains(&format!("model.layers.0.self_attn.{proj}_proj.bias")),
            "{with_bias:?}"
        );
    }
    assert!(!with_bias.contains(&"model.layers.0.self_attn.o_proj.bias".to_string()));
}

#[test]
fn init_follows_transformers() {
    let _rng = rng_lock();
    tch::manual_seed(0);
    let config = TransformerConfig::small(83, 128, 512, 2, 4, 4, 256, false, 10_000.0, 1, 2, 0);
    let vs = VarStore::new(Device::Cpu);
    Transformer::new(&vs.root(), &config).unwrap();
    let vars = vs.variables();
    let std = vars["model.layers.0.mlp.up_proj.weight"]
        .std(true)
        .double_value(&[]);
    assert!((std - 0.02).abs() < 0.001, "std {std}");
    assert_eq!(
        vars["model.norm.weight"]
            .mean(Kind::Float)
            .double_value(&[]),
        1.0
    );
    let pad_row = vars["model.embed_tokens.weight"]
        .get(0)
        .abs()
        .sum(Kind::Float)
        .double_value(&[]);
    assert_eq!(
        pad_row, 0.0,
        "the <pad> embedding starts at zero, as nn.Embedding(padding_idx) does"
    );
}

#[test]
fn earlier_logits_do_not_depend_on_later_tokens() {
    let _rng = rng_lock();
    let (_vs, model) = model(&tiny_config(4, false), 2);
    let (tokens, mask) = left_padded(&prompts());
    let changed = tokens.copy();
    let _ = changed.get(0).get(6).fill_(11);
    let a = model.forward(&tokens, &mask);
    let b = model.forward(&changed, &mask);
    assert!(max_abs_diff(&a.narrow(1, 0, 6), &b.narrow(1, 0, 6)) < 1e-6);
    assert!(
        max_abs_diff(&a.get(0).narrow(0, 6, 2), &b.get(0).narrow(0, 6, 2)) > 1e-3,
        "later logits must change"
    );
    assert!(
        max_abs_diff(&a.narrow(0, 1, 3), &b.narrow(0, 1, 3)) < 1e-6,
        "other rows are independent"
    );
}

#[test]
fn left_padding_does_not_change_logits() {
    let _rng = rng_lock();
    for config in [tiny_config(4, false), qwen2_config()] {
        let (_vs, model) = model(&config, 3);
        let prompt = vec![BOS, 5, 6, 7, 8];
        let (alone, alone_mask) = left_padded(std::slice::from_ref(&prompt));
        let (padded, padded_mask) = left_padded(&[prompt.clone(), vec![BOS, 3, 3, 3, 3, 3, 3, 3]]);
        let a = model.forward(&alone, &alone_mask).get(0);
        let b = model.forward(&padded, &padded_mask).get(0).narrow(0, 3, 5);
        let diff = max_abs_diff(&a, &b);
        assert!(
            diff < 1e-5,
            "next-token logits differ by {diff} with left padding"
        );
    }
}

/// A GQA model equals the multi-head model whose k/v projections repeat each kv head for its
/// group of query heads (transformers' `repeat_kv`).
#[test]
fn grouped_query_attention_equals_repeated_kv_heads() {
    let _rng = rng_lock();
    let gqa_config = qwen2_config();
    assert_eq!(
        (
            gqa_config.num_attention_heads,
            gqa_config.num_key_value_heads
        ),
        (4, 2)
    );
    let (gqa_vs, gqa) = model(&gqa_config, 4);
    let mut mha_config = gqa_config.clone();
    mha_config.num_key_value_heads = 4;
    let (mha_vs, mha) = model(&mha_config, 5);
    let (d, groups) = (gqa_config.head_dim(), 2);
    let source = gqa_vs.variables();
    tch::no_grad(|| {
        for (name, mut var) in mha_vs.variables() {
            let src = &source[&name];
            let value = if name.contains("k_proj") || name.contains("v_proj") {
                let mut shape = src.size();
                shape[0] = 2;
                shape.insert(1, d);
                src.view(shape.as_slice())
                    .repeat_interleave_self_int(groups, 0, None)
                    .reshape(var.size())
            } else {
                src.shallow_clone()
            };
            var.copy_(&value);
        }
    });
    let (tokens, mask) = left_padded(&prompts());
    let diff = max_abs_diff(&gqa.forward(&tokens, &mask), &mha.forward(&tokens, &mask));
    assert!(diff < 1e-5, "GQA and repeated-kv MHA differ by {diff}");
}

#[test]
fn log_prob_gradients_reach_every_parameter() {
    let _rng = rng_lock();
    let (vs, model) = model(&qwen2_config(), 6);
    let (tokens, mask) = left_padded(&prompts());
    let (logp, entropy) = response_logprobs(&model, &tokens, &mask, 3, 1.0, true);
    let loss = logp.sum(Kind::Float) + entropy.unwrap().sum(Kind::Float);
    loss.backward();
    for (name, var) in vs.variables() {
        let grad = var.grad();
        assert!(grad.defined(), "{name} has no gradient");
        assert!(
            grad.abs().sum(Kind::Float).double_value(&[]) > 0.0,
            "{name} has a zero gradient"
        );
    }
}

#[test]
fn invalid_config_is_rejected_naming_the_field() {
    let _rng = rng_lock();
    let mut config = tiny_config(4, false);
    config.hidden_size = 30;
    let vs = VarStore::new(Device::Cpu);
    let err = Transformer::new(&vs.root(), &config)
        .err()
        .expect("30 is not divisible by 4 heads");
    assert!(err.to_string().contains("hidden_size"), "{err}");
}
