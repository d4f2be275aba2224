"""Mutants of the generated fused C kernels (``kernels/c/adagrad.c``, ``rmsprop.c``, ``sgd.c``,
``adam.c``, ``adamw.c``): each printed operation of the computation lines changed once, in one
function at a time.

The computation lines of a function are the per-chunk scalar lines (``const double eta_t =
...;``, ``const float cN = (float)(...);``) and the lines of the element loop that carry a
``/* ... <- ... */`` comment (one assignment of the model each). Their right-hand sides are
parsed as C expressions (:func:`parse`: numbers, names, casts, calls, unary minus, ``* / + -``,
``<`` and ``?:``), and every operator below makes one mutant at every place it applies:

* ``binop``: ``+`` ↔ ``-``, ``*`` ↔ ``/`` between two operands (there is no pointer ``*`` in
  these expressions: they read and write registers);
* ``fma``: ``fma(a, b, c)`` / ``fmaf`` dropped into ``a*b + c`` (rounded twice: the kernels are
  built with ``-ffp-contract=off``), and its addend negated (``fma(a, b, -(c))``);
* ``sqrt``: ``sqrt(x)`` / ``sqrtf`` dropped (→ ``x``);
* ``unary``: a unary minus dropped;
* ``constant``: a numeric literal n → n + 1;
* ``delete``: a whole loop line removed — only where the variable it assigns still holds a
  value without it (a param, gradient or state loaded from memory, or a register assigned
  before), since reading an uninitialised register is undefined behaviour, not a mutant of the
  computation. (Removing a scalar line leaves a name undeclared: the compiler refuses it, so no
  such mutant is listed.)

Which functions. Every structural variant of the float32 kernels, and the ``plain`` variant of
the float64, float16 and bfloat16 ones (every kernel repeats its loops inside ``if
(grad_scale) { ... } else``, so that the loops without it vectorise: that copy, the same printed
lines after the unscaling division, is left out; tests/test_fused_amp.py steps it against torch
with GradScaler): the same printed operation appears once per variant and element type, and one
mutant costs one compile of its whole file (measured with ``-O3 -march=native``: 0.5 s for
adagrad.c, 1.5 s for rmsprop.c) plus the checks, so every occurrence in both element types
would not fit the area's budget of about 20 minutes on 2 cores. The float32 functions are the
ones where a double rounding or a dropped fma is most visible (about 2⁻²⁴ per operation).

Installed by building the mutated text with :func:`symopt.fused.build.load` into a temporary
directory and making :func:`symopt.fused.kernel` (the drop-ins' ``fused=True``) return a
:class:`~symopt.fused.FusedKernel` over that library, and :func:`symopt.fused.launcher.source`
(what tests/test_fused.py builds its fixtures from) return the mutated text; undone on exit. A
mutant that does not compile is ``invalid``. Checks (the first failure kills): the fused verify
rows of the family against torch.optim (torch's optim_db inputs and symopt's named edges, one
per structural variant on contiguous params), the mutated element type first; then the
numeric tests of tests/test_fused.py (never its text or freshness tests, which read the
printer's output and not the built kernel).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import torch

from ._core import Check, Invalid, Mutant, Outcome, Patches, evaluate
from . import oracles
from ..fused.build import defines

AREA = "kernel-c"
FAMILIES = ("adagrad", "rmsprop", "sgd", "adam", "adamw")
#: (element type of the functions whose every variant is mutated, the types mutated in ``plain`` only)
ALL_VARIANTS_OF, PLAIN_ONLY_OF = "f32", ("f64", "f16", "bf16")
#: the test module whose numeric tests check a family's C kernel in float32/float64, and its -k
#: selection (bitwise against torch's fused path; the opmath simulation for RMSprop's 16 bits)
FAMILY_TESTS = {
    "adagrad": "tests/test_fused.py",
    "rmsprop": "tests/test_fused.py",
    "sgd": "tests/test_fused_rules.py",
    "adam": "tests/test_fused_rules.py",
    "adamw": "tests/test_fused_rules.py",
}
#: tests/test_fused_rules.py's numeric tests (bitwise against torch's fused path, every tail length)
RULES_NUMERIC_TESTS = "bitwise or tail_length or mixed_group"
#: the 16-bit kernels' numeric tests (tests/test_fused_lowp.py: bitwise against torch's fused path
#: or the opmath simulation)
LOW_PRECISION_TESTS = "tests/test_fused_lowp.py"
#: tests/test_fused.py's numeric tests (bitwise against torch, within tolerance of the for-loop,
#: mixed groups, every structural variant through the drop-ins); not its text or freshness tests
NUMERIC_TESTS = "bitwise or tolerance or mixed_group or structural_variant"


# -- a small C expression parser (what the C printer prints on these lines) ------------------------
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op><=|>=|[-+*/?:<>(),]))"
)
CAST_TYPES = ("float", "double")


@dataclass
class Node:
    """A parsed C expression: ``kind`` is number, name, call, unary, cast, paren, binop, compare or
    ternary; ``start``/``end`` its span in the text; ``op_at`` the operator's offset (binop)."""

    kind: str
    start: int
    end: int
    children: tuple["Node", ...] = ()
    value: str = ""  # the number, name, function, operator or cast type
    op_at: int = -1


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int, int]] = []
        pos = 0
        while pos < len(text) and text[pos:].strip():
            m = _TOKEN.match(text, pos)
            if m is None:
                raise ValueError(f"cannot parse C expression at {text[pos:]!r}")
            kind = m.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group
            self.tokens.append((kind, m.group(kind), m.start(kind), m.end(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str, int, int] | None:
        return self.tokens[self.i + k] if self.i + k < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int, int]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r} in {self.text!r}")
        self.i += 1
        return token

    def expression(self) -> Node:
        cond = self.comparison()
        if (token := self.peek()) and token[1] == "?":
            self.take("?")
            yes = self.expression()
            self.take(":")
            no = self.expression()
            return Node("ternary", cond.start, no.end, (cond, yes, no))
        return cond

    def comparison(self) -> Node:
        left = self.additive()
        token = self.peek()
        if token and token[1] in ("<", ">", "<=", ">="):
            self.take()
            right = self.additive()
            return Node("compare", left.start, right.end, (left, right), token[1], token[2])
        return left

    def _binary(self, operators: tuple[str, ...], operand) -> Node:
        left = operand()
        while (token := self.peek()) and token[0] == "op" and token[1] in operators:
            _, op, at, _ = self.take()
            right = operand()
            left = Node("binop", left.start, right.end, (left, right), op, at)
        return left

    def additive(self) -> Node:
        return self._binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self._binary(("*", "/"), self.unary)

    def unary(self) -> Node:
        token = self.peek()
        if token and token[1] == "-":
            self.take()
            operand = self.unary()
            return Node("unary", token[2], operand.end, (operand,), "-")
        after, third = self.peek(1), self.peek(2)
        if token and token[1] == "(" and after and after[1] in CAST_TYPES and third and third[1] == ")":
            self.take("(")
            self.take()
            self.take(")")
            operand = self.unary()
            return Node("cast", token[2], operand.end, (operand,), after[1])
        return self.primary()

    def primary(self) -> Node:
        kind, value, start, end = self.take()
        if kind == "number":
            return Node("number", start, end, value=value)
        if kind == "name":
            if (token := self.peek()) and token[1] == "(":
                self.take("(")
                args = [self.expression()]
                while (token := self.peek()) and token[1] == ",":
                    self.take(",")
                    args.append(self.expression())
                close = self.take(")")
                return Node("call", start, close[3], tuple(args), value)
            return Node("name", start, end, value=value)
        if value == "(":
            inner = self.expression()
            close = self.take(")")
            return Node("paren", start, close[3], (inner,))
        raise ValueError(f"unexpected {value!r} in {self.text!r}")


