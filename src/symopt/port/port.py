"""``port``: a user's optimizer call and its equivalent in another framework, from the models.

1. The call is parsed (:mod:`symopt.port.calls`) into the source dialect's rule and values.
2. Candidate target configurations come from the models, not from a table: a target
   hyperparameter whose symbol the source has takes the source's value (the dialects share the
   model's symbols: η, α, ε, μ, λ), or the value the source's framework fixes it at (torch7's
   AdaGrad ε = 1e-10); a flag takes either value; a hyperparameter that sets an
   initial state (optax's ``initial_scale``, torch's ``initial_accumulator_value``) takes the
   value that makes the target's initial state the source's; any other takes 0 or its default.
3. **exact**: a candidate whose one-step map and initial state equal the source's (symbolically,
   or to 60 digits at random points where SymPy cannot decide): every trajectory agrees, for any
   gradients and learning-rate schedule. Failing that, a candidate whose trajectories agree for
   the first steps with a constant η (shown for w₁…w₃ for all gradients) is exact *only for a
   constant learning rate* (η inside vs outside the momentum buffer). Either is checked
   numerically: both models run by the interpreter for 200 steps of random gradients.
4. **approximate**: otherwise, the candidate (with the target's ε free) minimising the
   worst-case ratio of the two effective learning rates under a constant gradient (closed forms
   from ``symopt.derive``, at μ = 0), over |g| ∈ [1e-6, 1e2], t ∈ [1, 1e5]; the ratio is checked
   by a sweep of the interpreter (steps 1–300). **none** when that worst case exceeds :data:`NONE_ABOVE`.
5. In every case the drop-in: ``symopt.torch.port(params, "<the source call>")``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..rules import UpdateRule
from ..rules import dialects as D
from . import compare as C
from .calls import ParsedCall, format_call, parse

#: worst-case ratio of effective learning rates above which no configuration is offered
NONE_ABOVE = 2.0
STEPS_CHECKED = 200


@dataclass
class Port:
    source: str
    target_framework: str
    verdict: str
    target_call: str | None
    conditions: list[str]
    max_lr_ratio: float | None
    dropin: str
    evidence: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target_framework": self.target_framework,
            "verdict": self.verdict,
            "target_call": self.target_call,
            "conditions": self.conditions,
            "max_lr_ratio": self.max_lr_ratio,
            "dropin": self.dropin,
            "evidence": self.evidence,
            "measured": self.measured,
        }


def dropin(text: str) -> str:
    return f"import symopt.torch\noptimizer = symopt.torch.port(model.parameters(), {text!r})"


def target_dialect(family: str, framework: str) -> D.Dialect:
    known = sorted({n for f, n in D.table() if f == family})
    if (family, framework) not in D.table():
        raise ValueError(f"--to must be a framework with a {family} dialect: {', '.join(known)}; got {framework!r}")
    return D.preset(family, framework)


def fixed_values(dialect: D.Dialect) -> dict[sp.Symbol, Any]:
    """The values ``dialect`` fixes where the family model has a hyperparameter (torch7's AdaGrad
    ε = 1e-10), by the model's symbol: its rule has the number where the symbol was."""
    from ..rules import get

    model = get(dialect.family, "torch")
    names = {h.name: h.symbol for h in model.hyperparameters}
    return {names[n]: v for n, v in dialect.fixed.items() if n in names}


def candidates(
    source: UpdateRule, vs: dict[str, Any], target: UpdateRule, fixed: dict[sp.Symbol, Any] | None = None
) -> list[dict[str, Any]]:
    """Target configurations to try, fewest changes from the target's defaults first. ``fixed``:
    the source's fixed values by symbol (:func:`fixed_values`), which the target takes as it takes
    the source's keywords."""
    by_symbol = {**(fixed or {}), **{h.symbol: vs.get(h.name, h.default) for h in source.hyperparameters}}
    source_initial = C.initial_state(source, vs)
    options: list[list[tuple[str, Any]]] = []
    for h in target.hyperparameters:
        if h.symbol in by_symbol and isinstance(by_symbol[h.symbol], bool) == h.is_flag:
            options.append([(h.name, by_symbol[h.symbol])])
        elif h.is_flag:
            options.append([(h.name, h.default), (h.name, not h.default)])
        elif any(h.symbol in s.initial.free_symbols for s in target.states):
            state = next(s for s in target.states if h.symbol in s.initial.free_symbols)
            wanted = source_initial.get(state.symbol, sp.Integer(0))
            solved = sp.solve(sp.Eq(state.initial, wanted), h.symbol)
            values = [float(x) for x in solved if x.is_real and x >= 0] or [h.default]
            options.append([(h.name, values[0])])
        else:
            options.append([(h.name, 0.0)] + ([(h.name, h.default)] if h.default != 0 else []))
    out = []
    for combo in itertools.product(*options):
        config = dict(combo)
        try:
            target.values(**config)
        except (TypeError, ValueError):
            continue
        out.append(config)
    out.sort(key=lambda c: sum(1 for h in target.hyperparameters if c[h.name] != h.default))
    return out


