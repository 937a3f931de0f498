"""The grading checks: pass the reference, fail every mutant, name the mistake."""

import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab import grading
from cnnlab.grading import alexnet as A
from cnnlab.grading.mnist import reference_confusion_counts
from cnnlab import nn
import torch.nn as tnn
from cnnlab.grading.exercises import reference_conv2d_single, reference_zero_pad
from mutants import MUTANTS

REFERENCES = {
    "correlate1d": F.correlate1d,
    "convolve1d": F.convolve1d,
    "zero_pad": reference_zero_pad,
    "correlate2d": F.correlate2d,
    "conv_output_size": F.conv_output_size,
    "conv2d_single": reference_conv2d_single,
    "conv2d": F.conv2d,
    "max_pool2d": lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride),
    "avg_pool2d": lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride),
    "max_pool2d_backward": lambda dout, x, kernel_size, stride=None: F.max_pool2d_backward(dout, x, kernel_size, stride),
    "conv2d_backward": lambda dout, x, weight, stride=1, padding=0: F.conv2d_backward(dout, x, weight, stride, padding),
    "numerical_gradient": None,
}


def central_difference(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


REFERENCES["numerical_gradient"] = central_difference
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
    assert len(MUTANTS) >= 20
    assert {exercise for exercise, _, _ in MUTANTS} == set(grading.CHECKS)


@pytest.fixture
def allow_reference(monkeypatch):
    """Let the library's own reference answer the checks (the guard would stop it)."""
    from cnnlab.grading.guard import ReferenceGuard

    monkeypatch.setattr(ReferenceGuard, "_forbidden", lambda self, module, name: False)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes(name, hidden, allow_reference):
    result = grading.CHECKS[name](REFERENCES[name], hidden=hidden)
    assert result.n_cases >= 2
    assert name in repr(result)


def _load(source):
    namespace = {"np": np, "nn": nn, "tnn": tnn}   # the names the notebooks import
    exec(source, namespace)
    return namespace


@pytest.mark.parametrize("exercise, diagnosis, source", MUTANTS,
                         ids=[f"{m[0]}-{m[1] or 'shape-only'}" for m in MUTANTS])
def test_mutant_fails_with_diagnosis(exercise, diagnosis, source):
    fn = _load(source)[exercise]
    with pytest.raises(AssertionError) as failure:
        grading.CHECKS[exercise](fn, hidden=True)
    message = str(failure.value)
    if diagnosis:
        assert diagnosis in message, message
    else:   # only shape-correct: no mistake to name, but the values must be shown
        assert "Expected" in message and "Received" in message, message


def test_feedback_shows_input_expected_and_received():
    wrong = _load(MUTANTS[0][2])["correlate1d"]   # a loop that flips the kernel

    with pytest.raises(AssertionError) as failure:
        grading.check_correlate1d(wrong)
    message = str(failure.value)
    assert "Called correlate1d with:" in message
    assert "Expected:" in message and "Received:" in message
    assert "Likely mistake: flipped kernel" in message


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

    with pytest.raises(AssertionError, match="subclass"):
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
    assert "no function called `zero_pad`" in capsys.readouterr().out


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
    import torch  # noqa: F401

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
