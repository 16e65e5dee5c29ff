#!/usr/bin/env bash
# `phi3vk classify` and `phi3vk eval` on a tiny random-weight checkpoint
# (phi3vk synth, 1 layer, the real Phi-3 vocabulary) with the real April-2024
# tokenizer; model runs under the Vulkan validation layer. Labels are random
# with such a model: this checks the plumbing, never accuracy.
#   - table and --jsonl output; label-only labels equal P(toxic) >= 0.5;
#     --no-prefix-cache and --batch 3 give the same labels and scores; --reason labels are
#     the snapped reasons;
#   - --out resume: a run killed with SIGKILL midway, a torn last line, a rerun:
#     every id exactly once; Ctrl-C (SIGINT) stops with exit 130 and resumes;
#   - eval on a small labelled file: the text report's layout, --json parses and
#     its accuracy/confusion equal what the --out results and the labels give;
#     --balance --limit;
#   - the default model (no -m) from a Hugging Face cache, downloaded on first
#     use from a local fake Hub (tests/hub_server.py, never the internet), and
#     the errors naming `phi3vk pull` when it is missing offline;
#   - the progress bar on a pseudo-terminal (script(1));
#   - the default batch (sequences per pass) on CPU devices and GPUs;
#   - bad input: a missing column, an unknown prompt, eval without -f.
# Env: PHI3VK_BIN = the phi3vk binary, PHI3VK_DATA = ../shared/data, PHI3VK_SRC.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
HERE=$(cd "$(dirname "$0")" && pwd)
TOKDIR=$DATA/tokenizer/phi3-2024-04
TSV=$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv
[ -n "$DATA" ] && [ -f "$TOKDIR/tokenizer.json" ] && [ -f "$TSV" ] || {
    echo "SKIP: PHI3VK_DATA (tokenizer, toxicity data) is absent"
    exit 77
}
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
unset PHI3VK_MODEL HF_TOKEN HF_TOKEN_PATH HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_HUB_OFFLINE XDG_CACHE_HOME HF_ENDPOINT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
W=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
export HF_HOME=$W/hf-empty
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
contains() { # contains NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: [$3] not in: $(head -c 800 "$2")"; fi
}
# run NAME WANTED_RC ARGS...: stdout in $W/out, stderr in $W/err; no validation messages allowed.
run() {
    local name=$1 want=$2
    shift 2
    "$BIN" "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    if [ "$rc" == "$want" ]; then ok "$name: exit $rc"; else bad "$name: exit $rc, wanted $want; stderr: $(head -c 800 "$W/err")"; fi
    if grep -qi "validation" "$W/err"; then bad "$name: validation messages: $(grep -i -m3 validation "$W/err")"; fi
}
pycheck() { # pycheck NAME SCRIPT ARGS...: python3 -c SCRIPT ARGS must exit 0
    local name=$1 script=$2
    shift 2
    if python3 -c "$script" "$@" 2>"$W/py"; then ok "$name"; else bad "$name: $(tail -3 "$W/py")"; fi
}

M=$W/model
"$BIN" synth "$M" --preset tiny --layers 1 --seed 5 >/dev/null || { echo "FAIL: synth"; exit 1; }
MT=(-m "$M" --tokenizer "$TOKDIR/tokenizer.json" --validate)

# --- classify: table, JSONL, label-only agreement, prefix reuse
run "table" 0 classify "${MT[@]}" "I could strangle him" "Have a lovely day"
pycheck "table: header and two rows" '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert re.match(r"id +label +p_toxic +text$", lines[0]), lines[0]
assert len(lines) == 3, lines
for i, want in ((1, "I could strangle him"), (2, "Have a lovely day")):
    m = re.match(r"(\d+) +(toxic|non-toxic) +([01]\.\d{4}) +(.*)$", lines[i])
    assert m and m.group(1) == str(i) and m.group(4) == want, lines[i]' "$W/out"
contains "summary on stderr" "$W/err" "2 items, "

