"""python-autodiff's XOR network, with only the import changed, on any backend.

Run: python examples/xor.py [--backend numpy|torch|array_api_strict] [--epochs 1000] [--seed 0]

:func:`program` is the program of python-autodiff's README (its ``print(E)``
left out), taking the library as its argument ``ad``: ``anyad`` here, and
python-autodiff's ``autodiff`` in ``benchmarks/xor_vs_python_autodiff.py``.
Its parameters start from ``np.random.rand`` as in the original; ``anyad.use``
makes the Tensors (and so the whole computation) live on the chosen backend.
"""

import argparse

import numpy as np

import anyad


def program(ad, epochs=1000):
    """The XOR program: train, and return ``forward`` and the data ``X``, ``Y``."""
    g = ad.Graph()
    X = ad.Tensor([[[0], [0]], [[0], [1]], [[1], [0]], [[1], [1]]], dtype="float64")
    Y = ad.Tensor([[0], [1], [1], [0]], dtype="float64")
    W1 = ad.Tensor(np.random.rand(160, 2), dtype="float64")
    B1 = ad.Tensor(np.random.rand(160, 1), dtype="float64")
    W2 = ad.Tensor(np.random.rand(1, 160), dtype="float64")
    B2 = ad.Tensor(np.random.rand(1, 1), dtype="float64")

    def forward(x):
        Z1 = np.matmul(W1, x) + B1
        A1 = np.tanh(Z1)
        Z2 = np.matmul(W2, A1) + B2
        return Z2

    for i in range(epochs):
        for x, y in zip(X, Y):
            parameters = [W1, B1, W2, B2]
            g.add_variables(*parameters, x, y)
            Z2 = forward(x)
            E = (y - Z2) ** 2
            for param, gradient in zip(parameters, g.gradient(E, parameters)):
                param.assign(param._i - (0.01 * gradient))
    return forward, X, Y


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train python-autodiff's XOR network with anyad.")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "torch", "array_api_strict"])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="seed of np.random for the initial parameters")
    args = parser.parse_args(argv)
    np.random.seed(args.seed)
    with anyad.use(args.backend):
        forward, X, Y = program(anyad, args.epochs)
        print("predictions")
        predictions = [anyad.to_backend(forward(x), "numpy").item() for x in X]  # NumPy, from any backend
    targets = [anyad.to_backend(y, "numpy").item() for y in Y]
    for p, t in zip(predictions, targets):
        print(f"{p:8.4f}  (target {t:.0f})")
    loss = float(np.mean((np.array(predictions) - np.array(targets)) ** 2))
    print(f"backend {args.backend}, {args.epochs} epochs: mean squared error {loss:.6f}")
    return predictions, loss


if __name__ == "__main__":
    main()
