"""Layer tables: output shape, parameters and multiply-accumulates, layer by layer.

``layer_table(model, input_shape)`` accepts

* a **layer spec**: a list of dicts such as
  ``{"type": "conv", "name": "conv1", "out_channels": 96, "kernel_size": 11, "stride": 4}``,
  from which every shape is computed by arithmetic alone (no torch needed);
* a **cnnlab.nn model** (a :class:`cnnlab.nn.Sequential` or one layer): each layer
  describes itself as a spec entry (``layer.spec()``, named by its index), so it goes
  through the same arithmetic; or
* a **torch module**: it runs one forward pass on zeros (under ``torch.no_grad``,
  in eval mode) with forward hooks on every leaf module and reads each
  layer's output shape from the tensors that actually flow.

All give the same rows for the same network (``cnnlab.models`` builds its torch and
NumPy networks from specs). Every count is per sample:

* ``weights``, ``biases``, ``params = weights + biases`` (trainable parameters;
  a batch norm's running mean and variance are buffers, not parameters);
* ``macs``: multiply-accumulates of convolutions and linear layers, biases
  excluded (pooling, normalisation and activations count 0)::

      conv:   H_out * W_out * C_out * (C_in / groups) * KH * KW
      linear: in_features * out_features

* ``activation_bytes``: the size of the layer's output for one sample, at
  4 bytes per float32 number.

Spec layer types and their keys (``name`` is optional everywhere, defaults to
type + position; ``(h, w)`` pairs are accepted wherever an int is)::

    conv              out_channels, kernel_size, stride=1, padding=0 (int, pair,
                      "valid" or "same"), dilation=1, groups=1, bias=True,
                      in_channels (optional, checked against the input)
    maxpool           kernel_size, stride=kernel_size, padding=0, dilation=1, ceil_mode=False
    avgpool           kernel_size, stride=kernel_size, padding=0, ceil_mode=False, count_include_pad
    adaptive_avgpool  output_size        (also adaptive_maxpool)
    flatten           (C, H, W) -> (C*H*W,)
    linear            out_features, bias=True, in_features (optional, checked)
    batchnorm         num_features (optional, checked), affine=True: weights C, biases C
    lrn, relu, tanh, sigmoid, leaky_relu, softmax, dropout, identity   shape unchanged, no parameters
"""

import dataclasses
import html
import math
import numbers

from cnnlab._validation import as_pair, check_int
from cnnlab.functional import check_pool_padding, conv_output_size, pool_output_size

FLOAT32_BYTES = 4


