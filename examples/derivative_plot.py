"""python-autodiff's higher-derivative plotter, with only the import changed:
sin(x^2 tanh x) and its first three derivatives, saved to a PNG.

Run: python examples/derivative_plot.py [--out derivatives.png]
(needs matplotlib: pip install "anyad[examples]"). The PNG goes to the current
directory; the documentation's figure is made with --out docs/img/derivatives.png.
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")  # headless: the figure goes to a file

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import anyad as ad  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot sin(x^2 tanh x) and its first three derivatives.")
    parser.add_argument("--out", default="derivatives.png",
                        help="PNG to write (default: derivatives.png in the current directory)")
    args = parser.parse_args(argv)

    # --- the program (python-autodiff's example, import changed) ---
    a = ad.Tensor(np.arange(-2, 2, 0.01), dtype="float64")
    d = np.sin((a ** 2) * np.tanh(a))
    g = ad.Graph()
    g.add_variables(a)
    plt.plot(d._i)
    labels = ["function"]
    for i in range(3):
        plt.plot(g.gradient(d, [a], i + 1)[0])
        labels.append(f"derivative {i + 1}")
    plt.legend(labels)
    # --- end of the program; plt.show() becomes a saved file ---

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    plt.savefig(args.out, dpi=100)
    plt.close()
    print(f"saved {args.out}")
    return args.out


if __name__ == "__main__":
    main()
