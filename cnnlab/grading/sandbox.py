"""Start grading kernels inside limits that student code cannot lift.

``nbgrader_config.py`` sets ``c.Execute.kernel_manager_class`` to
:class:`SandboxKernelManager`, so every kernel nbgrader starts (autograde,
validate) gets two protections:

1. **Memory cap.** The kernel is launched through this module's ``main``,
   which sets a hard ``RLIMIT_AS`` (default 6 GiB, ``CNNLAB_GRADING_MEMORY_GB``)
   before ``exec``-ing the real kernel. A notebook that allocates without bound
   gets a ``MemoryError`` in its own cell instead of taking the machine down;
   Python code cannot raise a hard limit again.
2. **Gradebook guard.** The manager (it lives in the trusted nbgrader process,
   not in the kernel) copies ``gradebook.db`` when the kernel starts. If the
   file differs when the kernel shuts down, the notebook's code wrote to it:
   the copy is put back and the incident is logged as an error. nbgrader
   itself does not write to the gradebook while a notebook executes.

What one kernel running as the grader's own user cannot be stopped from doing
(reading files, rewriting other students' *submissions* on disk) needs
operating-system isolation: see the README's instructor section.
"""

import os
import resource
import sys
import time

MEMORY_ENV = "CNNLAB_GRADING_MEMORY_GB"
DEFAULT_MEMORY_GB = 6.0


def memory_limit_bytes():
    """The address-space cap for grading kernels, from the environment."""
    return int(float(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_GB)) * 1024 ** 3)


def find_gradebook(start):
    """``gradebook.db`` in the nearest folder above ``start`` holding ``nbgrader_config.py``."""
    folder = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(folder, "nbgrader_config.py")):
            path = os.path.join(folder, "gradebook.db")
            return path if os.path.exists(path) else None
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _make_kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        """Kernels start under a memory cap; the gradebook is restored if touched."""

        _gradebook = None
        _gradebook_bytes = None

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return [sys.executable, "-m", "cnnlab.grading.sandbox", "--", *cmd]

        async def start_kernel(self, **kw):
            cwd = kw.get("cwd") or os.getcwd()
            self._gradebook = find_gradebook(cwd) or find_gradebook(os.getcwd())
            if self._gradebook:
                self._gradebook_bytes = _read(self._gradebook)
            return await super().start_kernel(**kw)

        async def shutdown_kernel(self, now=False, restart=False):
            await super().shutdown_kernel(now=now, restart=restart)
            self.restore_gradebook()

        def restore_gradebook(self):
            """Put the gradebook back if the notebook's code changed it."""
            if not self._gradebook or self._gradebook_bytes is None:
                return False
            current = _read(self._gradebook)
            if current == self._gradebook_bytes:
                return False
            # Keep the changed file: if another nbgrader process shares this course directory
            # (don't: see docs/instructors.md), its writes are in there.
            kept = f"{self._gradebook}.modified-{os.getpid()}-{int(time.time())}"
            with open(kept, "wb") as f:
                f.write(current)
            with open(self._gradebook, "wb") as f:
                f.write(self._gradebook_bytes)
            self.log.error("cnnlab: the notebook being graded modified %s; the gradebook was restored "
                           "(the modified copy is %s)", self._gradebook, kept)
            return True

    return SandboxKernelManager


def __getattr__(name):
    # Built on first use so that importing cnnlab.grading never imports jupyter_client.
    if name == "SandboxKernelManager":
        global SandboxKernelManager
        SandboxKernelManager = _make_kernel_manager_class()
        return SandboxKernelManager
    raise AttributeError(name)


def main(argv=None):
    """``python -m cnnlab.grading.sandbox -- <kernel command>``: cap memory, then exec."""
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[1:] if argv and argv[0] == "--" else argv
    limit = memory_limit_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
