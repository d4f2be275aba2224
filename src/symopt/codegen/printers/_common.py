"""What every kernel printer shares: the error type, the names of the rule's symbols in generated
code, a strict scalar printer (Python floats, guards) and the walk over a rule's body.

A kernel printer is a SymPy printer whose ``_print_UpdateRule`` prints the body of a rule as the
statements of a Python function, and whose ``_print_Assign`` prints one assignment. Guards
(``Assign.when``) become ``if`` statements over the hyperparameter keywords and ``step``; runs of
assignments under the same guard share one ``if``.
"""

from __future__ import annotations

import builtins
import keyword
from typing import Iterable

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.precedence import precedence
from sympy.printing.pycode import PythonCodePrinter

from ...rules import Assign, UpdateRule, g, has_reduction, t, w


class CodegenError(ValueError):
    """A construct of a model that a printer cannot print (strict printing)."""


def identifier(name: str) -> str:
    """A Python identifier for ``name`` that shadows neither a keyword nor a builtin
    (``sum`` → ``state_sum``, as torch.optim names it)."""
    if keyword.iskeyword(name) or hasattr(builtins, name):
        return f"state_{name}"
    return name


def symbol_names(rule: UpdateRule) -> dict[sp.Symbol, str]:
    """Symbol → name in generated code: ``param``, ``grad``, ``step``, torch's keyword for every
    hyperparameter, the state's key for every state, the symbol's own name for temporaries."""
    names = {w: "param", g: "grad", t: "step"}
    names.update({h.symbol: h.name for h in rule.hyperparameters})
    names.update({s.symbol: identifier(s.name) for s in rule.states})
    for temp in rule.temporaries:
        names.setdefault(temp, identifier(temp.name))
    return names


def tensor_symbols(rule: UpdateRule) -> frozenset[sp.Symbol]:
    """The symbols that hold arrays: parameter, gradient, states, and every temporary computed
    from one of them (η_t = η/(1+(t−1)γ) stays a Python float)."""
    tensors = {w, g} | {s.symbol for s in rule.states}
    for a in rule.body:
        if a.expr.free_symbols & tensors:
            tensors.add(a.target)
    return frozenset(tensors)


def arguments(rule: UpdateRule) -> tuple[str, ...]:
    """Keyword arguments of the update kernel: ``step`` when the body uses t, then every
    hyperparameter the body or a guard uses, in torch.optim's signature order."""
    used: set[sp.Symbol] = set()
    for a in rule.body:
        used |= a.expr.free_symbols | a.when.free_symbols
    out = ["step"] if t in used else []
    out += [h.name for h in rule.hyperparameters if h.symbol in used]
    return tuple(out)


def init_arguments(rule: UpdateRule) -> tuple[str, ...]:
    """Keyword arguments of ``init_state``: the hyperparameters the states' initial values and
    creation conditions use."""
    used: set[sp.Symbol] = set()
    for s in rule.states:
        used |= s.initial.free_symbols | s.when.free_symbols
    return tuple(h.name for h in rule.hyperparameters if h.symbol in used)