def parse(text: str) -> Node:
    """The C expression ``text`` as a :class:`Node` tree with spans (raises ValueError on what
    the C printer does not print on these lines)."""
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise ValueError(f"trailing text in C expression {text!r}")
    return node


def walk(node: Node) -> Iterator[Node]:
    """Every node, depth first, in source order."""
    yield node
    for child in node.children:
        yield from walk(child)


def _span(text: str, node: Node) -> str:
    return text[node.start : node.end]


def expression_mutants(text: str) -> list[tuple[str, str]]:
    """Every mutant of the C expression ``text``: (operator, mutated text), in source order."""
    out: list[tuple[str, str]] = []

    def replaced(node: Node, new: str) -> str:
        return text[: node.start] + new + text[node.end :]

    for node in walk(parse(text)):
        if node.kind == "binop":
            swap = {"+": "-", "-": "+", "*": "/", "/": "*"}[node.value]
            out.append((f"binop: {node.value} -> {swap}", text[: node.op_at] + swap + text[node.op_at + 1 :]))
        elif node.kind == "call" and node.value in ("fma", "fmaf") and len(node.children) == 3:
            a, b, c = (_span(text, x) for x in node.children)
            out.append((f"fma: {node.value} dropped into a*b + c", replaced(node, f"(({a})*({b}) + ({c}))")))
            out.append((f"fma: {node.value} addend negated", replaced(node, f"{node.value}({a}, {b}, -({c}))")))
        elif node.kind == "call" and node.value in ("sqrt", "sqrtf") and len(node.children) == 1:
            out.append((f"sqrt: {node.value} dropped", replaced(node, f"({_span(text, node.children[0])})")))
        elif node.kind == "unary":
            out.append(("unary: unary minus dropped", replaced(node, _span(text, node.children[0]))))
        elif node.kind == "number":
            new = str(int(node.value) + 1) if re.fullmatch(r"\d+", node.value) else repr(float(node.value) + 1)
            out.append((f"constant: {node.value} -> {new}", replaced(node, new)))
    return out


