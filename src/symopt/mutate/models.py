"""Mutants of the models: every rule in every dialect, changed one assignment, guard, default or
initial value at a time, with its Python kernels regenerated from the mutant.

Operators (:mod:`.expressions` for the assignments' expressions):

* each assignment's expression: every mechanical expression mutant;
* each guard: negated (``if maximize`` → ``if not maximize``);
* each hyperparameter default: a flag flipped, a number doubled (0 → 0.1);
* each state's initial value: + 1.

Installed by replacing the family's builder (``symopt.rules.FAMILIES`` and the ``symopt.rules``
attribute, which every caller goes through) so that ``rules.get(family, dialect)`` returns the
mutant, and the generated NumPy and Torch kernel modules by the text the printers produce for it
(exec'd in place of the committed ones). The C and Triton kernels are the kernel area's.

Checks, in order (the first failure kills): the rows of ``symopt verify`` against torch.optim
(torch dialects), or the post's formulas (tests/test_textbook.py: textbook dialects); then
float32 and the seeded sweep; then the test modules that read the rule; then the derivations.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import replace
from typing import Iterator

import sympy as sp
import torch

from .. import rules as R
from ._core import Check, Invalid, Mutant, Outcome, Patches, evaluate, module_from_source
from .expressions import mutants as expression_mutants
from . import oracles

AREA = "model"


def all_mutants() -> list[Mutant]:
    """Every model mutant, in a fixed order."""
    out: list[Mutant] = []
    for rule in R.all_rules():
        out += rule_mutants(rule)
    return out


def rule_mutants(rule: R.UpdateRule) -> list[Mutant]:
    target = rule.name
    out: list[Mutant] = []
    for i, a in enumerate(rule.body):
        where = f"body[{i}] {a.target} <- {sp.sstr(a.expr)}"
        for location, operator, mutated in expression_mutants(a.expr):
            body = rule.body[:i] + (replace(a, expr=mutated),) + rule.body[i + 1 :]
            out.append(
                Mutant(
                    AREA,
                    target,
                    f"{where}: {location}",
                    operator,
                    sp.sstr(a.expr),
                    sp.sstr(mutated),
                    payload=replace(rule, body=body),
                )
            )
        if a.when is not sp.true:
            negated = sp.Not(a.when)
            body = rule.body[:i] + (replace(a, when=negated),) + rule.body[i + 1 :]
            out.append(
                Mutant(
                    AREA,
                    target,
                    where,
                    "guard negated",
                    sp.sstr(a.when),
                    sp.sstr(negated),
                    payload=replace(rule, body=body),
                )
            )
    for j, h in enumerate(rule.hyperparameters):
        new: float | bool
        if h.is_flag:
            new = not h.default
        else:
            new = 2 * h.default if h.default else 0.1
            if new > h.maximum:
                new = (h.default + h.minimum) / 2
        hyper = rule.hyperparameters[:j] + (replace(h, default=new),) + rule.hyperparameters[j + 1 :]
        out.append(
            Mutant(
                AREA,
                target,
                f"hyperparameter {h.name}",
                "default changed",
                repr(h.default),
                repr(new),
                payload=replace(rule, hyperparameters=hyper),
            )
        )
    for j, s in enumerate(rule.states):
        states = rule.states[:j] + (replace(s, initial=s.initial + 1),) + rule.states[j + 1 :]
        out.append(
            Mutant(
                AREA,
                target,
                f"state {s.name}",
                "initial value + 1",
                sp.sstr(s.initial),
                sp.sstr(s.initial + 1),
                payload=replace(rule, states=states),
            )
        )
    return out


@contextlib.contextmanager
def installed(mutant: Mutant) -> Iterator[None]:
    """``rules.get`` returns the mutant rule, and its generated NumPy/Torch kernels are the
    printers' text for it."""
    from ..codegen.render import BACKENDS, module_name, render_kernel
    from ..torch import functional

    rule: R.UpdateRule = mutant.payload
    build, dialects = R.FAMILIES[rule.family]

    def mutated_build(dialect: str = dialects[0], **conventions):
        return rule if dialect == rule.dialect and not conventions else build(dialect, **conventions)

    with Patches() as p:
        p.setitem(R.FAMILIES, rule.family, (mutated_build, dialects))
        p.setattr(R, rule.family, mutated_build)
        name = module_name(rule)
        for backend in sorted(BACKENDS):
            full = f"symopt.kernels.{backend}.{name}"
            try:
                text = render_kernel(rule, BACKENDS[backend])
            except Exception as exc:  # the strict printers refuse what they cannot print
                raise Invalid(f"the {backend} printer refuses it: {type(exc).__name__}: {exc}") from None
            module = module_from_source(full, text, like=importlib.import_module(full))
            p.module(full, module)
            if backend == "torch" and hasattr(functional, f"_{name}"):
                p.setattr(functional, f"_{name}", module)
        yield


def checks(mutant: Mutant) -> list[tuple[str, Check]]:
    rule: R.UpdateRule = mutant.payload
    family, dialect = rule.family, rule.dialect
    from ..verify.cases import VERIFIED

    out: list[tuple[str, Check]] = []
    if dialect == "torch" and family in VERIFIED:
        impls = ("interpreter", "numpy", "torch", "torch-foreach", "optim", "optim-foreach")
        out.append(("verify float64", oracles.verify_rows(family, impls)))
        out.append(
            (
                "verify float32 + sweep",
                oracles.verify_rows(family, impls, dtypes=(torch.float32, torch.float64), sweep=8, steps=100),
            )
        )
    else:
        out.append(
            ("post's formulas", oracles.pytest_modules("tests/test_textbook.py", "-k", f"{family}-{dialect} or quotes"))
        )
    out.append(
        ("test modules", oracles.pytest_modules("tests/test_kernels.py", "tests/test_interpret.py", "-k", family))
    )
    out.append(("derivations", oracles.derivations(lambda d: d.id.split(".")[0] in (family, "dialects"))))
    return out


def run(mutant: Mutant) -> Outcome:
    return evaluate(mutant, installed, checks(mutant))


__all__ = ["AREA", "all_mutants", "installed", "rule_mutants", "run"]
