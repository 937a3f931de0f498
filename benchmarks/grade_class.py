"""Grade a synthetic class with the real ``nbgrader autograde`` and time it.

Run with ``.venv/bin/python benchmarks/grade_class.py --students 50 --workers 2``.

A temporary copy of the course is built (``tests/course.py``'s ``make_course``), then every
student submits every assignment: 60 % the full solution, 20 % the solution with one buggy
answer from ``tests/mutants.py`` pasted into its answer cell, 20 % the untouched release
(a fixed random mix, ``--seed``). Grading time excludes building the course and placing the
submissions. The script checks every score (solution = full marks, release = 0, mutant < full)
and prints the wall time, the time per student for the whole course and the score distribution.

Layouts for ``--workers K``:

* ``dask`` (default): ``cnnlab grade`` (cnnlab/course/cluster.py) on a LocalCluster of K workers,
  one task per (student, assignment), each running nbgrader's own autograde in a scratch course
  copy; the coordinator alone writes the gradebook. ``--workers 1 2`` grades the same class once
  per worker count (each in a fresh copy) and prints the speed-up, the parallel efficiency, the
  CPU seconds per submission by assignment, and a projection for 1,000 students on 64 cores.
* ``copies`` (the layout before ``cnnlab grade``): the students are split into K groups; each group gets
  its own copy of the course, with its own ``gradebook.db``, and one process per group runs
  ``nbgrader autograde <assignment>`` for every assignment. Scores are merged at the end from the
  K gradebooks.
* ``shared``: one course, K threads each running ``nbgrader autograde <assignment> --student <id>``
  per student. Kept to show why it is not used: concurrent nbgrader processes write one sqlite
  gradebook at the same time (``cnnlab grade`` has its coordinator write it alone).

The last line printed is the headline: seconds of wall time per student for the whole course.
"""

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from course import ASSIGNMENTS, BIN, make_course, read, release_notebook, replace_answer, scores, \
    solution_notebook, submit  # noqa: E402
from mutants import MUTANTS  # noqa: E402

MIX = (("solution", 0.6), ("mutant", 0.2), ("release", 0.2))


def grading_env(workers):
    """The environment of every nbgrader process: venv on PATH, MNIST, threads split across workers."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    shared = REPO.parent / "shared" / "data" / "mnist"
    if not env.get("CNNLAB_DATA") and shared.is_dir():
        env["CNNLAB_DATA"] = str(shared)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


def _children_cpu():
    """CPU seconds (user + system) of finished child processes, kernels included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_cpu_seconds():
    """CPU-seconds the whole machine has spent busy since boot (Linux /proc/stat; None elsewhere).

    The difference over a grading run counts every process, sandboxed kernels included, which the
    per-task CPU figures miss; on an otherwise quiet machine it is the grading's real CPU cost.
    """
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run_nbgrader(args, cwd, env):
    start = time.perf_counter()
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    return result, time.perf_counter() - start


def mutants_by_assignment(assignments):
    """{assignment: [(exercise, source), ...]} for the mutants whose answer cell is in that notebook."""
    found = defaultdict(list)
    for name in assignments:
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in read(solution_notebook(name)).cells}
        for exercise, _, source in MUTANTS:
            if f"ex_{exercise}" in ids:
                found[name].append((exercise, source.strip("\n")))
    return found


def make_class(n_students, assignments, seed):
    """{(student, assignment): (kind, exercise or None, source or None)}."""
    rng = random.Random(seed)
    mutants = mutants_by_assignment(assignments)
    kinds, weights = zip(*MIX)
    plan = {}
    for i in range(n_students):
        student = f"student{i:03d}"
        for name in assignments:
            kind = rng.choices(kinds, weights)[0]
            if kind == "mutant" and not mutants[name]:
                kind = "solution"  # no mutant targets this notebook
            if kind == "mutant":
                exercise, source = rng.choice(mutants[name])
                plan[student, name] = ("mutant", exercise, source)
            else:
                plan[student, name] = (kind, None, None)
    return plan


