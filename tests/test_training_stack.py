"""symopt's drop-ins in real training stacks, bit for bit against torch.optim.

Each test trains the same small seeded model (a two-layer MLP, two param groups: weights, and
biases with half the lr and no weight decay) twice — once with ``torch.optim.<Name>``, once with
``symopt.torch.optim.<Name>`` — inside one piece of an ordinary training stack, and compares after
every step the params and the optimizer's whole ``state_dict()`` (every state entry, ``step``
included, and every param-group value a scheduler or scaler set) with ``torch.equal`` and the
sign bits; NaN or infinity in either record never passes. The expected record is torch.optim's own.

The stacks:

* every LR scheduler of ``torch.optim.lr_scheduler`` (:data:`SCHEDULERS`; CyclicLR and OneCycleLR
  cycle ``momentum`` / ``betas[0]`` where the optimizer has them), with a float lr and with a
  tensor lr where torch.optim takes one;
* ``torch.amp.GradScaler("cpu")`` under ``torch.autocast("cpu", bfloat16)`` (float32) or without
  autocast (float64): scale, backward, an inf gradient at :data:`INF_STEP` that the scaler skips,
  optionally ``unscale_`` + ``clip_grad_norm_``, step through the scaler, update;
* ``torch.distributed.optim.ZeroRedundancyOptimizer(optimizer_class=<class>)`` on a 1-process gloo
  group in this process;
* DistributedDataParallel (with and without ``gradient_as_bucket_view``), DDP + ZeRO and FSDP2
  ``fully_shard`` (DTensor params and states) on 2 gloo processes on 127.0.0.1: this file run as a
  script (``--worker``), bounded by :data:`WORKER_TIMEOUT_S` (the workers' own watchdog) and
  :data:`PARENT_TIMEOUT_S` (the test kills them);
* checkpoints: save → ``torch.load(..., weights_only=True)`` → resume into a fresh model, from
  torch.optim into symopt, from symopt into torch.optim and symopt into symopt, against torch.optim
  into torch.optim; also with the state_dict as an older torch wrote it (param groups without
  :data:`OLDER_TORCH_LACKED`, a Python-number ``step``).

Over every drop-in, the option sets of :data:`OPTIONS` and the code paths of :func:`code_paths`
(for-loop, foreach; Adagrad's fused C kernel too).
"""

from __future__ import annotations

import copy
import datetime
import faulthandler
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import Tensor, nn
from torch.optim import lr_scheduler

import symopt.torch.optim as drop_ins

GLOO = torch.distributed.is_available() and torch.distributed.is_gloo_available()
if GLOO:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    with warnings.catch_warnings():  # torch.distributed.optim scripts its functional optimizers with torch.jit
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", DeprecationWarning)
        from torch.distributed.optim import ZeroRedundancyOptimizer

#: torch.optim classes symopt ships a drop-in for (symopt.torch.optim.<same name>).
DROP_INS = ("Adagrad", "RMSprop", "Adam", "AdamW", "SGD")
SEED = 0
STEPS = 8
LR = 0.05
IN, HIDDEN, OUT, BATCH = 6, 8, 3, 16

#: option sets per drop-in: torch's defaults and the options that add state or change the update.
OPTIONS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "Adagrad": [
        ("defaults", {}),
        ("weight_decay", {"weight_decay": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1}),
    ],
    "RMSprop": [
        ("defaults", {}),
        ("weight_decay", {"weight_decay": 0.1}),
        ("momentum_centered", {"momentum": 0.9, "centered": True}),
    ],
    "Adam": [("defaults", {}), ("weight_decay", {"weight_decay": 0.1}), ("amsgrad", {"amsgrad": True})],
    "AdamW": [("defaults", {}), ("amsgrad_weight_decay", {"amsgrad": True, "weight_decay": 0.1})],
    "SGD": [
        ("defaults", {}),
        ("momentum_weight_decay", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.1}),
        ("nesterov", {"momentum": 0.9, "nesterov": True}),
    ],
}
#: param-group keys torch.optim added after release: a state_dict saved by an older torch lacks them.
OLDER_TORCH_LACKED = ("maximize", "foreach", "differentiable", "fused", "capturable", "decoupled_weight_decay")
#: the step (0-based) whose gradient gets an inf in the GradScaler tests.
INF_STEP = 2
#: seconds a 2-rank worker may run before its watchdog ends it, and the test waits for both.
WORKER_TIMEOUT_S = 150
PARENT_TIMEOUT_S = 180


