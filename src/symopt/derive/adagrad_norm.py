"""AdaGrad-Norm's closed forms under a constant gradient tensor (``symopt derive adagrad_norm``).

The accumulator sums the squared norm of the whole tensor, so the element-by-element machinery of
:mod:`symopt.derive.closed_forms` (one scalar run per element) does not apply: here the gradient is
one constant tensor g with S = ‖g‖² = Σᵢ gᵢ², and every check runs the interpreter on that tensor
whole. From the model's one-step map, with B_t the accumulator after step t:

* ``adagrad_norm.torch.sum``: B_t = B_0 + t S (the recurrence B_t = B_{t−1} + S, solved);
* ``adagrad_norm.torch.lr``: the step size every element takes, η_t = η / (√(B_0 + t S) + ε),
  so that w_t = w_{t−1} − η_t g;
* ``adagrad_norm.torch.lr_limit``: √t η_t → η/√S = η/‖g‖ (the 1/√t decay of AdaGrad, with the
  norm of the whole tensor where AdaGrad has each element's |gᵢ|).
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import rules
from ..interpret import Interpreter, to_mpmath
from ..rules import UpdateRule, g, t, tensor_sum, w
from ._result import Assumption, Check, Derivation, worst_error

#: the constant gradient tensor of the checks (scales 1e-3..3), and the hyperparameters at which
#: they run unless given (every term of the update matters at these: B_0, ε, η)
GRADIENT = (0.5, -2.0, 1e-3, 3.0, -0.25, 1.0)
CHECK_VALUES = {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}
STEPS = 1000
MPMATH_STEPS = 200
FLOAT64_TOLERANCE, MPMATH_TOLERANCE = 1e-10, 1e-40
#: S = ‖g‖², the squared norm of the constant gradient tensor
S = sp.Symbol("S", positive=True)


def _symbols(rule: UpdateRule) -> dict[str, sp.Symbol]:
    return {h.name: h.symbol for h in rule.hyperparameters} | {"sum": rule.state("sum").symbol}


def _step(rule: UpdateRule, **values: Any) -> dict[sp.Symbol, sp.Expr]:
    """The model's one-step map with the squared norm as the symbol S."""
    return {k: v.xreplace({tensor_sum(g**2): S}) for k, v in rule.step_map(**values).items()}


def closed_forms(rule: UpdateRule) -> dict[str, sp.Expr]:
    """B_t, η_t and lim √t η_t, derived from the model: the accumulator's recurrence solved with
    ``rsolve``, the step size read off the parameter's update at B_{t−1}, the limit by SymPy."""
    names = _symbols(rule)
    B, B0, eta = names["sum"], names["initial_accumulator_value"], names["lr"]
    step = _step(rule)
    seq = sp.Function("B")
    increment = sp.simplify(step[B] - B)
    if increment.has(B):
        raise ValueError(f"{rule.name}: the accumulator's update {step[B]} is not B + (a constant)")
    solved = sp.rsolve(seq(t) - seq(t - 1) - increment, seq(t), {seq(0): B0})
    if solved is None:
        raise ValueError(f"{rule.name}: rsolve found no closed form for B_t")
    before = sp.expand(solved.subs(t, t - 1))
    lr_t = sp.simplify(-(step[w] - w).xreplace({B: before}) / g)
    limit = sp.limit(sp.sqrt(t) * lr_t, t, sp.oo)
    return {"sum": sp.expand(solved), "lr": lr_t, "lr_limit": sp.simplify(limit), "eta": eta}


def _run(rule: UpdateRule, values: dict[str, Any], steps: int, precision: str) -> tuple[list[Any], list[Any]]:
    """The interpreter on the constant gradient tensor: per step, B_t and the step size read off
    a step from w = 0 (w_t = −η_t g: one rounding)."""
    run = Interpreter(rule, precision=precision, **values)
    grad = np.array(GRADIENT)
    zero = np.zeros(len(GRADIENT))
    if precision == "mpmath":
        grad, zero = to_mpmath(grad), to_mpmath(zero)
    state = run.init_state(zero.copy())
    sums, rates = [], []
    for _ in range(steps):
        param = zero.copy()
        run.step(param, grad, state)
        sums.append(state["sum"][()])
        rates.append([-p / q for p, q in zip(param, grad)])
    return sums, rates


def _rel(a: Any, b: Any) -> float:
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return float(abs(a - b) / abs(b)) if b != 0 else float(abs(a - b))


def _evaluate(expr: sp.Expr, rule: UpdateRule, values: dict[str, Any], at: int) -> Any:
    names = _symbols(rule)
    numbers = {names[k]: sp.Float(v, 60) for k, v in values.items() if k in names}
    numbers[S] = sp.Float(sum(sp.Rational(x) ** 2 for x in GRADIENT), 60)  # the floats exactly
    value = sp.N(expr.xreplace(numbers).subs(t, at), 55)
    return mpmath.mpf(str(value)) if value.is_real else mpmath.nan


