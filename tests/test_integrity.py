"""A hostile class, graded by the real ``nbgrader autograde`` with the course's own configuration.

One temporary course, assignment ``01_convolution_1d``; one synthetic student per attack. Every
attack is written the way a student who wants points without the work would write it, against the
grader's known design (sandbox + verdicts outside the kernel + audit of student cells). Each case
states the score it must get; afterwards:

* every honest student (graded *after* the attackers: names sort last) keeps full marks;
* the course files, the gradebook's other rows, the ``cnnlab`` package and the venv's site-packages
  are unchanged; the attack probe files exist nowhere;
* no process an attack started is still alive.

The matrix runs twice: with the default configuration, and with the audit of student cells switched
off (``c.TrustedExecute.audit_cells = False``) for the attacks on the kernel, the disk and the
processes, to show that the sandbox and the trusted verdicts hold on their own.

Every payload is bounded (sizes, counts, sleeps) and aims only at paths inside the temporary course
or at probe files with unique names, so a broken sandbox shows up as a failed test, never as damage.
"""

import copy
import hashlib
import site
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from course import REPO, autograde, make_course, release_notebook, scores, submit

import cnnlab

pytestmark = [pytest.mark.slow]

ASSIGNMENT = "01_convolution_1d"
PKG = Path(cnnlab.__file__).resolve().parent
SITE = Path(site.getsitepackages()[0])
PROBE = "cnnlab_attack_probe"  # every file an attack tries to plant carries this name
SLEEP_MARK = "4242.4242"  # every process an attack leaves behind sleeps this long

bwrap_missing = subprocess.run(["sh", "-c", "command -v bwrap"], capture_output=True).returncode != 0
pytestmark.append(pytest.mark.skipif(bwrap_missing, reason="bubblewrap not installed (apt-get install bubblewrap)"))


# --------------------------------------------------------------------------
# Building submissions
# --------------------------------------------------------------------------


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _index(nb, grade_id):
    for i, cell in enumerate(nb.cells):
        if _grade_id(cell) == grade_id:
            return i
    raise KeyError(grade_id)


def answer(grade_id, source):
    """Edit: replace the answer cell ``grade_id``."""

    def edit(nb):
        nb.cells[_index(nb, grade_id)].source = source

    return edit


def add_cell(source, after="ex_correlate1d"):
    """Edit: a new (student-written) code cell after the cell ``after``."""

    def edit(nb):
        nb.cells.insert(_index(nb, after) + 1, nbformat.v4.new_code_cell(source))

    return edit


