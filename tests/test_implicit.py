"""Implicit differentiation (custom_root, implicit_root) and the matrix-free
solvers: closed forms (sqrt via x^2 - p, a linear system against solve),
finite differences of SciPy's root (a nonlinear system), the unrolled fixed
point iteration (x = tanh(W x + theta)), on every backend; first and second
order, reverse and forward mode; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.linear_solve import cg, gmres, residual


def _close(a, b, tol=1e-8):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=tol, atol=tol)


def newton(g, x):
    """A Newton loop written with the namespace and anyad: portable, fixed steps."""
    for _ in range(8):
        _, jac = ad.linearize(g, x)
        x = x - gmres(jac, g(x))
    return x


def fixed_point(g, x):
    """x <- x - g(x) = tanh(W x + theta), a contraction here."""
    for _ in range(200):
        x = x - g(x)
    return x


# ---------------------------------------------------------------------------
# sqrt via x^2 - p = 0: closed forms on every backend
# ---------------------------------------------------------------------------


def test_sqrt_first_and_second_order(be):
    p = np.array([0.5, 2.0, 9.0])
    root = ad.implicit_root(lambda x, p: x * x - p, newton)
    x0 = be.array(np.ones(3))
    _close(be.to_numpy(root(x0, be.array(p))), np.sqrt(p), 1e-12)

    def loss(q):
        return ad.sum(root(x0, q) * be.array([1.0, 2.0, 3.0]))

    w = np.array([1.0, 2.0, 3.0])
    g = ad.grad(loss)(be.array(p))
    assert type(g) is type(be.array(p))
    _close(be.to_numpy(g), w / (2 * np.sqrt(p)))
    h = ad.hessian(loss)(be.array(p))
    _close(be.to_numpy(h), np.diag(-w * p ** -1.5 / 4))
    gg = ad.grad(lambda q: ad.sum(ad.grad(loss)(q)))(be.array(p))  # grad of grad
    _close(be.to_numpy(gg), -w * p ** -1.5 / 4)
    _, t = ad.jvp(lambda q: root(x0, q), (be.array(p),), (be.array(np.ones(3)),))  # forward mode
    _close(be.to_numpy(t), 1 / (2 * np.sqrt(p)))


def test_custom_root_jax_semantics(be):
    """f closes over the parameter; tangent_solve(g, y) solves g(x) = y."""
    def sqrt(p):
        return ad.custom_root(lambda x: x * x - p, be.array(1.0), newton, lambda g, y: y / g(1.0))

    p = be.array(4.0)
    _close(be.to_numpy(sqrt(p)), 2.0, 1e-12)
    _close(be.to_numpy(ad.grad(sqrt)(p)), 0.25, 1e-12)
    _close(be.to_numpy(ad.jvp(sqrt, (p,), (be.array(1.0),))[1]), 0.25, 1e-12)
    _close(be.to_numpy(ad.grad(ad.grad(sqrt))(p)), -4.0 ** -1.5 / 4, 1e-12)
    with pytest.raises(NotImplementedError, match="order 3 and more through custom_root.*implicit_root"):
        ad.grad(ad.grad(ad.grad(sqrt)))(p)


def test_custom_root_second_order_with_mixed_partials():
    """x^2 - p x - 1 = 0 (d2F/dx dp != 0): x = (p + s) / 2, s = sqrt(p^2 + 4),
    x'' = 2 / s^3, in every composition of modes."""
    def r(p):
        return ad.custom_root(lambda x: x * x - p * x - 1.0, np.array(1.0), newton, lambda g, y: y / g(1.0))

    p = np.array(0.7)
    s = np.sqrt(0.49 + 4)
    _close(ad.grad(r)(p), (1 + 0.7 / s) / 2, 1e-12)
    for d2 in (ad.grad(ad.grad(r)), ad.hessian(r), ad.jacrev(ad.jacfwd(r)), ad.jacfwd(ad.jacrev(r))):
        _close(d2(p), 2 / s ** 3, 1e-12)
    with pytest.raises(NotImplementedError, match="forward mode over reverse mode with anyad.jvp"):
        ad.hvp(r, p, np.array(1.0))


def test_custom_root_hessian_vs_implicit_root():
    """The nonlinear system, its parameters closed over, against implicit_root's Hessian."""
    x0 = np.array([0.5, 0.5])

    def via_custom(t):
        x = ad.custom_root(lambda x: _F_nonlinear(x, t), x0, _scipy_solver, lambda g, y: gmres(g, y))
        return ad.sum(ad.sin(x))

    root = ad.implicit_root(_F_nonlinear, _scipy_solver)
    t = np.array([1.5, 1.2])
    _close(ad.hessian(via_custom)(t), ad.hessian(lambda t: ad.sum(ad.sin(root(x0, t))))(t), 1e-9)


