#!/usr/bin/env bash
# Runs one libFuzzer harness: run.sh DIR NAME:MAX_LEN:SEEDS SECONDS
# (DIR/fuzz_NAME, its corpus in DIR/corpus-NAME, crashes as
# DIR/crash-NAME-*).  Prints the run's statistics; on a crash, the tail of
# its log, and fails.
set -u
dir=$1
IFS=: read -r name max_len seeds <<<"$2"
seconds=$3
log=$dir/fuzz_$name.log
mkdir -p "$dir/corpus-$name"
echo "fuzz_$name: $seconds s"
if ! "$dir/fuzz_$name" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$dir/crash-$name-" \
        "$dir/corpus-$name" "$seeds" 2>"$log"; then
    tail -40 "$log"
    echo "fuzz_$name FAILED (log: $log)" >&2
    exit 1
fi
grep -h "stat::number_of_executed_units\|stat::peak_rss_mb" "$log"
