"""The convolution explorer: a kernel sliding over a 2-D image, one output cell at a time."""

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_array, check_int
from cnnlab.widgets.base import (
    LECTURE_INPUT_A,
    LECTURE_KERNEL,
    LECTURE_POOL_INPUT,
    TIMES,
    Explorer,
    GridState,
    error_block,
    format_factor,
    format_number,
    html_table,
    legend,
    padded_input_table,
    panels_row,
    size_formula,
    slider,
    step_controls,
    text_block,
)

# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


@dataclass
class ConvExplorerState(GridState):
    """Everything the convolution explorer shows, for one 2-D image and one kernel.

    ``image``: (H, W), ``kernel``: (KH, KW), ``bias``: a number; ``stride``,
    ``padding`` and ``dilation`` are ints used for both axes. ``out_row`` and
    ``out_col`` select the output cell ``Z[out_row, out_col]`` whose window is
    highlighted. Change parameters with :meth:`update`, which keeps the
    selected cell inside the output.
    """

    image: np.ndarray
    kernel: np.ndarray
    bias: float = 0.0
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    out_row: int = 0
    out_col: int = 0

    INPUT_FIELD = "image"
    ARRAY_FIELDS = ("image", "kernel")

    # -- parameters --------------------------------------------------------

    @property
    def error(self):
        """A friendly message when no output exists for these settings, else ``None``."""
        try:
            check_int(self.stride, "stride", minimum=1)
            check_int(self.padding, "padding", minimum=0)
            check_int(self.dilation, "dilation", minimum=1)
        except (TypeError, ValueError) as exc:
            return str(exc)
        (hp, wp), (sh, sw) = self.padded_shape, self.kernel_span
        if sh > hp or sw > wp:
            kh, kw = self.kernel.shape
            return (
                f"No output: the {kh}×{kw} kernel with dilation {self.dilation} spans "
                f"{sh}×{sw} cells, larger than the padded input {hp}×{wp}. "
                f"Add padding, or make the kernel or the dilation smaller."
            )
        return None

    @property
    def kernel_span(self):
        """Cells covered by the dilated kernel: ``D(K−1) + 1`` per axis."""
        kh, kw = self.kernel.shape
        d = self.dilation
        return (d * (kh - 1) + 1, d * (kw - 1) + 1)

    # -- numbers -------------------------------------------------------------

    @property
    def output_shape(self):
        """``(H_out, W_out)`` from ``cnnlab.functional.conv_output_size``, or ``None``."""
        if not self.is_valid:
            return None
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        s, p, d = self.stride, self.padding, self.dilation
        return (F.conv_output_size(h, kh, s, p, d), F.conv_output_size(w, kw, s, p, d))

    @property
    def output(self):
        """``Z``: (H_out, W_out) from ``cnnlab.functional.conv2d``, or ``None``."""
        if not self.is_valid:
            return None
        x = self.image[None, None]  # (1, 1, H, W)
        w = self.kernel[None, None]  # (1, 1, KH, KW)
        z = F.conv2d(
            x, w, np.array([float(self.bias)]), stride=self.stride, padding=self.padding, dilation=self.dilation
        )
        return z[0, 0]

    def taps(self):
        """``[((i, j), (row, col)), ...]``: kernel tap ``(i, j)`` touches padded cell ``(row, col)``.

        ``row = out_row·S + i·D``, ``col = out_col·S + j·D``, in row-major kernel order.
        """
        kh, kw = self.kernel.shape
        s, d = self.stride, self.dilation
        return [((i, j), (self.out_row * s + i * d, self.out_col * s + j * d)) for i in range(kh) for j in range(kw)]

    def window_cells(self):
        """Padded-input cells ``(row, col)`` multiplied by the kernel for the current output cell."""
        if not self.is_valid:
            return []
        return [cell for _, cell in self.taps()]

    def gap_cells(self):
        """Cells inside the current window's bounding box that a dilated kernel skips."""
        taps = set(self.window_cells())
        if not taps:
            return []
        rows = range(min(r for r, _ in taps), max(r for r, _ in taps) + 1)
        cols = range(min(c for _, c in taps), max(c for _, c in taps) + 1)
        return [(r, c) for r in rows for c in cols if (r, c) not in taps]

    # -- text ----------------------------------------------------------------

    def arithmetic(self):
        """The current output cell written out, e.g. ``Z[0,1] = 2×1 + 3×0 + 6×(−1) + 7×2 + 0 (bias) = 10``."""
        if not self.is_valid:
            return self.error
        xp = self.padded_input()
        # Z[r, c] = sum_i sum_j X_pad[r·S + i·D, c·S + j·D] · K[i, j] + b
        products = [f"{format_factor(xp[cell])}{TIMES}{format_factor(self.kernel[tap])}" for tap, cell in self.taps()]
        value = self.output[self.out_row, self.out_col]
        return (
            f"Z[{self.out_row},{self.out_col}] = "
            + " + ".join(products)
            + f" + {format_factor(self.bias)} (bias) = {format_number(value)}"
        )

    def formula_lines(self):
        """The output-size formulas for H and W, numbers substituted."""
        try:
            s = check_int(self.stride, "stride", minimum=1)
            p = check_int(self.padding, "padding", minimum=0)
            d = check_int(self.dilation, "dilation", minimum=1)
        except (TypeError, ValueError) as exc:
            return [f"cannot compute the output size: {exc}"]
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        return [size_formula("H", h, kh, s, p, d), size_formula("W", w, kw, s, p, d)]


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def render_conv_html(state):
    """HTML for a :class:`ConvExplorerState`: formula, input, kernel, output, arithmetic, legend."""
    window, gaps = set(state.window_cells()), set(state.gap_cells())

    input_table = padded_input_table(state, [("cnnlab-gap", gaps), ("cnnlab-window", window)])
    kernel_table = html_table(
        state.kernel,
        "cnnlab-kernel",
        f"Kernel K ({state.kernel.shape[0]}×{state.kernel.shape[1]}), bias b = {format_number(state.bias)}",
        titles_at=lambda r, c: f"K[{r},{c}]",
    )
    tables = [input_table, kernel_table]
    parts = [
        '<div class="cnnlab-explorer cnnlab-conv" style="color:#111111;">',
        text_block("cnnlab-formula", state.formula_lines()),
    ]
    if state.is_valid:
        current = (state.out_row, state.out_col)
        tables.append(
            html_table(
                state.output,
                "cnnlab-output",
                f"Output Z ({state.output_shape[0]}×{state.output_shape[1]}), "
                f"stride {state.stride}, dilation {state.dilation}",
                lambda r, c: ["cnnlab-current"] if (r, c) == current else [],
                lambda r, c: f"Z[{r},{c}]",
            )
        )
        parts += [panels_row(tables), text_block("cnnlab-arithmetic", [state.arithmetic()])]
    else:
        parts += [error_block(state.error), panels_row(tables)]
    parts += [legend(["cnnlab-window", "cnnlab-gap", "cnnlab-pad", "cnnlab-current"]), "</div>"]
    return "".join(parts)


