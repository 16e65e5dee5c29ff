#!/usr/bin/env bash
# One command for comparable numbers on any Vulkan device: the device table,
# the matrix kernels alone, prefill/generation of the Phi-3-mini shape
# (synthetic weights, so nothing to download) and, with --judge, the
# toxicity judge's own workload; every result with its correctness checks.
# Writes OUTDIR/{devices.json, kernels.jsonl, model.jsonl (or model-T.jsonl), [judge.jsonl,]
# compare.md, plot.svg, summary.md} and prints summary.md.
#
#   scripts/bench-all.sh [--device N|NAME] [--layers N] [--weights LIST] [--quick] [--no-model-check]
#                        [--judge FILE [--judge-model M] [--judge-tokenizer T]] OUTDIR
#
# --layers N        layers of the Phi-3-mini shape for the model runs (default
#                   32, the whole model: 7.6 GB of fp16 weights on the device;
#                   4 fits a 2 GB card)
# --weights LIST    the model runs once per weight type of LIST (comma-separated:
#                   f16, q8_0, q4_0, q4_k, q4_k_m), each its own step model-T
#                   writing model-T.jsonl (default: one step model, f16); the
#                   kernels run with f16 and each type (q4_k_m: q4_k and q6_k)
# --quick           tiny sizes, to check the pipeline itself (seconds,
#                   meaningless numbers)
# --no-model-check  skip the model check (its C reference of the measured
#                   model runs on the host: minutes for 32 layers on 2 cores)
# --judge FILE      also run `phi3vk bench --judge -f FILE` (the first 64
#                   items; the model: --judge-model, default the judge from
#                   the Hugging Face cache, downloaded on first use)
# Env: PHI3VK_BIN = the phi3vk binary (default: build/phi3vk next to this
# script's folder). Every step runs even when an earlier one fails; the
# summary marks what failed. Exit status: 0 when every step ran and every
# check passed, 1 otherwise, 2 on a usage error.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PHI3VK_BIN:-$here/build/phi3vk}
device=() layers=32 weights= quick=0 out= mcheck=() judge= jmodel=() jtok=()
while [ $# -gt 0 ]; do
    case "$1" in
    --device) device=(--device "${2:?--device needs a value}"); shift 2 ;;
    --layers) layers=${2:?--layers needs a value}; shift 2 ;;
    --weights) weights=${2:?--weights needs a list}; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-model-check) mcheck=(--no-model-check); shift ;;
    --judge) judge=${2:?--judge needs a file}; shift 2 ;;
    --judge-model) jmodel=(-m "${2:?--judge-model needs a value}"); shift 2 ;;
    --judge-tokenizer) jtok=(--tokenizer "${2:?--judge-tokenizer needs a value}"); shift 2 ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench-all: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "bench-all: one OUTDIR, found '$out' and '$1'" >&2; exit 2; }; out=$1; shift ;;
    esac
done
[ -n "$out" ] || { echo "bench-all: give an output folder (see --help)" >&2; exit 2; }
[[ "$layers" =~ ^[1-9][0-9]*$ ]] || { echo "bench-all: --layers: expected a positive integer, found '$layers'" >&2; exit 2; }
[ -z "$weights" ] || [[ "$weights" =~ ^[a-z0-9_]+(,[a-z0-9_]+)*$ ]] ||
    { echo "bench-all: --weights: expected a comma-separated list, found '$weights'" >&2; exit 2; }
for t in ${weights//,/ }; do
    case "$t" in f16 | q8_0 | q4_0 | q4_k | q4_k_m) ;;
    *) echo "bench-all: --weights: expected f16, q8_0, q4_0, q4_k or q4_k_m, found '$t'" >&2; exit 2 ;;
    esac
