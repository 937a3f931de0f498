"""Time conv2d and pooling, forward + backward: vectorised NumPy against torch CPU.

    .venv/bin/python benchmarks/conv_speed.py                # 1 thread (the goal: NumPy <= 1.5x torch)
    .venv/bin/python benchmarks/conv_speed.py --threads 2    # 2 threads for both
    .venv/bin/python benchmarks/conv_speed.py --naive        # also time the naive loops (slow)

Each layer runs in float32 and float64 with batch N=64. The NumPy side is timed twice: the
functional pair (``F.conv2d`` then ``F.conv2d_backward``, which rebuilds the im2col columns)
and the ``cnnlab.nn.Conv2d`` layer (whose backward reuses the forward's columns). Torch runs
``torch.nn.functional.conv2d(...).backward(dout)``.

The machine this runs on is shared, so timings are noisy. Each figure is the best of
``--repeats`` runs, NumPy and torch runs interleaved so that both see the same load; the
clock is the process CPU time (``--clock cpu``, default), which a busy neighbour disturbs far
less than the wall clock (``--clock wall``). With one thread both clocks measure the same work.
The last line printed is the headline: the worst NumPy/torch ratio of the nn layers (the goal:
like torch's autograd, a layer's forward keeps what its backward needs) and of the functional
pairs, whose backward has only ``x`` and must redo the forward's im2col or window maxima.

Measured on 2026-11-30 on a quiet machine (load average 0.5-0.9), ``--repeats 11``, one thread,
after separable pooling windows and single validation in the pooling layers (three runs; each
ratio moves by about 0.1 between runs):

* nn layers: conv 0.55-1.15 in float64 and 0.55-1.07 in float32, except float32 32->64 k3
  (1.49-1.57) and 16->32 k5 (1.45-1.54); pooling 0.43-1.11 in float32, 0.97-1.50 in float64.
  Worst: 1.57x (float32 conv 32->64), so the goal is met or missed by noise on that layer. Its
  three matrix products alone take 24-26 ms in OpenBLAS, about torch's whole time (25-30 ms); the
  rest is im2col, col2im and two transposes (about 10 ms).
* functional: as above for conv (worst 1.72x, float32 32->64); pooling up to 2.35x (float64
  overlapping 3x3 max pool), where the backward recomputes the window maxima and their winners.
* ``--threads 2``: torch also splits pooling across both cores and NumPy cannot, so float64
  pooling is 2.1-2.8x for the nn layers; float64 conv is 0.53-1.74x.
"""

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=15, help="best of this many runs (default 15)")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="cpu: process CPU time (default with 1 thread); wall: wall clock (default otherwise)",
    )
    parser.add_argument("--naive", action="store_true", help="also time the naive loops on one sample")
    parser.add_argument("--batch", type=int, default=64)
    return parser.parse_args()


ARGS = parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import cnnlab.functional as F  # noqa: E402
from cnnlab import nn  # noqa: E402

torch.set_num_threads(ARGS.threads)

#: (label, C_in, C_out, H = W, kernel, stride, padding): the MNIST network's layers, the 5x5
#: layer of LeNet and a stride-2 layer.
CONV_LAYERS = [
    ("conv 1->32 28x28 k3 p1", 1, 32, 28, 3, 1, 1),
    ("conv 32->64 14x14 k3 p1", 32, 64, 14, 3, 1, 1),
    ("conv 16->32 12x12 k5 p0", 16, 32, 12, 5, 1, 0),
    ("conv 32->64 14x14 k3 s2", 32, 64, 14, 3, 2, 1),
]
#: (label, mode, C, H = W, kernel, stride, padding)
POOL_LAYERS = [
    ("maxpool 32x28x28 k2 s2", "max", 32, 28, 2, 2, 0),
    ("maxpool 64x13x13 k3 s2", "max", 64, 13, 3, 2, 1),
    ("avgpool 32x28x28 k2 s2", "avg", 32, 28, 2, 2, 0),
]


def clock():
    """The chosen clock in seconds."""
    cpu = ARGS.clock == "cpu" or (ARGS.clock is None and ARGS.threads == 1)
    return time.process_time() if cpu else time.perf_counter()


def best_times(functions, repeats):
    """Best time of each function over ``repeats`` interleaved rounds (after one warm-up round)."""
    for fn in functions:
        fn()
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for k, fn in enumerate(functions):
            start = clock()
            fn()
            best[k] = min(best[k], clock() - start)
    return best


