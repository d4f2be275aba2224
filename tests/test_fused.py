"""The fused CPU backend: the C printer's text, the generated sources, the build cache, the
launcher's validation, and the numbers (bitwise against torch.optim.Adagrad(fused=True) and
against torch's op sequence with a correctly rounded sqrt; within tolerance of the for-loop)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from symopt import rules
from symopt.codegen.printers._common import CodegenError
from symopt.codegen.printers.c import C_FAMILIES, CKernelPrinter, render_sources, variant_of, variants
from symopt.codegen.render import KERNELS, package_root
from symopt.fused import build as fbuild
from symopt.fused import launcher as flaunch
from symopt.fused import FusedKernel, FusedLaunchError
from symopt.torch import optim as symopt_optim
from symopt.verify.ulp import normwise_ulp

DTYPES = (torch.float32, torch.float64)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One build directory for the module: every test after the first loads from it."""
    return tmp_path_factory.mktemp("symopt-cache")


@pytest.fixture(scope="module")
def adagrad_kernel(cache):
    return FusedKernel("adagrad", library=fbuild.load("t_adagrad", flaunch.source("adagrad"), directory=cache))


@pytest.fixture(scope="module")
def rmsprop_kernel(cache):
    return FusedKernel("rmsprop", library=fbuild.load("t_rmsprop", flaunch.source("rmsprop"), directory=cache))


# -- the printer's text --------------------------------------------------------------------------
def _function(family: str, dtype: str, **switch) -> str:
    rule = rules.get(family)
    return CKernelPrinter({"dtype": dtype}).kernel(rule, variant_of(rule, switch))


def test_adagrad_plain_f32_is_one_fused_loop_with_torchs_rounding():
    text = _function("adagrad", "float32")
    assert "void symopt_adagrad_plain_f32(" in text
    assert "#pragma omp parallel for schedule(static) num_threads(n_threads)" in text
    assert "const double eta_t = lr/(fma(lr_decay, step - 1, 1));" in text  # torch's fused clr, in double, one fma
    assert "state_sum = fmaf(grad, grad, state_sum);" in text  # addcmul_(g, g, value=1) fuses
    assert "sigma = sqrtf(state_sum);" in text
    assert "sigma = sigma + c0;" in text and "const float c0 = (float)(eps);" in text
    assert "param = param + (c1*grad)/sigma;" in text and "const float c1 = (float)(-eta_t);" in text
    # the chunk loop and the element loop, printed twice (with and without GradScaler's unscaling)
    assert text.count("for (") == 3 and text.count("for (int64_t i = begin; i < end; ++i)") == 2


def _gcc() -> str | None:
    cc = fbuild.find_compiler()  # clang defines __GNUC__ too
    return cc if cc and fbuild.defines("__GNUC__", cc) and not fbuild.defines("__clang__", cc) else None


@pytest.mark.skipif(_gcc() is None, reason="needs GCC: its -fopt-info-vec-missed report is what is read")
@pytest.mark.parametrize("family", C_FAMILIES, ids=str)
def test_every_vector_loop_of_the_generated_c_kernels_vectorises_here(family, tmp_path):
    """GCC leaves a loop scalar where it cannot turn its branches into selects ("control flow in
    loop"); what it can turn depends on the vector extension (AVX2 or AVX512). On an AVX2 machine
    the float16 conversions' ternaries, the grad_scale test GCC did not unswitch out of longer
    loops, the lerp's two fma calls under a ternary and AMSGrad's `||` kept whole loops scalar
    (float16 Adagrad ran at 29x the bandwidth bound at 1e7 elements). Every loop over the
    elements of a tensor's vector part (begin..end, begin..split, a float16 block) must
    vectorise with the flags the kernels are built with; a scalar tail (fewer than 16 elements)
    may stay scalar."""
    text = flaunch.source(family)
    src = tmp_path / f"{family}.c"
    src.write_text(text)
    res = subprocess.run(
        [
            _gcc(),
            *fbuild.BASE_FLAGS,
            *fbuild.OPENMP_FLAGS,
            "-fopt-info-vec-missed",
            "-c",
            str(src),
            "-o",
            str(tmp_path / "k.o"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = text.splitlines()
    scalar = sorted(
        {
            int(m.group(1))
            for m in re.finditer(
                rf"{re.escape(src.name)}:(\d+):\d+: missed: not vectorized: "
                r"control flow in loop",
                res.stderr,
            )
        }
    )
    vector_loops = [n for n in scalar if re.match(r"\s*for \(int64_t i = (begin|0); i < (end|split|n);", lines[n - 1])]
    assert not vector_loops, [f"{n}: {lines[n - 1].strip()}" for n in vector_loops[:5]]


def test_rmsprop_centered_momentum_f64_text():
    text = _function("rmsprop", "float64", centered=True, momentum=0.9, weight_decay=0.1, maximize=True)
    assert "symopt_rmsprop_weight_decay_momentum_centered_maximize_f64(" in text
    assert "grad = -grad;" in text
    assert "grad = fma(c0, param, grad);" in text  # grad.add(param, alpha=weight_decay)
    assert "square_avg = fma(c2*grad, grad, square_avg*c1);" in text  # mul_(alpha).addcmul_(g, g, value=1-alpha)
    assert "fabs(c2) < (double)0.5" in text  # lerp_: torch's two formulas, chosen by the weight
    assert "sigma = sqrt(fma(-grad_avg, grad_avg, square_avg));" in text  # addcmul(m, m, value=-1).sqrt_()
    assert "momentum_buffer = momentum_buffer*c4 + (grad)/sigma;" in text  # mul_(momentum).addcdiv_(g, σ)
    assert "param = fma(c5, momentum_buffer, param);" in text and "const double c5 = (double)(-lr);" in text


def test_variants_cover_every_switch():
    assert [v.name for v in variants(rules.adagrad())] == ["plain", "maximize", "weight_decay", "weight_decay_maximize"]
    assert len(variants(rules.rmsprop())) == 16
    rule = rules.rmsprop()
    assert variant_of(rule, {"momentum": 0.0, "weight_decay": 0.0}).name == "plain"
    assert variant_of(rule, {"momentum": 0.5, "centered": True}).name == "momentum_centered"


def test_printer_is_strict():
    rule = rules.adagrad()
    # a guard on the step count cannot be resolved per call
    from dataclasses import replace

    from symopt.rules import t

    body = rule.body + (rules.Assign(rules.w, rules.w * 2, sp.Gt(t, 1)),)
    with pytest.raises(CodegenError, match="depends on the step"):
        variants(replace(rule, body=body))
    # a literal float inside an element-wise expression has no torch rounding: refused
    body = rule.body[:-1] + (rules.Assign(rules.w, rules.w * sp.Float(0.5) + rules.g * sp.exp(rules.g), sp.true),)
    odd = replace(rule, body=body)
    with pytest.raises(CodegenError, match="a number"):
        CKernelPrinter({"dtype": "float32"}).kernel(odd, variants(odd)[0])
    with pytest.raises(CodegenError, match="dtype"):
        CKernelPrinter({"dtype": "int8"})


def test_committed_sources_are_fresh():
    for rel, text in render_sources(KERNELS).items():
        assert (package_root() / rel).read_text(encoding="utf-8") == text, f"{rel} is stale: run `make generate`"


# -- torch's roundings: which CPU ops fuse a multiply-add (the printer relies on it) -------------------
def _f32_fma(a, b, c):
    """fma in float32, from float64 (exact product of two float32; one rounding to float32)."""
    return (a.double() * b.double() + c.double()).float()


def test_torch_cpu_ops_fuse_as_the_printer_assumes():
    g = torch.Generator().manual_seed(0)
    s, a, b = (torch.rand(100_003, generator=g) + 0.1 for _ in range(3))
    c = float(np.float32(0.01))
    assert torch.equal(s.addcmul(a, b, value=0.01), _f32_fma(a * c, b, s))
    assert torch.equal(s.add(a, alpha=0.01), _f32_fma(torch.full_like(a, c), a, s))
    assert torch.equal(s.addcdiv(a, b, value=0.01), s + (a * c) / b)  # divides, then adds: no fma
    assert torch.equal(s.lerp(a, 0.01), _f32_fma(torch.full_like(a, c), a - s, s))


# -- numbers ---------------------------------------------------------------------------------------
SHAPES = [(37, 3), (1,), (), (0,), (70_001,)]


def _tensors(dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype) for s in SHAPES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1},
        {"maximize": True, "weight_decay": 0.3, "initial_accumulator_value": 0.1, "eps": 1e-3},
    ],
)
def test_adagrad_bitwise_with_torch_fused(adagrad_kernel, dtype, kw):
    params0 = _tensors(dtype, 1)
    ref = [p.clone().requires_grad_(True) for p in params0]
    opt = torch.optim.Adagrad(ref, fused=True, **kw)
    params = [p.clone() for p in params0]
    sums = [torch.full_like(p, kw.get("initial_accumulator_value", 0.0)) for p in params]
    hyper = {k: v for k, v in kw.items() if k != "initial_accumulator_value"}
    for step in range(1, 6):
        grads = _tensors(dtype, 10 + step)
        for p, gr in zip(ref, grads):
            p.grad = gr.clone()
        opt.step()
        adagrad_kernel.step(params, grads, {"sum": sums}, [float(step)] * len(params), **hyper)
    for p, r, s in zip(params, ref, sums):
        assert torch.equal(p, r.detach())
        assert torch.equal(s, opt.state[r]["sum"])


