"""``symopt derive RULE [--dialect D] [--gradient MODEL] [--option NAME=VALUE ...] [--json] [--check]``.

Prints each rule's update (from the model) and its derived closed forms with their numeric checks;
``--json`` prints one document (:mod:`symopt.schemas`, ``symopt.derive/1``) whose ``cases`` list
holds ``{"rule", "dialect", "options", "update", "results"}`` per case, one or many;
``--check`` makes the exit code 1 when any check failed, naming the failures on stderr, and prints
instead of the full text (which plain ``symopt derive RULE`` prints) one line per derivation that
did not simply pass (FAILED, or passed with a labelled hazard: the largest relative error of its
checks) and a summary with the counts; ``--check -v`` prints the line of every derivation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import sympy as sp

from .cases import Case, cases
from ._result import Derivation
from .closed_forms import derive
from .hazards import Found, hazards
from .gradients import GRADIENT_MODELS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", metavar="RULE", help="a rule family (see `symopt list`) or 'all'")
    parser.add_argument("--dialect", help="the rule's dialect (default: its first, e.g. torch)")
    parser.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter value (torch keyword), e.g. -o momentum=0.9; repeatable",
    )
    parser.add_argument(
        "--gradient",
        default="constant",
        choices=sorted(GRADIENT_MODELS),
        help="the gradient model (default: constant); quadratic and noise give the dynamics and expectations",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit with code 1 if any numeric check failed")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="with --check: a line for every derivation, not only the failed and the hazards",
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    options = dict(_parse_option(o) for o in args.option)
    gradient = getattr(args, "gradient", "constant")
    selected = cases(args.rule, args.dialect, options or None)
    if gradient != "constant":  # the extra option sets (momentum, centered) are constant-gradient closed forms
        selected = [c for c in selected if not c.options or options]
    derived = [(case, derive(case.rule, gradient, **case.options)) for case in selected]
    found = {id(case): hazards(case.rule, **case.options) for case, _ in derived}
    if args.json:
        from ..schemas import envelope

        print(
            json.dumps(
                envelope("derive", {"cases": [to_json(case, results, found[id(case)]) for case, results in derived]}),
                indent=2,
            )
        )
    else:
        for case, _ in derived:
            for f in found[id(case)]:
                print(f"HAZARD  {case.label}: {f.describe()}")
    if args.json:
        pass
    elif args.check:
        every = getattr(args, "verbose", False)
        for _, results in derived:
            for d in results:
                if every or status(d) != "passed":
                    print(check_line(d))
        print(summary_line(derived, time.perf_counter() - started))
    else:
        for case, results in derived:
            _print_case(case, results)
    failed = [d.id for _, results in derived for d in results if not d.passed]
    if args.check and failed:
        named = sorted({f.hazard.id for fs in found.values() for f in fs})
        why = f" (at hyperparameters with a named hazard: {', '.join(named)}; see HAZARD above)" if named else ""
        print(f"symopt derive: {len(failed)} check(s) failed{why}: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def status(d: Derivation) -> str:
    """``passed``, ``FAILED``, or ``hazard`` (passed on its authoritative checks, while an arm
    labelled with a known numerical hazard failed)."""
    if not d.passed:
        return "FAILED"
    return "hazard" if any(c.hazard and not c.passed for c in d.checks) else "passed"


def check_line(d: Derivation) -> str:
    """One line: status, the largest relative error of the authoritative checks against its
    tolerance, the id (and, for a hazard, the failing arm)."""
    authoritative = [c for c in d.checks if not c.hazard] or list(d.checks)
    worst = max(authoritative, key=lambda c: (c.max_rel_err / c.tolerance) if c.tolerance else float("inf"))
    line = f"{status(d):<6}  max rel err {worst.max_rel_err:8.2e} (tol {worst.tolerance:.3g})  {d.id}"
    for c in d.checks:
        if c.hazard and not c.passed:
            line += f"  [known hazard: the {c.method} arm fails, {c.max_rel_err:.1e}]"
    return line


def summary_line(derived: list[tuple[Case, list[Derivation]]], seconds: float) -> str:
    every = [d for _, results in derived for d in results]
    counts = {k: sum(status(d) == k for d in every) for k in ("passed", "hazard", "FAILED")}
    return (
        f"symopt derive: {len(every)} derivations in {len(derived)} cases: {counts['passed']} passed, "
        f"{counts['hazard']} passed with a labelled hazard, {counts['FAILED']} FAILED ({seconds:.1f} s)"
    )


def _parse_option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--option takes NAME=VALUE, got {text!r}")
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f"--option {name}: {value!r} is not a number or true/false") from None


def to_json(case: Case, results: list[Derivation], found: list[Found] | None = None) -> dict[str, Any]:
    """One case as JSON: the update (LaTeX lines from the model), the derived results and the
    hazards its hyperparameters meet (:mod:`symopt.derive.hazards`)."""
    return {
        "rule": case.rule.family,
        "dialect": case.rule.dialect,
        "gradient": results[0].assumptions[0].text if results and results[0].assumptions else "",
        "options": case.options,
        "update": case.rule.latex(),
        "recurrences": case.rule.equations_latex(**case.options),
        "results": [d.to_json() for d in results],
        "hazards": [f.to_json() for f in found or []],
    }


def _print_case(case: Case, results: list[Derivation]) -> None:
    rule = case.rule
    print(f"== {case.label}: {rule.title}, {rule.reference}")
    print("update, per element, after t <- t + 1:")
    for a in rule.body:
        guard = "" if a.when is sp.true else f"    if {a.when}"
        print(f"    {a.target} <- {a.expr}{guard}")
    for d in results:
        print(f"\n  {d.title}")
        print("    " + sp.pretty(d.statement, use_unicode=True).replace("\n", "\n    "))
        for assumption in d.assumptions:
            print(f"    assuming {assumption.text}")
        for c in d.checks:
            print(f"    check: {c.summary()}")
    print()
