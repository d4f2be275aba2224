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

:class:`TorchDifferentiableKernelPrinter` prints the same model as torch's ``differentiable=True``
for-loop (``update_differentiable``): out of place after an op that saved its output, clones of
saved states, the step tensor and a folded step size for bias-corrected rules, tensor operands
for hyperparameters that require grad where torch has them (:data:`REQUIRES_GRAD_OPERANDS`).
:class:`TorchCapturableKernelPrinter` and :class:`TorchCapturableForeachKernelPrinter` print a
bias-corrected rule as torch's ``capturable=True`` paths (``update_capturable``,
``update_foreach_capturable``): what compiled torch.optim runs, since dynamo makes every param
group capturable while it traces.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from string import Template
from typing import Callable, Optional

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.pytorch import TorchPrinter

from ...rules import Assign, UpdateRule, decide, g, t, w
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
    tensor_symbols,
)


#: the hyperparameter torch's multi-tensor paths take as a tensor under ``torch.compile`` by
#: multiplying or dividing with it as a tensor (:meth:`TorchForeachKernelPrinter.tensor_lr_form`)
#: instead of passing it as a Scalar; only ``lr`` (``_multi_tensor_sgd``, ``_multi_tensor_rmsprop``)
TENSOR_LR = "lr"

#: the states whose update torch writes with an explicit ``value=1`` (``_single_tensor_adagrad``:
#: ``state_sum.addcmul_(grad, grad, value=1)``; its foreach path too), by rule. The same numbers
#: eagerly; under ``torch.compile`` dynamo decomposes an ``addcmul_`` called with a ``value=``
#: keyword into ``mul`` and one ``fma`` and keeps one called without it, which rounds otherwise:
#: the text matters for a compiled step to be torch's compiled step bit for bit.
UNIT_VALUE_WRITTEN: dict[str, tuple[str, ...]] = {"adagrad": ("sum",)}


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

    def _print_tensor_sum(self, expr: sp.Expr) -> str:
        """The sum over the whole tensor: ``X.square().sum()`` for a tensor symbol's square (the
        squared norm), ``torch.sum(...)`` otherwise; a 0-dim tensor in the operand's dtype."""
        (arg,) = expr.args
        if isinstance(arg, sp.Pow) and arg.exp == 2 and arg.base in self.tensors and arg.base.is_Symbol:
            return f"{self._print(arg.base)}.square().sum()"
        return f"torch.sum({self._print(arg)})"

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
        lazy = {
            "lazy_states": repr(tuple(st.name for st in rule.states if st.lazy)),
            **self.sparse_fields(rule),
            **self.differentiable_fields(rule),
            **self.capturable_fields(rule),
        }
        try:
            body = TorchForeachKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"foreach": "False", "foreach_function": f"\n\n# No foreach kernel: {exc}.\n", **lazy}
        args = tuple("steps" if a == "step" else a for a in arguments(rule))
        template = resources.files("symopt.codegen").joinpath("templates").joinpath("torch_foreach_function.py.tmpl")
        stack = "_stack_if_compiling(" in body
        text = Template(template.read_text(encoding="utf-8")).substitute(
            stack_import="from torch.optim.optimizer import _stack_if_compiling  # noqa: E402\n\n\n" if stack else "",
            state_parameters="".join(f", {identifier(s.name)}s" for s in rule.states),
            update_signature=(", *, " + ", ".join(args)) if args else "",
            body="\n".join(indent(body.splitlines())),
        )
        return {"foreach": "True", "foreach_function": "\n\n" + text.rstrip("\n") + "\n", **lazy}

    def differentiable_fields(self, rule: UpdateRule) -> dict[str, str]:
        """The template's ``update_differentiable`` (torch's ``differentiable=True`` for-loop) and
        how it takes the step (``DIFFERENTIABLE_STEP``), or why there is none."""
        try:
            body = TorchDifferentiableKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {
                "differentiable": "False",
                "differentiable_step": "None",
                "differentiable_function": f"\n\n# No differentiable kernel: {exc}.\n",
            }
        tensor_step = takes_step_tensor(rule)
        step_doc = (
            "the step *tensor* ``state_steps[i]``, already incremented (torch's ``capturable or\n"
            "    differentiable`` branch: the bias corrections are tensors)."
            if tensor_step
            else "t as a Python number, already incremented, as in ``update``."
        )
        template = (
            resources.files("symopt.codegen").joinpath("templates").joinpath("torch_differentiable_function.py.tmpl")
        )
        text = Template(template.read_text(encoding="utf-8")).substitute(
            state_parameters="".join(f", {identifier(s.name)}" for s in rule.states),
            update_signature=(", *, " + ", ".join(arguments(rule))) if arguments(rule) else "",
            step_doc=step_doc,
            body="\n".join(indent(body.splitlines())),
        )
        return {
            "differentiable": "True",
            "differentiable_step": repr("tensor" if tensor_step else "number"),
            "differentiable_function": "\n\n" + text.rstrip("\n") + "\n",
        }

    def capturable_fields(self, rule: UpdateRule) -> dict[str, str]:
        """The template's ``update_capturable`` and ``update_foreach_capturable`` (torch's
        ``capturable=True`` paths, compiled torch.optim's) for a bias-corrected rule, or why there
        are none (``CAPTURABLE``)."""
        try:
            body = TorchCapturableKernelPrinter().kernel_body(rule)
            foreach_body = TorchCapturableForeachKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"capturable": "False", "capturable_function": f"\n\n# No capturable kernels: {exc}.\n"}
        args = arguments(rule)
        foreach_args = tuple("steps" if a == "step" else a for a in args)
        template = resources.files("symopt.codegen").joinpath("templates").joinpath("torch_capturable_function.py.tmpl")
        text = Template(template.read_text(encoding="utf-8")).substitute(
            state_parameters="".join(f", {identifier(s.name)}" for s in rule.states),
            update_signature=(", *, " + ", ".join(args)) if args else "",
            foreach_state_parameters="".join(f", {identifier(s.name)}s" for s in rule.states),
            foreach_signature=(", *, " + ", ".join(foreach_args)) if foreach_args else "",
            body="\n".join(indent(body.splitlines())),
            foreach_body="\n".join(indent(foreach_body.splitlines())),
        )
        return {"capturable": "True", "capturable_function": "\n\n" + text.rstrip("\n") + "\n"}

    def sparse_fields(self, rule: UpdateRule) -> dict[str, str]:
        """The template's ``update_sparse`` (torch's sparse-gradient path), or why there is none."""
        try:
            body = TorchSparseKernelPrinter().kernel_body(rule)
        except CodegenError as exc:
            return {"sparse": "False", "sparse_function": f"\n\n# No sparse kernel: {exc}.\n"}
        template = resources.files("symopt.codegen").joinpath("templates").joinpath("torch_sparse_function.py.tmpl")
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
        return [
            "# complex tensors: their real view from here on, as torch.optim",
            f"{', '.join(names)} = {', '.join(f'_real({n})' for n in names)}",
        ]

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

    def unit_value_written(self, head: str) -> bool:
        """Whether torch writes ``value=1`` on an op updating ``head`` (:data:`UNIT_VALUE_WRITTEN`)."""
        keys = UNIT_VALUE_WRITTEN.get(self.rule.family, ())
        return head in {self.tname(st.symbol) for st in self.rule.states if st.name in keys}

    def op_arguments(self, op: Op, head: str = "") -> str:
        """``X, Y, value=c``; a keyword scalar is left out when it is 1 (torch's default), unless
        torch writes it (:data:`UNIT_VALUE_WRITTEN`). In a
        ``lerp`` weight a hyperparameter that may be a tensor (:attr:`Hyperparameter.tensor`)
        is moved to the dtype and device of ``head`` first (``_like``), as torch moves Adam's tensor
        β₁ (``lerp_``'s tensor weight must match it); a Python number passes as it is."""
        parts = [self.name(x) for x in op.tensors]
        if op.scalar is not None:
            key, value = op.scalar
            if not key:
                parts.append(self.lerp_weight(value, head) if op.method == "lerp" else self.scalar(value))
            elif value != 1 or self.unit_value_written(head):
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
                    accumulated = self._accumulate(terms[:i] + terms[i + 1 :])
                    return None if accumulated is None else Chain(term, tuple(accumulated), False)
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


