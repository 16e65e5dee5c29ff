#!/usr/bin/env bash
# Continuous batching: 32 simultaneous requests (24 classify, 8 greedy chat
# completions) against phi3vk serve --parallel 8 answer what the same
# requests answer one at a time (same label, P(toxic) within 1e-3, the same
# generated text), and the engine really batched them (batch sizes > 1 in
# /metrics). Bounded: 32 requests, 120 s.
. "$(dirname "$0")/lib.sh"

M=$W/model
tiny_model "$M" 2 || { echo "FAIL: synth"; exit 1; }
serve_start main -m "$M" --parallel 8 || exit 1
cat >"$W/client.py" <<'PY'
import concurrent.futures, json, sys, urllib.request
port, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
texts = ["I could strangle him", "Have a lovely day", "You are a complete idiot", "The train was late",
         "Nobody likes you, go away", "Thanks for the help!", "What a stupid idea", "See you tomorrow"]
reqs = []
for i in range(24):
    reqs.append(("/v1/classify", {"items": [{"id": f"c{i}", "text": texts[i % 8] + " #" + str(i)}]}))
for i in range(8):
    reqs.append(("/v1/chat/completions", {"messages": [{"role": "user", "content": texts[i] + "?"}],
                                          "max_tokens": 10 + i, "temperature": 0}))
def call(r):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{r[0]}", data=json.dumps(r[1]).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as f:
        return json.load(f)
if mode == "serial":
    res = [call(r) for r in reqs]
else:
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        res = list(ex.map(call, reqs))
json.dump(res, open(out, "w"))
PY
timeout 120 python3 "$W/client.py" "$PORT" serial "$W/serial.json" || bad "one at a time"
curl -s "http://127.0.0.1:$PORT/metrics" >"$W/m0"
timeout 120 python3 "$W/client.py" "$PORT" parallel "$W/parallel.json" || bad "32 at once"
curl -s "http://127.0.0.1:$PORT/metrics" >"$W/m1"
pycheck "32 simultaneous requests answer as one at a time" '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert len(a) == len(b) == 32
for x, y in zip(a, b):
    if "results" in x:
        r, s = x["results"][0], y["results"][0]
        assert r["id"] == s["id"] and r["label"] == s["label"] and abs(r["p_toxic"] - s["p_toxic"]) <= 1e-3, (r, s)
    else:
        t, u = x["choices"][0]["message"]["content"], y["choices"][0]["message"]["content"]
        assert t == u and x["usage"] == y["usage"], (t, u)' "$W/serial.json" "$W/parallel.json"
pycheck "the engine batched them (steps of more than one sequence)" '
import re, sys
def hist(p):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^phi3vk_batch_size_bucket\{le=\"([^\"]+)\"\} (\S+)", open(p).read(), re.M)}
h0, h1 = hist(sys.argv[1]), hist(sys.argv[2])
single = h1["1"] - h0["1"]; total = h1["+Inf"] - h0["+Inf"]
assert total > single, (h0, h1)' "$W/m0" "$W/m1"
finish
