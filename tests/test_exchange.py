"""nbgrader's exchange, end to end, with two students simulated by folders.

The instructor's course directory is a temporary copy of the course; the exchange root is a
temporary, world-writable folder. Each student has their own home (``HOME`` and
``JUPYTER_DATA_DIR``, so their own nbgrader submission cache) and runs nbgrader there, where no
``nbgrader_config.py`` exists: the exchange root and the course id are given on the command line,
exactly as a JupyterHub user's config would give them. nbgrader 0.9.6 names a submission after
``get_username()`` (the OS user name, or ``$JUPYTERHUB_USER`` for the user ``jovyan``) unless
``--student`` is given, so the two students submit and fetch feedback with ``--student=<id>``.

release -> fetch -> (alice pastes the solutions, bob changes nothing) -> submit -> collect ->
autograde -> generate_feedback -> release_feedback -> fetch_feedback.
"""

import html
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course import BIN, REPO, nbgrader, scores

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_convolution_1d"
COURSE_ID = "cnnlab"
STUDENTS = ("alice", "bob")


def _student(home, exchange, args, student=None):
    """Run nbgrader as a student: in their home, with the exchange and course given explicitly."""
    env = dict(os.environ)
    env.update(HOME=str(home), JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    extra = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
    if student:
        extra.append(f"--student={student}")
    result = subprocess.run([str(BIN / "nbgrader"), *args, *extra], cwd=home, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} as {home.name} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _paste_solutions(notebook, solution):
    """Put the solution's answers (markers removed) into the fetched notebook's answer cells."""
    answers = {}
    for cell in nbformat.read(str(solution), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answers[meta["grade_id"]] = "\n".join(
                line for line in cell.source.splitlines() if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
    nb = nbformat.read(str(notebook), as_version=4)
    pasted = 0
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert "NotImplementedError" in cell.source or "YOUR ANSWER HERE" in cell.source
            cell.source = answers[grade_id]
            pasted += 1
    assert pasted == len(answers) > 0
    nbformat.write(nb, str(notebook))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exchange")
    exchange = tmp / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # the exchange root must exist and be writable by every student
    course = tmp / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    root = f"--Exchange.root={exchange}"
    homes = {name: tmp / "home" / name for name in STUDENTS}
    for home in homes.values():
        home.mkdir(parents=True)

    # instructor: course_id comes from the course's nbgrader_config.py
    nbgrader(["generate_assignment", ASSIGNMENT], cwd=course)
    nbgrader(["release_assignment", ASSIGNMENT, root], cwd=course)

    # students, both at once (as on a hub)
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        list(pool.map(lambda s: _student(homes[s], exchange, ["fetch_assignment", ASSIGNMENT]), STUDENTS))
    fetched = {s: homes[s] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" for s in STUDENTS}
    _paste_solutions(fetched["alice"], REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        list(pool.map(lambda s: _student(homes[s], exchange, ["submit", ASSIGNMENT], student=s), STUDENTS))

    # instructor
    collected = nbgrader(["collect", ASSIGNMENT, root], cwd=course)
    nbgrader(["autograde", ASSIGNMENT], cwd=course)
    nbgrader(["generate_feedback", ASSIGNMENT], cwd=course)
    nbgrader(["release_feedback", ASSIGNMENT, root], cwd=course)

    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        list(pool.map(lambda s: _student(homes[s], exchange, ["fetch_feedback", ASSIGNMENT], student=s), STUDENTS))
    return dict(exchange=exchange, course=course, homes=homes, fetched=fetched,
                collect_log=collected.stdout + collected.stderr)


def test_release_reaches_both_students_without_solutions(flow):
    for student, path in flow["fetched"].items():
        assert path.exists(), f"{student} did not fetch {path}"
    text = (flow["exchange"] / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_both_submissions_are_collected(flow):
    inbound = sorted(p.name.split("+")[0] for p in (flow["exchange"] / COURSE_ID / "inbound").iterdir())
    assert inbound == sorted(STUDENTS)
    for student in STUDENTS:
        folder = flow["course"] / "submitted" / student / ASSIGNMENT
        assert (folder / f"{ASSIGNMENT}.ipynb").exists(), flow["collect_log"]
        assert (folder / "timestamp.txt").exists()


def test_alice_gets_full_marks_and_bob_zero(flow):
    graded = scores(flow["course"], ASSIGNMENT)
    assert set(graded) == set(STUDENTS)
    score, max_score, cells = graded["alice"]
    assert max_score > 0 and score == max_score, {k: v for k, v in cells.items() if v[0] != v[1]}
    bob_score, bob_max, _ = graded["bob"]
    assert (bob_score, bob_max) == (0, max_score)


def _feedback(flow, student):
    pages = list((flow["homes"][student] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(pages) == 1, f"{student}: {pages}"
    return pages[0]


def test_each_student_fetches_their_own_feedback(flow):
    pages = {student: _feedback(flow, student) for student in STUDENTS}
    for student, page in pages.items():
        instructor_copy = flow["course"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert page.read_bytes() == instructor_copy.read_bytes()
    assert pages["alice"].read_bytes() != pages["bob"].read_bytes()
    assert "NotImplementedError" in pages["bob"].read_text()  # bob's untouched answer cells raise it


@pytest.mark.parametrize("student", ["alice", "bob"])
def test_feedback_has_no_hidden_tests(flow, student):
    text = html.unescape(re.sub(r"<[^>]+>", "", _feedback(flow, student).read_text()))
    assert "grading.check_correlate1d(correlate1d)" in text  # the visible test stays
    for hidden in ("BEGIN HIDDEN TESTS", "hidden=True", "output_length(n, k, mode) == len(np.correlate"):
        assert hidden not in text, f"{student}'s feedback contains {hidden!r}"
