"""Chainer (``chainer/optimizers/rmsprop.py``, ``rmsprop_graves.py``, ``ada_grad.py``).

RMSprop: ms ← α ms + (1 − α) g²; w ← w − η g/(√ms + ε), or √(ms + ε) with ``eps_inside_sqrt``.
RMSpropGraves: always centered, ε inside, δ ← μ δ − η g/√(ms − n² + ε), w ← w + δ (δ = −b of the
model: the same parameter path, the buffer of opposite sign). AdaGrad: w ← w − η g/(√G + ε).
Weight decay is a hook (``optimizer_hooks.WeightDecay``: coupled), not an argument.
Chainer 7.8.1 (its last release) builds here only without build isolation, with setuptools < 70 (its
setup.py imports pkg_resources) and NumPy < 2; so installed (``make frameworks``) it runs.
"""

from . import Argument as A
from . import Call, Dialect

_HERE = "frameworks tier (chainer 7.8.1 on NumPy 1.26, built with --no-build-isolation and setuptools < 70)"

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="chainer",
        framework="Chainer",
        source="chainer/optimizers/rmsprop.py (RMSpropRule.update_core_cpu)",
        conventions=dict(
            eps_placement="outside",
            eps_in_sqrt_flag=True,
            ema_form="scale_add",
            centering="never",
            momentum_form="none",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("lr", "lr", 0.01),
            A("alpha", "alpha", 0.99),
            A("eps", "eps", 1e-8),
            A("eps_inside_sqrt", "eps_in_sqrt", False),
        ),
        calls=(Call(("chainer.optimizers.RMSprop",)),),
        verified=_HERE,
    ),
    Dialect(
        family="rmsprop",
        name="chainer-graves",
        framework="Chainer (RMSpropGraves)",
        source="chainer/optimizers/rmsprop_graves.py (RMSpropGravesRule.update_core_cpu)",
        conventions=dict(
            eps_placement="inside",
            centering="always",
            ema_form="scale_add",
            momentum_lr="inside",
            maximize=False,
            weight_decay="none",
        ),
        arguments=(
            A("lr", "lr", 1e-4),
            A("alpha", "alpha", 0.95),
            A("momentum", "momentum", 0.9),
            A("eps", "eps", 1e-4),
        ),
        calls=(Call(("chainer.optimizers.RMSpropGraves",)),),
        notes="Chainer's delta is -b.",
        verified=_HERE,
    ),
    Dialect(
        family="adagrad",
        name="chainer",
        framework="Chainer",
        source="chainer/optimizers/ada_grad.py (AdaGradRule.update_core_cpu)",
        conventions=dict(
            eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False, weight_decay="none"
        ),
        arguments=(A("lr", "lr", 0.001), A("eps", "eps", 1e-8)),
        calls=(Call(("chainer.optimizers.AdaGrad",)),),
        verified=_HERE,
    ),
)
