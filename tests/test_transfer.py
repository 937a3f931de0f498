"""Models sent as plain data (cnnlab.grading.transfer): described, rebuilt, verified."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn as tnn

from cnnlab import nn
from cnnlab.grading import mnist as g
from cnnlab.grading import transfer as T

PLAIN = (np.ndarray, str, int, float, bool, type(None))


def assert_plain(value, where="description"):
    """Only dicts with str keys, lists, ndarrays of numbers, str, int, float, bool and None."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            assert_plain(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert type(value) in PLAIN, f"{where}: {type(value).__name__}"
        if isinstance(value, np.ndarray):
            assert value.dtype.kind in "biuf", f"{where}: dtype {value.dtype}"


def round_trip(model, probe=None):
    probe = T.make_probe(0) if probe is None else probe
    description = T.describe(model, probe)
    assert_plain(description)
    return T.rebuild(description, probe), description


def numpy_solution(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, seed=seed, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, seed=seed + 1, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, seed=seed + 2, dtype=np.float32))


def torch_solution():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))


class FunctionalNet(tnn.Module):
    """A Module subclass whose forward uses F.* calls, a method call and .view."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = tnn.Conv2d(16, 32, 5, padding=2)
        self.fc = tnn.Linear(1568, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(self.conv2(x).relu(), kernel_size=2, stride=2)
        x = x.view(x.size(0), -1)
        x = F.dropout(x, 0.25, training=self.training)
        return self.fc(x)


def other_input(n=5):
    return np.random.default_rng(7).standard_normal((n, 1, 28, 28)).astype(np.float32)


def torch_out(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x)).numpy()


# ----------------------------------------------------------------------------- cnnlab.nn


def test_numpy_solution_round_trip_computes_the_same_on_other_inputs():
    model = numpy_solution(seed=3)
    rebuilt, description = round_trip(model)
    assert type(rebuilt) is nn.Sequential and [type(layer) for layer in rebuilt] == [type(layer) for layer in model]
    assert [repr(a) for a in rebuilt] == [repr(b) for b in model]
    for key, value in model.params.items():
        assert rebuilt.params[key].dtype == value.dtype and np.array_equal(rebuilt.params[key], value)
    x = other_input()
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))
    # the rebuilt model trains: backward fills its own gradients
    rebuilt.backward(np.ones((5, 10), np.float32))
    assert np.abs(rebuilt.grads["7.weight"]).sum() > 0
    assert description["kind"] == "cnnlab" and description["error"] is None


def test_numpy_modes_dropout_and_nesting_survive():
    inner = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, dilation=1, bias=False), nn.ReLU())
    model = nn.Sequential(inner, nn.AvgPool2d((2, 3), stride=(1, 2)), nn.Dropout(0.3), nn.Flatten(),
                          nn.Linear(4 * 12 * 6, 10, dtype=np.float64))
    model.eval()
    model.layers[2].train()
    rebuilt, _ = round_trip(model)
    assert rebuilt.training is False and rebuilt.layers[2].training is True
    assert isinstance(rebuilt.layers[0], nn.Sequential) and "bias" not in rebuilt.layers[0].layers[0].params
    assert rebuilt.layers[1].kernel_size == (2, 3) and rebuilt.layers[2].p == 0.3
    x = other_input(2)
    np.testing.assert_allclose(rebuilt.eval().forward(x), model.eval().forward(x))


def test_numpy_custom_layer_class_is_refused():
    class Square(nn.ReLU):
        def forward(self, x):
            return x * x

    with pytest.raises(AssertionError, match="cannot replay: layer 1 is a Square"):
        round_trip(nn.Sequential(nn.Conv2d(1, 2, 3), Square(), nn.Flatten(), nn.Linear(2 * 26 * 26, 10)))


def test_numpy_forward_error_is_replayed():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(100, 10))
    rebuilt, description = round_trip(model)
    assert description["outputs"] is None and description["error"].startswith("ValueError")
    message = pytest.raises(AssertionError, g.check_numpy_cnn, rebuilt).value.args[0]
    assert "in_features is wrong" in message and "5408" in message


# ----------------------------------------------------------------------------- torch


@pytest.mark.parametrize("build", [torch_solution, FunctionalNet], ids=["sequential", "module-subclass"])
def test_torch_round_trip_is_a_sequential_computing_the_same(build):
    torch.manual_seed(0)
    model = build()
    rebuilt, description = round_trip(model)
    assert type(rebuilt) is tnn.Sequential
    assert [op["op"] for op in description["ops"]][:3] == ["conv2d", "relu", "max_pool2d"]
    x = other_input()
    np.testing.assert_allclose(torch_out(rebuilt, x), torch_out(model, x), rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in model.parameters())
    # the check says the same about the replay as about the original (FunctionalNet's dropout is not in the table)
    verdicts = []
    for candidate in (model, rebuilt):
        try:
            verdicts.append(repr(g.check_torch_cnn(candidate, hidden=True)))
        except AssertionError as failure:
            verdicts.append(str(failure))
    assert verdicts[0] == verdicts[1]


def test_torch_layers_beyond_the_exercise_replay():
    model = tnn.Sequential(
        tnn.Conv2d(1, 6, 3, padding="same"), tnn.BatchNorm2d(6), tnn.LeakyReLU(0.2),
        tnn.Conv2d(6, 6, 3, groups=3, stride=(2, 1), bias=False), tnn.GELU(), tnn.AvgPool2d(2, ceil_mode=True),
        tnn.AdaptiveAvgPool2d((4, 4)), tnn.Dropout2d(0.1), tnn.Flatten(), tnn.Linear(96, 32), tnn.Tanh(),
        tnn.Linear(32, 10), tnn.LogSoftmax(dim=1))
    with torch.no_grad():  # running statistics that are not the defaults
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    rebuilt, _ = round_trip(model)
    x = other_input()
    np.testing.assert_allclose(torch_out(rebuilt, x), torch_out(model, x), rtol=1e-5, atol=1e-6)
    kinds = [type(m).__name__ for m in rebuilt]
    assert kinds[:3] == ["Conv2d", "BatchNorm2d", "LeakyReLU"] and kinds[-1] == "LogSoftmax"


def test_torch_flags_dtypes_unused_and_shared_parameters_survive():
    class Shared(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(1, 1, 3, padding=1)
            self.fc = tnn.Linear(784, 10)
            self.spare = tnn.Linear(10, 10)   # never called

        def forward(self, x):
            x = torch.relu(self.conv(torch.relu(self.conv(x))))   # the same layer twice
            return self.fc(torch.flatten(x, 1))

    model = Shared().double()
    model.conv.bias.requires_grad_(False)
    rebuilt, description = round_trip(model)
    assert description["probe_dtype"] == "float64"
    params = list(rebuilt.parameters())
    assert sum(p.numel() for p in params) == sum(p.numel() for p in model.parameters())
    assert all(p.dtype == torch.float64 for p in params)
    assert rebuilt[0].weight is rebuilt[2].weight and not rebuilt[0].bias.requires_grad
    assert len(description["unused"]) == 2
    message = pytest.raises(AssertionError, g.check_torch_cnn, rebuilt, spec=None).value.args[0]
    assert "only" in message and "used in the forward pass" in message


def test_torch_forward_error_is_replayed_and_diagnosed():
    model = tnn.Sequential(*list(torch_solution())[:7], tnn.Linear(800, 10))
    rebuilt, description = round_trip(model)
    assert description["error"].startswith("RuntimeError") and description["failed_op"] == 7
    original = pytest.raises(AssertionError, g.check_torch_cnn, model).value.args[0]
    replayed = pytest.raises(AssertionError, g.check_torch_cnn, rebuilt).value.args[0]
    assert "in_features is wrong" in replayed and replayed == original


@pytest.mark.parametrize("forward, phrase", [
    (lambda self, x: self.conv(x) + x, "residual"),
    (lambda self, x: self.conv(x) * 2, "the operation mul"),
    (lambda self, x: (self.conv(x), x), "returns a tuple"),
    (lambda self, x: F.dropout(self.conv(x), 0.5), "dropout that stays on"),
    (lambda self, x: self.conv(x)[:, :1], "the operation __getitem__"),
])
def test_torch_unsupported_operations_are_refused_with_a_message(forward, phrase):
    class Odd(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(1, 1, 3, padding=1)

    Odd.forward = forward
    with pytest.raises(AssertionError) as info:
        round_trip(Odd())
    assert "your network does something cnnlab cannot replay" in str(info.value)
    assert phrase in str(info.value) and "ask your instructor" in str(info.value)


def test_a_python_error_in_forward_is_reported():
    class Broken(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(1, 1, 3)

        def forward(self, x):
            return undefined_name(self.conv(x))  # noqa: F821

    with pytest.raises(AssertionError, match="failed: NameError"):
        round_trip(Broken())


# ----------------------------------------------------------------------------- verification


def test_tampered_parameters_fail_verification():
    probe = T.make_probe(1)
    for model, key in [(numpy_solution(), None), (torch_solution(), "weight")]:
        description = T.describe(model, probe)
        if key is None:
            description["model"]["layers"][3]["params"]["weight"][0, 0, 0, 0] += 0.5
        else:
            description["ops"][3]["tensors"][key]["values"][0, 0, 0, 0] += 0.5
        with pytest.raises(AssertionError, match="does not reproduce your network's outputs"):
            T.rebuild(description, probe)


def test_outputs_claimed_for_a_failing_network_or_another_probe_are_refused():
    probe = T.make_probe(2)
    description = T.describe(torch_solution(), probe)
    with pytest.raises(AssertionError, match="other probe inputs"):
        T.rebuild(description, T.make_probe(3))
    description["error"] = "RuntimeError: made up"
    description["failed_op"] = 7
    with pytest.raises(AssertionError, match="but the rebuilt one did not"):
        T.rebuild(description, probe)


@pytest.mark.parametrize("edit, phrase", [
    (lambda d: d["model"]["layers"][0].update({"class": "__import__('os').system('true')"}), "cannot replay"),
    (lambda d: d["model"]["layers"][0]["args"].update({"in_channels": "1"}), "must be an int"),
    (lambda d: d["model"]["layers"][0]["params"].update({"weight": [[1.0]]}), "must have the parameters"),
    (lambda d: d["model"]["layers"][0]["params"].update({"weight": np.array(["x"])}), "float16/32/64"),
    (lambda d: d["model"]["layers"][7]["args"].update({"dtype": "object"}), "'float32' or 'float64'"),
    (lambda d: d.update({"format": "pickle"}), "not a model description"),
])
def test_malformed_descriptions_are_refused_without_evaluating_anything(edit, phrase):
    probe = T.make_probe(4)
    description = T.describe(numpy_solution(), probe)
    if phrase == "must have the parameters":
        description["model"]["layers"][0]["params"] = {"weight": np.zeros(3, np.float32), "extra": np.zeros(1)}
    else:
        edit(description)
    with pytest.raises(AssertionError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        T.rebuild(description, probe)


def test_anything_else_is_described_as_other():
    description = T.describe([nn.ReLU()], T.make_probe(5))
    assert description["kind"] == "other" and description["type"] == "list"
    with pytest.raises(AssertionError, match="expected a model"):
        T.rebuild(description)
    assert T.is_model(numpy_solution()) and T.is_model(torch_solution()) and not T.is_model(print)


# ----------------------------------------------------------------------------- trained models


@pytest.mark.slow
def test_trained_models_keep_their_predictions(mnist):
    from cnnlab import optim, train
    from cnnlab.data import normalize_images

    x_all, y_all, x_test_all, y_test_all = mnist
    x, y = normalize_images(x_all[:1500]), y_all[:1500].astype(np.int64)
    x_test, y_test = normalize_images(x_test_all[:1000]), y_test_all[:1000].astype(np.int64)
    numpy_model = numpy_solution()
    train.train_numpy(numpy_model, nn.SoftmaxCrossEntropy(), optim.SGD(numpy_model, lr=0.05, momentum=0.9),
                      x, y, epochs=1, batch_size=64, progress=False)
    torch.manual_seed(0)
    torch_model = FunctionalNet()
    train.fit(torch_model, (x, y), epochs=1, lr=4e-3, batch_size=64, device="cpu", progress=False)
    rebuilt_numpy, _ = round_trip(numpy_model)
    rebuilt_torch, _ = round_trip(torch_model)
    before = (train.predict_numpy(numpy_model, x_test), train.predict(torch_model, x_test))
    after = (train.predict_numpy(rebuilt_numpy, x_test), train.predict(rebuilt_torch, x_test))
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)
        assert np.mean(a == y_test) > 0.5  # they did learn: the comparison is not between two guessers


def test_transfer_needs_only_numpy_cnnlab_nn_and_torch():
    """The sandbox's kernel gets transfer.py alone (no other grading module): it must stand on its own."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(T))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    assert imported <= {"math", "sys", "numpy", "cnnlab.nn", "torch", "torch.overrides.TorchFunctionMode"}, imported


