"""Gradient models: what the gradient g_t is at step t, symbolically and as numbers.

A closed form of a state recurrence depends on the gradient sequence. A gradient model gives

* ``at(t)``: the symbolic g_t substituted for ``g`` in the rule's one-step map;
* ``sample(t)``: the numeric gradients fed to the reference interpreter at step t (one value per
  element of a small test vector, so that one run checks several gradients at once: both signs and
  a small one), and ``scalar(i)``: element i's gradient as a function (step, w) → g for the fast
  runner of :mod:`.simulate`;
* ``symbol_values()``: the numbers of the symbols ``at`` introduces, per element.

Models (:data:`GRADIENT_MODELS`):

``constant``   g_t = g.
``sequence``   g_t = g[t], an arbitrary sequence: results are sums Σ_k (…) g_k². Checked on a fixed
               deterministic sequence g_k = s_i (1 + ½ sin(k + i)) per element i.
``powerlaw``   g_t = c t^(−p), p > 0 (p = 1/4, 1/2, 3/4: the three regimes of AdaGrad's rate).
``quadratic``  f(w) = λ w²/2, g_t = λ w_{t−1}; the diagonal quadratic is one such model per
               coordinate (every rule here is elementwise). See :mod:`.quadratic`.
``noise``      g_t i.i.d. with E[g] = 0, E[g²] = σ²: results in expectation, checked by seeded
               Monte Carlo. See :mod:`.noise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import mpmath
import numpy as np
import sympy as sp

from ..rules import g, t

#: The parameter's initial value w_0 (a symbol of the trajectories).
w0 = sp.Symbol("w_0", real=True)

#: Initial parameter values of the numeric checks (one per element).
INITIAL_PARAM = (1.0, -2.0, 0.25)

#: The per-element scales of the numeric checks: both signs and a small gradient.
SCALES = (0.5, -1.25, 3e-3)

c = sp.Symbol("c", real=True, nonzero=True)  # power-law amplitude
p = sp.Symbol("p", positive=True)  # power-law exponent
lam = sp.Symbol("lambda", positive=True)  # curvature of the quadratic
sigma2 = sp.Symbol("sigma^2", positive=True)  # E[g²] of the noise
# An arbitrary sequence g_1, g_2, …: its label prints as g but is not the rule's symbol g (which is
# real=True), so substituting one never touches the other.
gseq = sp.IndexedBase(sp.Symbol("g"))


@dataclass(frozen=True)
class ConstantGradient:
    """g_t = g for every t ≥ 1. ``values`` are the constants used in the numeric checks."""

    values: tuple[float, ...] = SCALES
    name: str = "constant"
    latex: str = r"g_t = g \text{ for all } t \ge 1"

    def at(self, step: sp.Expr) -> sp.Expr:
        """The gradient at step ``step``: always ``g``."""
        return g

    def sample(self, step: int) -> np.ndarray:
        """The numeric gradients at step ``step`` (float64, one per element)."""
        return np.array(self.values, dtype=np.float64)

    def scalar(self, i: int) -> Callable[[int, float], float]:
        """Element i's gradient; ``.constant`` lets the fast float64 runner inline it."""
        value = float(self.values[i])

        def gradient(step: int, w: float) -> float:
            return value

        gradient.constant = value  # type: ignore[attr-defined]
        return gradient

    def symbol_values(self) -> dict[sp.Symbol, np.ndarray]:
        """Numeric values of the symbols ``at`` introduces (here ``g``), per element."""
        return {g: np.array(self.values, dtype=np.float64)}

    @property
    def is_constant(self) -> bool:
        """True when ``at(t)`` does not depend on t (recurrences keep constant coefficients)."""
        return not self.at(t).has(t)

    @property
    def long_horizon(self) -> int:
        """The last step of the float64 check (closed forms without sums: 10⁶)."""
        return 10**6


