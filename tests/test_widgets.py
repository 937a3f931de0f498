"""Tests for cnnlab.widgets: explorer state, HTML rendering and headless widgets (no browser)."""

import itertools
import math
from html.parser import HTMLParser

import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab import widgets as W
from cnnlab.widgets import (
    ConvExplorerState,
    PoolExplorerState,
    conv_explorer,
    pool_explorer,
    render_conv_html,
    render_pool_html,
)

A = np.arange(1.0, 17).reshape(4, 4)  # the notebooks' example input A (the slides keep A symbolic)
K = np.array([[1.0, 0], [-1, 2]])  # lecture 2x2 kernel
POOL_X = np.array([[4.0, 8, 3, 9], [16, 10, 0, 7], [6, 12, 13, 8], [67, 18, 3, 7]])


# ----------------------------------------------------------------------------- helpers


class CellCollector(HTMLParser):
    """Collects every <td> (attributes + text) with the classes of its enclosing table,
    and the text of elements with a given class."""

    def __init__(self):
        super().__init__()
        self.cells = []  # dicts: table, classes, attrs, text
        self.table = None
        self.current = None
        self.text_stack = []  # [class, depth, text] for elements we collect text of
        self.depth = 0
        self.texts = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.depth += 1
        classes = attrs.get("class", "").split()
        if tag == "table":
            self.table = classes
        if tag == "td":
            self.current = {"table": self.table, "classes": classes, "attrs": attrs, "text": ""}
        for c in classes:
            if c in ("cnnlab-formula", "cnnlab-arithmetic", "cnnlab-error"):
                self.text_stack.append([c, self.depth, ""])

    def handle_endtag(self, tag):
        if tag == "td" and self.current is not None:
            self.cells.append(self.current)
            self.current = None
        if tag == "table":
            self.table = None
        while self.text_stack and self.text_stack[-1][1] == self.depth:
            c, _, text = self.text_stack.pop()
            self.texts.setdefault(c, []).append(text)
        self.depth -= 1

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data
        for entry in self.text_stack:
            entry[2] += data


def parse(html_text):
    parser = CellCollector()
    parser.feed(html_text)
    return parser


def cells_with(html_text, table_class, cell_class=None, key=("data-row", "data-col")):
    """Set of coordinate tuples of cells in the table with ``table_class`` having ``cell_class``."""
    out = set()
    for cell in parse(html_text).cells:
        if table_class in cell["table"] and (cell_class is None or cell_class in cell["classes"]):
            out.add(tuple(int(cell["attrs"][k]) for k in key))
    return out


def text_of(html_text, css_class):
    return " | ".join(parse(html_text).texts.get(css_class, []))


def evaluate_arithmetic(text):
    """Evaluate the right-hand side of ``Z[r,c] = a×b + ... + b (bias) = v`` by hand; return (sum, v)."""
    lhs, rhs = text.split(" = ", 1)
    expression, shown = rhs.rsplit(" = ", 1)
    expression = expression.replace(" (bias)", "").replace("\u2212", "-")
    total = 0.0
    for term in expression.split(" + "):
        factors = [float(f.strip("()")) for f in term.split("\u00d7")]
        total += math.prod(factors)
    return total, float(shown.replace("\u2212", "-"))


def direct_conv_value(image, kernel, bias, stride, padding, dilation, r, c):
    """Z[r, c] = sum_ij X_pad[r*S + i*D, c*S + j*D] * K[i, j] + b, written out independently."""
    xp = np.pad(image, padding)
    total = bias
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            total += xp[r * stride + i * dilation, c * stride + j * dilation] * kernel[i, j]
    return total


def find_control(box, description):
    """The widget inside ``box`` (recursively) whose description is ``description``."""
    for child in box.children:
        if getattr(child, "description", None) == description:
            return child
        if hasattr(child, "children"):
            found = find_control(child, description)
            if found is not None:
                return found
    return None


# ----------------------------------------------------------------------------- conv state


