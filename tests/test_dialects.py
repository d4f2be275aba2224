"""The framework dialects as data (symopt.rules.dialects): every preset builds with the framework's
keywords and defaults, runs in the interpreter, renders through the existing printers, leaves the
torch/textbook models (and so the committed kernels) unchanged, and takes one step as the
framework's source writes it (the expected values are derived here, by hand, per framework)."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pytest

from symopt import rules
from symopt.cli import main
from symopt.codegen.printers._common import CodegenError
from symopt.codegen.render import BACKENDS, module_name, render_kernel
from symopt.interpret import Interpreter
from symopt.rules import Conventions, dialects

ALL = list(dialects.table().values())
IDS = [f"{d.family}-{d.name}" for d in ALL]
FRAMEWORK = [d for d in ALL if d.name != "torch"]

#: the dialects the issue asks for (apex and deepspeed have AdaGrad only; timm, sb3, sonnet and
#: chainer-graves RMSProp only)
ASKED = {
    "rmsprop": {
        "keras",
        "tf-keras-legacy",
        "tf1",
        "tf-raw",
        "optax",
        "jax-example",
        "timm",
        "sb3",
        "chainer",
        "chainer-graves",
        "mxnet",
        "paddle",
        "caffe",
        "lasagne",
        "torch7",
        "flax-legacy",
        "sonnet",
        "bitsandbytes",
    },
    "adagrad": {
        "keras",
        "tf-keras-legacy",
        "tf1",
        "tf-raw",
        "optax",
        "jax-example",
        "chainer",
        "mxnet",
        "paddle",
        "caffe",
        "lasagne",
        "torch7",
        "flax-legacy",
        "apex",
        "deepspeed",
        "bitsandbytes",
    },
}


def test_every_asked_dialect_exists():
    for family, names in ASKED.items():
        assert names <= set(rules.framework_dialects(family)), names - set(rules.framework_dialects(family))


@pytest.mark.parametrize("preset", FRAMEWORK, ids=[f"{d.family}-{d.name}" for d in FRAMEWORK])
def test_rule_has_the_frameworks_keywords_and_defaults(preset):
    rule = rules.get(preset.family, preset.name)
    assert rule.dialect == preset.name and rule.family == preset.family
    assert [h.name for h in rule.hyperparameters] == [a.name for a in preset.arguments]
    for a in preset.arguments:
        if not a.required:
            assert rule.hyperparameter(a.name).default == a.default
    assert preset.source and preset.calls


@pytest.mark.parametrize("preset", FRAMEWORK, ids=[f"{d.family}-{d.name}" for d in FRAMEWORK])
def test_interpreter_runs_every_dialect(preset):
    rule = rules.get(preset.family, preset.name)
    rng = np.random.default_rng(0)
    w = rng.normal(size=7)
    Interpreter(rule).run(w, [rng.normal(size=7) for _ in range(10)])
    assert np.isfinite(w).all()


def test_torch_and_textbook_models_are_unchanged():
    """The committed kernels' model hashes (written by `symopt generate` before the dialects)
    still match every builder's own rule: the new conventions' defaults change nothing."""
    for rule in rules.all_rules():
        kernel = importlib.import_module(f"symopt.kernels.torch.{module_name(rule)}")
        assert rule.fingerprint() == kernel.MODEL_HASH, rule.name


@pytest.mark.parametrize("preset", FRAMEWORK, ids=[f"{d.family}-{d.name}" for d in FRAMEWORK])
def test_torch_printer_prints_every_dialect(preset):
    text = render_kernel(rules.get(preset.family, preset.name), BACKENDS["torch"])
    assert "def update(" in text


@pytest.mark.parametrize("preset", FRAMEWORK, ids=[f"{d.family}-{d.name}" for d in FRAMEWORK])
def test_numpy_printer_prints_every_dialect_but_the_zero_guard(preset):
    """The NumPy printer has no Piecewise (optax's / the JAX example's where(G > 0, …, 0)): it
    refuses it, strictly, instead of printing something else."""
    rule = rules.get(preset.family, preset.name)
    if rule.conventions.zero_guard:
        with pytest.raises(CodegenError, match="Piecewise"):
            render_kernel(rule, BACKENDS["numpy"])
    else:
        assert "def update(" in render_kernel(rule, BACKENDS["numpy"])


def test_list_shows_the_dialects(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rules"]
    keras = next(r for r in rows if r["rule"] == "rmsprop" and r["dialect"] == "keras")
    assert [h["name"] for h in keras["hyperparameters"]][:4] == ["learning_rate", "rho", "momentum", "epsilon"]
    assert keras["calls"][0] == "keras.optimizers.RMSprop" and "rmsprop.py" in keras["source"]
    tf1 = next(r for r in rows if r["rule"] == "rmsprop" and r["dialect"] == "tf1")
    assert tf1["hyperparameters"][0] == {**tf1["hyperparameters"][0], "name": "learning_rate", "required": True}
    assert main(["list"]) == 0
    assert "tf.compat.v1.train.RMSPropOptimizer" in capsys.readouterr().out


def test_unknown_dialect_is_one_line():
    with pytest.raises(ValueError, match="unknown dialect 'kears' of rmsprop; known: torch, textbook, keras"):
        rules.get("rmsprop", "kears")


def test_conventions_validate_the_new_fields():
    with pytest.raises(ValueError, match="ema_form must be one of"):
        Conventions(ema_form="lerp")
    with pytest.raises(ValueError, match="eps_placement_momentum must be None"):
        Conventions(eps_placement_momentum="recursion")
    with pytest.raises(ValueError, match="initial_square_avg must be >= 0"):
        Conventions(initial_square_avg=-1.0)
    with pytest.raises(ValueError, match="zero_guard must be True or False"):
        Conventions(zero_guard=1)
    assert repr(Conventions()) == repr(Conventions(ema_form="increment", nesterov=True))  # not in the model hash


# -- one step, derived here from each framework's source -----------------------------------------
G, W, V0 = 0.3, 1.5, 0.0


def first_step(family, dialect, grad=G, steps=1, **kw):
    rule = rules.get(family, dialect)
    w = np.array([W])
    run = Interpreter(rule, **kw)
    state = run.init_state(w)
    for _ in range(steps):
        run.step(w, np.array([grad]), state)
    return w[0], state


def test_keras_rmsprop_eps_inside_lr_inside_decoupled_decay():
    lr, rho, eps, mu, lam = 1e-3, 0.9, 1e-7, 0.5, 0.1
    w, state = first_step("rmsprop", "keras", momentum=mu, weight_decay=lam)
    w_decayed = W - W * lam * lr  # base_optimizer._apply_weight_decay, before update_step
    v = (1 - rho) * G**2
    b = lr * G / math.sqrt(v + eps)
    assert w == pytest.approx(w_decayed - b, rel=1e-15)
    assert state["momentum_buffer"][0] == pytest.approx(b, rel=1e-15)


def test_tf1_rmsprop_starts_at_one():
    lr, rho, eps = 0.016, 0.9, 1e-10
    w, state = first_step("rmsprop", "tf1", learning_rate=lr)
    ms = 1 + (G**2 - 1) * (1 - rho)
    assert state["square_avg"][0] == pytest.approx(ms, rel=1e-15)
    assert w == pytest.approx(W - lr * G / math.sqrt(ms + eps), rel=1e-15)


def test_tf_keras_legacy_switches_eps_with_momentum():
    lr, rho, eps = 1e-3, 0.9, 1e-7
    small = 1e-4
    w0, _ = first_step("rmsprop", "tf-keras-legacy", grad=small)
    assert w0 == pytest.approx(W - lr * small / (math.sqrt((1 - rho) * small**2) + eps), rel=1e-14)
    w1, _ = first_step("rmsprop", "tf-keras-legacy", grad=small, momentum=0.5)
    assert w1 == pytest.approx(W - lr * small / math.sqrt((1 - rho) * small**2 + eps), rel=1e-14)


def test_tf_keras_legacy_decay_is_inverse_time():
    lr, decay = 1e-3, 0.5
    w, state = first_step("adagrad", "tf-keras-legacy", steps=2, decay=decay)
    acc1 = 0.1 + G**2
    w1 = W - lr * G / (math.sqrt(acc1) + 1e-7)
    expected = w1 - lr / (1 + decay * 1) * G / (math.sqrt(acc1 + G**2) + 1e-7)
    assert w == pytest.approx(expected, rel=1e-14)


def test_optax_rmsprop_flags():
    lr, decay, eps = 1e-2, 0.9, 1e-8
    nu = (1 - decay) * G**2
    w, _ = first_step("rmsprop", "optax", learning_rate=lr, eps_in_sqrt=False)
    assert w == pytest.approx(W - lr * G / (math.sqrt(nu) + eps), rel=1e-14)
    w, _ = first_step("rmsprop", "optax", learning_rate=lr, bias_correction=True)
    assert w == pytest.approx(W - lr * G / math.sqrt(nu / (1 - decay) + eps), rel=1e-14)
    w, _ = first_step("rmsprop", "optax", learning_rate=lr, initial_scale=1.0)
    assert w == pytest.approx(W - lr * G / math.sqrt(decay + nu + eps), rel=1e-14)
    # trace(nesterov=True) after the lr: the update is u + μ·(new trace), the trace being u at t = 1
    w, _ = first_step("rmsprop", "optax", learning_rate=lr, momentum=0.9, nesterov=True)
    u = lr * G / math.sqrt(nu + eps)
    assert w == pytest.approx(W - (u + 0.9 * u), rel=1e-14)


def test_optax_and_jax_example_adagrad_guard_a_zero_accumulator():
    w, _ = first_step("adagrad", "jax-example", grad=0.0)
    assert w == W  # where(G > 0, 1/√G, 0): no NaN from 0/0
    w, state = first_step("adagrad", "jax-example", step_size=0.1, momentum=0.9)
    m = (1 - 0.9) * G / math.sqrt(G**2)
    assert w == pytest.approx(W - 0.1 * m, rel=1e-15) and state["momentum_buffer"][0] == pytest.approx(m, rel=1e-15)


def test_tf1_adagrad_has_no_epsilon():
    rule = rules.get("adagrad", "tf1")
    assert [h.name for h in rule.hyperparameters] == ["learning_rate", "initial_accumulator_value"]
    w, _ = first_step("adagrad", "tf1", learning_rate=0.1)
    assert w == pytest.approx(W - 0.1 * G / math.sqrt(0.1 + G**2), rel=1e-15)


def test_torch7_adagrad_fixes_epsilon():
    w, _ = first_step("adagrad", "torch7", learningRate=0.1, grad=1e-6)
    assert w == pytest.approx(W - 0.1 * 1e-6 / (1e-6 + 1e-10), rel=1e-14)


def test_timm_lr_in_momentum_flag_and_decoupled_decay():
    lr, alpha, eps, mu = 1e-2, 0.9, 1e-10, 0.9
    v = 1 + (G**2 - 1) * (1 - alpha)
    for flag in (True, False):
        w, state = first_step("rmsprop", "timm", steps=1, momentum=mu, lr_in_momentum=flag)
        assert w == pytest.approx(W - lr * G / math.sqrt(v + eps), rel=1e-14)
        assert state["momentum_buffer"][0] == pytest.approx((lr if flag else 1) * G / math.sqrt(v + eps), rel=1e-14)
    w, _ = first_step("rmsprop", "timm", weight_decay=0.1, decoupled_decay=True)
    assert w == pytest.approx(W * (1 - lr * 0.1) - lr * G / math.sqrt(v + eps), rel=1e-14)


def test_chainer_eps_flag_and_graves():
    lr, alpha, eps = 0.01, 0.99, 1e-8
    v = (1 - alpha) * G**2
    assert first_step("rmsprop", "chainer")[0] == pytest.approx(W - lr * G / (math.sqrt(v) + eps), rel=1e-14)
    assert first_step("rmsprop", "chainer", eps_inside_sqrt=True)[0] == pytest.approx(
        W - lr * G / math.sqrt(v + eps), rel=1e-14
    )
    lr, alpha, eps = 1e-4, 0.95, 1e-4  # Graves's defaults (its momentum 0.9 enters from the second step)
    v, n = (1 - alpha) * G**2, (1 - alpha) * G
    w, _ = first_step("rmsprop", "chainer-graves")
    assert w == pytest.approx(W - lr * G / math.sqrt(v - n * n + eps), rel=1e-14)


def _graves_two_steps(lr, rho, mu, eps, lam):
    """MXNet's centered RMSProp (``RMSPropAlexUpdate``, 1.x and 2.0), two steps typed from its source:
    g ← g + λw; n ← (1 − ρ)g² + ρn; m ← (1 − ρ)g + ρm; δ ← μδ − η g/√(n − m² + ε); w ← w + δ."""
    w, n, m, delta = W, 0.0, 0.0, 0.0
    for _ in range(2):
        g = G + lam * w
        n = (1 - rho) * g * g + rho * n
        m = (1 - rho) * g + rho * m
        delta = mu * delta - lr * g / math.sqrt(n - m * m + eps)
        w = w + delta
    return w, n, m, delta


def test_mxnet_centered_is_its_own_update_chosen_by_the_call():
    """MXNet 2's RMSProp(centered=True) (RMSPropAlexUpdate), two steps typed from its source:
    g ← g + λw; n ← (1 − ρ)g² + ρn; m ← (1 − ρ)g + ρm; δ ← μδ − η g/√(n − m² + ε); w ← w + δ."""
    lr, rho, mu, eps, lam = 0.1, 0.8, 0.5, 1e-6, 0.01
    w, n, m, delta = _graves_two_steps(lr, rho, mu, eps, lam)
    got, state = first_step(
        "rmsprop", "mxnet-centered", steps=2, learning_rate=lr, rho=rho, momentum=mu, epsilon=eps, wd=lam
    )
    assert got == pytest.approx(w, rel=1e-14)
    assert state["square_avg"][0] == pytest.approx(n, rel=1e-14) and state["grad_avg"][0] == pytest.approx(m, rel=1e-14)
    assert state["momentum_buffer"][0] == pytest.approx(-delta, rel=1e-14)
    from symopt.port.calls import parse

    # the call chooses the dialect; MXNet's positional order is (learning_rate, rho, momentum, epsilon, centered)
    assert parse("mx.optimizer.RMSProp()").dialect.name == "mxnet"
    assert parse("mx.optimizer.RMSProp(centered=True)").dialect.name == "mxnet-centered"
    centered = parse("mx.optimizer.RMSProp(0.1, 0.8, 0.5, 1e-6, True)")
    assert centered.dialect.name == "mxnet-centered"
    assert centered.values() == {"learning_rate": 0.1, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-6, "wd": 0.0}
    plain = parse("mx.optimizer.RMSProp(0.1, 0.8, 0.5, 1e-6)")  # momentum is accepted and unused when not centered
    assert plain.dialect.name == "mxnet" and plain.values()["epsilon"] == 1e-6


def test_sb3_lr_outside_momentum():
    lr, alpha, eps, mu = 1e-2, 0.99, 1e-8, 0.9
    w, state = first_step("rmsprop", "sb3", momentum=mu)
    v = alpha + (1 - alpha) * G**2
    assert state["momentum_buffer"][0] == pytest.approx(G / math.sqrt(v + eps), rel=1e-14)
    assert w == pytest.approx(W - lr * G / math.sqrt(v + eps), rel=1e-14)


@pytest.mark.parametrize("family", ["adagrad", "rmsprop"])
def test_caffe_l1_regularisation_is_its_own_dialect_chosen_by_the_call(family):
    """Caffe's ``regularization_type: "L1"`` (SGDSolver::Regularize: ``caffe_cpu_sign(data)``,
    then ``diff += λ·sign``, before ComputeUpdateValue), typed from its source for three steps on
    a parameter that starts at 0 (sign 0), one that crosses 0, and a negative one; "L2" adds λw.
    AdaGrad: h ← h + g², w ← w − η g/(√h + δ); RMSProp: h ← ρh + (1 − ρ)g², the same step."""
    import torch

    import symopt.torch
    from symopt.port.calls import parse

    lr, delta, lam, rho = 0.1, 1e-8, 0.05, 0.99
    w0 = np.array([0.0, 0.02, -0.7])
    grads = [np.array([0.3, 0.5, -0.2]), np.array([-0.1, 0.4, 0.05]), np.array([0.2, -0.3, 0.1])]
    solver = "caffe.AdaGradSolver" if family == "adagrad" else "caffe.RMSPropSolver"
    for regularization, penalty in (("L1", np.sign), ("L2", lambda x: x)):
        w, h = w0.copy(), np.zeros(3)
        expected = []
        for g in grads:
            diff = g + lam * penalty(w)
            h = h + diff * diff if family == "adagrad" else rho * h + (1 - rho) * diff * diff
            w = w - lr * diff / (np.sqrt(h) + delta)
            expected.append(w.copy())
        text = f'{solver}(base_lr={lr}, weight_decay={lam}, regularization_type="{regularization}")'
        call = parse(text)
        assert call.dialect.name == {"L1": "caffe-l1", "L2": "caffe"}[regularization]
        ours = w0.copy()
        run = Interpreter(call.rule, **call.values())
        state = run.init_state(ours)
        p = torch.nn.Parameter(torch.tensor(w0))
        opt = symopt.torch.port([p], text)
        for g, e in zip(grads, expected):
            run.step(ours, g, state)
            p.grad = torch.tensor(g)
            opt.step()
            np.testing.assert_allclose(ours, e, rtol=1e-14, atol=1e-16)
            np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-14, atol=1e-16)
    assert parse(f"{solver}(base_lr=0.1)").dialect.name == "caffe"  # "L2" is Caffe's default
    with pytest.raises(ValueError, match="regularization_type must be one of 'L2', 'L1'; got 'L3'"):
        parse(f'{solver}(base_lr=0.1, regularization_type="L3")')
    with pytest.raises(ValueError, match="base_lr must be a number or True/False; got 'x'"):
        parse(f'{solver}(base_lr="x")')


def test_l1_weight_decay_is_coupled_only():
    with pytest.raises(ValueError, match="weight_decay='l1' is coupled"):
        Conventions(weight_decay="l1", decoupled_weight_decay=True)


def test_mxnet1_is_its_own_dialect_chosen_by_its_keywords():
    """MXNet 1.x (python/mxnet/optimizer/optimizer.py of 1.9.1), typed from its source for two
    steps: RMSProp ``n = (1 − γ₁)g² + γ₁n; w −= η g/√(n + ε)`` (ε inside, where 2.0 has it
    outside), centered as 2.0's with γ₂ the momentum; AdaGrad ``h += g²; w += (g/√(h + ε) + λw)(−η)``
    (ε inside, the decay decoupled, where 2.0 has ε outside and g + λw). The keywords choose:
    ``gamma1``/``gamma2``/``eps`` are 1.x's, ``rho``/``momentum``/``epsilon`` 2.0's, none of them 2.0."""
    from symopt.port.calls import parse

    lr, g1, g2, eps, lam = 0.1, 0.8, 0.5, 1e-6, 0.01
    w, n = W, 0.0
    for _ in range(2):
        g = G + lam * w
        n = (1 - g1) * g * g + g1 * n
        w = w - lr * g / math.sqrt(n + eps)
    got, _ = first_step("rmsprop", "mxnet1", steps=2, learning_rate=lr, gamma1=g1, epsilon=eps, wd=lam)
    assert got == pytest.approx(w, rel=1e-14)
    w, *_ = _graves_two_steps(lr, g1, g2, eps, lam)  # rmspropalex_update, as 2.0's
    got, _ = first_step(
        "rmsprop", "mxnet1-centered", steps=2, learning_rate=lr, gamma1=g1, gamma2=g2, epsilon=eps, wd=lam
    )
    assert got == pytest.approx(w, rel=1e-14)
    w, h = W, 0.0
    for _ in range(2):
        h += G * G
        w += (G / math.sqrt(h + 1e-7) + lam * w) * (-lr)
    got, _ = first_step("adagrad", "mxnet1", steps=2, learning_rate=lr, wd=lam)
    assert got == pytest.approx(w, rel=1e-14)
    assert parse("mx.optimizer.RMSProp(gamma1=0.95)").dialect.name == "mxnet1"
    assert parse("mx.optimizer.RMSProp(gamma2=0.5, centered=True)").dialect.name == "mxnet1-centered"
    assert parse("mx.optimizer.RMSProp(rho=0.95)").dialect.name == "mxnet"
    assert parse("mx.optimizer.RMSProp()").dialect.name == "mxnet"  # 2.0, the current API
    assert parse("mx.optimizer.AdaGrad(eps=1e-7)").dialect.name == "mxnet1"
    assert parse("mx.optimizer.AdaGrad(epsilon=1e-7)").dialect.name == "mxnet"
    with pytest.raises(ValueError, match="has no argument 'gamma1'"):  # no version takes both spellings
        parse("mx.optimizer.RMSProp(gamma1=0.9, rho=0.9)")
