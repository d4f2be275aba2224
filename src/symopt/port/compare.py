"""Comparing two dialects' models: their one-step maps and unrolled trajectories (symbolically,
with a high-precision numeric check where SymPy cannot decide), and their effective learning
rates under a constant gradient (from :func:`symopt.derive.closed_forms.symbolic_results`).

Every dialect shares the model's symbols (η, α, ε, v, m, b, G, ...), so two dialects' step maps
are directly comparable expressions: a difference is a difference of conventions.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp

from ..rules import UpdateRule, g, t, w
from ..rules._primitives import eta

W0 = sp.Symbol("w_0", real=True)


def exact(value: Any) -> sp.Basic:
    """A hyperparameter value as an exact SymPy number (0.9 → 9/10), a flag as true/false."""
    if isinstance(value, bool):
        return sp.true if value else sp.false
    return sp.Rational(repr(float(value)))


def substitution(
    rule: UpdateRule, values: Mapping[str, Any], keep: Sequence[sp.Symbol] = (eta,)
) -> dict[sp.Symbol, sp.Expr]:
    """{symbol: exact number} for every numeric hyperparameter of ``rule`` except ``keep``."""
    full = {h.name: values.get(h.name, h.default) for h in rule.hyperparameters}
    return {h.symbol: exact(full[h.name]) for h in rule.hyperparameters if not h.is_flag and h.symbol not in keep}


def step_map(
    rule: UpdateRule, values: Mapping[str, Any], keep: Sequence[sp.Symbol] = (eta,)
) -> dict[sp.Symbol, sp.Expr]:
    """The one-step map with the numbers of ``values`` substituted (η kept symbolic)."""
    flags = {h.name: values.get(h.name, h.default) for h in rule.hyperparameters}
    numbers = substitution(rule, values, keep)
    return {s: e.xreplace(numbers) for s, e in rule.step_map(**flags).items()}


def initial_state(rule: UpdateRule, values: Mapping[str, Any]) -> dict[sp.Symbol, sp.Expr]:
    """The active states' values before the first step."""
    full = {h.symbol: values.get(h.name, h.default) for h in rule.hyperparameters}
    numbers = substitution(rule, values, keep=())
    return {s.symbol: s.initial.xreplace(numbers) for s in rule.active_states(full)}


def unroll(
    rule: UpdateRule,
    values: Mapping[str, Any],
    steps: int,
    changing_lr: bool = False,
    keep: Sequence[sp.Symbol] = (eta,),
) -> list[sp.Expr]:
    """w_1 … w_steps from w_0 under gradients g_1, g_2, …, as expressions (η and ``keep``
    symbolic; η_k per step with ``changing_lr``)."""
    step = step_map(rule, values, keep=tuple(keep))
    env: dict[sp.Symbol, sp.Expr] = {w: W0, **initial_state(rule, values)}
    out = []
    for k in range(1, steps + 1):
        local = {g: sp.Symbol(f"g_{k}", real=True), t: sp.Integer(k)}
        if changing_lr:
            local[eta] = sp.Symbol(f"eta_{k}", positive=True)
        new = {s: e.xreplace(local).xreplace(env) for s, e in step.items()}
        env.update(new)
        out.append(env[w])
    return out


def _is_zero_symbolic(expr: sp.Expr) -> bool:
    if expr == 0:
        return True
    try:
        return sp.expand(expr) == 0 or sp.simplify(expr) == 0
    except (TypeError, ValueError, RecursionError):
        return False


