"""symopt: optimizer update rules as SymPy models, from which derivations, kernels and verification
against torch.optim are produced. Start with :mod:`symopt.rules`."""

from __future__ import annotations

from . import rules
from .interpret import Interpreter

__version__ = "0.1.0"

__all__ = ["Interpreter", "rules", "__version__"]
