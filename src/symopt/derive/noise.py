"""Results in expectation under i.i.d. gradient noise (E[g] = 0, E[g²] = σ²), each checked by a
seeded Monte Carlo run of the reference interpreter over many paths (one path per element).

* AdaGrad: E[G_t] = G_0 + t σ²; by Jensen (x ↦ 1/(√x + ε) is convex) E[η_t] ≥ η/(√(G_0 + tσ²) + ε),
  and √t η_t → η/σ almost surely (law of large numbers): the same t^{−1/2} decay as a constant |g| = σ.
* RMSProp: E[v_t] = (1 − α^t) σ² (v_0 = 0).
* SGD with a fixed rate on f = λw²/2 with noisy gradients λw + ξ: w_t = (1 − ηλ) w_{t−1} − η ξ_t, so
  E[w_t²] → η σ² / (λ (2 − ηλ)) > 0: a fixed rate never settles (statement S2's case for decay).

A Monte Carlo check passes when |mean − expectation| ≤ 4 standard errors (``max_rel_err`` is the
deviation in units of 4 standard errors; tolerance 1).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .. import rules
from ..interpret import Interpreter
from ..rules import t
from ..rules._primitives import G0, alpha, eta
from ._result import Assumption, Check, Derivation, restatable, worst_error
from .gradients import NoiseGradient, lam, sigma2

PATHS, STEPS = 4000, 400
E = sp.Function("E")


@lru_cache(maxsize=None)
def _run(
    family: str, items: tuple, steps: int = STEPS, curvature: float | None = None
) -> dict[int, dict[str, np.ndarray]]:
    """Per step, every state and w over ``PATHS`` paths (the interpreter on a vector of paths)."""
    model = NoiseGradient()
    noise = model.draws(PATHS, steps)
    run = Interpreter(rules.get(family), **dict(items))
    param = np.zeros(PATHS)
    state = run.init_state(param)
    out = {}
    for s in range(1, steps + 1):
        grad = noise[s - 1] + (curvature * param if curvature is not None else 0.0)
        before = param.copy()
        run.step(param, grad, state)
        out[s] = {
            "param": param.copy(),
            "lr": (before - param) / grad,
            **{k: np.array(v, dtype=float) for k, v in state.items() if k != "step"},
        }
        if curvature is None:
            param[...] = 0.0
    return out


def _mc_check(samples_by_step: dict[int, np.ndarray], expected, label: str) -> Check:
    """|mean − expected(t)| / (4 SE) at each step (NaN when either is not finite: it fails)."""
    errors = []
    for s, samples in samples_by_step.items():
        se = samples.std(ddof=1) / np.sqrt(len(samples))
        mean, e = float(samples.mean()), float(expected(s))
        if not (np.isfinite(mean) and np.isfinite(e) and np.isfinite(se)):
            errors.append(float("nan"))
        else:
            errors.append(abs(mean - e) / (4 * se) if se > 0 else float(mean != e))
    worst = worst_error(errors)
    steps = sorted(samples_by_step)
    return Check(
        "monte-carlo",
        (steps[0], steps[-1]),
        float(worst),
        1.0,
        detail=f"{label}; {PATHS} paths, seed {NoiseGradient().seed}; |mean - E| / (4 SE)",
    )


def _stated(statement: sp.Eq, numbers: dict):
    """The statement's right-hand side as a float function of t (see :func:`.checks.statement_function`)."""
    from .checks import statement_function

    f = statement_function(statement, t, numbers)
    return lambda s: float(f(s))


