#!/usr/bin/env bash
# Issue 14: hostile files are rejected by a size cap or a bound on work, never
# by luck. Each case runs phi3vk on one input of tests/hostile/make.py under a
# 1 GiB address-space limit (ulimit -v) and `timeout`, and checks the exit
# status and the error message; its wall time is printed ("time NAME: N ms",
# collected in bench/RESULTS.md). The time check only catches a hang.
#
# Under the sanitizer build (PHI3VK_SANITIZED=1) the memory limit is left
# out, not the case: ASan reserves terabytes of virtual address space up
# front, so any RLIMIT_AS small enough to mean something kills it at start.
# The release build (the README's test command, CI's release stage) runs
# every case under the limit.
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_SRC = the source tree.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/cli.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write the hostile files"; exit 77; }
W=$(mktemp -d /tmp/cli_hostile.XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 "$HERE/hostile/make.py" "$W" || { echo "FAIL: make.py"; exit 1; }
LIMIT_KB=$((1024 * 1024))
if [ "${PHI3VK_SANITIZED:-0}" = 1 ]; then
    echo "note: sanitizer build: no memory limit (ASan reserves terabytes of address space)"
    LIMIT_KB=unlimited
fi

# hostile NAME WANT_RC TEXT ARGS...: phi3vk ARGS under the limits; the exit status must be
# WANT_RC and its output (inspect reports on stdout) must hold TEXT (when not empty); prints
# the wall time.
hostile() {
    local name=$1 want=$2 text=$3
    shift 3
    local t0 rc ms
    t0=$(date +%s%N)
    (ulimit -v "$LIMIT_KB"; exec timeout 60 "$BIN" "$@") >"$W/out" 2>"$W/err"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "time $name: $ms ms"
    expect "$name: exit status" "$want" "$rc"
    [ -z "$text" ] || expect "$name: message" 1 "$(cat "$W/err" "$W/out" | grep -qF -- "$text" && echo 1 || echo 0)"
    expect "$name: not a hang (under 30 s)" 1 "$([ "$ms" -lt 30000 ] && echo 1 || echo 0)"
}

# row 1: head_dim 4096 with 2048-float LongRoPE factors (wrote past 256-float arrays)
hostile "row 1 inspect huge head_dim GGUF" 1 "head_dim = 4096 / 1 = 4096 (expected even and <= 512)" \
    inspect "$W/huge_head_dim.gguf"
hostile "row 1 classify huge head_dim GGUF" 1 "head_dim = 4096 / 1 = 4096" \
    classify -m "$W/huge_head_dim.gguf" "text"
# row 8: [2^30, 2^30] F16 with no data
hostile "row 8 safetensors size wrap" 1 "size/shape mismatch" inspect "$W/st_wrap"
# row 3: normalizers that multiply text
hostile "row 3 normalizer growth" 1 "normalizer: after step 1 (Replace) a text can grow to 10x" \
    tokenize --tokenizer "$W/tok_grow.json" a
# row 5: a 1 MiB piece in a GGUF vocabulary
hostile "row 5 1 MiB vocabulary piece" 1 "tokenizer.ggml.tokens[5]: unreadable, or 1048576 bytes long (at most 128" \
    tokenize --tokenizer "$W/vocab_big_piece.gguf" a
# row 6: 100k added tokens sharing a first byte, 4000 characters of text
TEXT=$(python3 -c 'print("x" * 4000)') # every position starts 100k candidates
hostile "row 6 100k added tokens x 4000 characters" 0 "" tokenize --tokenizer "$W/tok_added.json" --ids "$TEXT"
expect "row 6: every character tokenized" 1 "$([ "$(wc -w <"$W/out")" -ge 4000 ] && echo 1 || echo 0)"
# row 2: --out on a file that is not a results file (one line, no newline) is refused, not cut
cp "$W/not_results.jsonl" "$W/keep.jsonl"
hostile "row 2 --out is a user's file without a newline" 1 "the last line, without a newline, is not a phi3vk result line" \
    classify -m "$W/no-model" --out "$W/not_results.jsonl" "text"
expect "row 2: the file is unchanged" 0 "$(cmp -s "$W/not_results.jsonl" "$W/keep.jsonl"; echo $?)"
hostile "row 2 --out is the input file" 1 "is the input file" \
    classify -m "$W/no-model" -f "$W/not_results.jsonl" --out "$W/not_results.jsonl"
expect "row 2: the input is unchanged" 0 "$(cmp -s "$W/not_results.jsonl" "$W/keep.jsonl"; echo $?)"
# row 10: \u0000 in a JSONL text
hostile "row 10 JSONL \\u0000" 1 'nul.jsonl:1: \u0000 (a NUL character) at byte 28 of the line' \
    classify -m "$W/no-model" -f "$W/nul.jsonl"
# row 9: ids and GGUF strings reach the terminal escaped
hostile "row 9 escape sequences in a repeated id" 1 "repeats the id of line 2" \
    classify -m "$W/no-model" -f "$W/esc_id.tsv" --id-col id
expect "row 9: no raw ESC or BEL on stderr" 0 "$(tr -d -c '\033\007' <"$W/err" | wc -c)"
expect "row 9: the ESC shown as \\x1b" 1 "$(grep -c 'x1b\]0;pwned' "$W/err")"
hostile "row 9 escape sequences in a GGUF string" 1 "not a loadable Phi-3 model" inspect "$W/esc_name.gguf"
expect "row 9 inspect: no raw ESC, BEL or CSI" 0 "$(LC_ALL=C tr -d -c '\033\007\302' <"$W/out" | wc -c)"
expect "row 9 inspect: general.name shown escaped" 1 "$(grep -c 'model \\x1b\]0;pwned\\x07' "$W/out")"
# unknown extensions are not read as plain text
hostile "a .json array needs --format" 1 "cannot tell the format from the extension '.json'" \
    classify -m "$W/no-model" -f "$W/items.json"
cp "$W/items.json" "$W/items.txt.gz"
hostile "a .txt.gz needs --format" 1 "the extension '.gz'" classify -m "$W/no-model" -f "$W/items.txt.gz"
# row 13: a vocabulary too small for Phi-3's stop ids gives a loadable model
hostile "row 13 synth --vocab 32000" 0 "" synth "$W/small-vocab" --preset tiny --layers 1 --vocab 32000
hostile "row 13 the synth model loads" 0 "" inspect "$W/small-vocab"
expect "row 13: eos_token_id is null, not []" 1 "$(grep -c '"eos_token_id":.null' "$W/small-vocab/generation_config.json")"
finish
