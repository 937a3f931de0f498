"""cnnlab.optim.SGD against torch.optim.SGD, on raw arrays and on a model."""

import numpy as np
import pytest
import torch

from cnnlab import nn
from cnnlab.nn import ParamRef
from cnnlab.optim import SGD

torch.set_num_threads(1)

SHAPES = {"weight": (4, 3, 2, 2), "bias": (4,)}


def run_both(steps, exclude_bias=False, **options):
    """Apply the same random gradients to our SGD and torch's; return both parameter sets."""
    rng = np.random.default_rng(0)
    ours = {name: rng.standard_normal(shape) for name, shape in SHAPES.items()}
    grads = {name: np.zeros(shape) for name, shape in SHAPES.items()}
    theirs = {name: torch.tensor(p.copy(), requires_grad=True) for name, p in ours.items()}
    opt = SGD(
        [ParamRef("conv", name, ours[name], grads[name]) for name in SHAPES], exclude_bias=exclude_bias, **options
    )
    if exclude_bias:
        groups = [{"params": [theirs["weight"]]}, {"params": [theirs["bias"]], "weight_decay": 0.0}]
    else:
        groups = list(theirs.values())
    t_opt = torch.optim.SGD(groups, **options)
    for _ in range(steps):
        for name in SHAPES:
            g = rng.standard_normal(SHAPES[name])
            grads[name][...] = g
            theirs[name].grad = torch.tensor(g.copy())
        opt.step()
        t_opt.step()
    return ours, {name: t.detach().numpy() for name, t in theirs.items()}


@pytest.mark.parametrize(
    "options",
    [
        dict(lr=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.1, weight_decay=0.01),
        dict(lr=0.03, momentum=0.8, weight_decay=5e-3),
        dict(lr=0.03, momentum=0.5, weight_decay=0.1, nesterov=True),
    ],
    ids=str,
)
def test_sgd_matches_torch(options):
    ours, theirs = run_both(steps=6, **options)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-12)


def test_exclude_bias_matches_torch_param_groups():
    options = dict(lr=0.05, momentum=0.9, weight_decay=0.1)
    ours, theirs = run_both(steps=5, exclude_bias=True, **options)
    for name in SHAPES:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-12)
    plain, _ = run_both(steps=5, **options)
    assert not np.allclose(plain["bias"], ours["bias"])  # the option really changes the bias update


def test_sgd_plain_update_rule_by_hand():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    opt = SGD([("layer", "weight", w, g)], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()  # d = g + 0.5*w = [1.0, -0.75]; v = d; w -= 0.1*v
    np.testing.assert_allclose(w, [0.9, -1.925])
    opt.step()  # d = g + 0.5*w = [0.95, -0.7125]; v = 0.9*[1, -0.75] + d = [1.85, -1.3875]
    np.testing.assert_allclose(w, [0.9 - 0.185, -1.925 + 0.13875])


def test_sgd_on_model_matches_torch_training():
    model = nn.Sequential(nn.Conv2d(1, 3, 3, seed=0), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4, seed=1))
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(48, 4)
    ).double()
    with torch.no_grad():
        for name, p in tmodel.named_parameters():
            p.copy_(torch.tensor(model.params[name]))
    options = dict(lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    opt, t_opt = SGD(model, **options), torch.optim.SGD(tmodel.parameters(), **options)
    loss = nn.SoftmaxCrossEntropy()
    rng = np.random.default_rng(1)
    for _ in range(4):
        x, y = rng.standard_normal((5, 1, 6, 6)), rng.integers(0, 4, size=5)
        loss.forward(model.forward(x), y)
        model.backward(loss.backward())
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        t_opt.step()
    for name, p in tmodel.named_parameters():
        np.testing.assert_allclose(model.params[name], p.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sgd_reads_model_parameters_each_step():
    layer = nn.Linear(2, 2, seed=0)
    opt = SGD(layer, lr=1.0)
    layer.params["weight"] = np.zeros((2, 2))  # replaced after the optimiser was made
    layer.grads["weight"][...] = 1.0
    opt.step()
    np.testing.assert_array_equal(layer.params["weight"], -1.0)


def test_zero_grad_and_float32():
    layer = nn.Linear(3, 2, seed=0, dtype=np.float32)
    opt = SGD(layer, lr=0.1, momentum=0.9, weight_decay=1e-2)
    layer.forward(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 2), dtype=np.float32))
    opt.step()
    assert layer.params["weight"].dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.velocity.values())
    opt.zero_grad()
    assert all(np.all(g == 0) for g in layer.grads.values())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(lr=0), ValueError, r"lr must be a finite number > 0, got 0"),
        (dict(lr=-0.1), ValueError, r"lr must be a finite number > 0"),
        (dict(lr="0.1"), TypeError, r"lr must be a number"),
        (dict(lr=0.1, momentum=1.0), ValueError, r"momentum must be in \[0, 1\), got 1.0"),
        (dict(lr=0.1, momentum=-0.5), ValueError, r"momentum must be in \[0, 1\)"),
        (dict(lr=0.1, weight_decay=-1e-4), ValueError, r"weight_decay must be >= 0, got -0.0001"),
        (dict(lr=0.1, nesterov=True), ValueError, r"nesterov=True needs momentum > 0"),
        (dict(lr=float("nan")), ValueError, r"lr must be a finite number"),
    ],
)
def test_sgd_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        SGD(nn.Linear(2, 2), **kwargs)


def test_sgd_needs_parameters():
    with pytest.raises(ValueError, match="SGD got no parameters"):
        SGD(nn.Sequential(nn.ReLU(), nn.Flatten()), lr=0.1)
    with pytest.raises(ValueError, match=r"gradient of l.weight has shape \(3,\).*\(2,\)"):
        SGD([("l", "weight", np.zeros(2), np.zeros(3))], lr=0.1)
