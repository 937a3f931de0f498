"""What a submission may use while it is graded, per assignment.

Two kinds of rules, both applied by the grader (never by the student's kernel):

* **Code rules** (checked by :mod:`cnnlab.course.audit` on every code cell the student wrote or
  changed): which modules answer cells may import, which library names they may not touch (the
  exercise's reference, the course's builders, the grading package), and a few Python features no
  answer in this course needs but every known attack does (``exec``, ``getattr``, frames, ``_private``
  attributes, shell escapes, ...).
* **Sandbox rules** (applied by :mod:`cnnlab.course.sandbox`): the kernel sees a *grading copy* of
  the ``cnnlab`` package in which ``cnnlab.grading`` is an empty shell (the real checks run in the
  grader) and the functions listed in ``stubs`` raise instead of working; packages in
  ``hidden_packages`` do not exist inside the sandbox at all.
"""

import ast
import os
import shutil
from dataclasses import dataclass, field

# fmt: off
#: Modules any answer may import (and their submodules, minus NUMPY_INTERNALS). Not allowed although
#: harmless-looking: `typing`, `string`, `dataclasses` and friends turn strings into attribute reads or
#: code (typing.get_type_hints evaluates annotations; string.Formatter().get_field is getattr by name),
#: and tqdm/IPython reach the notebook's display machinery (display ids).
ALLOWED_IMPORTS = (
    "numpy", "math", "cmath", "itertools", "functools", "collections", "random", "time", "copy",
    "re", "statistics", "fractions", "decimal", "warnings", "matplotlib",
)
NUMPY_INTERNALS = ("numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy._core", "numpy.core",
                   "numpy.testing")

#: Built-in names that reach around Python's normal rules (and the display machinery); no exercise needs them.
FORBIDDEN_BUILTINS = frozenset({
    "__import__", "breakpoint", "clear_output", "compile", "delattr", "display", "eval", "exec", "exit",
    "get_ipython", "getattr", "globals", "help", "input", "locals", "memoryview", "open", "quit", "setattr",
    "update_display", "vars",
})

#: Attribute names that lead to the interpreter's internals, the file system, other modules, or that
#: turn strings into attribute reads and code.
FORBIDDEN_ATTRIBUTES = frozenset({
    "Formatter", "ForwardRef", "ag_frame", "attrgetter", "build_and_import_extension", "builtins",
    "clear_output", "comm_manager", "compile", "cr_frame", "ctypes", "ctypeslib", "delattr", "display",
    "environ", "eval", "exec", "execv", "execve", "extbuild", "f_back", "f_builtins", "f_code", "f_globals",
    "f_locals", "fork", "format_field", "fromfile", "func_globals", "gc", "genfromtxt", "get_field",
    "get_objects", "get_referents", "get_referrers", "get_type_hints", "getattr", "getenv", "getoutput",
    "gi_code", "gi_frame", "import_module", "importlib", "inspect", "kill", "load", "loads", "loadtxt",
    "memmap", "methodcaller", "modules", "mro", "open", "os", "popen", "publish_display_data", "read_bytes",
    "read_text", "reload", "run_cell_magic", "run_line_magic", "save", "savetxt", "savez", "savez_compressed",
    "setattr", "setprofile", "settrace", "singledispatch", "singledispatchmethod", "spawn", "subprocess",
    "sys", "system", "system_piped", "tb_frame", "tb_next", "tofile", "update_display", "user_ns", "vformat",
    "write_bytes", "write_text",
})
#: Dunder attributes an honest answer uses (``super().__init__()`` in a torch module, ``__name__``).
ALLOWED_DUNDERS = frozenset({"__init__", "__name__"})

