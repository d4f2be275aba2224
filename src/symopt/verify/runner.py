"""Run every implementation of a rule on every case and compare it with torch.optim.

An *implementation* turns (case, initial params, gradients) into final params and state buffers.
The reference is ``torch.optim.<Optimizer>(..., foreach=False)`` in the same dtype. Each
comparison gives one :class:`Row`: params and every state buffer torch keeps, compared in ULPs of
the dtype, against the tolerance of :mod:`symopt.verify.tolerances`.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .. import rules
from ..interpret import Interpreter
from .cases import Case, make_grads, make_params, torch_optimizer_class
from .tolerances import tolerance
from .ulp import max_abs_difference, ulp_distance

Result = tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]
Runner = Callable[[Case, list[torch.Tensor], list[list[torch.Tensor]]], Result]


@dataclass(frozen=True)
class Implementation:
    """A way of executing a rule that is verified against torch.optim."""

    name: str
    run: Runner
    dtypes: tuple[torch.dtype, ...]
    rules: tuple[str, ...]
    doc: str


@dataclass
class Row:
    """One comparison: the JSON row of ``symopt verify --json``."""

    rule: str
    dialect: str
    case: str
    dtype: str
    device: str
    impl: str
    reference: str
    steps: int
    max_ulp: float
    max_abs: float
    tol_ulp: float
    status: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("max_ulp", "max_abs", "tol_ulp"):
            if isinstance(out[key], float) and not math.isfinite(out[key]):
                out[key] = str(out[key])
        return out

    @property
    def reproduce(self) -> str:
        return "symopt verify " + " ".join(
            f"--{k} {shlex.quote(str(v))}" for k, v in (("rule", self.rule), ("case", self.case), ("dtype", self.dtype), ("impl", self.impl), ("device", self.device))
        )


# -- the reference -------------------------------------------------------------------------------
def run_torch_optim(case: Case, params0: list[torch.Tensor], grads: list[list[torch.Tensor]], **code_path: Any) -> Result:
    """torch.optim itself: the for-loop implementation unless ``code_path`` says otherwise."""
    params = [p.clone().requires_grad_(True) for p in params0]
    kwargs = dict(case.math_kwargs)
    kwargs.update(code_path or {"foreach": False})
    opt = torch_optimizer_class(case.rule)(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in params], [{k: v.detach() for k, v in opt.state[p].items()} for p in params]


# -- implementations -----------------------------------------------------------------------------
def run_interpreter(case: Case, params0: list[torch.Tensor], grads: list[list[torch.Tensor]]) -> Result:
    """The reference interpreter (float64, straight from the model), result rounded to the dtype."""
    interp = Interpreter(rules.get(case.rule), **case.math_kwargs)
    out_params, out_states = [], []
    for i, p0 in enumerate(params0):
        w = p0.detach().cpu().double().numpy().copy()
        state = interp.init_state(w)
        for step_grads in grads:
            interp.step(w, step_grads[i].cpu().double().numpy(), state)
        out_params.append(torch.from_numpy(w).to(p0.dtype))
        out_states.append(_state_to_torch(state, p0.dtype, rules.get(case.rule).stores_step))
    return out_params, out_states


def _state_to_torch(state: dict[str, Any], dtype: torch.dtype, stores_step: bool) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key == "step":
            if stores_step:
                out[key] = torch.tensor(float(value))
            continue
        out[key] = torch.from_numpy(np.asarray(value)).to(dtype)
    return out


def run_numpy_kernels(case: Case, params0: list[torch.Tensor], grads: list[list[torch.Tensor]]) -> Result:
    """The generated NumPy kernels (``symopt.numpy``), in the param's own dtype."""
    from .. import numpy as symopt_numpy

    step = getattr(symopt_numpy, f"{case.rule}_step")
    out_params, out_states = [], []
    for i, p0 in enumerate(params0):
        w = p0.detach().cpu().numpy().copy()
        state = symopt_numpy.init_state(case.rule, w, **case.math_kwargs)
        for step_grads in grads:
            step(w, step_grads[i].cpu().numpy(), state, **case.math_kwargs)
        out_params.append(torch.from_numpy(w))
        out_states.append(_state_to_torch(state, p0.dtype, True))
    return out_params, out_states


