"""A param group's fused C launch, kept from one ``step()`` to the next.

torch.optim's fused path pays, per step, a Python visit of every param (state lookup, checks)
and a ``_foreach_add_`` over the 0-d step tensors: hundreds of microseconds for 100 tensors,
more than the kernel itself at that size. :class:`FusedGroupPlan` pays for that once: it
validates the group, gathers the pointer tables (:class:`symopt.fused.launcher.LaunchPlan`) and
moves the group's step counters into one 1-D tensor whose 0-d views *are* ``state[p]["step"]``
(same values, dtype and ``state_dict`` layout; one ``add_`` increments them all).

Each later step only confirms that the plan still describes the group, and re-plans otherwise:

- the optimizer's ``state`` and the group's ``params`` are the same objects as at planning
  (``load_state_dict`` and ``add_param_group`` replace them), and so is every state dict in
  ``state`` (one made, replaced or removed anywhere in the optimizer re-plans once);
- each param still holds the memory the plan points to (``p.data = ...``, ``module.to(...)``),
  and is still contiguous there (``p.data = p.data.t()`` keeps the address; the C kernel reads
  memory in order, so a non-contiguous param goes to the Torch kernels);
- every state tensor, ``step`` included, is the tensor the plan points to (a state entry
  replaced by assignment);
- the params that had gradients still have them, and the others still have none.

The hyperparameters are read from the group at every step; a tensor ``lr`` (a scheduler may
change it in place) as ``float(lr)``, as torch's fused CPU kernels read it (ATen's
``lr.item<double>()``).

Gradients are re-validated only when they are new objects (``zero_grad()`` sets them to None).
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Optional, Sequence, cast

import numpy as np
import torch
from torch import Tensor

from ..fused.launcher import FusedKernel, FusedLaunchError, LaunchPlan, skips_step

_GRAD = operator.attrgetter("grad")


class AmpKeywords:
    """torch's fused keywords ``grad_scale`` / ``found_inf`` for one ``step()``, as GradScaler
    sets them on an optimizer whose ``_step_supports_amp_scaling`` is true
    (``optimizer.grad_scale`` / ``optimizer.found_inf``): the fused kernel divides each gradient
    by the scale in place and steps, or does nothing when ``found_inf`` is 1; the step counters
    are incremented either way and then decremented by ``found_inf``, as torch's
    ``_foreach_sub_(state_steps, found_inf)`` after its fused kernel."""

    def __init__(self, grad_scale: Optional[Tensor], found_inf: Optional[Tensor]) -> None:
        self.grad_scale, self.found_inf = grad_scale, found_inf
        self.skips = skips_step(found_inf)

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer) -> "AmpKeywords":
        return cls(getattr(optimizer, "grad_scale", None), getattr(optimizer, "found_inf", None))

    @property
    def keywords(self) -> dict[str, Optional[Tensor]]:
        """For :meth:`symopt.fused.launcher.FusedKernel.step`."""
        if self.grad_scale is None and self.found_inf is None:
            return {}
        return {"grad_scale": self.grad_scale, "found_inf": self.found_inf}

    def unscaled(self, params: list[Tensor]) -> list[Tensor]:
        """The params left to the generated Torch kernels, as torch's fused kernel would have
        stepped them: none when an inf was found, else with their gradients divided by the scale
        in place first."""
        if self.skips:
            return []
        if self.grad_scale is not None and params:
            grads = cast("list[Tensor]", [p.grad for p in params])  # params: those with a gradient
            torch._foreach_div_(grads, self.grad_scale.to(params[0].device))
        return params

    def count_back(self, counters: Sequence[Tensor]) -> None:
        """torch's ``_foreach_sub_(state_steps, found_inf)``."""
        if self.found_inf is not None and counters:
            torch._foreach_sub_(list(counters), [self.found_inf.to(counters[0].device)] * len(counters))


