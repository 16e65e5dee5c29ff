#!/usr/bin/env bash
# The serve benchmark of issue 16 (bench/RESULTS.md, "Serve (issue 16)"): on a
# synthetic 4-layer full-width Phi-3 (phi3-mini shape, F16, the real tokenizer)
# it measures
#   1. the first request's latency after /health says ready;
#   2. classify throughput through the server with C concurrent clients (one
#      item a request) against `classify -f` on the same items;
#   3. --reason: R requests one at a time against R at once (lockstep decode),
#      by requests and by tokens (prompt + generated) a second;
#   p50/p99 request latency of 2 and 3. Each phase gets a fresh server, so
#   that none finds an earlier phase's prompts in the KV cache.
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

# --- the server: a fresh one for each phase, so that no phase finds the
# prompts of an earlier one in the KV cache (prefix reuse) and the two reason
# phases compute the same work
python3 - "$BIN" "$model" "$out" "$clients" "$reason" "$max_tokens" "$cli_ips" "${dev[@]}" <<'PY'
import concurrent.futures, json, re, subprocess, sys, time, urllib.request
BIN, model, out = sys.argv[1], sys.argv[2], sys.argv[3]
clients, n_reason, max_tokens, cli_ips = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
dev = sys.argv[8:]
items = [json.loads(l) for l in open(f"{out}/items.jsonl")]
base = None
def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as f:
        return f.status, f.read().decode()
def start(name):
    """Starts `phi3vk serve`; returns (process, the time /health said ready)."""
    global base
    err = open(f"{out}/serve-{name}.err", "w")
    p = subprocess.Popen([BIN, "serve", "-m", model, *dev, "--port", "0", "--parallel", str(max(clients, n_reason))],
                         stderr=err, stdout=subprocess.DEVNULL)
    t_end = time.time() + 600
    while time.time() < t_end:
        if p.poll() is not None:
            sys.exit(f"bench-serve: the server stopped: {open(err.name).read()}")
        m = re.search(r"listening on http://[^ ]*:(\d+)", open(err.name).read())
        if m:
            base = f"http://127.0.0.1:{m.group(1)}"
            try:
                if get("/health")[0] == 200:
                    return p, time.perf_counter()
            except Exception:
                pass
        time.sleep(0.02)
    p.kill()
    sys.exit("bench-serve: the server did not become ready in 600 s")
def stop(p):
    p.terminate()
    p.wait(timeout=120)
def tokens():
    m = dict(re.findall(r"^(phi3vk_(?:prompt|generated)_tokens_total) (\d+)$", get("/metrics")[1], re.M))
    return int(m["phi3vk_prompt_tokens_total"]), int(m["phi3vk_generated_tokens_total"])
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
def concurrently(n, batch_of, todo):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(batch_of, todo))

# 1. the first request after ready, then C clients, one item a request
p, t_ready = start("classify")
first_res, _ = classify([{"id": "warm", "text": "A warm-up request that is none of the items."}])
first_after_ready = time.perf_counter() - t_ready
first_tokens = first_res[0]["prompt_tokens"]
# what a request costs beyond its compute: a one-token completion of a
# two-token prompt, and the classify item again (its prompt cached but the
# last token)
def timed_post(path, body):
    t0 = time.perf_counter()
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as f:
        json.load(f)
    return time.perf_counter() - t0
tiny_s = timed_post("/v1/completions", {"prompt": "Hi", "max_tokens": 1, "temperature": 0})
again_s = timed_post("/v1/classify", {"items": [{"id": "warm", "text": "A warm-up request that is none of the items."}]})
t0 = time.perf_counter()
got = concurrently(clients, lambda it: classify([it]), items)
wall = time.perf_counter() - t0
stop(p)
lat = [g[1] for g in got]
srv_ips = len(items) / wall
cli = {json.loads(l)["id"]: json.loads(l) for l in open(f"{out}/cli.jsonl")}
agree = sum(1 for g in got if g[0][0]["label"] == cli[g[0][0]["id"]]["label"] and abs(g[0][0]["p_toxic"] - cli[g[0][0]["id"]]["p_toxic"]) <= 1e-3)

