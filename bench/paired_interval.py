"""The mean of paired differences with a 95% t interval, for the benchmarks.

    python3 bench/paired_interval.py 'WHAT' FILE ['WHAT' FILE ...]

Each FILE holds one difference per line (one per seed); prints, per file,
"WHAT, over n seeds: +mean [+low, +high] (95% t interval)". Other scripts import
`describe`.
"""
import math
import sys

T_975 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}


def describe(what, differences):
    """'WHAT, over n seeds: +mean [+low, +high] (95% t interval)'."""
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        return f"{what}, over 1 seed: {mean:+.3f} (no interval from one seed)"
    deviation = math.sqrt(sum((x - mean) ** 2 for x in differences) / (n - 1))
    half = T_975.get(n, 2.0) * deviation / math.sqrt(n)
    return (f"{what}, over {n} seeds: {mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] "
            "(95% t interval)")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2:
        sys.exit(__doc__)
    for what, path in zip(arguments[::2], arguments[1::2]):
        print(describe(what, [float(line) for line in open(path) if line.strip()]))
