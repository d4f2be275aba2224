"""The models: validation as torch.optim validates, dialects, equivalences, rendering."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy as sp
import torch

from symopt import rules
from symopt.interpret import Interpreter
from symopt.rules import _primitives as P
from symopt.verify.cases import optim_db_error_inputs

TORCH_CLASSES = {"adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
ERRORS = [(rule, e) for rule in TORCH_CLASSES for e in optim_db_error_inputs(rule, "cpu")]


@pytest.mark.parametrize("rule,error", ERRORS, ids=[f"{r}-{e[2][:30]}" for r, e in ERRORS])
def test_torch_error_inputs_raise_torchs_error(rule, error):
    kwargs, error_type, regex = error
    with pytest.raises(error_type, match=regex):
        rules.get(rule).values(**kwargs)


NEGATIVES = [
    (rule, h.name)
    for rule in TORCH_CLASSES
    for h in rules.get(rule).hyperparameters
    if not h.is_flag and h.minimum == 0.0
]


@pytest.mark.parametrize("rule,name", NEGATIVES, ids=[f"{r}-{n}" for r, n in NEGATIVES])
def test_each_negative_hyperparameter_raises_the_message_torch_gives(rule, name):
    with pytest.raises(ValueError) as from_torch:
        TORCH_CLASSES[rule]([torch.zeros(2, requires_grad=True)], **{name: -0.5})
    with pytest.raises(ValueError, match=re.escape(str(from_torch.value))):
        rules.get(rule).values(**{name: -0.5})


def test_nesterov_check_is_torchs():
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        rules.sgd().values(nesterov=True, momentum=0.9, dampening=0.1)
    rules.sgd().values(nesterov=True, momentum=0.9)


def test_defaults_are_torchs():
    import inspect

    for rule, cls in TORCH_CLASSES.items():
        signature = inspect.signature(cls.__init__).parameters
        for h in rules.get(rule).hyperparameters:
            assert signature[h.name].default == h.default, (rule, h.name)


def test_unknown_keyword_is_named():
    with pytest.raises(TypeError, match="unexpected keyword argument.*betas"):
        rules.adagrad().values(betas=(0.9, 0.99))


def test_flags_must_be_bool():
    with pytest.raises(TypeError, match="maximize must be True or False"):
        rules.adagrad().values(maximize="yes")


def test_unknown_dialect_and_convention_are_rejected():
    with pytest.raises(ValueError, match="dialect must be one of"):
        rules.adagrad("no-such-framework")  # keras is a dialect (rules/dialects/keras.py)
    with pytest.raises(ValueError, match="eps_placement must be one of"):
        rules.adagrad(eps_placement="between")
    with pytest.raises(TypeError, match="unknown convention"):
        rules.rmsprop(nonsense=True)


# -- the textbook forms differ from torch's where they should -----------------------------------
def _run(rule, grads, **kw):
    interp = Interpreter(rule, **kw)
    w = np.array([0.7, -1.3, 2.0])
    state = interp.init_state(w)
    for g in grads:
        interp.step(w, g, state)
    return w


@pytest.mark.parametrize("family", ["adagrad", "rmsprop"])
def test_textbook_differs_from_torch_and_difference_vanishes_as_eps_goes_to_0(family):
    grads = [np.array([1e-3, -2e-3, 5e-4]) * (k + 1) for k in range(10)]
    kw = {"alpha": 0.9} if family == "rmsprop" else {}
    gaps = []
    for eps in (1e-4, 1e-6, 1e-8, 0.0):
        torch_form = _run(rules.get(family, "torch"), grads, eps=eps, **kw)
        book_form = _run(rules.get(family, "textbook"), grads, eps=eps, **kw)
        gaps.append(np.abs(torch_form - book_form).max())
    assert gaps[0] > 1e-3, gaps  # a visible difference on this input at eps = 1e-4
    assert gaps[0] > gaps[1] > gaps[2], gaps  # shrinking with eps
    assert gaps[3] <= 1e-15, gaps  # and gone at eps = 0 (up to rounding)


def test_textbook_symbolic_difference_is_where_eps_sits():
    torch_step = rules.adagrad("torch").step_map()
    book_step = rules.adagrad("textbook").step_map()
    w_torch = torch_step[rules.w].subs(P.gamma, 0)
    w_book = book_step[rules.w]
    assert sp.simplify((w_torch - w_book).subs(P.epsilon, 0)) == 0
    assert sp.simplify(w_torch - w_book) != 0


# -- equivalences ----------------------------------------------------------------------------------
def test_rmsprop_momentum_zero_equals_plain_rmsprop():
    positive = sp.Symbol("mu_pos", positive=True)
    with_buffer = rules.rmsprop().step_map(momentum=positive)  # takes the momentum branch
    plain = rules.rmsprop().step_map(momentum=0.0)
    assert P.b in with_buffer and P.b not in plain
    assert sp.simplify(with_buffer[rules.w].subs(P.mu, 0) - plain[rules.w]) == 0


def test_sgd_momentum_zero_equals_sgd():
    assert rules.sgd().step_map(momentum=0.0)[rules.w] == rules.w - P.eta * rules.g
    positive = sp.Symbol("mu_pos", positive=True)
    update = rules.sgd().step_map(momentum=positive, dampening=0.0)[rules.w]
    # With μ → 0 and no dampening the momentum branch is plain SGD at every step.
    for step in (1, 2, 7):
        assert sp.simplify(update.subs({rules.t: step, P.mu: 0, P.tau: 0}) - (rules.w - P.eta * rules.g)) == 0


def test_rmsprop_with_bias_correction_and_eps_outside_is_adam_with_beta1_zero():
    rule = rules.rmsprop(bias_correction=True)
    grads = [np.array([0.3, -0.2]), np.array([0.1, 0.4]), np.array([-0.5, 0.05])]
    interp = Interpreter(rule, lr=0.01, alpha=0.999, eps=1e-8)
    w = np.array([1.0, -1.0])
    state = interp.init_state(w)
    p = torch.tensor(w.copy(), requires_grad=True)
    adam = torch.optim.Adam([p], lr=0.01, betas=(0.0, 0.999), eps=1e-8, foreach=False)
    for g in grads:
        interp.step(w, g, state)
        p.grad = torch.tensor(g)
        adam.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12)


# -- rendering ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", rules.all_rules(), ids=lambda r: r.name)
def test_every_rule_renders_its_update_as_latex_from_the_model(rule):
    lines = rule.latex()
    assert len(lines) == len(rule.body)
    for line, assign in zip(lines, rule.body):
        assert line.startswith(sp.latex(assign.target))
        assert sp.latex(assign.expr) in line
    assert rule.equations_latex()


def test_the_one_over_t_rule_as_written_climbs():
    book = rules.inverse_time("textbook").step_map()[rules.w]
    fixed = rules.inverse_time("corrected").step_map()[rules.w]
    assert sp.simplify(book - rules.w + (fixed - rules.w)) == 0  # opposite steps
    # On f(w) = w²/2 (g = w) the post's sign moves away from the minimum.
    w = np.array([1.0])
    interp = Interpreter(rules.inverse_time("textbook"), lr=0.5)
    state = interp.init_state(w)
    for _ in range(5):
        interp.step(w, w.copy(), state)
    assert w[0] > 1.0 and math.isfinite(w[0])


@pytest.mark.parametrize("dialect", ["textbook", "corrected"])
def test_the_one_over_t_rules_default_rate_is_the_documented_one(dialect):
    """The post gives no learning rate for S3: 0.1 is symopt's documented choice (rules/inverse_time.py),
    the one the derivations and figures of S3 are drawn at."""
    import importlib

    assert rules.inverse_time(dialect).hyperparameter("lr").default == 0.1
    assert "η = 0.1" in importlib.import_module("symopt.rules.inverse_time").__doc__