@pytest.fixture(autouse=True)
def one_intra_op_thread():
    """Tiny problems: torch's intra-op threads only add overhead. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------
# The two classes of a check, the rows
# ------------------------------------------------------------------------------------------------
def reference(name: str) -> type[torch.optim.Optimizer]:
    return getattr(torch.optim, name)


def drop_in(name: str) -> type[torch.optim.Optimizer]:
    return getattr(drop_ins, name)


def code_paths(name: str) -> list[tuple[str, dict[str, Any]]]:
    """torch.optim's CPU code paths that symopt generates for ``name``: the for-loop, the
    multi-tensor path, and Adagrad's fused C kernel (``fused=True``)."""
    paths = [("for-loop", {"foreach": False}), ("foreach", {"foreach": True})]
    return paths + [("fused", {"fused": True})] if name == "Adagrad" else paths


def variants(names: tuple[str, ...] = DROP_INS) -> list[tuple[str, str, dict[str, Any], str, dict[str, Any]]]:
    """(name, option label, options, code-path label, path) for every drop-in, option set and path."""
    return [
        (name, label, options, path_label, path)
        for name in names
        for label, options in OPTIONS[name]
        for path_label, path in code_paths(name)
    ]


def richest(name: str, label: str) -> bool:
    """Whether ``label`` is the option set of ``name`` with the most state (the last of
    :data:`OPTIONS`): the one every fast check runs; the others are ``slow`` where the product grows."""
    return label == OPTIONS[name][-1][0]


def row(*values: Any, id: str, slow: bool = False, xfail: str | None = None) -> Any:
    """A parametrize row, marked ``slow`` and/or a strict xfail with ``xfail`` as its reason."""
    marks = [pytest.mark.slow] if slow else []
    if xfail is not None:
        marks.append(pytest.mark.xfail(strict=True, reason=xfail))
    return pytest.param(*values, id=id, marks=marks)


def takes_tensor_lr(name: str, path: dict[str, Any]) -> bool:
    """Whether torch.optim.<name> takes ``lr=torch.tensor(...)`` on this code path (Adam and AdamW
    refuse it with foreach=True unless capturable): asked of torch itself."""
    try:
        reference(name)([nn.Parameter(torch.zeros(1))], lr=torch.tensor(LR), **path)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------------------
# The model, the data, the records and their comparison
# ------------------------------------------------------------------------------------------------
def mlp(dtype: torch.dtype, seed: int = SEED) -> nn.Sequential:
    """Linear(6, 8) → tanh → Linear(8, 3) with seeded N(0, 0.5²) weights and biases (the global
    RNG is not touched)."""
    model = nn.Sequential(nn.Linear(IN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, OUT)).to(dtype)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return model


def batches(dtype: torch.dtype, steps: int = STEPS, seed: int = SEED + 100) -> list[tuple[Tensor, Tensor]]:
    """``steps`` seeded (input, target) batches."""
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(BATCH, IN, generator=gen, dtype=torch.float64).to(dtype),
            torch.randn(BATCH, OUT, generator=gen, dtype=torch.float64).to(dtype),
        )
        for _ in range(steps)
    ]


def lr_value(value: float, tensor_lr: bool) -> float | Tensor:
    return torch.tensor(value) if tensor_lr else value


def param_groups(model: nn.Module, tensor_lr: bool = False) -> list[dict[str, Any]]:
    """Weights in the first group (the optimizer's options), biases in the second with half the
    lr and no weight decay, as training scripts group them."""
    named = list(model.named_parameters())
    return [
        {"params": [p for n, p in named if n.endswith("weight")]},
        {"params": [p for n, p in named if n.endswith("bias")], "lr": lr_value(LR / 2, tensor_lr), "weight_decay": 0.0},
    ]


