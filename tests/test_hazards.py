"""Hyperparameters torch accepts that make no sense (symopt.derive.hazards): each hazard's derived
statement against a formula typed here and torch.optim's own state, its measurement shown able to
fail, and the commands reporting it instead of crashing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from symopt import rules, schemas
from symopt.cli import main
from symopt.derive import hazards as H


def _torch_states(optimizer, key, steps, grad=0.5, **kw):
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, optimizer)([w], foreach=False, **kw)
    out = []
    for _ in range(steps):
        w.grad = torch.full_like(w, grad)
        opt.step()
        out.append(float(opt.state[w][key][0]))
    return np.array(out), float(w.detach()[0])


def _evaluate(found, **numbers):

    rhs = found.statement.rhs
    symbols = {s.name: s for s in rhs.free_symbols}
    return [
        float(rhs.subs({symbols[k]: v for k, v in {**numbers, "t": t}.items() if k in symbols})) for t in range(1, 11)
    ]


def test_alpha_above_one_derives_a_negative_mean_square_and_torch_gives_nan():
    (found,) = H.hazards(rules.get("rmsprop"), alpha=2.0)
    assert found.hazard.id == "rmsprop.alpha_above_1" and found.confirmed
    v, w = _torch_states("RMSprop", "square_avg", 10, alpha=2.0)
    typed = [0.25 * (1 - 2.0**t) for t in range(1, 11)]  # v_t = g²(1 − α^t), g = 0.5 (the EMA summed by hand)
    assert np.array_equal(v, typed) and np.allclose(_evaluate(found, g=0.5), typed, rtol=1e-15, atol=0)
    assert math.isnan(w) and "NaN" in found.consequence


def test_alpha_one_keeps_the_mean_square_at_zero_and_the_step_is_g_over_eps():
    (found,) = H.hazards(rules.get("rmsprop"), alpha=1.0, lr=0.01)
    assert found.hazard.id == "rmsprop.alpha_1" and found.confirmed and found.statement.rhs == 0
    v, w = _torch_states("RMSprop", "square_avg", 3, alpha=1.0, lr=0.01)
    assert not v.any() and w == pytest.approx(1 - 3 * 0.01 * 0.5 / 1e-8, rel=1e-12)


@pytest.mark.parametrize("momentum, dampening", [(1.5, 0.0), (1.0, 0.0), (1.0, 0.5), (2.0, 1.0)])
def test_momentum_at_least_one_grows_the_buffer_as_derived(momentum, dampening):
    (found,) = H.hazards(rules.get("sgd"), momentum=momentum, dampening=dampening, lr=0.1)
    assert found.hazard.id == "sgd.momentum_at_least_1" and found.confirmed
    b, _ = _torch_states("SGD", "momentum_buffer", 10, momentum=momentum, dampening=dampening, lr=0.1)
    typed, buf = [], 0.0
    for t in range(1, 11):  # torch's buffer, typed: b_1 = g, b_t = μ b_{t−1} + (1 − τ) g
        buf = 0.5 if t == 1 else momentum * buf + (1 - dampening) * 0.5
        typed.append(buf)
    assert np.allclose(b, typed, rtol=1e-14, atol=0)
    assert np.allclose(_evaluate(found, g=0.5), typed, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "family, values",
    [
        ("rmsprop", {}),
        ("rmsprop", {"alpha": 0.9}),
        ("sgd", {"momentum": 0.9}),
        ("sgd", {"momentum": 1.0, "dampening": 1.0}),
        ("adagrad", {}),
    ],
)
def test_sensible_values_meet_no_hazard(family, values):
    assert H.hazards(rules.get(family), **values) == []


def test_a_measurement_fails_where_the_symptom_is_absent():
    """Each measurement checks the symptom its hazard predicts: at a harmless value it must fail."""
    assert H._measure_nan({"lr": 0.01, "alpha": 0.99, "eps": 1e-8})[0] is False
    assert H._measure_over_eps({"lr": 0.01, "alpha": 0.99, "eps": 1e-8})[0] is False
    assert H._measure_growth("SGD", "momentum_buffer")({"lr": 0.1, "momentum": 0.9, "dampening": 0.0})[0] is False


def test_the_scalar_simulations_give_nan_where_math_raises():
    from symopt.derive.simulate import compile_body
    from symopt.interpret import Interpreter

    program = compile_body(rules.get("rmsprop"), (("alpha", 2.0),))
    record = program.run(2, [1, 2], lambda step, w: 0.5, 1.0)
    assert math.isnan(record[1]["param"])  # was: ValueError: math domain error
    record = program.run(2, [1, 2], lambda step, w: 0.5, 1.0, dps=30)
    assert record[1]["param"] != record[1]["param"]  # mpmath NaN, not a complex number
    run = Interpreter(rules.get("rmsprop"), precision="mpmath", dps=30, alpha=2.0)
    param = np.array([1.0], dtype=object)
    from symopt.interpret import to_mpmath

    param = to_mpmath(np.array([1.0]))
    state = run.init_state(param)
    run.step(param, to_mpmath(np.array([0.5])), state)
    assert param[0] != param[0]


def test_derive_reports_the_hazard_instead_of_crashing(capsys):
    assert main(["derive", "rmsprop", "-o", "alpha=2"]) == 0
    captured = capsys.readouterr()
    assert "HAZARD" in captured.out and "rmsprop.alpha_above_1" in captured.out and "math domain" not in captured.err
    assert main(["derive", "rmsprop", "-o", "alpha=2", "--check"]) == 1  # its checks cannot pass: NaN never does
    assert "named hazard: rmsprop.alpha_above_1" in capsys.readouterr().err
    assert main(["derive", "sgd", "-o", "momentum=1", "--check"]) == 1  # was: a ZeroDivisionError trace
    captured = capsys.readouterr()
    assert "sgd.momentum_at_least_1" in captured.out and "Traceback" not in captured.err
    assert main(["derive", "rmsprop", "-o", "alpha=2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert schemas.validate(document) == "derive"
    assert [h["id"] for h in document["cases"][0]["hazards"]] == ["rmsprop.alpha_above_1"]


def test_verify_lists_the_cases_that_meet_a_hazard():
    from symopt.verify.cases import Case
    from symopt.verify.cli import case_hazards

    cases = [
        Case("rmsprop", "alpha-two", {"lr": 0.01, "alpha": 2.0}),
        Case("rmsprop", "default", {"lr": 0.01}),
        Case("sgd", "heavy", {"lr": 0.01, "momentum": 1.2}),
    ]
    assert [(r, c, f.hazard.id) for r, c, f in case_hazards(cases)] == [
        ("rmsprop", "alpha-two", "rmsprop.alpha_above_1"),
        ("sgd", "heavy", "sgd.momentum_at_least_1"),
    ]
