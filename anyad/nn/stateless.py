"""``functional_call``: run a Module with other parameter values, as torch.func does.

A Module holds its parameters as attributes; transforms (``grad``, ``vmap``,
``jit``) want them as arguments. :func:`functional_call` bridges the two: it
puts the given values in place of the named parameters and buffers for one
call of the module, and puts the module's own back afterwards (also when the
call raises), so ``grad(lambda p: loss(functional_call(model, p, x)))(params)``
differentiates with respect to ``params`` and leaves the model as it was.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..variable import Variable, wrap
from .module import Module

__all__ = ["functional_call"]


def _slots(module: Module) -> Iterator[tuple[str, Module, str, Any]]:
    """``(dotted name, owner, attribute, current object)`` of every parameter and
    buffer under every path to it (a tied or shared one under each of its names)."""
    stack = [("", module, (id(module),))]
    while stack:
        prefix, m, path = stack.pop()
        d = m.__dict__
        for kind in ("_param_names", "_buffer_names"):
            for n in d[kind]:
                v = d.get(n)
                if v is not None:
                    yield prefix + n, m, n, v
        kids = [(prefix + n + ".", d[n], path + (id(d[n]),)) for n in d["_module_names"]
                if d.get(n) is not None and id(d[n]) not in path]  # a cycle is walked once
        stack.extend(reversed(kids))


def _merge(parameter_and_buffer_dicts: Any) -> dict:
    dicts = (parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list))
             else (parameter_and_buffer_dicts,))
    merged: dict = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise TypeError(f"anyad.nn.functional_call: expected a dict of name -> array (or a tuple of "
                            f"them), got {type(d).__name__}")
        for k, v in d.items():
            if k in merged:
                raise ValueError(f"anyad.nn.functional_call: {k!r} appears in more than one dict")
            merged[k] = v
    return merged


def _close(names: list, valid: list) -> str:
    import difflib

    hints = sorted({h for n in names for h in difflib.get_close_matches(n, valid, n=1)})
    shown = valid if len(valid) <= 12 else valid[:12] + ["..."]
    return (f"; did you mean {hints}?" if hints else "") + f" The module has {shown}"


def functional_call(module: Module, parameter_and_buffer_dicts: Any, args: Any = (),
                    kwargs: dict | None = None, *, tie_weights: bool = True, strict: bool = False) -> Any:
    """Call ``module(*args, **kwargs)`` with the named parameters and buffers replaced.

    Parameters
    ----------
    module : Module
        The model; its own parameters and buffers are left as they were,
        also when the call raises.
    parameter_and_buffer_dicts : dict or tuple of dicts
        Dotted name (as in :meth:`Module.named_parameters` and
        :meth:`Module.named_buffers`) -> array or Variable. Names left out
        keep the module's own values. Raw arrays are used as constants;
        Variables (what ``grad``, ``vmap`` and ``jit`` pass) carry gradients.
    args : tuple or single value
        Positional arguments of the module (a value that is not a tuple is
        the only one), as in torch.func.functional_call.
    kwargs : dict, optional
        Keyword arguments of the module.
    tie_weights : bool
        A parameter registered under several names (tied weights) takes the
        given value under all of them (default, as in torch); giving
        different values for two of its names is an error. With False, each
        name is replaced on its own.
    strict : bool
        Require a value for every parameter and buffer.

    Returns
    -------
    What the module returns.

    Raises
    ------
    KeyError
        A name that is not a parameter or buffer of the module (with the
        closest names), or, with ``strict``, a missing one.

    Notes
    -----
    The values are swapped into the module's attributes for the duration of
    the call, so two threads must not run ``functional_call`` on the same
    module at once. Buffers a layer updates in place (BatchNorm's running
    statistics in training mode) are updated in the arrays given.

    Examples
    --------
    >>> import numpy as np
    >>> import anyad as ad
    >>> from anyad.nn import functional_call
    >>> net = ad.nn.Linear(3, 1, rng=0, dtype="float64")
    >>> params = {k: p.value for k, p in net.named_parameters()}
    >>> x = np.ones((4, 3))
    >>> def loss(p):
    ...     return ad.mean(functional_call(net, p, (x,)) ** 2)
    >>> grads = ad.grad(loss)(params)
    >>> sorted(grads), grads["weight"].shape
    (['bias', 'weight'], (1, 3))
    >>> zeros = {"weight": np.zeros((1, 3))}   # partial: the bias is net's
    >>> out = functional_call(net, zeros, x)
    >>> bool((out.value == net.bias.value).all())
    True
    """
    if not isinstance(module, Module):
        raise TypeError(f"anyad.nn.functional_call: expected an anyad.nn.Module, got {type(module).__name__}")
    given = _merge(parameter_and_buffer_dicts)
    slots = list(_slots(module))
    by_name = {name: (owner, attr, obj) for name, owner, attr, obj in slots}
    unknown = [k for k in given if k not in by_name]
    if unknown:
        raise KeyError(f"anyad.nn.functional_call: {unknown} are not parameters or buffers of "
                       f"{type(module).__name__}" + _close(unknown, list(by_name)))
    if strict:
        missing = [n for n in by_name if n not in given]
        if missing:
            raise KeyError(f"anyad.nn.functional_call (strict=True): no value for {missing}")
    # what to put where: by the original object when tied, else by name
    if tie_weights:
        new_for: dict = {}
        named_for: dict = {}
        for k, v in given.items():
            oid = id(by_name[k][2])
            if oid in new_for and new_for[oid] is not v:
                raise ValueError(f"anyad.nn.functional_call: {named_for[oid]!r} and {k!r} are the same "
                                 "(tied) parameter but were given different values; give one of them, or "
                                 "pass tie_weights=False")
            new_for[oid], named_for[oid] = v, k
        swaps = [(owner, attr, obj, new_for[id(obj)]) for _, owner, attr, obj in slots if id(obj) in new_for]
    else:
        swaps = [(owner, attr, obj, given[name]) for name, owner, attr, obj in slots if name in given]
    if not isinstance(args, tuple):
        args = (args,)
    done = []
    try:
        for owner, attr, obj, v in swaps:
            if not isinstance(v, Variable) and isinstance(obj, Variable):
                v = wrap(v)  # layers read a parameter's .value
            object.__setattr__(owner, attr, v)
            done.append((owner, attr, obj))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attr, obj in reversed(done):
            object.__setattr__(owner, attr, obj)
