#!/usr/bin/env bash
# Runs a libFuzzer target for a fixed time over its seed corpus: the fuzz smoke test
# (ctest -L fuzz, tests/fuzz/CMakeLists.txt).
#   tests/fuzz/run_fuzzer.sh FUZZER SEED_CORPUS SECONDS
# libFuzzer first runs every seed (so an input that once crashed a target and was
# added to its corpus fails the test at once), then mutates. It writes new inputs
# into its first corpus folder and crash inputs into the artifact folder: both are a
# fresh temporary folder, never the source tree. The folder is removed when the run
# passes and kept, with its path printed, when it fails.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: run_fuzzer.sh FUZZER SEED_CORPUS SECONDS" >&2
  exit 2
fi
fuzzer=$1
seeds=$2
seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/equifl-fuzz.XXXXXX")
mkdir "$work/corpus"
cd "$work"
if "$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"; then
  rm -rf "$work"
else
  status=$?
  echo "run_fuzzer.sh: $(basename "$fuzzer") failed; its input and output are in $work" >&2
  exit "$status"
fi
