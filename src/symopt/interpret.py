"""The reference interpreter: runs any :class:`~symopt.rules.UpdateRule` straight from the model.

No generated file is involved: each assignment of the rule's body is turned into a NumPy (float64)
or mpmath function by ``sympy.lambdify`` and applied in order, with guards decided per step. This is
the independent oracle against which generated kernels and closed forms are checked.

>>> import numpy as np
>>> from symopt import rules
>>> from symopt.interpret import Interpreter
>>> run = Interpreter(rules.adagrad(), lr=0.1)
>>> w = np.array([1.0, -2.0]); state = run.init_state(w)
>>> run.step(w, np.array([0.5, 0.5]), state)
>>> state["step"], state["sum"].tolist()
(1, [0.25, 0.25])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import mpmath
import numpy as np
import sympy as sp

from .rules import UpdateRule, decide, g, has_reduction, t, w

PRECISIONS = ("float64", "mpmath")


@dataclass(frozen=True)
class _Compiled:
    target: sp.Symbol
    guard: sp.Basic
    arguments: tuple[sp.Symbol, ...]
    function: Callable[..., Any]


class Interpreter:
    """Run ``rule`` with hyperparameters ``values`` (torch.optim keywords, validated as torch does).

    ``precision="float64"`` works on NumPy float64 (or complex128, as torch does, on the real view)
    arrays; ``precision="mpmath"`` on object arrays of ``mpmath.mpf`` at ``dps`` decimal digits.
    """

    def __init__(self, rule: UpdateRule, *, precision: str = "float64", dps: int = 50, **values: Any):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
        if not (isinstance(dps, int) and dps >= 15):
            raise ValueError(f"dps must be an integer >= 15; got {dps!r}")
        self.rule = rule
        self.precision = precision
        self.dps = dps
        self.values = {sym: _number(v) for sym, v in rule.values(**values).items()}
        self._hyper = {h.symbol for h in rule.hyperparameters}
        self._states = rule.active_states(self.values)
        self._program = tuple(
            self._compile(a.target, a.expr, a.when) for a in rule.body if decide(a.when, self.values) is not False
        )

    # -- set-up -------------------------------------------------------------------------------
    def _compile(self, target: sp.Symbol, expr: sp.Expr, guard: sp.Basic) -> _Compiled:
        args = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
        if has_reduction(expr):  # whole arrays in, a sum over every element (exact in mpmath: 50 digits)
            if self.precision == "float64":
                fn = sp.lambdify(args, expr, modules=[{"tensor_sum": np.sum}, "numpy"], dummify=True)
            else:
                fn = sp.lambdify(
                    args, expr, modules=[{"tensor_sum": _exact_sum, "sqrt": _ieee_sqrt}, "mpmath"], dummify=True
                )
        elif self.precision == "float64":
            fn = sp.lambdify(args, expr, modules="numpy", dummify=True)
        else:
            scalar = sp.lambdify(args, expr, modules=[{"sqrt": _ieee_sqrt}, "mpmath"], dummify=True)
            fn = np.frompyfunc(scalar, len(args), 1) if args else scalar
        return _Compiled(target, guard, args, fn)

    def init_state(self, param: np.ndarray) -> dict[str, Any]:
        """Fresh state for ``param``: torch.optim's keys (``step`` when the rule keeps one)."""
        state: dict[str, Any] = {"step": 0}
        for s in self._states:
            init = s.initial.xreplace({k: v for k, v in self.values.items() if not isinstance(v, bool)})
            value = self._scalar(init)
            buf = np.empty((), dtype=param.real.dtype) if s.per_tensor else np.empty_like(param)
            buf[...] = value
            state[s.name] = buf
        return state

    def _scalar(self, expr: sp.Expr) -> Any:
        if self.precision == "float64":
            return float(expr)
        with mpmath.workdps(self.dps):
            return mpmath.mpf(sp.N(expr, self.dps + 10))

    # -- one step -----------------------------------------------------------------------------
    def step(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        """One step in place on ``param`` and the buffers in ``state``."""
        if param.shape != grad.shape:
            raise ValueError(f"grad has shape {grad.shape} but param has shape {param.shape}")
        state["step"] += 1
        step = state["step"]
        real = _real_view
        env: dict[sp.Symbol, Any] = {w: real(param).copy(), g: real(grad).astype(real(param).dtype, copy=True)}
        for s in self._states:
            env[s.symbol] = real(state[s.name]).copy()
        with mpmath.workdps(self.dps):
            for sym, value in self.values.items():
                if not isinstance(value, bool):
                    env[sym] = value if self.precision == "float64" else mpmath.mpf(float(value))
        env[t] = step
        known = dict(self.values)
        known[t] = step
        # NaN and inf propagate silently, as in torch: the verifier reports them as findings.
        with mpmath.workdps(self.dps), np.errstate(all="ignore"):
            for c in self._program:
                if decide(c.guard, known) is not True:
                    continue
                env[c.target] = c.function(*(env[a] for a in c.arguments))
        real(param)[...] = env[w]
        for s in self._states:
            real(state[s.name])[...] = env[s.symbol]

    def run(self, param: np.ndarray, grads: Iterable[np.ndarray]) -> dict[str, Any]:
        """Apply every gradient of ``grads`` in turn; returns the final state."""
        state = self.init_state(param)
        for grad in grads:
            self.step(param, grad, state)
        return state


def _real_view(x: np.ndarray) -> np.ndarray:
    """A complex array as its interleaved real parts (torch's ``view_as_real``), else itself."""
    if np.iscomplexobj(x):
        return np.atleast_1d(x).view(np.float64 if x.dtype == np.complex128 else np.float32)
    return x


def _number(value: Any) -> Any:
    """A hyperparameter value as the interpreter computes with it.

    A tensor (torch's ``lr=torch.tensor(0.01)``) becomes a NumPy scalar *of the tensor's dtype*:
    torch computes Adagrad's ``lr / (1 + (t - 1) lr_decay)`` as a tensor operation, so in float32
    when the lr tensor is float32, and NumPy scalars follow the same promotion rule (NEP 50).
    """
    if isinstance(value, bool):
        return value
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy().reshape(())[()]
    return float(value)


def _ieee_sqrt(x: Any) -> Any:
    """mpmath's square root with IEEE 754's answer for a negative argument, NaN (mpmath returns a
    complex number): the float64 interpreter (NumPy) and torch give NaN there."""
    return mpmath.sqrt(x) if x >= 0 else mpmath.nan


def _exact_sum(x: Any) -> Any:
    """The sum of every element of an object array of ``mpmath.mpf`` (``mpmath.fsum``: one
    rounding at the working precision)."""
    return mpmath.fsum(np.asarray(x, dtype=object).ravel().tolist())


def to_mpmath(x: np.ndarray, dps: int = 50) -> np.ndarray:
    """A float64 array as an object array of ``mpmath.mpf`` (exact conversion)."""
    with mpmath.workdps(dps):
        out = np.empty(x.shape, dtype=object)
        for i, value in np.ndenumerate(x):
            out[i] = mpmath.mpf(float(value))
    return out
