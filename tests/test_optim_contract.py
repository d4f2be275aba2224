"""torch's own optimizer contract, run on symopt's drop-ins.

torch checks every optimizer of ``torch.optim`` with the generic tests of ``test/test_optim.py``
(class ``TestOptimRenewed``) and ``test/optim/test_optim.py``
(``TestDifferentiableOptimizerOptimizerInfo``), over the configurations of its ``optim_db``
(``torch.testing._internal.common_optimizers``) with the global flags that
``_get_optim_inputs_including_global_cliquey_kwargs`` adds (``differentiable``, ``fused``).
This module runs the same checks — written here, not copied — on ``symopt.torch.optim.<Name>``
for every ``torch.optim.<Name>`` symopt claims to replace (:data:`DROP_INS`), over the inputs
read from torch when the tests are collected.

Every check runs twice with the same seeded tensors: once with ``torch.optim.<Name>`` (the
expected record; if torch itself fails the check the test errors with ``ReferenceFailure``, it
never counts as symopt's failure) and once with symopt's drop-in, which must (1) pass torch's
assertion and (2) produce the same record as torch.optim, bit for bit: params after every step,
the whole ``state_dict()`` (state tensors, ``step``, param groups), raised errors (type and
message), repr, hook calls. NaN or inf in a record never passes. Where torch compares two code
paths of one optimizer (foreach/fused vs for-loop, complex vs its real view, tensor vs float lr)
symopt's two paths are compared with torch's tolerance, and each bitwise with torch's path.

Inputs: torch's helper adds ``foreach`` only on devices with foreach kernels (not CPU); symopt's
multi-tensor path is its own generated code that runs on CPU, so each config also gets an
``& foreach`` variant (the base config with ``foreach=True``), as the helper builds it on CUDA.

Known failures are strict xfails listed in :data:`XFAIL` below: delete an entry when its feature
lands (a strict xfail that passes turns ``make test`` red). A drop-in symopt does not have yet
fails every test with "symopt.torch.optim has no <Name>", and is xfailed by one rule
(:func:`_marks`) that lapses by itself once the class exists.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import io
import math
import re
import warnings
from typing import Any, Callable

import pytest
import torch
from torch import Tensor
from torch.nn import Parameter
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.testing._internal import common_optimizers as common

import symopt.torch.optim as drop_ins

#: torch.optim classes symopt ships a drop-in for (symopt.torch.optim.<same name>).
DROP_INS = ("Adagrad", "RMSprop", "Adam", "AdamW", "SGD")

# ------------------------------------------------------------------------------------------------
# Which of torch's generic checks this module runs, and which it leaves out and why.
# ------------------------------------------------------------------------------------------------
#: torch's test (TestOptimRenewed unless named) -> what it checks; the test here has the same name.
COVERED = {
    "test_errors": "construction/step errors of optim_error_inputs_func: type, message (= torch's)",
    "test_forloop_goes_right_direction": "for-loop lowers the loss in 20 steps, contiguous and "
    "non-contiguous params, with and without each of torch's LR scheduler sets",
    "test_param_group_with_lrscheduler_goes_right_direction": "two param groups under each scheduler set",
    "test_tensor_lr": "lr as a 0-, 1-, 2-d tensor steps as the float lr (or is refused as torch refuses it)",
    "test_rosenbrock_sparse": "sparse (uncoalesced) gradients match dense ones on Rosenbrock (slow: 1800 steps)",
    "test_complex": "complex params step as their view_as_real twins (mixed with a real param)",
    "test_complex_2d": "a complex param steps as its real and imaginary parts as two params",
    "test_foreach_matches_forloop": "foreach=True matches foreach=False, params and every state entry",
    "test_fused_matches_forloop": "fused=True matches the for-loop on CPU, float32 and float64",
    "test_fused_error_on_params_on_meta": "fused=True refuses meta params at step, then steps CPU ones",
    "test_param_groups_weight_decay": "a group with weight_decay beside one without",
    "test_param_groups_lr": "a group's lr overrides the optimizer's (lr=1e-28 leaves the other group)",
    "test_step_is_noop_when_params_have_no_grad": "step without gradients changes nothing",
    "test_step_is_noop_for_zero_grads": "step with zero gradients changes nothing",
    "test_grads_are_never_inplaced_into": "step never writes into .grad",
    "test_optimizer_can_be_printed": "repr works (and equals torch's)",
    "test_state_dict_deterministic": "a loaded state_dict continues identically; named and unnamed params",
    "test_can_load_older_state_dict": "a state_dict without the flags added after release loads and steps",
    "test_can_load_from_to_named_state_dict": "named <-> unnamed params state_dict round trip",
    "test_save_load_equality_with_weights_only": "torch.save / torch.load(weights_only=True) round trip",
    "test_load_nontensor_step": "a state_dict with Python-number steps loads and steps",
    "test_state_dict_pre_hook": "state_dict pre hook",
    "test_state_dict_post_hook": "state_dict post hook",
    "test_state_dict_pre_post_hook": "state_dict pre and post hooks",
    "test_load_state_dict_pre_hook_and_prepend": "load_state_dict pre hooks, prepend order",
    "test_load_state_dict_post_hook": "load_state_dict post hook",
    "test_load_state_dict_pre_post_hook": "load_state_dict pre and post hooks",
    "test_step_post_hook": "step post hook",
    "test_step_pre_hook": "step pre hook",
    "test_step_all_hooks": "global and local step hooks, in order",
    "test_deepcopy_copies_all_public_attrs": "deepcopy keeps every public attribute (the same as torch's)",
    "test_non_empty_state": "every param has state after one step",
    "test_adamw_serialization": "Adam <-> AdamW state_dicts carry decoupled_weight_decay",
    "TestDifferentiableOptimizerOptimizerInfo.test_optimizers_differentiable_wrt_params": "differentiable=True: gradcheck of one step w.r.t. params and grad (here: test_differentiable)",
}
#: torch's generic tests not run here, with the reason.
LEFT_OUT = {
    "test_optim_infos_do_not_specify_global_cliquey_kwargs": "checks torch's optim_db data, not an optimizer",
    "test_forloop_goes_right_direction_multigpu": "needs two CUDA devices",
    "test_mixed_device_dtype": "needs two CUDA devices",
    "test_set_default_dtype_works_with_foreach": "CUDA only",
    "test_foreach_large_tensor": "CUDA only (2**32-element float16 params)",
    "test_peak_memory_foreach": "CUDA only (CUDA caching allocator statistics)",
    "test_fused_matches_forloop[bfloat16, float16]": "outside this module's float32/float64 scope; "
    "the 16-bit fused kernels are checked in tests/test_fused_lowp.py (bitwise with torch's fused path "
    "for Adagrad/Adam/AdamW, with float32 simulations for RMSprop and SGD: torch's fused SGD is wrong in 16-bit)",
    "test_fused_large_tensor": "64 GB of memory (2**32-element float16 params)",
    "test_fused_does_not_step_if_foundinf": "CUDA only (grad_scale/found_inf of the CUDA fused kernels)",
    "test_cpu_load_state_dict": "torch skips it on CPU (CPU state loaded into non-CPU fused/capturable)",
    "test_state_dict_with_cuda_params": "CUDA only",
    "test_fused_cpu_matches_cuda": "CUDA only",
    "test_defaults_changed_to_foreach": "CUDA only (foreach is the default there, not on CPU)",
    "test_second_order_optims_return_consistent_types": "LBFGS only (step_requires_closure)",
    "test_step_iteration": "LBFGS only",
    "capturable configs of optim_inputs_func": "torch adds them on CUDA/XPU only (capturable needs a GPU)",
    "TestDifferentiableOptimizer.test_differentiable_lr/_weight_decay/_weight_decay_and_lr": "SGD-specific gradients w.r.t. tensor hyper-parameters, not an optim_db check",
}

# ------------------------------------------------------------------------------------------------
# Known failures: strict xfails, (checks, case id glob, reason); checks: a test name, a glob or a
# tuple of names. Measured on the committed symopt (see the commit). Delete an entry when fixed:
# a strict xfail that passes fails the run.
# ------------------------------------------------------------------------------------------------
XFAIL: list[tuple[str | tuple[str, ...], str, str]] = [
    # measured on the tree of this commit, `-m "not slow"` (the slow cases are not listed)
]

SEED = 0
DEVICE = "cpu"
INFOS = {info.name: info for info in common.optim_db if info.name in DROP_INS}
SCHEDULER_MODULE = torch.optim.lr_scheduler


@pytest.fixture(autouse=True)
def one_intra_op_thread():
    """The problems here are tiny: torch's intra-op threads only add overhead (a conv of
    (1, 4, 16, 16) takes ~100x longer with 2 threads on a loaded 2-core machine). Both runs of a
    check use the same setting; the previous one is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class DropInFailure(AssertionError):
    """symopt's drop-in fails torch's check, differs from torch.optim, or does not exist."""


class ReferenceFailure(RuntimeError):
    """torch.optim itself fails the check on these inputs: the test is wrong, not symopt."""


# ------------------------------------------------------------------------------------------------
# Inputs: torch's configurations, read from torch.testing._internal.common_optimizers
# ------------------------------------------------------------------------------------------------
def base_inputs(name: str, dtype: torch.dtype | None = None) -> list[common.OptimizerInput]:
    """``optim_inputs_func(device="cpu")``: torch's configurations without global flags."""
    return INFOS[name].optim_inputs_func(device=DEVICE, dtype=dtype)


