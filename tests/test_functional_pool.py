"""Pooling forward and backward against torch.nn.functional (float64 autograd), ties in
max pooling, naive loops against the vectorised code.

Random configurations: see PLANNED_CONFIGS (the run count is printed in the pytest summary).
"""

import itertools
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import cnnlab.functional as F

torch.set_num_threads(1)  # tiny tensors: torch's thread pool only adds overhead

TOL = dict(rtol=1e-9, atol=1e-9)
PLANNED_CONFIGS = {
    "max_pool2d vs torch": 1200,
    "avg_pool2d vs torch": 900,
    "min_pool2d vs torch": 400,
    "lp_pool2d vs torch": 500,
    "max_pool2d ties vs torch": 400,
    "pool naive vs vectorised": 300,
}
CONFIGS_RUN = Counter()  # filled as the tests run; tests/conftest.py prints the totals
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pool_configs(draw, dilation=True, padding=True, max_size=6):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4)))
    pad = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2))) if padding else (0, 0)
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    hw = []
    for k, p, d in zip(kernel, pad, dil):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        hw.append(draw(st.integers(smallest, smallest + max_size)))
    return dict(
        n=draw(st.integers(1, 3)),
        c=draw(st.integers(1, 3)),
        hw=tuple(hw),
        kernel=kernel,
        stride=stride,
        padding=pad,
        dilation=dil,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


# Required corner cases: padding 0, H != W, stride > kernel, overlapping windows
# (kernel 3 stride 2), batch 1, dilation > 1, kernel = input size.
CORNERS = [
    dict(n=2, c=2, hw=(4, 6), kernel=(2, 2), stride=None, padding=(0, 0), dilation=(1, 1), seed=1),
    dict(n=2, c=2, hw=(9, 7), kernel=(2, 2), stride=(3, 3), padding=(0, 0), dilation=(1, 1), seed=2),
    dict(n=1, c=3, hw=(7, 7), kernel=(3, 3), stride=(2, 2), padding=(0, 0), dilation=(1, 1), seed=3),
    dict(n=2, c=1, hw=(6, 8), kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), seed=4),
    dict(n=2, c=2, hw=(8, 9), kernel=(2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 2), seed=5),
    dict(n=1, c=2, hw=(4, 5), kernel=(4, 5), stride=None, padding=(0, 0), dilation=(1, 1), seed=6),
]
CORNERS_NO_DILATION = [c for c in CORNERS if c["dilation"] == (1, 1)]


def _with(corners, **extra):
    def decorate(test):
        for cfg in corners:
            test = example(cfg=cfg, **extra)(test)
        return test

    return decorate


def _x(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    return rng, rng.standard_normal((cfg["n"], cfg["c"]) + cfg["hw"]).astype(dtype)


def _torch_pool(fn, x, rng, **kwargs):
    """torch forward + backward with a random upstream gradient: (out, dout, dx).

    With dilation a pooling window can lie entirely in the padding: its output is -inf and
    torch's backward then reads an invalid index (garbage gradients or an abort), so inside
    property tests such configurations are rejected before torch's backward runs.
    """
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt, **kwargs)
    if kwargs.get("dilation", 1) != 1 and not bool(torch.isfinite(out).all()):
        assume(False)
    dout = rng.standard_normal(tuple(out.shape)).astype(x.dtype)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), dout, xt.grad.numpy()


def _kw(cfg, dilation=True):
    kwargs = dict(kernel_size=cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"])
    if dilation:
        kwargs["dilation"] = cfg["dilation"]
    return kwargs


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["max_pool2d vs torch"], **SETTINGS)
@_with(CORNERS)
@given(cfg=pool_configs())
def test_max_pool2d_forward_and_backward_match_torch(cfg):
    rng, x = _x(cfg)
    out_t, dout, dx_t = _torch_pool(TF.max_pool2d, x, rng, **_kw(cfg))
    out = F.max_pool2d(x, **_kw(cfg))
    assert out.shape == out_t.shape
    np.testing.assert_allclose(out, out_t, **TOL)
    np.testing.assert_allclose(F.max_pool2d_backward(dout, x, **_kw(cfg)), dx_t, **TOL)
    CONFIGS_RUN["max_pool2d vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["max_pool2d ties vs torch"], **SETTINGS)
@example(cfg=dict(n=1, c=1, hw=(4, 4), kernel=(2, 2), stride=None, padding=(0, 0), dilation=(1, 1), seed=0))
@given(cfg=pool_configs())
def test_max_pool2d_backward_ties_go_where_torch_sends_them(cfg):
    """Values from {0, 1, 2}: most windows have several maxima; torch routes to the first."""
    rng = np.random.default_rng(cfg["seed"])
    x = rng.integers(0, 3, size=(cfg["n"], cfg["c"]) + cfg["hw"]).astype(np.float64)
    out_t, dout, dx_t = _torch_pool(TF.max_pool2d, x, rng, **_kw(cfg))
    np.testing.assert_allclose(F.max_pool2d_backward(dout, x, **_kw(cfg)), dx_t, **TOL)
    np.testing.assert_allclose(F.max_pool2d_backward_naive(dout, x, **_kw(cfg)), dx_t, **TOL)
    CONFIGS_RUN["max_pool2d ties vs torch"] += 1


def test_max_pool2d_all_equal_window_sends_gradient_to_top_left():
    x = np.ones((1, 1, 2, 2))
    dx = F.max_pool2d_backward(np.array([[[[5.0]]]]), x, 2)
    np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["avg_pool2d vs torch"], **SETTINGS)
