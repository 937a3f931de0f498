# --- MNIST (cnnlab.data) ----------------------------------------------------
# Tests never use the network: point CNNLAB_DATA at the shared copy of MNIST
# next to the repository when the user has not set it, and skip tests that
# need MNIST when it is nowhere to be found.
import os as _os
from pathlib import Path as _Path

import pytest as _pytest

_SHARED_MNIST = _Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
if not _os.environ.get("CNNLAB_DATA") and _SHARED_MNIST.is_dir():
    _os.environ["CNNLAB_DATA"] = str(_SHARED_MNIST)


@_pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the four MNIST IDX files ($CNNLAB_DATA); skip if there is none."""
    from cnnlab.data import FILES, find_file

    folder = _os.environ.get("CNNLAB_DATA")
    if not folder or any(find_file(folder, name) is None for name, _ in FILES.values()):
        _pytest.skip(
            f"MNIST not available: set CNNLAB_DATA to a folder with the four IDX files "
            f"(CNNLAB_DATA={folder or 'unset'}; the shared copy {_SHARED_MNIST} is missing or incomplete)"
        )
    return _Path(folder)


@_pytest.fixture(scope="session")
def mnist(mnist_dir):
    """(x_train, y_train, x_test, y_test) uint8 arrays, loaded once per session, never downloaded."""
    from cnnlab.data import load_mnist

    return load_mnist(root=mnist_dir, download=False)


# --- random-configuration counts (tests/test_functional_*.py) ---------------
# Property-test modules keep a Counter named CONFIGS_RUN of the random configurations
# they checked against an oracle; print the totals at the end of the run.
def pytest_terminal_summary(terminalreporter):
    import sys

    counts = {}
    for name, module in list(sys.modules.items()):
        if not name.rsplit(".", 1)[-1].startswith("test_functional"):
            continue
        run = getattr(module, "CONFIGS_RUN", None)
        if run is not None and sum(run.values()):
            counts[name.rsplit(".", 1)[-1]] = sum(run.values())
    if counts:
        detail = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        terminalreporter.write_line(f"random configurations checked against oracles: {sum(counts.values())} ({detail})")
