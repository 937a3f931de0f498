"""Read a submission's code the way a suspicious grader would.

:func:`audit_cell` parses one code cell (IPython syntax included: ``%magics`` and ``!shell`` lines are
translated to the Python they run) and lists every use of something the assignment's
:class:`~cnnlab.course.policy.Policy` forbids. The trusted executor calls it on each cell the student
wrote or changed and does **not run** a cell with findings (the cell gets an error output that names
the finding; the rest of the notebook is graded as usual). A scratch cell that compares with SciPy
costs nothing; an answer that calls the reference is not defined, so its tests fail.

``python -m cnnlab.course.audit [submitted/]`` prints the same findings for a whole class, read from
the submitted copies (files no grading kernel could ever write), plus a list of the techniques it
saw (stack frames, profile hooks, IPython hooks, ``gc``, ``ctypes``, subprocesses, file access).
"""

import argparse
import ast
import glob
import json
import os
import sys
from dataclasses import dataclass

from cnnlab.course import policy as P


@dataclass(frozen=True)
class Finding:
    """One forbidden construct: where it is and what it is."""

    line: int
    what: str

    def __str__(self):
        return f"line {self.line}: {self.what}"


def to_python(source):
    """The Python that IPython would run for ``source`` (magics and shell escapes made explicit)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _magic_call(node):
    """``("line"|"cell", name, args...)`` when ``node`` is ``get_ipython().run_*_magic(...)``."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("run_line_magic", "run_cell_magic")
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
        and node.func.value.func.id == "get_ipython"
    ):
        return None
    if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
        return None
    kind = "line" if node.func.attr == "run_line_magic" else "cell"
    return (kind, *[a.value for a in node.args])


def _why_not(module):
    """Why an import is refused, in the words the feedback uses."""
    if module.split(".")[0] in P.LIBRARY_PREFIXES:
        return ", a ready-made implementation (the exercise is to write it yourself)"
    return " (answers may import only NumPy, math and the standard helpers listed in the notebook)"


class _Auditor(ast.NodeVisitor):
    def __init__(self, policy, forbidden_names):
        self.policy = policy
        self.forbidden_names = forbidden_names
        self.findings = []

    def flag(self, node, what):
        self.findings.append(Finding(getattr(node, "lineno", 0), what))

    def visit_Import(self, node):
        for alias in node.names:
            if not P.import_allowed(alias.name, self.policy):
                self.flag(node, f"`import {alias.name}`{_why_not(alias.name)}")
            elif "." in alias.name and alias.asname is None and alias.name.split(".")[0] == "cnnlab":
                self.flag(
                    node,
                    f"`import {alias.name}` binds the whole `cnnlab` package: use "
                    f"`from {alias.name.rsplit('.', 1)[0]} import {alias.name.rsplit('.', 1)[1]}`",
                )
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if node.level or alias.name == "*" or alias.name.startswith("_"):
                self.flag(node, f"`from {module} import {alias.name}`")
            elif not (P.import_allowed(module, self.policy) or P.import_allowed(full, self.policy)):
                self.flag(node, f"`from {module} import {alias.name}`{_why_not(module)}")
            elif alias.name in self.policy.reference_attributes:
                self.flag(node, f"`from {module} import {alias.name}`, a ready-made implementation")
        self.generic_visit(node)

    def _visit_with_own_names(self, node, names):
        saved = self.forbidden_names
        self.forbidden_names = saved - set(names)
        self.generic_visit(node)
        self.forbidden_names = saved

    def visit_FunctionDef(self, node):
        self._check_annotation(getattr(node, "returns", None))
        for arg in ast.walk(node.args):
            if isinstance(arg, ast.arg):
                self._check_annotation(arg.annotation)
        # defaults and decorators are evaluated outside the function: the outer names apply there
        for outer in (
            node.args.defaults
            + [d for d in node.args.kw_defaults if d is not None]
            + getattr(node, "decorator_list", [])
        ):
            self.visit(outer)
        # parameters and every name the function assigns are its locals, never the library
        own = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        own |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        saved = self.forbidden_names
        self.forbidden_names = saved - own
        for inner in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(inner)
        self.forbidden_names = saved

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def _visit_comprehension(self, node):
        own = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        self._visit_with_own_names(node, own)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comprehension

    def visit_For(self, node):
        self.visit(node.iter)
        own = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        saved = self.forbidden_names
        self.forbidden_names = saved - own
        for child in [node.target] + node.body + node.orelse:
            self.visit(child)
        self.forbidden_names = saved

    visit_AsyncFor = visit_For

    def visit_Name(self, node):
        if node.id in P.FORBIDDEN_BUILTINS or node.id.startswith("__"):
            self.flag(node, f"`{node.id}`")
        elif node.id in self.forbidden_names and not isinstance(node.ctx, ast.Store):
            self.flag(node, f"`{node.id}` (the course's library: the exercise is to write it yourself)")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        name = node.attr
        if name.startswith("_") and name not in P.ALLOWED_DUNDERS:
            self.flag(node, f"the private attribute `.{name}`")
        elif name in P.FORBIDDEN_ATTRIBUTES or name in self.policy.extra_forbidden_attributes:
            self.flag(node, f"`.{name}`")
        elif name in self.policy.reference_attributes:
            self.flag(node, f"`.{name}`, a ready-made implementation (the exercise is to write it)")
        self.generic_visit(node)

    def _check_annotation(self, annotation):
        # typing.get_type_hints, functools.singledispatch, ... evaluate string annotations as code
        if annotation is not None and any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) for n in ast.walk(annotation)
        ):
            self.flag(annotation, "a string as a type annotation")

    def visit_AnnAssign(self, node):
        self._check_annotation(node.annotation)
        self.generic_visit(node)

    def visit_MatchClass(self, node):
        # `case object(correlate=f)` reads an attribute without an Attribute node
        for name in node.kwd_attrs:
            self.visit_Attribute(
                ast.Attribute(value=ast.Name("_", ast.Load()), attr=name, ctx=ast.Load(), lineno=node.lineno)
            )
        self.generic_visit(node)

    def visit_Call(self, node):
        magic = _magic_call(node)
        if magic is None:
            self.generic_visit(node)
            return
        kind, name, *rest = magic
        if name not in self.policy.magics or (kind == "cell" and name == "matplotlib"):
            self.flag(node, f"the IPython command `{'%' if kind == 'line' else '%%'}{name}`")
            return
        body = rest[-1] if rest else ""
        if kind == "line":
            body = _without_magic_options(body)
        try:
            ast.parse(to_python(body))
        except Exception:
            self.flag(node, f"a %{name} line that is not plain Python")
            return
        for finding in audit_source(body, self.policy, self.forbidden_names):
            self.findings.append(Finding(node.lineno, f"inside %{name}: {finding.what}"))


