#!/usr/bin/env bash
# phi3vk serve through curl: /health, /v1/models, /v1/classify equal to
# classify --jsonl, chat and text completions (greedy equal to generate),
# the limits (400/413 in OpenAI's error shape, 503 + Retry-After when the
# queue is full), --api-key, /metrics, and SIGTERM finishing the request in
# flight before exiting 0. Tiny random-weight model, 127.0.0.1, free ports.
. "$(dirname "$0")/lib.sh"

M=$W/model
tiny_model "$M" || { echo "FAIL: synth"; exit 1; }
serve_start main -m "$M" --parallel 4 --max-body 65536 --max-texts 8 || exit 1

# --- health, models
[ "$(curl -s "http://127.0.0.1:$PORT/health")" == '{"status":"ok"}' ] && ok "health: ok" || bad "health"
curl -s "http://127.0.0.1:$PORT/v1/models" >"$W/models"
pycheck "models: one, named after -m" '
import json, sys; d = json.load(open(sys.argv[1]))
assert d["object"] == "list" and len(d["data"]) == 1 and d["data"][0]["object"] == "model", d' "$W/models"

# --- /v1/classify equals classify --jsonl
printf '%s\n' "I could strangle him" "Have a lovely day" "You are a complete idiot" "The train was late" >"$W/texts.txt"
"$BIN" classify -m "$M" --jsonl -f "$W/texts.txt" >"$W/cli.jsonl" 2>/dev/null || bad "classify --jsonl"
st=$(post "$PORT" /v1/classify "$(python3 -c 'import json,sys; print(json.dumps({"texts": open(sys.argv[1]).read().splitlines()}))' "$W/texts.txt")")
cp "$W/body" "$W/texts.json"
[ "$st" == 200 ] && ok "classify texts: 200" || bad "classify texts: $st $(cat "$W/body")"
pycheck "classify texts: the records of classify --jsonl" '
import json, sys
srv = json.load(open(sys.argv[1]))["results"]
cli = [json.loads(l) for l in open(sys.argv[2])]
assert len(srv) == len(cli) == 4, (srv, cli)
for s, c in zip(srv, cli):
    assert s["id"] == c["id"] and s["label"] == c["label"] and abs(s["p_toxic"] - c["p_toxic"]) <= 1e-3, (s, c)
    assert s["prompt_tokens"] == c["prompt_tokens"] and s["text_sha256"] == c["text_sha256"], (s, c)
    assert s["reason"] is None and s["ms"] >= 0, s' "$W/texts.json" "$W/cli.jsonl"
# --- prefix reuse keeps recent prompts: three new texts one at a time go to
# the three sequences used longest ago (all four share only the template), a
# text that shares a few more tokens with the latest one ("Quiet rivers")
# must not evict it either, so the latest prompt is still cached when it
# comes again
reused() { curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^phi3vk_prompt_tokens_reused_total //p'; }
for t in "Zinc is a metal" "Owls hunt at night" "Quiet rivers bend slowly" "Quiet rivers are deep"; do
    post "$PORT" /v1/classify "{\"texts\":[\"$t\"]}" >/dev/null
done
r0=$(reused)
st=$(post "$PORT" /v1/classify '{"texts":["Quiet rivers bend slowly"]}')
r1=$(reused)
pycheck "prefix reuse: a text seen two requests ago reuses its whole prompt" '
import json, sys
n = json.load(open(sys.argv[1]))["results"][0]["prompt_tokens"]
got = int(sys.argv[3]) - int(sys.argv[2])
assert got == n - 1, f"{got} prompt tokens reused, wanted {n - 1} of {n}"' "$W/body" "$r0" "$r1"
st=$(post "$PORT" /v1/classify '{"items":[{"id":"b","text":"Have a lovely day"},{"id":"a","text":"I could strangle him"}]}')
cp "$W/body" "$W/items.json"
pycheck "classify items: ids kept, same answers" '
import json, sys
srv = json.load(open(sys.argv[1]))["results"]
cli = {json.loads(l)["text_sha256"]: json.loads(l) for l in open(sys.argv[2])}
assert [r["id"] for r in srv] == ["b", "a"], srv
for r in srv:
    c = cli[r["text_sha256"]]
    assert r["label"] == c["label"] and abs(r["p_toxic"] - c["p_toxic"]) <= 1e-3, (r, c)' "$W/items.json" "$W/cli.jsonl"
st=$(post "$PORT" /v1/classify '{"texts":["You are a complete idiot"],"reason":true,"max_tokens":12}')
cp "$W/body" "$W/reason.json"
"$BIN" classify -m "$M" --jsonl --reason --max-tokens 12 "You are a complete idiot" >"$W/cli-reason.jsonl" 2>/dev/null
pycheck "classify reason: the generated answer of classify --reason" '
import json, sys
s = json.load(open(sys.argv[1]))["results"][0]
c = json.loads(open(sys.argv[2]).readline())
assert s["label"] == c["label"] and s.get("answer", s["reason"]) == c.get("answer", c["reason"]), (s, c)' "$W/reason.json" "$W/cli-reason.jsonl"

# --- chat and text completions: greedy equals generate
st=$(post "$PORT" /v1/chat/completions '{"model":"x","messages":[{"role":"user","content":"Say hello"}],"max_tokens":8,"temperature":0,"logprobs":true,"top_logprobs":3}')
cp "$W/body" "$W/chat.json"
[ "$st" == 200 ] && ok "chat: 200" || bad "chat: $st $(cat "$W/body")"
"$BIN" generate -m "$M" --chat -p "Say hello" -n 8 --temp 0 >"$W/gen.txt" 2>/dev/null || bad "generate --chat"
pycheck "chat: greedy text of generate --chat, logprobs, usage" '
import json, math, sys
d = json.load(open(sys.argv[1])); gen = open(sys.argv[2]).read()
c = d["choices"][0]
assert d["object"] == "chat.completion" and c["message"]["role"] == "assistant", d
assert c["message"]["content"].strip() == gen.strip(), (c["message"]["content"], gen)
lp = c["logprobs"]["content"]
assert len(lp) == d["usage"]["completion_tokens"] == 8 and c["finish_reason"] == "length", d
for t in lp:
    assert len(t["top_logprobs"]) == 3 and t["top_logprobs"][0]["logprob"] == t["logprob"] <= 0, t
    assert sum(math.exp(x["logprob"]) for x in t["top_logprobs"]) <= 1.0001, t
assert d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + 8, d' "$W/chat.json" "$W/gen.txt"
st=$(post "$PORT" /v1/completions '{"prompt":"The cat","max_tokens":6,"temperature":0,"logprobs":2}')
cp "$W/body" "$W/compl.json"
"$BIN" generate -m "$M" -p "The cat" -n 6 --temp 0 >"$W/gen2.txt" 2>/dev/null
pycheck "completions: greedy text of generate, logprobs" '
import json, sys
d = json.load(open(sys.argv[1])); gen = open(sys.argv[2]).read()
c = d["choices"][0]
assert d["object"] == "text_completion", d
assert gen.strip().endswith(c["text"].strip()) and c["text"].strip(), (c["text"], gen)
assert len(c["logprobs"]["tokens"]) == 6 and all(len(t) == 2 for t in c["logprobs"]["top_logprobs"]), c' "$W/compl.json" "$W/gen2.txt"
st=$(post "$PORT" /v1/chat/completions '{"messages":[{"role":"user","content":"Say hello"}],"max_tokens":8,"temperature":0,"stream":true}')
pycheck "chat stream: server-sent events with the same text, ending in [DONE]" '
import json, sys
ev = [l[6:] for l in open(sys.argv[1]).read().split("\n") if l.startswith("data: ")]
assert ev[-1] == "[DONE]", ev[-3:]
chunks = [json.loads(e) for e in ev[:-1]]
text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
want = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
assert text == want, (text, want)
assert all(c["object"] == "chat.completion.chunk" for c in chunks)' "$W/body" "$W/chat.json"

# --- function calls as Arize Phoenix's llm_classify sends them by default: "functions" with one
# function whose "response" enum is the rails, forced by "function_call". The reply is generated as
# text; one naming a single rail comes back as the call (that rail, the text as "explanation"),
# one naming none as plain text. The random-weight model's greedy reply to "Say hello" (above) is
# the rail, so the same request must name it.
python3 - "$W/chat.json" "$W" <<'PY' || bad "function-call bodies"
import json, sys
reply = json.load(open(sys.argv[1]))["choices"][0]["message"]["content"]
assert reply.strip(), "empty greedy reply"
def body(rails, tools=False):
    fn = {"name": "record_response", "description": "A function to record your response.",
          "parameters": {"type": "object", "properties": {
              "explanation": {"type": "string", "description": "Explanation of the reasoning for your response."},
              "response": {"type": "string", "description": "Your response.", "enum": rails}},
              "required": ["explanation", "response"]}}
    b = {"model": "phi3", "messages": [{"role": "user", "content": "Say hello"}], "frequency_penalty": 0,
         "presence_penalty": 0, "top_p": 1, "n": 1, "max_tokens": 8, "temperature": 0.0}
    if tools:
        b.update(tools=[{"type": "function", "function": fn}],
                 tool_choice={"type": "function", "function": {"name": "record_response"}})
    else:
        b.update(functions=[fn], function_call={"name": "record_response"})
    return json.dumps(b)
open(sys.argv[2] + "/fc-named.json", "w").write(body(["zzqq-never", reply.strip()]))
open(sys.argv[2] + "/fc-none.json", "w").write(body(["zzqq-one", "zzqq-two"]))
open(sys.argv[2] + "/fc-tools.json", "w").write(body([reply.strip(), "zzqq-never"], tools=True))
PY
st=$(post "$PORT" /v1/chat/completions "$(cat "$W/fc-named.json")")
cp "$W/body" "$W/fc-named.out"
[ "$st" == 200 ] && ok "Phoenix function call: 200" || bad "Phoenix function call: $st $(cat "$W/body")"
pycheck "Phoenix function call: the rail the reply names, the reply as explanation" '
import json, sys
d = json.load(open(sys.argv[1])); reply = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
m = d["choices"][0]["message"]
assert m["content"] is None and m["function_call"]["name"] == "record_response", d
a = json.loads(m["function_call"]["arguments"])
assert a == {"explanation": reply, "response": reply.strip()}, (a, reply)
assert d["choices"][0]["finish_reason"] == "function_call", d' "$W/fc-named.out" "$W/chat.json"
st=$(post "$PORT" /v1/chat/completions "$(cat "$W/fc-none.json")")
pycheck "function call: a reply naming no rail comes back as text, uncalled" '
import json, sys
d = json.load(open(sys.argv[1])); reply = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
m = d["choices"][0]["message"]
assert "function_call" not in m and "tool_calls" not in m and m["content"] == reply, d' "$W/body" "$W/chat.json"
st=$(post "$PORT" /v1/chat/completions "$(cat "$W/fc-tools.json")")
pycheck "tool_choice naming a tool: tool_calls" '
import json, sys
d = json.load(open(sys.argv[1])); reply = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
c = d["choices"][0]; t = c["message"]["tool_calls"]
assert len(t) == 1 and t[0]["type"] == "function" and t[0]["function"]["name"] == "record_response", d
assert t[0]["id"].startswith("call_") and c["finish_reason"] == "tool_calls", d
assert json.loads(t[0]["function"]["arguments"])["response"] == reply.strip(), d' "$W/body" "$W/chat.json"
st=$(post "$PORT" /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f","parameters":{"type":"object","properties":{"n":{"type":"integer"}}}}],"function_call":{"name":"f"}}')
[ "$st" == 400 ] && contains "a forced call phi3vk cannot answer: 400 naming the property" "$W/body" 'property \"n\"' ||
    bad "integer property: $st $(cat "$W/body")"

# --- limits: OpenAI error shape
err_shape='
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert isinstance(e["message"], str) and e["message"] and "type" in e, e'
expect() { # expect NAME WANT_STATUS STATUS
    if [ "$3" == "$2" ]; then pycheck "$1: $2, OpenAI error shape" "$err_shape" "$W/body"; else bad "$1: status $3, wanted $2: $(head -c 300 "$W/body")"; fi
}
expect "bad JSON" 400 "$(post "$PORT" /v1/classify '{"texts": [')"
expect "texts not strings" 400 "$(post "$PORT" /v1/classify '{"texts": [1, 2]}')"
expect "no messages" 400 "$(post "$PORT" /v1/chat/completions '{"max_tokens": 3}')"
expect "n=2" 400 "$(post "$PORT" /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"n":2}')"
expect "max_tokens past the context" 400 "$(post "$PORT" /v1/completions '{"prompt":"x","max_tokens":100000000}')"
expect "invalid UTF-8" 400 "$(post "$PORT" /v1/classify "$(printf '{"texts":["\xff\xfe"]}')")"
python3 -c 'import json; print(json.dumps({"texts": ["x" * 70000]}))' >"$W/big.json"
expect "body over --max-body" 413 "$(curl -s -o "$W/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$W/big.json" "http://127.0.0.1:$PORT/v1/classify")"
expect "texts over --max-texts" 413 "$(post "$PORT" /v1/classify '{"texts":["a","b","c","d","e","f","g","h","i"]}')"
expect "unknown path" 404 "$(post "$PORT" /v1/files '{}')"
st=$(post "$PORT" /v1/completions '{"model":"/etc/passwd","prompt":"x","max_tokens":1}')
[ "$st" == 200 ] && pycheck "a model path in a request is a name only: the loaded model answers" '
import json, sys; d = json.load(open(sys.argv[1])); assert d["model"] != "/etc/passwd" and "root:" not in json.dumps(d), d' "$W/body" ||
    bad "model path: status $st"

# --- metrics
curl -s "http://127.0.0.1:$PORT/metrics" >"$W/metrics"
for m in 'phi3vk_requests_total{endpoint="/v1/classify",status="200"}' 'phi3vk_requests_total{endpoint="/v1/classify",status="400"}' \
    phi3vk_prompt_tokens_total phi3vk_generated_tokens_total phi3vk_queue_depth phi3vk_batch_size_bucket \
    phi3vk_time_to_first_token_seconds_bucket phi3vk_request_duration_seconds_bucket phi3vk_device_memory_bytes; do
    contains "metrics: $m" "$W/metrics" "$m"
done
kill -TERM "$SPID"; wait "$SPID"; rc=$?
[ "$rc" == 0 ] && ok "SIGTERM when idle: exit 0" || bad "SIGTERM when idle: exit $rc"

# --- without --ctx, the context shrinks to what the device's buffers hold:
# 64 sequences x 4096 tokens of a 512-wide model need a 256 MiB KV buffer per
# layer, more than lavapipe's 128 MiB
"$BIN" synth "$W/wide" --preset tiny --hidden 512 --heads 4 --kv-heads 4 --intermediate 512 --layers 1 --seed 3 >/dev/null &&
    cp "$TOKDIR/tokenizer.json" "$W/wide/"
if serve_start wide -m "$W/wide" --parallel 64 -v; then
    ctx=$(grep -oE 'context 64 x [0-9]+ tokens' "$W/wide.err" | grep -oE '[0-9]+ tokens' | cut -d' ' -f1)
    [ -n "$ctx" ] && [ "$ctx" -ge 256 ] && ok "--parallel 64 without --ctx: ready with 64 x $ctx tokens" ||
        bad "--parallel 64: no context line in: $(cat "$W/wide.err")"
    st=$(post "$PORT" /v1/classify '{"texts":["x"]}')
    [ "$st" == 200 ] && ok "--parallel 64: answers" || bad "--parallel 64: status $st"
    kill -TERM "$SPID"; wait "$SPID"
else
    bad "--parallel 64 without --ctx did not start"
fi

# --- --api-key (and PHI3VK_API_KEY), constant-time compare is in serve/server.c
serve_start key -m "$M" --api-key s3cret --parallel 1 --queue 1 || exit 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" == 200 ] && ok "api key: /health open" || bad "api key: /health"
expect "api key: none" 401 "$(post "$PORT" /v1/classify '{"texts":["x"]}')"
expect "api key: wrong" 401 "$(post "$PORT" /v1/classify '{"texts":["x"]}' -H 'Authorization: Bearer s3creT')"
expect "api key: prefix of the key" 401 "$(post "$PORT" /v1/classify '{"texts":["x"]}' -H 'Authorization: Bearer s3cre')"
st=$(post "$PORT" /v1/classify '{"texts":["x"]}' -H 'Authorization: Bearer s3cret')
[ "$st" == 200 ] && ok "api key: right key 200" || bad "api key: right key $st"

# --- a full queue: --parallel 1 --queue 1; one request running (its sequence
# taken, so that it no longer counts in the queue), then five at once: one
# waits in the queue, the others get 503 with Retry-After
active() { curl -s -H 'Authorization: Bearer s3cret' "http://127.0.0.1:$PORT/metrics" | grep -q '^phi3vk_sequences_active [1-9]'; }
for i in 1 2 3 4 5 6; do
    curl -s -D "$W/h$i" -o "$W/b$i" -w '%{http_code}' -H 'Authorization: Bearer s3cret' \
        -d '{"prompt":"x","max_tokens":200,"temperature":0}' "http://127.0.0.1:$PORT/v1/completions" >"$W/s$i" &
    if [ $i == 1 ]; then for _ in $(seq 200); do active && break; sleep 0.01; done; fi
done
wait_curls() { for j in $(jobs -p); do [ "$j" == "$SPID" ] || wait "$j"; done; }
wait_curls
n503=0 n200=0
for i in 1 2 3 4 5 6; do
    case "$(cat "$W/s$i")" in
    503) n503=$((n503 + 1)); grep -qi '^Retry-After: [0-9]' "$W/h$i" || bad "503 without Retry-After" ;;
    200) n200=$((n200 + 1)) ;;
    *) bad "queue: status $(cat "$W/s$i")" ;;
    esac
