"""The fused C kernels of SGD, Adam and AdamW (``kernels/c/sgd.c``, ``adam.c``, ``adamw.c``),
stepped through the drop-ins with ``fused=True``, bit for bit against torch.optim's own
``fused=True`` path on the CPU (ATen's ``FusedSGDKernel.cpp`` / ``FusedAdamKernel.cpp``): torch's
optim_db inputs and edges, params and every state buffer, float32 and float64, tensors whose
size leaves a scalar tail to torch's vector loop. Each check is shown to fail on a kernel with one
rounding moved (the committed source edited, built into another directory).

The reference is torch itself; nothing here is computed by the code under test."""

from __future__ import annotations

import copy
import itertools
import re

import pytest
import sympy as sp
import torch
from torch.testing._internal.common_optimizers import optim_db

from symopt import rules
from symopt.codegen.printers.c import FIRST_STEP, CKernelPrinter, switches, variant_of, variants
from symopt.codegen.render import package_root
from symopt.fused import FusedKernel
from symopt.fused import build as fbuild
from symopt.fused import launcher as flaunch
from symopt.torch import optim as symopt_optim

DTYPES = (torch.float32, torch.float64)
#: sizes 111, 1, 1 (0-d), 0, 70 001 (two chunk rows, split among threads), 7, 16: tails of 7, 1,
#: 1, 0, 1, 7, 0 elements in float32 (3, 1, 1, 0, 1, 3, 0 in float64) under AVX2
SHAPES = [(37, 3), (1,), (), (0,), (70_001,), (7,), (4, 4)]
#: the same without the big one, for the many edge and mutant cases (1 003: a tail of 3 in both)
SMALL = [(37, 3), (1,), (), (0,), (1003,), (7,), (4, 4)]
STEPS = 8
CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
_INTS = {torch.float32: torch.int32, torch.float64: torch.int64}


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


# -- stepping both ---------------------------------------------------------------------------------
def _draws(dtype, seed, scale=1.0, shapes=SHAPES):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype) * scale for s in shapes]