printf 'first text\n\nsecond, with "quotes" and <|end|> tokens\n\xff\xfe not UTF-8\nI could strangle him\n' >"$W/in.txt"
run "--jsonl from stdin" 0 classify "${MT[@]}" --jsonl <"$W/in.txt"
cp "$W/out" "$W/reuse.jsonl"
contains "invalid UTF-8 warning" "$W/err" "not valid UTF-8"
run "--jsonl --batch 3" 0 classify "${MT[@]}" --jsonl --batch 3 -f "$W/in.txt"
cp "$W/out" "$W/batch.jsonl"
run "--jsonl --no-prefix-cache" 0 classify "${MT[@]}" --jsonl --batch 1 --no-prefix-cache -f "$W/in.txt" --format text
pycheck "JSONL fields; label == (p >= 0.5); prefix reuse == no reuse within 1e-3" '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [r["id"] for r in a] == ["1", "3", "4", "5"], [r["id"] for r in a]  # line numbers, blank line skipped
for r, s in zip(a, b):
    assert set(r) == {"id", "label", "p_toxic", "reason", "prompt_tokens", "ms", "text_sha256", "schema_version"}, r
    assert 0 <= r["p_toxic"] <= 1 and r["reason"] is None and r["prompt_tokens"] > 200 and r["ms"] > 0, r
    assert r["label"] == ("toxic" if r["p_toxic"] >= 0.5 else "non-toxic"), r
    assert r["label"] == s["label"] and abs(r["p_toxic"] - s["p_toxic"]) <= 1e-3 and r["prompt_tokens"] == s["prompt_tokens"], (r, s)
for r, s in zip(a, map(json.loads, open(sys.argv[3]))):
    assert r["label"] == s["label"] and abs(r["p_toxic"] - s["p_toxic"]) <= 1e-3, ("--batch 3", r, s)' \
    "$W/reuse.jsonl" "$W/out" "$W/batch.jsonl"

run "--reason" 0 classify "${MT[@]}" --jsonl --reason -n 5 "I could strangle him" -- "-starts with a dash"
pycheck "--reason: reasons present, label is the snapped reason" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2
for r in rows:
    t = r["reason"].strip().lower()
    want = "non-toxic" if "non-toxic" in t else "toxic" if "toxic" in t else "unparsable"
    assert isinstance(r["reason"], str) and r["label"] == want, r' "$W/out"

# --- the default batch: on a CPU device 1 for labels (compute-bound prefill) and 8
# with --reason (lockstep decoding), at most the items to run; GPUs: up to 16
DEVTYPE=$("$BIN" devices --json 2>/dev/null | python3 -c 'import json, sys; print([d["type"] for d in json.load(sys.stdin) if d["default"]][0])')
want=$([ "$DEVTYPE" == cpu ] && echo "1 sequence " || echo "4 sequences")
run "default batch, labels" 0 classify "${MT[@]}" -v --jsonl -f "$W/in.txt"
contains "default batch, labels: $want" "$W/err" "context: $want"
run "default batch, --reason" 0 classify "${MT[@]}" -v --jsonl --reason -n 2 -f "$W/in.txt"
contains "default batch, --reason: 4 sequences" "$W/err" "context: 4 sequences"

# --- resume after SIGKILL, a torn line, and Ctrl-C
RES=$W/res.jsonl
CL=(classify -m "$M" --tokenizer "$TOKDIR/tokenizer.json" -f "$TSV" --limit 40 --out "$RES" --batch 2)
"$BIN" "${CL[@]}" 2>"$W/kill.err" &
pid=$!
for _ in $(seq 400); do
    [ -f "$RES" ] && [ "$(wc -l <"$RES")" -ge 6 ] && break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
n_killed=$(wc -l <"$RES")
if [ "$n_killed" -ge 6 ] && [ "$n_killed" -lt 40 ]; then ok "killed midway after $n_killed items"; else
    bad "kill -9 did not land midway: $n_killed lines"; fi
printf '{"id":"39","label":"to' >>"$RES" # a torn last line, as a crash inside write() leaves
"$BIN" "${CL[@]}" --validate >"$W/out" 2>"$W/err" &
pid=$!
for _ in $(seq 400); do
    [ "$(wc -l <"$RES")" -ge $((n_killed + 3)) ] && break
    sleep 0.05
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" == 130 ] || [ "$rc" == 0 ]; then ok "SIGINT: exit $rc"; else bad "SIGINT: exit $rc: $(head -c 600 "$W/err")"; fi
contains "torn line reported" "$W/err" "torn last line"
[ "$rc" == 130 ] && contains "SIGINT: resume hint" "$W/err" "again to resume"
run "resume" 0 "${CL[@]}" --validate
contains "resume: summary counts resumed items" "$W/err" "already done"
pycheck "resume: every id exactly once, every line whole" '
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "provenance" not in r]
ids = [r["id"] for r in rows]
assert sorted(ids, key=int) == [str(i) for i in range(1, 41)], ids' "$RES"

run "all ids done: the model is not loaded" 0 classify -m "$M" --tokenizer "$TOKDIR/tokenizer.json" -f "$TSV" --limit 40 --out "$RES" -v
contains "all done: summary" "$W/err" "40 more already done"
if grep -q "context:" "$W/err"; then bad "all done: a context was created"; else ok "all done: no context created"; fi

