#!/bin/bash
# Accuracy with and without a table's categorical columns (bench/RESULTS.md,
# "Categorical columns"): the HMDA mortgage table (Boston HMDA, AER's `HMDA`,
# 2,380 applications; Debian's r-cran-aer) imported twice per split seed, once
# with only its numeric columns (what `equifl data import` used before it
# one-hot encoded text columns) and once with every column, then FedAvg by
# equifl_fairness_bench on each. The label is `deny`, the group `afam`.
#
#   bench/categorical_columns.sh BUILD_DIR WORK_DIR [SEEDS]
#
# Needs Rscript with AER (apt-get install r-cran-aer) to export the table.
# Prints, per seed, both test accuracies and their difference, then the mean
# difference with a t interval (paired over the same split and model seed).
set -euo pipefail
build=${1:?build folder, e.g. build/default}
work=${2:?a scratch folder}
seeds=${3:-1 2 3 4 5 6 7 8}
equifl="$build/app/equifl"
bench="$build/bench/equifl_fairness_bench"
mkdir -p "$work"
csv="$work/hmda.csv"
if [[ ! -s "$csv" ]]; then
  Rscript -e "suppressMessages(library(AER)); data(HMDA); write.csv(HMDA, '$csv', row.names = FALSE)"
fi
numeric=pirat,hirat,lvrat,chist,mhist,unemp
accuracy() {  # the fedavg row's accuracy ("0.912 ± 0.000" -> 0.912)
  grep '| fedavg |' | head -1 | awk -F'|' '{print $4}' | awk '{print $1}'
}
: > "$work/differences"
for seed in $seeds; do
  for variant in numeric all; do
    rm -rf "$work/$variant-$seed"
    extra=()
    [[ $variant == numeric ]] && extra=(--features "$numeric")
    "$equifl" data import "$csv" --out "$work/$variant-$seed" --label deny --group afam \
      --clients 4 --seed "$seed" "${extra[@]}" > "$work/$variant-$seed.import.log"
    "$bench" --slid-dir "$work/$variant-$seed" --methods fedavg --seeds "$seed" \
      2> "$work/$variant-$seed.bench.log" | accuracy > "$work/$variant-$seed.accuracy"
  done
  with=$(cat "$work/all-$seed.accuracy")
  without=$(cat "$work/numeric-$seed.accuracy")
  echo "seed $seed: numeric columns only $without, with the categorical columns $with"
  python3 -c "print($with - $without)" >> "$work/differences"
done
python3 - "$work/differences" <<'PY'
import math, sys
d = [float(line) for line in open(sys.argv[1])]
n = len(d); mean = sum(d) / n
sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
t = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}.get(n, 2.0)
half = t * sd / math.sqrt(n)
print(f"accuracy with minus without over {n} seeds: {mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] (95% t interval)")
PY
