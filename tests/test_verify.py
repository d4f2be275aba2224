"""The verification machinery: the runner, and that a wrong kernel fails (ULP distances: test_ulp.py)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import pytest
import torch

from symopt.verify import runner
from symopt.verify.cases import Case, optim_db_inputs


def test_interpreter_rows_pass_on_torchs_cases():
    impl = runner.IMPLEMENTATIONS["interpreter"]
    for case in optim_db_inputs("rmsprop"):
        row = runner.verify_case(case, impl, torch.float64, steps=20)
        assert row.status == "pass", row


def _wrong_interpreter(case, params0, grads):
    """The interpreter with eps doubled: a plausible bug (a wrong default)."""
    kwargs = dict(case.kwargs)
    kwargs["eps"] = 2 * kwargs.get("eps", 1e-8)
    return runner.run_interpreter(replace(case, kwargs=kwargs), params0, grads)


def test_a_deliberately_wrong_implementation_fails():
    wrong = runner.Implementation("interpreter", _wrong_interpreter, (torch.float64,), ("rmsprop",), "broken")
    case = Case("rmsprop", "tiny gradients", {"eps": 1e-3})
    row = runner.verify_case(case, wrong, torch.float64, steps=10)
    assert row.status == "FAIL" and row.max_ulp > row.tol_ulp


def test_a_crashing_implementation_is_a_failed_row_with_its_reason():
    def crash(case, params0, grads):
        raise RuntimeError("kernel exploded")

    impl = runner.Implementation("interpreter", crash, (torch.float64,), ("adagrad",), "crashes")
    row = runner.verify_case(Case("adagrad", "default", {}), impl, torch.float64, steps=2)
    assert row.status == "FAIL" and "kernel exploded" in row.note
    assert "symopt verify --rule adagrad --case default" in row.reproduce


def test_cli_writes_json_and_exits_0(tmp_path, monkeypatch, capsys):
    from symopt.cli import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rows.json"
    code = main(["verify", "--impl", "interpreter", "--rule", "adagrad", "--steps", "5", "--json", str(out)])
    assert code == 0
    document = json.loads(out.read_text())
    from symopt import schemas

    assert schemas.validate(document) == "verify"
    names = {r["case"] for r in document["rows"]}
    assert {c.name for c in optim_db_inputs("adagrad")} <= names
    assert any(n.startswith("sweep-") for n in names)
    keys = {
        "rule",
        "dialect",
        "case",
        "dtype",
        "device",
        "impl",
        "reference",
        "steps",
        "max_ulp",
        "max_abs",
        "tol_ulp",
        "status",
        "note",
    }
    assert set(document["rows"][0]) == keys
    assert (tmp_path / "reports" / "verify.json").exists()
    assert "passed, 0 failed" in capsys.readouterr().out


def test_cli_failure_still_writes_its_report(tmp_path, monkeypatch, capsys):
    from symopt.cli import main

    wrong = runner.Implementation("interpreter", _wrong_interpreter, (torch.float64,), ("rmsprop",), "broken")
    monkeypatch.setitem(runner.IMPLEMENTATIONS, "interpreter", wrong)
    monkeypatch.chdir(tmp_path)
    code = main(["verify", "--impl", "interpreter", "--rule", "rmsprop", "--case", "default", "--steps", "5"])
    assert code == 1
    document = json.loads((tmp_path / "reports" / "verify.json").read_text())
    from symopt import schemas

    assert schemas.validate(document) == "verify"  # a failing run's report follows the schema too
    rows = document["rows"]
    assert rows and all(r["status"] == "FAIL" for r in rows)
    assert "reproduce: symopt verify" in capsys.readouterr().out


def test_cli_errors_are_one_line(capsys):
    from symopt.cli import main

    assert main(["verify", "--case", "no such case", "--impl", "interpreter"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no case named" in err


def test_a_deliberately_wrong_generated_kernel_fails_the_matrix(monkeypatch):
    """A one-character change in a committed Torch kernel (1 − α → 1 + α in the square average)."""
    import inspect
    import types

    import symopt.kernels.torch.rmsprop as kernel

    source = inspect.getsource(kernel).replace("value=1 - alpha", "value=1 + alpha")
    wrong = types.ModuleType(kernel.__name__)
    exec(compile(source, kernel.__file__, "exec"), wrong.__dict__)
    monkeypatch.setattr(kernel, "update", wrong.update)
    case = optim_db_inputs("rmsprop")[0]
    rows = runner.run_matrix(
        [case],
        [runner.IMPLEMENTATIONS["torch"], runner.IMPLEMENTATIONS["optim"]],
        [torch.float32],
        steps=5,
        progress=False,
    )
    assert rows and all(r.status == "FAIL" for r in rows), rows


def test_a_torch_path_that_disagrees_with_torchs_for_loop_is_a_finding_not_a_failure(monkeypatch):
    """When torch's fused path is off from torch's own for-loop (as Adagrad(fused=True) is on
    non-contiguous params in torch 2.13), rows against it say so, and the implementation is
    compared with the for-loop too — unless the implementation issues that very path's
    operations: then the difference is its own, a FAIL."""
    real = runner.run_torch_optim

    def fused_is_off(case, params0, grads, reference="torch.optim(foreach=False)"):
        params, states = real(case, params0, grads, reference)
        if "fused" in reference:
            params = [p * 1.5 for p in params]
        return params, states

    monkeypatch.setattr(runner, "run_torch_optim", fused_is_off)

    class ForLoopOperations(runner.Implementation):
        def operations_for(self, case, dtype=None):
            return runner.FOR_LOOP

    impl = ForLoopOperations(
        "torch", runner.run_torch_kernels, (torch.float32,), ("adagrad",), "kernels", mirrors="torch.optim(fused=True)"
    )
    rows = runner.verify_many(Case("adagrad", "default", {}), [impl], torch.float32, steps=5)
    by_reference = {r.reference: r for r in rows}
    assert by_reference["torch.optim(fused=True)"].status == "torch-disagrees"
    assert (
        "torch.optim(foreach=False) and torch.optim(fused=True) differ by"
        in by_reference["torch.optim(fused=True)"].note
    )
    assert by_reference["torch.optim(foreach=False)"].status == "pass"
    # an implementation that issues torch's fused operations (as it says) is never excused from them
    claims_fused = runner.Implementation(
        "torch", runner.run_torch_kernels, (torch.float32,), ("adagrad",), "kernels", mirrors="torch.optim(fused=True)"
    )
    assert claims_fused.operations_for(Case("adagrad", "default", {}), torch.float32) == "torch.optim(fused=True)"
    rows = runner.verify_many(Case("adagrad", "default", {}), [claims_fused], torch.float32, steps=5)
    assert [r.status for r in rows if r.reference == "torch.optim(fused=True)"] == ["FAIL"], rows


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop"])
def test_every_implementation_passes_its_own_rows_on_torchs_first_cases(rule):
    """The quick matrix's policy (which path, which bound) on a slice: a wrong bitwise expectation
    (as once for the fused RMSprop C loop, whose sqrt is correctly rounded) fails here."""
    impls = [i for i in runner.IMPLEMENTATIONS.values() if rule in i.rules]
    rows = runner.run_matrix(optim_db_inputs(rule)[:2], impls, [torch.float64, torch.float32], steps=20, progress=False)
    assert {r.impl for r in rows} == {i.name for i in impls}
    bad = [(r.impl, r.case, r.dtype, r.reference, r.max_ulp, r.tol_ulp) for r in rows if r.status == "FAIL"]
    assert not bad, bad


# -- cases whose differences do not grow linearly: the measured conditioning ----------------------
# sweep-141 of the full matrix: weight decay 10 feeds w back into g and the params shrink far below
# the values they were computed from; NumPy and float64 kernels differ from torch by ~1600 ULP after
# 100 steps, beyond the linear 8 ULP per step (found by `symopt verify --full --rule rmsprop`).
AMPLIFYING = Case(
    "rmsprop",
    "weight decay 10, centered",
    {"lr": 4.9e-4, "alpha": 0.5, "eps": 0.0, "weight_decay": 10.0, "momentum": 0.9, "centered": True},
    grad_scale=1e-4,
    seed=1141,
)


def test_conditioned_tolerance_by_hand():
    from symopt.verify.tolerances import conditioned

    assert conditioned(800.0, 100, torch.float64, 40.0) == (800.0, False)  # benign: the linear bound stands
    assert conditioned(800.0, 100, torch.float64, 3000.0) == (24000.0, False)  # 8 ULP/step × 3000
    assert conditioned(0.0, 100, torch.float64, 3000.0) == (0.0, False)  # bitwise stays bitwise
    assert conditioned(800.0, 100, torch.float32, 20000.0)[1]  # 160000 ULP of float32 ≈ 1.9 %: decides nothing
    assert conditioned(800.0, 100, torch.float64, math.inf) == (800.0, True)
    # a low-precision budget already above 1 % is not made uninformative by a benign case
    assert conditioned(100.0, 100, torch.float16, 19.0) == (100.0, False)


def test_sensitivity_is_small_on_a_benign_case_and_large_on_an_amplifying_one():
    def measure(case):
        params0 = runner.make_params(case, torch.float64)
        grads = runner.make_grads(case, params0, 100)
        reference = runner.run_torch_optim(case, params0, grads)
        return runner.sensitivity(case, params0, grads, runner.FOR_LOOP, reference)

    assert measure(Case("rmsprop", "defaults", {}, seed=7)) < 100  # below 8 ULP/step × 100 / 8
    assert measure(AMPLIFYING) > 100


def test_an_amplifying_case_passes_on_its_measured_conditioning_and_a_wrong_kernel_still_fails():
    impl = runner.IMPLEMENTATIONS["numpy"]
    row = runner.verify_case(AMPLIFYING, impl, torch.float64)
    assert row.status == "pass" and row.tol_ulp > 800 and "measured conditioning" in row.note, row
    assert row.max_ulp > 800  # beyond the linear bound: the scaled tolerance is what decides

    def lr_off_by_1e9(case, params0, grads):  # a relative error of 1e-9 in lr: far below the eye, far above rounding
        return runner.run_numpy_kernels(
            replace(case, kwargs=dict(case.kwargs, lr=case.kwargs["lr"] * (1 + 1e-9))), params0, grads
        )

    wrong = runner.Implementation("numpy", lr_off_by_1e9, (torch.float64,), ("rmsprop",), "broken")
    row = runner.verify_case(AMPLIFYING, wrong, torch.float64)
    assert row.status == "FAIL" and row.max_ulp > row.tol_ulp > 800, row


def test_a_non_finite_torch_result_is_compared_element_by_element_not_excused_wholesale():
    # alpha = 0, centered: v − m² is 0 in exact arithmetic; torch's fused multiply-add makes it
    # slightly negative for some elements at the first step (NaN after sqrt, and NaN thereafter),
    # the NumPy kernel's rounding not at all of them. The 1-ULP nudges come after each step, so
    # they cannot change what the first step decided: those elements are compared, and the NumPy
    # row, once "ill-conditioned" as a whole, fails (sweep-191 of the full matrix; a finding).
    case = Case(
        "rmsprop",
        "centered, alpha 0",
        {
            "lr": 2e-4,
            "alpha": 0.0,
            "eps": 1e-6,
            "weight_decay": 0.1,
            "momentum": 0.1,
            "centered": True,
            "maximize": True,
        },
        grad_scale=1e-2,
        seed=1191,
    )
    row = runner.verify_case(case, runner.IMPLEMENTATIONS["numpy"], torch.float64)
    assert row.status == "FAIL" and row.max_ulp == math.inf and "non-finite" in row.note, row
    bitwise = runner.verify_case(case, runner.IMPLEMENTATIONS["torch"], torch.float64)
    assert bitwise.status == "pass" and bitwise.tol_ulp == 0  # the same operations: the same NaNs, bit for bit


# -- a result whose layout differs from torch's: never a pass -------------------------------------
def _torch_result(case, dtype=torch.float64, steps=3):
    params0 = runner.make_params(case, dtype)
    grads = runner.make_grads(case, params0, steps)
    return runner.run_torch_optim(case, params0, grads)


def test_an_empty_result_is_infinitely_far_from_torchs():
    expected = _torch_result(Case("rmsprop", "default", {}))
    ulp, _, note = runner.compare(([], []), expected)
    assert ulp == math.inf and "0 params, torch.optim has 4" in note

    def nothing(case, params0, grads):
        return [], []

    row = runner.verify_case(
        Case("adagrad", "default", {}),
        runner.Implementation("interpreter", nothing, (torch.float64,), ("adagrad",), "returns nothing"),
        torch.float64,
        steps=3,
    )
    assert row.status == "FAIL" and row.max_ulp == math.inf, row


def test_extra_or_missing_state_dicts_and_keys_are_infinitely_far():
    expected = _torch_result(Case("rmsprop", "default", {}))
    params, states = expected
    extra = [dict(st) for st in states]
    extra[1]["momentum_buffer"] = torch.zeros_like(params[1])  # torch keeps none without momentum
    ulp, _, note = runner.compare((params, extra), expected)
    assert ulp == math.inf and "param 1: state momentum_buffer that torch.optim does not keep" in note
    ulp, _, note = runner.compare((params, states[:2]), expected)
    assert ulp == math.inf and "2 state dicts, torch.optim has 4" in note
    assert runner.compare(expected, expected)[0] == 0.0


def test_a_tensor_of_another_shape_or_a_param_of_another_dtype_is_a_note_not_a_crash():
    expected = _torch_result(Case("adagrad", "default", {}))
    params, states = expected
    ulp, _, note = runner.compare(([params[0].reshape(-1), *params[1:]], states), expected)
    assert ulp == math.inf and "param 0 has shape (20,), torch.optim's (4, 5)" in note
    ulp, _, note = runner.compare(([p.float() for p in params], states), expected)
    assert ulp == math.inf and "param 0 has dtype torch.float32, torch.optim's torch.float64" in note


# -- the row against the path an implementation follows decides -----------------------------------
NON_CONTIGUOUS_ADAGRAD = "edge: 40 small non-contiguous tensors"


def _times_1_5(case, params0, grads):
    """The drop-in fused=True optimizer with its params and state buffers scaled by 1.5."""
    params, states = runner.run_fused_optimizer(case, params0, grads)
    return [p * 1.5 for p in params], [{k: v if k == "step" else v * 1.5 for k, v in st.items()} for st in states]


WRONG_FUSED = replace(runner.IMPLEMENTATIONS["fused"], run=_times_1_5)


def _edge(rule, name):
    from symopt.verify.cases import edges

    return next(c for c in edges(rule) if c.name == name)


@pytest.mark.parametrize("full", [False, True], ids=["quick", "full"])
def test_a_wrong_fused_kernel_fails_where_torchs_fused_adagrad_is_off(full):
    """torch.optim.Adagrad(fused=True) is off from its for-loop on non-contiguous params (a finding
    that stays reported); the row against the for-loop, which the implementation then follows,
    decides: the honest fused implementation passes it, one ×1.5 fails it."""
    case = _edge("adagrad", NON_CONTIGUOUS_ADAGRAD)
    references = runner.references_for("adagrad", True) if full else None
    honest = runner.verify_many(case, [runner.IMPLEMENTATIONS["fused"]], torch.float64, references, steps=20)
    wrong = runner.verify_many(case, [WRONG_FUSED], torch.float64, references, steps=20)
    for rows in (honest, wrong):
        fused_row = next(r for r in rows if r.reference == "torch.optim(fused=True)")
        assert fused_row.status == "torch-disagrees" and "non-contiguous params" in fused_row.note, fused_row
    deciding = {r.reference: r for r in honest}[runner.FOR_LOOP]
    assert deciding.status == "pass" and deciding.tol_ulp == 0, (
        deciding
    )  # every param non-contiguous: the for-loop's operations
    assert {r.reference: r for r in wrong}[runner.FOR_LOOP].status == "FAIL"
    assert [r.status for r in honest].count("pass") >= 1 and "FAIL" not in [r.status for r in honest]


def test_a_wrong_fused_kernel_on_non_contiguous_adagrad_exits_1(tmp_path, monkeypatch, capsys):
    from symopt.cli import main

    monkeypatch.chdir(tmp_path)
    argv = [
        "verify",
        "--impl",
        "fused",
        "--rule",
        "adagrad",
        "--case",
        NON_CONTIGUOUS_ADAGRAD,
        "--steps",
        "10",
        "--no-progress",
    ]
    assert main(argv) == 0
    monkeypatch.setitem(runner.IMPLEMENTATIONS, "fused", WRONG_FUSED)
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAILED adagrad/edge: 40 small non-contiguous tensors" in out and "the for-loop decides" in out


def _one_ulp_on_contiguous(case, params0, grads):
    """The drop-in fused=True optimizer with each contiguous param moved by one ULP (the params
    the C kernel steps on a mixed-layout group)."""
    params, states = runner.run_fused_optimizer(case, params0, grads)
    return [
        torch.nextafter(p, torch.full_like(p, math.inf)) if p0.is_contiguous() and p.numel() else p
        for p, p0 in zip(params, params0)
    ], states


@pytest.mark.parametrize("rule,dtype", [("adagrad", torch.float16), ("adam", torch.float32), ("adamw", torch.bfloat16)])
def test_a_mixed_layout_fused_step_is_compared_bit_for_bit_with_the_operations_it_issues(rule, dtype):
    """A sweep case with non-contiguous params: symopt's fused step gives the contiguous params to
    the C kernel and the others to the for-loop kernels, so its row against torch's fused
    results on the former and torch's for-loop results on the latter (runner.MIXED) is bitwise
    and never excused by torch's paths disagreeing (torch's fused Adagrad, Adam and AdamW are off
    on non-contiguous params): the honest implementation passes it, one a single ULP off fails."""
    from symopt.verify.cases import sweep

    case = next(c for c in sweep(rule, 200) if c.transposed)
    impl = runner.IMPLEMENTATIONS["fused"]
    assert impl.operations_for(case, dtype) == runner.MIXED
    references = runner.references_for(rule, True)
    honest = {r.reference: r for r in runner.verify_many(case, [impl], dtype, references, steps=20)}
    assert honest[runner.MIXED].status == "pass" and honest[runner.MIXED].tol_ulp == 0, honest[runner.MIXED]
    assert "FAIL" not in [r.status for r in honest.values()], honest
    wrong = replace(impl, run=_one_ulp_on_contiguous)
    rows = {r.reference: r for r in runner.verify_many(case, [wrong], dtype, references, steps=20)}
    assert rows[runner.MIXED].status == "FAIL" and rows[runner.MIXED].max_ulp == 1, rows[runner.MIXED]


@pytest.mark.parametrize(
    "rule,dtype", [("rmsprop", torch.float16), ("rmsprop", torch.bfloat16), ("sgd", torch.float16)]
)
def test_a_16_bit_fused_step_torch_does_not_fuse_is_compared_bit_for_bit_with_the_opmath_simulation(rule, dtype):
    """RMSprop (torch fuses it nowhere) and SGD in 16 bits (torch's fused path is wrong there):
    the fused row against the opmath simulation (runner.OPMATH; symopt.verify.opmath, written
    from ATen's loops) is bitwise and never excused; torch's 16-bit for-loop, a different
    rounding, is a finding where it differs beyond the tolerance. One ULP off on a contiguous
    param fails it, on a sweep case with non-contiguous params as on one without."""
    from symopt.verify.cases import edges, sweep

    impl = runner.IMPLEMENTATIONS["fused"]
    for case in (edges(rule)[0], next(c for c in sweep(rule, 200) if c.transposed)):
        assert impl.operations_for(case, dtype) == runner.OPMATH
        references = runner.references_for(rule, True)
        honest = {r.reference: r for r in runner.verify_many(case, [impl], dtype, references, steps=30)}
        assert honest[runner.OPMATH].status == "pass" and honest[runner.OPMATH].tol_ulp == 0, honest[runner.OPMATH]
        assert "FAIL" not in [r.status for r in honest.values()], honest
        wrong = replace(impl, run=_one_ulp_on_contiguous)
        rows = {r.reference: r for r in runner.verify_many(case, [wrong], dtype, references, steps=30)}
        assert rows[runner.OPMATH].status == "FAIL" and rows[runner.OPMATH].max_ulp == 1, rows[runner.OPMATH]


# -- non-finite results: compared element by element against the measured conditioning ------------
def test_undecided_elements_are_those_whose_finiteness_the_nudges_change():
    nan, inf = math.nan, math.inf
    expected = ([torch.tensor([1.0, nan, nan, 3.0, 5.0])], [{}])
    nudged = ([torch.tensor([1.0, 2.0, nan, 3.0, inf])], [{}])  # finiteness changes at 1 and 4
    settled, count = runner.undecided(([torch.tensor([1.0, 7.0, 8.0, 3.0, 6.0])], [{}]), expected, nudged)
    assert count == 1  # element 1; element 2 (NaN under the nudges too) and 4 (both finite) stay compared
    assert torch.equal(settled[0][0][[0, 2, 3, 4]], torch.tensor([1.0, 8.0, 3.0, 6.0]))
    assert runner.compare(settled, expected)[0] == math.inf  # 8 where torch's NaN does not depend on rounding
    # NaN where torch's is (compared NaN-for-NaN), and non-finite only where the nudges make torch's so
    rounding_elsewhere = ([torch.tensor([1.0, 7.0, nan, 3.0, inf])], [{}])
    settled, count = runner.undecided(rounding_elsewhere, expected, nudged)
    assert count == 2 and runner.compare(settled, expected)[0] == 0.0
    settled, count = runner.undecided(rounding_elsewhere, expected, expected)  # nudges that change nothing
    assert count == 0 and runner.compare(settled, expected)[0] == math.inf


def _zeros(case, params0, grads):
    params, states = runner.run_torch_optim(case, params0, grads)
    return [torch.zeros_like(p) for p in params], [
        {k: v if k == "step" else torch.zeros_like(v) for k, v in st.items()} for st in states
    ]


def test_all_zeros_fails_where_torchs_result_is_non_finite():
    """sweep-007 of the quick matrix: centered RMSprop with alpha 0, where torch's fma makes v − m²
    negative and every element NaN; the nudges do not change that, so every element is compared."""
    from symopt.verify.cases import sweep

    case = sweep("rmsprop", 8)[7]
    assert case.name == "sweep-007" and case.kwargs["alpha"] == 0.0 and case.kwargs["centered"]
    zeros = runner.Implementation("numpy", _zeros, (torch.float64,), ("rmsprop",), "all zeros")
    row = runner.verify_case(case, zeros, torch.float64)
    assert "non-finite" in row.note and row.status == "FAIL", row
    for name in ("interpreter", "numpy", "torch", "optim", "fused"):
        honest = runner.verify_case(case, runner.IMPLEMENTATIONS[name], torch.float64)
        assert honest.status == "pass", honest


# -- every structural variant of the fused kernels is stepped by the quick matrix -------------------
@pytest.mark.parametrize("rule", ["adagrad", "rmsprop", "sgd", "adam", "adamw"])
def test_the_quick_matrix_steps_every_fused_variant_on_contiguous_params(rule):
    """The fused C kernel has one function per structural variant (symopt.verify.symbolic.
    structural_variants; for Adagrad also lr_decay 0 or not, which its step size reads): each
    must run numerically in `symopt verify`, on params the C kernel takes (contiguous, float lr),
    or a wrong sign in one of them is caught by nothing but the text-freshness test."""
    from symopt import rules
    from symopt.verify.cases import edges, sweep, torch_defaults
    from symopt.verify.cli import SWEEP_QUICK
    from symopt.verify.symbolic import structural_variants

    switches = sorted(
        {k for v in structural_variants(rules.get(rule)) for k in v} | ({"lr_decay"} if rule == "adagrad" else set())
    )
    switches = [k for k in switches if k != "is_first_step"]  # SGD's: every momentum run takes both
    wanted = set(itertools.product((False, True), repeat=len(switches)))
    if rule == "sgd":  # torch refuses nesterov without momentum
        wanted = {v for v in wanted if not (v[switches.index("nesterov")] and not v[switches.index("momentum")])}
    defaults = torch_defaults(rule)  # a keyword a case leaves out has torch's default (AdamW: weight_decay 0.01)
    cases = optim_db_inputs(rule) + edges(rule) + sweep(rule, SWEEP_QUICK)
    stepped = {
        tuple(bool({**defaults, **c.kwargs}.get(k)) for k in switches)
        for c in cases
        if not c.transposed and not isinstance(c.kwargs.get("lr"), torch.Tensor)
    }
    missing = [", ".join(k for k, on in zip(switches, v) if on) or "plain" for v in sorted(wanted - stepped)]
    assert not missing, f"{rule}: variants no contiguous case steps: {missing}"


@pytest.mark.parametrize("index,dtype", [(0, "float32"), (1, "float16"), (2, "bfloat16")])
def test_each_rounding_edge_puts_adagrads_step_size_on_a_midpoint(index, dtype):
    """verify.cases.ROUNDING_EDGES["adagrad"] claims: at t = 4, the step size a kernel of ``dtype``
    holds (float32(−η/(1 + (t−1)γ)); for 16 bits that float32 rounded to the 16-bit type, as the
    constants of torch's 16-bit fused kernel) differs between the denominator rounded once (an fma)
    and rounded twice (product, then sum). Derived here in exact rational arithmetic (float32 and
    the 16-bit types by their round-to-nearest-even definition), independently of any kernel."""
    from fractions import Fraction

    import numpy as np

    from symopt.verify.cases import ROUNDING_EDGES, edges

    def to_bits(x: Fraction, mantissa: int, min_exp: int) -> Fraction:
        """``x`` rounded to nearest, ties to even, with ``mantissa`` fraction bits (no overflow here)."""
        e = max(math.floor(math.log2(abs(x))), min_exp)
        q = x / Fraction(2) ** (e - mantissa)
        n = math.floor(q)
        if q - n > Fraction(1, 2) or (q - n == Fraction(1, 2) and n % 2):
            n += 1
        return n * Fraction(2) ** (e - mantissa)

    name, values, _ = ROUNDING_EDGES["adagrad"][index]
    assert dtype in name
    lr, gamma, t = values["lr"], values["lr_decay"], 4
    once = float(Fraction(gamma) * (t - 1) + 1)  # exact, then one rounding to double
    twice = float(Fraction(float(Fraction(gamma) * (t - 1))) + 1)  # the product rounded, then the sum
    assert once != twice
    held = []
    for d in (once, twice):
        f32 = to_bits(-Fraction(float(Fraction(lr) / Fraction(d))), 23, -126)  # double quotient, then float32
        assert f32 == Fraction(float(np.float32(-float(Fraction(lr) / Fraction(d)))))  # the definition is numpy's
        held.append({"float32": f32, "float16": to_bits(f32, 10, -14), "bfloat16": to_bits(f32, 7, -126)}[dtype])
    assert held[0] != held[1]
    assert sum(1 for c in edges("adagrad") if c.kwargs.get("lr") == lr) == 4  # crossed with maximize × weight_decay


def _row(**kw):
    base = dict(
        rule="adagrad",
        dialect="torch",
        case="c",
        dtype="float32",
        device="cpu",
        impl="torch",
        reference="torch.optim(foreach=False)",
        steps=5,
        max_ulp=0.5,
        max_abs=0.0,
        tol_ulp=40.0,
        status="pass",
    )
    return runner.Row(**{**base, **kw})


def test_the_summary_is_a_matrix_findings_by_kind_and_every_failure():
    from symopt.verify import summary

    rows = (
        [_row(case=f"c{i}", max_ulp=float(i)) for i in range(50)]
        + [_row(case=f"d{i}", dtype="float64", note=f"torch's result is non-finite: step {i}") for i in range(30)]
        + [_row(case="bad", impl="numpy", status="FAIL", max_ulp=99.0, note="off")]
        + [_row(case="x", status="torch-disagrees", note="torch.optim(fused=True) disagrees: 3 ULP")]
    )
    matrix = summary.matrix_lines(rows)
    assert len(matrix) == 2 + 2 + 1  # header, rule, two implementations, legend
    cells = {tuple(line.split()[:2]): line for line in matrix[2:-1]}
    torch_line = cells["adagrad", "torch"]
    assert "50 1f 49" in torch_line and "30 30f 0.5" in torch_line  # float32 cell (one finding row), float64 cell
    assert "0 1F" in cells["adagrad", "numpy"]
    found = summary.finding_lines(rows)
    assert found[0].startswith("Findings: 31 rows, 2 kinds")
    assert "[30] torch's result is non-finite" in found[1] and found[2].startswith("      e.g. symopt verify --rule")
    assert sum(line.lstrip().startswith("[") for line in found) == 2  # one entry per kind, not per row
    assert [line.splitlines()[0] for line in summary.failure_lines(rows)] == [
        "FAILED adagrad/bad/float32/numpy vs torch.optim(foreach=False): max 99 ULP > 40 off"
    ]
    assert summary.verdict(rows, 0, 1.0, "r.json").startswith(
        "NOT CONSISTENT: 80 passed, 1 failed, 1 against"
    )  # 82 rows − 1 failed − 1 undecided
    assert summary.verdict(rows[:50], 0, 1.0, "r.json").startswith("consistent: 50 passed, 0 failed")
    assert summary.verdict(rows[:50], 2, 1.0, "r.json").startswith("NOT CONSISTENT")  # a kernel differs


def test_dialects_not_run_are_a_line_per_reason():
    from symopt.verify import summary

    tf = "/x/.venv-frameworks/tf is missing: run `make frameworks`"
    jax = "/x/.venv-frameworks/jax is missing: run `make frameworks`"
    caffe = "not installable here (Caffe is not on PyPI)"
    not_run = {
        ("rmsprop", "keras"): tf,
        ("adagrad", "keras"): tf,
        ("rmsprop", "tf1"): tf,
        ("rmsprop", "optax"): jax,
        ("rmsprop", "caffe"): caffe,
        ("adagrad", "caffe"): caffe,
        ("rmsprop", "torch7"): "not installable here (Lua torch7)",
    }
    lines = summary.not_run_lines(not_run)
    assert lines[0].startswith("Dialects whose real framework was not run here (7;")
    assert lines[1:] == [
        "  4 need `make frameworks` (/x/.venv-frameworks/: tf 3, jax 1)",  # every missing environment, one line
        f"  {caffe} (2: adagrad[caffe], rmsprop[caffe])",
        "  rmsprop[torch7]: not installable here (Lua torch7)",  # a reason of one dialect names it
    ]
    cut = summary.not_run_lines(not_run, width=40)
    assert all(len(line) <= 40 for line in cut[1:]) and cut[1].endswith("…") and cut[0] == lines[0]
    assert summary.not_run_lines({}) == []


def test_the_equations_are_one_line():
    from symopt.verify import summary
    from symopt.verify.equations import compare_dialects

    line = summary.equation_line([c for f in ("adagrad", "rmsprop") for c in compare_dialects(f)])
    # derived here: the post's AdaGrad puts eps inside the root (param differs), sums g^2 as torch does (sum
    # identical); its RMSProp adds eps in the recursion (square_avg differs, so does param)
    assert "adagrad param differs, sum identical" in line
    assert "rmsprop param and square_avg differ" in line and "\n" not in line


def test_cli_prints_the_summary_and_every_row_with_v(tmp_path, monkeypatch, capsys):
    from symopt.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["verify", "--impl", "interpreter", "--rule", "adagrad", "--steps", "3", "--no-progress"]
    assert main(args) == 0
    short = capsys.readouterr().out
    assert main(args + ["-v"]) == 0
    full = capsys.readouterr().out
    rows = json.loads((tmp_path / "reports" / "verify.json").read_text())["rows"]
    assert len(rows) > 30
    assert (
        len(full.splitlines()) - len(short.splitlines()) >= len(rows) - 6
    )  # the matrix is a few lines, not a row each
    assert "implementation" in short and "consistent: " in short.splitlines()[-1]
    statuses = {r["status"] for r in rows}
    table = [
        line
        for line in full.splitlines()
        if line.split() and line.split()[-1] in statuses and line.startswith("adagrad ")
    ]
    assert len(table) == len(rows)  # -v: one line per row, as many as the JSON holds
    assert not [line for line in short.splitlines() if line.split() and line.split()[-1] in statuses]


def test_jobs_give_the_serial_rows_in_the_serial_order():
    """``symopt verify --jobs N``: the comparisons in N spawned processes, the rows identical to a
    serial run's (every row's numbers, in the same order); fused and full references included."""
    from symopt.verify.cases import edges

    cases = optim_db_inputs("adagrad")[:3] + edges("sgd")[:3]
    impls = [runner.IMPLEMENTATIONS[n] for n in ("numpy", "fused")]
    serial = runner.run_matrix(cases, impls, [torch.float32, torch.float64], steps=4, full=True, progress=False)
    parallel = runner.run_matrix(
        cases, impls, [torch.float32, torch.float64], steps=4, full=True, progress=False, jobs=2
    )
    assert len(serial) > 12 and [r.to_json() for r in parallel] == [r.to_json() for r in serial]
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        runner.run_matrix(cases, impls, [torch.float32], jobs=0)


def test_cli_jobs_is_checked(capsys):
    from symopt.cli import main

    assert main(["verify", "--jobs", "0"]) == 2
    assert "--jobs must be >= 1; got 0" in capsys.readouterr().err
