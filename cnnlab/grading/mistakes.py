"""Deliberately wrong implementations, used to recognise a student's mistake.

When an answer is wrong, the checks compute what each of these common
mistakes would have produced on the same input. If the student's output
equals one of them, the feedback names that mistake. They are written as
plain loops so that each one reads like the bug it imitates.
"""

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_pair
from cnnlab.grading.feedback import Suspect


def flip_kernel(weight):
    """Reverse the kernel along its spatial axes (the last one or two)."""
    weight = np.asarray(weight, dtype=float)
    if weight.ndim == 1:
        return weight[::-1].copy()
    return weight[..., ::-1, ::-1].copy()


def swap_height_width(out):
    """The output with its last two axes transposed."""
    return np.swapaxes(np.asarray(out, dtype=float), -1, -2)


def conv2d_backward_overwrite(dout, x, weight, stride=1, padding=0):
    """conv2d backward written with ``=`` instead of ``+=``.

    Overlapping windows then overwrite each other's contributions to ``dx``
    and earlier output positions are forgotten in ``dweight``.
    """
    (sh, sw), (ph, pw) = as_pair(stride, "stride"), as_pair(padding, "padding")
    x_pad = np.pad(np.asarray(x, float), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n_batch, _, h_out, w_out = dout.shape
    _, _, kh, kw = weight.shape
    dx_pad = np.zeros_like(x_pad)
    dweight = np.zeros_like(weight, dtype=float)
    for n in range(n_batch):
        for i in range(h_out):
            for j in range(w_out):
                rows = slice(i * sh, i * sh + kh)
                cols = slice(j * sw, j * sw + kw)
                g = dout[n, :, i, j]                      # (C_out,)
                dx_pad[n, :, rows, cols] = np.einsum("o,oikl->ikl", g, weight)
                dweight[...] = np.einsum("o,ikl->oikl", g, x_pad[n, :, rows, cols])
    dx = dx_pad[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return dx, dweight


def max_pool2d_backward_overwrite(dout, x, kernel_size, stride=None):
    """max-pool backward with ``dx[argmax] = g`` instead of ``+=``."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride if stride is not None else kernel_size, "stride")
    dx = np.zeros_like(x, dtype=float)
    n_batch, channels, h_out, w_out = dout.shape
    for n in range(n_batch):
        for c in range(channels):
            for i in range(h_out):
                for j in range(w_out):
                    window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    u, v = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * sh + u, j * sw + v] = dout[n, c, i, j]
    return dx


def max_pool2d_backward_spread(dout, x, kernel_size, stride=None):
    """max-pool backward that sends the gradient to every cell of the window."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride if stride is not None else kernel_size, "stride")
    dx = np.zeros_like(x, dtype=float)
    n_batch, channels, h_out, w_out = dout.shape
    for i in range(h_out):
        for j in range(w_out):
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def max_pool2d_backward_first_cell(dout, x, kernel_size, stride=None):
    """max-pool backward that always sends the gradient to the window's top-left cell."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride if stride is not None else kernel_size, "stride")
    dx = np.zeros_like(x, dtype=float)
    _, _, h_out, w_out = dout.shape
    for i in range(h_out):
        for j in range(w_out):
            dx[:, :, i * sh, j * sw] += dout[:, :, i, j]
    return dx


def pool2d_generic(x, kernel_size, stride, reduce):
    """Pooling with an arbitrary reduction (np.max, np.min, np.mean, np.sum)."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride if stride is not None else kernel_size, "stride")
    n_batch, channels, h, w = x.shape
    h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n_batch, channels, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out




# --------------------------------------------------------------------------
# Mistakes shared by several checks (Suspects built from the expected answer)
# --------------------------------------------------------------------------

def integer_result(expected):
    """The answer was built in an integer array (``np.zeros_like(x)`` of an int/uint8 ``x``)."""
    want = np.asarray(expected, dtype=float)

    def matches(received):
        # reproduced exactly: the right values stored into an array of the student's integer dtype
        if not (isinstance(received, np.ndarray) and received.shape == want.shape
                and np.issubdtype(received.dtype, np.integer)):
            return False
        with np.errstate(invalid="ignore"):
            stored = want.astype(received.dtype)
        return np.array_equal(received, stored) and not np.array_equal(received, want)
    return Suspect("integer truncation", "your result array has an integer dtype, so fractions (and, "
                   "for uint8, negative values) are lost when you store into it. Start from a float "
                   "array: np.zeros(shape) or np.asarray(x, dtype=float)", matches)


def channels_last(expected):
    """(N, C, H, W) answered as (N, H, W, C)."""
    want = np.asarray(expected, dtype=float)
    return Suspect("channels last", "keep the channel axis second: (N, C, H_out, W_out), as in PyTorch",
                   np.moveaxis(want, 1, -1))


def correlate1d_no_swap(x, w, mode):
    """1-D correlation that never swaps x and w (wrong when K > N)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    return np.array([np.sum(xp[i:i + k] * w) for i in range(max(len(xp) - k + 1, 0))])


def correlate1d_pad_right(x, w, mode):
    """1-D 'same' correlation with the extra zero of an even kernel on the right (SciPy's 2-D side)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    if len(w) > len(x):
        return correlate1d_pad_right(w, x, mode)[::-1]
    k = len(w)
    left, right = {"valid": (0, 0), "same": ((k - 1) // 2, k // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    return np.array([np.sum(xp[i:i + k] * w) for i in range(len(xp) - k + 1)])


def correlate2d_pad_side(image, kernel, mode):
    """2-D 'same' correlation with the extra zero row/column of an even kernel on top/left."""
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    kh, kw = kernel.shape
    if mode != "same":
        return F.correlate2d(image, kernel, mode)
    xp = np.pad(image, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)))
    h, w = image.shape
    return np.array([[np.sum(xp[i:i + kh, j:j + kw] * kernel) for j in range(w)] for i in range(h)])


def numerical_gradient_not_restored(f, x, eps):
    """Central differences on a copy of x that never puts x[k] back (later entries are shifted)."""
    work = np.array(x, dtype=float)
    slopes = np.zeros(work.shape)
    for position in np.ndindex(work.shape):
        saved = work[position]
        work[position] = saved + eps
        upper = f(work)
        work[position] = saved - eps        # ... and never back to `saved`
        slopes[position] = (upper - f(work)) / (2 * eps)
    return slopes


def numerical_gradient_on_ints(f, x, eps):
    """Central differences computed in x's own integer dtype: x[k] +/- eps is truncated away."""
    work = np.array(x)                      # keeps an integer dtype
    slopes = np.zeros(work.shape)
    for position in np.ndindex(work.shape):
        saved = work[position]
        work[position] = saved + eps        # truncated back to `saved` in an integer array
        upper = f(work)
        work[position] = saved - eps
        lower = f(work)
        work[position] = saved
        slopes[position] = (upper - lower) / (2 * eps)
    return slopes


def max_pool2d_backward_all_ties(dout, x, kernel_size, stride=None, split=False):
    """max-pool backward that sends the gradient to every cell equal to the window's maximum
    (``split=True``: shared equally among them)."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = as_pair(stride if stride is not None else kernel_size, "stride")
    dx = np.zeros_like(x, dtype=float)
    _, _, h_out, w_out = dout.shape
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            share = mask.sum(axis=(2, 3), keepdims=True) if split else 1
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += mask * dout[:, :, i:i + 1, j:j + 1] / share
    return dx


def max_pool2d_from_zero(x, kernel_size, stride=None):
    """max pooling with the running maximum started at 0 (wrong for negative windows)."""
    out = pool2d_generic(x, kernel_size, stride, np.max)
    return np.maximum(out, 0)
