"""The one check engine: cases -> reference -> student's result -> comparison -> known mistakes.

Every exercise check of the notebooks is written as a list of :class:`Case` s
(keyword arguments, plus the *group* of the exercise they test: "basic",
"padding", "stride pairs", ...) and handed to :func:`run_check`, which

1. computes the expected answer with the reference (in this process),
2. calls the student's function on a copy of the arguments (:func:`call_student`),
3. compares the result with a *comparison* (:func:`same_array`, :func:`same_int`, ...)
   that also checks the exact return type,
4. only when they differ, asks the check's *known mistakes* (a callable returning
   :class:`~cnnlab.grading.feedback.Suspect` s) which one reproduces the wrong answer.

Groups give partial credit: an answer that is right except for, say, stride
pairs fails with a :class:`CheckFailure` whose ``fraction`` is the share of
groups it gets right. The message explains the first failing case only, and
shows at most the one expected value that is wrong.

A check treats the student's function as opaque: it only calls it with plain
data (arrays, numbers, strings, tuples) and looks at the result and at the
array arguments afterwards. Callbacks handed to the student are
:class:`SourceFunction` s, which can be re-created from their source text in
another process.
"""

import os
import re
import traceback

import numpy as np

from cnnlab.grading.feedback import Suspect, describe, describe_call, first_difference
from cnnlab.grading.guard import ReferenceGuard

_copy = np.array
_array_equal = np.array_equal
_ndarray = np.ndarray
_float64 = np.float64
_CNNLAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What Python says when a function is called with keyword names it does not have.
_ARGUMENT_NAMES = re.compile(r"unexpected keyword argument|missing \d+ required (positional|keyword-only) argument")

__all__ = ["Case", "CheckFailure", "CheckResult", "SourceFunction", "Suspect", "call_student",
           "run_check", "run_cases", "same_array", "same_int", "copy_args"]


# --------------------------------------------------------------------------
# Results and failures
# --------------------------------------------------------------------------

def _is_grader_frame(filename):
    """Frames a student does not need: the grader's, the library's, IPython's own."""
    path = os.path.abspath(filename)
    return path.startswith(_CNNLAB_DIR + os.sep) or f"{os.sep}site-packages{os.sep}" in path


class CheckFailure(AssertionError):
    """A failed check: the student-facing message and the share of the points earned.

    ``fraction`` is in [0, 1): 0 for "nothing right", 0.5 for "half of the
    exercise's groups right". In a notebook the traceback shows only the
    student's own frames (the test cell, their function), never the grader's.
    """

    def __init__(self, message, fraction=0.0):
        super().__init__(message)
        self.message = message
        self.fraction = min(max(float(fraction), 0.0), 0.999)

    def _render_traceback_(self):
        """IPython's hook: the student's frames and the message, without grader internals."""
        frames = [f for f in traceback.extract_tb(self.__traceback__) if not _is_grader_frame(f.filename)]
        cause = self.__cause__
        if cause is not None and cause.__traceback__ is not None:
            frames += [f for f in traceback.extract_tb(cause.__traceback__)
                       if not _is_grader_frame(f.filename)]
        lines = ["Traceback (grader frames hidden):\n"] if frames else []
        lines += traceback.format_list(frames)
        lines.append(f"{type(self).__name__}: {self.message}")
        return "".join(lines).splitlines()


class CheckResult:
    """What a passing check returns: the exercise, how many cases it ran, what grading adds."""

    def __init__(self, name, n_cases, hidden, still_checked=()):
        self.name = name
        self.n_cases = n_cases
        self.hidden = hidden
        self.still_checked = tuple(still_checked)

    def __repr__(self):
        kind = "hidden" if self.hidden else "visible"
        text = (f"{self.name}: all {self.n_cases} {kind} test cases passed" if self.n_cases > 1
                else f"{self.name}: the {kind} test passed")
        if self.still_checked and not self.hidden:
            text += ". Still checked at grading (hidden tests): " + "; ".join(self.still_checked)
        return text

    def _ipython_display_(self):
        # Printed, not returned as the cell's value: nbgrader would try to read
        # a test cell's value as a partial-credit score.
        print(f"✓ {self!r}")


# --------------------------------------------------------------------------
# Callbacks handed to the student's function
# --------------------------------------------------------------------------

