#!/usr/bin/env bash
# Simulation at scale on this machine: one training round plus the final
# evaluation of 100, 1,000 and 10,000 virtual clients (sim/scenarios/scale_10k.yaml,
# 20 samples per client), in process and over gRPC on loopback; then the
# aggregator alone (its workers in another process) at 1,000 and 10,000 clients,
# to show that the aggregator's memory does not grow with the clients; then FLUTE's
# comparison workload (sim/scenarios/flute_mnist.yaml) end to end.
#
#   bench/sim_scale.sh [build/default/app/equifl]
#
# Prints a Markdown table; rates are client tasks (updates or evaluations) per
# second, "busy" is the share of the replicas' time spent in tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
equifl="$(realpath "${1:-build/default/app/equifl}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# shellcheck source=bench/scale_scenario.sh
source bench/scale_scenario.sh

# Seconds of a round line: "round    1/1 ... clients    10.94 s ..."
round_seconds() { grep -m1 -E "^$2 " "$1" | sed -E 's/.* clients +([0-9.]+) s.*/\1/'; }
summary_field() { grep -m1 -E "$2" "$1" | sed -E "s/$3/\1/"; }

echo "| clients | transport | train round (s) | eval round (s) | tasks/s | busy | peak RSS (MB) |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for clients in 100 1000 10000; do
  scale_scenario "$clients" "$work/scale.yaml"
  for transport in inprocess grpc; do
    log="$work/$clients-$transport.log"
    rm -rf "$work/run"
    "$equifl" sim "$work/scale.yaml" --transport "$transport" --run-dir "$work/run" > "$log"
    echo "| $clients | $transport | $(round_seconds "$log" round) | $(round_seconds "$log" test)" \
         "| $(summary_field "$log" "per second" '.*\(([0-9.]+) per second.*')" \
         "| $(summary_field "$log" "busy" '.*busy ([0-9]+%).*')" \
         "| $(summary_field "$log" "peak RSS" '.*peak RSS ([0-9.]+) MB.*') |"
  done
done

echo
echo "| clients | aggregator peak RSS (MB) | worker peak RSS (MB) | pool (MB) |"
echo "|---:|---:|---:|---:|"
for clients in 1000 10000; do
  scale_scenario "$clients" "$work/scale.yaml"
  rm -rf "$work/run"
  "$equifl" sim "$work/scale.yaml" --transport grpc --clients none --run-dir "$work/run" \
    > "$work/aggregator.log" &
  aggregator=$!
  for _ in $(seq 600); do
    port="$(grep -m1 -oE 'listening on 127\.0\.0\.1:[0-9]+' "$work/aggregator.log" | cut -d: -f2)" &&
      [ -n "$port" ] && break
    sleep 0.1
  done
  "$equifl" sim "$work/scale.yaml" --worker --connect "127.0.0.1:$port" \
    --clients "0..$((clients - 1))" > "$work/worker.log"
  wait "$aggregator"
  echo "| $clients" \
       "| $(summary_field "$work/aggregator.log" "peak RSS" '.*peak RSS ([0-9.]+) MB.*')" \
       "| $(summary_field "$work/worker.log" "peak RSS" '.*peak RSS ([0-9.]+) MB.*')" \
       "| $(summary_field "$work/worker.log" "host memory" '.*data \(([0-9.]+) MB.*') |"
done

echo
rm -rf "$work/run"
start=$(date +%s.%N)
"$equifl" sim sim/scenarios/flute_mnist.yaml --run-dir "$work/run" > "$work/flute.log"
end=$(date +%s.%N)
echo "FLUTE workload (1,000 clients, 10 per round, 100 rounds, logistic regression 784->10):" \
     "$(awk "BEGIN {printf \"%.1f\", $end - $start}") s end to end;" \
     "$(summary_field "$work/flute.log" "^simulated" '^simulated in ([0-9.]+ s).*') in rounds;" \
     "final test accuracy $(summary_field "$work/flute.log" "^test " '.*test acc ([0-9.]+).*')"
