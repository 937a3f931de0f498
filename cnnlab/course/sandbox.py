"""Run every grading kernel inside a bubblewrap sandbox.

``nbgrader_config.py`` sets ``c.Execute.kernel_manager_class`` to :class:`SandboxKernelManager`, so
each kernel that ``nbgrader autograde`` (or ``validate``) starts is launched like this::

    python -I -S jail.py --cgroup ... --             (outside: cgroup, hard limits)
      bwrap <view of the file system> --            (the sandbox)
        python -m cnnlab.course.kernel -f kernel.json   (inside: the kernel)

What the kernel sees (everything else does not exist for it):

* ``/usr``, the system libraries, a handful of harmless ``/etc`` files, the Python installation and the
  course's virtual environment, all **read-only**;
* the ``cnnlab`` package, read-only, in a *grading copy* whose ``cnnlab.grading`` holds no checks and no
  references, and whose library builders that an exercise must not call are replaced by stubs
  (:mod:`cnnlab.course.policy`);
* the folder of the notebook being graded, read-only (the kernel works in a copy of it on the
  private ``/tmp``), and MNIST (``$CNNLAB_DATA``), read-only;
* a private ``/tmp`` and ``HOME`` on size-capped tmpfs, thrown away with the kernel;
* one read-write folder holding the kernel's ZMQ sockets (the ``ipc`` transport: the kernel has no
  network at all, not even loopback).

Never visible: ``solutions/``, ``gradebook.db``, ``submitted/`` and ``autograded/`` of other students,
the nbgrader exchange, the instructor's HOME, ``nbgrader_config.py``.

The kernel runs as uid 65534 in its own user, PID, IPC, UTS and network namespaces
(``--unshare-all``), in a new session, and dies with its parent (``--die-with-parent``): when the
kernel is shut down every process it started dies too. Outside bubblewrap, ``cnnlab.course.jail``
puts the process tree in a cgroup that caps the number of processes and the memory when the
machine allows it, and sets hard resource limits (address space, CPU seconds, file size, core
dumps) that the sandboxed code cannot raise again.

Where bubblewrap cannot run (not installed, user namespaces disabled) ``nbgrader autograde`` refuses
to grade unless the instructor sets ``CNNLAB_UNSAFE_NO_SANDBOX=1``; ``nbgrader validate`` then runs
the kernel without a sandbox and logs a warning (validation is a student's own check, not grading).
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile

#: Set to 1 to grade without a sandbox (only for submissions you trust: your own test runs).
UNSAFE_ENV = "CNNLAB_UNSAFE_NO_SANDBOX"
MEMORY_ENV = "CNNLAB_GRADING_MEMORY_GB"
CPU_ENV = "CNNLAB_GRADING_CPU_SECONDS"

DEFAULT_MEMORY_GB = 6.0
DEFAULT_CPU_SECONDS = 1800
DEFAULT_MAX_PROCESSES = 256
DEFAULT_FILE_SIZE_MB = 256
DEFAULT_TMP_MB = 512

#: /etc files a Python kernel needs (name service, time zone, fonts, dynamic linker); nothing secret.
ETC_FILES = (
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "fonts",
    "mime.types",
    "matplotlibrc",
    "timezone",
    "host.conf",
    "hosts",
)

SANDBOX_HOME = "/tmp/home"
SUBMISSION_DIR = "/tmp/submission"  # the graded notebook's folder, read-only
WORK_DIR = "/tmp/work"  # the kernel's working folder: a writable copy of it


class SandboxUnavailable(RuntimeError):
    """Raised when grading needs a sandbox and none can be started on this machine."""


def limits_from_env():
    """The resource limits for one grading kernel, from the environment (defaults above)."""
    return {
        "memory_bytes": int(float(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_GB)) * 1024**3),
        "cpu_seconds": int(os.environ.get(CPU_ENV, DEFAULT_CPU_SECONDS)),
        "max_processes": DEFAULT_MAX_PROCESSES,
        "file_size_bytes": DEFAULT_FILE_SIZE_MB * 1024**2,
        "tmp_bytes": DEFAULT_TMP_MB * 1024**2,
    }


@functools.lru_cache(maxsize=1)
def bwrap_problem():
    """None when bubblewrap can start a sandbox here, else one sentence saying why not."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        done = subprocess.run(
            [
                bwrap,
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--unshare-all",
                "--die-with-parent",
                "--uid",
                "65534",
                "--gid",
                "65534",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        return f"bubblewrap could not create a sandbox: {done.stderr.strip() or done.returncode}"
    return None


def _system_binds():
    """bwrap arguments for /usr, the library and binary folders (kept as symlinks where they are)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        path = os.path.join("/etc", name)
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def python_roots():
    """Folders the kernel's Python needs: the installation, the venv and every site-packages folder."""
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}
    executable = os.path.realpath(sys.executable)
    roots.add(os.path.dirname(os.path.dirname(executable)))
    import site

    for path in site.getsitepackages() + [site.getusersitepackages()]:
        if os.path.isdir(path):
            roots.add(path)
    # Keep the outermost folders only: binding /a and then /a/b would be redundant.
    kept = []
    for root in sorted(roots, key=len):
        if not any(root == k or root.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(root)
    return kept


def bwrap_command(
    kernel_cmd,
    *,
    notebook_dir,
    ipc_dir,
    package_dir,
    package_copy,
    data_dir=None,
    tmp_bytes=DEFAULT_TMP_MB * 1024**2,
    env=None,
    hidden_dirs=(),
    font_list=None,
):
    """The full ``bwrap ...`` command that runs ``kernel_cmd`` in the sandbox described above.

    ``package_copy`` (the grading copy of cnnlab) is mounted where ``package_dir`` (the real package)
    is, so ``import cnnlab`` inside finds the copy.
    """
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--hostname",
        "grading",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(tmp_bytes),
        "--tmpfs",
        "/tmp",
        "--dir",
        SANDBOX_HOME,
    ]
    args += _system_binds()
    for root in python_roots():
        args += ["--ro-bind", root, root]
    for folder in hidden_dirs:  # e.g. scipy, torch: a package whose import fails cleanly
        replacement = hidden_dirs[folder] if isinstance(hidden_dirs, dict) else None
        args += ["--ro-bind", replacement, folder] if replacement else ["--tmpfs", folder]
    args += ["--ro-bind", package_copy, package_dir]
    if font_list:  # matplotlib's font list, built once outside (see cached_font_list)
        args += ["--ro-bind", font_list, f"{SANDBOX_HOME}/.matplotlib/{os.path.basename(font_list)}"]
    if data_dir and os.path.isdir(data_dir):
        data_dir = os.path.realpath(data_dir)
        args += ["--ro-bind", data_dir, data_dir]
    # The notebook's folder, read-only; the kernel works in a copy of it on the size-capped /tmp.
    notebook_dir = os.path.realpath(notebook_dir)
    args += [
        "--ro-bind",
        notebook_dir,
        SUBMISSION_DIR,
        "--bind",
        ipc_dir,
        ipc_dir,
        "--chdir",
        SUBMISSION_DIR,
        "--clearenv",
    ]
    for key, value in sorted((env or {}).items()):
        args += ["--setenv", key, value]
    return args + ["--"] + list(kernel_cmd)


