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
"""

from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import sympy as sp

from .. import rules
from ..rules import t
from ..rules._primitives import alpha, epsilon, eta, gamma
from ._result import Assumption, Check, Derivation
from .gradients import ConstantGradient, PowerLawGradient, c, w0
from .simulate import compile_body, log_spaced_steps

T_FAR = 10**6
eta_t = sp.Symbol("eta_t")
g = rules.g


@lru_cache(maxsize=None)
def simulated_rate(family: str, dialect: str, items: tuple, model, steps: int = T_FAR, element: int = 0) -> dict[int, float]:
    """{t: η_t} at log-spaced t ≤ ``steps`` (reset run, element ``element`` of the model): the
    series a figure of 'simulated vs derived η_t' plots."""
    program = compile_body(rules.get(family, dialect), items)
    checkpoints = log_spaced_steps(steps, 20)
    rows = program.run(steps, checkpoints, model.scalar(element), 0.0, reset=True)
    return {s: rows[s]["lr"] for s in checkpoints}


def rate_series(family: str, dialect: str | None = None, gradient=None, items: tuple = (), steps: int = T_FAR) -> tuple[list[int], list[float], list[float]]:
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


def _asymptotic(id_, title, statement, exponent, series, leading_value_at, steps, explanation, extra_assumptions=(), slope_transform=math.log, ratio_tol=1e-3, slope_tol=1e-3):
    slope = _slope(series, transform=slope_transform)
    ratio = series[T_FAR] / leading_value_at(T_FAR)
    checks = (
        Check("loglog-slope", (10**5, T_FAR), abs(slope - exponent), slope_tol, detail=f"measured {slope:.6f}, derived {exponent}"),
        Check("leading-term-ratio", (T_FAR, T_FAR), abs(ratio - 1), ratio_tol, detail=f"simulated / leading = {ratio:.8f} at t = 1e6"),
    )
    return Derivation(
        id=id_, title=title, statement=statement,
        assumptions=tuple(extra_assumptions), steps=tuple(steps), check=checks[0], precision_checks=checks[1:],
        explanation=explanation,
    )


# -- AdaGrad ------------------------------------------------------------------------------------
def adagrad_constant_leading(g_value: float = 0.5) -> Derivation:
    """η_t = η/(√(G_0 + t g²) + ε) ~ η/(|g| √t): exponent −1/2."""
    series = simulated_rate("adagrad", "torch", (), ConstantGradient((g_value,)))
    leading = eta / (sp.Abs(g) * sp.sqrt(t))
    return _asymptotic(
        "adagrad.torch.lr_leading", "AdaGrad [torch], constant gradient: leading term of eta_t",
        sp.Eq(eta_t, leading * (1 + sp.O(1 / sp.sqrt(t), (t, sp.oo)))), -0.5, series,
        lambda T: 0.01 / (abs(g_value) * math.sqrt(T)),
        (r"\eta_t = \frac{\eta}{\sqrt{G_0 + t g^2} + \epsilon} = \frac{\eta}{|g|\sqrt{t}}\left(1 + O(t^{-1/2})\right)",),
        "Under a constant gradient AdaGrad's rate decays like t^(-1/2): to 0, but slowly enough that the total movement grows like 2*eta*sqrt(t).",
        (Assumption("g != 0, gamma = 0"),),
    )


def adagrad_powerlaw(p: sp.Rational) -> Derivation:
    """The three regimes of AdaGrad's rate under g_t = c t^{−p} (see the module docstring)."""
    p = sp.Rational(p)
    model = PowerLawGradient((0.5,), exponent=p)
    series = simulated_rate("adagrad", "torch", (), model)
    cv, lr = 0.5, 0.01
    base = (Assumption(f"g_t = c t^(-{p}), G_0 = 0, eps -> 0, gamma = 0"),)
    first = rf"G_t = G_0 + c^2 H_t^{{({sp.latex(2 * p)})}}"
    if p < sp.Rational(1, 2):
        q = sp.Rational(1, 2) - p
        leading = eta * sp.sqrt(1 - 2 * p) / (sp.Abs(c) * t**q)
        return _asymptotic(
            f"adagrad.torch.powerlaw_p{p}.lr_leading", f"AdaGrad, g_t = c t^-{p} (p < 1/2): eta_t -> 0 like t^-{q}",
            sp.Eq(eta_t, leading * (1 + sp.O(t ** (-(1 - 2 * p)), (t, sp.oo)))), -float(q), series,
            lambda T: lr * math.sqrt(1 - 2 * float(p)) / (cv * T ** float(q)),
            (first, rf"H_t^{{(2p)}} = \frac{{t^{{1-2p}}}}{{1-2p}} + \zeta(2p) + O(t^{{-2p}}) \text{{ (Euler–Maclaurin)}}", rf"\eta_t \sim {sp.latex(leading)}"),
            f"p = {p} < 1/2: the squared gradients are not summable, G_t grows like t^(1-2p) and eta_t -> 0 with exponent {q}.",
            base, ratio_tol=2e-3, slope_tol=2e-3,
        )
    if p == sp.Rational(1, 2):
        two_term = eta / (sp.Abs(c) * sp.sqrt(sp.log(t) + sp.EulerGamma))
        d = _asymptotic(
            "adagrad.torch.powerlaw_p1/2.lr_leading", "AdaGrad, g_t = c t^-1/2 (p = 1/2): eta_t -> 0 like (ln t)^-1/2",
            sp.Eq(eta_t, two_term * (1 + sp.O(1 / (t * sp.log(t)), (t, sp.oo)))), -0.5, series,
            lambda T: lr / (cv * math.sqrt(math.log(T) + 0.5772156649015329)),
            (first, r"H_t = \ln t + \gamma + O(1/t)", rf"\eta_t = {sp.latex(two_term)}\,(1 + O(1/(t \ln t))) \to 0"),
            "p = 1/2: G_t grows like ln t, so eta_t -> 0, but only like (ln t)^(-1/2): at t = 1e6 it is still 27% of eta/|c|.",
            base, slope_transform=lambda T: math.log(math.log(T) + 0.5772156649015329), ratio_tol=1e-5, slope_tol=1e-5,
        )
        return d
    limit = eta / (sp.Abs(c) * sp.sqrt(sp.zeta(2 * p)))
    value = lr / (cv * math.sqrt(float(mpmath.zeta(float(2 * p)))))
    gap = {s: value - r for s, r in series.items()}
    slope = _slope(gap)
    ratio = series[T_FAR] / value
    checks = (
        Check("limit-ratio", (T_FAR, T_FAR), abs(ratio - 1), 1e-3, detail=f"simulated eta_t / limit = {ratio:.8f} at t = 1e6"),
        Check("loglog-slope", (10**5, T_FAR), abs(slope - float(1 - 2 * p)), 1e-2, detail=f"slope of (limit - eta_t): measured {slope:.5f}, derived {1 - 2 * p}"),
    )
    return Derivation(
        id=f"adagrad.torch.powerlaw_p{p}.lr_limit", title=f"AdaGrad, g_t = c t^-{p} (p > 1/2): eta_t -> a positive constant",
        statement=sp.Eq(sp.Limit(eta_t, t, sp.oo), limit), assumptions=base,
        steps=(first, rf"H_t^{{({sp.latex(2 * p)})}} \to \zeta({sp.latex(2 * p)}), \text{{ gap }} \sim \frac{{t^{{1-2p}}}}{{2p-1}}", rf"\eta_t \to {sp.latex(limit)} > 0"),
        check=checks[0], precision_checks=checks[1:],
        explanation=f"p = {p} > 1/2: the squared gradients are summable, G_t converges and eta_t tends to a positive constant (it does not go to 0).",
    )


