"""Closed forms of a rule's state recurrences, its effective learning rate and that rate's limit,
derived from the model's one-step map (:meth:`UpdateRule.step_map`) under a gradient model.

For each state buffer x (AdaGrad's G, RMSProp's v, ...):

1. read its update from the step map with g → g_t (the gradient model), for t ≥ 2 (guards on t
   resolved) and for t = 1 separately (SGD's buffer is b_1 = g_1, not the recurrence from b_0);
2. recognise x_t = a x_{t−1} + c with constant a, c and solve it (:mod:`.recurrences`);
3. verify the solution by substitution, then check it numerically (:mod:`.checks`).

The effective learning rate η_t is defined by w_t = w_{t−1} − η_t g_t: from the step map,
η_t = (w_{t−1} − w_t) / g_t, with each state's new value and old value replaced by its closed form
at t and t − 1. Its limit t → ∞ is taken with every ratio a^t, 0 ≤ a < 1, written as (1 + ρ)^{−t},
ρ > 0, so that SymPy knows it vanishes; the limit is then checked numerically far out.

When the per-step increment of w has a closed-form sum, the parameter trajectory
w_t = w_0 − Σ_{k≤t} η_k g_k is derived too (SGD, the 1/t rule).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any

import sympy as sp

from .. import rules as _rules
from ..rules import UpdateRule, g, t, w
from ..rules._primitives import eta_t
from . import recurrences as R
from ._result import Assumption, Derivation
from .checks import Observable, check_closed_form, check_limit
from .gradients import ConstantGradient, gradient_model, w0

_k = sp.Symbol("k_shift", integer=True, positive=True)  # t = k + 1 ≥ 2 (not the summation index)
_rho = sp.Symbol("rho", positive=True)


class NotDerivable(ValueError):
    """The rule, with these options, has no closed form this module can derive."""


@dataclass(frozen=True)
class StateForm:
    """A state buffer's closed form with what a reader needs to follow it."""

    name: str
    symbol: sp.Symbol
    recurrence: R.LinearRecurrence
    solution: R.Solution
    update_latex: str


@dataclass(frozen=True)
class SymbolicResults:
    """Everything symbolic about one rule, option set and gradient model (cached)."""

    states: tuple[StateForm, ...]
    lr: sp.Expr | None
    lr_raw: sp.Expr | None
    lr_limit: sp.Expr | None
    trajectory: sp.Expr | None
    below_one: tuple[sp.Symbol, ...]
    options: tuple[str, ...]
    skipped: tuple[str, ...]


# -- the public entry point ---------------------------------------------------------------------
def derive(
    rule: UpdateRule | str,
    gradient: str | ConstantGradient = "constant",
    *,
    dialect: str | None = None,
    **hyperparameter_values: Any,
) -> list[Derivation]:
    """Every closed form of ``rule`` under ``gradient``, each checked against the interpreter.

    ``rule`` is an :class:`UpdateRule` or a family name (``"adagrad"``; ``dialect`` picks the
    dialect). ``hyperparameter_values`` (torch.optim keywords) decide the rule's options (momentum,
    centered, ...) and are the values of the numeric checks; the closed forms stay symbolic.
    """
    rule = _as_rule(rule, dialect)
    rule.values(**hyperparameter_values)  # validate, with torch's messages
    model = gradient_model(gradient)
    try:
        key = (rule, model, tuple(sorted(hyperparameter_values.items())))
        hash(key)
    except TypeError:  # an unhashable value: derive afresh
        return _derive(rule, model, dict(hyperparameter_values))
    if key not in _MEMO:
        _MEMO[key] = tuple(_derive(rule, model, dict(hyperparameter_values)))
    return list(_MEMO[key])


#: derive()'s results in this process, by (rule, gradient model, hyperparameter values): every
#: Derivation is immutable and its checks are deterministic, so the report, the claims, the CLI and
#: the tests share one computation (clear it with ``_MEMO.clear()``).
_MEMO: dict[tuple, tuple[Derivation, ...]] = {}


#: families whose constant-gradient closed forms have their own module (a reduction over the
#: tensor: the element-by-element runs of this one do not apply) -> that module
OWN_CLOSED_FORMS = {"adagrad_norm": "symopt.derive.adagrad_norm"}


