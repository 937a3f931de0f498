"""cnnlab.plots: figures have the panels, titles and numbers they should (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlab import plots  # noqa: E402


def texts(ax):
    return [t.get_text() for t in ax.texts]


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def render(fig):
    fig.canvas.draw()  # catches layout/drawing errors
    return fig


# ----------------------------------------------------------------- show_matrix


def test_show_matrix_writes_every_value_in_its_cell():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    fig = render(plots.show_matrix(a, title="x"))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert texts(ax) == ["1", "2", "3", "4", "5", "6"]
    positions = [t.get_position() for t in ax.texts]
    assert positions[1] == (1, 0) and positions[3] == (0, 1)  # (x=col, y=row)
    assert ax.get_title() == "x"


def test_show_matrix_formats_and_text_colour():
    fig = plots.show_matrix(np.array([0.0, 0.125, 1.0]), fmt=".1f", cmap="Greys")
    ax = fig.axes[0]
    assert texts(ax) == ["0.0", "0.1", "1.0"]
    colours = [t.get_color() for t in ax.texts]
    assert colours[0] == "black" and colours[-1] == "white"  # readable on light and dark cells
    assert texts(plots.show_matrix(np.array([[0.5, 2.0]])).axes[0]) == ["0.50", "2"]
    assert texts(plots.show_matrix(np.eye(2), annotate=False).axes[0]) == []


def test_show_matrix_into_existing_axes_with_highlight():
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.show_matrix(np.zeros((4, 5)), ax=ax, highlight=(1, 2, 2, 3)) is fig
    (rect,) = ax.patches
    assert rect.get_xy() == (1.5, 0.5) and rect.get_width() == 3 and rect.get_height() == 2


def test_show_matrix_rejects_3d_and_strings():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        plots.show_matrix(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="numbers"):
        plots.show_matrix(np.array([["a"]]))


def test_plot_kernel_and_image_computes_the_valid_correlation():
    image = np.arange(16).reshape(4, 4)
    kernel = np.array([[1, 0], [0, -1]])
    fig = render(plots.plot_kernel_and_image(image, kernel, position=(1, 2)))
    ax_in, ax_k, ax_out = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["input", "kernel", "output"]
    assert len(ax_in.texts) == 16 and len(ax_k.texts) == 4 and len(ax_out.texts) == 9
    # out[i, j] = x[i, j] - x[i+1, j+1] = -5 everywhere for this ramp
    assert texts(ax_out) == ["-5"] * 9
    assert ax_in.patches[0].get_xy() == (1.5, 0.5) and ax_out.patches[0].get_width() == 1


def test_plot_kernel_and_image_1d_and_given_output():
    fig = plots.plot_kernel_and_image([1, 2, 3, 4], [1, 1], output=[3, 5, 7], position=1)
    assert texts(fig.axes[2]) == ["3", "5", "7"]
    big = plots.plot_kernel_and_image(np.zeros((20, 20)), np.ones((3, 3)))
    assert len(big.axes[0].texts) == 0  # too big to annotate by default


def test_plot_signals():
    fig = render(plots.plot_signals({"x": [1, 2, 3], "w": [1, -1]}, title="signals"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "w"]
    assert ax.get_title() == "signals"


# --------------------------------------------------------------------- images


def test_show_image_grid_hides_unused_panels():
    images = np.random.default_rng(0).random((10, 1, 28, 28))
    fig = render(plots.show_image_grid(images, titles=list("abcdefghij"), ncols=4))
    assert len(fig.axes) == 12 and len(visible_axes(fig)) == 10
    assert [ax.get_title() for ax in visible_axes(fig)] == list("abcdefghij")
    with pytest.raises(ValueError, match="titles"):
        plots.show_image_grid(images, titles=["a"])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plots.show_image_grid(np.zeros((2, 3, 5, 5)))


def test_plot_misclassified_titles_prediction_and_truth():
    images = np.zeros((6, 28, 28))
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 7, 2, 8, 4, 9])
    fig = render(plots.plot_misclassified(images, y_true, y_pred, n=2))
    assert [ax.get_title() for ax in visible_axes(fig)] == ["pred 7 (true 1)", "pred 8 (true 3)"]
    assert "2 of 3" in fig._suptitle.get_text()
    none = plots.plot_misclassified(images, y_true, y_true)
    assert "no misclassified" in none.axes[0].texts[0].get_text()


def test_plot_filters_first_layer_and_deeper_layer():
    rng = np.random.default_rng(0)
    fig = render(plots.plot_filters(rng.normal(size=(8, 1, 3, 3)), ncols=4))
    assert len(visible_axes(fig)) == 8
    assert "(8, 1, 3, 3)" in fig._suptitle.get_text()
    image = visible_axes(fig)[0].images[0]
    lo, hi = image.get_clim()
    assert lo == -hi  # colour scale symmetric around 0
    deeper = plots.plot_filters(rng.normal(size=(4, 3, 3, 3)))
    assert len(visible_axes(deeper)) == 12  # 4 rows (out) x 3 columns (in)
    with pytest.raises(ValueError, match="4-D"):
        plots.plot_filters(np.zeros((3, 3)))


def test_plot_filters_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(1, 6, 5)
    assert len(visible_axes(plots.plot_filters(conv.weight))) == 6


def test_plot_feature_maps_one_row_per_layer():
    rng = np.random.default_rng(0)
    activations = [
        ("input", rng.random((1, 1, 28, 28))),  # batch axis of 1 is dropped
        ("conv1", rng.random((8, 28, 28))),
        ("conv2", rng.random((16, 14, 14))),  # more channels than max_channels
        ("logits", rng.random((1, 10))),
    ]
    fig = render(plots.plot_feature_maps(activations, max_channels=6))
    assert len(fig.axes) == 4  # one row per layer
    ylabels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert ylabels == ["input", "conv1", "conv2"]
    assert len(fig.axes[-1].patches) == 10  # the logits as 10 bars
    # conv2: 6 of its 16 channels side by side, one blank column between them, each scaled alone
    conv2 = fig.axes[2].images[0].get_array()
    assert conv2.shape == (14, 6 * 14 + 5)
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == [f"ch {k}" for k in range(6)]
    assert "6 of 16 channels" in fig.axes[2].get_title(loc="left")
    blank = np.ma.getmaskarray(conv2) | np.isnan(np.ma.getdata(conv2))
    assert blank[:, 14].all() and not blank[:, :14].any()
    first = np.ma.getdata(conv2)[:, :14]
    expected = activations[2][1][0]
    assert np.allclose(first, (expected - expected.min()) / (expected.max() - expected.min()))
    with pytest.raises(ValueError, match="empty"):
        plots.plot_feature_maps([])
    with pytest.raises(TypeError, match="pair"):
        plots.plot_feature_maps([np.zeros((2, 2))])


# ------------------------------------------------------------------- training


def test_plot_history_train_and_test_curves():
    history = {
        "train_loss": [1.0, 0.5, 0.3],
        "train_acc": [0.7, 0.85, 0.9],
        "test_loss": [0.8, 0.4, 0.35],
        "test_acc": [0.75, 0.88, 0.9],
    }
    fig = render(plots.plot_history(history))
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "Loss" and acc_ax.get_title() == "Accuracy"
    assert [line.get_label() for line in loss_ax.lines] == ["train", "test"]
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.75, 0.88, 0.9])
    np.testing.assert_array_equal(acc_ax.lines[0].get_xdata(), [1, 2, 3])


def test_plot_history_without_test_data():
    from cnnlab.train import History

    history = History()
    history.append(train_loss=1.0, train_acc=0.5)
    history.append(train_loss=0.6, train_acc=0.7)
    fig = plots.plot_history(history)
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history(History())
    with pytest.raises(ValueError, match="train_loss"):
        plots.plot_history({"loss": [1]})


def test_confusion_matrix_against_hand_count():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    # counted by hand: class 0 -> {0: 2, 1: 1}; class 1 -> {1: 2}; class 2 -> {0: 1, 1: 1, 2: 2}
    expected = [[2, 1, 0], [0, 2, 0], [1, 1, 2]]
    counts = plots.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.int64
    assert plots.confusion_matrix(y_true, y_pred, num_classes=5).shape == (5, 5)
    with pytest.raises(ValueError, match="num_classes"):
        plots.confusion_matrix(y_true, y_pred, num_classes=2)
    with pytest.raises(ValueError, match="must match"):
        plots.confusion_matrix([0, 1], [0])
    with pytest.raises(TypeError, match="integer"):
        plots.confusion_matrix([0.5], [0])


def test_plot_confusion_matrix_has_counts_and_accuracy():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 0, 1, 1, 2, 0, 2, 1])
    fig = render(plots.plot_confusion_matrix(y_true, y_pred))
    ax = fig.axes[0]
    assert texts(ax) == ["2", "1", "0", "0", "2", "0", "1", "1", "2"]
    assert "66.67%" in ax.get_title()
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    fractions = plots.plot_confusion_matrix(y_true, y_pred, normalize=True)
    assert texts(fractions.axes[0])[:3] == ["0.67", "0.33", "0.00"]
