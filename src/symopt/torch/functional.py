"""torch.optim's functional API over the generated single-tensor kernels
(``symopt.kernels.torch``): same argument names as :func:`torch.optim.adagrad.adagrad` and
:func:`torch.optim.rmsprop.rmsprop`, same in-place effect on params and state, bitwise equal to
torch.optim with ``foreach=False``.

What this module adds around a kernel is exactly what torch's ``_single_tensor_*`` loop does
around the math: increment ``state_steps`` (float tensors, in place), turn a tensor ``lr`` into a
scalar with torch's ``_to_scalar``. Complex tensors are passed as they are: the kernel views them
as real (``torch.view_as_real``) where torch does, after the gradient transformations. Only ``foreach=False`` is generated so far.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from .. import rules as _rules
from ..kernels.torch import adagrad as _adagrad
from ..kernels.torch import rmsprop as _rmsprop

__all__ = ["adagrad", "rmsprop"]


def _check_foreach(foreach: Optional[bool]) -> None:
    if foreach:
        raise ValueError("symopt.torch.functional: only foreach=False (the single-tensor kernels) is generated so far")


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
    foreach: Optional[bool] = False,
) -> None:
    """Adagrad, in place, as :func:`torch.optim.adagrad.adagrad` with ``foreach=False``.

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    η_t = η/(1 + (t − 1)γ); G ← G + g²; w ← w − η_t g/(√G + ε).
    """
    _check_foreach(foreach)
    _rules.adagrad().values(lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize)
    _check_lists(("grads", "state_sums", "state_steps"), (params, grads, state_sums, state_steps))
    _check_steps(state_steps)
    lr = _to_scalar(lr)
    for i, (param, grad, state_sum, step_t) in enumerate(zip(params, grads, state_sums, state_steps)):
        _check_tensors(i, param, grads=grad, state_sums=state_sum)
        step_t += 1
        _adagrad.update(
            param, grad, state_sum,
            step=step_t.item(), lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize,
        )


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
    foreach: Optional[bool] = False,
) -> None:
    """RMSprop, in place, as :func:`torch.optim.rmsprop.rmsprop` with ``foreach=False``.
    ``grad_avgs`` is used when ``centered``, ``momentum_buffer_list`` when ``momentum > 0``
    (pass empty lists otherwise, as torch.optim does).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    v ← αv + (1 − α)g²; m ← m + (1 − α)(g − m) if centered; σ = √(v − m²) + ε (√v + ε if not
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """
    _check_foreach(foreach)
    _rules.rmsprop().values(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize
    )
    _check_lists(("grads", "square_avgs", "state_steps"), (params, grads, square_avgs, state_steps))
    if centered:
        _check_lists(("grads", "grad_avgs"), (params, grads, grad_avgs))
    if momentum > 0:
        _check_lists(("grads", "momentum_buffer_list"), (params, grads, momentum_buffer_list))
    _check_steps(state_steps)
    lr = _to_scalar(lr)
    for i, param in enumerate(params):
        grad_avg = grad_avgs[i] if centered else None
        buf = momentum_buffer_list[i] if momentum > 0 else None
        _check_tensors(i, param, grads=grads[i], square_avgs=square_avgs[i], grad_avgs=grad_avg, momentum_buffer_list=buf)
        state_steps[i] += 1
        _rmsprop.update(
            param, grads[i], square_avgs[i], grad_avg, buf,
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )
