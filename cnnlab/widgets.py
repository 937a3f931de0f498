"""Interactive explorers for convolution and pooling (ipywidgets 8).

Each explorer is built in three layers, so that the interesting part can be
read (and tested) without a browser:

1. a **state** dataclass (:class:`ConvExplorerState`, :class:`PoolExplorerState`)
   holding the input, the kernel and the hyper-parameters, with properties for
   everything the picture shows: the output (computed by
   :mod:`cnnlab.functional`), the cells under the current window, the
   arithmetic of the current output cell and the output-size formula;
2. a pure **renderer** (:func:`render_conv_html`, :func:`render_pool_html`)
   turning a state into an HTML string: tables with inline styles, so the
   result looks the same in JupyterLab, in a static HTML export and in tests;
3. the **widget** (:func:`conv_explorer`, :func:`pool_explorer`) that only
   wires sliders to the state and puts the HTML into an ``ipywidgets.HTML``.

CSS classes a browser test (or a curious student with the inspector) can use:

=====================  ====================================================
``cnnlab-formula``     the output-size formula with the numbers substituted
``cnnlab-arithmetic``  the arithmetic of the current output cell
``cnnlab-input``       the (zero-padded) input table
``cnnlab-kernel``      the kernel table (convolution explorer)
``cnnlab-output``      the output table
``cnnlab-window``      an input cell under the current window (a kernel tap)
``cnnlab-gap``         a cell skipped by a dilated kernel (inside the window)
``cnnlab-pad``         a padding cell
``cnnlab-current``     the current output cell
``cnnlab-winner``      the cell that max/min pooling picks in the window
``cnnlab-upstream``    the upstream-gradient table (pooling explorer)
``cnnlab-grad``        the input-gradient table (pooling explorer)
``cnnlab-grad-flow``   an input cell that receives gradient
``cnnlab-error``       the friendly message shown for impossible settings
``cnnlab-legend``      the colour legend
=====================  ====================================================

Every table cell carries ``data-row``/``data-col`` (coordinates in the table
shown, i.e. the *padded* input for input tables) and input tables also carry
``data-in-row``/``data-in-col`` (coordinates in the original, unpadded input;
negative or too large for padding cells).
"""

from dataclasses import dataclass
import html
import math

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_array, check_int

# --------------------------------------------------------------------------
# The lecture's numbers (the same arrays as in cnnlab.grading.exercises)
# --------------------------------------------------------------------------

LECTURE_INPUT_A = np.arange(1.0, 17).reshape(4, 4)
LECTURE_KERNEL = np.array([[1.0, 0], [-1, 2]])
LECTURE_POOL_INPUT = np.array([[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]])

MINUS = "\u2212"   # the typographic minus sign "−"
TIMES = "\u00d7"   # "×"

# --------------------------------------------------------------------------
# Colours: Okabe-Ito hues (safe for the common colour-vision deficiencies),
# used as light fills so dark text stays readable, and each highlight also
# has its own border style so it can be told apart without colour.
# --------------------------------------------------------------------------

CELL_STYLE = ("border:1px solid #9e9e9e; background:#ffffff; color:#111111; "
              "min-width:2.6em; height:1.9em; padding:0 0.3em; text-align:center; "
              "font-family:monospace;")
STYLES = {
    "cnnlab-pad": "background:#ececec; color:#555555; font-style:italic; border:1px dotted #757575;",
    "cnnlab-gap": "background:#fff3d6; border:2px dashed #e69f00;",
    "cnnlab-window": "background:#ffd27f; border:3px solid #b86e00; font-weight:bold;",
    "cnnlab-winner": "background:#e69f00; color:#000000; border:3px double #6b4000;",
    "cnnlab-current": "background:#b9dcf4; border:3px solid #0072b2; font-weight:bold;",
    "cnnlab-grad-flow": "background:#bfe8d9; border:3px solid #009e73; font-weight:bold;",
}
# Later entries win when a cell has several classes (a window cell on padding
# is drawn as a window cell with the padding's grey italic text).
STYLE_ORDER = ["cnnlab-pad", "cnnlab-gap", "cnnlab-window", "cnnlab-winner",
               "cnnlab-current", "cnnlab-grad-flow"]

