"""Writes tiny Hugging Face reference checkpoints for crates/models/tests/hf_reference.rs.

Each fixture directory holds what `save_pretrained` writes (config.json, model.safetensors) and
reference.safetensors: input tokens, attention mask (with left padding) and the logits that
transformers computes for them, so the Rust tests check our forward pass against transformers
without Python at test time.

Run with a Python that has torch and transformers:
    python crates/models/scripts/make_hf_fixtures.py crates/models/tests/fixtures
"""
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

COMMON = dict(
    vocab_size=24,
    hidden_size=16,
    intermediate_size=40,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=64,
    rms_norm_eps=1e-6,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


def fixtures():
    yield "qwen2_gqa_bias", Qwen2ForCausalLM(
        Qwen2Config(num_key_value_heads=2, rope_theta=10000.0, tie_word_embeddings=False, **COMMON)
    )
    yield "llama_tied", LlamaForCausalLM(
        LlamaConfig(num_key_value_heads=4, rope_theta=500.0, tie_word_embeddings=True, **COMMON)
    )


def main(out_dir):
    torch.manual_seed(0)
    tokens = torch.tensor(
        [
            [0, 0, 0, 1, 5, 9, 3, 17, 4, 22],
            [1, 7, 7, 8, 21, 13, 6, 11, 2, 10],
            [0, 0, 0, 0, 0, 0, 1, 19, 14, 23],
        ]
    )
    mask = (torch.arange(10)[None, :] >= torch.tensor([3, 0, 6])[:, None]).long()
    for name, model in fixtures():
        with torch.no_grad():
            # Random, non-trivial norms and biases so that every parameter matters.
            for pname, p in model.named_parameters():
                if pname.endswith("norm.weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                elif pname.endswith(".bias"):
                    p.copy_(0.1 * torch.randn_like(p))
                else:
                    p.copy_(0.3 * torch.randn_like(p))
        model.eval()
        d = os.path.join(out_dir, name)
        model.save_pretrained(d, safe_serialization=True)
        with torch.no_grad():
            logits = model(input_ids=tokens, attention_mask=mask).logits.float()
        save_file(
            {"tokens": tokens, "attention_mask": mask, "logits": logits.contiguous()},
            os.path.join(d, "reference.safetensors"),
        )
        print(name, sorted(os.listdir(d)))


if __name__ == "__main__":
    main(sys.argv[1])
