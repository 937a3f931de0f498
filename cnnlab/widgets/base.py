"""What every explorer shares: grid state, HTML building blocks, controls and the widget base.

An explorer is three layers (see :mod:`cnnlab.widgets`): a state dataclass
derived from :class:`GridState`, a pure renderer ``render_*_html(state)`` and
a widget derived from :class:`Explorer`. This module holds the parts that do
not depend on the operation being explored.
"""

import html
import math
from dataclasses import fields

import ipywidgets as widgets
import numpy as np

from cnnlab._validation import as_array

# --------------------------------------------------------------------------
# The lecture's numbers (the same arrays as in cnnlab.grading.exercises)
# --------------------------------------------------------------------------

LECTURE_INPUT_A = np.arange(1.0, 17).reshape(4, 4)
LECTURE_KERNEL = np.array([[1.0, 0], [-1, 2]])
LECTURE_POOL_INPUT = np.array([[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]])

MINUS = "\u2212"  # the typographic minus sign "−"
TIMES = "\u00d7"  # "×"

# --------------------------------------------------------------------------
# Colours: Okabe-Ito hues (safe for the common colour-vision deficiencies),
# used as light fills so dark text stays readable, and each highlight also
# has its own border style so it can be told apart without colour.
# --------------------------------------------------------------------------

CELL_STYLE = (
    "border:1px solid #9e9e9e; background:#ffffff; color:#111111; "
    "min-width:2.6em; height:1.9em; padding:0 0.3em; text-align:center; "
    "font-family:monospace;"
)
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
STYLE_ORDER = ["cnnlab-pad", "cnnlab-gap", "cnnlab-window", "cnnlab-winner", "cnnlab-current", "cnnlab-grad-flow"]

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
        text = str(int(value))  # also turns -0.0 into "0"
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
    result = numerator // stride + 1  # Python's // is floor division, also for negatives
    text = (
        f"{name}_out = {symbolic} = {numbers} = "
        f"floor({format_number(numerator)}/{stride}) + 1 = {format_number(result)}"
    )
    if result < 1:
        text += " < 1: no output, the kernel does not fit"
    return text


# --------------------------------------------------------------------------
# Grid state: a 2-D input, its padding and a walk over the output cells
# --------------------------------------------------------------------------


class GridState:
    """Base of every explorer state (subclasses are dataclasses).

    A subclass names its 2-D input field in ``INPUT_FIELD`` (``"image"``,
    ``"x"``), lists every field holding an array in ``ARRAY_FIELDS`` (they are
    checked to be 2-D), and defines ``error`` (a friendly message or ``None``)
    and ``output_shape`` (``(H_out, W_out)`` or ``None``). It must have the
    fields ``padding``, ``out_row`` and ``out_col``; ``pad_value`` is what the
    padding cells hold (0 unless overridden).
    """

    INPUT_FIELD = "x"
    ARRAY_FIELDS = ("x",)
    pad_value = 0.0

    def __post_init__(self):
        for name in self.ARRAY_FIELDS:
            setattr(self, name, as_array(getattr(self, name), name, ndim=2))
        self.clamp_position()

    # -- parameters --------------------------------------------------------

    def update(self, **changes):
        """Set fields (e.g. ``update(stride=2)``) and clamp the output position."""
        names = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            if name in self.ARRAY_FIELDS:
                value = as_array(value, name, ndim=2)
            setattr(self, name, value)
        self.clamp_position()
        return self

    @property
    def grid(self):
        """The 2-D input the explorer slides over: (H, W)."""
        return getattr(self, self.INPUT_FIELD)

    @property
    def is_valid(self):
        """True when the settings give at least one output cell."""
        return self.error is None

    @property
    def padded_shape(self):
        """``(H + 2P, W + 2P)``."""
        h, w = self.grid.shape
        p = max(0, self.padding)
        return (h + 2 * p, w + 2 * p)

    def padded_input(self):
        """The input with ``P`` rows/columns of ``pad_value`` on every side: (H + 2P, W + 2P)."""
        return np.pad(self.grid, max(0, self.padding), constant_values=self.pad_value)

    def is_padding_cell(self, row, col):
        """True when padded-input cell ``(row, col)`` is padding, not input."""
        h, w = self.grid.shape
        p = max(0, self.padding)
        return not (p <= row < p + h and p <= col < p + w)

    def formula_text(self):
        """The output-size formulas (``formula_lines``) joined by a newline."""
        return "\n".join(self.formula_lines())

    # -- walking through the output cells, row-major --------------------------

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
            attrs = {"class": " ".join(classes), "style": cell_style(classes), "data-row": r, "data-col": c}
            if titles_at:
                attrs["title"] = titles_at(r, c)
            if extra_attrs_at:
                attrs.update(extra_attrs_at(r, c))
            attr_text = " ".join(f'{k}="{html.escape(str(v))}"' for k, v in attrs.items())
            cells.append(f"<td {attr_text}>{html.escape(format_number(values[r, c]))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="cnnlab-caption" style="font-weight:bold; white-space:nowrap;">'
        f"{html.escape(caption)}</div>"
        f'<table class="cnnlab-grid {css_class}" style="border-collapse:collapse; margin:0.2em 0;">'
        + "".join(rows)
        + "</table>"
    )


