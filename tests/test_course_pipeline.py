"""The nbgrader course end to end, with the real CLI in a temporary copy.

* ``notebooks/`` is exactly what ``nbgrader generate_assignment`` makes from ``solutions/``;
* notebooks are committed without outputs;
* every solution notebook scores full marks and every release notebook scores 0
  (without crashing the grader);
* the instructor's remaining steps (generate_feedback, export) work.
"""

import json
import time

import pytest

from course import ASSIGNMENTS, REPO, autograde, make_course, nbgrader, read, release_notebook, scores, \
    solution_notebook, submit

pytestmark = pytest.mark.slow


def _normalised(path):
    nb = json.loads(path.read_text())
    return [(c["cell_type"], c["source"] if isinstance(c["source"], str) else "".join(c["source"]),
             c.get("metadata", {}).get("nbgrader")) for c in nb["cells"]]


def test_every_planned_assignment_exists():
    planned = ["01_convolution_1d", "02_convolution_2d", "03_multichannel", "04_pooling", "05_backprop",
               "06_mnist_cnn", "07_alexnet_parameters"]
    present = [name for name in planned if solution_notebook(name).exists()]
    assert present == [name for name in planned if name in ASSIGNMENTS]
    assert len(present) >= 1


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_notebooks_are_committed_without_outputs(folder):
    paths = sorted((REPO / folder).glob("*/*.ipynb"))
    assert paths, f"no notebooks in {folder}/"
    for path in paths:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{path} has outputs"
                assert cell["execution_count"] is None, f"{path} has execution counts"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("pipeline"))


def test_release_is_in_sync_with_solutions(course):
    for name in ASSIGNMENTS:
        committed = REPO / "notebooks" / name / f"{name}.ipynb"
        assert committed.exists(), f"notebooks/{name} is missing: run nbgrader generate_assignment"
        assert _normalised(committed) == _normalised(release_notebook(course, name)), (
            f"notebooks/{name} is out of date: run `nbgrader generate_assignment \"*\" --force` "
            "and copy nothing by hand")


def test_release_has_no_solutions_or_hidden_tests(course):
    for name in ASSIGNMENTS:
        text = release_notebook(course, name).read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True"):
            assert marker not in text, f"{name} release contains {marker!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks_and_release_scores_zero(course, assignment):
    submit(course, "solution", assignment, solution_notebook(assignment))
    submit(course, "release", assignment, release_notebook(course, assignment))
    start = time.perf_counter()
    autograde(course, assignment)
    elapsed = time.perf_counter() - start
    graded = scores(course, assignment)
    score, max_score, cells = graded["solution"]
    assert max_score > 0
    missing = {k: v for k, v in cells.items() if v[0] != v[1]}
    assert score == max_score, f"solution lost points in {missing}"
    release_score, release_max, release_cells = graded["release"]
    assert release_max == max_score
    assert release_score == 0, f"release earned points: { {k: v for k, v in release_cells.items() if v[0]} }"
    print(f"{assignment}: autograded 2 submissions in {elapsed:.1f} s")


def test_instructor_feedback_and_export(course):
    assignment = ASSIGNMENTS[0]
    submit(course, "solution", assignment, solution_notebook(assignment))
    autograde(course, assignment)
    nbgrader(["generate_feedback", assignment, "--force"], cwd=course)
    html = course / "feedback" / "solution" / assignment / f"{assignment}.html"
    assert html.exists()
    nbgrader(["export"], cwd=course)
    csv = (course / "grades.csv").read_text().splitlines()
    assert any(line.startswith(assignment) and ",solution," in line for line in csv), csv[:3]


def test_release_notebooks_open_as_valid_nbformat():
    import nbformat

    for name in ASSIGNMENTS:
        nbformat.validate(read(REPO / "notebooks" / name / f"{name}.ipynb"))
        nbformat.validate(read(solution_notebook(name)))