def flagged_inputs(
    name: str, dtype: torch.dtype = torch.float32, skip: tuple[str, ...] = ()
) -> list[common.OptimizerInput]:
    """torch's configurations with the global flags torch's helper adds on CPU (all flags False,
    then each of ``differentiable`` / ``fused`` True), plus ``& foreach`` (base + ``foreach=True``)
    where the optimizer has a foreach implementation and ``foreach`` is not skipped."""
    info = INFOS[name]
    out = []
    for inp in common._get_optim_inputs_including_global_cliquey_kwargs(DEVICE, dtype, info, skip=skip):
        out.append(inp)
        is_base = " & " not in inp.desc
        if is_base and "foreach" in info.supported_impls and "foreach" not in skip and "foreach" not in inp.kwargs:
            kwargs = {**copy.deepcopy(inp.kwargs), "foreach": True}
            out.append(common.OptimizerInput(params=None, kwargs=kwargs, desc=f"{inp.desc} & foreach"))
    return out


def error_inputs(name: str) -> list[common.ErrorOptimizerInput]:
    """``optim_error_inputs_func(device="cpu", dtype=float32)``, freshly made (new params)."""
    return INFOS[name].optim_error_inputs_func(device=DEVICE, dtype=torch.float32)


def _slug(desc: str) -> str:
    return desc.replace(" & ", "+").replace(", ", ",").replace(" ", "_")


def _marks(check: str, pid: str) -> list[Any]:
    """The strict xfail of ``check`` for the case ``pid`` ("<Name>-..."), if it has one."""
    name = pid.split("-", 1)[0]
    if getattr(drop_ins, name, None) is None:
        return [
            pytest.mark.xfail(
                strict=True,
                raises=DropInFailure,
                reason=f"symopt.torch.optim has no {name} (torch.optim.{name}'s drop-in) yet",
            )
        ]
    for checks, id_glob, reason in XFAIL:
        names = (checks,) if isinstance(checks, str) else checks
        if any(fnmatch.fnmatchcase(check, c) for c in names) and fnmatch.fnmatchcase(pid, id_glob):
            return [pytest.mark.xfail(strict=True, raises=DropInFailure, reason=f"symopt.torch.{name} {reason}")]
    return []


Row = tuple  # (id, values) or (id, values, torch's config desc)


def cases(
    check: str, rows: list[Row], names: str, slow: Callable[[str, str], bool] = lambda desc, pid: False
) -> Callable:
    """``pytest.mark.parametrize(names, ...)`` over ``rows``, with the marks of :data:`XFAIL`
    for ``check``, and ``slow`` on the cases for which ``slow(desc, id)`` is true."""
    params = []
    for pid, values, *desc in rows:
        marks = _marks(check, pid)
        if slow(desc[0] if desc else "", pid) or _flag_beyond_default(desc[0] if desc else ""):
            marks.append(pytest.mark.slow)
        params.append(pytest.param(*values, id=pid, marks=marks))
    return pytest.mark.parametrize(names, params)


def _flag_beyond_default(desc: str) -> bool:
    """Whether torch's config ``desc`` carries a global flag (``& foreach``, ``& fused``,
    ``& differentiable``) on a base config other than "default": ``make test`` runs each flag on
    the default config and every base config without flags (the time budget of make test); the
    rest runs with ``-m slow``."""
    base, *flags = desc.split(" & ")
    return bool(flags) and base != "default"


def beyond_default(plain: str) -> Callable[[str, str], bool]:
    """``slow`` for the variants that do not depend on the optimizer's config (named params,
    tensor-lr dimensions, scheduler sets, hooks): ``make test`` runs them on torch's "default"
    config (with each global flag) and the ``plain`` variant (id ending) on every config; the
    rest runs with ``-m slow``."""
    return lambda desc, pid: desc.split(" & ")[0] != "default" and not pid.endswith(plain)


def _rows(inputs_of: Callable[[str], list[common.OptimizerInput]], names=DROP_INS, **extra: list[tuple[str, Any]]):
    """``(id, (name, kwargs, *extra values), desc)`` for every drop-in, every input and every
    combination of ``extra`` (keyword -> list of ``(id part, value)``)."""
    rows = [(f"{n}-{_slug(i.desc)}", (n, i.kwargs), i.desc) for n in names if n in INFOS for i in inputs_of(n)]
    for parts in extra.values():
        rows = [(f"{pid}-{part}", values + (value,), desc) for pid, values, desc in rows for part, value in parts]
    return rows


def _without_weight_decay(inputs: list[common.OptimizerInput]) -> list[common.OptimizerInput]:
    """torch's zero-grad check skips configs with weight decay (it moves params without grads)."""
    return [i for i in inputs if i.kwargs.get("weight_decay", 0) == 0]


# ------------------------------------------------------------------------------------------------
# Running one scenario with torch.optim (the expected record) and with symopt's drop-in
# ------------------------------------------------------------------------------------------------
def dropin_class(name: str) -> type[torch.optim.Optimizer]:
    cls = getattr(drop_ins, name, None)
    if cls is None:
        raise DropInFailure(f"symopt.torch.optim has no {name}: torch.optim.{name} has no drop-in yet")
    return cls


def _run(cls: type, scenario: Callable, kwargs: Any, args: tuple, seed: int) -> Any:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return scenario(cls, copy.deepcopy(kwargs), *args)


def expected(name: str, scenario: Callable, kwargs: Any, *args: Any, seed: int = SEED) -> Any:
    """The record of ``scenario`` with ``torch.optim.<name>``; it must pass torch's own check."""
    try:
        record = _run(getattr(torch.optim, name), scenario, kwargs, args, seed)
    except Exception as exc:
        raise ReferenceFailure(
            f"torch.optim.{name} itself fails {scenario.__name__}: {type(exc).__name__}: {exc}"
        ) from exc
    bad = _non_finite(record)
    if bad:
        raise ReferenceFailure(f"torch.optim.{name} gives non-finite values in {scenario.__name__} at {bad}")
    return record


def actual(name: str, scenario: Callable, kwargs: Any, *args: Any, seed: int = SEED) -> Any:
    """The record of ``scenario`` with ``symopt.torch.optim.<name>``; any error is a DropInFailure."""
    cls = dropin_class(name)
    try:
        record = _run(cls, scenario, kwargs, args, seed)
    except DropInFailure:
        raise
    except Exception as exc:
        raise DropInFailure(f"symopt.torch.{name} fails {scenario.__name__}: {type(exc).__name__}: {exc}") from exc
    bad = _non_finite(record)
    if bad:
        raise DropInFailure(f"symopt.torch.{name} gives non-finite values in {scenario.__name__} at {bad}")
    return record


def contract(name: str, scenario: Callable, kwargs: Any, *args: Any, seed: int = SEED) -> tuple[Any, Any]:
    """``(ours, torch's)`` records of ``scenario``; they must be the same bit for bit."""
    theirs = expected(name, scenario, kwargs, *args, seed=seed)
    ours = actual(name, scenario, kwargs, *args, seed=seed)
    assert_same(ours, theirs, f"symopt.torch.{name} vs torch.optim.{name} ({scenario.__name__})")
    return ours, theirs