class ScalarPrinter(PythonCodePrinter):
    """Python-float expressions and guards (``weight_decay != 0``, ``not centered``), strict."""

    printmethod = "_symopt_scalar"

    def __init__(self, names: dict[sp.Symbol, str], settings: dict | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": True, **(settings or {})})
        self.names = names

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr not in self.names:
            raise CodegenError(f"symbol {expr} is not a hyperparameter, state or temporary of the rule")
        return self.names[expr]

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        """A square root as ``x**0.5``: torch.optim takes Python-float roots with ``**`` (Adam's
        ``bias_correction2 ** 0.5``), and C ``pow`` may round differently from ``math.sqrt``."""
        if expr.exp == sp.S.Half:
            return f"{self.parenthesize(expr.base, precedence(expr))}**0.5"
        return super()._print_Pow(expr, rational)

    def _print_BooleanTrue(self, expr) -> str:
        return "True"

    def _print_BooleanFalse(self, expr) -> str:
        return "False"

    def doprint(self, expr, assign_to=None):
        try:
            return super().doprint(expr, assign_to)
        except PrintMethodNotImplementedError as exc:
            raise CodegenError(f"{type(self).__name__} cannot print {_construct(expr, exc)} in {expr}") from None


def _construct(expr: sp.Basic, exc: Exception) -> str:
    """The name of the construct a strict printer refused (from SymPy's message)."""
    message = str(exc).split("\n")[0]
    return message.split(": ", 1)[-1] if ": " in message else type(expr).__name__


def python_condition(printer: ScalarPrinter, condition: sp.Basic) -> str:
    """A guard as a Python condition, without redundant outer parentheses."""
    code = printer.doprint(condition)
    if code.startswith("(") and code.endswith(")") and _balanced(code[1:-1]):
        code = code[1:-1]
    return code


def _balanced(code: str) -> bool:
    depth = 0
    for char in code:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def indent(lines: Iterable[str], by: str = "    ") -> list[str]:
    return [by + line if line else line for line in lines]


class KernelPrinterMixin:
    """The statement-level walk shared by the kernel printers.

    Subclasses provide ``_print_Assign(assign)`` returning the statement lines of one assignment;
    ``self.owned`` tells whether a temporary or ``grad`` currently holds an array the kernel
    allocated (so that it may be overwritten in place).
    """

    rule: UpdateRule
    scalars: ScalarPrinter
    #: print :meth:`before_state_updates` first, not before the first state update
    prelude_first: bool = False

    def setup(self, rule: UpdateRule) -> None:
        self.rule = rule
        self.names = symbol_names(rule)
        self.tensors = tensor_symbols(rule)
        self.persistent = frozenset({w} | {s.symbol for s in rule.states})
        self.scalars = ScalarPrinter(self.names)
        self.defs: dict[sp.Symbol, list[tuple[sp.Basic, bool]]] = {}

    def name(self, symbol: sp.Symbol) -> str:
        return self.scalars._print_Symbol(symbol)

    def is_tensor(self, expr: sp.Basic) -> bool:
        return bool(expr.free_symbols & self.tensors)

    def is_scalar(self, expr: sp.Basic) -> bool:
        return not self.is_tensor(expr)

    def is_tensor_symbol(self, expr: sp.Basic) -> bool:
        return isinstance(expr, sp.Symbol) and expr in self.tensors

    def scalar(self, expr: sp.Basic) -> str:
        return self.scalars.doprint(expr)

    def guard(self, condition: sp.Basic) -> str:
        return python_condition(self.scalars, condition)

    def note_definition(self, target: sp.Symbol, fresh: bool, guard: sp.Basic) -> None:
        """Record a (re)definition of a temporary or ``grad``: whether it yields an array this
        kernel allocated, under which guard. An unconditional definition forgets earlier ones."""
        if target in self.persistent:
            return
        if guard is sp.true:
            self.defs[target] = [(guard, fresh)]
        else:
            self.defs.setdefault(target, []).append((guard, fresh))

    def is_owned(self, target: sp.Symbol) -> bool:
        """Whether ``target`` holds, on every path through the guards so far, an array this
        kernel allocated (so that it may be overwritten in place). ``grad`` starts as the
        caller's array; guarded definitions own it only when their guards cover every case
        (``if not centered`` / ``if centered``)."""
        if target in self.persistent:
            return True
        defs = self.defs.get(target, [])
        if not defs or not all(fresh for _, fresh in defs):
            return False
        return sp.simplify_logic(sp.Or(*(guard for guard, _ in defs))) is sp.true

    def _print_UpdateRule(self, rule: UpdateRule) -> str:
        """The body as statements, guards as ``if`` blocks (consecutive equal guards merged)."""
        self.setup(rule)
        blocks: list[tuple[sp.Basic, list[str]]] = []
        prelude = self.before_state_updates()
        if prelude and self.prelude_first:
            blocks.append((sp.true, prelude))
            prelude = []
        at = prelude_index(rule)
        for item in self.body_items(rule):
            assigns = list(item) if isinstance(item, tuple) else [item]
            if prelude and at < len(rule.body) and any(a is rule.body[at] for a in assigns):
                blocks.append((sp.true, prelude))
                prelude = []
            if isinstance(item, tuple):
                when, lines = self.print_group(item)
            else:
                when, lines = item.when, self._print_Assign(item)
            if blocks and blocks[-1][0] == when and when is not sp.true:
                blocks[-1][1].extend(lines)
            else:
                blocks.append((when, list(lines)))
        out: list[str] = []
        for when, lines in blocks:
            if when is sp.true:
                out += lines
            else:
                out.append(f"if {self.guard(when)}:")
                # an assignment with nothing to compute (x ← x) prints as a comment only
                out += indent(
                    lines
                    if any(line.strip() and not line.lstrip().startswith("#") for line in lines)
                    else [*lines, "pass"]
                )
        return "\n".join(out + self.after_body())

    def body_items(self, rule: UpdateRule) -> list[Assign | tuple[Assign, ...]]:
        """The body as the printer walks it: one assignment at a time, or a tuple of assignments
        that :meth:`print_group` prints together (the foreach printer's per-tensor runs)."""
        return list(rule.body)

    def print_group(self, group: tuple[Assign, ...]) -> tuple[sp.Basic, list[str]]:  # pragma: no cover - abstract
        """``(guard, lines)`` of a group from :meth:`body_items`."""
        raise NotImplementedError

    def after_body(self) -> list[str]:
        """Statements printed after the body (the Torch kernels' ``return`` of lazy states)."""
        return []

    def before_state_updates(self) -> list[str]:
        """Statements printed once, before the assignment :func:`prelude_index` names (the first
        update of a state: after the gradient and parameter transformations)."""
        return []

    def _print_Assign(self, assign: Assign) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError


def prelude_index(rule: UpdateRule) -> int:
    """Where :meth:`KernelPrinterMixin.before_state_updates` goes: before the first assignment to
    a state or the first reduction over the tensor (after the transformations of g and w that
    torch's for-loop applies to the tensors as they are: maximize, weight decay, coupled or
    decoupled; a reduction sums the real view, |g|² for a complex g), or, in a rule without
    either, before the last assignment to the parameter."""
    states = {s.symbol for s in rule.states}
    for i, a in enumerate(rule.body):
        if a.target in states or has_reduction(a.expr):
            return i
    updates = [i for i, a in enumerate(rule.body) if a.target == w]
    return updates[-1] if updates else len(rule.body)


def lazy_creations(rule: UpdateRule) -> dict[sp.Symbol, Assign]:
    """Lazy state (:attr:`StateVar.lazy`) → the assignment that creates it: its first one in the
    body, which must not read it (torch has no buffer yet there)."""
    out: dict[sp.Symbol, Assign] = {}
    for s in rule.states:
        if not s.lazy:
            continue
        first = next((a for a in rule.body if a.target == s.symbol), None)
        if first is None:
            raise CodegenError(f"the lazy state {s.name} of {rule.name} is never assigned")
        if s.symbol in first.expr.free_symbols:
            raise CodegenError(f"the lazy state {s.name} of {rule.name} is read by the assignment that creates it")
        out[s.symbol] = first
    return out


def assignment_comment(assign: Assign) -> str:
    """``# G ← G + g**2  (accumulate g²)``: the model's assignment as a comment line."""
    doc = f"  ({assign.doc})" if assign.doc else ""
    return f"# {assign.target} ← {sp.sstr(assign.expr)}{doc}"
