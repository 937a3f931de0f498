"""The receptive-field explorer: which input pixels can one unit of your network see?

Give it a network you built (a :class:`cnnlab.nn.Sequential` or a torch
``nn.Sequential``) and an input. Pick a layer, a channel and an output unit
(click the grid, or use the sliders); the picture outlines the unit's
**receptive field** on the input, computed layer by layer with

    R_l = R_(l-1) + D_l (K_l - 1) J_(l-1)     (size)
    J_l = J_(l-1) S_l                         (jump: input pixels between neighbouring units)
    O_l = O_(l-1) - P_l J_(l-1)               (where unit 0's field starts)

so that unit ``i`` sees input rows ``i J_l + O_l`` to ``i J_l + O_l + R_l - 1``
(clipped to the image), and checks the formula against gradients:

* the gradient d unit / d input of a copy of the network with every weight
  set to 1, max pooling read as average pooling and activations as identities
  (nothing can cancel) is non-zero only inside the formula's field and reaches
  all four of its sides (a dilated kernel leaves gaps inside);
* the gradient of *your* network on *your* input is non-zero only inside it
  (ReLUs and max pooling switch some paths off, so usually on less).

Convolutions, max/average pooling and element-wise layers (ReLU, dropout,
batch norm, ...) are understood; the first ``Flatten`` or ``Linear`` ends the
spatial part (a fully connected unit sees the whole image).
"""

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab import nn as cnn
from cnnlab._validation import as_array, as_pair
from cnnlab.widgets.base import TIMES, slider, text_block
from cnnlab.widgets.picture import display_scale, img_tag, map_png

ELEMENTWISE_TORCH = ("ReLU", "LeakyReLU", "ReLU6", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Dropout",
                     "Dropout2d", "BatchNorm2d", "Identity", "LocalResponseNorm")
STOP_TORCH = ("Flatten", "Linear", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")


@dataclass
class LayerSpec:
    """What the receptive field needs to know about one layer (pairs are (height, width))."""

    name: str
    kind: str                   # "conv", "pool" or "elementwise"
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)


def _pairs(name, kind, kernel, stride, padding, dilation=1):
    if isinstance(padding, str):
        raise TypeError(f"layer {name}: padding={padding!r} is not supported here; give padding as numbers")
    return LayerSpec(name, kind, as_pair(kernel, "kernel_size", 1), as_pair(stride, "stride", 1),
                     as_pair(padding, "padding", 0), as_pair(dilation, "dilation", 1))


def _torch_leaves(model):
    """A torch model's leaf modules in order, with their dotted names."""
    return [(name, m) for name, m in model.named_modules() if not list(m.children())]


def layer_specs(model):
    """``[LayerSpec, ...]`` for the spatial layers of ``model``, up to the first Flatten/Linear.

    ``model``: a :class:`cnnlab.nn.Sequential` or a torch ``nn.Module`` whose leaf modules run in
    the order they were registered (e.g. ``nn.Sequential``).
    """
    specs = []
    if isinstance(model, cnn.Sequential):
        for i, layer in enumerate(model):
            name = f"{i} {type(layer).__name__}"
            if isinstance(layer, cnn.Conv2d):
                specs.append(_pairs(name, "conv", layer.kernel_size, layer.stride, layer.padding, layer.dilation))
            elif isinstance(layer, (cnn.MaxPool2d, cnn.AvgPool2d)):
                specs.append(_pairs(name, "pool", layer.kernel_size, layer.stride, layer.padding))
            elif isinstance(layer, (cnn.Flatten, cnn.Linear)):
                break
            else:
                specs.append(LayerSpec(name, "elementwise"))
        return specs
    leaves = _torch_leaves(model) if hasattr(model, "named_modules") else None
    if leaves is None:
        raise TypeError(f"model must be a cnnlab.nn.Sequential or a torch nn.Module, got {type(model).__name__}")
    for name, m in leaves:
        kind = type(m).__name__
        label = f"{name} {kind}"
        if kind == "Conv2d":
            specs.append(_pairs(label, "conv", m.kernel_size, m.stride, m.padding, m.dilation))
        elif kind in ("MaxPool2d", "AvgPool2d"):
            stride = m.stride if m.stride is not None else m.kernel_size
            specs.append(_pairs(label, "pool", m.kernel_size, stride, m.padding, getattr(m, "dilation", 1)))
        elif kind in STOP_TORCH:
            break
        elif kind in ELEMENTWISE_TORCH:
            specs.append(LayerSpec(label, "elementwise"))
        else:
            raise TypeError(f"layer {label}: the receptive-field explorer knows convolutions, pooling and "
                            f"element-wise layers ({', '.join(ELEMENTWISE_TORCH)}), not {kind}")
    return specs


