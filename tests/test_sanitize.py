"""Student-controlled HTML is inert in autograded notebooks and feedback (cnnlab/course/sanitize.py).

The attack: the Formgrader renders autograded notebooks in the instructor's browser, so a script
in a cell's output or in a student's markdown would run with the instructor's session.
"""

import json
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnnlab.course import sanitize
from course import autograde, make_course, nbgrader, read, scores, solution_notebook, submit

PAYLOAD = '<script>alert("cnnlab-xss")</script>'
INSTRUCTOR_TEXT = "## 1. Sliding windows\n\n<details><summary>Hint</summary>a > b and `x < y`</details>"


def sanitized(nb, monkeypatch, instructor=(INSTRUCTOR_TEXT,)):
    monkeypatch.setattr(sanitize, "instructor_markdown", lambda config, info: set(instructor))
    resources = {"nbgrader": {"db_url": "unused", "assignment": "01", "notebook": "01", "student": "s"}}
    nb, _ = sanitize.SanitizeSubmissionHTML().preprocess(nb, resources)
    return nb


def html_output(html):
    return new_output("display_data", data={"text/html": html, "text/plain": "<object>"})


def test_scripts_in_outputs_are_escaped_and_script_types_removed(monkeypatch):
    cell = new_code_cell("x", outputs=[
        html_output(PAYLOAD + '<img src="x" onerror="alert(2)"><a href="javascript:alert(3)">link</a>'),
        new_output("display_data", data={"application/javascript": "alert(4)", "text/plain": "js"}),
        new_output("display_data", data={"image/svg+xml": "<svg onload='alert(5)'/>", "text/plain": "svg"}),
        new_output("execute_result", data={"text/html": "<table><tr><td style='text-align:right'>7</td></tr></table>",
                                           "text/plain": "table"}, execution_count=1),
        new_output("stream", name="stdout", text="<script> in a stream is text\n"),
    ])
    nb = sanitized(new_notebook(cells=[cell]), monkeypatch)
    first, js, svg, table, stream = nb.cells[0].outputs
    assert "<script>" not in first.data["text/html"] and "&lt;script&gt;" in first.data["text/html"]
    assert "onerror" not in first.data["text/html"] and "javascript:" not in first.data["text/html"]
    assert "application/javascript" not in js.data and js.data["text/plain"] == "js"
    assert "image/svg+xml" not in svg.data
    assert table.data["text/html"] == '<table><tbody><tr><td style="text-align:right;">7</td></tr></tbody></table>'
    assert stream.text == "<script> in a stream is text\n"  # rendered escaped anyway


def test_student_markdown_is_escaped_but_the_instructors_text_is_kept(monkeypatch):
    forged = new_markdown_cell(PAYLOAD, metadata={"nbgrader": {"locked": True, "grade_id": "md_x"}})
    cells = [new_markdown_cell(INSTRUCTOR_TEXT), new_markdown_cell("my answer " + PAYLOAD), forged,
             new_markdown_cell("a > b, **bold**, <b>fine</b>")]
    nb = sanitized(new_notebook(cells=cells), monkeypatch)
    assert nb.cells[0].source == INSTRUCTOR_TEXT  # exactly the instructor's: untouched
    assert "<script>" not in nb.cells[1].source and "&lt;script&gt;" in nb.cells[1].source
    assert "<script>" not in nb.cells[2].source  # "locked" metadata copied by a student is not trusted
    assert "<b>fine</b>" in nb.cells[3].source and "<strong>bold</strong>" in nb.cells[3].source


RED_TEAM_MARKDOWN = [  # found by a red team briefed only with the goal
    "[click](javascript:alert(1))",
    "[ref][r]\n\n[r]: javascript:alert(2)",
    "[ent](&#106;avascript:alert(3))",
    "[tab](<java\tscript:alert(4)>)",
    "![t](https://evil.example/track.png)",
    '$\\text{<span title="/tabindex=\'0\'/autofocus/onfocus=\'alert(5)\'">}$',
    "$\\style{background:url(https://evil.example/x)}{x}$",
    '<div style="cursor:url(https://evil.example/c.cur),auto">hover</div>',
    "![x](attachment:missing.png)",
]


