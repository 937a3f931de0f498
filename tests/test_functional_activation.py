"""relu, softmax, log_softmax and cross_entropy (forward and backward) against torch (float64 autograd).

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

torch.set_num_threads(1)  # tiny tensors: torch's thread pool only adds overhead

TOL = dict(rtol=1e-9, atol=1e-9)
PLANNED_CONFIGS = {"relu vs torch": 300, "softmax/log_softmax vs torch": 500, "cross_entropy vs torch": 700}
CONFIGS_RUN = Counter()  # filled as the tests run; tests/conftest.py prints the totals
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=PLANNED_CONFIGS["relu vs torch"], **SETTINGS)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), zeros=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_relu_forward_and_backward_match_torch(shape, zeros, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if zeros:
        x = np.round(x)  # exact zeros: the gradient there is 0, as in torch
    xt = torch.tensor(x, requires_grad=True)
    out = TF.relu(xt)
    dout = rng.standard_normal(shape)
    out.backward(torch.tensor(dout))
    np.testing.assert_array_equal(F.relu(x), out.detach().numpy())
    np.testing.assert_allclose(F.relu_backward(dout, x), xt.grad.numpy(), **TOL)
    CONFIGS_RUN["relu vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["softmax/log_softmax vs torch"], **SETTINGS)
@example(n=1, k=1, scale=1.0, seed=0)
@example(n=3, k=4, scale=1e4, seed=1)
@given(
    n=st.integers(1, 6),
    k=st.integers(1, 8),
    scale=st.sampled_from([1.0, 10.0, 1e3, 1e4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_softmax_and_log_softmax_match_torch(n, k, scale, seed):
    logits = np.random.default_rng(seed).standard_normal((n, k)) * scale
    lt = torch.tensor(logits)
    np.testing.assert_allclose(F.softmax(logits), TF.softmax(lt, dim=-1).numpy(), **TOL)
    np.testing.assert_allclose(F.log_softmax(logits), TF.log_softmax(lt, dim=-1).numpy(), **TOL)
    np.testing.assert_allclose(F.softmax(logits[0]), TF.softmax(lt[0], dim=-1).numpy(), **TOL)
    CONFIGS_RUN["softmax/log_softmax vs torch"] += 1


@settings(max_examples=PLANNED_CONFIGS["cross_entropy vs torch"], **SETTINGS)
@example(n=1, k=1, scale=1.0, seed=0)
@example(n=4, k=10, scale=1e4, seed=1)
@given(
    n=st.integers(1, 8),
    k=st.integers(1, 10),
    scale=st.sampled_from([1.0, 10.0, 1e3, 1e4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_cross_entropy_forward_and_backward_match_torch(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    logits, targets = rng.standard_normal((n, k)) * scale, rng.integers(0, k, size=n)
    lt = torch.tensor(logits, requires_grad=True)
    loss = TF.cross_entropy(lt, torch.tensor(targets))
    loss.backward()
    got = F.cross_entropy(logits, targets)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, loss.item(), **TOL)
    np.testing.assert_allclose(F.cross_entropy_backward(logits, targets), lt.grad.numpy(), **TOL)
    CONFIGS_RUN["cross_entropy vs torch"] += 1


def test_softmax_rows_sum_to_one_for_huge_logits():
    p = F.softmax(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, **TOL)
    np.testing.assert_allclose(p[1], 1 / 3, **TOL)


@pytest.mark.parametrize("fn", [F.relu, F.softmax, F.log_softmax])
def test_float32_stays_float32(fn):
    assert fn(np.ones((2, 3), np.float32)).dtype == np.float32
