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

from cnnlab._validation import as_array, as_pair, check_dout, check_positive_float
from cnnlab.functional._windows import column_views, offset_views, pad, row_views, unpad
from cnnlab.functional.sizes import check_pool_padding, output_hw

# ----------------------------------------------------------------------------- checks


def _check_pool_args(x, kernel_size, stride, padding, dilation=1):
    """Validate pooling arguments; return (x, kernel, stride, padding, dilation, (H_out, W_out))."""
    x = as_array(x, "x", ndim=4)
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    kernel = as_pair(kernel_size, "kernel_size", minimum=1)
    stride = kernel if stride is None else as_pair(stride, "stride", minimum=1)
    padding = check_pool_padding(kernel, as_pair(padding, "padding", minimum=0))
    dilation = as_pair(dilation, "dilation", minimum=1)
    out_hw = output_hw(x.shape[2:], kernel, stride, padding, dilation)
    return x, kernel, stride, padding, dilation, out_hw


def _check_dout(dout, x, out_hw, forward):
    return check_dout(dout, x.shape[:2] + out_hw, forward, "x, kernel_size, stride and padding")


# ----------------------------------------------------------------------------- naive loops


def max_pool2d_naive(x, kernel_size, stride=None, padding=0, dilation=1):
    """max_pool2d with plain loops; same arguments and result as ``max_pool2d``."""
    x, (kh, kw), (sh, sw), padding, (dh, dw), (h_out, w_out) = _check_pool_args(
        x, kernel_size, stride, padding, dilation
    )
    x_pad = pad(x, padding, -np.inf)
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
    x_pad = pad(x, padding, 0.0)
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
    x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "max_pool2d")
    x_pad = pad(x, (ph, pw), -np.inf)
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
    return dx_pad[:, :, ph : ph + h, pw : pw + w]


