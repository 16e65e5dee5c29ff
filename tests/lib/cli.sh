# Shared by the tests/cli_*.sh scripts (source it): a pass/fail count, the
# checks that print "ok NAME" or "FAIL NAME: ...", and the closing verdict.
fails=0
expect() { # expect NAME WANTED GOT
    if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: wanted [$2] got [$3]"; fails=$((fails + 1)); fi
}
rc() { # rc CMD...: prints CMD's exit status, its output discarded
    "$@" >/dev/null 2>&1
    echo $?
}
finish() { # prints the verdict; the script's exit status is 0 only when nothing failed
    [ "$fails" -eq 0 ] && echo "all ok" || echo "$fails failed"
    [ "$fails" -eq 0 ]
}
