"""Distances in units in the last place (ULP), for every floating dtype torch has.

The ULP distance between two floats of one dtype is the number of representable values between
them: reinterpret the bits as a signed integer, map negative floats so that the integers are
ordered like the floats, and subtract. It is exact, symmetric, and 0 only for equal bits (with
+0 and −0 at distance 1... mapped to 0 here, as they compare equal).
"""

from __future__ import annotations

import math

import torch

_INT_OF = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def ordered_bits(x: torch.Tensor) -> torch.Tensor:
    """The bits of ``x`` as int64, ordered like the float values (−0 and +0 both map to 0)."""
    if x.dtype not in _INT_OF:
        raise ValueError(f"ulp distance needs a floating dtype in {sorted(map(str, _INT_OF))}; got {x.dtype}")
    bits = x.detach().contiguous().view(_INT_OF[x.dtype]).to(torch.int64)
    nbits = torch.finfo(x.dtype).bits
    magnitude = bits & ((1 << (nbits - 1)) - 1)
    # Negative floats have the sign bit set (negative as signed integers): map them below zero,
    # in reverse order of their magnitude bits.
    return torch.where(bits < 0, -magnitude, bits)


def ulp_distance(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Max ULP distance between two tensors of one floating dtype (complex: over the real view).

    NaN in the same places counts as equal; NaN against a number, or infinities of different sign,
    is ``inf``. Empty tensors are at distance 0. Exact up to 2**53 ULP (float64 patterns far apart
    across zero are added in float64).
    """
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}")
    if actual.dtype != expected.dtype:
        raise ValueError(f"dtypes differ: {actual.dtype} vs {expected.dtype}")
    if actual.is_complex():
        actual, expected = torch.view_as_real(actual), torch.view_as_real(expected)
    if actual.numel() == 0:
        return 0.0
    a_nan, e_nan = torch.isnan(actual), torch.isnan(expected)
    if bool((a_nan != e_nan).any()):
        return math.inf
    both = ~a_nan
    a, e = actual[both], expected[both]
    a_inf, e_inf = torch.isinf(a), torch.isinf(e)
    if bool((a_inf | e_inf).any()) and not bool(torch.equal(a[a_inf | e_inf], e[a_inf | e_inf])):
        return math.inf
    if a.numel() == 0:
        return 0.0
    ao, eo = ordered_bits(a), ordered_bits(e)
    # across zero the int64 difference of two float64 patterns can overflow (−max to max is
    # ~1.8e19 > 2**63): add the magnitudes in float64 there (exact up to 2**53 ULP)
    same_side = (ao >= 0) == (eo >= 0)
    apart = torch.where(same_side, (ao - eo).abs().double(), ao.abs().double() + eo.abs().double())
    return float(apart.max().item())


def normwise_ulp(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max ``|actual − expected|`` over the tensor, in ULPs (of its dtype) of the tensor's largest
    ``|expected|``: the error as a fraction of the scale the computation works at.

    Elementwise ULP distance punishes cancellation: w − η b ≈ 0 has a tiny result whose ULP is
    tiny while the rounding errors of its operands are not. Measured against the tensor's scale the
    same computation reads as the few ULPs it is. 0 exactly when every element agrees (NaN for NaN);
    ``inf`` when NaN or an infinity sits in one result and not the other.
    """
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        raise ValueError(
            f"need equal shape and dtype: {tuple(actual.shape)} {actual.dtype} vs {tuple(expected.shape)} {expected.dtype}"
        )
    if actual.is_complex():
        actual, expected = torch.view_as_real(actual), torch.view_as_real(expected)
    if actual.numel() == 0:
        return 0.0
    a_fin, e_fin = torch.isfinite(actual), torch.isfinite(expected)
    if bool((a_fin != e_fin).any()):
        return math.inf
    odd = ~e_fin
    if bool(odd.any()):
        a_odd, e_odd = actual[odd], expected[odd]
        same = (torch.isnan(a_odd) & torch.isnan(e_odd)) | (a_odd == e_odd)
        if not bool(same.all()):
            return math.inf
    a, e = actual[e_fin].double(), expected[e_fin].double()
    if a.numel() == 0:
        return 0.0
    diff = float((a - e).abs().max())
    if diff == 0.0:
        return 0.0
    scale = torch.tensor(float(e.abs().max()), dtype=expected.dtype)
    unit = float(torch.nextafter(scale, torch.tensor(math.inf, dtype=expected.dtype)).double() - scale.double())
    return diff / unit


def max_abs_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Max ``|actual − expected|`` in float64, ignoring positions where both are NaN."""
    if actual.numel() == 0:
        return 0.0
    a = torch.view_as_real(actual) if actual.is_complex() else actual
    e = torch.view_as_real(expected) if expected.is_complex() else expected
    a, e = a.double(), e.double()
    diff = (a - e).abs()
    diff = torch.where(torch.isnan(a) & torch.isnan(e), torch.zeros_like(diff), diff)
    diff = torch.where(a == e, torch.zeros_like(diff), diff)  # equal infinities
    return float(diff.max().item())
