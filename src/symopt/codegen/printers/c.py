"""The C99 fused-loop printer: every structural variant of a rule as one C function whose single
loop reads each buffer once, applies every assignment of the body in registers, and writes the
parameter and the states once. The loop runs (OpenMP-parallel) over a *chunk table* that covers
all tensors of a param group, so one call steps a whole group.

The printer is a :class:`sympy.printing.c.C99CodePrinter` (strict): scalar expressions
(``η_t = η/(1 + (t − 1)γ)``, ``1 − α``) are printed by it in ``double`` — the precision torch.optim
computes them in, as Python floats — and cast once to the element type, as torch casts a Python
scalar to the tensor's dtype. Element-wise assignments are matched (SymPy :class:`~sympy.Wild`
patterns on the model's expressions, never on a rule's name) against the shapes of torch's CPU
operations and printed with *their* rounding, so the fused loop computes the same bits as the
torch op sequence:

=================================  =====================================  ============================
model shape                        torch op (CPU)                          C (``T`` the target)
=================================  =====================================  ============================
``T ← a·T + c·X·Y`` / ``c·X²``      ``T.mul_(a).addcmul_(X, Y, value=c)``   ``fma(c*X, Y, T*a)``
``T ← T + c·X/Y``                   ``T.addcdiv_(X, Y, value=c)``            ``T + (c*X)/Y``
``T ← X + c·Y``                     ``X.add(Y, alpha=c)``                    ``fma(c, Y, X)``
``T ← T + c·(X − T)``               ``T.lerp_(X, c)``                        ``fma(c, X − T, T)`` (|c| < ½),
                                                                             else ``fma(c − 1, X − T, X)``
``T ← √(X + c·Y·Z)``, ``T ← √X``    ``addcmul(...).sqrt_()``, ``sqrt()``    ``sqrt(fma(c*Y, Z, X))``
``T ← T + d``, ``T ← −X``           ``add_(d)``, ``-X``                      ``T + d``, ``-X``
``T ← c·X``, ``T ← √X / c``         ``x * Vec(scalar_t(c))`` (ATen fused)   ``X*c``, ``sqrt(X)/c``
``T ← max(T, X)``                   ``maximum`` (AMSGrad)                   ``symopt_max(T, X)``
=================================  =====================================  ============================

ATen's fused SGD and Adam kernels (``FusedSGDKernel.cpp``, ``FusedAdamKernel.cpp``: torch's
``fused=True`` on the CPU, whose SGD and Adam/AdamW models are printed here too) round as the
table in their vector loop; in the scalar loop over each tensor's last ``numel mod
Vectorized<T>::size()`` elements GCC fuses the *first* product of ``a·T + c·X·Y`` instead (the
convention ``fused_tail="first_product"``): those functions take ``tails`` and run two loops.
A guard on the step t that picks a lazy state's first-step formula (SGD's momentum buffer) is
resolved per call, as torch's fused SGD takes ``is_first_step``; the scalars of those kernels
(Adam's bias corrections and step size, AdamW's ``1 − lr·λ`` with one fma) are computed in
double and cast once, as ATen computes them.

Which of torch's vectorised CPU kernels fuse a multiply-add (``addcmul``, ``add(alpha=)``,
``lerp`` do; ``addcdiv`` divides before it adds) was found by experiment, and
``tests/test_fused.py`` re-checks it against torch on every run. ATen's fused CPU AdaGrad kernel
(``torch.optim.Adagrad(fused=True)``) rounds the same way with a correctly rounded square root,
so the AdaGrad kernels are bitwise identical to it. Square roots are the C library's
``sqrt``/``sqrtf``: correctly rounded (IEEE 754) and vectorised under ``-fno-math-errno``. torch's
eager CPU ``sqrt`` (MKL/VML on x86) is not always correctly rounded, so against torch.optim's
for-loop and foreach paths the bits can differ by an ULP of σ; ``symopt verify`` reports by how much.

float16 and bfloat16 follow torch's opmath rule, as ATen's fused kernels do: each element is
loaded to float, every operation above runs in float, and each buffer is stored once, rounded to
nearest even (:data:`STORAGE`; the root and the update read the unrounded float state, as ATen's
vector loop does). A double constant is cast to float straight, or through the param dtype,
``float(scalar_t(c))``, where ATen's loop of that rule does (:data:`LOW_PRECISION_CONSTANTS`;
Adagrad and SGD cast through it in the vector loop and not in the scalar tail, so their 16-bit
functions take ``tails`` too).

Every function takes ``grad_scale`` (NULL, or GradScaler's float32 scale: torch's fused keyword):
each gradient is divided by it first, in the compute type, and written back unscaled, in place,
as ATen's fused kernels do. ``found_inf`` is the launcher's (:func:`symopt.fused.launcher.skips_step`).

A shape none of the patterns covers is printed by the C99 printer as written (each operation
rounded once, in the element type); a construct C99 cannot express raises
:class:`~symopt.codegen.printers._common.CodegenError` (strict).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional

import sympy as sp
from sympy.printing.c import C99CodePrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ...rules import Assign, UpdateRule, decide, t
from ._common import CodegenError, _construct, identifier, symbol_names, tensor_symbols

#: element type → (C type, suffix of <math.h> functions, short name in function names): the
#: type the kernel computes in (torch's opmath type: float for float16/bfloat16)
CTYPES = {
    "float32": ("float", "f", "f32"),
    "float64": ("double", "", "f64"),
    "float16": ("float", "f", "f16"),
    "bfloat16": ("float", "f", "bf16"),
}
#: the low-precision element types → (storage C type, its load to float, the store from float
#: rounding to nearest even), defined in the template's preamble: bit manipulation, which
#: vectorises (``_Float16`` with ``-DSYMOPT_FLOAT16``: GCC 12 does not vectorise its conversions,
#: and the float16 kernels ran at 10-17x the bandwidth bound with it), each the
#: rounding of c10's ``Half(float)`` / ``BFloat16(float)`` and of ATen's vector conversions
STORAGE = {
    "float16": ("symopt_f16", "symopt_f16_to_float", "symopt_float_to_f16"),
    "bfloat16": ("symopt_bf16", "symopt_bf16_to_float", "symopt_float_to_bf16"),
}
#: ATen's fused CPU kernels in float16/bfloat16 compute in float and cast a double constant
#: either through the param dtype, ``fVec(scalar_t(c))`` (``"storage"``), or straight to float,
#: ``fVec(opmath_t(c))`` (``"opmath"``): per rule family, (vector loop, scalar tail), as read in
#: ``FusedAdagradKernel.cpp``, ``FusedSGDKernel.cpp``, ``FusedAdamKernel.cpp`` and checked
#: bit for bit against torch by ``tests/test_fused_lowp.py``. RMSprop, which torch does not
#: fuse, casts as its sibling Adagrad's vector loop does, in both loops. (Printer data, as the
#: Torch printer's differentiable branches: what a C++ source does, not what the model says.)
LOW_PRECISION_CONSTANTS = {
    "adagrad": ("storage", "opmath"),
    "sgd": ("storage", "opmath"),
    "adam": ("opmath", "opmath"),
    "adamw": ("opmath", "opmath"),
    "rmsprop": ("storage", "storage"),
}


# -- structural variants --------------------------------------------------------------------------
#: the per-call switch of the guards on the step t: torch's fused SGD ``is_first_step`` (a lazy
#: state, which torch creates at the first step, is assigned there by another formula)
FIRST_STEP = "is_first_step"


@dataclass(frozen=True)
class Variant:
    """One structural variant of a rule: the verdict of every guard that depends on
    hyperparameters only (``maximize``, ``weight_decay ≠ 0``, ``centered``, ``momentum > 0``) and,
    where a lazy state's guards read the step t, whether this is the first step
    (:data:`FIRST_STEP`)."""

    rule: UpdateRule
    switches: tuple[tuple[str, bool], ...]  # (hyperparameter, on?) in the rule's signature order

    @property
    def name(self) -> str:
        on = [identifier(name) for name, value in self.switches if value]
        return "_".join(on) if on else "plain"

    @property
    def values(self) -> dict[str, Any]:
        """Hyperparameter values that select this variant (for :meth:`UpdateRule.specialize`)."""
        return {name: _representative(self.rule, name, value) for name, value in self.switches if name != FIRST_STEP}

    @property
    def first_step(self) -> Optional[bool]:
        """Whether the variant is the first step's; None for a rule whose guards never read t."""
        return dict(self.switches).get(FIRST_STEP)

    def specialized(self) -> UpdateRule:
        """The rule with every guard resolved: by :attr:`values`, then the guards on t by
        :attr:`first_step` (t = 1, or t > 1)."""
        spec = self.rule.specialize(**self.values)
        if self.first_step is None:
            return spec
        known = {self.rule.hyperparameter(k).symbol: v for k, v in self.values.items()}
        body = []
        for a in spec.body:
            verdict = decide(_on_step(a.when, self.first_step), known)
            if verdict is None:
                raise CodegenError(f"{self.rule.name}: guard {a.when} is not resolved by the variant {self.name}")
            if verdict:
                body.append(replace(a, when=sp.true))
        return replace(spec, body=tuple(body))


