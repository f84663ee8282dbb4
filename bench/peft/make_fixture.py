"""Writes the PEFT LoRA fixture for crates/models/tests/lora.rs.

On the tiny Qwen2 checkpoint crates/models/tests/fixtures/qwen2_gqa_bias (GQA, q/k/v bias),
PEFT builds a LoRA adapter (rank 4, alpha 8, dropout 0.05, on attention and MLP projections
whose input and output sizes all differ). PEFT initialises B to zero, which would make the
adapter a no-op, so B is redrawn from a seeded normal. The output directory holds what
`save_pretrained` writes (adapter_config.json, adapter_model.safetensors; the generated model
card is dropped) and reference.safetensors: input tokens, attention mask (with left padding)
and the logits of the base model with the adapter (`logits_adapter`) and without it
(`logits_base`, inside `disable_adapter()`), in eval mode so that dropout is off. The Rust
tests then check polopt's LoRA against PEFT without Python at test time.

Run from the repository root with a Python that has torch, transformers and peft:
    python bench/peft/make_fixture.py
"""
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import Qwen2ForCausalLM

BASE = "crates/models/tests/fixtures/qwen2_gqa_bias"
OUT = "crates/models/tests/fixtures/lora_qwen2"
TARGETS = ["q_proj", "v_proj", "o_proj", "gate_proj", "down_proj"]
SEED = 7


def main():
    if not os.path.isfile(os.path.join(BASE, "config.json")):
        sys.exit(f"run from the repository root: {BASE}/config.json not found")
    torch.manual_seed(SEED)
    # Loaded by its relative path, so the adapter's base_model_name_or_path names the fixture.
    base = Qwen2ForCausalLM.from_pretrained(BASE, dtype=torch.float32)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.05,
        target_modules=TARGETS,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.3 * torch.randn_like(p))
    model.eval()
    model.save_pretrained(OUT)
    card = os.path.join(OUT, "README.md")
    if os.path.exists(card):
        os.remove(card)

    reference = load_file(os.path.join(BASE, "reference.safetensors"))
    tokens, mask = reference["tokens"], reference["attention_mask"]
    with torch.no_grad():
        with_adapter = model(input_ids=tokens, attention_mask=mask).logits.float()
        with model.disable_adapter():
            without = model(input_ids=tokens, attention_mask=mask).logits.float()
    change = ((with_adapter - without) * mask[..., None]).abs().max().item()
    print(f"adapter changes the logits by up to {change:.3f}")
    save_file(
        {
            "tokens": tokens,
            "attention_mask": mask,
            "logits_adapter": with_adapter.contiguous(),
            "logits_base": without.contiguous(),
        },
        os.path.join(OUT, "reference.safetensors"),
    )
    print(OUT, sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
