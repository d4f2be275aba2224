"""``symopt verify``: the implementations against torch.optim, as a table and as JSON rows.

The rows are always saved to ``reports/verify.json`` (for the report), failures included; ``--json
PATH`` writes them there too. Exit code 0 only when every row passes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .._io import output_path, write_text_atomic
from ..schemas import envelope
from .cases import VERIFIED, edges, optim_db_inputs, sweep
from .equations import compare_dialects
from .symbolic import check_all_kernels, checked_entry_points
from . import summary
from .runner import IMPLEMENTATIONS, Row, run_matrix
from . import dialects as verify_dialects
from ..rules import dialects

if TYPE_CHECKING:
    from ..derive.hazards import Found

DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: Random configurations per rule: the quick default and --full.
SWEEP_QUICK, SWEEP_FULL = 8, 200
DEFAULT_REPORT = Path("reports") / "verify.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu", help="where to run (default cpu)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument("--rule", action="append", choices=sorted(VERIFIED), help="only this rule (repeatable)")
    parser.add_argument(
        "--impl",
        action="append",
        choices=sorted(IMPLEMENTATIONS) + ["port"],
        help="only this implementation (repeatable); 'port': the framework dialects' drop-ins",
    )
    parser.add_argument(
        "--dialect",
        action="append",
        metavar="NAME",
        help="only this framework dialect's drop-in rows (repeatable; see `symopt list`)",
    )
    parser.add_argument(
        "--no-frameworks",
        action="store_true",
        help="the dialects' drop-ins against their models only, not against the real frameworks",
    )
    parser.add_argument("--dtype", action="append", choices=sorted(DTYPES), help="only this dtype (repeatable)")
    parser.add_argument("--case", help="only the case with this name (torch's OptimizerInput desc)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per comparison (default 100)")
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the long sweep: {SWEEP_FULL} random configurations per rule, torch's foreach and fused paths too",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        metavar="N",
        help="run the comparisons in N processes (default 1); the rows are the serial run's",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every row and every finding (default: the matrix, findings by kind, failures)",
    )


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1; got {args.steps}")
    if getattr(args, "jobs", 1) < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if "cuda" in devices and not torch.cuda.is_available():
        raise ValueError("--device cuda needs a CUDA device, and torch sees none (torch.cuda.is_available() is False)")
    wanted = args.impl or [*IMPLEMENTATIONS, "port"]
    if getattr(args, "dialect", None):
        wanted = [n for n in wanted if n == "port"] or ["port"]
    impls = [IMPLEMENTATIONS[n] for n in wanted if n in IMPLEMENTATIONS]
    dialect_names = sorted({d for _, d in verify_dialects.keys()})
    for name in getattr(args, "dialect", None) or []:
        if name not in dialect_names:
            raise ValueError(f"--dialect must be one of {', '.join(dialect_names)}; got {name!r}")
    dtypes = [DTYPES[d] for d in (args.dtype or DTYPES)]
    if args.case:  # known before any run: a matrix case's name or a dialect case's label
        labels = {
            c.name
            for r in (args.rule or VERIFIED)
            for c in optim_db_inputs(r) + edges(r) + sweep(r, SWEEP_FULL if args.full else SWEEP_QUICK)
        }
        if "port" in wanted:
            labels |= {
                label for f, d in verify_dialects.keys() for label, _ in verify_dialects.cases(dialects.preset(f, d))
            }
        if args.case not in labels:
            raise ValueError(f"no case named {args.case!r}; see the 'case' column of `symopt verify`")
    if args.json:
        output_path(args.json, "--json")
    started = time.perf_counter()
    rows: list[Row] = []
    cases_run: list = []
    for device in devices:
        count = SWEEP_FULL if args.full else SWEEP_QUICK
        cases = [c for r in (args.rule or VERIFIED) for c in optim_db_inputs(r, device) + edges(r) + sweep(r, count)]
        if args.case:
            cases = [c for c in cases if c.name == args.case]
        show = not args.no_progress and sys.stderr.isatty()
        cases_run += cases
        if impls:
            rows += run_matrix(
                cases,
                impls,
                dtypes,
                steps=args.steps,
                device=device,
                full=args.full,
                progress=show,
                jobs=getattr(args, "jobs", 1),
            )
    not_run: dict = {}
    if "port" in wanted and "cpu" in devices:
        chosen = set(getattr(args, "dialect", None) or dialect_names)
        selected = [(f, d) for f, d in verify_dialects.keys() if f in (args.rule or VERIFIED) and d in chosen]
        dialect_rows, not_run = verify_dialects.rows(selected, frameworks=not getattr(args, "no_frameworks", False))
        rows += [
            r
            for r in dialect_rows
            if r.dtype in {str(d).removeprefix("torch.") for d in dtypes} and (not args.case or r.case == args.case)
        ]
    if args.case and not rows:
        raise ValueError(f"no case named {args.case!r}; see the 'case' column of `symopt verify`")
    equations = [c for family in ("adagrad", "rmsprop") for c in compare_dialects(family)]
    elapsed = time.perf_counter() - started
    if getattr(args, "verbose", False):
        print("Equations: the post's formulas against torch.optim's (one step from the same state)")
        for c in equations:
            print(f"  {c.describe()}")
    else:
        print(summary.equation_line(equations))
    kernel_rows = check_all_kernels()
    wrong_kernels = [(b, c) for b, c in kernel_rows if not c.identical]
    entries = ", ".join(f"{entry} ({n} kernels)" for entry, n in checked_entry_points(kernel_rows).items())
    print(
        f"Equations: {len(kernel_rows)} quantities of the generated kernels' entry points {entries}, executed on "
        f"symbols over every structural variant: {len(kernel_rows) - len(wrong_kernels)} equal their model"
    )
    for backend, c in wrong_kernels:
        print(f"  KERNEL DIFFERS ({backend}) {c.describe()}")
    print()
    ported = [r for r in rows if r.impl == "port"]
    if ported:
        against = sorted({r.reference for r in ported if not r.reference.startswith("interpreter")})
        print(
            f"Dialects: {len({(r.rule, r.dialect) for r in ported})} framework dialects' drop-ins (symopt.torch.port), "
            f"{len(ported)} rows: against their models (interpreter, float64) and against {len(against)} real frameworks"
            + (f" ({'; '.join(against)})" if against else "")
        )
    if getattr(args, "verbose", False):
        print_table(rows)
    else:
        print(*summary.matrix_lines(rows), sep="\n")
    failed = [r for r in rows if r.status == "FAIL"]
    hazard_lines = case_hazards(cases_run)
    document = envelope(
        "verify",
        {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device_names": {d: _device_name(d) for d in devices},
            "seconds": round(elapsed, 2),
            "equations": [
                {"family": c.family, "quantity": c.quantity, "identical": c.identical, "difference": str(c.difference)}
                for c in equations
            ],
            "kernel_equations": {
                "compared": len(kernel_rows),
                "identical": len(kernel_rows) - len(wrong_kernels),
                "differences": [
                    {"backend": b, "rule": c.family, "quantity": c.quantity, "difference": str(c.difference)}
                    for b, c in wrong_kernels
                ],
            },
            "rows": [r.to_json() for r in rows],
            "hazards": [{"rule": rule, "case": case, **f.to_json()} for rule, case, f in hazard_lines],
            "dialects_not_run": [{"family": f, "dialect": d, "reason": why} for (f, d), why in sorted(not_run.items())],
        },
    )
    for path in {DEFAULT_REPORT, Path(args.json)} if args.json else {DEFAULT_REPORT}:
        write_json_atomic(path, document)
    if getattr(args, "verbose", False):
        findings: dict[tuple[str, str, str, str], Row] = {}
        for r in rows:
            if r.note and r.status != "FAIL":
                findings.setdefault((r.rule, r.case, r.dtype, r.note), r)
        if findings:
            print(
                f"\nFindings: numeric hazards in torch.optim's own results, reproduced by every implementation ({len(findings)})"
            )
            for (rule, case, dtype, note), r in sorted(findings.items()):
                print(f"  {rule}/{case}/{dtype}: {note}\n    reproduce: {r.reproduce}")
    elif any(summary.is_finding(r) for r in rows):
        print()
        print(*summary.finding_lines(rows), sep="\n")
    if not_run and getattr(args, "verbose", False):
        print(
            f"\nDialects whose real framework was not run here ({len(not_run)}; their drop-ins are compared with the model):"
        )
        for (family, dialect), why in sorted(not_run.items()):
            print(f"  {family}[{dialect}]: {why}")
    elif not_run:
        print()
        print(*summary.not_run_lines(not_run), sep="\n")
    if hazard_lines:
        print(f"\nHazards: hyperparameters torch accepts that make no sense, in {len(hazard_lines)} case(s)")
        for rule, case, f in hazard_lines:
            print(f"  {rule}/{case}: {f.describe()}")
    print()
    for line in summary.failure_lines(rows):
        print(line)
    print(summary.verdict(rows, len(wrong_kernels), elapsed, str(DEFAULT_REPORT)))
    if wrong_kernels:
        print(
            f"FAILED: {len(wrong_kernels)} kernel quantities differ from their model (see 'KERNEL DIFFERS' above); "
            "regenerate with `make generate` or fix the printer"
        )
    return 1 if failed or wrong_kernels else 0


def case_hazards(cases: list) -> list[tuple[str, str, Found]]:
    """(rule, case name, :class:`symopt.derive.hazards.Found`) for every case whose
    hyperparameters meet a hazard of :data:`symopt.derive.hazards.HAZARDS`."""
    from .. import rules
    from ..derive.hazards import HAZARDS, hazards

    families = {h.family for h in HAZARDS}
    out: list[tuple[str, str, Found]] = []
    seen: set[tuple[str, str]] = set()
    for case in cases:
        if case.rule not in families or (case.rule, case.name) in seen:
            continue
        seen.add((case.rule, case.name))
        out += [(case.rule, case.name, f) for f in hazards(rules.get(case.rule), **case.model_kwargs)]
    return out


def print_table(rows: list[Row]) -> None:
    header = f"{'rule':<8} {'case':<46} {'dtype':<8} {'device':<6} {'impl':<12} {'max ULP':>9} {'tol':>6}  status"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.rule:<8} {r.case[:46]:<46} {r.dtype:<8} {r.device:<6} {r.impl:<12} {r.max_ulp:>9g} {r.tol_ulp:>6g}  {r.status}"
        )


def write_json_atomic(path: Path, document: dict) -> None:
    """Write ``document`` as JSON to ``path``, never half-written."""
    write_text_atomic(path, json.dumps(document, indent=1) + "\n")


def _device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine()