def _on_step(condition: sp.Basic, first: bool) -> sp.Basic:
    """``condition`` at t = 1 (``first``), or for every t > 1 (t ↦ t + 1, t a positive integer)."""
    return condition.xreplace({t: sp.Integer(1) if first else t + 1})


def switches(rule: UpdateRule) -> tuple[str, ...]:
    """The hyperparameters that guards depend on, in signature order, then :data:`FIRST_STEP`
    when guards read t. A guard on t is resolved per call only where it decides between a lazy
    state's first-step and later formulas (SGD's ``b ← g`` at t = 1, ``b ← μb + (1 − τ)g``
    after: torch's fused SGD takes ``is_first_step``); any other raises :class:`CodegenError`."""
    used: set[sp.Symbol] = set()
    for a in rule.body:
        used |= a.when.free_symbols
    for s in rule.states:
        used |= s.when.free_symbols
    names = tuple(h.name for h in rule.hyperparameters if h.symbol in used)
    if t not in used:
        return names
    lazy = {s.symbol for s in rule.states if s.lazy}
    for a in rule.body:
        if t in a.when.free_symbols and (
            a.target not in lazy or any(t in _on_step(a.when, f).free_symbols for f in (True, False))
        ):
            raise CodegenError(
                f"{rule.name}: a guard depends on the step t; the fused printer resolves guards per call "
                "(only a lazy state's first-step guard, as torch's is_first_step)"
            )
    if any(t in s.when.free_symbols for s in rule.states):
        raise CodegenError(
            f"{rule.name}: a state's guard depends on the step t; the fused printer resolves guards per call"
        )
    return names + (FIRST_STEP,)