def build(base, edits, paths):
    nb = copy.deepcopy(base)
    for edit in edits:
        edit(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = (
                cell.source.replace("{course}", str(paths["course"]))
                .replace("{pkg}", str(PKG))
                .replace("{site}", str(SITE))
                .replace("{repo}", str(REPO))
                .replace("{probe}", PROBE)
                .replace("{sleep}", SLEEP_MARK)
            )
    return nb


LOOP_CORRELATE = """def correlate1d(x, w, mode="valid"):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    n, k = len(x), len(w)
    if k > n:
        return correlate1d(w, x, mode)[::-1]
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.concatenate([np.zeros(left), x, np.zeros(right)])
    return np.array([np.sum(xp[i:i + k] * w) for i in range(len(xp) - k + 1)])
"""

VECTORISED_CORRELATE = """from numpy.lib.stride_tricks import sliding_window_view

def correlate1d(x, w, mode="valid"):
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if len(w) > len(x):
        return correlate1d(w, x, mode)[::-1]
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    return sliding_window_view(np.pad(x, (left, right)), k) @ w
"""

# The attacks. (name, base, edits, intended points or None for "whatever the answers earn"
# (the attack must just not hurt anyone), in_kernel: also run with the audit switched off).
# "S" = the solution notebook, "R" = the untouched release (no work done).
CASES = [
    # -- honest students, unusual but legitimate ------------------------------------------------
    ("honest_loops", "S", [answer("ex_correlate1d", LOOP_CORRELATE)], "full", False),
    ("honest_sliding_window", "S", [answer("ex_correlate1d", VECTORISED_CORRELATE)], "full", False),
    (
        "honest_scratch_scipy",
        "S",
        [add_cell("from scipy.signal import correlate\nprint(correlate([1., 2, 3], [0., 1, 0.5]))")],
        "full",
        False,
    ),
    ("honest_timeit", "S", [add_cell("%timeit correlate1d(np.arange(100.0), np.ones(3))")], "full", False),
    ("honest_shell_cell", "S", [add_cell("!ls")], "full", False),
    ("honest_deleted_test_cell", "S", [lambda nb: nb.cells.pop(_index(nb, "test_correlate1d"))], "full", False),
    # -- no work, tricks inside the kernel ---------------------------------------------------------
    ("release_untouched", "R", [], 0, False),
    (
        "custom_exc_swallows_failures",
        "R",
        [add_cell("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)")],
        0,
        True,
    ),
    (
        "input_transformer_passes_tests",
        "R",
        [
            add_cell(
                "get_ipython().input_transformers_cleanup.append(\n"
                "    lambda lines: ['pass\\n'] if any('grading' in l or 'exec(' in l for l in lines) else lines)"
            )
        ],
        0,
        True,
    ),
    (
        "rebinds_grading",
        "R",
        [
            add_cell(
                "class _Pass:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\ngrading = _Pass()"
            )
        ],
        0,
        True,
    ),
    (
        "patches_numpy_comparisons",
        "R",
        [
            add_cell(
                "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                "np.testing.assert_allclose = lambda *a, **k: None\n"
                "def correlate1d(x, w, mode='valid'):\n    return np.zeros(1)\n"
            )
        ],
        0,
        True,
    ),
    (
        "lying_ndarray_subclass",
        "R",
        [
            add_cell(
                "class Liar(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                "    def __array_function__(self, *a, **k):\n        return True\n"
                "def correlate1d(x, w, mode='valid'):\n    return np.zeros(3).view(Liar)\n"
            )
        ],
        0,
        True,
    ),
    (
        "lying_object",
        "R",
        [
            add_cell(
                "class Anything(float):\n    def __eq__(self, other):\n        return True\n"
                "def output_length(n, k, mode):\n    return Anything(0)\n"
            )
        ],
        0,
        True,
    ),
    (
        "walks_the_stack_for_expected",
        "R",
        [
            add_cell(
                "import inspect\n"
                "def correlate1d(x, w, mode='valid'):\n"
                "    for info in inspect.stack():\n"
                "        for key in ('expected', 'want', 'reference'):\n"
                "            if key in info.frame.f_locals:\n"
                "                return info.frame.f_locals[key]\n"
                "    return None\n"
            )
        ],
        0,
        True,
    ),
    (
        "profile_hook_off",
        "R",
        [
            add_cell(
                "import sys, threading\nsys.setprofile(None)\nthreading.setprofile(None)\n"
                "def correlate1d(x, w, mode='valid'):\n    return np.correlate(x, w, mode)\n"
            )
        ],
        0,
        False,
    ),
    # -- no work, the reference by another road ------------------------------------------------
    (
        "numpy_correlate",
        "S",
        [answer("ex_correlate1d", "def correlate1d(x, w, mode='valid'):\n    return np.correlate(x, w, mode)\n")],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "numpy_private_correlate2",
        "S",
        [
            answer(
                "ex_correlate1d",
                "def correlate1d(x, w, mode='valid'):\n    return np._core.multiarray.correlate2(x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "getattr_string_trick",
        "S",
        [
            answer(
                "ex_correlate1d",
                "def correlate1d(x, w, mode='valid'):\n    return getattr(np, 'corr' + 'elate')(x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "module_dict_trick",
        "S",
        [
            answer(
                "ex_correlate1d",
                "def correlate1d(x, w, mode='valid'):\n    return vars(np)['corr' + 'elate'](x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "sys_modules_via_pyplot",
        "S",
        [
            answer(
                "ex_correlate1d",
                "import matplotlib.pyplot as plt\n"
                "def correlate1d(x, w, mode='valid'):\n"
                "    return plt.sys.modules['numpy'].correlate(x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "convolve_with_flip",
        "S",
        [
            answer(
                "ex_correlate1d",
                "def correlate1d(x, w, mode='valid'):\n    return np.convolve(x, np.asarray(w)[::-1], mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "course_reference",
        "S",
        [
            answer(
                "ex_correlate1d",
                "from cnnlab.functional import correlate1d as _ref\n"
                "def correlate1d(x, w, mode='valid'):\n    return _ref(x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        True,
    ),
    (
        "exec_reference_source",
        "S",
        [
            answer(
                "ex_correlate1d",
                "import cnnlab.functional.correlate as c\n"
                "ns = {}\nexec(open(c.__file__).read(), ns)\n"
                "correlate1d = ns['correlate1d']\n",
            )
        ],
        "correlate_and_convolve_lost",
        True,
    ),
    (
        "dunder_import_scipy",
        "S",
        [
            answer(
                "ex_correlate1d",
                "def correlate1d(x, w, mode='valid'):\n"
                "    s = __import__('scipy.signal', fromlist=['correlate'])\n"
                "    return s.correlate(x, w, mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        True,
    ),
    (
        "torch_conv1d",
        "S",
        [
            answer(
                "ex_correlate1d",
                "import torch\n"
                "def correlate1d(x, w, mode='valid'):\n"
                "    t = torch.nn.functional.conv1d(torch.tensor(x)[None, None],\n"
                "                                   torch.tensor(w)[None, None])\n"
                "    return t[0, 0].numpy()\n",
            )
        ],
        "correlate_and_convolve_lost",
        True,
    ),
    (
        "reads_solutions",
        "R",
        [
            add_cell(
                "import json, glob\n"
                "for path in glob.glob('{course}/solutions/*/*.ipynb') + glob.glob('{repo}/solutions/*/*.ipynb'):\n"
                "    for cell in json.load(open(path))['cells']:\n"
                "        if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(cell['source']):\n"
                "            exec(''.join(cell['source']))\n"
            )
        ],
        0,
        True,
    ),
    (
        "reads_classmate",
        "R",
        [
            add_cell(
                "import json, glob\n"
                "paths = glob.glob('{course}/submitted/*/*/*.ipynb')\n"
                "for path in paths + glob.glob('{course}/autograded/*/*/*.ipynb'):\n"
                "    for cell in json.load(open(path))['cells']:\n"
                "        if cell['cell_type'] == 'code' and 'def ' in ''.join(cell['source']):\n"
                "            try:\n                exec(''.join(cell['source']))\n"
                "            except Exception:\n                pass\n"
            )
        ],
        0,
        True,
    ),
    (
        "prints_hidden_tests",
        "R",
        [
            add_cell(
                "import sqlite3\n"
                "con = sqlite3.connect('{course}/gradebook.db')\n"
                "for (source,) in con.execute('select source from source_cell'):\n"
                "    print(source)\n"
            )
        ],
        0,
        True,
    ),
    # -- found by a red team: strings turned into attribute reads or code, NumPy's polynomial products,
    #    display ids that would rewrite the grader's own output
    (
        "formatter_get_field",
        "S",
        [
            answer(
                "ex_correlate1d",
                "import string\n"
                "def correlate1d(x, w, mode='valid'):\n"
                "    f = string.Formatter().get_field('0.corr' + 'elate', [np], {})[0]\n"
                "    return f(np.asarray(x, float), np.asarray(w, float), mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "type_hints_evaluate_strings",
        "S",
        [
            answer(
                "ex_correlate1d",
                "import typing\n"
                "def hint(a: 'np.correlate'):\n    pass\n"
                "def correlate1d(x, w, mode='valid'):\n"
                "    return typing.get_type_hints(hint)['a'](np.asarray(x, float), np.asarray(w, float), mode)\n",
            )
        ],
        "correlate_and_convolve_lost",
        False,
    ),
    (
        "poly1d_product",
        "S",
        [
            answer(
                "ex_convolve1d",
                "def convolve1d(x, w, mode='valid'):\n"
                "    full = (np.poly1d(np.asarray(x, float)) * np.poly1d(np.asarray(w, float))).coeffs\n"
                "    n, k = len(x), len(w)\n"
                "    full = np.concatenate([np.zeros(n + k - 1 - len(full)), full])\n"
                "    if mode == 'full':\n        return full\n"
                "    if mode == 'same':\n        start = (min(n, k) - 1) // 2\n"
                "        return full[start:start + max(n, k)]\n"
                "    return full[min(n, k) - 1:max(n, k)]\n",
            )
        ],
        "convolve_lost",
        False,
    ),
    (
        "display_id_rewrites_the_grade",
        "S",
        [
            answer(
                "ex_output_length",
                "shown = []\n"
                "def output_length(n, k, mode):\n"
                "    if not shown:\n"
                "        shown.append(1)\n"
                "        display({'text/plain': 'pad'}, raw=True, display_id='pad0')\n"
                "        display({'text/plain': 'evil'}, raw=True, display_id='evil1')\n"
                "    return n - k + 1\n",
            ),
            add_cell(
                "display({'text/plain': '2.0'}, raw=True, display_id='evil1', update=True)",
                after="test_output_length",
            ),
        ],
        "output_length_not_full",
        True,
    ),
    (
        "output_flood",
        "S",
        [add_cell("for _ in range(60):\n    print('x' * 1_000_000)", after="test_w_diff")],
        "full",
        True,
    ),
    # -- harm to others through the disk and processes ------------------------------------------
    (
        "writes_gradebook",
        "S",
        [
            add_cell(
                "import sqlite3\n"
                "con = sqlite3.connect('{course}/gradebook.db')\n"
                "con.execute('update grade set auto_score = 0')\ncon.commit()\n"
            )
        ],
        "full",
        True,
    ),
    (
        "appends_course_config",
        "S",
        [add_cell("open('{course}/nbgrader_config.py', 'a').write('\\n# {probe}\\n')")],
        "full",
        True,
    ),
    (
        "home_config_and_startup",
        "S",
        [
            add_cell(
                "import os\n"
                "for folder, name in [('~/.jupyter', 'nbgrader_config.py'),\n"
                "                     ('~/.ipython/profile_default/startup', '00-{probe}.py')]:\n"
                "    folder = os.path.expanduser(folder)\n"
                "    os.makedirs(folder, exist_ok=True)\n"
                "    open(os.path.join(folder, name), 'a').write('# {probe}\\n')\n"
            )
        ],
        "full",
        True,
    ),
    (
        "plants_code_in_library",
        "S",
        [
            add_cell(
                "import os\n"
                "for path in ['{pkg}/grading/{probe}.py', '{pkg}/grading/__pycache__/{probe}.cpython-311.pyc',\n"
                "             '{site}/{probe}.pth', '{pkg}/{probe}.py']:\n"
                "    try:\n"
                "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
                "        open(path, 'w').write('# {probe}\\n')\n"
                "    except OSError as exc:\n"
                "        print('refused:', exc)\n"
            )
        ],
        "full",
        True,
    ),
    (
        "overwrites_classmate",
        "S",
        [
            add_cell(
                "import os, shutil\n"
                "for root in ('submitted', 'autograded'):\n"
                "    folder = '{course}/' + root + '/zz_victim/01_convolution_1d'\n"
                "    try:\n"
                "        os.makedirs(folder, exist_ok=True)\n"
                "        open(folder + '/01_convolution_1d.ipynb', 'w').write('{}')\n"
                "    except OSError as exc:\n"
                "        print('refused:', exc)\n"
            )
        ],
        "full",
        True,
    ),
    (
        "daemon_outlives_kernel",
        "S",
        [
            add_cell(
                "import os, subprocess\n"
                "subprocess.Popen(['sleep', '{sleep}'], start_new_session=True)\n"
                "if os.fork() == 0:\n"
                "    os.setsid()\n"
                "    if os.fork() == 0:\n"
                "        os.execvp('sleep', ['sleep', '{sleep}'])\n"
                "    os._exit(0)\n"
            )
        ],
        "full",
        True,
    ),
    (
        "kills_its_parent",
        "S",
        [add_cell("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", after="test_w_diff")],
        "full",
        True,
    ),
    (
        "fork_bomb_bounded",
        "S",
        [
            add_cell(
                "import os, time\nchildren = 0\n"
                "for _ in range(1500):\n"
                "    try:\n"
                "        pid = os.fork()\n"
                "    except OSError:\n"
                "        break\n"
                "    if pid == 0:\n"
                "        time.sleep(20)\n"
                "        os._exit(0)\n"
                "    children += 1\n"
                "print('children', children)\n",
                after="test_w_diff",
            )
        ],
        "full",
        True,
    ),
    (
        "fills_the_disk",
        "S",
        [
            add_cell(
                "import os\nchunk = b'0' * (64 * 1024 ** 2)\nwritten = 0\n"
                "try:\n"
                "    with open('/tmp/{probe}.bin', 'wb') as f:\n"
                "        for _ in range(16):\n"
                "            f.write(chunk)\n"
                "            written += len(chunk)\n"
                "except OSError as exc:\n"
                "    print('stopped after', written, exc)\n"
            )
        ],
        "full",
        True,
    ),
    ("memory_hog", "S", [add_cell("hog = bytearray(12 * 1024 ** 3)\n")], "full", True),
    (
        "network_exfiltration",
        "S",
        [add_cell("import socket\ns = socket.create_connection(('pypi.org', 443), timeout=3)\n")],
        "full",
        True,
    ),
    (
        "infinite_loop_in_answer",
        "S",
        [answer("ex_output_length", "def output_length(n, k, mode):\n    while True:\n        pass\n")],
        "output_length_lost",
        True,
    ),
    (
        "loop_that_swallows_interrupts",
        "S",
        [
            answer(
                "ex_output_length",
                "def output_length(n, k, mode):\n    while True:\n"
                "        try:\n            while True:\n                pass\n"
                "        except KeyboardInterrupt:\n            pass\n",
            )
        ],
        "output_length_and_later_lost",
        True,
    ),
    (
        "crashes_the_kernel_in_its_answer",
        "S",
        [
            answer(
                "ex_output_length",
                "def output_length(n, k, mode):\n"
                "    far = np.lib.stride_tricks.as_strided(\n"
                "        np.zeros(1), shape=(2 ** 40,), strides=(2 ** 22,))\n"
                "    return int(far.sum())\n",
            )
        ],
        "output_length_and_later_lost",
        True,
    ),
]

HONEST_LAST = ["zz_victim", "zz_honest"]  # graded after every attacker (nbgrader sorts by name)


def _tree_digest(folder, pattern="*"):
    """Names, sizes and contents of every file under ``folder`` (no __pycache__)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob(pattern)):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _site_listing():
    """Names and sizes of the venv's site-packages entries and .pth files (cheap; catches planting)."""
    entries = sorted((p.name, p.stat().st_size if p.is_file() else -1) for p in SITE.iterdir())
    return entries


def _probe_files():
    found = []
    for root, pattern in [
        (PKG, f"**/*{PROBE}*"),
        (SITE, f"*{PROBE}*"),
        (Path("/tmp"), f"*{PROBE}*"),
        (Path.home() / ".jupyter", f"*{PROBE}*"),
        (Path.home() / ".ipython", f"**/*{PROBE}*"),
    ]:
        if root.exists():
            found += [str(p) for p in root.glob(pattern)]
    return found


def _leftover_processes():
    out = subprocess.run(["pgrep", "-f", f"sleep {SLEEP_MARK}"], capture_output=True, text=True).stdout
    return out.split()


def _run_matrix(tmp_path_factory, audit):
    course = make_course(tmp_path_factory.mktemp("hostile"), [ASSIGNMENT])
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("\nc.Execute.timeout = 60\nc.TrustedExecute.probe_timeout = 15\n")
        if not audit:
            f.write("c.TrustedExecute.audit_cells = False\n")
    paths = {"course": course}
    solution = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    release = nbformat.read(release_notebook(course, ASSIGNMENT), as_version=4)
    cases = [c for c in CASES if audit or c[4]]
    for name, base, edits, _, _ in cases:
        submit(course, f"a_{name}", ASSIGNMENT, build(solution if base == "S" else release, edits, paths))
    for name in HONEST_LAST:
        submit(course, name, ASSIGNMENT, solution)
    # a submission whose notebook is a symbolic link to a classmate's (nbgrader would follow it)
    linked = course / "submitted" / "a_symlinked_notebook" / ASSIGNMENT
    linked.mkdir(parents=True)
    (linked / f"{ASSIGNMENT}.ipynb").symlink_to(course / "submitted" / "zz_honest" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (linked / "timestamp.txt").write_text("2026-11-21 12:00:00.000000 UTC")
    before = {
        "config": (course / "nbgrader_config.py").read_bytes(),
        "solutions": _tree_digest(course / "solutions"),
        "pkg": _tree_digest(PKG, "*.py"),
        "site": _site_listing(),
        "probes": _probe_files(),
    }
    started = time.monotonic()
    result = autograde(course, ASSIGNMENT, check=False)
    elapsed = time.monotonic() - started
    time.sleep(1.0)
    after = {
        "config": (course / "nbgrader_config.py").read_bytes(),
        "solutions": _tree_digest(course / "solutions"),
        "pkg": _tree_digest(PKG, "*.py"),
        "site": _site_listing(),
        "probes": _probe_files(),
    }
    return {
        "course": course,
        "cases": cases,
        "scores": scores(course, ASSIGNMENT),
        "log": result.stderr,
        "before": before,
        "after": after,
        "leftovers": _leftover_processes(),
        "seconds": elapsed,
    }


def _intended(kind, cells):
    """Expected total for a case from the per-cell maxima ``cells`` ({grade_id: (score, max)})."""
    full = sum(m for _, m in cells.values())
    if kind == "full":
        return full
    if kind == "correlate_and_convolve_lost":
        return full - cells["test_correlate1d"][1] - cells["test_convolve1d"][1]
    if kind == "convolve_lost":
        return full - cells["test_convolve1d"][1]
    if kind == "output_length_not_full":  # wrong answer: 0 or a partial score, never the full 2
        got, most = cells["test_output_length"]
        return full - most + got if got < most else -1
    if kind == "output_length_lost":
        return full - cells["test_output_length"][1]
    if kind == "output_length_and_later_lost":
        return full - cells["test_output_length"][1] - cells["test_w_diff"][1]
    return kind


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    return _run_matrix(tmp_path_factory, audit=True)


@pytest.fixture(scope="module")
def unaudited(tmp_path_factory):
    return _run_matrix(tmp_path_factory, audit=False)


@pytest.fixture(params=["audit on", "audit off"])
def matrix(request):
    return request.getfixturevalue("audited" if request.param == "audit on" else "unaudited")


def test_every_case_gets_its_intended_score(matrix):
    wrong = []
    for name, _, _, intended, _ in matrix["cases"]:
        student = f"a_{name}"
        assert student in matrix["scores"], f"{student} was not graded at all:\n{matrix['log'][-3000:]}"
        score, _, cells = matrix["scores"][student]
        want = _intended(intended, cells)
        if abs(score - want) > 1e-9:
            wrong.append(f"{name}: {score} (intended {want}) {cells}")
    assert not wrong, "\n".join(wrong)


def test_a_notebook_linked_to_a_classmates_gets_nothing(matrix):
    score, _, cells = matrix["scores"]["a_symlinked_notebook"]
    assert score == 0, cells


def test_honest_students_graded_after_the_attackers_keep_full_marks(matrix):
    for student in HONEST_LAST:
        score, max_score, cells = matrix["scores"][student]
        assert score == max_score, f"{student}: {score}/{max_score} {cells}"


def test_course_library_and_venv_are_unchanged(matrix):
    before, after = matrix["before"], matrix["after"]
    assert after["config"] == before["config"], "nbgrader_config.py changed"
    assert after["solutions"] == before["solutions"], "solutions/ changed"
    assert after["pkg"] == before["pkg"], "the cnnlab package changed"
    assert after["site"] == before["site"], "site-packages changed"
    assert after["probes"] == before["probes"] == [], f"planted files: {after['probes']}"


def test_no_process_outlives_grading(matrix):
    assert matrix["leftovers"] == [], f"still running after grading: {matrix['leftovers']}"


def test_the_audit_report_names_the_techniques(audited):
    from cnnlab.course import audit

    lines = []
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        audit.main([str(audited["course"] / "submitted"), "--course", str(audited["course"])])
    lines = buffer.getvalue()
    for name, family in [
        ("walks_the_stack_for_expected", "stack frames"),
        ("profile_hook_off", "profile/trace hooks"),
        ("custom_exc_swallows_failures", "IPython hooks"),
        ("daemon_outlives_kernel", "subprocess"),
        ("reads_solutions", "file access"),
        ("getattr_string_trick", "dynamic code"),
    ]:
        assert any(f"a_{name}/" in line and family in line for line in lines.splitlines()), (name, lines)
    assert "zz_honest" not in lines and "a_honest_loops" not in lines
