"""Grading checks of notebook 06: the reference networks pass, buggy ones fail with the mistake named."""

import math

import numpy as np
import pytest
import torch
from torch import nn as tnn

from cnnlab import grading, nn
from cnnlab.grading import mnist as g
from cnnlab.train import History


# ----------------------------------------------------------------------------- NumPy


def numpy_reference(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, seed=seed, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, seed=seed + 1, dtype=np.float32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, seed=seed + 2, dtype=np.float32))


def failure(check, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_numpy_reference_passes_visible_and_hidden():
    result = grading.check_numpy_cnn(numpy_reference)
    assert "build_numpy_cnn" in repr(result) and "visible" in repr(result)
    assert "hidden" in repr(grading.check_numpy_cnn(numpy_reference, hidden=True))
    grading.check_numpy_cnn(numpy_reference(seed=3))  # a built model works too


def test_numpy_spec_matches_the_layers_parameter_counts():
    model = numpy_reference()
    assert sum(p.size for p in model.params.values()) == sum(row[3] for row in g.NUMPY_SPEC) == 9_098
    shapes = model.output_shapes((1, 1, 28, 28))
    assert [s[1:] for s in shapes] == [row[2] for row in g.NUMPY_SPEC]


@pytest.mark.parametrize("model, phrases", [
    (lambda: nn.Sequential(*[layer for i, layer in enumerate(numpy_reference()) if i != 6]),
     ["forgot Flatten", "16*7*7 = 784", "in_features=784"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(3136, 10)),
     ["in_features is wrong", "784 features", "in_features=784", "3136 = 16*14*14 is the size after layer 3"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(49, 10)),
     ["in_features is wrong", "49 = 7*7 leaves out the 16 channels"]),
    (lambda: nn.Sequential(*[layer for i, layer in enumerate(numpy_reference()) if i != 1]),
     ["missing ReLU between layer 0", "and layer 2 (Conv2d(8, 16"]),
    (lambda: nn.Sequential(*[layer for i, layer in enumerate(numpy_reference()) if i != 4]),
     ["missing ReLU between layer 3", "and layer 6 (Linear"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(784, 9)),
     ["outputs 9 scores", "10 classes", "out_features=10"]),
    (lambda: nn.Sequential(*list(numpy_reference()), nn.ReLU()),
     ["comes after the last Linear", "logits"]),
    (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *list(numpy_reference())[1:]),
     ["in_channels=3", "1 channel (grey)"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:3], nn.Conv2d(16, 16, 3, padding=1), *list(numpy_reference())[4:]),
     ["in_channels=16", "outputs 8 channels", "in_channels=8"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:3], nn.Conv2d(8, 16, 3), *list(numpy_reference())[4:7], nn.Linear(576, 10)),
     ["not the one the exercise asks for", "layer 3", "(N, 16, 14, 14)", "padding"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(784, 10, bias=False)),
     ["7,840 parameters", "bias"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:2], nn.AvgPool2d(2), *list(numpy_reference())[3:]),
     ["layer 2 should be MaxPool2d(2)"]),
    (lambda: nn.Sequential(*list(numpy_reference())[:6], nn.Dropout(0.5), *list(numpy_reference())[6:]),
     ["layer 6 should be Flatten(), but it is Dropout(p=0.5)"]),
    (lambda: nn.Sequential(*list(numpy_reference()), nn.Dropout(0.5)),
     ["9 layers, more than the 8"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 14 * 14, 10)),
     ["multiply-accumulates per image", "1,500,000"]),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)),
     ["starts with Linear", "Conv2d"]),
    (lambda: None, ["returned None", "return"]),
    (lambda: tnn.Sequential(tnn.Conv2d(1, 8, 3)), ["PyTorch module", "cnnlab.nn"]),
    (lambda: nn.Sequential(), ["empty Sequential"]),
])
def test_numpy_mistakes_are_named(model, phrases):
    message = failure(grading.check_numpy_cnn, lambda seed=0: model())
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_numpy_zero_weights_and_not_implemented():
    def zero(seed=0):
        model = numpy_reference(seed)
        model[3].params["weight"][...] = 0
        return model
    assert "all weights of layer 3" in failure(grading.check_numpy_cnn, zero)

    def todo(seed=0):
        raise NotImplementedError()
    assert "not implemented yet" in failure(grading.check_numpy_cnn, todo)


