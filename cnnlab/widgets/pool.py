"""The pooling explorer: max/avg/min pooling forward, and where the gradient flows back."""

import html
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from cnnlab import functional as F
from cnnlab._validation import check_int
from cnnlab.widgets.base import (
    LECTURE_POOL_INPUT,
    Explorer,
    GridState,
    error_block,
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

POOL_MODES = ("max", "avg", "min")
GRAD_SOURCES = ("all ones", "selected cell")
POOL_FILL = {"max": -np.inf, "min": np.inf, "avg": 0.0}  # what padding holds in each mode


@dataclass
class PoolExplorerState(GridState):
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

    INPUT_FIELD = "x"
    ARRAY_FIELDS = ("x",)

    # -- parameters --------------------------------------------------------

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
        try:
            F.check_pool_padding((k,), (p,))
        except ValueError as exc:
            return str(exc)
        hp, wp = self.padded_shape
        if k > hp or k > wp:
            return f"No output: the {k}×{k} window is larger than the padded input {hp}×{wp}. Make the window smaller."
        return None

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
        backward = {"max": F.max_pool2d_backward, "avg": F.avg_pool2d_backward, "min": F.min_pool2d_backward}[self.mode]
        return backward(self.upstream_grad()[None, None], self.x[None, None], *self._args())[0, 0]

    @property
    def pad_value(self):
        """What pooling sees in a padding cell: −∞ (max), +∞ (min) or 0 (avg)."""
        return POOL_FILL.get(self.mode, 0.0)

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
        return [size_formula("H", h, k, s, p, show_dilation=False), size_formula("W", w, k, s, p, show_dilation=False)]


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def render_pool_html(state):
    """HTML for a :class:`PoolExplorerState`: formula, input, output, gradients, legend."""
    window, winner = set(state.window_cells()), state.winner_cell()

    input_table = padded_input_table(state, [("cnnlab-window", window), ("cnnlab-winner", {winner})])
    parts = [
        '<div class="cnnlab-explorer cnnlab-pool" style="color:#111111;">',
        text_block("cnnlab-formula", state.formula_lines()),
    ]
    if not state.is_valid:
        parts += [error_block(state.error), panels_row([input_table]), legend(["cnnlab-pad"]), "</div>"]
        return "".join(parts)

    current = (state.out_row, state.out_col)
    selected_only = state.grad_source == "selected cell"
    output_table = html_table(
        state.output,
        "cnnlab-output",
        f"Output Y = {state.mode} pool, {state.kernel_size}×{state.kernel_size}, stride {state.effective_stride}",
        lambda r, c: ["cnnlab-current"] if (r, c) == current else [],
        lambda r, c: f"Y[{r},{c}]",
    )
    upstream_table = html_table(
        state.upstream_grad(),
        "cnnlab-upstream",
        "Upstream gradient dL/dY (" + ("selected cell only" if selected_only else "all ones") + ")",
        lambda r, c: ["cnnlab-current"] if selected_only and (r, c) == current else [],
        lambda r, c: f"dL/dY[{r},{c}]",
    )
    grad = state.input_grad()
    grad_table = html_table(
        grad,
        "cnnlab-grad",
        "Input gradient dL/dX",
        lambda r, c: ["cnnlab-grad-flow"] if grad[r, c] != 0 else [],
        lambda r, c: f"dL/dX[{r},{c}]",
    )
    rule = {
        "max": "all of it goes to the largest value of each window (first one on ties)",
        "avg": f"it is shared evenly: 1/{state.kernel_size**2} to every cell of the window",
        "min": "all of it goes to the smallest value of each window (first one on ties)",
    }
    parts += [
        panels_row([input_table, output_table]),
        text_block("cnnlab-arithmetic", [state.arithmetic()]),
        f'<div class="cnnlab-backward-title" style="font-weight:bold; margin-top:0.6em;">'
        f"Backward: where the gradient flows ({html.escape(rule[state.mode])})</div>",
        panels_row([upstream_table, grad_table]),
        legend(
            ["cnnlab-window"]
            + (["cnnlab-winner"] if winner else [])
            + ["cnnlab-pad", "cnnlab-current", "cnnlab-grad-flow"]
        ),
        "</div>",
    ]
    return "".join(parts)


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------


class PoolExplorer(Explorer):
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
            "gradient": widgets.ToggleButtons(options=list(GRAD_SOURCES), value="all ones", description="gradient"),
        }
        controls["step"], controls["play"] = step_controls()
        rows = [
            controls["mode"],
            widgets.HBox([controls["kernel size"], controls["stride"], controls["padding"]]),
            controls["gradient"],
            widgets.HBox([controls["play"], controls["step"]]),
        ]
        state = PoolExplorerState(x, mode="max", kernel_size=2, stride=2)
        self.setup(
            rows, controls, state, "cnnlab-pool", watched=("mode", "kernel size", "stride", "padding", "gradient")
        )

    def read_controls(self):
        """The state's fields from the toggles and sliders."""
        c = self.controls
        return dict(
            mode=c["mode"].value,
            kernel_size=c["kernel size"].value,
            stride=c["stride"].value,
            padding=c["padding"].value,
            grad_source=c["gradient"].value,
        )

    def render(self, state):
        """:func:`render_pool_html`."""
        return render_pool_html(state)


def pool_explorer(x=None):
    """An interactive pooling explorer (an ``ipywidgets.VBox``) with a backward view.

    ``x``: (H, W), by default the lecture's 4×4 example
    ``[[4, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]]``
    with 2×2 pooling and stride 2.
    """
    return PoolExplorer(x=x)
