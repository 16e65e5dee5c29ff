#!/usr/bin/env bash
# Every device in the box: two Vulkan devices here are the system's lavapipe
# (Mesa 22.3) and Mesa 25.0's lavapipe (scripts/install-mesa25.sh, unpacked
# into the build folder) listed together in VK_DRIVER_FILES. classify and
# eval with --device all, and serve --device 0,1 under 16 simultaneous
# requests, answer what one device answers: same labels, P(toxic) within 1e-3,
# and both devices did work.
. "$(dirname "$0")/lib.sh"
SRC=${PHI3VK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
TSV=$DATA/toxicity/detoxify_jigsaw_dummy_train.binary.tsv
[ -f "$TSV" ] || { echo "SKIP: $TSV is absent"; exit 77; }
SYS_ICD=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n 1)
[ -n "$SYS_ICD" ] || { echo "SKIP: the system lavapipe (mesa-vulkan-drivers) is absent"; exit 77; }
ICD=$(bash "$SRC/scripts/install-mesa25.sh" "$(dirname "$BIN")/mesa25" 2>"$W/mesa.err") ||
    { echo "SKIP: Mesa 25.0 lavapipe could not be installed (needs deb.debian.org): $(tail -3 "$W/mesa.err")"; exit 77; }
LIB=$(dirname "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ICD"]["library_path"])' "$ICD")")
export VK_DRIVER_FILES=$SYS_ICD:$ICD VK_ICD_FILENAMES=$SYS_ICD:$ICD LD_LIBRARY_PATH=$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
n=$("$BIN" devices --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" == 2 ] && ok "two devices" || { bad "devices: $n, wanted 2: $("$BIN" devices 2>&1)"; finish; exit 1; }

M=$W/model
tiny_model "$M" 2 || { echo "FAIL: synth"; exit 1; }
L=(-f "$TSV" --limit 40)
"$BIN" classify -m "$M" "${L[@]}" --device 0 --jsonl >"$W/one.jsonl" 2>"$W/one.err" || bad "one device: $(cat "$W/one.err")"
"$BIN" classify -m "$M" "${L[@]}" --device all --out "$W/two.jsonl" -v >/dev/null 2>"$W/two.err" || bad "two devices: $(cat "$W/two.err")"
pycheck "classify --device all: the answers of one device, work on both" '
import json, sys
one = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[1])}
lines = [json.loads(l) for l in open(sys.argv[2])]
two = [l for l in lines if "provenance" not in l]
assert len(two) == len(one) == 40 and {r["id"] for r in two} == set(one), (len(two), len(one))
for r in two:
    c = one[r["id"]]
    assert r["label"] == c["label"] and abs(r["p_toxic"] - c["p_toxic"]) <= 1e-3, (r, c)
dev = lines[0]["provenance"]["device"]
assert "llvmpipe" in dev and ("," in dev or "+" in dev or ";" in dev), dev' "$W/one.jsonl" "$W/two.jsonl"
"$BIN" eval -m "$M" "${L[@]}" --device 0 --json >"$W/e1.json" 2>/dev/null
"$BIN" eval -m "$M" "${L[@]}" --device all --json >"$W/e2.json" 2>/dev/null
pycheck "eval --device all: the report of one device" '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("report", "confusion_matrix", "n", "unparsable"):
    assert a[k] == b[k], (k, a[k], b[k])
assert abs(a["roc_auc"] - b["roc_auc"]) <= 1e-3' "$W/e1.json" "$W/e2.json"

serve_start two -m "$M" --device 0,1 --parallel 4 || { finish; exit 1; }
cat >"$W/client.py" <<'PY'
import concurrent.futures, json, sys, urllib.request
port, items = sys.argv[1], [json.loads(l) for l in open(sys.argv[2])]
def call(i):
    body = {"items": [{"id": items[i]["id"], "text": items[i]["text"]}]}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/classify", data=json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=120) as f:
        return json.load(f)["results"][0]
with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
    print(json.dumps(list(ex.map(call, range(16)))))
PY
python3 - "$TSV" "$W/one.jsonl" >"$W/items.jsonl" <<'PY'
import csv, json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[2])][:16]
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t", quoting=csv.QUOTE_NONE))
for i in ids:
    text = rows[int(i) - 1]["text"].replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
    print(json.dumps({"id": i, "text": text}))
PY
timeout 180 python3 "$W/client.py" "$PORT" "$W/items.jsonl" >"$W/srv.json" 2>"$W/client.err" || bad "serve client: $(tail -3 "$W/client.err")"
curl -s "http://127.0.0.1:$PORT/metrics" >"$W/metrics"
pycheck "serve --device 0,1: 16 simultaneous answers of one device" '
import json, sys
one = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2])}
srv = json.load(open(sys.argv[1]))
assert len(srv) == 16
for r in srv:
    c = one[r["id"]]
    assert r["text_sha256"] == c["text_sha256"], (r, c)
    assert r["label"] == c["label"] and abs(r["p_toxic"] - c["p_toxic"]) <= 1e-3, (r, c)' "$W/srv.json" "$W/one.jsonl"
contains "serve --device 0,1: memory of both devices in /metrics" "$W/metrics" 'device="1"'
finish
