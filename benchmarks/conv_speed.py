"""Time conv2d forward + backward: naive loops, vectorised NumPy and torch (CPU, 2 threads).

Run with ``.venv/bin/python benchmarks/conv_speed.py``. The naive loops are timed on a slice
of the batch (NAIVE_N samples) and scaled linearly to the full batch, which is exact for
per-sample loops up to timer noise.
"""

import time

import numpy as np
import torch
import torch.nn.functional as TF

import cnnlab.functional as F

torch.set_num_threads(2)
N, NAIVE_N, REPEATS = 64, 1, 5
CONFIGS = [("1->32 28x28 k3 p1", 1, 32, 28), ("32->64 14x14 k3 p1", 32, 64, 14)]


def best_time(fn, repeats=REPEATS):
    """Fastest of ``repeats`` runs after one warm-up run (seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rows = []
    for dtype in (np.float32, np.float64):
        for label, c_in, c_out, size in CONFIGS:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N, c_in, size, size)).astype(dtype)
            w = rng.standard_normal((c_out, c_in, 3, 3)).astype(dtype)
            b = rng.standard_normal(c_out).astype(dtype)
            dout = rng.standard_normal((N, c_out, size, size)).astype(dtype)

            def numpy_step():
                F.conv2d(x, w, b, 1, 1)
                F.conv2d_backward(dout, x, w, 1, 1)

            xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
            dout_t = torch.tensor(dout)

            def torch_step():
                xt.grad = wt.grad = bt.grad = None
                TF.conv2d(xt, wt, bt, 1, 1).backward(dout_t)

            xs, ds = x[:NAIVE_N], dout[:NAIVE_N]

            def naive_step():
                F.conv2d_naive(xs, w, b, 1, 1)
                F.conv2d_backward_naive(ds, xs, w, 1, 1)

            t_np, t_torch = best_time(numpy_step), best_time(torch_step)
            t_naive = best_time(naive_step, repeats=1) * N / NAIVE_N
            rows.append((np.dtype(dtype).name, label, t_naive, t_np, t_torch))

    print(f"conv2d forward + backward, batch N={N}, torch CPU with {torch.get_num_threads()} threads, "
          f"best of {REPEATS} runs")
    print(f"naive loops timed on N={NAIVE_N} sample(s) and scaled x{N // NAIVE_N} to N={N} (one run)")
    header = f"{'dtype':8} {'layer':20} {'naive (s)':>10} {'numpy (s)':>10} {'torch (s)':>10} " \
             f"{'numpy/torch':>12} {'naive/numpy':>12}"
    print(header)
    print("-" * len(header))
    for dtype, label, t_naive, t_np, t_torch in rows:
        print(f"{dtype:8} {label:20} {t_naive:10.3f} {t_np:10.4f} {t_torch:10.4f} "
              f"{t_np / t_torch:12.2f} {t_naive / t_np:12.0f}")
    ratios = [t_np / t_torch for *_, t_np, t_torch in rows]
    speedups = [t_naive / t_np for _, _, t_naive, t_np, _ in rows]
    print(f"summary: vectorised NumPy is {min(ratios):.2f}x-{max(ratios):.2f}x the time of torch CPU and "
          f"{min(speedups):.0f}x-{max(speedups):.0f}x faster than the naive loops")


if __name__ == "__main__":
    main()
