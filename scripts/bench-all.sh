#!/usr/bin/env bash
# One command for comparable numbers on any Vulkan device: the device table,
# the matrix kernels alone, and prefill/generation of the Phi-3-mini shape
# (synthetic weights, so nothing to download), every result with its
# correctness check. Writes OUTDIR/{devices.json, kernels.jsonl, model.jsonl,
# summary.md} and prints summary.md.
#
#   scripts/bench-all.sh [--device N|NAME] [--layers N] [--weights LIST] [--quick] OUTDIR
#
# --layers N  layers of the Phi-3-mini shape for the model runs (default 32,
#             the whole model: 7.6 GB of fp16 weights on the device; 4 fits
#             a 2 GB card)
# --weights LIST  model runs once per weight type, comma-separated: f16 (default),
#             q8_0, q4_0, q4_k, q4_k_m (bench --weights; rows say model_type)
# --quick     tiny sizes, to check the pipeline itself (seconds, meaningless
#             numbers)
# Env: PHI3VK_BIN = the phi3vk binary (default: build/phi3vk next to this
# script's folder). Exit status: 0 when every run and check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PHI3VK_BIN:-$here/build/phi3vk}
device=() layers=32 quick=0 out= weights=f16
while [ $# -gt 0 ]; do
    case "$1" in
    --device) device=(--device "${2:?--device needs a value}"); shift 2 ;;
    --layers) layers=${2:?--layers needs a value}; shift 2 ;;
    --quick) quick=1; shift ;;
    --weights) weights=${2:?--weights needs a value}; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench-all: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "bench-all: one OUTDIR, found '$out' and '$1'" >&2; exit 2; }; out=$1; shift ;;
    esac
done
[ -n "$out" ] || { echo "bench-all: give an output folder (see --help)" >&2; exit 2; }
[[ "$layers" =~ ^[1-9][0-9]*$ ]] || { echo "bench-all: --layers: expected a positive integer, found '$layers'" >&2; exit 2; }
wt='(f16|q8_0|q4_0|q4_k|q4_k_m)'
[[ "$weights" =~ ^$wt(,$wt)*$ ]] || { echo "bench-all: --weights: expected a comma-separated list of f16, q8_0, q4_0, q4_k, q4_k_m, found '$weights'" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench-all: $BIN is not an executable: build first, or set PHI3VK_BIN" >&2; exit 1; }
mkdir -p "$out"

if [ $quick = 1 ]; then
    kernels=(--shape 256x512 --shape 256x512x64 -r 2 --samples 3)
    model=(--synthetic tiny -p 16 -n 4 -r 1)
else
    kernels=(-r 20 --samples 5)
    model=(--synthetic phi3-mini --layers "$layers" -p 64,512 -n 128 -r 3)
fi
say() { echo "bench-all: $*" >&2; }
say "devices"
"$BIN" devices --json >"$out/devices.json"
say "matrix kernels (${kernels[*]})"
"$BIN" bench --kernels "${kernels[@]}" "${device[@]}" -o jsonl >"$out/kernels.jsonl"
: >"$out/model.jsonl"
for w in ${weights//,/ }; do
    say "model (${model[*]} --weights $w --profile)"
    "$BIN" bench "${model[@]}" --weights "$w" --profile "${device[@]}" -o jsonl -q >>"$out/model.jsonl"
done

# summary.md from the JSON lines (python3 is on every machine that builds phi3vk)
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
k = [json.loads(l) for l in open(out + "/kernels.jsonl")]
m = [json.loads(l) for l in open(out + "/model.jsonl")]
r = (m or k)[0]
lines = ["# phi3vk bench-all", "",
         "device: %s (%s, %s %s, %s); phi3vk %s (%s), %s" % (r["device_name"], r["device_type"], r["driver_name"],
         r["driver_version"], r["driver_info"], r["phi3vk_version"], r["phi3vk_commit"], r["date"]), "",
         "| kernel | ms | GB/s (weights) | GFLOP/s | check nmse |", "|---|---:|---:|---:|---:|"]
lines += ["| %s | %.3f | %.2f | %.2f | %.1e |" % (x["kernel"], x["ms"], x["gbps"], x["gflops"], x["check_nmse"])
          for x in k]
lines += ["", "| model | test | t/s | check | top op (share, GB/s, GFLOP/s) |", "|---|---|---:|---|---|"]
for x in m:
    ops = x.get("profile", {}).get("ops", [])
    top = ops[0] if ops else None
    lines.append("| %s (%d layers, %s) | %s | %.2f ± %.2f | %s | %s |" % (x["model_name"], x["model_layers"],
                 x["model_type"], x["test"],
                 x["avg_ts"], x["stddev_ts"],
                 x["check"], "%s (%.1f%%, %.3g, %.3g)" % (top["op"], top["share"], top["gbps"], top["gflops"])
                 if top else "-"))
open(out + "/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
bad = [x["test"] for x in m if x["check"] != "pass"] + [x["kernel"] for x in k if not x["check_nmse"] < 1e-8]
sys.exit("bench-all: check FAILED: " + ", ".join(bad) if bad else 0)
PY
