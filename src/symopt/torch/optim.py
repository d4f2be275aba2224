"""Drop-in ``torch.optim`` optimizers over the generated kernels.

``symopt.torch.Adagrad`` and ``symopt.torch.RMSprop`` take the same arguments, defaults and
validation messages as ``torch.optim.Adagrad`` and ``torch.optim.RMSprop``, keep the same
``state_dict`` layout (a state_dict saved from one loads into the other and training continues
bitwise identically), and step with the generated single-tensor kernels of
:mod:`symopt.kernels.torch`.

Everything rule-specific comes from the model and its generated kernel module (``STATES``,
``UPDATE_ARGUMENTS``, ``INIT_ARGUMENTS``, ``init_state``, ``update``): a new rule needs a model
file, ``symopt generate``, and a subclass that states torch's signature (see :class:`Adagrad`).
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch.optim import Optimizer

from .. import rules as _rules
from ..kernels import torch as _kernels

__all__ = ["Adagrad", "RMSprop", "GeneratedOptimizer"]


class GeneratedOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose step is a generated kernel of the rule ``family``.

    Subclasses set ``family`` and ``eager_state`` (torch.optim.Adagrad creates its state in the
    constructor, RMSprop at the first step) and define ``__init__`` with torch's signature.
    """

    family: str = ""
    eager_state: bool = False
    #: torch.optim code-path switches symopt does not generate, with the value that is supported.
    unsupported: dict[str, Any] = {}

    def __init__(self, params: Any, hyperparameters: dict[str, Any], code_paths: dict[str, Any]) -> None:
        rule = _rules.get(self.family)
        rule.values(**hyperparameters)  # torch's checks, in torch's order, with torch's messages
        name = type(self).__name__
        for key, allowed in self.unsupported.items():
            if code_paths.get(key) not in (allowed, None):
                raise ValueError(
                    f"symopt.torch.{name} does not support {key}={code_paths[key]!r} (only {key}={allowed!r}); "
                    f"use torch.optim.{name} for it"
                )
        if code_paths.get("foreach"):
            raise ValueError(
                f"symopt.torch.{name}: only the single-tensor kernels are generated so far; pass foreach=False or None"
            )
        super().__init__(params, {**hyperparameters, **code_paths})
        if self.eager_state:
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p].update(self._fresh_state(p, group))

    # -- the kernel contract --------------------------------------------------------------------
    @property
    def kernel(self) -> ModuleType:
        return getattr(_kernels, self.family)

    def _fresh_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        return self.kernel.init_state(p, **{k: group[k] for k in self.kernel.INIT_ARGUMENTS})

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, default in self.code_path_defaults().items():
                group.setdefault(key, default)

    @classmethod
    def code_path_defaults(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__).parameters
        hyper = {h.name for h in _rules.get(cls.family).hyperparameters}
        return {k: p.default for k, p in signature.items() if k not in hyper and k not in ("self", "params")}

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimizer step (``closure`` re-evaluates the loss, as in torch.optim)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        kernel = self.kernel
        for group in self.param_groups:
            if group.get("fused") and self._fused_step(group):
                continue
            arguments = {k: group[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
            lr = arguments.get("lr")
            if isinstance(lr, Tensor) and lr.dim() != 0:  # torch.optim's _to_scalar
                arguments["lr"] = lr.squeeze()
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(self._fresh_state(p, group))
                state["step"] += 1
                if "step" in kernel.UPDATE_ARGUMENTS:
                    arguments["step"] = state["step"].item()
                if p.grad.is_sparse:
                    self._sparse_update(p, p.grad, state, arguments)
                    continue
                # The kernel takes complex tensors and views them as real where torch.optim does.
                kernel.update(p, p.grad, *(state.get(key) for key in kernel.STATES), **arguments)
        return loss

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")

    # -- fused=True on CPU: the generated fused C kernels (symopt.fused) -------------------------
    # Adagrad takes torch's ``fused=True``; RMSprop keeps torch's signature (which has no
    # ``fused``) and takes it as a param-group option: ``RMSprop([{"params": ps, "fused": True}])``.
    def _fused_step(self, group: dict[str, Any]) -> bool:
        """Step the whole group with one call of the fused C kernel per dtype; False when the
        group is not for it (a tensor off the CPU, sparse, or not float32/float64: the generated
        Torch kernels step those) or no C compiler exists (a one-line warning, once)."""
        from .. import fused as _fused

        if getattr(self, "_fused_unavailable", False):
            return False
        params = [p for p in group["params"] if p.grad is not None]
        if any(p.device.type != "cpu" or p.grad.is_sparse or p.dtype not in _fused.launcher.DTYPES for p in params):
            return False
        try:
            kernel = _fused.kernel(self.family)
        except _fused.CompilerMissing as exc:
            self._fused_unavailable = True
            _fused.build.warn_fallback(str(exc))
            return False
        hyper = {k: group[k] for k in self.kernel.UPDATE_ARGUMENTS if k != "step"}
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for p in params:
            by_dtype.setdefault(p.dtype, []).append(p)
        for same in by_dtype.values():
            states = []
            for p in same:
                state = self.state[p]
                if not state:
                    state.update(self._fresh_state(p, group))
                states.append(state)
            steps = [st["step"] for st in states]
            torch._foreach_add_(steps, 1)
            buffers = {k: [st[k] for st in states] for k in self.kernel.STATES if k in states[0]}
            kernel.step(same, [p.grad for p in same], buffers, torch.stack(steps), **hyper)
        return True


class Adagrad(GeneratedOptimizer):
    """``torch.optim.Adagrad`` over the kernel generated from :func:`symopt.rules.adagrad`.

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    η_t = η / (1 + (t − 1)γ); G ← G + g²; w ← w − η_t g / (√G + ε).
    Sparse gradients are supported as in torch (the rows a gradient touches are updated with the
    same generated kernel; weight decay is refused, as torch refuses it).
    """

    family = "adagrad"
    eager_state = True
    unsupported = {"differentiable": False}

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: Optional[bool] = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: Optional[bool] = None,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                 initial_accumulator_value=initial_accumulator_value, maximize=maximize),
            dict(foreach=foreach, differentiable=differentiable, fused=fused),
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        """torch's sparse Adagrad: only the rows in ``grad``'s (coalesced) indices change."""
        if arguments["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        grad = grad.coalesce()
        rows = tuple(grad._indices())
        param_rows, sum_rows = p[rows], state["sum"][rows]
        self.kernel.update(param_rows, grad._values(), sum_rows, **arguments)
        p[rows] = param_rows
        state["sum"][rows] = sum_rows


class RMSprop(GeneratedOptimizer):
    """``torch.optim.RMSprop`` over the kernel generated from :func:`symopt.rules.rmsprop`.

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    v ← αv + (1 − α)g²; m ← m + (1 − α)(g − m) if centered; σ = √(v − m²) + ε (√v + ε if not
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """

    family = "rmsprop"
    unsupported = {"differentiable": False, "capturable": False}

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: Optional[bool] = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                 maximize=maximize),
            dict(capturable=capturable, foreach=foreach, differentiable=differentiable),
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError("RMSprop does not support sparse gradients")
