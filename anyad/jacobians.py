"""Jacobians and Hessians: ``jacrev`` (reverse mode, one backward pass per
output element), ``jacfwd`` (forward mode, one tangent sweep per input element
over a single recorded forward pass), ``hessian`` and ``hvp``.

Part of the functional face (built on :mod:`anyad.functional`):
same conventions, pytrees and composition rules.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from . import _backend
from ._pytree import tree_unflatten
from .forward import ForwardSweep
from .functional import _argnums, _grad, _left_graph, _partial, _Recorded, _unwrap, grad, jvp
from .backprop import backprop
from ._tracing import TracingError
from ._state import ALL, OFF, recording
from .ops.creation import zeros_like
from .ops.manipulation import moveaxis, reshape, stack
from .variable import Variable, wrap

__all__ = ["jacrev", "jacfwd", "jacobian", "hessian", "hvp"]


def _size(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _one_hot(like: Any, i: int, shape: tuple) -> Any:
    """Zeros shaped ``shape`` with a one at flat position ``i`` (``like``'s
    namespace, dtype and device), built without leaving the device."""
    xp = _backend.namespace_of(like)
    n = _size(shape)
    idx = xp.arange(n, device=_backend.device_of(like))
    return xp.reshape(xp.astype(idx == i, like.dtype), shape)


def _jac_wrapper(f: Callable, argnums: Any, has_aux: bool, what: str, build: Callable) -> Callable:
    @functools.wraps(f)
    def jac_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _argnums(argnums, len(args), what)
        rec = _Recorded(what, _partial(f, args, kwargs, nums), tuple(args[i] for i in nums), has_aux)
        for o in rec.out_leaves:
            ov = _unwrap(o)
            if not hasattr(ov, "dtype"):
                raise TypeError(_left_graph(what, ov) or f"anyad.{what}: f must return arrays, got "
                                f"{type(ov).__name__}")
        blocks = build(rec)  # blocks[j][k]: d out_j / d x_k, shape out_j.shape + x_k.shape
        per_out = []
        for row in blocks:
            per_arg = tree_unflatten(rec.in_def, row)
            per_out.append(per_arg[0] if single else per_arg)
        jac = tree_unflatten(rec.out_def, per_out)
        if has_aux:
            return jac, rec.aux
        return jac

    return jac_f


def _stacked(pieces: list, out_shape: tuple, in_shape: tuple, axis_last: bool) -> Any:
    s = stack(pieces, axis=len(out_shape) if axis_last else 0)
    return reshape(s, out_shape + in_shape)


def _basis(like: Any, shape: tuple) -> Any:
    """The ``n`` one-hot arrays of ``shape`` stacked, ``(n, *shape)``: the rows of
    an identity in ``like``'s namespace, dtype and device."""
    xp = _backend.namespace_of(like)
    n = _size(shape)
    eye = xp.eye(n, dtype=like.dtype, device=_backend.device_of(like))
    return xp.reshape(eye, (n,) + shape)


def _batched(rec: _Recorded, fun: Callable, basis: Any) -> Any:
    """``vmap(fun)(basis)``: one pass for every seed, or None where a primitive
    of the graph has no batching rule, refuses to differentiate its rule again,
    or has a rule that needs the seed's values in Python (the caller then
    loops, as it did before vmap)."""
    from .vmap import vmap

    if _backend.backend_name(_backend.namespace_of(basis)) == "dask":
        return None  # dask lacks the n-d integer indexing batched gathers and scatters use
    try:
        with recording(ALL if rec.nested else OFF):
            return vmap(fun)(basis)
    except (NotImplementedError, TracingError):  # BatchingError included; a rule that reads values
        return None


def _build_rev(rec: _Recorded) -> list:
    """Rows of the Jacobian: one backward pass batched over every output
    element's seed (a loop of backward passes where a primitive cannot batch)."""
    blocks = []
    nx = len(rec.xs)
    for o in rec.out_leaves:
        ov = _unwrap(o)
        oshape = tuple(ov.shape)
        m = _size(oshape)
        row = None
        if isinstance(o, Variable) and m > 1:
            grads = _batched(rec, lambda seed: backprop([o], [seed], rec.xs, create_graph=True,
                                                         retain_graph=True), _basis(ov, oshape))
            if grads is not None:
                row = [_empty_block(rec, ov, oshape, tuple(x.value.shape)) if g is None
                       else rec.finish(reshape(g, oshape + tuple(x.value.shape)), k)
                       for k, (g, x) in enumerate(zip(grads, rec.xs))]
        if row is None:
            row = _rows_by_loop(rec, o, ov, oshape, m, nx)
        blocks.append(row)
    return blocks


def _rows_by_loop(rec: _Recorded, o: Any, ov: Any, oshape: tuple, m: int, nx: int) -> list:
    rows: list = [[] for _ in range(nx)]
    for i in range(m):
        if isinstance(o, Variable):
            seed = _one_hot(ov, i, oshape)
            grads = backprop([o], [seed], rec.xs, create_graph=rec.nested, retain_graph=True)
        else:
            grads = [None] * nx
        for k, g in enumerate(grads):
            rows[k].append(rec.finish(g, k))
    row = []
    for k, x in enumerate(rec.xs):
        xshape = tuple(x.value.shape)
        if m == 0:
            row.append(_empty_block(rec, ov, oshape, xshape))
        else:
            row.append(_stacked(rows[k], oshape, xshape, axis_last=False))
    return row


