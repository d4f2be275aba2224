"""SGD with momentum on the quadratic f = λw²/2 (``symopt derive sgd --gradient quadratic``): the
closed form of torch's second-order recurrence, its regimes, and the optimal momentum.

From the SGD model (:func:`symopt.rules.sgd`, torch's heavy ball b ← μb + (1 − τ)g, w ← w − ηb, or
Nesterov's g ← g + μb, w ← w − ηg) with g = λw: after the first step (b_1 = g, undampened, as
torch makes the buffer) every step is the linear map M of (w, b), so w_t (t ≥ 1) satisfies
w_{t+1} = T w_t − D w_{t−1}, T = tr M, D = det M, and with the roots r± of r² − T r + D,

    w_t = ((w_2 − r₋ w_1) r₊^{t−1} − (w_2 − r₊ w_1) r₋^{t−1}) / (r₊ − r₋).

Heavy ball: T = 1 + μ − ηλ(1 − τ), D = μ; Nesterov: T = (1 + μ)(1 − ηλ), D = μ(1 − ηλ). The
iterates converge iff both roots lie in the unit disc (Schur–Cohn: |D| < 1, |T| < 1 + D): for the
heavy ball 0 < ηλ(1 − τ) < 2(1 + μ), for Nesterov 0 < ηλ < 2(1 + μ)/(1 + 2μ). They oscillate
(complex roots, |r| = √D) when T² < 4D. For the heavy ball without dampening the spectral radius
max|r±| is smallest where the roots meet, T² = 4D: μ* = (1 − √(ηλ))² for ηλ ≤ 1, with rate
1 − √(ηλ) per step — against plain gradient descent's 1 − ηλ.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import rules
from ..rules import g, t, w
from ..rules._primitives import b, eta, mu, tau
from ._result import Assumption, Check, Derivation, restatable, worst_error
from .gradients import lam, w0

#: (μ, τ, nesterov, ηλ) of the trajectory checks: overdamped, underdamped, dampened, Nesterov
TRAJECTORY_CASES = ((0.5, 0.0, False, 0.1), (0.9, 0.0, False, 0.5), (0.9, 0.3, False, 1.5), (0.7, 0.0, True, 0.4))
LAMBDA, W_START = 2.0, 1.5
_r = sp.Symbol("r")
_kappa = sp.Symbol("kappa", real=True)  # ηλ (real: the edge κ = 0 must be a solution)


@lru_cache(maxsize=None)
def linear_map(nesterov: bool = False) -> tuple[sp.Matrix, sp.Expr, sp.Expr]:
    """(M, w_1/w_0, w_2/w_0) from the SGD model with g = λw: M the Jacobian of one step (w, b) ↦
    (w', b') at t > 1 (the map is linear), w_1 and w_2 the first two iterates from (w_0, no buffer)."""
    rule = rules.sgd()
    step = rule.step_map(momentum=0.5, nesterov=nesterov)  # μ ≠ 0 decides the guards; μ stays a symbol
    later = {k: v.subs(t, 2).xreplace({g: lam * w}) for k, v in step.items()}
    first = {k: v.subs(t, 1).xreplace({g: lam * w}) for k, v in step.items()}
    M = sp.Matrix([later[w], later[b]]).jacobian([w, b])
    w1 = sp.expand(first[w].subs(w, w0))
    b1 = sp.expand(first[b].subs(w, w0))
    w2 = sp.expand(later[w].xreplace({w: w1, b: b1}))
    return M, sp.simplify(w1 / w0), sp.simplify(w2 / w0)


def trajectory(nesterov: bool = False) -> sp.Expr:
    """w_t (t ≥ 1) in closed form, from :func:`linear_map`."""
    M, w1, w2 = linear_map(nesterov)
    T, D = sp.expand(M.trace()), sp.expand(M.det())
    root = sp.sqrt(T**2 - 4 * D)
    rp, rm = (T + root) / 2, (T - root) / 2
    return w0 * ((w2 - rm * w1) * rp ** (t - 1) - (w2 - rp * w1) * rm ** (t - 1)) / (rp - rm)


def invariants(nesterov: bool = False) -> tuple[sp.Expr, sp.Expr]:
    """(T, D) = (trace, determinant) of the steady map, simplified."""
    M, _, _ = linear_map(nesterov)
    return sp.factor(sp.expand(M.trace())), sp.factor(sp.expand(M.det()))


def stability_interval(nesterov: bool = False) -> sp.Interval:
    """The κ for which both roots lie in the unit disc, κ = ηλ(1 − τ) for the heavy ball and ηλ for
    Nesterov (τ = 0, as torch requires): Schur–Cohn's |T| < 1 + D, whose edges are T = 1 + D
    (κ = 0) and T = −(1 + D), each solved for κ (|D| < 1 holds there for 0 ≤ μ < 1)."""
    T, D = invariants(nesterov)
    if nesterov:
        T, D = (x.xreplace({tau: 0}).subs(eta, _kappa / lam) for x in (T, D))
    else:
        T, D = (sp.simplify(x.subs(eta, _kappa / (lam * (1 - tau)))) for x in (T, D))
    low = sp.solve(sp.Eq(T, 1 + D), _kappa)
    high = sp.solve(sp.Eq(T, -(1 + D)), _kappa)
    if low != [0] or len(high) != 1:
        raise ValueError(f"unexpected stability edges {low}, {high} for T = {T}, D = {D}")
    return sp.Interval.open(0, sp.factor(high[0]))


def optimal_momentum() -> tuple[sp.Expr, sp.Expr]:
    """(μ*, ρ*) for the heavy ball without dampening: the μ where the roots meet (T² = 4D) that
    lies in [0, 1) for ηλ ≤ 1, and the spectral radius there, √μ*."""
    T, D = invariants(False)
    T, D = T.xreplace({tau: 0}), D.xreplace({tau: 0})
    candidates = sp.solve(sp.Eq(T**2, 4 * D), mu)
    k = sp.Rational(1, 4)  # pick the branch that lies in [0, 1) at ηλ = 1/4 (both are (1 ∓ √(ηλ))²)
    chosen = [c for c in candidates if 0 <= c.subs(eta * lam, k).subs(eta, k / lam) < 1]
    mu_star = sp.simplify(chosen[0])
    return mu_star, sp.simplify(sp.sqrt(mu_star))


def _torch_sgd(momentum: float, dampening: float, nesterov: bool, lr: float, steps: int, start: float) -> list[float]:
    """torch.optim.SGD on f = λw²/2 (float64): w_0 .. w_steps."""
    import torch

    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov)
    out = [start]
    with torch.no_grad():
        for _ in range(steps):
            x.grad = LAMBDA * x.clone()
            opt.step()
            out.append(float(x))
    return out


def _values(mu_: float, tau_: float, product: float) -> dict[sp.Symbol, Any]:
    return {
        mu: sp.Float(mu_, 40),
        tau: sp.Float(tau_, 40),
        eta: sp.Float(product / LAMBDA, 40),
        lam: LAMBDA,
        w0: W_START,
    }


@restatable
def sgd_momentum_trajectory(*, statement: sp.Eq | None = None) -> Derivation:
    """The closed form of w_t for torch's heavy ball (dampening τ), checked against
    torch.optim.SGD (float64, t ≤ 300) in four regimes, and, for Nesterov, the same construction."""
    statement = statement if statement is not None else sp.Eq(sp.Symbol("w_t"), trajectory(False))
    nesterov_form = trajectory(True)
    errors, rows = [], []
    for mu_, tau_, nesterov, product in TRAJECTORY_CASES:
        run = _torch_sgd(mu_, tau_, nesterov, product / LAMBDA, 300, W_START)
        form = (nesterov_form if nesterov else statement.rhs).xreplace(_values(mu_, tau_, product))
        fn = sp.lambdify(t, form, modules="mpmath")
        scale = max(abs(x) for x in run)
        worst = 0.0
        with mpmath.workdps(40):
            for k_, seen in enumerate(run[1:], start=1):
                try:
                    exact = complex(fn(k_))
                except (TypeError, ValueError, ZeroDivisionError):
                    exact = complex(math.nan)
                err = abs(seen - exact.real) / scale if abs(exact.imag) <= 1e-25 * scale else math.nan
                worst = max(worst, err) if math.isfinite(err) else math.nan
        errors.append(worst)
        rows.append(f"mu={mu_}, tau={tau_}, nesterov={nesterov}, eta*lambda={product}: {worst:.2e}")
    T, D = invariants(False)
    Tn, Dn = invariants(True)
    return Derivation(
        id="sgd.quadratic.momentum",
        title="SGD with momentum on the quadratic: the closed form of its second-order recurrence",
        statement=statement,
        assumptions=(
            Assumption("f = lambda w^2/2, g = lambda w, momentum mu != 0, torch's buffer b_1 = g at the first step"),
            Assumption("distinct roots: T^2 != 4D (at T^2 = 4D the limit of the form: t r^(t-1) terms)"),
        ),
        steps=(
            r"(w, b) \mapsto (w', b') \text{ linear for } t > 1:\ T = \operatorname{tr} M = "
            + sp.latex(T)
            + r",\ D = \det M = "
            + sp.latex(D),
            r"w_{t+1} = T w_t - D w_{t-1}\ (t \ge 2),\quad r_\pm = \tfrac{1}{2}\left(T \pm \sqrt{T^2 - 4D}\right)",
            r"w_t = \frac{(w_2 - r_- w_1) r_+^{t-1} - (w_2 - r_+ w_1) r_-^{t-1}}{r_+ - r_-}",
            r"\text{Nesterov: } T = " + sp.latex(Tn) + r",\ D = " + sp.latex(Dn),
        ),
        check=Check(
            "torch.optim.SGD-float64",
            (1, 300),
            worst_error(errors),
            1e-12,
            detail="|w_t - closed form| / max|w|, closed form at 40 digits; " + "; ".join(rows),
        ),
        explanation="Momentum makes gradient descent a second-order linear recurrence on the quadratic: two roots, "
        "real (monotone or alternating decay) or complex (a damped oscillation of modulus sqrt(D) per step).",
    )


@restatable
def sgd_momentum_regimes(*, statement: sp.Eq | None = None) -> Derivation:
    """The stability interval of the heavy ball, 0 < ηλ(1 − τ) < 2(1 + μ) (Schur–Cohn on the model's
    T and D), and Nesterov's 0 < ηλ < 2(1 + μ)/(1 + 2μ); checked with torch.optim.SGD at 0.98 and
    1.02 of each edge (converges, diverges), and whether it oscillates (T² < 4D) at a point inside."""
    heavy = stability_interval(False)
    statement = statement if statement is not None else sp.Eq(sp.Symbol(r"\kappa_{\max}"), heavy.sup)
    nest = stability_interval(True)
    wrong, rows = 0, []
    for mu_, tau_, nesterov in (
        (0.5, 0.0, False),
        (0.9, 0.0, False),
        (0.9, 0.5, False),
        (0.5, 0.0, True),
        (0.9, 0.0, True),
    ):
        edge_expr = nest.sup if nesterov else statement.rhs
        try:
            edge = float(sp.sympify(edge_expr).xreplace({mu: mu_}))
        except (TypeError, ValueError):
            edge = math.nan
        if not math.isfinite(edge) or edge <= 0:
            wrong += 2
            continue
        scale = 1.0 if nesterov else 1 - tau_  # the interval is in eta*lambda*(1 - tau) for the heavy ball
        for factor, converges in ((0.98, True), (1.02, False)):
            run = _torch_sgd(mu_, tau_, nesterov, factor * edge / scale / LAMBDA, 3000, W_START)
            end = abs(run[-1])
            ok = (end < 1e-3 * W_START) if converges else (not math.isfinite(end) or end > 1e3 * W_START)
            wrong += not ok
            rows.append(f"mu={mu_}, tau={tau_}, nesterov={nesterov}, {factor} x edge {edge:.4g}: |w_3000| = {end:.3g}")
    T, D = invariants(False)
    oscillating = [(0.9, 0.5), (0.5, 0.1)]  # (mu, eta*lambda): T^2 - 4D < 0 and > 0
    signs = []
    for mu_, product in oscillating:
        disc = float((T**2 - 4 * D).xreplace({mu: mu_, tau: 0, eta: product / LAMBDA, lam: LAMBDA}))
        run = _torch_sgd(mu_, 0.0, False, product / LAMBDA, 200, W_START)
        changes = sum(1 for x, y in zip(run[1:], run[2:]) if x * y < 0)
        signs.append((disc < 0) == (changes > 2))
    return Derivation(
        id="sgd.quadratic.momentum_regimes",
        title="SGD with momentum on the quadratic: where it converges, and where it oscillates",
        statement=statement,
        assumptions=(Assumption("0 <= mu < 1, kappa = eta*lambda*(1 - tau) for the heavy ball"),),
        steps=(
            r"\text{both roots in the unit disc} \iff |D| < 1,\ |T| < 1 + D \text{ (Schur--Cohn)}",
            rf"\text{{heavy ball: }} 0 < \eta\lambda(1 - \tau) < {sp.latex(heavy.sup)}",
            rf"\text{{Nesterov: }} 0 < \eta\lambda < {sp.latex(nest.sup)}",
            r"T^2 < 4D \Rightarrow \text{complex roots, } |r_\pm| = \sqrt{D}\text{: a damped oscillation}",
        ),
        check=Check(
            "torch.optim.SGD-edges",
            (1, 3000),
            float(wrong),
            0.0,
            detail="converges at 0.98, diverges at 1.02 of the edge: " + "; ".join(rows),
        ),
        precision_checks=(
            Check(
                "torch.optim.SGD-oscillation",
                (1, 200),
                float(sum(not s for s in signs)),
                0.0,
                detail="T^2 < 4D exactly where the iterates change sign more than twice in 200 steps (mu, eta*lambda) = "
                + ", ".join(map(str, oscillating)),
            ),
        ),
        explanation="The heavy ball converges for eta*lambda*(1 - tau) up to 2(1 + mu), past plain gradient descent's 2; "
        "Nesterov's look-ahead narrows it to 2(1 + mu)/(1 + 2 mu).",
    )


def _measured_rate(momentum: float, product: float) -> float:
    """torch.optim.SGD's measured rate per step on f = λw²/2: (max|w| over t in [600, 700] /
    max|w| over t in [300, 400])^(1/300) (envelopes: an oscillation's phase does not bias it)."""
    run = _torch_sgd(momentum, 0.0, False, product / LAMBDA, 700, W_START)
    late, early = max(abs(x) for x in run[600:701]), max(abs(x) for x in run[300:401])
    return (late / early) ** (1 / 300) if late > 0 and early > 0 else math.nan


@restatable
def sgd_momentum_optimal(*, statement: sp.Eq | None = None) -> Derivation:
    """The momentum that converges fastest on λw²/2 (heavy ball, τ = 0): μ* = (1 − √(ηλ))², where the
    two roots meet, rate √μ* = 1 − √(ηλ). Checked against the spectral radius over a μ grid
    (numpy roots) and against torch.optim.SGD's measured rate at μ* and ±0.05 around it."""
    mu_star, rho_star = optimal_momentum()
    statement = statement if statement is not None else sp.Eq(sp.Symbol(r"\mu^*"), mu_star)
    T, D = invariants(False)
    grid_errors, torch_rows, worse = [], [], 0
    rate_errors = []
    for product in (0.01, 0.1, 0.3):
        vals = {tau: 0, eta: product / LAMBDA, lam: LAMBDA}
        try:
            stated = float(sp.sympify(statement.rhs).xreplace(vals))
        except (TypeError, ValueError):
            stated = math.nan
        mus = np.linspace(0, 0.999, 99901)
        Tn = np.array([float(T.xreplace({**vals, mu: 0}))]) + mus  # T = 1 + mu - eta lambda: linear in mu
        disc = np.sqrt((Tn**2 - 4 * mus).astype(complex))
        radius = np.maximum(np.abs((Tn + disc) / 2), np.abs((Tn - disc) / 2))
        best = float(mus[int(np.argmin(radius))])
        grid_errors.append(abs(stated - best) if math.isfinite(stated) else math.nan)
        rates = {m_: _measured_rate(m_, product) for m_ in (stated - 0.05, stated, stated + 0.05) if 0 <= m_ < 1}
        worse += any(r_ < rates[stated] for m_, r_ in rates.items() if m_ != stated) if stated in rates else 1
        expected = 1 - math.sqrt(product)
        rate_errors.append(abs(rates.get(stated, math.nan) - expected) / expected)
        torch_rows.append(
            f"eta*lambda={product}: mu*={stated:.6g} (grid argmin {best:.5g}); torch rates "
            + ", ".join(f"mu={m_:.4g}: {r_:.5g}" for m_, r_ in rates.items())
            + f"; 1 - sqrt(eta lambda) = {expected:.5g}"
        )
    return Derivation(
        id="sgd.quadratic.momentum_optimal",
        title="SGD with momentum on the quadratic: the optimal momentum",
        statement=statement,
        assumptions=(
            Assumption("heavy ball, dampening 0, 0 < eta*lambda <= 1", sp.And(eta * lam > 0, eta * lam <= 1)),
        ),
        steps=(
            r"\rho(\mu) = \max|r_\pm|;\ \text{complex roots: } \rho = \sqrt{\mu}\text{, increasing; real: decreasing in } \mu",
            r"\text{the minimum where the roots meet: } T^2 = 4D \iff (1 + \mu - \eta\lambda)^2 = 4\mu",
            rf"\mu^* = {sp.latex(mu_star)},\quad \rho^* = {sp.latex(rho_star)} = 1 - \sqrt{{\eta\lambda}}",
        ),
        check=Check(
            "spectral-radius-grid",
            (0, 0),
            worst_error(grid_errors),
            2e-5,
            detail="|mu* - argmin of max|roots| over mu in [0, 0.999] (step 1e-5)|; " + "; ".join(torch_rows),
        ),
        precision_checks=(
            Check(
                "torch.optim.SGD-rate",
                (300, 700),
                worst_error(rate_errors) if not worse else math.inf,
                0.02,
                detail="the measured rate at mu* against 1 - sqrt(eta lambda), and no faster rate at mu* +- 0.05 (the "
                "critical root's t r^t factor biases the envelope ratio by ~1/t)",
            ),
        ),
        explanation="The best momentum for curvature lambda is (1 - sqrt(eta lambda))^2: the roots meet, and the rate "
        "1 - sqrt(eta lambda) replaces gradient descent's 1 - eta lambda: the square root of the condition number.",
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (sgd_momentum_trajectory(), sgd_momentum_regimes(), sgd_momentum_optimal())


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process."""
    return list(_derivations())


__all__ = [
    "derivations",
    "invariants",
    "linear_map",
    "optimal_momentum",
    "sgd_momentum_optimal",
    "sgd_momentum_regimes",
    "sgd_momentum_trajectory",
    "stability_interval",
    "trajectory",
]
