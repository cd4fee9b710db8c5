"""Convolution primitives: ``conv``, ``patches`` (im2col) and ``fold`` (col2im).

Layout as in torch, ``(batch, channels, *spatial)``, any number of spatial
axes. The kernels live in :mod:`anyad.backends.conv` (a portable im2col with
a batched matrix product; torch's own convolution for torch arrays).

* ``patches`` and ``fold`` are linear and each other's adjoint: the VJP of
  one is the other, and each is its own JVP.
* ``conv`` keeps only its two inputs (not the ``K`` times larger windows);
  its VJPs are written with ``patches``, ``fold`` and ``matmul``, so every
  order of derivative follows, and the transposed convolution of
  :mod:`anyad.nn.conv` is the input's VJP applied forward.

The checks on shapes and parameters are the caller's (:mod:`anyad.nn.conv`).

Examples
--------
>>> import anyad as ad
>>> import numpy as np
>>> x = ad.Variable(np.arange(4.0).reshape(1, 1, 4), requires_grad=True)
>>> w = np.array([[[1.0, -1.0]]])
>>> y = conv(x, w, stride=(1,), pads=((0, 0),), dilation=(1,), groups=1)
>>> y
Variable([[[-1. -1. -1.]]])
>>> ad.sum(y).backward()
>>> x.grad
array([[[ 1.,  0.,  0., -1.]]])
"""

from __future__ import annotations

from typing import Any

from .. import _backend
from ..backends import conv as _kernels
from ..graph import OpType, Primitive
from ._core import apply
from .elementwise import add, where
from .indexing import getitem, index_add
from .linalg import matmul, matrix_transpose
from .manipulation import concat, expand_dims, reshape
from .reductions import sum as _sum
from ..variable import Variable

__all__ = ["conv", "patches", "fold", "pad_zeros", "first_max", "window_max"]


def _prod(values: Any) -> int:
    n = 1
    for v in values:
        n *= int(v)
    return n


def _padded(shape: tuple, pads: tuple) -> tuple:
    lead = len(shape) - len(pads)
    return tuple(shape[:lead]) + tuple(n + lo + hi for n, (lo, hi) in zip(shape[lead:], pads))


