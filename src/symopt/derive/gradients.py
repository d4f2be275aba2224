"""Gradient models: what the gradient g_t is at step t, symbolically and as numbers.

A closed form of a state recurrence depends on the gradient sequence. A gradient model gives

* ``at(t)``: the symbolic g_t substituted for ``g`` in the rule's one-step map, and
* ``sample(t)``: the numeric gradients fed to the reference interpreter at step t (one value per
  element of a small test vector, so that one run checks several gradients at once, both signs and
  a small one).

Only the constant gradient g_t = g is implemented; the registry :data:`GRADIENT_MODELS` is where
further models (decaying, alternating, random with known moments) go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from ..rules import g, t

#: The parameter's initial value w_0 (a symbol of the trajectories).
w0 = sp.Symbol("w_0", real=True)

#: Initial parameter values of the numeric checks (one per element).
INITIAL_PARAM = (1.0, -2.0, 0.25)


@dataclass(frozen=True)
class ConstantGradient:
    """g_t = g for every t ≥ 1. ``values`` are the constants used in the numeric checks."""

    values: tuple[float, ...] = (0.5, -1.25, 3e-3)
    name: str = "constant"
    latex: str = r"g_t = g \text{ for all } t \ge 1"

    def at(self, step: sp.Expr) -> sp.Expr:
        """The gradient at step ``step``: always ``g``."""
        return g

    def sample(self, step: int) -> np.ndarray:
        """The numeric gradients at step ``step`` (float64, one per element)."""
        return np.array(self.values, dtype=np.float64)

    def symbol_values(self) -> dict[sp.Symbol, np.ndarray]:
        """Numeric values of the symbols ``at`` introduces (here ``g``), per element."""
        return {g: np.array(self.values, dtype=np.float64)}

    @property
    def is_constant(self) -> bool:
        """True when ``at(t)`` does not depend on t (recurrences keep constant coefficients)."""
        return not self.at(t).has(t)


#: name -> factory of a gradient model
GRADIENT_MODELS: dict[str, Callable[[], ConstantGradient]] = {"constant": ConstantGradient}


def gradient_model(model: str | ConstantGradient) -> ConstantGradient:
    """The gradient model called ``model`` (or ``model`` itself when it is one already)."""
    if not isinstance(model, str):
        return model
    if model not in GRADIENT_MODELS:
        raise ValueError(f"unknown gradient model {model!r}; known: {', '.join(GRADIENT_MODELS)}")
    return GRADIENT_MODELS[model]()
