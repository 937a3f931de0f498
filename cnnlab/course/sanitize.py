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
import re

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
ATTRIBUTES = {  # no class: Bootstrap's classes (modal-backdrop, affix) can cover the whole page
    "*": ["title", "style"],
    "a": ["title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}
PROTOCOLS = ["data"]
#: Student markdown longer than this is shown as text, not parsed (mistune is slow on crafted input).
MAX_MARKDOWN_CHARS = 20_000
#: A colour/style code in terminal text: ``ESC [ parameters m``.
ANSI_SGR = re.compile(r"\x1b\[([0-9;]*)m")
#: MathJax commands that set CSS, classes, ids or links, or load extensions.
MATHJAX_STYLE = re.compile(r"\\(style|bbox|mmlToken|class|cssId|href|require|unicode)(?![A-Za-z])")
#: CSS that only changes how text and tables look: nothing that loads a url() (cursor, background,
#: font), nothing that moves or blows up an element over the page (position, display, sizes).
CSS_PROPERTIES = [
    "text-align", "vertical-align", "color", "background-color", "font-weight", "font-style",
    "text-decoration", "white-space", "border-collapse",
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
        nb.metadata = {key: nb.metadata[key] for key in ("kernelspec", "language_info") if key in nb.metadata}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        cell.metadata = safe_cell_metadata(cell)
        if cell.cell_type == "markdown":
            if cell.source not in self._instructor_markdown:
                cell.source = self.markdown_as_safe_html(cell.source, cell.pop("attachments", {}))
            return cell, resources
        if cell.cell_type == "code":
            for output in cell.outputs:
                self.clean_output(output)
        elif cell.cell_type == "raw":
            cell.source = without_style_commands(cell.source)
        return super().preprocess_cell(cell, resources, cell_index)

    def clean_output(self, output):
        """Text the page renders made safe before bleach sees the HTML (see the helpers below)."""
        if "metadata" in output:
            output.metadata = safe_output_metadata(output.metadata)
        if output.get("output_type") == "stream":
            output.text = without_broken_ansi(_text(output.get("text", "")))
        if output.get("output_type") == "error":
            output.ename = without_broken_ansi(_text(output.get("ename", "")))
            output.evalue = without_broken_ansi(_text(output.get("evalue", "")))
            output.traceback = [without_broken_ansi(_text(line)) for line in output.get("traceback", [])]
        data = output.get("data", {})
        for mimetype, value in list(data.items()):
            if not mimetype.startswith("text/"):
                continue
            if isinstance(value, list) and all(isinstance(line, str) for line in value):
                data[mimetype] = "".join(value)  # nbformat allows a list of lines
            elif not isinstance(value, str):
                del data[mimetype]
        if "text/plain" in data:
            data["text/plain"] = without_broken_ansi(data["text/plain"])
        for mimetype in ("text/html", "text/latex"):
            if mimetype in data:
                data[mimetype] = without_style_commands(data[mimetype])
        if "text/markdown" in data:  # rendered like a markdown cell: give it the same treatment
            markdown = data.pop("text/markdown")
            data.setdefault("text/html", self.markdown_as_safe_html(markdown, {}))

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

        source = without_style_commands(_text(source))
        if len(source) > MAX_MARKDOWN_CHARS:  # markdown parsing can take minutes on crafted text
            cut = html.escape(source[:MAX_MARKDOWN_CHARS])
            rendered = f"<pre>{cut}</pre><p>[cut: longer than {MAX_MARKDOWN_CHARS} characters]</p>"
        else:
            try:
                renderer = IPythonRenderer(escape=False, allow_harmful_protocols=False, attachments=attachments)
                rendered = MarkdownWithMath(renderer=renderer).render(source)
            except Exception:  # e.g. an attachment that is not there: show the text itself
                rendered = f"<pre>{html.escape(source)}</pre>"
        clean = without_style_commands(self.sanitize_html_tags(rendered).strip())
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


def safe_cell_metadata(cell):
    """Only the cell metadata grading needs: nbgrader's, tags, execution times (and a raw cell's type).

    Everything else can change how the page renders: ``transient.remove_source`` hides a cell
    (and its score box) from the instructor, a non-text ``magics_language`` or ``raw_mimetype``
    makes the template fail.
    """
    metadata = cell.get("metadata", {})
    kept = {key: metadata[key] for key in ("nbgrader", "execution") if isinstance(metadata.get(key), dict)}
    tags = metadata.get("tags")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
        kept["tags"] = tags
    if cell.get("cell_type") == "raw" and isinstance(metadata.get("raw_mimetype"), str):
        kept["raw_mimetype"] = metadata["raw_mimetype"]
    return kept


def without_broken_ansi(text):
    """``text`` without ANSI colour codes nbconvert cannot parse (``ESC[38m`` makes it raise and the
    whole page fail): an extended colour (38/48) must be followed by ``5;n`` or ``2;r;g;b``."""
    return ANSI_SGR.sub(lambda match: match.group(0) if _valid_sgr(match.group(1)) else "", text)


def _valid_sgr(parameters):
    numbers = [int(p) if p.isdigit() else 0 for p in parameters.split(";")] if parameters else [0]
    i = 0
    while i < len(numbers):
        if numbers[i] in (38, 48):
            if numbers[i + 1 : i + 2] == [5] and len(numbers) >= i + 3:
                i += 3
            elif numbers[i + 1 : i + 2] == [2] and len(numbers) >= i + 5:
                i += 5
            else:
                return False
        else:
            i += 1
    return True


def without_style_commands(text):
    """``text`` with MathJax's styling commands disarmed: ``\\style{cursor:url(...)}`` loads a
    remote image in the Formgrader, which typesets ``$...$`` in the student's text.

    The browser decodes character references before MathJax reads the text, so ``&#92;style`` and
    ``\\&#115;tyle`` are ``\\style`` too: those references are written out first (see below).
    """
    return MATHJAX_STYLE.sub(lambda match: "\\mathrm{" + match.group(1) + "}", written_out(text))


#: A character reference: ``&#92;``, ``&#x5c;``, ``&bsol;`` (the ``;`` is optional for some names).
CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")


def written_out(text):
    """``text`` with every character reference of a plain character replaced by the character.

    References to the characters that mean something in HTML markup (``< > & " '``) stay as they are,
    so the text's markup does not change; every other reference (letters, ``\\``, ``$``, ``{``) is what
    the browser will show anyway, and written out it can be checked.
    """

    def plain(match):
        character = html.unescape(match.group(0))
        if len(character) == 1 and character not in "<>&\"'" and character.isprintable():
            return character
        return match.group(0)

    return CHARACTER_REFERENCE.sub(plain, text)


def _text(value):
    return "".join(value) if isinstance(value, list) else value if isinstance(value, str) else str(value)


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
