"""NVIDIA apex's ``FusedAdagrad`` (``apex/optimizers/fused_adagrad.py``,
``csrc/multi_tensor_adagrad.cu``): h ← h + g²; ``adagrad_w_mode=False`` (mode 0) coupled
g ← g + λ w, w ← w − η g/(√h + ε); mode 1 decoupled w ← w − η (g/(√h + ε) + λ w). apex has no
RMSprop. It needs a CUDA build: facts from the source."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="adagrad",
        name="apex",
        framework="NVIDIA apex",
        source="apex/optimizers/fused_adagrad.py; csrc/multi_tensor_adagrad.cu (AdagradFunctor)",
        conventions=dict(
            eps_placement="outside",
            initial_accumulator=0.0,
            lr_decay="none",
            maximize=False,
            decoupled_weight_decay_flag=True,
        ),
        arguments=(
            A("lr", "lr", 1e-2),
            A("eps", "eps", 1e-10),
            A("weight_decay", "weight_decay", 0.0),
            A("adagrad_w_mode", "decoupled_decay", False),
        ),
        calls=(Call(("apex.optimizers.FusedAdagrad",), hidden=("set_grad_none",)),),
        verified="not installable here (apex builds CUDA extensions; not on PyPI); read from the source",
    ),
)
