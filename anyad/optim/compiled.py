"""``compile_step``: a whole training step (forward, backward, update) as one compiled program.

The step is traced by :func:`anyad.jit` once per signature (batch shapes and
dtypes, which optimizer state exists yet, which hyperparameters are zero) and
replayed after: no Variable, no graph, no Python per operation. The
parameters are read from the model when the program runs (live Variables of
the jit), the optimizer's state and its hyperparameters are program inputs
(the hyperparameters as 0-d arrays, so a learning-rate schedule does not
retrace), and the results are written back into the eager objects: the
parameters in place (as ``optimizer.step()`` does), their ``.grad``, and
``optimizer.state``, so eager and compiled steps can be mixed, and
``state_dict``, schedules and checkpoints work as before.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .. import _backend, _state
from .._pytree import tree_flatten
from .._tracing import array_key, freeze
from ..backends import transfer
from ..backprop import backprop
from ..compile import jit
from ..nn.utils import get_total_norm
from ..random import DRAW_HANDLER, Generator
from ..variable import Variable
from .optimizer import Optimizer

__all__ = ["compile_step", "CompiledStep"]


def structure(group: dict) -> tuple:
    """What a group's update decides in Python: its flags, and which numbers are zero."""
    def key(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, (int, float)):
            return v == 0
        if isinstance(v, tuple):
            return tuple(key(u) for u in v)
        return type(v).__name__
    return tuple((k, key(v)) for k, v in group.items() if k != "params")