class SourceFunction:
    """A function given by its source text and bound arrays, e.g. ``lambda x: np.sum(G * x)``.

    Callable here (the source is evaluated with ``np`` and the bound names),
    and re-creatable anywhere from ``source`` and ``bound`` alone, so the
    trusted grader can send it to the student's kernel as plain data.
    """

    def __init__(self, source, **bound):
        self.source = source
        self.bound = {k: (_copy(v) if isinstance(v, _ndarray) else v) for k, v in bound.items()}
        namespace = {"np": np, **{k: (_copy(v) if isinstance(v, _ndarray) else v)
                                  for k, v in self.bound.items()}}
        self._fn = eval(source, namespace)

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def __repr__(self):
        return f"<function {self.source}>"


# --------------------------------------------------------------------------
# Calling the student
# --------------------------------------------------------------------------

class _Fatal(Exception):
    """A failure that ends the check at once with no points (not implemented, forbidden call)."""


def copy_args(args):
    """Copies of the arguments, so the student cannot change our reference inputs."""
    return {k: (_copy(v) if isinstance(v, _ndarray) else v) for k, v in args.items()}


def _call(fn, name, args, guard):
    __tracebackhide__ = True
    given = copy_args(args)
    try:
        with guard:
            out = fn(**given)
    except NotImplementedError:
        raise _Fatal(f"{name} is not implemented yet: replace `raise NotImplementedError()` "
                     "with your code.") from None
    except AssertionError as exc:
        raise AssertionError(f"{name} failed an assert: {exc}\n{describe_call(name, args)}") from exc
    except Exception as exc:
        if type(exc).__name__ == "GradingTimeout":          # trusted grading: the kernel stopped answering
            raise _Fatal(f"{name} did not finish in time: {exc}") from None
        ename = getattr(exc, "ename", None) or type(exc).__name__   # trusted grading names the kernel's error
        lines = [f"{name} raised {ename}: {exc}", describe_call(name, args)]
        if ename == "TypeError" and _ARGUMENT_NAMES.search(str(exc)):
            lines.append(f"Likely mistake: the parameters were renamed. The grader calls {name} with the names "
                         f"of the template, {name}({', '.join(args)}): keep those names.")
        raise AssertionError("\n".join(lines)) from exc
    return out, given


def call_student(fn, name, args, numpy_forbidden=(), guard=None,
                 advice="write it yourself with basic NumPy (zeros, slicing, sums, loops)",
                 changed_hint=None):
    """Call ``fn(**args)`` on copies of ``args``; turn every failure into an AssertionError.

    The call runs under a :class:`ReferenceGuard` (an answer that hands the work
    to ``cnnlab.functional``, PyTorch, SciPy's filters or one of the
    ``numpy_forbidden`` NumPy functions fails). An array argument changed in
    place fails too; ``changed_hint`` replaces the default advice for that.
    """
    __tracebackhide__ = True
    if not callable(fn):
        raise CheckFailure(f"{name} must be a function, got {type(fn).__name__}")
    guard = guard or ReferenceGuard(numpy_forbidden)
    try:
        out, given = _call(fn, name, args, guard)
    except _Fatal as fatal:
        raise CheckFailure(str(fatal)) from None
    if guard.violation:
        raise CheckFailure(f"{name} calls {guard.violation}, a ready-made implementation. "
                           f"The exercise is to {advice}.")
    for key, value in args.items():
        if isinstance(value, _ndarray) and not (
                given[key].shape == value.shape and _array_equal(given[key], value)):
            hint = changed_hint or (f"Work on a copy (e.g. `{key} = {key}.copy()` or build a new "
                                    "array) instead.")
            raise AssertionError(f"{name} changed its input `{key}` in place. {hint}\n"
                                 + describe_call(name, args))
    return out


# --------------------------------------------------------------------------
# Comparisons: each returns None when the answer is right, else a Mismatch
# --------------------------------------------------------------------------

class Mismatch:
    """How a received answer differs from the expected one (text), and the answer itself."""

    def __init__(self, lines, received, hints=()):
        self.lines = list(lines)
        self.received = received
        self.hints = list(hints)