#: ops whose backward reads their own output (``sqrt``: ∂√x = 1/(2√x)): autograd saves the result,
#: so torch's differentiable path never updates it in place afterwards (``std = state_sum.sqrt() + eps``)
SAVES_OUTPUT = frozenset({"sqrt"})

#: torch's ``differentiable=True`` path, where it checks ``requires_grad`` of a hyperparameter
#: tensor and then computes with it as a tensor operand (a ``value=``/``alpha=`` Scalar is
#: invisible to autograd), by rule: ``_single_tensor_adam`` for ``weight_decay`` (the L2 term:
#: ``grad.addcmul_(param.clone(), weight_decay)``) and ``beta2`` (``exp_avg_sq.lerp_(torch.square(
#: grad), weight=1 - beta2)``); ``_single_tensor_sgd`` for ``weight_decay`` and ``lr``
#: (``param.addcmul_(grad, lr, value=-1)``). Elsewhere torch passes the tensor as a Scalar (Adagrad's
#: and RMSprop's ``lr``, which then raises torch's ``TypeError ... must be Number, not Tensor``
#: when it requires grad), and so does the generated kernel. This is data about torch's code, not
#: about the models: torch writes these branches in some optimizers and not in others.
REQUIRES_GRAD_OPERANDS: dict[str, tuple[str, ...]] = {
    "adam": ("weight_decay", "beta2"),
    "adamw": ("weight_decay", "beta2"),
    "sgd": ("weight_decay", "lr"),
}


