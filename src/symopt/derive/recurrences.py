"""First-order linear recurrences x_t = a x_{t-1} + c with constant a, c: recognising them in a
rule's one-step map, solving them, and checking a solution symbolically.

The solution (a ≠ 1, with the fixed point x* = c / (1 − a), from x_s at the first step s)::

    x_t = x* + a^{t−s} (x_s − x*)

and x_t = x_s + (t − s) c when a = 1. SymPy's ``rsolve`` is tried first; when it fails or its
answer does not satisfy the recurrence, the formula above is used. Either way the result is
verified by substitution before it is returned.

When c = c_t depends on t (a gradient sequence; a is still constant), ``rsolve`` fails (it needs
hypergeometric terms; an arbitrary g_k² is not one) and the solution is the sum

    x_t = a^{t−s} x_s + Σ_{k=s+1}^{t} a^{t−k} c_k,

with Σ_{k=1}^{t} k^{−q} written as the generalised harmonic number H_t^{(q)} when a = 1. Such a
solution is verified by substitution at t = s+1, …, s+6 (the sums expanded).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..rules import t


#: The index of the sums in closed forms (Σ_{n=1}^{t}, the post's letter).
SUMMATION_INDEX = sp.Symbol("n", integer=True, positive=True)


class NotLinear(ValueError):
    """The update is not x_t = a x_{t-1} + c with a, c free of x and t."""


@dataclass(frozen=True)
class LinearRecurrence:
    """x_t = a x_{t-1} + c for t > start, with x_start = initial."""

    a: sp.Expr
    c: sp.Expr
    start: int
    initial: sp.Expr

    @property
    def varying(self) -> bool:
        """Whether c depends on t (a gradient sequence): the solution is then a sum."""
        return self.c.has(t)

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


def as_linear(update: sp.Expr, x: sp.Symbol, start: int, initial: sp.Expr, varying: bool = False) -> LinearRecurrence:
    """Read ``update`` (the new value of ``x`` in terms of its old value ``x``) as a x + c.

    Raises :class:`NotLinear` when ∂update/∂x depends on x, or a depends on t, or (unless
    ``varying``) c depends on t.
    """
    a = sp.simplify(sp.diff(update, x))
    if a.has(x):
        raise NotLinear(f"the update of {x} is not linear in {x}: {update}")
    c = sp.simplify(update - a * x)
    if c.has(x) or a.has(t) or (c.has(t) and not varying):
        raise NotLinear(f"the update of {x} has coefficients that depend on t: {update}")
    return LinearRecurrence(a, c, start, initial)


def satisfies(recurrence: LinearRecurrence, expr: sp.Expr) -> bool:
    """Whether ``expr`` (a function of t) satisfies x_t − (a x_{t−1} + c) = 0 identically and
    x_start = initial."""
    if recurrence.varying or expr.has(sp.Sum):
        return _satisfies_at_small_t(recurrence, expr)
    residual = expr - recurrence.rhs(expr.subs(t, t - 1))
    initial = expr.subs(t, recurrence.start) - recurrence.initial
    return _is_zero(residual) and _is_zero(initial)


def _satisfies_at_small_t(recurrence: LinearRecurrence, expr: sp.Expr, count: int = 6) -> bool:
    """The recurrence and the initial value checked at t = s, …, s + count with sums expanded."""
    s = recurrence.start

    def at(step: int) -> sp.Expr:
        return sp.expand_func(expr.subs(t, step).doit())

    if not _is_zero(at(s) - recurrence.initial):
        return False
    for step in range(s + 1, s + count + 1):
        if not _is_zero(at(step) - (recurrence.a * at(step - 1) + recurrence.c.subs(t, step))):
            return False
    return True


def _is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.powsimp(sp.expand(expr), force=True)) == 0


def solve(recurrence: LinearRecurrence) -> Solution:
    """The closed form of ``recurrence``, verified (see the module docstring)."""
    return _solve_cached(recurrence)


@lru_cache(maxsize=None)
def _solve_cached(recurrence: LinearRecurrence) -> Solution:
    if recurrence.varying:
        raw = _varying_formula(recurrence)
        if not satisfies(recurrence, raw):  # pragma: no cover - would be a bug of the formula
            raise ArithmeticError(f"no verified closed form for {recurrence}")
        return Solution(raw, "the first-order linear formula (a sum over the gradient sequence)", None, raw)
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


def _varying_formula(recurrence: LinearRecurrence) -> sp.Expr:
    """a^{t−s} x_s + Σ_{k=s+1}^{t} a^{t−k} c_k (a harmonic number where the sum is Σ k^{−q})."""
    a, s, x_s = recurrence.a, recurrence.start, recurrence.initial
    k = SUMMATION_INDEX
    return a ** (t - s) * x_s + closed_sum(a ** (t - k) * recurrence.c.subs(t, k), k, s + 1, t)


def closed_sum(term: sp.Expr, k: sp.Symbol, lo: int, hi: sp.Expr) -> sp.Expr:
    """Σ_{k=lo}^{hi} term, with C Σ k^{−q} written as C (H_hi^{(q)} − H_{lo−1}^{(q)}).

    Anything else stays an unevaluated ``Sum``: SymPy's ``summation`` of α^{t−k} k^{−q} runs for
    seconds and then fails inside ``solve``, and a sum over an arbitrary sequence has no closed form.
    """
    coeff, rest = term.as_independent(k, as_Add=False)
    if rest == 1:
        return coeff * (hi - lo + 1)
    if isinstance(rest, sp.Pow) and rest.base == k and rest.exp.is_Rational and rest.exp < 0:
        q = -rest.exp
        return coeff * (sp.harmonic(hi, q) - sp.harmonic(lo - 1, q))
    return coeff * sp.Sum(rest, (k, lo, hi))


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
