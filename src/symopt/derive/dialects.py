"""The post's formulas (``dialect="textbook"``) against torch's, rate by rate.

AdaGrad: torch η_t = η/(√G_t + ε), the post η/√(G_t + ε). Under a constant gradient (G_0 = 0,
G_t = t g², the same ε) the ratio of the post's rate to torch's is

    R(x) = (√x + ε)/√(x + ε),  x = t g²,

which equals 1 at √x = (1 − ε)/2, exceeds 1 by at most O(ε) above, and falls below 0.99 when
x < x*(ε) ≈ 49.25 ε: the two differ by more than 1 % only while t g² < x*.

RMSProp: torch v_t = (1 − α^t) g², the post (ε inside the recursion) v_t = (1 − α^t)(g² + ε/(1 − α)),
so the post's σ² converges to g² + ε/(1 − α): its ε is amplified by 1/(1 − α) (10× for α = 0.9,
100× for 0.99). The ratio

    R = (√(1 − α^t) |g| + ε) / √((1 − α^t)(g² + ε/(1 − α)))

depends on g², ε, α and t; |R − 1| > 1 % where g² < y*(t, α, ε) (≈ 49.25 ε/(1 − α) for large t).
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp

from .. import rules
from ..rules import g, t
from ..rules._primitives import alpha, epsilon, eta
from ._result import Assumption, Check, Derivation, restatable, worst_error
from .gradients import ConstantGradient
from .simulate import compile_body, log_spaced_steps

x = sp.Symbol("x", nonnegative=True)  # t g²


def adagrad_ratio() -> sp.Expr:
    """η_textbook/η_torch under a constant gradient, G_0 = 0, same ε."""
    return (sp.sqrt(t) * sp.Abs(g) + epsilon) / sp.sqrt(t * g**2 + epsilon)


def rmsprop_ratio() -> sp.Expr:
    """η_textbook/η_torch for RMSProp under a constant gradient, same α and ε."""
    return (sp.sqrt(1 - alpha**t) * sp.Abs(g) + epsilon) / sp.sqrt((1 - alpha**t) * (g**2 + epsilon / (1 - alpha)))


def rate_ratio(family: str, g2: float, eps: float, t_value: float, alpha_value: float = 0.99) -> float:
    """The ratio as a number (for plots over g², ε, α, t)."""
    expr = adagrad_ratio() if family == "adagrad" else rmsprop_ratio()
    with mpmath.workdps(30):
        return float(sp.N(expr.subs({g: sp.sqrt(g2), epsilon: eps, t: t_value, alpha: alpha_value}), 25))


@lru_cache(maxsize=None)
def adagrad_threshold(eps: float) -> float:
    """x* with R(x*) = 0.99 (R < 0.99 iff t g² < x*)."""
    with mpmath.workdps(40):
        e = mpmath.mpf(eps)
        f = lambda u: (mpmath.sqrt(u * e) + e) / mpmath.sqrt(u * e + e) - mpmath.mpf("0.99")  # noqa: E731
        return float(e * mpmath.findroot(f, (mpmath.mpf(1), mpmath.mpf(10) ** 4), solver="illinois"))


@lru_cache(maxsize=None)
def rmsprop_threshold(eps: float, alpha_value: float, t_value: float) -> float:
    """y* with R = 0.99 at g² = y* (R < 0.99 iff g² < y*) at step t (t = inf: the limit)."""
    with mpmath.workdps(40):
        e, a = mpmath.mpf(eps), mpmath.mpf(alpha_value)
        s = 1 if t_value == float("inf") else 1 - a ** int(t_value)

        scale = e / (1 - a)

        def f(u):
            y = u * scale
            return (mpmath.sqrt(s * y) + e) / mpmath.sqrt(s * (y + scale)) - mpmath.mpf("0.99")

        return float(scale * mpmath.findroot(f, (mpmath.mpf("1e-3"), mpmath.mpf(10) ** 6), solver="illinois"))


@lru_cache(maxsize=None)
def _dialect_runs(family: str, items: tuple, value: float, steps: int, checkpoints: tuple[int, ...]) -> dict[str, dict]:
    """Both dialects' reset runs (η_t at the checkpoints) under the constant gradient ``value``."""
    model = ConstantGradient((value,))
    return {
        d: compile_body(rules.get(family, d), items).run(steps, checkpoints, model.scalar(0), 0.0, reset=True)
        for d in ("torch", "textbook")
    }


def _simulated_ratio(
    family: str, items: tuple, values: tuple[float, ...], statement: sp.Eq, steps: int = 10**6
) -> tuple[float, tuple[int, ...]]:
    """max rel err of the statement's ratio against η_textbook/η_torch from runs of both rules."""
    from .checks import statement_function

    checkpoints = log_spaced_steps(steps, 10)
    opts = dict(items)
    errors = []
    for value in values:
        rows = _dialect_runs(family, items, value, steps, checkpoints)
        stated = statement_function(statement, t, {g: value, epsilon: opts["eps"], alpha: opts.get("alpha", 0.99)})
        with mpmath.workdps(40):
            for s in checkpoints:
                derived = stated(s)
                observed = mpmath.mpf(rows["textbook"][s]["lr"]) / mpmath.mpf(rows["torch"][s]["lr"])
                errors.append(
                    float(abs(observed - derived) / abs(derived))
                    if mpmath.isfinite(derived) and derived
                    else float("nan")
                )
    return worst_error(errors), checkpoints