# -- the computation lines of a generated C file -----------------------------------------------------
_FUNCTION = re.compile(r"^void (symopt_\w+)\(", re.M)
_SCALAR = re.compile(
    r"^(?P<indent>\s*)const (?:double|float) (?P<name>\w+) = (?P<rhs>.*);(?P<comment>\s*/\*.*\*/)?\s*$"
)
_LOOP_LINE = re.compile(r"^(?P<indent>\s*)(?P<name>\w+) = (?P<rhs>.*);\s*/\*\s*(?P<rule>.*?<-.*?)\s*\*/\s*$")
_LOADED = re.compile(r"^\s*(?:float|double) (\w+) = [pv]_\w+\[i\];")
_DECLARED = re.compile(r"^\s*(?:float|double) (\w+);")
_SKIPPED_SCALARS = ("tensor", "step")  # the chunk table row and the step count: not computation


@dataclass(frozen=True)
class Site:
    """One computation line: where it is (``function``, line number, label) and its parts."""

    function: str
    lineno: int
    label: str  # "const c1", "eta_t", or the model's assignment from the comment
    lhs: str
    rhs: str
    deletable: bool


def functions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of every kernel function, 1-based, in file order."""
    lines = source.splitlines()
    starts = [(m.group(1), source.count("\n", 0, m.start()) + 1) for m in _FUNCTION.finditer(source)]
    out = []
    for name, first in starts:
        last = next(n for n in range(first, len(lines) + 1) if lines[n - 1] == "}")
        out.append((name, first, last))
    return out


def chosen(function: str) -> bool:
    """Whether ``function``'s operations are mutated: every variant of one element type, the
    ``plain`` variant of the other."""
    return function.endswith("_" + ALL_VARIANTS_OF) or any(function.endswith("_plain_" + t) for t in PLAIN_ONLY_OF)


#: the families whose float32 variants are mutated at each distinct line only: a computation
#: line printed the same in several variants (SGD's, Adam's and AdamW's many structural variants
#: share most lines) is mutated in the first function and loop that print it, which keeps the area
#: within its budget; Adagrad's and RMSprop's every variant, as the area began
DISTINCT_LINES_ONLY = ("sgd", "adam", "adamw")


def sites(source: str, *, distinct: bool = False, f16c: Optional[bool] = None) -> list[Site]:
    """Every computation line of the chosen functions of ``source`` (``distinct``: a line whose
    text an earlier function of the same element type printed already is left out). ``f16c``
    (default: whether the compiler here defines ``__F16C__``): which side of a float16 kernel's
    ``#if SYMOPT_F16C`` is built, and so mutated; a line on the other side is not compiled, and
    its mutants would be equivalent by construction."""
    if f16c is None:
        f16c = defines("__F16C__")
    lines = source.splitlines()
    out = []
    seen: set[tuple[str, str]] = set()
    for name, first, last in functions(source):
        if not chosen(name):
            continue
        element = name.rsplit("_", 1)[1]
        scaled_copy = False
        compiled = True  # inside #if SYMOPT_F16C ... #else ... #endif: whether this side is built
        defined: set[str] = set()
        for n in range(first, last + 1):
            line = lines[n - 1]
            directive = line.strip()
            if directive == "#if SYMOPT_F16C":
                compiled = f16c
            elif directive == "#else":
                compiled = not f16c
            elif directive == "#endif":
                compiled = True
            if not compiled or directive.startswith("#"):
                continue
            if line.strip() == "if (grad_scale) {":  # the copy of the loops for GradScaler
                scaled_copy = True
            elif scaled_copy and line.strip() == "} else {":
                scaled_copy = False
            if scaled_copy:
                continue
            loaded, declared = _LOADED.match(line), _DECLARED.match(line)
            if loaded:
                defined.add(loaded.group(1))
                continue
            if declared:  # a register declared (again: a scalar tail's loop body) holds no value yet
                defined.discard(declared.group(1))
                continue
            repeated = distinct and (element, line.strip()) in seen
            seen.add((element, line.strip()))
            m = _SCALAR.match(line)
            if m and m.group("name") not in _SKIPPED_SCALARS and not line.lstrip().startswith("const int64_t"):
                label = m.group("name") if m.group("name") == "eta_t" else f"const {m.group('name')}"
                if not repeated:
                    out.append(Site(name, n, label, m.group("name"), m.group("rhs"), False))
                continue
            m = _LOOP_LINE.match(line)
            if m:
                target = m.group("name")
                if not repeated:
                    out.append(Site(name, n, m.group("rule").strip(), target, m.group("rhs"), target in defined))
                defined.add(target)
    return out


def _family(path: Path) -> str:
    return path.stem


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "kernels" / "c"


def file_mutants(path: Path) -> list[Mutant]:
    """The mutants of one generated C file (payload: family, the whole mutated text, function)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    family = _family(path)
    out: list[Mutant] = []
    printed: dict[tuple[str, str], int] = {}
    for site in sites(source, distinct=family in DISTINCT_LINES_ONLY):
        line = lines[site.lineno - 1]
        # a label a function prints twice (a vector loop and its scalar tail): the second and later
        # by their place among the function's copies (@2, @3), not by line number, so that an id
        # stays the same when other lines of the file move (the first keeps the bare label)
        k = printed[site.function, site.label] = printed.get((site.function, site.label), 0) + 1
        label = site.label if k == 1 else f"{site.label} @{k}"
        code = line.split("/*")[0].strip()
        at = line.index(f"= {site.rhs};") + 2
        changes = [(op, line[:at] + new + line[at + len(site.rhs) :]) for op, new in expression_mutants(site.rhs)]
        if site.deletable:
            changes.append(("delete: line removed", ""))
        for j, (operator, new_line) in enumerate(changes):
            mutated = "".join(lines[: site.lineno - 1]) + new_line + "".join(lines[site.lineno :])
            shown = new_line.split("/*")[0].strip() or "(removed)"
            out.append(
                Mutant(
                    AREA,
                    f"kernels/c/{path.name}",
                    f"{site.function}: {label} #{j}",
                    operator,
                    code,
                    shown,
                    payload=(family, mutated, site.function),
                )
            )
    return out