def adagrad_lr_decay(decay: float = 0.01) -> Derivation:
    """torch's lr_decay: η_t = η/((1 + (t−1)γ)(√(G_0 + t g²) + ε)) ~ η/(γ |g|) t^{−3/2}."""
    series = simulated_rate("adagrad", "torch", (("lr_decay", decay),), ConstantGradient((0.5,)))
    leading = eta / (gamma * sp.Abs(g) * t ** sp.Rational(3, 2))
    return _asymptotic(
        "adagrad.torch.lr_decay_leading", "AdaGrad [torch] with lr_decay: eta_t ~ t^(-3/2)",
        sp.Eq(eta_t, leading * (1 + sp.O(1 / sp.sqrt(t), (t, sp.oo)))), -1.5, series,
        lambda T: 0.01 / (decay * 0.5 * T**1.5),
        (r"\eta_t = \frac{\eta}{(1 + (t-1)\gamma)(\sqrt{G_0 + t g^2} + \epsilon)}", r"(1 + (t-1)\gamma) \sim \gamma t \Rightarrow \eta_t \sim \frac{\eta}{\gamma |g|}\, t^{-3/2}"),
        "torch's lr_decay divides by 1 + (t-1)*lr_decay on top of AdaGrad's sqrt(G_t): the rate decays like t^(-3/2).",
        (Assumption("gamma > 0, g != 0"),), ratio_tol=2e-4,
    )