def conv_combinations():
    """Parameter combinations incl. padding 0, H != W, stride > kernel, dilation > 1, kernel = input."""
    for (h, w), k, s, p, d in itertools.product(
        [(4, 4), (5, 7), (7, 3), (1, 6)], [1, 2, 3], [1, 2, 3, 4], [0, 1, 2], [1, 2, 3]
    ):
        yield h, w, k, s, p, d
    yield 4, 4, 4, 1, 0, 1  # kernel = input size
    yield 5, 3, 5, 2, 0, 1  # kernel taller than wide input


def test_output_shape_matches_conv_output_size_for_many_combinations():
    rng = np.random.default_rng(0)
    valid = invalid = 0
    for h, w, k, s, p, d in conv_combinations():
        state = ConvExplorerState(rng.integers(0, 9, (h, w)), np.ones((k, k)), stride=s, padding=p, dilation=d)
        try:
            expected = (F.conv_output_size(h, k, s, p, d), F.conv_output_size(w, k, s, p, d))
        except ValueError:
            expected = None
        # independent check of the formula itself
        by_hand = ((h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1)
        if min(by_hand) >= 1:
            assert expected == by_hand
        assert state.output_shape == expected, (h, w, k, s, p, d)
        if expected is None:
            invalid += 1
            assert not state.is_valid and state.error and state.output is None
        else:
            valid += 1
            assert state.is_valid and state.error is None
            assert state.output.shape == expected
            assert state.num_steps == expected[0] * expected[1]
    assert valid > 100 and invalid > 10


@pytest.mark.parametrize(
    "position, cells",
    [
        ((0, 0), [(0, 0), (0, 1), (1, 0), (1, 1)]),
        ((0, 1), [(0, 2), (0, 3), (1, 2), (1, 3)]),
        ((1, 0), [(2, 0), (2, 1), (3, 0), (3, 1)]),
        ((1, 1), [(2, 2), (2, 3), (3, 2), (3, 3)]),
    ],
)
def test_window_cells_lecture_4x4_2x2_stride_2(position, cells):
    state = ConvExplorerState(A, K, stride=2, out_row=position[0], out_col=position[1])
    assert state.output_shape == (2, 2)
    assert state.window_cells() == cells
    assert state.gap_cells() == []


def test_window_cells_give_every_output_value():
    """sum(window * kernel) + b reproduces cnnlab.functional.conv2d at every position."""
    rng = np.random.default_rng(1)
    for (h, w), (kh, kw), s, p, d in [
        ((5, 6), (3, 2), 1, 0, 1),
        ((6, 5), (2, 3), 2, 1, 2),
        ((4, 4), (4, 4), 1, 0, 1),
        ((7, 4), (2, 2), 3, 0, 1),
        ((5, 5), (3, 3), 2, 2, 2),
    ]:
        image = rng.integers(-5, 6, (h, w)).astype(float)
        kernel = rng.integers(-3, 4, (kh, kw)).astype(float)
        state = ConvExplorerState(image, kernel, bias=0.5, stride=s, padding=p, dilation=d)
        xp = state.padded_input()
        for step in range(state.num_steps):
            r, c = state.set_step(step)
            cells = state.window_cells()
            assert len(cells) == kh * kw
            value = sum(xp[cell] * k for cell, k in zip(cells, kernel.ravel())) + 0.5
            assert value == pytest.approx(state.output[r, c], abs=1e-9)
            assert value == pytest.approx(direct_conv_value(image, kernel, 0.5, s, p, d, r, c), abs=1e-9)


def test_dilation_taps_skip_cells():
    state = ConvExplorerState(np.zeros((5, 5)), np.ones((3, 3)), dilation=2)
    assert state.output_shape == (1, 1)
    assert state.window_cells() == [(0, 0), (0, 2), (0, 4), (2, 0), (2, 2), (2, 4), (4, 0), (4, 2), (4, 4)]
    gaps = set(state.gap_cells())
    assert (1, 1) in gaps and (0, 1) in gaps and (3, 4) in gaps
    assert len(gaps) == 25 - 9
    html = render_conv_html(state)
    assert cells_with(html, "cnnlab-input", "cnnlab-window") == set(state.window_cells())
    assert cells_with(html, "cnnlab-input", "cnnlab-gap") == gaps


def test_dilation_2_with_stride_walks_the_dilated_window():
    state = ConvExplorerState(np.zeros((6, 6)), np.ones((2, 2)), stride=2, dilation=2, out_row=1, out_col=0)
    assert state.output_shape == (2, 2)  # floor((6 - 2·1 - 1)/2) + 1 = floor(3/2) + 1
    assert state.window_cells() == [(2, 0), (2, 2), (4, 0), (4, 2)]


def test_padding_shifts_coordinates():
    state = ConvExplorerState(A, K, padding=1)
    assert state.output_shape == (5, 5)
    xp = state.padded_input()
    assert xp.shape == (6, 6)
    assert np.all(xp[0] == 0) and np.all(xp[:, 0] == 0) and np.all(xp[-1] == 0)
    np.testing.assert_array_equal(xp[1:5, 1:5], A)
    # Z[0,0] with padding 1 covers padded rows/cols 0..1, i.e. input cell A[0,0] at padded (1,1)
    assert state.window_cells() == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert state.is_padding_cell(0, 0) and state.is_padding_cell(1, 0)
    assert not state.is_padding_cell(1, 1)
    assert state.output[0, 0] == pytest.approx(2 * A[0, 0])  # only K[1,1] = 2 meets the image
    html = render_conv_html(state)
    windows = cells_with(html, "cnnlab-input", "cnnlab-window", key=("data-in-row", "data-in-col"))
    assert windows == {(-1, -1), (-1, 0), (0, -1), (0, 0)}
    assert len(cells_with(html, "cnnlab-input", "cnnlab-pad")) == 36 - 16


def test_arithmetic_lecture_example_written_out():
    state = ConvExplorerState(A, K)
    # by hand: 1*1 + 2*0 + 5*(-1) + 6*2 = 8
    assert state.arithmetic() == "Z[0,0] = 1×1 + 2×0 + 5×(−1) + 6×2 + 0 (bias) = 8"
    state.update(bias=1.0, stride=2, out_row=1, out_col=1)
    # window 11, 12, 15, 16: 11 - 15 + 32 + 1 = 29
    assert state.arithmetic() == "Z[1,1] = 11×1 + 12×0 + 15×(−1) + 16×2 + 1 (bias) = 29"


def test_arithmetic_string_evaluates_to_the_output_value():
    rng = np.random.default_rng(2)
    for s, p, d, bias in [(1, 0, 1, 0.0), (2, 1, 1, -1.5), (1, 2, 2, 2.0), (3, 1, 1, 0.25)]:
        image = rng.integers(-9, 10, (5, 6)).astype(float)
        kernel = rng.integers(-3, 4, (3, 2)).astype(float)
        state = ConvExplorerState(image, kernel, bias=bias, stride=s, padding=p, dilation=d)
        for step in range(state.num_steps):
            r, c = state.set_step(step)
            text = state.arithmetic()
            assert text.startswith(f"Z[{r},{c}] = ")
            total, shown = evaluate_arithmetic(text)
            assert total == pytest.approx(state.output[r, c], abs=1e-9)
            assert shown == pytest.approx(state.output[r, c], abs=1e-9)
            assert text.count("×") == kernel.size


def test_arithmetic_formats_non_integers():
    state = ConvExplorerState([[0.5, 1], [2, 3]], [[1 / 3]])
    assert state.arithmetic() == "Z[0,0] = 0.5×0.3333 + 0 (bias) = 0.1667"


def test_formula_text_has_substituted_numbers_and_result():
    state = ConvExplorerState(A, K, stride=2, padding=1)
    h_line, w_line = state.formula_lines()
    assert h_line.startswith("H_out = floor((H + 2P − D(K−1) − 1)/S) + 1")
    assert "floor((4 + 2·1 − 1·(2−1) − 1)/2) + 1" in h_line
    assert h_line.endswith("= 3")
    assert w_line.startswith("W_out = ") and w_line.endswith("= 3")
    assert state.formula_text() == h_line + "\n" + w_line


def test_formula_text_for_a_non_square_input_and_dilation():
    state = ConvExplorerState(np.zeros((7, 5)), np.ones((3, 2)), stride=2, padding=0, dilation=2)
    h_line, w_line = state.formula_lines()
    # H: floor((7 - 2*2 - 1)/2) + 1 = 2 ; W: floor((5 - 2*1 - 1)/2) + 1 = 2
    assert "floor((7 + 2·0 − 2·(3−1) − 1)/2) + 1 = floor(2/2) + 1 = 2" in h_line
    assert "floor((5 + 2·0 − 2·(2−1) − 1)/2) + 1 = floor(2/2) + 1 = 2" in w_line
    assert state.output_shape == (2, 2)


def test_formula_text_says_when_nothing_fits():
    state = ConvExplorerState(A, np.ones((3, 3)), dilation=3)
    h_line = state.formula_lines()[0]
    assert "floor((4 + 2·0 − 3·(3−1) − 1)/1) + 1 = floor(−3/1) + 1 = −2" in h_line
    assert "no output" in h_line


def test_position_clamped_when_stride_grows():
    state = ConvExplorerState(A, K, out_row=2, out_col=2)
    assert state.output_shape == (3, 3) and (state.out_row, state.out_col) == (2, 2)
    state.update(stride=2)
    assert state.output_shape == (2, 2) and (state.out_row, state.out_col) == (1, 1)
    state.update(stride=3)
    assert state.output_shape == (1, 1) and (state.out_row, state.out_col) == (0, 0)
    state.update(stride=1)  # smaller stride keeps the (clamped) position
    assert (state.out_row, state.out_col) == (0, 0)


def test_position_clamped_in_constructor_and_step():
    state = ConvExplorerState(A, K, out_row=9, out_col=-3)
    assert (state.out_row, state.out_col) == (2, 0)
    assert state.set_step(5) == (1, 2) and state.step == 5
    assert state.set_step(100) == (2, 2)


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(kernel=np.ones((5, 5))), "larger than the padded input 4×4"),
        (dict(kernel=np.ones((3, 3)), dilation=2), "spans 5×5"),
        (dict(stride=0), "stride must be >= 1"),
        (dict(padding=-1), "padding must be >= 0"),
        (dict(dilation=1.5), "dilation must be an int"),
    ],
)
def test_invalid_parameters_give_a_message_not_an_exception(changes, words):
    state = ConvExplorerState(A, K, out_row=1, out_col=1)
    state.update(**changes)
    assert not state.is_valid
    assert words in state.error
    assert state.output is None and state.output_shape is None and state.window_cells() == []
    assert state.arithmetic() == state.error
    html = render_conv_html(state)
    assert words in text_of(html, "cnnlab-error")
    assert "cnnlab-output" not in html
    state.formula_text()  # must not raise either


