"""Run a generated kernel on symbols, and read back the update it computes.

The generated modules are ordinary Python over NumPy ufuncs (``np.multiply(a, b, out=c)``) or
torch tensor methods (``v.mul_(alpha).addcmul_(g, g, value=1 - alpha)``). Executed with
stand-ins for ``np``/``torch`` whose arrays hold one SymPy expression each, a kernel's ``update``
returns, in its in-place buffers, the one-step map it implements. :func:`kernel_step_map` does that;
:func:`check_kernel` compares the result with the model's :meth:`~symopt.rules.UpdateRule.step_map`
for every structural variant (every flag, every numeric guard on and off). Nothing is parsed: the
code that runs is the code that ships.
"""

from __future__ import annotations

import itertools
import types
from typing import Any, Iterable

import sympy as sp

from .. import rules
from ..rules import UpdateRule, decide
from .equations import EquationComparison


class SymbolicArray:
    """A mutable stand-in for an array or tensor: every element is the same SymPy expression."""

    def __init__(self, expr: sp.Expr):
        self.expr = sp.sympify(expr)

    # -- torch tensor methods used by the generated kernels (value semantics as torch's) ------
    def _set(self, expr: sp.Expr) -> SymbolicArray:
        self.expr = expr
        return self

    def __neg__(self) -> SymbolicArray:
        return SymbolicArray(-self.expr)

    def add(self, other: Any, alpha: Any = 1) -> SymbolicArray:
        return SymbolicArray(self.expr + alpha * _value(other))

    def add_(self, other: Any, alpha: Any = 1) -> SymbolicArray:
        return self._set(self.expr + alpha * _value(other))

    def sub_(self, other: Any, alpha: Any = 1) -> SymbolicArray:
        return self._set(self.expr - alpha * _value(other))

    def mul_(self, other: Any) -> SymbolicArray:
        return self._set(self.expr * _value(other))

    def div_(self, other: Any) -> SymbolicArray:
        return self._set(self.expr / _value(other))

    def addcmul(self, a: Any, b: Any, value: Any = 1) -> SymbolicArray:
        return SymbolicArray(self.expr + value * _value(a) * _value(b))

    def addcmul_(self, a: Any, b: Any, value: Any = 1) -> SymbolicArray:
        return self._set(self.expr + value * _value(a) * _value(b))

    def addcdiv_(self, a: Any, b: Any, value: Any = 1) -> SymbolicArray:
        return self._set(self.expr + value * _value(a) / _value(b))

    def lerp_(self, end: Any, weight: Any) -> SymbolicArray:
        return self._set(self.expr + weight * (_value(end) - self.expr))

    def sqrt(self) -> SymbolicArray:
        return SymbolicArray(sp.sqrt(self.expr))

    def sqrt_(self) -> SymbolicArray:
        return self._set(sp.sqrt(self.expr))

    def copy_(self, other: Any) -> SymbolicArray:
        return self._set(_value(other))

    def clone(self) -> SymbolicArray:
        return SymbolicArray(self.expr)

    def conj(self) -> SymbolicArray:
        return self

    def __truediv__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr / _value(other))

    def __mul__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr * _value(other))

    __rmul__ = __mul__

    def __add__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr + _value(other))

    __radd__ = __add__

    def __sub__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr - _value(other))

    def __rsub__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(_value(other) - self.expr)


def _value(x: Any) -> sp.Expr:
    return x.expr if isinstance(x, SymbolicArray) else sp.sympify(x)


def _ufunc(fn):
    """A NumPy ufunc on SymbolicArrays: computes ``fn`` of the inputs' expressions into ``out``."""

    def apply(*args: Any, out: SymbolicArray | None = None, **_: Any) -> SymbolicArray:
        result = fn(*(_value(a) for a in args))
        if out is None:
            return SymbolicArray(result)
        return out._set(result)

    return apply


def _fresh(*_: Any, **__: Any) -> SymbolicArray:
    return SymbolicArray(sp.nan)


symbolic_numpy = types.SimpleNamespace(
    add=_ufunc(lambda a, b: a + b), subtract=_ufunc(lambda a, b: a - b), multiply=_ufunc(lambda a, b: a * b),
    divide=_ufunc(lambda a, b: a / b), negative=_ufunc(lambda a: -a), square=_ufunc(lambda a: a * a),
    sqrt=_ufunc(sp.sqrt), maximum=_ufunc(sp.Max), minimum=_ufunc(sp.Min),
    empty_like=_fresh, iscomplexobj=lambda x: False,
    copyto=lambda dst, src, **_: dst._set(_value(src)),
)

symbolic_torch = types.SimpleNamespace(
    is_complex=lambda x: False, view_as_real=lambda x: x, view_as_complex=lambda x: x,
    sqrt=lambda x: SymbolicArray(sp.sqrt(_value(x))),
    maximum=lambda a, b, out=None: (out._set if out is not None else SymbolicArray)(sp.Max(_value(a), _value(b))),
)


