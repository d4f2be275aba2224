"""The update-rule models. ``symopt.rules.adagrad()`` is torch.optim.Adagrad as data;
``dialect="textbook"`` gives the source post's formula. See :mod:`symopt.rules._base`."""

from __future__ import annotations

from typing import Callable

from ._base import Assign, Check, Hyperparameter, StateVar, UpdateRule, decide, g, t, w
from ._conventions import TEXTBOOK, TORCH, Conventions
from .adagrad import adagrad
from .adam import adam, adamw
from .inverse_time import inverse_time
from .rmsprop import rmsprop
from .sgd import sgd

#: family name -> (builder, dialects). The first dialect is the default.
FAMILIES: dict[str, tuple[Callable[..., UpdateRule], tuple[str, ...]]] = {
    "adagrad": (adagrad, ("torch", "textbook")),
    "rmsprop": (rmsprop, ("torch", "textbook")),
    "sgd": (sgd, ("torch",)),
    "adam": (adam, ("torch",)),
    "adamw": (adamw, ("torch",)),
    "inverse_time": (inverse_time, ("corrected", "textbook")),
}


def get(family: str, dialect: str | None = None) -> UpdateRule:
    """The rule ``family`` in ``dialect`` (its default dialect when None)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown rule {family!r}; known: {', '.join(FAMILIES)}")
    build, dialects = FAMILIES[family]
    return build(dialect or dialects[0])


def all_rules() -> list[UpdateRule]:
    """Every shipped rule in every dialect."""
    return [build(d) for build, dialects in FAMILIES.values() for d in dialects]


__all__ = [
    "Assign", "Check", "Conventions", "FAMILIES", "Hyperparameter", "StateVar", "TEXTBOOK", "TORCH",
    "UpdateRule", "adagrad", "adam", "adamw", "all_rules", "decide", "g", "get", "inverse_time", "rmsprop", "sgd", "t", "w",
]
