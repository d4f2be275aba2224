"""The mutation areas of the fused kernels (symopt.mutate.kernels_c, symopt.mutate.kernels_triton):
their operators on the printed C and Triton text, installing a C mutant and undoing it, and the
fast subset of ``symopt mutate --area kernel-c --area kernel-triton`` — a seeded sample of each
area, every mutant of which must be caught; a known-bad C mutant is caught by the numbers while
the text check, which never sees it, still passes."""

from __future__ import annotations

import ast
import importlib.util

import pytest
import torch

from symopt.fused import launcher as flaunch
from symopt.mutate import kernels_c, kernels_triton
from symopt.mutate.run import areas, judge, select, unexplained

HAVE_TRITON = importlib.util.find_spec("triton") is not None
needs_triton = pytest.mark.skipif(
    not HAVE_TRITON, reason="triton is not installed (the kernel-triton area then has no mutants)"
)
SAMPLE = {"kernel-c": 4, "kernel-triton": 3}


# -- the C operators ---------------------------------------------------------------------------------
def test_c_expression_mutants_of_a_printed_line():
    found = dict((new, op) for op, new in kernels_c.expression_mutants("fmaf(c1*grad, grad, square_avg*c0)"))
    assert found == {
        "((c1*grad)*(grad) + (square_avg*c0))": "fma: fmaf dropped into a*b + c",
        "fmaf(c1*grad, grad, -(square_avg*c0))": "fma: fmaf addend negated",
        "fmaf(c1/grad, grad, square_avg*c0)": "binop: * -> /",
        "fmaf(c1*grad, grad, square_avg/c0)": "binop: * -> /",
    }
    scalar = [new for _, new in kernels_c.expression_mutants("lr/(fma(lr_decay, step - 1, 1))")]
    assert "lr*(fma(lr_decay, step - 1, 1))" in scalar and "lr/(fma(lr_decay, step + 1, 1))" in scalar
    assert "lr/(fma(lr_decay, step - 2, 1))" in scalar and "lr/(fma(lr_decay, step - 1, 2))" in scalar
    assert [new for _, new in kernels_c.expression_mutants("sqrtf(fmaf(-grad_avg, grad_avg, square_avg))")][:1] == [
        "(fmaf(-grad_avg, grad_avg, square_avg))"
    ]
    assert "(float)(1 + alpha)" in [new for _, new in kernels_c.expression_mutants("(float)(1 - alpha)")]
    assert ("constant: 0.5 -> 1.5", "(fabsf(c1) < (float)1.5) ? a : b") in kernels_c.expression_mutants(
        "(fabsf(c1) < (float)0.5) ? a : b"
    )
    with pytest.raises(ValueError):
        kernels_c.parse("p_param[i]")  # an indexing (memory) expression is not a computation line


def test_c_mutants_cover_every_chosen_function_and_change_one_computation_line():
    mutants = kernels_c.all_mutants()
    assert len({m.id for m in mutants}) == len(mutants) and [m.id for m in mutants] == [
        m.id for m in kernels_c.all_mutants()
    ]
    text = {f: flaunch.source(f) for f in kernels_c.FAMILIES}
    chosen = {name for f in kernels_c.FAMILIES for name, _, _ in kernels_c.functions(text[f]) if kernels_c.chosen(name)}
    every_variant = [f for f in kernels_c.FAMILIES if f not in kernels_c.DISTINCT_LINES_ONLY]
    assert {m.payload[2] for m in mutants if m.payload[0] in every_variant} == {
        c for c in chosen if c.split("_")[1] in every_variant
    }
    # every float32 variant, plain float64, float16 and bfloat16
    assert (
        sum(c.startswith("symopt_adagrad_") for c in chosen),
        sum(c.startswith("symopt_rmsprop_") for c in chosen),
    ) == (4 + 3, 16 + 3)
    for f in kernels_c.DISTINCT_LINES_ONLY:  # each distinct computation line of each element type, once
        lines = text[f].splitlines()
        every = {(s.function.rsplit("_", 1)[1], lines[s.lineno - 1].strip()) for s in kernels_c.sites(text[f])}
        once = [
            (s.function.rsplit("_", 1)[1], lines[s.lineno - 1].strip()) for s in kernels_c.sites(text[f], distinct=True)
        ]
        assert set(once) == every and len(once) == len(every), f
        assert {m.payload[2] for m in mutants if m.payload[0] == f} >= {
            f"symopt_{f}_plain_{t}" for t in ("f32", "f64", "f16", "bf16")
        }
    assert {m.operator.split(":")[0] for m in mutants} == {"binop", "fma", "sqrt", "unary", "constant", "delete"}
    for m in select(mutants, sample=25, seed=3):
        family, mutated, _ = m.payload
        before, after = text[family].splitlines(), mutated.splitlines()
        changed = [a for a, b in zip(before, after) if a != b]
        assert mutated != text[family] and abs(len(before) - len(after)) <= 1
        if m.operator.startswith("delete"):
            assert len(after) == len(before) - 1 and "<-" in m.location
        else:
            assert len(changed) == 1 and ("<-" in changed[0] or "const " in changed[0]) and "[i]" not in changed[0]
    # a line that first assigns a register is not deleted (reading it uninitialised is undefined)
    assert not any(m.operator.startswith("delete") and m.original.startswith("sigma = sqrt") for m in mutants)


