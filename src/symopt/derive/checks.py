"""Numeric checks of derived statements against the reference interpreter.

A closed form X(t) of an observable (a state buffer, the effective learning rate, the parameter) is
evaluated at 50 significant digits and compared with the rule run step by step:

* float64, relative error ≤ 1e-10: the interpreter (:class:`symopt.interpret.Interpreter`) at every
  t = 1..1000, then the compiled body (:mod:`.simulate`, agreeing with the interpreter to 1e-13 on
  the first 200 steps, checked every time) at log-spaced t up to 10⁶ (10⁴ for closed forms that are
  sums over a gradient sequence). Rounding accumulates ~t·2⁻⁵³, so a correct formula lands near
  1e-11 at t = 10⁶; a wrong one is off by O(1/t) or more;
* mpmath at 50 digits, relative error ≤ 1e-40: the compiled body at t ∈ {1, 2, 3, 10, 25, 100,
  1000}, after agreeing with the 50-digit interpreter on t ≤ 25.

A check may carry a *hazard*: a known cancellation in float64 (centered RMSProp's v − m²) makes the
float64 arm fail for a correct formula. It is then labelled, reported as failing, and the 50-digit
arm is the authoritative one (:attr:`Check.hazard`).

The relative error of an observed value y against the closed form x is |y − x| / |x| (0 when both
are 0, ∞ when only x is); for the parameter w_t, which may pass through 0, it is
|y − x| / max(|x|, |w_0|). The effective learning rate is observed exactly: the parameter is reset to
0 before every step, so w_t = −η_t g_t with no cancellation (the states of a rule without weight
decay do not depend on w).

A limit L = lim_{t→∞} f(t) is checked on the closed form itself (already checked against the
interpreter): |f(T) − L| / max(|L|, |f(T₀)|) at T = 10⁶⁴, T₀ = 10², at 50 digits, ≤ 1e-10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..interpret import Interpreter, to_mpmath
from ..rules import UpdateRule, t
from ._result import Check, without_order_terms, worst_error
from . import simulate
from .gradients import INITIAL_PARAM, ConstantGradient, gradient_model, gseq, w0

FLOAT64_STEPS = 1000
FLOAT64_TOLERANCE = 1e-10
MPMATH_DPS = 50
MPMATH_STEPS = (1, 2, 3, 10, 25, 100, 1000)
INTERPRETER_MPMATH_STEPS = 25
MPMATH_TOLERANCE = 1e-40
LIMIT_FROM, LIMIT_MID, LIMIT_TO = 10**2, 10**32, 10**64
LIMIT_SHRINK = 0.9
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
    horizon: int | None = None,
) -> tuple[Check, Check]:
    """Compare ``expr`` (a function of t) with the rule run step by step: (float64 check, mpmath
    check). ``horizon`` is the last step of the float64 check (default: the model's, 10⁶ for
    closed forms without sums)."""
    values = dict(values or {})
    model = _sequence_model(gradient)
    items = tuple(sorted(values.items()))
    last = horizon or (model.long_horizon if not expr.has(sp.Sum) else min(model.long_horizon, 10**4))
    f64 = _float64_check(rule, observable, expr, items, model, last)
    mp = _mpmath_check(rule, observable, expr, items, model)
    if items:
        at = "; at " + ", ".join(f"{k} = {v}" for k, v in items)
        f64, mp = (replace(c, detail=c.detail + at) for c in (f64, mp))
    return f64, mp


def _float64_check(rule, observable, expr, items, model, last) -> Check:
    # Sums and Hurwitz zeta values cost O(t) / O(1 ms) each at 50 digits: log-spaced t for those.
    costly = expr.has(sp.Sum) or expr.has(sp.harmonic) or expr.has(sp.zeta)
    every = simulate.log_spaced_steps(FLOAT64_STEPS, 20) if costly else tuple(range(1, FLOAT64_STEPS + 1))
    observed = _simulate(rule, items, model, "float64", FLOAT64_STEPS)[observable.key]
    worst = _worst(rule, observable, expr, items, model, every, [observed[s - 1] for s in every], in_float64=True)
    detail = f"interpreter at {'every' if not costly else str(len(every)) + ' log-spaced'} t <= 1000"
    if last > FLOAT64_STEPS:
        agreement = _runner_agreement(rule, items, model, None)
        far = tuple(s for s in simulate.log_spaced_steps(last) if s > FLOAT64_STEPS)
        rows = _run_compiled(rule, items, model, last, far, None, observable)
        worst = worst_error(
            [
                worst,
                _worst(
                    rule, observable, expr, items, model, far, [rows[s][observable.key] for s in far], in_float64=True
                ),
            ]
        )
        if not agreement <= simulate.AGREEMENT_TOLERANCE:
            worst = float("inf")
        detail += (
            f"; compiled body at {len(far)} log-spaced t <= {last:.0e} (agrees with the interpreter to {agreement:.0e})"
        )
    return Check("interpreter-float64", (1, last), worst, FLOAT64_TOLERANCE, detail=detail)


def _mpmath_check(rule, observable, expr, items, model) -> Check:
    agreement = _runner_agreement(rule, items, model, MPMATH_DPS)
    rows = _run_compiled(rule, items, model, max(MPMATH_STEPS), MPMATH_STEPS, MPMATH_DPS, observable)
    worst = _worst(rule, observable, expr, items, model, MPMATH_STEPS, [rows[s][observable.key] for s in MPMATH_STEPS])
    if not agreement <= 1e-45:
        worst = float("inf")
    return Check(
        f"interpreter-mpmath-{MPMATH_DPS}",
        (MPMATH_STEPS[0], MPMATH_STEPS[-1]),
        worst,
        MPMATH_TOLERANCE,
        detail=f"compiled body at 50 digits, agrees with the 50-digit interpreter on t <= {INTERPRETER_MPMATH_STEPS} to {agreement:.0e}",
    )


def _worst(rule, observable, expr, items, model, steps, observed, in_float64: bool = False) -> float:
    """The largest relative error of the observed rows (one array per step) against ``expr``.

    ``in_float64``: the float64 arm, where a closed form with a sum over k ≤ t (O(t) terms at
    each t) is evaluated in float64 with every sum correctly rounded (``math.fsum``): its own error
    is then a few units in the last place of the terms, far below the arm's 1e-10, at a hundredth
    of the 50-digit cost (RMSProp with momentum: 17 s → 2 s). Everything else, and the mpmath arm,
    at 50 digits."""
    numbers = numeric_values(rule, dict(items), model)
    if in_float64 and expr.has(sp.Sum) and not expr.has(gseq):
        closed = _evaluate_float64(expr, steps, numbers)
        if closed is not None:
            floor = numbers[w0] if observable.kind == "param" else [0] * len(closed[0])
            with mpmath.workdps(MPMATH_DPS):
                if len(closed) != len(observed) or any(len(r) != len(o) for r, o in zip(closed, observed)):
                    return float("nan")
                return worst_error(
                    _relative_error(mpmath.mpf(y), mpmath.mpf(x), x0)
                    for row, seen in zip(closed, observed)
                    for x, y, x0 in zip(row, seen, floor)
                )
    with mpmath.workdps(MPMATH_DPS):
        closed = _evaluate(expr, steps, numbers, model)
        floor = numbers[w0] if observable.kind == "param" else [0] * len(closed[0])
        if len(closed) != len(observed) or any(len(row) != len(seen) for row, seen in zip(closed, observed)):
            return float("nan")  # nothing may go uncompared
        return worst_error(
            _relative_error(mpmath.mpf(y), x, x0)
            for row, seen in zip(closed, observed)
            for x, y, x0 in zip(row, seen, floor)
        )


@lru_cache(maxsize=128)
def _runner_agreement(rule, items, model, dps) -> float:
    """How far the compiled body is from the interpreter on the first steps (every element)."""
    grads = [model.scalar(i) for i in range(len(model.values))]
    steps = 200 if dps is None else INTERPRETER_MPMATH_STEPS
    # The reset run (w = 0 before each step) is what η_t is read from; the states do not depend on w.
    return simulate.disagreement_with_interpreter(rule, items, grads, list(INITIAL_PARAM), steps=steps, dps=dps)


def _run_compiled(rule, items, model, last, steps, dps, observable: Observable) -> dict[int, dict[str, list[Any]]]:
    """Per checkpoint: the observable, one value per element. η_t and the states come from the
    reset run (w = 0 before each step; the states of a rule without weight decay do not depend
    on w), the parameter from the run from w_0."""
    rows = _compiled_rows(rule, items, model, last, steps, dps, observable.kind != "param")
    return {s: {observable.key: [r[s][observable.key] for r in rows]} for s in steps}


@lru_cache(maxsize=128)
def _compiled_rows(rule, items, model, last, steps, dps, reset: bool) -> list[dict[int, dict[str, Any]]]:
    program = simulate.compile_body(rule, items)
    starts = INITIAL_PARAM[: len(model.values)]
    return [
        program.run(last, steps, model.scalar(i), 0.0 if reset else w, reset=reset, dps=dps)
        for i, w in enumerate(starts)
    ]


def check_limit(
    rule: UpdateRule,
    expr: sp.Expr,
    limit: sp.Expr,
    values: Mapping[str, Any] | None = None,
    gradient: str | ConstantGradient = "constant",
) -> Check:
    """Check lim_{t→∞} expr = limit by evaluating expr far out (see the module docstring).

    The error ``e(T) = |f(T) − L| / max(|L|, |f(T₀)|)`` must be at most the tolerance at T = 10⁶⁴
    *and still shrinking* there: e(10⁶⁴) ≤ 0.9 e(10³²), unless it is already at the 50-digit
    rounding floor (≤ 1e-40). Without the second condition a
    claimed limit that is merely small (1e-12 where the truth is 0) would pass, since the
    function itself is small far out; with it, a wrong L leaves a constant error that does not
    shrink. A non-finite value anywhere fails."""
    model = _sequence_model(gradient)
    numbers = numeric_values(rule, dict(values or {}), model)
    with mpmath.workdps(MPMATH_DPS):
        near = _evaluate(expr, (LIMIT_FROM,), numbers, model)[0]
        mid = _evaluate(expr, (LIMIT_MID,), numbers, model)[0]
        far = _evaluate(expr, (LIMIT_TO,), numbers, model)[0]
        target = _evaluate(limit, (LIMIT_TO,), numbers, model)[0]
        errors = []
        for x0, xm, x1, lim in zip(near, mid, far, target):
            if not all(mpmath.isfinite(v) for v in (x0, xm, x1, lim)):
                errors.append(float("nan"))
                continue
            scale = max(abs(lim), abs(x0))
            e_mid, e_far = (float(abs(x - lim) / scale) if scale else float(abs(x - lim)) for x in (xm, x1))
            reached = e_far <= MPMATH_TOLERANCE  # at the 50-digit rounding floor: the limit itself
            errors.append(e_far if reached or e_far <= LIMIT_SHRINK * e_mid else float("inf"))
    worst = worst_error(errors) if len(errors) == len(near) else float("nan")
    return Check(
        f"closed-form-mpmath-{MPMATH_DPS}",
        (LIMIT_FROM, LIMIT_TO),
        worst,
        LIMIT_TOLERANCE,
        detail=f"error at t = 1e64 relative to the value at t = 1e2, and still shrinking from t = 1e32 (x{LIMIT_SHRINK})",
    )


def statement_function(statement: sp.Eq, variable: sp.Symbol, numbers: Mapping[sp.Symbol, Any]) -> Any:
    """The right-hand side of ``statement`` (its ``O(·)`` terms dropped) as an mpmath function of
    ``variable``, every other symbol bound to ``numbers``: what a check compares with a
    simulation, so that it checks the very statement it certifies. A symbol without a number is
    a ``ValueError`` naming it (nothing is silently left symbolic)."""
    expr = for_mpmath(without_order_terms(sp.sympify(statement.rhs)))
    free = expr.free_symbols - {variable} - _bound_symbols(expr)
    missing = sorted(str(s) for s in free if s not in numbers)
    if missing:
        raise ValueError(f"no number for {', '.join(missing)} in the statement {statement}")
    bound = expr.xreplace(
        {
            s: sp.Float(mpmath.mpf(numbers[s]), MPMATH_DPS) if not isinstance(numbers[s], sp.Basic) else numbers[s]
            for s in free
        }
    )
    fn = sp.lambdify(variable, bound, modules="mpmath")

    def value(x: Any) -> Any:
        with mpmath.workdps(MPMATH_DPS):
            return fn(mpmath.mpf(x) if not isinstance(x, mpmath.mpf) else x)

    return value


# -- numbers ------------------------------------------------------------------------------------
def _sequence_model(gradient: Any) -> ConstantGradient:
    """The gradient model of a trajectory check: a gradient sequence (constant, power law, a
    given sequence); the quadratic and noise models have checks of their own."""
    model = gradient_model(gradient)
    if not isinstance(model, ConstantGradient):
        raise TypeError(f"a trajectory check needs a gradient sequence model; got {type(model).__name__}")
    return model


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


def _evaluate(
    expr: sp.Expr, steps: tuple[int, ...], numbers: Mapping[sp.Symbol, list[Any]], model: Any = None
) -> list[list[Any]]:
    """expr at each step, per element, in mpmath at the current precision. Generalised harmonic
    numbers are evaluated as H_t^{(q)} = ζ(q) − ζ(q, t + 1) (q ≠ 1); sums term by term, with an
    arbitrary sequence g[k] taken from the gradient model."""
    expr = for_mpmath(expr)
    sequence = expr.has(gseq)
    free = sorted(
        expr.free_symbols
        - {t, gseq.label}
        - {i for i in expr.free_symbols if isinstance(i, sp.Indexed)}
        - _bound_symbols(expr),
        key=lambda s: s.name,
    )
    missing = [s for s in free if s not in numbers]
    if missing:
        raise ValueError(f"no numeric value for {', '.join(map(str, missing))} in {expr}")
    args = (t, *free, gseq) if sequence else (t, *free)
    fn = sp.lambdify(args, expr, modules="mpmath")
    n = len(next(iter(numbers.values()))) if numbers else len(model.values)
    out = []
    for step in steps:
        t_value = int(step) if expr.has(sp.Sum) else mpmath.mpf(step)
        row = []
        for i in range(n):
            extra = (_Sequence(model.sequence_function(i)),) if sequence else ()
            row.append(_real_or_nan(fn, t_value, *(numbers[s][i] for s in free), *extra))
        out.append(row)
    return out


def _evaluate_float64(
    expr: sp.Expr, steps: tuple[int, ...], numbers: Mapping[sp.Symbol, list[Any]]
) -> list[list[float]] | None:
    """``expr`` at each step, per element, in float64 with each ``Sum`` as ``math.fsum`` of its
    terms; None when ``expr`` has a function ``math`` does not know (the caller evaluates it at
    50 digits then). A domain error or an overflow is NaN."""
    import types

    free = sorted(expr.free_symbols - {t} - _bound_symbols(expr), key=lambda s: s.name)
    if any(s not in numbers for s in free):
        return None
    try:
        fn = sp.lambdify((t, *free), expr, modules="math")
    except (NameError, TypeError, KeyError):
        return None
    fn.__globals__["builtins"] = types.SimpleNamespace(sum=math.fsum, range=range)
    n = len(next(iter(numbers.values())))
    values = {s: [float(x) for x in numbers[s]] for s in free}
    out = []
    for step in steps:
        row = []
        for i in range(n):
            try:
                row.append(float(fn(int(step), *(values[s][i] for s in free))))
            except (ValueError, ZeroDivisionError, OverflowError):
                row.append(math.nan)
            except (NameError, TypeError):
                return None
        out.append(row)
    return out


def _real_or_nan(fn, *args):
    """``fn(*args)``, or NaN where the statement has no real value there: a division by zero (a
    closed form's removable singularity, SGD's 1/(1 − μ) at μ = 1), a complex result (√ of a
    negative mean square at α > 1) — a check that meets one fails (NaN never passes)."""
    try:
        value = fn(*args)
    except (ZeroDivisionError, OverflowError):
        return mpmath.nan
    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else mpmath.nan
    return value


class _Sequence:
    """g[k] for lambdified sums: the model's sequence, converted exactly to mpmath."""

    def __init__(self, function):
        self._function = function

    def __getitem__(self, k):
        return mpmath.mpf(self._function(int(k)))


