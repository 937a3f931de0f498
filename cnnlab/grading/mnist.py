"""Checks for notebook 06: a CNN for MNIST, in NumPy (``cnnlab.nn``) and in PyTorch.

The student writes two builders::

    build_numpy_cnn(seed=0) -> cnnlab.nn.Sequential
    build_torch_cnn()       -> torch.nn.Module

trains both, and writes ``confusion_counts``. The test cells call

* :func:`check_numpy_cnn` / :func:`check_torch_cnn` with the builder (or a
  built model): the structure is followed layer by layer on a ``(N, 1, 28, 28)``
  batch, and the feedback names the usual mistakes: a forgotten ``Flatten``, a
  ``Linear`` whose ``in_features`` is not the flattened size, a missing
  ``ReLU`` between two layers with weights, a ``ReLU`` or softmax after the
  last layer, the wrong number of classes, a convolution expecting the wrong
  number of channels, all-zero weights. Then the network is compared with the
  table of the exercise (kind, output shape and parameter count of every
  layer; the values the table leaves as ``?`` are never printed);
* :func:`check_trained_numpy_cnn` / :func:`check_trained_torch_cnn` with the
  trained model and its training history: the loss fell, and the accuracy,
  measured here on MNIST test digits this module loads itself (a fresh random
  subset with a little pixel noise for the hidden test), is above the bar;
* :func:`check_confusion_counts` with the student's confusion matrix function.

A check only calls the builders and looks at the models they return, so it
works the same on the student's own objects (in the notebook) and on models
rebuilt in the grader from a plain-data description
(:mod:`cnnlab.grading.transfer`). Every check returns a
:class:`~cnnlab.grading.engine.CheckResult` when it passes and raises an
``AssertionError`` (a :class:`~cnnlab.grading.engine.CheckFailure` with the
share of the points earned, where part of the exercise is right) that
explains the mistake when not.
"""

import functools
import math
import numbers

import numpy as np

from cnnlab import nn as cnn_nn
from cnnlab.grading.engine import Case, CheckFailure, CheckResult, Mismatch, run_check
from cnnlab.grading.feedback import Suspect, describe
from cnnlab.grading.guard import ReferenceGuard
from cnnlab.grading.inputs import fresh_rng
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

#: The entries the exercises' tables leave as ``?`` for the student to work out:
#: (layer index, "text" | "shape" | "params") -> what the table shows instead.
ASKED = {
    NUMPY_SPEC: {(6, "shape"): "(N, ?)", (7, "text"): "Linear(?, 10)", (7, "params"): "?"},
    TORCH_SPEC: {(0, "params"): "?", (3, "params"): "?", (6, "shape"): "(N, ?)", (7, "text"): "Linear(?, 10)",
                 (7, "params"): "?"},
}

#: Accuracy a trained network must beat: (visible bar on the notebook's test digits, hidden bar
#: on a fresh random subset of the test set), and how many test digits each uses.
NUMPY_ACCURACY = (0.85, 0.90)
TORCH_ACCURACY = (0.95, 0.96)
#: The accuracy above which a trained network has measurably learned (chance is 0.1): below it the
#: history's falling loss earns nothing, since the grader cannot tell it from a made-up one.
LEARNED_SOMETHING = 0.5
NUMPY_TEST_DIGITS = 1000
TORCH_TEST_DIGITS = 2000

_NUMPY_KINDS = {
    cnn_nn.Conv2d: "conv", cnn_nn.Linear: "linear", cnn_nn.ReLU: "relu", cnn_nn.MaxPool2d: "maxpool",
    cnn_nn.AvgPool2d: "avgpool", cnn_nn.Flatten: "flatten", cnn_nn.Dropout: "dropout",
}
_WEIGHTED = ("conv", "linear")

_NOT_LINEAR_HINT = ("without a nonlinearity in between, two layers with weights compute one linear map "
                    "(a convolution of a convolution is again a convolution), so the second layer adds nothing")

#: Partial credit (share of the cell's points) for a network that works but is not the one asked for,
#: and for one that is right but fails only a hidden property (seeds, fresh weights, trainability).
WORKS_BUT_DIFFERENT = 0.5
HIDDEN_PROPERTY = 0.75


# --------------------------------------------------------------------------- helpers


