"""Training loops: one for the NumPy network of :mod:`cnnlab.nn`, one for PyTorch.

The two take the same arguments and return the same record::

    history = fit_numpy(model, (x_train, y_train), (x_val, y_val), epochs=3, lr=0.05)   # cnnlab.nn
    history = fit(model, (x_train, y_train), (x_val, y_val), epochs=3, lr=3e-3)         # torch

Both show a tqdm progress bar per epoch (loss and accuracy so far), follow the same
learning-rate schedule (:func:`lr_at`, stepped after every batch) and return a
:class:`History`, a dict of per-epoch lists::

    train_loss, train_acc    mean over the epoch's training batches
    val_loss,   val_acc      on the held-out data after the epoch (when given)
    epoch_time               seconds of training in the epoch (evaluation excluded)
    lr                       learning rate at the end of the epoch

(``test_loss``/``test_acc`` are older names of the same two lists.)
:func:`train_numpy` is the older NumPy loop with its own optimiser and loss objects.

torch is imported only inside the PyTorch functions, so the NumPy half works
without it.
"""

import contextlib
import math
import os
import time
import warnings

import numpy as np

from cnnlab._validation import check_choice, check_int, check_positive_float
from cnnlab.data import batches
from cnnlab.models import numpy_mnist_cnn  # noqa: F401  (it lived here before cnnlab.models)

# Deterministic matrix products on CUDA need cuBLAS's workspace configured before cuBLAS starts
# (PyTorch's reproducibility notes). torch is not imported yet here, so set it now, unless the
# user chose a value; deterministic() checks it again.
CUBLAS_WORKSPACE_CONFIG = ":4096:8"
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)


class History(dict):
    """Per-epoch training record: a dict of lists, one entry per epoch.

    Keys: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``epoch_time``,
    ``lr``. The validation lists hold ``nan`` for epochs without validation data.
    ``test_loss`` and ``test_acc`` are the older names of ``val_loss`` and
    ``val_acc``: the same list objects under a second key.
    """

    RECORDED = ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time", "lr")
    OLD_NAMES = {"test_loss": "val_loss", "test_acc": "val_acc"}
    KEYS = RECORDED + tuple(OLD_NAMES)

    def __init__(self, *args, **kwargs):
        super().__init__({key: [] for key in self.RECORDED})
        for old, new in self.OLD_NAMES.items():
            self[old] = self[new]
        for key, values in dict(*args, **kwargs).items():
            self[self.OLD_NAMES.get(key, key)][:] = values

    def append(self, **values):
        """Add one epoch: ``append(train_loss=..., val_acc=..., ...)``; missing keys get nan."""
        for old, new in self.OLD_NAMES.items():
            if old in values:
                values.setdefault(new, values.pop(old))
        for key in self.RECORDED:
            self[key].append(float(values.get(key, math.nan)))

    @property
    def epochs(self):
        return len(self["train_loss"])

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.items() if v and k not in self.OLD_NAMES}
        return f"History({self.epochs} epochs, last: {last})"


SCHEDULES = (None, "onecycle", "cosine")


def _check_schedule(schedule):
    return check_choice(schedule, "schedule", SCHEDULES)


def _cosine_ramp(t):
    """1 at t = 0 down to 0 at t = 1, along half a cosine wave."""
    return (1 + math.cos(math.pi * t)) / 2


def lr_at(step, total_steps, base_lr, schedule, warmup=0.2):
    """Learning rate for ``step`` (0-based) of ``total_steps``: the one schedule both loops use.

    With ``t = step / (total_steps - 1)`` going from 0 at the first step to 1 at the last:

    * ``None`` keeps ``base_lr``;
    * ``"cosine"``: ``base_lr * (0.001 + 0.999 * (1 + cos(pi t)) / 2)``, from ``base_lr``
      down to ``base_lr / 1000``;
    * ``"onecycle"``: up from ``base_lr / 10`` to ``base_lr`` over the first ``warmup``
      fraction of the steps, then down to ``base_lr / 1000`` at the last step, both along
      half a cosine wave (the shape of PyTorch's ``OneCycleLR``).
    """
    if schedule is None:
        return base_lr
    t = step / max(total_steps - 1, 1)
    if schedule == "cosine":
        return base_lr * (0.001 + 0.999 * _cosine_ramp(t))
    if t < warmup:  # onecycle, rising part
        return base_lr * (0.1 + 0.9 * (1 - _cosine_ramp(t / warmup)))
    return base_lr * (0.001 + 0.999 * _cosine_ramp((t - warmup) / (1 - warmup)))