def test_custom_root_vector_and_aux():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])

    def solve(g, x0):
        return _scipy_solver(g, x0), "aux"

    def root(t):
        x, aux = ad.custom_root(lambda x: ad.matmul(A, x) + x ** 3 - t, np.zeros(2), solve,
                                lambda g, y: gmres(g, y), has_aux=True)
        assert aux == "aux"
        return x

    t = np.array([1.0, 2.0])
    x = root(t)
    J = A + np.diag(3 * x ** 2)
    _close(ad.jacrev(root)(t), np.linalg.inv(J), 1e-10)
    _close(ad.jacfwd(root)(t), np.linalg.inv(J), 1e-10)


def test_third_order_implicit_root(be):
    root = ad.implicit_root(lambda x, p: x * x - p, newton)
    one = be.array(1.0)

    def sqrt(p):
        return root(one, p)

    p = be.array(4.0)
    _close(be.to_numpy(ad.grad(ad.grad(ad.grad(sqrt)))(p)), 3 / 8 * 4.0 ** -2.5, 1e-12)
    _close(be.to_numpy(ad.jvp(ad.grad(sqrt), (p,), (be.array(1.0),))[1]), -4.0 ** -1.5 / 4, 1e-12)


# ---------------------------------------------------------------------------
# a linear system A(theta) x = b(theta), against solve
# ---------------------------------------------------------------------------


def test_linear_system_vs_solve(be):
    rng = np.random.default_rng(0)
    A0 = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    B = rng.standard_normal((4, 4))
    theta = rng.standard_normal(4)
    A0b, Bb = be.array(A0), be.array(B)

    def A(t):
        return ad.reshape(t, (4, 1)) * Bb + A0b  # rows scaled: A depends on theta

    def F(x, t):
        return ad.matmul(A(t), x) - ad.sin(t)

    root = ad.implicit_root(F, newton)
    x0 = be.array(np.zeros(4))

    def via_root(t):
        return ad.sum(root(x0, t) ** 2)

    def via_solve(t):
        return ad.sum(ad.linalg.solve(A(t), ad.sin(t)) ** 2)

    t = be.array(theta)
    _close(be.to_numpy(ad.grad(via_root)(t)), be.to_numpy(ad.grad(via_solve)(t)), 1e-10)
    _close(be.to_numpy(ad.hessian(via_root)(t)), be.to_numpy(ad.hessian(via_solve)(t)), 1e-8)
    _close(be.to_numpy(ad.jacfwd(lambda t: root(x0, t))(t)),
           be.to_numpy(ad.jacrev(lambda t: ad.linalg.solve(A(t), ad.sin(t)))(t)), 1e-10)


# ---------------------------------------------------------------------------
# a small nonlinear system, solved by scipy.optimize.root on NumPy values
# ---------------------------------------------------------------------------


def _F_nonlinear(x, t):
    return ad.stack([x[0] + x[1] ** 3 - t[0], ad.exp(x[0]) * x[1] - t[1] + 0.1 * x[0] * t[0]])


def _scipy_solver(g, x0):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    return scipy_optimize.root(g, x0, method="hybr", tol=1e-14).x


def test_nonlinear_system_scipy_root():
    root = ad.implicit_root(_F_nonlinear, _scipy_solver)
    x0 = np.array([0.5, 0.5])
    t = np.array([1.5, 1.2])

    def sol(t):  # the reference: the solver itself, differentiated by finite differences
        return _scipy_solver(lambda x: _F_nonlinear(x, t), x0)

    eps = 1e-6
    fd = np.stack([(sol(t + eps * e) - sol(t - eps * e)) / (2 * eps) for e in np.eye(2)], axis=1)
    _close(ad.jacrev(lambda t: root(x0, t))(t), fd, 1e-6)
    _close(ad.jacfwd(lambda t: root(x0, t))(t), fd, 1e-6)
    loss = lambda t: ad.sum(root(x0, t) ** 2)  # noqa: E731
    g = ad.grad(loss)
    fd2 = np.stack([(g(t + 1e-5 * e) - g(t - 1e-5 * e)) / 2e-5 for e in np.eye(2)], axis=1)
    _close(ad.hessian(loss)(t), fd2, 1e-5)
    assert ad.gradcheck(lambda t: root(x0, t), (t,))
    assert ad.gradgradcheck(lambda t: root(x0, t), (t,))


