"""PaddlePaddle (``python/paddle/optimizer/rmsprop.py``, ``adagrad.py``;
``paddle/phi/kernels/impl/rmsprop_kernel_impl.h``, ``adagrad_kernel_impl.h``): RMSProp ε inside,
η inside the momentum buffer, centered √(v − m² + ε); AdaGrad ε outside with
``initial_accumulator_value``; ``weight_decay`` a float is L2Decay (coupled)."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = (
    "not run here (paddlepaddle's CPU wheel is large; not installed for the frameworks tier); read from the source"
)

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="paddle",
        framework="PaddlePaddle",
        source="paddle/phi/kernels/impl/rmsprop_kernel_impl.h (RmspropDenseKernel)",
        conventions=dict(eps_placement="inside", momentum_lr="inside", ema_form="scale_add", maximize=False),
        arguments=(
            A("learning_rate", "lr", None),
            A("rho", "alpha", 0.95),
            A("epsilon", "eps", 1e-6),
            A("momentum", "momentum", 0.0),
            A("centered", "centered", False),
            A("weight_decay", "weight_decay", 0.0, none=0.0),
        ),
        calls=(Call(("paddle.optimizer.RMSProp",), hidden=("parameters", "grad_clip", "name")),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad",
        name="paddle",
        framework="PaddlePaddle",
        source="paddle/phi/kernels/impl/adagrad_kernel_impl.h (AdagradDenseKernel)",
        conventions=dict(eps_placement="outside", lr_decay="none", maximize=False),
        arguments=(
            A("learning_rate", "lr", None),
            A("epsilon", "eps", 1e-6),
            A("weight_decay", "weight_decay", 0.0, none=0.0),
            A("initial_accumulator_value", "initial_accumulator_value", 0.0),
        ),
        calls=(Call(("paddle.optimizer.Adagrad",), hidden=("parameters", "grad_clip", "name")),),
        verified=_NOT_HERE,
    ),
)