LEGEND = {
    "cnnlab-window": "input cell multiplied by a kernel tap (the current window)",
    "cnnlab-gap": "cell skipped by a dilated kernel",
    "cnnlab-pad": "padding",
    "cnnlab-winner": "the value max/min pooling picks",
    "cnnlab-current": "the current output cell",
    "cnnlab-grad-flow": "input cell that receives gradient",
}


# --------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------

def format_number(value):
    """Short text for a number: ``7`` not ``7.0``, ``0.3333``, ``−2``, ``−∞``."""
    value = float(value)
    if math.isinf(value):
        return MINUS + "\u221e" if value < 0 else "\u221e"
    if value == int(value) and abs(value) < 1e15:
        text = str(int(value))          # also turns -0.0 into "0"
    else:
        text = f"{value:.4g}"
    return text.replace("-", MINUS)


def format_factor(value):
    """A number as a factor in a product: negative numbers get parentheses."""
    text = format_number(value)
    return f"({text})" if text.startswith(MINUS) else text


def size_formula(name, size, kernel, stride, padding, dilation=1, show_dilation=True):
    """The output-size formula for one axis, with the numbers substituted.

    ``H_out = floor((H + 2P − D(K−1) − 1)/S) + 1 = floor((4 + 2·1 − 1·(2−1) − 1)/2) + 1
    = floor(4/2) + 1 = 3``. ``name`` is ``"H"`` or ``"W"``. Pooling (no
    dilation) uses the short form ``floor((H + 2P − K)/S) + 1``.
    """
    m = f" {MINUS} "
    if show_dilation:
        symbolic = f"floor(({name} + 2P{m}D(K{MINUS}1){m}1)/S) + 1"
        numbers = f"floor(({size} + 2·{padding}{m}{dilation}·({kernel}{MINUS}1){m}1)/{stride}) + 1"
    else:
        symbolic = f"floor(({name} + 2P{m}K)/S) + 1"
        numbers = f"floor(({size} + 2·{padding}{m}{kernel})/{stride}) + 1"
    # conv_output_size: floor((size + 2p - d(k-1) - 1)/s) + 1
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    result = numerator // stride + 1    # Python's // is floor division, also for negatives
    text = (f"{name}_out = {symbolic} = {numbers} = "
            f"floor({format_number(numerator)}/{stride}) + 1 = {format_number(result)}")
    if result < 1:
        text += " < 1: no output, the kernel does not fit"
    return text


# --------------------------------------------------------------------------
# Convolution explorer: state
# --------------------------------------------------------------------------

class OutputSteps:
    """Walk through the output cells in row-major order (shared by both explorers).

    Needs ``output_shape`` (``(H_out, W_out)`` or None), ``is_valid`` and ``out_row``/``out_col``.
    """

    def clamp_position(self):
        """Move ``(out_row, out_col)`` into the output if it fell outside."""
        self.out_row = max(0, int(self.out_row))
        self.out_col = max(0, int(self.out_col))
        if self.is_valid:
            h_out, w_out = self.output_shape
            self.out_row = min(self.out_row, h_out - 1)
            self.out_col = min(self.out_col, w_out - 1)

    @property
    def num_steps(self):
        """Number of output cells (0 when there is no output)."""
        shape = self.output_shape
        return 0 if shape is None else shape[0] * shape[1]

    @property
    def step(self):
        """The current output cell as one row-major index."""
        shape = self.output_shape
        return 0 if shape is None else self.out_row * shape[1] + self.out_col

    def set_step(self, step):
        """Select output cell number ``step`` (row-major) and return ``(out_row, out_col)``."""
        shape = self.output_shape
        if shape is not None:
            step = min(max(0, int(step)), shape[0] * shape[1] - 1)
            self.out_row, self.out_col = divmod(step, shape[1])
        return (self.out_row, self.out_col)


