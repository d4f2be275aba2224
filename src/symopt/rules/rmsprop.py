"""RMSProp (Tieleman & Hinton, 2012; centered and momentum variants after Graves, 2013) as
``torch.optim.RMSprop`` executes it, as the source post writes it, and as other frameworks do.

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

Other frameworks (``dialect="keras"``, ``"tf1"``, ``"optax"``, ...: :mod:`symopt.rules.dialects`)
are the same builder with other :class:`~symopt.rules.Conventions` (ε inside the root, v_0 = 1,
η inside the momentum buffer, bias correction, Nesterov, decoupled weight decay), renamed to the
framework's keywords. This builder knows no framework: it reads conventions only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp

from . import _primitives as P
from ._base import Assign, Hyperparameter, StateVar, UpdateRule, g, t, w
from ._conventions import TEXTBOOK, TORCH, Conventions

DIALECTS = {
    "torch": TORCH.with_overrides(lr_decay="none"),
    "textbook": TEXTBOOK.with_overrides(eps_placement="recursion", centering="never", momentum_form="none"),
}
DEFAULT_ALPHA = {"torch": 0.99, "textbook": 0.9}  # the post, S10: "in practice α is set to 0.9"

# Symbols of the conventions that are hyperparameters in some frameworks.
v0 = sp.Symbol("v_0", nonnegative=True)  # optax's initial_scale, torch7's initialMean
eps_in_sqrt = sp.Symbol("eps_in_sqrt")
lr_in_momentum = sp.Symbol("lr_in_momentum")
nesterov = sp.Symbol("nesterov")
bias_correction = sp.Symbol("bias_correction")
decoupled = sp.Symbol("decoupled_decay")
v_hat = sp.Symbol("vhat", nonnegative=True)  # the bias-corrected averages (a flag chooses)
m_hat = sp.Symbol("mhat", real=True)
s2 = sp.Symbol("s2", real=True)  # the variance estimate v − m² (centered), before ε

#: torch.optim.RMSprop's signature, then the conventions' flags
ORDER = (
    "lr",
    "alpha",
    "eps",
    "weight_decay",
    "momentum",
    "centered",
    "maximize",
    "lr_decay",
    "initial_scale",
    "eps_in_sqrt",
    "nesterov",
    "bias_correction",
    "lr_in_momentum",
    "decoupled_decay",
)


def rmsprop(dialect: str = "torch", **conventions: Any) -> UpdateRule:
    """The RMSProp model. ``conventions`` override fields of :class:`~symopt.rules.Conventions`;
    ``dialect`` is ``"torch"``, ``"textbook"`` or a framework's (:mod:`symopt.rules.dialects`)."""
    framework = None
    if dialect in DIALECTS:
        base = DIALECTS[dialect]
    else:
        from . import dialects

        framework = dialects.preset("rmsprop", dialect)
        base = DIALECTS["torch"].with_overrides(**framework.conventions)
    conv: Conventions = base.with_overrides(**conventions)
    rule = build(conv, dialect, DEFAULT_ALPHA.get(dialect, 0.99))
    return framework.apply(rule) if framework is not None else rule


def build(conv: Conventions, dialect: str, default_alpha: float) -> UpdateRule:
    """The model for ``conv``, with torch's keywords (a framework dialect renames them)."""
    pieces = []
    if conv.maximize:
        pieces.append(P.maximize_flag())
    pieces.append(weight_decay_piece(conv))
    rate: sp.Expr = P.eta
    if conv.lr_decay == "torch":
        pieces.append(P.torch_lr_decay())
        rate = P.eta_t
    pieces.append(_second_moment(conv, default_alpha))
    center = conv.centering != "never"
    if center:
        pieces.append(_mean(conv))
    pieces.append(_sigma(conv, center))
    pieces.append(_momentum(conv, rate))
    body = P.chain(*pieces)
    hyper = {h.name: h for h in [P.lr(1e-2), *body.hyperparameters]}
    if conv.eps_placement != "none":
        hyper["eps"] = P.eps(1e-8)
    return UpdateRule(
        family="rmsprop",
        dialect=dialect,
        title="RMSProp",
        conventions=conv,
        hyperparameters=tuple(hyper[n] for n in ORDER if n in hyper),
        states=body.states,
        body=body.body,
        reference={"torch": "torch.optim.RMSprop", "textbook": "the source post, statement S9"}.get(dialect, dialect),
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        validation_order=("lr", "eps", "momentum", "weight_decay", "alpha"),
        state_creation_order=("square_avg", "momentum_buffer", "grad_avg"),  # torch's _init_group
    )


