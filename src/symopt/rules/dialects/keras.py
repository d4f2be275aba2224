"""Keras 3 (``keras.optimizers``; ``tf.keras`` in TensorFlow ≥ 2.16).

RMSprop (``keras/src/optimizers/rmsprop.py``, ``RMSprop.update_step``)::

    v ← ρ v + (1 − ρ) g²;  m ← ρ m + (1 − ρ) g            (centered)
    Δ ← η g / √(v − m² + ε)   (centered)   or   η g / √(v + ε)
    b ← μ b + Δ;  w ← w − b   (μ > 0)      or   w ← w − Δ

Adagrad (``keras/src/optimizers/adagrad.py``): G ← G + g², w ← w − η g / √(G + ε), G_0 = 0.1.
``weight_decay`` (``keras/src/optimizers/base_optimizer.py``, ``_apply_weight_decay``) is
decoupled and runs before the step: w ← w − w λ η.
"""

from . import Argument as A
from . import Call, Dialect

_HIDDEN = ("name",)

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="keras",
        framework="Keras 3",
        source="keras/src/optimizers/rmsprop.py (RMSprop.update_step); base_optimizer.py (_apply_weight_decay)",
        conventions=dict(
            eps_placement="inside",
            momentum_lr="inside",
            ema_form="scale_add",
            maximize=False,
            decoupled_weight_decay=True,
        ),
        arguments=(
            A("learning_rate", "lr", 1e-3),
            A("rho", "alpha", 0.9),
            A("momentum", "momentum", 0.0),
            A("epsilon", "eps", 1e-7),
            A("centered", "centered", False),
            A("weight_decay", "weight_decay", 0.0, none=0.0),
        ),
        calls=(Call(("keras.optimizers.RMSprop", "tf.keras.optimizers.RMSprop"), hidden=_HIDDEN),),
        states={"square_avg": "velocity", "grad_avg": "average_gradient", "momentum_buffer": "momentum"},
        verified="frameworks tier (keras 3 on TensorFlow)",
    ),
    Dialect(
        family="adagrad",
        name="keras",
        framework="Keras 3",
        source="keras/src/optimizers/adagrad.py (Adagrad.update_step); base_optimizer.py (_apply_weight_decay)",
        conventions=dict(eps_placement="inside", lr_decay="none", maximize=False, decoupled_weight_decay=True),
        arguments=(
            A("learning_rate", "lr", 1e-3),
            A("initial_accumulator_value", "initial_accumulator_value", 0.1),
            A("epsilon", "eps", 1e-7),
            A("weight_decay", "weight_decay", 0.0, none=0.0),
        ),
        calls=(Call(("keras.optimizers.Adagrad", "tf.keras.optimizers.Adagrad"), hidden=_HIDDEN),),
        states={"sum": "accumulator"},
        verified="frameworks tier (keras 3 on TensorFlow)",
    ),
)
