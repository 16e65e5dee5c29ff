#!/usr/bin/env bash
# The serve benchmark of issue 16 (bench/RESULTS.md, "Serve (issue 16)"): on a
# synthetic 4-layer full-width Phi-3 (phi3-mini shape, F16, the real tokenizer)
# it measures
#   1. the first request's latency after /health says ready;
#   2. classify throughput through the server with C concurrent clients (one
#      item a request) against `classify -f` on the same items;
#   3. --reason: R requests one at a time against R at once (lockstep decode);
#   p50/p99 request latency of 2 and 3.
# Usage: scripts/bench-serve.sh [--items N] [--clients C] [--reason R] [--max-tokens T]
#                               [--layers L] [--device D] OUTDIR
# Env: PHI3VK_BIN (default build/phi3vk), PHI3VK_DATA (default ../shared/data).
# Run it under the benchmark lock: flock /tmp/phi3vk-bench.lock scripts/bench-serve.sh OUT
# Prints a Markdown table and writes OUTDIR/serve-bench.md and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
items=16 clients=8 reason=8 max_tokens=16 layers=4 device=""
while [ $# -gt 1 ]; do
    case $1 in
    --items) items=$2 ;; --clients) clients=$2 ;; --reason) reason=$2 ;;
    --max-tokens) max_tokens=$2 ;; --layers) layers=$2 ;; --device) device=$2 ;;
    *) echo "bench-serve: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ $# == 1 ] || { sed -n 2,15p "$0" >&2; exit 2; }
out=$1
BIN=${PHI3VK_BIN:-build/phi3vk}
DATA=${PHI3VK_DATA:-../shared/data}
TSV=$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv
TOK=$DATA/tokenizer/phi3-2024-04/tokenizer.json
for f in "$BIN" "$TSV" "$TOK"; do [ -e "$f" ] || { echo "bench-serve: $f is missing" >&2; exit 1; }; done
mkdir -p "$out"
out=$(cd "$out" && pwd)
dev=()
[ -n "$device" ] && dev=(--device "$device")
model=$out/model-$layers
if [ ! -f "$model/config.json" ]; then
    "$BIN" synth "$model" --preset phi3-mini --layers "$layers" --dtype f16 --seed 1 --force >/dev/null
    cp "$TOK" "$model/"
fi
# the first N texts of the labelled file, as JSONL with their row ids
python3 - "$TSV" "$items" "$out/items.jsonl" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t", quoting=csv.QUOTE_NONE))[: int(sys.argv[2])]
with open(sys.argv[3], "w") as f:
    for i, r in enumerate(rows):
        t = r["text"].replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
        f.write(json.dumps({"id": str(i + 1), "text": t}) + "\n")
PY

# --- classify -f: the summary line's items/s (model load excluded)
"$BIN" classify -m "$model" "${dev[@]}" -f "$out/items.jsonl" --id-col id --jsonl >"$out/cli.jsonl" 2>"$out/cli.err"
cli_ips=$(grep -oE '[0-9.]+ items/s' "$out/cli.err" | tail -n 1 | cut -d' ' -f1)

# --- the server
"$BIN" serve -m "$model" "${dev[@]}" --port 0 --parallel "$clients" 2>"$out/serve.err" &
spid=$!
trap 'kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null' EXIT
port=
for _ in $(seq 600); do
    port=$(grep -o 'listening on http://[^ ]*' "$out/serve.err" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "bench-serve: the server did not start: $(cat "$out/serve.err")" >&2; exit 1; }
python3 - "$port" "$out" "$clients" "$reason" "$max_tokens" "$cli_ips" "$spid" <<'PY'
import concurrent.futures, json, os, sys, time, urllib.request
port, out, clients, n_reason, max_tokens, cli_ips = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
base = f"http://127.0.0.1:{port}"
items = [json.loads(l) for l in open(f"{out}/items.jsonl")]
def health():
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as f:
            return f.status == 200
    except Exception:
        return False
def classify(batch, reason=False):
    body = {"items": batch}
    if reason:
        body.update(reason=True, max_tokens=max_tokens)
    t0 = time.perf_counter()
    req = urllib.request.Request(base + "/v1/classify", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as f:
        res = json.load(f)["results"]
    return res, time.perf_counter() - t0
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
while not health():
    os.kill(int(sys.argv[7]), 0)  # the server is gone (its error is in serve.err): stop
    time.sleep(0.05)
t_ready = time.perf_counter()
_, first = classify([{"id": "warm", "text": "A warm-up request that is none of the items."}])
first_after_ready = time.perf_counter() - t_ready
# 2. C clients, one item a request
t0 = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as ex:
    got = list(ex.map(lambda it: classify([it]), items))
wall = time.perf_counter() - t0
lat = [g[1] for g in got]
srv_ips = len(items) / wall
cli = {json.loads(l)["id"]: json.loads(l) for l in open(f"{out}/cli.jsonl")}
agree = sum(1 for g in got if g[0][0]["label"] == cli[g[0][0]["id"]]["label"] and abs(g[0][0]["p_toxic"] - cli[g[0][0]["id"]]["p_toxic"]) <= 1e-3)
# 3. reason: one at a time, then all at once
rs = [dict(it, id="r" + it["id"]) for it in items[:n_reason]]
t0 = time.perf_counter(); seq = [classify([it], True) for it in rs]; seq_wall = time.perf_counter() - t0
t0 = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(max_workers=n_reason) as ex:
    par = list(ex.map(lambda it: classify([it], True), rs))
par_wall = time.perf_counter() - t0
same_reason = sum(1 for a, b in zip(seq, par) if a[0][0]["reason"] == b[0][0]["reason"])
r = {
    "items": len(items), "clients": clients, "first_request_after_ready_s": first_after_ready,
    "classify_f_items_per_s": cli_ips, "serve_items_per_s": srv_ips, "serve_vs_classify": srv_ips / cli_ips,
    "serve_p50_s": pct(lat, 50), "serve_p99_s": pct(lat, 99), "agree_with_classify": agree,
    "reason_requests": n_reason, "reason_max_tokens": max_tokens,
    "reason_serial_items_per_s": n_reason / seq_wall, "reason_concurrent_items_per_s": n_reason / par_wall,
    "reason_speedup": seq_wall / par_wall, "reason_p50_s": pct([p[1] for p in par], 50),
    "reason_p99_s": pct([p[1] for p in par], 99), "reason_same_text": same_reason,
}
json.dump(r, open(f"{out}/serve-bench.json", "w"), indent=1)
md = f"""| measure | result |
| --- | --- |
| first request after /health ready | {first_after_ready:.2f} s (1 item) |
| `classify -f` ({len(items)} items) | {cli_ips:.3f} items/s |
| serve, {clients} concurrent clients, 1 item a request | {srv_ips:.3f} items/s = {srv_ips / cli_ips:.2f}x classify -f; latency p50 {r['serve_p50_s']:.1f} s, p99 {r['serve_p99_s']:.1f} s; {agree}/{len(items)} equal to classify -f |
| serve --reason (max_tokens {max_tokens}), {n_reason} one at a time | {n_reason / seq_wall:.3f} items/s |
| serve --reason, {n_reason} at once | {n_reason / par_wall:.3f} items/s = {seq_wall / par_wall:.2f}x; latency p50 {r['reason_p50_s']:.1f} s, p99 {r['reason_p99_s']:.1f} s; {same_reason}/{n_reason} same text |
"""
open(f"{out}/serve-bench.md", "w").write(md)
print(md)
PY
kill -TERM "$spid"
wait "$spid" || true
trap - EXIT
