"""cnnlab.summary.layer_table on torch modules and on layer specs.

Reference totals come from the papers / the arithmetic written out in each test;
the torch path and the spec path are two independent computations (torch's own
forward shapes vs. pure arithmetic) and are checked against each other row by row,
and single layers are checked against the shapes torch actually produces.
"""

import functools
import math
import random
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from torch import nn

from cnnlab import models
from cnnlab.summary import LayerTable, layer_table

MODELS = {
    "original": (lambda: models.alexnet("original"), lambda: models.alexnet_spec("original")),
    "original-ungrouped": (
        lambda: models.alexnet("original-ungrouped"),
        lambda: models.alexnet_spec("original-ungrouped"),
    ),
    "torchvision": (lambda: models.alexnet("torchvision"), lambda: models.alexnet_spec("torchvision")),
    "vgg16": (models.vgg16, models.vgg16_spec),
    "lenet5": (models.lenet5, models.lenet5_spec),
    "lenet5-28": (lambda: models.lenet5(input_size=28), lambda: models.lenet5_spec(input_size=28)),
}


@functools.lru_cache(maxsize=None)
def built(name):
    return MODELS[name][0]()


@functools.lru_cache(maxsize=None)
def torch_table(name, shape):
    return layer_table(built(name), shape)


@functools.lru_cache(maxsize=None)
def spec_table(name, shape):
    return layer_table(MODELS[name][1](), shape)


