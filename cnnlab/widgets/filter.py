"""The filter explorer: your own image (any size) and your own kernel, convolution or transposed.

Where :mod:`cnnlab.widgets.conv` prints every number of a small input, this
explorer takes any 2-D array (an MNIST digit, a photo, a map from a network),
draws it downscaled with the current window outlined, and prints only the
numbers under the window. Its second mode is the **transposed convolution**:
the cursor then selects one *input* value, and the picture shows the block of
the output that this value is spread over (a copy of the kernel scaled by it).

Three layers, as every explorer: :class:`FilterExplorerState` (numbers, tested
without a browser), :func:`render_filter_html` (state -> HTML) and
:class:`FilterExplorer` (the widgets, with a kernel typed into a grid).
"""

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_array, check_int
from cnnlab.widgets.base import (
    MINUS,
    TIMES,
    error_block,
    format_factor,
    format_number,
    html_table,
    panels_row,
    slider,
    text_block,
)
from cnnlab.widgets.picture import display_scale, img_tag, map_png

CONV, TRANSPOSED = "convolution", "transposed convolution"
MODES = (CONV, TRANSPOSED)

KERNEL_PRESETS = {
    "identity": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": np.full((3, 3), 1 / 9),
    "sharpen (2·identity − box)": 2 * np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]) - np.full((3, 3), 1 / 9),
    "sharpen (−1, 9)": np.array([[-1.0, -1, -1], [-1, 9, -1], [-1, -1, -1]]),
    "Sobel x": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "left difference": np.array([[-1.0, 1]]),
}


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

