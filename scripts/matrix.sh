#!/usr/bin/env bash
# The driver matrix: the ctest label `matrix` (tests/test_matrix.c: every
# kernel at awkward shapes, the model's prefill and decode against a C
# reference, for every device profile and the portable kernels; validation and
# synchronization validation on) on Mesa's lavapipe at each subgroup size it
# emulates (LP_NATIVE_VECTOR_WIDTH 128, 256, 512, 1024, 2048: 4, 8, 16, 32 and
# 64 lanes reported) and on two drivers: the system's Mesa 22.3 and Mesa 25.0
# from bookworm-backports (scripts/install-mesa25.sh, its own prefix).
#
# Mesa's disk shader cache is off: it is not keyed by LP_NATIVE_VECTOR_WIDTH,
# so a shader compiled at one width (say by the release tests at 256) would
# be run at every other, and the matrix would not test what it says (README,
# "Driver quirks"). Compiling every pipeline at every setting is most of the
# time, and one compile uses one core, so two settings run at once.
#
# Usage: scripts/matrix.sh [BUILD_DIR]   (default: build; configured and built)
# Env:   MATRIX_WIDTHS="128 256 ..."  MATRIX_DRIVERS="mesa22 mesa25"  MATRIX_JOBS=2
# Prints one line per setting and ends with "matrix: N settings, P passed, ...";
# exit status 0 only when every setting passed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
widths=${MATRIX_WIDTHS:-128 256 512 1024 2048}
drivers=${MATRIX_DRIVERS:-mesa22 mesa25}
jobs=${MATRIX_JOBS:-2}
[ -f "$build/CTestTestfile.cmake" ] || { echo "matrix: $build is not a configured build folder"; exit 1; }
logs=$(mktemp -d /tmp/phi3vk-matrix.XXXXXX)
t0=$(date +%s)

# One setting: writes $logs/$drv-$w.line (its line) and .ok when it passed.
setting() {
    local drv=$1 w=$2 s0 log code probe
    shift 2
    s0=$(date +%s)
    log=$logs/$drv-$w.log
    env "$@" LP_NATIVE_VECTOR_WIDTH="$w" MESA_SHADER_CACHE_DISABLE=true \
        ctest --test-dir "$build" -L matrix -V >"$log" 2>&1
    code=$?
    probe=$(grep -m1 -o 'subgroup reported [0-9]*.*probe: [0-9]* lanes run' "$log" | sed 's/ (min.*max [0-9]*)//; s/^.*subgroup reported/reported/')
    if [ "$code" = 0 ] && grep -q '100% tests passed' "$log"; then
        echo "  $drv width $w: pass ($probe), $(( $(date +%s) - s0 )) s" >"$logs/$drv-$w.line"
        touch "$logs/$drv-$w.ok"
    else
        { echo "  $drv width $w: FAIL ($probe), $(( $(date +%s) - s0 )) s"
          grep -E 'FAIL|validation|error' "$log" | head -n 15 | sed 's/^/      /'; } >"$logs/$drv-$w.line"
    fi
}

names=() failed=()
for drv in $drivers; do
    case $drv in
    mesa22) env_drv=(VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json) ;;
    mesa25)
        icd=$(bash scripts/install-mesa25.sh "$build/mesa25" 2>"$logs/mesa25-install.log") || {
            echo "matrix: installing Mesa 25.0 failed:"; tail -n 20 "$logs/mesa25-install.log"
            failed+=("mesa25 (install)"); continue
        }
        lib=$(dirname "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ICD"]["library_path"])' "$icd")")
        env_drv=(VK_DRIVER_FILES="$icd" LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}") ;;
    *) echo "matrix: unknown driver '$drv' (mesa22, mesa25)"; exit 2 ;;
    esac
    for w in $widths; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        setting "$drv" "$w" "${env_drv[@]}" &
        names+=("$drv-$w")
    done
done
wait
for s in "${names[@]}"; do
    cat "$logs/$s.line" 2>/dev/null || echo "  $s: no result"
    [ -f "$logs/$s.ok" ] || failed+=("${s/-//}")
done
n=$(( ${#names[@]} + $(printf '%s\n' "${failed[@]}" | grep -c install) ))
line="matrix: $n settings, $(( n - ${#failed[@]} )) passed"
[ ${#failed[@]} -gt 0 ] && line="$line, failed: ${failed[*]}"
echo "$line, $(( $(date +%s) - t0 )) s"
[ ${#failed[@]} -eq 0 ]
