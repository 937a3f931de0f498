"""Feedback HTML that a student can read offline: formulas as MathML, long lines wrapped.

nbgrader's feedback page (``nbgrader generate_feedback``) leaves every formula as TeX text
(``$\\lfloor (n + 2p - k)/s \\rfloor + 1$``) for MathJax, which the page loads from a CDN. Opened
without a network, or where the CDN is blocked, a student sees raw TeX. And an output line such
as a check's "Likely mistake: ..." runs off the right edge of the page.

:class:`OfflineFeedbackExporter` is nbgrader's exporter (``HTMLExporter``) with two changes:

* markdown is rendered with the formulas converted to MathML at feedback time
  (``latex2mathml``), which browsers draw natively; the scripts that would come from a
  CDN (MathJax; require.js and mermaid in nbconvert's other templates) are removed, so the
  page loads nothing from the network;
* a style sheet wraps long lines of code and output instead of widening the page.

``nbgrader_config.py`` selects it::

    c.GenerateFeedback.exporter_class = "cnnlab.course.feedback_html.OfflineFeedbackExporter"

A formula ``latex2mathml`` cannot convert is shown as its TeX source in a ``<code>`` element
(and logged), never dropped.
"""

import html
import logging
import re

import jinja2
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

log = logging.getLogger(__name__)

WRAP_CSS = """
/* cnnlab (feedback_html.py): long lines wrap instead of running off the page */
div.input_area pre, div.output_area pre, div.output_subarea pre, .rendered_html pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
div.output_subarea { overflow-x: auto; }
math[display="block"] { display: block; margin: 0.6em 0; overflow-x: auto; max-width: 100%; }
code.tex-source { white-space: pre-wrap; }
"""

SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)


def needs_network(script):
    """True for a ``<script>`` element that loads code from the network or configures MathJax."""
    return bool(re.search(r"https?://|text/x-mathjax-config", script, re.IGNORECASE))


def tex_to_mathml(tex, display=False):
    """MathML for the TeX formula ``tex`` (without ``$`` delimiters).

    ``display=True`` gives a block formula (``$$...$$``), else an inline one. Returns the TeX
    source in a ``<code class="tex-source">`` element when it cannot be converted.
    """
    from latex2mathml.converter import convert

    tex = tex.strip()
    try:
        return convert(tex, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many exception types for unsupported TeX
        log.warning("feedback: formula left as TeX (%s: %s): %s", type(exc).__name__, exc, tex)
        delimiter = "$$" if display else "$"
        return f'<code class="tex-source">{html.escape(delimiter + tex + delimiter)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with ``$...$``, ``$$...$$`` and ``\\begin{env}`` as MathML."""

    def inline_math(self, body):
        return tex_to_mathml(body, display=False)

    def block_math(self, body):
        return tex_to_mathml(body, display=True)

    def latex_environment(self, name, body):
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


def make_offline(page):
    """``page`` (an HTML document) without scripts from the network (MathJax, require.js, ...)
    and with :data:`WRAP_CSS` in its head."""
    page = SCRIPT.sub(lambda match: "" if needs_network(match.group(0)) else match.group(0), page)
    style = f'<style type="text/css">{WRAP_CSS}</style>\n'
    if "</head>" in page:
        return page.replace("</head>", style + "</head>", 1)
    return style + page


class OfflineFeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter, producing pages that need no network (see the module)."""

    @jinja2.pass_context  # a Jinja filter that receives the template context (the cell)
    def markdown2html(self, context, source):
        """Markdown to HTML with the formulas as MathML (nbconvert's filter, another renderer)."""
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=path,
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = super().from_notebook_node(nb, resources, **kw)
        return make_offline(page), resources
