"""Long float64 runs of a rule's body (t up to 10⁶), fast enough for every check.

The reference interpreter (:mod:`symopt.interpret`) decides every guard with SymPy at every step
(~50 µs a step): right for t ≤ 10³, too slow for 10⁶. Here the *same body* (``rule.body``, not the
step map the derivations read) is compiled once into a plain Python loop over scalars:

* guards are decided once for the first step (t = 1) and once for the later steps (t ≥ 2); a guard
  that is not constant over t ≥ 2 (checked at t = 2, 3, 10, 10⁶) is refused;
* every assignment is printed by SymPy's Python printer with ``math`` functions, hyperparameters
  as local floats (never folded into constants, so each operation is the one NumPy performs);
* values are recorded at the requested checkpoints only.

:func:`disagreement_with_interpreter` compares the first steps with the interpreter; every long
check runs it, so the fast runner is only trusted where it reproduces the oracle (to the last bits:
SymPy may order the terms of a sum differently).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

import mpmath
import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..interpret import Interpreter
from ..rules import UpdateRule, decide, g, t, w

#: A gradient as a function of (step, current parameter) for one element.
GradientFn = Callable[[int, float], float]


def log_spaced_steps(last: int, per_decade: int = 10) -> tuple[int, ...]:
    """1, …, last, about ``per_decade`` integers per decade, always including 1 and ``last``."""
    points = np.unique(
        np.round(np.logspace(0, math.log10(last), int(per_decade * math.log10(last)) + 1)).astype(np.int64)
    )
    return tuple(sorted({1, last, *map(int, points)}))


class _IEEE:
    """``math`` (or ``mpmath``) with IEEE 754's answer where it raises or leaves the reals: the
    square root of a negative number is NaN, as in torch, NumPy and the interpreter (RMSprop
    with α > 1 takes √ of a negative mean square: symopt.derive.hazards)."""

    def __init__(self, module: Any, nan: Any) -> None:
        self._module, self._nan = module, nan

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def sqrt(self, x: Any) -> Any:
        return self._module.sqrt(x) if x >= 0 else self._nan  # NaN >= 0 is False: NaN stays NaN


IEEE_MATH = _IEEE(math, math.nan)
IEEE_MPMATH = _IEEE(mpmath, mpmath.nan)


@dataclass(frozen=True)
class Program:
    """A rule's body compiled for scalars: ``run(T, checkpoints, grad, w0, reset)``."""

    rule: UpdateRule
    items: tuple
    source: str
    function: Callable[..., list[tuple[Any, ...]]]
    state_names: tuple[str, ...]

    numbers: tuple[float, ...] = ()
    initials: tuple[sp.Expr, ...] = ()

    def run(
        self,
        steps: int,
        checkpoints: Iterable[int],
        grad: GradientFn,
        w_start: float,
        reset: bool = False,
        dps: int | None = None,
    ) -> dict[int, dict[str, Any]]:
        """Run ``steps`` steps from ``w_start`` (``reset``: set w = 0 before every step, so that the
        step is exactly −η_t g_t); returns {checkpoint: {"param", "grad", "lr", "state:NAME"}}.

        ``dps=None``: float64 (Python floats). ``dps=50``: mpmath at 50 digits, hyperparameters
        converted exactly from their float64 value (as the interpreter does); ``grad`` must then
        return floats or mpmath numbers (converted exactly)."""
        if dps is None:
            hyper = tuple(float(x) for x in self.numbers)
            init = tuple(float(x) for x in self.initials)
            rows = self.function(
                int(steps),
                frozenset(checkpoints),
                grad,
                float(w_start),
                bool(reset),
                hyper,
                init,
                IEEE_MATH,
                float,
                getattr(grad, "constant", None),
            )
        else:
            with mpmath.workdps(dps):
                hyper = tuple(mpmath.mpf(float(x)) for x in self.numbers)
                init = tuple(mpmath.mpf(sp.N(x, dps + 10)) for x in self.initials)
                rows = self.function(
                    int(steps),
                    frozenset(checkpoints),
                    grad,
                    mpmath.mpf(w_start),
                    bool(reset),
                    hyper,
                    init,
                    IEEE_MPMATH,
                    mpmath.mpf,
                    None,
                )
                return self._records(rows)
        return self._records(rows)

    def _records(self, rows) -> dict[int, dict[str, Any]]:
        out = {}
        for step, w_before, g_used, w_after, *states in rows:
            record = {"param": w_after, "grad": g_used}
            record["lr"] = (w_before - w_after) / g_used if g_used != 0 else math.nan
            record.update({f"state:{n}": s for n, s in zip(self.state_names, states)})
            out[step] = record
        return out


class _Printer(PythonCodePrinter):
    """Python with ``math`` functions; symbols by their identifier in the generated code."""

    def __init__(self, names: Mapping[sp.Symbol, str]):
        super().__init__({"fully_qualified_modules": True, "strict": True})
        self._names = names

    def _print_Symbol(self, expr):  # noqa: N802 - SymPy's naming
        return self._names[expr]


