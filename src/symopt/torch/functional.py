"""torch.optim's functional API over the generated kernels (``symopt.kernels.torch``): same
argument names as :func:`torch.optim.adagrad.adagrad`, :func:`torch.optim.rmsprop.rmsprop`,
:func:`torch.optim.adam.adam`, :func:`torch.optim.adamw.adamw` and :func:`torch.optim.sgd.sgd`,
same in-place effect on params and state, bitwise equal to torch.optim on the same code path
(``foreach=False`` / ``True``).

What this module adds around a kernel is exactly what torch's ``_single_tensor_*`` loop does
around the math: increment ``state_steps`` (float tensors, in place), read t with torch's
``_get_value`` (a Python number eagerly; under ``torch.compile`` the step tensor itself, so that
the bias corrections and step sizes are computed in the graph from the state, never baked into it
as numbers read at trace time), turn a tensor ``lr`` into a scalar with torch's ``_to_scalar``. Complex tensors are passed as they are: the kernel views them
as real (``torch.view_as_real``) where torch does, after the gradient transformations.

``foreach=True`` runs the generated multi-tensor kernel (``update_foreach``: ``torch._foreach_*``
ops) on the tensors grouped by device and dtype, as torch.optim's ``_multi_tensor_*`` functions;
``foreach=None`` picks it where torch would (all tensors on CUDA, and not ``differentiable``), the
for-loop otherwise.

``differentiable=True`` runs the generated ``update_differentiable`` (torch's
``differentiable=True`` for-loop, printed from the same model: its ops autograd differentiates
as torch's) with grad recording left as the caller set it (the drop-ins enable it, as torch's
``_use_grad_for_differentiable``); its ``step`` is the state's step tensor where the kernel says
so (``DIFFERENTIABLE_STEP``: Adam's bias corrections). torch's multi-tensor Adagrad, RMSprop and
Adam refuse it (``AssertionError: _foreach ops don't support autograd``), and so do these.
"""

from __future__ import annotations

from typing import Any, Optional, cast

import torch
from torch import Tensor

from torch.optim.optimizer import Optimizer, _default_to_fused_or_foreach, _get_value

from .. import rules as _rules
from ..kernels.torch import adagrad as _adagrad
from ..kernels.torch import adagrad_norm as _adagrad_norm
from ..kernels.torch import adam as _adam
from ..kernels.torch import adamw as _adamw
from ..kernels.torch import rmsprop as _rmsprop
from ..kernels.torch import sgd as _sgd

__all__ = ["adagrad", "adagrad_norm", "adam", "adamw", "rmsprop", "run_kernel", "sgd"]


def resolve_foreach(foreach: Optional[bool], params: list[Tensor], differentiable: bool = False) -> bool:
    """torch.optim's choice for ``foreach=None``: the multi-tensor path when every tensor is on a
    device torch runs foreach kernels on (CUDA) and the step is not ``differentiable``, the
    for-loop otherwise."""
    if foreach is None:
        return bool(_default_to_fused_or_foreach(params, differentiable=differentiable, use_fused=False)[1])
    return bool(foreach)


def refuse_differentiable_foreach(foreach: bool, differentiable: bool) -> None:
    """torch's ``_multi_tensor_adagrad``/``rmsprop``/``adam``: no autograd through foreach ops."""
    if foreach and differentiable:
        raise AssertionError("_foreach ops don't support autograd")


