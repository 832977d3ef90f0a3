"""bench/pareto_front.py against hand-computed fronts and margins.

    python3 tests/bench/pareto_front_test.py BENCH_DIR
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, sys.argv.pop(1) if len(sys.argv) > 1 else "bench")
import pareto_front  # noqa: E402


def run_line(scenario, method, seed, accuracy, gap, calibrated=None):
    """One per-run line as equifl_fairness_bench writes it."""
    line = (f"[{scenario}] {method:<11} seed {seed}:   1.0 s, accuracy {accuracy:.3f}, worst group "
            f"0.500, MinMaxGAP {gap:.3f}, val gap 0.100, lambda 1.00, model of round 3 (chosen)")
    if calibrated is not None:
        line += f", calibrated MinMaxGAP {calibrated:.3f}"
    return line + "\n"


class FrontTest(unittest.TestCase):
    def test_the_front_keeps_the_points_nothing_dominates(self):
        points = [(0.3, 70), (0.2, 68), (0.25, 65), (0.1, 60), (0.3, 69)]
        self.assertEqual(pareto_front.front_of(points), [(0.1, 60), (0.2, 68), (0.3, 70)])

    def test_the_front_is_joined_by_lines_and_flat_to_the_right(self):
        front = [(0.1, 60), (0.2, 68), (0.3, 70)]
        self.assertAlmostEqual(pareto_front.front_accuracy(front, 0.15), 64)
        self.assertAlmostEqual(pareto_front.front_accuracy(front, 0.25), 69)
        self.assertEqual(pareto_front.front_accuracy(front, 0.2), 68)
        self.assertEqual(pareto_front.front_accuracy(front, 0.5), 70)
        self.assertIsNone(pareto_front.front_accuracy(front, 0.05))
        self.assertIsNone(pareto_front.front_accuracy([], 0.2))


class MarginTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.folder.cleanup()

    def log(self, name, lines):
        path = os.path.join(self.folder.name, name)
        with open(path, "w") as handle:
            handle.writelines(lines)
        return path

    def test_margins_are_per_seed_against_that_seeds_front(self):
        # Seed 1's front: (0.4, 0.80), (0.2, 0.76); seed 2's: (0.5, 0.82), (0.3, 0.78).
        erm = self.log("erm.log", [run_line("s", "fedavg", 1, 0.80, 0.4, calibrated=0.35),
                                   run_line("s", "fedavg", 2, 0.82, 0.5, calibrated=0.45)])
        fixed = self.log("fixed.log", [run_line("s", "fixed_weights", 1, 0.76, 0.2),
                                       run_line("s", "fixed_weights", 2, 0.78, 0.3)])
        # At gap 0.3 seed 1's front reads 0.78, so 0.79 is 1 point above; at 0.4 seed 2's
        # reads 0.80, so 0.79 is 1 point below: a mean of 0 over the two seeds.
        dro = self.log("dro.log", [run_line("s", "group_dro", 1, 0.79, 0.3),
                                   run_line("s", "group_dro", 2, 0.79, 0.4)])
        # Left of every front point in both seeds.
        left = self.log("left.log", [run_line("s", "group_dro", 1, 0.70, 0.1),
                                     run_line("s", "group_dro", 2, 0.70, 0.1)])
        series = {}
        for label, path in [("fixed t=0", erm), ("fixed t=1", fixed), ("fedavg", erm),
                            ("group_dro", dro), ("other", left)]:
            for (scenario, name), runs in pareto_front.read_series(label, path, "fixed").items():
                self.assertEqual(scenario, "s")
                series[name] = runs
        # A calibrated point only beside a series that is not on the front.
        self.assertIn("fedavg + calibration", series)
        self.assertNotIn("fixed t=0 + calibration", series)
        rows, fronts = pareto_front.scenario_rows(series, "fixed")
        self.assertEqual(fronts[1], [(0.2, 0.76), (0.4, 0.80)])
        margins = {name: margin for name, _, _, _, _, margin in rows}
        self.assertEqual(margins["fixed t=1"], "(the front)")
        self.assertEqual(margins["group_dro"], "+0.00 [-12.71, +12.71]")
        self.assertEqual(margins["other"], "2 of 2 seeds left of the front")
        # FedAvg is a front point in both seeds; calibrated, its gap is smaller at the
        # same accuracy: seed 1 at 0.35 reads 0.79 (1 point above), seed 2 at 0.45 0.81.
        self.assertEqual(margins["fedavg"], "+0.00 [+0.00, +0.00]")
        self.assertEqual(margins["fedavg + calibration"], "+1.00 [+1.00, +1.00]")

    def test_a_log_it_cannot_read_is_named(self):
        with self.assertRaises(SystemExit) as raised:
            pareto_front.read_series("x", os.path.join(self.folder.name, "missing.log"), "fixed")
        self.assertIn("cannot read", str(raised.exception))

    def test_a_log_without_runs_is_refused(self):
        empty = self.log("empty.log", ["total 3 s\n"])
        with self.assertRaises(SystemExit) as raised:
            pareto_front.read_series("x", empty, "fixed")
        self.assertIn("no per-run lines", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