def test_numpy_unseeded_builder_fails_only_the_hidden_check():
    def unseeded(seed=0):
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(784, 10))
    grading.check_numpy_cnn(unseeded)
    assert "different weights each time" in failure(grading.check_numpy_cnn, unseeded, hidden=True)

    def ignores_seed(seed=0):
        return numpy_reference(seed=0)
    assert "seed argument is ignored" in failure(grading.check_numpy_cnn, ignores_seed, hidden=True)


# ----------------------------------------------------------------------------- torch


def torch_reference():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))


class FunctionalNet(tnn.Module):
    """The reference network with a hand-written forward: F.relu, F.max_pool2d, x.view."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = tnn.Conv2d(16, 32, 5, padding=2)
        self.fc = tnn.Linear(1568, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.nn.functional.relu(self.conv2(x)), 2)
        return self.fc(x.view(x.size(0), -1))


def test_torch_reference_passes_visible_and_hidden():
    assert "build_torch_cnn" in repr(grading.check_torch_cnn(torch_reference))
    grading.check_torch_cnn(torch_reference, hidden=True)
    grading.check_torch_cnn(torch_reference())
    grading.check_torch_cnn(FunctionalNet, hidden=True)


def test_torch_spec_matches_layer_table():
    from cnnlab.summary import layer_table

    table = layer_table(torch_reference(), (1, 28, 28))
    assert table.total_params == sum(row[3] for row in g.TORCH_SPEC) == 28_938
    assert [tuple(r.output_shape) for r in table] == [row[2] for row in g.TORCH_SPEC]


def torch_layers(replace=(), drop=(), extra=()):
    layers = list(torch_reference())
    for index, layer in replace:
        layers[index] = layer
    layers = [layer for i, layer in enumerate(layers) if i not in drop]
    return tnn.Sequential(*layers, *extra)


@pytest.mark.parametrize("model, phrases", [
    (lambda: torch_layers(drop=(6,)), ["forgot Flatten", "32*7*7 = 1568"]),
    (lambda: torch_layers(drop=(6,), replace=[(7, tnn.Linear(7, 10))]), ["forgot Flatten", "in_features=1568"]),
    (lambda: torch_layers(replace=[(7, tnn.Linear(800, 10))]),
     ["in_features is wrong", "1568 features", "in_features=1568", "32*7*7"]),
    (lambda: torch_layers(replace=[(7, tnn.Linear(6272, 10))]),
     ["in_features is wrong", "6272 = 32*14*14 is the size after layer 3"]),
    (lambda: torch_layers(drop=(1,)), ["missing ReLU between layer 0", "Conv2d(16, 32"]),
    (lambda: torch_layers(replace=[(7, tnn.Linear(1568, 100))]), ["outputs 100 scores", "10 classes"]),
    (lambda: torch_layers(extra=(tnn.Softmax(dim=1),)), ["after the last Linear", "applies log-softmax itself", "Remove layer 8"]),
    (lambda: torch_layers(extra=(tnn.ReLU(),)), ["after the last Linear", "logits", "clip every negative score"]),
    (lambda: torch_layers(replace=[(0, tnn.Conv2d(3, 16, 5, padding=2))]), ["in_channels=3", "1 channel (grey)"]),
    (lambda: torch_layers(replace=[(3, tnn.Conv2d(32, 32, 5, padding=2))]), ["in_channels=32", "16 channels"]),
    (lambda: torch_layers(replace=[(3, tnn.Conv2d(16, 32, 5)), (7, tnn.Linear(32 * 5 * 5, 10))]),
     ["not the one the exercise asks for", "(N, 32, 14, 14)", "padding"]),
    (lambda: torch_layers(replace=[(3, tnn.Conv2d(16, 32, 5, padding=2, bias=False))]), ["12,800 parameters", "bias"]),
    (lambda: torch_layers(replace=[(1, tnn.Tanh())]), ["layer 1 should be ReLU()"]),
    (lambda: None, ["returned None"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 8, 3)), ["NumPy model", "PyTorch"]),
    (lambda: tnn.Sequential(), ["no parameters"]),
])
def test_torch_mistakes_are_named(model, phrases):
    message = failure(grading.check_torch_cnn, model)
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in:\n{message}"


def test_torch_hidden_checks():
    shared = torch_reference()
    assert "the same model" in failure(grading.check_torch_cnn, lambda: shared, hidden=True)
    grading.check_torch_cnn(lambda: shared)  # visible checks do not look at this

    def frozen():
        model = torch_reference()
        model[0].weight.requires_grad_(False)
        return model
    assert "requires_grad=False" in failure(grading.check_torch_cnn, frozen, hidden=True)

    def double():
        return torch_reference().double()
    assert "float64" in failure(grading.check_torch_cnn, double, hidden=True)

    generator = np.random.default_rng()

    def numpy_init():
        model = torch_reference()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.as_tensor(generator.standard_normal(tuple(p.shape)) * 0.05))
        return model
    assert "default initialisation" in failure(grading.check_torch_cnn, numpy_init, hidden=True)


def test_torch_unused_layer_is_reported():
    class Unused(FunctionalNet):
        def __init__(self):
            super().__init__()
            self.extra = tnn.Linear(10, 10)
    assert "only 28,938 of them are used" in failure(grading.check_torch_cnn, Unused)


# ----------------------------------------------------------------------------- training


def history(losses):
    h = History()
    for loss in losses:
        h.append(train_loss=loss, train_acc=0.5)
    return h


def test_loss_decreases():
    grading.check_loss_decreases(history([1.2, 0.15]))
    grading.check_loss_decreases([2.0, 1.0, 0.5])
    assert "did not fall" in failure(grading.check_loss_decreases, history([0.5, 0.6]))
    assert "NaN or inf" in failure(grading.check_loss_decreases, history([2.3, math.nan]))
    assert "at least 2 epochs" in failure(grading.check_loss_decreases, history([0.5]))
    assert "fell only" in failure(grading.check_loss_decreases, history([1.0, 0.95]))
    assert "log(10)" in failure(grading.check_loss_decreases, history([2.9, 2.2]))
    assert "no 'test_loss'" in failure(grading.check_loss_decreases, {"train_loss": [1, 0.1]}, key="test_loss")


def test_accuracy():
    assert "0.9600" in repr(grading.check_accuracy(0.96, 0.95))
    assert "chance level" in failure(grading.check_accuracy, 0.1, 0.9)
    assert "not above the required 0.9000" in failure(grading.check_accuracy, 0.85, 0.9)
    assert "percentage" in failure(grading.check_accuracy, 96.0, 0.9)
    assert "must be a number" in failure(grading.check_accuracy, "0.97", 0.9)
    assert "must be a number" in failure(grading.check_accuracy, True, 0.9)
    grading.check_accuracy(np.float64(0.97), 0.9)


# ----------------------------------------------------------------------------- confusion matrix


def confusion_reference(y_true, y_pred, num_classes=10):
    counts = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def test_confusion_counts_reference_passes():
    grading.check_confusion_counts(confusion_reference)
    grading.check_confusion_counts(confusion_reference, hidden=True)
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 10, 50), rng.integers(0, 10, 50)
    from cnnlab.plots import confusion_matrix
    assert np.array_equal(g.reference_confusion_counts(y, p), confusion_matrix(y, p, num_classes=10))


@pytest.mark.parametrize("fn, phrase", [
    (lambda y_true, y_pred, num_classes=10: confusion_reference(y_true, y_pred, num_classes).T, "rows and columns swapped"),
    (lambda y_true, y_pred, num_classes=10: confusion_reference(y_true, y_pred, num_classes)
     / np.maximum(confusion_reference(y_true, y_pred, num_classes).sum(1, keepdims=True), 1), "normalised"),
    (lambda y_true, y_pred, num_classes=10: confusion_reference(y_true, y_pred, max(max(y_true), max(y_pred)) + 1),
     "num_classes ignored"),
    (lambda y_true, y_pred, num_classes=10: np.diag(np.bincount(np.asarray(y_true)[np.asarray(y_true) == np.asarray(y_pred)],
                                                                 minlength=num_classes)), "diagonal only"),
    (lambda y_true, y_pred, num_classes=10: None, "returned None"),
    (lambda y_true, y_pred, num_classes=10: __import__("cnnlab.plots").plots.confusion_matrix(y_true, y_pred, num_classes),
     "ready-made"),
])
def test_confusion_counts_mistakes_are_named(fn, phrase):
    assert phrase in failure(grading.check_confusion_counts, fn)


# ----------------------------------------------------------------------------- what failures reveal, partial credit


def test_table_entries_left_to_work_out_are_never_printed():
    # the bias switched off in the last layer: its parameter count is one of the table's '?'
    message = failure(grading.check_numpy_cnn,
                      lambda seed=0: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(784, 10, bias=False)))
    assert "7,840 parameters" in message and "Did you switch off the bias?" in message
    assert "7,850" not in message and "Linear(?, 10)" in message and "(N, ?)" in message
    # a convolution without padding: the expected shape is printed, the '?' entries are not (the table of
    # the student's own layers, after "Yours:", shows what their layers have, as the notebook's layer_table does)
    message = failure(grading.check_torch_cnn, lambda: torch_layers(
        replace=[(3, tnn.Conv2d(16, 32, 5)), (7, tnn.Linear(32 * 5 * 5, 10))]))
    expected_part, yours = message.split("Yours:")
    assert "(N, 32, 14, 14)" in expected_part and "(N, 32, 10, 10)" in yours
    for answer in ("1568", "1,568", "15,690", "12,832", "416"):
        assert answer not in expected_part, answer


def test_a_working_network_that_is_not_the_asked_one_earns_part_of_the_points():
    with pytest.raises(grading.CheckFailure) as info:
        grading.check_numpy_cnn(lambda seed=0: nn.Sequential(
            *list(numpy_reference())[:2], nn.AvgPool2d(2), *list(numpy_reference())[3:]))
    assert info.value.fraction == g.WORKS_BUT_DIFFERENT
    with pytest.raises(AssertionError) as info:  # a network that does not work earns nothing
        grading.check_numpy_cnn(lambda seed=0: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(3136, 10)))
    assert getattr(info.value, "fraction", 0) == 0

    def ignores_seed(seed=0):
        return numpy_reference(seed=0)
    with pytest.raises(grading.CheckFailure) as info:
        grading.check_numpy_cnn(ignores_seed, hidden=True)
    assert info.value.fraction == g.HIDDEN_PROPERTY


def test_a_library_network_is_named():
    from cnnlab import models

    message = failure(grading.check_torch_cnn, models.fast_mnist_cnn)
    assert "cnnlab.models.fast_mnist_cnn()" in message and "yourself" in message


def proxy(builder):
    """What the trusted grader hands a check: each call's model is described and rebuilt."""
    from cnnlab.grading import transfer

    def call(*args, **kwargs):
        probe = transfer.make_probe()
        return transfer.rebuild(transfer.describe(builder(*args, **kwargs), probe), probe)
    return call


