"""The update-rule models. ``symopt.rules.adagrad()`` is torch.optim.Adagrad as data;
``dialect="textbook"`` gives the source post's formula. See :mod:`symopt.rules._base`."""

from __future__ import annotations

from typing import Callable

from ._base import Assign, Check, Hyperparameter, StateVar, UpdateRule, decide, g, has_reduction, t, tensor_sum, w
from ._conventions import TEXTBOOK, TORCH, Conventions
from .adagrad import adagrad
from .adagrad_norm import adagrad_norm
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
    "adagrad_norm": (adagrad_norm, ("torch",)),
}


def get(family: str, dialect: str | None = None) -> UpdateRule:
    """The rule ``family`` in ``dialect`` (its default dialect when None): one of the builder's own
    (``FAMILIES``: ``"torch"``, ``"textbook"``) or a framework's (:func:`framework_dialects`,
    :mod:`symopt.rules.dialects`: ``get("rmsprop", "keras")``)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown rule {family!r}; known: {', '.join(FAMILIES)}")
    build, dialects = FAMILIES[family]
    if dialect is not None and dialect not in dialects and dialect not in framework_dialects(family):
        known = ", ".join((*dialects, *framework_dialects(family)))
        raise ValueError(f"unknown dialect {dialect!r} of {family}; known: {known}")
    return build(dialect or dialects[0])


def framework_dialects(family: str) -> tuple[str, ...]:
    """The other frameworks' dialects of ``family`` (``("keras", "tf1", ...)``). They are not in
    ``FAMILIES``: no kernel is generated for them (``symopt generate`` writes the builders' own);
    the interpreter, the derivations and ``symopt.torch.port`` run them from the model."""
    from . import dialects as _dialects

    return _dialects.names(family)


def all_rules() -> list[UpdateRule]:
    """Every shipped rule in every dialect."""
    return [build(d) for build, dialects in FAMILIES.values() for d in dialects]


__all__ = [
    "Assign",
    "Check",
    "Conventions",
    "FAMILIES",
    "Hyperparameter",
    "StateVar",
    "TEXTBOOK",
    "TORCH",
    "UpdateRule",
    "adagrad",
    "adagrad_norm",
    "adam",
    "adamw",
    "all_rules",
    "decide",
    "framework_dialects",
    "g",
    "get",
    "has_reduction",
    "inverse_time",
    "rmsprop",
    "sgd",
    "t",
    "tensor_sum",
    "w",
]
