"""Checks for notebook 06: a CNN for MNIST, in NumPy (``cnnlab.nn``) and in PyTorch.

The student writes two builders::

    build_numpy_cnn(seed=0) -> cnnlab.nn.Sequential
    build_torch_cnn()       -> torch.nn.Module

and trains both. The test cells call

* :func:`check_numpy_cnn` / :func:`check_torch_cnn` with the builder (or a
  built model): the structure is followed layer by layer on a ``(N, 1, 28, 28)``
  batch, and the feedback names the usual mistakes: a forgotten ``Flatten``, a
  ``Linear`` whose ``in_features`` is not the flattened size (the check says
  what that size is), a missing ``ReLU`` between two layers with weights, a
  ``ReLU`` or softmax after the last layer, the wrong number of classes, a
  convolution expecting the wrong number of channels, all-zero weights. Then
  the network is compared with the one the notebook specifies (kind, output
  shape and parameter count of every layer);
* :func:`check_confusion_counts` with the student's confusion matrix;
* :func:`check_loss_decreases` with a :class:`cnnlab.train.History` (or a
  list of losses) and :func:`check_accuracy` with a test accuracy.

Every check returns a :class:`~cnnlab.grading.runner.CheckResult` when it
passes and raises an ``AssertionError`` that explains the mistake when not.
"""

import math
import numbers

import numpy as np

from cnnlab import nn as cnn_nn
from cnnlab.grading.feedback import Suspect, as_answer, assert_matches, describe_call
from cnnlab.grading.guard import ReferenceGuard
from cnnlab.grading.runner import CheckResult
from cnnlab.summary import layer_table

NUM_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)
BATCH = 2
CHANCE_LOSS = math.log(NUM_CLASSES)  # cross-entropy of a uniform guess over 10 classes: 2.303

#: Multiply-accumulates per image the NumPy training cell budgets for: about five times the
#: notebook's network, so that training stays far inside the grader's time limit.
MAX_NUMPY_MACS = 1_500_000

#: The network the notebook asks for in NumPy: (kind, layer, output shape without N, parameters).
NUMPY_SPEC = (
    ("conv", "Conv2d(1, 8, kernel_size=3, padding=1)", (8, 28, 28), 80),
    ("relu", "ReLU()", (8, 28, 28), 0),
    ("maxpool", "MaxPool2d(2)", (8, 14, 14), 0),
    ("conv", "Conv2d(8, 16, kernel_size=3, padding=1)", (16, 14, 14), 1_168),
    ("relu", "ReLU()", (16, 14, 14), 0),
    ("maxpool", "MaxPool2d(2)", (16, 7, 7), 0),
    ("flatten", "Flatten()", (784,), 0),
    ("linear", "Linear(784, 10)", (10,), 7_850),
)

#: The network the notebook asks for in PyTorch: the same design, wider, with 5x5 kernels.
TORCH_SPEC = (
    ("conv", "Conv2d(1, 16, kernel_size=5, padding=2)", (16, 28, 28), 416),
    ("relu", "ReLU()", (16, 28, 28), 0),
    ("maxpool", "MaxPool2d(2)", (16, 14, 14), 0),
    ("conv", "Conv2d(16, 32, kernel_size=5, padding=2)", (32, 14, 14), 12_832),
    ("relu", "ReLU()", (32, 14, 14), 0),
    ("maxpool", "MaxPool2d(2)", (32, 7, 7), 0),
    ("flatten", "Flatten()", (1568,), 0),
    ("linear", "Linear(1568, 10)", (10,), 15_690),
)

_NUMPY_KINDS = {
    cnn_nn.Conv2d: "conv", cnn_nn.Linear: "linear", cnn_nn.ReLU: "relu", cnn_nn.MaxPool2d: "maxpool",
    cnn_nn.AvgPool2d: "avgpool", cnn_nn.Flatten: "flatten", cnn_nn.Dropout: "dropout",
}
_WEIGHTED = ("conv", "linear")

_NOT_LINEAR_HINT = ("without a nonlinearity in between, two layers with weights compute one linear map "
                    "(a convolution of a convolution is again a convolution), so the second layer adds nothing")


# --------------------------------------------------------------------------- helpers


