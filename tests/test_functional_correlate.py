"""1-D and 2-D cross-correlation/convolution against numpy.correlate/numpy.convolve and
scipy.signal.correlate2d/convolve2d (zero fill), naive loops included; zero padding against numpy.pad.

Random configurations: see PLANNED_CONFIGS (the run count is printed in the pytest summary).
"""

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import signal

import cnnlab.functional as F

TOL = dict(rtol=1e-9, atol=1e-9)
PLANNED_CONFIGS = {"1-D vs numpy": 1200, "2-D vs scipy": 900, "zero_pad vs numpy.pad": 200}
CONFIGS_RUN = Counter()  # filled as the tests run; tests/conftest.py prints the totals
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = ("valid", "same", "full")


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["1-D vs numpy"], **SETTINGS)
@example(n=5, m=3, seed=0)  # kernel shorter than the signal
@example(n=4, m=4, seed=1)  # kernel = input size
@example(n=3, m=6, seed=2)  # kernel longer: numpy swaps the arrays
@example(n=1, m=1, seed=3)
@given(n=st.integers(1, 12), m=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_1d_modes_match_numpy(n, m, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(m)
    for mode in MODES:
        want_corr, want_conv = np.correlate(x, w, mode), np.convolve(x, w, mode)
        for got, want in [
            (F.correlate1d(x, w, mode), want_corr),
            (F.correlate1d_naive(x, w, mode), want_corr),
            (F.convolve1d(x, w, mode), want_conv),
            (F.convolve1d_naive(x, w, mode), want_conv),
        ]:
            assert got.shape == want.shape, (mode, got.shape, want.shape)
            np.testing.assert_allclose(got, want, **TOL)
    CONFIGS_RUN["1-D vs numpy"] += 1


@pytest.mark.slow  # a property test over thousands of random configurations
@settings(max_examples=PLANNED_CONFIGS["2-D vs scipy"], **SETTINGS)
@example(shape=(4, 4), kshape=(2, 2), seed=0)
@example(shape=(3, 5), kshape=(3, 5), seed=1)  # kernel = input size, H != W
@example(shape=(2, 3), kshape=(4, 5), seed=2)  # kernel larger in both axes: scipy swaps in 'valid'
@example(shape=(2, 5), kshape=(4, 3), seed=3)  # larger in one axis only: 'valid' is an error
@given(
    shape=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kshape=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    seed=st.integers(0, 2**32 - 1),
)
def test_2d_modes_match_scipy(shape, kshape, seed):
    rng = np.random.default_rng(seed)
    image, kernel = rng.standard_normal(shape), rng.standard_normal(kshape)
    pairs = [
        (signal.correlate2d, F.correlate2d, F.correlate2d_naive),
        (signal.convolve2d, F.convolve2d, F.convolve2d_naive),
    ]
    for mode in MODES:
        for oracle, fast, naive in pairs:
            try:
                want = oracle(image, kernel, mode)
            except ValueError:
                with pytest.raises(ValueError, match="kernel of shape"):
                    fast(image, kernel, mode)
                continue
            for got in (fast(image, kernel, mode), naive(image, kernel, mode)):
                assert got.shape == want.shape, (mode, got.shape, want.shape)
                np.testing.assert_allclose(got, want, **TOL)
    CONFIGS_RUN["2-D vs scipy"] += 1


@settings(max_examples=PLANNED_CONFIGS["zero_pad vs numpy.pad"], **SETTINGS)
@given(
    shape=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    ph=st.integers(0, 3),
    pw=st.integers(0, 3),
    as_int=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_zero_pad_matches_numpy_pad(shape, ph, pw, as_int, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    padding = ph if as_int else (ph, pw)
    pw = ph if as_int else pw
    want = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])
    np.testing.assert_array_equal(F.zero_pad(x, padding), want)
    np.testing.assert_array_equal(F.zero_pad1d(x, ph), np.pad(x, [(0, 0)] * (x.ndim - 1) + [(ph, ph)]))
    CONFIGS_RUN["zero_pad vs numpy.pad"] += 1


def test_float32_stays_float32():
    x, w = np.arange(6, dtype=np.float32), np.array([1, -1], dtype=np.float32)
    for fn in (F.correlate1d, F.convolve1d):
        assert fn(x, w, "same").dtype == np.float32
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    for fn in (F.correlate2d, F.convolve2d):
        assert fn(image, np.ones((2, 2), np.float32), "full").dtype == np.float32
    np.testing.assert_allclose(
        F.correlate2d(image, np.ones((2, 2), np.float32)),
        signal.correlate2d(image, np.ones((2, 2), np.float32), "valid"),
        rtol=1e-6,
    )


def test_correlate_does_not_flip_and_convolve_does():
    x, w = np.array([0.0, 1, 0, 0]), np.array([1.0, 2])
    np.testing.assert_array_equal(F.correlate1d(x, w), np.correlate(x, w))  # [2, 1, 0]
    np.testing.assert_array_equal(F.convolve1d(x, w), np.convolve(x, w, "valid"))  # [1, 2, 0]
    assert not np.array_equal(F.correlate1d(x, w), F.convolve1d(x, w))
