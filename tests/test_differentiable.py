"""``differentiable=True``: the drop-ins step with the generated ``update_differentiable`` kernels
(torch's differentiable for-loop, printed from the same models), so that autograd differentiates
k steps exactly as it differentiates torch.optim's.

Every expectation comes from torch.optim itself (the same inputs through ``torch.optim.<Name>(...,
differentiable=True)``) or from finite differences (``torch.autograd.gradcheck`` in float64).
Compared bit for bit: the params and every state tensor after k steps, and the gradients of a
random linear functional of them w.r.t. the initial params, every step's gradient, and every
hyperparameter tensor that requires grad (lr, betas, weight_decay where torch tracks them). Where
torch raises (a ``value=`` Scalar that requires grad, a tensor autograd saved modified in place by
a later step), symopt raises the same error with the same message.
"""

from __future__ import annotations

import inspect
import types

import pytest
import torch

import symopt.torch as st
from symopt.kernels.torch import adagrad as adagrad_kernel
from symopt.kernels.torch import adam as adam_kernel
from symopt.torch import functional as F
from torch.optim.adam import adam as torch_adam

NAMES = ("Adagrad", "RMSprop", "Adam", "AdamW", "SGD")


def hyper(x: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A hyperparameter tensor that autograd differentiates."""
    return torch.tensor(x, dtype=dtype, requires_grad=True)


#: (optimizer, keyword arguments maker, why): makers, so that each run gets fresh leaf tensors
CASES = [
    ("Adagrad", lambda d: {}, "defaults"),
    ("Adagrad", lambda d: dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, eps=1e-3, maximize=True), "every option"),
    ("Adagrad", lambda d: dict(lr=hyper(0.1, d)), "lr requiring grad: torch's TypeError (value= is a Scalar)"),
    ("RMSprop", lambda d: {}, "defaults"),
    ("RMSprop", lambda d: dict(momentum=0.9, weight_decay=0.1, alpha=0.9), "momentum, weight decay"),
    ("RMSprop", lambda d: dict(centered=True), "centered: torch's backward through 3 steps fails (grad_avg saved)"),
    ("RMSprop", lambda d: dict(lr=hyper(0.1, d)), "lr requiring grad: torch's TypeError"),
    ("Adam", lambda d: {}, "defaults: tensor step, step size folded into the denominator"),
    ("Adam", lambda d: dict(amsgrad=True), "amsgrad: maximum of a clone; 3 steps fail in torch"),
    ("Adam", lambda d: dict(lr=hyper(0.01, d), betas=(hyper(0.9, d), hyper(0.99, d))), "lr and betas requiring grad"),
    (
        "Adam",
        lambda d: dict(
            lr=hyper(0.01, d), betas=(hyper(0.9, d), hyper(0.99, d)), weight_decay=hyper(0.1, d), maximize=True
        ),
        "weight_decay requiring grad: addcmul_ of param.clone()",
    ),
    (
        "Adam",
        lambda d: dict(lr=hyper(0.01, d), weight_decay=hyper(0.1, d)),
        "weight_decay requiring grad on the caller's leaf grad: torch's in-place RuntimeError",
    ),
    ("Adam", lambda d: dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.9)), "float hyperparameters, L2"),
    (
        "AdamW",
        lambda d: dict(lr=hyper(0.01, d), weight_decay=hyper(0.1, d), betas=(hyper(0.8, d), hyper(0.95, d))),
        "decoupled weight decay, every hyperparameter requiring grad",
    ),
    ("AdamW", lambda d: dict(amsgrad=True, maximize=True), "amsgrad, maximize: 3 steps fail in torch"),
    (
        "SGD",
        lambda d: dict(lr=hyper(0.1, d), momentum=0.9, nesterov=True, maximize=True, weight_decay=hyper(0.1, d)),
        "lr and weight_decay requiring grad: tensor operands",
    ),
    ("SGD", lambda d: dict(lr=hyper(0.1, d), momentum=0.9, dampening=0.1), "momentum buffer: 3 steps fail in torch"),
    ("SGD", lambda d: dict(lr=0.1), "plain"),
]
CASE_IDS = [f"{name}-{why.split(':')[0].replace(' ', '_')}" for name, _, why in CASES]


def trajectory(cls: type, k: int, dtype: torch.dtype, make_kwargs, seed: int = 0, *, foreach=None):
    """k differentiable steps of ``cls`` on a non-leaf param (a clone of a leaf), each with its own
    leaf gradient; then the gradients of Σ r·x over the param and every state tensor (r random)
    w.r.t. the initial param, the gradients and the hyperparameter tensors requiring grad.
    Returns ``(outputs, gradients)``, or the exception raised on the way."""
    try:
        kwargs = make_kwargs(dtype)
        gen = torch.Generator().manual_seed(seed)
        p0 = torch.randn(5, dtype=dtype, generator=gen).requires_grad_(True)
        grads = [torch.randn(5, dtype=dtype, generator=gen).requires_grad_(True) for _ in range(k)]
        p = p0.clone()
        extra = {} if foreach is None else {"foreach": foreach}
        opt = cls([p], differentiable=True, **kwargs, **extra)
        for g in grads:
            p.grad = g
            opt.step()
        outputs = [p] + [v for key, v in opt.state[p].items() if torch.is_tensor(v) and key != "step"]
        leaves = [v for v in kwargs.values() if torch.is_tensor(v) and v.requires_grad]
        leaves += [
            b for v in kwargs.values() if isinstance(v, tuple) for b in v if torch.is_tensor(b) and b.requires_grad
        ]
        weights = [torch.randn(o.shape, dtype=dtype, generator=gen) for o in outputs]
        loss = sum((o * r).sum() for o, r in zip(outputs, weights))
        gradients = torch.autograd.grad(loss, [p0, *grads, *leaves], allow_unused=True)
        return [o.detach() for o in outputs], list(gradients)
    except Exception as exc:  # compared with torch's own
        return exc


def bitwise(a, b) -> bool:
    """Same dtype, shape and bits, finite (None only against None)."""
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.equal(a, b)


def mismatches(name: str, k: int, dtype: torch.dtype, make_kwargs, **options) -> list[str]:
    """What differs between torch.optim's and symopt's trajectory (empty: nothing)."""
    ours = trajectory(getattr(st, name), k, dtype, make_kwargs, **options)
    theirs = trajectory(getattr(torch.optim, name), k, dtype, make_kwargs, **options)
    if isinstance(ours, Exception) or isinstance(theirs, Exception):
        if type(ours) is type(theirs) and str(ours) == str(theirs):
            return []
        return [f"torch: {theirs!r}; symopt: {ours!r}"]
    out = [f"output {i}" for i, (a, b) in enumerate(zip(ours[0], theirs[0])) if not bitwise(a, b)]
    out += [f"gradient {i}" for i, (a, b) in enumerate(zip(ours[1], theirs[1])) if not bitwise(a, b)]
    if len(ours[0]) != len(theirs[0]) or len(ours[1]) != len(theirs[1]):
        out.append("another number of outputs or gradients")
    return out


@pytest.mark.parametrize("k", [1, 3], ids=["1-step", "3-steps"])
@pytest.mark.parametrize("name,make_kwargs,why", CASES, ids=CASE_IDS)
def test_steps_and_their_gradients_are_torch_bit_for_bit(name, make_kwargs, why, k):
    assert mismatches(name, k, torch.float64, make_kwargs) == []


@pytest.mark.parametrize(
    "name,make_kwargs,why",
    [c for c in CASES if c[2] in ("defaults", "lr and betas requiring grad")],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_float32_steps_and_gradients_are_torch_bit_for_bit(name, make_kwargs, why):
    assert mismatches(name, 3, torch.float32, make_kwargs) == []


@pytest.mark.parametrize("name,make_kwargs,why", CASES, ids=CASE_IDS)
def test_each_case_is_what_it_says_in_torch(name, make_kwargs, why):
    """The comparison is not of two errors where a case means a success: torch's own 3 steps
    raise exactly in the cases described as failing, and otherwise give a finite, nonzero
    gradient for every leaf that enters the outputs (the param, each step's gradient)."""
    result = trajectory(getattr(torch.optim, name), 3, torch.float64, make_kwargs)
    fails = any(word in why for word in ("TypeError", "fail", "RuntimeError"))
    assert isinstance(result, Exception) == fails, result
    if not fails:
        assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in result[1][:4])


#: gradcheck cases: every drop-in, with hyperparameter tensors where torch differentiates them
GRADCHECK = [
    ("Adagrad", dict(lr=0.5, lr_decay=0.1, weight_decay=0.2), ()),
    ("RMSprop", dict(lr=0.1, momentum=0.5, weight_decay=0.1), ()),
    ("RMSprop", dict(lr=0.1, centered=True), ()),
    ("Adam", dict(amsgrad=True, maximize=True), ("lr", "beta1", "beta2", "weight_decay")),
    ("AdamW", dict(), ("lr", "beta1", "beta2", "weight_decay")),
    ("SGD", dict(maximize=True), ("lr", "weight_decay")),
    ("SGD", dict(momentum=0.9, nesterov=True, maximize=True), ("lr", "weight_decay")),
]
VALUES = {"lr": 0.05, "beta1": 0.8, "beta2": 0.9, "weight_decay": 0.1}


@pytest.mark.parametrize("name,kwargs,tensors", GRADCHECK, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(GRADCHECK)])
def test_gradcheck_float64(name, kwargs, tensors):
    """Finite differences agree with autograd through the generated differentiable kernel: one
    step (two for the rules whose saved tensors torch's path leaves intact), w.r.t. the initial
    param, the gradients and the hyperparameter tensors. SGD's momentum buffer is seeded from an
    input, as torch's own test seeds it: the first step makes it with ``grad.detach().clone()``
    (torch's, bitwise above), whose gradient is not the derivative of the step."""
    cls = getattr(st, name)
    steps = 1 if kwargs.get("amsgrad") or kwargs.get("centered") else 2
    gen = torch.Generator().manual_seed(3)
    p0 = torch.rand(4, dtype=torch.float64, generator=gen).add_(0.5).requires_grad_(True)
    grads = [torch.randn(4, dtype=torch.float64, generator=gen).requires_grad_(True) for _ in range(steps)]
    leaves = [hyper(VALUES[n]) for n in tensors]
    seeded = (
        [torch.randn(4, dtype=torch.float64, generator=gen).requires_grad_(True)]
        if kwargs.get("momentum") and name == "SGD"
        else []
    )

    def step(p0, *rest):
        gs, hs = rest[:steps], dict(zip(tensors, rest[steps : steps + len(tensors)]))
        options = dict(kwargs, **{k: v for k, v in hs.items() if not k.startswith("beta")})
        if "beta1" in hs:
            options["betas"] = (hs["beta1"], hs["beta2"])
        p = p0.clone()
        opt = cls([p], differentiable=True, **options)
        for buf in rest[steps + len(tensors) :]:
            opt.state[p]["momentum_buffer"] = buf.clone()
        for g in gs:
            p.grad = g
            opt.step()
        return (p, *[v for key, v in opt.state[p].items() if torch.is_tensor(v) and key != "step"])

    assert torch.autograd.gradcheck(step, (p0, *grads, *leaves, *seeded))


