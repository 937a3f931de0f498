"""Classic convolutional networks, each written once as a layer spec.

A **layer spec** is a list of plain dicts, one per layer, with the names used in the
papers (``conv1``, ``pool1``, ``fc6`` ...)::

    {"type": "conv", "name": "conv1", "out_channels": 96, "kernel_size": 11, "stride": 4}

``cnnlab.summary.layer_table(spec, input_shape)`` counts shapes, parameters and
multiply-accumulates from a spec by arithmetic alone, without torch. Every network is
written once, as its spec (``alexnet_spec``, ``vgg16_spec``, ``lenet5_spec``,
``mnist_cnn_spec``, ``fast_mnist_cnn_spec``, ``numpy_mnist_cnn_spec``), and built from it:

* :func:`torch_from_spec` makes a flat ``torch.nn.Sequential`` whose children carry the
  spec's names (``alexnet``, ``vgg16``, ``lenet5``, ``mnist_cnn``, ``fast_mnist_cnn``), so
  that ``print(model)`` and ``layer_table(model, ...)`` show those names;
* :func:`numpy_from_spec` makes a :class:`cnnlab.nn.Sequential` of NumPy layers
  (``numpy_mnist_cnn``).

torch is imported inside :func:`torch_from_spec`, so the specs (and this module) work on
a machine without torch.

Networks, their input size and their parameter count::

    alexnet("torchvision")         3x224x224    61,100,840
    alexnet("original")            3x227x227    60,965,224
    alexnet("original-ungrouped")  3x227x227    62,378,344
    vgg16()                        3x224x224   138,357,544
    lenet5()                       1x32x32          61,706
    lenet5(input_size=28)          1x28x28          61,706
    mnist_cnn()                    1x28x28          96,554
    fast_mnist_cnn()               1x28x28          28,986
    numpy_mnist_cnn()              1x28x28           9,098   (cnnlab.nn layers)
    numpy_mnist_cnn((32, 64))      1x28x28          50,186   (cnnlab.nn layers)
"""

from collections import OrderedDict

import numpy as np

from cnnlab._validation import check_int

ALEXNET_VARIANTS = ("torchvision", "original", "original-ungrouped")


# ---------------------------------------------------------------------------
# Building a network from its spec
# ---------------------------------------------------------------------------


def torch_from_spec(spec, in_channels):
    """A flat ``torch.nn.Sequential`` with one child per spec entry, named by the entry's ``name``.

    ``in_channels``: the channels of the input image; convolutions and batch norms take
    their input channels from the layer before them, linear layers need ``in_features``.
    ReLUs are in-place and dropout defaults to ``p=0.5``, as in the papers' networks.
    """
    from torch import nn

    channels = in_channels
    children = []
    for layer in spec:
        kind = layer["type"]
        if kind == "conv":
            module = nn.Conv2d(
                channels,
                layer["out_channels"],
                kernel_size=layer["kernel_size"],
                stride=layer.get("stride", 1),
                padding=layer.get("padding", 0),
                dilation=layer.get("dilation", 1),
                groups=layer.get("groups", 1),
                bias=layer.get("bias", True),
            )
            channels = layer["out_channels"]
        elif kind == "batchnorm":
            module = nn.BatchNorm2d(channels)
        elif kind in ("maxpool", "avgpool"):
            pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
            module = pool(kernel_size=layer["kernel_size"], stride=layer.get("stride"), padding=layer.get("padding", 0))
        elif kind == "adaptive_avgpool":
            module = nn.AdaptiveAvgPool2d(layer["output_size"])
        elif kind == "lrn":
            module = nn.LocalResponseNorm(size=layer["size"], alpha=layer["alpha"], beta=layer["beta"], k=layer["k"])
        elif kind == "linear":
            module = nn.Linear(layer["in_features"], layer["out_features"], bias=layer.get("bias", True))
        else:
            module = {
                "relu": lambda: nn.ReLU(inplace=True),
                "tanh": nn.Tanh,
                "flatten": nn.Flatten,
                "dropout": lambda: nn.Dropout(p=layer.get("p", 0.5)),
            }[kind]()
        children.append((layer["name"], module))
    return nn.Sequential(OrderedDict(children))