#: The course's own reference numerics and NumPy's ready-made equivalents, by name (reached as
#: attributes: ``F.conv2d``, ``np.correlate``, ``np.poly1d(x) * np.poly1d(w)``).
REFERENCE_ATTRIBUTES = frozenset({
    "Polynomial", "alexnet", "alexnet_spec", "avg_pool2d", "avg_pool2d_backward", "avg_pool2d_naive",
    "col2im", "confusion_counts", "confusion_matrix", "conv", "conv1d", "conv1d_backward", "conv1d_naive",
    "conv2d", "conv2d_backward", "conv2d_backward_naive", "conv2d_naive", "conv2d_single", "conv_macs",
    "conv_output_size", "conv_params", "convolve", "convolve1d", "convolve1d_naive", "convolve2d",
    "convolve2d_naive", "correlate", "correlate1d", "correlate1d_naive", "correlate2", "correlate2d",
    "correlate2d_naive", "count_params", "fftconvolve", "functional", "gradcheck", "im2col", "layer_table",
    "linear_params", "lp_pool2d", "max_pool2d", "max_pool2d_backward", "max_pool2d_backward_naive",
    "max_pool2d_naive", "min_pool2d", "min_pool2d_backward", "min_pool2d_naive", "numerical_gradient",
    "numerical_gradient_of", "oaconvolve", "poly1d", "polymul", "polynomial", "pool", "vgg16", "vgg16_spec",
    "zero_pad",
})
# fmt: on

#: Library packages whose names, when an instructor cell imports them, answers may not use.
LIBRARY_PREFIXES = ("cnnlab", "torch", "scipy", "IPython", "ipywidgets", "nbgrader")

#: Builders that would hand a student notebook 06's networks ready-made.
MODEL_BUILDERS = (
    "numpy_mnist_cnn",
    "mnist_cnn",
    "fast_mnist_cnn",
    "lenet5",
    "torch_mnist_cnn",
    "numpy_cnn",
    "build_numpy_cnn",
    "build_torch_cnn",
)


@dataclass(frozen=True)
class Policy:
    """The rules for one assignment (see the module docstring)."""

    extra_imports: tuple = ()  # modules allowed beyond ALLOWED_IMPORTS
    allowed_library_names: tuple = ()  # names bound by instructor cells that answers may use
    reference_attributes: frozenset = REFERENCE_ATTRIBUTES
    stubs: tuple = ()  # functions replaced in the sandbox's cnnlab copy
    hidden_packages: tuple = ("scipy",)
    magics: tuple = ("timeit", "time", "matplotlib")
    notes: str = ""
    extra_forbidden_attributes: frozenset = field(default_factory=frozenset)


ONE_D_REFERENCES = (
    "correlate1d",
    "convolve1d",
    "correlate1d_naive",
    "convolve1d_naive",
    "conv1d",
    "conv1d_naive",
    "conv1d_backward",
)

#: The references each notebook's exercises must not be able to call at grading, even by a road the
#: audit does not know: inside the sandbox they raise. (A demo cell that calls one shows that error in
#: the graded copy; scores do not depend on demo cells.)
TWO_D_REFERENCES = (
    "zero_pad",
    "correlate2d",
    "correlate2d_naive",
    "convolve2d",
    "convolve2d_naive",
    "conv2d",
    "conv2d_naive",
    "conv2d_from_columns",
)
POOLING_REFERENCES = (
    "max_pool2d",
    "max_pool2d_naive",
    "avg_pool2d",
    "avg_pool2d_naive",
    "min_pool2d",
    "lp_pool2d",
    "max_pool2d_with_winners",
)
BACKPROP_REFERENCES = (
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_backward_columns",
    "max_pool2d_backward",
    "max_pool2d_backward_naive",
    "min_pool2d_backward",
    "max_pool2d_with_winners",
    "numerical_gradient",
)

POLICIES = {
    "01_convolution_1d": Policy(stubs=ONE_D_REFERENCES, hidden_packages=("scipy", "torch")),
    "02_convolution_2d": Policy(stubs=TWO_D_REFERENCES, hidden_packages=("scipy", "torch")),
    # torch is only the ungraded comparison cell here; hidden, that cell says so instead of paying 3 s
    # of CPU per submission to import it.
    "03_multichannel": Policy(stubs=TWO_D_REFERENCES, hidden_packages=("scipy", "torch")),
    "04_pooling": Policy(stubs=POOLING_REFERENCES, hidden_packages=("scipy", "torch")),
    "05_backprop": Policy(stubs=BACKPROP_REFERENCES, hidden_packages=("scipy", "torch")),
    "06_mnist_cnn": Policy(
        extra_imports=("torch", "cnnlab.nn", "cnnlab.optim"),
        allowed_library_names=("nn", "tnn", "torch", "optim", "TF", "F"),
        # torch.nn.functional's conv2d, max_pool2d, ... are how a torch network is written here.
        reference_attributes=frozenset(
            {"layer_table", "confusion_matrix", "confusion_counts", "alexnet", "vgg16", "lenet5"}
        )
        | frozenset(MODEL_BUILDERS),
        stubs=MODEL_BUILDERS,
    ),
    "07_alexnet_parameters": Policy(allowed_library_names=("conv_output_size",)),
}

