#!/usr/bin/env bash
# `phi3vk bench` end to end on the default Vulkan device (lavapipe in CI):
# a tiny synthetic run in every format (check pass, one row per test, the
# device's own runtime, progress on stderr only), --device by index, --help,
# -pg / --parallel / -b / --no-model-check, the model check failing on a
# planted wrong kernel (and passing once the self-test swaps it out),
# bench --kernels in every format, bench-compare and --plot on files bench
# wrote, and the usage errors (exit 2) and bad devices / files (exit 1).
# Env: PHI3VK_BIN = the phi3vk binary.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
"$BIN" devices >/dev/null 2>&1 || { echo "SKIP: no Vulkan device"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib/cli.sh"
unset PHI3VK_TEST_PLANT PHI3VK_DEVICE_PROFILE
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
expect "csv header" "schema_version,kind,phi3vk_version,phi3vk_commit,date" "$(head -1 "$TMP/out.csv" | cut -d, -f1-5)"
expect "-q: no progress" 0 "$(wc -c <"$TMP/err")"
"${RUN[@]}" -o json -q >"$TMP/out.json" 2>/dev/null
expect "json parses" 2 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/out.json")"
"${RUN[@]}" -q >"$TMP/out.md" 2>/dev/null
expect "md result rows" 2 "$(grep -c '| f16 ([0-9.]* B/w) | \(pp8\|tg2\) | [0-9.]* ± ' "$TMP/out.md")"
expect "md: both checks in the device table" 1 "$(grep -c '| pass (nmse [0-9.e+-]*) | pass (nmse [0-9.e+-]*, 13/13 agree) |' "$TMP/out.md")"
expect "jsonl: schema, host, ns, latency" "ok ok" "$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    ok = r["schema_version"] == 1 and r["host_cores"] >= 1 and r["host_os"] and r["compiler"] and r["vulkan_loader"] \
        and r["samples_ns"] == [r["avg_ns"]] and r["p50_ns"] == r["avg_ns"] and r["ttft_p50_ns"] > 0 \
        and r["model_check"] == "pass" and r["model_check_positions"] == 13 and r["model_check_nmse"] < 1e-3 \
        and (r["tpot_p50_ns"] > 0 if r["n_gen"] else r["tpot_p50_ns"] is None)
    print("ok" if ok else "bad: %r" % r)' "$TMP/out.jsonl" | tr '\n' ' ' | sed 's/ $//')"

# -pg, --parallel, -b, --no-model-check
"$BIN" bench --synthetic tiny -p 8 -n 3 -pg 6,2 --parallel 2 -b 4 -d 0,4 -r 2 --no-model-check -o jsonl -q >"$TMP/par.jsonl" 2>"$TMP/err"
expect "pg/parallel exit code" 0 "$?"
expect "pg/parallel tests" "pp8@p2 tg3@p2 pp6+tg2@p2 pp8@d4@p2 tg3@d4@p2 pp6+tg2@d4@p2" \
    "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["test"] for l in open(sys.argv[1])))' "$TMP/par.jsonl")"
expect "pg/parallel: tokens counted for every sequence" "ok" "$(python3 -c '
import json, sys
bad = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    for ts, ns in zip(r["samples_ts"], r["samples_ns"]):
        want = r["n_parallel"] * (r["n_prompt"] + r["n_gen"])
        if abs(ts * ns / 1e9 - want) > 1e-3 * want: bad.append(r["test"])
    if r["n_batch"] != 4 or r["model_check"] != "skipped" or "--no-model-check" not in r["model_check_message"]:
        bad.append(r["test"] + " fields")
print("ok" if not bad else bad)' "$TMP/par.jsonl")"

# a planted wrong kernel: the model check fails (exit 1); the self-test swaps it out and the check passes
PHI3VK_TEST_PLANT='matmul*' "$BIN" bench --synthetic tiny -p 8 -n 0 -r 1 --no-self-test -o jsonl -q >"$TMP/plant.jsonl" 2>"$TMP/err"
expect "planted matmul: exit 1" 1 "$?"
expect "planted matmul: model check fails" "fail fail" "$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["check"], r["model_check"])' "$TMP/plant.jsonl")"
expect "planted matmul: said on stderr" 1 "$(grep -c 'check FAILED' "$TMP/err")"
PHI3VK_TEST_PLANT='matvec*' PHI3VK_CACHE_DIR="$TMP/cache" "$BIN" bench --synthetic tiny -p 8 -n 2 -r 1 -o jsonl -q >"$TMP/plant.jsonl" 2>/dev/null
expect "planted matvec, self-test: exit 0" 0 "$?"
expect "planted matvec, self-test: portable kernel, checks pass" "pass pass matvec" "$(python3 -c '
import json, sys; r = json.loads(open(sys.argv[1]).readline()); print(r["check"], r["model_check"], r["kernel_fallbacks"])' "$TMP/plant.jsonl")"

# --weights: the weight types and bytes per weight in every format, the model check against the same blocks
"$BIN" bench --synthetic tiny --weights q4_0 -p 8 -n 0 -r 1 -o jsonl -q >"$TMP/q.jsonl" 2>/dev/null
expect "--weights q4_0: exit 0, types, B/w, model check" "0 ok" "$? $(python3 -c '
import json, sys; r = json.loads(open(sys.argv[1]).readline())
ok = r["model_type"].startswith("q4_0 ") and abs(r["model_bytes_per_weight"] - r["model_bytes"] / r["model_params"]) < 1e-4 \
    and 0.5 < r["model_bytes_per_weight"] < 1.2 and r["model_check"] == "pass" and r["model_check_nmse"] < 1e-5
print("ok" if ok else r)' "$TMP/q.jsonl")"
"$BIN" bench --synthetic tiny --weights q4_0 -p 8 -n 0 -r 1 --no-model-check -o csv -q >"$TMP/q.csv" 2>/dev/null
expect "--weights q4_0: csv fields" "model_type=q4_0 52%, q8_0 48% model_bytes_per_weight=0.865008" "$(python3 -c '
import csv, sys; r = next(csv.DictReader(open(sys.argv[1])))
print("model_type=%s model_bytes_per_weight=%s" % (r["model_type"], r["model_bytes_per_weight"]))' "$TMP/q.csv")"
"$BIN" bench --synthetic tiny --weights q4_0 -p 8 -n 0 -r 1 --no-model-check -o json -q >"$TMP/q.json" 2>/dev/null
expect "--weights q4_0: json" "0.865008" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["model_bytes_per_weight"])' "$TMP/q.json")"
"$BIN" bench --synthetic tiny --weights q4_0 -p 8 -n 0 -r 1 --no-model-check -q >"$TMP/q.md" 2>/dev/null
expect "--weights q4_0: md type column" 1 "$(grep -c '| q4_0 52%, q8_0 48% (0.87 B/w) | pp8 |' "$TMP/q.md")"

