"""The fused C kernels in float16 and bfloat16 (``kernels/c/*.c``, the ``_f16`` / ``_bf16``
functions): torch's opmath rule — every element loaded to float, computed in float, stored
rounded to nearest even in the param dtype; each double constant cast to float through the param
dtype or straight, as ATen's loop of that rule casts it.

References, none computed by the code under test:

- Adagrad, Adam, AdamW: torch.optim's own ``fused=True`` in float16/bfloat16 (ATen's
  ``Fused*Kernel.cpp``), bit for bit, params and every state.
- SGD: torch's fused SGD in float16/bfloat16 updates only the scalar tail of each tensor (its
  vector loop loads the momentum buffer as floats from a 16-bit pointer and never stores the
  param: a torch bug, reported here as a finding, not imitated). The tail is compared bit for bit
  with it; every element with :func:`_sgd_opmath`, torch's float32 ops on the upcast tensors
  with the constants cast as ATen's loops cast them.
- RMSprop (torch fuses none): :func:`_rmsprop_opmath`, torch's float32 ops with a correctly
  rounded square root, as the float32 kernel is checked in ``test_fused.py``.
- The conversions: torch's ``.to(float16/bfloat16)`` and ``.float()`` over every 16-bit pattern
  and over float32 patterns at every rounding boundary, for both the ``_Float16`` build and the
  bit-manipulation one (the default; ``_Float16`` with ``-DSYMOPT_FLOAT16``).
"""

from __future__ import annotations

import ctypes
import re
import subprocess

import pytest
import torch

from symopt import rules
from symopt.codegen.printers.c import LOW_PRECISION_CONSTANTS, CKernelPrinter, variant_of
from symopt.codegen.render import package_root
from symopt.fused import FusedKernel
from symopt.fused import build as fbuild
from symopt.fused import launcher as flaunch
from symopt.torch import optim as symopt_optim
from symopt.verify import opmath
from symopt.verify.cases import ROUNDING_EDGES

LOW = (torch.float16, torch.bfloat16)
CLASSES = {"adagrad": "Adagrad", "sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
#: sizes with scalar tails of 5, 1, 1, 0, 1 (in 16-element vectors), and below 8 elements each, so
#: that a float32 simulation's vector loop (8 floats) has the same tail
SHAPES = [(37, 3), (1,), (), (0,), (70_001,), (5,), (4, 4)]
STEPS = 6


@pytest.fixture
def launches(monkeypatch):
    """Every fused C launch (``LaunchPlan.call``), as the plan that made it."""
    seen: list[flaunch.LaunchPlan] = []
    real = flaunch.LaunchPlan.call

    def call(plan, *args, **kwargs):
        seen.append(plan)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(flaunch.LaunchPlan, "call", call)
    return seen


def _draws(dtype, seed, scale=1.0, shapes=SHAPES):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(s, generator=gen) * scale).to(dtype) for s in shapes]


