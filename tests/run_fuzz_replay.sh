#!/bin/sh
# Replays each fuzz target's seed corpus (tests/fuzz/corpus/<target>/) through
# its gcc-built replay program; any crash or sanitizer report fails the run.
passed=0 failed=0
for bin in "$@"; do
    name=$(basename "$bin" _fuzzer_replay)
    dir="tests/fuzz/corpus/$name"
    if [ ! -d "$dir" ]; then
        echo "fuzz-replay: no corpus $dir for $bin"; failed=$((failed + 1)); continue
    fi
    if "$bin" "$dir"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
