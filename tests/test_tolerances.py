"""The tolerance policy is derived, not chosen: each bound of ``symopt.verify.tolerances`` equals the
error model written here (roundings per step × ULP per rounding × growth with steps), and a real
verify comparison perturbed just above the bound FAILS while one just below passes.

The perturbation: a real implementation's result on a real case, with one element of param 0 (the
one at the largest |expected|, which sets the norm-wise ULP of :func:`symopt.verify.ulp.normwise_ulp`)
put exactly k ULP off torch.optim's value, toward zero (exact in every dtype: a multiple of that ULP
below the largest value). The row then reads max ULP = k, provided the implementation's own error
elsewhere is below k — asserted, not assumed.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from symopt.verify import runner
from symopt.verify.cases import Case, make_grads, make_params, optim_db_inputs, sweep
from symopt.verify.tolerances import conditioned, tolerance

FOR_LOOP, FOREACH, FUSED = "torch.optim(foreach=False)", "torch.optim(foreach=True)", "torch.optim(fused=True)"
F64, F32, BF16, F16 = torch.float64, torch.float32, torch.bfloat16, torch.float16

# -- the error model, written here ---------------------------------------------------------------
#: two round-to-nearest results of one exact value lie within 0.5 ULP of it each: ≤ 1 ULP apart
ULP_PER_ROUNDING = 0.5 + 0.5
#: operations per step that an implementation rounds differently from the reference:
ROUNDINGS_PER_STEP = {
    # NumPy ufuncs / the float64 interpreter round each operation where torch fuses multiply-adds
    # (addcmul, addcdiv, lerp, add with alpha) or orders a product differently: one per tensor
    # operation of a step, 8 (Adam with weight decay: add, lerp, mul, addcmul, sqrt, div, add, addcdiv)
    "numpy": 8,
    # the reference's own operations in its order: the same bits
    "bitwise": 0,
    # bf16/f16 foreach kernels: out-of-place _foreach_mul where torch's Adagrad multiplies in place
    "low-precision foreach": 1,
    # torch's paths among themselves: −clr applied before addcdiv or as its value (1); eager sqrt
    # not always correctly rounded (1)
    "another torch path": 2,
    "low-precision foreach, another torch path": 2 + 1,
}


def growth(steps: int) -> int:
    """Rounding differences that are carried forward, not amplified, add up: linear in the steps."""
    return steps


def derived_bound(branch: str, steps: int) -> float:
    return ROUNDINGS_PER_STEP[branch] * ULP_PER_ROUNDING * growth(steps)


#: (branch, implementation, dtype, reference, same_operations): every branch of tolerance()
BRANCHES = (
    [
        ("numpy", impl, dtype, ref, same)
        for impl, dtype in (("interpreter", F64), ("numpy", F64), ("numpy", F32))
        for ref in (FOR_LOOP, FOREACH, FUSED)
        for same in (True, False)
    ]
    + [
        ("bitwise", impl, dtype, ref, True)
        for impl in ("torch", "optim", "torch-foreach", "optim-foreach", "fused")
        for dtype in (F64, F32)
        for ref in (FOR_LOOP, FOREACH)
    ]
    + [("bitwise", impl, dtype, FOR_LOOP, True) for impl in ("torch", "optim") for dtype in (BF16, F16)]
    + [
        ("low-precision foreach", impl, dtype, FOREACH, True)
        for impl in ("torch-foreach", "optim-foreach")
        for dtype in (BF16, F16)
    ]
    + [
        ("another torch path", impl, dtype, ref, False)
        for impl in ("torch", "optim", "torch-foreach", "optim-foreach", "fused")
        for dtype in (F64, F32)
        for ref in (FOR_LOOP, FOREACH, FUSED)
    ]
    + [
        ("another torch path", impl, dtype, ref, False)
        for impl in ("torch", "optim")
        for dtype in (BF16, F16)
        for ref in (FOREACH, FUSED)
    ]
    + [
        ("low-precision foreach, another torch path", impl, dtype, ref, False)
        for impl in ("torch-foreach", "optim-foreach")
        for dtype in (BF16, F16)
        for ref in (FOR_LOOP, FUSED)
    ]
)


@pytest.mark.parametrize("steps", [1, 7, 100])
@pytest.mark.parametrize(
    "branch,impl,dtype,reference,same",
    BRANCHES,
    ids=[f"{b}-{i}-{str(d)[6:]}-{r[12:-1]}-{'same' if s else 'other'}" for b, i, d, r, s in BRANCHES],
)
def test_tolerance_is_its_error_model(branch, impl, dtype, reference, same, steps):
    assert tolerance(dtype, impl, reference, steps, same_operations=same) == derived_bound(branch, steps)


def test_an_implementation_without_an_error_model_has_no_tolerance():
    with pytest.raises(KeyError, match="no tolerance for implementation 'triton'"):
        tolerance(F32, "triton", FOR_LOOP, 10, same_operations=True)


# -- a perturbation just above a bound fails, just below passes ------------------------------------
STEPS = 20
#: the perturbations: bound × (1 ± MARGIN), rounded outward/inward to whole ULPs
MARGIN = 0.05


def ulp_of_largest(expected: torch.Tensor) -> float:
    """The ULP, in ``expected``'s dtype, of its largest |element| (normwise_ulp's unit)."""
    scale = expected.abs().max()
    return float(torch.nextafter(scale, torch.tensor(math.inf, dtype=expected.dtype)).double() - scale.double())


def k_ulp_off(actual: torch.Tensor, expected: torch.Tensor, k: int) -> torch.Tensor:
    """``actual`` with its element at the largest |expected| set exactly ``k`` ULPs (of that
    largest value) off ``expected``'s, toward zero."""
    out = actual.clone()
    if k == 0:
        return out
    flat = int(expected.abs().argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), expected.shape))
    e = float(expected[index])
    moved = e - math.copysign(k * ulp_of_largest(expected), e)
    out[index] = moved
    assert abs(float(out[index]) - e) == k * ulp_of_largest(expected)  # exact: no rounding of the perturbation
    return out