# progress bar on a terminal (script(1) gives the run a pseudo-terminal)
if command -v script >/dev/null; then
    script -qec "'$BIN' classify -m '$M' --tokenizer '$TOKDIR' -f '$W/in.txt' --out '$W/tty.jsonl'" /dev/null >"$W/tty" 2>&1
    contains "progress bar on a terminal" "$W/tty" "4/4 100% [####################]"
    contains "loading progress on a terminal" "$W/tty" "loading the weights:"
    script -qec "'$BIN' classify -q -m '$M' --tokenizer '$TOKDIR' -f '$W/in.txt' --out '$W/tty-q.jsonl'" /dev/null >"$W/tty" 2>&1
    if grep -qE "loading|100%|items" "$W/tty"; then bad "-q on a terminal: $(head -c 300 "$W/tty")"; else ok "-q: no progress, no summary"; fi
else
    bad "script(1) (Debian: bsdutils, which every Debian system has) is needed for the terminal checks"
fi

# --- eval
printf 'label\ttext\ntoxic\tyou are an idiot\nnon-toxic\thave a nice day\ntoxic\tI will hurt you\nnon-toxic\tthanks for the edit\ntoxic\tshut up, moron\nnon-toxic\tsee the talk page\\nfor details\n' >"$W/lab.tsv"
run "eval (text report)" 0 eval "${MT[@]}" -f "$W/lab.tsv" --digits 3
pycheck "eval: sklearn layout" '
import re, sys
t = open(sys.argv[1]).read()
assert re.search(r"^ +precision +recall +f1-score +support$", t, re.M), t
for row in ("non-toxic", "toxic"):
    assert re.search(r"^ +%s +\d\.\d{3} +\d\.\d{3} +\d\.\d{3} +3$" % row, t, re.M), (row, t)
assert re.search(r"^ +accuracy +\d\.\d{3} +6$", t, re.M), t
assert re.search(r"^ +macro avg ", t, re.M) and re.search(r"^ *weighted avg ", t, re.M), t
assert "confusion matrix" in t and "ROC-AUC" in t and "unparsable answers: 0 of 6" in t, t' "$W/out"
run "eval --json --out" 0 eval "${MT[@]}" -f "$W/lab.tsv" --json --out "$W/eval.jsonl"
pycheck "eval --json equals the results and the labels" '
import json, sys
j = json.load(open(sys.argv[1]))
res = {r["id"]: r for r in map(json.loads, open(sys.argv[2])) if "provenance" not in r}
labels = [l.split("\t")[0] for l in open(sys.argv[3]).read().splitlines()[1:]]
assert j["n"] == 6 and j["unparsable"] == 0 and j["unparsable_ids"] == [], j
correct = sum(res[str(i + 1)]["label"] == lab for i, lab in enumerate(labels))
assert abs(j["report"]["accuracy"] - correct / 6) < 1e-12, (j["report"]["accuracy"], correct)
c = j["confusion_matrix"]["counts"]
assert sum(map(sum, c)) == 6 and [sum(r) for r in c] == [3, 3], c
tp = sum(res[str(i + 1)]["label"] == "toxic" and lab == "toxic" for i, lab in enumerate(labels))
assert c[1][1] == tp, (c, tp)
assert j["roc_auc"] is None or 0 <= j["roc_auc"] <= 1, j
for k in ("non-toxic", "toxic", "macro avg", "weighted avg"):
    assert set(j["report"][k]) == {"precision", "recall", "f1-score", "support"}, j["report"][k]' \
    "$W/out" "$W/eval.jsonl" "$W/lab.tsv"
cp "$W/out" "$W/eval1.json"
run "eval again from --out alone" 0 eval "${MT[@]}" -f "$W/lab.tsv" --json --out "$W/eval.jsonl"
if cmp -s "$W/out" "$W/eval1.json"; then ok "eval from --out: the same report"; else bad "eval from --out differs"; fi
run "eval --balance --limit 4" 0 eval -m "$M" --tokenizer "$TOKDIR/tokenizer.json" -f "$TSV" --balance --limit 4 --json
pycheck "eval --balance: 2 + 2 items" '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["n"] == 4 and j["report"]["toxic"]["support"] == 2 and j["report"]["non-toxic"]["support"] == 2, j' "$W/out"