def place_submissions(course, plan, students, assignments):
    solutions = {name: read(solution_notebook(name)) for name in assignments}
    for student in students:
        for name in assignments:
            kind, exercise, source = plan[student, name]
            if kind == "solution":
                submit(course, student, name, solution_notebook(name))
            elif kind == "release":
                submit(course, student, name, release_notebook(course, name))
            else:
                submit(course, student, name, replace_answer(solutions[name], f"ex_{exercise}", source))


def grade_copy(course, assignments, env, log):
    """One worker: ``nbgrader autograde`` of every assignment in its own course copy."""
    for name in assignments:
        result, seconds = run_nbgrader(["autograde", name, "--force"], course, env)
        log.append((name, seconds, result.returncode, result.stderr))


def grade_shared(course, students, assignments, env, log, lock):
    """One worker in the shared layout: one ``nbgrader autograde --student`` per submission."""
    for name in assignments:
        for student in students:
            result, seconds = run_nbgrader(["autograde", name, "--force", f"--student={student}"], course, env)
            with lock:
                log.append((name, seconds, result.returncode, result.stderr))


def check(plan, graded):
    """Scores per kind, and every submission whose score contradicts its kind."""
    by_kind = defaultdict(list)
    wrong = []
    for (student, name), (kind, exercise, _) in sorted(plan.items()):
        if (student, name) not in graded:
            wrong.append(f"{student} {name} ({kind}): not in any gradebook")
            continue
        score, max_score = graded[student, name]
        by_kind[kind].append(score / max_score)
        ok = {"solution": score == max_score, "release": score == 0, "mutant": score < max_score}[kind]
        if not ok:
            wrong.append(f"{student} {name} ({kind}{' ' + exercise if exercise else ''}): {score}/{max_score}")
    return by_kind, wrong


def histogram(fractions, bins=10):
    counts = Counter(min(int(f * bins), bins - 1) for f in fractions)
    width = max(counts.values()) if counts else 1
    lines = []
    for b in range(bins):
        n = counts.get(b, 0)
        label = f"{100 * b // bins:3d}-{100 * (b + 1) // bins:3d}%"
        lines.append(f"  {label} {n:4d} {'#' * round(40 * n / width)}")
    return "\n".join(lines)