def _shape_text(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _flat_text(shape):
    """``(N, C, H, W)`` -> ``'C*H*W = 16*7*7 = 784'``."""
    dims = shape[1:]
    return f"{'*'.join(str(d) for d in dims)} = {math.prod(dims)}"


def _fail(lines):
    raise AssertionError("\n".join(line for line in lines if line))


def _build(builder_or_model, name, is_model, **kwargs):
    """The model: called from the builder when given one, else the object itself."""
    if is_model(builder_or_model):
        return builder_or_model, None
    if not callable(builder_or_model):
        raise AssertionError(f"{name} must be a function that returns the model, got "
                             f"{type(builder_or_model).__name__}")
    try:
        model = builder_or_model(**kwargs)
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except Exception as exc:
        raise AssertionError(f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) raised "
                             f"{type(exc).__name__}: {exc}") from exc
    if model is None:
        raise AssertionError(f"{name} returned None. Did you forget the `return` statement?")
    return model, builder_or_model


def _spec_table(spec):
    lines = ["  #  expected layer                            output shape     parameters"]
    for i, (_, text, shape, params) in enumerate(spec):
        lines.append(f"  {i:<2} {text:<41} {_shape_text(('N',) + shape):<16} {params:>10,}")
    lines.append(f"  total parameters: {sum(row[3] for row in spec):,}")
    return "\n".join(lines)


def _rows_table(rows):
    lines = ["  #  your layer                                output shape     parameters"]
    for i, (_, text, shape, params) in enumerate(rows):
        lines.append(f"  {i:<2} {text:<41} {_shape_text(('N',) + tuple(shape)):<16} {params:>10,}")
    lines.append(f"  total parameters: {sum(row[3] for row in rows):,}")
    return "\n".join(lines)


def _compare_with_spec(rows, spec, name):
    """rows, spec: ``(kind, text, output shape without N, parameters)``; explain the first difference."""
    for i, (want, got) in enumerate(zip(spec, rows)):
        kind, text, shape, params = want
        g_kind, g_text, g_shape, g_params = got
        problem = None
        if g_kind != kind:
            problem = f"layer {i} should be {text}, but it is {g_text}."
        elif tuple(g_shape) != tuple(shape):
            problem = (f"layer {i} ({g_text}) outputs {_shape_text(('N',) + tuple(g_shape))}, but the network "
                       f"asked for has {_shape_text(('N',) + shape)} there ({text}).")
            if kind == "conv" and g_shape[1:] != shape[1:]:
                problem += (" The height and width differ: check kernel_size, padding and stride "
                            "(padding = (kernel_size - 1) / 2 keeps the size).")
        elif g_params != params:
            problem = (f"layer {i} ({g_text}) has {g_params:,} parameters, but {text} has {params:,}"
                       + (" (did you switch off the bias?)" if g_kind in _WEIGHTED and g_params < params else "")
                       + ".")
        if problem:
            _fail([f"{name}: the network works, but it is not the one the notebook asks for: {problem}",
                   "Expected:", _spec_table(spec), "Yours:", _rows_table(rows)])
    if len(rows) != len(spec):
        what = "more" if len(rows) > len(spec) else "fewer"
        _fail([f"{name}: your network has {len(rows)} layers, {what} than the {len(spec)} the notebook asks for.",
               "Expected:", _spec_table(spec), "Yours:", _rows_table(rows)])


def _check_activations(kinds, texts, name):
    """A nonlinearity between every two layers with weights; nothing but the logits at the end."""
    weighted = [i for i, k in enumerate(kinds) if k in _WEIGHTED]
    if not weighted:
        _fail([f"{name} has no layer with weights (Conv2d or Linear): there is nothing to learn."])
    if kinds[weighted[0]] != "conv":
        _fail([f"{name} starts with {texts[weighted[0]]}: a convolutional network begins with a Conv2d."])
    for a, b in zip(weighted, weighted[1:]):
        if not any(k in ("relu", "act") for k in kinds[a + 1:b]):
            _fail([f"{name}: missing ReLU between layer {a} ({texts[a]}) and layer {b} ({texts[b]}): "
                   f"{_NOT_LINEAR_HINT}."])
    last = weighted[-1]
    if kinds[last] != "linear":
        _fail([f"{name} ends with {texts[last]}; end with Flatten and a Linear layer with "
               f"{NUM_CLASSES} outputs, one score per digit."])
    after = [i for i in range(last + 1, len(kinds)) if kinds[i] not in ("dropout", "flatten")]
    if after:
        i = after[0]
        if kinds[i] == "softmax":
            why = ("the loss (F.cross_entropy in cnnlab.train.fit) applies log-softmax itself, so a softmax in "
                   "the model would be applied twice and the gradients would almost vanish")
        elif kinds[i] in ("relu", "act"):
            why = "a ReLU there would clip every negative score to 0, so the scores could no longer say 'not this digit'"
        else:
            why = "nothing should change the scores after it"
        _fail([f"{name}: layer {i} ({texts[i]}) comes after the last Linear layer. The last Linear layer must "
               f"output the raw scores (logits): {why}. Remove layer {i}."])