def _shape_text(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _flat_text(shape):
    """``(N, C, H, W)`` -> ``'C*H*W = 16*7*7 = 784'``."""
    dims = shape[1:]
    return f"{'*'.join(str(d) for d in dims)} = {math.prod(dims)}"


def _fail(lines, fraction=None):
    """Raise the check's failure: a plain AssertionError, or a CheckFailure earning ``fraction``."""
    message = "\n".join(line for line in lines if line)
    if fraction is None:
        raise AssertionError(message)
    raise CheckFailure(message, fraction)


def _is_numpy_model(obj):
    return isinstance(obj, (cnn_nn.Sequential, cnn_nn.Layer))


def _is_torch_model(obj):
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_model(obj):
    return _is_numpy_model(obj) or _is_torch_model(obj)


def _build(builder_or_model, name, **kwargs):
    """The model: called from the builder when given one, else the object itself.

    Returns ``(model, builder)``; ``builder`` is None when a model was given. The
    builder is only called, so a proxy that rebuilds the model in the grader works too.
    """
    if _is_model(builder_or_model):
        return builder_or_model, None
    if not callable(builder_or_model):
        raise AssertionError(f"{name} must be a function that returns the model, got "
                             f"{type(builder_or_model).__name__}")
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        model = builder_or_model(**kwargs)
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except AssertionError as exc:  # e.g. a model the grader could not rebuild: its message says why
        raise AssertionError(f"{call}: {exc}") from None
    except Exception as exc:
        raise AssertionError(f"{call} raised {type(exc).__name__}: {exc}") from exc
    if model is None:
        raise AssertionError(f"{name} returned None. Did you forget the `return` statement?")
    return model, builder_or_model


def _table_cells(spec, i):
    """Row ``i`` of the exercise's table as the notebook prints it (``?`` where it asks)."""
    asked = ASKED.get(spec, {})
    _, text, shape, params = spec[i]
    return (asked.get((i, "text"), text), asked.get((i, "shape"), _shape_text(("N",) + shape)),
            asked.get((i, "params"), f"{params:,}"))


def _spec_table(spec):
    lines = ["  #  layer in the exercise's table             output shape     parameters"]
    for i in range(len(spec)):
        text, shape, params = _table_cells(spec, i)
        lines.append(f"  {i:<2} {text:<41} {shape:<16} {params:>10}")
    return "\n".join(lines)


def _rows_table(rows):
    lines = ["  #  your layer                                output shape     parameters"]
    for i, (_, text, shape, params) in enumerate(rows):
        lines.append(f"  {i:<2} {text:<41} {_shape_text(('N',) + tuple(shape)):<16} {params:>10,}")
    lines.append(f"  total parameters: {sum(row[3] for row in rows):,}")
    return "\n".join(lines)


def _params_formula(kind):
    if kind == "conv":
        return "a Conv2d has out_channels * in_channels * kernel height * kernel width weights + out_channels biases"
    return "a Linear layer has in_features * out_features weights + out_features biases"


def _compare_with_spec(rows, spec, name):
    """rows, spec: ``(kind, text, output shape without N, parameters)``; explain the first difference.

    The message names one difference and shows the exercise's table as the notebook
    prints it, so an entry the student is asked to work out (``?``) is never given away.
    A network that differs from the table but works earns :data:`WORKS_BUT_DIFFERENT`.
    """
    for i, (want, got) in enumerate(zip(spec, rows)):
        kind, _, shape, params = want
        g_kind, g_text, g_shape, g_params = got
        text, shape_text, params_text = _table_cells(spec, i)
        problem = None
        if g_kind != kind:
            problem = f"layer {i} should be {text}, but it is {g_text}."
        elif tuple(g_shape) != tuple(shape):
            problem = (f"layer {i} ({g_text}) outputs {_shape_text(('N',) + tuple(g_shape))}, but in the table "
                       f"layer {i} ({text}) outputs {shape_text}.")
            if kind == "conv" and g_shape[1:] != shape[1:]:
                problem += (" The height and width differ: check kernel_size, padding and stride "
                            "(padding = (kernel_size - 1) / 2 keeps the size).")
        elif g_params != params:
            problem = f"layer {i} ({g_text}) has {g_params:,} parameters"
            if (i, "params") in ASKED.get(spec, {}):
                problem += f", which is not the number this layer should have: {_params_formula(kind)}."
            else:
                problem += f", but {text} has {params:,}."
            if g_kind in _WEIGHTED and g_params < params:
                problem += " Did you switch off the bias?"
        if problem:
            _fail([f"{name}: the network works, but it is not the one the exercise asks for: {problem}",
                   "The exercise's table:", _spec_table(spec), "Yours:", _rows_table(rows)],
                  WORKS_BUT_DIFFERENT)
    if len(rows) != len(spec):
        what = "more" if len(rows) > len(spec) else "fewer"
        _fail([f"{name}: your network has {len(rows)} layers, {what} than the {len(spec)} the exercise asks for.",
               "The exercise's table:", _spec_table(spec), "Yours:", _rows_table(rows)], WORKS_BUT_DIFFERENT)


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


def _numpy_layer_text(layer):
    return repr(layer).replace("\n", " ")


def _numpy_rows(model, name):
    """Follow a (N, 1, 28, 28) batch through the layers; diagnose the first one that does not fit."""
    if _is_torch_model(model):
        _fail([f"{name} returned a PyTorch module ({type(model).__name__}). Here the model must be built from "
               "the NumPy layers of cnnlab.nn (nn.Conv2d, nn.ReLU, ...), with `from cnnlab import nn`; "
               "PyTorch comes later in the notebook."])
    if not isinstance(model, cnn_nn.Sequential):
        _fail([f"{name} must return a cnnlab.nn.Sequential of layers, got {type(model).__name__}."])
    if len(model.layers) == 0:
        _fail([f"{name} returned an empty Sequential(); put the layers inside it."])
    shape = (BATCH,) + IMAGE_SHAPE
    rows, shapes = [], []
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
        params = sum(int(p.size) for p in layer.params.values())
        rows.append((kind, text, out[1:], params))
        shapes.append(out)
        shape = out
    macs = layer_table(model, (1,) + IMAGE_SHAPE).total_macs  # the layers fit: the one shape engine counts
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
    model, builder = _build(build_or_model, name, seed=0)
    rows, macs = _check_numpy_network(model, name)
    cases = 6
    if spec is not None:
        _compare_with_spec(rows, spec, name)
        cases += 1
    if hidden and builder is not None:
        _check_numpy_seeds(builder, name)
        cases += 2
    return CheckResult(name, cases, hidden,
                       still_checked=("seed=0 twice gives the same weights, another seed other weights",))


def _check_numpy_network(model, name):
    """Everything a working NumPy CNN for MNIST needs, whatever its layers; returns ``(rows, macs)``."""
    rows, out_shape, macs = _numpy_rows(model, name)
    _check_classes(out_shape, name)
    _check_activations([r[0] for r in rows], [r[1] for r in rows], name)
    _check_numpy_weights(model, name)
    if macs > MAX_NUMPY_MACS:
        _fail([f"{name}: your network needs {macs:,} multiply-accumulates per image; the training cell budgets "
               f"for at most {MAX_NUMPY_MACS:,} (about five times the suggested network) to stay inside the "
               "grader's time limit. Use fewer channels, or pool earlier."])
    _check_numpy_pass(model, name)
    return rows, macs


def _numpy_weights(model):
    return [np.array(p) for p in model.params.values()]


def _check_numpy_seeds(builder, name):
    """The same seed gives the same weights, another seed (drawn fresh) other weights."""
    other = int(fresh_rng().integers(1, 1000))
    a = _numpy_weights(_build(builder, name, seed=0)[0])
    b = _numpy_weights(_build(builder, name, seed=0)[0])
    c = _numpy_weights(_build(builder, name, seed=other)[0])
    if len(a) != len(b) or not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b)):
        _fail([f"{name}(seed=0) gives different weights each time it is called. Pass the seed on to the "
               "layers (e.g. nn.Conv2d(..., seed=seed), nn.Linear(..., seed=seed + 2)) so that training is "
               "reproducible."], HIDDEN_PROPERTY)
    if all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c)):
        _fail([f"{name}(seed={other}) gives the same weights as {name}(seed=0): the seed argument is ignored. "
               "Pass it on to the layers."], HIDDEN_PROPERTY)


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
                elif kind == "batchnorm":  # F.batch_norm(x, mean, var, weight, bias, ...): weight, bias train
                    params = sum(int(a.numel()) for a in list(args[3:5]) + [kwargs.get("weight"), kwargs.get("bias")]
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
    call returns a new model with PyTorch's default initial weights.
    """
    name = "build_torch_cnn"
    model, builder = _build(build_or_model, name)
    ops = _check_torch_network(model, name)
    cases = 5
    if spec is not None:
        twin = _library_twin(ops)
        if twin is not None:
            _fail([f"{name} returns the network of {twin}, not the one of the exercise's table. The exercise is to "
                   "build the network of the table yourself, from tnn.Conv2d, tnn.ReLU, tnn.MaxPool2d, tnn.Flatten "
                   "and tnn.Linear."])
        rows = [(op["kind"], _torch_op_text(op), op["output"][1:], op["params"]) for op in ops]
        _compare_with_spec(rows, spec, name)
        cases += 1
    if hidden:
        _check_torch_trainable(model, name)
        cases += 1
        if builder is not None:
            _check_torch_fresh(builder, model, name)
            cases += 1
    return CheckResult(name, cases, hidden, still_checked=(
        "every parameter is a float32 tensor that trains (requires_grad, receives a gradient)",
        "each call returns a new model with PyTorch's default initial weights"))


def _check_torch_network(model, name):
    """Everything a working PyTorch CNN for MNIST needs, whatever its layers; returns the traced ops."""
    import torch

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
    for op in ops:
        if op["kind"] == "linear" and op["inputs"] and len(op["inputs"][0]) > 2:
            x_shape = op["inputs"][0]
            _fail([f"{name}: forgot Flatten before {_torch_op_text(op)}: it receives a {len(x_shape)}-D input of "
                   f"shape {_shape_text(x_shape)}. PyTorch then applies the layer to the last axis only. Add "
                   f"nn.Flatten() before it; flattened, each image has {_flat_text(x_shape)} features, so "
                   f"in_features={math.prod(x_shape[1:])}."])
    if not isinstance(out, torch.Tensor):
        _fail([f"{name}: the model must return a tensor of scores, got {type(out).__name__}."])
    _check_activations([op["kind"] for op in ops], [_torch_op_text(op) for op in ops], name)
    _check_classes(tuple(out.shape), name)
    table = layer_table(model, (BATCH,) + IMAGE_SHAPE)
    total = sum(p.numel() for p in model.parameters())
    traced = sum(op["params"] for op in ops)
    if table.total_params != total or traced != total:
        _fail([f"{name}: the model has {total:,} parameters, but only {traced:,} of them are used in the "
               "forward pass (layers created but never called?).",
               "Layer table:\n" + table.to_text()])
    return ops


def _op_signature(ops):
    return tuple((op["kind"], op["weight"]) for op in ops)


@functools.lru_cache(maxsize=1)
def _library_signatures():
    """(name, traced signature) of the MNIST networks cnnlab.models ships, where they can be built."""
    found = []
    try:
        from cnnlab import models
        builders = [("cnnlab.models.fast_mnist_cnn()", models.fast_mnist_cnn),
                    ("cnnlab.models.mnist_cnn()", models.mnist_cnn)]
    except Exception:  # the library is not available here (e.g. stubbed in a sandbox)
        return ()
    for label, build in builders:
        try:
            ops, _, error = _trace_torch(build())
        except Exception:
            continue
        if error is None:
            found.append((label, _op_signature(ops)))
    return tuple(found)


def _library_twin(ops):
    """The cnnlab.models builder whose network has exactly these operations and weight shapes, if any."""
    signature = _op_signature(ops)
    return next((label for label, known in _library_signatures() if known == signature), None)


def _check_torch_trainable(model, name):
    import torch

    for pname, p in model.named_parameters():
        if p.dtype != torch.float32:
            _fail([f"{name}: parameter {pname} is {p.dtype}; keep the default float32 (the images are float32)."],
                  HIDDEN_PROPERTY)
        if not p.requires_grad:
            _fail([f"{name}: parameter {pname} has requires_grad=False, so training would never change it."],
                  WORKS_BUT_DIFFERENT)
    x = torch.randn((BATCH,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(0))
    model.zero_grad(set_to_none=True)
    model(x.to(next(model.parameters()).device)).sum().backward()
    missing = [pname for pname, p in model.named_parameters() if p.grad is None]
    model.zero_grad(set_to_none=True)
    if missing:
        _fail([f"{name}: parameters {', '.join(missing)} receive no gradient (cut off from the loss, e.g. by "
               ".detach() or .data)."], WORKS_BUT_DIFFERENT)


def _default_init_problem(model):
    """Why the weights of ``model`` do not look like PyTorch's default initialisation, or None.

    nn.Conv2d and nn.Linear draw their weights uniformly from [-b, b] with
    b = 1 / sqrt(fan_in) (fan_in = in_channels * KH * KW, or in_features), so the
    values stay inside that interval and their standard deviation is b / sqrt(3).
    """
    import torch

    for mname, module in model.named_modules():
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            continue
        w = module.weight.detach().double().cpu()
        bound = 1 / math.sqrt(w[0].numel())
        std = float(w.std()) if w.numel() > 1 else 0.0
        if float(w.abs().max()) > bound * 1.001 or not 0.8 < std / (bound / math.sqrt(3)) < 1.2:
            return (f"the weights of layer {mname or '0'} ({type(module).__name__}) have standard deviation "
                    f"{std:.3g}; PyTorch's default initialisation would give about {bound / math.sqrt(3):.3g}")
    return None


def _check_torch_fresh(builder, model, name):
    """Two calls give two models, with different weights drawn by PyTorch's default initialisation."""
    import torch

    a = _build(builder, name)[0]
    b = _build(builder, name)[0]
    same_objects = a is b or a is model or any(pa is pb for pa, pb in zip(a.parameters(), b.parameters()))
    pa, pb = list(a.parameters()), list(b.parameters())
    same_values = len(pa) == len(pb) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(pa, pb))
    if same_objects or same_values:
        _fail([f"{name} returns the same model (the same weights) every time; build new layers inside the "
               "function so that every call starts from fresh, untrained weights."], HIDDEN_PROPERTY)
    problem = _default_init_problem(a)
    if problem:
        _fail([f"{name}: {problem}. Leave the weights to the layers' own initialisation (the training cell seeds "
               "it with torch.manual_seed(0), so training is reproducible)."], HIDDEN_PROPERTY)


