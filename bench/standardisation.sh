#!/bin/bash
# What federated standardisation does for a table with raw columns
# (bench/RESULTS.md, "Federated standardisation"): AER's `CreditCard` (1,319
# credit-card applicants; Debian's r-cran-aer), label `owner` (home owner, 44% yes),
# group `selfemp`, its columns in their own units (yearly income in $10,000,
# monthly expenditure in dollars up to 3,100, months at the address up to 540,
# shares, counts), imported per seed into 4 random clients, then FedAvg by
# equifl_fairness_bench with raw features and with the features standardised by
# the federation's round 0 (--standardise-features); the same split and model
# seed for both.
#
#   bench/standardisation.sh BUILD_DIR WORK_DIR [SEEDS]
#
# Needs Rscript with AER (apt-get install r-cran-aer) to export the table.
# Prints, per seed, both test accuracies and worst-group accuracies, then the
# mean differences with t intervals (paired over seeds).
set -euo pipefail
source "$(dirname "$0")/aer_table.sh" CreditCard "$@"
: > "$work/accuracy"
: > "$work/worst"
for seed in $seeds; do
  rm -rf "$work/shards-$seed"
  "$equifl" data import "$csv" --out "$work/shards-$seed" --label owner --group selfemp \
    --clients 4 --seed "$seed" > "$work/import-$seed.log"
  for features in raw standardised; do
    flag=()
    [[ $features == standardised ]] && flag=(--standardise-features)
    # The fedavg row's accuracy and worst-group accuracy ("0.912 ± 0.000" -> 0.912).
    "$bench" --slid-dir "$work/shards-$seed" --methods fedavg --seeds "$seed" "${flag[@]}" \
      2> "$work/$features-$seed.bench.log" | grep '| fedavg |' | head -1 |
      awk -F'|' '{split($4, a, " "); split($6, w, " "); print a[1], w[1]}' \
      > "$work/$features-$seed.result"
  done
  read -r raw raw_worst < "$work/raw-$seed.result"
  read -r standardised standardised_worst < "$work/standardised-$seed.result"
  echo "seed $seed: accuracy $raw raw, $standardised standardised;" \
    "worst-group accuracy $raw_worst raw, $standardised_worst standardised"
  python3 -c "print($standardised - $raw)" >> "$work/accuracy"
  python3 -c "print($standardised_worst - $raw_worst)" >> "$work/worst"
done
python3 "$(dirname "$0")/paired_interval.py" \
  "accuracy, standardised minus raw" "$work/accuracy" \
  "worst-group accuracy, standardised minus raw" "$work/worst"
