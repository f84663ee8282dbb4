"""TRL side of the GRPO step benchmark (bench/gpu/run.sh): the same step as polopt's
crates/train/examples/gpu_grpo_step.rs, with trl==1.16.0's GRPOTrainer and transformers' generate.

Same model directory (random Qwen2.5-0.5B-dim weights in bf16, written by `gpu_grpo_step init`,
with its WordLevel tokenizer), same prompts (token ids t3.. as text), 8 prompts x 8 completions of
exactly 256 tokens (`min_new_tokens` suppresses EOS), temperature 1.0, beta 0.04 (k3 KL to a
frozen reference), loss_type "dapo" (token mean, as polopt's run), micro-batches of 8 with
gradient accumulation so that one optimizer step consumes one generation batch. No network.

Prints one line `RESULT {json}` with the same keys as the polopt side.
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import torch
from datasets import Dataset
from datasets.table import InMemoryTable
from transformers import PreTrainedTokenizerFast, TrainerCallback
from trl import GRPOConfig, GRPOTrainer


def prompt_texts(n_prompts, prompt_len, vocab_size):
    # The same ids as gpu_grpo_step.rs: t{3 + (p*7919 + j*104729) % (vocab/2)}.
    return [
        " ".join(f"t{3 + (p * 7919 + j * 104729) % (vocab_size // 2)}" for j in range(prompt_len))
        for p in range(n_prompts)
    ]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepTimer(TrainerCallback):
    """Wall time between consecutive optimizer steps (generation, scoring, forward/backward, step)."""

    def __init__(self):
        self.times = []
        self.last = None

    def on_train_begin(self, args, state, control, **kwargs):
        sync()
        self.last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        sync()
        now = time.perf_counter()
        self.times.append(now - self.last)
        print(f"step {len(self.times) - 1}: {self.times[-1]:.3f} s", flush=True)
        self.last = now


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--bandwidth-gbps", type=float, default=None)
    # CPU smoke test of this script's TRL API use (f32, tiny sizes); not a benchmark.
    ap.add_argument("--cpu", action="store_true")
    a = ap.parse_args()

    with open(os.path.join(a.model, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(a.model, "tokenizer_config.json")) as f:
        tok_config = json.load(f)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(a.model, "tokenizer.json"),
        eos_token=tok_config["eos_token"],
        pad_token=tok_config["pad_token"],
    )
    total_steps = a.warmup + a.steps
    prompts = prompt_texts(a.prompts, a.prompt_len, config["vocab_size"])
    # An explicit fingerprint: datasets would otherwise pickle the Arrow table's schema to hash
    # it, which fails with some pyarrow/dill pairings (seen with pyarrow 26 + dill 0.4.1).
    table = InMemoryTable.from_pydict({"prompt": prompts * total_steps})
    dataset = Dataset(table, fingerprint="polopt-gpu-bench")

    def reward(completions, **kwargs):
        # Placeholder, as on the polopt side: cheap and varies within a group.
        return [sum(len(w) % 2 == 0 for w in c.split()) / max(1, len(c.split())) for c in completions]

    batch = a.prompts * a.group
    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-bench-"),
        per_device_train_batch_size=a.micro_batch,
        gradient_accumulation_steps=batch // a.micro_batch,
        num_generations=a.group,
        max_completion_length=a.new_tokens,
        generation_kwargs={"min_new_tokens": a.new_tokens},
        temperature=1.0,
        top_p=1.0,
        beta=0.04,
        loss_type="dapo",
        num_iterations=1,
        learning_rate=1e-6,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        bf16=not a.cpu,
        use_cpu=a.cpu,
        model_init_kwargs={"dtype": "float32" if a.cpu else "bfloat16", "attn_implementation": "sdpa"},
        gradient_checkpointing=False,
        max_steps=total_steps,
        shuffle_dataset=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_vllm=False,
        seed=0,
    )
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=a.model,
        reward_funcs=reward,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[timer],
    )
    # Time transformers' generate on the very model object that TRL unwraps for generation.
    gen_times = []
    model = trainer.accelerator.unwrap_model(trainer.model)
    original_generate = model.generate

    def timed_generate(*args, **kwargs):
        sync()
        start = time.perf_counter()
        out = original_generate(*args, **kwargs)
        sync()
        gen_times.append(time.perf_counter() - start)
        return out

    model.generate = timed_generate
    trainer.train()

    steps = timer.times[a.warmup :]
    gens = gen_times[a.warmup :]
    completion_tokens = batch * a.new_tokens
    step_s = statistics.median(steps)
    gen_s = statistics.median(gens) if gens else None
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config["hidden_size"] // heads
    kv_bytes = 2 * config["num_hidden_layers"] * kv * head_dim * batch * (a.prompt_len + a.new_tokens / 2) * 2
    bound = batch * a.bandwidth_gbps * 1e9 / (weight_bytes + kv_bytes) if a.bandwidth_gbps else None
    decode_tps = completion_tokens / gen_s if gen_s else None
    result = {
        "impl": "trl",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "completions": batch,
        "new_tokens": a.new_tokens,
        "steps_timed": len(steps),
        "step_s": steps,
        "median_step_s": step_s,
        "completion_tokens_per_s": completion_tokens / step_s,
        "median_generate_s": gen_s,
        "decode_tokens_per_s": decode_tps,
        "weight_bytes": weight_bytes,
        "kv_bytes_per_decode_step": kv_bytes,
        "decode_bound_tokens_per_s": bound,
        "decode_fraction_of_bound": decode_tps / bound if bound and decode_tps else None,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
