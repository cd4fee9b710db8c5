"""The graph walk (anyad.graph.toposort): every vertex reached once, inputs
before their readers, pruned exactly to the paths that reach the wanted
vertices; recording order (Node.seq) is what orders the nodes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import anyad as ad
from anyad.graph import EVERY, Node, toposort, vertex


def _check_topological(order):
    where = {v: i for i, v in enumerate(order)}
    assert len(where) == len(order), "a vertex listed twice"
    for v in order:
        if type(v) is Node:
            for p in v.parents:
                if p is not None and p in where:
                    assert where[p] < where[v], f"{p} after its reader {v}"


def _diamond_graph():
    x = ad.Variable(np.linspace(0.1, 1.0, 4), requires_grad=True)
    w = ad.Variable(np.full(4, 2.0), requires_grad=True)
    a = ad.sin(x)
    b = ad.exp(a) * w  # reads a, and a leaf that is not x
    c = a * a + b  # a read three times
    d = ad.cos(w) * 3.0  # depends on w only
    return x, w, ad.sum(c * d)


def test_every_vertex_once_in_topological_order():
    x, w, y = _diamond_graph()
    order, needed = toposort([vertex(y)])
    _check_topological(order)
    assert needed == set(order)
    assert x in needed and w in needed
    assert sum(type(v) is Node for v in order) == 9


def test_pruned_to_the_wanted_sources():
    x, w, y = _diamond_graph()
    order, needed = toposort([vertex(y)], {x})
    _check_topological(order)
    assert x in needed and w not in needed
    names = sorted(v.prim.name for v in order if type(v) is Node)
    assert "cos" not in names  # cos(w) leads to w only
    assert names.count("sin") == 1 and "exp" in names and "sum" in names
    # the gradient with respect to x alone equals the one of a full backward
    gx, = ad.backprop([y], [None], [x])
    y2 = _diamond_graph()
    full = dict(ad.backprop([y2[2]], [None], None))
    np.testing.assert_allclose(gx, full[y2[0]], rtol=1e-15)


def test_leaves_that_require_grad_when_wanted_is_none():
    x, w, y = _diamond_graph()
    c = ad.Variable(np.ones(4))  # a constant leaf: not wanted
    z = ad.sum(y * c)
    order, needed = toposort([vertex(z)], None)
    _check_topological(order)
    assert x in needed and w in needed and c not in needed


def test_stop_vertices_end_the_walk():
    x = ad.Variable(np.ones(3), requires_grad=True)
    a = ad.exp(x)
    b = ad.sin(a)
    y = ad.sum(b * b)
    order, _ = toposort([vertex(y)], EVERY, stop={vertex(b)})
    ids = {id(v) for v in order}
    assert id(vertex(a)) not in ids and id(x) not in ids and id(vertex(b)) in ids
    _check_topological(order)


def test_nodes_recorded_in_two_threads_sort_topologically():
    x = ad.Variable(np.linspace(0.0, 1.0, 8), requires_grad=True)
    base = ad.tanh(x)
    outs = []

    def work():
        y = base
        for _ in range(300):
            y = ad.sin(y) * 0.5 + 0.1 * y
        outs.append(y)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = ad.sum(outs[0] + outs[1])
    order, _ = toposort([vertex(total)], {x})
    _check_topological(order)
    (g,) = ad.backprop([total], [None], [x])

    y, d = np.tanh(x.value), 1 - np.tanh(x.value) ** 2  # the derivative by hand
    for _ in range(300):
        d = d * (np.cos(y) * 0.5 + 0.1)
        y = np.sin(y) * 0.5 + 0.1 * y
    np.testing.assert_allclose(g, 2 * d, rtol=1e-12)


def test_a_long_chain_needs_no_recursion():
    x = ad.Variable(np.ones(2), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    order, needed = toposort([vertex(y)], {x})
    assert len(order) == 100_001 and x in needed
    (g,) = ad.backprop([ad.sum(y)], [None], [x])
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_a_freed_node_is_reported():
    x = ad.Variable(np.ones(2), requires_grad=True)
    y = ad.sum(ad.exp(x))
    y.backward()
    with pytest.raises(ad.graph.GraphFreedError, match="retain_graph=True"):
        y.backward()
