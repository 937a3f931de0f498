"""Notice when an answer calls a reference implementation instead of being one (student side).

A friendly early warning in the student's own notebook; it can be switched off from inside that
notebook, so grading does not rely on it: at ``nbgrader autograde`` the kernel runs in a sandbox
whose audit and library copy keep the references out (:mod:`cnnlab.course`).

While the student's function runs, a profile hook (``sys.setprofile``) sees
every function call. Calls into the course's reference numerics
(``cnnlab.functional``, ``cnnlab.nn``), into PyTorch, or into SciPy's signal
and image filters are recorded, and the check then fails with a message
saying which function was called. Exercises that forbid specific NumPy
functions (``np.correlate`` for ``correlate1d``) list them by name.
"""

import sys

FORBIDDEN_MODULES = ("cnnlab.functional", "cnnlab.nn", "torch", "scipy.signal", "scipy.ndimage")

_getprofile = sys.getprofile
_setprofile = sys.setprofile


def _module_of_builtin(fn):
    module = getattr(fn, "__module__", None)
    if module is None:
        owner = getattr(fn, "__self__", None)
        module = getattr(owner, "__name__", None) or type(owner).__module__
    return module or ""


class ReferenceGuard:
    """Context manager recording the first forbidden call made inside it.

    ``numpy_names`` lists NumPy functions the exercise must not use, e.g.
    ``{"correlate", "convolve"}``.
    """

    def __init__(self, numpy_names=()):
        self.numpy_names = set(numpy_names)
        self.violation = None
        self.remote = False
        self._previous = None

    def _forbidden(self, module, name):
        if any(module == m or module.startswith(m + ".") for m in FORBIDDEN_MODULES):
            return True
        return module.split(".")[0] == "numpy" and name in self.numpy_names

    def _hook(self, frame, event, arg):
        if self.violation is not None or self.remote:
            return
        if event == "call":
            module = frame.f_globals.get("__name__", "") or ""
            if module == "cnnlab.course.remote":
                # At autograde the student's function runs in its sandboxed kernel, not here: what
                # happens in this process (decoding, rebuilding a model) is the grader's own work.
                self.remote = True
                return
            name = frame.f_code.co_name
        elif event == "c_call":
            module = _module_of_builtin(arg)
            name = getattr(arg, "__name__", "")
        else:
            return
        if self._forbidden(module, name):
            # numpy's private module path means nothing to a student: say np.<name>
            shown = "numpy" if module.startswith("numpy") else module
            self.violation = f"{shown}.{name}"

    def __enter__(self):
        self._previous = _getprofile()
        _setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        _setprofile(self._previous)
        return False