def test_c_mutants_of_a_float16_kernel_are_on_the_side_of_its_f16c_switch_that_is_built():
    """A float16 vector loop is printed twice, ``#if SYMOPT_F16C`` (blocks converted by F16C) and
    ``#else`` (bit manipulation): only the side the compiler builds is mutated (a mutant of the
    other is equivalent by construction), and which side follows ``__F16C__``."""
    text = flaunch.source("adagrad")
    lines = text.splitlines()
    for f16c in (True, False):
        found = [s for s in kernels_c.sites(text, f16c=f16c) if s.function == "symopt_adagrad_plain_f16"]
        assert found
        for site in found:
            above = [x.strip() for x in lines[: site.lineno - 1] if x.strip() in ("#if SYMOPT_F16C", "#else", "#endif")]
            side = above[-1] if above else "#endif"
            assert side in (("#if SYMOPT_F16C", "#endif") if f16c else ("#else", "#endif")), (f16c, site)
        # G <- G + g² on the side built: in the vector loop and in the scalar tail, once each
        assert sum(s.label.startswith("G <- G + g**2") for s in found) == 2
    assert {s.lineno for s in kernels_c.sites(text, f16c=True)} != {s.lineno for s in kernels_c.sites(text, f16c=False)}


def _maximize_sign_dropped() -> kernels_c.Mutant:
    return next(
        m
        for m in kernels_c.all_mutants()
        if m.payload[2] == "symopt_adagrad_maximize_f32"
        and m.original == "grad = -grad;"
        and m.operator.startswith("unary")
    )


def test_a_c_mutant_is_installed_and_undone():
    from symopt import fused

    mutant = _maximize_sign_dropped()
    committed_kernel, committed_source = fused.kernel("adagrad"), flaunch.source("adagrad")
    with kernels_c.installed(mutant):
        assert fused.kernel("adagrad") is not committed_kernel and flaunch.kernel("adagrad") is fused.kernel("adagrad")
        assert fused.kernel("adagrad").library.path.name.startswith("t_adagrad-")
        assert flaunch.source("adagrad") == fused.source("adagrad") == mutant.payload[1] != committed_source
        assert flaunch.source("rmsprop") == kernels_c._package_dir().joinpath("rmsprop.c").read_text(encoding="utf-8")
    assert fused.kernel("adagrad") is committed_kernel and flaunch.source("adagrad") == committed_source


def test_a_c_mutant_that_does_not_compile_is_invalid():
    from symopt.mutate._core import Mutant

    family, text, function = _maximize_sign_dropped().payload
    broken = Mutant(
        kernels_c.AREA,
        "kernels/c/adagrad.c",
        "test",
        "test",
        "",
        "",
        payload=(family, text.replace("grad = grad;", "grad = grad"), function),
    )
    outcome = kernels_c.run(broken)
    assert outcome.status == "invalid" and "compiler refuses" in outcome.by


