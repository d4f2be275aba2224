"""Generated kernels against independent oracles: the reference interpreter (float64, every rule)
and torch.optim's for-loop (bitwise, on torch's own optim_db configurations)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from symopt import numpy as sn
from symopt import rules
from symopt.interpret import Interpreter
from symopt.torch import functional as F

STEPS = 100


def grads(shape, n=STEPS, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


def assert_close(actual, expected, rtol=1e-12):
    scale = np.maximum(np.abs(expected), 1e-300)
    err = np.max(np.abs(actual - expected) / scale)
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


# -- symopt.numpy vs the interpreter ------------------------------------------------------------
NUMPY_CASES = [
    ("adam", {}),
    ("adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.1, "maximize": True}),
    ("adam", {"amsgrad": True, "eps": 1e-6}),
    ("adamw", {}),
    ("adamw", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.5, "maximize": True, "amsgrad": True}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"initial_accumulator_value": 0.1, "weight_decay": 0.1, "maximize": True, "eps": 1e-6}),
    ("adagrad_textbook", {"lr": 0.05}),
    ("rmsprop", {}),
    ("rmsprop", {"weight_decay": 0.1, "maximize": True}),
    ("rmsprop", {"centered": True, "alpha": 0.9}),
    ("rmsprop", {"momentum": 0.9, "lr": 1e-3}),
    ("rmsprop", {"weight_decay": 0.1, "centered": True, "momentum": 0.1, "maximize": True}),
    ("rmsprop_textbook", {"lr": 0.05, "eps": 1e-6}),
    ("sgd", {"lr": 0.01}),
    ("sgd", {"lr": 0.01, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1, "maximize": True}),
    ("sgd", {"lr": 0.01, "momentum": 1.0, "nesterov": True, "weight_decay": 1.0}),
]


@pytest.mark.parametrize("name,hyper", NUMPY_CASES, ids=lambda x: str(x))
def test_numpy_kernels_match_interpreter(name, hyper):
    family, dialect = sn.RULES[name]
    rule = rules.get(family, dialect)
    ref = Interpreter(rule, **hyper)
    w0 = np.random.default_rng(1).standard_normal((4, 5))
    w_ref, w_gen = w0.copy(), w0.copy()
    s_ref, s_gen = ref.init_state(w_ref), sn.init_state(name, w_gen, **hyper)
    lazy = {st.name for st in rule.states if st.lazy}  # created at the first step (SGD's momentum_buffer)
    expected_keys = set(s_ref) if rule.stores_step else set(s_ref) - {"step"}
    assert set(s_gen) == expected_keys - lazy
    for g_ in grads(w0.shape):
        ref.step(w_ref, g_, s_ref)
        g_copy = g_.copy()
        sn.step(name, w_gen, g_, s_gen, **hyper)
        np.testing.assert_array_equal(g_, g_copy)  # the caller's gradient is not written
    assert set(s_gen) == expected_keys
    if rule.stores_step:
        assert s_gen["step"] == s_ref["step"] == STEPS
    assert_close(w_gen, w_ref)
    for key in s_ref:
        if key != "step":
            assert_close(s_gen[key], s_ref[key])


@pytest.mark.parametrize("module", ["sgd", "inverse_time", "inverse_time_textbook"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_other_kernels_match_interpreter(module, backend):
    kernel = importlib.import_module(f"symopt.kernels.{backend}.{module}")
    rule = rules.get(kernel.RULE, kernel.DIALECT)
    # 1.0 too: a guard `x != 0` miswritten as `x != 1` differs only there
    for hyper in (
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.1, "maximize": True},
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"lr": 0.01, "momentum": 1.0, "weight_decay": 1.0},
        {"lr": 0.01, "momentum": 1.0, "nesterov": True, "weight_decay": 1.0},
    ):
        hyper = {k: v for k, v in hyper.items() if k in {h.name for h in rule.hyperparameters}}
        ref = Interpreter(rule, **hyper)
        values = {h.name: ref.values[h.symbol] for h in rule.hyperparameters}
        w_ref = np.linspace(-1, 1, 6)
        w_gen = w_ref.copy() if backend == "numpy" else torch.tensor(w_ref)
        s_ref = ref.init_state(w_ref)
        s_gen = kernel.init_state(w_gen, **{k: values[k] for k in kernel.INIT_ARGUMENTS})
        lazy = [st for st in rule.active_states(ref.values) if st.lazy]
        assert not {st.name for st in lazy} & set(s_gen)  # torch creates them at the first step
        if backend == "numpy":  # symopt.numpy allocates a lazy state; the kernel fills it
            s_gen.update({st.name: np.empty_like(w_gen) for st in lazy})
        for t, g_ in enumerate(grads(6), start=1):
            ref.step(w_ref, g_, s_ref)
            g_gen = g_ if backend == "numpy" else torch.tensor(g_)
            kwargs = {k: (t if k == "step" else values[k]) for k in kernel.UPDATE_ARGUMENTS}
            created = kernel.update(w_gen, g_gen, *(s_gen.get(s) for s in kernel.STATES), **kwargs)
            if backend == "torch" and lazy:  # the Torch kernel returns the lazy states, created at t = 1
                assert set(created) == set(kernel.LAZY_STATES)
                s_gen.update({k: v for k, v in created.items() if v is not None})
        assert_close(np.asarray(w_gen), w_ref)
        for key in s_ref:
            if key != "step":
                assert_close(np.asarray(s_gen[key]), np.asarray(s_ref[key]))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_kernels_fresh_state_is_the_models(backend):
    """init_state of every generated kernel: step 0 (where the rule keeps one) and each buffer at
    the model's initial value, for the hyperparameters that decide which buffers exist."""
    from symopt.codegen.render import module_name

    for rule in rules.all_rules():
        kernel = importlib.import_module(f"symopt.kernels.{backend}.{module_name(rule)}")
        numeric = {h.name: (True if h.is_flag else 0.25) for h in rule.hyperparameters}
        numeric = {k: v for k, v in numeric.items() if not (k == "nesterov")}  # nesterov needs dampening 0
        values = rule.values(**numeric)
        param = np.linspace(-1, 1, 5) if backend == "numpy" else torch.linspace(-1, 1, 5, dtype=torch.float64)
        state = kernel.init_state(
            param, **{k: numeric.get(k, rule.hyperparameter(k).default) for k in kernel.INIT_ARGUMENTS}
        )
        if rule.stores_step:
            assert float(state["step"]) == 0.0, rule.name
        made = [s for s in rule.active_states(values) if not s.lazy]  # a lazy state is made at the first step
        for s in made:
            expected = float(s.initial.subs(values))
            assert np.all(np.asarray(state[s.name]) == expected), (rule.name, s.name)
        assert set(state) - {"step"} == {s.name for s in made}, rule.name


