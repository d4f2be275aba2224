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
from typing import Any, Callable, Iterable, cast

import numpy as np
import torch

from .. import rules
from ..interpret import Interpreter
from . import opmath
from .cases import Case, make_grads, make_params, torch_optimizer_class
from .tolerances import conditioned, tolerance
from .ulp import max_abs_difference, normwise_ulp

Grads = list[list["torch.Tensor | None"]]
Result = tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]
Runner = Callable[[Case, list[torch.Tensor], Grads], Result]


@dataclass(frozen=True)
class Implementation:
    """A way of executing a rule that is verified against torch.optim."""

    name: str
    run: Runner
    dtypes: tuple[torch.dtype, ...]
    rules: tuple[str, ...]
    doc: str
    #: the torch.optim code path it mirrors: compared against it in every run (the full matrix
    #: compares against every path); "fused" falls back to the for-loop where torch has no fused.
    mirrors: str = "torch.optim(foreach=False)"
    #: the dtypes of the quick matrix (`make verify`); the full matrix runs all of ``dtypes``
    quick_dtypes: tuple[torch.dtype, ...] = (torch.float64, torch.float32)

    def mirror_for(self, case: Case, dtype: torch.dtype | None = None) -> str:
        """The torch path it is compared with on ``case`` in every run: its own, except where
        torch has no fused path for the rule, or a wrong one in ``dtype``
        (:data:`TORCH_FUSED_WRONG`): the for-loop then. (A tensor lr reaches both fused paths as
        ``float(lr)``.)"""
        if "fused" in self.mirrors and (case.rule not in FUSED_RULES or (case.rule, dtype) in TORCH_FUSED_WRONG):
            return FOR_LOOP
        return self.mirrors

    def operations_for(self, case: Case, dtype: torch.dtype | None = None) -> str | None:
        """The torch path whose operations it issues on ``case`` (bitwise expected against it);
        None when there is none: symopt's fused=True steps RMSprop with a C loop whose sqrt is
        correctly rounded (torch's eager one is not). It hands non-contiguous params to the
        for-loop kernels while the contiguous ones of the same group take the C kernel: the
        for-loop's operations when every param is non-contiguous, :data:`MIXED` when some are."""
        if "fused" in self.mirrors:
            if case.transposed and all(len(s) == 2 and min(s) > 1 for s in case.shapes):
                return FOR_LOOP  # every param non-contiguous: all of them to the for-loop kernels
            if case.rule not in FUSED_RULES or (case.rule, dtype) in TORCH_FUSED_WRONG:
                if case.rule in opmath.RULES and dtype in opmath.DTYPES:
                    return OPMATH  # the 16-bit opmath rule, simulated in float32 torch operations
                return None  # a C loop (correctly rounded sqrt) no torch path issues
            if case.transposed:
                return MIXED  # torch's fused operations on the contiguous params, its for-loop's on the others
        return self.mirror_for(case, dtype)


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
        fields = [
            ("rule", self.rule),
            ("case", self.case),
            ("dtype", self.dtype),
            ("impl", self.impl),
            ("device", self.device),
        ]
        if self.impl == "port":  # a framework dialect's drop-in: its dialect names the row
            fields.insert(1, ("dialect", self.dialect))
        return "symopt verify " + " ".join(f"--{k} {shlex.quote(str(v))}" for k, v in fields)


# -- the references -------------------------------------------------------------------------------
#: torch.optim's code paths: name -> constructor keywords. "fused" exists for Adagrad, SGD, Adam
#: and AdamW on the CPU (torch 2.13), not for RMSprop.
REFERENCES = {
    "torch.optim(foreach=False)": {"foreach": False},
    "torch.optim(foreach=True)": {"foreach": True},
    "torch.optim(fused=True)": {"fused": True},
}
FUSED_RULES = ("adagrad", "sgd", "adam", "adamw")
#: (rule, dtype) where torch's fused CPU path is wrong: its float16/bfloat16 SGD updates only each
#: tensor's scalar tail (ATen's vector loop loads the momentum buffer as floats from a 16-bit
#: pointer and never stores the param; tests/test_fused_lowp.py records it). The fused
#: implementation is compared with the for-loop there, within the tolerance between torch's paths.
TORCH_FUSED_WRONG = frozenset({("sgd", torch.float16), ("sgd", torch.bfloat16)})
FOR_LOOP = "torch.optim(foreach=False)"
#: torch's fused path on a case's contiguous params and its for-loop on the non-contiguous ones,
#: each param taken from its own run: the operations symopt's fused=True issues on a group that
#: mixes layouts (compared bit for bit; torch's fused Adagrad on non-contiguous params is wrong)
MIXED = "torch.optim(fused=True; foreach=False on non-contiguous params)"
#: the opmath simulation of a 16-bit fused step torch has no right fused path for (RMSprop; SGD,
#: whose fused 16-bit path is wrong), torch's for-loop on the non-contiguous params (each param
#: from its own run, as :data:`MIXED`): compared bit for bit (:mod:`symopt.verify.opmath`)
OPMATH = "opmath simulation (float32 operations, 16-bit storage; foreach=False on non-contiguous params)"


