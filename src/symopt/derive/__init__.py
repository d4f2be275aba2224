"""Derivations from the models: closed forms under gradient models, effective learning rates and
their limits, each with a numeric check against the reference interpreter.

>>> from symopt.derive import derive
>>> [d.id for d in derive("adagrad")]
['adagrad.torch.sum', 'adagrad.torch.lr', 'adagrad.torch.lr_limit']
"""

from __future__ import annotations

from ._result import Assumption, Check, Derivation
from .checks import Observable, check_closed_form, check_limit
from .closed_forms import NotDerivable, derive, symbolic_results
from .gradients import GRADIENT_MODELS, ConstantGradient, gradient_model

__all__ = [
    "Assumption", "Check", "ConstantGradient", "Derivation", "GRADIENT_MODELS", "NotDerivable", "Observable",
    "check_closed_form", "check_limit", "derive", "gradient_model", "symbolic_results",
]