# --------------------------------------------------------------------------- training

_FIXED_SETTINGS = ("The training settings (learning rate, epochs, batch size) are fixed in the locked training "
                   "cell, so the cause is elsewhere")


def _losses(history, key, what="the training history"):
    if isinstance(history, dict):
        if key not in history:
            _fail([f"{what} has no {key!r} entry; pass the History that the training loop returned."])
        values = history[key]
    else:
        values = history
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        _fail([f"expected a training History or a list of loss values, got {type(history).__name__}."])
    return values


def _loss_problem(history, key="train_loss", min_drop=0.2, what=None):
    """None when the loss fell as training should make it fall, else a sentence saying how it did not.

    The loss must be finite, its last value at least ``min_drop`` (relative) below
    the first, and clearly below ``log(10) = 2.303``, the loss of guessing.
    """
    losses = _losses(history, key)
    if what is None:
        what = f"the {key.replace('_', ' ')}" if isinstance(history, dict) else "the loss"
    if len(losses) < 2:
        return f"{what} has {len(losses)} value(s); train for at least 2 epochs to see whether it falls."
    values = ", ".join(f"{v:.4f}" for v in losses)
    if not all(math.isfinite(v) for v in losses):
        return f"{what} became NaN or inf ({values}): training diverged."
    first, last = losses[0], losses[-1]
    if last >= first:
        return f"{what} did not fall: {values}."
    if last > (1 - min_drop) * first:
        return f"{what} fell only from {first:.4f} to {last:.4f} ({values}); it should fall by at least {min_drop:.0%}."
    if last > 0.8 * CHANCE_LOSS:
        return (f"{what} ends at {last:.4f}, close to log(10) = {CHANCE_LOSS:.3f}, the loss of guessing uniformly "
                "among 10 digits: the network has barely learned anything.")
    return None


