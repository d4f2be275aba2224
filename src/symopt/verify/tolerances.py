"""The tolerance policy, in ULPs of the compared dtype, keyed by (dtype, implementation, reference,
steps). Each bound says why it is what it is.
"""

from __future__ import annotations

import torch


def tolerance(dtype: torch.dtype, impl: str, reference: str, steps: int) -> float:
    """Max ULP distance allowed between ``impl`` and ``reference`` after ``steps`` steps."""
    if impl in ("torch", "optim") and reference.startswith("torch.optim(foreach=False)"):
        # The generated Torch kernels issue torch.optim's own in-place ops in torch's order on the
        # same device and dtype: the results must be the same bits.
        return 0.0
    if impl == "interpreter":
        # float64 elementwise evaluation of the same expressions. Each step rounds a handful of
        # operations (≤ 8 roundings of ≤ 0.5 ULP each) differently from torch's fused ops; the
        # difference propagates through the parameter without amplification (the update is a
        # contraction in w for these rules), so it grows at most linearly: 8 ULP per step.
        return 8.0 * steps
    if impl == "numpy":
        # NumPy ufuncs round each operation once; torch's addcmul/addcdiv round a fused
        # multiply-add once where NumPy rounds twice. Same linear growth argument: 8 ULP per step.
        return 8.0 * steps
    if impl == "fused":
        if reference.startswith("torch.optim(fused=True)"):
            # The generated C loop rounds as ATen's fused CPU AdaGrad kernel does (the same fma,
            # a correctly rounded sqrt): the same bits.
            return 0.0
        # torch.optim's for-loop/foreach: the same operations and fma as torch's CPU kernels, but
        # torch's eager CPU sqrt (MKL/VML) is not always correctly rounded: σ may differ by 1 ULP
        # (measured: ≤ 1), which moves g/σ and the update by ≤ 1 ULP of their magnitude, ≤ the
        # param's scale. That difference enters the state once per step and the step map is a
        # contraction in w, so it grows at most linearly: 2 ULP per step (update and momentum).
        return 2.0 * steps
    raise KeyError(f"no tolerance for implementation {impl!r} against {reference!r}")