def output_sizes(specs, input_hw):
    """``[(H, W) of the input, (H, W) after layer 0, ...]`` by the size formula."""
    sizes = [tuple(input_hw)]
    for spec in specs:
        h, w = sizes[-1]
        if spec.kind == "elementwise":
            sizes.append((h, w))
        else:
            sizes.append(tuple(F.conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                               zip((h, w), spec.kernel, spec.stride, spec.padding, spec.dilation)))
    return sizes


def field_parameters(specs, layer):
    """Per axis ``(R, J, O)`` after layer ``layer`` (inclusive): size, jump and start of unit 0's field."""
    result = []
    for axis in (0, 1):
        r, j, o = 1, 1, 0
        for spec in specs[:layer + 1]:
            if spec.kind == "elementwise":
                continue
            k, s, p, d = spec.kernel[axis], spec.stride[axis], spec.padding[axis], spec.dilation[axis]
            r += d * (k - 1) * j          # R_l = R_(l-1) + D (K - 1) J_(l-1)
            o -= p * j                    # O_l = O_(l-1) - P J_(l-1)
            j *= s                        # J_l = J_(l-1) S
        result.append((r, j, o))
    return result


def receptive_field(specs, layer, unit):
    """Unbounded field ``(r0, c0, r1, c1)`` (inclusive) of unit ``(row, col)`` of layer ``layer``."""
    (rh, jh, oh), (rw, jw, ow) = field_parameters(specs, layer)
    r0, c0 = unit[0] * jh + oh, unit[1] * jw + ow
    return (r0, c0, r0 + rh - 1, c0 + rw - 1)


def clip_box(box, hw):
    """A box clipped to an (H, W) map."""
    r0, c0, r1, c1 = box
    return (max(r0, 0), max(c0, 0), min(r1, hw[0] - 1), min(c1, hw[1] - 1))


def nonzero_box(grad, tol=0.0):
    """Bounding box ``(r0, c0, r1, c1)`` of the entries with ``|grad| > tol``, or ``None``."""
    rows, cols = np.nonzero(np.abs(grad) > tol)
    if len(rows) == 0:
        return None
    return (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()))


def structural_gradient(specs, input_hw, layer, unit):
    """d unit / d input (H, W) for one channel, all weights 1, pooling as averaging, activations as identities.

    Every path from the input to the unit then has a positive weight, so the result is non-zero
    exactly where the unit can see.
    """
    sizes = output_sizes(specs, input_hw)
    g = np.zeros(sizes[layer + 1])
    g[unit] = 1.0
    for index in reversed(range(layer + 1)):
        spec = specs[index]
        if spec.kind == "elementwise":
            continue
        ones = np.ones((1, 1) + spec.kernel)
        g = F.conv2d_backward(g[None, None], np.zeros((1, 1) + sizes[index]), ones, stride=spec.stride,
                              padding=spec.padding, dilation=spec.dilation)[0][0, 0]
    return g