def test_invalid_then_valid_again_restores_output():
    state = ConvExplorerState(A, K, out_row=2, out_col=1)
    state.update(kernel=np.ones((5, 5)))
    assert not state.is_valid
    state.update(padding=1)  # 4 + 2 = 6 >= 5
    assert state.is_valid and state.output_shape == (2, 2)
    assert (state.out_row, state.out_col) == (1, 1)


def test_unknown_field_is_rejected():
    with pytest.raises(TypeError, match="no field"):
        ConvExplorerState(A, K).update(strides=2)


def test_render_conv_html_structure():
    state = ConvExplorerState(A, K, stride=1, out_row=1, out_col=2)
    html = render_conv_html(state)
    assert cells_with(html, "cnnlab-output") == {(r, c) for r in range(3) for c in range(3)}
    assert cells_with(html, "cnnlab-output", "cnnlab-current") == {(1, 2)}
    assert cells_with(html, "cnnlab-input", "cnnlab-window") == {(1, 2), (1, 3), (2, 2), (2, 3)}
    assert len(cells_with(html, "cnnlab-kernel")) == 4
    assert "floor((4 + 2·0 − 1·(2−1) − 1)/1) + 1" in text_of(html, "cnnlab-formula")
    assert text_of(html, "cnnlab-arithmetic") == state.arithmetic()
    assert "cnnlab-legend" in html and "padding" in html
    texts = {
        (int(c["attrs"]["data-row"]), int(c["attrs"]["data-col"])): c["text"]
        for c in parse(html).cells
        if "cnnlab-output" in c["table"]
    }
    assert texts[(0, 0)] == "8"  # by hand, see the lecture example
    assert texts[(1, 2)] == W.format_number(state.output[1, 2])


