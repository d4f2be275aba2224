"""Caffe (``src/caffe/solvers/rmsprop_solver.cpp``, ``adagrad_solver.cpp``): ε (``delta``) outside
the root, no momentum (RMSProp requires ``momentum: 0``), weight decay coupled, before the update
(``SGDSolver::Regularize``): ``regularization_type: "L2"`` (the default) adds λ w to the gradient,
``"L1"`` adds λ sign(w) — the dialects ``caffe`` and ``caffe-l1``, on the same solver, chosen by
that field. Arguments are solver.prototxt fields (per-layer ``decay_mult`` is not modelled)."""

from . import Argument as A
from . import Call, Dialect

_NOT_HERE = "not installable here (Caffe is not on PyPI); read from the source"
_REGULARIZE = "src/caffe/solvers/sgd_solver.cpp (SGDSolver::Regularize)"


def _rmsprop(name: str, regularization: str) -> Dialect:
    return Dialect(
        family="rmsprop",
        name=name,
        framework="Caffe",
        source=f"src/caffe/solvers/rmsprop_solver.cpp (RMSPropSolver::ComputeUpdateValue); {_REGULARIZE}",
        conventions=dict(
            eps_placement="outside",
            ema_form="scale_add",
            centering="never",
            momentum_form="none",
            maximize=False,
            weight_decay=regularization.lower(),
        ),
        arguments=(
            A("base_lr", "lr", None),
            A("rms_decay", "alpha", 0.99),
            A("delta", "eps", 1e-8),
            A("weight_decay", "weight_decay", 0.0),
        ),
        calls=(Call(("caffe.RMSPropSolver", "RMSPropSolver"), set={"regularization_type": regularization}),),
        notes=f'regularization_type: "{regularization}"',
        verified=_NOT_HERE,
    )


def _adagrad(name: str, regularization: str) -> Dialect:
    return Dialect(
        family="adagrad",
        name=name,
        framework="Caffe",
        source=f"src/caffe/solvers/adagrad_solver.cpp (AdaGradSolver::ComputeUpdateValue); {_REGULARIZE}",
        conventions=dict(
            eps_placement="outside",
            initial_accumulator=0.0,
            lr_decay="none",
            maximize=False,
            weight_decay=regularization.lower(),
        ),
        arguments=(A("base_lr", "lr", None), A("delta", "eps", 1e-8), A("weight_decay", "weight_decay", 0.0)),
        calls=(Call(("caffe.AdaGradSolver", "AdaGradSolver"), set={"regularization_type": regularization}),),
        notes=f'regularization_type: "{regularization}"',
        verified=_NOT_HERE,
    )


DIALECTS = (_rmsprop("caffe", "L2"), _adagrad("caffe", "L2"), _rmsprop("caffe-l1", "L1"), _adagrad("caffe-l1", "L1"))