def _plain_array(received, what):
    """The student's result as a plain ndarray, or a Mismatch saying what to return."""
    if received is None:
        return Mismatch([f"{what} returned None. Did you forget the `return` statement?"], None)
    if type(received) is not _ndarray:
        return Mismatch([f"{what} must return a numpy array (np.ndarray), got a "
                         f"{type(received).__name__}. Build the result with np.zeros(...) "
                         "(or wrap it with np.array(...)) and return that."], received)
    if received.dtype == bool or not np.issubdtype(received.dtype, np.number) \
            or np.iscomplexobj(received):
        return Mismatch([f"{what} returned an array of dtype {received.dtype}; it must hold "
                         "real numbers."], received)
    return received


def same_array(dtype="number", rtol=1e-6, atol=1e-8):
    """Comparison for array answers: a plain ndarray, the expected shape, close values.

    ``dtype="float"`` also requires a floating-point result (for exercises whose
    text says "return floats"; an integer input must still give floats).
    """
    def compare(received, expected, what):
        got = _plain_array(received, what)
        if isinstance(got, Mismatch):
            return got
        want = np.asarray(expected, dtype=_float64)
        if got.shape != want.shape:
            lines = [f"Expected shape {want.shape}, got shape {got.shape}."]
            if got.size <= 64:
                lines.append("Received:\n" + _indent(describe(got).split(":\n", 1)[-1]))
            return Mismatch(lines, got)
        if dtype == "float" and not np.issubdtype(got.dtype, np.floating):
            return Mismatch([f"{what} returned an array of dtype {got.dtype}; the instructions say "
                             "to return floats. Start from a float array (np.zeros(...) is float64, "
                             "or np.asarray(x, dtype=float)) so that nothing is rounded."], got)
        values = got.astype(_float64)
        bad = ~_close(values, want, rtol, atol)
        if not bad.any():
            return None
        index = first_difference(values, want, rtol, atol)
        lines = []
        if got.size <= 64:
            lines.append("Received:\n" + _indent(describe(got).split(":\n", 1)[-1]))
        lines.append(f"{int(bad.sum())} of {want.size} values differ; the first is at index {index}: "
                     f"expected {want[index]:.6g}, got {values[index]:.6g}.")
        if not np.isfinite(values).all():
            lines.append("The result contains NaN or inf.")
        return Mismatch(lines, got)
    return compare


def same_int(received, expected, what):
    """Comparison for counts and sizes: an int (Python or NumPy integer, not bool) equal to expected."""
    if received is None:
        return Mismatch([f"{what} returned None. Did you forget the `return` statement?"], None)
    if isinstance(received, (bool, np.bool_)) or not isinstance(received, (int, np.integer)):
        return Mismatch([f"{what} must return an int, got {received!r} ({type(received).__name__}). "
                         "Use whole-number arithmetic: floor division `//` instead of `/`, or int(...)."],
                        received)
    if int(received) == expected:
        return None
    return Mismatch([f"Expected {expected}, got {int(received)}."], int(received))


def _close(a, b, rtol, atol):
    ok = np.abs(a - b) <= atol + rtol * np.abs(b)
    return ok & ~np.isnan(a)


def _indent(text, n=4):
    pad = " " * n
    return "\n".join(pad + line for line in str(text).splitlines())


def _matches(received, suspect, rtol=1e-6, atol=1e-8):
    """Does the student's answer equal what the known mistake produces?"""
    output = suspect.output
    if callable(output):
        return bool(output(received))
    if isinstance(received, _ndarray) or isinstance(output, _ndarray):
        try:
            got = np.asarray(received, dtype=_float64)
            out = np.asarray(output, dtype=_float64)
        except (TypeError, ValueError):
            return False
        return got.shape == out.shape and bool(_close(got, out, rtol, atol).all())
    return received == output


def _same_value(received, expected):
    """True when ``received`` holds the expected numbers, whatever its type (a list, 3.0 for 3, uint8)."""
    try:
        return _matches(received, Suspect("", "", np.asarray(expected)))
    except Exception:
        return False


def shape_is(shape):
    """A suspect output that matches any array of this shape (for size mistakes)."""
    shape = tuple(int(s) for s in shape)
    return lambda received: isinstance(received, _ndarray) and tuple(received.shape) == shape


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------

