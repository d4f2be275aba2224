"""TensorFlow: tf.keras 2's legacy optimizers (``tf_keras.optimizers.legacy``, OptimizerV2), TF1's
``tf.compat.v1.train`` and the raw kernels (``tf.raw_ops.Apply*``,
``tensorflow/core/kernels/training_ops.cc``).

Kernels: ``ApplyRMSProp``: ms ← ms + (g² − ms)(1 − ρ); mom ← μ mom + η g/√(ms + ε); w ← w − mom
(``ApplyCenteredRMSProp``: mg ← mg + (g − mg)(1 − ρ), √(ms − mg² + ε)); ``ApplyAdagradV2``:
accum ← accum + g², w ← w − η g/(√accum + ε); ``ApplyAdagrad``: w ← w − η g/√accum (no ε).

tf.keras 2's legacy RMSprop computes √v + ε itself when μ = 0 and calls the kernels (ε inside)
when μ > 0 (``tf_keras/src/optimizers/legacy/rmsprop.py``, ``_resource_apply_dense``); its ``decay``
is inverse-time decay η/(1 + decay·(t − 1)) (``optimizer_v2.py``, ``_decayed_lr``); ``epsilon=0``
becomes 1e-7 (``epsilon or backend_config.epsilon()``). TF1's ``RMSPropOptimizer`` starts ms at
ones (``tensorflow/python/training/rmsprop.py``, ``_create_slots``).
"""

from . import Argument as A
from . import Call, Dialect

