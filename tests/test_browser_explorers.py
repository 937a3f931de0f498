"""The filter explorer of notebook 05 in a real browser (JupyterLab + Chromium via Playwright).

The notebook's own explorer cell (a 3×3 input of ones, the kernel 1..9, stride 2, transposed mode)
is run in JupyterLab, then driven like a student would: move the input cell with the keyboard,
switch to convolution, type a kernel entry. Each step is checked against numbers worked out here
from the formulas (the stamp of input (i, j) covers output rows i·S − P .. i·S − P + K − 1; the
output has S(H − 1) + K − 2P rows), not from cnnlab. Screenshots go to ``test-artifacts/browser/``.
Skipped without Chromium or the playwright package, like tests/test_browser.py.
"""

import json
import re
import uuid
from pathlib import Path

import pytest
from lab_server import LabServer
from test_browser import (  # noqa: F401  (browser and page are fixtures used by name)
    RENDER_TIMEOUT_MS,
    UI_TIMEOUT_MS,
    browser,
    open_notebook,
    page,
    press_slider,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
SOURCES = [REPO / "notebooks" / "05_backprop" / "05_backprop.ipynb",
           REPO / "solutions" / "05_backprop" / "05_backprop.ipynb"]
KERNEL = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]        # the cell's kernel, np.arange(1.0, 10).reshape(3, 3)


def explorer_notebook():
    """Notebook 05's first import cell and its ``filter_explorer`` cell, verbatim."""
    source = next((path for path in SOURCES if path.exists()), None)
    if source is None:
        pytest.skip(f"notebook 05 not found: {SOURCES[0]}")
    nb = json.loads(source.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    imports = next(text for text in code if re.search(r"^\s*import numpy", text, re.MULTILINE))
    explorer = [text for text in code if "filter_explorer(" in text]
    assert len(explorer) == 1, f"{source.name} should have one filter_explorer cell, found {len(explorer)}"
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8],
                       "metadata": {}, "outputs": [], "source": text} for text in (imports, explorer[0])],
            "metadata": {k: nb["metadata"][k] for k in ("kernelspec", "language_info") if k in nb["metadata"]},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-explorers")
    root = base / "course"
    root.mkdir()
    (root / "filter.ipynb").write_text(json.dumps(explorer_notebook(), indent=1))
    server = LabServer(root, home=base / "home")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def stamp(i, j, stride, padding, k=3):
    """Output block (r0, c0, r1, c1) that input (i, j) is spread over."""
    r0, c0 = i * stride - padding, j * stride - padding
    return f"{r0},{c0},{r0 + k - 1},{c0 + k - 1}"


def test_filter_explorer_transposed_stamps_then_convolution_with_a_typed_kernel(page, lab):  # noqa: F811
    from playwright.sync_api import expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    open_notebook(page, lab, "filter.ipynb")
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')")).click()

    explorer = page.locator(".cnnlab-filter-explorer")
    output = explorer.locator("img.cnnlab-filter-output")
    output.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=str(ARTIFACTS / "filter_1_transposed.png"))

    # transposed, 3x3 input, K = 3, S = 2, P = 0: the output is 2·(3 − 1) + 3 = 7 square
    assert "7×7" in output.get_attribute("alt")
    assert output.get_attribute("data-height") == "7" and output.get_attribute("data-width") == "7"
    assert output.get_attribute("data-spread-box") == stamp(0, 0, 2, 0)
    formula = explorer.locator(".cnnlab-formula")
    expect(formula).to_contain_text("2·(3 − 1) + 3 − 2·0 = 7")

    # select input (0, 1): its stamp moves two columns right
    slider = press_slider(page, explorer, "input col")
    expect(slider.locator(".widget-readout")).to_have_text("1", timeout=UI_TIMEOUT_MS)
    expect(output).to_have_attribute("data-spread-box", stamp(0, 1, 2, 0), timeout=UI_TIMEOUT_MS)
    values = explorer.locator("table.cnnlab-spread-values td")
    assert values.all_inner_texts() == [str(v) for row in KERNEL for v in row]     # X[0,1] = 1 times K
    explorer.screenshot(path=str(ARTIFACTS / "filter_2_transposed_input01.png"))

    # convolution: the 3x3 kernel fits once in the 3x3 input: 1x1 output, window = the whole input
    explorer.locator(".widget-toggle-button", has_text=re.compile(r"^convolution$")).click()
    expect(output).to_have_attribute("data-height", "1", timeout=UI_TIMEOUT_MS)
    inp = explorer.locator("img.cnnlab-filter-input")
    expect(inp).to_have_attribute("data-window-box", "0,0,2,2", timeout=UI_TIMEOUT_MS)
    arithmetic = explorer.locator(".cnnlab-arithmetic")
    expect(arithmetic).to_contain_text(f"= {sum(map(sum, KERNEL))}")                # 1 + 2 + ... + 9 = 45

    # type 5 into the kernel's top-left entry: 45 − 1 + 5 = 49
    entry = explorer.locator(".cnnlab-kernel-entry input").first
    entry.fill("5")
    entry.press("Enter")
    expect(arithmetic).to_contain_text("= 49", timeout=UI_TIMEOUT_MS)
    expect(explorer.locator("table.cnnlab-kernel td").first).to_have_text("5")
    explorer.screenshot(path=str(ARTIFACTS / "filter_3_convolution_typed_kernel.png"))
