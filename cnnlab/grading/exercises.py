"""One check per exercise of notebooks 01-05.

Each ``check_<exercise>(fn, hidden=False)`` runs the student's function on
fixed examples (the lecture's numbers and small seeded arrays) and, with
``hidden=True``, on generated edge cases: padding 0, H != W, stride greater
than the kernel, overlapping pooling windows, odd sizes, batch 1, several
channels. It returns a :class:`CheckResult` when everything matches and
raises an ``AssertionError`` that explains the first mismatch otherwise.
"""

import math

import numpy as np

from cnnlab._validation import as_pair
from cnnlab import functional as F
from cnnlab.grading import mistakes as M
from cnnlab.grading.feedback import Suspect, assert_matches, describe_call
from cnnlab.grading.runner import CheckResult, call_student, run_cases

_rng = np.random.default_rng


def fresh_rng():
    """A generator seeded from the operating system on every call.

    Visible cases use fixed seeds so that students see the same example each
    time. Hidden cases keep fixed *shapes* (the edge cases) but draw new
    *values* on every run, so an answer cannot memorise them.
    """
    return np.random.default_rng()


def small_ints(rng, shape, low=-3, high=4):
    """Small integers as floats: easy to read in feedback, exact in float64."""
    return rng.integers(low, high, size=shape).astype(float)


def distinct_values(rng, shape):
    """Distinct values (a shuffled range), so max/min pooling has no ties."""
    size = int(np.prod(shape))
    return rng.permutation(size).reshape(shape).astype(float)


# --------------------------------------------------------------------------
# Notebook 01: 1-D correlation and convolution
# --------------------------------------------------------------------------

#: NumPy functions that would do the 1-D exercises for the student.
NUMPY_1D = ("correlate", "convolve")

LECTURE_SIGNAL = np.array([10.0, 50, 60, 10, 20, 40, 30])
LECTURE_BOX = np.full(3, 1 / 3)


def _cases_1d(hidden):
    cases = [
        dict(x=LECTURE_SIGNAL, w=LECTURE_BOX, mode="same"),
        dict(x=LECTURE_SIGNAL, w=LECTURE_BOX, mode="valid"),
        dict(x=np.array([0.0, 0, 1, 0, 0]), w=np.array([1.0, 2, 3]), mode="full"),
        dict(x=np.array([1.0, 2, 3, 4, 5, 6]), w=np.array([1.0, 0, -1]), mode="valid"),
    ]
    if hidden:
        rng = fresh_rng()
        for n in (1, 2, 5, 8):
            for k in sorted({1, 2, min(3, n), n}):
                for mode in ("valid", "same", "full"):
                    cases.append(dict(x=small_ints(rng, n), w=small_ints(rng, k), mode=mode))
    return cases


def _suspects_1d(reference, wrong_direction, name_of_wrong):
    def suspects(args, expected):
        found = [Suspect(
            "flipped kernel", f"this output is {name_of_wrong}; check whether the "
            "kernel should be reversed", wrong_direction(args["x"], args["w"], args["mode"]))]
        if args["mode"] != "valid":
            found.append(Suspect(
                "padding not applied", f"mode={args['mode']!r} pads the signal with zeros; "
                "you returned the 'valid' result", reference(args["x"], args["w"], "valid")))
        return found
    return suspects


def check_correlate1d(fn, hidden=False):
    """``correlate1d(x, w, mode)``: cross-correlation, like ``numpy.correlate``."""
    return run_cases(
        "correlate1d", fn, _cases_1d(hidden), F.correlate1d,
        suspects=_suspects_1d(F.correlate1d, F.convolve1d, "a convolution (kernel flipped)"),
        hidden=hidden, numpy_forbidden=NUMPY_1D)


