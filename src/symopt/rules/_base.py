"""What an update rule *is*: hyperparameters, state, and an ordered tuple of elementwise assignments.

A rule is data. The same :class:`UpdateRule` is read by the derivations (``symopt.derive``), the
reference interpreter (``symopt.interpret``), the code printers (``symopt.codegen``) and the LaTeX
renderer below. Nothing in this module knows about a particular optimizer.

One step of a rule, for every element of a parameter tensor, is

1. ``t ← t + 1`` (the step counter, incremented first, as torch.optim does);
2. the assignments of :attr:`UpdateRule.body`, in order. An assignment whose guard ``when`` is
   false is skipped. Guards are SymPy booleans over hyperparameters and ``t`` (torch's
   ``if weight_decay != 0:``, ``if centered:``, ``if momentum > 0:``, "first step").

Assignments may overwrite the gradient symbol ``g`` (maximize, weight decay) and temporaries, exactly
as torch.optim's for-loop code rebinds ``grad``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import sympy as sp

from ._conventions import Conventions

#: The parameter, the gradient and the step counter: the same symbols in every rule.
w = sp.Symbol("w", real=True)
g = sp.Symbol("g", real=True)
t = sp.Symbol("t", integer=True, positive=True)


@dataclass(frozen=True)
class Hyperparameter:
    """A constructor argument of the optimizer.

    ``name`` is torch.optim's keyword, ``symbol`` the letter used in the mathematics, ``default``
    torch.optim's default. Numeric hyperparameters must satisfy ``minimum <= value <= maximum``;
    a violation raises ``ValueError(error.format(value=value))``, torch.optim's own message.
    Flags (``default`` a bool) are booleans: ``maximize``, ``centered``, ``nesterov``.
    ``tensor`` says that torch also takes a one-element tensor for it (every ``lr``, Adam's
    betas, SGD's ``weight_decay``) and then computes with it as a tensor, in its dtype.
    """

    name: str
    symbol: sp.Symbol
    default: float | bool
    doc: str
    minimum: float = 0.0
    maximum: float = math.inf
    error: str = ""
    tensor: bool = False

    @property
    def is_flag(self) -> bool:
        return isinstance(self.default, bool)

    @property
    def allowed(self) -> str:
        """The allowed values, as a user reads them: ``[0, inf)``, ``True/False``."""
        if self.is_flag:
            return "True/False"
        hi = "inf)" if self.maximum == math.inf else f"{self.maximum:g}]"
        return f"[{self.minimum:g}, {hi}"

    def validate(self, value: Any) -> None:
        """Raise torch.optim's ``ValueError`` when ``value`` is outside the allowed range."""
        if self.is_flag:
            if not isinstance(value, bool):
                raise TypeError(f"{self.name} must be True or False, got {value!r}")
            return
        if hasattr(value, "numel") and value.numel() != 1:
            raise ValueError(f"Tensor {self.name} must be 1-element")
        try:
            number = float(value)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{self.name} must be a real number, got {value!r}") from None
        if not (self.minimum <= number <= self.maximum):
            message = self.error or f"Invalid {self.name} value: {{value}}"
            raise ValueError(message.format(value=value))


@dataclass(frozen=True)
class Check:
    """A condition on several hyperparameters that torch.optim checks in the constructor, with
    torch's message (SGD: nesterov needs momentum > 0 and dampening = 0)."""

    condition: sp.Basic
    error: str


class tensor_sum(sp.Function):
    r"""The sum of ``x`` over every element of the tensor, :math:`\sum_i x_i`: the one reduction a
    rule may use (AdaGrad-Norm's squared norm ‖g‖² = ``tensor_sum(g**2)``). Every element sees the
    same value, a number per parameter tensor; the printers write it as a reduction
    (``np.sum``, ``Tensor.sum``), the interpreter sums the whole array."""

    nargs = 1

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_nonnegative

    def _latex(self, printer: Any) -> str:
        return r"\textstyle\sum_{i} \left(" + printer._print(self.args[0]) + r"\right)_{i}"


def has_reduction(expr: sp.Basic) -> bool:
    """Whether ``expr`` sums over the tensor (:class:`tensor_sum`)."""
    return bool(expr.atoms(tensor_sum))


def outside_reductions(expr: sp.Basic) -> set[sp.Symbol]:
    """The symbols ``expr`` reads elementwise: outside every :class:`tensor_sum`."""
    return expr.xreplace({r: sp.Integer(1) for r in expr.atoms(tensor_sum)}).free_symbols


@dataclass(frozen=True)
class StateVar:
    """A per-element buffer kept between steps (torch's ``optimizer.state[p][name]``).

    ``initial`` is its value before the first step, in terms of hyperparameters; ``when`` says when
    torch creates it (``centered`` for ``grad_avg``, ``momentum > 0`` for ``momentum_buffer``).
    ``lazy``: torch creates it at the first step, as a copy of the value its first assignment
    gives it (SGD's ``buf = grad.detach().clone()``: the gradient's layout, not the parameter's),
    and keeps no entry before; the first assignment then must not read it, and ``initial`` only
    stands for "not yet" (kernels' ``init_state`` leave it out, the interpreter starts it there).
    """

    name: str
    symbol: sp.Symbol
    initial: sp.Expr
    doc: str
    when: sp.Basic = sp.true
    lazy: bool = False
    #: one number per parameter tensor (a 0-dim buffer in the param's dtype and on its device:
    #: AdaGrad-Norm's accumulated squared norm), not one per element
    per_tensor: bool = False


@dataclass(frozen=True)
class Assign:
    """``target ← expr``, executed when ``when`` holds. ``doc`` says what it is in words."""

    target: sp.Symbol
    expr: sp.Expr
    when: sp.Basic = sp.true
    doc: str = ""


@dataclass(frozen=True)
class UpdateRule:
    """An optimizer update rule as data. Build one with :func:`symopt.rules.adagrad` and friends.

    ``body`` is in the order the reference implementation executes it, so that a printer can emit
    the same operations in the same order. ``stores_step`` says whether the step counter is part
    of the optimizer state (torch's ``state["step"]``): SGD does not keep one.
    ``state_creation_order`` names the states in the order the reference creates them in its
    state dict, where that differs from the order of ``states`` (torch's RMSprop makes
    ``momentum_buffer`` before ``grad_avg``): ``state_dict()`` and everything that iterates a
    param's state see torch's order. Empty: the order of ``states``.
    """

    family: str
    dialect: str
    title: str
    conventions: Conventions
    hyperparameters: tuple[Hyperparameter, ...]
    states: tuple[StateVar, ...]
    body: tuple[Assign, ...]
    stores_step: bool = True
    reference: str = ""
    description: str = ""
    checks: tuple[Check, ...] = field(default=())
    validation_order: tuple[str, ...] = field(default=())
    state_creation_order: tuple[str, ...] = field(default=())

    # -- lookup -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.family}[{self.dialect}]"

    def hyperparameter(self, name: str) -> Hyperparameter:
        for h in self.hyperparameters:
            if h.name == name:
                return h
        known = ", ".join(h.name for h in self.hyperparameters)
        raise KeyError(f"{self.name} has no hyperparameter {name!r}; it has: {known}")

    def states_in_creation_order(self) -> tuple[StateVar, ...]:
        """``states`` in the order the reference creates them (``state_creation_order``)."""
        if not self.state_creation_order:
            return self.states
        rank = {name: i for i, name in enumerate(self.state_creation_order)}
        return tuple(sorted(self.states, key=lambda s: rank.get(s.name, len(rank))))

    def state(self, name: str) -> StateVar:
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(f"{self.name} has no state {name!r}")

    @property
    def symbols(self) -> dict[str, sp.Symbol]:
        """Every named symbol of the rule: hyperparameters, states, ``w``, ``g``, ``t``."""
        out = {h.name: h.symbol for h in self.hyperparameters}
        out.update({s.name: s.symbol for s in self.states})
        out.update(param=w, grad=g, step=t)
        return out

    def per_tensor_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols that hold one number per parameter tensor: the per-tensor states
        (:attr:`StateVar.per_tensor`) and every temporary whose first assignment reduces over the
        tensor (:class:`tensor_sum`) or reads only such symbols and scalars elementwise."""
        kept = {s.symbol for s in self.states if s.per_tensor}
        elementwise = {w, g} | {s.symbol for s in self.states if not s.per_tensor}
        for a in self.body:
            outside = outside_reductions(a.expr)
            if a.target in kept and outside & elementwise:
                raise ValueError(f"{self.name}: {a.target} holds one number per tensor, then is assigned {a.expr}")
            if a.target in kept or a.target in elementwise:
                continue
            if outside & elementwise:
                elementwise.add(a.target)
            elif has_reduction(a.expr) or outside & kept:
                kept.add(a.target)
        return frozenset(kept)

    @property
    def temporaries(self) -> tuple[sp.Symbol, ...]:
        """Symbols assigned in the body that are neither state, parameter nor gradient."""
        kept = {s.symbol for s in self.states} | {w, g}
        seen: list[sp.Symbol] = []
        for a in self.body:
            if a.target not in kept and a.target not in seen:
                seen.append(a.target)
        return tuple(seen)

    # -- values -------------------------------------------------------------------------------
    def values(self, **overrides: Any) -> dict[sp.Symbol, Any]:
        """Hyperparameter values: torch.optim's defaults, replaced by ``overrides`` (validated in
        torch.optim's order, with torch.optim's messages)."""
        names = {h.name for h in self.hyperparameters}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"{self.name} got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(h.name for h in self.hyperparameters)}"
            )
        present = [h.name for h in self.hyperparameters]
        order = [n for n in self.validation_order if n in present] + [
            n for n in present if n not in self.validation_order
        ]
        out: dict[sp.Symbol, Any] = {}
        for name in order:
            h = self.hyperparameter(name)
            value = overrides.get(h.name, h.default)
            h.validate(value)
            out[h.symbol] = value
        for check in self.checks:
            if decide(check.condition, out) is False:
                raise ValueError(check.error)
        return out

    def active_states(self, values: Mapping[sp.Symbol, Any]) -> tuple[StateVar, ...]:
        """The states torch keeps for these hyperparameter values."""
        return tuple(s for s in self.states if decide(s.when, values) is True)

    # -- specialisation and the one-step map --------------------------------------------------
    def specialize(self, **values: Any) -> UpdateRule:
        """The rule with every guard that ``values`` decides resolved: true guards dropped, false
        assignments and states removed. Symbols keep their names; no number is substituted into an
        expression (use :meth:`step_map` for that)."""
        known = {self.hyperparameter(k).symbol: v for k, v in values.items()}
        body = []
        for a in self.body:
            verdict = decide(a.when, known)
            if verdict is False:
                continue
            body.append(replace(a, when=sp.true) if verdict is True else a)
        states = []
        for s in self.states:
            verdict = decide(s.when, known)
            if verdict is False:
                continue
            states.append(replace(s, when=sp.true) if verdict is True else s)
        return replace(self, body=tuple(body), states=tuple(states))

    def step_map(self, **values: Any) -> dict[sp.Symbol, sp.Expr]:
        """One step as a map ``{w: w_new, state: state_new}`` in terms of the old values, ``g``,
        ``t`` and the hyperparameters (after ``t ← t + 1``).

        Guards are resolved with ``values`` where given and with torch's defaults otherwise
        (``maximize=False``, ``weight_decay=0``, ...). A guard that still depends on ``t`` becomes a
        ``Piecewise``.
        """
        known = {h.symbol: values.get(h.name, h.default) for h in self.hyperparameters}
        unknown = set(values) - {h.name for h in self.hyperparameters}
        if unknown:
            raise TypeError(f"{self.name}: unknown hyperparameter(s) {sorted(unknown)}")
        env: dict[sp.Symbol, sp.Expr] = {}
        for a in self.body:
            new = a.expr.xreplace(env)
            verdict = decide(a.when, known)
            if verdict is False:
                continue
            if verdict is None:
                old = env.get(a.target, a.target)
                new = sp.Piecewise((new, a.when.xreplace(_flags_only(known))), (old, True))
            env[a.target] = new
        kept = [w] + [s.symbol for s in self.states if decide(s.when, known) is not False]
        return {sym: env.get(sym, sym) for sym in kept}

    # -- rendering ----------------------------------------------------------------------------
    def latex(self) -> list[str]:
        """The body as LaTeX lines ``target \\leftarrow expr`` (with its guard), one per assignment,
        rendered from the model."""
        lines = []
        for a in self.body:
            line = rf"{sp.latex(a.target)} \leftarrow {sp.latex(a.expr)}"
            if a.when is not sp.true:
                line += rf" \quad \text{{if }} {sp.latex(a.when)}"
            lines.append(line)
        return lines

    def equations_latex(self, **values: Any) -> list[str]:
        """The one-step map as recurrences with time subscripts, e.g.
        ``v_{t} = \\alpha v_{t-1} + (1-\\alpha) g_{t}^{2}``, rendered from :meth:`step_map`."""
        step = self.step_map(**values)
        now = {s: sp.Symbol(f"{sp.latex(s)}_{{t}}") for s in step}
        before = {s: sp.Symbol(f"{sp.latex(s)}_{{t-1}}") for s in step}
        before[g] = sp.Symbol("g_{t}")
        lines = []
        for sym, expr in step.items():
            if expr == sym:
                continue
            lines.append(rf"{sp.latex(now[sym])} = {sp.latex(expr.xreplace(before))}")
        return lines

    def fingerprint(self) -> str:
        """A short hash of everything that determines generated code (the model, not its docs)."""
        parts = [self.family, self.dialect, repr(self.conventions)]
        parts += [f"{h.name}:{sp.srepr(h.symbol)}:{h.default!r}" for h in self.hyperparameters]
        parts += [
            f"{s.name}:{sp.srepr(s.symbol)}:{sp.srepr(s.initial)}:{sp.srepr(s.when)}"
            + (":lazy" if s.lazy else "")
            + (":per_tensor" if s.per_tensor else "")
            for s in self.states
        ]
        parts += [f"{sp.srepr(a.target)}={sp.srepr(a.expr)}|{sp.srepr(a.when)}" for a in self.body]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def decide(condition: sp.Basic, values: Mapping[sp.Symbol, Any]) -> bool | None:
    """True/False when ``values`` decide ``condition``; None when it still depends on a free symbol
    (``t``, or a hyperparameter not given)."""
    if condition is sp.true or condition is True:
        return True
    if condition is sp.false or condition is False:
        return False
    numeric = {k: _as_sympy(v) for k, v in values.items() if k in condition.free_symbols}
    result = condition.xreplace(numeric)
    if result in (sp.true, True):
        return True
    if result in (sp.false, False):
        return False
    return None


def _flags_only(values: Mapping[sp.Symbol, Any]) -> dict[sp.Symbol, Any]:
    return {k: _as_sympy(v) for k, v in values.items()}


def _as_sympy(value: Any) -> sp.Basic:
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, sp.Basic):
        return value
    return sp.Float(float(value)) if not float(value).is_integer() else sp.Integer(int(float(value)))
