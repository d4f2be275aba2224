"""What a derivation returns: the statement, how it was obtained, and the numeric check that could
have refuted it.

Every :class:`Derivation` carries at least one :class:`Check`. SymPy is not trusted on its own
(SymPy 1.14 gets ``limit(harmonic(t, 1/2), t, oo)`` wrong), so a statement is only as good as its
check, and a check is only meaningful because it *can* fail (``tests/test_derive.py`` feeds it a
wrong formula).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import sympy as sp


def worst_error(errors: Iterable[float]) -> float:
    """The largest of ``errors``, where NaN wins: ``max(0.0, nan)`` is 0.0 in Python, which would
    let a closed form that is NaN everywhere pass. An empty sequence checked nothing: NaN too."""
    worst, seen = 0.0, False
    for e in errors:
        seen = True
        e = float(e)
        if math.isnan(e):
            return math.nan
        worst = max(worst, e)
    return worst if seen else math.nan


@dataclass(frozen=True)
class Check:
    """One numeric comparison of a closed form against an independent computation.

    ``method`` names the independent side (``"interpreter-float64"``: the reference interpreter in
    float64; ``"interpreter-mpmath-50"``: the interpreter at 50 digits; ``"closed-form-mpmath-50"``:
    the closed form itself evaluated far out, for limits). ``t_range`` is ``(first, last)`` step
    checked, ``max_rel_err`` the largest relative error seen, ``passed`` whether it is at most
    ``tolerance`` (a NaN error never passes).
    """

    method: str
    t_range: tuple[int, int]
    max_rel_err: float
    tolerance: float
    detail: str = ""
    #: a known numerical hazard that makes this arm fail for a correct formula (e.g. the
    #: cancellation in v − m²); the check is still reported as failing, and :attr:`Derivation.passed`
    #: then rests on the other, authoritative arms
    hazard: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.max_rel_err <= self.tolerance) and math.isfinite(self.max_rel_err)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "t_range": list(self.t_range),
            "max_rel_err": _json_float(self.max_rel_err),
            "tolerance": self.tolerance,
            "passed": self.passed,
            "detail": self.detail,
            "hazard": self.hazard,
        }

    def summary(self) -> str:
        """``interpreter-float64, t = 1..1000: max rel err 2.1e-16 <= 1e-10 (passed)``."""
        verdict = "passed" if self.passed else "FAILED"
        first, last = (f"{x:.0e}" if x > 10**6 else str(x) for x in self.t_range)
        extra = f"; {self.detail}" if self.detail else ""
        if self.hazard:
            extra += f"; KNOWN HAZARD, not authoritative: {self.hazard}"
        return (
            f"{self.method}, t = {first}..{last}: max rel err {self.max_rel_err:.2e} "
            f"<= {self.tolerance:.3g} ({verdict}{extra})"
        )


@dataclass(frozen=True)
class Assumption:
    """A condition a statement needs, in words and as SymPy (``sp.true`` when it has no formula)."""

    text: str
    condition: sp.Basic = sp.true

    def to_json(self) -> dict[str, str]:
        return {"text": self.text, "latex": sp.latex(self.condition) if self.condition is not sp.true else ""}


@dataclass(frozen=True)
class Derivation:
    """A derived statement ``lhs = rhs`` about one rule under one gradient model.

    ``steps`` are the short LaTeX/text lines a reader needs to follow it, in order. ``check`` is the
    main numeric check (the float64 interpreter over t = 1..1000, or the far-out evaluation for a
    limit); ``precision_checks`` are further checks (the interpreter at 50 digits for a few t).
    """

    id: str
    title: str
    statement: sp.Eq
    assumptions: tuple[Assumption, ...]
    steps: tuple[str, ...]
    check: Check
    precision_checks: tuple[Check, ...] = field(default=())
    #: ``"derived"`` (a closed form or limit, with its checks) or ``"measured"`` (a number read off
    #: a simulation, with no derivation behind it: labelled so that nobody mistakes it for one)
    kind: str = "derived"
    #: a one-paragraph explanation in words, for the report and the claims
    explanation: str = ""
    #: the same derivation's checks run on another statement: ``d.recheck(statement)`` (the
    #: mutation harness and the tests feed it wrong statements, which must fail)
    recheck: Callable[[sp.Eq], "Derivation"] | None = field(default=None, compare=False, repr=False)

    @property
    def checks(self) -> tuple[Check, ...]:
        return (self.check, *self.precision_checks)

    @property
    def passed(self) -> bool:
        """Whether every check passed, except arms labelled with a known hazard (which are
        reported, not hidden); at least one check without a hazard must exist and pass."""
        authoritative = [c for c in self.checks if not c.hazard]
        return bool(authoritative) and all(c.passed for c in authoritative)

    @property
    def expr(self) -> sp.Expr:
        """The right-hand side: the closed form (or the limit's value)."""
        return self.statement.rhs

    @property
    def statement_latex(self) -> str:
        return sp.latex(self.statement)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "statement_latex": self.statement_latex,
            "expr": sp.srepr(self.expr),
            "assumptions": [a.to_json() for a in self.assumptions],
            "steps": list(self.steps),
            "check": self.check.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "passed": self.passed,
            "kind": self.kind,
            "explanation": self.explanation,
        }


def restatable(factory: Callable[..., Derivation]) -> Callable[..., Derivation]:
    """Give the derivations of ``factory`` a :attr:`Derivation.recheck`.

    ``factory(*args, statement=None, **kwargs)`` derives its statement when ``statement`` is None
    and checks whichever statement it ends up with, so that the check evaluates the very
    statement it certifies; ``recheck(s)`` calls it again with ``statement=s``."""

    @functools.wraps(factory)
    def build(*args: Any, statement: sp.Eq | None = None, **kwargs: Any) -> Derivation:
        d = factory(*args, statement=statement, **kwargs)
        return replace(d, recheck=functools.partial(_recheck, build, args, kwargs))

    return build


def _recheck(build: Callable[..., Derivation], args: tuple, kwargs: dict, statement: sp.Eq) -> Derivation:
    return build(*args, statement=statement, **kwargs)


def without_order_terms(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every ``O(·)`` term set to 0: the part of an asymptotic statement that a
    number can be compared with."""
    return expr.replace(lambda e: isinstance(e, sp.Order), lambda e: sp.S.Zero)


def _json_float(x: float) -> float | str:
    """JSON has no NaN/inf: write them as strings."""
    return x if math.isfinite(x) else str(x)
