"""Optimizers and learning-rate schedules for the training kit.

>>> import anyad as ad
>>> w = ad.nn.Parameter([3.0])
>>> opt = ad.optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(200):
...     opt.zero_grad()
...     ad.sum((w - 1.0) ** 2).backward()
...     opt.step()
>>> round(float(w[0]), 3)
1.0
"""

from .lbfgs import LBFGS
from .lr_scheduler import (
    CosineAnnealingLR, CosineAnnealingWarmRestarts, LambdaLR, LinearLR, LRScheduler, SequentialLR, StepLR,
)
from .optimizer import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .compiled import CompiledStep, compile_step
from .schedules import OneCycleLR, ReduceLROnPlateau

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS", "LRScheduler", "StepLR",
           "CosineAnnealingLR", "LambdaLR", "LinearLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR",
           "CosineAnnealingWarmRestarts", "compile_step", "CompiledStep"]