def _representative(rule: UpdateRule, name: str, on: bool) -> Any:
    if name == FIRST_STEP:
        return on
    h = rule.hyperparameter(name)
    if h.is_flag:
        return on
    return 1 if on else 0


def _shape(variant: Variant) -> tuple:
    """What a variant's kernel computes: its assignments and its states."""
    spec = variant.specialized()
    return tuple((a.target, a.expr) for a in spec.body), tuple(s.name for s in spec.states)


def _canonical(variant: Variant) -> Variant:
    """``variant`` with every switch turned off that changes nothing (SGD's ``nesterov`` and
    ``is_first_step`` without momentum): one kernel per distinct computation."""
    current = list(variant.switches)
    for i, (name, on) in enumerate(current):
        if not on:
            continue
        off = current[:i] + [(name, False)] + current[i + 1 :]
        if _shape(Variant(variant.rule, tuple(off))) == _shape(Variant(variant.rule, tuple(current))):
            current = off
    return Variant(variant.rule, tuple(current))


def variants(rule: UpdateRule) -> list[Variant]:
    """Every structural variant (each switch off/on), in a fixed order, without the ones that
    compute what another does (a switch that changes nothing is off: :func:`_canonical`)."""
    names = switches(rule)
    every = [Variant(rule, tuple(zip(names, bits))) for bits in itertools.product((False, True), repeat=len(names))]
    return [v for v in every if _canonical(v) == v]


def variant_of(rule: UpdateRule, values: Mapping[str, Any]) -> Variant:
    """The variant that hyperparameter ``values`` (torch's keywords; defaults elsewhere; and
    :data:`FIRST_STEP`, False when absent) select."""
    known = {h.symbol: values.get(h.name, h.default) for h in rule.hyperparameters}
    out = []
    for name in switches(rule):
        if name == FIRST_STEP:
            out.append((name, bool(values.get(FIRST_STEP, False))))
            continue
        h = rule.hyperparameter(name)
        if h.is_flag:
            out.append((name, bool(known[h.symbol])))
        else:
            # the switch is on when the value makes the guards that mention it hold as "on" does
            probe = dict(known)
            guards = [a.when for a in rule.body if h.symbol in a.when.free_symbols]
            on_values = {**probe, h.symbol: _representative(rule, name, True)}
            out.append((name, all(decide(gd, probe) == decide(gd, on_values) for gd in guards)))
    return _canonical(Variant(rule, tuple(out)))


def function_name(rule: UpdateRule, variant: Variant, dtype: str) -> str:
    return f"symopt_{rule.family}_{variant.name}_{CTYPES[dtype][2]}"