def test_lecture_constants_match_the_grading_module():
    from cnnlab.grading import exercises

    np.testing.assert_array_equal(W.LECTURE_INPUT_A, exercises.LECTURE_A)
    np.testing.assert_array_equal(W.LECTURE_KERNEL, exercises.LECTURE_W)
    np.testing.assert_array_equal(W.LECTURE_POOL_INPUT, exercises.LECTURE_POOL[0, 0])


def test_kernel_presets():
    assert W.make_kernel("box (all ones)", 3).tolist() == np.ones((3, 3)).tolist()
    assert W.make_kernel("identity", 3).tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert W.make_kernel("Sobel x", 5).tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert W.make_kernel("Sobel y", 5).tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert W.make_kernel("2x2 example kernel W", 3).tolist() == [[1, 0], [-1, 2]]
    # the identity kernel reproduces its input
    state = ConvExplorerState(A, W.make_kernel("identity", 3), padding=1)
    np.testing.assert_array_equal(state.output, A)


def test_format_number():
    assert W.format_number(7.0) == "7"
    assert W.format_number(-0.0) == "0"
    assert W.format_number(-2) == "−2"
    assert W.format_number(0.25) == "0.25"
    assert W.format_number(-np.inf) == "−∞"
    assert W.format_factor(-1) == "(−1)"