@dataclass
class ConvExplorerState(OutputSteps):
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

    def __post_init__(self):
        self.image = as_array(self.image, "image", ndim=2)
        self.kernel = as_array(self.kernel, "kernel", ndim=2)
        self.clamp_position()

    # -- parameters --------------------------------------------------------

    def update(self, **changes):
        """Set fields (e.g. ``update(stride=2)``) and clamp the output position."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"ConvExplorerState has no field {name!r}")
            if name in ("image", "kernel"):
                value = as_array(value, name, ndim=2)
            setattr(self, name, value)
        self.clamp_position()
        return self

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
            return (f"No output: the {kh}×{kw} kernel with dilation {self.dilation} spans "
                    f"{sh}×{sw} cells, larger than the padded input {hp}×{wp}. "
                    f"Add padding, or make the kernel or the dilation smaller.")
        return None

    @property
    def is_valid(self):
        """True when the settings give at least one output cell."""
        return self.error is None

    @property
    def padded_shape(self):
        """``(H + 2P, W + 2P)``."""
        h, w = self.image.shape
        p = max(0, self.padding)
        return (h + 2 * p, w + 2 * p)

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
        x = self.image[None, None]          # (1, 1, H, W)
        w = self.kernel[None, None]         # (1, 1, KH, KW)
        z = F.conv2d(x, w, np.array([float(self.bias)]), stride=self.stride,
                     padding=self.padding, dilation=self.dilation)
        return z[0, 0]

    def padded_input(self):
        """The input with ``P`` rows/columns of zeros on every side: (H + 2P, W + 2P)."""
        p = max(0, self.padding)
        return np.pad(self.image, p)

    def is_padding_cell(self, row, col):
        """True when padded-input cell ``(row, col)`` is padding, not image."""
        h, w = self.image.shape
        p = max(0, self.padding)
        return not (p <= row < p + h and p <= col < p + w)

    def taps(self):
        """``[((i, j), (row, col)), ...]``: kernel tap ``(i, j)`` touches padded cell ``(row, col)``.

        ``row = out_row·S + i·D``, ``col = out_col·S + j·D``, in row-major kernel order.
        """
        kh, kw = self.kernel.shape
        s, d = self.stride, self.dilation
        return [((i, j), (self.out_row * s + i * d, self.out_col * s + j * d))
                for i in range(kh) for j in range(kw)]

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
        products = [f"{format_factor(xp[cell])}{TIMES}{format_factor(self.kernel[tap])}"
                    for tap, cell in self.taps()]
        value = self.output[self.out_row, self.out_col]
        return (f"Z[{self.out_row},{self.out_col}] = " + " + ".join(products)
                + f" + {format_factor(self.bias)} (bias) = {format_number(value)}")

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

    def formula_text(self):
        """:meth:`formula_lines` joined by a newline."""
        return "\n".join(self.formula_lines())


# --------------------------------------------------------------------------
# HTML building blocks
# --------------------------------------------------------------------------

def cell_style(classes):
    """Inline style for a table cell with the given ``cnnlab-*`` classes."""
    return CELL_STYLE + "".join(STYLES[c] for c in STYLE_ORDER if c in classes)


def html_table(values, css_class, caption, classes_at=None, titles_at=None, extra_attrs_at=None):
    """An HTML table of ``values`` (2-D array) with per-cell classes.

    ``classes_at(r, c)`` returns extra ``cnnlab-*`` classes of a cell,
    ``titles_at(r, c)`` its tooltip and ``extra_attrs_at(r, c)`` a dict of extra
    attributes (e.g. ``data-in-row``).
    """
    rows = []
    for r in range(values.shape[0]):
        cells = []
        for c in range(values.shape[1]):
            classes = ["cnnlab-cell"] + (list(classes_at(r, c)) if classes_at else [])
            attrs = {"class": " ".join(classes), "style": cell_style(classes),
                     "data-row": r, "data-col": c}
            if titles_at:
                attrs["title"] = titles_at(r, c)
            if extra_attrs_at:
                attrs.update(extra_attrs_at(r, c))
            attr_text = " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attrs.items())
            cells.append(f"<td {attr_text}>{html.escape(format_number(values[r, c]))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="cnnlab-caption" style="font-weight:bold; white-space:nowrap;">'
            f"{html.escape(caption)}</div>"
            f'<table class="cnnlab-grid {css_class}" style="border-collapse:collapse; margin:0.2em 0;">'
            + "".join(rows) + "</table>")


def panel(content):
    """A box for one table, laid out side by side with its neighbours."""
    return f'<div class="cnnlab-panel" style="margin:0 1.5em 0.5em 0;">{content}</div>'


def panels_row(contents):
    """Tables side by side, wrapping on narrow screens."""
    return ('<div class="cnnlab-panels" style="display:flex; flex-wrap:wrap; align-items:flex-start;">'
            + "".join(panel(c) for c in contents) + "</div>")


def text_block(css_class, lines, extra_style=""):
    """A block of monospace lines (formula, arithmetic) inside ``div.css_class``."""
    inner = "".join(f'<div class="{css_class}-line">{html.escape(line)}</div>' for line in lines)
    return (f'<div class="{css_class}" style="font-family:monospace; margin:0.3em 0; {extra_style}">'
            f"{inner}</div>")


def error_block(message):
    """The friendly message shown instead of an output."""
    return ('<div class="cnnlab-error" role="alert" style="background:#fde8e8; color:#7a0000; '
            'border:2px solid #b00020; padding:0.4em 0.6em; margin:0.3em 0;">'
            f"{html.escape(message)}</div>")


def legend(classes):
    """Swatches explaining the colours of the given classes."""
    items = []
    for c in classes:
        swatch = (f'<span class="{c}" style="{cell_style([c])} display:inline-block; '
                  f'min-width:1.4em; height:1.1em;"></span>')
        items.append(f'<span style="margin-right:1.2em; white-space:nowrap;">{swatch} '
                     f"{html.escape(LEGEND[c])}</span>")
    return ('<div class="cnnlab-legend" style="font-size:0.9em; margin-top:0.4em; line-height:2;">'
            + "".join(items) + "</div>")


def input_cell_attrs(padding):
    """``data-in-row``/``data-in-col``: coordinates in the unpadded input."""
    return lambda r, c: {"data-in-row": r - padding, "data-in-col": c - padding}


# --------------------------------------------------------------------------
# Convolution explorer: rendering
# --------------------------------------------------------------------------

def render_conv_html(state):
    """HTML for a :class:`ConvExplorerState`: formula, input, kernel, output, arithmetic, legend."""
    p = max(0, state.padding)
    window, gaps = set(state.window_cells()), set(state.gap_cells())

    def input_classes(r, c):
        classes = ["cnnlab-pad"] if state.is_padding_cell(r, c) else []
        if (r, c) in gaps:
            classes.append("cnnlab-gap")
        if (r, c) in window:
            classes.append("cnnlab-window")
        return classes

    def input_title(r, c):
        kind = "padding" if state.is_padding_cell(r, c) else f"X[{r - p},{c - p}]"
        return f"padded input [{r},{c}] = {kind}"

    input_table = html_table(state.padded_input(), "cnnlab-input",
                             f"Input X (H={state.image.shape[0]}, W={state.image.shape[1]}, padding {p})",
                             input_classes, input_title, input_cell_attrs(p))
    kernel_table = html_table(state.kernel, "cnnlab-kernel",
                              f"Kernel K ({state.kernel.shape[0]}×{state.kernel.shape[1]}), "
                              f"bias b = {format_number(state.bias)}",
                              titles_at=lambda r, c: f"K[{r},{c}]")
    tables = [input_table, kernel_table]
    parts = ['<div class="cnnlab-explorer cnnlab-conv" style="color:#111111;">',
             text_block("cnnlab-formula", state.formula_lines())]
    if state.is_valid:
        current = (state.out_row, state.out_col)
        tables.append(html_table(
            state.output, "cnnlab-output",
            f"Output Z ({state.output_shape[0]}×{state.output_shape[1]}), "
            f"stride {state.stride}, dilation {state.dilation}",
            lambda r, c: ["cnnlab-current"] if (r, c) == current else [],
            lambda r, c: f"Z[{r},{c}]"))
        parts += [panels_row(tables), text_block("cnnlab-arithmetic", [state.arithmetic()])]
    else:
        parts += [error_block(state.error), panels_row(tables)]
    parts += [legend(["cnnlab-window", "cnnlab-gap", "cnnlab-pad", "cnnlab-current"]), "</div>"]
    return "".join(parts)


# --------------------------------------------------------------------------
# Pooling explorer: state
# --------------------------------------------------------------------------

POOL_MODES = ("max", "avg", "min")
GRAD_SOURCES = ("all ones", "selected cell")
POOL_FILL = {"max": -np.inf, "min": np.inf, "avg": 0.0}   # what padding holds in each mode


@dataclass
class PoolExplorerState(OutputSteps):
    """Everything the pooling explorer shows, for one 2-D input.

    ``x``: (H, W); ``mode``: ``"max"``, ``"avg"`` or ``"min"``; ``kernel_size``,
    ``stride`` (``None`` means ``kernel_size``, as in torch) and ``padding`` are
    ints used for both axes. ``grad_source`` is ``"all ones"`` (upstream
    gradient 1 at every output cell) or ``"selected cell"`` (1 at the current
    output cell only). Change parameters with :meth:`update`.
    """

    x: np.ndarray
    mode: str = "max"
    kernel_size: int = 2
    stride: int = None
    padding: int = 0
    out_row: int = 0
    out_col: int = 0
    grad_source: str = "all ones"

    def __post_init__(self):
        self.x = as_array(self.x, "x", ndim=2)
        self.clamp_position()

    # -- parameters --------------------------------------------------------

    def update(self, **changes):
        """Set fields (e.g. ``update(mode="avg")``) and clamp the output position."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise TypeError(f"PoolExplorerState has no field {name!r}")
            if name == "x":
                value = as_array(value, "x", ndim=2)
            setattr(self, name, value)
        self.clamp_position()
        return self

    @property
    def effective_stride(self):
        """The stride actually used: ``kernel_size`` when ``stride`` is ``None``."""
        return self.kernel_size if self.stride is None else self.stride

    @property
    def error(self):
        """A friendly message when no output exists for these settings, else ``None``."""
        if self.mode not in POOL_MODES:
            return f"mode must be one of {', '.join(POOL_MODES)}, got {self.mode!r}"
        if self.grad_source not in GRAD_SOURCES:
            return f"grad_source must be 'all ones' or 'selected cell', got {self.grad_source!r}"
        try:
            k = check_int(self.kernel_size, "kernel_size", minimum=1)
            check_int(self.effective_stride, "stride", minimum=1)
            p = check_int(self.padding, "padding", minimum=0)
        except (TypeError, ValueError) as exc:
            return str(exc)
        if p > k // 2:
            return (f"Padding {p} is more than half the {k}×{k} window (at most {k // 2}): "
                    f"a window could then hold only padding and no input value.")
        hp, wp = self.padded_shape
        if k > hp or k > wp:
            return (f"No output: the {k}×{k} window is larger than the padded input {hp}×{wp}. "
                    f"Make the window smaller.")
        return None

    @property
    def is_valid(self):
        """True when the settings give at least one output cell."""
        return self.error is None

    @property
    def padded_shape(self):
        """``(H + 2P, W + 2P)``."""
        h, w = self.x.shape
        p = max(0, self.padding)
        return (h + 2 * p, w + 2 * p)

    # -- numbers -------------------------------------------------------------

    def _args(self):
        """``(kernel_size, stride, padding)`` for the cnnlab.functional calls."""
        return self.kernel_size, self.effective_stride, self.padding

    @property
    def output_shape(self):
        """``(H_out, W_out)`` from ``cnnlab.functional.conv_output_size``, or ``None``."""
        if not self.is_valid:
            return None
        (h, w), (k, s, p) = self.x.shape, self._args()
        return (F.conv_output_size(h, k, s, p), F.conv_output_size(w, k, s, p))

    @property
    def output(self):
        """The pooled output (H_out, W_out) from ``cnnlab.functional``, or ``None``."""
        if not self.is_valid:
            return None
        pool = {"max": F.max_pool2d, "avg": F.avg_pool2d, "min": F.min_pool2d}[self.mode]
        return pool(self.x[None, None], *self._args())[0, 0]

    def upstream_grad(self):
        """``dL/dY``: ones everywhere, or one-hot at the current output cell: (H_out, W_out)."""
        if not self.is_valid:
            return None
        dout = np.ones(self.output_shape)
        if self.grad_source == "selected cell":
            dout = np.zeros(self.output_shape)
            dout[self.out_row, self.out_col] = 1.0
        return dout

    def input_grad(self):
        """``dL/dX`` (H, W): where the upstream gradient flows back to.

        max: all of it to the arg-max of each window (ties: the first cell in
        row-major order, as torch); avg: spread evenly, ``1/k²`` per cell;
        min: all of it to the arg-min.
        """
        if not self.is_valid:
            return None
        backward = {"max": F.max_pool2d_backward, "avg": F.avg_pool2d_backward,
                    "min": F.min_pool2d_backward}[self.mode]
        return backward(self.upstream_grad()[None, None], self.x[None, None], *self._args())[0, 0]

    def padded_input(self):
        """The input padded with what pooling sees there: −∞ (max), +∞ (min) or 0 (avg)."""
        p = max(0, self.padding)
        return np.pad(self.x, p, constant_values=POOL_FILL.get(self.mode, 0.0))

    def is_padding_cell(self, row, col):
        """True when padded-input cell ``(row, col)`` is padding, not input."""
        h, w = self.x.shape
        p = max(0, self.padding)
        return not (p <= row < p + h and p <= col < p + w)

    def window_cells(self):
        """Padded-input cells ``(row, col)`` of the current window, row-major."""
        if not self.is_valid:
            return []
        k, s, _ = self._args()
        # window of Y[i, j] covers rows i·S ... i·S + K − 1 and columns j·S ... j·S + K − 1
        return [(self.out_row * s + a, self.out_col * s + b) for a in range(k) for b in range(k)]

    def winner_cell(self):
        """The padded cell max/min pooling picks in the current window (first in row-major order on ties).

        ``None`` for average pooling or invalid settings.
        """
        if not self.is_valid or self.mode == "avg":
            return None
        cells = self.window_cells()
        values = [self.padded_input()[cell] for cell in cells]
        pick = int(np.argmax(values)) if self.mode == "max" else int(np.argmin(values))
        return cells[pick]

    # -- text ----------------------------------------------------------------

    def arithmetic(self):
        """The current output cell written out, e.g. ``Y[0,0] = max(4, 8, 16, 10) = 16``."""
        if not self.is_valid:
            return self.error
        xp = self.padded_input()
        values = [format_number(xp[cell]) for cell in self.window_cells()]
        result = format_number(self.output[self.out_row, self.out_col])
        head = f"Y[{self.out_row},{self.out_col}] = "
        if self.mode == "avg":
            return head + f"({' + '.join(values)})/{len(values)} = {result}"
        return head + f"{self.mode}({', '.join(values)}) = {result}"

    def formula_lines(self):
        """The output-size formulas for H and W, numbers substituted."""
        try:
            k = check_int(self.kernel_size, "kernel_size", minimum=1)
            s = check_int(self.effective_stride, "stride", minimum=1)
            p = check_int(self.padding, "padding", minimum=0)
        except (TypeError, ValueError) as exc:
            return [f"cannot compute the output size: {exc}"]
        h, w = self.x.shape
        return [size_formula("H", h, k, s, p, show_dilation=False),
                size_formula("W", w, k, s, p, show_dilation=False)]

    def formula_text(self):
        """:meth:`formula_lines` joined by a newline."""
        return "\n".join(self.formula_lines())


