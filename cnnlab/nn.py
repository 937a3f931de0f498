"""Layers for a NumPy-only CNN: forward, backward, parameters and gradients.

Every layer works the same way::

    out = layer.forward(x)      # computes the output and caches what backward needs
    dx = layer.backward(dout)   # dout = dL/dout, same shape as out; returns dL/dx
                                # and stores dL/dparam in layer.grads

``layer.params`` and ``layer.grads`` are dicts with the same keys (``"weight"``,
``"bias"``); a layer without parameters has two empty dicts. ``backward``
*overwrites* ``layer.grads`` in place (it does not add to them, unlike PyTorch),
so the arrays an optimiser holds stay valid. ``train()`` / ``eval()`` switch the
mode (only :class:`Dropout` behaves differently); a :class:`Sequential` passes
the mode on to its layers.

Array conventions are PyTorch's: images are ``(N, C, H, W)``, convolution
weights ``(C_out, C_in, KH, KW)``, linear weights ``(D_out, D_in)``. Layers with
parameters compute in float64 unless created with ``dtype=np.float32`` (about
twice as fast for training); inputs are converted to the layer's dtype.

The numerics are the vectorised functions of :mod:`cnnlab.functional`; this
module only keeps track of caches, parameters and modes.
"""

from collections import namedtuple

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_array, as_labels, as_pair, check_choice, check_float, check_float_dtype, check_int
from cnnlab.functional.conv import conv2d_backward_columns, conv2d_columns, conv2d_from_columns
from cnnlab.functional.pool import max_pool2d_with_winners, route_to_winners, share_among_windows, window_averages

#: One trainable array as :meth:`Sequential.parameters` yields it:
#: ``layer`` is the layer's name in the model (``"0"``, ``"3"``, ...),
#: ``name`` the key in its ``params``/``grads`` dicts, ``param`` and ``grad`` the arrays.
ParamRef = namedtuple("ParamRef", ["layer", "name", "param", "grad"])


# --------------------------------------------------------------------------
# Weight initialisation
# --------------------------------------------------------------------------


