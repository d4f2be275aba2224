"""The framework dialects in the verify matrix: every dialect's drop-in (``symopt.torch.port(params,
"<the framework's call>")``, kernels printed from the dialect's model) on the frameworks tier's
cases, against the dialect's model run by the interpreter (float64, always) and against the real
framework wherever its environment is installed (``make frameworks``; a missing one is named in
the row's note, never passed silently).

A row's error is the largest per-step norm-wise relative error of the parameters,
‖w − w_ref‖/‖w_ref‖, expressed in units of the dtype's machine epsilon (the ``max_ulp`` column of
the other rows, for a norm). Tolerances, as the frameworks tier states them: float64 within 1e-12
per step (25 steps of a few roundings each, far below), float32 within 1e-5 (25 steps × a few
float32 roundings of ~6e-8, with room for the ε-dominated small-gradient case).

The cases (:func:`cases`) come from the dialect's own argument table: its defaults, every option
and flag, gradients small enough that ε matters (1e-4) and large enough that it does not (1e3),
and momentum under a changing learning rate.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from ..port import frameworks as F
from ..rules import dialects, get
from .runner import Row

STEPS = 25
SIZE = 6
#: per-step norm-wise relative error allowed, by the dtype the drop-in steps in
TOLERANCES = {torch.float64: 1e-12, torch.float32: 1e-5}
#: frameworks that keep float32 states for a float64 parameter (bitsandbytes' 32-bit optimizers):
#: their rows compare the model with the float32 tolerance (tests/test_frameworks.py measures it)
FLOAT32_STATES = ("bitsandbytes",)


def argument_name(preset: dialects.Dialect, generic: str) -> str | None:
    return next((a.name for a in preset.arguments if a.generic == generic), None)


def lr_argument(preset: dialects.Dialect) -> str:
    """The dialect's name for the learning rate."""
    return next(a.name for a in preset.arguments if a.generic == "lr")


def base_kwargs(preset: dialects.Dialect) -> dict[str, Any]:
    """The framework's defaults; required arguments get values a user would give."""
    fill = {"lr": 1e-3, "alpha": 0.9, "momentum": 0.0, "eps": 1e-7}
    return {a.name: fill[a.generic] for a in preset.arguments if a.required}


def configurations(preset: dialects.Dialect) -> list[tuple[str, dict[str, Any]]]:
    """(label, keywords) for the defaults and every option of the dialect's argument table."""
    base = base_kwargs(preset)
    n = functools.partial(argument_name, preset)
    out = [("defaults", dict(base))]
    options = {
        "momentum": 0.9,
        "weight_decay": 0.1,
        "lr_decay": 0.05,
        "initial_scale": 0.5,
        "initial_accumulator_value": 0.3,
    }
    for generic, value in options.items():
        name = n(generic)
        if name:
            out.append((generic, {**base, name: value}))
    flags = {"centered", "eps_in_sqrt", "nesterov", "bias_correction", "lr_in_momentum", "decoupled_decay"}
    momentum, weight_decay = n("momentum"), n("weight_decay")
    for a in preset.arguments:
        if a.generic in flags:
            kw = {**base, a.name: not a.default}
            if a.generic in ("nesterov", "lr_in_momentum", "centered") and momentum:
                kw[momentum] = 0.9
            if a.generic == "decoupled_decay" and weight_decay:
                kw[weight_decay] = 0.1
            out.append((a.name, kw))
    centered = n("centered")
    if centered and momentum:
        out.append(("centered-plain", {**base, centered: True, momentum: 0.0}))
    bias_correction, eps = n("bias_correction"), n("eps")
    if bias_correction and centered and eps:
        # at t = 1 the bias-corrected variance v̂ − m̂² is 0 in exact arithmetic: σ = √(rounding + ε)
        # and the first step is ill-conditioned at a small ε (test_optax_bias_corrected_centered_hazard)
        out.append(("bias_correction+centered", {**base, bias_correction: True, centered: True, eps: 1e-3}))
    return out


