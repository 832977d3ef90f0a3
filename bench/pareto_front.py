"""Accuracy against the true gap: each configuration's point beside the front of
fixed group weights (bench/RESULTS.md, "Pareto fronts").

    equifl_fairness_bench ... --methods fixed_weights --fixed-weights-power 1 2> fixed-1.log
    equifl_fairness_bench ... --methods group_dro --epsilon 0.1 2> dro-0.1.log
    equifl_fairness_bench ... --methods fedavg --calibrate 2> fedavg.log
    python3 bench/pareto_front.py [--front PREFIX] [--svg FILE] \\
        'fixed t=1=fixed-1.log' 'group_dro eps=0.1=dro-0.1.log' 'fixed t=0=fedavg.log' ...

Each argument is LABEL=LOG (the last '=' splits them); the bench's per-run lines of
LOG ("[SCENARIO] METHOD seed S: ..., accuracy A, worst group W, MinMaxGAP G, ...")
make one series per scenario under LABEL (LABEL METHOD when LOG holds several
methods). Series whose label starts with PREFIX ("fixed" by default) make the
fixed-weight front. In another series, a run that reports a calibrated MinMaxGAP
(--calibrate) also adds a point "LABEL + calibration": the same predictions, so the
same accuracy, at the calibrated gap (give FedAvg's log twice, as 'fixed t=0' and
as 'fedavg', to have it on the front and calibrated beside it). The front is,
per seed, the upper envelope of the front series' (gap, accuracy) points, joined
by straight lines, flat to the right of the one with the largest gap. Every other
series' margin is its accuracy minus the front's at its gap, per seed, in points:
positive above the front, negative below; a point left of the front's smallest gap
is counted apart (no fixed weights reached so small a gap). Prints a Markdown table per
scenario (means with 95% t intervals over seeds); --svg also draws them.
"""
import math
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_interval import T_975  # noqa: E402

LINE = re.compile(r"\[(?P<scenario>[^\]]+)\] (?P<method>\S+) +seed (?P<seed>\d+):.*accuracy "
                  r"(?P<accuracy>[0-9.]+), worst group (?P<worst>[0-9.]+), MinMaxGAP "
                  r"(?P<gap>[0-9.]+)(?:.*calibrated MinMaxGAP (?P<calibrated>[0-9.]+))?")


def read_series(label, path, prefix):
    """{(scenario, series label): {seed: (accuracy, worst group, gap)}}."""
    runs = defaultdict(dict)
    methods = set()
    try:
        with open(path) as handle:
            lines = [LINE.search(line) for line in handle]
    except OSError as error:
        sys.exit(f"{label}: cannot read {path}: {error.strerror}")
    lines = [match for match in lines if match]
    if not lines:
        sys.exit(f"{path}: no per-run lines of equifl_fairness_bench (was its stderr saved?)")
    for match in lines:
        methods.add(match["method"])
    for match in lines:
        name = label if len(methods) == 1 else f"{label} {match['method']}"
        seed = int(match["seed"])
        point = (float(match["accuracy"]), float(match["worst"]), float(match["gap"]))
        runs[(match["scenario"], name)][seed] = point
        if match["calibrated"] is not None and not label.startswith(prefix):
            runs[(match["scenario"], f"{name} + calibration")][seed] = (
                point[0], point[1], float(match["calibrated"]))
    return runs


def interval(values):
    """(mean, half width of the 95% t interval; 0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    deviation = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    return mean, T_975.get(n, 2.0) * deviation / math.sqrt(n)


def front_of(points):
    """The non-dominated (gap, accuracy) points, by increasing gap and accuracy."""
    front = []
    for gap, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or accuracy > front[-1][1]:
            front.append((gap, accuracy))
    return front


def front_accuracy(front, gap):
    """The front's accuracy at `gap`, or None left of its smallest gap."""
    if not front or gap < front[0][0]:
        return None
    for (g0, a0), (g1, a1) in zip(front, front[1:]):
        if g0 <= gap <= g1:
            return a0 + (a1 - a0) * (gap - g0) / (g1 - g0) if g1 > g0 else max(a0, a1)
    return front[-1][1]