def test_functional_api_takes_differentiable_as_torch():
    """``symopt.torch.functional.adam(..., differentiable=True)`` under ``enable_grad`` is torch's
    functional ``adam`` with the same flag: same params, states and gradients."""

    def run(fn):
        gen = torch.Generator().manual_seed(7)
        p0 = torch.randn(6, dtype=torch.float64, generator=gen).requires_grad_(True)
        g = torch.randn(6, dtype=torch.float64, generator=gen).requires_grad_(True)
        lr = hyper(0.01)
        p, m, v, step = (
            p0.clone(),
            torch.zeros(6, dtype=torch.float64),
            torch.zeros(6, dtype=torch.float64),
            torch.tensor(0.0),
        )
        fn(
            [p],
            [g],
            [m],
            [v],
            [],
            [step],
            foreach=False,
            differentiable=True,
            amsgrad=False,
            beta1=0.9,
            beta2=0.99,
            lr=lr,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )
        return [p, m, v], torch.autograd.grad((p * 3).sum() + v.sum(), [p0, g, lr])

    ours, theirs = run(F.adam), run(torch_adam)
    assert all(bitwise(a.detach(), b.detach()) for a, b in zip(ours[0], theirs[0]))
    assert all(bitwise(a, b) for a, b in zip(ours[1], theirs[1]))


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "Adam", "AdamW"])
def test_foreach_with_differentiable_is_torchs_assertion(name):
    kwargs = lambda d: {}  # noqa: E731
    for cls in (getattr(st, name), getattr(torch.optim, name)):
        with pytest.raises(AssertionError, match="_foreach ops don't support autograd"):
            raise trajectory(cls, 1, torch.float64, kwargs, foreach=True)