@_with(CORNERS_NO_DILATION)
@given(cfg=pool_configs(dilation=False))
def test_avg_pool2d_forward_and_backward_match_torch(cfg):
    rng, x = _x(cfg)
    out_t, dout, dx_t = _torch_pool(TF.avg_pool2d, x, rng, count_include_pad=True, **_kw(cfg, dilation=False))
    out = F.avg_pool2d(x, **_kw(cfg, dilation=False))
    assert out.shape == out_t.shape
    np.testing.assert_allclose(out, out_t, **TOL)
    np.testing.assert_allclose(F.avg_pool2d_backward(dout, x, **_kw(cfg, dilation=False)), dx_t, **TOL)
    CONFIGS_RUN["avg_pool2d vs torch"] += 1


def _torch_min_pool2d(x, **kwargs):
    return -TF.max_pool2d(-x, **kwargs)


@settings(max_examples=PLANNED_CONFIGS["min_pool2d vs torch"], **SETTINGS)
@_with(CORNERS, ties=False)
@given(cfg=pool_configs(), ties=st.booleans())
def test_min_pool2d_forward_and_backward_match_torch(cfg, ties):
    rng, x = _x(cfg)
    if ties:
        x = np.round(x)
    out_t, dout, dx_t = _torch_pool(_torch_min_pool2d, x, rng, **_kw(cfg))
    np.testing.assert_allclose(F.min_pool2d(x, **_kw(cfg)), out_t, **TOL)
    np.testing.assert_allclose(F.min_pool2d_backward(dout, x, **_kw(cfg)), dx_t, **TOL)
    CONFIGS_RUN["min_pool2d vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["lp_pool2d vs torch"], **SETTINGS)
@example(cfg=CORNERS[2], p=2.0, sign=True)
@example(cfg=CORNERS[5], p=1.0, sign=False)
@given(
    cfg=pool_configs(dilation=False, padding=False),
    p=st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0, 0.5]),
    sign=st.booleans(),
)
def test_lp_pool2d_matches_torch(cfg, p, sign):
    """Non-negative x for any p; signed x only with p = 2 or 4, where x**p >= 0 (else both give NaN)."""
    _, x = _x(cfg)
    if sign and p in (2.0, 4.0):
        pass
    else:
        x = np.abs(x)
    want = TF.lp_pool2d(torch.tensor(x), p, cfg["kernel"], cfg["stride"]).numpy()
    np.testing.assert_allclose(F.lp_pool2d(x, p, cfg["kernel"], cfg["stride"]), want, **TOL)
    CONFIGS_RUN["lp_pool2d vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["pool naive vs vectorised"], **SETTINGS)
@_with(CORNERS)
@given(cfg=pool_configs(max_size=4))
def test_pool_naive_matches_vectorised(cfg):
    rng, x = _x(cfg)
    np.testing.assert_allclose(F.max_pool2d_naive(x, **_kw(cfg)), F.max_pool2d(x, **_kw(cfg)), **TOL)
    dout = rng.standard_normal(F.max_pool2d(x, **_kw(cfg)).shape)
    np.testing.assert_allclose(
        F.max_pool2d_backward_naive(dout, x, **_kw(cfg)), F.max_pool2d_backward(dout, x, **_kw(cfg)), **TOL
    )
    np.testing.assert_allclose(
        F.avg_pool2d_naive(x, **_kw(cfg, dilation=False)), F.avg_pool2d(x, **_kw(cfg, dilation=False)), **TOL
    )
    CONFIGS_RUN["pool naive vs vectorised"] += 1


@pytest.mark.parametrize("cfg", CORNERS_NO_DILATION)
@pytest.mark.parametrize("name", ["max", "avg", "min"])
def test_float32_stays_float32_and_matches_torch(cfg, name):
    rng, x = _x(cfg, np.float32)
    forward, backward, oracle = {
        "max": (F.max_pool2d, F.max_pool2d_backward, TF.max_pool2d),
        "avg": (F.avg_pool2d, F.avg_pool2d_backward, TF.avg_pool2d),
        "min": (F.min_pool2d, F.min_pool2d_backward, _torch_min_pool2d),
    }[name]
    out_t, dout, dx_t = _torch_pool(oracle, x, rng, **_kw(cfg, dilation=False))
    out, dx = forward(x, **_kw(cfg, dilation=False)), backward(dout, x, **_kw(cfg, dilation=False))
    assert out.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_allclose(out, out_t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-5, atol=1e-5)


def test_lp_pool2d_float32_stays_float32():
    x = np.abs(np.random.default_rng(0).standard_normal((1, 2, 6, 6))).astype(np.float32)
    out = F.lp_pool2d(x, 2, 3, 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, TF.lp_pool2d(torch.tensor(x), 2, 3, 2).numpy(), rtol=1e-5)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_torch(ceil_mode):
    """The one output-size rule of pooling (used by nn, summary and the widgets) against torch's shapes."""
    checked = 0
    for size, k, s, p in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(0, 3)):
        if p > k // 2:
            with pytest.raises(ValueError, match="must be at most half of kernel_size"):
                F.pool_output_size(size, k, s, p, ceil_mode=ceil_mode)
            continue
        try:
            expected = TF.max_pool2d(torch.zeros(1, 1, size, 1), (k, 1), (s, 1), (p, 0), ceil_mode=ceil_mode).shape[2]
        except RuntimeError:  # torch: no window fits
            with pytest.raises(ValueError):
                F.pool_output_size(size, k, s, p, ceil_mode=ceil_mode)
            continue
        assert F.pool_output_size(size, k, s, p, ceil_mode=ceil_mode) == expected, (size, k, s, p)
        checked += 1
    assert checked > 100