class FusedGroupPlan:
    """The fused launch of the params of ``group`` that have gradients, with their state."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        group: dict[str, Any],
        params: Sequence[Tensor],
        kernel: FusedKernel,
        keys: Sequence[str],
        hyperparameters: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        counts_steps: bool = True,
    ) -> None:
        """``hyperparameters(group)`` gives the kernel's scalar arguments from the group at each
        step (torch's packed ``betas`` unpacked, SGD's ``is_first_step`` fixed to False: a plan
        is made only once every momentum buffer exists). ``counts_steps``: the rule keeps a
        ``step`` per param (Adagrad, RMSprop, Adam, AdamW; not SGD, whose params may have no
        state entry at all, as in torch)."""
        self.group = group
        self.state_map = optimizer.state
        self.group_params = tuple(group["params"])
        self.params = tuple(params)
        with_grad = {id(p) for p in params}
        self.idle = tuple(p for p in self.group_params if id(p) not in with_grad)
        self.kernel = kernel
        self.keys = tuple(keys)
        self.hyperparameters = hyperparameters
        self.counts_steps = counts_steps
        # SGD without momentum keeps no state: read none (optimizer.state is a defaultdict)
        self.state_dicts = tuple(optimizer.state[p] for p in params) if counts_steps or keys else ()
        self.launch_plan: LaunchPlan = kernel.prepare(
            params, {k: [st[k] for st in self.state_dicts] for k in keys}, keys
        )
        if counts_steps:
            steps = [st["step"] for st in self.state_dicts]
            self.counters = torch.stack(steps)  # one buffer; state["step"] become its 0-d views
            for i, st in enumerate(self.state_dicts):
                st["step"] = self.counters[i]
            self._counters_np = self.counters.numpy()
        # float64 t per param, as the kernels read it (zeros for a rule that does not use t)
        self.steps64 = torch.zeros(len(params), dtype=torch.float64)
        # NumPy views: a step's increment and conversion cost a microsecond, not three
        self._steps64_np = self.steps64.numpy()
        self.tensors = {
            k: tuple(st[k] for st in self.state_dicts) for k in (*keys, *(("step",) if counts_steps else ()))
        }
        # every state dict of the optimizer, in its order: a replaced, added or removed entry
        # shows against it without hashing a tensor (100 Tensor.__hash__ calls: ~15 µs a step)
        self.state_values = tuple(optimizer.state.values())

    @staticmethod
    def supports(optimizer: torch.optim.Optimizer, params: Sequence[Tensor]) -> bool:
        """Whether every param's ``step`` is a 0-d float32 or float64 CPU tensor, one dtype for
        all (torch's layout)."""
        steps = [optimizer.state[p].get("step") for p in params]
        return bool(steps) and all(
            isinstance(s, Tensor)
            and s.dim() == 0
            and s.device.type == "cpu"
            and s.dtype == steps[0].dtype
            and s.dtype in (torch.float32, torch.float64)
            and not s.requires_grad
            for s in steps
        )

    def step(self, optimizer: torch.optim.Optimizer, group: dict[str, Any]) -> bool:
        """t ← t + 1 for every param (as torch's fused path does), then one kernel call; False
        (nothing done) when the plan no longer describes the group."""
        params = group["params"]
        if (
            optimizer.state is not self.state_map
            or len(params) != len(self.group_params)
            or not all(map(operator.is_, params, self.group_params))
        ):
            return False
        if len(self.state_map) != len(self.state_values) or not all(
            map(operator.is_, self.state_map.values(), self.state_values)
        ):
            return False
        for key, tensors in self.tensors.items():
            if not all(map(operator.is_, map(operator.itemgetter(key), self.state_dicts), tensors)):
                return False
        if self.idle and any(p.grad is not None for p in self.idle):
            return False
        if self.launch_plan.params_moved() or not all(map(Tensor.is_contiguous, self.params)):
            return False
        try:
            self.launch_plan.set_gradients(list(map(_GRAD, self.params)), of_params=True)
        except FusedLaunchError:  # None, sparse or non-contiguous: the caller sends those to the Torch kernels
            return False
        hyperparameters = self.hyperparameters(group)
        if tuple(self.kernel._plan(hyperparameters)[1]) != self.keys:  # a switch changed the buffers it needs
            return False
        amp = AmpKeywords.of(optimizer)
        if self.counts_steps:
            np.add(self._counters_np, 1, out=self._counters_np)  # IEEE t + 1 in the counters' dtype, as torch's add_
            self._steps64_np[:] = self._counters_np
        if not amp.skips:
            self.launch_plan.call(self.steps64.data_ptr(), hyperparameters, amp.grad_scale)
        if amp.found_inf is not None and self.counts_steps:  # torch's _foreach_sub_(steps, found_inf)
            self.counters.sub_(amp.found_inf.to(self.counters.dtype))
        return True


__all__ = ["AmpKeywords", "FusedGroupPlan"]