def numpy_from_spec(spec, seed=0, dtype=np.float32):
    """A :class:`cnnlab.nn.Sequential` of NumPy layers, one per spec entry.

    Convolutions and linear layers need ``in_channels`` / ``in_features`` in the spec; the
    k-th layer with weights is initialised from ``seed + k`` (k = 0, 1, ...), so the same
    seed gives the same network.
    """
    from cnnlab import nn

    layers = []
    for layer in spec:
        kind = layer["type"]
        if kind == "conv":
            layers.append(
                nn.Conv2d(
                    layer["in_channels"],
                    layer["out_channels"],
                    layer["kernel_size"],
                    stride=layer.get("stride", 1),
                    padding=layer.get("padding", 0),
                    dilation=layer.get("dilation", 1),
                    bias=layer.get("bias", True),
                    seed=seed,
                    dtype=dtype,
                )
            )
        elif kind == "linear":
            layers.append(
                nn.Linear(
                    layer["in_features"], layer["out_features"], bias=layer.get("bias", True), seed=seed, dtype=dtype
                )
            )
        elif kind in ("maxpool", "avgpool"):
            pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
            layers.append(pool(layer["kernel_size"], layer.get("stride"), layer.get("padding", 0)))
        elif kind == "dropout":
            layers.append(nn.Dropout(layer.get("p", 0.5), seed=seed))
        else:
            layers.append({"relu": nn.ReLU, "flatten": nn.Flatten}[kind]())
        if kind in ("conv", "linear"):
            seed += 1
    return nn.Sequential(*layers)


def _check_variant(variant):
    if variant not in ALEXNET_VARIANTS:
        choices = ", ".join(repr(v) for v in ALEXNET_VARIANTS)
        raise ValueError(f"variant must be one of {choices}, got {variant!r}")
    return variant


# ---------------------------------------------------------------------------
# AlexNet
# ---------------------------------------------------------------------------


def _classifier_spec(in_features, num_classes):
    """The papers' head of AlexNet and VGG-16: fc6-relu6-drop6, fc7-relu7-drop7, fc8."""
    return [
        {"type": "linear", "name": "fc6", "in_features": in_features, "out_features": 4096},
        {"type": "relu", "name": "relu6"},
        {"type": "dropout", "name": "drop6"},
        {"type": "linear", "name": "fc7", "in_features": 4096, "out_features": 4096},
        {"type": "relu", "name": "relu7"},
        {"type": "dropout", "name": "drop7"},
        {"type": "linear", "name": "fc8", "in_features": 4096, "out_features": num_classes},
    ]


def alexnet(variant="torchvision", num_classes=1000):
    """AlexNet as a flat ``torch.nn.Sequential``.

    variant:
      ``"torchvision"``  the network in ``torchvision.models.alexnet`` (from
          Krizhevsky's 2014 "one weird trick" paper): conv 64-192-384-256-256,
          no LRN, no groups, an ``AdaptiveAvgPool2d(6)`` before the classifier,
          dropout *before* fc6 and fc7. Made for 3x224x224 input (the adaptive
          pool makes other sizes work too). 61,100,840 parameters.
      ``"original"``  Krizhevsky, Sutskever & Hinton (2012): conv 96-256-384-384-256
          with 11x11 stride-4 unpadded conv1, local response normalisation after
          relu1 and relu2, overlapping 3x3 stride-2 max pooling, and
          ``groups=2`` on conv2, conv4 and conv5 (the paper split those layers
          over two GPUs, each half seeing only its own GPU's 48/192 channels).
          Dropout 0.5 *after* relu6 and relu7. Needs 3x227x227 input (the
          paper's "224" does not give the 55x55 conv1 output it reports).
          60,965,224 parameters.
      ``"original-ungrouped"``  the same network with ``groups=1`` everywhere,
          i.e. as if it had been trained on one GPU. 62,378,344 parameters.

    num_classes: size of the last layer (``fc8``).

    Input ``(N, 3, H, W)`` -> logits ``(N, num_classes)``.

    About LRN: the paper normalises with ``k + alpha * sum(a^2)`` and
    ``alpha = 1e-4``; ``torch.nn.LocalResponseNorm`` computes
    ``k + alpha / size * sum(a^2)``, so the paper's layer is
    ``LocalResponseNorm(size=5, alpha=5 * 1e-4, beta=0.75, k=2)``.
    """
    return torch_from_spec(alexnet_spec(variant, num_classes), in_channels=3)


