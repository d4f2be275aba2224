"""The JSON documents of symopt's commands: one envelope, one JSON Schema per command.

Every ``--json`` output (and every file a command writes: ``reports/verify.json``,
``reports/bench.json``, ``reports/mutate.json``) is one object::

    {"schema": "symopt.<command>/1",
     "versions": {"symopt": ..., "python": ..., "torch": ..., "sympy": ..., "numpy": ...},
     ...the command's payload}

``schema`` names the command and the version of its layout: a reader checks it before reading
the rest, and a change that breaks a reader bumps the number. The JSON Schema of each command
ships beside this file (``<command>.schema.json``, draft 2020-12); :func:`validate` checks a
document against the envelope and its command's schema (with :mod:`jsonschema`).
"""

from __future__ import annotations

import json
import platform
from functools import lru_cache
from importlib import metadata, resources
from typing import Any

#: the version of every command's layout (``symopt.<command>/<VERSION>``)
VERSION = 1
#: the commands that print or write a JSON document
COMMANDS = ("list", "derive", "claims", "papers", "verify", "bench", "diff", "port", "port-map", "mutate")


def versions() -> dict[str, str | None]:
    """The versions a result depends on, read from the installed distributions (no import:
    ``symopt list`` does not load torch)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("symopt", "torch", "sympy", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def envelope(command: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as ``command``'s document: ``schema`` and ``versions`` first."""
    if command not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)}; got {command!r}")
    clash = {"schema", "versions"} & set(payload)
    if clash:
        raise ValueError(f"payload must not hold the envelope's keys; got {sorted(clash)}")
    return {"schema": f"symopt.{command}/{VERSION}", "versions": versions(), **payload}


@lru_cache(maxsize=None)
def schema(command: str) -> dict[str, Any]:
    """The JSON Schema of ``command``'s document (``<command>.schema.json``), or the envelope's
    (``"envelope"``)."""
    if command not in (*COMMANDS, "envelope"):
        raise ValueError(f"command must be one of {', '.join(COMMANDS)} or 'envelope'; got {command!r}")
    text = resources.files(__package__).joinpath(f"{command}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def command_of(document: Any) -> str:
    """The command a document says it is from (its ``schema``: ``symopt.<command>/<version>``)."""
    name = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(name, str) or not name.startswith("symopt.") or "/" not in name:
        raise ValueError(f"not a symopt document: 'schema' must be 'symopt.<command>/{VERSION}'; got {name!r}")
    command, _, version = name[len("symopt.") :].partition("/")
    if command not in COMMANDS or version != str(VERSION):
        raise ValueError(
            f"unknown schema {name!r}; this symopt reads " + ", ".join(f"symopt.{c}/{VERSION}" for c in COMMANDS)
        )
    return command


def validate(document: Any) -> str:
    """Check ``document`` against the envelope and the schema its ``schema`` names; returns the
    command. Raises ``jsonschema.ValidationError`` naming the first violation."""
    import jsonschema

    command = command_of(document)
    for name in ("envelope", command):
        jsonschema.Draft202012Validator(schema(name)).validate(document)
    return command


__all__ = ["COMMANDS", "VERSION", "command_of", "envelope", "schema", "validate", "versions"]
