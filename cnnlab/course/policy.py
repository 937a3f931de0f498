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

#: Modules any answer may import (and their submodules, minus NUMPY_INTERNALS).
ALLOWED_IMPORTS = (
    "numpy",
    "math",
    "cmath",
    "itertools",
    "functools",
    "collections",
    "typing",
    "dataclasses",
    "random",
    "time",
    "copy",
    "string",
    "re",
    "statistics",
    "fractions",
    "decimal",
    "warnings",
    "enum",
    "abc",
    "numbers",
    "pprint",
    "textwrap",
    "matplotlib",
    "tqdm",
)
NUMPY_INTERNALS = ("numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy._core", "numpy.core")

#: Built-in names that reach around Python's normal rules; no exercise needs them.
FORBIDDEN_BUILTINS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "open",
        "input",
        "breakpoint",
        "__import__",
        "get_ipython",
        "exit",
        "quit",
        "help",
        "memoryview",
    }
)

#: Attribute names that lead to the interpreter's internals, the file system or other modules.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "sys",
        "os",
        "modules",
        "builtins",
        "importlib",
        "subprocess",
        "ctypes",
        "ctypeslib",
        "gc",
        "inspect",
        "environ",
        "getenv",
        "system",
        "popen",
        "spawn",
        "fork",
        "kill",
        "execv",
        "execve",
        "f_back",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_code",
        "tb_frame",
        "tb_next",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "gi_code",
        "func_globals",
        "settrace",
        "setprofile",
        "get_objects",
        "get_referrers",
        "get_referents",
        "attrgetter",
        "methodcaller",
        "import_module",
        "reload",
        "exec",
        "eval",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "load",
        "loads",
        "loadtxt",
        "fromfile",
        "genfromtxt",
        "memmap",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "tofile",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "open",
        "mro",
        "run_line_magic",
        "run_cell_magic",
        "system_piped",
        "getoutput",
        "user_ns",
        "comm_manager",
    }
)
#: Dunder attributes an honest answer uses (``super().__init__()`` in a torch module, ``__name__``).
ALLOWED_DUNDERS = frozenset({"__init__", "__name__"})

#: The course's own reference numerics, by name (reached as attributes: ``F.conv2d``, ``np.correlate``).
REFERENCE_ATTRIBUTES = frozenset(
    {
        "correlate",
        "convolve",
        "correlate2",
        "polymul",
        "polynomial",
        "Polynomial",
        "fftconvolve",
        "oaconvolve",
        "correlate1d",
        "convolve1d",
        "correlate2d",
        "convolve2d",
        "conv1d",
        "conv2d",
        "conv2d_single",
        "conv1d_naive",
        "conv2d_naive",
        "correlate1d_naive",
        "correlate2d_naive",
        "conv2d_backward",
        "conv2d_backward_naive",
        "max_pool2d",
        "avg_pool2d",
        "min_pool2d",
        "lp_pool2d",
        "max_pool2d_backward",
        "avg_pool2d_backward",
        "max_pool2d_naive",
        "avg_pool2d_naive",
        "zero_pad",
        "conv_output_size",
        "numerical_gradient",
        "layer_table",
        "conv_params",
        "linear_params",
        "conv_macs",
        "count_params",
        "alexnet",
        "alexnet_spec",
        "vgg16",
        "vgg16_spec",
        "confusion_matrix",
        "confusion_counts",
        "conv1d_backward",
        "convolve1d_naive",
        "convolve2d_naive",
        "max_pool2d_backward_naive",
        "min_pool2d_backward",
        "avg_pool2d_naive",
        "min_pool2d_naive",
        "im2col",
        "col2im",
        "conv",
        "pool",
        "functional",
        "gradcheck",
        "numerical_gradient_of",
    }
)

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

POLICIES = {
    "01_convolution_1d": Policy(stubs=ONE_D_REFERENCES, hidden_packages=("scipy", "torch")),
    "02_convolution_2d": Policy(hidden_packages=("scipy", "torch")),
    "03_multichannel": Policy(),
    "04_pooling": Policy(hidden_packages=("scipy", "torch")),
    "05_backprop": Policy(hidden_packages=("scipy", "torch")),
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
