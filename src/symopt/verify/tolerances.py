"""The tolerance policy, in ULPs of the compared dtype, keyed by (dtype, implementation, reference,
steps). Each bound says why it is what it is.
"""

from __future__ import annotations

import torch


#: implementation -> the torch.optim code path whose operations it issues in the same order.
SAME_OPERATIONS = {
    "torch": "torch.optim(foreach=False)",
    "optim": "torch.optim(foreach=False)",
    "torch-foreach": "torch.optim(foreach=True)",
    "optim-foreach": "torch.optim(foreach=True)",
    "fused": "torch.optim(fused=True)",
}


def tolerance(dtype: torch.dtype, impl: str, reference: str, steps: int) -> float:
    """Max ULP (norm-wise, :func:`~symopt.verify.ulp.normwise_ulp`) allowed between ``impl`` and
    ``reference`` after ``steps`` steps."""
    low_precision = dtype in (torch.bfloat16, torch.float16)
    if impl in ("torch-foreach", "optim-foreach") and reference == SAME_OPERATIONS[impl] and low_precision:
        # The multi-tensor kernels issue torch's foreach operations, except where torch scales an
        # operand by a per-tensor scalar list: torch's Adam passes the list to _foreach_addcdiv_
        # (the product stays in float32 opmath), torch's Adagrad multiplies in place when it owns
        # the gradient list (on CPU, in-place _foreach_mul_ rounds bfloat16 differently from the
        # out-of-place _foreach_mul the kernel uses — measured). One rounding of that product to
        # the storage dtype per step: ≤ 1 ULP per step, linear growth as below. Bitwise in
        # float32/float64, where opmath is the storage dtype.
        return 1.0 * steps
    if SAME_OPERATIONS.get(impl) == reference:
        # The generated kernel issues the reference's own operations in the reference's order on
        # the same device and dtype (for fused: the same fma and a correctly rounded sqrt, as
        # ATen's fused CPU AdaGrad): the results must be the same bits.
        return 0.0
    if impl in ("interpreter", "numpy"):
        # float64 (interpreter) or NumPy ufuncs: each operation rounded once where torch fuses a
        # multiply-add (addcmul/addcdiv) or orders a product differently: ≤ 8 roundings of ≤ 0.5
        # ULP each per step. The difference propagates without amplification (the update is a
        # contraction in w for these rules), so it grows at most linearly: 8 ULP per step.
        return 8.0 * steps
    if impl in SAME_OPERATIONS:
        # A bitwise implementation against another torch.optim code path: torch's paths differ
        # among themselves by a few roundings per step (foreach scales g by -clr before addcdiv,
        # the for-loop passes value=-clr; torch's eager CPU sqrt is not always correctly rounded,
        # the fused kernel's is): ≤ 2 ULP per step, growing at most linearly as above.
        return 2.0 * steps
    raise KeyError(f"no tolerance for implementation {impl!r} against {reference!r}")
