"""What ``symopt verify`` prints by default: the matrix one can read, not the rows one by one.

* :func:`matrix_lines` — one line per rule × implementation, a column per dtype: rows passed,
  failed and findings, and the largest error (in ULP) of a passing row;
* :func:`finding_lines` — the findings grouped by kind, with their count and one reproducer each;
* :func:`failure_lines` — every failed row in full, with its reproducer;
* :func:`not_run_lines` — the dialects whose real framework was not run, a line per reason;
* :func:`equation_line` — the post's formulas against torch.optim's, which quantities differ;
* :func:`verdict` — the one-line answer.

Every row stays in the JSON (``reports/verify.json``); ``symopt verify -v`` prints them all.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping

from .runner import Row

#: row statuses that are findings about torch.optim, not failures of symopt
FINDING_STATUSES = ("torch-disagrees", "ill-conditioned")


def is_finding(row: Row) -> bool:
    """A row that passed but says something about torch.optim's own result (a note), or that could
    not be decided against a torch path that disagrees with torch's for-loop, or ill-conditioned."""
    return row.status in FINDING_STATUSES or (row.status == "pass" and bool(row.note))


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_LIST = re.compile(r"\[[^\]]*\]")


def finding_kind(row: Row) -> str:
    """The kind of a finding: its note with the case's own numbers and index lists taken out
    ("torch.optim's params [1] are non-finite" and "... params [0, 2] ..." are one kind), or its
    status alone where the note begins by naming it ("ill-conditioned: ...")."""
    note = row.note.strip()
    if not note or note.split(":", 1)[0].strip() == row.status:
        return row.status
    kind = _NUMBER.sub("N", _LIST.sub("[…]", note))
    return kind if row.status == "pass" or kind.startswith(row.status) else f"{row.status}: {kind}"


def _cell(rows: list[Row]) -> str:
    if not rows:
        return "-"
    failed = sum(r.status == "FAIL" for r in rows)
    found = sum(is_finding(r) for r in rows)
    passed = len(rows) - failed - sum(r.status in FINDING_STATUSES for r in rows)
    worst = max((r.max_ulp for r in rows if r.status == "pass"), default=float("nan"))
    text = f"{passed}"
    if failed:
        text += f" {failed}F"
    if found:
        text += f" {found}f"
    return f"{text} {worst:.3g}" if worst == worst else text


def matrix_lines(rows: list[Row]) -> list[str]:
    """rule × implementation × dtype: ``passed [nF] [nf] max-ULP`` per cell (F: failed rows, f:
    rows with a finding; the ULP is the largest error of a passing row)."""
    dtypes = list(dict.fromkeys(r.dtype for r in rows))
    keys = list(dict.fromkeys((r.rule, r.impl) for r in rows))
    width = max([len(d) for d in dtypes] + [18])
    head = f"{'rule':<8} {'implementation':<14} " + " ".join(f"{d:>{width}}" for d in dtypes)
    out = [head, "-" * len(head)]
    for rule, impl in keys:
        cells = [_cell([r for r in rows if (r.rule, r.impl, r.dtype) == (rule, impl, d)]) for d in dtypes]
        out.append(f"{rule:<8} {impl:<14} " + " ".join(f"{c:>{width}}" for c in cells))
    out.append("cells: rows passed [nF failed] [nf with a finding] and the largest error of a passing row, in ULP")
    return out


def finding_lines(rows: Iterable[Row]) -> list[str]:
    """The findings by kind, the commonest first: ``[count] kind`` and one row's reproducer (its
    ``symopt verify`` command, which names the rule, case, dtype and implementation)."""
    found = [r for r in rows if is_finding(r)]
    if not found:
        return []
    kinds = Counter(finding_kind(r) for r in found)
    out = [f"Findings: {len(found)} rows, {len(kinds)} kinds (every row in the JSON; -v lists them)"]
    for kind, n in kinds.most_common():
        example = next(r for r in found if finding_kind(r) == kind)
        out.append(f"  [{n}] {kind}")
        out.append(f"      e.g. {example.reproduce}")
    return out