# ----------------------------------------------------------------------------- pooling state


def test_pool_outputs_for_the_lecture_example():
    state = PoolExplorerState(POOL_X, mode="max", kernel_size=2, stride=2)
    np.testing.assert_array_equal(state.output, [[16, 9], [67, 13]])
    state.update(mode="avg")
    np.testing.assert_allclose(state.output, [[9.5, 4.75], [25.75, 7.75]])
    state.update(mode="min")
    np.testing.assert_array_equal(state.output, [[4, 0], [6, 3]])
    assert state.output_shape == (2, 2)


def test_pool_stride_defaults_to_kernel_size():
    state = PoolExplorerState(POOL_X, kernel_size=2, stride=None)
    assert state.effective_stride == 2
    np.testing.assert_array_equal(state.output, [[16, 9], [67, 13]])


@pytest.mark.parametrize(
    "position, cells",
    [
        ((0, 0), [(0, 0), (0, 1), (1, 0), (1, 1)]),
        ((0, 1), [(0, 2), (0, 3), (1, 2), (1, 3)]),
        ((1, 0), [(2, 0), (2, 1), (3, 0), (3, 1)]),
        ((1, 1), [(2, 2), (2, 3), (3, 2), (3, 3)]),
    ],
)
def test_pool_window_cells(position, cells):
    state = PoolExplorerState(POOL_X, kernel_size=2, stride=2, out_row=position[0], out_col=position[1])
    assert state.window_cells() == cells


def grad_positions(grad):
    return {(int(r), int(c)): float(grad[r, c]) for r, c in zip(*np.nonzero(grad))}


