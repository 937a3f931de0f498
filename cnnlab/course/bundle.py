"""The student bundle: what a graded course hands out, built from the course directory.

A zip with three things and nothing else::

    cnnlab-student-<version>/README.md                     how to install and work (for students)
    cnnlab-student-<version>/cnnlab-<version>-py3-none-any.whl   the library the notebooks import
    cnnlab-student-<version>/notebooks/<assignment>/...    the release (``notebooks/``), as nbgrader made it

``solutions/`` never goes in. Before the zip is written, :func:`find_leaks` reads every text
file that would go into it (the notebooks and the wheel's files) and refuses to write a bundle
that holds nbgrader's solution or hidden-test markers, or a line of a solution or hidden-test
block from ``solutions/``. Run it from the course directory::

    python -m cnnlab.course.bundle --out dist        # or: make student-bundle
"""

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cnnlab import _install

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# Lines shorter than this (``return out``, ``else:``) are too common in any Python code to count
# as a copy of a solution.
MIN_LINE_CHARS = 12


def version(course):
    """The ``version`` in ``course/pyproject.toml`` (read without tomllib, which needs 3.11)."""
    for line in (Path(course) / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise ValueError(f"course: no version line in {Path(course) / 'pyproject.toml'}")


def release_files(course):
    """``[(path inside notebooks/, file)]`` of the release, checkpoints and caches left out."""
    release = Path(course) / "notebooks"
    if not release.is_dir():
        raise ValueError(f"course: {release} does not exist; run `nbgrader generate_assignment \"*\"` first")
    skip = {".ipynb_checkpoints", "__pycache__"}
    return [(path.relative_to(release).as_posix(), path) for path in sorted(release.rglob("*"))
            if path.is_file() and not skip & set(path.parts)]


def build_wheel(course, folder):
    """Build the ``cnnlab`` wheel of ``course`` into ``folder`` with pip; return its path."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                    str(folder), str(course)], check=True)
    wheels = sorted(Path(folder).glob("cnnlab-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one cnnlab wheel in {folder}, found {[w.name for w in wheels]}")
    return wheels[0]


def install_lines(wheel_name):
    """The README's install commands, one per operating system (from :mod:`cnnlab._install`)."""
    lines = []
    for system, label, pip in [("Linux", "Linux", "cnnlab-env/bin/pip"),
                               ("Darwin", "macOS", "cnnlab-env/bin/pip"),
                               ("Windows", "Windows", r"cnnlab-env\Scripts\pip")]:
        torch = " ".join(_install.torch_install_args(system, "cpu"))
        lines.append(f"# {label}\npython -m venv cnnlab-env\n{pip} install {torch}\n{pip} install {wheel_name}")
    return "\n\n".join(lines)


def student_readme(course_version, assignments, wheel_name):
    """The README.md at the top of the bundle: what is in it and how to use it."""
    listing = "\n".join(f"- `notebooks/{name}/`" for name in assignments)
    return f"""# cnnlab {course_version}: the student bundle

What you received:

- `notebooks/`: the assignments, one folder each, in order:
{listing}
- `{wheel_name}`: the `cnnlab` library the notebooks import (numerics, plots, widgets and the
  checks behind the test cells);
- this README.

The solutions are not in this bundle, and neither are the hidden tests your instructor runs
when grading.

## Install (once)

Python 3.10 or newer. Make a virtual environment, install PyTorch's CPU build, then the wheel
(it brings JupyterLab, nbgrader and the rest). On Linux the first command uses PyTorch's CPU
index, so that pip does not download the multi-gigabyte CUDA build.

```
{install_lines(wheel_name)}
```

## Work

1. Start JupyterLab in this folder: `cnnlab-env/bin/jupyter lab notebooks/`
   (Windows: `cnnlab-env\\Scripts\\jupyter lab notebooks/`).
2. Open an assignment, read, and replace each `raise NotImplementedError()` with your code.
3. Run the test cell under each exercise. A failing test prints what it called your function
   with, what it expected, what it got, and the likely mistake.
4. Before you hand in: the **Validate** button in JupyterLab's nbgrader toolbar, or
   `nbgrader validate notebooks/01_convolution_1d/01_convolution_1d.ipynb`.
5. Hand in the notebook the way your instructor asked (the course's JupyterHub or upload).
"""


def cell_source(cell):
    """A notebook cell's source as one string (nbformat allows a list of lines too)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def secret_blocks(course):
    """Every solution and hidden-test block of ``course/solutions``.

    Returns ``[(where, kind, lines)]``: ``where`` is ``"<notebook>, cell <i>"``, ``kind`` is
    ``"solution"`` or ``"hidden tests"``, ``lines`` the block's stripped lines of at least
    ``MIN_LINE_CHARS`` characters that are not comments.
    """
    blocks = []
    for notebook in sorted((Path(course) / "solutions").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in notebook.parts:
            continue
        for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            kind, lines = None, []
            for line in cell_source(cell).splitlines():
                text = line.strip()
                if text in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    kind, lines = ("solution" if "SOLUTION" in text else "hidden tests"), []
                elif text in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    if lines:
                        blocks.append((f"{notebook.name}, cell {index}", kind, lines))
                    kind = None
                elif kind and len(text) >= MIN_LINE_CHARS and not text.startswith("#"):
                    lines.append(text)
    return blocks


def reproduces(block_lines, file_lines):
    """True when a file holds at least half, and at least 3, of a solution block's lines.

    Blocks of one or two lines (``return (kernel_size - 1) // 2``) are too short to tell a copy
    from the same formula written twice.
    """
    found = sum(line in file_lines for line in block_lines)
    return found >= max(3, len(block_lines) / 2)


def stripped_lines(name, text):
    """The stripped lines of a file's text; of its cells' sources for a notebook."""
    if name.endswith(".ipynb"):
        text = "\n".join(cell_source(cell) for cell in json.loads(text)["cells"])
    return {line.strip() for line in text.splitlines()}


def text_members(files):
    """``{name: text}`` for the members of ``files`` (``{name: bytes}``), wheels opened too."""
    texts = {}
    for name, data in files.items():
        if name.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(data)) as wheel:
                inner = {f"{name}!{member}": wheel.read(member) for member in wheel.namelist()}
            texts.update(text_members(inner))
        else:
            try:
                texts[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # images: no text to leak
    return texts


def find_leaks(files, course):
    """Problems with ``files`` (``{name in the zip: bytes}``) as a student hand-out; [] when clean.

    Flags any path under ``solutions/``; nbgrader's markers (anywhere in a notebook or text file,
    as a line of their own in the wheel's Python files, where the grading code names them); and
    any solution or hidden-test block of ``course`` that a file reproduces (:func:`reproduces`).
    """
    problems = [f"{name}: is from solutions/" for name in files if "/solutions/" in f"/{name}"]
    blocks = secret_blocks(course)
    for name, text in text_members(files).items():
        lines = stripped_lines(name, text)
        in_code = name.endswith(".py")
        problems += [f"{name}: contains {marker!r}" for marker in MARKERS
                     if (marker in lines if in_code else marker in text)]
        for where, kind, block in blocks:
            if kind == "hidden tests" and any(line in lines for line in block) \
                    or kind == "solution" and reproduces(block, lines):
                shown = sum(line in lines for line in block)
                problems.append(f"{name}: reproduces the {kind} of {where} ({shown} of {len(block)} "
                                f"lines, first: {block[0]!r})")
    return problems


def make_student_bundle(course, out, wheel=None, check=True):
    """Write ``out/cnnlab-student-<version>.zip`` for ``course``; return its path.

    ``wheel``: an already built cnnlab wheel (default: build one with pip). With ``check``
    (the default), raises ``RuntimeError`` listing the problems :func:`find_leaks` finds, and
    writes nothing.
    """
    course = Path(course).resolve()
    course_version = version(course)
    top = f"cnnlab-student-{course_version}"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(wheel) if wheel else build_wheel(course, tmp)
        release = release_files(course)
        assignments = sorted({name.split("/")[0] for name, _ in release if "/" in name})
        files = {f"{top}/notebooks/{name}": path.read_bytes() for name, path in release}
        files[f"{top}/{wheel.name}"] = wheel.read_bytes()
        files[f"{top}/README.md"] = student_readme(course_version, assignments, wheel.name).encode()
    problems = find_leaks(files, course) if check else []
    if problems:
        raise RuntimeError("the student bundle would leak solutions:\n  " + "\n  ".join(problems))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{top}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(files):
            bundle.writestr(name, files[name])
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the student bundle (release notebooks + "
                                     "cnnlab wheel + README, no solutions) from the course directory")
    parser.add_argument("--course", default=".", help="the course directory (default: .)")
    parser.add_argument("--out", default="dist", help="folder for the zip (default: dist)")
    parser.add_argument("--wheel", help="use this cnnlab wheel instead of building one")
    parser.add_argument("--force", action="store_true",
                        help="write the zip even when it would leak solution text (listed as warnings)")
    options = parser.parse_args(argv)
    try:
        target = make_student_bundle(options.course, options.out, options.wheel)
    except RuntimeError as exc:
        if not options.force:
            print(f"error: {exc}\n(nothing written; --force writes it anyway)", file=sys.stderr)
            return 1
        print(f"warning: {exc}", file=sys.stderr)
        target = make_student_bundle(options.course, options.out, options.wheel, check=False)
    with zipfile.ZipFile(target) as bundle:
        names = bundle.namelist()
    print(f"{target}: {len(names)} files, {target.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