def network_gradient(model, x, layer, channel, unit):
    """d (layer's output[0, channel, row, col]) / d x for the real network, summed |.| over input channels.

    ``x``: (1, C, H, W). Works for :class:`cnnlab.nn.Sequential` (its own backward passes) and torch.
    """
    if isinstance(model, cnn.Sequential):
        layers = list(model)[:layer + 1]
        was_training = model.training
        model.eval()                       # dropout off, as at test time
        out = np.asarray(x)
        for lay in layers:
            out = lay.forward(out)
        dout = np.zeros_like(out)
        dout[0, channel, unit[0], unit[1]] = 1.0
        for lay in reversed(layers):
            dout = lay.backward(dout)
        if was_training:
            model.train()
        return np.abs(np.asarray(dout, dtype=float)[0]).sum(axis=0)
    import torch
    leaves = [m for _, m in _torch_leaves(model)][:layer + 1]
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    xt = torch.tensor(np.asarray(x), dtype=dtype, requires_grad=True)
    was_training = model.training
    model.eval()
    try:
        out = xt
        for m in leaves:
            out = m(out)
        out[0, channel, unit[0], unit[1]].backward()
    finally:
        model.train(was_training)
    return xt.grad.detach().abs().sum(dim=1)[0].double().numpy()


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

class ReceptiveFieldState:
    """A model, an input ``x`` (1, C, H, W) and the selected unit ``(layer, channel, row, col)``."""

    def __init__(self, model, x, layer=0, channel=0, row=0, col=0):
        self.model = model
        self.x = as_array(x, "x", ndim=4)
        if self.x.shape[0] != 1:
            raise ValueError(f"x must hold one image, shape (1, C, H, W); got {self.x.shape}")
        self.specs = layer_specs(model)
        if not self.specs:
            raise ValueError("the model has no convolution or pooling layer before its first Flatten/Linear")
        self.sizes = output_sizes(self.specs, self.x.shape[2:])
        self.channels = self._channel_counts()
        self.layer, self.channel, self.row, self.col = 0, 0, 0, 0
        self.select(layer, channel, row, col)

    def _channel_counts(self):
        counts, c = [], self.x.shape[1]
        for spec in self.specs:
            if spec.kind == "conv":
                c = self._conv_out_channels(spec)
            counts.append(c)
        return counts

    def _conv_out_channels(self, spec):
        """Output channels of the convolution described by ``spec`` (its name starts with the layer's key)."""
        key = spec.name.split()[0]
        if isinstance(self.model, cnn.Sequential):
            return self.model[int(key)].params["weight"].shape[0]
        return dict(_torch_leaves(self.model))[key].out_channels

    def select(self, layer=None, channel=None, row=None, col=None):
        """Select a unit; every value is clamped into the layer's output."""
        if layer is not None:
            self.layer = min(max(0, int(layer)), len(self.specs) - 1)
        if channel is not None:
            self.channel = int(channel)
        if row is not None:
            self.row = int(row)
        if col is not None:
            self.col = int(col)
        h, w = self.output_hw
        self.channel = min(max(0, self.channel), self.channels[self.layer] - 1)
        self.row, self.col = min(max(0, self.row), h - 1), min(max(0, self.col), w - 1)
        return self

    @property
    def output_hw(self):
        """(H, W) of the selected layer's output."""
        return self.sizes[self.layer + 1]

    @property
    def field(self):
        """The formula's field of the selected unit, clipped to the input: ``(r0, c0, r1, c1)``."""
        return clip_box(receptive_field(self.specs, self.layer, (self.row, self.col)), self.x.shape[2:])

    @property
    def field_size(self):
        """``(R_h, R_w)``: the formula's size, before clipping at the border."""
        (rh, _, _), (rw, _, _) = field_parameters(self.specs, self.layer)
        return (rh, rw)

    def check(self):
        """The formula against both gradients: a dict of boxes and verdicts."""
        structural = structural_gradient(self.specs, self.x.shape[2:], self.layer, (self.row, self.col))
        actual = network_gradient(self.model, self.x, self.layer, self.channel, (self.row, self.col))
        r0, c0, r1, c1 = self.field
        inside = np.zeros(self.x.shape[2:], dtype=bool)
        inside[r0:r1 + 1, c0:c1 + 1] = True
        return {"field": self.field, "structural_box": nonzero_box(structural),
                "structural_inside": bool(np.all(structural[~inside] == 0)),
                "network_box": nonzero_box(actual), "network_inside": bool(np.all(actual[~inside] == 0)),
                "network_gradient": actual, "structural_gradient": structural}

    def formula_lines(self):
        """One line per layer up to the selected one: K, S, P, D and the running R, J, O (height axis)."""
        lines = ["layer                      K  S  P  D   R (field)  J (jump)  O (start)"]
        for index in range(self.layer + 1):
            spec = self.specs[index]
            (r, j, o), _ = field_parameters(self.specs, index)
            k, s, p, d = spec.kernel[0], spec.stride[0], spec.padding[0], spec.dilation[0]
            lines.append(f"{spec.name[:24]:24s} {k:3d}{s:3d}{p:3d}{d:3d}   {r:6d}     {j:6d}    {o:6d}")
        (rh, jh, oh), (rw, jw, ow) = field_parameters(self.specs, self.layer)
        lines.append(f"unit ({self.row}, {self.col}): rows {self.row}·{jh} + ({oh}) .. + {rh} − 1, "
                     f"columns {self.col}·{jw} + ({ow}) .. + {rw} − 1  ->  field {rh}{TIMES}{rw}, "
                     f"on the image rows {self.field[0]}..{self.field[2]}, columns {self.field[1]}..{self.field[3]}")
        return lines

    def check_lines(self, result=None):
        """The verdicts of :meth:`check` in words."""
        result = self.check() if result is None else result

        def box_text(box):
            return "nowhere" if box is None else f"rows {box[0]}..{box[2]}, columns {box[1]}..{box[3]}"
        same = result["structural_box"] == result["field"]
        return [f"formula: {box_text(result['field'])}",
                (f"gradient, same layers with weights 1 and no ReLU/max: non-zero in "
                 f"{box_text(result['structural_box'])} {'= the formula ✓' if same else '≠ the formula ✗'}"),
                (f"gradient of your network on this input: non-zero in {box_text(result['network_box'])} "
                 f"{'(inside the field ✓)' if result['network_inside'] else '(OUTSIDE the field ✗)'}")]


