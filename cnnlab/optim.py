"""Stochastic gradient descent for the layers of :mod:`cnnlab.nn`.

Typical loop::

    model = nn.Sequential(...)
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.SGD(model, lr=0.05, momentum=0.9)
    for x, y in batches:
        loss = loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        opt.step()
"""

from cnnlab._validation import check_float, check_positive_float


class SGD:
    """SGD with optional momentum, Nesterov momentum and weight decay.

    For every parameter ``w`` with gradient ``g``, one :meth:`step` does::

        d = g + weight_decay * w          # L2 penalty (weight decay)
        if momentum > 0:
            v = momentum * v + d          # velocity; v = d on the first step
            d = d + momentum * v  if nesterov else  v
        w = w - lr * d                    # in place

    This is exactly ``torch.optim.SGD(params, lr, momentum, dampening=0,
    weight_decay, nesterov)``. Weight decay is applied to every parameter,
    biases included, as in PyTorch; pass ``exclude_bias=True`` to skip the
    parameters named ``"bias"`` (common practice: biases do not overfit).

    ``model_or_params``: a model with a ``parameters()`` method (a
    :class:`cnnlab.nn.Sequential` or a single layer), read again at every step,
    or a list of ``(layer, name, param, grad)`` tuples as ``parameters()`` yields
    them. ``lr`` (> 0) may be changed between steps, e.g. for a schedule. The
    velocities are in ``self.velocity``, keyed by ``(layer, name)``.
    """

    def __init__(self, model_or_params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, exclude_bias=False):
        self.lr = check_positive_float(lr, "lr")
        self.momentum = check_float(
            momentum,
            "momentum",
            minimum=0,
            below=1,
            why="with momentum >= 1 the velocity never forgets old gradients and grows without bound",
        )
        self.weight_decay = check_float(
            weight_decay, "weight_decay", minimum=0, why="a negative decay pushes weights away from zero"
        )
        if nesterov and self.momentum == 0:
            raise ValueError(
                "nesterov=True needs momentum > 0 (Nesterov looks ahead "
                "along the velocity, which is zero without momentum)"
            )
        self.nesterov = bool(nesterov)
        self.exclude_bias = bool(exclude_bias)
        self.velocity = {}
        if hasattr(model_or_params, "parameters"):
            self._model = model_or_params
            self._fixed = None
        else:
            self._model = None
            self._fixed = list(model_or_params)
        entries = self._entries()
        if not entries:
            raise ValueError(
                f"SGD got no parameters to optimise from {model_or_params!r}; "
                "pass a model with trainable layers (Conv2d, Linear)"
            )

    def __repr__(self):
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay}, nesterov={self.nesterov}, "
            f"exclude_bias={self.exclude_bias})"
        )

    def _entries(self):
        entries = list(self._model.parameters()) if self._model is not None else self._fixed
        for entry in entries:
            if len(entry) != 4:
                raise ValueError(
                    f"each parameter entry must be a (layer, name, param, grad) tuple, got {len(entry)} items"
                )
            layer, name, param, grad = entry
            if getattr(grad, "shape", None) != param.shape:
                raise ValueError(
                    f"gradient of {layer}.{name} has shape {getattr(grad, 'shape', None)}, "
                    f"but the parameter has shape {param.shape}"
                )
        return entries

    def step(self):
        """Update every parameter in place from its current gradient."""
        for layer, name, w, g in self._entries():
            d = g
            if self.weight_decay and not (self.exclude_bias and name == "bias"):
                d = d + self.weight_decay * w
            if self.momentum:
                key = (layer, name)
                v = self.velocity.get(key)
                if v is None:
                    v = d.copy()  # first step: v = d
                    self.velocity[key] = v
                else:
                    v *= self.momentum  # v = momentum * v + d
                    v += d
                d = d + self.momentum * v if self.nesterov else v
            w -= self.lr * d

    def zero_grad(self):
        """Set every gradient to zero (in place)."""
        for _, _, _, g in self._entries():
            g.fill(0)