def test_max_gradient_goes_to_the_arg_max():
    state = PoolExplorerState(POOL_X, mode="max", kernel_size=2, stride=2)
    # 16 at (1,0), 9 at (0,3), 67 at (3,0), 13 at (2,2)
    assert grad_positions(state.input_grad()) == {(1, 0): 1, (0, 3): 1, (3, 0): 1, (2, 2): 1}
    state.update(grad_source="selected cell", out_row=1, out_col=0)
    np.testing.assert_array_equal(state.upstream_grad(), [[0, 0], [1, 0]])
    assert grad_positions(state.input_grad()) == {(3, 0): 1}


def test_min_gradient_goes_to_the_arg_min():
    state = PoolExplorerState(POOL_X, mode="min", kernel_size=2, stride=2)
    # 4 at (0,0), 0 at (1,2), 6 at (2,0), 3 at (3,2)
    assert grad_positions(state.input_grad()) == {(0, 0): 1, (1, 2): 1, (2, 0): 1, (3, 2): 1}


def test_avg_gradient_is_spread_evenly():
    state = PoolExplorerState(POOL_X, mode="avg", kernel_size=2, stride=2)
    np.testing.assert_allclose(state.input_grad(), np.full((4, 4), 0.25))
    state.update(grad_source="selected cell", out_row=0, out_col=1)
    expected = np.zeros((4, 4))
    expected[0:2, 2:4] = 0.25
    np.testing.assert_allclose(state.input_grad(), expected)


def test_ties_go_to_the_first_cell_in_row_major_order():
    for mode in ("max", "min"):
        state = PoolExplorerState(np.full((4, 4), 5.0), mode=mode, kernel_size=2, stride=2)
        assert grad_positions(state.input_grad()) == {(0, 0): 1, (0, 2): 1, (2, 0): 1, (2, 2): 1}
        assert state.winner_cell() == (0, 0)


def test_overlapping_windows_add_up_their_gradients():
    state = PoolExplorerState(POOL_X, mode="max", kernel_size=2, stride=1)
    # winners by hand: 16,10,9 / 16,13,13 / 67,18,13
    assert grad_positions(state.input_grad()) == {(1, 0): 2, (1, 1): 1, (0, 3): 1, (2, 2): 3, (3, 0): 1, (3, 1): 1}
    assert state.input_grad().sum() == state.num_steps == 9


def test_pool_arithmetic_and_winner():
    state = PoolExplorerState(POOL_X, mode="max", kernel_size=2, stride=2)
    assert state.arithmetic() == "Y[0,0] = max(4, 8, 16, 10) = 16"
    assert state.winner_cell() == (1, 0)
    state.update(mode="avg")
    assert state.arithmetic() == "Y[0,0] = (4 + 8 + 16 + 10)/4 = 9.5"
    assert state.winner_cell() is None
    state.update(mode="min", out_row=1, out_col=1)
    assert state.arithmetic() == "Y[1,1] = min(13, 8, 3, 7) = 3"
    assert state.winner_cell() == (3, 2)


def test_pool_padding_shows_what_pooling_sees():
    state = PoolExplorerState(POOL_X, mode="max", kernel_size=3, stride=2, padding=1)
    assert state.output_shape == (2, 2)  # floor((4 + 2 - 3)/2) + 1
    assert state.padded_input()[0, 0] == -np.inf
    assert state.arithmetic() == "Y[0,0] = max(−∞, −∞, −∞, −∞, 4, 8, −∞, 16, 10) = 16"
    state.update(mode="min")
    assert state.padded_input()[0, 0] == np.inf
    state.update(mode="avg")
    assert state.padded_input()[0, 0] == 0
    # count_include_pad=True: (4 + 8 + 16 + 10)/9
    assert state.output[0, 0] == pytest.approx(38 / 9)


