"""Sonnet 2 (``sonnet/src/optimizers/rmsprop.py``): TF's kernels' algebra in Python — ε inside
the root, η inside the momentum buffer, ms starting at 0, centered √(ms − mg² + ε). Sonnet 2 has
no Adagrad."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="sonnet",
        framework="Sonnet 2",
        source="sonnet/src/optimizers/rmsprop.py (RMSProp.apply)",
        conventions=dict(
            eps_placement="inside", momentum_lr="inside", ema_form="scale_add", maximize=False, weight_decay="none"
        ),
        arguments=(
            A("learning_rate", "lr", None),
            A("decay", "alpha", 0.9),
            A("momentum", "momentum", 0.0),
            A("epsilon", "eps", 1e-10),
            A("centered", "centered", False),
        ),
        calls=(Call(("snt.optimizers.RMSProp", "sonnet.optimizers.RMSProp"), hidden=("name",)),),
        states={"square_avg": "ms", "grad_avg": "mg", "momentum_buffer": "mom"},
        verified="frameworks tier (dm-sonnet 2.0.2 on TensorFlow 2.21)",
    ),
)
