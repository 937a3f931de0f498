"""nbgrader's exchange, end to end, with two real Unix users (created here, removed after).

Runs as root (skipped otherwise): root is the instructor, ``cnnlab_alice`` and ``cnnlab_bob`` are
students, each with a home of their own, running nbgrader as themselves with no ``--student``:
nbgrader names a submission after the OS user. The course's ``nbgrader_config.py`` configures the
exchange classes of ``cnnlab/course/exchange.py``.

release (sticky root) -> fetch -> alice pastes the solutions, bob changes nothing -> both submit ->
bob also submits as alice (``--student=cnnlab_alice``, later than hers) and tries to rename the
course folder -> collect (the forgery rejected, alice's own kept) -> autograde -> generate_feedback
-> release_feedback -> fetch_feedback. Separately: a course folder that a student planted in a
non-sticky root is refused by collect.
"""

import functools
import html
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
import pytest

from course import BIN, REPO, nbgrader, scores

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("useradd") is None,
                       reason="needs root and useradd to create two real student users"),
]

ASSIGNMENT = "01_convolution_1d"
COURSE_ID = "cnnlab"
ALICE, BOB = STUDENTS = ("cnnlab_alice", "cnnlab_bob")


def _useradd(name):
    subprocess.run(["userdel", name], capture_output=True)  # a leftover from an interrupted run
    subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)


@functools.cache
def _interpreter(user):
    """(python, needs_site) that ``user`` can run: the venv's own, else the system's of the same version.

    The venv's interpreter may sit where other users cannot reach it (a pyenv build under a 0700
    /root); the system's interpreter of the same version then runs with the venv's site-packages.
    """
    try:
        if subprocess.run([str(BIN / "python"), "-c", "pass"], user=user, capture_output=True).returncode == 0:
            return str(BIN / "python"), False
    except PermissionError:
        pass
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"the venv's Python is unreachable for other users and there is no {system}")
    return str(system), True


