"""Implicit differentiation: derivatives of a root through the implicit function theorem.

A root ``x*(theta)`` of ``F(x, theta) = 0`` found by any solver (SciPy's
``root``, a Newton loop, a fixed-point iteration) has the derivative
``dx* = -J^{-1} (dF/dtheta) dtheta`` with ``J = dF/dx`` at the root. The
solver runs on raw arrays, outside the graph; only the linear system is
solved when a derivative is asked for.

How (``implicit_root``): the root is one custom operation of ``(x0,
*theta)`` whose kernel runs the solver. Its VJP rule solves ``J^T u = g``
and returns ``-(dF/dtheta)^T u``; its JVP rule solves ``J t = -(dF/dtheta)
dtheta``. Those solves are custom operations too, of ``(b, a, *theta)``
(``K^{-1} b`` with ``K = J(a, theta)`` or its transpose), whose own rules
are the implicit derivatives of a linear solve (``db -> K^{-T} db``,
``d(a, theta) -> -<K^{-T} g, dK u>``). Every rule is written with anyad's
transforms at the recorded root, so it records when a derivative graph is
being built: ``grad`` of ``grad``, ``hessian``, ``jvp`` of ``grad`` through
a root, to any order. The kernels run the solver and the Krylov iterations
on raw arrays, with recording and ``anyad.jit``'s tracer off.

``custom_root`` (``jax.lax.custom_root``'s form, ``f`` closing over its
parameters) cannot name the parameters. It returns ``x1 = x + T(f(x))``,
``f`` at the solver's answer ``x`` (a constant) recorded and ``T`` a
zero-valued operation whose derivative is ``-J^{-1}`` (exact first
derivatives), followed by one Newton step written the same way,
``x* = x1 + T(f(x1))``, whose derivative with respect to ``x1`` vanishes at
the root: second derivatives are exact too. Third order raises.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any, Callable

from . import _backend
from ._pytree import tree_flatten, tree_unflatten
from ._state import OFF, pop, push, recording, tracer as _tracer
from .custom import custom_vjp
from .graph import GraphFreedError
from .functional import _as_constant, jvp, vjp
from .linear_solve import cg, default_tol, gmres, residual
from .linearize import linearize
from .variable import Variable, wrap

__all__ = ["custom_root", "implicit_root"]


def _raw(v: Any) -> Any:
    return v.value if isinstance(v, Variable) else v


def _shape(v: Any) -> tuple:
    return tuple(getattr(_raw(v), "shape", ()))


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


class _System:
    """``F(x, *theta)`` (``theta`` flattened to ``leaves``), its tangent
    solver, and the differentiable operations built on them: the root, and
    the solves with ``J = dF/dx`` and ``J^T`` at a point ``a``."""

    def __init__(self, F: Callable, tdef: Any, solver: Callable, tangent_solve: Callable):
        self.F = F
        self.tdef = tdef
        self.solver = solver
        self.tangent_solve = tangent_solve
        self._solves: dict = {}
        kernel = _named(self._root_kernel, f"implicit_root_{_name(F)}")
        self.root = custom_vjp(kernel)
        self.root.defvjp(self._root_vjp)
        self.root.defjvp(self._root_jvp)

    def f(self, x: Any, leaves: Any) -> Any:
        """``F`` with every raw array handed in as a constant Variable (so
        that code against the standard sees one kind of array)."""
        th = tree_unflatten(self.tdef, [_as_constant(t) for t in leaves])
        return self.F(_as_constant(x), *th)

    # -- the root ---------------------------------------------------------------
    def _root_kernel(self, x0: Any, *leaves: Any) -> Any:
        checked = _checked("implicit_root", self.F, x0, functools.partial(_f_at, self, leaves))
        out = _solve_root("implicit_root", checked, self.solver, x0)
        return _as_like("implicit_root", _name(self.solver), out, x0)

    def _root_vjp(self, g: Any, x: Any, x0: Any, *leaves: Any) -> tuple:
        with _rule_mode(x):
            u = self.solve_op(True)(g, x, *leaves)
            grads = vjp(lambda *ls: self.f(x, ls), *leaves)[1](-u)
        return (None, *grads)

    def _root_jvp(self, ts: tuple, x: Any, x0: Any, *leaves: Any) -> Any:
        tl = ts[1:]
        if all(t is None for t in tl):
            return None
        with _rule_mode(x):
            df = jvp(lambda *ls: self.f(x, ls), leaves, _zeros_for(tl, leaves))[1]
            return self.solve_op(False)(-df, x, *leaves)

    # -- the linear solves --------------------------------------------------------
    def solve_op(self, transpose: bool) -> custom_vjp:
        """``(b, a, *leaves) -> K^{-1} b``, ``K = J^T`` (``transpose``) or ``J``
        at ``(a, theta)``: differentiable in ``b``, ``a`` and ``theta``."""
        op = self._solves.get(transpose)
        if op is None:
            kernel = _named(functools.partial(self._solve_kernel, transpose),
                            f"implicit_solve_{'JT' if transpose else 'J'}_{_name(self.F)}")
            op = self._solves[transpose] = custom_vjp(kernel)
            op.defvjp(functools.partial(self._solve_vjp, transpose))
            op.defjvp(functools.partial(self._solve_jvp, transpose))
        return op

    def _solve_kernel(self, transpose: bool, b: Any, a: Any, *leaves: Any) -> Any:
        with _opaque():
            fx = functools.partial(_f_at, self, leaves)
            mv = _first(vjp(fx, a)[1]) if transpose else linearize(fx, a)[1]
            return self.tangent_solve(_numbers(mv, a), b)

    def k_times(self, transpose: bool, u: Any, a: Any, *leaves: Any) -> Any:
        """``K u`` at ``(a, theta)``, recorded as a function of both."""
        fx = functools.partial(_f_at, self, leaves)
        return _first(vjp(fx, a)[1])(u) if transpose else jvp(fx, (a,), (u,))[1]

    def _solve_vjp(self, transpose: bool, gu: Any, u: Any, b: Any, a: Any, *leaves: Any) -> tuple:
        # u = K^{-1} b: db = K^{-T} gu, and d(a, theta) = -d/d(a, theta) <db, K u>
        with _rule_mode(u):
            gb = self.solve_op(not transpose)(gu, a, *leaves)
            rest = vjp(functools.partial(self.k_times, transpose, u), a, *leaves)[1](-gb)
        return (gb, *rest)

    def _solve_jvp(self, transpose: bool, ts: tuple, u: Any, b: Any, a: Any, *leaves: Any) -> Any:
        r = ts[0]
        with _rule_mode(u):
            if any(t is not None for t in ts[1:]):
                prim = (a, *leaves)
                dk = jvp(functools.partial(self.k_times, transpose, u), prim, _zeros_for(ts[1:], prim))[1]
                r = -dk if r is None else r - dk
            if r is None:
                return None
            return self.solve_op(transpose)(r, a, *leaves)


@contextlib.contextmanager
def _opaque() -> Any:
    """Nothing recorded and no tracer: the solver's and the linear solves'
    inner work is one opaque operation, replayed as such by ``anyad.jit``."""
    token = push(mode=OFF, tracer=None)
    try:
        yield
    finally:
        pop(token)


def _rule_mode(ans: Any) -> Any:
    """A rule given raw arrays (no derivative graph built) computes raw
    arrays: the transforms it calls take their fast path, whatever the
    recording mode around the backward pass."""
    return contextlib.nullcontext() if isinstance(ans, Variable) else recording(OFF)


def _f_at(system: _System, leaves: Any, x: Any) -> Any:
    return system.f(x, leaves)


def _zeros_for(ts: Any, like: Any) -> list:
    return [_backend.namespace_of(_raw(p)).zeros_like(_raw(p)) if t is None else t for t, p in zip(ts, like)]


def _named(f: Callable, name: str) -> Callable:
    def kernel(*args: Any) -> Any:
        return f(*args)

    kernel.__name__ = name
    return kernel


class _Root:
    """custom_root's zero-valued operations with derivative ``-K^{-1}``
    (``K = J`` or ``J^T``, ``J = df/dx`` at the solver's answer ``x``).
    ``at``: where a rule evaluates ``J`` when a derivative graph is built
    (the recorded first-order root, or the constant ``x``)."""

    def __init__(self, f: Callable, x: Any, tangent_solve: Callable, ops: dict | None = None):
        self.f = f
        self.x = x
        self.at: Any = wrap(x)
        self.tangent_solve = tangent_solve
        if ops is None:
            with _opaque():  # recorded now, while the graph f closes over is whole
                ops = {True: _numbers(_first(vjp(f, x)[1]), x), False: _numbers(linearize(f, x)[1], x)}
        self.ops = ops
        self.taps: dict = {}

    def tap(self, k_transposed: bool = False, inner: bool = False) -> custom_vjp:
        key = (k_transposed, inner)
        t = self.taps.get(key)
        if t is None:
            t = self.taps[key] = custom_vjp(_named(_zeros_of, "custom_root"))
            t.defvjp(lambda g, ans, y: -self.solve(g, not k_transposed, isinstance(y, Variable), inner))
            t.defjvp(lambda ts, ans, y: None if ts[0] is None else
                     -self.solve(ts[0], k_transposed, isinstance(y, Variable), inner))
        return t

    def solve(self, h: Any, transpose: bool, building: bool, inner: bool) -> Any:
        """``K^{-1} h`` (``K = J^T`` if ``transpose`` else ``J``); recorded
        when ``building``, as ``u + T(K u - h)`` (exact at first order)."""
        if building and inner:
            raise NotImplementedError(
                "anyad.custom_root: derivatives of order 3 and more through custom_root (f closing over "
                "its parameters) are not supported; pass the parameters explicitly with "
                "anyad.implicit_root(F, solver)(x0, *theta), whose rules are differentiable to any order")
        if building:
            _refuse_traced("a derivative")
        try:
            with _opaque():
                u = self.tangent_solve(self.ops[transpose], _raw(h))
        except GraphFreedError as e:  # J^T products walk the graph f closes over; plain jvp frees it
            raise NotImplementedError(
                "anyad.custom_root: this derivative needs products with J^T after the graph f closes over "
                "was freed (forward mode over reverse mode with anyad.jvp, as in hvp): use jacfwd or "
                "hessian, or pass the parameters explicitly with anyad.implicit_root(F, solver)") from e
        if not building:
            return u
        if transpose:
            ku = _first(vjp(self.f, self.at)[1])(u)
        else:
            ku = jvp(self.f, (self.at,), (u,))[1]
        return self.tap(transpose, True)(ku - h) + u


def _zeros_of(y: Any) -> Any:
    return _backend.namespace_of(y).zeros_like(y)


def _first(f_vjp: Callable) -> Callable:
    def op(w: Any) -> Any:
        return f_vjp(w)[0]

    return op


def _numbers(op: Callable, like: Any) -> Callable:
    """``op`` also taking a Python number (``g(1.0)``, as JAX's scalar
    ``tangent_solve`` calls it): an array of ``like``'s shape full of it."""
    def g(w: Any) -> Any:
        if type(w) in (float, int):
            w = _backend.namespace_of(like).full_like(like, w)
        return op(w)

    return g


def _checked(what: str, F: Callable, like: Any, f: Callable | None = None) -> Callable:
    """``f`` (default ``F``) with its output checked to be shaped like
    ``like``; errors name ``F``."""
    shape = _shape(like)
    f = F if f is None else f

    def g(x: Any) -> Any:
        y = f(x)
        if _shape(y) != shape or not hasattr(_raw(y), "dtype"):
            desc = f"shape {_shape(y)}" if hasattr(_raw(y), "shape") else type(y).__name__
            raise ValueError(f"anyad.{what}: {_name(F)} returned {desc} for x of shape {shape}; the "
                             "residual must be an array shaped like x (one equation per unknown)")
        return y

    return g


def _solve_root(what: str, checked: Callable, solve: Callable, x0: Any) -> Any:
    """``solve(g, x0)`` with ``g`` the checked residual on raw arrays (on
    Variables where the solver differentiates it, for a Newton step); the
    answer as an array like ``x0``. Nothing it does is recorded."""
    def f_raw(x: Any) -> Any:
        if isinstance(x, Variable):
            return checked(x)
        with _opaque():  # a constant Variable: f sees one kind of array (strict refuses mixing)
            return _raw(checked(wrap(x)))

    with _opaque():
        out = solve(f_raw, x0)
    return out


def custom_root(f: Callable, initial_guess: Any, solve: Callable, tangent_solve: Callable,
                has_aux: bool = False) -> Any:
    """A root of ``f`` by ``solve``, differentiated implicitly (``jax.lax.custom_root``).

    Parameters
    ----------
    f : callable
        ``f(x) -> residual`` shaped like ``x``; it closes over the parameters
        the root depends on (Variables, as inside ``grad``).
    initial_guess : array
        Where ``solve`` starts.
    solve : callable
        ``solve(f, initial_guess) -> x`` with ``f(x) = 0``. It runs once, on
        raw arrays, outside the graph (``f`` is handed to it as a function of
        raw arrays returning raw arrays): never differentiated.
    tangent_solve : callable
        ``tangent_solve(g, y) -> x`` with ``g(x) = y``, for a linear ``g``
        on raw arrays: the Jacobian ``J`` of ``f`` at the root, or its
        transpose ``J^T`` (reverse mode). ``lambda g, y: y / g(1.0)`` for a
        scalar; :func:`anyad.linear_solve.gmres` is one for any system.
    has_aux : bool
        ``solve`` returns ``(x, aux)``; the result is then ``(x*, aux)``.

    Returns
    -------
    The root: a raw array where nothing is recorded, else a Variable whose
    derivative (reverse and forward mode) is ``-J^{-1} df``.

    First and second derivatives are exact (``grad`` of ``grad``,
    ``hessian``, ``jacfwd`` of ``jacrev``); the third order, and ``jvp`` of a
    gradient (``hvp``), raise an error, and so does a call under
    :func:`anyad.jit` or :func:`anyad.vmap` (its solvers run on raw arrays:
    their results would be frozen into the program). :func:`implicit_root`,
    which takes the parameters explicitly, has none of these limits, and its
    ``J`` products never walk the graph the parameters come from.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> def newton(g, x):
    ...     for _ in range(30):
    ...         x = x - g(x) / (2.0 * x)
    ...     return x
    >>> def sqrt(p):
    ...     return ad.custom_root(lambda x: x * x - p, np.array(1.0), newton,
    ...                           lambda g, y: y / g(1.0))
    >>> float(ad.grad(sqrt)(np.array(4.0)))              # 1 / (2 sqrt p)
    0.25
    >>> float(ad.jvp(sqrt, (np.array(4.0),), (np.array(1.0),))[1])
    0.25
    >>> float(ad.grad(ad.grad(sqrt))(np.array(4.0)))     # -p^(-3/2) / 4
    -0.03125
    """
    return _root("custom_root", f, initial_guess, solve, tangent_solve, has_aux)


def _refuse_traced(what: str) -> None:
    """custom_root solves on raw arrays: under anyad.jit or anyad.vmap its root and
    its linear solves would be frozen into the program (silently stale on replay)."""
    tracer = _tracer()
    if tracer is not None and hasattr(tracer, "inputs"):
        from ._tracing import TracingError

        raise TracingError(
            f"anyad.custom_root: {what} while {getattr(tracer, 'transform', 'anyad.jit')} traces: custom_root "
            "runs its solvers on raw arrays, so their results would be frozen into the program; use "
            "anyad.implicit_root(F, solver)(x0, *theta), whose solves are replayed, or call it outside")


def _root(what: str, f: Callable, initial_guess: Any, solve: Callable, tangent_solve: Callable,
          has_aux: bool) -> Any:
    if what == "custom_root":
        _refuse_traced("a root")
    x0 = _guess(what, initial_guess)
    checked = _checked(what, f, x0)
    out = _solve_root(what, checked, solve, x0)
    aux = None
    if has_aux:
        out, aux = out
    x = _as_like(what, _name(solve), out, x0)
    y = checked(wrap(x))  # f at the root, recorded where it depends on recorded parameters
    if isinstance(y, Variable) and y.requires_grad:
        # x1: exact first derivatives (f at the constant x); x*: one Newton step from x1, whose
        # derivative in x vanishes at the root, so that x*'s second derivatives are exact too
        first = _Root(checked, x, tangent_solve)
        x1 = first.tap()(y) + x  # Variable first: strict arrays refuse Variables
        second = _Root(checked, x, tangent_solve, first.ops)
        second.at = x1
        xstar = second.tap()(checked(x1)) + x1
    else:
        xstar = x
    return (xstar, aux) if has_aux else xstar


def _guess(what: str, initial_guess: Any) -> Any:
    x0 = _raw(initial_guess)
    if not hasattr(x0, "dtype") or not _backend.is_floating(x0):
        raise TypeError(f"anyad.{what}: initial_guess must be a floating-point array, got "
                        f"{type(x0).__name__}")
    return x0


def _as_like(what: str, sname: str, x: Any, x0: Any) -> Any:
    """The solver's answer as an array of ``x0``'s namespace, shape and dtype."""
    xp = _backend.namespace_of(x0)
    try:
        same = _backend.namespace_of(x) is xp
    except TypeError:
        same = False
    if not same and type(x) in (float, int):
        x, same = xp.asarray(x, dtype=x0.dtype, device=_backend.device_of(x0)), True
    if not same or not hasattr(x, "shape"):
        raise TypeError(f"anyad.{what}: the solver {sname} returned {type(x).__name__}, expected an array "
                        f"like its initial guess ({_backend.describe(x0)}); convert its answer back")
    if tuple(x.shape) != tuple(x0.shape):
        raise ValueError(f"anyad.{what}: the solver {sname} returned shape {tuple(x.shape)}, the initial "
                         f"guess has shape {tuple(x0.shape)}")
    return x if x.dtype == x0.dtype else xp.astype(x, x0.dtype)


def implicit_root(F: Callable, solver: Callable | None = None, *, method: str = "gmres",
                  tol: float | None = None, maxiter: int | None = None, check: bool = True) -> Callable:
    """Differentiate a root of ``F(x, *theta) = 0`` implicitly, whatever finds it.

    Returns ``root(x0, *theta) -> x*`` with ``F(x*, *theta) = 0``:
    ``solver(g, x0)`` finds it (``g(x) = F(x, *theta)`` on raw arrays), and
    the derivatives with respect to ``theta`` (reverse and forward mode, any
    order) come from the implicit function theorem,
    ``dx* = -J^{-1} dF/dtheta dtheta``, ``J = dF/dx`` at the root, never from
    the solver's iterations. Also a decorator: ``@implicit_root(F)`` on the
    solver.

    Parameters
    ----------
    F : callable
        ``F(x, *theta) -> residual`` shaped like ``x``, written with anyad
        functions (or against the Array API standard). ``theta`` are arrays
        or pytrees of arrays; ``x`` is an array. A fixed point ``x = T(x,
        theta)`` is the root of ``F(x, theta) = x - T(x, theta)``.
    solver : callable
        ``solver(g, x0) -> x``: any solver on raw arrays (``scipy.optimize.root``
        on NumPy values, a Newton loop written with the namespace ...).
    method : {"gmres", "cg"}
        The matrix-free solver of the linear systems with ``J`` and ``J^T``
        (:mod:`anyad.linear_solve`); ``"cg"`` only where ``J`` is symmetric
        positive definite (``F`` the gradient of a convex function).
    tol, maxiter
        Its relative tolerance and iteration count (defaults: 1e-12 in
        float64, 1e-6 in float32; the solver's own iteration count, see
        :func:`anyad.linear_solve.gmres` and :func:`anyad.linear_solve.cg`).
    check : bool
        After each linear solve, check on the host (one synchronisation) that
        its relative residual is below ``sqrt(tol)``; a singular (or badly
        conditioned) Jacobian then raises ``ValueError`` instead of returning
        a wrong derivative. ``check=False`` keeps the solves on the device.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.optimize
    >>> import anyad as ad
    >>> def F(x, p):
    ...     return x * x - p
    >>> @ad.implicit_root(F)
    ... def sqrt(g, x0):
    ...     return scipy.optimize.root(g, x0, tol=1e-14).x
    >>> p = np.array([4.0, 9.0])
    >>> sqrt(np.ones(2), p)
    array([2., 3.])
    >>> ad.grad(lambda p: ad.sum(sqrt(np.ones(2), p)))(p)        # 1 / (2 sqrt p)
    array([0.25      , 0.16666667])
    """
    if method not in ("gmres", "cg"):
        raise ValueError(f"anyad.implicit_root: method must be 'gmres' or 'cg', got {method!r}")
    if solver is None:
        return functools.partial(implicit_root, F, method=method, tol=tol, maxiter=maxiter, check=check)
    iterate = gmres if method == "gmres" else cg

    def tangent_solve(g: Callable, y: Any) -> Any:
        t = default_tol(y) if tol is None else tol
        u = iterate(g, y, tol=t, maxiter=maxiter)
        if check:
            res = float(residual(g, u, y))
            if not math.isfinite(res) or res > math.sqrt(t):
                raise ValueError(
                    f"anyad.implicit_root: the linear system with the Jacobian of {_name(F)} with respect "
                    f"to x (of shape {_shape(y)} x {_shape(y)}) at the root was not solved by {method}: "
                    f"relative residual {res:.3g} after its iterations. The Jacobian is singular or badly "
                    "conditioned (x is not a regular root: the implicit derivative does not exist), or "
                    "the solver needs more iterations (maxiter=...)")
        return u

    systems: dict = {}

    @functools.wraps(solver)
    def root(x0: Any, *theta: Any) -> Any:
        leaves, tdef = tree_flatten(theta)
        for k, t in enumerate(leaves):
            tv = _raw(t)
            if not hasattr(tv, "dtype") or not _backend.is_floating(tv):
                raise TypeError(f"anyad.implicit_root: parameter {k} of {_name(F)} is "
                                f"{type(tv).__name__}; theta must be floating-point arrays (close over "
                                "other values in F)")
        system = systems.get(tdef)
        if system is None:
            system = systems[tdef] = _System(F, tdef, solver, tangent_solve)
        return system.root(_guess("implicit_root", x0), *leaves)

    return root
