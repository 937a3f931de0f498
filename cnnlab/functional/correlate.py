"""1-D and 2-D cross-correlation and convolution of single signals, and zero padding.

Cross-correlation slides the kernel over the input without flipping it (this is what
deep learning calls "convolution"); convolution flips the kernel first.

Modes follow NumPy (1-D) and SciPy (2-D):

* ``full``  every position where kernel and input overlap by at least one sample,
  output length ``N + M - 1``;
* ``valid`` only positions where the kernel lies entirely inside the input,
  output length ``N - M + 1``;
* ``same``  the centred part of ``full`` with the length of the longer input (1-D,
  as ``numpy.correlate``/``numpy.convolve``) or the shape of the image (2-D, as
  ``scipy.signal.correlate2d``/``convolve2d``).

When the kernel is longer than the input, ``numpy.correlate``/``numpy.convolve`` swap
the two arrays (correlate then reverses its result), and so do ``correlate1d``/``convolve1d``:
``valid`` then returns ``M - N + 1`` values. In 2-D, ``valid`` mode needs the kernel to
fit inside the image in every axis, or (as in SciPy, which swaps them) the image to
fit inside the kernel in every axis.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab._validation import as_array, as_pair, check_int, check_mode

# ----------------------------------------------------------------------------- padding


def zero_pad(x, padding):
    """Pad the last two axes of ``x`` with zeros.

    x: (..., H, W), padding: int or (ph, pw) -> (..., H + 2*ph, W + 2*pw)
    """
    x = as_array(x, "x", finite=False)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (..., H, W), got a {x.ndim}-D array of shape {x.shape}")
    ph, pw = as_pair(padding, "padding", minimum=0)
    out = np.zeros(x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), dtype=x.dtype)
    out[..., ph : ph + x.shape[-2], pw : pw + x.shape[-1]] = x
    return out


def zero_pad1d(x, padding):
    """Pad the last axis of ``x`` with ``padding`` zeros on each side.

    x: (..., L), padding: int -> (..., L + 2*padding)
    """
    x = as_array(x, "x", finite=False)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 axis (..., L), got a 0-D array {x!r}")
    p = check_int(padding, "padding", minimum=0)
    out = np.zeros(x.shape[:-1] + (x.shape[-1] + 2 * p,), dtype=x.dtype)
    out[..., p : p + x.shape[-1]] = x
    return out


def _pad_last(x, pads):
    """Zero-pad the trailing axes of ``x`` by ``pads`` (one int per trailing axis), no checks."""
    widths = [(0, 0)] * (x.ndim - len(pads)) + [(p, p) for p in pads]
    return np.pad(x, widths)


# ----------------------------------------------------------------------------- checks


def _check_signal(a, name, ndim):
    a = as_array(a, name, ndim=ndim)
    if a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def _mode_window_1d(n, m, mode, correlate):
    """(start, length) of the ``mode`` result inside the full result, as NumPy chooses it."""
    long, short = max(n, m), min(n, m)
    if mode == "full":
        return 0, n + m - 1
    if mode == "valid":
        return short - 1, long - short + 1
    if correlate and m > n:  # numpy.correlate swaps the inputs and reverses the result
        return short // 2, long
    return (short - 1) // 2, long


def _mode_window_2d(image_shape, kernel_shape, mode, correlate):
    """((row_start, rows), (col_start, cols)) of the ``mode`` result inside the full result (SciPy)."""
    if mode == "full":
        return tuple((0, n + m - 1) for n, m in zip(image_shape, kernel_shape))
    if mode == "same":
        # scipy centres on the image: correlate starts at m // 2, convolve at (m - 1) // 2
        return tuple((m // 2 if correlate else (m - 1) // 2, n) for n, m in zip(image_shape, kernel_shape))
    kernel_fits = all(m <= n for n, m in zip(image_shape, kernel_shape))
    image_fits = all(n <= m for n, m in zip(image_shape, kernel_shape))
    if not (kernel_fits or image_fits):
        raise ValueError(
            f"kernel of shape {tuple(kernel_shape)} must fit inside image of shape {tuple(image_shape)} "
            "in every axis for mode='valid' (or contain it in every axis, as scipy swaps them)"
        )
    return tuple((min(n, m) - 1, abs(n - m) + 1) for n, m in zip(image_shape, kernel_shape))


# ----------------------------------------------------------------------------- 1-D


def correlate1d_naive(x, w, mode="valid"):
    """Cross-correlation of two 1-D arrays with plain loops (as ``numpy.correlate``).

    x: (N,), w: (M,) -> (N + M - 1,) for 'full', (max(N, M),) for 'same', (|N - M| + 1,) for 'valid'
    """
    x = _check_signal(x, "x", 1)
    w = _check_signal(w, "w", 1)
    mode = check_mode(mode)
    n, m = len(x), len(w)
    x_pad = np.concatenate([np.zeros(m - 1), x, np.zeros(m - 1)])
    full = np.zeros(n + m - 1, dtype=np.result_type(x, w))
    for k in range(n + m - 1):
        # full[k] = sum_u x_pad[k + u] * w[u]
        for u in range(m):
            full[k] += x_pad[k + u] * w[u]
    start, length = _mode_window_1d(n, m, mode, correlate=True)
    return full[start : start + length]


def _full_correlate1d(x, w):
    """Full cross-correlation of 1-D arrays: every window of the padded x times w."""
    m = len(w)
    windows = sliding_window_view(_pad_last(x, [m - 1]), m)  # (N + M - 1, M)
    return windows @ w


def correlate1d(x, w, mode="valid"):
    """Cross-correlation of two 1-D arrays, exactly as ``numpy.correlate(x, w, mode)``.

    ``out[k] = sum_u x[k + u] * w[u]`` (no kernel flip). Shapes as in ``correlate1d_naive``.

    Lecture 1: the 7-pixel signal smoothed by the 3-tap box filter (``same`` keeps 7 outputs).

    >>> import numpy as np
    >>> f = np.array([10, 50, 60, 10, 20, 40, 30.])
    >>> correlate1d(f, np.full(3, 1 / 3), mode="same").round(2)
    array([20.  , 40.  , 40.  , 30.  , 23.33, 30.  , 23.33])
    """
    x = _check_signal(x, "x", 1)
    w = _check_signal(w, "w", 1)
    mode = check_mode(mode)
    start, length = _mode_window_1d(len(x), len(w), mode, correlate=True)
    return _full_correlate1d(x, w)[start : start + length]


def convolve1d_naive(x, w, mode="valid"):
    """Convolution of two 1-D arrays with plain loops (as ``numpy.convolve``)."""
    x = _check_signal(x, "x", 1)
    w = _check_signal(w, "w", 1)
    mode = check_mode(mode)
    n, m = len(x), len(w)
    full = np.zeros(n + m - 1, dtype=np.result_type(x, w))
    for k in range(n + m - 1):
        # full[k] = sum_u x[k - u] * w[u]   (the kernel is flipped)
        for u in range(m):
            if 0 <= k - u < n:
                full[k] += x[k - u] * w[u]
    start, length = _mode_window_1d(n, m, mode, correlate=False)
    return full[start : start + length]


def convolve1d(x, w, mode="valid"):
    """Convolution of two 1-D arrays, exactly as ``numpy.convolve(x, w, mode)``.

    ``out[k] = sum_u x[k - u] * w[u]``: cross-correlation with the flipped kernel.
    Convolution is symmetric, so swapping x and w gives the same result.

    Lecture 1: convolution flips the kernel, correlation does not.

    >>> convolve1d([1.0, 2, 3], [0, 1, 0.5], mode="full")
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> correlate1d([1.0, 2, 3], [0, 1, 0.5], mode="full")
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    x = _check_signal(x, "x", 1)
    w = _check_signal(w, "w", 1)
    mode = check_mode(mode)
    start, length = _mode_window_1d(len(x), len(w), mode, correlate=False)
    return _full_correlate1d(x, w[::-1])[start : start + length]


