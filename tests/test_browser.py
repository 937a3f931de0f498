"""The course in a real browser: JupyterLab + Chromium driven by Playwright.

1. The convolution explorer of notebook 02 renders in JupyterLab, and moving its ``stride`` and
   ``padding`` sliders with the keyboard updates the output-size formula, the output table and
   the highlighted window (checked against the slide's formula
   ``H_out = floor((H + 2P − D(K−1) − 1)/S) + 1`` and the lecture's 4×4 input and 2×2 kernel).
2. nbgrader's **Validate** toolbar button reports every test cell of an untouched student
   release as failed (``NotImplementedError``), and reports success for the solution notebook.

The server serves a temporary copy of the notebooks, never the repository. Screenshots of every
step go to ``test-artifacts/browser/``. Skipped when Chromium (``/usr/bin/chromium``) or the
``playwright`` package is missing; Playwright's own browser downloads are never used.
Run just these tests with ``.venv/bin/python -m pytest -m browser``.
"""

import json
from pathlib import Path
import re
import shutil
import uuid

import numpy as np
import pytest

from lab_server import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

EXPLORER_SOURCES = [REPO / "notebooks" / "02_convolution_2d" / "02_convolution_2d.ipynb",
                    REPO / "solutions" / "02_convolution_2d" / "02_convolution_2d.ipynb"]
VALIDATE_RELEASE = REPO / "notebooks" / "01_convolution_1d" / "01_convolution_1d.ipynb"
VALIDATE_SOLUTION = REPO / "solutions" / "01_convolution_1d" / "01_convolution_1d.ipynb"

# The lecture's example (cnnlab.widgets' default): input A = 1..16 as 4x4, 2x2 kernel, no bias.
LECTURE_A = np.arange(1.0, 17).reshape(4, 4)
LECTURE_K = np.array([[1.0, 0], [-1, 2]])
CURRENT_CELL = (0, 1)           # the output cell the explorer highlights at start: Z[0, 1]

UI_TIMEOUT_MS = 20_000          # a slider move -> kernel -> re-rendered HTML
RENDER_TIMEOUT_MS = 60_000      # first Run All (imports numpy/matplotlib/cnnlab)
VALIDATE_TIMEOUT_MS = 90_000    # nbgrader executes the whole notebook in a fresh kernel


def chromium_path():
    """Debian's Chromium, or any ``chromium`` on PATH; ``None`` when there is none."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (the system one), closed at the end of the module."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found (/usr/bin/chromium or `chromium` on PATH): "
                    "`make browser-deps` installs it (apt-get install -y chromium) where possible")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"the playwright package cannot be imported ({exc}); "
                    f"it comes with pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


def explorer_notebook():
    """``explorer.ipynb``: notebook 02's first import cell + its ``conv_explorer`` cell(s), verbatim.

    Taken from the student release when it exists, else from the source notebook.
    """
    source = next((path for path in EXPLORER_SOURCES if path.exists()), None)
    if source is None:
        pytest.skip(f"notebook 02 (the convolution explorer) not found: {EXPLORER_SOURCES[0]}")
    nb = json.loads(source.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]

    def text(cell):
        return "".join(cell["source"])

    imports = next((c for c in code if re.search(r"^\s*(import|from)\s", text(c), re.M)), None)
    explorers = [c for c in code if "conv_explorer(" in text(c)]
    assert explorers, f"{source.relative_to(REPO)} has no cell calling conv_explorer()"
    cells = [imports] if imports is not None and imports not in explorers else []
    cells += explorers
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8],
                   "metadata": {}, "outputs": [], "source": text(c)} for c in cells],
        "metadata": {key: nb["metadata"][key] for key in ("kernelspec", "language_info")
                     if key in nb["metadata"]},
        "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary folder with copies of the notebooks the tests open."""
    base = tmp_path_factory.mktemp("browser")
    root = base / "course"
    root.mkdir()
    (root / "explorer.ipynb").write_text(json.dumps(explorer_notebook(), indent=1))
    for folder, notebook in (("release", VALIDATE_RELEASE), ("solution", VALIDATE_SOLUTION)):
        if notebook.exists():
            (root / folder).mkdir()
            shutil.copy(notebook, root / folder / notebook.name)
    # The Validate button loads nbgrader_config.py from the server's working directory, as with
    # `make lab` started at the repository root.
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    server = LabServer(root, home=base / "home")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def open_notebook(page, lab, notebook):
    """Open ``notebook`` in a fresh JupyterLab workspace and wait for an idle kernel."""
    workspace = "test-" + uuid.uuid4().hex[:8]     # no tabs restored from another test
    page.goto(lab.lab_url(notebook).replace("/lab/tree/", f"/lab/workspaces/{workspace}/tree/"))
    panel = page.locator(".jp-NotebookPanel").filter(has=page.locator(".jp-Notebook"))
    panel.first.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    lab.wait_for_idle_kernel(notebook)
    return panel.first