def all_mutants() -> list[Mutant]:
    out: list[Mutant] = []
    for family in FAMILIES:
        out += file_mutants(_package_dir() / f"{family}.c")
    return out


# -- installing and checking -----------------------------------------------------------------------
@contextlib.contextmanager
def installed(mutant: Mutant) -> Iterator[None]:
    """:func:`symopt.fused.kernel` returns a kernel over the mutated library (built into a
    temporary directory), and :func:`symopt.fused.launcher.source` the mutated text."""
    from .. import fused
    from ..codegen.render import module_name
    from .. import rules
    from ..fused import build, launcher

    family, text, _ = mutant.payload
    directory = Path(tempfile.mkdtemp(prefix="symopt-mutant-c-"))
    memo = set(build._LOADED)
    try:
        # named as tests/test_fused.py names its fixtures' libraries, so that their load of this
        # same text is this process's memo (build._LOADED) instead of a second compile
        library = build.load(f"t_{module_name(rules.get(family))}", text, directory=directory)
    except build.BuildError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise Invalid(f"the compiler refuses it: {str(exc).splitlines()[-1][:200]}") from None
    original_source = launcher.source

    def source(name: str) -> str:
        return text if name == family else original_source(name)

    try:
        with Patches() as p:
            p.setattr(
                launcher, "_KERNELS", {**launcher._KERNELS, family: launcher.FusedKernel(family, library=library)}
            )
            p.setattr(launcher, "source", source)
            p.setattr(fused, "source", source)
            yield
    finally:
        for key in set(build._LOADED) - memo:  # the mutant's library is not kept for later loads
            build._LOADED.pop(key, None)
        shutil.rmtree(directory, ignore_errors=True)


