"""Grading checks called by the notebooks' test cells, and a self-check.

In a test cell::

    from cnnlab import grading
    grading.check_conv2d(conv2d)               # visible tests
    grading.check_conv2d(conv2d, hidden=True)  # the thorough ones (hidden from students)

A failing check raises an ``AssertionError`` that shows the input, the expected
and the received values, and names the likely mistake when it recognises one.

Working alone? After writing an exercise, run ``grading.check("conv2d")``: it
finds your function ``conv2d`` in the notebook, runs its visible tests and
prints a short pass/fail summary instead of a traceback.
"""

import inspect

from cnnlab.grading.alexnet import (
    check_alexnet_table,
    check_conv_macs,
    check_conv_params,
    check_filter_count,
    check_filter_weights,
    check_linear_params,
)
from cnnlab.grading.exercises import (
    check_avg_pool2d,
    check_conv2d,
    check_conv2d_backward,
    check_conv2d_single,
    check_conv_output_size,
    check_convolve1d,
    check_correlate1d,
    check_correlate2d,
    check_max_pool2d,
    check_max_pool2d_backward,
    check_numerical_gradient,
    check_zero_pad,
)
from cnnlab.grading.feedback import Suspect, assert_matches
from cnnlab.grading.mnist import (check_accuracy, check_confusion_counts, check_loss_decreases, check_numpy_cnn,
                                  check_torch_cnn)
from cnnlab.grading.runner import CheckResult

#: exercise name -> check function; the student's function has the same name.
CHECKS = {
    "correlate1d": check_correlate1d,
    "convolve1d": check_convolve1d,
    "zero_pad": check_zero_pad,
    "correlate2d": check_correlate2d,
    "conv_output_size": check_conv_output_size,
    "conv2d_single": check_conv2d_single,
    "conv2d": check_conv2d,
    "max_pool2d": check_max_pool2d,
    "avg_pool2d": check_avg_pool2d,
    "max_pool2d_backward": check_max_pool2d_backward,
    "conv2d_backward": check_conv2d_backward,
    "numerical_gradient": check_numerical_gradient,
    "conv_params": check_conv_params,
    "linear_params": check_linear_params,
    "conv_macs": check_conv_macs,
    "build_numpy_cnn": check_numpy_cnn,
    "build_torch_cnn": check_torch_cnn,
    "confusion_counts": check_confusion_counts,
}


def check(name, namespace=None):
    """Run the visible tests of exercise ``name`` and print a friendly summary.

    The student's function is looked up by name in ``namespace`` (by default
    the notebook's globals). Returns True when every test passes.
    """
    if name not in CHECKS:
        known = ", ".join(sorted(CHECKS))
        raise ValueError(f"unknown exercise {name!r}; known exercises: {known}")
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    if name not in namespace:
        print(f"✗ {name}: no function called `{name}` is defined yet. Run the cell that defines it first.")
        return False
    try:
        result = CHECKS[name](namespace[name])
    except AssertionError as failure:
        print(f"✗ {name}: not yet.\n\n{failure}")
        return False
    print(f"✓ {result}. Well done!")
    return True


def check_all(namespace=None):
    """Self-check every exercise defined in ``namespace``; returns {name: passed}."""
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    return {name: check(name, namespace) for name in CHECKS if name in namespace}


__all__ = ["check", "check_all", "CHECKS", "CheckResult", "Suspect", "assert_matches",
           "check_alexnet_table", "check_conv_params", "check_linear_params", "check_conv_macs",
           "check_filter_weights", "check_filter_count",
           "check_numpy_cnn", "check_torch_cnn", "check_loss_decreases", "check_accuracy",
           "check_confusion_counts"] + [
    fn.__name__ for fn in CHECKS.values()
]
