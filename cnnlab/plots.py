"""Matplotlib helpers for the notebooks: arrays with their numbers, images, filters, training curves.

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``. The figures are made with ``matplotlib.figure.Figure`` rather
than ``pyplot``, so a notebook shows a figure exactly once, when it is the
cell's last expression (use ``display(fig)`` otherwise), and nothing piles up
in pyplot's list of open figures. Functions that take ``ax=`` draw into an
existing axes instead and return its figure.

Arrays may be NumPy arrays or torch tensors (they are converted with
``numpy.asarray`` after ``.detach().cpu()``).
"""

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

# --------------------------------------------------------------------- helpers


def _to_numpy(a, name):
    """NumPy copy of an array-like or a torch tensor."""
    if hasattr(a, "detach"):  # a torch tensor, without importing torch
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a


def _grid(n, ncols):
    ncols = max(1, min(ncols, n))
    return math.ceil(n / ncols), ncols


def _new_figure(nrows, ncols, cell=1.6, extra_height=0.0):
    fig = Figure(figsize=(max(2.5, cell * ncols), cell * nrows + extra_height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _hide_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def _format_number(value, fmt):
    if fmt is not None and fmt.endswith("d"):
        return format(int(round(value)), fmt)
    if fmt is not None:
        return format(value, fmt)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def _as_images(images, name="images"):
    """(N, H, W) or (N, 1, H, W) -> (N, H, W)."""
    images = _to_numpy(images, name)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W) or (N, 1, H, W), got shape {images.shape}")
    return images


# ------------------------------------------------------------- worked examples


def show_matrix(
    a, ax=None, annotate=True, fmt=None, cmap="Blues", title=None, highlight=None, vmin=None, vmax=None, fontsize=None
):
    """Draw a 1-D or 2-D array as coloured cells with each value written inside.

    The workhorse of the worked examples: ``show_matrix(image)``,
    ``show_matrix(kernel, cmap="RdBu_r")``. A 1-D array is drawn as one row.
    ``fmt`` is a format spec (``".1f"``); by default integers are written as
    integers and other values with two decimals. ``highlight=(row, col, h, w)``
    outlines an ``h x w`` window whose top-left cell is ``(row, col)``, e.g. the
    window a convolution is looking at. Returns the figure.
    """
    a = _to_numpy(a, "a").astype(float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"a must be 1-D or 2-D, got a {a.ndim}-D array of shape {a.shape}")
    if ax is None:
        fig = Figure(figsize=(max(1.5, 0.5 * a.shape[1] + 0.5), max(1.0, 0.5 * a.shape[0] + 0.5)), layout="constrained")
        ax = fig.add_subplot()
    image = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    if annotate:
        for (i, j), value in np.ndenumerate(a):
            # white text on dark cells, black on light ones (luminance of the cell's colour)
            r, g, b, _ = image.cmap(image.norm(value))
            dark_cell = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                j,
                i,
                _format_number(value, fmt),
                ha="center",
                va="center",
                color="white" if dark_cell else "black",
                fontsize=fontsize,
            )
    if highlight is not None:
        row, col, h, w = highlight
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), w, h, fill=False, edgecolor="red", linewidth=2.5))
    ax.set_xticks(range(a.shape[1]))
    ax.set_yticks(range(a.shape[0]) if a.shape[0] > 1 else [])
    ax.tick_params(length=0, labelsize=8)
    if title is not None:
        ax.set_title(title)
    return ax.figure