def run_kernel(
    kernel: Any,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[Optional[list[Any]]],  # list[Tensor] each; list[Optional[Tensor]] for a lazy state
    state_steps: Optional[list[Tensor]],
    hyper: dict[str, Any],
    foreach: bool,
    differentiable: bool = False,
    capturable: bool = False,
) -> None:
    """Increment ``state_steps`` and run a generated kernel module on every param: ``update`` one
    tensor at a time (``update_differentiable`` when ``differentiable``: torch's
    ``differentiable=True`` for-loop), or ``update_foreach`` per device-and-dtype group. ``states`` has one list per
    entry of ``kernel.STATES`` (None for a state that is not kept); ``hyper`` the kernel's
    ``UPDATE_ARGUMENTS`` except ``step`` (a tensor ``lr`` or β squeezed to 0-d, torch's ``_to_scalar``).

    A lazy state's list (``kernel.LAZY_STATES``: SGD's momentum buffer) may hold None for a param
    whose state torch has not created yet; the kernel creates it and it is put in the list, as
    torch's functional API fills ``momentum_buffer_list``. ``state_steps`` is None for a rule that
    keeps no step counter (SGD): t then only says whether it is the first step, which torch tells
    by the missing lazy state: t = 1 where it is None, 2 (any t > 1 computes the same) where not.

    ``capturable``: torch's ``capturable=True`` branch where the kernel has one (``CAPTURABLE``:
    Adam's ``update_capturable`` / ``update_foreach_capturable``, the step tensors themselves in
    the bias corrections); the ordinary kernels otherwise, as torch has no other capturable math.
    Compiled torch.optim runs that branch (dynamo makes its param groups capturable while it
    traces), and so do the drop-ins under ``torch.compile``."""
    if not params:
        return
    hyper = {k: _to_scalar(v) if k in _SQUEEZED else v for k, v in hyper.items()}
    takes_step = "step" in kernel.UPDATE_ARGUMENTS
    lazy = [
        i for i, key in enumerate(kernel.STATES) if key in getattr(kernel, "LAZY_STATES", ()) and states[i] is not None
    ]

    def first_step(i: int) -> int:
        return 1 if any(states[k][i] is None for k in lazy) else 2  # type: ignore[index]  # lazy: kept states only

    if not foreach:
        update = kernel.update
        step_tensor = False
        if differentiable:
            if not getattr(kernel, "DIFFERENTIABLE", False):
                raise ValueError(
                    f"symopt.torch: the rule {kernel.RULE!r} has no generated differentiable kernel; "
                    "pass differentiable=False"
                )
            update, step_tensor = kernel.update_differentiable, kernel.DIFFERENTIABLE_STEP == "tensor"
        elif capturable and getattr(kernel, "CAPTURABLE", False):
            update, step_tensor = kernel.update_capturable, True
        for i, (param, grad) in enumerate(zip(params, grads)):
            extra = {}
            if state_steps is not None:
                state_steps[i] += 1
                if takes_step:
                    extra = {"step": state_steps[i] if step_tensor else _get_value(state_steps[i])}
            elif takes_step:
                extra = {"step": first_step(i)}
            created = update(param, grad, *(None if s is None else s[i] for s in states), **hyper, **extra)
            for key, tensor in (created or {}).items():
                k = kernel.STATES.index(key)
                if states[k] is not None and tensor is not None:
                    states[k][i] = tensor
        return
    if not kernel.FOREACH:
        raise ValueError(f"symopt.torch: the rule {kernel.RULE!r} has no generated foreach kernel; pass foreach=False")
    kept = [i for i, s in enumerate(states) if s is not None]
    steps_list = [] if state_steps is None else [state_steps]
    tensorlists: list[list[Any]] = [
        params,
        grads,
        *(s for s in states if s is not None),
        *steps_list,
    ]  # the kept states
    grouped = Optimizer._group_tensors_by_device_and_dtype(tensorlists, with_indices=True)
    for lists, indices in grouped.values():
        group_params, group_grads, *group_kept = lists
        # the step counters are tensors, never None (torch's TensorListList allows None)
        group_steps = cast("list[Tensor]", group_kept.pop()) if state_steps is not None else None
        group_states: list[Optional[list[Optional[Tensor]]]] = [None] * len(states)
        for i, tensors in zip(kept, group_kept):
            group_states[i] = list(tensors)
        extra = {}
        if group_steps is not None:
            if (
                not torch.compiler.is_compiling() and group_steps[0].is_cpu
            ):  # as torch: one wrapped 1.0, not 1 per tensor
                torch._foreach_add_(group_steps, torch.tensor(1.0, device="cpu"), alpha=1.0)
            else:
                torch._foreach_add_(group_steps, 1)
            extra = {"steps": [_get_value(s) for s in group_steps]} if takes_step else {}
        elif takes_step:
            extra = {"steps": [first_step(i) for i in indices]}
        update_foreach = kernel.update_foreach
        if capturable and getattr(kernel, "CAPTURABLE", False):
            # a CAPTURABLE kernel (Adam's) keeps a step counter: group_steps is not None
            update_foreach, extra = kernel.update_foreach_capturable, {"steps": list(group_steps)}  # type: ignore[arg-type]
        update_foreach(list(group_params), list(group_grads), *group_states, **hyper, **extra)
        for k in lazy:  # the lazy states the kernel created, back into the caller's lists
            for j, i in enumerate(indices):
                states[k][i] = group_states[k][j]  # type: ignore[index]  # lazy: kept states, in both


