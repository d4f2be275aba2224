"""Hyperparameters torch.optim accepts that make no sense: what goes wrong, derived and measured.

torch checks ranges loosely: RMSprop takes any ``alpha >= 0`` and any ``momentum >= 0``, SGD any
``momentum >= 0``. The table :data:`HAZARDS` lists the values at which the model's own closed
forms say the rule stops doing what its name says; :func:`hazards` returns, for a rule and its
hyperparameter values, each hazard that applies, with

* the derivation: the model's closed form of the state under a constant gradient g
  (:func:`symopt.derive.closed_forms.derive`, symbolic in the hyperparameters) with the hazardous
  value put in, and the consequence SymPy proves from it (a negative mean square, a buffer that
  grows without bound);
* a measurement by torch.optim itself, which must show the predicted symptom (``confirmed``):
  NaN after the first step, the first step's size η|g|/ε, the buffer's growth ratio μ.

``symopt derive`` prints them before the results (whose numeric checks such values may make fail:
a NaN never passes), ``symopt verify`` for every case of its matrix that hits one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from ..rules import UpdateRule

_delta = sp.Symbol("delta", positive=True)


@dataclass(frozen=True)
class Hazard:
    """One row of :data:`HAZARDS`: ``applies(values)`` on the torch keywords' values (defaults
    filled in); ``derive(rule, values)`` returns (statement, consequence) from the model's closed
    forms; ``measure(values)`` runs torch.optim and returns (confirmed, what it measured)."""

    id: str
    family: str
    keyword: str
    condition: str
    applies: Callable[[dict[str, Any]], bool]
    derive: Callable[[UpdateRule, dict[str, Any]], tuple[sp.Expr, str]]
    measure: Callable[[dict[str, Any]], tuple[bool, str]]


@dataclass(frozen=True)
class Found:
    """A hazard that applies: its derivation and torch's measurement."""

    hazard: Hazard
    value: Any
    statement: sp.Expr
    consequence: str
    confirmed: bool
    measured: str
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        h = self.hazard
        return (
            f"hazard {h.id}: {h.keyword}={self.value!r} ({h.condition}; torch accepts it). "
            f"{self.consequence} [{sp.sstr(self.statement)}]. torch.optim: {self.measured}"
            + ("" if self.confirmed else " (NOT the predicted symptom)")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.hazard.id,
            "keyword": self.hazard.keyword,
            "value": self.value,
            "condition": self.hazard.condition,
            "statement": sp.sstr(self.statement),
            "statement_latex": sp.latex(self.statement),
            "consequence": self.consequence,
            "confirmed": self.confirmed,
            "measured": self.measured,
        }


def _closed_form(rule: UpdateRule, values: dict[str, Any], suffix: str) -> sp.Eq:
    """The model's derived closed form ``<rule id>.<suffix>`` under a constant gradient, derived
    at harmless values of the rule's options (its statement is symbolic in them)."""
    from .closed_forms import derive

    options = {k: v for k, v in values.items() if k in ("momentum", "centered") and v}
    if "momentum" in options:
        options["momentum"] = 0.5  # any value in (0, 1) selects the same symbolic closed form
    found = [d for d in derive(rule, **options) if d.id.endswith("." + suffix)]
    if not found:
        raise LookupError(f"{rule.name} has no derived closed form '{suffix}'")
    return found[0].statement


def _symbol(rule: UpdateRule, keyword: str) -> sp.Symbol:
    return rule.hyperparameter(keyword).symbol


