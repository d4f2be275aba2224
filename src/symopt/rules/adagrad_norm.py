"""AdaGrad-Norm (Ward, Wu & Bottou, ICML 2019 / JMLR 2020): one accumulator per parameter tensor,
the sum of the squared norms of its whole gradient, and one step size for all its elements.

torch has no AdaGrad-Norm; symopt's follows torch.optim.Adagrad's conventions and keywords
(``dialect="torch"``), per parameter tensor, after ``t ← t + 1``::

    g   ← −g                      if maximize
    g   ← g + λ w                 if λ ≠ 0
    n   ← Σ_i g_i²                the squared norm ‖g‖² of the whole gradient tensor
    B   ← B + n                   B_0 = initial_accumulator_value (the paper's b_0²)
    σ   ← √B + ε
    w   ← w − η g / σ

With ε = 0 and ``initial_accumulator_value = b_0²`` this is the paper's b_{j+1}² = b_j² + ‖G_j‖²,
x_{j+1} = x_j − η G_j / b_{j+1} for the parameter tensor as the vector x. For the whole model as x
(the paper's setting), pass one flat parameter (``torch.nn.utils.parameters_to_vector``).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import _primitives as P
from ._base import Assign, Hyperparameter, StateVar, UpdateRule, g, tensor_sum
from ._conventions import TORCH

#: the accumulated squared norm b_t² (one number per parameter tensor)
B = sp.Symbol("B", nonnegative=True)
#: the squared norm ‖g‖² of this step's gradient tensor
n = sp.Symbol("n", nonnegative=True)
#: the accumulator's initial value B_0 = b_0² (torch's ``initial_accumulator_value``)
B0 = sp.Symbol("B_0", nonnegative=True)

DIALECTS = ("torch",)
ORDER = ("lr", "weight_decay", "initial_accumulator_value", "eps", "maximize")


def adagrad_norm(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The AdaGrad-Norm model (``dialect="torch"``: torch.optim.Adagrad's conventions, ε outside
    the root; ``conventions`` override fields of :class:`~symopt.rules.Conventions` that the
    rule reads: ``maximize``, ``weight_decay``, ``eps_placement``)."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(map(repr, DIALECTS))}; got {dialect!r}")
    conv = TORCH.with_overrides(lr_decay="none", **conventions)
    if conv.eps_placement == "recursion":
        raise ValueError("eps_placement='recursion' is an RMSProp convention; AdaGrad-Norm takes 'outside' or 'inside'")
    pieces = [P.maximize_flag()] if conv.maximize else []
    if conv.weight_decay != "none":
        pieces.append(P.weight_decay(conv))
    initial = Hyperparameter(
        "initial_accumulator_value",
        B0,
        0.0,
        "initial value B_0 = b_0² of the accumulated squared norm",
        error="Invalid initial_accumulator_value value: {value}",
    )
    state = StateVar("sum", B, B0, "accumulated squared norm B_t = b_t² of the gradient tensor", per_tensor=True)
    accumulate = P.Piece(
        (),
        (state,),
        (
            Assign(n, tensor_sum(g**2), sp.true, "squared norm of the whole gradient tensor"),
            Assign(B, B + n, sp.true, "accumulate ‖g‖²"),
        ),
    )
    pieces += [accumulate, P.denominator(B, conv.eps_placement), P.descend(P.eta, g / P.sigma, conv.sign)]
    body = P.chain(*pieces)
    every = {h.name: h for h in (P.lr(1e-2), initial, P.eps(1e-10), *body.hyperparameters)}
    return UpdateRule(
        family="adagrad_norm",
        dialect=dialect,
        title="AdaGrad-Norm",
        conventions=conv,
        hyperparameters=tuple(every[k] for k in ORDER if k in every),
        states=body.states,
        body=body.body,
        reference="Ward, Wu & Bottou, AdaGrad stepsizes (ICML 2019; JMLR 21, 2020), with torch.optim.Adagrad's keywords",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        validation_order=("lr", "weight_decay", "initial_accumulator_value", "eps"),
    )
