"""The public NumPy API: generated in-place kernels (``symopt.kernels.numpy``) behind torch.optim's
hyperparameter names, defaults and validation messages.

>>> import numpy as np
>>> from symopt import numpy as sn
>>> w = np.array([1.0, -2.0]); state = sn.init_state("adagrad", w)
>>> sn.adagrad_step(w, np.array([0.5, 0.5]), state, lr=0.1)
>>> state["step"], state["sum"].tolist()
(1, [0.25, 0.25])

The state is a dict with torch.optim's keys: ``"step"`` (an int) plus ``"sum"`` (Adagrad) or
``"square_avg"``, ``"grad_avg"`` (centered) and ``"momentum_buffer"`` (momentum > 0) (RMSprop), or
``"exp_avg"``, ``"exp_avg_sq"`` and ``"max_exp_avg_sq"`` (amsgrad) (Adam, AdamW); SGD keeps no
``"step"``, only ``"momentum_buffer"`` (momentum != 0), from the first step on.
Complex arrays are updated through their real view, as torch does.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from . import rules as _rules
from .interpret import _number

__all__ = [
    "DTYPES",
    "RULES",
    "adagrad_norm_step",
    "adagrad_step",
    "adam_step",
    "adamw_step",
    "init_state",
    "rmsprop_step",
    "sgd_step",
    "step",
]

#: kernel name → (family, dialect)
RULES: dict[str, tuple[str, str]] = {
    "adagrad": ("adagrad", "torch"),
    "adagrad_textbook": ("adagrad", "textbook"),
    "adagrad_norm": ("adagrad_norm", "torch"),
    "rmsprop": ("rmsprop", "torch"),
    "rmsprop_textbook": ("rmsprop", "textbook"),
    "adam": ("adam", "torch"),
    "adamw": ("adamw", "torch"),
    "sgd": ("sgd", "torch"),
}
DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex64), np.dtype(np.complex128))


def _kernel(rule: str) -> tuple[_rules.UpdateRule, ModuleType]:
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))}; got {rule!r}")
    family, dialect = RULES[rule]
    return _rules.get(family, dialect), importlib.import_module(f"symopt.kernels.numpy.{rule}")


def _check_array(name: str, x: Any, like: np.ndarray | None = None) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; got {type(x).__name__}")
    if x.dtype not in DTYPES:
        allowed = ", ".join(str(d) for d in DTYPES)
        raise TypeError(f"{name} has dtype {x.dtype}; allowed: {allowed}")
    if like is not None:
        if x.shape != like.shape:
            raise ValueError(f"{name} has shape {x.shape} but param has shape {like.shape}")
        if x.dtype != like.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but param has dtype {like.dtype}; they must match")
    return x


def _check_per_tensor(name: str, x: Any, param: np.ndarray) -> np.ndarray:
    """A state of one number per tensor: a 0-dim array of the param's real dtype."""
    if not isinstance(x, np.ndarray) or x.shape != () or x.dtype != param.real.dtype:
        raise TypeError(
            f"{name} must be a 0-dim numpy.ndarray of dtype {param.real.dtype} (one number per tensor); got {x!r}"
        )
    return x


def _real(x: np.ndarray) -> np.ndarray:
    """``x`` itself, or the real view of a complex array (torch's ``view_as_real``)."""
    if np.iscomplexobj(x):
        return x[..., None].view(np.float32 if x.dtype == np.complex64 else np.float64)
    return x


def _values(rule: _rules.UpdateRule, hyper: dict[str, Any]) -> dict[str, Any]:
    """Validated hyperparameters by name (torch's defaults and messages), as Python numbers."""
    values = rule.values(**hyper)
    return {h.name: _number(values[h.symbol]) for h in rule.hyperparameters}


def init_state(rule: str, param: np.ndarray, **hyper: Any) -> dict[str, Any]:
    """Fresh state for ``param``, as torch.optim creates it for these hyperparameters:
    ``{"step": 0, "sum": full(initial_accumulator_value)}`` for ``"adagrad"``;
    ``{"step": 0, "square_avg": 0, ["momentum_buffer": 0,] ["grad_avg": 0]}`` for ``"rmsprop"``."""
    model, kernel = _kernel(rule)
    _check_array("param", param)
    values = _values(model, hyper)
    return kernel.init_state(param, **{k: values[k] for k in kernel.INIT_ARGUMENTS})


