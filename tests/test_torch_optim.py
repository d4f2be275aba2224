"""symopt.torch.Adagrad / RMSprop / Adam / SGD as drop-ins for torch.optim: same signature, validation,
state_dict layout, and bitwise the same steps, on torch's for-loop (foreach=False) and multi-tensor
(foreach=True) paths."""

from __future__ import annotations

import copy
import inspect

import pytest
import torch

import symopt.torch.optim as ours
from symopt.verify.cases import optim_db_error_inputs, optim_db_inputs

PAIRS = {
    "adagrad": (ours.Adagrad, torch.optim.Adagrad),
    "rmsprop": (ours.RMSprop, torch.optim.RMSprop),
    "adam": (ours.Adam, torch.optim.Adam),
    "adamw": (ours.AdamW, torch.optim.AdamW),
    "sgd": (ours.SGD, torch.optim.SGD),
}
#: the rules whose torch.optim refuses a tensor lr with foreach=True (without capturable)
NO_TENSOR_LR_FOREACH = ("adam", "adamw")
FOREACH = [False, True]
STEPS = 100


def _params(dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(4, 5, generator=gen, dtype=dtype),
        torch.randn(6, 3, generator=gen, dtype=dtype).t(),  # non-contiguous
        torch.randn((), generator=gen, dtype=dtype),  # 0-d
        torch.randn(0, generator=gen, dtype=dtype),  # empty
    ]


def _twins(rule, kwargs, dtype, seed=0, foreach=False):
    mine_cls, torch_cls = PAIRS[rule]
    base = _params(dtype, seed)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    return a, mine_cls(a, foreach=foreach, **kwargs), b, torch_cls(b, foreach=foreach, **kwargs)


def _step_both(a, oa, b, ob, gen, skip_first=False):
    for i, (x, y) in enumerate(zip(a, b)):
        g = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype)
        x.grad = None if (skip_first and i == 0) else g.clone()
        y.grad = None if (skip_first and i == 0) else g.clone()
    oa.step()
    ob.step()