# -- the printer ------------------------------------------------------------------------------------
class CKernelPrinter(C99CodePrinter):
    """Prints one specialised rule as a fused C99 loop over a chunk table (strict).

    Settings: ``dtype`` (``"float32"`` or ``"float64"``).
    """

    printmethod = "_symopt_c"
    _default_settings = {**C99CodePrinter._default_settings, "dtype": "float32"}

    def __init__(self, settings: dict | None = None):
        super().__init__({"strict": True, **(settings or {})})
        dtype = self._settings["dtype"]
        if dtype not in CTYPES:
            raise CodegenError(f"dtype must be one of {', '.join(CTYPES)}; got {dtype!r}")
        self.ctype, self.suffix, _ = CTYPES[dtype]
        self.storage, self.load, self.store = STORAGE.get(dtype, (self.ctype, "", ""))
        self.names: dict[sp.Symbol, str] = {}
        self.in_loop = False
        self.tail = False
        self.casts = ("opmath", "opmath")

    # -- symbols and scalars ------------------------------------------------------------------
    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr not in self.names:
            raise CodegenError(f"symbol {expr} is not a hyperparameter, state or temporary of the rule")
        return self.names[expr]

    def doprint(self, expr, assign_to=None):
        try:
            return super().doprint(expr, assign_to)
        except PrintMethodNotImplementedError as exc:
            raise CodegenError(f"{type(self).__name__} cannot print {_construct(expr, exc)} in {expr}") from None

    def _print_Pow(self, expr: sp.Pow) -> str:
        if self.in_loop:
            base, exp = expr.args
            if exp == sp.S.Half:
                return f"sqrt{self.suffix}({self._print(base)})"
            if exp == 2:
                b = self.parenthesize(base, 50)
                return f"{b}*{b}"
            if exp == -1:
                return f"1/{self.parenthesize(base, 50)}"
        return super()._print_Pow(expr)

    def _print_Add(self, expr: sp.Add) -> str:
        """Outside the loop (a double scalar), with the rule's ``scalar_contraction="fma"``:
        a·b + c as ``fma(a, b, c)``, rounded once, as torch's fused kernel computes it."""
        rule = getattr(self, "rule", None)
        if self.in_loop or rule is None or rule.conventions.scalar_contraction != "fma":
            return super()._print_Add(expr)
        for i, term in enumerate(expr.args):
            factors = [f for f in term.args if not f.is_Number] if isinstance(term, sp.Mul) else []
            numbers = [f for f in term.args if f.is_Number] if isinstance(term, sp.Mul) else []
            if len(factors) >= 2 and numbers in ([], [sp.S.NegativeOne]):
                rest = sp.Add(*(a for j, a in enumerate(expr.args) if j != i))
                sign = "-" if numbers else ""  # c − a·b: fma(−a, b, c), the negation exact
                return f"fma({sign}{self._print(factors[0])}, {self._print(sp.Mul(*factors[1:]))}, {self._print(rest)})"
        return super()._print_Add(expr)

    def _print_Max(self, expr: sp.Max) -> str:
        """In the loop, ``max(a, b)`` of the element type as torch's ``maximum`` (AMSGrad's running
        maximum): NaN where either is, by selects (the template's ``symopt_max``/``symopt_maxf``),
        which vectorise. C's ``fmax`` returns the other operand of a NaN, and GCC does not
        vectorise it: AMSGrad's fused step ran at 5.7x (float32) to 20x (bfloat16) the bound."""
        if self.in_loop and len(expr.args) == 2:
            a, b = (self._print(x) for x in expr.args)
            return f"symopt_max{self.suffix}({a}, {b})"
        return super()._print_Max(expr)

    def _print_Float(self, expr: sp.Float) -> str:
        if self.in_loop:
            raise CodegenError(f"a number ({expr}) inside an element-wise expression: make it a scalar coefficient")
        return super()._print_Float(expr)

    # -- the kernel ---------------------------------------------------------------------------
    def kernel(self, rule: UpdateRule, variant: Variant) -> str:
        """The C function for ``variant`` (``rule.specialize`` resolves every guard).

        A rule whose ``fused_tail`` convention is ``"first_product"`` takes ``tails`` (per tensor,
        the index where the scalar tail of torch's vector loop begins) and runs the elements
        from there with the tail's roundings, where they differ (:meth:`term`)."""
        spec = variant.specialized()
        for a in spec.body:
            if a.when is not sp.true:
                raise CodegenError(f"{rule.name}: guard {a.when} is not resolved by the variant {variant.name}")
        self.rule = spec
        self.names = symbol_names(spec)
        self.tensors = tensor_symbols(spec)
        self.states = [s for s in spec.states]
        self.coefficients: dict[sp.Expr, str] = {}
        self.lerp_lines: dict[str, list[str]] = {}
        self.scalar_lines: list[str] = []
        # scalar temporaries first (η_t): double, per chunk (they may depend on the tensor's step)
        uses_step = any(t in a.expr.free_symbols for a in spec.body)
        for a in spec.body:
            if not (a.expr.free_symbols & self.tensors):
                self.in_loop = False
                self.scalar_lines.append(
                    f"const double {self.names[a.target]} = {self.doprint(a.expr)};  /* {a.doc} */"
                )
        dtype = self._settings["dtype"]
        self.casts = low_precision_casts(rule, dtype)
        loop_lines = self.loop_lines(spec, tail=False)
        tail_lines = self.loop_lines(spec, tail=True) if takes_tails(rule, dtype) else loop_lines
        self.in_loop = False
        hyper = [h.name for h in spec.hyperparameters if h.symbol in _used(spec)]
        buffers = ["param", "grad"] + [identifier(s.name) for s in self.states]
        loaded = ["param", "grad"] + [identifier(s.name) for s in self.states if _read_before_written(spec, s.symbol)]
        temps = [self.names[x] for x in spec.temporaries if x in self.tensors]
        temps += [b for b in buffers if b not in loaded]
        fname = function_name(rule, variant, dtype)
        T, S = self.ctype, self.storage
        load = (lambda x: f"{self.load}({x})") if self.load else (lambda x: x)  # noqa: E731
        store = (lambda x: f"{self.store}({x})") if self.store else (lambda x: x)  # noqa: E731
        params = ["int64_t n_chunks, const int64_t *chunks, int n_threads"]
        params += [f"{S} *const *a_{b}" for b in buffers]
        params += ["const double *steps"] + (["const int64_t *tails"] if takes_tails(rule, dtype) else [])
        params += ["const float *grad_scale"] + [f"double {h}" for h in hyper]
        lines = [f"/* {variant.name}: " + ", ".join(f"{k}={'on' if v else 'off'}" for k, v in variant.switches) + " */"]
        lines.append(f"void {fname}({', '.join(params)})")
        lines.append("{")
        lines.append("    #pragma omp parallel for schedule(static) num_threads(n_threads)")
        lines.append("    for (int64_t k = 0; k < n_chunks; ++k) {")
        body = ["const int64_t tensor = chunks[3*k], begin = chunks[3*k + 1], end = begin + chunks[3*k + 2];"]
        body.append("const double step = steps[tensor];" if uses_step else "(void)steps;")
        body += self.scalar_lines
        for (expr, cast), name in self.coefficient_items():
            value = f"({T})({expr})"
            if cast == "storage" and self.store:  # scalar_t(c) of a double: through float, as c10's Half(float)
                value = load(store(value))
            body.append(f"const {T} {name} = {value};")
        body += [line for lines in self.lerp_lines.values() for line in lines]
        # GradScaler's scale, read once per chunk (a load in the loop keeps 16-bit loops scalar)
        body.append(f"{T} scale = grad_scale ? ({T})*grad_scale : ({T})1;  /* used only with a grad_scale */")
        body += [f"{S} *restrict p_{b} = a_{b}[tensor];" for b in buffers]

        def element_body(
            statements: list[str], read: Callable[[str], str], write: Callable[[str], str], unscale: Optional[str]
        ) -> list[str]:
            """One element's lines: its buffers read (``read(b)``: the expression), the temporaries
            declared, the gradient unscaled (GradScaler's scale, torch's fused keyword grad_scale),
            the statements, its buffers written (``write(b)``: the statement)."""
            inner = [f"{T} {b} = {read(b)};" for b in loaded]
            if temps:
                inner.append(f"{T} {', '.join(temps)};")
            if unscale:
                inner.append(unscale)
            return inner + statements + [write(b) for b in buffers if b != "grad"]

        def blocked_loop(first: str, last: str, statements: list[str], unscaled: bool) -> list[str]:
            """float16 with F16C: the loop over blocks converted to float arrays and back (see the
            template's symopt_f16_load)."""
            inner = element_body(
                statements,
                lambda b: f"v_{b}[i]",
                lambda b: f"v_{b}[i] = {b};",
                "grad = grad/scale; v_grad[i] = grad;" if unscaled else None,
            )
            out = [
                f"for (int64_t i0 = {first}; i0 < {last}; i0 += SYMOPT_BLOCK) {{",
                f"    const int64_t n = {last} - i0 < SYMOPT_BLOCK ? {last} - i0 : SYMOPT_BLOCK;",
                f"    {T} {', '.join(f'v_{b}[SYMOPT_BLOCK]' for b in buffers)};",
            ]
            out += [f"    symopt_f16_load(v_{b}, p_{b} + i0, n);" for b in loaded]
            out += ["    for (int64_t i = 0; i < n; ++i) {"] + ["        " + x for x in inner] + ["    }"]
            out += [f"    symopt_f16_store(p_{b} + i0, v_{b}, n);" for b in buffers if b != "grad" or unscaled]
            return out + ["}"]

        def element_loop(first: str, last: str, statements: list[str], vector: bool = True) -> list[str]:
            if vector and dtype == "float16":
                return (
                    ["#if SYMOPT_F16C", "if (grad_scale) {"]
                    + ["    " + x for x in blocked_loop(first, last, statements, True)]
                    + ["} else {"]
                    + ["    " + x for x in blocked_loop(first, last, statements, False)]
                    + ["}", "#else"]
                    + element_loop(first, last, statements, vector=False)
                    + ["#endif"]
                )

            def loop(unscale: Optional[str]) -> list[str]:
                inner = element_body(
                    statements, lambda b: load(f"p_{b}[i]"), lambda b: f"p_{b}[i] = {store(b)};", unscale
                )
                return [f"for (int64_t i = {first}; i < {last}; ++i) {{"] + ["    " + x for x in inner] + ["}"]

            # unswitched by hand: GCC 12 unswitches a loop on grad_scale only while the loop is short
            # (--param max-unswitch-insns), and a loop it does not unswitch is not vectorised
            # ("control flow in loop"): 16-bit loops (the conversions) and the longer float32/float64
            # ones (centered RMSprop, Adam, AdamW) ran one element at a time
            return (
                ["if (grad_scale) {"]
                + ["    " + x for x in loop(f"grad = grad/scale; p_grad[i] = {store('grad')};")]
                + ["} else {"]
                + ["    " + x for x in loop(None)]
                + ["}"]
            )

        if tail_lines == loop_lines:
            if takes_tails(rule, dtype):
                body.append("(void)tails;  /* the tail rounds as the vector loop here */")
            body += element_loop("begin", "end", loop_lines)
        else:
            body.append("/* torch's vector loop up to tails[tensor], its scalar tail from there */")
            body.append(
                "const int64_t split = tails[tensor] < begin ? begin : (tails[tensor] > end ? end : tails[tensor]);"
            )
            body += element_loop("begin", "split", loop_lines)
            body += element_loop("split", "end", tail_lines, vector=False)
        lines += ["        " + x for x in body]
        lines += ["    }", "}"]
        return "\n".join(lines)

    def loop_lines(self, spec: UpdateRule, tail: bool) -> list[str]:
        """The element-wise assignments of ``spec`` as C statements, rounded as torch's vector
        loop, or (``tail``) as its scalar tail."""
        self.tail = tail
        lines = []
        for a in spec.body:
            if a.expr.free_symbols & self.tensors:
                self.in_loop = True
                lines.append(f"{self.names[a.target]} = {self.element(a)};  /* {_comment(a)} */")
        self.in_loop, self.tail = False, False
        return lines

    def coefficient_items(self) -> list[tuple[tuple[str, str], str]]:
        return list(self.coefficients.items())

    def coefficient(self, expr: sp.Expr) -> str:
        """A scalar coefficient: computed in double, cast once to the element type (as torch casts a
        Python scalar), hoisted out of the loop. In float16/bfloat16 it is cast to float, through
        the param dtype where ATen's loop does (:data:`LOW_PRECISION_CONSTANTS`)."""
        self.in_loop = False
        code = self.doprint(expr)
        self.in_loop = True
        key = (code, self.casts[1] if self.tail else self.casts[0])
        if key not in self.coefficients:
            self.coefficients[key] = f"c{len(self.coefficients)}"
        return self.coefficients[key]

    # -- element-wise assignments --------------------------------------------------------------
    def is_tensor(self, e: sp.Basic) -> bool:
        return bool(e.free_symbols & self.tensors)

    def fma(self, a: str, b: str, c: str) -> str:
        return f"fma{self.suffix}({a}, {b}, {c})"

    def element(self, a: Assign) -> str:
        T, E = a.target, a.expr
        scalar = lambda e: not self.is_tensor(e)  # noqa: E731
        tensor = lambda e: isinstance(e, sp.Symbol) and e in self.tensors  # noqa: E731
        c = sp.Wild("c", properties=[scalar])
        X, Y, Z = (sp.Wild(n, properties=[tensor]) for n in "XYZ")
        if tensor(E):
            return self._print(E)
        m = E.match(-X)
        if m is not None and X in m:
            return f"-{self._print(m[X])}"
        lerp = (E - T).match(c * (X - T))
        if lerp is not None and X in lerp and lerp[X] != T:
            x, tt = self._print(lerp[X]), self._print(T)
            k = self.coefficient(lerp[c])
            k1 = f"({k} - ({self.ctype})1)"  # torch: weight − 1 in the element type
            small = f"(fabs{self.suffix}({k}) < ({self.ctype})0.5)"
            # ATen's blendv form, the weight and the branch hoisted out of the loop: GCC 12 vectorises
            # it in every dtype, where the two fma calls under a ternary stayed scalar with AVX2
            self.lerp_lines[k] = [
                f"const {self.ctype} {k}_lerp = {small} ? {k} : {k1};",
                f"const int {k}_small = {small};",
            ]
            return self.fma(f"{k}_lerp", f"{x} - {tt}", f"({k}_small ? {tt} : {x})")
        if isinstance(E, sp.Pow) and E.exp == sp.S.Half:
            inner = E.base
            if tensor(inner):
                return f"sqrt{self.suffix}({self._print(inner)})"
            return f"sqrt{self.suffix}({self.sum(sp.Dummy('acc'), inner) or self.fallback(inner)})"
        if isinstance(E, sp.Add):
            code = self.sum(T, E)
            if code is not None:
                return code
        if isinstance(E, sp.Mul):
            code = self.scaled(E)
            if code is not None:
                return code
        return self.fallback(E)

    def scaled(self, E: sp.Mul) -> Optional[str]:
        """``c·X`` or ``X/c`` (``X`` a tensor or its root, ``c`` a scalar): ``X*c`` or ``X/c``
        with c computed in double and cast once to the element type, as ATen's
        ``x * Vec(scalar_t(c))`` (AdamW's ``param·(1 − lr·λ)``, Adam's ``√v / c₂``)."""
        scalars = [f for f in E.args if not self.is_tensor(f)]
        tensors = [f for f in E.args if self.is_tensor(f)]
        if len(tensors) != 1 or not scalars:
            return None
        x = tensors[0]
        root = isinstance(x, sp.Pow) and x.exp == sp.S.Half
        if not (x in self.tensors or (root and x.base in self.tensors)):
            return None
        code = self._print(x)
        numerator, denominator = sp.fraction(sp.Mul(*scalars))
        if denominator == 1:
            return f"{code}*{self.coefficient(numerator)}"
        if numerator == 1:
            return f"{code}/{self.coefficient(denominator)}"
        return None

    def sum(self, T: sp.Symbol, E: sp.Expr) -> Optional[str]:
        """``E`` as torch accumulates it: a head (``a·T`` when ``T`` appears, else the first plain
        tensor term), then one op per remaining term, tensor terms first, then scalars."""
        terms = list(sp.Add.make_args(E))
        head_code = None
        head: Optional[tuple[str, str]] = None  # (T, a) of a head a·T
        rest = terms
        c = sp.Wild("c", properties=[lambda e: not self.is_tensor(e)])
        for i, term in enumerate(terms):
            m = term.match(c * T)
            if m is not None and c in m and T in self.tensors:
                a = m[c]
                if a == 1:
                    head_code = self._print(T)
                else:
                    head = (self._print(T), self.coefficient(a))
                    head_code = f"{head[0]}*{head[1]}"
                rest = terms[:i] + terms[i + 1 :]
                break
        if head_code is None:
            for i, term in enumerate(terms):
                if isinstance(term, sp.Symbol) and term in self.tensors:
                    head_code = self._print(term)
                    rest = terms[:i] + terms[i + 1 :]
                    break
        if head_code is None:
            return None
        if any(T in r.free_symbols for r in rest):
            return None
        acc = head_code
        for term in [r for r in rest if self.is_tensor(r)] + [r for r in rest if not self.is_tensor(r)]:
            acc = self.term(acc, term, head)
            if acc is None:
                return None
            head = None
        return acc

    def term(self, acc: str, term: sp.Expr, head: Optional[tuple[str, str]] = None) -> Optional[str]:
        """``acc`` plus one term, rounded as torch's op for that shape. In the scalar tail of a
        rule with ``fused_tail="first_product"``, a product added to the head product ``a·T``
        (``head``) leaves the head fused instead: ``fma(T, a, c·X·Y)``."""
        first_product = head is not None and self.tail and self.rule.conventions.fused_tail == "first_product"
        head_t, head_a = head if head is not None else ("", "")  # read only when first_product
        if not self.is_tensor(term):
            return f"{acc} + {self.coefficient(term)}"
        scalar = lambda e: not self.is_tensor(e)  # noqa: E731
        tensor = lambda e: isinstance(e, sp.Symbol) and e in self.tensors  # noqa: E731
        c = sp.Wild("c", properties=[scalar])
        X, Y = sp.Wild("X", properties=[tensor]), sp.Wild("Y", properties=[tensor])
        for pattern, kind in ((c * X / Y, "div"), (c * X**2, "sq"), (c * X * Y, "mul"), (c * X, "axpy")):
            m = term.match(pattern)
            if m is None or not all(k in m for k in pattern.atoms(sp.Wild)):
                continue
            k = m[c]
            x = self._print(m[X])
            y = x if kind == "sq" else (self._print(m[Y]) if Y in m else None)
            if kind == "div":
                num = x if k == 1 else (f"-{x}" if k == -1 else f"{self.coefficient(k)}*{x}")
                return f"{acc} + ({num})/{y}"
            if kind in ("sq", "mul"):
                assert y is not None  # Y is in every match of c·X·Y; X² is X·X
                first = x if k == 1 else (f"-{x}" if k == -1 else f"{self.coefficient(k)}*{x}")
                return self.fma(head_t, head_a, f"{first}*{y}") if first_product else self.fma(first, y, acc)
            if kind == "axpy":
                if k == 1:
                    return f"{acc} + {x}"
                return (
                    self.fma(head_t, head_a, f"{self.coefficient(k)}*{x}")
                    if first_product
                    else self.fma(self.coefficient(k), x, acc)
                )
        return None

    def fallback(self, E: sp.Expr) -> str:
        """A shape with no torch op: printed as written, each operation rounded once."""
        self.in_loop = True
        return self.doprint(E)


