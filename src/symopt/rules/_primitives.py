"""Small named pieces that rules are composed of (optax-style): each returns the hyperparameters,
states and assignments it adds. A family module chains them; conventions pick among them.

The symbols are shared by all rules so that derivations can compare rules term by term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ._base import Assign, Hyperparameter, StateVar, g, t, w

# -- symbols: the letters of the mathematics ---------------------------------------------------
eta = sp.Symbol("eta", nonnegative=True)  # learning rate
epsilon = sp.Symbol("epsilon", nonnegative=True)  # smoothing term
lam = sp.Symbol("lambda", nonnegative=True)  # L2 weight decay
gamma = sp.Symbol("gamma", nonnegative=True)  # Adagrad's lr_decay
G0 = sp.Symbol("G_0", nonnegative=True)  # Adagrad's initial accumulator
alpha = sp.Symbol("alpha", nonnegative=True)  # RMSProp's smoothing constant
mu = sp.Symbol("mu", nonnegative=True)  # momentum
tau = sp.Symbol("tau", real=True)  # SGD's dampening
maximize = sp.Symbol("maximize")  # flags are plain symbols used in guards
centered = sp.Symbol("centered")
nesterov = sp.Symbol("nesterov")

# States and temporaries.
G = sp.Symbol("G", nonnegative=True)  # Adagrad's sum of squares
v = sp.Symbol("v", nonnegative=True)  # RMSProp's square average
m = sp.Symbol("m", real=True)  # RMSProp's gradient average (centered)
b = sp.Symbol("b", real=True)  # momentum buffer
sigma = sp.Symbol("sigma", nonnegative=True)  # the denominator
eta_t = sp.Symbol("eta_t", nonnegative=True)  # the decayed learning rate


@dataclass(frozen=True)
class Piece:
    """What one primitive contributes to a rule."""

    hyperparameters: tuple[Hyperparameter, ...] = ()
    states: tuple[StateVar, ...] = ()
    body: tuple[Assign, ...] = ()


def chain(*pieces: Piece) -> Piece:
    """Concatenate pieces in execution order (hyperparameters keep their first appearance)."""
    hs: list[Hyperparameter] = []
    for p in pieces:
        hs += [h for h in p.hyperparameters if h.name not in {x.name for x in hs}]
    return Piece(
        tuple(hs),
        tuple(s for p in pieces for s in p.states),
        tuple(a for p in pieces for a in p.body),
    )


# -- hyperparameters ----------------------------------------------------------------------------
def lr(default: float) -> Hyperparameter:
    """torch's ``lr``: a float or a one-element tensor (``lr: float | Tensor``)."""
    return Hyperparameter("lr", eta, default, "learning rate η", error="Invalid learning rate: {value}", tensor=True)


def eps(default: float) -> Hyperparameter:
    return Hyperparameter("eps", epsilon, default, "smoothing term ε", error="Invalid epsilon value: {value}")


# -- gradient transformations -------------------------------------------------------------------
def maximize_flag() -> Piece:
    """``g ← −g`` when ``maximize`` (torch: ``grad = -grad``)."""
    h = Hyperparameter("maximize", maximize, False, "ascend the objective instead of descending")
    return Piece((h,), (), (Assign(g, -g, maximize, "maximize: follow −g"),))


def l2_weight_decay(tensor: bool = False) -> Piece:
    """``g ← g + λ w`` when λ ≠ 0 (torch: ``grad = grad.add(param, alpha=weight_decay)``);
    ``tensor``: torch takes λ as a one-element tensor too (SGD's ``weight_decay: float | Tensor``)."""
    h = Hyperparameter(
        "weight_decay",
        lam,
        0.0,
        "L2 penalty λ added to the gradient",
        error="Invalid weight_decay value: {value}",
        tensor=tensor,
    )
    return Piece((h,), (), (Assign(g, g + lam * w, sp.Ne(lam, 0), "L2 weight decay"),))


def l1_weight_decay() -> Piece:
    """``g ← g + λ sign(w)`` when λ ≠ 0: the L1 penalty λ|w|'s subgradient, 0 at w = 0 (Caffe's
    ``regularization_type: "L1"`` in ``SGDSolver::Regularize``: ``caffe_cpu_sign(data)`` then
    ``diff += λ·sign``; Caffe's sign is ``(0 < x) − (x < 0)``, which is 0 at NaN too)."""
    h = Hyperparameter(
        "weight_decay",
        lam,
        0.0,
        "L1 penalty λ: λ sign(w) added to the gradient",
        error="Invalid weight_decay value: {value}",
    )
    return Piece((h,), (), (Assign(g, g + lam * sp.sign(w), sp.Ne(lam, 0), "L1 weight decay"),))


def decoupled_weight_decay(default: float = 0.0) -> Piece:
    """``w ← w·(1 − η λ)`` when λ ≠ 0, before the update (Loshchilov & Hutter's decoupled weight
    decay; torch's AdamW and ``Adam(decoupled_weight_decay=True)``: ``param.mul_(1 - lr *
    weight_decay)``, the scalar a Python float, or a tensor when ``lr`` is one)."""
    h = Hyperparameter(
        "weight_decay",
        lam,
        default,
        "decoupled weight decay λ: w shrinks by η λ w per step",
        error="Invalid weight_decay value: {value}",
    )
    return Piece((h,), (), (Assign(w, w * (1 - eta * lam), sp.Ne(lam, 0), "decoupled weight decay"),))


