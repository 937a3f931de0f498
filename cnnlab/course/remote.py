"""Plain data between the grader and a student's kernel.

The grader never trusts an object from the student's kernel. It asks the kernel, by running a short
*probe* cell there, to call the student's function on inputs the grader chose (or to send one of the
notebook's values), and the kernel answers with **plain data only**: JSON holding numbers, strings,
lists, dicts and NumPy arrays serialised with ``numpy.save(allow_pickle=False)``. The grader rebuilds
real objects from that data itself, so a submission can influence nothing but the values it returns:
no ``__eq__`` that lies, no ndarray subclass, no patched ``np.allclose``, no rewritten check.

Kernel side: :data:`PROBE_SOURCE` (sent as text and run there).
Grader side: :func:`encode` for the inputs, :func:`decode` for the answers, :class:`RemoteFunction`
(a callable the checks use exactly like the student's own function).
"""

import base64
import io
import json

import numpy as np

#: Largest answer accepted from a kernel (bytes of JSON).
MAX_ANSWER_BYTES = 64 * 1024**2
MIME = "application/vnd.cnnlab.probe+json"
ALLOWED_DTYPE_KINDS = "biufc"  # bool, int, uint, float, complex: never object arrays


class RemoteError(Exception):
    """The student's function raised inside the kernel (``ename`` is the exception's class name)."""

    def __init__(self, ename, evalue):
        super().__init__(evalue)
        self.ename = ename
        self.evalue = evalue


class RemoteNotImplemented(NotImplementedError):
    """The student's function still raises ``NotImplementedError``."""


class GradingTimeout(RemoteError):
    """The student's function ran longer than the grader waits."""


class UnsupportedValue:
    """Stands for a value that is not plain data (a checks sees it and fails with the type's name)."""

    def __init__(self, type_name, text=""):
        self.type_name = type_name
        self.text = text

    def __repr__(self):
        return f"<{self.type_name} object>"


def _array_to_text(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _array_from_text(text):
    array = np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
    if array.dtype.kind not in ALLOWED_DTYPE_KINDS:
        raise ValueError(f"arrays of dtype {array.dtype} are not accepted")
    return array


def encode(value, depth=0):
    """Plain-data JSON form of ``value`` (grader side: the inputs a check passes to a student)."""
    if depth > 20:
        raise ValueError("nesting too deep")
    if type(value).__name__ == "SourceFunction":  # cnnlab.grading.engine.SourceFunction
        return {
            "t": "source_function",
            "src": value.source,
            "env": {k: encode(v, depth + 1) for k, v in value.bound.items()},
        }
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, np.generic):
        return {"t": "npscalar", "v": _array_to_text(np.asarray(value))}
    if type(value) is np.ndarray:
        return {"t": "ndarray", "v": _array_to_text(value)}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__, "v": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(f"the grader cannot send a {type(value).__name__} to the kernel")


def decode(data, depth=0, probe_x=None):
    """The value that plain-data ``data`` from a kernel stands for (exact types kept).

    Anything that is not plain data arrives as :class:`UnsupportedValue`. Models (notebook 06) are
    rebuilt by :func:`cnnlab.grading.transfer.rebuild` from allowlisted layer classes only.
    """
    if depth > 20 or not isinstance(data, dict):
        raise ValueError("malformed answer")
    kind, value = data.get("t"), data.get("v")
    if kind == "none":
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        if not isinstance(value, str) or len(value) > 4000:
            raise ValueError("malformed int")
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str":
        return str(value)
    if kind == "npscalar":
        array = _array_from_text(value)
        if array.shape != ():
            raise ValueError("malformed NumPy scalar")
        return array[()]
    if kind == "ndarray":
        return _array_from_text(value)
    if kind in ("list", "tuple"):
        items = [decode(v, depth + 1, probe_x) for v in value]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {decode(k, depth + 1): decode(v, depth + 1, probe_x) for k, v in value}
    if kind == "model":
        from cnnlab.grading import transfer

        return transfer.rebuild(decode(data.get("desc"), depth + 1), probe_x=probe_x)
    if kind == "unsupported":
        return UnsupportedValue(str(data.get("type", "object"))[:200], str(data.get("text", ""))[:500])
    raise ValueError(f"unknown kind {kind!r}")