def render_receptive_html(state, result=None):
    """HTML: the input with the field outlined, the network's gradient, the formula table, the check."""
    result = state.check() if result is None else result
    image = state.x[0].mean(axis=0)
    field = result["field"]
    scale = display_scale(image.shape, max_pixels=240)
    attrs = {"data-field": ",".join(map(str, field)), "data-height": image.shape[0],
             "data-width": image.shape[1]}
    pictures = [
        f'<div class="cnnlab-caption" style="font-weight:bold;">Input ({image.shape[0]}{TIMES}{image.shape[1]}), '
        f'receptive field outlined</div>'
        + img_tag(map_png(image, [(field, "window")], scale, signed=False), "cnnlab-rf-input",
                  "input with the receptive field", attrs),
        '<div class="cnnlab-caption" style="font-weight:bold;">|d unit / d input| of your network</div>'
        + img_tag(map_png(result["network_gradient"], [(field, "window")], scale, signed=False),
                  "cnnlab-rf-gradient", "gradient of the unit", attrs),
    ]
    h, w = state.output_hw
    unit = (f"unit: layer {state.specs[state.layer].name}, channel {state.channel}, "
            f"position ({state.row}, {state.col}) of {h}{TIMES}{w}")
    return ('<div class="cnnlab-explorer cnnlab-rf" style="color:#111111;">'
            + text_block("cnnlab-rf-unit", [unit])
            + '<div style="display:flex; flex-wrap:wrap; gap:1.5em;">'
            + "".join(f"<div>{p}</div>" for p in pictures) + "</div>"
            + text_block("cnnlab-formula", state.formula_lines(), "white-space:pre;")
            + text_block("cnnlab-rf-check", state.check_lines(result)) + "</div>")


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------

