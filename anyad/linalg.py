"""The linear algebra extension of the Array API standard, differentiable.

``anyad.linalg.inv(x)`` and friends: the same functions as at the top level of
:mod:`anyad`, gathered under the extension's name (as ``numpy.linalg`` is).

Examples
--------
>>> import anyad as ad
>>> x = ad.Variable([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
>>> ad.linalg.inv(x)
Variable([[0.5  0.  ]
          [0.   0.25]])
"""

from .ops import (  # noqa: F401
    cholesky, cross, det, diagonal, eigh, eigvalsh, inv, matmul, matrix_norm, matrix_power, matrix_rank,
    matrix_transpose, outer, pinv, qr, slogdet, solve, svd, svdvals, tensordot, trace, vecdot, vector_norm,
)

__all__ = [
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm", "matrix_power",
    "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot",
    "trace", "vecdot", "vector_norm",
]