def weight_decay(conventions: Any, default: float = 0.0) -> Piece:
    """The weight decay the conventions ask for: none, coupled (:func:`l2_weight_decay`),
    decoupled (:func:`decoupled_weight_decay`, when ``conventions.decoupled_weight_decay``) or the
    L1 penalty's (:func:`l1_weight_decay`, ``weight_decay="l1"``)."""
    if conventions.weight_decay == "none":
        return Piece()
    if conventions.weight_decay == "l1":
        return l1_weight_decay()
    return decoupled_weight_decay(default) if conventions.decoupled_weight_decay else l2_weight_decay()


# -- learning-rate schedules --------------------------------------------------------------------
def torch_lr_decay() -> Piece:
    """η_t = η / (1 + (t − 1) γ) (torch.optim.Adagrad's ``clr``)."""
    h = Hyperparameter("lr_decay", gamma, 0.0, "learning-rate decay γ", error="Invalid lr_decay value: {value}")
    return Piece((h,), (), (Assign(eta_t, eta / (1 + (t - 1) * gamma), sp.true, "decayed learning rate"),))


def inverse_time_lr() -> Piece:
    """η_t = η / t (the post's statement S3)."""
    return Piece((), (), (Assign(eta_t, eta / t, sp.true, "learning rate inversely proportional to t"),))


# -- second-moment accumulators -----------------------------------------------------------------
def sum_of_squares(initial: sp.Expr, extra: Piece = Piece()) -> Piece:
    """G ← G + g² (AdaGrad; torch: ``state_sum.addcmul_(grad, grad, value=1)``)."""
    state = StateVar("sum", G, initial, "running sum of squared gradients G_t")
    return chain(extra, Piece((), (state,), (Assign(G, G + g * g, sp.true, "accumulate g²"),)))


def ema_of_squares(eps_in_recursion: bool) -> Piece:
    """v ← α v + (1 − α) g² (RMSProp; torch: ``square_avg.mul_(alpha).addcmul_(grad, grad,
    value=1 - alpha)``); with ε in the recursion (the post): v ← α v + (1 − α) g² + ε."""
    h = Hyperparameter("alpha", alpha, 0.99, "smoothing constant α", error="Invalid alpha value: {value}")
    state = StateVar("square_avg", v, sp.Integer(0), "exponential average of squared gradients v_t")
    expr = alpha * v + (1 - alpha) * g * g
    if eps_in_recursion:
        expr = expr + epsilon
    return Piece((h,), (state,), (Assign(v, expr, sp.true, "average g²"),))


def centered_mean() -> Piece:
    """m ← m + (1 − α)(g − m) when ``centered`` (torch: ``grad_avg.lerp_(grad, 1 - alpha)``)."""
    h = Hyperparameter("centered", centered, False, "normalise by the variance estimate v − m²")
    state = StateVar("grad_avg", m, sp.Integer(0), "exponential average of gradients m_t", when=centered)
    return Piece((h,), (state,), (Assign(m, m + (1 - alpha) * (g - m), centered, "average g"),))


# -- the denominator σ ----------------------------------------------------------------------------
def denominator(second_moment: sp.Symbol, placement: str, center: bool = False, bias_correction: bool = False) -> Piece:
    """σ from the second moment, with ε where the convention puts it.

    outside: σ = √v + ε; inside: σ = √(v + ε); recursion: σ = √v (ε is already in v).
    With ``center`` the variance v − m² replaces v when ``centered`` holds.
    """
    moment: sp.Expr = second_moment
    if bias_correction:
        moment = moment / (1 - alpha**t)
    body = []
    if center:
        body.append(Assign(sigma, sp.sqrt(moment), sp.Not(centered), "root of the second moment"))
        body.append(Assign(sigma, sp.sqrt(moment - m * m), centered, "root of the variance estimate"))
    if placement == "outside":
        if not center:
            body.append(Assign(sigma, sp.sqrt(moment), sp.true, "root of the second moment"))
        body.append(Assign(sigma, sigma + epsilon, sp.true, "add ε outside the root"))
    elif placement == "inside":
        if center:
            body = [
                Assign(sigma, sp.sqrt(moment + epsilon), sp.Not(centered), "root of the second moment plus ε"),
                Assign(sigma, sp.sqrt(moment - m * m + epsilon), centered, "root of the variance plus ε"),
            ]
        else:
            body.append(Assign(sigma, sp.sqrt(moment + epsilon), sp.true, "root of the second moment plus ε"))
    elif not center:  # recursion: ε is inside v already
        body.append(Assign(sigma, sp.sqrt(moment), sp.true, "σ_t = √(σ_t²)"))
    return Piece((), (), tuple(body))


