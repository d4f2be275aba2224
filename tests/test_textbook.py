"""The textbook dialects against the source post's formulas, typed here from the post's text
independently of the models (``symopt.derive.post`` holds the text: its LaTeX and its quoted
values). Every other check of a textbook rule compares it with something derived from the same
model; these do not: a changed default (the post's ε = 1e-8, α = 0.9) or a changed formula in a
model fails here."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

import symopt.numpy as symopt_numpy
from symopt import rules
from symopt.derive import post
from symopt.interpret import Interpreter
from symopt.verify.ulp import normwise_ulp

#: the values the post quotes (post.QUOTES): "一般設為 $10^{-8}$" (S5), "實作上 $\alpha$ 會設為 0.9" (S10)
POST_EPS = 1e-8
POST_ALPHA = 0.9


def post_adagrad(w, grads, lr, eps):
    r"""w_{t+1} = w_t − η/σ_t ∇g, σ_t = √(G_t + ε), G_t = Σ_{n≤t} g_n² (the post, S5)."""
    w, G = w.copy(), np.zeros_like(w)
    for g in grads:
        G = G + g * g
        sigma = np.sqrt(G + eps)
        w = w - lr / sigma * g
    return w, {"sum": G}


def post_rmsprop(w, grads, lr, eps, alpha):
    r"""w_{t+1} = w_t − η/σ_t ∇g, σ_t = √(α σ_{t−1}² + (1 − α) g_t² + ε), σ_0 = 0 (the post, S9)."""
    w, sigma2 = w.copy(), np.zeros_like(w)
    for g in grads:
        sigma2 = alpha * sigma2 + (1 - alpha) * g * g + eps
        w = w - lr / np.sqrt(sigma2) * g
    return w, {"square_avg": sigma2}


def post_inverse_time(w, grads, lr, sign):
    r"""w_{t+1} = w_t + η/t ∇g (the post, S3, with its plus sign: ``sign = +1``; −1 corrected)."""
    w = w.copy()
    for t, g in enumerate(grads, start=1):
        w = w + sign * lr / t * g
    return w, {}


#: the post's formula per rule, with the post's values (it quotes no learning rate: the rule's is used)
CASES = {
    ("adagrad", "textbook"): lambda w, gs, h: post_adagrad(w, gs, h["lr"], POST_EPS),
    ("rmsprop", "textbook"): lambda w, gs, h: post_rmsprop(w, gs, h["lr"], POST_EPS, POST_ALPHA),
    ("inverse_time", "textbook"): lambda w, gs, h: post_inverse_time(w, gs, h["lr"], +1),
    ("inverse_time", "corrected"): lambda w, gs, h: post_inverse_time(w, gs, h["lr"], -1),
}


def test_the_post_quotes_the_values_the_textbook_rules_default_to():
    assert "10^{-8}" in post.QUOTES["adagrad.eps"][0] and "0.9" in post.QUOTES["rmsprop.alpha"][0]
    assert rules.adagrad("textbook").hyperparameter("eps").default == POST_EPS
    assert rules.rmsprop("textbook").hyperparameter("alpha").default == POST_ALPHA
    # the post gives no ε for RMSProp: it is the AdaGrad paragraph's "generally 1e-8" there too
    assert rules.rmsprop("textbook").hyperparameter("eps").default == POST_EPS


def test_the_post_writes_the_formulas_the_textbook_rules_model():
    assert post.FORMULAS["adagrad"][1] == r"\sigma_t = \sqrt{G_t+\epsilon}"
    assert post.FORMULAS["rmsprop"][1] == r"\sigma_t = \sqrt{\alpha(\sigma_{t-1})^2+(1-\alpha)g_t^2+\epsilon}"
    assert "+ \\frac{\\eta}{t}" in post.FORMULAS["inverse_time"][0]  # the plus sign of S3
    assert [s.id for s in post.STATEMENTS] == [f"S{i}" for i in range(1, 14)]


def _defaults(family, dialect):
    rule = rules.get(family, dialect)
    return {h.name: h.default for h in rule.hyperparameters}


def _gradients(seed, n, steps, scale):
    gen = np.random.default_rng(seed)
    return [gen.standard_normal(n) * scale for _ in range(steps)]


def _interpreter(family, dialect, w, grads, hyper):
    run = Interpreter(rules.get(family, dialect), **hyper)
    w = w.copy()
    state = run.init_state(w)
    for g in grads:
        run.step(w, g, state)
    return w, {k: np.asarray(v, dtype=float) for k, v in state.items() if k != "step"}


def _numpy_kernel(family, dialect, w, grads, hyper):
    """The public symopt.numpy API where it offers the rule, else the generated module itself."""
    name = family if dialect == rules.FAMILIES[family][1][0] else f"{family}_{dialect}"
    w = w.copy()
    if name in symopt_numpy.RULES:
        state = symopt_numpy.init_state(name, w, **hyper)
        for g in grads:
            symopt_numpy.step(name, w, g, state, **hyper)
        return w, {k: v for k, v in state.items() if k != "step"}
    kernel = importlib.import_module(f"symopt.kernels.numpy.{name}")
    state = kernel.init_state(w, **{k: hyper[k] for k in kernel.INIT_ARGUMENTS})
    for t, g in enumerate(grads, start=1):
        arguments = {k: hyper[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
        if "step" in kernel.UPDATE_ARGUMENTS:
            arguments["step"] = t
        kernel.update(w, g, *[state[k] for k in kernel.STATES], **arguments)
    return w, {k: v for k, v in state.items() if k != "step"}


def _torch_kernel(family, dialect, w, grads, hyper):
    name = family if dialect == rules.FAMILIES[family][1][0] else f"{family}_{dialect}"
    kernel = importlib.import_module(f"symopt.kernels.torch.{name}")
    p = torch.from_numpy(w.copy())
    state = kernel.init_state(p, **{k: hyper[k] for k in kernel.INIT_ARGUMENTS})
    for t, g in enumerate(grads, start=1):
        buffers = [state[k] for k in kernel.STATES]
        arguments = {k: hyper[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
        if "step" in kernel.UPDATE_ARGUMENTS:
            arguments["step"] = t
        kernel.update(p, torch.from_numpy(g), *buffers, **arguments)
    return p.numpy(), {k: v.numpy() for k, v in state.items() if k != "step"}


IMPLEMENTATIONS = {"interpreter": _interpreter, "numpy": _numpy_kernel, "torch": _torch_kernel}
STEPS = 60


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("scale", [1.0, 1e-4], ids=["|g|~1", "|g|~1e-4 (eps matters)"])
@pytest.mark.parametrize("family,dialect", CASES, ids=[f"{f}-{d}" for f, d in CASES])
def test_textbook_rules_step_as_the_post_writes(family, dialect, scale, impl):
    """Every implementation of a textbook rule, at its own defaults, against the post's formula
    with the post's values: the same float64 operations up to their order, so within 8
    roundings per step (the interpreter's and NumPy's error model in symopt.verify.tolerances),
    normwise."""
    hyper = _defaults(family, dialect)
    w0 = np.random.default_rng(1).standard_normal(50)
    grads = _gradients(2, 50, STEPS, scale)
    expected, expected_state = CASES[family, dialect](w0, grads, hyper)
    got, got_state = IMPLEMENTATIONS[impl](family, dialect, w0, grads, hyper)
    bound = 8.0 * STEPS
    assert normwise_ulp(torch.from_numpy(np.asarray(got, float)), torch.from_numpy(expected)) <= bound
    assert set(got_state) == set(expected_state)
    for key, value in expected_state.items():
        assert normwise_ulp(torch.from_numpy(np.asarray(got_state[key], float)), torch.from_numpy(value)) <= bound, key


def test_the_comparison_can_fail():
    """The same comparison refuses the post's AdaGrad with α/ε nudged or ε moved outside the root."""
    hyper = _defaults("adagrad", "textbook")
    w0 = np.random.default_rng(1).standard_normal(50)
    grads = _gradients(2, 50, STEPS, 1e-4)
    got, _ = _interpreter("adagrad", "textbook", w0, grads, hyper)
    bound = 8.0 * STEPS

    def distance(expected):
        return normwise_ulp(torch.from_numpy(got), torch.from_numpy(expected))

    assert distance(post_adagrad(w0, grads, hyper["lr"], hyper["eps"])[0]) <= bound
    assert distance(post_adagrad(w0, grads, hyper["lr"], 1.1e-8)[0]) > bound
    w, G = w0.copy(), np.zeros_like(w0)
    for g in grads:  # ε outside the root (torch's placement)
        G = G + g * g
        w = w - hyper["lr"] / (np.sqrt(G) + hyper["eps"]) * g
    assert distance(w) > bound
    hyper_r = _defaults("rmsprop", "textbook")
    got_r, _ = _interpreter("rmsprop", "textbook", w0, grads, hyper_r)
    wrong_alpha = post_rmsprop(w0, grads, hyper_r["lr"], hyper_r["eps"], 0.91)[0]
    assert normwise_ulp(torch.from_numpy(got_r), torch.from_numpy(wrong_alpha)) > bound
    assert math.isfinite(distance(post_adagrad(w0, grads, hyper["lr"], hyper["eps"])[0]))