def check_loss_decreases(history, key="train_loss", min_drop=0.2):
    """The loss fell during training (see :func:`_loss_problem`).

    ``history``: a :class:`cnnlab.train.History` (its ``key`` list, one value per
    epoch) or a plain list of losses; at least two values.
    """
    problem = _loss_problem(history, key, min_drop)
    if problem:
        _fail([problem, _FIXED_SETTINGS + ": check that the structure test of the network passes and that the "
               "cells ran in order."])
    losses = _losses(history, key)
    return CheckResult(f"the loss fell from {losses[0]:.4f} to {losses[-1]:.4f}", 3, False)


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


@functools.lru_cache(maxsize=1)
def _mnist_test_set():
    """The 10,000 MNIST test images (uint8, read-only) and labels (int64), loaded once."""
    from cnnlab.data import MNISTChecksumError, MNISTNotFoundError, load_mnist

    try:
        _, _, images, labels = load_mnist()
    except (MNISTNotFoundError, MNISTChecksumError) as exc:
        raise AssertionError(f"the MNIST test digits needed to measure the accuracy are not available here "
                             f"({exc}); set CNNLAB_DATA to the folder with the MNIST files.") from None
    images, labels = np.array(images, dtype=np.uint8), np.array(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def mnist_test_digits(n, hidden):
    """``(x, y, what)``: ``n`` normalised MNIST test digits ``(n, 1, 28, 28)`` float32, labels, a description.

    Visible: the first ``n`` test digits, the ones the notebook evaluates on.
    Hidden: ``n`` digits drawn at random from all 10,000 (fresh every run), each
    pixel moved by up to one grey level (uniform noise of +-1/255), so that
    looking the test images up instead of classifying them cannot work.
    """
    from cnnlab.data import MEAN, STD

    images, labels = _mnist_test_set()
    if hidden:
        rng = fresh_rng()
        index = np.sort(rng.choice(len(labels), size=n, replace=False))
        noise = rng.uniform(-1.0, 1.0, size=(n, 28, 28)).astype(np.float32)
        x = (images[index].astype(np.float32) + noise) / 255.0
        what = f"{n:,} test digits drawn at random, with a little pixel noise"
    else:
        index = np.arange(n)
        x = images[index].astype(np.float32) / 255.0
        what = f"the first {n:,} test digits"
    x = ((x - MEAN) / STD).astype(np.float32)[:, None]
    return x, labels[index].copy(), what


def _numpy_predictions(model, x, batch_size=500):
    """Predicted digits of a cnnlab.nn model, in evaluation mode (its modes restored afterwards)."""
    flags = [(m, m.training) for m in [model] + list(getattr(model, "layers", [])) if hasattr(m, "training")]
    model.eval()
    try:
        return np.concatenate([np.asarray(model.forward(x[i:i + batch_size])).argmax(axis=1)
                               for i in range(0, len(x), batch_size)])
    finally:
        for m, flag in flags:
            m.training = flag


def _torch_predictions(model, x, batch_size=1000):
    """Predicted digits of a torch module, in evaluation mode without gradients (modes restored)."""
    import torch

    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")
    flags = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return np.concatenate([model(torch.as_tensor(x[i:i + batch_size]).to(device=device, dtype=dtype))
                                   .argmax(dim=1).cpu().numpy() for i in range(0, len(x), batch_size)])
    finally:
        for m, flag in flags.items():
            m.training = flag


def _network_problem(check):
    """The message of ``check()`` when it fails (the network is wrong), else None."""
    try:
        check()
    except AssertionError as failure:
        return str(failure)
    return None


def _check_trained(name, history_name, model, history, hidden, bars, n_digits, network_check, predict):
    """Loss fell (1/3 of the points) and accuracy on MNIST test digits measured here above the bar (2/3)."""
    threshold = bars[1] if hidden else bars[0]
    loss_problem = _loss_problem(history, "train_loss", 0.2, f"the training loss in {history_name}")
    x, y, what = mnist_test_digits(n_digits, hidden)
    try:
        predicted = np.asarray(predict(model, x))
        accuracy = float(np.mean(predicted == y)) if predicted.shape == y.shape else None
    except Exception as exc:
        accuracy, error = None, f"{type(exc).__name__}: {exc}"
    else:
        error = None if accuracy is not None else f"it gives predictions of shape {predicted.shape}"
    if loss_problem is None and accuracy is not None and accuracy > threshold:
        return CheckResult(f"{name}: accuracy {accuracy:.4f} on {what} (needed: above {threshold})", 2, hidden,
                           still_checked=(f"accuracy above {bars[1]} on {n_digits:,} test digits drawn at random",))
    lines = [f"{name}: the training did not work out."]
    if loss_problem:
        lines.append(loss_problem[0].upper() + loss_problem[1:])
    if accuracy is None:
        lines.append(f"Its accuracy on {what} could not be measured: {error}.")
    elif accuracy <= threshold:
        lines.append(f"Its accuracy on {what} is {accuracy:.4f}, not above the required {threshold}.")
        if accuracy <= 0.15 and loss_problem is None:
            lines.append(f"That is chance level although {history_name} shows the loss falling: {name} is probably "
                         "not the model that was trained (did you re-run the cell that builds it after training?). "
                         "Run the training cell again.")
    problem = _network_problem(network_check)
    if problem:
        lines.append(f"{_FIXED_SETTINGS}: the network is wrong. {problem}")
    elif loss_problem or accuracy is None or accuracy > 0.15:
        lines.append(f"{_FIXED_SETTINGS}: check that the structure test of the network passes and that the cells "
                     "ran in order, from the top.")
    # The history is the student's own data: "the loss fell" earns its third only for a network that
    # measurably learned something here, so a made-up history beside an untrained model earns nothing.
    learned = accuracy is not None and accuracy > LEARNED_SOMETHING
    fraction = (1 / 3 if loss_problem is None and learned else 0) + (
        2 / 3 if accuracy is not None and accuracy > threshold else
        1 / 3 if accuracy is not None and accuracy > threshold - 0.1 else 0)
    _fail(lines, fraction)


def _require_convolution(name, has_convolution, builder):
    """The trained model must be a CNN: a plain linear classifier also passes the accuracy bar."""
    if not has_convolution:
        _fail([f"{name} has no convolution layer, so it is not the network that {builder} builds. The training "
               f"check grades the CNN of this notebook: run the cells in order, from the top, and do not replace "
               f"{name} after the training cell."])


def check_trained_numpy_cnn(model, history, hidden=False):
    """Check the trained NumPy network ``numpy_model`` and its ``numpy_history``.

    The training loss must fall (:func:`_loss_problem`), and the accuracy,
    measured here on MNIST test digits (:func:`mnist_test_digits`), must be above
    0.85 on the notebook's first 1,000 test digits (visible) or above 0.90 on
    1,000 digits drawn at random with a little noise (hidden). A failure names
    what is wrong with the network when the structure checks find it, never the
    training settings (they are in a locked cell).
    """
    name = "numpy_model"
    if not _is_numpy_model(model):
        _fail([f"{name} must be the cnnlab.nn.Sequential trained in the training cell, got a "
               f"{type(model).__name__}. Run the notebook's cells in order, from the top."])
    _require_convolution(name, any(isinstance(layer, cnn_nn.Conv2d) for layer in getattr(model, "layers", [model])),
                         "build_numpy_cnn")
    return _check_trained(name, "numpy_history", model, history, hidden, NUMPY_ACCURACY, NUMPY_TEST_DIGITS,
                          lambda: _check_numpy_network(model, name), _numpy_predictions)


def check_trained_torch_cnn(model, history, hidden=False):
    """Check the trained PyTorch network ``torch_model`` and its ``torch_history``.

    As :func:`check_trained_numpy_cnn`, with the bars 0.95 on the notebook's
    first 2,000 test digits (visible) and 0.96 on 2,000 digits drawn at random
    with a little noise (hidden).
    """
    name = "torch_model"
    if not _is_torch_model(model):
        _fail([f"{name} must be the torch.nn.Module trained in the training cell, got a "
               f"{type(model).__name__}. Run the notebook's cells in order, from the top."])
    import torch

    _require_convolution(name, any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules()),
                         "build_torch_cnn")
    return _check_trained(name, "torch_history", model, history, hidden, TORCH_ACCURACY, TORCH_TEST_DIGITS,
                          lambda: _check_torch_network(model, name), _torch_predictions)


