"""Learning-rate schedules: step decay, cosine annealing (with warm restarts),
a user function, linear warm-up, composition in sequence.

A schedule sets the ``"lr"`` of each parameter group of an optimizer from a
closed form of the epoch (or step) count; call :meth:`LRScheduler.step` once
per epoch (or per batch, for per-step schedules), after the optimizer's steps.
The rates are Python floats, so a schedule never touches the device. The
formulas and the lr sequences are torch.optim.lr_scheduler's.
:class:`~anyad.optim.OneCycleLR` and :class:`~anyad.optim.ReduceLROnPlateau`
are in :mod:`anyad.optim.schedules`.

Every schedule has ``state_dict()`` (a dict of Python numbers and lists,
without the optimizer) and ``load_state_dict()``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Callable, Sequence

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LambdaLR", "LinearLR", "CosineAnnealingWarmRestarts",
           "SequentialLR"]


class LRScheduler:
    """Base class: remembers each group's initial rate and applies :meth:`get_lr` on each step.

    Creating a schedule applies its rate for epoch 0 (as torch does).
    """

    def __init__(self, optimizer: Any, last_epoch: int = -1):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        """The rate of every group at epoch ``last_epoch``."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``) and set the groups' rates."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._apply(self.get_lr())

    def _apply(self, lrs: list) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list:
        """The rates set by the last :meth:`step`."""
        return list(self._last_lr)

    # -- checkpoints ------------------------------------------------------------
    _unsaved: tuple = ("optimizer",)

    def state_dict(self) -> dict:
        """The schedule's state (epoch count, settings), without the optimizer.

        Examples
        --------
        >>> import anyad as ad
        >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
        >>> sched = ad.optim.StepLR(opt, step_size=2)
        >>> sched.step()
        >>> sched.state_dict()["last_epoch"]
        1
        """
        return {k: _copy(v) for k, v in self.__dict__.items() if k not in self._unsaved}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from :meth:`state_dict` (the groups' rates follow at the next step)."""
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items() if k not in self._unsaved})


def _copy(v: Any) -> Any:
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
    >>> sched = ad.optim.StepLR(opt, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(opt.param_groups[0]["lr"])
    ...     sched.step()
    >>> rates
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise ValueError(f"anyad.optim.StepLR: step_size must be at least 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial rate down to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
    >>> sched = ad.optim.CosineAnnealingLR(opt, T_max=4)
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(round(opt.param_groups[0]["lr"], 4))
    ...     sched.step()
    >>> rates
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise ValueError(f"anyad.optim.CosineAnnealingLR: T_max must be at least 1, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``: a function of the epoch (one, or one per group).

    The functions are not part of :meth:`state_dict` (as in torch): recreate the
    schedule with them, then load its state.

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=2.0)
    >>> warmup = ad.optim.LambdaLR(opt, lambda epoch: min(1.0, (epoch + 1) / 4))
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(opt.param_groups[0]["lr"])
    ...     warmup.step()
    >>> rates
    [0.5, 1.0, 1.5, 2.0, 2.0]
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer: Any, lr_lambda: Callable | Sequence[Callable], last_epoch: int = -1):
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(fns) != n:
            raise ValueError(f"anyad.optim.LambdaLR: {n} parameter groups but {len(fns)} functions")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs, then keep it (a linear warm-up with the defaults of torch).

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
    >>> sched = ad.optim.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(opt.param_groups[0]["lr"])
    ...     sched.step()
    >>> rates
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0.0 < start_factor <= 1.0 or not 0.0 <= end_factor <= 1.0:
            raise ValueError("anyad.optim.LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], "
                             f"got {start_factor} and {end_factor}")
        if total_iters < 1:
            raise ValueError(f"anyad.optim.LinearLR: total_iters must be at least 1, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = float(start_factor), float(end_factor), total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        f = self.start_factor + (self.end_factor - self.start_factor) * min(self.total_iters,
                                                                           self.last_epoch) / self.total_iters
        return [base * f for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted every ``T_i`` epochs (SGDR, Loshchilov & Hutter, 2017):
    ``T_0`` first, each period ``T_mult`` times the one before.
    ``step(epoch)`` accepts fractional epochs (``epoch + batch / batches``), as in torch.

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
    >>> sched = ad.optim.CosineAnnealingWarmRestarts(opt, T_0=2)
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(round(opt.param_groups[0]["lr"], 3))
    ...     sched.step()
    >>> rates
    [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        if not isinstance(T_0, int) or T_0 < 1:
            raise ValueError(f"anyad.optim.CosineAnnealingWarmRestarts: T_0 must be a positive int, got {T_0!r}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"anyad.optim.CosineAnnealingWarmRestarts: T_mult must be an int >= 1, got {T_mult!r}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, float(eta_min)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        c = (1.0 + math.cos(math.pi * self.T_cur / self.T_i)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (a float for steps within an epoch)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"anyad.optim.CosineAnnealingWarmRestarts: epoch must be non-negative, got {epoch}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        self._apply(self.get_lr())


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``
    (each one restarts from its epoch 0): e.g. a linear warm-up, then cosine annealing.

    Examples
    --------
    >>> import anyad as ad
    >>> opt = ad.optim.SGD([ad.nn.Parameter([1.0])], lr=1.0)
    >>> warmup = ad.optim.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = ad.optim.StepLR(opt, step_size=1, gamma=0.5)
    >>> sched = ad.optim.SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> rates = []
    >>> for epoch in range(5):
    ...     rates.append(opt.param_groups[0]["lr"])
    ...     sched.step()
    >>> rates
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    _unsaved = ("optimizer", "_schedulers")

    def __init__(self, optimizer: Any, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("anyad.optim.SequentialLR: at least one scheduler is needed")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("anyad.optim.SequentialLR: every scheduler must drive the given optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"anyad.optim.SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        self.optimizer, self._schedulers, self._milestones = optimizer, schedulers, list(milestones)
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:  # undo what creating the schedulers did
            group["lr"] = group["initial_lr"]
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for s in schedulers:
            s.last_epoch -= 1
        schedulers[0].step()
        self._last_lr = schedulers[0].get_last_lr()

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (in the scheduler whose turn it is)."""
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            sched.step(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def state_dict(self) -> dict:
        out = super().state_dict()
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        for s, sd in zip(self._schedulers, state.pop("_schedulers", [])):
            s.load_state_dict(sd)
        super().load_state_dict(state)


def __getattr__(name: str) -> Any:
    """``anyad.optim.lr_scheduler.OneCycleLR`` and ``ReduceLROnPlateau``, where torch
    users look for them (they live in :mod:`anyad.optim.schedules`)."""
    if name in ("OneCycleLR", "ReduceLROnPlateau"):
        from . import schedules

        return getattr(schedules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
