"""``scaled_dot_product_attention`` as torch's, composed from anyad's primitives
(every order of derivative follows, on every backend). Masks as torch: a
boolean mask marks the positions that take part (``True``: attend), a floating
one is added to the scores; ``is_causal`` masks the future. A row with no
position to attend gives NaN, as in torch. The layers are in
:mod:`anyad.nn.attention`.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from ..ops import add, matmul, matrix_transpose, multiply, where
from ..ops.reductions import softmax as _softmax

__all__ = ["scaled_dot_product_attention"]


def _raw(x: Any) -> Any:
    return getattr(x, "value", x)


def _is_bool(x: Any) -> bool:
    raw = _raw(x)
    return _backend.namespace_of(raw).isdtype(raw.dtype, "bool")


def _causal(xp: Any, n_q: int, n_k: int, device: Any) -> Any:
    """``True`` where query ``i`` may see key ``j`` (``j <= i``), as torch's ``tril``."""
    i = xp.reshape(xp.arange(n_q, device=device), (n_q, 1))
    j = xp.reshape(xp.arange(n_k, device=device), (1, n_k))
    return j <= i


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 *, rng: Any = None) -> Any:
    """``softmax(q @ k^T * scale + mask) @ v`` over the last two axes, with leading axes
    broadcast (``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)`` -> ``(..., L, Ev)``).

    Parameters
    ----------
    query, key, value : Variable or array
        The inputs.
    attn_mask : array, optional
        Boolean (``True``: attend) or floating (added to the scores), broadcast to ``(..., L, S)``.
    dropout_p : float
        Dropout on the attention weights (drawn by ``rng``).
    is_causal : bool
        Mask the future (query ``i`` sees keys ``j <= i``); not with ``attn_mask``.
    scale : float, optional
        Default ``1 / sqrt(E)``.
    rng : anyad.random.Generator, optional
        Draws the dropout mask (needed when ``dropout_p > 0``).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> q = ad.Variable(np.eye(2)[None], requires_grad=True)
    >>> out = ad.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    >>> np.round(out.value, 3)
    array([[[1.  , 0.  ],
            [0.33, 0.67]]])
    """
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if len(qs) < 2 or len(ks) < 2 or len(vs) < 2 or qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise ValueError(
            f"anyad.nn.functional.scaled_dot_product_attention: query {qs}, key {ks} and value {vs} must be "
            "(..., L, E), (..., S, E) and (..., S, Ev)")
    if is_causal and attn_mask is not None:
        raise ValueError("anyad.nn.functional.scaled_dot_product_attention: pass attn_mask or is_causal, "
                         "not both (as torch)")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"anyad.nn.functional.scaled_dot_product_attention: dropout_p must be in [0, 1], "
                         f"got {dropout_p}")
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    scores = multiply(matmul(query, matrix_transpose(key)), scale)
    raw = _raw(scores)
    xp = _backend.namespace_of(raw)
    if is_causal:
        attn_mask = _causal(xp, qs[-2], ks[-2], _backend.device_of(raw))
    if attn_mask is not None:
        if _is_bool(attn_mask):
            scores = where(_raw(attn_mask), scores, -math.inf)
        else:
            scores = add(scores, attn_mask)
    weights = _softmax(scores, axis=-1)
    if dropout_p > 0.0:
        if rng is None:
            raise ValueError("anyad.nn.functional.scaled_dot_product_attention: dropout_p > 0 needs a "
                             "generator: rng=anyad.random.default_rng(seed)")
        raw_w = _raw(weights)
        keep = rng.bernoulli(1.0 - dropout_p, size=tuple(raw_w.shape), dtype=raw_w.dtype)
        weights = multiply(weights, keep * (1.0 / (1.0 - dropout_p)))
    return matmul(weights, value)
