"""Clean what a student controls in a submission before it is graded and shown.

**Duplicated cells.** Copying a cell in JupyterLab copies its nbgrader metadata, grade id included.
nbgrader's ``DeduplicateIds`` then empties the metadata of all but the last copy, and with
``OverwriteCells.add_missing_cells`` the empty metadata makes autograde fail on that submission
(``KeyError: 'grade_id'``). :class:`DropDuplicateIds` removes it instead, so the submission is graded.

**HTML.** The graded notebook is shown to an instructor and to the student.

The Formgrader shows autograded notebooks in the instructor's browser, on the Formgrader's own
origin, and ``nbgrader generate_feedback`` turns them into pages. Whatever HTML a notebook carries
is rendered there as it is. A ``<script>``, an ``onerror=`` attribute, a ``javascript:`` link or an
SVG image with a script in it would run with the instructor's session, which can change grades
through the Formgrader's API.

Two places hold HTML a student controls:

* the **outputs of every code cell**: the student's kernel produced all of them (an object with a
  ``_repr_html_`` method is enough to output HTML);
* **markdown and raw cells** the student wrote or edited (free-text answers, added cells).

Both are cleaned with bleach: tags outside a list of harmless formatting tags are escaped (shown as
text, so the instructor sees what was attempted), every ``on*`` attribute and every link target is
dropped, images keep only ``data:`` sources, CSS keeps only properties that load nothing, and
output types that can carry scripts (JavaScript, SVG, widget views) are removed. Cleaning the
markdown *text* is not enough, because markdown syntax makes links and images when it is rendered:
the student's markdown (cells and ``text/markdown`` outputs) is rendered here and kept as cleaned
HTML. Output metadata keeps only numeric image sizes (templates write them into ``<img>`` tags
unquoted). A markdown cell whose text is exactly one of the instructor's (the gradebook's source
cells, the released notebook) stays as it is.
"""

import html

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import DeduplicateIds
from traitlets import Bool

#: Formatting that cannot run code: text, lists, tables, headings, code, details.
TAGS = sorted(
    set(bleach.ALLOWED_TAGS)
    | {"p", "div", "span", "br", "hr", "pre", "small", "sub", "sup", "s", "u", "del", "ins", "mark", "kbd"}
    | {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "details", "summary", "img"}
)
#: No event handlers, no link targets; images only from data: URIs (no request leaves the page).
ATTRIBUTES = {
    "*": ["class", "title", "style"],
    "a": ["title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}
PROTOCOLS = ["data"]
#: CSS that only changes how text and tables look: nothing that loads a url() (cursor, background,
#: font), nothing that moves an element over the page (position, display, float).
CSS_PROPERTIES = [
    "text-align", "vertical-align", "color", "background-color", "font-weight", "font-style",
    "font-size", "text-decoration", "white-space", "border-collapse", "letter-spacing", "line-height",
]


class SanitizeSubmissionHTML(SanitizeHTML):
    """An autograde preprocessor: escapes scripts in outputs and in the student's markdown.

    Runs after the notebook executed (``nbgrader_config.py`` lists it after ``LimitOutput``). A
    markdown cell is left alone only when its text is exactly one of the instructor's: a source
    cell in the gradebook or a markdown cell of the released notebook. Cell metadata is not
    trusted: a student can copy ``"locked": true`` into a cell of their own.
    """

    enabled = Bool(True, help="nbconvert's SanitizeHTML is off by default; in autograde it always runs").tag(
        config=True
    )

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self._instructor_markdown = instructor_markdown(self.config, info)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            if cell.source not in self._instructor_markdown:
                cell.source = self.markdown_as_safe_html(cell.source, cell.pop("attachments", {}))
            return cell, resources
        if cell.cell_type == "code":
            for output in cell.outputs:
                if "metadata" in output:
                    output.metadata = safe_output_metadata(output.metadata)
                data = output.get("data", {})
                if "text/markdown" in data:  # rendered like a markdown cell: give it the same treatment
                    markdown = data.pop("text/markdown")
                    data.setdefault("text/html", self.markdown_as_safe_html(markdown, {}))
        return super().preprocess_cell(cell, resources, cell_index)

    def markdown_as_safe_html(self, source, attachments):
        """The student's markdown rendered here, cleaned, and kept as one raw HTML block.

        Cleaning only the markdown text is not enough: markdown syntax itself makes links
        (``[x](javascript:...)``) and remote images (``![](https://...)``) when the Formgrader or
        the feedback page renders it. So it is rendered now (formulas stay as ``$...$`` text, for
        MathJax), the HTML is cleaned, and the result is written on a single line inside a ``<div>``:
        a markdown renderer passes such a block through untouched. Attachments become ``data:``
        images; a reference to a missing one shows the cell's text instead.
        """
        from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

        source = source if isinstance(source, str) else "".join(source)
        try:
            renderer = IPythonRenderer(escape=False, allow_harmful_protocols=False, attachments=attachments)
            rendered = MarkdownWithMath(renderer=renderer).render(source)
        except Exception:  # e.g. an attachment that is not there: show the text itself
            rendered = f"<pre>{html.escape(source)}</pre>"
        clean = self.sanitize_html_tags(rendered).strip()
        return '<div class="cnnlab-student-markdown">' + clean.replace("\r", "").replace("\n", "&#10;") + "</div>"

    def sanitize_html_tags(self, html_str):
        """``html_str`` with every tag outside :data:`TAGS` escaped and unsafe attributes dropped."""
        return bleach.clean(
            html_str,
            tags=TAGS,
            attributes=ATTRIBUTES,
            protocols=PROTOCOLS,
            strip=False,
            strip_comments=True,
            css_sanitizer=CSSSanitizer(allowed_css_properties=CSS_PROPERTIES),
        )


def safe_output_metadata(metadata):
    """Output metadata with only numeric image ``width``/``height`` kept.

    Templates write these into ``<img width=... height=...>`` without quotes, so a value such as
    ``"1 onerror=..."`` would add attributes; ``filenames`` would become an image's remote source.
    """
    clean = {}
    for mimetype, values in metadata.items():
        if not isinstance(values, dict):
            continue
        kept = {key: values[key] for key in ("width", "height") if _is_size(values.get(key))}
        if kept:
            clean[mimetype] = kept
    return clean


def _is_size(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value >= 0
    return isinstance(value, str) and value.isdigit()


def instructor_markdown(config, info):
    """The texts of the instructor's markdown cells for one notebook: gradebook and release."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    from cnnlab.course import audit

    texts = set()
    with Gradebook(info["db_url"]) as gb:
        for cell in gb.find_notebook(info["notebook"], info["assignment"]).source_cells:
            if cell.cell_type == "markdown":
                texts.add(cell.source)
    coursedir = CourseDirectory(config=config)
    release = coursedir.format_path(coursedir.release_directory, ".", info["assignment"])
    texts.update(audit.release_sources(release, info["notebook"], cell_type="markdown"))
    return texts


class DropDuplicateIds(DeduplicateIds):
    """nbgrader's ``DeduplicateIds``, removing a duplicate's nbgrader metadata rather than emptying it.

    The last copy of a grade id keeps it (as in nbgrader); the earlier copies become plain cells.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