# --- prompts that do not fit the context (--too-long): a model whose whole context is 320 tokens
M320=$W/model320
"$BIN" synth "$M320" --preset tiny --layers 1 --seed 5 --ctx 320 >/dev/null || bad "synth --ctx 320"
M3=(-m "$M320" --tokenizer "$TOKDIR/tokenizer.json")
LONGTEXT=$(python3 -c 'print(" ".join("word%d" % i for i in range(200)))')
printf 'short one\n%s\nanother short\n' "$LONGTEXT" >"$W/long.txt"
run "too long, default skip: exit 3" 3 classify "${M3[@]}" -f "$W/long.txt" --out "$W/long.jsonl"
contains "too long: counted in the summary" "$W/err" "1 skipped (too long)"
contains "too long: exit status explained" "$W/err" "1 item was not classified"
pycheck "too long: an error record with the reason; the others classified" '
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if "provenance" not in r]
by = {r["id"]: r for r in rows}
assert sorted(by) == ["1", "2", "3"], rows
assert by["2"]["label"] == "error" and "more than the model'"'"'s context of 320" in by["2"]["error"], by["2"]
assert "--ctx" not in by["2"]["error"], by["2"]  # the context is already the model'"'"'s maximum
assert by["1"]["label"] in ("toxic", "non-toxic") and by["3"]["label"] in ("toxic", "non-toxic"), rows' "$W/long.jsonl"
run "too long, rerun: skipped again, not written twice" 3 classify "${M3[@]}" -f "$W/long.txt" --out "$W/long.jsonl"
expect_lines=$(grep -c '"id":"2"' "$W/long.jsonl")
if [ "$expect_lines" == 1 ]; then ok "too long, rerun: one error line"; else bad "too long, rerun: $expect_lines lines for id 2"; fi
run "too long: truncate" 0 classify "${M3[@]}" -f "$W/long.txt" --too-long truncate --jsonl
pycheck "truncate: the text is cut to fit and marked" '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["id"]: r for r in rows}
assert by["2"].get("truncated") is True and by["2"]["label"] in ("toxic", "non-toxic"), by["2"]
assert 250 < by["2"]["prompt_tokens"] <= 320, by["2"]
assert "truncated" not in by["1"], by["1"]' "$W/out"
run "too long: error stops the run" 1 classify "${M3[@]}" -f "$W/long.txt" --too-long error
contains "too long, error: names the item" "$W/err" "item 2 (line 2): the prompt has"
printf 'label\ttext\ntoxic\tyou are an idiot\nnon-toxic\thave a nice day\ntoxic\t%s\n' "$LONGTEXT" >"$W/lab-long.tsv"
run "eval with a skipped item: exit 3" 3 eval "${M3[@]}" -f "$W/lab-long.tsv"
contains "eval: the skipped item listed under the report" "$W/out" "not classified (left out of every number above): 1 of 3 items"
contains "eval: the report counts 2 items" "$W/out" "unparsable answers: 0 of 2"
run "eval --json with a skipped item" 3 eval "${M3[@]}" -f "$W/lab-long.tsv" --json
pycheck "eval --json: errors and error_ids" '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["n"] == 2 and j["errors"] == 1 and j["error_ids"] == ["3"], j' "$W/out"

# --- provenance: a resume with another setup is refused and says what differs
cp "$RES" "$W/prov.jsonl"
P=(classify -m "$M" --tokenizer "$TOKDIR/tokenizer.json" -f "$TSV" --limit 40 --out "$W/prov.jsonl")
run "provenance: another prompt is refused" 1 "${P[@]}" --prompt judge-noreason
contains "provenance: names the prompt" "$W/err" "prompt: the file has 'judge-card', this run 'judge-noreason'"
run "provenance: --reason is refused" 1 "${P[@]}" --reason
contains "provenance: names the mode" "$W/err" "mode: the file has 'labels', this run 'reason'"
run "provenance: the current tokenizer is refused" 1 "${P[@]:0:3}" --tokenizer "$DATA/tokenizer/phi3-mini-4k-instruct/tokenizer.json" "${P[@]:5}"
contains "provenance: names the tokenizer" "$W/err" "tokenizer_sha256: the file has"
"$BIN" synth "$W/model-b" --preset tiny --layers 1 --seed 6 >/dev/null
run "provenance: another model is refused" 1 classify -m "$W/model-b" --tokenizer "$TOKDIR/tokenizer.json" -f "$TSV" --limit 40 --out "$W/prov.jsonl"
contains "provenance: names the weights (same shapes, other values)" "$W/err" "weights_sha256: the file has"
contains "provenance: suggests --force-resume" "$W/err" "--force-resume"
run "provenance: --force-resume adds to it" 0 "${P[@]}" --prompt judge-noreason --force-resume
contains "provenance: --force-resume warns" "$W/err" "warning: --force-resume"
pycheck "provenance lines: the original, then the forced one" '
import json, sys
prov = [r["provenance"] for r in map(json.loads, open(sys.argv[1])) if "provenance" in r]
assert [p["prompt"] for p in prov] == ["judge-card", "judge-noreason"], prov
p = prov[0]
for k in ("phi3vk_version", "model", "weights_sha256", "weight_type", "tokenizer", "tokenizer_sha256", "prompt_sha256",
          "mode", "max_new_tokens", "threshold", "too_long", "shard", "device", "driver", "vendor", "kernel_fallbacks"):
    assert k in p, (k, p)
