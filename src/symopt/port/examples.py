"""The porting examples and the pairwise map of the report's frameworks section and of the
notebook ``07_frameworks``: each a :func:`symopt.port.port.port` run, nothing tabulated by hand.

:func:`pair_map` ports each framework's call *at its own defaults* (a required learning rate set
to :data:`LR`) to every other framework of the family: ``exact`` when the target has a
configuration with the same step map (with its conditions), ``approximate`` with the worst-case
ratio of the two effective learning rates, ``none`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..rules import dialects as D
from .calls import format_call
from .port import Port, port

#: the calls the issue names, as users write them
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.9, epsilon=1e-7, momentum=0.9)", "torch"),
    ("tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.016, decay=0.9, momentum=0.9, epsilon=1e-3)", "torch"),
    ("optax.rmsprop(learning_rate=1e-3, decay=0.9, eps=1e-8)", "torch"),
    ("keras.optimizers.Adagrad(learning_rate=0.01)", "torch"),
    ("torch.optim.RMSprop(params, lr=0.01, alpha=0.99, eps=1e-8)", "keras"),
)

#: the frameworks of the pairwise map (the ones most ported between)
MAP_FRAMEWORKS = ("torch", "keras", "tf1", "optax")

#: the learning rate put in where a framework requires one (tf1's, optax's)
LR = 0.01


def default_call(family: str, framework: str) -> str:
    """``framework``'s ``family`` call at its defaults (a required learning rate set to :data:`LR`)."""
    dialect = D.preset(family, framework)
    values = dialect.values()
    for a in dialect.arguments:
        if a.required and values.get(a.name) is None:
            values[a.name] = LR
    return format_call(dialect, values)


def examples() -> list[Port]:
    """:data:`EXAMPLES`, each ported."""
    return [port(call, to) for call, to in EXAMPLES]


def pair_map(
    family: str, frameworks: tuple[str, ...] = MAP_FRAMEWORKS, progress: Callable[[str, str], None] | None = None
) -> dict[tuple[str, str], Port]:
    """(source, target) → the port of the source's default call to the target, for every ordered
    pair of ``frameworks`` that have a ``family`` dialect (``progress(source, target)`` after each)."""
    have = [f for f in frameworks if (family, f) in D.table()]
    out = {}
    for a in have:
        for b in have:
            if a != b:
                out[a, b] = port(default_call(family, a), b)
                if progress is not None:
                    progress(a, b)
    return out


def dialects_of(family: str) -> tuple[str, ...]:
    """Every framework dialect of ``family`` (torch first), the frameworks of the full map."""
    names = sorted(name for fam, name in D.table() if fam == family)
    return tuple(sorted(names, key=lambda n: n != "torch"))


def cell(p: Port) -> dict[str, Any]:
    """A map cell: the verdict, the ratio where approximate, the conditions where exact, and what
    the port measured (an exact port's largest relative error over 200 interpreted steps, an
    approximate one's sweep of the derived ratio)."""
    return {
        "verdict": p.verdict,
        "max_lr_ratio": p.max_lr_ratio,
        "conditions": list(p.conditions),
        "measured": dict(p.measured),
    }


__all__ = ["EXAMPLES", "LR", "MAP_FRAMEWORKS", "cell", "default_call", "dialects_of", "examples", "pair_map"]