DEFAULT_POLICY = Policy()


def policy_for(assignment):
    """The :class:`Policy` of ``assignment`` (a strict default for assignments not listed)."""
    return POLICIES.get(assignment, DEFAULT_POLICY)


def import_allowed(module, policy):
    """True when an answer of this assignment may ``import module``."""
    if any(module == m or module.startswith(m + ".") for m in NUMPY_INTERNALS):
        return False
    allowed = ALLOWED_IMPORTS + tuple(policy.extra_imports)
    return any(module == m or module.startswith(m + ".") for m in allowed)


# --------------------------------------------------------------------------
# The sandbox's grading copy of the cnnlab package
# --------------------------------------------------------------------------

GRADING_SHELL = '''"""Inside a grading sandbox the checks are not here: the grader runs them outside this kernel."""


def _checked_outside(*args, **kwargs):
    print("(checked by the grader, outside this notebook)")


def check(name, namespace=None):
    print("(checked by the grader, outside this notebook)")
    return None


def check_all(namespace=None):
    return {}


def __getattr__(name):
    if name.startswith("check"):
        return _checked_outside
    raise AttributeError(f"cnnlab.grading.{name} is not available while a notebook is graded")
'''


def _stub_source(source, names, assignment):
    """``source`` with the bodies of the module-level functions in ``names`` replaced by a raise."""
    tree = ast.parse(source)
    changed = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            message = f"{node.name} is not available while {assignment} is graded: write your own"
            node.body = [
                ast.Raise(
                    exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()), args=[ast.Constant(message)], keywords=[]),
                    cause=None,
                )
            ]
            node.decorator_list = []
            changed = True
    return ast.unparse(ast.fix_missing_locations(tree)) if changed else None


def grading_copy_of_package(package_dir, assignment, dest, grading=True):
    """Write the sandbox's copy of the cnnlab package to ``dest`` and return ``dest``.

    The copy has no bytecode caches and none of the grader's own code. With ``grading`` (at
    ``nbgrader autograde``) its ``cnnlab.grading`` only prints (the checks run in the grader) and the
    assignment's ``stubs`` raise; without it (``nbgrader validate``, a student's own check of the
    notebook) the student-side checks are kept so that validation reports failures.
    """
    policy = policy_for(assignment)
    shutil.copytree(package_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "course"))
    os.makedirs(os.path.join(dest, "course"))
    for name in ("__init__.py", "kernel.py", "sandbox.py"):  # the kernel launcher and its constants
        shutil.copy(os.path.join(package_dir, "course", name), os.path.join(dest, "course", name))
    if not grading:
        return dest
    grading = os.path.join(dest, "grading")
    shutil.rmtree(grading, ignore_errors=True)
    os.makedirs(grading)
    with open(os.path.join(grading, "__init__.py"), "w") as f:
        f.write(GRADING_SHELL)
    # The model description that notebook 06's probes send back is written in the kernel.
    shutil.copy(os.path.join(package_dir, "grading", "transfer.py"), os.path.join(grading, "transfer.py"))
    if policy.stubs:
        for folder, _, files in os.walk(dest):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                with open(path) as f:
                    stubbed = _stub_source(f.read(), set(policy.stubs), assignment)
                if stubbed is not None:
                    with open(path, "w") as f:
                        f.write(stubbed)
    return dest


def hidden_package_dirs(policy):
    """Folders of the installed packages the sandbox hides for this assignment."""
    import importlib.util

    folders = []
    for name in policy.hidden_packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders += [os.path.realpath(p) for p in spec.submodule_search_locations]
    return folders
