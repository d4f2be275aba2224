"""The effective learning rate η_t: leading asymptotic terms and decay exponents, RMSProp's early
steps, torch's lr_decay, and the time constants of α.

Each asymptotic statement η_t ~ C t^{−q} (or C (ln t)^{−1/2}) is checked against the rule's body
run to t = 10⁶ by (i) the measured log-log slope between 10⁵ and 10⁶ and (ii) the ratio of the
simulated η_t to the leading term (or to the two-term form where the correction decays only
logarithmically).

AdaGrad under g_t = c t^{−p} (ε, G_0 small): G_t = G_0 + c² H_t^{(2p)}, so

* p < 1/2: H_t^{(2p)} ~ t^{1−2p}/(1−2p) ⇒ η_t ~ η √(1−2p) / (|c| t^{1/2−p}) → 0, exponent 1/2 − p;
* p = 1/2: H_t ~ ln t + γ ⇒ η_t ~ η / (|c| √(ln t + γ)) → 0, logarithmically;
* p > 1/2: H_t^{(2p)} → ζ(2p) ⇒ η_t → η / (√(G_0 + c² ζ(2p)) + ε) > 0, approached like t^{1−2p}
  (the tail ζ(2p) − H_t^{(2p)} = ζ(2p, t+1) ~ t^{1−2p}/(2p−1)).

RMSProp under the same gradient forgets instead of summing: η_t ~ (η/|c|) t^p grows, for every
p > 0, until |c| t^{−p} falls below ε; then η_t → η/ε (:func:`rmsprop_powerlaw`,
:func:`rmsprop_powerlaw_limit`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import mpmath
import sympy as sp

from .. import rules
from ..rules import t
from ..rules._primitives import alpha, epsilon, eta, gamma
from ._result import Assumption, Check, Derivation, restatable, worst_error
from .gradients import ConstantGradient, PowerLawGradient, c, w0
from .simulate import compile_body, log_spaced_steps

T_FAR = 10**6
eta_t = sp.Symbol("eta_t")
g = rules.g


@lru_cache(maxsize=None)
def simulated_rate(
    family: str, dialect: str, items: tuple, model, steps: int = T_FAR, element: int = 0
) -> dict[int, float]:
    """{t: η_t} at log-spaced t ≤ ``steps`` (reset run, element ``element`` of the model): the
    series a figure of 'simulated vs derived η_t' plots."""
    program = compile_body(rules.get(family, dialect), items)
    checkpoints = log_spaced_steps(steps, 20)
    rows = program.run(steps, checkpoints, model.scalar(element), 0.0, reset=True)
    return {s: rows[s]["lr"] for s in checkpoints}


def rate_series(
    family: str, dialect: str | None = None, gradient=None, items: tuple = (), steps: int = T_FAR
) -> tuple[list[int], list[float], list[float]]:
    """(t, simulated η_t, derived η_t) for a figure: the derived closed form from :func:`derive`."""
    from .closed_forms import derive

    rule = rules.get(family, dialect)
    model = gradient or ConstantGradient()
    lr = next(d for d in derive(rule, gradient=model, **dict(items)) if d.id.endswith(".lr"))
    series = simulated_rate(family, rule.dialect, items, model, steps)
    from .checks import _evaluate, numeric_values

    numbers = {s: v[:1] for s, v in numeric_values(rule, dict(items), model).items()}
    steps_ = list(series)
    with mpmath.workdps(30):
        derived = [float(row[0]) for row in _evaluate(lr.expr, tuple(steps_), numbers, model)]
    return steps_, [series[s] for s in steps_], derived


def _slope(series: dict[int, float], t0: int = 10**5, t1: int = T_FAR, transform=math.log) -> float:
    return (math.log(abs(series[t1])) - math.log(abs(series[t0]))) / (transform(t1) - transform(t0))


def _rule_numbers(
    family: str, items: tuple, model, extra: dict | None = None, element: int = 0
) -> dict[sp.Symbol, Any]:
    """The numbers of every symbol a statement about ``family`` under ``model`` may hold: the
    rule's hyperparameters as run (defaults replaced by ``items``), element ``element`` of the
    gradient model (g, c), and ``extra``."""
    from .checks import numeric_values

    numbers = {s: v[element] for s, v in numeric_values(rules.get(family), dict(items), model).items()}
    numbers.update(extra or {})
    return numbers


def _runs(family: str, items: tuple, model) -> list[tuple[dict[int, float], dict[sp.Symbol, Any]]]:
    """(simulated η_t, the numbers of the statement's symbols) for every element of ``model``
    (the checks use gradients of both signs: |g| in a statement is part of what is checked)."""
    return [
        (simulated_rate(family, "torch", items, model, element=i), _rule_numbers(family, items, model, element=i))
        for i in range(len(model.values))
    ]


#: float64 rounding that a run of t steps may accumulate, relative: t unit roundoffs
UNIT_ROUNDOFF = 2.0**-53
#: slack on the rate at which a ratio must approach 1 (its O-term's), between 10⁴ and 10⁶
ORDER_SLACK = 2.0


def order_term(statement: sp.Eq) -> sp.Expr | None:
    """h(t) of the statement's ``O(h(t))`` (t → ∞), or None when it states no order."""
    orders = [o for o in sp.sympify(statement.rhs).atoms(sp.Order)]
    return orders[0].expr if orders else None


def converging_ratio_error(
    ratios: dict[int, float], statement: sp.Eq, t_mid: int = 10**4, t_far: int = T_FAR
) -> tuple[float, str]:
    """How far the simulated/stated ratio r(t) is from approaching 1 at the rate the statement
    claims: |r(T) − 1| must be at most ``ORDER_SLACK`` · K h(T), K = |r(t_mid) − 1| / h(t_mid)
    (the O-term's constant as seen at t_mid), or at most T · 2⁻⁵³ (float64's accumulated
    rounding). Returns (|r(T) − 1| / allowed, detail): ≤ 1 passes. A wrong leading constant
    leaves r − 1 constant and fails; so does an O-term that claims a faster approach than the
    run shows."""
    h = order_term(statement)
    far = abs(ratios[t_far] - 1)
    floor = t_far * UNIT_ROUNDOFF
    if h is None:
        allowed = floor
    else:
        hn = sp.lambdify(t, h, "mpmath")
        with mpmath.workdps(30):
            k = abs(ratios[t_mid] - 1) / float(abs(hn(t_mid)))
            allowed = max(ORDER_SLACK * k * float(abs(hn(t_far))), floor)
    if not (math.isfinite(far) and math.isfinite(allowed)):
        return math.nan, "not finite"
    detail = (
        f"|r - 1| = {abs(ratios[t_mid] - 1):.3g} at t = {t_mid:.0e}, {far:.3g} at t = {t_far:.0e}; "
        f"allowed at {t_far:.0e}: {allowed:.3g} ({'O(' + str(h) + ')' if h is not None else 'no O-term'}, float64 floor {floor:.1g})"
    )
    return far / allowed, detail


def _asymptotic(
    id_, title, statement, runs, steps, explanation, extra_assumptions=(), slope_transform=math.log, slope_tol=1e-3
):
    """A statement η_t = L(t)(1 + O(h(t))) checked on simulated series (one per gradient in
    ``runs``, each with the numbers of the statement's symbols): (i) the log-log slope of the
    simulation between 10⁵ and 10⁶ against the slope of L itself there, and (ii) the ratio r(t)
    of the simulation to L approaching 1 at the rate h(t) of the statement's O-term
    (:func:`converging_ratio_error`). L is the statement's right-hand side (O-terms dropped):
    the check reads nothing but the statement it certifies."""
    from .checks import statement_function

    slope_errors, ratio_errors, details = [], [], []
    for series, numbers in runs:
        leading = statement_function(statement, t, numbers)
        slope = _slope(series, transform=slope_transform)
        derived = {s: float(leading(s)) for s in (10**4, 10**5, T_FAR)}
        exponent = (
            _slope(derived, transform=slope_transform)
            if all(v and math.isfinite(v) for v in derived.values())
            else math.nan
        )
        ratios = {s: series[s] / derived[s] if derived[s] else math.nan for s in derived}
        error, detail = converging_ratio_error(ratios, statement)
        slope_errors.append(abs(slope - exponent))
        ratio_errors.append(error)
        details.append((slope, exponent, ratios[T_FAR], detail))
    checks = (
        Check(
            "loglog-slope",
            (10**5, T_FAR),
            worst_error(slope_errors),
            slope_tol,
            detail="; ".join(f"measured {a:.6f}, the statement's {b:.6f}" for a, b, _, _ in details),
        ),
        Check(
            "leading-term-ratio",
            (10**4, T_FAR),
            worst_error(ratio_errors),
            1.0,
            detail="; ".join(f"simulated / statement r = {r:.10f} at t = 1e6; {d}" for _, _, r, d in details),
        ),
    )
    return Derivation(
        id=id_,
        title=title,
        statement=statement,
        assumptions=tuple(extra_assumptions),
        steps=tuple(steps),
        check=checks[0],
        precision_checks=checks[1:],
        explanation=explanation,
    )


def _limit_checks(statement: sp.Eq, runs: list, gap_exponent: sp.Expr) -> tuple[Check, Check]:
    """The checks of a statement lim η_t = L on simulated series (one per gradient in ``runs``):
    the simulated η_t at 10⁶ against L (the statement's value, read from the statement), and the
    log-log slope of the gap L − η_t between 10⁵ and 10⁶ against ``gap_exponent``."""
    from .checks import statement_function

    ratio_errors, slope_errors, rows = [], [], []
    for series, numbers in runs:  # both signs of c
        value = float(statement_function(statement, t, numbers)(T_FAR))  # a limit: the same at every t
        gap = {s: value - r for s, r in series.items()}
        slope = _slope(gap) if all(gap[s] for s in (10**5, T_FAR)) else math.nan
        ratio = series[T_FAR] / value if value else math.nan
        ratio_errors.append(abs(ratio - 1))
        slope_errors.append(abs(slope - float(gap_exponent)))
        rows.append((ratio, slope))
    return (
        Check(
            "limit-ratio",
            (T_FAR, T_FAR),
            worst_error(ratio_errors),
            1e-3,
            detail="; ".join(f"simulated eta_t / the statement's limit = {r:.8f} at t = 1e6" for r, _ in rows),
        ),
        Check(
            "loglog-slope",
            (10**5, T_FAR),
            worst_error(slope_errors),
            1e-2,
            detail="; ".join(f"slope of (limit - eta_t): measured {sl:.5f}, derived {gap_exponent}" for _, sl in rows),
        ),
    )


# -- AdaGrad ------------------------------------------------------------------------------------
@restatable
def adagrad_constant_leading(g_value: float = 0.5, *, statement: sp.Eq | None = None) -> Derivation:
    """η_t = η/(√(G_0 + t g²) + ε) ~ η/(|g| √t): exponent −1/2."""
    model = ConstantGradient((g_value, -g_value))
    leading = eta / (sp.Abs(g) * sp.sqrt(t))
    statement = statement if statement is not None else sp.Eq(eta_t, leading * (1 + sp.O(1 / sp.sqrt(t), (t, sp.oo))))
    return _asymptotic(
        "adagrad.torch.lr_leading",
        "AdaGrad [torch], constant gradient: leading term of eta_t",
        statement,
        _runs("adagrad", (), model),
        (
            r"\eta_t = \frac{\eta}{\sqrt{G_0 + t g^2} + \epsilon} = \frac{\eta}{|g|\sqrt{t}}\left(1 + O(t^{-1/2})\right)",
        ),
        "Under a constant gradient AdaGrad's rate decays like t^(-1/2): to 0, but slowly enough that the total movement grows like 2*eta*sqrt(t).",
        (Assumption("g != 0, gamma = 0"),),
    )


@restatable
def adagrad_powerlaw(p: sp.Rational, *, statement: sp.Eq | None = None) -> Derivation:
    """The three regimes of AdaGrad's rate under g_t = c t^{−p} (see the module docstring)."""
    p = sp.Rational(p)
    model = PowerLawGradient((0.5, -0.5), exponent=p)
    runs = _runs("adagrad", (), model)
    base = (Assumption(f"g_t = c t^(-{p}), G_0 = 0, eps -> 0, gamma = 0"),)
    first = rf"G_t = G_0 + c^2 H_t^{{({sp.latex(2 * p)})}}"
    if p < sp.Rational(1, 2):
        q = sp.Rational(1, 2) - p
        leading = eta * sp.sqrt(1 - 2 * p) / (sp.Abs(c) * t**q)
        return _asymptotic(
            f"adagrad.torch.powerlaw_p{p}.lr_leading",
            f"AdaGrad, g_t = c t^-{p} (p < 1/2): eta_t -> 0 like t^-{q}",
            statement if statement is not None else sp.Eq(eta_t, leading * (1 + sp.O(t ** (-(1 - 2 * p)), (t, sp.oo)))),
            runs,
            (
                first,
                r"H_t^{(2p)} = \frac{t^{1-2p}}{1-2p} + \zeta(2p) + O(t^{-2p}) \text{ (Euler–Maclaurin)}",
                rf"\eta_t \sim {sp.latex(leading)}",
            ),
            f"p = {p} < 1/2: the squared gradients are not summable, G_t grows like t^(1-2p) and eta_t -> 0 with exponent {q}.",
            base,
            slope_tol=2e-3,
        )
    if p == sp.Rational(1, 2):
        two_term = eta / (sp.Abs(c) * sp.sqrt(sp.log(t) + sp.EulerGamma))
        return _asymptotic(
            "adagrad.torch.powerlaw_p1/2.lr_leading",
            "AdaGrad, g_t = c t^-1/2 (p = 1/2): eta_t -> 0 like (ln t)^-1/2",
            statement
            if statement is not None
            else sp.Eq(eta_t, two_term * (1 + sp.O(1 / (t * sp.log(t)), (t, sp.oo)))),
            runs,
            (first, r"H_t = \ln t + \gamma + O(1/t)", rf"\eta_t = {sp.latex(two_term)}\,(1 + O(1/(t \ln t))) \to 0"),
            "p = 1/2: G_t grows like ln t, so eta_t -> 0, but only like (ln t)^(-1/2): at t = 1e6 it is still 27% of eta/|c|.",
            base,
            slope_transform=lambda T: math.log(math.log(T) + 0.5772156649015329),
            slope_tol=1e-5,
        )

    limit = eta / (sp.Abs(c) * sp.sqrt(sp.zeta(2 * p)))
    statement = statement if statement is not None else sp.Eq(sp.Limit(eta_t, t, sp.oo), limit)
    checks = _limit_checks(statement, runs, 1 - 2 * p)
    return Derivation(
        id=f"adagrad.torch.powerlaw_p{p}.lr_limit",
        title=f"AdaGrad, g_t = c t^-{p} (p > 1/2): eta_t -> a positive constant",
        statement=statement,
        assumptions=base,
        steps=(
            first,
            rf"H_t^{{({sp.latex(2 * p)})}} \to \zeta({sp.latex(2 * p)}), \text{{ gap }} \sim \frac{{t^{{1-2p}}}}{{2p-1}}",
            rf"\eta_t \to {sp.latex(limit)} > 0",
        ),
        check=checks[0],
        precision_checks=checks[1:],
        explanation=f"p = {p} > 1/2: the squared gradients are summable, G_t converges and eta_t tends to a positive constant (it does not go to 0).",
    )


@restatable
def adagrad_lr_decay(decay: float = 0.01, *, statement: sp.Eq | None = None) -> Derivation:
    """torch's lr_decay: η_t = η/((1 + (t−1)γ)(√(G_0 + t g²) + ε)) ~ η/(γ |g|) t^{−3/2}, to
    O(t^{−3/2}) relative (the 1/t correction −(1 − γ)/γ is 99/t for γ = 0.01: it dominates the
    approach at every t a run reaches, so the statement carries it)."""
    # ε = 0.05 (not torch's 1e-10) so that the statement's ε terms are above float64's reach; and a
    # second point (γ = 0.5, ε = 0.2) where ε²/g² is a sixth of the 1/t coefficient, not 1e-4 of it
    items, model = (("eps", 0.05), ("lr_decay", decay)), ConstantGradient((0.5, -0.5))
    second = (("eps", 0.2), ("lr_decay", 0.5))
    leading = eta / (gamma * sp.Abs(g) * t ** sp.Rational(3, 2))
    # 1/((1 + A/t)(1 + B/√t)) = 1 − B t^{-1/2} + (B² − A) t^{-1} + O(t^{-3/2}), A = (1 − γ)/γ, B = ε/|g|
    A, B = (1 - gamma) / gamma, epsilon / sp.Abs(g)
    correction = 1 - B / sp.sqrt(t) + (B**2 - A) / t + sp.O(t ** sp.Rational(-3, 2), (t, sp.oo))
    return _asymptotic(
        "adagrad.torch.lr_decay_leading",
        "AdaGrad [torch] with lr_decay: eta_t ~ t^(-3/2)",
        statement if statement is not None else sp.Eq(eta_t, leading * correction),
        _runs("adagrad", items, model) + _runs("adagrad", second, model),
        (
            r"\eta_t = \frac{\eta}{(1 + (t-1)\gamma)(\sqrt{G_0 + t g^2} + \epsilon)} \quad (G_0 = 0)",
            r"1 + (t-1)\gamma = \gamma t\,(1 + A/t),\ A = \frac{1-\gamma}{\gamma}; \quad \sqrt{t}\,|g| + \epsilon = |g|\sqrt{t}\,(1 + B/\sqrt{t}),\ B = \frac{\epsilon}{|g|}",
            r"\eta_t = \frac{\eta}{\gamma |g|}\, t^{-3/2} \left(1 - \frac{B}{\sqrt{t}} + \frac{B^2 - A}{t} + O(t^{-3/2})\right)",
        ),
        "torch's lr_decay divides by 1 + (t-1)*lr_decay on top of AdaGrad's sqrt(G_t): the rate decays like t^(-3/2).",
        (Assumption("gamma > 0, g != 0"),),
    )


# -- RMSProp's early steps ------------------------------------------------------------------------
@restatable
def rmsprop_first_step(*, statement: sp.Eq | None = None) -> Derivation:
    """With v_0 = 0: η_1 = η/(√(1−α)|g| + ε), so the first step is η sign(g)/√(1−α) (ε → 0):
    10 η for α = 0.99, 3.16 η for α = 0.9; the inflation η_t/η_∞ = (|g| + ε)/(√(1−α^t)|g| + ε)
    falls below 1 % after t ≥ ln(1 − 1/1.01²)/ln α (391 steps for 0.99, 39 for 0.9).

    Checked on the statement itself: its value at every t ≤ 2000 against the simulated
    η_t/η_∞ (η_∞ = η/(|g| + ε) the torch rate's limit), and the first t at which the statement
    falls below 1.01 against the simulation's."""
    from .checks import statement_function

    inflation = (sp.Abs(g) + epsilon) / (sp.sqrt(1 - alpha**t) * sp.Abs(g) + epsilon)
    statement = statement if statement is not None else sp.Eq(sp.Symbol(r"\eta_t / \eta_\infty"), inflation)
    rows, errors, settle_errors = [], [], []
    for a, grad in ((0.9, 0.5), (0.99, 0.5), (0.99, -0.5)):  # both signs: |g| is part of the statement
        series = compile_body(rules.rmsprop(), (("alpha", a),)).run(
            2000, range(1, 2001), lambda s, w: grad, 0.0, reset=True
        )
        limit = 0.01 / (abs(grad) + 1e-8)
        stated = statement_function(statement, t, {g: grad, epsilon: 1e-8, alpha: a, eta: 0.01})
        with mpmath.workdps(30):
            values = {s: stated(s) for s in range(1, 2001)}
            errors += [
                abs(series[s]["lr"] / limit - values[s]) / abs(values[s]) if values[s] else math.inf
                for s in range(1, 2001)
            ]
        measured_settle = next((s for s in range(1, 2001) if series[s]["lr"] / limit < 1.01), None)
        stated_settle = next((s for s in range(1, 2001) if values[s] < 1.01), None)
        settle_errors.append(0.0 if measured_settle == stated_settle and measured_settle is not None else math.inf)
        derived_settle = math.ceil(math.log(1 - 1 / 1.01**2) / math.log(a))
        rows.append(
            f"alpha={a}, g={grad}: first step {series[1]['lr'] * abs(grad) / 0.01:.4f} eta (1/sqrt(1-alpha) = {1 / math.sqrt(1 - a):.4f}), "
            f"inflation < 1% from t = {measured_settle} (statement: {stated_settle}; ln(1 - 1.01^-2)/ln alpha: {derived_settle})"
        )
    return Derivation(
        id="rmsprop.torch.early_inflation",
        title="RMSProp [torch] with v_0 = 0: inflated early steps",
        statement=statement,
        assumptions=(Assumption("constant gradient g != 0, v_0 = 0"),),
        steps=(
            r"v_t = (1 - \alpha^t) g^2, \quad \eta_t = \frac{\eta}{\sqrt{1-\alpha^t}\,|g| + \epsilon}, \quad \eta_\infty = \frac{\eta}{|g| + \epsilon}",
            r"\text{first step: } \eta_1 g = \frac{\eta\, g}{\sqrt{1-\alpha}\,|g| + \epsilon} \approx \frac{\eta\, \mathrm{sign}(g)}{\sqrt{1-\alpha}}",
            r"\eta_t/\eta_\infty < 1.01 \iff t \ge \ln(1 - 1.01^{-2}) / \ln\alpha",
        ),
        check=Check(
            "simulation",
            (1, 2000),
            worst_error(errors),
            1e-10,
            detail="simulated eta_t/eta_inf against the statement at every t; " + "; ".join(rows),
        ),
        precision_checks=(
            Check(
                "settling-step",
                (1, 2000),
                worst_error(settle_errors),
                0.0,
                detail="first t with eta_t/eta_inf < 1.01: simulation = statement",
            ),
        ),
        explanation="Starting from v_0 = 0 the first RMSProp step is eta/sqrt(1-alpha) in size: 10x the steady step for alpha = 0.99 (3.2x for 0.9); it settles within 1% after ~391 (39) steps.",
    )


# -- RMSProp under a power-law gradient ------------------------------------------------------------
@restatable
def rmsprop_powerlaw(p: sp.Rational, *, statement: sp.Eq | None = None) -> Derivation:
    r"""RMSProp [torch] under :math:`g_t = c t^{-p}` (p > 0), ε → 0: the mean square tracks the
    shrinking gradient with a lag, :math:`v_t = c^2 t^{-2p}(1 + a/t + O(t^{-2}))`, where matching
    the 1/t terms of :math:`v_t = \alpha v_{t-1} + (1-\alpha) c^2 t^{-2p}` (with
    :math:`(t-1)^{-2p} = t^{-2p}(1 + 2p/t + \dots)`) gives :math:`a = \alpha(2p + a)`,
    :math:`a = 2p\alpha/(1-\alpha)`; so
    :math:`\eta_t = \frac{\eta t^p}{|c|}\left(1 - \frac{p\alpha}{(1-\alpha)t} + O(t^{-2})\right)`:
    unlike AdaGrad's, RMSProp's rate *grows*, like :math:`t^p`, for every p > 0 (while
    :math:`|c| t^{-p} \gg \epsilon`; :func:`rmsprop_powerlaw_limit` is the other regime)."""
    p = sp.Rational(p)
    model = PowerLawGradient((0.5, -0.5), exponent=p)
    runs = _runs("rmsprop", (("eps", 0.0),), model)
    a = 2 * p * alpha / (1 - alpha)
    leading = eta * t**p / sp.Abs(c) * (1 - a / (2 * t))
    return _asymptotic(
        f"rmsprop.torch.powerlaw_p{p}.lr_leading",
        f"RMSProp, g_t = c t^-{p}: eta_t grows like t^{p}",
        statement if statement is not None else sp.Eq(eta_t, leading * (1 + sp.O(t**-2, (t, sp.oo)))),
        runs,
        (
            r"v_t = \alpha v_{t-1} + (1-\alpha)\,c^2 t^{-2p},\quad v_t = c^2 t^{-2p}\left(1 + \tfrac{a}{t} + O(t^{-2})\right)",
            r"a = \alpha(2p + a) \Rightarrow a = " + sp.latex(a),
            rf"\eta_t = {sp.latex(leading)}\,(1 + O(t^{{-2}}))",
        ),
        f"p = {p}: the exponential average forgets, so v_t follows g_t^2 down (lagging by a/t) and eta_t grows like t^{p}: "
        "the opposite of AdaGrad, whose sum remembers.",
        (Assumption(f"g_t = c t^(-{p}), v_0 = 0, eps -> 0 (|c| t^-p >> eps), no momentum"),),
    )


@restatable
def rmsprop_powerlaw_limit(p: int = 2, *, statement: sp.Eq | None = None) -> Derivation:
    r"""RMSProp [torch] under :math:`g_t = c t^{-p}` with ε > 0: :math:`v_t \to 0`, so
    :math:`\eta_t \to \eta/\epsilon`, the gap :math:`\eta/\epsilon - \eta_t \approx \eta\sqrt{v_t}/\epsilon^2`
    closing like :math:`t^{-p}` once :math:`|c| t^{-p} \ll \epsilon` (from t ≈ 7·10³ at p = 2, c = ½,
    ε = 10⁻⁸; at p ≤ 1 not within 10⁶ steps)."""

    p = sp.Rational(p)
    model = PowerLawGradient((0.5, -0.5), exponent=p)
    runs = _runs("rmsprop", (), model)
    statement = statement if statement is not None else sp.Eq(sp.Limit(eta_t, t, sp.oo), eta / epsilon)
    checks = _limit_checks(statement, runs, -p)
    return Derivation(
        id=f"rmsprop.torch.powerlaw_p{p}.lr_limit",
        title=f"RMSProp, g_t = c t^-{p}, eps > 0: eta_t -> eta/eps",
        statement=statement,
        assumptions=(Assumption(f"g_t = c t^(-{p}), eps > 0, no momentum"),),
        steps=(
            r"v_t \to 0 \Rightarrow \eta_t = \frac{\eta}{\sqrt{v_t} + \epsilon} \to \frac{\eta}{\epsilon}",
            r"\frac{\eta}{\epsilon} - \eta_t \approx \frac{\eta\sqrt{v_t}}{\epsilon^2} \sim \frac{\eta |c|}{\epsilon^2}\, t^{-p}",
        ),
        check=checks[0],
        precision_checks=checks[1:],
        explanation=f"p = {p}: once the gradient falls below eps, RMSProp's rate stops growing and settles at eta/eps "
        "(10^6 eta at torch's eps = 1e-8): eps, not alpha, bounds the rate.",
    )


# -- time constants of alpha ----------------------------------------------------------------------
KK = sp.Symbol("k", integer=True, nonnegative=True)


@restatable
def time_constant(a: float, *, statement: sp.Eq | None = None) -> Derivation:
    """Weight (1−α)α^k of the gradient k steps back, effective window 1/(1−α), half-life
    ln 2/(−ln α), mean age α/(1−α); the statement's weights against an impulse response of the
    rule (the weight of g_1 in v_{1+k}), and the half-life read off both."""
    from .checks import statement_function

    statement = statement if statement is not None else sp.Eq(sp.Symbol(r"w_k"), (1 - alpha) * alpha**KK)
    rule = rules.rmsprop()
    program = compile_body(rule, (("alpha", a),))
    rows = program.run(2000, range(1, 2001), lambda s, w: 1.0 if s == 1 else 0.0, 0.0, reset=True)
    weights = [rows[1 + j]["state:square_avg"] for j in range(0, 1500)]
    stated = statement_function(statement, KK, {alpha: a})
    with mpmath.workdps(30):
        expected = [stated(j) for j in range(0, 1500)]
        errors = [
            abs(wt - e) / abs(e) if e else (0.0 if wt == 0 else math.inf)
            for wt, e in zip(weights, expected)
            if abs(e) > 1e-250 or wt != 0
        ]
        # the half-life both ways: where the weight has halved, from the statement and from the run
        try:
            stated_half = (
                float(mpmath.findroot(lambda k: stated(k) / stated(0) - 0.5, 1.0)) if expected[0] else math.nan
            )
        except (ValueError, ZeroDivisionError):  # the statement's weight never halves
            stated_half = math.nan
    measured_half = math.log(2) / -(math.log(weights[200]) - math.log(weights[100])) * 100
    half = math.log(2) / -math.log(a)
    window = sum(w_ for w_ in weights) / (1 - a)  # Σ weights / first weight · (first weight = 1 − α)
    return Derivation(
        id=f"rmsprop.time_constants.alpha_{a}",
        title=f"Time constants of alpha = {a}",
        statement=statement,
        assumptions=(Assumption(f"alpha = {a}"),),
        steps=(
            r"v_t = (1-\alpha)\sum_{k=0}^{t-1} \alpha^k g_{t-k}^2 \text{ (weight of the gradient } k \text{ steps back)}",
            rf"\text{{window }} \frac{{1}}{{1-\alpha}} = {1 / (1 - a):.4g}, \quad \text{{half-life }} \frac{{\ln 2}}{{-\ln \alpha}} = {half:.4g}, \quad \text{{mean age }} \frac{{\alpha}}{{1-\alpha}} = {a / (1 - a):.4g}",
            rf"\text{{newest gradient's weight }} 1-\alpha = {1 - a:.2g}; \text{{ all older together }} \alpha(1-\alpha^{{t-1}}) \to {a}",
        ),
        check=Check(
            "impulse-response",
            (1, 1500),
            worst_error(errors),
            1e-10,
            detail=f"weights of an impulse g_1 = 1 against the statement; measured half-life {measured_half:.6f}, window {window:.6f}",
        ),
        precision_checks=(
            Check(
                "half-life",
                (100, 200),
                abs(measured_half - stated_half) / stated_half,
                1e-8,
                detail=f"measured {measured_half:.8f} vs the statement's {stated_half:.8f} (ln 2/-ln alpha = {half:.8f})",
            ),
        ),
        explanation=f"alpha = {a}: effective window {1 / (1 - a):.0f} steps, half-life {half:.2f} steps; each older gradient weighs less than the newest (by alpha per step).",
    )


def time_constants() -> list[Derivation]:
    """The time constants of α = 0.9 and 0.99."""
    return [time_constant(a) for a in (0.9, 0.99)]


# -- the 1/t rule under a constant gradient ---------------------------------------------------------
@restatable
def inverse_time_leading(
    dialect: str = "corrected", g_value: float = 0.5, *, statement: sp.Eq | None = None
) -> Derivation:
    """w_t = w_0 ∓ η g H_t with H_t = ln t + γ + 1/(2t) + O(t^{−2}): the 1/t rule moves like ln t.

    Checked against the rule's body run to t = 10⁶ (float64), on the statement itself: the
    ratio of the movement w_t − w_0 to the statement's at 10⁶, and the log-log slope between 10³
    and 10⁴ of what is left of the movement after its ln t + γ part, against the statement's
    (≈ 1/(2t): slope −1)."""
    from .checks import statement_function

    s = 1 if dialect == "corrected" else -1
    rule = rules.inverse_time(dialect)
    lr = float(rule.values()[eta])
    w_start = 1.5  # not 1: a statement with 1/w_0 or w_0² where w_0 belongs must fail
    checkpoints = log_spaced_steps(T_FAR)
    rows = compile_body(rule, ()).run(T_FAR, checkpoints, lambda step, w: g_value, w_start)
    sign = "-" if s == 1 else "+"
    leading = w0 - s * eta * g * (sp.log(t) + sp.EulerGamma + 1 / (2 * t) + sp.O(t**-2, (t, sp.oo)))
    statement = statement if statement is not None else sp.Eq(sp.Symbol("w_t"), leading)
    stated = statement_function(statement, t, {w0: w_start, eta: lr, g: g_value})
    euler = float(mpmath.euler)
    t0, t1 = 10**3, 10**4
    with mpmath.workdps(30):
        movement = {n: rows[n]["param"] - w_start for n in checkpoints}
        stated_movement = {n: float(stated(n) - w_start) for n in (t0, t1, T_FAR)}
        ratio = movement[T_FAR] / stated_movement[T_FAR] if stated_movement[T_FAR] else math.nan
        unit = -s * lr * g_value  # the movement per unit of H_t

        def rest(m: dict[int, float]) -> dict[int, float]:
            return {n: m[n] / unit - math.log(n) - euler for n in (t0, t1)}

        measured_rest, stated_rest = rest(movement), rest(stated_movement)
        slopes = [
            math.log(r[t1] / r[t0]) / math.log(t1 / t0) if r[t0] * r[t1] > 0 else math.nan
            for r in (measured_rest, stated_rest)
        ]
    checks = (
        Check(
            "three-term-ratio",
            (T_FAR, T_FAR),
            abs(ratio - 1),
            1e-8,
            detail=f"(w_t - w_0) / (the statement's w_t - w_0) = {ratio:.12f} at t = 1e6 (the next term, -1/(12 t^2), is below float64's reach)",
        ),
        Check(
            "loglog-slope",
            (t0, t1),
            abs(slopes[0] - slopes[1]),
            1e-3,
            detail=f"slope of (w_t - w_0)/({sign}eta g) - ln t - gamma: measured {slopes[0]:.6f}, the statement's {slopes[1]:.6f} (the 1/(2t) term: -1)",
        ),
    )
    return Derivation(
        id=f"inverse_time.{dialect}.param_leading",
        title=f"1/t rule [{dialect}], constant gradient: w_t moves like ln t",
        statement=statement,
        assumptions=(Assumption("constant gradient g"),),
        steps=(
            rf"w_t = w_0 {sign} \eta\, g \sum_{{k=1}}^{{t}} \frac{{1}}{{k}} = w_0 {sign} \eta\, g\, H_t",
            r"H_t = \ln t + \gamma + \frac{1}{2t} - \frac{1}{12 t^2} + O(t^{-4}) \text{ (Euler--Maclaurin, see sums.harmonic)}",
        ),
        check=checks[0],
        precision_checks=checks[1:],
        explanation=(
            "The 1/t rule's steps eta*g/t add up to eta*g*H_t, and H_t = ln t + gamma + O(1/t): the parameter keeps moving, "
            + (
                "downhill without bound under a constant gradient, but only logarithmically."
                if s == 1
                else "uphill (the post's plus sign) without bound, logarithmically."
            )
        ),
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (
        adagrad_constant_leading(),
        *(adagrad_powerlaw(sp.Rational(p, 4)) for p in (1, 2, 3)),
        adagrad_lr_decay(),
        rmsprop_first_step(),
        *(rmsprop_powerlaw(sp.Rational(p, 4)) for p in (1, 4)),
        rmsprop_powerlaw_limit(),
        *time_constants(),
        inverse_time_leading("textbook"),
        inverse_time_leading("corrected"),
    )


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())
