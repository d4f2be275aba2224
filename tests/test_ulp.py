"""symopt.verify.ulp: ULP distances for every floating dtype, counted against independent facts
(the number of floats between two powers of two, the bit patterns of IEEE formats), NaN and
infinity semantics, complex tensors, the norm-wise measure and its errors."""

from __future__ import annotations

import math

import pytest
import torch

from symopt.verify.ulp import max_abs_difference, normwise_ulp, ordered_bits, ulp_distance

FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
#: mantissa bits: there are 2**m floats in [1, 2) (IEEE 754 binary64/32/16; bfloat16 has 7)
MANTISSA = {torch.float64: 52, torch.float32: 23, torch.float16: 10, torch.bfloat16: 7}
#: the bit pattern of 1.0 (exponent bias << mantissa bits)
ONE_BITS = {torch.float64: 1023 << 52, torch.float32: 127 << 23, torch.float16: 15 << 10, torch.bfloat16: 127 << 7}


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_ulp_distance_counts_representable_steps(dtype):
    x = torch.tensor([1.0, -1.0, 3.5, -0.0, 1e-3], dtype=dtype)
    up = torch.nextafter(x, torch.tensor(math.inf, dtype=dtype))
    twice = torch.nextafter(up, torch.tensor(math.inf, dtype=dtype))
    assert ulp_distance(x, x) == 0
    assert ulp_distance(up, x) == 1
    assert ulp_distance(x, twice) == 2
    tiny = torch.tensor([torch.finfo(dtype).tiny], dtype=dtype)
    smallest_sub = torch.nextafter(torch.zeros(1, dtype=dtype), torch.ones(1, dtype=dtype))
    assert ulp_distance(smallest_sub, -smallest_sub) == 2  # across zero
    assert ulp_distance(tiny, tiny) == 0


def test_ulp_distance_nan_and_inf():
    nan, inf = float("nan"), float("inf")
    assert ulp_distance(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0])) == 0
    assert ulp_distance(torch.tensor([nan]), torch.tensor([1.0])) == math.inf
    assert ulp_distance(torch.tensor([inf]), torch.tensor([-inf])) == math.inf
    assert ulp_distance(torch.tensor([inf]), torch.tensor([inf])) == 0
    assert ulp_distance(torch.empty(0), torch.empty(0)) == 0


def test_normwise_ulp_measures_against_the_tensors_scale():
    e = torch.tensor([1.0, 2.0**-30], dtype=torch.float32)
    a = e.clone()
    a[1] += 2.0**-23  # one float32 ULP at the tensor's scale max|e| = 1, on the tiny element
    assert normwise_ulp(a, e) == 1.0
    assert ulp_distance(a, e) > 1000  # elementwise, the same error is huge
    assert normwise_ulp(e, e) == 0.0
    assert normwise_ulp(torch.tensor([float("nan")]), torch.tensor([1.0])) == math.inf


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_distances_between_powers_of_two_and_across_zero(dtype):
    one, two, four = (torch.tensor([x], dtype=dtype) for x in (1.0, 2.0, 4.0))
    m = MANTISSA[dtype]
    assert ulp_distance(one, two) == 2**m and ulp_distance(two, four) == 2**m
    assert ulp_distance(-one, -two) == 2**m  # negative numbers are ordered too
    assert ulp_distance(-one, one) == 2 * ONE_BITS[dtype]  # every float between -1 and 1
    big = torch.tensor([torch.finfo(dtype).max], dtype=dtype)
    assert ulp_distance(big, torch.tensor([math.inf], dtype=dtype)) == math.inf  # an infinity against a number
    # ordered_bits is the signed integer order of the floats: the top magnitude bit counts
    assert int(ordered_bits(big)) > int(ordered_bits(two)) > int(ordered_bits(one)) > 0 > int(ordered_bits(-one))
    assert (
        int(ordered_bits(torch.tensor([-0.0], dtype=dtype))) == 0 == int(ordered_bits(torch.tensor([0.0], dtype=dtype)))
    )
    assert ordered_bits(one).dtype == torch.int64  # as documented, whatever the float's width


