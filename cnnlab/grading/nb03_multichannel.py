"""Checks for notebook 03: multi-channel ``conv2d`` on (N, C, H, W) and counting its parameters.

``conv2d`` is graded in parts (basic, padding, stride and padding pairs,
dilation, batches and channels): an answer right except for one part keeps
the share of the points of the parts it gets right. Hidden cases add integer
inputs, negative values, stride larger than the kernel, 1x1 kernels and
kernels as large as the input, and batch sizes 1 and 3.
"""

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_pair
from cnnlab.grading import mistakes as M
from cnnlab.grading.engine import Case, credit_if_only, run_check, same_array, same_int
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.inputs import fresh_rng, int_array, seeded, small_ints
from cnnlab.grading.nb02_convolution_2d import FORGOT_BIAS_CREDIT, conv_mistakes, conv_shape_mistakes


def _conv2d_case(group, rng, n, c_in, c_out, h, w, kh, kw, stride=1, padding=0, dilation=1, bias=True,
                 make=small_ints):
    # integer images get quarter weights: the output then has fractions, which an int result array loses
    scale = 0.25 if make is int_array else 1.0
    return Case(group, x=make(rng, (n, c_in, h, w)), weight=scale * small_ints(rng, (c_out, c_in, kh, kw)),
                bias=small_ints(rng, (c_out,)) if bias else None, stride=stride, padding=padding,
                dilation=dilation)


def _conv2d_cases(hidden):
    rng = seeded(303)
    cases = [
        _conv2d_case("basic", rng, 1, 3, 2, 5, 5, 3, 3),                      # the lecture's 5x5x3 volume
        _conv2d_case("basic", rng, 1, 1, 1, 4, 4, 1, 1, bias=False),          # 1x1 convolution, no bias
        _conv2d_case("padding", rng, 1, 3, 2, 5, 5, 3, 3, stride=2, padding=1),  # two 3x3x3 filters, s2 p1
        _conv2d_case("stride and padding pairs", rng, 1, 2, 2, 6, 7, 3, 2, stride=(2, 1), padding=(1, 0)),
        _conv2d_case("dilation", rng, 1, 2, 2, 7, 6, 3, 3, dilation=2),
        _conv2d_case("batches and channels", rng, 2, 2, 3, 4, 5, 2, 2),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            _conv2d_case("basic", rng, 1, 3, 4, 5, 7, 3, 3),                  # padding 0, H != W
            _conv2d_case("basic", rng, 1, 1, 2, 4, 4, 4, 4),                  # kernel = input size
            _conv2d_case("basic", rng, 1, 2, 2, 5, 6, 2, 3, make=int_array),  # integer input
            _conv2d_case("padding", rng, 1, 4, 3, 6, 6, 3, 3, stride=1, padding=1),
            _conv2d_case("padding", rng, 1, 1, 1, 3, 4, 3, 3, padding=2),
            _conv2d_case("stride and padding pairs", rng, 1, 3, 5, 7, 5, 3, 2, stride=(2, 1), padding=(1, 0)),
            _conv2d_case("stride and padding pairs", rng, 1, 2, 2, 9, 8, 2, 2, stride=3),   # stride > kernel
            _conv2d_case("stride and padding pairs", rng, 1, 2, 3, 8, 9, 2, 3, stride=(1, 3), padding=(2, 1)),
            _conv2d_case("dilation", rng, 1, 1, 1, 5, 5, 3, 3, stride=2, padding=2, dilation=(1, 2)),
            _conv2d_case("dilation", rng, 1, 2, 2, 8, 7, 2, 2, dilation=(3, 1)),
            _conv2d_case("batches and channels", rng, 3, 4, 3, 6, 6, 3, 3, stride=1, padding=1),
            _conv2d_case("batches and channels", rng, 1, 4, 1, 3, 3, 1, 1),        # 1x1 conv mixes channels
            _conv2d_case("batches and channels", rng, 2, 3, 2, 5, 4, 3, 3, bias=False, make=int_array),
        ]
    return cases


