"""Run notebooks as a student would (nbclient, no sandbox, no grading) and time them cell by cell.

    .venv/bin/python benchmarks/notebook_cells.py [notebook ...] [--top 6]

Without arguments it runs the seven solution notebooks in ``solutions/``. For each notebook it
prints the wall time (kernel start and shutdown included), the time inside cells, and the slowest
cells; the last line is the total for all of them. This is the floor of what grading a student
costs: ``nbgrader autograde`` runs the same cells, plus the sandbox and the checks. Notebook 06
needs MNIST (``CNNLAB_DATA``); BLAS and torch get one thread each, as on a grading worker.
"""

import argparse
import os
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
_shared = REPO.parent / "shared" / "data" / "mnist"
if not os.environ.get("CNNLAB_DATA") and _shared.is_dir():
    os.environ["CNNLAB_DATA"] = str(_shared)

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


def _seconds(cell):
    """Seconds between the kernel receiving the cell and its reply (nbclient's timing metadata)."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (
        datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    ).total_seconds()


def time_notebook(path):
    """(wall seconds, [(cell seconds, index, grade id, first line)]) of one run of ``path``."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=1800,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(Path(path).parent)}},
    ).execute()
    wall = time.perf_counter() - start
    cells = [
        (_seconds(cell), i, cell.metadata.get("nbgrader", {}).get("grade_id", ""), cell.source.split("\n")[0][:60])
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]
    return wall, cells


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notebooks", nargs="*", default=sorted(str(p) for p in REPO.glob("solutions/*/*.ipynb")))
    parser.add_argument("--top", type=int, default=6, help="slowest cells shown per notebook (default 6)")
    args = parser.parse_args()
    total = 0.0
    for path in args.notebooks:
        wall, cells = time_notebook(path)
        total += wall
        print(f"{Path(path).name}: {wall:.1f} s, of which {sum(c[0] for c in cells):.1f} s in cells")
        for seconds, index, grade_id, first_line in sorted(cells, reverse=True)[: args.top]:
            print(f"  {seconds:6.2f} s  cell {index:>2} {grade_id:<28} {first_line}")
    print(f"all {len(args.notebooks)} notebooks: {total:.1f} s")


if __name__ == "__main__":
    main()
