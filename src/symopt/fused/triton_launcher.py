"""Launch a generated fused Triton kernel (:mod:`symopt.kernels.triton`) on all tensors of a param
group at once: one launch per step.

:class:`TritonKernel` picks the structural variant from the hyperparameters (the model's guards,
:func:`symopt.codegen.printers.c.variant_of`, shared with the C backend), validates every buffer
(one CUDA device — or the CPU under ``TRITON_INTERPRET=1`` —, one dtype float32/float64,
contiguous, the shape of its param, no overlap between a param or state and any other buffer),
builds the device-side tables and launches:

- ``chunks`` int64 ``[n_chunks, 3]``: (tensor, begin, length), ``CHUNK`` elements per row;
- ``offsets`` int64 ``[n_buffers, n_tensors]``: each tensor's start in elements from the first
  non-empty tensor of its buffer kind, whose pointer the kernel takes;
- ``scalars`` float64: the variant's hyperparameters, then every tensor's step count t (one small
  host-to-device copy per step).

The tables are cached while the same tensors (by address, with a strong reference to every param
and state and a weak one to every gradient, as the C launcher does) come back. Kernels are
launched with ``enable_fp_fusion=False``: the printer writes every operation it means (no fma).
"""

from __future__ import annotations

import importlib
import os
import weakref
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from .. import rules
from ..codegen.printers.c import FUSED_FAMILIES, variant_of
from ..codegen.render import module_name
from .launcher import check_arguments, check_group

DTYPES = (torch.float32, torch.float64)
NUM_WARPS = 4


class TritonUnavailable(RuntimeError):
    """Triton is not installed (the generated modules then hold no kernels)."""


class TritonLaunchError(ValueError):
    """A tensor the fused Triton kernel cannot take (device, dtype, layout, overlap)."""