# ----------------------------------------------------------------------------- 2-D


def correlate2d_naive(image, kernel, mode="valid"):
    """2-D cross-correlation with plain loops (as ``scipy.signal.correlate2d``, zero fill).

    image: (H, W), kernel: (KH, KW) -> (H - KH + 1, W - KW + 1) for 'valid',
    (H, W) for 'same', (H + KH - 1, W + KW - 1) for 'full'
    """
    image = _check_signal(image, "image", 2)
    kernel = _check_signal(kernel, "kernel", 2)
    mode = check_mode(mode)
    (kh, kw), (h, w) = kernel.shape, image.shape
    (r0, rows), (c0, cols) = _mode_window_2d(image.shape, kernel.shape, mode, correlate=True)
    image_pad = np.zeros((h + 2 * (kh - 1), w + 2 * (kw - 1)))
    image_pad[kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w] = image
    full = np.zeros((h + kh - 1, w + kw - 1), dtype=np.result_type(image, kernel))
    for i in range(h + kh - 1):
        for j in range(w + kw - 1):
            # full[i, j] = sum_{u, v} image_pad[i + u, j + v] * kernel[u, v]
            for u in range(kh):
                for v in range(kw):
                    full[i, j] += image_pad[i + u, j + v] * kernel[u, v]
    return full[r0 : r0 + rows, c0 : c0 + cols]