def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=True, disable=not enabled)


def _check_xy(x, y, name_x="x", name_y="y"):
    if len(x) != len(y):
        raise ValueError(f"{name_x} has {len(x)} examples but {name_y} has {len(y)}; they must match")
    if len(x) == 0:
        raise ValueError(f"{name_x} is empty; need at least one example")


def _check_data(data, name):
    """An ``(x, y)`` pair of arrays or tensors with as many labels as examples, x not uint8 pixels."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be an (x, y) pair of arrays or tensors, got {type(data).__name__}")
    x, y = data
    if str(x.dtype).endswith("uint8"):
        raise TypeError(f"{name}: x is uint8 pixels; normalise first, e.g. with cnnlab.data.mnist_arrays")
    _check_xy(x, y, f"{name} x", f"{name} y")
    return x, y


def _check_common(epochs, lr, batch_size, optimizer, optimizers, schedule):
    """The arguments fit and fit_numpy share, checked the same way."""
    check_int(epochs, "epochs", minimum=1)
    check_positive_float(lr, "lr")
    check_int(batch_size, "batch_size", minimum=1)
    check_choice(optimizer, "optimizer", optimizers)
    _check_schedule(schedule)


# ============================================================================ NumPy


@contextlib.contextmanager
def _eval_mode(model):
    """Switch ``model`` to evaluation mode for a block, then restore its mode."""
    was_training = getattr(model, "training", True)
    model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


def evaluate_numpy(model, loss, x, y, batch_size=500):
    """Mean loss and accuracy of a :mod:`cnnlab.nn` model on ``x`` ``(N, ...)``, ``y`` ``(N,)``.

    Runs in evaluation mode (restored afterwards). Returns ``(loss, accuracy)``.
    """
    _check_xy(x, y)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    total_loss, correct = 0.0, 0
    with _eval_mode(model):
        for xb, yb in batches(x, y, batch_size, shuffle=False):
            logits = model.forward(xb)
            total_loss += loss.forward(logits, yb) * len(yb)  # loss is a batch mean
            correct += int((logits.argmax(axis=1) == yb).sum())
    return total_loss / len(y), correct / len(y)


def predict_numpy(model, x, batch_size=500):
    """Predicted class ``(N,)`` (int64) of a :mod:`cnnlab.nn` model for ``x`` ``(N, ...)``."""
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    out = []
    with _eval_mode(model):
        for start in range(0, len(x), batch_size):
            out.append(model.forward(x[start : start + batch_size]).argmax(axis=1))
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def train_numpy(
    model, loss, optimizer, x, y, epochs=1, batch_size=64, x_val=None, y_val=None, seed=0, progress=True, schedule=None
):
    """Train a :mod:`cnnlab.nn` model with mini-batch SGD; return a :class:`History`.

    ``x`` ``(N, C, H, W)`` float, ``y`` ``(N,)`` integer labels. Each step::

        logits = model.forward(x_batch)
        L = loss.forward(logits, y_batch)
        model.backward(loss.backward())      # fills every layer's grads
        optimizer.step()                     # w -= lr * (momentum-averaged) grad

    The batches are reshuffled every epoch (seeded by ``seed + epoch``).
    ``schedule`` (``None``, ``"onecycle"``, ``"cosine"``; see :func:`lr_at`)
    changes ``optimizer.lr`` at every step, starting from its value now.
    After each epoch the model is evaluated on ``(x_val, y_val)`` if given.
    """
    _check_xy(x, y)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    _check_schedule(schedule)
    if (x_val is None) != (y_val is None):
        raise ValueError("pass both x_val and y_val, or neither")
    base_lr = optimizer.lr
    steps_per_epoch = math.ceil(len(x) / batch_size)
    history = History()
    step = 0
    for epoch in range(epochs):
        model.train()
        seen, loss_sum, correct = 0, 0.0, 0
        bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{epochs}", progress)
        start = time.perf_counter()
        for xb, yb in batches(x, y, batch_size, shuffle=True, seed=seed + epoch):
            optimizer.lr = lr_at(step, epochs * steps_per_epoch, base_lr, schedule)
            logits = model.forward(xb)
            batch_loss = loss.forward(logits, yb)
            model.backward(loss.backward())
            optimizer.step()
            step += 1
            seen += len(yb)
            loss_sum += batch_loss * len(yb)
            correct += int((logits.argmax(axis=1) == yb).sum())
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", refresh=False)
        elapsed = time.perf_counter() - start
        record = dict(train_loss=loss_sum / seen, train_acc=correct / seen, epoch_time=elapsed, lr=optimizer.lr)
        if x_val is not None:
            record["val_loss"], record["val_acc"] = evaluate_numpy(model, loss, x_val, y_val)
            bar.set_postfix(
                loss=f"{record['train_loss']:.4f}", acc=f"{record['train_acc']:.4f}", val_acc=f"{record['val_acc']:.4f}"
            )
        bar.close()
        history.append(**record)
    return history


def fit_numpy(
    model,
    train_data,
    val_data=None,
    epochs=1,
    lr=0.05,
    batch_size=64,
    optimizer="sgd",
    schedule="onecycle",
    weight_decay=0.0,
    seed=0,
    progress=True,
):
    """Train a :mod:`cnnlab.nn` model with cross-entropy; return a :class:`History`.

    The NumPy twin of :func:`fit`: the same arguments (``train_data`` / ``val_data`` are
    ``(x, y)`` pairs, x float ``(N, C, H, W)``, y integer labels ``(N,)``), the same
    schedule (:func:`lr_at`) and the same history keys. ``optimizer="sgd"`` is
    :class:`cnnlab.optim.SGD` with Nesterov momentum 0.9, as ``fit``'s ``"sgd"``.
    Runs :func:`train_numpy` with :class:`cnnlab.nn.SoftmaxCrossEntropy`.
    """
    from cnnlab import nn, optim

    _check_common(epochs, lr, batch_size, optimizer, ("sgd",), schedule)
    x, y = _check_data(train_data, "train_data")
    x_val, y_val = _check_data(val_data, "val_data") if val_data is not None else (None, None)
    opt = optim.SGD(model, lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    return train_numpy(
        model,
        nn.SoftmaxCrossEntropy(),
        opt,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        x_val=x_val,
        y_val=y_val,
        seed=seed,
        progress=progress,
        schedule=schedule,
    )


# ============================================================================ torch


def set_threads(n):
    """Use ``n`` CPU threads for torch's intra-op parallelism; returns the previous count."""
    import torch

    n = check_int(n, "n", minimum=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    return previous


def pick_device(device="auto"):
    """``"auto"`` -> ``cuda`` (an NVIDIA GPU), else ``mps`` (Apple's GPU), else ``cpu``.

    Other values (``"cpu"``, ``"cuda:1"``, a ``torch.device``) pass through.
    """
    import torch

    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _as_tensors(data, device, name):
    """``(x, y)`` arrays or tensors -> float32 x and int64 y tensors on ``device``."""
    import torch

    x, y = (torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a) for a in _check_data(data, name))
    return x.to(device=device, dtype=torch.float32), y.to(device=device, dtype=torch.long)


