"""Call a generated fused C kernel on all tensors of a param group at once.

:class:`FusedKernel` picks the structural variant from the hyperparameters (the model's guards,
:func:`symopt.codegen.printers.c.variant_of`), builds the chunk table (``CHUNK`` elements per row,
covering every tensor) and the pointer arrays, validates every buffer (device CPU, one dtype
float32, float64, float16 or bfloat16, contiguous, shape of its param, no overlap between any two
buffers) and calls the library with ``torch.get_num_threads()`` threads (fewer below ``GRAIN``
elements per thread, as torch's ``at::parallel_for`` does), or with one where the plan's measured
launches say one is faster (:class:`ThreadChoice`: a busy machine). The kernels of a rule with ``fused_tail="first_product"``
(SGD, Adam, AdamW) also take, per tensor, the index where torch's scalar tail begins
(:func:`tail_starts`): the last ``numel mod Vectorized<T>::size()`` elements, which ATen's fused
kernel rounds otherwise.

The fixed half of a launch is a :class:`LaunchPlan`: params and state buffers, validated once,
with their chunk table and pointer arrays. Each launch brings the gradients, validated again only
when they are not the very objects of the previous launch (the plan keeps a weak reference to
them, so a freed gradient's address cannot pass for it), and the step counts. The plan holds a
strong reference to every param and state buffer it points to; its owner re-plans when a param
moves (:meth:`LaunchPlan.params_moved`). :meth:`FusedKernel.step` keeps the last plan and reuses
it for the same params and state tensors at the same addresses; the drop-in optimizers keep one
per param group (:mod:`symopt.torch.optim`).
"""

from __future__ import annotations

import copy
import ctypes
import operator
import time
import weakref
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .. import rules
from ..rules import t
from ..codegen.printers.c import (
    C_FAMILIES,
    buffers_of,
    function_name,
    hyperparameters_of,
    switches,
    takes_tails,
    variant_of,
)
from ..codegen.render import module_name
from .build import FusedUnavailable, Library, load

#: elements per thread below which fewer threads are used (torch's at::internal::GRAIN_SIZE)
GRAIN = 32768
#: elements per chunk-table row: big enough to amortise the row, small enough to balance threads
CHUNK = 1 << 16
DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}
#: bytes of one at::vec::Vectorized<T> in the kernels torch's fused CPU optimizers run, by torch's
#: CPU capability. 32 everywhere, AVX512 included: the fused kernels (FusedAdagradKernel.cpp,
#: FusedAdamKernel.cpp, FusedSGDKernel.cpp) register with REGISTER_DISPATCH, which on an AVX512
#: build registers nullptr (ATen/native/DispatchStub.h: only ALSO_REGISTER_AVX512_DISPATCH
#: registers the AVX512 kernel), so an AVX512 machine runs their AVX2 kernel (32-byte vectors).
#: Measured on an AVX512 machine (AMD EPYC, torch 2.13): 16-element float16 vectors in fused
#: Adagrad, 8-element float32 vectors in fused SGD and Adam.
VECTOR_BYTES: dict[str, int] = {}
_DEREFERENCE = weakref.ref.__call__
_clock = time.perf_counter
_IS_CPU, _LAYOUT, _DTYPE, _SHAPE = (operator.attrgetter(a) for a in ("is_cpu", "layout", "dtype", "shape"))


def vector_size(dtype: torch.dtype) -> int:
    """``at::vec::Vectorized<T>::size()`` of torch's fused CPU optimizer kernels in this process
    (by its CPU capability, ``torch.backends.cpu.get_cpu_capability()``: see
    :data:`VECTOR_BYTES`)."""
    width = VECTOR_BYTES.get(torch.backends.cpu.get_cpu_capability(), 32)
    return width // torch.empty((), dtype=dtype).element_size()


def tail_starts(sizes: Sequence[int], dtype: torch.dtype) -> list[int]:
    """Per tensor of ``sizes`` elements, where torch's fused kernel leaves its vector loop for its
    scalar tail: ``n − n mod W`` (W = :func:`vector_size`). ATen splits a tensor among threads
    at cache-line multiples of W, so this is the only tail."""
    width = vector_size(dtype)
    return [n - n % width for n in sizes]


