#!/usr/bin/env bash
# phi3vk serve driven by the official OpenAI JavaScript client (npm `openai`,
# installed by scripts/install-test-clients.sh into a cache folder outside the
# repository): chat completions with logprobs (a client reads P("toxic")
# itself), streaming, a forced tool call, seeded sampling, completions, an error. Tiny model.
. "$(dirname "$0")/lib.sh"
SRC=${PHI3VK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v node >/dev/null || { echo "SKIP: node is needed (scripts/install-deps.sh installs it)"; exit 77; }
NODE_DIR=$(bash "$SRC/scripts/install-test-clients.sh" 2>"$W/npm.err") ||
    { echo "SKIP: the npm package openai is not installed and npm could not install it: $(tail -3 "$W/npm.err")"; exit 77; }
# node resolves "openai" from the script's folder upwards: run a copy placed beside node_modules
cp "$SRC/tests/serve/openai_client.mjs" "$NODE_DIR/phi3vk-client-$$.mjs"
trap 'rm -f "$NODE_DIR/phi3vk-client-$$.mjs"; serve_cleanup' EXIT

M=$W/model
tiny_model "$M" || { echo "FAIL: synth"; exit 1; }
serve_start main -m "$M" --api-key test-key --alias judge || exit 1
if node "$NODE_DIR/phi3vk-client-$$.mjs" "http://127.0.0.1:$PORT/v1" test-key >"$W/js.json" 2>"$W/js.err"; then
    ok "openai client: ran"
else
    bad "openai client: $(tail -20 "$W/js.err")"
fi
post "$PORT" /v1/chat/completions '{"messages":[{"role":"user","content":"Is this text toxic? You are an idiot."}],"max_tokens":6,"temperature":0,"logprobs":true,"top_logprobs":5}' \
    -H 'Authorization: Bearer test-key' >/dev/null
pycheck "openai client: models, chat with logprobs equal to curl's, stream equal to chat, seeded repeatable, error status" '
import json, math, sys
d = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2]))["choices"][0]
assert d["models"] == ["judge"], d["models"]
c = d["chat"]
assert c["text"] == ref["message"]["content"] and c["text"], (c["text"], ref)
assert c["usage"]["completion_tokens"] == len(c["logprobs"]) == 6 and c["finish"] == "length", c
for t, r in zip(c["logprobs"], ref["logprobs"]["content"]):
    assert t["token"] == r["token"] and abs(t["logprob"] - r["logprob"]) < 1e-6, (t, r)
    assert len(t["top"]) == 5 and t["top"][0][1] >= t["top"][-1][1], t
    # P(first token) from the top logprobs, as a client computes P("toxic")
    assert 0 < sum(math.exp(x[1]) for x in t["top"]) <= 1.0001, t
assert d["stream"]["text"] == c["text"] and d["stream"]["chunks"] >= 6 and d["stream"]["finish"] == "length", d["stream"]
assert d["seeded"][0] == d["seeded"][1] and d["seeded"][0], d["seeded"]
assert d["completion"]["text"] and d["completion"]["usage"]["completion_tokens"] == 8, d["completion"]
assert d["error"] and d["error"]["status"] == 400, d["error"]
t = d["tool"]
assert t["rail"] and t["name"] == "record_response" and t["args"] == {"response": t["rail"]} and t["finish"] == "tool_calls", t' "$W/js.json" "$W/body"
finish
