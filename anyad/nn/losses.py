"""Losses, composed from primitives and numerically stable.

Each takes predictions (Variables or arrays) and targets (arrays; never
differentiated) and reduces with ``reduction="mean"`` (default), ``"sum"`` or
``"none"``.

Cross-entropy with integer labels needs a gather of one log-probability per
row. The Array API's ``take_along_axis`` is not an anyad primitive yet, so the
gather is composed as a product with a one-hot matrix built from the labels
(``labels[..., None] == arange(C)``): one elementwise product and one sum, the
same cost order as the softmax itself, with a plain elementwise backward (no
scatter) on every backend.
"""

from __future__ import annotations

from typing import Any

from .. import _backend
from ..ops import add, log1p, exp, logsumexp, mean, multiply, negative, subtract, sum, where, greater_equal
from ..variable import Variable

__all__ = ["mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "one_hot"]


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _reduce(loss: Any, reduction: str, name: str) -> Any:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"anyad.nn.functional.{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def one_hot(labels: Any, num_classes: int, dtype: Any = None) -> Any:
    """``labels[..., None] == arange(num_classes)`` as ``dtype`` (bool when None), on the
    labels' backend and device. Not differentiable.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.nn.functional.one_hot(np.array([2, 0]), 3, dtype="float32")
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    raw = _raw(labels)
    xp = _backend.namespace_of(raw)
    if not xp.isdtype(raw.dtype, "integral"):
        raise TypeError(
            f"anyad.nn.functional.one_hot: labels must be integers, got {_backend.describe(raw)}"
        )
    classes = xp.arange(num_classes, dtype=raw.dtype, device=_backend.device_of(raw))
    hot = raw[..., None] == classes
    return hot if dtype is None else xp.astype(hot, _backend.resolve_dtype(xp, dtype))


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error ``(input - target)^2``, reduced.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.mse_loss(ad.Variable([1.0, 2.0]), ad.Variable([0.0, 4.0]))
    Variable(2.5)
    """
    d = subtract(input, target)
    return _reduce(multiply(d, d), reduction, "mse_loss")


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Any:
    """Negative log-likelihood of integer ``target`` classes (classes on the last axis).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.nn.functional.nll_loss(ad.Variable([[-0.5, -1.0]]), np.array([1]))
    Variable(1.0)
    """
    raw = _raw(log_probs)
    hot = one_hot(target, raw.shape[-1], dtype=raw.dtype)
    return _reduce(negative(sum(multiply(log_probs, hot), axis=-1)), reduction, "nll_loss")


def cross_entropy(logits: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    """Softmax cross-entropy from unnormalised ``logits`` (classes on the last axis).

    ``target`` holds integer class labels (shape ``logits.shape[:-1]``) or
    class probabilities (the shape of ``logits``). Computed as
    ``logsumexp(logits) - <target, logits>``: stable for logits of any size.
    ``label_smoothing`` mixes the one-hot target with the uniform distribution
    (as torch does).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.nn.functional.cross_entropy(ad.Variable([[0.0, 0.0], [1000.0, 0.0]]), np.array([0, 0]))
    Variable(0.34657359027997264)
    """
    raw = _raw(logits)
    n_classes = raw.shape[-1]
    traw = _raw(target)
    xp = _backend.namespace_of(traw)
    if xp.isdtype(traw.dtype, "integral"):
        probs = one_hot(traw, n_classes, dtype=raw.dtype)
    else:
        if tuple(traw.shape) != tuple(raw.shape):
            raise ValueError(
                f"anyad.nn.functional.cross_entropy: probability targets must have the logits' shape "
                f"{tuple(raw.shape)}, got {tuple(traw.shape)}"
            )
        probs = traw
    if label_smoothing:
        probs = probs * (1.0 - label_smoothing) + label_smoothing / n_classes
    lse = logsumexp(logits, axis=-1)
    if xp.isdtype(traw.dtype, "integral") or label_smoothing:
        picked = sum(multiply(logits, probs), axis=-1)
        loss = subtract(lse, picked)  # the target probabilities sum to 1
    else:
        loss = subtract(multiply(lse, xp.sum(probs, axis=-1)), sum(multiply(logits, probs), axis=-1))
    return _reduce(loss, reduction, "cross_entropy")


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Any:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1],
    computed as ``(1 - t) x + w softplus(-x)`` with ``w = 1 + (pos_weight - 1) t``:
    no overflow, no ``log(0)``, for logits of any size.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.binary_cross_entropy_with_logits(ad.Variable([0.0, 1000.0]), ad.Variable([1.0, 1.0]))
    Variable(0.34657359027997264)
    """
    x, t = logits, _raw(target)
    nonneg = greater_equal(x, 0)
    # softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), one-sided gradients at 0
    minus_abs = where(nonneg, negative(x), x)
    sp_neg = add(where(nonneg, 0.0, negative(x)), log1p(exp(minus_abs)))
    w = 1.0 if pos_weight is None else add(multiply(subtract(_raw(pos_weight), 1.0), t), 1.0)
    loss = add(multiply(subtract(1.0, t), x), multiply(sp_neg, w))
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