def conv_macs(h_out, w_out, c_out, c_in, k, groups=1):
    return h_out * w_out * c_out * (c_in // groups) * k * k


# --- reference totals ------------------------------------------------------------------------


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_alexnet_original_totals(table):
    t = table("original", (3, 227, 227))
    assert t.total_params == 60_965_224
    assert t.total_macs == 724_406_816
    # the same MACs, layer by layer from the paper's shapes 55, 27, 13, 13, 13
    by_hand = (
        conv_macs(55, 55, 96, 3, 11)
        + conv_macs(27, 27, 256, 96, 5, 2)
        + conv_macs(13, 13, 384, 256, 3)
        + conv_macs(13, 13, 384, 384, 3, 2)
        + conv_macs(13, 13, 256, 384, 3, 2)
        + 9216 * 4096
        + 4096 * 4096
        + 4096 * 1000
    )
    assert by_hand == 724_406_816


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_alexnet_original_conv1(table):
    conv1 = table("original", (3, 227, 227))["conv1"]
    assert conv1.kind == "conv"
    assert conv1.output_shape == (96, 55, 55)
    assert 96 * 55 * 55 == 290_400
    assert conv1.params == 34_944
    assert (conv1.weights, conv1.biases) == (11 * 11 * 3 * 96, 96)
    assert conv1.macs == 55 * 55 * 96 * 363 == 105_415_200
    assert conv1.activation_bytes == 4 * 290_400


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_alexnet_grouped_vs_ungrouped(table):
    grouped = table("original", (3, 227, 227))
    ungrouped = table("original-ungrouped", (3, 227, 227))
    assert ungrouped.total_params == 62_378_344
    for name in ["conv2", "conv4", "conv5"]:
        # groups=2 halves the weights and MACs, not the biases or the output shape
        assert ungrouped[name].weights == 2 * grouped[name].weights
        assert ungrouped[name].macs == 2 * grouped[name].macs
        assert ungrouped[name].biases == grouped[name].biases
        assert ungrouped[name].output_shape == grouped[name].output_shape
    assert ungrouped["conv3"] == grouped["conv3"]  # conv3 was never grouped
    saved = sum(grouped[n].macs for n in ["conv2", "conv4", "conv5"])
    assert ungrouped.total_macs == grouped.total_macs + saved


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_alexnet_torchvision_totals(table):
    t = table("torchvision", (3, 224, 224))
    assert t.total_params == 61_100_840
    assert t.total_macs == 714_188_480
    assert t["conv1"].output_shape == (64, 55, 55)  # floor((224 + 4 - 11) / 4) + 1 = 55
    assert t["avgpool"].output_shape == (256, 6, 6)
    assert t["fc6"].macs == 9216 * 4096


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_alexnet_torchvision_at_227(table):
    t224 = table("torchvision", (3, 224, 224))
    t227 = table("torchvision", (3, 227, 227))
    assert t227["conv1"].output_shape == (64, 56, 56)  # floor((227 + 4 - 11) / 4) + 1 = 56
    assert t227["pool1"].output_shape == t224["pool1"].output_shape == (64, 27, 27)
    assert t227.total_params == t224.total_params
    assert t227.total_macs - t224.total_macs == (56 * 56 - 55 * 55) * 64 * 363


def test_alexnet_original_at_224_does_not_fit():
    spec = models.alexnet_spec("original")
    head = layer_table(spec[:4], (3, 224, 224))
    assert head["conv1"].output_shape == (96, 54, 54)  # floor((224 - 11) / 4) + 1 = floor(54.25)
    with pytest.raises(ValueError, match=r"layer 'fc6' expects 9216 inputs but receives 6400 \(256x5x5\)"):
        layer_table(spec, (3, 224, 224))
    with pytest.raises(ValueError, match="layer 'fc6'"):
        layer_table(built("original"), (3, 224, 224))


@pytest.mark.parametrize("table", [torch_table, spec_table])
def test_vgg16_totals(table):
    t = table("vgg16", (3, 224, 224))
    assert t.total_params == 138_357_544
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    sizes = [224] * 2 + [112] * 2 + [56] * 3 + [28] * 3 + [14] * 3
    by_hand = sum(conv_macs(s, s, b, a, 3) for s, a, b in zip(sizes, channels, channels[1:]))
    by_hand += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert t.total_macs == by_hand  # about 15.5 G, the published figure
    assert t["pool5"].output_shape == (512, 7, 7)


@pytest.mark.parametrize("name, shape", [("lenet5", (1, 32, 32)), ("lenet5-28", (1, 28, 28))])
def test_lenet5_totals(name, shape):
    for t in (torch_table(name, shape), spec_table(name, shape)):
        assert t.total_params == 61_706
        assert [t[n].output_shape for n in ["c1", "s2", "c3", "s4", "c5", "f6", "output"]] == [
            (6, 28, 28),
            (6, 14, 14),
            (16, 10, 10),
            (16, 5, 5),
            (120, 1, 1),
            (84,),
            (10,),
        ]
        assert t["c3"].params == (6 * 25 + 1) * 16  # full connection, not the paper's table 1
        assert t.total_macs == (
            conv_macs(28, 28, 6, 1, 5) + conv_macs(10, 10, 16, 6, 5) + conv_macs(1, 1, 120, 16, 5) + 120 * 84 + 84 * 10
        )


# --- torch and spec agree; totals equal the module's parameters ------------------------------


@pytest.mark.parametrize(
    "name, shape",
    [
        ("original", (3, 227, 227)),
        ("original-ungrouped", (3, 227, 227)),
        ("torchvision", (3, 224, 224)),
        ("torchvision", (3, 227, 227)),
        ("vgg16", (3, 224, 224)),
        ("lenet5", (1, 32, 32)),
        ("lenet5-28", (1, 28, 28)),
    ],
)
def test_torch_and_spec_agree_row_by_row(name, shape):
    from_torch, from_spec = torch_table(name, shape), spec_table(name, shape)
    assert len(from_torch) == len(from_spec) == len(MODELS[name][1]())
    for a, b in zip(from_torch.to_dicts(), from_spec.to_dicts()):
        assert a == b
    assert from_torch.total_params == sum(p.numel() for p in built(name).parameters())
    assert from_torch.total_activation_bytes == from_spec.total_activation_bytes


def test_batch_dimension_does_not_change_per_sample_counts():
    one = torch_table("lenet5", (1, 32, 32))
    batch = layer_table(built("lenet5"), (5, 1, 32, 32))
    assert batch.to_dicts() == one.to_dicts()
    assert layer_table(models.lenet5_spec(), (5, 1, 32, 32)).to_dicts() == one.to_dicts()


# --- batch norm ------------------------------------------------------------------------------


def test_batchnorm_counts_scale_and_shift_not_running_stats():
    model = models.mnist_cnn()
    t = layer_table(model, (1, 28, 28))
    assert (t["bn1"].weights, t["bn1"].biases, t["bn1"].macs) == (32, 32, 0)
    assert (t["bn4"].weights, t["bn4"].biases) == (64, 64)
    assert t["conv1"].biases == 0  # bias=False before batch norm
    assert t.total_params == sum(p.numel() for p in model.parameters()) == 96_554
    buffers = sum(b.numel() for b in model.bn1.buffers())
    assert buffers == 2 * 32 + 1  # running mean, var, num_batches_tracked: not parameters
    spec = [
        {"type": "conv", "name": "conv1", "out_channels": 8, "kernel_size": 3, "bias": False},
        {"type": "batchnorm", "name": "bn1", "num_features": 8},
        {"type": "batchnorm", "name": "bn2", "affine": False},
        {"type": "relu"},
    ]
    s = layer_table(spec, (1, 10, 10))
    assert (s["bn1"].weights, s["bn1"].biases, s["bn1"].output_shape) == (8, 8, (8, 8, 8))
    assert s["bn2"].params == 0
    assert s.total_params == 8 * 9 + 16
    torch_model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 8, 3, bias=False),
            bn1=nn.BatchNorm2d(8),
            bn2=nn.BatchNorm2d(8, affine=False),
            relu4=nn.ReLU(),
        )
    )
    assert layer_table(torch_model, (1, 10, 10)).to_dicts() == s.to_dicts()


