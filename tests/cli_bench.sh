#!/usr/bin/env bash
# `phi3vk bench` end to end on the default Vulkan device (lavapipe in CI):
# a tiny synthetic run in every format (check pass, one row per test, the
# device's own runtime, progress on stderr only), --device by index, --help,
# and the usage errors (exit 2) and a bad device (exit 1).
# Env: PHI3VK_BIN = the phi3vk binary.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
"$BIN" devices >/dev/null 2>&1 || { echo "SKIP: no Vulkan device"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib/cli.sh"
RUN=("$BIN" bench --synthetic tiny -p 8 -n 2 -r 1 --device 0)

"${RUN[@]}" -o jsonl >"$TMP/out.jsonl" 2>"$TMP/err"
expect "jsonl exit code" 0 "$?"
expect "jsonl rows" 2 "$(wc -l <"$TMP/out.jsonl")"
expect "jsonl check" 2 "$(grep -c '"check":"pass"' "$TMP/out.jsonl")"
expect "jsonl tests" "pp8 tg2" "$(grep -o '"test":"[a-z0-9@]*"' "$TMP/out.jsonl" | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//')"
expect "progress on stderr" 1 "$(grep -c 'pp8 rep 1/1' "$TMP/err")"
"${RUN[@]}" -o csv -q >"$TMP/out.csv" 2>"$TMP/err"
expect "csv exit code" 0 "$?"
expect "csv lines" 3 "$(wc -l <"$TMP/out.csv")"
expect "csv header" "phi3vk_version,phi3vk_commit,date" "$(head -1 "$TMP/out.csv" | cut -d, -f1-3)"
expect "-q: no progress" 0 "$(wc -c <"$TMP/err")"
"${RUN[@]}" -o json -q >"$TMP/out.json" 2>/dev/null
expect "json parses" 2 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/out.json")"
"${RUN[@]}" -q >"$TMP/out.md" 2>/dev/null
expect "md result rows" 2 "$(grep -c '| f16 ([0-9.]* B/w) | \(pp8\|tg2\) |' "$TMP/out.md")"

"$BIN" bench --help >"$TMP/help"
expect "--help exit code" 0 "$?"
for flag in -m --synthetic --layers --seed -p -n -d -r -o --profile --device --validate --kernels --shape --samples; do
    expect "--help mentions $flag" 1 "$(grep -c -- "^  \(-[a-z], \)\?$flag\b" "$TMP/help" | sed 's/[2-9]/1/')"
done

# --kernels: given shapes, JSON lines, each checked against the C reference.
"$BIN" bench --kernels --shape 40x72x3 --shape 33x24x9 -r 2 --samples 3 -o jsonl >"$TMP/k.jsonl" 2>"$TMP/err"
expect "kernels exit code" 0 "$?"
expect "kernels rows" "matvec 40x72 t=3|matmul 33x24 t=9" \
    "$(python3 -c 'import json,sys; print("|".join(json.loads(l)["kernel"] for l in open(sys.argv[1])))' "$TMP/k.jsonl")"
expect "kernels: median within the samples, checked" "ok ok" "$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    ok = r["samples"] == 3 and r["reps"] == 2 and r["ms_min"] <= r["ms"] <= r["ms_max"] \
        and r["gbps_min"] <= r["gbps"] <= r["gbps_max"] and 0 <= r["check_nmse"] < 1e-8 \
        and all(isinstance(r[f], str) and r[f] for f in ("phi3vk_version", "phi3vk_commit", "date", "device_name",
                                                         "device_type", "driver_name", "driver_version"))
    print("ok" if ok else "bad: %r" % r)' "$TMP/k.jsonl" | tr '\n' ' ' | sed 's/ $//')"
"$BIN" bench --kernels --shape 40x72 -r 1 --samples 1 >"$TMP/k.md" 2>/dev/null
expect "kernels md row" 1 "$(grep -c '^| matvec 40x72 t=1 |' "$TMP/k.md")"

for s in 12 1x 0x3 4x4x0 1x2x3x x3 9999999x3; do
    expect "kernels --shape $s: usage error" 2 "$(rc "$BIN" bench --kernels --shape "$s")"
done
expect "kernels -o csv: usage error" 2 "$(rc "$BIN" bench --kernels -o csv)"
expect "kernels --samples 0: usage error" 2 "$(rc "$BIN" bench --kernels --samples 0)"
expect "kernels: too large for the device: error" 1 "$(rc "$BIN" bench --kernels --shape 1048576x1048576 -r 1 --samples 1)"
expect "no model: usage error" 2 "$(rc "$BIN" bench)"
expect "model and synthetic: usage error" 2 "$(rc "$BIN" bench -m x --synthetic tiny)"
expect "bad list: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -p 8,x)"
expect "bad format: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -o xml)"
expect "reps 0: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -r 0)"
expect "unknown flag: usage error" 2 "$(rc "$BIN" bench --synthetic tiny --frobnicate)"
expect "missing device: error" 1 "$(rc "$BIN" bench --synthetic tiny -p 8 -n 0 -r 1 --device 99)"
expect "missing model file: error" 1 "$(rc "$BIN" bench -m "$TMP/none" -p 8 -n 0 -r 1)"

finish
