"""MXNet 2.0 (``python/mxnet/optimizer/rmsprop.py``, ``adagrad.py``;
``src/operator/optimizer_op-inl.h``): RMSProp non-centered is ε outside, w ← w − η g/(√v + ε),
with no momentum (``momentum`` only reaches the centered kernel); AdaGrad ε outside; weight decay
coupled (g ← g + λ w, after ``rescale_grad``). ``centered=True`` switches the whole update — ε
inside the root, momentum (default 0.9) with η inside the buffer: n ← (1 − ρ)g² + ρn,
m ← (1 − ρ)g + ρm, δ ← μδ − η g/√(n − m² + ε), w ← w + δ (``RMSPropAlexUpdate``) — so it is a
second dialect, ``mxnet-centered``, on the same call: ``centered`` chooses between them.

MXNet 1.x (``python/mxnet/optimizer/optimizer.py`` of 1.9.1, the last release) writes both on
the same calls with other keywords and other conventions: RMSProp ``gamma1``/``gamma2`` with ε
*inside* the root in the plain update too (``rmsprop_update``: w ← w − η g/√(n + ε)), the centered
one as 2.0's (``rmspropalex_update``, momentum ``gamma2``); AdaGrad ``eps`` inside the root and a
decoupled weight decay, ``w += (g/√(h + ε) + λ w)·(−η)``. They are the dialects ``mxnet1`` and
``mxnet1-centered``, chosen by the keywords a call uses (``gamma1``, ``gamma2``, ``eps``); a call
that names none of them is MXNet 2.0's. MXNet 1.9.1 has no wheel for Python 3.11: the facts are
read from its ``optimizer.py`` (``AdaGrad.update``: ``history[:] += square(grad); div = grad /
sqrt(history + self.float_stable_eps); weight[:] += (div + weight * wd) * -lr``; ``RMSProp.__init__
(learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8, centered=False, clip_weights=None)``),
the kernels from their documented updates, and checked by the tests' hand-typed steps, not by a run.
"""

from dataclasses import replace

from . import Argument as A
from . import Call, Dialect

#: ``RMSProp.__init__``'s positional order (``wd`` and the rest are keywords of the base class)
_RMSPROP_SIGNATURE = ("learning_rate", "rho", "momentum", "epsilon", "centered")
_NOT_HERE = "not installable here (mxnet 1.9.1 has no Python 3.11 wheel; 2.0 was never released to PyPI)"
#: MXNet 1.x's ``RMSProp.__init__`` order
_RMSPROP1_SIGNATURE = ("learning_rate", "gamma1", "gamma2", "epsilon", "centered")
_SOURCE1 = "python/mxnet/optimizer/optimizer.py of 1.9.1"

_PLAIN = Dialect(
    family="rmsprop",
    name="mxnet",
    framework="MXNet 2.0",
    source="python/mxnet/optimizer/rmsprop.py (RMSProp.step, centered=False); optimizer_op-inl.h (RMSPropUpdate)",
    conventions=dict(
        eps_placement="outside", ema_form="scale_add", centering="never", momentum_form="none", maximize=False
    ),
    arguments=(
        A("learning_rate", "lr", 0.001),
        A("rho", "alpha", 0.9),
        A("epsilon", "eps", 1e-8),
        A("wd", "weight_decay", 0.0),
    ),
    calls=(
        Call(
            ("mxnet.optimizer.RMSProp", "mx.optimizer.RMSProp"),
            set={"centered": False},
            hidden=("momentum", "clip_weights", "use_fused_step"),
            signature=_RMSPROP_SIGNATURE,
        ),
    ),
    notes="momentum has no effect when not centered; centered=True is the dialect mxnet-centered.",
    verified=_NOT_HERE,
)
_CENTERED = Dialect(
    family="rmsprop",
    name="mxnet-centered",
    framework="MXNet 2.0",
    source="python/mxnet/optimizer/rmsprop.py (RMSProp.step, centered=True); optimizer_op-inl.h (RMSPropAlexUpdate)",
    conventions=dict(
        eps_placement="inside", centering="always", ema_form="scale_add", momentum_lr="inside", maximize=False
    ),
    arguments=(
        A("learning_rate", "lr", 0.001),
        A("rho", "alpha", 0.9),
        A("momentum", "momentum", 0.9),
        A("epsilon", "eps", 1e-8),
        A("wd", "weight_decay", 0.0),
    ),
    calls=(
        Call(
            ("mxnet.optimizer.RMSProp", "mx.optimizer.RMSProp"),
            set={"centered": True},
            hidden=("clip_weights", "use_fused_step"),
            signature=_RMSPROP_SIGNATURE,
        ),
    ),
    states={"square_avg": "n", "grad_avg": "g", "momentum_buffer": "delta"},
    notes="MXNet's delta is -b (it adds delta to the weight).",
    verified=_NOT_HERE,
)


def _version1(
    dialect: Dialect, name: str, update: str, *, hidden: tuple[str, ...], notes: str, **conventions
) -> Dialect:
    """MXNet 1.x's RMSProp from 2.0's: the same update but for ``conventions``, with 1.x's keywords
    (``gamma1`` for ``rho``, ``gamma2`` for ``momentum``) in 1.x's positional order."""
    keywords = {"rho": "gamma1", "momentum": "gamma2"}
    return replace(
        dialect,
        name=name,
        framework="MXNet 1.x",
        source=f"{_SOURCE1} (RMSProp.update, centered={dialect.calls[0].set['centered']}); "
        f"src/operator/optimizer_op-inl.h ({update})",
        conventions={**dialect.conventions, **conventions},
        arguments=tuple(replace(a, name=keywords.get(a.name, a.name)) for a in dialect.arguments),
        calls=tuple(replace(c, hidden=hidden, signature=_RMSPROP1_SIGNATURE) for c in dialect.calls),
        notes=notes,
    )


DIALECTS = (
    _PLAIN,
    _CENTERED,
    _version1(
        _PLAIN,
        "mxnet1",
        "RMSPropUpdate",
        hidden=("gamma2", "clip_weights"),
        notes="MXNet 1.x: ε inside the root (2.0: outside) when not centered; gamma2 (momentum) has no effect then.",
        eps_placement="inside",
    ),
    _version1(_CENTERED, "mxnet1-centered", "RMSPropAlexUpdate", hidden=("clip_weights",), notes=""),
    Dialect(
        family="adagrad",
        name="mxnet",
        framework="MXNet 2.0",
        source="python/mxnet/optimizer/adagrad.py (AdaGrad.step)",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False),
        arguments=(A("learning_rate", "lr", 0.01), A("epsilon", "eps", 1e-6), A("wd", "weight_decay", 0.0)),
        calls=(Call(("mxnet.optimizer.AdaGrad", "mx.optimizer.AdaGrad"), hidden=("use_fused_step",)),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad",
        name="mxnet1",
        framework="MXNet 1.x",
        source=f"{_SOURCE1} (AdaGrad.update)",
        conventions=dict(
            eps_placement="inside",
            initial_accumulator=0.0,
            lr_decay="none",
            maximize=False,
            decoupled_weight_decay=True,
        ),
        arguments=(A("learning_rate", "lr", 0.01), A("eps", "eps", 1e-7), A("wd", "weight_decay", 0.0)),
        calls=(Call(("mxnet.optimizer.AdaGrad", "mx.optimizer.AdaGrad")),),
        notes="MXNet 1.x: ε inside the root (2.0: outside, 1e-6) and the weight decay decoupled, "
        "w += (g/√(h + ε) + λw)·(−η) (2.0: coupled).",
        verified=_NOT_HERE,
    ),
)
