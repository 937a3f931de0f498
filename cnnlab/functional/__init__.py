"""NumPy reference numerics for the course (never imports torch).

Array conventions: channels first, ``(N, C, H, W)`` batches and ``(C_out, C_in, KH, KW)``
weights; float64 unless the caller passes float32. "Convolution" in the deep-learning
functions (``conv1d``, ``conv2d``) is cross-correlation (no kernel flip); the
signal-processing convolution with a flipped kernel is ``convolve1d``/``convolve2d``.

Each topic has a loop version that reads like the slide formula (``*_naive``) and a
vectorised version (strided window views + matrix products) that the public name uses.
"""

from cnnlab.functional.activation import (
    cross_entropy,
    cross_entropy_backward,
    log_softmax,
    relu,
    relu_backward,
    softmax,
)
from cnnlab.functional.conv import (
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_naive,
)
from cnnlab.functional.correlate import (
    convolve1d,
    convolve1d_naive,
    convolve2d,
    convolve2d_naive,
    correlate1d,
    correlate1d_naive,
    correlate2d,
    correlate2d_naive,
    zero_pad,
    zero_pad1d,
)
from cnnlab.functional.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    avg_pool2d_naive,
    lp_pool2d,
    max_pool2d,
    max_pool2d_backward,
    max_pool2d_backward_naive,
    max_pool2d_naive,
    min_pool2d,
    min_pool2d_backward,
)
from cnnlab.functional.sizes import (
    check_pool_padding,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
)

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool2d_naive",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_naive",
    "check_pool_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "pool_output_size",
    "convolve1d",
    "convolve1d_naive",
    "convolve2d",
    "convolve2d_naive",
    "correlate1d",
    "correlate1d_naive",
    "correlate2d",
    "correlate2d_naive",
    "cross_entropy",
    "cross_entropy_backward",
    "log_softmax",
    "lp_pool2d",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_backward_naive",
    "max_pool2d_naive",
    "min_pool2d",
    "min_pool2d_backward",
    "relu",
    "relu_backward",
    "softmax",
    "zero_pad",
    "zero_pad1d",
]