done
[ "$n503" -ge 1 ] && [ "$n200" -ge 2 ] && ok "queue full: $n200 answered, $n503 told 503 + Retry-After" ||
    bad "queue full: $n200 answered, $n503 503s (wanted >= 2 and >= 1)"

# --- SIGTERM with a request in flight: the request is answered, then exit 0
curl -s -o "$W/inflight" -w '%{http_code}' -H 'Authorization: Bearer s3cret' \
    -d '{"prompt":"x","max_tokens":60,"temperature":0}' "http://127.0.0.1:$PORT/v1/completions" >"$W/inflight.st" &
CURL=$!
for _ in $(seq 100); do active && break; sleep 0.05; done
kill -TERM "$SPID"; wait "$SPID"; rc=$?
wait "$CURL"
[ "$rc" == 0 ] && ok "SIGTERM in flight: exit 0" || bad "SIGTERM in flight: exit $rc"
[ "$(cat "$W/inflight.st")" == 200 ] && pycheck "SIGTERM in flight: the request was finished" '
import json, sys; d = json.load(open(sys.argv[1])); assert d["usage"]["completion_tokens"] >= 1, d' "$W/inflight" ||
    bad "SIGTERM in flight: status $(cat "$W/inflight.st")"

# --- a prefix is computed once per engine: on a fresh server the second text
# goes to an empty sequence but takes the judge's template from the first
# text's (a device copy of its keys and values), with the answer classify
# gives without any reuse
serve_start shared -m "$M" --parallel 4 || exit 1
post "$PORT" /v1/classify '{"texts":["Zinc is a metal"]}' >/dev/null
r0=$(reused)
st=$(post "$PORT" /v1/classify '{"texts":["Owls hunt at night"]}')
r1=$(reused)
"$BIN" classify -m "$M" --jsonl "Owls hunt at night" >"$W/owls.jsonl" 2>/dev/null || bad "classify owls"
pycheck "prefix copy: a new text on an empty sequence reuses the template, same answer" '
import json, sys
s = json.load(open(sys.argv[1]))["results"][0]; c = json.loads(open(sys.argv[2]).readline())
got, n = int(sys.argv[4]) - int(sys.argv[3]), s["prompt_tokens"]
assert 20 <= got < n - 1, f"{got} of {n} prompt tokens reused, wanted the template (>= 20)"
assert s["label"] == c["label"] and abs(s["p_toxic"] - c["p_toxic"]) <= 1e-3, (s, c)' "$W/body" "$W/owls.jsonl" "$r0" "$r1"
finish