# --------------------------------------------------------------------------
# Pooling explorer: rendering
# --------------------------------------------------------------------------

def render_pool_html(state):
    """HTML for a :class:`PoolExplorerState`: formula, input, output, gradients, legend."""
    p = max(0, state.padding)
    window, winner = set(state.window_cells()), state.winner_cell()

    def input_classes(r, c):
        classes = ["cnnlab-pad"] if state.is_padding_cell(r, c) else []
        if (r, c) in window:
            classes.append("cnnlab-window")
        if (r, c) == winner:
            classes.append("cnnlab-winner")
        return classes

    def input_title(r, c):
        kind = "padding" if state.is_padding_cell(r, c) else f"X[{r - p},{c - p}]"
        return f"padded input [{r},{c}] = {kind}"

    input_table = html_table(state.padded_input(), "cnnlab-input",
                             f"Input X (H={state.x.shape[0]}, W={state.x.shape[1]}, padding {p})",
                             input_classes, input_title, input_cell_attrs(p))
    parts = ['<div class="cnnlab-explorer cnnlab-pool" style="color:#111111;">',
             text_block("cnnlab-formula", state.formula_lines())]
    if not state.is_valid:
        parts += [error_block(state.error), panels_row([input_table]),
                  legend(["cnnlab-pad"]), "</div>"]
        return "".join(parts)

    current = (state.out_row, state.out_col)
    selected_only = state.grad_source == "selected cell"
    output_table = html_table(
        state.output, "cnnlab-output",
        f"Output Y = {state.mode} pool, {state.kernel_size}×{state.kernel_size}, "
        f"stride {state.effective_stride}",
        lambda r, c: ["cnnlab-current"] if (r, c) == current else [],
        lambda r, c: f"Y[{r},{c}]")
    upstream_table = html_table(
        state.upstream_grad(), "cnnlab-upstream",
        "Upstream gradient dL/dY (" + ("selected cell only" if selected_only else "all ones") + ")",
        lambda r, c: ["cnnlab-current"] if selected_only and (r, c) == current else [],
        lambda r, c: f"dL/dY[{r},{c}]")
    grad = state.input_grad()
    grad_table = html_table(
        grad, "cnnlab-grad", "Input gradient dL/dX",
        lambda r, c: ["cnnlab-grad-flow"] if grad[r, c] != 0 else [],
        lambda r, c: f"dL/dX[{r},{c}]")
    rule = {"max": "all of it goes to the largest value of each window (first one on ties)",
            "avg": f"it is shared evenly: 1/{state.kernel_size ** 2} to every cell of the window",
            "min": "all of it goes to the smallest value of each window (first one on ties)"}
    parts += [panels_row([input_table, output_table]),
              text_block("cnnlab-arithmetic", [state.arithmetic()]),
              f'<div class="cnnlab-backward-title" style="font-weight:bold; margin-top:0.6em;">'
              f"Backward: where the gradient flows ({html.escape(rule[state.mode])})</div>",
              panels_row([upstream_table, grad_table]),
              legend(["cnnlab-window"] + (["cnnlab-winner"] if winner else [])
                     + ["cnnlab-pad", "cnnlab-current", "cnnlab-grad-flow"]),
              "</div>"]
    return "".join(parts)


