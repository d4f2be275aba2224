"""The post's "simplest idea" (statement S3): a learning rate inversely proportional to time.

As written (``dialect="textbook"``): w_{t+1} = w_t + (η / t) ∇g, with a plus sign, which climbs the
loss. Corrected (``dialect="corrected"``): w_{t+1} = w_t − (η / t) g.

The post gives no learning rate for it; the default η = 0.1 is symopt's (:data:`DEFAULT_LR`),
the value its derivations and figures of S3 use.
"""

from __future__ import annotations

from typing import Any

from . import _primitives as P
from ._base import UpdateRule, g
from ._conventions import TEXTBOOK

DIALECTS = {"textbook": "ascent", "corrected": "descent"}
#: symopt's default learning rate for the 1/t rule (the post gives none)
DEFAULT_LR = 0.1


def inverse_time(dialect: str = "corrected", **conventions: Any) -> UpdateRule:
    """The 1/t rule: η_t = η / t, w ← w ∓ η_t g."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {dialect!r}")
    conv = TEXTBOOK.with_overrides(sign=DIALECTS[dialect], **conventions)
    body = P.chain(P.inverse_time_lr(), P.descend(P.eta_t, g, conv.sign))
    return UpdateRule(
        family="inverse_time",
        dialect=dialect,
        title="1/t learning rate",
        conventions=conv,
        hyperparameters=(P.lr(DEFAULT_LR),),
        states=(),
        body=body.body,
        stores_step=False,
        reference="the source post, statement S3",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
    )
