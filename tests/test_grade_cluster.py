"""``cnnlab grade`` (cnnlab/course/cluster.py) against nbgrader's own sequential ``autograde``.

A synthetic class (tests/course.py, benchmarks/grade_class.py's mix: full solutions, one-bug
mutants from tests/mutants.py, untouched releases) plus one student whose notebook is not JSON is
graded three ways, each in its own copy of the same course:

* sequentially, ``nbgrader autograde <assignment>`` at the course root: the reference scores;
* ``cnnlab grade`` on a LocalCluster of two workers, then again (a resumed run), then after one
  student resubmits;
* through a real ``dask scheduler`` and two ``dask worker`` processes on loopback, one of which is
  killed while it grades.

The class is small by default (the machine is shared): CNNLAB_GRADE_TEST_STUDENTS (default 3) and
CNNLAB_GRADE_TEST_ASSIGNMENTS (default "01_convolution_1d 04_pooling"; "all" for every one) set it.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course import ASSIGNMENTS, BIN, REPO, autograde, make_course, nbgrader, scores

distributed = pytest.importorskip("distributed")

from cnnlab.course.cluster import grade_class  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from grade_class import make_class, place_submissions  # noqa: E402

pytestmark = pytest.mark.slow

N_STUDENTS = int(os.environ.get("CNNLAB_GRADE_TEST_STUDENTS", "3"))
_chosen = os.environ.get("CNNLAB_GRADE_TEST_ASSIGNMENTS", "01_convolution_1d 04_pooling").split()
UNDER_TEST = ASSIGNMENTS if _chosen == ["all"] else [a for a in ASSIGNMENTS if a in _chosen]
BROKEN = "zz_broken"  # submits a notebook that is not JSON: nbgrader cannot grade it, ever


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A course with every student's submissions collected, nothing graded yet."""
    course = make_course(tmp_path_factory.mktemp("class"), UNDER_TEST)
    students = [f"student{i:03d}" for i in range(N_STUDENTS)]
    place_submissions(course, make_class(N_STUDENTS, UNDER_TEST, seed=10), students, UNDER_TEST)
    folder = course / "submitted" / BROKEN / UNDER_TEST[0]
    folder.mkdir(parents=True)
    (folder / f"{UNDER_TEST[0]}.ipynb").write_text("{ this is not a notebook")
    (folder / "timestamp.txt").write_text("2026-11-21 12:00:00.000000 UTC")
    return course


def _copy(course, tmp_path, name):
    return Path(shutil.copytree(course, tmp_path / name / "course"))


@pytest.fixture(scope="module")
def sequential(pristine, tmp_path_factory):
    """{assignment: scores} from nbgrader's own autograde, one assignment after the other."""
    course = _copy(pristine, tmp_path_factory.mktemp("sequential"), "seq")
    for name in UNDER_TEST:
        autograde(course, name, check=False)  # exits non-zero because of the broken student
    return {name: {s: v for s, v in scores(course, name).items() if s != BROKEN} for name in UNDER_TEST}


def _good_pairs(sequential):
    return {(s, a) for a, by_student in sequential.items() for s in by_student}


def _assert_same_scores(course, sequential):
    for name in UNDER_TEST:
        graded = {s: v for s, v in scores(course, name).items() if s != BROKEN}
        assert graded == sequential[name], name


def test_local_cluster_grades_like_nbgrader_autograde_and_resumes(pristine, sequential, tmp_path):
    course = _copy(pristine, tmp_path, "local")
    report = grade_class(course, workers=2, progress=False)

    assert set(report.graded) == _good_pairs(sequential)
    assert list(report.failed) == [(BROKEN, UNDER_TEST[0])], report.failed
    assert "nbgrader autograde exited" in report.failed[BROKEN, UNDER_TEST[0]]
    assert set(report.writes.values()) == {1}
    _assert_same_scores(course, sequential)
    for student, name in report.graded:
        assert (course / "autograded" / student / name / f"{name}.ipynb").is_file()

    # nbgrader's own export reads the same gradebook
    nbgrader(["export"], cwd=course)
    rows = (course / "grades.csv").read_text().splitlines()
    header = rows[0].split(",")
    exported = {(r[header.index("student_id")], r[header.index("assignment")]): float(r[header.index("score")])
                for r in (line.split(",") for line in rows[1:])}
    for (student, name), (score, _) in report.graded.items():
        assert exported[student, name] == score

    # resumed: nothing regraded, the failure reported again by name
    again = grade_class(course, workers=2, progress=False)
    assert again.graded == {} and set(again.unchanged) == _good_pairs(sequential)
    assert list(again.failed) == [(BROKEN, UNDER_TEST[0])]
    _assert_same_scores(course, sequential)

    # one student resubmits: only that submission is graded again
    student, name = sorted(_good_pairs(sequential))[0]
    (course / "submitted" / student / name / "timestamp.txt").write_text("2026-11-22 09:00:00.000000 UTC")
    third = grade_class(course, workers=1, progress=False)
    assert list(third.graded) == [(student, name)]
    assert third.graded[student, name] == sequential[name][student][:2]


def _start(command, log):
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def test_real_scheduler_survives_a_killed_worker(pristine, sequential, tmp_path):
    from dask.distributed import Client

    from lab_server import free_port

    course = _copy(pristine, tmp_path, "cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "w")
    scheduler = _start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--no-dashboard"], log)
    workers = {name: _start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny",
                             "--name", name, "--no-dashboard"], log) for name in ("victim", "survivor")}
    killed = {}
    try:
        client = Client(address, timeout=120)
        client.wait_for_workers(2, timeout=120)
        victim = next(addr for addr, info in client.scheduler_info()["workers"].items() if info["name"] == "victim")

        def kill_victim_mid_task():
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                busy = client.processing(workers=[victim]).get(victim, ())
                if busy:
                    time.sleep(3)  # well inside nbgrader autograde
                    killed["keys"] = client.processing(workers=[victim]).get(victim, ())
                    os.killpg(workers["victim"].pid, signal.SIGKILL)
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_victim_mid_task)
        killer.start()
        report = grade_class(course, client=client, progress=False)
        killer.join()
        client.close()
    finally:
        for process in [*workers.values(), scheduler]:
            _stop(process)
        log.close()

    assert killed.get("keys"), "the victim never had a task to die in"
    assert workers["victim"].returncode == -signal.SIGKILL
    assert set(report.graded) == _good_pairs(sequential), report.failed
    assert list(report.failed) == [(BROKEN, UNDER_TEST[0])]
    assert set(report.writes.values()) == {1}
    _assert_same_scores(course, sequential)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnnlab") as gb:
        rows = [(s.student.id, s.assignment.name) for name in UNDER_TEST for s in gb.assignment_submissions(name)]
    assert sorted(rows) == sorted(_good_pairs(sequential))  # each once; the broken one never written
