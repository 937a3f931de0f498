"""Packaging: licence metadata, ``python -m build`` (sdist, then the wheel from it), and the wheel
working outside the source tree: installed into a fresh virtual environment, a release notebook
(answered with the solutions' code) runs against it.

The fresh environment borrows the already installed dependencies (numpy, torch, nbgrader, ...) of
the environment running the tests through a path entry, and gets ``cnnlab`` only from the wheel:
a full dependency install takes minutes and a gigabyte. ``CNNLAB_FULL_VENV=1`` installs everything
from the package indexes instead.
"""

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

from course import read, replace_answer, solution_notebook

REPO = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_licence_is_an_spdx_expression_with_its_file_and_setuptools_is_bounded():
    from packaging.requirements import Requirement
    from packaging.version import Version

    config = pyproject()
    assert config["project"]["license"] == "MIT"
    assert config["project"]["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert not any(c.startswith("License ::") for c in config["project"].get("classifiers", []))
    setuptools = next(Requirement(r) for r in config["build-system"]["requires"] if r.startswith("setuptools"))
    assert not setuptools.specifier.contains(Version("76.1"))    # no SPDX strings before 77
    assert setuptools.specifier.contains(Version("80.9.0"))
    assert any(spec.operator == "<" for spec in setuptools.specifier)


# ----------------------------------------------------------------------------- python -m build

@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """``python -m build`` of the repository: the sdist, and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,), (wheel,) = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    return sdist, wheel, result.stdout + result.stderr


@pytest.mark.slow
def test_build_makes_an_sdist_and_a_wheel_without_licence_warnings(dists):
    sdist, wheel, log = dists
    assert not re.search(r"(Deprecat\w*|warning).{0,200}licen[cs]e", log, re.I | re.S), log[-3000:]
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "cnnlab/__init__.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "solutions/", "notebooks/"))]
    with zipfile.ZipFile(wheel) as whl:
        files = whl.namelist()
        metadata = whl.read(next(n for n in files if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in files)
    for module in ("cnnlab/_install.py", "cnnlab/course/feedback_html.py", "cnnlab/grading/__init__.py"):
        assert module in files


# ----------------------------------------------------------------------------- a fresh venv

def answered_release(assignment):
    """The student release of ``assignment`` with every answer cell filled from the solution."""
    solution = {cell.metadata.nbgrader["grade_id"]: cell.source for cell in read(solution_notebook(assignment)).cells
                if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}
    notebook = read(REPO / "notebooks" / assignment / f"{assignment}.ipynb")
    for grade_id, source in solution.items():
        notebook = replace_answer(notebook, grade_id, source)
    return notebook


@pytest.fixture(scope="module")
def fresh_venv(dists, tmp_path_factory):
    """A new venv with the built wheel installed; its python."""
    _, wheel, _ = dists
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    if os.environ.get("CNNLAB_FULL_VENV") == "1":
        subprocess.run([str(python), str(REPO / "cnnlab" / "_install.py"), "--run"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    else:
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        # this environment's packages as a plain path entry: its .pth files (the editable cnnlab) stay inert
        (Path(site) / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
        check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
        assert "cnnlab" not in check.stdout, check.stdout     # the wheel's requirements are all met
    return python


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_a_release_notebook_from_outside_the_source_tree(fresh_venv, tmp_path):
    assignment = "01_convolution_1d"
    notebook = answered_release(assignment)
    probe = textwrap.dedent("""\
        import cnnlab, cnnlab.course.feedback_html, sys
        print("CNNLAB_FILE=" + cnnlab.__file__)
    """)
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    work = tmp_path / "student"
    work.mkdir()
    nbformat.write(notebook, work / f"{assignment}.ipynb")
    runner = textwrap.dedent(f"""\
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read("{assignment}.ipynb", as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={{"metadata": {{"path": "."}}}}).execute()
        nbformat.write(nb, "executed.ipynb")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{fresh_venv.parent}{os.pathsep}{env['PATH']}"
    env["JUPYTER_PATH"] = str(fresh_venv.parent.parent / "share" / "jupyter")
    result = subprocess.run([str(fresh_venv), "-c", runner], cwd=work, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    executed = read(work / "executed.ipynb")
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    cnnlab_file = Path(re.search(r"CNNLAB_FILE=(.*)", printed).group(1))
    assert fresh_venv.parent.parent in cnnlab_file.parents      # the installed wheel ...
    assert REPO not in cnnlab_file.parents                     # ... never the source tree