def alexnet_spec(variant="torchvision", num_classes=1000):
    """The layers of ``alexnet(variant, num_classes)`` as a list of dicts (no torch needed).

    Same names and order as the torch module, so
    ``layer_table(alexnet_spec(v), shape)`` and ``layer_table(alexnet(v), shape)``
    give the same rows.
    """
    _check_variant(variant)
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    if variant == "torchvision":
        return [
            {"type": "conv", "name": "conv1", "out_channels": 64, "kernel_size": 11, "stride": 4, "padding": 2},
            {"type": "relu", "name": "relu1"},
            {"type": "maxpool", "name": "pool1", "kernel_size": 3, "stride": 2},
            {"type": "conv", "name": "conv2", "out_channels": 192, "kernel_size": 5, "padding": 2},
            {"type": "relu", "name": "relu2"},
            {"type": "maxpool", "name": "pool2", "kernel_size": 3, "stride": 2},
            {"type": "conv", "name": "conv3", "out_channels": 384, "kernel_size": 3, "padding": 1},
            {"type": "relu", "name": "relu3"},
            {"type": "conv", "name": "conv4", "out_channels": 256, "kernel_size": 3, "padding": 1},
            {"type": "relu", "name": "relu4"},
            {"type": "conv", "name": "conv5", "out_channels": 256, "kernel_size": 3, "padding": 1},
            {"type": "relu", "name": "relu5"},
            {"type": "maxpool", "name": "pool5", "kernel_size": 3, "stride": 2},
            {"type": "adaptive_avgpool", "name": "avgpool", "output_size": 6},
            {"type": "flatten", "name": "flatten"},
            {"type": "dropout", "name": "drop6"},
            {"type": "linear", "name": "fc6", "in_features": 9216, "out_features": 4096},
            {"type": "relu", "name": "relu6"},
            {"type": "dropout", "name": "drop7"},
            {"type": "linear", "name": "fc7", "in_features": 4096, "out_features": 4096},
            {"type": "relu", "name": "relu7"},
            {"type": "linear", "name": "fc8", "in_features": 4096, "out_features": num_classes},
        ]
    g = 2 if variant == "original" else 1
    # the paper's LRN: k=2, n=5, alpha=1e-4, beta=0.75 with k + alpha * sum; torch divides alpha by n
    lrn = {"type": "lrn", "size": 5, "alpha": 5 * 1e-4, "beta": 0.75, "k": 2.0}
    return [
        {"type": "conv", "name": "conv1", "out_channels": 96, "kernel_size": 11, "stride": 4, "padding": 0},
        {"type": "relu", "name": "relu1"},
        dict(lrn, name="norm1"),
        {"type": "maxpool", "name": "pool1", "kernel_size": 3, "stride": 2},
        {"type": "conv", "name": "conv2", "out_channels": 256, "kernel_size": 5, "padding": 2, "groups": g},
        {"type": "relu", "name": "relu2"},
        dict(lrn, name="norm2"),
        {"type": "maxpool", "name": "pool2", "kernel_size": 3, "stride": 2},
        {"type": "conv", "name": "conv3", "out_channels": 384, "kernel_size": 3, "padding": 1},  # talks across GPUs
        {"type": "relu", "name": "relu3"},
        {"type": "conv", "name": "conv4", "out_channels": 384, "kernel_size": 3, "padding": 1, "groups": g},
        {"type": "relu", "name": "relu4"},
        {"type": "conv", "name": "conv5", "out_channels": 256, "kernel_size": 3, "padding": 1, "groups": g},
        {"type": "relu", "name": "relu5"},
        {"type": "maxpool", "name": "pool5", "kernel_size": 3, "stride": 2},
        {"type": "flatten", "name": "flatten"},
        *_classifier_spec(9216, num_classes),
    ]


