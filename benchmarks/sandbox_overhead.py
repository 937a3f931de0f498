"""What the grading sandbox costs: ``nbgrader autograde`` with the sandbox on and off, same run.

    .venv/bin/python benchmarks/sandbox_overhead.py [--students 4] [--assignments 01_convolution_1d ...]

For each assignment, a temporary course grades ``--students`` copies of the solution twice: once as
configured (bubblewrap sandbox) and once with ``CNNLAB_UNSAFE_NO_SANDBOX=1`` (same trusted verdicts,
no sandbox). Sandbox-on and sandbox-off runs alternate so that a busy machine penalises both alike.
Prints seconds per submission for both and the overhead; the last line is the whole course per
student. Needs bubblewrap; notebook 06 needs MNIST (``CNNLAB_DATA``).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course import ASSIGNMENTS, REPO, autograde, make_course, scores, submit  # noqa: E402


def grade_once(course, assignment, sandbox):
    if sandbox:
        os.environ.pop("CNNLAB_UNSAFE_NO_SANDBOX", None)
    else:
        os.environ["CNNLAB_UNSAFE_NO_SANDBOX"] = "1"
    started = time.perf_counter()
    autograde(course, assignment)
    seconds = time.perf_counter() - started
    os.environ.pop("CNNLAB_UNSAFE_NO_SANDBOX", None)
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--assignments", nargs="*", default=ASSIGNMENTS)
    args = parser.parse_args()
    totals = {True: 0.0, False: 0.0}
    print(f"{'assignment':24s} {'sandbox s/sub':>14s} {'no sandbox s/sub':>17s} {'overhead':>9s}")
    for assignment in args.assignments:
        with tempfile.TemporaryDirectory() as tmp:
            course = make_course(tmp, [assignment])
            solution = REPO / "solutions" / assignment / f"{assignment}.ipynb"
            for i in range(args.students):
                submit(course, f"student{i:03d}", assignment, solution)
            best = {True: float("inf"), False: float("inf")}
            for _ in range(args.repeats):
                for sandbox in (True, False):
                    best[sandbox] = min(best[sandbox], grade_once(course, assignment, sandbox))
            full = all(s == m for s, m, _ in scores(course, assignment).values())
        per = {k: v / args.students for k, v in best.items()}
        for k in totals:
            totals[k] += per[k]
        print(
            f"{assignment:24s} {per[True]:14.2f} {per[False]:17.2f} {per[True] / per[False] - 1:9.1%}"
            + ("" if full else "   (not every solution scored full marks!)")
        )
    print(
        f"whole course per student: sandbox {totals[True]:.1f} s, no sandbox {totals[False]:.1f} s, "
        f"overhead {totals[True] / totals[False] - 1:.1%}"
    )


if __name__ == "__main__":
    main()