def _differing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Flat indices where ``x`` and ``y`` differ in bits, and every index where either is not
    finite (NaN or inf never passes)."""
    x, y = x.detach().reshape(-1), y.detach().reshape(-1)
    assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype, x.shape, y.shape)
    differ = x.view(torch.int16) != y.view(torch.int16)
    differ |= ~torch.isfinite(x.float()) | ~torch.isfinite(y.float())
    return differ.nonzero().reshape(-1)


def _tail_starts(shapes, dtype):
    return flaunch.tail_starts([int(torch.Size(s).numel()) for s in shapes], dtype)


# -- torch's fused path: Adagrad, Adam, AdamW bit for bit ----------------------------------------------
def _step_twins(family, dtype, kw, *, steps=STEPS, scale=1.0, shapes=SHAPES, grad_scale=None):
    """torch.optim.X(fused=True) and symopt.torch.X(fused=True) from the same params, stepped on
    the same seeded gradients (with ``grad_scale``: each step's gradients divided by
    ``grad_scale + k`` inside the kernel, as GradScaler has torch's fused optimizers do). Returns ``{what: flat indices that differ}`` over params and every
    state entry (``step`` included), and the two optimizers."""
    cls = CLASSES[family]
    base = _draws(dtype, 1, shapes=shapes)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    ref = getattr(torch.optim, cls)(a, fused=True, **kw)
    mine = getattr(symopt_optim, cls)(b, fused=True, **kw)
    for k in range(steps):
        for x, y, g in zip(a, b, _draws(dtype, 100 + k, scale, shapes)):
            x.grad, y.grad = g.clone(), g.clone()
        for opt in (ref, mine):
            if grad_scale is not None:
                opt.grad_scale, opt.found_inf = torch.tensor(grad_scale + k), torch.tensor(0.0)
            opt.step()
            if grad_scale is not None:
                del opt.grad_scale, opt.found_inf
    out = {}
    for i, (x, y) in enumerate(zip(a, b)):
        out[f"param {i}"] = _differing(x, y)
        assert set(ref.state[x]) == set(mine.state[y]), (i, set(ref.state[x]), set(mine.state[y]))
        for key, value in ref.state[x].items():
            if key == "step":
                assert float(value) == float(mine.state[y][key])
            else:
                out[f"param {i} state[{key!r}]"] = _differing(value, mine.state[y][key])
    return {k: v for k, v in out.items() if v.numel()}


CASES = {
    "adagrad": [
        dict(),
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.1),
        dict(lr=0.05, maximize=True, eps=1e-3),
        # the plain variant with an ε float16 holds (1e-10 rounds to 0 there), large enough to
        # move the few scalar-tail elements too (their ε is float32's, not float16's)
        dict(lr=0.05, eps=0.1),
        # the step size on a 16-bit rounding midpoint at t = 4 (fma or not: one 16-bit ULP of −η_t)
        *(values for name, values, _ in ROUNDING_EDGES["adagrad"] if "16" in name),
        dict(lr=0.1, weight_decay=0.3, initial_accumulator_value=0.1, maximize=True),
    ],
    "adam": [
        dict(lr=0.01),
        dict(lr=0.01, amsgrad=True, weight_decay=0.1),
        dict(lr=0.01, betas=(0.3, 0.5), maximize=True),
        dict(lr=0.01, amsgrad=True, maximize=True, eps=1e-3),
        dict(lr=0.1, weight_decay=0.3, decoupled_weight_decay=True),
        dict(lr=0.01, eps=0.1),
    ],  # the plain variant with an ε float16 holds (1e-8 rounds to 0 there)
    "adamw": [
        dict(lr=0.01),
        dict(lr=0.01, weight_decay=0.3, amsgrad=True),
        dict(lr=0.1, weight_decay=10.0),
        dict(lr=0.01, betas=(0.3, 0.5), maximize=True),
        dict(lr=0.01, eps=0.1, weight_decay=0.0),
    ],  # plain: no decay
}


def _cases():
    return [
        pytest.param(f, kw, id=f"{f}-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "default"))
        for f, table in CASES.items()
        for kw in table
    ]


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("family,kw", _cases())
def test_bitwise_with_torch_fused(family, kw, dtype, launches):
    assert _step_twins(family, dtype, kw) == {}
    assert len(launches) == STEPS  # the C kernel did the work, one launch per step


@pytest.mark.parametrize("scale", [1e-3, 30.0], ids=["grads 1e-3", "grads 30"])
@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize(
    "family,kw",
    [
        ("adagrad", dict(lr=0.1, weight_decay=0.1)),
        ("adam", dict(lr=0.01, amsgrad=True)),
        ("adamw", dict(lr=0.01, weight_decay=0.1)),
    ],
    ids=["adagrad", "adam", "adamw"],
)
def test_bitwise_with_torch_fused_at_small_and_large_gradients(family, kw, dtype, scale):
    """Small squares (subnormal or flushed in float16) and large ones (near float16's overflow)."""
    assert _step_twins(family, dtype, kw, scale=scale) == {}


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize(
    "family,kw",
    [
        ("adagrad", dict(lr=0.1)),
        ("adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
        ("adam", dict(lr=0.01, amsgrad=True)),
        ("adamw", dict(lr=0.01, maximize=True)),
    ],
    ids=["adagrad", "adagrad-weight_decay-maximize", "adam-amsgrad", "adamw-maximize"],
)
def test_bitwise_with_torch_fused_with_a_grad_scale(family, kw, dtype):
    """GradScaler's path: the kernel divides each gradient by the scale in float, so the gradient
    it squares no longer fits the 16-bit type (``fmaf(g, g, s)`` and ``g*g + s`` then differ in
    float, and in the stored 16 bits now and then: 70 001 elements, 6 steps)."""
    assert _step_twins(family, dtype, kw, scale=300.0, grad_scale=300.0) == {}


# -- SGD: torch's tail bit for bit; every element against the opmath simulation -----------------------
#: the simulations (symopt.verify.opmath, the verify matrix's reference for these steps): written
#: from ATen's loops in float32 torch operations, independent of the models and the C printer
_sgd_opmath, _rmsprop_opmath, CASTS = opmath.sgd, opmath.rmsprop, opmath.CASTS


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.1, maximize=True),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1),
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
]


def _sgd_label(kw):
    return "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("kw", SGD_CASES, ids=_sgd_label)
def test_sgd_bitwise_with_the_opmath_simulation(kw, dtype, launches):
    base = _draws(dtype, 1)
    mine = [p.clone().requires_grad_(True) for p in base]
    expected = [p.clone() for p in base]
    opt = symopt_optim.SGD(mine, fused=True, **kw)
    grads = [_draws(dtype, 100 + k) for k in range(STEPS)]
    for step in grads:
        for p, g in zip(mine, step):
            p.grad = g.clone()
        opt.step()
    assert len(launches) == STEPS
    buffers = _sgd_opmath(expected, grads, dtype, **kw)
    for i, (y, x) in enumerate(zip(mine, expected)):
        assert not _differing(y, x).numel(), f"param {i}"
        if kw.get("momentum"):
            assert not _differing(opt.state[y]["momentum_buffer"], buffers[i]["momentum_buffer"]).numel(), (
                f"param {i} momentum_buffer"
            )


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("kw", SGD_CASES, ids=_sgd_label)
def test_sgd_tails_bitwise_with_torch_fused_and_its_vector_loop_is_the_finding(kw, dtype):
    """Where torch's fused SGD computes (each tensor's scalar tail) symopt's is the same bits; in
    its vector loop torch leaves the params as they were — the finding this test records, so
    that a torch that fixes it makes the test fail and the comparison widen."""
    base = _draws(dtype, 1)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    ref, mine = torch.optim.SGD(a, fused=True, **kw), symopt_optim.SGD(b, fused=True, **kw)
    for k in range(STEPS):
        for x, y, g in zip(a, b, _draws(dtype, 100 + k)):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
    starts = _tail_starts(SHAPES, dtype)
    untouched = 0
    for i, (x, y, p0) in enumerate(zip(a, b, base)):
        t = starts[i]
        assert not _differing(x.reshape(-1)[t:], y.reshape(-1)[t:]).numel(), f"param {i} tail"
        if kw.get("momentum"):
            xb, yb = ref.state[x]["momentum_buffer"].reshape(-1), mine.state[y]["momentum_buffer"].reshape(-1)
            assert not _differing(xb[t:], yb[t:]).numel(), f"param {i} momentum_buffer tail"
        untouched += int((x.detach().reshape(-1)[:t] == p0.reshape(-1)[:t]).sum())
        assert not bool((y.detach().reshape(-1)[:t] == p0.reshape(-1)[:t]).all()) or t == 0
    assert untouched == sum(starts), "torch's fused SGD now updates its vector loop's elements: compare them all"


