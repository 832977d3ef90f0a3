#!/bin/bash
# Accuracy with and without a table's categorical columns, and with and without
# federated standardisation (bench/RESULTS.md, "Categorical columns" and
# "Federated standardisation"): the HMDA mortgage table (Boston HMDA, AER's `HMDA`,
# 2,380 applications; Debian's r-cran-aer) imported twice per split seed, once
# with only its numeric columns (what `equifl data import` used before it
# one-hot encoded text columns) and once with every column, then FedAvg by
# equifl_fairness_bench on each, with raw features and with features standardised
# by the federation's round 0 (--standardise-features). The label is `deny`, the
# group `afam`.
#
#   bench/categorical_columns.sh BUILD_DIR WORK_DIR [SEEDS]
#
# Needs Rscript with AER (apt-get install r-cran-aer) to export the table.
# Prints, per seed, the four test accuracies, then two mean differences with t
# intervals (paired over the same split and model seed): every column minus the
# numeric ones (both standardised), and standardised minus raw (every column).
set -euo pipefail
source "$(dirname "$0")/aer_table.sh" HMDA "$@"
numeric=pirat,hirat,lvrat,chist,mhist,unemp
accuracy() {  # the fedavg row's accuracy ("0.912 ± 0.000" -> 0.912)
  grep '| fedavg |' | head -1 | awk -F'|' '{print $4}' | awk '{print $1}'
}
: > "$work/categorical"
: > "$work/standardised"
for seed in $seeds; do
  for columns in numeric all; do
    rm -rf "$work/$columns-$seed"
    extra=()
    [[ $columns == numeric ]] && extra=(--features "$numeric")
    "$equifl" data import "$csv" --out "$work/$columns-$seed" --label deny --group afam \
      --clients 4 --seed "$seed" "${extra[@]}" > "$work/$columns-$seed.import.log"
    for features in raw standardised; do
      flag=()
      [[ $features == standardised ]] && flag=(--standardise-features)
      "$bench" --slid-dir "$work/$columns-$seed" --methods fedavg --seeds "$seed" "${flag[@]}" \
        2> "$work/$columns-$features-$seed.bench.log" | accuracy \
        > "$work/$columns-$features-$seed.accuracy"
    done
  done
  read -r numeric_raw < "$work/numeric-raw-$seed.accuracy"
  read -r all_raw < "$work/all-raw-$seed.accuracy"
  read -r numeric_standardised < "$work/numeric-standardised-$seed.accuracy"
  read -r all_standardised < "$work/all-standardised-$seed.accuracy"
  echo "seed $seed: numeric columns $numeric_raw raw, $numeric_standardised standardised;" \
    "every column $all_raw raw, $all_standardised standardised"
  python3 -c "print($all_standardised - $numeric_standardised)" >> "$work/categorical"
  python3 -c "print($all_standardised - $all_raw)" >> "$work/standardised"
done
python3 "$(dirname "$0")/paired_interval.py" \
  "every column minus the numeric ones (standardised)" "$work/categorical" \
  "standardised minus raw (every column)" "$work/standardised"
