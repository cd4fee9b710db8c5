"""Attention layers: ``MultiheadAttention`` and ``TransformerEncoderLayer``, as
torch's (argument names, parameter names and shapes, so a torch state dict
loads), composed from anyad's primitives: every order of derivative follows,
on every backend.

Masks follow ``torch.nn.MultiheadAttention``: a boolean ``attn_mask`` marks
what must **not** be attended (``True``: masked; the opposite of
``scaled_dot_product_attention``'s), a floating one is added to the scores;
a ``key_padding_mask`` marks the padding (``True``: ignore).
"""

from __future__ import annotations

import math
from typing import Any

from .. import _backend
from ..ops import add, matmul, matrix_transpose, multiply, reshape, where
from ..ops.manipulation import permute_dims
from ..ops.reductions import mean
from ..ops.reductions import softmax as _softmax
from . import functional as F
from . import init
from .attention_functional import _causal, _is_bool, _raw
from .layers import Dropout, LayerNorm, Linear, _factory, generator
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer"]


def _split_heads(x: Any, batch: int, length: int, heads: int) -> Any:
    """``(batch, length, heads * d)`` -> ``(batch, heads, length, d)``."""
    d = x.shape[-1] // heads
    return permute_dims(reshape(x, (batch, length, heads, d)), (0, 2, 1, 3))


