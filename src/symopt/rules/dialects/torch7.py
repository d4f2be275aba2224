"""torch7 (Lua; ``optim/rmsprop.lua``, ``optim/adagrad.lua``): ε outside the root; RMSProp's mean
square starts at ``initialMean``; AdaGrad's ε is the fixed 1e-10 and its decayed rate
η/(1 + n·d) counts the evaluations before this one (n = t − 1, torch.optim's form); weight decay
coupled. Arguments are the fields of the Lua ``config`` table."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here (Lua torch7); read from the source"

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="torch7",
        framework="torch7 (Lua)",
        source="optim/rmsprop.lua",
        conventions=dict(
            eps_placement="outside",
            initial_square_avg=None,
            ema_form="scale_add",
            centering="never",
            momentum_form="none",
            maximize=False,
        ),
        arguments=(
            A("learningRate", "lr", 1e-2),
            A("alpha", "alpha", 0.99),
            A("epsilon", "eps", 1e-8),
            A("weightDecay", "weight_decay", 0.0),
            A("initialMean", "initial_scale", 0.0),
        ),
        calls=(Call(("optim.rmsprop",)),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad",
        name="torch7",
        framework="torch7 (Lua)",
        source="optim/adagrad.lua",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, maximize=False),
        arguments=(
            A("learningRate", "lr", 1e-3),
            A("learningRateDecay", "lr_decay", 0.0),
            A("weightDecay", "weight_decay", 0.0),
        ),
        fixed={"eps": 1e-10},
        calls=(Call(("optim.adagrad",)),),
        verified=_NOT_HERE,
    ),
)
