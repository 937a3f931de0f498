"""cnnlab.train's device choice and determinism: CUDA, then MPS, then CPU; cuBLAS/cuDNN set up; RNG restored.

GPUs are simulated by replacing torch's availability functions; the last test runs only where
CUDA is really present.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnlab import train  # noqa: E402


@pytest.mark.parametrize("cuda, mps, expected", [
    (True, True, "cuda"),
    (True, False, "cuda"),
    (False, True, "mps"),
    (False, False, "cpu"),
])
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert train.pick_device("auto").type == expected
    assert train.pick_device("cpu").type == "cpu"           # explicit choices pass through
    assert train.pick_device(torch.device("cpu")).type == "cpu"


def test_auto_works_on_a_torch_without_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delattr(torch.backends, "mps")
    assert train.pick_device("auto").type == "cpu"


def test_importing_train_sets_the_cublas_workspace_unless_the_user_chose_one():
    code = "import os, cnnlab.train; print(os.environ['CUBLAS_WORKSPACE_CONFIG'])"
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    run = lambda env: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,  # noqa: E731
                                     text=True, check=True).stdout.strip()
    assert run(env) == ":4096:8"
    assert run({**env, "CUBLAS_WORKSPACE_CONFIG": ":16:8"}) == ":16:8"
    assert "torch" not in subprocess.run([sys.executable, "-c", "import sys, cnnlab.train; print(sorted(sys.modules))"],
                                         capture_output=True, text=True, check=True).stdout.split("'")


def test_deterministic_sets_cudnn_and_cublas_inside_and_restores_after(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    with train.deterministic(3):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark is False
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic is False and torch.backends.cudnn.benchmark is True
    assert not torch.are_deterministic_algorithms_enabled()


def test_deterministic_warns_about_a_cublas_setting_that_is_not_reproducible(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.warns(UserWarning, match="CUBLAS_WORKSPACE_CONFIG=':0:0'"):
        with train.deterministic(0):
            pass


def test_deterministic_seeds_inside_and_restores_the_callers_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(4)                    # what the caller's next draw should be ...
    torch.manual_seed(123)
    with train.deterministic(7):
        inside = torch.rand(4)
    after = torch.rand(4)
    torch.manual_seed(7)
    assert torch.equal(inside, torch.rand(4))  # seeded with 7 inside
    assert torch.equal(after, expected)        # ... and is, as if the block never ran


def tiny_model():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Dropout(0.5),
                               torch.nn.ReLU(), torch.nn.Linear(8, 3))


def tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 4, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_fit_restores_torchs_global_random_state():
    torch.manual_seed(2024)
    model = tiny_model()
    state = torch.get_rng_state()
    train.fit(model, tiny_data(), epochs=2, batch_size=16, device="cpu", progress=False, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


def run_twice_on(device):
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model = tiny_model()
        histories.append(train.fit(model, tiny_data(), tiny_data(32, seed=1), epochs=2, batch_size=16,
                                   device=device, progress=False, seed=1))
    return histories


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda_is_reproducible_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # e.g. "Deterministic behavior was enabled ... CuBLAS"
        first, second = run_twice_on("auto")
    assert first["train_loss"] == second["train_loss"] and first["test_acc"] == second["test_acc"]
