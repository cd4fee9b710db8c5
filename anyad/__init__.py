"""anyad: reverse-mode automatic differentiation over the Python Array API standard.

One engine and one set of derivative rules, run through the array namespace of
the arrays they are given: NumPy on the CPU, CuPy on CUDA GPUs, and torch,
JAX, dask or array_api_strict arrays too.

>>> import anyad as ad
>>> x = ad.Variable([1.0, 2.0], requires_grad=True)
>>> y = ad.sum(ad.sin(x) * x)
>>> y.backward()
>>> x.grad
array([1.38177329, 0.07700375])
"""

# Imports point down the layers (docs/internals.md): the core (Variable, nodes,
# backprop), the primitives (which install Variable's operators), the transforms,
# the faces and the training kit (array_api and _numpy_interop install Variable's
# Array API and NumPy protocols).
from ._backend import Backend, BackendMismatchError, current_backend, use
from ._state import debug_checks, saved_values_hooks
from .graph import GraphFreedError, OpType, Primitive
from .variable import Operation, Variable
from .backprop import backprop
from .ops import *  # noqa: F401,F403  (the Array API-named functions)
from .ops import __all__ as _ops_all
from . import array_api, _numpy_interop  # noqa: F401
from .tracker import GradientTracker
from . import linalg  # the standard's linear algebra extension (anyad.fft comes with the ops)
from . import special  # scipy.special's differentiable functions (also array_api.special)
from . import nn, optim, random  # the training kit
from . import amp  # mixed precision: autocast, GradScaler
from .nn.init import get_default_dtype, set_default_dtype
from . import data
from .random import manual_seed
from .serialization import load, save
from .functional import grad, jvp, no_grad, value_and_grad, vjp
from .jacobians import hessian, hvp, jacfwd, jacobian, jacrev
from .linearize import linear_transpose, linearize
from .vmap import vmap
from . import linear_solve  # matrix-free CG and GMRES (what implicit_root solves with)
from .implicit import custom_root, implicit_root
from .testing import GradcheckError, gradcheck, gradgradcheck
from .custom import custom_vjp
from .compile import GradientCache, TracingError, jit
from .lowered import Lowered, load_program
from .autodiff import Graph, Tensor
from .memory import checkpoint, save_on_host

__version__ = "0.1.0"

__all__ = [
    "Backend", "BackendMismatchError", "GradientTracker", "Graph", "GraphFreedError", "Operation", "OpType",
    "Primitive", "Tensor", "Variable", "backprop", "current_backend", "use", *_ops_all,
    "linalg", "special", "nn", "optim", "random", "save", "load", "get_default_dtype", "set_default_dtype",
    "data", "manual_seed",
    "grad", "value_and_grad", "vjp", "jvp", "jacobian", "jacrev", "jacfwd", "hessian", "hvp", "no_grad",
    "linearize", "linear_transpose", "vmap", "custom_root", "implicit_root", "linear_solve",
    "gradcheck", "gradgradcheck", "GradcheckError", "custom_vjp",
    "jit", "GradientCache", "TracingError", "Lowered", "load_program",
    "saved_values_hooks", "checkpoint", "save_on_host", "debug_checks",
]
