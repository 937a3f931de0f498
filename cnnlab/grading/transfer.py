"""Send a model from the student's kernel to the grader as plain data, and build it again there.

At trusted grading the checks run in the grader's own process, and the student's (sandboxed)
kernel may only send plain data: arrays, numbers, strings, lists and dicts. A model travels as
its *description*::

    description = describe(model, probe_x)     # in the student's kernel
    model = rebuild(description, probe_x)       # in the grader: a fresh model, allowlisted layers only

``describe`` knows two kinds of model.

* A ``cnnlab.nn.Sequential``: every layer's class name, the constructor arguments that matter
  (``in_channels``, ``kernel_size``, ``padding``, ...), its parameters and its mode.
* A ``torch.nn.Module`` of any kind (an ``nn.Sequential`` or a subclass whose ``forward`` calls
  ``F.relu``, ``F.max_pool2d``, ``x.view(...)``): the model runs once on ``probe_x`` under a
  ``TorchFunctionMode`` that records every operation applied to the activations, in order, with
  its arguments and its weight tensors. The network is this list of operations.

Both also carry ``probe_x`` and the model's output on it (evaluation mode), or the error the
forward pass raised. ``rebuild`` never evaluates, unpickles or imports anything named in the
description: it looks layer names up in fixed tables of ``cnnlab.nn`` / ``torch.nn`` classes,
builds a ``cnnlab.nn.Sequential`` or a ``torch.nn.Sequential`` from them, copies the parameters,
and runs the rebuilt model on the probe. When the outputs differ (beyond float32 rounding), or
the forward pass fails where the original did not, it raises an ``AssertionError`` that says so.
A network that is not a chain of known operations (a residual ``x + y``, a custom layer class,
arithmetic on the activations) is refused with the message
``your network does something cnnlab cannot replay: <what>; ask your instructor``.

The description (format ``"cnnlab-model/1"``; every value is plain data)::

    {"format": "cnnlab-model/1", "kind": "cnnlab" | "torch" | "other",
     "probe": ndarray, "outputs": ndarray or None, "error": None or "ValueError: ...",
     # kind "cnnlab":
     "model": {"class": "Sequential", "training": bool, "layers": [layer, ...]},
         layer = {"class": "Conv2d", "training": bool, "params": {"weight": ndarray, ...},
                  "args": {"in_channels": 1, "out_channels": 8, "kernel_size": [3, 3], ...}}
                 (nested {"class": "Sequential", ...}; an unknown class: {"class", "module"} only)
     # kind "torch":
     "training": bool, "probe_dtype": "float32",
     "ops": [{"op": "conv2d", "args": {"stride": [1, 1], ...},
              "tensors": {"weight": tensor, "bias": tensor or None},
              "input_shape": [3, 1, 28, 28], "output_shape": [...] or None}, ...],
         tensor = {"values": ndarray, "requires_grad": bool, "parameter": "0.weight" or None}
     "parameters": [{"name", "shape", "dtype", "requires_grad"}, ...]   (all of the model's)
     "unused": [{"name", "values", "requires_grad"}, ...]              (never used in forward)
     "unsupported": None or "what could not be recorded"
     # kind "other": "type": the class name of whatever was described}

The probe is made in the grader (:func:`make_probe`), sent to the kernel, and given to
``rebuild`` again, so the kernel cannot choose the inputs on which it is verified.
"""

import math

import numpy as np

from cnnlab import nn as cnn_nn

FORMAT = "cnnlab-model/1"

#: Shape of the probe batch: 3 MNIST-sized images (3, not a usual batch size, so that a reshape
#: with a hard-coded batch size shows up).
PROBE_SHAPE = (3, 1, 28, 28)

#: Refuse descriptions larger than this (operations, parameter values), so that a hostile kernel
#: cannot make the grader build something enormous.
MAX_OPS = 500
MAX_VALUES = 50_000_000

_FLOAT_DTYPES = ("float16", "float32", "float64")

_CANNOT = "your network does something cnnlab cannot replay: {}; ask your instructor"


def _refuse(what):
    raise AssertionError(_CANNOT.format(what))