def _with_globals(module: types.ModuleType, replacements: dict[str, Any]) -> dict[str, Any]:
    """The module's namespace with ``replacements``, its functions rebound to that namespace."""
    namespace = dict(vars(module))
    namespace.update(replacements)
    for name, obj in list(namespace.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            namespace[name] = types.FunctionType(obj.__code__, namespace, obj.__name__, obj.__defaults__, obj.__closure__)
            namespace[name].__kwdefaults__ = obj.__kwdefaults__
    return namespace


def kernel_step_map(module: types.ModuleType, rule: UpdateRule, values: dict[str, Any], step: Any = rules.t) -> dict[sp.Symbol, sp.Expr]:
    """Execute ``module.update`` on symbols (param ``w``, grad ``g``, each state its symbol) with
    hyperparameters ``values`` (a symbol or number per keyword); return ``{symbol: new value}``."""
    backend = "np" if "np" in vars(module) else "torch"
    stand_in = symbolic_numpy if backend == "np" else symbolic_torch
    namespace = _with_globals(module, {backend: stand_in})
    buffers = {s.name: SymbolicArray(s.symbol) for s in rule.states}
    param = SymbolicArray(rules.w)
    args = [param, SymbolicArray(rules.g)] + [buffers.get(name, None) for name in module.STATES]
    keywords = {k: (step if k == "step" else values[k]) for k in module.UPDATE_ARGUMENTS}
    namespace["update"](*args, **keywords)
    known = {rule.hyperparameter(k).symbol: v for k, v in values.items() if k != "step"}
    out = {rules.w: param.expr}
    for s in rule.states:
        if decide(s.when, known) is not False:
            out[s.symbol] = buffers[s.name].expr
    return out


def structural_variants(rule: UpdateRule) -> list[dict[str, Any]]:
    """Every combination of the hyperparameters that guards depend on: flags False/True, numeric
    guards at 0 and at a positive symbol (the rule's own symbol, assumed positive)."""
    guarded = set()
    for a in rule.body:
        guarded |= {s for s in a.when.free_symbols}
    choices = []
    for h in rule.hyperparameters:
        if h.symbol not in guarded:
            continue
        if h.is_flag:
            choices.append([(h.name, False), (h.name, True)])
        else:
            choices.append([(h.name, 0), (h.name, sp.Symbol(h.symbol.name, positive=True))])
    variants = []
    for combo in itertools.product(*choices):
        values = dict(combo)
        try:
            rule.values(**{k: (1.0 if isinstance(v, sp.Symbol) else v) for k, v in values.items()})
        except ValueError:
            continue  # a combination torch refuses (nesterov without momentum)
        variants.append(values)
    return variants


def check_kernel(module: types.ModuleType, rule: UpdateRule) -> list[EquationComparison]:
    """The kernel's executed update against the model's step map, for every structural variant
    (and, for rules whose guards depend on t, at t = 1 and t = 2)."""
    t_guarded = any(rules.t in a.when.free_symbols for a in rule.body)
    steps: Iterable[Any] = (1, 2) if t_guarded else (rules.t,)
    out = []
    for variant in structural_variants(rule):
        symbols = {h.name: h.symbol for h in rule.hyperparameters if not h.is_flag}
        values = {**symbols, **variant}
        positive = {v: rule.hyperparameter(k).symbol for k, v in variant.items() if isinstance(v, sp.Symbol)}
        for step in steps:
            executed = kernel_step_map(module, rule, values, step)
            model = rule.step_map(**{k: v for k, v in variant.items()})
            label = ", ".join(f"{k}={'on' if isinstance(v, sp.Symbol) else v}" for k, v in variant.items()) or "plain"
            for sym in sorted(set(executed) | set(model), key=str):
                a = executed.get(sym, sp.nan).xreplace(positive)
                b = model.get(sym, sp.nan)
                if step != rules.t:
                    b = b.xreplace({rules.t: step})
                    b = sp.piecewise_fold(b) if b.has(sp.Piecewise) else b
                diff = sp.nan if sp.nan in (a, b) or a.has(sp.nan) else _difference(a, b)
                quantity = f"{sym} [{label}{'' if step == rules.t else f', t={step}'}]"
                out.append(EquationComparison(rule.name, quantity, a, b, diff, names=("kernel", "model")))
    return out


#: The generated Python backends that can be executed on symbols.
SYMBOLIC_BACKENDS = ("numpy", "torch")


def shipped_kernels() -> list[tuple[str, types.ModuleType, UpdateRule]]:
    """``(backend, generated module, its model)`` for every committed Python kernel module."""
    import importlib

    from ..codegen.render import module_name

    out = []
    for backend in SYMBOLIC_BACKENDS:
        for rule in rules.all_rules():
            name = f"symopt.kernels.{backend}.{module_name(rule)}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                module = None  # a model without its kernel: reported, and `symopt generate --check` fails
            out.append((backend, module, rule))
    return out


def check_all_kernels() -> list[tuple[str, EquationComparison]]:
    """Every shipped kernel against its model: ``(backend, comparison)`` rows; a model whose
    kernel module is missing is one row with an undefined (nan) difference."""
    out = []
    for backend, module, rule in shipped_kernels():
        if module is None:
            out.append((backend, EquationComparison(rule.name, "kernel module not generated (run `make generate`)",
                                                     sp.nan, sp.nan, sp.nan, names=("kernel", "model"))))
            continue
        out += [(backend, c) for c in check_kernel(module, rule)]
    return out


def _difference(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a − b`` simplified; float literals of the kernel (``x ** 0.5``) read as exact rationals."""
    floats = {f: sp.Rational(repr(float(f))) for f in a.atoms(sp.Float)}
    diff = a.xreplace(floats) - b
    if diff == 0 or sp.expand(diff) == 0:
        return sp.Integer(0)
    return sp.simplify(diff)