# ---------------------------------------------------------------------------
# a fixed point x = tanh(W x + theta), against the unrolled iteration
# ---------------------------------------------------------------------------


def test_fixed_point_vs_unrolled(be):
    rng = np.random.default_rng(1)
    n = 5
    W = rng.standard_normal((n, n)) * 0.2
    Wb = be.array(W)
    theta = be.array(rng.standard_normal(n))
    x0 = be.array(np.zeros(n))

    def F(x, t):
        return x - ad.tanh(ad.matmul(Wb, x) + t)

    root = ad.implicit_root(F, fixed_point)

    def unrolled(t):
        x = x0
        for _ in range(80):
            x = ad.tanh(t + ad.matmul(Wb, x))
        return x

    loss_i = lambda t: ad.sum(ad.sin(root(x0, t)))  # noqa: E731
    loss_u = lambda t: ad.sum(ad.sin(unrolled(t)))  # noqa: E731
    _close(be.to_numpy(root(x0, theta)), be.to_numpy(unrolled(theta)), 1e-12)
    _close(be.to_numpy(ad.grad(loss_i)(theta)), be.to_numpy(ad.grad(loss_u)(theta)), 1e-10)
    _close(be.to_numpy(ad.jacfwd(lambda t: root(x0, t))(theta)),
           be.to_numpy(ad.jacrev(unrolled)(theta)), 1e-10)
    _close(be.to_numpy(ad.hessian(loss_i)(theta)), be.to_numpy(ad.hessian(loss_u)(theta)), 1e-9)


def test_cg_method_symmetric_system(be):
    """F the gradient of a convex function: J is symmetric positive definite."""
    rng = np.random.default_rng(2)
    M = rng.standard_normal((4, 4))
    S = be.array(M @ M.T + 4 * np.eye(4))

    def F(x, t):  # gradient of 0.5 x^T S x + sum(cosh(x)) - t.x
        return ad.matmul(S, x) + ad.sinh(x) - t

    root = ad.implicit_root(F, newton, method="cg")
    root_g = ad.implicit_root(F, newton, method="gmres")
    t, x0 = be.array(rng.standard_normal(4)), be.array(np.zeros(4))
    loss = lambda r: lambda t: ad.sum(r(x0, t) ** 3)  # noqa: E731
    _close(be.to_numpy(ad.grad(loss(root))(t)), be.to_numpy(ad.grad(loss(root_g))(t)), 1e-10)
    _close(be.to_numpy(ad.hessian(loss(root))(t)), be.to_numpy(ad.hessian(loss(root_g))(t)), 1e-9)


def test_pytree_parameters_and_decorator():
    @ad.implicit_root(lambda x, p: p["a"] * x ** 3 + x - p["b"])
    def solve(g, x0):
        return _scipy_solver(g, x0)

    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 1.0])}
    x = solve(np.ones(2), p)
    g = ad.grad(lambda p: ad.sum(solve(np.ones(2), p)))(p)
    d = 1 / (3 * p["a"] * x ** 2 + 1)  # dx/db; dx/da = -x^3 dx/db
    _close(g["b"], d)
    _close(g["a"], -x ** 3 * d)


def test_solver_runs_once_and_outside_the_graph():
    calls = []

    def solver(g, x0):
        calls.append(type(x0))
        return _scipy_solver(g, x0)

    root = ad.implicit_root(lambda x, p: x * x - p, solver)
    ad.hessian(lambda p: ad.sum(root(np.ones(2), p)))(np.array([4.0, 9.0]))
    assert calls == [np.ndarray]  # once, on raw NumPy arrays


def test_no_host_sync_with_check_off(no_host_sync):
    import array_api_strict as strict

    S = strict.asarray([[4.0, 1.0], [1.0, 3.0]])
    b = strict.asarray([1.0, 2.0])
    for solve in (cg, gmres):  # fixed iteration counts, device-side masks
        x = solve(lambda v: S @ v, b)
        assert isinstance(x, type(b))

    root = ad.implicit_root(lambda x, p: x * x - p, newton, check=False)
    p = strict.asarray([4.0, 9.0])
    g = ad.grad(lambda p: ad.sum(root(strict.ones(2, dtype=strict.float64), p)))(p)
    assert isinstance(g, type(p))


# ---------------------------------------------------------------------------
# the solvers
# ---------------------------------------------------------------------------


