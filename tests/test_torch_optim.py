"""symopt.torch.Adagrad / RMSprop / Adam as drop-ins for torch.optim: same signature, validation,
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
}
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
    places; every other element the same bits (so -0.0 differs from 0.0)."""
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), (what, type(x), type(y))
    assert (x.dtype, x.shape, x.stride()) == (y.dtype, y.shape, y.stride()), (what, x.dtype, y.dtype, x.shape, y.shape, x.stride(), y.stride())
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
    if foreach and isinstance(case.math_kwargs.get("lr"), torch.Tensor) and rule == "adam":
        pytest.skip("torch.optim.Adam refuses a tensor lr with foreach=True (tested in test_torchs_error_inputs)")
    a, oa, b, ob = _twins(rule, case.math_kwargs, dtype, foreach=foreach)
    gen = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        _step_both(a, oa, b, ob, gen, skip_first=step % 7 == 3)  # a param without grad on some steps
    _assert_bitwise(a, oa, b, ob)


@pytest.mark.parametrize("rule", PAIRS)
def test_same_signature_as_torch(rule):
    mine, theirs = (inspect.signature(c.__init__).parameters for c in PAIRS[rule])
    assert [(p.name, p.default, p.kind) for p in mine.values()] == [(p.name, p.default, p.kind) for p in theirs.values()]


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
    if foreach and rule == "adam":
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


UNSUPPORTED = [(r, {"differentiable": True}) for r in PAIRS] + [
    ("rmsprop", {"capturable": True}), ("adam", {"fused": True}),
    ("adam", {"capturable": True}), ("adam", {"decoupled_weight_decay": True}),
    ("adam", {"betas": (torch.tensor(0.9), torch.tensor(0.999))}),
]


@pytest.mark.parametrize("rule,option", UNSUPPORTED, ids=[f"{r}-{next(iter(o))}" for r, o in UNSUPPORTED])
def test_unsupported_code_paths_are_refused_clearly(rule, option):
    with pytest.raises(ValueError, match="symopt.torch"):
        PAIRS[rule][0]([torch.zeros(2, requires_grad=True)], **option)


@pytest.mark.parametrize("foreach", FOREACH, ids=["for-loop", "foreach"])
def test_sparse_adagrad_matches_torch(foreach):
    gen = torch.Generator().manual_seed(5)
    w0 = torch.randn(10, 3, generator=gen)
    a, b = w0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    oa, ob = ours.Adagrad([a], lr=0.1, foreach=foreach), torch.optim.Adagrad([b], lr=0.1, foreach=foreach)
    for _ in range(20):
        rows = torch.randint(0, 10, (4,), generator=gen)
        values = torch.randn(4, 3, generator=gen)
        g = torch.sparse_coo_tensor(rows.unsqueeze(0), values, (10, 3), check_invariants=True)
        a.grad, b.grad = g.clone(), g.clone()
        oa.step()
        with torch.sparse.check_sparse_tensor_invariants():  # torch's own sparse path warns otherwise
            ob.step()
    # torch's sparse path rounds g² and then the sum (pow, add_), and w + (-clr)·(g/σ); the dense
    # kernel's addcmul_ fuses g·g into the sum (one rounding) and addcdiv_ computes w + (-clr·g)/σ.
    # Each step is a few roundings apart; over 20 steps that stays within 8 float32 epsilons.
    eps32 = torch.finfo(torch.float32).eps
    torch.testing.assert_close(a, b, rtol=8 * eps32, atol=0)
    torch.testing.assert_close(oa.state[a]["sum"], ob.state[b]["sum"], rtol=8 * eps32, atol=0)
    assert not torch.equal(oa.state[a]["sum"], ob.state[b]["sum"])  # the known, explained difference


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
