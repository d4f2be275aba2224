"""JAX's example optimizers (``jax/example_libraries/optimizers.py``): ``rmsprop``,
``rmsprop_momentum`` (η inside the buffer, ε inside the root) and ``adagrad``, whose momentum is on
by default (0.9) and dampened: m ← (1 − μ)·g·where(G > 0, 1/√G, 0) + μ m, w ← w − η m (no ε)."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="jax-example",
        framework="jax.example_libraries",
        source="jax/example_libraries/optimizers.py (rmsprop, rmsprop_momentum)",
        conventions=dict(
            eps_placement="inside", momentum_lr="inside", ema_form="scale_add", maximize=False, weight_decay="none"
        ),
        arguments=(
            A("step_size", "lr", None),
            A("gamma", "alpha", 0.9),
            A("eps", "eps", 1e-8),
            A("momentum", "momentum", 0.0),
        ),
        calls=(
            Call(("jax.example_libraries.optimizers.rmsprop", "optimizers.rmsprop"), set={"momentum": 0.0}),
            Call(
                ("jax.example_libraries.optimizers.rmsprop_momentum", "optimizers.rmsprop_momentum"),
                defaults={"momentum": 0.9},
            ),
        ),
        states={"square_avg": "avg_sq_grad", "momentum_buffer": "mom"},
        verified="frameworks tier (jax.example_libraries, x64)",
    ),
    Dialect(
        family="adagrad",
        name="jax-example",
        framework="jax.example_libraries",
        source="jax/example_libraries/optimizers.py (adagrad)",
        conventions=dict(
            eps_placement="none",
            zero_guard=True,
            initial_accumulator=0.0,
            momentum_form="dampened",
            lr_decay="none",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(A("step_size", "lr", None), A("momentum", "momentum", 0.9)),
        calls=(Call(("jax.example_libraries.optimizers.adagrad", "optimizers.adagrad")),),
        states={"sum": "g_sq", "momentum_buffer": "m"},
        verified="frameworks tier (jax.example_libraries, x64)",
    ),
)
