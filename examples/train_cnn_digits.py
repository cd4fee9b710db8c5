"""Train a small convolutional network on scikit-learn's 8x8 digits with anyad, on any backend.

Two 3x3 convolution blocks (Conv2d, BatchNorm2d, ReLU, MaxPool2d), then a
linear classifier; Adam with a cosine schedule; float32. The same script runs
on numpy, CuPy, torch or array_api_strict:

    python examples/train_cnn_digits.py                              # numpy
    python examples/train_cnn_digits.py --backend cupy               # GPU
    python examples/train_cnn_digits.py --backend torch
    python examples/train_cnn_digits.py --backend array_api_strict --device device1

It prints ``test accuracy NN.NN%`` and the time taken, shows a progress bar,
and writes the loss curve to ``--out`` (PNG). Needs the ``examples`` extra.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import array_api_compat
import numpy as np

import anyad as ad
from anyad import nn, optim
from anyad.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_digits import batches, limit_threads, load_data, plot, to_backend  # noqa: E402

DEFAULT_OUT = "cnn_digits_loss.png"


def images(x_train: np.ndarray, x_test: np.ndarray) -> tuple:
    """Flat 64-pixel rows as ``(N, 1, 8, 8)`` images, centred and scaled by the training set."""
    mean, std = x_train.mean(), x_train.std()
    return tuple(((x - mean) / std).reshape(-1, 1, 8, 8) for x in (x_train, x_test))


def build(rng, dtype: str, width: int, backend: str, device) -> nn.Module:
    """conv-bn-relu x2, pool (8 -> 4), conv-bn-relu, pool (4 -> 2), linear."""
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False, rng=rng, dtype=dtype),
                nn.BatchNorm2d(cout, dtype=dtype, backend=backend, device=device), nn.ReLU()]

    return nn.Sequential(*block(1, width), *block(width, width), nn.MaxPool2d(2),
                         *block(width, 2 * width), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.3, rng=rng), nn.Linear(8 * width, 10, rng=rng, dtype=dtype))


def evaluate(model, x, y) -> tuple:
    """Mean loss and accuracy on ``(x, y)`` as device arrays, in evaluation mode."""
    model.eval()
    with ad.no_grad():
        logits = model(x).value
    model.train()
    xp = array_api_compat.array_namespace(logits)
    return F.cross_entropy(logits, y), xp.mean(xp.astype(xp.argmax(logits, axis=1) == y, logits.dtype))


def run(backend: str = "numpy", device=None, epochs: int = 20, seed: int = 0, batch_size: int = 64,
        lr: float = 5e-3, width: int = 16, dtype: str = "float32", progress: bool = True,
        threads: int = 1) -> dict:
    """Train and evaluate; returns per-epoch losses, accuracies and times, and the final accuracy."""
    from tqdm import tqdm

    with limit_threads(threads, backend):
        x_train, x_test, y_train, y_test = load_data(seed)
        data = to_backend((*images(x_train, x_test), y_train, y_test), backend, device, dtype)
        x_train, x_test, y_train, y_test = data
        rng = ad.random.default_rng(seed, backend=backend, device=device)
        model = build(rng, dtype, width, backend, device)
        optimizer = optim.Adam(model.parameters(), lr=lr)
        schedule = optim.CosineAnnealingLR(optimizer, T_max=epochs)
        xp = array_api_compat.array_namespace(x_train)
        n = x_train.shape[0]
        history = {"train_loss": [], "test_loss": [], "test_accuracy": [], "epoch_seconds": []}
        bar = tqdm(range(epochs), desc=f"cnn digits on {backend}", unit="epoch", disable=not progress,
                   file=sys.stderr)
        for _ in bar:
            start = time.perf_counter()
            total = 0.0
            for idx in batches(rng, n, batch_size):
                xb = xp.take(x_train, idx, axis=0)
                loss = F.cross_entropy(model(xb), xp.take(y_train, idx, axis=0))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total = total + loss.value * idx.shape[0]  # stays on the device
            schedule.step()
            test_loss, test_acc = evaluate(model, x_test, y_test)
            train_loss, test_loss, test_acc = float(total) / n, float(test_loss), float(test_acc)  # one sync
            history["epoch_seconds"].append(time.perf_counter() - start)
            history["train_loss"].append(train_loss)
            history["test_loss"].append(test_loss)
            history["test_accuracy"].append(test_acc)
            bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{test_acc:.4f}")
    history["accuracy"] = history["test_accuracy"][-1]
    history["model"] = model
    return history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", help="numpy (default), cupy, torch or array_api_strict")
    parser.add_argument("--device", default=None,
                        help="e.g. cuda:0 (cupy, torch), device1 (array_api_strict)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first convolutions")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out", default=DEFAULT_OUT, help="loss-curve PNG ('' to skip)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for BLAS/OpenMP (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    history = run(args.backend, args.device, args.epochs, args.seed, args.batch_size, args.lr, args.width,
                  args.dtype, progress=not args.no_progress, threads=args.threads)
    seconds = time.perf_counter() - start
    where = args.backend + (f" ({args.device})" if args.device else "")
    steady = history["epoch_seconds"][1:] or history["epoch_seconds"]
    print(f"backend {where}, {args.dtype}, seed {args.seed}: test accuracy {100 * history['accuracy']:.2f}% "
          f"after {args.epochs} epochs in {seconds:.1f} s "
          f"({1000 * statistics.median(steady):.0f} ms per epoch)")
    if args.out:
        plot(history, args.out, f"anyad CNN on digits ({where}, {args.dtype})")
        print(f"loss curve written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