class Case:
    """One test input: keyword arguments and the group (part of the exercise) it tests."""

    def __init__(self, group, **args):
        self.group = group
        self.args = args
        self.compare = None     # a comparison for this case only (see accepting())

    def accepting(self, compare):
        """This case with its own comparison, e.g. one that accepts any of several right answers."""
        self.compare = compare
        return self

    def __getitem__(self, key):
        return self.args[key]

    def __repr__(self):
        return f"Case({self.group!r}, {sorted(self.args)})"


def _ruled_out(passed, mistakes):
    """Names of the mistakes that would have spoiled a case the answer got right.

    Only mistakes with a concrete output count: a test such as "any integer array" says nothing about
    what the mistake gives on another case.
    """
    names = set()
    for case, expected in passed:
        try:
            names |= {s.name for s in mistakes(case.args, expected)
                      if not callable(s.output) and not _matches(expected, s)}
        except Exception:  # a mistake that cannot be reproduced on that case rules nothing out
            continue
    return names


def _explain(name, case, mismatch, mistakes, expected, passed=()):
    """The message for one wrong case: call, received, the wrong expected value, likely mistake.

    ``passed``: ``(case, expected)`` of the cases answered right so far; a mistake that would have
    spoiled one of them is not the student's and is not named.
    """
    what = f"{name}(...)"
    lines = [f"{what} is wrong (part: {case.group}).", describe_call(name, case.args)] + mismatch.lines
    hints = list(mismatch.hints)
    # Only a wrong *value* can point at a known mistake: when the values are right and only the type
    # or dtype is not, every suspect that "matches" would name a mistake the student did not make.
    if mistakes is not None and mismatch.received is not None and not _same_value(mismatch.received, expected):
        found = {}
        for suspect in mistakes(case.args, expected):
            try:
                # a mistake that gives the right answer on this input (a flipped symmetric kernel) explains nothing
                hit = _matches(mismatch.received, suspect) and not _matches(expected, suspect)
            except Exception:  # a mistake that cannot be reproduced here says nothing
                hit = False
            if hit:
                found.setdefault(suspect.name, suspect.hint)
        ruled_out = _ruled_out(passed, mistakes) if found else set()
        hints += [f"{name}: {hint}" for name, hint in found.items() if name not in ruled_out]
    if hints:
        lines.append("Likely mistake: " + "; ".join(hints))
    return "\n".join(lines)


def run_check(name, fn, cases, reference, compare, mistakes=None, hidden=False, numpy_forbidden=(),
              guard=None, advice="write it yourself with basic NumPy (zeros, slicing, sums, loops)",
              helpers=None, still_checked=(), changed_hint=None, credit=None):
    """Run every case; pass with a :class:`CheckResult` or fail with a :class:`CheckFailure`.

    reference(**args) -> expected answer (computed here, never in the student's code).
    compare(received, expected, what) -> None or a :class:`Mismatch`.
    mistakes(args, expected) -> list of Suspects; only called for a wrong answer.
    helpers(args) -> list of lines naming a wrong helper of the student's (e.g.
        their ``zero_pad``) for this case; only called for a wrong answer.
    The failure's ``fraction`` is the share of groups whose cases all pass, or, when
    ``credit`` is given, ``credit(results)`` if that is larger: ``results`` lists
    ``(case, received, expected)`` for every case (all of them are run then), with
    ``received`` None for a case whose call failed. It scores answers that one
    mistake spoils in every group (a forgotten bias, a wrong dbias beside right dx and dweight).
    """
    __tracebackhide__ = True
    groups = list(dict.fromkeys(case.group for case in cases))
    failures = {}
    causes = {}                    # group -> the exception the student's code raised, if any
    if hasattr(fn, "prefetch"):    # trusted grading: every case in one round trip to the kernel
        fn.prefetch([case.args for case in cases])
    results, passed = [], []
    for case in cases:
        if case.group in failures and credit is None:
            continue
        expected = reference(**copy_args(case.args))
        try:
            received = call_student(fn, name, case.args, numpy_forbidden, guard=guard,
                                    advice=advice, changed_hint=changed_hint)
        except CheckFailure:
            raise                                     # not implemented, forbidden call: no points
        except AssertionError as error:
            results.append((case, None, expected))
            if case.group not in failures:
                blamed = helpers(case.args) if helpers is not None else []
                failures[case.group] = "\n".join([str(error)] + blamed)
                causes[case.group] = error.__cause__
            continue
        results.append((case, received, expected))
        mismatch = (case.compare or compare)(received, expected, f"{name}(...)")
        if mismatch is None:
            passed.append((case, expected))
            continue
        if case.group in failures:
            continue
        # a wrong helper of the student's explains the failure better than any known mistake
        blamed = helpers(case.args) if helpers is not None else []
        message = _explain(name, case, mismatch, None if blamed else mistakes, expected, passed)
        failures[case.group] = "\n".join([message] + blamed)
    if not failures:
        return CheckResult(name, len(cases), hidden, still_checked)
    first = next(g for g in groups if g in failures)
    # "from" the student's own exception: the notebook then shows the line of their code that raised
    message = _summary(name, groups, failures)
    if hidden:   # says why this fails although the visible tests above passed
        message = "Hidden tests (the grader's own cases) fail. " + message
    fraction = 1 - len(failures) / len(groups)
    if credit is not None:
        fraction = max(fraction, credit(results))
    raise CheckFailure(message, fraction) from causes.get(first)