def check_group(
    buffers: list[list[Tensor]],
    names: list[str],
    same_device: Callable[[str, Tensor], str | None],
    error: type[ValueError],
) -> None:
    """Validate one launch's tensors: each a dense, contiguous tensor of params[0]'s dtype and its
    param's shape, on the device ``same_device`` accepts (it returns a message otherwise), and no
    two in overlapping memory (a gradient may alias a gradient). Raises ``error`` naming the
    tensor and what to do."""
    params = buffers[0]
    first = params[0]
    intervals = []
    for b, group in enumerate(buffers):
        for i, x in enumerate(group):
            label = f"{names[b]}[{i}]"
            if not isinstance(x, Tensor):
                raise error(f"{label} must be a torch.Tensor; got {type(x).__name__}")
            problem = same_device(label, x)
            if problem:
                raise error(problem)
            if x.is_sparse or x.layout != torch.strided:
                raise error(f"{label} is not a dense strided tensor; the fused kernels take dense tensors")
            if x.dtype != first.dtype:
                raise error(f"{label} has dtype {x.dtype} but params[0] has {first.dtype}; one dtype per call")
            if x.shape != params[i].shape:
                raise error(f"{label} has shape {tuple(x.shape)} but params[{i}] has {tuple(params[i].shape)}")
            if not x.is_contiguous():
                raise error(
                    f"{label} is not contiguous; the fused kernels need contiguous tensors (call .contiguous())"
                )
            if x.numel():
                start = x.data_ptr()
                intervals.append((start, start + x.numel() * x.element_size(), label, b == 1))
    intervals.sort()
    # Sorted by start, any overlap shows against the furthest end seen so far.
    end, owner = 0, None
    for s, e, label, is_grad in intervals:
        if s < end and owner is not None and not (is_grad and owner[1]):
            raise error(f"{owner[0]} and {label} overlap in memory; every param and state needs its own storage")
        if e > end:
            end, owner = e, (label, is_grad)


def check_arguments(
    family: str,
    keys: Sequence[str],
    uses_step: bool,
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Mapping[str, Sequence[Tensor]],
    steps: Any,
    error: type[ValueError],
) -> Any:
    """The launch arguments' shape, for the C and Triton launchers: every state buffer the
    variant needs (``keys``), one gradient, one entry per state list and one step per param;
    returns ``steps`` (zeros when None and the rule does not use t). Raises ``error``."""
    missing = [k for k in keys if k not in states]
    if missing:
        raise error(f"{family}: state buffer(s) {', '.join(missing)} are needed for these hyperparameters")
    n = len(params)
    if steps is None:
        if uses_step:
            raise error(f"{family}: this rule uses the step count t; pass steps")
        steps = [0.0] * n
    if len(grads) != n or any(len(states[k]) != n for k in keys) or len(steps) != n:
        raise error(f"{family}: params, grads, every state list and steps must have one entry per param ({n})")
    return steps


def _on_cpu(label: str, x: Tensor) -> str | None:
    return None if x.device.type == "cpu" else f"{label} is on {x.device}; the fused C kernels run on the CPU only"


class FusedLaunchError(ValueError):
    """A tensor the fused kernel cannot take (device, dtype, layout, overlap)."""


def source(family: str) -> str:
    """The committed generated C source of ``family`` (``symopt/kernels/c/<module>.c``)."""
    rule = rules.get(family)
    return resources.files("symopt.kernels.c").joinpath(f"{module_name(rule)}.c").read_text(encoding="utf-8")