def fan_in_and_fan_out(shape):
    """Return ``(fan_in, fan_out)`` of a weight of ``shape``.

    ``shape`` is ``(C_out, C_in, KH, KW)`` for a convolution or
    ``(D_out, D_in)`` for a linear layer (PyTorch's convention)::

        fan_in  = C_in  * KH * KW      (inputs that feed one output)
        fan_out = C_out * KH * KW      (outputs that one input feeds)
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"a weight shape needs at least 2 dimensions (out, in, ...), got {shape}")
    receptive_field = int(np.prod(shape[2:]))  # KH * KW, or 1 for a linear layer
    return shape[1] * receptive_field, shape[0] * receptive_field


def he_normal(shape, seed=None, dtype=np.float64):
    """He (Kaiming) normal initialisation, suited to ReLU networks.

    ``w ~ Normal(0, std**2)`` with ``std = sqrt(2 / fan_in)``, so that the
    variance of the activations stays about constant from layer to layer when
    half of them are zeroed by ReLU (He et al., 2015). Same as
    ``torch.nn.init.kaiming_normal_(w, nonlinearity="relu")``.

    ``seed``: int, ``None`` (fresh randomness) or a ``numpy.random.Generator``.
    """
    fan_in, _ = fan_in_and_fan_out(shape)
    rng = np.random.default_rng(seed)
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * std).astype(dtype)


def xavier_uniform(shape, seed=None, dtype=np.float64):
    """Xavier (Glorot) uniform initialisation, suited to tanh/sigmoid/linear layers.

    ``w ~ Uniform(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``, which gives
    ``Var(w) = 2 / (fan_in + fan_out)`` (Glorot & Bengio, 2010). Same as
    ``torch.nn.init.xavier_uniform_(w)``.

    ``seed``: int, ``None`` (fresh randomness) or a ``numpy.random.Generator``.
    """
    fan_in, fan_out = fan_in_and_fan_out(shape)
    rng = np.random.default_rng(seed)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


INITS = {"he": he_normal, "xavier": xavier_uniform}


def _init_weight(shape, init, seed, dtype):
    return INITS[check_choice(init, "init", sorted(INITS))](shape, seed=seed, dtype=dtype)


# --------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------


class Layer:
    """What every layer has: ``params``, ``grads``, a mode, and shape checks."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True
        self._cache = None  # set by forward, read by backward
        self._out_shape = None  # the shape dout must have

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        """Switch to training mode (Dropout drops units). Returns the layer."""
        self.training = True
        return self

    def eval(self):
        """Switch to evaluation mode (Dropout is the identity). Returns the layer."""
        self.training = False
        return self

    def zero_grad(self):
        """Set every gradient in ``grads`` to zero (in place)."""
        for grad in self.grads.values():
            grad.fill(0)

    def parameters(self):
        """Yield a :data:`ParamRef` ``(layer, name, param, grad)`` per trainable array."""
        for name in self.params:
            yield ParamRef(type(self).__name__, name, self.params[name], self.grads[name])

    def output_shape(self, input_shape):
        """Shape of ``forward``'s output for an input of ``input_shape``."""
        return tuple(input_shape)

    def spec(self):
        """This layer as a layer-spec entry (see :mod:`cnnlab.summary` and :mod:`cnnlab.models`)."""
        return {"type": type(self).__name__.lower()}

    def _remember(self, cache, out):
        self._cache = cache
        self._out_shape = out.shape
        return out

    def _check_backward(self, dout, dtype=None):
        if self._cache is None:
            raise RuntimeError(
                f"{self!r}: backward() was called before forward(); "
                "run forward(x) first so the layer can cache what backward needs"
            )
        dout = as_array(dout, "dout", dtype=dtype)
        if dout.shape != self._out_shape:
            raise ValueError(
                f"{self!r}: dout has shape {dout.shape} but forward produced an output "
                f"of shape {self._out_shape}; dout = dL/dout must have the output's shape"
            )
        return dout


def _check_4d(layer, x):
    if np.ndim(x) != 4:
        raise ValueError(f"{layer!r} needs x of shape (N, C, H, W), got a {np.ndim(x)}-D array of shape {np.shape(x)}")


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


class Conv2d(Layer):
    """2-D convolution (cross-correlation) layer, like ``torch.nn.Conv2d``.

    Shapes: x ``(N, C_in, H, W)`` -> out ``(N, C_out, H_out, W_out)`` with
    ``H_out = floor((H + 2*padding - dilation*(KH - 1) - 1) / stride) + 1``
    (same for W).

    Parameters: ``weight`` ``(C_out, C_in, KH, KW)``, initialised by
    ``init="he"`` (:func:`he_normal`, default) or ``"xavier"``
    (:func:`xavier_uniform`) from ``seed``; ``bias`` ``(C_out,)``, zeros
    (absent when ``bias=False``).

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are ints or
    ``(h, w)`` pairs.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        init="he",
        seed=None,
        dtype=np.float64,
    ):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = as_pair(kernel_size, "kernel_size", minimum=1)
        self.stride = as_pair(stride, "stride", minimum=1)
        self.padding = as_pair(padding, "padding", minimum=0)
        self.dilation = as_pair(dilation, "dilation", minimum=1)
        self.dtype = check_float_dtype(dtype)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.params["weight"] = _init_weight(shape, init, seed, self.dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_channels, dtype=self.dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def __repr__(self):
        text = f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if "bias" not in self.params:
            text += ", bias=False"
        return text + ")"

    def spec(self):
        """``{"type": "conv", ...}`` with this layer's sizes, for :func:`cnnlab.summary.layer_table`."""
        return {
            "type": "conv",
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "bias": "bias" in self.params,
        }

    def _check_channels(self, channels, shape):
        if channels != self.in_channels:
            raise ValueError(
                f"{self!r} expects in_channels={self.in_channels}, but the input has "
                f"C={channels} channels (shape {shape}); check in_channels or the "
                "layer before it"
            )

    def output_shape(self, input_shape):
        """``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(f"{self!r} needs an input shape (N, C, H, W), got {input_shape}")
        self._check_channels(input_shape[1], input_shape)
        h_out = F.conv_output_size(
            input_shape[2], self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]
        )
        w_out = F.conv_output_size(
            input_shape[3], self.kernel_size[1], self.stride[1], self.padding[1], self.dilation[1]
        )
        return (input_shape[0], self.out_channels, h_out, w_out)

    def forward(self, x):
        """x ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``.

        Keeps the im2col columns of ``x`` for :meth:`backward`, which then only needs
        two matrix products and a col2im.
        """
        _check_4d(self, x)
        x = as_array(x, "x", ndim=4, dtype=self.dtype)
        out_hw = self.output_shape(x.shape)[2:]
        cols = conv2d_columns(x, self.kernel_size, self.stride, self.padding, self.dilation, out_hw)
        out = conv2d_from_columns(cols, x.shape, self.params["weight"], self.params.get("bias"), out_hw)
        return self._remember((x.shape, cols), out)

    def backward(self, dout):
        """dout ``(N, C_out, H_out, W_out)`` -> dx ``(N, C_in, H, W)``; fills ``grads``."""
        dout = self._check_backward(dout, self.dtype)
        x_shape, cols = self._cache
        dx, dweight, dbias = conv2d_backward_columns(
            dout, cols, x_shape, self.params["weight"], self.stride, self.padding, self.dilation
        )
        self.grads["weight"][...] = dweight
        if "bias" in self.grads:
            self.grads["bias"][...] = dbias
        return dx


class _Pool2d(Layer):
    """Shared code of the pooling layers (no parameters, any channel count)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self._pairs()  # check the arguments now, not at the first forward

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"

    def spec(self):
        """``{"type": "maxpool" or "avgpool", ...}`` for :func:`cnnlab.summary.layer_table`."""
        return {
            "type": type(self).__name__[:3].lower() + "pool",
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
        }

    def _pairs(self):
        """``(kernel, stride, padding)`` as checked ``(h, w)`` pairs."""
        return (
            as_pair(self.kernel_size, "kernel_size", minimum=1),
            as_pair(self.stride, "stride", minimum=1),
            as_pair(self.padding, "padding", minimum=0),
        )

    def output_shape(self, input_shape):
        """``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(f"{self!r} needs an input shape (N, C, H, W), got {input_shape}")
        kernel, stride, padding = self._pairs()
        return input_shape[:2] + tuple(
            F.pool_output_size(size, k, s, p) for size, k, s, p in zip(input_shape[2:], kernel, stride, padding)
        )


class MaxPool2d(_Pool2d):
    """Max pooling, like ``torch.nn.MaxPool2d``: the largest value of each window.

    Shapes: x ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``,
    ``H_out = floor((H + 2*padding - KH) / stride) + 1``; ``stride`` defaults to
    ``kernel_size``. Backward routes each gradient to its window's arg-max, which
    forward remembers.
    """

    def forward(self, x):
        """x ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; remembers each window's winner."""
        _check_4d(self, x)
        x = as_array(x, "x", ndim=4)
        kernel, stride, padding = self._pairs()
        out_hw = self.output_shape(x.shape)[2:]
        out, winners = max_pool2d_with_winners(x, kernel, stride, padding, (1, 1), out_hw)
        return self._remember((x.shape, x.dtype, winners), out)

    def backward(self, dout):
        """dout ``(N, C, H_out, W_out)`` -> dx ``(N, C, H, W)``: each value to its window's winner."""
        x_shape, dtype, winners = self._cache if self._cache is not None else (None, None, None)
        dout = self._check_backward(dout, dtype)
        kernel, stride, padding = self._pairs()
        return route_to_winners(dout, winners, x_shape, kernel, stride, padding, (1, 1))


class AvgPool2d(_Pool2d):
    """Average pooling, like ``torch.nn.AvgPool2d`` (``count_include_pad=True``).

    Shapes: x ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``,
    ``H_out = floor((H + 2*padding - KH) / stride) + 1``; ``stride`` defaults to
    ``kernel_size``. Backward spreads each gradient evenly over its window.
    """

    def forward(self, x):
        """x ``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``; remembers x's shape."""
        _check_4d(self, x)
        x = as_array(x, "x", ndim=4)
        kernel, stride, padding = self._pairs()
        out = window_averages(x, kernel, stride, padding, self.output_shape(x.shape)[2:])
        return self._remember((x.shape, x.dtype), out)

    def backward(self, dout):
        """dout ``(N, C, H_out, W_out)`` -> dx ``(N, C, H, W)``: each value shared evenly by its window."""
        x_shape, dtype = self._cache if self._cache is not None else (None, None)
        dout = self._check_backward(dout, dtype)
        kernel, stride, padding = self._pairs()
        return share_among_windows(dout, x_shape, kernel, stride, padding)


class ReLU(Layer):
    """``relu(x) = max(x, 0)`` elementwise; any shape -> the same shape."""

    def __repr__(self):
        return "ReLU()"

    def forward(self, x):
        """x any shape -> same shape; remembers where x > 0 for backward."""
        x = as_array(x, "x")
        return self._remember((x > 0, x.dtype), np.maximum(x, 0))

    def backward(self, dout):
        """dout -> dx = dout where x > 0, else 0 (as ``F.relu_backward``)."""
        positive, dtype = self._cache if self._cache is not None else (None, None)
        dout = self._check_backward(dout, dtype)
        return dout * positive


class Flatten(Layer):
    """Flatten everything but the batch axis: ``(N, C, H, W)`` -> ``(N, C*H*W)``.

    Like ``torch.nn.Flatten()``; the usual bridge from convolutions to Linear.
    """

    def __repr__(self):
        return "Flatten(start_dim=1, end_dim=-1)"

    def output_shape(self, input_shape):
        """``(N, d1, d2, ...)`` -> ``(N, d1*d2*...)``."""
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"Flatten needs an input shape (N, ...), got {input_shape}")
        return (input_shape[0], int(np.prod(input_shape[1:])))

    def forward(self, x):
        """x ``(N, d1, d2, ...)`` -> ``(N, d1*d2*...)``."""
        x = as_array(x, "x")
        if x.ndim < 2:
            raise ValueError(
                f"Flatten needs x of shape (N, ...) with a batch axis, got a {x.ndim}-D array of shape {x.shape}"
            )
        return self._remember(x.shape, x.reshape(x.shape[0], -1))

    def backward(self, dout):
        """dout ``(N, d1*d2*...)`` -> dx ``(N, d1, d2, ...)``."""
        dout = self._check_backward(dout)
        return dout.reshape(self._cache)


