"""Call a generated fused C kernel on all tensors of a param group at once.

:class:`FusedKernel` picks the structural variant from the hyperparameters (the model's guards,
:func:`symopt.codegen.printers.c.variant_of`), builds the chunk table (``CHUNK`` elements per row,
covering every tensor) and the pointer arrays, validates every buffer (device CPU, one dtype
float32/float64, contiguous, shape of its param, no overlap between any two buffers) and calls the
library with ``torch.get_num_threads()`` threads (fewer below ``GRAIN`` elements per thread,
as torch's ``at::parallel_for`` does).

A repeated call with the same buffers reuses the pointer arrays and skips validation: the cache
entry holds a strong reference to every param and state it points to, and a weak reference to
every gradient; it is reused only when every data pointer matches and every gradient it saw is
still alive (so no address can have been reused by another tensor).
"""

from __future__ import annotations

import ctypes
import weakref
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from .. import rules
from ..rules import t
from ..codegen.printers.c import FUSED_FAMILIES, buffers_of, function_name, hyperparameters_of, switches, variant_of
from ..codegen.render import module_name
from .build import Library, load

#: elements per thread below which fewer threads are used (torch's at::internal::GRAIN_SIZE)
GRAIN = 32768
#: elements per chunk-table row: big enough to amortise the row, small enough to balance threads
CHUNK = 1 << 16
DTYPES = {torch.float32: "float32", torch.float64: "float64"}


def check_group(buffers: list[list[Tensor]], names: list[str], same_device: Callable[[str, Tensor], str | None],
                error: type[ValueError]) -> None:
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
                raise error(f"{label} is not contiguous; the fused kernels need contiguous tensors (call .contiguous())")
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


def _on_cpu(label: str, x: Tensor) -> str | None:
    return None if x.device.type == "cpu" else f"{label} is on {x.device}; the fused C kernels run on the CPU only"


class FusedLaunchError(ValueError):
    """A tensor the fused kernel cannot take (device, dtype, layout, overlap)."""


def source(family: str) -> str:
    """The committed generated C source of ``family`` (``symopt/kernels/c/<module>.c``)."""
    rule = rules.get(family)
    return resources.files("symopt.kernels.c").joinpath(f"{module_name(rule)}.c").read_text(encoding="utf-8")


@dataclass
class _Entry:
    key: tuple
    strong: list[Tensor]
    grads: list[weakref.ref]
    arrays: tuple
    chunks: Tensor
    n_chunks: int
    elements: int


