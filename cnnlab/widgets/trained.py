"""The trained-network explorer: look inside the network you just trained.

Pick a test digit (or draw one on a 14×14 grid) and see, for **your** trained
network (a :class:`cnnlab.nn.Sequential` or a torch ``nn.Sequential``):

* the predicted probabilities of the ten classes;
* the feature maps after every layer (the first channels of each);
* the filters of a chosen convolution;
* the test digits that excite a chosen channel the most (largest activation anywhere in its map).

:class:`TrainedNetState` computes all of it without a browser;
:func:`render_trained_html` draws it; :class:`TrainedNetExplorer` adds the controls.
"""

import html

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab import nn as cnn
from cnnlab._validation import as_array
from cnnlab.data import normalize_images
from cnnlab.widgets.base import TIMES, format_number, slider
from cnnlab.widgets.picture import img_tag, map_png

DRAW_SIZE = 14          # the drawing grid is DRAW_SIZE x DRAW_SIZE, each square 2x2 MNIST pixels
MAX_MAPS = 8            # feature maps shown per layer
MAX_FILTERS = 16


def _torch_leaves(model):
    return [(name, m) for name, m in model.named_modules() if not list(m.children())]


def drawing_to_input(drawing):
    """A (14, 14) grid of 0/1 -> one normalised MNIST-like input (1, 1, 28, 28) float32.

    Each square becomes 2×2 pixels of full ink (255); the pixels around a stroke get the grey of a
    3×3 box blur, as the anti-aliased edges of MNIST's pen strokes do.
    """
    drawing = as_array(drawing, "drawing", ndim=2)
    if drawing.shape != (DRAW_SIZE, DRAW_SIZE):
        raise ValueError(f"drawing must be {DRAW_SIZE}x{DRAW_SIZE}, got shape {drawing.shape}")
    ink = np.kron(np.clip(drawing, 0, 1), np.ones((2, 2))) * 255.0
    soft = F.correlate2d(ink, np.full((3, 3), 1 / 9), "same")
    pixels = np.clip(np.maximum(ink, soft), 0, 255).round().astype(np.uint8)
    return normalize_images(pixels[None])


class TrainedNetState:
    """A trained model, the test images it is explored with, and the current choices.

    ``model``: :class:`cnnlab.nn.Sequential` or torch ``nn.Sequential``; ``images``: (N, 1, 28, 28)
    normalised test images (as the model was trained on); ``labels``: (N,) or ``None``.
    ``search``: how many test images :meth:`top_images` looks through.
    """

    def __init__(self, model, images, labels=None, search=1000):
        self.model = model
        self.images = as_array(images, "images", ndim=4)
        self.labels = None if labels is None else np.asarray(labels)
        self.search = min(int(search), len(self.images))
        self.is_torch = not isinstance(model, cnn.Sequential)
        self.names = self.layer_names()
        self.index, self.drawing, self.use_drawing = 0, np.zeros((DRAW_SIZE, DRAW_SIZE)), False
        self._top_cache = {}

    # -- running the network ----------------------------------------------------

    def layer_names(self):
        """``["0 Conv2d", "1 ReLU", ...]``, one per layer."""
        if self.is_torch:
            return [f"{name} {type(m).__name__}" for name, m in _torch_leaves(self.model)]
        return [f"{i} {type(layer).__name__}" for i, layer in enumerate(self.model)]

    def activations(self, x):
        """Every layer's output for the batch ``x`` (N, 1, 28, 28): a list of arrays, one per layer."""
        outs = []
        if self.is_torch:
            import torch
            param = next(self.model.parameters(), None)
            out = torch.as_tensor(np.asarray(x), dtype=param.dtype if param is not None else torch.float32)
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                for _, m in _torch_leaves(self.model):
                    out = m(out)
                    outs.append(out.double().numpy())
            self.model.train(was_training)
            return outs
        was_training = self.model.training
        self.model.eval()
        out = np.asarray(x)
        for layer in self.model:
            out = layer.forward(out)
            outs.append(np.asarray(out, dtype=float))
        if was_training:
            self.model.train()
        return outs

    @property
    def x(self):
        """The current input (1, 1, 28, 28): the chosen test image or the drawing."""
        if self.use_drawing:
            return drawing_to_input(self.drawing)
        return self.images[self.index:self.index + 1]

    def probabilities(self, x=None):
        """Softmax of the network's scores for the current input (or ``x``): (10,)."""
        scores = self.activations(self.x if x is None else x)[-1][0]
        return F.softmax(scores[None])[0]

    def conv_layers(self):
        """Indices of the convolution layers."""
        return [i for i, name in enumerate(self.names) if name.split()[1] == "Conv2d"]

    def spatial_layers(self):
        """Indices of layers whose output is a stack of maps (C, H, W)."""
        shapes = [a.shape for a in self.activations(self.images[:1])]
        return [i for i, s in enumerate(shapes) if len(s) == 4]

    def filters(self, layer):
        """The weights (C_out, C_in, KH, KW) of convolution ``layer`` as a NumPy array."""
        if self.is_torch:
            return dict(_torch_leaves(self.model))[self.names[layer].split()[0]].weight.detach().double().numpy()
        return np.asarray(self.model[layer].params["weight"], dtype=float)

    def top_images(self, layer, channel, k=8):
        """The ``k`` test images (indices) with the largest activation of ``channel`` in ``layer``,
        looking through the first ``search`` images; returns ``(indices, activations)``."""
        if layer not in self._top_cache:
            peaks = []
            for start in range(0, self.search, 250):
                out = self.activations(self.images[start:min(start + 250, self.search)])[layer]
                peaks.append(out.reshape(out.shape[0], out.shape[1], -1).max(axis=2))   # (n, C)
            self._top_cache[layer] = np.concatenate(peaks)
        peak = self._top_cache[layer][:, channel]
        order = np.argsort(-peak, kind="stable")[:k]
        return order, peak[order]


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

