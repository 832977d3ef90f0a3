"""Federated minus centrally trained (the oracle), paired over seeds.

    equifl_fairness_bench ... --oracle 2> runs.log
    python3 bench/oracle_differences.py runs.log

Reads the bench's per-run lines ("[SCENARIO] METHOD seed S: ..., accuracy A, worst
group W, MinMaxGAP G, ...") and prints, per scenario and method, the paired
differences of accuracy, worst-group accuracy and MinMaxGAP between the federated
run and the oracle run ("[SCENARIO-oracle]") of the same seed, with 95% t intervals,
and the federated MinMaxGAP as a share of the oracle's.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_interval import describe  # noqa: E402
from paired_runs import read_runs  # noqa: E402

if len(sys.argv) != 2:
    sys.exit(__doc__)
runs = read_runs(sys.argv[1])
for (scenario, method) in sorted({(s, m) for (s, m, _) in runs if not s.endswith("-oracle")}):
    seeds = sorted(seed for (s, m, seed) in runs
                   if s == scenario and m == method and (f"{s}-oracle", m, seed) in runs)
    if not seeds:
        continue
    pairs = [(runs[(scenario, method, seed)], runs[(f"{scenario}-oracle", method, seed)])
             for seed in seeds]
    print(f"{scenario}, {method}:")
    for index, name in enumerate(["accuracy", "worst-group accuracy", "MinMaxGAP"]):
        print("  " + describe(f"{name}, federated minus oracle",
                              [federated[index] - oracle[index] for federated, oracle in pairs]))
    ratios = [federated[2] / oracle[2] for federated, oracle in pairs if oracle[2] > 0]
    if ratios:
        print(f"  MinMaxGAP federated / oracle: {sum(ratios) / len(ratios):.2f} on average")
