#!/usr/bin/env bash
# scripts/bench-all.sh --quick end to end on the default Vulkan device: the
# files, one JSON line per kernel and per model test, every check passed, the
# summary's tables and chart; a failing step (a planted `bench --kernels`
# failure) does not stop the others: the summary is written, marks the
# failure, and the exit status is 1; --weights LIST: one model step per type
# (a planted failure of one type leaves the others' rows); and its usage errors.
# Env: PHI3VK_BIN = the phi3vk binary.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
SCRIPT="$(cd "$(dirname "$0")/.." && pwd)/scripts/bench-all.sh"
"$BIN" devices >/dev/null 2>&1 || { echo "SKIP: no Vulkan device"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib/cli.sh"
unset PHI3VK_TEST_PLANT
export PHI3VK_BIN="$BIN"
bash "$SCRIPT" --quick "$TMP/out" >"$TMP/stdout" 2>"$TMP/err"
expect "exit code" 0 "$?"
expect "files" "compare.md devices.json kernels.jsonl model.jsonl plot.svg summary.md" \
    "$(cd "$TMP/out" && ls | tr '\n' ' ' | sed 's/ $//')"
expect "devices.json parses" ok "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("ok" if d and d[0]["name"] else "bad")' "$TMP/out/devices.json")"
expect "kernels: rows, checked" "matvec 256x512 t=1 ok|matmul 256x512 t=64 ok" "$(python3 -c '
import json, sys
print("|".join("%s %s" % (r["kernel"], "ok" if r["check"] == "pass" and r["schema_version"] == 1 else "bad")
               for r in map(json.loads, open(sys.argv[1]))))' "$TMP/out/kernels.jsonl")"
expect "model: tests, checks, profiles" "pp16 pass pass 1|tg4 pass pass 1" "$(python3 -c '
import json, sys
print("|".join("%s %s %s %d" % (r["test"], r["check"], r["model_check"], len(r["profile"]["ops"]) > 0)
               for r in map(json.loads, open(sys.argv[1]))))' "$TMP/out/model.jsonl")"
expect "summary printed = summary.md" "" "$(diff "$TMP/stdout" "$TMP/out/summary.md")"
expect "summary: kernel and model rows" 4 "$(grep -c '^| \(matvec\|matmul\|synthetic:tiny\) ' "$TMP/out/summary.md")"
expect "summary: all passed" 1 "$(grep -c '^\*\*every step ran and every check passed\*\*' "$TMP/out/summary.md")"
expect "summary: the chart" 1 "$(grep -c '^!\[.*\](plot.svg)' "$TMP/out/summary.md")"
expect "chart: valid SVG with 4 bars" 4 "$(python3 -c '
import sys, xml.etree.ElementTree as ET
print(sum(e.get("height") == "16" for e in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}rect")))
' "$TMP/out/plot.svg")"
expect "progress on stderr" 4 "$(grep -c '^bench-all: [a-z]* (' "$TMP/err")"

# a step that fails: the others still run, the summary says which, exit 1
cat >"$TMP/phi3vk-failing-kernels" <<EOS
#!/usr/bin/env bash
for a in "\$@"; do [ "\$a" = --kernels ] && { echo "planted failure" >&2; exit 1; }; done
exec "$BIN" "\$@"
EOS
chmod +x "$TMP/phi3vk-failing-kernels"
PHI3VK_BIN="$TMP/phi3vk-failing-kernels" bash "$SCRIPT" --quick "$TMP/fail" >"$TMP/stdout" 2>"$TMP/err"
expect "failed step: exit 1" 1 "$?"
expect "failed step: summary written" 1 "$(grep -c '^\*\*FAILED: step kernels (exit 1)\*\*' "$TMP/fail/summary.md")"
expect "failed step: marked in the steps table" 1 "$(grep -c '^| kernels | kernels.jsonl | \*\*FAILED\*\* (exit 1) |' "$TMP/fail/summary.md")"
expect "failed step: the later steps ran" 2 "$(grep -c '^| synthetic:tiny (2 layers, f16 2.00 B/w) | \(pp16\|tg4\) ' "$TMP/fail/summary.md")"
expect "failed step: chart of what ran" 1 "$(ls "$TMP/fail" | grep -c '^plot.svg$')"
expect "failed step: said on stderr" 1 "$(grep -c '^bench-all: kernels FAILED (exit 1)' "$TMP/err")"

# --weights: a step per type, each type's rows; one type failing (planted) does not stop the others
cat >"$TMP/phi3vk-failing-q4_0" <<EOS
#!/usr/bin/env bash
for a in "\$@"; do [ "\$a" = q4_0 ] && { echo "planted failure" >&2; exit 1; }; done
exec "$BIN" "\$@"
EOS
chmod +x "$TMP/phi3vk-failing-q4_0"
PHI3VK_BIN="$TMP/phi3vk-failing-q4_0" bash "$SCRIPT" --quick --weights f16,q4_0,q8_0 "$TMP/w" >"$TMP/stdout" 2>"$TMP/err"
expect "--weights, one type failed: exit 1" 1 "$?"
expect "--weights: a file per type" "model-f16.jsonl model-q4_0.jsonl model-q8_0.jsonl" \
    "$(cd "$TMP/w" && ls model*.jsonl | tr '\n' ' ' | sed 's/ $//')"
expect "--weights: rows of the types that ran" "f16 pp16 pass|f16 tg4 pass|q8_0 pp16 pass|q8_0 tg4 pass" "$(python3 -c '
import json, sys
print("|".join("%s %s %s" % (r["model_type"], r["test"], r["check"])
               for f in sys.argv[1:] for r in map(json.loads, open(f))))' "$TMP/w/model-f16.jsonl" "$TMP/w/model-q4_0.jsonl" "$TMP/w/model-q8_0.jsonl")"
expect "--weights: the kernels of every type" "F16 F16 Q4_0 Q4_0 Q8_0 Q8_0" "$(python3 -c '
import json, sys
print(" ".join(sorted(r["weights"] + ("" if r["check"] == "pass" else " failed") for r in map(json.loads, open(sys.argv[1])))))' "$TMP/w/kernels.jsonl")"
expect "--weights: the failed type marked" 1 "$(grep -c '^\*\*FAILED: step model-q4_0 (exit 1)\*\*' "$TMP/w/summary.md")"
expect "--weights: steps table" "ok|**FAILED** (exit 1)|ok" "$(grep '^| model-' "$TMP/w/summary.md" | cut -d'|' -f4 | sed 's/^ //;s/ $//' | tr '\n' '|' | sed 's/|$//')"
expect "--weights: summary rows per type" 4 "$(grep -c '^| synthetic:tiny (2 layers, \(f16 2.00\|q8_0 1.12\) B/w) | \(pp16\|tg4\) ' "$TMP/w/summary.md")"
expect "--weights: both types and the kernels (2 shapes x 3 types) in the chart" 10 "$(python3 -c '
import sys, xml.etree.ElementTree as ET
print(sum(e.get("height") == "16" for e in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}rect")))
' "$TMP/w/plot.svg")"
expect "bad --weights: usage error" 2 "$(rc bash "$SCRIPT" --weights f16,q3 "$TMP/a")"
expect "empty item in --weights: usage error" 2 "$(rc bash "$SCRIPT" --weights f16,,q8_0 "$TMP/a")"

expect "no OUTDIR: usage error" 2 "$(rc bash "$SCRIPT" --quick)"
expect "two OUTDIRs: usage error" 2 "$(rc bash "$SCRIPT" "$TMP/a" "$TMP/b")"
expect "bad --layers: usage error" 2 "$(rc bash "$SCRIPT" --layers x "$TMP/a")"
expect "unknown option: usage error" 2 "$(rc bash "$SCRIPT" --frob "$TMP/a")"
expect "--judge without the file: usage error" 2 "$(rc bash "$SCRIPT" --judge "$TMP/none.tsv" "$TMP/a")"
expect "missing binary: error" 1 "$(PHI3VK_BIN="$TMP/none" rc bash "$SCRIPT" --quick "$TMP/a")"
expect "--help" 0 "$(rc bash "$SCRIPT" --help)"

finish
