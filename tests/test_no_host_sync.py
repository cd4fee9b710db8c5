"""No host synchronisation inside forward or backward.

Device arrays of array_api_strict are made to raise on every conversion to a
host value (``bool``, ``float``, ``int``, ``complex``, ``__index__``,
``__array__``, ``__dlpack__`` to numpy), the operations that would stall a GPU
stream. Every primitive case then runs forward, backward, and a second-order
backward: any such call inside the engine fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import anyad as ad

from conftest import backprop_to_second_order
from primitive_cases import CASES

strict = pytest.importorskip("array_api_strict")
DEVICE = strict.Device("device1")


def _inputs(case):
    rng = np.random.default_rng(0)
    return [strict.asarray(g(rng, s), device=DEVICE) for g, s in zip(case.gens, case.shapes)]


# boolean-mask indexing has a data-dependent output shape: the backend itself
# must synchronise to size it (CuPy does too), so it is excluded here
SYNC_FREE = [c for c in CASES if c.name != "getitem_bool_mask"]


@pytest.mark.parametrize("case", SYNC_FREE, ids=[c.id for c in SYNC_FREE])
def test_forward_backward_and_second_order_never_touch_the_host(case, no_host_sync):
    inputs = _inputs(case)
    xs = [ad.Variable(x, requires_grad=True) for x in inputs]
    grads = backprop_to_second_order(case.f(*xs), xs)
    for g in grads:
        if g is not None:
            assert g.device == DEVICE


def test_the_guard_catches_a_sync(no_host_sync):
    x = strict.asarray([1.0], device=DEVICE)
    with pytest.raises(AssertionError, match="host synchronisation"):
        float(x)