#: hyperparameters torch squeezes to 0-d when they are one-element tensors (``_to_scalar``)
_SQUEEZED = ("lr", "beta1", "beta2")


def validate(rule: _rules.UpdateRule, **values: Any) -> None:
    """The model's checks of ``values`` (torch's, in torch's order, with torch's messages), on
    tensors detached from autograd: a hyperparameter that requires grad (``differentiable=True``)
    is compared as torch compares it, without the warning a Python float of it would raise."""
    rule.values(**{k: v.detach() if isinstance(v, Tensor) else v for k, v in values.items()})


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


def _check_tensors(i: int, param: Tensor, sparse_ok: bool = False, **others: Optional[Tensor]) -> None:
    """``others`` (None for an entry not given) are tensors of ``param``'s shape and dtype;
    sparse ones only where ``sparse_ok`` (SGD's ops take them)."""
    if not isinstance(param, torch.Tensor):
        raise TypeError(f"params[{i}] must be a torch.Tensor; got {type(param).__name__}")
    for name, x in others.items():
        if x is None:
            continue
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor; got {type(x).__name__}")
        if x.is_sparse and not sparse_ok:
            raise ValueError(f"{name}[{i}] is sparse; symopt's generated kernels take dense tensors only")
        if x.shape != param.shape:
            raise ValueError(f"{name}[{i}] has shape {tuple(x.shape)} but params[{i}] has shape {tuple(param.shape)}")
        if x.dtype != param.dtype:
            raise TypeError(f"{name}[{i}] has dtype {x.dtype} but params[{i}] has dtype {param.dtype}; they must match")


def _check_steps(state_steps: list) -> None:
    if not all(isinstance(s, torch.Tensor) for s in state_steps):
        raise TypeError(
            "state_steps must be a list of singleton tensors (torch.optim's layout), e.g. torch.tensor(0.0)"
        )


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
    differentiable: bool = False,
) -> None:
    """Adagrad, in place, as :func:`torch.optim.adagrad.adagrad` (``foreach=True``: its
    ``_multi_tensor_adagrad``; ``differentiable=True``: its differentiable for-loop).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    η_t = η/(1 + (t − 1)γ); G ← G + g²; w ← w − η_t g/(√G + ε).
    """
    validate(_rules.adagrad(), lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize)
    _check_lists(("grads", "state_sums", "state_steps"), (params, grads, state_sums, state_steps))
    _check_steps(state_steps)
    for i, (param, grad, state_sum) in enumerate(zip(params, grads, state_sums)):
        _check_tensors(i, param, grads=grad, state_sums=state_sum)
    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    foreach = resolve_foreach(foreach, params, differentiable)
    refuse_differentiable_foreach(foreach, differentiable)
    run_kernel(_adagrad, params, grads, [state_sums], state_steps, hyper, foreach, differentiable)


