"""``symopt port-map FAMILY [--frameworks A B ... | --all] [--json] [--output PATH]``: every ordered pair of
frameworks, each source's call at its own defaults ported to each target (``symopt port``):
exact (with its conditions), approximate (the worst-case ratio of effective learning rates) or none.

The default frameworks are the report's (torch, keras, tf1, optax: a minute); ``--all`` maps every
dialect of the family (about 300 pairs, each a symbolic comparison and its numeric check: tens of
minutes on 2 cores, with a progress bar on a terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", choices=("adagrad", "rmsprop"), help="rule family")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--frameworks",
        nargs="+",
        metavar="NAME",
        help="the frameworks to map (default: torch keras tf1 optax; see `symopt list`)",
    )
    which.add_argument("--all", action="store_true", help="every framework dialect of the family")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="also write the JSON here, atomically (the report reads reports/port-map-FAMILY.json)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def frameworks_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The frameworks ``args`` names, each checked (a one-line error naming the known ones)."""
    from . import examples as E

    known = E.dialects_of(args.family)
    if args.all:
        return known
    names = tuple(args.frameworks) if args.frameworks else E.MAP_FRAMEWORKS
    for name in names:
        if name not in known:
            raise ValueError(f"--frameworks must name {args.family} dialects: {', '.join(known)}; got {name!r}")
    if len(set(names)) < 2:
        raise ValueError(f"--frameworks must name at least two different frameworks; got {' '.join(names)}")
    return tuple(dict.fromkeys(names))


def cell_text(verdict: str, max_lr_ratio: float | None, conditions: list[str], **measured: object) -> str:
    """A cell of the printed map: ``exact`` (``exact*`` under conditions), else the worst-case
    rate ratio and the verdict's first letter (``1.272a``, ``307.3n``)."""
    if verdict == "exact":
        return "exact*" if conditions else "exact"
    if max_lr_ratio is None:
        return verdict
    return f"{max_lr_ratio:.4g}{verdict[0]}"


def table(names: tuple[str, ...], cells: dict[tuple[str, str], dict]) -> list[str]:
    """The map as text lines: a row per source, a column per target (each as wide as it needs)."""
    rows = {a: ["--" if a == b else cell_text(**cells[a, b]) for b in names] for a in names}
    widths = [max(len(b), *(len(rows[a][j]) for a in names)) + 2 for j, b in enumerate(names)]
    first = max(len(a) for a in names)
    lines = [" " * first + "".join(f"{b:>{w}}" for b, w in zip(names, widths))]
    lines += [f"{a:<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(rows[a], widths)) for a in names]
    return lines


def run(args: argparse.Namespace) -> int:
    from . import examples as E

    names = frameworks_of(args)
    if args.output:
        from .._io import output_path

        output_path(args.output, "--output")  # before the work: no run fails at its last step
    started = time.perf_counter()
    total = len(names) * (len(names) - 1)
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"port-map {args.family}", unit="pair", leave=False)
    try:
        ports = E.pair_map(args.family, names, progress=None if bar is None else lambda a, b: bar.update())
    finally:
        if bar is not None:
            bar.close()
    cells = {pair: E.cell(p) for pair, p in ports.items()}
    counts = {v: sum(c["verdict"] == v for c in cells.values()) for v in ("exact", "approximate", "none")}
    if args.json or args.output:
        from ..schemas import envelope

        pairs = [
            {"source": a, "target": b, "source_call": p.source, "target_call": p.target_call, **cells[a, b]}
            for (a, b), p in ports.items()
        ]
        payload = {
            "family": args.family,
            "frameworks": list(names),
            "lr": E.LR,
            "counts": counts,
            "seconds": round(time.perf_counter() - started, 1),
            "pairs": pairs,
        }
        text = json.dumps(envelope("port-map", payload), indent=2)
        if args.output:
            from .._io import write_text_atomic

            write_text_atomic(args.output, text + "\n")
        if args.json:
            print(text)
            return 0
    print(
        f"{args.family}: each row's call at its own defaults (a required learning rate set to {E.LR:g}) "
        "ported to each column"
    )
    print("\n".join(table(names, cells)))
    print(
        f"exact: the same step map (*: under conditions, below); a number: the best target configuration's "
        f"worst-case ratio of effective learning rates (a: approximate, n: none, above {_none_above():g})"
    )
    for (a, b), c in cells.items():
        for condition in c["conditions"] if c["verdict"] == "exact" else ():
            print(f"  {a} -> {b}: {condition}")
    print(
        f"{len(cells)} pairs: {counts['exact']} exact, {counts['approximate']} approximate, {counts['none']} none "
        f"({time.perf_counter() - started:.0f} s)"
    )
    if args.output:
        print(f"wrote {args.output}")
    return 0


def _none_above() -> float:
    from .port import NONE_ABOVE

    return NONE_ABOVE
