"""cnnlab.train: both training loops learn MNIST digits; torch runs are reproducible.

Timing is never asserted. torch runs on one thread here: on a busy 2-core
machine two OpenMP threads can be many times slower than one.
"""

import math

import numpy as np
import pytest

from cnnlab import train
from cnnlab.data import normalize_images

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def small_mnist(mnist):
    """2000 training and 1000 test digits, normalised, (N, 1, 28, 28) float32."""
    x_train, y_train, x_test, y_test = mnist
    return (
        normalize_images(x_train[:2000]),
        y_train[:2000].astype(np.int64),
        normalize_images(x_test[:1000]),
        y_test[:1000].astype(np.int64),
    )


@pytest.fixture
def one_thread():
    previous = train.set_threads(1)
    yield
    torch.set_num_threads(previous)


# ---------------------------------------------------------------------- History


def test_history_records_epochs_and_fills_missing_with_nan():
    history = train.History()
    assert list(history) == list(train.History.KEYS) and history.epochs == 0
    history.append(train_loss=1.0, train_acc=0.5, epoch_time=2.0, lr=0.1)
    assert history.epochs == 1
    assert history["train_loss"] == [1.0] and math.isnan(history["test_acc"][0])
    assert "1 epochs" in repr(history)


@pytest.mark.parametrize("schedule", [None, "onecycle", "cosine"])
def test_lr_schedules(schedule):
    rates = [train.lr_at(step, 100, 0.1, schedule) for step in range(100)]
    assert all(0 < r <= 0.1 + 1e-12 for r in rates)
    if schedule is None:
        assert rates == [0.1] * 100
    else:
        assert rates[-1] == pytest.approx(1e-4)  # annealed to lr / 1000 at the last step
    if schedule == "onecycle":
        assert rates[0] == pytest.approx(0.01)  # starts at lr / 10
        assert max(rates) == pytest.approx(0.1, rel=0.05) and 19 <= rates.index(max(rates)) <= 21
    with pytest.raises(ValueError, match="schedule"):
        train._check_schedule("step")


# ------------------------------------------------------------------------ NumPy


def test_numpy_cnn_shapes():
    from cnnlab import nn

    model = train.numpy_mnist_cnn(seed=0)
    assert isinstance(model, nn.Sequential)
    out = model.forward(np.zeros((3, 1, 28, 28), np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32
    n_params = sum(p.size for p in model.params.values())
    assert n_params == (8 * 9 + 8) + (16 * 8 * 9 + 16) + (16 * 49 * 10 + 10) == 9098


@pytest.mark.slow
def test_numpy_training_learns(small_mnist):
    from cnnlab import nn, optim

    x, y, x_test, y_test = small_mnist
    model = train.numpy_mnist_cnn(seed=0)
    loss = nn.SoftmaxCrossEntropy()
    before_loss, before_acc = train.evaluate_numpy(model, loss, x_test, y_test)
    history = train.train_numpy(
        model,
        loss,
        optim.SGD(model, lr=0.05, momentum=0.9),
        x,
        y,
        epochs=1,
        batch_size=32,
        x_val=x_test,
        y_val=y_test,
        progress=False,
    )
    assert history.epochs == 1
    assert history["test_loss"][0] < 0.5 * before_loss
    assert history["test_acc"][0] > 0.6 > before_acc + 0.3
    assert history["train_loss"][0] < before_loss
    assert model.training  # back in training mode after evaluation
    predicted = train.predict_numpy(model, x_test)
    assert predicted.shape == (1000,)
    assert np.mean(predicted == y_test) == pytest.approx(history["test_acc"][0])


def test_numpy_training_is_seeded_and_follows_schedule(small_mnist):
    from cnnlab import nn, optim

    x, y = small_mnist[0][:256], small_mnist[1][:256]
    runs = []
    for seed in (3, 3, 4):
        model = train.numpy_mnist_cnn(seed=0)
        opt = optim.SGD(model, lr=0.05, momentum=0.9)
        h = train.train_numpy(
            model,
            nn.SoftmaxCrossEntropy(),
            opt,
            x,
            y,
            epochs=2,
            batch_size=64,
            seed=seed,
            progress=False,
            schedule="onecycle",
        )
        runs.append(h["train_loss"])
        assert opt.lr == pytest.approx(0.05 / 1000) and h["lr"][-1] == opt.lr
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_numpy_training_checks_arguments(small_mnist):
    from cnnlab import nn, optim

    x, y = small_mnist[0][:10], small_mnist[1][:10]
    model = train.numpy_mnist_cnn()
    args = (model, nn.SoftmaxCrossEntropy(), optim.SGD(model, lr=0.1))
    with pytest.raises(ValueError, match="must match"):
        train.train_numpy(*args, x, y[:5], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train.train_numpy(*args, x, y, epochs=0, progress=False)
    with pytest.raises(ValueError, match="x_val and y_val"):
        train.train_numpy(*args, x, y, x_val=x, progress=False)


# ------------------------------------------------------------------------ torch


def lenet(seed=0):
    from cnnlab import models

    torch.manual_seed(seed)
    return models.lenet5(input_size=28)


@pytest.mark.slow
def test_torch_fit_learns(small_mnist, one_thread):
    x, y, x_test, y_test = small_mnist
    model = lenet()
    before_loss, before_acc = train.evaluate(model, x_test, y_test)
    history = train.fit(model, (x, y), (x_test, y_test), epochs=1, lr=3e-3, batch_size=64, device="cpu", progress=False)
    assert history["test_loss"][0] < 0.6 * before_loss
    assert history["test_acc"][0] > 0.6 > before_acc + 0.3
    assert history["lr"][0] < 3e-3 * 0.01  # one-cycle ends annealed
    predicted = train.predict(model, x_test)
    assert predicted.dtype == np.int64 and predicted.shape == (1000,)
    assert np.mean(predicted == y_test) == pytest.approx(history["test_acc"][0])


def test_torch_fit_sgd_without_schedule_learns(small_mnist, one_thread):
    x, y, x_test, y_test = small_mnist
    history = train.fit(
        lenet(),
        (x, y),
        (x_test, y_test),
        epochs=1,
        lr=0.05,
        batch_size=32,
        optimizer="sgd",
        schedule=None,
        device="cpu",
        progress=False,
    )
    assert history["lr"] == [0.05]
    assert history["test_acc"][0] > 0.6


def test_torch_fit_is_deterministic_on_cpu(small_mnist, one_thread):
    x, y = small_mnist[0][:512], small_mnist[1][:512]
    test = (small_mnist[2][:200], small_mnist[3][:200])

    def run(seed):
        h = train.fit(lenet(0), (x, y), test, epochs=2, lr=3e-3, batch_size=64, device="cpu", seed=seed, progress=False)
        return {k: v for k, v in h.items() if k != "epoch_time"}

    first = run(0)
    assert first == run(0)
    assert first != run(1)  # a different shuffle gives a different run
    assert torch.are_deterministic_algorithms_enabled() is False  # restored


def test_evaluate_restores_mode_and_matches_hand_computation(small_mnist, one_thread):
    x, y = small_mnist[2][:100], small_mnist[3][:100]
    model = lenet().train()
    loss, acc = train.evaluate(model, x, y, batch_size=7)
    assert model.training
    with torch.no_grad():
        logits = model.eval()(torch.tensor(x))
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(y)).item()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1).numpy() == y).mean())


