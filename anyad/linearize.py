"""``linearize`` and ``linear_transpose``: a function's linear map, recorded once.

``linearize(f, *primals)`` runs ``f`` once, recording its graph, and returns
the output and ``jvp_fn``: each call ``jvp_fn(*tangents)`` pushes new tangents
through the recorded graph by the primitives' forward-mode rules
(:class:`anyad.forward.ForwardSweep`), without running ``f`` again.

``linear_transpose(f, *primals)`` is the transpose of a *linear* ``f``: one
recording of ``f``, then one backward pass per call. ``f``'s graph is checked
for linearity: an operation that is not linear in the inputs (``sin``, a
product of two input-dependent values, an added constant) raises an error
naming it.

Both compose with the other transforms like :func:`anyad.jvp` and
:func:`anyad.vjp` do (recorded Variables in, recorded Variables out).
"""

from __future__ import annotations

from typing import Any, Callable

from ._pytree import tree_flatten, tree_unflatten
from .backprop import backprop
from .forward import ForwardSweep, _forward_order
from .functional import _describe, _nested, _Recorded, _seed_check, _unwrap
from .ops.creation import zeros_like
from .variable import Variable, wrap

__all__ = ["linearize", "linear_transpose"]


def linearize(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``f(*primals)`` and its Jacobian-vector product as a reusable function.

    ``f`` runs once, here; ``jvp_fn(*tangents)`` then applies the Jacobian at
    ``primals`` to new tangents by a forward sweep over the recorded graph
    (one forward rule per operation), as many times as wanted, never running
    ``f`` again. Same result as ``jvp(f, primals, tangents)`` per call.

    Parameters
    ----------
    f : callable
        A function of arrays (or pytrees of arrays).
    *primals
        Where to linearize it.
    has_aux : bool
        ``f`` returns ``(output, aux)``; the result is then ``(out, jvp_fn, aux)``.

    Returns
    -------
    (out, jvp_fn)
        ``jvp_fn(*tangents)`` takes one tangent per primal (same structure,
        shapes and dtypes) and returns the output's tangent, of ``out``'s
        structure. The recorded graph (and its saved values) lives as long
        as ``jvp_fn``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> out, f_jvp = ad.linearize(ad.sin, np.array([0.0, 1.0]))
    >>> f_jvp(np.array([1.0, 2.0]))
    array([1.        , 1.08060461])
    >>> f_jvp(np.array([1.0, 0.0]))            # no re-linearisation
    array([1., 0.])
    """
    rec = _Recorded("linearize", f, primals, has_aux)
    # the sweep's order is found now, while every graph f's output reaches is whole
    sweeps: dict = {rec.nested: ForwardSweep(rec.out_leaves, rec.xs, create_graph=rec.nested)}

    def jvp_fn(*tangents: Any) -> Any:
        t_leaves, t_def = tree_flatten(tangents)
        if t_def != rec.in_def:
            raise ValueError(f"anyad.linearize: jvp_fn got tangents of structure {t_def!r}, the "
                             f"primals have {rec.in_def!r} (one tangent per primal)")
        for k, (x, t) in enumerate(zip(rec.xs, t_leaves)):
            tv = _unwrap(t)
            if tuple(getattr(tv, "shape", ())) != tuple(x.value.shape):
                raise ValueError(f"anyad.linearize: tangent {k} has shape "
                                 f"{tuple(getattr(tv, 'shape', ()))}, its primal {tuple(x.value.shape)}")
            if getattr(tv, "dtype", None) != x.value.dtype:
                raise TypeError(f"anyad.linearize: tangent {k} is {_describe(tv)}, its primal "
                                f"{_describe(x.value)}")
        create = rec.nested or _nested(t_leaves)
        sweep = sweeps.get(create)
        if sweep is None:
            sweep = sweeps[create] = ForwardSweep(rec.out_leaves, rec.xs, create_graph=create)
        res = []
        for o, t in zip(rec.out_leaves, sweep.run(t_leaves)):
            if t is None:
                z = zeros_like(_unwrap(o))
                t = wrap(z) if create else z
            elif not create and isinstance(t, Variable):
                t = t.value
            res.append(t)
        return tree_unflatten(rec.out_def, res)

    if has_aux:
        return rec.primal_out(), jvp_fn, rec.aux
    return rec.primal_out(), jvp_fn


# ----------------------------------------------------------------------------
# linear_transpose
# ----------------------------------------------------------------------------

#: linear in each input on its own, and jointly (sums of linear maps)
_LINEAR = frozenset({
    "positive", "negative", "sum", "mean", "reshape", "broadcast_to", "expand_dims", "squeeze",
    "permute_dims", "matrix_transpose", "flip", "roll", "getitem", "take", "take_along_axis",
    "take_along_axis_adjoint", "concat", "stack", "conj", "real", "imag", "i_times", "as_complex",
    "fftn", "rfft", "irfft", "astype", "to_device", "to_backend", "cumulative_sum", "tril", "triu",
    "fold", "patches", "index_add", "setitem",
})
#: linear only when every floating operand depends on the inputs (else affine)
_ADDITIVE = frozenset({"add", "subtract", "where"})
#: linear in the operands that may depend on the inputs, when only one does
_BILINEAR = {"multiply": (0, 1), "matmul": (0, 1), "conv": (0, 1), "divide": (0,), "solve": (1,)}


def _check_linear(what: str, out_leaves: list, xs: list) -> None:
    """Raise if the graph from ``xs`` to ``out_leaves`` is not linear in ``xs``."""
    order, live = _forward_order(out_leaves, xs)
    for node in order:
        name = node.prim.name
        dep = [p is not None and p in live for p in node.parents]
        if name in _LINEAR:
            continue
        if name in _ADDITIVE:
            floating = [k for k in range(len(dep)) if not (name == "where" and k == 0)]
            if all(dep[k] for k in floating):
                continue
            why = (f"it adds (or selects) a value that does not depend on the inputs to one that does "
                   f"({name}): f is affine, not linear")
        elif name in _BILINEAR:
            allowed = _BILINEAR[name]
            hits = [k for k, d in enumerate(dep) if d]
            if len(hits) == 1 and hits[0] in allowed:
                continue
            why = (f"it applies {name} with inputs-dependent operands at positions {hits} (linear in "
                   "one operand at a time only)")
        else:
            why = f"it applies {name}, which anyad does not know to be linear, to an input-dependent value"
        raise ValueError(f"anyad.{what}: f is not linear in its inputs: {why}. {what} transposes linear "
                         "functions only; for the transpose of a nonlinear f's derivative at a point, use "
                         "anyad.vjp(f, *primals)")


def linear_transpose(f: Callable, *primals: Any) -> Callable:
    """The transpose of a linear function ``f``.

    ``f`` is recorded once at ``primals`` (their values only fix shapes and
    dtypes, as JAX's ``linear_transpose`` takes shape specifications); the
    returned ``f_t(cotangent)`` is one backward pass per call and returns a
    tuple with one array per primal: ``<f_t(c), t> == <c, f(t)>``.

    ``f`` must be linear in ``primals``: the recorded graph is checked, and an
    operation that is not linear in them (a nonlinear function, a product of
    two input-dependent values, an added constant) raises ``ValueError``
    naming it. (Arrays ``f`` closes over may enter nonlinearly: only the
    dependence on ``primals`` counts.)

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> f_t = ad.linear_transpose(lambda x: A @ x, np.zeros(2))
    >>> f_t(np.array([1.0, 0.0, 1.0]))
    (array([6., 8.]),)
    >>> try:
    ...     ad.linear_transpose(ad.sin, np.zeros(2))
    ... except ValueError as e:
    ...     print(str(e)[:62])
    anyad.linear_transpose: f is not linear in its inputs: it appl
    """
    rec = _Recorded("linear_transpose", f, primals, False)
    _check_linear("linear_transpose", rec.out_leaves, rec.xs)

    def transpose_fn(cotangent: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != rec.out_def:
            raise ValueError(f"anyad.linear_transpose: the cotangent has structure {ct_def!r}, f's "
                             f"output {rec.out_def!r}")
        create = rec.nested or _nested(ct_leaves)
        targets, seeds = [], []
        for k, (o, ct) in enumerate(zip(rec.out_leaves, ct_leaves)):
            _seed_check("linear_transpose", ct, o, k)
            if isinstance(o, Variable):
                targets.append(o)
                seeds.append(ct if create else _unwrap(ct))
        grads = backprop(targets, seeds, rec.xs, create_graph=create, retain_graph=True) if targets \
            else [None] * len(rec.xs)
        res = []
        for x, g in zip(rec.xs, grads):
            if g is None:
                z = zeros_like(x.value)
                g = wrap(z) if create else z
            elif not create and isinstance(g, Variable):
                g = g.value
            res.append(g)
        return tree_unflatten(rec.in_def, res)

    return transpose_fn