def scenario_rows(series, prefix):
    """Markdown rows and the per-seed fronts of one scenario."""
    fixed = {name: runs for name, runs in series.items() if name.startswith(prefix)}
    seeds = sorted({seed for runs in series.values() for seed in runs})
    fronts = {seed: front_of([(runs[seed][2], runs[seed][0]) for runs in fixed.values()
                              if seed in runs]) for seed in seeds}
    rows = []
    for name, runs in sorted(series.items(), key=lambda item: (
            not item[0].startswith(prefix), -interval([p[2] for p in item[1].values()])[0])):
        accuracy = interval([100 * p[0] for p in runs.values()])
        worst = interval([100 * p[1] for p in runs.values()])
        gap = interval([p[2] for p in runs.values()])
        margin_text = "(the front)" if name.startswith(prefix) else "—"
        if not name.startswith(prefix) and fixed:
            margins, left = [], 0
            for seed, (acc, _, g) in sorted(runs.items()):
                at = front_accuracy(fronts.get(seed, []), g)
                if at is None:
                    left += 1
                else:
                    margins.append(100 * (acc - at))
            parts = []
            if len(margins) == 1:
                parts.append(f"{margins[0]:+.2f} (1 seed)")
            elif margins:
                mean, half = interval(margins)
                parts.append(f"{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}]")
            if left:
                parts.append(f"{left} of {len(runs)} seeds left of the front")
            margin_text = "; ".join(parts)
        rows.append((name, len(runs), accuracy, worst, gap, margin_text))
    return rows, fronts


def markdown(scenario, rows):
    print(f"\n{scenario}\n")
    print("| configuration | seeds | accuracy (points) | worst-group accuracy (points) | "
          "MinMaxGAP (nats) | above the fixed-weight front (points) |")
    print("|---|---|---|---|---|---|")
    for name, n, (a, ah), (w, wh), (g, gh), margin in rows:
        print(f"| {name} | {n} | {a:.2f} ± {ah:.2f} | {w:.2f} ± {wh:.2f} | {g:.3f} ± {gh:.3f} | "
              f"{margin} |")


COLOURS = ["#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d96a3", "#6a4c93"]


