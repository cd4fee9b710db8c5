"""Activations and layer functions, composed from anyad's primitives.

Nothing here has a derivative rule of its own: every function is built from
primitives (``where``, ``exp``, ``log1p``, ``tanh``, ``erf``, ``logsumexp``, ...),
so gradients of every order follow, on every backend. The forms are chosen
to be numerically stable: no overflow for large inputs and no NaN in the
gradient of a branch that ``where`` throws away. Each function takes
Variables (and returns a Variable) or raw arrays (and returns one).

The losses live in :mod:`anyad.nn.losses` and are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from .._state import autocast_dtype
from ..ops._helpers import autocast_low
from ..ops import (
    add, divide, erf, exp, greater_equal, less_equal, log1p, logsumexp, matmul, matrix_transpose, mean,
    multiply, negative, reshape, sqrt, subtract, take, tanh, where,
)
from ..ops.reductions import softmax as _softmax
from ..variable import Variable
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss, one_hot
from .conv import (
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, pad, unfold,
)
from .interpolate import interpolate
from .normalization import batch_norm, group_norm
from .attention_functional import scaled_dot_product_attention
from .pooling import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)

__all__ = [
    "relu", "gelu", "sigmoid", "softplus", "tanh", "softmax", "log_softmax", "linear", "dropout",
    "layer_norm", "embedding", "one_hot", "mse_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy_with_logits",
    # convolution, pooling, normalisation (anyad.nn.conv, .pooling, .normalization)
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "pad",
    "unfold", "fold", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "batch_norm", "group_norm", "scaled_dot_product_attention", "interpolate",
]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def relu(x: Any) -> Any:
    """``max(x, 0)``; the gradient is 1 where ``x > 0`` and 0 elsewhere (also at 0).
    NaN stays NaN (as in ``maximum`` and torch), with the gradient passed through.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.relu(ad.Variable([-1.0, 0.0, 2.0, float("nan")]))
    Variable([ 0.  0.  2. nan])
    """
    return where(less_equal(x, 0), 0.0, x)  # a Python 0: no array of zeros kept for backward


def gelu(x: Any, approximate: str = "none") -> Any:
    """Gaussian error linear unit ``x * Phi(x) = x/2 * (1 + erf(x / sqrt(2)))``.

    ``approximate="tanh"`` gives ``x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.gelu(ad.Variable([-1.0, 0.0, 1.0]))
    Variable([-0.15865525  0.          0.84134475])
    """
    if approximate == "none":
        inner = erf(multiply(x, _SQRT_HALF))
    elif approximate == "tanh":
        inner = tanh(multiply(add(x, multiply(multiply(multiply(x, x), x), 0.044715)), _SQRT_2_OVER_PI))
    else:
        raise ValueError(f"anyad.nn.functional.gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return multiply(multiply(x, 0.5), add(inner, 1.0))


def _minus_abs(x: Any) -> tuple[Any, Any]:
    """``(x >= 0, -|x|)``, with one-sided (never NaN, never zero-at-0) gradients."""
    nonneg = greater_equal(x, 0)
    return nonneg, where(nonneg, negative(x), x)


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, accurate and finite for any ``x``.

    Computed from ``e = exp(-|x|)`` (which never overflows) as ``1/(1+e)`` for
    ``x >= 0`` and ``e/(1+e)`` below, so tiny values keep their relative precision.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.sigmoid(ad.Variable([-800.0, 0.0, 800.0]))
    Variable([0.  0.5 1. ])
    """
    nonneg, m = _minus_abs(x)
    e = exp(m)
    return divide(where(nonneg, 1.0, e), add(e, 1.0))


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))``: no overflow.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.softplus(ad.Variable([-1000.0, 0.0, 1000.0]))
    Variable([0.00000000e+00 6.93147181e-01 1.00000000e+03])
    """
    nonneg, m = _minus_abs(x)
    return add(where(nonneg, x, 0.0), log1p(exp(m)))


def log_softmax(x: Any, axis: int = -1) -> Any:
    """``x - logsumexp(x)`` along ``axis``: log-probabilities, stable for any scale.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.log_softmax(ad.Variable([1000.0, 1000.0]))
    Variable([-0.69314718 -0.69314718])
    """
    return subtract(x, logsumexp(x, axis=axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``axis``, without overflow (one primitive:
    its gradient needs only its output).

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.softmax(ad.Variable([0.0, 0.0, 1000.0]))
    Variable([0. 0. 1.])
    """
    return _softmax(x, axis=axis)


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``x @ weight.T + bias``, with ``weight`` of shape ``(out_features, in_features)``.

    Examples
    --------
    >>> import anyad as ad
    >>> x, w = ad.Variable([[1.0, 2.0]]), ad.Variable([[1.0, 1.0]])
    >>> ad.nn.functional.linear(x, w, ad.Variable([0.5]))
    Variable([[3.5]])
    """
    if autocast_dtype() is not None:  # inside anyad.amp.autocast: in low precision, bias included
        x, weight, bias = autocast_low(x, weight, bias)
    # x of 3 or more axes: one 2-D product over all leading axes, so the weight's
    # gradient is one product too, not a batched one summed over the batch (lazy
    # sizes that are not known keep the batched form)
    shape = tuple(getattr(_raw(x), "shape", ()))
    flat = len(shape) > 2 and len(getattr(_raw(weight), "shape", ())) == 2 and all(
        isinstance(d, int) for d in shape)
    if flat:
        x = reshape(x, (math.prod(shape[:-1]), shape[-1]))
    y = matmul(x, matrix_transpose(weight))
    if bias is not None:
        y = add(y, bias)
    return reshape(y, shape[:-1] + (_raw(y).shape[-1],)) if flat else y


def dropout(x: Any, p: float, rng: Any, training: bool = True) -> Any:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    ``rng`` is an :class:`anyad.random.Generator` on the backend and device of
    ``x``; the mask is drawn there, in ``x``'s dtype. Identity when not
    ``training`` or when ``p == 0``.

    Examples
    --------
    >>> import anyad as ad
    >>> rng = ad.random.default_rng(0)
    >>> y = ad.nn.functional.dropout(ad.Variable([1.0] * 8), 0.5, rng)
    >>> sorted(set(y.value.tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"anyad.nn.functional.dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    raw = _raw(x)
    if p == 1.0:
        return multiply(x, 0.0)
    mask = rng.bernoulli(1.0 - p, size=tuple(raw.shape), dtype=raw.dtype)
    return multiply(x, mask * (1.0 / (1.0 - p)))


def layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise over the last ``len(normalized_shape)`` axes to mean 0 and variance 1
    (biased variance, ``eps`` added), then scale by ``weight`` and shift by ``bias``.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.layer_norm(ad.Variable([[1.0, 3.0]]), (2,))
    Variable([[-0.999995  0.999995]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    ndim = len(_raw(x).shape)
    if tuple(_raw(x).shape[ndim - len(shape):]) != shape:
        raise ValueError(
            f"anyad.nn.functional.layer_norm: the last axes of an input of shape "
            f"{tuple(_raw(x).shape)} are not {shape}"
        )
    axes = tuple(range(ndim - len(shape), ndim))
    centred = subtract(x, mean(x, axis=axes, keepdims=True))
    # the variance from the same centred values (var(x) would centre x a second time)
    y = divide(centred, sqrt(add(mean(multiply(centred, centred), axis=axes, keepdims=True), eps)))
    if weight is not None:
        y = multiply(y, weight)
    if bias is not None:
        y = add(y, bias)
    return y


def embedding(indices: Any, weight: Any) -> Any:
    """Rows of ``weight`` at integer ``indices`` (any shape): shape ``indices.shape + (dim,)``.

    Repeated indices accumulate their gradients.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> table = ad.Variable([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> ad.nn.functional.embedding(np.array([[2, 0]]), table)
    Variable([[[4. 5.]
               [0. 1.]]])
    """
    idx = _raw(indices)
    if isinstance(indices, Variable):  # recorded: anyad.jit reads new indices (not the traced ones)
        flat = reshape(indices, (-1,))
    else:
        flat = _backend.namespace_of(idx).reshape(idx, (-1,))
    rows = take(weight, flat, axis=0)
    return reshape(rows, tuple(idx.shape) + (tuple(_raw(weight).shape)[1],))