# --------------------------------------------------------------------------- confusion matrix


def reference_confusion_counts(y_true, y_pred, num_classes=NUM_CLASSES):
    """counts[t, p] = how many examples of true class t were predicted as p.

    Each pair (t, p) is numbered t * num_classes + p; ``np.bincount`` counts the numbers.
    """
    pair_number = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(pair_number, minlength=num_classes ** 2).astype(np.int64).reshape(num_classes, num_classes)


class _PlotsGuard(ReferenceGuard):
    """The reference guard, also refusing ready-made confusion matrices."""

    def _forbidden(self, module, name):
        if module.split(".")[0] == "sklearn" or (module == "cnnlab.plots" and name == "confusion_matrix"):
            return True
        return super()._forbidden(module, name)


def _confusion_cases(hidden):
    cases = [
        Case("basic", y_true=np.array([0, 1, 2, 2, 1]), y_pred=np.array([0, 2, 2, 2, 1]), num_classes=3),
        Case("basic", y_true=np.array([3, 3, 0, 1]), y_pred=np.array([0, 3, 0, 1]), num_classes=4),
        Case("classes that never occur", y_true=np.array([1, 1, 0]), y_pred=np.array([1, 0, 0]), num_classes=5),
    ]
    if hidden:
        rng = fresh_rng()
        y = rng.integers(0, 10, size=300)
        pred = np.where(rng.random(300) < 0.8, y, rng.integers(0, 10, size=300))
        few = rng.integers(0, 3, size=20)
        cases += [Case("many examples", y_true=y, y_pred=pred, num_classes=10),
                  Case("one example", y_true=rng.integers(0, 10, size=1), y_pred=rng.integers(0, 10, size=1),
                       num_classes=10),
                  Case("many examples", y_true=np.arange(10), y_pred=np.arange(10), num_classes=10),
                  Case("classes that never occur", y_true=few, y_pred=rng.permutation(few), num_classes=10)]
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
    ] + ([Suspect("num_classes ignored", "the matrix is num_classes x num_classes even when some classes never "
                  "occur", counts[:k, :k])] if k < args["num_classes"] else [])