class CompiledStep:
    """A training step compiled by :func:`compile_step`.

    Calling it with a batch runs one step and returns the loss (a raw 0-d
    array of the model's backend; reading it, ``float(loss)``, is the only
    host synchronisation, and is up to you).

    Attributes
    ----------
    traces : int
        How many times the step has been traced (once per new signature).
    """

    def __init__(self, loss_fn: Callable, optimizer: Optimizer, model: Any = None,
                 max_grad_norm: float | None = None, norm_type: float = 2.0):
        if not isinstance(optimizer, Optimizer) or type(optimizer)._hyper is Optimizer._hyper:
            raise TypeError(f"anyad.optim.compile_step: {type(optimizer).__name__} has no compiled update "
                            "(SGD, Adam, AdamW, RMSprop and Adagrad have one; LBFGS calls its closure "
                            "many times per step: use it eagerly)")
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.model = model
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.norm_type = float(norm_type)
        self.grad_norm: Any = None  # with max_grad_norm: the last step's total norm before clipping
        self._modules = _modules_of(loss_fn, model)  # whose train/eval flags key a program
        self._jit = jit(self._traced, static_argnums=(0,))
        self._scalars: dict = {}  # memo of the hyperparameters' 0-d arrays
        self._layouts: dict = {}  # what a step's program is for -> its number
        self._draws: dict = {}  # signature -> the draws one step makes: (generator, method, args, kwargs)

    @property
    def traces(self) -> int:
        return self._jit.traces

    def _hypers(self, h: dict, like: Any) -> list:
        """The values of ``h`` as 0-d arrays of ``like``'s real dtype and device (memoised)."""
        xp = _backend.namespace_of(like)
        dtype, device = like.dtype, _backend.device_of(like)
        numbers = tuple(v.hex() if type(v) is float else (type(v), v) for v in h.values())
        key = (numbers, type(like), dtype, device)
        arrays = self._scalars.get(key)
        if arrays is None:
            if len(self._scalars) > 1024:
                self._scalars.clear()
            if xp.isdtype(dtype, "complex floating"):
                dtype = xp.float32 if dtype == xp.complex64 else xp.float64
            arrays = self._scalars[key] = [xp.asarray(v, dtype=dtype, device=device) for v in h.values()]
        return arrays

    def __call__(self, *batch: Any) -> Any:
        if _state.tracer() is not None:
            raise TypeError("anyad.optim.compile_step: a compiled step called while a function is traced "
                            "(inside anyad.jit, vmap or a transform); call it from plain Python")
        # the batch is data: Variables are read as their arrays (the step differentiates the parameters)
        batch = tuple(b.value if isinstance(b, Variable) else b for b in batch)
        opt = self.optimizer
        params, layout, states, hypers, groups = [], [], [], [], []
        hyper_sets: dict = {}
        for g, group in enumerate(opt.param_groups):
            groups.append(structure(group))
            for p in group["params"]:
                if not p.requires_grad:
                    continue
                s = opt.state.get(p)
                names, t = (), 1
                if s:
                    t = s.get("step", 0) + 1
                    names = tuple(k for k in s if k != "step")
                    states.extend(s[k] for k in names)
                raw = p.value
                key = (g, t, type(raw), raw.dtype, getattr(raw, "device", None))
                h = hyper_sets.get(key)
                if h is None:
                    numbers = opt._hyper(group, t)
                    h = hyper_sets[key] = (len(hyper_sets), tuple(numbers))
                    hypers.extend(self._hypers(numbers, raw))
                params.append(p)
                layout.append((g, names, h[0], h[1]))
        modes = tuple([m.training for m in self._modules])
        groups, ids, layout = tuple(groups), tuple(map(id, params)), tuple(layout)
        # the static argument: a small int standing for the layout (cheap for jit to key on)
        static = self._layouts.setdefault((groups, ids, layout, modes), len(self._layouts))
        self._params, self._layout = params, layout
        draws_key = (groups, ids, modes, _batch_key(batch))  # what the draws depend on
        jitted = self._jit
        for _ in range(2):
            draws = self._draws.get(draws_key, ())
            noise = [method(gen, *args, **kwargs) for gen, method, args, kwargs in draws]  # fresh each step
            handler = _Draws(draws)
            token = DRAW_HANDLER.set(handler)
            try:
                traces = jitted.traces
                loss, values, grads, new_states, norm = jitted(static, states, hypers, batch, noise)
            finally:
                DRAW_HANDLER.reset(token)
            if jitted.traces == traces or handler.seen == list(draws):  # replayed, or traced as expected
                break
            # the trace met draws it was not given: forget that program (stand-ins were frozen into
            # it; it is the newest entry) and trace again with the draws passed in as inputs
            jitted._cache.popitem(last=True)
            self._draws[draws_key] = tuple(handler.seen)
        else:
            raise RuntimeError("anyad.optim.compile_step: the step's random draws change from one trace to "
                               "the next")
        state, counts = opt.state, opt._counts_steps
        for p, new, grad, s_new in zip(params, values, grads, new_states):
            if new is None:  # the loss does not depend on it: no gradient, no update (as eagerly)
                p.grad = None
                continue
            if not transfer.assign(p.value, new):
                p.value = new
            p.grad = grad
            s = state.get(p)
            if s is None:
                s = state[p] = {}
            s.update(s_new)
            if counts:
                s["step"] = s.get("step", 0) + 1
        self.grad_norm = norm
        return loss

    def _traced(self, static: int, states: list, hypers: list, batch: tuple, noise: list) -> tuple:
        opt = self.optimizer
        params, layout = self._params, self._layout
        DRAW_HANDLER.get().given = noise
        loss = self.loss_fn(*batch)
        if not isinstance(loss, Variable) or tuple(loss.shape) != ():
            raise ValueError(f"anyad.optim.compile_step: the loss function must return a scalar computed "
                             f"from the model's parameters, got {type(loss).__name__} of shape "
                             f"{tuple(getattr(loss, 'shape', ()))}")
        grads = backprop([loss], [None], params, create_graph=True)
        norm = None
        if self.max_grad_norm is not None and any(g is not None for g in grads):
            # nn.utils.clip_grad_norm_'s arithmetic, recorded
            norm = get_total_norm([g for g in grads if g is not None], self.norm_type)
            xp = _backend.namespace_of(norm)
            coef = xp.minimum(self.max_grad_norm / (norm + 1e-6), xp.ones_like(norm))
            grads = [None if g is None else g * xp.astype(coef, g.dtype) for g in grads]
        values, out_grads, new_states = [], [], []
        at, offsets, k = 0, {}, 0
        for g, names, h, hnames in layout:
            if h not in offsets:
                offsets[h] = k
                k += len(hnames)
        for p, grad, (g, names, h, hnames) in zip(params, grads, layout):
            s = dict(zip(names, states[at:at + len(names)]))
            at += len(names)
            if grad is None:
                values.append(None)
                out_grads.append(None)
                new_states.append({})
                continue
            if grad.dtype != p.dtype:
                grad = _backend.namespace_of(grad).astype(grad, p.dtype)
            numbers = dict(zip(hnames, hypers[offsets[h]:offsets[h] + len(hnames)]))
            values.append(opt._update(p, grad, s, opt.param_groups[g], numbers))
            out_grads.append(grad)
            new_states.append(s)
        return loss, values, out_grads, new_states, norm


def _modules_of(loss_fn: Callable, model: Any) -> list:
    """Every module of ``model`` (a Module or a list of them) and of the Modules ``loss_fn``
    names (closure variables and globals it reads; attributes of a bound method's object)."""
    from ..nn.module import Module

    found = [] if model is None else list(model) if isinstance(model, (list, tuple)) else [model]
    try:
        names = inspect.getclosurevars(loss_fn)
        found += [v for v in (*names.nonlocals.values(), *names.globals.values()) if isinstance(v, Module)]
    except (TypeError, ValueError):  # not a Python function
        pass
    owner = getattr(loss_fn, "__self__", None)
    if owner is not None:
        found += [owner] if isinstance(owner, Module) else [
            v for v in getattr(owner, "__dict__", {}).values() if isinstance(v, Module)]
    out, seen = [], set()
    for top in found:
        for m in top.modules():
            if id(m) not in seen:
                seen.add(id(m))
                out.append(m)
    return out