def _equal_numeric(a: sp.Expr, b: sp.Expr, seed: int = 0, points: int = 8, dps: int = 60) -> bool:
    """a = b at ``points`` random points to ``dps`` digits (|a − b| ≤ 1e-35 (|a| + |b|)), with
    gradients of every scale from 1e-4 to 10, η from 1e-4 to 1; NaN or inf is never equal."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    fa = sp.lambdify(symbols, a, modules="mpmath")
    fb = sp.lambdify(symbols, b, modules="mpmath")
    rnd = random.Random(seed)
    with mpmath.workdps(dps):
        for _ in range(points):
            args = []
            for s in symbols:
                if s.name.startswith("eta"):
                    args.append(mpmath.mpf(10) ** rnd.uniform(-4, 0))
                elif s.name.startswith("g_") or s == W0 or s == g:
                    args.append(rnd.choice((-1, 1)) * mpmath.mpf(10) ** rnd.uniform(-4, 1))
                elif s.name in ("m", "mhat"):  # a mean with m² < v (v is drawn from [0.05, 0.95])
                    args.append(mpmath.mpf(rnd.uniform(-0.2, 0.2)))
                else:
                    args.append(mpmath.mpf(rnd.uniform(0.05, 0.95)))
            try:
                x, y = mpmath.mpf(fa(*args)), mpmath.mpf(fb(*args))
            except (ZeroDivisionError, ValueError, TypeError):
                return False
            if not (mpmath.isfinite(x) and mpmath.isfinite(y)):
                return False
            if abs(x - y) > mpmath.mpf(10) ** -35 * (abs(x) + abs(y)):
                return False
    return True


def same(a: sp.Expr, b: sp.Expr) -> str | None:
    """``"symbolic"`` when a − b simplifies to 0, ``"numeric"`` when a = b at random points to
    60 digits, None when they differ."""
    d = a - b
    if d == 0 or sp.expand(d) == 0:
        return "symbolic"
    if not _equal_numeric(a, b):  # decisive, and much faster than simplify when they differ
        return None
    return "symbolic" if _is_zero_symbolic(d) else "numeric"


def same_step_maps(source: UpdateRule, vs: Mapping[str, Any], target: UpdateRule, vt: Mapping[str, Any]) -> str | None:
    """How the two one-step maps and initial states are shown equal (then every trajectory is, for
    any gradients and any learning-rate schedule), or None."""
    a, b = step_map(source, vs), step_map(target, vt)
    if set(a) != set(b):
        return None
    ia, ib = initial_state(source, vs), initial_state(target, vt)
    if set(ia) != set(ib) or any(same(ia[s], ib[s]) is None for s in ia):
        return None
    hows = [same(a[s], b[s]) for s in a]
    if any(h is None for h in hows):
        return None
    return "numeric" if "numeric" in hows else "symbolic"


def same_trajectories(
    source: UpdateRule,
    vs: Mapping[str, Any],
    target: UpdateRule,
    vt: Mapping[str, Any],
    steps: int = 3,
    changing_lr: bool = False,
) -> str | None:
    """Whether w_1 … w_steps agree for all gradients (and η, or η_k per step)."""
    a = unroll(source, vs, steps, changing_lr)
    b = unroll(target, vt, steps, changing_lr)
    hows = []
    for x, y in zip(a, b):
        how = same(x, y)
        if how is None:
            return None
        hows.append(how)
    return "numeric" if "numeric" in hows else "symbolic"


# -- effective learning rates ----------------------------------------------------------------------
def plain(rule: UpdateRule, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with momentum 0 and no weight decay (where offered): the configuration whose
    effective learning rate has a closed form under a constant gradient."""
    out = dict(values)
    for h in rule.hyperparameters:
        if h.symbol.name in ("mu", "lambda"):
            out[h.name] = 0.0
    return out


@lru_cache(maxsize=None)
def _lr_closed_form(rule: UpdateRule, items: tuple) -> sp.Expr | None:
    from ..derive.closed_forms import symbolic_results
    from ..derive.gradients import gradient_model

    guards = set().union(*(a.when.free_symbols for a in rule.body))
    deciding = {h.name for h in rule.hyperparameters if h.symbol in guards}
    options = tuple((k, v) for k, v in items if isinstance(v, bool) or k in deciding)
    lr = symbolic_results(rule, options, gradient_model("constant")).lr
    return None if lr is None or lr.has(sp.Sum) else lr


