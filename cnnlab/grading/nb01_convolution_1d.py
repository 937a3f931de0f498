"""Checks for notebook 01: 1-D correlation and convolution.

Exercises: ``correlate1d`` and ``convolve1d`` (like ``np.correlate`` / ``np.convolve``
in the modes valid, same, full), ``output_length(n, k, mode)`` and the value
``w_diff``. The visible cases follow the text: the lecture's signal and box
filter, an even kernel in ``same`` mode, a kernel longer than the signal, and
an integer signal (the text says "return a float array"). Hidden cases add
negative values, uint8 signals and every length pair up to N = 8, K = N + 3.
"""

import numpy as np

from cnnlab import functional as F
from cnnlab.grading import mistakes as M
from cnnlab.grading.engine import (
    Case,
    CheckFailure,
    CheckResult,
    helper_blame,
    run_check,
    same_array,
    same_int,
    shape_is,
)
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.inputs import fresh_rng, small_ints, uint8_image

#: NumPy functions that would do the 1-D exercises for the student.
NUMPY_1D = ("correlate", "convolve")

LECTURE_SIGNAL = np.array([10.0, 50, 60, 10, 20, 40, 30])
LECTURE_BOX = np.full(3, 1 / 3)
MODES = ("valid", "same", "full")

STILL_CHECKED_1D = ("negative values", "uint8 and int signals (a float result)",
                    "every mode for lengths N = 1..8 with K up to N + 3 (N even with K > N too)")


def _cases_1d(hidden):
    """Cases for correlate1d and convolve1d, grouped by what the text teaches."""
    cases = [
        Case("modes", x=LECTURE_SIGNAL, w=LECTURE_BOX, mode="same"),
        Case("modes", x=LECTURE_SIGNAL, w=LECTURE_BOX, mode="valid"),
        Case("modes", x=np.array([0.0, 0, 1, 0, 0]), w=np.array([1.0, 2, 3]), mode="full"),
        Case("even kernel in same mode", x=np.array([1.0, 2, 3, 4, 5, 6]), w=np.array([1.0, -1]), mode="same"),
        Case("even kernel in same mode", x=np.array([3.0, 1, 4, 1, 5]), w=np.array([1.0, 2, 0, -1]),
             mode="same"),
        Case("kernel longer than signal", x=np.array([1.0, 2]), w=np.array([1.0, 2, 3]), mode="same"),
        Case("kernel longer than signal", x=np.array([1.0, 2]), w=np.array([1.0, 2, 3]), mode="valid"),
        Case("kernel longer than signal", x=np.array([2.0, -1, 3]), w=np.array([1.0, 0, 2, 1]), mode="full"),
        Case("integer signal", x=LECTURE_SIGNAL.astype(np.int64), w=LECTURE_BOX, mode="same"),
    ]
    if hidden:
        rng = fresh_rng()
        for n in (1, 2, 4, 5, 8):
            for k in sorted({1, 2, min(3, n), n, n + 1, n + 3}):
                group = "kernel longer than signal" if k > n else (
                    "even kernel in same mode" if k % 2 == 0 else "modes")
                for mode in MODES:
                    cases.append(Case(group, x=small_ints(rng, n), w=small_ints(rng, k), mode=mode))
        for mode in MODES:
            cases.append(Case("integer signal", x=uint8_image(rng, 6), w=small_ints(rng, 3) / 2, mode=mode))
            cases.append(Case("integer signal", x=small_ints(rng, 5).astype(np.int64),
                              w=np.array([0.5, -0.25]), mode=mode))
    return cases


def _mistakes_1d(reference, wrong_direction, name_of_wrong):
    def mistakes(args, expected):
        x, w, mode = args["x"], args["w"], args["mode"]
        found = [Suspect("flipped kernel", f"this output is {name_of_wrong}; check whether the "
                         "kernel should be reversed", wrong_direction(x, w, mode)),
                 M.integer_result(expected),
                 Suspect("off-by-one output size (forgot the +1)", "the output length is the padded "
                         "length minus K plus 1", shape_is((len(expected) - 1,)))]
        if mode != "valid":
            found.append(Suspect("padding not applied", f"mode={mode!r} pads the signal with zeros; "
                                 "you returned the 'valid' result", reference(x, w, "valid")))
        if len(w) > len(x):
            found.append(Suspect("kernel longer than the signal not swapped",
                                 "when K > N NumPy swaps the two arrays: correlate1d(x, w, mode) is "
                                 "correlate1d(w, x, mode)[::-1]", M.correlate1d_no_swap(x, w, mode)))
            found.append(Suspect("swapped but not reversed", "swapping x and w reverses a cross-correlation: "
                                 "correlate1d(x, w, mode) is correlate1d(w, x, mode)[::-1]",
                                 np.asarray(expected)[::-1]))
        elif mode == "same" and len(w) % 2 == 0:
            found.append(Suspect("extra zero on the wrong side",
                                 "for an even kernel in 'same' mode np.correlate puts the extra zero on "
                                 "the LEFT: pad (K // 2, (K - 1) // 2)", M.correlate1d_pad_right(x, w, mode)))
        return found
    return mistakes


