"""bitsandbytes (``bitsandbytes/optim/rmsprop.py``, ``adagrad.py``; 32-bit states): torch's
algebra — ε outside the root, coupled weight decay; RMSprop's ``momentum`` is accepted and
unused by the kernels, ``centered=True`` raises; Adagrad requires ``lr_decay=0`` and
``initial_accumulator_value=0``. bitsandbytes 0.50 runs them on the CPU, its states in float32 for a
parameter of any dtype (so a float64 run agrees with this model to ~1e-7, not 1e-12)."""

from . import Argument as A
from . import Call, Dialect

DIALECTS = (
    Dialect(
        family="rmsprop",
        name="bitsandbytes",
        framework="bitsandbytes (32-bit)",
        source="bitsandbytes/optim/rmsprop.py (RMSprop); bitsandbytes/functional.py (optimizer_update_32bit)",
        conventions=dict(eps_placement="outside", centering="never", momentum_form="none", maximize=False),
        arguments=(
            A("lr", "lr", 1e-2),
            A("alpha", "alpha", 0.99),
            A("eps", "eps", 1e-8),
            A("weight_decay", "weight_decay", 0.0),
        ),
        calls=(
            Call(
                ("bnb.optim.RMSprop", "bitsandbytes.optim.RMSprop", "bnb.optim.RMSprop32bit"),
                set={"optim_bits": 32, "centered": False},
                hidden=("momentum", "args", "min_8bit_size", "percentile_clipping", "block_wise"),
            ),
        ),
        verified="frameworks tier, to float32's precision: bitsandbytes 0.50.2 keeps its 32-bit states in float32",
    ),
    Dialect(
        family="adagrad",
        name="bitsandbytes",
        framework="bitsandbytes (32-bit)",
        source="bitsandbytes/optim/adagrad.py (Adagrad)",
        conventions=dict(eps_placement="outside", initial_accumulator=0.0, lr_decay="none", maximize=False),
        arguments=(A("lr", "lr", 1e-2), A("weight_decay", "weight_decay", 0.0), A("eps", "eps", 1e-10)),
        calls=(
            Call(
                ("bnb.optim.Adagrad", "bitsandbytes.optim.Adagrad", "bnb.optim.Adagrad32bit"),
                set={"optim_bits": 32, "lr_decay": 0.0, "initial_accumulator_value": 0.0},
                hidden=("args", "min_8bit_size", "percentile_clipping", "block_wise"),
            ),
        ),
        verified="frameworks tier, to float32's precision: bitsandbytes 0.50.2 keeps its 32-bit states in float32",
    ),
)
