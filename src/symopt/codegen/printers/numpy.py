"""The NumPy in-place printer: each assignment of a rule as NumPy ufunc calls with ``out=``.

The parameter and the states are updated in their own buffers; a temporary gets one array the
first time it is defined and is updated in place afterwards; the caller's ``grad`` is never
written (a rebinding of ``g`` gets a new array, as ``grad = -grad`` does in torch). A sum or
product is accumulated into its destination: the term that reads the destination's old value
goes first, the others follow with ``np.add(dest, X, out=dest)`` etc.; only a compound term that
is not a plain tensor needs a scratch array (``np.square(grad, out=_s0)``). For example
``v ← α v + (1 − α) g²`` prints as::

    np.multiply(square_avg, alpha, out=square_avg)
    _s0 = np.empty_like(param)
    np.square(grad, out=_s0)
    np.multiply(_s0, 1 - alpha, out=_s0)
    np.add(square_avg, _s0, out=square_avg)

Scalars (hyperparameters, ``η_t``) are Python floats, so float32 arrays stay float32. Functions
print through :data:`KNOWN_UFUNCS`; anything else raises :class:`CodegenError` (strict).
"""

from __future__ import annotations

from typing import Optional

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from ...rules import Assign, UpdateRule, tensor_sum
from ._common import CodegenError, KernelPrinterMixin, assignment_comment

#: SymPy function → NumPy ufunc (each takes ``out=``).
KNOWN_UFUNCS: dict[type[sp.Basic], str] = {
    sp.exp: "np.exp",
    sp.log: "np.log",
    sp.Abs: "np.absolute",
    sp.sign: "np.sign",
    sp.tanh: "np.tanh",
    sp.sin: "np.sin",
    sp.cos: "np.cos",
}

#: exponent → ufunc applied to the base (``x**2`` → ``np.square``).
KNOWN_POWERS: dict[sp.Expr, str] = {sp.S.Half: "np.sqrt", sp.Integer(2): "np.square"}


