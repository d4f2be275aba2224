"""Derivations from the models: closed forms under gradient models, effective learning rates and
their limits, each with a numeric check against the reference interpreter.

>>> from symopt.derive import derive
>>> [d.id for d in derive("adagrad")]
['adagrad.torch.sum', 'adagrad.torch.lr', 'adagrad.torch.lr_limit']
"""

from __future__ import annotations

from ._result import Assumption, Check, Derivation
from .analyses import all_analyses
from .checks import Observable, check_closed_form, check_limit
from .claims import Claim, claims
from .closed_forms import NotDerivable, derive, symbolic_results
from .gradients import (
    GRADIENT_MODELS,
    ConstantGradient,
    NoiseGradient,
    PowerLawGradient,
    QuadraticGradient,
    SequenceGradient,
    gradient_model,
)
from .rates import rate_series

__all__ = [
    "Assumption",
    "Check",
    "Claim",
    "ConstantGradient",
    "Derivation",
    "GRADIENT_MODELS",
    "NoiseGradient",
    "NotDerivable",
    "Observable",
    "PowerLawGradient",
    "QuadraticGradient",
    "SequenceGradient",
    "all_analyses",
    "check_closed_form",
    "check_limit",
    "claims",
    "derive",
    "gradient_model",
    "rate_series",
    "symbolic_results",
]
