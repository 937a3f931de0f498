"""Multi-channel convolution layers (deep-learning convolution = cross-correlation).

Shapes (channels first, like PyTorch):

* 2-D: ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, KH, KW)``, ``bias: (C_out,)``
  -> ``(N, C_out, H_out, W_out)`` with ``H_out = conv_output_size(H, KH, stride, padding, dilation)``.
* 1-D: ``x: (N, C_in, L)``, ``weight: (C_out, C_in, K)`` -> ``(N, C_out, L_out)``.

The slide formula for one output value::

    out[n, co, i, j] = b[co] + sum_{ci, u, v} x_pad[n, ci, i*s + u*d, j*s + v*d] * w[co, ci, u, v]

``conv2d_naive`` / ``conv2d_backward_naive`` are loops that read like that formula;
``conv2d`` / ``conv2d_backward`` compute the same numbers with one matrix product over
all windows at once (im2col): every window of ``x_pad`` becomes a column of a matrix.
"""

import numpy as np

from cnnlab._validation import as_array, as_pair, check_dout, check_int, check_shape
from cnnlab.functional._windows import col2im, im2col
from cnnlab.functional.sizes import output_hw

# ----------------------------------------------------------------------------- checks

CONV_ARGUMENTS = "x, weight, stride, padding and dilation"


def _check_conv2d_args(x, weight, bias, stride, padding, dilation):
    """Validate conv2d arguments; return (x, weight, bias, stride, padding, dilation, (H_out, W_out))."""
    x = as_array(x, "x", ndim=4)
    weight = as_array(weight, "weight", ndim=4)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has C_in={weight.shape[1]} but x has C={x.shape[1]} channels "
            f"(weight shape {weight.shape} is (C_out, C_in, KH, KW), x shape {x.shape} is (N, C, H, W))"
        )
    if x.size == 0 or weight.size == 0:
        raise ValueError(f"x and weight must not be empty, got x {x.shape} and weight {weight.shape}")
    if bias is not None:
        bias = as_array(bias, "bias")
        check_shape(bias, "bias", (weight.shape[0],), "one value per output channel, C_out = weight.shape[0]")
    stride = as_pair(stride, "stride", minimum=1)
    padding = as_pair(padding, "padding", minimum=0)
    dilation = as_pair(dilation, "dilation", minimum=1)
    out_hw = output_hw(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return x, weight, bias, stride, padding, dilation, out_hw


def _to_2d(x, weight, bias, stride, padding, dilation):
    """Validate conv1d arguments and view them as a conv2d with H = 1."""
    x = as_array(x, "x", ndim=3)
    weight = as_array(weight, "weight", ndim=3)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight has C_in={weight.shape[1]} but x has C={x.shape[1]} channels "
            f"(weight shape {weight.shape} is (C_out, C_in, K), x shape {x.shape} is (N, C, L))"
        )
    s = check_int(stride, "stride", minimum=1)
    p = check_int(padding, "padding", minimum=0)
    d = check_int(dilation, "dilation", minimum=1)
    span, padded = d * (weight.shape[2] - 1) + 1, x.shape[2] + 2 * p
    if span > padded:
        raise ValueError(
            f"kernel of size {weight.shape[2]} with dilation {d} spans {span}, larger than the padded "
            f"input of length {padded} (L={x.shape[2]}, padding {p})"
        )
    return _check_conv2d_args(x[:, :, None, :], weight[:, :, None, :], bias, (1, s), (0, p), (1, d))


# ----------------------------------------------------------------------------- naive loops


def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """conv2d with plain loops; same arguments and result as ``conv2d``."""
    x, weight, bias, (sh, sw), (ph, pw), (dh, dw), (h_out, w_out) = _check_conv2d_args(
        x, weight, bias, stride, padding, dilation
    )
    n_batch, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((n_batch, c_out, h_out, w_out), dtype=np.result_type(x, weight))
    for n in range(n_batch):
        for co in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    # out[n, co, i, j] = b[co] + sum_{ci, u, v} x_pad[n, ci, i*s + u*d, j*s + v*d] * w[co, ci, u, v]
                    total = 0.0 if bias is None else bias[co]
                    for ci in range(c_in):
                        for u in range(kh):
                            for v in range(kw):
                                total += x_pad[n, ci, i * sh + u * dh, j * sw + v * dw] * weight[co, ci, u, v]
                    out[n, co, i, j] = total
    return out


