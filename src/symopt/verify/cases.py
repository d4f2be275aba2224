"""Verification cases as data: which configurations, on which tensors, with which gradients.

The configurations are torch's own: every ``OptimizerInput`` that
``torch.testing._internal.common_optimizers`` lists for the rule on the device, read at run time
(never copied). Params and gradients are seeded, so every implementation sees the same numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import torch

#: The rules verified against torch.optim, with torch's optimizer and optim_db input functions.
VERIFIED = {
    "adagrad": ("Adagrad", "optim_inputs_func_adagrad", "optim_error_inputs_func_adagrad"),
    "rmsprop": ("RMSprop", "optim_inputs_func_rmsprop", "optim_error_inputs_func_rmsprop"),
    "sgd": ("SGD", "optim_inputs_func_sgd", "optim_error_inputs_func_sgd"),
    "adam": ("Adam", "optim_inputs_func_adam", "optim_error_inputs_func_adam"),
    "adamw": ("AdamW", "optim_inputs_func_adamw", "optim_error_inputs_func_adamw"),
}

#: Shapes of the params in one case: a matrix, a vector, a 0-d tensor and an empty tensor.
SHAPES: tuple[tuple[int, ...], ...] = ((4, 5), (7,), (), (0,))

#: torch keywords that hold several hyperparameters of a model: keyword -> the model's names
PACKED = {"betas": ("beta1", "beta2")}
#: torch-only keywords that do not change the mathematics (they select a code path).
CODE_PATH_KEYWORDS = ("foreach", "fused", "capturable", "differentiable")


@dataclass(frozen=True)
class Case:
    """One configuration of one rule: torch.optim keyword arguments and the tensors it runs on.

    ``grad_scale`` multiplies standard-normal gradients; at the steps in ``zero_grad_steps`` the
    gradient is 0, at the steps in ``none_grad_steps`` the first param has no gradient (torch skips
    it); ``transposed`` makes the 2-d params non-contiguous views.
    """

    rule: str
    name: str
    kwargs: dict[str, Any] = field(hash=False, compare=False)
    source: str = "optim_db"
    shapes: tuple[tuple[int, ...], ...] = SHAPES
    grad_scale: float = 1.0
    zero_grad_steps: tuple[int, ...] = ()
    none_grad_steps: tuple[int, ...] = ()
    transposed: bool = False
    seed: int = 0

    @property
    def math_kwargs(self) -> dict[str, Any]:
        """The keywords that are hyperparameters of the model (code-path switches removed)."""
        return {k: v for k, v in self.kwargs.items() if k not in CODE_PATH_KEYWORDS}

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """:attr:`math_kwargs` by the model's names, for the kernels and the interpreter: a torch
        keyword that packs several hyperparameters (Adam's ``betas``) unpacked (:data:`PACKED`)."""
        out: dict[str, Any] = {}
        for k, v in self.math_kwargs.items():
            if k in PACKED:
                out.update(zip(PACKED[k], v))
            else:
                out[k] = v
        return out

    def describe(self) -> str:
        """The case in one line: keywords and the gradient regime."""
        kw = ", ".join(f"{k}={_short(v)}" for k, v in self.math_kwargs.items()) or "defaults"
        extra = [f"|g|~{self.grad_scale:g}"]
        if self.zero_grad_steps:
            extra.append(f"g=0 at {len(self.zero_grad_steps)} steps")
        if self.none_grad_steps:
            extra.append(f"no grad at {len(self.none_grad_steps)} steps")
        if self.transposed:
            extra.append("non-contiguous")
        if self.shapes != SHAPES:
            extra.append(f"{len(self.shapes)} tensors")
        return f"{kw}; {'; '.join(extra)}"


def _short(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return f"tensor({v.item():g})"
    return f"{v:g}" if isinstance(v, float) else str(v)


def torch_optimizer_class(rule: str) -> type[torch.optim.Optimizer]:
    return getattr(torch.optim, VERIFIED[rule][0])


def optim_db_inputs(rule: str, device: str = "cpu") -> list[Case]:
    """torch's ``optim_inputs_func_<rule>(device)``: the configurations torch tests itself."""
    common = _common_optimizers()
    inputs = getattr(common, VERIFIED[rule][1])(device=device)
    cases = []
    for inp in inputs:
        if any(k in inp.kwargs for k in ("capturable", "fused")) and device == "cpu":
            continue
        cases.append(Case(rule, inp.desc, dict(inp.kwargs)))
    return cases


def optim_db_error_inputs(rule: str, device: str = "cpu") -> list[tuple[dict[str, Any], type, str]]:
    """torch's construction-error inputs for the rule: ``(kwargs, error type, error regex)``."""
    common = _common_optimizers()
    out = []
    for err in getattr(common, VERIFIED[rule][2])(device=device, dtype=torch.float32):
        if err.error_on != common.OptimizerErrorEnum.CONSTRUCTION_ERROR or err.optimizer_error_input.params is not None:
            continue
        out.append((dict(err.optimizer_error_input.kwargs), err.error_type, err.error_regex))
    return out


def _common_optimizers():
    try:
        import torch.testing._internal.common_optimizers as common
    except ImportError as exc:  # it imports expecttest, a runtime dependency of symopt
        raise RuntimeError(
            f"torch's optim_db inputs (torch.testing._internal.common_optimizers) cannot be imported ({exc}); "
            "symopt declares expecttest for them: `pip install expecttest` or reinstall symopt with its dependencies"
        ) from exc
    return common


def make_params(case: Case, dtype: torch.dtype, device: str = "cpu") -> list[torch.Tensor]:
    """Seeded params (standard normal, drawn in float64 then rounded to ``dtype``); 2-d params of a
    ``transposed`` case are non-contiguous views."""
    gen = torch.Generator().manual_seed(case.seed)
    out = []
    for shape in case.shapes:
        if case.transposed and len(shape) == 2:
            x = torch.randn(shape[::-1], generator=gen, dtype=torch.float64).to(dtype=dtype, device=device).t()
        else:
            x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
        out.append(x)
    return out


def make_grads(case: Case, params: list[torch.Tensor], steps: int) -> list[list[torch.Tensor | None]]:
    """``steps`` seeded gradients per param, rounded to the param dtype; ``None`` where the case
    says a param has no gradient at that step (torch then skips it)."""
    gen = torch.Generator().manual_seed(case.seed + 1)
    out: list[list[torch.Tensor | None]] = []
    for step in range(1, steps + 1):
        row: list[torch.Tensor | None] = []
        for i, p in enumerate(params):
            g = torch.randn(p.shape, generator=gen, dtype=torch.float64) * case.grad_scale
            if step in case.zero_grad_steps:
                g.zero_()
            row.append(None if (i == 0 and step in case.none_grad_steps) else g.to(dtype=p.dtype, device=p.device))
        out.append(row)
    return out


# -- named edge cases ------------------------------------------------------------------------------
_EVERY_THIRD = tuple(range(3, 101, 3))
_SOME = (2, 17, 50, 51, 99)

#: rule -> (name, keywords, extra Case fields): the edges the issue names, every run.
EDGES: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {
    "adagrad": [
        ("edge: eps=0, nonzero grads", {"eps": 0.0}, {}),
        ("edge: eps=0, zero grads at steps", {"eps": 0.0}, {"zero_grad_steps": _SOME}),
        ("edge: tensor lr with lr_decay", {"lr": torch.tensor(0.05), "lr_decay": 0.1}, {}),
        ("edge: large weight_decay", {"weight_decay": 10.0, "lr": 0.5}, {}),
        ("edge: weight_decay=1", {"weight_decay": 1.0}, {}),
        ("edge: maximize, weight_decay", {"maximize": True, "weight_decay": 0.1}, {}),
        ("edge: grads 1e-8", {}, {"grad_scale": 1e-8}),
        ("edge: grads 1e4", {}, {"grad_scale": 1e4}),
        ("edge: no grad at some steps", {"initial_accumulator_value": 0.1}, {"none_grad_steps": _SOME}),
        ("edge: 40 small non-contiguous tensors", {"lr": 0.1}, {"shapes": ((2, 3),) * 40, "transposed": True}),
    ],
    "rmsprop": [
        ("edge: alpha=0", {"alpha": 0.0}, {}),
        ("edge: alpha=1-1e-6", {"alpha": 1 - 1e-6}, {}),
        ("edge: eps=0, nonzero grads", {"eps": 0.0}, {}),
        ("edge: eps=0, zero grads every 3rd step", {"eps": 0.0}, {"zero_grad_steps": _EVERY_THIRD}),
        ("edge: centered, momentum, maximize", {"centered": True, "momentum": 0.9, "maximize": True}, {}),
        ("edge: tensor lr, momentum", {"lr": torch.tensor(0.003), "momentum": 0.5}, {}),
        ("edge: large weight_decay", {"weight_decay": 10.0}, {}),
        ("edge: weight_decay=1, momentum=1", {"weight_decay": 1.0, "momentum": 1.0}, {}),
        ("edge: centered, grads 1e-8", {"centered": True}, {"grad_scale": 1e-8}),
        ("edge: grads 1e4", {}, {"grad_scale": 1e4}),
        ("edge: no grad at some steps, centered", {"centered": True, "momentum": 0.1}, {"none_grad_steps": _SOME}),
        ("edge: 40 small non-contiguous tensors", {"momentum": 0.5}, {"shapes": ((2, 3),) * 40, "transposed": True}),
    ],
    "sgd": [
        ("edge: nesterov, weight_decay", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, {}),
        ("edge: dampening, maximize", {"momentum": 0.5, "dampening": 0.5, "maximize": True}, {}),
        ("edge: tensor lr, momentum", {"lr": torch.tensor(0.01), "momentum": 0.9}, {}),
        ("edge: no grad at some steps, momentum", {"momentum": 0.9}, {"none_grad_steps": _SOME}),
        ("edge: momentum=1, dampening=1", {"momentum": 1.0, "dampening": 1.0}, {}),
        ("edge: tensor weight_decay, momentum", {"weight_decay": torch.tensor(0.1), "momentum": 0.5}, {}),
        ("edge: grads 1e-8, nesterov", {"momentum": 0.9, "nesterov": True}, {"grad_scale": 1e-8}),
    ],
    "adam": [
        # a guard `weight_decay != 0` written as `!= 1` (a kernel mutant) differs only here
        ("edge: weight_decay=1", {"weight_decay": 1.0}, {}),
        ("edge: amsgrad, maximize, weight_decay=1", {"amsgrad": True, "maximize": True, "weight_decay": 1.0}, {}),
        # torch's lerp (the first moment) takes its second formula only for 1 − β₁ ≥ 1/2
        ("edge: beta1=0.3 (lerp's second formula)", {"betas": (0.3, 0.999)}, {}),
    ],
    "adamw": [
        ("edge: lr·weight_decay = 1 (w is zeroed before the update)", {"lr": 0.5, "weight_decay": 2.0}, {}),
        ("edge: large weight_decay, amsgrad", {"weight_decay": 10.0, "lr": 1e-3, "amsgrad": True}, {}),
        ("edge: weight_decay=0", {"weight_decay": 0.0}, {}),
        ("edge: maximize, eps=0", {"maximize": True, "eps": 0.0}, {}),
        ("edge: grads 1e4", {}, {"grad_scale": 1e4}),
        ("edge: no grad at some steps", {"amsgrad": True}, {"none_grad_steps": _SOME}),
        ("edge: weight_decay=1", {"weight_decay": 1.0}, {}),  # appended: the earlier edges keep their seeds
        ("edge: beta1=0.3 (lerp's second formula)", {"betas": (0.3, 0.999), "weight_decay": 0.0}, {}),
    ],
}


#: The switches of the fused kernels' structural variants (each guard of the model off and on;
#: and Adagrad's lr_decay, which its step size reads): rule -> {keyword: its value when on}.
VARIANT_SWITCHES: dict[str, dict[str, Any]] = {
    "adagrad": {"maximize": True, "weight_decay": 0.1, "lr_decay": 0.05},
    "rmsprop": {"centered": True, "momentum": 0.9, "maximize": True, "weight_decay": 0.1},
    "sgd": {"momentum": 0.9, "weight_decay": 0.1, "nesterov": True, "maximize": True},
    "adam": {"weight_decay": 0.1, "amsgrad": True, "maximize": True},
    "adamw": {"weight_decay": 0.1, "amsgrad": True, "maximize": True},
}
#: a switch's value when off where torch's default turns it on (AdamW's weight_decay = 0.01)
VARIANT_OFF: dict[str, dict[str, Any]] = {"adamw": {"weight_decay": 0.0}}
#: combinations torch refuses: rule -> (switch, the switch it needs on) (SGD's nesterov needs momentum)
VARIANT_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {"sgd": (("nesterov", "momentum"),)}


def switches_on(rule: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
    """The switches of :data:`VARIANT_SWITCHES` that ``kwargs`` turn on (a nonzero value or True;
    a switch ``kwargs`` leaves out has torch's default)."""
    values = {**torch_defaults(rule), **kwargs}
    return tuple(k for k in VARIANT_SWITCHES[rule] if values.get(k))


def torch_defaults(rule: str) -> dict[str, Any]:
    """torch.optim's default keyword values of ``rule``'s optimizer."""
    import inspect

    return {
        k: v.default
        for k, v in inspect.signature(torch_optimizer_class(rule).__init__).parameters.items()
        if v.default is not inspect.Parameter.empty
    }


def _variant_edges(
    rule: str, named: list[tuple[str, dict[str, Any], dict[str, Any]]]
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """One edge on contiguous params, with a float lr (the fused C kernel steps it), for every
    combination of ``VARIANT_SWITCHES[rule]`` that no edge in ``named`` steps there already."""
    covered = {
        switches_on(rule, kw)
        for _, kw, extra in named
        if not extra.get("transposed") and not isinstance(kw.get("lr"), torch.Tensor)
    }
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    off = VARIANT_OFF.get(rule, {})
    for on in itertools.product((False, True), repeat=len(VARIANT_SWITCHES[rule])):
        chosen = {k for k, flag in zip(VARIANT_SWITCHES[rule], on) if flag}
        if any(k in chosen and need not in chosen for k, need in VARIANT_NEEDS.get(rule, ())):
            continue
        kwargs = {
            k: (v if k in chosen else off[k]) for k, v in VARIANT_SWITCHES[rule].items() if k in chosen or k in off
        }
        if switches_on(rule, kwargs) not in covered:
            out.append(
                (f"edge: variant {', '.join(k for k in VARIANT_SWITCHES[rule] if k in chosen) or 'plain'}", kwargs, {})
            )
    return out


#: Branches inside a variant that the default hyperparameters never take: rule -> (the switch
#: that reads them, the values that take them). RMSprop's centered average is torch's ``lerp_``
#: with weight 1 − α, which computes start + w·(end − start) for |w| < 1/2 and
#: end − (end − start)·(1 − w) otherwise: α = 0.99 only ever takes the first (a mutant of the
#: second survived every other row).
VARIANT_BRANCHES: dict[str, tuple[str, dict[str, Any]]] = {
    "rmsprop": ("centered", {"alpha": 0.3}),
}


def _branch_edges(rule: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """One edge per variant with :data:`VARIANT_BRANCHES`' switch on, at the values that take
    its other branch, on contiguous params with a float lr."""
    switch, values = VARIANT_BRANCHES[rule]
    others = [k for k in VARIANT_SWITCHES[rule] if k != switch]
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for on in itertools.product((False, True), repeat=len(others)):
        kwargs = {switch: VARIANT_SWITCHES[rule][switch]}
        kwargs.update({k: VARIANT_SWITCHES[rule][k] for k, flag in zip(others, on) if flag})
        named = ", ".join(f"{k}={v}" for k, v in values.items())
        out.append((f"edge: variant {', '.join(kwargs)}, {named}", {**kwargs, **values}, {}))
    return out


for _rule in VARIANT_SWITCHES:  # appended: the earlier edges keep their seeds
    EDGES[_rule] += _variant_edges(_rule, EDGES[_rule])
for _rule in VARIANT_BRANCHES:
    EDGES[_rule] += _branch_edges(_rule)
del _rule


#: Hyperparameters whose step size lands on a rounding midpoint, so that a fused kernel computing
#: it with one rounding more or less than torch's fused kernel is off in that dtype (not only in
#: float64): rule -> [(what lands there, the values, the switches to cross them with)].
#: Adagrad: η_t = η/(1 + (t − 1)γ) at t = 4, with these (η, γ) found by search: the step size the
#: kernel holds — float32(−η_t), and float16/bfloat16(float32(−η_t)), the constant of the 16-bit
#: kernels — differs between the denominator as one fma (torch's fused CPU kernel) and as a
#: product then a sum; at default values no fused row of that dtype tells the two apart.
#: ``tests/test_verify.py`` re-derives that property in exact rational arithmetic.
ROUNDING_EDGES: dict[str, list[tuple[str, dict[str, Any], tuple[str, ...]]]] = {
    "adagrad": [
        (
            "eta_t on a float32 rounding midpoint at t=4",
            {"lr": 0.04826390132795619, "lr_decay": 0.07484869771192577},
            ("maximize", "weight_decay"),
        ),
        (
            "eta_t on a float16 rounding midpoint at t=4",
            {"lr": 0.050010193856428416, "lr_decay": 0.18077927471391878},
            ("maximize", "weight_decay"),
        ),
        (
            "eta_t on a bfloat16 rounding midpoint at t=4",
            {"lr": 0.05030654169545037, "lr_decay": 0.14866803216942445},
            ("maximize", "weight_decay"),
        ),
    ],
}


def _rounding_edges(rule: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """One edge per combination of each :data:`ROUNDING_EDGES` entry's switches, at its values."""
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for name, values, switches in ROUNDING_EDGES[rule]:
        for on in itertools.product((False, True), repeat=len(switches)):
            kwargs = {k: VARIANT_SWITCHES[rule][k] for k, flag in zip(switches, on) if flag}
            out.append((f"edge: {name}{''.join(', ' + k for k in kwargs)}", {**values, **kwargs}, {}))
    return out


for _rule in ROUNDING_EDGES:
    EDGES[_rule] += _rounding_edges(_rule)
del _rule


def edges(rule: str) -> list[Case]:
    """The named edge cases of ``rule`` (eps = 0, alpha at 0 and near 1, tensor lr, large weight
    decay, momentum with centered and maximize, gradients from 1e-8 to 1e4, zero gradients, steps
    without a gradient, many small non-contiguous tensors), and every structural variant of the
    fused kernels on contiguous params."""
    return [
        Case(rule, name, kwargs, source="edge", seed=100 + k, **extra)
        for k, (name, kwargs, extra) in enumerate(EDGES.get(rule, []))
    ]


# -- the seeded random sweep ---------------------------------------------------------------------
GRAD_SCALES = (1e-8, 1e-4, 1e-2, 1.0, 1e2, 1e4)


def sweep(rule: str, count: int, seed: int = 0) -> list[Case]:
    """``count`` seeded random configurations of ``rule`` over every option, with the edges
    (eps = 0, alpha = 0 and close to 1, tensor lr, large weight decay, momentum with centered,
    maximize), gradient scales from 1e-8 to 1e4, zero gradients, steps with no gradient, empty,
    0-d and non-contiguous params, and many small tensors."""
    import random

    rnd = random.Random(f"{rule}-{seed}")
    cases = []
    for k in range(count):
        kwargs = _SAMPLERS[rule](rnd)
        shapes = ((3,),) * 40 if rnd.random() < 0.1 else SHAPES
        steps_with = lambda p: tuple(sorted(rnd.sample(range(1, 101), 5))) if rnd.random() < p else ()
        case = Case(
            rule,
            f"sweep-{k:03d}",
            kwargs,
            source="sweep",
            shapes=shapes,
            grad_scale=rnd.choice(GRAD_SCALES),
            zero_grad_steps=steps_with(0.2),
            none_grad_steps=steps_with(0.2),
            transposed=rnd.random() < 0.3,
            seed=1000 + k,
        )
        cases.append(case)
    return cases


def _lr(rnd) -> Any:
    lr = 10 ** rnd.uniform(-4, 0)
    return torch.tensor(lr) if rnd.random() < 0.15 else lr


def _eps(rnd) -> float:
    return rnd.choice((0.0, 1e-10, 1e-8, 1e-6, 1e-3))


def _weight_decay(rnd) -> float:
    return rnd.choice((0.0, 0.0, 1e-4, 1e-2, 0.1, 10.0))


def _adagrad(rnd) -> dict[str, Any]:
    return {
        "lr": _lr(rnd),
        "lr_decay": rnd.choice((0.0, 0.0, 1e-3, 0.5)),
        "weight_decay": _weight_decay(rnd),
        "initial_accumulator_value": rnd.choice((0.0, 0.0, 0.1, 1.0)),
        "eps": _eps(rnd),
        "maximize": rnd.random() < 0.3,
    }


def _rmsprop(rnd) -> dict[str, Any]:
    return {
        "lr": _lr(rnd),
        "alpha": rnd.choice((0.0, 0.5, 0.9, 0.99, 0.999, 1 - 1e-6)),
        "eps": _eps(rnd),
        "weight_decay": _weight_decay(rnd),
        "momentum": rnd.choice((0.0, 0.0, 0.1, 0.9)),
        "centered": rnd.random() < 0.4,
        "maximize": rnd.random() < 0.3,
    }


def _sgd(rnd) -> dict[str, Any]:
    momentum = rnd.choice((0.0, 0.5, 0.9))
    dampening = rnd.choice((0.0, 0.0, 0.5)) if momentum else 0.0
    return {
        "lr": _lr(rnd),
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": _weight_decay(rnd),
        "nesterov": bool(momentum) and dampening == 0.0 and rnd.random() < 0.5,
        "maximize": rnd.random() < 0.3,
    }


def _adam(rnd) -> dict[str, Any]:
    # betas stay at torch's default (the model's beta1/beta2 are torch's betas=(β1, β2) tuple), and
    # lr a float: torch.optim.Adam refuses a tensor lr on its foreach path (the --full matrix).
    return {
        "lr": 10 ** rnd.uniform(-4, 0),
        "eps": _eps(rnd),
        "weight_decay": _weight_decay(rnd),
        "amsgrad": rnd.random() < 0.4,
        "maximize": rnd.random() < 0.3,
    }


def _adamw(rnd) -> dict[str, Any]:
    # decoupled weight decay: lr·λ from 0 to 1 (w ← w(1 − ηλ) zeroes w at 1)
    kwargs = _adam(rnd)
    kwargs["weight_decay"] = rnd.choice((0.0, 1e-2, 1e-2, 0.1, 1.0))
    return kwargs


_SAMPLERS = {"adagrad": _adagrad, "rmsprop": _rmsprop, "sgd": _sgd, "adam": _adam, "adamw": _adamw}
