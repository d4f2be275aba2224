"""Verdicts on the source post's statements S1–S13 (:mod:`symopt.derive.post`), each backed by
Derivations (with their checks) and, for statements about PyTorch, by the installed torch
(signatures and defaults via ``inspect``, behaviour by running ``torch.optim``).

Verdicts: ``holds``, ``holds-under-conditions`` (the conditions are in the explanation),
``does-not-hold``, ``not-decidable-by-computation`` (history, taste).
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .._latex import breakable_id, escape
from ._result import Derivation
from .post import statement

VERDICTS = ("holds", "holds-under-conditions", "does-not-hold", "not-decidable-by-computation")


@dataclass(frozen=True)
class Claim:
    """One statement of the post with its verdict, a short explanation and the evidence."""

    id: str
    statement: str
    verdict: str
    explanation: str
    statement_latex: str = ""
    derivations: tuple[Derivation, ...] = ()
    numbers: dict[str, Any] = field(default_factory=dict)
    #: ``explanation`` for the report: its formulas in LaTeX math (``$\eta\lambda < 2$``), its
    #: words LaTeX-safe (escaped with :func:`symopt._latex.escape`), ready to typeset.
    explanation_latex: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    @property
    def evidence(self) -> list[dict[str, Any]]:
        """The derivations (id, statement, checks passed) and the numbers."""
        out = [
            {
                "derivation": d.id,
                "statement_latex": d.statement_latex,
                "kind": d.kind,
                "passed": d.passed,
                "checks": [c.summary() for c in d.checks],
            }
            for d in self.derivations
        ]
        if self.numbers:
            out.append({"numbers": self.numbers})
        return out

    @property
    def supported(self) -> bool:
        """Whether every derivation behind the verdict passed its checks."""
        return all(d.passed for d in self.derivations)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "statement_latex": self.statement_latex,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "explanation_latex": self.explanation_latex,
            "supported": self.supported,
            "evidence": self.evidence,
        }


# -- PyTorch, as installed ------------------------------------------------------------------------
def torch_defaults(name: str) -> dict[str, Any]:
    """The keyword defaults of ``torch.optim.<name>``, read with ``inspect.signature``."""
    import torch

    sig = inspect.signature(getattr(torch.optim, name))
    return {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}


def torch_first_steps(name: str, grad: float = 0.5, steps: int = 3, **kwargs: Any) -> list[float]:
    """Parameter values after each of the first ``steps`` steps of ``torch.optim.<name>`` from w = 1
    under a constant gradient (float64)."""
    import torch

    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([w], **kwargs)
    out = []
    for _ in range(steps):
        w.grad = torch.full_like(w, grad)
        opt.step()
        out.append(float(w.detach()))
    return out


# -- the claims -----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _derivations() -> dict[str, Derivation]:
    from .analyses import all_analyses
    from .closed_forms import derive

    found: dict[str, Derivation] = {d.id: d for d in all_analyses()}
    for family, dialect in (
        ("adagrad", "torch"),
        ("adagrad", "textbook"),
        ("rmsprop", "torch"),
        ("rmsprop", "textbook"),
        ("inverse_time", "textbook"),
        ("inverse_time", "corrected"),
    ):
        for d in derive(family, dialect=dialect):
            found[d.id] = d
    return found


def claims() -> list[Claim]:
    """The verdicts on S1–S13 (computed once per process: every input is a checked Derivation or
    the installed torch)."""
    return list(_claims())


# -- explanations, in plain text and in LaTeX from the same parts -----------------------------------
@dataclass(frozen=True)
class _Part:
    """A piece of an explanation: ``plain`` for the CLI and JSON, ``latex`` ready to typeset."""

    plain: str
    latex: str


def _m(plain: str, latex: str) -> _Part:
    """A formula: ``plain`` as the plain explanation writes it, ``latex`` in math mode."""
    return _Part(plain, f"${latex}$")


def _raw(plain: str, latex: str) -> _Part:
    """Words typeset differently from their plain form (``latex`` is LaTeX, not escaped)."""
    return _Part(plain, latex)


def _code(text: str) -> _Part:
    """A Python expression, in typewriter type (breakable after its dots)."""
    return _Part(text, breakable_id(text))


def _text(text: str) -> str:
    """Words, LaTeX-safe: ``escape`` (symopt._latex), an opening quote as a backquote."""
    return re.sub(r"(?<!\w)'", "`", escape(text))


def _explain(*parts: str | _Part) -> tuple[str, str]:
    """(plain explanation, LaTeX explanation) from the same parts: a ``str`` is words (escaped in
    the LaTeX), a :class:`_Part` a formula, code or emphasis."""
    plain = "".join(p if isinstance(p, str) else p.plain for p in parts)
    latex = "".join(_text(p) if isinstance(p, str) else p.latex for p in parts)
    return plain, latex


def _num(x: float, spec: str = "") -> str:
    r"""``format(x, spec)`` in LaTeX: ``1e-10`` as ``10^{-10}``, ``4.9e-05`` as ``4.9\times 10^{-5}``."""
    text = format(x, spec)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa in ("1", "1.0") else rf"{mantissa}\times {power}"


def _claim(
    id_: str,
    verdict: str,
    explanation: tuple[str | _Part, ...],
    statement_latex: str = "",
    derivations: tuple[Derivation, ...] = (),
    numbers: dict[str, Any] | None = None,
) -> Claim:
    """``Claim(id_, statement(id_), verdict, plain, statement_latex, derivations, numbers,
    explanation_latex=latex)``."""
    plain, latex = _explain(*explanation)
    return Claim(
        id_, statement(id_), verdict, plain, statement_latex, derivations, numbers or {}, explanation_latex=latex
    )


# Formulas that several explanations use.
_EPS = _m("eps", r"\epsilon")
_ETA = _m("eta", r"\eta")


def _steps(values: list[float]) -> str:
    return ", ".join(f"{x:.6f}" for x in values)


@lru_cache(maxsize=None)
def _claims() -> tuple[Claim, ...]:
    d = _derivations()
    adagrad_defaults, rmsprop_defaults = torch_defaults("Adagrad"), torch_defaults("RMSprop")
    adagrad_steps = torch_first_steps("Adagrad")
    rms_steps = torch_first_steps("RMSprop")
    from .dialects import rmsprop_threshold
    from .quadratic import adagrad_convergence_table

    adagrad_rates = {r[0]: r[1] for r in adagrad_convergence_table()}
    rms_ratio_threshold = rmsprop_threshold(1e-8, 0.99, float("inf"))
    speeds: list[str | _Part] = []
    for k, v in adagrad_rates.items():
        speeds += [", "] if speeds else []
        speeds += [_m(f"~{v}", rf"\approx {v}"), " steps for ", _m(f"lr = {k:g}", rf"\mathrm{{lr}} = {_num(k, 'g')}")]
    return (
        _claim(
            "S1",
            "holds-under-conditions",
            (
                "On ",
                _m("f = lambda w^2/2", r"f = \lambda w^2/2"),
                ", ",
                _m("w_t = (1 - eta*lambda)^t w_0", r"w_t = (1-\eta\lambda)^t w_0"),
                ": converges iff ",
                _m("eta*lambda < 2", r"\eta\lambda < 2"),
                " (slowly when ",
                _m("eta*lambda << 1", r"\eta\lambda \ll 1"),
                ", fastest at 1), jumps around but still converges for ",
                _m("1 < eta*lambda < 2", r"1 < \eta\lambda < 2"),
                ", never settles only at ",
                _m("eta*lambda = 2", r"\eta\lambda = 2"),
                " (a 2-cycle) and diverges above. 'Too large never settles' holds only for ",
                _m("eta*lambda >= 2", r"\eta\lambda \ge 2"),
                ".",
            ),
            r"|w_t| = |1-\eta\lambda|^t |w_0|",
            (d["sgd.quadratic.param"], d["sgd.quadratic.regimes"]),
        ),
        _claim(
            "S2",
            "holds-under-conditions",
            (
                "With noisy gradients a fixed rate leaves ",
                _m(
                    "E[w^2] -> eta sigma^2/(lambda(2 - eta lambda)) > 0",
                    r"E[w^2] \to \eta\sigma^2/(\lambda(2-\eta\lambda)) > 0",
                ),
                ", so the rate must decay to converge. "
                "With exact gradients it need not: on a quadratic a fixed rate with ",
                _m("eta*lambda < 2", r"\eta\lambda < 2"),
                " converges geometrically, faster than any ",
                _m("1/t", "1/t"),
                " schedule (",
                _m("t^(-eta*lambda)", r"t^{-\eta\lambda}"),
                "). The gradient ",
                _m("lambda*w", r"\lambda w"),
                " itself shrinks as ",
                _m("w", "w"),
                " converges, so 'flatter gradients' do not by themselves call for a smaller rate.",
            ),
            r"\lim_{t\to\infty} E[w_t^2] = \frac{\eta\sigma^2}{\lambda(2-\eta\lambda)}",
            (d["sgd.noise.stationary_variance"], d["sgd.quadratic.param"], d["inverse_time.corrected.quadratic.param"]),
        ),
        _claim(
            "S3",
            "does-not-hold",
            (
                "As written (plus sign) it is gradient ascent: under a constant gradient ",
                _m("w_t = w_0 + eta g H_t", r"w_t = w_0 + \eta g H_t"),
                " grows like ",
                _m("ln t", r"\ln t"),
                ", on a quadratic ",
                _m("|w_t| ~ t^(eta*lambda)/Gamma(1 + eta*lambda)", r"|w_t| \sim t^{\eta\lambda}/\Gamma(1+\eta\lambda)"),
                " diverges. With a minus sign it converges on the quadratic, but only polynomially: ",
                _m(
                    "w_t = w_0 Gamma(t+1-eta*lambda)/(Gamma(1-eta*lambda) Gamma(t+1)) ~ w_0 t^(-eta*lambda)/Gamma(1-eta*lambda)",
                    r"w_t = w_0\,\Gamma(t+1-\eta\lambda)/(\Gamma(1-\eta\lambda)\,\Gamma(t+1)) \sim w_0\,t^{-\eta\lambda}/\Gamma(1-\eta\lambda)",
                ),
                ".",
            ),
            r"w_t = w_0\,\frac{\Gamma(t+1+\eta\lambda)}{\Gamma(1+\eta\lambda)\,\Gamma(t+1)}",
            (
                d["inverse_time.textbook.param"],
                d["inverse_time.textbook.param_leading"],
                d["inverse_time.textbook.quadratic.param"],
                d["inverse_time.textbook.quadratic.param_leading"],
                d["inverse_time.corrected.quadratic.param"],
                d["inverse_time.corrected.quadratic.param_leading"],
            ),
        ),
        _claim(
            "S4",
            "holds",
            (
                "The ",
                _m("1/t", "1/t"),
                " rule's effective rate is ",
                _m("eta/t", r"\eta/t"),
                ", free of ",
                _m("g", "g"),
                ", ",
                _m("w", "w"),
                " and ",
                _m("lambda", r"\lambda"),
                " (derived from the model); AdaGrad's ",
                _m("eta/(sqrt(G_t) + eps)", r"\eta/(\sqrt{G_t}+\epsilon)"),
                " depends on the gradients seen. That a rate ",
                _raw("*should*", r"\emph{should}"),
                " depend on them is a design preference, not a computation.",
            ),
            r"\eta_t = \eta / t",
            (d["inverse_time.corrected.lr"], d["adagrad.torch.lr"]),
        ),
        _claim(
            "S5",
            "holds-under-conditions",
            (
                "It is AdaGrad with ",
                _EPS,
                " inside the root (TensorFlow/optax's convention); torch puts ",
                _EPS,
                " outside (",
                _m("sqrt(G_t) + eps", r"\sqrt{G_t}+\epsilon"),
                ") with default ",
                _m(f"eps = {adagrad_defaults['eps']}", rf"\epsilon = {_num(adagrad_defaults['eps'])}"),
                ", not ",
                _m("1e-8", "10^{-8}"),
                ". The two rates differ by more than 1% only while ",
                _m("t g^2 < ~49 eps", r"t g^2 \lesssim 49\,\epsilon"),
                ". ",
                _m("G_t", "G_t"),
                " is the sum of squared gradients, not a value of the weights.",
            ),
            r"\frac{\eta^{\mathrm{post}}_t}{\eta^{\mathrm{torch}}_t} = \frac{\sqrt{t}|g| + \epsilon}{\sqrt{t g^2 + \epsilon}}",
            (d["dialects.adagrad"], d["adagrad.textbook.lr"], d["adagrad.torch.lr"]),
            {"torch.optim.Adagrad eps default": adagrad_defaults["eps"]},
        ),
        _claim(
            "S6",
            "holds-under-conditions",
            (
                _m("eta_t", r"\eta_t"),
                " never increases. It tends to ",
                _m("0", "0"),
                " iff ",
                _m("sum g_k^2", r"\sum_k g_k^2"),
                " diverges: like ",
                _m("t^(-1/2)", "t^{-1/2}"),
                " under a constant gradient, ",
                _m("t^(-(1/2 - p))", "t^{-(1/2-p)}"),
                " for ",
                _m("g_t ~ t^-p", r"g_t \sim t^{-p}"),
                " with ",
                _m("p < 1/2", "p < 1/2"),
                ", ",
                _m("(ln t)^(-1/2)", r"(\ln t)^{-1/2}"),
                " at ",
                _m("p = 1/2", "p = 1/2"),
                "; for ",
                _m("p > 1/2", "p > 1/2"),
                " it tends to a positive constant, and on a quadratic ",
                _m("G_t", "G_t"),
                " converges, so ",
                _m("eta_t", r"\eta_t"),
                " does too. 'Can no longer improve' does not hold: "
                "under a constant gradient the total movement grows like ",
                _m("2 eta sqrt(t)", r"2\eta\sqrt{t}"),
                " (",
                _raw("Euler-Maclaurin", "Euler--Maclaurin"),
                "), and on a quadratic AdaGrad converges for every ",
                _m("eta > 0", r"\eta > 0"),
                ".",
            ),
            r"\eta_t \sim \frac{\eta}{|g|\sqrt{t}}",
            (
                d["adagrad.torch.lr_leading"],
                d["adagrad.torch.powerlaw_p1/4.lr_leading"],
                d["adagrad.torch.powerlaw_p1/2.lr_leading"],
                d["adagrad.torch.powerlaw_p3/4.lr_limit"],
                d["sums.shifted_sqrt"],
                d["adagrad.quadratic.converges"],
                d["adagrad.noise.expected_sum"],
            ),
        ),
        _claim(
            "S7",
            "holds-under-conditions",
            (
                "One call: ",
                _code("torch.optim.Adagrad(params)"),
                " runs with every default (",
                _m(f"lr = {adagrad_defaults['lr']}", rf"\mathrm{{lr}} = {_num(adagrad_defaults['lr'])}"),
                ", ",
                _m(f"eps = {adagrad_defaults['eps']}", rf"\epsilon = {_num(adagrad_defaults['eps'])}"),
                "); first steps from ",
                _m("w = 1", "w = 1"),
                ", ",
                _m("g = 0.5", "g = 0.5"),
                f": {_steps(adagrad_steps)}. But ",
                _m("lr", r"\mathrm{lr}"),
                " still sets the scale of every step (the first step is about ",
                _m("lr*sign(g)", r"\mathrm{lr}\cdot\operatorname{sign}(g)"),
                " whatever ",
                _m("|g|", "|g|"),
                " is) and the speed: on the quadratic ",
                _m("lambda = 2", r"\lambda = 2"),
                ", ",
                _m("|w| <= 1e-8", r"|w| \le 10^{-8}"),
                " is reached after ",
                *speeds,
                ".",
            ),
            r"w_1 - w_0 \approx -\eta\,\mathrm{sign}(g)",
            (d["adagrad.quadratic.converges"], d["adagrad.torch.lr"]),
            {
                "torch.optim.Adagrad defaults": {k: v for k, v in adagrad_defaults.items()},
                "first steps (w0=1, g=0.5)": adagrad_steps,
            },
        ),
        _claim(
            "S8",
            "not-decidable-by-computation",
            (
                "A historical statement. It agrees with the primary source usually cited (Tieleman & Hinton 2012, Coursera lecture 6e), "
                "but no computation can confirm it.",
            ),
        ),
        _claim(
            "S9",
            "holds-under-conditions",
            (
                _m("Eps", r"\epsilon"),
                " inside the recursion accumulates: ",
                _m(
                    "sigma_t^2 = (1 - alpha^t)(g^2 + eps/(1 - alpha)) -> g^2 + eps/(1 - alpha)",
                    r"\sigma_t^2 = (1-\alpha^t)(g^2 + \epsilon/(1-\alpha)) \to g^2 + \epsilon/(1-\alpha)",
                ),
                " under a constant gradient, ",
                _m("100 eps", r"100\,\epsilon"),
                " for ",
                _m("alpha = 0.99", r"\alpha = 0.99"),
                ". It matches torch's rule (",
                _EPS,
                " outside the root, ",
                _m("v_0 = 0", "v_0 = 0"),
                ") within 1% only while ",
                _m(f"g^2 > ~{rms_ratio_threshold:.2g}", rf"g^2 \gtrsim {_num(rms_ratio_threshold, '.2g')}"),
                " (",
                _m("alpha = 0.99", r"\alpha = 0.99"),
                ", ",
                _m("eps = 1e-8", r"\epsilon = 10^{-8}"),
                ").",
            ),
            r"\sigma_t^2 = (1-\alpha^t)\left(g^2 + \frac{\epsilon}{1-\alpha}\right)",
            (d["rmsprop.textbook.square_avg"], d["rmsprop.textbook.lr_limit"], d["dialects.rmsprop"]),
        ),
        _claim(
            "S10",
            "does-not-hold",
            (
                _m("v_t", "v_t"),
                " weights the gradient ",
                _m("k", "k"),
                " steps back by ",
                _m("(1 - alpha) alpha^k", r"(1-\alpha)\alpha^k"),
                ", the same at every ",
                _m("t", "t"),
                ": the newest gradient always weighs the most, older ones decay geometrically. ",
                _m("alpha = 0.9", r"\alpha = 0.9"),
                " is a short memory: window ",
                _m("1/(1 - alpha) = 10", r"1/(1-\alpha) = 10"),
                " steps, half-life ",
                _m("ln 2/-ln alpha = 6.58", r"\ln 2/(-\ln\alpha) = 6.58"),
                " steps. Only in aggregate do the older gradients hold 90% of the weight. "
                "(0.9 is Hinton's suggestion; torch's default is 0.99.)",
            ),
            r"v_t = (1-\alpha)\sum_{k\ge 0}\alpha^k g_{t-k}^2",
            (d["rmsprop.time_constants.alpha_0.9"],),
            {"torch.optim.RMSprop alpha default": rmsprop_defaults["alpha"]},
        ),
        _claim(
            "S11",
            "holds",
            (
                "The weights ",
                _m("(1 - alpha) alpha^k", r"(1-\alpha)\alpha^k"),
                " sum to ",
                _m("1 - alpha^t <= 1", r"1-\alpha^t \le 1"),
                ", so ",
                _m("v_t <= max g_k^2", r"v_t \le \max_k g_k^2"),
                ": under a constant gradient ",
                _m("sigma_t -> |g|", r"\sigma_t \to |g|"),
                " and ",
                _m("eta_t -> eta/(|g| + eps) > 0", r"\eta_t \to \eta/(|g|+\epsilon) > 0"),
                ", while AdaGrad's ",
                _m("sigma_t = |g| sqrt(t)", r"\sigma_t = |g|\sqrt{t}"),
                " grows without bound. With ",
                _m("v_0 = 0", "v_0 = 0"),
                " the early ",
                _m("sigma", r"\sigma"),
                " is too small instead: the first step is ",
                _m("eta/sqrt(1 - alpha)", r"\eta/\sqrt{1-\alpha}"),
                " (",
                _m("10 eta", r"10\,\eta"),
                " for ",
                _m("alpha = 0.99", r"\alpha = 0.99"),
                ").",
            ),
            r"\lim_{t\to\infty}\eta_t = \frac{\eta}{|g|+\epsilon}",
            (
                d["rmsprop.torch.square_avg"],
                d["rmsprop.torch.lr_limit"],
                d["adagrad.torch.lr_leading"],
                d["rmsprop.torch.early_inflation"],
            ),
        ),
        _claim(
            "S12",
            "does-not-hold",
            (
                "The resemblance is only formal: both are first-order linear recurrences, but RMSProp averages ",
                _m("g^2", "g^2"),
                ", which has no direction, so it neither accelerates nor damps motion along ",
                _m("g", "g"),
                ". "
                "The mechanism is wrong, and the comparison reverses on the simplest surface: on a quadratic AdaGrad converges for every ",
                _ETA,
                ", while RMSProp with a constant ",
                _ETA,
                " settles into a 2-cycle of amplitude ",
                _m("eta/2 - eps/lambda", r"\eta/2 - \epsilon/\lambda"),
                ". Whether RMSProp wins on complicated surfaces is empirical, not derived here.",
            ),
            r"A = \frac{\eta}{2} - \frac{\epsilon}{\lambda}",
            (d["rmsprop.quadratic.cycle_outside"], d["adagrad.quadratic.converges"]),
        ),
        _claim(
            "S13",
            "holds",
            (
                _code("inspect.signature(torch.optim.RMSprop)"),
                ": ",
                _m(f"alpha = {rmsprop_defaults['alpha']}", rf"\alpha = {_num(rmsprop_defaults['alpha'])}"),
                ". With 0.99 the window is 100 steps and the half-life 69 steps; the newest gradient weighs 1%. "
                "torch's first steps from ",
                _m("w = 1", "w = 1"),
                ", ",
                _m("g = 0.5", "g = 0.5"),
                f": {_steps(rms_steps)} (a first step of ",
                _m("10 lr", r"10\,\mathrm{lr}"),
                ", from ",
                _m("v_0 = 0", "v_0 = 0"),
                ").",
            ),
            r"\alpha = 0.99:\ \frac{1}{1-\alpha} = 100,\ \frac{\ln 2}{-\ln\alpha} \approx 68.97",
            (d["rmsprop.time_constants.alpha_0.99"], d["rmsprop.torch.early_inflation"]),
            {"torch.optim.RMSprop defaults": dict(rmsprop_defaults), "first steps (w0=1, g=0.5)": rms_steps},
        ),
    )


def json_safe(value: Any) -> Any:
    """Numbers and containers that json.dumps accepts (inf/nan as strings, other objects as str)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


__all__ = ["Claim", "VERDICTS", "claims", "json_safe", "torch_defaults", "torch_first_steps"]
