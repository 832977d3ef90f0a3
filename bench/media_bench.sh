# What bench/media_import.sh and bench/video_import.sh share: timing the import
# against ffmpeg (best of 3 runs, one thread and two, less the binary's start-up) and
# training throughput on the imported shards. Sourced, not run; needs `equifl` (the
# binary) and `work` (the scratch folder) set.

seconds_since() { echo "$(date +%s.%N) - $1" | bc -l; }

# The fastest of 3 runs of the command "$@", in seconds (its output goes nowhere).
best_of_3() {
  local runs=() start run
  for run in 1 2 3; do
    start=$(date +%s.%N)
    "$@" > /dev/null
    runs+=("$(seconds_since "$start")")
  done
  tr ' ' '\n' <<< "${runs[*]}" | sort -g | head -1
}

# $work/EXTENSION.list for each extension: ffmpeg's concat demuxer's list of the
# clips with it, so one ffmpeg process decodes them all (start-up not counted).
write_concat_lists() {
  local extension file
  for extension in "$@"; do
    : > "$work/$extension.list"
    for file in "$work"/clips/*."$extension"; do echo "file '$file'" >> "$work/$extension.list"; done
  done
}

# One `equifl data import-media MANIFEST` with --threads THREADS and the further
# arguments, into $work/shards-THREADS (log $work/import-THREADS.log).
import_once() {
  local threads=$1 manifest=$2
  rm -rf "$work/shards-$threads"
  "$equifl" data import-media "$manifest" --out "$work/shards-$threads" --threads "$threads" \
    "${@:3}" > "$work/import-$threads.log"
}

# import_once MANIFEST ARGUMENTS... with 1 and 2 threads; sets import_seconds_1 and
# import_seconds_2 (best of 3 each) and startup_seconds (the best of 3 runs of
# `equifl --version`).
time_imports() {
  local threads
  for threads in 1 2; do
    eval "import_seconds_$threads=$(best_of_3 import_once "$threads" "$@")"
  done
  startup_seconds=$(best_of_3 "$equifl" --version)
}

# One line per thread count: the import's time and rate against ffmpeg's
# ($ffmpeg_seconds), with and without the start-up. WHAT says what the import did,
# UNIT what `rate SECONDS` (defined by the caller) counts per second.
report_imports() {
  local what=$1 unit=$2 threads seconds
  for threads in 1 2; do
    seconds=$(eval echo "\$import_seconds_$threads")
    printf 'equifl data import-media --threads %d (%s): %.2f s, %.0f %s, %.2fx ffmpeg; without the binary'"'"'s %.2f s start-up: %.0f %s\n' \
      "$threads" "$what" "$seconds" "$(rate "$seconds")" "$unit" \
      "$(echo "$ffmpeg_seconds / $seconds" | bc -l)" "$startup_seconds" \
      "$(rate "$(echo "$seconds - $startup_seconds" | bc -l)")" "$unit"
  done
  cmp "$work/shards-1/client-000/data.safetensors" "$work/shards-2/client-000/data.safetensors"
  echo "one thread and two wrote the same shards"
}

# Trains 2 clients for 5 rounds x 2 epochs on SHARDS (imported with the log
# IMPORT_LOG) in $work/run-NAME and prints the training samples per second, the run
# described as WHAT (default NAME).
training_throughput() {
  local name=$1 shards=$2 import_log=$3 what=${4:-$1} train_samples start elapsed
  rm -rf "$work/run-$name"
  cat > "$work/run-$name.yaml" << YAML
server:
  run_dir: $work/run-$name
  rounds: 5
  min_clients: 2
training:
  epochs: 2
  batch_size: 32
  device: cpu
sim:
  data:
    source: shards
    path: $shards
YAML
  train_samples=$(grep -o '(train [0-9]*' "$import_log" | awk '{s += $2} END {print s}')
  start=$(date +%s.%N)
  "$equifl" sim "$work/run-$name.yaml" > "$work/sim-$name.log"
  elapsed=$(seconds_since "$start")
  printf 'equifl sim on %s, 5 rounds x 2 epochs over %s training samples (CPU): %.1f s, %.0f samples per s (evaluation and start-up included); %s\n' \
    "$what" "$train_samples" "$elapsed" "$(echo "10 * $train_samples / $elapsed" | bc -l)" \
    "$(grep -o 'test acc [0-9.]*' "$work/sim-$name.log" || true)"
}
