#!/usr/bin/env bash
# The sanitizer stage's own check (sanitizer builds only): LeakSanitizer, with
# the suppressions every test runs under, still fails on a leak in phi3vk
# code, never on the Vulkan driver's lifetime allocations, and the reason for
# vk/pin.c is real (a driver-like library's global block is reported once the
# library is unloaded, and not when it is pinned).
# Usage: check.sh PROBE FAKE_DRIVER.so
set -u
. "$(dirname "$0")/../lib/cli.sh"
PROBE=$1 DRIVER=$2
run() { out=$("$PROBE" "$@" 2>&1); code=$?; }

run driver-unpinned "$DRIVER"
expect "unloaded driver: its global block is reported" yes "$(grep -q 'Direct leak of 128 byte' <<<"$out" && echo yes || echo "no: exit $code: $out")"
expect "unloaded driver: exit status is not 0" yes "$([ "$code" -ne 0 ] && echo yes || echo no)"

run driver-pinned "$DRIVER"
expect "pinned driver: no report, exit 0" 0 "$code"

run vulkan
[ "$code" = 77 ] && { echo "skip: no Vulkan device: $out"; exit 77; }
expect "Vulkan context created and destroyed: exit 0" 0 "$code"
grep -q "leak" <<<"$out" && { echo "FAIL: leak reported: $out"; fails=$((fails + 1)); }

run planted
expect "planted phi3vk leak: exit status is not 0" yes "$([ "$code" -ne 0 ] && echo yes || echo no)"
expect "planted phi3vk leak: reported with its phi3vk frame" yes "$(grep -q 'in vkr_devices_list' <<<"$out" && echo yes || echo "no: $out")"
finish