def _module_as(user, module):
    """The command line that runs ``python -m module`` as ``user``."""
    python, needs_site = _interpreter(user)
    if not needs_site:
        return [python, "-m", module]
    site_packages = sysconfig.get_paths()["purelib"]
    return [python, "-c", f"import runpy, site; site.addsitedir({site_packages!r}); "
                          f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"]


def _as_student(user, home, args, exchange, check=True):
    """Run ``nbgrader ARGS`` as the Unix user ``user`` in their home, exchange and course given explicitly."""
    env = {"HOME": str(home), "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
           "PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "LANG": "C.UTF-8"}
    command = [*_module_as(user, "nbgrader"), *args, f"--Exchange.root={exchange}",
               f"--CourseDirectory.course_id={COURSE_ID}"]
    result = subprocess.run(command, cwd=home, env=env, user=user, group=user, capture_output=True, text=True,
                            timeout=300)
    if check:
        assert result.returncode == 0, f"nbgrader {' '.join(args)} as {user} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _python_as(user, code):
    return subprocess.run([_interpreter(user)[0], "-c", code], user=user, group=user, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"}, cwd="/")


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
            cell.source = answers[grade_id]
            pasted += 1
    assert pasted == len(answers) > 0
    nbformat.write(nb, str(notebook))


@pytest.fixture(scope="module")
def users():
    for name in STUDENTS:
        _useradd(name)
    yield STUDENTS
    for name in STUDENTS:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def flow(users, tmp_path_factory):
    # students must reach their homes and the exchange: a world-traversable folder, not pytest's 0700 one
    tmp = Path(tempfile.mkdtemp(prefix="cnnlab-exchange-"))
    tmp.chmod(0o755)
    exchange = tmp / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # as an instructor might leave it; release_assignment makes it sticky
    course = tmp_path_factory.mktemp("exchange") / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    root = f"--Exchange.root={exchange}"
    homes = {}
    for name in STUDENTS:
        homes[name] = tmp / "home" / name
        homes[name].mkdir(parents=True)
        shutil.chown(homes[name], name, name)
        homes[name].chmod(0o700)

    # instructor: the recipe of docs/instructors.md
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], cwd=course)
    released = nbgrader(["release_assignment", ASSIGNMENT, root], cwd=course)

    for name in STUDENTS:
        _as_student(name, homes[name], ["fetch_assignment", ASSIGNMENT], exchange)
    fetched = {s: homes[s] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" for s in STUDENTS}
    _paste_solutions(fetched[ALICE], REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    _as_student(ALICE, homes[ALICE], ["submit", ASSIGNMENT], exchange)
    _as_student(BOB, homes[BOB], ["submit", ASSIGNMENT], exchange)
    forged = _as_student(BOB, homes[BOB], ["submit", ASSIGNMENT, f"--student={ALICE}"], exchange, check=False)
    rename = _python_as(BOB, f"import os; os.rename({str(exchange / COURSE_ID)!r}, {str(exchange / 'planted')!r})")

    collected = nbgrader(["collect", ASSIGNMENT, root], cwd=course)
    nbgrader(["autograde", ASSIGNMENT], cwd=course)
    nbgrader(["generate_feedback", ASSIGNMENT], cwd=course)
    nbgrader(["release_feedback", ASSIGNMENT, root], cwd=course)
    for name in STUDENTS:
        _as_student(name, homes[name], ["fetch_feedback", ASSIGNMENT], exchange)
    yield dict(exchange=exchange, course=course, homes=homes, fetched=fetched, release_log=released.stderr,
               collect_log=collected.stdout + collected.stderr, forged=forged, rename=rename, tmp=tmp)
    shutil.rmtree(tmp, ignore_errors=True)


def test_exchange_root_is_made_sticky(flow):
    mode = flow["exchange"].stat().st_mode
    assert mode & stat.S_ISVTX and stat.S_IMODE(mode) == 0o1777, oct(mode)


def test_release_reaches_both_students_without_solutions(flow):
    for student, path in flow["fetched"].items():
        assert path.exists(), f"{student} did not fetch {path}"
        assert path.stat().st_uid != 0, f"{student}'s copy is owned by root"
    text = (flow["exchange"] / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text


def test_student_cannot_rename_the_course_folder(flow):
    assert flow["rename"].returncode != 0 and "PermissionError" in flow["rename"].stderr, flow["rename"]
    assert (flow["exchange"] / COURSE_ID / "inbound").is_dir()
    assert not (flow["exchange"] / "planted").exists()


def test_forged_submission_is_rejected_and_the_real_one_collected(flow):
    inbound = sorted(p.name.split("+")[0] for p in (flow["exchange"] / COURSE_ID / "inbound").iterdir())
    assert inbound == sorted([ALICE, ALICE, BOB]), inbound  # the forgery did reach the exchange
    log = flow["collect_log"]
    assert f"claims to be submitted by {ALICE} but is owned by {BOB}" in log, log
    assert "Rejected submission" in log
    for student in STUDENTS:
        folder = flow["course"] / "submitted" / student / ASSIGNMENT
        assert (folder / f"{ASSIGNMENT}.ipynb").exists(), log
    # alice's collected notebook is her own (her answers), not bob's later, untouched copy
    collected = (flow["course"] / "submitted" / ALICE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert collected == flow["fetched"][ALICE].read_bytes()


def test_alice_gets_full_marks_and_bob_zero(flow):
    graded = scores(flow["course"], ASSIGNMENT)
    assert set(graded) == set(STUDENTS)
    score, max_score, cells = graded[ALICE]
    assert max_score > 0 and score == max_score, {k: v for k, v in cells.items() if v[0] != v[1]}
    assert graded[BOB][:2] == (0, max_score)


def _feedback(flow, student):
    pages = list((flow["homes"][student] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(pages) == 1, f"{student}: {pages}"
    return pages[0]


def test_each_student_fetches_their_own_feedback(flow):
    pages = {student: _feedback(flow, student) for student in STUDENTS}
    for student, page in pages.items():
        instructor_copy = flow["course"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert page.read_bytes() == instructor_copy.read_bytes()
    assert pages[ALICE].read_bytes() != pages[BOB].read_bytes()


@pytest.mark.parametrize("student", STUDENTS)
def test_feedback_has_no_hidden_tests(flow, student):
    text = html.unescape(re.sub(r"<[^>]+>", "", _feedback(flow, student).read_text()))
    assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text


def test_collect_refuses_a_course_folder_a_student_planted(flow):
    """In a root without the sticky bit a student can put their own course folder; collect refuses it."""
    other = flow["tmp"] / "open-exchange"
    other.mkdir()
    other.chmod(0o777)
    planted = _python_as(BOB, "import os; r = %r; os.makedirs(r + '/cnnlab/inbound/%s+%s+2026-11-30 00:00:00.000000 UTC+x'); "
                              "os.chmod(r + '/cnnlab/inbound', 0o777)" % (str(other), ALICE, ASSIGNMENT))
    assert planted.returncode == 0, planted.stderr
    result = nbgrader(["collect", ASSIGNMENT, f"--Exchange.root={other}"], cwd=flow["course"], check=False)
    assert result.returncode != 0
    assert "Refusing to collect" in result.stdout + result.stderr and BOB in result.stdout + result.stderr


def test_honest_submissions_keep_their_time(flow):
    assert "Back-dated" not in flow["collect_log"], flow["collect_log"]


def test_a_back_dated_submission_is_collected_with_its_real_time(flow):
    """bob writes a submission folder by hand that claims a time long before he made it."""
    from datetime import datetime, timedelta, timezone

    from nbgrader.utils import parse_utc

    root = flow["tmp"] / "dated-exchange"
    inbound = root / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    root.chmod(0o1777)
    (root / COURSE_ID).chmod(0o755)
    inbound.chmod(0o1733)  # as nbgrader leaves it: students may add folders, not list them
    claim = "2026-01-01 00:00:00.000000 UTC"
    folder = f"{inbound}/{BOB}+{ASSIGNMENT}+{claim}+x"
    made = _python_as(BOB, f"import os, shutil; os.makedirs({folder!r}); "
                           f"shutil.copy({str(flow['fetched'][BOB])!r}, {folder!r}); "
                           f"open({folder!r} + '/timestamp.txt', 'w').write({claim!r})")
    assert made.returncode == 0, made.stderr
    course = flow["tmp"] / "dated-course"
    shutil.copytree(flow["course"], course, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    result = nbgrader(["collect", ASSIGNMENT, f"--Exchange.root={root}"], cwd=course)
    log = result.stdout + result.stderr
    assert "Back-dated submission" in log and claim in log, log
    written = (course / "submitted" / BOB / ASSIGNMENT / "timestamp.txt").read_text()
    assert not written.startswith("2026-01-01"), written
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert abs(parse_utc(written) - now) < timedelta(minutes=10), written