def test_checks_say_the_same_about_rebuilt_models():
    grading.check_numpy_cnn(proxy(numpy_reference), hidden=True)
    grading.check_torch_cnn(proxy(torch_reference), hidden=True)
    grading.check_torch_cnn(proxy(FunctionalNet), hidden=True)
    for check, builder in [
        (grading.check_numpy_cnn, lambda seed=0: nn.Sequential(*[layer for i, layer in enumerate(numpy_reference())
                                                                 if i != 6])),
        (grading.check_numpy_cnn, lambda seed=0: nn.Sequential(*list(numpy_reference())[:7], nn.Linear(49, 10))),
        (grading.check_torch_cnn, lambda: torch_layers(extra=(tnn.Softmax(dim=1),))),
        (grading.check_torch_cnn, lambda: torch_layers(replace=[(7, tnn.Linear(6272, 10))])),
        (grading.check_torch_cnn, lambda: torch_layers(drop=(1,))),
    ]:
        assert failure(check, proxy(builder)) == failure(check, builder)
    shared = torch_reference()
    assert "the same model" in failure(grading.check_torch_cnn, proxy(lambda: shared), hidden=True)


# ----------------------------------------------------------------------------- trained models


def test_hidden_test_digits_are_fresh_and_noisy(mnist):
    from cnnlab.data import MEAN, STD

    _, _, images, labels = mnist
    x, y, what = g.mnist_test_digits(500, hidden=False)
    np.testing.assert_array_equal(y, labels[:500])
    np.testing.assert_allclose(x[:, 0] * STD + MEAN, images[:500] / 255, atol=1e-5)
    x1, y1, what = g.mnist_test_digits(500, hidden=True)
    x2, y2, _ = g.mnist_test_digits(500, hidden=True)
    assert "at random" in what and not np.array_equal(y1, y2)
    # every hidden image is a test image moved by at most one grey level, and not exactly one
    pixels = x1[:, 0] * STD + MEAN
    nearest = np.array([np.abs(images.reshape(len(images), -1) / 255 - p.ravel()).max(axis=1).argmin()
                        for p in pixels[:20]])
    np.testing.assert_array_equal(labels[nearest], y1[:20])
    moved = np.abs(pixels[:20] - images[nearest] / 255)
    assert moved.max() <= 1 / 255 + 1e-5 and np.all(moved.reshape(20, -1).max(axis=1) > 0)