def panel(content):
    """A box for one table, laid out side by side with its neighbours."""
    return f'<div class="cnnlab-panel" style="margin:0 1.5em 0.5em 0;">{content}</div>'


def panels_row(contents):
    """Tables side by side, wrapping on narrow screens."""
    return (
        '<div class="cnnlab-panels" style="display:flex; flex-wrap:wrap; align-items:flex-start;">'
        + "".join(panel(c) for c in contents)
        + "</div>"
    )


def text_block(css_class, lines, extra_style=""):
    """A block of monospace lines (formula, arithmetic) inside ``div.css_class``."""
    inner = "".join(f'<div class="{css_class}-line">{html.escape(line)}</div>' for line in lines)
    return f'<div class="{css_class}" style="font-family:monospace; margin:0.3em 0; {extra_style}">{inner}</div>'


def error_block(message):
    """The friendly message shown instead of an output."""
    return (
        '<div class="cnnlab-error" role="alert" style="background:#fde8e8; color:#7a0000; '
        'border:2px solid #b00020; padding:0.4em 0.6em; margin:0.3em 0;">'
        f"{html.escape(message)}</div>"
    )


def legend(classes):
    """Swatches explaining the colours of the given classes."""
    items = []
    for c in classes:
        swatch = (
            f'<span class="{c}" style="{cell_style([c])} display:inline-block; min-width:1.4em; height:1.1em;"></span>'
        )
        items.append(f'<span style="margin-right:1.2em; white-space:nowrap;">{swatch} {html.escape(LEGEND[c])}</span>')
    return (
        '<div class="cnnlab-legend" style="font-size:0.9em; margin-top:0.4em; line-height:2;">'
        + "".join(items)
        + "</div>"
    )


def input_cell_attrs(padding):
    """``data-in-row``/``data-in-col``: coordinates in the unpadded input."""
    return lambda r, c: {"data-in-row": r - padding, "data-in-col": c - padding}


def padded_input_table(state, highlights):
    """The padded input of a :class:`GridState` as a ``cnnlab-input`` table.

    ``highlights``: ``[(css_class, cells), ...]``; a cell in ``cells`` gets
    ``css_class`` (in the order given, after ``cnnlab-pad`` for padding cells).
    """
    p = max(0, state.padding)

    def classes_at(r, c):
        classes = ["cnnlab-pad"] if state.is_padding_cell(r, c) else []
        return classes + [css for css, cells in highlights if (r, c) in cells]

    def title_at(r, c):
        kind = "padding" if state.is_padding_cell(r, c) else f"X[{r - p},{c - p}]"
        return f"padded input [{r},{c}] = {kind}"

    h, w = state.grid.shape
    return html_table(
        state.padded_input(),
        "cnnlab-input",
        f"Input X (H={h}, W={w}, padding {p})",
        classes_at,
        title_at,
        input_cell_attrs(p),
    )


# --------------------------------------------------------------------------
# Controls and the widget base
# --------------------------------------------------------------------------


def slider(description, value, minimum, maximum, step=1, kind=widgets.IntSlider):
    """A slider whose ``description`` names the parameter it controls."""
    return kind(
        value=value,
        min=minimum,
        max=maximum,
        step=step,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
    )


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


class Explorer(widgets.VBox):
    """Base of every explorer widget: control rows on top, the rendered state below.

    A subclass builds its ``controls`` (description -> widget, with ``"step"``
    and ``"play"`` from :func:`step_controls`) and its state, calls
    :meth:`setup`, and defines :meth:`read_controls` (the ``state.update``
    arguments from the controls) and :meth:`render` (state -> HTML).
    """

    def setup(self, rows, controls, state, css_class, watched):
        """Lay out ``rows``, attach the HTML view and observe the ``watched`` controls."""
        view = widgets.HTML()
        view.add_class(f"{css_class}-view")
        super().__init__(children=list(rows) + [view])
        self.add_class(f"{css_class}-explorer")
        self.controls, self.view, self.state = controls, view, state
        self.syncing = False
        for name in watched:
            controls[name].observe(self.on_parameter_change, names="value")
        controls["step"].observe(self.on_step_change, names="value")
        self.on_parameter_change()

    def read_controls(self):
        """``{field: value}`` for ``state.update``, read from the controls."""
        raise NotImplementedError

    def render(self, state):
        """The HTML for ``state``."""
        raise NotImplementedError

    def on_parameter_change(self, change=None):
        """Any slider or dropdown moved: update the state, then redraw."""
        if self.syncing:
            return
        self.syncing = True  # our own writes to the sliders must not call us again
        try:
            self.state.update(**self.read_controls())
            sync_step(self.state, self.controls["step"], self.controls["play"])
        finally:
            self.syncing = False
        self.view.value = self.render(self.state)

    def on_step_change(self, change):
        """The step slider (or play button) moved: select that output cell."""
        if self.syncing:
            return
        self.state.set_step(change["new"])
        self.view.value = self.render(self.state)
