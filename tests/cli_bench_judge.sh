#!/usr/bin/env bash
# `phi3vk bench --judge` on a tiny random-weight checkpoint (phi3vk synth, 1
# layer, the real vocabulary) with the real April-2024 tokenizer and the
# shared Davidson set, under the Vulkan validation layer:
#   - label-only at --batch 2 and --reason at --batch 3 give, item by item,
#     the labels `phi3vk classify` gives on the same items with the same
#     options (judge_labels against classify --jsonl);
#   - the row: kind judge, items, batch, mode, prompt, the item set's hash,
#     items/s and prompt tokens/s that match the counted tokens, per-item
#     p50 <= p90 <= p99, TTFT, TPOT with --reason only, both checks pass;
#   - bench-compare of two judge runs: the labels agree on every item;
#   - usage errors: no -f, --out, a bad -o; a missing model.
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_DATA = ../shared/data.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
TOK=$DATA/tokenizer/phi3-2024-04/tokenizer.json
TSV=$DATA/toxicity/davidson_labeled_data.binary.tsv
[ -n "$DATA" ] && [ -f "$TOK" ] && [ -f "$TSV" ] || { echo "SKIP: PHI3VK_DATA (tokenizer, Davidson set) is absent"; exit 77; }
"$BIN" devices >/dev/null 2>&1 || { echo "SKIP: no Vulkan device"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib/cli.sh"
unset PHI3VK_MODEL PHI3VK_TEST_PLANT
M=$TMP/model
"$BIN" synth "$M" --preset tiny --layers 1 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
MT=(-m "$M" --tokenizer "$TOK" --validate -f "$TSV" --limit 10)

labels() { # labels FILE: classify --jsonl's labels as judge_labels letters
    python3 -c 'import json,sys; print("".join({"toxic":"t","non-toxic":"n","unparsable":"u"}.get(json.loads(l)["label"],"e") for l in open(sys.argv[1])))' "$1"
}
field() { # field FILE NAME: a field of the first JSON line
    python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"
}

"$BIN" bench --judge "${MT[@]}" --batch 2 -r 2 -o jsonl >"$TMP/j.jsonl" 2>"$TMP/err"
expect "label-only: exit code" 0 "$?"
expect "label-only: no validation messages" 0 "$(grep -ci validation "$TMP/err")"
"$BIN" classify "${MT[@]}" --batch 2 --jsonl >"$TMP/c.jsonl" 2>/dev/null
expect "label-only: the labels classify gives" "$(labels "$TMP/c.jsonl")" "$(field "$TMP/j.jsonl" judge_labels)"
expect "label-only: the row" "ok" "$(python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
c = [json.loads(l) for l in open(sys.argv[2])]
tokens = sum(x["prompt_tokens"] for x in c)
bad = [k for k, ok in [
    ("kind", r["kind"] == "judge"), ("test", r["test"] == "judge@b2"), ("items", r["judge_items"] == 10),
    ("batch", r["judge_batch"] == 2 and r["n_parallel"] == 2), ("mode", r["judge_mode"] == "label"),
    ("prompt", r["judge_prompt"] == "judge-card"), ("sha", len(r["judge_dataset_sha256"]) == 64),
    ("tokens", abs(r["prompt_tokens_per_item"] - tokens / 10) < 1e-6),
    ("t/s", all(abs(ts * ns / 1e9 - tokens) < 1e-3 * tokens for ts, ns in zip(r["samples_ts"], r["samples_ns"]))),
    ("items/s", abs(r["items_per_s"] - sum(10e9 / ns for ns in r["samples_ns"]) / 2) < 1e-3 * r["items_per_s"]),
    ("latency", 0 < r["p50_ns"] <= r["p90_ns"] <= r["p99_ns"] <= max(r["samples_ns"])),
    ("ttft", 0 < r["ttft_p50_ns"] <= r["p50_ns"]), ("tpot", r["tpot_p50_ns"] is None),
    ("checks", r["check"] == "pass" and r["model_check"] == "pass"), ("schema", r["schema_version"] == 1)] if not ok]
print("ok" if not bad else bad)' "$TMP/j.jsonl" "$TMP/c.jsonl")"

"$BIN" bench --judge "${MT[@]}" --limit 6 --batch 3 --reason -n 6 -q --no-model-check -o jsonl >"$TMP/r.jsonl" 2>"$TMP/err"
expect "--reason: exit code" 0 "$?"
"$BIN" classify "${MT[@]}" --limit 6 --batch 3 --reason -n 6 --jsonl >"$TMP/rc.jsonl" 2>/dev/null
expect "--reason: the labels classify gives" "$(labels "$TMP/rc.jsonl")" "$(field "$TMP/r.jsonl" judge_labels)"
expect "--reason: the row" "judge+reason@b3 reason 6 skipped" "$(python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["tpot_p50_ns"] > 0 and r["ttft_p50_ns"] > 0
print(r["test"], r["judge_mode"], r["generated_tokens_per_item"], r["model_check"])' "$TMP/r.jsonl")"

"$BIN" bench --judge "${MT[@]}" --batch 2 -q --no-model-check -o json >"$TMP/j2.json" 2>/dev/null
"$BIN" bench-compare "$TMP/j.jsonl" "$TMP/j2.json" >"$TMP/cmp.md"
expect "compare: labels agree" 1 "$(grep -c '^| judge | judge@b2 | .*labels agree 10/10 |' "$TMP/cmp.md")"

expect "no -f: usage error" 2 "$(rc "$BIN" bench --judge -m "$M" --tokenizer "$TOK")"
expect "--out: usage error" 2 "$(rc "$BIN" bench --judge "${MT[@]}" --out "$TMP/o.jsonl")"
expect "bad -o: usage error" 2 "$(rc "$BIN" bench --judge "${MT[@]}" -o xml)"
expect "-r 0: usage error" 2 "$(rc "$BIN" bench --judge "${MT[@]}" -r 0)"
expect "missing model: error" 1 "$(rc "$BIN" bench --judge -m "$TMP/none" --tokenizer "$TOK" -f "$TSV")"
finish