# -- the parameter update -----------------------------------------------------------------------
def descend(rate: sp.Expr, direction: sp.Expr, sign: str = "descent") -> Piece:
    """w ← w − rate · direction (or + for ``sign="ascent"``)."""
    s = -1 if sign == "descent" else 1
    return Piece((), (), (Assign(w, w + s * rate * direction, sp.true, "update the parameter"),))


def rmsprop_momentum(lr_placement: str) -> Piece:
    """b ← μ b + g/σ, w ← w − η b when μ > 0, else w ← w − η g/σ (torch); with
    ``lr_placement="inside"``: b ← μ b + η g/σ, w ← w − b (TensorFlow)."""
    h = Hyperparameter("momentum", mu, 0.0, "momentum factor μ", error="Invalid momentum value: {value}")
    state = StateVar("momentum_buffer", b, sp.Integer(0), "momentum buffer b_t", when=mu > 0)
    scale = 1 if lr_placement == "outside" else eta
    step = eta if lr_placement == "outside" else 1
    body = (
        Assign(b, mu * b + scale * g / sigma, mu > 0, "momentum buffer"),
        Assign(w, w - step * b, mu > 0, "update the parameter along b"),
        Assign(w, w - eta * g / sigma, sp.Le(mu, 0), "update the parameter"),
    )
    return Piece((h,), (state,), body)


# -- Adam's pieces (added for symopt.rules.adam) ---------------------------------------------------
beta1 = sp.Symbol("beta_1", nonnegative=True)  # Adam's first-moment decay
beta2 = sp.Symbol("beta_2", nonnegative=True)  # Adam's second-moment decay
amsgrad = sp.Symbol("amsgrad")
v_max = sp.Symbol("v_max", nonnegative=True)  # AMSGrad's running maximum of v
c1 = sp.Symbol("c_1", nonnegative=True)  # 1 − β₁^t, the first moment's bias correction
c2 = sp.Symbol("c_2", nonnegative=True)  # √(1 − β₂^t), the root of the second moment's


def beta(index: int, default: float) -> Hyperparameter:
    """βᵢ of torch's ``betas=(β₁, β₂)``, in [0, 1) with torch's message. (The upper bound is the
    largest float below 1, so that ``validate`` checks torch's strict ``betas[i] < 1``.)"""
    return Hyperparameter(
        f"beta{index + 1}",
        (beta1, beta2)[index],
        default,
        f"decay β{index + 1} of the moment averages",
        maximum=math.nextafter(1.0, 0.0),
        error=f"Invalid beta parameter at index {index}: {{value}}",
        tensor=True,
    )


def ema_first_moment(decay: sp.Symbol) -> Piece:
    """m ← m + (1 − β)(g − m) (Adam's first moment; torch: ``exp_avg.lerp_(grad, 1 - beta1)``)."""
    state = StateVar("exp_avg", m, sp.Integer(0), "exponential average of gradients m_t")
    return Piece((), (state,), (Assign(m, m + (1 - decay) * (g - m), sp.true, "average g"),))


def ema_second_moment(decay: sp.Symbol) -> Piece:
    """v ← β v + (1 − β) g² (Adam's second moment; torch: ``exp_avg_sq.mul_(beta2).addcmul_(grad,
    grad, value=1 - beta2)``)."""
    state = StateVar("exp_avg_sq", v, sp.Integer(0), "exponential average of squared gradients v_t")
    return Piece((), (state,), (Assign(v, decay * v + (1 - decay) * g * g, sp.true, "average g²"),))


def bias_corrections() -> Piece:
    """c₁ = 1 − β₁^t and c₂ = √(1 − β₂^t), Python floats as torch computes them
    (``bias_correction1 = 1 - beta1 ** step``, ``bias_correction2 ** 0.5``)."""
    return Piece(
        (),
        (),
        (
            Assign(c1, 1 - beta1**t, sp.true, "bias correction of the first moment"),
            Assign(c2, sp.sqrt(1 - beta2**t), sp.true, "root of the bias correction of the second moment"),
        ),
    )


def amsgrad_maximum() -> Piece:
    """v_max ← max(v_max, v) when ``amsgrad`` (torch: ``torch.maximum(max_exp_avg_sq, exp_avg_sq,
    out=max_exp_avg_sq)``)."""
    h = Hyperparameter("amsgrad", amsgrad, False, "normalise by the running maximum of v (AMSGrad)")
    state = StateVar("max_exp_avg_sq", v_max, sp.Integer(0), "running maximum of v_t", when=amsgrad)
    return Piece((h,), (state,), (Assign(v_max, sp.Max(v_max, v), amsgrad, "running maximum of v"),))


def corrected_denominator() -> Piece:
    """σ = √v / c₂ + ε, with v_max for v when ``amsgrad`` (torch: ``(exp_avg_sq.sqrt() /
    bias_correction2_sqrt).add_(eps)``): ε outside the root, after the bias correction."""
    return Piece(
        (),
        (),
        (
            Assign(sigma, sp.sqrt(v_max) / c2, amsgrad, "corrected root of the maximum second moment"),
            Assign(sigma, sp.sqrt(v) / c2, sp.Not(amsgrad), "corrected root of the second moment"),
            Assign(sigma, sigma + epsilon, sp.true, "add ε outside the root"),
        ),
    )