def test_the_maximize_sign_mutant_is_killed_by_the_numbers_not_by_the_text():
    """kernels/c/adagrad.c with ``g <- -g`` dropped from the float32 maximize variant: the fused
    verify rows against torch.optim(fused=True) catch it; the text-freshness check (committed
    file == the printer's output) is not among the checks and still passes with it installed."""
    from symopt.codegen.printers.c import render_sources
    from symopt.codegen.render import KERNELS, package_root

    mutant = _maximize_sign_dropped()
    assert mutant.mutated == "grad = grad;"
    assert [name for name, _ in kernels_c.checks(mutant)] == ["verify fused", "tests/test_fused.py"]
    with kernels_c.installed(mutant):
        assert all(
            (package_root() / rel).read_text(encoding="utf-8") == text for rel, text in render_sources(KERNELS).items()
        )
    outcome = kernels_c.run(mutant)
    assert outcome.status == "killed" and outcome.by.startswith("verify fused: verify adagrad / "), outcome
    assert "float32 / fused vs torch.optim(fused=True)" in outcome.by and "ULP > 0" in outcome.by  # bitwise row


def test_the_c_checks_pass_on_the_committed_kernel():
    """The checks can pass: the committed text installed as if it were a mutant survives the
    verify rows (so a kill means the mutant changed a number)."""
    from symopt.mutate._core import Mutant, evaluate

    same = Mutant(
        kernels_c.AREA,
        "kernels/c/adagrad.c",
        "identity",
        "none",
        "",
        "",
        payload=("adagrad", flaunch.source("adagrad"), "symopt_adagrad_plain_f32"),
    )
    outcome = evaluate(same, kernels_c.installed, kernels_c.checks(same)[:1], fresh=False)
    assert outcome.status == "survived", outcome


# -- the Triton operators ---------------------------------------------------------------------------------
@needs_triton
def test_triton_sites_are_in_jit_functions_the_computation_everywhere_the_template_in_plain():
    mutants = kernels_triton.all_mutants()
    assert len({m.id for m in mutants}) == len(mutants)
    functions = {m.location.split(":")[0] for m in mutants}
    assert {
        "_sqrt_rn",
        "_div_rn",
        "_update_adagrad_plain",
        "symopt_adagrad_plain",
        "_update_rmsprop_weight_decay_momentum_centered_maximize",
    } <= functions
    assert not any(
        m.location.startswith(("update", "KERNELS")) for m in mutants
    )  # the Python-level launcher wrapper is not a kernel
    for m in mutants:
        function = m.location.split(":")[0]
        if function.startswith("symopt_") and not function.endswith("_plain"):
            assert m.original.startswith(("eta_t = ", "c")) and not m.payload["isolated"], m.describe()
        assert "other=1" not in m.mutated  # a masked load's fill value is never stored
    kinds = {m.operator.split(":")[0] for m in mutants}
    assert kinds == {"binop", "unary", "constant", "call", "condition", "delete"}
    where = next(m for m in mutants if m.operator == "call: tl.where branches swapped")
    before, after = (ast.parse(x).body[0].value.args for x in (where.original, where.mutated))
    assert [ast.dump(a) for a in after] == [ast.dump(before[0]), ast.dump(before[2]), ast.dump(before[1])]
    assert any(m.mutated == "sigma = square_avg" for m in mutants)  # _sqrt_rn dropped


@needs_triton
def test_sampled_triton_mutants_are_caught_and_the_checks_pass_on_the_committed_kernel(monkeypatch):
    """One worker: the sample, one mutant Triton's compiler refuses (float64 through tl.sqrt_rn)
    and the committed module installed as if it were a mutant, which must survive."""
    mutants = kernels_triton.all_mutants()
    chosen = select([m for m in mutants if not m.payload["isolated"]], sample=SAMPLE["kernel-triton"], seed=11)
    refused = next(
        m
        for m in mutants
        if m.location.startswith("_sqrt_rn: if x.dtype")
        and m.operator.startswith("condition")
        and "adagrad" in m.target
    )
    identity = next(m for m in mutants if m.location.startswith("_update_adagrad_plain:"))
    original = kernels_triton.mutated_source
    committed = ast.unparse(kernels_triton._parsed("adagrad")[2])
    monkeypatch.setattr(kernels_triton, "mutated_source", lambda m: committed if m is identity else original(m))
    outcomes = kernels_triton.run_many(chosen + [refused, identity])
    *sampled, invalid, same = outcomes
    assert same.status == "survived", same
    assert invalid.status == "invalid" and "Expected dtype ['fp32'] but got fp64" in invalid.by, invalid
    survivors = [o.mutant.describe() for o in map(judge, sampled) if o.status == "survived"]
    assert not survivors, survivors
    assert all(o.status in ("killed", "invalid", "equivalent") for o in sampled)