#: Environment variables passed into the sandbox as they are outside (thread counts, locale).
PASSED_ENV = (
    "LANG",
    "LC_ALL",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CNNLAB_NUM_THREADS",
    "TZ",
)


def sandbox_env(data_dir=None, assignment=None):
    """The kernel's whole environment: nothing of the grader's leaks in except the names above."""
    venv_bin = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "TMPDIR": "/tmp",
        "IPYTHONDIR": f"{SANDBOX_HOME}/.ipython",
        "MPLCONFIGDIR": f"{SANDBOX_HOME}/.matplotlib",
        "XDG_CACHE_HOME": f"{SANDBOX_HOME}/.cache",
        "XDG_CONFIG_HOME": f"{SANDBOX_HOME}/.config",
        "XDG_DATA_HOME": f"{SANDBOX_HOME}/.local/share",
        "JUPYTER_RUNTIME_DIR": f"{SANDBOX_HOME}/.jupyter-runtime",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", ""),
        "CNNLAB_GRADING": "1",
    }
    if assignment:
        env["CNNLAB_GRADING_ASSIGNMENT"] = assignment
    if data_dir:
        env["CNNLAB_DATA"] = os.path.realpath(data_dir)
    for key in PASSED_ENV:
        if key in os.environ:
            env[key] = os.environ[key]
    return env