# -- RMSProp's early steps ------------------------------------------------------------------------
def rmsprop_first_step() -> Derivation:
    """With v_0 = 0: η_1 = η/(√(1−α)|g| + ε), so the first step is η sign(g)/√(1−α) (ε → 0):
    10 η for α = 0.99, 3.16 η for α = 0.9; the inflation η_t/η_∞ = (|g| + ε)/(√(1−α^t)|g| + ε)
    falls below 1 % after t ≥ ln(1 − 1/1.01²)/ln α (391 steps for 0.99, 39 for 0.9)."""
    inflation = (sp.Abs(g) + epsilon) / (sp.sqrt(1 - alpha**t) * sp.Abs(g) + epsilon)
    rows, worst = [], 0.0
    for a in (0.9, 0.99):
        series = compile_body(rules.rmsprop(), (("alpha", a),)).run(2000, range(1, 2001), lambda s, w: 0.5, 0.0, reset=True)
        first = series[1]["lr"] * 0.5 / 0.01  # step / (η sign g)
        expected_first = 0.5 / (math.sqrt(1 - a) * 0.5 + 1e-8)
        worst = max(worst, abs(first - expected_first) / expected_first)
        limit = 0.01 / (0.5 + 1e-8)
        measured_settle = next(s for s in range(1, 2001) if series[s]["lr"] / limit < 1.01)
        derived_settle = math.ceil(math.log(1 - 1 / 1.01**2) / math.log(a))
        worst = max(worst, float(measured_settle != derived_settle))
        rows.append(f"alpha={a}: first step {first:.4f} eta (1/sqrt(1-alpha) = {1 / math.sqrt(1 - a):.4f}), inflation < 1% from t = {measured_settle} (derived {derived_settle})")
    return Derivation(
        id="rmsprop.torch.early_inflation", title="RMSProp [torch] with v_0 = 0: inflated early steps",
        statement=sp.Eq(sp.Symbol(r"\eta_t / \eta_\infty"), inflation),
        assumptions=(Assumption("constant gradient g != 0, v_0 = 0"),),
        steps=(
            r"v_t = (1 - \alpha^t) g^2, \quad \eta_t = \frac{\eta}{\sqrt{1-\alpha^t}\,|g| + \epsilon}, \quad \eta_\infty = \frac{\eta}{|g| + \epsilon}",
            r"\text{first step: } \eta_1 g = \frac{\eta\, g}{\sqrt{1-\alpha}\,|g| + \epsilon} \approx \frac{\eta\, \mathrm{sign}(g)}{\sqrt{1-\alpha}}",
            r"\eta_t/\eta_\infty < 1.01 \iff t \ge \ln(1 - 1.01^{-2}) / \ln\alpha",
        ),
        check=Check("simulation", (1, 2000), worst, 1e-10, detail="; ".join(rows)),
        explanation="Starting from v_0 = 0 the first RMSProp step is eta/sqrt(1-alpha) in size: 10x the steady step for alpha = 0.99 (3.2x for 0.9); it settles within 1% after ~391 (39) steps.",
    )


# -- time constants of alpha ----------------------------------------------------------------------
def time_constants() -> list[Derivation]:
    """Weight (1−α)α^k of the gradient k steps back, effective window 1/(1−α), half-life
    ln 2/(−ln α), mean age α/(1−α); measured from an impulse response of the rule."""
    out = []
    kk = sp.Symbol("k", integer=True, nonnegative=True)
    for a in (0.9, 0.99):
        rule = rules.rmsprop()
        program = compile_body(rule, (("alpha", a),))
        rows = program.run(2000, range(1, 2001), lambda s, w: 1.0 if s == 1 else 0.0, 0.0, reset=True)
        weights = [rows[1 + j]["state:square_avg"] for j in range(0, 1500)]
        worst = max(abs(wt - (1 - a) * a**j) / ((1 - a) * a**j) for j, wt in enumerate(weights) if (1 - a) * a**j > 1e-250)
        half = math.log(2) / -math.log(a)
        measured_half = math.log(2) / -(math.log(weights[200]) - math.log(weights[100])) * 100
        window = sum(w_ for w_ in weights) / (1 - a)  # Σ weights / first weight · (first weight = 1 − α)
        out.append(
            Derivation(
                id=f"rmsprop.time_constants.alpha_{a}", title=f"Time constants of alpha = {a}",
                statement=sp.Eq(sp.Symbol(r"w_k"), (1 - alpha) * alpha**kk),
                assumptions=(Assumption(f"alpha = {a}"),),
                steps=(
                    r"v_t = (1-\alpha)\sum_{k=0}^{t-1} \alpha^k g_{t-k}^2 \text{ (weight of the gradient } k \text{ steps back)}",
                    rf"\text{{window }} \frac{{1}}{{1-\alpha}} = {1 / (1 - a):.4g}, \quad \text{{half-life }} \frac{{\ln 2}}{{-\ln \alpha}} = {half:.4g}, \quad \text{{mean age }} \frac{{\alpha}}{{1-\alpha}} = {a / (1 - a):.4g}",
                    rf"\text{{newest gradient's weight }} 1-\alpha = {1 - a:.2g}; \text{{ all older together }} \alpha(1-\alpha^{{t-1}}) \to {a}",
                ),
                check=Check("impulse-response", (1, 1500), worst, 1e-10, detail=f"weights of an impulse g_1 = 1; measured half-life {measured_half:.6f}, window {window:.6f}"),
                precision_checks=(Check("half-life", (100, 200), abs(measured_half - half) / half, 1e-8, detail=f"{measured_half:.8f} vs {half:.8f}"),),
                explanation=f"alpha = {a}: effective window {1 / (1 - a):.0f} steps, half-life {half:.2f} steps; each older gradient weighs less than the newest (by alpha per step).",
            )
        )
    return out