def _through(x, dtype):
    """``x`` (float32 values) rounded to ``dtype`` and back, as float32 NumPy: the stored value."""
    import numpy as np

    return torch.tensor(np.asarray(x, dtype=np.float32)).to(dtype).float().numpy()


def _stored_differently(fused, split, dtype):
    """Indices where two float32 results store different ``dtype`` values."""
    import numpy as np

    return np.nonzero(_through(fused, dtype) != _through(split, dtype))[0]


def _sgd_rounding_boundary_pairs(dtype, lr: float, count: int = 64, seed: int = 0):
    """(w, g) pairs of ``dtype`` on a rounding boundary of SGD's step w + (−η)g, found by search:
    the 16-bit result of one fma (round(−η·g + w) in float32, computed exactly here in float64,
    where the 35-bit product plus w fits) differs from that of a product then a sum — so that a
    kernel computing it with one rounding more than torch's is caught. Derived here, independently
    of the kernels; each candidate re-checked in exact rational arithmetic."""
    from fractions import Fraction

    import numpy as np

    rng = np.random.default_rng(seed)
    c = np.float32(-lr)
    n = 4_000_000
    w, g = _through(rng.standard_normal(n), dtype), _through(rng.standard_normal(n), dtype)
    fused = (np.float64(c) * g.astype(np.float64) + w.astype(np.float64)).astype(np.float32)
    split = (c * g).astype(np.float32) + w
    hits = _stored_differently(fused, split, dtype)
    exact = [
        i
        for i in hits
        if np.float32(float(Fraction(float(c)) * Fraction(float(g[i])) + Fraction(float(w[i])))) == fused[i]
    ]
    return [(float(w[i]), float(g[i])) for i in exact[:count]]


#: (dtype, lr) where the search finds enough pairs: bfloat16 at lr = 0.1 (134 in 4 million); float16
#: at lr = 0.1 none, since 0.1·g for a float16 g has a decimal structure that keeps w − 0.1g off
#: float16's midpoints (g = k·2⁻¹⁰ makes 0.1k a multiple of 0.1), so float16 takes lr = 1/√2 (about 500)
SGD_BOUNDARY_CASES = [(torch.bfloat16, 0.1), (torch.float16, 0.7071067811865476)]


@pytest.mark.parametrize("dtype,lr", SGD_BOUNDARY_CASES, ids=lambda v: str(v))
def test_sgd_tail_bitwise_with_torch_fused_on_its_rounding_boundary(dtype, lr):
    """SGD's scalar tail (tensors of one element: all tail) on inputs where one rounding more
    changes the stored result: symopt's fused step is torch's fused step, bit for bit."""
    pairs = _sgd_rounding_boundary_pairs(dtype, lr=lr)
    assert len(pairs) >= 32
    a = [torch.tensor([w], dtype=dtype, requires_grad=True) for w, _ in pairs]
    b = [torch.tensor([w], dtype=dtype, requires_grad=True) for w, _ in pairs]
    for x, y, (_, g) in zip(a, b, pairs):
        x.grad, y.grad = torch.tensor([g], dtype=dtype), torch.tensor([g], dtype=dtype)
    torch.optim.SGD(a, lr=lr, fused=True).step()
    symopt_optim.SGD(b, lr=lr, fused=True).step()
    assert _tail_starts([(1,)] * len(pairs), dtype) == [0] * len(pairs)
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if _differing(x, y).numel()]
    assert differ == []