_COPIES = {}


def cached_grading_copy(package_dir, assignment, grading):
    """The grading copy of the package for ``assignment``, made once per grading process.

    Byte-compiled once here (the kernel cannot write bytecode into its read-only copy, and compiling
    the whole package again in every kernel was most of the sandbox's cost); removed at exit.
    """
    import atexit
    import compileall

    from cnnlab.course import policy

    key = (package_dir, assignment, grading)
    if key not in _COPIES or not os.path.isdir(_COPIES[key]):
        root = tempfile.mkdtemp(prefix="cnnlab-package-")
        atexit.register(shutil.rmtree, root, True)
        copy = policy.grading_copy_of_package(package_dir, assignment, os.path.join(root, "cnnlab"), grading=grading)
        compileall.compile_dir(copy, ddir=package_dir, quiet=2)  # tracebacks name the real path
        _COPIES[key] = copy
    return _COPIES[key]


_FONT_LIST = {}  # "path": the file, or None when it could not be built


def cached_font_list():
    """matplotlib's font list (``fontlist-v*.json``), built once per grading process; None if it cannot be.

    Each kernel's HOME is a fresh tmpfs, so without this matplotlib would search the system's fonts
    again in every kernel (about 0.4 CPU-seconds each). A child Python builds the list here with an
    empty HOME, so it names only fonts the kernel can see too (under /usr and matplotlib's own), and
    the file is bound read-only into every sandbox. Should the kernel still find it stale, matplotlib
    simply builds a new one in the kernel's own HOME.
    """
    if "path" not in _FONT_LIST or (_FONT_LIST["path"] and not os.path.isfile(_FONT_LIST["path"])):
        import atexit
        import glob

        root = tempfile.mkdtemp(prefix="cnnlab-fonts-")
        atexit.register(shutil.rmtree, root, True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": root,
            "MPLCONFIGDIR": root,
            "XDG_DATA_HOME": os.path.join(root, "share"),
            "XDG_CACHE_HOME": os.path.join(root, "cache"),
        }
        try:
            subprocess.run(
                [sys.executable, "-c", "import matplotlib.font_manager"],
                env=env,
                timeout=300,
                capture_output=True,
                check=True,
            )
            found = glob.glob(os.path.join(root, "fontlist-v*.json"))
        except (OSError, subprocess.SubprocessError):
            found = []
        _FONT_LIST["path"] = found[0] if found else None
    return _FONT_LIST["path"]


def jail_command(bwrap_cmd, cgroup_name, limits):
    """Wrap the bwrap command in ``cnnlab.course.jail`` (cgroup + hard resource limits)."""
    # run as a plain script in isolated mode: standard library only, no site-packages to scan
    jail_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jail.py")
    return [
        sys.executable,
        "-I",
        "-S",
        jail_script,
        "--cgroup",
        cgroup_name,
        "--memory",
        str(limits["memory_bytes"]),
        "--cpu",
        str(limits["cpu_seconds"]),
        "--processes",
        str(limits["max_processes"]),
        "--file-size",
        str(limits["file_size_bytes"]),
        "--",
        *bwrap_cmd,
    ]


