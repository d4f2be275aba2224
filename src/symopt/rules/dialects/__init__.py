"""Other frameworks' AdaGrad and RMSProp as presets of one model: a *dialect* is data.

One file per framework (``keras.py``, ``tf.py``, ``optax.py``, ...), each a small table of
:class:`Dialect` presets: the framework's argument names and defaults, the
:class:`~symopt.rules.Conventions` it follows, and the source file they were read from. The family
builders (:func:`symopt.rules.adagrad`, :func:`symopt.rules.rmsprop`) stay generic: they build the
model from the conventions, and :meth:`Dialect.apply` renames its hyperparameters to the
framework's keywords, sets the framework's defaults and fixes what the framework does not offer
(torch's ``maximize``, say) at its neutral value. Every derivation, printer and the interpreter
then run on the result unchanged.

>>> from symopt import rules
>>> rule = rules.get("rmsprop", "keras")
>>> [h.name for h in rule.hyperparameters]
['learning_rate', 'rho', 'momentum', 'epsilon', 'centered', 'weight_decay']

``symopt list`` shows every dialect; :func:`find_call` resolves a user's call
(``keras.optimizers.RMSprop``) to its dialect (``symopt port``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import sympy as sp

#: the modules of this package, one per framework, in the order ``symopt list`` shows them
FRAMEWORK_MODULES = (
    "torch",
    "keras",
    "tf",
    "optax",
    "jax_example",
    "timm",
    "sb3",
    "chainer",
    "mxnet",
    "paddle",
    "caffe",
    "lasagne",
    "torch7",
    "flax",
    "sonnet",
    "bitsandbytes",
    "apex",
    "deepspeed",
)


@dataclass(frozen=True)
class Argument:
    """One keyword of the framework's constructor: ``name`` (the framework's), ``generic`` (the
    hyperparameter of the family model it sets: torch's name, or the convention's flag such as
    ``eps_in_sqrt``), ``default`` (the framework's; ``None``: required, no default).
    ``none`` is the value that ``None`` stands for where the framework accepts it (Keras's
    ``weight_decay=None``, optax's ``momentum=None``: 0); ``None``: not accepted."""

    name: str
    generic: str
    default: float | bool | None
    doc: str = ""
    none: float | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Call:
    """A callable of the framework that builds this dialect: its dotted ``paths`` as users write
    it (the first is the canonical one); ``set``: keywords this call fixes, accepted only with that
    value (``ApplyCenteredRMSProp``: ``centered=True``; bitsandbytes: ``optim_bits=32``);
    ``defaults``: the defaults it changes (``rmsprop_momentum``: ``momentum=0.9``); ``hidden``:
    keywords accepted that do not change the numbers (``name``, ``use_locking``, ``foreach``);
    ``signature``: the framework's positional order where it is not the dialect's arguments less
    ``set`` (MXNet's ``RMSProp(learning_rate, rho, momentum, epsilon, centered)``, whose
    ``momentum`` and ``centered`` one dialect hides or sets).

    Two dialects may share a path when ``set`` tells them apart (MXNet's ``centered``): a call is
    the first dialect whose ``set`` the user's keywords do not contradict (:func:`select_call`), so
    the dialect listed first is the framework's default."""

    paths: tuple[str, ...]
    set: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    signature: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.paths[0]


@dataclass(frozen=True)
class Dialect:
    """A framework's variant of one family, as data.

    ``conventions`` are overrides of :class:`~symopt.rules.Conventions`; ``arguments`` the
    framework's keywords in its signature order; ``fixed`` the values of the family model's
    hyperparameters the framework does not offer (those not named default to the model's own
    default, which is the neutral value: ``maximize=False``, ``weight_decay=0``, ...).
    ``source`` is the file the facts were read from; ``verified`` how they were checked here
    (the frameworks tier, ``tests/test_frameworks.py``) or why they could not be.
    """

    family: str
    name: str
    framework: str
    source: str
    conventions: Mapping[str, Any]
    arguments: tuple[Argument, ...]
    calls: tuple[Call, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    verified: str = "not installable here"
    states: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.family, self.name)

    def argument(self, name: str) -> Argument:
        for a in self.arguments:
            if a.name == name:
                return a
        allowed = ", ".join(a.name for a in self.arguments)
        raise KeyError(f"{self.calls[0].path} has no argument {name!r}; it takes: {allowed}")

    def rule(self):
        """The family model in this dialect (``symopt.rules.get(family, name)``)."""
        from .. import get

        return get(self.family, self.name)

    def apply(self, rule):
        """``rule`` (the family model built with this dialect's conventions) with the framework's
        keywords, defaults and signature order; hyperparameters it does not offer fixed."""
        by_generic = {a.generic: a for a in self.arguments}
        missing = sorted(set(by_generic) - {h.name for h in rule.hyperparameters})
        if missing:
            raise ValueError(
                f"dialect {self.name!r} of {self.family}: the model has no hyperparameter {', '.join(missing)}"
            )
        fixed = {h.name: self.fixed.get(h.name, h.default) for h in rule.hyperparameters if h.name not in by_generic}
        specialized = rule.specialize(**fixed)
        numbers = {rule.hyperparameter(n).symbol: _sympy_number(v) for n, v in fixed.items() if not isinstance(v, bool)}
        body = tuple(replace(a, expr=a.expr.xreplace(numbers), when=a.when.xreplace(numbers)) for a in specialized.body)
        states = tuple(replace(s, initial=s.initial.xreplace(numbers)) for s in specialized.states)
        renamed = {}
        for a in self.arguments:
            h = rule.hyperparameter(a.generic)
            default = a.default if a.default is not None else h.default
            error = "" if h.is_flag else f"Invalid {a.name} value: {{value}}"
            renamed[a.name] = replace(h, name=a.name, default=default, error=error)
        return replace(
            specialized,
            dialect=self.name,
            hyperparameters=tuple(renamed.values()),
            states=states,
            body=body,
            reference=f"{self.calls[0].path} ({self.framework}; {self.source})",
            validation_order=tuple(renamed),
            checks=(),
        )

    def values(self, call: Call | None = None, **given: Any) -> dict[str, Any]:
        """The keyword values of one construction: ``given`` over the call's defaults and sets."""
        call = call or self.calls[0]
        out = {a.name: a.default for a in self.arguments}
        out.update(call.defaults)
        out.update(given)
        out.update({k: v for k, v in call.set.items() if k in out})
        return out


def _sympy_number(value: Any) -> sp.Expr:
    """A fixed value as an exact number (1e-10 → 1/10000000000): derivations stay exact."""
    value = float(value)
    return sp.Integer(int(value)) if value.is_integer() else sp.Rational(repr(value))


def _load() -> dict[tuple[str, str], Dialect]:
    table: dict[tuple[str, str], Dialect] = {}
    for module in FRAMEWORK_MODULES:
        for d in importlib.import_module(f"{__name__}.{module}").DIALECTS:
            if d.key in table:
                raise ValueError(f"dialect {d.name!r} of {d.family} is defined twice")
            table[d.key] = d
    return table


_TABLE: dict[tuple[str, str], Dialect] | None = None


def table() -> dict[tuple[str, str], Dialect]:
    """Every framework dialect, ``{(family, name): Dialect}``, in ``FRAMEWORK_MODULES`` order."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _load()
    return _TABLE


def names(family: str) -> tuple[str, ...]:
    """The framework dialects of ``family`` (``torch`` and ``textbook`` are the builders' own)."""
    return tuple(n for f, n in table() if f == family and n != "torch")


def preset(family: str, name: str) -> Dialect:
    try:
        return table()[(family, name)]
    except KeyError:
        known = ", ".join(n for f, n in table() if f == family)
        raise ValueError(f"dialect must be one of 'torch', 'textbook', {known}; got {name!r}") from None


def find_calls(path: str) -> list[tuple[Dialect, Call]]:
    """Every (dialect, call) a user's dotted callable names (``keras.optimizers.RMSprop``), in
    table order; more than one where the call's ``set`` keywords choose the dialect."""
    found = [(d, c) for d in table().values() for c in d.calls if path in c.paths]
    if not found:
        raise ValueError(f"unknown optimizer {path!r}; known: {', '.join(known_calls())}")
    return found


def find_call(path: str) -> tuple[Dialect, Call]:
    """The first dialect and call ``path`` names (:func:`find_calls`)."""
    return find_calls(path)[0]


def select_call(candidates: list[tuple[Dialect, Call]], given: Mapping[str, Any]) -> tuple[Dialect, Call]:
    """The first candidate whose ``set`` keywords ``given`` does not contradict (``centered=True``
    picks MXNet's centered RMSProp; no ``centered``, the first, the framework's default); the
    first when every one is contradicted (its ``resolve`` names the fixed keyword)."""
    for d, c in candidates:
        if all(given.get(k, v) == v for k, v in c.set.items()):
            return d, c
    return candidates[0]


def known_calls() -> list[str]:
    return list(dict.fromkeys(c.path for d in table().values() for c in d.calls))


def frameworks() -> dict[str, list[Dialect]]:
    """Framework name (as ``port --to`` takes it: the dialect name) -> its dialects."""
    out: dict[str, list[Dialect]] = {}
    for d in table().values():
        out.setdefault(d.name, []).append(d)
    return out


__all__ = [
    "Argument",
    "Call",
    "Dialect",
    "FRAMEWORK_MODULES",
    "find_call",
    "find_calls",
    "frameworks",
    "known_calls",
    "names",
    "preset",
    "select_call",
    "table",
]