def step_scalars(rule: UpdateRule, tensors: frozenset[sp.Symbol]) -> set[sp.Symbol]:
    """t and the scalars computed from it (c₁, c₂, the step size): tensors where t is the step tensor."""
    out = {t}
    for a in rule.body:
        if not (a.expr.free_symbols & tensors) and a.expr.free_symbols & out:
            out.add(a.target)
    return out


def takes_step_tensor(rule: UpdateRule) -> bool:
    """Whether torch's differentiable path computes the rule's scalars on the step *tensor*: a rule
    with a bias correction (a hyperparameter raised to the power t, Adam's 1 − β₁^t) takes torch's
    ``if capturable or differentiable:`` branch, where ``step`` is ``state_steps[i]`` itself and
    the corrections, the step size and their gradients are tensors. The others read t as a Python
    number there too (Adagrad's ``_get_value(step_t)``)."""
    return any(t in p.exp.free_symbols for a in rule.body for p in a.expr.atoms(sp.Pow))


class StepTensorScalarPrinter(ScalarPrinter):
    """The scalars of the step-tensor form, printed as torch writes them on tensors: t is
    ``step.clone()`` (autograd may save the exponent of ``β**t``, and the caller increments the
    step in place at the next step: torch clones it where β requires grad; a clone is the same
    number and the same gradient), a root is ``.sqrt()`` (``bias_correction2.sqrt()``; on a tensor
    ``**0.5`` would be ``pow``, whose gradient rounds differently), a negated product ``.neg()``
    applied last (``step_size.neg()``)."""

    printmethod = "_symopt_step_tensor_scalar"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if expr.exp == sp.S.Half:
            return f"{self.parenthesize(expr.base, 1000)}.sqrt()"
        return super()._print_Pow(expr, rational)

    def doprint(self, expr, assign_to=None):
        """A negated product as ``(...).neg()``, the negation last (torch's ``step_size.neg()``)."""
        if isinstance(expr, sp.Mul) and expr.could_extract_minus_sign():
            return f"({super().doprint(-expr)}).neg()"
        return super().doprint(expr, assign_to)