class FusedKernel:
    """The fused kernels of one rule family (``"adagrad"``, ``"rmsprop"``)."""

    def __init__(self, family: str, *, library: Library | None = None) -> None:
        if family not in FUSED_FAMILIES:
            raise ValueError(f"no fused C kernels for {family!r}; there are: {', '.join(FUSED_FAMILIES)}")
        self.family = family
        self.rule = rules.get(family)
        self.library = library if library is not None else load(f"symopt_{module_name(self.rule)}", source(family))
        self._functions: dict[str, Any] = {}
        self._plans: dict[tuple, tuple] = {}
        self._switches = switches(self.rule)
        self._defaults = {h.name: _scalar(h.default) for h in self.rule.hyperparameters}
        self._entry: _Entry | None = None

    def _plan(self, hyperparameters: Mapping[str, Any]):
        """(variant, state keys, scalar argument names, uses t) for these hyperparameters, memoised
        on the values of the switches (deciding guards is SymPy work: once per distinct value)."""
        memo_key = tuple(_hashable(hyperparameters.get(name)) for name in self._switches)
        plan = self._plans.get(memo_key)
        if plan is None:
            variant = variant_of(self.rule, hyperparameters)
            spec_body = variant.specialized().body
            plan = (variant, buffers_of(self.rule, variant), hyperparameters_of(self.rule, variant),
                    any(t in a.expr.free_symbols for a in spec_body))
            self._plans[memo_key] = plan
        return plan

    def function(self, variant, dtype: str):
        name = function_name(self.rule, variant, dtype)
        fn = self._functions.get(name)
        if fn is None:
            fn = getattr(self.library.handle, name)
            n_buffers = 2 + len(buffers_of(self.rule, variant))
            n_hyper = len(hyperparameters_of(self.rule, variant))
            fn.argtypes = (
                [ctypes.c_int64, ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p] * n_buffers + [ctypes.c_void_p]
                + [ctypes.c_double] * n_hyper
            )
            fn.restype = None
            self._functions[name] = fn
        return fn

    def step(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        states: Mapping[str, Sequence[Tensor]],
        steps: Sequence[float] | Tensor | None,
        **hyperparameters: Any,
    ) -> None:
        """One step in place on ``params`` and ``states[key]`` (torch's state keys); ``steps`` holds
        each param's step count t after the increment (a float64 tensor or numbers; None for a rule
        that does not use t)."""
        variant, keys, hyper_names, uses_step = self._plan(hyperparameters)
        missing = [k for k in keys if k not in states]
        if missing:
            raise FusedLaunchError(f"{self.family}: state buffer(s) {', '.join(missing)} are needed for these hyperparameters")
        n = len(params)
        if steps is None:
            steps = torch.zeros(n, dtype=torch.float64)
            if uses_step:
                raise FusedLaunchError(f"{self.family}: this rule uses the step count t; pass steps")
        if len(grads) != n or any(len(states[k]) != n for k in keys) or len(steps) != n:
            raise FusedLaunchError(f"{self.family}: params, grads, every state list and steps must have one entry per param ({n})")
        if n == 0:
            return
        buffers = [list(params), list(grads)] + [list(states[k]) for k in keys]
        entry = self._cached(buffers)
        if entry is None:
            entry = self._prepare(buffers, keys)
        dtype = DTYPES[params[0].dtype]
        fn = self.function(variant, dtype)
        if isinstance(steps, Tensor):
            steps = steps.detach().to(device="cpu", dtype=torch.float64).contiguous()
            step_pointer = steps.data_ptr()
        else:
            steps = (ctypes.c_double * n)(*map(float, steps))
            step_pointer = ctypes.addressof(steps)
        scalars = [_scalar(hyperparameters[h]) if h in hyperparameters else self._defaults[h] for h in hyper_names]
        if entry.n_chunks:
            threads = max(1, min(torch.get_num_threads(), -(-entry.elements // GRAIN)))
            fn(entry.n_chunks, entry.chunks.data_ptr(), threads, *entry.arrays, step_pointer, *scalars)
        del steps  # kept alive until the call returned

    # -- validation and the cache -----------------------------------------------------------------
    def _cached(self, buffers: list[list[Tensor]]) -> _Entry | None:
        entry = self._entry
        if entry is None:
            return None
        try:
            key = tuple(t.data_ptr() for group in buffers for t in group)
        except AttributeError:
            return None
        if key != entry.key or any(r() is None for r in entry.grads):
            return None
        # the gradients are the same objects at the same addresses?
        if any(r() is not g for r, g in zip(entry.grads, buffers[1])):
            return None
        return entry

    def _prepare(self, buffers: list[list[Tensor]], keys: Sequence[str]) -> _Entry:
        names = ["params", "grads"] + [f"state {k!r}" for k in keys]
        params = buffers[0]
        first = params[0]
        if not isinstance(first, Tensor):
            raise FusedLaunchError(f"params[0] must be a torch.Tensor; got {type(first).__name__}")
        if first.dtype not in DTYPES:
            raise FusedLaunchError(
                f"fused CPU kernels take float32 or float64 tensors; params[0] has dtype {first.dtype} "
                f"(use fused=False for it)"
            )
        check_group(buffers, names, _on_cpu, FusedLaunchError)
        rows = []
        for i, p in enumerate(params):
            for begin in range(0, p.numel(), CHUNK):
                rows.append((i, begin, min(CHUNK, p.numel() - begin)))
        chunks = torch.tensor(rows, dtype=torch.int64).reshape(-1, 3).contiguous()
        arrays = tuple((ctypes.c_void_p * len(group))(*[x.data_ptr() for x in group]) for group in buffers)
        key = tuple(t.data_ptr() for group in buffers for t in group)
        strong = [x for b, group in enumerate(buffers) if b != 1 for x in group]
        entry = _Entry(key, strong, [weakref.ref(g) for g in buffers[1]], arrays, chunks, len(rows),
                       sum(p.numel() for p in params))
        self._entry = entry
        return entry


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


_KERNELS: dict[str, FusedKernel] = {}


def kernel(family: str) -> FusedKernel:
    """The process-wide :class:`FusedKernel` of ``family`` (built or loaded on first use)."""
    if family not in _KERNELS:
        _KERNELS[family] = FusedKernel(family)
    return _KERNELS[family]


__all__ = ["CHUNK", "FusedKernel", "FusedLaunchError", "kernel", "source"]