def _second_moment_boundary_pairs(dtype, beta2: float, count: int = 64, seed: int = 0):
    """(g₁, g₂) pairs of ``dtype`` on a rounding boundary of Adam's second moment at step 2 in the
    scalar tail, v₂ = β₂v₁ + (1 − β₂)g₂² with v₁ = (1 − β₂)g₁² (v₀ = 0) stored in ``dtype``: the
    16-bit v₂ of one fma (β₂·v₁ + x₂ rounded once to float32; the 35-bit product plus x₂ computed
    exactly in float64) differs from that of a product then a sum. Derived here from the update's
    text in ATen's scalar loop, independently of the kernels; each candidate re-checked in exact
    rational arithmetic."""
    from fractions import Fraction

    import numpy as np

    rng = np.random.default_rng(seed)
    c1, c2 = np.float32(beta2), np.float32(1 - beta2)
    n = 4_000_000
    g1, g2 = _through(rng.standard_normal(n), dtype), _through(rng.standard_normal(n), dtype)
    v1 = _through((c2 * g1) * g1, dtype)
    x2 = (c2 * g2) * g2
    fused = (v1.astype(np.float64) * np.float64(c1) + x2.astype(np.float64)).astype(np.float32)
    split = v1 * c1 + x2
    hits = _stored_differently(fused, split, dtype)
    exact = [
        i
        for i in hits
        if np.float32(float(Fraction(float(v1[i])) * Fraction(float(c1)) + Fraction(float(x2[i])))) == fused[i]
    ]
    return [(float(g1[i]), float(g2[i])) for i in exact[:count]]


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("family", ["adam", "adamw"])
def test_adam_tail_bitwise_with_torch_fused_on_a_second_moment_rounding_boundary(family, dtype):
    """Adam's and AdamW's scalar tail (tensors of one element) at step 2 on gradients where one
    rounding more in β₂v + (1 − β₂)g² changes the stored second moment (β₂ = 0.9: the search
    finds about 500 float16 and 1300 bfloat16 pairs in 4 million; at 0.999 none in bfloat16):
    symopt's fused step is torch's, bit for bit, params and every state."""
    kw = dict(lr=0.01, betas=(0.9, 0.9), **({"weight_decay": 0.0} if family == "adamw" else {}))
    pairs = _second_moment_boundary_pairs(dtype, beta2=0.9)
    assert len(pairs) >= 32
    a = [torch.zeros(1, dtype=dtype, requires_grad=True) for _ in pairs]
    b = [torch.zeros(1, dtype=dtype, requires_grad=True) for _ in pairs]
    ref, mine = (
        getattr(torch.optim, CLASSES[family])(a, fused=True, **kw),
        getattr(symopt_optim, CLASSES[family])(b, fused=True, **kw),
    )
    for k in range(2):
        for x, y, g in zip(a, b, (pair[k] for pair in pairs)):
            x.grad, y.grad = torch.tensor([g], dtype=dtype), torch.tensor([g], dtype=dtype)
        ref.step()
        mine.step()
    assert _tail_starts([(1,)] * len(pairs), dtype) == [0] * len(pairs)
    differ = [
        (i, key)
        for i, (x, y) in enumerate(zip(a, b))
        for key, u, w in [("param", x, y), *((k, ref.state[x][k], mine.state[y][k]) for k in ("exp_avg", "exp_avg_sq"))]
        if _differing(u, w).numel()
    ]
    assert differ == []


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("family", ["adam", "adamw"])
def test_adam_bitwise_with_torch_fused_over_a_million_elements(family, dtype):
    """The plain 16-bit Adam/AdamW kernels' vector loop over 2²⁰ seeded elements and 3 steps,
    against torch's fused step bit for bit: a rounding that differs from torch's only where the
    result sits on a 16-bit rounding boundary (an fma dropped: about 10 elements in 3 million
    element-steps) shows here and not in the 70 001 elements of the other cases."""
    kw = dict(lr=0.01, **({"weight_decay": 0.0} if family == "adamw" else {}))
    shapes = [(1 << 20,)]
    assert _step_twins(family, dtype, kw, steps=3, shapes=shapes) == {}


