"""Numbers behind the figures: simulated curves from the reference interpreter, derived curves from
the :class:`~symopt.derive.Derivation` expressions.

Nothing here derives anything. :func:`simulate` runs a rule step by step with
:class:`symopt.interpret.Interpreter` (float64); :func:`evaluate` evaluates a derived closed form
(a SymPy expression in t) at given steps, with the rule's hyperparameter values substituted, at 30
digits with mpmath (generalised harmonic numbers through :func:`symopt.derive.checks.for_mpmath`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..derive.checks import for_mpmath
from ..interpret import Interpreter
from ..rules import UpdateRule, t

#: gradient as a function of (step, current parameters) -> gradients (one per element)
GradientFn = Callable[[int, np.ndarray], np.ndarray]


def simulate(
    rule: UpdateRule, gradient: GradientFn, steps: int, w_start: Iterable[float], *, reset: bool = False, **values: Any
) -> dict[str, np.ndarray]:
    """Run ``rule`` for ``steps`` steps from ``w_start`` (one element per entry) with the interpreter.

    Returns arrays of shape (steps + 1, n) for ``"param"`` (row 0 is w_0) and (steps, n) for
    ``"grad"``, ``"lr"`` (η_t = (w_{t−1} − w_t) / g_t, NaN where g_t = 0) and every state buffer
    (``"state:NAME"``). With ``reset`` the parameter is set to 0 before every step, so the step is
    exactly −η_t g_t (the states of a rule without weight decay do not depend on w)."""
    run = Interpreter(rule, **values)
    start = np.array(list(w_start), dtype=np.float64)
    param = start.copy()
    state = run.init_state(param)
    params: list[np.ndarray] = [start.copy()]
    grads: list[np.ndarray] = []
    lrs: list[np.ndarray] = []
    states: dict[str, list[np.ndarray]] = {}
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            if reset:
                param[...] = 0.0
            before = param.copy()
            grad = np.asarray(gradient(step, param.copy()), dtype=np.float64)
            run.step(param, grad, state)
            params.append(param.copy())
            grads.append(grad)
            lrs.append(np.where(grad != 0, (before - param) / np.where(grad != 0, grad, 1.0), np.nan))
            for name, buf in state.items():
                if name != "step":
                    states.setdefault(f"state:{name}", []).append(np.array(buf, dtype=np.float64))
    out = {"param": np.array(params), "grad": np.array(grads), "lr": np.array(lrs)}
    out.update({k: np.array(v) for k, v in states.items()})
    return out


def substitutions(
    rule: UpdateRule, values: Mapping[str, Any] | None = None, **symbols: float
) -> dict[sp.Symbol, sp.Expr]:
    """Exact values of the rule's numeric hyperparameters (torch defaults unless ``values``), plus
    ``symbols`` given by name (``c=0.5``, ``g=0.1``)."""
    out: dict[sp.Symbol, sp.Expr] = {}
    for sym, value in rule.values(**dict(values or {})).items():
        if not isinstance(value, bool):
            out[sym] = sp.Float(float(value), 30)
    for name, value in symbols.items():
        out[sp.Symbol(name, real=True)] = sp.Float(float(value), 30)
    return out


def evaluate(expr: sp.Expr, steps: Iterable[int], subs: Mapping[sp.Symbol, Any], dps: int = 30) -> np.ndarray:
    """``expr`` at each step in ``steps`` (float64 result), with ``subs`` substituted by name
    (so that assumptions on symbols do not matter)."""
    by_name = {s.name: v for s, v in subs.items()}
    replaced = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name and s != t})
    left = replaced.free_symbols - {t}
    if left:
        raise ValueError(f"no value for {', '.join(sorted(map(str, left)))} in {expr}")
    fn = sp.lambdify(t, for_mpmath(replaced), modules="mpmath")
    with mpmath.workdps(dps):
        return np.array([float(fn(mpmath.mpf(int(s)))) for s in steps], dtype=np.float64)


def log_steps(last: int, per_decade: int = 12) -> np.ndarray:
    """About ``per_decade`` integer steps per decade from 1 to ``last`` (both included)."""
    points = np.unique(np.round(np.logspace(0, np.log10(last), int(per_decade * np.log10(last)) + 1)).astype(np.int64))
    return points


def as_function(expr: sp.Expr, subs: Mapping[sp.Symbol, Any], *names: str) -> Callable[..., Any]:
    """``expr`` with ``subs`` substituted by name, as a NumPy function of the symbols ``names``
    (in that order; ``"t"`` is the step). For vectorised float64 evaluation over a grid."""
    by_name = {s.name: v for s, v in subs.items() if s.name not in names}
    replaced = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
    args = [next((s for s in replaced.free_symbols if s.name == n), sp.Symbol(n)) for n in names]
    left = replaced.free_symbols - set(args)
    if left:
        raise ValueError(f"no value for {', '.join(sorted(map(str, left)))} in {expr}")
    return sp.lambdify(args, replaced, modules="numpy")
