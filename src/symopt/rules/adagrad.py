"""AdaGrad (Duchi, Hazan & Singer, 2011) as ``torch.optim.Adagrad`` executes it, and as the source
post writes it.

torch (``dialect="torch"``), per element, after ``t ← t + 1``::

    g   ← −g                      if maximize
    g   ← g + λ w                 if λ ≠ 0
    η_t ← η / (1 + (t − 1) γ)
    G   ← G + g²                  G_0 = initial_accumulator_value
    σ   ← √G + ε
    w   ← w − η_t g / σ

The post (``dialect="textbook"``, statement S5): G_t = Σ_{n≤t} g_n², σ_t = √(G_t + ε),
w_{t+1} = w_t − η g_t / σ_t.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import _primitives as P
from ._base import Hyperparameter, UpdateRule, g
from ._conventions import TEXTBOOK, TORCH, Conventions

DIALECTS = {"torch": TORCH, "textbook": TEXTBOOK}
DEFAULT_EPS = {"torch": 1e-10, "textbook": 1e-8}  # the post: "generally set to 1e-8"


def adagrad(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The AdaGrad model. ``conventions`` override fields of :class:`~symopt.rules.Conventions`."""
    conv = _conventions(dialect, conventions)
    initial: sp.Expr
    pieces = []
    hyper = [P.lr(1e-2)]
    if conv.maximize:
        pieces.append(P.maximize_flag())
    if conv.weight_decay == "l2":
        pieces.append(P.l2_weight_decay())
    if conv.lr_decay == "torch":
        pieces.append(P.torch_lr_decay())
        rate = P.eta_t
    else:
        rate = P.eta
    if conv.initial_accumulator is None:
        hyper.append(
            Hyperparameter(
                "initial_accumulator_value", P.G0, 0.0, "initial value G_0 of the accumulator",
                error="Invalid initial_accumulator_value value: {value}",
            )
        )
        initial = P.G0
    else:
        initial = sp.nsimplify(conv.initial_accumulator)
    hyper.append(P.eps(DEFAULT_EPS.get(dialect, 1e-10)))
    pieces += [P.sum_of_squares(initial), P.denominator(P.G, conv.eps_placement), P.descend(rate, g / P.sigma, conv.sign)]
    body = P.chain(*pieces)
    # Signature order of torch.optim.Adagrad: lr, lr_decay, weight_decay, initial_accumulator_value, eps, ..., maximize.
    order = ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"]
    all_h = {h.name: h for h in hyper + list(body.hyperparameters)}
    return UpdateRule(
        family="adagrad",
        dialect=dialect,
        title="AdaGrad",
        conventions=conv,
        hyperparameters=tuple(all_h[n] for n in order if n in all_h),
        states=body.states,
        body=body.body,
        reference="torch.optim.Adagrad" if dialect == "torch" else "the source post, statement S5",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
    )


def _conventions(dialect: str, overrides: dict[str, Any]) -> Conventions:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {dialect!r}")
    if overrides.get("eps_placement") == "recursion":
        raise ValueError("eps_placement='recursion' is an RMSProp convention; AdaGrad takes 'outside' or 'inside'")
    return DIALECTS[dialect].with_overrides(**overrides)
