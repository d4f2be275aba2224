"""AdaGrad-Norm (symopt.rules.adagrad_norm): the model, its generated NumPy and Torch kernels, the
functional API, the numpy step and the drop-in ``symopt.torch.AdagradNorm``, each against the
paper's iteration typed here (b_{j+1}² = b_j² + ‖g_j‖², x_{j+1} = x_j − η g_j/(b_{j+1} + ε)), and
its closed forms (symopt.derive.adagrad_norm) against wrong statements."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import sympy as sp
import torch

import symopt.numpy as sn
from symopt import rules
from symopt.derive import adagrad_norm as D
from symopt.interpret import Interpreter
from symopt.torch import AdagradNorm
from symopt.torch import functional as F

HYPER = dict(lr=0.3, initial_accumulator_value=0.25, eps=1e-3, weight_decay=0.05)


def _by_hand(w, grads, lr, initial_accumulator_value, eps, weight_decay=0.0, maximize=False):
    """The iteration typed from the paper (with torch's ε, weight decay and maximize), in float64."""
    w = np.array(w, dtype=np.float64)
    b2 = initial_accumulator_value
    for g in grads:
        g = -np.asarray(g, dtype=np.float64) if maximize else np.asarray(g, dtype=np.float64)
        g = g + weight_decay * w
        b2 = b2 + float(np.dot(g.ravel(), g.ravel()))
        w = w - lr * g / (math.sqrt(b2) + eps)
    return w, b2


def _grads(steps, shape, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) for _ in range(steps)]


def test_the_model_is_one_accumulator_per_tensor():
    rule = rules.adagrad_norm()
    assert rule.state("sum").per_tensor and [h.name for h in rule.hyperparameters] == [
        "lr",
        "weight_decay",
        "initial_accumulator_value",
        "eps",
        "maximize",
    ]
    B, n = rule.state("sum").symbol, sp.Symbol("n", nonnegative=True)
    assert rule.per_tensor_symbols() == {B, n, sp.Symbol("sigma", nonnegative=True)}
    step = rule.step_map()
    eta, eps = rule.hyperparameter("lr").symbol, rule.hyperparameter("eps").symbol
    norm = rules.tensor_sum(rules.g**2)
    assert sp.simplify(step[B] - (B + norm)) == 0
    assert sp.simplify(step[rules.w] - (rules.w - eta * rules.g / (sp.sqrt(B + norm) + eps))) == 0
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        rule.values(lr=-1)


@pytest.mark.parametrize("maximize", [False, True])
def test_interpreter_numpy_and_torch_kernels_follow_the_paper(maximize):
    w0 = np.linspace(-1, 1, 12).reshape(3, 4)
    grads = [g.numpy() for g in _grads(40, (3, 4))]
    expected, b2 = _by_hand(w0, grads, maximize=maximize, **HYPER)
    run = Interpreter(rules.adagrad_norm(), maximize=maximize, **HYPER)
    w = w0.copy()
    state = run.run(w, grads)
    np.testing.assert_allclose(w, expected, rtol=1e-13)
    assert state["sum"].shape == () and float(state["sum"]) == pytest.approx(b2, rel=1e-13)
    w = w0.copy()
    state = sn.init_state("adagrad_norm", w, **HYPER)
    for g in grads:
        sn.adagrad_norm_step(w, g, state, maximize=maximize, **HYPER)
    np.testing.assert_allclose(w, expected, rtol=1e-13)
    assert state["step"] == 40 and float(state["sum"]) == pytest.approx(b2, rel=1e-13)
    p = torch.from_numpy(w0.copy())
    s, steps = torch.tensor(HYPER["initial_accumulator_value"], dtype=torch.float64), [torch.tensor(0.0)]
    for g in grads:
        F.adagrad_norm(
            [p],
            [torch.from_numpy(g)],
            [s],
            steps,
            maximize=maximize,
            **{k: v for k, v in HYPER.items() if k != "initial_accumulator_value"},
        )
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-13)
    assert float(steps[0]) == 40 and float(s) == pytest.approx(b2, rel=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_step_is_within_its_rounding_bound(dtype):
    """One float32/float64 step of the drop-in from the same state against the exact step (float64
    from the same inputs; mpmath would agree to far below these bounds): the squared norm of n
    elements is within n·u of its value (recursive summation's bound; pairwise is tighter), its
    root within n·u/2 + u, and the step η g/σ adds three roundings: the error on w is at most
    (n/2 + 4)·u·|η g/σ| + u·|w|, u the unit roundoff."""
    n = 1000
    u = torch.finfo(dtype).eps / 2
    gen = torch.Generator().manual_seed(1)
    w0 = torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)
    g = (torch.randn(n, generator=gen, dtype=torch.float64) * 0.1).to(dtype)
    p = w0.clone().requires_grad_(True)
    opt = AdagradNorm([p], lr=0.1, initial_accumulator_value=2.0, eps=1e-6)
    p.grad = g.clone()
    opt.step()
    exact_w, _ = _by_hand(w0.double().numpy(), [g.double().numpy()], lr=0.1, initial_accumulator_value=2.0, eps=1e-6)
    step = 0.1 * np.abs(g.double().numpy()) / (math.sqrt(2.0 + float(g.double().square().sum())) + 1e-6)
    bound = (n / 2 + 4) * u * step + u * np.abs(exact_w)
    error = np.abs(p.detach().double().numpy() - exact_w)
    assert np.all(error <= bound), float(np.max(error / bound))