def _rng_states(torch):
    """Torch's global generators in use: the CPU one, and CUDA's when CUDA has started."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _restore_rng_states(torch, states):
    cpu, cuda = states
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def deterministic(seed=0):
    """Seed torch and ask for deterministic kernels inside the block; everything is restored after.

    Inside: torch's global generators seeded with ``seed``, deterministic algorithms on (an
    operation without a deterministic version warns), cuDNN's deterministic kernels without
    autotuning. After: the previous settings and the previous state of the CPU generator (and of
    CUDA's, when CUDA was already in use), so the caller's random numbers continue as before.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    if torch.cuda.is_available() and os.environ["CUBLAS_WORKSPACE_CONFIG"] not in (":4096:8", ":16:8"):
        warnings.warn(
            f"CUBLAS_WORKSPACE_CONFIG={os.environ['CUBLAS_WORKSPACE_CONFIG']!r}: CUDA matrix "
            "products are reproducible only with ':4096:8' or ':16:8'",
            stacklevel=3,
        )
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    states = _rng_states(torch)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1], before[2]
        _restore_rng_states(torch, states)


def evaluate(model, x, y, batch_size=1000, device=None):
    """Mean cross-entropy and accuracy of a torch ``model`` on ``x`` ``(N, ...)``, ``y`` ``(N,)``.

    Runs in eval mode without gradients (the mode is restored). ``device``
    defaults to the model's. Returns ``(loss, accuracy)`` as floats.
    """
    import torch
    import torch.nn.functional as F

    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if device is None:
        device = next(model.parameters()).device
    x, y = _as_tensors((x, y), device, "data")
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start : start + batch_size])
            yb = y[start : start + batch_size]
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(dim=1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


def predict(model, x, batch_size=1000, device=None):
    """Predicted classes ``(N,)`` (NumPy int64) of a torch ``model`` for ``x`` ``(N, ...)``."""
    import torch

    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if device is None:
        device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    if x.dtype == torch.uint8:
        raise TypeError("x is uint8 pixels; normalise first, e.g. with cnnlab.data.mnist_arrays")
    x = x.to(device=device, dtype=torch.float32)
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(x[start : start + batch_size]).argmax(dim=1).cpu())
    model.train(was_training)
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros(0, np.int64)