@dataclass
class FilterExplorerState:
    """One 2-D image, one kernel, stride and padding, and a cursor.

    ``mode == "convolution"``: ``Z = conv2d(image, kernel, stride, padding)`` and
    the cursor ``(row, col)`` selects an **output** cell; its window on the
    input is outlined.

    ``mode == "transposed convolution"``: ``Z = conv_transpose(image, kernel,
    stride, padding)``, the map whose adjoint is the convolution above (the
    input gradient of notebook 05), of size ``S(H − 1) + K − 2P``. The cursor
    selects an **input** cell ``(row, col)``; it adds ``image[row, col] · kernel``
    to the output block whose top-left corner is ``(row·S − P, col·S − P)``.
    """

    image: np.ndarray
    kernel: np.ndarray
    stride: int = 1
    padding: int = 0
    mode: str = CONV
    row: int = 0
    col: int = 0

    def __post_init__(self):
        self.image = as_array(self.image, "image", ndim=2)
        self.kernel = as_array(self.kernel, "kernel", ndim=2)
        self.clamp_cursor()

    def update(self, **changes):
        """Set fields (``update(stride=2, mode="transposed convolution")``) and keep the cursor inside."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"FilterExplorerState has no field {name!r}")
            if name in ("image", "kernel"):
                value = as_array(value, name, ndim=2)
            setattr(self, name, value)
        self.clamp_cursor()
        return self

    # -- checks and sizes ----------------------------------------------------

    @property
    def error(self):
        """A friendly message when these settings give no output, else ``None``."""
        if self.mode not in MODES:
            return f"mode must be one of {MODES}, got {self.mode!r}"
        try:
            check_int(self.stride, "stride", minimum=1)
            check_int(self.padding, "padding", minimum=0)
        except (TypeError, ValueError) as exc:
            return str(exc)
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        if self.mode == CONV and (kh > h + 2 * self.padding or kw > w + 2 * self.padding):
            return (f"No output: the {kh}{TIMES}{kw} kernel is larger than the padded input "
                    f"{h + 2 * self.padding}{TIMES}{w + 2 * self.padding}. Add padding or use a smaller kernel.")
        if self.mode == TRANSPOSED and min(self.output_size(h, kh), self.output_size(w, kw)) < 1:
            return (f"No output: S(H {MINUS} 1) + K {MINUS} 2P < 1; padding {self.padding} crops away "
                    f"everything. Use less padding.")
        return None

    def output_size(self, size, k):
        """Output size along one axis: ``floor((n + 2P − K)/S) + 1`` or, transposed, ``S(n − 1) + K − 2P``."""
        s, p = self.stride, self.padding
        if self.mode == TRANSPOSED:
            return s * (size - 1) + k - 2 * p
        return (size + 2 * p - k) // s + 1

    @property
    def output_shape(self):
        """``(H_out, W_out)`` or ``None`` when there is no output."""
        if self.error is not None:
            return None
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        return (self.output_size(h, kh), self.output_size(w, kw))

    @property
    def cursor_shape(self):
        """Where the cursor moves: the output (convolution) or the input (transposed)."""
        return self.image.shape if self.mode == TRANSPOSED else self.output_shape

    def clamp_cursor(self):
        """Keep ``(row, col)`` inside :attr:`cursor_shape`."""
        shape = self.cursor_shape if self.error is None else None
        self.row, self.col = max(0, int(self.row)), max(0, int(self.col))
        if shape is not None:
            self.row, self.col = min(self.row, shape[0] - 1), min(self.col, shape[1] - 1)

    # -- numbers ---------------------------------------------------------------

    @property
    def output(self):
        """``Z`` as (H_out, W_out), from ``cnnlab.functional``; ``None`` when there is none."""
        if self.error is not None:
            return None
        x, w = self.image[None, None], self.kernel[None, None]
        if self.mode == CONV:
            return F.conv2d(x, w, stride=self.stride, padding=self.padding)[0, 0]
        # the transposed convolution is the input gradient of the convolution that maps Z back to image
        h_out, w_out = self.output_shape
        dx, _, _ = F.conv2d_backward(x, np.zeros((1, 1, h_out, w_out)), w,
                                     stride=self.stride, padding=self.padding)
        return dx[0, 0]

    def block(self):
        """The cursor's block ``(r0, c0, r1, c1)`` (inclusive; may reach into the padding):
        the window on the input (convolution) or the output cells it stamps (transposed)."""
        (kh, kw), s, p = self.kernel.shape, self.stride, self.padding
        r0, c0 = self.row * s - p, self.col * s - p
        return (r0, c0, r0 + kh - 1, c0 + kw - 1)

    def window_values(self):
        """(KH, KW): the input under the current window, zeros where it hangs over the padding."""
        r0, c0, r1, c1 = self.block()
        padded = np.pad(self.image, self.padding)
        p = self.padding
        return padded[r0 + p:r1 + p + 1, c0 + p:c1 + p + 1]

    def spread(self):
        """Transposed mode: ``{(out_row, out_col): added value}`` for the selected input value.

        Cells of the stamp that fall outside the output (into the cropped padding) are left out.
        """
        r0, c0, _, _ = self.block()
        h_out, w_out = self.output_shape
        value = self.image[self.row, self.col]
        kh, kw = self.kernel.shape
        return {(r0 + u, c0 + v): value * self.kernel[u, v]
                for u in range(kh) for v in range(kw)
                if 0 <= r0 + u < h_out and 0 <= c0 + v < w_out}

    # -- text ----------------------------------------------------------------

    def formula_lines(self):
        """The output size along H and W with the numbers substituted."""
        if self.error is not None and not self.error.startswith("No output"):
            return [f"cannot compute the output size: {self.error}"]
        (h, w), (kh, kw), s, p = self.image.shape, self.kernel.shape, self.stride, self.padding
        lines = []
        for name, n, k in (("H", h, kh), ("W", w, kw)):
            if self.mode == TRANSPOSED:
                lines.append(f"{name}_out = S({name} {MINUS} 1) + K {MINUS} 2P = {s}·({n} {MINUS} 1) + {k} "
                             f"{MINUS} 2·{p} = {self.output_size(n, k)}")
            else:
                lines.append(f"{name}_out = floor(({name} + 2P {MINUS} K)/S) + 1 = floor(({n} + 2·{p} "
                             f"{MINUS} {k})/{s}) + 1 = {self.output_size(n, k)}")
        return lines

    def arithmetic(self):
        """The selected output value written out, or (transposed) where the selected value goes."""
        if self.error is not None:
            return self.error
        if self.mode == CONV:
            products = [f"{format_factor(a)}{TIMES}{format_factor(k)}"
                        for a, k in zip(self.window_values().ravel(), self.kernel.ravel())]
            value = self.output[self.row, self.col]
            return f"Z[{self.row},{self.col}] = " + " + ".join(products) + f" = {format_number(value)}"
        r0, c0, r1, c1 = self.block()
        h_out, w_out = self.output_shape
        return (f"X[{self.row},{self.col}] = {format_number(self.image[self.row, self.col])} adds "
                f"X[{self.row},{self.col}]{TIMES}K to Z[{r0}..{r1}, {c0}..{c1}] (any part outside rows "
                f"0..{h_out - 1}, columns 0..{w_out - 1} falls into the cropped padding); every output value "
                f"is the sum of the stamps that overlap it")


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

def _picture(values, css_class, caption, boxes=(), fills=(), signed=None):
    scale = display_scale(values.shape)
    png = map_png(values, boxes=boxes, scale=scale, signed=signed, fills=fills)
    h, w = values.shape
    attrs = {"data-height": h, "data-width": w, "data-scale": f"{scale:.3g}"}
    for box, colour in boxes:
        attrs[f"data-{colour}-box"] = ",".join(str(v) for v in box)
    note = f" (shown at {scale:.2g} screen pixels per value)" if scale < 1 or h * w > 400 else ""
    return (f'<div class="cnnlab-caption" style="font-weight:bold;">{caption}{note}</div>'
            + img_tag(png, css_class, caption, attrs))


def render_filter_html(state):
    """HTML for a :class:`FilterExplorerState`: formula, labelled input and output pictures,
    the numbers under the window (or of the stamp), the arithmetic."""
    h, w = state.image.shape
    kh, kw = state.kernel.shape
    parts = ['<div class="cnnlab-explorer cnnlab-filter" style="color:#111111;">',
             text_block("cnnlab-formula", state.formula_lines())]
    kernel_table = html_table(state.kernel, "cnnlab-kernel", f"Kernel K ({kh}{TIMES}{kw})",
                              titles_at=lambda r, c: f"K[{r},{c}]")
    if state.error is not None:
        parts += [error_block(state.error),
                  panels_row([_picture(state.image, "cnnlab-filter-input", f"Input X ({h}{TIMES}{w})"),
                              kernel_table])]
    else:
        h_out, w_out = state.output_shape
        block = state.block()
        if state.mode == CONV:
            input_pic = _picture(state.image, "cnnlab-filter-input",
                                 f"Input X ({h}{TIMES}{w}, padding {state.padding})",
                                 boxes=[(block, "window")])
            output_pic = _picture(state.output, "cnnlab-filter-output",
                                  f"Output Z = X ⋆ K ({h_out}{TIMES}{w_out}, stride {state.stride})",
                                  boxes=[((state.row, state.col, state.row, state.col), "current")],
                                  signed=True)
            numbers = html_table(state.window_values(), "cnnlab-window-values",
                                 f"X under the window of Z[{state.row},{state.col}]")
        else:
            input_pic = _picture(state.image, "cnnlab-filter-input",
                                 f"Input X ({h}{TIMES}{w})",
                                 boxes=[((state.row, state.col, state.row, state.col), "current")])
            spread = state.spread()
            output_pic = _picture(state.output, "cnnlab-filter-output",
                                  f"Output Z = transposed conv ({h_out}{TIMES}{w_out}, stride {state.stride}, "
                                  f"padding {state.padding} cropped)",
                                  boxes=[(block, "spread")], fills=[(cell, "spread") for cell in spread],
                                  signed=True)
            numbers = html_table(state.image[state.row, state.col] * state.kernel, "cnnlab-spread-values",
                                 f"X[{state.row},{state.col}]{TIMES}K, added to Z[{block[0]}..{block[2]}, "
                                 f"{block[1]}..{block[3]}]")
        parts += [panels_row([input_pic, kernel_table, output_pic, numbers]),
                  text_block("cnnlab-arithmetic", [state.arithmetic()], "white-space:normal;")]
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------

YOURS, MNIST, EDGE = "your image", "MNIST test digit", "bright square"


def _bright_square(size=28):
    image = np.zeros((size, size))
    image[size // 4:3 * size // 4, size // 3:2 * size // 3] = 255.0
    return image


def _mnist_digits():
    """The MNIST test images if they are on this computer (never downloads), else ``None``."""
    from cnnlab.data import MNISTChecksumError, MNISTNotFoundError, load_mnist
    try:
        return load_mnist(download=False)[2]
    except (MNISTNotFoundError, MNISTChecksumError):   # no files here: no MNIST choice in the menu
        return None


class KernelGrid(widgets.VBox):
    """A kernel typed into a grid of number boxes; ``value`` is the (KH, KW) array."""

    def __init__(self, kernel, on_change):
        self.on_change = on_change
        super().__init__()
        self.set_kernel(kernel)

    def set_kernel(self, kernel):
        kernel = as_array(kernel, "kernel", ndim=2)
        self.boxes = [[widgets.FloatText(value=float(kernel[r, c]), layout=widgets.Layout(width="5.5em"))
                       for c in range(kernel.shape[1])] for r in range(kernel.shape[0])]
        for row in self.boxes:
            for box in row:
                box.add_class("cnnlab-kernel-entry")
                box.observe(lambda change: self.on_change(), names="value")
        self.children = [widgets.HBox(row) for row in self.boxes]

    @property
    def value(self):
        return np.array([[box.value for box in row] for row in self.boxes])


class FilterExplorer(widgets.VBox):
    """Controls on top (input, kernel grid, mode, stride, padding, cursor), the picture below."""

    def __init__(self, image=None, kernel=None, stride=1, padding=0, mode=CONV):
        self.custom_image = None if image is None else as_array(image, "image", ndim=2)
        self.digits = _mnist_digits()
        sources = ([YOURS] if image is not None else []) + ([MNIST] if self.digits is not None else []) + [EDGE]
        kernel = KERNEL_PRESETS["Sobel x"] if kernel is None else as_array(kernel, "kernel", ndim=2)
        c = {
            "input": widgets.Dropdown(options=sources, value=sources[0], description="input"),
            "digit": widgets.BoundedIntText(value=0, min=0, max=9999, description="test digit #",
                                            style={"description_width": "initial"},
                                            layout=widgets.Layout(width="12em")),
            "preset": widgets.Dropdown(options=["(typed)"] + list(KERNEL_PRESETS), value="(typed)",
                                       description="kernel"),
            "KH": slider("KH", kernel.shape[0], 1, 7),
            "KW": slider("KW", kernel.shape[1], 1, 7),
            "mode": widgets.ToggleButtons(options=MODES, value=mode, style={"button_width": "auto"}),
            "stride": slider("stride", stride, 1, 4),
            "padding": slider("padding", padding, 0, 3),
            "row": slider("row", 0, 0, 0),
            "col": slider("col", 0, 0, 0),
        }
        self.controls, self.syncing = c, False
        self.grid = KernelGrid(kernel, self.on_change)
        self.view = widgets.HTML()
        self.view.add_class("cnnlab-filter-view")
        super().__init__(children=[
            widgets.HBox([c["input"], c["digit"]]),
            widgets.HBox([c["preset"], c["KH"], c["KW"]]),
            widgets.HBox([widgets.Label("kernel K (type numbers):"), self.grid]),
            c["mode"],
            widgets.HBox([c["stride"], c["padding"]]),
            widgets.HBox([c["row"], c["col"]]),
            self.view])
        self.add_class("cnnlab-filter-explorer")
        self.state = FilterExplorerState(self.current_image(), kernel, stride, padding, mode)
        for name in ("input", "digit", "mode", "stride", "padding", "row", "col"):
            c[name].observe(lambda change: self.on_change(), names="value")
        c["preset"].observe(self.on_preset, names="value")
        for name in ("KH", "KW"):
            c[name].observe(self.on_kernel_size, names="value")
        self.on_change()

    def current_image(self):
        """The image picked in the "input" dropdown."""
        name = self.controls["input"].value
        self.controls["digit"].disabled = name != MNIST
        if name == YOURS:
            return self.custom_image
        if name == MNIST:
            return self.digits[self.controls["digit"].value].astype(float)
        return _bright_square()

    def on_preset(self, change):
        if change["new"] in KERNEL_PRESETS:
            self.set_kernel(KERNEL_PRESETS[change["new"]])

    def on_kernel_size(self, change):
        if self.syncing:
            return
        old = self.grid.value
        new = np.zeros((self.controls["KH"].value, self.controls["KW"].value))
        rows, cols = min(old.shape[0], new.shape[0]), min(old.shape[1], new.shape[1])
        new[:rows, :cols] = old[:rows, :cols]
        self.set_kernel(new)

    def set_kernel(self, kernel):
        """Put ``kernel`` into the grid (and the KH, KW sliders) and redraw."""
        self.syncing = True
        try:
            self.controls["KH"].value, self.controls["KW"].value = kernel.shape
            self.grid.set_kernel(kernel)
        finally:
            self.syncing = False
        self.on_change()

    def on_change(self):
        """Any control moved: update the state, fit the cursor sliders, redraw."""
        if self.syncing:
            return
        self.syncing = True
        try:
            c = self.controls
            self.state.update(image=self.current_image(), kernel=self.grid.value, mode=c["mode"].value,
                              stride=c["stride"].value, padding=c["padding"].value,
                              row=c["row"].value, col=c["col"].value)
            shape = self.state.cursor_shape if self.state.error is None else None
            for name, index in (("row", 0), ("col", 1)):
                c[name].max = 0 if shape is None else shape[index] - 1
                c[name].value = getattr(self.state, name)
                c[name].description = ("input " if self.state.mode == TRANSPOSED else "output ") + name
        finally:
            self.syncing = False
        self.view.value = render_filter_html(self.state)


def filter_explorer(image=None, kernel=None, stride=1, padding=0, mode=CONV):
    """Explore a convolution (or a transposed convolution) of **your** image with **your** kernel.

    ``image``: any 2-D array (an MNIST digit, a photo as grey values, a feature map), any size;
    without it an MNIST test digit (if the files are here) or a bright square is used.
    ``kernel``: a 2-D array, also editable in the grid; ``mode``: ``"convolution"`` or
    ``"transposed convolution"``.
    """
    return FilterExplorer(image=image, kernel=kernel, stride=stride, padding=padding, mode=mode)
