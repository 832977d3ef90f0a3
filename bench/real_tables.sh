#!/bin/bash
# The fairness methods on two real tables, with intervals (bench/RESULTS.md, "Real
# tables"):
# - slid: the Survey of Labour and Income Dynamics (SLID_CSV, e.g. carData's `SLID`
#   as written by `write.csv`), label `wages` above its median, group `sex`,
#   language `language` (English, French, Other), features education and age;
# - gssvocab: carData's `GSSvocab` (General Social Survey 1978-2016, 28,867
#   respondents; Debian's r-cran-cardata), label `vocab` above its median (6 of 10
#   words right), group `gender`, language `nativeBorn` (an English vocabulary
#   test taken by native-born and foreign-born respondents), features year, age
#   and educ.
# Rows with a missing value are dropped. Per table and seed S a fresh Dirichlet(0.5)
# split over 6 clients (`--seed S`), then equifl_fairness_bench `--seeds S` (12
# rounds, the bench's defaults, features standardised by the federation's round 0:
# with raw columns, year ~2000, FedAvg answers GSSvocab's majority class) for
# fedavg (with per-group temperature scaling), group_dro at the default epsilon and
# at 0.05, and fixed_weights at t = 1 and 2. Prints each seed's test split per
# (language, group), then bench/pareto_front.py's table per table (means with 95% t
# intervals over the seeds, each configuration against the fixed-weight front) and
# group_dro minus fedavg paired over the seeds (bench/paired_runs.py).
#
#   bench/real_tables.sh BUILD_DIR WORK_DIR SLID_CSV [SEEDS]
#
# Needs Rscript with carData (apt-get install r-base-core r-cran-cardata) to export
# GSSvocab, and python3. SEEDS defaults to "1 2 3 4 5"; every log stays in WORK_DIR.
set -euo pipefail
build=${1:?build folder, e.g. build/default}
work=${2:?a scratch folder}
slid_csv=${3:?the SLID table as a CSV}
seeds=${4:-1 2 3 4 5}
here=$(dirname "$0")
equifl="$build/app/equifl"
bench="$build/bench/equifl_fairness_bench"
mkdir -p "$work"
gss_csv="$work/GSSvocab.csv"
if [[ ! -s "$gss_csv" ]]; then
  Rscript -e "suppressMessages(library(carData)); write.csv(GSSvocab, '$gss_csv', row.names = FALSE)"
fi

# The test split's rows per (language, group) of a shard folder, with the share of
# label 1 (above the median).
test_cells() {
  python3 - "$1" <<'EOF'
import collections, json, os, struct, sys
counts, above, manifest = collections.Counter(), collections.Counter(), {}
for client in sorted(os.listdir(sys.argv[1])):
    folder = os.path.join(sys.argv[1], client)
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    with open(os.path.join(folder, "data.safetensors"), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        body = f.read()
    def column(name):
        start, end = header[name]["data_offsets"]
        raw = body[start:end]
        return struct.unpack(f"<{len(raw) // 8}q", raw) if header[name]["dtype"] == "I64" else raw
    label, group, language, split = (column(n) for n in ("label", "group", "language", "split"))
    for i in range(len(split)):
        if split[i] == 2:
            counts[(language[i], group[i])] += 1
            above[(language[i], group[i])] += label[i]
print("  test split: " + ", ".join(
    f"{language}/{group} {counts[(l, g)]} ({above[(l, g)] / max(counts[(l, g)], 1):.0%} above)"
    for l, language in enumerate(manifest["languages"])
    for g, group in enumerate(manifest["groups"])))
EOF
}

configurations=("fedavg --methods fedavg --calibrate"
  "group_dro --methods group_dro"
  "group_dro-0.05 --methods group_dro --epsilon 0.05"
  "fixed-1 --methods fixed_weights --fixed-weights-power 1"
  "fixed-2 --methods fixed_weights --fixed-weights-power 2")
for table in slid gssvocab; do
  for configuration in "${configurations[@]}"; do : > "$work/$table-${configuration%% *}.log"; done
  for seed in $seeds; do
    shards="$work/$table-shards-$seed"
    rm -rf "$shards"
    if [[ $table == slid ]]; then
      "$equifl" data import "$slid_csv" --out "$shards" --label wages --label-threshold median \
        --group sex --language language --features education,age --clients 6 \
        --dirichlet-alpha 0.5 --seed "$seed" --drop-missing > "$work/$table-import-$seed.log"
    else
      "$equifl" data import "$gss_csv" --out "$shards" --label vocab --label-threshold median \
        --group gender --language nativeBorn --features year,age,educ --clients 6 \
        --dirichlet-alpha 0.5 --seed "$seed" --drop-missing > "$work/$table-import-$seed.log"
    fi
    echo "$table, seed $seed:"
    test_cells "$shards"
    for configuration in "${configurations[@]}"; do
      read -r name flags <<< "$configuration"
      # shellcheck disable=SC2086 # flags are words
      "$bench" --shards-dir "$shards" --table-name "$table" --seeds "$seed" \
        --standardise-features $flags 2>> "$work/$table-$name.log" > /dev/null
    done
    grep -h "^\[$table\]" "$work/$table"-*.log | grep "seed $seed:" | sed 's/^/  /'
  done
  python3 "$here/pareto_front.py" --svg "$work/$table.svg" \
    "fixed t=0 (FedAvg)=$work/$table-fedavg.log" "fedavg=$work/$table-fedavg.log" \
    "fixed t=1=$work/$table-fixed-1.log" "fixed t=2=$work/$table-fixed-2.log" \
    "group_dro eps=0.4=$work/$table-group_dro.log" \
    "group_dro eps=0.05=$work/$table-group_dro-0.05.log"
  for name in group_dro group_dro-0.05; do
    # group_dro's lines renamed fedavg, so that paired_runs.py pairs them with fedavg's.
    sed 's/ group_dro / fedavg    /' "$work/$table-$name.log" > "$work/$table-$name-as-fedavg.log"
    echo
    echo "$table: $name minus fedavg, paired over the seeds:"
    python3 "$here/paired_runs.py" "$work/$table-fedavg.log" "$work/$table-$name-as-fedavg.log"
  done
done
echo "total ${SECONDS} s"
