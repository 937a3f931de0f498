"""Checks for notebook 07: AlexNet counted layer by layer.

The student writes three small counting functions and fills in a table::

    conv_params(c_in, c_out, kernel_size, groups=1, bias=True)   -> int
    linear_params(in_features, out_features, bias=True)          -> int
    conv_macs(c_in, c_out, kernel_size, output_size, groups=1)   -> int

    alexnet_table = [
        # layer    output (C, H, W)   weights  biases
        ("conv1", (96, 55, 55),      34_848,  96),
        ...
    ]

Every expected number comes from :func:`cnnlab.summary.layer_table` on the
layer spec of :func:`cnnlab.models.alexnet_spec`, i.e. from the same
arithmetic the course's summary uses. When an answer is wrong, the check says
which layer and which column, expected and received, and names the mistake
when the received number is what a known mistake produces: a forgotten bias,
forgotten input channels, ``groups`` ignored, 224 used instead of 227,
padding or stride forgotten, a fully connected layer fed from the wrong
flattened size, parameters given to pooling or LRN, in/out features swapped.
"""

import math
import numbers

import numpy as np

from cnnlab import models
from cnnlab._validation import as_pair
from cnnlab.grading.engine import Case, CheckFailure, CheckResult, run_check, same_int
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.guard import ReferenceGuard
from cnnlab.summary import layer_table

#: input size (C, H, W) of each AlexNet variant
INPUT_SHAPES = {
    "original": (3, 227, 227),
    "original-ungrouped": (3, 227, 227),
    "torchvision": (3, 224, 224),
}

#: layer kinds that must have a row in the student's table (ReLU, dropout and
#: flatten rows are optional: they change nothing that the table records)
TABLE_KINDS = ("conv", "lrn", "maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool", "linear")

COLUMNS = ("output_shape", "weights", "biases", "macs")

#: modules whose functions would do the counting for the student
COUNTING_MODULES = ("cnnlab.summary", "cnnlab.models")

TABLE_FORMAT = ("each row is (layer, output_shape, weights, biases), e.g. "
                "('conv1', (96, 55, 55), 34_848, 96), or a dict with the keys "
                "'layer', 'output_shape', 'weights' and 'biases'")


# --------------------------------------------------------------------------
# References: the formulas, written out
# --------------------------------------------------------------------------