def _full_correlate2d(image, kernel):
    """Full 2-D cross-correlation: every window of the padded image times the kernel."""
    kh, kw = kernel.shape
    windows = sliding_window_view(_pad_last(image, [kh - 1, kw - 1]), (kh, kw))  # (H+KH-1, W+KW-1, KH, KW)
    return np.tensordot(windows, kernel, axes=([2, 3], [0, 1]))


def correlate2d(image, kernel, mode="valid"):
    """2-D cross-correlation, as ``scipy.signal.correlate2d(image, kernel, mode)`` (zero fill).

    ``out[i, j] = sum_{u, v} image[i + u, j + v] * kernel[u, v]``. Shapes as in ``correlate2d_naive``.

    Lecture 2: the 4x4 input A = 1..16 and the 2x2 kernel [[1, 0], [-1, 2]].

    >>> import numpy as np
    >>> A = np.arange(1, 17.0).reshape(4, 4)
    >>> correlate2d(A, [[1, 0], [-1, 2]])
    array([[ 8., 10., 12.],
           [16., 18., 20.],
           [24., 26., 28.]])
    """
    image = _check_signal(image, "image", 2)
    kernel = _check_signal(kernel, "kernel", 2)
    mode = check_mode(mode)
    (r0, rows), (c0, cols) = _mode_window_2d(image.shape, kernel.shape, mode, correlate=True)
    return _full_correlate2d(image, kernel)[r0 : r0 + rows, c0 : c0 + cols]


def convolve2d_naive(image, kernel, mode="valid"):
    """2-D convolution with plain loops (as ``scipy.signal.convolve2d``, zero fill)."""
    image = _check_signal(image, "image", 2)
    kernel = _check_signal(kernel, "kernel", 2)
    mode = check_mode(mode)
    (kh, kw), (h, w) = kernel.shape, image.shape
    (r0, rows), (c0, cols) = _mode_window_2d(image.shape, kernel.shape, mode, correlate=False)
    full = np.zeros((h + kh - 1, w + kw - 1), dtype=np.result_type(image, kernel))
    for i in range(h + kh - 1):
        for j in range(w + kw - 1):
            # full[i, j] = sum_{u, v} image[i - u, j - v] * kernel[u, v]   (kernel flipped)
            for u in range(kh):
                for v in range(kw):
                    if 0 <= i - u < h and 0 <= j - v < w:
                        full[i, j] += image[i - u, j - v] * kernel[u, v]
    return full[r0 : r0 + rows, c0 : c0 + cols]


def convolve2d(image, kernel, mode="valid"):
    """2-D convolution, as ``scipy.signal.convolve2d(image, kernel, mode)`` (zero fill).

    ``out[i, j] = sum_{u, v} image[i - u, j - v] * kernel[u, v]``: cross-correlation with the
    kernel rotated by 180 degrees.

    Lecture 2: the same input and kernel as :func:`correlate2d`, the kernel flipped first.

    >>> import numpy as np
    >>> convolve2d(np.arange(1, 17.0).reshape(4, 4), [[1, 0], [-1, 2]])
    array([[ 6.,  8., 10.],
           [14., 16., 18.],
           [22., 24., 26.]])
    """
    image = _check_signal(image, "image", 2)
    kernel = _check_signal(kernel, "kernel", 2)
    mode = check_mode(mode)
    (r0, rows), (c0, cols) = _mode_window_2d(image.shape, kernel.shape, mode, correlate=False)
    return _full_correlate2d(image, kernel[::-1, ::-1])[r0 : r0 + rows, c0 : c0 + cols]
