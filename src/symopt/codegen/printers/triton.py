"""The Triton fused-kernel printer: every structural variant of a rule as one ``@triton.jit``
kernel that steps all tensors of a param group in one launch, over a device-side chunk table.

Structure mirrors the C99 printer (:mod:`symopt.codegen.printers.c`), whose structural variants
(:func:`~symopt.codegen.printers.c.variants`, resolved by ``rule.specialize``) it reuses:

- ``chunks``: int64 ``[n_chunks, 3]`` rows of (tensor index, begin, length) covering every tensor;
  one program per row.
- ``offsets``: int64 ``[n_buffers, n_tensors]``: where each tensor of each buffer kind (param, grad,
  the states) starts, in elements, relative to the pointer passed for that kind (its first tensor).
- ``scalars``: float64 ``[n_hyper + n_tensors]``: the hyperparameters the variant uses, then each
  tensor's step count t. Scalar temporaries (``η_t = η/(1 + (t − 1)γ)``) are computed per program in
  float64, the precision torch.optim computes them in (Python floats), and every coefficient is
  cast once to the element type, as torch casts a Python scalar (CUDA's ``opmath`` for float32 and
  float64 is the element type itself).

Element-wise assignments are matched (SymPy :class:`~sympy.Wild` patterns on the model's
expressions) against the shapes of torch's ops and printed in *their* operation order, each
operation rounded once:

=================================  =====================================  ============================
model shape                        torch op                                Triton (``T`` the target)
=================================  =====================================  ============================
``T ← a·T + c·X·Y`` / ``c·X²``      ``T.mul_(a).addcmul_(X, Y, value=c)``   ``T*a + (c*X)*Y``
``T ← T + c·X/Y``                   ``T.addcdiv_(X, Y, value=c)``            ``T + _div_rn(c*X, Y)``
``T ← X + c·Y``                     ``X.add(Y, alpha=c)``                    ``X + c*Y``
``T ← T + c·(X − T)``               ``T.lerp_(X, c)``                        ``T + c*(X − T)`` (|c| < ½),
                                                                             else ``X + (c − 1)*(X − T)``
``T ← √(X + c·Y·Z)``, ``T ← √X``    ``addcmul(...).sqrt_()``, ``sqrt()``    ``_sqrt_rn(X + (c*Y)*Z)``
=================================  =====================================  ============================

Rounding: square roots are ``_sqrt_rn`` and divisions ``_div_rn``, two helpers of the generated
module that are correctly rounded in float32 (``tl.sqrt_rn``, ``tl.div_rn``; Triton's plain
``tl.sqrt`` and ``/`` on float32 are approximate) and in float64 (``tl.sqrt_rn``/``tl.div_rn`` take
float32 only; ``tl.sqrt`` and ``/`` on double are LLVM's ``sqrt``/``fdiv``, emitted by NVPTX as
``sqrt.rn.f64``/``div.rn.f64``). torch's CUDA kernels are built by nvcc
with its default ``-prec-sqrt=true -prec-div=true``, so theirs are correctly rounded too. **No
fma**: nvcc's default ``--fmad=true`` may contract some of torch's multiply-adds, but which ones
depends on nvcc's choices in each torch kernel, which could not be inspected here (no GPU, no
SASS); the kernels are therefore printed with plain operations, and the launcher compiles them with
``enable_fp_fusion=False`` so that Triton does not contract them either. Against torch.optim on
CUDA the bits may thus differ by contraction (an ULP of an intermediate per step); the tests state
the bound.

A construct Triton cannot express exactly — a function (``sin``, ``Max``), a non-integer literal
(Triton types Python float literals as float32), a ``Piecewise`` or relational, a power other than
½, 2 — raises :class:`~symopt.codegen.printers._common.CodegenError` naming it (strict).
"""

from __future__ import annotations

from typing import Optional

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.pycode import PythonCodePrinter

from ...rules import Assign, UpdateRule, t
from ._common import CodegenError, _construct, identifier, symbol_names, tensor_symbols
from .c import FUSED_FAMILIES, Variant, buffers_of, hyperparameters_of, switches, variants

#: element rows per program: the chunk length (a multiple of every BLOCK the launcher uses)
CHUNK = 8192
#: elements per tile inside a program
BLOCK = 1024


def kernel_name(rule: UpdateRule, variant: Variant) -> str:
    return f"symopt_{rule.family}_{variant.name}"


def update_name(rule: UpdateRule, variant: Variant) -> str:
    return f"_update_{rule.family}_{variant.name}"


