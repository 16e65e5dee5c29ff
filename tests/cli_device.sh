#!/usr/bin/env bash
# Devices as a user meets them: device profiles, the kernel self-test and
# what a failing GPU does to a run, on lavapipe with the test hooks that plant
# a wrong kernel (PHI3VK_TEST_PLANT) or a device failure (PHI3VK_TEST_FAULT).
#   - `devices --check`: the subgroup probe and the self-test, for every
#     profile; an unknown profile is a usage error;
#   - a planted wrong matvec: the self-test finds it, says so in one line, the
#     portable kernel gives the clean run's output; without the self-test the
#     output is wrong (so the plant is real); verdicts are cached per device;
#   - wrong portable kernels too: the device is refused with a clear error;
#   - every device profile's kernels give the same greedy text;
#   - a device lost in the middle of `classify --out`: exit 1 naming the
#     device, the finished items kept; the rerun resumes and every id is there
#     once, with the labels of an uninterrupted run; out of memory names the
#     device too.
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_DATA = ../shared/data.
set -u
. "$(dirname "$0")/lib/cli.sh"
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
TOK=$DATA/tokenizer/phi3-2024-04/tokenizer.json
TSV=$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv
[ -n "$DATA" ] && [ -f "$TOK" ] && [ -f "$TSV" ] || { echo "SKIP: PHI3VK_DATA (tokenizer, toxicity data) is absent"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
unset PHI3VK_MODEL PHI3VK_TOKENIZER PHI3VK_DEVICE_PROFILE PHI3VK_TEST_PLANT PHI3VK_TEST_FAULT
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export PHI3VK_CACHE_DIR=$W/cache   # verdicts of this test only
has() { grep -qF -- "$2" "$1" && echo yes || echo "no: $(head -c 600 "$1")"; }

# --- devices --check
"$BIN" devices --check >"$W/out" 2>&1
expect "devices --check: exit 0" 0 $?
expect "devices --check: the probe line" yes "$(has "$W/out" "probe         gl_SubgroupSize")"
expect "devices --check: self-test passes" yes "$(has "$W/out" "self-test     pass with the cpu profile")"
for p in nvidia amd intel gpu; do
    "$BIN" devices --check --device-profile $p >"$W/out" 2>&1
    expect "devices --check --device-profile $p" yes "$(has "$W/out" "self-test     pass with the $p profile")"
done
"$BIN" devices --check --json >"$W/out" 2>&1
expect "devices --check --json: self_test and probe fields" ok "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))[0]["check"]
assert d["self_test"] == "pass" and d["fallbacks"] == "none" and d["subgroup_probe"]["lanes"] >= 1, d
print("ok")' "$W/out" 2>&1)"
expect "unknown device profile: usage error" 2 "$(rc "$BIN" generate -m x --device-profile bogus -p hi)"
"$BIN" devices --check --device-profile bogus >"$W/out" 2>&1
expect "devices: unknown device profile names the choices" yes "$(has "$W/out" "expected auto, cpu, nvidia, amd, intel or gpu")"

# --- a planted wrong kernel
M=$W/model
"$BIN" synth "$M" --preset tiny --layers 2 --seed 3 >/dev/null || { echo "FAIL: synth"; exit 1; }
GEN=(generate -m "$M" --tokenizer "$TOK" -p "The quick brown fox" -n 12 --temp 0 --ids)
"$BIN" "${GEN[@]}" >"$W/clean" 2>"$W/clean.err"
expect "clean run" 0 $?
PHI3VK_TEST_PLANT='matvec*' "$BIN" "${GEN[@]}" --no-self-test >"$W/wrong" 2>/dev/null
expect "the planted matvec is wrong (without the self-test the ids differ)" yes \
    "$(cmp -s "$W/clean" "$W/wrong" && echo "no: same ids" || echo yes)"
PHI3VK_TEST_PLANT='matvec*' "$BIN" "${GEN[@]}" >"$W/fixed" 2>"$W/fixed.err"
expect "planted matvec: exit 0" 0 $?
expect "planted matvec: one warning naming the kernel" yes "$(has "$W/fixed.err" "the matvec kernel failed the self-test")"
expect "planted matvec: the portable kernel gives the clean ids" "$(cat "$W/clean")" "$(cat "$W/fixed")"
ls "$PHI3VK_CACHE_DIR"/selftest-*-cpu-*.txt >/dev/null 2>&1
expect "verdicts are kept in the cache folder" 0 $?
PHI3VK_TEST_PLANT='matvec*,matmul' "$BIN" "${GEN[@]}" >"$W/out" 2>"$W/err"
expect "wrong portable kernels too: refused (exit 1)" 1 $?
expect "refusal says why" yes "$(has "$W/err" "fails phi3vk's self-test with its own kernels")"
PHI3VK_TEST_PLANT='attention*' "$BIN" "${GEN[@]}" --device-profile nvidia >"$W/fixed" 2>"$W/fixed.err"
expect "planted GPU attention: the portable kernel gives the clean ids" "$(cat "$W/clean")" "$(cat "$W/fixed")"
expect "planted GPU attention: warning" yes "$(has "$W/fixed.err" "the attention kernel failed the self-test")"

# --- every profile's kernels give the same greedy ids
for p in nvidia amd intel gpu; do
    "$BIN" "${GEN[@]}" --device-profile $p >"$W/out" 2>"$W/err"
    expect "--device-profile $p: same greedy ids" "$(cat "$W/clean")" "$(cat "$W/out")"
done

# --- a device lost mid-run, and the resume
CL=(classify -m "$M" --tokenizer "$TOK" -f "$TSV" --limit 12 --batch 1 --jsonl)
"$BIN" "${CL[@]}" >"$W/full.jsonl" 2>"$W/err"
expect "uninterrupted classify" 0 $?
# the model's self-test verdict is cached by now, so every submission is the run's
PHI3VK_TEST_FAULT=device-lost@5 "$BIN" "${CL[@]}" --out "$W/res.jsonl" >/dev/null 2>"$W/lost.err"
expect "device lost: exit 1" 1 $?
expect "device lost: the message names the device and says lost" yes "$(has "$W/lost.err" "device lost: llvmpipe")"
done_before=$(wc -l <"$W/res.jsonl")
expect "device lost: some items were finished and kept" yes "$([ "$done_before" -ge 1 ] && [ "$done_before" -lt 12 ] && echo yes || echo "no: $done_before lines")"
"$BIN" "${CL[@]}" --out "$W/res.jsonl" >/dev/null 2>"$W/err"
expect "resume after the lost device: exit 0" 0 $?
expect "resume: every id once, labels as the uninterrupted run" ok "$(python3 -c '
import json, sys
full = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
res = [r for r in map(json.loads, open(sys.argv[2])) if "provenance" not in r]
ids = [r["id"] for r in res]
assert sorted(ids) == sorted(full) and len(set(ids)) == len(ids), ids
for r in res:
    assert r["label"] == full[r["id"]]["label"] and abs(r["p_toxic"] - full[r["id"]]["p_toxic"]) <= 1e-3, r
print("ok")' "$W/full.jsonl" "$W/res.jsonl" 2>&1)"
PHI3VK_TEST_FAULT=oom@3 "$BIN" "${GEN[@]}" >/dev/null 2>"$W/err"
expect "out of memory at run time: exit 1" 1 $?
expect "out of memory names the device" yes "$(has "$W/err" "out of device memory on llvmpipe")"
finish
