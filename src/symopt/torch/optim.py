"""Drop-in ``torch.optim`` optimizers over the generated kernels.

``symopt.torch.Adagrad``, ``symopt.torch.RMSprop`` and ``symopt.torch.Adam`` take the same
arguments, defaults and validation messages as their torch.optim namesakes, keep the same
``state_dict`` layout (a state_dict saved from one loads into the other and training continues
bitwise identically), and step with the generated kernels of :mod:`symopt.kernels.torch`: the
single-tensor ``update`` (torch's for-loop) or, with ``foreach=True`` (``None`` on CUDA, as torch
chooses), the multi-tensor ``update_foreach`` (torch's ``_foreach_*`` path).

Everything rule-specific comes from the model and its generated kernel module (``STATES``,
``UPDATE_ARGUMENTS``, ``INIT_ARGUMENTS``, ``init_state``, ``update``): a new rule needs a model
file, ``symopt generate``, and a subclass that states torch's signature (see :class:`Adagrad`).
"""

from __future__ import annotations

import inspect
import warnings
from types import ModuleType
from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch.optim import Optimizer

from .. import rules as _rules
from ..kernels import torch as _kernels
from ._fused_group import FusedGroupPlan
from .functional import resolve_foreach, run_kernel

__all__ = ["Adagrad", "Adam", "RMSprop", "GeneratedOptimizer"]


class GeneratedOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` whose step is a generated kernel of the rule ``family``.

    Subclasses set ``family`` and ``eager_state`` (torch.optim.Adagrad creates its state in the
    constructor, RMSprop at the first step) and define ``__init__`` with torch's signature.
    """

    family: str = ""
    eager_state: bool = False
    #: torch.optim code-path switches symopt does not generate, with the value that is supported.
    unsupported: dict[str, Any] = {}
    #: torch keywords that hold several hyperparameters of the model (Adam's ``betas``).
    packed: dict[str, tuple[str, ...]] = {}

    def __init__(self, params: Any, hyperparameters: dict[str, Any], code_paths: dict[str, Any]) -> None:
        rule = _rules.get(self.family)
        rule.values(**self._unpack(hyperparameters))  # torch's checks, in torch's order, with torch's messages
        name = type(self).__name__
        for key, allowed in self.unsupported.items():
            if code_paths.get(key) not in (allowed, None):
                raise ValueError(
                    f"symopt.torch.{name} does not support {key}={code_paths[key]!r} (only {key}={allowed!r}); "
                    f"use torch.optim.{name} for it"
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

    @classmethod
    def _unpack(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``{"betas": (b1, b2)}`` → ``{"beta1": b1, "beta2": b2}``; other keys as they are."""
        out = {k: v for k, v in values.items() if k not in cls.packed}
        for key, names in cls.packed.items():
            if key in values:
                out.update(zip(names, values[key]))
        return out

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            for key, default in self.code_path_defaults().items():
                group.setdefault(key, default)

    @classmethod
    def code_path_defaults(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__).parameters
        hyper = {h.name for h in _rules.get(cls.family).hyperparameters} | set(cls.packed)
        return {k: p.default for k, p in signature.items() if k not in hyper and k not in ("self", "params")}

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimizer step (``closure`` re-evaluates the loss, as in torch.optim)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group.get("fused"):
                params = self._fused_step(group)
            else:
                params = [p for p in group["params"] if p.grad is not None]
            self._kernel_step(group, params)
        return loss

    def _kernel_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Step ``params`` (params of ``group`` that have a gradient) with the generated Torch
        kernels: single-tensor or multi-tensor as ``group["foreach"]`` says; sparse gradients one
        param at a time."""
        kernel = self.kernel
        values = self._unpack(group)
        arguments = {k: values[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
        dense, grads, states = [], [], []
        for p in params:
            state = self.state[p]
            if not state:
                state.update(self._fresh_state(p, group))
            if p.grad.is_sparse:
                state["step"] += 1
                sparse = dict(arguments, lr=_to_scalar(arguments["lr"])) if "lr" in arguments else dict(arguments)
                if "step" in kernel.UPDATE_ARGUMENTS:
                    sparse["step"] = state["step"].item()
                self._sparse_update(p, p.grad, state, sparse)
                continue
            dense.append(p)
            grads.append(p.grad)
            states.append(state)
        # The kernels take complex tensors and view them as real where torch.optim does.
        buffers = [[st.get(key) for st in states] for key in kernel.STATES]
        buffers = [None if all(b is None for b in bufs) else bufs for bufs in buffers]
        foreach = resolve_foreach(group.get("foreach"), dense)
        run_kernel(kernel, dense, grads, buffers, [st["step"] for st in states], arguments, foreach)

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")

    # -- fused=True on CPU: the generated fused C kernels (symopt.fused) -------------------------
    # Adagrad takes torch's ``fused=True``; RMSprop keeps torch's signature (which has no
    # ``fused``) and takes it as a param-group option: ``RMSprop([{"params": ps, "fused": True}])``.
    def _fused_step(self, group: dict[str, Any]) -> list[Tensor]:
        """Step the group's params that the fused C kernel takes — dense, contiguous float32 or
        float64 CPU tensors with a dense, contiguous gradient — with one call of it per dtype,
        and return the params with a gradient that it did not step, for the generated Torch
        kernels (the caller steps them in the same ``step()``): the non-contiguous, sparse,
        other-dtype ones; all of them with a tensor lr (torch computes with it in its dtype)
        or when no C compiler exists (a one-line warning, once).

        A group that the C kernel takes whole keeps its launch from step to step when it has one
        dtype (:class:`FusedGroupPlan`): a later step checks that the plan still describes the
        group and makes one call."""
        plans = self.__dict__.setdefault("_fused_plans", {})
        if len(plans) > len(self.param_groups):  # a group was removed: drop its plan (and its references)
            live = {id(g) for g in self.param_groups}
            for key in [k for k in plans if k not in live]:
                del plans[key]
        plan = plans.get(id(group))
        if plan is not None:
            if plan.group is group and plan.step(self, group):
                return []
            del plans[id(group)]
        from .. import fused as _fused

        params = [p for p in group["params"] if p.grad is not None]
        if any(p.device.type == "cuda" for p in params):
            return [] if self._triton_fused_step(group) else params
        if getattr(self, "_fused_unavailable", False) or isinstance(group.get("lr"), Tensor):
            return params
        fusable = [p for p in params if _takes_fused_c(p)]
        if not fusable:
            return params
        try:
            kernel = _fused.kernel(self.family)
        except _fused.CompilerMissing as exc:
            self._fused_unavailable = True
            _fused.build.warn_fallback(str(exc))
            return params
        if len(fusable) == len(params) and len({p.dtype for p in params}) == 1:
            for p in params:
                if not self.state[p]:
                    self.state[p].update(self._fresh_state(p, group))
            if FusedGroupPlan.supports(self, params):
                keys = [k for k in self.kernel.STATES if k in self.state[params[0]]]
                hyper = [k for k in self.kernel.UPDATE_ARGUMENTS if k != "step"]
                plan = plans[id(group)] = FusedGroupPlan(self, group, params, kernel, keys, hyper)
                if plan.step(self, group):
                    return []
                del plans[id(group)]
        self._launch_per_dtype(kernel, group, fusable)
        taken = {id(p) for p in fusable}
        return [p for p in params if id(p) not in taken]

    def _launch_per_dtype(self, kernel: Any, group: dict[str, Any], params: list[Tensor]) -> None:
        """One fused launch (C or Triton ``kernel.step``) per dtype of ``params``, after creating
        missing state and incrementing the step counters as torch's fused path does."""
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

    # -- fused=True on CUDA: the generated fused Triton kernels (symopt.fused.triton_launcher) ---
    def _triton_fused_step(self, group: dict[str, Any]) -> bool:
        """Step a group of CUDA tensors with one launch of the fused Triton kernel per dtype; False
        when the group is not for it (tensors on several devices or off CUDA, sparse,
        non-contiguous, not float32/float64, or a tensor lr: the generated Torch kernels step
        those) or Triton is not installed (a one-line warning, once)."""
        from ..fused import triton_launcher as _tl

        if getattr(self, "_triton_unavailable", False):
            return False
        params = [p for p in group["params"] if p.grad is not None]
        if isinstance(group.get("lr"), Tensor) or len({p.device for p in params}) != 1:
            return False
        if any(p.device.type != "cuda" or p.grad.is_sparse or p.dtype not in _tl.DTYPES
               or not (p.is_contiguous() and p.grad.is_contiguous()) for p in params):
            return False
        try:
            kernel = _tl.kernel(self.family)
        except _tl.TritonUnavailable as exc:
            self._triton_unavailable = True
            warnings.warn(f"symopt fused GPU backend unavailable ({exc}); using the Torch backend", RuntimeWarning,
                          stacklevel=4)
            return False
        self._launch_per_dtype(kernel, group, params)
        return True


def _takes_fused_c(p: Tensor) -> bool:
    """Whether the fused C kernel takes ``p`` (which has a gradient): a dense, contiguous float32
    or float64 CPU tensor whose gradient is dense and contiguous too."""
    from ..fused.launcher import DTYPES

    return (p.device.type == "cpu" and p.dtype in DTYPES and p.layout is torch.strided and p.is_contiguous()
            and not p.grad.is_sparse and p.grad.is_contiguous())


def _to_scalar(x: Any) -> Any:
    """torch.optim's ``_to_scalar``: a one-element tensor squeezed to 0-d."""
    return x.squeeze() if isinstance(x, Tensor) and x.dim() != 0 else x


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


class Adam(GeneratedOptimizer):
    """``torch.optim.Adam`` over the kernel generated from :func:`symopt.rules.adam`.

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²; v_max ← max(v_max, v) if amsgrad;
    w ← w − η/(1 − β₁^t) · m / (√v / √(1 − β₂^t) + ε) (v_max for v if amsgrad).
    ``betas`` are Python floats; ``decoupled_weight_decay=True`` (AdamW), ``capturable``,
    ``differentiable`` and ``fused`` are refused with a clear error.
    """

    family = "adam"
    unsupported = {"capturable": False, "differentiable": False, "fused": None, "decoupled_weight_decay": False}
    packed = {"betas": ("beta1", "beta2")}

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: Optional[bool] = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: Optional[bool] = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and foreach and not capturable:  # torch's first check
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        _rules.adam().values(lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay)  # torch's order
        if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, b in enumerate(betas):  # torch's checks of tensor betas, before symopt refuses them
            if isinstance(b, Tensor) and foreach and not capturable:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
            if isinstance(b, Tensor) and b.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        if isinstance(betas[0], Tensor):
            raise ValueError("symopt.torch.Adam takes betas as Python floats, not tensors; use torch.optim.Adam for it")
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize),
            dict(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                 decoupled_weight_decay=decoupled_weight_decay),
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")