def make_probe(seed=None, shape=PROBE_SHAPE):
    """A random float32 batch ``shape`` (default ``(3, 1, 28, 28)``), drawn fresh unless ``seed``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def is_model(obj):
    """True for the objects :func:`describe` turns into a description of kind cnnlab or torch."""
    if isinstance(obj, (cnn_nn.Sequential, cnn_nn.Layer)):
        return True
    torch = _torch_if_loaded()
    return torch is not None and isinstance(obj, torch.nn.Module)


def _torch_if_loaded():
    """torch, if the kernel imported it (a torch model cannot exist otherwise)."""
    import sys

    return sys.modules.get("torch")


def _error_text(exc):
    return f"{type(exc).__name__}: {exc}"


def describe(obj, probe_x):
    """Plain-data description of ``obj`` (see the module docstring), with its outputs on ``probe_x``.

    Runs in the student's kernel; uses numpy, cnnlab.nn, and torch only for a torch module.
    ``probe_x``: float array ``(N, C, H, W)``.
    """
    probe_x = np.array(probe_x, dtype=np.float32)
    if isinstance(obj, (cnn_nn.Sequential, cnn_nn.Layer)):
        return _describe_cnnlab(obj, probe_x)
    torch = _torch_if_loaded()
    if torch is not None and isinstance(obj, torch.nn.Module):
        return _describe_torch(obj, probe_x)
    return {"format": FORMAT, "kind": "other", "type": type(obj).__name__, "probe": probe_x,
            "outputs": None, "error": None}


def rebuild(description, probe_x=None):
    """A real model built from ``description`` by allowlisted classes, verified on the probe.

    Runs in the grader. Returns a ``cnnlab.nn.Sequential`` (kind cnnlab) or a
    ``torch.nn.Sequential`` (kind torch). ``probe_x``, when given, must be the probe the
    description was made with. Raises AssertionError when the description cannot be rebuilt
    or the rebuilt model does not reproduce the described outputs.
    """
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        _malformed("not a model description")
    probe = _array(description.get("probe"), "probe")
    if probe_x is not None and not (probe.shape == np.shape(probe_x) and np.array_equal(probe, probe_x)):
        _malformed("it was made for other probe inputs than the ones the grader sent")
    kind = description.get("kind")
    if kind == "cnnlab":
        model = _rebuild_cnnlab(description)
        check_cost(model, probe.shape[1:])
        _verify(description, lambda: _cnnlab_outputs(model, probe))
    elif kind == "torch":
        model = _rebuild_torch(description)
        check_cost(model, probe.shape[1:])
        _verify(description, lambda: _torch_outputs(model, probe, description.get("probe_dtype")))
    elif kind == "other":
        raise AssertionError(f"expected a model (a cnnlab.nn.Sequential or a torch.nn.Module), got a "
                             f"{_text(description.get('type'))}.")
    else:
        _malformed(f"unknown kind {kind!r}")
    return model


# --------------------------------------------------------------------------- what running it costs

#: The most work the grader does for one image of a rebuilt network (multiply-accumulates of the
#: conv and linear layers, window reads of the pooling layers, one per output of the others), and
#: the most numbers one of its layers may output per image. About 35x and 20x the notebooks'
#: networks (a 64/128-channel 5x5 design is 41.5 million): the grader runs a network on thousands of
#: test digits, so a crafted one (hundreds of layers of huge pooling windows on a huge padding)
#: could otherwise keep it busy for hours.
MAX_OPS_PER_IMAGE = 100_000_000
MAX_ACTIVATION_PER_IMAGE = 250_000


def check_cost(model, image_shape):
    """Refuse a rebuilt network that costs too much per image, before the grader runs it.

    ``model``: a ``cnnlab.nn.Sequential`` or a ``torch.nn.Sequential``; ``image_shape``: ``(C, H, W)``.
    The shapes are followed layer by layer without computing anything (torch layers run on
    parameter-free "meta" tensors). Where a layer does not fit its input the count stops: the forward
    pass fails there too.
    """
    shape, ops = (1, *image_shape), 0
    for i, layer in enumerate(_layers(model)):
        try:
            out = _output_shape(layer, shape)
        except Exception:
            return
        outputs = math.prod(out)
        ops += outputs * _work_per_output(layer)
        where = f"layer {i} ({_text(repr(layer), 80)})"
        if outputs > MAX_ACTIVATION_PER_IMAGE:
            raise AssertionError(f"the grader does not run this network: {where} outputs {outputs:,} numbers per "
                                 f"image, more than the {MAX_ACTIVATION_PER_IMAGE:,} it computes for a network on "
                                 "MNIST digits")
        if ops > MAX_OPS_PER_IMAGE:
            raise AssertionError(f"the grader does not run this network: up to {where} it needs {ops:,} operations "
                                 f"per image, more than the {MAX_OPS_PER_IMAGE:,} it spends on a network for MNIST "
                                 "digits")
        shape = out


def _layers(model):
    return list(model.layers) if isinstance(model, cnn_nn.Sequential) else list(model.children())


def _output_shape(layer, shape):
    """Shape of ``layer``'s output for an input of ``shape`` (batch of 1), computing nothing."""
    if isinstance(layer, cnn_nn.Layer):
        return tuple(layer.output_shape(shape))
    import torch

    meta = {name: torch.empty(t.shape, dtype=t.dtype, device="meta") for name, t in layer.state_dict().items()}
    return tuple(torch.func.functional_call(layer, meta, (torch.empty(shape, device="meta"),)).shape)


def _work_per_output(layer):
    """Products (conv, linear) or window reads (pooling) behind one output number; 1 for the rest."""
    kernel = getattr(layer, "kernel_size", None)
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel  # a square 2-D window
    window = math.prod(_ints(kernel, "kernel_size")) if kernel is not None else 1
    if hasattr(layer, "in_channels"):  # a convolution: C_in / groups products per kernel tap
        return window * layer.in_channels // getattr(layer, "groups", 1)
    if hasattr(layer, "in_features"):
        return layer.in_features
    return window