def _small(values, css_class, title, scale=3, signed=None):
    return ('<figure style="margin:0 0.3em 0.3em 0; text-align:center;">'
            + img_tag(map_png(values, scale=scale, signed=signed), css_class, title)
            + f'<figcaption style="font-size:0.75em;">{html.escape(title)}</figcaption></figure>')


def _row(items):
    return '<div style="display:flex; flex-wrap:wrap; align-items:flex-end;">' + "".join(items) + "</div>"


def render_trained_html(state, layer, channel):
    """HTML: input and probabilities, feature maps per layer, filters of ``layer``, top digits of ``channel``."""
    acts = state.activations(state.x)
    probs = F.softmax(acts[-1][0][None])[0]
    predicted = int(np.argmax(probs))
    source = "your drawing" if state.use_drawing else (
        f"test digit #{state.index}" + ("" if state.labels is None else f" (label {state.labels[state.index]})"))
    bars = "".join(
        f'<div class="cnnlab-prob" data-class="{c}" data-prob="{p:.6f}" style="display:flex; align-items:center;">'
        f'<span style="width:1.5em; font-weight:{"bold" if c == predicted else "normal"};">{c}</span>'
        f'<span style="display:inline-block; height:0.9em; width:{max(p * 200, 1):.1f}px; '
        f'background:{"#0072b2" if c == predicted else "#9ecae1"};"></span>'
        f'<span style="margin-left:0.4em; font-size:0.85em;">{p:.1%}</span></div>'
        for c, p in enumerate(probs))
    parts = ['<div class="cnnlab-explorer cnnlab-trained" style="color:#111111;">',
             '<div style="display:flex; gap:2em; align-items:flex-start;">',
             _small(state.x[0, 0], "cnnlab-trained-input", f"input: {source}", scale=5, signed=False),
             (f'<div class="cnnlab-probabilities"><b>prediction: {predicted}</b> '
              f'({probs[predicted]:.1%}){bars}</div></div>')]
    maps = []
    for i, a in enumerate(acts):
        if a.ndim != 4:
            continue
        c_total = a.shape[1]
        pics = [_small(a[0, c], "cnnlab-feature-map", f"ch {c}", scale=max(1, 56 // a.shape[2]))
                for c in range(min(MAX_MAPS, c_total))]
        maps.append(f'<div class="cnnlab-feature-maps" data-layer="{i}"><b>{html.escape(state.names[i])}</b>: '
                    f'{c_total}{TIMES}{a.shape[2]}{TIMES}{a.shape[3]}'
                    f'{"" if c_total <= MAX_MAPS else f" (first {MAX_MAPS} channels)"}' + _row(pics) + "</div>")
    parts.append("<h4>Feature maps, layer by layer</h4>" + "".join(maps))
    conv_before = [c for c in state.conv_layers() if c <= layer]
    if conv_before:
        conv = conv_before[-1]
        weight = state.filters(conv)
        shown = weight[:MAX_FILTERS]
        note = "" if weight.shape[1] == 1 else f" (mean over the {weight.shape[1]} input channels)"
        pics = [_small(w.mean(axis=0), "cnnlab-filter", f"filter {o}", scale=8, signed=True)
                for o, w in enumerate(shown)]
        parts.append(f'<h4>Filters of {html.escape(state.names[conv])}{note}</h4>' + _row(pics))
    top, peaks = state.top_images(layer, channel)
    pics = [_small(state.images[i, 0], "cnnlab-top-digit",
                   f"#{i}" + ("" if state.labels is None else f" ({state.labels[i]})") + f": {format_number(round(float(v), 2))}",
                   scale=2, signed=False) for i, v in zip(top, peaks)]
    parts.append(f'<h4 class="cnnlab-top-title">Test digits that excite channel {channel} of '
                 f'{html.escape(state.names[layer])} the most (of the first {state.search})</h4>'
                 f'<div class="cnnlab-top-digits">' + _row(pics) + "</div>")
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------

class TrainedNetExplorer(widgets.VBox):
    """Digit picker or drawing grid, layer and channel pickers, and the rendered network."""

    def __init__(self, model, images, labels=None, search=1000):
        self.state = TrainedNetState(model, images, labels, search)
        spatial = self.state.spatial_layers()
        shapes = {i: a.shape for i, a in enumerate(self.state.activations(self.state.images[:1]))}
        c = {"source": widgets.ToggleButtons(options=["test digit", "draw"], value="test digit"),
             "index": widgets.BoundedIntText(value=0, min=0, max=len(self.state.images) - 1,
                                             description="test digit #", style={"description_width": "initial"},
                                             layout=widgets.Layout(width="12em")),
             "layer": widgets.Dropdown(options=[(f"{self.state.names[i]} ({shapes[i][1]} channels)", i)
                                                for i in spatial], value=spatial[0], description="layer"),
             "channel": slider("channel", 0, 0, shapes[spatial[0]][1] - 1),
             "clear": widgets.Button(description="clear drawing")}
        self.controls, self.shapes = c, shapes
        self.cells = [widgets.ToggleButton(value=False, layout=widgets.Layout(width="16px", height="16px",
                                                                              padding="0"))
                      for _ in range(DRAW_SIZE * DRAW_SIZE)]
        for cell in self.cells:
            cell.add_class("cnnlab-draw-cell")
            cell.observe(self.on_draw, names="value")
        self.pad = widgets.GridBox(self.cells, layout=widgets.Layout(
            grid_template_columns=f"repeat({DRAW_SIZE}, 16px)", grid_gap="0px"))
        self.pad.add_class("cnnlab-draw-grid")
        self.view = widgets.HTML()
        self.view.add_class("cnnlab-trained-view")
        super().__init__(children=[widgets.HBox([c["source"], c["index"]]),
                                   widgets.HBox([self.pad, c["clear"]]),
                                   widgets.HBox([c["layer"], c["channel"]]), self.view])
        self.add_class("cnnlab-trained-explorer")
        for name in ("source", "index", "layer", "channel"):
            c[name].observe(self.redraw, names="value")
        c["clear"].on_click(self.clear)
        self.redraw()

    def on_draw(self, change):
        self.state.drawing = np.array([cell.value for cell in self.cells], dtype=float).reshape(DRAW_SIZE, DRAW_SIZE)
        for cell in self.cells:
            cell.style.button_color = "#111111" if cell.value else "#eeeeee"
        if self.controls["source"].value == "draw":
            self.redraw()

    def clear(self, button=None):
        for cell in self.cells:
            cell.value = False

    def redraw(self, change=None):
        c = self.controls
        self.state.use_drawing = c["source"].value == "draw"
        self.state.index = c["index"].value
        c["channel"].max = self.shapes[c["layer"].value][1] - 1
        self.view.value = render_trained_html(self.state, c["layer"].value, c["channel"].value)


def trained_net_explorer(model, images, labels=None, search=1000):
    """Explore your trained ``model`` on the test ``images`` (N, 1, 28, 28), normalised as in training."""
    return TrainedNetExplorer(model, images, labels, search)
