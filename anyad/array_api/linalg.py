"""The ``linalg`` extension of :mod:`anyad.array_api`: differentiable where the
result is (see :mod:`anyad.ops.linalg_extra` and :mod:`anyad.ops.linalg_composed`).

>>> import anyad.array_api as xp
>>> a = xp.asarray([[2.0, 0.0], [0.0, 3.0]])
>>> xp.linalg.det(a)
Variable(6.0)
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from ..ops import matmul, matrix_transpose, tensordot
from ..ops._helpers import like, raw
from ..ops.linalg_composed import (
    cross, diagonal, matrix_norm, matrix_power, matrix_rank, outer, pinv, trace, vector_norm,
)
from ..ops.linalg_extra import _linalg, cholesky, det, eigh, eigvalsh, inv, qr, slogdet, solve, svd, svdvals
from ._functions import vecdot
from .._backend import namespace_of

__all__ = [
    "cholesky", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matmul",
    "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet",
    "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
]

EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])


def eig(x: Any, /) -> Any:
    """Eigenvalues and eigenvectors of general square matrices (complex; not differentiable).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.linalg.eig(xp.asarray([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    Variable([2.+0.j 1.+0.j])
    """
    r = raw(x)
    return EigResult(*like(x, tuple(_linalg(namespace_of(r)).eig(r))))


def eigvals(x: Any, /) -> Any:
    """Eigenvalues of general square matrices (complex; not differentiable).

    Examples
    --------
    >>> import anyad.array_api as xp
    >>> xp.linalg.eigvals(xp.asarray([[2.0, 0.0], [0.0, 1.0]]))
    Variable([2.+0.j 1.+0.j])
    """
    r = raw(x)
    return like(x, _linalg(namespace_of(r)).eigvals(r))
