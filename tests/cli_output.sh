#!/usr/bin/env bash
# classify and eval output for data work, on a tiny random-weight model with
# the real Phi-3 tokenizer (labels are random: this checks the records, never
# accuracy):
#   - JSON numbers with the digits that matter (p_toxic 6 significant, ms 1);
#   - --csv / --tsv (parsed back), --keep-cols (strings from TSV, JSON types
#     from JSONL), --output-format hf (score = the probability of the label),
#     --threshold (labels and provenance), --out - (JSON lines on stdout),
#     resumed items in input order, -q;
#   - the README's "Output schemas" tables equal the fields phi3vk writes
#     (result, provenance, csv, hf, eval --json, bench rows, bench --kernels);
#   - the README's exit-status table: each code is produced here, and the
#     table lists exactly those;
#   - eval: PR-AUC, the best-F1 threshold and the calibration table / ECE
#     recomputed here from the --out records; a non-toxic-only and a
#     toxic-only file; --plot writes a valid PNG with both curves drawn.
# Env: PHI3VK_BIN, PHI3VK_DATA, PHI3VK_SRC.
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
SRC=${PHI3VK_SRC:?set PHI3VK_SRC to the source tree}
TOK=${PHI3VK_DATA:-/nonexistent}/tokenizer/phi3-2024-04
[ -f "$TOK/tokenizer.json" ] || { echo "SKIP: $TOK/tokenizer.json is absent (PHI3VK_DATA)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
. "$SRC/tests/lib/cli.sh"
unset PHI3VK_MODEL HF_HOME HF_HUB_CACHE HF_ENDPOINT
export HF_HUB_OFFLINE=1
W=$(mktemp -d /tmp/cli_output.XXXXXX)
trap 'rm -rf "$W"' EXIT
CODES=" "
run() { # run NAME WANT ARGS...: stdout in $W/out, stderr in $W/err; records the exit code
    local name=$1 want=$2
    shift 2
    "$BIN" "$@" >"$W/out" 2>"$W/err"
    local rc=$?
    CODES="$CODES$rc "
    expect "$name: exit" "$want" "$rc"
    [ "$rc" = "$want" ] || head -c 600 "$W/err"
}
py() { # py NAME SCRIPT ARGS...
    local name=$1 script=$2
    shift 2
    if python3 -c "$script" "$@" >"$W/py" 2>&1; then expect "$name" 1 1; else expect "$name" ok "$(tail -4 "$W/py")"; fi
}

M=$W/m
"$BIN" synth "$M" --preset tiny --layers 1 --seed 5 --tokenizer "$TOK" -q || { echo "FAIL: synth"; exit 1; }
printf 'id\ttext\tsrc\tn\tlabel\n' >"$W/in.tsv"
i=0
for t in "you are an idiot" "have a nice day" "I will hurt you" "thanks for the edit" "shut up, moron" \
    'see the talk page\nfor "details"' "go away" "lovely work" "nobody likes you" "great catch, thanks"; do
    i=$((i + 1))
    printf 'a%d\t%s\twiki, %d\t%d\t%s\n' "$i" "$t" "$i" "$i" "$([ $((i % 2)) = 1 ] && echo toxic || echo non-toxic)" >>"$W/in.tsv"
done

# --- JSON lines: digits, schema_version, kept columns
run "--jsonl --keep-cols" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --keep-cols src,n --jsonl
cp "$W/out" "$W/a.jsonl"
py "JSONL: 6 significant digits, ms one decimal, schema_version, kept columns as strings, in order" '
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 10, len(lines)
for i, l in enumerate(lines, 1):
    r = json.loads(l)
    assert list(r) == ["id", "label", "p_toxic", "reason", "prompt_tokens", "ms", "text_sha256", "schema_version", "src", "n"], list(r)
    p = re.search(r"\"p_toxic\":([^,]*),", l).group(1)
    assert len(re.sub(r"^0\.0*|[.]|e.*$", "", p)) <= 6, p
    assert re.search(r"\"ms\":\d+\.\d,", l), l
    assert r["schema_version"] == 1 and r["src"] == "wiki, %d" % i and r["n"] == str(i), r
' "$W/a.jsonl"
printf '{"text": "you are an idiot", "meta": {"k": [1, 2]}, "score": 0.5, "ok": true}\n{"text": "hi there", "meta": null, "score": 2, "ok": false}\n' >"$W/in.jsonl"
run "JSONL input, --keep-cols of any JSON type" 0 classify -m "$M" -f "$W/in.jsonl" --keep-cols meta,score,ok --jsonl
py "kept JSONL fields keep their JSON type" '
import json, sys
a, b = [json.loads(l) for l in open(sys.argv[1])]
assert a["meta"] == {"k": [1, 2]} and a["score"] == 0.5 and a["ok"] is True, a
assert b["meta"] is None and b["score"] == 2 and b["ok"] is False, b' "$W/out"
run "--keep-cols of a missing column" 1 classify -m "$M" -f "$W/in.tsv" --keep-cols src,nope --jsonl
expect "names the columns there are" 1 "$(grep -c "no column 'nope' (columns: 'id', 'text', 'src', 'n', 'label')" "$W/err")"

# --- CSV and TSV
run "--csv" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --keep-cols src --csv
cp "$W/out" "$W/a.csv"
run "--tsv" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --keep-cols src --tsv
cp "$W/out" "$W/a.tsv"
py "CSV and TSV parse back to the JSON records" '
import csv, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rows = list(csv.DictReader(open(sys.argv[2], newline="")))
assert list(rows[0]) == ["id", "label", "p_toxic", "reason", "error", "truncated", "prompt_tokens", "ms", "src"], list(rows[0])
def untsv(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[s[i + 1]]); i += 2
        else:
            out.append(s[i]); i += 1
    return "".join(out)
lines = open(sys.argv[3]).read().split("\n")
assert lines[-1] == "" and len(lines) == 12, len(lines)
head = lines[0].split("\t")
trows = [dict(zip(head, map(untsv, l.split("\t")))) for l in lines[1:-1]]
for r, c, t in zip(recs, rows, trows):
    for x in (c, t):
        assert x["id"] == r["id"] and x["label"] == r["label"] and float(x["p_toxic"]) == r["p_toxic"], (r, x)
        assert x["reason"] == "" and x["error"] == "" and x["truncated"] == "0" and x["src"] == r["src"], x
        assert int(x["prompt_tokens"]) == r["prompt_tokens"], x' "$W/a.jsonl" "$W/a.csv" "$W/a.tsv"

# --- --output-format hf
run "--output-format hf" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --output-format hf
cp "$W/out" "$W/hf.json"
py "hf: a list of {label, score}, score = P(label), input order" '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
hf = json.load(open(sys.argv[2]))
assert isinstance(hf, list) and len(hf) == len(recs), hf
for r, h in zip(recs, hf):
    assert list(h) == ["label", "score"] and h["label"] == r["label"], (r, h)
    want = r["p_toxic"] if r["label"] == "toxic" else 1 - r["p_toxic"]
    assert abs(h["score"] - want) < 2e-6 and h["score"] >= 0.5 - 1e-6, (r, h)' "$W/a.jsonl" "$W/out"

# --- --threshold: labels and provenance
run "--threshold 0.9" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --threshold 0.9 --out "$W/t.jsonl"
py "--threshold: label toxic exactly when P(toxic) >= T; recorded" '
import json, sys
prov = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{\"provenance\"")]
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{\"id\"")]
assert len(prov) == 1 and prov[0]["provenance"]["threshold"] == 0.9 and prov[0]["schema_version"] == 1, prov
full = {r["id"]: r["p_toxic"] for r in map(json.loads, open(sys.argv[2]))}
for r in recs:
    assert r["label"] == ("toxic" if full[r["id"]] >= 0.9 else "non-toxic"), r' "$W/t.jsonl" "$W/a.jsonl"
