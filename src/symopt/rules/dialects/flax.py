"""Flax's legacy ``flax.optim`` (removed in flax 0.6; ``flax/optim/rmsprop.py``, ``adagrad.py``):
ε outside the root, RMSProp's decay named ``beta2``, centered √(v − m²) + ε. The flax on PyPI
today has no ``flax.optim`` (its optimizers are optax's): facts from the source."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here as it was (flax.optim was removed in flax 0.6); read from the source"

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="flax-legacy",
        framework="Flax (flax.optim, legacy)",
        source="flax/optim/rmsprop.py (RMSProp.apply_param_gradient)",
        conventions=dict(
            eps_placement="outside", ema_form="scale_add", momentum_form="none", maximize=False, weight_decay="none"
        ),
        arguments=(
            A("learning_rate", "lr", None),
            A("beta2", "alpha", 0.9),
            A("eps", "eps", 1e-8),
            A("centered", "centered", False),
        ),
        calls=(Call(("flax.optim.RMSProp",)),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad",
        name="flax-legacy",
        framework="Flax (flax.optim, legacy)",
        source="flax/optim/adagrad.py (Adagrad.apply_param_gradient)",
        conventions=dict(
            eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False, weight_decay="none"
        ),
        arguments=(A("learning_rate", "lr", None), A("eps", "eps", 1e-8)),
        calls=(Call(("flax.optim.Adagrad",)),),
        verified=_NOT_HERE,
    ),
)