def step(rule: str, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One step of ``rule`` in place on ``param`` and ``state`` (``state["step"]`` += 1 where the
    rule keeps a step counter). A lazy state (SGD's ``momentum_buffer``) is created at the first
    step, as torch creates it; a rule without a counter is at its first step while it is missing."""
    model, kernel = _kernel(rule)
    _check_array("param", param)
    _check_array("grad", grad, param)
    values = _values(model, hyper)
    if not isinstance(state, dict) or (model.stores_step and "step" not in state):
        raise TypeError(f"state must be the dict returned by symopt.numpy.init_state({rule!r}, param, ...)")
    buffers: list[np.ndarray | None] = []  # one per kernel.STATES entry, None for a state not kept
    first = False
    for name in kernel.STATES:
        spec = model.state(name)
        needed = _rules.decide(spec.when, model.values(**hyper)) is not False
        if name not in state:
            if needed and spec.lazy:
                state[name] = np.empty_like(param)  # filled by its first assignment, which reads no old value
                first = True
            elif needed:
                raise KeyError(
                    f"state has no {name!r}; create it with symopt.numpy.init_state({rule!r}, param, ...) "
                    "with the same hyperparameters"
                )
            else:
                buffers.append(None)
                continue
        if spec.per_tensor:  # one number per tensor: a 0-dim array in the param's real dtype
            buffers.append(_check_per_tensor(f"state[{name!r}]", state[name], param))
            continue
        buffers.append(_real(_check_array(f"state[{name!r}]", state[name], param)))
    kwargs = {k: values[k] for k in kernel.UPDATE_ARGUMENTS if k != "step"}
    if model.stores_step:
        state["step"] += 1
        if "step" in kernel.UPDATE_ARGUMENTS:
            kwargs["step"] = state["step"]
    elif "step" in kernel.UPDATE_ARGUMENTS:
        kwargs["step"] = 1 if first else 2  # t only marks the first step here (any t > 1 computes the same)
    kernel.update(_real(param), _real(grad), *buffers, **kwargs)


def adagrad_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One torch.optim.Adagrad step in place. Keywords (torch's defaults): ``lr=1e-2``,
    ``lr_decay=0``, ``weight_decay=0``, ``initial_accumulator_value=0``, ``eps=1e-10``,
    ``maximize=False``.

    g ← −g if maximize; g ← g + λw if λ ≠ 0; G ← G + g²; w ← w − η/(1 + (t−1)γ) · g/(√G + ε).
    """
    step("adagrad", param, grad, state, **hyper)


def adagrad_norm_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One AdaGrad-Norm step in place (Ward, Wu & Bottou; :mod:`symopt.rules.adagrad_norm`), with
    torch.optim.Adagrad's keywords: ``lr=1e-2``, ``weight_decay=0``, ``initial_accumulator_value=0``
    (b_0²), ``eps=1e-10``, ``maximize=False``. ``state["sum"]`` is one number (a 0-dim array).

    g ← −g if maximize; g ← g + λw if λ ≠ 0; B ← B + ‖g‖²; w ← w − η g/(√B + ε).
    """
    step("adagrad_norm", param, grad, state, **hyper)


def rmsprop_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One torch.optim.RMSprop step in place. Keywords (torch's defaults): ``lr=1e-2``,
    ``alpha=0.99``, ``eps=1e-8``, ``weight_decay=0``, ``momentum=0``, ``centered=False``,
    ``maximize=False``.

    v ← αv + (1−α)g²; m ← m + (1−α)(g − m) if centered; σ = √(v − m²) + ε (m = 0 unless
    centered); b ← μb + g/σ, w ← w − ηb if μ > 0, else w ← w − η g/σ.
    """
    step("rmsprop", param, grad, state, **hyper)


def adam_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One torch.optim.Adam step in place (``decoupled_weight_decay=False``). Keywords (torch's
    defaults, its ``betas`` tuple as ``beta1=0.9``, ``beta2=0.999``): ``lr=1e-3``, ``eps=1e-8``,
    ``weight_decay=0``, ``amsgrad=False``, ``maximize=False``.

    m ← m + (1−β₁)(g − m); v ← β₂v + (1−β₂)g²; v_max ← max(v_max, v) if amsgrad;
    w ← w − η/(1 − β₁^t) · m/(√v/√(1 − β₂^t) + ε) (v_max for v if amsgrad).
    """
    step("adam", param, grad, state, **hyper)


def adamw_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One torch.optim.AdamW step in place: :func:`adam_step` with decoupled weight decay
    (torch's AdamW default ``weight_decay=1e-2``): w ← w·(1 − ηλ) first, λ nowhere else."""
    step("adamw", param, grad, state, **hyper)


def sgd_step(param: np.ndarray, grad: np.ndarray, state: dict[str, Any], **hyper: Any) -> None:
    """One torch.optim.SGD step in place. Keywords (torch's defaults): ``lr=1e-3``,
    ``momentum=0``, ``dampening=0``, ``weight_decay=0``, ``nesterov=False``, ``maximize=False``.
    The state keeps no step counter: ``init_state("sgd", param)`` is ``{}``, and
    ``"momentum_buffer"`` appears at the first step when ``momentum != 0``, as in torch.

    g ← −g if maximize; g ← g + λw if λ ≠ 0; if μ ≠ 0: b ← g at the first step, b ← μb + (1−τ)g
    after, g ← g + μb if nesterov, else g ← b; w ← w − ηg.
    """
    step("sgd", param, grad, state, **hyper)
