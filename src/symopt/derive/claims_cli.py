"""``symopt claims [--json] [--check]``: the verdict on each statement S1–S13 of the source post.

Text: one block per statement (verdict, explanation, the derivations behind it and whether their
checks passed). ``--json``: one document (``symopt.claims/1``) whose ``claims`` are
``{"id": "S1", "statement", "statement_latex", "verdict", "explanation", "supported", "evidence"}``. ``--check``: exit code 1 when a derivation behind a
verdict failed its checks.
"""

from __future__ import annotations

import argparse
import json
import sys

from .claims import claims, json_safe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--check", action="store_true", help="exit with code 1 if any evidence failed its checks")


def run(args: argparse.Namespace) -> int:
    found = claims()
    if args.json:
        from ..schemas import envelope

        print(json.dumps(envelope("claims", {"claims": json_safe([c.to_json() for c in found])}), indent=2))
    else:
        for c in found:
            print(f"{c.id}  [{c.verdict}]{'' if c.supported else '  (EVIDENCE FAILED A CHECK)'}")
            print(f"    post: {c.statement}")
            print(f"    {c.explanation}")
            for d in c.derivations:
                print(f"    - {d.id}: {'checks passed' if d.passed else 'CHECK FAILED'} ({d.kind})")
            print()
    unsupported = [c.id for c in found if not c.supported]
    if args.check and unsupported:
        print(f"symopt claims: evidence failed its checks for {', '.join(unsupported)}", file=sys.stderr)
        return 1
    return 0
