#!/usr/bin/env python3
# Reads phi3vk's quantized GGUFs with llama.cpp's gguf-py (its reader and numpy quants, an
# independent implementation of ggml's blocks) and compares them with the F32 checkpoint they
# came from: per tensor the dequantized nmse, and for Q8_0 / Q4_0 whether the bytes equal
# gguf-py's reference quantization (ggml's quantize_row_*_ref). Not a ctest: gguf-py is not a
# dependency of phi3vk. Usage (bench/RESULTS.md, "Quantized weights (issue 17)"):
#
#   phi3vk synth F32DIR --hidden 256 --intermediate 512 --layers 2 --heads 4 --seed 7
#   phi3vk synth X.gguf  (same options) --gguf --type q8_0|q4_0|q4_k|q4_k_m
#   PYTHONPATH=path/to/llama.cpp/gguf-py python3 scripts/gguf-py-check.py F32DIR X.gguf...
#
# (gguf-py imports sentencepiece; a stub module with SentencePieceProcessor = None will do.)
# Exit status 0 when every tensor is within its type's bound and the Q8_0 / Q4_0 bytes match.
import json
import struct
import sys

import numpy as np
import gguf
from gguf import quants
from gguf.constants import GGMLQuantizationType as T

# nmse of one tensor of N(0, s) values after a round trip: well above what each format costs
BOUND = {T.F32: 0, T.F16: 1e-6, T.Q8_0: 1e-4, T.Q6_K: 1e-3, T.Q5_K: 3e-3, T.Q4_K: 1e-2, T.Q4_0: 1.5e-2}
LAYER = {"attn_qkv.weight": "self_attn.qkv_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
         "ffn_up.weight": "mlp.gate_up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
         "attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight"}
TOP = {"token_embd.weight": "model.embed_tokens.weight", "output.weight": "lm_head.weight",
       "output_norm.weight": "model.norm.weight"}


def safetensors_f32(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    out = {}
    for k, v in json.loads(b[8:8 + n]).items():
        if k != "__metadata__":
            s, e = v["data_offsets"]
            out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32).reshape(v["shape"])
    return out


def hf_name(name):
    if name in TOP:
        return TOP[name]
    p = name.split(".")
    return "model.layers.%s.%s" % (p[1], LAYER[".".join(p[2:])])


def main():
    ref = safetensors_f32(sys.argv[1] + "/model.safetensors")
    ok = True
    for path in sys.argv[2:]:
        r = gguf.GGUFReader(path)
        ft = r.fields.get("general.file_type")
        print("== %s: general.file_type %s, %d tensors" % (path, int(ft.parts[ft.data[0]][0]) if ft else "-",
                                                         len(r.tensors)))
        for t in r.tensors:
            want = ref[hf_name(t.name)]
            got = quants.dequantize(t.data, t.tensor_type).reshape(want.shape)
            nmse = float(((got - want) ** 2).mean() / (want ** 2).mean())
            line = "  %-24s %-5s %-14s nmse %.2e" % (t.name, t.tensor_type.name, list(t.shape), nmse)
            if nmse > BOUND[t.tensor_type]:
                ok = False
                line += "  ** above %.0e" % BOUND[t.tensor_type]
            if t.tensor_type in (T.Q8_0, T.Q4_0):
                mine = np.asarray(t.data).reshape(-1).view(np.uint8)
                theirs = quants.quantize(want, t.tensor_type).reshape(-1).view(np.uint8)
                same = mine.shape == theirs.shape and np.array_equal(mine, theirs)
                ok = ok and same
                line += "; bytes equal gguf-py's quantize: %s" % ("yes" if same else "NO")
            print(line)
    print("all tensors as gguf-py reads them: %s" % ("ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