def _derive(rule: UpdateRule, model, hyperparameter_values: dict[str, Any]) -> list[Derivation]:
    if model.name in ("quadratic", "noise"):
        from .analyses import analyses

        return analyses(rule.family, rule.dialect, model.name)
    if rule.family in OWN_CLOSED_FORMS:
        if model.name != "constant":
            raise ValueError(f"{rule.name}: closed forms under the constant gradient only; got gradient {model.name!r}")
        import importlib

        return importlib.import_module(OWN_CLOSED_FORMS[rule.family]).derivations(rule, **hyperparameter_values)
    symbolic = symbolic_results(rule, tuple(sorted(hyperparameter_values.items())), model)
    values = dict(hyperparameter_values)
    base = _assumptions(symbolic, model)
    prefix = f"{rule.family}.{rule.dialect}" + "".join(f"+{k}={v}" for k, v in sorted(values.items()))
    checked = check_values(rule, symbolic, values)
    out: list[Derivation] = []
    for form in symbolic.states:
        out.append(_state_derivation(rule, form, checked, model, base, prefix))
    if symbolic.lr is not None:
        out.append(_lr_derivation(rule, symbolic, checked, model, base, prefix))
        if symbolic.lr_limit is not None:
            out.append(_limit_derivation(rule, symbolic, checked, model, base, prefix))
    if symbolic.trajectory is not None:
        out.append(_trajectory_derivation(rule, symbolic, checked, model, base, prefix))
    if model.name == "powerlaw" and not values:
        from .analyses import analyses

        out += analyses(rule.family, rule.dialect, "powerlaw")
    return out


#: the value the numeric checks give a hyperparameter that is 0 by default, appears in a closed
#: form and decides no guard (Adagrad's G_0 and lr_decay, SGD's dampening): at 0 every term it
#: multiplies vanishes, so a wrong term there would pass
GENERIC_VALUE = 0.1


