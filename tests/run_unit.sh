#!/bin/sh
# Runs each cmocka unit-test binary given as an argument and prints one summary
# line "unit: N passed, N failed" (binaries, not cases; cmocka prints cases).
passed=0 failed=0 failed_names=""
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $(basename "$t")"
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed:$failed_names"; exit 1; }