def _differing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Flat indices where ``x`` and ``y`` differ in bits; every index where either is not finite
    (NaN or inf never passes)."""
    x, y = x.detach().reshape(-1), y.detach().reshape(-1)
    assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, y.dtype, x.shape, y.shape)
    if x.dtype in _INTS:
        differ = x.view(_INTS[x.dtype]) != y.view(_INTS[y.dtype])
        differ |= ~torch.isfinite(x) | ~torch.isfinite(y)
    else:
        differ = x != y
    return differ.nonzero().reshape(-1)


def _step_twins(family, dtype, kw, *, steps=STEPS, scale=1.0, shapes=SHAPES):
    """torch.optim.X(fused=True) and symopt.torch.X(fused=True) from the same params, stepped on
    the same seeded gradients (``scale`` times a standard normal). Returns ``{what: flat indices
    that differ}`` over params and every state entry (``step`` included); ``{}`` when bitwise."""
    cls = CLASSES[family]
    base = _draws(dtype, 1, shapes=shapes)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    ref = getattr(torch.optim, cls)(a, fused=True, **kw)
    mine = getattr(symopt_optim, cls)(b, fused=True, **kw)
    for k in range(steps):
        grads = _draws(dtype, 100 + k, scale, shapes)
        for x, y, g in zip(a, b, grads):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
    out = {}
    assert len(ref.state) == len(mine.state), (len(ref.state), len(mine.state))
    for i, (x, y) in enumerate(zip(a, b)):
        out[f"param {i}"] = _differing(x, y)
        assert set(ref.state[x]) == set(mine.state[y]), (i, set(ref.state[x]), set(mine.state[y]))
        for key, value in ref.state[x].items():
            out[f"param {i} state[{key!r}]"] = _differing(value, mine.state[y][key])
    assert ref.state_dict()["param_groups"] == mine.state_dict()["param_groups"]
    return {k: v for k, v in out.items() if v.numel()}


# -- torch's optim_db inputs -------------------------------------------------------------------------
def _optim_db_inputs():
    out = []
    for info in optim_db:
        family = {v: k for k, v in CLASSES.items()}.get(info.optim_cls.__name__)
        if family is None:
            continue
        for inp in info.optim_inputs_func(device="cpu"):
            kwargs = {
                k: v for k, v in inp.kwargs.items() if k not in ("foreach", "fused", "capturable", "differentiable")
            }
            out.append(pytest.param(family, kwargs, id=f"{family}-{inp.desc}"))
    return out


OPTIM_DB = _optim_db_inputs()


def test_optim_db_has_the_inputs_this_module_runs():
    assert {p.values[0] for p in OPTIM_DB} == set(CLASSES) and len(OPTIM_DB) >= 15


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("family,kw", OPTIM_DB)
def test_optim_db_inputs_bitwise_with_torch_fused(family, kw, dtype, launches):
    assert _step_twins(family, dtype, kw) == {}
    assert len(launches) == STEPS  # one C launch per step (a tensor lr too): the fused kernel did the work


#: a tensor lr per rule, with options that take each rule's richest kernel
TENSOR_LR = {
    "adagrad": ("Adagrad", dict(lr_decay=0.01, weight_decay=0.1)),
    "sgd": ("SGD", dict(momentum=0.9, dampening=0.1, weight_decay=0.1, nesterov=False)),
    "adam": ("Adam", dict(amsgrad=True, weight_decay=0.1)),
    "adamw": ("AdamW", dict(weight_decay=0.1)),
}


@pytest.mark.parametrize("lr_dtype", [torch.float32, torch.float64], ids=["lr float32", "lr float64"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("family", TENSOR_LR)
def test_a_tensor_lr_steps_as_torchs_fused_kernel_reads_it(family, dtype, lr_dtype, launches):
    """torch's fused CPU kernels read a tensor lr as ``lr.item<double>()`` (ATen's tensor-lr
    overloads of ``_fused_adam_`` / ``_fused_sgd_`` / ``_fused_adagrad_``): the C launch takes
    ``float(lr)``, and a change made in place (as a scheduler of a tensor lr makes it) reaches
    the next step. Bitwise, params and every state, with one C launch per step."""
    cls, kw = TENSOR_LR[family]
    base = _draws(dtype, 1, shapes=SMALL)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    lr_a, lr_b = torch.tensor(0.0123, dtype=lr_dtype), torch.tensor(0.0123, dtype=lr_dtype)
    ref = getattr(torch.optim, cls)(a, lr=lr_a, fused=True, **kw)
    mine = getattr(symopt_optim, cls)(b, lr=lr_b, fused=True, **kw)
    for k in range(STEPS):
        for x, y, g in zip(a, b, _draws(dtype, 100 + k, shapes=SMALL)):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
        for lr in (lr_a, lr_b):
            lr.mul_(0.7)  # in place: the group's tensor is the same object
    assert len(launches) == STEPS
    for i, (x, y) in enumerate(zip(a, b)):
        assert not _differing(x, y).numel(), f"param {i}"
        for key, value in ref.state[x].items():
            assert not _differing(mine.state[y][key], value).numel(), f"param {i} state[{key!r}]"


# -- edges ------------------------------------------------------------------------------------------
EDGES = {
    "sgd": {
        "nesterov+weight_decay": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.3),
        "nesterov+weight_decay+maximize": dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True),
        "dampening": dict(lr=0.1, momentum=0.9, dampening=0.3),
        # 1 - dampening inexact (0.7): the buffer's fma differs from a product then a sum (0.5 is exact)
        "dampening+weight_decay": dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1),
        "dampening 1": dict(lr=0.1, momentum=0.9, dampening=1.0),
        "dampening < 0": dict(lr=0.1, momentum=0.9, dampening=-0.5),
        "momentum 1": dict(lr=0.05, momentum=1.0),
        "momentum 1+dampening+weight_decay": dict(lr=0.05, momentum=1.0, dampening=0.5, weight_decay=0.1),
        "weight_decay large": dict(lr=0.01, weight_decay=10.0),
        "weight_decay large+momentum": dict(lr=0.01, momentum=0.9, weight_decay=10.0),
        "lr large": dict(lr=3.0, momentum=0.2),
    },
    "adam": {
        "amsgrad+maximize": dict(lr=0.01, amsgrad=True, maximize=True),
        "amsgrad+maximize+weight_decay": dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.2),
        "weight_decay large": dict(lr=0.01, weight_decay=10.0),
        "betas 0.3, 0.5": dict(lr=0.01, betas=(0.3, 0.5)),  # lerp weight 0.7: torch's second formula
        "beta1 0": dict(lr=0.01, betas=(0.0, 0.9)),
        "eps large": dict(lr=0.1, eps=0.5),
        "decoupled_weight_decay": dict(lr=0.1, weight_decay=10.0, decoupled_weight_decay=True),
    },
    "adamw": {
        "lr*wd = 1 (0.1 * 10)": dict(lr=0.1, weight_decay=10.0),  # 1 - lr*wd is 0, one fma gives -5.6e-17
        "lr*wd = 1 (0.5 * 2)": dict(lr=0.5, weight_decay=2.0),
        "lr*wd = 0.3": dict(lr=0.03, weight_decay=10.0),
        "amsgrad+maximize": dict(lr=0.01, amsgrad=True, maximize=True),
        "weight_decay 0": dict(lr=0.01, weight_decay=0.0),
        "weight_decay large": dict(lr=1e-3, weight_decay=100.0),
        "betas 0.3, 0.5": dict(lr=0.01, betas=(0.3, 0.5), amsgrad=True),
    },
}
# beta1 = 0.3: the lerp weight 1 - beta1 >= 0.5 takes torch's second formula, in every structural
# variant of Adam and AdamW (each is its own C function; only the plain one had such a case)
for _family in ("adam", "adamw"):
    for _on in itertools.product((False, True), repeat=3):
        _switches = {
            k: v
            for k, v, flag in (("weight_decay", 0.1, _on[0]), ("amsgrad", True, _on[1]), ("maximize", True, _on[2]))
            if flag
        }
        EDGES[_family]["betas 0.3, 0.5" + "".join(f"+{k}" for k in _switches)] = dict(
            lr=0.01, betas=(0.3, 0.5), **_switches
        )
SCALES = {"grads 1": 1.0, "grads 1e-8": 1e-8, "grads 1e4": 1e4}


def _edges():
    return [pytest.param(f, kw, id=f"{f}-{name}") for f, table in EDGES.items() for name, kw in table.items()]


@pytest.mark.parametrize("scale", SCALES.values(), ids=SCALES.keys())
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("family,kw", _edges())
def test_edges_bitwise_with_torch_fused(family, kw, dtype, scale, launches):
    assert _step_twins(family, dtype, kw, scale=scale, shapes=SMALL) == {}
    assert len(launches) == STEPS


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "family,kw",
    [
        ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
        ("adamw", dict(lr=0.01, betas=(0.5, 0.99))),
        ("sgd", dict(lr=0.01, momentum=0.9, dampening=0.1)),
    ],
    ids=["adam", "adamw", "sgd"],
)
def test_many_steps_bitwise_with_torch_fused(family, kw, dtype):
    """60 steps: the bias corrections 1 − β^t run through many values (computed in double from
    the float32 step count, as ATen does)."""
    assert _step_twins(family, dtype, kw, steps=60, shapes=[(37, 3), (7,), (1000,)]) == {}


def test_adamw_lr_times_weight_decay_one_is_the_fma_residual():
    """lr·λ = 0.1·10 rounds to 1 in double, so torch's for-loop AdamW multiplies the param by 0;
    its fused kernel (and symopt's) by fma(−0.1, 10, 1) = −5.55e−17, the exact residual."""
    residual = float(sp.Float(1, 60) - sp.Float(0.1, 60) * 10)
    for cls in (torch.optim.AdamW, symopt_optim.AdamW):
        p = torch.ones(9, dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=0.1, weight_decay=10.0, fused=True)
        p.grad = torch.zeros(9, dtype=torch.float64)
        opt.step()
        assert p.detach().tolist() == [residual] * 9 and residual != 0


# -- the drop-ins' SGD state and mixed groups ---------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sgd_keeps_torchs_state_layout(dtype):
    """No state entry without momentum; with it, a momentum buffer made at the first step with the
    gradient's layout, as torch's fused SGD makes it."""
    for kw, keys in ((dict(lr=0.1), None), (dict(lr=0.1, momentum=0.9), {"momentum_buffer"})):
        p = torch.randn(10, dtype=dtype, requires_grad=True)
        opt = symopt_optim.SGD([p], fused=True, **kw)
        p.grad = torch.randn(10, dtype=dtype)
        opt.step()
        assert (set(opt.state[p]) if p in opt.state else None) == keys
        assert (len(opt.state_dict()["state"]) == 1) == (keys is not None)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sgd_a_param_whose_first_gradient_comes_later_steps_as_torchs_for_loop(dtype, launches):
    """torch's fused SGD raises a TypeError when one param of a group has a momentum buffer and
    another none yet (its first gradient came later: the finding, recorded here so that a torch
    that fixes it makes this fail); symopt's steps it, each param as torch's for-loop does (the
    new one's buffer b ← g), eagerly and compiled."""
    kw = dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)
    torch_fused = [torch.randn(37, dtype=dtype, requires_grad=True), torch.randn(5, dtype=dtype, requires_grad=True)]
    opt = torch.optim.SGD(torch_fused, fused=True, **kw)
    torch_fused[0].grad = torch.randn(37, dtype=dtype)
    opt.step()
    torch_fused[1].grad = torch.randn(5, dtype=dtype)
    with pytest.raises(TypeError, match="expected Tensor as element 1 in argument 2, but got NoneType"):
        opt.step()

    gen = torch.Generator().manual_seed(3)
    base = [torch.randn(37, generator=gen, dtype=dtype), torch.randn(5, generator=gen, dtype=dtype)]
    grads = [[torch.randn(37, generator=gen, dtype=dtype), None]] + [
        [torch.randn(37, generator=gen, dtype=dtype), torch.randn(5, generator=gen, dtype=dtype)] for _ in range(3)
    ]

    def run(make, compiled=False):
        params = [b.clone().requires_grad_(True) for b in base]
        o = make(params)
        step = torch.compile(o.step, backend="aot_eager") if compiled else o.step
        for row in grads:
            for p, g in zip(params, row):
                p.grad = None if g is None else g.clone()
            step()
        return params, o

    expected, ref = run(lambda ps: torch.optim.SGD(ps, foreach=False, **kw))
    for compiled in (False, True):
        mine, opt = run(lambda ps: symopt_optim.SGD(ps, fused=True, **kw), compiled)
        for i, (x, y) in enumerate(zip(expected, mine)):
            # the fused kernel's momentum update is one fma where the for-loop rounds twice: 1 ULP per step
            torch.testing.assert_close(
                y, x, rtol=4 * torch.finfo(dtype).eps, atol=0, msg=f"param {i} (compiled={compiled})"
            )
            torch.testing.assert_close(
                opt.state[y]["momentum_buffer"],
                ref.state[x]["momentum_buffer"],
                rtol=4 * torch.finfo(dtype).eps,
                atol=0,
            )
    assert launches, "the fused C kernel never ran"