def _numeric_agreement(
    source: UpdateRule, vs: dict, target: UpdateRule, vt: dict, steps: int = STEPS_CHECKED, seed: int = 0
) -> float:
    """max relative error per step of the target's parameters against the source's (interpreter,
    float64), over random gradients of scales 1e-4, 1 and 1e2."""
    from ..interpret import Interpreter

    rng = np.random.default_rng(seed)
    worst = 0.0
    for scale in (1e-4, 1.0, 1e2):
        grads = rng.normal(scale=scale, size=(steps, 4))
        w0 = rng.normal(size=4)
        traj = []
        for rule, values in ((source, vs), (target, vt)):
            run = Interpreter(rule, **values)
            x = w0.copy()
            state = run.init_state(x)
            rows = []
            for gr in grads:
                run.step(x, gr, state)
                rows.append(x.copy())
            traj.append(np.array(rows))
        diff = np.linalg.norm(traj[1] - traj[0], axis=1) / np.linalg.norm(traj[0], axis=1)
        worst = max(worst, float(np.max(np.where(np.isfinite(diff), diff, np.inf))))
    return worst


def _exact(source, vs, target, configs):
    """The first candidate that is exact, with its conditions and evidence, or None."""
    for vt in configs:
        how = C.same_step_maps(source, vs, target, vt)
        if how:
            return vt, [], [f"one-step maps and initial states equal ({how}): every trajectory agrees"]
    for vt in configs:
        how = C.same_trajectories(source, vs, target, vt, steps=3)
        if how:
            changing = C.same_trajectories(source, vs, target, vt, steps=3, changing_lr=True)
            conditions = (
                []
                if changing
                else [
                    "only for a constant learning rate: the two put η in different "
                    "places of the momentum buffer, so a schedule changes one and not the other"
                ]
            )
            evidence = [
                f"w_1..w_3 equal for all gradients ({how})"
                + ("" if changing else " with a constant η; not with η_1, η_2, η_3 per step")
            ]
            return vt, conditions, evidence
    return None


def _approximate(source, vs, target, configs):
    """The candidate and target ε minimising the worst-case effective-learning-rate ratio."""
    lr_s = C.effective_lr(source, vs)
    if lr_s is None:
        return None
    eps_h = next((h for h in target.hyperparameters if str(h.symbol) == "epsilon"), None)
    best = None
    seen = set()
    for vt in configs:
        if _differs_beyond_eps(source, vs, target, vt):
            continue
        key = tuple(sorted((k, v) for k, v in vt.items() if not (eps_h and k == eps_h.name)))
        if key in seen:
            continue
        seen.add(key)
        free = [eps_h.symbol] if eps_h is not None else []
        lr_t = C.effective_lr(target, vt, keep=free)
        if lr_t is None:
            continue
        fn = C.ratio_function(lr_s / lr_t, free)
        if eps_h is not None:
            grid = [0.0] + list(10.0 ** np.arange(-16, 0.01, 0.25))
            scored = [(C.worst_ratio(fn, e)[0], e) for e in grid]
            score, e = min(scored)
            if e > 0:  # golden-section search on log ε in the bracket around the best grid point
                e, score = _golden(lambda x: C.worst_ratio(fn, 10.0**x)[0], math.log10(e) - 0.25, math.log10(e) + 0.25)
            vt = {**vt, eps_h.name: float(e)}
            worst, g_at, t_at = C.worst_ratio(fn, e)
        else:
            worst, g_at, t_at = C.worst_ratio(fn)
        ratio = (lr_s / lr_t).xreplace({eps_h.symbol: C.exact(vt[eps_h.name])} if eps_h else {})
        if best is None or worst < best[1]:
            best = (vt, worst, g_at, t_at, ratio)
    return best


def _golden(f, lo: float, hi: float, iterations: int = 80) -> tuple[float, float]:
    """The minimum of a unimodal ``f`` on [lo, hi] (in log10 ε): (10**x, f(x))."""
    phi = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return 10.0**x, f(x)


#: the hyperparameters (by the model's symbol) an approximate port must keep: the effective rate
#: at μ = 0 says nothing about a momentum or a weight decay the target drops or adds
KEPT = ("mu", "lambda")


def _differs_beyond_eps(source, vs, target, vt) -> bool:
    """Whether the candidate changes momentum or weight decay (absent counts as 0), or keeps a
    nonzero λ with another penalty (:func:`decay_form`: λ|w| is not λw²/2, nor a decoupled decay)."""
    for name in KEPT:
        a = next((vs.get(h.name, h.default) for h in source.hyperparameters if h.symbol.name == name), 0.0)
        b = next((vt.get(h.name, h.default) for h in target.hyperparameters if h.symbol.name == name), 0.0)
        if float(a) != float(b):
            return True
        if name == "lambda" and float(a) != 0 and decay_form(source, vs) != decay_form(target, vt):
            return True
    return False


