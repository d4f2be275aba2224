"""timm's ``RMSpropTF`` (``timm/optim/rmsprop_tf.py``): TensorFlow's RMSProp in PyTorch —
ε inside the root, v_0 = 1, ``square_avg.add_(g² − square_avg, alpha=1 − α)``; η inside the
buffer unless ``lr_in_momentum=False``; weight decay coupled, or decoupled p ← p(1 − η λ) with
``decoupled_decay=True``. timm has no AdaGrad of its own (its factory returns torch's)."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="timm",
        framework="timm",
        source="timm/optim/rmsprop_tf.py (RMSpropTF, _single_tensor_rmsprop_tf)",
        conventions=dict(
            eps_placement="inside",
            initial_square_avg=1.0,
            ema_form="increment",
            momentum_lr="inside",
            momentum_lr_flag=True,
            decoupled_weight_decay_flag=True,
            maximize=False,
        ),
        arguments=(
            A("lr", "lr", 1e-2),
            A("alpha", "alpha", 0.9),
            A("eps", "eps", 1e-10),
            A("weight_decay", "weight_decay", 0.0),
            A("momentum", "momentum", 0.0),
            A("centered", "centered", False),
            A("decoupled_decay", "decoupled_decay", False),
            A("lr_in_momentum", "lr_in_momentum", True),
        ),
        calls=(Call(("timm.optim.RMSpropTF", "timm.optim.rmsprop_tf.RMSpropTF", "RMSpropTF"), hidden=("foreach",)),),
        notes="corrected_weight_decay and caution are not modelled.",
        verified="frameworks tier (timm 1.0.31's rmsprop_tf.py, loaded without timm's package imports)",
    ),
)
