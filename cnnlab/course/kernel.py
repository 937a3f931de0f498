"""``python -m cnnlab.course.kernel -f kernel.json``: the grading kernel, started inside the sandbox.

Before any notebook code runs it caps the number of processes of the sandbox user (a second cap
beside the jail's cgroup), moves into a writable copy of the submission's folder on the private,
size-capped ``/tmp``, and then starts an ordinary IPython kernel. Nothing here is a defence that
student code could not undo from inside: the defences are the sandbox around this process and the
verdicts computed outside it (:mod:`cnnlab.course.trusted`).
"""

import os
import resource
import shutil
import sys

MAX_PROCESSES = 256


def main():
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    except (ValueError, OSError):
        pass
    from cnnlab.course.sandbox import SUBMISSION_DIR, WORK_DIR

    if os.path.isdir(SUBMISSION_DIR):  # work in a writable copy of the (read-only) submission
        shutil.copytree(SUBMISSION_DIR, WORK_DIR, dirs_exist_ok=True)
        os.chdir(WORK_DIR)
    from ipykernel.kernelapp import launch_new_instance

    sys.argv[0] = "ipykernel_launcher"
    launch_new_instance()


if __name__ == "__main__":
    main()