def torch_history(losses, test_acc=0.97):
    h = History()
    for loss in losses:
        h.append(train_loss=loss, train_acc=0.9, test_loss=loss, test_acc=test_acc)
    return h


def test_trained_checks_blame_the_network_not_the_locked_learning_rate(mnist):
    # a softmax after the last layer: the loss falls slowly, the network stays near chance
    torch.manual_seed(0)
    model = torch_layers(extra=(tnn.Softmax(dim=1),))
    message = failure(grading.check_trained_torch_cnn, model, torch_history([2.30, 2.2]))
    assert "learning rate may" not in message and "fixed in the locked training cell" in message
    assert "applies log-softmax itself" in message and "fell only" in message
    # a model rebuilt after training: the history is fine, the model guesses
    message = failure(grading.check_trained_torch_cnn, torch_reference(), torch_history([0.5, 0.08]))
    assert "not the model that was trained" in message
    numpy_model = numpy_reference()
    message = failure(grading.check_trained_numpy_cnn, numpy_model, history([0.6, 0.1]), hidden=True)
    assert "not the model that was trained" in message and "drawn at random" in message
    assert "must be the torch.nn.Module" in failure(grading.check_trained_torch_cnn, numpy_model, history([1, .1]))
    assert "must be the cnnlab.nn.Sequential" in failure(grading.check_trained_numpy_cnn, None, history([1, .1]))


