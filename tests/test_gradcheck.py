"""cnnlab.gradcheck: central differences, relative error, and that the layer check
catches wrong backward passes (including ones a sum() upstream gradient would miss)."""

import numpy as np
import pytest

from cnnlab import nn
from cnnlab.gradcheck import (
    check_layer_gradients,
    check_loss_gradients,
    numerical_gradient,
    relative_error,
)


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0, 0.5], [0.1, 3.0, -0.7]])
    # default eps=1e-6: rounding of f (~1e-16 * 30 / 1e-6) limits the absolute accuracy to ~1e-8
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-7, atol=1e-8)
    w = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_allclose(
        numerical_gradient(lambda v: np.sum(np.sin(v) * w), x, eps=1e-5), np.cos(x) * w, rtol=1e-8, atol=1e-10
    )


def test_numerical_gradient_is_central_and_restores_x():
    x = np.array([0.3, -1.2])
    before = x.copy()
    seen = []
    grad = numerical_gradient(lambda v: seen.append(v.copy()) or np.sum(np.exp(v)), x, eps=1e-3)
    np.testing.assert_array_equal(x, before)
    # probes at x[i] + eps then x[i] - eps, the other entries untouched
    np.testing.assert_allclose(seen[0], [0.301, -1.2])
    np.testing.assert_allclose(seen[1], [0.299, -1.2])
    central = (np.exp(before + 1e-3) - np.exp(before - 1e-3)) / 2e-3
    np.testing.assert_allclose(grad, central, rtol=1e-12)


def test_numerical_gradient_through_closure():
    w = np.array([2.0, 5.0])
    grad = numerical_gradient(lambda _: w[0] * w[1], w)
    np.testing.assert_allclose(grad, [5.0, 2.0], rtol=1e-9)


def test_numerical_gradient_errors():
    with pytest.raises(TypeError, match="float numpy array"):
        numerical_gradient(np.sum, np.array([1, 2]))
    with pytest.raises(TypeError, match="float numpy array"):
        numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError, match="eps must be > 0"):
        numerical_gradient(np.sum, np.ones(2), eps=0)


def test_relative_error():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, 0.0], [3.0, 0.0]) == pytest.approx(0.5)  # |1-3| / (1+3); 0 vs 0 is 0
    assert relative_error([1e-3], [-1e-3]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        relative_error(np.ones(2), np.ones(3))


class Reverse(nn.Layer):
    """out = x reversed along the last axis, with a backward that forgets to reverse back."""

    def forward(self, x):
        return self._remember(x, x[..., ::-1].copy())

    def backward(self, dout):
        return dout  # wrong: should be dout[..., ::-1]


def test_random_upstream_gradient_catches_what_sum_misses():
    x = np.random.default_rng(0).standard_normal((2, 5))
    layer = Reverse()
    # with L = sum(out) the wrong backward looks right: all upstream values are 1
    layer.forward(x)
    ones_dx = layer.backward(np.ones((2, 5)))
    numeric = numerical_gradient(lambda v: np.sum(layer.forward(v)), x.copy())
    assert relative_error(ones_dx, numeric) < 1e-9
    # the random upstream gradient exposes it
    assert check_layer_gradients(layer, x) > 0.1


class DoubledWeightGrad(nn.Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["weight"] *= 2
        return dx


def test_wrong_parameter_gradient_is_reported_per_parameter():
    layer = DoubledWeightGrad(4, 3, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 4))
    params_before = {k: v.copy() for k, v in layer.params.items()}
    err, errors = check_layer_gradients(layer, x, per_param=True)
    assert errors["weight"] == pytest.approx(1 / 3, rel=1e-6)  # |2a - a| / (2a + a)
    assert errors["x"] < 1e-8 and errors["bias"] < 1e-8
    assert err == errors["weight"]
    for k, v in layer.params.items():  # parameters restored exactly
        np.testing.assert_array_equal(v, params_before[k])


def test_dropout_mask_is_frozen_during_the_check():
    x = np.random.default_rng(2).standard_normal((4, 6))
    layer = nn.Dropout(0.5, seed=0)
    assert not np.array_equal(layer.forward(x), layer.forward(x))  # masks differ between calls...
    assert check_layer_gradients(layer, x) < 1e-9  # ...but not inside the check
    model = nn.Sequential(nn.Linear(6, 5, seed=0), nn.Dropout(0.5, seed=1), nn.ReLU())
    assert check_layer_gradients(model, x) < 1e-7


class ScaledLoss(nn.SoftmaxCrossEntropy):
    def backward(self, dout=1.0):
        return 2 * super().backward(dout)


def test_check_loss_gradients():
    model = nn.Sequential(nn.Linear(4, 3, seed=0))
    x, y = np.random.default_rng(3).standard_normal((3, 4)), np.array([0, 2, 1])
    err, errors = check_loss_gradients(model, nn.SoftmaxCrossEntropy(), x, y, per_param=True)
    assert set(errors) == {"x", "0.weight", "0.bias"}
    assert err < 1e-7
    assert check_loss_gradients(model, ScaledLoss(), x, y) == pytest.approx(1 / 3, rel=1e-5)


def test_gradient_check_needs_float64():
    with pytest.raises(TypeError, match="float64 parameters, got weight of dtype float32"):
        check_layer_gradients(nn.Linear(2, 2, dtype=np.float32), np.ones((1, 2)))
    with pytest.raises(TypeError, match="float64 input"):
        check_layer_gradients(nn.ReLU(), np.ones((1, 2), dtype=np.float32))
