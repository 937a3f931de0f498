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
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab._validation import as_array, as_pair, check_int, check_shape
from cnnlab.functional.sizes import output_hw


# ----------------------------------------------------------------------------- checks

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


def _check_dout(dout, shape, forward):
    dout = as_array(dout, "dout", ndim=len(shape))
    return check_shape(dout, "dout", shape,
                       f"the {forward} output shape for these x, weight, stride, padding and dilation")


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
        x, weight, bias, stride, padding, dilation)
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
        x, weight, None, stride, padding, dilation)
    n_batch, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    dout = _check_dout(dout, (n_batch, c_out, h_out, w_out), "conv2d")
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
                    dbias[co] += g                                      # db[co] = sum_{n, i, j} dout[n, co, i, j]
                    for ci in range(c_in):
                        for u in range(kh):
                            for v in range(kw):
                                r, c = i * sh + u * dh, j * sw + v * dw
                                dx_pad[n, ci, r, c] += g * weight[co, ci, u, v]   # dx_pad[n, ci, r, c] += dout * w
                                dweight[co, ci, u, v] += g * x_pad[n, ci, r, c]  # dw[co, ci, u, v] += dout * x_pad
    dx = dx_pad[:, :, ph:ph + h, pw:pw + w]
    return dx, dweight, dbias


# ----------------------------------------------------------------------------- vectorised

def _window_columns(x_pad, kernel_hw, stride, dilation, out_hw):
    """im2col: (N, C, Hp, Wp) -> (C*KH*KW, N*H_out*W_out); column (n, i, j) is one window."""
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel_hw, stride, dilation, out_hw
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(x_pad, span, axis=(2, 3))        # (N, C, Hp-span+1, Wp-span+1, spanH, spanW)
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]                # (N, C, H_out, W_out, KH, KW)
    n, c = x_pad.shape[:2]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * h_out * w_out)


def _sample_columns(x_pad, kernel_hw, stride, dilation, out_hw):
    """im2col per sample: (N, C, Hp, Wp) -> (N, C*KH*KW, H_out*W_out), built one kernel offset at a time.

    cols[n, (c, u, v), (i, j)] = x_pad[n, c, i*s + u*d, j*s + v*d]; for each offset (u, v) that is one
    strided slice of x_pad, copied for all n, c, i, j at once.
    """
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel_hw, stride, dilation, out_hw
    n, c = x_pad.shape[:2]
    cols = np.empty((n, c, kh, kw, h_out, w_out), dtype=x_pad.dtype)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = x_pad[:, :, u * dh:u * dh + sh * (h_out - 1) + 1:sh,
                                     v * dw:v * dw + sw * (w_out - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, h_out * w_out)


def _conv2d(x, weight, bias, stride, padding, dilation, out_hw):
    """conv2d on checked arguments."""
    n, c_out = x.shape[0], weight.shape[0]
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    cols = _sample_columns(x_pad, weight.shape[2:], stride, dilation, out_hw)   # (N, C_in*KH*KW, H_out*W_out)
    # out[n] = W (C_out, C_in*KH*KW) @ cols[n]: one matrix product per sample, already in (N, C_out, ...) order
    out = weight.reshape(c_out, -1) @ cols                                      # (N, C_out, H_out*W_out)
    if bias is not None:
        out = out + bias[:, None]                                              # + b[co]
    return out.reshape(n, c_out, *out_hw)


def _conv2d_backward(dout, x, weight, stride, padding, dilation, out_hw):
    """conv2d_backward on checked arguments."""
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw), (h_out, w_out) = stride, padding, dilation, out_hw
    x_pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = _window_columns(x_pad, (kh, kw), stride, dilation, out_hw)      # (C*KH*KW, N*H_out*W_out)
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(c_out, -1)              # (C_out, N*H_out*W_out)
    dbias = dout_rows.sum(axis=1)
    dweight = (dout_rows @ cols.T).reshape(weight.shape)
    dcols = (weight.reshape(c_out, -1).T @ dout_rows).reshape(c_in, kh, kw, n, h_out, w_out)
    # col2im: add every window's gradient back onto the input positions it was read from,
    # one kernel offset (u, v) at a time: rows u*d, u*d + s, ..., columns v*d, v*d + s, ...
    dx_pad = np.zeros((c_in, n) + x_pad.shape[2:], dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dx_pad[:, :, u * dh:u * dh + sh * (h_out - 1) + 1:sh,
                   v * dw:v * dw + sw * (w_out - 1) + 1:sw] += dcols[:, u, v]
    dx = np.ascontiguousarray(dx_pad[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))
    return dx, dweight, dbias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW), bias: (C_out,) or None
    -> (N, C_out, H_out, W_out). stride, padding, dilation: int or (h, w).
    """
    x, weight, bias, stride, padding, dilation, out_hw = _check_conv2d_args(
        x, weight, bias, stride, padding, dilation)
    return _conv2d(x, weight, bias, stride, padding, dilation, out_hw)


def conv2d_backward(dout, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of ``conv2d`` given the upstream gradient ``dout``.

    dout: (N, C_out, H_out, W_out), x: (N, C_in, H, W), weight: (C_out, C_in, KH, KW)
    -> (dx (N, C_in, H, W), dweight (C_out, C_in, KH, KW), dbias (C_out,))
    """
    x, weight, _, stride, padding, dilation, out_hw = _check_conv2d_args(
        x, weight, None, stride, padding, dilation)
    dout = _check_dout(dout, (x.shape[0], weight.shape[0]) + out_hw, "conv2d")
    return _conv2d_backward(dout, x, weight, stride, padding, dilation, out_hw)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv1d``.

    x: (N, C_in, L), weight: (C_out, C_in, K), bias: (C_out,) or None -> (N, C_out, L_out).
    Computed as a conv2d with height 1. stride, padding, dilation: int.
    """
    args = _to_2d(x, weight, bias, stride, padding, dilation)
    return _conv2d(*args)[:, :, 0, :]


def conv1d_backward(dout, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of ``conv1d``: dout (N, C_out, L_out) -> (dx (N, C_in, L), dweight (C_out, C_in, K), dbias (C_out,))."""
    x2, w2, _, stride2, padding2, dilation2, out_hw = _to_2d(x, weight, None, stride, padding, dilation)
    dout = as_array(dout, "dout", ndim=3)
    check_shape(dout, "dout", (x2.shape[0], w2.shape[0], out_hw[1]),
                "the conv1d output shape for these x, weight, stride, padding and dilation")
    dx, dweight, dbias = _conv2d_backward(dout[:, :, None, :], x2, w2, stride2, padding2, dilation2, out_hw)
    return dx[:, :, 0, :], dweight[:, :, 0, :], dbias
