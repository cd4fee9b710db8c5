"""The functional face: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp.

Transforms of functions of backend arrays returning backend arrays, in the
manner of JAX and ``torch.func``. Arguments and results may be pytrees
(tuples, lists, dicts of arrays). ``f`` may be written with anyad functions or
against the Array API standard.

They compose. Called on raw arrays (the fast path), a transform records ``f``
from fresh leaves, differentiates without building a derivative graph, and
returns raw arrays. Called where recording is under way (on Variables that
record, inside another transform, inside a ``GradientTracker`` or ``anyad.jit``
tracing), it differentiates from new nodes connected to its inputs, builds the
derivative's own graph (``create_graph=True``) and returns recorded Variables,
so ``grad(grad(f))``, ``jacobian(grad(f))`` and ``jit(value_and_grad(f))`` work.

Code written against the standard (``xp = array_namespace(x, w)``) sees anyad's
namespace on the Variables it is handed. Arrays among the arguments that are
not differentiated are handed in as constant Variables, so that all its arrays
share that namespace; arrays it closes over should be Variables too
(``anyad.Variable(a)``), or be passed as arguments.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from . import _backend
from ._pytree import tree_flatten, tree_map, tree_unflatten
from .forward import ForwardSweep
from ._state import ALL, OFF, TRACK, mode as _mode, pop, push, recording
from .backprop import backprop
from .ops.creation import zeros_like
from .ops.elementwise import positive
from .variable import Variable, wrap

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "no_grad"]  # the Jacobians: anyad.jacobians


# ----------------------------------------------------------------------------
# Recording a function from its inputs
# ----------------------------------------------------------------------------


def _nested(leaves: Sequence[Any]) -> bool:
    """Is a derivative graph wanted (recording under way for these inputs)?"""
    mode = _mode()
    if mode == OFF:
        return False
    if mode == ALL or mode == TRACK:
        return True
    for x in leaves:
        if isinstance(x, Variable) and x.requires_grad:
            return True
    return False


def _check_float(x: Any, what: str, k: int) -> Any:
    """The raw array of input ``k``, which must be real or complex floating
    (Python numbers become arrays of the current backend)."""
    raw = x.value if isinstance(x, Variable) else x
    if type(raw) in (int, float, bool, complex) or isinstance(raw, (list, tuple)):
        if type(raw) in (float, complex) or isinstance(raw, (list, tuple)):
            raw = _backend.current_backend().asarray(raw)
    try:
        xp = _backend.namespace_of(raw)
    except TypeError:
        xp = None
    if xp is None or not hasattr(raw, "dtype") or not _backend.is_floating(raw):
        desc = _backend.describe(raw) if xp is not None else type(raw).__name__
        raise TypeError(
            f"anyad.{what}: input {k} is {desc}; only floating-point (real or complex) arrays can be "
            "differentiated (convert it with astype(x, 'float64'), or leave it out of argnums)"
        )
    return raw


class _Recorded:
    """``f`` run on new graph nodes standing for its differentiable inputs."""

    __slots__ = ("nested", "in_def", "xs", "out", "out_leaves", "out_def", "aux")

    def __init__(self, what: str, f: Callable, primals: tuple, has_aux: bool, nested: bool | None = None):
        leaves, self.in_def = tree_flatten(primals)
        self.nested = _nested(leaves) if nested is None else nested
        mode = _mode()
        xs = []
        for k, x in enumerate(leaves):
            if self.nested and isinstance(x, Variable):
                _check_float(x, what, k)
                xs.append(_identity(x, TRACK if mode == TRACK else ALL))
            else:
                v = wrap(_check_float(x, what, k))
                v.requires_grad = True
                xs.append(v)
        self.xs = xs
        with recording(TRACK if mode == TRACK else ALL):
            try:
                out = f(*tree_unflatten(self.in_def, xs))
            except TypeError as e:
                hint = _python_lists_hint(primals)
                if hint is None:
                    raise
                raise TypeError(f"anyad.{what}: f raised TypeError: {e}; {hint}") from e
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"anyad.{what}: with has_aux=True, f must return a pair (output, aux), "
                                f"got {type(out).__name__}")
            out, aux = out
            self.aux = aux if self.nested else tree_map(_unwrap, aux)
        else:
            self.aux = None
        self.out = out
        self.out_leaves, self.out_def = tree_flatten(out)

    def primal_out(self) -> Any:
        """The output, as raw arrays on the fast path."""
        return self.out if self.nested else tree_map(_unwrap, self.out)

    def zeros(self, k: int) -> Any:
        z = zeros_like(self.xs[k].value)
        return wrap(z) if self.nested else z

    def finish(self, g: Any, k: int) -> Any:
        """A gradient for input ``k`` (zeros for ``None``), raw on the fast path."""
        if g is None:
            return self.zeros(k)
        if not self.nested and isinstance(g, Variable):
            return g.value
        return g


def _python_lists_hint(primals: tuple) -> str | None:
    """What to say when ``f`` failed and a differentiated argument is a Python
    list (or tuple) of numbers: a pytree of scalars, not an array."""
    for k, p in enumerate(primals):
        if isinstance(p, (list, tuple)) and p and all(type(e) in (float, int, complex) for e in p):
            data = repr(p) if len(p) <= 4 else f"[{p[0]!r}, {p[1]!r}, ...]"
            return (f"differentiated argument {k} is a Python {type(p).__name__} of numbers, which anyad (as "
                    f"JAX) takes as a pytree: f was handed a {type(p).__name__} of {len(p)} scalar "
                    "Variables, "
                    f"not an array. To differentiate an array, pass one: anyad.asarray({data}) or an "
                    "array of your library (np.asarray, torch.tensor, ...)")
    return None


def _left_graph(what: str, ov: Any) -> str | None:
    """The message for ``f`` returning a Python number: the value was taken out
    of the graph on the way (``float(x)``, ``math.sin(x)``, ``x.item()``)."""
    if type(ov) not in (float, int, bool, complex):
        return None
    return (f"anyad.{what}: f returned a Python {type(ov).__name__} ({ov!r}), a plain number outside the "
            "graph: "
            "on the way, something turned a Variable into a Python number (float(x), x.item(), or a "
            "math-module function such as math.sin(x), which calls float(x)), so no derivative can flow "
            "back. Compute with anyad's functions, which keep the graph: anyad.sin(x) instead of "
            "math.sin(x), anyad.exp, anyad.sqrt ... (or the namespace, xp = array_namespace(x))")


def _identity(x: Variable, mode: int) -> Variable:
    """A new recorded node with ``x``'s value, standing for ``x`` inside a
    transform: the inner derivative is taken with respect to it, and the
    outer graph flows through it."""
    from .ops._core import _record

    xv = x.value
    return _record(positive.primitive, (x,), (xv,), xv, None, mode)


def _unwrap(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


def _argnums(argnums: Any, nargs: int, what: str) -> tuple[tuple, bool]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"anyad.{what}: argnums {argnums!r} is out of range for {nargs} "
                             "positional arguments")
    return tuple(i % nargs for i in nums), single


def _partial(f: Callable, args: tuple, kwargs: dict, nums: tuple) -> Callable:
    """``f`` as a function of the arguments ``nums``. The other arguments'
    arrays are handed to ``f`` as constant Variables, so that code written
    against the standard (``array_namespace(x, params)``) sees one namespace."""
    full = [a if i in nums else tree_map(_as_constant, a) for i, a in enumerate(args)]
    kwargs = {k: tree_map(_as_constant, v) for k, v in kwargs.items()}

    def g(*diff: Any) -> Any:
        for i, d in zip(nums, diff):
            full[i] = d
        return f(*full, **kwargs)

    return g


def _as_constant(a: Any) -> Any:
    if isinstance(a, Variable) or type(a) in (int, float, bool, complex, str) or not hasattr(a, "dtype"):
        return a
    try:
        _backend.namespace_of(a)
    except TypeError:
        return a
    return wrap(a)


def _seed_check(what: str, ct: Any, out: Any, k: int) -> Any:
    ctv = _unwrap(ct)
    if tuple(getattr(ctv, "shape", ())) != tuple(getattr(_unwrap(out), "shape", ())):
        raise ValueError(
            f"anyad.{what}: cotangent {k} has shape {tuple(getattr(ctv, 'shape', ()))}, "
            f"the output has shape {tuple(getattr(_unwrap(out), 'shape', ()))}"
        )
    return ct


# ----------------------------------------------------------------------------
# Reverse mode
# ----------------------------------------------------------------------------


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Evaluate ``f(*primals)`` and return its vector-Jacobian product function.

    Parameters
    ----------
    f : callable
        A function of arrays (or pytrees of arrays) returning an array or a
        pytree of arrays.
    *primals
        Where to evaluate it.
    has_aux : bool
        ``f`` returns ``(output, aux)``; ``aux`` is returned as is, not differentiated.

    Returns
    -------
    (out, vjp_fn) or (out, vjp_fn, aux)
        ``vjp_fn(cotangent)`` takes a cotangent shaped like ``out`` and returns
        a tuple with one cotangent per primal (zeros where ``f`` does not depend
        on it). It can be called many times.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> out, f_vjp = ad.vjp(lambda x, y: x * y, x, y)
    >>> f_vjp(np.array([1.0, 10.0]))
    (array([ 3., 40.]), array([ 1., 20.]))
    """
    rec = _Recorded("vjp", f, primals, has_aux)

    def vjp_fn(cotangent: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != rec.out_def:
            raise ValueError(f"anyad.vjp: the cotangent has structure {ct_def!r}, the output {rec.out_def!r}")
        create = rec.nested or _nested(ct_leaves)
        targets, seeds = [], []
        for k, (o, ct) in enumerate(zip(rec.out_leaves, ct_leaves)):
            _seed_check("vjp", ct, o, k)
            if isinstance(o, Variable):
                targets.append(o)
                seeds.append(ct if create else _unwrap(ct))
        grads = backprop(targets, seeds, rec.xs, create_graph=create, retain_graph=True) if targets else \
            [None] * len(rec.xs)
        res = []
        for k, g in enumerate(grads):
            if g is None:
                g = zeros_like(rec.xs[k].value)
                g = wrap(g) if create else g
            elif not create and isinstance(g, Variable):
                g = g.value
            res.append(g)
        return tree_unflatten(rec.in_def, res)

    if has_aux:
        return rec.primal_out(), vjp_fn, rec.aux
    return rec.primal_out(), vjp_fn


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """A function returning ``(f(*args), gradient of f at args)``.

    Parameters
    ----------
    f : callable
        Returns a real scalar (a 0-d array), or ``(scalar, aux)`` with ``has_aux``.
    argnums : int or tuple of int
        Which positional arguments to differentiate; with a tuple, the gradient
        is a tuple. Each argument may be a pytree of arrays.
    has_aux : bool
        ``f`` returns ``(value, aux)``; the result is then ``((value, aux), grad)``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> value, g = ad.value_and_grad(lambda x: ad.sum(x ** 2))(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    """
    return _value_and_grad(f, argnums, has_aux, "value_and_grad")


def _value_and_grad(f: Callable, argnums: Any, has_aux: bool, what: str) -> Callable:
    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _argnums(argnums, len(args), what)
        rec = _Recorded(what, _partial(f, args, kwargs, nums), tuple(args[i] for i in nums), has_aux)
        if len(rec.out_leaves) != 1:
            raise TypeError(f"anyad.{what}: f must return one scalar array, got a {rec.out_def!r} structure; "
                            "use vjp or jacobian for other outputs")
        out = rec.out_leaves[0]
        ov = _unwrap(out)
        shape = tuple(getattr(ov, "shape", ()))
        left = _left_graph(what, ov)
        if left is not None:
            raise TypeError(left)
        if shape != () or not hasattr(ov, "dtype"):
            raise TypeError(f"anyad.{what}: f must return a scalar (a 0-d array), got "
                            f"{_describe(ov)}; use vjp or jacobian for non-scalar outputs")
        if not _backend.is_real_floating(ov):
            raise TypeError(f"anyad.{what}: f must return a real floating scalar, got {_describe(ov)}")
        if isinstance(out, Variable):
            grads = backprop([out], [None], rec.xs, create_graph=rec.nested, retain_graph=rec.nested)
        else:
            grads = [None] * len(rec.xs)
        flat = [rec.finish(g, k) for k, g in enumerate(grads)]
        per_arg = tree_unflatten(rec.in_def, flat)
        g = per_arg[0] if single else per_arg
        value = rec.primal_out()
        if has_aux:
            return (value, rec.aux), g
        return value, g

    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function: ``grad(f)(*args)``.

    Parameters
    ----------
    f : callable
        Returns a real scalar (a 0-d array), or ``(scalar, aux)`` with ``has_aux``.
    argnums : int or tuple of int
        Which positional arguments to differentiate (a tuple gives a tuple of
        gradients); each may be a pytree of arrays, and gets a gradient of the
        same structure, shapes, dtypes and device.
    has_aux : bool
        ``f`` returns ``(value, aux)``; the result is then ``(grad, aux)``.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.grad(lambda x: ad.sum(ad.sin(x) * x))(np.array([1.0, 2.0]))
    array([1.38177329, 0.07700375])
    >>> d2 = ad.grad(ad.grad(lambda x: x ** 3))     # derivatives compose
    >>> float(d2(np.array(2.0)))
    12.0
    >>> params = {"w": np.array([1.0, 2.0]), "b": np.array([3.0])}
    >>> ad.grad(lambda p: ad.sum(p["w"] * p["b"]))(params)
    {'b': array([3.]), 'w': array([3., 3.])}
    """
    return _grad(f, argnums, has_aux, "grad")


def _grad(f: Callable, argnums: Any, has_aux: bool, what: str) -> Callable:
    """:func:`grad`, whose errors name ``anyad.<what>`` (hessian's inner gradient)."""
    vg = _value_and_grad(f, argnums, has_aux, what)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


def _describe(x: Any) -> str:
    try:
        return _backend.describe(x)
    except Exception:
        return type(x).__name__


# ----------------------------------------------------------------------------
# Forward mode
# ----------------------------------------------------------------------------


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """Forward mode: ``f(*primals)`` and its Jacobian applied to ``tangents``.

    The tangents are pushed through ``f``'s recorded graph by per-primitive
    forward rules: one recorded forward pass plus one rule per operation,
    whatever the output size (see :mod:`anyad.forward`).

    Parameters
    ----------
    f : callable
        A function of arrays or pytrees of arrays.
    primals : tuple or list
        The arguments of ``f``.
    tangents : tuple or list
        One tangent per primal, of the same structure, shapes and dtypes.
    has_aux : bool
        ``f`` returns ``(output, aux)``; the result is then ``(out, tangent_out, aux)``.

    Returns
    -------
    (out, tangent_out)
        ``tangent_out`` has the structure of ``out`` (zeros where it does not
        depend on the primals).

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> ad.jvp(ad.sin, (np.array([0.0, 1.0]),), (np.array([1.0, 2.0]),))
    (array([0.        , 0.84147098]), array([1.        , 1.08060461]))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("anyad.jvp: primals and tangents must be tuples (or lists) of arguments, e.g. "
                        "jvp(f, (x,), (t,))")
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_def = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if p_def != t_def:
        raise ValueError(f"anyad.jvp: tangents have structure {t_def!r}, primals {p_def!r}")
    rec = _Recorded("jvp", f, primals, has_aux, nested=_nested(p_leaves + t_leaves))
    for k, (x, t) in enumerate(zip(rec.xs, t_leaves)):
        tv = _unwrap(t)
        if tuple(getattr(tv, "shape", ())) != tuple(x.value.shape):
            raise ValueError(f"anyad.jvp: tangent {k} has shape {tuple(getattr(tv, 'shape', ()))}, "
                             f"its primal {tuple(x.value.shape)}")
        if getattr(tv, "dtype", None) != x.value.dtype:
            raise TypeError(f"anyad.jvp: tangent {k} is {_describe(tv)}, its primal {_describe(x.value)}")
    # on the fast path the recorded graph is private: it is released as the sweep goes
    sweep = ForwardSweep(rec.out_leaves, rec.xs, create_graph=rec.nested, free=not rec.nested)
    touts = sweep.run(t_leaves)
    res = []
    for o, t in zip(rec.out_leaves, touts):
        if t is None:
            z = zeros_like(_unwrap(o))
            t = wrap(z) if rec.nested else z
        res.append(t)
    t_out = tree_unflatten(rec.out_def, res)
    if has_aux:
        return rec.primal_out(), t_out, rec.aux
    return rec.primal_out(), t_out


# ----------------------------------------------------------------------------
# no_grad
# ----------------------------------------------------------------------------


class _NoGrad:
    """Recording switched off inside a ``with`` block (reentrant)."""

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        self._tokens: list = []

    def __enter__(self) -> "_NoGrad":
        self._tokens.append(push(mode=OFF))
        return self

    def __exit__(self, *exc: object) -> None:
        pop(self._tokens.pop())

    def __call__(self, func: Callable) -> Callable:
        return _no_grad_function(func)


def _no_grad_function(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with recording(OFF):
            return func(*args, **kwargs)

    return wrapper


def no_grad(func: Callable | None = None) -> Any:
    """Switch recording off: nothing computed inside is part of a graph.

    A context manager (``with anyad.no_grad():``) and a decorator (``@anyad.no_grad``
    or ``@anyad.no_grad()``). The state is a context variable: it is local to the
    thread or task. Transforms called inside (``grad`` ...) still differentiate
    their own function; their results are not recorded.

    Examples
    --------
    >>> import anyad as ad
    >>> x = ad.Variable([1.0, 2.0], requires_grad=True)
    >>> with ad.no_grad():
    ...     y = x * 2.0
    >>> y.requires_grad
    False
    >>> @ad.no_grad
    ... def double(v):
    ...     return v * 2.0
    >>> double(x).is_leaf
    True
    """
    if func is None:
        return _NoGrad()
    if not callable(func):
        raise TypeError(f"anyad.no_grad: expected a function to decorate, got {type(func).__name__}")
    return _no_grad_function(func)
