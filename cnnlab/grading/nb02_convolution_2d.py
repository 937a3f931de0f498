"""Checks for notebook 02: padding, 2-D correlation, output size, one-channel convolution.

Exercises: ``zero_pad``, ``correlate2d``, ``conv_output_size``, ``conv2d_single``,
``same_padding`` and the value ``left_difference``. Visible cases cover what
the text stresses (pairs ``(ph, pw)``, even kernels in ``same`` mode, floor
division, stride and dilation pairs, a uint8 image); hidden cases add
negative values, rectangular shapes, stride larger than the kernel and
fresh values.
"""

import math

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_pair
from cnnlab.functional.sizes import output_hw
from cnnlab.grading import mistakes as M
from cnnlab.grading.engine import (
    Case,
    CheckFailure,
    CheckResult,
    credit_if_only,
    helper_blame,
    run_check,
    same_array,
    same_int,
    shape_is,
)
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.inputs import fresh_rng, seeded, small_ints, uint8_image

# --------------------------------------------------------------------------
# zero_pad
# --------------------------------------------------------------------------

def reference_zero_pad(x, padding):
    """Zero padding of the last two axes by ``padding`` (int or (ph, pw)), as floats."""
    ph, pw = as_pair(padding, "padding")
    widths = [(0, 0)] * (np.ndim(x) - 2) + [(ph, ph), (pw, pw)]
    return np.pad(np.asarray(x, dtype=float), widths)


def check_zero_pad(fn, hidden=False):
    """``zero_pad(x, padding)``: zeros around a 2-D ``x``; returns floats."""
    __tracebackhide__ = True
    rng = seeded(202)
    cases = [
        Case("int padding", x=np.arange(1.0, 17).reshape(4, 4), padding=1),
        Case("pair (ph, pw)", x=small_ints(rng, (2, 3)), padding=(2, 1)),
        Case("integer image", x=uint8_image(rng, (2, 2)), padding=1),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            Case("int padding", x=small_ints(rng, (3, 5)), padding=0),
            Case("int padding", x=small_ints(rng, (1, 1)), padding=2),
            Case("pair (ph, pw)", x=small_ints(rng, (4, 2)), padding=(0, 3)),
            Case("pair (ph, pw)", x=small_ints(rng, (5, 3)), padding=(1, 0)),
            Case("integer image", x=uint8_image(rng, (3, 4)), padding=(1, 2)),
            Case("integer image", x=small_ints(rng, (2, 3)).astype(np.int64), padding=2),
        ]

    def mistakes(args, expected):
        ph, pw = as_pair(args["padding"], "padding")
        x = np.asarray(args["x"], float)
        one_side = "padding goes on both sides: top and bottom, left and right"
        return [
            Suspect("padding on one side only", one_side, np.pad(x, ((0, ph), (0, pw)))),
            Suspect("padding on one side only", one_side, np.pad(x, ((ph, 0), (pw, 0)))),
            Suspect("height and width padding swapped", "padding=(ph, pw) pads rows by ph and columns by pw",
                    np.pad(x, ((pw, pw), (ph, ph)))),
            Suspect("np.pad(x, (ph, pw))", "a pair in np.pad means (before, after) for EVERY axis: "
                    "pad with ((ph, ph), (pw, pw)) instead", np.pad(x, (ph, pw))),
            Suspect("padding counted once", "the result has shape (H + 2*ph, W + 2*pw)",
                    shape_is((x.shape[0] + ph, x.shape[1] + pw))),
            Suspect("only the first number of the pair used", "padding=(ph, pw): ph for the rows, pw for the "
                    "columns", np.pad(x, ((ph, ph), (ph, ph)))),
        ]
    return run_check("zero_pad", fn, cases, reference_zero_pad, same_array(dtype="float"), mistakes,
                     hidden=hidden, still_checked=("padding 0", "1x1 images", "pairs with a 0",
                                                   "uint8 and int images with pairs"))


