"""The student server configuration (docs/jupyterhub/student/) really switches the Formgrader off.

A real ``jupyter server`` is started twice on loopback, with an empty user config folder: once as
installed (the control: nbgrader enables its Formgrader server extension), once with the student
configuration on JUPYTER_CONFIG_PATH, as the student image sets it. The Formgrader's URL must
answer 404 in the second server, while the students' own nbgrader endpoints still answer.
"""

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab_server import free_port

pytestmark = pytest.mark.slow

STUDENT_CONFIG = Path(__file__).resolve().parents[1] / "docs" / "jupyterhub" / "student"


def _status(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _serve_and_probe(tmp_path, name, config_path, paths):
    """Start ``jupyter server``, return {path: HTTP status} for each path (redirects followed)."""
    root, home = tmp_path / f"{name}-root", tmp_path / f"{name}-home"
    root.mkdir()
    home.mkdir()
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"))
    env.pop("JUPYTER_CONFIG_PATH", None)
    if config_path:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    port, token = free_port(), secrets.token_hex(16)
    log = open(home / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                               f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={root}"], cwd=root, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while _status_or_none(f"{base}/api/status?token={token}") != 200:
            assert server.poll() is None, (home / "server.log").read_text()
            assert time.monotonic() < deadline, "jupyter server did not start:\n" + (home / "server.log").read_text()
            time.sleep(0.5)
        return {path: _status(f"{base}{path}?token={token}") for path in paths}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _status_or_none(url):
    try:
        return _status(url)
    except OSError:
        return None


def test_formgrader_is_off_in_the_student_server_and_on_without_it(tmp_path):
    paths = ["/formgrader", "/formgrader/manage_assignments", "/assignments"]
    control = _serve_and_probe(tmp_path, "control", None, paths)
    assert control["/formgrader/manage_assignments"] == 200, control  # nbgrader's default: enabled
    student = _serve_and_probe(tmp_path, "student", STUDENT_CONFIG, paths)
    assert student["/formgrader"] == 404 and student["/formgrader/manage_assignments"] == 404, student
    assert student["/assignments"] == control["/assignments"] != 404, (control, student)