# --------------------------------------------------------------------------
# Presets for the convolution explorer
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
    "4x4 lecture input A": LECTURE_INPUT_A,
    "4x4 pooling example": LECTURE_POOL_INPUT,
    "7x7 bright square": bright_square(7),
    RANDOM: None,                       # H×W from the H and W sliders
}
FIXED_KERNELS = {
    "2x2 lecture kernel": LECTURE_KERNEL,
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
}
SIZED_KERNELS = ("box (all ones)", "identity", RANDOM)   # these follow the "kernel size" slider


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


def slider(description, value, minimum, maximum, step=1, kind=widgets.IntSlider):
    """A slider whose ``description`` names the parameter it controls."""
    return kind(value=value, min=minimum, max=maximum, step=step, description=description,
                continuous_update=True, style={"description_width": "initial"})


def step_controls(description="step"):
    """A "step" slider walking through the output cells, linked to a play button."""
    step = slider(description, 0, 0, 0)
    play = widgets.Play(value=0, min=0, max=0, interval=900, description="play")
    widgets.jslink((play, "value"), (step, "value"))
    return step, play


def sync_step(state, step, play):
    """Fit the step slider and play button to the state's number of output cells."""
    last = max(state.num_steps - 1, 0)
    step.max = play.max = last
    step.value = state.step
    step.disabled = play.disabled = state.num_steps == 0