_V1 = ("use_locking", "name")

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="tf-keras-legacy",
        framework="tf.keras 2 (OptimizerV2)",
        source="tf_keras/src/optimizers/legacy/rmsprop.py (_resource_apply_dense)",
        conventions=dict(
            eps_placement="outside",
            eps_placement_momentum="inside",
            momentum_lr="inside",
            ema_form="scale_add",
            lr_decay="torch",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("learning_rate", "lr", 1e-3),
            A("rho", "alpha", 0.9),
            A("momentum", "momentum", 0.0),
            A("epsilon", "eps", 1e-7),
            A("centered", "centered", False),
            A("decay", "lr_decay", 0.0),
        ),
        calls=(
            Call(
                (
                    "tf.keras.optimizers.legacy.RMSprop",
                    "tf_keras.optimizers.legacy.RMSprop",
                    "tf.compat.v1.keras.optimizers.RMSprop",
                ),
                hidden=("name",),
            ),
        ),
        states={"square_avg": "rms", "grad_avg": "mg", "momentum_buffer": "momentum"},
        notes="epsilon=0 is replaced by 1e-7 (epsilon or backend_config.epsilon()).",
        verified="frameworks tier (tf_keras 2.21)",
    ),
    Dialect(
        family="adagrad",
        name="tf-keras-legacy",
        framework="tf.keras 2 (OptimizerV2)",
        source="tf_keras/src/optimizers/legacy/adagrad.py (kernel ResourceApplyAdagradV2)",
        conventions=dict(eps_placement="outside", lr_decay="torch", maximize=False, weight_decay="none"),
        arguments=(
            A("learning_rate", "lr", 1e-3),
            A("initial_accumulator_value", "initial_accumulator_value", 0.1),
            A("epsilon", "eps", 1e-7),
            A("decay", "lr_decay", 0.0),
        ),
        calls=(
            Call(
                (
                    "tf.keras.optimizers.legacy.Adagrad",
                    "tf_keras.optimizers.legacy.Adagrad",
                    "tf.compat.v1.keras.optimizers.Adagrad",
                ),
                hidden=("name",),
            ),
        ),
        states={"sum": "accumulator"},
        notes="epsilon=0 is replaced by 1e-7.",
        verified="frameworks tier (tf_keras 2.21)",
    ),
    Dialect(
        family="rmsprop",
        name="tf1",
        framework="TensorFlow 1 (tf.compat.v1.train)",
        source="tensorflow/python/training/rmsprop.py (RMSPropOptimizer; kernels ApplyRMSProp/ApplyCenteredRMSProp)",
        conventions=dict(
            eps_placement="inside",
            initial_square_avg=1.0,
            momentum_lr="inside",
            ema_form="increment",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("learning_rate", "lr", None),
            A("decay", "alpha", 0.9),
            A("momentum", "momentum", 0.0),
            A("epsilon", "eps", 1e-10),
            A("centered", "centered", False),
        ),
        calls=(Call(("tf.compat.v1.train.RMSPropOptimizer", "tf.train.RMSPropOptimizer"), hidden=_V1),),
        states={"square_avg": "rms", "grad_avg": "mg", "momentum_buffer": "momentum"},
        notes="ms starts at 1 (ones_initializer); the momentum slot exists even for momentum=0.",
        verified="frameworks tier (tf.compat.v1 in TensorFlow 2.21, graph mode)",
    ),
    Dialect(
        family="adagrad",
        name="tf1",
        framework="TensorFlow 1 (tf.compat.v1.train)",
        source="tensorflow/python/training/adagrad.py (AdagradOptimizer; kernel ApplyAdagrad)",
        conventions=dict(eps_placement="none", lr_decay="none", maximize=False, weight_decay="none"),
        arguments=(A("learning_rate", "lr", None), A("initial_accumulator_value", "initial_accumulator_value", 0.1)),
        calls=(Call(("tf.compat.v1.train.AdagradOptimizer", "tf.train.AdagradOptimizer"), hidden=_V1),),
        states={"sum": "accumulator"},
        notes="no epsilon at all: initial_accumulator_value must be > 0.",
        verified="frameworks tier (tf.compat.v1 in TensorFlow 2.21, graph mode)",
    ),
    Dialect(
        family="rmsprop",
        name="tf-raw",
        framework="TensorFlow kernels (tf.raw_ops)",
        source="tensorflow/core/kernels/training_ops.cc (ApplyRMSProp, ApplyCenteredRMSProp)",
        conventions=dict(
            eps_placement="inside",
            initial_square_avg=None,
            momentum_lr="inside",
            ema_form="increment",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("lr", "lr", None),
            A("rho", "alpha", None),
            A("momentum", "momentum", None),
            A("epsilon", "eps", None),
            A("ms", "initial_scale", 0.0, "the ms tensor the caller passes first"),
            A("centered", "centered", False),
        ),
        calls=(
            Call(
                ("tf.raw_ops.ApplyRMSProp", "tf.raw_ops.ResourceApplyRMSProp"),
                set={"centered": False},
                hidden=("use_locking", "var", "mom", "grad"),
            ),
            Call(
                ("tf.raw_ops.ApplyCenteredRMSProp", "tf.raw_ops.ResourceApplyCenteredRMSProp"),
                set={"centered": True},
                hidden=("use_locking", "var", "mg", "mom", "grad"),
            ),
        ),
        states={"square_avg": "ms", "grad_avg": "mg", "momentum_buffer": "mom"},
        notes="the kernels always keep mom (momentum=0: mom = η g/σ, the same parameter path).",
        verified="frameworks tier (tf.raw_ops in TensorFlow 2.21)",
    ),
    Dialect(
        family="adagrad",
        name="tf-raw",
        framework="TensorFlow kernels (tf.raw_ops)",
        source="tensorflow/core/kernels/training_ops.cc (ApplyAdagradV2)",
        conventions=dict(eps_placement="outside", lr_decay="none", maximize=False, weight_decay="none"),
        arguments=(
            A("lr", "lr", None),
            A("epsilon", "eps", None),
            A("accum", "initial_accumulator_value", 0.0, "the accum tensor the caller passes first"),
        ),
        calls=(
            Call(
                ("tf.raw_ops.ApplyAdagradV2", "tf.raw_ops.ResourceApplyAdagradV2"),
                hidden=("use_locking", "update_slots", "var", "grad"),
            ),
        ),
        states={"sum": "accum"},
        notes="ApplyAdagrad (no epsilon) is TF1's AdagradOptimizer (dialect tf1).",
        verified="frameworks tier (tf.raw_ops in TensorFlow 2.21)",
    ),
)
