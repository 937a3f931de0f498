"""``cnnlab export-canvas``: one row per student, one column per assignment, scores from the gradebook."""

import csv
import os
import shutil
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from cnnlab.course.canvas import main

pytestmark = pytest.mark.slow  # creating a gradebook runs alembic

REPO = Path(__file__).resolve().parents[1]


def _gradebook(course):
    """Two assignments (3 and 2 points), three students: full, partial+late, one missing."""
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # alembic
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnnlab") as gb:
        for name, points in (("01_first", (1, 2)), ("02_second", (2,))):
            gb.add_assignment(name)
            gb.add_notebook(name, name)
            for i, p in enumerate(points):
                gb.add_grade_cell(f"test_{i}", name, name, max_score=p, cell_type="code")
        gb.add_student("ann", first_name="Ann", last_name="Lee", lms_user_id="9001")
        gb.add_student("bo")
        gb.add_student("cy")
        scores = {("ann", "01_first"): (1, 2), ("ann", "02_second"): (2,), ("bo", "01_first"): (1, 0),
                  ("cy", "02_second"): (1,)}
        for (student, name), values in scores.items():
            gb.add_submission(name, student)
            notebook = gb.find_submission_notebook(name, name, student)
            for i, value in enumerate(values):
                gb.find_grade(f"test_{i}", name, name, student).auto_score = value
            if student == "cy":
                notebook.late_submission_penalty = 2.0  # more than the score: clipped at 0
            gb.db.commit()


def test_canvas_csv_has_one_column_per_assignment(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    _gradebook(course)
    out = tmp_path / "canvas.csv"
    assert main(["--course", str(course), "--output", str(out), "--section", "A"]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_first", "02_second"]
    assert rows[1][0] == "Points Possible" and rows[1][5:] == ["3", "2"]
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login["ann"][:2] == ["Lee, Ann", "9001"] and by_login["ann"][4:] == ["A", "3", "2"]
    assert by_login["bo"][5:] == ["1", "0"]  # 02_second not submitted: 0
    assert by_login["cy"][5:] == ["0", "0"]  # 1 point minus a 2-point late penalty