def _comment(a: Assign) -> str:
    text = f"{a.target} <- {sp.sstr(a.expr)}" + (f" ({a.doc})" if a.doc else "")
    return text.replace("*/", "* /")


def _used(rule: UpdateRule) -> set[sp.Symbol]:
    used: set[sp.Symbol] = set()
    for a in rule.body:
        used |= a.expr.free_symbols
    return used


def _read_before_written(rule: UpdateRule, symbol: sp.Symbol) -> bool:
    """Whether the kernel must load ``symbol``'s buffer: read before its first assignment (or
    never assigned). SGD's first step assigns the lazy momentum buffer without reading it: the
    buffer torch passes then is ``torch.empty_like(grad)``, never read."""
    for a in rule.body:
        if symbol in a.expr.free_symbols:
            return True
        if a.target == symbol:
            return False
    return True


def low_precision_casts(rule: UpdateRule, dtype: str) -> tuple[str, str]:
    """How ``dtype``'s kernels cast a double constant in the vector loop and in the scalar tail:
    ``"storage"`` or ``"opmath"`` (:data:`LOW_PRECISION_CONSTANTS`); float32/float64 compute in
    their own type, where the two are one."""
    if dtype not in STORAGE:
        return ("opmath", "opmath")
    return LOW_PRECISION_CONSTANTS.get(rule.family, ("opmath", "opmath"))


