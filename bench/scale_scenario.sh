# Sourced by the bench scripts that run the scale scenario: scale_scenario CLIENTS OUT
# writes sim/scenarios/scale_10k.yaml with CLIENTS virtual clients of 20 samples each.
scale_scenario() {
  local clients="$1" out="$2"
  sed -e "s/^  clients: 10000$/  clients: $clients/" \
      -e "s/^    samples: 200000$/    samples: $((clients * 20))/" \
      sim/scenarios/scale_10k.yaml > "$out"
}
