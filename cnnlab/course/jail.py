"""``python -m cnnlab.course.jail [limits] -- CMD``: cap a process tree, then become CMD.

Runs outside the sandbox, in the process that will turn into ``bwrap`` (``exec`` keeps the pid):

1. joins a fresh cgroup that caps the number of processes (a fork bomb stops at the cap) and the
   memory of the whole tree, when the machine lets us create one (root with cgroup v1 or v2; on
   other machines the hard resource limits below are the only caps);
2. sets hard resource limits: address space per process, CPU seconds, largest file written, no core
   dumps; the sandboxed code has no privilege that could raise them again;
3. ``exec``-s CMD.

:func:`kill_cgroup` (called by the kernel manager at shutdown) kills anything still in the cgroup
and removes it, so nothing a submission started outlives its grading.
"""

import argparse
import os
import resource
import signal
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroup_dirs(name):
    """The cgroup folders for ``name``: pids and memory (cgroup v1) or one unified folder (v2)."""
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return [os.path.join(CGROUP_ROOT, name)]
    return [
        os.path.join(CGROUP_ROOT, controller, name)
        for controller in ("pids", "memory")
        if os.path.isdir(os.path.join(CGROUP_ROOT, controller))
    ]


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def join_cgroup(name, max_processes, memory_bytes):
    """Create cgroup ``name`` with the two caps and move this process into it; True on success."""
    joined = False
    for folder in _cgroup_dirs(name):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.path.exists(os.path.join(folder, "pids.max")):
                _write(os.path.join(folder, "pids.max"), max_processes)
            if os.path.exists(os.path.join(folder, "memory.limit_in_bytes")):  # v1
                _write(os.path.join(folder, "memory.limit_in_bytes"), memory_bytes)
            if os.path.exists(os.path.join(folder, "memory.max")):  # v2
                _write(os.path.join(folder, "memory.max"), memory_bytes)
            _write(os.path.join(folder, "cgroup.procs"), os.getpid())
            joined = True
        except OSError:
            continue
    return joined


def _pids_in(folder):
    try:
        with open(os.path.join(folder, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except OSError:
        return []


def kill_cgroup(name, wait_seconds=5.0):
    """SIGKILL every process left in cgroup ``name`` and remove the cgroup."""
    for folder in _cgroup_dirs(name):
        if not os.path.isdir(folder):
            continue
        deadline = time.monotonic() + wait_seconds
        while True:
            pids = _pids_in(folder)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(folder)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)


def set_limits(memory_bytes, cpu_seconds, max_processes, file_size_bytes):
    """Hard resource limits for this process and everything it starts."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_bytes, file_size_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if max_processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m cnnlab.course.jail")
    parser.add_argument("--cgroup", required=True)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--file-size", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    join_cgroup(args.cgroup, args.processes, args.memory)
    # RLIMIT_NPROC would count every process of the grader's own user as well; the cgroup's pids.max
    # is the process cap here (and cnnlab.course.kernel sets RLIMIT_NPROC inside the sandbox).
    set_limits(args.memory, args.cpu, None, args.file_size)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
