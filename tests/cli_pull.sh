#!/usr/bin/env bash
# `phi3vk pull` against a local fake Hub (tests/hub_server.py on 127.0.0.1, never the internet):
# a fresh pull into the HF cache layout, a pull into a cache that holds everything (no
# downloads), --include, unknown repo/revision/id, a download cut midway (kept as .incomplete,
# resumed with Range; also within one run), a server that ignores Range, corrupted bytes caught
# by sha256 (nothing complete-looking left), a server without ?blobs=true (HEAD fallback),
# HF_TOKEN and the token file, HF_HUB_OFFLINE, revision by sha, the judge's tokenizer from its base.
# Env: PHI3VK_BIN = the phi3vk binary. Every server is killed on exit (trap).
set -u
BIN=${PHI3VK_BIN:?set PHI3VK_BIN to the phi3vk binary}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY is missing (needed for the local fake Hub)"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }

TMP=$(mktemp -d /tmp/cli_pull.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Nothing from the caller's environment may redirect traffic or the cache.
unset HF_TOKEN HF_TOKEN_PATH HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_HUB_OFFLINE XDG_CACHE_HOME HF_ENDPOINT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
export HF_HOME=$TMP/hfhome
mkdir -p "$HF_HOME"

checks=0
fails=0
ok() { # ok "what" command...
    local what=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        fails=$((fails + 1))
        echo "FAIL: $what"
        echo "  stderr: $(head -c 600 "$TMP/err" 2>/dev/null)"
    fi
}
has() { grep -qF -- "$2" "$1"; }    # has FILE TEXT
count() { grep -cF -- "$2" "$1"; }  # count FILE TEXT (lines)
eq() { [ "$1" = "$2" ]; }

# start_server NAME [server args]: sets PORT, LOG and HF_ENDPOINT.
start_server() {
    local name=$1
    shift
    LOG=$TMP/$name.log
    : >"$LOG"
    "$PY" "$HERE/hub_server.py" --log "$LOG" --manifest "$TMP/manifest.json" --max-seconds 120 "$@" \
        >"$TMP/$name.port" 2>"$TMP/$name.stderr" &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$TMP/$name.port" ] && break
        sleep 0.1
    done
    PORT=$(head -1 "$TMP/$name.port")
    if [ -z "$PORT" ]; then
        echo "FAIL: hub_server.py did not start: $(cat "$TMP/$name.stderr")"
        exit 1
    fi
    export HF_ENDPOINT=http://127.0.0.1:$PORT
}
stop_server() {
    local last=$((${#PIDS[@]} - 1))
    kill "${PIDS[$last]}" 2>/dev/null
    wait "${PIDS[$last]}" 2>/dev/null
}

# pull ARGS...: runs phi3vk pull with a time bound; sets RC, output in $TMP/out and $TMP/err.
pull() {
    timeout 60 "$BIN" pull "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

REPO=phi3vk-test/tiny-phi3
start_server main
# What the server serves, read once from its manifest: "sha SHA" then "file NAME ETAG SHA256 SIZE".
declare -A ETAG SUM SIZE
while read -r kind a b c d; do
    case $kind in
    sha) SHA=$a ;;
    file) ETAG[$a]=$b SUM[$a]=$c SIZE[$a]=$d ;;
    esac
done < <("$PY" -c "
import json
m = json.load(open('$TMP/manifest.json'))['$REPO']
print('sha', m['sha'])
for n, f in m['files'].items():
    print('file', n, f['etag'], f['sha256'], f['size'])")
LFS=${SUM[model.safetensors]}
LFS_SIZE=${SIZE[model.safetensors]}
MODEL_FILES="config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json special_tokens_map.json"
rdir() { echo "$1/models--phi3vk-test--tiny-phi3"; }

# check_snapshot CACHE FILES...: each file is a symlink ../../blobs/<etag> whose bytes hash as served.
check_snapshot() {
    local cache=$1 f
    shift
    local snap
    snap=$(rdir "$cache")/snapshots/$SHA
    for f in "$@"; do
        local etag=${ETAG[$f]} want_sha=${SUM[$f]} up
        up=../../
        case $f in */*) up=../../../ ;; esac
        ok "$f is a symlink into blobs/" [ -L "$snap/$f" ]
        ok "$f links to ${up}blobs/$etag" eq "$(readlink "$snap/$f")" "${up}blobs/$etag"
        ok "$f has the served bytes" eq "$(sha256sum 2>/dev/null <"$snap/$f" | cut -d' ' -f1)" "$want_sha"
    done
}

# ---- 1. a fresh pull ----
C1=$TMP/c1
pull $REPO --cache-dir "$C1"
ok "fresh pull exits 0" eq "$RC" 0
ok "prints the snapshot folder" eq "$(cat "$TMP/out")" "$(rdir "$C1")/snapshots/$SHA"
ok "refs/main holds the sha, no newline" eq "$(cat 2>/dev/null "$(rdir "$C1")/refs/main")" "$SHA"
ok "refs/main is 40 bytes" eq "$(wc -c 2>/dev/null <"$(rdir "$C1")/refs/main")" 40
check_snapshot "$C1" $MODEL_FILES
ok "README.md not fetched" [ ! -e "$(rdir "$C1")/snapshots/$SHA/README.md" ]
ok "onnx/ not fetched" [ ! -e "$(rdir "$C1")/snapshots/$SHA/onnx" ]
ok "no .incomplete left" eq "$(find "$C1" -name '*.incomplete' 2>/dev/null | wc -l)" 0
ok "one listing request with ?blobs=true" eq "$(count "$LOG" "GET /api/models/$REPO/revision/main?blobs=true")" 1
ok "six resolve requests, by commit sha" eq "$(count "$LOG" "/resolve/$SHA/")" 6
ok "no resolve by branch name" eq "$(count "$LOG" "/resolve/main/")" 0
ok "one CDN request for the LFS file" eq "$(count "$LOG" "GET /cdn-lfs/$LFS")" 1
ok "README.md never requested" eq "$(count "$LOG" README.md)" 0
ok "summary on stderr" has "$TMP/err" "pulled $REPO at ${SHA:0:12}: 6 files"

# ---- 2. everything already cached (found through HF_HUB_CACHE): nothing downloaded ----
: >"$LOG"
HF_HUB_CACHE=$C1 pull $REPO
ok "cached pull exits 0" eq "$RC" 0
ok "cached pull: only the listing request" eq "$(wc -l <"$LOG")" 1
ok "cached pull: says so" has "$TMP/err" "6 already cached, 0 B downloaded"
ok "cached pull: same snapshot" eq "$(cat "$TMP/out")" "$(rdir "$C1")/snapshots/$SHA"
: >"$LOG"
HF_HUB_CACHE=$C1 pull $REPO --dry-run
ok "dry run on a full cache: nothing to fetch" has "$TMP/err" "6 already cached; would download 0 B"

# ---- 3. --include replaces the model file set ----
: >"$LOG"
pull $REPO --cache-dir "$C1" --include 'README.md, onnx/*'
ok "--include exits 0" eq "$RC" 0
check_snapshot "$C1" README.md onnx/model.onnx
ok "--include: only the two files requested" eq "$(count "$LOG" "/resolve/$SHA/")" 2
pull $REPO --cache-dir "$C1" --include '*.nothing'
ok "--include matching nothing fails" eq "$RC" 1
ok "--include matching nothing says what the repo has" has "$TMP/err" "no file matches the --include patterns"

# ---- 4. unknown repo, unknown revision, bad id, usage ----
pull nobody/nothing --cache-dir "$C1"
ok "unknown repo exits 1" eq "$RC" 1
ok "unknown repo named in the error" has "$TMP/err" "repository nobody/nothing not found on $HF_ENDPOINT"
ok "unknown repo: mentions HF_TOKEN" has "$TMP/err" "HF_TOKEN"
ok "unknown repo: no cache folder made" [ ! -e "$C1/models--nobody--nothing" ]
pull $REPO@no-such-branch --cache-dir "$C1"
ok "unknown revision exits 1" eq "$RC" 1
ok "unknown revision named" has "$TMP/err" "revision 'no-such-branch' not found in $REPO"
pull 'bad id/x' --cache-dir "$C1"
ok "bad repo id exits 1" eq "$RC" 1
ok "bad repo id explained" has "$TMP/err" "invalid character ' ' at position 4 in the owner"
pull
ok "no repo: usage error 2" eq "$RC" 2
pull $REPO --retries
ok "option without value: usage error 2" eq "$RC" 2
pull $REPO --frobnicate
ok "unknown option: usage error 2" eq "$RC" 2
pull --help
ok "--help exits 0" eq "$RC" 0
ok "--help shows usage" has "$TMP/out" "usage: phi3vk pull REPO[@REV]"
pull $REPO --cache-dir "$TMP/c-unreach" --endpoint http://127.0.0.1:1
ok "unreachable endpoint exits 1" eq "$RC" 1
ok "unreachable endpoint explained" has "$TMP/err" "cannot reach http://127.0.0.1:1"
HF_HUB_OFFLINE=1 pull $REPO --cache-dir "$TMP/c-offline"
ok "HF_HUB_OFFLINE refuses" has "$TMP/err" "HF_HUB_OFFLINE is set"
stop_server

# ---- 5. the connection drops midway; no retries: a .incomplete stays; the next run resumes ----
start_server drop --mode drop-once
C2=$TMP/c2
pull $REPO --cache-dir "$C2" --retries 0
ok "dropped transfer, no retries: exits 1" eq "$RC" 1
ok "dropped transfer: says how to resume" has "$TMP/err" "run the same command again to resume"
INC=$(rdir "$C2")/blobs/$LFS.incomplete
PART=$(stat -c %s "$INC" 2>/dev/null || echo 0)
ok "partial bytes kept in .incomplete ($PART of $LFS_SIZE)" [ "$PART" -gt 0 -a "$PART" -lt "$LFS_SIZE" ]
ok "no complete-looking blob" [ ! -e "$(rdir "$C2")/blobs/$LFS" ]
ok "no snapshot link to it" [ ! -e "$(rdir "$C2")/snapshots/$SHA/model.safetensors" ]
ok "no ref to a half-filled snapshot" [ ! -e "$(rdir "$C2")/refs/main" ]
: >"$LOG"
pull $REPO --cache-dir "$C2"
ok "resumed pull exits 0" eq "$RC" 0
ok "resumed with Range bytes=$PART-" has "$LOG" "GET /cdn-lfs/$LFS bytes=$PART- 206"
ok "resumed pull: files completed before the drop not fetched again" \
    eq "$(count "$LOG" "/resolve/$SHA/config.json")$(count "$LOG" "/resolve/$SHA/generation_config.json")" 00
ok "resumed pull: says 2 were cached" has "$TMP/err" "(2 already cached"
check_snapshot "$C2" model.safetensors
ok "resumed pull: .incomplete gone" [ ! -e "$INC" ]
ok "resumed pull: refs/main written" eq "$(cat 2>/dev/null "$(rdir "$C2")/refs/main")" "$SHA"
stop_server

# ---- 6. dropped midway, retried within one run (progress on with -v) ----
start_server drop2 --mode drop-once
C3=$TMP/c3
pull $REPO --cache-dir "$C3" -v
ok "retried pull exits 0" eq "$RC" 0
ok "retried pull: reported the break" has "$TMP/err" "transfer broke"
ok "retried pull: resumed with a Range request" eq "$(grep -c "GET /cdn-lfs/$LFS bytes=[1-9][0-9]*- 206" "$LOG")" 1
ok "retried pull: per-file progress" has "$TMP/err" "[3/6] model.safetensors: done"
check_snapshot "$C3" $MODEL_FILES
stop_server

# ---- 7. dropped midway by a server that ignores Range: the file restarts from 0 ----
start_server norange --mode drop-once,no-range
C4=$TMP/c4
pull $REPO --cache-dir "$C4"
ok "no-range pull exits 0" eq "$RC" 0
ok "no-range: the Range request got a 200" eq "$(grep -c "GET /cdn-lfs/$LFS bytes=[1-9][0-9]*- 200" "$LOG")" 1
check_snapshot "$C4" model.safetensors
stop_server

# ---- 8. corrupted bytes: caught by sha256, nothing complete-looking left ----
start_server corrupt --mode corrupt
C5=$TMP/c5
pull $REPO --cache-dir "$C5"
ok "corrupt download exits 1" eq "$RC" 1
ok "corrupt download: sha256 mismatch named" has "$TMP/err" "model.safetensors: sha256 mismatch: the Hub lists $LFS"
ok "corrupt download: no blob" [ ! -e "$(rdir "$C5")/blobs/$LFS" ]
ok "corrupt download: no .incomplete" [ ! -e "$(rdir "$C5")/blobs/$LFS.incomplete" ]
ok "corrupt download: no snapshot link" [ ! -e "$(rdir "$C5")/snapshots/$SHA/model.safetensors" ]
ok "corrupt download: no ref" [ ! -e "$(rdir "$C5")/refs/main" ]
stop_server

# ---- 9. a Hub mirror without ?blobs=true: HEAD gives the etags, same layout ----
start_server noblobs --mode no-blobs
C6=$TMP/c6
pull $REPO --cache-dir "$C6"
ok "no-blobs pull exits 0" eq "$RC" 0
ok "no-blobs: HEAD for each file" eq "$(count "$LOG" "HEAD /$REPO/resolve/$SHA/")" 6
check_snapshot "$C6" $MODEL_FILES
stop_server

# ---- 10. a private repo: HF_TOKEN, then the token file; the token is never printed ----
start_server private --token s3cret-token
C7=$TMP/c7
pull $REPO --cache-dir "$C7"
ok "no token: exits 1" eq "$RC" 1
ok "no token: suggests HF_TOKEN" has "$TMP/err" "set HF_TOKEN to a token with access"
HF_TOKEN=wrong pull $REPO --cache-dir "$C7"
ok "wrong token: says the token lacks access" has "$TMP/err" "the token sent (HF_TOKEN) lacks access"
HF_TOKEN=s3cret-token pull $REPO --cache-dir "$C7"
ok "HF_TOKEN: exits 0" eq "$RC" 0
check_snapshot "$C7" config.json
printf 's3cret-token\n' >"$HF_HOME/token"
pull $REPO --cache-dir "$TMP/c8"
ok "token file of huggingface-cli login: exits 0" eq "$RC" 0
rm -f "$HF_HOME/token"
ok "token never printed" eq "$(grep -c s3cret "$TMP/err")" 0

# ---- 11. a revision given as the commit sha: no ref is written ----
HF_TOKEN=s3cret-token pull "$REPO@$SHA" --cache-dir "$TMP/c9"
ok "pull by sha with token: exits 0" eq "$RC" 0
ok "pull by sha: snapshot" eq "$(cat "$TMP/out")" "$(rdir "$TMP/c9")/snapshots/$SHA"
ok "pull by sha: no refs/" [ ! -e "$(rdir "$TMP/c9")/refs" ]
HF_TOKEN=s3cret-token pull $REPO --revision "$SHA" --cache-dir "$TMP/c9" -q
ok "--revision overrides: exits 0, quiet" eq "$RC:$(wc -c <"$TMP/err")" "0:0"
stop_server

# ---- 12. the judge has no tokenizer: pull also fetches its base model's tokenizer files ----
J=$TMP/judge-src
B=$TMP/base-src
mkdir -p "$J" "$B"
printf '{"model_type": "phi3"}\n' >"$J/config.json"
cp "$J/config.json" "$J/generation_config.json" # same bytes: one blob, fetched once
head -c 3000 /dev/urandom >"$J/model.safetensors"
printf '{"model_type": "phi3", "base": true}\n' >"$B/config.json"
head -c 5000 /dev/urandom >"$B/model.safetensors"
printf '{"model": {"type": "BPE"}}\n' >"$B/tokenizer.json"
printf '{"bos_token": "<s>"}\n' >"$B/tokenizer_config.json"
printf '{"eos_token": "</s>"}\n' >"$B/special_tokens_map.json"
start_server judge --serve "grounded-ai/phi3-toxicity-judge-merge=$J" --serve "microsoft/Phi-3-mini-4k-instruct=$B"
C10=$TMP/c10
pull grounded-ai/phi3-toxicity-judge-merge --cache-dir "$C10"
ok "judge pull exits 0" eq "$RC" 0
JS=$(cat "$TMP/out")
ok "judge pull prints only the judge snapshot" eq "$(wc -l <"$TMP/out"):${JS#"$C10"/models--grounded-ai--phi3-toxicity-judge-merge/snapshots/}" "1:$(cat 2>/dev/null "$C10/models--grounded-ai--phi3-toxicity-judge-merge/refs/main")"
ok "judge weights pulled" cmp -s "$JS/model.safetensors" "$J/model.safetensors"
ok "identical files share one blob" eq "$(readlink "$JS/config.json")" "$(readlink "$JS/generation_config.json")"
ok "identical files: the second is not fetched" eq "$(count "$LOG" /generation_config.json)" 0
BS=$C10/models--microsoft--Phi-3-mini-4k-instruct/snapshots/$(cat 2>/dev/null "$C10/models--microsoft--Phi-3-mini-4k-instruct/refs/main")
for f in tokenizer.json tokenizer_config.json special_tokens_map.json; do
    ok "base tokenizer file $f pulled" cmp -s "$BS/$f" "$B/$f"
done
ok "base weights not pulled" [ ! -e "$BS/model.safetensors" -a ! -e "$BS/config.json" ]
ok "judge pull: reports the tokenizer pull" has "$TMP/err" "pulled microsoft/Phi-3-mini-4k-instruct"
C11=$TMP/c11
pull grounded-ai/phi3-toxicity-judge-merge --cache-dir "$C11" --no-tokenizer
ok "--no-tokenizer: exits 0, no base repo" eq "$RC:$(ls "$C11")" "0:models--grounded-ai--phi3-toxicity-judge-merge"
stop_server

# ---- 13. hostile servers (issue 14 row 4): every pull ends by a size cap or a time bound ----
# timed PULL ARGS...: pull under `timeout`, its milliseconds in $MS
timed() {
    local t0
    t0=$(date +%s%N)
    pull "$@"
    MS=$((($(date +%s%N) - t0) / 1000000))
    echo "   (pull $* took $MS ms)"
}
start_server endless --mode endless
timed $REPO --cache-dir "$TMP/c12" --include config.json --max-file-size 5M --retries 0
ok "endless body, no size known: exits 1" eq "$RC" 1
ok "endless body: cut at --max-file-size" has "$TMP/err" "passed 5000000 bytes, the --max-file-size cap"
ok "endless body: at most the cap on disk" [ "$(find "$TMP/c12" -name '*.incomplete' -size +5000k | wc -l)" = 0 ]
timed $REPO --cache-dir "$TMP/c13" --include config.json --max-file-size 20
ok "file listed larger than --max-file-size: refused" eq "$RC" 1
stop_server
start_server trickle --mode endless --rate 2
timed $REPO --cache-dir "$TMP/c14" --include config.json --timeout 3 --retries 0
ok "2 bytes/s with --timeout 3: exits 1" eq "$RC" 1
ok "2 bytes/s: aborted as too slow" has "$TMP/err" "too slow"
ok "2 bytes/s: ended within 15 s ($MS ms)" [ "$MS" -lt 15000 ]
stop_server
start_server slow --mode endless --rate 20000
timed $REPO --cache-dir "$TMP/c15" --include config.json --deadline 3
ok "20 kB/s endless body with --deadline 3: exits 1" eq "$RC" 1
ok "deadline named" has "$TMP/err" "ran past its deadline of 3 s (--deadline)"
ok "deadline: ended within 15 s ($MS ms)" [ "$MS" -lt 15000 ]
stop_server

# ---- 14. an HF_TOKEN longer than a token can be is refused without echoing it (issue 14 row 11) ----
LONG=$(head -c 5000 /dev/zero | tr '\0' 'Q')
HF_TOKEN=$LONG pull $REPO --cache-dir "$TMP/c16"
ok "overlong HF_TOKEN: exits 1" eq "$RC" 1
ok "overlong HF_TOKEN: says so" has "$TMP/err" "the token from HF_TOKEN is 5000 bytes long"
ok "overlong HF_TOKEN: not echoed" eq "$(grep -c QQQQ "$TMP/err")" 0

# ---- 15. a pull that would not fit the disk stops before downloading, saying how much ----
start_server huge --mode huge
pull $REPO --cache-dir "$TMP/c17" --max-file-size 2000T
ok "a 1 PB file: exits 1" eq "$RC" 1
ok "a 1 PB file: needed and free space named" has "$TMP/err" "needs 1000000.00 GB more in $TMP/c17/models--$(echo $REPO | sed 's|/|--|')"
ok "a 1 PB file: says what to do" has "$TMP/err" "free some space, or pull into another cache (--cache-dir, HF_HUB_CACHE)"
ok "a 1 PB file: nothing downloaded" eq "$(count "$LOG" "GET /cdn-lfs")$(count "$LOG" "/resolve/")" 00
stop_server

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