def takes_tails(rule: UpdateRule, dtype: str = "float32") -> bool:
    """Whether the rule's C functions for ``dtype`` take ``tails``: ``fused_tail="first_product"``,
    or, in float16/bfloat16, a scalar tail that casts the constants otherwise than the vector
    loop (ATen's fused Adagrad and SGD)."""
    casts = low_precision_casts(rule, dtype)
    return rule.conventions.fused_tail == "first_product" or casts[0] != casts[1]


def hyperparameters_of(rule: UpdateRule, variant: Variant) -> tuple[str, ...]:
    """The ``double`` scalar arguments of ``variant``'s function, in order."""
    spec = variant.specialized()
    return tuple(h.name for h in spec.hyperparameters if h.symbol in _used(spec))


def buffers_of(rule: UpdateRule, variant: Variant) -> tuple[str, ...]:
    """The state buffers (torch's keys) ``variant``'s function takes after param and grad."""
    return tuple(s.name for s in variant.specialized().states)


__all__ = [
    "CKernelPrinter",
    "CTYPES",
    "C_FAMILIES",
    "FIRST_STEP",
    "FUSED_FAMILIES",
    "LOW_PRECISION_CONSTANTS",
    "STORAGE",
    "Variant",
    "buffers_of",
    "function_name",
    "hyperparameters_of",
    "low_precision_casts",
    "switches",
    "takes_tails",
    "variant_of",
    "variants",
]


