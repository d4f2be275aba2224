"""SGD and SGD with momentum as ``torch.optim.SGD`` executes them (the post's part 12).

Per element (torch keeps no step counter for SGD; ``t`` only marks the first step, which torch
recognises by the missing momentum buffer)::

    g ← −g                                 if maximize
    g ← g + λ w                            if λ ≠ 0
    b ← g                                  if μ ≠ 0 and t = 1
    b ← μ b + (1 − τ) g                    if μ ≠ 0 and t > 1
    g ← g + μ b  if nesterov, else  g ← b  if μ ≠ 0
    w ← w − η g

torch creates the buffer at the first step as a clone of g (its layout is the gradient's), and
computes on complex tensors as they are, never on their real view (``complex_view="none"``).
A sparse gradient goes through the same ops (``buf`` is then sparse too).
"""

from __future__ import annotations

import sympy as sp

from . import _primitives as P
from ._base import Assign, Check, Hyperparameter, StateVar, UpdateRule, g, t
from ._conventions import TORCH


def sgd(dialect: str = "torch") -> UpdateRule:
    """The SGD model (with torch's momentum, dampening and Nesterov options)."""
    if dialect != "torch":
        raise ValueError(f"dialect must be 'torch' for sgd; got {dialect!r}")
    has_momentum = sp.Ne(P.mu, 0)
    momentum = Hyperparameter("momentum", P.mu, 0.0, "momentum factor μ", error="Invalid momentum value: {value}")
    dampening = Hyperparameter("dampening", P.tau, 0.0, "dampening τ of the momentum", minimum=-float("inf"))
    nest = Hyperparameter("nesterov", P.nesterov, False, "Nesterov momentum")
    # torch creates the buffer at the first step as a copy of g (b_1 = g_1); 0 stands for "not yet".
    buffer = StateVar(
        "momentum_buffer", P.b, sp.Integer(0), "momentum buffer b_t (b_1 = g_1)", when=has_momentum, lazy=True
    )
    body = P.chain(
        P.maximize_flag(),
        P.l2_weight_decay(tensor=True),
        P.Piece(
            (momentum, dampening, nest),
            (buffer,),
            (
                Assign(P.b, g, sp.And(has_momentum, sp.Eq(t, 1)), "first step: the buffer is the gradient"),
                Assign(P.b, P.mu * P.b + (1 - P.tau) * g, sp.And(has_momentum, t > 1), "momentum buffer"),
                Assign(g, g + P.mu * P.b, sp.And(has_momentum, P.nesterov), "Nesterov look-ahead"),
                Assign(g, P.b, sp.And(has_momentum, sp.Not(P.nesterov)), "follow the buffer"),
            ),
        ),
        P.descend(P.eta, g),
    )
    hyper = {h.name: h for h in [P.lr(1e-3), *body.hyperparameters]}
    order = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"]
    return UpdateRule(
        family="sgd",
        dialect=dialect,
        title="SGD with momentum",
        conventions=TORCH.with_overrides(lr_decay="none", complex_view="none", fused_tail="first_product"),
        hyperparameters=tuple(hyper[n] for n in order),
        states=body.states,
        body=body.body,
        stores_step=False,
        reference="torch.optim.SGD",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        checks=(
            Check(
                sp.Implies(P.nesterov, sp.And(P.mu > 0, sp.Eq(P.tau, 0))),
                "Nesterov momentum requires a momentum and zero dampening",
            ),
        ),
        validation_order=("lr", "momentum", "weight_decay"),
    )