class Linear(Layer):
    """Fully connected layer, like ``torch.nn.Linear``: ``out = x @ weight.T + bias``.

    Shapes: x ``(N, D_in)`` -> out ``(N, D_out)``.

    Parameters: ``weight`` ``(D_out, D_in)`` (PyTorch's layout), initialised by
    ``init="he"`` (:func:`he_normal`, default) or ``"xavier"``
    (:func:`xavier_uniform`) from ``seed``; ``bias`` ``(D_out,)``, zeros
    (absent when ``bias=False``).
    """

    def __init__(self, in_features, out_features, bias=True, init="he", seed=None, dtype=np.float64):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.dtype = check_float_dtype(dtype)
        shape = (self.out_features, self.in_features)
        self.params["weight"] = _init_weight(shape, init, seed, self.dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=self.dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params})"

    def spec(self):
        """``{"type": "linear", ...}`` for :func:`cnnlab.summary.layer_table`."""
        return {
            "type": "linear",
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": "bias" in self.params,
        }

    def _check_input_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"{self!r} needs x of shape (N, {self.in_features}), got a {len(shape)}-D "
                f"input of shape {shape}; did you forget a Flatten() layer before it?"
            )
        if shape[1] != self.in_features:
            raise ValueError(
                f"{self!r} expects in_features={self.in_features}, but x has "
                f"{shape[1]} features (shape {shape}); set in_features={shape[1]} or fix "
                "the layers before it (did you forget Flatten, or miscount a pooling step?)"
            )

    def output_shape(self, input_shape):
        """``(N, D_in)`` -> ``(N, D_out)``."""
        input_shape = tuple(input_shape)
        self._check_input_shape(input_shape)
        return (input_shape[0], self.out_features)

    def forward(self, x):
        """x ``(N, D_in)`` -> ``(N, D_out)``."""
        self._check_input_shape(np.shape(x))
        x = as_array(x, "x", ndim=2, dtype=self.dtype)
        out = x @ self.params["weight"].T  # out[n, j] = sum_i x[n, i] * W[j, i]
        if "bias" in self.params:
            out += self.params["bias"]
        return self._remember(x, out)

    def backward(self, dout):
        """dout ``(N, D_out)`` -> dx ``(N, D_in)``; fills ``grads``.

        ``dW = dout.T @ x`` ``(D_out, D_in)``, ``db = sum_n dout[n]``,
        ``dx = dout @ W``.
        """
        dout = self._check_backward(dout, self.dtype)
        x = self._cache
        self.grads["weight"][...] = dout.T @ x
        if "bias" in self.grads:
            self.grads["bias"][...] = dout.sum(axis=0)
        return dout @ self.params["weight"]