# -- the pieces, chosen by the conventions ------------------------------------------------------
def weight_decay_piece(conv: Conventions) -> P.Piece:
    """None, coupled (g ← g + λ w), decoupled (w ← w(1 − η λ)), or either by timm's flag
    ``decoupled_decay``."""
    if conv.weight_decay == "none":
        return P.Piece()
    if not conv.decoupled_weight_decay_flag:
        return P.weight_decay(conv)
    coupled, uncoupled = P.l2_weight_decay(), P.decoupled_weight_decay()
    flag = Hyperparameter("decoupled_decay", decoupled, False, "decoupled weight decay w ← w(1 − ηλ) instead of g + λw")
    return P.Piece(
        (coupled.hyperparameters[0], flag),
        (),
        (
            replace(uncoupled.body[0], when=sp.And(uncoupled.body[0].when, decoupled)),
            replace(coupled.body[0], when=sp.And(coupled.body[0].when, sp.Not(decoupled))),
        ),
    )


def _average(conv: Conventions, x: sp.Symbol, y: sp.Expr) -> sp.Expr:
    """x's exponential average with weight 1 − α on y, in the convention's form."""
    a = P.alpha
    if conv.ema_form == "increment":
        return x + (1 - a) * (y - x)
    return a * x + (1 - a) * y


def _second_moment(conv: Conventions, default_alpha: float) -> P.Piece:
    """v ← α v + (1 − α) g² (with ε in the recursion for the post), v_0 per the convention."""
    ema = P.ema_of_squares(eps_in_recursion=conv.eps_placement == "recursion")
    alpha_h = replace(ema.hyperparameters[0], default=default_alpha)
    hyper = [alpha_h]
    state = ema.states[0]
    if conv.initial_square_avg is None:
        hyper.append(
            Hyperparameter(
                "initial_scale",
                v0,
                0.0,
                "initial value v_0 of the square average",
                error="Invalid initial_scale value: {value}",
            )
        )
        state = replace(state, initial=v0)
    elif conv.initial_square_avg != 0:
        state = replace(state, initial=sp.nsimplify(conv.initial_square_avg))
    assign = ema.body[0]
    if conv.ema_form != "torch":
        assign = replace(assign, expr=_average(conv, P.v, g * g))
    return P.Piece(tuple(hyper), (state,), (assign,))


def _mean(conv: Conventions) -> P.Piece:
    """m ← m + (1 − α)(g − m): under the ``centered`` flag, or always (Graves)."""
    piece = P.centered_mean()
    assign, state = piece.body[0], piece.states[0]
    if conv.ema_form == "scale_add":
        assign = replace(assign, expr=_average(conv, P.m, g))
    if conv.centering == "always":
        return P.Piece((), (replace(state, when=sp.true),), (replace(assign, when=sp.true),))
    return P.Piece(piece.hyperparameters, (state,), (assign,))


def _inside(conv: Conventions) -> sp.Basic:
    """When ε sits inside the root, as a condition on the hyperparameters (true/false when fixed)."""
    placement = {"inside": sp.true, "outside": sp.false}.get(conv.eps_placement, sp.false)
    if conv.eps_in_sqrt_flag:
        placement = eps_in_sqrt
    if conv.eps_placement_centered is not None:
        placement = sp.Or(
            sp.And(P.centered, conv.eps_placement_centered == "inside"), sp.And(sp.Not(P.centered), placement)
        )
    if conv.eps_placement_momentum is not None:
        placement = sp.Or(sp.And(P.mu > 0, conv.eps_placement_momentum == "inside"), sp.And(sp.Le(P.mu, 0), placement))
    return sp.simplify_logic(placement) if placement not in (sp.true, sp.false) else placement


