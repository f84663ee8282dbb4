"""TRL's GRPOTrainer on the same tiny configuration as bench/rl_iteration_torch.py.

Same model (LlamaForCausalLM: vocab 83, hidden 128, intermediate 384, 3 layers, 4 heads,
2 KV heads, tied embeddings), character tokenizer, 32 addition prompts x 8 completions of
exactly 8 new tokens (min_new_tokens = max_completion_length) at temperature 1, binary
reversed-sum reward, GRPO loss with clip 0.2, no KL (beta 0, like polopt's `grpo` preset),
one optimizer step per batch, CPU, fixed threads. Seconds per step are measured by a callback
around each optimizer step (generation, scoring and the update are all inside it).

Needs trl==1.16.0 (bench/rl_iteration.sh installs it). Prints one JSON line.
"""
import argparse
import json
import random
import statistics
import time

import torch
from datasets import Dataset
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
import trl
from trl import GRPOConfig, GRPOTrainer

SPECIALS = ["<pad>", "<bos>", "<eos>"]
CHARS = "0123456789+=-*/()#^:, \nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.?!<>_"


def char_tokenizer():
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for c in CHARS:
        vocab.setdefault(c, len(vocab))
    vocab = {k: v for k, v in vocab.items() if v < 83}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="?"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="?")
    fast.padding_side = "left"
    return fast


def reversed_sum_reward(completions, answer, **_):
    return [1.0 if c.replace(" ", "").strip() == a else 0.0 for c, a in zip(completions, answer)]


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self._start = [], None

    def on_step_begin(self, args, state, control, **kw):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.times.append(time.perf_counter() - self._start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=8)
    ap.add_argument("--out", default="/tmp/polopt-bench-trl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    rows = {"prompt": [], "answer": []}
    for _ in range(args.prompts * (args.steps + 2)):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        rows["prompt"].append(f"{a}+{b}=")
        rows["answer"].append(str(a + b)[::-1])
    tokenizer = char_tokenizer()
    config = LlamaConfig(vocab_size=83, hidden_size=128, intermediate_size=384, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=True, rope_theta=10000.0, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, attn_implementation="sdpa")
    model = LlamaForCausalLM(config)
    batch = args.prompts * args.group
    cfg = GRPOConfig(
        output_dir=args.out, use_cpu=True, bf16=False, max_steps=args.steps,
        per_device_train_batch_size=batch, gradient_accumulation_steps=1, num_generations=args.group,
        max_completion_length=args.new_tokens, generation_kwargs={"min_new_tokens": args.new_tokens},
        temperature=1.0, top_p=1.0, top_k=0, beta=0.0, epsilon=0.2, loss_type="grpo",
        num_iterations=1, learning_rate=5e-5, max_grad_norm=1.0, weight_decay=0.0,
        lr_scheduler_type="constant", warmup_steps=0, logging_steps=1, save_strategy="no",
        report_to=[], disable_tqdm=True, seed=0, dataloader_num_workers=0,
    )
    timer = StepTimer()
    trainer = GRPOTrainer(model=model, reward_funcs=reversed_sum_reward, args=cfg,
                          train_dataset=Dataset.from_dict(rows), processing_class=tokenizer,
                          callbacks=[timer])
    trainer.train()
    measured = timer.times[args.warmup:]
    print(json.dumps({"median_s": statistics.median(measured), "steps": measured,
                      "threads": args.threads, "trl": trl.__version__, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