def local(x: Any) -> Any:
    """A detached copy of ``x`` (nested dicts/lists/tuples): tensors cloned, DTensors as their local
    shard."""
    if isinstance(x, Tensor):
        if hasattr(x, "to_local"):
            x = x.to_local()
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: local(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(local(v) for v in x)
    return x


def snapshot(model: nn.Module, optimizer: Any, **extra: Any) -> dict[str, Any]:
    """The params and the optimizer's whole ``state_dict()``, detached, with ``extra`` entries."""
    return {
        "params": [local(p) for p in model.parameters()],
        "optimizer": local(optimizer.state_dict()),
        **{k: local(v) for k, v in extra.items()},
    }


def not_finite(x: Tensor) -> bool:
    return x.is_floating_point() and not bool(torch.isfinite(x).all())


def assert_same(ours: Any, theirs: Any, where: str) -> None:
    """``ours`` is ``theirs``: the same nesting, keys, types and values; tensors of the same dtype
    and shape, ``torch.equal`` with the same sign bits; NaN or infinity on either side fails."""
    if isinstance(theirs, Tensor):
        assert isinstance(ours, Tensor), f"{where}: {type(ours).__name__} {ours!r} where torch has a tensor {theirs!r}"
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), (
            f"{where}: {ours.dtype} {tuple(ours.shape)} where torch has {theirs.dtype} {tuple(theirs.shape)}"
        )
        assert not not_finite(theirs), f"{where}: torch.optim's record holds NaN or inf (never passes): {theirs}"
        assert not not_finite(ours), f"{where}: symopt's record holds NaN or inf (never passes): {ours}"
        same = torch.equal(ours, theirs) and (
            not ours.is_floating_point() or torch.equal(ours.signbit(), theirs.signbit())
        )
        if not same:
            differ = (
                int(((ours != theirs) | (ours.signbit() != theirs.signbit())).sum())
                if ours.is_floating_point()
                else int((ours != theirs).sum())
            )
            diff = (ours.double() - theirs.double()).abs().max().item() if ours.numel() else 0.0
            raise AssertionError(
                f"{where}: {differ} of {theirs.numel()} elements differ from torch.optim's "
                f"(max |diff| {diff:.3g}; symopt {ours.flatten()[:3].tolist()}, "
                f"torch {theirs.flatten()[:3].tolist()})"
            )
        return
    assert type(ours) is type(theirs), (
        f"{where}: {type(ours).__name__} {ours!r} where torch has {type(theirs).__name__} {theirs!r}"
    )
    if isinstance(theirs, dict):
        assert sorted(map(str, ours)) == sorted(map(str, theirs)), (
            f"{where}: keys {sorted(map(str, ours))} where torch has {sorted(map(str, theirs))}"
        )
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items where torch has {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        if isinstance(theirs, float):
            assert math.isfinite(theirs) and math.isfinite(ours), (
                f"{where}: {ours!r} / {theirs!r} not finite (never passes)"
            )
        assert ours == theirs, f"{where}: {ours!r} where torch has {theirs!r}"


def assert_records(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs), f"{len(ours)} snapshots where torch.optim's run has {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_same(a, b, f"snapshot {i + 1}")


def assert_trains(record: list[dict[str, Any]], start: list[Tensor]) -> None:
    """The scenario is not vacuous: torch.optim's run moved every param from ``start``."""
    for i, (p, p0) in enumerate(zip(record[-1]["params"], start)):
        assert not torch.equal(p, p0), f"scenario: torch.optim left param {i} where it started"


def group_values(record: list[dict[str, Any]], key: str) -> set[Any]:
    """The distinct values of param-group ``key`` in a record (floats, or tensor lrs as floats)."""

    def plain(v: Any) -> Any:
        return float(v) if isinstance(v, Tensor) else v

    return {
        plain(g[key]) if not isinstance(g[key], tuple) else tuple(map(plain, g[key]))
        for snap in record
        for g in snap["optimizer"]["param_groups"]
    }


def mse(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return nn.functional.mse_loss(model(x), y)


# ------------------------------------------------------------------------------------------------
# 1. LR schedulers
# ------------------------------------------------------------------------------------------------
def _cyclic(opt: Any, momentum: bool) -> Any:
    return lr_scheduler.CyclicLR(
        opt,
        base_lr=LR / 10,
        max_lr=[2 * LR, LR],
        step_size_up=3,
        mode="triangular2",
        cycle_momentum=momentum,
        base_momentum=0.8,
        max_momentum=0.95,
    )


def _one_cycle(opt: Any, momentum: bool) -> Any:
    return lr_scheduler.OneCycleLR(
        opt,
        max_lr=[2 * LR, LR],
        total_steps=STEPS,
        pct_start=0.4,
        cycle_momentum=momentum,
        base_momentum=0.8,
        max_momentum=0.95,
    )


#: every scheduler of torch.optim.lr_scheduler: (optimizer, whether it cycles momentum) -> scheduler
SCHEDULERS: dict[str, Callable[[Any, bool], Any]] = {
    "StepLR": lambda opt, _: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "MultiStepLR": lambda opt, _: lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.3),
    "ConstantLR": lambda opt, _: lr_scheduler.ConstantLR(opt, factor=0.25, total_iters=3),
    "LinearLR": lambda opt, _: lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=5),
    "ExponentialLR": lambda opt, _: lr_scheduler.ExponentialLR(opt, gamma=0.8),
    "PolynomialLR": lambda opt, _: lr_scheduler.PolynomialLR(opt, total_iters=6, power=2.0),
    "CosineAnnealingLR": lambda opt, _: lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=1e-4),
    "CosineAnnealingWarmRestarts": lambda opt, _: lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=3, T_mult=2, eta_min=1e-4
    ),
    "CyclicLR": _cyclic,
    "OneCycleLR": _one_cycle,
    "ReduceLROnPlateau": lambda opt, _: lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1),
    "SequentialLR": lambda opt, _: lr_scheduler.SequentialLR(
        opt,
        [lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2), lr_scheduler.ExponentialLR(opt, gamma=0.85)],
        milestones=[3],
    ),
    "ChainedScheduler": lambda opt, _: lr_scheduler.ChainedScheduler(
        [lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), lr_scheduler.ExponentialLR(opt, gamma=0.9)], optimizer=opt
    ),
    "LambdaLR": lambda opt, _: lr_scheduler.LambdaLR(opt, lr_lambda=lambda epoch: 1 / (1 + epoch)),
    "MultiplicativeLR": lambda opt, _: lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.9),
}
#: the schedulers that also set momentum (or Adam's betas[0]) where the optimizer has it
CYCLES_MOMENTUM = ("CyclicLR", "OneCycleLR")