@pytest.mark.parametrize("module", ["adagrad_textbook", "rmsprop_textbook"])
def test_torch_textbook_kernels_match_interpreter(module):
    kernel = importlib.import_module(f"symopt.kernels.torch.{module}")
    rule = rules.get(kernel.RULE, kernel.DIALECT)
    ref = Interpreter(rule)
    values = {h.name: ref.values[h.symbol] for h in rule.hyperparameters}
    w_ref = np.linspace(-1, 1, 6)
    w_gen = torch.tensor(w_ref)
    s_ref, s_gen = ref.init_state(w_ref), kernel.init_state(w_gen)
    for g_ in grads(6):
        ref.step(w_ref, g_, s_ref)
        kernel.update(
            w_gen,
            torch.tensor(g_),
            *(s_gen[s] for s in kernel.STATES),
            **{k: values[k] for k in kernel.UPDATE_ARGUMENTS},
        )
    assert_close(w_gen.numpy(), w_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_numpy_float32_and_complex(dtype):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(5).astype(dtype)
    if np.iscomplexobj(w0):
        w0 = w0 + 1j * rng.standard_normal(5)
    hyper = {"lr": 0.1, "initial_accumulator_value": 0.1, "weight_decay": 0.1}
    w_gen, w_ref = w0.copy(), w0.astype(np.complex128 if np.iscomplexobj(w0) else np.float64)
    s_gen = sn.init_state("adagrad", w_gen, **hyper)
    assert s_gen["sum"].dtype == w0.dtype
    ref = Interpreter(rules.adagrad(), **hyper)
    s_ref = ref.init_state(w_ref)
    if np.iscomplexobj(w0):  # torch's initial accumulator for complex: v + v·i
        s_ref["sum"] = np.full_like(w_ref, 0.1 + 0.1j)
        assert s_gen["sum"][0] == 0.1 + 0.1j
    for g_ in grads(5, n=20):
        g_ = (g_ + 1j * g_[::-1]) if np.iscomplexobj(w0) else g_
        sn.adagrad_step(w_gen, g_.astype(w0.dtype), s_gen, **hyper)
        ref.step(w_ref, g_.astype(w_ref.dtype), s_ref)
    assert w_gen.dtype == w0.dtype
    assert_close(w_gen, w_ref, rtol=1e-12 if dtype == np.complex128 else 1e-5)


# -- generated Torch kernels vs torch.optim, bitwise ---------------------------------------------
def _optim_inputs(name):
    from torch.testing._internal import common_optimizers as co

    configs = getattr(co, f"optim_inputs_func_{name}")("cpu")
    return [
        pytest.param(c.kwargs, id=c.desc)
        for c in configs
        if not c.kwargs.get("capturable") and not c.kwargs.get("fused")
    ]


def _params(dtype, complex_=False):
    gen = torch.Generator().manual_seed(0)
    shapes = [(5, 3), (7,), (2, 3, 4)]
    ps = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    ps.append(torch.randn(6, 4, generator=gen, dtype=dtype).t())  # non-contiguous
    if complex_:
        ps.append(torch.randn(4, generator=gen, dtype=torch.complex64 if dtype == torch.float32 else torch.complex128))
    return ps


def _grad_stream(params, gen):
    return [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]


def _run_bitwise(opt_class, kwargs, dtype, functional_step, init, complex_=False, foreach=False):
    """symopt's functional API (with ``foreach``) vs torch.optim on the same code path, bitwise."""
    ref = [p.clone().requires_grad_() for p in _params(dtype, complex_)]
    mine = [p.detach().clone() for p in ref]
    opt = opt_class(ref, foreach=foreach, **kwargs)
    d = opt.defaults
    states = [init(p, d) for p in mine]
    gen = torch.Generator().manual_seed(1)
    for k in range(STEPS):
        gs = _grad_stream(ref, gen)
        if k == 3:
            gs[0].zero_()  # zero gradients are an edge case of √G
        for p, g_ in zip(ref, gs):
            p.grad = g_.clone()
        opt.step()
        functional_step(mine, gs, states, dict(d, foreach=foreach))
    for p, q, s in zip(ref, mine, states):
        assert torch.equal(p.detach(), q), "param differs"
        assert set(s) == set(opt.state[p])
        for key in s:
            assert torch.equal(opt.state[p][key], s[key]), f"state {key!r} differs"


FOREACH = pytest.mark.parametrize("foreach", [False, True], ids=["for-loop", "foreach"])


@FOREACH
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("kwargs", _optim_inputs("adagrad"))
def test_adagrad_bitwise_equal_to_torch_optim(kwargs, dtype, foreach):
    from symopt.kernels.torch import adagrad as kernel

    def step(params, gs, states, d):
        F.adagrad(
            params,
            gs,
            [s["sum"] for s in states],
            [s["step"] for s in states],
            lr=d["lr"],
            weight_decay=d["weight_decay"],
            lr_decay=d["lr_decay"],
            eps=d["eps"],
            maximize=d["maximize"],
            foreach=d["foreach"],
        )

    def init(p, d):
        return kernel.init_state(p, initial_accumulator_value=d["initial_accumulator_value"])

    _run_bitwise(torch.optim.Adagrad, kwargs, dtype, step, init, complex_=True, foreach=foreach)


@FOREACH
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("kwargs", _optim_inputs("rmsprop"))
def test_rmsprop_bitwise_equal_to_torch_optim(kwargs, dtype, foreach):
    from symopt.kernels.torch import rmsprop as kernel

    def step(params, gs, states, d):
        F.rmsprop(
            params,
            gs,
            [s["square_avg"] for s in states],
            [s.get("grad_avg") for s in states],
            [s.get("momentum_buffer") for s in states],
            [s["step"] for s in states],
            lr=d["lr"],
            alpha=d["alpha"],
            eps=d["eps"],
            weight_decay=d["weight_decay"],
            momentum=d["momentum"],
            centered=d["centered"],
            maximize=d["maximize"],
            foreach=d["foreach"],
        )

    def init(p, d):
        return kernel.init_state(p, momentum=d["momentum"], centered=d["centered"])

    _run_bitwise(torch.optim.RMSprop, kwargs, dtype, step, init, complex_=True, foreach=foreach)


@FOREACH
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("kwargs", _optim_inputs("adam"))
def test_adam_bitwise_equal_to_torch_optim(kwargs, dtype, foreach):
    from symopt.kernels.torch import adam as kernel

    def step(params, gs, states, d):
        F.adam(
            params,
            gs,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s.get("max_exp_avg_sq") for s in states],
            [s["step"] for s in states],
            amsgrad=d["amsgrad"],
            beta1=d["betas"][0],
            beta2=d["betas"][1],
            lr=d["lr"],
            weight_decay=d["weight_decay"],
            eps=d["eps"],
            maximize=d["maximize"],
            foreach=d["foreach"],
        )

    def init(p, d):
        return kernel.init_state(p, amsgrad=d["amsgrad"])

    if foreach and isinstance(kwargs.get("lr"), torch.Tensor):
        pytest.skip("torch.optim.Adam refuses a tensor lr with foreach=True")
    _run_bitwise(torch.optim.Adam, kwargs, dtype, step, init, complex_=True, foreach=foreach)