def _check_classes(out_shape, name):
    if len(out_shape) != 2:
        _fail([f"{name} outputs shape {_shape_text(out_shape)} for a batch of {BATCH} images; it must output "
               f"({BATCH}, {NUM_CLASSES}): one row of {NUM_CLASSES} scores per image. End with Flatten and "
               f"Linear(..., {NUM_CLASSES})."])
    if out_shape[1] != NUM_CLASSES:
        _fail([f"{name}: the last layer outputs {out_shape[1]} scores per image, but MNIST has "
               f"{NUM_CLASSES} classes (the digits 0-9): set out_features={NUM_CLASSES}."])


def _suspect_in_features(given, flat_shape, earlier_shapes):
    """Why might in_features be ``given`` when the flattened input has ``prod(flat_shape[1:])`` features?"""
    hints = []
    for j, shape in earlier_shapes:
        if len(shape) == 4 and math.prod(shape[1:]) == given and tuple(shape) != tuple(flat_shape):
            hints.append(f"{given} = {'*'.join(str(d) for d in shape[1:])} is the size after layer {j}, before the layers "
                         "after it changed the shape (each MaxPool2d(2) halves the height and the width)")
            break
    if not hints and len(flat_shape) == 4:
        c, h, w = flat_shape[1:]
        if given == h * w:
            hints.append(f"{given} = {h}*{w} leaves out the {c} channels")
        elif given == c * h:
            hints.append(f"{given} = {c}*{h} leaves out the width")
    return hints


# --------------------------------------------------------------------------- NumPy


def _is_numpy_model(obj):
    return hasattr(obj, "forward") and hasattr(obj, "backward")


def _numpy_layer_text(layer):
    return repr(layer).replace("\n", " ")


def _numpy_rows(model, name):
    """Follow a (N, 1, 28, 28) batch through the layers; diagnose the first one that does not fit."""
    if type(model).__module__.split(".")[0] == "torch":
        _fail([f"{name} returned a PyTorch module ({type(model).__name__}). Here the model must be built from "
               "the NumPy layers of cnnlab.nn (nn.Conv2d, nn.ReLU, ...), with `from cnnlab import nn`; "
               "PyTorch comes later in the notebook."])
    if not isinstance(model, cnn_nn.Sequential):
        _fail([f"{name} must return a cnnlab.nn.Sequential of layers, got {type(model).__name__}."])
    if len(model.layers) == 0:
        _fail([f"{name} returned an empty Sequential(); put the layers inside it."])
    shape = (BATCH,) + IMAGE_SHAPE
    rows, shapes, macs = [], [], 0
    for i, layer in enumerate(model.layers):
        kind = _NUMPY_KINDS.get(type(layer))
        if kind is None:
            where = type(layer).__module__
            _fail([f"{name}: layer {i} is a {type(layer).__name__} (from {where}). Build the model from "
                   "cnnlab.nn layers only: Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten, Linear, Dropout."])
        text = _numpy_layer_text(layer)
        if kind in ("conv", "maxpool", "avgpool") and len(shape) != 4:
            _fail([f"{name}: layer {i} ({text}) receives a {len(shape)}-D input of shape {_shape_text(shape)}, "
                   "but it works on images (N, C, H, W). Convolutions and pooling come before Flatten."])
        if kind == "conv" and shape[1] != layer.in_channels:
            source = ("MNIST images have 1 channel (grey)" if i == 0 or not any(k == "conv" for k, *_ in rows)
                      else f"the layer before it outputs {shape[1]} channels")
            _fail([f"{name}: layer {i} ({text}) expects in_channels={layer.in_channels}, but its input has "
                   f"shape {_shape_text(shape)}: {source}. Set in_channels={shape[1]} (the out_channels of "
                   "the previous convolution)."])
        if kind == "linear":
            if len(shape) != 2:
                _fail([f"{name}: forgot Flatten before layer {i} ({text}): it receives a {len(shape)}-D input of "
                       f"shape {_shape_text(shape)}, but a Linear layer needs (N, features). Add nn.Flatten() "
                       f"before it; flattened, each image has {_flat_text(shape)} features, so "
                       f"in_features={math.prod(shape[1:])}."])
            if shape[1] != layer.in_features:
                before = next((s for s in reversed(shapes) if len(s) == 4), None)
                detail = f" ({_flat_text(before)})" if before is not None and math.prod(before[1:]) == shape[1] else ""
                hints = _suspect_in_features(layer.in_features, before or shape, list(enumerate(shapes)))
                _fail([f"{name}: Linear in_features is wrong in layer {i} ({text}): the flattened input has "
                       f"{shape[1]} features{detail}, so set in_features={shape[1]}.",
                       "Likely mistake: " + "; ".join(hints) if hints else ""])
        try:
            out = tuple(layer.output_shape(shape))
        except (ValueError, TypeError) as exc:
            _fail([f"{name}: layer {i} ({text}) cannot take an input of shape {_shape_text(shape)}: {exc}"])
        if kind == "conv":
            macs += math.prod(out[1:]) * layer.in_channels * math.prod(layer.kernel_size)
        elif kind == "linear":
            macs += layer.in_features * layer.out_features
        params = sum(int(p.size) for p in layer.params.values())
        rows.append((kind, text, out[1:], params))
        shapes.append(out)
        shape = out
    return rows, shape, macs