def test_the_drop_in_is_the_functional_bitwise_and_keeps_a_0_dim_state():
    w0 = torch.randn(5, 7, dtype=torch.float32)
    grads = _grads(25, (5, 7), dtype=torch.float32)
    p = w0.clone().requires_grad_(True)
    opt = AdagradNorm([p], **HYPER)
    ref, s, steps = w0.clone(), torch.tensor(HYPER["initial_accumulator_value"]), [torch.tensor(0.0)]
    for g in grads:
        p.grad = g.clone()
        opt.step()
        F.adagrad_norm(
            [ref],
            [g],
            [s],
            steps,
            **{k: v for k, v in HYPER.items() if k != "initial_accumulator_value"},
            maximize=False,
        )
    assert torch.equal(p.detach(), ref)
    state = opt.state[p]
    assert state["sum"].shape == () and state["sum"].dtype == torch.float32 and torch.equal(state["sum"], s)
    # a state_dict round trip continues bitwise
    again = AdagradNorm([q := w0.clone().requires_grad_(True)], **HYPER)
    for g in grads[:10]:
        q.grad = g.clone()
        again.step()
    saved = copy.deepcopy(again.state_dict())  # as torch's tests do: load_state_dict keeps the tensors it is given
    fresh = AdagradNorm([r := q.detach().clone().requires_grad_(True)], **HYPER)
    fresh.load_state_dict(saved)
    for g in grads[10:]:
        for x, o in ((q, again), (r, fresh)):
            x.grad = g.clone()
            o.step()
    assert torch.equal(q.detach(), r.detach())