# ---------------------------------------------------------------------------
# VGG-16
# ---------------------------------------------------------------------------

# Simonyan & Zisserman (2015), table 1, configuration D: (block, number of 3x3 convs, channels)
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def vgg16(num_classes=1000):
    """VGG-16 (configuration D of Simonyan & Zisserman 2015) as a flat ``nn.Sequential``.

    Five blocks of 3x3 stride-1 pad-1 convolutions (``conv{b}_{i}``, each
    followed by ``relu{b}_{i}``) and a 2x2 stride-2 max pool (``pool{b}``):
    64, 64 | 128, 128 | 256 x3 | 512 x3 | 512 x3; then ``flatten``,
    fc6 (25088 -> 4096), relu6, drop6, fc7 (4096 -> 4096), relu7, drop7, fc8.

    As in the paper there is no adaptive pooling (torchvision adds an
    ``AdaptiveAvgPool2d(7)``, which has no parameters), so the input must be
    3x224x224: ``(N, 3, 224, 224)`` -> ``(N, num_classes)``.
    138,357,544 parameters with 1000 classes.
    """
    return torch_from_spec(vgg16_spec(num_classes), in_channels=3)


def vgg16_spec(num_classes=1000):
    """The layers of ``vgg16(num_classes)`` as a list of dicts (no torch needed)."""
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    spec = []
    for block, n_convs, channels in VGG16_BLOCKS:
        for i in range(1, n_convs + 1):
            spec.append(
                {"type": "conv", "name": f"conv{block}_{i}", "out_channels": channels, "kernel_size": 3, "padding": 1}
            )
            spec.append({"type": "relu", "name": f"relu{block}_{i}"})
        spec.append({"type": "maxpool", "name": f"pool{block}", "kernel_size": 2, "stride": 2})
    spec += [
        {"type": "flatten", "name": "flatten"},
        *_classifier_spec(25088, num_classes),
    ]
    return spec


# ---------------------------------------------------------------------------
# LeNet-5
# ---------------------------------------------------------------------------


def _check_lenet_input(input_size):
    input_size = check_int(input_size, "input_size")
    if input_size not in (28, 32):
        raise ValueError(f"input_size must be 32 (the paper's 1x32x32) or 28 (MNIST, padded by 2), got {input_size!r}")
    return 2 if input_size == 28 else 0


def lenet5(num_classes=10, input_size=32):
    """LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) as a flat ``nn.Sequential``.

    Layer names follow the paper's figure 2 (C = convolution, S = subsampling,
    F = fully connected; the number is the layer's position)::

        c1  conv 1->6,  5x5   -> 6x28x28      156 params
        s2  avg pool 2x2 / 2  -> 6x14x14
        c3  conv 6->16, 5x5   -> 16x10x10   2,416 params
        s4  avg pool 2x2 / 2  -> 16x5x5
        c5  conv 16->120, 5x5 -> 120x1x1   48,120 params
        f6  linear 120->84                 10,164 params
        output linear 84->num_classes         850 params (10 classes)
                                     total 61,706

    each of c1, c3, c5 and f6 followed by ``tanh``. ``input_size=32`` is the
    paper's 1x32x32 input; ``input_size=28`` takes raw 1x28x28 MNIST and pads it
    by 2 inside c1 (same shapes and parameter count from then on).

    Simplifications of the paper, as in most modern re-implementations:
    plain ``tanh`` instead of ``1.7159 * tanh(2/3 a)``; parameter-free average
    pooling instead of S2/S4's trainable coefficient and bias per map (the paper
    has 12 and 32 parameters there); c3 connected to all 6 input maps instead of
    the paper's table 1 (2,416 instead of 1,516 parameters); a linear output
    layer with biases instead of Euclidean RBF units (850 instead of 840).
    The paper's own total is therefore 60,840.

    Input ``(N, 1, 32, 32)`` (or ``(N, 1, 28, 28)``) -> logits ``(N, num_classes)``.
    """
    return torch_from_spec(lenet5_spec(num_classes, input_size), in_channels=1)


