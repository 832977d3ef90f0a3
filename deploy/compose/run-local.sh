#!/usr/bin/env bash
# Runs the services of deploy/compose/docker-compose.yml as processes on this
# machine, without Docker, to show that their commands work with a built binary:
# the one-shot services (certs, token, data), then the aggregator and the clients
# until the run ends; then the one-shot services and the aggregator again, as a
# second `docker-compose up` would (the files are kept, the finished run resumed).
#
#   deploy/compose/run-local.sh [EQUIFL]     # default build/default/app/equifl
#
# Each service's command is taken from `docker-compose config` and run unchanged
# in a scratch folder laid out like the image's /var/lib/equifl, with `equifl` and
# `equifl-restartable` (deploy/equifl-restartable.sh) on PATH, except that:
# - bind-mounted files (the configuration) are read from the repository;
# - each listen address 0.0.0.0:N gets a port of its own (the three clients' 9100
#   would clash on one host), and the clients dial the aggregator's;
# - flags the binary does not have (--http, --metrics, --http-token-file) are
#   dropped; where it has them, the aggregator's and client-1's /metrics are
#   fetched with the token while the run goes (HTTPS on 0.0.0.0 with --certs,
#   checked against the run's CA).
# It runs in private mount and network namespaces (unshare: root, or unprivileged
# user namespaces): its own /etc/hosts makes `aggregator`, the name in the server
# certificate, this machine, and 0.0.0.0 binds only a private loopback. Needs
# docker-compose (only to render the file; no daemon), python3 with PyYAML and ip.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
compose=$repo/deploy/compose/docker-compose.yml
commands=$repo/deploy/compose/commands.py
equifl=$(realpath "${1:-$repo/build/default/app/equifl}")
fail() {
  echo "run-local: $*" >&2
  exit 1
}
[ -x "$equifl" ] || fail "no equifl binary at $equifl (cmake --build --preset default --target equifl)"

if [ -z "${EQUIFL_RUN_LOCAL_NAMESPACE:-}" ]; then
  command -v unshare > /dev/null || fail "needs unshare (util-linux)"
  flags=(--mount --net)
  [ "$(id -u)" -eq 0 ] || flags=(--map-root-user "${flags[@]}")
  EQUIFL_RUN_LOCAL_NAMESPACE=1 exec unshare "${flags[@]}" "$0" "$equifl"
fi

ip link set lo up || fail "cannot bring up the loopback of the private network namespace"
work=$(mktemp -d /tmp/equifl-compose.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

printf '127.0.0.1 localhost aggregator\n::1 localhost\n' > "$work/hosts"
mount --bind "$work/hosts" /etc/hosts
getent hosts aggregator > /dev/null || fail "aggregator does not resolve in the private /etc/hosts"

mkdir -p "$work/bin" "$work/home"/{certs,data,run,secrets}
ln -s "$equifl" "$work/bin/equifl"
ln -s "$repo/deploy/equifl-restartable.sh" "$work/bin/equifl-restartable"
export PATH="$work/bin:$PATH"

has_http=no has_metrics=no
if "$equifl" server --help | grep -q -- '--http '; then has_http=yes; fi
if "$equifl" client --help | grep -q -- '--metrics '; then has_metrics=yes; fi
echo "== $equifl ($("$equifl" --version)); server --http: $has_http, client --metrics: $has_metrics"

docker-compose -f "$compose" config > "$work/compose.yml" 2> "$work/compose.err" ||
  { cat "$work/compose.err" >&2; fail "docker-compose config failed"; }
python3 "$commands" plan "$work/compose.yml" "$has_http" "$has_metrics" > "$work/plan"

# run_service NAME ARGV_JSON: runs it in the image's folder, output in NAME.log.
run_service() {
  (cd "$work/home" && exec python3 "$commands" exec "$2") > "$work/$1.log" 2>&1
}
show() { echo "   $1: $(python3 "$commands" show "$2")"; }
# fetch_metrics SERVICE PREFIX: its /metrics, from the URL its log announces.
fetch_metrics() {
  python3 "$commands" metrics "$work/$1.log" "$2" "$work/home/certs/server/ca.pem" "$token" \
    "$repo/deploy/grafana/metric-names.txt" || fail "fetching the metrics of $1 failed"
}

for pass in 1 2; do
  if [ "$pass" = 1 ]; then
    echo "== pass 1: what \`docker-compose up\` runs"
  else
    echo "== pass 2: \`docker-compose up\` again, on the same volumes"
  fi
  while read -r name role argv; do
    [ "$role" = once ] || continue
    show "$name" "$argv"
    run_service "$name" "$argv" || { cat "$work/$name.log"; fail "$name failed (pass $pass)"; }
  done < "$work/plan"
  [ -s "$work/home/secrets/http-token" ] || fail "the token service left no secrets/http-token"
  [ "$pass" = 2 ] || token=$(cat "$work/home/secrets/http-token")
  [ "$(cat "$work/home/secrets/http-token")" = "$token" ] || fail "the token changed in pass 2"

  pids=()
  while read -r name role argv; do
    [ "$role" = serve ] || continue
    show "$name" "$argv"
    run_service "$name" "$argv" &
    pids+=($!)
    server_pid=$! server=$name
  done < "$work/plan"
  if [ "$pass" = 2 ]; then
    # The run is over: the aggregator resumes it, prints its table and exits 0.
    wait "$server_pid" || { cat "$work/$server.log"; fail "$server failed in pass 2"; }
    grep -q "continuing it with --resume" "$work/$server.log" || fail "$server did not resume"
    echo "   $server resumed the finished run and exited 0"
    break
  fi
  for _ in $(seq 1 300); do
    grep -q "listening on" "$work/$server.log" && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$work/$server.log"; fail "$server exited"; }
    sleep 0.1
  done
  grep -q "listening on" "$work/$server.log" || fail "$server is not listening after 30 s"
  clients=()
  while read -r name role argv; do
    [ "$role" = run ] || continue
    show "$name" "$argv"
    run_service "$name" "$argv" &
    pids+=($!)
    clients+=("$name:$!")
  done < "$work/plan"
  if [ "$has_http" = yes ]; then fetch_metrics "$server" "dashboard at "; fi
  if [ "$has_metrics" = yes ]; then fetch_metrics "${clients[0]%%:*}" "metrics at "; fi

  status=0
  wait "$server_pid" || status=$?
  [ "$status" = 0 ] || { tail -20 "$work/$server.log"; fail "$server exited $status"; }
  for entry in "${clients[@]}"; do
    name=${entry%%:*}
    wait "${entry#*:}" || { tail -20 "$work/$name.log"; fail "$name failed"; }
    grep -h "final model on the local test split" "$work/$name.log" | sed 's/^/   /'
  done
  sed -n '/^ *round /,/final model on the test splits/p' "$work/$server.log" | sed 's/^/   /'
done
pids=()
echo "run-local: every service of deploy/compose/docker-compose.yml ran and exited 0"
