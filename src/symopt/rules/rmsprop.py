"""RMSProp (Tieleman & Hinton, 2012; centered and momentum variants after Graves, 2013) as
``torch.optim.RMSprop`` executes it, and as the source post writes it.

torch (``dialect="torch"``), per element, after ``t ← t + 1``::

    g ← −g                             if maximize
    g ← g + λ w                        if λ ≠ 0
    v ← α v + (1 − α) g²               v_0 = 0
    m ← m + (1 − α)(g − m)             if centered      (m_0 = 0)
    σ ← √(v − m²)  if centered, else √v
    σ ← σ + ε
    b ← μ b + g / σ;  w ← w − η b      if μ > 0         (b_0 = 0)
    w ← w − η g / σ                    otherwise

The post (``dialect="textbook"``, statement S9): σ_t = √(α σ_{t−1}² + (1 − α) g_t² + ε),
w_{t+1} = w_t − η g_t / σ_t, i.e. ε inside the recursion of v = σ².
"""

from __future__ import annotations

from typing import Any

from . import _primitives as P
from ._base import UpdateRule, g
from ._conventions import TEXTBOOK, TORCH, Conventions

DIALECTS = {
    "torch": TORCH.with_overrides(lr_decay="none"),
    "textbook": TEXTBOOK.with_overrides(eps_placement="recursion"),
}
DEFAULT_ALPHA = {"torch": 0.99, "textbook": 0.9}  # the post, S10: "in practice α is set to 0.9"


def rmsprop(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The RMSProp model. ``conventions`` override fields of :class:`~symopt.rules.Conventions`."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {dialect!r}")
    conv: Conventions = DIALECTS[dialect].with_overrides(**conventions)
    if conv.lr_decay != "none":
        raise ValueError("lr_decay is an AdaGrad convention; RMSProp takes lr_decay='none'")
    full = dialect == "torch"  # the post's formula has neither centering nor momentum
    pieces = []
    if conv.maximize:
        pieces.append(P.maximize_flag())
    if conv.weight_decay == "l2":
        pieces.append(P.l2_weight_decay())
    ema = P.ema_of_squares(eps_in_recursion=conv.eps_placement == "recursion")
    ema = P.Piece(
        tuple(h if h.name != "alpha" else _with_default(h, DEFAULT_ALPHA[dialect]) for h in ema.hyperparameters),
        ema.states,
        ema.body,
    )
    pieces.append(ema)
    if full:
        pieces.append(P.centered_mean())
    pieces.append(P.denominator(P.v, conv.eps_placement, center=full, bias_correction=conv.bias_correction))
    if full:
        pieces.append(P.rmsprop_momentum(conv.momentum_lr))
    else:
        pieces.append(P.descend(P.eta, g / P.sigma, conv.sign))
    body = P.chain(*pieces)
    hyper = {h.name: h for h in [P.lr(1e-2), *body.hyperparameters, P.eps(1e-8)]}
    # Signature order of torch.optim.RMSprop; torch validates lr, eps, momentum, weight_decay, alpha.
    order = ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"]
    return UpdateRule(
        family="rmsprop",
        dialect=dialect,
        title="RMSProp",
        conventions=conv,
        hyperparameters=tuple(hyper[n] for n in order if n in hyper),
        states=body.states,
        body=body.body,
        reference="torch.optim.RMSprop" if dialect == "torch" else "the source post, statement S9",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        validation_order=("lr", "eps", "momentum", "weight_decay", "alpha"),
        state_creation_order=("square_avg", "momentum_buffer", "grad_avg"),  # torch's _init_group
    )


def _with_default(h, default):
    from dataclasses import replace

    return replace(h, default=default)