def test_red_team_vectors_render_inert_in_formgrader_and_feedback(monkeypatch):
    from nbconvert import HTMLExporter

    from cnnlab.course.feedback_html import OfflineFeedbackExporter

    code = new_code_cell("Figure()", outputs=[
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "png"},
                   metadata={"image/png": {"width": "1 onerror=alert(6)", "height": 2}}),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "png"},
                   metadata={"filenames": {"image/png": "https://evil.example/t.gif"}}),
        new_output("display_data", data={"text/markdown": "[md](javascript:alert(7)) ![i](http://evil.example/i)",
                                         "text/plain": "md"}),
    ])
    cells = [new_markdown_cell(text) for text in RED_TEAM_MARKDOWN] + [code]
    nb = sanitized(new_notebook(cells=cells), monkeypatch)
    assert nb.cells[0].outputs if nb.cells[0].cell_type == "code" else True
    assert nb.cells[-1].outputs[0].metadata == {"image/png": {"height": 2}}
    for exporter in (HTMLExporter(), OfflineFeedbackExporter()):
        page, _ = exporter.from_notebook_node(nbformat.from_dict(json.loads(json.dumps(nb))))
        elements = Elements()
        elements.feed(page)
        assert not [a for a in elements.handlers if "alert" in a], type(exporter).__name__
        assert not [u for u in elements.urls if u.startswith("javascript:") or "evil.example" in u], elements.urls
        assert not [st for st in elements.styles if "url(" in st or "cursor" in st], elements.styles


@pytest.mark.slow
def test_autograde_and_feedback_carry_no_student_script(tmp_path):
    assignment = "01_convolution_1d"
    course = make_course(tmp_path, [assignment])
    nb = read(solution_notebook(assignment))
    locked_md = next(c for c in nb.cells if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("locked"))
    nb.cells.append(new_code_cell(
        "class Fancy:\n"
        "    def _repr_html_(self):\n"
        f"        return '{PAYLOAD}<img src=\"x\" onerror=\"alert(2)\">'\n\n"
        "Fancy()"))
    nb.cells.append(new_markdown_cell("My answer. " + PAYLOAD))
    nb.cells.append(new_markdown_cell(locked_md.source + PAYLOAD, metadata=json.loads(json.dumps(locked_md.metadata))))
    submit(course, "mallory", assignment, nb)
    autograde(course, assignment)

    graded_path = course / "autograded" / "mallory" / assignment / f"{assignment}.ipynb"
    graded = nbformat.read(str(graded_path), as_version=4)
    shown = [c.source for c in graded.cells if c.cell_type == "markdown"]  # rendered as HTML; code is not
    shown += [json.dumps(o.get("data", {})) for c in graded.cells if c.cell_type == "code" for o in c.outputs]
    assert any("&lt;script&gt;" in text for text in shown), "no HTML output was produced: nothing was tested"
    assert not [text for text in shown if "<script>" in text or "onerror" in text]
    assert locked_md.source in [c.source for c in graded.cells if c.cell_type == "markdown"]  # untouched
    score, max_score, _ = scores(course, assignment)["mallory"]
    assert score == max_score  # cleaning outputs changes no grade

    nbgrader(["generate_feedback", assignment, "--force"], cwd=course)
    page = (course / "feedback" / "mallory" / assignment / f"{assignment}.html").read_text()
    elements = Elements()
    elements.feed(page)
    assert not [text for text in elements.scripts if "cnnlab-xss" in text]
    assert not [attrs for attrs in elements.handlers if "alert" in attrs]