def test_sgd_foreach_with_differentiable_runs_torchs_foreach_ops():
    """torch's multi-tensor SGD takes no differentiable flag: its foreach ops run with autograd,
    and so do the generated ones (plain SGD). Known gap, not claimed here: with maximize + weight
    decay or Nesterov momentum torch reuses the gradient list in place (``_foreach_add_(device_grads,
    ...)``, on the caller's gradients for Nesterov without maximize) where the generated foreach
    kernel goes out of place, whose autograd saves the params/buffers a later op updates (a
    RuntimeError at backward where torch's works). The values are the same."""
    assert mismatches("SGD", 3, torch.float64, lambda d: dict(lr=0.1), foreach=True) == []


@pytest.mark.parametrize("name", NAMES)
def test_differentiable_defaults_to_the_for_loop(name):
    """``foreach=None`` with ``differentiable=True`` is the for-loop, as torch chooses."""
    assert mismatches(name, 2, torch.float64, lambda d: {}, foreach=None) == []


def test_adam_refuses_a_step_that_requires_grad_as_torch():
    for cls in (st.Adam, torch.optim.Adam):
        p = torch.zeros(2, requires_grad=True).clone()
        p.grad = torch.ones(2)
        opt = cls([p], differentiable=True)
        opt.state[p]["step"] = torch.tensor(0.0, requires_grad=True)
        opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"] = torch.zeros(2), torch.zeros(2)
        with pytest.raises(RuntimeError, match="`requires_grad` is not supported for `step` in differentiable mode"):
            opt.step()