def test_a_made_up_history_beside_an_untrained_or_linear_model_earns_nothing(mnist):
    from cnnlab import nn as cnn_nn

    # the red team's notebook: unimplemented builders, then a cell that sets the names the check reads
    for check, model in ((grading.check_trained_numpy_cnn, numpy_reference()),
                         (grading.check_trained_torch_cnn, torch_reference())):
        with pytest.raises(AssertionError) as info:
            check(model, {"train_loss": [2.3, 0.1]})           # an untrained CNN: chance accuracy
        assert getattr(info.value, "fraction", 0) == 0 and "not the model that was trained" in str(info.value)
    linear = cnn_nn.Sequential(cnn_nn.Flatten(), cnn_nn.Linear(784, 10, dtype=np.float32))
    with pytest.raises(AssertionError) as info:
        grading.check_trained_numpy_cnn(linear, {"train_loss": [2.3, 0.1]})
    assert getattr(info.value, "fraction", 0) == 0 and "no convolution layer" in str(info.value)
    with pytest.raises(AssertionError) as info:
        grading.check_trained_torch_cnn(tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 10)), {"train_loss": [2.3, 0.1]})
    assert getattr(info.value, "fraction", 0) == 0 and "no convolution layer" in str(info.value)


@pytest.mark.slow
def test_trained_check_measures_the_accuracy_and_gives_partial_credit(mnist, monkeypatch):
    from cnnlab import train
    from cnnlab.data import normalize_images

    x_all, y_all, x_test_all, y_test_all = mnist
    torch.manual_seed(0)
    model = torch_reference()
    fitted = train.fit(model, (normalize_images(x_all[:1000]), y_all[:1000].astype(np.int64)), epochs=2, lr=4e-3,
                       batch_size=64, device="cpu", progress=False)
    # the oracle: cnnlab.train.evaluate on the same 2,000 test digits as the visible check
    _, accuracy = train.evaluate(model, normalize_images(x_test_all[:2000]), y_test_all[:2000].astype(np.int64))
    monkeypatch.setattr(g, "TORCH_ACCURACY", (accuracy - 0.01, 0.5))
    result = grading.check_trained_torch_cnn(model, fitted)
    assert f"accuracy {accuracy:.4f}" in repr(result)
    monkeypatch.setattr(g, "TORCH_ACCURACY", (accuracy + 0.05, 0.5))
    with pytest.raises(grading.CheckFailure) as info:  # loss fell, accuracy a little short: 2 of 3 thirds
        grading.check_trained_torch_cnn(model, fitted)
    assert f"is {accuracy:.4f}, not above" in str(info.value) and info.value.fraction == pytest.approx(2 / 3)
    with pytest.raises(grading.CheckFailure) as info:  # and the loss did not fall: 1 of 3
        grading.check_trained_torch_cnn(model, torch_history([0.3, 0.4]))
    assert info.value.fraction == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------- confusion matrix: return types


@pytest.mark.parametrize("convert, got", [
    (lambda counts: counts.astype(float), "dtype float64"),
    (lambda counts: counts.tolist(), "got a list"),
])
def test_confusion_counts_of_the_wrong_type_earn_part_and_say_what_to_return(convert, got):
    def answer(y_true, y_pred, num_classes=10):
        return convert(confusion_reference(y_true, y_pred, num_classes))
    with pytest.raises(grading.CheckFailure) as info:
        grading.check_confusion_counts(answer, hidden=True)
    message = str(info.value)
    assert got in message and "numpy array of integers" in message and "values are right" in message
    assert info.value.fraction == pytest.approx(g.RIGHT_VALUES_WRONG_TYPE)
    assert "Likely mistake" not in message


def test_confusion_counts_message_shows_one_expected_value():
    def swapped(y_true, y_pred, num_classes=10):
        return confusion_reference(y_true, y_pred, num_classes).T
    message = failure(grading.check_confusion_counts, swapped)
    assert message.count("expected") == 1 and "Expected:" not in message
    assert "rows and columns swapped" in message
