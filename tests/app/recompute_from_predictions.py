#!/usr/bin/env python3
"""Recomputes `equifl eval`'s metrics from its predictions file, independently.

Usage: recompute_from_predictions.py PREDICTIONS.csv REPORT.json

Reads only the CSV (Python's csv module, no equifl code) and recomputes, for every
(language, view) cell, each group's count, mean loss and accuracy and the cell's
loss gap; for the fusion view pooled over languages, accuracy, macro-F1, the worst
group, each group's accuracy, macro-F1 and mean loss, and the statistical-parity
and equal-opportunity differences (as docs define them: max over classes of the
gap, max - min, of P(pred = c | g) and of TPR_g(c)). Each is compared with the
report `equifl eval --json` wrote; the script also checks that every row's loss is
-log of its probability of the true class. Prints each mismatch and exits 1 on any.
"""
import csv
import json
import math
import sys
from collections import defaultdict

TOLERANCE = 1e-9


def close(a, b, tolerance=TOLERANCE):
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def macro_f1(pairs, classes):
    scores = []
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        if 2 * tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def main():
    predictions_path, report_path = sys.argv[1], sys.argv[2]
    with open(predictions_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        classes = [name[len("probability:"):] for name in reader.fieldnames
                   if name.startswith("probability:")]
        rows = list(reader)
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    problems = []

    def check(what, mine, theirs, tolerance=TOLERANCE):
        exact = isinstance(theirs, str) or isinstance(mine, int) and isinstance(theirs, int)
        ok = mine == theirs if exact else close(mine, theirs, tolerance)
        if not ok:
            problems.append(f"{what}: recomputed {mine!r}, report {theirs!r}")

    for row in rows:
        probability = float(row["probability:" + row["label"]])
        # Probabilities are written with 9 digits (float32): -log p to about 1e-7.
        check(f"loss of sample {row['sample']} ({row['view']})", -math.log(probability),
              float(row["loss"]), 1e-6)
        predicted = max(classes, key=lambda c: float(row["probability:" + c]))
        if float(row["probability:" + predicted]) > float(row["probability:" + row["prediction"]]):
            problems.append(f"sample {row['sample']}: prediction {row['prediction']} is not "
                            f"the most probable class {predicted}")

    cells = defaultdict(lambda: defaultdict(list))
    for row in rows:
        cells[(row["language"], row["view"])][row["group"]].append(row)
    reported_cells = {(c["language"], c["modality"]): c for c in report["cells"]}
    if set(reported_cells) != set(cells):
        problems.append(f"cells: recomputed {sorted(cells)}, report {sorted(reported_cells)}")
    for key, groups in cells.items():
        reported = reported_cells.get(key)
        if reported is None:
            continue
        means = []
        for group, members in groups.items():
            theirs = reported["groups"][group]
            mean = sum(float(r["loss"]) for r in members) / len(members)
            accuracy = sum(r["label"] == r["prediction"] for r in members) / len(members)
            means.append(mean)
            check(f"{key} {group} count", len(members), theirs["count"])
            check(f"{key} {group} mean loss", mean, theirs["mean_loss"])
            check(f"{key} {group} accuracy", accuracy, theirs["accuracy"]["value"])
        gap = max(means) - min(means) if len(means) >= 2 else 0.0
        check(f"{key} loss gap", gap, reported["loss_gap"])

    fusion = [r for r in rows if r["view"] == "fusion"]
    overall = report["overall"]
    by_group = defaultdict(list)
    for row in fusion:
        by_group[row["group"]].append(row)
    check("overall count", len(fusion), overall["count"])
    check("overall accuracy",
          sum(r["label"] == r["prediction"] for r in fusion) / len(fusion), overall["accuracy"])
    check("overall macro-F1", macro_f1([(r["label"], r["prediction"]) for r in fusion], classes),
          overall["macro_f1"])
    accuracies = {}
    for group, members in by_group.items():
        theirs = overall["groups"][group]
        accuracies[group] = sum(r["label"] == r["prediction"] for r in members) / len(members)
        check(f"overall {group} accuracy", accuracies[group], theirs["accuracy"])
        check(f"overall {group} macro-F1",
              macro_f1([(r["label"], r["prediction"]) for r in members], classes),
              theirs["macro_f1"])
        check(f"overall {group} mean loss",
              sum(float(r["loss"]) for r in members) / len(members), theirs["mean_loss"])
    worst = min(sorted(accuracies), key=lambda g: accuracies[g])
    check("overall worst group", worst, overall["worst_group"])
    parity, opportunity = [], []
    for c in classes:
        rates = [sum(r["prediction"] == c for r in m) / len(m) for m in by_group.values()]
        parity.append(max(rates) - min(rates) if len(rates) >= 2 else 0.0)
        tprs = []
        for members in by_group.values():
            positives = [r for r in members if r["label"] == c]
            if positives:
                tprs.append(sum(r["prediction"] == c for r in positives) / len(positives))
        opportunity.append(max(tprs) - min(tprs) if len(tprs) >= 2 else 0.0)
    check("statistical parity difference (max)", max(parity),
          overall["statistical_parity_difference"]["max"])
    check("equal opportunity difference (max)", max(opportunity),
          overall["equal_opportunity_difference"]["max"])

    for problem in problems:
        print(problem)
    print(f"{len(rows)} rows, {len(cells)} cells, {len(classes)} classes: "
          f"{'all metrics reproduced' if not problems else f'{len(problems)} mismatches'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
