"""The grading checks: pass the reference, fail every mutant, name the mistake, score in proportion."""

import glob
import json

import numpy as np
import pytest
import torch.nn as tnn
from mutants import MUTANTS, UNUSUAL

from cnnlab import functional as F
from cnnlab import grading, nn
from cnnlab.grading import alexnet as A
from cnnlab.grading.engine import CheckFailure, SourceFunction
from cnnlab.grading.exercises import reference_conv2d_single, reference_zero_pad
from cnnlab.grading.mnist import reference_confusion_counts
from cnnlab.grading.nb03_multichannel import reference_count_conv_params

REFERENCES = {
    "correlate1d": F.correlate1d,
    "convolve1d": F.convolve1d,
    "output_length": lambda n, k, mode: {"valid": n - k + 1, "same": n, "full": n + k - 1}[mode],
    "w_diff": np.array([-1.0, 1.0]),
    "zero_pad": reference_zero_pad,
    "correlate2d": F.correlate2d,
    "conv_output_size": F.conv_output_size,
    "conv2d_single": reference_conv2d_single,
    "same_padding": lambda kernel_size: (kernel_size - 1) // 2,
    "left_difference": np.array([[-1.0, 1.0]]),
    "conv2d": F.conv2d,
    "count_conv_params": reference_count_conv_params,
    "max_pool2d": lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride),
    "avg_pool2d": lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride),
    "max_pool2d_backward": lambda dout, x, kernel_size, stride=None: F.max_pool2d_backward(dout, x, kernel_size, stride),
    "conv2d_backward": lambda dout, x, weight, stride=1, padding=0: F.conv2d_backward(dout, x, weight, stride, padding),
    "numerical_gradient": None,
}


def central_difference(f, x, eps=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


REFERENCES["numerical_gradient"] = central_difference
REFERENCES["gradient_check"] = (REFERENCES["conv2d_backward"], central_difference)
REFERENCES["conv_params"] = A.reference_conv_params
REFERENCES["linear_params"] = A.reference_linear_params
REFERENCES["conv_macs"] = A.reference_conv_macs
REFERENCES["confusion_counts"] = reference_confusion_counts


def build_numpy_cnn(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, seed=seed, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, seed=seed + 1, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, seed=seed + 2, dtype=np.float32))


def build_torch_cnn():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))


REFERENCES["build_numpy_cnn"] = build_numpy_cnn
REFERENCES["build_torch_cnn"] = build_torch_cnn


def test_every_exercise_has_a_reference_and_mutants():
    assert set(REFERENCES) == set(grading.CHECKS)
    assert len(MUTANTS) >= 60
    assert {exercise for exercise, _, _ in MUTANTS} == set(grading.CHECKS) - set(grading.ARGUMENTS)


@pytest.fixture
def allow_reference(monkeypatch):
    """Let the library's own reference answer the checks (the guard would stop it)."""
    from cnnlab.grading.guard import ReferenceGuard

    monkeypatch.setattr(ReferenceGuard, "_forbidden", lambda self, module, name: False)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes(name, hidden, allow_reference):
    answer = REFERENCES[name]
    args = answer if isinstance(answer, tuple) else (answer,)
    result = grading.CHECKS[name](*args, hidden=hidden)
    assert result.n_cases >= 1
    assert name in repr(result)


# ---- the solution notebooks' own answer cells: helpers for mutants (convolve1d calls correlate1d) ----

