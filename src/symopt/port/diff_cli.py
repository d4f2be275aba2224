"""``symopt diff FAMILY --dialects A B [--json]``: what exactly differs between two dialects."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", help="rule family: adagrad or rmsprop")
    parser.add_argument(
        "--dialects",
        nargs=2,
        metavar=("A", "B"),
        required=True,
        help="two dialects (torch, textbook, keras, tf1, optax, ...: see `symopt list`)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from .. import rules
    from .diff import diff, text

    for name in args.dialects:
        rules.get(args.family, name)  # one-line error naming the known dialects
    result = diff(args.family, *args.dialects)
    if args.json:
        from ..schemas import envelope

        print(json.dumps(envelope("diff", result), indent=2))
    else:
        print(text(result))
    return 0