@pytest.mark.parametrize(
    "family,kw",
    [
        ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
        ("adam", dict(lr=0.01, amsgrad=True)),
        ("adamw", dict(lr=0.01)),
    ],
    ids=["sgd", "adam", "adamw"],
)
def test_a_mixed_group_takes_the_c_kernel_for_its_contiguous_params(family, kw, launches):
    """Contiguous float32 params take the C kernel (bitwise with torch's fused path); a
    transposed one and a strided slice take the generated Torch kernels (bitwise with torch's
    for-loop, which computes them as torch's fused path cannot: ATen's fused kernel pairs a
    param and a gradient of other strides by memory order)."""
    cls = CLASSES[family]
    gen = torch.Generator().manual_seed(3)
    base = [
        torch.randn(37, 3, generator=gen),
        torch.randn(6, 5, generator=gen),
        torch.randn(15, generator=gen),
        torch.randn(18, generator=gen),
    ]
    layout = ["fused", "loop", "fused", "loop"]

    def make():
        made = [x.clone().t() if i == 1 else (x.clone()[::2] if i == 3 else x.clone()) for i, x in enumerate(base)]
        return [x.requires_grad_(True) for x in made]

    mine, fused, loop = make(), make(), make()
    opts = [
        getattr(symopt_optim, cls)(mine, fused=True, **kw),
        getattr(torch.optim, cls)(fused[::2], fused=True, **kw),
        getattr(torch.optim, cls)(loop, foreach=False, **kw),
    ]
    for k in range(5):
        g = torch.Generator().manual_seed(50 + k)
        grads = [torch.randn(p.shape, generator=g).to(p.dtype) for p in mine]
        for params in (mine, fused, loop):
            for p, gr in zip(params, grads):
                p.grad = gr.clone()
        for opt in opts:
            opt.step()
    assert len(launches) == 5 and all(list(plan.params) == mine[::2] for plan in launches)
    for i, (y, path) in enumerate(zip(mine, layout)):
        x, ref = (fused[i], opts[1]) if path == "fused" else (loop[i], opts[2])
        assert not _differing(y, x).numel(), (i, path)
        for key, value in ref.state[x].items():
            assert not _differing(opts[0].state[y][key], value).numel(), (i, path, key)