_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits of every real component (complex viewed as real pairs), as integers."""
    t = t.detach()
    t = torch.view_as_real(t) if t.is_complex() else t
    return t.view(_INT_OF_SIZE[t.element_size()]) if t.is_floating_point() else t


def _assert_same_tensor(x: torch.Tensor, y: torch.Tensor, what: str) -> None:
    """x and y bit for bit, element by element: same dtype, shape and strides; NaN in the same
    places; every other element the same bits (so -0.0 differs from 0.0). Sparse tensors: the
    same layout, coalesced flag, indices in the same order and values bit for bit."""
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), (what, type(x), type(y))
    if x.is_sparse or y.is_sparse:
        assert (x.layout, x.is_coalesced(), x.shape) == (y.layout, y.is_coalesced(), y.shape), (what, x, y)
        assert torch.equal(x._indices(), y._indices()), f"{what}: sparse indices differ"
        _assert_same_tensor(x._values(), y._values(), f"{what} (values)")
        return
    assert (x.dtype, x.shape, x.stride()) == (y.dtype, y.shape, y.stride()), (
        what,
        x.dtype,
        y.dtype,
        x.shape,
        y.shape,
        x.stride(),
        y.stride(),
    )
    rx, ry = (torch.view_as_real(t.detach()) if t.is_complex() else t.detach() for t in (x, y))
    nan_x, nan_y = (t.isnan() if t.is_floating_point() else torch.zeros_like(t, dtype=torch.bool) for t in (rx, ry))
    assert torch.equal(nan_x, nan_y), f"{what}: NaN in different places ({int((nan_x != nan_y).sum())} elements)"
    differ = (_bits(x) != _bits(y)) & ~nan_x
    if differ.any():
        gap = (rx.double() - ry.double()).abs()[differ].max().item()
        raise AssertionError(f"{what}: {int(differ.sum())} of {rx.numel()} elements differ, max |difference| {gap:.3g}")


def _assert_bitwise(a, oa, b, ob):
    """Params and every state entry (step included) of two optimizers, bit for bit."""
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        _assert_same_tensor(x, y, f"param {i}")
        sa, sb = oa.state[x], ob.state[y]
        assert set(sa) == set(sb), (i, set(sa), set(sb))
        for key in sb:
            if isinstance(sb[key], torch.Tensor):
                _assert_same_tensor(sa[key], sb[key], f"param {i} state[{key!r}]")
            else:
                assert type(sa[key]) is type(sb[key]) and sa[key] == sb[key], (i, key, sa[key], sb[key])


def _nan_param_twins():
    """RMSprop twins (centered, momentum: three buffers and a step) after five steps, param 0
    holding one NaN (a NaN gradient at [0, 0] on the first step) among finite values."""
    a, oa, b, ob = _twins("rmsprop", {"centered": True, "momentum": 0.5}, torch.float32)
    gen = torch.Generator().manual_seed(3)
    for k in range(5):
        for x, y in zip(a, b):
            g = torch.randn(x.shape, generator=gen)
            if k == 0 and x is a[0]:
                g[0, 0] = float("nan")
            x.grad, y.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    assert a[0].isnan().sum() == 1 and a[0].isfinite().sum() == a[0].numel() - 1
    return a, oa, b, ob


def _add_one_to_a_state_buffer(a, oa):
    with torch.no_grad():
        oa.state[a[1]]["square_avg"].add_(1.0)


def _add_one_to_a_step_counter(a, oa):
    oa.state[a[1]]["step"].add_(1)


def _change_a_finite_element_beside_a_nan(a, oa):
    with torch.no_grad():
        a[0][1, 1] += 1.0


CORRUPTIONS = {
    _add_one_to_a_state_buffer: r"param 1 state\['square_avg'\]: 18 of 18 elements differ, max \|difference\| 1\b",
    _add_one_to_a_step_counter: r"param 1 state\['step'\]: 1 of 1 elements differ, max \|difference\| 1\b",
    _change_a_finite_element_beside_a_nan: r"param 0: 1 of 20 elements differ, max \|difference\| 1\b",
}


def test_the_bitwise_helper_passes_twins_holding_a_nan():
    a, oa, b, ob = _nan_param_twins()
    _assert_bitwise(a, oa, b, ob)  # NaN in the same place counts as equal


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_the_bitwise_helper_catches_a_corrupted_state(corrupt):
    a, oa, b, ob = _nan_param_twins()
    corrupt(a, oa)
    with pytest.raises(AssertionError, match=CORRUPTIONS[corrupt]):
        _assert_bitwise(a, oa, b, ob)


def test_the_bitwise_helper_tells_minus_zero_from_zero():
    a, oa, b, ob = _nan_param_twins()
    with torch.no_grad():
        a[2].copy_(torch.tensor(-0.0))
        b[2].copy_(torch.tensor(0.0))
    with pytest.raises(AssertionError, match="param 2: 1 of 1 elements differ"):
        _assert_bitwise(a, oa, b, ob)


CASES = [(r, c) for r in PAIRS for c in optim_db_inputs(r)]


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("rule,case", CASES, ids=[f"{r}-{c.name}" for r, c in CASES])
def test_bitwise_equal_to_torch_optim(rule, case, dtype, foreach):
    if foreach and isinstance(case.math_kwargs.get("lr"), torch.Tensor) and rule in NO_TENSOR_LR_FOREACH:
        pytest.skip("torch.optim.Adam refuses a tensor lr with foreach=True (tested in test_torchs_error_inputs)")
    a, oa, b, ob = _twins(rule, case.math_kwargs, dtype, foreach=foreach)
    gen = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        _step_both(a, oa, b, ob, gen, skip_first=step % 7 == 3)  # a param without grad on some steps
    _assert_bitwise(a, oa, b, ob)


@pytest.mark.parametrize("rule", PAIRS)
def test_same_signature_as_torch(rule):
    mine, theirs = (inspect.signature(c.__init__).parameters for c in PAIRS[rule])
    assert [(p.name, p.default, p.kind) for p in mine.values()] == [
        (p.name, p.default, p.kind) for p in theirs.values()
    ]


ERRORS = [(r, e) for r in PAIRS for e in optim_db_error_inputs(r)]


@pytest.mark.parametrize("rule,error", ERRORS, ids=[f"{r}-{e[2][:24]}" for r, e in ERRORS])
def test_torchs_error_inputs(rule, error):
    kwargs, error_type, regex = error
    with pytest.raises(error_type, match=regex):
        PAIRS[rule][0]([torch.zeros(2, requires_grad=True)], **kwargs)


ROUND_TRIP = {
    "adagrad": {"lr_decay": 0.01},
    "rmsprop": {"centered": True, "momentum": 0.5},
    "adam": {"amsgrad": True, "betas": (0.8, 0.99)},
    "adamw": {"amsgrad": True, "betas": (0.8, 0.99)},
    "sgd": {"momentum": 0.9, "nesterov": True},
}


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("rule", PAIRS)
@pytest.mark.parametrize("direction", ["torch->symopt", "symopt->torch"])
def test_state_dict_round_trip_mid_training_continues_bitwise(rule, direction, foreach):
    kwargs = {"weight_decay": 0.1, "lr": 0.05} | ROUND_TRIP[rule]
    a, oa, b, ob = _twins(rule, kwargs, torch.float32, foreach=foreach)
    gen = torch.Generator().manual_seed(2)
    for _ in range(30):
        _step_both(a, oa, b, ob, gen)
    saved = (ob if direction == "torch->symopt" else oa).state_dict()
    mine_cls, torch_cls = PAIRS[rule]
    a2 = [x.detach().clone().requires_grad_(True) for x in a]
    b2 = [y.detach().clone().requires_grad_(True) for y in b]
    oa2, ob2 = mine_cls(a2, foreach=foreach, **kwargs), torch_cls(b2, foreach=foreach, **kwargs)
    # load_state_dict keeps the saved tensors when dtype and device match: give each its own copy.
    oa2.load_state_dict(copy.deepcopy(saved))
    ob2.load_state_dict(copy.deepcopy(saved))
    for _ in range(30):
        _step_both(a2, oa2, b2, ob2, gen)
    _assert_bitwise(a2, oa2, b2, ob2)
    assert oa2.state_dict()["param_groups"] == ob2.state_dict()["param_groups"]


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("rule", PAIRS)
def test_param_groups_tensor_lr_and_closure(rule, foreach):
    if foreach and rule in NO_TENSOR_LR_FOREACH:
        pytest.skip("torch.optim.Adam refuses a tensor lr with foreach=True")
    mine_cls, torch_cls = PAIRS[rule]
    base = _params(torch.float64)[:2]
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    oa = mine_cls([{"params": [a[0]]}, {"params": [a[1]], "lr": 0.3}], lr=torch.tensor(0.01), foreach=foreach)
    ob = torch_cls([{"params": [b[0]]}, {"params": [b[1]], "lr": 0.3}], lr=torch.tensor(0.01), foreach=foreach)

    def closure(params):
        def run():
            loss = sum((p**2).sum() for p in params)
            for p in params:
                p.grad = None
            loss.backward()
            return loss

        return run

    for _ in range(20):
        la, lb = oa.step(closure(a)), ob.step(closure(b))
        assert torch.equal(la, lb)
    _assert_bitwise(a, oa, b, ob)


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("rule", PAIRS)
def test_nan_and_inf_gradients_propagate_as_in_torch(rule, foreach):
    a, oa, b, ob = _twins(rule, {"amsgrad": True} if rule == "adam" else {}, torch.float32, foreach=foreach)
    for x, y in zip(a, b):
        g = torch.ones_like(x)
        if g.dim() == 2:
            g[0, 0], g[0, 1] = float("nan"), float("inf")
        x.grad, y.grad = g.clone(), g.clone()
    oa.step()
    ob.step()
    _assert_bitwise(a, oa, b, ob)
    assert a[0].isnan().any()  # not silently masked


COMPLEX = {
    "adagrad": {"initial_accumulator_value": 0.1, "weight_decay": 0.1},
    "rmsprop": {"centered": True, "momentum": 0.3, "maximize": True},
    "adam": {"amsgrad": True, "weight_decay": 0.1, "maximize": True},
    "adamw": {"amsgrad": True, "weight_decay": 0.1, "maximize": True},
    "sgd": {"momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1, "maximize": True},
}


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("rule", PAIRS)
def test_complex_params(rule, foreach):
    """A complex param beside real ones (torch views it as real, per tensor or per list)."""
    gen = torch.Generator().manual_seed(4)
    p0 = [torch.randn(8, generator=gen, dtype=torch.complex64), torch.randn(3, 2, generator=gen)]
    a = [p.clone().requires_grad_(True) for p in p0]
    b = [p.clone().requires_grad_(True) for p in p0]
    mine_cls, torch_cls = PAIRS[rule]
    oa, ob = mine_cls(a, foreach=foreach, **COMPLEX[rule]), torch_cls(b, foreach=foreach, **COMPLEX[rule])
    for _ in range(30):
        for x, y in zip(a, b):
            g = torch.randn(x.shape, generator=gen, dtype=x.dtype)
            x.grad, y.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    _assert_bitwise(a, oa, b, ob)
    assert oa.state[a[0]][next(k for k in oa.state[a[0]] if k != "step")].is_complex()


def test_foreach_none_follows_torchs_default():
    """foreach=None is the for-loop on CPU (torch's default there); the group keeps None."""
    a, oa, b, ob = _twins("rmsprop", {"centered": True}, torch.float32, foreach=None)
    gen = torch.Generator().manual_seed(6)
    for _ in range(5):
        _step_both(a, oa, b, ob, gen)
    _assert_bitwise(a, oa, b, ob)
    assert oa.param_groups[0]["foreach"] is None
    from symopt.torch.functional import resolve_foreach

    assert resolve_foreach(None, a) is False and resolve_foreach(True, a) is True


SPARSE_ADAGRAD = [{}, {"maximize": True, "lr_decay": 0.1}, {"lr": torch.tensor(0.2), "initial_accumulator_value": 0.1}]


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("kwargs", SPARSE_ADAGRAD, ids=lambda k: ", ".join(k) or "plain")
def test_sparse_adagrad_bitwise_equal_to_torch(kwargs, foreach):
    """torch's sparse path (coalesce; sum.add_ of g² on g's indices: g² rounded, then added;
    σ from sum.sparse_mask(grad); w.add_ of g/σ with alpha=-clr) is the generated
    update_sparse, printed from the same model: params and sums bit for bit after 30 steps.
    With foreach=True torch steps a sparse param's whole device-and-dtype group with its for-loop:
    a dense float32 param beside it does too, a float64 one takes the multi-tensor kernel."""
    gen = torch.Generator().manual_seed(5)
    base = [
        torch.randn(10, 3, generator=gen),
        torch.randn(4, generator=gen),
        torch.randn(6, generator=gen, dtype=torch.float64),
    ]
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    kwargs = {"lr": 0.1, **kwargs}
    oa, ob = ours.Adagrad(a, foreach=foreach, **kwargs), torch.optim.Adagrad(b, foreach=foreach, **kwargs)
    for _ in range(30):
        rows = torch.randint(0, 10, (6,), generator=gen)  # repeated rows: an uncoalesced gradient
        g = torch.sparse_coo_tensor(rows.unsqueeze(0), torch.randn(6, 3, generator=gen), (10, 3), check_invariants=True)
        dense = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in base[1:]]
        for x, y, grad in zip(a, b, [g, *dense]):
            x.grad, y.grad = grad.clone(), grad.clone()
        with torch.sparse.check_sparse_tensor_invariants():  # torch's own sparse path warns otherwise
            oa.step()
            ob.step()
    _assert_bitwise(a, oa, b, ob)


