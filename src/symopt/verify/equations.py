"""Equation-level verification: compare one-step maps symbolically.

:func:`compare_dialects` puts a family's textbook form beside torch's: for each quantity both
update (the parameter, the accumulator), the exact difference of the two one-step maps, written in
the *torch* state (so the difference is what one step of the post's formula would do differently
from the same starting point).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import rules


@dataclass(frozen=True)
class EquationComparison:
    """``left`` and ``right`` one-step maps of one quantity, and ``difference = left − right``."""

    family: str
    quantity: str
    left: sp.Expr
    right: sp.Expr
    difference: sp.Expr
    names: tuple[str, str] = ("textbook", "torch")

    @property
    def identical(self) -> bool:
        return self.difference == 0

    def describe(self) -> str:
        left, right = self.names
        if self.identical:
            return f"{self.family}: {self.quantity}: {left} and {right} updates are identical"
        return f"{self.family}: {self.quantity}: {left} − {right} = {sp.sstr(self.difference)}"


def compare_dialects(family: str) -> list[EquationComparison]:
    """The textbook form of ``family`` against its torch form, quantity by quantity (torch's options
    at their defaults, so that only the formula differs)."""
    torch_rule, book_rule = rules.get(family, "torch"), rules.get(family, "textbook")
    shared = {h.name for h in book_rule.hyperparameters}
    defaults = {
        h.symbol: sp.nsimplify(h.default) for h in torch_rule.hyperparameters if h.name not in shared and not h.is_flag
    }
    torch_map = {k: v.xreplace(defaults) for k, v in torch_rule.step_map().items()}
    book_map = book_rule.step_map()
    out = []
    for sym, book_expr in book_map.items():
        if sym not in torch_map:
            continue
        torch_expr = torch_map[sym]
        name = "param" if sym == rules.w else next(s.name for s in book_rule.states if s.symbol == sym)
        out.append(EquationComparison(family, name, book_expr, torch_expr, sp.simplify(book_expr - torch_expr)))
    return out


def compare_maps(
    family: str, left: dict[sp.Symbol, sp.Expr], right: dict[sp.Symbol, sp.Expr]
) -> list[EquationComparison]:
    """Two one-step maps of the same rule (e.g. a generated kernel executed symbolically against
    the model), quantity by quantity; a quantity missing on one side is a difference."""
    out = []
    for sym in sorted(set(left) | set(right), key=str):
        a, b = left.get(sym, sp.nan), right.get(sym, sp.nan)
        diff = sp.nan if sp.nan in (a, b) else sp.simplify(a - b)
        out.append(EquationComparison(family, str(sym), a, b, diff))
    return out
