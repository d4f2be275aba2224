"""Numeric checks of derived statements against the reference interpreter.

A closed form X(t) of an observable (a state buffer, the effective learning rate, the parameter) is
evaluated at 50 significant digits and compared with what :class:`symopt.interpret.Interpreter`
computes by running the rule step by step:

* float64 interpreter, t = 1..1000, relative error ≤ 1e-10 (rounding accumulates over the run,
  ~t·2⁻⁵³, so a correct formula lands near 1e-13; a wrong one is off by O(1/t) or more);
* mpmath interpreter at 50 digits, t ∈ {1, 2, 3, 10, 25}, relative error ≤ 1e-40.

The relative error of an observed value y against the closed form x is |y − x| / |x| (0 when both
are 0, ∞ when only x is); for the parameter w_t, which may pass through 0, it is
|y − x| / max(|x|, |w_0|). The effective learning rate is observed exactly: the parameter is reset to
0 before every step, so w_t = −η_t g_t with no cancellation (the states of a rule without weight
decay do not depend on w).

A limit L = lim_{t→∞} f(t) is checked on the closed form itself (already checked against the
interpreter): |f(T) − L| / max(|L|, |f(T₀)|) at T = 10⁶⁴, T₀ = 10², at 50 digits, ≤ 1e-10.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..interpret import Interpreter, to_mpmath
from ..rules import UpdateRule, t
from ._result import Check
from .gradients import INITIAL_PARAM, ConstantGradient, gradient_model, w0

FLOAT64_STEPS = 1000
FLOAT64_TOLERANCE = 1e-10
MPMATH_DPS = 50
MPMATH_STEPS = (1, 2, 3, 10, 25)
MPMATH_TOLERANCE = 1e-40
LIMIT_FROM, LIMIT_TO = 10**2, 10**64
LIMIT_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Observable:
    """What the interpreter is asked for: ``kind`` is ``"state"`` (the buffer ``name``), ``"lr"``
    (η_t = (w_{t−1} − w_t) / g_t) or ``"param"`` (w_t, from w_0)."""

    kind: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("state", "lr", "param"):
            raise ValueError(f"observable kind must be 'state', 'lr' or 'param'; got {self.kind!r}")

    @property
    def key(self) -> str:
        return f"state:{self.name}" if self.kind == "state" else self.kind


def check_closed_form(
    rule: UpdateRule,
    observable: Observable,
    expr: sp.Expr,
    values: Mapping[str, Any] | None = None,
    gradient: str | ConstantGradient = "constant",
) -> tuple[Check, Check]:
    """Compare ``expr`` (a function of t) with the interpreter: (float64 check, mpmath check)."""
    values = dict(values or {})
    model = gradient_model(gradient)
    items = tuple(sorted(values.items()))
    f64 = _compare(rule, observable, expr, items, model, "float64", tuple(range(1, FLOAT64_STEPS + 1)), FLOAT64_TOLERANCE)
    mp = _compare(rule, observable, expr, items, model, "mpmath", MPMATH_STEPS, MPMATH_TOLERANCE)
    return f64, mp


def check_limit(
    rule: UpdateRule,
    expr: sp.Expr,
    limit: sp.Expr,
    values: Mapping[str, Any] | None = None,
    gradient: str | ConstantGradient = "constant",
) -> Check:
    """Check lim_{t→∞} expr = limit by evaluating expr far out (see the module docstring)."""
    model = gradient_model(gradient)
    numbers = numeric_values(rule, dict(values or {}), model)
    with mpmath.workdps(MPMATH_DPS):
        near = _evaluate(expr, (LIMIT_FROM,), numbers)[0]
        far = _evaluate(expr, (LIMIT_TO,), numbers)[0]
        target = _evaluate(limit, (LIMIT_TO,), numbers)[0]
        worst = 0.0
        for x0, x1, lim in zip(near, far, target):
            if not (mpmath.isfinite(lim) and mpmath.isfinite(x1)):
                worst = float("inf") if not (mpmath.isinf(lim) and mpmath.isinf(x1)) else worst
                continue
            scale = max(abs(lim), abs(x0))
            err = abs(x1 - lim) / scale if scale else abs(x1 - lim)
            worst = max(worst, float(err))
    return Check(
        f"closed-form-mpmath-{MPMATH_DPS}", (LIMIT_FROM, LIMIT_TO), worst, LIMIT_TOLERANCE,
        detail="error at t = 1e64 relative to the value at t = 1e2",
    )


# -- numbers ------------------------------------------------------------------------------------
def numeric_values(rule: UpdateRule, values: Mapping[str, Any], model: ConstantGradient) -> dict[sp.Symbol, list[Any]]:
    """Per-element numeric values of every symbol a closed form may contain: hyperparameters (the
    same float the interpreter uses, made exact in mpmath), the gradient model's symbols and w_0."""
    n = len(model.values)
    out: dict[sp.Symbol, list[Any]] = {}
    for sym, value in rule.values(**values).items():
        if not isinstance(value, bool):
            out[sym] = [mpmath.mpf(float(value))] * n
    for sym, array in model.symbol_values().items():
        out[sym] = [mpmath.mpf(float(x)) for x in array]
    out[w0] = [mpmath.mpf(x) for x in INITIAL_PARAM]
    return out