def test_sparse_adagrad_refuses_weight_decay_and_rmsprop_refuses_sparse():
    g = torch.sparse_coo_tensor(torch.tensor([[0]]), torch.ones(1, 2), (3, 2), check_invariants=True)
    p = torch.zeros(3, 2, requires_grad=True)
    opt = ours.Adagrad([p], weight_decay=0.1)
    p.grad = g
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        opt.step()
    q = torch.zeros(3, 2, requires_grad=True)
    opt = ours.RMSprop([q])
    q.grad = g.clone()
    with pytest.raises(RuntimeError, match="RMSprop does not support sparse gradients"):
        opt.step()
    r = torch.zeros(3, 2, requires_grad=True)
    opt = ours.Adam([r])
    r.grad = g.clone()
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients"):
        opt.step()


# -- SGD: torch's state layout, sparse gradients, fused ---------------------------------------------
@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
def test_sgd_state_is_torchs_no_step_buffer_from_the_first_step_with_the_gradients_layout(foreach):
    """No ``step``; ``momentum_buffer`` appears at a param's first step (a clone of g, so a
    contiguous gradient of a transposed param gives a contiguous buffer); nothing at all
    without momentum; a state_dict that torch.optim.SGD loads and continues bitwise."""
    for kwargs in ({}, {"momentum": 0.9, "dampening": 0.1}):
        a, oa, b, ob = _twins("sgd", kwargs, torch.float32, foreach=foreach)
        gen = torch.Generator().manual_seed(8)
        _step_both(a, oa, b, ob, gen, skip_first=True)  # param 0 has no gradient yet
        assert len(oa.state) == len(ob.state) == (3 if kwargs else 0)
        assert oa.state_dict()["state"].keys() == ob.state_dict()["state"].keys()
        for x, y in zip(a[1:], b[1:]):
            assert set(oa.state[x]) == set(ob.state[y]) == ({"momentum_buffer"} if kwargs else set())
        if kwargs:
            assert oa.state[a[1]]["momentum_buffer"].is_contiguous() and not a[1].is_contiguous()
        for _ in range(5):
            _step_both(a, oa, b, ob, gen)
        _assert_bitwise(a, oa, b, ob)
        b2 = [y.detach().clone().requires_grad_(True) for y in b]
        ob2 = torch.optim.SGD(b2, foreach=foreach, **kwargs)
        ob2.load_state_dict(copy.deepcopy(oa.state_dict()))
        for _ in range(5):
            _step_both(a, oa, b2, ob2, gen)
        _assert_bitwise(a, oa, b2, ob2)


