"""Torch code generated from the models: :mod:`symopt.torch.functional` (torch.optim's functional
API over the generated kernels) and the drop-in optimizers :class:`Adagrad`,
:class:`RMSprop` and :class:`Adam` (:mod:`symopt.torch.optim`)."""

from __future__ import annotations

from . import functional
from .optim import Adagrad, Adam, GeneratedOptimizer, RMSprop

__all__ = ["Adagrad", "Adam", "GeneratedOptimizer", "RMSprop", "functional"]
