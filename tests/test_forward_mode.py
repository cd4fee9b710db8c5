"""Forward mode: every primitive's JVP rule against reverse mode, the transposed
fallback, the sweep's structure, and gradcheck's forward check catching a wrong rule."""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad
from anyad.forward import ForwardSweep
from anyad.graph import PRIMITIVES
from anyad.testing import GradcheckError, gradcheck

from primitive_cases import CASES, INDEX_CASES


def _np(be, x):
    return be.to_numpy(x)


def _flat_jacobian_times(be, case, inputs, tangents):
    """J t from reverse mode: the reverse Jacobian of each input contracted with its tangent."""
    total = None
    for k in range(len(inputs)):
        def fk(x, k=k):
            args = [ad.Variable(v) for v in inputs]  # strict arrays refuse a Variable on their right
            args[k] = x
            return case.f(*args)

        J = _np(be, ad.jacrev(fk)(inputs[k]))
        t = _np(be, tangents[k])
        part = J.reshape(J.shape[: J.ndim - t.ndim] + (-1,)) @ t.reshape(-1)
        total = part if total is None else total + part
    return total


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_jvp_matches_reverse_mode(be, case):
    if be.name == "dask" and case.name == "getitem_bool_mask":
        pytest.skip("dask leaves a boolean selection's size unknown: anyad.getitem refuses to record it")
    inputs = case.inputs(be)
    rng = np.random.default_rng(7)
    tangents = [be.array(rng.normal(size=tuple(x.shape))) for x in inputs]
    out, tout = ad.jvp(case.f, tuple(inputs), tuple(tangents))
    expected = _flat_jacobian_times(be, case, inputs, tangents)
    np.testing.assert_allclose(_np(be, tout), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(be, out), _np(be, case.f(*inputs)), rtol=1e-12)
    assert tout.dtype == out.dtype
    assert repr(ad._backend.device_of(tout)) == repr(ad._backend.device_of(inputs[0]))


@pytest.mark.parametrize("name,f,shape,index", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_jvp_of_integer_indexing(be, name, f, shape, index):
    rng = np.random.default_rng(1)
    x = be.array(rng.uniform(-1, 1, size=shape))
    i = be.array(np.array(index), dtype="int64")
    t = be.array(rng.normal(size=shape))
    _, tout = ad.jvp(lambda v: f(v, i) ** 2, (x,), (t,))
    J = _np(be, ad.jacrev(lambda v: f(v, i) ** 2)(x))
    tn = _np(be, t)
    np.testing.assert_allclose(_np(be, tout), J.reshape(J.shape[: J.ndim - tn.ndim] + (-1,)) @ tn.reshape(-1),
                               rtol=1e-12, atol=1e-12)


def test_the_core_families_have_their_own_rules():
    """Every differentiable primitive of the core families carries a JVP rule
    (the transposed fallback is for primitives added without one)."""
    core = ("anyad.ops.elementwise", "anyad.ops.reductions", "anyad.ops.linalg", "anyad.ops.manipulation",
            "anyad.ops.indexing")
    missing = [p.name for p in PRIMITIVES.values()
               if p.vjps is not None and p.jvp is None and p.fwd.__module__ in core]
    assert missing == []


FALLBACK_CASES = [c for c in CASES if c.name in (
    "sin", "multiply", "matmul_2d", "prod", "concat", "max", "getitem_basic", "divide", "where")]


@pytest.mark.parametrize("case", FALLBACK_CASES, ids=lambda c: c.id)
def test_transposed_fallback_matches_the_rule(be, case, monkeypatch):
    """A primitive without a JVP rule gets one derived from its VJP rules."""
    inputs = case.inputs(be)
    rng = np.random.default_rng(3)
    tangents = tuple(be.array(rng.normal(size=tuple(x.shape))) for x in inputs)
    _, with_rule = ad.jvp(case.f, tuple(inputs), tangents)
    for prim in PRIMITIVES.values():
        monkeypatch.setattr(prim, "jvp", None)
    _, derived = ad.jvp(case.f, tuple(inputs), tangents)
    np.testing.assert_allclose(_np(be, derived), _np(be, with_rule), rtol=1e-12, atol=1e-12)
    # and it composes: the fallback builds a differentiable tangent when nested
    hv = ad.grad(lambda *xs: ad.sum(ad.jvp(case.f, xs, tangents)[1]))(*inputs)
    assert tuple(hv.shape) == tuple(inputs[0].shape)


def test_sweep_applies_one_rule_per_dependent_operation(monkeypatch):
    calls = []
    sin_prim = ad.sin.primitive
    rule = sin_prim.jvp

    def counting(*a, **k):
        calls.append(1)
        return rule(*a, **k)

    monkeypatch.setattr(sin_prim, "jvp", counting)
    c = np.array([0.3, 0.4])

    def f(x):
        unrelated = ad.sin(ad.Variable(c)) * 2.0  # does not depend on x: no tangent work
        y = x
        for _ in range(10):
            y = ad.sin(y)
        return y + unrelated

    ad.jvp(f, (np.array([1.0, 2.0]),), (np.ones(2),))
    assert len(calls) == 10


def test_nested_sweep_does_not_walk_the_enclosing_graph():
    x = ad.Variable(np.linspace(0.1, 1.0, 3), requires_grad=True)
    y = x
    for _ in range(500):  # a long enclosing graph
        y = y * 1.001
    inner = ad.sin(y) * y  # two operations between the sweep's input and output
    sweep = ForwardSweep([inner], [y])
    assert len(sweep.order) == 2
    (t,) = sweep.run([np.ones(3)])
    yv = y.value
    np.testing.assert_allclose(t, np.cos(yv) * yv + np.sin(yv))


def test_long_chain_forward_mode_is_iterative():
    n = 20000

    def f(x):
        for _ in range(n):
            x = x * 1.0001 + 0.0001
        return x

    _, t = ad.jvp(f, (np.array([1.0]),), (np.array([1.0]),))
    np.testing.assert_allclose(t, [1.0001 ** n], rtol=1e-9)


def test_jvp_cost_is_independent_of_output_size():
    """One sweep gives the whole output tangent: no per-output-element passes."""
    calls = []
    rule = ad.exp.primitive.jvp

    def counting(*a, **k):
        calls.append(1)
        return rule(*a, **k)

    prim = ad.exp.primitive
    old = prim.jvp
    prim.jvp = counting
    try:
        ad.jvp(lambda x: ad.exp(x), (np.ones(1000),), (np.ones(1000),))
    finally:
        prim.jvp = old
    assert len(calls) == 1


def test_gradcheck_catches_a_wrong_forward_rule(monkeypatch):
    prim = ad.sin.primitive
    monkeypatch.setattr(prim, "jvp", lambda ts, ans, x: ad.multiply(ts[0], ad.sin(x)))  # wrong: sin, not cos
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: ad.sin(x) * 2.0, [np.array([0.1, 0.5, 1.2])])
    msg = str(info.value)
    assert "forward mode" in msg and "output 0" in msg and "worst element at index (0,)" in msg
    assert "finite differences" in msg and "tolerance atol=" in msg
    # the reverse-mode part alone still passes (the VJP rule is right)
    assert gradcheck(lambda x: ad.sin(x) * 2.0, [np.array([0.1, 0.5, 1.2])], check_forward=False)