def _check_numpy_weights(model, name):
    for i, layer in enumerate(model.layers):
        weight = layer.params.get("weight")
        if weight is None:
            continue
        if not np.all(np.isfinite(weight)):
            _fail([f"{name}: the weights of layer {i} ({_numpy_layer_text(layer)}) contain NaN or inf."])
        if np.all(weight == weight.flat[0]):
            _fail([f"{name}: all weights of layer {i} ({_numpy_layer_text(layer)}) are equal "
                   f"({weight.flat[0]:g}): every filter would compute the same thing and receive the same "
                   "gradient, so they could never become different. Keep the random initialisation the "
                   "layers make themselves."])


def _check_numpy_pass(model, name):
    """One forward and backward pass on random images: the shapes are right and nothing blows up."""
    x = np.random.default_rng(0).standard_normal((BATCH,) + IMAGE_SHAPE).astype(np.float32)
    try:
        out = np.asarray(model.forward(x))
        dx = model.backward(np.ones_like(out) / out.size)
    except Exception as exc:
        _fail([f"{name}: a forward and backward pass on a batch of shape {_shape_text(x.shape)} raised "
               f"{type(exc).__name__}: {exc}"])
    if out.shape != (BATCH, NUM_CLASSES) or not np.all(np.isfinite(out)):
        _fail([f"{name}: forward on random images gave {out.shape} with "
               f"{'finite values' if np.all(np.isfinite(out)) else 'NaN or inf'}; need finite ({BATCH}, 10)."])
    if np.shape(dx) != x.shape:
        _fail([f"{name}: backward returned a gradient of shape {_shape_text(np.shape(dx))}; it must have the "
               f"input's shape {_shape_text(x.shape)}."])


def check_numpy_cnn(build_or_model, hidden=False, spec=NUMPY_SPEC):
    """Check the NumPy CNN (a ``cnnlab.nn.Sequential``) for MNIST, layer by layer.

    ``build_or_model``: the builder ``build_numpy_cnn(seed=0)`` or a built model.
    Visible: cnnlab.nn layers only, shapes that fit (Flatten, in_features,
    channels), a ReLU between layers with weights, logits at the end, 10 classes,
    random initial weights, a working forward/backward pass, the compute budget,
    and the layers of ``spec`` (``None`` skips that comparison).
    ``hidden=True`` also checks, given the builder, that ``seed`` makes the
    weights reproducible and that each call returns a new, untrained model.
    """
    name = "build_numpy_cnn"
    model, builder = _build(build_or_model, name, _is_numpy_model, seed=0)
    rows, out_shape, macs = _numpy_rows(model, name)
    _check_classes(out_shape, name)
    kinds = [r[0] for r in rows]
    _check_activations(kinds, [r[1] for r in rows], name)
    _check_numpy_weights(model, name)
    if macs > MAX_NUMPY_MACS:
        _fail([f"{name}: your network needs {macs:,} multiply-accumulates per image; the training cell budgets "
               f"for at most {MAX_NUMPY_MACS:,} (about five times the suggested network) to stay inside the "
               "grader's time limit. Use fewer channels, or pool earlier."])
    _check_numpy_pass(model, name)
    cases = 6
    if spec is not None:
        _compare_with_spec(rows, spec, name)
        cases += 1
    if hidden and builder is not None:
        _check_numpy_seeds(builder, name)
        cases += 2
    return CheckResult(name, cases, hidden)


def _numpy_weights(model):
    return [np.array(p) for p in model.params.values()]


def _check_numpy_seeds(builder, name):
    a = _numpy_weights(_build(builder, name, lambda _: False, seed=0)[0])
    b = _numpy_weights(_build(builder, name, lambda _: False, seed=0)[0])
    c = _numpy_weights(_build(builder, name, lambda _: False, seed=1)[0])
    if len(a) != len(b) or not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b)):
        _fail([f"{name}(seed=0) gives different weights each time it is called. Pass the seed on to the "
               "layers (e.g. nn.Conv2d(..., seed=seed), nn.Linear(..., seed=seed + 2)) so that training is "
               "reproducible."])
    if all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c)):
        _fail([f"{name}(seed=1) gives the same weights as {name}(seed=0): the seed argument is ignored. "
               "Pass it on to the layers."])