def pad_zeros(x: Any, pads: tuple) -> Any:
    """``x`` with ``pads`` (``(low, high)`` per trailing axis) of zeros around it
    (``index_add`` into zeros: its VJP crops)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    shape = tuple(x.shape)
    lead = len(shape) - len(pads)
    key = (slice(None),) * lead + tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape[lead:], pads))
    return index_add(x, key, _padded(shape, pads), repeats=False)


def _crop(x: Any, pads: tuple) -> Any:
    if not any(lo or hi for lo, hi in pads):
        return x
    shape = tuple(x.shape)
    lead = len(shape) - len(pads)
    return getitem(x, (slice(None),) * lead + tuple(
        slice(lo, n - hi) for n, (lo, hi) in zip(shape[lead:], pads)))


def _patches_back(g: Any, ans: Any, x: Any, *, kernel: tuple, stride: tuple, dilation: tuple) -> Any:
    return fold(g, tuple(x.shape), kernel, stride, dilation)


def _fold_back(g: Any, ans: Any, cols: Any, *, shape: tuple, kernel: tuple, stride: tuple,
               dilation: tuple) -> Any:
    return patches(g, kernel, stride, dilation)


_PATCHES = Primitive(
    "patches", OpType.PATCHES,
    lambda xp, x, kernel, stride, dilation: _kernels.patches(xp, x, kernel, stride, dilation),
    (_patches_back,))
_PATCHES.jvp = lambda ts, ans, x, **kw: apply(_PATCHES, (ts[0],), kw)
_FOLD = Primitive("fold", OpType.FOLD,
                  lambda xp, c, shape, kernel, stride, dilation: _kernels.fold(xp, c, shape, kernel, stride,
                                                                              dilation),
                  (_fold_back,))
_FOLD.jvp = lambda ts, ans, c, **kw: apply(_FOLD, (ts[0],), kw)


def patches(x: Any, kernel: tuple, stride: tuple, dilation: tuple) -> Any:
    """The windows of ``x`` (``(N, C, *S)``): ``(N, C, prod(kernel), *out)`` (im2col).

    Examples
    --------
    >>> import numpy as np
    >>> patches(np.arange(4.0).reshape(1, 1, 4), (2,), (1,), (1,))[0, 0]
    array([[0., 1., 2.],
           [1., 2., 3.]])
    """
    return apply(_PATCHES, (x,), {"kernel": tuple(kernel), "stride": tuple(stride),
                                  "dilation": tuple(dilation)})


def fold(cols: Any, shape: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> Any:
    """Zeros of ``shape`` with the windows ``cols`` (``(N, C, K, *out)``) added back (col2im).

    Examples
    --------
    >>> import numpy as np
    >>> fold(np.ones((1, 1, 2, 3)), (1, 1, 4), (2,), (1,), (1,))[0, 0]
    array([1., 2., 2., 1.])
    """
    return apply(_FOLD, (cols,), {"shape": tuple(shape), "kernel": tuple(kernel), "stride": tuple(stride),
                                  "dilation": tuple(dilation)})


def _rows(a: Any, lo: int, hi: int, n: int) -> Any:
    return a if (lo, hi) == (0, n) else getitem(a, (slice(lo, hi), Ellipsis))


def conv_input_grad(g: Any, w: Any, shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
                    groups: int) -> Any:
    """The adjoint of ``conv(., w)`` applied to ``g`` (``(N, O, *out)``): an array of
    ``shape`` (the transposed convolution), a few samples of the batch at a time."""
    n, c = int(g.shape[0]), int(shape[1])
    k = _prod(w.shape[2:])
    parts = _kernels.batch_pieces(n, c * k * _prod(g.shape[2:]))
    if len(parts) == 1:
        return _input_grad(g, w, shape, stride, pads, dilation, groups)
    return concat([_input_grad(_rows(g, lo, hi, n), w, (hi - lo,) + tuple(shape[1:]), stride, pads, dilation,
                               groups) for lo, hi in parts], axis=0)


def _input_grad(g: Any, w: Any, shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
                groups: int) -> Any:
    n, c = int(g.shape[0]), int(shape[1])
    o, kernel = int(w.shape[0]), tuple(w.shape[2:])
    outs = tuple(g.shape[2:])
    k = _prod(kernel)
    wr = reshape(w, (groups, o // groups, (c // groups) * k))
    cols = matmul(matrix_transpose(wr), reshape(g, (n, groups, o // groups, _prod(outs))))
    cols = reshape(cols, (n, c, k) + outs)
    return _crop(fold(cols, _padded(tuple(shape), pads), kernel, stride, dilation), pads)


def _own(which: str, a: Any, b: Any, shape: tuple, stride: tuple, pads: tuple, dilation: tuple,
         groups: int) -> Any:
    """The backend's own gradient kernel, for raw arrays only (no graph is being built)."""
    if isinstance(a, Variable) or isinstance(b, Variable):
        return None
    return _kernels.conv_grads(_backend.namespace_of(a), which, a, b, shape, stride, pads, dilation, groups)


def _conv_back_x(g: Any, ans: Any, x: Any, w: Any, *, stride: tuple, pads: tuple, dilation: tuple,
                 groups: int) -> Any:
    own = _own("input", g, w, tuple(x.shape), stride, pads, dilation, groups)
    if own is not None:
        return own
    return conv_input_grad(g, w, tuple(x.shape), stride, pads, dilation, groups)


def _conv_back_w(g: Any, ans: Any, x: Any, w: Any, *, stride: tuple, pads: tuple, dilation: tuple,
                 groups: int) -> Any:
    own = _own("weight", x, g, tuple(w.shape), stride, pads, dilation, groups)
    if own is not None:
        return own
    n, c = int(x.shape[0]), int(x.shape[1])
    total = None
    for lo, hi in _kernels.batch_pieces(n, c * _prod(w.shape[2:]) * _prod(g.shape[2:])):
        part = _weight_grad(_rows(x, lo, hi, n), _rows(g, lo, hi, n), w, stride, pads, dilation, groups)
        total = part if total is None else add(total, part)
    return reshape(total, tuple(w.shape))