def test_a_leaf_param_in_differentiable_mode_is_torchs_error():
    """A leaf param that requires grad cannot be updated in place with autograd recording: the
    same RuntimeError from torch and symopt."""
    errors = []
    for cls in (st.Adagrad, torch.optim.Adagrad):
        p = torch.zeros(3, requires_grad=True)
        p.grad = torch.ones(3)
        with pytest.raises(RuntimeError) as info:
            cls([p], differentiable=True).step()
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "leaf Variable" in errors[0]


def test_differentiable_steps_on_training_tensors_are_torchs():
    """``differentiable=True`` on ordinary training tensors (params detached from any graph, the
    step run under no_grad by the caller): the same numbers as torch's differentiable path."""
    for name in NAMES:
        out = []
        for cls in (getattr(st, name), getattr(torch.optim, name)):
            gen = torch.Generator().manual_seed(11)
            p = torch.randn(7, generator=gen)
            opt = cls([p], differentiable=True, **({"lr": 0.01} if name == "SGD" else {}))
            for _ in range(4):
                p.grad = torch.randn(7, generator=gen)
                opt.step()
            out.append([p] + [v for v in opt.state[p].values() if torch.is_tensor(v)])
        assert all(bitwise(a, b) for a, b in zip(*out)), name


def mutant(module: types.ModuleType, function: str, old: str, new: str):
    """``module.function`` recompiled with ``old`` replaced by ``new`` in its generated source."""
    source = inspect.getsource(getattr(module, function))
    assert source.count(old) == 1, old
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), module.__file__, "exec"), namespace)
    return namespace[function]


ADAM_GRAD = lambda d: dict(lr=hyper(0.01, d), betas=(hyper(0.9, d), hyper(0.99, d)))  # noqa: E731


def test_a_wrong_kernel_fails_the_gradient_comparison(monkeypatch):
    """The comparison fails on a kernel whose numbers are right and whose gradients are not: Adam
    with β₁ detached in the first moment's lerp weight (as a Python float would be); the values
    stay equal, the gradient w.r.t. β₁ (leaf 5 after p0 and three gradients: lr, β₁) does not."""
    assert mismatches("Adam", 3, torch.float64, ADAM_GRAD) == []
    wrong = mutant(
        adam_kernel,
        "update_differentiable",
        "exp_avg.lerp_(grad, 1 - _like(beta1, exp_avg))",
        "exp_avg.lerp_(grad, 1 - _like(beta1, exp_avg).detach())",
    )
    monkeypatch.setattr(adam_kernel, "update_differentiable", wrong)
    assert mismatches("Adam", 3, torch.float64, ADAM_GRAD) == ["gradient 5"]


def test_a_kernel_with_the_for_loops_in_place_add_fails(monkeypatch):
    """Adagrad's σ ← σ + ε in place after the root (the for-loop's ``sigma.add_(eps)``) breaks the
    backward of sqrt (its output is saved): the comparison reports torch's success against the
    mutant's RuntimeError."""
    wrong = mutant(adagrad_kernel, "update_differentiable", "sigma = sigma.add(eps)", "sigma.add_(eps)")
    monkeypatch.setattr(adagrad_kernel, "update_differentiable", wrong)
    found = mismatches("Adagrad", 1, torch.float64, lambda d: {})
    assert len(found) == 1 and "modified by an inplace operation" in found[0]


def test_a_kernel_that_folds_half_the_step_size_fails_on_values(monkeypatch):
    """Adam's ε not divided by the folded step size (σ/s + ε instead of (σ + ε)/s): the params
    differ, and the comparison says so."""
    wrong = mutant(adam_kernel, "update_differentiable", "sigma.add_(eps/step_size_neg)", "sigma.add_(eps)")
    monkeypatch.setattr(adam_kernel, "update_differentiable", wrong)
    found = mismatches("Adam", 2, torch.float64, lambda d: {})
    assert "output 0" in found, found