def _bound_symbols(expr: sp.Expr) -> set[sp.Symbol]:
    return {v for s in expr.atoms(sp.Sum) for v, *_ in s.limits}


def for_mpmath(expr: sp.Expr) -> sp.Expr:
    """``expr`` with H_x^{(q)} (q ≠ 1) rewritten as ζ(q) − ζ(q, x + 1), which mpmath evaluates
    (and complex infinity as NaN)."""

    def rewrite(h):
        n, q = h.args
        return sp.zeta(q) - sp.zeta(q, n + 1)

    rewritten = expr.replace(lambda e: isinstance(e, sp.harmonic) and len(e.args) == 2 and e.args[1] != 1, rewrite)
    return rewritten.xreplace({sp.zoo: sp.nan})  # complex infinity has no mpmath name; NaN fails every check


def _relative_error(observed: Any, exact: Any, floor: Any = 0) -> float:
    """|observed − exact| / max(|exact|, |floor|) (0 when both are 0, ∞ when only exact is); NaN
    when either side is not finite: a non-finite value certifies nothing, even where both agree."""
    if not mpmath.isfinite(observed) or not mpmath.isfinite(exact):
        return float("nan")
    scale = max(abs(exact), abs(floor))
    if scale == 0:
        return 0.0 if observed == 0 else float("inf")
    return float(abs(observed - exact) / scale)


@lru_cache(maxsize=64)
def _simulate(
    rule: UpdateRule, items: tuple, model: ConstantGradient, precision: str, steps: int
) -> dict[str, list[np.ndarray]]:
    """Run the interpreter for ``steps`` steps; per step: every state, η_t (reset run) and w_t."""
    values = dict(items)
    run = Interpreter(rule, precision=precision, dps=MPMATH_DPS, **values)
    as_array = (
        (lambda x: np.array(x, dtype=np.float64))
        if precision == "float64"
        else (lambda x: to_mpmath(np.array(x, dtype=np.float64), MPMATH_DPS))
    )
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
