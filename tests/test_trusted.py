"""The trusted-grading pieces one at a time (fast; the whole pipeline is in test_integrity.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cnnlab.course import audit, policy, remote, sandbox
from cnnlab.course.trusted import UngradableTestCell, parse_test_cell

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- graded cells


def _graded_cells():
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                yield path.parent.name, meta["grade_id"], cell.source


@pytest.mark.parametrize(
    "assignment,grade_id,source", list(_graded_cells()), ids=lambda v: v if isinstance(v, str) and "\n" not in v else ""
)
def test_every_graded_cell_is_a_list_of_registered_checks(assignment, grade_id, source):
    from cnnlab import grading

    for check_name, args, kwargs in parse_test_cell(source):
        assert callable(getattr(grading, check_name, None)), f"{grading.__name__}.{check_name} does not exist"


def test_parse_reads_names_constants_and_hidden_markers():
    calls = parse_test_cell(
        "grading.check_conv2d(conv2d)\n### BEGIN HIDDEN TESTS\n"
        "print(grading.check_conv2d(conv2d, hidden=True, tol=1e-3))\n### END HIDDEN TESTS\n"
    )
    assert calls == [
        ("check_conv2d", [("name", "conv2d")], {}),
        ("check_conv2d", [("name", "conv2d")], {"hidden": ("const", True), "tol": ("const", 1e-3)}),
    ]


@pytest.mark.parametrize(
    "source",
    [
        "assert conv2d(1) == 2",
        "x = 1\ngrading.check_conv2d(conv2d)",
        "grading.check_conv2d(lambda: 1)",
        "grading.check_conv2d(conv2d.__wrapped__)",
        "grading.other(conv2d)",
        "",
        "grading.check_conv2d(conv2d",
    ],
)
def test_parse_refuses_anything_else(source):
    with pytest.raises(UngradableTestCell):
        parse_test_cell(source)


# --------------------------------------------------------------------------- plain data


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -(2**70),
        2.5,
        float("inf"),
        "text",
        np.int64(7),
        np.float32(1.5),
        np.arange(6.0).reshape(2, 3),
        np.arange(4, dtype=np.uint8),
        np.zeros((0, 3), np.float32),
        [1, (2.0, "a")],
        {"a": [np.ones(2)], 3: None},
        (np.array([True, False]),),
    ],
)
def test_values_survive_the_trip_with_their_exact_types(value):
    namespace = {}
    exec(remote.PROBE_SOURCE, namespace)
    back = remote.decode(namespace["encode"](value))
    _assert_same(back, value)
    _assert_same(remote.decode(json.loads(json.dumps(remote.encode(value)))), value)


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(b, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(b, dict):
        assert list(a) == list(b)
        for key in b:
            _assert_same(a[key], b[key])
    elif isinstance(b, np.generic):
        assert a.dtype == b.dtype and a == b
    else:
        assert a == b


def _kernel_side(namespace_code):
    """A fake kernel: PROBE_SOURCE answering requests against a user namespace built from code."""
    user_ns = {}
    exec(namespace_code, user_ns)
    probe = {}
    exec(remote.PROBE_SOURCE, probe)

    def run_probe(code):
        request = json.loads(eval(code.split(".run(", 1)[1].rsplit(", globals())", 1)[0]))
        return [{"output_type": "display_data", "data": {remote.MIME: probe["_answer"](request, user_ns)}}]

    return run_probe


def test_objects_that_lie_arrive_as_unsupported_values():
    run = _kernel_side(
        "import numpy as np\n"
        "class Liar(np.ndarray):\n    def __eq__(self, o):\n        return True\n"
        "class Anything(float):\n    def __eq__(self, o):\n        return True\n"
        "def f():\n    return np.zeros(3).view(Liar)\n"
        "def g():\n    return Anything(1.0)\n"
        "def h():\n    return np.array([object()])\n"
    )
    for name in "fgh":
        value = remote.resolve(name, run)()
        assert isinstance(value, remote.UnsupportedValue), value


def test_remote_calls_report_errors_in_place_edits_and_missing_names():
    run = _kernel_side(
        "import numpy as np\n"
        "def boom(x):\n    raise ValueError('bad x')\n"
        "def todo(x):\n    raise NotImplementedError()\n"
        "def edit(x):\n    x[0] = 99\n    return x.sum()\n"
        "table = {'conv1': (96, 55)}\n"
    )
    with pytest.raises(remote.RemoteError, match="bad x") as info:
        remote.resolve("boom", run)(np.zeros(2))
    assert type(info.value).__name__ == "ValueError" and not isinstance(info.value, AssertionError)
    with pytest.raises(NotImplementedError):
        remote.resolve("todo", run)(1)
    x = np.zeros(3)
    assert remote.resolve("edit", run)(x) == 99.0 and x[0] == 99  # the edit is copied back
    assert remote.resolve("table", run) == {"conv1": (96, 55)}
    with pytest.raises(remote.RemoteError, match="not defined"):
        remote.resolve("missing", run)


def test_a_kernel_that_answers_nothing_or_garbage_fails_cleanly():
    with pytest.raises(remote.RemoteError, match="could not reach"):
        remote.read_answer([{"output_type": "stream", "name": "stdout", "text": "✓"}])
    with pytest.raises(ValueError):
        remote.decode({"t": "ndarray", "v": remote._array_to_text(np.array(["a"], dtype=object)) if False else "AAAA"})
    with pytest.raises(ValueError):
        remote.decode({"t": "pickle", "v": "x"})


# --------------------------------------------------------------------------- the audit

P01 = policy.policy_for("01_convolution_1d")
P06 = policy.policy_for("06_mnist_cnn")


@pytest.mark.parametrize(
    "source",
    [
        "def correlate1d(x, w, mode='valid'):\n    x = np.asarray(x, float)\n"
        "    return np.array([x[i:i+len(w)] @ w for i in range(len(x)-len(w)+1)])",
        "from numpy.lib.stride_tricks import sliding_window_view\nimport math\nfrom itertools import product",
        "%timeit correlate1d(np.ones(9), np.ones(3))",
        "%%time\ny = correlate1d(np.ones(9), np.ones(3))",
        "%timeit -n 10 -r3 correlate1d(np.ones(9), np.ones(3))",
        "F = np.ones(3)\nG = F * 2",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])",
        "y = np.einsum('ij,j->i', A, w)",
        "class Net:\n    def __init__(self):\n        super().__init__()\n        self.name = type(self).__name__",
        "def broken(:\n    pass",
    ],
)
def test_honest_code_passes_the_audit(source):
    assert audit.audit_source(source, P01, frozenset({"F", "grading"})) == []


@pytest.mark.parametrize(
    "source,word",
    [
        ("y = np.correlate(x, w)", "correlate"),
        ("y = np._core.multiarray.correlate2(x, w, 0)", "_core"),
        ("f = getattr(np, 'corr' + 'elate')", "getattr"),
        ("f = vars(np)['correlate']", "vars"),
        ("import scipy.signal", "scipy"),
        ("from cnnlab.functional import correlate1d", "cnnlab"),
        ("import inspect", "inspect"),
        ("import sys\nsys.setprofile(None)", "sys"),
        ("exec(open('x').read())", "exec"),
        ("__import__('os')", "__import__"),
        ("get_ipython().set_custom_exc((Exception,), h)", "get_ipython"),
        ("!ls", "get_ipython"),
        ("%run other.py", "%run"),
        ("%%bash\nls", "%%bash"),
        ("%timeit np.convolve(a, b)", "convolve"),
        ("y = plt.sys.modules['numpy']", "sys"),
        ("g = f.__globals__", "__globals__"),
        ("y = F.correlate2d(a, b)", "F"),
        ("grading.check_conv2d = print", "grading"),
        ("import ctypes", "ctypes"),
        ("import gc", "gc"),
        ("import subprocess", "subprocess"),
        ("t = e.__traceback__.tb_frame.f_back", "tb_frame"),
        ("import cnnlab.nn", "cnnlab"),
        ("%timeit -n 1 exec('x')", "exec"),
        ("%time 1 exec('x')", "not plain Python"),
        ("y = (np.polynomial.Polynomial(x) * np.polynomial.Polynomial(w)).coef", "Polynomial"),
        ("from numpy import *", "*"),
        ("y = np.ma.convolve(x, w)", "convolve"),
        ("match np:\n    case object(correlate=f):\n        y = f(x, w)", "correlate"),
        ("from numpy import _core", "_core"),
    ],
)
def test_forbidden_constructs_are_named(source, word):
    findings = audit.audit_source(source, P01, frozenset({"F", "grading"}))
    assert findings and any(word in f.what for f in findings), findings


def test_notebook_06_may_build_torch_and_numpy_networks_but_not_call_the_builders():
    torch_net = (
        "import torch\nimport torch.nn.functional as TF\nfrom cnnlab import nn\n"
        "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = torch.nn.Conv2d(1, 8, 3)\n"
        "    def forward(self, x):\n        return TF.max_pool2d(TF.relu(self.conv(x)), 2)\n"
    )
    assert audit.audit_source(torch_net, P06, frozenset({"train", "models"})) == []
    shortcut = "def build_numpy_cnn(seed=0):\n    return train.numpy_mnist_cnn(seed=seed)\n"
    assert audit.audit_source(shortcut, P06, frozenset({"train", "models"}))


def test_library_names_follow_aliases_but_not_computed_arrays():
    sources = [
        "from cnnlab import functional as F\nimport numpy as np\nimport torch",
        "conv = F.conv2d\nout = F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))",
        "def helper(a, b):\n    return conv(a, b)",
        "from cnnlab.plots import show_matrix",
    ]
    names = audit.library_names(sources, P01)
    assert {"F", "torch", "conv", "helper"} <= names
    assert "out" not in names and "np" not in names and "show_matrix" not in names


# --------------------------------------------------------------------------- the sandbox


def test_grading_copy_has_no_checks_and_stubs_the_references(tmp_path):
    import cnnlab

    package = Path(cnnlab.__file__).parent
    copy = Path(policy.grading_copy_of_package(str(package), "01_convolution_1d", str(tmp_path / "cnnlab")))
    assert not list(copy.rglob("*.pyc")) and not (copy / "course" / "trusted.py").exists()
    assert sorted(p.name for p in (copy / "grading").iterdir()) == ["__init__.py", "transfer.py"]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import cnnlab.functional as F\nassert F.__file__.startswith(sys.argv[1]), F.__file__\n"
        "try:\n    F.correlate1d([1., 2.], [1.])\nexcept RuntimeError as e:\n    print('stub:', e)\n"
        "print(F.conv_output_size(5, 3))\nfrom cnnlab import grading\ngrading.check_correlate1d(None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(copy.parent)], capture_output=True, text=True, cwd=tmp_path)
    assert "stub: correlate1d is not available while 01_convolution_1d is graded" in out.stdout, out.stderr
    assert "3\n(checked by the grader" in out.stdout


def test_the_bwrap_command_mounts_only_what_the_kernel_needs(tmp_path):
    cmd = sandbox.bwrap_command(
        ["python", "-m", "k"],
        notebook_dir=str(tmp_path),
        ipc_dir=str(tmp_path / "ipc"),
        package_dir="/course/cnnlab",
        package_copy="/scratch/pkg",
        data_dir=None,
        env={"HOME": "/tmp/home"},
        hidden_dirs={"/venv/scipy": "/s/scipy"},
    )
    text = " ".join(cmd)
    for flag in (
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid 65534",
        "--clearenv",
        "--ro-bind /s/scipy /venv/scipy",
        "--ro-bind /scratch/pkg /course/cnnlab",
    ):
        assert flag in text
    assert "--ro-bind / /" not in text and "--bind / " not in text
    assert cmd[-3:] == ["python", "-m", "k"] and "/etc/shadow" not in text


@pytest.mark.skipif(sandbox.bwrap_problem() is not None, reason=str(sandbox.bwrap_problem()))
def test_autograde_refuses_without_a_sandbox_unless_told(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    manager = sandbox.SandboxKernelManager()
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bubblewrap is not installed")
    with pytest.raises(sandbox.SandboxUnavailable, match="CNNLAB_UNSAFE_NO_SANDBOX"):
        manager._use_sandbox()
    monkeypatch.setenv("CNNLAB_UNSAFE_NO_SANDBOX", "1")
    assert manager._use_sandbox() is False
    monkeypatch.delenv("CNNLAB_UNSAFE_NO_SANDBOX")
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert manager._use_sandbox() is False  # validation still runs, with a warning


def test_jail_caps_processes_when_cgroups_allow(tmp_path):
    from cnnlab.course import jail

    name = f"cnnlab-test-{os.getpid()}"
    script = (
        "import os, time, sys\nn = 0\nfor _ in range(200):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(5)\n        os._exit(0)\n"
        "    n += 1\nprint(n)\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnlab.course.jail",
            "--cgroup",
            name,
            "--memory",
            str(2**31),
            "--cpu",
            "60",
            "--processes",
            "40",
            "--file-size",
            str(2**20),
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    jail.kill_cgroup(name)
    if not any(os.access(d, os.W_OK) for d in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")):
        pytest.skip("no writable cgroup here: the process cap is RLIMIT_NPROC only")
    assert int(out.stdout.strip()) < 40, out


@pytest.mark.parametrize(
    "source",
    [
        "def conv2d_single(image, kernel, stride=1):\n    s = stride\n    F = [v for v in range(s)]\n    return F",
        "for s in range(3):\n    print(s)",
        "def f(x, F=3):\n    return F + x",
    ],
)
def test_a_students_own_locals_are_not_the_library(source):
    assert audit.audit_source(source, P01, frozenset({"F", "s"})) == []


@pytest.mark.parametrize(
    "source",
    [
        "def f(x, G=F):\n    return G.im2col(x)",
        "g = lambda x, H=F: H(x)",
        "@F.deco\ndef f(x):\n    return x",
        "y = [F.thing for q in range(3)]",
    ],
)
def test_the_library_reached_through_defaults_or_decorators_is_still_found(source):
    assert audit.audit_source(source, P01, frozenset({"F"}))


def test_loop_targets_of_instructor_cells_are_not_library_names():
    names = audit.library_names(
        ["from cnnlab import functional as F", "for s in (1, 2):\n    out = F.conv2d(x, w, stride=s)"], P01
    )
    assert names == {"F"}


def test_a_grading_worker_builds_the_grading_copy_once_for_its_forked_children():
    """cnnlab grade forks one nbgrader per submission: the copy made before the fork is reused."""
    import cnnlab
    from cnnlab.course import cluster, sandbox

    package_dir = os.path.dirname(os.path.realpath(cnnlab.__file__))
    cluster.prepare_grading_copy("04_pooling")
    copy = sandbox._COPIES[(package_dir, "04_pooling", True)]
    compiled = sorted(Path(copy).rglob("*.pyc"))
    assert compiled, "the grading copy is byte-compiled"
    stamp = compiled[0].stat().st_mtime_ns
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # what a grading child asks for: the same folder, nothing rebuilt
        same = sandbox.cached_grading_copy(package_dir, "04_pooling", True) == copy
        os.write(write, b"1" if same else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert compiled[0].stat().st_mtime_ns == stamp


def test_cnnlab_grade_finds_alembic_without_an_activated_venv(monkeypatch):
    """nbgrader shells out to `alembic` when it opens a gradebook; `.venv/bin/cnnlab grade` must find it."""
    import shutil

    from cnnlab.course import cluster

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cluster.use_this_environments_tools()
    assert shutil.which("alembic") == str(Path(sys.executable).parent / "alembic")


@pytest.mark.skipif(sandbox.bwrap_problem() is not None, reason=str(sandbox.bwrap_problem()))
def test_kernels_read_the_font_list_built_once_outside(tmp_path):
    import cnnlab

    font_list = sandbox.cached_font_list()
    assert font_list and os.path.basename(font_list).startswith("fontlist-v")
    assert sandbox.cached_font_list() == font_list  # once per grading process
    (tmp_path / "ipc").mkdir()
    package = os.path.dirname(os.path.realpath(cnnlab.__file__))
    code = (
        "import logging, os, sys\nlogging.basicConfig(level=logging.INFO, stream=sys.stdout)\n"
        "import matplotlib, matplotlib.font_manager as fm\nd = matplotlib.get_cachedir()\n"
        "print(d, sorted(os.listdir(d)))\n"
        "try:\n    open(os.path.join(d, os.listdir(d)[0]), 'a').write('x')\nexcept OSError:\n    print('read-only')\n"
    )
    cmd = sandbox.bwrap_command(
        [sys.executable, "-c", code],
        notebook_dir=str(tmp_path),
        ipc_dir=str(tmp_path / "ipc"),
        package_dir=package,
        package_copy=package,
        env=sandbox.sandbox_env(),
        font_list=font_list,
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{sandbox.SANDBOX_HOME}/.matplotlib ['{os.path.basename(font_list)}']" in out.stdout
    assert "read-only" in out.stdout
    assert "generated new fontManager" not in out.stdout + out.stderr  # the list was used, not rebuilt


def test_what_a_function_prints_while_the_grader_calls_it_is_dropped_unread():
    """Third red team: 300 MB printed during the grader's call grew the grader to about 1 GB."""
    from cnnlab.course.trusted import TrustedExecute

    executor = TrustedExecute()
    executor._in_probe = True
    outs = []
    for msg_type, content in (
        ("stream", {"name": "stdout", "text": "A" * 1_000_000}),
        ("display_data", {"data": {"text/plain": "B" * 1_000_000}, "metadata": {}}),
        ("execute_result", {"data": {"text/plain": "C"}, "metadata": {}, "execution_count": 1}),
    ):
        assert executor.output(outs, {"msg_type": msg_type, "content": content}, None, 0) is None
    assert outs == []