def fold_step_size(
    rule: UpdateRule, step_scalars: set[sp.Symbol], tensors: frozenset[sp.Symbol], where: str = "each"
) -> UpdateRule:
    """The rule with the tensor coefficient of its parameter update folded into the denominator,
    as torch's differentiable and capturable Adam compute it: ``addcdiv_``'s ``value`` must be a
    Python number, so with c = −η/c₁ a tensor, w ← w + c·m/σ becomes w ← w + m/σ' with σ' = σ/c
    and c computed once (torch's ``step_size_neg``, ``step_size``), after the last temporary it
    reads. ``where="each"`` (torch's for-loop): every assignment to σ is divided by c (σ ← √v/c₂
    becomes √v/(c₂·c); σ ← σ + ε becomes σ + ε/c); ``"after"`` (torch's capturable foreach path):
    σ ← σ/c after the last assignment to σ. The same number in exact arithmetic; in floating
    point torch's rounding. A rule whose update has no such coefficient is returned as it is."""
    X, Y = sp.Wild("X", properties=[lambda e: e in tensors]), sp.Wild("Y", properties=[lambda e: e in tensors])
    c = sp.Wild("c", properties=[lambda e: not (e.free_symbols & tensors)])
    body = list(rule.body)
    at = max((i for i, a in enumerate(body) if a.target == w), default=None)
    if at is None:
        return rule
    update = body[at]
    terms = sp.Add.make_args(sp.expand(update.expr - w))
    found = [
        (k, m)
        for k, term in enumerate(terms)
        for m in [term.match(c * X / Y)]
        if m is not None and m[c].free_symbols & step_scalars and m[Y] not in {w, g}
    ]
    if not found:
        return rule
    if len(found) > 1:
        raise CodegenError(f"fold_step_size: {w} ← {update.expr} has several step-dependent quotients")
    k, m = found[0]
    denominator, coefficient = m[Y], m[c]
    scale = sp.Symbol("step_size_neg", real=True)
    reads = [i for i, a in enumerate(body[:at]) if a.target in coefficient.free_symbols]
    defs = [i for i, a in enumerate(body[:at]) if a.target == denominator]
    if not defs:
        raise CodegenError(f"fold_step_size: the denominator {denominator} of {w}'s update is never assigned")
    if where == "after":
        body.insert(at, Assign(denominator, denominator / scale, doc="divided by the folded step size"))
        at += 1
    else:
        for i in defs:
            a = body[i]
            if denominator in a.expr.free_symbols:
                rest = sp.expand(a.expr - denominator)
                if denominator in rest.free_symbols or rest.free_symbols & tensors:
                    raise CodegenError(f"fold_step_size: {a.target} ← {a.expr} is not σ + (a scalar)")
                body[i] = replace(a, expr=denominator + rest / scale)
            else:
                body[i] = replace(a, expr=a.expr / scale)
    new_terms = list(terms)
    new_terms[k] = m[X] / denominator
    body[at] = replace(update, expr=w + sp.Add(*new_terms))
    place = (max(reads) + 1) if reads else defs[0]
    if place > defs[0]:
        raise CodegenError(f"fold_step_size: {coefficient} is computed after {denominator} is first assigned")
    body.insert(place, Assign(scale, coefficient, doc="the update's step size, negated, folded into σ"))
    return replace(rule, body=tuple(body))