class TritonKernelPrinter(PythonCodePrinter):
    """Prints one specialised rule as a fused ``@triton.jit`` kernel over a chunk table (strict)."""

    printmethod = "_symopt_triton"

    def __init__(self, settings: dict | None = None):
        super().__init__({"strict": True, "fully_qualified_modules": False, **(settings or {})})
        self.names: dict[sp.Symbol, str] = {}
        self.in_loop = False

    # -- strictness ---------------------------------------------------------------------------
    def doprint(self, expr, assign_to=None):
        try:
            return super().doprint(expr, assign_to)
        except PrintMethodNotImplementedError as exc:
            raise CodegenError(f"{type(self).__name__} cannot print {_construct(expr, exc)} in {expr}") from None

    def _refuse(self, expr, *args, **kwargs) -> str:
        raise CodegenError(f"{type(self).__name__} cannot print {type(expr).__name__} ({expr}): no exact Triton form")

    def _print(self, expr, **kwargs) -> str:
        """Refuse, before any inherited ``_print_<Class>`` (PythonCodePrinter prints ``math.sin``,
        ``math.pi``, conditional expressions): every applied function (``sin``, ``Max``, ``Abs``,
        ``Piecewise``), named constant, relational and boolean operation."""
        if isinstance(
            expr,
            (sp.core.function.Application, sp.NumberSymbol, sp.core.relational.Relational, sp.logic.boolalg.Boolean),
        ) and not isinstance(expr, sp.Symbol):
            return self._refuse(expr)
        return super()._print(expr, **kwargs)

    def _print_Float(self, expr: sp.Float) -> str:
        raise CodegenError(
            f"a non-integer literal ({expr}) in a Triton kernel (Triton types it float32): make it a hyperparameter"
        )

    def _print_Rational(self, expr: sp.Rational) -> str:
        if expr.q == 1:
            return str(expr.p)
        raise CodegenError(
            f"a non-integer literal ({expr}) in a Triton kernel (Triton types it float32): make it a hyperparameter"
        )

    _print_Half = _print_Rational

    # -- symbols and arithmetic ------------------------------------------------------------------
    #: the generated module's correctly rounded √ and ÷ for float32 and float64 (``tl.sqrt_rn`` and
    #: ``tl.div_rn`` take float32 only; on float64 Triton's ``tl.sqrt`` and ``/`` are LLVM's
    #: ``sqrt``/``fdiv`` on double, which NVPTX emits as ``sqrt.rn.f64``/``div.rn.f64``)
    sqrt = "_sqrt_rn"
    div = "_div_rn"

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr not in self.names:
            raise CodegenError(f"symbol {expr} is not a hyperparameter, state or temporary of the rule")
        return self.names[expr]

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.args
        if exp == sp.S.Half:
            return f"{self.sqrt}({self._print(base)})"
        if exp == 2:
            b = self.parenthesize(base, 50)
            return f"{b}*{b}"
        raise CodegenError(
            f"{type(self).__name__} cannot print the power {expr} (only √ and ²; write a division as such)"
        )

    def _print_Mul(self, expr: sp.Mul) -> str:
        num, den = sp.fraction(expr, exact=True)
        if den != 1:
            if num == 1:
                raise CodegenError(
                    f"{type(self).__name__} cannot print the reciprocal {expr}: write it as a division of a tensor"
                )
            return f"{self.div}({self._print(num)}, {self._print(den)})"
        return super()._print_Mul(expr)

    # -- the kernel ---------------------------------------------------------------------------
    def kernel(self, rule: UpdateRule, variant: Variant) -> str:
        """The element-wise helper and the ``@triton.jit`` kernel of ``variant``."""
        spec = variant.specialized()
        for a in spec.body:
            if a.when is not sp.true:
                raise CodegenError(f"{rule.name}: guard {a.when} is not resolved by the variant {variant.name}")
        self.names = symbol_names(spec)
        self.tensors = tensor_symbols(spec)
        self.coefficients: dict[str, str] = {}
        hyper = hyperparameters_of(rule, variant)
        buffers = ["param", "grad"] + [identifier(s.name) for s in spec.states]
        uses_step = any(t in a.expr.free_symbols for a in spec.body)
        scalar_lines: list[str] = []
        loop_lines: list[str] = []
        for a in spec.body:
            if not (a.expr.free_symbols & self.tensors):
                self.in_loop = False
                scalar_lines.append(f"{self.names[a.target]} = {self.doprint(a.expr)}  # {a.doc} (float64)")
                continue
            self.in_loop = True
            loop_lines.append(f"{self.names[a.target]} = {self.element(a)}  # {_comment(a)}")
        self.in_loop = False
        coefs = list(self.coefficients.values())
        written = [b for b in buffers if b != "grad"]
        upd = update_name(rule, variant)
        switch_text = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in variant.switches)
        out = [f"# {variant.name}: {switch_text}", "@triton.jit", f"def {upd}({', '.join(buffers + coefs)}):"]
        out += ["    " + line for line in loop_lines]
        out.append(f"    return {', '.join(written)}")
        out += ["", "", "@triton.jit"]
        ptrs = [f"{b}_ptr" for b in buffers]
        out.append(
            f"def {kernel_name(rule, variant)}(chunks, offsets, scalars, n_tensors, {', '.join(ptrs)}, "
            f"BLOCK: tl.constexpr, VEC: tl.constexpr):"
        )
        body = [
            "row = tl.program_id(0).to(tl.int64) * 3",
            "tensor = tl.load(chunks + row)",
            "begin = tl.load(chunks + row + 1)",
            "length = tl.load(chunks + row + 2)",
        ]
        body += [f"{h} = tl.load(scalars + {i})" for i, h in enumerate(hyper)]
        if uses_step:
            body.append(f"step = tl.load(scalars + {len(hyper)} + tensor)")
        body += scalar_lines
        body.append("ty = param_ptr.dtype.element_ty")
        body += [f"{name} = ({code}).to(ty)" for code, name in self.coefficients.items()]
        for i, b in enumerate(buffers):
            body.append(f"at_{b} = {b}_ptr + tl.multiple_of(tl.load(offsets + {i} * n_tensors + tensor) + begin, VEC)")
        body.append("full = length - length % BLOCK")
        body.append("for i in range(0, full, BLOCK):  # whole tiles: no mask")
        tile = ["idx = i + tl.arange(0, BLOCK)"]
        tile += [f"{b} = tl.load(at_{b} + idx)" for b in buffers]
        tile.append(f"{', '.join(written)} = {upd}({', '.join(buffers + coefs)})")
        tile += [f"tl.store(at_{b} + idx, {b})" for b in written]
        body += ["    " + line for line in tile]
        body.append("if full < length:  # the tail")
        tail = ["idx = full + tl.arange(0, BLOCK)", "mask = idx < length"]
        tail += [f"{b} = tl.load(at_{b} + idx, mask=mask, other=0)" for b in buffers]
        tail.append(f"{', '.join(written)} = {upd}({', '.join(buffers + coefs)})")
        tail += [f"tl.store(at_{b} + idx, {b}, mask=mask)" for b in written]
        body += ["    " + line for line in tail]
        out += ["    " + line for line in body]
        return "\n".join(out)

    def coefficient(self, expr: sp.Expr) -> str:
        """A scalar coefficient: computed in float64, cast once to the element type, hoisted."""
        was, self.in_loop = self.in_loop, False
        code = self.doprint(expr)
        self.in_loop = was
        if code not in self.coefficients:
            self.coefficients[code] = f"c{len(self.coefficients)}"
        return self.coefficients[code]

    # -- element-wise assignments --------------------------------------------------------------
    def is_tensor(self, e: sp.Basic) -> bool:
        return bool(e.free_symbols & self.tensors)

    def _tensor_wild(self, name: str) -> sp.Wild:
        return sp.Wild(name, properties=[lambda e: isinstance(e, sp.Symbol) and e in self.tensors])

    def _scalar_wild(self, name: str) -> sp.Wild:
        return sp.Wild(name, properties=[lambda e: not self.is_tensor(e)])

    def element(self, a: Assign) -> str:
        T, E = a.target, a.expr
        c = self._scalar_wild("c")
        X = self._tensor_wild("X")
        if isinstance(E, sp.Symbol) and E in self.tensors:
            return self._print(E)
        m = E.match(-X)
        if m is not None and X in m:
            return f"-{self._print(m[X])}"
        lerp = (E - T).match(c * (X - T))
        if lerp is not None and X in lerp and lerp[X] != T:
            x, tt = self._print(lerp[X]), self._print(T)
            k = self.coefficient(lerp[c])
            # torch's lerp: weight·(end − self) + self for |weight| < ½, else end − (end − self)(1 − weight)
            return f"tl.where(tl.abs({k}) < 0.5, {tt} + {k}*({x} - {tt}), {x} + ({k} - 1)*({x} - {tt}))"
        if isinstance(E, sp.Pow) and E.exp == sp.S.Half:
            inner = E.base
            if isinstance(inner, sp.Symbol) and inner in self.tensors:
                return f"{self.sqrt}({self._print(inner)})"
            return f"{self.sqrt}({self.sum(sp.Dummy('acc'), inner) or self.fallback(inner)})"
        if isinstance(E, sp.Add):
            code = self.sum(T, E)
            if code is not None:
                return code
        return self.fallback(E)

    def sum(self, T: sp.Symbol, E: sp.Expr) -> Optional[str]:
        """``E`` as torch accumulates it: a head (``a·T`` when ``T`` appears, else the first plain
        tensor term), then one op per remaining term, tensor terms first, then scalars."""
        terms = list(sp.Add.make_args(E))
        head_code = None
        rest = terms
        c = self._scalar_wild("c")
        for i, term in enumerate(terms):
            m = term.match(c * T)
            if m is not None and c in m and T in self.tensors:
                a = m[c]
                head_code = self._print(T) if a == 1 else f"{self._print(T)}*{self.coefficient(a)}"
                rest = terms[:i] + terms[i + 1 :]
                break
        if head_code is None:
            for i, term in enumerate(terms):
                if isinstance(term, sp.Symbol) and term in self.tensors:
                    head_code = self._print(term)
                    rest = terms[:i] + terms[i + 1 :]
                    break
        if head_code is None or any(T in r.free_symbols for r in rest):
            return None
        acc = head_code
        for term in [r for r in rest if self.is_tensor(r)] + [r for r in rest if not self.is_tensor(r)]:
            added = self.term(acc, term)
            if added is None:
                return None
            acc = added
        return acc

    def term(self, acc: str, term: sp.Expr) -> Optional[str]:
        """``acc`` plus one term, in the operation order of torch's op for that shape."""
        if not self.is_tensor(term):
            return f"{acc} + {self.coefficient(term)}"
        c = self._scalar_wild("c")
        X, Y = self._tensor_wild("X"), self._tensor_wild("Y")
        for pattern, kind in ((c * X / Y, "div"), (c * X**2, "sq"), (c * X * Y, "mul"), (c * X, "axpy")):
            m = term.match(pattern)
            if m is None or not all(k in m for k in pattern.atoms(sp.Wild)):
                continue
            k = m[c]
            x = self._print(m[X])
            y = x if kind == "sq" else (self._print(m[Y]) if Y in m else None)
            first = x if k == 1 else (f"-{x}" if k == -1 else f"{self.coefficient(k)}*{x}")
            if kind == "div":
                return f"{acc} + {self.div}({first}, {y})"
            if kind in ("sq", "mul"):
                return f"{acc} + ({first})*{y}" if k != 1 else f"{acc} + {x}*{y}"
            return f"{acc} + {first}"
        return None

    def fallback(self, E: sp.Expr) -> str:
        """A shape with no torch op: printed as written, each operation rounded once."""
        self.in_loop = True
        return self.doprint(E)


