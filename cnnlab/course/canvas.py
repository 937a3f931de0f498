"""``cnnlab export-canvas``: the gradebook as a CSV that Canvas (and most LMSs) import.

One row per student, one column per assignment, in the layout of Canvas's own gradebook export:
``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>...``, then a ``Points Possible``
row. A student's score on an assignment is nbgrader's score minus its late penalty (never below
0); an assignment the student did not submit scores 0, as in ``nbgrader export``.

Canvas matches rows by ``ID`` (the Canvas user id: nbgrader's ``lms_user_id``, when the roster
import filled it) or by ``SIS Login ID`` (here: the nbgrader student id, i.e. the hub user name).
"""

import argparse
import csv
from pathlib import Path

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def final_score(submission):
    """nbgrader's score minus the late penalty, never below zero."""
    penalty = submission.late_submission_penalty or 0.0
    return max(0.0, submission.score - penalty)


def canvas_rows(gradebook_url, course_id="cnnlab", section=""):
    """The CSV rows (lists of strings): header, points possible, one per student (sorted by id)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(gradebook_url, course_id) as gb:
        assignments = sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate or 0, a.name))
        rows = [HEADER + [a.name for a in assignments],
                ["Points Possible", "", "", "", ""] + [_number(a.max_score) for a in assignments]]
        for student in sorted(gb.students, key=lambda s: s.id):
            name = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.id
            row = [name, student.lms_user_id or "", "", student.id, section]
            for assignment in assignments:
                try:
                    row.append(_number(final_score(gb.find_submission(assignment.name, student.id))))
                except MissingEntry:
                    row.append("0")
            rows.append(row)
    return rows


def _number(value):
    """12.0 -> '12', 7.5 -> '7.5'."""
    return f"{value:g}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cnnlab export-canvas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", default=".", help="the course directory (holding gradebook.db); default .")
    parser.add_argument("--output", default="canvas_grades.csv", help="CSV to write (default canvas_grades.csv)")
    parser.add_argument("--section", default="", help="value of the Section column (default empty)")
    args = parser.parse_args(argv)
    from cnnlab.course.cluster import read_course

    try:
        course = read_course(args.course)
    except ValueError as error:
        parser.exit(2, f"cnnlab export-canvas: {error}\n")
    if not (course.root / "gradebook.db").exists():
        parser.exit(2, f"cnnlab export-canvas: {course.root / 'gradebook.db'} does not exist; grade first\n")
    rows = canvas_rows(course.gradebook_url, course.course_id, args.section)
    output = Path(args.output)
    with output.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    print(f"wrote {output}: {len(rows) - 2} students x {len(rows[0]) - len(HEADER)} assignments")
    return 0