#: a missing frameworks environment's reason (``symopt.verify.dialects``): merged into one line
_MISSING_VENV = re.compile(r"^(?P<root>.*)/(?P<env>[\w.-]+) is missing: run `make frameworks`$")


def not_run_lines(not_run: Mapping[tuple[str, str], str], width: int = 100) -> list[str]:
    """The dialects whose real framework was not run here, one line per reason (the commonest
    first) with its count: ``  <reason> (n: names)`` (the names when at most four share it), the
    dialect's name where it is alone; the missing frameworks environments as one line,
    ``  n need `make frameworks` (<root>: tf 9, jax 4, ...)``. Lines after the header are cut at
    ``width`` (with "…"); ``symopt verify -v`` lists every dialect."""
    if not not_run:
        return []
    groups: dict[str, list[str]] = {}
    for (family, dialect), why in sorted(not_run.items()):
        groups.setdefault(why, []).append(f"{family}[{dialect}]")
    missing: dict[str, int] = {}
    root = ""
    for why in list(groups):
        found = _MISSING_VENV.match(why)
        if found:
            root = found["root"]
            missing[found["env"]] = len(groups.pop(why))
    out = [
        f"Dialects whose real framework was not run here ({len(not_run)}; their drop-ins are compared with the model; "
        "-v lists them):"
    ]
    if missing:
        envs = ", ".join(f"{env} {n}" for env, n in sorted(missing.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"  {sum(missing.values())} need `make frameworks` ({root}/: {envs})")
    for why, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(names) == 1:
            out.append(f"  {names[0]}: {why}")
        else:  # the names where a few share the reason, the count where many do
            out.append(f"  {why} ({len(names)}" + (f": {', '.join(names)})" if len(names) <= 4 else ")"))
    return out[:1] + [line if len(line) <= width else line[: width - 1] + "…" for line in out[1:]]


def equation_line(comparisons: Iterable[Any]) -> str:
    """The post's formulas against torch.optim's, one line: per rule, which quantities differ and
    which are identical (the differences themselves: ``-v`` and the JSON)."""
    by_rule: dict[str, tuple[list[str], list[str]]] = {}
    for c in comparisons:
        differ, same = by_rule.setdefault(c.family, ([], []))
        (same if c.identical else differ).append(c.quantity)
    parts = []
    for family, (differ, same) in by_rule.items():
        words = [f"{' and '.join(differ)} differ{'s' if len(differ) == 1 else ''}"] if differ else []
        words += [f"{' and '.join(same)} identical"] if same else []
        parts.append(f"{family} {', '.join(words)}")
    return (
        "Equations: the post's formulas against torch.optim's, one step from the same state: "
        + "; ".join(parts)
        + " (the differences: -v, reports/verify.json)"
    )


def failure_lines(rows: Iterable[Row]) -> list[str]:
    """Every failed row, in full."""
    return [
        f"FAILED {r.rule}/{r.case}/{r.dtype}/{r.impl} vs {r.reference}: max {r.max_ulp:g} ULP > {r.tol_ulp:g} "
        f"{r.note}\n  reproduce: {r.reproduce}"
        for r in rows
        if r.status == "FAIL"
    ]


def verdict(rows: list[Row], wrong_kernels: int, seconds: float, where: str) -> str:
    """The one-line answer: consistent with the equations and torch.optim, or not."""
    failed = sum(r.status == "FAIL" for r in rows)
    disagreeing = sum(r.status == "torch-disagrees" for r in rows)
    ill = sum(r.status == "ill-conditioned" for r in rows)
    passed = len(rows) - failed - disagreeing - ill
    extra = (
        f", {disagreeing} against a torch path that disagrees with torch's own for-loop (findings)"
        if disagreeing
        else ""
    )
    extra += f", {ill} ill-conditioned (the comparison cannot decide; see their notes)" if ill else ""
    kernels = f"; {wrong_kernels} kernel quantities differ from their model" if wrong_kernels else ""
    answer = "NOT CONSISTENT" if failed or wrong_kernels else "consistent"
    return f"{answer}: {passed} passed, {failed} failed{extra}{kernels} ({seconds:.1f} s); rows in {where}"