def _same_values(received, expected):
    try:
        values = np.array(received, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return values.shape == expected.shape and bool(np.all(values == expected))


def _compare_counts(received, expected, what):
    """A plain ndarray of integers equal to the expected counts; ``type_only`` when only the type is wrong.

    The message shows the student's matrix and at most the one expected value that is wrong.
    """
    right = _same_values(received, expected)
    if received is None:
        return Mismatch([f"{what} returned None. Did you forget the `return` statement?"], None)
    if type(received) is not np.ndarray or received.dtype == bool or not np.issubdtype(received.dtype, np.integer):
        got = (f"a {type(received).__name__}" if type(received) is not np.ndarray
               else f"an array of dtype {received.dtype}")
        mismatch = Mismatch([f"{what} must return a numpy array of integers (np.ndarray with an integer dtype), "
                             f"got {got}" + (" (the values are right)." if right else ".") +
                             " Counts are whole numbers: start from np.zeros((num_classes, num_classes), dtype=int), "
                             "add 1 per example, and return that array."], None if right else received)
        mismatch.type_only = right
        return mismatch
    if right:
        return None
    want = np.asarray(expected)
    if received.shape != want.shape:
        lines = [f"Expected a {want.shape[0]} x {want.shape[1]} matrix (num_classes x num_classes), got shape "
                 f"{received.shape}."]
    else:
        index = tuple(int(i) for i in np.argwhere(received != want)[0])
        lines = [f"{int(np.sum(received != want))} of {want.size} counts differ; the first is counts{list(index)}: "
                 f"expected {want[index]}, got {received[index]}."]
    if received.size <= 100:
        lines.insert(0, "Received:\n" + "\n".join("    " + line for line in describe(received).split(":\n", 1)[-1]
                                                   .splitlines()))
    mismatch = Mismatch(lines, received)
    mismatch.type_only = False
    return mismatch


#: Share of the points for counts that are right but returned as floats or as a list.
RIGHT_VALUES_WRONG_TYPE = 2 / 3


def check_confusion_counts(fn, hidden=False):
    """Check ``confusion_counts(y_true, y_pred, num_classes)`` -> ``(K, K)`` ndarray of integer counts.

    Parts: basic, classes that never occur (a ``num_classes x num_classes``
    matrix all the same); hidden: many examples, one example. Right counts
    returned as floats or as a list earn :data:`RIGHT_VALUES_WRONG_TYPE` of the
    points, with a message saying what to return.
    """
    name = "confusion_counts"
    cases = _confusion_cases(hidden)
    seen = {"type only": 0, "other": 0}

    def compare(received, expected, what):
        mismatch = _compare_counts(received, expected, what)
        if mismatch is not None:
            seen["type only" if getattr(mismatch, "type_only", False) else "other"] += 1
        return mismatch

    try:
        return run_check(name, fn, cases, reference_confusion_counts, compare, mistakes=_confusion_suspects,
                         hidden=hidden, guard=_PlotsGuard(), advice="count yourself (a loop, or np.add.at)",
                         still_checked=("a long list of random labels", "a single example",
                                        "classes that never occur with num_classes=10"))
    except CheckFailure as failure:
        groups = len({case.group for case in cases})
        failed_groups = round((1 - failure.fraction) * groups)
        if seen["other"] == 0 and seen["type only"] == failed_groups and failure.fraction < RIGHT_VALUES_WRONG_TYPE:
            raise CheckFailure(failure.message, RIGHT_VALUES_WRONG_TYPE) from None
        raise
