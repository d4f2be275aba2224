"""Which rules, dialects and option sets ``symopt derive all`` and the report cover.

Each family is derived in every dialect at torch's defaults; :data:`EXTRA_OPTIONS` adds option
sets whose closed forms differ (SGD with momentum: the post's part 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import rules as _rules
from ..rules import UpdateRule

#: family -> further option sets (torch keywords) derived besides the defaults
EXTRA_OPTIONS: dict[str, tuple[dict[str, Any], ...]] = {
    "sgd": ({"momentum": 0.9},),
    # centered: its float64 arm carries a labelled cancellation hazard (v − m²), the 50-digit arm
    # is authoritative. With momentum the buffer and the rate are sums over the steps: their
    # float64 arm evaluates them with math.fsum (4 s, as the centered case; 17 s at 50 digits).
    "rmsprop": ({"centered": True}, {"momentum": 0.9}),
}


@dataclass(frozen=True)
class Case:
    """One rule in one dialect with one option set."""

    rule: UpdateRule
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.rule.family} [{self.rule.dialect}]" + (f" ({opts})" if opts else "")


def cases(family: str = "all", dialect: str | None = None, options: dict[str, Any] | None = None) -> list[Case]:
    """The cases for ``family`` (``"all"``: every family and dialect). With ``options`` only that
    option set is used; otherwise the defaults and :data:`EXTRA_OPTIONS`."""
    if family == "all":
        if dialect is not None:
            raise ValueError("--dialect needs a single rule, not 'all'")
        pairs: list[tuple[str, str | None]] = [(f, d) for f, (_, dialects) in _rules.FAMILIES.items() for d in dialects]
    else:
        pairs = [(family, dialect)]
    out = []
    for fam, dia in pairs:
        rule = _rules.get(fam, dia)
        names = {h.name for h in rule.hyperparameters}
        extras = [o for o in EXTRA_OPTIONS.get(fam, ()) if set(o) <= names]  # centered: torch's dialect only
        option_sets = [options] if options else [{}, *extras]
        out += [Case(rule, dict(o)) for o in option_sets]
    return out
