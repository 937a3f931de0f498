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
dropped, images keep only ``data:`` sources, and output types that can carry scripts (JavaScript,
SVG, widget views) are removed. A markdown cell whose text is exactly one of the instructor's
(the gradebook's source cells, the released notebook) stays as it is.
"""

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
        if cell.cell_type == "markdown" and cell.source in self._instructor_markdown:
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)

    def sanitize_html_tags(self, html_str):
        """``html_str`` with every tag outside :data:`TAGS` escaped and unsafe attributes dropped."""
        return bleach.clean(
            html_str,
            tags=TAGS,
            attributes=ATTRIBUTES,
            protocols=PROTOCOLS,
            strip=False,
            strip_comments=True,
            css_sanitizer=CSSSanitizer(),
        )


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
