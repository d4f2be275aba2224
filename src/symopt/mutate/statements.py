"""Mutants of the stated results: every derived statement (each analysis of
:func:`symopt.derive.all_analyses`, each closed form of ``symopt derive all`` and each derived
statement of ``symopt papers``) with its
right-hand side changed by one mechanical expression mutation (:mod:`.expressions`; O-terms are
left alone), fed back to the same derivation's checks through :attr:`Derivation.recheck`.

A mutant that simplifies to the original (``simplify(mutant − original) = 0``) only rewrites
the statement: it is equivalent by algebra and not run. Every other must fail its checks.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Iterator

import sympy as sp

from ..derive._result import without_order_terms
from ._core import Killed, Mutant, Outcome, evaluate
from .expressions import algebraically_equal, mutants as expression_mutants

AREA = "statement"


@lru_cache(maxsize=1)
def _derivations() -> tuple:
    from ..derive import all_analyses, derive
    from ..derive.cases import cases
    from ..derive.literature import (
        cohen2022_threshold,
        duchi2011_bound,
        malladi2022_rule,
        mukkamala2017_step,
        reddi2018_drift,
    )

    found = {d.id: d for d in all_analyses()}
    for case in cases("all"):
        for d in derive(case.rule, **case.options):
            found.setdefault(d.id, d)
    for build in (
        reddi2018_drift,
        mukkamala2017_step,
        cohen2022_threshold,
        duchi2011_bound,
        malladi2022_rule,
    ):  # the papers' derived statements
        d = build()
        found.setdefault(d.id, d)
    return tuple(found.values())


def all_mutants() -> list[Mutant]:
    """The mutants of every derived statement (computing every derivation once)."""
    return [m for d in _derivations() for m in derivation_mutants(d)]


def derivation_mutants(d) -> list[Mutant]:
    """The mutants of one derivation's statement (none when it cannot be rechecked)."""
    if d.recheck is None:
        return []
    rhs = d.statement.rhs
    return [
        Mutant(AREA, d.id, location, operator, sp.sstr(rhs), sp.sstr(mutated), payload=(d, mutated))
        for location, operator, mutated in expression_mutants(rhs)
    ]


def run(mutant: Mutant) -> Outcome:
    d, mutated = mutant.payload
    if algebraically_equal(mutated, d.statement.rhs):
        return Outcome(mutant, "equivalent", "algebraically equal: simplify(mutant - original) = 0")
    orders = lambda e: set(sp.sympify(e).atoms(sp.Order))  # noqa: E731
    if (
        orders(mutated) == orders(d.statement.rhs)
        and orders(mutated)
        and algebraically_equal(without_order_terms(mutated), without_order_terms(d.statement.rhs))
    ):
        return Outcome(
            mutant,
            "equivalent",
            "the same expansion: the O-terms are unchanged and the rest is equal (e.g. 1/(1 + O(h)) = 1 + O(h))",
        )

    def recheck() -> None:
        again = d.recheck(sp.Eq(d.statement.lhs, mutated, evaluate=False))
        failed = [c for c in again.checks if not c.passed]
        if not again.passed:
            raise Killed(failed[0].summary()[:200] if failed else "failed")

    @contextlib.contextmanager
    def nothing(_: Mutant) -> Iterator[None]:
        yield

    # nothing is installed, and the simulations behind the checks do not depend on the statement:
    # keep their caches (clearing them would rerun every simulation for every mutant)
    return evaluate(mutant, nothing, [(f"{d.id} recheck", recheck)], fresh=False)


__all__ = ["AREA", "all_mutants", "derivation_mutants", "run"]
