#!/usr/bin/env bash
# What client-level DP's noise on the fairness statistics costs the reports: the
# scale scenario (sim/scenarios/scale_10k.yaml, 20 samples per client, one round
# and the final evaluation) at 1,000 and 10,000 clients, privacy off and on
# (clip_norm 1, noise_multiplier 1, statistics bounded to 20 samples per view and
# noised at z_s = 2). Prints the final evaluation's test accuracy, the MinMaxGAP
# with its bounds, each group's accuracy interval and the (epsilon, 1e-5) spent.
#
#   bench/dp_statistics.sh [build/default/app/equifl]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/scale_scenario.sh
source bench/scale_scenario.sh
equifl="$(realpath "${1:-build/default/app/equifl}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The scale scenario with CLIENTS clients, privacy off or on.
private_scenario() {
  local clients="$1" privacy="$2" out="$3"
  scale_scenario "$clients" "$out"
  if [[ "$privacy" == on ]]; then
    printf 'privacy:\n  clip_norm: 1.0\n  noise_multiplier: 1.0\n  statistics_samples_per_view: 20\n' \
      >> "$out"
  fi
}

echo "| clients | DP | test samples | accuracy | MinMaxGAP [lower, upper] (nats) | group accuracy [95% interval] | epsilon |"
echo "|---:|---|---:|---:|---|---|---:|"
for clients in 1000 10000; do
  for privacy in off on; do
    private_scenario "$clients" "$privacy" "$work/scale.yaml"
    rm -rf "$work/run"
    "$equifl" sim "$work/scale.yaml" --run-dir "$work/run" > "$work/log" 2>&1
    /usr/bin/python3 - "$work/run/report.jsonl" "$clients" "$privacy" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
final = [line for line in lines if line["final_evaluation"]][-1]
report = final["validation"]
gap = report["min_max_gap"]
groups = report["cells"][0]["groups"]
accuracy = ", ".join(
    f'{name} {g["accuracy"]["value"]:.3f} [{g["accuracy"]["lower"]:.3f}, {g["accuracy"]["upper"]:.3f}]'
    for name, g in sorted(groups.items()))
print(f'| {sys.argv[2]} | {sys.argv[3]} | {report["overall"]["count"]} | '
      f'{report["overall"]["accuracy"]:.4f} | {gap["value"]:.3f} [{gap["lower"]:.3f}, '
      f'{gap["upper"]:.3f}] | {accuracy} | {final["privacy_epsilon"]:.3f} |')
PY
  done
done
