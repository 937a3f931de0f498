"""Which ``pip install`` puts the right PyTorch on this machine (used by the Makefile).

PyPI's torch wheel for Linux is the CUDA build: with it come about twenty
``nvidia-*`` packages, several gigabytes that a laptop without an NVIDIA GPU never
uses. PyTorch publishes CPU-only Linux wheels (version ``X.Y.Z+cpu``) on its own
index, ``https://download.pytorch.org/whl/cpu``. Given that index as an *extra*
index, pip sees both ``2.13.0`` (PyPI) and ``2.13.0+cpu``, and picks ``+cpu``
because a local version label sorts after the plain version.

The rule, per operating system and torch flavour (``TORCH=cpu``, the default, or
``TORCH=cuda``):

==========  ===========================================  ===========================
system      cpu                                          cuda
==========  ===========================================  ===========================
Linux       ``torch==V --extra-index-url <cpu index>``   ``torch==V`` (PyPI's build)
macOS       ``torch==V`` (PyPI's wheel: CPU + Apple MPS) not available
Windows     ``torch==V`` (PyPI's wheel is CPU-only)      ``torch==V --extra-index-url <cu130 index>``
==========  ===========================================  ===========================

One exception on Linux: when pip's own configuration already offers a CPU wheel of
``torch==V`` (a ``find-links`` folder, as on the course's build machine), the extra
index is left out. pip then installs that local wheel and never contacts
download.pytorch.org, which such machines often cannot reach.

This file runs before ``cnnlab`` is installed, so it uses the standard library only::

    python cnnlab/_install.py                        # print the pip arguments for this machine
    python cnnlab/_install.py --torch cuda --system Linux
    python cnnlab/_install.py --run                  # run `python -m pip install <those arguments>`
"""

import argparse
import json
import platform
import subprocess
import sys

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# PyPI's Linux build of torch depends on the CUDA 13 runtime (nvidia-*-cu13 packages);
# the matching Windows CUDA wheels live on this index.
WINDOWS_CUDA_INDEX = "https://download.pytorch.org/whl/cu130"
FLAVOURS = ("cpu", "cuda")
SYSTEMS = ("Linux", "Darwin", "Windows")


def torch_requirement():
    """The pinned requirement, e.g. ``"torch==2.13.0"``."""
    return f"torch=={TORCH_VERSION}"


def torch_install_args(system, flavour="cpu", local_cpu_wheel=False):
    """Arguments for ``pip install`` that give ``flavour`` torch on ``system``.

    ``system`` is ``platform.system()``'s name (``"Linux"``, ``"Darwin"``,
    ``"Windows"``); ``flavour`` is ``"cpu"`` or ``"cuda"``; ``local_cpu_wheel``
    says that pip's configuration already provides ``torch==V+cpu`` (see
    :func:`local_cpu_wheel_available`). Returns a list of strings.
    """
    if system not in SYSTEMS:
        raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour (TORCH=...) must be 'cpu' or 'cuda', got {flavour!r}")
    requirement = [torch_requirement()]
    if system == "Linux":
        if flavour == "cuda" or local_cpu_wheel:
            return requirement
        return requirement + ["--extra-index-url", CPU_INDEX]
    if system == "Darwin":
        if flavour == "cuda":
            raise ValueError("flavour 'cuda' is not available on macOS (PyTorch has no CUDA builds "
                             "for it); use 'cpu', whose wheel also drives Apple's GPU through MPS")
        return requirement
    if flavour == "cuda":  # Windows
        return requirement + ["--extra-index-url", WINDOWS_CUDA_INDEX]
    return requirement


def local_cpu_wheel_available(python=sys.executable, timeout=120):
    """True when pip, without any index, resolves ``torch==V`` to a ``+cpu`` wheel.

    Asks ``python -m pip install --dry-run --no-index`` (so only pip's
    ``find-links`` folders are searched, no network) and reads the version from
    its JSON report.
    """
    command = [python, "-m", "pip", "install", "--dry-run", "--no-index", "--no-deps",
               "--ignore-installed", "--quiet", "--report", "-", torch_requirement()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if result.returncode != 0:
        return False
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return False
    versions = [item["metadata"]["version"] for item in report.get("install", [])
                if item["metadata"]["name"].lower() == "torch"]
    return bool(versions) and versions[0].endswith("+cpu")


def args_for_this_machine(flavour="cpu", system=None, python=sys.executable):
    """:func:`torch_install_args` for ``system`` (default: this machine's)."""
    system = system or platform.system()
    local = system == "Linux" and flavour == "cpu" and local_cpu_wheel_available(python)
    return torch_install_args(system, flavour, local_cpu_wheel=local)


def main(argv=None):
    parser = argparse.ArgumentParser(description="pip arguments that install the right torch build")
    parser.add_argument("--torch", default="cpu", choices=FLAVOURS, help="torch flavour (default: cpu)")
    parser.add_argument("--system", choices=SYSTEMS, help="pretend to be this system (default: this one)")
    parser.add_argument("--run", action="store_true", help="run `python -m pip install` with them")
    options = parser.parse_args(argv)
    try:
        args = args_for_this_machine(options.torch, options.system)
    except ValueError as exc:
        parser.error(str(exc))
    if not options.run:
        print(" ".join(args))
        return 0
    command = [sys.executable, "-m", "pip", "install", "--quiet", *args]
    print("+", " ".join(command), flush=True)
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