def run_dask(args, assignments):
    """``cnnlab grade`` on a LocalCluster of each worker count in ``args.workers``; print the figures."""
    from cnnlab.course.cluster import grade_class

    out = args.out or Path(tempfile.mkdtemp(prefix="grade_class-"))
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update({k: v for k, v in grading_env(1).items() if k in ("PATH", "CNNLAB_DATA")})
    students = [f"student{i:03d}" for i in range(args.students)]
    plan = make_class(args.students, assignments, args.seed)
    print(f"class: {args.students} students x {len(assignments)} assignments ({', '.join(assignments)}); "
          f"submissions {dict(Counter(kind for kind, *_ in plan.values()))}; {os.cpu_count()} CPUs; "
          f"layout dask (cnnlab grade), workers {args.workers}; working folder {out}")
    start = time.perf_counter()
    (out / "pristine").mkdir(exist_ok=True)
    pristine = make_course(out / "pristine", assignments)
    place_submissions(pristine, plan, students, assignments)
    print(f"set-up (course, release, submissions): {time.perf_counter() - start:.1f} s")

    walls, busy, cpu_by_assignment, ok = {}, {}, defaultdict(list), True
    for workers in args.workers:
        course = Path(shutil.copytree(pristine, out / f"dask-w{workers}" / "course"))
        load_before = os.getloadavg()[0]
        busy_before = busy_cpu_seconds()
        report = grade_class(course, workers=workers, progress=False)
        busy[workers] = None if busy_before is None else busy_cpu_seconds() - busy_before
        walls[workers] = report.seconds
        graded = {key: value for key, value in report.graded.items()}
        _, wrong = check(plan, graded)
        ok = ok and not wrong and not report.failed
        for (student, name), cpu in report.task_cpu.items():
            if cpu is not None:
                cpu_by_assignment[name].append(cpu)
        cpu_total = sum(c for c in report.task_cpu.values() if c is not None)
        print(f"\n{workers} worker(s): {report.seconds:.1f} s wall (cluster start-up included) = "
              f"{report.seconds / args.students:.1f} s per student for the whole course; "
              f"CPU of nbgrader + kernels {cpu_total / args.students:.1f} s per student; "
              + (f"whole machine busy {busy[workers] / args.students:.1f} CPU-s per student; "
                 if busy[workers] is not None else "")
              + f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
        print(f"  graded {len(report.graded)}/{len(plan)}, failed {len(report.failed)}, "
              f"scores contradicting the submission {len(wrong)}")
        for line in wrong[:10] + [f"  FAILED {k}: {v}" for k, v in list(report.failed.items())[:5]]:
            print("  " + line)

    print("\nCPU seconds per submission, by assignment (the forked nbgrader and the processes it waited for; a"
          "\nlower bound: a sandboxed kernel killed at shutdown is not counted):")
    per_student_cpu = 0.0
    for name in assignments:
        values = cpu_by_assignment[name]
        mean = sum(values) / len(values) if values else float("nan")
        per_student_cpu += mean
        print(f"  {name:24s} mean {mean:6.1f} s  (n={len(values)}, min {min(values, default=0):.1f}, "
              f"max {max(values, default=0):.1f})")
    print(f"  whole course: {per_student_cpu:.1f} CPU-s per student")
    if len(args.workers) > 1:
        low, high = min(args.workers), max(args.workers)
        speedup = walls[low] / walls[high]
        efficiency = speedup / (high / low)
        print(f"speed-up {low} -> {high} workers: {speedup:.2f}x, parallel efficiency {efficiency:.2f}")
    else:
        efficiency = 1.0
    projected = 1000 * per_student_cpu / (64 * max(efficiency, 1e-9))
    print(f"projection: 1,000 students x {len(assignments)} assignments on 64 cores (one worker per core, "
          f"efficiency {efficiency:.2f}), from the CPU lower bound: {projected / 60:.0f} min; "
          f"from the wall time per student with {min(walls)} worker(s): "
          f"{1000 * walls[min(walls)] / args.students / 64 * min(walls) / 60:.0f} min"
          + (f"; from the whole machine's busy CPU with {max(busy)} workers: "
             f"{1000 * busy[max(busy)] / args.students / 64 / 60:.0f} min" if busy[max(busy)] is not None else ""))
    for workers, wall in walls.items():
        print(f"HEADLINE: {wall / args.students:.1f} s per student for the whole course "
              f"({len(assignments)} assignments, {workers} worker(s), {os.cpu_count()} CPUs, cnnlab grade)")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--assignments", nargs="+", default=ASSIGNMENTS,
                        help=f"default: every assignment in solutions/ ({' '.join(ASSIGNMENTS)})")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="worker count(s); with the dask layout, several counts are compared (e.g. 1 2)")
    parser.add_argument("--layout", choices=("dask", "copies", "shared"), default="dask")
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"not in solutions/: {unknown}")
    assignments = [a for a in ASSIGNMENTS if a in args.assignments]
    if args.layout == "dask":
        return run_dask(args, assignments)
    workers = max(1, min(args.workers[0], args.students))

    out = args.out or Path(tempfile.mkdtemp(prefix="grade_class-"))
    out.mkdir(parents=True, exist_ok=True)
    env = grading_env(workers)
    students = [f"student{i:03d}" for i in range(args.students)]
    plan = make_class(args.students, assignments, args.seed)
    mix = Counter(kind for kind, *_ in plan.values())
    print(f"class: {args.students} students x {len(assignments)} assignments ({', '.join(assignments)})")
    print(f"submissions: {dict(mix)}; {workers} worker(s), layout {args.layout}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, working folder {out}")

    start = time.perf_counter()
    n_courses = workers if args.layout == "copies" else 1
    (out / "w0").mkdir(exist_ok=True)
    first = make_course(out / "w0", assignments)
    courses = [first]
    for k in range(1, n_courses):
        copy = out / f"w{k}" / "course"
        shutil.copytree(first, copy)
        courses.append(copy)
    groups = [students[k::workers] for k in range(workers)]
    if args.layout == "copies":
        for course, group in zip(courses, groups):
            place_submissions(course, plan, group, assignments)
    else:
        place_submissions(first, plan, students, assignments)
    print(f"set-up (course copies, release, submissions): {time.perf_counter() - start:.1f} s")

    logs = [[] for _ in range(workers)]
    lock = threading.Lock()
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        if args.layout == "copies":
            jobs = [pool.submit(grade_copy, c, assignments, env, log) for c, log in zip(courses, logs)]
        else:
            jobs = [pool.submit(grade_shared, first, g, assignments, env, log, lock) for g, log in zip(groups, logs)]
        for job in jobs:
            job.result()
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    load_after = os.getloadavg()[0]

    graded = {}
    for course in courses:
        for name in assignments:
            for student, (score, max_score, _) in scores(course, name).items():
                graded[student, name] = (score, max_score)
    by_kind, wrong = check(plan, graded)
    failures = [(name, rc, err) for log in logs for name, _, rc, err in log if rc != 0]
    restored = sum(err.count("the gradebook was restored") for log in logs for *_, err in log)
    locked = sum(err.count("database is locked") for log in logs for *_, err in log)

    print("\nper assignment (nbgrader process time summed over workers, per submission):")
    for name in assignments:
        seconds = sum(s for log in logs for n, s, *_ in log if n == name)
        print(f"  {name:24s} {seconds:7.1f} s  {seconds / args.students:6.2f} s/submission")
    print(f"\nscores by kind (fraction of full marks): " + ", ".join(
        f"{kind} n={len(v)} mean={sum(v) / len(v):.2f}" for kind, v in sorted(by_kind.items())))
    totals = defaultdict(lambda: [0.0, 0.0])
    for (student, _), (score, max_score) in graded.items():
        totals[student][0] += score
        totals[student][1] += max_score
    course_fractions = [s / m for s, m in totals.values() if m]
    print("whole-course score distribution (students):")
    print(histogram(course_fractions))
    print(f"nbgrader runs that exited non-zero: {len(failures)}; 'database is locked' in logs: {locked}; "
          f"gradebook restored by the sandbox: {restored}")
    print(f"submissions graded: {len(graded)}/{len(plan)}; scores contradicting the submission: {len(wrong)}")
    for name, rc, err in failures[:3]:
        last = [line for line in err.splitlines() if "ERROR" in line or "Error" in line][-1:]
        print(f"  {name} exit {rc}: {last[0][:200] if last else err[-200:]}")
    for line in wrong[:20]:
        print("  " + line)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    print(f"grading wall time: {wall:.1f} s for {args.students} students x {len(assignments)} assignments "
          f"with {workers} worker(s)")
    print(f"CPU time of nbgrader and its kernels: {cpu:.1f} s = {cpu / args.students:.1f} CPU-s per student; "
          f"load average {load_before:.1f} before, {load_after:.1f} after (other jobs on this machine "
          f"inflate wall time)")
    print(f"HEADLINE: {wall / args.students:.1f} s per student for the whole course "
          f"({len(assignments)} assignments, {workers} worker(s), {os.cpu_count()} CPUs)")
    return 0 if not wrong and len(graded) == len(plan) else 1


if __name__ == "__main__":
    sys.exit(main())
