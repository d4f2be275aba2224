"""``torch.compile`` of the drop-ins' ``step``: one graph and no graph break for every drop-in and
path, as torch.optim gives; the compiled result is compiled torch.optim's bit for bit; a tensor
``lr`` changed by an LR scheduler does not recompile; the fused C path is one custom-op node.

Expectations come from torch.optim compiled the same way (same model, inputs and backend). The
default (fast) set compiles with ``aot_eager`` where it compares results (dynamo's graph and AOT's
decompositions, without inductor's C++ build) and with inductor for the regression it guards
(Adam's silent wrong result) and one case per path; ``-m slow`` adds inductor for every drop-in,
path and option set, and ``explain`` after an eager step.

The regression: ``torch.compile(symopt.torch.Adam(params, foreach=False).step)`` was 0.024 (lr
1e-2) away from eager torch after 5 steps of a small MLP. The for-loop read each step with
``.item()`` (a graph break) and passed it to the kernel as a Python float; dynamo made that float
dynamic from its third value on, and the recompiled graph kept the step size −η/(1 − β₁^t) of
t = 2 (guarded while t was specialised, unguarded once dynamic): from t = 3 on, c₁ of step 2 with
c₂ of the true step. The step counter now reaches the kernels as torch's ``_get_value`` gives it
(the tensor itself under compile) and the step is one graph, so no number taken from a tensor can
be baked into a graph: a future ``.item()`` or ``float(tensor)`` would be a graph break, which
``test_explain_one_graph_no_break`` reports.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

import symopt.torch as st

#: torch's own imports while dynamo traces (not symopt's code) warn about torch.jit
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

NAMES = ("Adagrad", "RMSprop", "Adam", "AdamW", "SGD")
PATHS = [False, True]
PATH_IDS = ["for-loop", "foreach"]


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def model() -> torch.nn.Module:
    """A small MLP with four differently shaped params (the per-tensor kernel sees several shapes)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def loss_backward(m: torch.nn.Module, gen: torch.Generator) -> None:
    x = torch.randn(16, 4, generator=gen)
    m.zero_grad()
    m(x).pow(2).sum().backward()


def train(lib, name: str, kwargs: dict, *, steps: int = 4, warm: int = 0, backend: str = "aot_eager") -> dict:
    """``steps`` steps of ``lib.<name>`` on :func:`model`, the first ``warm`` eager and the rest
    through ``torch.compile(opt.step, backend=backend)``; the params and every state tensor by key."""
    m = model()
    opt = getattr(lib, name)(m.parameters(), **kwargs)
    step = torch.compile(opt.step, backend=backend)
    gen = torch.Generator().manual_seed(1)
    for k in range(steps):
        loss_backward(m, gen)
        (opt.step if k < warm else step)()
    out = {}
    for i, p in enumerate(m.parameters()):
        out[f"param {i}"] = p.detach().clone()
        for key, v in opt.state[p].items():
            if torch.is_tensor(v):
                out[f"state {i} {key}"] = v.detach().clone()
    return out


def differences(a: dict, b: dict) -> list[str]:
    """The entries that differ in keys, dtype, shape or bits (or are not finite)."""
    if a.keys() != b.keys():
        return [f"keys {sorted(a.keys() ^ b.keys())}"]
    return [
        k
        for k in a
        if not (
            a[k].dtype == b[k].dtype
            and a[k].shape == b[k].shape
            and bool(torch.isfinite(a[k]).all())
            and torch.equal(a[k], b[k])
        )
    ]