def _solution_cells():
    """{exercise: source} of every answer cell of notebooks 01-05 and 07."""
    cells = {}
    for path in sorted(glob.glob("solutions/0[1-57]_*/*.ipynb")):
        for cell in json.load(open(path))["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            if grade_id.startswith("ex_"):
                cells[grade_id[3:]] = "".join(cell["source"])
    return cells


SOLUTION_CELLS = _solution_cells()


def _load(source):
    namespace = {"np": np, "nn": nn, "tnn": tnn}   # the names the notebooks import
    for cell in SOLUTION_CELLS.values():
        exec(cell, namespace)
    exec(source, namespace)
    return namespace


def run_check(exercise, namespace, hidden=True):
    """Call the check as the notebook's graded cell does: the arguments and helpers by name."""
    needed = grading.ARGUMENTS.get(exercise, (exercise,))
    helpers = {h: namespace[h] for h in grading.HELPERS.get(exercise, ()) if h in namespace}
    return grading.CHECKS[exercise](*(namespace[n] for n in needed), hidden=hidden, **helpers)


def test_solution_cells_pass_every_check():
    namespace = _load("")
    for exercise in grading.CHECKS:
        if all(n in namespace for n in grading.ARGUMENTS.get(exercise, (exercise,))):
            for hidden in (False, True):
                run_check(exercise, namespace, hidden)


@pytest.mark.parametrize("exercise, diagnosis, source", MUTANTS,
                         ids=[f"{m[0]}-{m[1] or 'shape-only'}" for m in MUTANTS])
def test_mutant_fails_with_diagnosis(exercise, diagnosis, source):
    namespace = _load(source)
    with pytest.raises(AssertionError) as failure:
        run_check(exercise, namespace)
    message = str(failure.value)
    assert getattr(failure.value, "fraction", 0.0) < 1
    if diagnosis:
        assert diagnosis in message, message
    else:   # a wrong answer that matches no known mistake: none is named
        assert "Likely mistake" not in message, message


@pytest.mark.parametrize("exercise, source", UNUSUAL, ids=[u[0] for u in UNUSUAL])
def test_unusual_correct_answers_keep_full_marks(exercise, source):
    namespace = _load(source)
    for hidden in (False, True):
        run_check(exercise, namespace, hidden)


def test_feedback_shows_input_the_wrong_value_and_the_mistake():
    wrong = _load(MUTANTS[0][2])["correlate1d"]   # a loop that flips the kernel

    with pytest.raises(AssertionError) as failure:
        grading.check_correlate1d(wrong)
    message = str(failure.value)
    assert "Called correlate1d with:" in message
    assert "Received:" in message and "expected" in message
    assert "Likely mistake: flipped kernel" in message


def test_failure_reveals_only_the_one_wrong_expected_value(allow_reference):
    def off_by_one_value(x, w, mode="valid"):
        out = F.correlate1d(x, w, mode)
        out[-1] += 1
        return out

    with pytest.raises(AssertionError) as failure:
        grading.check_correlate1d(off_by_one_value, hidden=True)
    message = str(failure.value)
    assert message.count("expected") == 1 and "Expected:" not in message


def test_partial_credit_is_the_share_of_parts_right(allow_reference):
    def no_stride_pairs(x, weight, bias=None, stride=1, padding=0, dilation=1):
        s = stride if np.isscalar(stride) else stride[0]
        return F.conv2d(x, weight, bias, s, padding, dilation)

    with pytest.raises(CheckFailure) as failure:
        grading.check_conv2d(no_stride_pairs, hidden=True)
    assert failure.value.fraction == pytest.approx(4 / 5)
    assert "4 of 5 parts right" in str(failure.value)
    with pytest.raises(CheckFailure) as blank:
        grading.check_conv2d(lambda x, weight, bias=None, stride=1, padding=0, dilation=1: np.zeros(1))
    assert blank.value.fraction == 0


def test_a_wrong_helper_is_named_instead_of_a_mistake(allow_reference):
    def correlate1d_flipped(x, w, mode="valid"):
        return F.convolve1d(x, w, mode)

    def convolve1d(x, w, mode="valid"):       # right, given a right correlate1d
        if len(w) > len(x):
            return convolve1d(w, x, mode)
        return correlate1d_flipped(x, np.asarray(w, float)[::-1], mode)

    with pytest.raises(AssertionError) as failure:
        grading.check_convolve1d(convolve1d, correlate1d=correlate1d_flipped)
    message = str(failure.value)
    assert "your helper `correlate1d` is wrong" in message
    assert "flipped kernel" not in message


def test_conv2d_single_names_a_rounding_conv_output_size():
    namespace = _load("def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                      "    return round((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1\n")
    with pytest.raises(AssertionError) as failure:
        run_check("conv2d_single", namespace)
    assert "your helper `conv_output_size` is wrong" in str(failure.value)


def test_source_functions_are_callable_and_rebuildable():
    G = np.arange(6.0).reshape(2, 3)
    f = SourceFunction("lambda x: np.sum(G * x)", G=G)
    G[...] = 0                        # the function keeps its own copy
    assert f(np.ones((2, 3))) == 15.0
    again = SourceFunction(f.source, **f.bound)
    assert again(np.ones((2, 3))) == 15.0


def test_tracebacks_hide_grader_frames():
    def correlate1d(x, w, mode="valid"):
        return np.zeros(len(x)) + 1

    with pytest.raises(CheckFailure) as failure:
        grading.check_correlate1d(correlate1d)
    rendered = "\n".join(failure.value._render_traceback_())
    assert "cnnlab/grading" not in rendered and "engine.py" not in rendered
    assert "correlate1d(...) is wrong" in rendered


def test_visible_pass_lists_what_grading_still_checks(allow_reference):
    text = repr(grading.check_max_pool2d(REFERENCES["max_pool2d"]))
    assert "Still checked at grading" in text and "negative values" in text
    assert "Well done" not in text


def test_every_grade_cell_only_calls_checks():
    """Contract item 1: graded cells hold only grading.check_<name>(Name/constant, ...) calls."""
    import ast

    for path in sorted(glob.glob("solutions/*/*.ipynb")):
        for cell in json.load(open(path))["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not (meta.get("grade") and cell["cell_type"] == "code"):
                continue
            tree = ast.parse("".join(cell["source"]))
            for statement in tree.body:
                call = statement.value if isinstance(statement, ast.Expr) else None
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
                    call = call.args[0] if len(call.args) == 1 else None
                where = f"{path} {meta.get('grade_id')}"
                assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute), where
                assert isinstance(call.func.value, ast.Name) and call.func.value.id == "grading", where
                assert call.func.attr.startswith("check_"), where
                for value in list(call.args) + [k.value for k in call.keywords]:
                    assert isinstance(value, (ast.Name, ast.Constant)), where


def test_not_implemented_is_explained():
    def todo(x, w, mode="valid"):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        grading.check_correlate1d(todo)


def test_missing_return_is_explained():
    def forgot(x, w, mode="valid"):
        out = np.zeros(len(x))  # computed, but never returned

    with pytest.raises(AssertionError, match="forget the `return`"):
        grading.check_correlate1d(forgot)


def test_changing_the_input_in_place_is_reported(allow_reference):
    def in_place(x, kernel_size, stride=None):
        out = F.max_pool2d(x, kernel_size, stride)
        x[...] = 0
        return out

    with pytest.raises(AssertionError, match="changed its input `x` in place"):
        grading.check_max_pool2d(in_place)


def test_ndarray_subclass_that_fakes_equality_is_rejected():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return True

    def cheat(x, w, mode="valid"):
        return np.zeros(3).view(AlwaysEqual)

    with pytest.raises(AssertionError, match="must return a numpy array"):
        grading.check_correlate1d(cheat)


def test_patched_allclose_does_not_fool_the_check(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)

    def wrong(x, w, mode="valid"):
        return np.zeros(len(np.correlate(x, w, mode)))

    with pytest.raises(AssertionError):
        grading.check_correlate1d(wrong)


def test_self_check_prints_pass_and_fail(capsys, allow_reference):
    namespace = {"correlate1d": F.correlate1d, "convolve1d": F.correlate1d}
    assert grading.check("correlate1d", namespace) is True
    assert grading.check("convolve1d", namespace) is False
    out = capsys.readouterr().out
    assert "✓ correlate1d" in out
    assert "✗ convolve1d" in out and "flipped kernel" in out
    assert grading.check("zero_pad", namespace) is False
    assert "`zero_pad` is not defined yet" in capsys.readouterr().out


def test_self_check_finds_the_callers_function(capsys, allow_reference):
    globals()["correlate1d"] = F.correlate1d
    try:
        assert grading.check("correlate1d") is True
    finally:
        del globals()["correlate1d"]


def test_unknown_exercise_is_an_error():
    with pytest.raises(ValueError, match="unknown exercise"):
        grading.check("conv3d", {})


@pytest.mark.parametrize("call", [
    "F.conv2d(x, weight, bias, stride, padding, dilation)",
    "torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias), stride, padding, dilation).numpy()",
    "torch.conv2d(torch.tensor(x), torch.tensor(weight), torch.tensor(bias), stride, padding, dilation).numpy()",
])
def test_calling_a_reference_implementation_fails(call):
    import torch

    namespace = {"np": np, "F": F, "torch": torch}
    exec("def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
         "    bias = np.zeros(weight.shape[0]) if bias is None else bias\n"
         f"    return {call}\n", namespace)
    with pytest.raises(AssertionError, match="ready-made implementation"):
        grading.check_conv2d(namespace["conv2d"])


def test_scipy_signal_is_a_reference_too():
    import scipy.signal

    def correlate2d(image, kernel, mode="valid"):
        return scipy.signal.correlate2d(image, kernel, mode)

    with pytest.raises(AssertionError, match="scipy.signal"):
        grading.check_correlate2d(correlate2d)


def test_the_guard_is_removed_after_the_call():
    import sys

    before = sys.getprofile()

    def correlate1d(x, w, mode="valid"):
        return np.correlate(x, w, mode)

    with pytest.raises(AssertionError, match="numpy.correlate"):
        grading.check_correlate1d(correlate1d)
    assert sys.getprofile() is before


def test_hidden_values_change_between_runs_but_visible_ones_do_not(allow_reference):
    seen = []

    def spy(x, kernel_size, stride=None):
        seen.append(x.copy())
        return F.max_pool2d(x, kernel_size, stride)

    n_visible = grading.check_max_pool2d(spy).n_cases
    seen.clear()
    grading.check_max_pool2d(spy, hidden=True)
    first = list(seen)
    seen.clear()
    grading.check_max_pool2d(spy, hidden=True)
    assert len(first) == len(seen)
    assert all(np.array_equal(a, b) for a, b in zip(first[:n_visible], seen[:n_visible]))
    assert any(not np.array_equal(a, b) for a, b in zip(first[n_visible:], seen[n_visible:]))
    assert [a.shape for a in first] == [b.shape for b in seen]


def test_shape_hint_only_for_the_formulas_off_by_one():
    """Channels last or a swapped kernel pair give shapes within 1 of the right one: no size hint."""
    for exercise, diagnosis, source in MUTANTS:
        if diagnosis in ("channels last", "kernel pair order swapped", "np.pad(x, (ph, pw))"):
            with pytest.raises(AssertionError) as failure:
                run_check(exercise, _load(source))
            assert "off-by-one" not in str(failure.value), str(failure.value)


def test_conv2d_single_names_a_one_sided_zero_pad():
    namespace = _load("def zero_pad(x, padding):\n"
                      "    ph, pw = (padding, padding) if np.isscalar(padding) else padding\n"
                      "    return np.pad(np.asarray(x, float), ((0, 2 * ph), (0, 2 * pw)))\n")
    with pytest.raises(AssertionError) as failure:
        run_check("conv2d_single", namespace)
    assert "your helper `zero_pad` is wrong" in str(failure.value)


def test_gradient_check_names_the_wrong_one_of_the_two(allow_reference):
    def lazy_numerical_gradient(f, x, eps=1e-5):
        return np.zeros(np.shape(x))

    with pytest.raises(CheckFailure) as failure:
        grading.check_gradient_check(REFERENCES["conv2d_backward"], lazy_numerical_gradient)
    message = str(failure.value)
    assert "your numerical_gradient is wrong" in message and "conv2d_backward's" not in message


@pytest.mark.parametrize(
    "broken, expected",
    [
        (lambda g: np.full(np.shape(g), np.nan), "relative error nan"),
        (lambda g: np.asarray(g) > 0, "must be an array of numbers"),
    ],
    ids=["nan", "bool"],
)
def test_gradient_check_fails_a_nan_or_boolean_gradient_with_feedback(allow_reference, broken, expected):
    def numerical_gradient(f, x, eps=1e-5):
        return broken(central_difference(f, x, eps))

    with pytest.raises(CheckFailure) as failure:
        grading.check_gradient_check(REFERENCES["conv2d_backward"], numerical_gradient)
    assert expected in str(failure.value)


# ---- mistakes a class of students made (the second student review): diagnosis and partial credit ----

_BACKWARD = '''
def conv2d_backward(dout, x, weight, stride=1, padding=0):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))).astype(float)
    kh, kw = weight.shape[2:]
    dxp, dw = np.zeros_like(xp), np.zeros(weight.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * s[0], i * s[0] + kh), slice(j * s[1], j * s[1] + kw)
            dw += np.einsum("no,nikl->oikl", dout[:, :, i, j], xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("no,oikl->nikl", dout[:, :, i, j], weight)
    dx = dxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]
    return {result}
'''

_CONV2D = '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = [(v, v) if np.isscalar(v) else tuple(v) for v in (stride, padding, dilation)]
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c_out, ho, wo), dtype={dtype})
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3])){bias}
    return out