class Dropout(Layer):
    """Inverted dropout, like ``torch.nn.Dropout``; any shape -> the same shape.

    In training mode each value is zeroed with probability ``p`` and the
    survivors are scaled by ``1 / (1 - p)``, so the expected output equals the
    input::

        mask = (u >= p) / (1 - p),  u ~ Uniform[0, 1)    out = x * mask

    In evaluation mode (``eval()``), or with ``p=0``, it is the identity. The
    masks come from ``numpy.random.default_rng(seed)``, kept in ``self.rng``:
    the same seed gives the same sequence of masks.
    """

    def __init__(self, p=0.5, seed=None):
        super().__init__()
        self.p = check_float(
            p,
            "p (the drop probability)",
            minimum=0,
            below=1,
            why="p=1 would drop everything and the 1/(1-p) scaling would divide by zero",
        )
        self.rng = np.random.default_rng(seed)

    def __repr__(self):
        return f"Dropout(p={self.p})"

    def spec(self):
        """``{"type": "dropout", "p": p}`` for :func:`cnnlab.summary.layer_table`."""
        return {"type": "dropout", "p": self.p}

    def forward(self, x):
        """x any shape -> same shape."""
        x = as_array(x, "x")
        if not self.training or self.p == 0:
            return self._remember(np.ones((), dtype=x.dtype), x)  # identity: mask 1
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        mask = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return self._remember(mask, x * mask)

    def backward(self, dout):
        """dout -> dx = dout * mask (the same mask as in forward)."""
        dout = self._check_backward(dout, self._cache.dtype if self._cache is not None else None)
        return dout * self._cache