def cycles_momentum(name: str) -> bool:
    """Whether torch.optim.<name> has the ``momentum`` or ``betas`` CyclicLR/OneCycleLR cycle."""
    defaults = reference(name)([nn.Parameter(torch.zeros(1))]).defaults
    return "momentum" in defaults or "betas" in defaults


def train_under_scheduler(
    cls: type, options: dict[str, Any], path: dict[str, Any], scheduler: str, dtype: torch.dtype, tensor_lr: bool
) -> list[dict[str, Any]]:
    """:data:`STEPS` steps of ``cls`` on the MLP, ``scheduler`` stepped after each (with the loss
    for ReduceLROnPlateau); a snapshot after each step."""
    model = mlp(dtype)
    opt = cls(param_groups(model, tensor_lr), lr=lr_value(LR, tensor_lr), **options, **path)
    name = cls.__name__
    sched = SCHEDULERS[scheduler](opt, cycles_momentum(name))
    record = []
    for x, y in batches(dtype):
        opt.zero_grad()
        loss = mse(model, x, y)
        loss.backward()
        opt.step()
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(loss.item())
        else:
            sched.step()
        record.append(snapshot(model, opt, last_lr=sched.get_last_lr()))
    return record


def _scheduler_rows() -> list[Any]:
    """Every scheduler x drop-in x option set x code path x float/tensor lr (where torch takes a
    tensor lr). Fast: the richest option set on every path with a float lr and on the for-loop
    with a tensor lr, and every option set on the for-loop under the momentum-cycling schedulers."""
    rows = []
    for scheduler in SCHEDULERS:
        for name, label, options, path_label, path in variants():
            for tensor_lr in (False, True):
                if tensor_lr and not takes_tensor_lr(name, path):
                    continue
                fast = (
                    richest(name, label)
                    and (not tensor_lr or path_label == "for-loop")
                    or scheduler in CYCLES_MOMENTUM
                    and path_label == "for-loop"
                    and not tensor_lr
                )
                rows.append(
                    row(
                        scheduler,
                        name,
                        options,
                        path,
                        tensor_lr,
                        slow=not fast,
                        id=f"{scheduler}-{name}-{label}-{path_label}-{'tensor_lr' if tensor_lr else 'float_lr'}",
                    )
                )
    return rows


@pytest.mark.parametrize("scheduler, name, options, path, tensor_lr", _scheduler_rows())
def test_lr_scheduler(scheduler, name, options, path, tensor_lr):
    expected = train_under_scheduler(reference(name), options, path, scheduler, torch.float32, tensor_lr)
    assert_trains(expected, [p.detach() for p in mlp(torch.float32).parameters()])
    assert len(group_values(expected, "lr")) > 2, f"scenario: {scheduler} did not change the lr"
    if scheduler in CYCLES_MOMENTUM and cycles_momentum(name):
        key = "betas" if name.startswith("Adam") else "momentum"
        assert len(group_values(expected, key)) > 2, f"scenario: {scheduler} did not cycle {key}"
    assert_records(train_under_scheduler(drop_in(name), options, path, scheduler, torch.float32, tensor_lr), expected)


@pytest.mark.parametrize("scheduler", ["CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "CosineAnnealingWarmRestarts"])
@pytest.mark.parametrize("name", DROP_INS)
def test_lr_scheduler_float64(scheduler, name):
    """A few schedulers in float64, on the option set of each drop-in with the most state."""
    label, options = OPTIONS[name][-1]
    expected = train_under_scheduler(reference(name), options, {"foreach": False}, scheduler, torch.float64, False)
    assert_trains(expected, [p.detach() for p in mlp(torch.float64).parameters()])
    assert_records(
        train_under_scheduler(drop_in(name), options, {"foreach": False}, scheduler, torch.float64, False), expected
    )


# ------------------------------------------------------------------------------------------------
# 2. torch.amp.GradScaler("cpu")
# ------------------------------------------------------------------------------------------------
def train_with_grad_scaler(
    cls: type, options: dict[str, Any], path: dict[str, Any], dtype: torch.dtype, clip: bool
) -> list[dict[str, Any]]:
    """6 steps through ``torch.amp.GradScaler("cpu")`` (growing its scale every 2 good steps),
    under ``torch.autocast("cpu", bfloat16)`` in float32; at :data:`INF_STEP` one gradient element
    is inf and the scaler skips the step. With ``clip``: ``scaler.unscale_`` then
    ``clip_grad_norm_(max_norm=0.5)`` before the step. A snapshot after each step holds the
    scaler's state and the gradients (except at the inf step, where they are inf or NaN)."""
    model = mlp(dtype)
    opt = cls(param_groups(model), lr=LR, **options, **path)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=2)
    record = []
    for i, (x, y) in enumerate(batches(dtype, steps=6)):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.float32):
            out = model(x)
        loss = nn.functional.mse_loss(out.to(dtype), y)
        scaler.scale(loss).backward()
        if i == INF_STEP:
            with torch.no_grad():
                model[0].weight.grad[0, 0] = math.inf
        if clip:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        scaler.step(opt)
        scaler.update()
        grads = [] if i == INF_STEP else [p.grad for p in model.parameters()]
        record.append(snapshot(model, opt, scaler=scaler.state_dict(), grads=grads))
    return record


