"""cnnlab.models: architectures, parameter counts and forward shapes.

Parameter counts are checked two independent ways: against the figures published
for each network and against ``(fan_in + 1) * fan_out`` arithmetic written out
here, never against numbers printed by our own code.
"""

import pytest
import torch
from torch import nn

from cnnlab import models


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def conv_params(c_in, c_out, k, groups=1):
    return c_out * (c_in // groups) * k * k + c_out  # weights + one bias per output channel


def fc_params(n_in, n_out):
    return n_in * n_out + n_out


@pytest.fixture(scope="module")
def original():
    return models.alexnet("original")


@pytest.fixture(scope="module")
def torchvision_alexnet():
    return models.alexnet("torchvision")


# --- AlexNet ---------------------------------------------------------------------------------


def test_alexnet_original_parameter_count(original):
    by_hand = (
        conv_params(3, 96, 11)
        + conv_params(96, 256, 5, groups=2)
        + conv_params(256, 384, 3)
        + conv_params(384, 384, 3, groups=2)
        + conv_params(384, 256, 3, groups=2)
        + fc_params(9216, 4096)
        + fc_params(4096, 4096)
        + fc_params(4096, 1000)
    )
    assert by_hand == 60_965_224
    assert n_params(original) == 60_965_224


def test_alexnet_ungrouped_parameter_count():
    model = models.alexnet("original-ungrouped")
    assert n_params(model) == 62_378_344
    assert all(m.groups == 1 for m in model.modules() if isinstance(m, nn.Conv2d))
    # grouping halves the weights of conv2, conv4 and conv5 (biases are unchanged)
    assert 62_378_344 - 60_965_224 == (256 * 96 * 25 + 384 * 384 * 9 + 256 * 384 * 9) // 2


def test_alexnet_torchvision_parameter_count(torchvision_alexnet):
    by_hand = (
        conv_params(3, 64, 11)
        + conv_params(64, 192, 5)
        + conv_params(192, 384, 3)
        + conv_params(384, 256, 3)
        + conv_params(256, 256, 3)
        + fc_params(9216, 4096)
        + fc_params(4096, 4096)
        + fc_params(4096, 1000)
    )
    assert by_hand == 61_100_840
    assert n_params(torchvision_alexnet) == 61_100_840


def test_alexnet_default_is_torchvision(torchvision_alexnet):
    default = models.alexnet()
    assert [n for n, _ in default.named_children()] == [n for n, _ in torchvision_alexnet.named_children()]
    assert default.conv1.out_channels == 64


def test_alexnet_original_layers(original):
    conv1 = original.conv1
    assert (conv1.in_channels, conv1.out_channels) == (3, 96)
    assert conv1.kernel_size == (11, 11) and conv1.stride == (4, 4) and conv1.padding == (0, 0)
    assert n_params(conv1) == 34_944 == 11 * 11 * 3 * 96 + 96
    assert [original.conv2.groups, original.conv3.groups, original.conv4.groups, original.conv5.groups] == [2, 1, 2, 2]
    assert original.conv2.weight.shape == (256, 48, 5, 5)  # each half sees 48 of 96 channels
    assert original.conv4.weight.shape == (384, 192, 3, 3)
    assert original.conv5.weight.shape == (256, 192, 3, 3)
    names = [n for n, _ in original.named_children()]
    assert names[:4] == ["conv1", "relu1", "norm1", "pool1"]  # LRN after ReLU, pool after LRN
    assert names.index("norm2") < names.index("pool2")
    assert "avgpool" not in names
    # dropout follows relu6 / relu7 in the paper (and in Caffe's reference model)
    assert names[names.index("fc6") :] == ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    pools = [m for m in original.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 3 and p.stride == 2 for p in pools)


def test_alexnet_original_lrn_matches_the_paper_formula(original):
    # b = a / (k + alpha * sum over 5 neighbouring channels of a^2) ** beta, k=2, alpha=1e-4, beta=0.75
    torch.manual_seed(0)
    a = torch.randn(2, 12, 3, 4, dtype=torch.float64) * 30
    sq = torch.nn.functional.pad(a**2, (0, 0, 0, 0, 2, 2))  # zero channels beyond the edges
    window_sum = sum(sq[:, i : i + 12] for i in range(5))
    expected = a / (2 + 1e-4 * window_sum) ** 0.75
    got = original.norm1.double()(a)
    original.float()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_alexnet_torchvision_layers(torchvision_alexnet):
    m = torchvision_alexnet
    assert [c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d)] == [64, 192, 384, 256, 256]
    assert (m.conv1.stride, m.conv1.padding) == ((4, 4), (2, 2))
    assert isinstance(m.avgpool, nn.AdaptiveAvgPool2d) and m.avgpool.output_size == 6
    assert not any(isinstance(c, nn.LocalResponseNorm) for c in m.modules())
    names = [n for n, _ in m.named_children()]
    assert names[names.index("drop6") :] == ["drop6", "fc6", "relu6", "drop7", "fc7", "relu7", "fc8"]