"$BIN" bench --help >"$TMP/help"
expect "--help exit code" 0 "$?"
for flag in -m --synthetic --layers --seed --weights -p -n -pg -d --parallel -b -r --no-model-check -o --profile --device --validate --judge --kernels --shape --samples; do
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
expect "kernel and model rows open with the same fields" "ok" "$(python3 -c '
import json, sys
k = list(json.loads(open(sys.argv[1]).readline())); m = list(json.loads(open(sys.argv[2]).readline()))
n = k.index("kernel")
print("ok" if n == 27 and k[:n] == m[:n] and "mem_clock_max_mhz" in k[:n] else (k[:n], m[:n]))' "$TMP/k.jsonl" "$TMP/out.jsonl")"
# --weights: one row per shape and type, a block type checked against its
# dequantized blocks, bytes per weight as the device stores them.
"$BIN" bench --kernels --shape 40x256 --shape 8x512x9 --weights f16,q4_0,q6_k -r 1 --samples 1 -o jsonl >"$TMP/kq.jsonl" 2>"$TMP/err"
expect "kernels --weights exit code" 0 "$?"
expect "kernels --weights rows" "matvec 40x256 t=1 F16 2 pass;matvec Q4_0 40x256 t=1 Q4_0 0.5625 pass;\
matvec Q6_K 40x256 t=1 Q6_K 0.875 pass;matmul 8x512 t=9 F16 2 pass;matmul Q4_0 8x512 t=9 Q4_0 0.5625 pass;\
matmul Q6_K 8x512 t=9 Q6_K 0.8438 pass" "$(python3 -c '
import json, sys
print(";".join("%s %s %s %s" % (r["kernel"], r["weights"], round(r["bytes_per_weight"], 4),
               "pass" if r["check"] == "pass" and 0 <= r["check_nmse"] < 1e-8 else "fail")
               for r in map(json.loads, open(sys.argv[1]))))' "$TMP/kq.jsonl")"
