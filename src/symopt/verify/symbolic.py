"""Run a generated kernel on symbols, and read back the update it computes.

The generated modules are ordinary Python over NumPy ufuncs (``np.multiply(a, b, out=c)``) or
torch tensor methods (``v.mul_(alpha).addcmul_(g, g, value=1 - alpha)``) and, in the multi-tensor
``update_foreach``, ``torch._foreach_*`` calls over lists (``_foreach_addcdiv_(params, m, s,
[-lr/c_1 for c_1 in c_1s])``). Executed with stand-ins for ``np``/``torch`` whose arrays hold one
SymPy expression each, a kernel returns, in its in-place buffers, the one-step map it implements.
:func:`kernel_step_map` does that for ``update``, :func:`kernel_foreach_step_maps` for
``update_foreach`` on lists of one and of two tensors (each with its own symbols and step);
:func:`check_kernel` compares every entry point with the model's
:meth:`~symopt.rules.UpdateRule.step_map` for every structural variant (every flag, every numeric
guard on and off). Nothing is parsed: the code that runs is the code that ships. The stand-ins are
strict: a torch function or an overload they do not model raises instead of passing.
"""

from __future__ import annotations

import itertools
import types
from typing import Any, Callable, Iterator

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

    def detach(self) -> SymbolicArray:
        return self

    def conj(self) -> SymbolicArray:
        return self

    def neg(self) -> SymbolicArray:
        return SymbolicArray(-self.expr)

    def square(self) -> SymbolicArray:
        return SymbolicArray(self.expr**2)

    #: what a generated kernel reads of a tensor's type (a per-tensor buffer's allocation)
    dtype = None

    def sum(self) -> SymbolicArray:
        """``Tensor.sum()`` over every element: the model's :class:`~symopt.rules.tensor_sum`."""
        return SymbolicArray(rules.tensor_sum(self.expr))

    def __truediv__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr / _value(other))

    def __rtruediv__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(_value(other) / self.expr)

    def __pow__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(self.expr ** _value(other))

    def __rpow__(self, other: Any) -> SymbolicArray:
        return SymbolicArray(_value(other) ** self.expr)

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
    add=_ufunc(lambda a, b: a + b),
    subtract=_ufunc(lambda a, b: a - b),
    multiply=_ufunc(lambda a, b: a * b),
    divide=_ufunc(lambda a, b: a / b),
    negative=_ufunc(lambda a: -a),
    square=_ufunc(lambda a: a * a),
    sqrt=_ufunc(sp.sqrt),
    maximum=_ufunc(sp.Max),
    minimum=_ufunc(sp.Min),
    empty_like=_fresh,
    empty=_fresh,
    sum=_ufunc(rules.tensor_sum),
    iscomplexobj=lambda x: False,
    copyto=lambda dst, src, **_: dst._set(_value(src)),
)