@FOREACH
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "kwargs", _optim_inputs("adamw") + [pytest.param({"weight_decay": 2.0, "lr": 0.5}, id="lr*wd=1")]
)
def test_adamw_bitwise_equal_to_torch_optim(kwargs, dtype, foreach):
    """functional.adamw (the kernel of rules.adamw: w ← w(1 − ηλ) before Adam's update) against
    torch.optim.AdamW, and functional.adam(decoupled_weight_decay=True) against the same."""
    from symopt.kernels.torch import adamw as kernel

    for decoupled_adam in (False, True):

        def step(params, gs, states, d):
            lists = (
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [s.get("max_exp_avg_sq") for s in states],
                [s["step"] for s in states],
            )
            hyper = dict(
                amsgrad=d["amsgrad"],
                beta1=d["betas"][0],
                beta2=d["betas"][1],
                lr=d["lr"],
                weight_decay=d["weight_decay"],
                eps=d["eps"],
                maximize=d["maximize"],
            )
            if decoupled_adam:
                F.adam(params, gs, *lists, foreach=d["foreach"], decoupled_weight_decay=True, **hyper)
            else:
                F.adamw(params, gs, *lists, foreach=d["foreach"], **hyper)

        def init(p, d):
            return kernel.init_state(p, amsgrad=d["amsgrad"])

        if foreach and isinstance(kwargs.get("lr"), torch.Tensor):
            pytest.skip("torch.optim.AdamW refuses a tensor lr with foreach=True")
        _run_bitwise(torch.optim.AdamW, kwargs, dtype, step, init, complex_=True, foreach=foreach)