# --------------------------------------------------------------------------- checking plain data


def _malformed(why):
    raise AssertionError(f"the description of your model is malformed ({why}); ask your instructor.")


def _text(value, limit=80):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _int(value, what, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        _malformed(f"{what} must be an int, got {_text(value)}")
    if minimum is not None and value < minimum:
        _malformed(f"{what} must be at least {minimum}, got {value}")
    return int(value)


def _float(value, what):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        _malformed(f"{what} must be a number, got {_text(value)}")
    if not math.isfinite(float(value)):
        _malformed(f"{what} must be finite, got {value}")
    return float(value)


def _bool(value, what):
    if not isinstance(value, (bool, np.bool_)):
        _malformed(f"{what} must be True or False, got {_text(value)}")
    return bool(value)


def _ints(value, what, minimum=None):
    """An int, or a list/tuple of ints (returned as a tuple)."""
    if isinstance(value, (list, tuple)):
        if not 1 <= len(value) <= 4:
            _malformed(f"{what} must have 1 to 4 entries, got {_text(value)}")
        return tuple(_int(v, what, minimum) for v in value)
    return _int(value, what, minimum)


def _array(value, what, float_only=True):
    if type(value) is not np.ndarray:
        _malformed(f"{what} must be a numpy array, got {type(value).__name__}")
    if float_only and value.dtype.name not in _FLOAT_DTYPES:
        _malformed(f"{what} must hold float16/32/64 values, got dtype {value.dtype}")
    if value.size > MAX_VALUES:
        _malformed(f"{what} has {value.size:,} values, more than the {MAX_VALUES:,} allowed")
    return np.array(value)


def _plain(value):
    """ints, floats, bools, strings, None and (nested) tuples of them as plain Python values."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    return repr(value)


# --------------------------------------------------------------------------- verification


def _close(got, want):
    """float32 tolerance, relative to the size of the outputs."""
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    return got.shape == want.shape and bool(np.all(np.abs(got - want) <= 1e-4 * np.abs(want) + 1e-5 * scale))


def _verify(description, run):
    """Run the rebuilt model on the probe; it must fail where the original failed, else match it."""
    error = description.get("error")
    if error is not None and not isinstance(error, str):
        _malformed("error must be a string")
    try:
        got = run()
    except AssertionError:
        raise
    except Exception as exc:
        if error is not None:
            return  # the original failed as well: the check will diagnose the rebuilt model
        _refuse(f"the rebuilt network fails on the probe images ({_text(_error_text(exc), 200)}) "
                "where yours did not")
    if error is not None:
        _refuse(f"your network's forward pass failed ({_text(error, 200)}), but the rebuilt one did not")
    want = _array(description.get("outputs"), "outputs")
    got = np.asarray(got, dtype=np.float64)
    if not _close(got, want.astype(np.float64)):
        if got.shape != want.shape:
            what = f"output shape {got.shape} instead of {want.shape}"
        else:
            what = f"outputs differ by up to {float(np.max(np.abs(got - want))):.3g}"
        _refuse(f"the rebuilt network does not reproduce your network's outputs ({what})")


# --------------------------------------------------------------------------- cnnlab.nn models

_CNNLAB_CLASSES = {
    "Conv2d": cnn_nn.Conv2d, "Linear": cnn_nn.Linear, "ReLU": cnn_nn.ReLU, "MaxPool2d": cnn_nn.MaxPool2d,
    "AvgPool2d": cnn_nn.AvgPool2d, "Flatten": cnn_nn.Flatten, "Dropout": cnn_nn.Dropout,
}


def _cnnlab_args(layer):
    """The constructor arguments that decide what ``layer`` computes (plain data)."""
    name = type(layer).__name__
    if name == "Conv2d":
        return {"in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "kernel_size": list(layer.kernel_size), "stride": list(layer.stride),
                "padding": list(layer.padding), "dilation": list(layer.dilation),
                "bias": "bias" in layer.params, "dtype": np.dtype(layer.dtype).name}
    if name == "Linear":
        return {"in_features": layer.in_features, "out_features": layer.out_features,
                "bias": "bias" in layer.params, "dtype": np.dtype(layer.dtype).name}
    if name in ("MaxPool2d", "AvgPool2d"):
        return {"kernel_size": _plain(layer.kernel_size), "stride": _plain(layer.stride),
                "padding": _plain(layer.padding)}
    if name == "Dropout":
        return {"p": float(layer.p)}
    return {}


def _describe_cnnlab_layer(layer):
    cls = type(layer)
    if cls is cnn_nn.Sequential:
        return {"class": "Sequential", "training": bool(layer.training),
                "layers": [_describe_cnnlab_layer(child) for child in layer.layers]}
    if _CNNLAB_CLASSES.get(cls.__name__) is not cls:
        return {"class": cls.__name__, "module": cls.__module__}
    args = {k: _plain(v) for k, v in _cnnlab_args(layer).items()}
    return {"class": cls.__name__, "training": bool(layer.training), "args": args,
            "params": {str(k): np.array(v) for k, v in layer.params.items()}}


def _cnnlab_modes(model):
    """Every training flag in the model, to restore after a forward pass in evaluation mode."""
    layers = model.layers if isinstance(model, cnn_nn.Sequential) else []
    own = [(model, model.training)] if hasattr(model, "training") else []
    return own + [m for child in layers for m in _cnnlab_modes(child)]


def _cnnlab_outputs(model, probe):
    modes = _cnnlab_modes(model)
    model.eval()
    try:
        return np.array(model.forward(probe))
    finally:
        for obj, flag in modes:
            obj.training = flag


def _describe_cnnlab(model, probe):
    described = _describe_cnnlab_layer(model)
    if described["class"] != "Sequential":
        described = {"class": "Sequential", "training": described.get("training", True), "layers": [described],
                     "single_layer": True}
    outputs, error = None, None
    try:
        outputs = _cnnlab_outputs(model, probe)
        if outputs.dtype.name not in _FLOAT_DTYPES:
            outputs = outputs.astype(np.float64)
    except Exception as exc:
        error = _error_text(exc)
    return {"format": FORMAT, "kind": "cnnlab", "model": described, "probe": probe, "outputs": outputs,
            "error": error}


def _rebuild_cnnlab(description):
    entry = description.get("model")
    if not isinstance(entry, dict) or entry.get("class") != "Sequential":
        _malformed("a cnnlab model must be a Sequential")
    counter = {"layers": 0, "values": 0}
    model = _rebuild_cnnlab_layer(entry, "", counter)
    if entry.get("single_layer") is True:
        return model.layers[0]
    return model


def _rebuild_cnnlab_layer(entry, where, counter):
    counter["layers"] += 1
    if counter["layers"] > MAX_OPS:
        _malformed(f"more than {MAX_OPS} layers")
    if not isinstance(entry, dict):
        _malformed(f"layer {where} is not a dict")
    name = entry.get("class")
    if name == "Sequential":
        layers = entry.get("layers")
        if not isinstance(layers, (list, tuple)):
            _malformed("Sequential needs a list of layers")
        prefix = f"{where}." if where else ""
        model = cnn_nn.Sequential(*[_rebuild_cnnlab_layer(child, f"{prefix}{i}", counter)
                                    for i, child in enumerate(layers)])
        model.training = _bool(entry.get("training", True), "training")
        return model
    cls = _CNNLAB_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        _refuse(f"layer {where} is a {_text(name)} (from {_text(entry.get('module', '?'))}), not one of the "
                f"cnnlab.nn layers {', '.join(_CNNLAB_CLASSES)}")
    args = entry.get("args")
    if not isinstance(args, dict):
        _malformed(f"layer {where} has no args")
    layer = _construct_cnnlab(cls, name, args, where)
    params = entry.get("params", {})
    if not isinstance(params, dict) or set(params) != set(layer.params):
        _malformed(f"layer {where} ({name}) must have the parameters {sorted(layer.params)}")
    for key, value in params.items():
        layer.params[key] = _array(value, f"layer {where} {key}")
        layer.grads[key] = np.zeros_like(layer.params[key])
        counter["values"] += value.size
        if counter["values"] > MAX_VALUES:
            _malformed(f"more than {MAX_VALUES:,} parameter values")
    layer.training = _bool(entry.get("training", True), "training")
    return layer


def _dtype(value, what):
    if value not in ("float32", "float64"):
        _malformed(f"{what} must be 'float32' or 'float64', got {_text(value)}")
    return np.dtype(value)


def _construct_cnnlab(cls, name, args, where):
    what = f"layer {where} ({name})"
    try:
        if name == "Conv2d":
            return cls(_int(args.get("in_channels"), "in_channels", 1),
                       _int(args.get("out_channels"), "out_channels", 1),
                       _ints(args.get("kernel_size"), "kernel_size", 1), stride=_ints(args.get("stride"), "stride", 1),
                       padding=_ints(args.get("padding"), "padding", 0),
                       dilation=_ints(args.get("dilation"), "dilation", 1), bias=_bool(args.get("bias"), "bias"),
                       seed=0, dtype=_dtype(args.get("dtype"), "dtype"))
        if name == "Linear":
            return cls(_int(args.get("in_features"), "in_features", 1),
                       _int(args.get("out_features"), "out_features", 1), bias=_bool(args.get("bias"), "bias"),
                       seed=0, dtype=_dtype(args.get("dtype"), "dtype"))
        if name in ("MaxPool2d", "AvgPool2d"):
            stride = args.get("stride")
            return cls(_ints(args.get("kernel_size"), "kernel_size", 1),
                       stride=None if stride is None else _ints(stride, "stride", 1),
                       padding=_ints(args.get("padding", 0), "padding", 0))
        if name == "Dropout":
            return cls(_float(args.get("p"), "p"))
        return cls()
    except (TypeError, ValueError) as exc:
        _malformed(f"{what}: {exc}")


# --------------------------------------------------------------------------- torch models

#: Positional parameter names of the recorded operations (torch.* / F.* / Tensor methods agree
#: on the order; ``self`` and ``train`` are the aliases some of them use).
_SIGNATURES = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "linear": ("input", "weight", "bias"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                   "divisor_override"),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "adaptive_max_pool2d": ("input", "output_size", "return_indices"),
    "flatten": ("input", "start_dim", "end_dim"),
    "dropout": ("input", "p", "training", "inplace"),
    "batch_norm": ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
    "softmax": ("input", "dim", "_stacklevel", "dtype"),
    "relu": ("input", "inplace"),
    "leaky_relu": ("input", "negative_slope", "inplace"),
    "elu": ("input", "alpha", "inplace"),
    "celu": ("input", "alpha", "inplace"),
    "gelu": ("input", "approximate"),
    "hardtanh": ("input", "min_val", "max_val", "inplace"),
    "softplus": ("input", "beta", "threshold"),
    "plain": ("input", "inplace"),  # tanh, sigmoid, silu, ...: no arguments that matter
}
_SIGNATURE_OF = {"max_pool2d_with_indices": "max_pool2d", "dropout2d": "dropout", "log_softmax": "softmax",
                 "relu_": "relu", "leaky_relu_": "leaky_relu", "elu_": "elu", "hardtanh_": "hardtanh",
                 "relu6": "plain", "tanh": "plain", "sigmoid": "plain", "silu": "plain", "selu": "plain",
                 "mish": "plain", "hardswish": "plain"}
_ALIASES = {"self": "input", "train": "training"}

#: Operations that leave the values alone.
_IDENTITY_OPS = {"contiguous", "clone"}
#: Operations that only change the shape.
_RESHAPE_OPS = {"view", "reshape", "squeeze", "unsqueeze", "squeeze_", "unsqueeze_"}
#: Every operation the replay knows, by the name the recorder sees.
_REPLAYED = set(_SIGNATURES) | set(_SIGNATURE_OF) - {"plain"}


def _bind(op, args, kwargs):
    """Positional + keyword arguments -> {name: value} by the op's signature."""
    names = _SIGNATURES[_SIGNATURE_OF.get(op, op)]
    bound = {}
    for name, value in zip(names, args):
        bound[name] = value
    for key, value in kwargs.items():
        bound[_ALIASES.get(key, key)] = value
    return bound


def _pair_or_none(value):
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    return _plain(value)


class _Recorder:
    """Follows the activations of one forward pass and writes down each operation on them."""

    def __init__(self, torch, model):
        self.torch = torch
        self.ops = []
        self.unsupported = None
        self.failed = None
        self.current = None          # the activation the next operation should take
        self.seen = []               # every activation so far (kept alive so that ids stay unique)
        self.param_names = {}
        for name, p in model.named_parameters(remove_duplicate=False):
            self.param_names.setdefault(id(p), name)
        self.used = set()

    def activations_in(self, values):
        ids = {id(t) for t in self.seen}
        found = []
        for v in values:
            if isinstance(v, (list, tuple)):
                found += self.activations_in(v)
            elif isinstance(v, self.torch.Tensor) and id(v) in ids:
                found.append(v)
        return found

    def tensor(self, t):
        if t is None:
            return None
        if not isinstance(t, self.torch.Tensor):
            return "not a tensor"
        name = self.param_names.get(id(t))
        if name is not None:
            self.used.add(id(t))
        return {"values": t.detach().cpu().numpy().copy(), "requires_grad": bool(t.requires_grad),
                "parameter": name}

    def refuse(self, what):
        if self.unsupported is None:
            self.unsupported = what

    def step(self, func, op, args, kwargs):
        """Describe one operation on ``self.current``; None when it changes nothing."""
        torch = self.torch
        x = self.current
        if op in _IDENTITY_OPS:
            return None
        if op in _RESHAPE_OPS:
            return {"op": "reshape"}
        if op in ("to", "float", "double", "half", "type"):
            return {"op": "cast"}
        if op not in _REPLAYED:
            return {"op": "unsupported"}
        bound = _bind(op, args, kwargs)
        if bound.get("input") is not x:
            return {"op": "unsupported"}
        if op == "batch_norm" and func is not torch.nn.functional.batch_norm:
            return {"op": "unsupported"}
        tensors = {k: self.tensor(bound.get(k)) for k in ("weight", "bias", "running_mean", "running_var")
                   if k in _SIGNATURES[_SIGNATURE_OF.get(op, op)]}
        if any(t == "not a tensor" for t in tensors.values()):
            return {"op": "unsupported"}
        plain = {k: _pair_or_none(v) if k in ("stride", "kernel_size", "padding", "dilation", "output_size")
                 else _plain(v) for k, v in bound.items()
                 if k not in ("input", "inplace", "_stacklevel", *tensors)}
        name = _SIGNATURE_OF.get(op, op) if op in ("max_pool2d_with_indices", "relu_", "leaky_relu_", "elu_",
                                                    "hardtanh_") else op
        return {"op": name, "args": plain, "tensors": tensors}

    def record(self, func, args, kwargs, out):
        """Called after (or, with ``out=None``, when failing in) every torch function."""
        torch = self.torch
        op = getattr(func, "__name__", "") or ""
        inputs = self.activations_in(list(args) + list(kwargs.values()))
        if not inputs:
            return  # not on the activations (parameter set-up, shapes, ...)
        result = out[0] if isinstance(out, tuple) and op in ("max_pool2d_with_indices", "adaptive_max_pool2d",
                                                                "max_pool2d") else out
        if out is not None and not isinstance(result, torch.Tensor):
            return  # x.size(0), x.dim(), x.shape: no new activation
        if any(t is not self.current for t in inputs):
            self.refuse(f"{op} uses an earlier result again (a branch or residual connection, x + y); "
                        "only a chain of layers can be replayed")
            return
        entry = self.step(func, op, args, kwargs)
        if entry is None:
            self.advance(result)
            return
        if entry["op"] == "unsupported":
            self.refuse(f"the operation {op} on the activations")
            return
        if entry["op"] == "cast":
            if out is not None and result.dtype != self.current.dtype:
                self.refuse(f"{op} changes the dtype of the activations")
            self.advance(result)
            return
        entry["input_shape"] = list(self.current.shape)
        entry["output_shape"] = list(result.shape) if out is not None else None
        if entry["op"] in ("dropout", "dropout2d") and entry["args"].get("training", True) and out is not None:
            self.refuse("dropout that stays on in evaluation mode (call F.dropout(x, p, training=self.training), "
                        "or use nn.Dropout)")
        self.ops.append(entry)
        if out is None:
            self.failed = len(self.ops) - 1
        else:
            self.advance(result)

    def advance(self, result):
        if result is not None:
            self.current = result
            self.seen.append(result)


def _describe_torch(model, probe):
    import torch
    from torch.overrides import TorchFunctionMode

    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    recorder = _Recorder(torch, model)

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            try:
                out = func(*args, **kwargs)
            except Exception:
                if recorder.failed is None:
                    recorder.record(func, args, kwargs, None)
                raise
            if recorder.failed is None:
                recorder.record(func, args, kwargs, out)
            return out

    modes = {m: m.training for m in model.modules()}
    x = torch.as_tensor(probe).to(device=device, dtype=dtype)
    recorder.current = x
    recorder.seen.append(x)
    outputs, error = None, None
    model.eval()
    try:
        with torch.no_grad(), Mode():
            out = model(x)
        if not isinstance(out, torch.Tensor):
            recorder.refuse(f"the model returns a {type(out).__name__}, not a tensor of scores")
        elif out is not recorder.current:
            recorder.refuse("the model returns a tensor that is not the result of its last operation")
        else:
            outputs = out.detach().cpu().numpy().copy()
            if outputs.dtype.name not in _FLOAT_DTYPES:
                outputs = outputs.astype(np.float64)
    except Exception as exc:
        error = _error_text(exc)
    finally:
        for m, flag in modes.items():
            m.training = flag
    unused = [{"name": name, "values": p.detach().cpu().numpy().copy(), "requires_grad": bool(p.requires_grad)}
              for name, p in model.named_parameters() if id(p) not in recorder.used]
    return {"format": FORMAT, "kind": "torch", "training": bool(model.training),
            "probe_dtype": str(dtype).replace("torch.", ""), "probe": probe, "outputs": outputs, "error": error,
            "failed_op": recorder.failed, "ops": recorder.ops, "unsupported": recorder.unsupported,
            "parameters": [{"name": name, "shape": list(p.shape), "dtype": str(p.dtype).replace("torch.", ""),
                            "requires_grad": bool(p.requires_grad)} for name, p in model.named_parameters()],
            "unused": unused}


def _torch_outputs(model, probe, dtype):
    import torch

    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            x = torch.as_tensor(probe).to(getattr(torch, dtype))
            out = model(x)
        return out.detach().cpu().numpy()
    finally:
        for m, flag in flags.items():
            m.training = flag


class _TorchBuilder:
    """Builds the modules of the replay, sharing a Parameter wherever the original shared one."""

    def __init__(self, torch):
        self.torch = torch
        self.shared = {}
        self.count = 0

    def parameter(self, entry, what, shape=None):
        torch = self.torch
        if not isinstance(entry, dict):
            _malformed(f"{what} must be a tensor description")
        values = _array(entry.get("values"), what)
        self.count += values.size
        if self.count > MAX_VALUES:
            _malformed(f"more than {MAX_VALUES:,} parameter values")
        if shape is not None and tuple(values.shape) != tuple(shape):
            _malformed(f"{what} has shape {values.shape}, expected {tuple(shape)}")
        name = entry.get("parameter")
        if name is not None and not isinstance(name, str):
            _malformed(f"{what}: parameter name must be a string")
        if name is not None and name in self.shared and tuple(self.shared[name].shape) == values.shape \
                and np.array_equal(self.shared[name].detach().numpy(), values):
            return self.shared[name]
        p = torch.nn.Parameter(torch.from_numpy(values), requires_grad=_bool(entry.get("requires_grad"),
                                                                             f"{what} requires_grad"))
        if name is not None:
            self.shared.setdefault(name, p)
        return p

    def set(self, module, key, entry, what):
        if entry is None:
            setattr(module, key, None)
            return
        old = getattr(module, key)
        module._parameters[key] = self.parameter(entry, what, tuple(old.shape))

    def module(self, entry, i):
        """One torch.nn module (or a list of them) doing what ``entry`` did."""
        torch = self.torch
        nn = torch.nn
        if not isinstance(entry, dict):
            _malformed(f"operation {i} is not a dict")
        op, args, tensors = entry.get("op"), entry.get("args", {}), entry.get("tensors", {})
        if not isinstance(args, dict) or not isinstance(tensors, dict):
            _malformed(f"operation {i} needs dicts of args and tensors")
        in_shape = _ints(entry.get("input_shape"), "input_shape", 0)
        in_shape = (in_shape,) if isinstance(in_shape, int) else in_shape
        what = f"operation {i} ({_text(op)})"
        if op == "conv2d":
            weight = tensors.get("weight")
            w = _array(weight.get("values") if isinstance(weight, dict) else None, f"{what} weight")
            if w.ndim != 4:
                _malformed(f"{what}: the weight must be 4-D")
            groups = _int(args.get("groups", 1), "groups", 1)
            padding = args.get("padding", 0)
            padding = padding if padding in ("same", "valid") else _ints(padding, "padding", 0)
            module = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                               stride=_ints(args.get("stride", 1) or 1, "stride", 1), padding=padding,
                               dilation=_ints(args.get("dilation", 1) or 1, "dilation", 1), groups=groups,
                               bias=tensors.get("bias") is not None, dtype=getattr(torch, w.dtype.name))
            self.set(module, "weight", weight, f"{what} weight")
            self.set(module, "bias", tensors.get("bias"), f"{what} bias")
            return [module]
        if op == "linear":
            weight = tensors.get("weight")
            w = _array(weight.get("values") if isinstance(weight, dict) else None, f"{what} weight")
            if w.ndim != 2:
                _malformed(f"{what}: the weight must be 2-D")
            module = nn.Linear(w.shape[1], w.shape[0], bias=tensors.get("bias") is not None,
                               dtype=getattr(torch, w.dtype.name))
            self.set(module, "weight", weight, f"{what} weight")
            self.set(module, "bias", tensors.get("bias"), f"{what} bias")
            return [module]
        if op == "batch_norm":
            return [self.batch_norm(args, tensors, in_shape, what)]
        if op == "reshape":
            return self.reshape(in_shape, entry, what)
        simple = self.simple(op, args, what)
        if simple is None:
            _refuse(f"the operation {_text(op)}")
        return [simple]

    def simple(self, op, args, what):
        """Modules without parameters."""
        nn = self.torch.nn
        if op in ("max_pool2d", "avg_pool2d"):
            kernel = _ints(args.get("kernel_size"), "kernel_size", 1)
            stride = args.get("stride")
            stride = None if stride is None else _ints(stride, "stride", 1)
            padding = _ints(args.get("padding", 0) or 0, "padding", 0)
            ceil_mode = _bool(args.get("ceil_mode", False), "ceil_mode")
            if op == "max_pool2d":
                return nn.MaxPool2d(kernel, stride, padding, _ints(args.get("dilation", 1) or 1, "dilation", 1),
                                    ceil_mode=ceil_mode)
            divisor = args.get("divisor_override")
            return nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode,
                                count_include_pad=_bool(args.get("count_include_pad", True), "count_include_pad"),
                                divisor_override=None if divisor is None else _int(divisor, "divisor_override", 1))
        if op == "adaptive_avg_pool2d":
            return nn.AdaptiveAvgPool2d(_ints(args.get("output_size"), "output_size", 1))
        if op == "adaptive_max_pool2d":
            return nn.AdaptiveMaxPool2d(_ints(args.get("output_size"), "output_size", 1))
        if op == "flatten":
            return nn.Flatten(_int(args.get("start_dim", 0), "start_dim"), _int(args.get("end_dim", -1), "end_dim"))
        if op in ("dropout", "dropout2d"):
            p = _float(args.get("p", 0.5), "p")
            if not 0 <= p <= 1:
                _malformed(f"{what}: p must be in [0, 1]")
            return nn.Dropout(p) if op == "dropout" else nn.Dropout2d(p)
        if op in ("softmax", "log_softmax"):
            if args.get("dtype") is not None:
                _refuse(f"{op} with a dtype")
            dim = args.get("dim")
            dim = None if dim is None else _int(dim, "dim")
            return nn.Softmax(dim) if op == "softmax" else nn.LogSoftmax(dim)
        if op == "leaky_relu":
            return nn.LeakyReLU(_float(args.get("negative_slope", 0.01), "negative_slope"))
        if op == "elu":
            return nn.ELU(_float(args.get("alpha", 1.0), "alpha"))
        if op == "celu":
            return nn.CELU(_float(args.get("alpha", 1.0), "alpha"))
        if op == "gelu":
            approximate = args.get("approximate", "none")
            if approximate not in ("none", "tanh"):
                _malformed(f"{what}: approximate must be 'none' or 'tanh'")
            return nn.GELU(approximate=approximate)
        if op == "hardtanh":
            return nn.Hardtanh(_float(args.get("min_val", -1.0), "min_val"),
                               _float(args.get("max_val", 1.0), "max_val"))
        if op == "softplus":
            return nn.Softplus(_float(args.get("beta", 1.0), "beta"), _float(args.get("threshold", 20.0), "threshold"))
        plain = {"relu": nn.ReLU, "relu6": nn.ReLU6, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
                 "selu": nn.SELU, "mish": nn.Mish, "hardswish": nn.Hardswish}
        return plain[op]() if op in plain else None

    def batch_norm(self, args, tensors, in_shape, what):
        nn = self.torch.nn
        if len(in_shape) not in (2, 3, 4):
            _refuse(f"batch_norm on a {len(in_shape)}-D input")
        cls = nn.BatchNorm2d if len(in_shape) == 4 else nn.BatchNorm1d
        momentum = args.get("momentum", 0.1)
        affine = tensors.get("weight") is not None
        tracked = tensors.get("running_mean") is not None
        first = next((t for t in tensors.values() if isinstance(t, dict)), None)
        dtype = _array(first.get("values"), f"{what} tensors").dtype.name if first else "float32"
        module = cls(in_shape[1], eps=_float(args.get("eps", 1e-5), "eps"),
                     momentum=None if momentum is None else _float(momentum, "momentum"),
                     affine=affine, track_running_stats=tracked, dtype=getattr(self.torch, dtype))
        if affine:
            self.set(module, "weight", tensors.get("weight"), f"{what} weight")
            self.set(module, "bias", tensors.get("bias"), f"{what} bias")
        if tracked:
            for key in ("running_mean", "running_var"):
                entry = tensors.get(key)
                values = _array(entry.get("values") if isinstance(entry, dict) else None, f"{what} {key}")
                if values.shape != (in_shape[1],):
                    _malformed(f"{what}: {key} must have shape ({in_shape[1]},)")
                getattr(module, key).copy_(self.torch.from_numpy(values))
        return module

    def reshape(self, in_shape, entry, what):
        nn = self.torch.nn
        out_shape = entry.get("output_shape")
        out_shape = _ints(out_shape, "output_shape", 0) if out_shape is not None else None
        if out_shape is None:
            _refuse("a reshape that failed")
        out_shape = (out_shape,) if isinstance(out_shape, int) else out_shape
        if math.prod(out_shape) != math.prod(in_shape):
            _malformed(f"{what}: {in_shape} cannot become {out_shape}")
        if len(out_shape) == 1:
            return [nn.Flatten(0, -1)]
        if len(in_shape) < 1 or out_shape[0] != in_shape[0]:
            _refuse(f"a reshape from {list(in_shape)} to {list(out_shape)} that mixes the batch axis with the others")
        rest = tuple(out_shape[1:])
        if tuple(in_shape[1:]) == rest:
            return []
        layers = [nn.Flatten(1)] if len(in_shape) > 2 else []
        if len(rest) > 1:
            layers.append(nn.Unflatten(1, rest))
        return layers


def _rebuild_torch(description):
    import torch

    error, failed = description.get("error"), description.get("failed_op")
    if error is not None and failed is None:
        raise AssertionError(f"the forward pass of your model on a batch of shape "
                             f"{tuple(description['probe'].shape)} failed: {_text(error, 500)}")
    unsupported = description.get("unsupported")
    if unsupported is not None:
        _refuse(_text(unsupported, 300))
    ops = description.get("ops")
    if not isinstance(ops, (list, tuple)) or len(ops) > MAX_OPS:
        _malformed(f"ops must be a list of at most {MAX_OPS} operations")
    if description.get("probe_dtype") not in _FLOAT_DTYPES:
        _malformed("probe_dtype must be float16/32/64")
    builder = _TorchBuilder(torch)
    modules = []
    for i, entry in enumerate(ops):
        modules += builder.module(entry, i)
    model = torch.nn.Sequential(*modules)
    unused = description.get("unused", [])
    if not isinstance(unused, (list, tuple)):
        _malformed("unused must be a list")
    for k, entry in enumerate(unused):
        model.register_parameter(f"unused_{k}", builder.parameter(entry, f"unused parameter {k}"))
    model.train(_bool(description.get("training", True), "training"))
    return model
