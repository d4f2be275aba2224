"""The reference interpreter against torch.optim itself, and float64 against mpmath."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symopt import rules
from symopt.interpret import Interpreter, to_mpmath
from symopt.verify.cases import optim_db_inputs

STEPS = 100
SHAPES = ((3, 4), (5,), ())
TORCH_CLASSES = {"adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}


def _torch_run(rule, kwargs, params0, grads):
    params = [torch.tensor(p, requires_grad=True) for p in params0]
    opt = TORCH_CLASSES[rule](params, foreach=False, **kwargs)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params], [opt.state[p] for p in params]


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    params0 = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return params0, grads


def _assert_close(actual, expected, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    # Relative error per element, against the tensor's scale where an element is near 0.
    scale = np.maximum(np.abs(expected), np.abs(expected).max(initial=0.0) * 1e-3)
    err = np.abs(actual - expected) / np.where(scale > 0, scale, 1.0)
    assert err.max(initial=0.0) <= 1e-12, f"{what}: relative error {err.max()}"


CASES = [(rule, case) for rule in TORCH_CLASSES for case in optim_db_inputs(rule, "cpu")]


@pytest.mark.parametrize("rule,case", CASES, ids=[f"{r}-{c.name}" for r, c in CASES])
def test_interpreter_reproduces_torch_optim(rule, case):
    params0, grads = _inputs()
    expected_params, expected_states = _torch_run(rule, case.kwargs, params0, grads)
    interp = Interpreter(rules.get(rule), **case.kwargs)
    for i, p0 in enumerate(params0):
        w = p0.copy()
        state = interp.init_state(w)
        for step in grads:
            interp.step(w, step[i], state)
        _assert_close(w, expected_params[i], f"param {i}")
        torch_state = expected_states[i]
        ours = {k for k in state if k != "step" or rules.get(rule).stores_step}
        assert ours == set(torch_state), f"state keys {sorted(ours)} != torch's {sorted(torch_state)}"
        for key, value in torch_state.items():
            if key == "step":
                assert state["step"] == int(value.item()) == STEPS
            else:
                _assert_close(state[key], value.numpy(), f"param {i} state {key}")


def test_interpreter_complex_params_match_torch_view_as_real():
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    grads = [rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(20)]
    p = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.RMSprop([p], foreach=False, centered=True, momentum=0.5)
    interp = Interpreter(rules.rmsprop(), centered=True, momentum=0.5)
    w = p0.copy()
    state = interp.init_state(w)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        interp.step(w, g, state)
    _assert_close(w.view(np.float64), torch.view_as_real(p.detach()).numpy().ravel(), "complex param")
    _assert_close(
        state["grad_avg"].view(np.float64), torch.view_as_real(opt.state[p]["grad_avg"]).numpy().ravel(), "grad_avg"
    )


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop"])
def test_float64_agrees_with_mpmath_at_50_digits(rule):
    params0, grads = _inputs(seed=5)
    kwargs = {"centered": True, "momentum": 0.3} if rule == "rmsprop" else {"lr_decay": 0.1, "weight_decay": 0.01}
    exact = Interpreter(rules.get(rule), precision="mpmath", dps=50, **kwargs)
    fast = Interpreter(rules.get(rule), **kwargs)
    w64, wmp = params0[0].copy(), to_mpmath(params0[0])
    s64, smp = fast.init_state(w64), exact.init_state(wmp)
    for step in grads[:30]:
        fast.step(w64, step[0], s64)
        exact.step(wmp, to_mpmath(step[0]), smp)
    _assert_close(w64, wmp.astype(np.float64), "param")


def test_mismatched_shapes_are_rejected():
    interp = Interpreter(rules.adagrad())
    w = np.zeros(3)
    with pytest.raises(ValueError, match="grad has shape"):
        interp.step(w, np.zeros(4), interp.init_state(w))


def test_bad_precision_is_rejected():
    with pytest.raises(ValueError, match="precision must be one of"):
        Interpreter(rules.adagrad(), precision="float16")