# --------------------------------------------------------------------------
# correlate2d
# --------------------------------------------------------------------------

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
    __tracebackhide__ = True
    rng = seeded(203)
    cases = [
        Case("valid", image=LECTURE_BOX_IMAGE, kernel=np.full((3, 3), 1 / 9), mode="valid"),
        Case("valid", image=small_ints(rng, (4, 5)), kernel=np.array([[1.0, 2], [3, 4]]), mode="valid"),
        Case("full", image=small_ints(rng, (4, 5)), kernel=np.array([[1.0, 2, 0], [0, 3, -1]]), mode="full"),
        Case("same, odd kernel", image=small_ints(rng, (5, 4)),
             kernel=np.array([[0.0, 1, 0], [2, 0, 0], [0, 0, -1]]), mode="same"),
        Case("same, even kernel", image=small_ints(rng, (4, 5)), kernel=np.array([[1.0, -1], [2, 0]]),
             mode="same"),
        Case("uint8 image", image=uint8_image(rng, (5, 5)), kernel=np.array([[1.0, 0, -1]] * 3) / 3,
             mode="valid"),
    ]
    if hidden:
        rng = fresh_rng()
        for h, w, kh, kw in [(1, 1, 1, 1), (3, 7, 2, 3), (6, 4, 3, 1), (5, 5, 5, 5), (2, 6, 2, 2), (7, 3, 4, 2)]:
            for mode in ("valid", "same", "full"):
                group = mode if mode != "same" else (
                    "same, even kernel" if kh % 2 == 0 or kw % 2 == 0 else "same, odd kernel")
                cases.append(Case(group, image=small_ints(rng, (h, w)), kernel=small_ints(rng, (kh, kw)),
                                  mode=mode))
        for mode in ("valid", "same", "full"):
            cases.append(Case("uint8 image", image=uint8_image(rng, (6, 5)), kernel=small_ints(rng, (2, 3)) / 4,
                              mode=mode))

    def mistakes(args, expected):
        image, kernel, mode = args["image"], args["kernel"], args["mode"]
        found = [Suspect("flipped kernel", "you computed a convolution (kernel rotated 180 degrees); "
                         "correlation slides the kernel as it is", F.convolve2d(image, kernel, mode)),
                 Suspect("height and width swapped", "rows are the first axis, columns the second",
                         M.swap_height_width(expected)),
                 M.integer_result(expected),
                 Suspect("off-by-one output size (forgot the +1)", "the output size is the padded size "
                         "minus K plus 1, per axis", shape_is((expected.shape[0] - 1, expected.shape[1] - 1)))]
        if mode != "valid":
            found.append(Suspect("padding not applied", f"mode={mode!r} needs zero padding first",
                                 F.correlate2d(image, kernel, "valid")))
        if mode == "same":
            found.append(Suspect("extra zero on the wrong side", "SciPy's 'same' puts the extra zero row "
                                 "of an even kernel at the BOTTOM and the extra column on the RIGHT: pad "
                                 "((Kh-1)//2, Kh//2) rows and ((Kw-1)//2, Kw//2) columns",
                                 M.correlate2d_pad_side(image, kernel, mode)))
        return found
    return run_check("correlate2d", fn, cases, F.correlate2d, same_array(), mistakes, hidden=hidden,
                     still_checked=("1x1 and kernel-sized images", "rectangular images and kernels in "
                                    "every mode", "negative values", "uint8 images in every mode"))


# --------------------------------------------------------------------------
# conv_output_size
# --------------------------------------------------------------------------

def _size_cases(hidden):
    cases = [
        Case("basic", size=4, kernel_size=2, stride=1, padding=0, dilation=1),     # lecture 4x4 * 2x2 -> 3x3
        Case("stride", size=4, kernel_size=2, stride=2, padding=0, dilation=1),    # stride 2 -> 2x2
        Case("padding", size=4, kernel_size=3, stride=1, padding=1, dilation=1),   # 'same' padding
        Case("stride", size=227, kernel_size=11, stride=4, padding=0, dilation=1),  # AlexNet conv1 -> 55
        Case("dilation", size=7, kernel_size=3, stride=1, padding=0, dilation=2),  # dilated 3x3 spans 5
        Case("floor", size=6, kernel_size=3, stride=2, padding=1, dilation=1),     # 6.5 -> floor -> 3
        Case("floor", size=8, kernel_size=3, stride=3, padding=0, dilation=1),     # 5/3 + 1: floor 2, round 3
    ]
    if hidden:
        cases += [
            Case("stride", size=5, kernel_size=3, stride=2, padding=1, dilation=1),
            Case("padding", size=5, kernel_size=4, stride=1, padding=2, dilation=1),
            Case("padding", size=5, kernel_size=3, stride=1, padding=2, dilation=1),   # full padding -> 7
            Case("stride", size=224, kernel_size=11, stride=4, padding=2, dilation=1),  # 55
            Case("floor", size=224, kernel_size=11, stride=4, padding=0, dilation=1),   # 54.25 -> 54
            Case("floor", size=9, kernel_size=2, stride=3, padding=0, dilation=1),      # stride > kernel
            Case("floor", size=5, kernel_size=3, stride=3, padding=0, dilation=1),      # 1.67: round() says 2
            Case("floor", size=12, kernel_size=3, stride=4, padding=0, dilation=1),     # 3.25 -> 3
            Case("floor", size=8, kernel_size=2, stride=4, padding=1, dilation=1),      # 3: round() says 3
            Case("basic", size=3, kernel_size=3, stride=1, padding=0, dilation=1),      # kernel = input
            Case("dilation", size=10, kernel_size=3, stride=2, padding=3, dilation=3),
            Case("dilation", size=9, kernel_size=2, stride=2, padding=0, dilation=4),   # 2.5 -> 2
            Case("padding", size=28, kernel_size=5, stride=1, padding=2, dilation=1),
        ]
    return cases


