#!/usr/bin/env bash
# `phi3vk tokenize` / `phi3vk detokenize` with the real Phi-3 tokenizer files:
# ids (Hugging Face's, see tests/test_tokenizer.c), --pieces, --chat, --no-bos,
# stdin, decode round trip, tokenizer from the environment and from a GGUF,
# the errors for a missing tokenizer and bad ids, and a short --bench.
# Expected ids come from the npm package @huggingface/tokenizers 0.2.0 (encode with
# add_special_tokens false; for --special-as-text, with the special added tokens removed).
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_DATA = ../shared/data.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
[ -n "$DATA" ] && [ -d "$DATA/tokenizer" ] || { echo "SKIP: PHI3VK_DATA/tokenizer is absent"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
TOK=$DATA/tokenizer/phi3-mini-4k-instruct
GGUF=$DATA/tokenizer/ggml-vocab-phi-3.gguf
unset PHI3VK_TOKENIZER
. "$(dirname "$0")/lib/cli.sh"
expect_rc() { # expect_rc NAME WANTED_RC CMD...
    local name=$1 want=$2; shift 2
    "$@" >/dev/null 2>&1
    expect "$name (exit code)" "$want" "$?"
}

expect "ids" "1 15043 3186" "$("$BIN" tokenize --tokenizer "$TOK" "Hello world")"
expect "--no-bos" "15043 3186" "$("$BIN" tokenize --tokenizer "$TOK" --no-bos "Hello world")"
expect "folder or file" "1 15043 3186" "$("$BIN" tokenize --tokenizer "$TOK/tokenizer.json" "Hello world")"
expect "--chat" "1 32010 15043 32007 32001" "$("$BIN" tokenize --tokenizer "$TOK" --chat "Hello")"
expect "--chat 2024-04" "1 32010 29871 13 10994 32007 29871 13 32001 29871 13" \
    "$("$BIN" tokenize --tokenizer "$DATA/tokenizer/phi3-2024-04" --chat "Hello")"
expect "--chat from gguf" "1 32010 15043 32007 32001" "$("$BIN" tokenize --tokenizer "$GGUF" --chat "Hello")"
expect "env PHI3VK_TOKENIZER" "1 15043" "$(PHI3VK_TOKENIZER=$TOK "$BIN" tokenize "Hello")"
expect "--pieces" "$(printf '1\t<s>\n15043\t\xe2\x96\x81Hello\n13\t<0x0A>')" \
    "$("$BIN" tokenize --tokenizer "$TOK" --pieces $'Hello\n')"
expect "--pieces: raw, a backslash as itself" "$(printf '320\t\xe2\x96\x81\\')" \
    "$("$BIN" tokenize --tokenizer "$TOK" --pieces --no-bos '\')"
# a hostile vocabulary: pieces that would drive the terminal (ESC, a C1 CSI, invalid UTF-8) are escaped
HT=$(mktemp /tmp/cli_tokenize.XXXXXX.json)
printf '{"model":{"type":"BPE","vocab":{"a":0,"\u001b":1,"\u009b":2},"merges":[]}}' >"$HT"
expect "--pieces: terminal controls escaped" "$(printf '1\t\\x1b\n2\t\\u009b')" \
    "$("$BIN" tokenize --tokenizer "$HT" --pieces --no-bos "$(printf '\033\302\233')" 2>&1)"
rm -f "$HT"
expect "stdin" "1 15043" "$(printf 'Hello' | "$BIN" tokenize --tokenizer "$TOK" -)"
expect "special tokens" "1 32010 2" "$("$BIN" tokenize --tokenizer "$TOK" '<|user|> </s>')"
expect "--special-as-text" "1 529 29989 1792 29989 29958" \
    "$("$BIN" tokenize --tokenizer "$TOK" --special-as-text '<|user|>')"
expect "detokenize" "Hello world" "$("$BIN" detokenize --tokenizer "$TOK" 15043,3186)"
expect "detokenize specials" "<s><|user|> Hi there<|end|>" \
    "$("$BIN" detokenize --tokenizer "$TOK" 1 32010 "6324 727" 32007)"
expect "--skip-special" "Hi there" "$("$BIN" detokenize --tokenizer "$TOK" --skip-special 1,32010,6324,727,32007)"
text=$'Ünïcödé 🦙 and\ttabs  '
ids=$("$BIN" tokenize --tokenizer "$TOK" --no-bos "$text")
expect "round trip" "$text" "$("$BIN" detokenize --tokenizer "$TOK" "$ids")"

err=$("$BIN" tokenize "x" 2>&1)
expect "no tokenizer message" "1" "$(echo "$err" | grep -c -- '--tokenizer PATH.*PHI3VK_TOKENIZER')"
err=$("$BIN" tokenize --tokenizer /tmp "x" 2>&1)
expect "folder without tokenizer.json" "1" "$(echo "$err" | grep -c 'no tokenizer.json in this folder')"
expect_rc "no tokenizer" 1 "$BIN" tokenize "x"
expect_rc "missing TEXT" 2 "$BIN" tokenize --tokenizer "$TOK"
expect_rc "unknown option" 2 "$BIN" tokenize --tokenizer "$TOK" --frobnicate "x"
expect_rc "bad id" 2 "$BIN" detokenize --tokenizer "$TOK" 1 abc
expect_rc "id out of range" 1 "$BIN" detokenize --tokenizer "$TOK" 99999
expect "help names the env var" "1" "$("$BIN" tokenize --help | grep -c PHI3VK_TOKENIZER)"
expect_rc "detokenize --help" 0 "$BIN" detokenize --help

out=$("$BIN" tokenize --tokenizer "$TOK" --bench "$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv" --seconds 0.2)
expect "--bench prints MB/s" "1" "$(echo "$out" | grep -c 'MB/s CPU')"

finish
