"""Optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop and Adagrad.

An optimizer updates the parameters (leaf Variables that require grad) it was
given from their ``.grad``, filled by ``loss.backward()``. Updates are
computed on the raw arrays with their own namespace (no graph is recorded),
with Python floats for every hyperparameter and step count, so a step never
synchronises with the host; float32 parameters stay float32. The new values
are written into the parameter's array in place where the library allows it
(numpy, CuPy, torch, array_api_strict), so anything holding that array sees
them, and rebound (``param.value = new``) where arrays are immutable (JAX).
The update formulas follow torch.optim's, so the same hyperparameters give
the same trajectories.
"""

from __future__ import annotations

from typing import Any, Iterable

from .. import _backend
from ..backends import transfer
from ..variable import Variable

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``.

    Parameters
    ----------
    params : iterable of Variable, or of dicts
        The parameters, or parameter groups: dicts with a ``"params"`` list and
        any hyperparameters that override the defaults for that group.
    defaults : dict
        The hyperparameters of every group that does not set its own.

    Attributes
    ----------
    param_groups : list of dict
        The groups; a learning-rate schedule changes their ``"lr"``.
    state : dict
        Per parameter: its optimizer state (moment arrays, step count).
    """

    def __init__(self, params: Iterable[Any], defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        params = list(params)
        if not params:
            raise ValueError(f"anyad.optim.{type(self).__name__}: the parameter list is empty")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters)."""
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Variable) else list(ps)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in ps:
            if not isinstance(p, Variable):
                raise TypeError(
                    f"anyad.optim.{type(self).__name__}: parameters must be Variables, got {type(p).__name__}"
                )
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"anyad.optim.{type(self).__name__}: a parameter must be a leaf that requires grad "
                    f"(got {_backend.describe(p.value)}, requires_grad={p.requires_grad}, leaf={p.is_leaf})"
                )
            if id(p) in seen:
                raise ValueError(f"anyad.optim.{type(self).__name__}: a parameter appears twice")
            seen.add(id(p))
        group["params"] = ps
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``.grad = None`` (the default, as in torch),
        or, with ``set_to_none=False``, an array of zeros (a parameter without a gradient keeps None).

        Examples
        --------
        >>> import anyad as ad
        >>> w = ad.nn.Parameter([1.0, 2.0])
        >>> opt = ad.optim.SGD([w], lr=0.1)
        >>> ad.sum(w * w).backward()
        >>> opt.zero_grad(set_to_none=False)
        >>> w.grad
        array([0., 0.])
        >>> opt.zero_grad()
        >>> w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                zero_grad(p, set_to_none)

    def step(self, closure: Any = None) -> Any:
        """Update every parameter that has a gradient.

        ``closure``, when given, is called first (it should zero the gradients,
        compute the loss, call ``backward`` and return the loss); its loss is
        returned, as in torch.

        Examples
        --------
        >>> import anyad as ad
        >>> w = ad.nn.Parameter([3.0])
        >>> opt = ad.optim.SGD([w], lr=0.25)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ad.sum(w * w)
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure)
        Variable(9.0)
        >>> w
        Parameter([1.5])
        """
        loss = None if closure is None else closure()
        self._step()
        return loss

    def _step(self) -> None:
        state = self.state
        counts = self._counts_steps
        for group in self.param_groups:
            update, hyper = self._update, self._hyper
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if isinstance(g, Variable):
                    g = g.value
                value = p.value
                if g.dtype != value.dtype:
                    g = _backend.namespace_of(value).astype(g, value.dtype)
                s = state.get(p)
                if s is None:
                    s = state[p] = {}
                new = update(value, g, s, group, hyper(group, s.get("step", 0) + 1))
                if counts:
                    s["step"] = s.get("step", 0) + 1
                if not transfer.assign(value, new):
                    p.value = new

    #: whether the state holds a step count (``state["step"]``, kept by :meth:`_step`)
    _counts_steps = False

    def _hyper(self, group: dict, t: int) -> dict:
        """The numbers the update's arithmetic reads, for step ``t`` (1 for the first) of ``group``:
        Python floats, computed here once so that a compiled step
        (:func:`anyad.optim.compile_step`) can pass them as 0-d arrays and stay exact."""
        raise NotImplementedError

    def _update(self, value: Any, grad: Any, state: dict, group: dict, h: dict) -> Any:
        """The new value of one parameter from its gradient; updates ``state`` (arrays) in place.

        Arithmetic reads only ``h`` (from :meth:`_hyper`: Python floats, or 0-d
        arrays in a compiled step); Python decisions read only ``group``'s flags
        and which hyperparameters are zero (:func:`structure` keys a compiled
        step by them), and which state arrays exist yet.
        """
        raise NotImplementedError

    # -- checkpoints ------------------------------------------------------------
    def _params(self) -> list:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict:
        """A flat dict for :func:`anyad.save`: ``"param_groups.<i>.<name>"`` hyperparameters and
        ``"state.<k>.<name>"`` state of the ``k``-th parameter (arrays as they are).

        Examples
        --------
        >>> import anyad as ad
        >>> w = ad.nn.Parameter([1.0])
        >>> opt = ad.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> sorted(opt.state_dict())[:2]
        ['param_groups.0.dampening', 'param_groups.0.lr']
        """
        out: dict = {}
        for i, group in enumerate(self.param_groups):
            for k, v in group.items():
                if k != "params":
                    out[f"param_groups.{i}.{k}"] = list(v) if isinstance(v, tuple) else v
        for k, p in enumerate(self._params()):
            for name, v in self.state.get(p, {}).items():
                out[f"state.{k}.{name}"] = v
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (possibly through
        :func:`anyad.save`/:func:`anyad.load`, from any backend): arrays are converted to
        each parameter's backend, device and dtype."""
        params = self._params()
        for key, v in state_dict.items():
            kind, index, name = key.split(".", 2)
            index = int(index)
            if kind == "param_groups":
                group = self.param_groups[index]
                group[name] = _python_value(v, group.get(name))
            elif kind == "state":
                p = params[index]
                s = self.state.setdefault(p, {})
                if name == "step":
                    s[name] = int(_python_value(v, 0))
                else:
                    raw = p.value
                    xp = _backend.namespace_of(raw)
                    be = _backend.Backend(_backend.backend_name(xp), xp)
                    s[name] = transfer.convert(v, be, _backend.device_of(raw), raw.dtype)
            else:
                raise KeyError(f"anyad.optim.{type(self).__name__}.load_state_dict: unexpected key {key!r}")

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"


