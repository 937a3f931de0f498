"""Tampering and fault matrix, graded by the real ``nbgrader autograde``.

One temporary course, one assignment (``01_convolution_1d``), one synthetic
student per case. Each case states the score it must get; the honest
students must keep full marks whatever the others did. The README's
"Grading integrity" table lists the same cases and outcomes.
"""

import copy
import json
import os
import re

import pytest

from course import autograde, autograded_outputs, make_course, read, scores, solution_notebook, submit

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_convolution_1d"
FULL = None  # filled from the gradebook: the assignment's maximum score

WRONG_OUTPUT_LENGTH = '''def output_length(n, k, mode):
    return 0
'''


def _cell(nb, grade_id):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _with(nb, grade_id, source):
    nb = copy.deepcopy(nb)
    _cell(nb, grade_id).source = source
    return nb


def _wrong(sol):
    """The solution with one wrong answer worth 2 points (output_length)."""
    return _with(sol, "ex_output_length", WRONG_OUTPUT_LENGTH)


def _edited_test(sol):
    return _with(_wrong(sol), "test_output_length", "pass")


def _deleted_test(sol):
    nb = _wrong(sol)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_output_length"]
    return nb


def _renamed_grade_id(sol):
    nb = _wrong(sol)
    _cell(nb, "test_output_length").metadata["nbgrader"]["grade_id"] = "test_free_points"
    return nb


def _stripped_metadata(sol):
    nb = _wrong(sol)
    _cell(nb, "test_output_length").metadata = {}
    return nb


def _changed_cell_type(sol):
    nb = _wrong(sol)
    cell = _cell(nb, "test_output_length")
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)
    return nb


def _infinite_loop(sol):
    return _with(sol, "ex_output_length", "def output_length(n, k, mode):\n    while True:\n        pass\n")


def _memory_hog(sol):
    return _with(sol, "ex_output_length", (
        "def output_length(n, k, mode):\n"
        "    hog = []\n"
        "    while True:\n"
        "        hog.append(np.ones(10**8))\n"))


def _calls_reference(sol):
    return _with(sol, "ex_correlate1d", (
        "from cnnlab.functional import correlate1d as _reference\n\n"
        "def correlate1d(x, w, mode=\"valid\"):\n"
        "    return _reference(x, w, mode)\n"))


def _calls_numpy_correlate(sol):
    return _with(sol, "ex_correlate1d", "def correlate1d(x, w, mode=\"valid\"):\n    return np.correlate(x, w, mode)\n")


def _patches_comparisons(sol):
    return _with(sol, "ex_correlate1d", (
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n\n"
        "def correlate1d(x, w, mode=\"valid\"):\n"
        "    n, k = len(x), len(w)\n"
        "    size = {'valid': n - k + 1, 'same': n, 'full': n + k - 1}[mode]\n"
        "    return np.zeros(size)\n"))


def _fake_ndarray(sol):
    return _with(sol, "ex_correlate1d", (
        "class AlwaysEqual(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(np.shape(other), bool)\n"
        "    def __sub__(self, other):\n"
        "        return np.zeros(np.shape(other))\n\n"
        "def correlate1d(x, w, mode=\"valid\"):\n"
        "    n, k = len(x), len(w)\n"
        "    size = {'valid': n - k + 1, 'same': n, 'full': n + k - 1}[mode]\n"
        "    return np.zeros(size).view(AlwaysEqual)\n"))


def _writes_gradebook(sol):
    return _with(sol, "ex_output_length", WRONG_OUTPUT_LENGTH + (
        "import glob, os, sqlite3\n"
        "for path in glob.glob('../../../gradebook.db'):\n"
        "    con = sqlite3.connect(path)\n"
        "    con.execute('UPDATE grade SET manual_score = 0')\n"
        "    con.execute('UPDATE grade SET extra_credit = 100')\n"
        "    con.commit()\n"))