# --------------------------------------------------------------------------- torch

_TORCH_OPS = {
    "conv2d": "conv", "linear": "linear", "flatten": "flatten",
    "relu": "relu", "relu_": "relu",
    "max_pool2d": "maxpool", "max_pool2d_with_indices": "maxpool", "avg_pool2d": "avgpool",
    "adaptive_avg_pool2d": "avgpool", "adaptive_max_pool2d": "maxpool",
    "softmax": "softmax", "log_softmax": "softmax",
    "dropout": "dropout", "dropout2d": "dropout", "batch_norm": "batchnorm",
}
_TORCH_ACTIVATIONS = {"leaky_relu", "leaky_relu_", "elu", "elu_", "gelu", "silu", "tanh", "sigmoid", "relu6",
                      "hardtanh", "hardtanh_", "softplus", "mish", "selu", "celu", "prelu", "hardswish"}
_TORCH_RESHAPES = {"view", "reshape"}


def _is_torch_model(obj):
    return type(obj).__module__.split(".")[0] != "builtins" and hasattr(obj, "parameters") \
        and hasattr(obj, "forward") and not _is_numpy_model(obj)


def _trace_torch(model):
    """Run ``model(x)`` and record the torch operations it calls, in order.

    Returns ``(ops, out, error)``; each op is a dict with ``op`` (the function's
    name), ``kind``, ``inputs`` (shapes of the tensor arguments), ``output``
    (shape) and ``params`` (weight + bias sizes of conv/linear). On an error,
    ``error`` is ``(op, exception)`` for the operation that failed.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    ops = []
    failed = {}

    def shapes(values):
        found = []
        for v in values:
            if isinstance(v, torch.Tensor):
                found.append(tuple(v.shape))
            elif isinstance(v, (tuple, list)):
                found.extend(shapes(v))
        return found

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            op = getattr(func, "__name__", "")
            inputs = shapes(list(args) + list(kwargs.values()))
            try:
                out = func(*args, **kwargs)
            except Exception as exc:
                failed.setdefault("op", {"op": op, "inputs": inputs, "args": args})
                failed.setdefault("error", exc)
                raise
            kind = _TORCH_OPS.get(op)
            if kind is None and op in _TORCH_ACTIVATIONS:
                kind = "act"
            if kind is None and op in _TORCH_RESHAPES and isinstance(out, torch.Tensor) and inputs \
                    and len(inputs[0]) > 2 and out.dim() == 2:
                kind = "flatten"
            if kind is not None:
                params = 0
                if kind in _WEIGHTED:
                    params = sum(int(a.numel()) for a in list(args[1:3]) + [kwargs.get("bias")]
                                 if isinstance(a, torch.Tensor))
                weight = tuple(args[1].shape) if kind in _WEIGHTED and len(args) > 1 else None
                output = out[0] if isinstance(out, tuple) else out
                ops.append({"op": op, "kind": kind, "inputs": inputs, "weight": weight, "params": params,
                            "output": tuple(output.shape) if isinstance(output, torch.Tensor) else None})
            return out

    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    training = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad(), Recorder():
            out = model(torch.zeros((BATCH,) + IMAGE_SHAPE, dtype=dtype, device=device))
        return ops, out, None
    except Exception as exc:
        return ops, None, (failed.get("op"), failed.get("error", exc))
    finally:
        for m, flag in training.items():
            m.training = flag


def _torch_op_text(op):
    if op["kind"] == "conv" and op["weight"]:
        c_out, c_in, kh, kw = op["weight"]
        return f"Conv2d({c_in}, {c_out}, kernel_size={kh if kh == kw else (kh, kw)})"
    if op["kind"] == "linear" and op["weight"]:
        return f"Linear({op['weight'][1]}, {op['weight'][0]})"
    return {"relu": "ReLU()", "maxpool": "MaxPool2d", "avgpool": "AvgPool2d", "flatten": "Flatten()",
            "softmax": op["op"], "dropout": "Dropout", "batchnorm": "BatchNorm2d"}.get(op["kind"], op["op"])


def _diagnose_torch_error(failed, error, ops, name):
    op = failed or {}
    inputs = op.get("inputs", [])
    last4 = next((o["output"] for o in reversed(ops) if o["output"] and len(o["output"]) == 4), None)
    if op.get("op") == "linear" and len(inputs) >= 2:
        x_shape, w_shape = inputs[0], inputs[1]
        if len(x_shape) == 2:
            detail = f" ({_flat_text(last4)})" if last4 and math.prod(last4[1:]) == x_shape[1] else ""
            hints = _suspect_in_features(w_shape[1], last4 or x_shape, [(j, o["output"]) for j, o in enumerate(ops)])
            _fail([f"{name}: Linear in_features is wrong: a Linear layer with in_features={w_shape[1]} receives "
                   f"{x_shape[1]} features per image{detail}; set in_features={x_shape[1]}.",
                   "Likely mistake: " + "; ".join(hints) if hints else ""])
        _fail([f"{name}: forgot Flatten before the Linear layer with in_features={w_shape[1]}: it receives a "
               f"{len(x_shape)}-D input of shape {_shape_text(x_shape)}. Add nn.Flatten() before it; flattened, "
               f"each image has {_flat_text(x_shape)} features."])
    if op.get("op") == "conv2d" and len(inputs) >= 2:
        x_shape, w_shape = inputs[0], inputs[1]
        if len(x_shape) == 4 and x_shape[1] != w_shape[1]:
            source = "MNIST images have 1 channel (grey)" if not any(o["kind"] == "conv" for o in ops) \
                else "the previous convolution outputs that many channels"
            _fail([f"{name}: a Conv2d expects in_channels={w_shape[1]}, but its input has shape "
                   f"{_shape_text(x_shape)}, i.e. {x_shape[1]} channels: {source}. Set in_channels={x_shape[1]}."])
        if len(x_shape) != 4:
            _fail([f"{name}: a Conv2d receives a {len(x_shape)}-D input of shape {_shape_text(x_shape)}; "
                   "convolutions and pooling come before Flatten."])
    _fail([f"{name}: the forward pass on a batch of shape {_shape_text((BATCH,) + IMAGE_SHAPE)} failed"
           + (f" in {op['op']} on inputs {', '.join(map(_shape_text, inputs))}" if op else "")
           + f": {type(error).__name__}: {error}"])


def check_torch_cnn(build_or_model, hidden=False, spec=TORCH_SPEC):
    """Check the PyTorch CNN for MNIST, operation by operation.

    ``build_or_model``: the builder ``build_torch_cnn()`` or a built
    ``torch.nn.Module``. The forward pass of a ``(2, 1, 28, 28)`` batch is
    traced (``torch.overrides.TorchFunctionMode``), so functional calls such as
    ``F.relu`` in a custom ``forward`` count like ``nn.ReLU`` modules.
    Visible: shapes that fit, a ReLU between layers with weights, logits at the
    end (no softmax), 10 classes, the parameter count of
    ``cnnlab.summary.layer_table``, and the layers of ``spec`` (``None`` skips
    that). ``hidden=True`` also checks that every parameter is a trainable
    float32 tensor that receives a gradient, and, given the builder, that each
    call returns a new model initialised from torch's random generator.
    """
    import torch

    name = "build_torch_cnn"
    model, builder = _build(build_or_model, name, lambda o: _is_torch_model(o) or _is_numpy_model(o))
    if _is_numpy_model(model):
        _fail([f"{name} returned a NumPy model ({type(model).__name__}) from cnnlab.nn. Here build the network "
               "with PyTorch's layers: `from torch import nn as tnn`, then tnn.Sequential(tnn.Conv2d(...), ...)."])
    if not isinstance(model, torch.nn.Module):
        _fail([f"{name} must return a torch.nn.Module (e.g. a torch.nn.Sequential), got {type(model).__name__}."])
    if not list(model.parameters()):
        _fail([f"{name}: the model has no parameters. Did you create the layers without adding them to the "
               "model (e.g. in a plain list instead of nn.Sequential or nn.ModuleList)?"])
    ops, out, error = _trace_torch(model)
    if error is not None:
        _diagnose_torch_error(error[0], error[1], ops, name)
    for j, op in enumerate(ops):
        if op["kind"] == "linear" and op["inputs"] and len(op["inputs"][0]) > 2:
            x_shape = op["inputs"][0]
            _fail([f"{name}: forgot Flatten before {_torch_op_text(op)}: it receives a {len(x_shape)}-D input of "
                   f"shape {_shape_text(x_shape)}. PyTorch then applies the layer to the last axis only. Add "
                   f"nn.Flatten() before it; flattened, each image has {_flat_text(x_shape)} features, so "
                   f"in_features={math.prod(x_shape[1:])}."])
    if not isinstance(out, torch.Tensor):
        _fail([f"{name}: the model must return a tensor of scores, got {type(out).__name__}."])
    texts = [_torch_op_text(op) for op in ops]
    kinds = [op["kind"] for op in ops]
    _check_activations(kinds, texts, name)
    _check_classes(tuple(out.shape), name)
    table = layer_table(model, (BATCH,) + IMAGE_SHAPE)
    total = sum(p.numel() for p in model.parameters())
    traced = sum(op["params"] for op in ops)
    if table.total_params != total or traced != total:
        _fail([f"{name}: the model has {total:,} parameters, but only {traced:,} of them are used in the "
               "forward pass (layers created but never called?).",
               "Layer table:\n" + table.to_text()])
    cases = 5
    if spec is not None:
        rows = [(op["kind"], text, op["output"][1:], op["params"]) for op, text in zip(ops, texts)]
        _compare_with_spec(rows, spec, name)
        cases += 1
    if hidden:
        _check_torch_trainable(model, name)
        cases += 1
        if builder is not None:
            _check_torch_fresh(builder, model, name)
            cases += 1
    return CheckResult(name, cases, hidden)


def _check_torch_trainable(model, name):
    import torch

    for pname, p in model.named_parameters():
        if p.dtype != torch.float32:
            _fail([f"{name}: parameter {pname} is {p.dtype}; keep the default float32 (the images are float32)."])
        if not p.requires_grad:
            _fail([f"{name}: parameter {pname} has requires_grad=False, so training would never change it."])
    x = torch.randn((BATCH,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(0))
    model.zero_grad(set_to_none=True)
    model(x.to(next(model.parameters()).device)).sum().backward()
    missing = [pname for pname, p in model.named_parameters() if p.grad is None]
    model.zero_grad(set_to_none=True)
    if missing:
        _fail([f"{name}: parameters {', '.join(missing)} receive no gradient (cut off from the loss, e.g. by "
               ".detach() or .data)."])


def _check_torch_fresh(builder, model, name):
    import torch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        a = _build(builder, name, lambda _: False)[0]
        torch.manual_seed(0)
        b = _build(builder, name, lambda _: False)[0]
    finally:
        torch.random.set_rng_state(state)
    if a is b or a is model or any(pa is pb for pa, pb in zip(a.parameters(), b.parameters())):
        _fail([f"{name} returns the same model object every time; build new layers inside the function so "
               "that every call starts from fresh, untrained weights."])
    if not all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters())):
        _fail([f"{name}: after torch.manual_seed(0) two calls give different initial weights; let the layers "
               "initialise themselves from torch's random generator so that training is reproducible."])


# --------------------------------------------------------------------------- training


def _losses(history, key):
    if isinstance(history, dict):
        if key not in history:
            _fail([f"the training history has no {key!r} entry; pass the History that the training loop returned."])
        values = history[key]
    else:
        values = history
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        _fail([f"expected a training History or a list of loss values, got {type(history).__name__}."])
    return values


def check_loss_decreases(history, key="train_loss", min_drop=0.2):
    """The loss fell during training: finite, last value below the first by ``min_drop`` (relative).

    ``history``: a :class:`cnnlab.train.History` (its ``key`` list, one value per
    epoch) or a plain list of losses; at least two values. Also requires the
    final loss to be clearly below ``log(10) = 2.303``, the loss of guessing.
    """
    losses = _losses(history, key)
    what = f"the {key.replace('_', ' ')}" if isinstance(history, dict) else "the loss"
    if len(losses) < 2:
        _fail([f"{what} has {len(losses)} value(s); train for at least 2 epochs to see whether it falls."])
    if not all(math.isfinite(v) for v in losses):
        _fail([f"{what} became NaN or inf ({losses}): training diverged. The learning rate is probably too "
               "high."])
    first, last = losses[0], losses[-1]
    values = ", ".join(f"{v:.4f}" for v in losses)
    if last >= first:
        _fail([f"{what} did not fall: {values}. If it rose, the learning rate is too high; if it stayed the "
               "same, the weights are not being updated."])
    if last > (1 - min_drop) * first:
        _fail([f"{what} fell only from {first:.4f} to {last:.4f} ({values}); it should fall by at least "
               f"{min_drop:.0%}. The learning rate may be too small."])
    if last > 0.8 * CHANCE_LOSS:
        _fail([f"{what} ends at {last:.4f}, close to log(10) = {CHANCE_LOSS:.3f}, the loss of guessing "
               "uniformly among 10 digits: the network has barely learned anything."])
    return CheckResult(f"{what} fell from {first:.4f} to {last:.4f}", 3, False)


def check_accuracy(accuracy, threshold, what="test accuracy"):
    """``accuracy`` (a fraction in [0, 1]) is above ``threshold``."""
    if isinstance(accuracy, (bool, np.bool_)) or not isinstance(accuracy, numbers.Real):
        _fail([f"the {what} must be a number between 0 and 1, got {accuracy!r} ({type(accuracy).__name__})."])
    accuracy = float(accuracy)
    if not math.isfinite(accuracy) or not 0 <= accuracy <= 1:
        extra = " (it looks like a percentage; give a fraction, e.g. 0.97)" if 1 < accuracy <= 100 else ""
        _fail([f"the {what} must be a fraction between 0 and 1, got {accuracy}{extra}."])
    if accuracy <= threshold:
        if accuracy <= 0.15:
            why = ("about chance level (1 in 10): the network predicts (nearly) the same digit for every image, "
                   "so it did not learn. Check the structure test above and the training loss.")
        else:
            why = ("the network learned something, but not enough. Check that the structure test passes, "
                   "and that you did not change the training settings.")
        _fail([f"the {what} is {accuracy:.4f}, not above the required {threshold:.4f}: {why}"])
    return CheckResult(f"{what} {accuracy:.4f} > {threshold}", 1, False)


# --------------------------------------------------------------------------- confusion matrix


def reference_confusion_counts(y_true, y_pred, num_classes=NUM_CLASSES):
    """counts[t, p] = how many examples of true class t were predicted as p."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist()):
        counts[t, p] += 1
    return counts


