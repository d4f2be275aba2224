"""Adam (Kingma & Ba, 2015), with AMSGrad (Reddi, Kale & Kumar, 2018), as ``torch.optim.Adam``
executes it (``decoupled_weight_decay=False``; betas as Python floats).

torch (``dialect="torch"``), per element, after ``t ← t + 1``::

    g     ← −g                        if maximize
    g     ← g + λ w                   if λ ≠ 0
    m     ← m + (1 − β₁)(g − m)       m_0 = 0      (exp_avg.lerp_)
    v     ← β₂ v + (1 − β₂) g²        v_0 = 0
    c₁    ← 1 − β₁^t                  (Python floats, as torch)
    c₂    ← √(1 − β₂^t)
    v_max ← max(v_max, v)             if amsgrad   (v_max,0 = 0)
    σ     ← √v_max / c₂  if amsgrad, else √v / c₂
    σ     ← σ + ε
    w     ← w − (η / c₁) m / σ

Built from the primitives of :mod:`symopt.rules._primitives` only; see ``rules/README.md`` for the
recipe this file follows.
"""

from __future__ import annotations

from . import _primitives as P
from ._base import UpdateRule
from ._conventions import TORCH


def adam(dialect: str = "torch") -> UpdateRule:
    """The Adam model (torch.optim.Adam with ``amsgrad`` and ``maximize``)."""
    if dialect != "torch":
        raise ValueError(f"dialect must be 'torch' for adam; got {dialect!r}")
    body = P.chain(
        P.maximize_flag(),
        P.l2_weight_decay(),
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
        family="adam",
        dialect=dialect,
        title="Adam",
        conventions=TORCH.with_overrides(lr_decay="none", bias_correction=True, foreach_scale="op"),
        hyperparameters=tuple(hyper[n] for n in order),
        states=body.states,
        body=body.body,
        reference="torch.optim.Adam",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        validation_order=("lr", "eps", "beta1", "beta2", "weight_decay"),
    )
