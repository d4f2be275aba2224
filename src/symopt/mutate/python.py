"""Mutants of the Python check machinery by mutmut (a well-kept mutation tool for Python): the
ULP distances (``verify/ulp.py``) and the result objects every derivation reports through
(``derive/_result.py``: ``worst_error``, ``Check.passed``, JSON and summaries), against their
unit tests (``tests/test_ulp.py``, ``tests/test_result.py``). The configuration is
``[tool.mutmut]`` in pyproject.toml.

mutmut runs its own loop (a copy of the tree under ``mutants/``, each mutant switched on in turn,
only the tests that reach the mutated function): listing this area runs it once and reads back
every mutant's status with ``mutmut results --all true``. A mutmut timeout (a mutant that makes a
test hang) counts as caught.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import lru_cache

from ._core import Mutant, Outcome
from .oracles import ROOT

AREA = "python"
#: mutmut parallelises itself: the harness runs this area in its own process, never in workers
SERIAL = True
#: mutmut's statuses -> ours
STATUS = {
    "killed": "killed",
    "timeout": "killed",
    "segfault": "killed",
    "survived": "survived",
    "no tests": "survived",
    "suspicious": "survived",
    "skipped": "invalid",
    "not checked": "invalid",
    "check was interrupted by user": "invalid",
}


def available() -> str:
    """'' when mutmut can run here, else why not."""
    try:
        import mutmut  # noqa: F401
    except ImportError:
        return "mutmut is not installed (make mutate installs it: pip install -e .[mutate])"
    if not (ROOT / "pyproject.toml").is_file() or not (ROOT / "tests").is_dir():
        return "mutmut needs the source checkout (pyproject.toml and tests/ beside src/)"
    return ""


@lru_cache(maxsize=1)
def _results() -> tuple[tuple[str, str, str], ...]:
    """(mutant name, status, diff) for every mutmut mutant, after one ``mutmut run``."""
    why = available()
    if why:
        raise RuntimeError(why)
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # a stale copy of the tree would be mutated instead
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", "2"], cwd=ROOT, capture_output=True, text=True
    )
    if run.returncode not in (0, 1):
        raise RuntimeError(f"mutmut run failed (exit {run.returncode}): {run.stderr[-500:]}")
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True
    )
    rows = []
    for line in listing.stdout.splitlines():
        found = re.match(r"\s*(\S+): (.+)$", line)
        if found:
            name, status = found.groups()
            rows.append((name, status.strip(), _diff(name) if STATUS.get(status.strip()) == "survived" else ""))
    return tuple(rows)


def _diff(name: str) -> str:
    """The changed lines of mutant ``name`` (``mutmut show``): for survivors, which are read."""
    show = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=ROOT, capture_output=True, text=True)
    return "\n".join(
        x for x in show.stdout.splitlines() if x.startswith(("- ", "+ ")) and not x.startswith(("---", "+++"))
    )


def all_mutants() -> list[Mutant]:
    if available():
        return []
    out = []
    for name, status, diff in _results():
        module, _, function = name.partition(".x")
        lines = diff.splitlines()
        original = next((x[1:].strip() for x in lines if x.startswith("-")), "")
        mutated = next((x[1:].strip() for x in lines if x.startswith("+")), "")
        out.append(Mutant(AREA, module, name, "mutmut", original, mutated, payload=status))
    return out


def run(mutant: Mutant) -> Outcome:
    status = STATUS.get(mutant.payload, "survived")
    return Outcome(mutant, status, f"mutmut: {mutant.payload}" if status != "survived" else "")


__all__ = ["AREA", "all_mutants", "available", "run"]