def _without_magic_options(line):
    """The statement of a ``%timeit``/``%time`` line without its options (``-n 10 -r3 f(x)`` -> ``f(x)``)."""
    words = line.split()
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option in ("-n", "-r", "-p") and words:  # the option's value as a separate word
            words.pop(0)
    return " ".join(words)


def audit_source(source, policy, forbidden_names=frozenset()):
    """Findings for one cell's source (IPython syntax allowed); [] when the cell is fine."""
    try:
        tree = ast.parse(to_python(source))
    except SyntaxError:
        return []  # it cannot run either: Python reports the syntax error in the cell
    except Exception as exc:  # IPython could not even translate it
        return [Finding(0, f"unreadable cell ({type(exc).__name__})")]
    auditor = _Auditor(policy, frozenset(forbidden_names))
    for statement in tree.body:  # in order: after `F = ...`, F is the student's own name
        auditor.visit(statement)
        auditor.forbidden_names = auditor.forbidden_names - set(_bound_names(statement))
    return auditor.findings


def rebound_names(source):
    """Names a cell binds at its top level (a student's own ``F = ...`` is theirs from then on)."""
    try:
        tree = ast.parse(to_python(source))
    except Exception:
        return set()
    return {name for node in tree.body for name in _bound_names(node)}


def _bound_names(node):
    """Names a statement binds (import aliases, assignment targets, defs)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.AnnAssign) and node.value is None:
        return []  # `F: object` only annotates: F is still what it was
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def library_names(instructor_sources, policy):
    """Names that the instructor's cells bind to the library (and aliases of them).

    An answer cell may not use them (``F.correlate2d``, ``models``, ``layer_table``, a helper the
    instructor wrote around the reference), except the assignment's ``allowed_library_names``.
    Arrays computed by instructor cells stay usable: a name bound by a call result is not tainted.
    """
    tainted = set()
    statements = []
    for source in instructor_sources:
        try:
            statements += ast.parse(to_python(source)).body
        except Exception:
            continue
    for node in statements:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in P.LIBRARY_PREFIXES:
                    tainted.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in P.LIBRARY_PREFIXES:
            if (node.module or "").startswith("cnnlab.plots") or (node.module or "").startswith("cnnlab.widgets"):
                continue  # drawing helpers: harmless, and students use them to look
            tainted.update(a.asname or a.name for a in node.names)
    changed = True
    while changed:  # aliases and helpers built on tainted names
        changed = False
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if not isinstance(node, (ast.Assign, ast.AnnAssign, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # a loop or `with` target holds values, not the library
            value = getattr(node, "value", None)
            uses = {n.id for n in ast.walk(node if value is None else value) if isinstance(n, ast.Name)}
            aliasing = (
                value is None
                or isinstance(value, (ast.Name, ast.Attribute, ast.Lambda))
                or (isinstance(value, ast.Call) and "partial" in ast.unparse(value.func))
            )
            if aliasing and uses & tainted:
                for name in _bound_names(node):
                    if name not in tainted:
                        tainted.add(name)
                        changed = True
    return frozenset(tainted - set(policy.allowed_library_names) - {"np", "plt", "math"})


# --------------------------------------------------------------------------
# The class report: python -m cnnlab.course.audit submitted/
# --------------------------------------------------------------------------

TECHNIQUES = {
    "stack frames": ("f_back", "f_globals", "f_locals", "tb_frame", "_getframe", "currentframe", "stack"),
    "profile/trace hooks": ("setprofile", "settrace", "addaudithook"),
    "IPython hooks": ("get_ipython", "set_custom_exc", "input_transformers", "register_magic", "events"),
    "garbage collector": ("gc", "get_objects", "get_referrers"),
    "ctypes": ("ctypes", "ctypeslib"),
    "subprocess / shell": ("subprocess", "system", "popen", "spawn", "fork", "getoutput"),
    "file access": ("open", "load", "fromfile", "read_text", "loadtxt", "Path"),
    "dynamic code": ("exec", "eval", "compile", "__import__", "importlib", "getattr"),
}


def techniques(findings):
    """The technique families a list of findings belongs to."""
    seen = set()
    for finding in findings:
        for family, words in TECHNIQUES.items():
            if any(
                f"`{w}" in finding.what
                or f".{w}`" in finding.what
                or f"`{w}`" in finding.what
                or f"import {w}" in finding.what
                for w in words
            ):
                seen.add(family)
    return sorted(seen)


def audit_notebook(path, assignment, release_sources=(), restored_ids=()):
    """``[(cell_index, [findings])]`` for the student-written code cells of one notebook file.

    Cells whose grade id is in ``restored_ids`` (the instructor's locked and graded cells) are
    skipped: nbgrader puts the instructor's source back before anything runs.
    """
    with open(path) as f:
        nb = json.load(f)
    policy = P.policy_for(assignment)
    instructor = set(release_sources)
    forbidden = library_names(instructor, policy)
    report = []
    for index, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or (meta.get("grade_id") in restored_ids and not meta.get("solution")):
            continue
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
        if source in instructor:
            continue
        found = audit_source(source, policy, forbidden)
        if found:
            report.append((index, found))
    return report


def _release_cells(release_folder, notebook, cell_type="code"):
    """Cells of ``cell_type`` in ``release_folder/<notebook>.ipynb`` (the assignment's released notebook)."""
    path = os.path.join(release_folder, f"{notebook}.ipynb")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [c for c in json.load(f)["cells"] if c["cell_type"] == cell_type]


def release_sources(release_folder, notebook, cell_type="code"):
    """Sources of the released notebook's cells of ``cell_type`` (the instructor's own code or text)."""
    return tuple(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in _release_cells(release_folder, notebook, cell_type)
    )


def restored_ids(release_folder, notebook):
    """Grade ids of the released notebook's locked or graded, non-answer cells."""
    ids = set()
    for cell in _release_cells(release_folder, notebook):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if (meta.get("locked") or meta.get("grade")) and not meta.get("solution"):
            ids.add(meta.get("grade_id"))
    return ids


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.course.audit", description="List forbidden constructs in submitted notebooks."
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default="submitted",
        help="submitted/ (or autograded/) of the course: <student>/<assignment>/*.ipynb",
    )
    parser.add_argument("--course", default=".", help="the course directory (for the released notebooks)")
    args = parser.parse_args(argv)
    hits = 0
    for path in sorted(glob.glob(os.path.join(args.folder, "*", "*", "*.ipynb"))):
        student = path.split(os.sep)[-3]
        assignment = path.split(os.sep)[-2]
        notebook = os.path.splitext(os.path.basename(path))[0]
        report = audit_notebook(
            path,
            assignment,
            release_sources(os.path.join(args.course, "notebooks", assignment), notebook),
            restored_ids(os.path.join(args.course, "notebooks", assignment), notebook),
        )
        for index, findings in report:
            hits += 1
            families = ", ".join(techniques(findings)) or "forbidden library use"
            print(f"{student}/{assignment} cell {index} [{families}]: " + "; ".join(map(str, findings)))
    print(f"{hits} cell(s) flagged" if hits else "nothing flagged")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
