"""Every public function in cnnlab.functional rejects bad arguments with a message that names
the argument and shows what it received (value or shape) and what it needs."""

import re

import numpy as np
import pytest

import cnnlab.functional as F

X = np.zeros((2, 3, 5, 5))  # (N, C, H, W)
W = np.zeros((4, 3, 3, 3))  # (C_out, C_in, KH, KW)
X1 = np.zeros((2, 3, 8))  # (N, C, L)
W1 = np.zeros((4, 3, 3))  # (C_out, C_in, K)
OUT = np.zeros((2, 4, 3, 3))  # conv2d(X, W) output
POOLED = np.zeros((2, 3, 2, 2))  # max_pool2d(X, 2) output
LOGITS = np.zeros((3, 4))
NAN_X = X.copy()
NAN_X[0, 0, 0, 0] = np.nan


def esc(text):
    return re.escape(text)


CASES = [
    # --- conv_output_size / conv_transpose_output_size
    (
        "size_kernel_too_big",
        F.conv_output_size,
        (2, 5),
        {},
        ValueError,
        r"kernel_size=5 with dilation=1 spans 5 inputs, larger than the padded input size 2",
    ),
    (
        "size_dilated_span",
        F.conv_output_size,
        (5, 3),
        dict(dilation=3),
        ValueError,
        r"kernel_size=3 with dilation=3 spans 7 inputs, larger than the padded input size 5",
    ),
    ("size_stride_zero", F.conv_output_size, (5, 3), dict(stride=0), ValueError, r"stride must be >= 1, got 0"),
    (
        "size_negative_padding",
        F.conv_output_size,
        (5, 3),
        dict(padding=-1),
        ValueError,
        r"padding must be >= 0, got -1",
    ),
    ("size_float_kernel", F.conv_output_size, (5, 2.5), {}, TypeError, r"kernel_size must be an int, got 2.5"),
    ("size_bool_stride", F.conv_output_size, (5, 3), dict(stride=True), TypeError, r"stride must be an int, got True"),
    (
        "transpose_output_padding",
        F.conv_transpose_output_size,
        (4, 3),
        dict(stride=2, output_padding=2),
        ValueError,
        r"output_padding must be smaller than stride or dilation, got output_padding=2",
    ),
    # --- conv2d / conv2d_backward
    (
        "conv2d_x_3d",
        F.conv2d,
        (np.zeros((1, 5, 5)), W),
        {},
        ValueError,
        esc("x must be 4-D, got a 3-D array of shape (1, 5, 5)"),
    ),
    (
        "conv2d_weight_3d",
        F.conv2d,
        (X, np.zeros((3, 3, 3))),
        {},
        ValueError,
        esc("weight must be 4-D, got a 3-D array of shape (3, 3, 3)"),
    ),
    (
        "conv2d_channel_mismatch",
        F.conv2d,
        (X, np.zeros((4, 2, 3, 3))),
        {},
        ValueError,
        r"weight has C_in=2 but x has C=3 channels",
    ),
    (
        "conv2d_bias_shape",
        F.conv2d,
        (X, W, np.zeros(3)),
        {},
        ValueError,
        esc("bias must have shape (4,)") + r".*got \(3,\)",
    ),
    (
        "conv2d_kernel_too_big",
        F.conv2d,
        (X, np.zeros((4, 3, 6, 6))),
        {},
        ValueError,
        esc("kernel (6, 6) with dilation (1, 1) spans 6x6, larger than the padded input 5x5"),
    ),
    (
        "conv2d_dilated_kernel_too_big",
        F.conv2d,
        (X, W),
        dict(dilation=(3, 1), padding=(0, 1)),
        ValueError,
        esc("kernel (3, 3) with dilation (3, 1) spans 7x3, larger than the padded input 5x7"),
    ),
    ("conv2d_stride_zero", F.conv2d, (X, W), dict(stride=(1, 0)), ValueError, r"stride must be >= 1, got 0"),
    ("conv2d_dilation_zero", F.conv2d, (X, W), dict(dilation=0), ValueError, r"dilation must be >= 1, got 0"),
    ("conv2d_negative_padding", F.conv2d, (X, W), dict(padding=-2), ValueError, r"padding must be >= 0, got -2"),
    (
        "conv2d_padding_triple",
        F.conv2d,
        (X, W),
        dict(padding=(1, 1, 1)),
        ValueError,
        esc("padding must be an int or an (h, w) pair, got (1, 1, 1)"),
    ),
    (
        "conv2d_bool_input",
        F.conv2d,
        (X.astype(bool), W),
        {},
        TypeError,
        r"x must hold numbers \(int or float\), got dtype bool",
    ),
    (
        "conv2d_string_weight",
        F.conv2d,
        (X, np.full((4, 3, 3, 3), "a")),
        {},
        TypeError,
        r"weight must hold numbers \(int or float\), got dtype <U1",
    ),
    ("conv2d_nan_input", F.conv2d, (NAN_X, W), {}, ValueError, r"x contains NaN or inf"),
    ("conv2d_inf_weight", F.conv2d, (X, np.full((4, 3, 3, 3), np.inf)), {}, ValueError, r"weight contains NaN or inf"),
    (
        "conv2d_backward_dout_shape",
        F.conv2d_backward,
        (np.zeros((2, 4, 5, 5)), X, W),
        {},
        ValueError,
        esc("dout must have shape (2, 4, 3, 3) (the conv2d output shape") + r".*got \(2, 4, 5, 5\)",
    ),
    (
        "conv2d_backward_dout_ndim",
        F.conv2d_backward,
        (np.zeros((4, 3, 3)), X, W),
        {},
        ValueError,
        esc("dout must be 4-D, got a 3-D array of shape (4, 3, 3)"),
    ),
    (
        "conv2d_naive_channel_mismatch",
        F.conv2d_naive,
        (X, np.zeros((4, 1, 3, 3))),
        {},
        ValueError,
        r"weight has C_in=1 but x has C=3 channels",
    ),
    (
        "conv2d_backward_naive_dout_shape",
        F.conv2d_backward_naive,
        (np.zeros((2, 4, 3, 4)), X, W),
        {},
        ValueError,
        esc("dout must have shape (2, 4, 3, 3)") + r".*got \(2, 4, 3, 4\)",
    ),
    # --- conv1d
    ("conv1d_x_4d", F.conv1d, (X, W1), {}, ValueError, esc("x must be 3-D, got a 4-D array of shape (2, 3, 5, 5)")),
    (
        "conv1d_channel_mismatch",
        F.conv1d,
        (X1, np.zeros((4, 2, 3))),
        {},
        ValueError,
        r"weight has C_in=2 but x has C=3 channels",
    ),
    (
        "conv1d_kernel_too_big",
        F.conv1d,
        (X1, W1),
        dict(dilation=4),
        ValueError,
        r"kernel of size 3 with dilation 4 spans 9, larger than the padded input of length 8",
    ),
    (
        "conv1d_pair_stride",
        F.conv1d,
        (X1, W1),
        dict(stride=(1, 1)),
        TypeError,
        esc("stride must be an int, got (1, 1)"),
    ),
    (
        "conv1d_backward_dout_shape",
        F.conv1d_backward,
        (np.zeros((2, 4, 7)), X1, W1),
        {},
        ValueError,
        esc("dout must have shape (2, 4, 6)") + r".*got \(2, 4, 7\)",
    ),
    # --- pooling
    (
        "max_pool_x_2d",
        F.max_pool2d,
        (np.zeros((5, 5)), 2),
        {},
        ValueError,
        esc("x must be 4-D, got a 2-D array of shape (5, 5)"),
    ),
    (
        "max_pool_padding_too_big",
        F.max_pool2d,
        (X, 3),
        dict(padding=2),
        ValueError,
        esc("padding (2, 2) must be at most half of kernel_size (3, 3), i.e. <= (1, 1)"),
    ),
    (
        "avg_pool_padding_too_big",
        F.avg_pool2d,
        (X, (2, 4)),
        dict(padding=(0, 3)),
        ValueError,
        esc("padding (0, 3) must be at most half of kernel_size (2, 4), i.e. <= (1, 2)"),
    ),
    (
        "max_pool_kernel_too_big",
        F.max_pool2d,
        (X, 6),
        {},
        ValueError,
        esc("kernel (6, 6) with dilation (1, 1) spans 6x6, larger than the padded input 5x5"),
    ),
    ("max_pool_kernel_zero", F.max_pool2d, (X, 0), {}, ValueError, r"kernel_size must be >= 1, got 0"),
    ("avg_pool_stride_negative", F.avg_pool2d, (X, 2), dict(stride=-1), ValueError, r"stride must be >= 1, got -1"),
    ("min_pool_dilation_zero", F.min_pool2d, (X, 2), dict(dilation=0), ValueError, r"dilation must be >= 1, got 0"),
    ("max_pool_nan", F.max_pool2d, (NAN_X, 2), {}, ValueError, r"x contains NaN or inf"),
    (
        "max_pool_backward_dout_shape",
        F.max_pool2d_backward,
        (np.zeros((2, 3, 3, 3)), X, 2),
        {},
        ValueError,
        esc("dout must have shape (2, 3, 2, 2) (the max_pool2d output shape") + r".*got \(2, 3, 3, 3\)",
    ),
    (
        "avg_pool_backward_dout_shape",
        F.avg_pool2d_backward,
        (np.zeros((2, 3, 2)), X, 2),
        {},
        ValueError,
        esc("dout must be 4-D, got a 3-D array of shape (2, 3, 2)"),
    ),
    (
        "max_pool_backward_naive_dout_shape",
        F.max_pool2d_backward_naive,
        (np.zeros((1, 3, 2, 2)), X, 2),
        {},
        ValueError,
        esc("dout must have shape (2, 3, 2, 2)") + r".*got \(1, 3, 2, 2\)",
    ),
    ("lp_pool_p_zero", F.lp_pool2d, (X, 0, 2), {}, ValueError, r"p must be a finite number > 0, got 0"),
    ("lp_pool_p_negative", F.lp_pool2d, (X, -1.5, 2), {}, ValueError, r"p must be a finite number > 0, got -1.5"),
    ("lp_pool_p_string", F.lp_pool2d, (X, "2", 2), {}, TypeError, r"p must be a number, got '2' \(str\)"),
    # --- 1-D / 2-D correlation
    (
        "correlate1d_bad_mode",
        F.correlate1d,
        (np.ones(5), np.ones(2), "circular"),
        {},
        ValueError,
        r"mode must be 'valid', 'same' or 'full', got 'circular'",
    ),
    (
        "convolve2d_bad_mode",
        F.convolve2d,
        (np.ones((3, 3)), np.ones((2, 2)), "Valid"),
        {},
        ValueError,
        r"mode must be 'valid', 'same' or 'full', got 'Valid'",
    ),
    (
        "correlate1d_2d_input",
        F.correlate1d,
        (np.ones((2, 3)), np.ones(2)),
        {},
        ValueError,
        esc("x must be 1-D, got a 2-D array of shape (2, 3)"),
    ),
    (
        "convolve1d_empty_kernel",
        F.convolve1d,
        (np.ones(3), np.ones(0)),
        {},
        ValueError,
        esc("w must not be empty, got shape (0,)"),
    ),
    (
        "correlate2d_kernel_1d",
        F.correlate2d,
        (np.ones((3, 3)), np.ones(3)),
        {},
        ValueError,
        esc("kernel must be 2-D, got a 1-D array of shape (3,)"),
    ),
    (
        "correlate2d_valid_mixed",
        F.correlate2d,
        (np.ones((2, 5)), np.ones((4, 3)), "valid"),
        {},
        ValueError,
        esc("kernel of shape (4, 3) must fit inside image of shape (2, 5)"),
    ),
    (
        "correlate2d_complex",
        F.correlate2d,
        (np.ones((3, 3)) * 1j, np.ones((2, 2))),
        {},
        TypeError,
        r"image must be real-valued, got dtype complex128",
    ),
    (
        "zero_pad_1d",
        F.zero_pad,
        (np.ones(3), 1),
        {},
        ValueError,
        esc("x must have at least 2 axes (..., H, W), got a 1-D array of shape (3,)"),
    ),
    ("zero_pad_negative", F.zero_pad, (np.ones((3, 3)), (1, -1)), {}, ValueError, r"padding must be >= 0, got -1"),
    # --- activations and loss
    (
        "relu_backward_shape",
        F.relu_backward,
        (np.ones((2, 3)), np.ones((3, 2))),
        {},
        ValueError,
        esc("dout must have shape (3, 2) (the shape of x), got (2, 3)"),
    ),
    (
        "softmax_3d",
        F.softmax,
        (np.ones((2, 3, 4)),),
        {},
        ValueError,
        esc("logits must be 1-D or 2-D, got a 3-D array of shape (2, 3, 4)"),
    ),
    (
        "cross_entropy_target_range",
        F.cross_entropy,
        (LOGITS, np.array([0, 4, 1])),
        {},
        ValueError,
        esc("targets must be in [0, 4), got 4 at index 1"),
    ),
    (
        "cross_entropy_negative_target",
        F.cross_entropy,
        (LOGITS, np.array([0, 1, -1])),
        {},
        ValueError,
        esc("targets must be in [0, 4), got -1 at index 2"),
    ),
    (
        "cross_entropy_float_targets",
        F.cross_entropy,
        (LOGITS, np.array([0.0, 1.0, 2.0])),
        {},
        TypeError,
        r"targets must hold integer class labels, got dtype float64",
    ),
    (
        "cross_entropy_target_shape",
        F.cross_entropy_backward,
        (LOGITS, np.array([0, 1])),
        {},
        ValueError,
        esc("targets must have shape (3,) (one label per row of logits), got (2,)"),
    ),
    (
        "cross_entropy_logits_1d",
        F.cross_entropy,
        (np.zeros(4), np.array([1])),
        {},
        ValueError,
        esc("logits must be 2-D, got a 1-D array of shape (4,)"),
    ),
    (
        "cross_entropy_nan_logits",
        F.cross_entropy,
        (np.full((3, 4), np.nan), np.array([0, 1, 2])),
        {},
        ValueError,
        r"logits contains NaN or inf",
    ),
]


@pytest.mark.parametrize("fn, args, kwargs, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_rejected_with_a_precise_message(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_there_are_at_least_30_distinct_error_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 30
