"""Sliding windows without a loop over windows: the trick behind fast convolution and pooling.

A 2-D window operation (convolution, pooling) looks at one window of the padded input per
output cell ``(i, j)``; tap ``(u, v)`` of that window is::

    x_pad[n, c, i*s + u*d, j*s + v*d]          (s = stride, d = dilation)

The slow way loops over the ``N*C*H_out*W_out`` windows. The trick is to swap the loops:
for one fixed tap ``(u, v)``, the values it sees in *every* window are the strided slice::

    x_pad[:, :, u*d : u*d + s*(H_out - 1) + 1 : s,  v*d : v*d + s*(W_out - 1) + 1 : s]

a view of shape ``(N, C, H_out, W_out)`` -- no copy, NumPy only changes the strides. So a
window operation becomes a short loop over the ``KH*KW`` taps, each step working on whole
arrays:

* **pooling** combines the ``KH*KW`` views elementwise (``np.maximum``, ``+``):
  :func:`offset_views`;
* **convolution** copies them, one tap at a time, into a matrix with one row per
  ``(c, u, v)`` and one column per window -- *im2col* (:func:`im2col`) -- after which the whole
  convolution is one matrix product ``W (C_out, C*KH*KW) @ cols (C*KH*KW, windows)``;
* **backward** runs the same loop the other way round: every window's gradient is *added*
  back onto the input positions it was read from (:func:`col2im`, the adjoint of im2col:
  ``sum(col2im(g) * x) == sum(g * im2col(x))``). Within one tap the positions are all
  different, so ``view += values`` adds each exactly once; overlapping windows meet across
  taps and add up, as the chain rule wants.

Pooling can go one step further, because a max (or a sum) over a 2-D window is a max over
its KH rows of the max over each row's KW taps: *separable* windows. :func:`row_views` gives
the KH row taps, :func:`column_views` the KW column taps; combining along one direction, then
the other, costs ``KH + KW`` passes instead of ``KH*KW``, and the row pass reads whole
contiguous rows.

``kernel``, ``stride``, ``dilation`` and ``out_hw`` are ``(h, w)`` pairs of checked ints
(see :mod:`cnnlab._validation` and :func:`cnnlab.functional.sizes.output_hw`).
"""

import numpy as np