@pytest.mark.parametrize("size", [224, 227])
def test_alexnet_torchvision_forward_at_224_and_227(torchvision_alexnet, size):
    with torch.no_grad():
        out = torchvision_alexnet.eval()(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 1000)


def test_alexnet_original_forward_needs_227(original):
    with torch.no_grad():
        assert original.eval()(torch.zeros(1, 3, 227, 227)).shape == (1, 1000)
        # 224 gives floor((224 - 11) / 4) + 1 = 54 after conv1 and 256x5x5 = 6400 inputs to fc6
        with pytest.raises(RuntimeError):
            original(torch.zeros(1, 3, 224, 224))


def test_alexnet_num_classes():
    model = models.alexnet("original", num_classes=10)
    assert model.fc8.out_features == 10
    assert n_params(model) == 60_965_224 - fc_params(4096, 1000) + fc_params(4096, 10)


@pytest.mark.parametrize("bad", ["Original", "caffe", None, 1])
def test_alexnet_rejects_unknown_variant(bad):
    with pytest.raises(ValueError, match="variant must be one of"):
        models.alexnet(bad)
    with pytest.raises(ValueError, match="variant must be one of"):
        models.alexnet_spec(bad)


def test_num_classes_is_validated():
    with pytest.raises(ValueError, match="num_classes"):
        models.alexnet("original", num_classes=0)
    with pytest.raises(TypeError, match="num_classes"):
        models.lenet5(num_classes=10.0)


# --- VGG-16 ----------------------------------------------------------------------------------


def test_vgg16_parameter_count():
    model = models.vgg16()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    by_hand = sum(conv_params(a, b, 3) for a, b in zip(channels, channels[1:]))
    by_hand += fc_params(512 * 7 * 7, 4096) + fc_params(4096, 4096) + fc_params(4096, 1000)
    assert by_hand == 138_357_544
    assert n_params(model) == 138_357_544
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    assert model.conv5_3.out_channels == 512 and model.fc8.out_features == 1000


# --- LeNet-5 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("input_size", [32, 28])
def test_lenet5_parameter_count_and_forward(input_size):
    model = models.lenet5(input_size=input_size)
    by_hand = (5 * 5 * 1 + 1) * 6 + (5 * 5 * 6 + 1) * 16 + (5 * 5 * 16 + 1) * 120 + (120 + 1) * 84 + (84 + 1) * 10
    assert by_hand == 61_706
    assert n_params(model) == 61_706
    assert model.c1.padding == ((2, 2) if input_size == 28 else (0, 0))
    with torch.no_grad():
        x = torch.zeros(3, 1, input_size, input_size)
        assert model(x).shape == (3, 10)
        assert model[:2](x).shape == (3, 6, 28, 28)  # c1 -> 6x28x28 for both inputs
        assert model[:3](x).shape == (3, 6, 14, 14)  # s2
    assert any(isinstance(m, nn.Tanh) for m in model.modules())
    assert [type(model.s2), type(model.s4)] == [nn.AvgPool2d, nn.AvgPool2d]


def test_lenet5_rejects_other_input_sizes():
    with pytest.raises(ValueError, match="input_size"):
        models.lenet5(input_size=64)
    with pytest.raises(TypeError, match="input_size"):
        models.lenet5_spec(input_size=28.0)


# --- MNIST CNN -------------------------------------------------------------------------------


def test_mnist_cnn_forward_and_parameters():
    model = models.mnist_cnn()
    convs = 1 * 32 * 9 + 32 * 32 * 9 + 32 * 64 * 9 + 64 * 64 * 9  # no conv biases
    batchnorm = 2 * (32 + 32 + 64 + 64)  # scale and shift per channel
    assert n_params(model) == convs + batchnorm + fc_params(64 * 7 * 7, 10) == 96_554
    with torch.no_grad():
        assert model.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    model.train()
    logits = model(torch.randn(4, 1, 28, 28))
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert models.mnist_cnn(num_classes=3).fc.out_features == 3


