"""Backends: which array namespace anyad uses, and the gaps of the standard.

Everything backend-specific lives here (and in :mod:`anyad._numpy_interop`):

* :func:`use` chooses the namespace used to create arrays from Python data;
* :func:`namespace_of` finds the namespace of an array, cached per array type;
* :func:`scatter_add` fills the one gap of the standard the engine needs
  (accumulating repeated indices).

The engine itself never imports numpy or cupy; it calls ``xp.<function>`` on the
namespace of the arrays in hand.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import threading
import types
from typing import Any

import array_api_compat

from .backends import dtypes as _dtypes

__all__ = [
    "BackendMismatchError",
    "Backend",
    "use",
    "current_backend",
    "default_backend",
    "namespace_of",
    "backend_name",
    "device_of",
]

_SCALARS = frozenset((bool, int, float, complex))  # exact types: np.float64 is an array here


class BackendMismatchError(TypeError):
    """Arrays from two array libraries, or two devices, met in one operation."""


class Backend:
    """A resolved backend: its name, Array API namespace and default device.

    Parameters
    ----------
    name : str
        Short name (``"numpy"``, ``"torch"``, ...).
    xp : module
        The Array API namespace.
    device : object, optional
        The device new arrays are created on (``None``: the namespace's default).
    """

    __slots__ = ("name", "xp", "device")

    def __init__(self, name: str, xp: Any, device: Any = None):
        self.name = name
        self.xp = xp
        self.device = device

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """Convert Python data or a foreign array into this backend."""
        xp = self.xp
        if dtype is not None:
            dtype = resolve_dtype(xp, dtype)
        if self.device is None:
            return xp.asarray(data, dtype=dtype)
        return xp.asarray(data, dtype=dtype, device=self.device)

    def __repr__(self) -> str:
        dev = "" if self.device is None else f", device={self.device!r}"
        return f"Backend({self.name!r}{dev})"


# ----------------------------------------------------------------------------
# Namespace lookup, cached per array type
# ----------------------------------------------------------------------------

_NS_BY_TYPE: dict[type, Any] = {}
_NAME_BY_NS: dict[int, str] = {}


def _fast_numpy_namespace() -> Any:
    """array-api-compat's numpy namespace, with numpy's own (faster) functions
    where numpy >= 2 already conforms for floating inputs."""
    import numpy as np  # the backend layer is the one place numpy is imported
    import array_api_compat.numpy as cnp

    ns = types.SimpleNamespace(**{k: getattr(cnp, k) for k in dir(cnp) if not k.startswith("__")})
    ns.__name__ = "anyad.numpy_namespace"
    ns.__array_api_version__ = cnp.__array_api_version__
    ns.__array_namespace_info__ = cnp.__array_namespace_info__
    ns.matmul = np.matmul
    ns.matrix_transpose = np.matrix_transpose
    ns.permute_dims = np.transpose
    ns.tensordot = np.tensordot
    add_reduce, mul_reduce = np.add.reduce, np.multiply.reduce
    max_reduce, min_reduce = np.maximum.reduce, np.minimum.reduce
    inexact = np.inexact

    # np.sum & co. go through several layers of Python; the ufunc reductions
    # are the same kernels with a fraction of the overhead. Integer sums keep
    # the standard's promotion by deferring to array-api-compat.
    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        if dtype is None and isinstance(x.dtype.type(0), inexact):
            return add_reduce(x, axis=axis, keepdims=keepdims)
        return cnp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(x, /, *, axis=None, dtype=None, keepdims=False):
        if dtype is None and isinstance(x.dtype.type(0), inexact):
            return mul_reduce(x, axis=axis, keepdims=keepdims)
        return cnp.prod(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(x, /, *, axis=None, keepdims=False):
        return max_reduce(x, axis=axis, keepdims=keepdims)

    def min(x, /, *, axis=None, keepdims=False):
        return min_reduce(x, axis=axis, keepdims=keepdims)

    ns.sum, ns.prod, ns.max, ns.min = sum, prod, max, min
    from .backends.select import where  # numpy.where branches per element: a bit select

    ns.where = where
    return ns


def _resolve_namespace(value: Any) -> Any:
    """Slow path of :func:`namespace_of`: ask array-api-compat, then cache."""
    if type(value) in _SCALARS:
        return None
    try:
        xp = array_api_compat.array_namespace(value)
    except TypeError:
        raise TypeError(
            f"anyad: {type(value).__module__}.{type(value).__qualname__} is not an array of a "
            "supported library (numpy, cupy, torch, jax, dask, array_api_strict or any "
            "Array API namespace)"
        ) from None
    if array_api_compat.is_numpy_namespace(xp):
        xp = _numpy_backend().xp
    elif array_api_compat.is_dask_namespace(xp):
        xp = _dask_namespace()
    elif array_api_compat.is_torch_namespace(xp):
        xp = _torch_namespace()
    if type(value).__module__ == "anyad.variable":  # a Variable's namespace depends on its value
        return xp
    _NS_BY_TYPE[type(value)] = xp
    return xp


def namespace_of(value: Any) -> Any:
    """Return the Array API namespace of ``value`` (``None`` for a Python scalar).

    The answer is cached per array type, so the lookup costs one dict access.

    Examples
    --------
    >>> import numpy as np
    >>> from anyad._backend import namespace_of, backend_name
    >>> backend_name(namespace_of(np.ones(2)))
    'numpy'
    """
    try:
        return _NS_BY_TYPE[type(value)]
    except KeyError:
        return _resolve_namespace(value)


def isdtype_cached(value: Any, kind: Any) -> bool:
    """``namespace.isdtype(value.dtype, kind)``, cached per dtype object and kind:
    NumPy's ``isdtype`` costs microseconds, more than a kernel on a small array.

    Examples
    --------
    >>> import numpy as np
    >>> isdtype_cached(np.ones(2, dtype=np.complex64), "complex floating")
    True
    """
    dtype = value.dtype
    key = (kind, type(dtype), dtype)  # the type first: dtypes of two libraries are never compared
    try:
        return _ISDTYPE[key]
    except KeyError:
        answer = _ISDTYPE[key] = bool(namespace_of(value).isdtype(dtype, kind))
        return answer
    except TypeError:  # an unhashable dtype object: ask every time
        return bool(namespace_of(value).isdtype(dtype, kind))


_ISDTYPE: dict = {}  # (kind, dtype type, dtype) -> answer (a memo of fixed facts)


def is_real_floating(value: Any) -> bool:
    """Is ``value`` an array of a real floating dtype?

    Examples
    --------
    >>> import numpy as np
    >>> f32, ints = np.ones(2, dtype=np.float32), np.arange(2)
    >>> is_real_floating(f32), is_real_floating(ints)
    (True, False)
    """
    return isdtype_cached(value, "real floating")


def is_floating(value: Any) -> bool:
    """Is ``value`` an array of a real or complex floating dtype (what can be differentiated)?

    Examples
    --------
    >>> import numpy as np
    >>> is_floating(np.ones(2, dtype=np.complex64)), is_floating(np.arange(2))
    (True, False)
    """
    return isdtype_cached(value, ("real floating", "complex floating"))


def backend_name(xp: Any) -> str:
    """A short human name for a namespace, for error messages."""
    name = _NAME_BY_NS.get(id(xp))
    if name is not None:
        return name
    mod = getattr(xp, "__name__", type(xp).__name__)
    # most specific first: "jax.numpy" and "array_api_compat.dask.array" are not numpy
    for short in ("jax", "cupy", "torch", "dask", "array_api_strict", "numpy"):
        if short in mod:
            return short
    return mod


def device_of(value: Any) -> Any:
    """The device of an array (``None`` for Python scalars)."""
    if type(value) in _SCALARS:
        return None
    return array_api_compat.device(value)


def describe(value: Any) -> str:
    """``'numpy float64 (3, 2) on cpu'``: a short description of an operand."""
    if type(value) in _SCALARS:
        return f"Python {type(value).__name__}"
    xp = namespace_of(value)
    try:
        dev = device_of(value)
    except Exception:  # pragma: no cover - exotic arrays
        dev = "?"
    return f"{backend_name(xp)} {_dtype_name(value.dtype)} {tuple(value.shape)} on {dev}"


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    return str(name).replace("torch.", "").replace("array_api_strict.", "")


def check_same_backend(opname: str, values: tuple) -> None:
    """Raise :class:`BackendMismatchError` if ``values`` mix array libraries.

    Only called when two operands' types differ, so it is off the hot path.
    """
    first = None
    for v in values:
        if type(v) in _SCALARS or v is None:
            continue
        xp = namespace_of(v)
        if first is None:
            first = (xp, v)
        elif xp is not first[0]:
            name, dev = backend_name(first[0]), device_of(first[1])
            raise BackendMismatchError(
                f"anyad.{opname}: operands come from different array libraries: "
                f"{describe(first[1])} and {describe(v)}; move one into the other's library first, "
                f"e.g. anyad.to_backend(x, {name!r}, {dev!r}) or x.to({name!r}, {dev!r}) for a Variable"
            )


def explain_failure(opname: str, values: tuple, exc: BaseException) -> BaseException:
    """Turn a backend's error from a kernel into one that names the operation,
    the operands' shapes, dtypes, libraries and devices."""
    arrays = [v for v in values if type(v) not in _SCALARS and hasattr(v, "shape")]
    devices = []
    for v in arrays:
        try:
            devices.append(device_of(v))
        except Exception:  # pragma: no cover
            pass
    if len({repr(d) for d in devices}) > 1:
        return BackendMismatchError(
            f"anyad.{opname}: operands live on different devices: "
            + " and ".join(describe(v) for v in arrays)
            + "; move them with Variable.to_device first"
        )
    parts = ", ".join(describe(v) for v in values)
    cls = type(exc) if isinstance(exc, (ValueError, TypeError, IndexError)) else ValueError
    try:
        return cls(f"anyad.{opname}: {exc} (operands: {parts})")
    except Exception:  # pragma: no cover - exception types with odd signatures
        return ValueError(f"anyad.{opname}: {exc} (operands: {parts})")


# ----------------------------------------------------------------------------
# Choosing the backend for new arrays
# ----------------------------------------------------------------------------

_BACKENDS: dict[str, Backend] = {}


def _numpy_backend() -> Backend:
    be = _BACKENDS.get("numpy")
    if be is None:
        be = Backend("numpy", _fast_numpy_namespace())
        _BACKENDS["numpy"] = be
        _NAME_BY_NS[id(be.xp)] = "numpy"
    return be


def _dask_namespace() -> Any:
    """array-api-compat's dask namespace with anyad's fixes (:mod:`anyad.backends.dask`), once."""
    be = _BACKENDS.get("dask")
    if be is None:
        from .backends.dask import Array, namespace, rechunk_like

        try:
            xp = namespace()
        except ImportError as e:  # pragma: no cover
            raise ImportError('anyad.use("dask") needs dask: pip install "anyad[dask]"') from e
        be = Backend("dask", xp)
        _BACKENDS["dask"] = be
        _NAME_BY_NS[id(xp)] = "dask"
        _RELAYOUT[Array] = rechunk_like
        UNKNOWN_SHAPES.add(Array)
    return be.xp


def _torch_namespace() -> Any:
    """array-api-compat's torch namespace with torch's own functions on the hot
    path (:mod:`anyad.backends.torch_namespace`), once."""
    from .backends.torch_namespace import torch_namespace

    xp = torch_namespace()
    _NAME_BY_NS[id(xp)] = "torch"
    return xp


def _load(name: str) -> Any:
    if name == "numpy":
        return _numpy_backend().xp
    if name == "cupy":
        return _load_cupy()
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the machine
            raise ImportError(
                'anyad.use("torch") needs PyTorch: pip install torch'
            ) from e
        return _torch_namespace()
    if name == "jax":
        try:
            import jax.numpy as xp
        except ImportError as e:  # pragma: no cover
            raise ImportError('anyad.use("jax") needs JAX: pip install jax') from e
        return xp
    if name == "dask":
        return _dask_namespace()
    if name == "array_api_strict":
        try:
            return importlib.import_module("array_api_strict")
        except ImportError as e:  # pragma: no cover
            raise ImportError(
                'anyad.use("array_api_strict") needs it installed: pip install array-api-strict'
            ) from e
    raise ValueError(
        f"anyad.use: unknown backend {name!r}; expected 'numpy', 'cupy', 'torch', 'jax', "
        "'dask', 'array_api_strict' or an Array API namespace module"
    )


def _load_cupy() -> Any:
    hint = (
        'install the CUDA build that matches your driver: pip install "anyad[cuda12]" '
        '(CUDA 12) or pip install "anyad[cuda13]" (CUDA 13)'
    )
    try:
        import cupy
    except ImportError as e:
        raise ImportError(f'anyad.use("cupy"): CuPy is not installed; {hint}') from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise RuntimeError(
            f'anyad.use("cupy"): CuPy is installed but CUDA is not usable ({e}); '
            "check the NVIDIA driver, or stay on the CPU with anyad.use(\"numpy\")"
        ) from e
    if count == 0:
        raise RuntimeError(
            'anyad.use("cupy"): no CUDA device is visible; stay on the CPU with anyad.use("numpy")'
        )
    if int(cupy.__version__.split(".")[0]) >= 14:
        return cupy
    import array_api_compat.cupy as xp

    return xp


def resolve_dtype(xp: Any, dtype: Any) -> Any:
    """``xp``'s dtype object for ``dtype``: one of the standard's names
    (``"float32"``), ``xp``'s own dtype object, or a NumPy dtype (taken by its
    name). The same names are accepted, and the same spellings refused, on every
    backend (:mod:`anyad.backends.dtypes`).

    Examples
    --------
    >>> import array_api_strict as xp
    >>> resolve_dtype(xp, "float32")
    array_api_strict.float32
    >>> try:
    ...     resolve_dtype(xp, "flaot32")
    ... except TypeError as e:
    ...     print(e)
    anyad: unknown dtype 'flaot32' (did you mean 'float32'?); the dtype names are
    bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32,
    float64, complex64, complex128, and float16 and bfloat16 where the library
    has them (array_api_strict has neither)
    """
    if dtype is None:
        return None
    try:  # the common case, a dtype seen before: one dict lookup
        hit = _dtypes.MEMO.get((id(xp), type(dtype), dtype))
        if hit is not None and hit[0] is xp:
            return hit[1]
    except TypeError:  # an unhashable spelling
        pass
    return _dtypes.resolve(xp, dtype, backend_name(xp))


# Which backend makes arrays from Python data: the process-wide default that a
# plain ``anyad.use(...)`` call sets (the one documented piece of process state;
# ``None`` means numpy), under a context-local override that ``with anyad.use(...)``
# sets for its block (per thread and per asyncio task).
_DEFAULT: Backend | None = None
_DEFAULT_LOCK = threading.Lock()
_CURRENT: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("anyad_backend", default=None)


def current_backend() -> Backend:
    """The backend used to create arrays from Python data: the innermost
    ``with anyad.use(...)`` block's, else the process-wide default (numpy
    unless a plain ``anyad.use(...)`` call chose another).

    Examples
    --------
    >>> import anyad
    >>> anyad.current_backend()
    Backend('numpy')
    """
    be = _CURRENT.get()
    if be is not None:
        return be
    be = _DEFAULT
    return _numpy_backend() if be is None else be


def default_backend() -> Backend | None:
    """The process-wide default a plain :class:`use` call set (``None``: numpy, never set).

    Examples
    --------
    >>> default_backend() is None or isinstance(default_backend(), Backend)
    True
    """
    return _DEFAULT


def set_default_backend(backend: Backend | None) -> Backend | None:
    """Replace the process-wide default; returns the previous one (for tests that restore it)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        previous, _DEFAULT = _DEFAULT, backend
    return previous


def _restore_default(expected: Backend, previous: Backend | None) -> None:
    """Put ``previous`` back as the process default, if ``expected`` is still it."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is expected:
            _DEFAULT = previous


def get_backend(name: Any, device: Any = None) -> Backend:
    """Resolve a backend name or namespace module to a :class:`Backend`."""
    if isinstance(name, Backend):
        return name if device is None else Backend(name.name, name.xp, device)
    if isinstance(name, str):
        xp = _load(name)
        label = name
    else:
        xp = name
        label = backend_name(xp)
        module = getattr(xp, "__name__", "")  # by name: anyad's own namespaces are not hashable
        if module in ("numpy", "array_api_compat.numpy"):
            xp = _numpy_backend().xp
            label = "numpy"
        elif module in ("dask.array", "array_api_compat.dask.array"):
            xp = _dask_namespace()
        elif module in ("torch", "array_api_compat.torch"):
            xp = _torch_namespace()
    _NAME_BY_NS.setdefault(id(xp), label)
    if isinstance(device, str) and label == "array_api_strict":
        device = xp.Device(device)  # its devices are objects; accept their names too
    if device is None and label == "numpy":
        return _numpy_backend()
    return Backend(label, xp, device)


class use:
    """Choose the backend for arrays made from Python data.

    * As a plain call, ``anyad.use("torch")`` sets the **process-wide default**:
      every thread (those started later included), every asyncio task and every
      Jupyter cell sees it, until the next plain call.
    * As a context manager, ``with anyad.use("torch"): ...`` overrides the
      default **inside the block only**, for the current thread or asyncio task
      (a context variable: other threads and tasks are not affected, tasks
      created inside the block inherit it), and restores it on exit. Blocks nest.
    * A plain call inside a ``with`` block sets the process default and also
      the backend for the rest of that block.

    Arrays passed in keep their own backend and device whatever is chosen here;
    :func:`anyad.to_backend` moves them.

    Parameters
    ----------
    backend : str or module
        ``"numpy"`` (the default), ``"cupy"``, ``"torch"``, ``"jax"``, ``"dask"``,
        ``"array_api_strict"``, or any Array API namespace module.
    device : optional
        Device for new arrays, in the backend's own terms (``"cuda:1"``,
        ``array_api_strict.Device("device1")``, ...).

    Notes
    -----
    The call runs before Python knows whether a ``with`` follows, so it sets
    the process default at once and entering the block puts the previous
    default back (only if no other plain call replaced it meanwhile). A thread
    that reads the process default in that instant, between ``use(...)`` and
    the block's start, may see the block's backend for one array; code that
    must never see another backend picks its own with a ``with`` block.

    Examples
    --------
    >>> import anyad
    >>> with anyad.use("array_api_strict"):
    ...     anyad.Variable([1.0, 2.0]).value
    Array([1., 2.], dtype=array_api_strict.float64)
    >>> type(anyad.Variable([1.0]).value).__name__
    'ndarray'
    """

    def __init__(self, backend: Any = "numpy", device: Any = None):
        global _DEFAULT
        self.backend = be = get_backend(backend, device)
        with _DEFAULT_LOCK:
            self._previous, _DEFAULT = _DEFAULT, be
        # inside a ``with`` block a plain call also sets that block's backend
        self._inner = _CURRENT.set(be) if _CURRENT.get() is not None else None
        self._token = None

    def __enter__(self) -> Backend:
        if self._inner is not None:  # not a plain call after all: undo both of its effects
            _CURRENT.reset(self._inner)
            self._inner = None
        _restore_default(self.backend, self._previous)
        self._token = _CURRENT.set(self.backend)
        return self.backend

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)

    def __repr__(self) -> str:
        return f"anyad.use({self.backend.name!r})"


