"""MXNet 2.0 (``python/mxnet/optimizer/rmsprop.py``, ``adagrad.py``;
``src/operator/optimizer_op-inl.h``): RMSProp non-centered is ε outside, w ← w − η g/(√v + ε),
with no momentum (``momentum`` only reaches the centered kernel); AdaGrad ε outside; weight decay
coupled (g ← g + λ w, after ``rescale_grad``). ``centered=True`` switches the whole update — ε
inside the root, momentum (default 0.9) with η inside the buffer: n ← (1 − ρ)g² + ρn,
m ← (1 − ρ)g + ρm, δ ← μδ − η g/√(n − m² + ε), w ← w + δ (``RMSPropAlexUpdate``) — so it is a
second dialect, ``mxnet-centered``, on the same call: ``centered`` chooses between them.
MXNet 1.9.1 (the last release) has no wheel for Python 3.11: facts from the source.
"""

from . import Argument as A
from . import Call, Dialect

#: ``RMSProp.__init__``'s positional order (``wd`` and the rest are keywords of the base class)
_RMSPROP_SIGNATURE = ("learning_rate", "rho", "momentum", "epsilon", "centered")
_NOT_HERE = "not installable here (mxnet 1.9.1 has no Python 3.11 wheel; 2.0 was never released to PyPI)"

DIALECTS = (
    Dialect(
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
    ),
    Dialect(
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
    ),
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
)
