"""2-D pooling: max, average, min and power-average (Lp) pooling, forward and backward.

x: (N, C, H, W) -> (N, C, H_out, W_out), each channel pooled on its own, with
``H_out = conv_output_size(H, KH, stride, padding, dilation)`` (floor, like PyTorch's
default ``ceil_mode=False``). ``stride`` defaults to ``kernel_size`` (non-overlapping
windows). Padding fills with the value that can never win: ``-inf`` for max, ``+inf``
for min and ``0`` for average (``count_include_pad=True``: padded zeros count in the
mean). As in PyTorch, padding may be at most half the kernel size.

The slide formula for max pooling::

    out[n, c, i, j] = max_{u, v} x_pad[n, c, i*s + u*d, j*s + v*d]

and its gradient goes only to the input that won the window (the first maximum in
row-major order when several values tie, like PyTorch).
"""

import numpy as np

from cnnlab._validation import as_array, as_pair, check_positive_float, check_shape
from cnnlab.functional.sizes import output_hw


# ----------------------------------------------------------------------------- checks

def _check_pool_args(x, kernel_size, stride, padding, dilation=1):
    """Validate pooling arguments; return (x, kernel, stride, padding, dilation, (H_out, W_out))."""
    x = as_array(x, "x", ndim=4)
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    padding = as_pair(padding, "padding", minimum=0)
    dilation = as_pair(dilation, "dilation", minimum=1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(
            f"padding {padding} must be at most half of kernel_size {kernel}, "
            f"i.e. <= {(kernel[0] // 2, kernel[1] // 2)}"
        )
    out_hw = output_hw(x.shape[2:], kernel, stride, padding, dilation)
    return x, kernel, stride, padding, dilation, out_hw


def _check_dout(dout, x, out_hw, forward):
    dout = as_array(dout, "dout", ndim=4)
    return check_shape(dout, "dout", x.shape[:2] + out_hw,
                       f"the {forward} output shape for this x, kernel_size, stride and padding")


def _pad(x, padding, value):
    (ph, pw) = padding
    if ph == 0 and pw == 0:
        return x                                                   # nothing to pad: no copy
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _offset_views(x_pad, kernel, stride, dilation, out_hw):
    """One strided view per kernel offset (u, v), in row-major order (k = u*KW + v).

    x_pad: (N, C, Hp, Wp) -> KH*KW views of shape (N, C, H_out, W_out) with
    ``view_k[n, c, i, j] = x_pad[n, c, i*s + u*d, j*s + v*d]``: offset (u, v) of every window
    at once. They are slices (no copies), so writing into a view of ``dx_pad`` writes into ``dx_pad``.
    Reducing over these KH*KW views instead of over the last two axes of a 6-D sliding window view
    touches memory in order and is an order of magnitude faster.
    """
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel, stride, dilation, out_hw
    views = []
    for u in range(kh):
        for v in range(kw):
            views.append(x_pad[:, :, u * dh:u * dh + sh * (h_out - 1) + 1:sh,
                               v * dw:v * dw + sw * (w_out - 1) + 1:sw])
    return views


# ----------------------------------------------------------------------------- naive loops

def max_pool2d_naive(x, kernel_size, stride=None, padding=0, dilation=1):
    """max_pool2d with plain loops; same arguments and result as ``max_pool2d``."""
    x, (kh, kw), (sh, sw), padding, (dh, dw), (h_out, w_out) = _check_pool_args(
        x, kernel_size, stride, padding, dilation)
    x_pad = _pad(x, padding, -np.inf)
    n_batch, channels = x.shape[:2]
    out = np.zeros((n_batch, channels, h_out, w_out), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    # out[n, c, i, j] = max_{u, v} x_pad[n, c, i*s + u*d, j*s + v*d]
                    best = -np.inf
                    for u in range(kh):
                        for v in range(kw):
                            best = max(best, x_pad[n, c, i * sh + u * dh, j * sw + v * dw])
                    out[n, c, i, j] = best
    return out


def avg_pool2d_naive(x, kernel_size, stride=None, padding=0):
    """avg_pool2d with plain loops; same arguments and result as ``avg_pool2d``."""
    x, (kh, kw), (sh, sw), padding, _, (h_out, w_out) = _check_pool_args(x, kernel_size, stride, padding)
    x_pad = _pad(x, padding, 0.0)
    n_batch, channels = x.shape[:2]
    out = np.zeros((n_batch, channels, h_out, w_out), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    # out[n, c, i, j] = 1/(KH*KW) * sum_{u, v} x_pad[n, c, i*s + u, j*s + v]
                    total = 0.0
                    for u in range(kh):
                        for v in range(kw):
                            total += x_pad[n, c, i * sh + u, j * sw + v]
                    out[n, c, i, j] = total / (kh * kw)
    return out


def max_pool2d_backward_naive(dout, x, kernel_size, stride=None, padding=0, dilation=1):
    """max_pool2d_backward with plain loops; same arguments and result as ``max_pool2d_backward``."""
    x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out_hw = _check_pool_args(
        x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "max_pool2d")
    x_pad = _pad(x, (ph, pw), -np.inf)
    dx_pad = np.zeros(x_pad.shape, dtype=np.result_type(dout, x))
    n_batch, channels, h, w = x.shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(out_hw[0]):
                for j in range(out_hw[1]):
                    # find the winner (r, q) of the window: the first maximum in row-major order
                    best, r, q = -np.inf, -1, -1
                    for u in range(kh):
                        for v in range(kw):
                            value = x_pad[n, c, i * sh + u * dh, j * sw + v * dw]
                            if value > best:
                                best, r, q = value, i * sh + u * dh, j * sw + v * dw
                    # only the winner influenced out[n, c, i, j]: it receives the whole gradient
                    # (a window lying entirely in the padding, possible with dilation, has no winner)
                    if r >= 0:
                        dx_pad[n, c, r, q] += dout[n, c, i, j]
    return dx_pad[:, :, ph:ph + h, pw:pw + w]


# ----------------------------------------------------------------------------- vectorised
#
# The vectorised versions loop over the KH*KW kernel offsets (u, v) instead of over the
# N*C*H_out*W_out windows: each step combines one strided view (N, C, H_out, W_out) of the
# padded input, offset (u, v) of every window at once (see ``_offset_views``).

def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) -> (N, C, H_out, W_out). kernel_size, stride (default kernel_size),
    padding (pads with -inf), dilation: int or (h, w).
    """
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    views = _offset_views(_pad(x, padding, -np.inf), kernel, stride, dilation, out_hw)
    out = views[0].copy()
    for view in views[1:]:
        np.maximum(out, view, out=out)      # out[n, c, i, j] = max_{u, v} x_pad[n, c, i*s + u*d, j*s + v*d]
    return out


def min_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Min pooling (pads with +inf); equals ``-max_pool2d(-x, ...)``. Shapes as ``max_pool2d``."""
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    views = _offset_views(_pad(x, padding, np.inf), kernel, stride, dilation, out_hw)
    out = views[0].copy()
    for view in views[1:]:
        np.minimum(out, view, out=out)      # out[n, c, i, j] = min_{u, v} x_pad[n, c, i*s + u*d, j*s + v*d]
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` with ``count_include_pad=True``.

    x: (N, C, H, W) -> (N, C, H_out, W_out); every window is divided by KH*KW, padded zeros included.
    """
    x, (kh, kw), stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding)
    views = _offset_views(_pad(x, padding, 0.0), (kh, kw), stride, dilation, out_hw)
    total = views[0].copy()
    for view in views[1:]:
        total += view                       # total[n, c, i, j] = sum_{u, v} x_pad[n, c, i*s + u, j*s + v]
    total /= kh * kw                        # out = total / (KH*KW)
    return total


def lp_pool2d(x, p, kernel_size, stride=None):
    """Power-average pooling, as ``torch.nn.functional.lp_pool2d``: ``(sum_window x**p) ** (1/p)``.

    x: (N, C, H, W) -> (N, C, H_out, W_out), no padding. p = 1 is sum pooling, p -> inf
    approaches max pooling. As in PyTorch, a negative window sum with non-integer 1/p gives NaN,
    so use non-negative x (e.g. after ReLU) unless p is an even integer.
    """
    p = check_positive_float(p, "p")
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, 0)
    with np.errstate(invalid="ignore"):
        views = _offset_views(x, kernel, stride, dilation, out_hw)
        sums = views[0] ** p
        for view in views[1:]:
            sums += view ** p               # sums[n, c, i, j] = sum_{u, v} x[n, c, i*s + u, j*s + v] ** p
        return sums ** (1.0 / p)


def max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0, dilation=1):
    """Gradient of ``max_pool2d``: each ``dout`` value goes to the arg-max of its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W). Ties go to the first
    maximum in row-major order (as PyTorch); overlapping windows add up.
    """
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "max_pool2d")
    return _route_to_winner(dout, _pad(x, padding, -np.inf), x.shape, kernel, stride, padding, dilation)


def min_pool2d_backward(dout, x, kernel_size, stride=None, padding=0, dilation=1):
    """Gradient of ``min_pool2d``: each ``dout`` value goes to the first arg-min of its window."""
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "min_pool2d")
    return _route_to_winner(dout, _pad(-x, padding, -np.inf), x.shape, kernel, stride, padding, dilation)


def _route_to_winner(dout, x_pad, x_shape, kernel, stride, padding, dilation):
    """Add dout[n, c, i, j] onto the first arg-max of window (i, j) of x_pad; return the unpadded dx."""
    (ph, pw), out_hw = padding, dout.shape[2:]
    views = _offset_views(x_pad, kernel, stride, dilation, out_hw)
    dx_pad = np.zeros(x_pad.shape, dtype=np.result_type(dout, x_pad))
    dx_views = _offset_views(dx_pad, kernel, stride, dilation, out_hw)
    out = views[0].copy()
    for view in views[1:]:
        np.maximum(out, view, out=out)      # out[n, c, i, j] = max_{u, v} x_pad[n, c, i*s + u*d, j*s + v*d]
    # Only the winner influenced out[n, c, i, j], so it receives the whole gradient. Going through
    # the offsets in row-major order, the winner is the first offset whose value equals the
    # maximum (ties go to the first maximum, like PyTorch); `unclaimed` marks windows still without one.
    unclaimed = np.ones(out.shape, dtype=bool)
    for view, dx_view in zip(views, dx_views):
        won = (view == out) & unclaimed
        # dx_pad[n, c, i*s + u*d, j*s + v*d] += dout[n, c, i, j] where offset (u, v) won window (i, j);
        # within one offset the positions are all different, so += on this strided view adds each once
        dx_view += dout * won
        unclaimed &= ~won
    return np.ascontiguousarray(dx_pad[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]])


def avg_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of ``avg_pool2d``: each ``dout`` value is shared evenly by the KH*KW inputs of its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W)
    """
    x, (kh, kw), stride, (ph, pw), dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, out_hw, "avg_pool2d")
    share = dout / (kh * kw)
    dx_pad = np.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=share.dtype)
    for dx_view in _offset_views(dx_pad, (kh, kw), stride, dilation, out_hw):
        dx_view += share                    # window (i, j) read x_pad[i*s + u, j*s + v] for every offset (u, v)
    return np.ascontiguousarray(dx_pad[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]])