# ------------------------------------------------------------------------------------------------
# Records and their comparison
# ------------------------------------------------------------------------------------------------
_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def detached(x: Any) -> Any:
    """A copy of ``x`` (nested dicts/lists/tuples) with every tensor detached and cloned."""
    if isinstance(x, Tensor):
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: detached(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(detached(v) for v in x)
    return x


def snapshot(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The params of every group and the whole ``state_dict()``, detached."""
    return {
        "params": [p.detach().clone() for g in opt.param_groups for p in g["params"]],
        "state_dict": detached(opt.state_dict()),
    }


def _real(t: Tensor) -> Tensor:
    t = t.detach()
    return torch.view_as_real(t) if t.is_complex() else t


def _bits(t: Tensor) -> Tensor:
    t = _real(t)
    return t.contiguous().view(_INT_OF_SIZE[t.element_size()]) if t.is_floating_point() else t


def _non_finite(x: Any, where: str = "") -> str:
    """Where the first NaN or infinity in the record ``x`` is ("" if none)."""
    if isinstance(x, Tensor):
        t = _real(x)
        return where or "<tensor>" if t.is_floating_point() and not bool(torch.isfinite(t).all()) else ""
    if isinstance(x, float):
        return "" if math.isfinite(x) else where or "<float>"
    if isinstance(x, dict):
        return next((w for k, v in x.items() if (w := _non_finite(v, f"{where}[{k!r}]"))), "")
    if isinstance(x, (list, tuple)):
        return next((w for i, v in enumerate(x) if (w := _non_finite(v, f"{where}[{i}]"))), "")
    return ""


def assert_same(ours: Any, theirs: Any, where: str) -> None:
    """``ours`` is ``theirs``: the same nesting, keys, types and values; tensors of the same
    dtype, shape and bits (complex compared as real pairs)."""
    if isinstance(theirs, Tensor):
        if not isinstance(ours, Tensor):
            raise DropInFailure(f"{where}: {type(ours).__name__} {ours!r} where torch has a tensor {theirs!r}")
        if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
            raise DropInFailure(
                f"{where}: {ours.dtype} {tuple(ours.shape)} where torch has {theirs.dtype} {tuple(theirs.shape)}"
            )
        if not torch.equal(_bits(ours), _bits(theirs)):
            diff = (_real(ours).double() - _real(theirs).double()).abs()
            differ = int((_bits(ours) != _bits(theirs)).sum())
            raise DropInFailure(
                f"{where}: {differ} of {theirs.numel()} elements differ from torch's bit for bit "
                f"(max |diff| {diff.max().item():.3g}; ours {ours.flatten()[:3].tolist()}, "
                f"torch {theirs.flatten()[:3].tolist()})"
            )
        return
    if type(ours) is not type(theirs):
        raise DropInFailure(
            f"{where}: {type(ours).__name__} {ours!r} where torch has {type(theirs).__name__} {theirs!r}"
        )
    if isinstance(theirs, dict):
        if list(map(str, sorted(ours, key=str))) != list(map(str, sorted(theirs, key=str))):
            extra, missing = set(ours) - set(theirs), set(theirs) - set(ours)
            raise DropInFailure(
                f"{where}: keys differ from torch's (extra {sorted(extra, key=str)}, "
                f"missing {sorted(missing, key=str)})"
            )
        for k in theirs:
            assert_same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        if len(ours) != len(theirs):
            raise DropInFailure(f"{where}: {len(ours)} items where torch has {len(theirs)}")
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif ours != theirs:
        raise DropInFailure(f"{where}: {ours!r} where torch has {theirs!r}")


#: torch's ``assertEqual`` (``torch.testing.assert_close``) default ``(rtol, atol)`` by dtype;
#: Python numbers count as float64.
DEFAULT_TOLERANCE = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
    torch.complex64: (1.3e-6, 1e-5),
    torch.complex128: (1e-7, 1e-7),
}


def assert_close(
    actual_: Any, expected_: Any, where: str, rtol: float | None = None, atol: float | None = None
) -> None:
    """torch's ``assertEqual`` between two code paths of one optimizer: the same nesting and
    keys, tensors of the same dtype and shape with |a − b| ≤ atol + rtol·|b| elementwise (the
    dtype's default tolerance unless given; complex as real pairs), other values equal; NaN
    never passes. (A lean stand-in for torch.testing.assert_close, which costs a millisecond a
    call.)"""
    if isinstance(expected_, Tensor):
        assert isinstance(actual_, Tensor), f"{where}: {type(actual_).__name__} where a tensor is expected"
        assert actual_.dtype == expected_.dtype and actual_.shape == expected_.shape, (
            f"{where}: {actual_.dtype} {tuple(actual_.shape)} vs {expected_.dtype} {tuple(expected_.shape)}"
        )
        if not expected_.is_floating_point() and not expected_.is_complex():
            assert torch.equal(actual_, expected_), f"{where}: {actual_} vs {expected_}"
            return
        r, a = DEFAULT_TOLERANCE[expected_.dtype]
        r, a = (r if rtol is None else rtol), (a if atol is None else atol)
        x, y = _real(actual_).double(), _real(expected_).double()
        ok = torch.isfinite(x) & torch.isfinite(y) & ((x - y).abs() <= a + r * y.abs())
        if not bool(ok.all()):
            bad = int((~ok).sum())
            raise AssertionError(
                f"{where}: {bad} of {ok.numel()} elements beyond rtol={r:g}, atol={a:g} "
                f"(max |diff| {(x - y).abs().max().item():.3g})"
            )
    elif isinstance(expected_, dict):
        assert isinstance(actual_, dict) and set(actual_) == set(expected_), (
            f"{where}: keys {sorted(map(str, actual_))} vs {sorted(map(str, expected_))}"
        )
        for k in expected_:
            assert_close(actual_[k], expected_[k], f"{where}[{k!r}]", rtol, atol)
    elif isinstance(expected_, (list, tuple)):
        assert isinstance(actual_, (list, tuple)) and len(actual_) == len(expected_), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(actual_, expected_)):
            assert_close(x, y, f"{where}[{i}]", rtol, atol)
    elif isinstance(expected_, float) and not isinstance(actual_, bool):
        assert isinstance(actual_, (int, float)) and math.isfinite(actual_) and math.isfinite(expected_), (
            f"{where}: {actual_} vs {expected_}"
        )
        r, a = DEFAULT_TOLERANCE[torch.float64]
        assert abs(actual_ - expected_) <= (atol if atol is not None else a) + (rtol if rtol is not None else r) * abs(
            expected_
        ), f"{where}: {actual_} vs {expected_}"
    else:
        assert actual_ == expected_, f"{where}: {actual_!r} vs {expected_!r}"


def recorded(step: int, steps: int) -> bool:
    """Long runs record the optimizer after their first and their last step (torch checks the
    end; a bitwise difference from torch's run shows there)."""
    return step in (0, steps - 1)


def _loss_direction(initial: float, final: float, maximize: bool) -> None:
    """torch's check: the loss went up when maximizing, down otherwise."""
    if maximize:
        assert final > initial, f"maximize: loss went from {initial} to {final}, not up"
    else:
        assert final < initial, f"loss went from {initial} to {final}, not down"


# ------------------------------------------------------------------------------------------------
# torch's small problems
# ------------------------------------------------------------------------------------------------
def linear_problem(dtype: torch.dtype, contiguous: bool = True) -> tuple[Parameter, Parameter, Tensor]:
    """weight (10, 5), bias (10), input (5); non-contiguous: every other element of a wider tensor."""
    if contiguous:
        weight, bias = Parameter(torch.randn(10, 5, dtype=dtype)), Parameter(torch.randn(10, dtype=dtype))
    else:
        weight = Parameter(torch.randn(10, 5, 2, dtype=dtype)[..., 0])
        bias = Parameter(torch.randn(10, 2, dtype=dtype)[..., 0])
    return weight, bias, torch.randn(5, dtype=dtype)


def squared_output(weight: Tensor, bias: Tensor, x: Tensor) -> Tensor:
    """loss = ‖W x + b‖²."""
    return (weight.mv(x) + bias).pow(2).sum()


def two_layer_sigmoid(dtype: torch.dtype) -> torch.nn.Sequential:
    """Linear(2, 3) → sigmoid → Linear(3, 1) → sigmoid, seeded as torch seeds it (1)."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    return model.to(dtype=dtype)


def conv_batchnorm(dtype: torch.dtype) -> tuple[torch.nn.Module, Tensor]:
    """Conv2d(4, 2, 1, stride=2) → BatchNorm2d(2), seeded (1), and a (1, 4, 16, 16) input."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 2, 1, stride=2), torch.nn.BatchNorm2d(2, eps=1e-05, momentum=0.1))
    return model.to(dtype=dtype), torch.rand(1, 4, 16, 16, dtype=dtype)


def rosenbrock(t: Tensor) -> Tensor:
    """f(x, y) = (1 − x)² + 100 (y − x²)²."""
    x, y = t
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rosenbrock_grad(t: Tensor) -> Tensor:
    """∇f = (−400 x (y − x²) − 2 (1 − x), 200 (y − x²))."""
    x, y = t
    return torch.stack((-400 * x * (y - x**2) - 2 * (1 - x), 200 * (y - x**2)))


def step_schedulers(schedulers: list[Any], loss: Tensor) -> None:
    """Step each scheduler; ReduceLROnPlateau on the loss (its value: torch's float() of a
    tensor that requires grad warns, and warnings are errors here)."""
    for s in schedulers:
        s.step(loss.detach()) if isinstance(s, ReduceLROnPlateau) else s.step()


def _named(params: list[Tensor], named: bool) -> list[Any]:
    return [(f"name{i}", p) for i, p in enumerate(params)] if named else params


def _without_param_names(state_dict: dict[str, Any]) -> dict[str, Any]:
    """The state_dict with its param groups' optional ``param_names`` dropped (not copied)."""
    groups = [{k: v for k, v in g.items() if k != "param_names"} for g in state_dict["param_groups"]]
    return {**state_dict, "param_groups": groups}


def _scheduler_sets(name: str) -> list[tuple[str, Any]]:
    return [(f"schedulers{i}", i) for i in range(len(INFOS[name].scheduler_inputs))]


# ================================================================================================
# test_errors
# ================================================================================================
def _raised(cls: type, index: int, name: str) -> tuple[type, str]:
    """Construct (and step, for a step error) optimizer ``cls`` with torch's error input
    ``index``; return what was raised or warned: ``(type, message)``, checked against torch's
    expected type and regex."""
    error = error_inputs(name)[index]
    inp, kind = error.optimizer_error_input, error.error_type

    def provoke() -> None:
        if error.error_on == common.OptimizerErrorEnum.CONSTRUCTION_ERROR:
            cls(inp.params, **inp.kwargs)
        else:
            cls(inp.params, **inp.kwargs).step()

    if issubclass(kind, Warning):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            provoke()
        messages = [str(w.message) for w in caught if issubclass(w.category, kind)]
        found = [m for m in messages if re.search(error.error_regex, m)]
        assert found, f"no {kind.__name__} matching {error.error_regex!r} (warned: {messages})"
        return kind, found[0]
    return raised(kind, error.error_regex, provoke)


def raised(kind: type[BaseException], regex: str, provoke: Callable[[], Any]) -> tuple[type, str]:
    """``(type, message)`` of the ``kind`` error that ``provoke()`` raises, whose message matches
    ``regex``; an AssertionError if it raises none (another error propagates)."""
    try:
        provoke()
    except kind as exc:
        assert re.search(regex, str(exc)), f"{type(exc).__name__} {str(exc)!r} does not match {regex!r}"
        return type(exc), str(exc)
    raise AssertionError(f"no {kind.__name__} matching {regex!r} was raised")


def _error_rows() -> list[tuple[str, tuple[Any, ...]]]:
    rows = []
    for name in DROP_INS:
        for index, error in enumerate(error_inputs(name)):
            rows.append((f"{name}-{_slug(error.optimizer_error_input.desc)}", (name, index)))
    return rows


@cases("test_errors", _error_rows(), "name,index")
def test_errors(name, index):
    theirs = expected(name, lambda cls, _: _raised(cls, index, name), None)
    ours = actual(name, lambda cls, _: _raised(cls, index, name), None)
    assert_same(ours, theirs, f"symopt.torch.{name} error")


# ================================================================================================
# test_forloop_goes_right_direction, test_param_group_with_lrscheduler_goes_right_direction
# ================================================================================================
def goes_right_direction(cls, kwargs, contiguous, scheduler_set, name):
    """20 for-loop steps on ‖W x + b‖² (closure, then step, then the schedulers); the loss moves
    the right way. Record: the optimizer after every step."""
    weight, bias, x = linear_problem(torch.float32, contiguous)
    opt = cls([weight, bias], **kwargs)
    schedulers = [] if scheduler_set is None else [s(opt) for s in INFOS[name].scheduler_inputs[scheduler_set]]

    def closure():
        opt.zero_grad()
        loss = squared_output(weight, bias, x)
        loss.backward()
        return loss

    initial = closure().item()
    trajectory = []
    for step in range(20):
        loss = closure()
        opt.step()
        step_schedulers(schedulers, loss)
        if recorded(step, 20):
            trajectory.append(snapshot(opt))
    _loss_direction(initial, closure().item(), kwargs.get("maximize", False))
    return trajectory


def _forloop(name: str) -> list[common.OptimizerInput]:
    inputs = base_inputs(name)
    if "foreach" in INFOS[name].supported_impls:
        for i in inputs:
            i.kwargs["foreach"] = False  # torch forces the for-loop
    return inputs


def _forloop_rows():
    rows = []
    for pid, (name, kwargs), desc in _rows(_forloop):
        for contiguous in (True, False):
            layout = "contiguous" if contiguous else "non-contiguous"
            for part, sched in [("no-scheduler", None)] + _scheduler_sets(name):
                rows.append((f"{pid}-{layout}-{part}", (name, kwargs, contiguous, sched), desc))
    return rows


@cases(
    "test_forloop_goes_right_direction",
    _forloop_rows(),
    "name,kwargs,contiguous,scheduler_set",
    slow=beyond_default("no-scheduler"),
)
def test_forloop_goes_right_direction(name, kwargs, contiguous, scheduler_set):
    contract(name, goes_right_direction, kwargs, contiguous, scheduler_set, name)


def two_groups_under_schedulers(cls, _, scheduler_set, name):
    """Two param groups (the second with lr=0.01) under one of torch's scheduler sets; 20 steps
    with a closure lower (W₁ + W₂) x squared."""
    weight, weight2 = Parameter(torch.randn(10, 5)), Parameter(torch.randn(10, 5))
    x = torch.randn(5)
    opt = cls([{"params": [weight]}, {"params": [weight2], "lr": 0.01}])
    schedulers = [s(opt) for s in INFOS[name].scheduler_inputs[scheduler_set]]

    def closure():
        opt.zero_grad()
        loss = (weight.mv(x) + weight2.mv(x)).pow(2).sum()
        loss.backward()
        return loss

    initial = closure().item()
    trajectory = []
    for step in range(20):
        loss = opt.step(closure)
        step_schedulers(schedulers, loss)
        if recorded(step, 20):
            trajectory.append(snapshot(opt))
    _loss_direction(initial, closure().item(), False)
    return trajectory


@cases(
    "test_param_group_with_lrscheduler_goes_right_direction",
    [(f"{n}-{part}", (n, s)) for n in DROP_INS for part, s in _scheduler_sets(n)],
    "name,scheduler_set",
)
def test_param_group_with_lrscheduler_goes_right_direction(name, scheduler_set):
    contract(name, two_groups_under_schedulers, None, scheduler_set, name)


# ================================================================================================
# test_tensor_lr
# ================================================================================================
def tensor_lr_matches_float_lr(cls, kwargs, num_dim):
    """5 steps with lr=1e-3 and with lr=tensor(1e-3) of ``num_dim`` dimensions agree (torch's
    tolerance), unless the tensor lr is refused with torch's "lr as a Tensor is not supported"."""
    weight, bias, x = linear_problem(torch.float32)
    weight_c, bias_c = weight.detach().clone().requires_grad_(), bias.detach().clone().requires_grad_()
    kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    with_float = cls([weight, bias], lr=1e-3, **kwargs)
    try:
        with_tensor = cls([weight_c, bias_c], lr=torch.tensor(1e-3).reshape([1] * num_dim), **kwargs)
    except ValueError as exc:
        assert "lr as a Tensor is not supported" in str(exc), str(exc)
        return {"refused": str(exc)}
    trajectory = []
    for step in range(5):
        for opt, w, b in ((with_float, weight, bias), (with_tensor, weight_c, bias_c)):
            opt.zero_grad()
            squared_output(w, b, x).backward()
            opt.step()
        assert_close(weight_c, weight, "tensor-lr weight vs float-lr weight")
        assert_close(bias_c, bias, "tensor-lr bias vs float-lr bias")
        if recorded(step, 5):
            trajectory.append({"float lr": snapshot(with_float), "tensor lr": snapshot(with_tensor)})
    return trajectory


@cases(
    "test_tensor_lr",
    _rows(lambda n: flagged_inputs(n, skip=("differentiable",)), num_dim=[(f"{d}d", d) for d in (0, 1, 2)]),
    "name,kwargs,num_dim",
    slow=beyond_default("0d"),
)
def test_tensor_lr(name, kwargs, num_dim):
    contract(name, tensor_lr_matches_float_lr, kwargs, num_dim)


# ================================================================================================
# test_rosenbrock_sparse (slow)
# ================================================================================================
def _sparse_inputs(name: str) -> list[common.OptimizerInput]:
    """torch's configs for the sparse test: the global flags without differentiable and fused,
    with ``metadata_for_sparse``'s keys removed, deduplicated, and its lr set."""
    updates, _ = INFOS[name].metadata_for_sparse
    inputs = flagged_inputs(name, dtype=torch.float64, skip=("differentiable", "fused"))
    if not updates:
        return inputs
    out, seen = [], set()
    for inp in inputs:
        kwargs = {k: v for k, v in inp.kwargs.items() if k not in updates}
        key = tuple(sorted((k, str(v)) for k, v in kwargs.items()))
        if kwargs and key not in seen:
            seen.add(key)
            if "lr" in updates:
                kwargs["lr"] = updates["lr"]
            out.append(common.OptimizerInput(params=None, kwargs=kwargs, desc=inp.desc))
    return out


def sparse_matches_dense_on_rosenbrock(cls, kwargs, with_schedulers, name):
    """Cyclic coordinate descent on Rosenbrock from (1.5, 1.5), 1800 steps: sparse uncoalesced
    gradients (x: values x/4 and 3x/4 at index 0 twice) step as the dense ones (torch's
    atol = rtol = 5e-6), and the distance to (1, 1) does not grow. Record: every 100th step."""
    multi_tensor = kwargs.get("foreach", False)
    starts = [torch.tensor([1.5, 1.5])] + ([torch.tensor([1.5, 1.5], dtype=torch.float64)] if multi_tensor else [])
    _, scheduler_makers = INFOS[name].metadata_for_sparse
    runs = {}
    for sparse in (True, False):
        params = [Parameter(s.clone()) for s in starts]
        opt = cls(params, **copy.deepcopy(kwargs))
        runs[sparse] = (params, opt, [m(opt) for m in scheduler_makers] if with_schedulers else [])

    def coordinate_grad(p: Tensor, sparse: bool, first: bool) -> Tensor:
        g = rosenbrock_grad(p.detach())
        i = 0 if first else 1
        if not sparse:
            return torch.stack([g[0], torch.zeros_like(g[0])] if first else [torch.zeros_like(g[1]), g[1]])
        values = torch.stack([g[i] / 4.0, g[i] - g[i] / 4.0] if first else [g[i] - g[i] / 4.0, g[i] / 4.0])
        return torch.sparse_coo_tensor(torch.tensor([[i, i]]), values, (2,))

    def closure(sparse: bool, first: bool):
        """torch's closure: the loss, and the gradients replaced by one coordinate's (torch
        also backpropagates the loss first; those gradients are overwritten, so not here)."""
        params, opt, _ = runs[sparse]
        opt.zero_grad()
        with torch.no_grad():
            loss = sum(rosenbrock(p) for p in params)
            for p in params:
                p.grad = coordinate_grad(p, sparse, first).to(p.dtype)
        return loss

    solution = torch.tensor([1.0, 1.0])
    initial = sum(s.dist(solution) for s in starts)
    record = []
    for step in range(1800):
        first = step % 2 == 1
        for sparse in (True, False):
            params, opt, schedulers = runs[sparse]
            opt.step(functools.partial(closure, sparse, first))
            step_schedulers(schedulers, rosenbrock(params[0]))
        assert_close(runs[True][0], runs[False][0], f"step {step}: sparse vs dense", atol=5e-6, rtol=5e-6)
        if step % 100 == 99:
            record.append({"sparse": snapshot(runs[True][1]), "dense": snapshot(runs[False][1])})
    params = runs[True][0]
    if kwargs.get("maximize", False):
        assert sum(rosenbrock(p) for p in params) >= sum(rosenbrock(s) for s in starts)
    else:
        assert sum(p.dist(solution) for p in params) <= initial
    return record


def _sparse_rows():
    names = [n for n in DROP_INS if INFOS[n].supports_sparse or INFOS[n].only_supports_sparse_grads]
    rows = []
    for pid, (name, kwargs), _ in _rows(_sparse_inputs, names=names):
        rows.append((f"{pid}-no-scheduler", (name, kwargs, False)))
        if INFOS[name].metadata_for_sparse[1]:
            rows.append((f"{pid}-schedulers", (name, kwargs, True)))
    return rows


@pytest.mark.slow
# torch's foreach path warns that it skips the sparse invariant checks (warnings are errors here)
@pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning")
@cases("test_rosenbrock_sparse", _sparse_rows(), "name,kwargs,with_schedulers")
def test_rosenbrock_sparse(name, kwargs, with_schedulers):
    contract(name, sparse_matches_dense_on_rosenbrock, kwargs, with_schedulers, name)


# ================================================================================================
# test_complex, test_complex_2d
# ================================================================================================
def complex_steps_as_its_real_view(cls, kwargs):
    """Complex params (10, 5) and (10,) and a real (10, 5) one step as their ``view_as_real``
    twins under the same gradients, 3 steps (torch's tolerance)."""
    complex_params = [
        torch.randn(10, 5, dtype=torch.complex64, requires_grad=True),
        torch.randn(10, dtype=torch.complex64, requires_grad=True),
        torch.randn(10, 5, dtype=torch.float32, requires_grad=True),
    ]
    real_params = [_real(p).clone().requires_grad_() for p in complex_params]
    complex_opt = cls(complex_params, **copy.deepcopy(kwargs))
    real_opt = cls(real_params, **copy.deepcopy(kwargs))
    record = []
    for _ in range(3):
        for c, r in zip(complex_params, real_params):
            r.grad = torch.randn_like(r)
            c.grad = torch.view_as_complex(r.grad.clone()) if c.is_complex() else r.grad.clone()
        real_opt.step()
        complex_opt.step()
        as_real = [_real(p).clone() for p in complex_params]
        assert_close(as_real, [p.detach() for p in real_params], "complex params as real vs real params")
        record.append({"complex": snapshot(complex_opt), "real": snapshot(real_opt)})
    return record


def _complex_inputs(name: str) -> list[common.OptimizerInput]:
    if not INFOS[name].supports_complex:
        return []
    return flagged_inputs(name, dtype=torch.complex64, skip=("differentiable", "fused"))


@cases("test_complex", _rows(_complex_inputs), "name,kwargs")
def test_complex(name, kwargs):
    contract(name, complex_steps_as_its_real_view, kwargs)


def complex_steps_as_real_and_imaginary_parts(cls, kwargs):
    """a ∈ ℂ² on |Rosenbrock(a)| steps as the two real params (Re a, Im a) on
    |Rosenbrock(Re a + i Im a)|: the same losses, gradients and params for 3 steps (torch's
    tolerance; as torch does, the second run is reset to the first's values after each check)."""
    a = torch.randn(2, dtype=torch.complex64, requires_grad=True)
    re, im = a.real.detach().clone().requires_grad_(), a.imag.detach().clone().requires_grad_()
    opt1, opt2 = cls([a], **copy.deepcopy(kwargs)), cls([re, im], **copy.deepcopy(kwargs))
    record = []
    for step in range(3):
        opt1.zero_grad()
        loss1 = rosenbrock(a).abs()
        loss1.backward()
        opt2.zero_grad()
        assert_close(re, a.real, f"step {step}: Re a")
        assert_close(im, a.imag, f"step {step}: Im a")
        with torch.no_grad():
            re.copy_(a.real)
            im.copy_(a.imag)
        loss2 = rosenbrock(torch.complex(re, im)).abs()
        assert_close(loss2, loss1, f"step {step}: loss")
        loss2.backward()
        assert_close(re.grad, a.grad.real, f"step {step}: grad Re a")
        assert_close(im.grad, a.grad.imag, f"step {step}: grad Im a")
        with torch.no_grad():
            re.grad.copy_(a.grad.real)
            im.grad.copy_(a.grad.imag)
        opt1.step()
        opt2.step()
        assert_close(re, a.real, f"after step {step}: Re a")
        assert_close(im, a.imag, f"after step {step}: Im a")
        record.append({"complex": snapshot(opt1), "parts": snapshot(opt2)})
    return record


@cases("test_complex_2d", _rows(_complex_inputs), "name,kwargs")
def test_complex_2d(name, kwargs):
    contract(name, complex_steps_as_real_and_imaginary_parts, kwargs)


# ================================================================================================
# test_foreach_matches_forloop, test_fused_matches_forloop, test_fused_error_on_params_on_meta
# ================================================================================================
def seven_steps_of_a_small_net(cls, kwargs, dtype):
    """7 steps of the two-layer sigmoid net plus a 0-d param (with a gradient until the first
    zero_grad): no gradients at step 2, the second Linear frozen at steps 3-4. Record: the
    optimizer after every step. (torch makes the 0-d param with torch.empty; here it is drawn
    from the seeded generator, so that runs agree.)"""
    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], dtype=dtype).reshape(3, 2)
    model = two_layer_sigmoid(dtype)
    scalar = torch.randn((), dtype=dtype, requires_grad=True)
    scalar.grad = torch.rand_like(scalar)
    opt = cls(list(model.parameters()) + [scalar], **kwargs)
    trajectory = []
    for i in range(7):
        opt.zero_grad()
        if i == 3:
            model[2].requires_grad_(False)
        if i == 5:
            model[2].requires_grad_(True)
        if i != 2:
            model(x).sum().backward()
        opt.step()
        trajectory.append(snapshot(opt))
    return trajectory


def assert_paths_agree(path: list[dict[str, Any]], forloop: list[dict[str, Any]], flag: str) -> None:
    """torch's check between two code paths: params and every state entry agree at every step
    (torch's default tolerance for the dtype)."""
    for i, (a, b) in enumerate(zip(path, forloop)):
        assert_close(a["params"], b["params"], f"step {i}: {flag} params vs for-loop params")
        sa, sb = a["state_dict"]["state"], b["state_dict"]["state"]
        assert sa.keys() == sb.keys(), f"step {i}: {flag} has state for params {sorted(sa)}, for-loop for {sorted(sb)}"
        for k in sb:
            assert sa[k].keys() == sb[k].keys(), f"step {i}: {flag} state keys {sorted(sa[k])} vs {sorted(sb[k])}"
            for key in sb[k]:
                assert_close(sa[k][key], sb[k][key], f"step {i}: {flag} state[{k}][{key!r}] vs for-loop")


def derived_path_matches_forloop(name: str, kwargs: dict[str, Any], flag: str, dtype: torch.dtype) -> None:
    """symopt's ``flag=True`` path matches symopt's for-loop (torch's check), and each is bitwise
    torch.optim's same path."""
    ours_loop, _ = contract(name, seven_steps_of_a_small_net, {**kwargs, flag: False}, dtype)
    ours_path, _ = contract(name, seven_steps_of_a_small_net, {**kwargs, flag: True}, dtype)
    try:
        assert_paths_agree(ours_path, ours_loop, f"{flag}=True")
    except AssertionError as exc:
        raise DropInFailure(f"symopt.torch.{name}: {exc}") from None


@cases(
    "test_foreach_matches_forloop",
    _rows(lambda n: base_inputs(n, torch.float64) if "foreach" in INFOS[n].supported_impls else []),
    "name,kwargs",
)
def test_foreach_matches_forloop(name, kwargs):
    derived_path_matches_forloop(name, kwargs, "foreach", torch.float64)


def _fuses_on_cpu(name: str) -> bool:
    return "fused" in INFOS[name].supported_impls and DEVICE in INFOS[name].supports_fused_on


@cases(
    "test_fused_matches_forloop",
    _rows(
        lambda n: base_inputs(n) if _fuses_on_cpu(n) else [],
        dtype=[("float32", torch.float32), ("float64", torch.float64)],
    ),
    "name,kwargs,dtype",
)
def test_fused_matches_forloop(name, kwargs, dtype):
    derived_path_matches_forloop(name, kwargs, "fused", dtype)


def fused_refuses_meta_params(cls, _):
    """fused=True with params on the meta device: step raises torch's RuntimeError; after
    ``to_empty(device="cpu")`` (values then drawn from the seeded generator) it steps."""
    with torch.device("meta"):
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
        )
    opt = cls(model.parameters(), fused=True)
    with torch.device("meta"):
        for p in model.parameters():
            p.grad = torch.rand_like(p)
    error = raised(RuntimeError, "`fused=True` requires all the params to be floating point Tensors", opt.step)
    opt.zero_grad(set_to_none=True)
    model.to_empty(device=DEVICE)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
            p.grad = torch.rand_like(p)
    opt.step()
    state = [
        {k: (v.device.type, v.dtype, tuple(v.shape)) if isinstance(v, Tensor) else v for k, v in s.items()}
        for s in opt.state.values()
    ]
    return {
        "error": error,
        "params": [p.detach().clone() for p in model.parameters()],
        "state (device, dtype, shape)": state,
    }


@cases("test_fused_error_on_params_on_meta", [(n, (n,)) for n in DROP_INS if _fuses_on_cpu(n)], "name")
def test_fused_error_on_params_on_meta(name):
    contract(name, fused_refuses_meta_params, None)


# ================================================================================================
# test_param_groups_weight_decay, test_param_groups_lr
# ================================================================================================
def weight_decay_in_one_group(cls, kwargs):
    """Groups [W₁ with the config, W₂ with the config and weight_decay=0]; 20 steps on
    ((W₁ + W₂) x)² move the loss the right way."""
    weight, weight2 = Parameter(torch.randn(10, 5)), Parameter(torch.randn(10, 5))
    x = torch.randn(5)
    opt = cls(
        [dict(params=[weight], **kwargs), dict(params=[weight2], **{**copy.deepcopy(kwargs), "weight_decay": 0.0})]
    )
    loss = (weight.mv(x) + weight2.mv(x)).pow(2).sum()
    initial = loss.item()
    trajectory = []
    for step in range(20):
        opt.zero_grad()
        loss = (weight.mv(x) + weight2.mv(x)).pow(2).sum()
        loss.backward()
        opt.step()
        if recorded(step, 20):
            trajectory.append(snapshot(opt))
    _loss_direction(initial, loss.item(), kwargs.get("maximize", False))
    return trajectory


@cases("test_param_groups_weight_decay", _rows(lambda n: flagged_inputs(n, skip=("differentiable",))), "name,kwargs")
def test_param_groups_weight_decay(name, kwargs):
    contract(name, weight_decay_in_one_group, kwargs)


def lr_of_one_group(cls, kwargs):
    """Groups [W, b with the config (lr 1e-3 where it has none or 0)] and [a (2, 2) param with
    random gradients], optimizer lr=1e-28: 20 steps move the loss the right way and leave the
    second group as it was (torch's tolerance)."""
    if "lr" not in kwargs or kwargs["lr"] == 0:
        kwargs["lr"] = 1e-3
    weight, bias, x = linear_problem(torch.float32)
    irrelevant = Parameter(torch.randn(2, 2))
    before = irrelevant.detach().clone()
    opt = cls([dict(params=[weight, bias], **kwargs), dict(params=[irrelevant])], lr=1e-28)
    initial = squared_output(weight, bias, x).item()
    trajectory = []
    for step in range(20):
        opt.zero_grad()
        loss = squared_output(weight, bias, x)
        loss.backward()
        irrelevant.grad = torch.rand_like(irrelevant)
        opt.step()
        if recorded(step, 20):
            trajectory.append(snapshot(opt))
    _loss_direction(initial, loss.item(), kwargs.get("maximize", False))
    assert_close(irrelevant, before, "the lr=1e-28 group's param")
    return trajectory


@cases("test_param_groups_lr", _rows(lambda n: flagged_inputs(n, skip=("differentiable",))), "name,kwargs")
def test_param_groups_lr(name, kwargs):
    contract(name, lr_of_one_group, kwargs)


# ================================================================================================
# test_step_is_noop_when_params_have_no_grad, test_step_is_noop_for_zero_grads,
# test_grads_are_never_inplaced_into
# ================================================================================================
def _closure_value() -> Tensor:
    return torch.tensor([1.0])


def step_without_grads(cls, kwargs):
    """Two (2, 3) params that need no gradient: step(closure) returns the closure's loss and
    changes no param."""
    params = [torch.randn(2, 3) for _ in range(2)]
    before = [p.clone() for p in params]
    opt = cls(params, **kwargs)
    loss = opt.step(_closure_value)
    for i, (p, b) in enumerate(zip(params, before)):
        assert torch.equal(_bits(p), _bits(b)), f"param {i} changed without a gradient"
    return {"loss": loss, "after": snapshot(opt)}


@cases("test_step_is_noop_when_params_have_no_grad", _rows(flagged_inputs), "name,kwargs")
def test_step_is_noop_when_params_have_no_grad(name, kwargs):
    contract(name, step_without_grads, kwargs)


def step_with_zero_grads(cls, kwargs, name):
    """A (5, 1) param with a zero gradient does not move (torch's tolerance; AdamW at lr 1e-5,
    whose decoupled decay moves it by lr·λ·w)."""
    param = torch.randn(5, 1, requires_grad=True)
    before = param.detach().clone()
    if name == "AdamW":
        kwargs["lr"] = torch.tensor(1e-5) if isinstance(kwargs.get("lr", 1e-5), Tensor) else 1e-5
    params = [param.detach()] if kwargs.get("differentiable", False) else [param]
    opt = cls(params, **kwargs)
    params[0].grad = torch.zeros_like(params[0])
    opt.step(_closure_value)
    assert_close(params[0], before, "param after a zero-gradient step")
    return snapshot(opt)


@cases("test_step_is_noop_for_zero_grads", _rows(lambda n: _without_weight_decay(flagged_inputs(n))), "name,kwargs")
def test_step_is_noop_for_zero_grads(name, kwargs):
    contract(name, step_with_zero_grads, kwargs, name)


def grads_stay_untouched(cls, kwargs):
    """5 steps never write into ``param.grad`` (its version counter and values stay)."""
    param = torch.randn(5, 1, requires_grad=True)
    params = [param.detach()] if kwargs.get("differentiable", False) else [param]
    opt = cls(params, **kwargs)
    params[0].grad = torch.rand_like(params[0])
    grad, version = params[0].grad.clone(), params[0].grad._version
    for _ in range(5):
        opt.step(_closure_value)
        assert params[0].grad._version == version, "step wrote into param.grad"
    assert torch.equal(_bits(params[0].grad), _bits(grad)), "param.grad changed"
    return snapshot(opt)


@cases("test_grads_are_never_inplaced_into", _rows(flagged_inputs), "name,kwargs")
def test_grads_are_never_inplaced_into(name, kwargs):
    contract(name, grads_stay_untouched, kwargs)


# ================================================================================================
# test_optimizer_can_be_printed
# ================================================================================================
def printed(cls, kwargs):
    """``repr`` of an optimizer of two (2, 3) Parameters (torch's: class name, then each group's
    options sorted; so symopt's must equal it)."""
    return repr(cls([Parameter(torch.randn(2, 3)) for _ in range(2)], **kwargs))


@cases("test_optimizer_can_be_printed", _rows(flagged_inputs), "name,kwargs")
def test_optimizer_can_be_printed(name, kwargs):
    contract(name, printed, kwargs)


# ================================================================================================
# state_dict: deterministic, older, named, save/load, non-tensor step
# ================================================================================================
def _weight_bias_closure(opt, w, b, x):
    opt.zero_grad()
    loss = squared_output(w, b, x)
    loss.backward()
    return loss


def state_dict_continues_identically(cls, kwargs, named0, named1):
    """10 steps; a second optimizer on clones of the params (named or not) loads the first's
    state_dict; 10 steps of both agree (torch's tolerance), their state_dicts are equal (but for
    param_names), and so is a param group repeated after loading."""
    weight, bias = Parameter(torch.randn(2, 3)), Parameter(torch.randn(2))
    x = torch.randn(3, requires_grad=True)
    opt = cls(_named([weight, bias], named0), **copy.deepcopy(kwargs))
    for _ in range(10):
        _weight_bias_closure(opt, weight, bias, x)
        opt.step()
    with torch.no_grad():
        weight_c, bias_c = Parameter(weight.clone()), Parameter(bias.clone())
    opt_c = cls(_named([weight_c, bias_c], named1), **copy.deepcopy(kwargs))
    opt_c.load_state_dict(copy.deepcopy(opt.state_dict()))
    trajectory = []
    for step in range(10):
        _weight_bias_closure(opt, weight, bias, x)
        _weight_bias_closure(opt_c, weight_c, bias_c, x)
        opt.step()
        opt_c.step()
        assert_close(weight_c, weight, "loaded optimizer's weight")
        assert_close(bias_c, bias, "loaded optimizer's bias")
        if recorded(step, 10):
            trajectory.append({"first": snapshot(opt), "loaded": snapshot(opt_c)})
    first, loaded = _without_param_names(opt.state_dict()), _without_param_names(opt_c.state_dict())
    assert_close(loaded, first, "loaded optimizer's state_dict")
    opt_c.param_groups.extend(opt_c.param_groups)
    repeated = _without_param_names(opt_c.state_dict())["param_groups"][-1]
    assert_close(repeated, _without_param_names(opt.state_dict())["param_groups"][-1], "a repeated param group")
    return trajectory


_NAMED = [("unnamed", False), ("named", True)]


@cases(
    "test_state_dict_deterministic",
    _rows(lambda n: flagged_inputs(n, skip=("differentiable",)), named0=_NAMED, named1=_NAMED),
    "name,kwargs,named0,named1",
    slow=beyond_default("unnamed-unnamed"),
)
def test_state_dict_deterministic(name, kwargs, named0, named1):
    contract(name, state_dict_continues_identically, kwargs, named0, named1)


def _conv_closure(opt, model, x):
    opt.zero_grad()
    loss = model(x).sum()
    loss.backward()
    return loss


def older_state_dict_loads(cls, kwargs, name):
    """3 steps of conv → batchnorm; its state_dict without the flags torch added after the
    optimizer's release (``not_og_supported_flags``) loads and the optimizer steps on.
    Record: the param groups after loading (the defaults filled in), then the optimizer."""
    model, x = conv_batchnorm(torch.float32)
    opt = cls(model.parameters(), **kwargs)
    for _ in range(3):
        _conv_closure(opt, model, x)
        opt.step()
    old = copy.deepcopy(opt.state_dict())
    for group in old["param_groups"]:
        for flag in INFOS[name].not_og_supported_flags:
            group.pop(flag, None)
    opt.load_state_dict(old)
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    _conv_closure(opt, model, x)
    opt.step()
    return {"groups after loading": detached(groups), "after": snapshot(opt)}


@cases("test_can_load_older_state_dict", _rows(lambda n: flagged_inputs(n, skip=("differentiable",))), "name,kwargs")
def test_can_load_older_state_dict(name, kwargs):
    contract(name, older_state_dict_loads, kwargs, name)


def named_state_dict_round_trip(cls, kwargs, named0, named1):
    """3 steps of conv → batchnorm with ``named_parameters()`` or ``parameters()``; a second
    optimizer (named or not) loads the state_dict and steps; param_names survive when either
    side had them."""
    model, x = conv_batchnorm(torch.float32)
    opt = cls(model.named_parameters() if named0 else model.parameters(), **copy.deepcopy(kwargs))
    for _ in range(3):
        _conv_closure(opt, model, x)
        opt.step()
    old = copy.deepcopy(opt.state_dict())
    opt2 = cls(model.named_parameters() if named1 else model.parameters(), **copy.deepcopy(kwargs))
    opt2.load_state_dict(old)
    _conv_closure(opt2, model, x)
    opt2.step()
    if named0 or named1:
        names = [n for n, _ in model.named_parameters()]
        assert opt2.state_dict()["param_groups"][0]["param_names"] == names, "param_names lost"
    return snapshot(opt2)


@cases(
    "test_can_load_from_to_named_state_dict",
    _rows(
        lambda n: flagged_inputs(n, skip=("differentiable",)) if not INFOS[n].only_supports_sparse_grads else [],
        named0=_NAMED,
        named1=_NAMED,
    ),
    "name,kwargs,named0,named1",
    slow=beyond_default("unnamed-unnamed"),
)
def test_can_load_from_to_named_state_dict(name, kwargs, named0, named1):
    contract(name, named_state_dict_round_trip, kwargs, named0, named1)


def saved_state_dict_loads_equal(cls, kwargs, named):
    """3 steps (closure); torch.save then torch.load, plain and weights_only=True, give the
    state_dict back."""
    weight, bias = Parameter(torch.randn(2, 3)), Parameter(torch.randn(2))
    x = torch.randn(3, requires_grad=True)
    opt = cls(_named([weight, bias], named), **kwargs)
    for _ in range(3):
        opt.step(functools.partial(_weight_bias_closure, opt, weight, bias, x))
    sd = opt.state_dict()
    buffer = io.BytesIO()
    torch.save(sd, buffer)
    for weights_only in (False, True):
        buffer.seek(0)
        assert_same(torch.load(buffer, weights_only=weights_only), sd, f"loaded (weights_only={weights_only})")
    return detached(sd)


@cases(
    "test_save_load_equality_with_weights_only",
    _rows(lambda n: flagged_inputs(n, skip=("differentiable",)), named=_NAMED),
    "name,kwargs,named",
    slow=beyond_default("unnamed"),
)
def test_save_load_equality_with_weights_only(name, kwargs, named):
    contract(name, saved_state_dict_loads_equal, kwargs, named)


def nontensor_step_loads(cls, kwargs):
    """3 steps of two (2, 3) params with fixed random gradients; the state_dict with every
    tensor ``step`` turned into a Python number loads and the optimizer steps on. Record: the
    optimizer after loading and after the step."""
    params = [Parameter(torch.randn(2, 3)) for _ in range(2)]
    for p in params:
        p.grad = torch.rand_like(p)
    opt = cls(params, **kwargs)
    for _ in range(3):
        opt.step()
    sd = copy.deepcopy(opt.state_dict())
    for state in sd["state"].values():
        if isinstance(state.get("step"), Tensor):
            state["step"] = state["step"].item()
    opt.load_state_dict(sd)
    loaded = snapshot(opt)
    opt.step()
    return {"loaded": loaded, "after": snapshot(opt)}


@cases("test_load_nontensor_step", _rows(lambda n: flagged_inputs(n, skip=("differentiable",))), "name,kwargs")
def test_load_nontensor_step(name, kwargs):
    contract(name, nontensor_step_loads, kwargs)


# ================================================================================================
# hooks
# ================================================================================================
def _one_param_optimizer(cls, kwargs):
    return cls([torch.rand(2, 3, requires_grad=True)], **kwargs)


def _mark_state(opt) -> None:
    opt.state["test"] = 1


def _report_mark(opt, state_dict):
    ran = "test" in state_dict["state"]
    state_dict["state"].pop("test", None)
    state_dict["ran_state_dict_pre_hook"] = ran
    return state_dict


def state_dict_pre_hook(cls, kwargs):
    """A state_dict pre hook that writes into ``opt.state`` shows in the state_dict."""
    opt = _one_param_optimizer(cls, kwargs)
    opt.register_state_dict_pre_hook(_mark_state)
    sd = opt.state_dict()
    assert sd["state"]["test"] == 1
    return detached(sd)


def state_dict_post_hook(cls, kwargs):
    """A state_dict post hook sees the state_dict (without the pre hook's mark)."""
    opt = _one_param_optimizer(cls, kwargs)
    opt.register_state_dict_post_hook(_report_mark)
    sd = opt.state_dict()
    assert sd["ran_state_dict_pre_hook"] is False
    return detached(sd)


def state_dict_pre_post_hook(cls, kwargs):
    """The post hook sees what the pre hook wrote, and removes it."""
    opt = _one_param_optimizer(cls, kwargs)
    opt.register_state_dict_pre_hook(_mark_state)
    opt.register_state_dict_post_hook(_report_mark)
    sd = opt.state_dict()
    assert "test" not in sd["state"] and sd["ran_state_dict_pre_hook"] is True
    return detached(sd)


def _lr_to_0_002(opt, state_dict) -> None:
    state_dict["param_groups"][0]["lr"] = 0.002


def _copy_with_lr_0_003(opt, state_dict):
    out = copy.deepcopy(state_dict)
    out["param_groups"][0]["lr"] = 0.003
    return out


def _note_loaded(opt) -> None:
    opt.state["ran_load_state_dict_pre_hook2"] = opt.param_groups[0]["lr"] == 0.003
    opt.state["ran_load_state_dict_post_hook"] = True


def load_state_dict_pre_hook_and_prepend(cls, kwargs):
    """A load pre hook edits the loaded lr (0.002); a prepended one (lr 0.003 in a copy) runs
    first, so 0.002 stays."""
    opt = _one_param_optimizer(cls, kwargs)
    sd = opt.state_dict()
    opt.register_load_state_dict_pre_hook(_lr_to_0_002)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.002
    opt.register_load_state_dict_pre_hook(_copy_with_lr_0_003, prepend=True)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.002
    return snapshot(opt)


def load_state_dict_post_hook(cls, kwargs):
    """A load post hook runs after loading."""
    opt = _one_param_optimizer(cls, kwargs)
    opt.register_load_state_dict_post_hook(_note_loaded)
    opt.load_state_dict(opt.state_dict())
    assert not opt.state["ran_load_state_dict_pre_hook2"] and opt.state["ran_load_state_dict_post_hook"]
    return {k: v for k, v in opt.state.items() if isinstance(k, str)}


def load_state_dict_pre_post_hook(cls, kwargs):
    """The post hook sees the state_dict the pre hook returned."""
    opt = _one_param_optimizer(cls, kwargs)
    opt.register_load_state_dict_pre_hook(_copy_with_lr_0_003)
    opt.register_load_state_dict_post_hook(_note_loaded)
    opt.load_state_dict(opt.state_dict())
    assert opt.state["ran_load_state_dict_pre_hook2"] and opt.state["ran_load_state_dict_post_hook"]
    return {k: v for k, v in opt.state.items() if isinstance(k, str)}


def _hook_counts(cls, kwargs, register: str, start: int):
    """A step hook adds 2 per step: two steps, then none once it is removed."""
    opt = cls([torch.tensor([[1.0, 1.0]])], **kwargs)
    count = [start]

    def hook(optimizer, args, kw):
        count[0] += 2

    handle = getattr(opt, register)(hook)
    opt.step()
    opt.step()
    assert count[0] == start + 4, f"{register}: {count[0] - start} after two steps, not 4"
    handle.remove()
    opt.step()
    assert count[0] == start + 4, f"{register}: still called after remove()"
    return count[0]


def step_post_hook(cls, kwargs):
    return _hook_counts(cls, kwargs, "register_step_post_hook", 2)


def step_pre_hook(cls, kwargs):
    return _hook_counts(cls, kwargs, "register_step_pre_hook", 5)


def step_all_hooks(cls, kwargs):
    """Global pre (0) and post (5) hooks around the local pre (1) and post (2) hooks, for this
    optimizer and a torch SGD beside it; nothing once all are removed."""
    params = [torch.tensor([[1.0, 1.0]])]
    opt, opt2 = cls(params, **kwargs), torch.optim.SGD(params)
    calls: list[int] = []
    handles = [
        register_optimizer_step_pre_hook(lambda *a: calls.append(0)),
        register_optimizer_step_post_hook(lambda *a: calls.append(5)),
    ]
    try:
        for o in (opt, opt2):
            handles.append(o.register_step_pre_hook(lambda *a: calls.append(1)))
            handles.append(o.register_step_post_hook(lambda *a: calls.append(2)))
        opt.step()
        assert calls == [0, 1, 2, 5], calls
        opt2.step()
        opt.step()
        assert calls == [0, 1, 2, 5] * 3, calls
    finally:
        for h in handles:
            h.remove()
    opt.step()
    opt2.step()
    assert calls == [0, 1, 2, 5] * 3, f"hooks still called after remove(): {calls}"
    return calls


HOOK_CHECKS = {
    "test_state_dict_pre_hook": state_dict_pre_hook,
    "test_state_dict_post_hook": state_dict_post_hook,
    "test_state_dict_pre_post_hook": state_dict_pre_post_hook,
    "test_load_state_dict_pre_hook_and_prepend": load_state_dict_pre_hook_and_prepend,
    "test_load_state_dict_post_hook": load_state_dict_post_hook,
    "test_load_state_dict_pre_post_hook": load_state_dict_pre_post_hook,
    "test_step_post_hook": step_post_hook,
    "test_step_pre_hook": step_pre_hook,
    "test_step_all_hooks": step_all_hooks,
}


def _hook_test(check: str):
    scenario = HOOK_CHECKS[check]

    @cases(check, _rows(flagged_inputs), "name,kwargs", slow=lambda desc, pid: desc.split(" & ")[0] != "default")
    def test(name, kwargs):
        contract(name, scenario, kwargs)

    test.__name__ = test.__qualname__ = check
    test.__doc__ = scenario.__doc__
    return test


test_state_dict_pre_hook = _hook_test("test_state_dict_pre_hook")
test_state_dict_post_hook = _hook_test("test_state_dict_post_hook")
test_state_dict_pre_post_hook = _hook_test("test_state_dict_pre_post_hook")
test_load_state_dict_pre_hook_and_prepend = _hook_test("test_load_state_dict_pre_hook_and_prepend")
test_load_state_dict_post_hook = _hook_test("test_load_state_dict_post_hook")
test_load_state_dict_pre_post_hook = _hook_test("test_load_state_dict_pre_post_hook")
test_step_post_hook = _hook_test("test_step_post_hook")
test_step_pre_hook = _hook_test("test_step_pre_hook")
test_step_all_hooks = _hook_test("test_step_all_hooks")


# ================================================================================================
# test_deepcopy_copies_all_public_attrs, test_non_empty_state, test_adamw_serialization
# ================================================================================================
def public_attributes_survive_deepcopy(cls, kwargs):
    """After 3 steps, ``copy.deepcopy`` has the same public attributes (and the same as torch's
    optimizer has)."""
    params = [Parameter(torch.randn(2, 3)) for _ in range(2)]
    for p in params:
        p.grad = torch.rand_like(p)
    opt = cls(params, **kwargs)
    for _ in range(3):
        opt.step()
    public = sorted(k for k in opt.__dict__ if not k.startswith("_"))
    copied = sorted(k for k in copy.deepcopy(opt).__dict__ if not k.startswith("_"))
    assert copied == public, f"deepcopy has {copied}, the optimizer {public}"
    return public


@cases(
    "test_deepcopy_copies_all_public_attrs", _rows(lambda n: flagged_inputs(n, skip=("differentiable",))), "name,kwargs"
)
def test_deepcopy_copies_all_public_attrs(name, kwargs):
    contract(name, public_attributes_survive_deepcopy, kwargs)


def state_after_one_step(cls, kwargs):
    """One step of a bias-free Linear(5, 5): every param has state."""
    model = torch.nn.Linear(5, 5, bias=False)
    opt = cls(model.parameters(), **kwargs)
    opt.zero_grad()
    model(torch.rand(2, 5)).sum().backward()
    opt.step()
    assert all(len(s) > 0 for s in opt.state.values()), "a param has empty state"
    return snapshot(opt)


@cases("test_non_empty_state", _rows(base_inputs), "name,kwargs")
def test_non_empty_state(name, kwargs):
    contract(name, state_after_one_step, kwargs)


def adam_adamw_state_dicts():
    """AdamW's state_dict loaded into Adam sets decoupled_weight_decay=True; AdamW keeps it True
    whatever it loads (Adam's, or an old AdamW's without the key). Record: the flags."""
    adam, adamw = dropin_class("Adam"), dropin_class("AdamW")
    model = torch.nn.Linear(5, 5)
    flags = {}
    adamw_sd = adamw(model.parameters()).state_dict()
    new = adam(model.parameters())
    new.load_state_dict(adamw_sd)
    flags["Adam <- AdamW"] = new.param_groups[0]["decoupled_weight_decay"]
    adam_sd = adam(model.parameters()).state_dict()
    flags["Adam's own"] = adam_sd["param_groups"][0]["decoupled_weight_decay"]
    new = adamw(model.parameters())
    new.load_state_dict(adam_sd)
    flags["AdamW <- Adam"] = new.param_groups[0]["decoupled_weight_decay"]
    old = copy.deepcopy(adamw_sd)
    del old["param_groups"][0]["decoupled_weight_decay"]
    new = adamw(model.parameters())
    new.load_state_dict(old)
    flags["AdamW <- old AdamW"] = new.param_groups[0]["decoupled_weight_decay"]
    return flags


@cases("test_adamw_serialization", [("AdamW-Adam", ("AdamW",))], "name")
def test_adamw_serialization(name):
    theirs = {"Adam <- AdamW": True, "Adam's own": False, "AdamW <- Adam": True, "AdamW <- old AdamW": True}
    torch_adam, torch_adamw = torch.optim.Adam, torch.optim.AdamW
    model = torch.nn.Linear(5, 5)
    reference = torch_adam(model.parameters())
    reference.load_state_dict(torch_adamw(model.parameters()).state_dict())
    if reference.param_groups[0]["decoupled_weight_decay"] is not theirs["Adam <- AdamW"]:
        raise ReferenceFailure("torch.optim.Adam no longer takes decoupled_weight_decay from AdamW's state_dict")
    try:
        ours = adam_adamw_state_dicts()
    except DropInFailure:
        raise
    except Exception as exc:
        raise DropInFailure(f"symopt.torch Adam/AdamW: {type(exc).__name__}: {exc}") from exc
    assert_same(ours, theirs, "decoupled_weight_decay after loading")


# ================================================================================================
# differentiable (TestDifferentiableOptimizerOptimizerInfo.test_optimizers_differentiable_wrt_params)
# ================================================================================================
def _one_differentiable_step(p, grad, state, cls, kwargs, *state_values):
    """One step from ``state`` (its tensors passed again as inputs, for gradcheck): the new param
    and every state tensor that requires grad."""
    p = p.clone()
    p.grad = grad
    opt = cls([p], **kwargs)
    opt.state[p].update({k: v.clone() if isinstance(v, Tensor) else v for k, v in state.items()})
    opt.step()
    return (p,) + tuple(v for v in opt.state[p].values() if isinstance(v, Tensor) and v.requires_grad)


def differentiable_step(cls, kwargs):
    """differentiable=True: gradcheck (torch's settings: fast mode, batched grad) of one step
    from the state of a first ordinary step, w.r.t. the param and its gradient, float64.
    Record: the state and the step's outputs."""
    mock = torch.rand(10, dtype=torch.float64, requires_grad=True)
    mock.grad = torch.rand_like(mock)
    first = cls([mock], **copy.deepcopy(kwargs))
    first.step()
    states = first.state_dict()["state"]
    state = states[0] if 0 in states else states
    kwargs = {**kwargs, "differentiable": True}
    if "capturable" in kwargs:
        kwargs["capturable"] = False
    params = torch.rand(10, dtype=torch.float64, requires_grad=True)
    grad = torch.rand(10, dtype=torch.float64, requires_grad=True)
    inputs = (params, grad, state, cls, kwargs, *state.values())
    assert torch.autograd.gradcheck(_one_differentiable_step, inputs, fast_mode=True, check_batched_grad=True)
    outputs = _one_differentiable_step(*inputs)
    return {"state": detached(state), "outputs": detached(list(outputs))}


@cases(
    "test_differentiable",
    _rows(lambda n: base_inputs(n) if "differentiable" in INFOS[n].supported_impls else []),
    "name,kwargs",
)
def test_differentiable(name, kwargs):
    contract(name, differentiable_step, kwargs)


# ================================================================================================
# The harness: torch.optim itself passes, a drop-in one ULP off fails, NaN never passes
# ================================================================================================
class _OneUlpOffAdagrad(torch.optim.Adagrad):
    """torch.optim.Adagrad whose first param ends every step one ULP higher."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        p = self.param_groups[0]["params"][0]
        p.view(-1)[0] = torch.nextafter(p.view(-1)[0], torch.tensor(math.inf, dtype=p.dtype))
        return loss


def test_harness_passes_torch_optim_as_its_own_drop_in(monkeypatch):
    monkeypatch.setattr(drop_ins, "Adagrad", torch.optim.Adagrad, raising=False)
    contract("Adagrad", goes_right_direction, {"foreach": False}, False, None, "Adagrad")
    contract("Adagrad", step_with_zero_grads, {}, "Adagrad")


def test_harness_catches_a_drop_in_one_ulp_off(monkeypatch):
    monkeypatch.setattr(drop_ins, "Adagrad", _OneUlpOffAdagrad, raising=False)
    with pytest.raises(DropInFailure, match=r"\['params'\]\[0\]: 1 of 50 elements differ from torch's bit for bit"):
        contract("Adagrad", goes_right_direction, {"foreach": False}, True, None, "Adagrad")


def test_harness_names_a_missing_drop_in(monkeypatch):
    monkeypatch.delattr(drop_ins, "Adagrad", raising=False)
    with pytest.raises(DropInFailure, match="symopt.torch.optim has no Adagrad"):
        contract("Adagrad", printed, {})


def test_harness_blames_torch_not_symopt_when_torch_fails_the_check():
    def torch_fails(cls, kwargs):
        raise AssertionError("loss went up")

    with pytest.raises(ReferenceFailure, match="torch.optim.Adagrad itself fails torch_fails"):
        expected("Adagrad", torch_fails, {})
    assert not issubclass(ReferenceFailure, AssertionError)  # never taken for a strict xfail's DropInFailure


def test_harness_never_passes_nan_or_a_sign_of_zero():
    nan = torch.tensor([1.0, math.nan])
    assert _non_finite({"state": [nan]}) == "['state'][0]"
    with pytest.raises(AssertionError, match="1 of 2 elements beyond"):
        assert_close(nan, nan.clone(), "nan")
    with pytest.raises(DropInFailure, match="1 of 1 elements differ"):
        assert_same(torch.tensor([-0.0]), torch.tensor([0.0]), "zero")
    with pytest.raises(DropInFailure, match="float 3.0 where torch has a tensor"):
        assert_same({"step": 3.0}, {"step": torch.tensor(3.0)}, "state")
