#!/usr/bin/env bash
# What the live dashboard and /metrics cost a simulated run: 1,000 virtual clients
# (sim/scenarios/scale_10k.yaml at 1,000 clients of 20 samples, every client in every
# round), the same run with and without `--http`, alternated PAIRS times. With --http
# a poller does what an open dashboard and a Prometheus scraping every second do: it
# fetches /api/run, /api/rounds, /api/fairness, /api/clients and /metrics once a second
# over one kept-alive connection. The cost is given twice: in the training rounds'
# wall time (which also pays for the poller, on the same two cores) and in the
# simulation process's CPU time (the server's own work: the events it records and
# the requests it answers).
#
#   bench/dashboard_overhead.sh [build/default/app/equifl] [PAIRS] [ROUNDS]
#
# Prints a Markdown table: the training rounds' total wall time of each run and the
# relative cost (with / without − 1) of each pair, then the median of the pairs. On a
# shared 2-core machine two identical runs differ by more than the dashboard costs,
# so it then measures that cost directly (bench/monitoring_bench.cc, from the same
# build folder): the monitor's work for one round of 1,000 clients and one poll,
# against the mean round time of the runs without --http.
set -euo pipefail
cd "$(dirname "$0")/.."
equifl="$(realpath "${1:-build/default/app/equifl}")"
pairs="${2:-5}"
rounds="${3:-10}"
work="$(mktemp -d)"
poller=""
trap '[ -n "$poller" ] && kill "$poller" 2>/dev/null; rm -rf "$work"' EXIT

sed -e "s/^  clients: 10000$/  clients: 1000/" -e "s/^    samples: 200000$/    samples: 20000/" \
    -e "s/^  rounds: 1$/  rounds: $rounds/" sim/scenarios/scale_10k.yaml > "$work/scale.yaml"

# Sum of the training rounds' seconds: "round 3/10 ... clients  1.02 s ...".
round_seconds() {
  grep -E '^round +[0-9]+/' "$1" | sed -E 's/.* clients +([0-9.]+) s.*/\1/' |
    awk '{ total += $1 } END { printf "%.3f", total }'
}

# Polls the dashboard of the run logging to $1 until killed: one process that keeps
# its connection open, as a browser tab and a Prometheus scraper do, so that what is
# measured is the server's work rather than starting a client every second.
poll() {
  exec python3 - "$1" > /dev/null <<'PYTHON'
import http.client, re, sys, time
log = sys.argv[1]
for _ in range(600):
    found = re.search(r"dashboard at http://127\.0\.0\.1:(\d+)/", open(log).read())
    if found:
        break
    time.sleep(0.1)
else:
    sys.exit("no dashboard address in " + log)
connection = http.client.HTTPConnection("127.0.0.1", int(found.group(1)), timeout=5)
while True:
    for path in ("/api/run", "/api/rounds", "/api/fairness", "/api/clients", "/metrics"):
        try:
            connection.request("GET", path)
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            connection.close()
    time.sleep(1)
PYTHON
}

# Runs the simulation; its CPU seconds (user + system) go to $1.cpu.
run() {
  local log="$1"
  shift
  rm -rf "$work/run"
  local TIMEFORMAT='%U %S'
  { time "$equifl" sim "$work/scale.yaml" --transport inprocess --run-dir "$work/run" "$@" \
      > "$log" 2> "$log.err"; } 2> "$log.time"
  tail -1 "$log.time" | awk '{ printf "%.2f", $1 + $2 }' > "$log.cpu"
}

echo "| pair | rounds without --http (s) | rounds with --http, polled (s) | cost | CPU without (s) | CPU with (s) | CPU cost |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
costs=()
cpu_costs=()
plain_totals=()
for pair in $(seq "$pairs"); do
  run "$work/plain.log"
  : > "$work/http.log"
  poll "$work/http.log" &
  poller=$!
  run "$work/http.log" --http 127.0.0.1:0
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
  poller=""
  plain="$(round_seconds "$work/plain.log")"
  plain_totals+=("$plain")
  http="$(round_seconds "$work/http.log")"
  cost="$(awk -v a="$plain" -v b="$http" 'BEGIN { printf "%+.2f%%", 100 * (b / a - 1) }')"
  costs+=("${cost%\%}")
  plain_cpu="$(cat "$work/plain.log.cpu")"
  http_cpu="$(cat "$work/http.log.cpu")"
  cpu_cost="$(awk -v a="$plain_cpu" -v b="$http_cpu" 'BEGIN { printf "%+.2f%%", 100 * (b / a - 1) }')"
  cpu_costs+=("${cpu_cost%\%}")
  echo "| $pair | $plain | $http | $cost | $plain_cpu | $http_cpu | $cpu_cost |"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "median over $pairs pairs of $rounds rounds at 1,000 clients: round time $(median "${costs[@]}")%," \
     "process CPU time $(median "${cpu_costs[@]}")%"

bench_binary="$(dirname "$(dirname "$equifl")")/bench/equifl_monitoring_bench"
if [ -x "$bench_binary" ]; then
  "$bench_binary" 1000 "$rounds" > "$work/monitor.txt"
  round="$(printf '%s\n' "${plain_totals[@]}" | awk -v r="$rounds" '{ t += $1 } END { print t / NR / r }')"
  awk -v round="$round" '
    /^round_events_seconds/ { events = $2 } /^poll_seconds/ { poll = $2 }
    END {
      cost = (events + poll * round) / round
      printf "monitor, measured directly: %.2f ms of events per 1,000-client round, %.2f ms per poll " \
             "(4 API answers and /metrics, once a second); per round of %.3f s: %.2f%%\n",
             1000 * events, 1000 * poll, round, 100 * cost
    }' "$work/monitor.txt"
fi