SPARSE_SGD = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5, "maximize": True},
    {"momentum": 0.9, "nesterov": True},
    {"maximize": True, "lr": torch.tensor(0.05)},
]


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("kwargs", SPARSE_SGD, ids=lambda k: ", ".join(k) or "plain")
def test_sparse_sgd_bitwise_equal_to_torch(kwargs, foreach):
    """torch's SGD runs its dense ops on a sparse gradient (the buffer is sparse and uncoalesced
    too); so do the generated kernels, beside a dense param in the same group: params and the
    sparse buffer's indices and values bit for bit after 25 steps."""
    gen = torch.Generator().manual_seed(9)
    w0, v0 = torch.randn(10, 3, generator=gen), torch.randn(4, generator=gen)
    a = [w0.clone().requires_grad_(True), v0.clone().requires_grad_(True)]
    b = [w0.clone().requires_grad_(True), v0.clone().requires_grad_(True)]
    kwargs = {"lr": 0.1, **kwargs}
    oa, ob = ours.SGD(a, foreach=foreach, **kwargs), torch.optim.SGD(b, foreach=foreach, **kwargs)
    for _ in range(25):
        rows = torch.randint(0, 10, (4,), generator=gen)
        g = torch.sparse_coo_tensor(rows.unsqueeze(0), torch.randn(4, 3, generator=gen), (10, 3), check_invariants=True)
        dense = torch.randn(4, generator=gen)
        a[0].grad, b[0].grad, a[1].grad, b[1].grad = g.clone(), g.clone(), dense.clone(), dense.clone()
        with torch.sparse.check_sparse_tensor_invariants():
            oa.step()
            ob.step()
    _assert_bitwise(a, oa, b, ob)
    if kwargs.get("momentum"):
        assert oa.state[a[0]]["momentum_buffer"].is_sparse


