"""Writes the dataset fixtures of crates/envs/tests/datasets.rs: each dataset once as JSON lines
and once as Parquet, from the same Python rows, so the test can demand that both formats load
to the same problems. Parquet is written with pyarrow, which is what Hugging Face `datasets`
uses for `Dataset.to_parquet` (snappy by default).

    python bench/data_fixtures/make_parquet.py   # needs `pip install pyarrow`

The outputs are committed; rerun only to change a fixture.
"""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[2] / "crates/envs/tests/fixtures/data"

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
SYSTEM = {"role": "system", "content": "Answer with a number only."}


def tiny_math():
    """16 one-step arithmetic questions with integer answers, for end-to-end runs."""
    pairs = [(3, "+", 4), (9, "-", 5), (6, "*", 7), (8, "+", 8), (15, "-", 6), (4, "*", 5),
             (12, "+", 19), (20, "-", 13), (3, "*", 9), (7, "+", 6), (30, "-", 12), (11, "*", 3),
             (25, "+", 17), (14, "-", 9), (8, "*", 8), (2, "+", 99)]
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
    return [(f"What is {a}{op}{b}?", ops[op](a, b)) for a, op, b in pairs]


def write_jsonl(name, rows):
    with open(OUT / name, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_parquet(name, rows, schema, compression="snappy", row_group_size=None):
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, OUT / name, compression=compression, row_group_size=row_group_size)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    math = tiny_math()

    plain = [{"prompt": q, "answer": a} for q, a in math]
    write_jsonl("tiny_math.jsonl", plain)
    # Row groups of 5: the reader must number rows across group boundaries.
    write_parquet("tiny_math.parquet", plain,
                  pa.schema([("prompt", pa.string()), ("answer", pa.int64())]), row_group_size=5)

    chat = [{"prompt": [SYSTEM, {"role": "user", "content": q}], "answer": a} for q, a in math]
    write_jsonl("tiny_math_chat.jsonl", chat)

    # Every column type a reward function might want in meta, a string prompt and a chat list.
    mixed = [
        {"prompt": "Add 2 and 3.", "messages": [SYSTEM, {"role": "user", "content": "Add 2 and 3."}],
         "answer": "5", "level": 1, "weight": 0.1, "score": 0.25, "tags": ["add"],
         "source": {"name": "gen", "version": 2}, "note": None},
        {"prompt": "Combien font 6×7 ?",
         "messages": [{"role": "user", "content": "Combien font 6×7 ?"}],
         "answer": "42", "level": 2, "weight": 1.5, "score": -3.0, "tags": ["mul", "fr"],
         "source": {"name": "hand", "version": 1}, "note": "unicode"},
        {"prompt": "And times 3?",
         "messages": [SYSTEM, {"role": "user", "content": "What is 2+2?"},
                      {"role": "assistant", "content": "4"}, {"role": "user", "content": "And times 3?"}],
         "answer": "12", "level": 3, "weight": 2.0, "score": 1e-7, "tags": [],
         "source": {"name": "hand", "version": 1}, "note": "multi-turn"},
    ]
    mixed_schema = pa.schema([
        ("prompt", pa.string()), ("messages", pa.list_(MESSAGE)), ("answer", pa.string()),
        ("level", pa.int32()), ("weight", pa.float32()), ("score", pa.float64()),
        ("tags", pa.list_(pa.string())),
        ("source", pa.struct([("name", pa.string()), ("version", pa.int64())])),
        ("note", pa.string()),
    ])
    write_jsonl("mixed.jsonl", mixed)
    for codec in ["snappy", "zstd", "gzip"]:
        name = "mixed.parquet" if codec == "snappy" else f"mixed.{codec}.parquet"
        write_parquet(name, mixed, mixed_schema, compression=codec)
    # A codec this build leaves out, for the error that says which ones it reads.
    write_parquet("mixed.brotli.parquet", mixed, mixed_schema, compression="brotli")

    nulls = [{"prompt": "What is 1+1?", "answer": 2}, {"prompt": None, "answer": 3},
             {"prompt": "", "answer": 4}, {"prompt": "What is 2+2?", "answer": 4}]
    write_parquet("nulls.parquet", nulls, pa.schema([("prompt", pa.string()), ("answer", pa.int64())]))


if __name__ == "__main__":
    main()