def test_pool_formula_text():
    state = PoolExplorerState(POOL_X, kernel_size=3, stride=2, padding=1)
    h_line, w_line = state.formula_lines()
    assert h_line == ("H_out = floor((H + 2P − K)/S) + 1 = floor((4 + 2·1 − 3)/2) + 1 = floor(3/2) + 1 = 2")
    assert w_line.startswith("W_out") and w_line.endswith("= 2")


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(padding=2), "more than half"),
        (dict(kernel_size=5), "larger than the padded input 4×4"),
        (dict(stride=0), "stride must be >= 1"),
        (dict(mode="median"), "mode must be one of"),
    ],
)
def test_pool_invalid_parameters_give_a_message(changes, words):
    state = PoolExplorerState(POOL_X, kernel_size=2, stride=2, out_row=1, out_col=1)
    state.update(**changes)
    assert not state.is_valid and words in state.error
    assert state.output is None and state.input_grad() is None and state.window_cells() == []
    html = render_pool_html(state)
    assert words in text_of(html, "cnnlab-error")


def test_pool_position_clamped_when_stride_grows():
    state = PoolExplorerState(POOL_X, kernel_size=2, stride=1, out_row=2, out_col=2)
    state.update(stride=2)
    assert (state.out_row, state.out_col) == (1, 1)
    state.update(stride=3)
    assert state.output_shape == (1, 1) and (state.out_row, state.out_col) == (0, 0)


def test_render_pool_html_structure():
    state = PoolExplorerState(
        POOL_X, mode="max", kernel_size=2, stride=2, out_row=0, out_col=1, grad_source="selected cell"
    )
    html = render_pool_html(state)
    assert cells_with(html, "cnnlab-input", "cnnlab-window") == {(0, 2), (0, 3), (1, 2), (1, 3)}
    assert cells_with(html, "cnnlab-input", "cnnlab-winner") == {(0, 3)}
    assert cells_with(html, "cnnlab-output", "cnnlab-current") == {(0, 1)}
    assert cells_with(html, "cnnlab-upstream", "cnnlab-current") == {(0, 1)}
    assert cells_with(html, "cnnlab-grad", "cnnlab-grad-flow") == {(0, 3)}
    assert "floor((4 + 2·0 − 2)/2) + 1" in text_of(html, "cnnlab-formula")
    assert text_of(html, "cnnlab-arithmetic") == "Y[0,1] = max(3, 9, 0, 7) = 9"


# ----------------------------------------------------------------------------- headless widgets


def test_conv_explorer_builds_and_sliders_update_the_html():
    explorer = conv_explorer()
    import ipywidgets

    assert isinstance(explorer, ipywidgets.VBox)
    for name in ("stride", "padding", "dilation", "kernel size", "step", "input", "kernel", "H", "W"):
        assert find_control(explorer, name) is explorer.controls[name]
    html = explorer.view.value
    formula = text_of(html, "cnnlab-formula")
    windows = cells_with(html, "cnnlab-input", "cnnlab-window", key=("data-in-row", "data-in-col"))
    assert "floor((4 + 2·0 − 1·(2−1) − 1)/1) + 1" in formula
    assert windows == {(0, 1), (0, 2), (1, 1), (1, 2)}  # default: Z[0,1]

    find_control(explorer, "stride").value = 2
    html = explorer.view.value
    assert "floor((4 + 2·0 − 1·(2−1) − 1)/2) + 1" in text_of(html, "cnnlab-formula")
    assert cells_with(html, "cnnlab-input", "cnnlab-window", key=("data-in-row", "data-in-col")) == {
        (0, 2),
        (0, 3),
        (1, 2),
        (1, 3),
    }

    find_control(explorer, "padding").value = 1
    html = explorer.view.value
    assert "floor((4 + 2·1 − 1·(2−1) − 1)/2) + 1 = floor(4/2) + 1 = 3" in text_of(html, "cnnlab-formula")
    assert cells_with(html, "cnnlab-input", "cnnlab-window", key=("data-in-row", "data-in-col")) == {
        (-1, 1),
        (-1, 2),
        (0, 1),
        (0, 2),
    }
    assert explorer.controls["step"].max == 8