assert p["threshold"] == 0.5 and p["shard"] == "1/1" and p["too_long"] == "skip" and p["kernel_fallbacks"] == [], p
assert len(p["weights_sha256"]) == 64 and p["weight_type"] == "F32", p' "$W/prov.jsonl"

# --- a changed text is run again: an inserted line shifts plain-text ids onto other texts
printf 'alpha text\nbeta text\ngamma text\n' >"$W/shift.txt"
run "text change: first run" 0 classify "${MT[@]}" -f "$W/shift.txt" --out "$W/shift.jsonl"
printf 'inserted line\nalpha text\nbeta text\ngamma text\n' >"$W/shift.txt"
run "text change: rerun" 0 classify "${MT[@]}" -f "$W/shift.txt" --out "$W/shift.jsonl"
contains "text change: 3 run again" "$W/err" "3 run again (text changed)"
pycheck "text change: the last record of every id is for its current line" '
import hashlib, json, sys
last = {}
for r in map(json.loads, open(sys.argv[1])):
    if "provenance" not in r:
        last[r["id"]] = r
lines = open(sys.argv[2]).read().splitlines()
assert sorted(last) == ["1", "2", "3", "4"], last
for i, t in enumerate(lines, 1):
    assert last[str(i)]["text_sha256"] == hashlib.sha256(t.encode()).hexdigest(), (i, t)' "$W/shift.jsonl" "$W/shift.txt"

# --- bad input
run "missing column" 1 classify "${MT[@]}" -f "$W/lab.tsv" --text-col body
contains "missing column named" "$W/err" "body"
run "unknown prompt: a usage error" 2 classify -m "$M" --prompt nope "x"
contains "unknown prompt lists the known ones" "$W/err" "judge-card"
run "eval without -f" 2 eval -m "$M"
run "TEXT and -f both" 2 classify -m "$M" -f "$W/in.txt" "text"

# --- the default model: missing offline, then from a fake Hub, then from the cache
HF_HUB_OFFLINE=1 run "default model missing offline" 1 classify "I could strangle him"
contains "missing: names the pull command" "$W/err" "phi3vk pull grounded-ai/phi3-toxicity-judge-merge"
contains "missing: says how much" "$W/err" "15.3 GB"
mkdir -p "$W/tok"
cp "$TOKDIR/tokenizer.json" "$TOKDIR/tokenizer_config.json" "$W/tok/"
python3 "$HERE/hub_server.py" --max-seconds 60 --serve "grounded-ai/phi3-toxicity-judge-merge=$M" \
    --serve "microsoft/Phi-3-mini-4k-instruct=$W/tok" >"$W/port" 2>"$W/server.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
export HF_ENDPOINT=http://127.0.0.1:$(head -1 "$W/port")
export HF_HOME=$W/hf
run "default model: downloaded on first use" 0 classify "I could strangle him" --validate
contains "download reported" "$W/err" "downloading grounded-ai/phi3-toxicity-judge-merge"
contains "tokenizer downloaded" "$W/err" "downloading microsoft/Phi-3-mini-4k-instruct"
contains "classified after the download" "$W/out" "I could strangle him"
export HF_ENDPOINT=http://127.0.0.1:9 # nothing listens: a download attempt would fail
run "default model: from the cache" 0 classify "I could strangle him" --validate
if grep -q "downloading" "$W/err"; then bad "cached model downloaded again"; else ok "cached: nothing downloaded"; fi
contains "cached: classified" "$W/out" "I could strangle him"
rm -rf "$W"/hf/hub/models--microsoft--Phi-3-mini-4k-instruct
run "tokenizer missing, download fails" 1 classify "x"
contains "tokenizer missing: names the pull command" "$W/err" "phi3vk pull microsoft/Phi-3-mini-4k-instruct --include"
run "repo id with -m" 0 classify -m grounded-ai/phi3-toxicity-judge-merge --tokenizer "$TOKDIR" "x" --validate

echo "$fails failed"
[ "$fails" == 0 ]