#: Runs in the student's kernel as a module of its own (``sys.modules["cnnlab_probe"]``, defined by the
#: first probe and reused by the next ones): ``run(REQUEST, USER_NS)`` reads the notebook's names
#: (USER_NS, the notebook's globals) and displays one answer. The student could replace it, and would
#: only change what their own functions appear to return: nothing the grader trusts lives here.
PROBE_SOURCE = r"""
import base64, io, json, sys
import numpy as np

def _to_text(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")

def _from_text(text):
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)

def _is_model(obj):
    if type(obj).__module__.startswith("cnnlab.nn") and hasattr(obj, "forward"):
        return True
    try:
        module = sys.modules["torch"].nn.Module
    except (KeyError, AttributeError):          # no torch, or a stand-in that is not torch
        return False
    return isinstance(obj, module)

def encode(obj, depth=0):
    if depth > 20:
        return {"t": "unsupported", "type": "too deeply nested"}
    if obj is None:
        return {"t": "none"}
    if type(obj) is bool:
        return {"t": "bool", "v": obj}
    if type(obj) is int:
        return {"t": "int", "v": str(obj)}
    if type(obj) is float:
        return {"t": "float", "v": repr(obj)}
    if type(obj) is str:
        return {"t": "str", "v": obj}
    if isinstance(obj, np.generic) and obj.dtype.kind in "biufc":
        return {"t": "npscalar", "v": _to_text(np.asarray(obj))}
    if type(obj) is np.ndarray and obj.dtype.kind in "biufc":
        return {"t": "ndarray", "v": _to_text(obj)}
    if isinstance(obj, (list, tuple)):          # a namedtuple arrives as a tuple
        kind = "list" if isinstance(obj, list) else "tuple"
        return {"t": kind, "v": [encode(v, depth + 1) for v in list(obj)]}
    if isinstance(obj, dict) and not _is_model(obj):   # a training History arrives as a dict
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in dict(obj).items()]}
    if PROBE_X is not None and _is_model(obj):
        from cnnlab.grading.transfer import describe
        return {"t": "model", "desc": encode(describe(obj, PROBE_X), depth + 1)}
    kind = type(obj)
    return {"t": "unsupported", "type": kind.__module__ + "." + kind.__qualname__, "text": repr(obj)[:300]}

def decode(data):
    kind, value = data["t"], data.get("v")
    if kind == "none": return None
    if kind == "bool": return bool(value)
    if kind == "int": return int(value)
    if kind == "float": return float(value)
    if kind == "str": return value
    if kind == "npscalar": return _from_text(value)[()]
    if kind == "ndarray": return _from_text(value)
    if kind == "list": return [decode(v) for v in value]
    if kind == "tuple": return tuple(decode(v) for v in value)
    if kind == "dict": return {decode(k): decode(v) for k, v in value}
    if kind == "source_function":
        env = {"np": np, **{k: decode(v) for k, v in data["env"].items()}}
        return eval(data["src"], env)
    raise ValueError(kind)

PROBE_X = None

def run(REQUEST, USER_NS):
    answer = _answer(json.loads(REQUEST), USER_NS)
    from IPython.display import display
    display({"application/vnd.cnnlab.probe+json": answer}, raw=True)

def _answer(request, USER_NS):
    global PROBE_X
    PROBE_X = _from_text(request["probe_x"]) if request.get("probe_x") else None
    name = request["name"]
    if name not in USER_NS:
        answer = {"status": "undefined"}
    elif request["kind"] == "resolve":
        target = USER_NS[name]
        if _is_model(target) or not callable(target):
            try:
                answer = {"status": "value", "value": encode(target)}
            except BaseException as exc:
                answer = {"status": "raised", "ename": type(exc).__name__, "evalue": str(exc)[:2000]}
        else:
            answer = {"status": "callable"}
    elif request["kind"] == "batch":
        answer = {"status": "batch", "answers": [_call(USER_NS[name], c) for c in request["calls"]]}
    else:
        answer = _call(USER_NS[name], request)
    return answer

def _call(target, request):
    args = [decode(a) for a in request["args"]]
    kwargs = {k: decode(v) for k, v in request["kwargs"].items()}
    try:
        result = target(*args, **kwargs)
        answer = {"status": "returned", "value": encode(result)}
    except KeyboardInterrupt:          # the grader's time limit: stop the whole probe
        raise
    except BaseException as exc:
        answer = {"status": "raised", "ename": type(exc).__name__, "evalue": str(exc)[:2000]}
    answer["args_after"] = {str(i): encode(a) for i, a in enumerate(args) if type(a) is np.ndarray}
    answer["kwargs_after"] = {k: encode(a) for k, a in kwargs.items() if type(a) is np.ndarray}
    return answer
"""


_DEFINE_PROBE = (
    "import sys as _s, types as _t\n"
    "if 'cnnlab_probe' not in _s.modules:\n"
    "    _m = _t.ModuleType('cnnlab_probe')\n"
    "    exec({source!r}, _m.__dict__)\n"
    "    _s.modules['cnnlab_probe'] = _m\n"
    "del _s, _t\n"
)


def probe_code(request, define=True):
    """The text of a cell that answers ``request`` in the student's kernel (see PROBE_SOURCE).

    ``define=False`` leaves out the probe's definition (sent by an earlier probe): a shorter cell.
    """
    call = f"__import__('sys').modules['cnnlab_probe'].run({json.dumps(request)!r}, globals())"
    return (_DEFINE_PROBE.format(source=PROBE_SOURCE) if define else "") + call


