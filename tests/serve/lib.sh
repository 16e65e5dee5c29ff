# Shared by tests/serve/*.sh (source it after setting BIN): a scratch folder
# $W, servers started on free loopback ports and killed (by process id) on
# exit, however the script ends, and the ok/bad/contains/pycheck checks.
# Needs: PHI3VK_BIN, PHI3VK_DATA (the tokenizer), curl and python3 (skips
# with 77 when one is absent).
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
DATA=${PHI3VK_DATA:-}
TOKDIR=$DATA/tokenizer/phi3-2024-04
[ -n "$DATA" ] && [ -f "$TOKDIR/tokenizer.json" ] || { echo "SKIP: PHI3VK_DATA (the tokenizer) is absent"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is needed (scripts/install-deps.sh installs it)"; exit 77; }
done
unset PHI3VK_MODEL PHI3VK_API_KEY HF_TOKEN http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost HF_HUB_OFFLINE=1
W=$(mktemp -d)
PIDS=()
fails=0
serve_cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap serve_cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
contains() { # contains NAME FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: [$3] not in: $(head -c 800 "$2")"; fi
}
pycheck() { # pycheck NAME SCRIPT ARGS...: python3 -c SCRIPT ARGS must exit 0
    local name=$1 script=$2
    shift 2
    if python3 -c "$script" "$@" 2>"$W/py"; then ok "$name"; else bad "$name: $(tail -5 "$W/py")"; fi
}
finish() {
    [ "$fails" -eq 0 ] && echo "all ok" || echo "$fails failed"
    [ "$fails" -eq 0 ]
}

# serve_start NAME ARGS...: starts `phi3vk serve --port 0 ARGS` (stderr in
# $W/NAME.err), waits for its port and for /health to say ok (60 s at
# most); sets PORT and SPID. Returns 1 when it does not come up.
serve_start() {
    local name=$1
    shift
    "$BIN" serve --port 0 "$@" 2>"$W/$name.err" &
    SPID=$!
    PIDS+=("$SPID")
    PORT=
    for _ in $(seq 600); do
        PORT=$(grep -o 'listening on http://[^ ]*' "$W/$name.err" | grep -o '[0-9]*$')
        [ -n "$PORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "server $name did not start: $(cat "$W/$name.err")"; return 1; }
    for _ in $(seq 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" == 200 ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server $name did not get ready: $(cat "$W/$name.err")"
    return 1
}

# post PORT PATH BODY [CURL ARGS...]: the body of the answer in $W/body, the status printed
post() {
    local port=$1 path=$2 body=$3
    shift 3
    curl -s -o "$W/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "$@" \
        "http://127.0.0.1:$port$path"
}

# A tiny random-weight Phi-3 (the real vocabulary) with the real tokenizer.
tiny_model() { # tiny_model DIR [LAYERS]
    "$BIN" synth "$1" --preset tiny --layers "${2:-1}" --seed 5 >/dev/null && cp "$TOKDIR/tokenizer.json" "$1/"
}
