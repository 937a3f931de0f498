"""Train a torch CNN on full MNIST on the CPU and report test accuracy and time.

Goal: >= 99.0% test accuracy within 60 s of training wall time on 2 CPU threads.

    .venv/bin/python benchmarks/mnist_torch.py                      # the default net
    .venv/bin/python benchmarks/mnist_torch.py --model mnist_cnn --epochs 2

MNIST is read from $CNNLAB_DATA (default: ../shared/data/mnist next to the
repository); nothing is downloaded. Timings on a shared machine are noisy:
when other processes compete for the two cores, torch's two OpenMP threads
wait on each other and an epoch can take 5-10x longer; `--threads 1` is then
much faster and steadier. The last line printed is the headline figure.

Measured (2-core VM shared with other jobs, default settings): 99.27% test
accuracy after 3 epochs; one thread: 55-68 s in all; two threads: 13.5 s for
an epoch that ran while the machine was quiet, minutes when it was not.
"""

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("CNNLAB_DATA", str(REPO.parent / "shared" / "data" / "mnist"))

import torch  # noqa: E402

from cnnlab import models, train  # noqa: E402
from cnnlab.data import mnist_arrays  # noqa: E402

MODELS = {
    "fast": models.fast_mnist_cnn,
    "mnist_cnn": models.mnist_cnn,
    "lenet5": lambda: models.lenet5(input_size=28),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="fast")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goal-accuracy", type=float, default=0.99)
    parser.add_argument("--goal-seconds", type=float, default=60.0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    x_train, y_train = mnist_arrays("train", download=False)
    x_test, y_test = mnist_arrays("test", download=False)
    torch.manual_seed(args.seed)
    model = MODELS[args.model]()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {args.model}: {n_params:,} parameters; {len(x_train)} train / {len(x_test)} test images; "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.optimizer} lr {args.lr} one-cycle; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    cpu_start = time.process_time()
    history = train.fit(model, (x_train, y_train), (x_test, y_test), epochs=args.epochs, lr=args.lr,
                        batch_size=args.batch_size, optimizer=args.optimizer, schedule="onecycle",
                        device="cpu", seed=args.seed, progress=False)
    for epoch in range(history.epochs):
        print(f"epoch {epoch + 1}: {history['epoch_time'][epoch]:.1f} s/epoch, "
              f"train loss {history['train_loss'][epoch]:.4f}, train acc {history['train_acc'][epoch]:.4f}, "
              f"test acc {history['test_acc'][epoch]:.4f}")
    print(f"(process CPU time including evaluation: {time.process_time() - cpu_start:.1f} s)")
    seconds = sum(history["epoch_time"])
    accuracy = history["test_acc"][-1]
    met = accuracy >= args.goal_accuracy and seconds <= args.goal_seconds
    print(f"torch {args.model}: test accuracy {accuracy:.2%} after {seconds:.1f} s of training "
          f"({args.epochs} epochs, {args.threads} threads; goal >= {args.goal_accuracy:.1%} within "
          f"{args.goal_seconds:.0f} s: {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
