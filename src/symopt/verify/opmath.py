"""The opmath simulations: a 16-bit fused step where torch has no right fused path to compare
with, computed from torch's C++ semantics in float32 torch operations.

torch fuses RMSprop nowhere, and its fused SGD is wrong in float16/bfloat16 (its vector loop never
stores the params: ``runner.TORCH_FUSED_WRONG``). symopt's fused kernels step both by the rule
torch's fused CPU optimizers follow in 16 bits ("opmath"): load each element and upcast it to
float, compute in float, store param and state rounded to the 16-bit dtype; constants are cast
as ATen's loops cast them. torch's 16-bit for-loop rounds after every operation instead, so it is
a different computation, and far off wherever an intermediate overflows 16 bits (a gradient of
1e4 squared). These simulations are the reference with the same arithmetic: written from
ATen's ``FusedSGDKernel.cpp`` and torch's RMSprop for-loop in torch operations (an ``fma`` is
``torch.addcmul``, one rounding; ``sqrt`` IEEE float32), never from symopt's models or printers,
and the fused kernels are compared with them bit for bit.

Constants per loop (:data:`CASTS`): ``fVec(scalar_t(c))`` in the vector loop and ``opmath_t(c)``
in the scalar tail for SGD; RMSprop, which torch does not fuse, through the param dtype in both.
Where a tensor's vector loop ends is :func:`symopt.fused.launcher.tail_starts`.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, cast

import numpy as np
import torch

from ..fused.launcher import tail_starts
from .cases import torch_optimizer_class

#: how each loop casts a double constant: (vector loop, scalar tail)
CASTS = {"sgd": ("storage", "opmath"), "rmsprop": ("storage", "storage")}
#: the rules and dtypes the simulations stand for
RULES = tuple(CASTS)
DTYPES = (torch.float16, torch.bfloat16)


def through_dtype(x: float, dtype: torch.dtype) -> float:
    """``float(scalar_t(x))``: a double cast to float, then to ``dtype`` (c10's Half(float))."""
    return float(torch.tensor(float(np.float32(x))).to(dtype).float())


def opmath(x: float) -> float:
    """``float(opmath_t(x))``: a double cast to float."""
    return float(np.float32(x))


def constants(
    values: dict[str, float], sizes: list[int], dtype: torch.dtype, family: str
) -> dict[str, list[torch.Tensor]]:
    """Per tensor, a float32 tensor of each constant: cast as the vector loop casts it up to the
    tensor's tail start, as the scalar tail casts it from there (:data:`CASTS`)."""
    vector, tail = CASTS[family]
    cast = {"storage": lambda x: through_dtype(x, dtype), "opmath": opmath}
    out: dict[str, list[torch.Tensor]] = {}
    for name, value in values.items():
        per = []
        for n, start in zip(sizes, tail_starts(sizes, dtype)):
            c = torch.full((n,), cast[vector](value))
            c[start:] = cast[tail](value)
            per.append(c)
        out[name] = per
    return out


def fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """float32 ``c + a·b`` with one rounding (torch's CPU addcmul)."""
    return torch.addcmul(c, a, b)


def sqrt(x: torch.Tensor) -> torch.Tensor:
    """IEEE float32 sqrt (correctly rounded)."""
    with np.errstate(invalid="ignore"):  # a negative argument: NaN, as the C sqrtf gives
        return torch.from_numpy(np.sqrt(x.numpy()))


def sgd(
    params: list[torch.Tensor],
    grads_per_step: list[list[torch.Tensor | None]],
    dtype: torch.dtype,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> list[dict[str, torch.Tensor]]:
    """ATen's fused SGD in float32 on the upcast tensors, stored in ``dtype`` after each step
    (``params`` in place; returns each param's state): g ← −g; g ← fma(λ, w, g); b ← g at a
    param's first step, else fma(1 − τ, g, b·μ) (the tail: fma(b, μ, (1 − τ)·g)); g ← fma(μ, b, g)
    (nesterov) or b; w ← fma(−η, g, w). A param without a gradient at a step is skipped."""
    sizes = [p.numel() for p in params]
    starts = tail_starts(sizes, dtype)
    k = constants({"wd": weight_decay, "mu": momentum, "damp": 1 - dampening, "lr": -float(lr)}, sizes, dtype, "sgd")
    buffers: list[torch.Tensor | None] = [None] * len(params)
    for grads in grads_per_step:
        for i, (p, g0) in enumerate(zip(params, grads)):
            if g0 is None:
                continue
            w, g = p.reshape(-1).float(), g0.reshape(-1).float()
            if maximize:
                g = -g
            if weight_decay != 0:
                g = fma(k["wd"][i], w, g)
            if momentum != 0:
                if buffers[i] is None:
                    b = g.clone()
                else:
                    b0 = cast(torch.Tensor, buffers[i]).float()
                    b = fma(k["damp"][i], g, b0 * k["mu"][i])  # the vector loop: the last product fused
                    t = starts[i]
                    b[t:] = fma(b0[t:], k["mu"][i][t:], k["damp"][i][t:] * g[t:])  # the tail: the first
                buffers[i] = b.to(dtype)
                g = fma(k["mu"][i], b, g) if nesterov else b
            p.copy_(fma(k["lr"][i], g, w).to(dtype).reshape(p.shape))
    if momentum == 0:
        return [{} for _ in params]
    return [{} if b is None else {"momentum_buffer": b.reshape(p.shape)} for p, b in zip(params, buffers)]


def rmsprop(
    params: list[torch.Tensor],
    grads_per_step: list[list[torch.Tensor | None]],
    dtype: torch.dtype,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> list[dict[str, torch.Tensor]]:
    """torch's RMSprop for-loop operations in float32 on the upcast tensors, constants cast
    through ``dtype``, every state and the param stored in ``dtype`` after each step (``params``
    in place; returns each param's state, with torch's keys and its float32 step counter):
    g ← −g; g ← fma(λ, w, g); v ← fma((1 − α)g, g, α·v); m ← lerp(m, g, 1 − α) (torch's two
    formulas by the weight); σ ← √(v − m²) or √v, plus ε; b ← μb + g/σ, w ← fma(−η, b, w), or
    w ← w + (−η·g)/σ. A param without a gradient at a step is skipped."""
    sizes = [p.numel() for p in params]
    k = constants(
        {"wd": weight_decay, "alpha": alpha, "1-alpha": 1 - alpha, "eps": eps, "mu": momentum, "lr": -float(lr)},
        sizes,
        dtype,
        "rmsprop",
    )
    state: list[dict[str, Any]] = [{} for _ in params]
    for grads in grads_per_step:
        for i, (p, g0, st) in enumerate(zip(params, grads, state)):
            if g0 is None:
                continue
            n = sizes[i]
            if not st:
                st.update(
                    step=0, v=torch.zeros(n, dtype=dtype), m=torch.zeros(n, dtype=dtype), b=torch.zeros(n, dtype=dtype)
                )
            st["step"] += 1
            w, g = p.reshape(-1).float(), g0.reshape(-1).float()
            if maximize:
                g = -g
            if weight_decay != 0:
                g = fma(k["wd"][i], w, g)
            v = fma(k["1-alpha"][i] * g, g, st["v"].float() * k["alpha"][i])
            if centered:
                m = st["m"].float()
                c = k["1-alpha"][i]
                small = c.abs() < 0.5  # torch's lerp: two formulas by the weight
                m = torch.where(small, fma(c, g - m, m), fma(c - 1, g - m, g))
                st["m"] = m.to(dtype)
                sigma = sqrt(fma(-m, m, v))
            else:
                sigma = sqrt(v)
            sigma = sigma + k["eps"][i]
            st["v"] = v.to(dtype)
            if momentum > 0:
                b = st["b"].float() * k["mu"][i] + g / sigma
                st["b"] = b.to(dtype)
                w = fma(k["lr"][i], b, w)
            else:
                w = w + (k["lr"][i] * g) / sigma
            p.copy_(w.to(dtype).reshape(p.shape))
    out: list[dict[str, torch.Tensor]] = []
    for p, st in zip(params, state):
        if not st:
            out.append({})
            continue
        entry = {"step": torch.tensor(float(st["step"])), "square_avg": st["v"].reshape(p.shape)}
        if momentum > 0:
            entry["momentum_buffer"] = st["b"].reshape(p.shape)
        if centered:
            entry["grad_avg"] = st["m"].reshape(p.shape)
        out.append(entry)
    return out


SIMULATIONS: dict[str, Callable[..., list[dict[str, torch.Tensor]]]] = {"sgd": sgd, "rmsprop": rmsprop}


def run(
    rule: str, kwargs: dict[str, Any], params0: list[torch.Tensor], grads: list[list[torch.Tensor | None]]
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """(params, states) of ``rule``'s opmath simulation from ``params0`` over ``grads`` (one list
    per step), with torch's keyword arguments ``kwargs`` over torch's defaults; a tensor
    hyperparameter enters as its float."""
    dtype = params0[0].dtype
    if dtype not in DTYPES:
        raise ValueError(f"the opmath simulations are for float16 and bfloat16; got {dtype}")
    params = [p.detach().clone() for p in params0]
    defaults = {
        k: v.default
        for k, v in inspect.signature(torch_optimizer_class(rule).__init__).parameters.items()
        if k in inspect.signature(SIMULATIONS[rule]).parameters and v.default is not inspect.Parameter.empty
    }
    known = {**defaults, **{k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}}
    states = SIMULATIONS[rule](params, grads, dtype, **known)
    return params, states
