"""Rules on the quadratic f(w) = λ w²/2 (g_t = λ w_{t−1}); a diagonal quadratic is one such problem
per coordinate, since every rule here acts elementwise.

Closed forms where they exist, checked against the rule's body run with g = λ w:

* fixed-rate gradient descent: w_t = (1 − ηλ)^t w_0, and its regimes (statement S1);
* the 1/t rule: w_t = w_0 Π_{k=1}^{t} (1 ∓ ηλ/k) = w_0 Γ(t + 1 ∓ ηλ) / (Γ(1 ∓ ηλ) Γ(t + 1)),
  ~ w_0 t^{∓ηλ} / Γ(1 ∓ ηλ) (− for descent, + for the post's plus sign).

Dynamics without a closed form:

* AdaGrad converges for every η > 0 (the argument is in :func:`adagrad_converges`; the speeds
  are measured and labelled as measured);
* RMSProp with a constant η does not converge when ηλ > 2ε (ε outside the root): the origin is
  unstable (step factor ηλ/ε there) and the iterates settle on a period-2 cycle ±A with
  A = η/2 − ε/λ (ε outside), √(η²/4 − ε/λ²) (ε inside), √(η²/4 − ε/((1−α)λ²)) (ε in the recursion);
  its stability is read off the Jacobian of the two-step map at the cycle.
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from .. import rules
from ..rules import t
from ..rules._primitives import alpha, epsilon, eta
from ..rules._primitives import v as v_state
from ._result import Assumption, Check, Derivation, restatable, worst_error
from .gradients import QuadraticGradient, lam, w0
from .simulate import compile_body, log_spaced_steps

#: Curvature and start of the numeric checks (w_0 ≠ 1, so that a statement with w_0 where 1/w_0
#: or w_0² belongs cannot pass).
LAMBDA, W_START = 2.0, 1.5
k = sp.Symbol("k", integer=True, positive=True)


def simulate_quadratic(
    rule, items: tuple, steps: int, checkpoints, curvature: float = LAMBDA, w_start: float = W_START, dps=None
):
    """{t: w_t} for ``rule`` on f = λw²/2, its body run with g = λ w."""
    grad = QuadraticGradient(curvature).scalar()
    if dps is not None:
        lam_mp = mpmath.mpf(curvature)

        def grad(step, w):  # noqa: F811 - exact λ w at 50 digits
            return lam_mp * w

    rows = compile_body(rule, items).run(steps, checkpoints, grad, w_start, dps=dps)
    return {s: rows[s]["param"] for s in checkpoints}


def _rel(observed, exact, floor) -> float:
    """|observed − exact| / max(|exact|, |floor|); NaN when either is not finite."""
    observed = mpmath.mpf(observed)
    if not (mpmath.isfinite(observed) and mpmath.isfinite(exact)):
        return math.nan
    scale = max(abs(exact), abs(floor))
    return float(abs(observed - exact) / scale) if scale else float(observed != exact)


# -- fixed-rate gradient descent ------------------------------------------------------------------
@restatable
def gd_trajectory(*, statement: sp.Eq | None = None) -> Derivation:
    """w_t = (1 − ηλ)^t w_0 for SGD on the quadratic; the statement checked against the run for
    ηλ ∈ {0.5, 1, 1.5, 2, 2.5}, in float64 and at 50 digits."""
    from .checks import statement_function

    statement = statement if statement is not None else sp.Eq(sp.Symbol("w_t"), (1 - eta * lam) ** t * w0)
    errors_f, errors_m = [], []
    steps = tuple(range(1, 201))
    for product in (0.5, 1.0, 1.5, 2.0, 2.5):
        lr = product / LAMBDA
        items = (("lr", lr),)
        f64 = simulate_quadratic(rules.sgd(), items, 200, steps)
        stated = statement_function(statement, t, {eta: lr, lam: LAMBDA, w0: W_START})
        with mpmath.workdps(50):
            mp = simulate_quadratic(rules.sgd(), items, 200, steps, dps=50)
            for s_ in steps:
                exact = stated(s_)
                # floor: for ηλ = 1 the iterate is exactly 0 after one step
                floor = W_START * 1e-300 if product != 1.0 else W_START
                errors_f.append(_rel(f64[s_], exact, floor))
                errors_m.append(_rel(mp[s_], exact, floor))
    return Derivation(
        id="sgd.quadratic.param",
        title="SGD on the quadratic: parameter trajectory",
        statement=statement,
        assumptions=(
            Assumption(
                "f(w) = lambda w^2 / 2, g_t = lambda w_{t-1}", sp.Eq(sp.Symbol("g_t"), lam * sp.Symbol("w_{t-1}"))
            ),
        ),
        steps=(r"w_t = w_{t-1} - \eta \lambda w_{t-1} = (1 - \eta\lambda) w_{t-1}",),
        check=Check(
            "interpreter-float64",
            (1, 200),
            worst_error(errors_f),
            1e-10,
            detail="eta*lambda in {0.5, 1, 1.5, 2, 2.5}, compiled body with g = lambda w",
        ),
        precision_checks=(Check("interpreter-mpmath-50", (1, 200), worst_error(errors_m), 1e-40),),
        explanation="Each step multiplies w by 1 - eta*lambda.",
    )


@restatable
def gd_regimes(*, statement: sp.Eq | None = None) -> Derivation:
    """The regimes of S1 from |1 − ηλ|: monotone (0 < ηλ < 1), one step (ηλ = 1), oscillating
    convergence (1 < ηλ < 2), a 2-cycle ±w_0 (ηλ = 2), divergence (ηλ > 2); checked by running.

    The statement is the limit of |w_t| as a function of ηλ; the check evaluates it at each ηλ
    run and asks the run for that limit: 0 (|w_t| still shrinking at t = 1000, or exactly 0),
    |w_0| (|w_1000| = |w_0|) or ∞ (|w_1000| > 1e100). Whether the iterates alternate in sign is
    a second check, of the steps (1 − ηλ < 0 ⇔ ηλ > 1)."""
    x = sp.Symbol(r"\eta\lambda", positive=True)
    limit = sp.Piecewise((0, x < 2), (sp.Abs(w0), sp.Eq(x, 2)), (sp.oo, True))
    statement = statement if statement is not None else sp.Eq(sp.Limit(sp.Abs(sp.Symbol("w_t")), t, sp.oo), limit)
    cases = {
        0.01: "slow",
        0.5: "monotone",
        1.0: "one step",
        1.5: "oscillating, converging",
        1.99: "oscillating, converging slowly",
        2.0: "cycle",
        2.5: "diverging",
    }
    measured, wrong_limit, wrong_sign = {}, 0, 0
    for product, start in [(p_, s_) for p_ in cases for s_ in (W_START, -W_START)]:  # both signs of w_0
        w = simulate_quadratic(rules.sgd(), (("lr", product / LAMBDA),), 1000, (99, 100, 1000), w_start=start)
        oscillates = w[99] * w[100] < 0
        got = abs(w[1000])
        stated = sp.sympify(statement.rhs).subs({x: sp.Rational(str(product)), w0: start})
        measured[product, start] = (got, oscillates, stated)
        if stated == 0:
            ok = got < abs(w[100]) or got == 0.0  # still shrinking (or exactly there)
        elif stated is sp.oo:
            ok = got > 1e100
        elif stated.is_number and stated.is_finite:
            ok = got == float(stated)
        else:
            ok = False  # the statement does not decide the limit here
        wrong_limit += not ok
        wrong_sign += oscillates != (product > 1)
    detail = "; ".join(
        f"eta*lambda={p}, w_0={w_}: |w_1000|={m[0]:.3g}, oscillates={m[1]}, statement: {m[2]}"
        for (p, w_), m in measured.items()
    )
    return Derivation(
        id="sgd.quadratic.regimes",
        title="SGD on the quadratic: the three regimes (statement S1)",
        statement=statement,
        assumptions=(Assumption("eta > 0, lambda > 0", sp.And(eta > 0, lam > 0)),),
        steps=(
            r"w_t = (1 - \eta\lambda)^t w_0",
            r"|1 - \eta\lambda| < 1 \iff 0 < \eta\lambda < 2\text{: converges (monotone if } \eta\lambda < 1\text{, alternating if } > 1)",
            r"\eta\lambda = 2\text{: } w_t = (-1)^t w_0\text{, jumps forever}; \quad \eta\lambda > 2\text{: } |w_t| \to \infty",
        ),
        check=Check("simulation-classification", (1, 1000), float(wrong_limit), 0.0, detail=detail),
        precision_checks=(
            Check(
                "simulation-oscillation",
                (99, 100),
                float(wrong_sign),
                0.0,
                detail="w_99 w_100 < 0 exactly when eta*lambda > 1",
            ),
        ),
        explanation="Fixed rate on a quadratic: converges iff eta*lambda < 2 (oscillating when 1 < eta*lambda < 2), a 2-cycle at 2, diverges above; fastest at eta*lambda = 1.",
    )


# -- the 1/t rule -------------------------------------------------------------------------------
@restatable
def inverse_time_trajectory(
    dialect: str = "corrected", product: float = 0.5, *, statement: sp.Eq | None = None
) -> Derivation:
    """w_t = w_0 Γ(t + 1 − sηλ)/(Γ(1 − sηλ) Γ(t + 1)), s = +1 (descent) or −1 (the post's plus);
    the statement checked against the run in float64 (to 10⁶) and at 50 digits (to 10³), and its
    large-t form t^{−sηλ}/Γ(1 − sηλ) (a step of the derivation) by the log-log slope and the
    ratio at 10⁶."""
    from .checks import statement_function

    s = 1 if dialect == "corrected" else -1
    a = s * eta * lam
    expr = w0 * sp.gamma(t + 1 - a) / (sp.gamma(1 - a) * sp.gamma(t + 1))
    leading = w0 * t ** (-a) / sp.gamma(1 - a)
    statement = statement if statement is not None else sp.Eq(sp.Symbol("w_t"), expr)
    lr = product / LAMBDA
    rule = rules.inverse_time(dialect)
    checkpoints = log_spaced_steps(10**6)
    f64 = _inverse_time_run(dialect, product)
    numbers = {eta: lr, lam: LAMBDA, w0: W_START}
    stated = statement_function(statement, t, numbers)
    large_t = statement_function(sp.Eq(sp.Symbol("w_t"), leading), t, numbers)
    with mpmath.workdps(50):
        mp = simulate_quadratic(rule, (("lr", lr),), 1000, (1, 2, 3, 10, 100, 1000), dps=50)
        worst_f = worst_error(_rel(f64[n], stated(n), 0) for n in checkpoints)
        worst_m = worst_error(_rel(mp[n], stated(n), 0) for n in mp)
        # the large-t form: log-log slope between 1e5 and 1e6 against its own, and the ratio at 1e6
        slope = math.log(abs(f64[10**6]) / abs(f64[10**5])) / math.log(10)
        stated_slope = float(mpmath.log(abs(large_t(10**6)) / abs(large_t(10**5))) / mpmath.log(10))
        ratio = float(mpmath.mpf(f64[10**6]) / large_t(10**6))
    checks = (
        Check("interpreter-mpmath-50", (1, 1000), worst_m, 1e-40),
        Check(
            "loglog-slope",
            (10**5, 10**6),
            abs(slope - stated_slope),
            1e-4,
            detail=f"measured slope {slope:.6f} vs {stated_slope:.6f} of w_0 t^(-s eta lambda)/Gamma(1 - s eta lambda)",
        ),
        Check(
            "leading-term-ratio",
            (10**6, 10**6),
            abs(ratio - 1),
            1e-4,
            detail=f"w_t / (w_0 t^(-s eta lambda)/Gamma(1 - s eta lambda)) = {ratio:.8f} at t = 1e6",
        ),
    )
    sign = "-" if s == 1 else "+"
    return Derivation(
        id=f"inverse_time.{dialect}.quadratic.param",
        title=f"1/t rule [{dialect}] on the quadratic: Gamma-function trajectory",
        statement=statement,
        assumptions=(
            Assumption("f(w) = lambda w^2 / 2"),
            Assumption(
                "eta*lambda not a positive integer (else w_t = 0 from step eta*lambda on)"
                if s == 1
                else "any eta*lambda > 0"
            ),
        ),
        steps=(
            rf"w_t = \left(1 {sign} \frac{{\eta\lambda}}{{t}}\right) w_{{t-1}} = w_0 \prod_{{k=1}}^{{t}} \frac{{k {sign} \eta\lambda}}{{k}}",
            rf"\prod_{{k=1}}^{{t}} (k {sign} \eta\lambda) = \frac{{\Gamma(t + 1 {sign} \eta\lambda)}}{{\Gamma(1 {sign} \eta\lambda)}}, \quad \prod k = \Gamma(t+1)",
            rf"\frac{{\Gamma(t + 1 {sign} \eta\lambda)}}{{\Gamma(t + 1)}} \sim t^{{{sign}\eta\lambda}} \Rightarrow w_t \sim {sp.latex(leading)}",
        ),
        check=Check(
            "interpreter-float64",
            (1, 10**6),
            worst_f,
            1e-10,
            detail=f"eta*lambda = {product}, {len(checkpoints)} log-spaced t",
        ),
        precision_checks=checks,
        explanation=(
            f"w_t ~ w_0 t^(-eta*lambda)/Gamma(1 - eta*lambda): converges, but only polynomially (t^-{product} here)."
            if s == 1
            else f"With the post's plus sign, |w_t| ~ t^(eta*lambda)/Gamma(1 + eta*lambda) grows without bound (t^{product} here)."
        ),
    )


@lru_cache(maxsize=None)
def _inverse_time_run(dialect: str, product: float) -> dict[int, float]:
    """{t: w_t} of the 1/t rule on the quadratic (float64, log-spaced t ≤ 10⁶), η = product / λ."""
    return simulate_quadratic(rules.inverse_time(dialect), (("lr", product / LAMBDA),), 10**6, log_spaced_steps(10**6))


@restatable
def inverse_time_leading(
    dialect: str = "corrected", product: float = 0.5, *, statement: sp.Eq | None = None
) -> Derivation:
    """Γ(t + 1 − a)/Γ(t + 1) = t^{−a} (1 + a(a − 1)/(2t) + O(t^{−2})), a = ±ηλ: the Gamma product's
    asymptotics, checked on the run to 10⁶ against the statement S(t) itself (O-term dropped):
    the log-log slope between 10⁵ and 10⁶, the ratio at 10⁶, and the remainder at
    t ∈ {10², 10³, 10⁴}: t² |w_t/S(t) − 1| must stay bounded (≤ 1, the next Stirling
    coefficient a(a−1)(a−2)(3a−1)/24 is 0.008–0.2 for |a| = 1/2), which a wrong 1/t
    coefficient δ breaks as δ t."""
    from .checks import statement_function

    s = 1 if dialect == "corrected" else -1
    a = s * eta * lam
    correction = a * (a - 1) / (2 * t)
    leading = w0 * t ** (-a) / sp.gamma(1 - a)
    statement = (
        statement
        if statement is not None
        else sp.Eq(sp.Symbol("w_t"), leading * (1 + correction + sp.O(t**-2, (t, sp.oo))))
    )
    slope_errors, far_errors, remainders, rows = [], [], [], []
    # two values of eta*lambda: at 1/2 alone, a - 1 = -a would let a wrong 1/t coefficient pass
    for prod in dict.fromkeys((product, 0.3)):
        f64 = _inverse_time_run(dialect, prod)
        stated = statement_function(statement, t, {eta: prod / LAMBDA, lam: LAMBDA, w0: W_START})
        with mpmath.workdps(30):

            def ratio(n: int) -> float:
                value = stated(n)
                return float(mpmath.mpf(f64[n]) / value) if value else math.nan

            measured = math.log(abs(f64[10**6]) / abs(f64[10**5])) / math.log(10)
            stated_slope = (
                float(mpmath.log(abs(stated(10**6)) / abs(stated(10**5))) / mpmath.log(10))
                if stated(10**5)
                else math.nan
            )
            remainders += [n**2 * abs(ratio(n) - 1) for n in (10**2, 10**3, 10**4)]
            far = ratio(10**6)
        slope_errors.append(abs(measured - stated_slope))
        far_errors.append(abs(far - 1))
        rows.append((prod, measured, stated_slope, far))
        if prod == product:
            slope = measured
    checks = (
        Check(
            "loglog-slope",
            (10**5, 10**6),
            worst_error(slope_errors),
            1e-4,
            detail="; ".join(
                f"eta*lambda = {p_}: measured slope {m:.7f}, the statement's {st:.7f}" for p_, m, st, _ in rows
            ),
        ),
        Check(
            "two-term-ratio",
            (10**6, 10**6),
            worst_error(far_errors),
            1e-9,
            detail="; ".join(f"eta*lambda = {p_}: w_t / statement = {f:.12f} at t = 1e6" for p_, _, _, f in rows),
        ),
        Check(
            "remainder-order",
            (10**2, 10**4),
            worst_error(remainders),
            1.0,
            detail="t^2 |w_t / statement - 1| at t = 1e2, 1e3, 1e4: " + ", ".join(f"{v:.3g}" for v in remainders),
        ),
    )
    sign = "-" if s == 1 else "+"
    return Derivation(
        id=f"inverse_time.{dialect}.quadratic.param_leading",
        title=f"1/t rule [{dialect}] on the quadratic: asymptotics of the Gamma product",
        statement=statement,
        assumptions=(Assumption("f(w) = lambda w^2 / 2"), Assumption(f"eta*lambda = {product} in the checks")),
        steps=(
            rf"w_t = w_0\, \frac{{\Gamma(t + 1 {sign} \eta\lambda)}}{{\Gamma(1 {sign} \eta\lambda)\, \Gamma(t + 1)}}",
            r"\frac{\Gamma(t + \alpha)}{\Gamma(t + \beta)} = t^{\alpha - \beta} \left(1 + \frac{(\alpha - \beta)(\alpha + \beta - 1)}{2t} + O(t^{-2})\right)"
            r" \text{ (Stirling), with } \alpha = 1 - a,\ \beta = 1,\ a = " + ("" if s == 1 else "-") + r"\eta\lambda",
        ),
        check=checks[0],
        precision_checks=checks[1:],
        explanation=(
            f"w_t ~ w_0 t^(-eta*lambda)/Gamma(1 - eta*lambda): the 1/t rule converges on the quadratic only polynomially, with exponent eta*lambda (measured slope {slope:.4f} for eta*lambda = {product})."
            if s == 1
            else f"With the post's plus sign |w_t| ~ w_0 t^(eta*lambda)/Gamma(1 + eta*lambda) grows without bound (measured slope {slope:.4f} for eta*lambda = {product})."
        ),
    )


# -- AdaGrad: converges for every eta ---------------------------------------------------------------
ADAGRAD_RATES = (0.01, 0.1, 1.0, 10.0, 100.0, 1e4)


@lru_cache(maxsize=None)
def adagrad_convergence_table(steps: int = 10**6) -> tuple[tuple[float, int | None, float, float], ...]:
    """(η, first t with |w_t| ≤ 1e−8 |w_0| or None, |w_T|, G_T) for AdaGrad (torch) on the quadratic."""
    checkpoints = log_spaced_steps(steps, 40)
    out = []
    for rate in ADAGRAD_RATES:
        rows = compile_body(rules.adagrad(), (("lr", rate),)).run(
            steps, checkpoints, QuadraticGradient(LAMBDA).scalar(), W_START
        )
        reached = next((s for s in checkpoints if abs(rows[s]["param"]) <= 1e-8 * W_START), None)
        out.append((rate, reached, abs(rows[steps]["param"]), rows[steps]["state:sum"]))
    return tuple(out)


@restatable
def adagrad_converges(*, statement: sp.Eq | None = None) -> Derivation:
    """AdaGrad on the quadratic converges for every η > 0 (an argument, plus measured speeds).

    The statement's limit L is checked against the run at each η of the table: |w_T − L| ≤
    1e-8 |w_0| at T = 10⁶, and |w_t − L| non-increasing over the last decade of checkpoints."""
    table = adagrad_convergence_table()
    statement = statement if statement is not None else sp.Eq(sp.Limit(sp.Symbol("w_t"), t, sp.oo), 0)
    claimed = sp.sympify(statement.rhs).subs({w0: W_START})
    target = float(claimed) if claimed.is_number and claimed.is_finite else math.nan
    not_converged = [r for r in table if not abs(r[2] - target) <= 1e-8 * W_START]
    detail = "; ".join(f"eta={r[0]:g}: |w|<=1e-8 by t~{r[1]}, G_T={r[3]:.4g}" for r in table)
    return Derivation(
        id="adagrad.quadratic.converges",
        title="AdaGrad on the quadratic converges for every eta > 0",
        statement=statement,
        assumptions=(Assumption("f(w) = lambda w^2/2, eta > 0, w_0 != 0, eps >= 0"),),
        steps=(
            r"w_t = \left(1 - \frac{\eta_t\lambda}{\sqrt{G_t}+\epsilon}\right) w_{t-1}, \quad G_t = G_{t-1} + \lambda^2 w_{t-1}^2 \text{ nondecreasing}",
            r"\text{if } G_t \to \infty\text{: eventually } \eta\lambda/\sqrt{G_t} < 1\text{, } |w_t| \text{ decreases and } \sum_k \eta\lambda/\sqrt{G_k} = \infty \text{ makes } w_t \to 0 \text{ faster than } G_t \text{ can grow: contradiction}",
            r"\text{so } G_t \to G_\infty < \infty\text{, i.e. } \sum_k \lambda^2 w_k^2 < \infty\text{, hence } w_t \to 0",
            r"\text{eventually linear, with factor } |1 - \eta\lambda/(\sqrt{G_\infty}+\epsilon)| \text{ (measured)}",
        ),
        check=Check(
            "simulation-convergence",
            (1, 10**6),
            float(len(not_converged)),
            0.0,
            detail=f"|w_T - {claimed}| <= 1e-8 |w_0| at T = 1e6 for every eta; " + detail,
        ),
        kind="derived",
        explanation="G_t must stay bounded, so the squared iterates are summable and w_t -> 0 for every eta; the speed depends on eta (measured: "
        + detail
        + ").",
    )


# -- RMSProp: a period-2 cycle -------------------------------------------------------------------
def cycle_amplitude(placement: str) -> sp.Expr:
    """A of the cycle ±A: ηλ/σ(A) = 2 with v = λ²A² (ε outside/inside) or λ²A² + ε/(1−α) (recursion)."""
    if placement == "outside":
        return eta / 2 - epsilon / lam
    if placement == "inside":
        return sp.sqrt(eta**2 / 4 - epsilon / lam**2)
    return sp.sqrt(eta**2 / 4 - epsilon / ((1 - alpha) * lam**2))


def _cycle_jacobian_moduli(placement: str, values: dict) -> list[float]:
    """|eigenvalues| of the Jacobian of the two-step map (w, v) ↦ (w'', v'') at the cycle."""
    w, v = sp.symbols("w v", real=True)

    def step(w_, v_):
        v2 = alpha * v_ + (1 - alpha) * lam**2 * w_**2 + (epsilon if placement == "recursion" else 0)
        sig = {"outside": sp.sqrt(v2) + epsilon, "inside": sp.sqrt(v2 + epsilon), "recursion": sp.sqrt(v2)}[placement]
        return w_ - eta * lam * w_ / sig, v2

    w1, v1 = step(w, v)
    w2, v2 = step(w1, v1)
    J = sp.Matrix([w2, v2]).jacobian([w, v])
    A = cycle_amplitude(placement).subs(values)
    v_star = lam**2 * A**2 + (epsilon / (1 - alpha) if placement == "recursion" else 0)
    Jn = np.array(J.subs(values).subs({w: A, v: v_star.subs(values)}).evalf(), dtype=float)
    return sorted(float(x) for x in np.abs(np.linalg.eigvals(Jn)))


RMSPROP_CYCLE_CASES = (
    ("torch", "outside", 0.99, 0.01, 2.0, 1e-8),
    ("torch", "outside", 0.9, 0.01, 2.0, 1e-8),
    ("torch", "outside", 0.99, 0.1, 1.0, 1e-3),
    ("torch", "outside", 0.99, 0.01, 100.0, 1e-8),
    ("torch", "outside", 0.99, 0.1, 2.0, 1e-2),  # eps/lambda a tenth of eta/2, lambda != 1: eps/lambda is visible
    ("textbook", "recursion", 0.9, 0.01, 2.0, 1e-8),
    ("textbook", "recursion", 0.9, 0.1, 1.0, 1e-4),
)


@lru_cache(maxsize=None)
def rmsprop_cycle_table(steps: int = 10**5) -> tuple[tuple, ...]:
    """(dialect, placement, α, η, λ, ε, derived A, measured |w_T|, |w_{T−1}| sign flip, Jacobian moduli)."""
    out = []
    for dialect, placement, a, rate, curvature, e in RMSPROP_CYCLE_CASES:
        rule = rules.rmsprop(dialect)
        items = (("alpha", a), ("eps", e), ("lr", rate))
        w = simulate_quadratic(rule, items, steps, (steps - 1, steps), curvature=curvature)
        values = {alpha: a, eta: rate, lam: curvature, epsilon: e}
        A = float(cycle_amplitude(placement).subs(values))
        out.append(
            (
                dialect,
                placement,
                a,
                rate,
                curvature,
                e,
                A,
                abs(w[steps]),
                w[steps] * w[steps - 1] < 0,
                tuple(_cycle_jacobian_moduli(placement, values)),
            )
        )
    return tuple(out)


@restatable
def rmsprop_cycle(placement: str = "outside", *, statement: sp.Eq | None = None) -> Derivation:
    """The period-2 cycle of RMSProp with constant η on the quadratic: the statement's amplitude A
    against |w_T| of each run (T = 10⁵), and the stability of the cycle."""
    from .checks import statement_function

    table = [row for row in rmsprop_cycle_table() if row[1] == placement]
    A = cycle_amplitude(placement)
    statement = statement if statement is not None else sp.Eq(sp.Symbol("A"), A)
    errors = []
    for row in table:
        stated = statement_function(statement, t, {alpha: row[2], eta: row[3], lam: row[4], epsilon: row[5]})(1)
        errors.append(_rel(row[7], stated, 0))
    worst = worst_error(errors)
    unstable = [row for row in table if max(row[9]) >= 1]
    detail = "; ".join(
        f"alpha={r[2]}, eta={r[3]}, lambda={r[4]}, eps={r[5]}: A={r[6]:.9g}, measured {r[7]:.9g}, |eig|={max(r[9]):.3f}"
        for r in table
    )
    sigma_text = {
        "outside": r"\lambda A + \epsilon",
        "inside": r"\sqrt{\lambda^2 A^2 + \epsilon}",
        "recursion": r"\sqrt{\lambda^2 A^2 + \epsilon/(1-\alpha)}",
    }[placement]
    return Derivation(
        id=f"rmsprop.quadratic.cycle_{placement}",
        title=f"RMSProp (eps {placement}) on the quadratic: a period-2 cycle, not convergence",
        statement=statement,
        assumptions=(
            Assumption("constant eta, f = lambda w^2/2, cycle exists iff A is real and > 0", A > 0),
            Assumption(
                "the origin is unstable when its step factor eta*lambda/sigma(0) exceeds 2 (eps outside: eta*lambda > 2 eps)"
            ),
        ),
        steps=(
            r"\text{cycle } w_t = (-1)^t A\text{: } v \to \lambda^2 A^2 \text{ (constant } g^2\text{), and } w - \frac{\eta\lambda w}{\sigma} = -w \iff \frac{\eta\lambda}{\sigma} = 2",
            rf"\sigma = {sigma_text} = \frac{{\eta\lambda}}{{2}} \Rightarrow A = {sp.latex(A)}",
            r"\text{stability: eigenvalues of the Jacobian of the two-step map } (w, v) \mapsto (w'', v'') \text{ at the cycle (numeric)}",
        ),
        check=Check("simulation-amplitude", (10**5, 10**5), worst, 1e-6, detail=detail),
        precision_checks=(
            Check(
                "cycle-jacobian-spectral-radius",
                (0, 0),
                float(len(unstable)),
                0.0,
                detail="count of cases with |eigenvalue| >= 1",
            ),
        ),
        explanation=(
            "With a constant rate RMSProp does not converge on a quadratic: the iterates settle on w = ±A, "
            + {
                "outside": "A = eta/2 - eps/lambda, independent of alpha (alpha sets how fast the cycle attracts: "
                "|eigenvalues| = alpha while they are complex, rmsprop.quadratic.cycle_eigenvalues).",
                "inside": "A = sqrt(eta^2/4 - eps/lambda^2).",
                "recursion": "A = sqrt(eta^2/4 - eps/((1 - alpha) lambda^2)): the post's eps in the recursion makes A depend on alpha.",
            }[placement]
        ),
    )


# -- RMSProp: how the cycle attracts -------------------------------------------------------------
mu = sp.Symbol("mu")


def cycle_contraction() -> sp.Expr:
    """c = 4(1 − α)A/η = 2(1 − α)(1 − 2ε/(ηλ)): the coupling of w and v at the cycle ±A (ε outside)."""
    return 2 * (1 - alpha) * (1 - 2 * epsilon / (eta * lam))


def cycle_characteristic() -> sp.Expr:
    """χ(μ) = μ² − Tμ + α², T = (c − 1 − α)² − 2α: the characteristic polynomial of the Jacobian of
    RMSProp's two-step map (w, v) ↦ (w'', v'') at the cycle (ε outside the root).

    By hand: at w = ±A, v = λ²A² (so √v = λA and σ = λA + ε = ηλ/2, the cycle's condition) the
    one-step Jacobian is [[c − 1, ±q], [±r, α]] with q r = αc, so each has determinant −α and the
    two-step product has trace (c − 1)² + α² − 2αc = T and determinant α²."""
    c = cycle_contraction()
    return mu**2 - ((c - 1 - alpha) ** 2 - 2 * alpha) * mu + alpha**2


@lru_cache(maxsize=None)
def _model_two_step_invariants() -> tuple[sp.Expr, sp.Expr]:
    """(trace, determinant) of :func:`_model_two_step_jacobian`, simplified (about 2 s)."""
    J = sp.simplify(_model_two_step_jacobian())
    return sp.simplify(J.trace()), sp.simplify(J.det())


def _model_two_step_jacobian() -> sp.Matrix:
    """The Jacobian of torch's RMSprop model (its step map, g = λw) applied twice, at the cycle
    w = A, v = λ²A², with η written through A (η = 2(λA + ε)/λ) so that every root is exact."""
    m = rules.rmsprop().step_map()
    W, V = sp.symbols("W V", real=True)
    A = sp.Symbol("A", positive=True)

    def step(wx, vx):
        at = {rules.w: wx, v_state: vx, rules.g: lam * wx}
        return m[rules.w].xreplace(at), m[v_state].xreplace(at)

    w1, v1 = step(W, V)
    w2, v2 = step(w1, v1)
    J = sp.Matrix([w2, v2]).jacobian([W, V]).xreplace({W: A, V: lam**2 * A**2})
    return J.xreplace({eta: 2 * (lam * A + epsilon) / lam})


#: (α, η, λ, ε): complex eigenvalues (|μ| = α) and real ones (α small, or ε near ηλ/2)
CYCLE_EIGEN_CASES = (
    (0.99, 0.01, 2.0, 1e-8),
    (0.9, 0.01, 2.0, 1e-8),
    (0.5, 0.1, 1.0, 1e-3),
    (0.01, 0.01, 2.0, 1e-8),
    (0.9, 0.01, 2.0, 0.0099),
)


def _torch_cycle_rate(a: float, rate: float, curvature: float, e: float, steps: int = 4000) -> float:
    """The measured contraction per two steps of torch.optim.RMSprop's distance to the cycle on
    f = λw²/2: the slope of log‖(w − (−1)^t A, √v − λA)‖ over the steps where it lies between
    1e-4 and 1e-11 of A, fitted by least squares (float64)."""
    import torch

    A = rate / 2 - e / curvature
    x = torch.tensor([A * 1.01], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([x], lr=rate, alpha=a, eps=e)
    opt.zero_grad()
    (0.5 * curvature * x * x).sum().backward()
    opt.step()  # the first step makes the state; then put v at the cycle's λ²A² (a checkpoint would)
    opt.state[x]["square_avg"].fill_(curvature**2 * A**2)
    with torch.no_grad():
        x.fill_(A * 1.01)
    ts, logs = [], []
    for step in range(steps):
        opt.zero_grad()
        (0.5 * curvature * x * x).sum().backward()
        opt.step()
        w_t = float(x.detach())
        side = math.copysign(A, w_t)
        dist = math.hypot(w_t - side, math.sqrt(float(opt.state[x]["square_avg"])) - curvature * A)
        if 1e-11 * A < dist < 1e-4 * A:
            ts.append(step)
            logs.append(math.log(dist))
    if len(ts) < 20:
        return math.nan
    slope = float(np.polyfit(ts, logs, 1)[0])
    return math.exp(2 * slope)


@restatable
def rmsprop_cycle_eigenvalues(*, statement: sp.Eq | None = None) -> Derivation:
    """How RMSProp's 2-cycle attracts (ε outside the root): the characteristic polynomial of the
    two-step Jacobian at the cycle, derived by hand and checked three ways — against the model's
    own Jacobian (symbolically: trace and determinant), against the eigenvalues of the numeric
    Jacobian, and against torch.optim.RMSprop's measured contraction towards the cycle.

    The eigenvalues are complex with modulus exactly α when (1 − √α)² < c < (1 + √α)², and real
    otherwise (a small α, or ε close to ηλ/2 where the cycle is small): the approach is then
    slower or faster than α. Both roots lie in the unit disc whenever the cycle exists (ηλ > 2ε:
    0 < c < 2(1 − α)), so the cycle is always linearly stable."""
    statement = statement if statement is not None else sp.Eq(sp.Symbol(r"\chi(\mu)"), cycle_characteristic())
    stated = sp.Poly(sp.sympify(statement.rhs), mu)
    A = sp.Symbol("A", positive=True)
    through_A = {eta: 2 * (lam * A + epsilon) / lam}
    trace, det = _model_two_step_invariants()
    coefficients = stated.all_coeffs() if stated.degree() == 2 else [sp.nan, sp.nan, sp.nan]
    lead, linear, constant = (sp.sympify(x).xreplace(through_A) for x in coefficients)
    residues = [sp.simplify(lead - 1), sp.simplify(-linear / lead - trace), sp.simplify(constant / lead - det)]
    symbolic_wrong = float(sum(r != 0 for r in residues))
    errors, measured_errors, rows = [], [], []
    for a, rate, curvature, e in CYCLE_EIGEN_CASES:
        values = {alpha: a, eta: rate, lam: curvature, epsilon: e}
        poly = sp.Poly(sp.sympify(statement.rhs).subs(values), mu)
        try:
            coeffs = [complex(x) for x in poly.all_coeffs()] if poly.degree() == 2 else None
        except TypeError:  # a statement that leaves a symbol in
            coeffs = None
        roots = sorted(abs(r) for r in np.roots(coeffs)) if coeffs else [math.nan, math.nan]
        numeric = _cycle_jacobian_moduli("outside", values)
        errors += [abs(x - y) / abs(y) for x, y in zip(roots, numeric)]
        rho = max(roots)
        measured = _torch_cycle_rate(a, rate, curvature, e)
        measured_errors.append(abs(measured - rho) / rho if math.isfinite(measured) else math.nan)
        kind = "complex" if abs(roots[0] - roots[1]) < 1e-9 * rho else "real"
        rows.append(f"alpha={a}, eta={rate}, lambda={curvature}, eps={e}: {kind}, rho={rho:.6g}, torch {measured:.6g}")
    c = cycle_contraction()
    return Derivation(
        id="rmsprop.quadratic.cycle_eigenvalues",
        title="RMSProp on the quadratic: how the 2-cycle attracts (the two-step Jacobian's eigenvalues)",
        statement=statement,
        assumptions=(
            Assumption(
                "eps outside the root, constant eta, f = lambda w^2/2, the cycle exists: eta*lambda > 2 eps",
                eta * lam > 2 * epsilon,
            ),
        ),
        steps=(
            r"\text{at } w = \pm A,\ v = \lambda^2 A^2:\ \sigma = \lambda A + \epsilon = \eta\lambda/2",
            rf"J_1(\pm A) = \begin{{pmatrix}} c - 1 & \pm q \\ \pm r & \alpha \end{{pmatrix}},\ q r = \alpha c,\ c = {sp.latex(c)}",
            r"\det J_1 = -\alpha,\ \operatorname{tr}(J_1(-A) J_1(A)) = (c - 1 - \alpha)^2 - 2\alpha,\ \det = \alpha^2",
            r"|\mu| = \alpha \text{ iff } (1 - \sqrt\alpha)^2 < c < (1 + \sqrt\alpha)^2\text{; } |\mu| < 1 \text{ for } 0 < c < 2(1 + \alpha)",
        ),
        check=Check(
            "symbolic-model-jacobian",
            (0, 0),
            symbolic_wrong,
            0.0,
            detail="trace and determinant of torch's model's two-step Jacobian at the cycle minus the statement's, simplified",
        ),
        precision_checks=(
            Check(
                "numeric-jacobian-eigenvalues",
                (0, 0),
                worst_error(errors),
                1e-9,
                detail="|roots| of the statement against |eigenvalues| of the numeric Jacobian, " + "; ".join(rows),
            ),
            Check(
                "torch-contraction-rate",
                (1, 4000),
                worst_error(measured_errors),
                1e-2,
                detail="torch.optim.RMSprop started 1% off the cycle: the fitted rate per two steps of its distance to the "
                "cycle against the largest |root| (the fit of a rotating deviation: about 1e-3)",
            ),
        ),
        explanation="The cycle attracts at rate alpha per two steps only while its eigenvalues are complex; with a small alpha, "
        "or eps close to eta*lambda/2, they are real and the rate is the larger root. Whenever the cycle exists it is stable.",
    )


# -- RMSProp: the basin of the cycle -----------------------------------------------------------
_u, _u0 = sp.symbols("u u_0", positive=True)


def decay_contraction() -> sp.Expr:
    r"""L(v_0): how far, in e-folds, |w| shrinks while a large initial mean square v_0 decays
    (ε = 0, λ²w² ≪ v so that v_k = α^k v_0, √v_0 > ηλ). Each step multiplies w by 1 − u_k,
    u_k = ηλ/√v_k = u_0 α^{−k/2}, and contracts while |1 − u_k| < 1 (u_k < 2); the sum
    Σ_k −ln|1 − u_k| is a Riemann sum in ln u with step ½ ln(1/α), so

    .. math:: L(v_0) \approx \frac{2}{\ln(1/\alpha)} \int_{u_0}^{2} \frac{-\ln|1 - u|}{u}\,du
              = \frac{2}{\ln(1/\alpha)} \left(\frac{\pi^2}{4} - \mathrm{Li}_2(u_0)\right),

    since :math:`\int_0^1 -\ln(1-u)\,du/u = \pi^2/6`, :math:`\int_1^2 -\ln(u-1)\,du/u =
    \int_0^1 -\ln s\,ds/(1+s) = \pi^2/12` and :math:`\mathrm{Li}_2' (x) = -\ln(1-x)/x`. As
    v_0 → ∞ it tends to π²/(2 ln(1/α)), whatever η and λ."""
    u0 = eta * lam / sp.sqrt(sp.Symbol("v_0", positive=True))
    return 2 / sp.log(1 / alpha) * (sp.pi**2 / 4 - sp.polylog(2, u0))


def _decay_integral_pieces() -> tuple[sp.Expr, float, sp.Expr]:
    """(∫₀¹ −ln(1−u)/u du by SymPy, ∫₀¹ −ln s/(1+s) ds − π²/12 by mpmath quadrature at 40 digits
    (SymPy 1.14 returns π²/12 − 2iπ ln 2 for it), d/du₀ [π²/4 − Li₂(u₀)] − ln(1−u₀)/u₀ by SymPy)."""
    first = sp.integrate(-sp.log(1 - _u) / _u, (_u, 0, 1))
    with mpmath.workdps(40):
        second = float(mpmath.quad(lambda x: -mpmath.log(x) / (1 + x), [0, 1]) - mpmath.pi**2 / 12)
    derivative = sp.simplify(sp.expand_func(sp.diff(sp.pi**2 / 4 - sp.polylog(2, _u0), _u0)) - sp.log(1 - _u0) / _u0)
    return sp.nsimplify(first), second, derivative


def _decay_sum(a: float, rate: float, curvature: float, v0: float, e: float = 0.0) -> float:
    """The decay phase's Σ −ln|1 − ηλ/σ_k| from the model's recursion v_k = α v_{k−1} (g² neglected),
    σ_k = √v_k + ε, at 40 digits."""
    with mpmath.workdps(40):
        total, v = mpmath.mpf(0), mpmath.mpf(v0)
        while True:
            v *= a
            factor = 1 - rate * curvature / (mpmath.sqrt(v) + e)
            if abs(factor) >= 1:
                return float(total)
            total -= mpmath.log(abs(factor))


#: (α, v_0/(ηλ)²) of the contraction check, at η = 0.01, λ = 2 (torch's float64 stays in the normal range)
BASIN_CASES = ((0.9, 1e2), (0.9, 1e8), (0.95, 1e4), (0.99, 1e2), (0.99, 1e4), (0.99, 1e8))
BASIN_RATE, BASIN_CURVATURE = 0.01, 2.0


def _torch_decay(a: float, dtype_name: str, v0: float, log_w0: tuple[float, ...], steps: int) -> tuple[float, ...]:
    """torch.optim.RMSprop (eps = 1e-8) on f = λw²/2, one element per start ln|w_0| in ``log_w0``, with
    the mean square set to v_0 after a first step at g = 0: per start, (ln of the smallest |w_t| in
    the normal range − ln w_0) and the final |w_T| (for the basin), interleaved."""
    import torch

    dtype = getattr(torch, dtype_name)
    x = torch.tensor([math.exp(x) for x in log_w0], dtype=dtype, requires_grad=True)
    opt = torch.optim.RMSprop([x], lr=BASIN_RATE, alpha=a)
    x.grad = torch.zeros_like(x)
    opt.step()
    opt.state[x]["square_avg"].fill_(v0)
    tiny = torch.finfo(dtype).tiny
    smallest = x.detach().abs().clone()
    with torch.no_grad():
        for _ in range(steps):
            x.grad = BASIN_CURVATURE * x
            opt.step()
            normal = x.abs() >= tiny
            smallest = torch.where(normal, torch.minimum(smallest, x.abs()), smallest)
    out: list[float] = []
    for lw, low, end in zip(log_w0, smallest.tolist(), x.detach().abs().tolist()):
        out += [math.log(low) - lw, end]
    return tuple(out)


@lru_cache(maxsize=None)
def _basin_table() -> dict[str, tuple]:
    """The runs of :func:`rmsprop_cycle_basin` (computed once)."""
    rate, curvature = BASIN_RATE, BASIN_CURVATURE
    contraction = []
    for a, m in BASIN_CASES:
        v0 = m * (rate * curvature) ** 2
        steps = int(math.log(math.sqrt(v0) / (rate * curvature / 2)) / (0.5 * math.log(1 / a))) + 50
        measured = -_torch_decay(a, "float64", v0, (math.log(1e-6),), steps)[0]
        # the sum as the statement idealises it (eps = 0), and as torch runs it (its eps = 1e-8 in sigma)
        contraction.append(
            (a, m, _decay_sum(a, rate, curvature, v0), measured, _decay_sum(a, rate, curvature, v0, 1e-8))
        )
    basin = []
    for a, dtype_name in ((0.9, "float32"), (0.9, "float64"), (0.99, "float32"), (0.99, "float64")):
        import torch

        info = torch.finfo(getattr(torch, dtype_name))
        v0 = 1e8 * (rate * curvature) ** 2
        L = float(decay_contraction().subs({alpha: a, eta: rate, lam: curvature, sp.Symbol("v_0", positive=True): v0}))
        edge = math.log(info.tiny) + L  # ln|w_0| above which the decay phase stays in the normal range
        near = (x for x in (edge + d for d in (-40, -20, -10, 1, 2, 5, 20)) if math.log(info.tiny) < x < -3)
        starts = tuple(sorted({*near, math.log(1e-3)}))  # and an ordinary start, w0 = 1e-3
        steps = int(math.log(math.sqrt(v0) / (rate * curvature / 2)) / (0.5 * math.log(1 / a))) + 3000
        runs = _torch_decay(a, dtype_name, v0, starts, steps)
        A = rate / 2 - 1e-8 / curvature
        for lw, end in zip(starts, runs[1::2]):
            state = "cycle" if abs(end - A) <= 1e-4 * A else ("collapsed" if end < info.tiny else "other")
            basin.append((a, dtype_name, lw - edge, state))
    return {"contraction": tuple(contraction), "basin": tuple(basin)}


@restatable
def rmsprop_cycle_basin(*, statement: sp.Eq | None = None) -> Derivation:
    """Which starts reach RMSProp's 2-cycle (ε outside, ηλ > 2ε): in exact arithmetic every w_0 ≠ 0
    (the origin repels), but a large initial mean square v_0 first shrinks |w| by L(v_0) e-folds
    (:func:`decay_contraction`) before the cycle can grow back. A start whose decay phase keeps w in
    the normal range (ln|w_0| − L(v_0) > ln of the smallest normal number) reaches the cycle; one
    that dips into the subnormals meets torch's quantized update, lr·λw rounding to a few multiples
    of the smallest subnormal or to 0, and may stay stuck there forever (measured). L(v_0) is
    checked against the model's own decay sum and torch.optim.RMSprop's measured contraction; the
    basin's boundary against torch.optim.RMSprop runs in float32 and float64."""
    v0 = sp.Symbol("v_0", positive=True)
    statement = statement if statement is not None else sp.Eq(sp.Function("L")(v0), decay_contraction())
    first, second, derivative = _decay_integral_pieces()
    symbolic_ok = first == sp.pi**2 / 6 and abs(second) < 1e-35 and derivative == 0
    table = _basin_table()
    fn = sp.lambdify((alpha, eta, lam, v0), statement.rhs, modules="mpmath")
    errors, torch_errors, rows = [], [], []
    for a, m, summed, measured, with_eps in table["contraction"]:
        try:
            stated = float(fn(a, BASIN_RATE, BASIN_CURVATURE, m * (BASIN_RATE * BASIN_CURVATURE) ** 2))
        except (TypeError, ValueError, ZeroDivisionError):
            stated = math.nan
        errors.append(abs(stated - summed) / summed if math.isfinite(stated) else math.nan)
        torch_errors.append(abs(measured - with_eps) / with_eps)
        rows.append(
            f"alpha={a}, v0={m:g}(eta lambda)^2: L = {stated:.6g}, model's sum {summed:.6g}, torch {measured:.6g}"
        )
    wrong_side = [r for r in table["basin"] if r[2] > 0 and r[3] != "cycle"]
    below = [r for r in table["basin"] if r[2] < 0]
    collapsed = sum(r[3] == "collapsed" for r in below)
    basin_detail = "; ".join(f"alpha={r[0]} {r[1]} ln|w0| - edge = {r[2]:+.0f}: {r[3]}" for r in table["basin"])
    return Derivation(
        id="rmsprop.quadratic.cycle_basin",
        title="RMSProp on the quadratic: the basin of the 2-cycle and the decay phase's contraction",
        statement=statement,
        assumptions=(
            Assumption(
                "eps outside the root, constant eta, f = lambda w^2/2, eta*lambda > 2 eps", eta * lam > 2 * epsilon
            ),
            Assumption(
                "a large initial mean square: lambda^2 w_0^2 << v_0 and sqrt(v_0) > eta*lambda; eps << eta*lambda",
                sp.sqrt(v0) > eta * lam,
            ),
        ),
        steps=(
            r"v_k = \alpha^k v_0,\quad w_k = w_{k-1}(1 - u_k),\quad u_k = \eta\lambda/\sqrt{v_k} = u_0\,\alpha^{-k/2}",
            r"L(v_0) = \sum_{u_k < 2} -\ln|1 - u_k| \approx \frac{2}{\ln(1/\alpha)}\int_{u_0}^{2}\frac{-\ln|1-u|}{u}\,du",
            r"\int_0^1 \frac{-\ln(1-u)}{u}du = \frac{\pi^2}{6},\ \int_1^2 \frac{-\ln(u-1)}{u}du = \frac{\pi^2}{12},\ "
            r"\mathrm{Li}_2'(x) = -\frac{\ln(1-x)}{x}",
            rf"L(v_0) = {sp.latex(statement.rhs)} \to \frac{{\pi^2}}{{2\ln(1/\alpha)}}",
            r"\text{the cycle is reached if } \ln|w_0| - L(v_0) > \ln(\text{smallest normal number})",
        ),
        check=Check(
            "model-decay-sum",
            (1, 2000),
            worst_error(errors),
            0.02,
            detail="the statement against the model's decay sum (40 digits); a Riemann sum in ln u whose error, "
            "dominated by the step nearest the singularity u = 1, is not derived (the tolerance is not a bound); "
            + "; ".join(rows),
        ),
        precision_checks=(
            Check(
                "symbolic",
                (0, 0),
                0.0 if symbolic_ok else math.inf,
                0.0,
                detail=f"int_0^1 -ln(1-u)/u = {first} (SymPy); int_0^1 -ln(s)/(1+s) - pi^2/12 = {second:.1e} "
                f"(mpmath, 40 digits); d/du0 [pi^2/4 - Li2(u0)] - ln(1 - u0)/u0 = {derivative}",
            ),
            Check(
                "torch-contraction",
                (1, 2000),
                worst_error(torch_errors),
                1e-10,
                detail="torch.optim.RMSprop float64 (eps = 1e-8) from w0 = 1e-6: ln(w0 / min |w_t|) against the model's "
                "decay sum with the same eps (40 digits; g^2 = lambda^2 w^2 neglected in v: 1e-14 of v0)",
            ),
            Check(
                "torch-basin",
                (1, 5000),
                float(len(wrong_side)),
                0.0,
                detail=f"starts whose decay phase stays normal that did not reach the cycle (must be 0); below the "
                f"edge {collapsed} of {len(below)} collapsed (stuck at a subnormal), the others returned: {basin_detail}",
            ),
        ),
        explanation="The cycle's basin is every start in exact arithmetic, but a large initial mean square first shrinks "
        "w by about pi^2/(2 ln(1/alpha)) e-folds (491 at alpha = 0.99, more than float32's range): a start that dips into "
        "the subnormal numbers can stay stuck there, torch's lr*lambda*w rounding to 0.",
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (
        gd_trajectory(),
        gd_regimes(),
        inverse_time_trajectory("corrected"),
        inverse_time_trajectory("textbook"),
        inverse_time_leading("corrected"),
        inverse_time_leading("textbook"),
        adagrad_converges(),
        rmsprop_cycle("outside"),
        rmsprop_cycle_eigenvalues(),
        rmsprop_cycle_basin(),
        rmsprop_cycle("recursion"),
    )


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())
