"""MXNet 2.0 (``python/mxnet/optimizer/rmsprop.py``, ``adagrad.py``;
``src/operator/optimizer_op-inl.h``): RMSProp non-centered is ε outside, w ← w − η g/(√v + ε),
with no momentum (``momentum`` only reaches the centered kernel); AdaGrad ε outside; weight decay
coupled (g ← g + λ w, after ``rescale_grad``). Centered RMSProp (ε inside, η inside the buffer)
is not modelled as this dialect: its momentum exists only when centered, a switch of the whole
update the conventions do not express; it is the ``tf-raw`` centered kernel with MXNet's names.
MXNet 1.9.1 (the last release) has no wheel for Python 3.11: facts from the source.
"""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here (mxnet 1.9.1 has no Python 3.11 wheel; 2.0 was never released to PyPI)"

DIALECTS = (
    Dialect(
        family="rmsprop", name="mxnet", framework="MXNet 2.0",
        source="python/mxnet/optimizer/rmsprop.py (RMSProp.step, centered=False); optimizer_op-inl.h (RMSPropUpdate)",
        conventions=dict(eps_placement="outside", ema_form="scale_add", centering="never", momentum_form="none",
                         maximize=False),
        arguments=(A("learning_rate", "lr", 0.001), A("rho", "alpha", 0.9), A("epsilon", "eps", 1e-8),
                   A("wd", "weight_decay", 0.0)),
        calls=(Call(("mxnet.optimizer.RMSProp", "mx.optimizer.RMSProp"), set={"centered": False},
                    hidden=("momentum", "clip_weights", "use_fused_step")),),
        notes="centered=True is not modelled here; momentum has no effect when not centered.",
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad", name="mxnet", framework="MXNet 2.0",
        source="python/mxnet/optimizer/adagrad.py (AdaGrad.step)",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False),
        arguments=(A("learning_rate", "lr", 0.01), A("epsilon", "eps", 1e-6), A("wd", "weight_decay", 0.0)),
        calls=(Call(("mxnet.optimizer.AdaGrad", "mx.optimizer.AdaGrad"), hidden=("use_fused_step",)),),
        verified=_NOT_HERE,
    ),
)