def interpreting() -> bool:
    """Whether Triton runs its interpreter (``TRITON_INTERPRET=1``): kernels then take CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def module(family: str):
    """The generated module ``symopt.kernels.triton.<family>`` (importable without Triton)."""
    if family not in FUSED_FAMILIES:
        raise ValueError(f"no fused Triton kernels for {family!r}; there are: {', '.join(FUSED_FAMILIES)}")
    return importlib.import_module(f"symopt.kernels.triton.{module_name(rules.get(family))}")


@dataclass
class _Entry:
    key: tuple
    strong: list[Tensor]
    grads: list[weakref.ref]
    bases: tuple[Tensor, ...]
    chunks: Tensor
    offsets: Tensor
    n_chunks: int
    vec: int


class TritonKernel:
    """The fused Triton kernels of one rule family (``"adagrad"``, ``"rmsprop"``)."""

    def __init__(self, family: str) -> None:
        self.module = module(family)
        if not self.module.KERNELS:
            raise TritonUnavailable("triton is not installed")
        self.family = family
        self.rule = rules.get(family)
        self._plans: dict[tuple, tuple] = {}
        self._defaults = {h.name: _scalar(h.default) for h in self.rule.hyperparameters}
        self._entry: _Entry | None = None
        self.launches = 0  # kernel launches so far (one per step() with elements)

    def _plan(self, hyperparameters: Mapping[str, Any]) -> tuple:
        memo_key = tuple(_hashable(hyperparameters.get(name)) for name in self.module.SWITCHES)
        plan = self._plans.get(memo_key)
        if plan is None:
            variant = variant_of(self.rule, hyperparameters)
            name, keys, hyper, uses_step = self.module.VARIANTS[variant.name]
            plan = (self.module.KERNELS[name], keys, hyper, uses_step)
            self._plans[memo_key] = plan
        return plan

    def step(
        self,
        params: Sequence[Tensor],
        grads: Sequence[Tensor],
        states: Mapping[str, Sequence[Tensor]],
        steps: Sequence[float] | Tensor | None,
        **hyperparameters: Any,
    ) -> None:
        """One step in place on ``params`` and ``states[key]`` (torch's keys); ``steps`` holds each
        param's t after the increment (a tensor or numbers; None for a rule that does not use t)."""
        fn, keys, hyper_names, uses_step = self._plan(hyperparameters)
        steps = check_arguments(self.family, keys, uses_step, params, grads, states, steps, TritonLaunchError)
        n = len(params)
        if n == 0:
            return
        buffers = [list(params), list(grads)] + [list(states[k]) for k in keys]
        entry = self._cached(buffers) or self._prepare(buffers, keys)
        if not entry.n_chunks:
            return
        device = entry.chunks.device
        values = [_scalar(hyperparameters[h]) if h in hyperparameters else self._defaults[h] for h in hyper_names]
        if isinstance(steps, Tensor):
            steps = steps.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
        else:
            steps = torch.tensor([float(s) for s in steps], dtype=torch.float64)
        scalars = torch.cat([torch.tensor(values, dtype=torch.float64), steps]).to(device, non_blocking=True)
        fn[(entry.n_chunks,)](
            entry.chunks,
            entry.offsets,
            scalars,
            n,
            *entry.bases,
            BLOCK=self.module.BLOCK,
            VEC=entry.vec,
            num_warps=NUM_WARPS,
            enable_fp_fusion=False,
        )
        self.launches += 1

    # -- validation and the cache -----------------------------------------------------------------
    def _cached(self, buffers: list[list[Tensor]]) -> _Entry | None:
        entry = self._entry
        if entry is None:
            return None
        try:
            key = tuple(x.data_ptr() for group in buffers for x in group)
        except AttributeError:
            return None
        if key != entry.key or any(r() is not g for r, g in zip(entry.grads, buffers[1])):
            return None
        return entry

    def _prepare(self, buffers: list[list[Tensor]], keys: Sequence[str]) -> _Entry:
        names = ["params", "grads"] + [f"state {k!r}" for k in keys]
        params = buffers[0]
        first = params[0]
        if not isinstance(first, Tensor):
            raise TritonLaunchError(f"params[0] must be a torch.Tensor; got {type(first).__name__}")
        if first.dtype not in DTYPES:
            raise TritonLaunchError(
                f"fused Triton kernels take float32 or float64 tensors; params[0] has dtype "
                f"{first.dtype} (use fused=False for it)"
            )
        if first.device.type != "cuda" and not interpreting():
            raise TritonLaunchError(
                f"params[0] is on {first.device}; the fused Triton kernels run on CUDA "
                f"(or on the CPU under TRITON_INTERPRET=1)"
            )

        def same_device(label: str, x: Tensor) -> str | None:
            if x.device == first.device:
                return None
            return f"{label} is on {x.device} but params[0] is on {first.device}; one device per launch"

        check_group(buffers, names, same_device, TritonLaunchError)
        size = first.element_size()
        chunk = self.module.CHUNK
        rows = [
            (i, begin, min(chunk, p.numel() - begin))
            for i, p in enumerate(params)
            for begin in range(0, p.numel(), chunk)
        ]
        bases, offsets = [], []
        for group in buffers:
            base = next((x for x in group if x.numel()), group[0])
            bases.append(base)
            offsets.append([(x.data_ptr() - base.data_ptr()) // size if x.numel() else 0 for x in group])
        aligned = all(x.data_ptr() % 16 == 0 for group in buffers for x in group if x.numel())
        device = first.device
        chunks = torch.tensor(rows, dtype=torch.int64).reshape(-1, 3).to(device)
        offset_table = torch.tensor(offsets, dtype=torch.int64).reshape(len(buffers), len(params)).to(device)
        key = tuple(x.data_ptr() for group in buffers for x in group)
        strong = [x for b, group in enumerate(buffers) if b != 1 for x in group]
        entry = _Entry(
            key,
            strong,
            [weakref.ref(g) for g in buffers[1]],
            tuple(bases),
            chunks,
            offset_table,
            len(rows),
            16 // size if aligned else 1,
        )
        self._entry = entry
        return entry


def _hashable(value: Any) -> Any:
    return float(value.item()) if isinstance(value, Tensor) else value


def _scalar(value: Any) -> float:
    return float(value.item()) if isinstance(value, Tensor) else float(value)


_KERNELS: dict[str, TritonKernel] = {}


def kernel(family: str) -> TritonKernel:
    """The process-wide :class:`TritonKernel` of ``family`` (raises :class:`TritonUnavailable`
    without Triton)."""
    if family not in _KERNELS:
        _KERNELS[family] = TritonKernel(family)
    return _KERNELS[family]


__all__ = ["TritonKernel", "TritonLaunchError", "TritonUnavailable", "interpreting", "kernel", "module"]
