"""The tolerance policy, in ULPs of the compared dtype, keyed by (dtype, implementation, reference,
steps). Tolerances are derived, not chosen: every bound is one error model,

    bound = roundings per step × ULP per rounding × growth with steps
          = R × ULP_PER_ROUNDING × steps,

in ULPs of the compared tensor's scale (:func:`~symopt.verify.ulp.normwise_ulp`: the ULP of its
largest ``|expected|``), where

- *R* counts the operations per step that the implementation rounds differently from the
  reference (one constant per branch below, each saying which operations they are);
- :data:`ULP_PER_ROUNDING` is what one such operation can contribute: two results that are each
  rounded to the nearest of the same exact value (≤ 0.5 ULP from it) differ by at most 2 × 0.5 = 1 ULP;
- the growth with steps is linear (:func:`linear_growth`): each step adds its rounding
  differences and the update carries old differences forward without amplifying them. Where
  that does not hold (weight decay feeding w back into g, results far smaller than the values
  they were computed from), :func:`conditioned` replaces the assumed growth with the measured one.

An implementation that issues the reference's operations in its order has R = 0: bitwise.
"""

from __future__ import annotations

import math

import torch


#: implementations that issue the operations of a torch.optim code path in its order
BITWISE_IMPLEMENTATIONS = ("torch", "optim", "torch-foreach", "optim-foreach", "fused")

#: ULP of difference one differently rounded operation contributes: two round-to-nearest results
#: of the same exact value are each within 0.5 ULP of it, so within 2 × 0.5 ULP of each other
ULP_PER_ROUNDING = 2 * 0.5

#: float64 interpreter / NumPy ufuncs against torch: NumPy rounds each operation where torch
#: fuses a multiply-add (addcmul/addcdiv/lerp/add with alpha round once in torch, two or three
#: times unfused) or orders a product differently (η·m/c₁ before or after the division). The
#: budget is one such rounding per tensor operation of a step, 8: Adam with weight decay issues 8
#: (add, lerp, mul, addcmul, sqrt, div, add, addcdiv), centered RMSprop with momentum 10, not all
#: of which round differently. (Measured at 100 steps on the quick cases: the worst row uses
#: 10 % of it in float32, 1.4 % in float64.)
NUMPY_ROUNDINGS_PER_STEP = 8

#: the low-precision multi-tensor kernels against torch's foreach path: the one operation they do
#: not issue as torch does — torch's Adagrad multiplies the gradients by −clr in place when it
#: owns the gradient list, and on CPU in-place ``_foreach_mul_`` rounds bfloat16 differently from
#: the out-of-place ``_foreach_mul`` the kernel uses (measured): one rounding per step. (In
#: float32/float64 opmath is the storage dtype and the two agree: bitwise, R = 0. Measured at 100
#: steps on the quick cases: at most 1 ULP, 1 % of the bound — the difference does not
#: accumulate there, but nothing in the error model says it cannot.)
LOW_PRECISION_FOREACH_ROUNDINGS_PER_STEP = 1

#: torch.optim's code paths among themselves (a bitwise implementation measured against a torch
#: path other than the one whose operations it issues): foreach scales g by −clr before addcdiv
#: where the for-loop passes value=−clr (one rounding), and torch's eager CPU sqrt is not always
#: correctly rounded where the fused kernel's is (one rounding): 2 per step. (Measured at 100
#: steps on the quick cases: up to 97 % of it in float16, 66 % in bfloat16, 4.5 % in float32.)
TORCH_PATHS_ROUNDINGS_PER_STEP = 2


def linear_growth(steps: int) -> int:
    """How many steps' rounding differences add up after ``steps`` steps when none is amplified."""
    return steps


def budget(roundings_per_step: int, steps: int) -> float:
    """``roundings_per_step × ULP_PER_ROUNDING × linear_growth(steps)``: the error model."""
    return roundings_per_step * ULP_PER_ROUNDING * linear_growth(steps)