def adagrad_norm(
    params: list[Tensor],
    grads: list[Tensor],
    state_sums: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
    differentiable: bool = False,
) -> None:
    """AdaGrad-Norm (Ward, Wu & Bottou; :mod:`symopt.rules.adagrad_norm`), in place, one tensor at a
    time, in Adagrad's functional layout; ``state_sums[i]`` is one number per tensor (0-dim, the
    param's real dtype, on its device). torch has no AdaGrad-Norm: no foreach path.

    Per parameter tensor, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    B ← B + ‖g‖²; w ← w − η g/(√B + ε).
    """
    validate(_rules.adagrad_norm(), lr=lr, weight_decay=weight_decay, eps=eps, maximize=maximize)
    _check_lists(("grads", "state_sums", "state_steps"), (params, grads, state_sums, state_steps))
    _check_steps(state_steps)
    for i, (param, grad, state_sum) in enumerate(zip(params, grads, state_sums)):
        _check_tensors(i, param, grads=grad)
        if not isinstance(state_sum, Tensor) or state_sum.dim() != 0 or state_sum.dtype != param.real.dtype:
            raise TypeError(
                f"state_sums[{i}] must be a 0-dim tensor of dtype {param.real.dtype} (one number per tensor); "
                f"got {state_sum!r}"
            )
    hyper = dict(lr=lr, weight_decay=weight_decay, eps=eps, maximize=maximize)
    run_kernel(_adagrad_norm, params, grads, [state_sums], state_steps, hyper, False, differentiable)


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
    differentiable: bool = False,
) -> None:
    """RMSprop, in place, as :func:`torch.optim.rmsprop.rmsprop` (``foreach=True``: its
    ``_multi_tensor_rmsprop``; ``differentiable=True``: its differentiable for-loop).
    ``grad_avgs`` is used when ``centered``, ``momentum_buffer_list`` when ``momentum > 0``
    (pass empty lists otherwise, as torch.optim does).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0;
    v ← αv + (1 − α)g²; m ← m + (1 − α)(g − m) if centered; σ = √(v − m²) + ε (√v + ε if not
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """
    validate(
        _rules.rmsprop(),
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
        centered=centered,
        maximize=maximize,
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
        _check_tensors(
            i, param, grads=grads[i], square_avgs=square_avgs[i], grad_avgs=grad_avg, momentum_buffer_list=buf
        )
    hyper = dict(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize
    )
    states = [square_avgs, grad_avgs if centered else None, momentum_buffer_list if momentum > 0 else None]
    foreach = resolve_foreach(foreach, params, differentiable)
    refuse_differentiable_foreach(foreach, differentiable)
    run_kernel(_rmsprop, params, grads, states, state_steps, hyper, foreach, differentiable)


def adam(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
    grad_scale: Optional[Tensor] = None,
    found_inf: Optional[Tensor] = None,
    has_complex: bool = False,
    decoupled_weight_decay: bool = False,
    *,
    amsgrad: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    """Adam, in place, as :func:`torch.optim.adam.adam` (``foreach=False``: its
    ``_single_tensor_adam``; ``foreach=True``: ``_multi_tensor_adam``); with
    ``decoupled_weight_decay=True`` AdamW's step (the kernel of :func:`symopt.rules.adamw`).
    ``max_exp_avg_sqs`` is used when ``amsgrad`` (pass an empty list otherwise, as torch.optim does).
    ``beta1``/``beta2`` may be one-element tensors on the for-loop, as in torch; ``has_complex``
    is accepted for torch's signature (the kernels view complex tensors as real themselves).

    Per parameter, after ``step += 1``: g ← −g if maximize; g ← g + λw if λ ≠ 0 (w ← w(1 − ηλ)
    instead if decoupled); m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²;
    v_max ← max(v_max, v) if amsgrad; w ← w − η/(1 − β₁^t) · m / (√v / √(1 − β₂^t) + ε)
    (v_max for v if amsgrad).
    """
    _check_code_paths("adam", capturable, differentiable, fused, grad_scale, found_inf)
    validate(
        _rules.adam(),
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
    )
    if foreach is None and fused is None:  # torch's choice, which keeps a tensor lr on the for-loop
        foreach = resolve_foreach(None, params, differentiable) and not isinstance(lr, Tensor)
    refuse_differentiable_foreach(bool(foreach), differentiable)
    if foreach:  # torch's _multi_tensor_adam refuses tensor hyperparameters without capturable
        if isinstance(lr, Tensor):
            raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if isinstance(b, Tensor):
                raise ValueError(f"{name} as a Tensor is not supported for capturable=False and foreach=True")
    _check_lists(
        ("grads", "exp_avgs", "exp_avg_sqs", "state_steps"), (params, grads, exp_avgs, exp_avg_sqs, state_steps)
    )
    if amsgrad:
        _check_lists(("grads", "max_exp_avg_sqs"), (params, grads, max_exp_avg_sqs))
    _check_steps(state_steps)
    for i, param in enumerate(params):
        vmax = max_exp_avg_sqs[i] if amsgrad else None
        _check_tensors(i, param, grads=grads[i], exp_avgs=exp_avgs[i], exp_avg_sqs=exp_avg_sqs[i], max_exp_avg_sqs=vmax)
    hyper = dict(
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
    )
    states = [exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None]
    run_kernel(
        _adamw if decoupled_weight_decay else _adam,
        params,
        grads,
        states,
        state_steps,
        hyper,
        bool(foreach),
        differentiable,
    )


def adamw(
    params: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    max_exp_avg_sqs: list[Tensor],
    state_steps: list[Tensor],
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
    grad_scale: Optional[Tensor] = None,
    found_inf: Optional[Tensor] = None,
    has_complex: bool = False,
    *,
    amsgrad: bool,
    beta1: float | Tensor,
    beta2: float | Tensor,
    lr: float | Tensor,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    """AdamW, in place, as :func:`torch.optim.adamw.adamw`: :func:`adam` with
    ``decoupled_weight_decay=True`` (w ← w·(1 − ηλ) before Adam's update)."""
    adam(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        state_steps,
        foreach,
        capturable,
        differentiable,
        fused,
        grad_scale,
        found_inf,
        has_complex,
        True,
        amsgrad=amsgrad,
        beta1=beta1,
        beta2=beta2,
        lr=lr,
        weight_decay=weight_decay,
        eps=eps,
        maximize=maximize,
    )


def _check_code_paths(
    rule: str,
    capturable: bool,
    differentiable: bool,
    fused: Optional[bool],
    grad_scale: Optional[Tensor],
    found_inf: Optional[Tensor],
) -> None:
    """The code-path switches of torch's functional API that symopt does not generate, refused
    with one line each; ``grad_scale``/``found_inf`` with torch's own error off the fused path.
    ``differentiable`` is generated (``update_differentiable``) and passes."""
    if fused:
        raise NotImplementedError(
            f"symopt.torch.functional.{rule}(fused=True): symopt.fused has no fused C kernel for "
            f"{rule!r} yet; pass fused=False or None"
        )
    if capturable:
        raise NotImplementedError(
            f"symopt.torch.functional.{rule}(capturable=True): symopt generates no capturable "
            "kernels yet; pass capturable=False"
        )
    if grad_scale is not None or found_inf is not None:
        raise AssertionError("Expected grad_scale and found_inf to be None")


def sgd(
    params: list[Tensor],
    d_p_list: list[Tensor],
    momentum_buffer_list: list[Optional[Tensor]],
    has_sparse_grad: bool = False,
    foreach: Optional[bool] = None,
    fused: Optional[bool] = None,
    grad_scale: Optional[Tensor] = None,
    found_inf: Optional[Tensor] = None,
    *,
    weight_decay: float | Tensor,
    momentum: float,
    lr: float | Tensor,
    dampening: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """SGD, in place, as :func:`torch.optim.sgd.sgd` (``foreach=False``: its
    ``_single_tensor_sgd``; ``foreach=True``: ``_multi_tensor_sgd``). ``momentum_buffer_list``
    has one entry per param when ``momentum != 0`` (an empty list otherwise, as torch.optim
    passes): None where the buffer does not exist yet; the step puts the new buffer there.
    Sparse gradients take the same ops (a sparse buffer), as in torch; ``has_sparse_grad`` is
    accepted for torch's signature (the ops tell sparse tensors apart themselves).

    Per parameter: g ← −g if maximize; g ← g + λw if λ ≠ 0; if μ ≠ 0: b ← g at the first step,
    b ← μb + (1 − τ)g after, then g ← g + μb (nesterov) or g ← b; w ← w − ηg.
    """
    _check_code_paths("sgd", False, False, fused, grad_scale, found_inf)
    validate(
        _rules.sgd(),
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )
    _check_lists(("d_p_list",), (params, d_p_list))
    if momentum != 0:
        _check_lists(("d_p_list", "momentum_buffer_list"), (params, d_p_list, momentum_buffer_list))
    for i, param in enumerate(params):
        buf = momentum_buffer_list[i] if momentum != 0 else None
        _check_tensors(i, param, sparse_ok=True, d_p_list=d_p_list[i], momentum_buffer_list=buf)
    hyper = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize
    )
    run_kernel(
        _sgd,
        params,
        d_p_list,
        [momentum_buffer_list if momentum != 0 else None],
        None,
        hyper,
        resolve_foreach(foreach, params),
    )