@FOREACH
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "kwargs",
    _optim_inputs("sgd")
    + [
        pytest.param({"momentum": 0.5, "dampening": 0.3, "maximize": True}, id="dampening, maximize"),
        pytest.param({"momentum": 0.9, "nesterov": True, "maximize": True}, id="nesterov, maximize"),
    ],
)
def test_sgd_bitwise_equal_to_torch_optim(kwargs, dtype, foreach):
    """Complex params stepped as complex tensors (torch's SGD never views them as real), the
    buffer created at the first step as a clone of g (its strides) and None where there is none."""

    def step(params, gs, states, d):
        buffers = [s.get("momentum_buffer") for s in states] if d["momentum"] != 0 else []
        F.sgd(
            params,
            gs,
            buffers,
            foreach=d["foreach"],
            weight_decay=d["weight_decay"],
            momentum=d["momentum"],
            lr=d["lr"],
            dampening=d["dampening"],
            nesterov=d["nesterov"],
            maximize=d["maximize"],
        )
        for s, buf in zip(states, buffers):
            s["momentum_buffer"] = buf

    _run_bitwise(torch.optim.SGD, kwargs, dtype, step, lambda p, d: {}, complex_=True, foreach=foreach)


def test_sgd_foreach_kernel_takes_a_tensor_at_its_first_step_one_at_a_time():
    """torch's _multi_tensor_sgd: when some buffer does not exist yet, every tensor goes through
    the single-tensor ops (a clone for the new one, mul_/add_ for the others); the kernel's list
    gets the new buffer in its slot and keeps the others' objects."""
    from symopt.kernels.torch import sgd as kernel

    gen = torch.Generator().manual_seed(7)
    params = [torch.randn(3, generator=gen) for _ in range(3)]
    grads_ = [torch.randn(3, generator=gen) for _ in range(3)]
    old = torch.randn(3, generator=gen)
    buffers = [old, None, old.clone()]
    expected = [old * 0.9 + grads_[0] * 0.75, grads_[1], old * 0.9 + grads_[2] * 0.75]  # b ← μb + (1 − τ)g; b₁ = g
    kernel.update_foreach(
        params,
        grads_,
        buffers,
        steps=[2, 1, 2],
        lr=0.1,
        momentum=0.9,
        dampening=0.25,
        weight_decay=0.0,
        nesterov=False,
        maximize=False,
    )
    assert buffers[0] is old and buffers[1] is not grads_[1]
    for b, e in zip(buffers, expected):
        torch.testing.assert_close(b, e, rtol=0, atol=1e-6)