class _PlotsGuard(ReferenceGuard):
    """The reference guard, also refusing ready-made confusion matrices."""

    def _forbidden(self, module, name):
        if module.split(".")[0] == "sklearn" or (module == "cnnlab.plots" and name == "confusion_matrix"):
            return True
        return super()._forbidden(module, name)


def _confusion_cases(hidden):
    cases = [
        dict(y_true=np.array([0, 1, 2, 2, 1]), y_pred=np.array([0, 2, 2, 2, 1]), num_classes=3),
        dict(y_true=np.array([3, 3, 0, 1]), y_pred=np.array([0, 3, 0, 1]), num_classes=4),
        dict(y_true=np.array([1, 1, 0]), y_pred=np.array([1, 0, 0]), num_classes=5),  # classes 2-4 never occur
    ]
    if hidden:
        rng = np.random.default_rng(6)
        y = rng.integers(0, 10, size=300)
        pred = np.where(rng.random(300) < 0.8, y, rng.integers(0, 10, size=300))
        cases += [dict(y_true=y, y_pred=pred, num_classes=10),
                  dict(y_true=np.array([7]), y_pred=np.array([2]), num_classes=10),
                  dict(y_true=np.arange(10), y_pred=np.arange(10), num_classes=10)]
    return cases


def _confusion_suspects(args, expected):
    counts = np.asarray(expected, dtype=float)
    sizes = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    k = int(max(np.max(args["y_true"]), np.max(args["y_pred"]))) + 1
    return [
        Suspect("rows and columns swapped", "row t must be the TRUE class and column p the PREDICTED one: "
                "counts[y_true[i], y_pred[i]] += 1", counts.T),
        Suspect("normalised", "return the counts themselves, not fractions of each class", counts / sizes),
        Suspect("normalised by the total", "return the counts, not fractions of all examples",
                counts / max(counts.sum(), 1)),
        Suspect("diagonal only", "every example adds 1 to exactly one cell, also the wrong predictions",
                np.diag(np.diag(counts))),
        Suspect("num_classes ignored", "the matrix is num_classes x num_classes even when some classes never "
                "occur", counts[:k, :k]),
    ]


