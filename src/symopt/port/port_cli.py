"""``symopt port '<call>' --to FRAMEWORK [--json]``: a configuration moved between frameworks."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "call", help="the optimizer call as written, e.g. 'keras.optimizers.RMSprop(learning_rate=1e-3)'"
    )
    parser.add_argument(
        "--to", required=True, metavar="FRAMEWORK", help="target framework (torch, keras, optax, tf1, ...)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from .port import port

    result = port(args.call, args.to).as_dict()
    if args.json:
        from ..schemas import envelope

        print(json.dumps(envelope("port", result), indent=2))
        return 0
    print(f"{result['source']}  ->  {result['target_framework']}: {result['verdict']}")
    if result["target_call"]:
        print(f"  {result['target_call']}")
    for c in result["conditions"]:
        print(f"  condition: {c}")
    if result["max_lr_ratio"] is not None:
        print(f"  worst-case ratio of effective learning rates: {result['max_lr_ratio']:.6g}")
    for e in result["evidence"]:
        print(f"  evidence: {e}")
    for k, v in result["measured"].items():
        print(f"  measured {k}: {v}")
    print("  drop-in (reproduces the source exactly in torch):")
    for line in result["dropin"].splitlines():
        print(f"    {line}")
    return 0
