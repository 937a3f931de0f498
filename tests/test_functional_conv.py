"""conv1d/conv2d forward and backward against torch.nn.functional (float64 autograd),
naive loops against the vectorised code, and the size formulas against torch's output shapes.

Random configurations: see PLANNED_CONFIGS (the run count is printed in the pytest summary).
"""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import cnnlab.functional as F

# Tiny tensors: torch's thread pool only adds overhead (100x slower on a busy 2-core machine).
torch.set_num_threads(1)

TOL = dict(rtol=1e-9, atol=1e-9)
PLANNED_CONFIGS = {
    "conv2d vs torch": 1800,
    "conv1d vs torch": 1000,
    "conv2d naive vs vectorised": 300,
    "conv_output_size vs torch": 600,
    "conv_transpose_output_size vs torch": 400,
}
CONFIGS_RUN = Counter()  # filled as the tests run; tests/conftest.py prints the totals
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pair_or_int(draw, low, high):
    """An (h, w) pair, or a single int for both (both spellings are allowed)."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


def _pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def conv2d_configs(draw, max_channels=3, max_size=6):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = _pair_or_int(draw, 1, 4)
    padding = _pair_or_int(draw, 0, 2)
    dilation = _pair_or_int(draw, 1, 3)
    hw = []
    for k, p, d in zip(kernel, _pair(padding), _pair(dilation)):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)  # the kernel span must fit the padded input
        hw.append(draw(st.integers(smallest, smallest + max_size)))
    return dict(
        n=draw(st.integers(1, 3)),
        c_in=draw(st.integers(1, max_channels)),
        c_out=draw(st.integers(1, max_channels)),
        hw=tuple(hw),
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _make_inputs(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], cfg["c_in"]) + cfg["hw"]).astype(dtype)
    weight = rng.standard_normal((cfg["c_out"], cfg["c_in"]) + cfg["kernel"]).astype(dtype)
    bias = rng.standard_normal(cfg["c_out"]).astype(dtype) if cfg["bias"] else None
    return rng, x, weight, bias


def _torch_forward_backward(fn, x, weight, bias, rng, **kwargs):
    """Run torch ``fn`` with autograd; return (out, dout, dx, dweight, dbias) as numpy."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(weight, requires_grad=True)
    # torch's bias gradient is wanted even when our call has no bias: give torch a zero bias
    bt = torch.tensor(bias if bias is not None else np.zeros(weight.shape[0], x.dtype), requires_grad=True)
    out = fn(xt, wt, bt, **kwargs)
    dout = rng.standard_normal(tuple(out.shape)).astype(x.dtype)
    out.backward(torch.tensor(dout))
    dbias = bt.grad.numpy()
    return out.detach().numpy(), dout, xt.grad.numpy(), wt.grad.numpy(), dbias


def _conv2d_kwargs(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])


# Required corner cases (CONTRIBUTING.md): padding 0, H != W, stride > kernel, batch 1,
# dilation > 1, kernel = input size.
CORNERS = [
    dict(n=2, c_in=2, c_out=3, hw=(5, 5), kernel=(3, 3), stride=1, padding=0, dilation=1, bias=True, seed=1),
    dict(n=2, c_in=1, c_out=2, hw=(4, 7), kernel=(2, 3), stride=1, padding=(1, 0), dilation=1, bias=True, seed=2),
    dict(n=2, c_in=2, c_out=2, hw=(9, 8), kernel=(2, 2), stride=3, padding=0, dilation=1, bias=False, seed=3),
    dict(n=1, c_in=3, c_out=2, hw=(6, 5), kernel=(3, 2), stride=(2, 1), padding=1, dilation=1, bias=True, seed=4),
    dict(n=2, c_in=2, c_out=2, hw=(7, 8), kernel=(3, 3), stride=1, padding=1, dilation=(2, 3), bias=True, seed=5),
    dict(n=2, c_in=2, c_out=3, hw=(4, 5), kernel=(4, 5), stride=1, padding=0, dilation=1, bias=True, seed=6),
    dict(n=1, c_in=1, c_out=1, hw=(1, 1), kernel=(1, 1), stride=2, padding=0, dilation=1, bias=False, seed=7),
]


def _with_corners(test):
    for cfg in CORNERS:
        test = example(cfg=cfg)(test)
    return test


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["conv2d vs torch"], **SETTINGS)
@_with_corners
@given(cfg=conv2d_configs())
def test_conv2d_forward_and_backward_match_torch(cfg):
    rng, x, weight, bias = _make_inputs(cfg)
    out_t, dout, dx_t, dw_t, db_t = _torch_forward_backward(TF.conv2d, x, weight, bias, rng, **_conv2d_kwargs(cfg))
    out = F.conv2d(x, weight, bias, **_conv2d_kwargs(cfg))
    assert out.shape == out_t.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, out_t, **TOL)
    dx, dweight, dbias = F.conv2d_backward(dout, x, weight, **_conv2d_kwargs(cfg))
    np.testing.assert_allclose(dx, dx_t, **TOL)
    np.testing.assert_allclose(dweight, dw_t, **TOL)
    np.testing.assert_allclose(dbias, db_t, **TOL)
    CONFIGS_RUN["conv2d vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["conv2d naive vs vectorised"], **SETTINGS)
@_with_corners
@given(cfg=conv2d_configs(max_channels=2, max_size=4))
def test_conv2d_naive_matches_vectorised(cfg):
    rng, x, weight, bias = _make_inputs(cfg)
    out = F.conv2d(x, weight, bias, **_conv2d_kwargs(cfg))
    np.testing.assert_allclose(F.conv2d_naive(x, weight, bias, **_conv2d_kwargs(cfg)), out, **TOL)
    dout = rng.standard_normal(out.shape)
    for naive, fast in zip(
        F.conv2d_backward_naive(dout, x, weight, **_conv2d_kwargs(cfg)),
        F.conv2d_backward(dout, x, weight, **_conv2d_kwargs(cfg)),
    ):
        np.testing.assert_allclose(naive, fast, **TOL)
    CONFIGS_RUN["conv2d naive vs vectorised"] += 1


@st.composite
def conv1d_configs(draw):
    k, s, p, d = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(0, 3)), draw(st.integers(1, 3))
    smallest = max(1, d * (k - 1) + 1 - 2 * p)
    return dict(
        n=draw(st.integers(1, 3)),
        c_in=draw(st.integers(1, 3)),
        c_out=draw(st.integers(1, 3)),
        length=draw(st.integers(smallest, smallest + 8)),
        k=k,
        stride=s,
        padding=p,
        dilation=d,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["conv1d vs torch"], **SETTINGS)
