"""The Torch single-tensor printer: each assignment of a rule as the in-place tensor operations
torch.optim's for-loop code uses, in the same order, so that generated kernels are bitwise equal to
``torch.optim`` with ``foreach=False``.

Shapes are recognised by matching the model's SymPy expressions against :class:`sympy.Wild`
patterns, never by the name of a rule. With ``T`` the target, ``X, Y`` tensors and ``a, c, d``
Python scalars:

================================  ===============================================================
model                              printed (torch.optim's for-loop)
================================  ===============================================================
``T ← a·T + c·X·Y``                ``T.mul_(a).addcmul_(X, Y, value=c)``   (``X·X`` from ``X**2``)
``T ← a·T + c·X/Y``                ``T.mul_(a).addcdiv_(X, Y, value=c)``
``T ← a·T + c·X``, ``T ← T + d``   ``T.mul_(a).add_(X, alpha=c)``, ``T.add_(d)``
``T ← T + c·(X − T)``              ``T.lerp_(X, c)``
``T ← X + c·Y`` (T not owned)      ``T = X.add(Y, alpha=c)``               (a new tensor)
``T ← √(X + c·Y·Z)``               ``T = X.addcmul(Y, Z, value=c).sqrt_()``
``T ← √X``                         ``T = X.sqrt()``
``T ← X``                          ``T.copy_(X)`` for a state, else ``T = X`` (torch's ``grad = buf``)
================================  ===============================================================

In-place forms are used on the parameter, the states and temporaries the kernel allocated itself;
``grad`` is never written in place (the caller's gradient is rebound, as torch does). Scalar
assignments (``η_t = η/(1 + (t − 1)γ)``) are Python float arithmetic. Anything else falls back to
an out-of-place expression printed by :class:`TorchExprPrinter` (``torch.sqrt(...)``), strictly.
"""

from __future__ import annotations

from typing import Callable, Optional

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.pytorch import TorchPrinter

from ...rules import Assign, UpdateRule
from ._common import CodegenError, KernelPrinterMixin, ScalarPrinter, _construct, assignment_comment

