# What bench/categorical_columns.sh and bench/standardisation.sh share: their
# arguments (BUILD_DIR WORK_DIR [SEEDS]) and one of AER's tables exported as a CSV
# (Rscript with AER: apt-get install r-cran-aer). Sourced, not run:
#   source bench/aer_table.sh TABLE "$@"
# sets build, work, seeds, equifl, bench (equifl_fairness_bench) and csv.
table=${1:?an AER table, e.g. HMDA}
build=${2:?build folder, e.g. build/default}
work=${3:?a scratch folder}
seeds=${4:-1 2 3 4 5 6 7 8}
equifl="$build/app/equifl"
bench="$build/bench/equifl_fairness_bench"
mkdir -p "$work"
csv="$work/$table.csv"
if [[ ! -s "$csv" ]]; then
  Rscript -e "suppressMessages(library(AER)); data($table); write.csv($table, '$csv', row.names = FALSE)"
fi