def check_convolve1d(fn, hidden=False):
    """``convolve1d(x, w, mode)``: convolution with the flip, like ``numpy.convolve``."""
    return run_cases(
        "convolve1d", fn, _cases_1d(hidden), F.convolve1d,
        suspects=_suspects_1d(F.convolve1d, F.correlate1d,
                              "a cross-correlation: convolution must flip the kernel"),
        hidden=hidden, numpy_forbidden=NUMPY_1D)


# --------------------------------------------------------------------------
# Notebook 02: padding, 2-D correlation, output size, strided/dilated conv
# --------------------------------------------------------------------------

def reference_zero_pad(x, padding):
    """Zero padding of the last two axes by ``padding`` (int or (ph, pw))."""
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    widths = [(0, 0)] * (np.ndim(x) - 2) + [(ph, ph), (pw, pw)]
    return np.pad(np.asarray(x, dtype=float), widths)


def check_zero_pad(fn, hidden=False):
    """``zero_pad(x, padding)``: zeros around the last two axes of ``x``."""
    rng = _rng(202)
    cases = [
        dict(x=np.arange(1.0, 17).reshape(4, 4), padding=1),
        dict(x=small_ints(rng, (2, 3)), padding=(2, 1)),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            dict(x=small_ints(rng, (3, 5)), padding=0),
            dict(x=small_ints(rng, (1, 1)), padding=2),
            dict(x=small_ints(rng, (4, 2)), padding=(0, 3)),
            dict(x=small_ints(rng, (5, 3)), padding=(1, 0)),
        ]

    def suspects(args, expected):
        p = args["padding"]
        ph, pw = (p, p) if np.isscalar(p) else p
        x = np.asarray(args["x"], float)
        return [
            Suspect("padding on one side only", "padding goes on both sides: top and bottom, left and right",
                    np.pad(x, ((0, ph), (0, pw)))),
            Suspect("padding on one side only", "padding goes on both sides: top and bottom, left and right",
                    np.pad(x, ((ph, 0), (pw, 0)))),
            Suspect("height and width padding swapped", "padding=(ph, pw) pads rows by ph and columns by pw",
                    np.pad(x, ((pw, pw), (ph, ph)))),
        ]
    return run_cases("zero_pad", fn, cases, reference_zero_pad, suspects=suspects, hidden=hidden)


LECTURE_BOX_IMAGE = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 0, 90, 90, 90, 0, 0],
    [0, 0, 0, 90, 90, 90, 90, 90, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 90, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
], dtype=float)


def check_correlate2d(fn, hidden=False):
    """``correlate2d(image, kernel, mode)``: like ``scipy.signal.correlate2d`` (zero fill)."""
    rng = _rng(203)
    cases = [
        dict(image=LECTURE_BOX_IMAGE, kernel=np.full((3, 3), 1 / 9), mode="valid"),
        dict(image=small_ints(rng, (4, 5)), kernel=np.array([[1.0, 2], [3, 4]]), mode="valid"),
        dict(image=small_ints(rng, (4, 5)), kernel=np.array([[1.0, 2, 0], [0, 3, -1]]), mode="full"),
        dict(image=small_ints(rng, (5, 4)), kernel=np.array([[0.0, 1, 0], [2, 0, 0], [0, 0, -1]]), mode="same"),
    ]
    if hidden:
        rng = fresh_rng()
        for h, w, kh, kw in [(1, 1, 1, 1), (3, 7, 2, 3), (6, 4, 3, 1), (5, 5, 5, 5), (2, 6, 2, 2), (7, 3, 4, 2)]:
            for mode in ("valid", "same", "full"):
                cases.append(dict(image=small_ints(rng, (h, w)), kernel=small_ints(rng, (kh, kw)), mode=mode))

    def suspects(args, expected):
        found = [Suspect("flipped kernel", "you computed a convolution (kernel rotated 180 degrees); "
                         "correlation slides the kernel as it is",
                         F.convolve2d(args["image"], args["kernel"], args["mode"])),
                 Suspect("height and width swapped", "rows are the first axis, columns the second",
                         M.swap_height_width(expected))]
        if args["mode"] != "valid":
            found.append(Suspect("padding not applied", f"mode={args['mode']!r} needs zero padding first",
                                 F.correlate2d(args["image"], args["kernel"], "valid")))
        return found
    return run_cases("correlate2d", fn, cases, F.correlate2d, suspects=suspects, hidden=hidden)