def _make_optimizer(model, optimizer, lr, weight_decay):
    import torch

    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


def _make_scheduler(opt, schedule, total_steps):
    """torch's side of :func:`lr_at`: the optimiser's lr times ``lr_at(step, ..., 1.0, schedule)``."""
    import torch

    if schedule is None:
        return None
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_at(step, total_steps, 1.0, schedule))


def fit(
    model,
    train_data,
    val_data=None,
    epochs=1,
    lr=1e-3,
    batch_size=128,
    optimizer="adam",
    schedule="onecycle",
    weight_decay=0.0,
    device="auto",
    seed=0,
    progress=True,
    label_smoothing=0.0,
    test_data=None,
):
    """Train a torch ``model`` with cross-entropy; return a :class:`History`.

    ``train_data`` / ``val_data``: ``(x, y)`` pairs of arrays or tensors,
    x float ``(N, C, H, W)``, y integer labels ``(N,)``; they are moved to the
    device once and sliced into batches there (fast for MNIST-sized data).
    ``test_data`` is the older name of ``val_data``.
    ``optimizer``: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9, Nesterov).
    ``schedule``: ``"onecycle"``, ``"cosine"`` or ``None`` (constant ``lr``), as
    :func:`lr_at` defines them; stepped after every batch.
    ``device="auto"``: CUDA, else Apple's MPS, else the CPU (:func:`pick_device`).
    ``seed`` fixes the shuffling and any randomness inside the model (dropout);
    two runs with the same seed and the same initial weights give identical
    histories on the CPU, and on CUDA too (:func:`deterministic`). Torch's global
    random state is the same after the call as before it.
    :func:`fit_numpy` is the same loop for :mod:`cnnlab.nn` models.
    """
    import torch
    import torch.nn.functional as F

    _check_common(epochs, lr, batch_size, optimizer, ("adam", "adamw", "sgd"), schedule)
    val_data = test_data if val_data is None else val_data
    device = pick_device(device)
    model.to(device)
    x, y = _as_tensors(train_data, device, "train_data")
    val = _as_tensors(val_data, device, "val_data") if val_data is not None else None
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    scheduler = _make_scheduler(opt, schedule, epochs * steps_per_epoch)
    history = History()
    with deterministic(seed):
        shuffler = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            model.train()
            bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{epochs}", progress)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            start = time.perf_counter()
            order = torch.randperm(len(x), generator=shuffler).to(device)
            for step in range(steps_per_epoch):
                index = order[step * batch_size : (step + 1) * batch_size]
                xb, yb = x[index], y[index]
                logits = model(xb)
                loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                used_lr = opt.param_groups[0]["lr"]  # the lr of this step, recorded as fit_numpy does
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss.detach() * len(yb)
                correct += (logits.detach().argmax(dim=1) == yb).sum()
                bar.update(1)
                if progress and (step % 20 == 0 or step == steps_per_epoch - 1):
                    seen = min((step + 1) * batch_size, len(x))
                    bar.set_postfix(
                        loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}", refresh=False
                    )
            if device.type == "cuda":
                torch.cuda.synchronize()
            elif device.type == "mps":
                torch.mps.synchronize()
            elapsed = time.perf_counter() - start
            record = dict(
                train_loss=loss_sum.item() / len(x),
                train_acc=correct.item() / len(x),
                epoch_time=elapsed,
                lr=used_lr,
            )
            if val is not None:
                record["val_loss"], record["val_acc"] = evaluate(model, *val)
                bar.set_postfix(
                    loss=f"{record['train_loss']:.4f}",
                    acc=f"{record['train_acc']:.4f}",
                    val_acc=f"{record['val_acc']:.4f}",
                )
            bar.close()
            history.append(**record)
    return history