def zero_grad(p: Variable, set_to_none: bool = True) -> None:
    """``p.grad = None``, or zeros of the gradient's shape, dtype and device (``set_to_none=False``)."""
    g = p.grad
    if set_to_none or g is None:
        p.grad = None
        return
    raw = g.value if isinstance(g, Variable) else g
    p.grad = _backend.namespace_of(raw).zeros_like(raw)


def _python_value(v: Any, like: Any) -> Any:
    """A hyperparameter read back from a file: a Python number (tuple where it was one)."""
    if hasattr(v, "shape"):
        v = transfer.to_host(v).tolist()
    if isinstance(like, tuple) or isinstance(v, list):
        return tuple(v)
    if isinstance(like, bool):
        return bool(v)
    return v


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and
    L2 weight decay, as in torch.optim.SGD::

        g = grad + weight_decay * p
        b = g (first step) or momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov) or b
        p = p - lr * g

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, -2.0])
    >>> opt = ad.optim.SGD([w], lr=0.1)
    >>> ad.sum(w * w).backward()
    >>> opt.step()
    >>> w
    Parameter([ 0.8 -1.6])
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("anyad.optim.SGD: lr, momentum and weight_decay must be non-negative")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("anyad.optim.SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _hyper(self, group: dict, t: int) -> dict:
        return {"lr": group["lr"], "weight_decay": group["weight_decay"], "momentum": group["momentum"],
                "undamped": 1.0 - group["dampening"]}

    def _update(self, value: Any, g: Any, state: dict, group: dict, h: dict) -> Any:
        if group["weight_decay"]:
            g = g + h["weight_decay"] * value
        if group["momentum"]:
            momentum = h["momentum"]
            buf = state.get("momentum_buffer")
            buf = g if buf is None else momentum * buf + h["undamped"] * g
            state["momentum_buffer"] = buf
            g = g + momentum * buf if group["nesterov"] else buf
        return value - h["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction, as in torch.optim.Adam::

        g = grad + weight_decay * p            (L2 penalty; AdamW: decoupled decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2      (amsgrad: v_hat = max(v_hat, v))
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, -2.0])
    >>> opt = ad.optim.Adam([w], lr=0.1)
    >>> ad.sum(w * w).backward()
    >>> opt.step()
    >>> w
    Parameter([ 0.9 -1.9])
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"anyad.optim.{type(self).__name__}: lr, eps and weight_decay must be non-negative")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"anyad.optim.{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad})

    _counts_steps = True

    def _hyper(self, group: dict, t: int) -> dict:
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        return {"weight_decay": wd, "decay": 1.0 - lr * wd, "beta1": beta1, "beta2": beta2,
                "one_minus_beta1": 1.0 - beta1, "one_minus_beta2": 1.0 - beta2, "eps": group["eps"],
                "sqrt_bias2": (1.0 - beta2 ** t) ** 0.5, "step_size": lr / (1.0 - beta1 ** t)}

    def _update(self, value: Any, g: Any, state: dict, group: dict, h: dict) -> Any:
        if group["weight_decay"]:
            if self._decoupled:
                value = value * h["decay"]
            else:
                g = g + h["weight_decay"] * value
        m, v = state.get("exp_avg"), state.get("exp_avg_sq")
        if m is None:
            m = h["one_minus_beta1"] * g
            v = h["one_minus_beta2"] * (g * g)
        else:
            m = h["beta1"] * m + h["one_minus_beta1"] * g
            v = h["beta2"] * v + h["one_minus_beta2"] * (g * g)
        state["exp_avg"], state["exp_avg_sq"] = m, v
        xp = _backend.namespace_of(value)
        if group["amsgrad"]:
            vmax = state.get("max_exp_avg_sq")
            v = v if vmax is None else xp.maximum(vmax, v)
            state["max_exp_avg_sq"] = v
        denom = xp.sqrt(v) / h["sqrt_bias2"] + h["eps"]
        return value - h["step_size"] * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as in torch.optim.AdamW:
    ``p = p * (1 - lr * weight_decay)`` before the Adam step (default ``weight_decay=0.01``).

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0])
    >>> opt = ad.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> ad.sum(w * w).backward()
    >>> opt.step()
    >>> w
    Parameter([0.85])
    """

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as in torch.optim.RMSprop::

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2
        a = sqrt(v - m^2) + eps, with m = alpha * m + (1 - alpha) * g   (centered)
            sqrt(v) + eps                                                (otherwise)
        b = momentum * b + g / a;  p = p - lr * b    (momentum > 0)
        p = p - lr * g / a                           (otherwise)

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, -2.0])
    >>> opt = ad.optim.RMSprop([w], lr=0.01)
    >>> ad.sum(w * w).backward()
    >>> opt.step()
    >>> w
    Parameter([ 0.9 -1.9])
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0 or momentum < 0 or alpha < 0:
            raise ValueError("anyad.optim.RMSprop: lr, alpha, eps, weight_decay and momentum must be non-negative")
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered})

    _counts_steps = True

    def _hyper(self, group: dict, t: int) -> dict:
        return {"lr": group["lr"], "alpha": group["alpha"], "one_minus_alpha": 1.0 - group["alpha"],
                "eps": group["eps"], "weight_decay": group["weight_decay"], "momentum": group["momentum"]}

    def _update(self, value: Any, g: Any, state: dict, group: dict, h: dict) -> Any:
        xp = _backend.namespace_of(value)
        alpha, rest = h["alpha"], h["one_minus_alpha"]
        if group["weight_decay"]:
            g = g + h["weight_decay"] * value
        v = state.get("square_avg")
        v = rest * (g * g) if v is None else alpha * v + rest * (g * g)
        state["square_avg"] = v
        if group["centered"]:
            m = state.get("grad_avg")
            m = rest * g if m is None else m + rest * (g - m)  # torch's lerp
            state["grad_avg"] = m
            avg = xp.sqrt(v - m * m) + h["eps"]
        else:
            avg = xp.sqrt(v) + h["eps"]
        if group["momentum"]:
            b = state.get("momentum_buffer")
            b = g / avg if b is None else h["momentum"] * b + g / avg
            state["momentum_buffer"] = b
            return value - h["lr"] * b
        return value - h["lr"] * (g / avg)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as in torch.optim.Adagrad::

        g = grad + weight_decay * p
        s = s + g^2                        (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Examples
    --------
    >>> import anyad as ad
    >>> w = ad.nn.Parameter([1.0, -2.0])
    >>> opt = ad.optim.Adagrad([w], lr=0.5)
    >>> ad.sum(w * w).backward()
    >>> opt.step()
    >>> w
    Parameter([ 0.5 -1.5])
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        if min(lr, lr_decay, weight_decay, initial_accumulator_value, eps) < 0:
            raise ValueError("anyad.optim.Adagrad: lr, lr_decay, weight_decay, initial_accumulator_value and eps "
                             "must be non-negative")
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps})

    _counts_steps = True

    def _hyper(self, group: dict, t: int) -> dict:
        return {"weight_decay": group["weight_decay"], "initial": group["initial_accumulator_value"],
                "clr": group["lr"] / (1.0 + (t - 1) * group["lr_decay"]), "eps": group["eps"]}

    def _update(self, value: Any, g: Any, state: dict, group: dict, h: dict) -> Any:
        xp = _backend.namespace_of(value)
        if group["weight_decay"]:
            g = g + h["weight_decay"] * value
        s = state.get("sum")
        s = g * g + h["initial"] if s is None else s + g * g
        state["sum"] = s
        return value - h["clr"] * (g / (xp.sqrt(s) + h["eps"]))