"$BIN" bench --kernels --shape 40x72 --weights q4_k -r 1 --samples 1 >/dev/null 2>"$TMP/err"
expect "kernels --weights: K not whole blocks" "1 1" "$? $(grep -c 'weights Q4_K need K a multiple of 256 values, found 72' "$TMP/err")"
"$BIN" bench --kernels --weights q4_0,q3_k >/dev/null 2>"$TMP/err"
expect "kernels --weights: unknown type" "2 1" "$? $(grep -c "found 'q3_k'" "$TMP/err")"
"$BIN" bench --kernels --shape 40x72 -r 1 --samples 1 >"$TMP/k.md" 2>/dev/null
expect "kernels md row" 1 "$(grep -c '^| matvec 40x72 t=1 |' "$TMP/k.md")"
expect "kernels md: the pass bound" 1 "$(grep -c 'check: nmse <= 1e-08' "$TMP/k.md")"
"$BIN" bench --kernels --shape 40x72x3 -r 1 --samples 2 -o csv -q >"$TMP/k.csv" 2>/dev/null
expect "kernels csv" "2 schema_version,kind ,pass," "$(wc -l <"$TMP/k.csv") $(head -1 "$TMP/k.csv" | cut -d, -f1-2) $(tail -1 "$TMP/k.csv" | grep -o ',pass,')"
expect "kernels csv: check and bound" "check,check_nmse,check_bound" "$(head -1 "$TMP/k.csv" | grep -o 'check,check_nmse,check_bound')"
"$BIN" bench --kernels --shape 40x72x3 -r 1 --samples 2 -o json -q >"$TMP/k.json" 2>/dev/null
expect "kernels json" "1 1 kernel 2 1e-08" "$(python3 -c '
import json, sys; a = json.load(open(sys.argv[1])); r = a[0]
print(len(a), r["schema_version"], r["kind"], len(r["samples_ms"]), r["check_bound"])' "$TMP/k.json")"

# bench-compare and --plot on the files bench wrote
"${RUN[@]}" -r 3 -q -o json >"$TMP/b.json" 2>/dev/null
"$BIN" bench-compare "$TMP/out.jsonl" "$TMP/b.json" "$TMP/k.jsonl" --plot "$TMP/plot.svg" >"$TMP/cmp.md" 2>"$TMP/err"
expect "compare exit code" 0 "$?"
expect "compare: files listed" 3 "$(grep -c '^- [ABC]: ' "$TMP/cmp.md")"
expect "compare: lines" 4 "$(grep -c '^| \(model\|kernel\) |' "$TMP/cmp.md")"
expect "compare: one sample against three" 2 "$(grep -c '1 sample: spread unknown' "$TMP/cmp.md")"
"$BIN" bench-compare "$TMP/out.jsonl" "$TMP/q.jsonl" -o jsonl >"$TMP/cmpq.jsonl" 2>/dev/null
expect "compare: f16 and q4_0 rows are different lines" "3 0" "$(python3 -c '
import json, sys; rows = [json.loads(l) for l in open(sys.argv[1])]
print(len({r["model"] + r["test"] for r in rows}), sum(1 for r in rows if r["ratio"] is not None))' "$TMP/cmpq.jsonl")"
"$BIN" bench-compare "$TMP/b.json" "$TMP/b.json" -o jsonl >"$TMP/cmp.jsonl"
expect "compare jsonl: a file against itself" "ok ok" "$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    ok = r["schema_version"] == 1 and r["ratio"] == 1 and r["p_value"] == 1 and r["verdict"] == "within noise" \
        and r["n"] == 3 and r["valid"] == "yes"
    print("ok" if ok else "bad: %r" % r)' "$TMP/cmp.jsonl" | tr '\n' ' ' | sed 's/ $//')"