class TorchDifferentiableKernelPrinter(TorchKernelPrinter):
    """Prints an :class:`~symopt.rules.UpdateRule` body as torch.optim's ``differentiable=True``
    for-loop (``_single_tensor_*`` with autograd recording, the step under ``torch.enable_grad``):
    the ops of :class:`TorchKernelPrinter` where autograd can differentiate through them, changed
    exactly where torch changes them, so that a step and its gradients are bitwise torch's:

    ==========================================  ==================================================  ==================================================
    where                                       for-loop                                            differentiable
    ==========================================  ==================================================  ==================================================
    a tensor whose producer saved its output    ``sigma = v.sqrt()``; ``sigma.add_(eps)``           ``sigma = sigma.add(eps)`` (:data:`SAVES_OUTPUT`)
    ``T ← max(T, X)``                           ``torch.maximum(T, X, out=T)``                      ``T.copy_(torch.maximum(T.clone(), X))``
    a state read by the parameter's            ``param.addcdiv_(exp_avg, sigma, ...)``             ``param.addcdiv_(exp_avg.clone(), sigma)``
    ``addcdiv``/``addcmul`` (saved by it)
    a rule with a bias correction               t a Python number, ``c_2 = (1 - beta2**step)**0.5``  t the step tensor, ``(1 - beta2**step.clone()).sqrt()``
    (:func:`takes_step_tensor`)                 ``param.addcdiv_(m, sigma, value=-lr/c_1)``         the step size folded into σ (:func:`fold_step_size`)
    a hyperparameter in                         ``grad.add(param, alpha=weight_decay)``              ``if _requires_grad(weight_decay):``
    :data:`REQUIRES_GRAD_OPERANDS`                                                                  ``grad = grad.addcmul_(param.clone(), weight_decay)``
    ==========================================  ==================================================  ==================================================

    The tensor-operand forms of :data:`REQUIRES_GRAD_OPERANDS` are ``T ← T ± h·X`` →
    ``T.addcmul_(X, h[, value=-1])`` (X cloned when it is the parameter, which is updated in place
    later; on ``grad`` in place, as torch: it writes the caller's gradient there) and
    ``T ← h·T + (1 − h)·E`` → ``T.lerp_(E, weight=1 - h)``; each under ``if _requires_grad(h):``,
    the for-loop's op under ``else:``, as torch branches.
    """

    printmethod = "_symopt_torch_differentiable_kernel"
    #: autograd records the kernel: clones of what it saves, out of place after a saved output,
    #: torch's requires_grad branches (off in :class:`TorchCapturableKernelPrinter`)
    autograd = True

    def kernel_body(self, rule: UpdateRule) -> str:
        """The statements of ``update_differentiable`` (the model with :func:`fold_step_size`
        applied where t is the step tensor)."""
        if takes_step_tensor(rule):
            tensors = tensor_symbols(rule)
            rule = fold_step_size(rule, step_scalars(rule, tensors), tensors)
        return self._print(rule)

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        self.step_tensor = takes_step_tensor(rule)
        self.step_scalars = step_scalars(rule, self.tensors) if self.step_tensor else set()
        names = dict(self.names)
        if self.autograd:
            names[t] = f"{self.names[t]}.clone()"
        self.step_printer = StepTensorScalarPrinter(names)
        self.saved_output: set[sp.Symbol] = set()
        checked = REQUIRES_GRAD_OPERANDS.get(rule.family, ()) if self.autograd else ()
        self.grad_checked = [h for h in rule.hyperparameters if h.name in checked]

    # -- statements ---------------------------------------------------------------------------
    def _print_Assign(self, assign: Assign) -> list[str]:
        if self.is_scalar(assign.expr) and assign.expr.free_symbols & self.step_scalars:
            return [
                assignment_comment(assign),
                f"{self.name(assign.target)} = {self.step_printer.doprint(assign.expr)}",
            ]
        lines = super()._print_Assign(assign)
        for h in self.grad_checked:
            form = self.operand_form(assign, h)
            if form is not None:
                return [lines[0], f"if _requires_grad({h.name}):", *indent(form), "else:", *indent(lines[1:])]
        return lines

    def operand_form(self, assign: Assign, h) -> Optional[list[str]]:
        """torch's tensor-operand form of ``assign`` for a hyperparameter ``h`` that requires
        grad, or None when ``h`` is not a coefficient of it there."""
        target, expr, hs = assign.target, assign.expr, h.symbol
        rest = sp.expand(expr - target)
        m = rest.match(self.c * self.X)
        if m is not None and m[self.c] in (hs, -hs) and m[self.X] != target:
            operand = self.name(m[self.X]) + (".clone()" if m[self.X] == w else "")
            value = "" if m[self.c] == hs else ", value=-1"
            code = f"{self.name(target)}.addcmul_({operand}, {h.name}{value})"
            return [code] if target in self.persistent else [f"{self.name(target)} = {code}"]
        if target in self.persistent and hs in expr.free_symbols:
            end = sp.simplify((expr - hs * target) / (1 - hs))
            if (
                not (end.free_symbols & {target, hs})
                and self.is_tensor(end)
                and sp.expand(hs * target + (1 - hs) * end - expr) == 0
            ):
                return [f"{self.name(target)}.lerp_({self.end_code(end)}, weight={self.scalar(1 - hs)})"]
        return None

    def end_code(self, expr: sp.Expr) -> str:
        """A lerp end: ``torch.square(X)`` for X² (torch's), else the out-of-place expression."""
        if isinstance(expr, sp.Pow) and expr.exp == 2 and self.is_tensor_symbol(expr.base):
            return f"torch.square({self.name(expr.base)})"
        return self.fallback.doprint(expr)

    # -- rendering -------------------------------------------------------------------------------
    def render(self, chain: Chain, target: Optional[sp.Symbol] = None) -> list[str]:
        """Out of place where the chain would update a tensor autograd saved (the output of
        :data:`SAVES_OUTPUT`): ``sigma = sigma.add(eps)``."""
        if chain.inplace and chain.head in self.saved_output and self.autograd:
            chain, target = Chain(chain.head, chain.ops, False), chain.head
        lines = super().render(chain, target)
        made = chain.head if target is None else target
        if chain.ops and chain.ops[-1].method in SAVES_OUTPUT:
            self.saved_output.add(made)
        else:
            self.saved_output.discard(made)
        return lines

    def fallback_assignment(self, target: sp.Symbol, expr: sp.Expr, assign: Assign) -> list[str]:
        lines = super().fallback_assignment(target, expr, assign)
        if isinstance(expr, sp.Pow) and expr.exp == sp.S.Half:
            self.saved_output.add(target)
        return lines

    def chain_code(self, chain: Chain) -> str:
        if chain.ops and chain.ops[0].method == "maximum" and chain.inplace and len(chain.ops) == 1:
            head = self.name(chain.head)
            return f"{head}.copy_(torch.maximum({head}{'.clone()' if self.autograd else ''}, {self.name(chain.ops[0].tensors[0])}))"
        return super().chain_code(chain)

    def op_arguments(self, op: Op, head: str = "") -> str:
        """A state read by the parameter's ``addcdiv``/``addcmul`` is cloned (autograd saves it,
        and it is updated in place at the next step), as torch's ``exp_avg.clone()``."""
        if head != self.name(w) or op.method not in ("addcdiv", "addcmul") or not self.autograd:
            return super().op_arguments(op, head)
        states = {s.symbol for s in self.rule.states}
        parts = [self.name(x) + (".clone()" if x in states else "") for x in op.tensors]
        scalar = super().op_arguments(Op(op.method, (), op.scalar), head)
        return ", ".join(parts + ([scalar] if scalar else []))


