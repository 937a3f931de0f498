"""A temporary copy of the nbgrader course, driven through the real CLI.

Used by the pipeline, mutation and integrity tests: copy the course to a
temporary folder, put submissions under ``submitted/<student>/<assignment>/``,
run ``nbgrader autograde`` and read the scores back from the gradebook.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir() and p.name[:2].isdigit()) \
    if (REPO / "solutions").exists() else []


def _no_sandbox_here():
    """True where bubblewrap cannot run (then the pipeline tests grade without the sandbox)."""
    from cnnlab.course.sandbox import bwrap_problem
    problem = bwrap_problem()
    if problem:
        import warnings
        warnings.warn(f"grading tests run WITHOUT the sandbox: {problem} (make grading-deps)")
    return problem is not None


def nbgrader(args, cwd, timeout=1800, check=True):
    """Run the nbgrader CLI of this venv (its bin/ on PATH for alembic)."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if _no_sandbox_here():
        env["CNNLAB_UNSAFE_NO_SANDBOX"] = "1"   # our own notebooks; tests/test_integrity.py skips
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_course(tmp_path, assignments=None):
    """Copy config and solutions into ``tmp_path`` and generate the release there."""
    course = Path(tmp_path) / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    for name in assignments or ASSIGNMENTS:
        shutil.copytree(REPO / "solutions" / name, course / "solutions" / name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nbgrader(["generate_assignment", "*", "--force"], cwd=course)
    return course


def submit(course, student, assignment, notebook):
    """Place ``notebook`` (a path or a NotebookNode) as a student's submission."""
    folder = Path(course) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{assignment}.ipynb"
    if isinstance(notebook, (str, Path)):
        shutil.copy(notebook, target)
    else:
        nbformat.write(notebook, target)
    (folder / "timestamp.txt").write_text("2026-11-21 12:00:00.000000 UTC")
    return target


def autograde(course, assignment, extra=(), check=True):
    """``nbgrader autograde``; it exits non-zero when any submission could not be graded."""
    return nbgrader(["autograde", assignment, "--force", *extra], cwd=course, check=check)


def scores(course, assignment):
    """{student: (score, max_score, {grade_id: (score, max)})} from the gradebook."""
    from nbgrader.api import Gradebook

    result = {}
    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        for submission in gb.assignment_submissions(assignment):
            cells = {}
            for nb in submission.notebooks:
                for grade in nb.grades:
                    cells[grade.name] = (grade.score, grade.max_score)
            result[submission.student_id] = (submission.score, submission.max_score, cells)
    return result


def release_notebook(course, assignment):
    return Path(course) / "notebooks" / assignment / f"{assignment}.ipynb"


def solution_notebook(assignment):
    return REPO / "solutions" / assignment / f"{assignment}.ipynb"


def read(path):
    return nbformat.read(str(path), as_version=4)


def replace_answer(nb, grade_id, source):
    """A copy of ``nb`` whose answer cell ``grade_id`` holds ``source``."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return nb
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def autograded_outputs(course, student, assignment):
    """Text of every error output in a student's autograded notebook, by grade_id."""
    path = Path(course) / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = read(path)
    texts = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        parts = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                parts.append("\n".join(out.get("traceback", [])) + f"\n{out.get('ename')}: {out.get('evalue')}")
            elif "text" in out:
                parts.append(out["text"])
        if grade_id:
            texts[grade_id] = "\n".join(parts)
    return texts