@pytest.mark.parametrize(
    "family,kw",
    [("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)), ("adam", dict(amsgrad=True)), ("adamw", dict())],
    ids=["sgd", "adam", "adamw"],
)
def test_a_state_dict_from_torch_fused_continues_bitwise(family, kw, launches):
    """torch's fused optimizer stepped 3 times, its state_dict loaded into symopt's: 3 more steps
    of each are the same bits."""
    cls = CLASSES[family]
    a = [p.clone().requires_grad_(True) for p in _draws(torch.float32, 1)]
    b = [p.clone().requires_grad_(True) for p in _draws(torch.float32, 1)]
    ref = getattr(torch.optim, cls)(a, fused=True, **kw)
    for k in range(3):
        for x, g in zip(a, _draws(torch.float32, 100 + k)):
            x.grad = g.clone()
        ref.step()
    with torch.no_grad():
        for x, y in zip(a, b):
            y.copy_(x)
    mine = getattr(symopt_optim, cls)(b, fused=True, **kw)
    mine.load_state_dict(copy.deepcopy(ref.state_dict()))  # as saved and loaded: its own tensors
    for k in range(3, 6):
        for x, y, g in zip(a, b, _draws(torch.float32, 100 + k)):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
    assert len(launches) == 3
    for x, y in zip(a, b):
        assert not _differing(x, y).numel()
        for key, value in ref.state[x].items():
            assert not _differing(mine.state[y][key], value).numel(), key


# -- the printed text ---------------------------------------------------------------------------------
def _function(family: str, dtype: str, **switch) -> str:
    rule = rules.get(family)
    return CKernelPrinter({"dtype": dtype}).kernel(rule, variant_of(rule, switch))


def test_sgd_variants_resolve_the_first_step_per_call():
    rule = rules.sgd()
    assert switches(rule) == ("momentum", "weight_decay", "nesterov", "maximize", FIRST_STEP)
    names = [v.name for v in variants(rule)]
    # without momentum, nesterov and the first step change nothing: one kernel each
    assert len(names) == 20 and "nesterov" not in names and "is_first_step" not in names
    assert variant_of(rule, {"momentum": 0.0, "nesterov": True, FIRST_STEP: True}).name == "plain"
    first = _function("sgd", "float32", momentum=0.9, weight_decay=0.1, is_first_step=True)
    assert "momentum_buffer = grad;" in first
    assert "= p_momentum_buffer[i]" not in first  # torch's empty_like buffer is written, never read
    later = _function("sgd", "float32", momentum=0.9, weight_decay=0.1)
    assert "= p_momentum_buffer[i]" in later


def test_a_guard_on_t_is_resolved_only_for_a_lazy_states_first_step():
    from dataclasses import replace

    from symopt.codegen.printers._common import CodegenError

    rule = rules.sgd()
    body = rule.body + (rules.Assign(rules.w, rules.w * 2, sp.Gt(rules.t, 1)),)  # not a lazy state's formula
    with pytest.raises(CodegenError, match="depends on the step"):
        switches(replace(rule, body=body))


def test_sgd_and_adam_text_has_torchs_vector_loop_and_scalar_tail():
    text = _function("sgd", "float32", momentum=0.9, dampening=0.2)
    assert "const float c1 = (float)(1 - dampening);" in text and "const float c0 = (float)(momentum);" in text
    assert "momentum_buffer = fmaf(c1, grad, momentum_buffer*c0);" in text  # vector loop: the last product fused
    assert "momentum_buffer = fmaf(momentum_buffer, c0, c1*grad);" in text  # scalar tail: the first
    assert "for (int64_t i = begin; i < split; ++i)" in text and "for (int64_t i = split; i < end; ++i)" in text
    text = _function("adam", "float64", amsgrad=True)
    assert (
        "const double c_1 = 1 - pow(beta1, step);" in text and "const double c_2 = sqrt(1 - pow(beta2, step));" in text
    )
    assert "exp_avg_sq = fma(c2*grad, grad, exp_avg_sq*c1);" in text
    assert "exp_avg_sq = fma(exp_avg_sq, c1, c2*grad*grad);" in text
    assert "max_exp_avg_sq = symopt_max(exp_avg_sq, max_exp_avg_sq);" in text
    assert "sigma = sqrt(max_exp_avg_sq)/c3;" in text and "const double c3 = (double)(c_2);" in text
    assert "param = param + (c5*exp_avg)/sigma;" in text and "const double c5 = (double)(-lr/c_1);" in text
    text = _function("adamw", "float32", weight_decay=0.01)
    assert "const float c0 = (float)(fma(-lr, weight_decay, 1));" in text and "param = param*c0;" in text
    # a variant whose tail rounds as its vector loop: one element loop (no split), printed twice,
    # with and without GradScaler's unscaling, besides the loop over the chunks
    plain = _function("sgd", "float32")
    assert "(void)tails;" in plain and "split" not in plain and plain.count("for (") == 3


def test_tail_starts_follow_torchs_vector_size(monkeypatch):
    """torch's fused CPU optimizer kernels register with REGISTER_DISPATCH, which registers
    nullptr for AVX512 (ATen/native/DispatchStub.h), so every capability runs 32-byte vectors:
    8 floats, 4 doubles, 16 halves. (The table once said 64 bytes under AVX512; torch's fused
    Adam, SGD and 16-bit Adagrad then differed from the kernel's tails on an AVX512 machine.)"""
    for capability in ("AVX2", "AVX512", "DEFAULT"):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert (flaunch.vector_size(torch.float32), flaunch.vector_size(torch.float64)) == (8, 4)
        assert flaunch.vector_size(torch.float16) == flaunch.vector_size(torch.bfloat16) == 16
        assert flaunch.tail_starts([0, 1, 8, 11, 70_001], torch.float32) == [0, 0, 8, 8, 70_001 - 70_001 % 8]


#: (family, hyperparameters, dtype) whose vector loop and scalar tail round differently (a fused
#: multiply-add in one, a constant cast through the 16-bit dtype in the other): where torch's
#: tail starts shows in their results
TAIL_PROBES = [
    ("sgd", {"lr": 0.1, "momentum": 0.9}, torch.float32),
    ("adam", {"lr": 0.1, "weight_decay": 0.1}, torch.float32),
    ("adagrad", {"lr": 0.1}, torch.float16),
    ("adagrad", {"lr": 0.1}, torch.bfloat16),
]


@pytest.mark.parametrize("family,kw,dtype", TAIL_PROBES, ids=lambda v: str(v) if not isinstance(v, dict) else "")
def test_every_tail_length_bitwise_with_torch_fused_on_this_machine(family, kw, dtype):
    """One tensor of each size 1..40 (every tail length of 8-, 16- and 32-element vectors), each
    stepped 3 times by torch.optim and by the drop-in, fused: bitwise on this machine's torch,
    whatever its CPU capability."""
    cls = {"adagrad": "Adagrad", **CLASSES}[family]
    differing = {}
    for n in range(1, 41):
        gen = torch.Generator().manual_seed(n)
        base = torch.randn(n, generator=gen).to(dtype)
        grads = [torch.randn(n, generator=gen).to(dtype) for _ in range(3)]
        out = []
        for module in (torch.optim, symopt_optim):
            p = base.clone().requires_grad_(True)
            opt = getattr(module, cls)([p], fused=True, **kw)
            for g in grads:
                p.grad = g.clone()
                opt.step()
            out.append(p.detach())
        if not torch.equal(*out):
            differing[n] = (out[0] != out[1]).nonzero().reshape(-1).tolist()
    assert differing == {}, f"sizes whose elements differ from torch's fused path: {differing}"


# -- mutants: one rounding moved, each caught ----------------------------------------------------------
def _mutant(family: str, pattern: str, replacement: str) -> str:
    committed = (package_root() / "kernels" / "c" / f"{family}.c").read_text(encoding="utf-8")
    source, count = re.subn(pattern, replacement, committed)
    assert count > 0, f"the mutation {pattern!r} matches nothing in {family}.c"
    return source


@pytest.fixture(scope="module")
def mutant_cache(tmp_path_factory):
    """One build directory for the mutants (each built once, loaded again for the other dtype)."""
    return tmp_path_factory.mktemp("symopt-mutants")


def _install(monkeypatch, directory, family, source):
    library = fbuild.load(f"mutant_{family}", source, directory=directory)
    monkeypatch.setattr(flaunch, "_KERNELS", {family: FusedKernel(family, library=library)})
    return library


def _only_in_tails(found: dict, dtype, shapes) -> bool:
    """Whether every differing element lies in the scalar tail of its tensor (the last
    numel mod W elements)."""
    starts = flaunch.tail_starts([int(torch.Size(s).numel()) for s in shapes], dtype)
    return all(bool((idx >= starts[int(what.split()[1])]).all()) for what, idx in found.items())


#: the scalar tail's ``T = fma(T, a, c*X[*X])``
TAIL = r"(?m)^(\s+)(momentum_buffer|exp_avg_sq) = (fmaf?)\(\2, (c\d+), (c\d+)\*grad(\*grad)?\);"


def _tail_as_vector(match: re.Match) -> str:
    """The scalar tail's ``fma(T, a, c*X*Y)`` rounded as the vector loop, ``fma(c*X, Y, T*a)``."""
    indent, target, fma, a, c, square = match.groups()
    x = f"{c}*grad" if square else c
    return f"{indent}{target} = {fma}({x}, grad, {target}*{a});"


MUTANTS = {
    # family: (what, pattern, replacement, kw that catches it, dtypes it changes, only in the tails)
    "sgd tail": ("sgd", TAIL, _tail_as_vector, dict(lr=0.1, momentum=0.9, dampening=0.3), DTYPES, True),
    "sgd nesterov unfused": (
        "sgd",
        r"grad = (fmaf?)\((c\d+), momentum_buffer, grad\);",
        r"grad = grad + \2*momentum_buffer;",
        dict(lr=0.1, momentum=0.9, nesterov=True),
        DTYPES,
        False,
    ),
    "sgd weight decay unfused": (
        "sgd",
        r"grad = (fmaf?)\((c\d+), param, grad\);",
        r"grad = grad + \2*param;",
        dict(lr=0.1, weight_decay=0.3),
        DTYPES,
        False,
    ),
    "sgd first-step buffer before weight decay": (
        "sgd",
        r"(?m)^(\s+)(grad = fmaf?\(c\d+, param, grad\);[^\n]*)\n\s+(momentum_buffer = grad;[^\n]*)",
        r"\1\3\n\1\2",
        dict(lr=0.1, momentum=0.9, weight_decay=0.2),
        DTYPES,
        False,
    ),
    "adam tail": ("adam", TAIL, _tail_as_vector, dict(lr=0.01), DTYPES, True),
    "adam step size in the element type": (
        "adam",
        r"const float (c\d+) = \(float\)\(-lr/c_1\);",
        r"const float \1 = -(float)(lr)/(float)(c_1);",
        dict(lr=0.01),
        (torch.float32,),
        False,
    ),
    "adam lerp one formula": (
        "adam",
        r"(fmaf?)\((c\d+)_lerp, grad - exp_avg, \(\2_small \? exp_avg : grad\)\)",
        r"\1(\2, grad - exp_avg, exp_avg)",
        dict(lr=0.01, betas=(0.3, 0.5)),
        DTYPES,
        False,
    ),
    "adam corrected root in double": (  # √v/c₂ rounded once (from double), not twice as ATen's float ops
        "adam",
        r"sigma = sqrtf\((\w+)\)/(c\d+);",
        r"sigma = (float)(sqrt((double)\1)/c_2);",
        dict(lr=0.01),
        (torch.float32,),
        False,
    ),
    "adamw 1 - lr*wd rounded twice": (
        "adamw",
        r"\(fma\(-lr, weight_decay, 1\)\)",
        "(1 - lr*weight_decay)",
        dict(lr=0.1, weight_decay=10.0),
        DTYPES,
        False,
    ),
    "adamw tail": ("adamw", TAIL, _tail_as_vector, dict(lr=0.01, amsgrad=True), DTYPES, True),
}


#: how a mutant's check steps where it is not the default: AdamW's w·(1 − lr·λ) with lr·λ = 1 is
#: all there is with zero gradients, and two steps (w·(5.6e−17)^t underflows float32 by t = 3)
RUNS = {"adamw 1 - lr*wd rounded twice": dict(scale=0.0, steps=2)}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", MUTANTS)
def test_a_kernel_with_one_rounding_moved_fails_the_bitwise_check(name, dtype, mutant_cache, monkeypatch, launches):
    family, pattern, replacement, kw, changes, tails_only = MUTANTS[name]
    how = RUNS.get(name, {})
    assert _step_twins(family, dtype, kw, shapes=SMALL, **how) == {}  # the committed kernel passes the very check
    launches.clear()
    library = _install(monkeypatch, mutant_cache, family, _mutant(family, pattern, replacement))
    found = _step_twins(family, dtype, kw, shapes=SMALL, **how)
    assert launches and all(plan.kernel.library is library for plan in launches)  # the mutant ran
    if dtype not in changes:  # an equivalent mutant in this dtype (float64 scalars are doubles already)
        assert found == {}
        return
    assert found, f"{name}: the mutant passed"  # params or a state buffer differ
    if tails_only:  # and only where torch's scalar tail rounds otherwise
        assert _only_in_tails(found, dtype, SMALL)