def _checks(rule: UpdateRule, key: str, expr: sp.Expr, values: dict[str, Any]) -> tuple[Check, Check]:
    """The interpreter (float64 at every t ≤ 1000, 50 digits at t ≤ 200) against ``expr``."""
    out = []
    for precision, steps, tolerance in (
        ("float64", STEPS, FLOAT64_TOLERANCE),
        ("mpmath", MPMATH_STEPS, MPMATH_TOLERANCE),
    ):
        with mpmath.workdps(50):
            sums, rates = _run(rule, values, steps, precision)
            errors = []
            for k in range(1, steps + 1):
                closed = _evaluate(expr, rule, values, k)
                seen = [sums[k - 1]] if key == "sum" else rates[k - 1]
                errors += [_rel(x, closed) if mpmath.isfinite(closed) else math.nan for x in seen]
        method = "interpreter-float64" if precision == "float64" else "interpreter-mpmath-50"
        detail = f"the whole tensor g = {GRADIENT} (S = {sum(x * x for x in GRADIENT):.6g}) at every t"
        out.append(Check(method, (1, steps), worst_error(errors), tolerance, detail=detail))
    return out[0], out[1]


def _limit_check(expr: sp.Expr, limit: sp.Expr, rule: UpdateRule, values: dict[str, Any]) -> Check:
    """√t η_t at t = 10³² and 10⁶⁴ (50 digits) against the limit: within 1e-10 at 10⁶⁴ and still
    shrinking (or at the rounding floor)."""
    with mpmath.workdps(50):
        target = _evaluate(limit, rule, values, 1)
        far = [_rel(_evaluate(sp.sqrt(t) * expr, rule, values, 10**k), target) for k in (32, 64)]
    shrinking = far[1] <= 0.9 * far[0] or far[1] <= 1e-40
    return Check(
        "closed-form-mpmath-50",
        (10**32, 10**64),
        far[1] if shrinking else math.inf,
        1e-10,
        detail=f"sqrt(t) eta_t against the limit: error {far[0]:.1e} at 1e32, {far[1]:.1e} at 1e64",
    )


def derivations(rule: UpdateRule | None = None, **values: Any) -> list[Derivation]:
    """The three closed forms of AdaGrad-Norm under a constant gradient tensor, each checked."""
    rule = rule or rules.adagrad_norm()
    forms = closed_forms(rule)
    checked = {**CHECK_VALUES, **values}
    rule.values(**checked)  # torch's checks, with torch's messages
    names = _symbols(rule)
    B = sp.Symbol("B_t")
    lr = sp.Symbol("eta_t")
    prefix = f"{rule.family}.{rule.dialect}" + "".join(f"+{k}={v}" for k, v in sorted(values.items()))
    assume = (
        Assumption("a constant gradient tensor g, S = ||g||^2 = sum_i g_i^2 > 0", S > 0),
        Assumption("weight decay 0 (the gradient does not depend on w)"),
    )
    at = ", ".join(f"{k} = {v:g}" for k, v in checked.items())

    def made(key: str, title: str, statement: sp.Eq, steps: tuple[str, ...], why: str) -> Derivation:
        def recheck(other: sp.Eq) -> Derivation:
            return made(key, title, other, steps, why)

        if key == "lr_limit":
            check = _limit_check(forms["lr"], statement.rhs, rule, checked)
            extra: tuple[Check, ...] = ()
        else:
            check, mp = _checks(rule, key, statement.rhs, checked)
            extra = (mp,)
        check = Check(check.method, check.t_range, check.max_rel_err, check.tolerance, check.detail + f"; at {at}")
        return Derivation(
            id=f"{prefix}.{key}",
            title=title,
            statement=statement,
            assumptions=assume,
            steps=steps,
            check=check,
            precision_checks=extra,
            explanation=why,
            recheck=recheck,
        )

    b0 = sp.latex(names["initial_accumulator_value"])
    return [
        made(
            "sum",
            "The accumulated squared norm",
            sp.Eq(B, forms["sum"]),
            (r"B_t = B_{t-1} + \lVert g \rVert^2 = B_{t-1} + S", rf"B_t = {b0} + S\,t"),
            "Every step adds the whole tensor's squared norm, the same number for a constant gradient.",
        ),
        made(
            "lr",
            "The step size every element takes",
            sp.Eq(lr, forms["lr"]),
            (r"w_t = w_{t-1} - \eta\, g / (\sqrt{B_t} + \epsilon)", rf"\eta_t = {sp.latex(forms['lr'])}"),
            "One step size for the whole tensor: the elements' own magnitudes do not enter, only the norm.",
        ),
        made(
            "lr_limit",
            "Its asymptotic decay",
            sp.Eq(sp.Limit(sp.sqrt(t) * lr, t, sp.oo), forms["lr_limit"]),
            (rf"\sqrt{{t}}\,\eta_t \to {sp.latex(forms['lr_limit'])}",),
            "The step size decays as 1/sqrt(t), scaled by the inverse norm of the gradient tensor.",
        ),
    ]


__all__ = ["CHECK_VALUES", "GRADIENT", "S", "closed_forms", "derivations"]
