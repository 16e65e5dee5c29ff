#!/usr/bin/python3
"""Writes the hostile inputs of issue 14 into a folder (tests/cli_hostile.sh runs phi3vk on
each; the small ones also seed the fuzz corpora). Every file is what an attacker could hand a
user: a downloaded model, a tokenizer, a dataset, an --out file.

  huge_head_dim.gguf     row 1: head_dim 4096 and LongRoPE factor tensors of head_dim/2 F32
  st_wrap/               row 8: an F16 tensor of shape [2^30, 2^30] with 0 data bytes
  tok_grow.json          row 3: three Replace normalizers that each turn "a" into 10 x "a"
  vocab_big_piece.gguf   row 5: a GGUF vocabulary with a 1 MiB piece
  tok_added.json         row 6: 100k added tokens that share their first byte
  not_results.jsonl      row 2: one line, no newline, not a result (a user's items)
  nul.jsonl              row 10: a text with \\u0000
  esc_id.tsv             row 9: a repeated id holding terminal escape sequences
  esc_name.gguf          row 9: a GGUF string value holding terminal escape sequences
  items.json             a JSON array, not JSONL (needs --format)

usage: make.py DIR
"""
import json
import os
import struct
import sys

ESC = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m\u009b2J"


def gguf(path, kvs, tensors, data=b""):
    """kvs: [(key, type, value)] with type 'str', 'u32', 'f32', 'arr_str', 'arr_f32', 'arr_i32';
    tensors: [(name, ggml_type, ne, offset)]."""
    def s(x):
        b = x.encode() if isinstance(x, str) else x
        return struct.pack("<Q", len(b)) + b
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, ty, v in kvs:
        out += s(key)
        if ty == "str":
            out += struct.pack("<I", 8) + s(v)
        elif ty == "u32":
            out += struct.pack("<II", 4, v)
        elif ty == "f32":
            out += struct.pack("<If", 6, v)
        elif ty == "arr_str":
            out += struct.pack("<IIQ", 9, 8, len(v)) + b"".join(s(x) for x in v)
        elif ty == "arr_f32":
            out += struct.pack("<IIQ", 9, 6, len(v)) + struct.pack("<%df" % len(v), *v)
        elif ty == "arr_i32":
            out += struct.pack("<IIQ", 9, 5, len(v)) + struct.pack("<%di" % len(v), *v)
    for name, gt, ne, off in tensors:
        out += s(name) + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", gt, off)
    out += b"\0" * (-len(out) % 32)
    with open(path, "wb") as f:
        f.write(out + data)


def phi3_keys(hidden, heads):
    return [("general.architecture", "str", "phi3"), ("phi3.embedding_length", "u32", hidden),
            ("phi3.feed_forward_length", "u32", 1), ("phi3.block_count", "u32", 1),
            ("phi3.attention.head_count", "u32", heads), ("phi3.context_length", "u32", 16),
            ("phi3.attention.layer_norm_rms_epsilon", "f32", 1e-5)]


def main(d):
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    # row 1: 4096 / 1 heads; factors of 2048 F32 each (8 KB), 16 KB in all
    half = 2048
    gguf(p("huge_head_dim.gguf"), phi3_keys(4096, 1),
         [("token_embd.weight", 0, [1, 4], 0), ("rope_factors_long.weight", 0, [half], 32),
          ("rope_factors_short.weight", 0, [half], 32 + 4 * half)],
         struct.pack("<%df" % (8 + 2 * half), *([1.0] * (8 + 2 * half))))
    # row 8
    os.makedirs(p("st_wrap"), exist_ok=True)
    cfg = {"model_type": "phi3", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
           "num_attention_heads": 4, "vocab_size": 2048, "max_position_embeddings": 128,
           "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": None}
    with open(p("st_wrap/config.json"), "w") as f:
        json.dump(cfg, f)
    h = json.dumps({"model.embed_tokens.weight": {"dtype": "F16", "shape": [1 << 30, 1 << 30],
                                                  "data_offsets": [0, 0]}}).encode()
    with open(p("st_wrap/model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
    # row 3
    rep = {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 10}
    tok = {"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "\u2581": 2}, "merges": [], "unk_token": "<unk>"},
           "normalizer": {"type": "Sequence", "normalizers": [rep, rep, rep]}}
    with open(p("tok_grow.json"), "w") as f:
        json.dump(tok, f)
    # row 5
    pieces = ["<unk>", "<s>", "</s>", "a", "aa", "a" * (1 << 20)]
    gguf(p("vocab_big_piece.gguf"),
         [("tokenizer.ggml.model", "str", "llama"), ("tokenizer.ggml.tokens", "arr_str", pieces),
          ("tokenizer.ggml.scores", "arr_f32", [0.0, 0.0, 0.0, -1.0, -2.0, -3.0]),
          ("tokenizer.ggml.token_type", "arr_i32", [2, 3, 3, 1, 1, 1])], [])
    # row 6
    tok = {"model": {"type": "BPE", "vocab": {"<unk>": 0, "<s>": 1, "x": 2, "y": 3, "\u2581": 4}, "merges": [],
                     "unk_token": "<unk>"},
           "added_tokens": [{"id": 5 + i, "content": "x%d" % i, "special": True} for i in range(100000)]}
    with open(p("tok_added.json"), "w") as f:
        json.dump(tok, f)
    # row 2
    with open(p("not_results.jsonl"), "w") as f:
        f.write('{"text": "the only item, no newline"}')
    # row 10
    with open(p("nul.jsonl"), "w") as f:
        f.write('{"id": "1", "text": "before\\u0000after"}\n')
    # row 9
    with open(p("esc_id.tsv"), "w") as f:
        f.write("id\ttext\n%s\tfirst\n%s\tsecond\n" % (ESC, ESC))
    gguf(p("esc_name.gguf"), [("general.architecture", "str", "phi3"), ("general.name", "str", "model " + ESC)], [])
    with open(p("items.json"), "w") as f:
        json.dump([{"text": "one"}, {"text": "two"}], f)


if __name__ == "__main__":
    main(sys.argv[1])
