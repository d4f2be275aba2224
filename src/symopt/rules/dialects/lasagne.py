"""Lasagne (``lasagne/updates.py``: ``rmsprop``, ``adagrad``): ε inside the root, η = 1 by
default, no momentum, no weight decay (Theano expressions: w − η g/√(v + ε))."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here (lasagne needs Theano, which does not build on Python 3.11); read from the source"

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="lasagne",
        framework="Lasagne",
        source="lasagne/updates.py (rmsprop)",
        conventions=dict(
            eps_placement="inside",
            ema_form="scale_add",
            centering="never",
            momentum_form="none",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(A("learning_rate", "lr", 1.0), A("rho", "alpha", 0.9), A("epsilon", "eps", 1e-6)),
        calls=(Call(("lasagne.updates.rmsprop",), hidden=("loss_or_grads", "params")),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad",
        name="lasagne",
        framework="Lasagne",
        source="lasagne/updates.py (adagrad)",
        conventions=dict(
            eps_placement="inside", initial_accumulator=0.0, lr_decay="none", maximize=False, weight_decay="none"
        ),
        arguments=(A("learning_rate", "lr", 1.0), A("epsilon", "eps", 1e-6)),
        calls=(Call(("lasagne.updates.adagrad",), hidden=("loss_or_grads", "params")),),
        verified=_NOT_HERE,
    ),
)
