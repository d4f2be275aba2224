"""Verdicts on the source post's statements S1–S13 (:mod:`symopt.derive.post`), each backed by
Derivations (with their checks) and, for statements about PyTorch, by the installed torch
(signatures and defaults via ``inspect``, behaviour by running ``torch.optim``).

Verdicts: ``holds``, ``holds-under-conditions`` (the conditions are in the explanation),
``does-not-hold``, ``not-decidable-by-computation`` (history, taste).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

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

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    @property
    def evidence(self) -> list[dict[str, Any]]:
        """The derivations (id, statement, checks passed) and the numbers."""
        out = [{"derivation": d.id, "statement_latex": d.statement_latex, "kind": d.kind, "passed": d.passed,
                "checks": [c.summary() for c in d.checks]} for d in self.derivations]
        if self.numbers:
            out.append({"numbers": self.numbers})
        return out

    @property
    def supported(self) -> bool:
        """Whether every derivation behind the verdict passed its checks."""
        return all(d.passed for d in self.derivations)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement, "statement_latex": self.statement_latex, "verdict": self.verdict,
                "explanation": self.explanation, "supported": self.supported, "evidence": self.evidence}


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
    for family, dialect in (("adagrad", "torch"), ("adagrad", "textbook"), ("rmsprop", "torch"), ("rmsprop", "textbook"), ("inverse_time", "textbook"), ("inverse_time", "corrected")):
        for d in derive(family, dialect=dialect):
            found[d.id] = d
    return found


def claims() -> list[Claim]:
    """The verdicts on S1–S13 (computed once per process: every input is a checked Derivation or
    the installed torch)."""
    return list(_claims())


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
    return (
        Claim(
            "S1", statement("S1"),
            "holds-under-conditions",
            "On f = lambda w^2/2, w_t = (1 - eta*lambda)^t w_0: converges iff eta*lambda < 2 (slowly when eta*lambda << 1, fastest at 1), "
            "jumps around but still converges for 1 < eta*lambda < 2, never settles only at eta*lambda = 2 (a 2-cycle) and diverges above. "
            "'Too large never settles' holds only for eta*lambda >= 2.",
            r"|w_t| = |1-\eta\lambda|^t |w_0|",
            (d["sgd.quadratic.param"], d["sgd.quadratic.regimes"]),
        ),
        Claim(
            "S2", statement("S2"),
            "holds-under-conditions",
            "With noisy gradients a fixed rate leaves E[w^2] -> eta sigma^2/(lambda(2 - eta lambda)) > 0, so the rate must decay to converge. "
            "With exact gradients it need not: on a quadratic a fixed rate with eta*lambda < 2 converges geometrically, faster than any 1/t schedule (t^(-eta*lambda)). "
            "The gradient lambda*w itself shrinks as w converges, so 'flatter gradients' do not by themselves call for a smaller rate.",
            r"\lim_{t\to\infty} E[w_t^2] = \frac{\eta\sigma^2}{\lambda(2-\eta\lambda)}",
            (d["sgd.noise.stationary_variance"], d["sgd.quadratic.param"], d["inverse_time.corrected.quadratic.param"]),
        ),
        Claim(
            "S3", statement("S3"),
            "does-not-hold",
            "As written (plus sign) it is gradient ascent: under a constant gradient w_t = w_0 + eta g H_t grows like ln t, on a quadratic |w_t| ~ t^(eta*lambda)/Gamma(1 + eta*lambda) diverges. "
            "With a minus sign it converges on the quadratic, but only polynomially: w_t = w_0 Gamma(t+1-eta*lambda)/(Gamma(1-eta*lambda) Gamma(t+1)) ~ w_0 t^(-eta*lambda)/Gamma(1-eta*lambda).",
            r"w_t = w_0\,\frac{\Gamma(t+1+\eta\lambda)}{\Gamma(1+\eta\lambda)\,\Gamma(t+1)}",
            (d["inverse_time.textbook.param"], d["inverse_time.textbook.param_leading"], d["inverse_time.textbook.quadratic.param"],
             d["inverse_time.textbook.quadratic.param_leading"], d["inverse_time.corrected.quadratic.param"], d["inverse_time.corrected.quadratic.param_leading"]),
        ),
        Claim(
            "S4", statement("S4"),
            "holds",
            "The 1/t rule's effective rate is eta/t, free of g, w and lambda (derived from the model); AdaGrad's eta/(sqrt(G_t) + eps) depends on the gradients seen. "
            "That a rate *should* depend on them is a design preference, not a computation.",
            r"\eta_t = \eta / t",
            (d["inverse_time.corrected.lr"], d["adagrad.torch.lr"]),
        ),
        Claim(
            "S5", statement("S5"),
            "holds-under-conditions",
            f"It is AdaGrad with eps inside the root (TensorFlow/optax's convention); torch puts eps outside (sqrt(G_t) + eps) with default eps = {adagrad_defaults['eps']}, not 1e-8. "
            "The two rates differ by more than 1% only while t g^2 < ~49 eps. G_t is the sum of squared gradients, not a value of the weights.",
            r"\frac{\eta^{\mathrm{post}}_t}{\eta^{\mathrm{torch}}_t} = \frac{\sqrt{t}|g| + \epsilon}{\sqrt{t g^2 + \epsilon}}",
            (d["dialects.adagrad"], d["adagrad.textbook.lr"], d["adagrad.torch.lr"]),
            {"torch.optim.Adagrad eps default": adagrad_defaults["eps"]},
        ),
        Claim(
            "S6", statement("S6"),
            "holds-under-conditions",
            "eta_t never increases. It tends to 0 iff sum g_k^2 diverges: like t^(-1/2) under a constant gradient, t^(-(1/2 - p)) for g_t ~ t^-p with p < 1/2, (ln t)^(-1/2) at p = 1/2; "
            "for p > 1/2 it tends to a positive constant, and on a quadratic G_t converges, so eta_t does too. 'Can no longer improve' does not hold: "
            "under a constant gradient the total movement grows like 2 eta sqrt(t) (Euler-Maclaurin), and on a quadratic AdaGrad converges for every eta > 0.",
            r"\eta_t \sim \frac{\eta}{|g|\sqrt{t}}",
            (d["adagrad.torch.lr_leading"], d["adagrad.torch.powerlaw_p1/4.lr_leading"], d["adagrad.torch.powerlaw_p1/2.lr_leading"],
             d["adagrad.torch.powerlaw_p3/4.lr_limit"], d["sums.shifted_sqrt"], d["adagrad.quadratic.converges"], d["adagrad.noise.expected_sum"]),
        ),
        Claim(
            "S7", statement("S7"),
            "holds-under-conditions",
            f"One call: torch.optim.Adagrad(params) runs with every default (lr = {adagrad_defaults['lr']}, eps = {adagrad_defaults['eps']}); first steps from w = 1, g = 0.5: {', '.join(f'{x:.6f}' for x in adagrad_steps)}. "
            "But lr still sets the scale of every step (the first step is about lr*sign(g) whatever |g| is) and the speed: on the quadratic lambda = 2, |w| <= 1e-8 is reached after "
            + ", ".join(f"~{v} steps for lr = {k:g}" for k, v in adagrad_rates.items()) + ".",
            r"w_1 - w_0 \approx -\eta\,\mathrm{sign}(g)",
            (d["adagrad.quadratic.converges"], d["adagrad.torch.lr"]),
            {"torch.optim.Adagrad defaults": {k: v for k, v in adagrad_defaults.items()}, "first steps (w0=1, g=0.5)": adagrad_steps},
        ),
        Claim(
            "S8", statement("S8"),
            "not-decidable-by-computation",
            "A historical statement. It agrees with the primary source usually cited (Tieleman & Hinton 2012, Coursera lecture 6e), but no computation can confirm it.",
        ),
        Claim(
            "S9", statement("S9"),
            "holds-under-conditions",
            "Eps inside the recursion accumulates: sigma_t^2 = (1 - alpha^t)(g^2 + eps/(1 - alpha)) -> g^2 + eps/(1 - alpha) under a constant gradient, 100 eps for alpha = 0.99. "
            f"It matches torch's rule (eps outside the root, v_0 = 0) within 1% only while g^2 > ~{rms_ratio_threshold:.2g} (alpha = 0.99, eps = 1e-8).",
            r"\sigma_t^2 = (1-\alpha^t)\left(g^2 + \frac{\epsilon}{1-\alpha}\right)",
            (d["rmsprop.textbook.square_avg"], d["rmsprop.textbook.lr_limit"], d["dialects.rmsprop"]),
        ),
        Claim(
            "S10", statement("S10"),
            "does-not-hold",
            "v_t weights the gradient k steps back by (1 - alpha) alpha^k, the same at every t: the newest gradient always weighs the most, older ones decay geometrically. "
            "alpha = 0.9 is a short memory: window 1/(1 - alpha) = 10 steps, half-life ln 2/-ln alpha = 6.58 steps. Only in aggregate do the older gradients hold 90% of the weight. "
            "(0.9 is Hinton's suggestion; torch's default is 0.99.)",
            r"v_t = (1-\alpha)\sum_{k\ge 0}\alpha^k g_{t-k}^2",
            (d["rmsprop.time_constants.alpha_0.9"],),
            {"torch.optim.RMSprop alpha default": rmsprop_defaults["alpha"]},
        ),
        Claim(
            "S11", statement("S11"),
            "holds",
            "The weights (1 - alpha) alpha^k sum to 1 - alpha^t <= 1, so v_t <= max g_k^2: under a constant gradient sigma_t -> |g| and eta_t -> eta/(|g| + eps) > 0, while AdaGrad's sigma_t = |g| sqrt(t) grows without bound. "
            "With v_0 = 0 the early sigma is too small instead: the first step is eta/sqrt(1 - alpha) (10 eta for alpha = 0.99).",
            r"\lim_{t\to\infty}\eta_t = \frac{\eta}{|g|+\epsilon}",
            (d["rmsprop.torch.square_avg"], d["rmsprop.torch.lr_limit"], d["adagrad.torch.lr_leading"], d["rmsprop.torch.early_inflation"]),
        ),
        Claim(
            "S12", statement("S12"),
            "does-not-hold",
            "The resemblance is only formal: both are first-order linear recurrences, but RMSProp averages g^2, which has no direction, so it neither accelerates nor damps motion along g. "
            "The mechanism is wrong, and the comparison reverses on the simplest surface: on a quadratic AdaGrad converges for every eta, "
            "while RMSProp with a constant eta settles into a 2-cycle of amplitude eta/2 - eps/lambda. Whether RMSProp wins on complicated surfaces is empirical, not derived here.",
            r"A = \frac{\eta}{2} - \frac{\epsilon}{\lambda}",
            (d["rmsprop.quadratic.cycle_outside"], d["adagrad.quadratic.converges"]),
        ),
        Claim(
            "S13", statement("S13"),
            "holds",
            f"inspect.signature(torch.optim.RMSprop): alpha = {rmsprop_defaults['alpha']}. With 0.99 the window is 100 steps and the half-life 69 steps; the newest gradient weighs 1%. "
            f"torch's first steps from w = 1, g = 0.5: {', '.join(f'{x:.6f}' for x in rms_steps)} (a first step of 10 lr, from v_0 = 0).",
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
