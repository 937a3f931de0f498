"""cnnlab.functional._windows: the sliding-window engine behind conv and pooling.

im2col is checked against the slide's formula written as loops, col2im against the defining
property of an adjoint, and both layouts against each other.
"""

import itertools

import numpy as np
import pytest

from cnnlab.functional import _windows as W
from cnnlab.functional.sizes import output_hw

CASES = [  # (x shape, kernel, stride, padding, dilation)
    ((2, 3, 5, 6), (3, 2), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 1, 9, 8), (2, 3), (1, 2), (2, 0), (2, 1)),
    ((2, 2, 4, 4), (4, 4), (1, 1), (0, 0), (1, 1)),
]


def loops_im2col(x, kernel, stride, padding, dilation, out_hw):
    """cols[n, c, u, v, i, j] = x_pad[n, c, i*s + u*d, j*s + v*d], by the formula."""
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    n, c = x.shape[:2]
    cols = np.zeros((n, c) + tuple(kernel) + tuple(out_hw))
    for n_, c_, u, v, i, j in itertools.product(*(range(d) for d in cols.shape)):
        cols[n_, c_, u, v, i, j] = x_pad[n_, c_, i * stride[0] + u * dilation[0], j * stride[1] + v * dilation[1]]
    return cols


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
@pytest.mark.parametrize("batch_first", [True, False])
def test_im2col_matches_the_formula_and_col2im_is_its_adjoint(shape, kernel, stride, padding, dilation, batch_first):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    out_hw = output_hw(shape[2:], kernel, stride, padding, dilation)
    cols = W.im2col(x, padding, kernel, stride, dilation, out_hw, batch_first=batch_first)
    expected = loops_im2col(x, kernel, stride, padding, dilation, out_hw)
    if batch_first:
        np.testing.assert_array_equal(cols, expected)  # (N, C, KH, KW, H_out, W_out)
    else:
        np.testing.assert_array_equal(cols, expected.transpose(1, 2, 3, 4, 5, 0))  # (C, KH, KW, H_out, W_out, N)
    # <col2im(g), x> == <g, im2col(x)> for any g: col2im is the transpose of im2col
    g = rng.standard_normal(cols.shape)
    dx = W.col2im(g, shape, padding, kernel, stride, dilation, out_hw, batch_first=batch_first)
    assert dx.shape == shape
    assert np.sum(dx * x) == pytest.approx(np.sum(g * cols), rel=1e-12)


def test_offset_views_are_views_in_row_major_tap_order():
    x = np.arange(2 * 1 * 5 * 5, dtype=float).reshape(2, 1, 5, 5)
    views = W.offset_views(x, (2, 3), (2, 1), (1, 1), (2, 3))
    assert len(views) == 6 and all(v.shape == (2, 1, 2, 3) and np.shares_memory(v, x) for v in views)
    # tap k = u*KW + v of window (i, j) is x[i*s + u, j*s + v]
    assert views[4][1, 0, 1, 2] == x[1, 0, 1 * 2 + 1, 2 + 1]


def test_pad_and_unpad_round_trip():
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4))
    padded = W.pad(x, (1, 2), value=-np.inf)
    assert padded.shape == (1, 2, 5, 8) and np.isneginf(padded[0, 0, 0, 0])
    np.testing.assert_array_equal(W.unpad(padded, (1, 2)), x)
    assert W.pad(x, (0, 0)) is x


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", CASES)
def test_row_then_column_views_give_every_tap_of_every_window(shape, kernel, stride, padding, dilation):
    """Separable windows: the column views of a row view are exactly the tap views (u, v)."""
    rng = np.random.default_rng(1)
    x_pad = W.pad(rng.standard_normal(shape), padding)
    out_hw = output_hw(x_pad.shape[2:], kernel, stride, (0, 0), dilation)
    taps = W.offset_views(x_pad, kernel, stride, dilation, out_hw)
    rows = W.row_views(x_pad, kernel[0], stride[0], dilation[0], out_hw[0])
    for u, row in enumerate(rows):
        for v, view in enumerate(W.column_views(row, kernel[1], stride[1], dilation[1], out_hw[1])):
            np.testing.assert_array_equal(view, taps[u * kernel[1] + v])
    row_maxima = [np.max(W.column_views(row, kernel[1], stride[1], dilation[1], out_hw[1]), axis=0) for row in rows]
    separable_max = np.max(row_maxima, axis=0)
    np.testing.assert_array_equal(separable_max, np.max(taps, axis=0))