def reference_conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    """C_out * (C_in / groups) * KH * KW weights, plus C_out biases."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    return c_out * (c_in // groups) * kh * kw + (c_out if bias else 0)


def reference_linear_params(in_features, out_features, bias=True):
    """in * out weights, plus one bias per output."""
    return in_features * out_features + (out_features if bias else 0)


def reference_conv_macs(c_in, c_out, kernel_size, output_size, groups=1):
    """H_out * W_out * C_out * (C_in / groups) * KH * KW multiply-accumulates (biases excluded)."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    oh, ow = as_pair(output_size, "output_size")
    return oh * ow * c_out * (c_in // groups) * kh * kw


def reference_alexnet_table(variant="original"):
    """The rows the student's table must have: ``[(layer, output_shape, weights, biases)]``."""
    return [(r.name, r.output_shape, r.weights, r.biases)
            for r in _reference_rows(variant) if r.kind in TABLE_KINDS]


def _check_variant(variant):
    if variant not in INPUT_SHAPES:
        raise ValueError(f"variant must be one of {', '.join(map(repr, INPUT_SHAPES))}, got {variant!r}")
    return variant


# The references are computed once, when this module is imported (before any student code
# runs), so that an answer cell that reassigns cnnlab.summary or cnnlab.models cannot move them.
_SPECS = {v: tuple(models.alexnet_spec(v)) for v in INPUT_SHAPES}
_ROWS = {v: tuple(layer_table(list(_SPECS[v]), INPUT_SHAPES[v])) for v in INPUT_SHAPES}


def _reference_rows(variant):
    return list(_ROWS[_check_variant(variant)])


# --------------------------------------------------------------------------
# Calling the student's function and comparing whole numbers
# --------------------------------------------------------------------------

class CountingGuard(ReferenceGuard):
    """The reference guard, also refusing the course's own layer tables and models."""

    def _forbidden(self, module, name):
        if any(module == m or module.startswith(m + ".") for m in COUNTING_MODULES):
            return True
        return super()._forbidden(module, name)


def _number(value):
    """An int or float from a plain or NumPy number; None for anything else."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def as_count(value, what):
    """The student's answer as an int: whole numbers only (34944.0 is accepted)."""
    if value is None:
        raise CheckFailure(f"{what} is None. Did you forget the `return` statement "
                             "(or to fill in the value)?")
    number = _number(value)
    if number is None:
        raise CheckFailure(f"{what} must return an int (a count), got {value!r} "
                             f"({type(value).__name__})")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise CheckFailure(f"{what} must be a whole number (a count), got {value!r}. "
                                 "Use // for integer division, e.g. c_in // groups.")
        number = int(number)
    return number


def _group_of(args):
    """The part of a counting exercise a case tests (for partial credit)."""
    if args.get("groups", 1) > 1:
        return "groups"
    if not args.get("bias", True):
        return "bias=False"
    if any(not np.isscalar(args.get(key, 1)) for key in ("kernel_size", "output_size")):
        return "pairs (KH, KW)"
    return "basic"


def _run_count_cases(name, fn, cases, reference, suspects, hidden, still_checked=()):
    """The engine on counting functions: an exact int, the course's summary and models refused."""
    __tracebackhide__ = True
    return run_check(name, fn, [Case(_group_of(args), **args) for args in cases], reference, same_int,
                     lambda args, expected: suspects(args), hidden=hidden, guard=CountingGuard(),
                     advice="count with the formula yourself (plain arithmetic)", still_checked=still_checked)


# --------------------------------------------------------------------------
# conv_params, linear_params, conv_macs
# --------------------------------------------------------------------------

def conv_param_mistakes(c_in, c_out, kernel_size, groups=1, bias=True):
    """Known wrong parameter counts of a conv layer (weights + biases)."""
    kh, kw = as_pair(kernel_size, "kernel_size")
    g = groups
    per_filter = (c_in // g) * kh * kw
    weights = c_out * per_filter
    b = c_out if bias else 0
    found = []
    if bias:
        found.append(Suspect("forgot the bias", f"every filter has one bias: add C_out = {c_out} biases",
                             weights))
    else:
        found.append(Suspect("counted the bias", "bias=False means the layer has no biases: "
                             "count the weights only", weights + c_out))
    found += [
        Suspect("forgot the input channels",
                f"a filter spans all its input channels, C_in/groups = {c_in // g}: "
                "C_out x (C_in/groups) x KH x KW weights, not C_out x KH x KW",
                c_out * kh * kw + b),
        Suspect("counted one filter only", f"there are C_out = {c_out} filters, each with its own "
                "weights (and bias): multiply by C_out", per_filter + (1 if bias else 0)),
        Suspect("one bias per input channel", f"biases belong to filters: one per output channel, "
                f"C_out = {c_out}, not C_in = {c_in}", weights + (c_in if bias else 0)),
        Suspect("kernel size not squared", f"a {kh}x{kw} kernel has {kh}*{kw} = {kh * kw} weights "
                "per input channel", c_out * (c_in // g) * kh + b),
    ]
    if kh != kw:
        found += [Suspect("one kernel side used twice", f"the kernel is {kh}x{kw}: KH x KW = "
                          f"{kh * kw} weights per channel", c_out * (c_in // g) * s * s + b)
                  for s in (kh, kw)]
    if g > 1:
        found += [
            Suspect("groups ignored",
                    f"with groups={g} each filter sees only C_in/groups = {c_in}/{g} = {c_in // g} "
                    f"input channels, not all {c_in}", c_out * c_in * kh * kw + b),
            Suspect("divided by groups twice",
                    f"groups splits the input channels among the filters, but there are still "
                    f"C_out = {c_out} filters: C_out x (C_in/groups) x KH x KW (you counted one group)",
                    (c_out // g) * (c_in // g) * kh * kw + b),
            Suspect("divided by groups twice",
                    f"groups splits the input channels among the filters, but there are still "
                    f"C_out = {c_out} filters: C_out x (C_in/groups) x KH x KW (you counted one group)",
                    (c_out // g) * (c_in // g) * kh * kw + b // g),
            Suspect("biases divided by groups",
                    f"every one of the C_out = {c_out} filters keeps its own bias, grouped or not",
                    weights + b // g),
        ]
    return found


def check_conv_params(fn, hidden=False):
    """``conv_params(c_in, c_out, kernel_size, groups=1, bias=True)`` -> int."""
    cases = [
        dict(c_in=3, c_out=96, kernel_size=11, groups=1, bias=True),      # AlexNet conv1: 34,944
        dict(c_in=96, c_out=256, kernel_size=5, groups=2, bias=True),     # conv2 (two GPUs): 307,456
        dict(c_in=256, c_out=384, kernel_size=3, groups=1, bias=True),    # conv3: 885,120
        dict(c_in=3, c_out=2, kernel_size=3, groups=1, bias=False),       # 54 weights, no biases
        dict(c_in=3, c_out=10, kernel_size=(3, 5), groups=1, bias=True),  # KH != KW: 460
    ]
    if hidden:
        rng = np.random.default_rng()
        cases += [
            dict(c_in=384, c_out=384, kernel_size=3, groups=2, bias=True),   # conv4: 663,936
            dict(c_in=384, c_out=256, kernel_size=3, groups=2, bias=True),   # conv5: 442,624
            dict(c_in=32, c_out=32, kernel_size=3, groups=32, bias=True),    # depthwise: 320
            dict(c_in=256, c_out=64, kernel_size=1, groups=1, bias=True),    # 1x1: 16,448
            dict(c_in=64, c_out=128, kernel_size=(1, 7), groups=1, bias=False),
            dict(c_in=12, c_out=8, kernel_size=(2, 4), groups=4, bias=False),
        ]
        for _ in range(4):
            g = int(rng.choice([1, 2, 3]))
            cases.append(dict(c_in=g * int(rng.integers(1, 9)), c_out=g * int(rng.integers(1, 9)),
                              kernel_size=(int(rng.integers(1, 8)), int(rng.integers(1, 8))),
                              groups=g, bias=bool(rng.integers(0, 2))))
    return _run_count_cases("conv_params", fn, cases, reference_conv_params,
                            lambda a: conv_param_mistakes(**a), hidden,
                            ("AlexNet conv4 and conv5", "depthwise (groups = C_in)", "1x1 and (1, 7) kernels",
                             "random sizes with groups 1-3"))


def _linear_param_suspects(in_features, out_features, bias=True):
    n_in, n_out = in_features, out_features
    found = []
    if bias:
        found += [
            Suspect("forgot the bias", f"a fully connected layer has one bias per output: "
                    f"add out_features = {n_out:,}", n_in * n_out),
            Suspect("swapped in/out features", f"there is one bias per OUTPUT feature "
                    f"(out_features = {n_out:,}), not per input ({n_in:,})", n_in * n_out + n_in),
            Suspect("a bias per input and per output", f"only the {n_out:,} outputs have biases",
                    n_in * n_out + n_in + n_out),
            Suspect("added instead of multiplied", "every input is connected to every output: "
                    "in_features x out_features weights", n_in + n_out + n_out),
        ]
    else:
        found += [
            Suspect("counted the bias", "bias=False means no biases: in_features x out_features",
                    n_in * n_out + n_out),
            Suspect("added instead of multiplied", "every input is connected to every output: "
                    "in_features x out_features weights", n_in + n_out),
        ]
    return found


def check_linear_params(fn, hidden=False):
    """``linear_params(in_features, out_features, bias=True)`` -> int."""
    cases = [
        dict(in_features=9216, out_features=4096, bias=True),   # fc6: 37,752,832
        dict(in_features=4096, out_features=1000, bias=True),   # fc8: 4,097,000
        dict(in_features=3, out_features=2, bias=True),          # 8
        dict(in_features=4096, out_features=4096, bias=False),  # 16,777,216
    ]
    if hidden:
        rng = np.random.default_rng()
        cases += [
            dict(in_features=25088, out_features=4096, bias=True),  # VGG-16 fc6
            dict(in_features=1, out_features=1, bias=True),
            dict(in_features=120, out_features=84, bias=True),      # LeNet-5 F6
            dict(in_features=7, out_features=5, bias=False),
        ]
        for _ in range(4):
            n_in, n_out = (int(v) for v in rng.choice(np.arange(2, 500), size=2, replace=False))
            cases.append(dict(in_features=n_in, out_features=n_out, bias=bool(rng.integers(0, 2))))
    return _run_count_cases("linear_params", fn, cases, reference_linear_params,
                            lambda a: _linear_param_suspects(**a), hidden,
                            ("VGG-16 fc6", "1 -> 1", "random sizes with and without bias"))


def _conv_mac_suspects(c_in, c_out, kernel_size, output_size, groups=1):
    kh, kw = as_pair(kernel_size, "kernel_size")
    oh, ow = as_pair(output_size, "output_size")
    g = groups
    macs = oh * ow * c_out * (c_in // g) * kh * kw
    found = [
        Suspect("counted the bias", "MACs count multiply-accumulates only; adding the bias is not "
                "a multiplication (leave out H_out x W_out x C_out)", macs + oh * ow * c_out),
        Suspect("forgot the output positions", "that is the number of weights; each weight is used "
                f"once per output position: multiply by H_out x W_out = {oh * ow:,}",
                c_out * (c_in // g) * kh * kw),
        Suspect("forgot the input channels", f"each output value is a dot product over "
                f"C_in/groups x KH x KW = {(c_in // g) * kh * kw} inputs", oh * ow * c_out * kh * kw),
        Suspect("forgot the output channels", f"every one of the C_out = {c_out} output channels "
                "has its own dot products", oh * ow * (c_in // g) * kh * kw),
        Suspect("kernel size not squared", f"a {kh}x{kw} kernel has {kh * kw} taps per channel",
                oh * ow * c_out * (c_in // g) * kh),
    ]
    if oh != ow:
        found += [Suspect("one output side used twice", f"the output is {oh}x{ow}: "
                          f"{oh * ow} positions", s * s * c_out * (c_in // g) * kh * kw) for s in (oh, ow)]
    else:
        found.append(Suspect("output size not squared", f"a {oh}x{ow} output has {oh * ow} positions",
                             oh * c_out * (c_in // g) * kh * kw))
    if g > 1:
        found += [
            Suspect("groups ignored", f"with groups={g} each output value sums over "
                    f"C_in/groups = {c_in // g} channels only", oh * ow * c_out * c_in * kh * kw),
            Suspect("divided by groups twice", f"all C_out = {c_out} output channels are computed; "
                    "only the input channels per filter are divided by groups",
                    oh * ow * (c_out // g) * (c_in // g) * kh * kw),
        ]
    return found


def check_conv_macs(fn, hidden=False):
    """``conv_macs(c_in, c_out, kernel_size, output_size, groups=1)`` -> int (biases excluded)."""
    cases = [
        dict(c_in=3, c_out=96, kernel_size=11, output_size=55, groups=1),    # conv1: 105,415,200
        dict(c_in=96, c_out=256, kernel_size=5, output_size=27, groups=2),   # conv2: 223,948,800
        dict(c_in=3, c_out=2, kernel_size=3, output_size=(3, 4), groups=1),  # 648
    ]
    if hidden:
        rng = np.random.default_rng()
        cases += [
            dict(c_in=256, c_out=384, kernel_size=3, output_size=13, groups=1),  # conv3
            dict(c_in=384, c_out=256, kernel_size=3, output_size=13, groups=2),  # conv5
            dict(c_in=3, c_out=64, kernel_size=3, output_size=224, groups=1),    # VGG-16 conv1_1
            dict(c_in=1, c_out=1, kernel_size=1, output_size=1, groups=1),
            dict(c_in=8, c_out=8, kernel_size=(1, 3), output_size=(5, 2), groups=8),
        ]
        for _ in range(4):
            g = int(rng.choice([1, 2, 4]))
            cases.append(dict(c_in=g * int(rng.integers(1, 6)), c_out=g * int(rng.integers(1, 6)),
                              kernel_size=(int(rng.integers(1, 6)), int(rng.integers(1, 6))),
                              output_size=(int(rng.integers(1, 20)), int(rng.integers(1, 20))),
                              groups=g))
    return _run_count_cases("conv_macs", fn, cases, reference_conv_macs,
                            lambda a: _conv_mac_suspects(**a), hidden,
                            ("conv3 and conv5", "VGG-16 conv1_1", "rectangular outputs with groups",
                             "random sizes"))


# --------------------------------------------------------------------------
# Knowledge checks (lecture: "How many parameters does each filter have?",
# "How many filters are in the bank?"): RGB input, 3x3 filters, 96 output maps
# --------------------------------------------------------------------------

FILTER_WEIGHT_OPTIONS = {"a": 9, "b": 27, "c": 96, "d": 864}
FILTER_COUNT_OPTIONS = {"a": 3, "b": 27, "c": 96, "d": "can't say"}


def _option(answer, options, what):
    """A letter ('b') is replaced by the value of that option."""
    if isinstance(answer, str):
        key = answer.strip().lower().strip("()")
        if key in options:
            return options[key]
        if "can" in key and "say" in key:
            return "can't say"
        raise CheckFailure(f"{what}: answer with a number or one of the letters "
                             f"{', '.join(options)}, got {answer!r}")
    return answer


def _knowledge(answer, expected, options, what, hints):
    value = _option(answer, options, what)
    if value == "can't say":
        got = value
    else:
        got = as_count(value, what)
    if got == expected:
        return CheckResult(what, 1, False)
    message = f"{what} is wrong: got {got!r}."
    if got in hints:
        message += " " + hints[got]
    raise CheckFailure(message)


def check_filter_weights(answer):
    """Weights in ONE filter of a layer with 3x3 filters on an RGB image (96 output maps): 27."""
    return _knowledge(answer, 27, FILTER_WEIGHT_OPTIONS, "params_per_filter", {
        9: "Likely mistake: forgot the input channels: a filter spans the whole depth of its input. "
           "An RGB input has 3 channels, so one 3x3 filter is really 3x3x3.",
        28: "That counts the bias too (27 weights + 1 bias). The question's options count the "
            "weights of the filter itself: pick the number without the bias.",
        96: "96 is the number of filters (the depth of the OUTPUT volume), not the size of one filter.",
        864: "Likely mistake: 3 x 3 x 96 uses the output depth as the filter's depth. A filter's depth "
             "equals the INPUT depth (3 for RGB).",
        2592: "That is the whole layer (96 filters of 3x3x3); the question asks about one filter.",
    })


def check_filter_count(answer):
    """Filters in the bank of that layer: one per output map, 96."""
    return _knowledge(answer, 96, FILTER_COUNT_OPTIONS, "number_of_filters", {
        3: "3 is the INPUT depth: every filter spans those 3 channels, but that does not say how many "
           "filters there are. Each filter produces one output map: count the output maps.",
        27: "27 is the number of weights in one 3x3x3 filter, not the number of filters.",
        "can't say": "You can: each filter produces exactly one output map (activation map), so the "
                     "number of filters equals the depth of the output volume.",
    })


# --------------------------------------------------------------------------
# The AlexNet table
# --------------------------------------------------------------------------

def _shape_text(shape):
    return "x".join(_fmt(s) for s in shape)


def _fmt(value):
    """Counts with thousands separators (34,848); shapes as written in Python, (96, 55, 55)."""
    if isinstance(value, tuple):
        parts = [f"{v:g}" if isinstance(v, float) and not v.is_integer() else str(int(v)) for v in value]
        return "(" + ", ".join(parts) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    if isinstance(value, (int, float)):
        return f"{int(value):,}"
    return repr(value)


def _student_shape(value, name):
    """An output shape as a tuple of numbers: (C, H, W), (n,) or a bare n."""
    if _number(value) is not None:
        return (_number(value),)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)) and value and all(_number(v) is not None for v in value):
        return tuple(_number(v) for v in value)
    raise CheckFailure(f"alexnet_table: the output shape of row '{name}' must be a tuple of "
                         f"numbers such as (96, 55, 55), or one number for a fully connected layer, "
                         f"got {value!r}")


def _parse_rows(table):
    """[(name, {column: value})] from the student's rows (tuples or dicts)."""
    if isinstance(table, dict) or not isinstance(table, (list, tuple)):
        raise CheckFailure(f"alexnet_table must be a list of rows, got {type(table).__name__}; "
                             + TABLE_FORMAT)
    if not table:
        raise CheckFailure("alexnet_table is empty; " + TABLE_FORMAT)
    parsed = []
    for i, row in enumerate(table):
        if isinstance(row, dict):
            name = row.get("layer", row.get("name"))
            cells = {"output_shape": row.get("output_shape", row.get("output", row.get("shape"))),
                     "weights": row.get("weights"), "biases": row.get("biases")}
            if "macs" in row:
                cells["macs"] = row["macs"]
        elif isinstance(row, (tuple, list)) and len(row) in (4, 5):
            name = row[0]
            cells = dict(zip(COLUMNS, row[1:]))
        else:
            raise CheckFailure(f"alexnet_table: row {i} is {row!r}; " + TABLE_FORMAT)
        if not isinstance(name, str):
            raise CheckFailure(f"alexnet_table: row {i} must start with the layer's name "
                                 f"(a string such as 'conv1'), got {name!r}")
        name = str.strip(name)  # a plain str, whatever subclass came in
        for column, value in cells.items():
            if value is None:
                raise CheckFailure(f"alexnet_table: row '{name}' has no {column} value; " + TABLE_FORMAT)
        cells["output_shape"] = _student_shape(cells["output_shape"], name)
        for column in ("weights", "biases", "macs"):
            if column in cells:
                number = _number(cells[column])
                if number is None:
                    raise CheckFailure(f"alexnet_table: the {column} of row '{name}' must be a "
                                         f"number, got {cells[column]!r}")
                cells[column] = number
        parsed.append((name, cells))
    return parsed


def _strip_declared(layer):
    """A spec entry without its declared input sizes, so it can be run on any input."""
    return {k: v for k, v in layer.items() if k not in ("in_features", "in_channels")}


def _run_layers(layers, input_shape):
    """The last row of ``layer_table(layers, input_shape)``, or None if the shapes do not fit."""
    layers = [_strip_declared(layer) for layer in layers]
    if layers and layers[0]["type"] in ("linear", "fc") and len(input_shape) != 1:
        layers = [{"type": "flatten", "name": "_flatten"}] + layers
    try:
        if any(not isinstance(s, int) or s < 1 for s in input_shape):
            return None
        return list(layer_table(layers, tuple(input_shape)))[-1]
    except (ValueError, TypeError, KeyError):
        return None


def _cell(row, column):
    return tuple(row.output_shape) if column == "output_shape" else getattr(row, column)


def _describe_layer(layer):
    kind = layer["type"]
    if kind == "conv":
        k = layer["kernel_size"]
        text = (f"convolution, {layer['out_channels']} filters of {k}x{k}, stride {layer.get('stride', 1)}, "
                f"padding {layer.get('padding', 0)}")
        if layer.get("groups", 1) > 1:
            text += f", groups={layer['groups']}"
        return text
    if kind == "maxpool":
        return f"max pooling {layer['kernel_size']}x{layer['kernel_size']}, stride {layer.get('stride')}"
    if kind == "linear":
        return f"fully connected, {layer['out_features']:,} outputs"
    if kind == "lrn":
        return f"local response normalisation across {layer.get('size', 5)} channels"
    if kind == "adaptive_avgpool":
        return f"adaptive average pooling to {layer['output_size']}x{layer['output_size']}"
    return kind


class _Layer:
    """One layer of the reference: its spec entry, its row, and the rows around it."""

    def __init__(self, index, spec, row, variant):
        self.index = index
        self.spec = spec
        self.row = row
        self.variant = variant

    @property
    def name(self):
        return self.row.name

    @property
    def layer(self):
        return self.spec[self.index]


def _suspects(L, column, in_shape, flattened_from):
    """Known mistakes for one cell of layer L, given the layer's input shape."""
    layer, kind, name = L.layer, L.layer["type"], L.name
    found = []

    def run(changed=None, shape=None):
        row = _run_layers([dict(layer, **(changed or {}))], shape or in_shape)
        return None if row is None else _cell(row, column)

    def add(what, hint, value):
        if value is not None:
            found.append(Suspect(what, hint, value))

    if kind == "conv":
        c_in = in_shape[0]
        c_out, k = layer["out_channels"], layer["kernel_size"]
        s, p, g = layer.get("stride", 1), layer.get("padding", 0), layer.get("groups", 1)
        if column == "output_shape":
            _, h_in, w_in = in_shape
            if p:
                add("forgot the padding", f"{name} pads {p} pixel(s) on every side: "
                    f"floor(({h_in} + 2*{p} - {k})/{s}) + 1 = {L.row.output_shape[1]}", run({"padding": 0}))
            if s > 1:
                add("stride ignored", f"{name} moves its filters {s} pixels at a time: "
                    f"floor(({h_in} + 2*{p} - {k})/{s}) + 1 = {L.row.output_shape[1]}", run({"stride": 1}))
            if name == "conv1" and h_in == 227:
                add("used 224 instead of 227", "(224 - 11)/4 + 1 = 54.25 is not even a whole number; "
                    "the paper's 224x224 input does not give its own 55x55 output. The original "
                    "AlexNet needs 227x227x3 (torchvision's variant pads 224 by 2 instead)",
                    run(shape=(3, 224, 224)))
            add("forgot the +1", "the output size is floor((H + 2P - K)/S) + 1",
                tuple(L.row.output_shape[:1]) + tuple(v - 1 for v in L.row.output_shape[1:]))
        elif column == "weights":
            for suspect in conv_param_mistakes(c_in, c_out, k, g, bias=False):
                if suspect.name != "counted the bias":
                    found.append(suspect)
            add("weights include the biases", "the weights column counts weights only; the "
                f"{c_out} biases have their own column", L.row.weights + c_out)
            if g == 1 and c_in % 2 == 0 and c_out % 2 == 0:
                why = ("conv3 takes input from both GPUs, all 256 channels of pool2"
                       if L.variant == "original" and name == "conv3" else
                       f"{name} has groups=1 in this network")
                add("groups where there are none", f"{why}: C_out x C_in x KH x KW",
                    c_out * (c_in // 2) * k * k)
        elif column == "biases":
            add("forgot the bias", f"every filter has one bias: {c_out} biases", 0)
            add("one bias per input channel", f"biases belong to filters: one per output channel, "
                f"{c_out}, not one per input channel", c_in)
            if g > 1:
                add("biases divided by groups", f"all {c_out} filters keep their own bias, "
                    "grouped or not", c_out // g)
        elif column == "macs":
            out_hw = L.row.output_shape[1:]
            for suspect in _conv_mac_suspects(c_in, c_out, k, out_hw, g):
                found.append(suspect)
    elif kind == "linear":
        n_in = in_shape[0] if len(in_shape) == 1 else math.prod(in_shape)
        n_out = layer["out_features"]
        if column == "output_shape":
            add("swapped in/out features", f"{name} maps {n_in:,} inputs to out_features = "
                f"{n_out:,} outputs", (n_in,))
            add("not a flat vector", f"a fully connected layer outputs a vector: write {n_out} "
                f"(or ({n_out},))", (n_out, 1, 1))
        elif column == "weights":
            add("weights include the biases", "the weights column counts weights only; the "
                f"{n_out:,} biases have their own column", n_in * n_out + n_out)
            for implied, hint in (
                (256 * 5 * 5, "that is 256x5x5 = 6,400, what a 224x224 input gives after pool5; the "
                              "original AlexNet's 227x227 input gives 256x6x6 = 9,216"),
                (256 * 13 * 13, "that is 256x13x13, the size before pool5: pool5 shrinks 13x13 to 6x6"),
                (256 * 27 * 27, "that is 256x27x27, the size before pool2"),
                (4096, "fc6 takes the flattened pool5 output, not 4,096 inputs"),
                (256, "a fully connected layer sees every value of the flattened volume, "
                      "C x H x W, not just the C channels"),
            ):
                if implied != n_in and name == "fc6":
                    add("FC in_features from the wrong flattened size",
                        f"your count implies {implied:,} inputs; {hint}", implied * n_out)
            source = (f"the flattened {_shape_text(flattened_from)} volume, "
                      f"{' x '.join(map(str, flattened_from))} = {n_in:,} inputs"
                      if flattened_from else f"{n_in:,} inputs")
            add("FC in_features from the wrong flattened size",
                f"your count is a multiple of out_features = {n_out:,}, but not of the right "
                f"number of inputs: {name} receives {source}",
                lambda got: got % n_out == 0 and got // n_out not in (n_in, n_in + 1))
        elif column == "biases":
            add("forgot the bias", f"a fully connected layer has one bias per output: {n_out:,}", 0)
            add("swapped in/out features", f"one bias per OUTPUT feature ({n_out:,}), not per "
                f"input ({n_in:,})", n_in)
        elif column == "macs":
            add("counted the bias", "biases are additions, not multiply-accumulates: in x out",
                n_in * n_out + n_out)
    else:
        what = {"lrn": "LRN", "maxpool": "max pooling", "avgpool": "average pooling",
                "adaptive_avgpool": "adaptive pooling"}.get(kind, kind)
        if column in ("weights", "biases", "macs"):
            add(f"counted {what} as having parameters" if column != "macs" else f"counted MACs for {what}",
                f"{what} learns nothing: " + (
                    "it takes the maximum of each window" if kind == "maxpool" else
                    "its k, n, alpha and beta are fixed hyperparameters, not learned" if kind == "lrn" else
                    "it has no weights or biases") + " (0 parameters)"
                if column != "macs" else f"MACs count convolutions and fully connected layers only; "
                f"{what} counts 0", lambda got: got != 0)
        elif column == "output_shape" and kind == "maxpool":
            k, s = layer["kernel_size"], layer.get("stride", layer["kernel_size"])
            h_in = in_shape[1]
            add("stride ignored", f"{name} moves its {k}x{k} window {s} pixels at a time: "
                f"floor(({h_in} - {k})/{s}) + 1 = {L.row.output_shape[1]}", run({"stride": 1}))
            add("non-overlapping pooling", f"AlexNet's pooling overlaps: {k}x{k} windows with stride "
                f"{s} (stride < window size)", run({"stride": k}))
            add("pooling did not shrink the map", f"a {k}x{k} window with stride {s} gives "
                f"floor(({h_in} - {k})/{s}) + 1 = {L.row.output_shape[1]}", tuple(in_shape))
            add("forgot the +1", "the output size is floor((H - K)/S) + 1",
                tuple(L.row.output_shape[:1]) + tuple(v - 1 for v in L.row.output_shape[1:]))
        elif column == "output_shape" and kind == "lrn":
            found.append(Suspect("LRN keeps the shape", "local response normalisation divides "
                                 "each value by a sum over neighbouring channels; its output has the "
                                 "shape of its input", lambda got: True))
    if column == "output_shape":
        want = tuple(L.row.output_shape)
        if len(want) == 3:
            for order in ((1, 2, 0), (2, 1, 0)):
                add("channels last", "write shapes channels first, (C, H, W), as in PyTorch",
                    tuple(want[i] for i in order))
            if kind in ("conv",):
                add("kept the input depth", f"a convolution outputs one channel per filter: "
                    f"{want[0]} filters, so depth {want[0]}", (in_shape[0],) + want[1:])
    return found


def _diagnose(got, want, L, column, in_shape, flattened_from):
    hints, seen = [], set()
    for s in _suspects(L, column, in_shape, flattened_from):
        if s.name not in seen and (s.output(got) if callable(s.output) else s.output == got):
            seen.add(s.name)
            hints.append(f"{s.name}: {s.hint}")
    if any(h.startswith("used 224 instead of 227") for h in hints):
        hints = [h for h in hints if not h.startswith("forgot the +1")]   # 224 explains the size already
    if column == "output_shape" and any(isinstance(v, float) and not v.is_integer() for v in got):
        hints.append("output sizes are whole numbers: floor((H + 2P - K)/S) + 1. A fraction such as "
                     "54.25 = (224 - 11)/4 + 1 means the layer does not fit its input exactly")
    return hints


def _expected_layers(variant):
    rows = _reference_rows(variant)
    spec = [dict(layer) for layer in _SPECS[variant]]
    layers = [_Layer(i, spec, row, variant) for i, row in enumerate(rows)]
    return layers


def check_alexnet_table(table, variant="original", hidden=False):
    """Compare every cell of the student's AlexNet table with ``cnnlab.summary``'s counts.

    table: rows ``(layer, output_shape, weights, biases)`` (optionally a fifth
        column ``macs``) or dicts with those keys, one per convolution, LRN,
        pooling and fully connected layer, in network order (ReLU, dropout and
        flatten rows may be added; they are checked too).
    variant: ``"original"`` (227x227 input, groups=2 on conv2/4/5),
        ``"original-ungrouped"`` or ``"torchvision"`` (224x224).

    Raises an ``AssertionError`` naming the first wrong layer and column, the
    expected and received values and the likely mistake, and listing the
    other wrong cells; returns a :class:`CheckResult` when every cell matches.
    """
    layers = _expected_layers(variant)
    by_name = {L.name: L for L in layers}
    required = [L.name for L in layers if L.row.kind in TABLE_KINDS]
    rows = _parse_rows(table)

    names = [name for name, _ in rows]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        hint = ""
        if any(n.lower() in by_name for n in unknown):
            hint = " Layer names are lower case."
        raise CheckFailure(
            f"alexnet_table: no layer called {', '.join(map(repr, unknown))} in AlexNet ({variant}).{hint} "
            f"The rows are: {', '.join(required)}.")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CheckFailure(f"alexnet_table: row(s) {', '.join(map(repr, twice))} appear more than once.")
    missing = [n for n in required if n not in names]
    if missing:
        raise CheckFailure(
            f"alexnet_table has no row for {', '.join(missing)}. It needs one row per convolution, "
            f"LRN, pooling and fully connected layer, in this order: {', '.join(required)}.")
    positions = [by_name[n].index for n in names]
    if positions != sorted(positions):
        raise CheckFailure(f"alexnet_table: put the rows in network order: {', '.join(required)}.")

    # compare every cell; remember the student's own output shapes for carried-forward errors
    wrong = []
    n_cells = 0
    previous = None  # (layer, student's output shape) of the previous row
    for name, cells in rows:
        L = by_name[name]
        in_shape = tuple(L.row.input_shape)
        flattened_from = _flattened_from(layers, L)
        for column in COLUMNS:
            if column not in cells:
                continue
            n_cells += 1
            got, want = cells[column], _cell(L.row, column)
            if got == want:
                continue
            carried = None
            if previous is not None and tuple(previous[1]) != tuple(previous[0].row.output_shape):
                P = previous[0]
                row = _run_layers(L.spec[P.index + 1:L.index + 1], previous[1])
                if row is not None and _cell(row, column) == got:
                    carried = P.name
            wrong.append((L, column, got, want, in_shape, flattened_from, carried))
        previous = (L, tuple(int(v) if float(v).is_integer() else v for v in cells["output_shape"]))

    if not wrong:
        return CheckResult("alexnet_table", n_cells, hidden)

    L, column, got, want, in_shape, flattened_from, _ = wrong[0]
    lines = [f"alexnet_table: layer '{L.name}', column '{column}' is wrong.",
             f"  {L.name}: {_describe_layer(L.layer)}; its input is {_shape_text(in_shape)}"
             + (f" (flattened from {_shape_text(flattened_from)})." if flattened_from else "."),
             f"  Expected {_fmt(want)}, got {_fmt(got)}."]
    hints = _diagnose(got, want, L, column, in_shape, flattened_from)
    if hints:
        lines.append("Likely mistake: " + "; ".join(hints))
    if len(wrong) > 1:
        # the other wrong cells are named (and diagnosed), but their expected values are not shown
        lines.append(f"{len(wrong) - 1} other cell(s) are wrong too (fix the first one first):")
        for L2, column2, got2, want2, in2, flat2, carried in wrong[1:13]:
            note = ""
            if carried:
                note = f" (consistent with your {carried} output: fix that row first)"
            else:
                found = _diagnose(got2, want2, L2, column2, in2, flat2)
                if found:
                    note = f" ({found[0].split(':')[0]})"
            lines.append(f"  {L2.name} {column2}: got {_fmt(got2)}{note}")
        if len(wrong) > 13:
            lines.append(f"  ... and {len(wrong) - 13} more")
    # partial credit by cell: a cell wrong only because an earlier row was wrong counts as right
    lost = sum(1 for *_, carried in wrong if not carried)
    lines.append(f"{n_cells - len(wrong)} of {n_cells} cells right; the score counts cells that are "
                 "wrong only because an earlier row was wrong as right.")
    raise CheckFailure("\n".join(lines), (n_cells - lost) / n_cells)


def _flattened_from(layers, L):
    """The (C, H, W) volume that a fully connected layer's input was flattened from."""
    if L.row.kind != "linear":
        return None
    for other in layers[:L.index][::-1]:
        if other.row.kind == "flatten":
            return tuple(other.row.input_shape)
    return None
