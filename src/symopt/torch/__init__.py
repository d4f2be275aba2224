"""Torch code generated from the models: :mod:`symopt.torch.functional` (torch.optim's functional
API over the generated single-tensor kernels) and the drop-in optimizers :class:`Adagrad` and
:class:`RMSprop` (:mod:`symopt.torch.optim`)."""

from __future__ import annotations

from . import functional
from .optim import Adagrad, GeneratedOptimizer, RMSprop

__all__ = ["Adagrad", "GeneratedOptimizer", "RMSprop", "functional"]
