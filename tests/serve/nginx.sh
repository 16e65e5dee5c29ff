#!/usr/bin/env bash
# Two phi3vk serve replicas behind nginx (the README's configuration, on
# loopback ports): a classify client sends 48 items through nginx, one
# replica is killed (SIGKILL) a third of the way in, and the client still
# ends with every id exactly once, each answer equal to classify --jsonl's.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "SKIP: nginx is needed (scripts/install-deps.sh installs it)"; exit 77; }

M=$W/model
tiny_model "$M" || { echo "FAIL: synth"; exit 1; }
serve_start a -m "$M" --parallel 4 || exit 1
PA=$PORT A=$SPID
serve_start b -m "$M" --parallel 4 || exit 1
PB=$PORT
# nginx's own port: let the kernel pick one, then hand it to nginx
NP=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$W/nginx"
user=""
[ "$(id -u)" == 0 ] && user="user root;"
cat >"$W/nginx/nginx.conf" <<CONF
$user
daemon off;
master_process off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log $W/nginx/access.log;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    upstream phi3vk {
        least_conn;
        server 127.0.0.1:$PA max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$PB max_fails=1 fail_timeout=30s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$NP;
        client_max_body_size 4m;
        location / {
            proxy_pass http://phi3vk;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 2;
        }
    }
}
CONF
"$NGINX" -e "$W/nginx/error.log" -p "$W/nginx" -c "$W/nginx/nginx.conf" >"$W/nginx/out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NP/health")" == 200 ] && break
    sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NP/health")" == 200 ] && ok "nginx: up in front of two replicas" ||
    { bad "nginx did not start: $(cat "$W/nginx/error.log")"; finish; exit 1; }

python3 - "$W/items.jsonl" <<'PY'
import json, sys
words = ["idiot", "lovely", "train", "hate", "help", "stupid", "friend", "late"]
with open(sys.argv[1], "w") as f:
    for i in range(48):
        f.write(json.dumps({"id": f"item-{i:03d}", "text": f"You are a {words[i % 8]} number {i}"}) + "\n")
PY
"$BIN" classify -m "$M" --jsonl --id-col id -f "$W/items.jsonl" >"$W/ref.jsonl" 2>/dev/null || bad "classify --jsonl reference"
cat >"$W/client.py" <<'PY'
# A pipeline's classify client: 3 items a request, 4 at a time, a failed
# request is sent again (a few times); calls KILL after 16 answers.
import concurrent.futures, json, os, sys, threading, time, urllib.request, urllib.error
port, items_path, out, kill_pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
items = [json.loads(l) for l in open(items_path)]
batches = [items[i:i + 3] for i in range(0, len(items), 3)]
done, lock, killed = [], threading.Lock(), [False]
def send(batch):
    for attempt in range(6):
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/classify", data=json.dumps({"items": batch}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as f:
                res = json.load(f)["results"]
            break
        except (urllib.error.URLError, ConnectionError) as e:
            time.sleep(0.2 * (attempt + 1))
    else:
        raise SystemExit(f"batch {batch[0]['id']} failed 6 times")
    with lock:
        done.extend(res)
        if len(done) >= 16 and not killed[0]:
            killed[0] = True
            os.kill(kill_pid, 9)
    return len(res)
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    list(ex.map(send, batches))
assert killed[0]
with open(out, "w") as f:
    for r in done:
        f.write(json.dumps(r) + "\n")
PY
timeout 180 python3 "$W/client.py" "$NP" "$W/items.jsonl" "$W/got.jsonl" "$A" 2>"$W/client.err" && ok "client finished" ||
    bad "client: $(tail -5 "$W/client.err")"
kill -0 "$A" 2>/dev/null && bad "replica a still runs" || ok "replica a was killed mid-run"
pycheck "every id exactly once, answers equal to classify --jsonl" '
import collections, json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
ref = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[2])}
n = collections.Counter(r["id"] for r in got)
assert set(n) == set(ref) and all(v == 1 for v in n.values()), n
for r in got:
    c = ref[r["id"]]
    assert r["label"] == c["label"] and abs(r["p_toxic"] - c["p_toxic"]) <= 1e-3, (r, c)' "$W/got.jsonl" "$W/ref.jsonl"
finish