# --------------------------------------------------------------------------
# The widgets
# --------------------------------------------------------------------------

class ConvExplorer(widgets.VBox):
    """Controls on top, the rendered :class:`ConvExplorerState` below.

    ``state`` is the :class:`ConvExplorerState`, ``view`` the ``ipywidgets.HTML``
    showing it and ``controls`` maps each control's description (``"stride"``,
    ``"padding"``, ``"dilation"``, ``"kernel size"``, ``"step"``, ...) to its widget.
    """

    def __init__(self, image=None, kernel=None, bias=0.0):
        image_names = ([CUSTOM] if image is not None else []) + list(IMAGE_PRESETS)
        kernel_names = (([CUSTOM] if kernel is not None else []) + list(FIXED_KERNELS)
                        + list(SIZED_KERNELS))
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
        view = widgets.HTML()
        view.add_class("cnnlab-conv-view")
        rows = [widgets.HBox([controls["input"], controls["H"], controls["W"]]),
                widgets.HBox([controls["kernel"], controls["kernel size"], controls["bias"]]),
                widgets.HBox([controls["stride"], controls["padding"], controls["dilation"]]),
                widgets.HBox([controls["play"], controls["step"]])]
        super().__init__(children=rows + [view])
        self.add_class("cnnlab-conv-explorer")
        self.controls, self.view = controls, view
        self.custom_image, self.custom_kernel = image, kernel
        self.syncing = False
        self.state = ConvExplorerState(self.current_image(), self.current_kernel(),
                                       bias=float(bias), out_row=0, out_col=1)
        for name in ("input", "H", "W", "kernel", "kernel size", "bias",
                     "stride", "padding", "dilation"):
            controls[name].observe(self.on_parameter_change, names="value")
        controls["step"].observe(self.on_step_change, names="value")
        self.on_parameter_change()

    def current_image(self):
        """The image chosen by the "input" dropdown (and the H, W sliders for random ints)."""
        name, h, w = self.controls["input"], self.controls["H"], self.controls["W"]
        h.disabled = w.disabled = name.value != RANDOM
        if name.value == RANDOM:
            return random_ints((h.value, w.value), 0, 9)
        image = self.custom_image if name.value == CUSTOM else IMAGE_PRESETS[name.value]
        image = as_array(image, "image", ndim=2)
        h.value, w.value = image.shape   # show the preset's size on the disabled sliders
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

    def on_parameter_change(self, change=None):
        """Any slider or dropdown moved: rebuild the state, then redraw."""
        if self.syncing:
            return
        self.syncing = True   # our own writes to the sliders must not call us again
        try:
            c = self.controls
            self.state.update(image=self.current_image(), kernel=self.current_kernel(),
                              bias=c["bias"].value, stride=c["stride"].value,
                              padding=c["padding"].value, dilation=c["dilation"].value)
            sync_step(self.state, c["step"], c["play"])
        finally:
            self.syncing = False
        self.view.value = render_conv_html(self.state)

    def on_step_change(self, change):
        """The step slider (or play button) moved: select that output cell."""
        if self.syncing:
            return
        self.state.set_step(change["new"])
        self.view.value = render_conv_html(self.state)