# -- RMSprop's alpha ------------------------------------------------------------------------------
def _alpha_above_one(rule: UpdateRule, values: dict[str, Any]) -> tuple[sp.Expr, str]:
    """v_t = g²(1 − α^t): with α = 1 + δ, δ > 0, v_1 = −δ g² < 0 for g ≠ 0, and |v_t| grows as α^t."""
    eq = _closed_form(rule, values, "square_avg")
    alpha = _symbol(rule, "alpha")
    t_sym = next(s for s in eq.rhs.free_symbols if s.name == "t")
    g = next(s for s in eq.rhs.free_symbols if s.name == "g")
    g_nz = sp.Symbol("g", real=True, nonzero=True)
    first = sp.simplify(eq.rhs.subs({alpha: 1 + _delta, t_sym: 1, g: g_nz}))
    if not first.is_negative:
        raise AssertionError(f"v_1 = {first} is not proven negative for alpha > 1")
    growth = sp.limit(
        eq.rhs.subs({alpha: 1 + _delta, g: g_nz}) / eq.rhs.subs({alpha: 1 + _delta, g: g_nz, t_sym: t_sym - 1}),
        t_sym,
        sp.oo,
    )
    statement = sp.Eq(eq.lhs, eq.rhs.subs(alpha, sp.nsimplify(values["alpha"])))
    return statement, (
        f"the mean square v_t = g²(1 − α^t) is negative from the first step (v_1 = {sp.sstr(first)} with "
        f"α = 1 + δ) and |v_t| grows by a factor {sp.sstr(growth)} per step: √v_t is NaN, so every "
        "param with a nonzero gradient becomes NaN at step 1"
    )


def _alpha_one(rule: UpdateRule, values: dict[str, Any]) -> tuple[sp.Expr, str]:
    """v_t = g²(1 − 1^t) = 0: the denominator is ε alone."""
    eq = _closed_form(rule, values, "square_avg")
    statement = sp.Eq(eq.lhs, sp.simplify(eq.rhs.subs(_symbol(rule, "alpha"), 1)))
    if statement.rhs != 0:
        raise AssertionError(f"v_t = {statement.rhs} at alpha = 1, not 0")
    return (
        statement,
        "the mean square stays 0 (v_t = 0 for every t): each step is η g/ε, the gradient divided by ε alone",
    )


