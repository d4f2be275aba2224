"""stable-baselines3's ``RMSpropTFLike`` (``stable_baselines3/common/sb2_compat/rmsprop_tf_like.py``):
TF's RMSProp for A2C — ε inside the root, v_0 = 1 — but with η *outside* the momentum buffer as
torch (b ← μ b + g/σ, w ← w − η b); coupled weight decay."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="sb3",
        framework="stable-baselines3",
        source="stable_baselines3/common/sb2_compat/rmsprop_tf_like.py (RMSpropTFLike.step)",
        conventions=dict(
            eps_placement="inside", initial_square_avg=1.0, ema_form="scale_add", momentum_lr="outside", maximize=False
        ),
        arguments=(
            A("lr", "lr", 1e-2),
            A("alpha", "alpha", 0.99),
            A("eps", "eps", 1e-8),
            A("weight_decay", "weight_decay", 0.0),
            A("momentum", "momentum", 0.0),
            A("centered", "centered", False),
        ),
        calls=(Call(("stable_baselines3.common.sb2_compat.rmsprop_tf_like.RMSpropTFLike", "RMSpropTFLike")),),
        verified="frameworks tier (stable-baselines3 2.9.2's rmsprop_tf_like.py, loaded without its package imports)",
    ),
)