class PoolExplorer(widgets.VBox):
    """Controls on top, the rendered :class:`PoolExplorerState` below.

    ``controls`` maps descriptions (``"mode"``, ``"kernel size"``, ``"stride"``,
    ``"padding"``, ``"gradient"``, ``"step"``) to widgets.
    """

    def __init__(self, x=None):
        x = LECTURE_POOL_INPUT if x is None else x
        controls = {
            "mode": widgets.ToggleButtons(options=list(POOL_MODES), value="max", description="mode"),
            "kernel size": slider("kernel size", 2, 1, 4),
            "stride": slider("stride", 2, 1, 4),
            "padding": slider("padding", 0, 0, 2),
            "gradient": widgets.ToggleButtons(options=list(GRAD_SOURCES), value="all ones",
                                              description="gradient"),
        }
        controls["step"], controls["play"] = step_controls()
        view = widgets.HTML()
        view.add_class("cnnlab-pool-view")
        rows = [controls["mode"],
                widgets.HBox([controls["kernel size"], controls["stride"], controls["padding"]]),
                controls["gradient"],
                widgets.HBox([controls["play"], controls["step"]])]
        super().__init__(children=rows + [view])
        self.add_class("cnnlab-pool-explorer")
        self.controls, self.view = controls, view
        self.syncing = False
        self.state = PoolExplorerState(x, mode="max", kernel_size=2, stride=2)
        for name in ("mode", "kernel size", "stride", "padding", "gradient"):
            controls[name].observe(self.on_parameter_change, names="value")
        controls["step"].observe(self.on_step_change, names="value")
        self.on_parameter_change()

    def on_parameter_change(self, change=None):
        """Any control moved: update the state, then redraw."""
        if self.syncing:
            return
        self.syncing = True
        try:
            c = self.controls
            self.state.update(mode=c["mode"].value, kernel_size=c["kernel size"].value,
                              stride=c["stride"].value, padding=c["padding"].value,
                              grad_source=c["gradient"].value)
            sync_step(self.state, c["step"], c["play"])
        finally:
            self.syncing = False
        self.view.value = render_pool_html(self.state)

    def on_step_change(self, change):
        """The step slider (or play button) moved: select that output cell."""
        if self.syncing:
            return
        self.state.set_step(change["new"])
        self.view.value = render_pool_html(self.state)


def conv_explorer(image=None, kernel=None, bias=0.0):
    """An interactive convolution explorer (an ``ipywidgets.VBox``) to display in a notebook.

    ``image``: (H, W) and ``kernel``: (KH, KW) are optional; without them the
    lecture's 4×4 input A and 2×2 kernel are shown, and presets can be picked.
    Move the stride/padding/dilation sliders and watch the formula, the
    highlighted window and the arithmetic of the selected output cell change.
    """
    return ConvExplorer(image=image, kernel=kernel, bias=bias)


def pool_explorer(x=None):
    """An interactive pooling explorer (an ``ipywidgets.VBox``) with a backward view.

    ``x``: (H, W), by default the lecture's 4×4 example
    ``[[4, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]``
    with 2×2 pooling and stride 2.
    """
    return PoolExplorer(x=x)
