#!/usr/bin/env bash
# The long fuzzing run of bench/RESULTS.md ("Fuzzing"): each fuzz target in turn for
# RUNS executions (10 million unless given) from its seeds, under ASan and UBSan,
# one process at a time at low priority (the machine is shared).
#
#   cmake --preset fuzz -B build/fuzz-O1 -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1"
#   cmake --build build/fuzz-O1
#   bench/fuzz_long_run.sh [RUNS [TARGET...]]
#
# The fuzz preset compiles at -O0 for CI's sake (two thirds of -O1's compile time);
# at -O1 the targets run about 1.7 times as many inputs per second. FUZZ_BUILD
# names another build folder.
#
# Each target works in build/fuzz-long/<target>/: corpus/ (what it found, besides
# the seeds in tests/fuzz/corpus/<target>), log.txt, and crash-* / leak-* /
# timeout-* inputs if any. ASan's quarantine is 16 MiB instead of 256: a freed
# block is still poisoned for the next 16 MiB of frees (many inputs' worth), and
# executions are about twice as fast. Prints one line per target: executions,
# executions per second, wall seconds, libFuzzer's final coverage (cov: edges, ft:
# features), the corpus it grew, and the result.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD:-build/fuzz-O1}
runs=${1:-10000000}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(npy chunk_decoder csv_import shard_manifest safetensors config aggregator_requests
    secure_round upload)
fi
printf '%-20s %12s %8s %8s %6s %6s %7s  %s\n' target executions exec/s wall_s cov ft corpus result
for target in "${targets[@]}"; do
  work="build/fuzz-long/$target"
  mkdir -p "$work/corpus"
  started=$(date +%s)
  result=ok
  ASAN_OPTIONS=quarantine_size_mb=16 nice -n 15 "$build/tests/fuzz/${target}_fuzzer" \
    -runs="$runs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "tests/fuzz/corpus/$target" > "$work/log.txt" 2>&1 ||
    result="FAILED: $(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' ')"
  wall=$(($(date +%s) - started))
  executions=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log.txt" | grep -o '[0-9]*$' || true)
  per_second=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+.*cov: ' "$work/log.txt" | tail -1)
  cov=$(sed -E 's/.*cov: ([0-9]+).*/\1/' <<< "$last")
  ft=$(sed -E 's/.*ft: ([0-9]+).*/\1/' <<< "$last")
  # A run that stopped at a crash prints no final stats: its last status line counts.
  executions=${executions:-$(sed -E 's/^#([0-9]+).*/\1/' <<< "$last")}
  corpus=$(ls "$work/corpus" | wc -l)
  printf '%-20s %12s %8s %8s %6s %6s %7s  %s\n' "$target" "${executions:-?}" "${per_second:-?}" \
    "$wall" "$cov" "$ft" "$corpus" "$result"
done