# --------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------


class SoftmaxCrossEntropy(Layer):
    """Softmax followed by the cross-entropy, averaged over the batch.

    ``forward(logits, targets)``: logits ``(N, K)``, targets ``(N,)`` integer
    class labels in ``[0, K)`` -> scalar
    ``L = -(1/N) sum_n log softmax(logits[n])[targets[n]]``
    (same as ``torch.nn.CrossEntropyLoss()``).

    ``backward(dout=1.0)`` -> dlogits ``(N, K)`` ``= dout * (softmax(logits) - onehot(targets)) / N``.
    """

    def __repr__(self):
        return "SoftmaxCrossEntropy()"

    def __call__(self, logits, targets):
        return self.forward(logits, targets)

    def forward(self, logits, targets):
        """logits ``(N, K)``, targets ``(N,)`` ints -> mean loss (a Python float)."""
        if np.ndim(logits) != 2:
            raise ValueError(
                f"SoftmaxCrossEntropy needs logits of shape (N, K), got a {np.ndim(logits)}-D "
                f"array of shape {np.shape(logits)}; did you forget Flatten/Linear before the loss?"
            )
        logits = as_array(logits, "logits", ndim=2)
        targets = as_labels(targets, "targets", logits.shape[0], logits.shape[1])
        self._cache = (logits, targets)
        return float(F.cross_entropy(logits, targets))

    def backward(self, dout=1.0):
        """-> dlogits ``(N, K)`` = ``dout * dL/dlogits``."""
        if self._cache is None:
            raise RuntimeError("SoftmaxCrossEntropy: backward() was called before forward(logits, targets)")
        logits, targets = self._cache
        dlogits = F.cross_entropy_backward(logits, targets)
        if dout != 1.0:
            dlogits = dlogits * dout
        return dlogits