def read_answer(outputs):
    """The probe's answer among a probe cell's outputs, or raise RemoteError saying what went wrong."""
    answer = None
    for output in outputs:
        if output.get("output_type") == "display_data" and MIME in output.get("data", {}):
            answer = output["data"][MIME]
    if answer is None:
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors and errors[-1].get("ename") == "CellTimeoutError":
            raise GradingTimeout("CellTimeoutError", "it did not finish in time")
        what = f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}" if errors else "no answer"
        raise RemoteError("GradingError", f"the grader could not reach your notebook's code ({what})")
    if not isinstance(answer, dict) or len(json.dumps(answer)) > MAX_ANSWER_BYTES:
        raise RemoteError("GradingError", "your function returned something too large to grade")
    return answer


class RemoteFunction:
    """A student's function, seen from the grader: calling it runs it in the kernel on plain data.

    ``run_probe(code)`` executes a cell in the kernel and returns its outputs. Arrays the student
    changed in place are copied back into the caller's arrays, so a check notices in-place edits.
    """

    def __init__(self, name, run_probe, probe_x=None):
        self.name = name
        self._run_probe = run_probe
        self._probe_x = probe_x
        self.dead = None  # set after a timeout: later calls fail at once

    def __repr__(self):
        return f"<your function {self.name}>"

    def _ask(self, request):
        if self._probe_x is not None:
            request["probe_x"] = _array_to_text(self._probe_x)
        try:
            return read_answer(self._run_probe(probe_code(request)))
        except GradingTimeout:
            self.dead = f"{self.name} did not finish in time on an earlier test, so it was not run again"
            raise GradingTimeout("TimeoutError", f"{self.name} did not finish within the grader's time limit")

    def prefetch(self, calls):
        """Run the calls ``calls`` (dicts of keyword arguments) in one probe; later calls with equal
        arguments, in any order, are answered from these results (one round trip instead of many)."""
        if self.dead:
            return
        encoded = [{"args": [], "kwargs": {k: encode(v) for k, v in c.items()}} for c in calls]
        try:
            answer = self._ask({"kind": "batch", "name": self.name, "calls": encoded})
        except RemoteError:
            return  # the calls are made one by one and fail one by one
        answers = answer.get("answers") if answer.get("status") == "batch" else None
        if not isinstance(answers, list) or len(answers) != len(encoded):
            return
        self._prefetched = {}
        for request, result in zip(encoded, answers):
            self._prefetched.setdefault(json.dumps(request, sort_keys=True), []).append(result)

    def __call__(self, *args, **kwargs):
        if self.dead:
            raise GradingTimeout("TimeoutError", self.dead)
        request = {"args": [encode(a) for a in args], "kwargs": {k: encode(v) for k, v in kwargs.items()}}
        key = json.dumps(request, sort_keys=True)
        waiting = getattr(self, "_prefetched", {}).get(key)
        if waiting:
            answer = waiting.pop(0)
        else:
            answer = self._ask({"kind": "call", "name": self.name, **request})
        if not isinstance(answer, dict):
            raise RemoteError("GradingError", "the grader could not read your function's answer")
        status = answer.get("status")
        if status == "undefined":
            raise RemoteError("NameError", f"`{self.name}` is not defined when this test runs")
        for position, data in (answer.get("args_after") or {}).items():
            _copy_back(args[int(position)], data)
        for key, data in (answer.get("kwargs_after") or {}).items():
            _copy_back(kwargs.get(key), data)
        if status == "raised":
            ename, evalue = str(answer.get("ename"))[:100], str(answer.get("evalue"))[:2000]
            if ename == "NotImplementedError":
                raise RemoteNotImplemented(evalue)
            raise _named_error(ename)(ename, evalue)
        if status != "returned":
            raise RemoteError("GradingError", "the grader could not read your function's answer")
        try:
            return decode(answer.get("value"), probe_x=self._probe_x)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise RemoteError("GradingError", f"the grader could not read what {self.name} returned ({exc})") from None


def _named_error(ename):
    """A RemoteError subclass carrying the student's exception name (so messages read naturally)."""
    safe = "".join(ch for ch in ename if ch.isalnum() or ch == "_") or "Error"
    return type(safe, (RemoteError,), {"__str__": lambda self: self.evalue})


def _copy_back(target, data):
    if type(target) is not np.ndarray:
        return
    try:
        after = decode(data)
    except ValueError:
        return
    if isinstance(after, np.ndarray) and after.shape == target.shape:
        np.copyto(target, after, casting="unsafe")


def resolve(name, run_probe, probe_x=None):
    """What a test cell's bare name stands for: a :class:`RemoteFunction` or a decoded value."""
    request = {"kind": "resolve", "name": name, "args": [], "kwargs": {}}
    if probe_x is not None:
        request["probe_x"] = _array_to_text(probe_x)
    answer = read_answer(run_probe(probe_code(request)))
    status = answer.get("status")
    if status == "undefined":
        raise RemoteError(
            "NameError", f"`{name}` is not defined when this test runs: run (or complete) the cell that defines it"
        )
    if status == "callable":
        return RemoteFunction(name, run_probe, probe_x)
    if status == "raised":
        raise RemoteError(str(answer.get("ename")), str(answer.get("evalue")))
    return decode(answer.get("value"), probe_x=probe_x)