def plot_kernel_and_image(
    image, kernel, output=None, position=None, titles=("input", "kernel", "output"), annotate=None, fmt=None
):
    """Three panels, ``input * kernel = output``, for a 2-D (or 1-D) cross-correlation.

    ``output`` defaults to the ``"valid"`` cross-correlation (no kernel flip,
    :func:`cnnlab.functional.correlate2d`). ``position=(i, j)`` outlines the
    window of the input that produces ``output[i, j]`` and that output cell.
    Numbers are written in the cells when every array is at most 12 x 12
    (``annotate`` forces it on or off). Returns the figure.
    """
    image = _to_numpy(image, "image").astype(float)
    kernel = _to_numpy(kernel, "kernel").astype(float)
    if image.ndim != kernel.ndim or image.ndim not in (1, 2):
        raise ValueError(f"image and kernel must both be 1-D or both 2-D, got shapes {image.shape} and {kernel.shape}")
    if output is None:
        from cnnlab import functional

        output = functional.correlate2d(image, kernel) if image.ndim == 2 else functional.correlate1d(image, kernel)
    output = _to_numpy(output, "output").astype(float)
    as2d = [np.atleast_2d(a) for a in (image, kernel, output)]
    if annotate is None:
        annotate = all(max(a.shape) <= 12 for a in as2d)
    widths = [a.shape[1] for a in as2d]
    fig = Figure(figsize=(0.5 * sum(widths) + 3, 0.5 * max(a.shape[0] for a in as2d) + 1.2), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=widths)
    kh, kw = as2d[1].shape
    window = out_cell = None
    if position is not None:
        i, j = (0, position) if image.ndim == 1 and np.isscalar(position) else position
        window, out_cell = (i, j, kh, kw), (i, j, 1, 1)
    show_matrix(image, ax=axes[0], annotate=annotate, fmt=fmt, cmap="Greys", title=titles[0], highlight=window)
    show_matrix(
        kernel,
        ax=axes[1],
        annotate=annotate,
        fmt=fmt,
        cmap="RdBu_r",
        title=titles[1],
        vmin=-np.abs(kernel).max() or None,
        vmax=np.abs(kernel).max() or None,
    )
    show_matrix(output, ax=axes[2], annotate=annotate, fmt=fmt, cmap="Blues", title=titles[2], highlight=out_cell)
    return fig