def _evaluate(expr: sp.Expr, steps: tuple[int, ...], numbers: Mapping[sp.Symbol, list[Any]]) -> list[list[Any]]:
    """expr at each step, per element, in mpmath at the current precision."""
    free = sorted(expr.free_symbols - {t}, key=lambda s: s.name)
    missing = [s for s in free if s not in numbers]
    if missing:
        raise ValueError(f"no numeric value for {', '.join(map(str, missing))} in {expr}")
    fn = sp.lambdify((t, *free), expr, modules="mpmath")
    n = len(next(iter(numbers.values())))
    return [[fn(mpmath.mpf(step), *(numbers[s][i] for s in free)) for i in range(n)] for step in steps]


def _compare(rule, observable, expr, items, model, precision, steps, tolerance) -> Check:
    observed = _simulate(rule, items, model, precision, max(steps))[observable.key]
    numbers = numeric_values(rule, dict(items), model)
    with mpmath.workdps(MPMATH_DPS):
        closed = _evaluate(expr, steps, numbers)
        floor = numbers[w0] if observable.kind == "param" else [0] * len(closed[0])
        worst = 0.0
        for step, row in zip(steps, closed):
            for x, y, x0 in zip(row, observed[step - 1], floor):
                worst = max(worst, _relative_error(mpmath.mpf(y), x, x0))
    method = "interpreter-float64" if precision == "float64" else f"interpreter-mpmath-{MPMATH_DPS}"
    return Check(method, (steps[0], steps[-1]), worst, tolerance)


def _relative_error(observed: Any, exact: Any, floor: Any = 0) -> float:
    """|observed − exact| / max(|exact|, |floor|) (0 when both are 0, ∞ when only exact is)."""
    if not mpmath.isfinite(observed) or not mpmath.isfinite(exact):
        return float("nan") if observed != exact else 0.0
    scale = max(abs(exact), abs(floor))
    if scale == 0:
        return 0.0 if observed == 0 else float("inf")
    return float(abs(observed - exact) / scale)


@lru_cache(maxsize=64)
def _simulate(rule: UpdateRule, items: tuple, model: ConstantGradient, precision: str, steps: int) -> dict[str, list[np.ndarray]]:
    """Run the interpreter for ``steps`` steps; per step: every state, η_t (reset run) and w_t."""
    values = dict(items)
    run = Interpreter(rule, precision=precision, dps=MPMATH_DPS, **values)
    as_array = (lambda x: np.array(x, dtype=np.float64)) if precision == "float64" else (lambda x: to_mpmath(np.array(x, dtype=np.float64), MPMATH_DPS))
    out: dict[str, list[np.ndarray]] = {"lr": [], "param": []}
    # Reset run: w = 0 before each step, so the step is exactly −η_t g_t.
    zero = as_array([0.0] * len(model.values))
    param = zero.copy()
    state = run.init_state(param)
    for step in range(1, steps + 1):
        param[...] = zero
        grad = as_array(model.sample(step))
        run.step(param, grad, state)
        with mpmath.workdps(MPMATH_DPS):
            out["lr"].append(-param / grad)
        for name, buf in state.items():
            if name != "step":
                out.setdefault(f"state:{name}", []).append(buf.copy())
    # Trajectory run from w_0.
    param = as_array(INITIAL_PARAM)
    state = run.init_state(param)
    for step in range(1, steps + 1):
        run.step(param, as_array(model.sample(step)), state)
        out["param"].append(param.copy())
    return out
