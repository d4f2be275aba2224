"""Drop-in ``torch.optim`` optimizers over the generated kernels.

``symopt.torch.Adagrad``, ``RMSprop``, ``Adam``, ``AdamW`` and ``SGD`` take the same
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

import functools
import importlib
import sys
import warnings
from types import ModuleType
from typing import Any, Callable, Optional, cast, overload

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import (
    _device_dtype_check_for_fused,
    _get_capturable_supported_devices,
    _get_scalar_dtype,
    _get_value,
    _use_grad_for_differentiable,
)

from .. import rules as _rules
from ..kernels import torch as _kernels
from ._fused_group import AmpKeywords, FusedGroupPlan
from .functional import resolve_foreach, run_kernel, validate

__all__ = ["Adagrad", "AdagradNorm", "Adam", "AdamW", "RMSprop", "SGD", "GeneratedOptimizer"]


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
    #: how torch steps a param with a sparse gradient: ``"refused"`` (:meth:`_sparse_update`
    #: raises torch's error), ``"same ops"`` (the ordinary kernels, whose ops take sparse tensors:
    #: SGD), ``"own path"`` (:meth:`_sparse_update`: Adagrad's ``update_sparse``).
    sparse_gradients: str = "refused"
    #: torch's ``__setstate__``: the param-group keys it fills in a state_dict saved by an older
    #: torch, with the values it fills (not always the constructor's: SGD fills ``fused=False``).
    setstate_defaults: dict[str, Any] = {}
    #: the group options under which torch's ``__setstate__`` puts a Python-number ``step`` on the
    #: param's device (in float32 where ``fused`` is one of them) instead of a CPU tensor.
    step_on_device_when: tuple[str, ...] = ()
    #: whether a sparse gradient sends its whole device-and-dtype group to the for-loop on the
    #: multi-tensor path (torch's ``_multi_tensor_adagrad`` calls ``_single_tensor_adagrad`` then)
    sparse_takes_the_group: bool = False
    #: whether torch's multi-tensor path lists "xla" among the devices ``capturable=True`` takes
    #: (RMSprop's does, Adam's does not); its for-loop always does
    capturable_foreach_lists_xla: bool = True
    #: whether torch's multi-tensor path refuses ``differentiable=True`` (an AssertionError,
    #: "_foreach ops don't support autograd": Adagrad, RMSprop, Adam); SGD's takes no such flag and runs its
    #: foreach ops with autograd recording
    foreach_refuses_differentiable: bool = True
    #: whether torch refuses a ``step`` that requires grad in ``differentiable`` mode (Adam's
    #: ``_init_group``: the step enters its bias corrections as a tensor)
    refuses_step_requiring_grad: bool = False
    #: state initializers torch reads from the constructor's values (``self.defaults``), not from
    #: the param's group: Adagrad's ``initial_accumulator_value`` (its ``_init_group`` and
    #: constructor both read ``self.defaults``, so a group's own value is ignored)
    init_from_defaults: tuple[str, ...] = ()
    #: whether torch checks a fused group's first param with a gradient once per optimizer
    #: (``_need_device_dtype_check_for_fused``: Adagrad, SGD) besides every param without state
    fused_check_on_first_param: bool = True

    def __init__(self, params: Any, hyperparameters: dict[str, Any], code_paths: dict[str, Any]) -> None:
        rule = self.model
        validate(rule, **self._unpack(hyperparameters))  # torch's checks, in torch's order, with torch's messages
        super().__init__(params, {**hyperparameters, **code_paths})
        if code_paths.get("fused"):  # torch's checks, after its Optimizer.__init__
            if code_paths.get("differentiable"):
                raise RuntimeError("`fused` does not support `differentiable`")
            if code_paths.get("foreach"):
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
            # as torch's: GradScaler hands step() its scale and found-inf flag (AmpKeywords)
            self._step_supports_amp_scaling = True
        name = type(self).__name__
        for key, allowed in self.unsupported.items():
            if code_paths.get(key) not in (allowed, None):
                where = f"; use torch.optim.{name} for it" if hasattr(torch.optim, name) else ""
                raise ValueError(
                    f"symopt.torch.{name} does not support {key}={code_paths[key]!r} (only {key}={allowed!r}){where}"
                )
        if self.eager_state:
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p].update(self._fresh_state(p, group))

    # -- the kernel contract --------------------------------------------------------------------
    @property
    def model(self) -> _rules.UpdateRule:
        """The model of :attr:`kernel` (built once per process: :func:`_rule_of`)."""
        return _rule_of(self.kernel.RULE, self.kernel.DIALECT)

    @property
    def kernel(self) -> ModuleType:
        return _kernel_module(self.family)

    def kernel_for(self, group: dict[str, Any]) -> ModuleType:
        """The generated kernel module that steps ``group`` (Adam: AdamW's where the group has
        ``decoupled_weight_decay``)."""
        return self.kernel

    def _fresh_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        kernel = self.kernel_for(group)
        source = {**group, **{k: self.defaults[k] for k in self.init_from_defaults}}
        state = kernel.init_state(p, **{k: source[k] for k in kernel.INIT_ARGUMENTS})
        if "step" in state and any(group.get(k) for k in self.step_on_device_when):
            state["step"] = self._step_tensor(0.0, p, group)  # torch's: on p's device (float32 if fused)
        return state

    @classmethod
    def _unpack(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``{"betas": (b1, b2)}`` → ``{"beta1": b1, "beta2": b2}``; other keys as they are."""
        out = {k: v for k, v in values.items() if k not in cls.packed}
        for key, names in cls.packed.items():
            if key in values:
                out.update(zip(names, values[key]))
        return out

    def __setstate__(self, state: dict[str, Any]) -> None:
        """torch's ``__setstate__`` of this optimizer (``load_state_dict`` ends with it): the group
        keys an older torch did not save get torch's values, and a ``step`` saved as a Python
        number becomes the tensor torch makes of it."""
        super().__setstate__(state)
        stores_step = self.model.stores_step
        for group in self.param_groups:
            for key, default in self.setstate_defaults.items():
                group.setdefault(key, default)
            self._fix_group(group)
            if not stores_step:
                continue
            for p in group["params"]:
                p_state = self.state.get(p, [])
                if len(p_state) != 0 and not torch.is_tensor(p_state["step"]):
                    p_state["step"] = self._step_tensor(float(p_state["step"]), p, group)

    def _fix_group(self, group: dict[str, Any]) -> None:
        """What torch's ``__setstate__`` forces in a loaded group (AdamW: decoupled weight decay)."""

    def _step_tensor(self, value: float, p: Tensor, group: dict[str, Any]) -> Tensor:
        """torch's tensor for a Python-number ``step``: a CPU tensor of the default scalar dtype, or
        on ``p``'s device where a group option of :attr:`step_on_device_when` is set."""
        if any(group.get(k) for k in self.step_on_device_when):
            is_fused = group.get("fused") if "fused" in self.step_on_device_when else None
            return torch.tensor(value, dtype=_get_scalar_dtype(is_fused=is_fused), device=p.device)
        return torch.tensor(value, dtype=_get_scalar_dtype())

    # torch.optim.Optimizer.step's overloads: None without a closure, the closure's loss with one
    @overload
    def step(self, closure: None = None) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    @_use_grad_for_differentiable
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimizer step (``closure`` re-evaluates the loss, as in torch.optim). Autograd
        records it when the optimizer is ``differentiable`` and not otherwise: torch's own
        ``_use_grad_for_differentiable``, which reads ``defaults["differentiable"]``.

        Each group is stepped as torch.optim steps one, in two parts: :meth:`_init_group` (the
        Python decisions: which params, which kernel and path, the state, the checks) and
        :meth:`_step_group` (tensor operations only). Under ``torch.compile`` dynamo runs a
        torch.optim optimizer's ``_init_group`` eagerly, outside the graph, and guards on the
        param groups and the state it read; the graph is the tensor part, one graph per
        ``step()``. No tensor value is read in Python there: the step counter reaches the kernels
        as torch's ``_get_value`` gives it (the tensor itself under compile), so no number
        taken from a tensor at trace time can be baked into a graph."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            tensors: list[Optional[Tensor]] = []
            if group.get("fused") and not torch.compiler.is_compiling():
                rest = self._fused_step(group)  # eager: the C launches are done
                if not rest:  # every param with a gradient was stepped there: nothing is left to plan
                    continue
                plan = self._init_group(group, tensors, rest)
            else:
                plan = self._init_group(group, tensors)
            self._step_group(group, plan, tensors)
        return loss

    def _init_group(
        self, group: dict[str, Any], tensors: list[Optional[Tensor]], params: Optional[list[Tensor]] = None
    ) -> tuple:
        """The Python part of a group's step, as torch's ``_init_group``: creates missing state,
        raises torch's errors, decides the kernel and the code path, and appends the tensors of
        the step to ``tensors``; returns the plan (Python constants only) that
        :meth:`_step_group` follows: ``(kernel module name, stores_step, segments)``, a segment being
        ``(kind, n, keys, foreach, differentiable)`` over the next ``n`` params in ``tensors``
        (their params, gradients, step counters where the rule keeps them, then one buffer per
        key, ``None`` for a lazy state not yet made). ``kind`` is ``"kernel"`` (the generated Torch
        kernels), ``"sparse"`` (Adagrad's ``update_sparse``, one param at a time) or ``"fused"``
        (the fused C kernel as a custom op: a fused group under ``torch.compile``, whose eager
        launch :meth:`_fused_step` cannot be traced). ``params``: the params with a gradient
        that remain to be stepped (all of them by default; a fused group's eager C launch passes
        the ones it did not take).

        Runs eagerly under ``torch.compile`` too (dynamo intercepts ``_init_group``), so it may
        read anything; what it reads is guarded by dynamo (the param groups and the state)."""
        kernel = self.kernel_for(group)
        rule = _rule_of(kernel.RULE, kernel.DIALECT)
        values = self._unpack(group)
        arguments = {k: values[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
        kept = _kept_states(rule, values)
        keys = tuple(key for key in kernel.STATES if key in kept)
        fused: list[Tensor] = []
        if params is None:
            params = [p for p in group["params"] if p.grad is not None]
            if group.get("fused"):
                fused = self._fused_under_compile(group, params)
                taken = {id(p) for p in fused}
                params = [p for p in params if id(p) not in taken]
        dense: list[Tensor] = []
        sparse: list[Tensor] = []
        for p in params:
            assert p.grad is not None  # params: those with a gradient
            if p.grad.is_sparse and self.sparse_gradients == "refused":
                self._sparse_update(p, p.grad, {}, arguments)  # torch's error, before any state is made
            if rule.stores_step or kept:
                state = self.state[p]
                if not state:
                    state.update(self._fresh_state(p, group))
                if self.refuses_step_requiring_grad and group.get("differentiable") and state["step"].requires_grad:
                    raise RuntimeError("`requires_grad` is not supported for `step` in differentiable mode")
            (sparse if p.grad.is_sparse and self.sparse_gradients != "same ops" else dense).append(p)
        self._check_capturable(group, dense)
        differentiable = bool(group.get("differentiable"))
        foreach = self._foreach_for(group, dense)
        if foreach and differentiable and self.foreach_refuses_differentiable and dense:
            raise AssertionError("_foreach ops don't support autograd")
        with_sparse = (
            {(p.device, p.dtype) for p in params if p.grad.is_sparse}  # type: ignore[union-attr]  # each has a gradient
            if self.sparse_takes_the_group
            else set()
        )
        looped = [p for p in dense if foreach and (p.device, p.dtype) in with_sparse]
        rest = [p for p in dense if not (foreach and (p.device, p.dtype) in with_sparse)]
        kernel_differentiable = differentiable and not (foreach and not self.foreach_refuses_differentiable)
        segments = []
        for kind, ps, on_foreach in (
            ("fused", fused, False),
            ("sparse", sparse, False),
            ("kernel", looped, False),
            ("kernel", rest, foreach),
        ):
            if not ps:
                continue
            if kind == "fused":  # torch's fused path: its state is made with its layout first
                for p in ps:
                    if not self.state[p] and (rule.stores_step or kept):
                        self.state[p].update(self._fresh_state(p, group))
            states = [self.state[p] if (rule.stores_step or kept) else {} for p in ps]
            tensors += ps
            tensors += [p.grad for p in ps]
            if rule.stores_step:
                tensors += [st["step"] for st in states]
            for key in keys:
                tensors += [st.get(key) for st in states]
            segments.append((kind, len(ps), keys, on_foreach, kernel_differentiable and kind == "kernel"))
        return kernel.__name__.rsplit(".", 1)[-1], rule.stores_step, tuple(segments)

    def _step_group(self, group: dict[str, Any], plan: tuple, tensors: list[Optional[Tensor]]) -> None:
        """The tensor part of a group's step: each segment of ``plan`` (:meth:`_init_group`)
        through its kernel. Traced by ``torch.compile`` into the step's graph: no Python decision
        here reads a tensor's value."""
        name, stores_step, segments = plan
        kernel = getattr(_kernels, name)
        values = self._unpack(group)
        arguments = {k: values[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
        # True in every param group while dynamo traces a torch.optim optimizer (it makes them
        # capturable in the traced code, not in the real dict): torch's compiled step is then its
        # capturable branch, and so is this one; eagerly, capturable=True was refused above
        capturable = bool(group.get("capturable"))
        at = 0
        for kind, n, keys, foreach, differentiable in segments:
            # params, gradients and step counters are never None in ``tensors`` (only a lazy buffer may be)
            params, grads = (
                cast("list[Tensor]", tensors[at : at + n]),
                cast("list[Tensor]", tensors[at + n : at + 2 * n]),
            )
            at += 2 * n
            steps: Optional[list[Tensor]] = None
            if stores_step:
                steps, at = cast("list[Tensor]", tensors[at : at + n]), at + n
            buffers: dict[str, list[Optional[Tensor]]] = {}
            for key in keys:
                buffers[key], at = tensors[at : at + n], at + n
            if kind == "sparse":
                for i, p in enumerate(params):
                    state = self.state[p]
                    if steps is not None:
                        steps[i] += 1
                    sparse = dict(arguments, lr=_to_scalar(arguments["lr"])) if "lr" in arguments else dict(arguments)
                    if "step" in kernel.UPDATE_ARGUMENTS:
                        sparse["step"] = _get_value(steps[i])  # type: ignore[index]  # the sparse path (Adagrad's) keeps a step counter
                    self._sparse_update(p, grads[i], state, sparse)
            elif kind == "fused":
                self._fused_launch(kernel, params, grads, buffers, steps, arguments)
            else:
                lists = [buffers.get(key) for key in kernel.STATES]
                run_kernel(kernel, params, grads, lists, steps, arguments, foreach, differentiable, capturable)
                for key, bufs in zip(
                    kernel.STATES, lists
                ):  # the lazy states the kernel made (torch's state[p][key] = buf)
                    if key in kernel.LAZY_STATES and bufs is not None:
                        for p, buf in zip(params, bufs):
                            self.state[p][key] = buf

    def _foreach_for(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """Whether ``group`` takes the multi-tensor kernels: ``foreach``, or torch's choice for None
        (never for a ``differentiable`` group)."""
        return resolve_foreach(group.get("foreach"), params, bool(group.get("differentiable")))

    def _check_capturable(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """``capturable=True`` (a CUDA-graph option): torch's own error where it raises one (params
        off the devices it supports, e.g. on the CPU), and a clear one where torch would step
        (symopt generates no capturable kernels yet)."""
        if not group.get("capturable") or not params:
            return
        foreach = self._foreach_for(group, params)
        supported = _get_capturable_supported_devices(supports_xla=not foreach or self.capturable_foreach_lists_xla)
        steps = [self.state[p]["step"] for p in params]
        if not all(p.device.type == s.device.type and p.device.type in supported for p, s in zip(params, steps)):
            raise AssertionError(
                f"If capturable=True, params and state_steps must be on supported devices: {supported}."
            )
        raise NotImplementedError(
            f"symopt.torch.{type(self).__name__}(capturable=True) on {params[0].device.type}: symopt "
            "generates no capturable kernels yet; pass capturable=False"
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")

    # -- fused=True on CPU: the generated fused C kernels (symopt.fused) -------------------------
    # Adagrad takes torch's ``fused=True``; RMSprop keeps torch's signature (which has no
    # ``fused``) and takes it as a param-group option: ``RMSprop([{"params": ps, "fused": True}])``.
    def _fused_step(self, group: dict[str, Any]) -> list[Tensor]:
        """Step the group's params that the fused C kernel takes — dense, contiguous plain CPU
        tensors of float64/float32/float16/bfloat16 with a dense, contiguous gradient
        (:func:`_takes_fused_c`) — with one call of it per dtype,
        and return the params with a gradient that it did not step, for the generated Torch
        kernels (the caller steps them in the same ``step()``): the non-contiguous, sparse,
        other-dtype ones; all of them when the C kernels cannot be built or loaded here (a
        warning naming the cause and the fix, once per process and cause:
        :func:`symopt.fused.build.warn_fallback`). A tensor ``lr`` reaches the kernel as
        ``float(lr)``, as torch's fused CPU kernels read it (``lr.item<double>()`` in ATen).

        A group that the C kernel takes whole keeps its launch from step to step when it has one
        dtype (:class:`FusedGroupPlan`): a later step checks that the plan still describes the
        group and makes one call."""
        plans = self.__dict__.get("_fused_plans")
        if plans is not None and len(plans) <= len(self.param_groups):  # the steady state: one call
            plan = plans.get(id(group))
            if plan is not None and plan.group is group and plan.step(self, group):
                return []
        from ..codegen.printers.c import C_FAMILIES, FUSED_FAMILIES

        rule = self.kernel_for(group).RULE
        if rule not in C_FAMILIES:
            raise NotImplementedError(
                f"symopt.torch.{type(self).__name__}(fused=True): symopt.fused has no fused kernel for "
                f"{rule!r} yet (it has: {', '.join(C_FAMILIES)}); pass fused=False or None"
            )
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
        self._check_fused_devices(params)
        if any(p.device.type == "cuda" for p in params):
            if rule not in FUSED_FAMILIES:
                raise NotImplementedError(
                    f"symopt.torch.{type(self).__name__}(fused=True) on CUDA: symopt.fused has no fused Triton kernel "
                    f"for {rule!r} yet (it has: {', '.join(FUSED_FAMILIES)}); pass fused=False or None"
                )
            return [] if self._triton_fused_step(group) else params
        amp = AmpKeywords.of(self)  # GradScaler's grad_scale / found_inf, as torch's fused step takes them
        if getattr(self, "_fused_unavailable", False):
            return amp.unscaled(params)
        fusable = [p for p in params if _takes_fused_c(p)]
        if not fusable:
            return amp.unscaled(params)
        try:
            kernel = _fused.kernel(rule)
        except _fused.FusedUnavailable as exc:  # no compiler, a failing one, a library that does not load
            self._fused_unavailable = True
            _fused.build.warn_fallback(exc)
            return amp.unscaled(params)
        if len(fusable) == len(params) and len({p.dtype for p in params}) == 1:
            plan = self._plan_group(kernel, group, params)
            if plan is not None:
                plans[id(group)] = plan
                if plan.step(self, group):
                    return []
                del plans[id(group)]
        self._launch_per_dtype(kernel, group, fusable, amp)
        taken = {id(p) for p in fusable}
        return amp.unscaled([p for p in params if id(p) not in taken])

    def _plan_group(self, kernel: Any, group: dict[str, Any], params: list[Tensor]) -> Optional[FusedGroupPlan]:
        """A :class:`FusedGroupPlan` for ``group`` (whose ``params``, one dtype, the C kernel takes
        whole), after creating missing state as torch's first step does; None where the generic
        launch must run: a lazy buffer (SGD's momentum) still to be made, or step counters that
        are not torch's 0-d CPU tensors of one float dtype."""
        module = self.kernel_for(group)
        rule = _rule_of(module.RULE, module.DIALECT)
        names = tuple(k for k in module.UPDATE_ARGUMENTS if k != "step")
        lazy = bool(module.LAZY_STATES)
        if self.packed:
            unpack = self._unpack

            def hyperparameters(g: dict[str, Any]) -> dict[str, Any]:
                values = unpack(g)
                return {k: values[k] for k in names}
        else:

            def hyperparameters(g: dict[str, Any]) -> dict[str, Any]:
                return {k: g[k] for k in names}

        if lazy:  # the kernels' is_first_step: a plan steps only params whose buffers exist
            plain = hyperparameters

            def hyperparameters(g: dict[str, Any]) -> dict[str, Any]:
                return {**plain(g), "is_first_step": False}

        keys = tuple(kernel._plan(hyperparameters(group))[1])
        if rule.stores_step:
            for p in params:
                if not self.state[p]:
                    self.state[p].update(self._fresh_state(p, group))
            if not FusedGroupPlan.supports(self, params):
                return None
        if keys and not all(self.state.get(p, {}).get(k) is not None for p in params for k in keys):
            return None
        return FusedGroupPlan(self, group, params, kernel, keys, hyperparameters, counts_steps=rule.stores_step)

    def _launch_per_dtype(
        self, kernel: Any, group: dict[str, Any], params: list[Tensor], amp: Optional[AmpKeywords] = None
    ) -> None:
        """One fused launch (C or Triton ``kernel.step``) per dtype of ``params``, after creating
        missing state and incrementing the step counters as torch's fused path does (SGD keeps
        none; its momentum buffers are made at each param's first step: :func:`_by_first_step`)."""
        module = self.kernel_for(group)
        values = self._unpack(group)
        hyper = {k: values[k] for k in module.UPDATE_ARGUMENTS if k != "step"}
        rule = _rule_of(module.RULE, module.DIALECT)
        lazy = [k for k in module.LAZY_STATES if k in _kept_states(rule, values)]
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for p in params:
            by_dtype.setdefault(p.dtype, []).append(p)
        for dtype_params in by_dtype.values():
            dtype_states = []
            for p in dtype_params:
                state = self.state[p] if rule.stores_step or lazy else {}  # torch keeps no entry for plain SGD
                if not state:
                    state.update(self._fresh_state(p, group))
                dtype_states.append(state)
            for same, states, first in _by_first_step(dtype_params, dtype_states, lazy):
                if lazy:
                    hyper["is_first_step"] = first
                self._launch_one(kernel, module, rule, same, states, hyper, amp)

    def _launch_one(
        self,
        kernel: Any,
        module: ModuleType,
        rule: _rules.UpdateRule,
        same: list[Tensor],
        states: list[dict[str, Any]],
        hyper: dict[str, Any],
        amp: Optional[AmpKeywords],
    ) -> None:
        """One fused launch on ``same`` (params of one dtype) with their ``states``."""
        steps = None
        if rule.stores_step:
            counters = [st["step"] for st in states]
            torch._foreach_add_(counters, 1)
            steps = torch.stack(counters)
        buffers = {k: [st[k] for st in states] for k in module.STATES if k in states[0]}
        kernel.step(same, [p.grad for p in same], buffers, steps, **hyper, **(amp.keywords if amp else {}))
        if amp is not None and rule.stores_step:
            amp.count_back(counters)

    def _check_fused_devices(self, params: list[Tensor]) -> None:
        """torch's check of a fused group's params (``_device_dtype_check_for_fused``: a floating
        point tensor on a device torch fuses on, else torch's RuntimeError), where torch makes it:
        on the first param with a gradient of the optimizer's first fused step
        (:attr:`fused_check_on_first_param`), and, for the rules
        that keep a step counter (Adagrad, Adam, AdamW), on every param whose state is still to be
        made. A meta-device param is refused, as torch refuses it, rather than stepped by the
        Torch kernels."""
        stores_step = self.model.stores_step
        for p in params:
            if self.fused_check_on_first_param and self.__dict__.get("_need_device_dtype_check_for_fused", True):
                _device_dtype_check_for_fused(p)
                self._need_device_dtype_check_for_fused = False
            if stores_step and not self.state[p]:  # torch's ``len(self.state[p]) == 0`` (it makes the entry)
                _device_dtype_check_for_fused(p)

    # -- fused=True under torch.compile: the fused C kernel as a custom op -----------------------
    def _fused_under_compile(self, group: dict[str, Any], params: list[Tensor]) -> list[Tensor]:
        """The params of a fused group that the fused C kernel steps under ``torch.compile`` (the
        eager :meth:`_fused_step`'s choice, made without launching: this runs in
        :meth:`_init_group`, at trace time): the params :func:`_takes_fused_c` takes, with
        number hyperparameters, when the C kernels load here. The others take the generated
        Torch kernels, in the same graph; so do CUDA params (the Triton launcher is not a custom
        op yet)."""
        from ..codegen.printers.c import C_FAMILIES

        rule = self.kernel_for(group).RULE
        if rule not in C_FAMILIES:
            raise NotImplementedError(
                f"symopt.torch.{type(self).__name__}(fused=True): symopt.fused has no fused kernel for "
                f"{rule!r} yet (it has: {', '.join(C_FAMILIES)}); pass fused=False or None"
            )
        self._check_fused_devices(params)
        values = self._unpack(group)
        if getattr(self, "_fused_unavailable", False) or any(isinstance(values[k], Tensor) for k in values):
            return []
        fusable = [p for p in params if _takes_fused_c(p)]
        if not fusable:
            return []
        from .. import fused as _fused

        try:
            _fused.kernel(rule)
        except _fused.FusedUnavailable as exc:
            self._fused_unavailable = True
            _fused.build.warn_fallback(exc)
            return []
        return fusable

    def _fused_launch(
        self,
        kernel: ModuleType,
        params: list[Tensor],
        grads: list[Tensor],
        buffers: dict[str, list[Optional[Tensor]]],
        steps: Optional[list[Tensor]],
        arguments: dict[str, Any],
    ) -> None:
        """torch's fused step, traced: t ← t + 1 for every param (one ``_foreach_add_``), a lazy
        state made at the first step (``torch.empty_like(grad)``, SGD's momentum buffers), then
        one call of the custom op ``symopt::fused_step`` per dtype and per first step or not
        (:func:`_by_first_step`; :func:`_fused_step_op`)."""
        if steps is not None:
            torch._foreach_add_(steps, 1)
        lazy = [key for key in buffers if key in kernel.LAZY_STATES]
        first = [bool(lazy) and all(buffers[key][i] is None for key in lazy) for i in range(len(params))]
        for key in lazy:
            for i, g in enumerate(grads):
                if first[i]:
                    buffers[key][i] = self.state[params[i]][key] = torch.empty_like(g)
                elif buffers[key][i] is None:
                    raise RuntimeError(f"a param's state has some of {lazy} and not the others")
        names = [k for k in arguments]
        numbers = [float(arguments[k]) for k in names]
        launches: dict[tuple[torch.dtype, bool], list[int]] = {}
        for i, p in enumerate(params):  # one launch per dtype, and per first step or not (see _by_first_step)
            launches.setdefault((p.dtype, first[i]), []).append(i)
        for (_, is_first), same in launches.items():
            _fused_step_op(
                kernel.RULE,
                [params[i] for i in same],
                [grads[i] for i in same],
                [buffers[key][i] for key in buffers for i in same],
                ",".join(buffers),
                None if steps is None else torch.stack([steps[i] for i in same]),
                ",".join(names),
                numbers,
                is_first,
            )

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
        if any(
            p.device.type != "cuda"
            or p.grad.is_sparse
            or p.dtype not in _tl.DTYPES
            or not (p.is_contiguous() and p.grad.is_contiguous())
            for p in params
        ):
            return False
        try:
            kernel = _tl.kernel(self.family)
        except _tl.TritonUnavailable as exc:
            self._triton_unavailable = True
            warnings.warn(
                f"symopt fused GPU backend unavailable ({exc}); using the Torch backend", RuntimeWarning, stacklevel=4
            )
            return False
        self._launch_per_dtype(kernel, group, params)
        return True


def _kernel_module(family: str) -> ModuleType:
    """The generated Torch kernel module of ``family``'s default dialect (``sys.modules``' entry,
    read first: this runs for every param of every step, and the import machinery's lookup took
    a fifth of a 100-tensor fused step's host time)."""
    name = f"{_kernels.__name__}.{family}"
    return sys.modules.get(name) or importlib.import_module(name)


def _rule_of(family: str, dialect: str) -> _rules.UpdateRule:
    """The model of a generated kernel module (built once per builder: a replaced builder, as
    symopt's mutation harness installs, builds its own)."""
    return _built(family, dialect, _rules.FAMILIES[family][0])


@functools.lru_cache(maxsize=64)
def _built(family: str, dialect: str, build: Callable[..., _rules.UpdateRule]) -> _rules.UpdateRule:
    return build(dialect)


#: id(rule) -> (rule, the hyperparameters that decide which states are kept, {their values: the
#: kept states}): memoised by identity, since this runs in every step of every group: hashing a
#: rule (a dataclass of SymPy expressions, 11 µs) and walking its free symbols took 38 µs per group
#: per step (timeit), at 100 tensors of 1000 elements a fifth of a fused SGD step; the rule is
#: held, so that its id is not reused
_KEPT: dict[int, tuple[_rules.UpdateRule, tuple[str, ...], dict[tuple[Any, ...], frozenset[str]]]] = {}


def _kept_states(rule: _rules.UpdateRule, values: dict[str, Any]) -> frozenset[str]:
    """The states torch keeps for the hyperparameter ``values`` (by torch keyword)."""
    entry = _KEPT.get(id(rule))
    if entry is None or entry[0] is not rule:
        deciding = tuple(
            sorted({h.name for st in rule.states for h in rule.hyperparameters if h.symbol in st.when.free_symbols})
        )
        entry = _KEPT[id(rule)] = (rule, deciding, {})
    _, deciding, memo = entry
    key = tuple(_hashable(values[k]) for k in deciding)
    kept = memo.get(key)
    if kept is None:
        kept = memo[key] = _kept_by(rule, tuple(zip(deciding, key)))
    return kept


def _kept_by(rule: _rules.UpdateRule, deciding: tuple[tuple[str, Any], ...]) -> frozenset[str]:
    known = {rule.hyperparameter(k).symbol: v for k, v in deciding}
    return frozenset(st.name for st in rule.states if _rules.decide(st.when, known) is True)


def _hashable(value: Any) -> Any:
    return float(value) if isinstance(value, Tensor) else value


def _by_first_step(
    params: list[Tensor], states: list[dict[str, Any]], keys: list[str]
) -> list[tuple[list[Tensor], list[dict[str, Any]], bool]]:
    """The launches of one dtype's params: ``(params, states, is_first_step)``. Without lazy
    buffers (``keys``), one launch. With them (SGD's momentum buffer), the params that have none
    yet take their first step — the buffers made now, ``torch.empty_like(grad)`` (the kernel
    writes them and reads nothing there), b ← g — and the others their later step, one launch
    each: per param what torch's for-loop does (``buf = clone(grad)`` where it has none).
    torch's own fused SGD raises a TypeError when a group mixes the two (a param whose first
    gradient comes after the others'); symopt's steps it."""
    if not keys:
        return [(params, states, False)]
    firsts = [all(st.get(k) is None for k in keys) for st in states]
    for st, first in zip(states, firsts):
        if not first and any(st.get(k) is None for k in keys):
            raise RuntimeError(f"a param's state has some of {keys} and not the others: {sorted(st)}")
    for p, st, first in zip(params, states, firsts):
        if first:
            assert p.grad is not None  # params: those with a gradient
            for k in keys:
                st[k] = torch.empty_like(p.grad)
    out = []
    for flag in (True, False):
        chosen = [i for i, f in enumerate(firsts) if f == flag]
        if chosen:
            out.append(([params[i] for i in chosen], [states[i] for i in chosen], flag))
    return out


def _takes_fused_c(p: Tensor) -> bool:
    """Whether the fused C kernel takes ``p`` (which has a gradient): a dense, contiguous CPU
    tensor of a dtype the kernels have, whose gradient is dense and contiguous too, both plain
    tensors. A tensor subclass (FSDP2's DTensor, whose storage is a local shard) takes the Torch
    kernels, which dispatch through it; torch's own fused kernels have no sharding strategy there
    (NotImplementedError)."""
    grad = p.grad
    return (
        grad is not None
        and type(p) in _PLAIN_TENSORS
        and type(grad) in _PLAIN_TENSORS
        and p.device.type == "cpu"
        and p.dtype in _fused_dtypes()
        and p.layout is torch.strided
        and p.is_contiguous()
        and not grad.is_sparse
        and grad.is_contiguous()
    )


@functools.lru_cache(maxsize=1)
def _fused_dtypes() -> dict:
    """``symopt.fused.launcher.DTYPES`` (imported once: a function-level import per param and
    step was most of :func:`_takes_fused_c`'s time)."""
    from ..fused.launcher import DTYPES

    return DTYPES


#: the tensor types whose data the fused C kernel reads and writes directly
_PLAIN_TENSORS = (Tensor, torch.nn.Parameter)


def _to_scalar(x: Any) -> Any:
    """torch.optim's ``_to_scalar``: a one-element tensor squeezed to 0-d."""
    return x.squeeze() if isinstance(x, Tensor) and x.dim() != 0 else x


@torch.library.custom_op("symopt::fused_step", mutates_args=("params", "states"), device_types="cpu")
def _fused_step_op(
    family: str,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[Tensor],
    keys: str,
    steps: Optional[Tensor],
    names: str,
    numbers: list[float],
    is_first_step: bool,
) -> None:
    """One launch of ``family``'s fused C kernel (``symopt.fused``) on ``params`` and ``states``
    (``keys``, comma-separated: one list of ``len(params)`` tensors per key, in that order), as a
    ``torch.library`` custom op: dynamo puts it in the step's graph as one opaque node that
    mutates the params and states, instead of breaking on the ctypes launch.

    Why a custom op, not the Torch kernels under compile: compiled ``torch.optim(fused=True)``
    runs torch's fused ATen kernel (``_fused_adagrad_`` etc.) inside its graph, so its compiled
    result is its eager fused result; the C kernel is bitwise equal to that kernel, so running it
    here keeps a compiled symopt fused step equal to compiled torch's, where the for-loop kernels
    would round differently (Adagrad's clr as one fma, the fused tails). ``steps`` holds t after
    the increment; ``names``/``numbers`` the kernel's hyperparameters (flags as 0/1)."""
    from .. import fused as _fused

    module = _kernel_module(family)
    rule = _rule_of(family, module.DIALECT)
    hyper: dict[str, Any] = {}
    for name, number in zip(names.split(",") if names else [], numbers):
        hyper[name] = bool(number) if rule.hyperparameter(name).is_flag else number
    n = len(params)
    split = keys.split(",") if keys else []
    if any(key in module.LAZY_STATES for key in split):  # SGD with momentum: torch's is_first_step
        hyper["is_first_step"] = is_first_step
    buffers = {key: states[k * n : (k + 1) * n] for k, key in enumerate(split)}
    _fused.kernel(family).step(params, grads, buffers, steps, **hyper)


@_fused_step_op.register_fake
def _(family, params, grads, states, keys, steps, names, numbers, is_first_step) -> None:
    return None


class Adagrad(GeneratedOptimizer):
    """``torch.optim.Adagrad`` over the kernel generated from :func:`symopt.rules.adagrad`.

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    η_t = η / (1 + (t − 1)γ); G ← G + g²; w ← w − η_t g / (√G + ε).
    Sparse gradients are supported as in torch: the generated ``update_sparse`` (torch's sparse op
    sequence, printed from the same model) changes the rows a gradient touches; weight decay is
    refused with torch's error; on the foreach path a group holding a sparse gradient takes the
    for-loop, as torch's does.
    """

    family = "adagrad"
    eager_state = True
    sparse_gradients = "own path"
    sparse_takes_the_group = True
    setstate_defaults = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}
    step_on_device_when = ("fused",)
    init_from_defaults = ("initial_accumulator_value",)

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
            dict(
                lr=lr,
                lr_decay=lr_decay,
                eps=eps,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                maximize=maximize,
            ),
            dict(foreach=foreach, differentiable=differentiable, fused=fused),
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        """torch's sparse Adagrad: the generated ``update_sparse``, printed from the same model as
        torch's sparse op sequence (coalesce; ``sum.add_`` of g² on g's indices; σ from
        ``sum.sparse_mask(grad)``; ``param.add_`` of g/σ with ``alpha=-clr``): only the rows ``grad``
        touches change, and weight decay raises torch's error."""
        self.kernel.update_sparse(p, grad, *(state.get(key) for key in self.kernel.STATES), **arguments)


class AdagradNorm(GeneratedOptimizer):
    """AdaGrad-Norm (Ward, Wu & Bottou, ICML 2019 / JMLR 2020) over the kernel generated from
    :func:`symopt.rules.adagrad_norm`, with torch.optim.Adagrad's keywords and defaults.

    Per parameter tensor, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    B ← B + ‖g‖² (one number per tensor, ``state["sum"]``, 0-dim); w ← w − η g/(√B + ε).
    ``initial_accumulator_value`` is the paper's b_0². torch has no AdaGrad-Norm, so there is no
    foreach, fused or sparse path: the step is the single-tensor kernel (``differentiable=True``
    takes its differentiable form). For the paper's one accumulator over the whole model, step one
    flat parameter (``torch.nn.utils.parameters_to_vector``). The accumulator has the param's
    dtype, as Adagrad's sum: in float16 it overflows to inf past 65504 (then every step is 0);
    keep float16 models' optimizer on float32 master weights.
    """

    family = "adagrad_norm"
    eager_state = True
    unsupported = {"foreach": False, "fused": False}
    init_from_defaults = ("initial_accumulator_value",)

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
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
            dict(
                lr=lr,
                eps=eps,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                maximize=maximize,
            ),
            dict(foreach=foreach, differentiable=differentiable, fused=fused),
        )

    def _foreach_for(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        return False  # no multi-tensor kernel: the for-loop on every device


class RMSprop(GeneratedOptimizer):
    """``torch.optim.RMSprop`` over the kernel generated from :func:`symopt.rules.rmsprop`.

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    v ← αv + (1 − α)g²; m ← m + (1 − α)(g − m) if centered; σ = √(v − m²) + ε (√v + ε if not
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """

    family = "rmsprop"
    setstate_defaults = {
        "momentum": 0,
        "centered": False,
        "foreach": None,
        "maximize": False,
        "differentiable": False,
        "capturable": False,
    }
    step_on_device_when = ("capturable",)

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
            dict(
                lr=lr,
                momentum=momentum,
                alpha=alpha,
                eps=eps,
                centered=centered,
                weight_decay=weight_decay,
                maximize=maximize,
            ),
            dict(capturable=capturable, foreach=foreach, differentiable=differentiable),
        )

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError("RMSprop does not support sparse gradients")


class Adam(GeneratedOptimizer):
    """``torch.optim.Adam`` over the kernels generated from :func:`symopt.rules.adam` and, with
    ``decoupled_weight_decay=True``, :func:`symopt.rules.adamw` (a param group's flag picks).

    Per element, after ``t ← t + 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0 (w ← w(1 − ηλ)
    instead when decoupled); m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²;
    v_max ← max(v_max, v) if amsgrad; w ← w − η/(1 − β₁^t) · m / (√v / √(1 − β₂^t) + ε)
    (v_max for v if amsgrad). ``betas`` may be one-element tensors, as in torch (the for-loop
    then computes the bias corrections and step size as tensors in their dtype, and moves β₁ to
    the param's dtype for ``lerp_``, as torch does). ``fused=True`` steps contiguous float32 and
    float64 CPU params with the generated fused C kernels (``kernels/c/adam.c``, ``adamw.c``),
    bitwise equal to torch's fused CPU kernel.
    ``capturable=True`` raises torch's own error on the CPU. ``differentiable=True`` steps with
    the generated ``update_differentiable`` (torch's differentiable for-loop: the step counter,
    the bias corrections and the step size as tensors, the step size folded into the denominator,
    tensor operands for a ``weight_decay`` or ``beta2`` that requires grad), whose results and
    gradients are torch's bit for bit.
    """

    family = "adam"
    packed = {"betas": ("beta1", "beta2")}
    refuses_step_requiring_grad = True
    setstate_defaults = {
        "amsgrad": False,
        "maximize": False,
        "foreach": None,
        "capturable": False,
        "differentiable": False,
        "decoupled_weight_decay": False,
        "fused": None,
    }
    step_on_device_when = ("capturable", "fused")
    fused_check_on_first_param = False
    capturable_foreach_lists_xla = False

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
        validate(
            _rules.adam(), lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay
        )  # torch's order
        if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, b in enumerate(betas):  # torch's checks of tensor betas
            if isinstance(b, Tensor) and foreach and not capturable:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
            if isinstance(b, Tensor) and b.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(map(_to_scalar, betas)),
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                maximize=maximize,
            ),
            dict(
                foreach=foreach,
                capturable=capturable,
                differentiable=differentiable,
                fused=fused,
                decoupled_weight_decay=decoupled_weight_decay,
            ),
        )

    def kernel_for(self, group: dict[str, Any]) -> ModuleType:
        return _kernel_module("adamw" if group.get("decoupled_weight_decay") else "adam")

    def _foreach_for(self, group: dict[str, Any], params: list[Tensor]) -> bool:
        """torch's choice: ``foreach=None`` stays on the for-loop for a tensor ``lr`` (which its
        multi-tensor path refuses without ``capturable``), wherever it would pick foreach."""
        if group.get("foreach") is None and isinstance(group["lr"], Tensor) and not group.get("capturable"):
            return False
        return super()._foreach_for(group, params)

    def _sparse_update(self, p: Tensor, grad: Tensor, state: dict[str, Tensor], arguments: dict[str, Any]) -> None:
        raise RuntimeError("Adam does not support sparse gradients, please consider SparseAdam instead")


class AdamW(Adam):
    """``torch.optim.AdamW``: :class:`Adam` with ``decoupled_weight_decay=True`` and torch's
    AdamW default ``weight_decay=1e-2``, over the kernels generated from
    :func:`symopt.rules.adamw`. Per element: w ← w·(1 − ηλ) if λ ≠ 0, then Adam's update
    (λ never enters g, m or v). A loaded state_dict keeps ``decoupled_weight_decay=True``, as
    torch's ``AdamW.__setstate__`` forces it."""

    family = "adamw"

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: Optional[bool] = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: Optional[bool] = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def _fix_group(self, group: dict[str, Any]) -> None:
        group["decoupled_weight_decay"] = True


class SGD(GeneratedOptimizer):
    """``torch.optim.SGD`` over the kernel generated from :func:`symopt.rules.sgd`.

    Per element: g ← −g if maximize; g ← g + λw if λ ≠ 0; if μ ≠ 0: b ← g at the first step
    (a clone of g: the buffer torch creates then), b ← μb + (1 − τ)g after, g ← g + μb if
    nesterov, else g ← b; w ← w − ηg. No step counter is kept (the state holds only
    ``momentum_buffer``, and nothing without momentum); complex params are stepped as complex
    tensors and sparse gradients with the same ops (a sparse buffer), as torch does.
    """

    family = "sgd"
    sparse_gradients = "same ops"
    foreach_refuses_differentiable = False
    setstate_defaults = {"nesterov": False, "maximize": False, "foreach": None, "differentiable": False, "fused": False}

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: Optional[bool] = None,
        differentiable: bool = False,
        fused: Optional[bool] = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
            dict(foreach=foreach, differentiable=differentiable, fused=fused),
        )