def _comment(a: Assign) -> str:
    return f"{a.target} <- {sp.sstr(a.expr)}" + (f" ({a.doc})" if a.doc else "")


# -- the committed modules ------------------------------------------------------------------------
def render_module(rule: UpdateRule) -> str:
    """The text of ``kernels/triton/<family>.py``: every structural variant."""
    from ..render import _template, banner, math_text

    kernels, table = [], []
    for variant in variants(rule):
        kernels.append(TritonKernelPrinter().kernel(rule, variant))
        spec = variant.specialized()
        uses_step = any(t in a.expr.free_symbols for a in spec.body)
        table.append(
            f"    {variant.name!r}: ({kernel_name(rule, variant)!r}, {buffers_of(rule, variant)!r}, "
            f"{hyperparameters_of(rule, variant)!r}, {uses_step!r}),"
        )
    text = _template("triton_kernel.py.tmpl").substitute(
        title=rule.title,
        family=rule.family,
        dialect=rule.dialect,
        banner=banner(rule),
        model_hash=rule.fingerprint(),
        math_text=math_text(rule),
        switches=repr(switches(rule)),
        variants="\n".join(table),
        chunk=CHUNK,
        block=BLOCK,
        kernels="\n".join("    " + line if line else "" for line in "\n\n\n".join(kernels).splitlines()),
        kernel_names="\n".join(f"        {kernel_name(rule, v)!r}: {kernel_name(rule, v)}," for v in variants(rule)),
    )
    return text.rstrip("\n") + "\n"


def render_sources(kernels_dir) -> dict:
    """``{path relative to src/symopt: text}`` for ``kernels/triton/``."""
    from ..render import render_fused_package

    return render_fused_package(
        kernels_dir,
        "triton",
        ".py",
        render_module,
        FUSED_FAMILIES,
        "Generated fused Triton kernels (one launch per param group over a device-side chunk table), "
        "launched by :mod:`symopt.fused.triton_launcher`.\nEach module imports without Triton; its "
        "``KERNELS`` is empty then.",
    )


__all__ = ["BLOCK", "CHUNK", "TritonKernelPrinter", "kernel_name", "render_module", "render_sources", "update_name"]