def lenet5_spec(num_classes=10, input_size=32):
    """The layers of ``lenet5(num_classes, input_size)`` as a list of dicts (no torch needed)."""
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    pad = _check_lenet_input(input_size)
    return [
        {"type": "conv", "name": "c1", "out_channels": 6, "kernel_size": 5, "padding": pad},
        {"type": "tanh", "name": "tanh1"},
        {"type": "avgpool", "name": "s2", "kernel_size": 2, "stride": 2},
        {"type": "conv", "name": "c3", "out_channels": 16, "kernel_size": 5},
        {"type": "tanh", "name": "tanh3"},
        {"type": "avgpool", "name": "s4", "kernel_size": 2, "stride": 2},
        {"type": "conv", "name": "c5", "out_channels": 120, "kernel_size": 5},
        {"type": "tanh", "name": "tanh5"},
        {"type": "flatten", "name": "flatten"},
        {"type": "linear", "name": "f6", "in_features": 120, "out_features": 84},
        {"type": "tanh", "name": "tanh6"},
        {"type": "linear", "name": "output", "in_features": 84, "out_features": num_classes},
    ]


# ---------------------------------------------------------------------------
# MNIST networks
# ---------------------------------------------------------------------------


def _conv_bn_relu(name, in_channels, out_channels, kernel_size):
    """conv (no bias: the batch norm has its own) + batch norm + relu, named ``conv{name}`` ..."""
    return [
        {
            "type": "conv",
            "name": f"conv{name}",
            "in_channels": in_channels,
            "out_channels": out_channels,
            "kernel_size": kernel_size,
            "padding": kernel_size // 2,
            "bias": False,
        },
        {"type": "batchnorm", "name": f"bn{name}", "num_features": out_channels},
        {"type": "relu", "name": f"relu{name}"},
    ]


def mnist_cnn(num_classes=10):
    """A small, fast MNIST classifier (its accuracy is measured by the MNIST benchmark, not here).

    Layout, for 1x28x28 input (all convolutions 3x3, stride 1, padding 1 and
    without bias, because the batch norm that follows has its own)::

        conv1 1->32   bn1 relu1  -> 32x28x28
        conv2 32->32  bn2 relu2  -> 32x28x28
        pool1 max 2x2 / 2        -> 32x14x14
        conv3 32->64  bn3 relu3  -> 64x14x14
        conv4 64->64  bn4 relu4  -> 64x14x14
        pool2 max 2x2 / 2        -> 64x7x7
        flatten                  -> 3136
        fc    3136->num_classes

    96,554 parameters with 10 classes. Input ``(N, 1, 28, 28)`` -> logits
    ``(N, num_classes)``.
    """
    return torch_from_spec(mnist_cnn_spec(num_classes), in_channels=1)


def mnist_cnn_spec(num_classes=10):
    """The layers of ``mnist_cnn(num_classes)`` as a list of dicts (no torch needed)."""
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    return [
        *_conv_bn_relu(1, 1, 32, 3),
        *_conv_bn_relu(2, 32, 32, 3),
        {"type": "maxpool", "name": "pool1", "kernel_size": 2, "stride": 2},
        *_conv_bn_relu(3, 32, 64, 3),
        *_conv_bn_relu(4, 64, 64, 3),
        {"type": "maxpool", "name": "pool2", "kernel_size": 2, "stride": 2},
        {"type": "flatten", "name": "flatten"},
        {"type": "linear", "name": "fc", "in_features": 64 * 7 * 7, "out_features": num_classes},
    ]


