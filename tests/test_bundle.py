"""The student bundle (cnnlab/course/bundle.py): release notebooks + wheel + README, no solutions."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cnnlab import _install
from cnnlab.course import bundle

pytestmark = pytest.mark.slow   # builds the wheel with pip (about 10 s)

REPO = Path(__file__).resolve().parents[1]
RELEASE = sorted(p for p in (REPO / "notebooks").rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The cnnlab wheel, built once with pip from this checkout."""
    return bundle.build_wheel(REPO, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def student_zip(wheel, tmp_path_factory):
    """The bundle written without its own leak check, so that the tests below scan it themselves."""
    return bundle.make_student_bundle(REPO, tmp_path_factory.mktemp("dist"), wheel=wheel, check=False)


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_bundle_holds_the_release_the_wheel_and_a_readme_only(student_zip, wheel):
    files = members(student_zip)
    top = f"cnnlab-student-{bundle.version(REPO)}"
    expected = {f"{top}/notebooks/{p.relative_to(REPO / 'notebooks').as_posix()}" for p in RELEASE}
    assert set(files) == expected | {f"{top}/README.md", f"{top}/{wheel.name}"}
    for path in RELEASE:
        assert files[f"{top}/notebooks/{path.relative_to(REPO / 'notebooks').as_posix()}"] == path.read_bytes()
    assert not any("solutions" in name for name in files)


def test_readme_says_what_the_student_received_and_how_to_install(student_zip, wheel):
    files = members(student_zip)
    readme = files[f"cnnlab-student-{bundle.version(REPO)}/README.md"].decode()
    for assignment in {p.relative_to(REPO / "notebooks").parts[0] for p in RELEASE}:
        assert f"notebooks/{assignment}/" in readme
    assert wheel.name in readme
    assert "solutions are not in this bundle" in readme
    linux = " ".join(_install.torch_install_args("Linux", "cpu"))
    assert f"cnnlab-env/bin/pip install {linux}" in readme and _install.CPU_INDEX in linux


def text_of_every_member(files):
    """Notebook cell sources, README and every text file inside the wheel."""
    return bundle.text_members(files)


def test_no_solution_markers_and_no_hidden_tests_anywhere(student_zip):
    texts = text_of_every_member(members(student_zip))
    assert any(name.endswith(".ipynb") for name in texts) and any("!cnnlab/" in name for name in texts)
    hidden = [block for _, kind, block in bundle.secret_blocks(REPO) if kind == "hidden tests"]
    assert hidden, "solutions/ should have hidden tests to look for"
    for name, text in texts.items():
        lines = bundle.stripped_lines(name, text)
        if name.endswith(".py"):    # the grading code names the markers in strings, never as lines
            assert not {m for m in bundle.MARKERS} & lines, name
        else:
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, name
        for block in hidden:
            assert not set(block) & lines, f"{name} holds a hidden test line: {set(block) & lines}"


def test_release_notebooks_reproduce_no_solution_block(student_zip):
    """Loop headers such as ``for i in range(h_out):`` recur in given code; whole answers must not."""
    texts = text_of_every_member(members(student_zip))
    blocks = [(where, block) for where, kind, block in bundle.secret_blocks(REPO) if kind == "solution"]
    assert len(blocks) > 20
    for name, text in texts.items():
        if name.endswith(".ipynb"):
            lines = bundle.stripped_lines(name, text)
            assert not [where for where, block in blocks if bundle.reproduces(block, lines)], name


def test_the_bundle_reproduces_no_solution_body(student_zip):
    assert bundle.find_leaks(members(student_zip), REPO) == []


def test_find_leaks_catches_solutions_markers_and_copied_bodies(student_zip):
    files = members(student_zip)
    solution = REPO / "solutions" / "01_convolution_1d" / "01_convolution_1d.ipynb"
    copied = [block for where, kind, block in bundle.secret_blocks(REPO)
              if kind == "solution" and where.startswith("03_") and len(block) >= 6][0]
    planted = {"x/solutions/01_convolution_1d/01_convolution_1d.ipynb": solution.read_bytes(),
               "x/notes.md": b"### BEGIN HIDDEN TESTS\n",
               "x/helper.py": ("def conv2d(x, weight):\n    " + "\n    ".join(copied)).encode()}
    problems = bundle.find_leaks(planted, REPO)
    assert any("is from solutions/" in p for p in problems)
    assert any("x/notes.md: contains '### BEGIN HIDDEN TESTS'" in p for p in problems)
    assert any(p.startswith("x/helper.py: reproduces the solution of 03_multichannel") for p in problems)
    assert any("01_convolution_1d.ipynb: contains '### BEGIN SOLUTION'" in p for p in problems)
    assert len(bundle.find_leaks(files, REPO)) < len(bundle.find_leaks({**files, **planted}, REPO))


def test_the_command_refuses_to_write_a_leaking_bundle(wheel, tmp_path):
    result = subprocess.run([sys.executable, "-m", "cnnlab.course.bundle", "--course", str(REPO),
                             "--out", str(tmp_path), "--wheel", str(wheel)],
                            capture_output=True, text=True, cwd=tmp_path)
    problems = bundle.find_leaks(members(bundle.make_student_bundle(REPO, tmp_path / "check", wheel=wheel,
                                                                    check=False)), REPO)
    if problems:
        assert result.returncode == 1 and "nothing written" in result.stderr
        assert not list(tmp_path.glob("*.zip"))
    else:
        assert result.returncode == 0 and list(tmp_path.glob("*.zip"))
