"""``symopt mutate``: run the mutation harness and report the score per area and every survivor.

Writes ``reports/mutate.json`` (``--json PATH`` too). Exit code 0 only when no mutant survives
unexplained (see :mod:`symopt.mutate.equivalent`); 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from .._io import output_path, write_text_atomic
from ..schemas import envelope
from .run import _worker, areas, baseline, judge, select, stale_explanations

DEFAULT_REPORT = Path("reports") / "mutate.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = list(areas())
    parser.add_argument("--area", action="append", choices=names, help="only this area (repeatable; default: all)")
    parser.add_argument(
        "--target", help="only mutants whose target contains this text (a rule, a file, a derivation id)"
    )
    parser.add_argument("--sample", type=int, help="a seeded sample of this many mutants per area")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="processes to run mutants in (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutants (id, area, change) and stop")
    parser.add_argument("--json", metavar="PATH", help="also write the outcomes as JSON to PATH")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--resume",
        metavar="PATH",
        help="reuse the outcomes of an earlier (possibly stopped) run's JSON made on this same source tree",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip running each target's checks on the unmutated code first (they must pass there)",
    )


def run(args: argparse.Namespace) -> int:
    if args.sample is not None and args.sample < 1:
        raise ValueError(f"--sample must be >= 1; got {args.sample}")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    if args.json:
        output_path(args.json, "--json")
    if getattr(args, "resume", None) and not Path(args.resume).is_file():
        raise ValueError(f"--resume {args.resume}: no such file (a JSON written by `symopt mutate --json`)")
    chosen_areas = {name: module for name, module in areas().items() if not args.area or name in args.area}
    started = time.perf_counter()
    listed = {name: module.all_mutants() for name, module in chosen_areas.items()}
    picked = {name: select(ms, target=args.target, sample=args.sample, seed=args.seed) for name, ms in listed.items()}
    source = source_hash()
    rows: list[dict] = []
    if getattr(args, "resume", None):
        rows = resumed(Path(args.resume), source, {m.id for ms in picked.values() for m in ms})
        done = {r["id"] for r in rows}
        print(f"resumed {len(rows)} outcomes from {args.resume}")
        picked = {name: [m for m in ms if m.id not in done] for name, ms in picked.items()}
    if args.list:
        for ms in picked.values():
            for m in ms:
                print(f"{m.id}  {m.describe()}")
        print(f"{sum(map(len, picked.values()))} mutants")
        return 0
    if not getattr(args, "no_baseline", False):
        failing = [line for name, ms in picked.items() for line in baseline(chosen_areas[name], ms)]
        if failing:
            print("The checks must pass on the unmutated code before a mutant's kill means anything:")
            for line in failing:
                print(f"  BASELINE FAILS: {line}")
            return 1
    total = sum(map(len, picked.values()))
    outputs = {DEFAULT_REPORT, Path(args.json)} if args.json else {DEFAULT_REPORT}
    last_write = [time.perf_counter()]

    def keep(force: bool = False) -> None:
        """Write what has run so far ("complete": false) at most every WRITE_EVERY seconds, and
        when the run is stopped (``force``): its outcomes survive, and --resume takes them up."""
        if not force and time.perf_counter() - last_write[0] < WRITE_EVERY:
            return
        document = envelope(
            "mutate",
            {
                "seconds": round(time.perf_counter() - started, 1),
                "sample": args.sample,
                "seed": args.seed,
                "target": args.target,
                "complete": False,
                "source": source,
                "scores": [score_rows(name, [r for r in rows if r["area"] == name]) for name in picked],
                "outcomes": rows,
                "stale_explanations": [],
            },
        )
        for path in outputs:
            write_text_atomic(path, json.dumps(document, indent=1) + "\n")
        last_write[0] = time.perf_counter()

    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc="mutate", unit="mutant", leave=False)
    try:
        serial = {
            name: ms for name, ms in picked.items() if args.jobs == 1 or getattr(chosen_areas[name], "SERIAL", False)
        }
        for name, ms in serial.items():
            module = chosen_areas[name]
            for m in ms:
                rows.append(judge(module.run(m)).to_json())
                keep()
                if bar is not None:
                    bar.update()
        parallel = {name: ms for name, ms in picked.items() if name not in serial}
        if parallel:
            with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
                futures = []
                for name, ms in parallel.items():
                    ids = [m.id for m in ms]
                    size = max(1, len(ids) // (4 * args.jobs) + 1)
                    futures += [pool.submit(_worker, name, ids[i : i + size]) for i in range(0, len(ids), size)]
                for f in futures:
                    part = f.result()
                    rows += part
                    keep()
                    if bar is not None:
                        bar.update(len(part))
    except BaseException:  # stopped (Ctrl-C, a crash): keep what ran
        keep(force=True)
        raise
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - started
    scores = [score_rows(name, [r for r in rows if r["area"] == name]) for name in picked]
    print_summary(scores, rows, elapsed)
    for name, module in chosen_areas.items():
        why = module.available() if hasattr(module, "available") else ""
        if why:
            print(f"note: area {name} has no mutants here: {why}")
    all_ids = {m.id for ms in listed.values() for m in ms}
    stale = stale_explanations(all_ids) if not args.target and args.sample is None and not args.area else []
    for i in stale:
        print(f"STALE explanation in symopt/mutate/equivalent.py: {i} names no mutant (remove it)")
    document = envelope(
        "mutate",
        {
            "seconds": round(elapsed, 1),
            "sample": args.sample,
            "seed": args.seed,
            "target": args.target,
            "complete": True,
            "source": source,
            "scores": [s for s in scores],
            "outcomes": rows,
            "stale_explanations": stale,
        },
    )
    for path in {DEFAULT_REPORT, Path(args.json)} if args.json else {DEFAULT_REPORT}:
        write_text_atomic(path, json.dumps(document, indent=1) + "\n")
    survivors = [r for r in rows if r["status"] == "survived"]
    return 1 if survivors or stale else 0


#: seconds between two writes of a run's partial outcomes
WRITE_EVERY = 30.0


def source_hash() -> str:
    """A hash of what a mutant's outcome depends on: every file of the package (models,
    printers, generated kernels, checks) and of the tests, by path and content."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    trees = [root] + ([root.parents[1] / "tests"] if (root.parents[1] / "tests").is_dir() else [])
    for tree in trees:
        for path in sorted(
            p
            for p in tree.rglob("*")
            if p.is_file() and p.suffix in (".py", ".c", ".json", ".md") and "__pycache__" not in p.parts
        ):
            digest.update(str(path.relative_to(tree)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def resumed(path: Path, source: str, wanted: set[str]) -> list[dict]:
    """The outcomes of the run recorded at ``path`` that are among ``wanted``, when it was made on
    the same source (:func:`source_hash`); a one-line error otherwise."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"--resume {path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"--resume {path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != "symopt.mutate/1":
        raise ValueError(f"--resume {path}: not a symopt mutate document (schema symopt.mutate/1)")
    if document.get("source") != source:
        raise ValueError(
            f"--resume {path}: recorded on another source tree ({document.get('source')}; this one is {source}): "
            "its outcomes may not hold here; run without --resume"
        )
    return [r for r in document.get("outcomes", []) if r.get("id") in wanted]


def score_rows(area: str, rows: list[dict]) -> dict:
    count = {
        status: sum(r["status"] == status for r in rows) for status in ("killed", "survived", "equivalent", "invalid")
    }
    decided = len(rows) - count["equivalent"] - count["invalid"]
    return {
        "area": area,
        "mutants": len(rows),
        **count,
        "score": round(count["killed"] / decided, 4) if decided else None,
    }


def print_summary(scores: list[dict], rows: list[dict], elapsed: float) -> None:
    print("Mutation score per area: killed / (mutants - equivalent - invalid)")
    header = f"{'area':<14} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10} {'invalid':>7} {'score':>7}"
    print(header)
    print("-" * len(header))
    for s in scores:
        shown = f"{100 * s['score']:.1f}%" if s["score"] is not None else "-"
        print(
            f"{s['area']:<14} {s['mutants']:>7} {s['killed']:>7} {s['survived']:>8} {s['equivalent']:>10} {s['invalid']:>7} {shown:>7}"
        )
    survivors = [r for r in rows if r["status"] == "survived"]
    if survivors:
        print(
            f"\nSurvivors ({len(survivors)}): a check that catches each is missing, or it is equivalent (symopt/mutate/equivalent.py)"
        )
        for r in survivors:
            print(f"  {r['id']}  {r['target']} @ {r['location']}: {r['operator']}: {r['original']} -> {r['mutated']}")
            if str(r.get("by", "")).startswith("known gap"):
                print(f"      {r['by']}")
    explained = [r for r in rows if r["status"] == "equivalent"]
    if explained:
        print(f"\nEquivalent ({len(explained)}): " + "; ".join(sorted({r["by"].split(":")[0] for r in explained})))
    print(f"\n{len(rows)} mutants, {len(survivors)} survived unexplained ({elapsed:.0f} s)")


__all__ = ["add_arguments", "run"]