# ---------------------------------------------------------------------------
# Rows and the table
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One layer of a ``LayerTable``; every count is per sample."""

    name: str
    kind: str
    input_shape: tuple
    output_shape: tuple
    weights: int
    biases: int
    params: int
    macs: int
    activation_bytes: int


def _make_row(name, kind, input_shape, output_shape, weights=0, biases=0, macs=0):
    n_outputs = math.prod(output_shape) if output_shape is not None else 0
    return LayerRow(
        name=name,
        kind=kind,
        input_shape=input_shape,
        output_shape=output_shape,
        weights=int(weights),
        biases=int(biases),
        params=int(weights) + int(biases),
        macs=int(macs),
        activation_bytes=FLOAT32_BYTES * n_outputs,
    )


def _shape_text(shape):
    """(256, 6, 6) -> '256x6x6'; None (no tensor output) -> '-'."""
    if shape is None:
        return "-"
    return "x".join(str(s) for s in shape)


class LayerTable:
    """The rows of ``layer_table``, their totals and their text/HTML rendering.

    ``table["conv1"]`` finds a row by name (a nested module's full name such as
    ``"features.0"``, or its last part ``"0"`` when that is unique), ``table[3]``
    by position; ``for row in table``, ``len(table)`` and ``table.to_dicts()``
    work as expected. ``print(table)`` shows an aligned text table; in a
    notebook the table shows as HTML.
    """

    columns = ("layer", "kind", "output (CxHxW)", "weights", "biases", "params", "MACs", "activation bytes")

    def __init__(self, rows, input_shape):
        self.rows = list(rows)
        self.input_shape = tuple(input_shape)
        self.total_weights = sum(r.weights for r in self.rows)
        self.total_biases = sum(r.biases for r in self.rows)
        self.total_params = sum(r.params for r in self.rows)
        self.total_macs = sum(r.macs for r in self.rows)
        self.total_activation_bytes = sum(r.activation_bytes for r in self.rows)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        if isinstance(key, (numbers.Integral, slice)) and not isinstance(key, bool):
            return self.rows[key]
        for row in self.rows:
            if row.name == key:
                return row
        by_last_part = [r for r in self.rows if r.name.split(".")[-1] == key]
        if len(by_last_part) == 1:
            return by_last_part[0]
        names = ", ".join(r.name for r in self.rows)
        if by_last_part:
            matches = ", ".join(r.name for r in by_last_part)
            raise KeyError(f"layer name {key!r} is ambiguous; it matches {matches}")
        raise KeyError(f"no layer named {key!r}; the layers are: {names}")

    def to_dicts(self):
        """Every row as a plain dict (for pandas: ``pd.DataFrame(table.to_dicts())``)."""
        return [dataclasses.asdict(r) for r in self.rows]

    def _cells(self):
        """Rows of strings for rendering: header cells, body rows, totals row."""
        body = [
            [
                r.name,
                r.kind,
                _shape_text(r.output_shape),
                f"{r.weights:,}",
                f"{r.biases:,}",
                f"{r.params:,}",
                f"{r.macs:,}",
                f"{r.activation_bytes:,}",
            ]
            for r in self.rows
        ]
        totals = [
            "total",
            "",
            "",
            f"{self.total_weights:,}",
            f"{self.total_biases:,}",
            f"{self.total_params:,}",
            f"{self.total_macs:,}",
            f"{self.total_activation_bytes:,}",
        ]
        return list(self.columns), body, totals

    def _footnote(self):
        return (
            f"input {_shape_text(self.input_shape)}; counts are per sample; "
            f"MACs count convolutions and linear layers, biases excluded; "
            f"activations at {FLOAT32_BYTES} bytes (float32)"
        )

    def to_text(self):
        """An aligned text table with thousands separators and a totals line."""
        header, body, totals = self._cells()
        widths = [max(len(row[i]) for row in [header, totals] + body) for i in range(len(header))]

        def line(cells):
            parts = [
                c.ljust(w) if i < 3 else c.rjust(w)  # text left, numbers right
                for i, (c, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        lines = [line(header), rule] + [line(r) for r in body] + [rule, line(totals), self._footnote()]
        return "\n".join(lines)

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        return (
            f"<LayerTable: {len(self.rows)} layers, {self.total_params:,} params, "
            f"{self.total_macs:,} MACs for input {_shape_text(self.input_shape)}>"
        )

    def _repr_html_(self):
        header, body, totals = self._cells()

        def cell(tag, text, i):
            align = "left" if i < 3 else "right"
            return f'<{tag} style="text-align:{align}">{html.escape(text)}</{tag}>'

        head = "".join(cell("th", c, i) for i, c in enumerate(header))
        rows = "\n".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(r)) + "</tr>" for r in body)
        foot = "".join(cell("th", c, i) for i, c in enumerate(totals))
        return (
            '<table class="cnnlab-layer-table">\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n"
            f"<tfoot><tr>{foot}</tr></tfoot>\n</table>\n"
            f"<p><small>{html.escape(self._footnote())}</small></p>"
        )


# ---------------------------------------------------------------------------
# The public entry point
# ---------------------------------------------------------------------------


def _check_input_shape(input_shape):
    """Return (C, H, W) and the batch size from (C, H, W) or (N, C, H, W)."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (3, 4):
        raise ValueError(f"input_shape must be (C, H, W) or (N, C, H, W), got {input_shape!r}")
    dims = tuple(check_int(d, "every entry of input_shape", minimum=1) for d in input_shape)
    if len(dims) == 4:
        return dims[1:], dims[0]
    return dims, 1