#: ``(code, fresh)``: a method chain and whether it yields a tensor the kernel owns.
Chain = tuple[str, bool]


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

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        self.fallback = TorchExprPrinter(self.names, self.tensors)
        scalar = lambda e: self.is_scalar(e)  # noqa: E731
        tensor = lambda e: self.is_tensor_symbol(e)  # noqa: E731
        self.c = sp.Wild("c", properties=[scalar])
        self.X = sp.Wild("X", properties=[tensor])
        self.Y = sp.Wild("Y", properties=[tensor])
        c, X, Y = self.c, self.X, self.Y
        #: one term of a sum → (method, arguments); first match wins.
        self.term_patterns: list[tuple[sp.Expr, Callable[[dict], tuple[str, str]]]] = [
            (c * X / Y, lambda m: ("addcdiv", self._args(m[X], m[Y], value=m[c]))),
            (c * X**2, lambda m: ("addcmul", self._args(m[X], m[X], value=m[c]))),
            (c * X * Y, lambda m: ("addcmul", self._args(m[X], m[Y], value=m[c]))),
            (c * X, lambda m: ("add", self._args(m[X], alpha=m[c]))),
        ]

    # -- statements ---------------------------------------------------------------------------
    def before_state_updates(self) -> list[str]:
        """torch views complex tensors as real after the gradient transformations (maximize,
        weight decay) and before the first state update; so does the kernel (``_real`` is the
        template's ``view_as_real`` that passes real tensors and None through)."""
        names = ["param", "grad"] + [self.name(s.symbol) for s in self.rule.states]
        return ["# complex tensors: their real view from here on, as torch.optim", f"{', '.join(names)} = {', '.join(f'_real({n})' for n in names)}"]

    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        lines = [assignment_comment(assign)]
        if self.is_scalar(expr):
            lines.append(f"{self.name(target)} = {self.scalar(expr)}")
            return lines
        if self.is_tensor_symbol(expr):
            if target in self.persistent:
                lines.append(f"{self.name(target)}.copy_({self.name(expr)})")
            else:
                lines.append(f"{self.name(target)} = {self.name(expr)}")
                self.note_definition(target, False, assign.when)
            return lines
        chain = self._inplace(target, expr) if self.is_owned(target) else None
        if chain is not None:
            lines.append(chain)
            self.note_definition(target, True, assign.when)
            return lines
        made = self._chain(expr)
        code, fresh = made if made is not None else (self.fallback.doprint(expr), True)
        if target in self.persistent:
            lines.append(f"{self.name(target)}.copy_({code})")
        else:
            lines.append(f"{self.name(target)} = {code}")
            self.note_definition(target, fresh, assign.when)
        return lines

    # -- in place: T ← f(T, ...) --------------------------------------------------------------
    def _inplace(self, target: sp.Symbol, expr: sp.Expr) -> Optional[str]:
        """``T.op_(...)...`` when ``expr`` is one of the in-place shapes on ``T``, else None."""
        name = self.name(target)
        lerp = (expr - target).match(self.c * (self.X - target))
        if lerp is not None and lerp[self.X] != target:
            return f"{name}.lerp_({self.name(lerp[self.X])}, {self.scalar(lerp[self.c])})"
        if expr == sp.sqrt(target):
            return f"{name}.sqrt_()"
        terms = list(sp.Add.make_args(expr))
        for i, term in enumerate(terms):
            m = term.match(self.c * target)
            if m is not None and self.is_scalar(m[self.c]):
                rest = terms[:i] + terms[i + 1 :]
                if any(target in r.free_symbols for r in rest):
                    return None
                head = name if m[self.c] == 1 else f"{name}.mul_({self.scalar(m[self.c])})"
                return self._accumulate(head, rest, inplace=True)
        return None

    # -- out of place: a chain that starts from an existing tensor ----------------------------
    def _chain(self, expr: sp.Expr) -> Optional[Chain]:
        """``(code, fresh)`` for ``expr`` as a chain of tensor methods, or None."""
        if self.is_tensor_symbol(expr):
            return self.name(expr), False
        if isinstance(expr, sp.Pow) and expr.exp == sp.S.Half:
            inner = self._chain(expr.base)
            if inner is None:
                return None
            code, fresh = inner
            return (f"{code}.sqrt_()" if fresh else f"{code}.sqrt()"), True
        if isinstance(expr, sp.Add):
            terms = list(expr.args)
            for i, term in enumerate(terms):
                if self.is_tensor_symbol(term):
                    rest = terms[:i] + terms[i + 1 :]
                    code = self._accumulate(self.name(term), rest, inplace=False)
                    return (code, True) if code is not None else None
        return None

    def _accumulate(self, head: str, terms: list[sp.Expr], inplace: bool) -> Optional[str]:
        """``head`` followed by one method per term (tensor terms first, then scalars); the first
        method is out of place unless ``inplace``, the rest always in place (on a fresh tensor)."""
        ordered = [x for x in terms if self.is_tensor(x)] + [x for x in terms if self.is_scalar(x)]
        code = head
        for term in ordered:
            op = self._term(term)
            if op is None:
                return None
            method, args = op
            code += f".{method}{'_' if inplace else ''}({args})"
            inplace = True
        return code

    def _term(self, term: sp.Expr) -> Optional[tuple[str, str]]:
        if self.is_scalar(term):
            return "add", self.scalar(term)
        for pattern, emit in self.term_patterns:
            m = term.match(pattern)
            if m is not None and all(k in m for k in pattern.atoms(sp.Wild)):
                return emit(m)
        return None

    def _args(self, *tensors: sp.Symbol, **scalars: sp.Expr) -> str:
        """``X, Y, value=c`` with a scalar keyword left out when it is 1 (torch's default)."""
        parts = [self.name(x) for x in tensors]
        parts += [f"{k}={self.scalar(v)}" for k, v in scalars.items() if v != 1]
        return ", ".join(parts)
