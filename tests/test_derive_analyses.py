"""The derivations beyond closed forms: gradient models, sums, asymptotics, the quadratic, noise,
textbook vs torch. Expected values are derived by hand in the tests (or from mpmath/torch), and
each kind of check is shown failing on a deliberately wrong formula."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from symopt import rules
from symopt.derive import derive
from symopt.derive import dialects, euler_maclaurin as EM, noise, quadratic, rates, simulate
from symopt.derive._result import without_order_terms
from symopt.derive.checks import Observable, check_closed_form
from symopt.derive.gradients import PowerLawGradient, SequenceGradient, c, gseq
from symopt.rules import g, t
from symopt.rules._primitives import G0, alpha, epsilon, eta


def by_suffix(results, suffix):
    (found,) = [d for d in results if d.id.endswith(suffix)]
    return found


# -- the fast runner is the interpreter ---------------------------------------------------------
@pytest.mark.parametrize(
    "family, items",
    [
        ("adagrad", ()),
        ("rmsprop", (("centered", True), ("momentum", 0.9))),
        ("sgd", (("momentum", 0.9),)),
        ("inverse_time", ()),
    ],
)
def test_compiled_body_agrees_with_the_interpreter(family, items):
    grads = [lambda s, w: 0.5, lambda s, w: 3e-3 * s**-0.3, lambda s, w: 2.0 * w]
    rule = rules.get(family)
    assert simulate.disagreement_with_interpreter(rule, items, grads, [1.0, -2.0, 0.25], steps=100) <= 1e-13
    assert simulate.disagreement_with_interpreter(rule, items, grads[:1], [1.0], steps=10, dps=50) <= 1e-45


# -- gradient models ------------------------------------------------------------------------------
def test_powerlaw_adagrad_sum_is_a_generalised_harmonic_number():
    # By hand: G_t = G_0 + Σ_n (c n^{-1/4})² = G_0 + c² H_t^{(1/2)}.
    d = by_suffix(derive("adagrad", gradient=PowerLawGradient(exponent=sp.Rational(1, 4))), ".sum")
    assert sp.simplify(d.expr - (G0 + c**2 * sp.harmonic(t, sp.Rational(1, 2)))) == 0
    assert d.passed and d.check.t_range == (1, 10**6)


def test_sequence_rmsprop_is_the_weighted_sum_of_the_issue():
    # v_t = α^t v_0 + (1−α) Σ α^{t−n} g_n², v_0 = 0: compare at t = 3 term by term.
    d = by_suffix(derive("rmsprop", gradient=SequenceGradient()), ".square_avg")
    by_hand = (1 - alpha) * (alpha**2 * gseq[1] ** 2 + alpha * gseq[2] ** 2 + gseq[3] ** 2)
    assert sp.expand(d.expr.subs(t, 3).doit() - by_hand) == 0
    assert d.passed


def test_a_formula_wrong_only_late_fails_only_the_long_float64_check():
    # Right to 1e-12 at t = 1000, off by 1e-9 at t = 1e6: only the 10^6 horizon sees it.
    wrong = G0 + t * g**2 * (1 + t * sp.Float("1e-15"))
    short, _ = check_closed_form(rules.adagrad(), Observable("state", "sum"), wrong, horizon=1000)
    long, mp = check_closed_form(rules.adagrad(), Observable("state", "sum"), wrong)
    assert short.passed and not long.passed and not mp.passed


def test_centered_rmsprop_hazard_is_labelled_not_hidden():
    d = by_suffix(derive("rmsprop", centered=True), ".lr")
    assert "cancellation" in d.check.hazard and not d.check.passed  # float64 fails, and says why
    assert d.precision_checks[0].passed and d.passed  # the 50-digit arm is authoritative
    # By hand: v − m² = (1−α^t) g² − (1−α^t)² g² = α^t (1 − α^t) g².
    assert sp.simplify(d.expr - eta / (sp.Abs(g) * sp.sqrt(alpha**t * (1 - alpha**t)) + epsilon)) == 0


# -- Euler–Maclaurin ------------------------------------------------------------------------------
def test_euler_maclaurin_inverse_sqrt_constant_is_zeta_half():
    d = EM.inverse_sqrt_sum()
    assert d.passed
    value, bound = EM.EulerMaclaurin(EM.x ** sp.Rational(-1, 2)).constant
    assert abs(float(value) - float(mpmath.zeta(0.5))) <= float(bound)


def test_euler_maclaurin_bound_check_fails_without_the_half_endpoint_term():
    class Wrong(EM.EulerMaclaurin):
        @property
        def approximation(self):
            return super().approximation - self.summand.subs(EM.x, EM.n) / 2

    exact = {N: float(mpmath.zeta(0.5) - mpmath.zeta(0.5, N + 1)) for N in EM.CHECKPOINTS}
    assert not EM.check_expansion(Wrong(EM.x ** sp.Rational(-1, 2)), exact, "wrong").passed
    assert EM.check_expansion(EM.EulerMaclaurin(EM.x ** sp.Rational(-1, 2)), exact, "right").passed


def test_the_other_two_sums_and_the_sympy_finding():
    for d in (EM.shifted_sqrt_sum(), EM.accumulator_sum()):
        assert d.passed, d.check.summary()
    finding = EM.sympy_harmonic_limit_finding()
    assert finding.expr == sp.oo and finding.passed
    # H_{10^6}^{(1/2)} by hand from the expansion: 2·1000 + ζ(1/2) + 1/(2·1000).
    assert abs(float(mpmath.zeta(0.5) - mpmath.zeta(0.5, 10**6 + 1)) - (2000 + float(mpmath.zeta(0.5)) + 5e-4)) < 1e-8


# -- asymptotics of eta_t -------------------------------------------------------------------------
def test_adagrad_powerlaw_regimes():
    below, at, above = (rates.adagrad_powerlaw(sp.Rational(p, 4)) for p in (1, 2, 3))
    assert below.passed and at.passed and above.passed
    # p = 3/4: the limit is η/(|c| √ζ(3/2)) > 0; by hand with η = 0.01, c = 0.5: 0.02/√2.6124 = 0.012374.
    value = float(above.expr.subs({eta: 0.01, c: 0.5}))
    assert value == pytest.approx(0.02 / math.sqrt(float(mpmath.zeta(1.5))), rel=1e-12) and value > 0


def test_a_wrong_decay_exponent_fails_the_slope_check():
    """The check evaluates the statement it certifies: a statement with exponent −0.4 (or the
    issue's η/(|g| t)) fails both the slope and the ratio check."""
    d = rates.adagrad_constant_leading()
    eta_t = d.statement.lhs
    for wrong in (eta / (sp.Abs(rates.g) * t ** sp.Rational(2, 5)), eta / (sp.Abs(rates.g) * t)):
        bad = d.recheck(sp.Eq(eta_t, wrong))
        assert not bad.check.passed and not bad.precision_checks[0].passed, wrong


def _rmsprop_rate_by_hand(p, steps, a=0.99, lr=0.01, cc=0.5, eps=0.0):
    """torch's RMSprop rate lr/(sqrt(v_t) + eps) under g_t = c t^-p, v_0 = 0, typed here."""
    v, out = 0.0, {}
    for k in range(1, steps + 1):
        v = a * v + (1 - a) * (cc * k**-p) ** 2
        out[k] = lr / (math.sqrt(v) + eps)
    return out


def test_rmsprop_powerlaw_rate_grows_like_t_to_the_p_then_stops_at_eta_over_eps():
    for p in (sp.Rational(1, 4), sp.Integer(1)):
        d = rates.rmsprop_powerlaw(p)
        assert d.passed, [c.summary() for c in d.checks]
        by_hand = _rmsprop_rate_by_hand(float(p), 200_000)
        stated = sp.lambdify(t, without_order_terms(d.statement.rhs).subs({eta: 0.01, alpha: 0.99, c: 0.5}))
        for k in (5_000, 20_000):  # the two-term form: within O(t^-2) of the recurrence (a^2/t^2 ~ 1e-4 at 5e3, p = 1)
            assert stated(k) == pytest.approx(by_hand[k], rel=3 * (2 * float(p) * 99 / k) ** 2)
        assert by_hand[200_000] / by_hand[50_000] == pytest.approx(4.0 ** float(p), rel=1e-2)  # grows like t^p
    limit = rates.rmsprop_powerlaw_limit()
    assert limit.passed
    assert float(limit.expr.subs({eta: 0.01, epsilon: 1e-8})) == pytest.approx(1e6, rel=1e-15)
    assert _rmsprop_rate_by_hand(2.0, 200_000, eps=1e-8)[200_000] == pytest.approx(
        1e6, rel=2e-3
    )  # gap |c| t^-2/eps = 1.25e-3


@pytest.mark.parametrize("wrong", ["no lag term", "AdaGrad's exponent", "the lag with alpha in place of 1 - alpha"])
def test_a_wrong_rmsprop_powerlaw_rate_fails(wrong):
    d = rates.rmsprop_powerlaw(sp.Rational(1, 4))
    p = sp.Rational(1, 4)
    O = sp.O(t**-2, (t, sp.oo))
    bad = {
        "no lag term": eta * t**p / sp.Abs(c) * (1 + O),
        "AdaGrad's exponent": eta * sp.sqrt(1 - 2 * p) / (sp.Abs(c) * t ** (sp.Rational(1, 2) - p)) * (1 + O),
        "the lag with alpha in place of 1 - alpha": eta
        * t**p
        / sp.Abs(c)
        * (1 - p * (1 - alpha) / (alpha * t))
        * (1 + O),
    }[wrong]
    assert not d.recheck(sp.Eq(d.statement.lhs, bad)).passed


def test_a_wrong_rmsprop_rate_limit_fails():
    d = rates.rmsprop_powerlaw_limit()
    for bad in (eta / (2 * epsilon), eta / sp.sqrt(epsilon), sp.Integer(0)):
        assert not d.recheck(sp.Eq(d.statement.lhs, bad)).passed, bad


def test_rmsprop_first_step_and_time_constants_by_hand():
    assert rates.rmsprop_first_step().passed
    for d, a in zip(rates.time_constants(), (0.9, 0.99)):
        assert d.passed
        assert f"{math.log(2) / math.log(1 / a):.4g}" in d.steps[1]  # 6.579, 68.97


# -- the quadratic --------------------------------------------------------------------------------
def test_inverse_time_gamma_product_by_hand():
    d = quadratic.inverse_time_trajectory("corrected")
    a = sp.Rational(1, 3)
    w0 = sp.Symbol("w_0", real=True)
    by_hand = w0 * (1 - a) * (1 - a / 2) * (1 - a / 3)
    assert sp.simplify(sp.gammasimp(d.expr.subs(t, 3).xreplace({eta: a, quadratic.lam: 1})) - by_hand) == 0
    assert d.passed


def test_rmsprop_cycle_amplitude_by_hand():
    # At w = A: v = λ²A², σ = λA + ε, and A − ηλA/σ = −A exactly when A = η/2 − ε/λ.
    lr, lam_, e = 0.01, 2.0, 1e-8
    A = lr / 2 - e / lam_
    assert A - lr * lam_ * A / (lam_ * A + e) == pytest.approx(-A, rel=1e-12)
    d = quadratic.rmsprop_cycle("outside")
    assert d.passed and float(d.expr.subs({eta: lr, quadratic.lam: lam_, epsilon: e})) == pytest.approx(A, rel=1e-15)


def test_a_wrong_amplitude_fails_the_simulation_check():
    rows = quadratic.rmsprop_cycle_table()
    assert all(abs(r[7] - r[6]) / r[6] < 1e-6 for r in rows)
    assert any(abs(r[7] - r[3] / 4) / (r[3] / 4) > 1e-6 for r in rows)  # A = η/4 would be refuted


def test_rmsprop_cycle_eigenvalues_by_hand_and_wrong_ones_fail():
    """At α = 0.9, η = 0.01, λ = 2, ε = 0.0099 the cycle is small (A = 5e-5) and c = 2(1 − α)(1 −
    2ε/(ηλ)) = 0.002 < (1 − √0.9)² = 0.00263: the roots of μ² − Tμ + α², T = (c − 1 − α)² − 2α =
    1.802404, are real, ρ = (T + √(T² − 4α²))/2 = 0.94773 (by hand), not α — which is what the report measured
    before. With the default ε the roots are complex, |μ| = α. A statement with ρ = α always, or
    a sign slip in T, fails."""
    a, c = 0.9, 2 * 0.1 * (1 - 2 * 0.0099 / 0.02)
    T = (c - 1 - a) ** 2 - 2 * a
    rho = (T + math.sqrt(T * T - 4 * a * a)) / 2
    assert c < (1 - math.sqrt(a)) ** 2 and rho == pytest.approx(0.94773, rel=1e-5)
    d = quadratic.rmsprop_cycle_eigenvalues()
    assert d.passed, [x.summary() for x in (d.check, *d.precision_checks)]
    assert "real, rho=0.947732" in d.precision_checks[0].detail and "complex, rho=0.99" in d.precision_checks[0].detail
    m = quadratic.mu
    always_alpha = sp.Eq(sp.Symbol("chi"), (m - alpha) ** 2)
    wrong_sign = sp.Eq(
        sp.Symbol("chi"), m**2 - ((quadratic.cycle_contraction() + 1 - alpha) ** 2 - 2 * alpha) * m + alpha**2
    )
    for wrong in (always_alpha, wrong_sign):
        bad = quadratic.rmsprop_cycle_eigenvalues(statement=wrong)
        assert not bad.passed
        assert bad.check.max_rel_err > 0  # the model's own Jacobian refutes it


def _decay_by_hand(a, rate, curvature, v0):
    """The decay phase typed here in float64: v <- a v, w <- w (1 - rate curvature / sqrt(v)) while
    the factor's modulus is below 1; returns the e-folds |w| lost."""
    v, lost = v0, 0.0
    while True:
        v *= a
        factor = 1 - rate * curvature / math.sqrt(v)
        if abs(factor) >= 1:
            return lost
        lost -= math.log(abs(factor))


def test_rmsprop_cycle_basin_by_hand_and_wrong_ones_fail():
    """The decay phase from v0 = 1e8 (eta lambda)^2 at alpha = 0.99 costs |w| 491 e-folds (typed here:
    the loop, and the limit pi^2/(2 ln(1/alpha)) = 491.0), more than float32's exponent range (the
    smallest normal float32 is e^-87.3): from w0 = 1e-3 float32 RMSprop ends stuck at a subnormal,
    float64 reaches the cycle."""
    lost = _decay_by_hand(0.99, 0.01, 2.0, 1e8 * 0.02**2)
    assert lost == pytest.approx(math.pi**2 / (2 * math.log(1 / 0.99)), rel=1e-3) and lost > 87.4 + math.log(1e3)
    d = quadratic.rmsprop_cycle_basin()
    assert d.passed, [x.summary() for x in d.checks]
    rows = {(r[0], r[1], round(r[2])): r[3] for r in quadratic._basin_table()["basin"]}
    ordinary = {key: state for key, state in rows.items() if key[0] == 0.99 and key[2] < -300}
    assert set(ordinary.values()) == {"collapsed"} and any(k[1] == "float32" for k in ordinary)
    assert any(state == "cycle" and k[:2] == (0.99, "float64") for k, state in rows.items())
    v0 = sp.Symbol("v_0", positive=True)
    u0 = quadratic.eta * quadratic.lam / sp.sqrt(v0)
    for wrong in (
        2 / sp.log(1 / alpha) * (sp.pi**2 / 6 - sp.polylog(2, u0)),  # the contraction while u < 1 only
        1 / sp.log(1 / alpha) * (sp.pi**2 / 4 - sp.polylog(2, u0)),  # a step of ln(1/alpha), not half of it
        2 / sp.log(1 / alpha) * sp.pi**2 / 4 * (1 - u0),  # a wrong finite-v0 correction (at v0 = 100 (eta lambda)^2)
    ):
        bad = quadratic.rmsprop_cycle_basin(statement=sp.Eq(d.statement.lhs, wrong))
        assert not bad.passed, wrong


def test_sgd_regimes_and_adagrad_convergence():
    assert quadratic.gd_regimes().passed and quadratic.gd_trajectory().passed
    assert quadratic.adagrad_converges().passed


def test_sgd_momentum_on_the_quadratic_by_hand_and_wrong_ones_fail():
    """Typed here: the heavy ball's w_t = (1 + mu - eta lambda) w_{t-1} - mu w_{t-2} from w_1 = (1 - eta lambda) w_0
    (torch's first buffer is g), its edge 2(1 + mu), Nesterov's 2(1 + mu)/(1 + 2 mu), and mu* = (1 - sqrt(eta lambda))^2."""
    from symopt.derive import momentum
    from symopt.rules._primitives import mu, tau

    kappa, m_ = 0.3, 0.6
    w = [1.5, 1.5 * (1 - kappa)]
    for _ in range(30):
        w.append((1 + m_ - kappa) * w[-1] - m_ * w[-2])
    form = momentum.trajectory(False).xreplace({mu: m_, tau: 0, eta: kappa / 2, momentum.lam: 2, momentum.w0: 1.5})
    for step, expected in enumerate(w[1:], start=1):
        assert complex(sp.N(form.subs(t, step), 30)).real == pytest.approx(expected, rel=1e-12, abs=1e-15)
    heavy = momentum.stability_interval(False)
    assert heavy.inf == 0 and heavy.left_open and heavy.right_open and sp.simplify(heavy.sup - 2 * (1 + mu)) == 0
    assert sp.simplify(momentum.stability_interval(True).sup - 2 * (1 + mu) / (1 + 2 * mu)) == 0
    mu_star, _ = momentum.optimal_momentum()
    assert sp.simplify(mu_star - (1 - sp.sqrt(eta * momentum.lam)) ** 2) == 0
    for d in momentum.derivations():
        assert d.passed, [c.summary() for c in d.checks]
    lam_ = momentum.lam
    for make, wrong in (
        (momentum.sgd_momentum_trajectory, momentum.w0 * (1 - eta * lam_) ** t),  # plain GD's
        (momentum.sgd_momentum_regimes, 2 * (1 + mu) / (1 + 2 * mu)),  # Nesterov's edge for the heavy ball
        (momentum.sgd_momentum_regimes, sp.Integer(2)),  # plain GD's edge
        (momentum.sgd_momentum_optimal, 1 - sp.sqrt(eta * lam_)),  # the rate, not the momentum
        (momentum.sgd_momentum_optimal, (1 - eta * lam_) ** 2),
    ):
        d = make()
        assert not make(statement=sp.Eq(d.statement.lhs, wrong)).passed, wrong


# -- noise ----------------------------------------------------------------------------------------
def test_noise_expectations_and_a_wrong_one_fails():
    for d in noise.derivations():
        assert d.passed, d.check.summary()
    runs = noise._run("adagrad", ())
    wrong = noise._mc_check({s: runs[s]["sum"] for s in (10, 100, 400)}, lambda s: (s + 1) * 0.25, "wrong")
    assert not wrong.passed


# -- textbook vs torch ----------------------------------------------------------------------------
def test_dialect_thresholds_by_hand():
    # R ≈ √(x/(x+ε)) for ε ≪ √x: R = 0.99 ⇔ x = 0.9801 ε / 0.0199 = 49.25 ε.
    assert dialects.adagrad_threshold(1e-8) == pytest.approx(49.25e-8, rel=2e-2)
    assert dialects.rmsprop_threshold(1e-8, 0.99, float("inf")) == pytest.approx(49.25e-8 / 0.01, rel=2e-2)
    assert dialects.rate_ratio("adagrad", dialects.adagrad_threshold(1e-8), 1e-8, 1) == pytest.approx(0.99, rel=1e-9)


@pytest.mark.slow
def test_a_wrong_dialect_ratio_fails(monkeypatch):
    assert dialects.adagrad_difference().passed
    monkeypatch.setattr(
        dialects, "adagrad_ratio", lambda: (sp.sqrt(t) * sp.Abs(g) + epsilon) / sp.sqrt(t * g**2 + 2 * epsilon)
    )
    assert not dialects.adagrad_difference().passed


def _same_rates(simulated, derived) -> bool:
    """|simulated - derived| <= 1e-10 |derived| at every step: relative only (atol=0), since the
    rates fall to ~2e-5 at t = 1e6, where numpy's default atol = 1e-8 would be a 5e-4 relative slack."""
    return bool(np.allclose(simulated, derived, rtol=1e-10, atol=0))


def test_rate_series_for_a_figure():
    steps, simulated, derived = rates.rate_series("adagrad")
    assert steps[0] == 1 and steps[-1] == 10**6
    assert _same_rates(simulated, derived)


def test_rate_series_comparison_catches_a_relative_error_in_the_tail():
    # The derived rate off by 1e-4 relative wherever eta_t < 1e-4 (t > 4e4, 28 of the 110 steps):
    # numpy's default atol = 1e-8 accepted it; the relative comparison does not.
    steps, simulated, derived = rates.rate_series("adagrad")
    wrong = np.where(np.array(derived) < 1e-4, np.array(derived) * (1 + 1e-4), derived)
    assert np.allclose(simulated, wrong, rtol=1e-10)  # the old form: blind there
    assert not _same_rates(simulated, wrong)


# -- the 1/t rule's asymptotics; the groups the report shows --------------------------------------
def test_harmonic_numbers_by_euler_maclaurin():
    d = EM.harmonic_sum()
    assert d.passed and {c.method for c in d.checks} == {
        "euler-maclaurin-remainder-bound",
        "euler-maclaurin-constant-vs-mpmath-euler",
    }
    # by hand: H_10 = 7381/2520; the expansion without R_2 is within the bound there and at 10^6
    approx = sp.lambdify(
        sp.Symbol("n", integer=True, positive=True), EM.EulerMaclaurin(1 / EM.x).approximation, "mpmath"
    )
    with mpmath.workdps(30):
        assert abs(approx(10) - mpmath.mpf(7381) / 2520) < 1e-6
        # far out: ln n + gamma + 1/(2n), up to the constant's own bound |C - gamma| <= 2 zeta(4)/(2 pi)^4 |f'''(10)|, f = 1/x
        bound = 2 * mpmath.zeta(4) / (2 * mpmath.pi) ** 4 * 6 / mpmath.mpf(10) ** 4
        assert abs(approx(10**6) - (mpmath.log(10**6) + mpmath.euler + mpmath.mpf(1) / (2 * 10**6))) < bound


def test_a_wrong_harmonic_constant_fails():
    wrong = EM.EulerMaclaurin(1 / EM.x + sp.Rational(1, 10**4) / EM.x**2)  # not the harmonic numbers
    exact = {N: float(mpmath.harmonic(N)) for N in EM.CHECKPOINTS}
    assert not EM.check_expansion(wrong, exact, "wrong").passed


@pytest.mark.parametrize("dialect, sign", [("corrected", -1), ("textbook", 1)])
def test_inverse_time_moves_like_log_t(dialect, sign):
    d = rates.inverse_time_leading(dialect)
    assert d.passed and d.id == f"inverse_time.{dialect}.param_leading"
    # by hand, at eta = 0.1, g = 0.5, t = 10: w_10 - w_0 = sign * 0.05 * H_10, H_10 = 7381/2520
    rule = rules.inverse_time(dialect)
    w = 1.0
    for step in range(1, 11):
        w += sign * 0.1 / step * 0.5
    assert w - 1.0 == pytest.approx(sign * 0.05 * 7381 / 2520, rel=1e-14)
    leading = d.expr.replace(lambda e: isinstance(e, sp.Order), lambda e: sp.S.Zero)
    values = {"eta": 0.1, "g": 0.5, "t": 10**6, "w_0": 1.0}
    value = float(leading.xreplace({s: values[s.name] for s in leading.free_symbols}))
    assert value == pytest.approx(1.0 + sign * 0.05 * float(mpmath.harmonic(10**6)), rel=1e-12)
    assert rule.family == "inverse_time"


@pytest.mark.parametrize("dialect", ["corrected", "textbook"])
def test_gamma_product_asymptotics(dialect):
    d = quadratic.inverse_time_leading(dialect)
    assert d.passed and [c.method for c in d.checks] == ["loglog-slope", "two-term-ratio", "remainder-order"]
    # by hand (Stirling): Gamma(t + 1 - a)/Gamma(t + 1) t^a -> 1 + a(a - 1)/(2t); a = +-1/2 at t = 1e4
    a = 0.5 if dialect == "corrected" else -0.5
    with mpmath.workdps(30):
        exact = mpmath.gamma(10**4 + 1 - a) / mpmath.gamma(10**4 + 1) * mpmath.power(10**4, a)
    assert float((exact - 1) * 10**4) == pytest.approx(a * (a - 1) / 2, rel=1e-3)


def test_report_groups_name_existing_checked_results():
    from symopt.derive import analyses

    groups = {
        "inverse_time_asymptotics": [
            "sums.harmonic",
            "inverse_time.corrected.param_leading",
            "inverse_time.textbook.param_leading",
            "inverse_time.corrected.quadratic.param_leading",
            "inverse_time.textbook.quadratic.param_leading",
        ],
        "adagrad_regimes": [
            "adagrad.torch.lr_leading",
            "adagrad.torch.powerlaw_p1/4.lr_leading",
            "adagrad.torch.powerlaw_p1/2.lr_leading",
            "adagrad.torch.powerlaw_p3/4.lr_limit",
            "adagrad.torch.lr_decay_leading",
        ],
        "rmsprop_time_constants": [
            "rmsprop.time_constants.alpha_0.9",
            "rmsprop.time_constants.alpha_0.99",
            "rmsprop.torch.early_inflation",
        ],
        "quadratic_dynamics": [
            "adagrad.quadratic.converges",
            "rmsprop.quadratic.cycle_outside",
            "rmsprop.quadratic.cycle_recursion",
            "rmsprop.quadratic.cycle_eigenvalues",
            "rmsprop.quadratic.cycle_basin",
        ],
    }
    for name, ids in groups.items():
        found = getattr(analyses, name)()
        assert [d.id for d in found] == ids and all(d.passed for d in found), name
    with pytest.raises(KeyError, match="no analysis with id nosuch"):
        analyses.by_id("nosuch")


def test_derive_is_computed_once_per_process():
    first, second = derive("adagrad"), derive("adagrad")
    assert first == second and first is not second and all(a is b for a, b in zip(first, second))
    assert (
        derive("inverse_time", "quadratic", dialect="corrected")[-1].id
        == "inverse_time.corrected.quadratic.param_leading"
    )