def test_fit_checks_arguments(small_mnist):
    x, y = small_mnist[0][:10], small_mnist[1][:10]
    model = lenet()
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(model, (x, y), optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="schedule"):
        train.fit(model, (x, y), schedule="linear", progress=False)
    with pytest.raises(ValueError, match="lr"):
        train.fit(model, (x, y), lr=0, progress=False)
    with pytest.raises(ValueError, match="must match"):
        train.fit(model, (x, y[:3]), progress=False)
    with pytest.raises(TypeError, match="uint8"):
        train.fit(model, ((x * 0).astype(np.uint8), y), progress=False)
    with pytest.raises(TypeError, match="pair"):
        train.fit(model, x, progress=False)


def test_pick_device(monkeypatch):
    assert train.pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train.pick_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert train.pick_device("auto").type == "cuda"


def test_set_threads_returns_previous():
    previous = train.set_threads(1)
    try:
        assert torch.get_num_threads() == 1
        assert train.set_threads(1) == 1
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="n must be >= 1"):
        train.set_threads(0)


# ------------------------------------------------------------------ the parallel APIs


def test_history_records_validation_as_val_with_the_old_test_names_as_aliases():
    history = train.History()
    history.append(train_loss=1.0, val_loss=0.5, val_acc=0.9)
    history.append(train_loss=0.8, test_loss=0.4, test_acc=0.95)  # the older names still record
    assert history["val_loss"] == [0.5, 0.4] and history["val_acc"] == [0.9, 0.95]
    assert history["test_acc"] is history["val_acc"]
    assert train.History({"test_acc": [0.5]})["val_acc"] == [0.5]


def test_fit_numpy_learns_and_records_what_fit_records(small_mnist):
    from cnnlab import models, nn

    x, y, x_val, y_val = small_mnist
    model = models.numpy_mnist_cnn(seed=0)
    history = train.fit_numpy(
        model, (x[:1000], y[:1000]), (x_val[:500], y_val[:500]), epochs=2, lr=0.05, batch_size=32, progress=False
    )
    assert set(history) == set(train.History.KEYS) and history.epochs == 2
    assert history["val_acc"][-1] > 0.7
    loss, acc = train.evaluate_numpy(model, nn.SoftmaxCrossEntropy(), x_val[:500], y_val[:500])
    assert acc == pytest.approx(history["val_acc"][-1])
    steps = 2 * math.ceil(1000 / 32)
    assert history["lr"][-1] == pytest.approx(train.lr_at(steps - 1, steps, 0.05, "onecycle"))


def test_fit_and_fit_numpy_check_their_shared_arguments_alike(small_mnist):
    from cnnlab import models

    x, y = small_mnist[0][:10], small_mnist[1][:10]
    for fit, model in ((train.fit, lenet()), (train.fit_numpy, models.numpy_mnist_cnn())):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            fit(model, (x, y), lr=0, progress=False)
        with pytest.raises(ValueError, match="schedule must be one of"):
            fit(model, (x, y), schedule="step", progress=False)
        with pytest.raises(ValueError, match="must match"):
            fit(model, (x, y[:3]), progress=False)
        with pytest.raises(TypeError, match="uint8"):
            fit(model, ((x * 0).astype(np.uint8), y), progress=False)
        with pytest.raises(TypeError, match=r"val_data must be an \(x, y\) pair"):
            fit(model, (x, y), x, progress=False)


def test_fit_follows_the_same_schedule_as_fit_numpy(small_mnist, one_thread):
    x, y = small_mnist[0][:256], small_mnist[1][:256]
    history = train.fit(lenet(0), (x, y), epochs=2, lr=0.01, batch_size=64, device="cpu", progress=False)
    steps = 2 * 4
    expected = [train.lr_at(step, steps, 0.01, "onecycle") for step in (3, 7)]  # each epoch's last step
    assert history["lr"] == pytest.approx(expected)
