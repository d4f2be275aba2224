"""symopt diff / symopt port / symopt.torch.port: parsing (ast, one-line errors), verdicts against
independent derivations written here, the CLI's JSON, and the drop-in against the interpreter.
(The real frameworks are in tests/test_frameworks.py.)"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import symopt.torch
from symopt import rules
from symopt.cli import main
from symopt.interpret import Interpreter
from symopt.port.calls import format_call, parse
from symopt.port.diff import diff
from symopt.port.port import port
from symopt.rules import dialects

KEYS = {"source", "target_framework", "verdict", "target_call", "conditions", "max_lr_ratio", "dropin"}


# -- parsing ---------------------------------------------------------------------------------------
def test_parse_keywords_positional_and_defaults():
    c = parse("keras.optimizers.RMSprop(1e-2, momentum=0.9)")
    assert c.dialect.name == "keras" and c.keywords["learning_rate"] == 0.01 and c.keywords["rho"] == 0.9
    c = parse("jax.example_libraries.optimizers.rmsprop_momentum(0.1)")
    assert c.keywords["momentum"] == 0.9  # that call's own default
    c = parse("torch.optim.RMSprop(model.parameters(), lr=1e-3)")  # the params argument is skipped
    assert c.keywords["lr"] == 1e-3
    c = parse("optax.rmsprop(0.1, momentum=None)")
    assert c.keywords["momentum"] == 0.0


@pytest.mark.parametrize(
    "text,message",
    [
        ("kras.optimizers.RMSprop()", "unknown optimizer 'kras.optimizers.RMSprop'; known: torch.optim.RMSprop"),
        (
            "keras.optimizers.RMSprop(learnin_rate=1)",
            "has no argument 'learnin_rate' symopt models; allowed: learning_rate, rho",
        ),
        ("keras.optimizers.RMSprop(momentum=-0.5)", "momentum=-0.5 is out of range; allowed: [0, inf)"),
        ("keras.optimizers.RMSprop(momentum=__import__('os'))", "must be a literal number"),
        ("tf.compat.v1.train.RMSPropOptimizer(decay=0.9)", "requires learning_rate"),
        ("keras.optimizers.RMSprop(0.1, learning_rate=0.2)", "multiple values for argument 'learning_rate'"),
        ("jax.example_libraries.optimizers.rmsprop(0.1, momentum=0.9)", "momentum must be 0.0 here"),
        ("keras.optimizers.RMSprop(", "not a Python call"),
        ("keras.optimizers.RMSprop(centered=1.5)", "centered=1.5 is out of range; allowed: True/False"),
    ],
)
def test_parse_errors_are_one_line(text, message):
    with pytest.raises(ValueError) as info:
        parse(text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_parse_never_evaluates(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError):
        parse(f"keras.optimizers.RMSprop(momentum=open({str(marker)!r}, 'w'))")
    assert not marker.exists()


def test_format_call_roundtrips():
    d = dialects.preset("rmsprop", "optax")
    text = format_call(d, {**d.values(), "learning_rate": 0.1, "initial_scale": 1.0})
    assert text == "optax.rmsprop(learning_rate=0.1, initial_scale=1)"
    assert parse(text).keywords["initial_scale"] == 1.0


# -- verdicts --------------------------------------------------------------------------------------
def _run(rule, values, grads, lrs=None):
    run = Interpreter(rule, **values)
    lr_symbol = next(h.symbol for h in rule.hyperparameters if str(h.symbol) == "eta")
    w = np.linspace(-1, 1, grads.shape[1])
    state = run.init_state(w)
    out = []
    for k, gr in enumerate(grads):
        if lrs is not None:
            run.values[lr_symbol] = lrs[k]
        run.step(w, gr, state)
        out.append(w.copy())
    return np.array(out)


def _rel(a, b):
    return float(np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)))


def test_tf1_to_optax_is_exact_with_initial_scale_one():
    """EfficientNet's TF1 recipe: optax reproduces it with initial_scale=1 (optax#49)."""
    p = port("tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.016, decay=0.9, momentum=0.9, epsilon=1e-3)", "optax")
    assert KEYS <= set(p.as_dict())
    assert p.verdict == "exact" and p.conditions == [] and p.max_lr_ratio == 1.0
    target = parse(p.target_call)
    assert (
        target.keywords["initial_scale"] == 1.0
        and target.keywords["eps"] == 1e-3
        and target.keywords["momentum"] == 0.9
    )
    grads = np.random.default_rng(1).normal(size=(60, 5))
    lrs = 0.016 * (1 + 0.5 * np.sin(np.arange(60)))
    src = parse(p.source)
    assert _rel(_run(src.rule, src.values(), grads, lrs), _run(target.rule, target.values(), grads, lrs)) <= 1e-13


