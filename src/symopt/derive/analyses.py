"""Which derivations beyond the closed forms belong to which rule and gradient model, for
``derive(rule, gradient="quadratic" | "noise" | "powerlaw")`` and ``symopt derive --gradient``.

Every entry is a function returning Derivations (each with its checks); nothing here computes."""

from __future__ import annotations

from functools import partial
from typing import Callable

import sympy as sp

from ._result import Derivation


def _table() -> dict[tuple[str, str, str], list[Callable[[], Derivation]]]:
    from . import momentum, noise, quadratic, rates

    return {
        ("sgd", "torch", "quadratic"): [
            quadratic.gd_trajectory,
            quadratic.gd_regimes,
            momentum.sgd_momentum_trajectory,
            momentum.sgd_momentum_regimes,
            momentum.sgd_momentum_optimal,
        ],
        ("inverse_time", "corrected", "quadratic"): [
            lambda: quadratic.inverse_time_trajectory("corrected"),
            lambda: quadratic.inverse_time_leading("corrected"),
        ],
        ("inverse_time", "textbook", "quadratic"): [
            lambda: quadratic.inverse_time_trajectory("textbook"),
            lambda: quadratic.inverse_time_leading("textbook"),
        ],
        ("adagrad", "torch", "quadratic"): [quadratic.adagrad_converges],
        ("rmsprop", "torch", "quadratic"): [
            lambda: quadratic.rmsprop_cycle("outside"),
            quadratic.rmsprop_cycle_eigenvalues,
            quadratic.rmsprop_cycle_basin,
        ],
        ("rmsprop", "textbook", "quadratic"): [lambda: quadratic.rmsprop_cycle("recursion")],
        ("adagrad", "torch", "noise"): [noise.adagrad_expected_sum],
        ("rmsprop", "torch", "noise"): [noise.rmsprop_expected_average],
        ("sgd", "torch", "noise"): [noise.sgd_stationary_variance],
        ("adagrad", "torch", "powerlaw"): [partial(rates.adagrad_powerlaw, sp.Rational(p, 4)) for p in (1, 2, 3)],
        ("rmsprop", "torch", "powerlaw"): [
            *(partial(rates.rmsprop_powerlaw, sp.Rational(p, 4)) for p in (1, 4)),
            rates.rmsprop_powerlaw_limit,
        ],
    }


def analyses(family: str, dialect: str, gradient: str) -> list[Derivation]:
    """The derivations registered for (family, dialect, gradient); [] when there are none."""
    return [make() for make in _table().get((family, dialect, gradient), [])]


def all_analyses() -> list[Derivation]:
    """Everything beyond the per-rule closed forms: rates, time constants, dialect differences,
    sums (Euler–Maclaurin), the quadratic and the noise results (each module's results are
    computed once per process)."""
    from . import dialects, euler_maclaurin, momentum, noise, quadratic, rates

    return [d for m in (rates, dialects, euler_maclaurin, quadratic, momentum, noise) for d in m.derivations()]


def by_id(*ids: str) -> list[Derivation]:
    """The analyses with these ids, in this order (KeyError naming any that does not exist)."""
    found = {d.id: d for d in all_analyses()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise KeyError(f"no analysis with id {', '.join(missing)}; known: {', '.join(sorted(found))}")
    return [found[i] for i in ids]


# -- the groups the report, the notebooks and the claims show together ---------------------------
def inverse_time_asymptotics() -> list[Derivation]:
    """The 1/t rule's asymptotics: H_t = ln t + γ + 1/(2t) + … (Euler–Maclaurin), the movement
    under a constant gradient (∝ ln t), and the Gamma product on the quadratic (∝ t^{∓ηλ})."""
    return by_id(
        "sums.harmonic",
        "inverse_time.corrected.param_leading",
        "inverse_time.textbook.param_leading",
        "inverse_time.corrected.quadratic.param_leading",
        "inverse_time.textbook.quadratic.param_leading",
    )


def adagrad_regimes() -> list[Derivation]:
    """AdaGrad's effective rate: the leading term under a constant gradient (t^{−1/2}), under
    g_t = c t^{−p} for p = 1/4 (t^{−1/4}), 1/2 ((ln t)^{−1/2}), 3/4 (a positive limit), and with
    torch's lr_decay (t^{−3/2})."""
    return by_id(
        "adagrad.torch.lr_leading",
        "adagrad.torch.powerlaw_p1/4.lr_leading",
        "adagrad.torch.powerlaw_p1/2.lr_leading",
        "adagrad.torch.powerlaw_p3/4.lr_limit",
        "adagrad.torch.lr_decay_leading",
    )


def rmsprop_time_constants() -> list[Derivation]:
    """The time constants of α = 0.9 and 0.99 (weights, window, half-life) and the early inflation
    of RMSProp's steps from v_0 = 0."""
    return by_id(
        "rmsprop.time_constants.alpha_0.9", "rmsprop.time_constants.alpha_0.99", "rmsprop.torch.early_inflation"
    )


def quadratic_dynamics() -> list[Derivation]:
    """The adaptive rules on the quadratic: AdaGrad converges for every η; RMSProp with a constant η
    settles on a 2-cycle (ε outside the root: torch; ε in the recursion: the post), which attracts
    at the rate of its two-step Jacobian's eigenvalues and from every start whose decay phase stays
    in the normal range."""
    return by_id(
        "adagrad.quadratic.converges",
        "rmsprop.quadratic.cycle_outside",
        "rmsprop.quadratic.cycle_recursion",
        "rmsprop.quadratic.cycle_eigenvalues",
        "rmsprop.quadratic.cycle_basin",
    )
