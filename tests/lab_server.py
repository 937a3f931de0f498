"""A throw-away JupyterLab server for the browser tests (tests/test_browser.py).

:class:`LabServer` starts ``jupyter lab`` from the running Python's ``bin/`` folder on a free
loopback port with a random token, serving a temporary folder (never the repository), with its
own runtime, settings and workspace folders so that nothing from the user's JupyterLab leaks in
(no restored tabs, no news pop-ups). Always call :meth:`LabServer.stop` (the test fixture does so
in its finaliser); the server's log is kept in ``<root>/../jupyter-lab.log``.
"""

import json
import os
from pathlib import Path
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# JupyterLab user settings for the test: no toasts (news, update checks) covering the notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jupyter_executable():
    """The ``jupyter`` next to the running Python (the project's .venv/bin/jupyter)."""
    path = Path(sys.executable).parent / "jupyter"
    if not path.exists():
        raise FileNotFoundError(f"no jupyter next to {sys.executable} (looked for {path})")
    return path


class LabServer:
    """``jupyter lab`` serving ``root`` on ``127.0.0.1:port`` with a random token.

    ``home`` holds the server's private runtime/config/settings/workspace folders and its log.
    The server runs with ``cwd=root``, so an ``nbgrader_config.py`` placed in ``root`` is the one
    the nbgrader Validate button loads (as with ``make lab`` from the repository root).
    """

    def __init__(self, root, home):
        self.root, self.home = Path(root), Path(home)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "jupyter-lab.log"
        self.process = None
        self.log_file = None

    # -- life cycle ---------------------------------------------------------

    def start(self, timeout=60.0):
        """Start the server and wait until ``/api/status`` answers."""
        env = dict(os.environ)
        for name in ("runtime", "config", "settings", "workspaces"):
            (self.home / name).mkdir(parents=True, exist_ok=True)
        for rel, settings in LAB_SETTINGS.items():
            path = self.home / "settings" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        env.update(JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                   JUPYTER_CONFIG_DIR=str(self.home / "config"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
                   PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        command = [str(jupyter_executable()), "lab", "--no-browser", "--allow-root",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                   "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}",
                   f"--LabApp.user_settings_dir={self.home / 'settings'}",
                   f"--LabApp.workspaces_dir={self.home / 'workspaces'}",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self.log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                self.api("status")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout:.0f} s:\n"
                           + self.log_tail())

    def stop(self):
        """Stop the server (SIGTERM to its process group, SIGKILL after 10 s) and close the log."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def log_tail(self, chars=4000):
        """The end of the server's log (for failure messages)."""
        if self.log_file is not None:
            self.log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- REST API -----------------------------------------------------------

    def api(self, path, timeout=5.0):
        """GET ``/api/<path>`` with the token; the decoded JSON."""
        request = urllib.request.Request(f"{self.url}/api/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode())

    def lab_url(self, notebook):
        """The JupyterLab URL opening ``notebook`` (a path relative to ``root``)."""
        return f"{self.url}/lab/tree/{urllib.parse.quote(str(notebook))}?token={self.token}"

    def kernel_state(self, notebook):
        """The execution state of the kernel of ``notebook``'s session, or ``None`` if it has none."""
        for session in self.api("sessions"):
            if session.get("path") == str(notebook) and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def wait_for_idle_kernel(self, notebook, timeout=60.0, poll=0.2):
        """Poll ``/api/sessions`` until ``notebook`` has a kernel reporting ``idle``."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.kernel_state(notebook)
            if state == "idle":
                return
            time.sleep(poll)
        raise TimeoutError(f"the kernel of {notebook} is not idle after {timeout:.0f} s "
                           f"(last state: {state}):\n" + self.log_tail())
