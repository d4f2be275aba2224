"""``grad_scale`` / ``found_inf`` with ``fused=True``, as torch's fused optimizers take them:
``GradScaler.step`` hands a fused optimizer (``_step_supports_amp_scaling``) its scale and the
found-inf flag instead of unscaling the gradients itself; the fused kernel divides each gradient
by the scale in place and steps, or does nothing when an inf was found (the step counters are
incremented and decremented back, as torch's ``_foreach_sub_(steps, found_inf)``).

Reference: torch.optim's own ``fused=True`` under the same GradScaler, bit for bit — params,
every state, the gradients left behind and the scaler's scale. A scale that is not a power of
two tells the in-kernel division from GradScaler's own unscale (a multiplication by the
float32 reciprocal), which the drop-ins did before."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from symopt.fused import launcher as flaunch
from symopt.torch import optim as symopt_optim

CLASSES = {"adagrad": "Adagrad", "sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
KW = {
    "adagrad": dict(lr=0.05, weight_decay=0.1),
    "sgd": dict(lr=0.05, momentum=0.9, nesterov=True),
    "adam": dict(lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": dict(lr=0.01, weight_decay=0.1),
}
STEPS = 6
INF_STEP = 3  # a gradient with an inf: GradScaler skips the step and halves its scale


@pytest.fixture
def launches(monkeypatch):
    seen: list[flaunch.LaunchPlan] = []
    real = flaunch.LaunchPlan.call

    def call(plan, *args, **kwargs):
        seen.append(plan)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(flaunch.LaunchPlan, "call", call)
    return seen


def _model(dtype, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 40), nn.Tanh(), nn.Linear(40, 3)).to(dtype)
    return model


def _train(opt_cls, family, dtype, init_scale, inf_step=INF_STEP):
    """STEPS steps of a GradScaler loop (scale, backward, step, update); at ``inf_step`` one
    gradient gets an inf. Returns the model, the optimizer, the gradients left after the last
    step and the scales after every update."""
    model = _model(dtype)
    opt = opt_cls(model.parameters(), fused=True, **KW[family])
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=2)
    gen = torch.Generator().manual_seed(7)
    scales = []
    for k in range(STEPS):
        x = torch.randn(16, 12, generator=gen).to(dtype)
        y = torch.randn(16, 3, generator=gen).to(dtype)
        opt.zero_grad()
        loss = ((model(x).float() - y.float()) ** 2).mean()
        scaler.scale(loss).backward()
        if k == inf_step:
            with torch.no_grad():
                next(model.parameters()).grad[0, 0] = float("inf")
        scaler.step(opt)
        scaler.update()
        scales.append(float(scaler.get_scale()))
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    return model, opt, grads, scales


def _assert_same(ref, mine):
    (m_a, o_a, g_a, s_a), (m_b, o_b, g_b, s_b) = ref, mine
    assert s_a == s_b
    for i, (x, y, gx, gy) in enumerate(zip(m_a.parameters(), m_b.parameters(), g_a, g_b)):
        assert torch.equal(x.detach(), y.detach()), f"param {i}"
        assert torch.equal(gx, gy), f"param {i}: the unscaled gradient left behind"
        assert set(o_a.state[x]) == set(o_b.state[y])
        for key, value in o_a.state[x].items():
            assert torch.equal(value, o_b.state[y][key]), f"param {i} state[{key!r}]"


@pytest.mark.parametrize("init_scale", [1000.0, 2.0**16], ids=["scale 1000", "scale 2^16"])
@pytest.mark.parametrize("family", CLASSES)
def test_grad_scaler_with_fused_bitwise_with_torch_fused(family, init_scale, launches):
    cls = CLASSES[family]
    ref = _train(getattr(torch.optim, cls), family, torch.float32, init_scale)
    mine = _train(getattr(symopt_optim, cls), family, torch.float32, init_scale)
    _assert_same(ref, mine)
    assert mine[1]._step_supports_amp_scaling
    assert len(launches) == STEPS - 1  # the inf step launches nothing
    assert ref[3][INF_STEP] == ref[3][INF_STEP - 1] / 2  # the scenario: GradScaler saw the inf


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("family", ["adagrad", "adam", "adamw"])
def test_grad_scaler_with_fused_in_low_precision(family, dtype):
    cls = CLASSES[family]
    ref = _train(getattr(torch.optim, cls), family, dtype, 1000.0)
    mine = _train(getattr(symopt_optim, cls), family, dtype, 1000.0)
    _assert_same(ref, mine)


@pytest.mark.parametrize("family", CLASSES)
def test_found_inf_skips_the_step_and_leaves_the_counters(family, launches):
    """torch's keywords set by hand, as GradScaler sets them: found_inf = 1 changes nothing (the
    step counters go up and back down); found_inf = 0 steps with the gradients divided by the
    scale, in place."""
    cls = CLASSES[family]
    gen = torch.Generator().manual_seed(3)
    base = [torch.randn(37, 3, generator=gen), torch.randn(1003, generator=gen)]
    grads = [torch.randn(p.shape, generator=gen) * 300 for p in base]
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    ref, mine = (
        getattr(torch.optim, cls)(a, fused=True, **KW[family]),
        getattr(symopt_optim, cls)(b, fused=True, **KW[family]),
    )
    for k, inf in enumerate([0.0, 1.0, 0.0, 1.0, 1.0, 0.0]):
        for opt, params in ((ref, a), (mine, b)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.grad_scale = torch.tensor(300.0 + k)
            opt.found_inf = torch.tensor(inf)
            opt.step()
            del opt.grad_scale, opt.found_inf
        for x, y in zip(a, b):
            assert torch.equal(x.detach(), y.detach()) and torch.equal(x.grad, y.grad), k
            for key, value in ref.state[x].items():
                assert torch.equal(value, mine.state[y][key]), (k, key)
    assert len(launches) == 3
