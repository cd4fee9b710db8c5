"""Train an MLP on scikit-learn's 8x8 digits with anyad, on any backend.

The data set ships with scikit-learn (1797 images, no download). The same
script trains on the CPU with numpy, on a CUDA GPU with CuPy, with torch, or
with array_api_strict (its ``device1`` stands in for a GPU: nothing leaves it
during training):

    python examples/train_digits.py                                  # numpy, float32
    python examples/train_digits.py --backend cupy                   # GPU
    python examples/train_digits.py --backend torch --device cpu
    python examples/train_digits.py --backend array_api_strict --device device1
    python examples/train_digits.py --compiled   # the step as one compiled program

It prints the test accuracy and the time per epoch, shows a progress bar with
the loss and accuracy, and writes the loss curve to ``--out`` (PNG).
Needs the ``examples`` extra: ``pip install "anyad[examples]"``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import array_api_compat
import numpy as np

import anyad as ad
from anyad import nn, optim
from anyad.nn import functional as F

DEFAULT_OUT = "digits_loss.png"  # in the current directory; the docs figure: --out docs/img/digits_loss.png


def load_data(seed: int = 0, test_size: float = 0.2) -> tuple:
    """The digits as host float arrays scaled to [0, 1], split into train and test (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple:
    """Centre and scale each pixel with the training set's statistics."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 0.1
    return (x_train - mean) / std, (x_test - mean) / std


def to_backend(data: tuple, backend: str, device, dtype: str) -> tuple:
    """Move the host arrays onto the backend and device (once, before training):
    through DLPack, so NumPy to torch on the CPU copies nothing."""
    x_train, x_test, y_train, y_test = data
    return (ad.to_backend(x_train, backend, device, dtype=dtype),
            ad.to_backend(x_test, backend, device, dtype=dtype),
            ad.to_backend(y_train, backend, device), ad.to_backend(y_test, backend, device))


def build(backend: str, device, seed: int, dtype: str, hidden: int, lr: float, epochs: int,
          dropout: float) -> tuple:
    """The model, its optimizer and schedule, and the generator that shuffles the data,
    all on ``backend``/``device``."""
    rng = ad.random.default_rng(seed, backend=backend, device=device)
    model = nn.MLP([64, hidden, hidden, 10], activation="relu", dropout=dropout, rng=rng, dtype=dtype)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.CosineAnnealingLR(optimizer, T_max=epochs)
    return model, optimizer, schedule, rng


def train_step(model, optimizer, xb, yb):
    """One step: forward, loss, backward, update. Returns the loss (a device array)."""
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.value


def compiled_train_step(model, optimizer):
    """The same step compiled by anyad.optim.compile_step: traced once per batch shape,
    then replayed (forward, backward and Adam's update) with no Python per operation."""
    def loss_fn(xb, yb):
        return F.cross_entropy(model(xb), yb)

    step = optim.compile_step(loss_fn, optimizer, model=model)
    return lambda model, optimizer, xb, yb: step(xb, yb)


def batches(rng, n: int, batch_size: int):
    """Index arrays of shuffled mini-batches (drawn on the device, sliced there)."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:min(start + batch_size, n)]


def evaluate(model, x, y) -> tuple:
    """Mean loss and accuracy on ``(x, y)``, as device arrays (no graph recorded)."""
    model.eval()
    with ad.no_grad():
        logits = model(x).value
    model.train()
    xp = array_api_compat.array_namespace(logits)
    loss = F.cross_entropy(logits, y)
    accuracy = xp.mean(xp.astype(xp.argmax(logits, axis=1) == y, logits.dtype))
    return loss, accuracy


def run(backend: str = "numpy", device=None, epochs: int = 60, seed: int = 0, batch_size: int = 64,
        lr: float = 3e-3, hidden: int = 128, dtype: str = "float32", dropout: float = 0.2,
        progress: bool = True, threads: int = 1, compiled: bool = False) -> dict:
    """Train and evaluate; returns per-epoch losses, accuracies and times, and the final accuracy."""
    with limit_threads(threads, backend):
        return _run(backend, device, epochs, seed, batch_size, lr, hidden, dtype, dropout, progress, compiled)


def _run(backend, device, epochs, seed, batch_size, lr, hidden, dtype, dropout, progress, compiled) -> dict:
    from tqdm import tqdm

    x_train, x_test, y_train, y_test = load_data(seed)
    x_train, x_test = standardise(x_train, x_test)
    x_train, x_test, y_train, y_test = to_backend((x_train, x_test, y_train, y_test), backend, device, dtype)
    model, optimizer, schedule, rng = build(backend, device, seed, dtype, hidden, lr, epochs, dropout)
    step = compiled_train_step(model, optimizer) if compiled else train_step
    xp = array_api_compat.array_namespace(x_train)
    n = x_train.shape[0]

    history = {"train_loss": [], "test_loss": [], "test_accuracy": [], "epoch_seconds": []}
    bar = tqdm(range(epochs), desc=f"digits on {backend}", unit="epoch", disable=not progress, file=sys.stderr)
    for _ in bar:
        start = time.perf_counter()
        total = 0.0
        for idx in batches(rng, n, batch_size):
            xb = xp.take(x_train, idx, axis=0)
            yb = xp.take(y_train, idx, axis=0)
            total = total + step(model, optimizer, xb, yb) * idx.shape[0]  # stays on the device
        schedule.step()
        test_loss, test_acc = evaluate(model, x_test, y_test)
        # one host synchronisation per epoch, to report
        train_loss, test_loss, test_acc = float(total) / n, float(test_loss), float(test_acc)
        history["epoch_seconds"].append(time.perf_counter() - start)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["test_accuracy"].append(test_acc)
        bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{test_acc:.4f}")
    history["accuracy"] = history["test_accuracy"][-1]
    history["model"] = model
    return history


def plot(history: dict, path: str, title: str) -> None:
    """The training and test loss, and the test accuracy, per epoch, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.plot(epochs, history["train_loss"], label="train loss")
    ax.plot(epochs, history["test_loss"], label="test loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    acc = ax.twinx()
    acc.plot(epochs, [100 * a for a in history["test_accuracy"]], color="tab:green", label="test accuracy")
    acc.set_ylabel("test accuracy (%)")
    acc.set_ylim(80, 100)
    lines = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


@contextlib.contextmanager
def limit_threads(n: int, backend: str):
    """Use ``n`` CPU threads in BLAS and OpenMP (and torch) inside the block: for
    matrices this small one thread is fastest, and on a busy machine multi-threaded
    BLAS stalls. Needs threadpoolctl (the ``examples`` extra); a no-op without it."""
    torch_threads = None
    if backend == "torch":
        import torch

        torch_threads = torch.get_num_threads()
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=n)
    try:
        with limits:
            yield
    finally:
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy (default), cupy, torch or array_api_strict")
    parser.add_argument("--device", default=None, help="e.g. cuda:0 (cupy, torch), device1 (array_api_strict)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out", default=DEFAULT_OUT, help="loss-curve PNG ('' to skip)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for BLAS/OpenMP (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--compiled", action="store_true", help="compile the training step (anyad.jit)")
    args = parser.parse_args(argv)

    history = run(args.backend, args.device, args.epochs, args.seed, args.batch_size, args.lr, args.hidden,
                  args.dtype, args.dropout, progress=not args.no_progress, threads=args.threads,
                  compiled=args.compiled)
    times = history["epoch_seconds"]
    steady = times[1:] if len(times) > 1 else times  # the first epoch includes warm-up
    where = args.backend + (f" ({args.device})" if args.device else "")
    where += ", compiled step" if args.compiled else ""
    print(f"backend {where}, {args.dtype}, seed {args.seed}: test accuracy {100 * history['accuracy']:.2f}% "
          f"after {args.epochs} epochs; {1000 * statistics.median(steady):.1f} ms per epoch "
          f"(median; first epoch {1000 * times[0]:.1f} ms)")
    if args.out:
        plot(history, args.out, f"anyad MLP on digits ({where}, {args.dtype})")
        print(f"loss curve written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
