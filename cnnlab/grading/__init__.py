"""Grading checks called by the notebooks' test cells, and a self-check.

In a test cell::

    from cnnlab import grading
    grading.check_conv2d(conv2d)               # visible tests
    grading.check_conv2d(conv2d, hidden=True)  # the thorough ones (hidden from students)

A failing check raises a :class:`~cnnlab.grading.engine.CheckFailure` (an
``AssertionError``) that shows the input, the one wrong expected value and the
received answer, and names the likely mistake when it recognises one. Its
``fraction`` is the share of the exercise's parts that are right (partial credit).

Checks live in one module per notebook (``nb01_convolution_1d`` ...
``nb07_alexnet_parameters``; notebook 06 is ``mnist``) and all run on one
engine, :mod:`cnnlab.grading.engine`.

Working alone? After writing an exercise, run ``grading.check("conv2d")``: it
finds your function ``conv2d`` in the notebook, runs its visible tests and
prints a short pass/fail summary instead of a traceback.
"""

import inspect

from cnnlab.grading.engine import CheckFailure, CheckResult, SourceFunction
from cnnlab.grading.feedback import Suspect, assert_matches
from cnnlab.grading.mnist import (
    check_accuracy,
    check_confusion_counts,
    check_loss_decreases,
    check_numpy_cnn,
    check_torch_cnn,
    check_trained_numpy_cnn,
    check_trained_torch_cnn,
)
from cnnlab.grading.nb01_convolution_1d import (
    check_convolve1d,
    check_correlate1d,
    check_output_length,
    check_w_diff,
)
from cnnlab.grading.nb02_convolution_2d import (
    check_conv2d_single,
    check_conv_output_size,
    check_correlate2d,
    check_left_difference,
    check_same_padding,
    check_zero_pad,
)
from cnnlab.grading.nb03_multichannel import check_conv2d, check_count_conv_params
from cnnlab.grading.nb04_pooling import check_avg_pool2d, check_max_pool2d
from cnnlab.grading.nb05_backprop import (
    check_conv2d_backward,
    check_gradient_check,
    check_max_pool2d_backward,
    check_numerical_gradient,
)
from cnnlab.grading.nb07_alexnet_parameters import (
    check_alexnet_table,
    check_conv_macs,
    check_conv_params,
    check_filter_count,
    check_filter_weights,
    check_linear_params,
)

#: exercise name -> check function; the student's function (or value) has the same name.
CHECKS = {
    "correlate1d": check_correlate1d,
    "convolve1d": check_convolve1d,
    "output_length": check_output_length,
    "w_diff": check_w_diff,
    "zero_pad": check_zero_pad,
    "correlate2d": check_correlate2d,
    "conv_output_size": check_conv_output_size,
    "conv2d_single": check_conv2d_single,
    "same_padding": check_same_padding,
    "left_difference": check_left_difference,
    "conv2d": check_conv2d,
    "count_conv_params": check_count_conv_params,
    "max_pool2d": check_max_pool2d,
    "avg_pool2d": check_avg_pool2d,
    "max_pool2d_backward": check_max_pool2d_backward,
    "conv2d_backward": check_conv2d_backward,
    "numerical_gradient": check_numerical_gradient,
    "gradient_check": check_gradient_check,
    "conv_params": check_conv_params,
    "linear_params": check_linear_params,
    "conv_macs": check_conv_macs,
    "build_numpy_cnn": check_numpy_cnn,
    "build_torch_cnn": check_torch_cnn,
    "confusion_counts": check_confusion_counts,
}

#: exercises whose check takes other notebook objects than the one of the same name
ARGUMENTS = {"gradient_check": ("conv2d_backward", "numerical_gradient")}

#: the student's own helpers a check is given (by keyword) when the notebook defines them
HELPERS = {"convolve1d": ("correlate1d",), "conv2d_single": ("zero_pad", "conv_output_size")}


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
    needed = ARGUMENTS.get(name, (name,))
    missing = [n for n in needed if n not in namespace]
    if missing:
        print(f"✗ {name}: `{missing[0]}` is not defined yet. Run the cell that defines it first.")
        return False
    helpers = {h: namespace[h] for h in HELPERS.get(name, ()) if h in namespace}
    try:
        result = CHECKS[name](*(namespace[n] for n in needed), **helpers)
    except AssertionError as failure:
        print(f"✗ {name}: not yet.\n\n{failure}")
        return False
    print(f"✓ {result!r}")
    return True


def check_all(namespace=None):
    """Self-check every exercise defined in ``namespace``; returns {name: passed}."""
    if namespace is None:
        namespace = inspect.currentframe().f_back.f_globals
    return {name: check(name, namespace) for name in CHECKS
            if all(n in namespace for n in ARGUMENTS.get(name, (name,)))}


__all__ = ["check", "check_all", "CHECKS", "CheckFailure", "CheckResult", "SourceFunction", "Suspect",
           "assert_matches", "check_alexnet_table", "check_filter_weights", "check_filter_count",
           "check_loss_decreases", "check_accuracy", "check_trained_numpy_cnn", "check_trained_torch_cnn"] + [
    fn.__name__ for fn in CHECKS.values()]