#: torch.optim.SGD's multi-tensor path with nesterov (and no weight decay, no maximize) adds
#: momentum*buf into p.grad in place (_multi_tensor_sgd: _foreach_add_(device_grads, bufs));
#: symopt's leaves p.grad as backward (and the scaler) left it: params and state agree.
NESTEROV_FOREACH_GRAD = (
    "torch SGD(foreach=True, nesterov=True) writes g + momentum*buf into p.grad; symopt leaves "
    "p.grad unchanged: the gradients after the step differ"
)


def _grad_scaler_rows() -> list[Any]:
    """Every drop-in x option set x code path x (float32 under bf16 autocast, float64) x
    (scaled, unscale_ + clip). Fast: float32 with the richest option set, or on the for-loop
    without clipping; float64 with the richest option set on the for-loop without clipping."""
    rows = []
    for name, label, options, path_label, path in variants():
        for dtype, dtype_label in ((torch.float32, "float32_autocast_bf16"), (torch.float64, "float64")):
            for clip in (False, True):
                plain = path_label == "for-loop" and not clip
                fast = (richest(name, label) or plain) if dtype == torch.float32 else richest(name, label) and plain
                grad_written = name == "SGD" and options.get("nesterov") and path_label == "foreach"
                rows.append(
                    row(
                        name,
                        options,
                        path,
                        dtype,
                        clip,
                        slow=not fast,
                        xfail=NESTEROV_FOREACH_GRAD if grad_written else None,
                        id=f"{name}-{label}-{path_label}-{dtype_label}-{'unscale_clip' if clip else 'scaled'}",
                    )
                )
    return rows


@pytest.mark.parametrize("name, options, path, dtype, clip", _grad_scaler_rows())
def test_grad_scaler(name, options, path, dtype, clip):
    expected = train_with_grad_scaler(reference(name), options, path, dtype, clip)
    assert_trains(expected, [p.detach() for p in mlp(dtype).parameters()])
    skipped, before = expected[INF_STEP], expected[INF_STEP - 1]
    assert_same(skipped["params"], before["params"], "scenario: torch's scaler skips the inf step (params)")
    assert_same(skipped["optimizer"]["state"], before["optimizer"]["state"], "scenario: the inf step (state)")
    assert skipped["scaler"]["scale"] < before["scaler"]["scale"], "scenario: the scaler backs off at the inf step"
    assert before["scaler"]["scale"] > 2.0**8, "scenario: the scaler grew its scale before the inf step"
    assert_records(train_with_grad_scaler(drop_in(name), options, path, dtype, clip), expected)


# ------------------------------------------------------------------------------------------------
# 3. ZeroRedundancyOptimizer on a 1-process gloo group (in this process)
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_process_gloo_group():
    if not GLOO:
        pytest.skip("torch.distributed with the gloo backend is not available in this torch build")
    if dist.is_initialized():
        pytest.skip("a default process group is already initialized in this process")
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{free_port()}",
        rank=0,
        world_size=1,
        timeout=datetime.timedelta(seconds=60),
    )
    yield
    dist.destroy_process_group()


def train_with_zero(
    cls: type, options: dict[str, Any], path: dict[str, Any], bucket_view: bool, steps: int = 6
) -> list[dict[str, Any]]:
    """``steps`` steps of ``ZeroRedundancyOptimizer(optimizer_class=cls)`` under a StepLR (which
    ZeRO passes on to its local optimizer), a snapshot of the local optimizer after each; then the
    consolidated state_dict, loaded into a fresh ZeRO over a fresh model, and 2 more steps."""
    model = mlp(torch.float32)
    opt = ZeroRedundancyOptimizer(
        model.parameters(), optimizer_class=cls, parameters_as_bucket_view=bucket_view, lr=LR, **options, **path
    )
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    data = batches(torch.float32, steps + 2)
    record = []
    for x, y in data[:steps]:
        opt.zero_grad()
        mse(model, x, y).backward()
        opt.step()
        sched.step()
        record.append(snapshot(model, opt.optim))
    opt.consolidate_state_dict(to=0)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    record.append({"consolidated": local(checkpoint["optimizer"])})
    model = mlp(torch.float32, seed=SEED + 1)
    model.load_state_dict(checkpoint["model"])
    opt = ZeroRedundancyOptimizer(
        model.parameters(), optimizer_class=cls, parameters_as_bucket_view=bucket_view, lr=3 * LR, **options, **path
    )
    opt.load_state_dict(checkpoint["optimizer"])
    for x, y in data[steps:]:
        opt.zero_grad()
        mse(model, x, y).backward()
        opt.step()
        record.append(snapshot(model, opt.optim))
    return record


