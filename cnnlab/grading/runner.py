"""Call a student's function safely and compare it case by case."""

import numpy as np

from cnnlab.grading.feedback import as_answer, assert_matches, describe_call
from cnnlab.grading.guard import ReferenceGuard

_copy = np.array
_array_equal = np.array_equal
_ndarray = np.ndarray


class CheckResult:
    """What a passing check returns: the exercise and how many cases it ran."""

    def __init__(self, name, n_cases, hidden):
        self.name = name
        self.n_cases = n_cases
        self.hidden = hidden

    def __repr__(self):
        kind = "hidden" if self.hidden else "visible"
        return f"{self.name}: all {self.n_cases} {kind} test cases passed"

    def _ipython_display_(self):
        # Printed, not returned as the cell's value: nbgrader would try to read
        # a test cell's value as a partial-credit score.
        print(f"✓ {self!r}")


def copy_args(args):
    """Copies of the arguments, so the student cannot change our reference inputs."""
    return {k: (_copy(v) if isinstance(v, _ndarray) else v) for k, v in args.items()}


def call_student(fn, name, args, numpy_forbidden=(), guard=None,
                 advice="write it yourself with basic NumPy (zeros, slicing, sums, loops)"):
    """Call ``fn(**args)`` and turn any failure into a readable AssertionError.

    The call runs under a :class:`ReferenceGuard`: an answer that hands the
    work to ``cnnlab.functional``, PyTorch, SciPy's filters or one of the
    ``numpy_forbidden`` NumPy functions fails (``guard`` replaces the default
    guard; ``advice`` ends the message).
    """
    if not callable(fn):
        raise AssertionError(f"{name} must be a function, got {type(fn).__name__}")
    given = copy_args(args)
    guard = guard or ReferenceGuard(numpy_forbidden)
    try:
        with guard:
            out = fn(**given)
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
        ) from None
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"{name} raised {type(exc).__name__}: {exc}\n{describe_call(name, args)}"
        ) from exc
    if guard.violation:
        raise AssertionError(
            f"{name} calls {guard.violation}, a ready-made implementation. The exercise is to "
            f"{advice}."
        )
    for key, value in args.items():
        if isinstance(value, _ndarray) and not (
            given[key].shape == value.shape and _array_equal(given[key], value)
        ):
            raise AssertionError(
                f"{name} changed its input `{key}` in place. Work on a copy "
                f"(e.g. `{key} = {key}.copy()` or build a new array) instead.\n"
                + describe_call(name, args)
            )
    return out


def run_cases(name, fn, cases, reference, suspects=None, shape_hints=None,
              hidden=False, rtol=1e-6, atol=1e-8, numpy_forbidden=()):
    """Compare ``fn`` with ``reference`` on every case (a dict of keyword arguments).

    ``suspects(args, expected)`` returns the list of known mistakes for a case;
    it is only evaluated when the answer is wrong. ``shape_hints(args)``
    returns ``(wrong_shape, hint)`` pairs.
    """
    for args in cases:
        expected = reference(**copy_args(args))
        received = call_student(fn, name, args, numpy_forbidden)
        if received is None:
            as_answer(received, f"{name}(...)")
        try:
            assert_matches(
                received, expected, describe_call(name, args), f"{name}(...)",
                shape_hints=shape_hints(args) if shape_hints else (),
                rtol=rtol, atol=atol,
            )
        except AssertionError:
            found = suspects(args, expected) if suspects else ()
            assert_matches(
                received, expected, describe_call(name, args), f"{name}(...)",
                suspects=found, shape_hints=shape_hints(args) if shape_hints else (),
                rtol=rtol, atol=atol,
            )
    return CheckResult(name, len(cases), hidden)