'''

STUDENT_MISTAKES = [
    # (exercise, source, words the feedback must contain, share of the points, words it must not contain)
    ("conv2d", _CONV2D.format(dtype="x.dtype", bias=" + (0 if bias is None else bias)"),
     "integer truncation", None, None),
    ("conv2d", _CONV2D.format(dtype="float", bias=""), "forgot the bias", 0.5, None),
    ("conv2d_backward", _BACKWARD.format(result="dx, dw, dout.mean(axis=(0, 2, 3))"), "dbias averaged", 0.8, None),
    ("conv2d_backward", _BACKWARD.format(result="dw, dx, dout.sum(axis=(0, 2, 3))"), "wrong order", None, None),
    ("conv2d_backward", _BACKWARD.format(result="dx, dw / len(x), dout.sum(axis=(0, 2, 3))"),
     "divided by the batch size", 0.6, None),
    # a student who wants points without work: zeros for dx and dweight, the one-line dbias
    ("conv2d_backward", _BACKWARD.format(result="np.zeros(x.shape), np.zeros(weight.shape), dout.sum(axis=(0, 2, 3))"),
     "dx is wrong", 0, None),
    ("zero_pad", "def zero_pad(image, pad):\n    return np.pad(image, pad)\n", "parameters were renamed", 0, None),
    # right values, wrong type: say so, and name no mistake the student did not make
    ("zero_pad", "def zero_pad(x, padding):\n    p = (padding, padding) if np.isscalar(padding) else padding\n"
                 "    return np.pad(x, ((p[0], p[0]), (p[1], p[1]))).astype(np.uint8)\n",
     "dtype uint8", None, "Likely mistake"),
    ("conv_output_size", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                         "    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1.0\n",
     "must return an int", None, "Likely mistake"),
    ("zero_pad", "def zero_pad(x, padding):\n    p = padding if np.isscalar(padding) else padding[0]\n"
                 "    return np.pad(np.asarray(x, float), p)\n", "only the first number of the pair", None, None),
    ("correlate1d", "def correlate1d(x, w, mode='valid'):\n"
                    "    x, w = np.asarray(x, float), np.asarray(w, float)\n"
                    "    if len(w) > len(x):\n        x, w = w, x\n"
                    "    p = {'valid': (0, 0), 'full': (len(w) - 1,) * 2, 'same': (len(w) // 2, (len(w) - 1) // 2)}[mode]\n"
                    "    x = np.pad(x, p)\n"
                    "    return np.array([np.sum(x[i:i + len(w)] * w) for i in range(len(x) - len(w) + 1)])\n",
     "swapped but not reversed", None, None),
    ("max_pool2d_backward", "def max_pool2d_backward(dout, x, kernel_size, stride=None):\n"
                            "    kh, kw = (kernel_size,) * 2 if np.isscalar(kernel_size) else kernel_size\n"
                            "    sh, sw = (kh, kw) if stride is None else ((stride,) * 2 if np.isscalar(stride) else stride)\n"
                            "    dx = np.zeros(x.shape)\n"
                            "    for i in range(dout.shape[2]):\n"
                            "        for j in range(dout.shape[3]):\n"
                            "            win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]\n"
                            "            top = win == win.max(axis=(2, 3), keepdims=True)\n"
                            "            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += top * dout[:, :, i:i + 1, j:j + 1] "
                            "/ top.sum(axis=(2, 3), keepdims=True)\n"
                            "    return dx\n", "gradient shared among tied maxima", 0.75, None),
    # a mistake that would have spoiled a part the answer got right is not named
    ("conv_output_size", "def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
                         "    return (size + 2 * padding - dilation * kernel_size) // stride + 1\n",
     "Expected", None, "forgot the +1"),
    # correlate1d and convolve1d mixed up: convolve1d never calls the wrong correlate1d, so it is not blamed
    ("convolve1d", "def correlate1d(x, w, mode='valid'):\n    return convolve1d(x, np.asarray(w)[::-1], mode)\n"
                   "def convolve1d(x, w, mode='valid'):\n"
                   "    x, w = np.asarray(x, float), np.asarray(w, float)\n"
                   "    if len(w) > len(x):\n        x, w = w, x\n"
                   "    p = {'valid': (0, 0), 'full': (len(w) - 1,) * 2, 'same': ((len(w) - 1) // 2, len(w) // 2)}[mode]\n"
                   "    x = np.pad(x, p)\n"
                   "    return np.array([np.sum(x[i:i + len(w)] * w) for i in range(len(x) - len(w) + 1)])\n",
     "flipped kernel", None, "your helper"),
    ("correlate1d", "def correlate1d(x, w, mode='valid'):\n"
                    "    x, w = np.asarray(x, float), np.asarray(w, float)\n"
                    "    if len(w) > len(x):\n        x, w = w, x\n"
                    "    p = {'valid': (0, 0), 'full': (len(w) - 1,) * 2, 'same': ((len(w) - 1) // 2, len(w) // 2)}[mode]\n"
                    "    x = np.pad(x, p)\n"
                    "    return [float(np.sum(x[i:i + len(w)] * w)) for i in range(len(x) - len(w) + 1)]\n",
     "numpy array", None, "flipped kernel"),
]


@pytest.mark.parametrize("exercise, source, diagnosis, share, absent", STUDENT_MISTAKES,
                         ids=[f"{m[0]}-{m[2]}" for m in STUDENT_MISTAKES])
def test_students_mistakes_are_named_and_scored(exercise, source, diagnosis, share, absent):
    namespace = _load(source)
    with pytest.raises(AssertionError) as failure:
        run_check(exercise, namespace, hidden=True)
    message = str(failure.value)
    assert diagnosis in message, message
    if share is not None:
        assert failure.value.fraction == pytest.approx(share), message
    if absent is not None:
        assert absent not in message, message
