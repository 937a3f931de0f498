"""Keep hidden tests hidden in the feedback students receive.

nbgrader's ``ClearHiddenTests`` removes the hidden region from a test cell's
*source*, but when the cell failed, IPython's traceback in the cell's *output*
quotes the source lines around the failing call, hidden ones included. This
preprocessor runs first (see ``nbgrader_config.py``) and reduces every error
in a cell holding hidden tests to its last line, ``AssertionError: <message>``.
The message is where the grading checks put their explanation, so nothing a
student needs is lost.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"


class HideHiddenTestTracebacks(NbGraderPreprocessor):  # nbgrader's base: enabled by default
    """Replace tracebacks in hidden-test cells with the exception's name and message."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
