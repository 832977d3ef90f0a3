"""One bench configuration against another, paired over seeds.

    equifl_fairness_bench ... 2> base.log
    equifl_fairness_bench ... --OTHER-SETTING 2> other.log
    python3 bench/paired_runs.py base.log other.log

Reads the bench's per-run lines ("[SCENARIO] METHOD seed S: ..., accuracy A, worst
group W, MinMaxGAP G, ...") of both logs and prints, per scenario and method, the
paired differences (other minus base) of accuracy and worst-group accuracy in points
and of the test MinMaxGAP in nats, with 95% t intervals. oracle_differences.py reads
the same lines.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_interval import describe  # noqa: E402

LINE = re.compile(r"\[(?P<scenario>[^\]]+)\] (?P<method>\S+) +seed (?P<seed>\d+):.*accuracy "
                  r"(?P<accuracy>[0-9.]+), worst group (?P<worst>[0-9.]+), MinMaxGAP "
                  r"(?P<gap>[0-9.]+)")
MEASURES = [("accuracy (points)", 100), ("worst-group accuracy (points)", 100),
            ("MinMaxGAP (nats)", 1)]


def read_runs(path):
    """{(scenario, method, seed): (accuracy, worst-group accuracy, MinMaxGAP)}."""
    runs = {}
    for line in open(path):
        match = LINE.search(line)
        if match:
            runs[(match["scenario"], match["method"], int(match["seed"]))] = (
                float(match["accuracy"]), float(match["worst"]), float(match["gap"]))
    return runs


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base, other = read_runs(sys.argv[1]), read_runs(sys.argv[2])
    for (scenario, method) in sorted({(s, m) for (s, m, _) in base}):
        seeds = sorted(seed for (s, m, seed) in base
                       if s == scenario and m == method and (s, m, seed) in other)
        if not seeds:
            continue
        print(f"{scenario}, {method} (base {base[(scenario, method, seeds[0])][2]:.3f} nats "
              f"on seed {seeds[0]}):")
        for index, (name, scale) in enumerate(MEASURES):
            print("  " + describe(f"{name}, other minus base", [
                scale * (other[(scenario, method, seed)][index] -
                         base[(scenario, method, seed)][index]) for seed in seeds]))