def test_batchnorm_channel_mismatch():
    spec = [
        {"type": "conv", "name": "conv1", "out_channels": 8, "kernel_size": 3},
        {"type": "batchnorm", "name": "bn1", "num_features": 16},
    ]
    with pytest.raises(ValueError, match="layer 'bn1' expects 16 channels but receives 8"):
        layer_table(spec, (1, 10, 10))


# --- single layers against torch -------------------------------------------------------------


def torch_layer(layer, c_in):
    """The torch module that a single spec layer describes."""
    kind = layer["type"]
    if kind == "conv":
        return nn.Conv2d(
            c_in,
            layer["out_channels"],
            layer["kernel_size"],
            stride=layer.get("stride", 1),
            padding=layer.get("padding", 0),
            dilation=layer.get("dilation", 1),
            groups=layer.get("groups", 1),
            bias=layer.get("bias", True),
        )
    if kind == "maxpool":
        return nn.MaxPool2d(
            layer["kernel_size"],
            stride=layer.get("stride"),
            padding=layer.get("padding", 0),
            dilation=layer.get("dilation", 1),
            ceil_mode=layer.get("ceil_mode", False),
        )
    if kind == "avgpool":
        return nn.AvgPool2d(
            layer["kernel_size"],
            stride=layer.get("stride"),
            padding=layer.get("padding", 0),
            ceil_mode=layer.get("ceil_mode", False),
        )
    raise AssertionError(kind)


def check_layer_against_torch(layer, shape):
    """Spec and torch either both reject the layer or give the same row and torch's own shape."""
    layer = dict(layer, name="layer")
    try:
        module = torch_layer(layer, shape[0])
    except (ValueError, RuntimeError):  # torch refuses it at construction (e.g. bad groups)
        with pytest.raises(ValueError, match="layer 'layer'"):
            layer_table([layer], shape)
        return
    try:
        with torch.no_grad():
            expected = module(torch.zeros((1,) + shape)).shape[1:]
    except RuntimeError:
        with pytest.raises(ValueError, match="layer 'layer'"):
            layer_table([layer], shape)
        with pytest.raises(ValueError, match="layer 'layer'"):
            layer_table(nn.Sequential(OrderedDict(layer=module)), shape)
        return
    from_spec = layer_table([layer], shape)
    from_torch = layer_table(nn.Sequential(OrderedDict(layer=module)), shape)
    assert from_spec["layer"].output_shape == tuple(expected), (layer, shape)
    assert from_spec.to_dicts() == from_torch.to_dicts(), (layer, shape)
    assert from_spec.total_params == sum(p.numel() for p in module.parameters())