def _zero_rows() -> list[Any]:
    """Every drop-in x option set x code path x parameters_as_bucket_view. Fast: the richest
    option set, bucket view on the foreach path."""
    return [
        row(
            name,
            options,
            path,
            bucket_view,
            slow=not (richest(name, label) and (not bucket_view or path_label == "foreach")),
            id=f"{name}-{label}-{path_label}-{'params_as_bucket_view' if bucket_view else 'params'}",
        )
        for name, label, options, path_label, path in variants()
        for bucket_view in (False, True)
    ]


@pytest.mark.parametrize("name, options, path, bucket_view", _zero_rows())
def test_zero_redundancy_optimizer(one_process_gloo_group, name, options, path, bucket_view):
    expected = train_with_zero(reference(name), options, path, bucket_view)
    assert_trains(expected[:6], [p.detach() for p in mlp(torch.float32).parameters()])
    assert_records(train_with_zero(drop_in(name), options, path, bucket_view), expected)


# ------------------------------------------------------------------------------------------------
# 4. DDP, DDP + ZeRO and FSDP2 on 2 gloo processes (this file run as a script)
# ------------------------------------------------------------------------------------------------
#: the 2-rank stacks
STACKS = ("DDP", "DDP_grad_bucket_view", "DDP_ZeRO", "FSDP2")
TWO_RANK_STEPS = 4


#: the paths of the fast 2-rank cases, by stack (with the richest option set of each drop-in); a
#: 2-rank FSDP2 training costs ~0.3 s of CPU per rank, DDP's ~0.05 s, and each worker ~5 s to start
TWO_RANK_FAST_PATHS = {
    "DDP": ("fused",),
    "DDP_grad_bucket_view": ("for-loop",),
    "DDP_ZeRO": ("foreach",),
    "FSDP2": ("foreach",),
}


#: (stack, path label) -> the torch.optim path symopt's is compared with there, where torch's own
#: raises: fused Adagrad on FSDP2's DTensors (torch: NotImplementedError, aten._fused_adagrad_ has
#: no sharding strategy), which symopt steps with the generated Torch kernels (its for-loop, as
#: torch picks for CPU params), the fused C kernel taking plain tensors only
TORCH_PATH_WHERE_TORCH_RAISES = {("FSDP2", "fused"): {"foreach": False}}


def two_rank_cases() -> dict[str, tuple[str, str, dict[str, Any], dict[str, Any], bool]]:
    """case id -> (stack, name, options, path, fast): every stack, drop-in, option set and code
    path (for fused Adagrad on FSDP2, torch's reference is :data:`TORCH_PATH_WHERE_TORCH_RAISES`)."""
    return {
        f"{stack}-{name}-{label}-{path_label}": (
            stack,
            name,
            options,
            path,
            richest(name, label)
            and (path_label in TWO_RANK_FAST_PATHS[stack] or (stack, path_label) in TORCH_PATH_WHERE_TORCH_RAISES),
        )
        for stack in STACKS
        for name, label, options, path_label, path in variants()
    }


def with_path_flags(
    record: list[dict[str, Any]], given: dict[str, Any], instead: dict[str, Any]
) -> list[dict[str, Any]]:
    """``record`` with the param groups' code-path flags as if ``instead`` had been passed where
    ``given`` was (the flags of ``given`` back to their default, None; then ``instead``'s)."""
    out = copy.deepcopy(record)
    for snap in out:
        for group in snap["optimizer"]["param_groups"]:
            group.update({**{k: None for k in given}, **instead})
    return out


def torch_raises_on_its_own_path(case: str) -> bool:
    """Whether ``case`` is one of :data:`TORCH_PATH_WHERE_TORCH_RAISES`."""
    return (two_rank_cases()[case][0], case.rsplit("-", 1)[-1]) in TORCH_PATH_WHERE_TORCH_RAISES


def torch_path(case: str) -> dict[str, Any]:
    """The code path torch.optim takes in ``case`` (its own, or where it raises, the one symopt
    must equal there)."""
    stack, _, _, path, _ = two_rank_cases()[case]
    return TORCH_PATH_WHERE_TORCH_RAISES.get((stack, case.rsplit("-", 1)[-1]), path)


