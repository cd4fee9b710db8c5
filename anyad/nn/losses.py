"""Losses, composed from primitives and numerically stable.

Each takes predictions and targets (Variables or arrays; floating targets
are differentiable too, integer class labels are not) and reduces with
``reduction="mean"`` (default), ``"sum"`` or ``"none"``. Shapes must agree
as torch's losses expect them (no silent broadcasting of a (4, 1) prediction
against a (4,) target), and class labels must lie in range: checked where the
labels are in host memory (NumPy, torch on the CPU), where it costs no
synchronisation; labels on a device are read only inside
:func:`anyad.debug_checks`.

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
from .._state import current
from ..ops import (
    add, astype, equal, expand_dims, log1p, exp, logsumexp, mean, multiply, negative, subtract, sum, where,
    greater_equal,
)
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
    if isinstance(labels, Variable):  # recorded, so that anyad.jit recomputes it from new labels
        hot = equal(expand_dims(labels, axis=-1), classes)
        return hot if dtype is None else astype(hot, _backend.resolve_dtype(xp, dtype))
    hot = raw[..., None] == classes
    return hot if dtype is None else xp.astype(hot, _backend.resolve_dtype(xp, dtype))


def _same_shape(a: Any, b: Any, name: str) -> None:
    sa, sb = tuple(_raw(a).shape), tuple(getattr(_raw(b), "shape", ()))
    if sa != sb:
        raise ValueError(
            f"anyad.nn.functional.{name}: the input has shape {sa} and the target {sb}; they must be equal "
            "(broadcasting them would compare every prediction with every target). Reshape one of them, "
            "e.g. input.reshape(target.shape)")


def _check_labels(labels: Any, n_classes: int, name: str) -> None:
    """Class labels in ``[0, n_classes)``: checked where they are in host memory,
    and on a device inside :func:`anyad.debug_checks` (it reads them back)."""
    mod = type(labels).__module__
    on_host = mod == "numpy" or (mod.startswith("torch") and getattr(labels.device, "type", "") == "cpu")
    if (not on_host and not current().debug) or 0 in tuple(labels.shape):
        return
    xp = _backend.namespace_of(labels)
    low, high = _backend.to_numpy(xp.min(labels)).item(), _backend.to_numpy(xp.max(labels)).item()
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise IndexError(f"anyad.nn.functional.{name}: class label {bad} is out of range for {n_classes} classes")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error ``(input - target)^2``, reduced.

    Examples
    --------
    >>> import anyad as ad
    >>> ad.nn.functional.mse_loss(ad.Variable([1.0, 2.0]), ad.Variable([0.0, 4.0]))
    Variable(2.5)
    """
    _same_shape(input, target, "mse_loss")
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
    _check_labels(_raw(target), raw.shape[-1], "nll_loss")
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
    >>> logits = ad.Variable([[0.0, 0.0], [1000.0, 0.0]])
    >>> ad.nn.functional.cross_entropy(logits, np.array([0, 0]))
    Variable(0.34657359027997264)
    """
    raw = _raw(logits)
    n_classes = raw.shape[-1]
    traw = _raw(target)
    xp = _backend.namespace_of(traw)
    labels = xp.isdtype(traw.dtype, "integral")
    if labels:
        if tuple(traw.shape) != tuple(raw.shape[:-1]):
            raise ValueError(
                f"anyad.nn.functional.cross_entropy: class labels must have the logits' shape without its "
                f"last axis, {tuple(raw.shape[:-1])}, got {tuple(traw.shape)}")
        _check_labels(traw, n_classes, "cross_entropy")
        probs = one_hot(target, n_classes, dtype=raw.dtype)
    else:
        if tuple(traw.shape) != tuple(raw.shape):
            raise ValueError(
                f"anyad.nn.functional.cross_entropy: probability targets must have the logits' shape "
                f"{tuple(raw.shape)}, got {tuple(traw.shape)}"
            )
        probs = target  # differentiable when it is a Variable that requires grad
    if label_smoothing:
        probs = add(multiply(probs, 1.0 - label_smoothing), label_smoothing / n_classes)
    lse = logsumexp(logits, axis=-1)
    if labels:
        loss = subtract(lse, sum(multiply(logits, probs), axis=-1))  # the one-hot rows sum to 1
    else:  # rows that need not sum to 1: lse * sum(p) - <p, logits>
        loss = subtract(multiply(lse, sum(probs, axis=-1)), sum(multiply(logits, probs), axis=-1))
    return _reduce(loss, reduction, "cross_entropy")


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Any:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1],
    computed as ``(1 - t) x + w softplus(-x)`` with ``w = 1 + (pos_weight - 1) t``:
    no overflow, no ``log(0)``, for logits of any size.

    Examples
    --------
    >>> import anyad as ad
    >>> logits, target = ad.Variable([0.0, 1000.0]), ad.Variable([1.0, 1.0])
    >>> ad.nn.functional.binary_cross_entropy_with_logits(logits, target)
    Variable(0.34657359027997264)
    """
    _same_shape(logits, target, "binary_cross_entropy_with_logits")
    x, t = logits, target  # the target is differentiable when it is a Variable
    nonneg = greater_equal(x, 0)
    # softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), one-sided gradients at 0
    minus_abs = where(nonneg, negative(x), x)
    sp_neg = add(where(nonneg, 0.0, negative(x)), log1p(exp(minus_abs)))
    # pos_weight is differentiable too (it was unwrapped to a constant: a zero gradient, silently)
    w = 1.0 if pos_weight is None else add(multiply(subtract(pos_weight, 1.0), t), 1.0)
    loss = add(multiply(subtract(1.0, t), x), multiply(sp_neg, w))
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