def fast_mnist_cnn(num_classes=10):
    """A smaller torch CNN for MNIST, tuned to train fast on a 2-core CPU.

    About 99.2% test accuracy after 3 epochs (one-cycle Adam, lr 4e-3, batch 128),
    i.e. well inside a minute of CPU training (``benchmarks/mnist_torch.py``)::

        conv1 1->16 5x5 pad 2, bn, relu, max pool 2   -> 16x14x14
        conv2 16->32 5x5 pad 2, bn, relu, max pool 2  -> 32x7x7
        flatten, fc 1568->num_classes

    Input ``(N, 1, 28, 28)`` -> logits ``(N, num_classes)``.
    """
    return torch_from_spec(fast_mnist_cnn_spec(num_classes), in_channels=1)


def fast_mnist_cnn_spec(num_classes=10):
    """The layers of ``fast_mnist_cnn(num_classes)`` as a list of dicts (no torch needed)."""
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    return [
        *_conv_bn_relu(1, 1, 16, 5),
        {"type": "maxpool", "name": "pool1", "kernel_size": 2},
        *_conv_bn_relu(2, 16, 32, 5),
        {"type": "maxpool", "name": "pool2", "kernel_size": 2},
        {"type": "flatten", "name": "flatten"},
        {"type": "linear", "name": "fc", "in_features": 32 * 7 * 7, "out_features": num_classes},
    ]


def numpy_mnist_cnn(seed=0, channels=(8, 16), dtype=np.float32, hidden=0):
    """The NumPy CNN for MNIST, built from :mod:`cnnlab.nn` layers (:func:`numpy_mnist_cnn_spec`)::

        conv 1->c1 3x3 pad 1, relu, max pool 2   -> (c1, 14, 14)
        conv c1->c2 3x3 pad 1, relu, max pool 2  -> (c2, 7, 7)
        flatten, linear c2*49 -> 10              -> logits

    x ``(N, 1, 28, 28)`` -> logits ``(N, 10)``. With the default ``channels=(8, 16)`` it
    has 9,098 parameters and reaches about 98% test accuracy in two or three epochs.
    ``hidden=h`` puts a hidden layer before the logits (linear c2*49 -> h, relu,
    linear h -> 10); ``benchmarks/mnist_numpy.py`` measures which size reaches 99%.
    Layer k with weights is initialised from ``seed + k``.
    """
    return numpy_from_spec(numpy_mnist_cnn_spec(channels, hidden), seed=seed, dtype=dtype)


def numpy_mnist_cnn_spec(channels=(8, 16), hidden=0):
    """The layers of ``numpy_mnist_cnn(channels=channels, hidden=hidden)`` as a list of dicts."""
    c1, c2 = (check_int(c, "channels", minimum=1) for c in channels)
    hidden = check_int(hidden, "hidden", minimum=0)
    layers = [
        {"type": "conv", "name": "conv1", "in_channels": 1, "out_channels": c1, "kernel_size": 3, "padding": 1},
        {"type": "relu", "name": "relu1"},
        {"type": "maxpool", "name": "pool1", "kernel_size": 2},
        {"type": "conv", "name": "conv2", "in_channels": c1, "out_channels": c2, "kernel_size": 3, "padding": 1},
        {"type": "relu", "name": "relu2"},
        {"type": "maxpool", "name": "pool2", "kernel_size": 2},
        {"type": "flatten", "name": "flatten"},
    ]
    if hidden == 0:
        return layers + [{"type": "linear", "name": "fc", "in_features": c2 * 7 * 7, "out_features": 10}]
    return layers + [
        {"type": "linear", "name": "fc1", "in_features": c2 * 7 * 7, "out_features": hidden},
        {"type": "relu", "name": "relu3"},
        {"type": "linear", "name": "fc2", "in_features": hidden, "out_features": 10},
    ]