# -- RMSprop: the opmath simulation with a correctly rounded sqrt ---------------------------------------
RMS_CASES = [
    dict(),
    dict(centered=True, momentum=0.9),
    dict(centered=True, alpha=0.3, maximize=True, weight_decay=0.1),
    dict(momentum=0.5, weight_decay=0.1, eps=1e-3),
    dict(lr=0.1, eps=0.1),
]  # the plain variant with an ε that moves the few scalar-tail elements


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("kw", RMS_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_rmsprop_bitwise_with_the_opmath_simulation(kw, dtype, launches):
    base = _draws(dtype, 1)
    mine = [p.clone().requires_grad_(True) for p in base]
    expected = [p.clone() for p in base]
    opt = symopt_optim.RMSprop([{"params": mine, "fused": True}], **kw)
    grads = [_draws(dtype, 100 + k) for k in range(STEPS)]
    for step in grads:
        for p, g in zip(mine, step):
            p.grad = g.clone()
        opt.step()
    assert len(launches) == STEPS
    state = _rmsprop_opmath(expected, grads, dtype, **kw)
    names = {"square_avg": "square_avg", "grad_avg": "grad_avg", "momentum_buffer": "momentum_buffer"}
    for i, (y, x) in enumerate(zip(mine, expected)):
        assert not _differing(y, x).numel(), f"param {i}"
        for key, name in names.items():
            if name in opt.state[y]:
                assert not _differing(opt.state[y][name], state[i][key]).numel(), f"param {i} {name}"


# -- the conversions ------------------------------------------------------------------------------------
_HARNESS = """
void to_float(int64_t n, const uint16_t *in, float *out, int bf)
{
    for (int64_t i = 0; i < n; ++i) {
        if (bf) { out[i] = symopt_bf16_to_float(in[i]); }
        else { symopt_f16 h; memcpy(&h, &in[i], 2); out[i] = symopt_f16_to_float(h); }
    }
}
void from_float(int64_t n, const float *in, uint16_t *out, int bf)
{
    for (int64_t i = 0; i < n; ++i) {
        if (bf) { out[i] = symopt_float_to_bf16(in[i]); }
        else { symopt_f16 h = symopt_float_to_f16(in[i]); memcpy(&out[i], &h, 2); }
    }
}
"""


def _preamble() -> str:
    """The conversions of the committed ``adagrad.c``: its text up to the first kernel."""
    text = (package_root() / "kernels" / "c" / "adagrad.c").read_text(encoding="utf-8")
    return text[: text.index("/* plain:")]


@pytest.fixture(scope="module", params=["_Float16", "bit manipulation"])
def conversions(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("symopt-conversions")
    source, library = directory / "conv.c", directory / "conv.so"
    source.write_text(_preamble() + _HARNESS, encoding="utf-8")
    defines = ["-DSYMOPT_FLOAT16"] if request.param == "_Float16" else []
    flags = [f for f in fbuild.BASE_FLAGS if f != "-shared"]
    subprocess.run([fbuild.find_compiler(), *flags, *defines, "-shared", str(source), "-o", str(library)], check=True)
    lib = ctypes.CDLL(str(library))
    for fn in (lib.to_float, lib.from_float):
        fn.argtypes, fn.restype = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int], None
    return lib


def _boundaries() -> torch.Tensor:
    """float32 patterns at every rounding boundary of float16 and bfloat16: the midpoint between
    each two neighbouring finite 16-bit values (a tie) and the float32 values one ULP either side
    of it, both signs; float16's subnormal and overflow thresholds, zeros, infinities, and a
    million random patterns."""
    patterns = []
    for dtype in LOW:
        bits = torch.arange(0, 0x7F80 if dtype == torch.bfloat16 else 0x7C00, dtype=torch.int32)
        x = bits.to(torch.int16).view(dtype).float()
        up = (bits + 1).to(torch.int16).view(dtype).float()
        mid = ((x + up) / 2).view(torch.int32)  # exact: one bit more than the 16-bit format has
        for m in (mid - 1, mid, mid + 1, x.view(torch.int32)):
            patterns += [m, m | torch.tensor(-(1 << 31), dtype=torch.int32)]
    gen = torch.Generator().manual_seed(0)
    patterns.append(
        torch.randint(-(1 << 31), (1 << 31) - 1, (1 << 20,), generator=gen, dtype=torch.int64).to(torch.int32)
    )
    special = torch.tensor(
        [
            0.0,
            -0.0,
            65504.0,
            65519.99,
            65520.0,
            2.0**-24,
            2.0**-25,
            2.0**-25 * 1.0000001,
            2.0**-14,
            3.0e38,
            float("inf"),
            -float("inf"),
        ],
        dtype=torch.float32,
    ).view(torch.int32)
    patterns.append(special)
    x = torch.cat(patterns).view(torch.float32)
    return x[~torch.isnan(x)].contiguous()


@pytest.mark.parametrize("dtype", LOW, ids=str)
def test_conversions_round_as_torch(conversions, dtype):
    bf = int(dtype == torch.bfloat16)
    every = torch.arange(0, 1 << 16, dtype=torch.int32).to(torch.int16).contiguous()
    out = torch.empty(1 << 16, dtype=torch.float32)
    conversions.to_float(1 << 16, every.data_ptr(), out.data_ptr(), bf)
    want = every.view(dtype).float()
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(out), nan)
    assert torch.equal(out[~nan].view(torch.int32), want[~nan].view(torch.int32))  # -0.0 and subnormals included
    x = _boundaries()
    got = torch.empty(x.numel(), dtype=torch.int16)
    conversions.from_float(x.numel(), x.data_ptr(), got.data_ptr(), bf)
    want = x.to(dtype).view(torch.int16)
    assert torch.equal(got, want), int((got != want).sum())
    # NaN stays NaN (its payload is not compared)
    nans = torch.tensor([float("nan"), -float("nan")], dtype=torch.float32)
    got = torch.empty(2, dtype=torch.int16)
    conversions.from_float(2, nans.data_ptr(), got.data_ptr(), bf)
    assert bool(torch.isnan(got.view(dtype).float()).all())


# -- the printed text ------------------------------------------------------------------------------------
def _function(family: str, dtype: str, **switch) -> str:
    rule = rules.get(family)
    return CKernelPrinter({"dtype": dtype}).kernel(rule, variant_of(rule, switch))


def test_low_precision_text_loads_computes_in_float_and_stores_rounded():
    text = _function("adagrad", "float16", weight_decay=0.1)
    assert "symopt_f16 *const *a_param" in text and "symopt_f16 *restrict p_state_sum" in text
    assert "float state_sum = symopt_f16_to_float(p_state_sum[i]);" in text
    assert "p_state_sum[i] = symopt_float_to_f16(state_sum);" in text
    assert "sigma = sqrtf(state_sum);" in text  # the root of the unrounded float sum, as ATen's
    # ATen's Adagrad: fVec(scalar_t(c)) in the vector loop, opmath_t(c) in the scalar tail
    assert "const float c0 = symopt_f16_to_float(symopt_float_to_f16((float)(weight_decay)));" in text
    assert "const float c3 = (float)(weight_decay);" in text
    assert "for (int64_t i = split; i < end; ++i)" in text and "const int64_t *tails" in text
    # ATen's Adam: opmath_t(c) everywhere
    text = _function("adam", "bfloat16", amsgrad=True)
    assert "symopt_bf16_to_float(symopt_float_to_bf16(" not in text
    assert (
        "const float c3 = (float)(c_2);" in text and "max_exp_avg_sq = symopt_maxf(exp_avg_sq, max_exp_avg_sq);" in text
    )
    # float32 is as it was: no conversions
    assert "symopt_" not in _function("adagrad", "float32").split("(", 1)[1].replace("symopt_adagrad", "")