def _make_kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    from cnnlab.course import jail, policy

    class SandboxKernelManager(AsyncKernelManager):
        """A kernel manager whose kernels start in the sandbox, talking over ipc sockets."""

        #: the assignment being graded (set by the trusted executor; read from the path otherwise)
        assignment = None
        _scratch = None
        _cgroup = None
        _ipc = None

        def _grading(self):
            return os.environ.get("NBGRADER_EXECUTION") == "autograde"

        def _use_sandbox(self):
            if os.environ.get(UNSAFE_ENV) == "1":
                self.log.warning("cnnlab: %s=1: the grading kernel runs WITHOUT a sandbox", UNSAFE_ENV)
                return False
            problem = bwrap_problem()
            if problem is None:
                return True
            if self._grading():
                raise SandboxUnavailable(
                    f"cnnlab refuses to autograde without a sandbox: {problem}. Install bubblewrap, or, "
                    f"only for submissions you trust, set {UNSAFE_ENV}=1."
                )
            self.log.warning("cnnlab: no sandbox for this kernel (%s); validation runs unsandboxed", problem)
            return False

        async def _async_pre_start_kernel(self, **kw):
            self._sandboxed = self._use_sandbox()
            if self._sandboxed:
                self._scratch = tempfile.mkdtemp(prefix="cnnlab-kernel-")
                os.chmod(self._scratch, 0o700)
                ipc = os.path.join(self._scratch, "ipc")
                os.mkdir(ipc)
                self.transport = "ipc"
                self.ip = os.path.join(ipc, "k")
                self.connection_file = os.path.join(ipc, "kernel.json")
                self._notebook_dir = os.path.realpath(kw.get("cwd") or os.getcwd())
                self._ipc = ipc
            return await super()._async_pre_start_kernel(**kw)

        def format_kernel_cmd(self, extra_arguments=None):
            if not getattr(self, "_sandboxed", False):
                return super().format_kernel_cmd(extra_arguments)
            import cnnlab

            assignment = self.assignment or os.path.basename(self._notebook_dir)
            package_dir = os.path.dirname(os.path.realpath(cnnlab.__file__))
            package_copy = cached_grading_copy(package_dir, assignment, self._grading())
            data_dir = os.environ.get("CNNLAB_DATA")
            kernel_cmd = [
                sys.executable,
                "-m",
                "cnnlab.course.kernel",
                "-f",
                self.connection_file,
                *(extra_arguments or []),
            ]
            limits = limits_from_env()
            cmd = bwrap_command(
                kernel_cmd,
                notebook_dir=self._notebook_dir,
                ipc_dir=self._ipc,
                package_dir=package_dir,
                package_copy=package_copy,
                data_dir=data_dir,
                tmp_bytes=limits["tmp_bytes"],
                env=sandbox_env(data_dir, assignment),
                hidden_dirs=self._hidden_packages(assignment),
                font_list=cached_font_list(),
            )
            self._cgroup = f"cnnlab-{os.getpid()}-{os.path.basename(self._scratch)}"
            return jail_command(cmd, self._cgroup, limits)

        def _hidden_packages(self, assignment):
            """{installed package folder: a stand-in whose import raises ImportError}."""
            stand_ins = {}
            for folder in policy.hidden_package_dirs(policy.policy_for(assignment)):
                name = os.path.basename(folder)
                stand_in = os.path.join(self._scratch, "hidden", name)
                os.makedirs(stand_in, exist_ok=True)
                with open(os.path.join(stand_in, "__init__.py"), "w") as f:
                    f.write(f"raise ImportError({name!r} + ' is not available while {assignment} is graded')\n")
                stand_ins[folder] = stand_in
            return stand_ins

        # AsyncKernelManager binds these two names to the base class's functions, so they are
        # overridden by name (overriding the underscored coroutines would not be seen).
        async def interrupt_kernel(self):
            # bubblewrap does not forward SIGINT: ask the kernel itself over its control channel.
            if getattr(self, "_sandboxed", False) and self.has_kernel:
                msg = self.session.msg("interrupt_request", content={})
                self._connect_control_socket()
                self.session.send(self._control_socket, msg)
                return
            return await super().interrupt_kernel()

        async def shutdown_kernel(self, now=False, restart=False):
            try:
                return await super().shutdown_kernel(now=now, restart=restart)
            finally:
                self.cleanup_sandbox()

        def lock_ipc_folder(self):
            """Once the kernel's sockets exist, take the folder away from it (it is the one host
            folder the kernel could write to). As root: hand it to an unmapped uid, read-only."""
            if not getattr(self, "_sandboxed", False) or self._ipc is None or os.geteuid() != 0:
                return
            os.chown(self._ipc, 65534, 65534)
            os.chmod(self._ipc, 0o755)

        def cleanup_sandbox(self):
            """Kill whatever is left in the kernel's cgroup and delete its scratch folder."""
            if self._cgroup:
                jail.kill_cgroup(self._cgroup)
                self._cgroup = None
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    return SandboxKernelManager


def __getattr__(name):
    # Built on first use so that importing this module never imports jupyter_client.
    if name == "SandboxKernelManager":
        global SandboxKernelManager
        SandboxKernelManager = _make_kernel_manager_class()
        return SandboxKernelManager
    raise AttributeError(name)
