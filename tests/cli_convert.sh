#!/usr/bin/env bash
# `phi3vk convert`: a synth folder plus the Phi-3 tokenizer becomes a GGUF that
# inspect reads back with the same config and llama.cpp's keys; the same
# weights twice give the same bytes; the tokenizer of the GGUF tokenizes like
# tokenizer.json; a folder without tokenizer says to pass --tokenizer; bad
# outputs leave nothing behind. Env: PHI3VK_BIN, PHI3VK_DATA.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
TOK=${PHI3VK_DATA:-/nonexistent}/tokenizer/phi3-mini-4k-instruct
[ -f "$TOK/tokenizer.json" ] || { echo "SKIP: $TOK/tokenizer.json is absent (PHI3VK_DATA)"; exit 77; }
TMP=$(mktemp -d /tmp/cli_convert.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_out() { # expect_out WORD CMD...: exit 0 and WORD in stdout+stderr
    local w=$1; shift
    out=$("$@" 2>&1) || { fail "$* exited $?: $out"; return; }
    grep -qF -- "$w" <<<"$out" || fail "$*: no '$w' in: $out"
}
expect_err() { # expect_err CODE WORD CMD...: exit CODE and WORD in stderr+stdout
    local code=$1 w=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    [ "$rc" = "$code" ] || fail "$*: exit $rc, expected $code ($out)"
    grep -qF -- "$w" <<<"$out" || fail "$*: no '$w' in: $out"
}

S="--hidden 32 --intermediate 48 --layers 2 --heads 4 --kv-heads 2 --vocab 32064 --ctx 256"
"$BIN" synth "$TMP/judge" $S --dtype bf16 --shards 2 >/dev/null || fail "synth"
expect_out "usage: phi3vk convert IN OUT.gguf" "$BIN" convert --help
expect_out "convert" "$BIN" --help

# the judge's situation: no tokenizer in the folder
expect_err 1 "--tokenizer" "$BIN" convert "$TMP/judge" "$TMP/j.gguf"
[ ! -e "$TMP/j.gguf" ] && [ ! -e "$TMP/j.gguf.tmp" ] || fail "a failed conversion left a file"
expect_out "wrote $TMP/j.gguf" "$BIN" convert "$TMP/judge" "$TMP/j.gguf" --tokenizer "$TOK" --name "Phi3 judge"
[ ! -e "$TMP/j.gguf.tmp" ] || fail "j.gguf.tmp left behind"
expect_out "hidden 32, intermediate 48, layers 2, heads 4, kv heads 2, head_dim 8, vocab 32064" "$BIN" inspect "$TMP/j.gguf"
expect_out 'general.name: string = "Phi3 judge"' "$BIN" inspect "$TMP/j.gguf"
expect_out "tokenizer.ggml.token_type: array of 32064 int32" "$BIN" inspect "$TMP/j.gguf"
expect_out "tokenizer.chat_template: string" "$BIN" inspect "$TMP/j.gguf"
expect_out "blk.1.ffn_up.weight                                  F16   [96, 32]" "$BIN" inspect "$TMP/j.gguf"
expect_out "blk.1.ffn_norm.weight                                F32   [32]" "$BIN" inspect "$TMP/j.gguf"
expect_out "spm from GGUF tokenizer.ggml.*: 32064 ids, bos 1, eos 32000, unk 0, pad 32000" "$BIN" inspect "$TMP/j.gguf"

# default name: llama.cpp needs "phi3"/"phi-3" in it; a --name without one is warned about
"$BIN" convert "$TMP/judge" "$TMP/d.gguf" --tokenizer "$TOK" 2>/dev/null || fail "convert without --name"
expect_out 'general.name: string = "Phi-3 judge"' "$BIN" inspect "$TMP/d.gguf" --no-tensors
expect_out "warning: --name \"judge\" has no" "$BIN" convert "$TMP/judge" "$TMP/d.gguf" --tokenizer "$TOK" --name judge --force

# deterministic: same input, same bytes
"$BIN" convert "$TMP/judge" "$TMP/j2.gguf" --tokenizer "$TOK/tokenizer.json" --name "Phi3 judge" 2>/dev/null &&
    cmp -s "$TMP/j.gguf" "$TMP/j2.gguf" || fail "two conversions differ"

# the embedded tokenizer tokenizes like tokenizer.json
text=$'<|user|>\nIs this toxic? "héllo"  wörld<|end|>\n<|assistant|>\n'
a=$("$BIN" tokenize --tokenizer "$TOK" --ids "$text" 2>&1)
b=$("$BIN" tokenize --tokenizer "$TMP/j.gguf" --ids "$text" 2>&1)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "tokenize differs: json '$a' gguf '$b'"

# errors
expect_err 2 "usage" "$BIN" convert "$TMP/judge"
expect_err 2 "--bogus" "$BIN" convert "$TMP/judge" "$TMP/x.gguf" --bogus
expect_err 2 "without a value" "$BIN" convert "$TMP/judge" "$TMP/x.gguf" --tokenizer
expect_err 1 "is a folder" "$BIN" convert "$TMP/judge" "$TMP" --tokenizer "$TOK"
expect_err 1 "cannot create" "$BIN" convert "$TMP/judge" "$TMP/no/dir/x.gguf" --tokenizer "$TOK"
expect_err 1 "already a GGUF" "$BIN" convert "$TMP/j.gguf" "$TMP/x.gguf" --tokenizer "$TOK"
expect_err 1 "no such file or folder" "$BIN" convert "$TMP/nothing" "$TMP/x.gguf"
"$BIN" synth "$TMP/small" --hidden 32 --intermediate 48 --layers 1 --heads 4 --vocab 1000 --ctx 256 >/dev/null
rm -f "$TMP/small/generation_config.json" # synth writes its stop ids (>= 32000) as an empty list here
expect_err 1 "32011 ids but config.json vocab_size is 1000" "$BIN" convert "$TMP/small" "$TMP/x.gguf" --tokenizer "$TOK"
[ ! -e "$TMP/x.gguf" ] && [ ! -e "$TMP/x.gguf.tmp" ] || fail "a failed conversion left x.gguf"

# --type: quantized files (rows of 256 values: whole Q4_K blocks); phi3vk loads them
"$BIN" synth "$TMP/q" --hidden 256 --intermediate 512 --layers 2 --heads 2 --vocab 32064 --ctx 256 >/dev/null || fail "synth q"
expect_out "(q4_k)" "$BIN" convert "$TMP/q" "$TMP/q4k.gguf" --tokenizer "$TOK" --type q4_k
expect_out "blk.1.attn_qkv.weight                                Q4_K  [768, 256]" "$BIN" inspect "$TMP/q4k.gguf"
expect_out "output.weight                                        Q6_K  [32064, 256]" "$BIN" inspect "$TMP/q4k.gguf"
expect_out "general.file_type: uint32 = 14" "$BIN" inspect "$TMP/q4k.gguf" --no-tensors
expect_out "blk.0.attn_qkv.weight                                Q8_0  [768, 256]" sh -c \
    "'$BIN' convert '$TMP/q' '$TMP/q8.gguf' --tokenizer '$TOK' --type Q8_0 2>/dev/null && '$BIN' inspect '$TMP/q8.gguf'"
expect_out "blk.0.attn_qkv.weight                                Q5_K  [768, 256]" sh -c \
    "'$BIN' convert '$TMP/q' '$TMP/q4km.gguf' --tokenizer '$TOK' --type q4_k_m 2>/dev/null && '$BIN' inspect '$TMP/q4km.gguf'"
expect_out "(Q4_K 54%, Q6_K 46%, 0.707 bytes per weight)" "$BIN" logits -m "$TMP/q4k.gguf" --tokens 1,2,3 --out "$TMP/l.npy" -v
expect_out "wrote $TMP/l.npy" "$BIN" logits -m "$TMP/q4km.gguf" -p "Hello there" --out "$TMP/l.npy"
# -t: the file's bytes do not depend on how many threads quantize the rows
"$BIN" convert "$TMP/q" "$TMP/q4k-t1.gguf" --tokenizer "$TOK" --type q4_k -t 1 -q || fail "convert -t 1"
"$BIN" convert "$TMP/q" "$TMP/q4k-t3.gguf" --tokenizer "$TOK" --type q4_k --threads 3 -q || fail "convert --threads 3"
cmp -s "$TMP/q4k-t1.gguf" "$TMP/q4k-t3.gguf" && cmp -s "$TMP/q4k.gguf" "$TMP/q4k-t1.gguf" ||
    fail "convert --type q4_k: -t 1, --threads 3 and the default wrote different bytes"
expect_err 2 "-t: expected" "$BIN" convert "$TMP/q" "$TMP/x.gguf" --type q4_k -t many
expect_err 2 "without a value" "$BIN" convert "$TMP/q" "$TMP/x.gguf" --type q4_k --threads
expect_err 2 "--type: expected f16, q8_0, q4_0, q4_k or q4_k_m, found 'q3'" "$BIN" convert "$TMP/q" "$TMP/x.gguf" --type q3
expect_err 2 "without a value" "$BIN" convert "$TMP/q" "$TMP/x.gguf" --type

[ "$fails" = 0 ] && echo "cli_convert: all passed" || { echo "cli_convert: $fails failed"; exit 1; }