EDGE_CASES = [
    # padding 0, H != W
    ({"type": "conv", "out_channels": 4, "kernel_size": 3}, (2, 7, 11)),
    # stride > kernel
    ({"type": "conv", "out_channels": 3, "kernel_size": 2, "stride": 3}, (1, 10, 9)),
    # dilation > 1 with padding
    ({"type": "conv", "out_channels": 2, "kernel_size": 3, "dilation": 2, "padding": 1}, (3, 9, 8)),
    # kernel = input size -> 1x1
    ({"type": "conv", "out_channels": 5, "kernel_size": 5}, (2, 5, 5)),
    # (h, w) pairs
    ({"type": "conv", "out_channels": 4, "kernel_size": (3, 1), "stride": (2, 1), "padding": (0, 2)}, (2, 9, 6)),
    # grouped and depthwise
    ({"type": "conv", "out_channels": 6, "kernel_size": 3, "groups": 3, "padding": 1}, (6, 8, 8)),
    ({"type": "conv", "out_channels": 4, "kernel_size": 3, "groups": 4}, (4, 6, 7)),
    # no bias
    ({"type": "conv", "out_channels": 4, "kernel_size": 1, "bias": False}, (3, 4, 4)),
    # overlapping pooling windows (AlexNet) and non-overlapping
    ({"type": "maxpool", "kernel_size": 3, "stride": 2}, (2, 13, 13)),
    ({"type": "maxpool", "kernel_size": 2}, (2, 7, 9)),
    ({"type": "avgpool", "kernel_size": 2, "stride": 2}, (1, 5, 6)),
    # ceil_mode, with the rule that the last window must start inside the input
    ({"type": "maxpool", "kernel_size": 3, "stride": 2, "ceil_mode": True}, (1, 14, 13)),
    ({"type": "maxpool", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, (1, 5, 6)),
    ({"type": "avgpool", "kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True}, (1, 7, 8)),
    # dilated max pooling
    ({"type": "maxpool", "kernel_size": 2, "stride": 1, "dilation": 3}, (1, 8, 6)),
    # does not fit: kernel larger than the padded input, bad groups, too much pool padding
    ({"type": "conv", "out_channels": 2, "kernel_size": 5}, (1, 4, 6)),
    ({"type": "conv", "out_channels": 2, "kernel_size": 3, "dilation": 3, "padding": 1}, (1, 8, 8)),
    ({"type": "conv", "out_channels": 4, "kernel_size": 3, "groups": 2}, (3, 8, 8)),
    ({"type": "conv", "out_channels": 3, "kernel_size": 3, "groups": 2}, (4, 8, 8)),
    ({"type": "maxpool", "kernel_size": 3, "padding": 2}, (1, 8, 8)),
    ({"type": "avgpool", "kernel_size": 4}, (1, 3, 8)),
]


@pytest.mark.parametrize("layer, shape", EDGE_CASES)
def test_single_layer_edge_cases_match_torch(layer, shape):
    check_layer_against_torch(layer, shape)


def test_random_single_layers_match_torch():
    rng = random.Random(1234)
    for _ in range(300):
        kind = rng.choice(["conv", "conv", "maxpool", "avgpool"])
        k = rng.randint(1, 5)
        layer = {"type": kind, "kernel_size": k, "stride": rng.randint(1, 4), "padding": rng.randint(0, 3)}
        if kind == "conv":
            groups = rng.choice([1, 1, 2, 3])
            layer.update(out_channels=groups * rng.randint(1, 3), groups=groups, dilation=rng.randint(1, 3))
            c_in = groups * rng.randint(1, 2) if rng.random() < 0.9 else rng.randint(1, 5)
        else:
            layer["ceil_mode"] = rng.random() < 0.5
            if kind == "maxpool":
                layer["dilation"] = rng.randint(1, 2)
            c_in = rng.randint(1, 3)
        shape = (c_in, rng.randint(1, 12), rng.randint(1, 12))
        check_layer_against_torch(layer, shape)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_padding_same_and_valid():
    for k, d in [(3, 1), (4, 1), (3, 2)]:
        layer = {"type": "conv", "name": "c", "out_channels": 2, "kernel_size": k, "dilation": d, "padding": "same"}
        module = nn.Conv2d(3, 2, k, dilation=d, padding="same")
        spec = layer_table([layer], (3, 9, 10))
        assert spec["c"].output_shape == (2, 9, 10)
        assert spec.to_dicts() == layer_table(nn.Sequential(OrderedDict(c=module)), (3, 9, 10)).to_dicts()
    valid = layer_table([{"type": "conv", "out_channels": 2, "kernel_size": 3, "padding": "valid"}], (1, 9, 10))
    assert valid[0].output_shape == (2, 7, 8)
    with pytest.raises(ValueError, match="stride 1"):
        layer_table([{"type": "conv", "out_channels": 2, "kernel_size": 3, "stride": 2, "padding": "same"}], (1, 9, 9))


def test_adaptive_pooling_lrn_dropout_flatten_keep_or_reshape():
    spec = [
        {"type": "adaptive_avgpool", "name": "a", "output_size": (2, 3)},
        {"type": "adaptive_maxpool", "name": "b", "output_size": (None, 1)},
        {"type": "lrn", "name": "n", "size": 5},
        {"type": "dropout", "name": "d", "p": 0.5},
        {"type": "tanh", "name": "t"},
        {"type": "flatten", "name": "f"},
        {"type": "linear", "name": "fc", "out_features": 3, "bias": False},
    ]
    t = layer_table(spec, (4, 7, 9))
    assert [r.output_shape for r in t] == [(4, 2, 3), (4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 2, 1), (8,), (3,)]
    assert (t["fc"].weights, t["fc"].biases, t["fc"].macs) == (24, 0, 24)
    assert t.total_params == 24 and t.total_macs == 24
    model = nn.Sequential(
        OrderedDict(
            a=nn.AdaptiveAvgPool2d((2, 3)),
            b=nn.AdaptiveMaxPool2d((None, 1)),
            n=nn.LocalResponseNorm(5),
            d=nn.Dropout(0.5),
            t=nn.Tanh(),
            f=nn.Flatten(),
            fc=nn.Linear(8, 3, bias=False),
        )
    )
    assert layer_table(model, (4, 7, 9)).to_dicts() == t.to_dicts()


# --- bad specs -------------------------------------------------------------------------------


def test_fc_in_features_mismatch_names_layer_and_shape():
    spec = [
        {"type": "conv", "name": "conv5", "out_channels": 256, "kernel_size": 3, "padding": 1},
        {"type": "flatten"},
        {"type": "linear", "name": "fc6", "in_features": 9216, "out_features": 4096},
    ]
    with pytest.raises(ValueError) as info:
        layer_table(spec, (3, 7, 7))
    assert str(info.value) == "layer 'fc6' expects 9216 inputs but receives 12544 (256x7x7)"


@pytest.mark.parametrize(
    "spec, shape, message",
    [
        (
            [{"type": "conv", "name": "conv1", "out_channels": 96, "kernel_size": 11}],
            (3, 10, 10),
            r"layer 'conv1' has a 11x11 kernel .* larger than its padded input 10x10",
        ),
        (
            [{"type": "maxpool", "name": "pool9", "kernel_size": 3, "stride": 2}],
            (8, 2, 5),
            r"layer 'pool9' .* larger than its padded input 2x5",
        ),
        (
            [{"type": "conv", "name": "conv2", "out_channels": 256, "kernel_size": 5, "groups": 2}],
            (3, 27, 27),
            r"layer 'conv2' has groups=2, but its 3 input channels",
        ),
        (
            [{"type": "conv", "name": "conv2", "out_channels": 255, "kernel_size": 5, "groups": 2}],
            (96, 27, 27),
            r"layer 'conv2' has groups=2.* 255 output channels",
        ),
        (
            [{"type": "conv", "name": "conv2", "in_channels": 64, "out_channels": 8, "kernel_size": 3}],
            (96, 9, 9),
            r"layer 'conv2' expects 64 input channels but receives 96",
        ),
        (
            [{"type": "linear", "name": "fc6", "out_features": 10}],
            (3, 4, 4),
            r"layer 'fc6' \(linear\) needs a flat input but receives 3x4x4; put a \{'type': 'flatten'\}",
        ),
        (
            [{"type": "flatten"}, {"type": "conv", "name": "conv9", "out_channels": 2, "kernel_size": 1}],
            (3, 4, 4),
            r"layer 'conv9' \(conv\) needs a \(C, H, W\) input, got shape 48",
        ),
        (
            [{"type": "conv", "name": "conv1", "out_channels": 8}],
            (3, 9, 9),
            r"layer 'conv1' \(conv\) needs a 'kernel_size' entry",
        ),
        (
            [{"type": "conv", "name": "conv1", "out_channels": 8, "kernel_size": 3, "strides": 2}],
            (3, 9, 9),
            r"layer 'conv1' \(conv\) has unknown key\(s\) strides",
        ),
        ([{"type": "convolution", "name": "conv1"}], (3, 9, 9), r"layer 'conv1' has unknown type 'convolution'"),
        ([{"name": "conv1"}], (3, 9, 9), r"spec entry 1 has no 'type'"),
        ([{"type": "relu", "name": "a"}, {"type": "relu", "name": "a"}], (3, 9, 9), r"'a' is used twice"),
        (
            [{"type": "conv", "name": "conv1", "out_channels": 8, "kernel_size": 3, "stride": 0}],
            (3, 9, 9),
            r"stride of layer 'conv1' must be >= 1",
        ),
    ],
)
def test_bad_specs_raise_naming_the_layer(spec, shape, message):
    with pytest.raises(ValueError, match=message):
        layer_table(spec, shape)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) or \(N, C, H, W\)"):
        layer_table(models.lenet5_spec(), (32, 32))
    with pytest.raises(ValueError, match="input_shape"):
        layer_table(models.lenet5_spec(), (1, 0, 32))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or a list of layer specs"):
        layer_table("alexnet", (3, 227, 227))
    with pytest.raises(TypeError, match="spec entry 2 must be a dict"):
        layer_table([{"type": "relu"}, "relu"], (3, 4, 4))


def test_unnamed_spec_layers_and_aliases_and_dataclasses():
    import dataclasses

    @dataclasses.dataclass
    class Conv:
        out_channels: int
        kernel_size: int
        type: str = "conv"

    t = layer_table(
        [Conv(4, 3), {"type": "ReLU"}, {"type": "fc", "out_features": 2}][:2]
        + [{"type": "flatten"}, {"type": "fc", "out_features": 2}],
        (1, 5, 5),
    )
    assert [r.name for r in t] == ["conv1", "relu2", "flatten3", "linear4"]
    assert [r.kind for r in t] == ["conv", "relu", "flatten", "linear"]
    assert t["linear4"].weights == 4 * 3 * 3 * 2


# --- the table object and its rendering ------------------------------------------------------


def test_table_api():
    t = torch_table("original", (3, 227, 227))
    assert isinstance(t, LayerTable)
    assert len(t) == len(t.rows) == 23
    assert [r.name for r in t][:4] == ["conv1", "relu1", "norm1", "pool1"]
    assert t[0] is t["conv1"]
    assert t["pool5"].output_shape == (256, 6, 6)
    assert t["flatten"].output_shape == (9216,)
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        t["conv9"]
    dicts = t.to_dicts()
    assert set(dicts[0]) >= {"name", "kind", "output_shape", "weights", "biases", "params", "macs", "activation_bytes"}
    assert sum(d["params"] for d in dicts) == t.total_params
    assert t.total_activation_bytes == 4 * sum(math.prod(r.output_shape) for r in t)
    assert "60,965,224" in repr(t)


def test_text_rendering():
    t = spec_table("original", (3, 227, 227))
    text = str(t)
    assert text == t.to_text()
    lines = text.splitlines()
    total_line = next(line for line in lines if line.startswith("total"))
    assert "60,965,224" in total_line and "724,406,816" in total_line
    assert any(line.startswith("conv1") and "96x55x55" in line and "105,415,200" in line for line in lines)
    # the number columns are right-aligned: every row has the same width up to the last column
    header_width = len(lines[0])
    assert all(len(line) == header_width for line in lines[2:-3] + [total_line])


def test_html_rendering():
    t = spec_table("original", (3, 227, 227))
    page = t._repr_html_()
    assert page.startswith("<table") and "</table>" in page
    assert "<tfoot>" in page and "60,965,224" in page and "724,406,816" in page
    assert page.count("<tr>") == len(t) + 2  # header, rows, totals
    odd = layer_table([{"type": "relu", "name": "<b>&"}], (1, 2, 2))._repr_html_()
    assert "&lt;b&gt;&amp;" in odd and "<b>&" not in odd


# --- torch-specific behaviour ----------------------------------------------------------------


def test_nested_modules_use_full_names():
    model = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()),
            head=nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 2)),
        )
    )
    t = layer_table(model, (3, 6, 6))
    assert [r.name for r in t] == ["features.0", "features.1", "head.0", "head.1"]
    assert t["head.1"].weights == 8 * 4 * 4 * 2
    with pytest.raises(KeyError, match="ambiguous; it matches features.0, head.0"):
        t["0"]
    short = nn.Sequential(OrderedDict(block=nn.Sequential(OrderedDict(conv1=nn.Conv2d(3, 4, 3)))))
    assert layer_table(short, (3, 6, 6))["conv1"].name == "block.conv1"
    assert t.total_params == sum(p.numel() for p in model.parameters())


