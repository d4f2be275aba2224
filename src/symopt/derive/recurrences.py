"""First-order linear recurrences x_t = a x_{t-1} + c with constant a, c: recognising them in a
rule's one-step map, solving them, and checking a solution symbolically.

The solution (a ≠ 1, with the fixed point x* = c / (1 − a), from x_s at the first step s)::

    x_t = x* + a^{t−s} (x_s − x*)

and x_t = x_s + (t − s) c when a = 1. SymPy's ``rsolve`` is tried first; when it fails or its
answer does not satisfy the recurrence, the formula above is used. Either way the result is
verified by substitution before it is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..rules import t


class NotLinear(ValueError):
    """The update is not x_t = a x_{t-1} + c with a, c free of x and t."""


@dataclass(frozen=True)
class LinearRecurrence:
    """x_t = a x_{t-1} + c for t > start, with x_start = initial."""

    a: sp.Expr
    c: sp.Expr
    start: int
    initial: sp.Expr

    def rhs(self, previous: sp.Expr) -> sp.Expr:
        """a · previous + c."""
        return self.a * previous + self.c


@dataclass(frozen=True)
class Solution:
    """A verified closed form of a :class:`LinearRecurrence` and how it was obtained."""

    expr: sp.Expr
    method: str
    fixed_point: sp.Expr | None
    raw: sp.Expr


def as_linear(update: sp.Expr, x: sp.Symbol, start: int, initial: sp.Expr) -> LinearRecurrence:
    """Read ``update`` (the new value of ``x`` in terms of its old value ``x``) as a x + c.

    Raises :class:`NotLinear` when ∂update/∂x depends on x, or a or c depends on t.
    """
    a = sp.simplify(sp.diff(update, x))
    if a.has(x):
        raise NotLinear(f"the update of {x} is not linear in {x}: {update}")
    c = sp.simplify(update - a * x)
    if c.has(x) or a.has(t) or c.has(t):
        raise NotLinear(f"the update of {x} has coefficients that depend on t: {update}")
    return LinearRecurrence(a, c, start, initial)


def satisfies(recurrence: LinearRecurrence, expr: sp.Expr) -> bool:
    """Whether ``expr`` (a function of t) satisfies x_t − (a x_{t−1} + c) = 0 identically and
    x_start = initial."""
    residual = expr - recurrence.rhs(expr.subs(t, t - 1))
    initial = expr.subs(t, recurrence.start) - recurrence.initial
    return _is_zero(residual) and _is_zero(initial)


def _is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.powsimp(sp.expand(expr), force=True)) == 0


def solve(recurrence: LinearRecurrence) -> Solution:
    """The closed form of ``recurrence``, verified (see the module docstring)."""
    return _solve_cached(recurrence)


@lru_cache(maxsize=None)
def _solve_cached(recurrence: LinearRecurrence) -> Solution:
    raw, method = _rsolve(recurrence), "sympy.rsolve"
    if raw is None or not satisfies(recurrence, raw):
        raw, method = _linear_formula(recurrence), "the first-order linear formula"
    fixed = fixed_point(recurrence)
    tidy = raw
    if fixed is not None:
        candidate = _fixed_point_form(recurrence, fixed)
        if _is_zero(candidate - raw):
            tidy = candidate
    if not satisfies(recurrence, tidy):  # pragma: no cover - would be a SymPy bug
        raise ArithmeticError(f"no verified closed form for {recurrence}")
    return Solution(tidy, method, fixed, raw)


def _rsolve(recurrence: LinearRecurrence) -> sp.Expr | None:
    x = sp.Function("x")
    equation = x(t) - recurrence.rhs(x(t - 1))
    try:
        return sp.rsolve(equation, x(t), {x(recurrence.start): recurrence.initial})
    except (ValueError, NotImplementedError, TypeError):  # pragma: no cover - rsolve gave up
        return None


def _linear_formula(recurrence: LinearRecurrence) -> sp.Expr:
    """x_s + (t − s) c when a = 1, else a^{t−s} x_s + c (1 − a^{t−s}) / (1 − a)."""
    a, c, s, x_s = recurrence.a, recurrence.c, recurrence.start, recurrence.initial
    if a == 1:
        return x_s + (t - s) * c
    return a ** (t - s) * x_s + c * (1 - a ** (t - s)) / (1 - a)


def fixed_point(recurrence: LinearRecurrence) -> sp.Expr | None:
    """x* solving x = a x + c (None when a = 1: there is none)."""
    if recurrence.a == 1:
        return None
    x = sp.Dummy("x")
    (root,) = sp.solve(sp.Eq(x, recurrence.rhs(x)), x)
    return prefer_one_minus(sp.apart(sp.together(root), recurrence.a) if recurrence.a.is_Symbol else root, recurrence.a)


def _fixed_point_form(recurrence: LinearRecurrence, fixed: sp.Expr) -> sp.Expr:
    """x* (1 − a^{t−s}) when x_s = 0, else x* + a^{t−s} (x_s − x*)."""
    power = recurrence.a ** (t - recurrence.start)
    offset = sp.simplify(recurrence.initial - fixed)
    if recurrence.initial == 0:
        return fixed * (1 - power)
    return fixed + power * prefer_one_minus(offset, recurrence.a)


def prefer_one_minus(expr: sp.Expr, a: sp.Expr) -> sp.Expr:
    """Write 1/(a − 1) as −1/(1 − a), the way the literature writes these factors."""
    if not isinstance(a, sp.Symbol):
        return expr
    return expr.xreplace({1 / (a - 1): -1 / (1 - a), 1 / (a - 1) ** 2: 1 / (1 - a) ** 2})
