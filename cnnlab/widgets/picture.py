"""Pictures of 2-D maps of any size, for explorers that cannot print every number.

A 28×28 digit fits in an HTML table; a 200×300 photo does not. These helpers
draw a map as a small PNG (nearest-neighbour, so every pixel stays a square),
scaled to at most ``max_pixels`` on its longer side, with outlined boxes that
stay legible when one input pixel is smaller than one screen pixel. The PNG is
embedded in the HTML as a ``data:`` URI, so it works in JupyterLab, in a
static export and in tests alike.
"""

import base64
import html
import io

import numpy as np
from PIL import Image, ImageDraw

BOX_COLOURS = {"window": (230, 159, 0), "current": (0, 114, 178), "spread": (0, 158, 115)}
MIN_BOX_PIXELS = 7       # a box is never drawn smaller than this, however small the cells are


def display_scale(shape, max_pixels=280, max_cell=24):
    """Screen pixels per map cell: the longer side fits ``max_pixels``, a cell is at most ``max_cell``."""
    return min(max_cell, max_pixels / max(shape))


def to_rgb(values, signed=None):
    """(H, W) numbers -> (H, W, 3) uint8: grey from min (black) to max (white), or, when
    ``signed`` (default: the map has negative values), blue (negative) - white (0) - red (positive)."""
    values = np.asarray(values, dtype=float)
    if signed is None:
        signed = bool(values.min() < 0)
    if signed:
        limit = max(float(np.abs(values).max()), 1e-12)
        t = np.clip(values / limit, -1, 1)[..., None]
        white, red, blue = np.array([255.0, 255, 255]), np.array([178.0, 24, 43]), np.array([33.0, 102, 172])
        rgb = np.where(t >= 0, white + t * (red - white), white - t * (blue - white))
    else:
        low, high = float(values.min()), float(values.max())
        grey = (values - low) / (high - low) if high > low else np.full_like(values, 0.5)   # flat: mid-grey
        rgb = np.repeat(grey[..., None] * 255, 3, axis=2)
    return np.round(rgb).astype(np.uint8)


def box_pixels(box, scale, size):
    """Cell box ``(r0, c0, r1, c1)`` (inclusive, may reach outside the map) -> pixel rectangle
    ``(x0, y0, x1, y1)`` on a picture of ``size = (width, height)``, at least ``MIN_BOX_PIXELS`` wide."""
    r0, c0, r1, c1 = box
    x0, y0, x1, y1 = c0 * scale, r0 * scale, (c1 + 1) * scale - 1, (r1 + 1) * scale - 1
    for lo, hi, limit, index in ((x0, x1, size[0], 0), (y0, y1, size[1], 1)):
        if hi - lo < MIN_BOX_PIXELS:
            middle = (lo + hi) / 2
            lo, hi = middle - MIN_BOX_PIXELS / 2, middle + MIN_BOX_PIXELS / 2
        lo, hi = max(0, lo), min(limit - 1, hi)
        if index == 0:
            x0, x1 = lo, hi
        else:
            y0, y1 = lo, hi
    return (round(x0), round(y0), round(x1), round(y1))


def map_png(values, boxes=(), scale=None, signed=None, fills=()):
    """PNG bytes of a map with outlined ``boxes`` [(cell box, colour name), ...] and
    tinted ``fills`` [((row, col), colour name), ...]."""
    values = np.asarray(values, dtype=float)
    scale = display_scale(values.shape) if scale is None else scale
    rgb = to_rgb(values, signed)
    for (r, c), colour in fills:
        if 0 <= r < values.shape[0] and 0 <= c < values.shape[1]:
            rgb[r, c] = (0.45 * rgb[r, c] + 0.55 * np.array(BOX_COLOURS[colour])).astype(np.uint8)
    width = max(1, round(values.shape[1] * scale))
    height = max(1, round(values.shape[0] * scale))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    picture = Image.fromarray(rgb).resize((width, height), resample)
    draw = ImageDraw.Draw(picture)
    for box, colour in boxes:
        draw.rectangle(box_pixels(box, scale, picture.size), outline=BOX_COLOURS[colour], width=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def img_tag(png, css_class, alt, attrs=None):
    """An ``<img>`` with the PNG inline and ``data-*`` attributes for tests."""
    extra = "".join(f' {k}="{html.escape(str(v))}"' for k, v in (attrs or {}).items())
    data = base64.b64encode(png).decode("ascii")
    return (f'<img class="{css_class}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}"'
            f' style="image-rendering:pixelated; border:1px solid #9e9e9e;"{extra}>')