def _correct_sqrt(x):
    return torch.from_numpy(np.asarray(np.sqrt(x.numpy())))  # IEEE sqrt: correctly rounded


def _rmsprop_sequence(
    params,
    grads_per_step,
    sqrt,
    lr=1e-2,
    alpha=0.99,
    eps=1e-8,
    weight_decay=0,
    momentum=0,
    centered=False,
    maximize=False,
):
    """torch.optim.RMSprop's for-loop operations, with ``sqrt`` for the square root."""
    state = [{"v": torch.zeros_like(p), "m": torch.zeros_like(p), "b": torch.zeros_like(p)} for p in params]
    for grads in grads_per_step:
        for p, g, st in zip(params, grads, state):
            if maximize:
                g = -g
            if weight_decay != 0:
                g = g.add(p, alpha=weight_decay)
            st["v"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
            if centered:
                st["m"].lerp_(g, 1 - alpha)
                avg = sqrt(st["v"].addcmul(st["m"], st["m"], value=-1))
            else:
                avg = sqrt(st["v"])
            avg = avg.add_(eps)
            if momentum > 0:
                st["b"].mul_(momentum).addcdiv_(g, avg)
                p.add_(st["b"], alpha=-lr)
            else:
                p.addcdiv_(g, avg, value=-lr)
    return state


RMS_VARIANTS = [
    dict(centered=c, momentum=m, weight_decay=w, maximize=x)
    for c, m, w, x in itertools.product((False, True), (0.0, 0.9), (0.0, 0.1), (False, True))
]


@pytest.mark.parametrize("alpha", (0.99, 0.3))  # torch's lerp takes its large-weight formula at 1 - alpha >= 1/2
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", RMS_VARIANTS, ids=lambda kw: "-".join(k for k, v in kw.items() if v) or "plain")
def test_rmsprop_bitwise_with_torchs_ops_and_a_correct_sqrt(rmsprop_kernel, dtype, kw, alpha):
    """Every variant at both of lerp's branches (the centered average): one alpha per variant
    left the other branch's roundings in each variant unchecked (mutants of them survived)."""
    kw = dict(kw, alpha=alpha)
    params0 = _tensors(dtype, 2)
    steps = [_tensors(dtype, 20 + k) for k in range(4)]
    expected = [p.clone() for p in params0]
    ref_state = _rmsprop_sequence(expected, steps, _correct_sqrt, **kw)
    params = [p.clone() for p in params0]
    states = {k: [torch.zeros_like(p) for p in params] for k in ("square_avg", "grad_avg", "momentum_buffer")}
    for grads in steps:
        rmsprop_kernel.step(params, grads, states, None, **kw)
    for i, p in enumerate(params):
        assert torch.equal(p, expected[i])
        assert torch.equal(states["square_avg"][i], ref_state[i]["v"])
        if kw["centered"]:
            assert torch.equal(states["grad_avg"][i], ref_state[i]["m"])
        if kw["momentum"]:
            assert torch.equal(states["momentum_buffer"][i], ref_state[i]["b"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_fused_optimizer_within_tolerance_of_the_for_loop(dtype):
    kw = dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)
    params0 = _tensors(dtype, 3)
    a = [p.clone().requires_grad_(True) for p in params0]
    b = [p.clone().requires_grad_(True) for p in params0]
    ref = torch.optim.RMSprop(a, foreach=False, **kw)
    mine = symopt_optim.RMSprop([{"params": b, "fused": True}], **kw)
    steps = 20
    for k in range(steps):
        for x, y, g in zip(a, b, _tensors(dtype, 40 + k)):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
    worst = max(normwise_ulp(y.detach(), x.detach()) for x, y in zip(a, b) if x.numel())
    assert worst <= 2 * steps  # the verify policy (tolerances.py): torch's eager sqrt is not correctly rounded
    assert set(mine.state[b[0]]) == set(ref.state[a[0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_adagrad_fused_optimizer_bitwise_with_torch_fused(dtype):
    params0 = _tensors(dtype, 4)
    a = [p.clone().requires_grad_(True) for p in params0]
    b = [p.clone().requires_grad_(True) for p in params0]
    kw = dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)
    ref = torch.optim.Adagrad([{"params": a[:2]}, {"params": a[2:], "lr": 0.2}], fused=True, **kw)
    mine = symopt_optim.Adagrad([{"params": b[:2]}, {"params": b[2:], "lr": 0.2}], fused=True, **kw)
    for k in range(6):
        grads = _tensors(dtype, 60 + k)
        for i, (x, y, g) in enumerate(zip(a, b, grads)):
            skip = k == 2 and i == 0  # a step without a gradient
            x.grad = None if skip else g.clone()
            y.grad = None if skip else g.clone()
        ref.step()
        mine.step()
    for x, y in zip(a, b):
        assert torch.equal(x.detach(), y.detach())
        assert torch.equal(ref.state[x]["sum"], mine.state[y]["sum"])
        assert float(ref.state[x]["step"]) == float(mine.state[y]["step"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lr_decay", [0.01, 0.1, 0.37])
def test_adagrad_lr_decay_bitwise_with_torch_fused_over_many_steps(adagrad_kernel, dtype, lr_decay):
    """torch's fused kernel computes clr = lr/(1 + (step − 1)·lr_decay) with one fma (C++ with
    contraction); the twice-rounded form first differs after about a dozen steps (the rule's
    scalar_contraction="fma")."""
    params0 = _tensors(dtype, 7)
    ref = [p.clone().requires_grad_(True) for p in params0]
    opt = torch.optim.Adagrad(ref, fused=True, lr=0.1, lr_decay=lr_decay)
    params = [p.clone() for p in params0]
    sums = [torch.zeros_like(p) for p in params]
    for step in range(1, 61):
        grads = _tensors(dtype, 100 + step)
        for p, gr in zip(ref, grads):
            p.grad = gr.clone()
        opt.step()
        adagrad_kernel.step(
            params,
            grads,
            {"sum": sums},
            [float(step)] * len(params),
            lr=0.1,
            lr_decay=lr_decay,
            eps=1e-10,
            weight_decay=0.0,
            maximize=False,
        )
    for p, r in zip(params, ref):
        assert torch.equal(p, r.detach()), float((p - r.detach()).abs().max())


def test_adagrad_decayed_rate_is_one_fma_in_the_c_text():
    text = CKernelPrinter({"dtype": "float64"}).kernel(rules.get("adagrad"), variant_of(rules.get("adagrad"), {}))
    assert "const double eta_t = lr/(fma(lr_decay, step - 1, 1));" in text
    plain = rules.adagrad(scalar_contraction="none")
    assert "const double eta_t = lr/(lr_decay*(step - 1) + 1);" in CKernelPrinter({"dtype": "float64"}).kernel(
        plain, variant_of(plain, {})
    )


# -- the build cache -----------------------------------------------------------------------------
def test_build_cache_miss_then_hit(tmp_path):
    src = flaunch.source("adagrad")
    first = fbuild.load("cache_test", src, directory=tmp_path)
    assert not first.cached and first.path.exists()
    again = fbuild.load("cache_test", src, directory=tmp_path)
    assert again is first  # this process's memo
    fbuild.forget_loaded()
    hit = fbuild.load("cache_test", src, directory=tmp_path)
    assert hit.cached and hit.path == first.path
    other = fbuild.load("cache_test", src + "\n/* changed */\n", directory=tmp_path)
    assert not other.cached and other.path != first.path  # the key hashes the source
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.path.name, other.path.name])  # no temp files


def test_key_covers_compiler_flags_and_cpu(monkeypatch):
    cc = fbuild.find_compiler()
    if cc is None:
        pytest.skip("no C compiler here")
    base = fbuild.cache_key("x", cc, fbuild.BASE_FLAGS)
    assert fbuild.cache_key("x", cc, fbuild.BASE_FLAGS + ("-fopenmp",)) != base
    monkeypatch.setattr(fbuild, "cpu_identity", lambda: "another cpu")
    assert fbuild.cache_key("x", cc, fbuild.BASE_FLAGS) != base


def test_publish_is_atomic_and_a_failed_build_leaves_nothing(tmp_path, monkeypatch):
    replaced = []
    real = os.replace
    monkeypatch.setattr(fbuild.os, "replace", lambda a, b: (replaced.append((Path(a), Path(b))), real(a, b))[1])
    fbuild.load("atomic_test", flaunch.source("rmsprop"), directory=tmp_path)
    assert len(replaced) == 1 and replaced[0][1].parent == tmp_path and replaced[0][0].parent.parent == tmp_path
    with pytest.raises(fbuild.BuildError, match="failed to build"):
        fbuild.load("broken", "this is not C;", directory=tmp_path)
    assert not any("broken" in p.name for p in tmp_path.iterdir())


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path))
    assert fbuild.cache_dir() == tmp_path


def test_no_compiler_falls_back_to_the_torch_kernels_with_one_warning(monkeypatch):
    gen = torch.Generator().manual_seed(90)
    monkeypatch.setattr(fbuild, "find_compiler", lambda: None)
    monkeypatch.setattr(flaunch, "_KERNELS", {})
    p = torch.randn(10, requires_grad=True, generator=gen)
    q = p.detach().clone().requires_grad_(True)
    opt = symopt_optim.Adagrad([p], fused=True)
    ref = torch.optim.Adagrad([q], foreach=False)
    with pytest.warns(RuntimeWarning, match="fused CPU backend unavailable .*Torch backend"):
        for _ in range(3):
            p.grad = torch.ones(10)
            q.grad = torch.ones(10)
            opt.step()
            ref.step()
    assert torch.equal(p.detach(), q.detach())


# -- the launcher's checks ---------------------------------------------------------------------------
def test_launcher_validation(adagrad_kernel):
    gen = torch.Generator().manual_seed(91)
    p = torch.randn(8, generator=gen)
    ok = dict(params=[p], grads=[torch.randn(8, generator=gen)], states={"sum": [torch.zeros(8)]}, steps=[1.0])

    def call(**change):
        args = dict(ok, **change)
        adagrad_kernel._last = None
        adagrad_kernel.step(args["params"], args["grads"], args["states"], args["steps"])

    call()
    with pytest.raises(FusedLaunchError, match="float32, float64, float16 or bfloat16"):
        ints = [torch.arange(8, dtype=torch.int32)]
        call(
            params=[torch.arange(8, dtype=torch.int32)], grads=ints, states={"sum": [torch.zeros(8, dtype=torch.int32)]}
        )
    with pytest.raises(FusedLaunchError, match="dtype torch.float64 but params"):
        call(grads=[torch.randn(8, dtype=torch.float64, generator=gen)])
    with pytest.raises(FusedLaunchError, match="CPU only"):
        call(grads=[torch.empty(8, device="meta")])
    with pytest.raises(FusedLaunchError, match="not contiguous"):
        call(grads=[torch.randn(16, generator=gen)[::2]])
    with pytest.raises(FusedLaunchError, match="shape"):
        call(grads=[torch.randn(9, generator=gen)])
    storage = torch.zeros(12)
    with pytest.raises(FusedLaunchError, match="overlap"):
        call(params=[storage[:8]], states={"sum": [storage[4:]]})
    with pytest.raises(FusedLaunchError, match="one entry per param"):
        call(steps=[1.0, 2.0])
    with pytest.raises(FusedLaunchError, match="state buffer"):
        call(states={})
    with pytest.raises(FusedLaunchError, match="uses the step count"):
        call(steps=None)


def test_launcher_keeps_references_and_reuses_its_plan(adagrad_kernel):
    gen = torch.Generator().manual_seed(92)
    p, s = torch.randn(100, generator=gen), torch.zeros(100)
    g = torch.randn(100, generator=gen)
    adagrad_kernel._last = None
    adagrad_kernel.step([p], [g], {"sum": [s]}, [1.0])
    plan = adagrad_kernel._last
    assert plan.params == (p,) and plan.states["sum"] == (s,)  # strong references to what it points to
    adagrad_kernel.step([p], [g], {"sum": [s]}, [2.0])
    assert adagrad_kernel._last is plan  # same params and states: the plan is reused
    adagrad_kernel.step([p], [g.clone()], {"sum": [s]}, [3.0])
    assert adagrad_kernel._last is plan  # a new gradient is validated, the plan kept
    with pytest.raises(FusedLaunchError, match=r"grads\[0\] overlaps a param or state"):
        adagrad_kernel.step([p], [s], {"sum": [s]}, [4.0])
    with pytest.raises(FusedLaunchError, match="not contiguous"):
        adagrad_kernel.step([p], [torch.randn(200, generator=gen)[::2]], {"sum": [s]}, [4.0])
    p.data = torch.randn(100, generator=gen)  # the param moved: planned again
    adagrad_kernel.step([p], [g], {"sum": [s]}, [4.0])
    assert adagrad_kernel._last is not plan and adagrad_kernel._last.param_pointers == [p.data_ptr()]


def test_chunk_rows_cover_every_element_in_balanced_pieces():
    from symopt.fused.launcher import CHUNK, chunk_rows

    sizes = [0, 1, CHUNK, CHUNK + 1, 100_000, 3 * CHUNK - 7]
    rows = chunk_rows(sizes)
    for i, n in enumerate(sizes):
        mine = [(b, m) for t, b, m in rows if t == i]
        assert sum(m for _, m in mine) == n and all(0 < m <= CHUNK for _, m in mine)
        assert all(b1 + m1 == b2 for (b1, m1), (b2, _) in zip(mine, mine[1:]))  # contiguous, in order
        assert not mine or max(m for _, m in mine) - min(m for _, m in mine) <= 1  # equal pieces


def test_serial_build_when_openmp_is_missing(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(93)
    monkeypatch.setattr(fbuild, "openmp_works", lambda cc: False)
    lib = fbuild.load("serial_test", flaunch.source("adagrad"), directory=tmp_path)
    assert not lib.openmp and not lib.cached
    kernel = FusedKernel("adagrad", library=lib)
    p = torch.randn(1000, dtype=torch.float64, generator=gen)
    q = p.clone().requires_grad_(True)
    ref = torch.optim.Adagrad([q], fused=True)
    g = torch.randn(1000, dtype=torch.float64, generator=gen)
    q.grad = g.clone()
    ref.step()
    kernel.step([p], [g], {"sum": [torch.zeros_like(p)]}, [1.0])
    assert torch.equal(p, q.detach())


# -- the drop-ins' fused=True: which params take the C kernel, and every structural variant ----------
@pytest.fixture
def launches(monkeypatch):
    """Every fused C launch, as its :class:`~symopt.fused.launcher.LaunchPlan` (the kept group plan
    and the per-dtype launch both end in ``LaunchPlan.call``), one per call."""
    seen: list[flaunch.LaunchPlan] = []
    real = flaunch.LaunchPlan.call

    def call(plan, *args, **kwargs):
        seen.append(plan)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(flaunch.LaunchPlan, "call", call)
    return seen


def _mixed(dtype, seed):
    """Contiguous and non-contiguous (transposed) params: (bases, which are non-contiguous)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [((37, 3), False), ((6, 5), True), ((1000,), False), ((), False), ((9, 4), True)]
    return [torch.randn(s, generator=gen, dtype=dtype) for s, _ in shapes], [t for _, t in shapes]


def _views(bases, transposed):
    """Fresh leaf params with the layouts of ``_mixed``: a transposed one is a non-contiguous view."""
    return [(b.clone().t() if t else b.clone()).requires_grad_(True) for b, t in zip(bases, transposed)]


def _step_all(optimizers, params_lists, dtype, seed, steps):
    for k in range(steps):
        gen = torch.Generator().manual_seed(seed + k)
        grads = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in params_lists[0]]
        for params in params_lists:
            for p, g in zip(params, grads):
                p.grad = g.clone()  # a contiguous gradient, as autograd gives a transposed param
        for opt in optimizers:
            opt.step()


@pytest.mark.parametrize("dtype", DTYPES)
def test_adagrad_mixed_group_contiguous_params_take_the_c_kernel(dtype, launches):
    bases, transposed = _mixed(dtype, 5)
    mine, loop, fused = _views(bases, transposed), _views(bases, transposed), _views(bases, transposed)
    assert [not p.is_contiguous() for p in mine] == transposed
    kw = dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)
    opts = [
        symopt_optim.Adagrad(mine, fused=True, **kw),
        torch.optim.Adagrad(loop, foreach=False, **kw),
        torch.optim.Adagrad(fused, fused=True, **kw),
    ]
    steps = 6
    _step_all(opts, [mine, loop, fused], dtype, 70, steps)
    contiguous = [p for p, t in zip(mine, transposed) if not t]
    assert len(launches) == steps and all(
        list(plan.params) == contiguous for plan in launches
    )  # never a non-contiguous one
    for y, x_loop, x_fused, t in zip(mine, loop, fused, transposed):
        x, ref = (x_loop, opts[1]) if t else (x_fused, opts[2])  # the for-loop kernels, or the C kernel
        assert torch.equal(y.detach(), x.detach())
        assert torch.equal(opts[0].state[y]["sum"], ref.state[x]["sum"])
        assert float(opts[0].state[y]["step"]) == float(ref.state[x]["step"]) == steps


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_mixed_group_contiguous_params_take_the_c_kernel(dtype, launches):
    bases, transposed = _mixed(dtype, 6)
    mine, loop = _views(bases, transposed), _views(bases, transposed)
    kw = dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)
    opts = [
        symopt_optim.RMSprop([{"params": mine, "fused": True}], **kw),
        torch.optim.RMSprop(loop, foreach=False, **kw),
    ]
    steps = 5
    _step_all(opts, [mine, loop], dtype, 80, steps)
    contiguous = [i for i, t in enumerate(transposed) if not t]
    assert len(launches) == steps and all(list(plan.params) == [mine[i] for i in contiguous] for plan in launches)
    # the contiguous params: torch's for-loop operations with a correctly rounded sqrt (the C loop), bit for bit
    expected = [bases[i].clone() for i in contiguous]
    grads = []
    for k in range(steps):
        gen = torch.Generator().manual_seed(80 + k)
        g = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in mine]
        grads.append([g[i] for i in contiguous])
    reference = _rmsprop_sequence(expected, grads, _correct_sqrt, **kw)
    for j, i in enumerate(contiguous):
        assert torch.equal(mine[i].detach(), expected[j])
        assert torch.equal(opts[0].state[mine[i]]["square_avg"], reference[j]["v"])
        assert torch.equal(opts[0].state[mine[i]]["momentum_buffer"], reference[j]["b"])
    # the non-contiguous ones: the generated for-loop kernels, bit for bit with torch.optim's for-loop
    for y, x, t in zip(mine, loop, transposed):
        if t:
            assert torch.equal(y.detach(), x.detach())
            assert all(torch.equal(opts[0].state[y][k], v) for k, v in opts[1].state[x].items())


def _variants(family):
    """Every structural variant of the fused kernels (symopt.verify.symbolic.structural_variants)
    as numbers, and Adagrad's lr_decay off and on (its step size reads it)."""
    from symopt.verify.symbolic import structural_variants

    on = {"weight_decay": 0.1, "momentum": 0.9}
    out = [
        {k: (on[k] if isinstance(v, sp.Symbol) else v) for k, v in variant.items()}
        for variant in structural_variants(rules.get(family))
    ]
    if family == "adagrad":
        out = [dict(v, lr_decay=d) for v in out for d in (0.0, 0.05)]
    return out


def _label(kw):
    return "-".join(k for k, v in kw.items() if v) or "plain"


def _fused_dropin(family, dtype, kw, steps=8):
    """symopt's fused=True drop-in stepped on contiguous params beside its reference: torch's
    fused Adagrad, or for RMSprop (which torch has no fused path for) torch's for-loop operations
    with a correctly rounded sqrt (:func:`_rmsprop_sequence`). The worst normwise ULP over params
    and every state buffer."""
    params0 = _tensors(dtype, 7)
    b = [p.clone().requires_grad_(True) for p in params0]
    if family == "adagrad":
        a = [p.clone().requires_grad_(True) for p in params0]
        ref, mine = torch.optim.Adagrad(a, fused=True, **kw), symopt_optim.Adagrad(b, fused=True, **kw)
        _step_all([ref, mine], [a, b], dtype, 500, steps)
        pairs = [(y.detach(), x.detach()) for x, y in zip(a, b)]
        pairs += [(mine.state[y][k], v) for x, y in zip(a, b) for k, v in ref.state[x].items() if k != "step"]
        assert all(set(mine.state[y]) == set(ref.state[x]) for x, y in zip(a, b))
    else:
        mine = symopt_optim.RMSprop([{"params": b, "fused": True}], **kw)
        _step_all([mine], [b], dtype, 500, steps)
        expected = [p.clone() for p in params0]
        reference = _rmsprop_sequence(
            expected, [_same_draws(dtype, 500 + k) for k in range(steps)], _correct_sqrt, **kw
        )
        names = {"v": "square_avg", "m": "grad_avg", "b": "momentum_buffer"}
        pairs = [(y.detach(), x) for x, y in zip(expected, b)]
        pairs += [
            (mine.state[y][names[k]], v)
            for st, y in zip(reference, b)
            for k, v in st.items()
            if names[k] in mine.state[y]
        ]
    return max(normwise_ulp(x, y) for x, y in pairs)


def _same_draws(dtype, seed):
    """The gradients :func:`_step_all` draws at the step seeded ``seed``, for :data:`SHAPES`."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]


def _rms_kw(kw):
    return dict(kw, alpha=0.3 if kw.get("maximize") else 0.99)  # alpha 0.3: lerp's large-weight formula


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "family,kw",
    [(f, kw) for f in ("adagrad", "rmsprop") for kw in _variants(f)],
    ids=lambda x: x if isinstance(x, str) else _label(x),
)
def test_every_structural_variant_of_the_fused_dropins_against_torch(family, kw, dtype, launches):
    """Bitwise against torch.optim.Adagrad(fused=True); RMSprop bitwise against torch's for-loop
    operations with a correctly rounded sqrt, and within the verify tolerance (the row of
    `symopt verify`, scaled to the measured conditioning where the case amplifies) of
    torch.optim.RMSprop's for-loop itself."""
    from symopt.verify import runner
    from symopt.verify.cases import Case

    kw = _rms_kw(kw) if family == "rmsprop" else kw
    assert _fused_dropin(family, dtype, kw) == 0.0
    assert len(launches) == 8  # one C launch per step: the fused kernel did the work
    if family == "rmsprop":
        case = Case("rmsprop", f"variant {_label(kw)}", kw, shapes=tuple(SHAPES), seed=7)
        row = runner.verify_case(case, runner.IMPLEMENTATIONS["fused"], dtype, steps=8)
        assert row.reference == runner.FOR_LOOP and row.status == "pass", row


def _maximize_sign_flipped(source: str) -> str:
    """The Adagrad C source with ``g <- -g`` dropped from the maximize variant without weight decay."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        if line.startswith("void "):
            inside = line.startswith("void symopt_adagrad_maximize_")
        if inside and "grad = -grad;" in line:
            line = line.replace("grad = -grad;", "grad = grad;")
        out.append(line)
    return "".join(out)


def test_a_kernel_with_the_maximize_sign_flipped_fails_the_variant_check_and_verify(tmp_path, monkeypatch, launches):
    """A copy of kernels/c/adagrad.c with the maximize sign flipped, built by symopt.fused.build
    from another directory: the variant check and `symopt verify` rows fail on it."""
    from symopt.verify import runner
    from symopt.verify.cases import edges

    committed = package_root() / "kernels" / "c" / "adagrad.c"
    mutant_source = tmp_path / "adagrad.c"
    mutant_source.write_text(_maximize_sign_flipped(committed.read_text(encoding="utf-8")), encoding="utf-8")
    assert mutant_source.read_text() != committed.read_text()
    library = fbuild.load("mutant_adagrad", mutant_source.read_text(encoding="utf-8"), directory=tmp_path / "cache")
    monkeypatch.setattr(flaunch, "_KERNELS", {"adagrad": FusedKernel("adagrad", library=library)})
    assert _fused_dropin("adagrad", torch.float64, {"maximize": True, "weight_decay": 0, "lr_decay": 0.0}) > 0
    assert launches and all(plan.kernel.library is library for plan in launches)  # the mutant ran
    assert (
        _fused_dropin("adagrad", torch.float64, {"maximize": False, "weight_decay": 0, "lr_decay": 0.0}) == 0
    )  # only maximize is wrong
    case = next(c for c in edges("adagrad") if c.name == "edge: variant maximize")
    for dtype in DTYPES:
        row = runner.verify_case(case, runner.IMPLEMENTATIONS["fused"], dtype, steps=10)
        assert row.status == "FAIL", row


def test_a_param_made_non_contiguous_in_place_leaves_the_kept_plan_for_the_torch_kernels():
    """``p.data = p.data.t()`` keeps the address the plan points to; the C kernel reads memory in
    order, so the param must go to the for-loop kernels from then on (torch's fused path is off
    on non-contiguous params: its for-loop is the reference there)."""
    gen = torch.Generator().manual_seed(94)
    base = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    a, b = base.clone().requires_grad_(True), base.clone().requires_grad_(True)
    ref, mine = torch.optim.Adagrad([a], fused=True), symopt_optim.Adagrad([b], fused=True)
    for k in range(5):
        if k == 2:
            loop = torch.optim.Adagrad([a], foreach=False)
            loop.load_state_dict(ref.state_dict())
            loop.param_groups[0]["fused"] = False  # the state dict brought fused=True along
            ref, address = loop, b.data_ptr()
            a.data, b.data = a.data.t(), b.data.t()
            assert not b.is_contiguous() and b.data_ptr() == address
        g = torch.randn(4, 4, generator=gen, dtype=torch.float64)
        a.grad, b.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
        assert torch.equal(a.detach(), b.detach()), k
        assert torch.equal(ref.state[a]["sum"], mine.state[b]["sum"])


# -- faults: no fault in the cache, the compiler or the disk crashes a step -------------------------
# Each test injects one fault (env vars, monkeypatch, files in tmp dirs) and steps the drop-ins:
# before symopt.fused handled them, each of these raised out of step() (or killed the process).
import sys  # noqa: E402
import tempfile  # noqa: E402

from symopt.verify.tolerances import tolerance  # noqa: E402

FAULT_STEPS = 6


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A process that has loaded, warned about and privately built nothing yet, with its cache in
    ``tmp_path / "cache"`` and its temporary files in ``tmp_path / "tmp"``."""
    monkeypatch.setattr(fbuild, "_LOADED", {})
    monkeypatch.setattr(fbuild, "_WARNED", set(), raising=False)
    monkeypatch.setattr(fbuild, "_PRIVATE", [], raising=False)
    monkeypatch.setattr(flaunch, "_KERNELS", {})
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _forget_process(monkeypatch):
    """As a new process would start: nothing loaded, no kernel."""
    monkeypatch.setattr(fbuild, "_LOADED", {})
    monkeypatch.setattr(flaunch, "_KERNELS", {})


def _train(make, family, dtype, steps=FAULT_STEPS, seed=8):
    """Params (:data:`SHAPES`) stepped ``steps`` times by ``make(params)`` on seeded gradients."""
    params = [p.clone().requires_grad_(True) for p in _tensors(dtype, seed)]
    opt = make(params)
    for k in range(steps):
        for p, g in zip(params, _tensors(dtype, 900 + k)):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in params], opt


def _symopt(family, fused):
    if family == "adagrad":
        return lambda ps: symopt_optim.Adagrad(ps, fused=fused, lr_decay=0.01, weight_decay=0.1)
    return lambda ps: symopt_optim.RMSprop([{"params": ps, "fused": fused}], centered=True, momentum=0.9)


def _torch(family, **path):
    if family == "adagrad":
        return lambda ps: torch.optim.Adagrad(ps, lr_decay=0.01, weight_decay=0.1, **path)
    return lambda ps: torch.optim.RMSprop(ps, centered=True, momentum=0.9, **path)


def _fused_reference(family, dtype):
    """What the fused C path computes, from independent sources: torch.optim.Adagrad(fused=True)
    (bitwise with it), and for RMSprop torch's for-loop operations with a correctly rounded sqrt."""
    if family == "adagrad":
        return _train(_torch("adagrad", fused=True), family, dtype)[0]
    expected = [p.clone() for p in _tensors(dtype, 8)]
    _rmsprop_sequence(
        expected, [_tensors(dtype, 900 + k) for k in range(FAULT_STEPS)], _correct_sqrt, centered=True, momentum=0.9
    )
    return expected


def _bitwise(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _assert_the_torch_kernels_stepped(params, family, dtype):
    """A fallback's result: bitwise the generated Torch kernels' (= torch.optim's for-loop, their
    reference), and within the verify tolerance of the fused C path (the two round differently:
    torch's fused Adagrad and eager sqrt are not its for-loop), finite."""
    loop = _train(_torch(family, foreach=False), family, dtype)[0]
    assert _bitwise(params, loop)
    fused = _fused_reference(family, dtype)
    ulp = max(normwise_ulp(x, y) for x, y in zip(params, fused) if x.numel())
    assert all(torch.isfinite(x).all() for x in params)
    assert 0 < ulp <= tolerance(dtype, "fused", "torch.optim", FAULT_STEPS, same_operations=False), ulp


def _assert_the_c_kernel_stepped(params, family, dtype, launches):
    assert launches and _bitwise(params, _fused_reference(family, dtype))


def _cached_entry(cache, family="adagrad"):
    """Build ``family``'s library into the entry of ``cache`` that a load looks for, without
    loading it in this process (the loader would hand a later load of that path its first
    mapping: the damage must meet a process that has not loaded the entry, as a new one)."""
    cc, source = fbuild.find_compiler(), flaunch.source(family)
    if cc is None:
        pytest.skip("no C compiler here")
    flags = fbuild.BASE_FLAGS + (fbuild.OPENMP_FLAGS if fbuild.openmp_works(cc) else fbuild.SERIAL_FLAGS)
    path = cache / f"symopt_{family}-{fbuild.cache_key(source, cc, flags)}.so"
    fbuild.build(source, path, cc, flags)
    return path


def _damage(path, data):
    """The entry replaced by ``data`` as a new file (a process that has the old one mapped keeps it)."""
    path.unlink()
    path.write_bytes(data)


def _fault_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("length", [0, 100])
def test_fault_a_truncated_cached_library_is_rebuilt_once_in_place(fresh, monkeypatch, launches, length):
    """Old: ``OSError: ...: file too short`` (0 bytes) / ``cannot read file data`` (100) from step()."""
    path = _cached_entry(fresh)
    _damage(path, path.read_bytes()[:length])
    builds, replaced, real_build, real_replace = [], [], fbuild.build, os.replace
    monkeypatch.setattr(fbuild, "build", lambda *a: (builds.append(a[1]), real_build(*a))[1])
    monkeypatch.setattr(fbuild.os, "replace", lambda a, b: (replaced.append(Path(b)), real_replace(a, b))[1])
    launches.clear()
    with pytest.warns(RuntimeWarning) as record:
        params, _ = _train(_symopt("adagrad", True), "adagrad", torch.float64)
        _train(_symopt("adagrad", True), "adagrad", torch.float64)  # a second optimizer: no second rebuild
    (message,) = _fault_warnings(record)
    assert f"cached fused kernel library {path} failed to load" in message and "rebuilt it" in message
    assert ("file too short" if length == 0 else "truncated") in message
    assert builds == [path] and replaced == [path]  # rebuilt once, published over the entry atomically
    assert flaunch._KERNELS["adagrad"].library.path == path and not flaunch._KERNELS["adagrad"].library.cached
    _assert_the_c_kernel_stepped(params, "adagrad", torch.float64, launches)
    _forget_process(monkeypatch)
    assert fbuild.load("symopt_adagrad", flaunch.source("adagrad")).cached  # the entry loads again
    assert sorted(p.name for p in fresh.iterdir()) == [path.name]  # no temporary files left


def test_fault_a_rebuilt_library_that_fails_to_load_too_falls_back_to_the_torch_kernels(fresh, monkeypatch, launches):
    """A disk that loses what is written: the cached entry and its rebuild are both empty. Old:
    ``OSError: ...: file too short`` from step()."""
    path = _cached_entry(fresh)
    _damage(path, b"")
    builds, real_build = [], fbuild.build

    def losing_build(source, out, cc, flags):
        builds.append(out)
        real_build(source, out, cc, flags)
        _damage(out, b"")

    monkeypatch.setattr(fbuild, "build", losing_build)
    launches.clear()
    with pytest.warns(RuntimeWarning) as record:
        params, _ = _train(_symopt("adagrad", True), "adagrad", torch.float32)
        _train(_symopt("adagrad", True), "adagrad", torch.float32)
    (message,) = _fault_warnings(record)  # one warning per process and cause
    assert message.startswith("symopt fused CPU backend unavailable (the fused kernel library ")
    assert (
        "fails to load, rebuilt or not: file too short for an ELF header (0 bytes)); using the Torch backend" in message
    )
    assert "Fix: set SYMOPT_CACHE_DIR to a writable directory" in message
    assert builds == [path] and not launches  # rebuilt once in this process, and never launched
    _assert_the_torch_kernels_stepped(params, "adagrad", torch.float32)


#: a process that imports only symopt.fused.build (the standard library: it starts in a tenth of a
#: second) and loads one library from a cache: argv = build.py, source file, cache [, barrier, n]
_LOAD_SCRIPT = r"""
import hashlib, importlib.util, os, pathlib, sys, time
spec = importlib.util.spec_from_file_location("fused_build", sys.argv[1])
build = sys.modules["fused_build"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)
source, cache = pathlib.Path(sys.argv[2]).read_text(), pathlib.Path(sys.argv[3])
if len(sys.argv) > 4:  # a barrier: every process starts its load at once
    ready, n = pathlib.Path(sys.argv[4]), int(sys.argv[5])
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(ready.iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.001)
library = build.load("symopt_adagrad", source, directory=cache)
library.handle.symopt_adagrad_plain_f64  # its functions resolve
print(library.path, library.cached, hashlib.sha256(library.path.read_bytes()).hexdigest())
"""


def _load_in_a_new_process(tmp_path, cache, *barrier):
    source = tmp_path / "adagrad.c"
    source.write_text(flaunch.source("adagrad"), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-c", _LOAD_SCRIPT, fbuild.__file__, str(source), str(cache), *map(str, barrier)],
        env=dict(os.environ, TMPDIR=str(tmp_path / "tmp")),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _adagrad_bitwise_with_torch_fused(library):
    """One of the library's kernels stepped 3 times on 1000 float64 elements, bitwise as
    torch.optim.Adagrad(fused=True)."""
    gen = torch.Generator().manual_seed(95)
    p = torch.randn(1000, dtype=torch.float64, generator=gen)
    q = p.clone().requires_grad_(True)
    ref, kernel, state = (
        torch.optim.Adagrad([q], fused=True),
        FusedKernel("adagrad", library=library),
        torch.zeros_like(p),
    )
    for step in range(1, 4):
        g = torch.randn(1000, dtype=torch.float64, generator=gen)
        q.grad = g.clone()
        ref.step()
        kernel.step([p], [g], {"sum": [state]}, [float(step)])
    return torch.equal(p, q.detach()) and torch.equal(state, ref.state[q]["sum"])


def test_fault_a_library_truncated_past_its_segments_is_rebuilt_not_a_bus_error(fresh, tmp_path):
    """A library cut at half its length keeps a valid ELF header: dlopen maps it, and the process
    dies of SIGBUS touching the missing pages (old: return code -7, nothing to catch). Its header
    tables and segments say how long it must be: rebuilt, in a new process."""
    entry = _cached_entry(fresh)
    data = entry.read_bytes()
    _damage(entry, data[: len(data) // 2])
    proc = _load_in_a_new_process(tmp_path, fresh)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (proc.returncode, err[-2000:])
    path, cached, _ = out.split()
    assert path == str(entry) and cached == "False" and entry.read_bytes() == data
    assert "failed to load (truncated: " in err and "rebuilt it" in err
    library = fbuild.load("symopt_adagrad", flaunch.source("adagrad"))
    assert library.cached and library.path == entry and _adagrad_bitwise_with_torch_fused(library)


def test_fault_elf_truncation_finds_every_cut(tmp_path):
    """Every prefix of a built library is found short (the empty file, the magic number alone, 64
    cuts across its length); the whole file and a file that is not ELF (dlopen decides) are not."""
    library = fbuild.load("t_adagrad_elf", flaunch.source("adagrad"), directory=tmp_path)
    data = library.path.read_bytes()
    cut = library.path.with_name("cut.so")
    for length in sorted({0, 4, 16, 63, 64, len(data) - 1, *range(0, len(data), max(1, len(data) // 64))}):
        cut.write_bytes(data[:length])
        assert fbuild.elf_truncation(cut) is not None, length
    cut.write_bytes(data)
    assert fbuild.elf_truncation(cut) is None
    cut.write_bytes(b"not a library at all\n")
    assert fbuild.elf_truncation(cut) is None


def _not_a_directory(tmp_path):
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "cache"


@pytest.mark.parametrize("where", ["/proc/nonexistent", "under a file"])
def test_fault_an_unwritable_cache_dir_builds_in_a_private_temporary_one(fresh, monkeypatch, tmp_path, launches, where):
    """Old: ``FileNotFoundError: [Errno 2] No such file or directory: '/proc/nonexistent'`` /
    ``NotADirectoryError`` from step()."""
    cache = Path(where) if where.startswith("/") else _not_a_directory(tmp_path)
    monkeypatch.setenv("SYMOPT_CACHE_DIR", str(cache))
    families = ("adagrad", "rmsprop") if where.startswith("/") else ("adagrad",)
    with pytest.warns(RuntimeWarning) as record:
        stepped = {f: _train(_symopt(f, True), f, torch.float64)[0] for f in families}
    (message,) = _fault_warnings(record)  # one cause, one warning (for two libraries built)
    assert f"fused kernel cache directory {cache} cannot be written (" in message
    assert "building in the private temporary directory" in message and "Fix: set SYMOPT_CACHE_DIR" in message
    (private,) = {flaunch._KERNELS[f].library.path.parent for f in families}
    assert private.parent == tmp_path / "tmp" and private.name.startswith("symopt-fused-") and str(private) in message
    for family, params in stepped.items():
        _assert_the_c_kernel_stepped(params, family, torch.float64, launches)


def test_fault_the_private_directory_is_removed_at_exit(tmp_path):
    """Old: ``FileNotFoundError`` (return code 1)."""
    (tmp_path / "tmp").mkdir()
    proc = _load_in_a_new_process(tmp_path, "/proc/nonexistent")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    path = Path(out.split()[0])
    assert path.parent.parent == tmp_path / "tmp" and path.parent.name.startswith("symopt-fused-")
    assert not path.parent.exists() and err.count("cannot be written") == 1


def _failing_compiler(tmp_path):
    script = tmp_path / "broken-cc"
    script.write_text("#!/bin/sh\necho 'cc1: fatal error: simulated failure' >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script), "cc1: fatal error: simulated failure"


@pytest.mark.parametrize("compiler", ["/bin/false", "a script that fails"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fault_a_failing_compiler_falls_back_to_the_torch_kernels_with_one_warning(
    fresh, monkeypatch, tmp_path, launches, compiler, dtype
):
    """Old: ``BuildError: /bin/false failed to build symopt_adagrad-....so:`` from step()."""
    if compiler.startswith("/"):
        if not os.access(compiler, os.X_OK):
            pytest.skip(f"no {compiler} here")
        cc, said = compiler, "exit status 1, no output"
    else:
        cc, said = _failing_compiler(tmp_path)
    monkeypatch.setenv("CC", cc)
    builds, real_build = [], fbuild.build
    monkeypatch.setattr(fbuild, "build", lambda *a: (builds.append(a[1]), real_build(*a))[1])
    with pytest.warns(RuntimeWarning) as record:
        adagrad, _ = _train(_symopt("adagrad", True), "adagrad", dtype)
        rmsprop, _ = _train(_symopt("rmsprop", True), "rmsprop", dtype)
        _train(_symopt("adagrad", True), "adagrad", dtype)  # tried once per process
    (message,) = _fault_warnings(record)  # one cause (the compiler), one warning
    assert message == (
        f"symopt fused CPU backend unavailable (compiler {cc} failed: {said}); using the Torch "
        "backend (the generated Torch kernels) instead. Fix: set CC to a working C compiler or pass fused=False"
    )
    assert len(builds) == 2 and not launches  # one try per family
    _assert_the_torch_kernels_stepped(adagrad, "adagrad", dtype)
    _assert_the_torch_kernels_stepped(rmsprop, "rmsprop", dtype)


def test_fault_a_source_the_compiler_rejects_falls_back_naming_a_bug(fresh, monkeypatch, launches):
    """A working compiler that rejects the generated source (a printer bug): the same fallback, and
    the warning says it is symopt's bug. Old: ``BuildError`` from step()."""
    if fbuild.find_compiler() is None:
        pytest.skip("no C compiler here")
    monkeypatch.setattr(flaunch, "source", lambda family: "this is not C;\n")
    with pytest.warns(RuntimeWarning) as record:
        params, _ = _train(_symopt("adagrad", True), "adagrad", torch.float64)
    (message,) = _fault_warnings(record)
    assert "rejected the generated source of symopt_adagrad-" in message and "error" in message
    assert message.endswith("Fix: this is a symopt bug, please report it; pass fused=False meanwhile")
    assert not launches
    _assert_the_torch_kernels_stepped(params, "adagrad", torch.float64)


def test_fault_four_processes_building_into_one_empty_cache_at_once(fresh, tmp_path):
    """Four processes start building the same library into one empty cache at the same moment (a
    barrier): each loads a complete library without a warning, and the cache ends with one
    library, which steps bitwise as torch.optim.Adagrad(fused=True), and no temporary files.
    Bounded: 120 s. (Passes on the old build.py too: publishing was already atomic.)"""
    cache, ready = fresh, tmp_path / "ready"
    cache.mkdir()
    ready.mkdir()
    procs = [_load_in_a_new_process(tmp_path, cache, ready, 4) for _ in range(4)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err[-2000:] for _, err in results]
    assert [err for _, err in results] == [""] * 4
    (library,) = sorted(cache.iterdir())
    assert {tuple(out.split()[::2]) for out, _ in results} == {(str(library), _sha256(library))}
    assert _adagrad_bitwise_with_torch_fused(fbuild.load("symopt_adagrad", flaunch.source("adagrad"), directory=cache))


def _sha256(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