def build_stack(stack: str, cls: type, options: dict[str, Any], path: dict[str, Any]) -> tuple[nn.Module, Any, Any]:
    """(module to call, module whose params to record, optimizer whose state_dict to record)."""
    model = mlp(torch.float32)
    if stack == "FSDP2":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (dist.get_world_size(),))
        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        opt = cls(param_groups(model), lr=LR, **options, **path)
        return model, model, opt
    ddp = DistributedDataParallel(model, gradient_as_bucket_view=stack == "DDP_grad_bucket_view")
    if stack == "DDP_ZeRO":
        opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=cls, lr=LR, **options, **path)
        return ddp, model, opt
    return ddp, model, cls(param_groups(model), lr=LR, **options, **path)


def train_on_ranks(stack: str, cls: type, options: dict[str, Any], path: dict[str, Any]) -> list[dict[str, Any]]:
    """:data:`TWO_RANK_STEPS` steps on this rank's batches (seeded by rank), a StepLR after each;
    a snapshot of this rank's params (FSDP2: its shards) and optimizer after each (ZeRO: its local
    optimizer over this rank's partition)."""
    forward, model, opt = build_stack(stack, cls, options, path)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    record = []
    for x, y in batches(torch.float32, TWO_RANK_STEPS, seed=SEED + 200 + dist.get_rank()):
        opt.zero_grad()
        nn.functional.mse_loss(forward(x), y).backward()
        opt.step()
        sched.step()
        record.append(snapshot(model, opt.optim if stack == "DDP_ZeRO" else opt))
    return record


