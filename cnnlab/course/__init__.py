"""The instructor side of grading: sandboxed kernels, trusted verdicts, audit, class-scale grading.

Nothing in this package runs in a student's kernel. The student side (the checks that test cells
call, ``grading.check("name")``) lives in :mod:`cnnlab.grading`; both share its check engine.
"""