def run_torch_kernels(case: Case, params0: list[torch.Tensor], grads: list[list[torch.Tensor]]) -> Result:
    """The generated Torch single-tensor kernels (``symopt.torch.functional``)."""
    from ..torch import functional

    params = [p.clone() for p in params0]
    kw = dict(case.math_kwargs)
    steps = [torch.tensor(0.0) for _ in params]
    if case.rule == "adagrad":
        h = rules.adagrad().values(**kw)
        init = float(kw.get("initial_accumulator_value", 0.0))
        sums = [torch.full_like(p, init) for p in params]
        named = {hp.name: h[hp.symbol] for hp in rules.adagrad().hyperparameters}
        for step_grads in grads:
            functional.adagrad(
                params, [g.clone() for g in step_grads], sums, steps,
                lr=named["lr"], weight_decay=named["weight_decay"], lr_decay=named["lr_decay"],
                eps=named["eps"], maximize=named["maximize"],
            )
        states = [{"step": s, "sum": v} for s, v in zip(steps, sums)]
    elif case.rule == "rmsprop":
        h = rules.rmsprop().values(**kw)
        named = {hp.name: h[hp.symbol] for hp in rules.rmsprop().hyperparameters}
        sq = [torch.zeros_like(p) for p in params]
        ga = [torch.zeros_like(p) for p in params]
        mb = [torch.zeros_like(p) for p in params]
        for step_grads in grads:
            functional.rmsprop(
                params, [g.clone() for g in step_grads], sq, ga, mb, steps,
                lr=named["lr"], alpha=named["alpha"], eps=named["eps"], weight_decay=named["weight_decay"],
                momentum=named["momentum"], centered=named["centered"], maximize=named["maximize"],
            )
        states = []
        for s, a, b, c in zip(steps, sq, ga, mb):
            st = {"step": s, "square_avg": a}
            if named["centered"]:
                st["grad_avg"] = b
            if named["momentum"] > 0:
                st["momentum_buffer"] = c
            states.append(st)
    else:  # pragma: no cover - guarded by Implementation.rules
        raise ValueError(f"no torch kernels for {case.rule}")
    return params, states


IMPLEMENTATIONS: dict[str, Implementation] = {
    impl.name: impl
    for impl in (
        Implementation("interpreter", run_interpreter, (torch.float64,), ("adagrad", "rmsprop", "sgd"),
                       "symopt.interpret.Interpreter, float64, from the model"),
        Implementation("numpy", run_numpy_kernels, (torch.float64, torch.float32), ("adagrad", "rmsprop"),
                       "generated NumPy kernels (symopt.numpy)"),
        Implementation("torch", run_torch_kernels, (torch.float64, torch.float32), ("adagrad", "rmsprop"),
                       "generated Torch single-tensor kernels (symopt.torch.functional)"),
    )
}


# -- comparison ----------------------------------------------------------------------------------
def compare(actual: Result, expected: Result) -> tuple[float, float, str]:
    """Max ULP and max absolute difference over params and every state buffer torch keeps."""
    worst_ulp, worst_abs, notes = 0.0, 0.0, []
    for i, (pa, pe) in enumerate(zip(actual[0], expected[0])):
        worst_ulp = max(worst_ulp, ulp_distance(pa, pe))
        worst_abs = max(worst_abs, max_abs_difference(pa, pe))
        sa, se = actual[1][i], expected[1][i]
        missing = sorted(set(se) - set(sa))
        if missing:
            notes.append(f"param {i}: missing state {', '.join(missing)}")
            worst_ulp = math.inf
        for key in se:
            if key not in sa:
                continue
            a, e = sa[key], se[key]
            if key == "step":
                if float(a) != float(e):
                    notes.append(f"param {i}: step {float(a)} != {float(e)}")
                    worst_ulp = math.inf
                continue
            worst_ulp = max(worst_ulp, ulp_distance(a.to(e.dtype), e))
            worst_abs = max(worst_abs, max_abs_difference(a.to(e.dtype), e))
    return worst_ulp, worst_abs, "; ".join(notes)


def verify_case(case: Case, impl: Implementation, dtype: torch.dtype, *, steps: int = 100, device: str = "cpu", seed: int = 0) -> Row:
    """Run ``impl`` and torch.optim (for-loop) on ``case`` and compare them."""
    params0 = make_params(dtype, device, seed)
    grads = make_grads(params0, steps, seed + 1)
    reference = "torch.optim(foreach=False)"
    tol = tolerance(dtype, impl.name, reference, steps)
    try:
        expected = run_torch_optim(case, params0, grads)
        actual = impl.run(case, params0, grads)
        max_ulp, max_abs, note = compare(actual, expected)
    except Exception as exc:  # a crash is a failure with its reason, never a skipped row
        max_ulp, max_abs, note = math.inf, math.inf, f"{type(exc).__name__}: {exc}"
    nonfinite = any(not bool(torch.isfinite(p).all()) for p in (expected[0] if "expected" in dir() else []))
    if nonfinite and not note:
        note = "non-finite values in torch.optim's result (compared NaN-for-NaN)"
    status = "pass" if max_ulp <= tol else "FAIL"
    return Row(case.rule, "torch", case.name, str(dtype).replace("torch.", ""), device, impl.name, reference,
               steps, max_ulp, max_abs, tol, status, note)


def run_matrix(cases: Iterable[Case], impls: Iterable[Implementation], dtypes: Iterable[torch.dtype], *,
               steps: int = 100, device: str = "cpu", progress: bool = True) -> list[Row]:
    """Every case × implementation × dtype the implementation supports."""
    jobs = [(c, i, d) for c in cases for i in impls for d in dtypes if c.rule in i.rules and d in i.dtypes]
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="verify", unit="row", leave=False)
    for case, impl, dtype in jobs:
        rows.append(verify_case(case, impl, dtype, steps=steps, device=device))
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return rows