def _conv2d_mistakes(args, expected):
    found = conv_mistakes(F.conv2d, args, expected, M.flip_kernel)
    n, c_in, h, w = args["x"].shape
    c_out, _, kh, kw = args["weight"].shape
    if args["bias"] is not None and c_in > 1:
        found.append(Suspect("bias added once per input channel", "add the bias once per output value, "
                             "after summing over input channels",
                             expected + (c_in - 1) * args["bias"][None, :, None, None]))
    found.append(M.channels_last(expected))
    h_out, w_out = expected.shape[2:]
    found += [
        Suspect("input channels not summed", "sum over C_in as well", shape_of(n, c_out, c_in, h_out, w_out)),
        Suspect("one output channel per input channel", "the output has one channel per *filter* "
                "(C_out), not per input channel", shape_of(n, c_in, h_out, w_out) if c_in != c_out else None),
        Suspect("batch axis dropped", "keep the batch axis N in the output", shape_of(c_out, h_out, w_out)),
    ]
    found += conv_shape_mistakes((h, w), (kh, kw), args["stride"], args["padding"], args["dilation"], (n, c_out))
    return [s for s in found if s.output is not None]


def shape_of(*shape):
    """A suspect output matching arrays of exactly this shape."""
    return lambda received: isinstance(received, np.ndarray) and received.shape == shape


def _without_bias(args, expected):
    return expected if args["bias"] is None else expected - args["bias"][None, :, None, None]


def check_conv2d(fn, hidden=False):
    """``conv2d(x, weight, bias, stride, padding, dilation)``: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""
    __tracebackhide__ = True
    return run_check("conv2d", fn, _conv2d_cases(hidden), F.conv2d, same_array(), _conv2d_mistakes,
                     hidden=hidden, credit=credit_if_only(_without_bias, FORGOT_BIAS_CREDIT),
                     still_checked=("integer inputs", "negative values", "stride larger than the kernel",
                                    "kernels as large as the input", "a batch of 3", "pairs for every argument"))


# --------------------------------------------------------------------------
# count_conv_params
# --------------------------------------------------------------------------

def reference_count_conv_params(c_in, c_out, kernel_size, bias=True):
    """C_out * C_in * KH * KW weights plus C_out biases."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    return c_out * c_in * kh * kw + (c_out if bias else 0)


def check_count_conv_params(fn, hidden=False):
    """``count_conv_params(c_in, c_out, kernel_size, bias=True)`` -> int."""
    __tracebackhide__ = True
    cases = [
        Case("square kernel", c_in=3, c_out=2, kernel_size=3, bias=True),        # 56 = 2 x (27 + 1)
        Case("square kernel", c_in=3, c_out=96, kernel_size=11, bias=True),      # AlexNet conv1: 34,944
        Case("bias=False", c_in=3, c_out=2, kernel_size=3, bias=False),          # 54
        Case("kernel pair (KH, KW)", c_in=3, c_out=10, kernel_size=(3, 5), bias=True),   # 460
    ]
    if hidden:
        cases += [
            Case("square kernel", c_in=1, c_out=10, kernel_size=3, bias=True),
            Case("square kernel", c_in=256, c_out=64, kernel_size=1, bias=True),
            Case("bias=False", c_in=64, c_out=128, kernel_size=(1, 7), bias=False),
            Case("kernel pair (KH, KW)", c_in=5, c_out=1, kernel_size=(2, 4), bias=True),
            Case("kernel pair (KH, KW)", c_in=7, c_out=3, kernel_size=(4, 1), bias=True),
        ]

    def mistakes(args, expected):
        from cnnlab.grading.nb07_alexnet_parameters import conv_param_mistakes
        return conv_param_mistakes(args["c_in"], args["c_out"], args["kernel_size"], 1, args["bias"])
    return run_check("count_conv_params", fn, cases, reference_count_conv_params, same_int, mistakes,
                     hidden=hidden, still_checked=("one input channel", "1x1 kernels",
                                                   "(1, 7) and (4, 1) kernels"))
