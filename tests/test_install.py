"""How the course gets installed: which torch each path resolves, and that the set-up files agree.

The resolution tests run the real ``pip install --dry-run`` against two small indexes made of
fake wheels in a temporary folder, one standing for PyPI (whose Linux torch pulls NVIDIA
packages) and one for PyTorch's CPU index (``torch==V+cpu``), so they never touch the network.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from cnnlab import _install

REPO = Path(__file__).resolve().parents[1]
V = _install.TORCH_VERSION

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None


# ----------------------------------------------------------------------------- the rule per platform

@pytest.mark.parametrize("system, flavour, local, expected", [
    ("Linux", "cpu", False, [f"torch=={V}", "--extra-index-url", _install.CPU_INDEX]),
    ("Linux", "cpu", True, [f"torch=={V}"]),          # a configured local +cpu wheel: no index needed
    ("Linux", "cuda", False, [f"torch=={V}"]),        # PyPI's Linux wheel is the CUDA build
    ("Darwin", "cpu", False, [f"torch=={V}"]),
    ("Windows", "cpu", False, [f"torch=={V}"]),
    ("Windows", "cuda", False, [f"torch=={V}", "--extra-index-url", _install.WINDOWS_CUDA_INDEX]),
])
def test_torch_install_args_per_platform(system, flavour, local, expected):
    assert _install.torch_install_args(system, flavour, local_cpu_wheel=local) == expected


def test_cuda_on_macos_and_unknown_values_are_refused():
    with pytest.raises(ValueError, match="macOS"):
        _install.torch_install_args("Darwin", "cuda")
    with pytest.raises(ValueError, match="flavour.*'rocm'"):
        _install.torch_install_args("Linux", "rocm")
    with pytest.raises(ValueError, match="system.*'Plan9'"):
        _install.torch_install_args("Plan9", "cpu")


def test_command_line_prints_the_arguments():
    out = subprocess.run([sys.executable, str(REPO / "cnnlab" / "_install.py"), "--system", "Linux",
                          "--torch", "cuda"], capture_output=True, text=True, check=True).stdout
    assert out.split() == [f"torch=={V}"]


# ----------------------------------------------------------------------------- real pip, fake indexes

def fake_wheel(folder, name, version, requires=()):
    """Write a minimal installable wheel ``name-version-py3-none-any.whl`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{dist_info}/METADATA", metadata)
        whl.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{dist_info}/RECORD", "")
    return path


def simple_index(root, wheels):
    """A PEP 503 'simple' index folder listing ``wheels``; returns its file:// URL."""
    for wheel in wheels:
        project = root / wheel.name.split("-")[0].replace("_", "-")
        project.mkdir(parents=True, exist_ok=True)
        links = "".join(f'<a href="{w.as_uri()}">{w.name}</a>\n' for w in wheels
                        if w.name.split("-")[0] == wheel.name.split("-")[0])
        (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return root.as_uri()


@pytest.fixture
def indexes(tmp_path, monkeypatch):
    """Fake PyPI (CUDA torch + an NVIDIA package) and fake CPU index (torch+cpu); pip config off."""
    files = tmp_path / "files"
    pypi = simple_index(tmp_path / "pypi", [
        fake_wheel(files, "torch", V, requires=[f"nvidia_cublas_cu13==13.0.0; platform_system == 'Linux'"]),
        fake_wheel(files, "nvidia_cublas_cu13", "13.0.0"),
    ])
    cpu = simple_index(tmp_path / "cpu", [fake_wheel(files / "cpu", "torch", f"{V}+cpu")])
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)        # no pip.conf, find-links, constraints
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setattr(_install, "CPU_INDEX", cpu)
    return {"pypi": pypi, "cpu": cpu, "tmp": tmp_path}


def resolve(index_url, args):
    """``{name: version}`` that ``pip install --dry-run`` would install, from its JSON report."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--report", "-", "--index-url", index_url, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in json.loads(result.stdout)["install"]}


@pytest.mark.skipif(sys.platform != "linux", reason="the fake NVIDIA dependency is Linux-only")
def test_linux_default_resolves_the_cpu_wheel_and_no_nvidia_package(indexes):
    assert _install.local_cpu_wheel_available() is False
    args = _install.args_for_this_machine("cpu", system="Linux")
    assert indexes["cpu"] in args
    assert resolve(indexes["pypi"], args) == {"torch": f"{V}+cpu"}


@pytest.mark.skipif(sys.platform != "linux", reason="the fake NVIDIA dependency is Linux-only")
def test_linux_cuda_resolves_pypis_build_with_its_nvidia_packages(indexes):
    args = _install.args_for_this_machine("cuda", system="Linux")
    assert resolve(indexes["pypi"], args) == {"torch": V, "nvidia-cublas-cu13": "13.0.0"}


@pytest.mark.skipif(sys.platform != "linux", reason="pip's find-links probe is the Linux path")
def test_a_configured_local_cpu_wheel_is_used_without_the_cpu_index(indexes, monkeypatch):
    """The course's build machine: pip.conf find-links holds torch+cpu, download.pytorch.org is unreachable."""
    local = indexes["tmp"] / "wheels"
    fake_wheel(local, "torch", f"{V}+cpu")
    monkeypatch.setenv("PIP_FIND_LINKS", str(local))
    monkeypatch.setattr(_install, "CPU_INDEX", "http://127.0.0.1:9/unreachable")
    assert _install.local_cpu_wheel_available() is True
    args = _install.args_for_this_machine("cpu", system="Linux")
    assert args == [f"torch=={V}"]
    assert resolve(indexes["pypi"], args) == {"torch": f"{V}+cpu"}


def test_a_local_wheel_that_is_not_the_cpu_build_does_not_count(indexes, monkeypatch):
    local = indexes["tmp"] / "wheels"
    fake_wheel(local, "torch", V)
    monkeypatch.setenv("PIP_FIND_LINKS", str(local))
    assert _install.local_cpu_wheel_available() is False


# ----------------------------------------------------------------------------- the set-up files agree

def pyproject():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def environment():
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_environment_yml_is_the_runtime_of_pyproject_with_the_cpu_torch():
    project = pyproject()["project"]
    runtime = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    test_extra = {Requirement(r).name for r in project["optional-dependencies"]["test"]}
    conda, pip = [], []
    for dep in environment()["dependencies"]:
        (pip.extend(dep["pip"]) if isinstance(dep, dict) else conda.append(dep))

    python = next(d for d in conda if d.startswith("python="))
    assert Version(python.split("=")[1]) in Requirement(f"python{project['requires-python']}").specifier
    for dep in conda:
        if dep.startswith(("python=", "pip")):
            continue
        req = Requirement(dep)
        assert req.name in runtime, f"environment.yml installs {req.name}, which is not a runtime dependency"
        assert req.specifier == runtime[req.name].specifier, f"{req.name}: {req.specifier} vs pyproject"
    assert not test_extra & {Requirement(d).name for d in conda if not d.startswith("python=")}

    assert f"--extra-index-url {_install.CPU_INDEX}" in pip
    assert _install.torch_requirement() in pip
    assert "-e ." in pip                        # the rest of the runtime comes from pyproject
    assert Version(V) in runtime["torch"].specifier


def test_makefile_installs_torch_with_the_helper_before_the_package(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def dry_run(*args):
        return subprocess.run(["make", "-n", "-B", "-C", str(REPO), *args], capture_output=True,
                              text=True, check=True).stdout

    lab = dry_run("lab")
    torch_step = lab.index("cnnlab/_install.py --torch cpu --run")
    assert torch_step < lab.index("pip install --quiet -e .")
    assert "[test]" not in lab                  # students get the runtime only
    assert "cnnlab/_install.py --torch cuda --run" in dry_run("lab", "TORCH=cuda")
    test = dry_run("test")
    assert '-e ".[test]"' in test and "pytest" in test
    assert "apt-get" not in test and "apt-get" in dry_run("browser-deps")


def test_ci_runs_the_system_deps_then_the_readmes_test_command():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## The two commands.*?```bash\n(.*?)```", readme, re.S).group(1)
    readme_test = next(line.split("#")[0].strip() for line in block.splitlines() if "test" in line)
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))]
    assert commands == ["make browser-deps", "make grading-deps", readme_test]
    assert "make browser-deps" in readme and "make grading-deps" in readme