def effective_lr(rule: UpdateRule, values: Mapping[str, Any], keep: Sequence[sp.Symbol] = ()) -> sp.Expr | None:
    """η_t (the step divided by g) under a constant gradient g, as a function of g and t, the
    numbers of ``values`` substituted except ``keep``."""
    values = plain(rule, values)
    full = {h.name: values.get(h.name, h.default) for h in rule.hyperparameters}
    lr = _lr_closed_form(rule, tuple(sorted(full.items())))
    if lr is None:
        return None
    numbers = substitution(rule, full, keep=tuple(keep))
    initial = {s.symbol: s.initial for s in rule.states}
    return lr.xreplace(numbers).xreplace({k: v.xreplace(numbers) for k, v in initial.items()})


#: the domain of the worst-case ratio: |g| from 1e-6 to 1e2, t from 1 to 1e5
G_GRID = np.logspace(-6, 2, 41)
T_GRID = np.array([1, 2, 3, 5, 10, 20, 50, 100, 300, 1000, 10_000, 100_000], dtype=np.float64)


def ratio_function(ratio: sp.Expr, free: Sequence[sp.Symbol] = ()):
    """``ratio`` (of g, t and ``free``) as a NumPy function ``f(g, t, *free)``; a branch that is
    undefined (a guard's 0/0, SymPy's zoo) is NaN, which never counts as agreement."""
    return sp.lambdify([g, t, *free], ratio.xreplace({sp.zoo: sp.nan}), modules="numpy")


def worst_ratio(fn, *free_values: float) -> tuple[float, float, float]:
    """max over the domain of max(R, 1/R), and the (|g|, t) where it is reached."""
    G, T = np.meshgrid(G_GRID, T_GRID, indexing="ij")
    with np.errstate(all="ignore"):
        r = np.asarray(fn(G, T, *free_values), dtype=np.float64) * np.ones_like(G)
        dev = np.where(np.isfinite(r) & (r > 0), np.maximum(r, 1 / r), np.inf)
    i = np.unravel_index(int(np.argmax(dev)), dev.shape)
    return float(dev[i]), float(G[i]), float(T[i])


def region(fn, threshold: float = 0.01) -> dict[str, list[list[float]]]:
    """Per t of the grid, the intervals of |g| where |R − 1| > ``threshold``."""
    out = {}
    grid = np.logspace(-8, 3, 221)
    with np.errstate(all="ignore"):
        for tv in (1, 10, 100, 1_000_000):
            r = np.asarray(fn(grid, float(tv)), dtype=np.float64) * np.ones_like(grid)
            bad = ~(np.abs(r - 1) <= threshold)
            intervals: list[list[float]] = []
            start: float | None = None
            prev: float | None = None
            for x, b in zip(grid, bad):
                if b and start is None:
                    start = x
                if not b and start is not None and prev is not None:
                    intervals.append([float(start), float(prev)])
                    start = None
                prev = x
            if start is not None:
                intervals.append([float(start), float(grid[-1])])
            out[str(tv)] = intervals
    return out


def measured_lr_ratio(
    source: UpdateRule, vs: Mapping[str, Any], target: UpdateRule, vt: Mapping[str, Any], gradient: float, steps: int
) -> np.ndarray:
    """η_S,t / η_T,t measured by the interpreter under the constant gradient ``gradient``."""
    from ..interpret import Interpreter

    rates = []
    for rule, values in ((source, plain(source, vs)), (target, plain(target, vt))):
        run = Interpreter(rule, **values)
        x = np.zeros(1)
        state = run.init_state(x)
        out = []
        for _ in range(steps):
            before = x.copy()
            run.step(x, np.array([gradient]), state)
            out.append((before[0] - x[0]) / gradient)
        rates.append(np.array(out))
    with np.errstate(all="ignore"):
        return rates[0] / rates[1]