run "resuming with another --threshold" 1 classify -m "$M" -f "$W/in.tsv" --id-col id --threshold 0.8 --out "$W/t.jsonl"
expect "the provenance names the threshold" 1 "$(grep -c "threshold: the file has 0.9, this run 0.8" "$W/err")"

# --- --out -, resumed items in the records, -q
run "--out -" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --keep-cols src,n --out -
py "--out - == --jsonl (but ms)" '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
for x in a + b: x.pop("ms")
assert a == b' "$W/a.jsonl" "$W/out"
[ -e "$W/-" ] && expect "--out - writes no file named '-'" absent present
head -n 4 "$W/in.tsv" >"$W/part.tsv"
run "a first run of 3 items" 0 classify -m "$M" -f "$W/part.tsv" --id-col id --out "$W/r.jsonl"
run "the rest, resumed, as CSV" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --out "$W/r.jsonl" --csv
py "CSV lists resumed and new items in input order" '
import csv, sys
ids = [r["id"] for r in csv.DictReader(open(sys.argv[1], newline=""))]
assert ids == ["a%d" % i for i in range(1, 11)], ids' "$W/out"
run "-q" 0 classify -q -m "$M" -f "$W/in.tsv" --id-col id --jsonl
expect "-q: nothing on stderr" "" "$(cat "$W/err")"

