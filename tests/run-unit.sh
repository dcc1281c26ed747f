#!/usr/bin/env bash
# Runs each cmocka unit-test binary given as argument (under valgrind when
# VALGRIND=1) and prints one summary line.
set -u
passed=0
failed=0
for t in "$@"; do
    if [ "${VALGRIND:-0}" = 1 ]; then
        cmd=(timeout 600 valgrind -q --error-exitcode=99 --leak-check=full
             --errors-for-leak-kinds=definite "$t")
    else
        cmd=(timeout 300 "$t")
    fi
    if "${cmd[@]}"; then
        passed=$((passed + 1))
    else
        echo "unit: $t FAILED" >&2
        failed=$((failed + 1))
    fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
