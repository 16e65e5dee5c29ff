#!/usr/bin/env bash
# `phi3vk synth` and `phi3vk inspect`: every layout synth writes is described
# by inspect with the sizes asked for; same seed -> same bytes, other seed ->
# other bytes; bad options and broken paths are usage/load errors with a
# message naming the option or file. Env: PHI3VK_BIN = the phi3vk binary.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
TMP=$(mktemp -d /tmp/cli_synth.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_out() { # expect_out WORD CMD...: exit 0 and WORD in stdout
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
expect_out "F32" "$BIN" synth "$TMP/f32" $S
expect_out "sharded" "$BIN" synth "$TMP/bf16" $S --dtype bf16 --shards 3 --seed 7
expect_out "GGUF" "$BIN" synth "$TMP/m.gguf" $S --gguf --longrope 128 --tie
[ -f "$TMP/bf16/model-00003-of-00003.safetensors" ] && [ -f "$TMP/bf16/model.safetensors.index.json" ] || fail "shards or index missing"
[ -f "$TMP/f32/model.safetensors" ] && [ -f "$TMP/f32/generation_config.json" ] || fail "single file layout missing"

expect_out "hidden 32, intermediate 48, layers 2, heads 4, kv heads 2, head_dim 8, vocab 32064" "$BIN" inspect "$TMP/f32"
expect_out "stop ids: 32000 32001 32007" "$BIN" inspect "$TMP/f32"
expect_out "model.layers.1.self_attn.qkv_proj.weight" "$BIN" inspect "$TMP/bf16"
expect_out "BF16  [64, 32]" "$BIN" inspect "$TMP/bf16"
expect_out "rope scaling: longrope" "$BIN" inspect "$TMP/m.gguf"
expect_out "tie_word_embeddings yes" "$BIN" inspect "$TMP/m.gguf"
expect_out "phi3.attention.sliding_window: uint32 = 2047" "$BIN" inspect "$TMP/m.gguf"
expect_out "tokenizer: none" "$BIN" inspect "$TMP/f32" --no-tensors

# determinism
"$BIN" synth "$TMP/again" $S >/dev/null && cmp -s "$TMP/f32/model.safetensors" "$TMP/again/model.safetensors" || fail "same seed, different bytes"
"$BIN" synth "$TMP/other" $S --seed 2 >/dev/null && ! cmp -s "$TMP/f32/model.safetensors" "$TMP/other/model.safetensors" || fail "other seed, same bytes"
# -t: the bytes do not depend on how many threads generate and quantize them (every
# tensor of these shapes splits into several parts: the embedding's 32064 x 256 values,
# the matrices' 768 x 256 and more)
for form in "--dtype f32" "--dtype bf16" "--gguf --type q4_k_m"; do
    tag=$(echo "$form" | tr -dc 'a-z0-9')
    for t in 1 3; do
        "$BIN" synth "$TMP/t$t-$tag" --hidden 256 --intermediate 512 --layers 1 --heads 4 $form -t $t -q ||
            fail "synth $form -t $t"
    done
    if [ -d "$TMP/t1-$tag" ]; then
        cmp -s "$TMP/t1-$tag/model.safetensors" "$TMP/t3-$tag/model.safetensors" || fail "synth $form: -t 1 and -t 3 differ"
    else
        cmp -s "$TMP/t1-$tag" "$TMP/t3-$tag" || fail "synth $form: -t 1 and -t 3 differ"
    fi
done

# errors
expect_err 2 "--dtype" "$BIN" synth "$TMP/x" --dtype q4
expect_err 2 "expected a whole number, found '2.5'" "$BIN" synth "$TMP/x" --layers 2.5
expect_err 2 "-t: expected a number" "$BIN" synth "$TMP/x" -t many
expect_err 2 "unknown preset" "$BIN" synth "$TMP/x" --preset huge
expect_err 2 "--hidden" "$BIN" synth "$TMP/x" --hidden abc
expect_err 2 "--longrope" "$BIN" synth "$TMP/x" --ctx 256 --longrope 512
expect_err 2 "num_key_value_heads" "$BIN" synth "$TMP/x" --heads 4 --kv-heads 3
expect_err 2 "--shards" "$BIN" synth "$TMP/x" $S --shards 99
expect_err 1 "no such file or folder" "$BIN" inspect "$TMP/nothing"
sed -i 's/"hidden_size":\t32/"hidden_size":\t40/' "$TMP/f32/config.json"
expect_err 1 "model.embed_tokens.weight: expected [32064, 40], got [32064, 32]" "$BIN" inspect "$TMP/f32"
head -c 3000 "$TMP/m.gguf" > "$TMP/cut.gguf"
expect_err 1 "cut.gguf" "$BIN" inspect "$TMP/cut.gguf"

[ "$fails" = 0 ] && echo "cli_synth: all passed" || { echo "cli_synth: $fails failed"; exit 1; }