# --- eval: metrics recomputed from the records, one-class files, the plot
run "eval --json --out" 0 eval -m "$M" -f "$W/in.tsv" --id-col id --json --out "$W/e.jsonl"
cp "$W/out" "$W/e.json"
py "eval --json: PR-AUC, best F1, calibration and ECE from the records" '
import json, sys
rep = json.load(open(sys.argv[1]))
recs = {r["id"]: r for r in map(json.loads, open(sys.argv[2])) if "id" in r}
y = {l.split("\t")[0]: l.rstrip("\n").split("\t")[4] == "toxic" for l in list(open(sys.argv[3]))[1:]}
pts = sorted(((recs[i]["p_toxic"], y[i]) for i in recs), key=lambda t: -t[0])
npos = sum(t for _, t in pts)
ap, prev, tp, fp, best = 0.0, 0.0, 0, 0, (-1, None)
i = 0
while i < len(pts):
    s = pts[i][0]
    while i < len(pts) and pts[i][0] == s:
        tp += pts[i][1]; fp += 1 - pts[i][1]; i += 1
    ap += (tp / npos - prev) * tp / (tp + fp); prev = tp / npos
    f1 = 2 * tp / (tp + fp + npos)
    if f1 > best[0]: best = (f1, s)
ece = 0.0
for b in range(10):
    inb = [(p, t) for p, t in pts if min(9, sum(p >= k * 0.1 for k in range(1, 10))) == b]
    c = rep["calibration"]["bins"][b]
    assert c["count"] == len(inb), (b, c, inb)
    if inb:
        mp = sum(p for p, _ in inb) / len(inb); fr = sum(t for _, t in inb) / len(inb)
        assert abs(c["mean_p_toxic"] - mp) < 1e-5 and abs(c["fraction_toxic"] - fr) < 1e-6, (c, mp, fr)
        ece += len(inb) / len(pts) * abs(mp - fr)
assert abs(rep["pr_auc"] - ap) < 1e-5, (rep["pr_auc"], ap)
assert abs(rep["best_f1"]["f1"] - best[0]) < 1e-5 and abs(rep["best_f1"]["threshold"] - best[1]) < 1e-5, (rep["best_f1"], best)
assert abs(rep["calibration"]["ece"] - ece) < 1e-5, (rep["calibration"]["ece"], ece)
assert rep["schema_version"] == 1 and rep["roc_auc"] is not None' "$W/e.json" "$W/e.jsonl" "$W/in.tsv"
grep -v "	toxic$" "$W/in.tsv" >"$W/nontoxic.tsv"
run "eval of a non-toxic-only file" 0 eval -m "$M" -f "$W/nontoxic.tsv" --id-col id
expect "says ROC-AUC is undefined" 1 "$(grep -c "ROC-AUC of P(toxic): undefined" "$W/out")"
expect "says PR-AUC is undefined" 1 "$(grep -c "PR-AUC (average precision) of P(toxic): undefined (no toxic item)" "$W/out")"
expect "still has the calibration table" 1 "$(grep -c "expected calibration error (ECE)" "$W/out")"
run "eval --json of a non-toxic-only file" 0 eval -m "$M" -f "$W/nontoxic.tsv" --id-col id --json
py "nulls where undefined" '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["roc_auc"] is None and r["pr_auc"] is None and r["best_f1"]["f1"] is None, r
assert r["report"]["non-toxic"]["support"] == 5 and r["report"]["toxic"]["support"] == 0, r["report"]' "$W/out"
grep -v "	non-toxic$" "$W/in.tsv" >"$W/toxic.tsv"
run "eval of a toxic-only file" 0 eval -m "$M" -f "$W/toxic.tsv" --id-col id
expect "toxic-only: ROC-AUC undefined, PR-AUC defined" "1 0" \
    "$(grep -c "ROC-AUC of P(toxic): undefined" "$W/out") $(grep -c "PR-AUC.*undefined" "$W/out")"
run "eval --plot" 0 eval -m "$M" -f "$W/in.tsv" --id-col id --plot "$W/p.png"
py "--plot: a valid 960x440 PNG with the ROC curve (blue) and the reliability points (orange)" '
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n"
pos, chunks = 8, {}
while pos < len(d):
    n, = struct.unpack(">I", d[pos:pos + 4]); t = d[pos + 4:pos + 8]; body = d[pos + 8:pos + 8 + n]
    crc, = struct.unpack(">I", d[pos + 8 + n:pos + 12 + n])
    assert zlib.crc32(t + body) == crc, t
    chunks[t] = chunks.get(t, b"") + body; pos += 12 + n