@example(cfg=dict(n=1, c_in=2, c_out=2, length=5, k=5, stride=1, padding=0, dilation=1, bias=True, seed=0))
@example(cfg=dict(n=2, c_in=1, c_out=3, length=10, k=2, stride=3, padding=0, dilation=2, bias=False, seed=1))
@given(cfg=conv1d_configs())
def test_conv1d_forward_and_backward_match_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], cfg["c_in"], cfg["length"]))
    weight = rng.standard_normal((cfg["c_out"], cfg["c_in"], cfg["k"]))
    bias = rng.standard_normal(cfg["c_out"]) if cfg["bias"] else None
    kwargs = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    out_t, dout, dx_t, dw_t, db_t = _torch_forward_backward(TF.conv1d, x, weight, bias, rng, **kwargs)
    out = F.conv1d(x, weight, bias, **kwargs)
    assert out.shape == out_t.shape
    np.testing.assert_allclose(out, out_t, **TOL)
    dx, dweight, dbias = F.conv1d_backward(dout, x, weight, **kwargs)
    assert dx.shape == x.shape and dweight.shape == weight.shape
    np.testing.assert_allclose(dx, dx_t, **TOL)
    np.testing.assert_allclose(dweight, dw_t, **TOL)
    np.testing.assert_allclose(dbias, db_t, **TOL)
    CONFIGS_RUN["conv1d vs torch"] += 1


@pytest.mark.parametrize("cfg", CORNERS[:6])
def test_float32_stays_float32_and_matches_torch(cfg):
    rng, x, weight, bias = _make_inputs(cfg, dtype=np.float32)
    out_t, dout, dx_t, dw_t, db_t = _torch_forward_backward(TF.conv2d, x, weight, bias, rng, **_conv2d_kwargs(cfg))
    out = F.conv2d(x, weight, bias, **_conv2d_kwargs(cfg))
    grads = F.conv2d_backward(dout, x, weight, **_conv2d_kwargs(cfg))
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(out, out_t, rtol=1e-4, atol=1e-4)
    for got, want in zip(grads, (dx_t, dw_t, db_t)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_integer_input_becomes_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    out = F.conv2d(x, np.ones((1, 1, 2, 2), dtype=int))
    assert out.dtype == np.float64
    want = TF.conv2d(torch.tensor(x, dtype=torch.float64), torch.ones(1, 1, 2, 2, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(out, want)


@settings(max_examples=PLANNED_CONFIGS["conv_output_size vs torch"], **SETTINGS)
@example(size=5, k=3, s=2, p=1, d=1)
@example(size=3, k=3, s=1, p=0, d=1)
@example(size=9, k=2, s=3, p=0, d=1)
@example(size=10, k=3, s=2, p=3, d=3)
@given(size=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 4), d=st.integers(1, 4))
def test_conv_output_size_matches_torch_output_shape(size, k, s, p, d):
    x, w = torch.zeros(1, 1, size), torch.zeros(1, 1, k)
    if d * (k - 1) + 1 > size + 2 * p:
        with pytest.raises(RuntimeError):
            TF.conv1d(x, w, stride=s, padding=p, dilation=d)
        with pytest.raises(ValueError, match=r"spans .* larger than the padded input"):
            F.conv_output_size(size, k, s, p, d)
    else:
        assert F.conv_output_size(size, k, s, p, d) == TF.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]
    CONFIGS_RUN["conv_output_size vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["conv_transpose_output_size vs torch"], **SETTINGS)
@given(
    size=st.integers(1, 12),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    p=st.integers(0, 3),
    op=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_transpose_output_size_matches_torch(size, k, s, p, op, d):
    x, w = torch.zeros(1, 1, size), torch.zeros(1, 1, k)
    try:
        want = TF.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d).shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError):
            F.conv_transpose_output_size(size, k, s, p, op, d)
        CONFIGS_RUN["conv_transpose_output_size vs torch"] += 1
        return
    if want < 1:  # torch returns an empty tensor; we refuse
        with pytest.raises(ValueError):
            F.conv_transpose_output_size(size, k, s, p, op, d)
    else:
        assert F.conv_transpose_output_size(size, k, s, p, op, d) == want
    CONFIGS_RUN["conv_transpose_output_size vs torch"] += 1


def test_conv2d_is_cross_correlation_on_the_lecture_example():
    """A single channel conv2d equals scipy's correlate2d 'valid' (no kernel flip)."""
    from scipy.signal import correlate2d

    image, kernel = np.arange(1.0, 17).reshape(4, 4), np.array([[1.0, 0], [-1, 2]])
    np.testing.assert_allclose(
        F.conv2d(image[None, None], kernel[None, None])[0, 0], correlate2d(image, kernel, "valid"), **TOL
    )