def test_shared_module_counts_its_parameters_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x))

    model = Twice()
    t = layer_table(model, (4, 5, 5))
    assert [r.name for r in t] == ["conv", "conv (call 2)"]
    assert t.total_params == sum(p.numel() for p in model.parameters())
    assert t.total_macs == 2 * 5 * 5 * 4 * 4 * 9


def test_model_state_is_restored_and_single_leaf_works():
    model = built("lenet5")
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_table(model, (1, 32, 32))
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    single = layer_table(nn.Conv2d(3, 4, 3).double(), (3, 5, 5))
    assert [r.name for r in single] == ["Conv2d"] and single[0].output_shape == (4, 3, 3)


def test_specs_need_no_torch():
    code = (
        "import sys; from cnnlab import models; from cnnlab.summary import layer_table; "
        "t = layer_table(models.alexnet_spec('original'), (3, 227, 227)); "
        "assert t.total_params == 60965224, t.total_params; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rows_can_be_looked_up_by_numpy_integers():
    import numpy as np

    from cnnlab.models import alexnet_spec

    table = layer_table(alexnet_spec("original"), (3, 227, 227))
    assert table[np.int64(0)] is table[0] is table["conv1"]


# ----------------------------------------------------------------------------- cnnlab.nn models


def test_layer_table_takes_cnnlab_nn_models_with_the_torch_numbers():
    """A NumPy network and the torch network built from the same spec give the same counts."""
    from cnnlab import models
    from cnnlab import nn as numpy_nn

    spec = models.numpy_mnist_cnn_spec((4, 6))
    numpy_model, torch_model = models.numpy_from_spec(spec), models.torch_from_spec(spec, in_channels=1)
    from_numpy = layer_table(numpy_model, (1, 28, 28)).to_dicts()
    from_torch = layer_table(torch_model, (1, 28, 28)).to_dicts()
    assert [row["name"] for row in from_numpy] == [str(i) for i in range(len(spec))]
    for a, b in zip(from_numpy, from_torch):
        assert {k: v for k, v in a.items() if k != "name"} == {k: v for k, v in b.items() if k != "name"}
    assert layer_table(numpy_model, (1, 28, 28)).total_params == sum(p.size for p in numpy_model.params.values())
    single = layer_table(numpy_nn.Conv2d(3, 5, 3, stride=2), (3, 9, 9))
    assert single[0].output_shape == (5, 4, 4) and single[0].macs == 5 * 4 * 4 * 3 * 9


def test_layer_table_on_a_cnnlab_nn_model_names_the_layer_that_does_not_fit():
    from cnnlab import nn as numpy_nn

    model = numpy_nn.Sequential(numpy_nn.Conv2d(1, 2, 3), numpy_nn.Flatten(), numpy_nn.Linear(99, 10))
    with pytest.raises(ValueError, match=r"layer '2' expects 99 inputs but receives 1352"):
        layer_table(model, (1, 28, 28))