# -- the committed sources ------------------------------------------------------------------------
#: the rule families with fused kernels on both backends, C and Triton (torch dialect: what
#: symopt.torch's optimizers run; :mod:`symopt.codegen.printers.triton` renders these)
FUSED_FAMILIES: tuple[str, ...] = ("adagrad", "rmsprop")
#: the rule families with fused C kernels: those, and the rules torch 2.13 fuses on the CPU
#: (``torch.optim.SGD``, ``Adam``, ``AdamW`` with ``fused=True``), bitwise equal to ATen's kernels
C_FAMILIES: tuple[str, ...] = FUSED_FAMILIES + ("adam", "adamw", "sgd")


def render_source(rule: UpdateRule) -> str:
    """The text of ``kernels/c/<family>.c``: every variant × element type."""
    from ..render import _template, banner, math_text

    functions = []
    for variant in variants(rule):
        for dtype in CTYPES:
            functions.append(CKernelPrinter({"dtype": dtype}).kernel(rule, variant))
    tail = ""
    if rule.conventions.fused_tail == "first_product":
        tail = (
            " *\n * Convention fused_tail=\"first_product\" (ATen's fused CPU kernel): in each tensor's last\n"
            " * numel mod Vectorized<T>::size() elements (from tails[tensor]), which torch's vector loop\n"
            " * leaves to a scalar loop, a*T + c*X*Y fuses the first product, fma(T, a, c*X*Y), where the\n"
            " * vector loop fuses the last, fma(c*X, Y, a*T).\n"
        )
    text = _template("c_kernel.c.tmpl").substitute(
        tail=tail,
        title=rule.title,
        family=rule.family,
        dialect=rule.dialect,
        banner=banner(rule),
        math_text=math_text(rule, arrow="<-", indent=" *     "),
        functions="\n\n".join(functions),
    )
    return text.rstrip("\n") + "\n"


def render_sources(kernels_dir) -> dict:
    """``{path relative to src/symopt: text}`` for ``kernels/c/``."""
    from ..render import render_fused_package

    return render_fused_package(
        kernels_dir,
        "c",
        ".c",
        render_source,
        C_FAMILIES,
        "Generated fused C99 kernels (OpenMP over a chunk table), built and loaded by :mod:`symopt.fused`.",
    )