def test_sparse_sgd_with_weight_decay_raises_torchs_error():
    g = torch.sparse_coo_tensor(torch.tensor([[0]]), torch.ones(1, 2), (3, 2), check_invariants=True)
    for cls in (ours.SGD, torch.optim.SGD):
        p = torch.zeros(3, 2, requires_grad=True)
        opt = cls([p], lr=0.1, weight_decay=0.1)
        p.grad = g.clone()
        with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
            opt.step()


@pytest.mark.parametrize("rule", ["sgd", "adam", "adamw"])
def test_fused_is_accepted_as_torch_accepts_it_and_steps_bitwise_with_torchs_fused(rule):
    mine_cls, torch_cls = PAIRS[rule]
    for fused in (False, None):  # torch's non-fused paths: stepped as usual
        kwargs = {"momentum": 0.5} if rule == "sgd" else {"amsgrad": True}
        a, oa, b, ob = _twins(rule, kwargs, torch.float32)
        oa2 = mine_cls(a, fused=fused, **kwargs)
        ob2 = torch_cls(b, fused=fused, **kwargs)
        gen = torch.Generator().manual_seed(10)
        for _ in range(3):
            _step_both(a, oa2, b, ob2, gen)
        _assert_bitwise(a, oa2, b, ob2)
    for kwargs, message in (
        ({"foreach": True}, "`fused` and `foreach` cannot be `True` together."),
        ({"differentiable": True}, "`fused` does not support `differentiable`"),
    ):
        for cls in (mine_cls, torch_cls):
            with pytest.raises(RuntimeError, match=message):
                cls([torch.zeros(2, requires_grad=True)], fused=True, **kwargs)
    # torch's fused CPU kernels pair a param and its gradient by memory order (a transposed param
    # with a contiguous gradient is stepped with the wrong elements): contiguous params only
    kwargs = {"momentum": 0.5} if rule == "sgd" else {"amsgrad": True}
    base = [p.contiguous() for p in _params(torch.float32)]
    a, b = ([p.clone().requires_grad_(True) for p in base] for _ in range(2))
    oa, ob = mine_cls(a, fused=True, **kwargs), torch_cls(b, fused=True, **kwargs)  # the fused C kernels (symopt.fused)
    gen = torch.Generator().manual_seed(10)
    for _ in range(3):
        _step_both(a, oa, b, ob, gen)
    _assert_bitwise(a, oa, b, ob)


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize("rule", ["rmsprop", "adam", "adamw"])
def test_capturable_is_accepted_and_a_cpu_step_raises_torchs_own_error(rule, foreach):
    """capturable=True is a CUDA-graph option: torch accepts it at construction and its step
    raises on CPU params, after creating their state; so does symopt, with torch's message."""
    raised, states = [], []
    for cls in PAIRS[rule]:
        p = torch.zeros(3, requires_grad=True)
        opt = cls([p], capturable=True, foreach=foreach)
        p.grad = torch.ones(3)
        with pytest.raises(AssertionError) as info:
            opt.step()
        raised.append(str(info.value))
        states.append({k: (v.dtype, v.device, float(v.sum())) for k, v in opt.state[p].items()})
    assert (
        raised[0] == raised[1]
        and "If capturable=True, params and state_steps must be on supported devices" in raised[0]
    )
    assert states[0] == states[1] and "step" in states[0]