def decay_form(rule: UpdateRule, values: dict[str, Any]) -> str:
    """How the rule's λ enters: ``"l1"`` (g + λ sign w), ``"decoupled"`` (w(1 − ηλ)) or ``"l2"``
    (g + λ w), read from its conventions and, where a flag chooses (timm's ``decoupled_decay``),
    the flag's value."""
    conv = rule.conventions
    if conv.weight_decay == "l1":
        return "l1"
    if conv.decoupled_weight_decay_flag:
        flag = next((h for h in rule.hyperparameters if h.symbol.name == "decoupled_decay"), None)
        return "decoupled" if flag is not None and values.get(flag.name, flag.default) else "l2"
    return "decoupled" if conv.decoupled_weight_decay else "l2"


def port(text: str, to: str) -> Port:
    """Port the call ``text`` to the framework ``to`` (a dialect name: ``torch``, ``keras``, ...)."""
    parsed: ParsedCall = parse(text)
    family = parsed.dialect.family
    target_preset = target_dialect(family, to)
    source, vs = parsed.rule, parsed.values()
    target = target_preset.rule()
    configs = candidates(source, vs, target, fixed_values(parsed.dialect))
    if not configs:
        raise ValueError(f"no configuration of {target_preset.calls[0].path} is valid for {text}")
    found = _exact(source, vs, target, configs)
    if found is not None:
        vt, conditions, evidence = found
        err = _numeric_agreement(source, vs, target, vt)
        if conditions:
            evidence.append("numerically at a constant η: 200 steps of random gradients (scales 1e-4, 1, 1e2)")
        return Port(
            text.strip(),
            to,
            "exact",
            format_call(target_preset, vt),
            conditions,
            1.0,
            dropin(text.strip()),
            evidence,
            {"max_relative_error_200_steps": err},
        )
    best = _approximate(source, vs, target, configs)
    if best is None:
        if all(_differs_beyond_eps(source, vs, target, vt) for vt in configs):
            why = "the target cannot keep the source's momentum and weight decay (it lacks them, fixes them, or applies λ as another penalty: L1, L2 or decoupled)"
        else:
            why = "no closed form of the effective learning rate to compare"
        return Port(text.strip(), to, "none", None, [why], None, dropin(text.strip()))
    vt, worst, g_at, t_at, ratio = best
    sweep = _sweep(source, vs, target, vt, ratio, g_at)
    conditions = [
        f"effective learning rates under a constant gradient (μ = 0; a momentum buffer averages the same per-step "
        f"ratios), worst over |g| in [1e-6, 1e2] and t in [1, 1e5]: {worst:.6g}, at |g| = {g_at:.3g}, t = {t_at:g}",
    ]
    momentum = next((vs.get(h.name, h.default) for h in source.hyperparameters if h.symbol.name == "mu"), 0.0)
    if float(momentum) > 0:
        conditions.append(
            "for a constant learning rate: with momentum, where η enters the buffer also matters under a schedule"
        )
    measured = {
        "sweep_max_relative_error_of_derived_ratio": sweep,
        "worst_at": {"g": g_at, "t": t_at},
        "ratio": sp.sstr(ratio),
    }
    if not math.isfinite(worst) or worst > NONE_ABOVE:
        conditions.append(f"no configuration of the target keeps the two within a factor {NONE_ABOVE:g}")
        return Port(
            text.strip(),
            to,
            "none",
            None,
            conditions,
            worst if math.isfinite(worst) else None,
            dropin(text.strip()),
            [],
            measured,
        )
    return Port(
        text.strip(),
        to,
        "approximate",
        format_call(target_preset, vt),
        conditions,
        worst,
        dropin(text.strip()),
        ["the ratio is derived symbolically (symopt.derive) and checked by a sweep"],
        measured,
    )


def _sweep(source, vs, target, vt, ratio: sp.Expr, g_at: float) -> float:
    """max relative error of the derived ratio against the interpreters' measured one, at the
    worst |g| and two others, steps 1..300."""

    fn = C.ratio_function(ratio)
    steps = 300
    worst = 0.0
    for gv in sorted({g_at, 1e-3, 1.0}):
        measured = C.measured_lr_ratio(source, vs, target, vt, gv, steps)
        with np.errstate(all="ignore"):
            derived = np.array([fn(gv, float(k)) for k in range(1, steps + 1)], dtype=np.float64)
            err = np.abs(measured - derived) / np.abs(derived)
        worst = max(worst, float(np.max(np.where(np.isfinite(err), err, np.inf))))
    return worst