def cases(preset: dialects.Dialect, seed: int = 0) -> list[tuple[str, F.Case]]:
    """Every configuration at unit gradients, plus defaults at small and large gradients, and
    momentum (where offered) under a changing learning rate."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=SIZE)

    def grads(scale: float) -> list[np.ndarray]:
        gs = [rng.normal(scale=scale, size=SIZE) for _ in range(STEPS)]
        if preset.family == "adagrad":
            gs[0][0] = gs[1][0] = 0.0  # an accumulator that stays at G_0 for two steps (the guards)
        return gs

    out = [(label, F.Case(kw, w0, grads(1.0))) for label, kw in configurations(preset)]
    base = base_kwargs(preset)
    out.append(("small-grads", F.Case(dict(base), w0, grads(1e-4))))
    out.append(("large-grads", F.Case(dict(base), w0, grads(1e3))))
    lr = base.get(lr_argument(preset), preset.argument(lr_argument(preset)).default)
    lrs = [lr * (1.0 + 0.5 * np.sin(k)) for k in range(STEPS)]
    kw = dict(base)
    momentum = argument_name(preset, "momentum")
    if momentum:
        kw[momentum] = 0.9
    out.append(("momentum+changing-lr", F.Case(kw, w0, grads(1.0), lrs)))
    return out


def call_text(preset: dialects.Dialect, kwargs: dict[str, Any]) -> str:
    """The framework call for ``kwargs``: the first of the dialect's calls whose fixed values
    they agree with (ApplyCenteredRMSProp for centered=True; rmsprop_momentum for a momentum).
    Where another dialect shares the call's path (MXNet's RMSProp: plain and centered), the
    call's fixed keywords and every argument are written out, since they are what chooses the
    dialect (MXNet 1.x's ``gamma1`` against 2.0's ``rho``)."""
    names = {a.name for a in preset.arguments}
    for call in preset.calls:
        fixed = {k: v for k, v in call.set.items() if k in kwargs or k in names}
        if all(kwargs.get(k, preset.argument(k).default if k in names else v) == v for k, v in fixed.items()):
            shared = len(dialects.find_calls(call.path)) > 1
            if shared:
                every = {a.name: a.default for a in preset.arguments if not a.required and a.name not in call.set}
                written = {**every, **kwargs, **call.set}
            else:
                written = {k: v for k, v in kwargs.items() if k not in call.set}
            args = ", ".join(f"{k}={v!r}" for k, v in written.items())
            head = "params, " if call.path.startswith(("timm.", "stable_baselines3.")) else ""
            return f"{call.path}({head}{args})".replace("(params, )", "(params)")
    raise ValueError(f"no call of {preset.name} takes {kwargs}")


def run_dropin(text: str, case: F.Case, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """``symopt.torch.port([w], text)`` stepped on the case (a changing lr set in the group before
    each step, as a scheduler does): the params after each step, in float64."""
    from ..torch.port import port

    p = torch.nn.Parameter(torch.tensor(case.w0, dtype=dtype))
    opt = port([p], text.replace("(params, ", "(").replace("(params)", "()"))
    out = []
    for k, grad in enumerate(case.grads):
        if case.lrs is not None:
            opt.param_groups[0]["lr"] = float(case.lrs[k])
        p.grad = torch.tensor(grad, dtype=dtype)
        opt.step()
        out.append(p.detach().to(torch.float64).numpy().copy())
    return np.array(out)


def keys() -> list[tuple[str, str]]:
    """(family, dialect) of every framework dialect (torch's own is the main matrix's)."""
    return [d.key for d in dialects.table().values() if d.name != "torch"]


def _row(
    family: str, dialect: str, label: str, dtype: torch.dtype, reference: str, err: float, tol: float, note: str = ""
) -> Row:
    eps = torch.finfo(dtype).eps
    ok = err <= tol  # NaN and inf never pass
    return Row(
        rule=family,
        dialect=dialect,
        case=label,
        dtype=str(dtype).removeprefix("torch."),
        device="cpu",
        impl="port",
        reference=reference,
        steps=STEPS,
        max_ulp=err / eps,
        max_abs=err,
        tol_ulp=tol / eps,
        status="pass" if ok else "FAIL",
        note=note,
    )


def framework_results(
    selected: list[tuple[str, str]],
) -> tuple[dict[tuple[str, str], dict], dict[tuple[str, str], str]]:
    """The real frameworks' runs of every selected dialect whose environment is here (one
    subprocess per environment), and why each other one is not run."""
    missing = {k: F.unavailable(k[1]) for k in selected}
    runnable = [k for k in selected if missing[k] is None and k[1] not in FLOAT32_STATES]
    requests = [F.request(f, d, [c for _, c in cases(dialects.preset(f, d))]) for f, d in runnable]
    try:
        results = dict(zip(runnable, F.run_requests(requests))) if requests else {}
    except (RuntimeError, OSError) as exc:  # a broken environment: every row says so
        return {}, {**{k: v for k, v in missing.items() if v}, **{k: str(exc) for k in runnable}}
    reasons = {k: v for k, v in missing.items() if v}
    for k in list(results):
        if "missing" in results[k]:
            reasons[k] = str(results.pop(k)["missing"])
    for k in selected:
        if k[1] in FLOAT32_STATES and k not in reasons:
            reasons[k] = f"{k[1]} keeps float32 states for a float64 param (compared in tests/test_frameworks.py)"
    return results, reasons


def rows(
    selected: list[tuple[str, str]] | None = None, *, frameworks: bool = True
) -> tuple[list[Row], dict[tuple[str, str], str]]:
    """Every dialect's drop-in against its model (float64, float32) and against the real framework
    where it runs here (float64), on :func:`cases`: one row per (dialect, case, dtype, reference);
    and, for each dialect whose framework was not run, why. ``selected``: (family, dialect) pairs
    (default: every one of :func:`keys`)."""
    selected = keys() if selected is None else selected
    results, reasons = (
        framework_results(selected) if frameworks else ({}, {k: "not asked (--no-frameworks)" for k in selected})
    )
    out: list[Row] = []
    for family, dialect in selected:
        preset = dialects.preset(family, dialect)
        rule = get(family, dialect)
        framework = results.get((family, dialect))
        for index, (label, case) in enumerate(cases(preset)):
            text = call_text(preset, case.kwargs)
            model = F.run_model(rule, case)["params"]
            ours = {dtype: run_dropin(text, case, dtype) for dtype in TOLERANCES}
            for dtype, tol in TOLERANCES.items():
                out.append(
                    _row(
                        family,
                        dialect,
                        label,
                        dtype,
                        "interpreter (float64)",
                        float(F.relative_errors(model, ours[dtype]).max()),
                        tol,
                    )
                )
            if framework is not None:
                versions = ", ".join(f"{k} {v}" for k, v in framework.get("versions", {}).items()) or dialect
                err = float(F.relative_errors(framework["cases"][index]["params"], ours[torch.float64]).max())
                out.append(
                    _row(
                        family, dialect, label, torch.float64, f"{dialect} ({versions})", err, TOLERANCES[torch.float64]
                    )
                )
    return out, reasons


__all__ = [
    "STEPS",
    "TOLERANCES",
    "argument_name",
    "base_kwargs",
    "call_text",
    "cases",
    "configurations",
    "framework_results",
    "keys",
    "lr_argument",
    "rows",
    "run_dropin",
]
