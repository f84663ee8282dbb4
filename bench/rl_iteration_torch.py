"""PyTorch-eager reference for one RL iteration of polopt's default run.

The same work as one `rl_step` of `polopt train` under bench/rl_iteration.toml: the same
Llama-layout model (vocab 83, hidden 128, intermediate 384, 3 layers, 4 heads, 2 KV heads,
tied embeddings, RoPE), 32 addition prompts x 8 completions of exactly 8 new tokens sampled
at temperature 1 with a KV cache, scoring by the reversed-sum verifier, GRPO advantages,
then one clipped-surrogate update over the whole batch (old log-probs = the current ones
detached, since nothing changes the weights before it) (token-mean, entropy computed, gradient clipping 1.0, AdamW). Written the way a careful
PyTorch user would write it (SDPA attention, preallocated nothing fancy, no compile).

Prints one JSON line: {"median_s": ..., "steps": [...], "threads": N}.
"""
import argparse
import json
import math
import random
import statistics
import time

import torch
import torch.nn.functional as F

VOCAB, HIDDEN, INTER, LAYERS, HEADS, KV_HEADS = 83, 128, 384, 3, 4, 2
HEAD_DIM = HIDDEN // HEADS
PAD, BOS, EOS = 0, 1, 2
DIGIT0, PLUS, EQUALS = 3, 13, 14  # any fixed ids inside the vocabulary; only shapes matter


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(positions):
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, HEAD_DIM, 2).float() / HEAD_DIM))
    freqs = positions.float().unsqueeze(-1) * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(HIDDEN), RMSNorm(HIDDEN)
        self.q = torch.nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v = torch.nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o = torch.nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)
        self.gate = torch.nn.Linear(HIDDEN, INTER, bias=False)
        self.up = torch.nn.Linear(HIDDEN, INTER, bias=False)
        self.down = torch.nn.Linear(INTER, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        b, t, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v(h).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache["k"] is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, HIDDEN))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)

    def forward(self, tokens, positions, mask, caches=None):
        x = self.embed(tokens)
        cos, sin = rope(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, None if caches is None else caches[i])
        return self.norm(x) @ self.embed.weight.T  # tied head


def attention_mask(key_real, query_len):
    """[B, 1, Tq, Tk] boolean: causal over the last Tq keys, padding keys masked."""
    tk = key_real.shape[1]
    causal = torch.ones(query_len, tk, dtype=torch.bool).tril(tk - query_len)
    return causal.unsqueeze(0).unsqueeze(0) & key_real.bool().unsqueeze(1).unsqueeze(1)


def make_prompts(rng, n):
    prompts, answers = [], []
    for _ in range(n):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        text = f"{a}+{b}="
        ids = [BOS] + [PLUS if c == "+" else EQUALS if c == "=" else DIGIT0 + int(c) for c in text]
        prompts.append(ids)
        answers.append(str(a + b)[::-1])
    return prompts, answers


@torch.no_grad()
def generate(model, prompts, new_tokens):
    b, p = len(prompts), max(len(x) for x in prompts)
    tokens = torch.full((b, p), PAD, dtype=torch.long)
    real = torch.zeros((b, p), dtype=torch.long)
    for i, ids in enumerate(prompts):
        tokens[i, p - len(ids):] = torch.tensor(ids)
        real[i, p - len(ids):] = 1
    positions = (real.cumsum(1) - 1).clamp_min(0)
    caches = [{"k": None, "v": None} for _ in range(LAYERS)]
    logits = model(tokens, positions, attention_mask(real, p), caches)[:, -1]
    out, logps = [], []
    next_pos = positions[:, -1:] + 1
    for _ in range(new_tokens):
        logp = logits.log_softmax(-1)
        tok = logp.exp().multinomial(1)
        out.append(tok)
        logps.append(logp.gather(1, tok))
        real = torch.cat([real, torch.ones((b, 1), dtype=torch.long)], dim=1)
        logits = model(tok, next_pos, attention_mask(real, 1), caches)[:, -1]
        next_pos = next_pos + 1
    return tokens, real[:, :p], torch.cat(out, 1), torch.cat(logps, 1)


def response_logprobs(model, prompt_tokens, prompt_real, response):
    tokens = torch.cat([prompt_tokens, response], 1)
    real = torch.cat([prompt_real, torch.ones_like(response)], 1)
    positions = (real.cumsum(1) - 1).clamp_min(0)
    p = prompt_tokens.shape[1]
    logits = model(tokens, positions, attention_mask(real, tokens.shape[1]))[:, p - 1:-1]
    logp_all = logits.float().log_softmax(-1)
    logp = logp_all.gather(-1, response.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def decode(ids):
    return "".join(str(t - DIGIT0) if DIGIT0 <= t < DIGIT0 + 10 else "?" for t in ids)


def iteration(model, opt, rng, prompts_per_step, group, new_tokens):
    prompts, answers = make_prompts(rng, prompts_per_step)
    repeated = [p for p in prompts for _ in range(group)]
    prompt_tokens, prompt_real, response, _behaviour = generate(model, repeated, new_tokens)
    rewards = torch.tensor(
        [1.0 if decode(r) == answers[i // group] else 0.0 for i, r in enumerate(response.tolist())]
    ).view(-1, group)
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)).view(-1, 1)
    logp, entropy = response_logprobs(model, prompt_tokens, prompt_real, response)
    # One optimizer step over the whole batch: the old policy is the current one, so its
    # log-probs are these detached (TRL does the same, and so does polopt).
    old = logp.detach()
    ratio = (logp - old).exp()
    surrogate = torch.minimum(ratio * adv, ratio.clamp(0.8, 1.2) * adv)
    loss = -surrogate.mean(1).mean()
    _ = entropy.mean().item()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)
    times = []
    for step in range(args.steps):
        start = time.perf_counter()
        iteration(model, opt, rng, args.prompts, args.group, args.new_tokens)
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    print(json.dumps({"median_s": statistics.median(times), "steps": times, "threads": args.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
