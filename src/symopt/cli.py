"""The ``symopt`` command line: ``symopt list | derive | claims | papers | generate | verify | report | bench | mutate | diff | port | port-map``.

Each subcommand lives next to the code it drives, as a module with ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them up. Errors are one line on stderr, never a trace
(set ``SYMOPT_DEBUG=1`` for the trace), and the exit code is 0 only on success.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

#: subcommand -> (module that implements it, one-line help)
COMMANDS = {
    "list": ("symopt.cli", "list the rules, their dialects and hyperparameters"),
    "derive": ("symopt.derive.cli", "derive closed forms of a rule and check them numerically"),
    "claims": ("symopt.derive.claims_cli", "a verdict on every statement of the source post (S1-S13)"),
    "papers": (
        "symopt.derive.papers_cli",
        "results from the literature, derived from the models and reproduced with torch.optim",
    ),
    "generate": ("symopt.codegen.cli", "write the NumPy and Torch kernels (--check: fail if stale)"),
    "verify": ("symopt.verify.cli", "verify kernels and the interpreter against torch.optim"),
    "report": ("symopt.report.cli", "write reports/symopt.tex (and the PDF when LaTeX is present)"),
    "bench": ("symopt.bench.cli", "time optimizer steps against the memory-bandwidth bound (reports/bench.json)"),
    "mutate": (
        "symopt.mutate.cli",
        "mutation harness: mutants of models, kernels, statements and tolerances vs the checks",
    ),
    "diff": ("symopt.port.diff_cli", "what exactly differs between two dialects of a rule (e.g. torch vs keras)"),
    "port": ("symopt.port.port_cli", "move an optimizer call to another framework: exact, approximate or none"),
    "port-map": ("symopt.port.map_cli", "every pair of frameworks' defaults ported: exact, approximate or none"),
}


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse's parser with its usage errors on one line (``symopt COMMAND: error: ...``), exit
    code 2, as every other error of symopt; ``--help`` shows the usage."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """``symopt list``: every rule, dialect and hyperparameter with default and allowed range."""
    import json

    from . import rules

    rows: list[dict[str, Any]] = []
    for family, (build, dialects) in rules.FAMILIES.items():
        for dialect in dialects:
            rule = build(dialect)
            rows.append(
                {
                    "rule": family,
                    "dialect": dialect,
                    "title": rule.title,
                    "reference": rule.reference,
                    "states": [s.name for s in rule.states],
                    "hyperparameters": [
                        {"name": h.name, "symbol": str(h.symbol), "default": h.default, "allowed": h.allowed}
                        for h in rule.hyperparameters
                    ],
                }
            )
    rows += _framework_rows()
    if args.json:
        from .schemas import envelope

        print(json.dumps(envelope("list", {"rules": rows}), indent=2))
        return 0
    for row in rows:
        print(f"{row['rule']} [{row['dialect']}]  {row['title']}: {row['reference']}")
        if "calls" in row:
            print(f"    {row['framework']}: {', '.join(row['calls'])}; read from {row['source']}")
        print(f"    state: {', '.join(row['states']) or '(none)'}")
        for h in row["hyperparameters"]:
            default = "required" if h.get("required") else h["default"]
            print(f"    {h['name']:<26} {h['symbol']:<8} default {default!s:<8} allowed {h['allowed']}")
    return 0


def _framework_rows() -> list[dict]:
    """``symopt list`` rows of the other frameworks' dialects (:mod:`symopt.rules.dialects`)."""
    from . import rules
    from .rules import dialects

    rows = []
    for (family, name), preset in dialects.table().items():
        if name == "torch":
            continue
        rule = rules.get(family, name)
        rows.append(
            {
                "rule": family,
                "dialect": name,
                "title": rule.title,
                "reference": preset.calls[0].path,
                "framework": preset.framework,
                "calls": [p for c in preset.calls for p in c.paths[:1]],
                "source": preset.source,
                "verified": preset.verified,
                "states": [s.name for s in rule.states],
                "hyperparameters": [
                    {
                        "name": h.name,
                        "symbol": str(h.symbol),
                        "default": h.default,
                        "allowed": h.allowed,
                        "required": preset.argument(h.name).required,
                    }
                    for h in rule.hyperparameters
                ],
            }
        )
    return rows


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (so ``symopt list`` never loads torch)."""
    parser = Parser(prog="symopt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except (UsageError, ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        if os.environ.get("SYMOPT_DEBUG"):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"symopt {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `symopt verify | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("symopt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