def worker(rank: int, world_size: int, port: int, out: Path) -> None:
    """One rank: the cases of :func:`two_rank_cases` listed in ``out/cases.json`` (the selected
    tests'), each with torch.optim and with symopt; the records
    (or the error, one line and its traceback) to ``out/rank<rank>.pt``. Ends itself after
    :data:`WORKER_TIMEOUT_S` seconds (faulthandler prints where it hung)."""
    faulthandler.dump_traceback_later(WORKER_TIMEOUT_S, exit=True)
    warnings.simplefilter("error")  # as pytest's filterwarnings = error
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=60),
    )
    records: dict[str, Any] = {}
    try:
        for case in json.loads((out / "cases.json").read_text()):
            stack, name, options, path, _ = two_rank_cases()[case]
            records[case] = {}
            sides = [("torch", reference(name), torch_path(case)), ("symopt", drop_in(name), path)]
            if torch_raises_on_its_own_path(
                case
            ):  # torch's own path there, which raises (the test checks it still does)
                sides.append(("torch's own path", reference(name), path))
            for side, cls, side_path in sides:
                try:
                    records[case][side] = train_on_ranks(stack, cls, options, side_path)
                except Exception as exc:  # recorded; the test reports it
                    records[case][side] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                dist.barrier()
    finally:
        dist.destroy_process_group()
    torch.save(records, out / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def two_rank_records(request, tmp_path_factory) -> list[dict[str, Any]]:
    """Runs the 2 gloo workers once for the module, on the cases of the selected tests; their
    records, by rank."""
    if not GLOO:
        pytest.skip("torch.distributed with the gloo backend is not available in this torch build")
    out = tmp_path_factory.mktemp("two_ranks")
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_two_ranks" and hasattr(item, "callspec")
    ]
    (out / "cases.json").write_text(json.dumps(selected))
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    logs = [open(out / f"rank{rank}.log", "wb") for rank in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(rank), "2", str(port), str(out)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for rank, log in enumerate(logs)
    ]
    deadline = time.monotonic() + PARENT_TIMEOUT_S
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    failed = [(rank, proc.returncode) for rank, proc in enumerate(procs) if proc.returncode != 0]
    if failed:
        tails = "\n".join(
            f"--- rank {rank} (exit {rc}):\n" + (out / f"rank{rank}.log").read_text(errors="replace")[-3000:]
            for rank, rc in failed
        )
        pytest.fail(f"the 2-rank gloo workers failed or ran past {PARENT_TIMEOUT_S} s:\n{tails}")
    return [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.mark.parametrize("case", [row(case, id=case, slow=not fast) for case, (*_, fast) in two_rank_cases().items()])
def test_two_ranks(two_rank_records, case):
    for rank, records in enumerate(two_rank_records):
        expected, actual = records[case]["torch"], records[case]["symopt"]
        if isinstance(expected, str) and expected.startswith(("ImportError", "ModuleNotFoundError")):
            pytest.skip(
                f"this torch build lacks a piece of the {two_rank_cases()[case][0]} stack: {expected.splitlines()[0]}"
            )
        if isinstance(expected, str):
            raise RuntimeError(f"rank {rank}: torch.optim itself failed in this stack (the test is wrong): {expected}")
        assert not isinstance(actual, str), f"rank {rank}: symopt raised where torch.optim steps: {actual}"
        if torch_raises_on_its_own_path(case):  # the groups name the path each side was given
            expected = with_path_flags(expected, torch_path(case), two_rank_cases()[case][3])
        assert_records(actual, expected)
        if "torch's own path" in records[case]:  # the reason torch's reference is another path here
            own = records[case]["torch's own path"]
            assert isinstance(own, str) and own.startswith("NotImplementedError"), (
                f"rank {rank}: torch.optim now steps {case} on its own path: compare with it "
                "(drop the TORCH_PATH_WHERE_TORCH_RAISES entry)"
            )
    if two_rank_cases()[case][0] != "FSDP2":  # the ranks train one model on their own batches (FSDP2: shards)
        first, second = (records[case]["torch"][-1]["params"] for records in two_rank_records)
        assert_same(second, first, "scenario: the ranks' params agree")


# ------------------------------------------------------------------------------------------------
# 5. Checkpoints: save, torch.load(weights_only=True), resume
# ------------------------------------------------------------------------------------------------
def as_older_torch_wrote_it(state_dict: dict[str, Any]) -> None:
    """In place: param groups without :data:`OLDER_TORCH_LACKED`, each ``step`` a Python int."""
    for group in state_dict["param_groups"]:
        for key in OLDER_TORCH_LACKED:
            group.pop(key, None)
    for state in state_dict["state"].values():
        if "step" in state:
            state["step"] = int(state["step"].item())


def train_resumed(
    first: type, second: type, options: dict[str, Any], path: dict[str, Any], dtype: torch.dtype, older: bool
) -> list[dict[str, Any]]:
    """4 steps with ``first`` under a StepLR; model, optimizer and scheduler saved with torch.save
    and read back with ``torch.load(weights_only=True)`` (optimizer state_dict as an older torch
    wrote it if ``older``); a fresh model (other init) and a ``second`` optimizer (other lr) load
    them and take 4 more steps. Snapshots after each step and right after loading."""
    data = batches(dtype)
    model = mlp(dtype)
    opt = first(param_groups(model), lr=LR, **options, **path)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.8)
    record = []

    def run(steps: list[tuple[Tensor, Tensor]]) -> None:
        for x, y in steps:
            opt.zero_grad()
            mse(model, x, y).backward()
            opt.step()
            sched.step()
            record.append(snapshot(model, opt))

    run(data[: STEPS // 2])
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    if older:
        as_older_torch_wrote_it(checkpoint["optimizer"])
    record.append({"saved": local(checkpoint["optimizer"])})
    model = mlp(dtype, seed=SEED + 1)
    model.load_state_dict(checkpoint["model"])
    opt = second(param_groups(model), lr=3 * LR, **options, **path)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.8)
    opt.load_state_dict(checkpoint["optimizer"])
    sched.load_state_dict(checkpoint["scheduler"])
    record.append(snapshot(model, opt))
    run(data[STEPS // 2 :])
    return record


DIRECTIONS = {
    "torch_to_symopt": (reference, drop_in),
    "symopt_to_torch": (drop_in, reference),
    "symopt_to_symopt": (drop_in, drop_in),
}


def _checkpoint_rows() -> list[Any]:
    """Every drop-in x option set x code path x dtype x direction x format. Fast: float32, the
    richest option set, or the for-loop from torch.optim into symopt in the older format."""
    rows = []
    for name, label, options, path_label, path in variants():
        for dtype, dtype_label in ((torch.float32, "float32"), (torch.float64, "float64")):
            for direction in DIRECTIONS:
                for older in (False, True):
                    fast = dtype == torch.float32 and (
                        richest(name, label) or path_label == "for-loop" and direction == "torch_to_symopt" and older
                    )
                    rows.append(
                        row(
                            name,
                            options,
                            path,
                            dtype,
                            direction,
                            older,
                            slow=not fast,
                            id=f"{name}-{label}-{path_label}-{dtype_label}-{direction}-"
                            f"{'older_torch_format' if older else 'current'}",
                        )
                    )
    return rows


@pytest.mark.parametrize("name, options, path, dtype, direction, older", _checkpoint_rows())
def test_checkpoint_resume(name, options, path, dtype, direction, older):
    first, second = DIRECTIONS[direction]
    expected = train_resumed(reference(name), reference(name), options, path, dtype, older)
    assert_trains(expected, [p.detach() for p in mlp(dtype).parameters()])
    if older:
        saved = expected[STEPS // 2]["saved"]
        assert not any(key in g for g in saved["param_groups"] for key in OLDER_TORCH_LACKED), "scenario: keys left"
        assert all(type(st["step"]) is int for st in saved["state"].values() if "step" in st), "scenario: int steps"
        loaded = expected[STEPS // 2 + 1]["optimizer"]
        assert all(key in g for g in loaded["param_groups"] for key in ("maximize", "foreach")), (
            "scenario: torch.optim fills the keys an older torch did not save"
        )
    assert_records(train_resumed(first(name), second(name), options, path, dtype, older), expected)


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
