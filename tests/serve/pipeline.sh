#!/usr/bin/env bash
# classify in data pipelines: standard input answered line by line as it
# arrives (the pipe stays open), --shard K/N splitting a labelled file into
# runs that cover it exactly once with the unsharded answers, and eval
# --predictions reporting on the shards' --out files without the model
# (equal to eval's own report), refusing a missing or doubled shard.
. "$(dirname "$0")/lib.sh"
TSV=$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv
[ -f "$TSV" ] || { echo "SKIP: $TSV is absent"; exit 77; }

M=$W/model
tiny_model "$M" || { echo "FAIL: synth"; exit 1; }

# --- streaming stdin: the first answer comes while the pipe is still open
mkfifo "$W/fifo"
"$BIN" classify -m "$M" --jsonl <"$W/fifo" >"$W/stream.jsonl" 2>"$W/stream.err" &
CPID=$!
PIDS+=("$CPID")
exec 3>"$W/fifo"
echo "You are a complete idiot" >&3
got=0
for _ in $(seq 600); do
    [ "$(wc -l <"$W/stream.jsonl")" -ge 1 ] && { got=1; break; }
    kill -0 "$CPID" 2>/dev/null || break
    sleep 0.1
done
[ "$got" == 1 ] && kill -0 "$CPID" 2>/dev/null && ok "stdin: line 1 answered while stdin is open" ||
    bad "stdin: no answer to line 1 within 60 s while the pipe is open: $(cat "$W/stream.err")"
echo "Have a lovely day" >&3
for _ in $(seq 600); do [ "$(wc -l <"$W/stream.jsonl")" -ge 2 ] && break; sleep 0.1; done
[ "$(wc -l <"$W/stream.jsonl")" == 2 ] && ok "stdin: line 2 answered" || bad "stdin: line 2 not answered"
exec 3>&-
wait "$CPID"; rc=$?
[ "$rc" == 0 ] && ok "stdin: exit 0 at end of input" || bad "stdin: exit $rc: $(cat "$W/stream.err")"
"$BIN" classify -m "$M" --jsonl "You are a complete idiot" "Have a lovely day" >"$W/args.jsonl" 2>/dev/null
pycheck "stdin: the answers of the batched path" '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
assert [x["id"] for x in a] == ["1", "2"], a
for x, y in zip(a, b):
    assert x["label"] == y["label"] and abs(x["p_toxic"] - y["p_toxic"]) <= 1e-3 and x["text_sha256"] == y["text_sha256"], (x, y)' \
    "$W/stream.jsonl" "$W/args.jsonl"

# --- --shard K/N: three runs cover the items exactly once, as one run does
L=(-f "$TSV" --limit 24)
"$BIN" classify -m "$M" "${L[@]}" --out "$W/all.jsonl" >/dev/null 2>&1 || bad "classify unsharded"
for k in 1 2 3; do
    "$BIN" classify -m "$M" "${L[@]}" --shard "$k/3" --out "$W/out-$k.jsonl" >/dev/null 2>"$W/shard.err" || bad "shard $k/3: $(cat "$W/shard.err")"
done
pycheck "shards: exactly once, the unsharded answers, shard in the provenance, the documented hash" '
import hashlib, json, sys
def load(p):
    lines = [json.loads(l) for l in open(p)]
    prov = [l["provenance"] for l in lines if "provenance" in l]
    return prov, [l for l in lines if "provenance" not in l]
_, every = load(sys.argv[1])
ref = {r["id"]: r for r in every}
seen = []
for k in (1, 2, 3):
    prov, recs = load(sys.argv[1 + k])
    assert prov and prov[0]["shard"] == f"{k}/3", prov
    for r in recs:
        assert 1 + int.from_bytes(hashlib.sha256(r["id"].encode()).digest()[:8], "big") % 3 == k, (k, r["id"])
        assert r["label"] == ref[r["id"]]["label"] and abs(r["p_toxic"] - ref[r["id"]]["p_toxic"]) <= 1e-3
        seen.append(r["id"])
assert sorted(seen) == sorted(ref) and len(ref) == 24, (sorted(seen), sorted(ref))
assert all(len([s for s in seen if s == i]) == 1 for i in ref)' "$W/all.jsonl" "$W/out-1.jsonl" "$W/out-2.jsonl" "$W/out-3.jsonl"

# --- eval --predictions: the report of eval, from the files, without a model
"$BIN" eval -m "$M" "${L[@]}" --json >"$W/eval.json" 2>/dev/null || bad "eval"
"$BIN" eval -m "$W/no-such-model" "${L[@]}" --json --predictions "$W/out-*.jsonl" >"$W/pred.json" 2>"$W/pred.err" &&
    ok "eval --predictions: ran without loading the model" || bad "eval --predictions: $(cat "$W/pred.err")"
pycheck "eval --predictions: the report of eval" '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a.pop("ms", None); b.pop("ms", None)
assert a == b, (a, b)' "$W/eval.json" "$W/pred.json"
"$BIN" eval "${L[@]}" --predictions "$W/out-[12].jsonl" >/dev/null 2>"$W/err1"
rc=$?
[ "$rc" != 0 ] && grep -qi 'missing\|not in\|cover' "$W/err1" && ok "eval --predictions: a missing shard is an error (exit $rc): $(head -c 160 "$W/err1")" ||
    bad "eval --predictions, a shard missing: exit $rc: $(cat "$W/err1")"
cp "$W/out-2.jsonl" "$W/out-2b.jsonl"
"$BIN" eval "${L[@]}" --predictions "$W/out-*.jsonl" >/dev/null 2>"$W/err2"
rc=$?
[ "$rc" != 0 ] && grep -qi 'twice\|more than once\|duplicate' "$W/err2" && ok "eval --predictions: a doubled shard is an error (exit $rc)" ||
    bad "eval --predictions, a shard twice: exit $rc: $(cat "$W/err2")"
rm -f "$W/out-2b.jsonl"
"$BIN" classify -m "$M" "${L[@]}" --shard 2/3 --prompt phoenix --out "$W/out-2.jsonl" --force-resume >/dev/null 2>&1
"$BIN" eval "${L[@]}" --predictions "$W/out-*.jsonl" >/dev/null 2>"$W/err3"
rc=$?
[ "$rc" != 0 ] && grep -qi 'prompt' "$W/err3" && ok "eval --predictions: shards with another prompt are an error (exit $rc)" ||
    bad "eval --predictions, provenance disagrees: exit $rc: $(cat "$W/err3")"
finish
