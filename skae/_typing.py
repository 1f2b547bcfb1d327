"""Type aliases of the public signatures, one home for the hints the estimators share.

Each alias is the hint of a parameter documented alike in several estimators
(``random_state : int, RandomState instance or None``, ``precision :
{"fp32", "bf16", "fp16"}``, ...); the docstrings stay the reference and
``tests/test_typing.py`` holds the two together. Imports nothing of skae.
"""

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import numpy as np
import torch

#: ``int, RandomState instance or None``.
RandomStateLike: TypeAlias = int | np.random.RandomState | None
#: ``torch.nn.Module, callable or None``: a user's encoder or decoder, or a
#: class or function that makes one from ``(n_in, n_out)``.
Network: TypeAlias = torch.nn.Module | Callable[[int, int], torch.nn.Module] | None
Activation: TypeAlias = Literal[
    "relu", "leaky_relu", "elu", "gelu", "selu", "tanh", "sigmoid", "identity"
]
Loss: TypeAlias = Literal["mse", "mae", "huber", "bce"]
#: ``{"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class``.
Optimizer: TypeAlias = Literal["adam", "adamw", "sgd", "rmsprop"] | type[torch.optim.Optimizer]
Precision: TypeAlias = Literal["fp32", "bf16", "fp16"]
#: ``str or torch.device``: ``"auto"``, ``"cpu"``, ``"cuda:1"``, ...
Device: TypeAlias = str | torch.device
#: ``list of skorch callbacks or (name, callback) tuples``, or None.
Callbacks: TypeAlias = list[Any] | None

__all__ = [
    "Activation",
    "Callbacks",
    "Device",
    "Loss",
    "Network",
    "Optimizer",
    "Precision",
    "RandomStateLike",
]
