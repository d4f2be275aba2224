"""Which derivations beyond the closed forms belong to which rule and gradient model, for
``derive(rule, gradient="quadratic" | "noise" | "powerlaw")`` and ``symopt derive --gradient``.

Every entry is a function returning Derivations (each with its checks); nothing here computes."""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ._result import Derivation


def _table() -> dict[tuple[str, str, str], list[Callable[[], Derivation]]]:
    from . import noise, quadratic, rates

    return {
        ("sgd", "torch", "quadratic"): [quadratic.gd_trajectory, quadratic.gd_regimes],
        ("inverse_time", "corrected", "quadratic"): [lambda: quadratic.inverse_time_trajectory("corrected")],
        ("inverse_time", "textbook", "quadratic"): [lambda: quadratic.inverse_time_trajectory("textbook")],
        ("adagrad", "torch", "quadratic"): [quadratic.adagrad_converges],
        ("rmsprop", "torch", "quadratic"): [lambda: quadratic.rmsprop_cycle("outside")],
        ("rmsprop", "textbook", "quadratic"): [lambda: quadratic.rmsprop_cycle("recursion")],
        ("adagrad", "torch", "noise"): [noise.adagrad_expected_sum],
        ("rmsprop", "torch", "noise"): [noise.rmsprop_expected_average],
        ("sgd", "torch", "noise"): [noise.sgd_stationary_variance],
        ("adagrad", "torch", "powerlaw"): [lambda p=p: rates.adagrad_powerlaw(sp.Rational(p, 4)) for p in (1, 2, 3)],
    }


def analyses(family: str, dialect: str, gradient: str) -> list[Derivation]:
    """The derivations registered for (family, dialect, gradient); [] when there are none."""
    return [make() for make in _table().get((family, dialect, gradient), [])]


def all_analyses() -> list[Derivation]:
    """Everything beyond the per-rule closed forms: rates, time constants, dialect differences,
    sums (Euler–Maclaurin), the quadratic and the noise results."""
    from . import dialects, euler_maclaurin, noise, quadratic, rates

    return [d for m in (rates, dialects, euler_maclaurin, quadratic, noise) for d in m.derivations()]