class NumPyKernelPrinter(KernelPrinterMixin, NumPyPrinter):
    """Prints an :class:`~symopt.rules.UpdateRule` body as in-place NumPy statements."""

    printmethod = "_symopt_numpy_kernel"

    def __init__(self, settings: dict | None = None):
        super().__init__({"strict": True, **(settings or {})})

    def kernel_body(self, rule: UpdateRule) -> str:
        """The statements of ``update(param, grad, <states>, *, <hyperparameters>)``."""
        self._scratch = 0
        self.rule_per_tensor = rule.per_tensor_symbols()
        return self._print(rule)

    @staticmethod
    def allocation(per_tensor: bool = False) -> str:
        """A new array shaped like the parameter, or one number in its dtype for a symbol that
        holds one per tensor (:meth:`~symopt.rules.UpdateRule.per_tensor_symbols`)."""
        return "np.empty((), dtype=param.dtype)" if per_tensor else "np.empty_like(param)"

    def new_array(self, lines: list[str], per_tensor: bool = False) -> str:
        """A new scratch array shaped like the parameter (appends its allocation to ``lines``)."""
        name = f"_s{self._scratch}"
        self._scratch += 1
        lines.append(f"{name} = {self.allocation(per_tensor)}")
        return name

    # -- statements ---------------------------------------------------------------------------
    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        name = self.name(target)
        lines = [assignment_comment(assign)]
        if self.is_scalar(expr):
            lines.append(f"{name} = {self.scalar(expr)}")
            return lines
        if self.is_owned(target):
            lines += self.emit(expr, name, target)
            return lines
        if self.is_tensor_symbol(expr):  # g ← b: rebind, as torch's ``grad = buf``
            lines.append(f"{name} = {self.name(expr)}")
            self.note_definition(target, False, assign.when)
            return lines
        if target in expr.free_symbols:
            buf = self.new_array(lines, target in self.rule_per_tensor)
            lines += self.emit(expr, buf, None)
            lines.append(f"{name} = {buf}")
        else:
            lines.append(f"{name} = {self.allocation(target in self.rule_per_tensor)}")
            lines += self.emit(expr, name, None)
        self.note_definition(target, True, assign.when)
        return lines

    # -- expressions into a destination ---------------------------------------------------------
    def emit(self, expr: sp.Expr, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        """Statements that leave ``expr`` in the array ``dest``; ``holds`` is the symbol whose
        value ``dest`` holds before (its old value may be read until it is overwritten)."""
        if self.is_scalar(expr):
            return [f"{dest}[...] = {self.scalar(expr)}"]
        if self.is_tensor_symbol(expr):
            return [] if expr == holds else [f"np.copyto({dest}, {self.name(expr)})"]
        if holds is not None and self._reads_twice(expr, holds):
            lines: list[str] = []
            buf = self.new_array(lines)
            return lines + self.emit(expr, buf, None) + [f"np.copyto({dest}, {buf})"]
        method = getattr(self, f"_emit_{type(expr).__name__}", None)
        if method is None:
            for func, ufunc in KNOWN_UFUNCS.items():
                if isinstance(expr, func):
                    return self._emit_unary(ufunc, expr.args[0], dest, holds)
            raise CodegenError(f"{type(self).__name__} cannot print {type(expr).__name__} in {expr}")
        return method(expr, dest, holds)

    def _reads_twice(self, expr: sp.Expr, holds: sp.Symbol) -> bool:
        """Whether ``expr`` cannot be folded into the array holding ``holds``: more than one
        operand reads the old value, not counting ``holds`` itself as the first operand."""
        if not isinstance(expr, (sp.Add, sp.Mul)):
            return False
        readers = [a for a in expr.args if holds in a.free_symbols]
        return len(readers) > 1 and not (holds in expr.args and len(readers) == 2)

    def operand(self, expr: sp.Expr, lines: list[str]) -> str:
        """``expr`` as a ufunc input: a name, a Python scalar, or a scratch array holding it."""
        if self.is_scalar(expr):
            return self.scalar(expr)
        if self.is_tensor_symbol(expr):
            return self.name(expr)
        buf = self.new_array(lines)
        lines += self.emit(expr, buf, None)
        return buf

    def _ordered(self, args: list[sp.Expr], holds: Optional[sp.Symbol]) -> list[sp.Expr]:
        """Tensor operands in fold order: the held symbol, other readers of it, compound
        operands (computed straight into the destination), then plain tensors."""

        def key(a: sp.Expr) -> int:
            if a == holds:
                return 0
            if holds is not None and holds in a.free_symbols:
                return 1
            if self.is_tensor_symbol(a):
                return 3
            coeff, rest = a.as_coeff_Mul()
            return 4 if coeff == -1 and self.is_tensor_symbol(rest) else 2  # −X: np.subtract

        return sorted((a for a in args if self.is_tensor(a)), key=key)

    def _fold(self, first: sp.Expr, ops: list[tuple[str, sp.Expr]], dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        """``dest ← first ∘ op₁ ∘ op₂ …`` with one ufunc call per operation, each into ``dest``
        (the first reads a plain tensor directly instead of copying it)."""
        lines: list[str] = []
        if self.is_tensor_symbol(first):
            source = self.name(first)
        else:
            lines += self.emit(first, dest, holds)
            source = dest
        for ufunc, operand in ops:
            if ufunc == "np.negative":
                lines.append(f"np.negative({source}, out={dest})")
            else:
                lines.append(f"{ufunc}({source}, {self.operand(operand, lines)}, out={dest})")
            source = dest
        if source != dest:
            lines.append(f"np.copyto({dest}, {source})")
        return lines

    def _emit_Add(self, expr: sp.Add, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        terms = self._ordered(list(expr.args), holds)
        ops: list[tuple[str, sp.Expr]] = []
        for term in terms[1:]:
            coeff, rest = term.as_coeff_Mul()
            ops.append(("np.subtract", rest) if coeff == -1 else ("np.add", term))
        constant = sp.Add(*[a for a in expr.args if self.is_scalar(a)])
        if constant != 0:
            ops.append(("np.add", constant))
        return self._fold(terms[0], ops, dest, holds)

    def _emit_Mul(self, expr: sp.Mul, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        coeff = sp.Mul(*[a for a in expr.args if self.is_scalar(a)])
        factors = self._ordered(list(expr.args), holds)
        numerators = [f for f in factors if f.as_base_exp()[1] != -1]
        denominators = [f.as_base_exp()[0] for f in factors if f.as_base_exp()[1] == -1]
        ops = [("np.multiply", f) for f in numerators[1:]]
        if coeff not in (1, -1):
            scale, divisor = sp.fraction(coeff)  # x/c divides, as torch does, rather than multiply by 1/c
            if scale != 1 or divisor == 1:
                ops.append(("np.multiply", scale))
            if divisor != 1:
                ops.append(("np.divide", divisor))
        ops += [("np.divide", d) for d in denominators]
        if not numerators:  # c / Y / Z ...: start from the scalar
            lines: list[str] = []
            lines.append(f"np.divide({self.scalar(coeff)}, {self.operand(denominators[0], lines)}, out={dest})")
            for d in denominators[1:]:
                lines.append(f"np.divide({dest}, {self.operand(d, lines)}, out={dest})")
            return lines
        if coeff == -1:
            ops.append(("np.negative", sp.S.NegativeOne))
        return self._fold(numerators[0], ops, dest, holds)

    def _emit_Max(self, expr: sp.Max, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        """``np.maximum`` folded over the arguments (NaN propagates, as in ``torch.maximum``)."""
        terms = self._ordered(list(expr.args), holds)
        if len(terms) != len(expr.args):
            raise CodegenError(f"{type(self).__name__} cannot print a maximum with a scalar argument in {expr}")
        return self._fold(terms[0], [("np.maximum", a) for a in terms[1:]], dest, holds)

    def _emit_Pow(self, expr: sp.Pow, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        base, exp = expr.args
        if self.is_tensor(exp):
            raise CodegenError(f"{type(self).__name__} cannot print a tensor exponent in {expr}")
        if exp in KNOWN_POWERS:
            return self._emit_unary(KNOWN_POWERS[exp], base, dest, holds)
        if exp == -1:
            return self._emit_Mul(sp.Mul(sp.S.One, expr, evaluate=False), dest, holds)
        lines = self.emit(base, dest, holds) if not self.is_tensor_symbol(base) else []
        source = self.name(base) if self.is_tensor_symbol(base) else dest
        return lines + [f"np.power({source}, {self.scalar(exp)}, out={dest})"]

    def _emit_tensor_sum(self, expr: tensor_sum, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        """The sum over the whole tensor, ``np.sum(X, out=dest)`` (pairwise, in the array's dtype)."""
        lines: list[str] = []
        operand = self.operand(expr.args[0], lines)
        return lines + [f"np.sum({operand}, out={dest})"]

    def _emit_unary(self, ufunc: str, arg: sp.Expr, dest: str, holds: Optional[sp.Symbol]) -> list[str]:
        if self.is_tensor_symbol(arg):
            return [f"{ufunc}({self.name(arg)}, out={dest})"]
        return self.emit(arg, dest, holds) + [f"{ufunc}({dest}, out={dest})"]
