"""Numerical gradient checking: is a layer's backward right?

The analytic gradient from ``backward`` is compared with central differences::

    df/dx[i] ~ (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps)     error O(eps**2)

For a layer with output ``out``, the scalar that is differentiated is
``L = sum(out * g)`` with a *random* upstream gradient ``g`` (then
``dL/dout = g``, which is what ``backward(g)`` receives). Using ``L = sum(out)``
instead (``g`` all ones) would hide mistakes such as mixing up output
positions, because every position would get the same upstream value.

Work in float64: float32's rounding (~1e-7) swamps the differences.
A correct backward gives relative errors around 1e-8 or smaller; 1e-3 or more
means a bug.

Choosing ``eps``: the central difference is off by ``O(eps**2)`` (curvature)
and by ``~1e-16 * |f| / eps`` (rounding of ``f``). The layer checks default to
``eps=1e-5``, which balances the two in float64. Two things can still spoil a
check of a correct backward: a probe that crosses a kink (a ReLU input or a
max-pooling tie within ``eps``: use random inputs with distinct values), and,
for a whole model with a mean loss, gradient entries so small (< ~1e-4) that the
loss's own rounding dominates them (relative errors up to ~1e-6).
"""

import numpy as np

from cnnlab._validation import as_array

TINY = 1e-12  # floor of the denominator in relative_error, so 0 vs 0 is 0


def relative_error(a, b):
    """How far apart two arrays of the same shape are, relative to their size (lecture 5).

    ``||a - b|| / max(||a|| + ||b||, TINY)`` with the Euclidean norm of the whole arrays:
    0 when they are equal, 1 when ``b = -a``, and about 1e-8 or less for an analytic
    gradient checked against central differences. Measured on the whole array rather
    than entry by entry, so that a gradient entry that happens to be almost zero cannot
    turn harmless rounding into a huge "relative" error.

    >>> relative_error([1.0, 0.0], [3.0, 0.0])      # |1 - 3| / (1 + 3)
    0.5
    """
    a = as_array(a, "a", finite=False)  # a NaN or inf anywhere makes the error NaN or inf: it cannot pass
    b = as_array(b, "b", finite=False)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), TINY))


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x``: float array of any shape; each element is moved to ``x[i] + eps`` and
    ``x[i] - eps`` *in place* (and restored afterwards) and ``f(x)`` is called,
    so ``f`` may use its argument or read ``x`` through a closure (e.g. a layer
    whose ``params["weight"]`` is ``x``). Returns an array shaped like ``x``::

        grad[i] = (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps)
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"x must be a float numpy array (it is changed in place), got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = float(f(x))
        x[i] = old - eps
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)  # central difference
    return grad


def _random_generators(layer):
    """Every ``numpy.random.Generator`` a layer (or a Sequential's layers) draws from."""
    if hasattr(layer, "layers"):
        return [rng for sub in layer.layers for rng in _random_generators(sub)]
    rng = getattr(layer, "rng", None)
    return [rng] if isinstance(rng, np.random.Generator) else []


def _frozen_randomness(layer):
    """A function that rewinds every random generator of ``layer`` to its state now.

    Called before each forward pass, it makes Dropout draw the same mask every
    time, so the function being differentiated does not change between probes.
    """
    generators = _random_generators(layer)
    states = [rng.bit_generator.state for rng in generators]

    def rewind():
        for rng, state in zip(generators, states):
            rng.bit_generator.state = state

    return rewind


def _check_float64(layer, x):
    if x.dtype != np.float64:
        raise TypeError(f"gradient checking needs float64 input, got x of dtype {x.dtype}")
    for name, p in layer.params.items():
        if p.dtype != np.float64:
            raise TypeError(
                f"gradient checking needs float64 parameters, got {name} of dtype {p.dtype}; "
                "create the layer with dtype=np.float64"
            )


def _compare(analytic, x, params, scalar, eps):
    numeric = {"x": numerical_gradient(scalar, x, eps)}
    for name, p in params.items():
        numeric[name] = numerical_gradient(scalar, p, eps)
    return {name: relative_error(analytic[name], numeric[name]) for name in analytic}


def check_layer_gradients(layer, x, seed=0, eps=1e-5, per_param=False):
    """Compare a layer's backward with central differences; return the max relative error.

    ``layer``: anything with ``forward``, ``backward``, ``params``, ``grads``
    (a layer or a :class:`~cnnlab.nn.Sequential`); ``x``: an input, float64.

    A random upstream gradient ``g`` (shape of the output, drawn from
    ``default_rng(seed)``) defines ``L = sum(layer.forward(x) * g)``. The
    analytic ``dL/dx = backward(g)`` and every ``grads[name]`` are compared with
    :func:`numerical_gradient` of ``L``. Random layers (Dropout in training
    mode) have their generator rewound before every forward pass, so they use
    the same mask throughout.

    Returns the largest :func:`relative_error`; with ``per_param=True``,
    ``(max_error, {"x": err, "weight": err, ...})``. The parameters are
    restored exactly; ``x`` is copied.
    """
    x = as_array(x, "x").copy()
    _check_float64(layer, x)
    rewind = _frozen_randomness(layer)
    rewind()
    out = np.array(layer.forward(x), dtype=np.float64)  # a copy: out0
    g = np.random.default_rng(seed).standard_normal(np.shape(out))
    analytic = {"x": np.array(layer.backward(g), dtype=np.float64)}
    params = layer.params
    for name in params:
        analytic[name] = np.array(layer.grads[name], dtype=np.float64)

    def scalar(_):
        # sum((out - out0) * g) has the same gradient as sum(out * g) but is far
        # less rounded: outputs that a probe does not touch cancel exactly.
        rewind()
        return np.sum((layer.forward(x) - out) * g)

    errors = _compare(analytic, x, params, scalar, eps)
    worst = max(errors.values())
    return (worst, errors) if per_param else worst


def check_loss_gradients(model, loss, x, targets, eps=1e-5, per_param=False):
    """Like :func:`check_layer_gradients` for ``L = loss.forward(model.forward(x), targets)``.

    ``loss`` is e.g. :class:`~cnnlab.nn.SoftmaxCrossEntropy`; the analytic
    gradients come from ``model.backward(loss.backward())``. Returns the max
    relative error, or ``(max_error, {"x": ..., "0.weight": ...})`` with
    ``per_param=True``.
    """
    x = as_array(x, "x").copy()
    _check_float64(model, x)
    rewind = _frozen_randomness(model)
    rewind()
    loss.forward(model.forward(x), targets)
    analytic = {"x": np.array(model.backward(loss.backward()), dtype=np.float64)}
    params = model.params
    for name in params:
        analytic[name] = np.array(model.grads[name], dtype=np.float64)

    def scalar(_):
        rewind()
        return loss.forward(model.forward(x), targets)

    errors = _compare(analytic, x, params, scalar, eps)
    worst = max(errors.values())
    return (worst, errors) if per_param else worst