def layer_table(model, input_shape):
    """Tabulate a network layer by layer.

    model: a layer spec (a list of dicts or dataclass instances, see the module
        docstring), a ``cnnlab.nn`` model or a ``torch.nn.Module``.
    input_shape: ``(C, H, W)`` or ``(N, C, H, W)``; the batch size N only sets
        the batch used for the torch forward pass, every count is per sample.

    Returns a ``LayerTable`` with one row per spec entry, per ``cnnlab.nn`` layer
    or per leaf module call (torch). For a torch module the forward pass runs on zeros on the
    model's device, in eval mode (training flags are restored afterwards).
    Operations done in a module's ``forward`` by functions (``torch.flatten``,
    ``F.relu``) rather than by child modules get no row.

    Raises ``ValueError`` naming the layer whose shapes do not fit, e.g.
    ``layer 'fc6' expects 9216 inputs but receives 6400 (256x5x5)``.
    """
    from cnnlab import nn as numpy_nn

    shape, batch = _check_input_shape(input_shape)
    if isinstance(model, (list, tuple)):
        return LayerTable(_spec_rows(model, shape), shape)
    if isinstance(model, (numpy_nn.Sequential, numpy_nn.Layer)):
        return LayerTable(_spec_rows(numpy_spec(model), shape), shape)
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or a list of layer specs (or a cnnlab.nn "
            f"model), got {type(model).__name__}"
        )
    return LayerTable(_torch_rows(model, shape, batch), shape)


def numpy_spec(model):
    """The layer spec of a ``cnnlab.nn`` model: ``layer.spec()`` per layer, named by its index."""
    layers = model.layers if hasattr(model, "layers") else [model]
    return [dict(layer.spec(), name=str(i)) for i, layer in enumerate(layers)]


# ---------------------------------------------------------------------------
# Layer specs: pure shape arithmetic
# ---------------------------------------------------------------------------


