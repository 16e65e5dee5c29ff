#!/usr/bin/env bash
# The README's quick start works as written on a fresh Debian machine, as root
# without sudo (a container, CI) and as a user with sudo: the setup part of
# both README commands (everything before the first `&&`) is taken from the
# README and run against stand-ins for id, dpkg, apt-get and sudo on a PATH
# that has nothing else, so the test can fail the way a newcomer would (the
# old `sudo bash scripts/install-deps.sh` stops at "sudo: command not found").
#   - the commands do not start with sudo;
#   - root, no sudo, a package missing: apt-get runs directly, exit 0;
#   - a user with sudo, a package missing: apt-get runs through sudo, exit 0;
#   - a user without sudo, a package missing: exit 1 with a message that says
#     to run it as root or install sudo, naming the package;
#   - everything installed: nothing is run, exit 0.
# Env: PHI3VK_SRC = the source tree.
set -u
SRC=${PHI3VK_SRC:?set PHI3VK_SRC to the source tree}
. "$SRC/tests/lib/cli.sh"
W=$(mktemp -d /tmp/cli_quickstart.XXXXXX)
trap 'rm -rf "$W"' EXIT

# The shell blocks of the README's quick start, one command per block (joined lines).
python3 - "$SRC/README.md" >"$W/cmds" <<'EOF' || { echo "FAIL: no quick start in the README"; exit 1; }
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"^## Quick start.*?(?=^## )", t, re.S | re.M)
blocks = re.findall(r"```sh\n(.*?)```", m.group(0), re.S)
assert len(blocks) == 2, blocks
for b in blocks:
    print(re.sub(r"\\\n\s*", "", b).strip())
EOF
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    setup=${cmd%%&&*}
    setup=$(echo $setup) # trimmed
    expect "quick start $n: the setup needs no sudo" "bash scripts/install-deps.sh" "$setup"

    # stand-ins: only these (and bash, env) are on PATH
    for who in root user-sudo user-nosudo all-present; do
        B=$W/bin-$who
        rm -rf "$B"
        mkdir -p "$B"
        ln -s "$(command -v bash)" "$B/bash"
        ln -s "$(command -v env)" "$B/env"
        uid=1000
        [ "$who" = root ] || [ "$who" = all-present ] && uid=0
        printf '#!%s\necho %s\n' "$(command -v bash)" "$uid" >"$B/id"
        # dpkg -s PKG: glslc is "missing" unless all-present
        missing=glslc
        [ "$who" = all-present ] && missing=none
        printf '#!%s\n[ "$2" = %s ] && exit 1\nexit 0\n' "$(command -v bash)" "$missing" >"$B/dpkg"
        printf '#!%s\necho "apt-get $*" >>"%s"\n' "$(command -v bash)" "$W/log-$who" >"$B/apt-get"
        if [ "$who" = user-sudo ]; then
            printf '#!%s\necho "sudo $*" >>"%s"\nexec "$@"\n' "$(command -v bash)" "$W/log-$who" >"$B/sudo"
        fi
        chmod +x "$B"/*
        : >"$W/log-$who"
        (cd "$SRC" && env -i PATH="$B" HOME="$W" bash -c "$setup") >"$W/out-$who" 2>&1
        echo "rc=$?" >>"$W/out-$who"
    done
    expect "quick start $n as root without sudo: exit 0" "rc=0" "$(tail -n1 "$W/out-root")"
    expect "quick start $n as root: apt-get installs the missing package directly" \
        "apt-get install -y -q --no-install-recommends glslc" "$(grep install "$W/log-root")"
    expect "quick start $n as root: no sudo" "" "$(grep sudo "$W/log-root")"
    expect "quick start $n as a user with sudo: exit 0" "rc=0" "$(tail -n1 "$W/out-user-sudo")"
    expect "quick start $n as a user: apt-get through sudo" \
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends glslc" \
        "$(grep "sudo.*install" "$W/log-user-sudo")"
    expect "quick start $n as a user without sudo: exit 1" "rc=1" "$(tail -n1 "$W/out-user-nosudo")"
    expect "quick start $n as a user without sudo: says what to do" "1" \
        "$(grep -c "missing (glslc): run this script as root, or install sudo" "$W/out-user-nosudo")"
    expect "quick start $n, everything installed: exit 0, nothing run" "rc=0|" \
        "$(tail -n1 "$W/out-all-present")|$(cat "$W/log-all-present")"
done <"$W/cmds"
expect "two quick-start commands" 2 "$n"
finish
