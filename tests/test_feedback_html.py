"""Offline feedback pages (cnnlab/course/feedback_html.py): MathML formulas, no CDN, wrapped lines.

The last two tests grade a buggy submission of notebook 02 with the real ``nbgrader autograde`` and
``generate_feedback`` (this repository's nbgrader_config.py), then open the feedback page in
Chromium with the network cut off, check that the formulas are laid out as MathML and that no
line runs off the page, and save a screenshot to ``test-artifacts/feedback/``.
"""

import re
from pathlib import Path

import nbformat
import pytest

from cnnlab.course.feedback_html import OfflineFeedbackExporter, make_offline, tex_to_mathml
from course import REPO, autograde, make_course, nbgrader, read, replace_answer, solution_notebook, submit
from mutants import MUTANTS

ARTIFACTS = REPO / "test-artifacts" / "feedback"
ASSIGNMENT = "02_convolution_2d"
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*(?:src|href)=["']?(?:https?:)?//""", re.I)


def test_tex_becomes_inline_or_block_mathml():
    inline = tex_to_mathml(r"\frac{n + 2p - k}{s} + 1")
    assert inline.startswith("<math") and 'display="inline"' in inline and "<mfrac>" in inline
    block = tex_to_mathml(r"\sum_{i} x_i w_i")
    assert 'display="inline"' in block
    assert 'display="block"' in tex_to_mathml(r"\sum_{i} x_i w_i", display=True)
    assert "<msub><mo>&#x02211;</mo>" in block                 # the sum sign with its subscript
    assert "<msub><mi>x</mi><mi>i</mi></msub>" in block


def test_unconvertible_tex_is_shown_as_source_not_dropped():
    shown = tex_to_mathml(r"\frac{a}{", display=False)
    assert shown == r'<code class="tex-source">$\frac{a}{$</code>'


def markdown_notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(s) for s in sources])


def test_markdown_formulas_render_as_mathml_and_the_page_loads_nothing():
    exporter = OfflineFeedbackExporter(template_name="classic")
    page, _ = exporter.from_notebook_node(markdown_notebook(
        r"Output size $\lfloor (n + 2p - k)/s \rfloor + 1$ for $a < b$.",
        r"$$Z[i, j] = \sum_{u, v} K[u, v]\, A[i + u, j + v]$$",
        r"\begin{align} y &= x \\ z &= w \end{align}"))
    assert page.count("<math") == 4            # two inline, one $$ block, one environment
    assert len(re.findall(r'<math[^>]*display="block"', page)) == 2
    assert "$" not in re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)
    assert "white-space: pre-wrap" in page


def test_make_offline_keeps_inline_scripts():
    page = ('<html><head><script src="https://cdn.example/mathjax.js"></script>'
            '<script type="text/x-mathjax-config">MathJax.Hub.Config({})</script>'
            "<script>var local = 1;</script></head><body></body></html>")
    offline = make_offline(page)
    assert "cdn.example" not in offline and "MathJax.Hub" not in offline
    assert "<script>var local = 1;</script>" in offline and "pre-wrap" in offline


@pytest.mark.parametrize("notebook", sorted((REPO / "solutions").glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_every_formula_of_the_course_converts(notebook, caplog):
    page, _ = OfflineFeedbackExporter(template_name="classic").from_notebook_node(read(notebook))
    assert page.count("<math") > 0
    assert 'class="tex-source"' not in page, [r.message for r in caplog.records]


# ----------------------------------------------------------------------------- real nbgrader

@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory):
    """Feedback HTML for a submission of notebook 02 with a flipped kernel in ``correlate2d``."""
    course = make_course(tmp_path_factory.mktemp("feedback"), [ASSIGNMENT])
    diagnosis, source = next((d, s) for name, d, s in MUTANTS if name == "correlate2d" and d)
    solution = read(solution_notebook(ASSIGNMENT))
    grade_id = next(cell.metadata.nbgrader["grade_id"] for cell in solution.cells
                    if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
                    and "def correlate2d" in cell.source)
    submit(course, "student", ASSIGNMENT, replace_answer(solution, grade_id, source))
    autograde(course, ASSIGNMENT)
    nbgrader(["generate_feedback", ASSIGNMENT, "--force"], cwd=course)
    page = course / "feedback" / "student" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    return page, diagnosis


@pytest.mark.slow
def test_generated_feedback_needs_no_network(feedback_page):
    page, diagnosis = feedback_page
    text = page.read_text()
    assert diagnosis in text                          # the grading message made it to the page
    assert "cdnjs" not in text and not EXTERNAL.findall(text)
    assert text.count("<math") > 50                   # notebook 02's formulas
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", text, flags=re.S)
    assert not re.search(r"\$[^$<]*\\[a-z]+", body)   # no TeX command left between dollars


@pytest.mark.slow
@pytest.mark.browser
def test_feedback_renders_offline_in_chromium(feedback_page):
    from test_browser import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found: run `make browser-deps` (as root) to install it")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path, diagnosis = feedback_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 900, "height": 1200})
            context.route(re.compile(r"^(?!file:).*"), lambda route: (requested.append(route.request.url),
                                                                      route.abort()))
            tab = context.new_page()
            tab.goto(page_path.as_uri(), wait_until="load")
            layout = tab.evaluate("""() => {
                const maths = [...document.querySelectorAll('math')];
                const pres = [...document.querySelectorAll('pre')];
                const mistake = pres.find(p => p.textContent.includes(%r));
                return {
                    maths: maths.length,
                    laidOut: maths.filter(m => m.getBoundingClientRect().width > 0).length,
                    mfracHeight: Math.max(0, ...[...document.querySelectorAll('mfrac')]
                                                 .map(f => f.getBoundingClientRect().height)),
                    pageWidth: document.documentElement.scrollWidth,
                    viewWidth: window.innerWidth,
                    overflowingPres: pres.filter(p => p.scrollWidth > p.clientWidth + 1).length,
                    mistakeLines: mistake ? mistake.getClientRects().length : -1,
                    mistakeWraps: mistake ? getComputedStyle(mistake).whiteSpace : null,
                };
            }""" % diagnosis)
            target = tab.locator("pre", has_text=diagnosis).first
            target.scroll_into_view_if_needed()
            tab.screenshot(path=str(ARTIFACTS / "feedback-offline-mistake.png"))
            tab.evaluate("window.scrollTo(0, 0)")
            tab.screenshot(path=str(ARTIFACTS / "feedback-offline-top.png"))
        finally:
            browser.close()
    assert requested == []                             # nothing tried to reach the network
    assert layout["maths"] > 50 and layout["laidOut"] == layout["maths"], layout
    assert layout["mfracHeight"] > 20, layout          # fractions drawn stacked, not as raw text
    assert layout["pageWidth"] <= layout["viewWidth"], layout
    assert layout["overflowingPres"] == 0, layout
    assert layout["mistakeLines"] >= 1 and layout["mistakeWraps"] == "pre-wrap", layout