def test_lr_outside_vs_inside_momentum_is_exact_only_for_a_constant_lr():
    """SB3's RMSpropTFLike (η outside the buffer) and TF1 (η inside) share ε inside and ms₀ = 1."""
    p = port(
        "stable_baselines3.common.sb2_compat.rmsprop_tf_like.RMSpropTFLike(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9)",
        "tf1",
    )
    assert p.verdict == "exact" and any("constant learning rate" in c for c in p.conditions)
    src, target = parse(p.source), parse(p.target_call)
    grads = np.random.default_rng(2).normal(size=(50, 4))
    assert _rel(_run(src.rule, src.values(), grads), _run(target.rule, target.values(), grads)) <= 1e-13
    lrs = 0.01 * (1 + 0.5 * np.sin(np.arange(50)))
    assert _rel(_run(src.rule, src.values(), grads, lrs), _run(target.rule, target.values(), grads, lrs)) > 1e-3


def test_keras_to_torch_is_approximate_with_the_derived_worst_ratio():
    """ε inside (Keras) vs outside (torch): no torch ε makes them equal; the worst-case ratio of
    the effective rates, derived here by hand, R = (√(1−ρᵗ)|g| + ε_T) / √((1−ρᵗ) g² + ε_K), is
    the one reported, and the ε chosen is a minimum of it."""
    p = port("keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.9, epsilon=1e-7, momentum=0.9)", "torch")
    assert p.verdict == "approximate"
    eps_t = parse(p.target_call).keywords["eps"]
    g = np.logspace(-6, 2, 41)[:, None]
    t = np.array([1, 2, 3, 5, 10, 20, 50, 100, 300, 1000, 10_000, 100_000], dtype=float)[None, :]

    def worst(e):
        c = 1 - 0.9**t
        r = (np.sqrt(c) * g + e) / np.sqrt(c * g * g + 1e-7)
        return float(np.max(np.maximum(r, 1 / r)))

    assert p.max_lr_ratio == pytest.approx(worst(eps_t), rel=1e-9)
    assert worst(eps_t) < worst(eps_t * 1.05) and worst(eps_t) < worst(eps_t / 1.05)
    assert 1e-4 < eps_t < 1e-3  # near √1e-7 = 3.2e-4, the folk rule of torch/optim#149
    assert math.isfinite(p.max_lr_ratio) and p.max_lr_ratio < 1.5
    assert p.measured["sweep_max_relative_error_of_derived_ratio"] < 1e-9


def test_a_fixed_initial_square_of_one_has_no_torch_equivalent():
    p = port("tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.016, decay=0.9, epsilon=1e-3)", "torch")
    assert p.verdict == "none" and p.target_call is None
    assert "symopt.torch.port(model.parameters()" in p.dropin


def test_keras_to_sonnet_and_legacy_with_momentum_are_exact():
    for to in ("sonnet", "tf-keras-legacy"):
        p = port("keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9)", to)
        assert p.verdict == "exact" and p.conditions == [], to