@lru_cache(maxsize=None)
def compile_body(rule: UpdateRule, items: tuple = ()) -> Program:
    """Compile ``rule.body`` with hyperparameters ``items`` (sorted (name, value) pairs)."""
    values = rule.values(**dict(items))
    numbers = {sym: float(v) for sym, v in values.items() if not isinstance(v, bool)}
    states = rule.active_states(values)
    names: dict[sp.Symbol, str] = {w: "w", g: "g", t: "step"}
    names.update({s.symbol: f"s_{i}" for i, s in enumerate(states)})
    names.update({sym: f"h_{i}" for i, sym in enumerate(numbers)})
    for a in rule.body:
        names.setdefault(a.target, f"tmp_{len(names)}")
    printer = _Printer(names)

    def program(step: int) -> list[str]:
        known = dict(values)
        known[t] = step
        lines = []
        for a in rule.body:
            verdict = decide(a.when, known)
            if verdict is None:
                raise ValueError(f"{rule.name}: guard {a.when} is not decided by the hyperparameters")
            if verdict:
                lines.append(f"{names[a.target]} = {printer.doprint(a.expr)}")
        return lines

    first, later = program(1), program(2)
    if any(program(s) != later for s in (3, 10, 10**6)):
        raise ValueError(f"{rule.name}: a guard changes after the second step; the fast runner cannot compile it")
    hyper_names = [names[sym] for sym in numbers]
    inits = [f"{names[s.symbol]} = S0[{i}]" for i, s in enumerate(states)]
    record = ", ".join(["step", "w_before", "g", "w"] + [names[s.symbol] for s in states])
    body = "\n".join(
        [
            "def _run(steps, checkpoints, grad, w, reset, H, S0, math, number, constant):",
            *(f"    {h} = H[{i}]" for i, h in enumerate(hyper_names)),
            *(f"    {line}" for line in inits),
            "    out = []",
            "    for step in range(1, steps + 1):",
            "        if reset:",
            "            w = number(0)",
            "        w_before = w",
            "        g = constant if constant is not None else number(grad(step, w))",
            "        g_in = g",
            "        if step == 1:",
            *(f"            {line}" for line in first or ["pass"]),
            "        else:",
            *(f"            {line}" for line in later or ["pass"]),
            "        if step in checkpoints:",
            f"            out.append(({record.replace(', g,', ', g_in,')}))",
            "    return out",
        ]
    )
    scope: dict[str, Any] = {}
    exec(compile(body, f"<symopt.derive.simulate {rule.name}>", "exec"), scope)  # noqa: S102 - our own printed code
    initials = tuple(s.initial.xreplace({k: v for k, v in values.items() if not isinstance(v, bool)}) for s in states)
    return Program(rule, items, body, scope["_run"], tuple(s.name for s in states), tuple(numbers.values()), initials)


#: Largest relative difference allowed between the compiled body and the interpreter: the two
#: print the same expressions, but SymPy may order the terms of a sum differently (the interpreter
#: lambdifies with dummy names), so the results can differ in the last bits.
AGREEMENT_TOLERANCE = 1e-13


def disagreement_with_interpreter(
    rule: UpdateRule,
    items: tuple,
    grads: list[GradientFn],
    w_starts: list[float],
    steps: int = 200,
    dps: int | None = None,
) -> float:
    """The largest relative difference, over ``steps`` steps and every element, between the
    compiled body and the interpreter (parameter and every state), fed the same gradients.
    ``dps=None`` compares float64 runs, ``dps=50`` mpmath runs."""
    program = compile_body(rule, items)
    precision = "float64" if dps is None else "mpmath"
    run = Interpreter(rule, precision=precision, dps=dps or 50, **dict(items))
    with mpmath.workdps(dps or 15):
        param = (
            np.array(w_starts, dtype=np.float64)
            if dps is None
            else np.array([mpmath.mpf(x) for x in w_starts], dtype=object)
        )
        state = run.init_state(param)
        fast = [program.run(steps, range(1, steps + 1), fn, w0, dps=dps) for fn, w0 in zip(grads, w_starts)]
        worst = 0.0
        for step in range(1, steps + 1):
            values = [fn(step, x) for fn, x in zip(grads, param)]
            grad = (
                np.array(values, dtype=np.float64)
                if dps is None
                else np.array([mpmath.mpf(v) for v in values], dtype=object)
            )
            run.step(param, grad, state)
            for i, rows in enumerate(fast):
                pairs = [(rows[step]["param"], param[i])] + [
                    (rows[step][f"state:{n}"], state[n][i]) for n in program.state_names
                ]
                for a, b in pairs:
                    worst = max(worst, _relative_difference(a, b))
    return worst


def _relative_difference(a: Any, b: Any) -> float:
    if a == b:
        return 0.0
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return math.inf
    return float(abs(a - b) / max(abs(a), abs(b)))
