#!/usr/bin/env bash
# One task of deploy/slurm/equifl-sim.sbatch: task 0 is the aggregator, tasks
# 1..N-1 are workers hosting equal, disjoint ranges of the clients. The
# aggregator serves mutual TLS with EQUIFL_CERTS/server; workers present the
# worker certificate EQUIFL_CERTS/clients/EQUIFL_WORKER_CERTIFICATE.
set -euo pipefail

config="${EQUIFL_CONFIG:?}"
equifl="${EQUIFL_BINARY:-equifl}"
task="${SLURM_PROCID:?run under srun}"
tasks="${SLURM_NTASKS:?run under srun}"
port="${EQUIFL_AGGREGATOR##*:}"
certs="${EQUIFL_CERTS:?}"

if [ "$task" -eq 0 ]; then
  exec "$equifl" sim "$config" --transport grpc --listen "0.0.0.0:$port" --clients none \
    --certs "$certs/server"
fi
if [ "$tasks" -lt 2 ]; then
  echo "sim-task: needs at least 2 tasks (an aggregator and a worker)" >&2
  exit 2
fi
# The configuration's sim.clients, without a YAML parser: the first 'clients:' key
# under 'sim:'.
clients="$(awk '/^sim:/ {in_sim = 1; next} /^[^ #]/ {in_sim = 0}
                in_sim && $1 == "clients:" {print $2; exit}' "$config")"
clients="${clients:-100}"
workers=$((tasks - 1))
worker=$((task - 1))
first=$((clients * worker / workers))
last=$((clients * (worker + 1) / workers - 1))
exec "$equifl" sim "$config" --worker --connect "$EQUIFL_AGGREGATOR" --clients "$first..$last" \
  --certs "$certs/clients/${EQUIFL_WORKER_CERTIFICATE:-client-*}"