@restatable
def adagrad_difference(*, statement: sp.Eq | None = None) -> Derivation:
    G = sp.Symbol("G_t", nonnegative=True)
    diff = eta / (sp.sqrt(G) + epsilon) - eta / sp.sqrt(G + epsilon)
    statement = (
        statement
        if statement is not None
        else sp.Eq(sp.Symbol(r"\eta^{\mathrm{post}}_t / \eta^{\mathrm{torch}}_t"), adagrad_ratio())
    )
    worst, cps = _simulated_ratio("adagrad", (("eps", 1e-8),), (0.5, -3e-3, 1e-5), statement)
    thresholds = {e: adagrad_threshold(e) for e in (1e-8, 1e-10)}
    return Derivation(
        id="dialects.adagrad",
        title="AdaGrad: the post's formula vs torch's",
        statement=statement,
        assumptions=(Assumption("constant gradient, G_0 = 0, the same eps in both"),),
        steps=(
            rf"\eta^{{\mathrm{{torch}}}}_t - \eta^{{\mathrm{{post}}}}_t = {sp.latex(diff)}",
            r"G_t = t g^2 \Rightarrow R = \frac{\sqrt{t}\,|g| + \epsilon}{\sqrt{t g^2 + \epsilon}} = 1 \iff \sqrt{t g^2} = \frac{1 - \epsilon}{2}",
            rf"|R - 1| > 1\% \iff t g^2 < x^*(\epsilon);\ x^*(10^{{-8}}) = {thresholds[1e-8]:.4g},\ x^*(10^{{-10}}) = {thresholds[1e-10]:.4g}\ (\approx 49.25\,\epsilon)",
        ),
        check=Check(
            "interpreter-float64-ratio",
            (1, 10**6),
            worst,
            1e-10,
            detail=f"both dialects run with eps = 1e-8, g in (0.5, -3e-3, 1e-5), {len(cps)} log-spaced t",
        ),
        explanation=(
            f"eps inside vs outside the root matters only while t*g^2 < ~49 eps (x* = {thresholds[1e-8]:.3g} for eps = 1e-8); "
            "torch's default eps is 1e-10, the post's 1e-8."
        ),
    )


@restatable
def rmsprop_difference(*, statement: sp.Eq | None = None) -> Derivation:
    statement = (
        statement
        if statement is not None
        else sp.Eq(sp.Symbol(r"\eta^{\mathrm{post}}_t / \eta^{\mathrm{torch}}_t"), rmsprop_ratio())
    )
    worst, cps = _simulated_ratio("rmsprop", (("alpha", 0.99), ("eps", 1e-8)), (0.5, -3e-3, 1e-4), statement)
    table = {(a, T): rmsprop_threshold(1e-8, a, T) for a in (0.9, 0.99) for T in (1, 10, 100, float("inf"))}
    rows = "; ".join(f"alpha={a}, t={T}: g^2 < {y:.3g}" for (a, T), y in table.items())
    limit = (sp.Abs(g) + epsilon) / sp.sqrt(g**2 + epsilon / (1 - alpha))
    return Derivation(
        id="dialects.rmsprop",
        title="RMSProp: the post's eps in the recursion vs torch's eps outside the root",
        statement=statement,
        assumptions=(Assumption("constant gradient, v_0 = 0, the same alpha and eps"),),
        steps=(
            r"\text{post: } v_t = \alpha v_{t-1} + (1-\alpha) g^2 + \epsilon = (1-\alpha^t)\left(g^2 + \frac{\epsilon}{1-\alpha}\right) \to g^2 + \frac{\epsilon}{1-\alpha}",
            r"\text{torch: } v_t = (1-\alpha^t) g^2,\ \sigma_t = \sqrt{v_t} + \epsilon",
            rf"R \to {sp.latex(limit)}; \quad |R-1| > 1\% \iff g^2 < y^*(t, \alpha, \epsilon)",
        ),
        check=Check(
            "interpreter-float64-ratio",
            (1, 10**6),
            worst,
            1e-10,
            detail=f"alpha = 0.99, eps = 1e-8, g in (0.5, -3e-3, 1e-4); thresholds for eps = 1e-8: {rows}",
        ),
        explanation=(
            "The post's eps inside the recursion accumulates to eps/(1 - alpha) (100 eps for alpha = 0.99): the two rates differ by > 1% "
            f"whenever g^2 < {table[(0.99, float('inf'))]:.3g} (|g| < {table[(0.99, float('inf'))] ** 0.5:.3g}) for alpha = 0.99, eps = 1e-8, late in training."
        ),
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (adagrad_difference(), rmsprop_difference())


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())
