"""The fused GPU backend: the Triton printer's text and strictness (always: printing needs no
Triton), the committed modules (fresh, importable without Triton), the numbers under Triton's
interpreter (``TRITON_INTERPRET=1``, in a subprocess, when Triton is importable), and on CUDA
against torch.optim (``cuda`` marker).

Bounds. Under the interpreter every Triton operation is a NumPy operation in the element type, so
the kernels must be *bitwise* equal to an independent NumPy transcription of torch's op order with
plain (unfused) operations and correctly rounded √ and ÷ (``_reference_*`` below). Against
torch.optim — whose CPU addcmul/add(alpha)/lerp fuse a multiply-add and whose CUDA build may let
nvcc contract some (not inspected: no GPU here) — the bound is ``ULP_BOUND`` normwise ULPs
(:func:`symopt.verify.ulp.normwise_ulp`, over the whole group) after ``STEPS`` steps, for the
params and every state.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from symopt import rules
from symopt.codegen.printers._common import CodegenError
from symopt.codegen.printers.c import variant_of, variants
from symopt.codegen.printers.triton import TritonKernelPrinter, render_sources
from symopt.codegen.render import KERNELS, package_root

HAVE_TRITON = importlib.util.find_spec("triton") is not None
needs_triton = pytest.mark.skipif(
    not HAVE_TRITON, reason="triton is not installed (pip install triton to run the interpreter tests)"
)
ROOT = Path(__file__).resolve().parents[1]
ULP_BOUND = 8
STEPS = 3
SIZES = (0, 1, 1000, 9000)  # empty, one element, a tail-only tile, a chunk boundary (8192) + a tail
HYPER = {
    "adagrad": dict(lr=0.1, lr_decay=0.01, eps=1e-10, weight_decay=0.1),
    "rmsprop": dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.1, momentum=0.9),
}
STATE_KEYS = {"adagrad": ("sum",), "rmsprop": ("square_avg", "grad_avg", "momentum_buffer")}


# -- the printer's text ---------------------------------------------------------------------------
def _kernel(family: str, **switch) -> str:
    rule = rules.get(family)
    return TritonKernelPrinter().kernel(rule, variant_of(rule, switch))


def test_adagrad_plain_text_is_one_fused_kernel_with_correct_rounding_and_no_fma():
    text = _kernel("adagrad")
    assert text.count("@triton.jit") == 2  # the element-wise update and the kernel
    assert "def symopt_adagrad_plain(chunks, offsets, scalars, n_tensors, param_ptr, grad_ptr, state_sum_ptr," in text
    assert text.count("tl.program_id(0)") == 1  # one program per chunk-table row
    assert "tensor = tl.load(chunks + row)" in text and "length = tl.load(chunks + row + 2)" in text
    assert "step = tl.load(scalars + 3 + tensor)" in text  # after lr, lr_decay, eps
    assert "eta_t = _div_rn(lr, lr_decay*(step - 1) + 1)" in text  # torch's clr, float64
    assert "c0 = (eps).to(ty)" in text and "c1 = (-eta_t).to(ty)" in text
    assert "state_sum = state_sum + grad*grad" in text  # addcmul_(g, g, value=1), unfused
    assert "sigma = _sqrt_rn(state_sum)" in text
    assert "param = param + _div_rn(c1*grad, sigma)" in text  # addcdiv_(g, σ, value=-clr)
    code = "\n".join(line.split("#")[0] for line in text.splitlines())  # without the comments
    assert "fma" not in code and "tl.sqrt(" not in code and "/" not in code


def test_rmsprop_all_switches_text():
    text = _kernel("rmsprop", centered=True, momentum=0.9, weight_decay=0.1, maximize=True)
    assert "def symopt_rmsprop_weight_decay_momentum_centered_maximize(" in text
    assert "grad = -grad" in text
    assert "grad = grad + c0*param" in text  # grad.add(param, alpha=weight_decay)
    assert "square_avg = square_avg*c1 + (c2*grad)*grad" in text  # mul_(alpha).addcmul_(g, g, value=1-alpha)
    assert "tl.where(tl.abs(c2) < 0.5, grad_avg + c2*(grad - grad_avg), grad + (c2 - 1)*(grad - grad_avg))" in text
    assert "sigma = _sqrt_rn(square_avg + (-grad_avg)*grad_avg)" in text
    assert "momentum_buffer = momentum_buffer*c4 + _div_rn(grad, sigma)" in text
    assert "param = param + c5*momentum_buffer" in text and "c5 = (-lr).to(ty)" in text
    assert "return param, square_avg, grad_avg, momentum_buffer" in text  # grad is never written


@pytest.mark.parametrize(
    "expr, construct",
    [
        (sp.sin(rules.g), "sin"),
        (rules.g * sp.Float(0.5), "0.5"),
        (sp.Max(rules.g, rules.w), "Max"),
        (rules.g**3, "g**3"),
        (1 / rules.g, "power 1/g"),
        (sp.pi * rules.g, "pi"),
        (sp.Piecewise((rules.g, rules.g > 0), (rules.w, True)), "Piecewise"),
    ],
)
def test_strict_printer_names_what_it_cannot_print(expr, construct):
    printer = TritonKernelPrinter()
    printer.names = {rules.g: "grad", rules.w: "param"}
    printer.in_loop = True
    with pytest.raises(CodegenError, match=construct.replace("*", r"\*")):
        printer.doprint(expr)


def test_every_variant_prints():
    for family in ("adagrad", "rmsprop"):
        rule = rules.get(family)
        for v in variants(rule):
            assert f"def symopt_{family}_{v.name}(" in TritonKernelPrinter().kernel(rule, v)


# -- the committed modules ------------------------------------------------------------------------
def test_committed_modules_are_fresh():
    for path, text in render_sources(KERNELS).items():
        committed = (package_root() / path).read_text(encoding="utf-8")
        assert committed == text, f"{path} is stale: run `symopt generate`"


def test_generate_check_includes_the_triton_modules():
    from symopt.codegen.render import generate_all

    paths = {str(p) for p in generate_all()}
    assert {"kernels/triton/__init__.py", "kernels/triton/adagrad.py", "kernels/triton/rmsprop.py"} <= paths
    done = subprocess.run(
        [sys.executable, "-m", "symopt", "generate", "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_modules_import_without_triton():
    code = (
        "import sys; sys.modules['triton'] = None; sys.modules['triton.language'] = None\n"
        "from symopt.kernels.triton import adagrad, rmsprop\n"
        "from symopt.fused import triton_launcher as tl\n"
        "assert adagrad.KERNELS == {} and rmsprop.KERNELS == {}\n"
        "assert len(adagrad.VARIANTS) == 4 and len(rmsprop.VARIANTS) == 16\n"
        "try:\n    tl.TritonKernel('adagrad')\nexcept tl.TritonUnavailable as e:\n    print('unavailable:', e)\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "unavailable: triton is not installed" in done.stdout


# -- an independent NumPy transcription (plain ops, correctly rounded √ and ÷) --------------------------
def _reference_adagrad(p, g, st, t, *, lr, lr_decay, eps, weight_decay, maximize):
    f, s = p.dtype.type, st["sum"]
    if maximize:
        g = -g
    if weight_decay:
        g = g + f(weight_decay) * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g
    sigma = np.sqrt(s) + f(eps)
    return p + (f(-clr) * g) / sigma, {"sum": s}


def _reference_rmsprop(p, g, st, t, *, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    f = p.dtype.type
    if maximize:
        g = -g
    if weight_decay:
        g = g + f(weight_decay) * p
    v = st["square_avg"] * f(alpha) + (f(1 - alpha) * g) * g
    out = {"square_avg": v}
    if centered:
        m, k = st["grad_avg"], f(1 - alpha)
        m = m + k * (g - m) if abs(k) < 0.5 else g + (k - f(1)) * (g - m)
        out["grad_avg"] = m
        sigma = np.sqrt(v - m * m)
    else:
        sigma = np.sqrt(v)
    sigma = sigma + f(eps)
    if momentum > 0:
        b = st["momentum_buffer"] * f(momentum) + g / sigma
        out["momentum_buffer"] = b
        return p + f(-lr) * b, out
    return p + (f(-lr) * g) / sigma, out


def _cases():
    out = []
    for family in ("adagrad", "rmsprop"):
        for v in variants(rules.get(family)):
            for dtype in ("float32", "float64"):
                out.append((family, v.name, dict(v.switches), dtype, {}))
    # α = 0.3: 1 − α ≥ 0.5 takes the other branch of torch's lerp (m_t = g − (1 − w)(g − m)), in
    # every centered variant (each is its own kernel function)
    for v in variants(rules.get("rmsprop")):
        if dict(v.switches).get("centered"):
            out.append(("rmsprop", f"{v.name}_alpha0.3", dict(v.switches), "float32", {"alpha": 0.3}))
    # α = 2 (a hazard torch accepts): w = 1 − α = −1, where |w| < 0.5 and w < 0.5 disagree, so only
    # here does the branch test's abs matter (see :func:`_hazard_start`)
    for v in variants(rules.get("rmsprop")):
        if dict(v.switches).get("centered"):
            out.append(("rmsprop", f"{v.name}_alpha2", dict(v.switches), "float32", {"alpha": 2.0}))
    return out


def _hazard(extra) -> bool:
    return extra.get("alpha", 0.0) >= 1.5


def _hazard_start(keys, params, gen):
    """The state a hazard case (α ≥ 1.5) starts from, as a checkpoint would hold it: m₀ and v₀
    nonzero. From zeros, the first step's m₁ = (1 − α)g is exact in both branches of the lerp,
    and v₁ = (1 − α)g² < 0 makes σ and so the params NaN, which weight decay adds to every later
    gradient (and so to every later m). So a hazard case takes one step from this state and
    compares both averages (finite) bit for bit, and the params with NaN matched to NaN at the
    same places (√ of v − m² < 0 where the hazard makes it negative, in both)."""
    out = {k: [torch.zeros_like(p) for p in params] for k in keys}
    out["grad_avg"] = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    out["square_avg"] = [
        m * m + torch.rand(p.shape, generator=gen, dtype=p.dtype) for m, p in zip(out["grad_avg"], params)
    ]
    return out


def _interpreter_worker() -> dict:
    """Run under TRITON_INTERPRET=1: every case through the launcher, against the reference
    (bitwise, each tensor at its own step t) and torch.optim's for-loop (normwise ULPs)."""
    from symopt.fused.triton_launcher import TritonKernel
    from symopt.verify.ulp import normwise_ulp

    results = {}
    kernels = {f: TritonKernel(f) for f in ("adagrad", "rmsprop")}
    for family, name, switch, dtype_name, extra in _cases():
        dtype = getattr(torch, dtype_name)
        # the interpreter and the reference compute in NumPy: the hazard's √ of a negative is its
        # expected NaN there, not an error (elsewhere every floating-point warning is one: -W error)
        np.seterr(invalid="ignore" if extra.get("alpha", 0.0) >= 1.5 else "warn")
        gen = torch.Generator().manual_seed(zlib.crc32(f"{family}:{name}:{dtype_name}".encode()))
        hyper = dict(HYPER[family], **extra)
        hyper["weight_decay"] = hyper["weight_decay"] if switch.get("weight_decay") else 0.0
        hyper["maximize"] = bool(switch.get("maximize"))
        if family == "rmsprop":
            hyper["momentum"] = hyper["momentum"] if switch.get("momentum") else 0.0
            hyper["centered"] = bool(switch.get("centered"))
        params = [torch.randn(n, generator=gen, dtype=dtype) for n in SIZES]
        grads = [[torch.randn(n, generator=gen, dtype=dtype) for n in SIZES] for _ in range(STEPS)]
        keys = [
            k
            for k in STATE_KEYS[family]
            if k == "sum"
            or k == "square_avg"
            or (k == "grad_avg" and hyper.get("centered"))
            or (k == "momentum_buffer" and hyper.get("momentum"))
        ]
        # (1) bitwise against the reference, tensor i at step t + 2i
        hazard = _hazard(extra)
        start = _hazard_start(keys, params, gen) if hazard else {k: [torch.zeros_like(p) for p in params] for k in keys}
        steps = 1 if hazard else STEPS
        ps = [p.clone() for p in params]
        states = {k: [x.clone() for x in start[k]] for k in keys}
        ref_p = [p.numpy().copy() for p in params]
        ref_s = [{k: start[k][i].numpy().copy() for k in keys} for i in range(len(params))]
        reference = _reference_adagrad if family == "adagrad" else _reference_rmsprop
        for step in range(1, steps + 1):
            ts = [float(step + 2 * i) for i in range(len(params))]
            kernels[family].step(ps, grads[step - 1], states, torch.tensor(ts), **hyper)
            for i in range(len(params)):
                ref_p[i], new = reference(ref_p[i], grads[step - 1][i].numpy(), ref_s[i], ts[i], **hyper)
                ref_s[i].update(new)
        same = (lambda a, b: np.array_equal(a, b, equal_nan=True)) if hazard else np.array_equal
        finite = all(
            np.isfinite(states[k][i].numpy()).all() for k in keys if k != "momentum_buffer" for i in range(len(params))
        )
        bitwise = (
            finite
            and all(same(ps[i].numpy(), ref_p[i]) for i in range(len(params)))
            and all(same(states[k][i].numpy(), ref_s[i][k]) for k in keys for i in range(len(params)))
        )
        # (2) against torch.optim's for-loop, every tensor at the same step
        ps = [p.clone() for p in params]
        states = {k: [x.clone() for x in start[k]] for k in keys}
        tp = [p.clone() for p in params]
        opt_cls = torch.optim.Adagrad if family == "adagrad" else torch.optim.RMSprop
        opt = opt_cls(tp, foreach=False, **hyper)
        if hazard:  # torch starts from the same state (it initialises only an empty one)
            for i, x in enumerate(tp):
                opt.state[x] = {"step": torch.tensor(0.0), **{k: start[k][i].clone() for k in keys}}
        for step in range(1, steps + 1):
            kernels[family].step(ps, grads[step - 1], states, torch.full((len(params),), float(step)), **hyper)
            for x, gr in zip(tp, grads[step - 1]):
                x.grad = gr.clone()
            opt.step()
        flat = lambda xs: torch.cat([x.reshape(-1) for x in xs])  # noqa: E731 - the group's scale
        # (the hazard's params: NaN where v − m² < 0, compared above; its averages here)
        ulp = 0.0 if hazard else normwise_ulp(flat(ps), flat(tp))
        for k in [k for k in keys if not (hazard and k == "momentum_buffer")]:
            ulp = max(ulp, normwise_ulp(flat(states[k]), flat([opt.state[x][k] for x in tp])))
        results[f"{family}:{name}:{dtype_name}"] = {"bitwise": bool(bitwise), "ulp_vs_torch": ulp}
    results["launches"] = {f: k.launches for f, k in kernels.items()}
    return results


