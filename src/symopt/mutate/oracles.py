"""The checks a mutant must not survive, as functions that raise :class:`~._core.Killed`.

They are symopt's own checks, called as ``make test`` and ``make verify`` call them: rows of
:func:`symopt.verify.runner.verify_many` against torch.optim, the symbolic execution of a
generated kernel (:func:`symopt.verify.symbolic.check_kernel`), a derivation's checks, and test
modules run by pytest in this process (with the mutant installed). None of them is the
text-freshness check (``symopt generate --check``): a mutated kernel would fail that trivially,
and what the harness measures is whether the *numbers* catch it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import types
from pathlib import Path
from typing import Iterable

import torch

from ._core import Check, Killed

#: the repository root (tests are run from there); None when symopt is installed without one
ROOT = Path(__file__).resolve().parents[3]
TESTS = ROOT / "tests"


def verify_rows(
    family: str,
    impl_names: Iterable[str],
    *,
    dtypes: Iterable[torch.dtype] = (torch.float64,),
    steps: int = 20,
    sweep: int = 0,
    full: bool = False,
) -> Check:
    """Every quick case of ``family`` (torch's optim_db inputs and symopt's named edges, plus
    ``sweep`` random ones) through ``impl_names`` against torch.optim: killed by the first FAIL row.
    ``full``: against every torch path (foreach, fused) as ``verify --full`` does."""
    from ..verify import cases as C
    from ..verify.runner import IMPLEMENTATIONS, references_for, verify_many

    impls = [IMPLEMENTATIONS[n] for n in impl_names if family in IMPLEMENTATIONS[n].rules]

    def check() -> None:
        chosen_cases = C.optim_db_inputs(family) + C.edges(family) + (C.sweep(family, sweep) if sweep else [])
        for dtype in dtypes:
            chosen = [i for i in impls if dtype in i.dtypes]
            if not chosen:
                continue
            for case in chosen_cases:
                references = references_for(family, True) if full else None
                for row in verify_many(case, chosen, dtype, references, steps=steps):
                    if row.status == "FAIL":
                        raise Killed(
                            f"verify {family} / {case.name} / {row.dtype} / {row.impl} vs {row.reference}: "
                            f"{row.max_ulp:g} ULP > {row.tol_ulp:g}"
                        )

    return check


def symbolic_kernel(module_name: str, family: str, dialect: str) -> Check:
    """The generated kernel module, executed on symbols, against its model (every entry point
    and structural variant): killed when a quantity differs."""

    def check() -> None:
        import importlib

        from .. import rules
        from ..verify import symbolic

        module, rule = importlib.import_module(module_name), rules.get(family, dialect)
        if hasattr(symbolic, "first_difference"):
            found = symbolic.first_difference(module, rule)
        else:  # an older symopt (the harness measuring a tree from before it existed)
            found = next((c for c in symbolic.check_kernel(module, rule) if not c.identical), None)
        if found is not None:
            raise Killed(f"symbolic: {found.describe()[:200]}")

    return check


#: ``-W`` filters for warnings that are no test's failure: ``-W error`` on the command line comes
#: after the ini's ``filterwarnings`` and would override them. torch.testing._internal (the optim_db
#: inputs) warns when hypothesis is not installed; the tests only read its data.
KNOWN_WARNINGS = ("-W", "ignore:Fail to import hypothesis in common_utils:ImportWarning")


def pytest_modules(*args: str) -> Check:
    """``pytest -x -q ARGS`` in this process (so that the installed mutant is what the tests
    import), from the repository root: killed when a test fails. Skipped tests do not kill.

    Test modules an enclosing pytest session (``make test`` runs the harness's fast subset) has
    already imported are set aside for the run, so that they import afresh and bind the mutant:
    a cached ``test_tolerances`` holds the original ``conditioned`` and would pass any mutant of
    it."""

    def check() -> None:
        import pytest

        if not TESTS.is_dir():
            raise FileNotFoundError(f"no tests/ beside the package ({TESTS}): run the harness from a source checkout")
        files = [a for a in args if a.startswith("tests/")]
        present = [a for a in files if (ROOT / a.split("::")[0]).exists()]
        if files and not present:
            return  # none of these test modules exists in this tree: nothing to run
        args_ = [a for a in args if a not in files or a in present]
        out = io.StringIO()
        cwd = os.getcwd()
        cached = _test_modules()
        for name in cached:
            del sys.modules[name]
        try:
            os.chdir(ROOT)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = pytest.main(
                    ["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-W", "error", *KNOWN_WARNINGS, *args_]
                )
        finally:
            os.chdir(cwd)
            for name in _test_modules():
                del sys.modules[name]
            sys.modules.update(cached)
        if code == pytest.ExitCode.TESTS_FAILED:
            failed = [line for line in out.getvalue().splitlines() if line.startswith("FAILED")]
            raise Killed(f"pytest {' '.join(args)}: {failed[0] if failed else 'a test failed'}")
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            raise RuntimeError(f"pytest {' '.join(args)} could not run (exit {int(code)}): {out.getvalue()[-400:]}")

    return check


def _test_modules() -> dict[str, types.ModuleType]:
    """The modules in ``sys.modules`` loaded from a file under tests/ (test modules, conftest)."""
    found: dict[str, types.ModuleType] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(TESTS):
            found[name] = module
    return found


def derivations(select) -> Check:
    """Every analysis (:func:`symopt.derive.all_analyses`) and closed form of ``derive all``
    that ``select(derivation)`` picks, computed afresh: killed when one fails its checks."""

    def check() -> None:
        from ..derive import all_analyses, derive
        from ..derive.cases import cases

        found = list(all_analyses()) + [d for case in cases("all") for d in derive(case.rule, **case.options)]
        for d in found:
            if select(d) and not d.passed:
                raise Killed(f"derivation {d.id}: {next(c.summary() for c in d.checks if not c.passed)[:200]}")

    return check


__all__ = ["derivations", "pytest_modules", "symbolic_kernel", "verify_rows"]
