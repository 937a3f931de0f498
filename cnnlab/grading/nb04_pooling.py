"""Checks for notebook 04: ``max_pool2d`` and ``avg_pool2d`` on (N, C, H, W).

Parts: windows that tile the input (stride=None), overlapping windows
(stride < kernel), rectangular windows and pairs, sizes that do not divide
(the last incomplete window is dropped: floor). Hidden cases add negative
values (a running maximum started at 0 is wrong), ties, integer inputs,
stride larger than the kernel, a kernel as large as the input, batches of 1
and 3.
"""

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_pair
from cnnlab.functional.sizes import output_hw
from cnnlab.grading import mistakes as M
from cnnlab.grading.engine import Case, run_check, same_array, shape_is
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.inputs import (
    distinct_values,
    fresh_rng,
    int_array,
    negatives,
    seeded,
    with_ties,
)

LECTURE_POOL = np.array([[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]])[None, None]

STILL_CHECKED = ("negative values", "ties", "integer inputs", "stride larger than the kernel",
                 "a kernel as large as the input", "batches of 1 and 3 with several channels")


def pool_cases(hidden, seed):
    """Cases shared by both pooling checks (and, with a ``dout``, by max_pool2d_backward)."""
    rng = seeded(seed)
    cases = [
        Case("windows that tile (stride=None)", x=LECTURE_POOL, kernel_size=2, stride=None),
        Case("windows that tile (stride=None)", x=distinct_values(rng, (2, 1, 4, 6)), kernel_size=2, stride=2),
        Case("overlapping windows", x=distinct_values(rng, (1, 2, 5, 5)), kernel_size=3, stride=2),
        Case("rectangular windows and pairs", x=distinct_values(rng, (1, 2, 7, 5)), kernel_size=(3, 2),
             stride=(2, 1)),
        Case("sizes that do not divide", x=distinct_values(rng, (1, 1, 5, 7)), kernel_size=2, stride=None),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            Case("overlapping windows", x=distinct_values(rng, (1, 1, 5, 7), low=-20), kernel_size=2, stride=1),
            Case("sizes that do not divide", x=distinct_values(rng, (2, 3, 9, 8), low=-100), kernel_size=2,
                 stride=3),                                                                   # stride > kernel
            Case("rectangular windows and pairs", x=distinct_values(rng, (1, 2, 6, 9), low=-50),
                 kernel_size=(2, 3), stride=None),
            Case("rectangular windows and pairs", x=distinct_values(rng, (3, 1, 8, 7), low=-80),
                 kernel_size=(3, 2), stride=(1, 3)),
            Case("windows that tile (stride=None)", x=distinct_values(rng, (1, 1, 3, 3)), kernel_size=3,
                 stride=None),                                                                # kernel = input
            Case("windows that tile (stride=None)", x=distinct_values(rng, (1, 4, 1, 1)), kernel_size=1,
                 stride=None),
            Case("negative values", x=negatives(rng, (2, 2, 4, 4)), kernel_size=2, stride=None),
            Case("negative values", x=negatives(rng, (1, 3, 5, 6)), kernel_size=(2, 3), stride=(1, 2)),
            Case("ties and integer inputs", x=with_ties(rng, (2, 2, 6, 6)), kernel_size=3, stride=None),
            Case("ties and integer inputs", x=int_array(rng, (1, 2, 5, 5)), kernel_size=2, stride=1),
            Case("ties and integer inputs", x=int_array(rng, (2, 1, 6, 4), 0, 9), kernel_size=(3, 2), stride=None),
        ]
    return cases


def pool_mistakes(this, others, reference):
    """Known mistakes of a pooling answer: wrong reduction, stride, pairs, sizes, dtype, layout."""
    def mistakes(args, expected):
        x, k, s = args["x"], args["kernel_size"], args["stride"]
        found = [Suspect(label, hint, M.pool2d_generic(x, k, s, reduce)) for label, hint, reduce in others]
        if s is None or s != 1:
            found.append(Suspect("stride ignored", "move the window by the stride (stride=None means the "
                                 "kernel size): windows overlap only when stride < kernel",
                                 M.pool2d_generic(x, k, 1, this)))
        kh, kw = as_pair(k, "kernel_size")
        sh, sw = as_pair(k if s is None else s, "stride")
        if kh != kw:
            _add(found, "kernel pair order swapped", "kernel_size=(KH, KW): rows first, then columns",
                 reference, dict(x=x, kernel_size=(kw, kh), stride=s))
        if sh != sw and s is not None:
            _add(found, "stride pair order swapped", "stride=(SH, SW): rows first, then columns",
                 reference, dict(x=x, kernel_size=k, stride=(sw, sh)))
        n, c, h, w = x.shape
        want = output_hw((h, w), (kh, kw), (sh, sw), (0, 0), (1, 1))
        ceil = tuple(-(-(size - kk) // ss) + 1 for size, kk, ss in zip((h, w), (kh, kw), (sh, sw)))
        if ceil != want:
            found.append(Suspect("incomplete window kept (ceil instead of floor)", "a window that does not fit "
                                 "entirely is dropped: H_out = (H - KH) // SH + 1", shape_is((n, c) + ceil)))
        found.append(Suspect("off-by-one output size (forgot the +1)", "H_out = (H - KH) // SH + 1",
                             shape_is((n, c, want[0] - 1, want[1] - 1))))
        found += [Suspect("height and width swapped", "rows are axis 2, columns axis 3",
                          M.swap_height_width(expected)),
                  M.channels_last(expected), M.integer_result(expected)]
        return found
    return mistakes


def _add(found, label, hint, reference, args):
    try:
        found.append(Suspect(label, hint, reference(**args)))
    except ValueError:
        pass


def _max_reference(x, kernel_size, stride):
    return F.max_pool2d(x, kernel_size, stride)


def _avg_reference(x, kernel_size, stride):
    return F.avg_pool2d(x, kernel_size, stride)


def check_max_pool2d(fn, hidden=False):
    """``max_pool2d(x, kernel_size, stride=None)`` on (N, C, H, W)."""
    __tracebackhide__ = True
    base = pool_mistakes(np.max, [
        ("mean instead of max", "max pooling keeps the largest value of each window", np.mean),
        ("min instead of max", "max pooling keeps the largest value, not the smallest", np.min)], _max_reference)

    def mistakes(args, expected):
        return base(args, expected) + [Suspect(
            "running maximum started at 0", "a window of negative numbers has a negative maximum: start "
            "from the window's first value (or use window.max(...)), not from 0",
            M.max_pool2d_from_zero(args["x"], args["kernel_size"], args["stride"]))]
    return run_check("max_pool2d", fn, pool_cases(hidden, 404), _max_reference, same_array(), mistakes,
                     hidden=hidden, still_checked=STILL_CHECKED)


def check_avg_pool2d(fn, hidden=False):
    """``avg_pool2d(x, kernel_size, stride=None)`` on (N, C, H, W)."""
    __tracebackhide__ = True
    mistakes = pool_mistakes(np.mean, [
        ("sum instead of mean", "divide the window's sum by its number of cells, KH*KW", np.sum),
        ("max instead of mean", "average pooling takes the mean of each window", np.max)], _avg_reference)
    return run_check("avg_pool2d", fn, pool_cases(hidden, 405), _avg_reference, same_array(), mistakes,
                     hidden=hidden, still_checked=STILL_CHECKED)