# -- Adam: decoupled weight decay, tensor betas -----------------------------------------------------
def _adam_decoupled(cls):
    return lambda params, **kw: cls(params, decoupled_weight_decay=True, **kw)


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
@pytest.mark.parametrize(
    "kwargs",
    [{"weight_decay": 0.1}, {"weight_decay": 0.1, "amsgrad": True, "maximize": True}, {"weight_decay": 2.0, "lr": 0.5}],
    ids=["wd", "wd-amsgrad-maximize", "lr*wd=1"],
)
def test_adam_decoupled_weight_decay_is_adamw_bitwise(kwargs, foreach):
    """Adam(decoupled_weight_decay=True) takes AdamW's kernel (w ← w(1 − ηλ) first), bit for bit
    with torch's, complex and 0-d params included, and keeps the flag in its param groups."""
    mine, theirs = _adam_decoupled(ours.Adam), _adam_decoupled(torch.optim.Adam)
    base = _params(torch.float32) + [torch.randn(5, generator=torch.Generator().manual_seed(3), dtype=torch.complex64)]
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    oa, ob = mine(a, foreach=foreach, **kwargs), theirs(b, foreach=foreach, **kwargs)
    gen = torch.Generator().manual_seed(11)
    for _ in range(40):
        _step_both(a, oa, b, ob, gen)
    _assert_bitwise(a, oa, b, ob)
    assert oa.state_dict()["param_groups"] == ob.state_dict()["param_groups"]


TENSOR_BETAS = [
    (torch.float32, torch.float32),
    (torch.float32, torch.float64),
    (torch.float64, torch.float32),
    (torch.bfloat16, torch.float32),
    (torch.float16, torch.float64),
]


