"""Torch code generated from the models: :mod:`symopt.torch.functional` (torch.optim's functional
API over the generated kernels) and the drop-in optimizers :class:`Adagrad`,
:class:`RMSprop`, :class:`Adam`, :class:`AdamW` and :class:`SGD` (:mod:`symopt.torch.optim`), symopt's
:class:`AdagradNorm` (which torch has not), and
:func:`port`: any other framework's AdaGrad or RMSProp call as a drop-in (:mod:`symopt.torch.port`)."""

from __future__ import annotations

from . import functional
from .optim import SGD, Adagrad, AdagradNorm, Adam, AdamW, GeneratedOptimizer, RMSprop
from .port import PortedOptimizer, port

__all__ = [
    "SGD",
    "Adagrad",
    "AdagradNorm",
    "Adam",
    "AdamW",
    "GeneratedOptimizer",
    "PortedOptimizer",
    "RMSprop",
    "functional",
    "port",
]
