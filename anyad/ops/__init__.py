"""anyad's primitives, by family, and the functions composed from them.

Each family module declares its primitives once, forward kernel beside VJP
rules; :mod:`anyad.ops._core` runs them.
"""

from ._core import apply, unbroadcast
from .creation import (
    arange, asarray, empty, empty_like, eye, full, full_like, linspace, ones, ones_like, zeros, zeros_like,
)
from .elementwise import (
    abs, acos, acosh, add, asin, asinh, atan, atan2, atanh, ceil, clip, cos, cosh, divide, equal, exp,
    expm1, floor, greater, greater_equal, isfinite, isinf, isnan, less, less_equal, log, log1p, log2,
    log10, logical_and, logical_not, logical_or, logical_xor, maximum, minimum, multiply, negative,
    not_equal, positive, pow, round, sign, sin, sinh, sqrt, square, subtract, tan, tanh, trunc, where,
)
from .indexing import getitem, index_add, take
from .linalg import matmul, matrix_transpose, tensordot, vecdot
from .manipulation import (
    astype, broadcast_to, concat, expand_dims, flip, moveaxis, permute_dims, repeat, reshape, roll,
    squeeze, stack, stop_gradient, tile, to_device, tril, triu, unstack,
)
from .reductions import cumulative_sum, logsumexp, max, mean, min, prod, std, sum, var
from .special import erf
from .transfer import to_backend
from .elementwise_extra import (
    bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor, conj,
    copysign, floor_divide, hypot, imag, logaddexp, nextafter, real, reciprocal, remainder, signbit,
)
from .linalg_extra import cholesky, det, eigh, eigvalsh, inv, qr, slogdet, solve, svd, svdvals
from .linalg_composed import (
    cross, diagonal, matrix_norm, matrix_power, matrix_rank, outer, pinv, trace, vector_norm,
)
from .linalg_einsum import einsum
from .sorting import argsort, cumulative_prod, diff, searchsorted, sort, take_along_axis
from . import fft
from . import batching  # noqa: F401  (attaches the batching rules of anyad.vmap)
from . import _variable  # noqa: F401  (installs Variable's operators and methods)

import types as _types

# the functions, not the family modules they live in (fft is the standard's extension)
__all__ = [name for name, obj in globals().items()
           if not name.startswith("_") and not isinstance(obj, _types.ModuleType)] + ["fft"]