def _sigma(conv: Conventions, center: bool) -> P.Piece:
    """σ from v (and m), with ε where the conventions put it and the bias correction."""
    always = conv.centering == "always"
    inside = _inside(conv)
    if conv.eps_placement == "recursion" or (
        inside in (sp.true, sp.false) and not conv.bias_correction_flag and not always
    ):
        placement = "recursion" if conv.eps_placement == "recursion" else ("inside" if inside is sp.true else "outside")
        return P.denominator(P.v, placement, center=center, bias_correction=conv.bias_correction)
    body: list[Assign] = []
    v_, m_ = P.v, P.m
    if conv.bias_correction or conv.bias_correction_flag:
        corrected = sp.true if conv.bias_correction else bias_correction
        body.append(Assign(v_hat, P.v / (1 - P.alpha**t), corrected, "bias-corrected square average"))
        if not conv.bias_correction:
            body.append(Assign(v_hat, P.v, sp.Not(corrected), "no bias correction"))
        v_ = v_hat
        if center:
            when = corrected if always else sp.And(corrected, P.centered)
            body.append(Assign(m_hat, P.m / (1 - P.alpha**t), when, "bias-corrected gradient average"))
            if not conv.bias_correction:
                body.append(
                    Assign(
                        m_hat,
                        P.m,
                        sp.And(sp.Not(corrected), P.centered) if not always else sp.Not(corrected),
                        "no bias correction",
                    )
                )
            m_ = m_hat
    variance = v_
    if center:  # v − m² first, then ε (optax, TF): the order that keeps ε's bits when v ≈ m²
        body.append(Assign(s2, v_ - m_ * m_, sp.true if always else P.centered, "variance estimate v − m²"))
        variance = s2
    cases = (
        [(sp.true, variance)]
        if not center
        else ([(sp.true, variance)] if always else [(sp.Not(P.centered), v_), (P.centered, variance)])
    )
    for guard, moment in cases:
        if inside is not sp.false:
            body.append(
                Assign(P.sigma, sp.sqrt(moment + P.epsilon), sp.And(guard, inside), "root of the second moment plus ε")
            )
        if inside is not sp.true:
            body.append(Assign(P.sigma, sp.sqrt(moment), sp.And(guard, sp.Not(inside)), "root of the second moment"))
    if inside is not sp.true:
        body.append(Assign(P.sigma, P.sigma + P.epsilon, sp.Not(inside), "add ε outside the root"))
    hyper: tuple[Hyperparameter, ...] = ()
    if conv.eps_in_sqrt_flag:
        hyper += (
            Hyperparameter("eps_in_sqrt", eps_in_sqrt, conv.eps_placement == "inside", "ε inside the square root"),
        )
    if conv.bias_correction_flag:
        hyper += (Hyperparameter("bias_correction", bias_correction, False, "divide the averages by 1 − α^t"),)
    return P.Piece(hyper, (), tuple(body))


def _momentum(conv: Conventions, rate: sp.Expr) -> P.Piece:
    """The parameter update: plain, or through a heavy-ball buffer with η outside (torch) or
    inside it (TF), chosen by a flag (timm's ``lr_in_momentum``), with optax's Nesterov."""
    form = conv.momentum_form
    if form == "none":
        return P.descend(rate, g / P.sigma, conv.sign)
    if form not in ("family", "heavy_ball"):
        raise ValueError(
            f"momentum_form={form!r} is not an RMSProp convention; it takes 'family', 'heavy_ball' or 'none'"
        )
    if not (conv.momentum_lr_flag or conv.nesterov) and rate is P.eta:
        return P.rmsprop_momentum(conv.momentum_lr)
    h = Hyperparameter("momentum", P.mu, 0.0, "momentum factor μ", error="Invalid momentum value: {value}")
    state = StateVar("momentum_buffer", P.b, sp.Integer(0), "momentum buffer b_t", when=P.mu > 0)
    on = P.mu > 0
    inside = lr_in_momentum if conv.momentum_lr_flag else (sp.true if conv.momentum_lr == "inside" else sp.false)
    body = []
    if inside is not sp.false:
        body.append(Assign(P.b, P.mu * P.b + rate * g / P.sigma, sp.And(on, inside), "momentum buffer (η inside)"))
        if conv.nesterov:
            body.append(Assign(w, w - (rate * g / P.sigma + P.mu * P.b), sp.And(on, inside, nesterov), "Nesterov step"))
            body.append(Assign(w, w - P.b, sp.And(on, inside, sp.Not(nesterov)), "update the parameter along b"))
        else:
            body.append(Assign(w, w - P.b, sp.And(on, inside), "update the parameter along b"))
    if inside is not sp.true:
        body.append(Assign(P.b, P.mu * P.b + g / P.sigma, sp.And(on, sp.Not(inside)), "momentum buffer"))
        body.append(Assign(w, w - rate * P.b, sp.And(on, sp.Not(inside)), "update the parameter along b"))
    body.append(Assign(w, w - rate * g / P.sigma, sp.Le(P.mu, 0), "update the parameter"))
    hyper = [h]
    if conv.momentum_lr_flag:
        hyper.append(
            Hyperparameter(
                "lr_in_momentum", lr_in_momentum, conv.momentum_lr == "inside", "η inside the momentum buffer"
            )
        )
    if conv.nesterov:
        hyper.append(Hyperparameter("nesterov", nesterov, False, "Nesterov momentum (optax's trace)"))
    return P.Piece(tuple(hyper), (state,), tuple(body))
