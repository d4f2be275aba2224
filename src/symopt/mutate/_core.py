"""What a mutant is, what became of it, and how one is installed and undone.

A :class:`Mutant` is one mechanical change to one place of symopt — a model's assignment, a
generated kernel's operation, a derived statement, a tolerance — with a stable id (a hash of
where and what), so that a survivor can be explained once, in :mod:`.equivalent`, and stay
explained. An area module (:mod:`.models`, :mod:`.kernels`, :mod:`.statements`,
:mod:`.tolerances`) lists its mutants and evaluates one: installs it in this process, runs the
checks that should catch it (fast ones first, then the slower ones, stopping at the first that
fails), undoes it, and returns an :class:`Outcome`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import sys
import time
import types
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

#: what can become of a mutant
STATUSES = ("killed", "survived", "equivalent", "invalid")


@dataclass(frozen=True)
class Mutant:
    """One change: in ``area``, to ``target`` (a rule, a file, a derivation id), at ``location``,
    by ``operator``; ``original`` and ``mutated`` show the change in a line each."""

    area: str
    target: str
    location: str
    operator: str
    original: str
    mutated: str
    #: what the area needs to install it (not part of the id, not in JSON)
    payload: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def id(self) -> str:
        """Stable across runs: the same change at the same place has the same id."""
        key = "|".join((self.area, self.target, self.location, self.operator, self.mutated))
        return f"{self.area}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def describe(self) -> str:
        return f"{self.target} @ {self.location}: {self.operator}: {self.original!s} -> {self.mutated!s}"

    def to_json(self) -> dict[str, str]:
        out = {k: v for k, v in asdict(self).items() if k != "payload"}
        out["id"] = self.id
        return out


@dataclass(frozen=True)
class Outcome:
    """What became of a mutant: ``killed`` (``by`` names the check that failed), ``survived``
    (every check passed: a gap, unless :mod:`.equivalent` explains it), ``equivalent`` (provably
    changes nothing observable: ``by`` says why), ``invalid`` (it could not be built: the
    generator or the compiler refused it — counted apart, neither a kill nor a survivor)."""

    mutant: Mutant
    status: str
    by: str = ""
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        return {**self.mutant.to_json(), "status": self.status, "by": self.by, "seconds": round(self.seconds, 3)}


class Killed(Exception):
    """Raised by a check inside an evaluation: the mutant is caught, ``args[0]`` says by what."""


#: a check: raises :class:`Killed` (or any exception, which also kills) when it catches the mutant
Check = Callable[[], None]


def evaluate(
    mutant: Mutant,
    install: Callable[[Mutant], contextlib.AbstractContextManager],
    checks: list[tuple[str, Check]],
    fresh: bool = True,
) -> Outcome:
    """Install ``mutant``, run ``checks`` in order until one fails, undo it. With ``fresh`` the
    caches of symopt are cleared before and after, so that no result computed for the original
    (or the mutant) is reused by the other."""
    started = time.perf_counter()
    if fresh:
        clear_caches()
    try:
        try:
            context = install(mutant)
            context.__enter__()
        except Invalid as exc:
            return Outcome(mutant, "invalid", str(exc), time.perf_counter() - started)
        except Exception as exc:  # e.g. generated text that does not compile: it cannot be built
            return Outcome(
                mutant,
                "invalid",
                f"cannot be installed: {type(exc).__name__}: {str(exc)[:200]}",
                time.perf_counter() - started,
            )
        try:
            for name, check in checks:
                try:
                    check()
                except Killed as exc:
                    return Outcome(mutant, "killed", f"{name}: {exc}", time.perf_counter() - started)
                except Exception as exc:  # a check that crashes on the mutant has caught it too
                    return Outcome(
                        mutant,
                        "killed",
                        f"{name}: {type(exc).__name__}: {str(exc)[:200]}",
                        time.perf_counter() - started,
                    )
            return Outcome(mutant, "survived", "", time.perf_counter() - started)
        finally:
            context.__exit__(None, None, None)
    finally:
        if fresh:
            clear_caches()


class Invalid(Exception):
    """The mutant cannot be installed (the printer or compiler refuses it)."""


# -- installing: attributes and modules, undone in reverse order ---------------------------------
class Patches:
    """Attribute and ``sys.modules`` replacements, undone in reverse order on exit."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        missing = object()
        old = getattr(obj, name, missing)
        setattr(obj, name, value)
        self._undo.append(lambda: delattr(obj, name) if old is missing else setattr(obj, name, old))

    def setitem(self, mapping: dict, key: Any, value: Any) -> None:
        missing = object()
        old = mapping.get(key, missing)
        mapping[key] = value
        self._undo.append(lambda: mapping.pop(key, None) if old is missing else mapping.__setitem__(key, old))

    def module(self, name: str, module: types.ModuleType) -> None:
        """Make ``module`` what ``import name`` and the parent package attribute give."""
        self.setitem(sys.modules, name, module)
        parent, _, short = name.rpartition(".")
        if parent:
            self.setattr(importlib.import_module(parent), short, module)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> Patches:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.undo()


def module_from_source(name: str, source: str, like: types.ModuleType | None = None) -> types.ModuleType:
    """A new module called ``name`` executing ``source`` (with ``like``'s ``__file__`` and
    package, so that relative imports resolve as in the original)."""
    module = types.ModuleType(name)
    module.__file__ = getattr(like, "__file__", f"<mutant {name}>")
    module.__package__ = name.rpartition(".")[0]
    exec(compile(source, f"<mutant of {name}>", "exec"), module.__dict__)
    return module


def clear_caches() -> None:
    """Clear every ``functools`` cache of every loaded symopt module (derive's memo too)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("symopt") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, functools._lru_cache_wrapper):
                value.cache_clear()
        memo = getattr(module, "_MEMO", None)
        if isinstance(memo, dict):
            memo.clear()


@contextlib.contextmanager
def nothing() -> Iterator[None]:
    yield


__all__ = [
    "Check",
    "Invalid",
    "Killed",
    "Mutant",
    "Outcome",
    "Patches",
    "STATUSES",
    "clear_caches",
    "evaluate",
    "module_from_source",
]