def svg(path, panels, prefix, order):
    """One panel per scenario: every configuration's mean with its intervals, the
    fixed-weight configurations joined by a line in the order given (`order`, their
    names as the arguments listed them)."""
    width, height, margin = 520, 380, 60
    families = sorted({name.split(" ")[0] for _, rows in panels for name, *_ in rows})
    total_height = height + 40 + 16 * len(families) + 32
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * len(panels)}" '
           f'height="{total_height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width * len(panels)}" height="{total_height}" fill="white"/>']
    colour = {family: COLOURS[i % len(COLOURS)] for i, family in enumerate(families)}
    for index, (scenario, rows) in enumerate(panels):
        left = index * width + margin
        xs = [g - gh for *_, (g, gh), _ in rows] + [g + gh for *_, (g, gh), _ in rows]
        ys = [a - ah for _, _, (a, ah), *_ in rows] + [a + ah for _, _, (a, ah), *_ in rows]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        pad_x, pad_y = (x1 - x0) * 0.08 or 0.01, (y1 - y0) * 0.08 or 0.5
        x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
        plot_w, plot_h = width - margin - 20, height - margin - 20

        def at(gap, accuracy):
            return (left + (gap - x0) / (x1 - x0) * plot_w,
                    20 + (1 - (accuracy - y0) / (y1 - y0)) * plot_h)

        out.append(f'<rect x="{left}" y="20" width="{plot_w}" height="{plot_h}" fill="none" '
                   'stroke="#444"/>')
        out.append(f'<text x="{left + plot_w / 2}" y="14" text-anchor="middle" '
                   f'font-weight="bold">{scenario}</text>')
        for k in range(5):
            gap = x0 + (x1 - x0) * k / 4
            accuracy = y0 + (y1 - y0) * k / 4
            x, _ = at(gap, y0)
            _, y = at(x0, accuracy)
            out.append(f'<text x="{x:.1f}" y="{20 + plot_h + 14}" text-anchor="middle">'
                       f'{gap:.3f}</text>')
            out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
                       f'{accuracy:.1f}</text>')
        out.append(f'<text x="{left + plot_w / 2}" y="{20 + plot_h + 30}" text-anchor="middle">'
                   'true MinMaxGAP on the test split (nats)</text>')
        out.append(f'<text transform="translate({left - 42},{20 + plot_h / 2}) rotate(-90)" '
                   'text-anchor="middle">accuracy (points)</text>')
        # In the order the series were given (their t), not of their gaps.
        by_name = {name: (g, a) for name, _, (a, _), _, (g, _), _ in rows}
        fixed = [by_name[name] for name in order if name in by_name and name.startswith(prefix)]
        if len(fixed) > 1:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(g, a) for g, a in fixed))
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour[prefix]}" '
                       'stroke-dasharray="4 3"/>')
        labelled = set()
        for name, _, (a, ah), _, (g, gh), _ in rows:
            family = name.split(" ")[0]
            x, y = at(g, a)
            xl, _ = at(g - gh, a)
            xr, _ = at(g + gh, a)
            _, yt = at(g, a + ah)
            _, yb = at(g, a - ah)
            c = colour[family]
            out.append(f'<line x1="{xl:.1f}" y1="{y:.1f}" x2="{xr:.1f}" y2="{y:.1f}" '
                       f'stroke="{c}" stroke-opacity="0.5"/>')
            out.append(f'<line x1="{x:.1f}" y1="{yt:.1f}" x2="{x:.1f}" y2="{yb:.1f}" '
                       f'stroke="{c}" stroke-opacity="0.5"/>')
            shape = (f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{c}"/>'
                     if "calibration" in name else
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{c}"/>')
            out.append(shape)
            if (round(g, 6), round(a, 6)) in labelled:
                continue  # The same point under another name (FedAvg as t = 0).
            labelled.add((round(g, 6), round(a, 6)))
            out.append(f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" fill="{c}" font-size="9">'
                       f'{name.split(" ", 1)[1] if " " in name else name}</text>')
    for i, family in enumerate(families):
        y = height + 20 + 16 * i
        out.append(f'<circle cx="{margin + 5}" cy="{y - 4}" r="4" fill="{colour[family]}"/>')
        out.append(f'<text x="{margin + 14}" y="{y}">{family}</text>')
    y = height + 20 + 16 * len(families)
    out.append(f'<text x="{margin}" y="{y}">Means over seeds with 95% t intervals; squares: '
               'after per-group temperature scaling (the same accuracy);</text>')
    out.append(f'<text x="{margin}" y="{y + 16}">the dashed line joins the fixed-weight '
               'configurations.</text>')
    out.append("</svg>")
    with open(path, "w") as handle:
        handle.write("\n".join(out) + "\n")


def main(arguments):
    prefix, svg_path, inputs = "fixed", None, []
    while arguments:
        argument = arguments.pop(0)
        if argument in ("--front", "--svg") and arguments:
            value = arguments.pop(0)
            if argument == "--front":
                prefix = value
            else:
                svg_path = value
        elif "=" in argument and not argument.startswith("-"):
            inputs.append(argument.rsplit("=", 1))
        else:
            sys.exit(__doc__)
    if not inputs:
        sys.exit(__doc__)
    by_scenario = defaultdict(dict)
    order = []  # Series names as given, for the plot's line.
    for label, path in inputs:
        for (scenario, name), runs in read_series(label, path, prefix).items():
            by_scenario[scenario][name] = runs
            if name not in order:
                order.append(name)
    panels = []
    for scenario, series in by_scenario.items():
        rows, _ = scenario_rows(series, prefix)
        markdown(scenario, rows)
        panels.append((scenario, rows))
    if svg_path:
        svg(svg_path, panels, prefix, order)


if __name__ == "__main__":
    main(sys.argv[1:])