# allowed keys per canonical type, and the names students may use for each type
_SPEC_KEYS = {
    "conv": {"out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "in_channels"},
    "maxpool": {"kernel_size", "stride", "padding", "dilation", "ceil_mode"},
    "avgpool": {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
    "adaptive_avgpool": {"output_size"},
    "adaptive_maxpool": {"output_size"},
    "flatten": set(),
    "linear": {"out_features", "in_features", "bias"},
    "batchnorm": {"num_features", "affine", "eps", "momentum"},
    "lrn": {"size", "alpha", "beta", "k"},
    "relu": {"inplace"},
    "tanh": set(),
    "sigmoid": set(),
    "leaky_relu": {"negative_slope", "inplace"},
    "softmax": {"dim"},
    "dropout": {"p", "inplace"},
    "identity": set(),
}
_ALIASES = {
    "conv2d": "conv",
    "maxpool2d": "maxpool",
    "max_pool": "maxpool",
    "avgpool2d": "avgpool",
    "avg_pool": "avgpool",
    "fc": "linear",
    "dense": "linear",
    "bn": "batchnorm",
    "batchnorm2d": "batchnorm",
    "norm": "lrn",
    "adaptiveavgpool2d": "adaptive_avgpool",
    "adaptivemaxpool2d": "adaptive_maxpool",
}


def _layer_dict(layer, position):
    """A spec entry (dict or dataclass instance) as a dict with a canonical type and a name."""
    if dataclasses.is_dataclass(layer) and not isinstance(layer, type):
        layer = dataclasses.asdict(layer)
    if not isinstance(layer, dict):
        raise TypeError(f"spec entry {position} must be a dict or a dataclass instance, got {type(layer).__name__}")
    if "type" not in layer:
        raise ValueError(f"spec entry {position} has no 'type' key: {layer!r}")
    kind = str(layer["type"]).lower()
    kind = _ALIASES.get(kind, kind)
    name = layer.get("name") or f"{kind}{position}"
    if kind not in _SPEC_KEYS:
        known = ", ".join(sorted(_SPEC_KEYS))
        raise ValueError(f"layer '{name}' has unknown type {layer['type']!r}; known types: {known}")
    unknown = sorted(set(layer) - _SPEC_KEYS[kind] - {"type", "name"})
    if unknown:
        allowed = ", ".join(sorted(_SPEC_KEYS[kind])) or "none"
        raise ValueError(f"layer '{name}' ({kind}) has unknown key(s) {', '.join(unknown)}; allowed keys: {allowed}")
    return dict(layer, type=kind, name=name)


def _required(layer, key):
    if layer.get(key) is None:
        raise ValueError(f"layer '{layer['name']}' ({layer['type']}) needs a '{key}' entry")
    return layer[key]


def _pair(layer, key, default, minimum):
    value = layer.get(key, default)
    if value is None:
        value = default
    return as_pair(value, f"{key} of layer '{layer['name']}'", minimum)


def _need_image(layer, shape):
    if len(shape) != 3:
        raise ValueError(
            f"layer '{layer['name']}' ({layer['type']}) needs a (C, H, W) input, got shape {_shape_text(shape)}"
        )


def _window_too_large(layer, shape, kernel, padding, dilation):
    """The ValueError for a (dilated) window that leaves no output position."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(s + 2 * p for s, p in zip(shape[1:], padding))
    return ValueError(
        f"layer '{layer['name']}' has a {_shape_text(kernel)} kernel with dilation "
        f"{_shape_text(dilation)} spanning {_shape_text(span)}, larger than its padded input "
        f"{_shape_text(padded)} (input {_shape_text(shape)}, padding {_shape_text(padding)})"
    )


def _spec_conv(layer, shape):
    """(C_in, H, W) -> (C_out, H_out, W_out); weight (C_out, C_in/groups, KH, KW)."""
    name = layer["name"]
    _need_image(layer, shape)
    c_in = shape[0]
    c_out = check_int(_required(layer, "out_channels"), f"out_channels of layer '{name}'", 1)
    kernel = as_pair(_required(layer, "kernel_size"), f"kernel_size of layer '{name}'", 1)
    stride = _pair(layer, "stride", 1, 1)
    dilation = _pair(layer, "dilation", 1, 1)
    groups = check_int(layer.get("groups", 1), f"groups of layer '{name}'", 1)
    declared = layer.get("in_channels")
    if declared is not None and declared != c_in:
        raise ValueError(
            f"layer '{name}' expects {declared} input channels but receives {c_in} (input {_shape_text(shape)})"
        )
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"layer '{name}' has groups={groups}, but its {c_in} input channels and "
            f"{c_out} output channels must both be divisible by {groups}"
        )
    padding = layer.get("padding", 0)
    if padding == "valid":
        padding = 0
    if padding == "same":
        if stride != (1, 1):
            raise ValueError(f"layer '{name}' uses padding='same', which needs stride 1, got stride {stride}")
        # total padding d(k-1) keeps the size; an odd total puts the extra row/column at the end
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        out_hw = shape[1:]
    else:
        padding = as_pair(padding, f"padding of layer '{name}'", 0)
        out_hw = None
    # the dilated kernel d(k-1)+1 must fit inside the padded input H+2p
    if any(d * (k - 1) + 1 > n + 2 * p for n, k, p, d in zip(shape[1:], kernel, padding, dilation)):
        raise _window_too_large(layer, shape, kernel, padding, dilation)
    if out_hw is None:
        # floor((H + 2p - d(k-1) - 1) / s) + 1 on each axis
        out_hw = tuple(
            conv_output_size(s, k, st, p, d) for s, k, st, p, d in zip(shape[1:], kernel, stride, padding, dilation)
        )
    per_output = (c_in // groups) * kernel[0] * kernel[1]  # C_in/groups * KH * KW
    weights = c_out * per_output
    biases = c_out if layer.get("bias", True) else 0
    macs = out_hw[0] * out_hw[1] * c_out * per_output  # H_out * W_out * C_out * C_in/g * KH * KW
    return (c_out,) + out_hw, weights, biases, macs


def _spec_pool(layer, shape):
    """(C, H, W) -> (C, H_out, W_out); no parameters, no MACs."""
    _need_image(layer, shape)
    kernel = as_pair(_required(layer, "kernel_size"), f"kernel_size of layer '{layer['name']}'", 1)
    stride = _pair(layer, "stride", kernel, 1)  # stride defaults to the kernel size
    padding = _pair(layer, "padding", 0, 0)
    dilation = _pair(layer, "dilation", 1, 1)
    ceil_mode = bool(layer.get("ceil_mode", False))
    try:
        check_pool_padding(kernel, padding)
    except ValueError as error:
        raise ValueError(f"layer '{layer['name']}': {error}") from None
    try:
        out_hw = tuple(
            pool_output_size(s, k, st, p, d, ceil_mode)
            for s, k, st, p, d in zip(shape[1:], kernel, stride, padding, dilation)
        )
    except ValueError:
        raise _window_too_large(layer, shape, kernel, padding, dilation) from None
    return (shape[0],) + out_hw, 0, 0, 0


def _spec_adaptive_pool(layer, shape):
    """(C, H, W) -> (C, *output_size); None in output_size keeps that size."""
    _need_image(layer, shape)
    size = _required(layer, "output_size")
    if not isinstance(size, (tuple, list)):
        size = (size, size)
    if len(size) != 2:
        raise ValueError(f"output_size of layer '{layer['name']}' must be an int or an (h, w) pair, got {size!r}")
    out_hw = tuple(
        s if o is None else check_int(o, f"output_size of layer '{layer['name']}'", 1) for s, o in zip(shape[1:], size)
    )
    return (shape[0],) + out_hw, 0, 0, 0


def _spec_linear(layer, shape, flattened_from):
    """(in_features,) -> (out_features,); weight (out_features, in_features)."""
    name = layer["name"]
    if len(shape) != 1:
        raise ValueError(
            f"layer '{name}' (linear) needs a flat input but receives "
            f"{_shape_text(shape)}; put a {{'type': 'flatten'}} layer before it"
        )
    n_in = shape[0]
    declared = layer.get("in_features")
    if declared is not None and declared != n_in:
        origin = f" ({_shape_text(flattened_from)})" if flattened_from else ""
        raise ValueError(f"layer '{name}' expects {declared} inputs but receives {n_in}{origin}")
    n_out = check_int(_required(layer, "out_features"), f"out_features of layer '{name}'", 1)
    biases = n_out if layer.get("bias", True) else 0
    return (n_out,), n_in * n_out, biases, n_in * n_out  # MACs: in * out


def _spec_batchnorm(layer, shape):
    """Shape unchanged; a scale (weight) and a shift (bias) per channel if affine."""
    channels = shape[0]
    declared = layer.get("num_features")
    if declared is not None and declared != channels:
        raise ValueError(
            f"layer '{layer['name']}' expects {declared} channels but receives {channels} (input {_shape_text(shape)})"
        )
    n = channels if layer.get("affine", True) else 0
    return shape, n, n, 0


def _spec_rows(spec, input_shape):
    rows = []
    seen = set()
    shape = tuple(input_shape)
    flattened_from = None  # the (C, H, W) a flat vector came from, for error messages
    for position, entry in enumerate(spec, start=1):
        layer = _layer_dict(entry, position)
        kind, name = layer["type"], layer["name"]
        if name in seen:
            raise ValueError(f"layer name '{name}' is used twice; names must be unique")
        seen.add(name)
        if kind == "conv":
            out, weights, biases, macs = _spec_conv(layer, shape)
        elif kind in ("maxpool", "avgpool"):
            out, weights, biases, macs = _spec_pool(layer, shape)
        elif kind in ("adaptive_avgpool", "adaptive_maxpool"):
            out, weights, biases, macs = _spec_adaptive_pool(layer, shape)
        elif kind == "flatten":
            out, weights, biases, macs = (math.prod(shape),), 0, 0, 0
        elif kind == "linear":
            out, weights, biases, macs = _spec_linear(layer, shape, flattened_from)
        elif kind == "batchnorm":
            out, weights, biases, macs = _spec_batchnorm(layer, shape)
        else:  # activations, dropout, LRN: same shape, nothing to learn
            out, weights, biases, macs = shape, 0, 0, 0
        if kind == "flatten":
            flattened_from = shape if len(shape) > 1 else flattened_from
        rows.append(_make_row(name, kind, shape, out, weights, biases, macs))
        shape = out
    return rows


# ---------------------------------------------------------------------------
# torch modules: forward hooks on the leaves
# ---------------------------------------------------------------------------

_TORCH_KINDS = {
    "Conv1d": "conv",
    "Conv2d": "conv",
    "Conv3d": "conv",
    "ConvTranspose1d": "conv_transpose",
    "ConvTranspose2d": "conv_transpose",
    "ConvTranspose3d": "conv_transpose",
    "Linear": "linear",
    "MaxPool1d": "maxpool",
    "MaxPool2d": "maxpool",
    "MaxPool3d": "maxpool",
    "AvgPool1d": "avgpool",
    "AvgPool2d": "avgpool",
    "AvgPool3d": "avgpool",
    "AdaptiveAvgPool1d": "adaptive_avgpool",
    "AdaptiveAvgPool2d": "adaptive_avgpool",
    "AdaptiveMaxPool1d": "adaptive_maxpool",
    "AdaptiveMaxPool2d": "adaptive_maxpool",
    "Flatten": "flatten",
    "BatchNorm1d": "batchnorm",
    "BatchNorm2d": "batchnorm",
    "BatchNorm3d": "batchnorm",
    "LocalResponseNorm": "lrn",
    "ReLU": "relu",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "LeakyReLU": "leaky_relu",
    "Softmax": "softmax",
    "Identity": "identity",
    "Dropout": "dropout",
    "Dropout1d": "dropout",
    "Dropout2d": "dropout",
    "Dropout3d": "dropout",
}


def _first_tensor_shape(value, torch):
    """The shape of the first tensor in a module's input or output, batch dimension dropped."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape[1:])
    if isinstance(value, (tuple, list)):
        for item in value:
            shape = _first_tensor_shape(item, torch)
            if shape is not None:
                return shape
    return None


def _torch_macs(module, input_shape, output_shape, nn):
    """Multiply-accumulates of one call of a conv or linear module, per sample."""
    if output_shape is None:
        return 0
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # every output number: C_in/groups * KH * KW products
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return math.prod(output_shape) * per_output
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        # every input number is scattered into C_out/groups * KH * KW outputs
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return math.prod(input_shape) * per_input if input_shape is not None else 0
    if isinstance(module, nn.Linear):
        return math.prod(output_shape) * module.in_features  # in * out (per leading position)
    return 0


def _torch_rows(model, input_shape, batch):
    import torch
    from torch import nn

    rows = []
    counted = set()  # modules whose parameters are already in a row (shared modules)
    calls = {}
    current = {"layer": None, "last": None, "input": None}

    def pre_hook(name):
        def hook(module, inputs):
            current["layer"], current["input"] = name, _first_tensor_shape(inputs, torch)

        return hook

    def post_hook(name):
        def hook(module, inputs, output):
            calls[name] = calls.get(name, 0) + 1
            row_name = name if calls[name] == 1 else f"{name} (call {calls[name]})"
            weights = biases = 0
            if id(module) not in counted:
                counted.add(id(module))
                for pname, p in module.named_parameters(recurse=False):
                    if "bias" in pname:
                        biases += p.numel()
                    else:
                        weights += p.numel()
            in_shape = _first_tensor_shape(inputs, torch)
            out_shape = _first_tensor_shape(output, torch)
            kind = _TORCH_KINDS.get(type(module).__name__, type(module).__name__)
            macs = _torch_macs(module, in_shape, out_shape, nn)
            rows.append(_make_row(row_name, kind, in_shape, out_shape, weights, biases, macs))
            current["layer"], current["last"] = None, name

        return hook

    leaves = [(name or type(m).__name__, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    tensors = list(model.parameters()) + list(model.buffers())
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)
    x = torch.zeros((batch,) + tuple(input_shape), device=device, dtype=dtype)

    training = {m: m.training for m in model.modules()}
    handles = []
    try:
        for name, m in leaves:
            handles.append(m.register_forward_pre_hook(pre_hook(name)))
            handles.append(m.register_forward_hook(post_hook(name)))
        model.eval()
        with torch.no_grad():
            model(x)
    except Exception as error:
        if current["layer"] is not None:
            where = f"layer '{current['layer']}' failed on input of shape {_shape_text(current['input'])}"
        elif current["last"] is not None:
            where = f"the forward pass failed after layer '{current['last']}'"
        else:
            where = "the forward pass failed before the first layer"
        raise ValueError(f"{where} (model input {_shape_text(input_shape)}): {error}") from error
    finally:
        for h in handles:
            h.remove()
        for m, flag in training.items():
            m.training = flag
    return rows
