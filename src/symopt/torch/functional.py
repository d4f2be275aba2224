"""torch.optim's functional API over the generated kernels (``symopt.kernels.torch``): same
argument names as :func:`torch.optim.adagrad.adagrad`, :func:`torch.optim.rmsprop.rmsprop` and
:func:`torch.optim.adam.adam`, same in-place effect on params and state, bitwise equal to
torch.optim on the same code path (``foreach=False`` / ``True``).

What this module adds around a kernel is exactly what torch's ``_single_tensor_*`` loop does
around the math: increment ``state_steps`` (float tensors, in place), turn a tensor ``lr`` into a
scalar with torch's ``_to_scalar``. Complex tensors are passed as they are: the kernel views them
as real (``torch.view_as_real``) where torch does, after the gradient transformations.

``foreach=True`` runs the generated multi-tensor kernel (``update_foreach``: ``torch._foreach_*``
ops) on the tensors grouped by device and dtype, as torch.optim's ``_multi_tensor_*`` functions;
``foreach=None`` picks it where torch would (all tensors on CUDA), the for-loop otherwise.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from torch.optim.optimizer import Optimizer, _default_to_fused_or_foreach

from .. import rules as _rules
from ..kernels.torch import adagrad as _adagrad
from ..kernels.torch import adam as _adam
from ..kernels.torch import rmsprop as _rmsprop

__all__ = ["adagrad", "adam", "rmsprop", "run_kernel"]


def resolve_foreach(foreach: Optional[bool], params: list[Tensor]) -> bool:
    """torch.optim's choice for ``foreach=None``: the multi-tensor path when every tensor is on a
    device torch runs foreach kernels on (CUDA), the for-loop otherwise."""
    if foreach is None:
        return bool(_default_to_fused_or_foreach(params, differentiable=False, use_fused=False)[1])
    return bool(foreach)


def run_kernel(
    kernel: Any,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[Optional[list[Tensor]]],
    state_steps: list[Tensor],
    hyper: dict[str, Any],
    foreach: bool,
) -> None:
    """Increment ``state_steps`` and run a generated kernel module on every param: ``update`` one
    tensor at a time, or ``update_foreach`` per device-and-dtype group. ``states`` has one list per
    entry of ``kernel.STATES`` (None for a state that is not kept); ``hyper`` the kernel's
    ``UPDATE_ARGUMENTS`` except ``step``."""
    if not params:
        return
    hyper = dict(hyper, lr=_to_scalar(hyper["lr"])) if "lr" in hyper else dict(hyper)
    takes_step = "step" in kernel.UPDATE_ARGUMENTS
    if not foreach:
        for i, (param, grad, step_t) in enumerate(zip(params, grads, state_steps)):
            step_t += 1
            extra = {"step": step_t.item()} if takes_step else {}
            kernel.update(param, grad, *(None if s is None else s[i] for s in states), **hyper, **extra)
        return
    if not kernel.FOREACH:
        raise ValueError(f"symopt.torch: the rule {kernel.RULE!r} has no generated foreach kernel; pass foreach=False")
    kept = [i for i, s in enumerate(states) if s is not None]
    grouped = Optimizer._group_tensors_by_device_and_dtype([params, grads, *(states[i] for i in kept), state_steps])
    for lists, _ in grouped.values():
        group_params, group_grads, *group_kept, group_steps = lists
        group_states: list[Optional[list[Tensor]]] = [None] * len(states)
        for i, tensors in zip(kept, group_kept):
            group_states[i] = tensors
        if group_steps[0].is_cpu:  # as torch: one wrapped 1.0 instead of re-wrapping 1 per tensor
            torch._foreach_add_(group_steps, torch.tensor(1.0, device="cpu"), alpha=1.0)
        else:
            torch._foreach_add_(group_steps, 1)
        extra = {"steps": [s.item() for s in group_steps]} if takes_step else {}
        kernel.update_foreach(list(group_params), list(group_grads), *group_states, **hyper, **extra)


def _to_scalar(x: Any) -> Any:
    """torch.optim's ``_to_scalar``: a one-element tensor ``lr`` squeezed to 0-d, numbers as is."""
    if isinstance(x, torch.Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _check_lists(names: tuple[str, ...], lists: tuple[list, ...]) -> None:
    n = len(lists[0])
    for name, items in zip(names, lists[1:]):
        if len(items) != n:
            raise ValueError(f"{name} has {len(items)} entries but params has {n}; pass one per parameter")


def _check_tensors(i: int, param: Tensor, **others: Optional[Tensor]) -> None:
    if not isinstance(param, torch.Tensor):
        raise TypeError(f"params[{i}] must be a torch.Tensor; got {type(param).__name__}")
    for name, x in others.items():
        if x is None:
            continue
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor; got {type(x).__name__}")
        if x.is_sparse:
            raise ValueError(f"{name}[{i}] is sparse; symopt's generated kernels take dense tensors only")
        if x.shape != param.shape:
            raise ValueError(f"{name}[{i}] has shape {tuple(x.shape)} but params[{i}] has shape {tuple(param.shape)}")
        if x.dtype != param.dtype:
            raise TypeError(f"{name}[{i}] has dtype {x.dtype} but params[{i}] has dtype {param.dtype}; they must match")


def _check_steps(state_steps: list) -> None:
    if not all(isinstance(s, torch.Tensor) for s in state_steps):
        raise TypeError("state_steps must be a list of singleton tensors (torch.optim's layout), e.g. torch.tensor(0.0)")


def adagrad(
    params: list[Tensor],
    grads: list[Tensor],
    state_sums: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float | Tensor,
    weight_decay: float,
    lr_decay: float,
    eps: float,
    maximize: bool,
    foreach: Optional[bool] = None,
) -> None:
    """Adagrad, in place, as :func:`torch.optim.adagrad.adagrad` (``foreach=True``: its
    ``_multi_tensor_adagrad``).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    η_t = η/(1 + (t − 1)γ); G ← G + g²; w ← w − η_t g/(√G + ε).
    """
    _rules.adagrad().values(lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize)
    _check_lists(("grads", "state_sums", "state_steps"), (params, grads, state_sums, state_steps))
    _check_steps(state_steps)
    for i, (param, grad, state_sum) in enumerate(zip(params, grads, state_sums)):
        _check_tensors(i, param, grads=grad, state_sums=state_sum)
    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    run_kernel(_adagrad, params, grads, [state_sums], state_steps, hyper, resolve_foreach(foreach, params))


def rmsprop(
    params: list[Tensor],
    grads: list[Tensor],
    square_avgs: list[Tensor],
    grad_avgs: list[Tensor],
    momentum_buffer_list: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float | Tensor,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool = False,
    foreach: Optional[bool] = None,
) -> None:
    """RMSprop, in place, as :func:`torch.optim.rmsprop.rmsprop` (``foreach=True``: its
    ``_multi_tensor_rmsprop``).
    ``grad_avgs`` is used when ``centered``, ``momentum_buffer_list`` when ``momentum > 0``
    (pass empty lists otherwise, as torch.optim does).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    v ← αv + (1 − α)g²; m ← m + (1 − α)(g − m) if centered; σ = √(v − m²) + ε (√v + ε if not
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """
    _rules.rmsprop().values(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize
    )
    _check_lists(("grads", "square_avgs", "state_steps"), (params, grads, square_avgs, state_steps))
    if centered:
        _check_lists(("grads", "grad_avgs"), (params, grads, grad_avgs))
    if momentum > 0:
        _check_lists(("grads", "momentum_buffer_list"), (params, grads, momentum_buffer_list))
    _check_steps(state_steps)
    for i, param in enumerate(params):
        grad_avg = grad_avgs[i] if centered else None
        buf = momentum_buffer_list[i] if momentum > 0 else None
        _check_tensors(i, param, grads=grads[i], square_avgs=square_avgs[i], grad_avgs=grad_avg, momentum_buffer_list=buf)
    hyper = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                 maximize=maximize)
    states = [square_avgs, grad_avgs if centered else None, momentum_buffer_list if momentum > 0 else None]
    run_kernel(_rmsprop, params, grads, states, state_steps, hyper, resolve_foreach(foreach, params))


def adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    *,
    amsgrad: bool,
    beta1: float,
    beta2: float,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    foreach: Optional[bool] = None,
) -> None:
    """Adam, in place, as :func:`torch.optim.adam.adam` with ``decoupled_weight_decay=False``
    (``foreach=False``: its ``_single_tensor_adam``; ``foreach=True``: ``_multi_tensor_adam``).
    ``max_exp_avg_sqs`` is used when ``amsgrad`` (pass an empty list otherwise, as torch.optim does).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²; v_max ← max(v_max, v) if amsgrad;
    w ← w − η/(1 − β₁^t) · m / (√v / √(1 − β₂^t) + ε) (v_max for v if amsgrad).
    """
    _rules.adam().values(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
    if isinstance(beta1, Tensor) or isinstance(beta2, Tensor):
        raise TypeError("symopt.torch.functional.adam takes beta1 and beta2 as Python floats, not tensors")
    _check_lists(("grads", "exp_avgs", "exp_avg_sqs", "state_steps"), (params, grads, exp_avgs, exp_avg_sqs, state_steps))
    if amsgrad:
        _check_lists(("grads", "max_exp_avg_sqs"), (params, grads, max_exp_avg_sqs))
    _check_steps(state_steps)
    for i, param in enumerate(params):
        vmax = max_exp_avg_sqs[i] if amsgrad else None
        _check_tensors(i, param, grads=grads[i], exp_avgs=exp_avgs[i], exp_avg_sqs=exp_avg_sqs[i], max_exp_avg_sqs=vmax)
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    states = [exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None]
    run_kernel(_adam, params, grads, states, state_steps, hyper, resolve_foreach(foreach, params))
