"""The training kit's layers: parameters, modules, activations, losses, initialisers.

>>> import anyad as ad
>>> import numpy as np
>>> net = ad.nn.MLP([2, 16, 1], activation="tanh", rng=0)
>>> opt = ad.optim.Adam(net.parameters(), lr=0.05)
>>> x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
>>> y = np.array([[0], [1], [1], [0]], dtype=np.float32)
>>> for step in range(300):
...     loss = ad.nn.functional.mse_loss(net(x), y)
...     opt.zero_grad()
...     loss.backward()
...     opt.step()
>>> float(loss) < 1e-3
True
"""

from . import functional, init, utils
from .containers import ModuleDict, ModuleList
from .layers import GELU, MLP, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear, ReLU, Sigmoid, Softplus, Tanh
from .module import Module, Parameter, Sequential
from .stateless import functional_call
from .attention import MultiheadAttention, TransformerEncoderLayer
from .conv_layers import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Conv3d,
    ConvTranspose1d, ConvTranspose2d, GroupNorm, MaxPool1d, MaxPool2d,
)

__all__ = [
    "Parameter", "Module", "Sequential", "Linear", "MLP", "Dropout", "LayerNorm", "Embedding", "ReLU", "GELU",
    "Sigmoid", "Tanh", "Softplus", "Identity", "Flatten", "functional", "init", "utils", "ModuleList", "ModuleDict",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm",
    "MultiheadAttention", "TransformerEncoderLayer", "functional_call",
]