w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
assert (w, h, depth, ctype) == (960, 440, 8, 2), (w, h, depth, ctype)
raw = zlib.decompress(chunks[b"IDAT"])
assert len(raw) == h * (1 + 3 * w) and all(raw[r * (1 + 3 * w)] == 0 for r in range(h))
px = [raw[r * (1 + 3 * w) + 1 + 3 * x: r * (1 + 3 * w) + 4 + 3 * x] for r in range(h) for x in range(w)]
blue = sum(p == b"\x1f\x5e\xb4" for p in px); orange = sum(p == b"\xdc\x6e\x14" for p in px)
assert blue > 300 and orange > 80, (blue, orange)
assert b"IEND" in chunks' "$W/p.png"

# --- the README's schemas are the fields written
# a context that the longest prompt overflows by a few tokens: its text gets truncated
CTX_CUT=$(python3 -c 'import json, sys; print(max(json.loads(l)["prompt_tokens"] for l in open(sys.argv[1])) - 3)' "$W/a.jsonl")
"$BIN" bench --synthetic tiny --layers 1 -p 8 -n 2 -r 1 -q -o jsonl >"$W/bench.jsonl" 2>/dev/null
"$BIN" bench --kernels --shape 64x64 --samples 1 -r 1 -o jsonl >"$W/kernels.jsonl" 2>/dev/null
run "too long: error records" 3 classify -m "$M" -f "$W/in.tsv" --id-col id --ctx 64 --out "$W/err.jsonl"
run "too long, truncate: truncated records" 0 classify -m "$M" -f "$W/in.tsv" --id-col id --ctx "$CTX_CUT" --too-long truncate --jsonl
cp "$W/out" "$W/trunc.jsonl"
py "README schemas == the fields written" '
import csv, json, re, sys
t = open(sys.argv[1]).read()
def table(name):
    m = re.search(r"<!-- schema: %s -->\n\|[^\n]*\n\|[-| ]*\n((?:\|[^\n]*\n)+)" % name, t)
    assert m, name
    names = []
    for row in m.group(1).splitlines():
        names += re.findall(r"`([a-z_0-9-]+)`", row.split("|")[1])
    return names
W = sys.argv[2]
recs = [json.loads(l) for f in ("a", "err", "trunc") for l in open(W + "/" + f + ".jsonl")]
prov = [r for r in recs if "provenance" in r]
res = [r for r in recs if "id" in r]
seen = []
for r in res:
    seen += [k for k in r if k not in seen and k not in ("src", "n")]
assert sorted(seen) == sorted(table("result")), (seen, table("result"))
assert list(prov[0]) == ["provenance", "schema_version"] and list(prov[0]["provenance"]) == table("provenance"), list(prov[0]["provenance"])
assert next(csv.reader(open(W + "/a.csv")))[:-1] == table("csv")
assert list(json.load(open(W + "/hf.json"))[0]) == table("hf")
assert list(json.load(open(W + "/e.json"))) == table("eval"), list(json.load(open(W + "/e.json")))
assert list(json.loads(open(W + "/bench.jsonl").readline())) == table("bench"), list(json.loads(open(W + "/bench.jsonl").readline()))
assert list(json.loads(open(W + "/kernels.jsonl").readline())) == table("kernels")' "$SRC/README.md" "$W"
expect "a too-long item gives an error record" 1 "$(grep -c '"label":"error"' "$W/err.jsonl" | sed 's/^[1-9][0-9]*$/1/')"
expect "a truncated record" 1 "$(grep -c '"truncated":true' "$W/trunc.jsonl" | sed 's/^[1-9][0-9]*$/1/')"

# --- the exit-status table: every code is produced here, and the table lists exactly those
run "usage error" 2 classify -m "$M" --frob
run "error: a missing input file" 1 classify -m "$M" -f "$W/nothing.tsv"
printf 'id\ttext\n' >"$W/big.tsv"
for i in $(seq 1 400); do printf 'b%d\tsome text number %d to classify\n' "$i" "$i" >>"$W/big.tsv"; done
"$BIN" classify -m "$M" -f "$W/big.tsv" --id-col id --batch 1 --out "$W/int.jsonl" >/dev/null 2>"$W/err" &
pid=$!
for _ in $(seq 1 600); do [ "$(cat "$W/int.jsonl" 2>/dev/null | grep -c '"id"')" -ge 2 ] && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"
rc=$?
CODES="$CODES$rc "
expect "Ctrl-C: exit" 130 "$rc"
py "README exit-status table == the codes seen" '
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"<!-- exit-codes -->\n\|[^\n]*\n\|[-| ]*\n((?:\|[^\n]*\n)+)", t)
table = sorted(int(r.split("|")[1]) for r in m.group(1).splitlines())
seen = sorted(set(int(c) for c in sys.argv[2].split()))
assert table == seen, (table, seen)' "$SRC/README.md" "$CODES"
finish
