"""Derivatives with anyad on the default (numpy) backend.

Run: python examples/derivatives.py
"""

import numpy as np

import anyad as ad
from anyad import GradientTracker, Variable

# The GradientTracker face: record inside the block, differentiate after it.
with GradientTracker() as tracker:
    a = Variable([2.0, 5.0])
    b = Variable([1.0, 2.0])
    e = (a + b) / (a * b)
print("d e / d a =", tracker.gradient(e, a))
print("d e / d b =", tracker.gradient(e, b))

# Module functions with the Array API standard's names, and .backward().
x = Variable(np.linspace(-1.0, 1.0, 5), requires_grad=True)
loss = ad.sum(ad.tanh(x) ** 2 + ad.exp(-x) * ad.sin(3.0 * x))
loss.backward()
print("loss =", float(loss))
print("d loss / d x =", x.grad)

# A matrix example: gradient of a least-squares loss with respect to W.
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 3))
y = rng.normal(size=(8, 1))
W = Variable(np.zeros((3, 1)), requires_grad=True)
residual = X @ W - y
ad.mean(residual ** 2).backward()
closed_form = 2.0 / 8 * X.T @ (X @ np.zeros((3, 1)) - y)
print("d mse / d W =", W.grad.ravel(), "(closed form:", closed_form.ravel(), ")")
assert np.allclose(W.grad, closed_form)
