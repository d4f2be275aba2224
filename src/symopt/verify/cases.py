"""Verification cases as data: which configurations, on which tensors, with which gradients.

The configurations are torch's own: every ``OptimizerInput`` that
``torch.testing._internal.common_optimizers`` lists for the rule on the device, read at run time
(never copied). Params and gradients are seeded, so every implementation sees the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

#: The rules verified against torch.optim, with torch's optimizer and optim_db input functions.
VERIFIED = {
    "adagrad": ("Adagrad", "optim_inputs_func_adagrad", "optim_error_inputs_func_adagrad"),
    "rmsprop": ("RMSprop", "optim_inputs_func_rmsprop", "optim_error_inputs_func_rmsprop"),
    "sgd": ("SGD", "optim_inputs_func_sgd", "optim_error_inputs_func_sgd"),
}

#: Shapes of the params in one case: a matrix, a vector, a 0-d tensor and an empty tensor.
SHAPES: tuple[tuple[int, ...], ...] = ((4, 5), (7,), (), (0,))

#: torch-only keywords that do not change the mathematics (they select a code path).
CODE_PATH_KEYWORDS = ("foreach", "fused", "capturable", "differentiable")


@dataclass(frozen=True)
class Case:
    """One configuration of one rule: torch.optim keyword arguments and where they come from."""

    rule: str
    name: str
    kwargs: dict[str, Any] = field(hash=False)
    source: str = "optim_db"

    @property
    def math_kwargs(self) -> dict[str, Any]:
        """The keywords that are hyperparameters of the model (code-path switches removed)."""
        return {k: v for k, v in self.kwargs.items() if k not in CODE_PATH_KEYWORDS}

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "_").replace(",", "").replace("/", "")


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
    except ImportError as exc:  # expecttest is a dev extra
        raise RuntimeError(
            f"torch's optimizer test inputs need the dev extras ({exc}); run `make verify` or "
            "`pip install -e .[dev]`"
        ) from exc
    return common


def make_params(dtype: torch.dtype, device: str = "cpu", seed: int = 0, shapes=SHAPES) -> list[torch.Tensor]:
    """Seeded params (standard normal, drawn in float64 then rounded to ``dtype``)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device) for s in shapes]


def make_grads(params: list[torch.Tensor], steps: int, seed: int = 1, scale: float = 1.0) -> list[list[torch.Tensor]]:
    """``steps`` seeded gradients for each param (normal × ``scale``, rounded to the param dtype)."""
    gen = torch.Generator().manual_seed(seed)
    return [
        [(torch.randn(p.shape, generator=gen, dtype=torch.float64) * scale).to(dtype=p.dtype, device=p.device) for p in params]
        for _ in range(steps)
    ]
