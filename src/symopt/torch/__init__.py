"""Torch code generated from the models: :mod:`symopt.torch.functional` (torch.optim's functional
API over the generated kernels) and the drop-in optimizers :class:`Adagrad`,
:class:`RMSprop`, :class:`Adam`, :class:`AdamW` and :class:`SGD` (:mod:`symopt.torch.optim`)."""

from __future__ import annotations

from . import functional
from .optim import SGD, Adagrad, Adam, AdamW, GeneratedOptimizer, RMSprop

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "GeneratedOptimizer", "RMSprop", "functional"]