def perturbed(impl: runner.Implementation, reference: str, k: int) -> runner.Implementation:
    """``impl`` (its name, so its tolerance branch; its mirror, so its operations) with param 0 of
    its real result put ``k`` ULP off torch.optim's ``reference`` result."""

    def run(case, params0, grads):
        params, states = impl.run(case, params0, grads)
        expected = runner.run_torch_optim(case, params0, grads, reference)[0][0]
        return [k_ulp_off(params[0], expected, k), *params[1:]], states

    return dataclasses.replace(impl, run=run, doc=f"{impl.doc}, param 0 {k} ULP off torch.optim")


def optim_db_case(rule: str, name: str) -> Case:
    return next(c for c in optim_db_inputs(rule) if c.name == name)


def linear_growth_holds(case: Case, dtype: torch.dtype, reference: str, steps: int) -> float:
    """The case's measured conditioning on ``reference``: the linear bound stands where it is ≤ steps."""
    params0 = make_params(case, dtype)
    grads = make_grads(case, params0, steps)
    expected = runner.run_torch_optim(case, params0, grads, reference)
    return runner.sensitivity(case, params0, grads, reference, expected)


#: (branch, implementation, rule, optim_db case, dtype, reference): a real comparison per branch
PROBES = [
    ("numpy", "numpy", "adagrad", "default", F64, FOR_LOOP),
    ("numpy", "numpy", "adam", "default", F32, FOR_LOOP),
    ("numpy", "interpreter", "rmsprop", "default", F64, FOR_LOOP),
    ("bitwise", "torch", "adagrad", "default", F32, FOR_LOOP),
    ("bitwise", "torch-foreach", "adam", "default", F64, FOREACH),
    ("bitwise", "fused", "adagrad", "default", F64, FUSED),
    ("bitwise", "torch", "rmsprop", "default", BF16, FOR_LOOP),
    ("low-precision foreach", "torch-foreach", "adagrad", "default", BF16, FOREACH),
    ("low-precision foreach", "torch-foreach", "rmsprop", "default", F16, FOREACH),
    ("another torch path", "torch", "rmsprop", "default", F32, FOREACH),
    ("another torch path", "torch-foreach", "adagrad", "default", F64, FOR_LOOP),
    ("another torch path", "torch", "adagrad", "default", BF16, FOREACH),
    ("low-precision foreach, another torch path", "torch-foreach", "adagrad", "default", BF16, FOR_LOOP),
    ("low-precision foreach, another torch path", "torch-foreach", "adam", "default", F16, FOR_LOOP),
]


