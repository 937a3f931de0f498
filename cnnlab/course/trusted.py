"""Verdicts computed in the grader's process, never in the student's kernel.

:class:`TrustedExecute` replaces nbgrader's ``Execute`` step of ``nbgrader autograde``
(``nbgrader_config.py``). It walks the notebook like ``Execute`` does, with three differences:

1. **Graded test cells are not run in the kernel.** Their source is read from the gradebook (what the
   instructor wrote, whatever the submission contains), parsed into ``grading.check_<name>(...)``
   calls (the only statements a graded cell may hold), and each check runs *here*, with the
   references, expected values and hidden cases all in this process. Every bare name the test passes
   is resolved in the kernel by a probe (:mod:`cnnlab.course.remote`): a function becomes a
   :class:`~cnnlab.course.remote.RemoteFunction`, a value arrives as plain data. The cell's outputs are
   then *written by the grader*: ``✓`` on success, an error naming the mistake on failure, or a
   partial score (``CheckFailure.fraction``) as nbgrader's partial-credit number.
2. **Cells the student wrote or changed are audited first** (:mod:`cnnlab.course.audit`); a cell that
   uses something the assignment forbids is not run, and gets an error output saying why.
3. **A kernel that dies** (``os._exit``, memory cap) does not stop grading: the remaining cells are
   marked not run and the remaining tests fail with that reason.

The kernel itself is started by :class:`cnnlab.course.sandbox.SandboxKernelManager`.
"""

import ast
import os
import re
import time

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from cnnlab.course import audit, policy, remote

HIDDEN_MARKERS = re.compile(r"^\s*###\s*(BEGIN|END) HIDDEN TESTS\s*$", re.MULTILINE)

UNRESPONSIVE = "the kernel stopped responding (code that ignores the grader's interrupt)"


class UngradableTestCell(ValueError):
    """A graded cell whose source is not a list of ``grading.check_*`` calls (an authoring error)."""


def parse_test_cell(source):
    """``[(check_name, args, kwargs)]`` for a graded cell's source.

    Each argument is ``("name", identifier)`` for a bare name of the notebook or ``("const", value)``.
    Raises :class:`UngradableTestCell` for anything else.
    """
    try:
        tree = ast.parse(HIDDEN_MARKERS.sub("", source))
    except SyntaxError as exc:
        raise UngradableTestCell(f"syntax error: {exc}") from None
    calls = []
    for statement in tree.body:
        node = statement.value if isinstance(statement, ast.Expr) else None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
            and len(node.args) == 1
            and not node.keywords
        ):
            node = node.args[0]
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "grading"
            and node.func.attr.startswith("check_")
        ):
            raise UngradableTestCell(f"line {statement.lineno} is not a `grading.check_...(...)` call")
        calls.append(
            (node.func.attr, [_argument(a) for a in node.args], {k.arg: _argument(k.value) for k in node.keywords})
        )
    if not calls:
        raise UngradableTestCell("no `grading.check_...(...)` call")
    return calls


def _argument(node):
    if isinstance(node, ast.Name):
        return ("name", node.id)
    try:
        return ("const", ast.literal_eval(node))
    except ValueError:
        raise UngradableTestCell(f"argument `{ast.unparse(node)}` must be a name or a constant") from None


def _stream(text):
    return NotebookNode(output_type="stream", name="stdout", text=text if text.endswith("\n") else text + "\n")


def _error(ename, message):
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def _score(points):
    return NotebookNode(
        output_type="execute_result",
        execution_count=None,
        metadata={},
        data={"text/plain": repr(round(float(points), 4))},
    )


def _cell_source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


