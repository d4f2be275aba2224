"""The report's figures: matplotlib (Agg, object API: no pyplot state), vector PDF in
``reports/figures/`` (PNG too, for the notebooks), labelled axes.

Simulated curves come from the reference interpreter (:func:`.series.simulate`); derived curves
from :class:`~symopt.derive.Derivation` expressions (:func:`.series.evaluate`). Each function takes
what it plots as arguments and returns a :class:`FigureFile` whose caption says what was run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import sympy as sp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import rules
from ..derive import Derivation
from ..derive.gradients import QuadraticGradient
from .series import as_function, evaluate, log_steps, simulate, substitutions

FIGURES = Path("reports/figures")
_PDF_METADATA = {"CreationDate": None, "Creator": "symopt report"}


@dataclass(frozen=True)
class FigureFile:
    """A written figure: ``path`` (PDF), ``png`` (for notebooks), LaTeX ``caption`` and ``label``."""

    name: str
    path: Path
    png: Path
    caption: str

    @property
    def label(self) -> str:
        return f"fig:{self.name}"


def _new(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.2):
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig: Figure, folder: Path, name: str, caption: str) -> FigureFile:
    folder.mkdir(parents=True, exist_ok=True)
    pdf, png = folder / f"{name}.pdf", folder / f"{name}.png"
    fig.savefig(pdf, format="pdf", metadata=_PDF_METADATA)
    fig.savefig(png, format="png", dpi=110)
    return FigureFile(name, pdf, png, caption)


def png_bytes(figure: FigureFile) -> bytes:
    return figure.png.read_bytes()


# -- S1: the three regimes of a fixed rate -------------------------------------------------------
def fixed_rate_regimes(
    folder: Path,
    lr_times_curvature: Sequence[float] = (0.05, 0.5, 2.05),
    steps: int = 25,
    derived: sp.Expr | None = None,
) -> FigureFile:
    """SGD (torch dialect, the model) on f(w) = λw²/2 from w_0 = 1 at three rates; interpreter runs.
    ``derived``: the closed form w_t (in λ, η, w_0, t) when :mod:`symopt.derive` provides one."""
    lam = QuadraticGradient().curvature
    rule = rules.sgd()
    names = ("too small", "just right", "too large")
    fig, axes = _new(4, 1, width=11, height=2.9)
    w_grid = np.linspace(-2.0, 2.0, 200)
    for i, (k, name) in enumerate(zip(lr_times_curvature, names)):
        eta = k / lam
        run = simulate(rule, lambda step, w: lam * w, steps, [1.0], lr=eta)
        w_path = run["param"][:, 0]
        shown = np.clip(w_path, -2.0, 2.0)
        ax = axes[0][i]
        ax.plot(w_grid, lam * w_grid**2 / 2, color="0.6", lw=1)
        ax.plot(shown, lam * shown**2 / 2, "o-", ms=3, lw=0.8)
        ax.set_title(rf"{name}: $\eta\lambda = {k:g}$", fontsize=9)
        ax.set_xlabel("$w$")
        ax.set_ylabel(r"$f(w) = \lambda w^2/2$")
        ax.set_ylim(-0.1, 2.2)
        (marks,) = axes[0][3].semilogy(
            np.arange(steps + 1), np.abs(w_path), "o", ms=3, label=rf"$\eta\lambda={k:g}$ (interpreter)"
        )
        if derived is not None:
            subs = substitutions(rule, {"lr": eta}, **{"lambda": lam, "w_0": 1.0})
            axes[0][3].semilogy(
                np.arange(1, steps + 1),
                np.abs(evaluate(derived, range(1, steps + 1), subs)),
                "-",
                lw=0.8,
                color=marks.get_color(),
                label="derived" if i == len(lr_times_curvature) - 1 else None,
            )
    axes[0][3].set_xlabel("step $t$")
    axes[0][3].set_ylabel(r"$|w_t|$")
    axes[0][3].legend(fontsize=6)
    caption = (
        rf"SGD (the model \texttt{{{rule.name}}}) on $f(w) = \lambda w^2/2$ with $\lambda = {lam:g}$, $w_0 = 1$, "
        rf"{steps} steps at three fixed rates, run by the reference interpreter. Right: $|w_t|$ against $t$"
        + (
            " (markers: interpreter; lines: the derived closed form)."
            if derived is not None
            else " (interpreter only: no closed form on the quadratic is derived yet)."
        )
    )
    return _save(fig, folder, "fixed_rate_regimes", caption)


# -- S3: the 1/t rule -----------------------------------------------------------------------------
def inverse_time(folder: Path, trajectories: dict[str, Derivation], steps: int = 1000) -> FigureFile:
    """w_t under a constant gradient, derived (the ``param`` Derivation per dialect) against the
    interpreter; and both dialects on the quadratic (interpreter)."""
    g_value, w_start = 0.5, 1.0
    lam = QuadraticGradient().curvature
    fig, axes = _new(2, 1, width=9, height=3.0)
    t_all = np.arange(1, steps + 1)
    marks = log_steps(steps, 8)
    for dialect, d in trajectories.items():
        rule = rules.inverse_time(dialect)
        run = simulate(rule, lambda step, w: np.full_like(w, g_value), steps, [w_start])
        subs = substitutions(rule, None, g=g_value, w_0=w_start)
        axes[0][0].plot(t_all, evaluate(d.expr, t_all, subs), "-", lw=1, label=f"{dialect}: derived")
        axes[0][0].plot(marks, run["param"][marks, 0], "o", ms=3, label=f"{dialect}: interpreter")
        quad = simulate(rule, lambda step, w: lam * w, 60, [w_start])
        axes[0][1].semilogy(np.arange(61), np.abs(quad["param"][:, 0]), "o-", ms=2, lw=0.8, label=dialect)
    eta = rules.inverse_time().hyperparameter("lr").default
    axes[0][0].set_xscale("log")
    axes[0][0].set_xlabel("step $t$")
    axes[0][0].set_ylabel("$w_t$")
    axes[0][0].legend(fontsize=7)
    axes[0][1].set_xlabel("step $t$")
    axes[0][1].set_ylabel(r"$|w_t|$ on $f = \lambda w^2/2$")
    axes[0][1].legend(fontsize=7)
    caption = (
        rf"The 1/t rule at $\eta = {eta:g}$. Left: constant gradient $g = {g_value:g}$ from $w_0 = {w_start:g}$; lines are the "
        r"derived $w_t$ (\texttt{inverse\_time.*.param}), markers the interpreter. Right: the quadratic "
        rf"$\lambda = {lam:g}$ (interpreter): the post's plus sign climbs."
    )
    return _save(fig, folder, "inverse_time", caption)


# -- AdaGrad: the effective rate's decay ------------------------------------------------------------
def adagrad_lr(folder: Path, lr_by_model: dict[str, tuple[Derivation, Any]], steps: int = 10_000) -> FigureFile:
    """log-log η_t: derived (each model's ``lr`` Derivation) against the interpreter (reset run).
    ``lr_by_model``: label -> (Derivation, gradient model with ``sample(step)`` and ``values``)."""
    rule = rules.adagrad()
    fig, axes = _new(1, 1, width=6.4, height=3.6)
    ax = axes[0][0]
    t_line = log_steps(steps, 20)
    marks = log_steps(steps, 5)
    for label, (d, model) in lr_by_model.items():
        amplitude = float(model.values[0])
        run = simulate(rule, lambda step, w: model.sample(step)[:1], steps, [0.0], reset=True)
        subs = substitutions(rule, None, c=amplitude, g=amplitude)
        (line,) = ax.loglog(t_line, evaluate(d.expr, t_line, subs), "-", lw=1, label=f"{label}: derived")
        ax.loglog(marks, run["lr"][marks - 1, 0], "o", ms=3, color=line.get_color(), label=f"{label}: interpreter")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"effective learning rate $\eta_t$")
    ax.legend(fontsize=6, ncol=2)
    first = next(iter(lr_by_model.values()))[1]
    caption = (
        rf"AdaGrad (\texttt{{{rule.name}}}, torch defaults) effective learning rate $\eta_t = (w_{{t-1}} - w_t)/g_t$ on a log-log "
        rf"scale, amplitude $c = {float(first.values[0]):g}$, $t \le {steps}$. Lines: the derived closed forms "
        r"(\texttt{adagrad.torch.lr} under each gradient model); markers: the reference interpreter."
    )
    return _save(fig, folder, "adagrad_lr", caption)


# -- RMSProp: EMA and early steps -----------------------------------------------------------------
def rmsprop_ema(
    folder: Path,
    square_avg: Derivation,
    lr: Derivation,
    limit: Derivation,
    alphas: Sequence[float] = (0.9, 0.99),
    steps: int = 1000,
) -> FigureFile:
    """v_t/g² and η_t/η_∞ against t for each α: derived against the interpreter."""
    rule = rules.rmsprop()
    g_value = 0.5
    fig, axes = _new(2, 1, width=9, height=3.0)
    t_line = log_steps(steps, 20)
    marks = log_steps(steps, 6)
    for a in alphas:
        subs = substitutions(rule, {"alpha": a}, g=g_value)
        run = simulate(rule, lambda step, w: np.full_like(w, g_value), steps, [0.0], reset=True, alpha=a)
        eta_inf = evaluate(limit.expr, [1], subs)[0]
        (line,) = axes[0][0].semilogx(
            t_line, evaluate(square_avg.expr, t_line, subs) / g_value**2, "-", lw=1, label=rf"$\alpha={a:g}$ derived"
        )
        axes[0][0].semilogx(
            marks,
            run["state:square_avg"][marks - 1, 0] / g_value**2,
            "o",
            ms=3,
            color=line.get_color(),
            label=rf"$\alpha={a:g}$ interpreter",
        )
        axes[0][1].loglog(
            t_line,
            evaluate(lr.expr, t_line, subs) / eta_inf,
            "-",
            lw=1,
            color=line.get_color(),
            label=rf"$\alpha={a:g}$ derived",
        )
        axes[0][1].loglog(
            marks,
            run["lr"][marks - 1, 0] / eta_inf,
            "o",
            ms=3,
            color=line.get_color(),
            label=rf"$\alpha={a:g}$ interpreter",
        )
    axes[0][0].set_xlabel("step $t$")
    axes[0][0].set_ylabel(r"$v_t / g^2$")
    axes[0][0].legend(fontsize=6)
    axes[0][1].set_xlabel("step $t$")
    axes[0][1].set_ylabel(r"$\eta_t / \lim_{t\to\infty} \eta_t$")
    axes[0][1].legend(fontsize=6)
    caption = (
        rf"RMSProp (\texttt{{{rule.name}}}) under a constant gradient $g = {g_value:g}$: the square average relative to $g^2$ "
        r"(left) and the effective rate relative to its limit (right: the early-step inflation). Lines: the derived "
        r"\texttt{rmsprop.torch.square\_avg}, \texttt{.lr} and \texttt{.lr\_limit}; markers: the interpreter."
    )
    return _save(fig, folder, "rmsprop_ema", caption)


def quadratic_comparison(
    folder: Path,
    steps: int = 3000,
    lr: float = 0.01,
    cycle: Derivation | None = None,
    converges: Derivation | None = None,
) -> FigureFile:
    """|w_t| on f = λw²/2 for SGD, AdaGrad and RMSProp (α = 0.9, 0.99) at one rate: interpreter runs,
    with the derived RMSProp cycle amplitude (``cycle``: A = η/2 − ε/λ) drawn over them and AdaGrad's
    derived limit (``converges``: w_t → 0) named in the legend."""
    lam = QuadraticGradient().curvature
    runs: dict[str, tuple[rules.UpdateRule, dict[str, Any]]] = {
        "SGD": (rules.sgd(), {}),
        "AdaGrad" + (r" (derived: $w_t \to 0$)" if converges is not None else ""): (rules.adagrad(), {}),
        r"RMSProp $\alpha=0.99$": (rules.rmsprop(), {"alpha": 0.99}),
        r"RMSProp $\alpha=0.9$": (rules.rmsprop(), {"alpha": 0.9}),
    }
    fig, axes = _new(1, 1, width=6.4, height=3.4)
    ax = axes[0][0]
    for label, (rule, values) in runs.items():
        run = simulate(rule, lambda step, w: lam * w, steps, [1.0], lr=lr, **values)
        ax.semilogy(np.arange(steps + 1), np.abs(run["param"][:, 0]), lw=1, label=label)
    amplitude = None
    if cycle is not None:
        subs = substitutions(rules.rmsprop(), {"lr": lr}, **{"lambda": lam})
        amplitude = float(evaluate(cycle.expr, [1], subs)[0])
        ax.axhline(amplitude, color="k", ls="--", lw=0.8, label=rf"derived 2-cycle $A = {sp.latex(cycle.expr)}$")
    ax.set_ylim(1e-12, 3.0)  # RMSProp's transient dive towards 0 before the cycle takes over goes far below
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"$|w_t|$")
    ax.legend(fontsize=7)
    caption = (
        rf"$|w_t|$ on $f(w) = \lambda w^2/2$, $\lambda = {lam:g}$, $w_0 = 1$, $\eta = {lr:g}$, torch defaults otherwise, run by the "
        rf"reference interpreter ({steps} steps, $|w_t| \ge 10^{{-12}}$ shown)"
        + (
            rf"; dashed: the derived amplitude of RMSProp's 2-cycle (\texttt{{{cycle.id.replace('_', chr(92) + '_')}}}), "
            rf"$A = {amplitude:.6g}$ here, the same for both $\alpha$"
            if cycle is not None
            else ""
        )
        + (
            r"; AdaGrad converges for every $\eta$ (\texttt{adagrad.quadratic.converges})"
            if converges is not None
            else ""
        )
        + "."
    )
    return _save(fig, folder, "quadratic_comparison", caption)


# -- textbook vs torch ---------------------------------------------------------------------------
def dialect_ratio(
    folder: Path,
    pairs: dict[str, tuple[Derivation, Derivation]],
    steps: Sequence[int] = (1, 100, 10_000),
    threshold: float = 0.01,
) -> tuple[FigureFile, dict[str, dict[int, float]]]:
    """η_t(textbook)/η_t(torch) against |g| from the two derived ``lr`` expressions, each dialect at its
    own defaults. Returns the figure and, per family and t, the largest |g| on the grid where the
    ratio is off 1 by more than ``threshold`` (NaN when nowhere)."""
    grid = np.logspace(-14, 1, 301)
    fig, axes = _new(len(pairs), 1, width=9, height=3.0)
    region: dict[str, dict[int, float]] = {}
    for ax, (family, (book, torch_)) in zip(axes[0], pairs.items()):
        book_rule, torch_rule = rules.get(family, "textbook"), rules.get(family, "torch")
        region[family] = {}
        book_fn = as_function(book.expr, substitutions(book_rule), "t", "g")
        torch_fn = as_function(torch_.expr, substitutions(torch_rule), "t", "g")
        for step in steps:
            ratio = book_fn(float(step), grid) / torch_fn(float(step), grid)
            ax.semilogx(grid, ratio, lw=1, label=f"$t = {step}$")
            off = grid[np.abs(ratio - 1) > threshold]
            region[family][step] = float(off.max()) if off.size else float("nan")
        ax.axhline(1.0, color="0.6", lw=0.6)
        ax.set_xlabel(r"gradient magnitude $|g|$")
        ax.set_ylabel(r"$\eta_t^{\mathrm{textbook}} / \eta_t^{\mathrm{torch}}$")
        ax.set_title(family, fontsize=9)
        ax.legend(fontsize=7)
    caption = (
        r"Ratio of the post's (textbook) effective learning rate to torch's, each dialect at its own defaults, under a "
        r"constant gradient, evaluated from the two derived \texttt{*.lr} closed forms over "
        rf"$|g| \in [10^{{-14}}, 10]$ (grid of {grid.size} points)."
    )
    return _save(fig, folder, "textbook_vs_torch", caption), region
