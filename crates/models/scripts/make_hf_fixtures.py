"""Writes tiny Hugging Face reference checkpoints for crates/models/tests/hf_reference.rs.

Each fixture directory holds what `save_pretrained` writes (config.json, model.safetensors) and
reference.safetensors: input tokens, attention mask (with left padding) and the logits that
transformers computes for them, so the Rust tests check our forward pass against transformers
without Python at test time.

`qwen2_tied_chat` is a whole Hugging Face model directory as the Qwen2.5 releases look: tied
embeddings, GQA, q/k/v bias, rope_theta 1e6, bf16 weights, sharded with an index file, and a
byte-level BPE tokenizer.json with Qwen2's split pattern and a ChatML chat template. Its
expected.json records what transformers' tokenizer makes of a few texts and conversations, and
its reference tokens are two rendered conversations.

Run with a Python that has torch and transformers:
    python crates/models/scripts/make_hf_fixtures.py crates/models/tests/fixtures
"""
import json
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
    write_qwen2_tied_chat(os.path.join(out_dir, "qwen2_tied_chat"))


# Qwen2's pre-tokenizer split pattern (its tokenizer.json); the lookahead needs fancy-regex in Rust.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# A ChatML template in the shape of Qwen2.5's (default system prompt, tools block via tojson).
CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
    {{- '\\n\\n# Tools\\n<tools>' }}
    {%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}
    {{- '\\n</tools><|im_end|>\\n' }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant") %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content.strip() + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 2024, and we're testing tokenizers!",
    "What is 12 + 30? The answer is 42.\nNew lines\n\nand  double  spaces.",
    "Caf\u00e9 na\u00efve \u00fcber \u2014 unicode text, emoji \U0001F600 and symbols #$%&.",
    "def add(a, b):\n    return a + b\n",
] * 20


def write_qwen2_tied_chat(d):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )
    vocab = tok.get_vocab_size()
    pad, eos = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|im_end|>")

    torch.manual_seed(1)
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=40,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=pad,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    model.eval()
    model.to(torch.bfloat16)
    # A shard limit far below the model's size makes transformers write several shards + index.
    model.save_pretrained(d, safe_serialization=True, max_shard_size="8KB")
    hf_tok.save_pretrained(d)

    texts = [
        "The quick brown fox jumps over the lazy dog.",
        "What is 12 + 30?\n\nThe answer:  42 ",
        "Caf\u00e9 \u00fcber \U0001F600 it's we're",
        "<|im_start|>user\nhi<|im_end|>",
    ]
    conversations = [
        [{"role": "user", "content": "What is 12 + 30?"}],
        [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "  Name a fox. "},
            {"role": "assistant", "content": "A quick brown one."},
            {"role": "user", "content": "And a dog?"},
        ],
    ]
    cases = {"texts": [], "chats": []}
    for text in texts:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        cases["texts"].append({"text": text, "ids": ids, "decoded": hf_tok.decode(ids)})
    rows = []
    for messages in conversations:
        rendered = hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = hf_tok(rendered, add_special_tokens=False)["input_ids"]
        cases["chats"].append({"messages": messages, "rendered": rendered, "ids": ids})
        rows.append(ids)
    # Keys in sorted order: polopt's JSON maps are sorted, Python's keep insertion order.
    tools = [{"function": {"name": "add", "parameters": {"a": "int"}}, "type": "function"}]
    rendered = hf_tok.apply_chat_template(conversations[0], tools=tools, tokenize=False, add_generation_prompt=False)
    cases["tools"] = {"messages": conversations[0], "tools": tools, "rendered": rendered}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)

    width = max(len(r) for r in rows)
    tokens = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    # Reference in f32 from the saved bf16 weights, reloaded as a user would (`model.float()`
    # would keep the rotary inv_freq buffer rounded to bf16). bf16 -> f32 is exact.
    reloaded = Qwen2ForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = reloaded(input_ids=tokens, attention_mask=mask).logits.float()
    save_file(
        {"tokens": tokens, "attention_mask": mask, "logits": logits.contiguous()},
        os.path.join(d, "reference.safetensors"),
    )
    print("qwen2_tied_chat", sorted(os.listdir(d)))


if __name__ == "__main__":
    main(sys.argv[1])
