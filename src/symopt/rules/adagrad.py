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

Other frameworks (``dialect="keras"``, ``"tf1"``, ``"optax"``, ...: :mod:`symopt.rules.dialects`)
are the same builder with other :class:`~symopt.rules.Conventions` (ε inside the root or none,
G_0 = 0.1, optax's ``where(G > 0, …, 0)`` guard, the JAX example's dampened momentum, decoupled
weight decay), renamed to the framework's keywords. This builder knows no framework.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import _primitives as P
from ._base import Assign, Hyperparameter, StateVar, UpdateRule, g, w
from ._conventions import TEXTBOOK, TORCH, Conventions
from .rmsprop import weight_decay_piece

DIALECTS = {"torch": TORCH, "textbook": TEXTBOOK}
DEFAULT_EPS = {"torch": 1e-10, "textbook": 1e-8}  # the post: "generally set to 1e-8"

#: torch.optim.Adagrad's signature, then the conventions' own hyperparameters
ORDER = (
    "lr",
    "lr_decay",
    "weight_decay",
    "initial_accumulator_value",
    "eps",
    "maximize",
    "momentum",
    "decoupled_decay",
)


def adagrad(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The AdaGrad model. ``conventions`` override fields of :class:`~symopt.rules.Conventions`;
    ``dialect`` is ``"torch"``, ``"textbook"`` or a framework's (:mod:`symopt.rules.dialects`)."""
    framework = None
    if dialect not in DIALECTS:
        from . import dialects

        framework = dialects.preset("adagrad", dialect)
        conventions = {**framework.conventions, **conventions}
    conv = _conventions(dialect if framework is None else "torch", conventions)
    rule = build(conv, dialect, DEFAULT_EPS.get(dialect, 1e-10))
    return framework.apply(rule) if framework is not None else rule


def build(conv: Conventions, dialect: str, default_eps: float) -> UpdateRule:
    """The model for ``conv``, with torch's keywords (a framework dialect renames them)."""
    initial: sp.Expr
    pieces = []
    hyper = [P.lr(1e-2)]
    if conv.maximize:
        pieces.append(P.maximize_flag())
    if conv.weight_decay != "none":
        pieces.append(weight_decay_piece(conv))
    if conv.lr_decay == "torch":
        pieces.append(P.torch_lr_decay())
        rate = P.eta_t
    else:
        rate = P.eta
    if conv.initial_accumulator is None:
        hyper.append(
            Hyperparameter(
                "initial_accumulator_value",
                P.G0,
                0.0,
                "initial value G_0 of the accumulator",
                error="Invalid initial_accumulator_value value: {value}",
            )
        )
        initial = P.G0
    else:
        initial = sp.nsimplify(conv.initial_accumulator)
    if conv.eps_placement != "none":
        hyper.append(P.eps(default_eps))
        pieces += [P.sum_of_squares(initial), P.denominator(P.G, conv.eps_placement)]
    else:
        pieces += [
            P.sum_of_squares(initial),
            P.Piece((), (), (Assign(P.sigma, sp.sqrt(P.G), sp.true, "root of the sum, no ε"),)),
        ]
    direction = g / P.sigma
    if conv.zero_guard:
        direction = sp.Piecewise((g / P.sigma, P.G > 0), (0, True))
    pieces.append(_update(conv, rate, direction))
    body = P.chain(*pieces)
    all_h = {h.name: h for h in hyper + list(body.hyperparameters)}
    return UpdateRule(
        family="adagrad",
        dialect=dialect,
        title="AdaGrad",
        conventions=conv,
        hyperparameters=tuple(all_h[n] for n in ORDER if n in all_h),
        states=body.states,
        body=body.body,
        reference={"torch": "torch.optim.Adagrad", "textbook": "the source post, statement S5"}.get(dialect, dialect),
        description=__doc__.split("\n\n")[0].replace("\n", " "),
    )


def _update(conv: Conventions, rate: sp.Expr, direction: sp.Expr) -> P.Piece:
    """w ← w − η_t·g/σ, or through the JAX example's dampened buffer b ← (1 − μ) g/σ + μ b,
    w ← w − η b (``momentum_form="dampened"``)."""
    if conv.momentum_form in ("family", "none"):
        return P.descend(rate, direction, conv.sign)
    if conv.momentum_form != "dampened":
        raise ValueError(
            f"momentum_form={conv.momentum_form!r} is not an AdaGrad convention; it takes 'family', 'none' or 'dampened'"
        )
    h = Hyperparameter(
        "momentum",
        P.mu,
        0.0,
        "momentum factor μ of the dampened buffer",
        maximum=1.0,
        error="Invalid momentum value: {value}",
    )
    state = StateVar("momentum_buffer", P.b, sp.Integer(0), "dampened momentum buffer b_t")
    body = (
        Assign(P.b, (1 - P.mu) * direction + P.mu * P.b, sp.true, "dampened momentum buffer"),
        Assign(w, w - rate * P.b, sp.true, "update the parameter along b"),
    )
    return P.Piece((h,), (state,), body)


def _conventions(dialect: str, overrides: dict[str, Any]) -> Conventions:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {dialect!r}")
    if overrides.get("eps_placement") == "recursion":
        raise ValueError(
            "eps_placement='recursion' is an RMSProp convention; AdaGrad takes 'outside', 'inside' or 'none'"
        )
    return DIALECTS[dialect].with_overrides(**overrides)