def test_gradcheck_catches_a_wrong_reverse_rule(monkeypatch):
    prim = ad.cos.primitive
    monkeypatch.setattr(prim, "vjps", (lambda g, ans, x: ad.multiply(g, ad.sin(x)),))  # sign error
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: ad.cos(x), [np.array([[0.2, 0.9], [1.4, -0.3]])], check_forward=False)
    msg = str(info.value)
    assert "reverse mode" in msg and "input 0" in msg and "worst element at index (1, 0)" in msg
    assert "tolerance atol=1e-06 + rtol=0.0001" in msg


def test_gradcheck_forward_check_on_every_backend(be):
    x = be.array(np.array([0.3, -0.7, 1.1]))
    w = be.array(np.array([[1.0, 2.0, 0.5], [0.1, -0.4, 0.9]]))
    assert gradcheck(lambda x, w: ad.tanh(ad.matmul(w, x)) * ad.sum(x), [x, w])
    assert ad.gradgradcheck(lambda x, w: ad.tanh(ad.matmul(w, x)) * ad.sum(x), [x, w])


def test_primitives_added_elsewhere_work_in_forward_mode(be):
    """Primitives declared without a JVP rule (other families) go through the
    transposed fallback; check the ones present against reverse mode."""
    rng = np.random.default_rng(5)
    vector = []
    if hasattr(ad, "hypot"):
        vector.append(lambda x: ad.hypot(x, x * 2.0 + 1.0))
    if hasattr(ad, "logaddexp"):
        vector.append(lambda x: ad.logaddexp(x, x * x))
    if hasattr(ad, "erf"):
        vector.append(ad.erf)
    matrix = [getattr(ad, name) for name in ("inv", "det", "cholesky") if hasattr(ad, name)]
    if hasattr(ad, "eigh"):
        matrix.append(lambda a: ad.eigh(a).eigenvalues)
    if hasattr(ad, "solve"):
        matrix.append(lambda a: ad.solve(a, ad.matrix_transpose(a[:1, :])))
    if not vector and not matrix:
        pytest.skip("no primitives without forward rules are present")
    a0 = rng.normal(size=(3, 3))
    cases = [(f, rng.uniform(0.2, 1.0, size=4), rng.normal(size=4)) for f in vector]
    cases += [(f, a0 @ a0.T + 3 * np.eye(3), (lambda t: t + t.T)(rng.normal(size=(3, 3)))) for f in matrix]
    for f, x0, t0 in cases:
        x, t = be.array(x0), be.array(t0)
        _, tout = ad.jvp(f, (x,), (t,))
        J = _np(be, ad.jacrev(f)(x))
        expected = J.reshape(J.shape[: J.ndim - t0.ndim] + (-1,)) @ t0.reshape(-1)
        np.testing.assert_allclose(_np(be, tout), expected, rtol=1e-9, atol=1e-12)


def test_jvp_releases_the_graph_and_tangents_as_it_sweeps():
    """Peak memory of jvp is that of the recorded forward pass plus a few
    tangents (not twice the graph): each operation's saved values and each
    tangent are released once the sweep has passed them."""
    import tracemalloc

    n, steps = 50_000, 40
    x, t = np.ones(n), np.ones(n)
    size = x.nbytes

    def f(x):
        for _ in range(steps):
            x = ad.sin(x) * 1.0001
        return x

    def peak(fn):
        tracemalloc.start()
        fn()
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p / size

    recorded = peak(lambda: f(ad.Variable(x, requires_grad=True)))
    forward_mode = peak(lambda: ad.jvp(f, (x,), (t,)))
    assert recorded >= steps  # the recorded forward holds what sin keeps: its input, every step
    assert forward_mode <= recorded + 6, (forward_mode, recorded)