# ----------------------------------------------------------------------------- vectorised
#
# The vectorised versions loop over the KH*KW kernel offsets (u, v) instead of over the
# N*C*H_out*W_out windows: each step combines one strided view (N, C, H_out, W_out) of the
# padded input, offset (u, v) of every window at once (see ``cnnlab.functional._windows``).


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W) -> (N, C, H_out, W_out). kernel_size, stride (default kernel_size),
    padding (pads with -inf), dilation: int or (h, w).

    Lecture 4: 2x2 max pooling with stride 2 on the lecture's 4x4 map.

    >>> import numpy as np
    >>> x = np.array([[[[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]]])
    >>> max_pool2d(x, 2)[0, 0]
    array([[16.,  9.],
           [67., 13.]])
    """
    x, (kh, kw), (sh, sw), padding, (dh, dw), (h_out, w_out) = _check_pool_args(
        x, kernel_size, stride, padding, dilation
    )
    # separable: out[n, c, i, j] = max_v ( max_u x_pad[n, c, i*s + u*d, j*s + v*d] )
    row_max = _combine(row_views(pad(x, padding, -np.inf), kh, sh, dh, h_out), np.maximum)  # (N, C, H_out, Wp)
    return _combine(column_views(row_max, kw, sw, dw, w_out), np.maximum)  # (N, C, H_out, W_out)


def _combine(views, ufunc):
    """``ufunc`` (np.maximum or np.add) folded over equally shaped ``views``, into a new array."""
    if len(views) == 1:
        return views[0].copy()
    out = ufunc(views[0], views[1])
    for view in views[2:]:
        ufunc(out, view, out=out)
    return out


def min_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Min pooling (pads with +inf); equals ``-max_pool2d(-x, ...)``. Shapes as ``max_pool2d``.

    Lecture 4's 4x4 map again:

    >>> import numpy as np
    >>> x = np.array([[[[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]]])
    >>> min_pool2d(x, 2)[0, 0]
    array([[4., 0.],
           [6., 3.]])
    """
    x = _check_pool_args(x, kernel_size, stride, padding, dilation)[0]
    return -max_pool2d(-x, kernel_size, stride, padding, dilation)  # min_window x = -max_window(-x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` with ``count_include_pad=True``.

    x: (N, C, H, W) -> (N, C, H_out, W_out); every window is divided by KH*KW, padded zeros included.

    Lecture 4's 4x4 map, averaged in 2x2 windows:

    >>> import numpy as np
    >>> x = np.array([[[[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]]])
    >>> avg_pool2d(x, 2)[0, 0]
    array([[ 9.5 ,  4.75],
           [25.75,  7.75]])
    """
    x, kernel, stride, padding, _, out_hw = _check_pool_args(x, kernel_size, stride, padding)
    return window_averages(x, kernel, stride, padding, out_hw)


def window_averages(x, kernel, stride, padding, out_hw):
    """Average pooling on checked arguments (``cnnlab.nn.AvgPool2d`` calls it directly)."""
    (kh, kw), (sh, sw), (h_out, w_out) = kernel, stride, out_hw
    # separable: total[n, c, i, j] = sum_v ( sum_u x_pad[n, c, i*s + u, j*s + v] )
    row_sum = _combine(row_views(pad(x, padding, 0.0), kh, sh, 1, h_out), np.add)  # (N, C, H_out, Wp)
    total = _combine(column_views(row_sum, kw, sw, 1, w_out), np.add)  # (N, C, H_out, W_out)
    total /= kh * kw  # out = total / (KH*KW)
    return total


def lp_pool2d(x, p, kernel_size, stride=None):
    """Power-average pooling, as ``torch.nn.functional.lp_pool2d``: ``(sum_window x**p) ** (1/p)``.

    x: (N, C, H, W) -> (N, C, H_out, W_out), no padding. p = 1 is sum pooling, p -> inf
    approaches max pooling. As in PyTorch, a negative window sum with non-integer 1/p gives NaN,
    so use non-negative x (e.g. after ReLU) unless p is an even integer.

    Lecture 4's 4x4 map with p = 2 (the root of the sum of squares of each window):

    >>> import numpy as np
    >>> x = np.array([[[[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]]])
    >>> lp_pool2d(x, 2, 2)[0, 0].round(2)
    array([[20.88, 11.79],
           [70.66, 17.06]])
    """
    p = check_positive_float(p, "p")
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, 0)
    with np.errstate(invalid="ignore"):
        views = offset_views(x, kernel, stride, dilation, out_hw)
        sums = views[0] ** p
        for view in views[1:]:
            sums += view**p  # sums[n, c, i, j] = sum_{u, v} x[n, c, i*s + u, j*s + v] ** p
        return sums ** (1.0 / p)


def max_pool2d_backward(dout, x, kernel_size, stride=None, padding=0, dilation=1):
    """Gradient of ``max_pool2d``: each ``dout`` value goes to the arg-max of its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W). Ties go to the first
    maximum in row-major order (as PyTorch); overlapping windows add up.

    Lecture 5: the gradient of lecture 4's max pooling goes only to the four winners.

    >>> import numpy as np
    >>> x = np.array([[[[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]]])
    >>> max_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2)[0, 0]
    array([[0., 0., 0., 1.],
           [1., 0., 0., 0.],
           [0., 0., 1., 0.],
           [1., 0., 0., 0.]])
    """
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "max_pool2d").astype(np.result_type(dout, x), copy=False)
    _, winners = max_pool2d_with_winners(x, kernel, stride, padding, dilation, out_hw)
    return route_to_winners(dout, winners, x.shape, kernel, stride, padding, dilation)


def min_pool2d_backward(dout, x, kernel_size, stride=None, padding=0, dilation=1):
    """Gradient of ``min_pool2d``: each ``dout`` value goes to the first arg-min of its window."""
    x, kernel, stride, padding, dilation, out_hw = _check_pool_args(x, kernel_size, stride, padding, dilation)
    dout = _check_dout(dout, x, out_hw, "min_pool2d").astype(np.result_type(dout, x), copy=False)
    _, winners = max_pool2d_with_winners(-x, kernel, stride, padding, dilation, out_hw)  # min x = -max(-x)
    return route_to_winners(dout, winners, x.shape, kernel, stride, padding, dilation)


def max_pool2d_with_winners(x, kernel, stride, padding, dilation, out_hw):
    """Max pooling on checked arguments, and which tap won each window.

    Returns ``out`` (N, C, H_out, W_out) and ``winners`` of the same shape: the tap
    ``k = u*KW + v`` holding the first maximum of each window in row-major order (as torch).
    """
    taps = np.stack(offset_views(pad(x, padding, -np.inf), kernel, stride, dilation, out_hw))  # (K, N, C, H_out, W_out)
    out = taps.max(axis=0)
    # the first tap holding the maximum: give tap k the rank K - k, so the first maximum has the
    # highest rank among the taps equal to ``out``, and take the largest rank (one pass, no loop)
    n_taps = len(taps)
    rank_type = np.min_scalar_type(n_taps)
    rank = np.arange(n_taps, 0, -1, dtype=rank_type).reshape((n_taps,) + (1,) * out.ndim)
    highest_rank = np.multiply(taps == out, rank, dtype=rank_type).max(axis=0)
    winners = (n_taps - highest_rank).astype(np.min_scalar_type(n_taps - 1), copy=False)
    return out, winners


def route_to_winners(dout, winners, x_shape, kernel, stride, padding, dilation):
    """dx (N, C, H, W): add ``dout[n, c, i, j]`` onto the input that won window ``(i, j)``.

    Only the winner influenced the output, so it receives the whole gradient. The winner of
    window ``(i, j)`` sits at ``x_pad[n, c, i*s + u*d, j*s + v*d]``; ``np.add.at`` adds every
    ``dout`` value at that flat position (positions repeat where windows overlap).
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    hp, wp = h + 2 * ph, w + 2 * pw
    h_out, w_out = dout.shape[2:]
    # flat index of window (n, c, i, j)'s first cell in x_pad, and of tap (u, v) relative to it
    window_start = (
        np.arange(n * c).reshape(n, c, 1, 1) * (hp * wp)
        + np.arange(h_out).reshape(h_out, 1) * (sh * wp)
        + np.arange(w_out) * sw
    )
    tap_offset = np.array([u * dh * wp + v * dw for u in range(kh) for v in range(kw)])
    dx_pad = np.zeros((n, c, hp, wp), dtype=dout.dtype)
    np.add.at(dx_pad.reshape(-1), (window_start + tap_offset[winners]).reshape(-1), dout.reshape(-1))
    return np.ascontiguousarray(unpad(dx_pad, padding))


def avg_pool2d_backward(dout, x, kernel_size, stride=None, padding=0):
    """Gradient of ``avg_pool2d``: each ``dout`` value is shared evenly by the KH*KW inputs of its window.

    dout: (N, C, H_out, W_out), x: (N, C, H, W) -> dx: (N, C, H, W)

    Lecture 5: every input of a 2x2 window receives a quarter of its window's gradient.

    >>> import numpy as np
    >>> avg_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2)[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    x, kernel, stride, padding, _, out_hw = _check_pool_args(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, out_hw, "avg_pool2d")
    return share_among_windows(dout, x.shape, kernel, stride, padding)


def share_among_windows(dout, x_shape, kernel, stride, padding):
    """avg_pool2d's gradient on checked arguments: dx (N, C, H, W) from dout (N, C, H_out, W_out).

    The forward's two sums run backwards: the columns' sum hands ``share[i, j] = dout[i, j] / (KH*KW)``
    to the KW columns of window (i, j) in the row sums, then the rows' sum hands every row sum
    to its KH rows.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    (n, c, h, w), (h_out, w_out) = x_shape, dout.shape[2:]
    share = dout / (kh * kw)
    d_row_sum = _spread(share, (n, c, h_out, w + 2 * pw), 3, kw, sw, w_out)  # (N, C, H_out, Wp)
    dx_pad = _spread(d_row_sum, (n, c, h + 2 * ph, w + 2 * pw), 2, kh, sh, h_out)  # (N, C, Hp, Wp)
    return np.ascontiguousarray(unpad(dx_pad, padding))


def _spread(values, shape, axis, k, s, n_out):
    """A new array of ``shape`` holding ``values`` added into each of its KH row views (``axis=2``)
    or KW column views (``axis=3``): the adjoint of summing those views.

    Within one view all positions differ. Windows that do not overlap (s >= k) share no position,
    so copying is enough; when they also cover the whole axis (s == k, k * n_out == size), every
    position is written and no zeros are needed.
    """
    overlapping = s < k
    covers_all = s == k and k * n_out == shape[axis]
    array = np.empty(shape, dtype=values.dtype) if covers_all else np.zeros(shape, dtype=values.dtype)
    views = row_views if axis == 2 else column_views
    for view in views(array, k, s, 1, n_out):
        if overlapping:
            view += values  # a position read by two windows receives both shares
        else:
            view[...] = values
    return array