def _batch_key(batch: tuple) -> tuple:
    if all(hasattr(x, "shape") for x in batch):
        return tuple(array_key(getattr(x, "value", x)) for x in batch)
    leaves, treedef = tree_flatten(batch)
    return (treedef,) + tuple(array_key(x) if hasattr(x, "shape") else freeze(x, None) for x in leaves)


class _Draws:
    """Answers the step's random draws while it is traced: with the numbers drawn for this
    step and passed in (program inputs, drawn anew before every replay), or, for a draw
    not known yet, with a stand-in from a throwaway generator (that trace is then discarded)."""

    def __init__(self, expected: list):
        self.expected = expected
        self.seen: list = []
        self.given: list = []

    def __call__(self, gen: Generator, method: Any, args: tuple, kwargs: dict) -> Any:
        try:
            freeze((args, kwargs), None)
        except Exception:
            raise TypeError(f"anyad.optim.compile_step: {method.__name__}() with array arguments inside the "
                            "step cannot be drawn before the step runs; give it Python numbers") from None
        draw = (gen, method, args, kwargs)
        k = len(self.seen)
        self.seen.append(draw)
        if k < len(self.expected) and self.expected[k] == draw and k < len(self.given):
            return self.given[k]
        stand_in = Generator(0, backend=gen.backend, device=gen.device)
        return method(stand_in, *args, **kwargs)


def compile_step(loss_fn: Callable, optimizer: Optimizer, model: Any = None, *,
                 max_grad_norm: float | None = None, norm_type: float = 2.0) -> CompiledStep:
    """Compile ``loss_fn``'s gradient step with ``optimizer`` into one replayed program.

    ``step = compile_step(loss_fn, opt); loss = step(*batch)`` does what the
    eager loop ``opt.zero_grad(); loss = loss_fn(*batch); loss.backward();
    opt.step()`` does, with the same results, traced once per signature
    (:func:`anyad.jit`) and replayed after.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(*batch) -> scalar loss``, written with anyad functions and
        the model as usual (it closes over the model: ``F.cross_entropy(
        model(x), y)``). No Python decision on the values (``if loss > 0``,
        ``float(loss)``) inside; it raises :class:`anyad.TracingError`.
    optimizer : Optimizer
        SGD, Adam, AdamW, RMSprop or Adagrad. Every parameter of its groups
        that requires grad is differentiated and updated; its learning rate
        and other hyperparameters may change between steps (schedules) without
        a new trace, except a change between zero and non-zero.

    model : Module or list of Modules, optional
        The modules whose training flags (``train()``/``eval()``) key the
        program, so that switching modes between steps compiles the other
        mode instead of replaying a stale one (the sub-modules they have when
        ``compile_step`` is called). The Modules ``loss_fn`` names directly
        (closure variables, globals) are found without it.
    max_grad_norm : float, optional
        Clip the gradients as ``nn.utils.clip_grad_norm_(params, max_grad_norm,
        norm_type)`` does between ``backward`` and ``step`` (on the device, in
        the program); the total norm before clipping is then left in
        ``step.grad_norm`` (a 0-d array) after each call.
    norm_type : float
        The p of the clipping norm.

    Returns
    -------
    CompiledStep
        Call it with a batch; it returns the loss as a raw 0-d array.

    Notes
    -----
    After each step the parameters hold their new values (written in place
    where the library allows), their ``.grad`` this step's gradient, and
    ``optimizer.state`` the new state. Random draws inside the step (dropout)
    are made before each replay, from the same generators in the same order
    as the eager step makes them, and passed in: a seeded compiled run
    follows the eager one. Not compiled (it raises while tracing): batch
    normalisation's running statistics in training mode.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> from anyad.nn import functional as F
    >>> model = ad.nn.MLP([4, 8, 3], rng=0)
    >>> opt = ad.optim.Adam(model.parameters(), lr=1e-2)
    >>> def loss_fn(x, y):
    ...     return F.cross_entropy(model(x), y)
    >>> step = ad.optim.compile_step(loss_fn, opt)
    >>> gen = np.random.default_rng(0)
    >>> x = gen.normal(size=(16, 4)).astype(np.float32)
    >>> y = gen.integers(0, 3, size=16)
    >>> for i in range(100):
    ...     loss = step(x, y)
    >>> float(loss) < 0.5, step.traces   # 2: no Adam state yet at the first
    (True, 2)
    """
    return CompiledStep(loss_fn, optimizer, model, max_grad_norm, norm_type)