def tolerance(dtype: torch.dtype, impl: str, reference: str, steps: int, *, same_operations: bool) -> float:
    """Max ULP (norm-wise, :func:`~symopt.verify.ulp.normwise_ulp`) allowed between ``impl`` and
    ``reference`` after ``steps`` steps; ``same_operations`` says whether ``impl`` issues the
    reference's operations in its order on this case (see ``Implementation.operations_for``).

    ===========================================  ===============================================
    impl against reference                       bound (ULP)
    ===========================================  ===============================================
    interpreter, numpy (any torch path)          NUMPY_ROUNDINGS_PER_STEP (8) × 1 × steps
    bitwise impl, same operations                0
    foreach impl, same operations, bf16/f16      LOW_PRECISION_FOREACH_ROUNDINGS_PER_STEP (1) × 1 × steps
    bitwise impl, another torch path             TORCH_PATHS_ROUNDINGS_PER_STEP (2) × 1 × steps
    foreach impl, another torch path, bf16/f16   (2 + 1) × 1 × steps
    ===========================================  ===============================================
    """
    low_precision = dtype in (torch.bfloat16, torch.float16)
    foreach = impl in ("torch-foreach", "optim-foreach")
    if impl in ("interpreter", "numpy"):
        return budget(NUMPY_ROUNDINGS_PER_STEP, steps)
    if impl not in BITWISE_IMPLEMENTATIONS:
        raise KeyError(f"no tolerance for implementation {impl!r} against {reference!r}")
    own = LOW_PRECISION_FOREACH_ROUNDINGS_PER_STEP if foreach and low_precision else 0
    if same_operations:
        # The generated kernel issues the reference's own operations in the reference's order on
        # the same device and dtype (Adam's per-tensor step size goes to _foreach_addcdiv_ as a
        # scalar list, as torch passes it: the rule's foreach_scale="op"; for fused: the same fma
        # and a correctly rounded sqrt, as ATen's fused CPU AdaGrad): the same bits, except for
        # the low-precision foreach kernels' own rounding.
        return budget(own, steps)
    return budget(TORCH_PATHS_ROUNDINGS_PER_STEP + own, steps)


#: a tolerance wider than this relative error cannot tell a right kernel from a slightly wrong one
ILL_CONDITIONED_RELATIVE = 1e-2


def conditioned(base: float, steps: int, dtype: torch.dtype, sensitivity: float) -> tuple[float, bool]:
    """(tolerance, uninformative) for a case whose measured ``sensitivity`` is the ULP distance
    by which torch.optim's own result moves when every param and state element is nudged by 1 ULP
    after every step (:func:`symopt.verify.runner.sensitivity`).

    The error model of :func:`tolerance` with the growth measured instead of assumed: ``base``
    is ``R × ULP_PER_ROUNDING × steps``, i.e. ``base / steps`` ULP of rounding difference per
    step; ``sensitivity`` is what 1 ULP per step (on every stored element) grows into over the
    case's steps. So

        tolerance = max(base, base / steps × sensitivity),

    the linear bound where the measurement says the case amplifies less than linearly (on the
    cases where it was measured, NumPy and float64 kernels land at 0.3–1.0 × the sensitivity
    itself). A bitwise tolerance (0) stays 0. The scaled tolerance is *uninformative* — a row
    within it shows nothing — when the sensitivity is not finite, or when the scaling widened
    the tolerance beyond :data:`ILL_CONDITIONED_RELATIVE` of the tensor's scale,
    ``tolerance × eps(dtype) > ILL_CONDITIONED_RELATIVE`` (a row beyond even that tolerance still
    fails)."""
    if base == 0:
        return 0.0, False
    if not math.isfinite(sensitivity):
        return base, True
    scaled = max(base, base / steps * sensitivity)
    return scaled, scaled > base and scaled * torch.finfo(dtype).eps > ILL_CONDITIONED_RELATIVE