def _reads_hidden_tests(sol):
    # The hidden tests' *source* is readable on disk, but their values are drawn afresh at grading
    # time, so memorising what the source says does not help: the answer below fakes correlate1d
    # for the visible (fixed-seed) cases only.
    return _with(sol, "ex_correlate1d", (
        "import glob, json\n"
        "_hidden = [''.join(c['source']) for p in glob.glob('../../../solutions/*/*.ipynb')\n"
        "           for c in json.load(open(p))['cells'] if 'HIDDEN' in ''.join(c['source'])]\n"
        "from cnnlab.grading.exercises import _cases_1d\n"
        "_answers = {}\n"
        "for _case in _cases_1d(False):\n"
        "    _x, _w = _case['x'], _case['w']\n"
        "    _k = len(_w)\n"
        "    _xp = {'valid': _x, 'same': np.pad(_x, ((_k - 1) // 2, _k // 2)), 'full': np.pad(_x, _k - 1)}[_case['mode']]\n"
        "    _answers[(_x.tobytes(), _w.tobytes(), _case['mode'])] = np.array(\n"
        "        [np.sum(_xp[i:i + _k] * _w) for i in range(len(_xp) - _k + 1)])\n\n"
        "def correlate1d(x, w, mode=\"valid\"):\n"
        "    key = (np.asarray(x, float).tobytes(), np.asarray(w, float).tobytes(), mode)\n"
        "    return _answers.get(key, np.zeros(len(x)))\n"))


def _patches_grading_module(sol):
    # Not closable inside the kernel that runs it: the grader's own module is rebound. The audit
    # (python -m cnnlab.grading.audit) flags it for the instructor; see the README.
    return _with(sol, "ex_correlate1d", (
        "from cnnlab import grading\n"
        "grading.check_correlate1d = lambda *args, **kwargs: None\n\n"
        "def correlate1d(x, w, mode=\"valid\"):\n"
        "    return np.zeros(len(x))\n"))


# (student, how the submission is made, intended score, what nbgrader/cnnlab does)
# intended: "full", "full-2" (lost the 2-point output_length cell), "zero", or a callable on the cells.
CASES = [
    ("honest_a", lambda sol: sol, "full"),
    ("edited_test_cell", _edited_test, "full-2"),
    ("deleted_test_cell", _deleted_test, "full-2"),
    ("renamed_grade_id", _renamed_grade_id, "zero"),
    ("stripped_metadata", _stripped_metadata, "full-2"),
    ("changed_cell_type", _changed_cell_type, "full-2"),
    ("infinite_loop", _infinite_loop, "full-2"),
    ("memory_hog", _memory_hog, "full-2"),
    ("invalid_json", "{ this is not a notebook", "zero"),
    ("missing_notebook", None, "zero"),
    ("shadowing_files", _wrong, "full-2"),
    ("calls_reference", _calls_reference, "correlate1d-zero"),
    ("calls_numpy_correlate", _calls_numpy_correlate, "correlate1d-zero"),
    ("patches_comparisons", _patches_comparisons, "correlate1d-zero"),
    ("fake_ndarray", _fake_ndarray, "correlate1d-zero"),
    ("writes_gradebook", _writes_gradebook, "full-2"),
    ("reads_hidden_tests", _reads_hidden_tests, "correlate1d-zero"),
    ("patches_grading_module", _patches_grading_module, "flagged"),
    ("honest_z", lambda sol: sol, "full"),
]

