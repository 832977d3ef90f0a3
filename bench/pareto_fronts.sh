#!/bin/bash
# Accuracy against the true gap (bench/RESULTS.md, "Pareto fronts"): group DRO over
# a sweep of the bound's epsilon (0.05 to 1), beside the front of fixed group
# weights (method fixed_weights over a sweep of its power t; t = 0 is FedAvg) and
# FedAvg after per-group temperature scaling, on the synthetic scenarios with test
# sets of about 5,000 samples per group-cell, then bench/pareto_front.py's tables
# and plot.
#
#   bench/pareto_fronts.sh BUILD_DIR WORK_DIR [SCENARIOS] [SEEDS] [SAMPLES]
#
# SCENARIOS comma-separated (default reducible,video-gender), SEEDS likewise
# (default 1,2,3,4,5), SAMPLES per client (default 1500). Every run: 20 rounds,
# 6 clients, the bench's defaults otherwise. Writes WORK_DIR/*.log (the bench's
# per-run lines), WORK_DIR/fronts.md and WORK_DIR/fronts.svg.
set -euo pipefail
build=${1:?build folder, e.g. build/default}
work=${2:?a scratch folder}
scenarios=${3:-reducible,video-gender}
seeds=${4:-1,2,3,4,5}
samples=${5:-1500}
bench="$build/bench/equifl_fairness_bench"
here=$(dirname "$0")
mkdir -p "$work"
common=(--scenarios "$scenarios" --seeds "$seeds" --samples "$samples" --rounds 20
  --test-samples-per-cell 5000)

run() {
  local name=$1
  shift
  echo "$(date +%T) $name" >&2
  "$bench" "${common[@]}" "$@" > "$work/$name.md" 2> "$work/$name.log"
}

run fedavg --methods fedavg --calibrate
for power in 0.5 1 1.5 2 3; do
  run "fixed-$power" --methods fixed_weights --fixed-weights-power "$power"
done
for epsilon in 0.05 0.1 0.2 0.4 0.6 1.0; do
  run "group_dro-$epsilon" --methods group_dro --epsilon "$epsilon"
done

series=("fixed t=0 (FedAvg)=$work/fedavg.log" "fedavg=$work/fedavg.log")
for power in 0.5 1 1.5 2 3; do series+=("fixed t=$power=$work/fixed-$power.log"); done
for epsilon in 0.05 0.1 0.2 0.4 0.6 1.0; do
  series+=("group_dro eps=$epsilon=$work/group_dro-$epsilon.log")
done
python3 "$here/pareto_front.py" --svg "$work/fronts.svg" "${series[@]}" | tee "$work/fronts.md"