def test_conv_explorer_step_moves_the_current_cell():
    explorer = conv_explorer()
    step = explorer.controls["step"]
    assert step.max == 8 and step.value == 1
    step.value = 7
    html = explorer.view.value
    assert cells_with(html, "cnnlab-output", "cnnlab-current") == {(2, 1)}
    assert text_of(html, "cnnlab-arithmetic").startswith("Z[2,1] = ")
    explorer.controls["stride"].value = 3  # output 1x1: step clamps to 0
    assert step.max == 0 and step.value == 0
    assert cells_with(explorer.view.value, "cnnlab-output", "cnnlab-current") == {(0, 0)}


def test_conv_explorer_invalid_settings_show_a_message():
    explorer = conv_explorer()
    explorer.controls["kernel"].value = "Sobel x"
    explorer.controls["dilation"].value = 2  # 3x3 dilation 2 spans 5x5 > 4x4
    html = explorer.view.value
    assert "larger than the padded input" in text_of(html, "cnnlab-error")
    assert explorer.controls["step"].disabled
    explorer.controls["padding"].value = 1
    assert "cnnlab-error" not in explorer.view.value
    assert not explorer.controls["step"].disabled


def test_conv_explorer_presets_and_custom_arrays():
    explorer = conv_explorer(image=np.eye(5), kernel=[[1, 2, 3]], bias=1.0)
    assert explorer.controls["input"].value == W.CUSTOM
    assert explorer.state.output_shape == (5, 3)
    np.testing.assert_allclose(
        explorer.state.output, F.conv2d(np.eye(5)[None, None], np.array([[[[1.0, 2, 3]]]]), np.array([1.0]))[0, 0]
    )
    assert explorer.controls["H"].disabled
    explorer.controls["input"].value = W.RANDOM
    explorer.controls["H"].value, explorer.controls["W"].value = 6, 3
    assert explorer.state.image.shape == (6, 3)
    explorer.controls["kernel"].value = "box (all ones)"
    assert not explorer.controls["kernel size"].disabled
    explorer.controls["kernel size"].value = 2
    np.testing.assert_array_equal(explorer.state.kernel, np.ones((2, 2)))
    explorer.controls["kernel"].value = "Sobel y"
    assert explorer.controls["kernel size"].disabled and explorer.controls["kernel size"].value == 3


def test_pool_explorer_builds_and_controls_update_the_html():
    explorer = pool_explorer()
    for name in ("mode", "kernel size", "stride", "padding", "gradient", "step"):
        assert find_control(explorer, name) is explorer.controls[name]
    html = explorer.view.value
    output = {
        (int(c["attrs"]["data-row"]), int(c["attrs"]["data-col"])): c["text"]
        for c in parse(html).cells
        if "cnnlab-output" in c["table"]
    }
    assert output == {(0, 0): "16", (0, 1): "9", (1, 0): "67", (1, 1): "13"}
    assert cells_with(html, "cnnlab-grad", "cnnlab-grad-flow") == {(1, 0), (0, 3), (3, 0), (2, 2)}

    explorer.controls["mode"].value = "avg"
    assert "9.5" in explorer.view.value and "25.75" in explorer.view.value
    explorer.controls["gradient"].value = "selected cell"
    explorer.controls["step"].value = 3
    html = explorer.view.value
    assert cells_with(html, "cnnlab-grad", "cnnlab-grad-flow") == {(2, 2), (2, 3), (3, 2), (3, 3)}

    explorer.controls["stride"].value = 1
    assert "floor((4 + 2·0 − 2)/1) + 1 = floor(2/1) + 1 = 3" in text_of(explorer.view.value, "cnnlab-formula")
    explorer.controls["padding"].value = 2  # more than half of the 2x2 window
    assert "more than half" in text_of(explorer.view.value, "cnnlab-error")


def test_pool_explorer_custom_input():
    explorer = pool_explorer(np.arange(36.0).reshape(6, 6))
    assert explorer.state.output_shape == (3, 3)
    np.testing.assert_array_equal(explorer.state.output, [[7, 9, 11], [19, 21, 23], [31, 33, 35]])