SHADOW_FILES = {
    "cnnlab/__init__.py": "",
    "cnnlab/grading.py": "def __getattr__(name):\n    return lambda *a, **k: None\n",
    "numpy.py": "raise SystemExit('a shadowing numpy was imported')\n",
    "sitecustomize.py": "print('shadow sitecustomize ran')\n",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("integrity"), [ASSIGNMENT])
    sol = read(solution_notebook(ASSIGNMENT))
    for student, make, _ in CASES:
        if make is None:
            folder = course / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            (folder / "timestamp.txt").write_text("2026-11-21 12:00:00.000000 UTC")
            continue
        if isinstance(make, str):
            target = submit(course, student, ASSIGNMENT, sol)
            target.write_text(make)
            continue
        submit(course, student, ASSIGNMENT, make(sol))
        if student == "shadowing_files":
            for name, text in SHADOW_FILES.items():
                path = course / "submitted" / student / ASSIGNMENT / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    env = {"CNNLAB_GRADING_MEMORY_GB": "2"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = autograde(course, ASSIGNMENT, extra=["--Execute.timeout=20"], check=False)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return course, scores(course, ASSIGNMENT), result.stdout + result.stderr


def test_grader_survives_every_case(graded):
    course, graded_scores, log = graded
    # A student who submitted no notebook gets no submission record: 0 in `nbgrader export`.
    expected = {student for student, make, _ in CASES if make is not None}
    assert expected <= set(graded_scores), sorted(graded_scores)
    assert "missing_notebook" not in graded_scores


@pytest.mark.parametrize("student, make, intended", CASES, ids=[c[0] for c in CASES])
def test_intended_score(graded, student, make, intended):
    course, graded_scores, log = graded
    if student not in graded_scores:
        assert intended == "zero" and make is None
        return
    score, max_score, cells = graded_scores[student]
    if intended == "full":
        assert score == max_score, cells
    elif intended == "full-2":
        assert score == max_score - 2, cells
        assert cells["test_output_length"][0] == 0
    elif intended == "zero":
        assert score == 0, cells
    elif intended == "flagged":
        pass  # scored as the tampered kernel says; see test_audit_flags_tampering
    elif intended == "correlate1d-zero":
        assert cells["test_correlate1d"][0] == 0, cells
        assert score < max_score


def test_honest_students_are_untouched(graded):
    course, graded_scores, log = graded
    for student in ("honest_a", "honest_z"):
        score, max_score, cells = graded_scores[student]
        assert score == max_score and all(s == m for s, m in cells.values()), (student, cells)


def test_gradebook_tampering_is_restored_and_logged(graded):
    course, graded_scores, log = graded
    assert "modified" in log and "gradebook was restored" in log
    kept = list(course.glob("gradebook.db.modified-*"))
    assert len(kept) == 1   # the tampered copy is kept for the instructor to inspect


def test_shadowing_files_never_reach_the_kernel(graded):
    course, _, _ = graded
    folder = course / "autograded" / "shadowing_files" / ASSIGNMENT
    assert folder.exists()
    leaked = [name for name in SHADOW_FILES if (folder / name).exists()]
    assert not leaked, f"files a submission could import were copied for grading: {leaked}"


def test_feedback_names_the_reference_call(graded):
    course, _, _ = graded
    text = autograded_outputs(course, "calls_reference", ASSIGNMENT)["test_correlate1d"]
    assert "cnnlab.functional" in text and "ready-made implementation" in text
    text = autograded_outputs(course, "calls_numpy_correlate", ASSIGNMENT)["test_correlate1d"]
    assert "numpy.correlate" in text


def test_memory_hog_hits_the_kernel_limit(graded):
    course, _, _ = graded
    text = autograded_outputs(course, "memory_hog", ASSIGNMENT)["test_output_length"]
    assert "MemoryError" in text


def test_hidden_tests_are_stripped_from_feedback(graded):
    from course import nbgrader

    course, _, _ = graded
    nbgrader(["generate_feedback", ASSIGNMENT, "--force"], cwd=course)
    for student in ("honest_a", "calls_reference", "edited_test_cell", "fake_ndarray"):
        html = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        text = re.sub(r"<[^>]+>", "", html)
        assert "hidden=True" not in text and "BEGIN HIDDEN TESTS" not in text, student
        assert "grading.check_correlate1d(correlate1d)" in text   # the visible test stays
    # ... and a failing student still reads the diagnosis
    html = (course / "feedback" / "calls_reference" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "ready-made implementation" in html


def test_audit_flags_tampering_and_spares_honest_students(graded):
    from cnnlab.grading.audit import scan_folder

    course, _, _ = graded
    report = {student for student, _, _ in scan_folder(course / "autograded")}
    for student in ("patches_grading_module", "writes_gradebook", "reads_hidden_tests", "patches_comparisons"):
        assert student in report, f"{student} was not flagged"
    for student in ("honest_a", "honest_z", "edited_test_cell", "infinite_loop"):
        assert student not in report, f"{student} was flagged"
