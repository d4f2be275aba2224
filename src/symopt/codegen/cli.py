"""``symopt generate [--check]``: write the generated kernels, or check the committed ones.

``--check`` regenerates into a temporary directory and compares it with the committed files; it
exits 1 naming every stale, missing or orphaned file, with a unified diff and the command that
refreshes them (``make generate``), and 0 with one line otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .render import KERNELS, generate_all, package_root, write_atomic

REFRESH = "make generate"


@dataclass(frozen=True)
class Difference:
    """One generated file that does not match: ``stale`` (differs), ``missing``, or ``orphan``
    (a module under kernels/ that generation no longer produces)."""

    path: Path
    kind: str
    diff: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="fail (exit 1) if committed kernels are stale")
    parser.add_argument(
        "--root", type=Path, default=None, help="package directory to write into or check (default: src/symopt)"
    )


def write(root: Path) -> list[Path]:
    """Write every generated file under ``root``; returns the files whose content changed."""
    return [root / rel for rel, text in generate_all().items() if write_atomic(root / rel, text)]


def check(root: Path) -> list[Difference]:
    """Regenerate into a temporary directory and compare with the files under ``root``."""
    found: list[Difference] = []
    with tempfile.TemporaryDirectory(prefix="symopt-generate-") as tmp:
        fresh_root = Path(tmp)
        expected = generate_all()
        for rel, text in expected.items():
            write_atomic(fresh_root / rel, text)
        for rel in expected:
            fresh = (fresh_root / rel).read_text(encoding="utf-8")
            committed_path = root / rel
            if not committed_path.exists():
                diff = _diff("", fresh, rel)
                found.append(Difference(rel, "missing", diff))
                continue
            committed = committed_path.read_text(encoding="utf-8")
            if committed != fresh:
                found.append(Difference(rel, "stale", _diff(committed, fresh, rel)))
        kernels = root / KERNELS
        if kernels.is_dir():
            for path in sorted(p for pattern in ("*.py", "*.c") for p in kernels.rglob(pattern)):
                rel = path.relative_to(root)
                if rel not in expected:
                    found.append(Difference(rel, "orphan", _diff(path.read_text(encoding="utf-8"), "", rel)))
    return found


def _diff(old: str, new: str, rel: Path) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"committed/{rel}", f"generated/{rel}"
        )
    )


def run(args: argparse.Namespace) -> int:
    root = args.root if args.root is not None else package_root()
    if args.root is not None and not Path(root).is_dir():
        raise ValueError(
            f"--root {root}: no such directory (the package folder to write into or check, e.g. src/symopt)"
        )
    if args.check:
        differences = check(root)
        if not differences:
            print(f"symopt generate --check: OK, {len(generate_all())} generated files are up to date")
            return 0
        for d in differences:
            print(f"{d.kind}: {root / d.path}", file=sys.stderr)
        for d in differences:
            sys.stderr.write(d.diff if d.diff.endswith("\n") or not d.diff else d.diff + "\n")
        print(
            f"symopt generate --check: {len(differences)} generated file(s) out of date; "
            f"refresh them with `{REFRESH}` (or `symopt generate`)",
            file=sys.stderr,
        )
        return 1
    changed = write(root)
    for rel in generate_all():
        state = "wrote" if root / rel in changed else "unchanged"
        print(f"{state}: {root / rel}")
    return 0