# -- the 1/t rule under a constant gradient ---------------------------------------------------------
def inverse_time_leading(dialect: str = "corrected", g_value: float = 0.5) -> Derivation:
    """w_t = w_0 ∓ η g H_t with H_t = ln t + γ + 1/(2t) + O(t^{−2}): the 1/t rule moves like ln t.

    Checked against the rule's body run to t = 10⁶ (float64): the ratio of the movement to its
    leading term η g (ln t + γ) at 10⁶, and the log-log slope of H_t − ln t − γ (≈ 1/(2t)) between
    10³ and 10⁴, which must be −1."""
    s = 1 if dialect == "corrected" else -1
    rule = rules.inverse_time(dialect)
    lr = float(rule.values()[eta])
    w_start = 1.0
    checkpoints = log_spaced_steps(T_FAR)
    rows = compile_body(rule, ()).run(T_FAR, checkpoints, lambda step, w: g_value, w_start)
    harmonic = {n: (rows[n]["param"] - w_start) / (-s * lr * g_value) for n in checkpoints}  # H_t read off the run
    euler = float(mpmath.euler)
    three_terms = math.log(T_FAR) + euler + 1 / (2 * T_FAR)
    ratio = harmonic[T_FAR] / three_terms
    t0, t1 = 10**3, 10**4
    gap = {n: harmonic[n] - math.log(n) - euler for n in (t0, t1)}
    slope = math.log(gap[t1] / gap[t0]) / math.log(t1 / t0)
    sign = "-" if s == 1 else "+"
    leading = w0 - s * eta * g * (sp.log(t) + sp.EulerGamma + 1 / (2 * t) + sp.O(t**-2, (t, sp.oo)))
    checks = (
        Check("three-term-ratio", (T_FAR, T_FAR), abs(ratio - 1), 1e-8,
              detail=f"(w_t - w_0) / ({sign}eta g (ln t + gamma + 1/(2t))) = {ratio:.12f} at t = 1e6 (the next term, -1/(12 t^2), is below float64's reach)"),
        Check("loglog-slope", (t0, t1), abs(slope + 1), 1e-3, detail=f"slope of H_t - ln t - gamma: measured {slope:.6f}, derived -1 (the 1/(2t) term)"),
    )
    return Derivation(
        id=f"inverse_time.{dialect}.param_leading", title=f"1/t rule [{dialect}], constant gradient: w_t moves like ln t",
        statement=sp.Eq(sp.Symbol("w_t"), leading),
        assumptions=(Assumption("constant gradient g"),),
        steps=(
            rf"w_t = w_0 {sign} \eta\, g \sum_{{k=1}}^{{t}} \frac{{1}}{{k}} = w_0 {sign} \eta\, g\, H_t",
            r"H_t = \ln t + \gamma + \frac{1}{2t} - \frac{1}{12 t^2} + O(t^{-4}) \text{ (Euler--Maclaurin, see sums.harmonic)}",
        ),
        check=checks[0], precision_checks=checks[1:],
        explanation=(
            "The 1/t rule's steps eta*g/t add up to eta*g*H_t, and H_t = ln t + gamma + O(1/t): the parameter keeps moving, "
            + ("downhill without bound under a constant gradient, but only logarithmically." if s == 1
               else "uphill (the post's plus sign) without bound, logarithmically.")
        ),
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (
        adagrad_constant_leading(), *(adagrad_powerlaw(sp.Rational(p, 4)) for p in (1, 2, 3)), adagrad_lr_decay(),
        rmsprop_first_step(), *time_constants(), inverse_time_leading("textbook"), inverse_time_leading("corrected"),
    )


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())