def plot_signals(signals, title=None, ax=None):
    """Stem plots of 1-D signals, one line per entry of ``signals`` (a dict ``{label: array}``).

    For the 1-D convolution notebook: ``plot_signals({"x": x, "w": w, "x * w": y})``.
    Returns the figure.
    """
    if not isinstance(signals, dict) or not signals:
        raise TypeError("signals must be a non-empty dict {label: 1-D array}")
    if ax is None:
        fig = Figure(figsize=(7, 3), layout="constrained")
        ax = fig.add_subplot()
    for k, (label, signal) in enumerate(signals.items()):
        signal = _to_numpy(signal, f"signals[{label!r}]")
        if signal.ndim != 1:
            raise ValueError(f"signals[{label!r}] must be 1-D, got shape {signal.shape}")
        offset = (k - (len(signals) - 1) / 2) * 0.12  # side by side, not on top of each other
        markers, stems, _ = ax.stem(np.arange(len(signal)) + offset, signal, label=label, basefmt=" ")
        markers.set_color(f"C{k}")
        stems.set_color(f"C{k}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("index")
    ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax.figure


# ------------------------------------------------------------------ image grids


def show_image_grid(images, titles=None, ncols=8, cmap="gray", suptitle=None):
    """A grid of images ``(N, H, W)`` or ``(N, 1, H, W)``, with an optional title for each. Returns the figure."""
    images = _as_images(images)
    n = len(images)
    if n == 0:
        raise ValueError("images is empty; need at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images; they must match")
    nrows, ncols = _grid(n, ncols)
    fig, axes = _new_figure(nrows, ncols, cell=1.3, extra_height=0.3 * bool(suptitle))
    for k, ax in enumerate(axes.flat):
        _hide_ticks(ax)
        if k >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[k], cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_misclassified(images, y_true, y_pred, n=25, ncols=5):
    """The first ``n`` images whose prediction is wrong, titled ``pred P (true T)``.

    ``images``: ``(N, H, W)`` or ``(N, 1, H, W)``; ``y_true``, ``y_pred``: ``(N,)``.
    Returns the figure (with a note instead of a grid when nothing is wrong).
    """
    images = _as_images(images)
    y_true, y_pred = _check_labels(y_true, y_pred)
    if len(images) != len(y_true):
        raise ValueError(f"images has {len(images)} entries but y_true has {len(y_true)}; they must match")
    wrong = np.flatnonzero(y_true != y_pred)[:n]
    if len(wrong) == 0:
        fig = Figure(figsize=(4, 1), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"no misclassified images among {len(y_true)}", ha="center", va="center")
        return fig
    titles = [f"pred {y_pred[k]} (true {y_true[k]})" for k in wrong]
    total = int((y_true != y_pred).sum())
    return show_image_grid(
        images[wrong], titles=titles, ncols=ncols, suptitle=f"{len(wrong)} of {total} misclassified images"
    )


def plot_filters(weight, ncols=8, max_filters=64, title="filters"):
    """Convolution filters ``(C_out, C_in, KH, KW)`` as small images, blue < 0 < red.

    With ``C_in == 1`` (a first layer on grey images) there is one panel per
    filter; otherwise one row per output channel and one column per input
    channel (up to ``max_filters`` panels in all). One colour scale, symmetric
    around 0, is shared by all panels. Returns the figure.
    """
    weight = _to_numpy(weight, "weight").astype(float)
    if weight.ndim != 4:
        raise ValueError(
            f"weight must be 4-D (C_out, C_in, KH, KW), got a {weight.ndim}-D array of shape {weight.shape}"
        )
    c_out, c_in = weight.shape[:2]
    if c_in == 1:
        panels = [(f"{o}", weight[o, 0]) for o in range(min(c_out, max_filters))]
        nrows, ncols = _grid(len(panels), ncols)
    else:
        rows = max(1, min(c_out, max_filters // c_in))
        cols = min(c_in, max_filters)
        panels = [(f"{o},{i}", weight[o, i]) for o in range(rows) for i in range(cols)]
        nrows, ncols = rows, cols
    limit = np.abs(weight).max() or 1.0
    fig, axes = _new_figure(nrows, ncols, cell=1.1, extra_height=0.4)
    for k, ax in enumerate(axes.flat):
        _hide_ticks(ax)
        if k >= len(panels):
            ax.set_axis_off()
            continue
        label, kernel = panels[k]
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(label, fontsize=8)
    fig.suptitle(f"{title} {tuple(weight.shape)} (out, in, KH, KW)")
    return fig


def _side_by_side(maps, gap=1):
    """``(C, H, W)`` -> one ``(H, C*W + (C-1)*gap)`` image: the C maps in a row, each scaled to [0, 1]
    on its own (as C separate panels would be), with columns of NaN between them, drawn blank."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = (maps - low) / np.where(span > 0, span, 1)
    c, h, w = maps.shape
    row = np.full((h, c * (w + gap) - gap), np.nan)
    for k in range(c):
        row[:, k * (w + gap) : k * (w + gap) + w] = scaled[k]
    return row


def plot_feature_maps(activations, max_channels=8, cmap="viridis"):
    """One digit's journey through a network: one row per layer, its channels side by side.

    ``activations``: a list of ``(name, array)``; each array is one example's
    output of a layer, ``(C, H, W)`` (a leading batch axis of 1 is dropped),
    ``(H, W)``, or 1-D (a flattened vector or the logits, drawn as bars).
    At most ``max_channels`` channels are drawn per layer, each with its own
    colour scale (dark = its smallest value, bright = its largest). A layer's
    channels share one axes (one image), which draws many times faster than one
    panel per channel. Returns the figure.
    """
    if not activations:
        raise ValueError("activations is empty; pass a list of (name, array) pairs")
    rows = []
    for entry in activations:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise TypeError(f"each activation must be a (name, array) pair, got {entry!r:.60}")
        name, array = entry
        array = _to_numpy(array, f"activation {name!r}").astype(float)
        if array.ndim >= 2 and array.shape[0] == 1 and array.ndim in (2, 4):
            array = array[0]  # drop a batch axis of 1
        if array.ndim == 2:
            array = array[None]  # one channel
        if array.ndim not in (1, 3):
            raise ValueError(f"activation {name!r} must be (C, H, W), (H, W) or 1-D, got shape {array.shape}")
        rows.append((str(name), array))
    ncols = max(1 if a.ndim == 1 else min(a.shape[0], max_channels) for _, a in rows)
    fig = Figure(figsize=(1.3 * max(ncols, 3), 1.4 * len(rows)), layout="constrained")
    for ax, (name, array) in zip(fig.subplots(len(rows), 1, squeeze=False)[:, 0], rows):
        if array.ndim == 1:
            ax.bar(np.arange(len(array)), array, color="C0")
            ax.set_title(f"{name} {array.shape}", fontsize=9, loc="left")
            ax.tick_params(labelsize=7)
            continue
        shown = min(array.shape[0], max_channels)
        width = array.shape[2]
        # a row of `ncols` slots, so a layer with fewer channels keeps the same panel size
        ax.imshow(
            _side_by_side(array[:shown]),
            cmap=cmap,
            vmin=0,
            vmax=1,
            extent=(-0.5, shown * (width + 1) - 1.5, array.shape[1] - 0.5, -0.5),
        )
        ax.set_xlim(-0.5, ncols * (width + 1) - 1.5)
        ax.set_xticks(
            [k * (width + 1) + (width - 1) / 2 for k in range(shown)], [f"ch {k}" for k in range(shown)], fontsize=7
        )
        ax.set_yticks([])
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_ylabel(name, fontsize=9)
        more = f", {shown} of {array.shape[0]} channels shown" if shown < array.shape[0] else ""
        ax.set_title(f"{name} {array.shape}{more}", fontsize=8, loc="left")
    fig.suptitle("feature maps")
    return fig


# ------------------------------------------------------------------- training


def plot_history(history):
    """Training curves from a :class:`cnnlab.train.History` (or a dict of lists).

    Left: loss per epoch, right: accuracy per epoch; train solid, test dashed
    (the test curves are left out when there is no test data). Returns the figure.
    """
    for key in ("train_loss", "train_acc"):
        if key not in history:
            raise ValueError(f"history must have a {key!r} list (as cnnlab.train.History has)")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    if len(epochs) == 0:
        raise ValueError("history is empty: train for at least one epoch first")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, metric, title in ((loss_ax, "loss", "Loss"), (acc_ax, "acc", "Accuracy")):
        ax.plot(epochs, history[f"train_{metric}"], "o-", label="train")
        test = np.asarray(history.get(f"test_{metric}", []), dtype=float)
        if test.size and not np.all(np.isnan(test)):
            ax.plot(epochs, test, "s--", label="test")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: math.ceil(len(epochs) / 10)])
        ax.grid(alpha=0.3)
        ax.legend()
    loss_ax.set_ylabel("cross-entropy")
    acc_ax.set_ylabel("fraction correct")
    return fig


def _check_labels(y_true, y_pred):
    y_true = _to_numpy(y_true, "y_true")
    y_pred = _to_numpy(y_pred, "y_pred")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.ndim != 1:
            raise ValueError(f"{name} must be 1-D (N,), got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
        if y.size and y.min() < 0:
            raise ValueError(f"{name} must hold class labels >= 0, found {y.min()}")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}; they must match")
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``(K, K)``: entry ``[t, p]`` is how many examples of class ``t`` were predicted as ``p``.

    ``num_classes`` defaults to ``max(label) + 1``. Rows sum to the class
    sizes; the diagonal holds the correct predictions.
    """
    y_true, y_pred = _check_labels(y_true, y_pred)
    k = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    if num_classes is not None:
        if num_classes < k:
            raise ValueError(f"num_classes={num_classes} but the labels go up to {k - 1}")
        k = num_classes
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)  # counts[t, p] += 1 for every example
    return counts


def plot_confusion_matrix(y_true, y_pred, num_classes=None, normalize=False, ax=None):
    """The confusion matrix as a heat map with the count (or row fraction) in every cell.

    Rows are the true classes, columns the predicted ones; the title gives the
    accuracy. ``normalize=True`` divides each row by the class size. Returns the figure.
    """
    counts = confusion_matrix(y_true, y_pred, num_classes)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    if ax is None:
        k = len(counts)
        fig = Figure(figsize=(0.55 * k + 1.8, 0.55 * k + 1.2), layout="constrained")
        ax = fig.add_subplot()
    show_matrix(
        values,
        ax=ax,
        fmt=".2f" if normalize else "d",
        cmap="Blues",
        fontsize=8,
        title=f"confusion matrix (accuracy {accuracy:.2%})",
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_yticks(range(len(counts)))
    return ax.figure