done
[ -z "$judge" ] || [ -f "$judge" ] || { echo "bench-all: --judge: no file '$judge'" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench-all: $BIN is not an executable: build first, or set PHI3VK_BIN" >&2; exit 1; }
mkdir -p "$out" || exit 1
rm -f "$out"/{devices.json,kernels.jsonl,model.jsonl,model-*.jsonl,judge.jsonl,compare.md,plot.svg,summary.md,steps.tsv}

if [ $quick = 1 ]; then
    kernels=(--shape 256x512 --shape 256x512x64 -r 2 --samples 3)
    model=(--synthetic tiny -p 16 -n 4 -r 1)
    jopts=(--limit 4 --batch 2)
else
    kernels=(-r 20 --samples 5)
    model=(--synthetic phi3-mini --layers "$layers" -p 64,512 -n 128 -r 3)
    jopts=(--limit 64)
fi
say() { echo "bench-all: $*" >&2; }
# step NAME FILE CMD...: runs CMD with stdout to OUTDIR/FILE; records its exit status
step() {
    local name=$1 file=$2; shift 2
    say "$name ($*)"
    "$@" >"$out/$file"
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$file" "$rc" >>"$out/steps.tsv"
    [ $rc = 0 ] || say "$name FAILED (exit $rc)"
}
step devices devices.json "$BIN" devices --json
ktypes=f16
for t in ${weights//,/ }; do
    [ "$t" = q4_k_m ] && t=q4_k,q6_k
    for k in ${t//,/ }; do [[ ",$ktypes," == *",$k,"* ]] || ktypes+=",$k"; done
done
step kernels kernels.jsonl "$BIN" bench --kernels "${kernels[@]}" --weights "$ktypes" "${device[@]}" -o jsonl -q
if [ -z "$weights" ]; then
    step model model.jsonl "$BIN" bench "${model[@]}" --profile "${device[@]}" "${mcheck[@]}" -o jsonl -q
else # one step per weight type, so one type's failure leaves the others' rows
    for t in ${weights//,/ }; do
        step "model-$t" "model-$t.jsonl" "$BIN" bench "${model[@]}" --weights "$t" --profile "${device[@]}" \
            "${mcheck[@]}" -o jsonl -q
    done
fi
if [ -n "$judge" ]; then
    step judge judge.jsonl "$BIN" bench --judge -f "$judge" "${jopts[@]}" "${jmodel[@]}" "${jtok[@]}" \
        "${device[@]}" "${mcheck[@]}" -o jsonl -q
fi
# the chart of whatever rows there are (a failed step may have left none)
rows=()
for f in "$out"/model.jsonl "$out"/model-*.jsonl "$out"/judge.jsonl "$out"/kernels.jsonl; do
    [ -s "$f" ] && rows+=("$f")
done
if [ ${#rows[@]} -gt 0 ]; then
    step compare compare.md "$BIN" bench-compare "${rows[@]}" --plot "$out/plot.svg"
fi

# summary.md from the files (python3 is on every machine that builds phi3vk)
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
steps = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "steps.tsv"))]

def rows(name):
    try:
        return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
    except (OSError, ValueError):
        return []

k, j = rows("kernels.jsonl"), rows("judge.jsonl")
m = [x for s in steps if s[0] == "model" or s[0].startswith("model-") for x in rows(s[1])]
bad = ["step %s (exit %s)" % (s[0], s[2]) for s in steps if s[2] != "0"]
bad += ["%s check" % x["test"] for x in m + j if x.get("check") != "pass"]
bad += ["%s model check" % x["test"] for x in m + j if x.get("model_check") == "fail"]
bad += ["%s check" % x["kernel"] for x in k if x.get("check") != "pass"]
lines = ["# phi3vk bench-all", ""]
r = (m or j or k or [None])[0]
if r:
    lines += ["device: %s (%s, %s %s, %s); host: %s, %s cores, %s, %s; Vulkan loader %s; %s %s" % (
        r["device_name"], r["device_type"], r["driver_name"], r["driver_version"], r["driver_info"], r["host_cpu"],
        r["host_cores"], r["host_os"], r["host_kernel"], r["vulkan_loader"], r["compiler"], r["build_flags"]),
        "phi3vk %s (%s), %s; schema %s" % (r["phi3vk_version"], r["phi3vk_commit"], r["date"], r["schema_version"]), ""]
lines += ["**" + ("FAILED: " + ", ".join(bad) if bad else "every step ran and every check passed") + "**", "",
          "| step | file | status |", "|---|---|---|"]
lines += ["| %s | %s | %s |" % (s[0], s[1], "ok" if s[2] == "0" else "**FAILED** (exit %s)" % s[2]) for s in steps]
if k:
    lines += ["", "| kernel | ms | GB/s (weights) | GFLOP/s | check (nmse) |", "|---|---:|---:|---:|---|"]
    lines += ["| %s | %.3f | %.2f | %.2f | %s (%.1e) |" % (x["kernel"], x["ms"], x["gbps"], x["gflops"], x["check"],
              x["check_nmse"]) for x in k]
if m:
    lines += ["", "| model | test | t/s | TTFT p50 ms | TPOT p50 ms | check | model check | top op (share, GB/s, GFLOP/s) |",
              "|---|---|---:|---:|---:|---|---|---|"]
    ms = lambda v: "-" if v is None else "%.3g" % (v / 1e6)
    for x in m:
        ops = (x.get("profile") or {}).get("ops", [])
        top = ops[0] if ops else None
        lines.append("| %s (%d layers, %s %.2f B/w) | %s | %.2f ± %.2f | %s | %s | %s | %s | %s |" % (
            x["model_name"], x["model_layers"], x["model_type"], x["model_bytes_per_weight"], x["test"], x["avg_ts"], x["stddev_ts"], ms(x["ttft_p50_ns"]),
            ms(x["tpot_p50_ns"]), x["check"], x["model_check"],
            "%s (%.1f%%, %.3g, %.3g)" % (top["op"], top["share"], top["gbps"], top["gflops"]) if top else "-"))
if j:
    lines += ["", "| judge | test | items | items/s | prompt t/s | item p50 / p99 ms | check | model check |",
              "|---|---|---:|---:|---:|---|---|---|"]
    lines += ["| %s | %s | %d | %.3g | %.1f | %.3g / %.3g | %s | %s |" % (
        x["model_name"], x["test"], x["judge_items"], x["items_per_s"], x["avg_ts"], x["p50_ns"] / 1e6,
        x["p99_ns"] / 1e6, x["check"], x["model_check"]) for x in j]
if os.path.exists(os.path.join(out, "plot.svg")):
    lines += ["", "![t/s per test, mean ± sd](plot.svg)", "", "(`compare.md`: the same rows as a table.)"]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if bad else 0)
PY
rc=$?
rm -f "$out/steps.tsv"
exit $rc