def pad(x, padding, value=0.0):
    """``x`` (N, C, H, W) with ``padding = (ph, pw)`` rows/columns of ``value`` on each side.

    Returns ``x`` itself (no copy) when there is nothing to pad.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    x_pad = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    x_pad[:, :, ph : ph + h, pw : pw + w] = x
    return x_pad


def unpad(x_pad, padding):
    """The inverse of :func:`pad`: drop ``padding = (ph, pw)`` rows/columns on each side (a view)."""
    ph, pw = padding
    return x_pad[:, :, ph : x_pad.shape[2] - ph, pw : x_pad.shape[3] - pw]


def tap_slices(kernel, stride, dilation, out_hw):
    """``[(u, v, rows, cols), ...]``: for every tap in row-major order, the slices it reads.

    ``rows = u*d : u*d + s*(H_out - 1) + 1 : s`` (likewise ``cols``), so that
    ``x_pad[..., rows, cols][..., i, j] == x_pad[..., i*s + u*d, j*s + v*d]``.
    """
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel, stride, dilation, out_hw
    return [
        (u, v, slice(u * dh, u * dh + sh * (h_out - 1) + 1, sh), slice(v * dw, v * dw + sw * (w_out - 1) + 1, sw))
        for u in range(kh)
        for v in range(kw)
    ]


def offset_views(x_pad, kernel, stride, dilation, out_hw):
    """One strided view per tap: ``KH*KW`` views of shape (N, C, H_out, W_out), row-major taps.

    ``view_k[n, c, i, j] = x_pad[n, c, i*s + u*d, j*s + v*d]`` with ``k = u*KW + v``. They
    are views, so writing into a view of a gradient array writes into that array.
    """
    return [x_pad[:, :, rows, cols] for _, _, rows, cols in tap_slices(kernel, stride, dilation, out_hw)]


def row_views(x_pad, kh, sh, dh, h_out):
    """KH views (N, C, H_out, W), one per window row ``u``: ``view_u[n, c, i, :] = x_pad[n, c, i*s + u*d, :]``.

    The columns are kept whole, so a view reads complete rows.
    """
    return [x_pad[:, :, u * dh : u * dh + sh * (h_out - 1) + 1 : sh, :] for u in range(kh)]


def column_views(x_pad, kw, sw, dw, w_out):
    """KW views (..., W_out), one per window column ``v``: ``view_v[..., j] = x_pad[..., j*s + v*d]``."""
    return [x_pad[..., v * dw : v * dw + sw * (w_out - 1) + 1 : sw] for v in range(kw)]


def im2col(x, padding, kernel, stride, dilation, out_hw, batch_first=True):
    """Copy every window of ``x`` (N, C, H, W), zero-padded, into columns, one tap at a time.

    Returns a 6-D array ``cols`` with ``cols[(c, u, v), window] = x_pad[n, c, i*s + u*d, j*s + v*d]``
    for the window ``(n, i, j)``, in one of two layouts:

    * ``batch_first=True``: (N, C, KH, KW, H_out, W_out) -- one (C*KH*KW, H_out*W_out) matrix
      per sample, for a batched product whose result is already (N, C_out, H_out, W_out);
    * ``batch_first=False``: (C, KH, KW, H_out, W_out, N) -- one (C*KH*KW, H_out*W_out*N)
      matrix for the whole batch, for a single large product. The input is first copied to
      (C, Hp, Wp, N) so that every tap copies runs of N values instead of runs of W_out.
    """
    (kh, kw), (h_out, w_out) = kernel, out_hw
    n, c = x.shape[:2]
    if batch_first:
        x_pad = pad(x, padding)  # (N, C, Hp, Wp)
        cols = np.empty((n, c, kh, kw, h_out, w_out), dtype=x.dtype)
        for u, v, rows, cols_ in tap_slices(kernel, stride, dilation, out_hw):
            cols[:, :, u, v] = x_pad[:, :, rows, cols_]  # tap (u, v) of every window
        return cols
    x_pad = pad_batch_last(x, padding)  # (C, Hp, Wp, N)
    cols = np.empty((c, kh, kw, h_out, w_out, n), dtype=x.dtype)
    for u, v, rows, cols_ in tap_slices(kernel, stride, dilation, out_hw):
        cols[:, u, v] = x_pad[:, rows, cols_, :]
    return cols


def col2im(cols, x_shape, padding, kernel, stride, dilation, out_hw, batch_first=True):
    """The adjoint of :func:`im2col`: add every column back onto the input positions it was read from.

    ``cols`` has :func:`im2col`'s layout (the same ``batch_first``); returns ``dx`` of shape
    ``x_shape`` (N, C, H, W) with ``dx_pad[n, c, i*s + u*d, j*s + v*d] += cols[(c, u, v), (n, i, j)]``
    for every tap and window, the padding cut off at the end.
    """
    n, c, h, w = x_shape
    (ph, pw) = padding
    if batch_first:
        dx_pad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for u, v, rows, cols_ in tap_slices(kernel, stride, dilation, out_hw):
            dx_pad[:, :, rows, cols_] += cols[:, :, u, v]  # distinct positions within one tap
        return np.ascontiguousarray(unpad(dx_pad, padding))
    dx_pad = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=cols.dtype)  # (C, Hp, Wp, N)
    for u, v, rows, cols_ in tap_slices(kernel, stride, dilation, out_hw):
        dx_pad[:, rows, cols_, :] += cols[:, u, v]
    return np.ascontiguousarray(dx_pad[:, ph : ph + h, pw : pw + w, :].transpose(3, 0, 1, 2))


def pad_batch_last(x, padding):
    """``x`` (N, C, H, W) zero-padded and laid out as (C, H + 2ph, W + 2pw, N), in one copy."""
    n, c, h, w = x.shape
    (ph, pw) = padding
    x_pad = np.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    x_pad[:, ph : ph + h, pw : pw + w, :] = x.transpose(1, 2, 3, 0)
    return x_pad