def _torch_rmsprop_step(values: dict[str, Any], grad: float = 0.5) -> tuple[float, float]:
    import torch

    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    keywords = {k: v for k, v in values.items() if k in ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")}
    opt = torch.optim.RMSprop([w], foreach=False, **keywords)
    w.grad = torch.full_like(w, grad)
    opt.step()
    return float(w.detach()[0]), grad


def _measure_nan(values: dict[str, Any]) -> tuple[bool, str]:
    w1, _ = _torch_rmsprop_step(values)
    return math.isnan(w1), f"one step from w = 1 with g = 0.5 gives w = {w1!r}"


def _measure_over_eps(values: dict[str, Any]) -> tuple[bool, str]:
    w1, g = _torch_rmsprop_step(values)
    predicted = 1 - values["lr"] * g / values["eps"]  # with momentum too: b_1 = g/ε
    close = math.isfinite(w1) and abs(w1 - predicted) <= 1e-9 * max(1.0, abs(predicted))
    return close, f"one step from w = 1 with g = 0.5 gives w = {w1:.6g} (η g/ε predicts {predicted:.6g})"


# -- momentum ≥ 1 (SGD, RMSprop) -------------------------------------------------------------------
def _momentum_unbounded(suffix: str) -> Callable[[UpdateRule, dict[str, Any]], tuple[sp.Expr, str]]:
    def derive_it(rule: UpdateRule, values: dict[str, Any]) -> tuple[sp.Expr, str]:
        """b_t from the model with μ = 1 + δ (δ ≥ 0): lim b_t = ∞ · sign(g) — the buffer never settles."""
        eq = _closed_form(rule, values, suffix)
        mu = _symbol(rule, "momentum")
        t_sym = next(s for s in eq.rhs.free_symbols if s.name == "t")
        subs = {
            s: sp.nsimplify(values[name])
            for name, s in ((n, _symbol(rule, n)) for n in ("dampening",))
            if name in values and any(h.name == name for h in rule.hyperparameters)
        }
        g = next((s for s in eq.rhs.free_symbols if s.name == "g"), None)
        expr = eq.rhs.subs(subs)
        g_pos = sp.Symbol("g", positive=True)
        at = sp.nsimplify(values["momentum"])
        if at == 1:  # the closed form's 0/0 at μ = 1, resolved by its limit
            expr_at, rate = sp.limit(expr, mu, 1), "linearly in t"
        else:
            expr_at, rate = expr.subs(mu, at), f"as μ^t = ({sp.sstr(at)})^t"
        grown = sp.limit(expr_at.subs({g: g_pos}) if g is not None else expr_at, t_sym, sp.oo)
        if grown not in (sp.oo, -sp.oo) and not (isinstance(grown, sp.Mul) and sp.oo in grown.args):
            raise AssertionError(f"the buffer's limit is {grown}, not unbounded, at momentum = {at}")
        return sp.Eq(eq.lhs, sp.simplify(expr_at)), (
            f"under a constant gradient the momentum buffer grows without bound ({rate}; lim b_t = {sp.sstr(grown)} for g > 0): "
            "the steps never shrink and the params diverge"
        )

    return derive_it


def _measure_growth(optimizer: str, key: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    def measure(values: dict[str, Any]) -> tuple[bool, str]:
        import torch

        w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        names = {
            "SGD": ("lr", "momentum", "dampening", "weight_decay", "nesterov"),
            "RMSprop": ("lr", "alpha", "eps", "momentum", "centered"),
        }[optimizer]
        opt = getattr(torch.optim, optimizer)([w], foreach=False, **{k: v for k, v in values.items() if k in names})
        sizes = []
        for _ in range(40):
            w.grad = torch.full_like(w, 0.5)
            opt.step()
            sizes.append(abs(float(opt.state[w][key][0])))
        mu = values["momentum"]
        if mu == 1:  # b_t = b_{t-1} + (1 - dampening) g: equal increments, for ever
            early, late = sizes[20] - sizes[19], sizes[-1] - sizes[-2]
            ok = all(map(math.isfinite, sizes)) and early > 0 and abs(late - early) <= 1e-9 * early
            return (
                ok,
                f"|{key}| grows by {early:.4g} per step at step 20 and {late:.4g} at step 40 (linear, as derived)",
            )
        ratio = sizes[-1] / sizes[-2] if sizes[-2] else math.nan
        return (
            math.isfinite(ratio) and abs(ratio - mu) <= 0.05 * mu,
            f"|{key}| grows by {ratio:.4g} per step after 40 steps (predicted μ = {mu:g})",
        )

    return measure


#: every hazard symopt knows, as data: (torch keyword, the condition torch lets through)
HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        "rmsprop.alpha_above_1",
        "rmsprop",
        "alpha",
        "alpha > 1",
        lambda v: v.get("alpha", 0) > 1,
        _alpha_above_one,
        _measure_nan,
    ),
    Hazard(
        "rmsprop.alpha_1",
        "rmsprop",
        "alpha",
        "alpha = 1",
        lambda v: v.get("alpha", 0) == 1,
        _alpha_one,
        _measure_over_eps,
    ),
    # at momentum = 1 and dampening = 1 the buffer stays b_1 = g (no gradient enters after the first step)
    Hazard(
        "sgd.momentum_at_least_1",
        "sgd",
        "momentum",
        "momentum > 1, or = 1 with dampening < 1",
        lambda v: v.get("momentum", 0) > 1 or (v.get("momentum", 0) == 1 and v.get("dampening", 0) < 1),
        _momentum_unbounded("momentum_buffer"),
        _measure_growth("SGD", "momentum_buffer"),
    ),
)


def hazards(rule: UpdateRule, **values: Any) -> list[Found]:
    """The hazards of :data:`HAZARDS` that ``rule`` (its family) meets at the torch keywords'
    ``values`` (the rule's defaults fill the rest), each derived and measured."""
    full = {h.name: h.default for h in rule.hyperparameters}
    full.update(values)
    out = []
    for h in HAZARDS:
        if h.family != rule.family or h.keyword not in full or isinstance(full[h.keyword], bool):
            continue
        try:
            hit = h.applies(full)
        except TypeError:
            continue
        if not hit:
            continue
        statement, consequence = h.derive(rule, full)
        confirmed, measured = h.measure(full) if rule.dialect == "torch" else (True, "not run (not torch's dialect)")
        out.append(Found(h, full[h.keyword], statement, consequence, confirmed, measured))
    return out


__all__ = ["Found", "HAZARDS", "Hazard", "hazards"]