class _SymbolicTorch(types.SimpleNamespace):
    """The ``torch`` stand-in; a name it does not model raises instead of passing silently."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"symopt.verify.symbolic has no stand-in for torch.{name}; add one with torch's semantics")


def _tensor_list(xs: Any, argument: str) -> list[SymbolicArray]:
    """``xs`` as a ``Tensor[]`` argument: a non-empty list or tuple of tensors, nothing else."""
    if not isinstance(xs, (list, tuple)) or not xs or not all(isinstance(x, SymbolicArray) for x in xs):
        raise TypeError(f"{argument} must be a non-empty list of tensors; got {xs!r}")
    return list(xs)


def _operand(x: Any, n: int, argument: str) -> tuple[str, list[sp.Expr]]:
    """A foreach operand as ``(overload, one expression per tensor)``: ``"List"`` for a list of
    tensors (element i goes with tensor i), ``"ScalarList"`` for a list of scalars (entry i scales
    tensor i), ``"Scalar"`` for one scalar (the same for every tensor). torch's ``.Tensor``
    overload (one tensor for the whole list) is not modelled and raises, as does a list whose
    length is not the number of tensors."""
    if isinstance(x, (list, tuple)):
        if len(x) != n:
            raise ValueError(f"{argument} has {len(x)} entries but the tensor list has {n}; pass one per tensor")
        if all(isinstance(e, SymbolicArray) for e in x):
            return "List", [e.expr for e in x]
        if any(isinstance(e, SymbolicArray) for e in x) or any(e is None for e in x):
            raise TypeError(f"{argument} must be a list of tensors or a list of scalars; got {x!r}")
        return "ScalarList", [sp.sympify(e) for e in x]
    if isinstance(x, SymbolicArray) or x is None:
        raise TypeError(f"{argument} must be a scalar, a list of scalars or a list of tensors; got {x!r}")
    return "Scalar", [sp.sympify(x)] * n


def _foreach(name: str, new: Callable[..., list[sp.Expr]], inplace: bool) -> Callable[..., Any]:
    """``torch._foreach_<name>`` (``inplace``: ``_foreach_<name>_``) with ``new(self, *args, **kw)``
    giving each tensor's new expression: the in-place form writes them into the elements of the
    first list and returns None, the out-of-place form returns a new list. Every result is
    computed before any element is written, as the elementwise kernels read before they write."""

    def apply(self: Any, *args: Any, **keywords: Any) -> list[SymbolicArray] | None:
        tensors = _tensor_list(self, f"torch._foreach_{name}{'_' if inplace else ''}(self)")
        exprs = new([x.expr for x in tensors], *args, **keywords)
        if not inplace:
            return [SymbolicArray(e) for e in exprs]
        for x, e in zip(tensors, exprs):
            x._set(e)
        return None

    return apply


def _binary(name: str, fn: Callable[[sp.Expr, sp.Expr], sp.Expr], *, alpha: bool) -> Callable[..., list[sp.Expr]]:
    """``self_i ∘ other_i`` for ``other`` a scalar, a scalar list or a tensor list; with ``alpha``
    (add only, and only with a tensor list, as torch's ``.List`` overload): ``self_i + alpha·other_i``."""

    def new(selves: list[sp.Expr], other: Any, **keywords: Any) -> list[sp.Expr]:
        allowed = {"alpha"} if alpha else set()
        if set(keywords) - allowed:
            raise TypeError(
                f"torch._foreach_{name}() got an unexpected keyword argument {sorted(set(keywords) - allowed)[0]!r}"
            )
        overload, others = _operand(other, len(selves), f"torch._foreach_{name}(other)")
        if "alpha" in keywords:
            if overload != "List":
                raise TypeError(
                    f"torch._foreach_{name}(): alpha= goes with a list of tensors only; got a {overload} operand"
                )
            scale = sp.sympify(keywords["alpha"])
            others = [scale * o for o in others]
        return [fn(a, b) for a, b in zip(selves, others)]

    return new


def _pointwise(name: str, fn: Callable[[sp.Expr, sp.Expr], sp.Expr]) -> Callable[..., list[sp.Expr]]:
    """``addcmul``/``addcdiv``: ``self_i + value_i · fn(tensor1_i, tensor2_i)``, with ``value=`` one
    scalar (default 1) or, positionally, one scalar or a list of one scalar per tensor."""

    def new(selves: list[sp.Expr], tensor1: Any, tensor2: Any, *scalars: Any, **keywords: Any) -> list[sp.Expr]:
        if set(keywords) - {"value", "scalars"} or len(scalars) + len(keywords) > 1:
            raise TypeError(
                f"torch._foreach_{name}() takes (self, tensor1, tensor2, value=1 | scalars); got {scalars!r} {keywords!r}"
            )
        n = len(selves)
        t1 = [x.expr for x in _tensor_list(tensor1, f"torch._foreach_{name}(tensor1)")]
        t2 = [x.expr for x in _tensor_list(tensor2, f"torch._foreach_{name}(tensor2)")]
        if not len(t1) == len(t2) == n:
            raise ValueError(
                f"torch._foreach_{name}: tensor1, tensor2 and self have {len(t1)}, {len(t2)} and {n} tensors; pass one per tensor"
            )
        value = scalars[0] if scalars else next(iter(keywords.values()), 1)
        overload, values = _operand(value, n, f"torch._foreach_{name}(scalars)")
        if (
            overload == "List"
            or ("value" in keywords and overload != "Scalar")
            or ("scalars" in keywords and overload != "ScalarList")
        ):
            raise TypeError(
                f"torch._foreach_{name}(): value= is one scalar and scalars a list of scalars; got {value!r}"
            )
        return [s + v * fn(a, b) for s, v, a, b in zip(selves, values, t1, t2)]

    return new


def _lerp(selves: list[sp.Expr], tensors1: Any, *weight: Any, **keywords: Any) -> list[sp.Expr]:
    """``self_i + weight_i·(end_i − self_i)``, ``weight`` a scalar, a scalar list or a tensor list."""
    if set(keywords) - {"weight", "weights"} or len(weight) + len(keywords) != 1:
        raise TypeError(f"torch._foreach_lerp() takes (self, tensors1, weight); got {weight!r} {keywords!r}")
    ends = [x.expr for x in _tensor_list(tensors1, "torch._foreach_lerp(tensors1)")]
    if len(ends) != len(selves):
        raise ValueError(
            f"torch._foreach_lerp: tensors1 has {len(ends)} tensors but self has {len(selves)}; pass one per tensor"
        )
    _, weights = _operand(
        weight[0] if weight else next(iter(keywords.values())), len(selves), "torch._foreach_lerp(weight)"
    )
    return [s + w * (e - s) for s, e, w in zip(selves, ends, weights)]


def _unary(name: str, fn: Callable[[sp.Expr], sp.Expr]) -> Callable[..., list[sp.Expr]]:
    def new(selves: list[sp.Expr], *args: Any, **keywords: Any) -> list[sp.Expr]:
        if args or keywords:
            raise TypeError(f"torch._foreach_{name}() takes only self; got {args!r} {keywords!r}")
        return [fn(s) for s in selves]

    return new


def _copy(selves: list[sp.Expr], src: Any, non_blocking: bool = False) -> list[sp.Expr]:
    sources = [x.expr for x in _tensor_list(src, "torch._foreach_copy_(src)")]
    if len(sources) != len(selves):
        raise ValueError(
            f"torch._foreach_copy_: src has {len(sources)} tensors but self has {len(selves)}; pass one per tensor"
        )
    return sources


#: each ``torch._foreach_*`` function the Torch foreach printer can emit (an ``Op`` method of
#: :mod:`symopt.codegen.printers.torch`, in place and out of place), as ``name → new values``
FOREACH_FUNCTIONS: dict[str, Callable[..., list[sp.Expr]]] = {
    "add": _binary("add", lambda a, b: a + b, alpha=True),
    "sub": _binary("sub", lambda a, b: a - b, alpha=True),
    "mul": _binary("mul", lambda a, b: a * b, alpha=False),
    "div": _binary("div", lambda a, b: a / b, alpha=False),
    "maximum": _binary("maximum", sp.Max, alpha=False),
    "addcmul": _pointwise("addcmul", lambda a, b: a * b),
    "addcdiv": _pointwise("addcdiv", lambda a, b: a / b),
    "lerp": _lerp,
    "sqrt": _unary("sqrt", sp.sqrt),
    "neg": _unary("neg", lambda a: -a),
    "reciprocal": _unary("reciprocal", lambda a: 1 / a),
    "pow": _binary("pow", lambda a, b: a**b, alpha=False),
}


def _foreach_pow(self: Any, exponent: Any) -> list[SymbolicArray]:
    """``torch._foreach_pow``: ``self_i ** exponent_i`` for a tensor list ``self`` (``exponent`` a
    scalar, a scalar list or a tensor list), or ``self ** exponent_i`` for a scalar ``self`` and a
    tensor list ``exponent`` (torch's ``.ScalarAndTensor`` overload: Adam's β^t on the steps)."""
    if isinstance(self, (list, tuple)):
        return _foreach("pow", FOREACH_FUNCTIONS["pow"], inplace=False)(self, exponent)
    if isinstance(self, SymbolicArray) or self is None:
        raise TypeError(f"torch._foreach_pow(self) must be a list of tensors or a scalar; got {self!r}")
    return [SymbolicArray(sp.sympify(self) ** e.expr) for e in _tensor_list(exponent, "torch._foreach_pow(exponent)")]


symbolic_torch = _SymbolicTorch(
    Tensor=SymbolicArray,
    is_complex=lambda x: False,
    view_as_real=lambda x: x,
    view_as_complex=lambda x: x,
    sqrt=lambda x: SymbolicArray(sp.sqrt(_value(x))),
    maximum=lambda a, b, out=None: (out._set if out is not None else SymbolicArray)(sp.Max(_value(a), _value(b))),
    _foreach_copy_=_foreach("copy", _copy, inplace=True),
    **{
        **{
            f"_foreach_{name}{'_' if inplace else ''}": _foreach(name, fn, inplace)
            for name, fn in FOREACH_FUNCTIONS.items()
            for inplace in (False, True)
        },
        "_foreach_pow": _foreach_pow,
    },
)


def _with_globals(module: types.ModuleType, replacements: dict[str, Any]) -> dict[str, Any]:
    """The module's namespace with ``replacements``, its functions rebound to that namespace."""
    namespace = dict(vars(module))
    namespace.update(replacements)
    for name, obj in list(namespace.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            namespace[name] = types.FunctionType(
                obj.__code__, namespace, obj.__name__, obj.__defaults__, obj.__closure__
            )
            namespace[name].__kwdefaults__ = obj.__kwdefaults__
    return namespace


def kernel_step_map(
    module: types.ModuleType, rule: UpdateRule, values: dict[str, Any], step: Any = rules.t, entry: str = "update"
) -> dict[sp.Symbol, sp.Expr]:
    """Execute ``module.<entry>`` (``update``, ``update_differentiable``, ``update_capturable``) on
    symbols (param ``w``, grad ``g``, each state its symbol) with hyperparameters ``values`` (a
    symbol or number per keyword); return ``{symbol: new value}``."""
    backend = "np" if "np" in vars(module) else "torch"
    stand_in = symbolic_numpy if backend == "np" else symbolic_torch
    namespace = _with_globals(module, {backend: stand_in})
    buffers = {s.name: SymbolicArray(s.symbol) for s in rule.states}
    param = SymbolicArray(rules.w)
    args = [param, SymbolicArray(rules.g)] + [buffers.get(name, None) for name in module.STATES]
    step_argument = SymbolicArray(step) if _step_is_tensor(module, entry) else step
    keywords = {k: (step_argument if k == "step" else values[k]) for k in module.UPDATE_ARGUMENTS}
    created = namespace[entry](*args, **keywords)
    buffers.update(created or {})  # a lazy state the kernel created (its LAZY_STATES), returned
    known = _known(rule, values)
    out = {rules.w: param.expr}
    for s in rule.states:
        if decide(s.when, known) is not False:
            out[s.symbol] = buffers[s.name].expr
    return out


def _known(rule: UpdateRule, values: dict[str, Any]) -> dict[sp.Symbol, Any]:
    return {rule.hyperparameter(k).symbol: v for k, v in values.items() if k != "step"}


def _tensor_symbols(rule: UpdateRule) -> list[sp.Symbol]:
    """The symbols that belong to one tensor of a foreach list: param, grad, each state, and t."""
    return [rules.w, rules.g] + [s.symbol for s in rule.states] + [rules.t]


def kernel_foreach_step_maps(
    module: types.ModuleType, rule: UpdateRule, values: dict[str, Any], steps: list[Any], entry: str = "update_foreach"
) -> list[dict[sp.Symbol, sp.Expr]]:
    """Execute ``module.<entry>`` (``update_foreach``, ``update_foreach_capturable``: the step
    tensors as a list) on lists of ``len(steps)`` symbolic tensors, tensor i at
    step ``steps[i]``, as :func:`symopt.torch.functional.run_kernel` calls it (a state the
    variant does not keep is None); return, per tensor, ``{symbol: new value}`` as
    :func:`kernel_step_map` does.

    Tensor 0 holds the rule's own symbols; tensor i > 0 fresh copies of them (t too, where
    ``steps[i]`` is ``t``), which are read back as the rule's afterwards: a result that mixes the
    tensors (tensor 1's update reading tensor 0's state, a scalar list applied to the wrong
    tensor) keeps a foreign symbol and differs from the model."""
    namespace = _with_globals(module, {"torch": symbolic_torch})
    known = _known(rule, values)
    kept = [s for s in rule.states if decide(s.when, known) is not False]
    copies = [
        {x: x if i == 0 else sp.Dummy(f"{x.name}_{i}", **x.assumptions0) for x in _tensor_symbols(rule)}
        for i in range(len(steps))
    ]
    params = [SymbolicArray(c[rules.w]) for c in copies]
    buffers = {s.name: [SymbolicArray(c[s.symbol]) for c in copies] for s in kept}
    args = [params, [SymbolicArray(c[rules.g]) for c in copies]] + [buffers.get(name) for name in module.STATES]
    step_list = [sp.sympify(step).xreplace({rules.t: c[rules.t]}) for step, c in zip(steps, copies)]
    if _step_is_tensor(module, entry):
        step_list = [SymbolicArray(x) for x in step_list]
    keywords = {
        ("steps" if k == "step" else k): (step_list if k == "step" else values[k]) for k in module.UPDATE_ARGUMENTS
    }
    namespace[entry](*args, **keywords)
    out = []
    for i, c in enumerate(copies):
        back = {copy: x for x, copy in c.items()}
        new = {rules.w: params[i].expr.xreplace(back)}
        new.update({s.symbol: buffers[s.name][i].expr.xreplace(back) for s in kept})
        out.append(new)
    return out


def structural_variants(rule: UpdateRule) -> list[dict[str, Any]]:
    """Every combination of the hyperparameters that guards depend on: flags False/True, numeric
    guards at 0 and at a positive symbol (the rule's own symbol, assumed positive)."""
    guarded = set()
    for a in rule.body:
        guarded |= {s for s in a.when.free_symbols}
    choices: list[list[tuple[str, Any]]] = []
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


#: the entry points of a generated kernel module that :func:`check_kernel` executes, each with
#: the module flag that says the module has it (None: every module has it)
ENTRY_POINTS: dict[str, str | None] = {
    "update": None,
    "update_foreach": "FOREACH",
    "update_differentiable": "DIFFERENTIABLE",
    "update_capturable": "CAPTURABLE",
    "update_foreach_capturable": "CAPTURABLE",
}
#: the entry points that take lists of tensors (one symbolic tensor per list entry)
LIST_ENTRY_POINTS = ("update_foreach", "update_foreach_capturable")


def entry_points(module: types.ModuleType) -> tuple[str, ...]:
    """The entry points ``module`` has: ``update``, and each other of :data:`ENTRY_POINTS` whose
    flag the module sets (a Torch module's ``FOREACH``, ``DIFFERENTIABLE``, ``CAPTURABLE``)."""
    return tuple(e for e, flag in ENTRY_POINTS.items() if flag is None or getattr(module, flag, False))


def _step_is_tensor(module: types.ModuleType, entry: str) -> bool:
    """Whether ``entry`` takes t as the state's step tensor (the capturable forms, and the
    differentiable one where ``DIFFERENTIABLE_STEP`` says so) rather than a Python number."""
    return "capturable" in entry or (
        entry == "update_differentiable" and getattr(module, "DIFFERENTIABLE_STEP", "") == "tensor"
    )


def check_kernel(module: types.ModuleType, rule: UpdateRule) -> list[EquationComparison]:
    """Every entry point of the kernel (:func:`entry_points`) against the model's step map."""
    return [c for entry in entry_points(module) for c in check_entry(module, rule, entry)]


def check_entry(module: types.ModuleType, rule: UpdateRule, entry: str = "update") -> list[EquationComparison]:
    """The kernel's executed ``entry`` (``update``, or ``update_foreach`` on lists of one and of
    two tensors) against the model's step map, for every structural variant (and, for rules
    whose guards depend on t, at t = 1 and t = 2)."""
    return list(_comparisons(module, rule, entry, _difference))


def first_difference(module: types.ModuleType, rule: UpdateRule) -> EquationComparison | None:
    """The first quantity of any entry point where the kernel differs from its model, or None:
    :func:`check_kernel`'s verdict without simplifying every difference (a pair that differs
    at a sample point is different; only pairs that agree there are simplified)."""
    for entry in entry_points(module):
        for c in _comparisons(module, rule, entry, _sampled_difference):
            if not c.identical:
                return c
    return None


def _comparisons(module: types.ModuleType, rule: UpdateRule, entry: str, difference) -> Iterator[EquationComparison]:
    """The comparisons of :func:`check_entry`, one at a time, each difference by ``difference``."""
    if entry not in ENTRY_POINTS:
        raise ValueError(f"entry must be one of {tuple(ENTRY_POINTS)}; got {entry!r}")
    t_guarded = any(rules.t in a.when.free_symbols for a in rule.body)
    steps: tuple[Any, ...] = (1, 2) if t_guarded else (rules.t,)
    #: foreach: one tensor at each step, and two tensors (at t = 1 and 2, or both at their own t)
    step_lists = [[s] for s in steps] + [list(steps) if t_guarded else [rules.t, rules.t]]
    for variant in structural_variants(rule):
        symbols = {h.name: h.symbol for h in rule.hyperparameters if not h.is_flag}
        values = {**symbols, **variant}
        positive = {v: rule.hyperparameter(k).symbol for k, v in variant.items() if isinstance(v, sp.Symbol)}
        model = rule.step_map(**{k: v for k, v in variant.items()})
        label = ", ".join(f"{k}={'on' if isinstance(v, sp.Symbol) else v}" for k, v in variant.items()) or "plain"
        runs: list[tuple[str, Any, dict[sp.Symbol, sp.Expr]]] = []
        if entry not in LIST_ENTRY_POINTS:
            named = "" if entry == "update" else f"; {entry}"
            runs = [
                (
                    f"{label}{named}{'' if step == rules.t else f', t={step}'}",
                    step,
                    kernel_step_map(module, rule, values, step, entry),
                )
                for step in steps
            ]
        else:
            for step_list in step_lists:
                n = len(step_list)
                for i, (step, executed) in enumerate(
                    zip(step_list, kernel_foreach_step_maps(module, rule, values, step_list, entry))
                ):
                    at = "" if step == rules.t else f", t={step}"
                    runs.append((f"{label}; {entry}, tensor {i + 1} of {n}{at}", step, executed))
        for tag, step, executed in runs:
            for sym in sorted(set(executed) | set(model), key=str):
                a = executed.get(sym, sp.nan).xreplace(positive)
                b = model.get(sym, sp.nan)
                if step != rules.t:
                    b = b.xreplace({rules.t: step})
                    b = sp.piecewise_fold(b) if b.has(sp.Piecewise) else b
                diff = sp.nan if sp.nan in (a, b) or a.has(sp.nan) else difference(a, b)
                yield EquationComparison(rule.name, f"{sym} [{tag}]", a, b, diff, names=("kernel", "model"))


#: The generated Python backends that can be executed on symbols.
SYMBOLIC_BACKENDS = ("numpy", "torch")


def shipped_kernels() -> list[tuple[str, types.ModuleType | None, UpdateRule]]:
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
    """Every entry point of every shipped kernel against its model: ``(entry, comparison)`` rows,
    ``entry`` as ``"torch.update_foreach"``; a model whose kernel module is missing is one row
    ``(backend, comparison)`` with an undefined (nan) difference."""
    out = []
    for backend, module, rule in shipped_kernels():
        if module is None:
            out.append(
                (
                    backend,
                    EquationComparison(
                        rule.name,
                        "kernel module not generated (run `make generate`)",
                        sp.nan,
                        sp.nan,
                        sp.nan,
                        names=("kernel", "model"),
                    ),
                )
            )
            continue
        for entry in entry_points(module):
            out += [(f"{backend}.{entry}", c) for c in check_entry(module, rule, entry)]
    return out


def checked_entry_points(rows: list[tuple[str, EquationComparison]]) -> dict[str, int]:
    """``{entry: number of kernels}`` over :func:`check_all_kernels` rows (``"torch.update_foreach":
    7``), in the order checked; a missing module's row counts under its backend alone."""
    kernels: dict[str, set[str]] = {}
    for entry, c in rows:
        kernels.setdefault(entry, set()).add(c.family)
    return {entry: len(families) for entry, families in kernels.items()}


def _sampled_difference(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a − b`` at a sample point (every symbol a distinct number in (0.1, 0.9), t = 3) when that
    is clearly nonzero; else exactly, by :func:`_difference`. The kernel's float literals read as
    the exact rationals they are (as :func:`_difference` reads them): evaluated as 15-digit floats
    at 30 digits they differ from the model's exact constants at ~1e-17, which would make every
    kernel with one "differ" at the sample."""
    free = sorted((a.free_symbols | b.free_symbols) - {rules.t}, key=str)
    point = {s: sp.Rational(101 + 37 * i, 400) for i, s in enumerate(free)}
    point[rules.t] = sp.Integer(3)
    a = _exact_literals(a)
    try:
        x, y = (sp.N(e.xreplace(point), 30) for e in (a, b))
        if x.is_real and y.is_real and abs(x - y) > 1e-20 * (abs(x) + abs(y) + 1e-30):
            return sp.Float(x - y, 30)
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return _difference(a, b)


def _exact_literals(a: sp.Expr) -> sp.Expr:
    """``a`` with each float literal of the kernel (``x ** 0.5``, ``1e-3``) as the rational its
    shortest decimal repr names."""
    return a.xreplace({f: sp.Rational(repr(float(f))) for f in a.atoms(sp.Float)})


def _difference(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a − b`` simplified; float literals of the kernel (``x ** 0.5``) read as exact rationals."""
    diff = _exact_literals(a) - b
    if diff == 0 or sp.expand(diff) == 0:
        return sp.Integer(0)
    return sp.simplify(diff)