def test_cg_gmres_vs_numpy(be):
    rng = np.random.default_rng(3)
    M = rng.standard_normal((8, 8))
    S, A, b = M @ M.T + np.eye(8), M + 4 * np.eye(8), rng.standard_normal(8)
    Sb, Ab, bb = be.array(S), be.array(A), be.array(b)
    _close(be.to_numpy(cg(lambda v: Sb @ v, bb)), np.linalg.solve(S, b), 1e-9)
    x = gmres(lambda v: Ab @ v, bb)
    _close(be.to_numpy(x), np.linalg.solve(A, b), 1e-10)
    assert float(be.to_numpy(residual(lambda v: Ab @ v, x, bb))) < 1e-12


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_residual_of_wrong_shape():
    def F_bad(x, p):
        return ad.concat([x, p])

    root = ad.implicit_root(F_bad, _scipy_solver)
    with pytest.raises(ValueError, match=r"F_bad returned shape \(4,\) for x of shape \(2,\)"):
        root(np.ones(2), np.ones(2))


def test_solver_returning_wrong_shape():
    root = ad.implicit_root(lambda x, p: x - p, lambda g, x0: np.zeros(3))
    with pytest.raises(ValueError, match=r"returned shape \(3,\), the initial guess has shape \(2,\)"):
        root(np.ones(2), np.ones(2))


def test_singular_jacobian():
    def F_sq(x, p):
        return x * x - p

    root = ad.implicit_root(F_sq, lambda g, x0: np.zeros(2))  # x* = 0 for p = 0: J = 2x = 0
    with pytest.raises(ValueError, match=r"Jacobian of F_sq .* shape \(2,\) x \(2,\).*singular"):
        ad.grad(lambda p: ad.sum(root(np.ones(2), p)))(np.zeros(2))


def test_bad_method_and_parameters():
    with pytest.raises(ValueError, match="method must be 'gmres' or 'cg'"):
        ad.implicit_root(lambda x, p: x - p, newton, method="lu")
    root = ad.implicit_root(lambda x, n: x - n, newton)
    with pytest.raises(TypeError, match="parameter 0 of <lambda> is int"):
        root(np.ones(2), 3)


# ---------------------------------------------------------------------------
# composition with jit, float32
# ---------------------------------------------------------------------------


def test_jit_replays_the_solver():
    """Under anyad.jit the solver and the linear solves are opaque operations,
    re-run on each call's values."""
    calls = []

    def solver(g, x0):
        calls.append(1)
        return _scipy_solver(g, x0)

    root = ad.implicit_root(lambda x, p: x * x - p, solver)
    w = np.array([1.0, 2.0])
    loss = lambda p: ad.sum(root(np.ones(2), p) * w)  # noqa: E731
    g = ad.jit(ad.grad(loss))
    h = ad.jit(ad.hessian(loss))
    for p in (np.array([4.0, 9.0]), np.array([16.0, 25.0])):
        _close(g(p), w / (2 * np.sqrt(p)))
        _close(h(p), np.diag(-w * p ** -1.5 / 4))
    assert len(calls) == 4  # once per call: nothing frozen into the programs


def test_float32(be):
    root = ad.implicit_root(lambda x, p: x * x - p, newton)
    p = be.array([4.0, 9.0], dtype="float32")
    x0 = be.array([1.0, 1.0], dtype="float32")
    g = ad.grad(lambda p: ad.sum(root(x0, p)))(p)
    assert g.dtype == p.dtype
    _close(be.to_numpy(g), [0.25, 1 / 6], 1e-5)


def test_custom_root_refuses_jit_and_vmap():
    """custom_root solves on raw arrays: under jit its root and derivative were
    frozen into the program (every replay returned the first call's values)."""
    from anyad.compile import TracingError

    def root(t):
        return ad.custom_root(lambda x: x ** 3 + x - t, np.zeros(1), _scipy_solver, lambda g, y: gmres(g, y))

    for transform in (ad.jit(ad.grad(lambda t: ad.sum(root(t)))), ad.vmap(root)):
        with pytest.raises(TracingError, match="implicit_root"):
            transform(np.array([[1.0]]) if transform.__name__ == "root" else np.array([1.0]))
    t = np.array([10.0])  # eager: right, and the batched Jacobian falls back to a loop
    x = _scipy_solver(lambda x: x ** 3 + x - t, np.zeros(1))
    _close(ad.grad(lambda t: ad.sum(root(t)))(t), 1 / (3 * x ** 2 + 1), 1e-10)
    _close(ad.jacrev(root)(t), np.diag(1 / (3 * x ** 2 + 1)), 1e-10)