def check_correlate1d(fn, hidden=False):
    """``correlate1d(x, w, mode)``: cross-correlation, like ``numpy.correlate``; returns floats."""
    __tracebackhide__ = True
    return run_check("correlate1d", fn, _cases_1d(hidden), F.correlate1d, same_array(dtype="float"),
                     _mistakes_1d(F.correlate1d, F.convolve1d, "a convolution (kernel flipped)"),
                     hidden=hidden, numpy_forbidden=NUMPY_1D, still_checked=STILL_CHECKED_1D)


def _convolve_mistakes(args, expected):
    found = _mistakes_1d(F.convolve1d, F.correlate1d,
                         "a cross-correlation: convolution must flip the kernel")(args, expected)
    x, w, mode = args["x"], args["w"], args["mode"]
    found = [s for s in found if s.name not in ("kernel longer than the signal not swapped",
                                                "swapped but not reversed", "extra zero on the wrong side")]
    if len(w) > len(x):
        found.append(Suspect("flip without the swap for K > N",
                             "convolve1d(x, w) equals correlate1d(x, w[::-1]) only when K <= N; for a "
                             "longer kernel swap first (x * w = w * x): convolve1d(w, x, mode)",
                             F.correlate1d(x, np.asarray(w, float)[::-1], mode)))
    return found


def check_convolve1d(fn, hidden=False, correlate1d=None):
    """``convolve1d(x, w, mode)``: convolution with the flip, like ``numpy.convolve``.

    ``correlate1d``: the student's own, which convolve1d may call. When a case
    fails, the check calls it on the flipped kernel of that case; if it is
    wrong there, the feedback names correlate1d instead of guessing a mistake.
    """
    __tracebackhide__ = True

    def helpers(args):
        x, w, mode = args["x"], args["w"], args["mode"]
        flipped = dict(x=x, w=np.asarray(w)[::-1].copy(), mode=mode) if len(w) <= len(x) else \
            dict(x=w, w=np.asarray(x)[::-1].copy(), mode=mode)
        return helper_blame("correlate1d", correlate1d, flipped, F.correlate1d(**flipped),
                            same_array(dtype="float"), caller=fn)

    return run_check("convolve1d", fn, _cases_1d(hidden), F.convolve1d, same_array(dtype="float"),
                     _convolve_mistakes, hidden=hidden, numpy_forbidden=NUMPY_1D,
                     helpers=helpers, still_checked=STILL_CHECKED_1D)


# --------------------------------------------------------------------------
# Check your understanding: output_length and w_diff
# --------------------------------------------------------------------------

def reference_output_length(n, k, mode):
    """Length of np.correlate of lengths n and k (k <= n), from the table of section 6."""
    return len(F.correlate1d(np.ones(n), np.ones(k), mode))


def check_output_length(fn, hidden=False):
    """``output_length(n, k, mode)`` -> int: N - K + 1, N or N + K - 1."""
    __tracebackhide__ = True
    cases = [Case(mode, n=n, k=k, mode=mode) for n, k in [(7, 3), (10, 4), (5, 5), (8, 1)] for mode in MODES]
    if hidden:
        cases += [Case(mode, n=n, k=k, mode=mode) for n, k in [(1, 1), (9, 2), (100, 11), (6, 6)]
                  for mode in MODES]

    def mistakes(args, expected):
        n, k = args["n"], args["k"]
        return [
            Suspect("forgot the +1", "valid: the kernel fits at N - K + 1 positions (count the first)", n - k),
            Suspect("forgot the -1", "full: the kernel overlaps the signal at N + K - 1 positions", n + k),
            Suspect("modes mixed up", "valid N - K + 1, same N, full N + K - 1",
                    lambda got: got in (n - k + 1, n, n + k - 1) and got != expected),
        ]
    return run_check("output_length", fn, cases, reference_output_length, same_int, mistakes,
                     hidden=hidden, still_checked=("lengths 1, 2, 6, 9 and 100",))


def check_w_diff(w_diff, hidden=False):
    """The value ``w_diff``: a length-2 kernel whose correlation gives x[i+1] - x[i]."""
    __tracebackhide__ = True
    got = w_diff
    if isinstance(got, (list, tuple)):
        got = np.array(got)
    if type(got) is not np.ndarray or got.dtype == bool or not np.issubdtype(got.dtype, np.number):
        raise CheckFailure(f"w_diff must be a numpy array of two numbers, e.g. np.array([a, b]); "
                             f"got {w_diff!r}")
    if got.shape != (2,):
        raise CheckFailure(f"w_diff should have 2 entries (shape (2,)), got shape {got.shape}.")
    x_test = np.array([1.0, 4.0, 9.0, 16.0])
    received = F.correlate1d(x_test, got.astype(float), "valid")
    want = x_test[1:] - x_test[:-1]
    if np.allclose(received, want):
        return CheckResult("w_diff", 1, hidden)
    message = (f"w_diff = {got} is wrong: correlating [1, 4, 9, 16] with it gives {received}, "
               "but the differences x[i+1] - x[i] are [3, 5, 7].\n"
               "Correlation computes w[0]*x[i] + w[1]*x[i+1]: which weights give x[i+1] - x[i]?")
    if np.allclose(received, -want):
        message += "\nLikely mistake: sign reversed: that is x[i] - x[i+1] (the convolution's order)."
    raise CheckFailure(message)