def test_low_precision_constants_table_covers_every_fused_family():
    from symopt.codegen.printers.c import C_FAMILIES

    assert set(LOW_PRECISION_CONSTANTS) == set(C_FAMILIES)
    assert all(LOW_PRECISION_CONSTANTS[f] == CASTS[f] for f in CASTS)  # the simulations' reading
    assert all(set(v) <= {"storage", "opmath"} and len(v) == 2 for v in LOW_PRECISION_CONSTANTS.values())


# -- mutants: one rounding moved, each caught --------------------------------------------------------------
def _mutant(family: str, pattern: str, replacement: str) -> str:
    committed = (package_root() / "kernels" / "c" / f"{family}.c").read_text(encoding="utf-8")
    source, count = re.subn(pattern, replacement, committed)
    assert count > 0, f"the mutation {pattern!r} matches nothing in {family}.c"
    return source


@pytest.fixture(scope="module")
def mutant_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("symopt-lowp-mutants")


MUTANTS = {
    # name: (family, pattern, replacement, kw, dtype)
    "adagrad constants straight to float in the vector loop": (
        "adagrad",
        r"symopt_f16_to_float\(symopt_float_to_f16\((\(float\)\([^;]*\))\)\);",
        r"\1;",
        dict(lr=0.1, weight_decay=0.1),
        torch.float16,
    ),
    "adam constants through the param dtype": (
        "adam",
        r"(?m)^(\s+const float (c\d+) = )\(float\)\(([^;]*)\);",
        r"\1symopt_bf16_to_float(symopt_float_to_bf16((float)(\3)));",
        dict(lr=0.01),
        torch.bfloat16,
    ),
    "adam root of the rounded second moment": (
        "adam",
        r"sigma = sqrtf\(exp_avg_sq\)/",
        "sigma = sqrtf(symopt_bf16_to_float(symopt_float_to_bf16(exp_avg_sq)))/",
        dict(lr=0.01),
        torch.bfloat16,
    ),
    "bfloat16 stores truncated": (
        "adamw",
        r"\(u \+ 0x7FFFu \+ \(\(u >> 16\) & 1u\)\) >> 16",
        "u >> 16",
        dict(lr=0.01),
        torch.bfloat16,
    ),
    "float16 stores rounded twice (through bfloat16)": (
        "adagrad",
        r"static inline symopt_f16 symopt_float_to_f16\(float x\)\n\{\n",
        "static inline symopt_f16 symopt_float_to_f16(float x)\n{\n    x = symopt_bf16_to_float(symopt_float_to_bf16(x));\n",
        dict(lr=0.1),
        torch.float16,
    ),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_a_low_precision_kernel_with_one_rounding_moved_fails_the_bitwise_check(
    name, mutant_cache, monkeypatch, launches
):
    family, pattern, replacement, kw, dtype = MUTANTS[name]
    assert _step_twins(family, dtype, kw) == {}  # the committed kernel passes the very check
    launches.clear()
    library = fbuild.load(f"mutant_{family}", _mutant(family, pattern, replacement), directory=mutant_cache)
    monkeypatch.setattr(flaunch, "_KERNELS", {family: FusedKernel(family, library=library)})
    found = _step_twins(family, dtype, kw)
    assert launches and all(plan.kernel.library is library for plan in launches)  # the mutant ran
    assert found, f"{name}: the mutant passed"


def _adagrad_underflow_boundary():
    """(G, g) bfloat16 pairs and an lr where Adagrad's G + g² rounded once (fma) or twice (g² first)
    gives a different bfloat16 param after one step from w = 0 with eps = 0: g² of a bfloat16 g is
    exact in float32 except in its underflow range (|g| < 2⁻⁶² here), where the one-ULP difference
    of the float32 G reaches the param through √G. Searched over every bfloat16 G in [2⁻¹²⁶, 2⁻¹¹⁰),
    g in [2⁻⁸⁰, 2⁻⁶²) and −lr in (−1, −2⁻¹²], in float32 NumPy (float64 holds G + g² exactly);
    returns the lr with the most such pairs."""
    import numpy as np

    values = torch.arange(0, 1 << 15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).float().numpy()
    values = values[np.isfinite(values) & (values > 0)]
    G, g = np.meshgrid(
        values[(values >= 2.0**-126) & (values < 2.0**-110)],
        values[(values >= 2.0**-80) & (values < 2.0**-62)],
        indexing="ij",
    )
    G, g = G.ravel(), g.ravel()
    fused = (G.astype(np.float64) + g.astype(np.float64) ** 2).astype(np.float32)
    keep = fused != G + g * g
    G, g, root_fused, root_split = G[keep], g[keep], np.sqrt(fused[keep]), np.sqrt((G + g * g)[keep])
    best = (0, 0.0, None)
    for c in -values[(values >= 2.0**-12) & (values < 1)]:
        step = np.float32(c) * g
        hits = _stored_differently(step / root_fused, step / root_split, torch.bfloat16)
        if len(hits) > best[0]:
            best = (len(hits), float(-c), hits)
    _, lr, hits = best
    return lr, [(float(G[i]), float(g[i])) for i in hits]


@pytest.mark.parametrize("loop", ["vector", "tail"])
def test_adagrad_bitwise_with_torch_fused_where_bfloat16_squares_underflow(loop):
    """bfloat16 Adagrad (plain: eps = 0, from a state G as a checkpoint holds it) on the constructed
    inputs above, in its vector loop (one tensor, the pairs repeated) and its scalar tail (one-element
    tensors): symopt's fused step is torch's, bit for bit (15 pairs found at lr ≈ 2.48e-4)."""
    dtype = torch.bfloat16
    lr, pairs = _adagrad_underflow_boundary()
    assert len(pairs) >= 8
    if loop == "vector":
        pairs = pairs * 8
        shapes = [(len(pairs),)]
        assert _tail_starts(shapes, dtype)[0] >= len(pairs) // 2
    else:
        shapes = [(1,)] * len(pairs)
        assert _tail_starts(shapes, dtype) == [0] * len(pairs)
    out = []
    for cls in (torch.optim.Adagrad, symopt_optim.Adagrad):
        ps = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
        opt = cls(ps, lr=lr, eps=0.0, fused=True)
        flat = torch.tensor(pairs).to(dtype)
        at = 0
        for p in ps:
            n = p.numel()
            opt.state[p]["sum"].copy_(flat[at : at + n, 0].reshape(p.shape))
            p.grad = flat[at : at + n, 1].reshape(p.shape).clone()
            at += n
        opt.step()
        out.append(
            (torch.cat([p.detach().reshape(-1) for p in ps]), torch.cat([opt.state[p]["sum"].reshape(-1) for p in ps]))
        )
    (pa, sa), (pb, sb) = out
    assert not _differing(pa, pb).numel() and not _differing(sa, sb).numel()


def _rmsprop_underflow_boundary():
    """(v, g) bfloat16 pairs and an lr where plain RMSprop's average at α = ½ (c₀ = c₁ = ½, exact in
    bfloat16), ½v + (½g)·g, rounded once to float32 (fma) or twice (the product first) gives a
    different bfloat16 param after one step from w = 0 with eps = 0 — the same underflow as
    Adagrad's above: (½g)·g of a bfloat16 g is exact in float32 except for |g| below about 2⁻⁶².
    Searched over every bfloat16 v in [2⁻¹²⁶, 2⁻¹¹⁰), g in [2⁻⁸⁰, 2⁻⁶²) and −lr in (−1, −2⁻¹²];
    returns the lr with the most pairs, each with the expected float32 average v′ (the exact sum,
    re-checked in rational arithmetic, rounded once to float32) and expected param
    bf16(fl32(fl32(−lr·g)/√v′)), all derived here independently of the kernels."""
    from fractions import Fraction

    import numpy as np

    values = torch.arange(0, 1 << 15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).float().numpy()
    values = values[np.isfinite(values) & (values > 0)]
    v, g = np.meshgrid(
        values[(values >= 2.0**-126) & (values < 2.0**-110)],
        values[(values >= 2.0**-80) & (values < 2.0**-62)],
        indexing="ij",
    )
    v, g = v.ravel(), g.ravel()
    half = np.float32(0.5)
    exact = np.float64(half) * v.astype(np.float64) + (np.float64(half) * g.astype(np.float64)) * g.astype(np.float64)
    fused = exact.astype(np.float32)
    split = (half * g) * g + v * half  # float32 throughout: the product rounded first
    keep = fused != split
    v, g, fused = v[keep], g[keep], fused[keep]
    sure = np.array(
        [
            Fraction(float(e)) == Fraction(float(a)) / 2 + Fraction(float(b)) ** 2 / 2
            for e, a, b in zip(exact[keep], v, g)
        ],
        dtype=bool,
    )
    v, g, fused, split = v[sure], g[sure], fused[sure], split[keep][sure]
    best = (0, 0.0, None)
    for c in -values[(values >= 2.0**-12) & (values < 1)]:
        step = np.float32(c) * g
        hits = _stored_differently(step / np.sqrt(fused), step / np.sqrt(split), torch.bfloat16)
        if len(hits) > best[0]:
            best = (len(hits), float(-c), hits)
    _, lr, hits = best
    params = _through((np.float32(-lr) * g[hits]) / np.sqrt(fused[hits]), torch.bfloat16)
    return lr, [(float(v[i]), float(g[i]), float(fused[i]), float(w)) for i, w in zip(hits, params)]


@pytest.mark.parametrize("loop", ["vector", "tail"])
def test_rmsprop_bitwise_with_the_exact_derivation_where_bfloat16_squares_underflow(loop, launches):
    """bfloat16 plain RMSprop (α = ½, eps = 0, square_avg loaded from a checkpoint) on the
    constructed inputs above, in its vector loop (one tensor, the pairs repeated) and its scalar
    tail (one-element tensors): symopt's fused param and square_avg are the derivation's bits
    (torch fuses no RMSprop, so the expected values are derived in the search itself)."""
    dtype = torch.bfloat16
    lr, cases = _rmsprop_underflow_boundary()
    assert len(cases) >= 8
    if loop == "vector":
        cases = cases * 8
        shapes = [(len(cases),)]
        assert _tail_starts(shapes, dtype)[0] >= len(cases) // 2
    else:
        shapes = [(1,)] * len(cases)
        assert _tail_starts(shapes, dtype) == [0] * len(cases)
    flat = torch.tensor(cases, dtype=torch.float32)
    ps = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    opt = symopt_optim.RMSprop([{"params": ps, "fused": True}], lr=lr, alpha=0.5, eps=0.0)  # torch has no fused=
    saved = opt.state_dict()
    at, saved["state"] = 0, {}
    for i, p in enumerate(ps):
        n = p.numel()
        saved["state"][i] = {"step": torch.tensor(1.0), "square_avg": flat[at : at + n, 0].reshape(p.shape).to(dtype)}
        p.grad = flat[at : at + n, 1].reshape(p.shape).to(dtype)
        at += n
    opt.load_state_dict(saved)
    opt.step()
    assert len(launches) == 1  # the C kernel ran
    params = torch.cat([p.detach().reshape(-1) for p in ps])
    square_avgs = torch.cat([opt.state[p]["square_avg"].reshape(-1) for p in ps])
    assert params.dtype == square_avgs.dtype == dtype
    assert not _differing(params, flat[:, 3].to(dtype)).numel()
    assert not _differing(square_avgs, flat[:, 2].to(dtype)).numel()


# -- float16's two conversion paths: F16C blocks (where -march=native has F16C) and bit manipulation --
FLOAT16_FAMILIES = ("adagrad", "adam", "adamw", "sgd", "rmsprop")


@pytest.fixture(params=["F16C", "bit manipulation"])
def float16_path(request, mutant_cache, monkeypatch):
    """The float16 kernels as this machine builds them (F16C's vcvtph2ps/vcvtps2ph in blocks, where
    the compiler defines ``__F16C__``), or rebuilt with ``-DSYMOPT_NO_F16C`` (c10's conversions
    by bit manipulation, what a machine without F16C runs). Returns {family: library} of the
    libraries the launches must come from."""
    if request.param == "F16C":
        if not fbuild.defines("__F16C__"):
            pytest.skip("the compiler defines no __F16C__ with -march=native here: no F16C path to test")
        return {family: flaunch.kernel(family).library for family in FLOAT16_FAMILIES}
    libraries = {
        family: fbuild.load(
            f"no_f16c_{family}", "#define SYMOPT_NO_F16C 1\n" + flaunch.source(family), directory=mutant_cache
        )
        for family in FLOAT16_FAMILIES
    }
    monkeypatch.setattr(flaunch, "_KERNELS", {f: FusedKernel(f, library=lib) for f, lib in libraries.items()})
    return libraries


@pytest.mark.parametrize(
    "family,kw",
    [
        ("adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
        ("adagrad", dict(lr=0.05, eps=0.1)),
        ("adam", dict(lr=0.01, amsgrad=True)),
        ("adamw", dict(lr=0.01, betas=(0.3, 0.5))),
    ],
    ids=["adagrad-weight_decay-maximize", "adagrad-eps", "adam-amsgrad", "adamw-lerp"],
)
def test_float16_bitwise_with_torch_fused_on_both_conversion_paths(family, kw, float16_path, launches):
    """Every element (vector loop in blocks, their remainders, the scalar tail), with and without
    GradScaler's unscaling (which stores the unscaled gradient back), params and every state."""
    assert _step_twins(family, torch.float16, kw) == {}
    assert _step_twins(family, torch.float16, kw, scale=300.0, grad_scale=300.0) == {}
    assert launches and all(plan.kernel.library is float16_path[family] for plan in launches)


@pytest.mark.parametrize(
    "family,kw",
    [
        ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
        ("sgd", dict(lr=0.1, maximize=True)),
        ("rmsprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
        ("rmsprop", dict(lr=0.01, alpha=0.3)),
    ],
    ids=["sgd-momentum", "sgd-maximize", "rmsprop-centered-momentum", "rmsprop-lerp"],
)
def test_float16_sgd_and_rmsprop_bitwise_with_the_opmath_simulation_on_both_conversion_paths(
    family, kw, float16_path, launches
):
    dtype = torch.float16
    base = _draws(dtype, 1)
    mine = [p.clone().requires_grad_(True) for p in base]
    expected = [p.clone() for p in base]
    if family == "sgd":
        opt = symopt_optim.SGD(mine, fused=True, **kw)
    else:
        opt = symopt_optim.RMSprop([{"params": mine, "fused": True}], **kw)
    grads = [_draws(dtype, 100 + k) for k in range(STEPS)]
    for step in grads:
        for p, g in zip(mine, step):
            p.grad = g.clone()
        opt.step()
    assert len(launches) == STEPS and all(plan.kernel.library is float16_path[family] for plan in launches)
    state = (_sgd_opmath if family == "sgd" else _rmsprop_opmath)(expected, grads, dtype, **kw)
    for i, (y, x) in enumerate(zip(mine, expected)):
        assert not _differing(y, x).numel(), f"param {i}"
        for name, value in state[i].items():
            if name != "step":
                assert not _differing(opt.state[y][name], value).numel(), f"param {i} {name}"


def test_float16_f16c_stores_truncated_fail_the_bitwise_check(mutant_cache, monkeypatch, launches):
    """The F16C path's own rounding is checked: vcvtps2ph rounding toward zero (imm 3) instead of to
    nearest even is found by the comparison with torch's fused Adagrad."""
    if not fbuild.defines("__F16C__"):
        pytest.skip("the compiler defines no __F16C__ with -march=native here: no F16C path to mutate")
    text = flaunch.source("adagrad")
    assert "_MM_FROUND_TO_NEAREST_INT)" in text
    library = fbuild.load(
        "mutant_f16c_adagrad", text.replace("_MM_FROUND_TO_NEAREST_INT)", "_MM_FROUND_TO_ZERO)"), directory=mutant_cache
    )
    monkeypatch.setattr(flaunch, "_KERNELS", {"adagrad": FusedKernel("adagrad", library=library)})
    found = _step_twins("adagrad", torch.float16, dict(lr=0.1))
    assert launches and all(plan.kernel.library is library for plan in launches)
    assert found, "the mutant passed"
