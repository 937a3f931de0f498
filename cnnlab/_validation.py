"""Argument checks shared by every public function.

Each check raises a ``ValueError`` or ``TypeError`` whose message names the
argument, says what it received and what it needs, so that a student who
passes the wrong thing is told exactly what to fix.
"""

import numbers

import numpy as np


def as_array(x, name, ndim=None, dtype=None, finite=True):
    """Return ``x`` as a floating-point ndarray after checking it.

    ``ndim`` may be an int or a tuple of allowed ints. float32 input stays
    float32; every other numeric input becomes float64 (or ``dtype`` if
    given). Booleans, strings and objects are rejected with a TypeError.
    """
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold numbers (int or float), got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            need = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {need}, got a {arr.ndim}-D array of shape {arr.shape}")
    if dtype is None:
        dtype = np.float32 if arr.dtype == np.float32 else np.float64
    arr = arr.astype(dtype, copy=False)
    # a finite sum proves every value finite (one inf or NaN makes the sum inf or NaN), and costs
    # one pass without a temporary array; only when it is not finite (maybe an overflow) look closer
    if finite and not np.isfinite(arr.sum()) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; every value must be finite")
    return arr


def check_int(value, name, minimum=None):
    """Return ``value`` as an int, requiring ``value >= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def as_pair(value, name, minimum=None):
    """Return an ``(h, w)`` pair of ints from an int or a 2-sequence."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        return tuple(check_int(v, name, minimum) for v in value)
    v = check_int(value, name, minimum)
    return (v, v)


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, else a ValueError listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_float(value, name, minimum=None, below=None, why=""):
    """Return ``value`` as a finite float with ``minimum <= value < below`` (each bound optional).

    ``why`` is added to the ValueError after a semicolon: the reason for the bound.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    reason = f"; {why}" if why else ""
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}{reason}")
    too_small = minimum is not None and value < minimum
    too_large = below is not None and value >= below
    if (too_small or too_large) and minimum is not None and below is not None:
        raise ValueError(f"{name} must be in [{minimum}, {below}), got {value}{reason}")
    if too_small:
        raise ValueError(f"{name} must be >= {minimum}, got {value}{reason}")
    if too_large:
        raise ValueError(f"{name} must be < {below}, got {value}{reason}")
    return value


def check_float_dtype(dtype, name="dtype"):
    """Return ``numpy.dtype(dtype)`` if it is float32 or float64, else a TypeError."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype}")
    return dtype


def check_mode(mode):
    """Return ``mode`` if it is one of 'valid', 'same', 'full'."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")
    return mode


def check_shape(arr, name, shape, what):
    """Require ``arr.shape == shape``; ``what`` says where ``shape`` comes from."""
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} ({what}), got {tuple(arr.shape)}")
    return arr


def check_dout(dout, shape, forward, arguments):
    """Return the upstream gradient ``dout`` as an array of the forward output's ``shape``.

    ``forward`` names the function (``"conv2d"``), ``arguments`` the arguments the shape
    came from (``"x, weight, stride, padding and dilation"``).
    """
    dout = as_array(dout, "dout", ndim=len(shape))
    return check_shape(dout, "dout", shape, f"the {forward} output shape for these {arguments}")


def check_positive_float(value, name):
    """Return ``value`` as a float, requiring a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def as_labels(targets, name, n, num_classes):
    """Return integer class labels of shape ``(n,)`` with values in ``[0, num_classes)``."""
    arr = np.asarray(targets)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one label per row of logits), got {arr.shape}")
    bad = (arr < 0) | (arr >= num_classes)
    if np.any(bad):
        raise ValueError(f"{name} must be in [0, {num_classes}), got {arr[bad][0]} at index {int(np.argmax(bad))}")
    return arr.astype(np.intp)