def test_oversized_descriptions_are_refused(monkeypatch):
    probe = T.make_probe(6)
    numpy_description = T.describe(numpy_solution(), probe)
    torch_description = T.describe(torch_solution(), probe)
    monkeypatch.setattr(T, "MAX_VALUES", 5_000)   # both networks have more parameter values than this
    for description in (numpy_description, torch_description):
        with pytest.raises(AssertionError, match="more than (the )?5,000"):
            T.rebuild(description, probe)
    monkeypatch.setattr(T, "MAX_OPS", 4)
    with pytest.raises(AssertionError, match="at most 4 operations"):
        T.rebuild(T.describe(torch_solution(), probe), probe)


def test_networks_that_would_keep_the_grader_busy_are_refused_before_running():
    """A red-team network: a huge padding, then many large pooling windows, failing only at the end."""
    probe = T.make_probe()
    bombs = (
        nn.Sequential(nn.Conv2d(1, 1, 1, padding=100, dtype=np.float32),
                          *[nn.AvgPool2d(101, stride=1, padding=50) for _ in range(10)],
                          nn.Flatten(), nn.Linear(5, 10, dtype=np.float32)),
        torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1, padding=100), torch.nn.AvgPool2d(101, stride=1, padding=50),
                            torch.nn.Flatten(), torch.nn.Linear(5, 10)),
        nn.Sequential(nn.Conv2d(1, 400, 3, padding=1, dtype=np.float32), nn.Flatten()),  # 313,600 outputs
    )
    for bomb in bombs:
        try:
            description = T.describe(bomb, probe)  # the kernel's side: whatever the student's network costs there
        except Exception:
            continue
        with pytest.raises(AssertionError, match="the grader does not run this network"):  # refused before _verify runs it
            T.rebuild(description, probe)
    wide = torch.nn.Sequential(torch.nn.Conv2d(1, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(64, 128, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(128 * 7 * 7, 10))   # 41.5 million per image
    for fine in (numpy_solution(), torch_solution(), wide):
        T.check_cost(fine, (1, 28, 28))
