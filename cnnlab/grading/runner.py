"""Compatibility: the engine moved to :mod:`cnnlab.grading.engine`; these names stay importable."""

from cnnlab.grading.engine import CheckResult, call_student, copy_args, run_cases

__all__ = ["CheckResult", "call_student", "copy_args", "run_cases"]
