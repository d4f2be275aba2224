"""The tolerance policy, in ULPs of the compared dtype, keyed by (dtype, implementation, reference,
steps). Each bound says why it is what it is.
"""

from __future__ import annotations

import math

import torch


#: implementations that issue the operations of a torch.optim code path in its order
BITWISE_IMPLEMENTATIONS = ("torch", "optim", "torch-foreach", "optim-foreach", "fused")


def tolerance(dtype: torch.dtype, impl: str, reference: str, steps: int, *, same_operations: bool) -> float:
    """Max ULP (norm-wise, :func:`~symopt.verify.ulp.normwise_ulp`) allowed between ``impl`` and
    ``reference`` after ``steps`` steps; ``same_operations`` says whether ``impl`` issues the
    reference's operations in its order on this case (see ``Implementation.operations_for``)."""
    low_precision = dtype in (torch.bfloat16, torch.float16)
    foreach = impl in ("torch-foreach", "optim-foreach")
    if impl in ("interpreter", "numpy"):
        # float64 (interpreter) or NumPy ufuncs: each operation rounded once where torch fuses a
        # multiply-add (addcmul/addcdiv) or orders a product differently: ≤ 8 roundings of ≤ 0.5
        # ULP each per step. Where the difference propagates without amplification it grows at
        # most linearly: 8 ULP per step. (Weight decay feeds w back into g, and a result much
        # smaller than the values it was computed from measures large in its own ULPs: such
        # cases are scaled to their measured conditioning by :func:`conditioned`.)
        return 8.0 * steps
    if impl not in BITWISE_IMPLEMENTATIONS:
        raise KeyError(f"no tolerance for implementation {impl!r} against {reference!r}")
    if same_operations and foreach and low_precision:
        # The multi-tensor kernels issue torch's foreach operations (Adam's per-tensor step size
        # goes to _foreach_addcdiv_ as a scalar list, as torch passes it: the rule's
        # foreach_scale="op"), except one: torch's Adagrad multiplies the gradients by −clr in
        # place when it owns the gradient list, and on CPU in-place _foreach_mul_ rounds bfloat16
        # differently from the out-of-place _foreach_mul the kernel uses (measured). One rounding
        # of that product per step: ≤ 1 ULP per step, linear growth as below. Bitwise in
        # float32/float64, where opmath is the storage dtype.
        return 1.0 * steps
    if same_operations:
        # The generated kernel issues the reference's own operations in the reference's order on
        # the same device and dtype (for fused: the same fma and a correctly rounded sqrt, as
        # ATen's fused CPU AdaGrad): the results must be the same bits.
        return 0.0
    # A bitwise implementation against another torch.optim code path: torch's paths differ among
    # themselves by a few roundings per step (foreach scales g by -clr before addcdiv, the
    # for-loop passes value=-clr; torch's eager CPU sqrt is not always correctly rounded, the
    # fused kernel's is): ≤ 2 ULP per step, growing at most linearly as above; 1 more per step for
    # the low-precision foreach kernels (their own rounding, above).
    return (3.0 if foreach and low_precision else 2.0) * steps


#: a tolerance wider than this relative error cannot tell a right kernel from a slightly wrong one
ILL_CONDITIONED_RELATIVE = 1e-2


def conditioned(base: float, steps: int, dtype: torch.dtype, sensitivity: float) -> tuple[float, bool]:
    """(tolerance, uninformative) for a case whose measured ``sensitivity`` is the ULP distance
    by which torch.optim's own result moves when every param and state element is nudged by 1 ULP
    after every step (:func:`symopt.verify.runner.sensitivity`).

    ``base`` budgets ``base / steps`` ULP of rounding difference per step, on the assumption that
    differences grow at most linearly. The measurement replaces that assumption: the same budget
    per step, times the measured effect of 1 ULP per step, when that is larger than ``base``
    (on the cases where it was measured, NumPy and float64 kernels land at 0.3–1.0 × the
    sensitivity itself). A bitwise tolerance (0) stays 0. The scaled tolerance is
    *uninformative* — a row within it shows nothing — when the sensitivity is not finite, or when
    the scaling widened the tolerance beyond :data:`ILL_CONDITIONED_RELATIVE` of the tensor's
    scale (a row beyond even that tolerance still fails)."""
    if base == 0:
        return 0.0, False
    if not math.isfinite(sensitivity):
        return base, True
    scaled = max(base, base / steps * sensitivity)
    return scaled, scaled > base and scaled * torch.finfo(dtype).eps > ILL_CONDITIONED_RELATIVE