# ----------------------------------------------------------------------------- part 1: explorer

def expected_view(stride, padding, out=CURRENT_CELL):
    """What the explorer must show, from the slide's formulas (not from cnnlab.widgets)."""
    (h, w), (kh, kw), d = LECTURE_A.shape, LECTURE_K.shape, 1
    numerator = h + 2 * padding - d * (kh - 1) - 1
    h_out = numerator // stride + 1                      # floor((H + 2P − D(K−1) − 1)/S) + 1
    w_out = (w + 2 * padding - d * (kw - 1) - 1) // stride + 1
    # tap (i, j) of output cell (r, c) reads input (r·S + i·D − P, c·S + j·D − P)
    window = {(out[0] * stride + i * d - padding, out[1] * stride + j * d - padding): (i, j)
              for i in range(kh) for j in range(kw)}
    padded = np.pad(LECTURE_A, padding)
    value = sum(padded[r + padding, c + padding] * LECTURE_K[tap] for (r, c), tap in window.items())
    return {"numerator": numerator, "shape": (h_out, w_out), "window": set(window),
            "value": value, "values": {cell: (LECTURE_A[cell] if 0 <= cell[0] < h and 0 <= cell[1] < w
                                              else 0.0) for cell in window}}


def number_text(value):
    return str(int(value)).replace("-", "\u2212") if value == int(value) else f"{value:.4g}"


def read_explorer(explorer):
    """The formula lines, window cells, current output cell and output shape shown in the page."""
    formula = explorer.locator(".cnnlab-formula").inner_text().strip().splitlines()
    window = explorer.locator("table.cnnlab-input td.cnnlab-window").evaluate_all(
        """els => els.map(e => ({row: +e.dataset.inRow, col: +e.dataset.inCol,
                                 text: e.textContent.trim(), pad: e.classList.contains('cnnlab-pad')}))""")
    current = explorer.locator("table.cnnlab-output td.cnnlab-current").evaluate_all(
        "els => els.map(e => [+e.dataset.row, +e.dataset.col])")
    rows = explorer.locator("table.cnnlab-output tr").evaluate_all(
        "trs => trs.map(tr => tr.querySelectorAll('td').length)")
    arithmetic = explorer.locator(".cnnlab-arithmetic").inner_text().strip()
    return {"formula": [line.strip() for line in formula if line.strip()], "window": window,
            "current": current, "rows": rows, "arithmetic": arithmetic}


def check_view(view, stride, padding):
    """Assert the page shows what the formulas give for (stride, padding)."""
    exp = expected_view(stride, padding)
    h_out, w_out = exp["shape"]
    assert len(view["formula"]) == 2, view["formula"]
    for line, name, size in zip(view["formula"], "HW", (h_out, w_out)):
        assert line.startswith(f"{name}_out = "), line
        assert f"/{stride}) + 1" in line, line
        assert f"2·{padding}" in line, line
        assert line.endswith(f"= floor({exp['numerator']}/{stride}) + 1 = {size}"), line
    assert view["rows"] == [w_out] * h_out, f"output table is not {h_out}x{w_out}: {view['rows']}"
    assert view["current"] == [list(CURRENT_CELL)], view["current"]
    shown = {(c["row"], c["col"]) for c in view["window"]}
    assert shown == exp["window"], f"window cells {sorted(shown)}, expected {sorted(exp['window'])}"
    for cell in view["window"]:
        key = (cell["row"], cell["col"])
        assert cell["text"] == number_text(exp["values"][key]), cell
        h, w = LECTURE_A.shape
        assert cell["pad"] == (not (0 <= key[0] < h and 0 <= key[1] < w)), cell
    assert view["arithmetic"].startswith(f"Z[{CURRENT_CELL[0]},{CURRENT_CELL[1]}] = "), view["arithmetic"]
    assert view["arithmetic"].endswith(f"= {number_text(exp['value'])}"), view["arithmetic"]
    return shown


def press_slider(page, explorer, name, key="ArrowRight"):
    """Focus the handle of slider ``name`` and press ``key``."""
    slider = explorer.locator(".widget-slider", has=page.locator(f"label:text-is('{name}')"))
    handle = slider.locator(".noUi-handle")
    assert handle.count() == 1, f"expected one '{name}' slider handle, found {handle.count()}"
    handle.focus()
    page.keyboard.press(key)
    return slider