def _weight_grad(x: Any, g: Any, w: Any, stride: tuple, pads: tuple, dilation: tuple, groups: int) -> Any:
    """The weight's gradient from the samples of ``x`` and ``g``: ``(groups, O/groups, C/groups * K)``."""
    n, c = int(x.shape[0]), int(x.shape[1])
    o, kernel = int(w.shape[0]), tuple(w.shape[2:])
    cols = patches(pad_zeros(x, pads), kernel, stride, dilation)
    length = _prod(cols.shape[3:])
    cols = reshape(cols, (n, groups, (c // groups) * _prod(kernel), length))
    gr = reshape(g, (n, groups, o // groups, length))
    return _sum(matmul(gr, matrix_transpose(cols)), axis=0)


def _conv_jvp(ts: Any, ans: Any, x: Any, w: Any, **kw: Any) -> Any:
    tx, tw = ts
    out = None if tx is None else apply(_CONV, (tx, w), kw)
    if tw is not None:
        other = apply(_CONV, (x, tw), kw)
        out = other if out is None else add(out, other)
    return out


_CONV = Primitive(
    "conv", OpType.CONV,
    lambda xp, x, w, stride, pads, dilation, groups: _kernels.conv(xp, x, w, stride, pads, dilation, groups),
    (_conv_back_x, _conv_back_w))
_CONV.jvp = _conv_jvp


def conv(x: Any, w: Any, *, stride: tuple, pads: tuple, dilation: tuple, groups: int) -> Any:
    """Cross-correlation of ``x`` (``(N, C, *S)``) with ``w`` (``(O, C/groups, *k)``),
    zero-padded by ``pads`` (one ``(low, high)`` per spatial axis): ``(N, O, *out)``.

    Shapes are not checked here (:func:`anyad.nn.functional.conv2d` does).

    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 3)), np.ones((1, 1, 2))
    >>> conv(x, w, stride=(1,), pads=((1, 1),), dilation=(1,), groups=1)
    array([[[1., 2., 2., 1.]]])
    """
    return apply(_CONV, (x, w), {"stride": tuple(stride), "pads": tuple(tuple(p) for p in pads),
                                 "dilation": tuple(dilation), "groups": int(groups)})


# not differentiable, but a primitive: anyad.jit records it and recomputes it for new inputs
_FIRST_MAX = Primitive("first_max", OpType.CUSTOM, lambda xp, c: _kernels.first_max(xp, c), None,
                       register=False)


def first_max(cols: Any) -> Any:
    """Where the first largest of each window of ``cols`` (``(N, C, K, *out)``) is: a
    boolean mask (not differentiable), true once per window.

    Examples
    --------
    >>> import numpy as np
    >>> first_max(np.array([[[[1.0], [3.0], [3.0]]]]))[0, 0, :, 0]
    array([False,  True, False])
    """
    return apply(_FIRST_MAX, (cols,))


def _window_max_back(g: Any, ans: Any, cols: Any, mask: Any) -> Any:
    return where(mask, expand_dims(g, axis=2), 0.0)


# the largest of each window, its gradient to the element ``mask`` marks (first_max's)
_WINDOW_MAX = Primitive("window_max", OpType.CUSTOM, lambda xp, c, m: xp.max(c, axis=2),
                        (_window_max_back, None), register=False)
_WINDOW_MAX.jvp = lambda ts, ans, c, m: _sum(where(m, ts[0], 0.0), axis=2)


def window_max(cols: Any) -> Any:
    """The largest of each window of ``cols`` (``(N, C, K, *out)``): ``(N, C, *out)``,
    with the gradient to the first largest (a NaN if there is one), as torch's max
    pooling; the backward pass keeps a boolean mask, not the windows.

    Examples
    --------
    >>> import anyad as ad
    >>> import numpy as np
    >>> c = ad.Variable(np.array([[[[1.0], [3.0], [3.0]]]]), requires_grad=True)
    >>> ad.sum(window_max(c)).backward()
    >>> c.grad[0, 0, :, 0]
    array([0., 1., 0.])
    """
    return apply(_WINDOW_MAX, (cols, first_max(cols)))
