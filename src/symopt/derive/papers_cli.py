"""``symopt papers [--json] [--check]``: results from the literature, derived from the models and
reproduced with torch.optim (:mod:`symopt.derive.literature`).

Text: per result its citation, the claim, the derived statement, and every check (the derivation's
against torch.optim, the reproduction's computed beside theoretical). ``--json``: one document
(``symopt.papers/1``) with ``papers``. ``--check``: exit code 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import sys

import sympy as sp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit with code 1 if any check failed")


def run(args: argparse.Namespace) -> int:
    from ..schemas import envelope
    from .claims import json_safe
    from .literature import papers

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
