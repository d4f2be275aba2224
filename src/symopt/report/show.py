"""Display helpers for the notebooks in ``derivations/``: they show symopt's own objects (models,
Derivations, the report's figures, the verification summary) and compute nothing themselves.

>>> from symopt import rules
>>> from symopt.report import show
>>> show.model(rules.adagrad())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import sympy as sp
from IPython.display import Image, Math, display

from .. import rules
from ..derive import Derivation, analyses
from ..derive.gradients import PowerLawGradient, gradient_model
from . import figures as F
from . import sections as S

FIGURES = Path("reports/figures")
_results = S.Results()


def model(rule: rules.UpdateRule, **options: Any) -> None:
    """The rule's update (per element) and its recurrences, rendered from the model."""
    print(f"{rule.name}: {rule.description}")
    display(
        Math(
            r"\begin{aligned}"
            + r" \\ ".join(line.replace(r" \leftarrow ", r" &\leftarrow ", 1) for line in rule.latex())
            + r"\end{aligned}"
        )
    )
    display(
        Math(
            r"\begin{aligned}"
            + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in rule.equations_latex(**options))
            + r"\end{aligned}"
        )
    )


def derivations(results: Iterable[Derivation]) -> None:
    """Each Derivation: title, statement, and the checks that could have refuted it."""
    for d in results:
        print(f"{d.title}  [{d.id}]")
        display(Math(d.statement_latex))
        for c in d.checks:
            print("  check: " + c.summary())


def dialect_differences(family: str) -> None:
    """The exact one-step difference textbook − torch, quantity by quantity."""
    from ..verify.equations import compare_dialects

    for c in compare_dialects(family):
        print(f"{family}, {c.quantity}: textbook - torch =")
        display(Math(r"\Delta = " + ("0" if c.identical else sp.latex(c.difference))))


def _adagrad_models() -> dict[str, tuple[Derivation, Any]]:
    out = {"constant": (_results.one("adagrad", "torch", "lr"), gradient_model("constant"))}
    for p in S.POWERLAW_EXPONENTS:
        m = PowerLawGradient(exponent=p)
        out[f"$p = {sp.latex(p)}$"] = (_results.one("adagrad", "torch", "lr", m), m)
    return out


#: figure name -> builder(folder) -> FigureFile (the same figures as the report's)
def _rmsprop_ema_derivations() -> tuple[Derivation, Derivation, Derivation]:
    square_avg, lr, limit = (_results.one("rmsprop", "torch", s) for s in ("square_avg", "lr", "lr_limit"))
    return square_avg, lr, limit


def _quadratic_comparison(folder: Path) -> F.FigureFile:
    converges, cycle = analyses.quadratic_dynamics()[:2]
    return F.quadratic_comparison(folder, converges=converges, cycle=cycle)


BUILDERS: dict[str, Callable[[Path], F.FigureFile]] = {
    "fixed_rate_regimes": lambda folder: F.fixed_rate_regimes(
        folder, derived=_results.one("sgd", "torch", "param", "quadratic").expr
    ),
    "inverse_time": lambda folder: F.inverse_time(
        folder, {d: _results.one("inverse_time", d, "param") for d in ("textbook", "corrected")}
    ),
    "adagrad_lr": lambda folder: F.adagrad_lr(folder, _adagrad_models()),
    "rmsprop_ema": lambda folder: F.rmsprop_ema(folder, *_rmsprop_ema_derivations()),
    "quadratic_comparison": lambda folder: _quadratic_comparison(folder),
    "textbook_vs_torch": lambda folder: F.dialect_ratio(
        folder, {f: (_results.one(f, "textbook", "lr"), _results.one(f, "torch", "lr")) for f in ("adagrad", "rmsprop")}
    )[0],
}


def figure(name: str, folder: str | Path = FIGURES) -> Image:
    """Build the report's figure ``name`` (see :data:`BUILDERS`) and return it for display."""
    if name not in BUILDERS:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(BUILDERS)}")
    made = BUILDERS[name](Path(folder))
    print(made.caption.replace("\\texttt", "").replace("\\", ""))
    return Image(data=F.png_bytes(made), format="png")


def verification(path: str | Path = "reports/verify.json") -> None:
    """The verification summary of the report, as text: counts, max ULP per dtype and implementation,
    findings (from the latest ``symopt verify``)."""
    section = S.verification(Path(path))
    print(_plain(section.body))


def dialects(family: str) -> None:
    """Every framework's dialect of ``family``: its call, where it was checked, its update
    (``rule.latex()`` of the dialect's model)."""
    from ..rules import dialects as D

    for (fam, name), preset in D.table().items():
        if fam != family:
            continue
        print(f"{family}[{name}]: {preset.calls[0].path} ({preset.verified})")
        display(
            Math(
                r"\begin{aligned}"
                + r" \\ ".join(
                    line.replace(r" \leftarrow ", r" &\leftarrow ", 1) for line in rules.get(family, name).latex()
                )
                + r"\end{aligned}"
            )
        )


def ports(family: str | None = None) -> None:
    """``symopt port`` at work: the porting examples (``family=None``), or the map of ports
    between the main frameworks' defaults for ``family`` (:mod:`symopt.port.examples`)."""
    from ..port import examples as E

    if family is None:
        for p in E.examples():
            print(f"{p.source}\n  -> {p.target_framework}: {p.verdict}: {p.target_call}")
            for c in p.conditions:
                print(f"     {c}")
        return
    for (a, b), p in E.pair_map(family).items():
        ratio = "" if p.verdict == "exact" else f" (worst-case rate ratio {p.max_lr_ratio:.4g})"
        print(f"{family}: {a} -> {b}: {p.verdict}{ratio}")


def papers() -> None:
    """``symopt papers``: each published result, its derivation's checks and its reproduction,
    (computed, theoretical) side by side."""
    from ..derive.literature import papers as build

    for p in build():
        print(f"{p.id}: {'reproduced' if p.passed else 'NOT reproduced'}\n  {p.citation}\n  claim: {p.claim}")
        print(f"  derived: {p.derivation.statement}")
        for c in p.checks:
            print(f"  - {c.summary()}")
        for k, v in p.computed.items():
            print(f"  {k}: computed {v:.6g}" + (f", theoretical {p.theoretical[k]:.6g}" if k in p.theoretical else ""))


def claims() -> None:
    """The post's statements and verdicts (symopt.derive.claims()), or why they are pending."""
    section = S.statements(_results)
    print(_plain(section.body))


def _plain(latex: str) -> str:
    """LaTeX table/paragraph markup of a section body as readable text."""
    import re

    text = latex
    for pattern, repl in [
        (r"\\begin\{[^}]*\}(\{[^}]*\})?", ""),
        (r"\\end\{[^}]*\}", ""),
        (r"\\(toprule|midrule|bottomrule|endhead|small)", ""),
        (r"\\paragraph\{([^}]*)\}", r"\n\1"),
        (r"\\(textbf|texttt|textit|emph)\{([^}]*)\}", r"\2"),
        (r"\\\\", "\n"),
        (r"\$<\$", "<"),
        (r"\$>\$", ">"),
        (r"\\([_%&#])", r"\1"),
        (r"\s*&\s*", " | "),
    ]:
        text = re.sub(pattern, repl, text)
    return re.sub(r"\n\s*\n+", "\n", text).strip()