def credit_if_only(mistake, share):
    """A ``credit`` for :func:`run_check`: ``share`` of the points when every case is either right or
    exactly what ``mistake(args, expected)`` gives (e.g. the right answer without the bias), else 0."""
    def credit(results):
        for case, received, expected in results:
            if received is None:
                return 0.0
            if not (_same_value(received, expected) or _same_value(received, mistake(case.args, expected))):
                return 0.0
        return share
    return credit


def _summary(name, groups, failures):
    """First failure in full, preceded by which parts pass and which do not."""
    first = next(g for g in groups if g in failures)
    if len(groups) > 1:
        right = [g for g in groups if g not in failures]
        head = (f"{name}: {len(groups) - len(failures)} of {len(groups)} parts right"
                + (f" ({', '.join(right)})" if right else "")
                + f"; wrong: {', '.join(g for g in groups if g in failures)}.\n")
    else:
        head = ""
    return head + failures[first]


def run_cases(name, fn, cases, reference, suspects=None, shape_hints=None,
              hidden=False, rtol=1e-6, atol=1e-8, numpy_forbidden=()):
    """Compatibility: plain keyword-argument dicts, one group, array answers."""
    __tracebackhide__ = True
    return run_check(name, fn, [Case("all", **args) for args in cases], reference,
                     same_array(rtol=rtol, atol=atol), mistakes=suspects, hidden=hidden,
                     numpy_forbidden=numpy_forbidden)


def calls(fn, helper, name):
    """Can ``fn`` reach ``helper``: does its code (nested functions included) use the name ``name``, or
    a global or closure variable holding ``helper``? None when it cannot be told (a function of the
    student's kernel, seen from the grader, has no code object here)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    cells = [cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ()) if _filled(cell)]
    if any(value is helper for value in cells):
        return True
    scope = getattr(fn, "__globals__", {})
    stack = [code]
    while stack:
        code = stack.pop()
        if name in code.co_names or name in code.co_freevars or any(scope.get(n) is helper for n in code.co_names):
            return True
        stack += [const for const in code.co_consts if hasattr(const, "co_names")]
    return False


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:  # an empty closure cell
        return False
    return True


def helper_blame(name, helper, args, expected, compare, caller=None):
    """Lines naming the student's helper ``name`` when ``helper(**args)`` is wrong, else [].

    ``caller``: the student's function being checked; when its code provably never uses ``name``,
    the helper cannot explain its mistake and nothing is blamed.
    """
    if helper is None or not callable(helper) or (caller is not None and calls(caller, helper, name) is False):
        return []
    try:
        received = call_student(helper, name, args)
    except AssertionError as error:
        return [f"Your helper `{name}` fails here too, and your function calls it: fix {name} first.",
                str(error).split("\n", 1)[0]]
    mismatch = compare(received, expected, f"{name}(...)")
    if mismatch is None:
        return []
    return [f"Likely mistake: your helper `{name}` is wrong, and your function calls it. "
            f"Fix {name} first:",
            _indent(describe_call(name, args)),
            _indent("\n".join(mismatch.lines))]