#: element type of a function name's suffix -> torch dtype
ELEMENT_TYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16}


def checks(mutant: Mutant) -> list[tuple[str, Check]]:
    """The fused verify rows of the family, the mutated element type first (a 16-bit one: its
    rows against torch's fused path or the opmath simulation, bit for bit), then the family's
    numeric tests: tests/test_fused.py (Adagrad, RMSprop) or tests/test_fused_rules.py (SGD,
    Adam, AdamW) for float32/float64, tests/test_fused_lowp.py for 16 bits."""
    family, _, function = mutant.payload
    mutated = ELEMENT_TYPES[function.rsplit("_", 1)[1]]
    others = [t for t in (torch.float32, torch.float64) if t != mutated]
    dtypes = (mutated, *others)
    if mutated in (torch.float16, torch.bfloat16):
        return [
            ("verify fused", oracles.verify_rows(family, ("fused",), dtypes=dtypes)),
            (
                LOW_PRECISION_TESTS,
                oracles.pytest_modules(LOW_PRECISION_TESTS, "-k", f"{family} and (bitwise or mutant)"),
            ),
        ]
    module = FAMILY_TESTS[family]
    numeric = NUMERIC_TESTS if module == "tests/test_fused.py" else RULES_NUMERIC_TESTS
    return [
        ("verify fused", oracles.verify_rows(family, ("fused",), dtypes=dtypes)),
        (module, oracles.pytest_modules(module, "-k", f"{family} and ({numeric})")),
    ]


def run(mutant: Mutant) -> Outcome:
    # fresh=False: the mutant changes the built library only, and no cache of symopt holds a
    # library or a kernel's result (the kernel table itself is replaced while it is installed);
    # clearing the derivations' caches would only make every later check recompute them
    return evaluate(mutant, installed, checks(mutant), fresh=False)


__all__ = ["AREA", "all_mutants", "expression_mutants", "file_mutants", "installed", "parse", "run", "sites"]
