"""Batch and group normalisation, as in torch, composed from anyad's primitives.

Every order of derivative follows from the primitives (``mean``, ``var``,
``sqrt``, ...). ``batch_norm`` in training mode updates the running
statistics it is given in place (as torch does): the update reads the
batch statistics' values, never records, and never reads a device value on
the host.

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
>>> rm, rv = np.zeros(2), np.ones(2)
>>> ad.nn.functional.batch_norm(x, rm, rv, training=True, eps=0.0)
array([[-1., -1.],
       [ 1.,  1.]])
>>> rm, rv
(array([0.2, 2. ]), array([ 1.1, 20.9]))
"""

from __future__ import annotations

from typing import Any

from .. import _backend, _state
from ..backends import transfer
from ..ops import add, divide, mean, multiply, reshape, sqrt, subtract, var
from ..variable import Variable

__all__ = ["batch_norm", "group_norm", "batch_stats_update", "normalize_batch", "normalize_running"]


def _raw(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _affine(y: Any, weight: Any, bias: Any, channels: int, nd: int, who: str) -> Any:
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(_raw(p).shape) != (channels,):
            raise ValueError(f"{who}: {name} of shape {tuple(_raw(p).shape)} does not match {channels} "
                             "channels")
    shape = (channels,) + (1,) * nd
    if weight is not None:
        y = multiply(y, reshape(weight, shape))
    if bias is not None:
        y = add(y, reshape(bias, shape))
    return y


def batch_stats_update(running: Any, batch: Any, momentum: Any,
                       who: str = "anyad.nn.functional.batch_norm") -> Any:
    """``(1 - momentum) * running + momentum * batch`` on raw arrays (never recorded);
    ``momentum`` may be an array (the cumulative average's ``1 / count``).

    Raises while :func:`anyad.jit` builds a program: the update is a side
    effect a replay would not repeat (the running statistics would go stale)."""
    if _state.tracer() is not None:
        raise ValueError(
            f"{who}: updating running statistics inside anyad.jit is not supported (a replay would not "
            "repeat it); compile the evaluation-mode model, or train this layer outside jit"
        )
    return running + momentum * (batch - running)


def _check(x: Any, who: str) -> tuple:
    shape = tuple(_raw(x).shape)
    if len(shape) < 2:
        raise ValueError(f"{who}: the input must have a batch and a channel axis, got shape {shape}")
    return shape


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: Any = 0.1, eps: float = 1e-5) -> Any:
    """Normalise each channel (axis 1) over the batch and spatial axes, as
    ``torch.nn.functional.batch_norm``.

    In training mode (or without running statistics) the batch's mean and
    biased variance normalise; the running statistics, when given, move by
    ``momentum`` towards the batch's mean and unbiased variance, in place.
    In evaluation mode the running statistics normalise.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> mean, var = np.array([0.5]), np.array([0.25])
    >>> ad.nn.functional.batch_norm(np.ones((2, 1, 2)), mean, var, eps=0.0)
    array([[[1., 1.]],
    <BLANKLINE>
           [[1., 1.]]])
    """
    who = "anyad.nn.functional.batch_norm"
    shape = _check(input, who)
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and tuple(_raw(r).shape) != (shape[1],):
            raise ValueError(f"{who}: {name} of shape {tuple(_raw(r).shape)} does not match the input's "
                             f"{shape[1]} channels (input shape {shape})")
    if training or running_mean is None or running_var is None:
        y, mu, v = normalize_batch(input, weight, bias, eps, who, training)
        if training and running_mean is not None:
            _update(running_mean, mu, momentum, who)
        if training and running_var is not None:
            _update(running_var, v, momentum, who)
        return y
    return normalize_running(input, _raw(running_mean), _raw(running_var), weight, bias, eps, who)


def normalize_batch(x: Any, weight: Any, bias: Any, eps: float, who: str, training: bool = True) -> tuple:
    """Batch normalisation by the batch's statistics: ``(y, mean, unbiased variance)``,
    the statistics as raw arrays (for the running averages; never recorded)."""
    shape = _check(x, who)
    c, nd = shape[1], len(shape) - 2
    count = shape[0]
    for n in shape[2:]:
        count *= n
    if training and count <= 1:
        raise ValueError(f"{who}: training needs more than one value per channel, got input shape {shape}")
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (c,) + (1,) * nd
    mu = mean(x, axis=axes)
    v = var(x, axis=axes)
    y = divide(subtract(x, reshape(mu, bshape)), sqrt(add(reshape(v, bshape), eps)))
    return _affine(y, weight, bias, c, nd, who), _raw(mu), _raw(v) * (count / max(count - 1, 1))


def normalize_running(x: Any, running_mean: Any, running_var: Any, weight: Any, bias: Any, eps: float,
                      who: str) -> Any:
    """Batch normalisation by running statistics (evaluation mode)."""
    shape = _check(x, who)
    c, nd = shape[1], len(shape) - 2
    bshape = (c,) + (1,) * nd
    y = divide(subtract(x, reshape(running_mean, bshape)), sqrt(add(reshape(running_var, bshape), eps)))
    return _affine(y, weight, bias, c, nd, who)


def _update(running: Any, batch: Any, momentum: Any, who: str) -> None:
    r = _raw(running)
    new = batch_stats_update(r, batch, momentum, who)
    if not transfer.assign(r, new):
        raise ValueError(
            f"{who}: the running statistics ({_backend.describe(r)}) cannot be updated in place; use "
            "anyad.nn.BatchNorm1d/2d, which rebinds them"
        )


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise each group of ``C / num_groups`` channels of each sample, as
    ``torch.nn.functional.group_norm``, then scale and shift per channel.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> ad.nn.functional.group_norm(np.array([[1.0, 3.0, 5.0, 9.0]]), 2, eps=0.0)
    array([[-1.,  1., -1.,  1.]])
    """
    who = "anyad.nn.functional.group_norm"
    shape = _check(input, who)
    c = shape[1]
    if not isinstance(num_groups, int) or num_groups < 1 or c % num_groups:
        raise ValueError(f"{who}: num_groups={num_groups!r} must divide the {c} channels "
                         f"(input shape {shape})")
    if not shape[0]:
        return _affine(input, weight, bias, c, len(shape) - 2, who)
    x = reshape(input, (shape[0], num_groups, -1))
    mu = mean(x, axis=2, keepdims=True)
    v = var(x, axis=2, keepdims=True)
    y = reshape(divide(subtract(x, mu), sqrt(add(v, eps))), shape)
    return _affine(y, weight, bias, c, len(shape) - 2, who)