class TorchCapturableKernelPrinter(TorchDifferentiableKernelPrinter):
    """Prints a bias-corrected rule (:func:`takes_step_tensor`) as torch's ``capturable=True``
    for-loop (``update_capturable``): the step tensor, the step size folded into the
    denominator (:func:`fold_step_size`), ``T.copy_(torch.maximum(T, X))``, as
    :class:`TorchDifferentiableKernelPrinter`, without what only autograd needs (clones,
    out-of-place adds, requires_grad branches): torch's ``if capturable or differentiable:``
    branch with ``differentiable=False``. Under ``torch.compile`` dynamo makes every torch.optim
    param group capturable in the traced code, so this is what compiled torch.optim runs."""

    printmethod = "_symopt_torch_capturable_kernel"
    autograd = False

    def kernel_body(self, rule: UpdateRule) -> str:
        if not takes_step_tensor(rule):
            raise CodegenError(
                f"{type(self).__name__}: {rule.name} has no bias correction; torch's capturable "
                "for-loop computes it as the for-loop does"
            )
        return super().kernel_body(rule)


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
        raise CodegenError(
            f"{type(self).__name__} creates the lazy state {target} only in a per-tensor run: "
            "its creation must be guarded by the step"
        )

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
                raise CodegenError(
                    f"{type(self).__name__}: only state updates may be guarded by the step; "
                    f"{a.target} ← {a.expr} is guarded by {a.when}"
                )
        split = [_conjuncts(a.when, self.per_tensor) for a in group]
        common = set.intersection(*(set(free) for free, _ in split))
        common_guard = sp.And(*sorted(common, key=sp.srepr)) if common else sp.true
        rest = [(sp.And(*[c for c in free if c not in common]), sp.And(*timed)) for free, timed in split]
        steady_parts = {timed for (_, timed) in rest if _steady(timed)}
        if len(steady_parts) > 1:
            raise CodegenError(
                f"{type(self).__name__}: several steady branches {sorted(map(str, steady_parts))} in one run"
            )
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
        return [
            "# complex tensors: their real view, first, as torch.optim's foreach path",
            f"{', '.join(names)} = {', '.join(f'_reals({n})' for n in names)}",
        ]

    def guard(self, condition: sp.Basic) -> str:
        if condition.free_symbols & self.per_tensor:
            raise CodegenError(
                f"the guard {condition} depends on the step, which differs between the tensors of a foreach call"
            )
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
        convention is ``foreach_scale="op"``, goes to ``addcdiv``/``addcmul`` as their scalar list
        (through torch's ``_stack_if_compiling``: under ``torch.compile`` the steps are tensors, and
        torch passes their scalars as one stacked tensor)."""
        lines: list[str] = []
        tensors = [self.tname(x) for x in op.tensors]
        args = list(tensors)
        if op.scalar is not None:
            key, value = op.scalar
            if (
                key == "value"
                and value.free_symbols & self.per_tensor
                and self.scale_in_op
                and op.method in ("addcdiv", "addcmul")
            ):
                # torch's _multi_tensor_adam: one tensor of the scalars under torch.compile (the
                # steps are tensors there), the list of numbers eagerly
                args.append(f"_stack_if_compiling({self.scalar(value)})")
            elif key and value.free_symbols & self.per_tensor:
                scaled = f"_scaled{self._scratch}"
                self._scratch += 1
                lines.append(f"{scaled} = torch._foreach_mul({tensors[0]}, {self.scalar(value)})")
                args[0] = scaled
            elif not key:
                args.append(self.scalar(value))
            elif value != 1 or self.unit_value_written(on):
                args.append(f"{key}={self.scalar(value)}")
        call = f"torch._foreach_{op.method}{'_' if inplace else ''}({', '.join([on, *args])})"
        lines.append(call if inplace else f"{result} = {call}")
        compiled = self.tensor_lr_form(op, on, inplace)
        if compiled is None:
            return lines
        return [
            f"if isinstance({TENSOR_LR}, torch.Tensor) and torch.compiler.is_compiling():",
            *indent(compiled),
            "else:",
            *indent(lines),
        ]

    def tensor_lr_form(self, op: Op, on: str, inplace: bool) -> Optional[list[str]]:
        """torch's multi-tensor ops for a tensor ``lr`` under ``torch.compile``, where the op's
        ``alpha=``/``value=`` Scalar would be read with ``.item()`` (a graph break in torch's
        words, "silent incorrectness if we are capturing"): ``T += c·X`` as
        ``_foreach_add_(T, _foreach_mul(X, c))`` (``_multi_tensor_sgd``, RMSprop's momentum), and
        ``T += c·X/Y`` as ``_foreach_div_(Y, c)``; ``_foreach_addcdiv_(T, X, Y)`` (RMSprop's, Y a
        temporary). None where the scalar is not ±lr or the op has no such form."""
        if op.scalar is None or not inplace:
            return None
        key, value = op.scalar
        lr = next((h.symbol for h in self.rule.hyperparameters if h.name == TENSOR_LR), None)
        if lr is None or value not in (lr, -lr) or value.free_symbols & self.per_tensor:
            return None
        tensors = [self.tname(x) for x in op.tensors]
        if op.method == "add" and key == "alpha" and len(tensors) == 1:
            return [f"torch._foreach_add_({on}, torch._foreach_mul({tensors[0]}, {self.scalar(value)}))"]
        if op.method == "addcdiv" and key == "value" and op.tensors[1] not in self.persistent:
            return [
                f"torch._foreach_div_({tensors[1]}, {self.scalar(value)})",
                f"torch._foreach_addcdiv_({on}, {tensors[0]}, {tensors[1]})",
            ]
        return None


class TorchCapturableForeachKernelPrinter(TorchForeachKernelPrinter):
    """Prints a bias-corrected rule (:func:`takes_step_tensor`) as torch's ``capturable=True``
    multi-tensor path (``update_foreach_capturable``; ``_multi_tensor_adam``'s ``if capturable:``
    branch, which compiled torch.optim runs: dynamo makes every param group capturable in the
    traced code). The per-tensor scalars are lists of tensors computed from ``steps`` (the step
    tensors) with foreach ops, as torch does, and the step size is folded into the denominator
    after it is complete (:func:`fold_step_size` with ``where="after"``)::

        1 − β^t      (β^t − 1), negated: torch._foreach_pow(beta, steps); _foreach_sub_(·, 1); _foreach_neg_
        √x           _foreach_sqrt_
        x / d, x·d   _foreach_div_(·, d), _foreach_mul_(·, d)
        a / x        (x / a), reciprocal (foreach_div takes no scalar first): −η/(1 − β^t) is
                     _foreach_pow; _foreach_sub_(·, 1); _foreach_div_(·, lr); _foreach_reciprocal_
        σ ← σ/s      _foreach_div_(sigmas, step_size_negs)

    A per-tensor scalar that only another one reads (c₁, inside the step size) is not computed
    on its own, as torch does not."""

    printmethod = "_symopt_torch_capturable_foreach_kernel"

    def kernel_body(self, rule: UpdateRule) -> str:
        if not takes_step_tensor(rule):
            raise CodegenError(
                f"{type(self).__name__}: {rule.name} has no bias correction; torch's capturable "
                "multi-tensor path computes it as the foreach path does"
            )
        tensors = tensor_symbols(rule)
        return self._print(fold_step_size(rule, step_scalars(rule, tensors), tensors, where="after"))

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        used: set[sp.Symbol] = set()
        for a in rule.body:
            if self.is_tensor(a.expr):
                used |= a.expr.free_symbols
        self.listed = {a.target for a in rule.body if a.target in self.per_tensor and a.target in used}
        self.definitions = {a.target: a.expr for a in rule.body if a.target in self.per_tensor and a.target != t}

    def scalar_assignment(self, target: sp.Symbol, expr: sp.Expr) -> list[str]:
        if target not in self.per_tensor:
            return super().scalar_assignment(target, expr)
        if target not in self.listed:
            return [f"# (computed within the per-tensor scalars that read {target}, as torch)"]
        inline = expr.subs({s: d for s, d in self.definitions.items() if s not in self.listed and s != target})
        return self.emit_list(inline, f"{self.name(target)}s")

    def emit_list(self, expr: sp.Expr, dest: str) -> list[str]:
        """Statements computing the per-tensor scalar ``expr`` (of t) into the fresh list ``dest``."""
        if isinstance(expr, sp.Pow) and expr.exp == t and not (expr.base.free_symbols & self.per_tensor):
            return [f"{dest} = torch._foreach_pow({self.scalar(expr.base)}, steps)"]
        if isinstance(expr, sp.Pow) and expr.exp == sp.S.Half:
            return self.emit_list(expr.base, dest) + [f"torch._foreach_sqrt_({dest})"]
        varying = [a for a in expr.args if a.free_symbols & self.per_tensor]
        if len(varying) != 1 or not isinstance(expr, (sp.Add, sp.Mul)):
            raise CodegenError(f"{type(self).__name__} cannot compute {expr} with foreach ops")
        (part,) = varying
        if isinstance(expr, sp.Add):
            constant = expr - part
            if part.could_extract_minus_sign():  # c − x: (x − c), negated
                return self.emit_list(-part, dest) + self.shift(dest, -constant) + [f"torch._foreach_neg_({dest})"]
            return self.emit_list(part, dest) + self.shift(dest, constant)
        scale = expr / part
        if isinstance(part, sp.Pow) and part.exp == -1:  # a / x: (x / a), reciprocal
            base = part.base
            if scale.could_extract_minus_sign():
                base, scale = sp.expand(-base), -scale
            return self.emit_list(sp.Mul(base, 1 / scale), dest) + [f"torch._foreach_reciprocal_({dest})"]
        numerator, denominator = sp.fraction(scale)
        lines = self.emit_list(part, dest)
        if numerator != 1:
            lines.append(f"torch._foreach_mul_({dest}, {self.scalar(numerator)})")
        if denominator != 1:
            lines.append(f"torch._foreach_div_({dest}, {self.scalar(denominator)})")
        return lines

    def shift(self, dest: str, constant: sp.Expr) -> list[str]:
        if constant == 0:
            return []
        if constant.could_extract_minus_sign():
            return [f"torch._foreach_sub_({dest}, {self.scalar(-constant)})"]
        return [f"torch._foreach_add_({dest}, {self.scalar(constant)})"]

    def _print_Assign(self, assign: Assign) -> list[str]:
        target, expr = assign.target, assign.expr
        quotient = sp.simplify(expr * target**-1) if target in self.tensors and target in expr.free_symbols else None
        if quotient is not None and quotient.is_Pow and quotient.exp == -1 and quotient.base in self.listed:
            return [
                assignment_comment(assign),
                f"torch._foreach_div_({self.tname(target)}, {self.name(quotient.base)}s)",
            ]
        return super()._print_Assign(assign)


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

    Anything else (a state that decays as a whole, ``v ← αv + …``; a lazy state; a number per
    tensor, a reduction's) has no sparse form and raises :class:`CodegenError`: the module then
    has no ``update_sparse``.
    """

    printmethod = "_symopt_torch_sparse_kernel"

    def setup(self, rule: UpdateRule) -> None:
        super().setup(rule)
        if self.lazy:
            raise CodegenError(f"{type(self).__name__}: a lazy state has no sparse form")
        if rule.per_tensor_symbols():
            raise CodegenError(f"{type(self).__name__}: a number per tensor (a reduction) has no sparse form")
        self.dense = dict(self.names)
        self.values_from = {id(a) for a in rule.body[prelude_index(rule) :]}
        self.in_values = False

    def after_body(self) -> list[str]:
        return []

    def before_state_updates(self) -> list[str]:
        """torch's ``grad = grad.coalesce()`` and its indices and values."""
        return [
            "# the rows g touches, each once (torch coalesces: the update is nonlinear in g)",
            "grad = grad.coalesce()",
            "grad_indices = grad._indices()",
            "grad_values = grad._values()",
        ]

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
                    raise CodegenError(
                        f"{type(self).__name__}: g ← {expr} reads a dense tensor into the sparse gradient"
                    )
                names = sorted(h.name for h in self.rule.hyperparameters if h.symbol in assign.when.free_symbols)
                return lines + [
                    f'raise RuntimeError("{", ".join(names)} option is not compatible with sparse gradients")'
                ]
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
