#!/usr/bin/env bash
# The same conventions in every command (README "The same conventions in every
# command"), on a tiny random-weight model with the real Phi-3 tokenizer:
#   - `phi3vk help [COMMAND]` and `phi3vk version`;
#   - usage errors exit 2 in every command (with a message), other errors 1;
#   - repo ids owner/name[@rev] for every -m and --tokenizer (and inspect /
#     convert paths), from a Hugging Face cache laid out here; the judge's
#     base-model tokenizer found from the cache; a missing repo names
#     `phi3vk pull`;
#   - '-' is standard output (logits, convert, synth --gguf); bench -o is a format;
#   - -q leaves stderr empty; llama.cpp's -c, -s, -ngl, -t;
#   - convert and synth refuse to overwrite without --force; synth --tokenizer;
#   - a missing Vulkan driver names the package to install.
# Env: PHI3VK_BIN, PHI3VK_DATA, PHI3VK_SRC.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
SRC=${PHI3VK_SRC:?set PHI3VK_SRC to the source tree}
TOK=${PHI3VK_DATA:-/nonexistent}/tokenizer/phi3-mini-4k-instruct
[ -f "$TOK/tokenizer.json" ] || { echo "SKIP: $TOK/tokenizer.json is absent (PHI3VK_DATA)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
. "$SRC/tests/lib/cli.sh"
unset PHI3VK_MODEL PHI3VK_TOKENIZER HF_HOME HF_HUB_CACHE HF_HUB_OFFLINE HF_ENDPOINT HF_TOKEN
W=$(mktemp -d /tmp/cli_conventions.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HF_HUB_CACHE=$W/hub
# run NAME WANT ARGS...: the exit status; stdout in $W/out, stderr in $W/err
run() {
    local name=$1 want=$2
    shift 2
    "$BIN" "$@" >"$W/out" 2>"$W/err"
    expect "$name: exit" "$want" "$?"
}
has() { # has NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then expect "$1" 1 1; else expect "$1" "[$3] in $2" "$(head -c 600 "$2")"; fi
}
hasnt() { # hasnt NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then expect "$1" "no [$3]" "$(head -c 600 "$2")"; else expect "$1" 1 1; fi
}

S=(--hidden 64 --intermediate 128 --layers 1 --heads 4 --vocab 32064)
M=$W/m
"$BIN" synth "$M" "${S[@]}" --tokenizer "$TOK" -q || { echo "FAIL: synth"; exit 1; }

# --- help and version
run "help" 0 help
for c in devices pull inspect convert synth tokenize detokenize generate perplexity logits classify eval bench help version; do
    has "help lists $c" "$W/out" "  $c "
done
for c in devices pull inspect convert synth tokenize detokenize generate perplexity logits classify eval bench; do
    "$BIN" "$c" --help >"$W/a" 2>&1
    run "help $c" 0 help "$c"
    expect "help $c == $c --help" "$(cat "$W/a")" "$(cat "$W/out")"
done
run "help of an unknown command" 2 help frobnicate
has "help: unknown command named" "$W/err" "unknown command 'frobnicate'"
run "version" 0 version
"$BIN" --version >"$W/a" 2>&1
expect "version == --version" "$(cat "$W/a")" "$(cat "$W/out")"
expect "version format" 1 "$(grep -cE '^phi3vk [0-9]+\.[0-9]+\.[0-9]+ \(' "$W/out")"
run "unknown command" 2 frobnicate

# --- usage errors: exit 2 with a message, in every command
usage() { # usage ARGS...
    "$BIN" "$@" >/dev/null 2>"$W/err"
    local rc=$?
    expect "usage error exits 2: $*" 2 "$rc"
    [ -s "$W/err" ] || expect "usage error says why: $*" "a message" "nothing on stderr"
}
usage classify --prompt bogus "a text"
usage classify --threshold 2 "a text"
usage classify --threshold 0.3 --reason "a text"
usage classify --keep-cols label -f "$W/x.tsv"
usage classify --output-format xml "a text"
usage classify --csv --tsv "a text"
usage classify --out - --csv "a text"
usage classify --batch 0 "a text"
usage classify -q -v "a text"
usage eval
usage eval -f "$W/x.tsv" --out -
usage eval -f "$W/x.tsv" --plot -
usage eval -f "$W/x.tsv" --digits 99
usage generate -m "$M"
usage generate -m "$M" -p hi --temp hot
usage generate -m "$M" -p hi -c many
usage generate -m "$M" -p hi -ngl
usage perplexity -m "$M"
usage logits -m "$M" --tokens 1,2
usage logits -m "$M" --tokens 1,x --out "$W/l.npy"
usage bench --synthetic phi3
usage bench -o yaml --synthetic tiny
usage bench --kernels --shape 12
usage convert "$M"
usage synth "$W/s" --shards 99
usage synth "$W/s" --heads 3
usage synth -
usage tokenize --tokenizer "$TOK"
usage tokenize --frob x
usage detokenize --tokenizer "$TOK"
usage inspect
usage inspect "$M" --tokenizer
usage pull
usage pull a/b --retries many
usage devices --frob
expect "bench --synthetic phi3 names the option, not synth:" 1 \
    "$("$BIN" bench --synthetic phi3 2>&1 | grep -c '^phi3vk bench: --synthetic: expected phi3-mini or tiny')"

# --- repo ids everywhere, from a cache laid out as huggingface_hub does
SHA=0123456789abcdef0123456789abcdef01234567
SHA2=89abcdef0123456789abcdef0123456789abcdef
mkrepo() { # mkrepo OWNER NAME SHA FOLDER: snapshot = a copy of FOLDER, refs/main
    local d=$HF_HUB_CACHE/models--$1--$2
    mkdir -p "$d/snapshots" "$d/refs"
    cp -r "$4" "$d/snapshots/$3"
    printf '%s' "$3" >"$d/refs/main"
}
mkrepo phi3vk-test tiny "$SHA" "$M"
"$BIN" synth "$W/judge" "${S[@]}" -q
mkrepo grounded-ai phi3-toxicity-judge-merge "$SHA" "$W/judge"
mkdir -p "$W/base" && cp "$TOK"/tokenizer*.json "$W/base/"
mkrepo microsoft Phi-3-mini-4k-instruct "$SHA2" "$W/base"
JUDGE_SNAP=$HF_HUB_CACHE/models--grounded-ai--phi3-toxicity-judge-merge/snapshots/$SHA

run "generate -m REPO" 0 generate -m phi3vk-test/tiny -p "Hello" -n 3 --temp 0 -q
cp "$W/out" "$W/gen-path"
"$BIN" generate -m "$M" -p "Hello" -n 3 --temp 0 -q >"$W/gen-dir" 2>/dev/null
expect "generate -m REPO == -m FOLDER" "$(cat "$W/gen-dir")" "$(cat "$W/gen-path")"
run "generate -m REPO@SHA" 0 generate -m "phi3vk-test/tiny@$SHA" -p "Hello" -n 3 --temp 0 -q
run "generate --tokenizer REPO" 0 generate -m "$W/judge" --tokenizer microsoft/Phi-3-mini-4k-instruct -p Hi -n 2 -q
run "generate -m judge REPO: its base model's tokenizer from the cache" 0 generate -m grounded-ai/phi3-toxicity-judge-merge -p Hi -n 2 -q
run "generate -m judge snapshot folder: the same" 0 generate -m "$JUDGE_SNAP" -p Hi -n 2 -q
run "perplexity -m REPO" 0 perplexity -m phi3vk-test/tiny -f "$TOK/tokenizer_config.json" --ctx 64 -q
run "logits -m REPO" 0 logits -m phi3vk-test/tiny --tokens 1,2,3 --out "$W/r.npy" -q
run "bench -m REPO" 0 bench -m phi3vk-test/tiny -p 8 -n 2 -r 1 -q
run "inspect REPO" 0 inspect phi3vk-test/tiny --no-tensors
has "inspect REPO: the config" "$W/out" "hidden 64, intermediate 128, layers 1"
run "inspect judge REPO: the base tokenizer" 0 inspect grounded-ai/phi3-toxicity-judge-merge --no-tensors
has "inspect judge: tokenizer from the base model's snapshot" "$W/out" "models--microsoft--Phi-3-mini-4k-instruct/snapshots/$SHA2"
run "tokenize --tokenizer REPO" 0 tokenize --tokenizer microsoft/Phi-3-mini-4k-instruct "Hello world"
expect "tokenize --tokenizer REPO ids" "1 15043 3186" "$(cat "$W/out")"
run "detokenize --tokenizer REPO" 0 detokenize --tokenizer microsoft/Phi-3-mini-4k-instruct 15043 3186
expect "detokenize --tokenizer REPO text" "Hello world" "$(cat "$W/out")"
run "convert REPO (the judge: base tokenizer found as classify finds it)" 0 convert grounded-ai/phi3-toxicity-judge-merge "$W/j.gguf"
has "convert: the base tokenizer named" "$W/err" "models--microsoft--Phi-3-mini-4k-instruct"
run "inspect the converted judge" 0 inspect "$W/j.gguf" --no-tensors
has "convert keeps every stop id (32001 too)" "$W/out" "stop ids: 32000 32001 32007"
has "convert writes them under phi3vk.stop_token_ids" "$W/out" "phi3vk.stop_token_ids: array of 3 uint32"
run "convert the judge's snapshot folder" 0 convert "$JUDGE_SNAP" "$W/j2.gguf"
cmp -s "$W/j.gguf" "$W/j2.gguf" && expect "convert REPO == convert snapshot folder" 1 1 || expect "convert REPO == convert snapshot folder" same differ
run "a missing repo" 1 generate -m nobody/nothing -p hi
has "a missing repo names phi3vk pull" "$W/err" "phi3vk pull nobody/nothing"
run "a missing --tokenizer repo" 1 tokenize --tokenizer nobody/nothing hi
has "a missing tokenizer repo names phi3vk pull" "$W/err" "phi3vk pull nobody/nothing"
mv "$HF_HUB_CACHE/models--microsoft--Phi-3-mini-4k-instruct" "$W/away"
run "the judge without its base tokenizer in the cache" 1 convert grounded-ai/phi3-toxicity-judge-merge "$W/j3.gguf"
has "says which pull fetches the tokenizer" "$W/err" "phi3vk pull microsoft/Phi-3-mini-4k-instruct --include tokenizer.json"
mv "$W/away" "$HF_HUB_CACHE/models--microsoft--Phi-3-mini-4k-instruct"
run "not a path and not a repo id" 1 generate -m "$W/nothing" -p hi
has "names the path" "$W/err" "-m $W/nothing: no such file or folder"

# --- '-' is standard output
"$BIN" logits -m "$M" --tokens 1,2,3 --out "$W/f.npy" -q
run "logits --out -" 0 logits -m "$M" --tokens 1,2,3 --out - -q
cmp -s "$W/out" "$W/f.npy" && expect "logits --out - == the file" 1 1 || expect "logits --out - == the file" same differ
run "convert OUT -" 0 convert grounded-ai/phi3-toxicity-judge-merge - -q
cmp -s "$W/out" "$W/j.gguf" && expect "convert - == the file" 1 1 || expect "convert - == the file" same differ
expect "convert -: stderr quiet with -q" "" "$(cat "$W/err")"
"$BIN" synth "$W/s.gguf" "${S[@]}" --gguf -q
run "synth --gguf -" 0 synth - "${S[@]}" --gguf -q
cmp -s "$W/out" "$W/s.gguf" && expect "synth --gguf - == the file" 1 1 || expect "synth --gguf - == the file" same differ
[ -e "$W/-" ] || [ -e "./-" ] && expect "no file named '-'" absent present
"$BIN" bench --help >"$W/out"
has "bench -o is the format, as in llama-bench" "$W/out" "the format, as in llama-bench"

# --- -q and llama.cpp habits
run "generate -q: nothing on stderr" 0 generate -m "$M" -p Hello -n 2 --temp 0 -q
expect "generate -q stderr" "" "$(cat "$W/err")"
run "generate with -ngl and -t" 0 generate -m "$M" -p Hello -n 2 --temp 0 -ngl 99 -t 8
has "-ngl: a note" "$W/err" "-ngl (GPU layers) is accepted for llama.cpp habits and ignored"
run "-ngl and -t with -q: no notes" 0 generate -m "$M" -p Hello -n 2 --temp 0 -ngl 99 -t 8 -q
expect "-q silences the notes" "" "$(cat "$W/err")"
# -t N: the threads that convert the weights while loading (-t -1, llama.cpp's default: one per processor)
run "generate -t 3 -v" 0 generate -m "$M" -p Hello -n 2 --temp 0 -t 3 -v
has "-t 3: the weights load on 3 threads" "$W/err" "3 threads)"
run "generate --threads 1 -v" 0 generate -m "$M" -p Hello -n 2 --temp 0 --threads 1 -v
has "--threads 1: one thread" "$W/err" "1 thread)"
"$BIN" generate -m "$M" -p Hello -n 6 --temp 0 -t 1 -q >"$W/a" 2>&1
run "-t does not change the output" 0 generate -m "$M" -p Hello -n 6 --temp 0 -t 5 -q
expect "-t 5 == -t 1" "$(cat "$W/a")" "$(cat "$W/out")"
run "-t -1 is the default" 0 generate -m "$M" -p Hello -n 2 --temp 0 -t -1 -q
run "-t x: a usage error" 2 generate -m "$M" -p Hello -t x
run "bench -ngl -t" 0 bench --synthetic tiny --layers 1 -p 8 -n 2 -r 1 -ngl 99 -t 4
has "bench -ngl: a note" "$W/err" "-ngl (GPU layers)"
run "bench -t x: a usage error" 2 bench --synthetic tiny --layers 1 -p 8 -n 2 -r 1 -t x
run "-c is --ctx" 1 generate -m "$M" -p "one two three four five six seven eight nine ten" -c 4 -q
has "-c: the context is 4" "$W/err" "more than --ctx 4"
"$BIN" generate -m "$M" -p Hello -n 6 --temp 0.9 --seed 7 -q >"$W/a" 2>&1
run "-s is --seed" 0 generate -m "$M" -p Hello -n 6 --temp 0.9 -s 7 -q
expect "-s 7 == --seed 7" "$(cat "$W/a")" "$(cat "$W/out")"
run "--temp 0 (greedy)" 0 generate -m "$M" -p Hello -n 4 --temp 0 --ids -q
run "perplexity -q: no per-window lines" 0 perplexity -m "$M" -f "$TOK/tokenizer_config.json" --ctx 64 -q
expect "perplexity -q stderr" "" "$(cat "$W/err")"
has "perplexity -q still prints the result" "$W/out" "perplexity: "

# --- no overwriting without --force; synth --tokenizer
run "synth over an existing folder" 1 synth "$M" "${S[@]}"
has "synth: says --force" "$W/err" "pass --force to overwrite it"
run "synth --force" 0 synth "$M" "${S[@]}" --seed 3 --force -q
run "convert over an existing file" 1 convert "$M" "$W/j.gguf"
has "convert: says --force" "$W/err" "pass --force to overwrite it"
run "convert --force" 0 convert "$M" "$W/j.gguf" --force -q
"$BIN" synth "$W/sh" "${S[@]}" --shards 3 -q
run "synth --force over a sharded checkpoint" 0 synth "$W/sh" "${S[@]}" --force -q
expect "no stale shards or index left" "0" "$(ls "$W/sh" | grep -c -- '-of-\|index')"
run "a loadable checkpoint after --force" 0 inspect "$W/sh" --no-tensors
expect "synth --tokenizer: the files copied" "$(cat "$TOK/tokenizer.json" | sha256sum)" "$(cat "$M/tokenizer.json" | sha256sum)"
run "synth --tokenizer: the tokenizer is the model's" 0 inspect "$M" --no-tensors
has "synth --tokenizer: inspect finds it" "$W/out" "tokenizer: tokenizer.json from $M"
run "synth --gguf --tokenizer" 0 synth "$W/t.gguf" "${S[@]}" --gguf --tokenizer "$TOK" -q
run "the GGUF's own tokenizer" 0 tokenize --tokenizer "$W/t.gguf" "Hello world"
expect "the GGUF's tokenizer tokenizes as tokenizer.json" "1 15043 3186" "$(cat "$W/out")"
run "synth --tokenizer a GGUF vocabulary into a folder" 1 synth "$W/v" "${S[@]}" --tokenizer "$W/t.gguf"
has "says to use --gguf" "$W/err" "cannot be written as tokenizer.json"

# --- no Vulkan driver: which package to install
export VK_ICD_FILENAMES=$W/none.json VK_DRIVER_FILES=$W/none.json
run "devices without a driver" 1 devices
has "devices: names the package" "$W/err" "mesa-vulkan-drivers"
run "generate without a driver" 1 generate -m "$M" -p hi
has "generate: names the package" "$W/err" "mesa-vulkan-drivers"
hasnt "no raw file:line error" "$W/err" "ctx.c:"
unset VK_ICD_FILENAMES VK_DRIVER_FILES
finish
