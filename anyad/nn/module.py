"""Parameter, Module and Sequential: the containers of the training kit.

A :class:`Module` registers the :class:`Parameter` objects and sub-modules
assigned to its attributes, in assignment order, so ``parameters()``,
``state_dict()``, ``to()`` and ``zero_grad()`` walk the whole tree. Parameters
are ordinary leaf :class:`~anyad.Variable` objects that require grad, so
``loss.backward()`` fills their ``.grad``.
"""

from __future__ import annotations

from typing import Any, Iterator

from .. import _backend
from ..backends import backend_for, transfer
from ..variable import Variable

__all__ = ["Parameter", "Module", "Sequential"]


class Parameter(Variable):
    """A leaf :class:`~anyad.Variable` that requires grad and that a :class:`Module` registers.

    Parameters
    ----------
    value : array or Python data
        Its initial value (kept as it is: same namespace, device and dtype).
    dtype : str or dtype, optional
        Convert to this dtype.
    requires_grad : bool
        Default True (a frozen parameter is registered but gets no ``.grad``).

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, 2.0])
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, value: Any, dtype: Any = None, requires_grad: bool = True):
        super().__init__(value, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        text = super().__repr__()[len("Variable("):].replace("\n ", "\n  ")
        return "Parameter(" + text


class _LoadResult(tuple):
    """``(missing_keys, unexpected_keys)`` of :meth:`Module.load_state_dict`."""

    __slots__ = ()

    @property
    def missing_keys(self) -> list:
        return self[0]

    @property
    def unexpected_keys(self) -> list:
        return self[1]


class Module:
    """Base class of layers and models.

    Assigning a :class:`Parameter` or a :class:`Module` to an attribute
    registers it; :meth:`register_buffer` registers non-trainable state that
    belongs in the state dict. Subclasses call ``super().__init__()`` first and
    define ``forward``; calling the module calls ``forward``.

    Examples
    --------
    >>> import anyad as ad
    >>> class Affine(ad.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = ad.nn.Parameter([2.0])
    ...         self.shift = ad.nn.Parameter([0.5])
    ...     def forward(self, x):
    ...         return x * self.scale + self.shift
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()]
    ['scale', 'shift']
    >>> m(ad.Variable([1.0, 2.0]))
    Variable([2.5 4.5])
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["_param_names"] = []
        d["_module_names"] = []
        d["_buffer_names"] = []
        d["training"] = True

    # -- registration ----------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_param_names" not in d:
            raise AttributeError(
                f"anyad.nn: call super().__init__() in {type(self).__name__}.__init__ before "
                f"assigning attributes (assigning {name!r})"
            )
        params, modules, buffers = d["_param_names"], d["_module_names"], d["_buffer_names"]
        if isinstance(value, Parameter):
            _drop(name, modules, buffers)
            if name not in params:
                params.append(name)
        elif isinstance(value, Module):
            _drop(name, params, buffers)
            if name not in modules:
                modules.append(name)
        elif name in params or name in modules:
            _drop(name, params, modules)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        _drop(name, d["_param_names"], d["_module_names"], d["_buffer_names"])
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """Register ``value`` (an array) as state saved in :meth:`state_dict` but not trained."""
        self.__setattr__(name, value)
        if name not in self._buffer_names:
            self._buffer_names.append(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (same as assigning the attribute)."""
        self.__setattr__(name, param)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` under ``name`` (same as assigning the attribute)."""
        self.__setattr__(name, module)

    # -- walking the tree ------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct sub-modules, with their attribute names."""
        for name in self._module_names:
            yield name, getattr(self, name)

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every sub-module, depth first, with dotted names (each once)."""
        seen: set = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module."""
        for _, m in self.named_modules():
            yield m

    def _named(self, kind: str) -> Iterator[tuple[str, Any]]:
        seen: set = set()
        for mname, m in self.named_modules():
            for n in getattr(m, kind):
                v = getattr(m, n)
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield (f"{mname}.{n}" if mname else n), v

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter of the tree with its dotted name (a shared one once).

        Examples
        --------
        >>> import anyad as ad
        >>> net = ad.nn.Sequential(ad.nn.Linear(2, 3, rng=0), ad.nn.ReLU(),
        ...                        ad.nn.Linear(3, 1, rng=1))
        >>> [n for n, _ in net.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        return self._named("_param_names")

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of the tree (what an optimizer takes)."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        """Every buffer of the tree with its dotted name."""
        return self._named("_buffer_names")

    # -- state -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Parameter and buffer arrays by dotted name (the arrays themselves, not copies).

        Examples
        --------
        >>> import anyad as ad
        >>> sd = ad.nn.Linear(2, 3, rng=0).state_dict()
        >>> {k: tuple(v.shape) for k, v in sd.items()}
        {'weight': (3, 2), 'bias': (3,)}
        """
        out = {}
        for name, (owner, attr) in self._targets():  # per module: parameters, buffers; then children
            v = getattr(owner, attr)
            out[name] = getattr(v, "value", v)
        return out

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> tuple:
        """Copy arrays into the parameters and buffers of the same names.

        Arrays of any backend are accepted (torch tensors, host numpy arrays
        from :func:`anyad.load`, ...); each is converted to its parameter's
        namespace, device and dtype, then copied in place where the library
        allows (so optimizers and other holders see it), or rebound where
        arrays are immutable (JAX).

        Returns
        -------
        tuple
            ``(missing_keys, unexpected_keys)``, also as attributes.

        Raises
        ------
        KeyError
            With ``strict``, when keys are missing or unexpected.
        ValueError
            When a shape differs.

        Examples
        --------
        >>> import anyad as ad
        >>> a, b = ad.nn.Linear(2, 2, rng=0), ad.nn.Linear(2, 2, rng=1)
        >>> b.load_state_dict(a.state_dict())
        ([], [])
        >>> bool((a.weight.value == b.weight.value).all())
        True
        """
        targets = dict(self._targets())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(
                f"anyad.nn.{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        for key, (owner, attr) in targets.items():
            if key not in state_dict:
                continue
            current = getattr(owner, attr)
            raw = current.value if isinstance(current, Variable) else current
            new = transfer.convert(state_dict[key], _backend_of(raw), _backend.device_of(raw), raw.dtype)
            if tuple(new.shape) != tuple(raw.shape):
                raise ValueError(
                    f"anyad.nn.{type(self).__name__}.load_state_dict: {key!r} has shape "
                    f"{tuple(raw.shape)} here and {tuple(new.shape)} in the state dict"
                )
            if not transfer.assign(raw, new):
                if isinstance(current, Variable):
                    current.value = new
                else:
                    object.__setattr__(owner, attr, new)
        return _LoadResult((missing, unexpected))

    def _targets(self) -> Iterator[tuple[str, tuple]]:
        seen: set = set()
        for mname, m in self.named_modules():
            for kind in ("_param_names", "_buffer_names"):
                for n in getattr(m, kind):
                    v = getattr(m, n)
                    if v is None or id(v) in seen:
                        continue
                    seen.add(id(v))
                    yield (f"{mname}.{n}" if mname else n), (m, n)

    # -- modes, gradients, placement -------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active) on the whole tree; returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's accumulated gradient: ``.grad = None`` (default, as in torch),
        or zeros of its shape with ``set_to_none=False``."""
        for p in self.parameters():
            g = p.grad
            if set_to_none or g is None:
                p.grad = None
            else:
                raw = getattr(g, "value", g)
                p.grad = _backend.namespace_of(raw).zeros_like(raw)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` of every parameter (freeze with False); returns self.

        Examples
        --------
        >>> import anyad as ad
        >>> net = ad.nn.MLP([2, 3, 1], rng=0)
        >>> net[0].requires_grad_(False) is net[0]
        True
        >>> [p.requires_grad for p in net.parameters()]
        [False, False, True, True]
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Any) -> "Module":
        """Call ``fn`` on every sub-module (depth first) and then on this one; returns self
        (e.g. to initialise weights).

        Examples
        --------
        >>> import anyad as ad
        >>> def init(m):
        ...     if isinstance(m, ad.nn.Linear):
        ...         m.bias.value[...] = 0.0
        >>> net = ad.nn.MLP([2, 3, 1], rng=0).apply(init)
        >>> float(ad.sum(abs(net[0].bias)))
        0.0
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, backend: Any = None, device: Any = None, dtype: Any = None) -> "Module":
        """Move every parameter and buffer to ``backend``/``device`` (and floating ones to ``dtype``).

        Arrays cross libraries through DLPack (no host copy when the devices
        agree). Gradients move with their parameters. Returns self.

        Examples
        --------
        >>> import anyad as ad
        >>> lin = ad.nn.Linear(2, 2, rng=0).to("array_api_strict", "device1", "float32")
        >>> lin.weight.device, lin.weight.dtype
        (array_api_strict.Device('device1'), array_api_strict.float32)

        A torch-style device string alone, ``"cpu"``, ``"cuda"`` or
        ``"cuda:1"``, keeps torch and JAX models in their library on that
        device; NumPy and CuPy models go to NumPy (``"cpu"``) or CuPy
        (``"cuda"``):

        >>> lin.to("cpu").weight.device
        array_api_strict.Device('CPU_DEVICE')
        >>> type(ad.nn.Linear(2, 2).to("cpu").weight.value).__module__
        'numpy'
        """
        if device is None and _is_device_string(backend):
            backend, device = self._device_target(backend)
        target = None if backend is None else backend_for(backend)

        def move(raw: Any) -> Any:
            be = target if target is not None else _backend_of(raw)
            floating = _backend.namespace_of(raw).isdtype(raw.dtype, "real floating")
            return transfer.convert(raw, be, device, dtype if floating else None)

        for _, (owner, attr) in list(self._targets()):
            current = getattr(owner, attr)
            if isinstance(current, Variable):
                current.value = move(current.value)
                if current.grad is not None:
                    current.grad = move(current.grad)
            else:
                object.__setattr__(owner, attr, move(current))
        for m in self.modules():
            m._moved(target, device)
        return self

    def _device_target(self, spec: str) -> tuple:
        """``(backend, device)`` for a torch-style device string, from the library the arrays are in."""
        name = None
        for _, (owner, attr) in self._targets():
            v = getattr(owner, attr)
            name = _backend.backend_name(_backend.namespace_of(getattr(v, "value", v)))
            break
        if name in ("torch", "jax", "array_api_strict"):
            if name == "array_api_strict" and not spec.lower().startswith("cpu"):
                raise ValueError(f"anyad.nn.{type(self).__name__}.to({spec!r}): array_api_strict has no "
                                 "CUDA device; name a backend, e.g. to('cupy')")
            return name, spec
        return ("numpy", None) if spec.lower() == "cpu" else ("cupy", spec)

    def _moved(self, backend: Any, device: Any) -> None:
        """Hook: this module's arrays now live on ``backend``/``device`` (e.g. move a generator)."""

    # -- calling and printing ----------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"anyad.nn.{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr."""
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        if self.extra_repr():
            lines.append("  " + self.extra_repr())
        for name, m in kids:
            lines.append(f"  ({name}): " + repr(m).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"


def _drop(name: str, *lists: list) -> None:
    for lst in lists:
        if name in lst:
            lst.remove(name)


def _is_device_string(spec: Any) -> bool:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"``: a torch-style device, not a backend name."""
    if not isinstance(spec, str):
        return False
    kind, _, index = spec.lower().partition(":")
    return (kind == "cpu" and not index) or (kind == "cuda" and (not index or index.isdigit()))


def _backend_of(raw: Any) -> Any:
    """The :class:`~anyad.Backend` an array belongs to (namespace, no device)."""
    xp = _backend.namespace_of(raw)
    return _backend.Backend(_backend.backend_name(xp), xp)


class Sequential(Module):
    """Modules applied one after another; sub-modules are named ``"0"``, ``"1"``, ...

    Examples
    --------
    >>> import anyad as ad
    >>> net = ad.nn.Sequential(ad.nn.Linear(3, 4, rng=0), ad.nn.Tanh(),
    ...                        ad.nn.Linear(4, 2, rng=1))
    >>> len(net), type(net[1]).__name__
    (3, 'Tanh')
    >>> net(ad.Variable([[1.0, 2.0, 3.0]], dtype="float32")).shape
    (1, 2)
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"anyad.nn.Sequential: expected a Module, got {type(module).__name__}")
        self.__setattr__(str(len(self._module_names)), module)
        return self

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, index: Any) -> Any:
        mods = list(self.children())
        if isinstance(index, slice):
            return Sequential(*mods[index])
        return mods[index]

    def forward(self, x: Any) -> Any:
        for m in self.children():
            x = m(x)
        return x