def mixed_result(
    params0: list[torch.Tensor], fused: "Result | Exception", loop: "Result | Exception"
) -> "Result | Exception":
    """:data:`MIXED` from torch's fused and for-loop results: each param and its state from the
    run whose operations symopt's fused step issues on it (by the layout of ``params0``)."""
    if isinstance(fused, Exception):
        return fused
    if isinstance(loop, Exception):
        return loop
    pick = [fused if p.is_contiguous() else loop for p in params0]
    return [r[0][i] for i, r in enumerate(pick)], [r[1][i] for i, r in enumerate(pick)]


def references_for(rule: str, full: bool) -> list[str]:
    """The torch.optim code paths compared against: the for-loop always; foreach and fused in the
    full matrix (fused where torch has it)."""
    if not full:
        return ["torch.optim(foreach=False)"]
    return [r for r in REFERENCES if "fused" not in r or rule in FUSED_RULES]


def run_torch_optim(
    case: Case, params0: list[torch.Tensor], grads: Grads, reference: str = "torch.optim(foreach=False)"
) -> Result:
    """torch.optim itself, on the code path ``reference`` names."""
    params = [p.clone().requires_grad_(True) for p in params0]  # clone keeps the strides
    kwargs = dict(case.math_kwargs)
    kwargs.update(REFERENCES[reference])
    opt = torch_optimizer_class(case.rule)(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.clone()
        opt.step()
    return [p.detach() for p in params], [{k: v.detach() for k, v in opt.state[p].items()} for p in params]


def nudged_run(case: Case, params0: list[torch.Tensor], grads: Grads, reference: str, seed: int = 0) -> Result:
    """torch.optim on the code path ``reference`` with every param and state element nudged by
    1 ULP, in a seeded random direction, after every step: one rounding's worth of difference
    per stored quantity per step."""
    gen = torch.Generator().manual_seed(seed)
    params = [p.clone().requires_grad_(True) for p in params0]
    kwargs = dict(case.math_kwargs)
    kwargs.update(REFERENCES[reference])
    opt = torch_optimizer_class(case.rule)(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.clone()
        opt.step()
        with torch.no_grad():
            for p in params:
                for x in [p, *(v for k, v in opt.state[p].items() if k != "step")]:
                    _nudge(x, gen)
    return [p.detach() for p in params], [{k: v.detach() for k, v in opt.state[p].items()} for p in params]


def sensitivity(
    case: Case, params0: list[torch.Tensor], grads: Grads, reference: str, expected: Result, seed: int = 0
) -> float:
    """The measured conditioning of ``case`` on the torch path ``reference``: the ULP distance
    (:func:`compare`) between torch.optim's result ``expected`` and :func:`nudged_run`.
    Infinite when the nudges change which elements are non-finite."""
    return compare(nudged_run(case, params0, grads, reference, seed), expected)[0]


def _nudge(x: torch.Tensor, gen: torch.Generator) -> None:
    """Move every nonzero element of ``x`` by 1 ULP up or down (seeded), in place."""
    if not x.numel() or not x.is_floating_point():
        return
    up = torch.rand(x.shape, generator=gen) < 0.5
    toward = torch.where(up, torch.full_like(x, math.inf), torch.full_like(x, -math.inf))
    x.copy_(torch.where(x != 0, torch.nextafter(x, toward), x))


# -- implementations -----------------------------------------------------------------------------
def run_interpreter(case: Case, params0: list[torch.Tensor], grads: Grads) -> Result:
    """The reference interpreter (float64, straight from the model), result rounded to the dtype."""
    rule = rules.get(case.rule)
    interp = Interpreter(rule, **case.model_kwargs)
    out_params, out_states = [], []
    for i, p0 in enumerate(params0):
        w = p0.detach().cpu().double().numpy().copy()
        state = interp.init_state(w)
        for step_grads in grads:
            g = step_grads[i]
            if g is not None:
                interp.step(w, g.cpu().double().numpy(), state)
        out_params.append(torch.from_numpy(w).to(p0.dtype))
        out_states.append(_state_to_torch(state, p0.dtype, rule.stores_step) if state["step"] else {})
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


def run_numpy_kernels(case: Case, params0: list[torch.Tensor], grads: Grads) -> Result:
    """The generated NumPy kernels (``symopt.numpy``), in the param's own dtype."""
    from .. import numpy as symopt_numpy

    step = getattr(symopt_numpy, f"{case.rule}_step")
    stores_step = rules.get(case.rule).stores_step
    out_params, out_states = [], []
    for i, p0 in enumerate(params0):
        w = p0.detach().cpu().numpy().copy()
        state = symopt_numpy.init_state(case.rule, w, **case.model_kwargs)
        stepped = False
        with np.errstate(all="ignore"):  # NaN/inf propagate as in torch; findings report them
            for step_grads in grads:
                g = step_grads[i]
                if g is not None:
                    step(w, g.cpu().numpy(), state, **case.model_kwargs)
                    stepped = True
        out_params.append(torch.from_numpy(w))
        out_states.append(_state_to_torch(state, p0.dtype, stores_step) if stepped else {})
    return out_params, out_states


def run_torch_kernels(case: Case, params0: list[torch.Tensor], grads: Grads, *, foreach: bool = False) -> Result:
    """The generated Torch kernels (``symopt.torch.functional``): single-tensor, one param at a
    time as torch's for-loop; or multi-tensor (``foreach=True``) over the params that have a
    gradient at that step, as torch's foreach path."""
    from ..torch import functional

    rule = rules.get(case.rule)
    values = rule.values(**case.model_kwargs)
    named = {h.name: values[h.symbol] for h in rule.hyperparameters}
    kernel = getattr(functional, f"_{case.rule}")  # the generated kernel module behind it
    arguments = {k: named[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
    params = [p.clone() for p in params0]
    states: list[dict[str, torch.Tensor]] = [{} for _ in params]
    kept = rule.active_states(values)
    for step_grads in grads:
        active = [i for i, g in enumerate(step_grads) if g is not None]
        present = cast("list[torch.Tensor]", step_grads)  # read at the active indices only
        for i in active:
            if not states[i] and rule.stores_step:
                states[i]["step"] = torch.tensor(0.0)
                for s in kept:
                    init = float(s.initial.subs(values))
                    states[i][s.name] = torch.full_like(params[i], init, memory_format=torch.preserve_format)
        groups = [active] if foreach else [[i] for i in active]
        for group in groups:
            if not group:
                continue
            if not rule.stores_step:  # SGD: torch's functional takes the buffers (None before the first step)
                buffers = [states[i].get("momentum_buffer") for i in group] if kept else []
                functional.sgd(
                    [params[i] for i in group],
                    [present[i].clone() for i in group],
                    buffers,
                    foreach=foreach,
                    **arguments,
                )
                for i, buf in zip(group, buffers):
                    states[i]["momentum_buffer"] = cast(torch.Tensor, buf)  # made by the step
                continue
            lists = [[states[i].get(key) for i in group] for key in kernel.STATES]
            getattr(functional, case.rule)(
                [params[i] for i in group],
                [present[i].clone() for i in group],
                *lists,
                [states[i]["step"] for i in group],
                foreach=foreach,
                **arguments,
            )
    return params, states


def run_torch_foreach_kernels(case: Case, params0: list[torch.Tensor], grads: Grads) -> Result:
    """The generated multi-tensor kernels (``torch._foreach_*``)."""
    return run_torch_kernels(case, params0, grads, foreach=True)


def run_dropin_optimizer(case: Case, params0: list[torch.Tensor], grads: Grads, **code_path: Any) -> Result:
    """The drop-in optimizers (``symopt.torch.Adagrad`` / ``RMSprop`` / ``Adam`` / ``AdamW`` / ``SGD``), stepped
    like torch.optim."""
    from ..torch import optim

    cls = {
        "adagrad": optim.Adagrad,
        "rmsprop": optim.RMSprop,
        "adam": optim.Adam,
        "adamw": optim.AdamW,
        "sgd": optim.SGD,
    }[case.rule]
    params = [p.clone().requires_grad_(True) for p in params0]
    opt = cls(params, **case.math_kwargs, **code_path)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.clone()
        opt.step()
    return [p.detach() for p in params], [{k: v.detach() for k, v in opt.state[p].items()} for p in params]


def run_dropin_foreach(case: Case, params0: list[torch.Tensor], grads: Grads) -> Result:
    """The drop-in optimizers with ``foreach=True`` (the generated multi-tensor kernels)."""
    return run_dropin_optimizer(case, params0, grads, foreach=True)


def run_fused_optimizer(case: Case, params0: list[torch.Tensor], grads: Grads) -> Result:
    """The drop-in optimizers with ``fused=True`` on CPU: the generated fused C kernels
    (``symopt.fused``), one call per param group (RMSprop takes ``fused`` as a group option)."""
    from ..torch import optim

    cls = {
        "adagrad": optim.Adagrad,
        "rmsprop": optim.RMSprop,
        "sgd": optim.SGD,
        "adam": optim.Adam,
        "adamw": optim.AdamW,
    }[case.rule]
    params = [p.clone().requires_grad_(True) for p in params0]
    opt = cls([{"params": params, "fused": True}], **case.math_kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.clone()
        opt.step()
    return [p.detach() for p in params], [{k: v.detach() for k, v in opt.state[p].items()} for p in params]


IMPLEMENTATIONS: dict[str, Implementation] = {
    impl.name: impl
    for impl in (
        Implementation(
            "interpreter",
            run_interpreter,
            (torch.float64,),
            ("adagrad", "rmsprop", "sgd", "adam", "adamw"),
            "symopt.interpret.Interpreter, float64, from the model",
        ),
        Implementation(
            "numpy",
            run_numpy_kernels,
            (torch.float64, torch.float32),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "generated NumPy kernels (symopt.numpy)",
        ),
        Implementation(
            "torch",
            run_torch_kernels,
            (torch.float64, torch.float32, torch.bfloat16, torch.float16),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "generated Torch single-tensor kernels (symopt.torch.functional)",
            quick_dtypes=(torch.float64, torch.float32, torch.bfloat16, torch.float16),
        ),
        Implementation(
            "optim",
            run_dropin_optimizer,
            (torch.float64, torch.float32, torch.bfloat16, torch.float16),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "drop-in optimizers symopt.torch.Adagrad / RMSprop / Adam / AdamW / SGD",
        ),
        Implementation(
            "torch-foreach",
            run_torch_foreach_kernels,
            (torch.float64, torch.float32, torch.bfloat16, torch.float16),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "generated Torch multi-tensor kernels (torch._foreach_*)",
            mirrors="torch.optim(foreach=True)",
            quick_dtypes=(torch.float64, torch.float32, torch.bfloat16, torch.float16),
        ),
        Implementation(
            "optim-foreach",
            run_dropin_foreach,
            (torch.float64, torch.float32, torch.bfloat16, torch.float16),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "drop-in optimizers with foreach=True",
            mirrors="torch.optim(foreach=True)",
        ),
        Implementation(
            "fused",
            run_fused_optimizer,
            (torch.float64, torch.float32, torch.bfloat16, torch.float16),
            ("adagrad", "rmsprop", "adam", "adamw", "sgd"),
            "fused C kernels (symopt.fused) behind the drop-ins with fused=True",
            mirrors="torch.optim(fused=True)",
        ),  # float16/bfloat16 in the full matrix
    )
}


# -- comparison ----------------------------------------------------------------------------------
def compare(actual: Result, expected: Result) -> tuple[float, float, str]:
    """Max ULP (:func:`~symopt.verify.ulp.normwise_ulp`) and max absolute difference over params
    and every state buffer torch keeps. Infinite, with a note, where the two results do not
    have the same layout: another number of params or of state dicts, a state key missing or
    one torch does not keep, a tensor of another shape (or a param of another dtype), another
    step count."""
    worst_ulp, worst_abs, notes = 0.0, 0.0, []
    (params_a, states_a), (params_e, states_e) = actual, expected
    for what, got, want in (("params", params_a, params_e), ("state dicts", states_a, states_e)):
        if len(got) != len(want):
            notes.append(f"{len(got)} {what}, torch.optim has {len(want)}")
            worst_ulp = math.inf
    for i, (pa, pe) in enumerate(zip(params_a, params_e)):
        ulp, diff, note = _compare_tensors(f"param {i}", pa, pe, same_dtype=True)
        worst_ulp, worst_abs = max(worst_ulp, ulp), max(worst_abs, diff)
        notes += [note] if note else []
    for i, (sa, se) in enumerate(zip(states_a, states_e)):
        missing, extra = sorted(set(se) - set(sa)), sorted(set(sa) - set(se))
        if missing:
            notes.append(f"param {i}: missing state {', '.join(missing)}")
            worst_ulp = math.inf
        if extra:
            notes.append(f"param {i}: state {', '.join(extra)} that torch.optim does not keep")
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
            ulp, diff, note = _compare_tensors(f"param {i}: state {key}", a, e, same_dtype=False)
            worst_ulp, worst_abs = max(worst_ulp, ulp), max(worst_abs, diff)
            notes += [note] if note else []
    return worst_ulp, worst_abs, "; ".join(notes)


def _compare_tensors(label: str, a: torch.Tensor, e: torch.Tensor, *, same_dtype: bool) -> tuple[float, float, str]:
    """(normwise ULP, max abs difference, note) of one tensor against torch's; a state buffer is
    compared in torch's dtype (``same_dtype=False``), a param must have it."""
    if a.shape != e.shape:
        return math.inf, math.inf, f"{label} has shape {tuple(a.shape)}, torch.optim's {tuple(e.shape)}"
    if a.dtype != e.dtype:
        if same_dtype:
            return math.inf, math.inf, f"{label} has dtype {a.dtype}, torch.optim's {e.dtype}"
        a = a.to(e.dtype)
    return normwise_ulp(a, e), max_abs_difference(a, e), ""


def findings_of(case: Case, dtype: torch.dtype, expected: Result) -> list[str]:
    """Numeric hazards visible in torch.optim's own result: reported, never hidden."""
    found = []
    rule = rules.get(case.rule)
    eps = case.math_kwargs.get("eps", rule.hyperparameter("eps").default if "eps" in rule.symbols else None)
    if eps and float(torch.tensor(float(eps), dtype=dtype)) == 0.0:
        found.append(f"eps={eps:g} flushes to 0 in {str(dtype).replace('torch.', '')}")
    bad = [i for i, p in enumerate(expected[0]) if not bool(torch.isfinite(p).all())]
    if bad:
        which = f"params {bad}" if len(bad) <= 4 else f"{len(bad)} of {len(expected[0])} params"
        found.append(f"torch.optim's {which} are non-finite (compared NaN-for-NaN)")
    for i, st in enumerate(expected[1]):
        if "grad_avg" in st:
            variance = st["square_avg"].double() - st["grad_avg"].double() ** 2
            if bool((variance < 0).any()):
                found.append(f"param {i}: v - m^2 < 0 after the last step (sqrt gives NaN)")
    return found


def verify_case(
    case: Case,
    impl: Implementation,
    dtype: torch.dtype,
    *,
    steps: int = 100,
    device: str = "cpu",
    reference: str = "torch.optim(foreach=False)",
) -> Row:
    """Run ``impl`` and torch.optim on ``case`` and compare them (one row)."""
    return verify_many(case, [impl], dtype, [reference], steps=steps, device=device)[0]


def torch_paths_gap(
    case: Case,
    dtype: torch.dtype,
    steps: int,
    path: str,
    reference: str,
    reference_result: Callable[[str], Result | Exception],
) -> str:
    """A finding when torch.optim's own ``path`` and ``reference`` differ beyond the tolerance
    between torch's paths (measured as a row of an implementation bitwise to ``path`` reads), or
    when one of them raises where the other steps (torch's fused SGD on a group where one param's
    first gradient comes after the others')."""
    if path == reference:
        return ""
    a, b = reference_result(path), reference_result(reference)
    if isinstance(a, Exception) != isinstance(b, Exception):  # one of torch's paths refuses what the other steps
        raised, stepped = (reference, path) if isinstance(b, Exception) else (path, reference)
        exc = b if isinstance(b, Exception) else a
        return f"torch.optim's {raised} raises {type(exc).__name__}: {exc} where its {stepped} steps"
    if isinstance(a, Exception) or isinstance(b, Exception):  # both raise
        return ""
    ulp, _, _ = compare(a, b)
    bound = tolerance(dtype, "torch", reference, steps, same_operations=False)
    if ulp <= bound:
        return ""
    layout = " (non-contiguous params)" if case.transposed else ""
    if path == OPMATH:  # not one of torch's paths: the arithmetic of the 16-bit fused step
        return (
            f"the {path} and torch.optim's {reference} (its 16-bit rounding) differ by {ulp:g} ULP > {bound:g}{layout}"
        )
    return f"torch.optim's {path} and {reference} differ by {ulp:g} ULP > {bound:g}{layout}"


def verify_many(
    case: Case,
    impls: list[Implementation],
    dtype: torch.dtype,
    references: list[str] | None = None,
    *,
    steps: int = 100,
    device: str = "cpu",
) -> list[Row]:
    """Every implementation against ``references`` (None: each against the torch path it mirrors)
    on one case and dtype; each implementation and each torch path runs once.

    Where the reference disagrees with torch's own for-loop, or with the torch path the
    implementation follows, beyond the tolerance between torch's paths (torch.optim.Adagrad(
    fused=True) on non-contiguous params; foreach vs for-loop RMSprop in bf16), a row beyond its
    tolerance gets the status ``torch-disagrees`` with the finding instead of FAIL. Such an
    implementation then gets a row that decides — pass or FAIL, never excused by a torch path
    — against the path it follows: the one it mirrors, unless that row was itself excused (torch's
    path is off from torch's for-loop there); torch's for-loop then. A row against the operations
    the implementation issues (:meth:`Implementation.operations_for`, :data:`MIXED` included)
    is never excused and decides by itself."""
    params0 = make_params(case, dtype, device)
    grads = make_grads(case, params0, steps)
    results: dict[str, Result | Exception] = {}
    for impl in impls:
        try:
            results[impl.name] = impl.run(case, params0, grads)
        except Exception as exc:  # a crash is a failed row with its reason, never a skipped one
            results[impl.name] = exc
    wanted = {
        impl.name: list(references if references is not None else [impl.mirror_for(case, dtype)]) for impl in impls
    }
    for impl in impls:  # the bitwise row of a fused step against its own operations, whatever else is asked
        operations = impl.operations_for(case, dtype)
        if operations in (MIXED, OPMATH) and operations not in wanted[impl.name]:
            wanted[impl.name].append(operations)
    expected: dict[str, Result | Exception] = {}

    def reference_result(reference: str) -> Result | Exception:
        if reference not in expected:
            if reference in (MIXED, OPMATH):
                if reference == MIXED:
                    contiguous = reference_result("torch.optim(fused=True)")
                else:
                    try:
                        contiguous = opmath.run(case.rule, case.math_kwargs, params0, grads)
                    except Exception as exc:
                        contiguous = exc
                expected[reference] = mixed_result(params0, contiguous, reference_result(FOR_LOOP))
                return expected[reference]
            try:
                expected[reference] = run_torch_optim(case, params0, grads, reference)
            except Exception as exc:
                expected[reference] = exc
        return expected[reference]

    gaps: dict[tuple[str, str], str] = {}

    def gap(path: str, reference: str) -> str:
        if (path, reference) not in gaps:
            gaps[path, reference] = torch_paths_gap(case, dtype, steps, path, reference, reference_result)
        return gaps[path, reference]

    nudged_results: dict[str, Result] = {}

    def nudged(reference: str) -> Result:
        if reference not in nudged_results:
            nudged_results[reference] = nudged_run(case, params0, grads, reference)
        return nudged_results[reference]

    def rows_for(chosen: list[Implementation], which: dict[str, list[str]], excuse: bool) -> list[Row]:
        return _rows(case, chosen, dtype, device, steps, which, results, reference_result, gap, nudged, excuse)

    rows = rows_for(impls, wanted, excuse=True)
    by_name = {impl.name: impl for impl in impls}
    excused = list(dict.fromkeys(r.impl for r in rows if r.status == "torch-disagrees"))
    own = {
        n: [by_name[n].mirror_for(case, dtype)] for n in excused if by_name[n].mirror_for(case, dtype) not in wanted[n]
    }
    if own:
        rows += rows_for([by_name[n] for n in own], own, excuse=True)
    # The deciding row: against torch's for-loop where the row against the implementation's own
    # path was excused (a row against the for-loop itself is never excused by that path).
    # A row against the very operations the implementation issues (never excused) decides already.
    decide = {
        n: [FOR_LOOP]
        for n in excused
        if any(
            r.impl == n and r.reference == by_name[n].mirror_for(case, dtype) and r.status == "torch-disagrees"
            for r in rows
        )
        and not any(
            r.impl == n and r.reference == by_name[n].operations_for(case, dtype) and r.status != "torch-disagrees"
            for r in rows
        )
    }
    if decide:
        deciding = {(r.impl, r.reference): r for r in rows_for([by_name[n] for n in decide], decide, excuse=False)}
        rows = [deciding.pop((r.impl, r.reference), r) for r in rows] + list(deciding.values())
    return rows


def _rows(case, impls, dtype, device, steps, wanted, results, reference_result, gap, nudged, excuse) -> list[Row]:
    """One row per implementation and reference in ``wanted``; with ``excuse``, a row beyond its
    tolerance against a torch path that is off from torch's others is ``torch-disagrees``."""
    rows = []
    for reference in dict.fromkeys(r for refs in wanted.values() for r in refs):
        result = reference_result(reference)
        found = findings_of(case, dtype, result) if not isinstance(result, Exception) else []
        for impl in impls:
            if reference not in wanted[impl.name]:
                continue
            tol = tolerance(
                dtype, impl.name, reference, steps, same_operations=reference == impl.operations_for(case, dtype)
            )
            actual = results[impl.name]
            if isinstance(result, Exception):
                max_ulp, max_abs, note = math.inf, math.inf, f"reference failed: {type(result).__name__}: {result}"
            elif isinstance(actual, Exception):
                max_ulp, max_abs, note = math.inf, math.inf, f"{type(actual).__name__}: {actual}"
            else:
                max_ulp, max_abs, note = compare(actual, result)
            torch_note, status = "", "pass" if max_ulp <= tol else "FAIL"
            # (a torch path that raised issues nothing: where the for-loop steps, that is a finding)
            same_operations = reference == impl.operations_for(case, dtype) and not isinstance(result, Exception)
            if max_ulp > tol:
                if (
                    excuse and not same_operations
                ):  # torch's other paths never excuse a difference from the same operations
                    operations = impl.operations_for(case, dtype)
                    torch_note = (
                        gap(FOR_LOOP, reference)
                        or gap(impl.mirror_for(case, dtype), reference)
                        or (gap(operations, reference) if operations in (MIXED, OPMATH) else "")
                    )
                if torch_note:
                    status = "torch-disagrees"
                elif tol > 0 and not isinstance(result, Exception) and not isinstance(actual, Exception) and not note:
                    max_ulp, max_abs, tol, status, torch_note = _conditioned_row(
                        dtype, steps, result, actual, tol, nudged(reference)
                    )
                if status == "FAIL" and not excuse:
                    torch_note = "; ".join(
                        x
                        for x in [
                            torch_note,
                            f"the deciding row: {impl.mirror_for(case, dtype)} is off "
                            f"from torch's for-loop here, so the for-loop decides",
                        ]
                        if x
                    )
            note = "; ".join(x for x in [note, torch_note, *found] if x)
            rows.append(
                Row(
                    case.rule,
                    "torch",
                    case.name,
                    str(dtype).replace("torch.", ""),
                    device,
                    impl.name,
                    reference,
                    steps,
                    max_ulp,
                    max_abs,
                    tol,
                    status,
                    note,
                )
            )
    return rows


def undecided(actual: Result, expected: Result, nudged: Result) -> tuple[Result, int]:
    """``actual`` with torch.optim's values put at the elements a comparison cannot decide, and
    their count: where torch.optim's result ``expected`` or ``actual`` is non-finite and the
    other is not — or both are — *and* the 1-ULP nudges of :func:`nudged_run` change whether
    torch.optim's element is finite (which elements overflow or turn NaN depends on rounding
    there). Every other element, finite or not, stays as it is: compared as usual, NaN-for-NaN.
    Tensors whose layout differs from torch's are left as they are (:func:`compare` flags them)."""
    count = 0

    def settle(a: torch.Tensor, e: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        nonlocal count
        if a.shape != e.shape or n.shape != e.shape or not e.is_floating_point():
            return a
        finite = torch.isfinite(e)
        mask = (~finite | ~torch.isfinite(a)) & (torch.isfinite(n) != finite)
        count += int(mask.sum())
        return torch.where(mask, e.to(a.dtype), a) if bool(mask.any()) else a

    (params_a, states_a), (params_e, states_e), (params_n, states_n) = actual, expected, nudged
    if len(params_a) != len(params_e) or len(states_a) != len(states_e):
        return actual, 0
    params = [settle(a, e, n) for a, e, n in zip(params_a, params_e, params_n)]
    states = [
        {k: settle(v, se[k], sn[k]) if k in se and k != "step" else v for k, v in sa.items()}
        for sa, se, sn in zip(states_a, states_e, states_n)
    ]
    return (params, states), count


def _conditioned_row(
    dtype: torch.dtype, steps: int, result: Result, actual: Result, tol: float, nudged: Result
) -> tuple[float, float, float, str, str]:
    """(max ULP, max abs, tolerance, status, note) of a non-bitwise row beyond the linear-growth
    tolerance, element by element against the measured conditioning (:func:`nudged_run`, torch.optim
    re-run with 1-ULP nudges):

    - elements where torch.optim's result or the implementation's is non-finite are not compared
      only where the nudges change torch.optim's finiteness too (:func:`undecided`); there the
      row is ``ill-conditioned`` at best;
    - every other element is compared against the tolerance scaled to the ULP distance by which
      the nudges move torch.optim's result on the elements whose finiteness they do not change
      (:func:`~.tolerances.conditioned`); ``ill-conditioned`` where that tolerance is above 1 %
      of the scale. A row beyond the scaled tolerance fails."""
    settled, excused = undecided(actual, result, nudged)
    max_ulp, max_abs, note = compare(settled, result)
    moved = compare(undecided(nudged, result, nudged)[0], result)[0]
    scaled, uninformative = conditioned(tol, steps, dtype, moved)
    how = f"1-ULP nudges of every param and state element per step move torch.optim's result by {moved:g} ULP"
    if excused:
        how += (
            f" and change which elements are non-finite: {excused} element(s) where torch.optim's result or this "
            f"implementation's is non-finite are not compared"
        )
    if not math.isfinite(moved):
        return max_ulp, max_abs, tol, "ill-conditioned" if max_ulp <= tol else "FAIL", f"ill-conditioned: {how}"
    if max_ulp > scaled:
        failed = f"beyond even the tolerance scaled to the measured conditioning: {how}"
        return max_ulp, max_abs, scaled, "FAIL", "; ".join(x for x in [note, failed] if x)
    if excused:
        return (
            max_ulp,
            max_abs,
            scaled,
            "ill-conditioned",
            f"ill-conditioned: {how}; the others are within the tolerance",
        )
    if uninformative:
        return (
            max_ulp,
            max_abs,
            scaled,
            "ill-conditioned",
            f"ill-conditioned: {how} (a tolerance above 1 % of the scale)",
        )
    return max_ulp, max_abs, scaled, "pass", f"tolerance scaled to the measured conditioning: {how}"


def run_matrix(
    cases: Iterable[Case],
    impls: Iterable[Implementation],
    dtypes: Iterable[torch.dtype],
    *,
    steps: int = 100,
    device: str = "cpu",
    full: bool = False,
    progress: bool = True,
    jobs: int = 1,
) -> list[Row]:
    """Every case × dtype × implementation (that supports both) × torch.optim code path.

    ``jobs > 1`` runs the (case, dtype) comparisons in that many worker processes (spawned, each
    with ``torch.get_num_threads() // jobs`` threads, at least one) and returns the rows in the
    serial order: every comparison is seeded by its case alone, so the rows are the serial run's.
    The implementations are looked up by name in :data:`IMPLEMENTATIONS` there."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}")
    impls, dtypes = list(impls), list(dtypes)
    work = []
    for case in cases:
        for dtype in dtypes:
            chosen = [
                i for i in impls if case.rule in i.rules and dtype in i.dtypes and (full or dtype in i.quick_dtypes)
            ]
            if chosen:
                work.append((case, dtype, chosen))
    rows: list[Row] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(work), desc="verify", unit="case", leave=False)
    if jobs == 1 or len(work) < 2:
        for case, dtype, chosen in work:
            references = references_for(case.rule, full) if full else None
            rows += verify_many(case, chosen, dtype, references, steps=steps, device=device)
            if bar is not None:
                bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        named = [(case, dtype, [i.name for i in chosen]) for case, dtype, chosen in work]
        unknown = sorted({n for _, _, names in named for n in names if n not in IMPLEMENTATIONS})
        if unknown:
            raise ValueError(f"jobs > 1 runs implementations by their name in IMPLEMENTATIONS; not there: {unknown}")
        threads = max(1, torch.get_num_threads() // jobs)
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=get_context("spawn"), initializer=torch.set_num_threads, initargs=(threads,)
        ) as pool:
            futures = [pool.submit(_verify_one, item, steps, device, full) for item in named]
            for future in futures:  # in submission order: the serial order
                rows += future.result()
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    return rows


def _verify_one(item: tuple[Case, torch.dtype, list[str]], steps: int, device: str, full: bool) -> list[Row]:
    """One (case, dtype) comparison in a worker process of :func:`run_matrix`."""
    case, dtype, names = item
    references = references_for(case.rule, full) if full else None
    return verify_many(case, [IMPLEMENTATIONS[n] for n in names], dtype, references, steps=steps, device=device)
