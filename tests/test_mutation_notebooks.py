"""Mutation test through the real grader.

Every buggy answer in ``mutants.MUTANTS`` is put into the answer cell of an
otherwise correct solution notebook, one synthetic student per mutant. After
``nbgrader autograde``, each mutant must have lost points on that exercise's
test cell, and where the checks diagnose the mistake the autograded
notebook's feedback must name it.

The whole suite takes a while (one sandboxed kernel per mutant); to grade a part of it set
``CNNLAB_MUTANTS=correlate1d,conv2d`` (exercise names); the others are skipped.
"""

import os
import time
from collections import defaultdict

import pytest

from course import ASSIGNMENTS, autograde, autograded_outputs, make_course, read, replace_answer, scores, \
    solution_notebook, submit
from mutants import MUTANTS

pytestmark = pytest.mark.slow


def _assignment_of(exercise):
    for name in ASSIGNMENTS:
        nb = read(solution_notebook(name))
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        if f"ex_{exercise}" in ids:
            return name
    return None


def _selected(exercise):
    wanted = os.environ.get("CNNLAB_MUTANTS")
    return not wanted or exercise in wanted.split(",")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    located = [(i, exercise, diagnosis, source, _assignment_of(exercise))
               for i, (exercise, diagnosis, source) in enumerate(MUTANTS) if _selected(exercise)]
    used = sorted({a for *_, a in located if a})
    course = make_course(tmp_path_factory.mktemp("mutation"), used)
    by_assignment = defaultdict(list)
    for i, exercise, diagnosis, source, assignment in located:
        if assignment is None:
            continue
        student = f"mutant{i:02d}"
        nb = replace_answer(read(solution_notebook(assignment)), f"ex_{exercise}", source.strip("\n"))
        submit(course, student, assignment, nb)
        by_assignment[assignment].append(student)
    start = time.perf_counter()
    for assignment in by_assignment:
        autograde(course, assignment)
    print(f"autograded {len(located)} mutants in {time.perf_counter() - start:.1f} s")
    return course, located


def test_every_mutant_targets_a_notebook_exercise(graded):
    _, located = graded
    missing = [(exercise, diagnosis) for _, exercise, diagnosis, _, assignment in located if assignment is None]
    assert not missing, f"exercises with no answer cell in any notebook: {missing}"


@pytest.mark.parametrize("index", range(len(MUTANTS)),
                         ids=[f"{m[0]}-{m[1] or 'shape-only'}" for m in MUTANTS])
def test_mutant_loses_points_and_is_diagnosed(graded, index):
    course, located = graded
    if not _selected(MUTANTS[index][0]):
        pytest.skip("not selected by CNNLAB_MUTANTS")
    _, exercise, diagnosis, _, assignment = next(entry for entry in located if entry[0] == index)
    student = f"mutant{index:02d}"
    score, max_score, cells = scores(course, assignment)[student]
    test_id = f"test_{exercise}"
    assert test_id in cells, f"{assignment} has no test cell {test_id}"
    assert cells[test_id][0] < cells[test_id][1], f"{student} ({exercise}: {diagnosis}) kept its points"
    assert score < max_score
    if diagnosis:
        feedback = autograded_outputs(course, student, assignment)[test_id]
        assert diagnosis in feedback, feedback[-2000:]
