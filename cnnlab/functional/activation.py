"""Activations and the classification loss.

``relu(x) = max(x, 0)`` elementwise (any shape). ``softmax``/``log_softmax`` work over the
last axis of ``logits`` (``(K,)`` or ``(N, K)``) and subtract the row maximum first, so that
``exp`` never overflows: ``softmax(z) = softmax(z - max(z))``.

``cross_entropy(logits, targets)`` for ``logits: (N, K)`` and integer labels ``targets: (N,)``::

    loss = -1/N * sum_n log_softmax(logits)[n, targets[n]]

and its gradient with respect to the logits is ``(softmax(logits) - onehot(targets)) / N``.
"""

import numpy as np

from cnnlab._validation import as_array, as_labels, check_shape


def relu(x):
    """max(x, 0) elementwise; any shape.

    Lecture 6:

    >>> relu([-2.0, 0.0, 3.0])
    array([0., 0., 3.])
    """
    x = as_array(x, "x")
    return np.maximum(x, 0)


def relu_backward(dout, x):
    """Gradient of relu: dout where x > 0, else 0 (the gradient at exactly 0 is taken as 0, like PyTorch).

    dout, x: same shape -> dx: same shape

    Lecture 5: the gradient passes where the input was positive.

    >>> relu_backward([1.0, 1.0, 1.0], [-2.0, 0.0, 3.0])
    array([0., 0., 1.])
    """
    x = as_array(x, "x")
    dout = as_array(dout, "dout")
    check_shape(dout, "dout", x.shape, "the shape of x")
    return dout * (x > 0)


def _check_logits(logits):
    logits = as_array(logits, "logits", ndim=(1, 2))
    if logits.shape[-1] == 0:
        raise ValueError(f"logits must have at least one class (last axis), got shape {logits.shape}")
    return logits


def log_softmax(logits):
    """log(softmax(logits)) over the last axis, computed stably: z - max(z) - log(sum(exp(z - max(z))))."""
    logits = _check_logits(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits):
    """exp(z) / sum(exp(z)) over the last axis, computed stably with z - max(z). (K,) or (N, K) -> same shape.

    Lecture 6:

    >>> softmax([[1.0, 2.0, 3.0]]).round(4)
    array([[0.09  , 0.2447, 0.6652]])
    """
    logits = _check_logits(logits)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _check_ce_args(logits, targets):
    logits = as_array(logits, "logits", ndim=2)
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must have shape (N, K) with N, K >= 1, got {logits.shape}")
    targets = as_labels(targets, "targets", logits.shape[0], logits.shape[1])
    return logits, targets


def cross_entropy(logits, targets):
    """Mean cross-entropy loss, as ``torch.nn.functional.cross_entropy``.

    logits: (N, K) unnormalised scores, targets: (N,) integer labels in [0, K) -> float

    Lecture 6: ``-log softmax(logits)[target]``, here ``-log 0.6652``.

    >>> round(float(cross_entropy([[1.0, 2.0, 3.0]], [2])), 4)
    0.4076
    """
    logits, targets = _check_ce_args(logits, targets)
    log_p = log_softmax(logits)
    return -log_p[np.arange(len(targets)), targets].mean()


def cross_entropy_backward(logits, targets):
    """Gradient of ``cross_entropy`` with respect to the logits: (softmax(logits) - onehot(targets)) / N.

    logits: (N, K), targets: (N,) -> dlogits: (N, K)
    """
    logits, targets = _check_ce_args(logits, targets)
    dlogits = softmax(logits)
    dlogits[np.arange(len(targets)), targets] -= 1.0
    return dlogits / len(targets)
