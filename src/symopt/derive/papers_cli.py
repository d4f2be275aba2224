"""``symopt papers [--json] [--check] [--fast [-v]]``: results from the literature, derived from the
models and reproduced with torch.optim (:mod:`symopt.derive.literature`).

Text: per result its citation, the claim, the derived statement, and every check (the derivation's
against torch.optim, the reproduction's computed beside theoretical). ``--json``: one document
(``symopt.papers/1``) with ``papers``. ``--check``: exit code 1 when a check failed.
``--fast``: the derivations alone (each statement derived from the model and checked against
torch.optim, in seconds; the published claims' long reproductions left out), a line for each one
that failed (every one with ``-v``) and a summary line: what ``make verify`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys

import sympy as sp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit with code 1 if any check failed")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="only the derivations from the models and their checks (seconds), not the published claims' reproductions",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="with --fast: a line for every derivation")


def run(args: argparse.Namespace) -> int:
    from ..schemas import envelope
    from .claims import json_safe
    from .literature import papers

    if getattr(args, "fast", False):
        if args.json:
            raise ValueError("--fast prints a summary; --json prints every result with its reproduction (not both)")
        return _run_fast(args)
    found = papers()
    if args.json:
        print(json.dumps(envelope("papers", {"papers": json_safe([p.to_json() for p in found])}), indent=2))
    else:
        for p in found:
            print(f"{p.id}  [{'reproduced' if p.passed else 'NOT REPRODUCED'}]")
            print(f"    {p.citation}")
            print(f"    claim: {p.claim}")
            print(f"    derived: {sp.sstr(p.derivation.statement)}")
            for c in p.checks:
                print(f"    - {c.summary()}")
            print()
    failed = [p.id for p in found if not p.passed]
    if args.check and failed:
        print(f"symopt papers: not reproduced: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _run_fast(args: argparse.Namespace) -> int:
    import time

    from .cli import check_line
    from .literature import DERIVATIONS

    started = time.perf_counter()
    derived = [build() for build in DERIVATIONS.values()]
    for d in derived:
        if args.verbose or not d.passed:
            print(check_line(d))
    failed = [d.id for d in derived if not d.passed]
    print(
        f"symopt papers --fast: {len(derived)} derivations of published results: {len(derived) - len(failed)} passed, "
        f"{len(failed)} FAILED ({time.perf_counter() - started:.1f} s; `symopt papers` adds the reproductions)"
    )
    if args.check and failed:
        print(f"symopt papers: not reproduced: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