expect "compare csv: header" "schema_version,kind,test" "$("$BIN" bench-compare "$TMP/b.json" -o csv | head -1 | cut -d, -f1-3)"
expect "plot: SVG with a bar per row" "ok" "$(python3 -c '
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]).getroot()
bars = [e for e in t.iter("{http://www.w3.org/2000/svg}rect") if e.get("height") == "16"]
texts = "".join(e.text or "" for e in t.iter("{http://www.w3.org/2000/svg}text"))
print("ok" if len(bars) == 6 and "pp8" in texts and "matvec 40x72 t=3" in texts and "t/s" in texts else (len(bars), texts))
' "$TMP/plot.svg")"
printf '{"test": "pp8", "samples_ts": [1, -2]}\n' >"$TMP/bad.jsonl"
expect "compare: a bad row is an error" 1 "$(rc "$BIN" bench-compare "$TMP/bad.jsonl")"
"$BIN" bench-compare "$TMP/bad.jsonl" 2>"$TMP/err"
expect "compare: the error names file, line and field" 1 "$(grep -c "bad.jsonl:1: field samples_ts" "$TMP/err")"
printf '{"schema_version": 99, "test": "pp8", "avg_ts": 3}\n' >"$TMP/new.jsonl"
"$BIN" bench-compare "$TMP/new.jsonl" 2>"$TMP/err"
expect "compare: a newer schema is refused" 1 "$(grep -c "schema_version 99: written by a newer phi3vk" "$TMP/err")"
expect "compare: no file: usage error" 2 "$(rc "$BIN" bench-compare)"
expect "compare: bad -o: usage error" 2 "$(rc "$BIN" bench-compare "$TMP/b.json" -o xml)"
expect "compare: missing file: error" 1 "$(rc "$BIN" bench-compare "$TMP/none.jsonl")"
expect "compare: --plot unwritable: error" 1 "$(rc "$BIN" bench-compare "$TMP/b.json" --plot "$TMP/no/dir/p.svg")"
expect "compare --help" 0 "$(rc "$BIN" bench-compare --help)"

for s in 12 1x 0x3 4x4x0 1x2x3x x3 9999999x3; do
    expect "kernels --shape $s: usage error" 2 "$(rc "$BIN" bench --kernels --shape "$s")"
done
expect "kernels -o xml: usage error" 2 "$(rc "$BIN" bench --kernels -o xml)"
expect "kernels --samples 0: usage error" 2 "$(rc "$BIN" bench --kernels --samples 0)"
expect "kernels: too large for the device: error" 1 "$(rc "$BIN" bench --kernels --shape 1048576x1048576 -r 1 --samples 1)"
expect "no model: usage error" 2 "$(rc "$BIN" bench)"
expect "model and synthetic: usage error" 2 "$(rc "$BIN" bench -m x --synthetic tiny)"
expect "bad list: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -p 8,x)"
expect "bad format: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -o xml)"
expect "reps 0: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -r 0)"
expect "unknown flag: usage error" 2 "$(rc "$BIN" bench --synthetic tiny --frobnicate)"
expect "bad -pg: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -pg 8)"
expect "-pg with a 0: usage error" 2 "$(rc "$BIN" bench --synthetic tiny -pg 8,0)"
expect "--parallel 65: usage error" 2 "$(rc "$BIN" bench --synthetic tiny --parallel 65)"
expect "missing device: error" 1 "$(rc "$BIN" bench --synthetic tiny -p 8 -n 0 -r 1 --device 99)"
expect "missing model file: error" 1 "$(rc "$BIN" bench -m "$TMP/none" -p 8 -n 0 -r 1)"

finish