# -- clear errors ---------------------------------------------------------------------------------
def test_numpy_api_errors():
    w = np.zeros(3)
    state = sn.init_state("adagrad", w)
    with pytest.raises(ValueError, match="grad has shape \\(4,\\) but param has shape \\(3,\\)"):
        sn.adagrad_step(w, np.zeros(4), state)
    with pytest.raises(TypeError, match="grad has dtype float32 but param has dtype float64"):
        sn.adagrad_step(w, np.zeros(3, np.float32), state)
    with pytest.raises(TypeError, match="param has dtype int64; allowed: float32, float64"):
        sn.init_state("adagrad", np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="param must be a numpy.ndarray"):
        sn.adagrad_step([0.0], np.zeros(1), state)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        sn.adagrad_step(w, np.zeros(3), state, lr=-1)
    with pytest.raises(ValueError, match="Invalid epsilon value: -1"):
        sn.rmsprop_step(w, np.zeros(3), sn.init_state("rmsprop", w), eps=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument\\(s\\) momentum"):
        sn.adagrad_step(w, np.zeros(3), state, momentum=0.9)
    with pytest.raises(ValueError, match="rule must be one of"):
        sn.init_state("lamb", w)
    with pytest.raises(KeyError, match="momentum_buffer"):
        sn.rmsprop_step(w, np.zeros(3), sn.init_state("rmsprop", w), momentum=0.9)
    assert state["step"] == 0  # nothing ran


def test_numpy_state_keys_follow_torch():
    w = np.zeros(3, np.float32)
    assert set(sn.init_state("rmsprop", w)) == {"step", "square_avg"}
    s = sn.init_state("rmsprop", w, centered=True, momentum=0.5)
    assert set(s) == {"step", "square_avg", "grad_avg", "momentum_buffer"}
    assert s["step"] == 0 and isinstance(s["step"], int) and s["square_avg"].dtype == np.float32
    assert sn.init_state("adagrad", w, initial_accumulator_value=0.5)["sum"].tolist() == [0.5] * 3


def test_functional_errors():
    p = [torch.zeros(3)]
    kw = dict(lr=0.01, weight_decay=0.0, lr_decay=0.0, eps=1e-10, maximize=False)
    sgd_kw = dict(weight_decay=0.0, momentum=0.9, lr=0.1, dampening=0.0, nesterov=False, maximize=False)
    with pytest.raises(NotImplementedError, match="no fused C kernel for 'sgd'"):
        F.sgd(p, [torch.zeros(3)], [None], fused=True, **sgd_kw)
    with pytest.raises(AssertionError, match="Expected grad_scale and found_inf to be None"):
        F.sgd(p, [torch.zeros(3)], [None], grad_scale=torch.tensor(1.0), **sgd_kw)
    with pytest.raises(ValueError, match="momentum_buffer_list has 0 entries but params has 1"):
        F.sgd(p, [torch.zeros(3)], [], **sgd_kw)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        F.sgd(p, [torch.zeros(3)], [None], **{**sgd_kw, "nesterov": True, "dampening": 0.5})
    with pytest.raises(ValueError, match="beta1 as a Tensor is not supported for capturable=False and foreach=True"):
        F.adam(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [torch.tensor(0.0)],
            foreach=True,
            amsgrad=False,
            beta1=torch.tensor(0.9),
            beta2=0.999,
            lr=1e-3,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )
    with pytest.raises(RuntimeError, match="lr as a Tensor is not supported for capturable=False and foreach=True"):
        F.adamw(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [torch.tensor(0.0)],
            foreach=True,
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=torch.tensor(1e-3),
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )
    with pytest.raises(NotImplementedError, match="no fused C kernel for 'adam'"):
        F.adam(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [torch.tensor(0.0)],
            fused=True,
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=1e-3,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        F.adam(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [torch.tensor(0.0)],
            amsgrad=False,
            beta1=0.9,
            beta2=1.0,
            lr=1e-3,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )
    with pytest.raises(ValueError, match="grads\\[0\\] has shape \\(4,\\) but params\\[0\\] has shape \\(3,\\)"):
        F.adagrad(p, [torch.zeros(4)], [torch.zeros(3)], [torch.tensor(0.0)], **kw)
    with pytest.raises(TypeError, match="state_sums\\[0\\] has dtype torch.float64"):
        F.adagrad(p, [torch.zeros(3)], [torch.zeros(3, dtype=torch.float64)], [torch.tensor(0.0)], **kw)
    with pytest.raises(TypeError, match="state_steps must be a list of singleton tensors"):
        F.adagrad(p, [torch.zeros(3)], [torch.zeros(3)], [0], **kw)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        F.adagrad(p, [torch.zeros(3)], [torch.zeros(3)], [torch.tensor(0.0)], **{**kw, "lr": -0.1})
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        F.rmsprop(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [],
            [torch.tensor(0.0)],
            lr=0.01,
            alpha=0.99,
            eps=1e-8,
            weight_decay=0.0,
            momentum=-1,
            centered=False,
            maximize=False,
        )
    with pytest.raises(ValueError, match="momentum_buffer_list has 0 entries but params has 1"):
        F.rmsprop(
            p,
            [torch.zeros(3)],
            [torch.zeros(3)],
            [],
            [],
            [torch.tensor(0.0)],
            lr=0.01,
            alpha=0.99,
            eps=1e-8,
            weight_decay=0.0,
            momentum=0.5,
            centered=False,
            maximize=False,
        )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_adam_foreach_low_precision_bitwise_with_torch_the_step_size_stays_in_opmath(dtype):
    """torch's Adam passes its per-tensor step size −η/c₁ to ``_foreach_addcdiv_`` as a scalar list
    (the product in float32 opmath); scaling m first rounds η·m/c₁ to float16, to 0 or a subnormal
    when m ~ 1e-4 (found by ``symopt verify --full --rule adam``: 779 ULP after 100 steps)."""
    from symopt.kernels.torch import adam as kernel

    gen = torch.Generator().manual_seed(3)
    ref = [torch.randn(n, generator=gen).to(dtype).requires_grad_() for n in (20, 7)]
    mine = [p.detach().clone() for p in ref]
    opt = torch.optim.Adam(ref, lr=4.9e-4, eps=1e-6, maximize=True, foreach=True)
    states = [kernel.init_state(p, amsgrad=False) for p in mine]
    for _ in range(30):
        gs = [(torch.randn(p.shape, generator=gen) * 1e-4).to(dtype) for p in ref]
        for p, g in zip(ref, gs):
            p.grad = g.clone()
        opt.step()
        F.adam(
            mine,
            gs,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [None, None],
            [s["step"] for s in states],
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=4.9e-4,
            weight_decay=0.0,
            eps=1e-6,
            maximize=True,
            foreach=True,
        )
    for p, q in zip(ref, mine):
        assert torch.equal(p.detach(), q)