class Elements(HTMLParser):
    """The page as a browser sees it: its scripts' text, event handlers, link/image targets, styles."""

    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.urls, self.styles, self._in_script = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.handlers += [value or "" for name, value in attrs if name.startswith("on")]
        # browsers drop tabs and newlines inside URLs, and ignore case in the scheme
        self.urls += ["".join((value or "").split()).lower() for name, value in attrs
                      if name in ("href", "src", "xlink:href", "action", "formaction")]
        self.styles += [value or "" for name, value in attrs if name == "style"]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_second_red_team_vectors_neither_load_hide_nor_break_the_page(monkeypatch):
    import time

    from nbconvert import HTMLExporter
    from nbformat.v4 import new_raw_cell

    from cnnlab.course.feedback_html import OfflineFeedbackExporter

    broken_colour = "\x1b[38m"
    cells = [
        new_markdown_cell("Answer: $\\style{cursor:url(https://evil.example/c.png),auto}{O(n)}$"),
        new_markdown_cell('<div class="modal-backdrop" style="background-color: white">All tests passed.</div>'),
        new_markdown_cell("hidden answer", metadata={"transient": {"remove_source": True}}),
        new_markdown_cell("\\begin{a}\n" * 5000),
        new_raw_cell("raw", metadata={"raw_mimetype": 5}),
        new_code_cell("visible_source = 1", metadata={"magics_language": 5, "transient": {"remove_source": True}},
                      outputs=[
            new_output("stream", name="stdout", text=f"x{broken_colour}y\n"),
            new_output("error", ename="ValueError", evalue=broken_colour, traceback=[broken_colour + "boom"]),
            new_output("display_data", data={"text/plain": broken_colour, "text/html": ["<b>", "x</b>"],
                                             "text/latex": "$\\style{cursor:url(https://evil.example/l)}{x}$"}),
        ]),
    ]
    start = time.perf_counter()
    nb = sanitized(new_notebook(cells=cells), monkeypatch)
    assert time.perf_counter() - start < 10, "crafted markdown must not stall the grader"
    assert nb.cells[-1].outputs[2].data["text/html"] == "<b>x</b>"
    for exporter in (HTMLExporter(), HTMLExporter(template_name="classic"), OfflineFeedbackExporter()):
        page, _ = exporter.from_notebook_node(nbformat.from_dict(json.loads(json.dumps(nb))))  # does not raise
        assert "\\style" not in page and "modal-backdrop" not in page.split("</style>")[-1]
        assert "hidden answer" in page and "visible_source" in page  # nothing hidden from the instructor


def test_mathjax_commands_hidden_in_character_references_are_disarmed(monkeypatch):
    """Third red team: the browser decodes ``&#92;`` to a backslash before MathJax reads the page."""
    import html as html_module

    from nbconvert import HTMLExporter

    from cnnlab.course.feedback_html import OfflineFeedbackExporter

    cells = [
        new_markdown_cell("My answer: &#36;&#92;style{cursor:url(http&#58;//evil.example/md.png),auto}{\\text{hover}}"
                          "&#36; and &#36;&#92;href{http&#58;//evil.example/phish}{\\text{click}}&#36; &bsol;cssId{x}{y}"),
        new_code_cell("Note()", outputs=[new_output("display_data", data={
            "text/html": "<p>$\\&#115;tyle{cursor:url(http&#58;//evil.example/out.png),auto}{\\text{hover}}$ "
                         "$&#x5C;&#x68;ref{http://evil.example/p}{x}$</p>",
            "text/latex": "$&#92;class{x}{y}$"})]),
    ]
    nb = sanitized(new_notebook(cells=cells), monkeypatch)
    for exporter in (HTMLExporter(), HTMLExporter(template_name="classic"), OfflineFeedbackExporter()):
        page, _ = exporter.from_notebook_node(nbformat.from_dict(json.loads(json.dumps(nb))))
        shown = html_module.unescape(html_module.unescape(page))  # what MathJax reads, however often encoded
        for command in ("\\style", "\\href", "\\cssId", "\\class"):
            assert command not in shown, command
        assert "hover" in shown and "click" in shown  # the text itself is still there