def test_triton_area_without_triton_has_no_mutants_and_says_why(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "triton" else real(name, *a))
    assert kernels_triton.all_mutants() == [] and "triton is not installed" in kernels_triton.unavailable()


# -- the fast subset of `symopt mutate` for the C area ---------------------------------------------------
def test_both_areas_are_registered():
    assert areas()["kernel-c"] is kernels_c and areas()["kernel-triton"] is kernels_triton


def test_sampled_c_mutants_are_caught():
    chosen = select(kernels_c.all_mutants(), sample=SAMPLE["kernel-c"], seed=11)
    outcomes = [judge(kernels_c.run(m)) for m in chosen]
    survivors = unexplained(outcomes)
    assert not survivors, survivors
    assert sum(o.status == "killed" for o in outcomes) >= len(outcomes) // 2
    assert torch.get_default_dtype() == torch.float32  # the checks leave torch's defaults alone


# -- the arguments of the C kernels' equivalent mutants (symopt.mutate.equivalent) -------------------
def _all_finite(dtype) -> torch.Tensor:
    values = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(dtype).float()
    return values[torch.isfinite(values)]


def test_float16_products_the_explained_fma_mutants_rely_on_are_exact_in_float32():
    """_EXACT_F16_SQUARE and _EXACT_F16_PRODUCT: g*g for every float16 g, and c*g for every float16
    significand c in [1, 2) and every float16 g (a power-of-two scale of c keeps the product within
    float32's normal range), equal the exact products (float64 holds them): float32 rounds neither,
    so fma(a, b, c) and a*b + c round the same value once."""
    import numpy as np

    g = _all_finite(torch.float16).numpy()
    assert np.array_equal((g * g).astype(np.float64), g.astype(np.float64) ** 2)
    c = g[(g >= 1) & (g < 2)]
    assert len(c) == 1024
    for i in range(0, len(c), 64):
        rows = c[i : i + 64, None]
        assert np.array_equal(
            (rows * g[None, :]).astype(np.float64), rows.astype(np.float64) * g[None, :].astype(np.float64)
        )


def test_bfloat16_sgd_stores_the_same_value_with_or_without_its_fma_where_the_product_underflows():
    """_BF16_STORED_AT_ONCE, on numbers: products c*g of bfloat16 values that float32 rounds (the
    underflow range, |c*g| < 2^-134), added to every finite bfloat16 w, once with one rounding
    (exact in float64) and once with the product rounded first: the same bfloat16 after the store.
    (Not a proof, which the reason gives; a check that could refute it.)"""
    import numpy as np

    w = _all_finite(torch.bfloat16).numpy()
    g = _all_finite(torch.bfloat16).numpy()
    rng = np.random.default_rng(0)
    # -lr through bfloat16 (lr = 1e-3: a last bit of c under 2^-16, without which c*g of a bfloat16 g,
    # whose last bit is at least 2^-133, is never below float32's 2^-149)
    c = torch.tensor([-1e-3]).to(torch.bfloat16).float().numpy()[0]
    tiny = g[(np.abs(g) > 0) & (np.abs(g * np.float64(c)) < 2.0**-134)]
    products = tiny.astype(np.float64) * np.float64(c)
    inexact = tiny[(tiny * c).astype(np.float64) != products]
    assert len(inexact) > 100
    for x in rng.choice(inexact, 200, replace=False):
        exact = np.float64(c) * np.float64(x)
        fused = (w.astype(np.float64) + exact).astype(np.float32)
        split = w + np.float32(c * x)
        assert torch.equal(torch.tensor(fused).to(torch.bfloat16), torch.tensor(split).to(torch.bfloat16))
