"""Compare a student's answer with the reference and explain the difference.

Every check in :mod:`cnnlab.grading` ends in :func:`assert_matches`. When the
answer is wrong it raises an ``AssertionError`` whose message shows

* what was called (the inputs, small arrays printed in full),
* what was expected and what came back (or the first differing index and a
  small diff for large arrays), and
* the likely mistake, when the wrong answer equals the output of a known
  mistake (a "suspect") such as a flipped kernel or a forgotten bias.

The primitives used here are copied when this module is imported, i.e. before
any student code runs, so an answer cell that monkeypatches ``np.allclose``
or ``np.testing`` cannot change a comparison.
"""

import numpy as np

# Pristine copies of everything a comparison needs, taken at import time.
_ndarray = np.ndarray
_asarray = np.asarray
_array = np.array
_abs = np.abs
_isfinite = np.isfinite
_isnan = np.isnan
_argmax = np.argmax
_unravel_index = np.unravel_index
_float64 = np.float64
_array2string = np.array2string
_issubdtype = np.issubdtype
_number = np.number
_bool = np.bool_
_max = np.max

RTOL = 1e-6
ATOL = 1e-8


class Suspect:
    """A known mistake: a name, an explanation, and the output it produces."""

    def __init__(self, name, hint, output):
        self.name = name
        self.hint = hint
        self.output = output


def describe(value, limit=64):
    """A short printable description of an argument or a result."""
    if isinstance(value, _ndarray):
        if value.size <= limit:
            body = _array2string(value, precision=4, suppress_small=True, max_line_width=100)
            return f"array of shape {value.shape}:\n{_indent(body)}"
        return f"array of shape {value.shape}, dtype {value.dtype}"
    return repr(value)


def describe_call(name, args):
    """``name(arg=..., ...)`` written out for the feedback message."""
    lines = [f"Called {name} with:"]
    for key, value in args.items():
        lines.append(f"  {key} = {_indent(describe(value), 4).lstrip()}")
    return "\n".join(lines)


def _indent(text, n=4):
    pad = " " * n
    return "\n".join(pad + line for line in str(text).splitlines())


def as_answer(received, what):
    """Turn the student's return value into a plain float64 ndarray.

    Lists, tuples and numbers are accepted; ndarray *subclasses* and other
    objects are rejected, because they can override comparisons.
    """
    if received is None:
        raise AssertionError(
            f"{what} returned None. Did you forget the `return` statement?"
        )
    if isinstance(received, _ndarray) and type(received) is not _ndarray:
        raise AssertionError(
            f"{what} returned a {type(received).__name__}, a subclass of numpy.ndarray; "
            "return a plain numpy array."
        )
    if not isinstance(received, (_ndarray, list, tuple, int, float, _float64)):
        if not (hasattr(received, "dtype") and type(received).__module__ == "numpy"):
            raise AssertionError(
                f"{what} returned a {type(received).__name__}; it must return a numpy array."
            )
    try:
        arr = _array(received, dtype=_float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} returned something that is not an array of numbers: {exc}")
    if type(arr) is not _ndarray:
        raise AssertionError(f"{what} did not return a plain numpy array.")
    return arr


def _close(a, b, rtol, atol):
    """Elementwise closeness, NaN never close (pristine primitives only)."""
    diff = _abs(a - b)
    ok = diff <= atol + rtol * _abs(b)
    return ok & ~_isnan(a)


def _same(a, b, rtol, atol):
    return a.shape == b.shape and bool(_close(a, b, rtol, atol).all())


def _shape_hints(got, want, shape_hints):
    """Explain a shape mismatch: swapped axes, off-by-one, or a caller hint."""
    hints = []
    for hint_shape, hint in shape_hints:
        if tuple(hint_shape) == tuple(got):
            hints.append(hint)
    if not hints and len(got) == len(want):
        if len(got) >= 2 and tuple(got[:-2]) + (got[-1], got[-2]) == tuple(want) and got != want:
            hints.append("height and width are swapped (check which axis is rows and which is columns)")
        diffs = [g - w for g, w in zip(got, want)]
        if any(d != 0 for d in diffs) and all(abs(d) <= 1 for d in diffs):
            hints.append(
                "off-by-one output size: the output size is "
                "floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1"
            )
    if not hints and len(got) != len(want):
        hints.append(f"the result has {len(got)} dimensions but should have {len(want)}")
    return hints


def first_difference(got, want, rtol, atol):
    """Index of the first element that differs, in row-major order."""
    bad = ~_close(got, want, rtol, atol)
    flat = int(_argmax(bad.ravel()))
    return tuple(int(i) for i in _unravel_index(flat, got.shape))


def assert_matches(received, expected, call, what, suspects=(), shape_hints=(),
                   rtol=RTOL, atol=ATOL):
    """Raise an AssertionError explaining how ``received`` differs from ``expected``.

    ``call`` is the text from :func:`describe_call`; ``what`` names the result
    (e.g. ``"conv2d(...)"`` or ``"dweight"``). ``suspects`` is a list of
    :class:`Suspect`; ``shape_hints`` is a list of ``(wrong_shape, hint)``.
    """
    got = as_answer(received, what)
    want = _asarray(expected, dtype=_float64)
    if _same(got, want, rtol, atol):
        return
    lines = [f"{what} is wrong.", call]
    if got.shape != want.shape:
        lines.append(f"Expected shape {want.shape}, got shape {got.shape}.")
        if want.size <= 64:
            lines.append("Expected:\n" + _indent(describe(want).split(":\n", 1)[-1]))
        if got.size <= 64:
            lines.append("Received:\n" + _indent(describe(got).split(":\n", 1)[-1]))
        hints = _shape_hints(got.shape, want.shape, shape_hints)
    else:
        index = first_difference(got, want, rtol, atol)
        n_bad = int((~_close(got, want, rtol, atol)).sum())
        if want.size <= 64:
            lines.append("Expected:\n" + _indent(describe(want).split(":\n", 1)[-1]))
            lines.append("Received:\n" + _indent(describe(got).split(":\n", 1)[-1]))
        lines.append(
            f"{n_bad} of {want.size} values differ; the first is at index {index}: "
            f"expected {want[index]:.6g}, got {got[index]:.6g}."
        )
        if not _isfinite(got).all():
            lines.append("The result contains NaN or inf.")
        hints = []
    for suspect in suspects:
        out = _asarray(suspect.output, dtype=_float64)
        if _same(got, out, rtol, atol):
            hints.insert(0, f"{suspect.name}: {suspect.hint}")
    if hints:
        lines.append("Likely mistake: " + "; ".join(hints))
    raise AssertionError("\n".join(lines))