class LaunchPlan:
    """The fixed half of a launch: params and state buffers, validated once, with their chunk table
    and pointer arrays; each :meth:`launch` brings the gradients (checked again only when they are
    not the objects of the previous launch) and the step counts.

    The plan holds a strong reference to every param and state buffer it points to and a weak
    reference to the gradients it last checked. A caller that keeps a plan across steps must
    make sure the params still own the memory the plan saw: :meth:`params_moved` compares the
    data pointers (``p.data = ...``, ``module.to(...)`` change them).
    """

    def __init__(
        self,
        kernel: "FusedKernel",
        params: Sequence[Tensor],
        states: Mapping[str, Sequence[Tensor]],
        keys: Sequence[str],
    ) -> None:
        params = list(params)
        fixed = [params] + [list(states[k]) for k in keys]
        _check_first(params[0])
        check_group(fixed, ["params"] + [f"state {k!r}" for k in keys], _on_cpu, FusedLaunchError)
        self.kernel = kernel
        self.keys = tuple(keys)
        self.params = tuple(params)
        self.states = {k: tuple(states[k]) for k in keys}  # strong references
        self.dtype = DTYPES[params[0].dtype]
        rows = chunk_rows([p.numel() for p in params])
        self.n_chunks = len(rows)
        self.elements = sum(p.numel() for p in params)
        self.chunks = torch.tensor(rows, dtype=torch.int64).reshape(-1, 3).contiguous()
        self.tails = torch.tensor(tail_starts([p.numel() for p in params], params[0].dtype), dtype=torch.int64)
        self.param_pointers = list(map(Tensor.data_ptr, params))
        self._arrays = {"params": _pointer_array(params), "grads": (ctypes.c_void_p * len(params))()}
        self._arrays.update({k: _pointer_array(self.states[k]) for k in keys})
        # the fixed buffers' byte intervals, sorted and disjoint (check_group): a new gradient is
        # checked against them by one binary search each
        spans = sorted(
            (x.data_ptr(), x.data_ptr() + x.numel() * x.element_size()) for group in fixed for x in group if x.numel()
        )
        self._starts = np.array([a for a, _ in spans], dtype=np.uint64)
        self._ends = np.array([b for _, b in spans], dtype=np.uint64)
        if not spans:  # nothing to overlap: one interval no gradient can reach
            self._starts, self._ends = np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.uint64)
        self._shapes = [p.shape for p in params]
        self._nbytes = np.array([p.numel() * p.element_size() for p in params], dtype=np.uint64)
        self._grads: list[weakref.ref] = []
        self._arguments: dict[str, tuple] = {}
        self.threads = ThreadChoice()

    def params_moved(self) -> bool:
        """True when a param no longer holds the memory this plan points to."""
        return list(map(Tensor.data_ptr, self.params)) != self.param_pointers

    def set_gradients(self, grads: Sequence[Tensor], *, of_params: bool = False) -> None:
        """Point the plan at ``grads`` (one per param), validating them unless they are the very
        objects of the previous call: dense, contiguous, the param's dtype, shape and device, and
        not overlapping a param or state buffer (gradients may alias each other). With
        ``of_params`` the gradients are the params' ``.grad``, whose dtype, device and shape
        torch's setter has already checked against the param: those checks are skipped.

        The checks run over the whole list at once (a failure is then explained per gradient by
        :meth:`_explain`): a step with 100 new gradients costs tens of microseconds, not hundreds."""
        # The same objects as last time: a dead reference dereferences to None, which must not
        # match a missing gradient (after zero_grad() every .grad is None, and the kernel would
        # read the freed gradients of the previous step).
        if (
            len(grads) == len(self._grads)
            and all(map(operator.is_, map(_DEREFERENCE, self._grads), grads))
            and not any(g is None for g in grads)
        ):
            return
        if len(grads) != len(self.params):
            raise FusedLaunchError(
                f"{self.kernel.family}: one gradient per param ({len(self.params)}); got {len(grads)}"
            )
        dtype = self.params[0].dtype
        if not (
            all(isinstance(g, Tensor) for g in grads)
            and (
                of_params
                or (
                    all(map(_IS_CPU, grads))
                    and all(d is dtype for d in map(_DTYPE, grads))
                    and list(map(_SHAPE, grads)) == self._shapes
                )
            )
            and all(layout is torch.strided for layout in map(_LAYOUT, grads))
            and all(map(Tensor.is_contiguous, grads))
        ):
            self._explain(grads)
        pointers = list(map(Tensor.data_ptr, grads))
        # Overlap with the fixed buffers (sorted, disjoint): the one that starts last before a
        # gradient ends is the only candidate.
        starts = np.array(pointers, dtype=np.uint64)
        ends = starts + self._nbytes
        k = np.searchsorted(self._starts, ends, side="left").astype(np.int64) - 1
        clash = (self._nbytes > 0) & (k >= 0) & (self._ends[np.maximum(k, 0)] > starts)
        if clash.any():
            label = f"grads[{int(np.argmax(clash))}]"
            raise FusedLaunchError(
                f"{label} overlaps a param or state buffer in memory; every gradient needs its own storage"
            )
        self._arrays["grads"][:] = pointers
        self._grads = list(map(weakref.ref, grads))

    def _explain(self, grads: Sequence[Tensor]) -> None:
        """Raise :class:`FusedLaunchError` naming the first gradient the kernel cannot take."""
        check_group([list(self.params), list(grads)], ["params", "grads"], _on_cpu, FusedLaunchError)
        raise AssertionError("a gradient failed the batch check but passes every single one")  # pragma: no cover

    def launch(
        self,
        grads: Sequence[Tensor],
        steps_pointer: int,
        hyperparameters: Mapping[str, Any],
        grad_scale: Tensor | None = None,
    ) -> None:
        """One step with ``grads``; ``steps_pointer`` is the address of a float64 array holding each
        param's t after the increment (read only by rules whose update uses t)."""
        self.set_gradients(grads)
        self.call(steps_pointer, hyperparameters, grad_scale)

    def call(self, steps_pointer: int, hyperparameters: Mapping[str, Any], grad_scale: Tensor | None = None) -> None:
        """One step with the gradients of the last :meth:`set_gradients`; ``grad_scale`` (torch's
        fused keyword: GradScaler's scale, a one-element float32 CPU tensor, :func:`scale_pointer`)
        divides each gradient first, in place, as torch's fused kernels do."""
        variant, keys, hyper_names, _ = self.kernel._plan(hyperparameters)
        arguments = self._arguments.get(variant.name)
        if arguments is None:
            missing = [k for k in keys if k not in self.states]
            if missing:
                raise FusedLaunchError(
                    f"{self.kernel.family}: state buffer(s) {', '.join(missing)} are needed for these hyperparameters"
                )
            arguments = (
                self.kernel.function(variant, self.dtype),
                self._arrays["params"],
                self._arrays["grads"],
                *(self._arrays[k] for k in keys),
            )
            self._arguments[variant.name] = arguments
        if not self.n_chunks:
            return
        defaults = self.kernel._defaults
        scalars = [_scalar(hyperparameters[h]) if h in hyperparameters else defaults[h] for h in hyper_names]
        team = max(1, min(torch.get_num_threads(), -(-self.elements // GRAIN)))
        threads = self.threads.pick(team)
        fn, *arrays = arguments
        tails = (self.tails.data_ptr(),) if self.kernel.takes_tails(self.dtype) else ()
        start = _clock()
        fn(
            self.n_chunks,
            self.chunks.data_ptr(),
            threads,
            *arrays,
            steps_pointer,
            *tails,
            scale_pointer(grad_scale),
            *scalars,
        )
        self.threads.record(threads, _clock() - start)


class ThreadChoice:
    """How many threads a plan's launches use, chosen from their measured times: the team
    (``torch.get_num_threads()``, fewer below ``GRAIN`` elements per thread) or one thread.

    An OpenMP team ends each launch at a barrier: when another process holds a core (a data
    loader's workers, a second job), the thread descheduled there holds the whole step for a
    scheduler time slice — milliseconds, against ~100 µs of work at 1e6 elements. One thread has
    no barrier. So each plan keeps the last :attr:`WINDOW` launch times of both choices and
    takes the one whose median is lower, trying the other once every :attr:`EXPLORE` launches
    (a load that comes and goes is followed within tens of steps). The choice changes no bit of
    the result: every element is computed by one thread either way."""

    #: launch times kept per choice (their median decides)
    WINDOW = 5
    #: one launch in this many tries the choice not taken
    EXPLORE = 32

    def __init__(self) -> None:
        self.samples: dict[int, list[float]] = {}
        self.launches = 0
        self.team = 0

    def pick(self, team: int) -> int:
        """The thread count of the next launch for a team of ``team`` threads."""
        if team <= 1:
            return 1
        if team != self.team:  # torch.set_num_threads changed the team: measure again
            self.team, self.samples = team, {team: [], 1: []}
        self.launches += 1
        pending = [t for t in (team, 1) if len(self.samples[t]) < self.WINDOW]
        if pending:
            return pending[self.launches % len(pending)]
        best = min((team, 1), key=lambda t: _median(self.samples[t]))
        if self.launches % self.EXPLORE == 0:
            return 1 if best == team else team
        return best

    def record(self, threads: int, seconds: float) -> None:
        """The measured time of a launch with ``threads`` threads."""
        kept = self.samples.get(threads)
        if kept is None:
            return
        kept.append(seconds)
        if len(kept) > self.WINDOW:
            del kept[0]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def scale_pointer(grad_scale: Tensor | None) -> int | None:
    """The address the kernels read GradScaler's scale from (None: no scale), after torch's
    checks: ATen's fused kernels read ``grad_scale->data_ptr<float>()``, one float32 on the CPU."""
    if grad_scale is None:
        return None
    if not isinstance(grad_scale, Tensor) or grad_scale.dtype != torch.float32 or grad_scale.numel() != 1:
        raise FusedLaunchError("grad_scale must be a one-element float32 tensor (GradScaler's scale)")
    if grad_scale.device.type != "cpu":
        raise FusedLaunchError(f"grad_scale is on {grad_scale.device}; the fused C kernels run on the CPU only")
    return grad_scale.data_ptr()


def skips_step(found_inf: Tensor | None) -> bool:
    """torch's fused CPU kernels return without touching anything when ``*found_inf == 1.0``
    (GradScaler found an inf or NaN gradient)."""
    return found_inf is not None and float(found_inf) == 1.0


def chunk_rows(sizes: Sequence[int]) -> list[tuple[int, int, int]]:
    """The chunk table over tensors of ``sizes`` elements: rows (tensor, begin, length) of at most
    ``CHUNK`` elements, a tensor split into pieces of equal length (so that no thread is left
    with a short tail while another runs a full chunk)."""
    rows = []
    for i, n in enumerate(sizes):
        pieces = -(-n // CHUNK)
        for j in range(pieces):
            begin, end = n * j // pieces, n * (j + 1) // pieces
            rows.append((i, begin, end - begin))
    return rows


def _pointer_array(tensors: Sequence[Tensor]):
    return (ctypes.c_void_p * len(tensors))(*[x.data_ptr() for x in tensors])


def _check_first(first: Any) -> None:
    if not isinstance(first, Tensor):
        raise FusedLaunchError(f"params[0] must be a torch.Tensor; got {type(first).__name__}")
    if first.dtype not in DTYPES:
        raise FusedLaunchError(
            f"fused CPU kernels take float32, float64, float16 or bfloat16 tensors; params[0] has dtype {first.dtype} "
            f"(use fused=False for it)"
        )


class FusedKernel:
    """The fused kernels of one rule family (:data:`~symopt.codegen.printers.c.C_FAMILIES`:
    ``"adagrad"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``, ``"sgd"``)."""

    def __init__(self, family: str, *, library: Library | None = None) -> None:
        if family not in C_FAMILIES:
            raise ValueError(f"no fused C kernels for {family!r}; there are: {', '.join(C_FAMILIES)}")
        self.family = family
        self.rule = rules.get(family)
        self._tails = {dtype: takes_tails(self.rule, dtype) for dtype in DTYPES.values()}
        self.library = library if library is not None else load(f"symopt_{module_name(self.rule)}", source(family))
        self._functions: dict[str, Any] = {}
        self._plans: dict[tuple, tuple] = {}
        self._switches = switches(self.rule)
        self._defaults = {h.name: _scalar(h.default) for h in self.rule.hyperparameters}
        self._last: LaunchPlan | None = None

    def _plan(self, hyperparameters: Mapping[str, Any]):
        """(variant, state keys, scalar argument names, uses t) for these hyperparameters, memoised
        on the values of the switches (deciding guards is SymPy work: once per distinct value)."""
        memo_key = tuple(_hashable(hyperparameters.get(name)) for name in self._switches)
        plan = self._plans.get(memo_key)
        if plan is None:
            variant = variant_of(self.rule, hyperparameters)
            spec_body = variant.specialized().body
            plan = (
                variant,
                buffers_of(self.rule, variant),
                hyperparameters_of(self.rule, variant),
                any(t in a.expr.free_symbols for a in spec_body),
            )
            self._plans[memo_key] = plan
        return plan

    def takes_tails(self, dtype: str) -> bool:
        """Whether ``dtype``'s functions take the tail starts (:func:`~symopt.codegen.printers.c.takes_tails`)."""
        return self._tails[dtype]

    def function(self, variant, dtype: str):
        name = function_name(self.rule, variant, dtype)
        fn = self._functions.get(name)
        if fn is None:
            fn = getattr(self.library.handle, name)
            n_buffers = 2 + len(buffers_of(self.rule, variant))
            n_hyper = len(hyperparameters_of(self.rule, variant))
            fn.argtypes = (
                [ctypes.c_int64, ctypes.c_void_p, ctypes.c_int]
                + [ctypes.c_void_p] * n_buffers
                + [ctypes.c_void_p]
                + [ctypes.c_void_p] * self.takes_tails(dtype)
                + [ctypes.c_void_p]
                + [ctypes.c_double] * n_hyper
            )
            fn.restype = None
            self._functions[name] = fn
        return fn

    def prepare(
        self, params: Sequence[Tensor], states: Mapping[str, Sequence[Tensor]], keys: Sequence[str] | None = None
    ) -> LaunchPlan:
        """A :class:`LaunchPlan` over ``params`` and ``states[key]`` for ``keys`` (default: every
        key of ``states``), validated now."""
        return LaunchPlan(self, params, states, tuple(states) if keys is None else keys)

    def step(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        states: Mapping[str, Sequence[Tensor]],
        steps: Sequence[float] | Tensor | None,
        *,
        grad_scale: Tensor | None = None,
        found_inf: Tensor | None = None,
        **hyperparameters: Any,
    ) -> None:
        """One step in place on ``params`` and ``states[key]`` (torch's state keys); ``steps`` holds
        each param's step count t after the increment (a float64 tensor or numbers; None for a rule
        that does not use t). SGD's kernels take ``is_first_step`` (torch's keyword: the momentum
        buffers were just made, ``torch.empty_like(grad)``, and are written, not read). The plan
        of the previous call is reused when the params and state buffers are the same tensors at
        the same addresses. ``grad_scale`` and ``found_inf`` are torch's fused keywords
        (GradScaler's): each gradient is divided by the scale in place first, and nothing is done
        when ``found_inf`` is 1 (:func:`skips_step`)."""
        variant, keys, hyper_names, uses_step = self._plan(hyperparameters)
        steps = check_arguments(self.family, keys, uses_step, params, grads, states, steps, FusedLaunchError)
        n = len(params)
        if n == 0:
            return
        plan = self._last
        if (
            plan is None
            or plan.keys != tuple(keys)
            or len(plan.params) != n
            or not all(map(operator.is_, plan.params, params))
            or any(not all(map(operator.is_, plan.states[k], states[k])) for k in keys)
            or plan.params_moved()
        ):
            plan = self._last = self.prepare(params, states, keys)
        kept: Tensor | ctypes.Array[ctypes.c_double]  # the counters the kernel reads, alive until it returned
        if isinstance(steps, Tensor):
            kept = steps.detach().to(device="cpu", dtype=torch.float64).contiguous()
            pointer = kept.data_ptr()
        else:
            kept = (ctypes.c_double * n)(*map(float, () if steps is None else steps))
            pointer = ctypes.addressof(kept)
        if not skips_step(found_inf):
            plan.launch(grads, pointer, hyperparameters, grad_scale)
        del kept


def _hashable(value: Any) -> Any:
    if isinstance(value, Tensor):
        return float(value.item())
    return value


def _scalar(value: Any) -> float:
    if isinstance(value, Tensor):
        return float(value.item())
    if isinstance(value, bool):
        return float(value)
    return float(value)


#: family -> its process-wide kernel, or why it is unavailable (tried once per process)
_KERNELS: dict[str, "FusedKernel | FusedUnavailable"] = {}


def kernel(family: str) -> FusedKernel:
    """The process-wide :class:`FusedKernel` of ``family`` (built or loaded on first use). Raises
    :class:`~symopt.fused.build.FusedUnavailable` when it cannot be built or loaded here: the
    first time, and again (without another build) every later time."""
    found = _KERNELS.get(family)
    if found is None:
        try:
            found = FusedKernel(family)
        except FusedUnavailable as exc:
            found = exc.with_traceback(None)
        _KERNELS[family] = found
    if isinstance(found, FusedUnavailable):
        raise copy.copy(found)
    return found


__all__ = [
    "CHUNK",
    "FusedKernel",
    "FusedLaunchError",
    "LaunchPlan",
    "ThreadChoice",
    "chunk_rows",
    "kernel",
    "scale_pointer",
    "skips_step",
    "source",
]