def explain(lib, name: str, kwargs: dict, eager_steps: int = 0) -> tuple[int, int, int]:
    """(graphs, graph breaks, ops in the graphs) of ``torch._dynamo.explain(opt.step)()``."""
    torch._dynamo.reset()
    m = model()
    opt = getattr(lib, name)(m.parameters(), **kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(eager_steps):
        loss_backward(m, gen)
        opt.step()
    loss_backward(m, gen)
    e = torch._dynamo.explain(opt.step)()
    return e.graph_count, e.graph_break_count, sum(len(ops) for ops in e.ops_per_graph)


# -- one graph, no break --------------------------------------------------------------------
#: symopt before this module (torch 2.13, this model): (graphs, breaks) per drop-in and path
BEFORE = {
    ("Adagrad", False): (4, 3),
    ("Adagrad", True): (1, 0),
    ("RMSprop", False): (5, 4),
    ("RMSprop", True): (5, 4),
    ("Adam", False): (8, 7),
    ("Adam", True): (5, 4),
    ("AdamW", False): (8, 7),
    ("AdamW", True): (5, 4),
    ("SGD", False): (1, 0),
    ("SGD", True): (1, 0),
}


@pytest.mark.parametrize("foreach", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_explain_one_graph_no_break(name, foreach):
    """As torch.optim gives (1, 0; compared in the slow test below): one graph, no break, at the
    first step (the state made in ``_init_group``, outside the graph)."""
    graphs, breaks, _ = explain(st, name, {"foreach": foreach})
    assert (graphs, breaks) == (1, 0), f"before: {BEFORE[name, foreach]}"


@pytest.mark.slow
@pytest.mark.parametrize("eager_steps", [0, 1], ids=["first-step", "after-an-eager-step"])
@pytest.mark.parametrize("foreach", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_explain_is_torchs(name, foreach, eager_steps):
    options = {"foreach": foreach, **({"momentum": 0.9} if name == "SGD" else {})}
    ours, theirs = explain(st, name, options, eager_steps), explain(torch.optim, name, options, eager_steps)
    assert ours[:2] == theirs[:2] == (1, 0)


# -- compiled = compiled torch, bit for bit ---------------------------------------------------
OPTIONS = {
    "Adagrad": [dict(lr=0.1, lr_decay=0.01, weight_decay=0.1), dict(lr=torch.tensor(0.1), maximize=True)],
    "RMSprop": [
        dict(momentum=0.9, centered=True),
        dict(lr=0.01, weight_decay=0.1, alpha=0.9),
        dict(lr=torch.tensor(0.01)),
        dict(lr=torch.tensor(0.01), momentum=0.9),
    ],
    "Adam": [dict(lr=0.01), dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)],
    "AdamW": [dict(lr=0.01), dict(lr=0.01, amsgrad=True)],
    "SGD": [
        dict(lr=0.1, momentum=0.9, nesterov=True),
        dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1),
        dict(lr=torch.tensor(0.1), momentum=0.9),
    ],
}
CASES = [(n, o, f) for n in NAMES for o in OPTIONS[n] for f in PATHS]
CASE_IDS = [f"{n}-{'+'.join(o)}-{'foreach' if f else 'for-loop'}" for n, o, f in CASES]


def fresh(options: dict) -> dict:
    """The options with tensor hyperparameters copied (each run gets its own, as a scheduler may
    change them in place)."""
    return {k: v.clone() if torch.is_tensor(v) else v for k, v in options.items()}


@pytest.mark.parametrize("name,options,foreach", CASES[::5], ids=CASE_IDS[::5])
def test_compiled_step_is_compiled_torch_bit_for_bit(name, options, foreach):
    """Compiled with dynamo and AOT (``aot_eager``): the params and every state tensor after 4
    compiled steps are torch.optim's compiled ones, bit for bit (a fifth of the cases; all of
    them, and inductor, in the slow tests)."""
    kwargs = {**options, "foreach": foreach}
    assert differences(train(st, name, fresh(kwargs)), train(torch.optim, name, fresh(kwargs))) == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
@pytest.mark.parametrize("name,options,foreach", CASES, ids=CASE_IDS)
def test_every_compiled_step_is_compiled_torch_bit_for_bit(name, options, foreach, backend):
    kwargs = {**options, "foreach": foreach}
    ours = train(st, name, fresh(kwargs), backend=backend)
    assert differences(ours, train(torch.optim, name, fresh(kwargs), backend=backend)) == []


@pytest.mark.parametrize(
    "warm", [1, pytest.param(0, marks=pytest.mark.slow)], ids=["after-an-eager-step", "compiled-from-the-start"]
)
def test_compiled_adam_for_loop_is_compiled_torch(warm):
    """The regression (inductor, lr 1e-2, 5 steps): bit for bit compiled torch.optim's; before,
    0.024 away after an eager first step (c₁ of step 2 baked into the recompiled graph)."""
    kwargs = dict(lr=1e-2, foreach=False)
    ours = train(st, "Adam", kwargs, steps=5, warm=warm, backend="inductor")
    theirs = train(torch.optim, "Adam", kwargs, steps=5, warm=warm, backend="inductor")
    assert differences(ours, theirs) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,options",
    [("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("Adam", dict(lr=0.01, amsgrad=True))],
    ids=["Adagrad", "Adam"],
)
def test_inductor_foreach_step_is_compiled_torch(name, options):
    """The multi-tensor path through inductor: Adam's is torch's capturable branch (dynamo makes
    the groups capturable while tracing), printed from the model as foreach ops on the steps."""
    kwargs = {**options, "foreach": True}
    ours = train(st, name, kwargs, steps=3, backend="inductor")
    assert differences(ours, train(torch.optim, name, kwargs, steps=3, backend="inductor")) == []


# -- no recompile when a scheduler changes a tensor lr --------------------------------------
class CountingBackend:
    """A dynamo backend that counts the graphs it is given (every compile and recompile)."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        return gm.forward


SCHEDULED = [("Adagrad", False), ("Adagrad", True), ("RMSprop", True), ("Adam", False), ("AdamW", False), ("SGD", True)]


def scheduled_graphs(lib, name: str, foreach: bool, steps: int = 6) -> tuple[int, list[float]]:
    torch._dynamo.reset()
    m = model()
    options = {"lr": torch.tensor(0.01), "foreach": foreach, **({"momentum": 0.9} if name == "SGD" else {})}
    opt = getattr(lib, name)(m.parameters(), **options)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    backend = CountingBackend()
    step = torch.compile(opt.step, backend=backend)
    gen = torch.Generator().manual_seed(1)
    lrs = []
    for _ in range(steps):
        loss_backward(m, gen)
        step()
        scheduler.step()
        lrs.append(float(opt.param_groups[0]["lr"]))
    return backend.graphs, lrs


@pytest.mark.parametrize(
    "name,foreach", SCHEDULED[:2], ids=[f"{n}-{'foreach' if f else 'for-loop'}" for n, f in SCHEDULED[:2]]
)
def test_a_scheduler_changing_a_tensor_lr_does_not_recompile(name, foreach):
    """StepLR halves a tensor lr in place at every step: one graph for six steps (torch's count;
    two for SGD, whose momentum buffers appear after the first, as in torch), and the lr did
    change."""
    ours, lrs = scheduled_graphs(st, name, foreach)
    theirs, torch_lrs = scheduled_graphs(torch.optim, name, foreach)
    assert ours == theirs == (2 if name == "SGD" else 1)
    assert lrs == torch_lrs and all(a > b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.slow
@pytest.mark.parametrize("name,foreach", SCHEDULED, ids=[f"{n}-{'foreach' if f else 'for-loop'}" for n, f in SCHEDULED])
def test_every_scheduler_case_is_torchs(name, foreach):
    assert scheduled_graphs(st, name, foreach)[0] == scheduled_graphs(torch.optim, name, foreach)[0]


# -- the fused C path under compile ---------------------------------------------------------
def test_fused_adagrad_under_compile_is_one_custom_op_and_torchs_fused_result():
    """``fused=True`` under compile: the C kernel is the custom op ``symopt::fused_step``, one node
    in the step's one graph (no break on its ctypes launch); the result after 3 compiled steps is
    compiled torch.optim's fused result bit for bit (both are ATen's fused kernel's numbers)."""
    from symopt import fused

    try:
        fused.kernel("adagrad")
    except fused.FusedUnavailable as exc:
        pytest.skip(f"no C kernels here: {exc}")
    kwargs = dict(lr=0.1, lr_decay=0.01, fused=True)
    graphs, breaks, _ = explain(st, "Adagrad", kwargs)
    assert (graphs, breaks) == (1, 0)
    m = model()
    opt = st.Adagrad(m.parameters(), **kwargs)
    loss_backward(m, torch.Generator().manual_seed(1))
    e = torch._dynamo.explain(opt.step)()
    assert any("symopt.fused_step" in str(op) for ops in e.ops_per_graph for op in ops)
    torch._dynamo.reset()
    assert differences(train(st, "Adagrad", kwargs, steps=3), train(torch.optim, "Adagrad", kwargs, steps=3)) == []


FUSED = [
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1)),
]


@pytest.mark.slow
@pytest.mark.parametrize("warm", [0, 1], ids=["first-step", "after-an-eager-step"])
@pytest.mark.parametrize("name,options", FUSED, ids=[f"{n}-{'+'.join(o)}" for n, o in FUSED])
def test_every_fused_step_under_compile_is_torchs(name, options, warm):
    """Every fused drop-in torch has on the CPU (SGD's momentum buffers made in the graph at the
    first step): one graph, no break; compiled = compiled torch.optim = eager torch.optim, bitwise."""
    from symopt import fused

    try:
        fused.kernel(name.lower())
    except fused.FusedUnavailable as exc:
        pytest.skip(f"no C kernels here: {exc}")
    kwargs = {**options, "fused": True}
    assert explain(st, name, kwargs, warm)[:2] == (1, 0)
    torch._dynamo.reset()
    ours = train(st, name, kwargs, warm=warm)
    torch._dynamo.reset()
    assert differences(ours, train(torch.optim, name, kwargs, warm=warm)) == []
    assert differences(ours, train(torch.optim, name, kwargs, warm=4)) == []
