"""The Torch printers: each assignment of a rule as the in-place tensor operations torch.optim uses,
in the same order. :class:`TorchKernelPrinter` prints torch.optim's for-loop (``foreach=False``),
:class:`TorchForeachKernelPrinter` the same operations as ``torch._foreach_*`` calls over lists of
tensors (``foreach=True``), so that generated kernels are bitwise equal to both code paths.

Shapes are recognised by matching the model's SymPy expressions against :class:`sympy.Wild`
patterns, never by the name of a rule. Each shape becomes a chain of :class:`Op` (a tensor method
and its arguments), which the two printers render. With ``T`` the target, ``X, Y`` tensors and
``a, c, d`` Python scalars:

==================================  ==============================================  ==========================================
model                               for-loop (single tensor)                        foreach (lists of tensors)
==================================  ==============================================  ==========================================
``T ← a·T + c·X·Y``                 ``T.mul_(a).addcmul_(X, Y, value=c)``           ``_foreach_mul_(T, a)``; ``_foreach_addcmul_(T, X, Y, value=c)``
``T ← a·T + c·X/Y``                 ``T.mul_(a).addcdiv_(X, Y, value=c)``           ``_foreach_mul_``; ``_foreach_addcdiv_``
``T ← a·T + c·X``, ``T ← T + d``    ``T.mul_(a).add_(X, alpha=c)``, ``T.add_(d)``   ``_foreach_add_(T, X, alpha=c)``, ``_foreach_add_(T, d)``
``T ← T + c·(X − T)``               ``T.lerp_(X, c)``                               ``_foreach_lerp_(T, X, c)``
``T ← max(T, X)``                   ``torch.maximum(T, X, out=T)``                  ``_foreach_maximum_(T, X)``
``T ← X + c·Y`` (T not owned)       ``T = X.add(Y, alpha=c)``                       ``T = _foreach_add(X, Y, alpha=c)``
``T ← √(X + c·Y·Z)``                ``T = X.addcmul(Y, Z, value=c).sqrt_()``        ``T = _foreach_addcmul(...)``; ``_foreach_sqrt_(T)``
``T ← √X / d``                      ``T = X.sqrt().div_(d)``                        ``T = _foreach_sqrt(X)``; ``_foreach_div_(T, d)``
``T ← −X``                          ``T = -X``                                      ``T = _foreach_neg(X)``
``T ← X``                           ``T.copy_(X)`` for a state, else ``T = X``      ``_foreach_copy_(T, X)``, else ``T = X``
==================================  ==============================================  ==========================================

In-place forms are used on the parameter, the states and temporaries the kernel allocated itself;
``grad`` is never written in place (the caller's gradient is rebound, as torch does). Scalar
assignments (``η_t = η/(1 + (t − 1)γ)``) are Python float arithmetic; in a foreach kernel a scalar
that depends on the step ``t`` is a list with one entry per tensor (``eta_ts = [... for step in
steps]``), and where it scales a tensor operand (``value=``/``alpha=``) that operand is multiplied
first (``torch._foreach_mul(grads, [...])``), as torch's ``_multi_tensor_adagrad`` does with its
``minus_clr``. Anything else falls back, in the for-loop printer, to an out-of-place expression
printed by :class:`TorchExprPrinter` (``torch.sqrt(...)``), strictly; the foreach printer has no
fallback and raises :class:`CodegenError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Callable, Optional

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.pytorch import TorchPrinter

from ...rules import Assign, UpdateRule, t
from ._common import (
    CodegenError,
    KernelPrinterMixin,
    ScalarPrinter,
    _construct,
    arguments,
    assignment_comment,
    identifier,
    indent,
)


@dataclass(frozen=True)
class Op:
    """One tensor method: ``method`` (without the trailing ``_``), its tensor arguments, and at most
    one scalar argument: ``(keyword, expr)`` with keyword ``""`` for a positional scalar."""

    method: str
    tensors: tuple[sp.Symbol, ...] = ()
    scalar: Optional[tuple[str, sp.Expr]] = None


@dataclass(frozen=True)
class Chain:
    """``head`` followed by ``ops``. ``inplace``: the first op updates ``head`` in place (``head`` is
    the target); otherwise the first op is out of place and the rest update its fresh result."""

    head: sp.Symbol
    ops: tuple[Op, ...]
    inplace: bool

    @property
    def fresh(self) -> bool:
        """Whether the chain yields a tensor the kernel allocated (not the head itself)."""
        return bool(self.ops) and not self.inplace


class TorchExprPrinter(TorchPrinter):
    """Out-of-place tensor expressions (the fallback), strict; scalar sub-expressions in Python."""

    printmethod = "_symopt_torch"

    def __init__(self, names: dict[sp.Symbol, str], tensors: frozenset[sp.Symbol]):
        super().__init__({"strict": True})
        self.names = names
        self.tensors = tensors
        self.scalars = ScalarPrinter(names)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.scalars._print_Symbol(expr)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if not (base.free_symbols & self.tensors):
            return self.scalars._print(expr)
        if exp == sp.S.Half:
            return f"torch.sqrt({self._print(base)})"
        if exp == -1:
            return f"1 / {self.parenthesize(base, 50)}"
        return f"{self.parenthesize(base, 60)}**{self.parenthesize(exp, 60)}"

    def doprint(self, expr, assign_to=None):
        try:
            return super().doprint(expr, assign_to)
        except PrintMethodNotImplementedError as exc:
            raise CodegenError(f"{type(self).__name__} cannot print {_construct(expr, exc)} in {expr}") from None


class TorchKernelPrinter(KernelPrinterMixin, TorchPrinter):
    """Prints an :class:`~symopt.rules.UpdateRule` body as torch.optim's single-tensor code."""

    printmethod = "_symopt_torch_kernel"

    def __init__(self, settings: dict | None = None):
        super().__init__({"strict": True, **(settings or {})})

    def kernel_body(self, rule: UpdateRule) -> str:
        """The statements of ``update(param, grad, <states>, *, <hyperparameters>)``."""
        return self._print(rule)

    def template_fields(self, rule: UpdateRule) -> dict[str, str]:
        """Extra fields of the torch template: the foreach function (or why there is none)."""
        try:
            body = TorchForeachKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"foreach": "False", "foreach_function": f"\n\n# No foreach kernel: {exc}.\n"}
        args = tuple("steps" if a == "step" else a for a in arguments(rule))
        template = resources.files("symopt.codegen").joinpath("templates", "torch_foreach_function.py.tmpl")
        text = Template(template.read_text(encoding="utf-8")).substitute(
            state_parameters="".join(f", {identifier(s.name)}s" for s in rule.states),
            update_signature=(", *, " + ", ".join(args)) if args else "",
            body="\n".join(indent(body.splitlines())),
        )
        return {"foreach": "True", "foreach_function": "\n\n" + text.rstrip("\n") + "\n"}

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        self.fallback = TorchExprPrinter(self.names, self.tensors)
        scalar = lambda e: self.is_scalar(e)  # noqa: E731
        tensor = lambda e: self.is_tensor_symbol(e)  # noqa: E731
        self.c = sp.Wild("c", properties=[scalar])
        self.X = sp.Wild("X", properties=[tensor])
        self.Y = sp.Wild("Y", properties=[tensor])
        c, X, Y = self.c, self.X, self.Y
        #: one term of a sum → its op; first match wins.
        self.term_patterns: list[tuple[sp.Expr, Callable[[dict], Op]]] = [
            (c * X / Y, lambda m: Op("addcdiv", (m[X], m[Y]), ("value", m[c]))),
            (c * X**2, lambda m: Op("addcmul", (m[X], m[X]), ("value", m[c]))),
            (c * X * Y, lambda m: Op("addcmul", (m[X], m[Y]), ("value", m[c]))),
            (c * X, lambda m: Op("add", (m[X],), ("alpha", m[c]))),
        ]

    # -- statements ---------------------------------------------------------------------------
    def before_state_updates(self) -> list[str]:
        """torch views complex tensors as real after the gradient transformations (maximize,
        weight decay) and before the first state update; so does the kernel (``_real`` is the
        template's ``view_as_real`` that passes real tensors and None through)."""
        names = [self.tname(s) for s in self.viewed()]
        return ["# complex tensors: their real view from here on, as torch.optim", f"{', '.join(names)} = {', '.join(f'_real({n})' for n in names)}"]

    def viewed(self) -> list[sp.Symbol]:
        from ...rules import g, w

        return [w, g] + [s.symbol for s in self.rule.states]

    def tname(self, symbol: sp.Symbol) -> str:
        """The name of a tensor symbol (a list of tensors in the foreach printer)."""
        return self.name(symbol)

    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        lines = [assignment_comment(assign)]
        if self.is_scalar(expr):
            lines += self.scalar_assignment(target, expr)
            return lines
        if self.is_tensor_symbol(expr):
            if target in self.persistent:
                lines += self.render(Chain(target, (Op("copy", (expr,)),), True))
            else:
                lines.append(f"{self.tname(target)} = {self.tname(expr)}")
                self.note_definition(target, False, assign.when)
            return lines
        chain = self._inplace(target, expr) if self.is_owned(target) else None
        if chain is not None:
            lines += self.render(chain)
            self.note_definition(target, True, assign.when)
            return lines
        made = self._chain(expr)
        if made is None:
            lines += self.fallback_assignment(target, expr, assign)
            return lines
        if target in self.persistent:
            lines += self.render_copy(target, made)
        else:
            lines += self.render(made, target)
            self.note_definition(target, made.fresh, assign.when)
        return lines

    def scalar_assignment(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        return [f"{self.name(target)} = {self.scalar(expr)}"]

    def fallback_assignment(self, target: sp.Symbol, expr: sp.Expr, assign: Assign) -> list[str]:
        code = self.fallback.doprint(expr)
        if target in self.persistent:
            return [f"{self.name(target)}.copy_({code})"]
        self.note_definition(target, True, assign.when)
        return [f"{self.name(target)} = {code}"]

    # -- rendering a chain as tensor methods ----------------------------------------------------
    def render(self, chain: Chain, target: Optional[sp.Symbol] = None) -> list[str]:
        """The statement for ``chain``: in place on its head, or assigned to ``target``."""
        code = self.chain_code(chain)
        return [code] if target is None else [f"{self.name(target)} = {code}"]

    def render_copy(self, target: sp.Symbol, chain: Chain) -> list[str]:
        return [f"{self.name(target)}.copy_({self.chain_code(chain)})"]

    def chain_code(self, chain: Chain) -> str:
        head = self.name(chain.head)
        if not chain.ops:
            return head
        first = chain.ops[0]
        if first.method == "neg" and len(chain.ops) == 1 and not chain.inplace:
            return f"-{head}"
        if first.method == "maximum" and chain.inplace and len(chain.ops) == 1:
            return f"torch.maximum({head}, {self.name(first.tensors[0])}, out={head})"
        code = head
        for k, op in enumerate(chain.ops):
            inplace = chain.inplace or k > 0
            code += f".{op.method}{'_' if inplace else ''}({self.op_arguments(op)})"
        return code

    def op_arguments(self, op: Op) -> str:
        """``X, Y, value=c``; a keyword scalar is left out when it is 1 (torch's default)."""
        parts = [self.name(x) for x in op.tensors]
        if op.scalar is not None:
            key, value = op.scalar
            if not key:
                parts.append(self.scalar(value))
            elif value != 1:
                parts.append(f"{key}={self.scalar(value)}")
        return ", ".join(parts)

    # -- in place: T ← f(T, ...) --------------------------------------------------------------
    def _inplace(self, target: sp.Symbol, expr: sp.Expr) -> Optional[Chain]:
        """The chain updating ``T`` in place when ``expr`` is one of the in-place shapes, else None."""
        lerp = (expr - target).match(self.c * (self.X - target))
        if lerp is not None and lerp[self.X] != target:
            return Chain(target, (Op("lerp", (lerp[self.X],), ("", lerp[self.c])),), True)
        if expr == sp.sqrt(target):
            return Chain(target, (Op("sqrt"),), True)
        if isinstance(expr, sp.Max) and len(expr.args) == 2 and target in expr.args:
            other = expr.args[0] if expr.args[1] == target else expr.args[1]
            if self.is_tensor_symbol(other):
                return Chain(target, (Op("maximum", (other,)),), True)
        terms = list(sp.Add.make_args(expr))
        for i, term in enumerate(terms):
            m = term.match(self.c * target)
            if m is not None and self.is_scalar(m[self.c]):
                rest = terms[:i] + terms[i + 1 :]
                if any(target in r.free_symbols for r in rest):
                    return None
                head = [] if m[self.c] == 1 else [Op("mul", (), ("", m[self.c]))]
                ops = self._accumulate(rest)
                return Chain(target, tuple(head + ops), True) if ops is not None and (head or ops) else None
        return None

    # -- out of place: a chain that starts from an existing tensor ----------------------------
    def _chain(self, expr: sp.Expr) -> Optional[Chain]:
        """``expr`` as a chain of tensor methods on an existing tensor, or None."""
        if self.is_tensor_symbol(expr):
            return Chain(expr, (), False)
        if isinstance(expr, sp.Pow) and expr.exp == sp.S.Half:
            inner = self._chain(expr.base)
            return None if inner is None else Chain(inner.head, inner.ops + (Op("sqrt"),), False)
        if isinstance(expr, sp.Mul):
            scale = sp.Mul(*[a for a in expr.args if self.is_scalar(a)])
            tensor = sp.Mul(*[a for a in expr.args if self.is_tensor(a)])
            if scale == -1 and self.is_tensor_symbol(tensor):
                return Chain(tensor, (Op("neg"),), False)
            inner = self._chain(tensor) if tensor != expr else None
            if inner is None:
                return None
            numerator, denominator = sp.fraction(scale)
            ops = [] if numerator == 1 else [Op("mul", (), ("", numerator))]
            ops += [] if denominator == 1 else [Op("div", (), ("", denominator))]
            return Chain(inner.head, inner.ops + tuple(ops), False)
        if isinstance(expr, sp.Add):
            terms = list(expr.args)
            for i, term in enumerate(terms):
                if self.is_tensor_symbol(term):
                    ops = self._accumulate(terms[:i] + terms[i + 1 :])
                    return None if ops is None else Chain(term, tuple(ops), False)
        return None

    def _accumulate(self, terms: list[sp.Expr]) -> Optional[list[Op]]:
        """One op per term, tensor terms first, then scalars; None when a term has no pattern."""
        ordered = [x for x in terms if self.is_tensor(x)] + [x for x in terms if self.is_scalar(x)]
        ops = []
        for term in ordered:
            op = self._term(term)
            if op is None:
                return None
            ops.append(op)
        return ops

    def _term(self, term: sp.Expr) -> Optional[Op]:
        if self.is_scalar(term):
            return Op("add", (), ("", term))
        for pattern, emit in self.term_patterns:
            m = term.match(pattern)
            if m is not None and all(k in m for k in pattern.atoms(sp.Wild)):
                return emit(m)
        return None


class TorchForeachKernelPrinter(TorchKernelPrinter):
    """Prints an :class:`~symopt.rules.UpdateRule` body as torch.optim's multi-tensor code: the
    same ops as :class:`TorchKernelPrinter`, each as one ``torch._foreach_*`` call over lists
    (``params``, ``grads``, one list per state; ``steps`` the step of each tensor)."""

    printmethod = "_symopt_torch_foreach_kernel"
    #: torch's multi-tensor code views complex tensors as real first, before maximize and weight
    #: decay (the for-loop after them); on a real view ``add(..., alpha=λ)`` may fuse λw + g into one
    #: rounding where the complex op rounds twice, so the place matters for bitwise equality.
    prelude_first = True

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        self.per_tensor = {t}
        for a in rule.body:
            if self.is_scalar(a.expr) and a.expr.free_symbols & self.per_tensor:
                self.per_tensor.add(a.target)
        self._scratch = 0
        self.scale_in_op = rule.conventions.foreach_scale == "op"

    def tname(self, symbol: sp.Symbol) -> str:
        return self.name(symbol) + "s"

    def before_state_updates(self) -> list[str]:
        """torch's ``_view_as_real(params, grads, <states>)`` (``_reals``: None passes through)."""
        names = [self.tname(s) for s in self.viewed()]
        return ["# complex tensors: their real view, first, as torch.optim's foreach path", f"{', '.join(names)} = {', '.join(f'_reals({n})' for n in names)}"]

    def guard(self, condition: sp.Basic) -> str:
        if condition.free_symbols & self.per_tensor:
            raise CodegenError(f"the guard {condition} depends on the step, which differs between the tensors of a foreach call")
        return super().guard(condition)

    def scalar(self, expr: sp.Basic) -> str:
        """A scalar; one per tensor (a list comprehension) when it depends on the step."""
        if expr in self.per_tensor:
            return f"{self.name(expr)}s"
        varying = sorted(expr.free_symbols & self.per_tensor, key=lambda s: s.name)
        code = super().scalar(expr)
        if not varying:
            return code
        names = [self.name(s) for s in varying]
        lists = [f"{n}s" for n in names]
        source = lists[0] if len(lists) == 1 else f"zip({', '.join(lists)})"
        return f"[{code} for {', '.join(names)} in {source}]"

    def scalar_assignment(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        if target in self.per_tensor:
            return [f"{self.name(target)}s = {self.scalar(expr)}"]
        return super().scalar_assignment(target, expr)

    def fallback_assignment(self, target: sp.Symbol, expr: sp.Expr, assign: Assign) -> list[str]:
        raise CodegenError(f"{type(self).__name__} has no foreach form for {target} ← {expr}")

    def render(self, chain: Chain, target: Optional[sp.Symbol] = None) -> list[str]:
        if not chain.ops:
            return [f"{self.tname(target)} = {self.tname(chain.head)}"]
        lines: list[str] = []
        if chain.inplace:
            dest = self.tname(chain.head)
            for op in chain.ops:
                lines += self.foreach_call(op, dest, inplace=True)
            return lines
        dest = self.tname(target)
        lines += self.foreach_call(chain.ops[0], self.tname(chain.head), inplace=False, result=dest)
        for op in chain.ops[1:]:
            lines += self.foreach_call(op, dest, inplace=True)
        return lines

    def render_copy(self, target: sp.Symbol, chain: Chain) -> list[str]:
        scratch = sp.Symbol(f"_new_{self.name(target)}")
        self.names[scratch] = f"_new_{self.name(target)}"
        return self.render(chain, scratch) + [f"torch._foreach_copy_({self.tname(target)}, {self.tname(scratch)})"]

    def foreach_call(self, op: Op, on: str, *, inplace: bool, result: str = "") -> list[str]:
        """``torch._foreach_<op>_(on, ...)`` or ``result = torch._foreach_<op>(on, ...)``; a
        per-tensor ``value=``/``alpha=`` scales its tensor operand first, or, where the rule's
        convention is ``foreach_scale="op"``, goes to ``addcdiv``/``addcmul`` as their scalar list."""
        lines: list[str] = []
        tensors = [self.tname(x) for x in op.tensors]
        args = list(tensors)
        if op.scalar is not None:
            key, value = op.scalar
            if key == "value" and value.free_symbols & self.per_tensor and self.scale_in_op and op.method in ("addcdiv", "addcmul"):
                args.append(self.scalar(value))
            elif key and value.free_symbols & self.per_tensor:
                scaled = f"_scaled{self._scratch}"
                self._scratch += 1
                lines.append(f"{scaled} = torch._foreach_mul({tensors[0]}, {self.scalar(value)})")
                args[0] = scaled
            elif not key:
                args.append(self.scalar(value))
            elif value != 1:
                args.append(f"{key}={self.scalar(value)}")
        call = f"torch._foreach_{op.method}{'_' if inplace else ''}({', '.join([on, *args])})"
        lines.append(call if inplace else f"{result} = {call}")
        return lines