# --------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------


def bright_square(size=7):
    """A dark ``size``×``size`` image with a bright 3×4 rectangle: edges for Sobel to find."""
    image = np.zeros((size, size))
    image[2:5, 2:6] = 9.0
    return image


def random_ints(shape, low, high, seed=0):
    """Reproducible random integers in ``[low, high]`` as floats."""
    return np.random.default_rng(seed).integers(low, high + 1, size=shape).astype(float)


CUSTOM = "custom (passed in)"
RANDOM = "random ints"
IMAGE_PRESETS = {
    "4x4 example input A (1..16)": LECTURE_INPUT_A,  # ours: the slides keep A symbolic
    "4x4 pooling example": LECTURE_POOL_INPUT,
    "7x7 bright square": bright_square(7),
    RANDOM: None,  # H×W from the H and W sliders
}
FIXED_KERNELS = {
    "2x2 example kernel W": LECTURE_KERNEL,
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
}
SIZED_KERNELS = ("box (all ones)", "identity", RANDOM)  # these follow the "kernel size" slider


def make_kernel(name, size):
    """The kernel called ``name``; box, identity and random ones are ``size``×``size``."""
    if name in FIXED_KERNELS:
        return FIXED_KERNELS[name]
    if name == "box (all ones)":
        return np.ones((size, size))
    if name == "identity":
        kernel = np.zeros((size, size))
        kernel[size // 2, size // 2] = 1.0
        return kernel
    if name == RANDOM:
        return random_ints((size, size), -2, 2, seed=1)
    raise ValueError(f"unknown kernel preset {name!r}")


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------


class ConvExplorer(Explorer):
    """Controls on top, the rendered :class:`ConvExplorerState` below.

    ``state`` is the :class:`ConvExplorerState`, ``view`` the ``ipywidgets.HTML``
    showing it and ``controls`` maps each control's description (``"stride"``,
    ``"padding"``, ``"dilation"``, ``"kernel size"``, ``"step"``, ...) to its widget.
    """

    def __init__(self, image=None, kernel=None, bias=0.0):
        image_names = ([CUSTOM] if image is not None else []) + list(IMAGE_PRESETS)
        kernel_names = ([CUSTOM] if kernel is not None else []) + list(FIXED_KERNELS) + list(SIZED_KERNELS)
        controls = {
            "input": widgets.Dropdown(options=image_names, value=image_names[0], description="input"),
            "H": slider("H", 5, 2, 9),
            "W": slider("W", 5, 2, 9),
            "kernel": widgets.Dropdown(options=kernel_names, value=kernel_names[0], description="kernel"),
            "kernel size": slider("kernel size", 3, 1, 5),
            "bias": slider("bias", float(bias), -5.0, 5.0, 0.5, kind=widgets.FloatSlider),
            "stride": slider("stride", 1, 1, 4),
            "padding": slider("padding", 0, 0, 3),
            "dilation": slider("dilation", 1, 1, 3),
        }
        controls["step"], controls["play"] = step_controls()
        rows = [
            widgets.HBox([controls["input"], controls["H"], controls["W"]]),
            widgets.HBox([controls["kernel"], controls["kernel size"], controls["bias"]]),
            widgets.HBox([controls["stride"], controls["padding"], controls["dilation"]]),
            widgets.HBox([controls["play"], controls["step"]]),
        ]
        self.controls = controls
        self.custom_image, self.custom_kernel = image, kernel
        state = ConvExplorerState(self.current_image(), self.current_kernel(), bias=float(bias), out_row=0, out_col=1)
        self.setup(
            rows,
            controls,
            state,
            "cnnlab-conv",
            watched=("input", "H", "W", "kernel", "kernel size", "bias", "stride", "padding", "dilation"),
        )

    def current_image(self):
        """The image chosen by the "input" dropdown (and the H, W sliders for random ints)."""
        name, h, w = self.controls["input"], self.controls["H"], self.controls["W"]
        h.disabled = w.disabled = name.value != RANDOM
        if name.value == RANDOM:
            return random_ints((h.value, w.value), 0, 9)
        image = self.custom_image if name.value == CUSTOM else IMAGE_PRESETS[name.value]
        image = as_array(image, "image", ndim=2)
        h.value, w.value = image.shape  # show the preset's size on the disabled sliders
        return image

    def current_kernel(self):
        """The kernel chosen by the "kernel" dropdown (and "kernel size" where it applies)."""
        name, size = self.controls["kernel"], self.controls["kernel size"]
        size.disabled = name.value not in SIZED_KERNELS
        if name.value in SIZED_KERNELS:
            return make_kernel(name.value, size.value)
        kernel = self.custom_kernel if name.value == CUSTOM else make_kernel(name.value, size.value)
        kernel = as_array(kernel, "kernel", ndim=2)
        size.value = kernel.shape[0]
        return kernel

    def read_controls(self):
        """The state's fields from the dropdowns and sliders."""
        c = self.controls
        return dict(
            image=self.current_image(),
            kernel=self.current_kernel(),
            bias=c["bias"].value,
            stride=c["stride"].value,
            padding=c["padding"].value,
            dilation=c["dilation"].value,
        )

    def render(self, state):
        """:func:`render_conv_html`."""
        return render_conv_html(state)


def conv_explorer(image=None, kernel=None, bias=0.0):
    """An interactive convolution explorer (an ``ipywidgets.VBox``) to display in a notebook.

    ``image``: (H, W) and ``kernel``: (KH, KW) are optional; without them the
    lecture's 4×4 input A and 2×2 kernel are shown, and presets can be picked.
    Move the stride/padding/dilation sliders and watch the formula, the
    highlighted window and the arithmetic of the selected output cell change.
    """
    return ConvExplorer(image=image, kernel=kernel, bias=bias)