@dataclass(frozen=True)
class PowerLawGradient(ConstantGradient):
    """g_t = c t^(−p) with a fixed exponent ``exponent`` (a Rational) and amplitude c per element."""

    exponent: sp.Rational = sp.Rational(1, 4)
    name: str = "powerlaw"
    latex: str = r"g_t = c\, t^{-p}"

    def __post_init__(self) -> None:
        if not (sp.Rational(self.exponent) > 0):
            raise ValueError(f"the power-law exponent p must be > 0; got {self.exponent}")
        object.__setattr__(self, "exponent", sp.Rational(self.exponent))
        object.__setattr__(self, "latex", rf"g_t = c\, t^{{-{sp.latex(self.exponent)}}}")

    def at(self, step: sp.Expr) -> sp.Expr:
        return c * step ** (-self.exponent)

    def sample(self, step: int) -> np.ndarray:
        return np.array([self.scalar(i)(step, 0.0) for i in range(len(self.values))], dtype=np.float64)

    def scalar(self, i: int) -> Callable[[int, float], float]:
        """c t^(−p) in the number type of w: float64, or mpmath at the working precision (so that
        a 50-digit check is fed the exact gradient, not its float64 rounding)."""
        amplitude, power = float(self.values[i]), float(self.exponent)
        num, den = int(self.exponent.p), int(self.exponent.q)

        def gradient(step: int, w: float) -> float:
            if isinstance(w, mpmath.mpf):
                return mpmath.mpf(amplitude) * mpmath.power(step, -mpmath.mpf(num) / den)
            return amplitude * float(step) ** (-power)

        return gradient

    def symbol_values(self) -> dict[sp.Symbol, np.ndarray]:
        return {c: np.array(self.values, dtype=np.float64)}


def _sequence_value(scale: float, index: int, step: int) -> float:
    """The test sequence: s (1 + ½ sin(k + i)), never 0, varying in size by a factor 3."""
    return scale * (1.0 + 0.5 * math.sin(step + index))


@dataclass(frozen=True)
class SequenceGradient(ConstantGradient):
    """g_t = g[t], an arbitrary sequence; numerically g_k = s_i (1 + ½ sin(k + i)) for element i."""

    name: str = "sequence"
    latex: str = r"g_t = g_{t} \text{ (an arbitrary sequence)}"

    def at(self, step: sp.Expr) -> sp.Expr:
        return gseq[step]

    def sample(self, step: int) -> np.ndarray:
        return np.array([_sequence_value(s, i, step) for i, s in enumerate(self.values)], dtype=np.float64)

    def scalar(self, i: int) -> Callable[[int, float], float]:
        scale = float(self.values[i])
        return lambda step, w: _sequence_value(scale, i, step)

    def symbol_values(self) -> dict[sp.Symbol, np.ndarray]:
        return {}

    def sequence_function(self, i: int) -> Callable[[int], float]:
        """Element i's sequence k → g_k (what an Indexed g[k] evaluates to in a check)."""
        scale = float(self.values[i])
        return lambda step: _sequence_value(scale, i, int(step))

    @property
    def long_horizon(self) -> int:
        """Sums are evaluated term by term at 50 digits: the float64 check stops at 10⁴."""
        return 10**4


@dataclass(frozen=True)
class QuadraticGradient:
    """f(w) = λ w²/2 (per coordinate: a diagonal quadratic), g_t = λ w_{t−1}."""

    curvature: float = 2.0
    name: str = "quadratic"
    latex: str = r"f(w) = \tfrac{\lambda}{2} w^2,\ g_t = \lambda\, w_{t-1}"

    def scalar(self, i: int = 0) -> Callable[[int, float], float]:
        lam_value = float(self.curvature)
        return lambda step, w: lam_value * w


@dataclass(frozen=True)
class NoiseGradient:
    """g_t i.i.d. N(0, σ²) (so E[g²] = σ²), drawn from a seeded generator."""

    sigma: float = 0.5
    seed: int = 20230316
    name: str = "noise"
    latex: str = r"g_t \overset{\text{iid}}{\sim} \mathcal{N}(0, \sigma^2),\ \mathbb{E}[g_t^2] = \sigma^2"

    def draws(self, paths: int, steps: int) -> np.ndarray:
        """A (steps, paths) array of gradients."""
        return np.random.default_rng(self.seed).normal(0.0, self.sigma, size=(steps, paths))


GradientModel = Union[ConstantGradient, PowerLawGradient, SequenceGradient, QuadraticGradient, NoiseGradient]

#: name -> factory of a gradient model
GRADIENT_MODELS: dict[str, Callable[[], GradientModel]] = {
    "constant": ConstantGradient,
    "sequence": SequenceGradient,
    "powerlaw": PowerLawGradient,
    "quadratic": QuadraticGradient,
    "noise": NoiseGradient,
}

#: The models under which closed forms of the state recurrences are derived by :mod:`.closed_forms`.
SEQUENCE_MODELS = ("constant", "sequence", "powerlaw")


def gradient_model(model: str | GradientModel) -> GradientModel:
    """The gradient model called ``model`` (or ``model`` itself when it is one already)."""
    if not isinstance(model, str):
        return model
    if model not in GRADIENT_MODELS:
        raise ValueError(f"unknown gradient model {model!r}; known: {', '.join(GRADIENT_MODELS)}")
    return GRADIENT_MODELS[model]()
