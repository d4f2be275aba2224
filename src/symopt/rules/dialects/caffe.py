"""Caffe (``src/caffe/solvers/rmsprop_solver.cpp``, ``adagrad_solver.cpp``): ε (``delta``) outside
the root, no momentum (RMSProp requires ``momentum: 0``), coupled L2 ``weight_decay``
(``regularization_type: "L1"`` is not modelled). Arguments are solver.prototxt fields."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here (Caffe is not on PyPI); read from the source"

DIALECTS = (
    Dialect(
        family="rmsprop", name="caffe", framework="Caffe",
        source="src/caffe/solvers/rmsprop_solver.cpp (RMSPropSolver::ComputeUpdateValue)",
        conventions=dict(eps_placement="outside", ema_form="scale_add", centering="never", momentum_form="none",
                         maximize=False),
        arguments=(A("base_lr", "lr", None), A("rms_decay", "alpha", 0.99), A("delta", "eps", 1e-8),
                   A("weight_decay", "weight_decay", 0.0)),
        calls=(Call(("caffe.RMSPropSolver", "RMSPropSolver")),),
        verified=_NOT_HERE,
    ),
    Dialect(
        family="adagrad", name="caffe", framework="Caffe",
        source="src/caffe/solvers/adagrad_solver.cpp (AdaGradSolver::ComputeUpdateValue)",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False),
        arguments=(A("base_lr", "lr", None), A("delta", "eps", 1e-8), A("weight_decay", "weight_decay", 0.0)),
        calls=(Call(("caffe.AdaGradSolver", "AdaGradSolver")),),
        verified=_NOT_HERE,
    ),
)
