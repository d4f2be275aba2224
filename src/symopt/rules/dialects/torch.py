"""PyTorch: the reference dialect of every family (``symopt.rules.adagrad()`` is
``torch.optim.Adagrad``). Listed here so that ``symopt port`` and ``symopt diff`` can name it."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="torch",
        framework="PyTorch",
        source="torch/optim/rmsprop.py",
        conventions={},
        arguments=(
            A("lr", "lr", 1e-2),
            A("alpha", "alpha", 0.99),
            A("eps", "eps", 1e-8),
            A("weight_decay", "weight_decay", 0.0),
            A("momentum", "momentum", 0.0),
            A("centered", "centered", False),
            A("maximize", "maximize", False),
        ),
        calls=(Call(("torch.optim.RMSprop", "optim.RMSprop"), hidden=("foreach", "capturable", "differentiable")),),
        verified="tests/test_torch_optim.py, symopt verify (bitwise)",
    ),
    Dialect(
        family="adagrad",
        name="torch",
        framework="PyTorch",
        source="torch/optim/adagrad.py",
        conventions={},
        arguments=(
            A("lr", "lr", 1e-2),
            A("lr_decay", "lr_decay", 0.0),
            A("weight_decay", "weight_decay", 0.0),
            A("initial_accumulator_value", "initial_accumulator_value", 0.0),
            A("eps", "eps", 1e-10),
            A("maximize", "maximize", False),
        ),
        calls=(Call(("torch.optim.Adagrad", "optim.Adagrad"), hidden=("foreach", "fused", "differentiable")),),
        verified="tests/test_torch_optim.py, symopt verify (bitwise)",
    ),
)