# --- specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_model, make_spec",
    [
        (lambda: models.alexnet("original"), lambda: models.alexnet_spec("original")),
        (lambda: models.lenet5(), lambda: models.lenet5_spec()),
    ],
)
def test_spec_names_follow_the_module(make_model, make_spec):
    model, spec = make_model(), make_spec()
    assert [layer["name"] for layer in spec] == [n for n, _ in model.named_children()]
    for layer in spec:
        module = getattr(model, layer["name"])
        if layer["type"] == "conv":
            assert module.out_channels == layer["out_channels"]
            assert module.kernel_size == (layer["kernel_size"],) * 2
            assert module.groups == layer.get("groups", 1)
        if layer["type"] == "linear":
            assert (module.in_features, module.out_features) == (layer["in_features"], layer["out_features"])


def test_specs_are_fresh_lists():
    spec = models.alexnet_spec("original")
    spec[0]["out_channels"] = 1
    assert models.alexnet_spec("original")[0]["out_channels"] == 96
    assert models.alexnet_spec("original", num_classes=7)[-1]["out_features"] == 7
    assert models.vgg16_spec(num_classes=5)[-1]["out_features"] == 5


def test_fast_mnist_cnn_shapes_and_parameters():
    import torch

    model = models.fast_mnist_cnn()
    out = model(torch.zeros(2, 1, 28, 28))
    assert out.shape == (2, 10)
    # conv1 16*25 (no bias) + bn1 2*16 + conv2 32*16*25 + bn2 2*32 + fc 1568*10 + 10
    assert sum(p.numel() for p in model.parameters()) == 400 + 32 + 12800 + 64 + 15680 + 10


# --- one spec, two builders ------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_model, make_spec, shape",
    [
        (lambda: models.alexnet("torchvision"), lambda: models.alexnet_spec("torchvision"), (3, 224, 224)),
        (lambda: models.vgg16(), lambda: models.vgg16_spec(), (3, 224, 224)),
        (lambda: models.mnist_cnn(), lambda: models.mnist_cnn_spec(), (1, 28, 28)),
        (lambda: models.fast_mnist_cnn(), lambda: models.fast_mnist_cnn_spec(), (1, 28, 28)),
    ],
)
def test_torch_models_are_their_specs(make_model, make_spec, shape):
    from cnnlab.summary import layer_table

    model, spec = make_model(), make_spec()
    assert [layer["name"] for layer in spec] == [n for n, _ in model.named_children()]
    assert layer_table(model, shape).to_dicts() == layer_table(spec, shape).to_dicts()


def test_numpy_mnist_cnn_is_built_from_its_spec_with_one_seed_per_layer():
    import numpy as np

    from cnnlab import nn as numpy_nn
    from cnnlab import train

    assert train.numpy_mnist_cnn is models.numpy_mnist_cnn  # the old home still works
    model = models.numpy_mnist_cnn(seed=3, channels=(4, 6), dtype=np.float64)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [
        numpy_nn.Conv2d,
        numpy_nn.ReLU,
        numpy_nn.MaxPool2d,
        numpy_nn.Conv2d,
        numpy_nn.ReLU,
        numpy_nn.MaxPool2d,
        numpy_nn.Flatten,
        numpy_nn.Linear,
    ]
    np.testing.assert_array_equal(model[0].params["weight"], numpy_nn.Conv2d(1, 4, 3, seed=3).params["weight"])
    np.testing.assert_array_equal(model[3].params["weight"], numpy_nn.Conv2d(4, 6, 3, seed=4).params["weight"])
    np.testing.assert_array_equal(model[7].params["weight"], numpy_nn.Linear(294, 10, seed=5).params["weight"])
    assert model.forward(np.zeros((2, 1, 28, 28))).shape == (2, 10)


def test_numpy_mnist_cnn_hidden_layer_matches_torch_parameter_count():
    import numpy as np
    import torch

    from cnnlab import nn as numpy_nn

    model = models.numpy_mnist_cnn(channels=(16, 32), hidden=128, dtype=np.float32)
    assert [type(layer) for layer in model.layers[-3:]] == [numpy_nn.Linear, numpy_nn.ReLU, numpy_nn.Linear]
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.Linear(32 * 7 * 7, 128),
        torch.nn.Linear(128, 10),
    )
    assert sum(p.size for p in model.params.values()) == sum(p.numel() for p in twin.parameters()) == 206_922
    assert model.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match="hidden"):
        models.numpy_mnist_cnn(hidden=-1)
