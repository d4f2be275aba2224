"""DeepSpeed's ``DeepSpeedCPUAdagrad`` (``deepspeed/ops/adagrad/cpu_adagrad.py``,
``csrc/adagrad/cpu_adagrad.cpp``): torch's algebra, ε outside the root, coupled weight decay,
G_0 = 0 (the C++ computes with fused multiply-adds: the same numbers within rounding). It JIT-builds
a C++ extension: facts from the source. DeepSpeed has no RMSprop."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="adagrad",
        name="deepspeed",
        framework="DeepSpeed (CPU)",
        source="deepspeed/ops/adagrad/cpu_adagrad.py; csrc/adagrad/cpu_adagrad.cpp (Adagrad_Optimizer::Step_1)",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False),
        arguments=(A("lr", "lr", 1e-2), A("eps", "eps", 1e-10), A("weight_decay", "weight_decay", 0.0)),
        calls=(
            Call(
                ("deepspeed.ops.adagrad.DeepSpeedCPUAdagrad", "DeepSpeedCPUAdagrad"),
                hidden=("amsgrad", "fp32_optimizer_states"),
            ),
        ),
        verified="not run here (DeepSpeed JIT-builds its CPU op with ninja); read from the source",
    ),
)