# 2. reason: one at a time, then (a fresh server) all at once; tokens from /metrics
rs = [dict(it, id="r" + it["id"]) for it in items[:n_reason]]
def reason_phase(name, run):
    p, _ = start(name)
    t0 = time.perf_counter()
    res = run()
    w = time.perf_counter() - t0
    pt, gt = tokens()
    stop(p)
    return res, w, pt, gt
seq, seq_wall, seq_pt, seq_gt = reason_phase("reason-serial", lambda: [classify([it], True) for it in rs])
par, par_wall, par_pt, par_gt = reason_phase("reason-concurrent", lambda: concurrently(n_reason, lambda it: classify([it], True), rs))
same_reason = sum(1 for a, b in zip(seq, par) if a[0][0]["reason"] == b[0][0]["reason"])
seq_tps, par_tps = (seq_pt + seq_gt) / seq_wall, (par_pt + par_gt) / par_wall
r = {
    "items": len(items), "clients": clients, "first_request_after_ready_s": first_after_ready,
    "first_request_prompt_tokens": first_tokens, "tiny_completion_s": tiny_s, "same_item_again_s": again_s,
    "classify_f_items_per_s": cli_ips, "serve_items_per_s": srv_ips, "serve_vs_classify": srv_ips / cli_ips,
    "serve_p50_s": pct(lat, 50), "serve_p99_s": pct(lat, 99), "agree_with_classify": agree,
    "reason_requests": n_reason, "reason_max_tokens": max_tokens,
    "reason_serial_items_per_s": n_reason / seq_wall, "reason_concurrent_items_per_s": n_reason / par_wall,
    "reason_speedup": seq_wall / par_wall,
    "reason_serial_tokens": [seq_pt, seq_gt], "reason_concurrent_tokens": [par_pt, par_gt],
    "reason_serial_tokens_per_s": seq_tps, "reason_concurrent_tokens_per_s": par_tps,
    "reason_speedup_tokens": par_tps / seq_tps,
    "reason_serial_s": [s[1] for s in seq],
    "reason_p50_s": pct([p[1] for p in par], 50), "reason_p99_s": pct([p[1] for p in par], 99),
    "reason_same_text": same_reason,
}
json.dump(r, open(f"{out}/serve-bench.json", "w"), indent=1)
md = f"""| measure | result |
| --- | --- |
| first request after /health ready | {first_after_ready:.2f} s (1 item, {first_tokens} prompt tokens: {first_after_ready / first_tokens * 1e3:.1f} ms a token) |
| then: a 1-token completion of "Hi"; the same item again (prompt cached) | {tiny_s:.2f} s; {again_s:.2f} s |
| `classify -f` ({len(items)} items) | {cli_ips:.3f} items/s |
| serve, {clients} concurrent clients, 1 item a request | {srv_ips:.3f} items/s = {srv_ips / cli_ips:.2f}x classify -f; latency p50 {r['serve_p50_s']:.1f} s, p99 {r['serve_p99_s']:.1f} s; {agree}/{len(items)} equal to classify -f |
| serve --reason (max_tokens {max_tokens}), {n_reason} one at a time | {n_reason / seq_wall:.3f} items/s, {seq_tps:.1f} tokens/s ({seq_pt} prompt + {seq_gt} generated); {min(r['reason_serial_s']):.1f}-{max(r['reason_serial_s']):.1f} s each |
| serve --reason, {n_reason} at once | {n_reason / par_wall:.3f} items/s = {seq_wall / par_wall:.2f}x, {par_tps:.1f} tokens/s = {par_tps / seq_tps:.2f}x; latency p50 {r['reason_p50_s']:.1f} s, p99 {r['reason_p99_s']:.1f} s; {same_reason}/{n_reason} same text |
"""
open(f"{out}/serve-bench.md", "w").write(md)
print(md)
PY
