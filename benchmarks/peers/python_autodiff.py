"""python-autodiff 0.1.1 (``import autodiff``): the XOR program of its README,
run as written (only the data is fixed). It has no other workload."""

from __future__ import annotations

import autodiff
import numpy as np

from ..workloads.xor import tensor_graph_program
from . import Impl, NotApplicable


def xor(d):
    return tensor_graph_program(autodiff, d)


def implementations(workload, backends):
    if workload.name != "xor":
        raise NotApplicable("python-autodiff: xor only")
    if "numpy" not in backends:
        return []
    return [Impl("python-autodiff", "numpy", xor, np.asarray)]