def check_conv_output_size(fn, hidden=False):
    """``conv_output_size(size, kernel_size, stride, padding, dilation)`` -> int."""
    cases = [
        dict(size=4, kernel_size=2, stride=1, padding=0, dilation=1),    # lecture 4x4 * 2x2 -> 3x3
        dict(size=4, kernel_size=2, stride=2, padding=0, dilation=1),    # stride 2 -> 2x2
        dict(size=4, kernel_size=3, stride=1, padding=1, dilation=1),    # 'same' padding
        dict(size=227, kernel_size=11, stride=4, padding=0, dilation=1),  # AlexNet conv1 -> 55
        dict(size=7, kernel_size=3, stride=1, padding=0, dilation=2),    # dilated 3x3 spans 5
    ]
    if hidden:
        cases += [
            dict(size=5, kernel_size=3, stride=2, padding=1, dilation=1),   # conv arithmetic: 5,3,2,1 -> 3
            dict(size=6, kernel_size=3, stride=2, padding=1, dilation=1),   # 6 -> 3 (floor)
            dict(size=5, kernel_size=4, stride=1, padding=2, dilation=1),   # 6
            dict(size=5, kernel_size=3, stride=1, padding=2, dilation=1),   # full padding -> 7
            dict(size=224, kernel_size=11, stride=4, padding=2, dilation=1),  # 55
            dict(size=224, kernel_size=11, stride=4, padding=0, dilation=1),  # 54
            dict(size=9, kernel_size=2, stride=3, padding=0, dilation=1),   # stride > kernel
            dict(size=3, kernel_size=3, stride=1, padding=0, dilation=1),   # kernel = input
            dict(size=10, kernel_size=3, stride=2, padding=3, dilation=3),
            dict(size=28, kernel_size=5, stride=1, padding=2, dilation=1),
        ]

    def reference(size, kernel_size, stride, padding, dilation):
        return F.conv_output_size(size, kernel_size, stride, padding, dilation)

    name = "conv_output_size"
    for args in cases:
        got = call_student(fn, name, args)
        want = reference(**args)
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            raise AssertionError(
                f"{name} must return an int, got {got!r} ({type(got).__name__}). "
                "Use floor division `//` (or int()) so the size is a whole number.\n"
                + describe_call(name, args))
        if int(got) != want:
            n, k, s, p, d = (args[key] for key in ("size", "kernel_size", "stride", "padding", "dilation"))
            wrong = {
                "dilation ignored": ((n + 2 * p - k) // s + 1, "the kernel spans d*(k-1)+1 inputs when dilated"),
                "forgot the +1": ((n + 2 * p - d * (k - 1) - 1) // s, "count the first position too: ... // stride + 1"),
                "padding counted once": ((n + p - d * (k - 1) - 1) // s + 1, "padding is added on both sides: 2*padding"),
                "ceil instead of floor": (math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1,
                                          "a window that does not fit entirely is dropped: use floor"),
                "stride ignored": (n + 2 * p - d * (k - 1), "divide by the stride"),
            }
            hints = [f"{label}: {hint}" for label, (value, hint) in wrong.items() if value == int(got)]
            message = (f"{name} is wrong.\n{describe_call(name, args)}\nExpected {want}, got {int(got)}.")
            if hints:
                message += "\nLikely mistake: " + "; ".join(hints)
            raise AssertionError(message)
    return CheckResult(name, len(cases), hidden)


LECTURE_A = np.arange(1.0, 17).reshape(4, 4)
LECTURE_W = np.array([[1.0, 0], [-1, 2]])


def reference_conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    """conv2d of one 2-D image with one 2-D kernel: (H, W) -> (H_out, W_out)."""
    out = F.conv2d(np.asarray(image, float)[None, None], np.asarray(kernel, float)[None, None],
                   np.array([bias], float), stride, padding, dilation)
    return out[0, 0]


def _conv_suspects(reference, args, expected, flip, extra=()):
    """Known mistakes for any conv2d-style function given keyword ``args``."""
    weight_key = "kernel" if "kernel" in args else "weight"
    found = [Suspect("flipped kernel", "deep-learning 'convolution' is cross-correlation: do not flip the kernel",
                     reference(**{**args, weight_key: flip(args[weight_key])}))]
    bias = args.get("bias")
    if bias is not None and np.any(np.asarray(bias) != 0):
        no_bias = {**args, "bias": 0.0 if np.isscalar(bias) else np.zeros_like(bias)}
        found.append(Suspect("forgot the bias", "add the bias to every output value", reference(**no_bias)))
    if args.get("stride", 1) not in (1, (1, 1)):
        found.append(Suspect("stride ignored", "move the window by `stride` cells: input row = i*stride + u",
                             reference(**{**args, "stride": 1})))
    if args.get("dilation", 1) not in (1, (1, 1)):
        found.append(Suspect("dilation ignored", "kernel taps are `dilation` cells apart: input row = i*stride + u*dilation",
                             reference(**{**args, "dilation": 1})))
    if args.get("padding", 0) not in (0, (0, 0)):
        try:
            found.append(Suspect("padding not applied", "zero-pad the input before sliding the kernel",
                                 reference(**{**args, "padding": 0})))
        except ValueError:
            pass
    found.append(Suspect("height and width swapped", "rows are axis -2, columns axis -1",
                         M.swap_height_width(expected)))
    return found + list(extra)


def check_conv2d_single(fn, hidden=False):
    """``conv2d_single(image, kernel, bias, stride, padding, dilation)`` on one channel."""
    rng = _rng(204)
    cases = [
        dict(image=LECTURE_A, kernel=LECTURE_W, bias=0.0, stride=1, padding=0, dilation=1),
        dict(image=LECTURE_A, kernel=LECTURE_W, bias=1.0, stride=2, padding=0, dilation=1),
        dict(image=LECTURE_A, kernel=LECTURE_W, bias=0.0, stride=1, padding=1, dilation=1),
        dict(image=small_ints(rng, (7, 7)), kernel=small_ints(rng, (3, 3)), bias=-2.0, stride=2, padding=1, dilation=1),
        dict(image=small_ints(rng, (7, 6)), kernel=small_ints(rng, (3, 3)), bias=0.5, stride=1, padding=0, dilation=2),
    ]
    if hidden:
        rng = fresh_rng()
        for h, w, kh, kw, s, p, d in [
            (5, 7, 3, 3, 1, 0, 1), (9, 8, 2, 2, 3, 0, 1), (4, 4, 4, 4, 1, 0, 1), (6, 5, 3, 2, (2, 1), (1, 0), 1),
            (8, 9, 3, 3, 2, 2, 2), (1, 1, 1, 1, 1, 0, 1), (5, 3, 2, 3, 1, (0, 1), (2, 1)), (10, 7, 3, 3, 4, 1, 1),
        ]:
            cases.append(dict(image=small_ints(rng, (h, w)), kernel=small_ints(rng, (kh, kw)),
                              bias=float(rng.integers(-2, 3)), stride=s, padding=p, dilation=d))
    return run_cases("conv2d_single", fn, cases, reference_conv2d_single,
                     suspects=lambda args, expected: _conv_suspects(reference_conv2d_single, args, expected, M.flip_kernel),
                     hidden=hidden)


# --------------------------------------------------------------------------
# Notebook 03: multi-channel conv2d on (N, C, H, W)
# --------------------------------------------------------------------------

def _conv2d_case(rng, n, c_in, c_out, h, w, kh, kw, stride=1, padding=0, dilation=1, bias=True):
    return dict(x=small_ints(rng, (n, c_in, h, w)), weight=small_ints(rng, (c_out, c_in, kh, kw)),
                bias=small_ints(rng, (c_out,)) if bias else None,
                stride=stride, padding=padding, dilation=dilation)


def check_conv2d(fn, hidden=False):
    """``conv2d(x, weight, bias, stride, padding, dilation)``: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
    rng = _rng(303)
    cases = [
        _conv2d_case(rng, 1, 3, 2, 5, 5, 3, 3, stride=2, padding=1),   # the lecture's 5x5x3 volume, two 3x3x3 filters
        _conv2d_case(rng, 2, 2, 3, 4, 5, 2, 2),
        _conv2d_case(rng, 1, 1, 1, 4, 4, 1, 1, bias=False),           # 1x1 convolution
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            _conv2d_case(rng, 2, 3, 4, 5, 7, 3, 3),                    # padding 0, H != W
            _conv2d_case(rng, 1, 2, 2, 9, 8, 2, 2, stride=3),         # stride > kernel
            _conv2d_case(rng, 3, 4, 3, 6, 6, 3, 3, stride=1, padding=1),
            _conv2d_case(rng, 1, 1, 2, 4, 4, 4, 4),                    # kernel = input size
            _conv2d_case(rng, 2, 2, 2, 7, 6, 3, 3, dilation=2),
            _conv2d_case(rng, 1, 3, 5, 7, 5, 3, 2, stride=(2, 1), padding=(1, 0)),
            _conv2d_case(rng, 2, 1, 1, 5, 5, 3, 3, stride=2, padding=2, dilation=(1, 2)),
            _conv2d_case(rng, 1, 4, 1, 3, 3, 1, 1),                    # 1x1 conv mixes channels
        ]

    def extra(args, expected):
        more = []
        if args["bias"] is not None and args["x"].shape[1] > 1:
            c_in = args["x"].shape[1]
            more.append(Suspect("bias added once per input channel", "add the bias once per output value, "
                                "after summing over input channels",
                                expected + (c_in - 1) * args["bias"][None, :, None, None]))
        return more

    return run_cases("conv2d", fn, cases, F.conv2d,
                     suspects=lambda args, expected: _conv_suspects(F.conv2d, args, expected, M.flip_kernel,
                                                                    extra(args, expected)),
                     shape_hints=_conv2d_shape_hints, hidden=hidden)


def _conv2d_shape_hints(args):
    n, c_in, h, w = args["x"].shape
    c_out = args["weight"].shape[0]
    out = F.conv2d(args["x"], args["weight"], args["bias"], args["stride"], args["padding"], args["dilation"])
    h_out, w_out = out.shape[2:]
    return [
        ((n, c_out, c_in, h_out, w_out), "the input channels were not summed: sum over C_in as well"),
        ((n, c_in, h_out, w_out), "the output has one channel per *filter* (C_out), not per input channel"),
        ((c_out, h_out, w_out), "keep the batch axis N in the output"),
        ((h_out, w_out), "the output must be (N, C_out, H_out, W_out)"),
    ]


# --------------------------------------------------------------------------
# Notebook 04: pooling
# --------------------------------------------------------------------------

LECTURE_POOL = np.array([[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]])[None, None]


def _pool_cases(hidden, seed):
    rng = _rng(seed)
    cases = [
        dict(x=LECTURE_POOL, kernel_size=2, stride=None),
        dict(x=distinct_values(rng, (1, 2, 5, 5)), kernel_size=3, stride=2),   # overlapping windows
        dict(x=distinct_values(rng, (2, 1, 4, 6)), kernel_size=2, stride=2),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            dict(x=distinct_values(rng, (1, 1, 5, 7)), kernel_size=2, stride=1),
            dict(x=distinct_values(rng, (2, 3, 9, 8)), kernel_size=2, stride=3),    # stride > kernel
            dict(x=distinct_values(rng, (1, 2, 7, 5)), kernel_size=(3, 2), stride=(2, 1)),
            dict(x=distinct_values(rng, (1, 1, 3, 3)), kernel_size=3, stride=None),  # kernel = input
            dict(x=distinct_values(rng, (3, 2, 6, 6)), kernel_size=3, stride=None),
            dict(x=distinct_values(rng, (1, 4, 1, 1)), kernel_size=1, stride=None),
        ]
    return cases


def _pool_suspects(this, others):
    def suspects(args, expected):
        k, s = args["kernel_size"], args["stride"]
        found = [Suspect(label, hint, M.pool2d_generic(args["x"], k, s, reduce)) for label, hint, reduce in others]
        if s is None or s != 1:
            found.append(Suspect("stride ignored", "stride defaults to kernel_size: windows do not overlap unless stride < kernel",
                                 M.pool2d_generic(args["x"], k, 1, this)))
        found.append(Suspect("height and width swapped", "rows are axis 2, columns axis 3",
                             M.swap_height_width(expected)))
        return found
    return suspects


def check_max_pool2d(fn, hidden=False):
    """``max_pool2d(x, kernel_size, stride=None)`` on (N, C, H, W)."""
    return run_cases("max_pool2d", fn, _pool_cases(hidden, 404),
                     lambda x, kernel_size, stride: F.max_pool2d(x, kernel_size, stride),
                     suspects=_pool_suspects(np.max, [
                         ("mean instead of max", "max pooling keeps the largest value of each window", np.mean),
                         ("min instead of max", "max pooling keeps the largest value, not the smallest", np.min)]),
                     hidden=hidden)


def check_avg_pool2d(fn, hidden=False):
    """``avg_pool2d(x, kernel_size, stride=None)`` on (N, C, H, W)."""
    return run_cases("avg_pool2d", fn, _pool_cases(hidden, 405),
                     lambda x, kernel_size, stride: F.avg_pool2d(x, kernel_size, stride),
                     suspects=_pool_suspects(np.mean, [
                         ("sum instead of mean", "divide the window's sum by its number of cells", np.sum),
                         ("max instead of mean", "average pooling takes the mean of each window", np.max)]),
                     hidden=hidden)


# --------------------------------------------------------------------------
# Notebook 05: backward passes and gradient checking
# --------------------------------------------------------------------------

def _with_dout(rng, args, forward):
    out = forward(**args)
    return {"dout": small_ints(rng, out.shape, -2, 3), **args}


def check_max_pool2d_backward(fn, hidden=False):
    """``max_pool2d_backward(dout, x, kernel_size, stride=None)`` -> dx, same shape as x."""
    rng = _rng(505)
    shared_max = distinct_values(rng, (1, 1, 5, 5))
    shared_max[0, 0, 2, 2] = 100.0    # the centre is the max of all four overlapping 3x3 windows
    cases = [
        dict(dout=np.array([[[[1.0, 2], [3, 4]]]]), x=LECTURE_POOL, kernel_size=2, stride=None),
        dict(dout=np.array([[[[1.0, 2], [3, 4]]]]), x=shared_max, kernel_size=3, stride=2),
        _with_dout(rng, dict(x=distinct_values(rng, (2, 2, 4, 6)), kernel_size=2, stride=2), F.max_pool2d),
    ]
    if hidden:
        rng = fresh_rng()
        for case in _pool_cases(True, 506)[3:]:
            cases.append(_with_dout(rng, case, F.max_pool2d))

    def reference(dout, x, kernel_size, stride):
        return F.max_pool2d_backward(dout, x, kernel_size, stride)

    def suspects(args, expected):
        a = (args["dout"], args["x"], args["kernel_size"], args["stride"])
        return [
            Suspect("`=` instead of `+=`", "when windows overlap, the same input can be the max of several "
                    "windows: accumulate with dx[...] += ...", M.max_pool2d_backward_overwrite(*a)),
            Suspect("gradient spread over the whole window", "only the arg-max cell of each window receives "
                    "the gradient (that is average-pooling-like behaviour)", M.max_pool2d_backward_spread(*a)),
            Suspect("gradient sent to the window's first cell", "route it to the position of the maximum "
                    "(np.argmax + np.unravel_index)", M.max_pool2d_backward_first_cell(*a)),
            Suspect("average-pooling backward", "max pooling routes the whole gradient to the max",
                    F.avg_pool2d_backward(*a)),
        ]
    return run_cases("max_pool2d_backward", fn, cases, reference, suspects=suspects, hidden=hidden)


def check_conv2d_backward(fn, hidden=False):
    """``conv2d_backward(dout, x, weight, stride=1, padding=0)`` -> (dx, dweight, dbias)."""
    rng = _rng(507)

    def case(n, c_in, c_out, h, w, kh, kw, stride=1, padding=0):
        args = dict(x=small_ints(rng, (n, c_in, h, w)), weight=small_ints(rng, (c_out, c_in, kh, kw)),
                    stride=stride, padding=padding)
        out = F.conv2d(args["x"], args["weight"], None, stride, padding)
        return {"dout": small_ints(rng, out.shape, -2, 3), **args}

    cases = [
        {"dout": np.array([[[[1.0, 0, 2], [0, -1, 0], [1, 1, 0]]]]), "x": LECTURE_A[None, None],
         "weight": LECTURE_W[None, None], "stride": 1, "padding": 0},
        case(2, 2, 3, 5, 5, 3, 3, stride=1, padding=1),
        case(1, 1, 2, 5, 5, 3, 3, stride=2, padding=0),    # overlapping windows with stride 2
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            case(1, 3, 2, 5, 7, 3, 3),                       # padding 0, H != W
            case(2, 2, 2, 9, 8, 2, 2, stride=3),            # stride > kernel
            case(1, 1, 1, 4, 4, 4, 4),                       # kernel = input size
            case(3, 2, 4, 6, 5, 3, 2, stride=(2, 1), padding=(1, 0)),
            case(1, 4, 3, 6, 6, 3, 3, stride=2, padding=2),
        ]
    name = "conv2d_backward"
    for args in cases:
        expected = F.conv2d_backward(args["dout"], args["x"], args["weight"], args["stride"], args["padding"])
        received = call_student(fn, name, args)
        if not isinstance(received, tuple) or len(received) != 3:
            raise AssertionError(f"{name} must return a tuple (dx, dweight, dbias), got {type(received).__name__}"
                                 + (f" of length {len(received)}" if isinstance(received, (tuple, list)) else ""))
        call = describe_call(name, args)
        _check_backward_part(received[0], expected[0], call, "dx", args, _dx_suspects)
        _check_backward_part(received[1], expected[1], call, "dweight", args, _dweight_suspects)
        _check_backward_part(received[2], expected[2], call, "dbias", args, lambda a, e: [])
    return CheckResult(name, len(cases), hidden)


def _check_backward_part(got, want, call, part, args, suspects):
    n, c_in, h, w = args["x"].shape
    c_out, _, kh, kw = args["weight"].shape
    h_out, w_out = args["dout"].shape[2:]
    ph, pw = as_pair(args["padding"], "padding")
    hints = {
        "dx": [((n, c_in, h + 2 * ph, w + 2 * pw),
                "dx is the gradient of the *unpadded* x: crop the padding off")],
        "dweight": [((n, c_out, c_in, kh, kw), "sum the weight gradient over the batch too")],
        "dbias": [((c_out, h_out, w_out), "sum dout over the batch and both spatial axes: axes (0, 2, 3)"),
                  ((n, c_out), "also sum over the spatial axes: dbias = dout.sum(axis=(0, 2, 3))"),
                  ((n,), "wrong axes summed: the bias gradient has one entry per output channel"),
                  ((h_out, w_out), "wrong axes summed: sum over axes (0, 2, 3), keep axis 1"),
                  ((n, h_out, w_out), "wrong axes summed: sum over axes (0, 2, 3), keep axis 1")],
    }[part]
    try:
        assert_matches(got, want, call, f"{part} from conv2d_backward", shape_hints=hints)
    except AssertionError:
        assert_matches(got, want, call, f"{part} from conv2d_backward", shape_hints=hints,
                       suspects=suspects(args, want))


def _dx_suspects(args, want):
    a = (args["dout"], args["x"], args["weight"], args["stride"], args["padding"])
    return [
        Suspect("`=` instead of `+=`", "overlapping windows all contribute to the same input: accumulate dx",
                M.conv2d_backward_overwrite(*a)[0]),
        Suspect("kernel not flipped", "dx is a *full convolution* of dout with the kernel, i.e. the kernel "
                "rotated 180 degrees", F.conv2d_backward(args["dout"], args["x"], M.flip_kernel(args["weight"]),
                                                         args["stride"], args["padding"])[0]),
    ]


def _dweight_suspects(args, want):
    a = (args["dout"], args["x"], args["weight"], args["stride"], args["padding"])
    return [
        Suspect("`=` instead of `+=`", "every output position contributes to the weight gradient: accumulate",
                M.conv2d_backward_overwrite(*a)[1]),
        Suspect("flipped kernel gradient", "dW[u, v] = sum_ij dout[i, j] * x[i*s + u, j*s + v]: no flip",
                M.flip_kernel(want)),
    ]



def check_numerical_gradient(fn, hidden=False):
    """``numerical_gradient(f, x, eps)``: central differences, same shape as x."""
    rng = _rng(508)

    def cube(x):
        return float(np.sum(x ** 3))

    weights = small_ints(rng, (3, 4))

    def weighted_sin(x):
        return float(np.sum(np.sin(x) * weights))

    cases = [
        (cube, np.array([1.0, -2.0, 0.5]), 1e-3, lambda x: 3 * x ** 2),
        (weighted_sin, rng.normal(size=(3, 4)), 1e-4, lambda x: np.cos(x) * weights),
    ]
    if hidden:
        rng = fresh_rng()
        cases.append((cube, rng.normal(size=(2, 2, 3)), 1e-3, lambda x: 3 * x ** 2))
    name = "numerical_gradient"
    for f, x, eps, _exact in cases:
        args = dict(f=f, x=x, eps=eps)
        got = call_student(fn, name, args)
        want = np.array([_central(f, x, eps, i) for i in np.ndindex(x.shape)]).reshape(x.shape)
        forward = np.array([_forward(f, x, eps, i) for i in np.ndindex(x.shape)]).reshape(x.shape)
        assert_matches(got, want, describe_call(name, args), f"{name}(...)", rtol=1e-5, atol=1e-7, suspects=[
            Suspect("forward difference", "use the central difference (f(x+eps) - f(x-eps)) / (2*eps): "
                    "its error shrinks like eps**2 instead of eps", forward),
            Suspect("divided by eps instead of 2*eps", "the two probes are 2*eps apart", 2 * want),
        ])
    return CheckResult(name, len(cases), hidden)


def _central(f, x, eps, index):
    plus, minus = x.copy(), x.copy()
    plus[index] += eps
    minus[index] -= eps
    return (f(plus) - f(minus)) / (2 * eps)


def _forward(f, x, eps, index):
    plus = x.copy()
    plus[index] += eps
    return (f(plus) - f(x)) / eps
