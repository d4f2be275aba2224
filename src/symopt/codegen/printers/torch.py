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
``T ← √X / d``                      ``T = X.sqrt() / d``                            ``T = _foreach_sqrt(X)``; ``_foreach_div_(T, d)``
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

from ...rules import Assign, UpdateRule, decide, g, t
from ._common import (
    CodegenError,
    KernelPrinterMixin,
    ScalarPrinter,
    _construct,
    arguments,
    assignment_comment,
    identifier,
    indent,
    lazy_creations,
    prelude_index,
    python_condition,
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
        lazy = {"lazy_states": repr(tuple(st.name for st in rule.states if st.lazy)), **self.sparse_fields(rule)}
        try:
            body = TorchForeachKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"foreach": "False", "foreach_function": f"\n\n# No foreach kernel: {exc}.\n", **lazy}
        args = tuple("steps" if a == "step" else a for a in arguments(rule))
        template = resources.files("symopt.codegen").joinpath("templates", "torch_foreach_function.py.tmpl")
        text = Template(template.read_text(encoding="utf-8")).substitute(
            state_parameters="".join(f", {identifier(s.name)}s" for s in rule.states),
            update_signature=(", *, " + ", ".join(args)) if args else "",
            body="\n".join(indent(body.splitlines())),
        )
        return {"foreach": "True", "foreach_function": "\n\n" + text.rstrip("\n") + "\n", **lazy}

    def sparse_fields(self, rule: UpdateRule) -> dict[str, str]:
        """The template's ``update_sparse`` (torch's sparse-gradient path), or why there is none."""
        try:
            body = TorchSparseKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"sparse": "False", "sparse_function": f"\n\n# No sparse kernel: {exc}.\n"}
        template = resources.files("symopt.codegen").joinpath("templates", "torch_sparse_function.py.tmpl")
        text = Template(template.read_text(encoding="utf-8")).substitute(
            state_parameters="".join(f", {identifier(s.name)}" for s in rule.states),
            update_signature=(", *, " + ", ".join(arguments(rule))) if arguments(rule) else "",
            body="\n".join(indent(body.splitlines())),
        )
        return {"sparse": "True", "sparse_function": "\n\n" + text.rstrip("\n") + "\n"}

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        self.lazy = lazy_creations(rule)
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
        template's ``view_as_real`` that passes real tensors and None through). Nothing where
        torch computes on the complex tensors themselves (``complex_view="none"``: SGD)."""
        if self.rule.conventions.complex_view == "none":
            return []
        names = [self.tname(s) for s in self.viewed()]
        return ["# complex tensors: their real view from here on, as torch.optim", f"{', '.join(names)} = {', '.join(f'_real({n})' for n in names)}"]

    def viewed(self) -> list[sp.Symbol]:
        from ...rules import g, w

        return [w, g] + [s.symbol for s in self.rule.states]

    def tname(self, symbol: sp.Symbol) -> str:
        """The name of a tensor symbol (a list of tensors in the foreach printer)."""
        return self.name(symbol)

    def after_body(self) -> list[str]:
        """``return {"<key>": <tensor>}`` of the lazy states, which the kernel may have created:
        the caller keeps them (torch's ``state["momentum_buffer"] = buf``)."""
        if not self.lazy:
            return []
        entries = ", ".join(f'"{s.name}": {self.name(s.symbol)}' for s in self.rule.states if s.symbol in self.lazy)
        return [f"return {{{entries}}}"]

    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        lines = [assignment_comment(assign)]
        if self.lazy.get(target) is assign:
            return lines + self.create_lazy(target, expr)
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

    def create_lazy(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        """A lazy state's creation, a new tensor as torch makes it: ``buf = grad.detach().clone()``
        for a plain tensor (its layout), else the out-of-place chain of ``expr``."""
        if self.is_tensor_symbol(expr):
            return [f"{self.tname(target)} = {self.tname(expr)}.detach().clone()"]
        made = self._chain(expr)
        if made is None or not made.fresh:
            raise CodegenError(f"{type(self).__name__} cannot create the lazy state {target} as {expr}")
        return self.render(made, target)

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
        code, bare = head, False
        for k, op in enumerate(chain.ops):
            if bare:
                code, bare = f"({code})", False
            if op.method == "div" and not op.tensors and op.scalar is not None and not chain.inplace and k > 0:
                # torch writes `X.sqrt() / d`: out of place, so that a 0-d tensor d (Adam's tensor
                # betas) promotes a 0-d X to its dtype, as `div_` would not
                divisor = op.scalar[1]
                text = self.scalar(divisor)
                if not (divisor.is_Atom or isinstance(divisor, (sp.Pow, sp.Function))):
                    text = f"({text})"
                code, bare = f"{code} / {text}", True
                continue
            inplace = chain.inplace or k > 0
            code += f".{op.method}{'_' if inplace else ''}({self.op_arguments(op, head)})"
        return code

    def op_arguments(self, op: Op, head: str = "") -> str:
        """``X, Y, value=c``; a keyword scalar is left out when it is 1 (torch's default). In a
        ``lerp`` weight a hyperparameter that may be a tensor (:attr:`Hyperparameter.tensor`)
        is moved to the dtype and device of ``head`` first (``_like``), as torch moves Adam's tensor
        β₁ (``lerp_``'s tensor weight must match it); a Python number passes as it is."""
        parts = [self.name(x) for x in op.tensors]
        if op.scalar is not None:
            key, value = op.scalar
            if not key:
                parts.append(self.lerp_weight(value, head) if op.method == "lerp" else self.scalar(value))
            elif value != 1:
                parts.append(f"{key}={self.scalar(value)}")
        return ", ".join(parts)

    def lerp_weight(self, value: sp.Expr, head: str) -> str:
        names = dict(self.names)
        for h in self.rule.hyperparameters:
            if h.tensor and h.symbol in value.free_symbols:
                names[h.symbol] = f"_like({h.name}, {head})"
        return ScalarPrinter(names).doprint(value)

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


def _conjuncts(condition: sp.Basic, timed: set[sp.Symbol]) -> tuple[list[sp.Basic], list[sp.Basic]]:
    """The conjuncts of ``condition`` that do not depend on the symbols ``timed``, and those that do."""
    parts = list(condition.args) if isinstance(condition, sp.And) else [condition]
    return [c for c in parts if not c.free_symbols & timed], [c for c in parts if c.free_symbols & timed]


def _steady(condition: sp.Basic) -> bool:
    """Whether a step guard holds at every step after the first (t = 2, 3, 100) and not at t = 1:
    the branch every tensor takes once all have stepped."""
    return all(decide(condition, {t: k}) is True for k in (2, 3, 100)) and decide(condition, {t: 1}) is False


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

    def after_body(self) -> list[str]:
        """Nothing: a lazy state is created into its list (``momentum_buffers[i] = ...``)."""
        return []

    def create_lazy(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        raise CodegenError(f"{type(self).__name__} creates the lazy state {target} only in a per-tensor run: "
                           "its creation must be guarded by the step")

    # -- guards on the step: torch's per-tensor fallback ----------------------------------------
    def body_items(self, rule: UpdateRule) -> list[Assign | tuple[Assign, ...]]:
        """The body with each run of consecutive assignments whose guards depend on the step
        grouped (a tuple), for :meth:`print_group`."""
        items: list[Assign | tuple[Assign, ...]] = []
        run: list[Assign] = []
        for a in rule.body:
            if a.when.free_symbols & self.per_tensor:
                run.append(a)
                continue
            if run:
                items.append(tuple(run))
                run = []
            items.append(a)
        if run:
            items.append(tuple(run))
        return items

    def print_group(self, group: tuple[Assign, ...]) -> tuple[sp.Basic, list[str]]:
        """A run of state updates whose guards depend on the step, as torch's ``_multi_tensor_sgd``
        prints its momentum buffers: when every tensor is past the steps the other branches take
        (``all(step > 1 for step in steps)``: every buffer exists), the steady branch as foreach
        ops; otherwise one tensor at a time with the single-tensor ops (the lazy state created in
        its list: ``momentum_buffers[i] = grads[i].detach().clone()``). The guards' conjuncts that
        do not depend on the step and are common to the run guard it all (``if momentum != 0:``)."""
        for a in group:
            if a.target not in {s.symbol for s in self.rule.states}:
                raise CodegenError(f"{type(self).__name__}: only state updates may be guarded by the step; "
                                   f"{a.target} ← {a.expr} is guarded by {a.when}")
        split = [_conjuncts(a.when, self.per_tensor) for a in group]
        common = set.intersection(*(set(free) for free, _ in split))
        common_guard = sp.And(*sorted(common, key=sp.srepr)) if common else sp.true
        rest = [(sp.And(*[c for c in free if c not in common]), sp.And(*timed)) for free, timed in split]
        steady_parts = {timed for (_, timed) in rest if _steady(timed)}
        if len(steady_parts) > 1:
            raise CodegenError(f"{type(self).__name__}: several steady branches {sorted(map(str, steady_parts))} in one run")
        lines: list[str] = []
        loop = self.per_tensor_printer()
        body = []
        for a, (free, timed) in zip(group, rest):
            guard = sp.And(free, timed)
            stmt = loop._print_Assign(a)
            body += ([f"if {loop.guard(guard)}:"] + indent(stmt)) if guard is not sp.true else stmt
        loop_lines = ["for i, step in enumerate(steps):"] + indent(body)
        if steady_parts:
            steady = next(iter(steady_parts))
            fast: list[str] = []
            for a, (free, timed) in zip(group, rest):
                if timed != steady:
                    continue
                stmt = self._print_Assign(a)
                fast += ([f"if {self.guard(free)}:"] + indent(stmt)) if free is not sp.true else stmt
            condition = python_condition(self.scalars, steady)
            lines += [f"if all({condition} for step in steps):"] + indent(fast)
            lines += ["else:  # a tensor at another step: one tensor at a time, as torch.optim"] + indent(loop_lines)
        else:
            lines += loop_lines
        return common_guard, lines

    def per_tensor_printer(self) -> TorchKernelPrinter:
        """A single-tensor printer whose tensors are element ``i`` of the lists (``grads[i]``),
        whose ``step`` is the loop's and whose per-tensor scalars are entry ``i`` of theirs."""
        loop = TorchKernelPrinter()
        loop.setup(self.rule)
        for sym in list(loop.names):
            if sym in self.tensors:
                loop.names[sym] = f"{self.tname(sym)}[i]"
            elif sym in self.per_tensor and sym != t:
                loop.names[sym] = f"{self.name(sym)}s[i]"
        return loop

    def before_state_updates(self) -> list[str]:
        """torch's ``_view_as_real(params, grads, <states>)`` (``_reals``: None passes through)."""
        if self.rule.conventions.complex_view == "none":
            return []
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


class TorchSparseKernelPrinter(TorchKernelPrinter):
    """Prints an :class:`~symopt.rules.UpdateRule` body as torch.optim's sparse-gradient path
    (``_single_tensor_adagrad``'s ``if grad.is_sparse:`` branch): ``update_sparse(param, grad,
    <states>, ...)`` with a sparse ``grad``, changing only the rows it touches.

    Up to the first state update (:func:`~._common.prelude_index`) ``g`` is the sparse tensor:
    ``g ← −g`` is ``grad = -grad``; a transformation that reads a dense tensor into it (the L2
    term λw) has no sparse form, and prints torch's refusal under its guard (``raise
    RuntimeError("weight_decay option is not compatible with sparse gradients")``). Then, as
    torch, ``grad = grad.coalesce()`` (the update is nonlinear: indices must be unique), and from
    there every tensor expression is computed on the values at ``grad``'s indices:

    ==================================  =====================================================================
    model                               sparse path
    ==================================  =====================================================================
    ``g`` (read)                        ``grad_values`` (``grad._values()``)
    a state or ``w`` (read)             ``T.sparse_mask(grad)._values()``
    ``X²``                              ``X.pow(2)`` (rounded, then added: no fused multiply-add)
    ``X / Y``                           ``X / Y``
    ``T ← T + c·E`` (T dense)           ``T.add_(_make_sparse(grad, grad_indices, E), alpha=c)``
    ``S ← f(...)`` (a temporary)        the for-loop's chain on the values (``sigma = ....sqrt()``)
    ==================================  =====================================================================

    Anything else (a state that decays as a whole, ``v ← αv + …``; a lazy state) has no sparse
    form and raises :class:`CodegenError`: the module then has no ``update_sparse``.
    """

    printmethod = "_symopt_torch_sparse_kernel"

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        if self.lazy:
            raise CodegenError(f"{type(self).__name__}: a lazy state has no sparse form")
        self.dense = dict(self.names)
        self.values_from = {id(a) for a in rule.body[prelude_index(rule):]}
        self.in_values = False

    def after_body(self) -> list[str]:
        return []

    def before_state_updates(self) -> list[str]:
        """torch's ``grad = grad.coalesce()`` and its indices and values."""
        return ["# the rows g touches, each once (torch coalesces: the update is nonlinear in g)",
                "grad = grad.coalesce()", "grad_indices = grad._indices()", "grad_values = grad._values()"]

    def enter_values(self) -> None:
        """From the coalesce on: g is its values, a dense tensor is read at g's indices."""
        if self.in_values:
            return
        self.in_values = True
        self.names[g] = "grad_values"
        for sym in self.persistent:
            self.names[sym] = f"{self.dense[sym]}.sparse_mask(grad)._values()"

    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        if id(assign) in self.values_from:
            self.enter_values()
        lines = [assignment_comment(assign)]
        if self.is_scalar(expr):
            return lines + self.scalar_assignment(target, expr)
        if not self.in_values:
            if target != g:
                raise CodegenError(f"{type(self).__name__}: {target} ← {expr} comes before the first state update")
            if expr.free_symbols & self.tensors - {g}:
                if assign.when is sp.true:
                    raise CodegenError(f"{type(self).__name__}: g ← {expr} reads a dense tensor into the sparse gradient")
                names = sorted(h.name for h in self.rule.hyperparameters if h.symbol in assign.when.free_symbols)
                return lines + [f'raise RuntimeError("{", ".join(names)} option is not compatible with sparse gradients")']
            return super()._print_Assign(assign)
        if target in self.persistent:
            return lines + self.accumulate(target, expr)
        if target == g:
            raise CodegenError(f"{type(self).__name__}: g ← {expr} after the first state update")
        return super()._print_Assign(assign)

    def accumulate(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        """``T ← T + c·E`` as ``T.add_(_make_sparse(grad, grad_indices, E), alpha=c)``."""
        rest = expr - target
        if target in rest.free_symbols or not self.is_tensor(rest) or isinstance(rest, sp.Add):
            raise CodegenError(f"{type(self).__name__}: {target} ← {expr} is not a sparse accumulation T + c·E")
        factors = sp.Mul.make_args(rest)
        scale = sp.Mul(*[f for f in factors if self.is_scalar(f)])
        values = self.values_code(sp.Mul(*[f for f in factors if self.is_tensor(f)]))
        alpha = "" if scale == 1 else f", alpha={self.scalar(scale)}"
        return [f"{self.dense[target]}.add_(_make_sparse(grad, grad_indices, {values}){alpha})"]

    def values_code(self, expr: sp.Expr) -> str:
        """A product, quotient or integer power of tensors, on the values at g's indices."""
        if self.is_tensor_symbol(expr):
            return self.name(expr)
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0 and self.is_tensor_symbol(expr.base):
            return f"{self.name(expr.base)}.pow({expr.exp})"
        if isinstance(expr, sp.Mul):
            numerator, denominator = sp.fraction(expr)
            top = " * ".join(self.values_code(f) for f in sp.Mul.make_args(numerator))
            if denominator == 1:
                return top
            bottom = [self.values_code(f) for f in sp.Mul.make_args(denominator)]
            return f"{top} / " + (bottom[0] if len(bottom) == 1 else f"({' * '.join(bottom)})")
        raise CodegenError(f"{type(self).__name__} cannot print {expr} on the values of a sparse gradient")