def check_values(rule: UpdateRule, symbolic: SymbolicResults, values: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameter values of the numeric checks: ``values``, and :data:`GENERIC_VALUE` for
    every hyperparameter the user left at a default of 0 that appears in a closed form and in
    no guard (the closed forms are symbolic in it, so any value checks them)."""
    guarded = set().union(*(a.when.free_symbols for a in rule.body), *(s.when.free_symbols for s in rule.states))
    forms = [f.solution.expr for f in symbolic.states] + [
        e for e in (symbolic.lr, symbolic.lr_limit, symbolic.trajectory) if e is not None
    ]
    appearing = set().union(*(e.free_symbols for e in forms)) if forms else set()
    out = dict(values)
    for h in rule.hyperparameters:
        if h.is_flag or h.name in values or h.symbol in guarded or h.symbol not in appearing or h.default != 0:
            continue
        out[h.name] = min(max(GENERIC_VALUE, h.minimum), h.maximum)
    return out


def _as_rule(rule: UpdateRule | str, dialect: str | None) -> UpdateRule:
    if isinstance(rule, UpdateRule):
        if dialect is not None and dialect != rule.dialect:
            raise ValueError(f"dialect={dialect!r} given with the rule {rule.name}; pass one or the other")
        return rule
    return _rules.get(rule, dialect)


# -- the symbolic part --------------------------------------------------------------------------
@lru_cache(maxsize=None)
def symbolic_results(rule: UpdateRule, items: tuple, model: ConstantGradient) -> SymbolicResults:
    """The closed forms of ``rule`` with options ``items`` under ``model`` (no numeric check)."""
    values = dict(items)
    step = {sym: expr.xreplace({g: model.at(t)}) for sym, expr in rule.step_map(**values).items()}
    states = [s for s in rule.states if s.symbol in step]
    for s in states:
        if step[s.symbol].has(w):
            raise NotDerivable(
                f"{rule.name}: the update of {s.name} depends on the parameter w (weight decay?); "
                "closed forms under a gradient model need weight_decay=0"
            )
    forms: dict[sp.Symbol, StateForm] = {}
    skipped: list[str] = []
    pending = list(states)
    while pending:
        progress = False
        for s in list(pending):
            form = _solve_state(s, step, forms)
            if form is None:
                continue
            forms[s.symbol] = form
            pending.remove(s)
            progress = True
        if not progress:
            skipped += [
                f"{s.name}: its update is not a first-order linear recurrence with constant coefficients"
                for s in pending
            ]
            break
    lr_raw, lr = _effective_lr(step, forms, model)
    below_one = _ratios_below_one(lr) if lr is not None else ()
    # SymPy's limits of sums are not trusted (limit(harmonic(t, 1/2), t, oo) = zeta(1/2) in 1.14):
    # under a varying gradient the limits and leading terms come from .asymptotics instead.
    limit = _limit(lr, below_one) if lr is not None and model.is_constant else None
    if lr is not None and limit is None:
        skipped.append("lim η_t: not taken by SymPy here (see the asymptotic results)")
    trajectory = _trajectory(lr, model, below_one) if lr is not None and model.is_constant else None
    return SymbolicResults(
        states=tuple(forms.values()),
        lr=lr,
        lr_raw=lr_raw,
        lr_limit=limit,
        trajectory=trajectory,
        below_one=below_one,
        options=_options(rule, values),
        skipped=tuple(skipped),
    )


def after_first_step(expr: sp.Expr) -> sp.Expr:
    """``expr`` for t ≥ 2: guards on t (``Eq(t, 1)``, ``t > 1``) resolved by writing t = k + 1, k ≥ 1."""
    return expr.subs(t, _k + 1).subs(_k, t - 1)


def _solve_state(state, step, forms: dict[sp.Symbol, StateForm]) -> StateForm | None:
    x = state.symbol
    update = step[x]
    others = {f.symbol: f.solution.expr.subs(t, t - 1) for f in forms.values()}
    if any(s in update.free_symbols for s in set(step) - {x} - set(forms)):
        return None  # depends on a state not solved yet
    later = after_first_step(update).xreplace(others)
    first = update.subs(t, 1).xreplace({f.symbol: f.recurrence.initial for f in forms.values()})
    if R._is_zero(first - later.subs(t, 1)):
        start, initial = 0, state.initial
    else:
        start, initial = 1, sp.simplify(first.xreplace({x: state.initial}))
    try:
        recurrence = R.as_linear(later, x, start, initial, varying=True)
    except R.NotLinear:
        return None
    solution = R.solve(recurrence)
    return StateForm(state.name, x, recurrence, solution, _recurrence_latex(x, later))


def _recurrence_latex(x: sp.Symbol, update: sp.Expr) -> str:
    now, before = sp.Symbol(f"{x.name}_t"), sp.Symbol(f"{x.name}_{{t-1}}")
    return rf"{sp.latex(now)} = {sp.latex(update.xreplace({x: before}))}"


def _effective_lr(step, forms: dict[sp.Symbol, StateForm], model) -> tuple[sp.Expr | None, sp.Expr | None]:
    """η_t = (w_{t−1} − w_t)/g_t with each state's new value (a subexpression of the step map)
    replaced by its closed form at t and each old value by the closed form at t − 1."""
    new = {step[s]: sp.Dummy(s.name) for s in forms if step[s] != s}
    raw = sp.simplify((w - step[w]) / model.at(t))
    increment = (w - step[w]).xreplace(new)
    closed = {d: forms[s].solution.expr for s in forms for e, d in new.items() if e == step[s]}
    increment = after_first_step(increment.xreplace(closed)).xreplace(
        {s: f.solution.expr.subs(t, t - 1) for s, f in forms.items()}
    )
    rate = increment / model.at(t)
    if rate.has(w) or any(s in rate.free_symbols for s in step if s is not w):
        return raw, None
    return raw, _tidy(rate)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """A short form: the simpler of ``expr``, ``cancel(expr)`` and ``simplify(expr)``."""
    candidates = [expr, sp.factor_terms(expr)]
    if expr.has(sp.Sum):
        # simplify on sums is slow and gains nothing here: sums are left as built.
        return min(candidates, key=sp.count_ops)
    try:
        candidates.append(sp.simplify(expr))
    except Exception:  # pragma: no cover - simplify is best effort
        pass
    return min(candidates, key=sp.count_ops)


def _ratios_below_one(expr: sp.Expr) -> tuple[sp.Symbol, ...]:
    """Symbols a with a power a^{t+c} in ``expr``: the closed forms assume 0 ≤ a < 1."""
    found = {p.base for p in expr.atoms(sp.Pow) if p.exp.has(t) and isinstance(p.base, sp.Symbol)}
    return tuple(sorted(found, key=lambda s: s.name))


def _limit(expr: sp.Expr, below_one: tuple[sp.Symbol, ...]) -> sp.Expr | None:
    """lim_{t→∞} expr, with a = 1/(1 + ρ) (ρ > 0) for each a in ``below_one`` and g ≠ 0."""
    g_nonzero = sp.Symbol("g_nz", real=True, nonzero=True)
    rewrites = {a: 1 / (1 + sp.Symbol(f"rho_{a.name}", positive=True)) for a in below_one}
    try:
        value = sp.limit(expr.xreplace(rewrites).xreplace({g: g_nonzero}), t, sp.oo)
    except (NotImplementedError, ValueError):  # pragma: no cover
        return None
    if value.has(sp.Limit) or value.has(sp.AccumBounds) or value is sp.nan:
        return None
    back = {sp.Symbol(f"rho_{a.name}", positive=True): (1 - a) / a for a in below_one}
    value = _tidy(value.xreplace(back).xreplace({g_nonzero: g}))
    # A shorter equal form: a^t → 0 first (checked equal to the limit above before it is used).
    vanished = expr.replace(
        lambda e: isinstance(e, sp.Pow) and e.base in below_one and e.exp.has(t), lambda e: sp.S.Zero
    )
    try:
        short = sp.limit(vanished, t, sp.oo)
    except (NotImplementedError, ValueError):  # pragma: no cover
        return value
    if sp.count_ops(short) < sp.count_ops(value) and _agree_at_sample_points(short, value, below_one):
        return short
    return value


def _agree_at_sample_points(a: sp.Expr, b: sp.Expr, below_one: tuple[sp.Symbol, ...]) -> bool:
    """Whether a and b agree to 30 digits at three sample points (ratios in (0, 1), other
    symbols in (0.1, 2.1), g of both signs)."""
    import random

    rng = random.Random(0)
    free = sorted((a.free_symbols | b.free_symbols) - {t}, key=lambda s: s.name)
    for sign in (1, -1, 1):
        point = {
            s: sp.Rational(rng.randint(1, 99), 100) if s in below_one else sp.Rational(rng.randint(10, 210), 100)
            for s in free
        }
        if g in point:
            point[g] *= sign
        x, y = sp.N(a.xreplace(point), 40), sp.N(b.xreplace(point), 40)
        if not (x.is_finite and y.is_finite) or abs(x - y) > 1e-30 * max(abs(x), abs(y), 1):
            return False
    return True


def _trajectory(lr: sp.Expr, model, below_one) -> sp.Expr | None:
    """w_t = w_0 − Σ_{k=1}^{t} η_k g_k when SymPy sums it in closed form (else None)."""
    j = sp.Symbol("j", integer=True, positive=True)
    term = (lr * model.at(t)).subs(t, j)
    total = sp.summation(term, (j, 1, t))
    if total.has(sp.Sum):
        return None
    total = _drop_branches(total, [sp.Eq(a, 1) for a in below_one] + [sp.Eq(a, 0) for a in below_one])
    return _tidy(w0 - total)


def _drop_branches(expr: sp.Expr, excluded: list[sp.Basic]) -> sp.Expr:
    """Remove Piecewise branches whose condition is one of ``excluded`` (cases the assumptions
    rule out, such as a = 1 when a formula divides by 1 − a)."""

    def keep(*pieces):
        kept = [(e, c) for e, c in pieces if c not in excluded]
        return sp.Piecewise(*kept)

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: keep(*e.args))


def _options(rule: UpdateRule, values: dict[str, Any]) -> tuple[str, ...]:
    """``name = value`` for each hyperparameter that a guard of the rule reads."""
    guarded = set().union(*(a.when.free_symbols for a in rule.body if a.when is not sp.true)) if rule.body else set()
    resolved = rule.values(**values)
    return tuple(f"{h.name} = {resolved[h.symbol]}" for h in rule.hyperparameters if h.symbol in guarded)


# -- assembling Derivations ---------------------------------------------------------------------
def _assumptions(symbolic: SymbolicResults, model) -> tuple[Assumption, ...]:
    out = [Assumption(f"gradient model: {model.name}", sp.Eq(sp.Symbol("g_t"), model.at(t)))]
    if symbolic.options:
        out.append(Assumption("options: " + ", ".join(symbolic.options)))
    return tuple(out)


def _ratio_assumptions(symbols) -> tuple[Assumption, ...]:
    return tuple(Assumption(f"0 <= {a} < 1 (the formula divides by 1 - {a})", sp.And(a >= 0, a < 1)) for a in symbols)


def _state_derivation(rule, form: StateForm, values, model, base, prefix) -> Derivation:
    rec, sol = form.recurrence, form.solution
    lhs = sp.Symbol(f"{form.symbol.name}_t")
    x_start = sp.Symbol(f"{form.symbol.name}_{rec.start}")
    steps = [
        rf"\text{{from the model: }} {form.update_latex}",
        rf"\text{{initial value: }} {sp.latex(x_start)} = {sp.latex(rec.initial)}"
        + (r"\text{ (the first step sets it)}" if rec.start == 1 else ""),
        rf"x_t = a\,x_{{t-1}} + c \text{{ with }} a = {sp.latex(rec.a)},\; c = {sp.latex(rec.c)}",
    ]
    if sol.fixed_point is not None:
        steps.append(
            rf"\text{{fixed point }} x^* = \frac{{c}}{{1-a}} = {sp.latex(sol.fixed_point)}, \quad x_t - x^* = a^{{{sp.latex(t - rec.start)}}} (x_{{{rec.start}}} - x^*)"
        )
    else:
        steps.append(
            rf"a = 1\text{{: }} x_t = x_{{{rec.start}}} + {sp.latex(t - rec.start)}\, c"
            if rec.start
            else r"a = 1\text{: } x_t = x_0 + t\, c"
        )
    steps.append(
        rf"\text{{solved by {sol.method}; substituted back: }} x_t - (a x_{{t-1}} + c) = 0,\; x_{{{rec.start}}} = {sp.latex(rec.initial)}"
    )
    observable = Observable("state", form.name)
    f64, mp = check_closed_form(rule, observable, sol.expr, values, model)
    ratio = _ratio_assumptions([rec.a] if isinstance(rec.a, sp.Symbol) else [])
    return _restatable_closed_form(
        rule,
        observable,
        values,
        model,
        Derivation(
            id=f"{prefix}.{form.name}",
            title=f"{rule.title} [{rule.dialect}]: closed form of {form.name} ({form.symbol.name}_t)",
            statement=sp.Eq(lhs, sol.expr),
            assumptions=base + ratio,
            steps=tuple(steps),
            check=f64,
            precision_checks=(mp,),
        ),
    )


def _restatable_closed_form(rule, observable, values, model, d: Derivation) -> Derivation:
    """``d`` with a :attr:`~Derivation.recheck` that checks another statement's right-hand side
    against the same interpreter runs (the hazard label of the float64 arm is kept)."""
    return replace(d, recheck=partial(_recheck_closed_form, rule, observable, values, model, d))


def _recheck_closed_form(rule, observable, values, model, d: Derivation, statement: sp.Eq) -> Derivation:
    f64, mp = check_closed_form(rule, observable, statement.rhs, values, model)
    return replace(d, statement=statement, check=replace(f64, hazard=d.check.hazard), precision_checks=(mp,))


def _recheck_limit(rule, values, model, lr: sp.Expr, d: Derivation, statement: sp.Eq) -> Derivation:
    return replace(d, statement=statement, check=check_limit(rule, lr, statement.rhs, values, model))


def _lr_derivation(rule, symbolic: SymbolicResults, values, model, base, prefix) -> Derivation:
    substituted = ", ".join(rf"{f.symbol.name}_t = {sp.latex(f.solution.expr)}" for f in symbolic.states)
    steps = [
        r"\text{definition: } w_t = w_{t-1} - \eta_t\, g_t",
        rf"\text{{from the model: }} \eta_t = \frac{{w_{{t-1}} - w_t}}{{g_t}} = {sp.latex(symbolic.lr_raw)}",
    ]
    if substituted:
        steps.append(rf"\text{{with the closed forms }} {substituted}")
    observable = Observable("lr")
    f64, mp = check_closed_form(rule, observable, symbolic.lr, values, model)
    hazard = cancellation_hazard(symbolic.lr_raw, tuple(f.symbol for f in symbolic.states))
    if hazard:
        f64 = replace(f64, hazard=hazard)
        base_expr = _cancelling_root(symbolic.lr_raw, tuple(f.symbol for f in symbolic.states))
        steps.append(
            rf"\text{{float64 hazard: cancellation in }} \sqrt{{{sp.latex(base_expr)}}}\text{{: float64 loses the digits }} v "
            r"\text{ and } m^2 \text{ share; the 50-digit check is authoritative}"
        )
    return _restatable_closed_form(
        rule,
        observable,
        values,
        model,
        Derivation(
            id=f"{prefix}.lr",
            title=f"{rule.title} [{rule.dialect}]: effective learning rate",
            statement=sp.Eq(eta_t, symbolic.lr),
            assumptions=base + _ratio_assumptions(symbolic.below_one),
            steps=tuple(steps),
            check=f64,
            precision_checks=(mp,),
        ),
    )


def cancellation_hazard(expr: sp.Expr | None, states: tuple[sp.Symbol, ...]) -> str:
    """A warning when ``expr`` takes the root of a difference of states (centered RMSProp's
    √(v − m²)): v and m² agree to many digits when the gradient hardly varies, so float64 loses
    them (the relative error of v − m² is ~ u v / (v − m²)), and rounding can even make it negative."""
    base = _cancelling_root(expr, states)
    return f"cancellation in sqrt({base}): float64 loses the digits v and m^2 share" if base is not None else ""


def _cancelling_root(expr: sp.Expr | None, states: tuple[sp.Symbol, ...]) -> sp.Expr | None:
    """The radicand of the first square root of a difference of states in ``expr``, or None."""
    if expr is None:
        return None
    for power in expr.atoms(sp.Pow):
        base = power.base
        if power.exp == sp.Rational(1, 2) and isinstance(base, sp.Add):
            positive = [a for a in base.args if a.free_symbols & set(states) and not a.could_extract_minus_sign()]
            negative = [a for a in base.args if a.free_symbols & set(states) and a.could_extract_minus_sign()]
            if positive and negative:
                return base
    return None


def _limit_derivation(rule, symbolic: SymbolicResults, values, model, base, prefix) -> Derivation:
    steps = [rf"\eta_t = {sp.latex(symbolic.lr)}"]
    if symbolic.below_one:
        names = ", ".join(sp.latex(a) for a in symbolic.below_one)
        steps.append(rf"{names} = 1/(1+\rho),\ \rho > 0 \text{{, so the powers in }} t \text{{ vanish}}")
    steps.append(r"g \ne 0;\ \text{limit by sympy.limit, checked at } t = 10^{64}")
    check = check_limit(rule, symbolic.lr, symbolic.lr_limit, values, model)
    d = Derivation(
        id=f"{prefix}.lr_limit",
        title=f"{rule.title} [{rule.dialect}]: limit of the effective learning rate",
        statement=sp.Eq(sp.Limit(eta_t, t, sp.oo), symbolic.lr_limit),
        assumptions=base + _ratio_assumptions(symbolic.below_one) + (Assumption("g != 0", sp.Ne(g, 0)),),
        steps=tuple(steps),
        check=check,
    )
    return replace(d, recheck=partial(_recheck_limit, rule, values, model, symbolic.lr, d))


def _trajectory_derivation(rule, symbolic: SymbolicResults, values, model, base, prefix) -> Derivation:
    steps = [
        r"w_t = w_0 - \sum_{k=1}^{t} \eta_k\, g_k",
        rf"\eta_k\, g_k = {sp.latex((symbolic.lr * model.at(t)).subs(t, sp.Symbol('k')))}",
        r"\text{summed by sympy.summation}",
    ]
    observable = Observable("param")
    f64, mp = check_closed_form(rule, observable, symbolic.trajectory, values, model)
    return _restatable_closed_form(
        rule,
        observable,
        values,
        model,
        Derivation(
            id=f"{prefix}.param",
            title=f"{rule.title} [{rule.dialect}]: parameter trajectory",
            statement=sp.Eq(sp.Symbol("w_t"), symbolic.trajectory),
            assumptions=base + _ratio_assumptions(symbolic.below_one),
            steps=tuple(steps),
            check=f64,
            precision_checks=(mp,),
        ),
    )
