"""Run the mutants of the chosen areas and score them: ``symopt mutate``'s engine.

The score of an area is killed / (mutants − equivalent − invalid): the share of the mutants
that could be caught that were. A survivor not explained in :mod:`.equivalent` is a gap.
"""

from __future__ import annotations

import random
from types import ModuleType

from ._core import Mutant, Outcome
from .equivalent import EXPLAINED, KNOWN_GAPS


def areas() -> dict[str, ModuleType]:
    """area name -> module with ``all_mutants()`` and ``run(mutant)``, in report order."""
    from . import kernels, models, python, statements, tolerances

    out = {"model": models, "kernel": kernels}
    for optional in ("kernels_c", "kernels_triton"):
        try:
            module = __import__(f"symopt.mutate.{optional}", fromlist=["AREA"])
        except ImportError:
            continue
        out[module.AREA] = module
    out.update({"statement": statements, "tolerance": tolerances, "python": python})
    return out


def select(
    mutants: list[Mutant], *, target: str | None = None, sample: int | None = None, seed: int = 0
) -> list[Mutant]:
    """The mutants whose target contains ``target``; ``sample`` of them, seeded, in list order."""
    chosen = [m for m in mutants if target is None or target in m.target]
    if sample is not None and sample < len(chosen):
        keep = set(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [m for i, m in enumerate(chosen) if i in keep]
    return chosen


def judge(outcome: Outcome) -> Outcome:
    """A survivor the equivalent list explains becomes ``equivalent`` (with the reason); one of
    the known gaps stays ``survived``, its ``by`` naming the gap (:func:`is_known_gap`)."""
    if outcome.status == "survived" and outcome.mutant.id in EXPLAINED:
        return Outcome(outcome.mutant, "equivalent", f"explained: {EXPLAINED[outcome.mutant.id]}", outcome.seconds)
    if outcome.status == "survived" and outcome.mutant.id in KNOWN_GAPS:
        return Outcome(outcome.mutant, "survived", f"known gap: {KNOWN_GAPS[outcome.mutant.id]}", outcome.seconds)
    return outcome


def is_known_gap(outcome: Outcome) -> bool:
    """Whether ``outcome`` is a survivor listed in :data:`~.equivalent.KNOWN_GAPS`."""
    return outcome.status == "survived" and outcome.mutant.id in KNOWN_GAPS


def unexplained(outcomes: list[Outcome]) -> list[str]:
    """The survivors among ``outcomes`` that are neither equivalent nor a known gap, described;
    and, as a failure too, a known gap that did not survive (its entry is stale)."""
    out = [o.mutant.describe() for o in outcomes if o.status == "survived" and not is_known_gap(o)]
    out += [
        f"known gap no longer survives (delete it from KNOWN_GAPS): {o.mutant.id}"
        for o in outcomes
        if o.mutant.id in KNOWN_GAPS and o.status != "survived"
    ]
    return out


def stale_explanations(all_ids: set[str]) -> list[str]:
    """Entries of the equivalent list whose mutant no longer exists."""
    return sorted(i for i in EXPLAINED if i not in all_ids)


def baseline(area_module: ModuleType, mutants: list[Mutant]) -> list[str]:
    """The checks of each target among ``mutants`` run once on the unmutated code (areas whose
    module has ``checks(mutant)``): a check that fails there kills every mutant of its target by
    construction, and the score would count those kills. One line per failing (target, check);
    empty when every oracle passes on the committed code."""
    checks = getattr(area_module, "checks", None)
    if checks is None:
        return []
    failures, seen = [], set()
    for m in mutants:
        if m.target in seen:
            continue
        seen.add(m.target)
        for name, check in checks(m):
            try:
                check()
            except Exception as exc:  # Killed or a crash: either way the oracle fails unmutated
                failures.append(
                    f"{area_module.AREA} {m.target}: {name} fails on the unmutated code: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
                )
    return failures


def run_mutants(area_module: ModuleType, mutants: list[Mutant], progress=None) -> list[Outcome]:
    out = []
    for m in mutants:
        out.append(judge(area_module.run(m)))
        if progress is not None:
            progress(out[-1])
    return out


def _worker(area: str, ids: list[str]) -> list[dict]:
    """In a fresh process: list ``area``'s mutants, run those with ``ids`` (JSON rows back)."""
    module = areas()[area]
    wanted = set(ids)
    return [o.to_json() for o in run_mutants(module, [m for m in module.all_mutants() if m.id in wanted])]


__all__ = ["areas", "judge", "run_mutants", "select", "stale_explanations"]
