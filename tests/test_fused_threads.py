"""How many threads a fused launch uses (symopt.fused.launcher.ThreadChoice): the team or one
thread, whichever the plan's own measured launches say is faster, trying the other now and then;
and the choice changes no bit of the result. The times here are given, not measured: no test
asserts a timing."""

from __future__ import annotations

import torch

from symopt.fused import launcher as flaunch
from symopt.torch import optim as symopt_optim


def _run(choice: flaunch.ThreadChoice, team: int, cost: dict[int, float], launches: int) -> list[int]:
    picked = []
    for _ in range(launches):
        t = choice.pick(team)
        picked.append(t)
        choice.record(t, cost[t])
    return picked


def test_a_stalling_team_gives_way_to_one_thread_and_is_tried_again():
    choice = flaunch.ThreadChoice()
    picked = _run(choice, 2, {2: 8e-3, 1: 3e-4}, 200)  # the team waits a time slice at its barrier
    assert sorted(set(picked[: 2 * choice.WINDOW])) == [1, 2]  # both measured first
    steady = picked[2 * choice.WINDOW :]
    assert steady.count(1) > 0.9 * len(steady) and 2 in steady  # one thread, the team explored
    # the load goes away: the team is faster again and is taken back within a window of tries
    picked = _run(choice, 2, {2: 1e-4, 1: 3e-4}, 400)
    assert picked[-100:].count(2) > 90


def test_a_fast_team_keeps_the_team_and_a_team_of_one_is_one():
    choice = flaunch.ThreadChoice()
    picked = _run(choice, 4, {4: 1e-4, 1: 4e-4}, 300)
    assert picked[-200:].count(4) > 180
    assert _run(flaunch.ThreadChoice(), 1, {1: 1.0}, 5) == [1] * 5
    # another team (torch.set_num_threads) is measured anew
    assert _run(choice, 2, {2: 1e-4, 1: 4e-4}, 2 * choice.WINDOW).count(1) == choice.WINDOW


def test_the_thread_count_changes_no_bit(monkeypatch):
    """Two launches of every other step with one thread, the others with the team: bitwise
    torch's fused Adam all the same (every element is computed by one thread either way)."""
    calls = []
    real = flaunch.ThreadChoice.pick

    def alternate(self, team):
        real(self, team)
        calls.append(len(calls) % 2 + 1)
        return calls[-1]

    monkeypatch.setattr(flaunch.ThreadChoice, "pick", alternate)
    gen = torch.Generator().manual_seed(5)
    base = [torch.randn(200_003, generator=gen), torch.randn(77, generator=gen)]
    a = [p.clone().requires_grad_(True) for p in base]
    b = [p.clone().requires_grad_(True) for p in base]
    ref, mine = torch.optim.Adam(a, lr=1e-2, fused=True), symopt_optim.Adam(b, lr=1e-2, fused=True)
    for _ in range(6):
        grads = [torch.randn(p.shape, generator=gen) for p in base]
        for x, y, g in zip(a, b, grads):
            x.grad, y.grad = g.clone(), g.clone()
        ref.step()
        mine.step()
    assert calls == [1, 2] * 3
    for x, y in zip(a, b):
        assert torch.equal(x.detach(), y.detach())
        assert all(torch.equal(v, mine.state[y][k]) for k, v in ref.state[x].items())
