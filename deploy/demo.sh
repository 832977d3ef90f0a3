#!/usr/bin/env bash
# A federated run on this machine: synthetic data for three clients, their
# certificates, one `equifl server` and three `equifl client` processes talking
# gRPC with mutual TLS on 127.0.0.1.
# Expects the build of deploy/dev.sh (build/default).
set -euo pipefail
cd "$(dirname "$0")/.."
equifl=build/default/app/equifl
config=deploy/config/demo.yaml
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo"

echo "== equifl data synth: 3 clients x 600 samples (video, audio, text; planted bias)"
"$equifl" data synth --out "$demo/data" --clients 3 --samples-per-client 600 --seed 1

echo "== equifl certs: a CA, the server's certificate and one per client"
"$equifl" certs --out "$demo/certs" --clients client-0,client-1,client-2 | sed 's/^/   /'

echo "== equifl server (log: $demo/server.log)"
"$equifl" --config "$config" server --schema "$demo/data/client-000" \
  --certs "$demo/certs/server" --report "$demo/report.html" > "$demo/server.log" 2>&1 &
server=$!
trap 'kill $server ${clients[*]:-} 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$demo/server.log")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$demo/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start"; cat "$demo/server.log"; exit 1; }

echo "== 3 x equifl client, dialling 127.0.0.1:$port with mutual TLS (logs: $demo/client-N.log)"
clients=()
for i in 0 1 2; do
  "$equifl" --config "$config" client --shard "$demo/data/client-00$i" \
    --server "127.0.0.1:$port" --certs "$demo/certs/clients/client-$i" \
    > "$demo/client-$i.log" 2>&1 &
  clients+=($!)
done
# Progress: the server's round lines as they come.
tail -n +1 -f "$demo/server.log" --pid "$server" | grep --line-buffered -E "round [0-9]+:|final evaluation" &
status=0
wait "$server" || status=$?
for pid in "${clients[@]}"; do wait "$pid" || status=$?; done
trap - EXIT
sleep 0.2
echo "== per-round results (from $demo/run/history.db; val: each round's starting model)"
sed -n '/^ *round /,$p' "$demo/server.log"
echo "== each client's final model on its own test split"
grep -h "final model on the local test split" "$demo"/client-*.log
echo "== every round's fairness report: $demo/run/report.jsonl; plots: $demo/report.html"
exit $status