@pytest.fixture(scope="module")
def interpreted():
    if not HAVE_TRITON:
        pytest.skip("triton is not installed (pip install triton to run the interpreter tests)")
    env = dict(os.environ, TRITON_INTERPRET="1")
    done = subprocess.run([sys.executable, "-W", "error", __file__], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_triton
@pytest.mark.parametrize("case", [f"{f}:{n}:{d}" for f, n, _, d, _ in _cases()])
def test_interpreter_bitwise_vs_reference_and_within_bound_of_torch(interpreted, case):
    result = interpreted[case]
    assert result["bitwise"], f"{case}: not bitwise equal to the plain-op reference"
    # centered with α = 0.3: torch's CPU lerp fuses (fma) where the kernel does not, and the
    # cancellation in v − m² then divides that ULP of m by a small σ (measured: 21 normwise ULPs)
    bound = 64 if "alpha0.3" in case else ULP_BOUND
    assert result["ulp_vs_torch"] <= bound, f"{case}: {result['ulp_vs_torch']} normwise ULPs from torch.optim"


@needs_triton
def test_interpreter_one_launch_per_step(interpreted):
    steps = {f: sum(1 if _hazard(c[4]) else STEPS for c in _cases() if c[0] == f) for f in ("adagrad", "rmsprop")}
    assert interpreted["launches"] == {f: 2 * n for f, n in steps.items()}


# -- the launcher's validation (no launch: needs Triton only to build the kernel table) -------------------
@needs_triton
def test_launcher_refuses_what_it_cannot_take(monkeypatch):
    from symopt.fused.triton_launcher import TritonKernel, TritonLaunchError

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    k = TritonKernel("adagrad")
    p = torch.zeros(4)
    with pytest.raises(TritonLaunchError, match="run on CUDA"):
        k.step([p], [torch.zeros(4)], {"sum": [torch.zeros(4)]}, [1.0])
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    with pytest.raises(TritonLaunchError, match="dtype"):
        k.step([p], [torch.zeros(4)], {"sum": [torch.zeros(4, dtype=torch.float64)]}, [1.0])
    with pytest.raises(TritonLaunchError, match="overlap"):
        k.step([p], [torch.zeros(4)], {"sum": [p]}, [1.0])
    with pytest.raises(TritonLaunchError, match="contiguous"):
        k.step([p], [torch.zeros(4)], {"sum": [torch.zeros(8)[::2]]}, [1.0])
    with pytest.raises(TritonLaunchError, match="state buffer"):
        k.step([p], [torch.zeros(4)], {}, [1.0])


# -- CUDA: the drop-in optimizers against torch.optim ------------------------------------------------
CUDA_CASES = [
    ("adagrad", {}),
    ("adagrad", {"weight_decay": 0.1, "maximize": True, "lr_decay": 0.01}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.1}),
]


