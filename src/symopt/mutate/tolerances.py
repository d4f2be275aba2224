"""Mutants of the tolerance policy (``verify/tolerances.py``): every number in its code — the
named roundings per step, the ULP per rounding, the ill-conditioning threshold, literals inside
the functions — widened ×10 and narrowed ÷10 (0 → 1), one at a time.

Installed by exec'ing the mutated module in place of ``symopt.verify.tolerances`` and rebinding
the functions other modules imported from it (``runner.tolerance``, ``runner.conditioned``).
Checks: tests/test_tolerances.py (each bound derived in the test from its error model, and a real
verify row perturbed just above it must fail and just below must pass), then the quick verify
rows of every rule (a narrowed tolerance fails real implementations).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import sys
import types
from pathlib import Path
from typing import Iterator

import torch

from ._core import Check, Invalid, Mutant, Outcome, Patches, evaluate, module_from_source
from . import oracles

AREA = "tolerance"
MODULE = "symopt.verify.tolerances"


def _source() -> tuple[Path, str]:
    path = Path(__file__).resolve().parent.parent / "verify" / "tolerances.py"
    return path, path.read_text(encoding="utf-8")


def _numbers(tree: ast.Module) -> list[ast.Constant]:
    """The numeric literals of the module's code (docstrings are strings: not among them)."""
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)
    ]


def _context(source: str, node: ast.Constant) -> str:
    return source.splitlines()[node.lineno - 1].strip()


def all_mutants() -> list[Mutant]:
    path, source = _source()
    tree = ast.parse(source)
    out = []
    for i, node in enumerate(_numbers(tree)):
        value = node.value
        assert isinstance(value, (int, float))  # _numbers keeps the numeric literals only
        changes = [("widened x10", value * 10), ("narrowed /10", value / 10)] if value else [("0 -> 1", 1)]
        for how, new in changes:
            mutated = copy.deepcopy(tree)
            _numbers(mutated)[i].value = (
                type(value)(new) if isinstance(value, float) or float(new).is_integer() else new
            )
            out.append(
                Mutant(
                    AREA,
                    "verify/tolerances.py",
                    f"line {node.lineno} literal #{i}",
                    how,
                    _context(source, node),
                    f"{value!r} -> {new!r}",
                    payload=ast.unparse(ast.fix_missing_locations(mutated)),
                )
            )
    return out


@contextlib.contextmanager
def installed(mutant: Mutant) -> Iterator[None]:
    old = sys.modules[MODULE]
    try:
        new = module_from_source(MODULE, mutant.payload, like=old)
    except Exception as exc:
        raise Invalid(f"the mutated module does not import: {type(exc).__name__}: {exc}") from None
    with Patches() as p:
        p.module(MODULE, new)
        for name, module in list(sys.modules.items()):
            if not name.startswith("symopt") or module is None or module is new:
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, types.FunctionType) and value.__module__ == MODULE and hasattr(new, attr):
                    p.setattr(module, attr, getattr(new, attr))
        yield


def checks(mutant: Mutant) -> list[tuple[str, Check]]:
    impls = ("interpreter", "numpy", "torch", "torch-foreach", "optim", "optim-foreach", "fused")
    out: list[tuple[str, Check]] = [("tests/test_tolerances.py", oracles.pytest_modules("tests/test_tolerances.py"))]
    for family in ("adagrad", "rmsprop", "adam"):
        out.append(
            (
                f"verify {family}",
                oracles.verify_rows(
                    family,
                    impls,
                    dtypes=(torch.float64, torch.float32, torch.bfloat16, torch.float16),
                    steps=100,
                    full=True,
                ),
            )
        )
    return out


def run(mutant: Mutant) -> Outcome:
    return evaluate(mutant, installed, checks(mutant))


__all__ = ["AREA", "all_mutants", "installed", "run"]
