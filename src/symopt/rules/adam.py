"""Adam (Kingma & Ba, 2015), with AMSGrad (Reddi, Kale & Kumar, 2018), as ``torch.optim.Adam``
executes it, and AdamW (Loshchilov & Hutter, 2019), its decoupled weight decay, as
``torch.optim.AdamW`` and ``Adam(decoupled_weight_decay=True)`` execute it.

torch (``dialect="torch"``), per element, after ``t ← t + 1``::

    g     ← −g                        if maximize
    g     ← g + λ w                   if λ ≠ 0      (Adam: coupled, the L2 penalty's gradient)
    w     ← w·(1 − η λ)               if λ ≠ 0      (AdamW: decoupled, instead of the line above)
    m     ← m + (1 − β₁)(g − m)       m_0 = 0      (exp_avg.lerp_)
    v     ← β₂ v + (1 − β₂) g²        v_0 = 0
    c₁    ← 1 − β₁^t                  (Python floats, as torch; tensors for tensor betas)
    c₂    ← √(1 − β₂^t)
    v_max ← max(v_max, v)             if amsgrad   (v_max,0 = 0)
    σ     ← √v_max / c₂  if amsgrad, else √v / c₂
    σ     ← σ + ε
    w     ← w − (η / c₁) m / σ

The two are one model: the convention ``decoupled_weight_decay`` of
:class:`~symopt.rules.Conventions` picks the weight-decay primitive. Built from the primitives
of :mod:`symopt.rules._primitives` only; see ``rules/README.md`` for the recipe this file follows.
"""

from __future__ import annotations

from typing import Any

from . import _primitives as P
from ._base import UpdateRule
from ._conventions import TORCH

#: torch's default weight decay: Adam's (coupled, or ``decoupled_weight_decay=True``) and AdamW's
DEFAULT_WEIGHT_DECAY = {False: 0.0, True: 1e-2}


def adam(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The Adam model (torch.optim.Adam with ``amsgrad`` and ``maximize``); with
    ``decoupled_weight_decay=True`` the AdamW model (family ``"adamw"``, torch.optim.AdamW's
    default ``weight_decay=1e-2``). ``conventions`` override fields of
    :class:`~symopt.rules.Conventions`."""
    if dialect != "torch":
        raise ValueError(f"dialect must be 'torch' for adam; got {dialect!r}")
    conv = TORCH.with_overrides(
        lr_decay="none", bias_correction=True, foreach_scale="op", fused_tail="first_product", **conventions
    )
    decoupled = conv.decoupled_weight_decay
    body = P.chain(
        P.maximize_flag(),
        P.weight_decay(conv, DEFAULT_WEIGHT_DECAY[decoupled]),
        P.ema_first_moment(P.beta1),
        P.ema_second_moment(P.beta2),
        P.bias_corrections(),
        P.amsgrad_maximum(),
        P.corrected_denominator(),
        P.descend(P.eta / P.c1, P.m / P.sigma),
    )
    hyper = {h.name: h for h in [P.lr(1e-3), P.beta(0, 0.9), P.beta(1, 0.999), P.eps(1e-8), *body.hyperparameters]}
    # Signature order of torch.optim.adam.adam (betas split as its beta1, beta2 keywords).
    order = ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"]
    return UpdateRule(
        family="adamw" if decoupled else "adam",
        dialect=dialect,
        title="AdamW" if decoupled else "Adam",
        conventions=conv,
        hyperparameters=tuple(hyper[n] for n in order if n in hyper),
        states=body.states,
        body=body.body,
        reference="torch.optim.AdamW" if decoupled else "torch.optim.Adam",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        validation_order=("lr", "eps", "beta1", "beta2", "weight_decay"),
    )


def adamw(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The AdamW model: :func:`adam` with the convention ``decoupled_weight_decay=True``."""
    return adam(dialect, **{"decoupled_weight_decay": True, **conventions})