# --------------------------------------------------------------------------
# Container
# --------------------------------------------------------------------------


class Sequential:
    """Layers applied one after the other, like ``torch.nn.Sequential``.

    ``forward`` runs the layers in order, ``backward`` in reverse. Layers are
    named by their index (``"0"``, ``"1"``, ...), so ``params`` / ``grads`` are
    flat dicts with keys like ``"0.weight"`` (the same arrays as the layers'),
    and :meth:`parameters` yields :data:`ParamRef` tuples
    ``(layer, name, param, grad)`` for an optimiser. ``train()`` / ``eval()``
    and ``zero_grad()`` are passed on to every layer.

    An error inside a layer is re-raised with the layer's index and description.
    """

    def __init__(self, *layers):
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
                raise TypeError(
                    f"Sequential layer {i} must have forward and backward methods, got "
                    f"{layer!r} ({type(layer).__name__})"
                )
        self.layers = list(layers)
        self.training = True

    def __repr__(self):
        lines = [f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __call__(self, x):
        return self.forward(x)

    def _run(self, i, method, value):
        try:
            return method(value)
        except (ValueError, TypeError, RuntimeError) as err:
            if type(err) not in (ValueError, TypeError, RuntimeError):
                raise
            raise type(err)(f"in layer ({i}) {self.layers[i]!r}: {err}") from err

    def forward(self, x):
        """x -> the last layer's output, each layer caching for backward."""
        for i, layer in enumerate(self.layers):
            x = self._run(i, layer.forward, x)
        return x

    def backward(self, dout):
        """dout (shape of the output) -> dx (shape of the input); fills every layer's grads."""
        for i in reversed(range(len(self.layers))):
            dout = self._run(i, self.layers[i].backward, dout)
        return dout

    @property
    def params(self):
        """Flat dict ``{"<index>.<name>": array}`` of every layer's parameters."""
        return {f"{i}.{name}": p for i, layer in enumerate(self.layers) for name, p in layer.params.items()}

    @property
    def grads(self):
        """Flat dict ``{"<index>.<name>": array}`` of every layer's gradients."""
        return {f"{i}.{name}": g for i, layer in enumerate(self.layers) for name, g in layer.grads.items()}

    def parameters(self):
        """Yield :data:`ParamRef` ``(layer, name, param, grad)`` for every trainable array."""
        for i, layer in enumerate(self.layers):
            for name in layer.params:
                yield ParamRef(str(i), name, layer.params[name], layer.grads[name])

    def train(self):
        """Training mode for every layer. Returns the model."""
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        """Evaluation mode for every layer. Returns the model."""
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    def zero_grad(self):
        """Zero every layer's gradients."""
        for layer in self.layers:
            layer.zero_grad()

    def output_shapes(self, input_shape):
        """The output shape after each layer, as a list (one shape per layer).

        ``input_shape`` includes the batch axis, e.g. ``(1, 1, 28, 28)``.
        Nothing is computed on data, so this is a cheap structure check; a
        mismatch (wrong channel count, missing Flatten) raises the same error
        ``forward`` would.
        """
        shape = tuple(input_shape)
        shapes = []
        for i, layer in enumerate(self.layers):
            shape = self._run(i, layer.output_shape, shape)
            shapes.append(shape)
        return shapes

    def output_shape(self, input_shape):
        """The shape of the model's output for an input of ``input_shape``.

        See :meth:`output_shapes` for the shape after every layer.
        """
        shapes = self.output_shapes(input_shape)
        return shapes[-1] if shapes else tuple(input_shape)