def check_confusion_counts(fn, hidden=False):
    """Check ``confusion_counts(y_true, y_pred, num_classes)`` -> ``(K, K)`` int counts."""
    name = "confusion_counts"
    cases = _confusion_cases(hidden)
    for args in cases:
        expected = reference_confusion_counts(**args)
        given = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        guard = _PlotsGuard()
        try:
            with guard:
                received = fn(**given)
        except NotImplementedError:
            raise AssertionError(
                f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
        except Exception as exc:
            raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}\n"
                                 f"{describe_call(name, args)}") from exc
        if guard.violation:
            raise AssertionError(f"{name} calls {guard.violation}, a ready-made implementation. The exercise is "
                                 "to count yourself (a loop, or np.add.at).")
        if received is None:
            as_answer(received, f"{name}(...)")
        try:
            assert_matches(received, expected, describe_call(name, args), f"{name}(...)")
        except AssertionError:
            assert_matches(received, expected, describe_call(name, args), f"{name}(...)",
                           suspects=_confusion_suspects(args, expected),
                           shape_hints=[((k, k), "num_classes ignored: the matrix must be num_classes x num_classes "
                                                 "even when some classes never occur")
                                        for k in range(1, args["num_classes"])])
    return CheckResult(name, len(cases), hidden)