def conv2d_backward_naive(dout, x, weight, stride=1, padding=0, dilation=1):
    """conv2d_backward with plain loops; same arguments and result as ``conv2d_backward``.

    Each forward term ``x_pad[n, ci, i*s + u*d, j*s + v*d] * w[co, ci, u, v]`` sends
    ``dout[n, co, i, j] * w[...]`` back to that input and ``dout[n, co, i, j] * x_pad[...]``
    back to that weight.
    """
    x, weight, _, (sh, sw), (ph, pw), (dh, dw), (h_out, w_out) = _check_conv2d_args(
        x, weight, None, stride, padding, dilation
    )
    n_batch, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    dout = check_dout(dout, (n_batch, c_out, h_out, w_out), "conv2d", CONV_ARGUMENTS)
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dtype = np.result_type(dout, x, weight)
    dx_pad = np.zeros(x_pad.shape, dtype=dtype)
    dweight = np.zeros(weight.shape, dtype=dtype)
    dbias = np.zeros(c_out, dtype=dtype)
    for n in range(n_batch):
        for co in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    g = dout[n, co, i, j]
                    dbias[co] += g  # db[co] = sum_{n, i, j} dout[n, co, i, j]
                    for ci in range(c_in):
                        for u in range(kh):
                            for v in range(kw):
                                r, c = i * sh + u * dh, j * sw + v * dw
                                dx_pad[n, ci, r, c] += g * weight[co, ci, u, v]  # dx_pad[n, ci, r, c] += dout * w
                                dweight[co, ci, u, v] += g * x_pad[n, ci, r, c]  # dw[co, ci, u, v] += dout * x_pad
    dx = dx_pad[:, :, ph : ph + h, pw : pw + w]
    return dx, dweight, dbias


# ----------------------------------------------------------------------------- vectorised
#
# im2col (see cnnlab.functional._windows) turns every window into a column, so that the
# convolution is one matrix product. The layout of the columns is chosen per shape: with many
# windows per sample, one product per sample gives (N, C_out, ...) directly; with few, a
# single large product over the batch is faster and its (C_out, N, ...) result is
# transposed once.


def batch_first_layout(x_shape, out_hw):
    """True: one (C*KH*KW, H_out*W_out) matrix per sample; False: one matrix for the whole batch.

    Per-sample products pay off when each is large (at least 256 windows per sample) or
    when there are only a few samples.
    """
    return out_hw[0] * out_hw[1] >= 256 or x_shape[0] < 8


def conv2d_columns(x, kernel_hw, stride, padding, dilation, out_hw):
    """im2col of ``x`` (N, C_in, H, W) for a conv2d, in the layout :func:`batch_first_layout` picks.

    Keep them to reuse in the backward pass (``cnnlab.nn.Conv2d`` does).
    """
    return im2col(x, padding, kernel_hw, stride, dilation, out_hw, batch_first=batch_first_layout(x.shape, out_hw))


def conv2d_from_columns(cols, x_shape, weight, bias, out_hw):
    """out (N, C_out, H_out, W_out) = W (C_out, C_in*KH*KW) @ cols + b[co]."""
    n, c_out = x_shape[0], weight.shape[0]
    w_rows = weight.reshape(c_out, -1)  # (C_out, C_in*KH*KW)
    if batch_first_layout(x_shape, out_hw):
        out = w_rows @ cols.reshape(n, w_rows.shape[1], -1)  # (N, C_out, H_out*W_out)
        if bias is not None:
            out += bias[:, None]
        return out.reshape(n, c_out, *out_hw)
    out = w_rows @ cols.reshape(w_rows.shape[1], -1)  # (C_out, H_out*W_out*N)
    if bias is not None:
        out += bias[:, None]
    return np.ascontiguousarray(out.reshape(c_out, *out_hw, n).transpose(3, 0, 1, 2))


def conv2d_backward_columns(dout, cols, x_shape, weight, stride, padding, dilation):
    """conv2d_backward given the forward's columns ``cols`` (from :func:`conv2d_columns`).

    ``dweight = dout @ cols.T`` (every window's input, weighted by its gradient),
    ``dcols = W.T @ dout`` (every window's gradient, spread over its taps), then
    ``dx = col2im(dcols)`` adds each window's gradient back where the window read from.
    """
    n = x_shape[0]
    c_out, _, kh, kw = weight.shape
    out_hw = dout.shape[2:]
    w_rows = weight.reshape(c_out, -1)  # (C_out, C_in*KH*KW)
    k = w_rows.shape[1]
    dbias = dout.sum(axis=(0, 2, 3))  # db[co] = sum_{n,i,j} dout[n, co, i, j]
    batch_first = batch_first_layout(x_shape, out_hw)
    if batch_first:
        dout_s = dout.reshape(n, c_out, -1)  # (N, C_out, H_out*W_out)
        dweight = sum(dout_s[i] @ cols[i].reshape(k, -1).T for i in range(n))
        dcols = (w_rows.T @ dout_s).reshape(cols.shape)  # (N, C_in, KH, KW, H_out, W_out)
    else:
        dout_rows = dout.transpose(1, 2, 3, 0).reshape(c_out, -1)  # (C_out, H_out*W_out*N)
        dweight = dout_rows @ cols.reshape(k, -1).T
        dcols = (w_rows.T @ dout_rows).reshape(cols.shape)  # (C_in, KH, KW, H_out, W_out, N)
    dx = col2im(dcols, x_shape, padding, (kh, kw), stride, dilation, out_hw, batch_first)
    return dx, dweight.reshape(weight.shape), dbias