MAX_BUTTONS = 14      # the clickable grid has at most this many buttons per side


class ReceptiveFieldExplorer(widgets.VBox):
    """Layer/channel pickers, a clickable grid of the layer's output units, and the picture."""

    def __init__(self, model, x):
        self.state = ReceptiveFieldState(model, x)
        names = [f"{spec.name} -> {self.state.channels[i]}{TIMES}{h}{TIMES}{w}"
                 for i, (spec, (h, w)) in enumerate(zip(self.state.specs, self.state.sizes[1:]))]
        c = {"layer": widgets.Dropdown(options=list(zip(names, range(len(names)))), value=0,
                                       description="layer", layout=widgets.Layout(width="30em")),
             "channel": slider("channel", 0, 0, max(self.state.channels) - 1),
             "row": slider("unit row", 0, 0, 0), "col": slider("unit column", 0, 0, 0)}
        self.controls, self.syncing = c, False
        self.units = widgets.GridBox(layout=widgets.Layout(grid_gap="1px"))
        self.units.add_class("cnnlab-rf-units")
        self.view = widgets.HTML()
        self.view.add_class("cnnlab-rf-view")
        super().__init__(children=[c["layer"], widgets.HBox([c["channel"], c["row"], c["col"]]),
                                   widgets.HBox([widgets.Label("click a unit:"), self.units]), self.view])
        self.add_class("cnnlab-rf-explorer")
        for control in c.values():
            control.observe(self.on_change, names="value")
        self.on_change()

    def block(self):
        """Output units per button along each axis."""
        h, w = self.state.output_hw
        return (-(-h // MAX_BUTTONS), -(-w // MAX_BUTTONS))

    def build_buttons(self):
        h, w = self.state.output_hw
        bh, bw = self.block()
        rows, cols = -(-h // bh), -(-w // bw)
        buttons = []
        for r in range(rows):
            for col in range(cols):
                b = widgets.Button(layout=widgets.Layout(width="20px", height="20px", padding="0"),
                                   tooltip=f"unit ({r * bh}, {col * bw})")
                b.add_class("cnnlab-rf-unit-button")
                b.unit = (r * bh, col * bw)
                b.on_click(self.on_click)
                buttons.append(b)
        self.units.layout.grid_template_columns = f"repeat({cols}, 20px)"
        self.units.children = buttons

    def on_click(self, button):
        self.syncing = True
        try:
            self.controls["row"].value, self.controls["col"].value = button.unit
        finally:
            self.syncing = False
        self.on_change()

    def on_change(self, change=None):
        if self.syncing:
            return
        self.syncing = True
        try:
            c = self.controls
            old_layer = self.state.layer
            self.state.select(c["layer"].value, c["channel"].value, c["row"].value, c["col"].value)
            h, w = self.state.output_hw
            c["channel"].max = self.state.channels[self.state.layer] - 1
            c["row"].max, c["col"].max = h - 1, w - 1
            c["channel"].value, c["row"].value, c["col"].value = self.state.channel, self.state.row, self.state.col
            if change is None or old_layer != self.state.layer or not self.units.children:
                self.build_buttons()
            bh, bw = self.block()
            for b in self.units.children:
                chosen = b.unit == (self.state.row // bh * bh, self.state.col // bw * bw)
                b.style.button_color = "#0072b2" if chosen else "#d9d9d9"
        finally:
            self.syncing = False
        self.view.value = render_receptive_html(self.state)


def receptive_field_explorer(model, x):
    """Click a unit of any layer of ``model`` and see its receptive field on the input ``x``.

    ``model``: a :class:`cnnlab.nn.Sequential` or a torch ``nn.Sequential`` you built;
    ``x``: one input, (C, H, W) or (1, C, H, W), e.g. an MNIST digit as (1, 1, 28, 28).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 3:
        x = x[None]
    return ReceptiveFieldExplorer(model, x)