@contextlib.contextmanager
def local_backend(backend: Backend):
    """``with anyad.use(backend)`` without touching the process default at all
    (for anyad's own code, which must not disturb other threads even for an instant).

    Examples
    --------
    >>> with local_backend(get_backend("array_api_strict")):
    ...     current_backend().name
    'array_api_strict'
    """
    token = _CURRENT.set(backend)
    try:
        yield backend
    finally:
        _CURRENT.reset(token)


# ----------------------------------------------------------------------------
# Host and device transfers (user-facing only; the engine never calls these)
# ----------------------------------------------------------------------------


def to_numpy(value: Any) -> Any:
    """Copy an array of any backend to a host numpy array."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic) or type(value) in _SCALARS:
        return np.asarray(value)
    mod = type(value).__module__
    if mod.startswith("cupy"):
        return value.get()
    if mod.startswith("torch"):
        return value.detach().cpu().resolve_conj().resolve_neg().numpy()  # fft results may carry a lazy conj
    if mod.startswith("dask"):
        return np.asarray(value.compute())
    try:
        return np.asarray(value)
    except (RuntimeError, TypeError, ValueError, BufferError):
        # an array on a device numpy cannot read: move it to the CPU first
        xp = namespace_of(value)
        cpu = xp.__array_namespace_info__().default_device() if hasattr(xp, "__array_namespace_info__") else "cpu"
        return np.asarray(value.to_device(cpu))


def to_device(value: Any, device: Any) -> Any:
    """Move an array to ``device`` of its own namespace."""
    return array_api_compat.to_device(value, device)


# ----------------------------------------------------------------------------
# Layout beyond shape, dtype and device (dask chunks)
# ----------------------------------------------------------------------------

_RELAYOUT: dict[type, Any] = {}  # array type -> fixer(out, like); filled when a backend loads
UNKNOWN_SHAPES: set = set()  # array types whose dimensions may be unknown (nan) until computed: dask


def layout_like(out: Any, like: Any) -> Any:
    """``out`` (an array, or a Variable in a derivative graph) given the layout
    of ``like`` where a backend has one beyond shape, dtype and device: the
    chunks of a dask array. Anything else comes back as it is.

    Rules call it where a gradient is built from a shape alone (the broadcast
    in a sum's gradient, the scatter of an indexing gradient), so gradients
    keep their input's chunks.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.ones(2)
    >>> layout_like(a, np.zeros(2)) is a
    True
    """
    if not _RELAYOUT:  # no backend with a layout (dask) loaded: the common case
        return out
    fix = _RELAYOUT.get(type(like))
    if fix is None:
        inner = getattr(like, "value", None)  # a Variable, in a derivative graph
        fix = None if inner is None else _RELAYOUT.get(type(inner))
        if fix is None:
            return out
        like = inner
    return fix(out, like)