@pytest.mark.parametrize(
    "branch,impl_name,rule,case_name,dtype,reference",
    PROBES,
    ids=[f"{b}-{i}-{r}-{str(d)[6:]}-{ref[12:-1]}" for b, i, r, _, d, ref in PROBES],
)
def test_a_perturbation_just_above_the_bound_fails_and_just_below_passes(
    branch, impl_name, rule, case_name, dtype, reference
):
    case = optim_db_case(rule, case_name)
    impl = runner.IMPLEMENTATIONS[impl_name]
    bound = derived_bound(branch, STEPS)
    assert linear_growth_holds(case, dtype, reference, STEPS) <= STEPS  # so the linear bound is the one that decides
    above = math.ceil(bound * (1 + MARGIN)) if bound else 1  # bitwise: 1 ULP off must fail
    below = math.floor(bound * (1 - MARGIN))
    (real,) = runner.verify_many(case, [impl], dtype, [reference], steps=STEPS)
    assert real.status == "pass" and (real.max_ulp < below or real.max_ulp == 0), real  # its own error is below
    for k, status in ((above, "FAIL"), (below, "pass")):
        (row,) = runner.verify_many(case, [perturbed(impl, reference, k)], dtype, [reference], steps=STEPS)
        assert row.max_ulp == k, row
        assert row.status == status and row.tol_ulp == bound, (k, row)


# -- conditioned(): the measured growth replaces the linear one ------------------------------------
#: stored fraction bits of each dtype (IEEE 754 binary64/32/16; bfloat16 keeps float32's exponent)
MANTISSA_BITS = {F64: 52, F32: 23, F16: 10, BF16: 7}


def derived_conditioned(base: float, steps: int, dtype: torch.dtype, sensitivity: float) -> tuple[float, bool]:
    """The error model with the growth measured: per-step budget base/steps × what 1 ULP per step
    grows into (the sensitivity), never below the linear bound; uninformative when the
    measurement is not finite or the widened tolerance exceeds 1 % of the tensor's scale."""
    if base == 0:
        return 0.0, False
    if not math.isfinite(sensitivity):
        return base, True
    per_step = base / steps
    scaled = max(base, per_step * sensitivity)
    ulp_relative = 2.0 ** -MANTISSA_BITS[dtype]  # one ULP at 1.0: an ULP relative to the scale
    return scaled, scaled > base and scaled * ulp_relative > 0.01


@pytest.mark.parametrize(
    "base,steps,dtype,sensitivity",
    [
        (800.0, 100, F64, 40.0),
        (800.0, 100, F64, 3670.0),
        (0.0, 100, F64, 3670.0),
        (800.0, 100, F32, 20000.0),
        (800.0, 100, F32, 10000.0),
        (800.0, 100, F64, math.inf),
        (100.0, 100, F16, 19.0),
        (100.0, 100, BF16, 101.0),
        (160.0, 20, F64, 20.0),
        # a bitwise budget stays bitwise even where the sensitivity is not finite; a budget of 1 ULP is
        # not a bitwise one (a test of `base == 0` written against another constant fails here)
        (0.0, 100, F64, math.inf),
        (1.0, 20, F64, 20.0),
        (1.0, 20, F64, 400.0),
    ],
)
def test_conditioned_is_its_error_model(base, steps, dtype, sensitivity):
    assert conditioned(base, steps, dtype, sensitivity) == derived_conditioned(base, steps, dtype, sensitivity)


def test_on_an_amplifying_case_a_perturbation_just_above_the_measured_bound_fails_and_just_below_passes():
    # sweep-141 of the full matrix (RMSprop, weight decay 10, centered, momentum): its measured
    # conditioning is far beyond linear growth, so the scaled tolerance is the one that decides
    case = sweep("rmsprop", 200)[141]
    steps, impl = 100, runner.IMPLEMENTATIONS["numpy"]
    base = derived_bound("numpy", steps)
    measured = linear_growth_holds(case, F64, FOR_LOOP, steps)
    assert measured > steps
    bound, uninformative = derived_conditioned(base, steps, F64, measured)
    assert (bound, uninformative) == conditioned(base, steps, F64, measured) and bound > base and not uninformative
    (real,) = runner.verify_many(case, [impl], F64, [FOR_LOOP], steps=steps)
    assert real.max_ulp > base and real.status == "pass" and real.tol_ulp == bound, real  # the scaling is needed
    above, below = math.ceil(bound * (1 + MARGIN)), math.floor(bound * (1 - MARGIN))
    for k, status in ((above, "FAIL"), (below, "pass")):
        (row,) = runner.verify_many(case, [perturbed(impl, FOR_LOOP, k)], F64, [FOR_LOOP], steps=steps)
        assert row.max_ulp == k and row.status == status and row.tol_ulp == bound, (k, row)
