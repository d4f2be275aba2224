"""optax (``optax/_src/alias.py``: ``rmsprop``, ``adagrad``; ``optax/_src/transform.py``).

``rmsprop`` = chain(``scale_by_rms`` or ``scale_by_stddev`` (centered), ``scale_by_learning_rate``,
``trace(momentum, nesterov)`` when momentum is not None): η enters before the momentum buffer;
``bias_correction`` divides ν (and μ) by 1 − ρᵗ; ``eps_in_sqrt=False`` gives 1/(√ν + ε).
``adagrad`` = chain(``scale_by_rss``, lr): G ← G + g², ``where(G > 0, rsqrt(G + ε), 0)``·g.
"""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="optax",
        framework="optax",
        source="optax/_src/alias.py (rmsprop); optax/_src/transform.py (scale_by_rms, scale_by_stddev, trace)",
        conventions=dict(
            eps_placement="inside",
            eps_in_sqrt_flag=True,
            initial_square_avg=None,
            ema_form="scale_add",
            momentum_lr="inside",
            nesterov=True,
            bias_correction_flag=True,
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("learning_rate", "lr", None),
            A("decay", "alpha", 0.9),
            A("eps", "eps", 1e-8),
            A("initial_scale", "initial_scale", 0.0),
            A("eps_in_sqrt", "eps_in_sqrt", True),
            A("centered", "centered", False),
            A("momentum", "momentum", 0.0, "None: no trace", none=0.0),
            A("nesterov", "nesterov", False),
            A("bias_correction", "bias_correction", False),
        ),
        calls=(Call(("optax.rmsprop",)),),
        states={"square_avg": "nu", "grad_avg": "mu", "momentum_buffer": "trace"},
        notes="momentum=None (the default) keeps no trace; momentum=0 a trace equal to the update.",
        verified="frameworks tier (optax 0.2.8 on jax, x64)",
    ),
    Dialect(
        family="adagrad",
        name="optax",
        framework="optax",
        source="optax/_src/alias.py (adagrad); optax/_src/transform.py (scale_by_rss)",
        conventions=dict(eps_placement="inside", zero_guard=True, lr_decay="none", maximize=False, weight_decay="none"),
        arguments=(
            A("learning_rate", "lr", None),
            A("initial_accumulator_value", "initial_accumulator_value", 0.1),
            A("eps", "eps", 1e-7),
        ),
        calls=(Call(("optax.adagrad",)),),
        states={"sum": "sum_of_squares"},
        verified="frameworks tier (optax 0.2.8 on jax, x64)",
    ),
)