class TrustedExecute(Execute):
    """nbgrader's Execute step, with graded cells checked in this process (see the module docstring)."""

    probe_timeout = Integer(60, help="Seconds one call of a student's function may take at grading.").tag(config=True)
    notebook_budget = Integer(
        1800,
        help="Wall-clock seconds one notebook may use at grading; cells after "
        "that are not run (a notebook of sleeping cells cannot hold up "
        "the class).",
    ).tag(config=True)
    max_output_bytes = Integer(
        4 * 1024**2, help="Outputs one cell may send the grader, in bytes; the rest is dropped."
    ).tag(config=True)
    audit_cells = Bool(
        True,
        help="Audit the cells a student wrote and skip those that use forbidden "
        "tools (switch off only to test the other defences alone).",
    ).tag(config=True)

    # ------------------------------------------------------------------ set-up
    def preprocess(self, nb, resources, km=None):
        info = resources["nbgrader"]
        self._assignment = info["assignment"]
        self._policy = policy.policy_for(self._assignment)
        self._tests, self._points, instructor = self._read_gradebook(
            info["db_url"], info["assignment"], info["notebook"]
        )
        instructor |= set(self._release_sources(info["assignment"], info["notebook"]))
        self._instructor_sources = instructor
        self._forbidden_names = audit.library_names(instructor, self._policy)
        self._dead = self._links_in_submission(info["assignment"], info["student"])
        self._output_bytes, self._output_capped, self._in_probe = {}, set(), False
        self._ipc_locked = False
        self._skipped = {}  # name -> why the cell defining it was not run
        self._deadline = time.monotonic() + self.notebook_budget
        self._probe_defined = False
        self._probe_x = None
        if "torch" in self._policy.extra_imports:
            from cnnlab.grading.transfer import make_probe

            self._probe_x = make_probe()  # fresh: a network cannot be tuned to it
        return super().preprocess(nb, resources, km)

    def _read_gradebook(self, db_url, assignment, notebook):
        """Graded test sources and points by grade id, and every instructor cell source."""
        tests, points, sources = {}, {}, set()
        with Gradebook(db_url) as gb:
            nb = gb.find_notebook(notebook, assignment)
            for cell in nb.source_cells:
                sources.add(cell.source)
            for grade_cell in nb.grade_cells:
                source_cell = gb.find_source_cell(grade_cell.name, notebook, assignment)
                if grade_cell.cell_type == "code" and not _is_solution_cell(nb, grade_cell.name):
                    tests[grade_cell.name] = source_cell.source
                    points[grade_cell.name] = float(grade_cell.max_score)
        return tests, points, sources

    def _release_sources(self, assignment, notebook):
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        return audit.release_sources(coursedir.format_path(coursedir.release_directory, ".", assignment), notebook)

    def _links_in_submission(self, assignment, student):
        """A reason not to grade, when the submitted folder holds symbolic links (nbgrader follows
        them when it copies the submission: a link could bring a classmate's notebook or the
        solutions into this one), else None."""
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        folder = coursedir.format_path(coursedir.submitted_directory, student, assignment)
        links = [
            os.path.relpath(os.path.join(root, name), folder)
            for root, dirs, files in os.walk(folder)
            for name in dirs + files
            if os.path.islink(os.path.join(root, name))
        ]
        if not links:
            return None
        self.log.error("cnnlab: %s's submission of %s holds symbolic links: %s", student, assignment, links)
        return f"the submission holds symbolic links ({', '.join(links[:3])}); it was not graded"

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.assignment = self._assignment
        return km

    # ------------------------------------------------------------------ cells
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        started = time.perf_counter()
        try:
            return self._preprocess_code_cell(cell, resources, index)
        finally:
            self.log.debug("cnnlab: cell %d took %.2f s", index, time.perf_counter() - started)

    def _preprocess_code_cell(self, cell, resources, index):
        if not self._ipc_locked:  # the kernel is up and its sockets exist
            self._ipc_locked = True
            if hasattr(self.km, "lock_ipc_folder"):
                self.km.lock_ipc_folder()
        if not self._dead and time.monotonic() > self._deadline:
            self._dead = f"the notebook used up its {self.notebook_budget} s of grading time"
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if utils.is_grade(cell) and not utils.is_solution(cell) and grade_id in self._tests:
            self._grade(cell, index, grade_id)
            return cell, resources
        if self._dead:
            cell.outputs = [_error("NotRun", f"not run at grading: {self._dead}")]
            return cell, resources
        source = _cell_source(cell)
        if self.audit_cells and source not in self._instructor_sources:
            findings = audit.audit_source(source, self._policy, self._forbidden_names)
            if findings:
                listed = "; ".join(str(f) for f in findings[:5])
                for name in audit.rebound_names(source):
                    self._skipped[name] = f"the cell that defines it was not run at grading: it uses {listed}"
                cell.outputs = [
                    _error(
                        "NotRunAtGrading",
                        f"this cell was not run at grading because it uses {listed}. "
                        "Answers may use NumPy, math and their own functions only; "
                        "ask your instructor if you think this is a mistake.",
                    )
                ]
                return cell, resources
            # a name the student binds is theirs from here on (their own `F = ...` is not the library)
            self._forbidden_names = self._forbidden_names - audit.rebound_names(source)
        return self._run_in_kernel(cell, resources, index)

    def _run_in_kernel(self, cell, resources, index):
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        self._last_index = index
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead = "the kernel died (the notebook's code exited or ran out of memory)"
        except CellTimeoutError:
            if self._responsive():  # late output on a busy machine, not a stuck kernel
                cell.outputs = list(cell.get("outputs", [])) + [
                    _error("CellTimeoutError", "this cell did not finish within the grader's time limit")
                ]
                return cell, resources
            self._dead = UNRESPONSIVE
        cell.outputs = list(cell.get("outputs", [])) + [_error("GradingStopped", self._dead)]
        return cell, resources

    def _responsive(self, seconds=30):
        """True when the kernel still answers a trivial cell within ``seconds``."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        saved, saved_cell = self.timeout, self.nb.cells[self._last_index]
        self.timeout = seconds
        try:
            self.execute_cell(nbformat.v4.new_code_cell("pass"), self._last_index, store_history=False)
            return True
        except (CellTimeoutError, DeadKernelError):
            return False
        finally:
            self.timeout = saved
            self.nb.cells[self._last_index] = saved_cell

    # ------------------------------------------------------------------ outputs
    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output handler, with a byte budget per cell (a flood cannot exhaust the grader)."""
        import json as _json

        if self._in_probe:
            # Only the probe's answer and an error are read (and size-checked) by the grader itself;
            # whatever the student's code prints while the grader calls it is dropped unread, so a
            # function that prints hundreds of MB cannot fill the grader's memory.
            content = msg.get("content", {})
            answer = msg.get("msg_type") == "display_data" and remote.MIME in content.get("data", {})
            if answer or msg.get("msg_type") == "error":
                return super().output(outs, msg, display_id, cell_index)
            return None
        used = self._output_bytes.get(cell_index, 0) + len(_json.dumps(msg.get("content", {}), default=str))
        self._output_bytes[cell_index] = used
        if used > self.max_output_bytes:
            if cell_index not in self._output_capped:
                self._output_capped.add(cell_index)
                outs.append(_stream(f"[output beyond {self.max_output_bytes} bytes dropped by the grader]"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _forget_display_ids(self, index):
        """No later `update_display` may rewrite what the grader wrote into cell ``index``."""
        for cell_map in self._display_id_map.values():
            cell_map.pop(index, None)

    # ------------------------------------------------------------------ probes
    def _run_probe(self, code):
        """Execute ``code`` in the kernel as a throw-away cell; return its outputs.

        The first probe defines the kernel-side helper; later ones only call it (shorter cells), and
        one that finds the helper gone (the notebook deleted it) is sent again with its definition.
        """
        define = not self._probe_defined
        outputs = self._execute_probe(code if define else code.split("\n")[-1])
        self._probe_defined = True
        if not define and any(
            o.get("output_type") == "error" and "cnnlab_probe" in str(o.get("evalue")) for o in outputs
        ):
            outputs = self._execute_probe(code)
        return outputs

    def _execute_probe(self, code):
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        if self._dead:
            raise remote.RemoteError("DeadKernelError", self._dead)
        probe = nbformat.v4.new_code_cell(code)
        saved_timeout, saved_cell = self.timeout, self.nb.cells[self._probe_index]
        self.timeout = self.probe_timeout
        self._in_probe = True
        try:
            self.execute_cell(probe, self._probe_index, store_history=False)
        except DeadKernelError:
            self._dead = "the kernel died while running your function"
            raise remote.RemoteError("DeadKernelError", self._dead) from None
        except CellTimeoutError:  # not even the interrupt stopped it
            self._dead = UNRESPONSIVE
            raise remote.GradingTimeout("TimeoutError", self._dead) from None
        finally:
            self.timeout = saved_timeout
            self._in_probe = False
            self.nb.cells[self._probe_index] = saved_cell  # nbclient stores the cell it ran
        return probe.outputs

    # ------------------------------------------------------------------ verdicts
    def _grade(self, cell, index, grade_id):
        """Run the cell's checks here and write its outputs (nbgrader scores from them)."""
        self._probe_index = index
        max_points = self._points[grade_id]
        try:
            calls = parse_test_cell(self._tests[grade_id])
        except UngradableTestCell as exc:
            self.log.error("cnnlab: graded cell %s cannot be graded outside the kernel: %s", grade_id, exc)
            cell.outputs = [_error("UngradableTestCell", f"instructor: {exc}")]
            return
        fractions, lines = [], []
        for check_name, args, kwargs in calls:
            fraction, message = self._run_check(check_name, args, kwargs)
            fractions.append(fraction)
            lines.append(message)
        fraction = min(fractions)
        text = "\n\n".join(m for m in lines if m)
        if fraction >= 1.0:
            cell.outputs = [_stream(text or "✓ passed")]
        elif fraction > 0.0:
            cell.outputs = [_stream(text), _score(fraction * max_points)]
        else:
            cell.outputs = [_error("AssertionError", text or "failed")]
        cell.execution_count = None
        self._forget_display_ids(index)  # the probes ran at this index: their display ids end here

    def _run_check(self, check_name, args, kwargs):
        """``(fraction, message)`` for one ``grading.check_<name>(...)`` call."""
        from cnnlab import grading

        check = getattr(grading, check_name, None)
        if check is None:
            return 0.0, f"instructor: unknown check grading.{check_name}"
        try:
            values = [self._value(a) for a in args]
            named = {k: self._value(v) for k, v in kwargs.items()}
        except remote.RemoteError as exc:
            names = [v for kind, v in list(args) + list(kwargs.values()) if kind == "name"]
            why = [f"`{n}`: {self._skipped[n]}" for n in names if n in self._skipped]
            return 0.0, "\n".join([str(exc)] + why)
        except AssertionError as failure:  # e.g. a network that cannot be replayed
            return 0.0, str(failure)
        except Exception as exc:  # an answer the grader cannot read is a wrong answer
            return 0.0, f"the grader could not read your notebook's value ({type(exc).__name__}: {exc})"
        try:
            result = check(*values, **named)
        except AssertionError as failure:
            fraction = float(getattr(failure, "fraction", 0.0) or 0.0)
            return min(max(fraction, 0.0), 0.999), str(failure)
        except remote.RemoteError as exc:
            return 0.0, f"{exc.ename}: {exc}"
        except Exception as exc:  # a bug in a check must not crash the class's grading
            self.log.error("cnnlab: check %s failed with %r", check_name, exc)
            return 0.0, f"the grader could not finish this test ({type(exc).__name__}: {exc})"
        return 1.0, f"✓ {result!r}" if result is not None else "✓ passed"

    def _value(self, argument):
        kind, value = argument
        if kind == "const":
            return value
        return remote.resolve(value, self._run_probe, self._probe_x)


def _is_solution_cell(notebook, name):
    return any(cell.name == name for cell in notebook.solution_cells)