def _conv2d(x, weight, bias, stride, padding, dilation, out_hw):
    """conv2d on checked arguments."""
    cols = conv2d_columns(x, weight.shape[2:], stride, padding, dilation, out_hw)
    return conv2d_from_columns(cols, x.shape, weight, bias, out_hw)


def _conv2d_backward(dout, x, weight, stride, padding, dilation, out_hw):
    """conv2d_backward on checked arguments."""
    cols = conv2d_columns(x, weight.shape[2:], stride, padding, dilation, out_hw)
    return conv2d_backward_columns(dout, cols, x.shape, weight, stride, padding, dilation)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW), bias: (C_out,) or None
    -> (N, C_out, H_out, W_out). stride, padding, dilation: int or (h, w).

    Lecture 2: Z = A * W + b for the 4x4 input A = 1..16, the 2x2 kernel [[1, 0], [-1, 2]]
    and bias 1, as one sample with one channel.

    >>> import numpy as np
    >>> A = np.arange(1, 17.0).reshape(1, 1, 4, 4)
    >>> conv2d(A, np.array([[[[1.0, 0], [-1, 2]]]]), bias=np.array([1.0]))[0, 0]
    array([[ 9., 11., 13.],
           [17., 19., 21.],
           [25., 27., 29.]])
    """
    x, weight, bias, stride, padding, dilation, out_hw = _check_conv2d_args(x, weight, bias, stride, padding, dilation)
    return _conv2d(x, weight, bias, stride, padding, dilation, out_hw)


def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of ``conv2d`` given the upstream gradient ``dout``.

    dout: (N, C_out, H_out, W_out), x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW)
    -> (dx (N, C_in, H, W), dweight (C_out, C_in, KH, KW), dbias (C_out,))

    Lecture 5: with ``dout`` all ones, ``dweight[u, v]`` sums the inputs under tap (u, v) and
    ``dx`` counts, weighted by the kernel, how often each input was used.

    >>> import numpy as np
    >>> A = np.arange(1, 17.0).reshape(1, 1, 4, 4)
    >>> dx, dweight, dbias = conv2d_backward(np.ones((1, 1, 3, 3)), A, np.array([[[[1.0, 0], [-1, 2]]]]))
    >>> dweight[0, 0]
    array([[54., 63.],
           [90., 99.]])
    >>> dbias
    array([9.])
    """
    x, weight, _, stride, padding, dilation, out_hw = _check_conv2d_args(x, weight, None, stride, padding, dilation)
    dout = check_dout(dout, (x.shape[0], weight.shape[0]) + out_hw, "conv2d", CONV_ARGUMENTS)
    return _conv2d_backward(dout, x, weight, stride, padding, dilation, out_hw)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv1d``.

    x: (N, C_in, L), weight: (C_out, C_in, K), bias: (C_out,) or None -> (N, C_out, L_out).
    Computed as a conv2d with height 1. stride, padding, dilation: int.

    Lecture 1 in a network's layout: the 7-pixel signal and the box filter, ``valid`` windows only.

    >>> import numpy as np
    >>> f = np.array([[[10, 50, 60, 10, 20, 40, 30.]]])
    >>> conv1d(f, np.full((1, 1, 3), 1 / 3)).round(2)
    array([[[40.  , 40.  , 30.  , 23.33, 30.  ]]])
    """
    args = _to_2d(x, weight, bias, stride, padding, dilation)
    return _conv2d(*args)[:, :, 0, :]


def conv1d_backward(dout, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of ``conv1d``.

    dout (N, C_out, L_out) -> (dx (N, C_in, L), dweight (C_out, C_in, K), dbias (C_out,))
    """
    x2, w2, _, stride2, padding2, dilation2, out_hw = _to_2d(x, weight, None, stride, padding, dilation)
    dout = check_dout(dout, (x2.shape[0], w2.shape[0], out_hw[1]), "conv1d", CONV_ARGUMENTS)
    dx, dweight, dbias = _conv2d_backward(dout[:, :, None, :], x2, w2, stride2, padding2, dilation2, out_hw)
    return dx[:, :, 0, :], dweight[:, :, 0, :], dbias