def conv_case(dtype, c_in, c_out, size, k, s, p):
    """The three contenders for one conv layer: functional pair, nn layer, torch."""
    rng = np.random.default_rng(0)
    n = ARGS.batch
    x = rng.standard_normal((n, c_in, size, size)).astype(dtype)
    layer = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, seed=0, dtype=dtype)
    w, b = layer.params["weight"], layer.params["bias"]
    dout = rng.standard_normal(layer.output_shape(x.shape)).astype(dtype)

    def functional_step():
        F.conv2d(x, w, b, s, p)
        F.conv2d_backward(dout, x, w, s, p)

    def layer_step():
        layer.forward(x)
        layer.backward(dout)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dout_t = torch.tensor(dout)

    def torch_step():
        xt.grad = wt.grad = bt.grad = None
        TF.conv2d(xt, wt, bt, s, p).backward(dout_t)

    def naive_step():
        F.conv2d_naive(x[:1], w, b, s, p)
        F.conv2d_backward_naive(dout[:1], x[:1], w, s, p)

    return functional_step, layer_step, torch_step, naive_step


def pool_case(dtype, mode, channels, size, k, s, p):
    """The contenders for one pooling layer: functional pair, nn layer, torch."""
    rng = np.random.default_rng(0)
    n = ARGS.batch
    x = rng.standard_normal((n, channels, size, size)).astype(dtype)
    pool, pool_backward, torch_pool, layer_class = {
        "max": (F.max_pool2d, F.max_pool2d_backward, TF.max_pool2d, nn.MaxPool2d),
        "avg": (F.avg_pool2d, F.avg_pool2d_backward, TF.avg_pool2d, nn.AvgPool2d),
    }[mode]
    layer = layer_class(k, s, p)
    dout = rng.standard_normal(layer.output_shape(x.shape)).astype(dtype)

    def functional_step():
        pool(x, k, s, p)
        pool_backward(dout, x, k, s, p)

    def layer_step():
        layer.forward(x)
        layer.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    dout_t = torch.tensor(dout)

    def torch_step():
        xt.grad = None
        torch_pool(xt, k, s, p).backward(dout_t)

    return functional_step, layer_step, torch_step, None


def main():
    rows = []
    cases = [(label, conv_case, args) for label, *args in CONV_LAYERS] + [
        (label, pool_case, args) for label, *args in POOL_LAYERS
    ]
    for dtype in (np.float32, np.float64):
        for label, make, args in cases:
            functional_step, layer_step, torch_step, naive_step = make(dtype, *args)
            t_f, t_layer, t_torch = best_times([functional_step, layer_step, torch_step], ARGS.repeats)
            t_naive = None
            if ARGS.naive and naive_step is not None:
                t_naive = best_times([naive_step], 1)[0] * ARGS.batch
            rows.append((np.dtype(dtype).name, label, t_f, t_layer, t_torch, t_naive))
            print(
                f"  {np.dtype(dtype).name} {label}: functional {t_f * 1e3:.1f} ms, nn {t_layer * 1e3:.1f} ms, "
                f"torch {t_torch * 1e3:.1f} ms",
                file=sys.stderr,
                flush=True,
            )

    clock_name = (
        "process CPU time" if (ARGS.clock == "cpu" or (ARGS.clock is None and ARGS.threads == 1)) else "wall clock"
    )
    print(
        f"forward + backward, batch N={ARGS.batch}, {ARGS.threads} thread(s) for NumPy's BLAS and torch; "
        f"best of {ARGS.repeats} interleaved runs, {clock_name}; load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'dtype':8} {'layer':26} {'functional':>11} {'nn layer':>10} {'torch':>10} "
        f"{'func/torch':>11} {'nn/torch':>9}" + (f" {'naive/nn':>9}" if ARGS.naive else "")
    )
    print(header)
    print("-" * len(header))
    for dtype, label, t_f, t_layer, t_torch, t_naive in rows:
        line = (
            f"{dtype:8} {label:26} {t_f * 1e3:9.2f}ms {t_layer * 1e3:8.2f}ms {t_torch * 1e3:8.2f}ms "
            f"{t_f / t_torch:11.2f} {t_layer / t_torch:9.2f}"
        )
        if ARGS.naive:
            line += f" {t_naive / t_layer:9.0f}" if t_naive else f" {'':>9}"
        print(line)
    worst_f = max(rows, key=lambda r: r[2] / r[4])
    worst_layer = max(rows, key=lambda r: r[3] / r[4])
    ratio = worst_layer[3] / worst_layer[4]
    print(
        f"summary ({ARGS.threads} thread(s)): NumPy / torch time, worst layer: nn layer "
        f"{ratio:.2f}x ({worst_layer[0]} {worst_layer[1]}; goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}), "
        f"functional {worst_f[2] / worst_f[4]:.2f}x ({worst_f[0]} {worst_f[1]}; its backward recomputes the forward)"
    )


if __name__ == "__main__":
    main()