@restatable
def adagrad_expected_sum(*, statement: sp.Eq | None = None) -> Derivation:
    s2 = NoiseGradient().sigma ** 2
    g0 = 0.1  # G_0 != 0: a statement that drops or flips it must fail
    runs = _run("adagrad", (("initial_accumulator_value", g0),))
    statement = statement if statement is not None else sp.Eq(E(sp.Symbol("G_t")), G0 + t * sigma2)
    check = _mc_check(
        {s: runs[s]["sum"] for s in (1, 10, 100, 400)},
        _stated(statement, {G0: g0, sigma2: s2}),
        "the statement's E[G_t], G_0 = 0.1",
    )
    # Jensen and the LLN, on the same runs.
    bound = lambda s: 0.01 / (np.sqrt(g0 + s * s2) + 1e-10)  # noqa: E731
    jensen = min(runs[s]["lr"].mean() / bound(s) for s in (10, 100, 400))
    jensen_check = Check(
        "monte-carlo-jensen",
        (10, 400),
        float(not jensen >= 1),
        0.0,
        detail=f"min E[eta_t] / (eta / sqrt(t sigma^2)) = {jensen:.4f} (>= 1 by Jensen)",
    )
    return Derivation(
        id="adagrad.noise.expected_sum",
        title="AdaGrad under i.i.d. noise: E[G_t] and E[eta_t]",
        statement=statement,
        assumptions=(Assumption("g_t i.i.d., E[g_t^2] = sigma^2"),),
        steps=(
            r"E[G_t] = G_0 + \sum_{k\le t} E[g_k^2] = G_0 + t\sigma^2",
            r"x \mapsto \eta/(\sqrt{x}+\epsilon) \text{ convex} \Rightarrow E[\eta_t] \ge \eta / (\sqrt{G_0 + t\sigma^2} + \epsilon)",
            r"G_t / t \to \sigma^2 \text{ a.s.} \Rightarrow \sqrt{t}\,\eta_t \to \eta/\sigma",
        ),
        check=check,
        precision_checks=(jensen_check,),
        explanation="Under noise AdaGrad's accumulator grows like t*sigma^2, so its rate decays like eta/(sigma sqrt(t)), as for a constant gradient of size sigma.",
    )


@restatable
def rmsprop_expected_average(*, statement: sp.Eq | None = None) -> Derivation:
    s2 = NoiseGradient().sigma ** 2
    runs = _run("rmsprop", (("alpha", 0.9),))
    statement = statement if statement is not None else sp.Eq(E(sp.Symbol("v_t")), (1 - alpha**t) * sigma2)
    check = _mc_check(
        {s: runs[s]["square_avg"] for s in (1, 5, 20, 400)},
        _stated(statement, {alpha: 0.9, sigma2: s2}),
        "the statement's E[v_t], alpha = 0.9",
    )
    return Derivation(
        id="rmsprop.noise.expected_average",
        title="RMSProp under i.i.d. noise: E[v_t]",
        statement=statement,
        assumptions=(Assumption("g_t i.i.d., E[g_t^2] = sigma^2, v_0 = 0"),),
        steps=(r"E[v_t] = \alpha E[v_{t-1}] + (1-\alpha)\sigma^2 \Rightarrow E[v_t] = (1-\alpha^t)\sigma^2",),
        check=check,
        explanation="RMSProp's average tracks sigma^2 and stays bounded: its rate does not decay under noise.",
    )


@restatable
def sgd_stationary_variance(rate: float = 0.1, curvature: float = 2.0, *, statement: sp.Eq | None = None) -> Derivation:
    s2 = NoiseGradient().sigma ** 2
    runs = _run("sgd", (("lr", rate),), steps=STEPS, curvature=curvature)
    statement = (
        statement
        if statement is not None
        else sp.Eq(sp.Limit(E(sp.Symbol("w_t") ** 2), t, sp.oo), eta * sigma2 / (lam * (2 - eta * lam)))
    )
    check = _mc_check(
        {s: runs[s]["param"] ** 2 for s in (200, 300, 400)},
        _stated(statement, {eta: rate, sigma2: s2, lam: curvature}),
        f"the statement's limit of E[w_t^2], eta = {rate}, lambda = {curvature}",
    )
    return Derivation(
        id="sgd.noise.stationary_variance",
        title="SGD with a fixed rate on a noisy quadratic: a floor, not convergence",
        statement=statement,
        assumptions=(
            Assumption("g_t = lambda w_{t-1} + xi_t, xi i.i.d., E xi = 0, E xi^2 = sigma^2, 0 < eta lambda < 2"),
        ),
        steps=(
            r"w_t = (1-\eta\lambda) w_{t-1} - \eta\,\xi_t",
            r"E[w_t^2] = (1-\eta\lambda)^2 E[w_{t-1}^2] + \eta^2\sigma^2 \to \frac{\eta^2\sigma^2}{1 - (1-\eta\lambda)^2} = \frac{\eta\sigma^2}{\lambda(2-\eta\lambda)}",
        ),
        check=check,
        explanation="With noisy gradients a fixed rate leaves E[w^2] at eta*sigma^2/(lambda(2 - eta*lambda)) > 0; only a decaying rate drives it to 0.",
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (adagrad_expected_sum(), rmsprop_expected_average(), sgd_stationary_variance())


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())