class MultiheadAttention(Module):
    """Multi-head attention, with torch's parameters: ``in_proj_weight``
    ``(3 * embed_dim, embed_dim)`` and ``in_proj_bias`` (or ``q_proj_weight``,
    ``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from
    ``embed_dim``) and ``out_proj`` (a :class:`Linear`). ``forward`` returns
    ``(output, weights)``; the weights are averaged over the heads unless
    ``average_attn_weights=False``, and ``None`` with ``need_weights=False``.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> mha = ad.nn.MultiheadAttention(8, 2, batch_first=True, rng=0)
    >>> x = ad.Variable(np.ones((3, 5, 8), dtype="float32"))
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, rng: Any = None, dtype: Any = None,
                 backend: Any = None, device: Any = None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"anyad.nn.MultiheadAttention: embed_dim={embed_dim} must be a positive multiple "
                             f"of num_heads={num_heads}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("anyad.nn.MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported")
        rng = generator(rng, backend, device)
        self.embed_dim, self.num_heads, self.dropout = int(embed_dim), int(num_heads), float(dropout)
        self.kdim, self.vdim = int(kdim or embed_dim), int(vdim or embed_dim)
        self.batch_first = bool(batch_first)
        e = self.embed_dim
        if self.kdim == e and self.vdim == e:
            self.in_proj_weight = Parameter(init.xavier_uniform((3 * e, e), rng=rng, dtype=dtype))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = Parameter(init.xavier_uniform((e, e), rng=rng, dtype=dtype))
            self.k_proj_weight = Parameter(init.xavier_uniform((e, self.kdim), rng=rng, dtype=dtype))
            self.v_proj_weight = Parameter(init.xavier_uniform((e, self.vdim), rng=rng, dtype=dtype))
        xp, kw = _factory(dtype, rng.backend, rng.device)
        self.in_proj_bias = Parameter(xp.zeros((3 * e,), **kw)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, rng=rng, dtype=dtype)
        if bias:  # torch zeroes the output projection's bias
            self.out_proj.bias = Parameter(xp.zeros((e,), **kw))
        self.attn_dropout = Dropout(self.dropout, rng=rng)

    def _projections(self) -> tuple:
        e = self.embed_dim
        if self.in_proj_weight is not None:
            w = self.in_proj_weight
            ws = (w[:e, :], w[e:2 * e, :], w[2 * e:, :])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return ws, bs

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        for name, x, dim in (("query", query, self.embed_dim), ("key", key, self.kdim),
                             ("value", value, self.vdim)):
            if len(x.shape) != 3 or x.shape[-1] != dim:
                order = "(batch, length, features)" if self.batch_first else "(length, batch, features)"
                raise ValueError(f"anyad.nn.{type(self).__name__}: {name} has shape {tuple(x.shape)}; expected "
                                 f"{order} with {dim} features (unbatched inputs are not supported)")
        if not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (permute_dims(t, (1, 0, 2)) for t in (query, key, value))
        n, length, s = query.shape[0], query.shape[1], key.shape[1]
        (wq, wk, wv), (bq, bk, bv) = self._projections()
        h = self.num_heads
        q = _split_heads(F.linear(query, wq, bq), n, length, h)
        k = _split_heads(F.linear(key, wk, bk), n, s, h)
        v = _split_heads(F.linear(value, wv, bv), n, s, h)
        scores = multiply(matmul(q, matrix_transpose(k)), 1.0 / math.sqrt(self.embed_dim // h))
        raw = _raw(scores)
        xp = _backend.namespace_of(raw)
        if is_causal and attn_mask is None:
            attn_mask = _causal(xp, length, s, _backend.device_of(raw))
            attn_mask = xp.logical_not(attn_mask)  # torch's nn.MultiheadAttention: True marks what to mask
        if attn_mask is not None:  # (L, S) or (N * heads, L, S); True: do not attend
            m = attn_mask if len(attn_mask.shape) == 2 else reshape(attn_mask, (n, h, length, s))
            scores = where(_raw(m), -math.inf, scores) if _is_bool(m) else add(scores, m)
        if key_padding_mask is not None:  # (N, S); True: padding
            kp = reshape(key_padding_mask, (n, 1, 1, s))
            scores = where(_raw(kp), -math.inf, scores) if _is_bool(kp) else add(scores, kp)
        weights = _softmax(scores, axis=-1)
        attended = matmul(self.attn_dropout(weights), v)  # (N, h, L, d)
        out = reshape(permute_dims(attended, (0, 2, 1, 3)), (n, length, self.embed_dim))
        out = self.out_proj(out)
        if not self.batch_first:
            out = permute_dims(out, (1, 0, 2))
        if not need_weights:
            return out, None
        return out, (mean(weights, axis=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and
    layer normalisation (after, or before with ``norm_first=True``), as torch's
    (sub-modules ``self_attn``, ``linear1``, ``linear2``, ``norm1``, ``norm2``,
    ``dropout``, ``dropout1``, ``dropout2``).

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> layer = ad.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
    ...                                       batch_first=True, rng=0)
    >>> layer(ad.Variable(np.ones((2, 4, 8), dtype="float32"))).shape
    (2, 4, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Any = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *, rng: Any = None, dtype: Any = None,
                 backend: Any = None, device: Any = None):
        super().__init__()
        rng = generator(rng, backend, device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            rng=rng, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng, dtype=dtype)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng, dtype=dtype)
        kw = {"dtype": dtype, "backend": rng.backend, "device": rng.device}
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout, self.dropout1, self.dropout2 = (Dropout(dropout, rng=rng) for _ in range(3))
        if activation not in ("relu", "gelu") and not callable(activation):
            raise ValueError(f"anyad.nn.TransformerEncoderLayer: activation must be 'relu', 'gelu' or a "
                             f"function, got {activation!r}")
        self.activation = {"relu": F.relu, "gelu": F.gelu}.get(activation, activation) \
            if isinstance(activation, str) else activation
        self.norm_first = bool(norm_first)

    def _sa(self, x: Any, mask: Any, padding: Any, is_causal: bool) -> Any:
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False, attn_mask=mask,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _ff(self, x: Any) -> Any:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Any:
        x = src
        if self.norm_first:
            x = add(x, self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            return add(x, self._ff(self.norm2(x)))
        x = self.norm1(add(x, self._sa(x, src_mask, src_key_padding_mask, is_causal)))
        return self.norm2(add(x, self._ff(x)))