def test_port_cli_json_and_errors(capsys):
    assert main(["port", "keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9)", "--to", "sonnet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out) and out["verdict"] == "exact"
    assert main(["port", "keras.optimizers.RMSprop()", "--to", "tim"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("symopt port: error: --to must be a framework with a rmsprop dialect") and "\n" not in err
    assert main(["port", "keras.optimizers.RMSprop(momentum=-1)", "--to", "torch"]) == 2
    assert "momentum=-1.0 is out of range; allowed: [0, inf)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call,to,verdict",
    [
        ("keras.optimizers.RMSprop(learning_rate=1e-3)", "torch", "approximate"),  # ε inside vs outside the root
        ("optax.rmsprop(learning_rate=0.01, momentum=0.9)", "keras", "exact"),  # both ε inside, η inside the buffer
        ("tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.01)", "torch", "none"),  # ms₀ = 1: torch starts at 0
    ],
)
def test_port_cli_text_prints_what_the_json_holds(capsys, call, to, verdict):
    assert main(["port", call, "--to", to, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == verdict
    assert main(["port", call, "--to", to]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{doc['source']}  ->  {to}: {doc['verdict']}"
    assert (f"  {doc['target_call']}" in lines) == (doc["target_call"] is not None)
    assert [x for x in lines if x.startswith("  condition: ")] == [f"  condition: {c}" for c in doc["conditions"]]
    ratio = [x for x in lines if x.startswith("  worst-case ratio")]
    assert ratio == (
        []
        if doc["max_lr_ratio"] is None
        else [f"  worst-case ratio of effective learning rates: {doc['max_lr_ratio']:.6g}"]
    )
    assert lines[-1] == "    " + doc["dropin"].splitlines()[-1]


def test_port_map_is_each_pairs_port_and_its_table_prints_them(capsys, tmp_path):
    """``symopt port-map``: every ordered pair, each cell the verdict a ``symopt port`` of the
    source's default call gives, counted; the text table shows the same cells."""
    names = ["torch", "keras", "optax"]
    assert main(["port-map", "rmsprop", "--frameworks", *names, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frameworks"] == names and len(out["pairs"]) == 6
    assert {(c["source"], c["target"]) for c in out["pairs"]} == {(a, b) for a in names for b in names if a != b}
    for c in out["pairs"]:
        one = port(c["source_call"], c["target"])
        assert (c["verdict"], c["max_lr_ratio"], c["target_call"]) == (one.verdict, one.max_lr_ratio, one.target_call)
    assert sum(out["counts"].values()) == 6 and out["counts"]["exact"] == sum(
        c["verdict"] == "exact" for c in out["pairs"]
    )
    cells = {(c["source"], c["target"]): c for c in out["pairs"]}
    # torch's RMSprop (v0 = 0, eps outside the root) is optax's rmsprop at initial_scale = 0, eps_in_sqrt = False
    assert (
        cells["torch", "optax"]["verdict"] == "exact" and "eps_in_sqrt=False" in cells["torch", "optax"]["target_call"]
    )
    assert main(["port-map", "rmsprop", "--frameworks", *names]) == 0
    text = capsys.readouterr().out.splitlines()
    header = text[1].split()
    assert header == names
    row = dict(zip(header, text[3].split()[1:]))  # keras's row
    assert text[3].split()[0] == "keras" and row["keras"] == "--"
    assert row["optax"] == ("exact" if cells["keras", "optax"]["verdict"] == "exact" else row["optax"])
    assert row["torch"] == f"{cells['keras', 'torch']['max_lr_ratio']:.4g}{cells['keras', 'torch']['verdict'][0]}"
    assert text[-1].startswith("6 pairs: ")
    path = tmp_path / "map.json"
    assert main(["port-map", "rmsprop", "--frameworks", *names, "--output", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {path}"
    written = json.loads(path.read_text())
    assert written["schema"] == "symopt.port-map/1" and written["pairs"] == out["pairs"]


# -- diff ------------------------------------------------------------------------------------------
def test_diff_torch_keras_ratio_is_the_hand_derived_one(capsys):
    d = diff("rmsprop", "torch", "keras")
    import sympy as sp

    ratio = sp.sympify(
        d["constant_gradient"]["ratio"],
        locals={
            "alpha": sp.Symbol("alpha", nonnegative=True),
            "epsilon": sp.Symbol("epsilon", nonnegative=True),
            "g": sp.Symbol("g", real=True),
            "t": sp.Symbol("t", integer=True, positive=True),
        },
    )
    fn = sp.lambdify(sorted(ratio.free_symbols, key=lambda s: s.name), ratio)
    for a, e, gv, tv in [(0.99, 1e-8, 3e-4, 5), (0.9, 1e-7, 2.0, 1), (0.5, 1e-3, 1e-3, 40)]:
        expected = math.sqrt((1 - a**tv) * gv * gv + e) / (math.sqrt(1 - a**tv) * gv + e)
        assert fn(a, e, gv, tv) == pytest.approx(expected, rel=1e-12)
    assert {"alpha", "eps", "lr"} <= set(d["depends_on"]["torch"])
    assert d["changing_lr"]["vanishes_for_constant_lr"] is False  # ε placement differs too
    intervals = d["region_1_percent"]["abs_g_intervals_by_t"]["1000000"]
    # at torch's defaults (α = 0.99, ε = 1e-8 in both), |R − 1| > 1 % for |g| below √(49.25 ε)
    assert intervals and intervals[0][0] == 1e-8 and 5e-4 < intervals[0][1] < 8e-4
    assert main(["diff", "rmsprop", "--dialects", "torch", "keras", "--json"]) == 0
    assert "constant_gradient" in json.loads(capsys.readouterr().out)
    assert main(["diff", "rmsprop", "--dialects", "torch", "kears"]) == 2


def test_diff_lr_placement_alone_vanishes_for_a_constant_lr():
    d = diff("rmsprop", "sb3", "tf1")
    assert d["changing_lr"]["vanishes_for_constant_lr"] is True
    assert d["steps"]["plain"]["one_step"]["w"]["difference"] == "0"


# -- the drop-in -----------------------------------------------------------------------------------
CALLS = [
    "tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.016, decay=0.9, momentum=0.9, epsilon=1e-3)",
    "keras.optimizers.RMSprop(learning_rate=1e-2, centered=True, momentum=0.5, weight_decay=0.1)",
    "optax.adagrad(learning_rate=0.1)",
    "jax.example_libraries.optimizers.adagrad(0.1)",
    "tf.keras.optimizers.legacy.RMSprop(momentum=0.9, decay=0.01)",
    "timm.optim.RMSpropTF(lr=1e-2, momentum=0.9, lr_in_momentum=False, weight_decay=0.1, decoupled_decay=True)",
]


@pytest.mark.parametrize("call", CALLS)
def test_dropin_steps_as_the_model(call):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(3, 4))
    grads = rng.normal(size=(30, 3, 4))
    grads[0, 0, 0] = 0.0
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = symopt.torch.port([p], call)
    for gr in grads:
        p.grad = torch.tensor(gr)
        opt.step()
    src = parse(call)
    run = Interpreter(src.rule, **src.values())
    w = w0.copy()
    state = run.init_state(w)
    for gr in grads:
        run.step(w, gr, state)
    assert np.isfinite(w).all()
    np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-13, atol=0)


def test_dropin_groups_schedulers_state_dict_and_float32():
    call = "keras.optimizers.RMSprop(learning_rate=1e-2, momentum=0.9)"
    a, b = torch.nn.Parameter(torch.ones(4)), torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = symopt.torch.port([{"params": [a]}, {"params": [b], "lr": 1e-3}], call)
    assert opt.param_groups[0]["lr"] == 1e-2 and opt.param_groups[1]["lr"] == 1e-3 and opt.param_groups[0]["rho"] == 0.9
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        a.grad, b.grad = torch.full_like(a, 0.1), torch.full_like(b, 0.1)
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2 / 8)
    assert a.dtype == torch.float32 and torch.isfinite(a).all()
    saved = opt.state_dict()
    again = symopt.torch.port(
        [{"params": [a.detach().clone().requires_grad_()]}, {"params": [b.detach().clone().requires_grad_()]}], call
    )
    again.load_state_dict(saved)
    assert set(again.state_dict()["state"][0]) == {"step", "square_avg", "momentum_buffer"}
    assert rules.get("rmsprop", "keras").hyperparameter("learning_rate")


def test_centered_graves_has_no_uncentered_equivalent():
    """Under a constant gradient the centered variance v − m² = α^t (1 − α^t) g² → 0 (derived by
    hand), so Graves's σ → √ε while an uncentered σ → |g|: no configuration bounds the ratio. (On
    the old code the closed form was taken at Graves's default momentum, a sum, and port failed
    with a TypeError.)"""
    p = port("chainer.optimizers.RMSpropGraves()", "caffe")
    assert p.verdict == "none" and p.target_call is None
    back = port("keras.optimizers.RMSprop(centered=True)", "chainer-graves")
    assert back.verdict == "exact" and parse(back.target_call).keywords["momentum"] == 0.0


def test_momentum_is_never_dropped_by_an_approximate_port():
    """A heavy-ball buffer with μ = 0.9 multiplies the steady step by 1/(1 − μ) = 10 under a
    constant gradient; a target without momentum (Chainer's RMSprop) cannot be 'approximate' on
    the strength of the μ = 0 rates. (On the code before this test it was, with ratio 1.00.)"""
    p = port("keras.optimizers.RMSprop(momentum=0.9)", "chainer")
    assert p.verdict == "none" and "momentum" in p.conditions[0]
    q = port("keras.optimizers.RMSprop(momentum=0.9)", "torch")
    assert q.verdict == "approximate" and parse(q.target_call).keywords["momentum"] == 0.9
    assert any("constant learning rate" in c for c in q.conditions)


def test_guarded_and_fixed_eps_dialects_port():
    """optax's AdaGrad (where(G > 0, …, 0): a 0/0 branch in the ratio) and torch7's fixed
    ε = 1e-10 as targets and sources (on the old code: KeyError 'ComplexInfinity' from the
    ratio's printer, and a RecursionError in the effective rate's trajectory sum with ε a Float)."""
    p = port("torch.optim.Adagrad(lr=0.01)", "optax")
    assert p.verdict == "approximate" and p.max_lr_ratio < 1.001
    q = port("optim.adagrad(learningRate=0.01)", "torch")
    assert q.verdict == "exact" and q.target_call == "torch.optim.Adagrad(params)"  # torch's eps is torch7's 1e-10
    r = port("torch.optim.Adagrad(lr=0.01)", "torch7")
    assert r.verdict == "exact" and r.target_call == "optim.adagrad(learningRate=0.01)"


def test_a_fixed_value_of_the_source_is_mapped_to_the_targets_keyword():
    """torch7's AdaGrad has no ε argument: it is the fixed 1e-10 (optim/adagrad.lua). MXNet's and
    Caffe's AdaGrad take ε outside the root as a keyword, so ε = 1e-10 there is the same map. (On
    the code before this test the fixed value was not seen: both were 'approximate', ratio 1.)"""
    for to, keyword in (("mxnet", "epsilon"), ("caffe", "delta")):
        p = port("optim.adagrad(learningRate=0.01)", to)
        assert p.verdict == "exact" and p.max_lr_ratio == 1.0, (to, p.verdict)
        target = parse(p.target_call)
        assert target.keywords[keyword] == 1e-10
        grads = np.random.default_rng(3).normal(scale=1e-5, size=(40, 4))  # where ε matters
        src = parse(p.source)
        assert _rel(_run(src.rule, src.values(), grads), _run(target.rule, target.values(), grads)) <= 1e-13


def test_an_l1_penalty_is_kept_only_by_an_l1_penalty():
    """λ sign(w) (Caffe's regularization_type "L1") and λ w (torch's weight_decay) are different
    penalties: with λ ≠ 0 no torch configuration keeps the first (on the code before this test
    the port was 'approximate', ratio 1, from the μ = 0, λ-free effective rates), Caffe's own
    "L1" solver is exact, and its call text writes the keyword that chooses it."""
    text = 'caffe.AdaGradSolver(base_lr=0.1, weight_decay=0.01, regularization_type="L1")'
    for to in ("torch", "caffe"):
        p = port(text, to)
        assert p.verdict == "none" and "another penalty" in p.conditions[0], (to, p.verdict)
    same = port(text, "caffe-l1")
    assert same.verdict == "exact" and parse(same.target_call).dialect.name == "caffe-l1"
    assert "regularization_type='L1'" in same.target_call
    assert port('caffe.AdaGradSolver(base_lr=0.1, regularization_type="L1")', "torch").verdict == "exact"  # λ = 0