def test_an_lr_scheduler_drives_it():
    p = torch.ones(3, requires_grad=True)
    opt = AdagradNorm([p], lr=1.0, initial_accumulator_value=0.0, eps=0.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = torch.ones(3)
        opt.step()
        sched.step()
    # by hand: b_j^2 = 3 j, steps 1/sqrt(3), 0.5/sqrt(6), 0.25/sqrt(9)
    expected = 1 - (1 / math.sqrt(3) + 0.5 / math.sqrt(6) + 0.25 / 3)
    assert torch.allclose(p.detach(), torch.full((3,), expected), rtol=1e-6)


def test_a_complex_parameter_accumulates_the_modulus():
    p = torch.randn(6, dtype=torch.complex128, requires_grad=True)
    g = torch.randn(6, dtype=torch.complex128)
    w0 = p.detach().clone()
    opt = AdagradNorm([p], lr=0.1, initial_accumulator_value=1.0, eps=0.0)
    p.grad = g.clone()
    opt.step()
    b2 = 1.0 + float((g.abs() ** 2).sum())
    assert float(opt.state[p]["sum"]) == pytest.approx(b2, rel=1e-14)
    assert torch.allclose(p.detach(), w0 - 0.1 * g / math.sqrt(b2), rtol=1e-14)


def test_bad_input_is_refused_with_one_line():
    p = torch.zeros(3, requires_grad=True)
    for kwargs, message in (
        ({"lr": -1.0}, "Invalid learning rate: -1.0"),
        ({"eps": -1.0}, "Invalid epsilon value: -1.0"),
        ({"initial_accumulator_value": -0.5}, "Invalid initial_accumulator_value value: -0.5"),
        ({"foreach": True}, r"does not support foreach=True \(only foreach=False\)$"),
        ({"fused": True}, r"does not support fused=True \(only fused=False\)$"),
    ):
        with pytest.raises(ValueError, match=message):
            AdagradNorm([p], **kwargs)
    w = np.zeros(3)
    state = sn.init_state("adagrad_norm", w)
    state["sum"] = np.zeros(3)  # a per-element buffer where one number belongs
    with pytest.raises(TypeError, match=r"state\['sum'\] must be a 0-dim numpy.ndarray of dtype float64"):
        sn.adagrad_norm_step(w, np.ones(3), state)
    with pytest.raises(TypeError, match=r"state_sums\[0\] must be a 0-dim tensor of dtype torch.float64"):
        F.adagrad_norm(
            [torch.zeros(3, dtype=torch.float64)],
            [torch.ones(3, dtype=torch.float64)],
            [torch.zeros(3)],
            [torch.tensor(0.0)],
            lr=0.1,
            weight_decay=0,
            eps=0,
            maximize=False,
        )


def test_its_differentiable_step_is_its_step_and_autograd_runs_through_it():
    """differentiable=True: autograd through the reduction. With w_1 = w_0 − η g/σ, σ = √(B_0 + ‖g‖²)
    (ε = 0): ∂Σw_1/∂g_i = −η (1/σ − g_i Σ_k g_k / σ³), typed here."""
    w0 = torch.randn(4, dtype=torch.float64)
    g = torch.randn(4, dtype=torch.float64, requires_grad=True)
    p = w0.clone().requires_grad_(True).clone()  # a non-leaf, as torch's differentiable tests step
    opt = AdagradNorm([p], lr=0.1, initial_accumulator_value=1.0, eps=0.0, differentiable=True)
    p.grad = g
    opt.step()
    sigma = math.sqrt(1.0 + float(g.detach().square().sum()))
    assert torch.allclose(p.detach(), w0 - 0.1 * g.detach() / sigma, rtol=1e-14)
    (dg,) = torch.autograd.grad(p.sum(), g)
    expected = -0.1 * (1 / sigma - g.detach() * float(g.detach().sum()) / sigma**3)
    assert torch.allclose(dg, expected, rtol=1e-12)


def test_the_closed_forms_pass_and_wrong_ones_fail():
    found = D.derivations()
    assert [d.id for d in found] == ["adagrad_norm.torch.sum", "adagrad_norm.torch.lr", "adagrad_norm.torch.lr_limit"]
    assert all(d.passed for d in found), [c.summary() for d in found for c in d.checks]
    total, rate, limit = found
    B0 = rules.adagrad_norm().hyperparameter("initial_accumulator_value").symbol
    eta, eps = (rules.adagrad_norm().hyperparameter(k).symbol for k in ("lr", "eps"))
    t = rules.t
    # derived here: B_t = B_0 + t S, eta_t = eta / (sqrt(B_t) + eps), sqrt(t) eta_t -> eta / sqrt(S)
    assert sp.simplify(total.expr - (B0 + t * D.S)) == 0
    assert sp.simplify(rate.expr - eta / (sp.sqrt(B0 + t * D.S) + eps)) == 0
    assert sp.simplify(limit.expr - eta / sp.sqrt(D.S)) == 0
    for derivation, wrong in (
        (total, B0 + (t - 1) * D.S),  # the accumulator one step behind
        (total, B0 + t * D.S / 6),  # the mean square (AdaGrad's element) instead of the norm
        (rate, eta / (sp.sqrt(B0 + (t - 1) * D.S) + eps)),  # the step before the accumulation
        (rate, eta / sp.sqrt(B0 + t * D.S + eps)),  # eps inside the root
        (limit, eta / D.S),
    ):
        assert not derivation.recheck(sp.Eq(derivation.statement.lhs, wrong)).passed, wrong


def test_derive_cli_covers_it(capsys):
    from symopt.cli import main

    assert main(["derive", "adagrad_norm", "--check"]) == 0
    assert "3 derivations in 1 cases: 3 passed" in capsys.readouterr().out
    assert main(["derive", "adagrad_norm", "--gradient", "powerlaw"]) == 2
    assert "closed forms under the constant gradient only" in capsys.readouterr().err