def _size_mistakes(args, expected):
    n, k, s, p, d = (args[key] for key in ("size", "kernel_size", "stride", "padding", "dilation"))
    exact = (n + 2 * p - d * (k - 1) - 1) / s
    return [
        Suspect("dilation ignored", "the kernel spans d*(k-1)+1 inputs when dilated", (n + 2 * p - k) // s + 1),
        Suspect("forgot the +1", "count the first position too: ... // stride + 1",
                (n + 2 * p - d * (k - 1) - 1) // s),
        Suspect("padding counted once", "padding is added on both sides: 2*padding",
                (n + p - d * (k - 1) - 1) // s + 1),
        Suspect("ceil instead of floor", "a window that does not fit entirely is dropped: use floor",
                math.ceil(exact) + 1),
        Suspect("round instead of floor", "round() goes up from .5; a window that does not fit "
                "entirely is dropped: use floor division //", round(exact) + 1),
        Suspect("stride ignored", "divide by the stride", n + 2 * p - d * (k - 1)),
    ]


def check_conv_output_size(fn, hidden=False):
    """``conv_output_size(size, kernel_size, stride, padding, dilation)`` -> int."""
    __tracebackhide__ = True
    return run_check("conv_output_size", fn, _size_cases(hidden), F.conv_output_size, same_int,
                     _size_mistakes, hidden=hidden,
                     still_checked=("sizes where floor and round() differ", "stride larger than the kernel",
                                    "full padding", "dilation with padding", "AlexNet's 224 vs 227"))


# --------------------------------------------------------------------------
# conv2d_single
# --------------------------------------------------------------------------

LECTURE_A = np.arange(1.0, 17).reshape(4, 4)
LECTURE_W = np.array([[1.0, 0], [-1, 2]])


def reference_conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    """conv2d of one 2-D image with one 2-D kernel: (H, W) -> (H_out, W_out)."""
    out = F.conv2d(np.asarray(image, float)[None, None], np.asarray(kernel, float)[None, None],
                   np.array([bias], float), stride, padding, dilation)
    return out[0, 0]


def conv_mistakes(reference, args, expected, flip):
    """Known mistakes for any conv2d-style function given keyword ``args``."""
    weight_key = "kernel" if "kernel" in args else "weight"
    found = [Suspect("flipped kernel", "deep-learning 'convolution' is cross-correlation: do not flip the kernel",
                     reference(**{**args, weight_key: flip(args[weight_key])})),
             M.integer_result(expected)]
    bias = args.get("bias")
    if bias is not None and np.any(np.asarray(bias) != 0):
        no_bias = {**args, "bias": 0.0 if np.isscalar(bias) else np.zeros_like(bias)}
        found.append(Suspect("forgot the bias", "add the bias to every output value", reference(**no_bias)))
    for key, label, hint, neutral in (
            ("stride", "stride ignored", "move the window by `stride` cells: input row = i*stride + u", 1),
            ("dilation", "dilation ignored", "kernel taps are `dilation` cells apart: "
                                            "input row = i*stride + u*dilation", 1),
            ("padding", "padding not applied", "zero-pad the input before sliding the kernel", 0)):
        value = args.get(key, neutral)
        pair = as_pair(value, key)
        if pair != (neutral, neutral):
            _add(found, label, hint, reference, {**args, key: neutral})
        if pair[0] != pair[1]:
            _add(found, f"{key} pair order swapped", f"{key}=(h, w): the first number is for rows "
                 "(axis -2), the second for columns (axis -1)", reference, {**args, key: pair[::-1]})
            _add(found, f"only the first number of the {key} pair used", f"{key}=(h, w) may differ "
                 "per axis: use both", reference, {**args, key: pair[0]})
    found.append(Suspect("height and width swapped", "rows are axis -2, columns axis -1",
                         M.swap_height_width(expected)))
    return found


def _add(found, label, hint, reference, args):
    """Add the Suspect of a mistake if the reference can run with those arguments."""
    try:
        found.append(Suspect(label, hint, reference(**args)))
    except ValueError:
        pass


def conv_shape_mistakes(in_hw, kernel_hw, stride, padding, dilation, prefix):
    """Suspects matching only the *shape* of a size-formula mistake (off-by-one, ceil, padding once)."""
    (h, w), (kh, kw) = in_hw, kernel_hw
    s, p, d = as_pair(stride, "stride"), as_pair(padding, "padding"), as_pair(dilation, "dilation")

    def sizes(formula):
        return tuple(prefix) + tuple(formula(n, k, s_, p_, d_) for n, k, s_, p_, d_ in
                                     zip((h, w), (kh, kw), s, p, d))
    found = [
        Suspect("off-by-one output size (forgot the +1)", "the output size is "
                "floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1",
                shape_is(sizes(lambda n, k, s_, p_, d_: (n + 2 * p_ - d_ * (k - 1) - 1) // s_))),
        Suspect("off-by-one output size (ceil instead of floor)", "windows that do not fit are dropped: "
                "floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1",
                shape_is(sizes(lambda n, k, s_, p_, d_: -(-(n + 2 * p_ - d_ * (k - 1) - 1) // s_) + 1))),
    ]
    want = tuple(prefix) + output_hw((h, w), (kh, kw), s, p, d)
    return [f for f in found if not f.output(np.zeros(want))]


#: Share of the points for a convolution whose only mistake is the missing bias: hidden cases all have one.
FORGOT_BIAS_CREDIT = 0.5


def check_conv2d_single(fn, hidden=False, zero_pad=None, conv_output_size=None):
    """``conv2d_single(image, kernel, bias, stride, padding, dilation)`` on one channel.

    ``zero_pad`` and ``conv_output_size``: the student's own helpers, which the
    text suggests calling. When a case fails and a helper is wrong on that
    case's numbers, the feedback names the helper.
    """
    __tracebackhide__ = True
    rng = seeded(204)
    cases = [
        Case("basic", image=LECTURE_A, kernel=LECTURE_W, bias=0.0, stride=1, padding=0, dilation=1),
        Case("bias and stride", image=LECTURE_A, kernel=LECTURE_W, bias=1.0, stride=2, padding=0, dilation=1),
        Case("padding", image=LECTURE_A, kernel=LECTURE_W, bias=0.0, stride=1, padding=1, dilation=1),
        Case("bias and stride", image=small_ints(rng, (7, 7)), kernel=small_ints(rng, (3, 3)), bias=-2.0,
             stride=2, padding=1, dilation=1),
        Case("dilation", image=small_ints(rng, (7, 6)), kernel=small_ints(rng, (3, 3)), bias=0.5, stride=1,
             padding=0, dilation=2),
        Case("pairs (h, w)", image=small_ints(rng, (6, 7)), kernel=small_ints(rng, (2, 3)), bias=1.0,
             stride=(2, 1), padding=(0, 1), dilation=(1, 2)),
        Case("uint8 image", image=uint8_image(rng, (5, 5)), kernel=np.array([[1.0, -1], [0.5, 0]]), bias=0.0,
             stride=1, padding=1, dilation=1),
    ]
    if hidden:
        rng = fresh_rng()
        for group, (h, w, kh, kw, s, p, d) in [
            ("basic", (5, 7, 3, 3, 1, 0, 1)), ("bias and stride", (9, 8, 2, 2, 3, 0, 1)),
            ("basic", (4, 4, 4, 4, 1, 0, 1)), ("pairs (h, w)", (6, 5, 3, 2, (2, 1), (1, 0), 1)),
            ("dilation", (8, 9, 3, 3, 2, 2, 2)), ("basic", (1, 1, 1, 1, 1, 0, 1)),
            ("pairs (h, w)", (5, 3, 2, 3, 1, (0, 1), (2, 1))), ("bias and stride", (10, 7, 3, 3, 4, 1, 1)),
            ("pairs (h, w)", (7, 9, 3, 2, (1, 3), (2, 0), (1, 2))), ("padding", (3, 5, 3, 3, 1, 2, 1)),
            ("bias and stride", (5, 5, 3, 3, 3, 0, 1)),
        ]:
            cases.append(Case(group, image=small_ints(rng, (h, w)), kernel=small_ints(rng, (kh, kw)),
                              bias=float(rng.integers(-2, 3)), stride=s, padding=p, dilation=d))
        cases.append(Case("uint8 image", image=uint8_image(rng, (6, 5)), kernel=small_ints(rng, (3, 2)) / 2,
                          bias=-1.0, stride=(2, 1), padding=(1, 0), dilation=1))

    def mistakes(args, expected):
        found = conv_mistakes(reference_conv2d_single, args, expected, M.flip_kernel)
        return found + conv_shape_mistakes(np.shape(args["image"]), np.shape(args["kernel"]), args["stride"],
                                           args["padding"], args["dilation"], ())

    def helpers(args):
        ph, pw = as_pair(args["padding"], "padding")
        blamed = helper_blame("zero_pad", zero_pad, dict(x=args["image"], padding=(ph, pw)),
                              reference_zero_pad(args["image"], (ph, pw)), same_array(), caller=fn)
        for axis in (0, 1):
            if blamed:
                break
            size_args = dict(size=np.shape(args["image"])[axis], kernel_size=np.shape(args["kernel"])[axis],
                             stride=as_pair(args["stride"], "stride")[axis], padding=(ph, pw)[axis],
                             dilation=as_pair(args["dilation"], "dilation")[axis])
            blamed = helper_blame("conv_output_size", conv_output_size, size_args,
                                  F.conv_output_size(**size_args), same_int, caller=fn)
        return blamed

    def without_bias(args, expected):
        return expected - args["bias"]

    return run_check("conv2d_single", fn, cases, reference_conv2d_single, same_array(), mistakes,
                     hidden=hidden, helpers=helpers, credit=credit_if_only(without_bias, FORGOT_BIAS_CREDIT),
                     still_checked=("rectangular images and kernels", "stride larger than the kernel",
                                    "a kernel as large as the image", "all three pairs at once",
                                    "negative values", "uint8 images with pairs"))


# --------------------------------------------------------------------------
# Check your understanding: same_padding and left_difference
# --------------------------------------------------------------------------

def reference_same_padding(kernel_size):
    """p = (k - 1) / 2 keeps the size for stride 1 and odd k."""
    return (kernel_size - 1) // 2


def check_same_padding(fn, hidden=False):
    """``same_padding(kernel_size)`` -> int p with conv_output_size(n, k, 1, p) == n (odd k)."""
    __tracebackhide__ = True
    cases = [Case("odd kernels", kernel_size=k) for k in (1, 3, 5, 7)]
    if hidden:
        cases += [Case("odd kernels", kernel_size=k) for k in (9, 11, 31)]

    def mistakes(args, expected):
        k = args["kernel_size"]
        return [
            Suspect("padding on one side only", "padding is added on both sides, so 2p = k - 1", k - 1),
            Suspect("padding k", "a 28-pixel input then gives 28 + 2k - k + 1 outputs: solve "
                    "n + 2p - k + 1 = n for p", k),
            Suspect("one too many", "p = (k - 1) / 2, e.g. 1 for a 3x3 kernel", expected + 1),
        ]
    return run_check("same_padding", fn, cases, reference_same_padding, same_int, mistakes, hidden=hidden,
                     still_checked=("kernel sizes 9, 11 and 31",))


def check_left_difference(left_difference, hidden=False):
    """The value ``left_difference``: a (1, 2) kernel giving image[:, 1:] - image[:, :-1]."""
    __tracebackhide__ = True
    got = np.array(left_difference) if isinstance(left_difference, (list, tuple)) else left_difference
    if type(got) is not np.ndarray or got.dtype == bool or not np.issubdtype(got.dtype, np.number):
        raise CheckFailure("left_difference must be a numpy array such as np.array([[a, b]]), got "
                           f"{type(left_difference).__name__}")
    if got.shape != (1, 2):
        hint = (" Write it as one row of two numbers, np.array([[a, b]]): shape (1, 2)." if got.size == 2 else "")
        if got.shape == (2, 1):
            hint = " (2, 1) is a column: it differences vertical neighbours. Use one row, shape (1, 2)."
        raise CheckFailure(f"left_difference should have shape (1, 2), got {got.shape}.{hint}")
    test_image = np.array([[0.0, 1, 4, 9], [10, 8, 8, 2], [5, 5, 5, 5]])
    received = F.correlate2d(test_image, got.astype(float), "valid")
    want = test_image[:, 1:] - test_image[:, :-1]
    if np.allclose(received, want):
        return CheckResult("left_difference", 1, hidden)
    message = (f"left_difference = {got.tolist()} is wrong: correlating an image with it must give "
               "b - a for every pair of neighbours a (left), b (right).\n"
               "Correlation computes w[0,0]*a + w[0,1]*b.")
    if np.allclose(received, -want):
        message += "\nLikely mistake: sign reversed: that gives a - b."
    raise CheckFailure(message)