def test_conv_explorer_sliders_update_formula_and_window(page, lab, artifacts):
    open_notebook(page, lab, "explorer.ipynb")
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')")).click()

    explorer = page.locator(".cnnlab-conv-explorer")
    explorer.locator(".cnnlab-formula").wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    assert explorer.count() == 1
    formula = explorer.locator(".cnnlab-formula")
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=str(artifacts / "explorer_1_initial.png"))

    # stride 1, padding 0: H_out = floor((4 + 2·0 − 1·(2−1) − 1)/1) + 1 = floor(2/1) + 1 = 3
    start = read_explorer(explorer)
    assert "/1) + 1" in start["formula"][0] and start["formula"][0].endswith("= 3"), start["formula"]
    window_start = check_view(start, stride=1, padding=0)
    assert window_start == {(0, 1), (0, 2), (1, 1), (1, 2)}

    # stride 1 -> 2: floor(2/2) + 1 = 2, the window of Z[0,1] jumps two columns right
    slider = press_slider(page, explorer, "stride")
    from playwright.sync_api import expect
    expect(slider.locator(".widget-readout")).to_have_text("2", timeout=UI_TIMEOUT_MS)
    expect(formula).to_contain_text("/2) + 1", timeout=UI_TIMEOUT_MS)
    explorer.screenshot(path=str(artifacts / "explorer_2_stride2.png"))
    strided = read_explorer(explorer)
    assert strided["formula"] != start["formula"]
    assert "/1) + 1" not in " ".join(strided["formula"])
    assert strided["formula"][0].endswith("floor(2/2) + 1 = 2"), strided["formula"]
    window_strided = check_view(strided, stride=2, padding=0)
    assert window_strided == {(0, 2), (0, 3), (1, 2), (1, 3)}
    assert window_strided != window_start

    # padding 0 -> 1 (stride 2): floor(4/2) + 1 = 3, the window now covers the top padding row
    slider = press_slider(page, explorer, "padding")
    expect(slider.locator(".widget-readout")).to_have_text("1", timeout=UI_TIMEOUT_MS)
    expect(formula).to_contain_text("2·1", timeout=UI_TIMEOUT_MS)
    explorer.screenshot(path=str(artifacts / "explorer_3_stride2_padding1.png"))
    padded = read_explorer(explorer)
    assert padded["formula"][0].endswith("floor(4/2) + 1 = 3"), padded["formula"]
    window_padded = check_view(padded, stride=2, padding=1)
    assert window_padded == {(-1, 1), (-1, 2), (0, 1), (0, 2)}
    assert any(c["row"] == -1 and c["pad"] for c in padded["window"])
    page.screenshot(path=str(artifacts / "explorer_4_page.png"))


# ----------------------------------------------------------------------------- part 2: Validate

def graded_cells(notebook):
    nb = json.loads(Path(notebook).read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"
            and c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def click_validate(page, lab, notebook, artifacts, name):
    """Open ``notebook``, press Validate, wait for the results dialog; return the dialog."""
    from playwright.sync_api import expect
    panel = open_notebook(page, lab, notebook)
    button = panel.locator(".jp-Toolbar .validate-button").first
    expect(button).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / f"validate_{name}_1_opened.png"))
    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible", timeout=VALIDATE_TIMEOUT_MS)
    page.screenshot(path=str(artifacts / f"validate_{name}_2_dialog.png"))
    assert dialog.locator("#validation-message").count() == 1, \
        f"nbgrader showed a dialog without validation results: {dialog.inner_text()[:2000]}"
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text("Validation Results")
    return dialog


def close_dialog(page, dialog):
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached", timeout=UI_TIMEOUT_MS)


def test_validate_button_fails_release_and_passes_solution(page, lab, artifacts):
    if not VALIDATE_RELEASE.exists():
        pytest.skip(f"student release not found: {VALIDATE_RELEASE}")
    release = f"release/{VALIDATE_RELEASE.name}"
    dialog = click_validate(page, lab, release, artifacts, "release")
    message = dialog.locator("#validation-message")
    text = message.inner_text()
    assert "validation-failed" in (message.get_attribute("class") or ""), text[:2000]
    assert "NotImplementedError" in text, text[:2000]
    assert "Success!" not in text
    failed = text.count("The following cell failed:")
    assert failed == len(graded_cells(VALIDATE_RELEASE)), \
        f"{failed} failed cells reported, the release has {len(graded_cells(VALIDATE_RELEASE))} test cells"
    close_dialog(page, dialog)

    if not VALIDATE_SOLUTION.exists():
        return
    solution = f"solution/{VALIDATE_SOLUTION.name}"
    dialog = click_validate(page, lab, solution, artifacts, "solution")
    message = dialog.locator("#validation-message")
    text = message.inner_text()
    assert "validation-success" in (message.get_attribute("class") or ""), text[:2000]
    assert "Success! Your notebook passes all the tests." in text
    close_dialog(page, dialog)
