"""cnnlab.nn layers: gradient checks, agreement with torch.nn, init, dropout, shapes,
error messages and a tiny training run."""

import numpy as np
import pytest
import torch

from cnnlab import nn
from cnnlab.gradcheck import check_layer_gradients, check_loss_gradients, numerical_gradient, relative_error

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a busy 2-core machine

GRAD_TOL = 1e-7
TORCH_TOL = dict(rtol=1e-9, atol=1e-9)


def randn(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(seed, *shape):
    """Random values, all different (no pooling ties), none close to 0 (no ReLU kinks)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = (rng.permutation(size) + 0.5) / size * 4 - 2  # distinct, spaced 4/size apart
    return values.reshape(shape)


# --------------------------------------------------------------------------
# Gradient checks of every layer (float64, random upstream gradient)
# --------------------------------------------------------------------------

CONV_CONFIGS = [
    # (in, out, kernel, stride, padding, dilation, bias, x shape)
    (3, 4, 3, 1, 0, 1, True, (2, 3, 7, 6)),  # padding 0, H != W
    (2, 3, (3, 2), 2, 1, 1, True, (1, 2, 6, 7)),  # batch 1, rectangular kernel
    (2, 2, 2, 3, 0, 1, False, (2, 2, 7, 8)),  # stride > kernel, no bias
    (1, 3, 3, 1, 2, 2, True, (2, 1, 5, 6)),  # dilation > 1
    (2, 3, (4, 5), 1, 0, 1, True, (2, 2, 4, 5)),  # kernel = input size
]


@pytest.mark.parametrize("cin, cout, k, s, p, d, bias, shape", CONV_CONFIGS)
def test_conv2d_gradients(cin, cout, k, s, p, d, bias, shape):
    layer = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias, seed=1)
    err, errors = check_layer_gradients(layer, randn(2, *shape), per_param=True)
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())
    assert err < GRAD_TOL, errors


@pytest.mark.parametrize("layer_cls", [nn.MaxPool2d, nn.AvgPool2d])
@pytest.mark.parametrize(
    "k, s, p, shape",
    [
        (2, None, 0, (2, 3, 6, 4)),  # non-overlapping, H != W
        (3, 2, 1, (1, 2, 7, 6)),  # overlapping windows, padding, batch 1
        (2, 3, 0, (2, 1, 8, 7)),  # stride > kernel
        ((5, 4), 1, 0, (1, 2, 5, 4)),  # kernel = input size
    ],
)
def test_pool_gradients(layer_cls, k, s, p, shape):
    layer = layer_cls(k, stride=s, padding=p)
    assert check_layer_gradients(layer, distinct(3, *shape)) < GRAD_TOL


@pytest.mark.parametrize(
    "layer, shape",
    [
        (nn.ReLU(), (2, 3, 4, 5)),
        (nn.Flatten(), (2, 3, 4, 5)),
        (nn.Linear(7, 5, seed=0), (4, 7)),
        (nn.Linear(7, 5, bias=False, init="xavier", seed=0), (1, 7)),
        (nn.Dropout(0.4, seed=0), (3, 10)),
        (nn.Dropout(0.4, seed=0).eval(), (3, 10)),
    ],
    ids=["relu", "flatten", "linear", "linear-nobias-xavier", "dropout-train", "dropout-eval"],
)
def test_simple_layer_gradients(layer, shape):
    assert check_layer_gradients(layer, distinct(4, *shape)) < GRAD_TOL


def small_cnn(seed=0, dropout=True):
    layers = [
        nn.Conv2d(1, 2, 3, padding=1, seed=seed),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * 3 * 3, 3, seed=seed + 1),
    ]
    if dropout:
        layers.append(nn.Dropout(0.25, seed=seed))
    return nn.Sequential(*layers)


def test_sequential_gradients():
    model = small_cnn()
    err, errors = check_layer_gradients(model, randn(5, 2, 1, 6, 6), per_param=True)
    assert set(errors) == {"x", "0.weight", "0.bias", "4.weight", "4.bias"}
    assert err < GRAD_TOL, errors


@pytest.mark.parametrize("seed", [0, 1])
def test_whole_cnn_with_loss_gradients(seed):
    model = small_cnn(seed)
    rng = np.random.default_rng(100 + seed)
    x, targets = rng.standard_normal((2, 1, 6, 6)), rng.integers(0, 3, size=2)
    err, errors = check_loss_gradients(model, nn.SoftmaxCrossEntropy(), x, targets, per_param=True)
    assert err < GRAD_TOL, errors


def test_softmax_cross_entropy_gradient():
    logits, targets = randn(6, 4, 5), np.array([0, 4, 2, 2])
    loss = nn.SoftmaxCrossEntropy()
    loss.forward(logits, targets)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda z: loss.forward(z, targets), logits.copy(), eps=1e-5)
    assert relative_error(analytic, numeric) < GRAD_TOL
    np.testing.assert_allclose(loss.backward(0.5), 0.5 * analytic)


# --------------------------------------------------------------------------
# Agreement with torch.nn (weights copied, float64)
# --------------------------------------------------------------------------


def torch_forward_backward(module, x, g):
    """Run a torch module on x, backpropagate g; return (out, dx, {name: grad})."""
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)
    out.backward(torch.tensor(g))
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), xt.grad.numpy(), grads


def assert_layer_matches_torch(layer, module, x, seed=0):
    out = layer.forward(x)
    g = randn(seed, *out.shape)
    dx = layer.backward(g)
    t_out, t_dx, t_grads = torch_forward_backward(module, x, g)
    np.testing.assert_allclose(out, t_out, **TORCH_TOL)
    np.testing.assert_allclose(dx, t_dx, **TORCH_TOL)
    assert set(layer.grads) == set(t_grads)
    for name, grad in t_grads.items():
        np.testing.assert_allclose(layer.grads[name], grad, **TORCH_TOL)


def copy_params(layer, module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.tensor(layer.params[name]))


@pytest.mark.parametrize("cin, cout, k, s, p, d, bias, shape", CONV_CONFIGS)
def test_conv2d_matches_torch(cin, cout, k, s, p, d, bias, shape):
    layer = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias, seed=3)
    if bias:
        layer.params["bias"][...] = randn(9, cout)  # nonzero bias, so it is really tested
    module = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias).double()
    copy_params(layer, module)
    assert_layer_matches_torch(layer, module, randn(4, *shape))


@pytest.mark.parametrize(
    "k, s, p, shape",
    [
        (2, None, 0, (2, 3, 6, 4)),
        (3, 2, 1, (1, 2, 7, 6)),
        (2, 3, 0, (2, 1, 8, 7)),
        ((5, 4), 1, 0, (1, 2, 5, 4)),
    ],
)
def test_pooling_matches_torch(k, s, p, shape):
    x = distinct(5, *shape)
    assert_layer_matches_torch(nn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x)
    assert_layer_matches_torch(nn.AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p), x)


def test_relu_flatten_linear_match_torch():
    x = randn(6, 2, 3, 4, 5)
    assert_layer_matches_torch(nn.ReLU(), torch.nn.ReLU(), x)
    assert_layer_matches_torch(nn.Flatten(), torch.nn.Flatten(), x)
    for bias in (True, False):
        layer = nn.Linear(6, 4, bias=bias, seed=2)
        if bias:
            layer.params["bias"][...] = randn(7, 4)
        module = torch.nn.Linear(6, 4, bias=bias).double()
        copy_params(layer, module)
        assert_layer_matches_torch(layer, module, randn(8, 5, 6))


def test_dropout_eval_matches_torch():
    x = randn(9, 4, 6)
    assert_layer_matches_torch(nn.Dropout(0.5, seed=0).eval(), torch.nn.Dropout(0.5).eval(), x)


def test_loss_matches_torch():
    logits, targets = randn(10, 6, 4), np.array([3, 0, 1, 1, 2, 0])
    loss = nn.SoftmaxCrossEntropy()
    value = loss.forward(logits, targets)
    zt = torch.tensor(logits, requires_grad=True)
    t_value = torch.nn.CrossEntropyLoss()(zt, torch.tensor(targets))
    t_value.backward()
    assert isinstance(value, float)
    assert value == pytest.approx(t_value.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), zt.grad.numpy(), **TORCH_TOL)


def test_sequential_cnn_matches_torch():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, seed=0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 2, stride=1, seed=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 2 * 1, 5, seed=2),
        nn.Dropout(0.5).eval(),
    )
    module = (
        torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(4, 3, 2),
            torch.nn.ReLU(),
            torch.nn.AvgPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(6, 5),
            torch.nn.Dropout(0.5),
        )
        .double()
        .eval()
    )
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.tensor(model.params[name]))  # same "index.name" keys as torch
    x, targets = randn(11, 3, 2, 10, 6), np.array([4, 0, 2])
    loss = nn.SoftmaxCrossEntropy()
    value = loss.forward(model.forward(x), targets)
    dx = model.backward(loss.backward())

    xt = torch.tensor(x, requires_grad=True)
    t_value = torch.nn.functional.cross_entropy(module(xt), torch.tensor(targets))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), rel=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TORCH_TOL)
    t_grads = dict(module.named_parameters())
    assert set(model.grads) == set(t_grads)
    for name, grad in model.grads.items():
        np.testing.assert_allclose(grad, t_grads[name].grad.numpy(), **TORCH_TOL)


# --------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------


def test_he_init_std():
    layer = nn.Conv2d(64, 128, 3, seed=0)  # fan_in = 64*3*3 = 576, 73728 weights
    w = layer.params["weight"]
    expected = np.sqrt(2 / 576)
    assert abs(w.mean()) < 4 * expected / np.sqrt(w.size)
    assert w.std() == pytest.approx(expected, rel=0.01)  # std of the sample std: ~0.3%
    np.testing.assert_array_equal(layer.params["bias"], 0)
    linear = nn.Linear(1000, 200, seed=0)
    assert linear.params["weight"].std() == pytest.approx(np.sqrt(2 / 1000), rel=0.01)


def test_xavier_init_bound_and_std():
    w = nn.Linear(300, 100, init="xavier", seed=0).params["weight"]
    bound = np.sqrt(6 / (300 + 100))
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # fills the interval
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.01)  # std of Uniform(-a, a)
    wc = nn.Conv2d(8, 16, 3, init="xavier", seed=0).params["weight"]
    assert np.abs(wc).max() <= np.sqrt(6 / (8 * 9 + 16 * 9))


def test_fan_in_and_fan_out_match_torch_init():
    w = torch.empty(16, 8, 3, 5)
    std = np.sqrt(2 / (8 * 15))
    assert nn.fan_in_and_fan_out(w.shape) == (8 * 15, 16 * 15)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu", generator=torch.Generator().manual_seed(0))
    assert w.std().item() == pytest.approx(std, rel=0.05)


def test_init_seed_reproducible():
    a = nn.Conv2d(3, 4, 3, seed=7).params["weight"]
    b = nn.Conv2d(3, 4, 3, seed=7).params["weight"]
    c = nn.Conv2d(3, 4, 3, seed=8).params["weight"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(nn.he_normal((5, 6), seed=1), nn.he_normal((5, 6), seed=1))
    np.testing.assert_array_equal(
        nn.Linear(4, 3, init="xavier", seed=2).params["weight"], nn.xavier_uniform((3, 4), seed=2)
    )


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------


def test_dropout_eval_is_identity():
    x = randn(0, 5, 7)
    layer = nn.Dropout(0.5, seed=0).eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x * 2), x * 2)


def test_dropout_p0_is_identity_in_training():
    x = randn(0, 5, 7)
    layer = nn.Dropout(0.0, seed=0)
    np.testing.assert_array_equal(layer.forward(x), x)


def test_dropout_training_scales_and_preserves_expectation():
    p = 0.3
    layer = nn.Dropout(p, seed=0)
    x = np.full((200, 500), 2.0)
    out = layer.forward(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 2.0 / (1 - p))  # survivors scaled by 1/(1-p)
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)  # 100000 draws: sd 0.0015
    assert out.mean() == pytest.approx(2.0, rel=0.01)  # E[out] = x
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept / (1 - p))  # same mask
    assert not np.array_equal(layer.forward(x) != 0, kept)  # a new mask each forward


def test_dropout_seeded_masks_reproducible():
    x = np.ones((4, 50))
    a, b = nn.Dropout(0.5, seed=3), nn.Dropout(0.5, seed=3)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


# --------------------------------------------------------------------------
# Containers, modes, parameters, shapes, dtype
# --------------------------------------------------------------------------


def test_train_eval_propagate():
    model = small_cnn()
    assert model.eval() is model
    assert not model.training and all(not layer.training for layer in model)
    model.train()
    assert model.training and all(layer.training for layer in model)


def test_params_and_grads_share_memory_and_keys():
    model = small_cnn()
    assert list(model.params) == list(model.grads) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    assert model.params["0.weight"] is model[0].params["weight"]
    refs = list(model.parameters())
    assert [(r.layer, r.name) for r in refs] == [("0", "weight"), ("0", "bias"), ("4", "weight"), ("4", "bias")]
    loss = nn.SoftmaxCrossEntropy()
    loss.forward(model.forward(randn(0, 2, 1, 6, 6)), np.array([0, 2]))
    model.backward(loss.backward())
    for ref in refs:  # backward writes in place, so references taken earlier see the gradients
        assert ref.grad is model[int(ref.layer)].grads[ref.name]
        assert ref.grad.shape == ref.param.shape
    assert np.abs(refs[0].grad).sum() > 0
    model.zero_grad()
    assert all(np.all(ref.grad == 0) for ref in refs)


def test_backward_overwrites_gradients():
    layer = nn.Linear(3, 2, seed=0)
    x, g = randn(1, 4, 3), randn(2, 4, 2)
    layer.forward(x)
    layer.backward(g)
    first = layer.grads["weight"].copy()
    layer.backward(g)
    np.testing.assert_array_equal(layer.grads["weight"], first)


def test_output_shapes_match_forward_and_torch():
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, seed=0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 3, stride=2, dilation=2, seed=0),
        nn.ReLU(),
        nn.AvgPool2d(3, 2, 1),
        nn.Flatten(),
        nn.Linear(16 * 3 * 3, 10, seed=0),
        nn.Dropout(0.5),
    )
    shapes = model.output_shapes((2, 1, 28, 28))
    x = randn(0, 2, 1, 28, 28)
    for layer, shape in zip(model, shapes):
        x = layer.forward(x)
        assert x.shape == shape
    assert model.output_shape((2, 1, 28, 28)) == (2, 10)
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 3, stride=2, dilation=2),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(3, 2, 1),
    )
    assert shapes[5] == tuple(tmodel(torch.zeros(2, 1, 28, 28)).shape)


def test_repr_reads_like_torch():
    pairs = [
        (nn.Conv2d(1, 8, 3), torch.nn.Conv2d(1, 8, 3)),
        (
            nn.Conv2d(3, 16, (3, 5), stride=2, padding=1, dilation=2, bias=False),
            torch.nn.Conv2d(3, 16, (3, 5), stride=2, padding=1, dilation=2, bias=False),
        ),
        (nn.Linear(784, 10), torch.nn.Linear(784, 10)),
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.Flatten(), torch.nn.Flatten()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(nn.Sequential(nn.Flatten(), nn.Linear(4, 2))) == (
        "Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=4, out_features=2, bias=True)\n)"
    )


def test_float32_layers():
    model64 = small_cnn(dropout=False)
    model32 = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, seed=0, dtype=np.float32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(18, 3, seed=1, dtype=np.float32),
    )
    for name, p in model32.params.items():
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, model64.params[name], rtol=1e-6)
    x = randn(0, 4, 1, 6, 6)  # float64 input is converted
    out32, out64 = model32.forward(x), model64.forward(x)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    loss = nn.SoftmaxCrossEntropy()
    loss.forward(out32, np.array([0, 1, 2, 0]))
    dx = model32.backward(loss.backward())
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model32.grads.values())


# --------------------------------------------------------------------------
# Training smoke test
# --------------------------------------------------------------------------


def bars(n, rng):
    """Class 0: a vertical bar, class 1: a horizontal bar, at random positions, plus noise."""
    x = 0.3 * rng.standard_normal((n, 1, 8, 8))
    y = rng.integers(0, 2, size=n)
    pos = rng.integers(1, 7, size=n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, :, pos[i]] += 1.0
        else:
            x[i, 0, pos[i], :] += 1.0
    return x, y


def test_small_cnn_learns_bars():
    from cnnlab.optim import SGD

    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 2, seed=1)
    )
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = SGD(model, lr=0.05, momentum=0.9)
    x_test, y_test = bars(200, rng)
    first = loss_fn.forward(model.forward(x_test), y_test)
    for _ in range(50):
        x, y = bars(32, rng)
        loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        opt.step()
    model.eval()
    logits = model.forward(x_test)
    last = loss_fn.forward(logits, y_test)
    assert last < 0.3 * first
    assert (logits.argmax(axis=1) == y_test).mean() > 0.9


# --------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------


def test_conv2d_wrong_channels():
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*in_channels=3.*C=1 channels"):
        layer.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"needs x of shape \(N, C, H, W\), got a 3-D"):
        layer.forward(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"in_channels=3.*C=1"):
        nn.Sequential(layer).output_shape((2, 1, 8, 8))


def test_linear_wrong_features_hints_flatten():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=r"4-D input.*did you forget a Flatten"):
        layer.forward(np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"in_features=784.*x has 100 features.*forget Flatten"):
        layer.forward(np.zeros((2, 100)))


def test_sequential_names_the_failing_layer():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(100, 10))
    with pytest.raises(ValueError, match=r"in layer \(3\) Linear.*x has 144 features"):
        model.forward(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"in layer \(3\) Linear.*144 features"):
        model.output_shapes((2, 1, 8, 8))
    with pytest.raises(TypeError, match=r"Sequential layer 1 must have forward and backward"):
        nn.Sequential(nn.ReLU(), "relu")


@pytest.mark.parametrize(
    "layer",
    [nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(3, 2), nn.Dropout(0.5)],
    ids=repr,
)
def test_backward_before_forward(layer):
    with pytest.raises(RuntimeError, match="backward\\(\\) was called before forward\\(\\)"):
        layer.backward(np.zeros((1, 2, 2, 2)))


def test_loss_errors():
    loss = nn.SoftmaxCrossEntropy()
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()
    with pytest.raises(ValueError, match=r"logits of shape \(N, K\).*4-D"):
        loss.forward(np.zeros((2, 3, 1, 1)), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class labels"):
        loss.forward(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 3\)"):
        loss.forward(np.zeros((2, 3)), np.array([0, 3]))


def test_wrong_dout_shape():
    layer = nn.Linear(3, 2)
    layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 3\).*output of shape \(4, 2\)"):
        layer.backward(np.zeros((4, 3)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="init must be one of"):
        nn.Conv2d(1, 2, 3, init="glorot")
    with pytest.raises(ValueError, match="in_channels must be >= 1, got 0"):
        nn.Conv2d(0, 2, 3)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        nn.Conv2d(1, 2, 2.5)
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        nn.Linear(2, 3, dtype=np.int32)
    with pytest.raises(ValueError, match=r"p \(the drop probability\) must be in \[0, 1\), got 1"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        nn.MaxPool2d(2, padding=-1)
    with pytest.raises(ValueError, match="padding must be at most half of kernel_size"):
        nn.MaxPool2d(2, padding=2).output_shape((1, 1, 8, 8))
    with pytest.raises(ValueError, match="padding .* must be at most half of kernel_size"):
        nn.AvgPool2d(2, padding=2).forward(np.zeros((1, 1, 8, 8)))
