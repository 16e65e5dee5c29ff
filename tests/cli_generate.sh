#!/usr/bin/env bash
# `phi3vk generate`, `phi3vk logits` and `phi3vk perplexity` on a tiny
# random-weight checkpoint (phi3vk synth, 1 layer, real Phi-3 vocabulary) with
# the real tokenizer, every model run under the Vulkan validation layer:
#   - greedy output is reproducible, and its text is the detokenized --ids;
#   - the same --seed gives the same sampled tokens; -n bounds the count;
#   - a full --ctx ends generation (exit 0, message), a prompt longer than
#     --ctx is an error (exit 1);
#   - logits writes a valid .npy [positions, vocab] whose last row's argmax is
#     generate's first greedy token;
#   - perplexity prints a finite positive value, --json parses, and its mean
#     NLL equals the one computed here from the logits .npy of the same tokens;
#   - bad input: a missing model path, no tokenizer, -p with -f, bad --tokens.
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_DATA = ../shared/data.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
TOK=$DATA/tokenizer/phi3-mini-4k-instruct/tokenizer.json
[ -n "$DATA" ] && [ -f "$TOK" ] || { echo "SKIP: PHI3VK_DATA/tokenizer is absent"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read .npy/JSON"; exit 77; }
unset PHI3VK_MODEL PHI3VK_TOKENIZER
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
expect() { # expect NAME WANTED GOT
    if [ "$2" == "$3" ]; then ok "$1"; else bad "$1: wanted [$2] got [$3]"; fi
}
contains() { # contains NAME FILE TEXT: FILE contains TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: [$3] not in: $(head -c 600 "$2")"; fi
}
# run NAME WANTED_RC ARGS...: phi3vk ARGS with stdout in $W/out, stderr in $W/err;
# model runs get --validate and must not produce validation messages.
run() {
    local name=$1 want=$2; shift 2
    "$BIN" "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    [ "$rc" == "$want" ] || bad "$name: exit code $rc, wanted $want; stderr: $(head -c 600 "$W/err")"
    if grep -qi "validation" "$W/err"; then bad "$name: validation layer messages: $(grep -i -m3 validation "$W/err")"; fi
}
V=--validate
M=$W/model
"$BIN" synth "$M" --preset tiny --layers 1 --seed 7 >/dev/null || { echo "FAIL: synth"; exit 1; }
MT=(-m "$M" --tokenizer "$TOK" $V)
stop_ids=" 32000 32001 32007 "
# ends_with_stop "IDS": the last id is a stop id (generation may end early).
ends_with_stop() { local last=${1##* }; [[ "$stop_ids" == *" $last "* ]]; }

# --- generate: greedy
run "greedy" 0 generate "${MT[@]}" -p "Once upon a time" -n 12 --temp 0
cp "$W/out" "$W/greedy1"
run "greedy again" 0 generate "${MT[@]}" -p "Once upon a time" -n 12 --temp 0
if cmp -s "$W/out" "$W/greedy1" && [ -s "$W/out" ]; then ok "greedy is reproducible"; else
    bad "greedy differs: [$(cat "$W/greedy1")] vs [$(cat "$W/out")]"; fi
run "greedy --ids" 0 generate "${MT[@]}" -p "Once upon a time" -n 12 --temp 0 --ids
gids=$(cat "$W/out")
n=$(wc -w <<<"$gids")
if [ "$n" == 12 ] || { [ "$n" -lt 12 ] && ends_with_stop "$gids"; }; then ok "-n 12 gives 12 ids"; else
    bad "-n 12: got $n ids [$gids]"; fi
textids=$gids
ends_with_stop "$gids" && textids=${gids% *}
"$BIN" detokenize --tokenizer "$TOK" --keep-leading-space "$textids" >"$W/detok"
if cmp -s "$W/detok" "$W/greedy1"; then ok "streamed text == detokenized ids"; else
    bad "streamed text [$(cat "$W/greedy1")] != detokenize [$(cat "$W/detok")]"; fi

# --- generate: sampling
run "sampling" 0 generate "${MT[@]}" -p "Once upon a time" -n 9 --temp 0.8 --seed 42 --ids
s1=$(cat "$W/out")
run "sampling again" 0 generate "${MT[@]}" -p "Once upon a time" -n 9 --temp 0.8 --seed 42 --ids
expect "same --seed, same tokens" "$s1" "$(cat "$W/out")"
run "sampling -n 5" 0 generate "${MT[@]}" -p "Once upon a time" -n 5 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 \
    --repeat-penalty 1.3 --seed 1 --ids
n=$(wc -w <"$W/out")
if [ "$n" == 5 ] || { [ "$n" -lt 5 ] && ends_with_stop "$(cat "$W/out")"; }; then ok "sampling -n 5 gives 5 ids"; else
    bad "sampling -n 5: got $n ids [$(cat "$W/out")]"; fi
printf 'Tell me a story' >"$W/prompt.txt"
run "chat from stdin, -v" 0 generate "${MT[@]}" -f - --chat --system "Be brief." -n 4 --seed 3 -v <"$W/prompt.txt"
contains "-v prints prompt speed" "$W/err" "prompt: "
contains "-v prints generation speed" "$W/err" "tokens/s"
contains "-v prints device memory" "$W/err" "device memory: weights"
contains "-v prints the seed" "$W/err" "--seed 3"

# --- generate: context limits (prompt "Once upon a time" = BOS + 4 tokens)
run "--ctx 8" 0 generate "${MT[@]}" -p "Once upon a time" -n 50 --ctx 8 --temp 0 --ids
n=$(wc -w <"$W/out")
if [ "$n" == 4 ] || ends_with_stop "$(cat "$W/out")"; then ok "--ctx 8 allows 8 - 5 + 1 = 4 new tokens"; else
    bad "--ctx 8: got $n ids [$(cat "$W/out")]"; fi
expect "--ctx 8 is a prefix of the longer greedy run" "$(cut -d' ' -f1-"$n" <<<"$gids")" "$(cat "$W/out")"
contains "context full message" "$W/err" "context full"
run "prompt longer than --ctx" 1 generate "${MT[@]}" -p "Once upon a time" -n 5 --ctx 3
contains "prompt longer than --ctx: message" "$W/err" "more than --ctx 3"

# --- logits: .npy header, size, argmax vs generate
ids=$("$BIN" tokenize --tokenizer "$TOK" "Once upon a time")
run "logits --tokens" 0 logits -m "$M" $V --tokens "${ids// /,}" --out "$W/l.npy"
first=${gids%% *}
python3 - "$W/l.npy" "$(wc -w <<<"$ids")" "$first" <<'EOF' && ok "logits .npy: header, size, argmax == first greedy id" || bad "logits .npy check"
import ast, math, struct, sys
path, rows, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = open(path, "rb").read()
assert d[:8] == b"\x93NUMPY\x01\x00", d[:8]
hlen = struct.unpack("<H", d[8:10])[0]
assert (10 + hlen) % 64 == 0, "data not 64-byte aligned"
assert d[10 + hlen - 1:10 + hlen] == b"\n"
h = ast.literal_eval(d[10:10 + hlen].decode("latin1"))
assert h == {"descr": "<f4", "fortran_order": False, "shape": (rows, 32064)}, h
assert len(d) == 10 + hlen + rows * 32064 * 4, (len(d), rows)
last = struct.unpack("<32064f", d[len(d) - 32064 * 4:])
assert all(math.isfinite(x) for x in last)
am = max(range(32064), key=lambda i: last[i])
assert am == first, f"argmax {am} != first greedy id {first}"
EOF
run "logits -p" 0 logits -m "$M" --tokenizer "$TOK" $V -p "Once upon a time" --out "$W/l2.npy"
if cmp -s "$W/l.npy" "$W/l2.npy"; then ok "logits -p == logits --tokens of the same ids"; else bad "logits -p differs"; fi

# --- perplexity
for i in 1 2 3 4 5 6; do echo "The cat sat on the mat and looked at the bird outside the window."; done >"$W/text.txt"
run "perplexity" 0 perplexity "${MT[@]}" -f "$W/text.txt" --ctx 32
python3 -c '
import math, re, sys
m = re.fullmatch(r"perplexity: (\S+) \+/- (\S+)\n", open(sys.argv[1]).read())
assert m, "format"
p, e = float(m.group(1)), float(m.group(2))
assert math.isfinite(p) and p > 0 and math.isfinite(e) and e >= 0, (p, e)' "$W/out" && ok "perplexity: finite positive" ||
    bad "perplexity output: $(cat "$W/out")"
contains "perplexity running value" "$W/err" "[1/"
run "perplexity --json --stride" 0 perplexity "${MT[@]}" -f "$W/text.txt" --ctx 32 --stride 8 --json
python3 -c '
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["ctx"] == 32 and j["stride"] == 8, j
assert j["windows"] == (j["text_tokens"] - 32) // 8 + 1, j
assert j["tokens_scored"] == 8 * j["windows"], j
assert math.isfinite(j["perplexity"]) and j["perplexity"] > 0, j' "$W/out" && ok "perplexity --json" ||
    bad "perplexity --json: $(cat "$W/out")"
# One window over the whole text: the mean NLL of its second half from the .npy.
printf 'The cat sat on the mat and looked at the bird outside the window, then slept.' >"$W/short.txt"
ids=$("$BIN" tokenize --tokenizer "$TOK" - <"$W/short.txt")
n=$(wc -w <<<"$ids")
run "perplexity, one window" 0 perplexity "${MT[@]}" -f "$W/short.txt" --ctx "$n" --json
cp "$W/out" "$W/ppl.json"
run "logits of that window" 0 logits -m "$M" $V --tokens "${ids// /,}" --out "$W/w.npy"
python3 - "$W/w.npy" "$W/ppl.json" "$ids" <<'EOF' && ok "perplexity nll_mean == NLL from logits .npy" || bad "perplexity vs logits"
import json, math, struct, sys
d = open(sys.argv[1], "rb").read()
hlen = struct.unpack("<H", d[8:10])[0]
ids = [int(x) for x in sys.argv[3].split()]
n, V = len(ids), 32064
first = n // 2
nll = []
for r in range(first, n - 1):
    row = struct.unpack_from(f"<{V}f", d, 10 + hlen + r * V * 4)
    mx = max(row)
    nll.append(math.log(sum(math.exp(x - mx) for x in row)) + mx - row[ids[r + 1]])
mean = sum(nll) / len(nll)
j = json.load(open(sys.argv[2]))
assert j["tokens_scored"] == len(nll), (j, len(nll))
assert abs(j["nll_mean"] - mean) <= 1e-4 * max(1.0, abs(mean)), (j["nll_mean"], mean)
EOF
run "perplexity: text shorter than --ctx" 1 perplexity "${MT[@]}" -f "$W/short.txt" --ctx 512
contains "short text message" "$W/err" "fewer than one window"

# --- bad input
run "missing model" 1 generate -m "$W/no-such-model" --tokenizer "$TOK" -p hi
contains "missing model names the path" "$W/err" "$W/no-such-model"
run "model without tokenizer" 1 generate -m "$M" -p hi
contains "no tokenizer: what to do" "$W/err" "--tokenizer PATH"
run "-p and -f" 2 generate "${MT[@]}" -p hi -f "$W/text.txt"
contains "-p and -f message" "$W/err" "-p and -f"
run "--system without --chat" 2 generate "${MT[@]}" -p hi --system x
run "bad --temp" 2 generate "${MT[@]}" -p hi --temp hot
run "bad --tokens" 2 logits -m "$M" --tokens 1,2x,3 --out "$W/x.npy"
contains "bad --tokens names the item" "$W/err" "'2x'"
run "token outside the vocabulary" 1 logits -m "$M" $V --tokens 1,99999 --out "$W/x.npy"
contains "out-of-vocabulary id named" "$W/err" "99999"
[ ! -e "$W/x.npy" ] && ok "no .npy left after a failure" || bad "x.npy written despite the error"
run "perplexity without -f" 2 perplexity "${MT[@]}"
PHI3VK_MODEL=$M run "model from PHI3VK_MODEL" 0 generate --tokenizer "$TOK" $V -p "Once upon a time" -n 2 --temp 0 --ids
expect "PHI3VK_MODEL gives the same model" "$(cut -d' ' -f1-2 <<<"$gids")" "$(cat "$W/out")"
run "no model at all" 1 generate -p hi
contains "no model: what to do" "$W/err" "PHI3VK_MODEL"
run "generate --help" 0 generate --help
contains "--help names PHI3VK_MODEL" "$W/out" "PHI3VK_MODEL"
contains "--help gives the default temperature" "$W/out" "temperature 0.8"
run "perplexity --help" 0 perplexity --help
run "logits --help" 0 logits --help

if [ "$fails" -gt 0 ]; then echo "$fails failed"; exit 1; fi
echo "all passed"