@pytest.mark.parametrize("lr", [1e-2, torch.tensor(1e-2)], ids=["float lr", "tensor lr"])
@pytest.mark.parametrize("param_dtype,betas_dtype", TENSOR_BETAS, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("rule", ["adam", "adamw"])
def test_tensor_betas_bitwise_equal_to_torch(rule, param_dtype, betas_dtype, lr):
    """torch computes with tensor betas as tensors: the bias corrections and step size in the
    betas' dtype, β₁ moved to the param's dtype for lerp_, and (σ = √v / c₂ out of place) a 0-d
    param's denominator promoted to the betas' dtype. β = 0.3, 0.4: 1 − β is not exact there."""
    mine_cls, torch_cls = PAIRS[rule]
    betas = (torch.tensor([0.3], dtype=betas_dtype), torch.tensor(0.4, dtype=betas_dtype))
    kwargs = {"lr": lr, "betas": betas, "amsgrad": True, "weight_decay": 0.1}
    base = _params(param_dtype)
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    oa, ob = mine_cls(a, **kwargs), torch_cls(b, **kwargs)
    gen = torch.Generator().manual_seed(12)
    for step in range(30):
        _step_both(a, oa, b, ob, gen, skip_first=step % 7 == 3)
    _assert_bitwise(a, oa, b, ob)
    assert oa.param_groups[0]["betas"][0].dim() == 0  # torch's _to_scalar: one-element tensors squeezed to 0-d
    assert str(oa.state_dict()["param_groups"]) == str(ob.state_dict()["param_groups"])


@pytest.mark.parametrize("rule", ["adam", "adamw"])
def test_tensor_betas_with_foreach_raise_torchs_error(rule):
    betas = (torch.tensor(0.9), torch.tensor(0.999))
    for cls in PAIRS[rule]:
        with pytest.raises(
            ValueError, match=r"betas\[0\] as a Tensor is not supported for capturable=False and foreach=True"
        ):
            cls([torch.zeros(2, requires_grad=True)], betas=betas, foreach=True)
        with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
            cls([torch.zeros(2, requires_grad=True)], betas=(torch.tensor(0.9), 0.999))


# -- state_dicts saved by an older torch ------------------------------------------------------------
#: the param-group keys each torch.optim.__setstate__ fills for a state_dict that lacks them (read
#: from torch's own __setstate__); which values it fills is torch's to say: the tests load the
#: same state_dict into torch.optim and compare
OLDER_TORCH_MISSING = {
    "adagrad": ("foreach", "maximize", "differentiable", "fused"),
    "rmsprop": ("momentum", "centered", "foreach", "maximize", "differentiable", "capturable"),
    "adam": ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "decoupled_weight_decay", "fused"),
    "adamw": ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "decoupled_weight_decay", "fused"),
    "sgd": ("nesterov", "maximize", "foreach", "differentiable", "fused"),
}


@pytest.mark.parametrize("step_as", ["tensor", "float", "int"])
@pytest.mark.parametrize("rule", PAIRS)
def test_a_state_dict_from_an_older_torch_loads_as_torch_loads_it(rule, step_as):
    """Param groups without the newer flags, and (``float``/``int``) a ``step`` saved as a Python
    number, as older torch versions wrote them: symopt fills what torch's __setstate__ fills,
    turns the step into torch's tensor, and both continue bitwise."""
    kwargs = {"lr": 0.05} | ({"momentum": 0.5} if rule in ("sgd", "rmsprop") else {})
    a, oa, b, ob = _twins(rule, kwargs, torch.float32)
    gen = torch.Generator().manual_seed(13)
    for _ in range(5):
        _step_both(a, oa, b, ob, gen)
    saved = ob.state_dict()
    for group in saved["param_groups"]:
        for key in OLDER_TORCH_MISSING[rule]:
            del group[key]
    if step_as != "tensor":
        for st in saved["state"].values():
            if "step" in st:
                st["step"] = float(st["step"]) if step_as == "float" else int(st["step"])
    mine_cls, torch_cls = PAIRS[rule]
    a2 = [x.detach().clone().requires_grad_(True) for x in a]
    b2 = [y.detach().clone().requires_grad_(True) for y in b]
    oa2, ob2 = mine_cls(a2, **kwargs), torch_cls(b2, **kwargs)
    oa2.load_state_dict(copy.deepcopy(saved))
    ob2.load_state_dict(copy.deepcopy(saved))
    assert oa2.state_dict()["param_groups"] == ob2.state_dict()["param_groups"]
    _assert_bitwise(a2, oa2, b2, ob2)  # the loaded state, step tensors included
    for _ in range(5):
        _step_both(a2, oa2, b2, ob2, gen)
    _assert_bitwise(a2, oa2, b2, ob2)


def test_adamw_keeps_decoupled_weight_decay_when_a_state_dict_says_otherwise():
    a, oa, b, ob = _twins("adamw", {}, torch.float32)
    saved = torch.optim.Adam(b).state_dict()  # decoupled_weight_decay=False in its groups
    oa.load_state_dict(copy.deepcopy(saved))
    ob.load_state_dict(copy.deepcopy(saved))
    assert oa.param_groups[0]["decoupled_weight_decay"] is ob.param_groups[0]["decoupled_weight_decay"] is True