@pytest.mark.cuda
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("family, options", CUDA_CASES)
@pytest.mark.parametrize("foreach", [False, True])
def test_cuda_fused_matches_torch_optim(family, options, dtype, foreach):
    from symopt import torch as symopt_torch
    from symopt.fused import triton_launcher
    from symopt.verify.ulp import normwise_ulp

    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(n, generator=gen, dtype=dtype).cuda() for n in (1, 1000, 70000)]
    ours = [p.clone() for p in params]
    theirs = [p.clone() for p in params]
    if family == "adagrad":
        mine = symopt_torch.Adagrad(ours, fused=True, **options)
        ref = torch.optim.Adagrad(theirs, foreach=foreach, **options)
    else:
        mine = symopt_torch.RMSprop([{"params": ours, "fused": True}], **options)
        ref = torch.optim.RMSprop(theirs, foreach=foreach, **options)
    for _ in range(STEPS):
        for a, b in zip(ours, theirs):
            g = torch.randn(a.shape, generator=gen, dtype=dtype).cuda()
            a.grad, b.grad = g.clone(), g.clone()
        before = triton_launcher.kernel(family).launches
        mine.step()
        ref.step()
        assert triton_launcher.kernel(family).launches == before + 1  # one launch for the whole group
    flat = lambda xs: torch.cat([x.reshape(-1) for x in xs])  # noqa: E731 - the group's scale
    assert normwise_ulp(flat(ours), flat(theirs)) <= ULP_BOUND
    for key in ref.state[theirs[0]]:
        if key != "step":
            assert (
                normwise_ulp(flat([mine.state[a][key] for a in ours]), flat([ref.state[b][key] for b in theirs]))
                <= ULP_BOUND
            ), key


if __name__ == "__main__":  # the interpreter worker (run by the `interpreted` fixture)
    print(json.dumps(_interpreter_worker()))