def _build_fwd(rec: _Recorded, what: str = "jacfwd") -> list:
    for k, x in enumerate(rec.xs):
        if not _backend.is_real_floating(x.value):  # a complex input: real directions only would be half of it
            raise NotImplementedError(
                f"anyad.{what}: input {k} is complex ({_backend.describe(x.value)}); the forward-mode "
                "Jacobian (jacfwd) of complex inputs is not supported yet: use jacrev (rows in PyTorch's "
                "convention) or jvp along the directions you need")
    nx = len(rec.xs)
    batched = _columns_batched(rec)
    if batched is not None:
        return batched
    sweep = ForwardSweep(rec.out_leaves, rec.xs, create_graph=rec.nested)
    cols: list = [[[] for _ in range(nx)] for _ in rec.out_leaves]
    for k, x in enumerate(rec.xs):
        xv = x.value
        xshape = tuple(xv.shape)
        for i in range(_size(xshape)):
            ts = [None] * nx
            ts[k] = _one_hot(xv, i, xshape)
            for j, (o, t) in enumerate(zip(rec.out_leaves, sweep.run(ts))):
                if t is None:
                    z = zeros_like(_unwrap(o))
                    t = wrap(z) if rec.nested else z
                cols[j][k].append(t)
    blocks = []
    for j, o in enumerate(rec.out_leaves):
        ov = _unwrap(o)
        oshape = tuple(ov.shape)
        row = []
        for k, x in enumerate(rec.xs):
            xshape = tuple(x.value.shape)
            if not cols[j][k]:
                row.append(_empty_block(rec, ov, oshape, xshape))
            else:
                row.append(_stacked(cols[j][k], oshape, xshape, axis_last=True))
        blocks.append(row)
    return blocks


def _columns_batched(rec: _Recorded) -> list | None:
    """The Jacobian's columns by one tangent sweep per input batched over its
    elements (None where a primitive cannot batch: the caller loops)."""
    nx = len(rec.xs)
    sweep = ForwardSweep(rec.out_leaves, rec.xs, create_graph=True)
    blocks: list = [[None] * nx for _ in rec.out_leaves]
    for k, x in enumerate(rec.xs):
        xshape = tuple(x.value.shape)
        n = _size(xshape)
        if n <= 1:
            return None

        def column(t: Any, k: int = k) -> list:
            ts = [None] * nx
            ts[k] = t
            return sweep.run(ts)

        cols = _batched(rec, column, _basis(x.value, xshape))
        if cols is None:
            return None
        for j, (o, t) in enumerate(zip(rec.out_leaves, cols)):
            oshape = tuple(_unwrap(o).shape)
            if t is None:
                blocks[j][k] = _empty_block(rec, _unwrap(o), oshape, xshape)
            else:
                t = moveaxis(t, 0, -1) if oshape else t
                blocks[j][k] = rec.finish(reshape(t, oshape + xshape), k)
    return blocks


def _empty_block(rec: _Recorded, ov: Any, oshape: tuple, xshape: tuple) -> Any:
    xp = _backend.namespace_of(ov)
    z = xp.zeros(oshape + xshape, dtype=ov.dtype, device=_backend.device_of(ov))
    return wrap(z) if rec.nested else z


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by reverse mode: one backward pass per output
    element (best when outputs are fewer than inputs).

    The result has shape ``out.shape + x.shape`` (as in JAX and torch.func);
    for pytree outputs and inputs, a tree of the output's structure whose leaves
    are trees of the input's structure; with a tuple ``argnums``, a tuple.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.jacrev(lambda x: x[:2] * x[1:])(np.array([1.0, 2.0, 3.0]))
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """
    return _jac_wrapper(f, argnums, has_aux, "jacrev", _build_rev)


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by forward mode: one tangent sweep per input
    element over a single recorded forward pass (best for tall Jacobians,
    outputs more numerous than inputs). Same result layout as :func:`jacrev`.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> f = lambda x: ad.stack([x[0] * x[1], x[0], ad.sin(x[1])])
    >>> ad.jacfwd(f)(np.array([2.0, 0.0]))
    array([[0., 2.],
           [1., 0.],
           [0., 1.]])
    """
    return _jac_wrapper(f, argnums, has_aux, "jacfwd", _build_fwd)


jacobian = jacrev
"""The Jacobian by reverse mode (:func:`jacrev`); :func:`jacfwd` is the forward-mode variant."""


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of a scalar function: forward mode over reverse mode
    (``jacfwd(grad(f))``), of shape ``x.shape + x.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 3.0]))
    array([[6., 2.],
           [2., 0.]])
    """
    return _jac_wrapper(_grad(f, argnums, False, "hessian"), argnums, False, "hessian",
                        functools.partial(_build_fwd, what="hessian"))


def hvp(f: Callable, x: Any, v: Any) -> Any:
    """The Hessian of scalar ``f`` at ``x`` applied to ``v``, without forming
    the Hessian: forward mode over reverse mode, a small constant times the
    cost of one gradient. ``x`` may be a pytree; ``v`` has its structure.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.hvp(lambda x: ad.sum(x ** 3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    return jvp(grad(f), (x,), (v,))[1]