def test_complex_tensors_are_compared_through_their_real_view():
    a = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64)
    b = a.clone()
    b[1] = complex(3, float(torch.nextafter(torch.tensor(-1.0), torch.tensor(0.0))))  # the imaginary part, 1 ULP
    assert ulp_distance(a, b) == 1 and ulp_distance(a, a) == 0
    assert normwise_ulp(a, a) == 0.0 and 0 < normwise_ulp(b, a) <= 1
    assert max_abs_difference(a, b) == pytest.approx(2.0**-24, rel=1e-6)


def test_mismatched_inputs_are_named_errors():
    with pytest.raises(ValueError, match=r"shapes differ: \(2,\) vs \(3,\)"):
        ulp_distance(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="dtypes differ: torch.float32 vs torch.float64"):
        ulp_distance(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs a floating dtype"):
        ordered_bits(torch.zeros(2, dtype=torch.int32))
    with pytest.raises(ValueError, match="need equal shape and dtype"):
        normwise_ulp(torch.zeros(2), torch.zeros(3))


def test_normwise_ulp_non_finite_and_empty():
    nan, inf = float("nan"), float("inf")
    assert normwise_ulp(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.0])) == 0.0  # NaN for NaN
    assert normwise_ulp(torch.tensor([inf, 1.0]), torch.tensor([inf, 1.0])) == 0.0
    assert normwise_ulp(torch.tensor([inf]), torch.tensor([-inf])) == math.inf
    assert normwise_ulp(torch.tensor([1.0]), torch.tensor([nan])) == math.inf
    assert normwise_ulp(torch.empty(0), torch.empty(0)) == 0.0
    assert normwise_ulp(torch.tensor([nan, 2.0]), torch.tensor([nan, 1.0])) == 2.0**23  # the finite part is compared
    # the scale is the largest |expected|: 1 ULP of 4 is 2**-21 in float32
    e = torch.tensor([4.0, -1.0])
    assert normwise_ulp(e + torch.tensor([0.0, 2.0**-21]), e) == 1.0


def test_max_abs_difference_ignores_equal_non_finite_values():
    nan, inf = float("nan"), float("inf")
    assert max_abs_difference(torch.tensor([nan, 1.0]), torch.tensor([nan, 1.5])) == 0.5
    assert max_abs_difference(torch.tensor([inf, 1.0]), torch.tensor([inf, 1.0])) == 0.0
    assert max_abs_difference(torch.empty(0), torch.empty(0)) == 0.0
    assert max_abs_difference(torch.tensor([1.0, 2.0]), torch.tensor([1.25, -2.0])) == 4.0


def test_nan_payloads_and_all_nan_tensors_count_as_equal():
    nan = float("nan")
    neg_nan = -torch.tensor([nan])  # another bit pattern of NaN
    assert (
        ulp_distance(torch.tensor([nan]), neg_nan) == 0 and ulp_distance(torch.tensor([nan]), torch.tensor([nan])) == 0
    )
    assert normwise_ulp(torch.tensor([nan]), torch.tensor([nan])) == 0.0
    assert normwise_ulp(torch.tensor([math.inf]), torch.tensor([nan])) == math.inf  # inf is not NaN
    assert math.isnan(max_abs_difference(torch.tensor([nan]), torch.tensor([1.0])))  # NaN against a number is not 0


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_normwise_ulp_counts_in_the_compared_dtype(dtype):
    e = torch.tensor([1.0, 0.5], dtype=dtype)
    a = e.clone()
    a[1] = a[1] + torch.tensor(2.0 ** -MANTISSA[dtype], dtype=dtype)  # 1 ULP of the scale 1.0, on the smaller element
    assert normwise_ulp(a, e) == 1.0


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_the_widest_distance_does_not_overflow(dtype):
    big = torch.tensor([torch.finfo(dtype).max], dtype=dtype)
    nbits = torch.finfo(dtype).bits
    # the largest finite float is the largest magnitude pattern below the infinities: (2**(n-1) - 1) - 2**m
    largest = (1 << (nbits - 1)) - 1 - (1 << MANTISSA[dtype])
    assert ulp_distance(-big, big) == float(2 * largest)  # exact where it is below 2**53 (all but float64)
