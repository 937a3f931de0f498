"""Flag submissions whose code reaches for the grader instead of the exercise.

Some tampering cannot be stopped inside the kernel that runs it: an answer
cell can, for instance, replace ``grading.check_conv2d`` with a function that
always passes. But every such trick must be written in the notebook, in a cell
the student controls. This scanner reads those cells (answer cells and cells
the student added) and lists lines that touch the grading machinery, the file
system outside the notebook, or Python's import and attribute internals.
A hit is a reason to read the cell, not a verdict.

    python -m cnnlab.grading.audit autograded/            # or submitted/
"""

import json
import re
import sys
from pathlib import Path

#: (label, regular expression) searched line by line in student-controlled cells.
PATTERNS = [
    ("changes the grading module", r"\bgrading\s*\.\s*\w+\s*=|cnnlab\.grading\.\w+\s*=|\bgrading\.__dict__"),
    ("patches a library attribute", r"\b(np|numpy|torch|scipy|cnnlab)(\.\w+)+\s*=[^=]"),
    ("uses setattr/delattr", r"\b(setattr|delattr)\s*\("),
    ("touches sys.modules or import machinery", r"sys\.modules|importlib|__import__|builtins"),
    ("reads or writes files", r"\bopen\s*\(|\bglob\b|\bos\.(remove|unlink|rename|replace|walk|listdir)|shutil|pathlib"),
    ("mentions the gradebook or hidden tests", r"gradebook|sqlite|HIDDEN|solutions/|autograded/|submitted/"),
    ("inspects frames or the garbage collector", r"\bgc\.|sys\._getframe|inspect\.|__code__|__globals__"),
    ("runs shell commands", r"subprocess|os\.system|^\s*!|%%?bash|%%?sh\b"),
]


def student_cells(nb):
    """Cells a student controls: answer cells and cells without nbgrader metadata."""
    for index, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None or meta.get("solution"):
            source = cell.get("source", "")
            yield index, meta.get("grade_id") if meta else None, "".join(source) if isinstance(source, list) else source


def scan_notebook(nb):
    """List of (cell index, grade_id or None, line number, label, line) hits."""
    hits = []
    for index, grade_id, source in student_cells(nb):
        for number, line in enumerate(source.splitlines(), start=1):
            for label, pattern in PATTERNS:
                if re.search(pattern, line):
                    hits.append((index, grade_id, number, label, line.strip()))
    return hits


def scan_folder(folder):
    """{(student, assignment, notebook): hits} for ``folder/<student>/<assignment>/*.ipynb``."""
    report = {}
    for path in sorted(Path(folder).glob("*/*/*.ipynb")):
        student, assignment = path.parts[-3], path.parts[-2]
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            report[(student, assignment, path.name)] = [(None, None, 0, "not a readable notebook", str(exc))]
            continue
        hits = scan_notebook(nb)
        if hits:
            report[(student, assignment, path.name)] = hits
    return report


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cnnlab.grading.audit FOLDER   (e.g. autograded/ or submitted/)")
        return 2
    report = scan_folder(argv[0])
    for (student, assignment, name), hits in report.items():
        print(f"{student} / {assignment} / {name}")
        for index, grade_id, number, label, line in hits:
            where = f"cell {index}" + (f" ({grade_id})" if grade_id else " (added by the student)")
            print(f"    {where}, line {number}: {label}: {line}")
    print(f"{len(report)} notebook(s) to review")
    return 0


if __name__ == "__main__":
    sys.exit(main())
