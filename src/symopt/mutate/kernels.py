"""Mutants of the generated Python kernels (``kernels/torch/*.py``, ``kernels/numpy/*.py``): each
printed operation of every entry point (:data:`FUNCTIONS`: ``init_state``, ``update``,
``update_foreach``, ``update_differentiable``, the capturable forms, ``update_sparse``) changed
once, on the committed text, through its syntax tree.

Operators (at every place they apply, in source order):

* ``binop``: ``+`` ↔ ``-``, ``*`` ↔ ``/``, ``**`` → ``*``;
* ``unary``: a unary minus dropped;
* ``constant``: a number n → n + 1;
* ``call``: a tensor method or function swapped for its sibling (``add_`` ↔ ``sub_``, ``mul_`` ↔
  ``div_``, ``addcmul_`` ↔ ``addcdiv_``, ``_foreach_add`` ↔ ``_foreach_sub``, ``np.add`` ↔
  ``np.subtract``, ``np.multiply`` ↔ ``np.divide``, ``maximum`` ↔ ``minimum``, ``sqrt`` → ``abs``);
* ``keyword``: an ``alpha=``/``value=``/``weight=`` argument negated;
* ``condition``: an ``if`` test negated;
* ``delete``: a statement that calls an in-place operation removed.

Installed by exec'ing the mutated text in place of the module (``sys.modules``, the package
attribute, and ``symopt.torch.functional``'s reference). Checks: the kernel executed on symbols
against its model (every entry point and structural variant), then ``symopt verify`` rows of the
implementations that run this kernel, then the test modules that run it, and for the Torch
kernels tests/test_kernel_paths.py and tests/test_differentiable.py (sparse gradients, the
branches only a compiled step takes, hyperparameters that require grad, the x = 1 edges of the
``x != 0`` guards). The text-freshness
check is not among them (it would catch every mutant by construction).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
from pathlib import Path
from typing import Iterator

import torch

from .. import rules as R
from ._core import Check, Invalid, Mutant, Outcome, Patches, evaluate, module_from_source
from . import oracles

AREA = "kernel"
#: the generated functions mutated: every entry point a drop-in runs (the for-loop, the
#: multi-tensor kernel, torch's differentiable=True form, the capturable forms compiled
#: torch.optim runs, sparse Adagrad) and the state initializer
FUNCTIONS = (
    "init_state",
    "update",
    "update_foreach",
    "update_differentiable",
    "update_capturable",
    "update_foreach_capturable",
    "update_sparse",
)
CALL_SWAPS = {
    "add_": "sub_",
    "sub_": "add_",
    "sub": "add",
    "mul_": "div_",
    "div_": "mul_",
    "mul": "div",
    "div": "mul",
    "addcmul_": "addcdiv_",
    "addcdiv_": "addcmul_",
    "addcmul": "addcdiv",
    "addcdiv": "addcmul",
    "sqrt": "abs",
    "sqrt_": "abs_",
    "maximum": "minimum",
    "minimum": "maximum",
    "_foreach_add": "_foreach_sub",
    "_foreach_add_": "_foreach_sub_",
    "_foreach_sub": "_foreach_add",
    "_foreach_sub_": "_foreach_add_",
    "_foreach_mul": "_foreach_div",
    "_foreach_mul_": "_foreach_div_",
    "_foreach_div": "_foreach_mul",
    "_foreach_div_": "_foreach_mul_",
    "_foreach_addcmul_": "_foreach_addcdiv_",
    "_foreach_addcdiv_": "_foreach_addcmul_",
    "_foreach_addcmul": "_foreach_addcdiv",
    "_foreach_addcdiv": "_foreach_addcmul",
    "_foreach_sqrt": "_foreach_abs",
    "_foreach_sqrt_": "_foreach_abs_",
    "_foreach_maximum_": "_foreach_minimum_",
    "add": "subtract",
    "subtract": "add",
    "multiply": "divide",
    "divide": "multiply",
}
BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}
NEGATED_KEYWORDS = ("alpha", "value", "weight")
BACKENDS = ("torch", "numpy")


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "kernels"


def kernel_modules() -> list[tuple[str, str, R.UpdateRule]]:
    """(backend, module name, model) for every committed Python kernel of the torch/numpy backends."""
    from ..codegen.render import module_name

    return [(b, f"symopt.kernels.{b}.{module_name(rule)}", rule) for b in BACKENDS for rule in R.all_rules()]


class _Sites(ast.NodeVisitor):
    """Every mutation site inside the kernel functions, in source order: (node, operator, new
    node or None for a deletion, description)."""

    def __init__(self) -> None:
        self.sites: list[tuple[ast.AST, str, str]] = []
        self.function = ""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name in FUNCTIONS:
            self.function = node.name
            for stmt in node.body:
                self.visit(stmt)
            self.function = ""

    def generic_visit(self, node: ast.AST) -> None:
        if not self.function:
            return super().generic_visit(node)
        if isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            self.sites.append((node, "binop", f"{type(node.op).__name__} -> {BINOP_SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            self.sites.append((node, "unary", "unary minus dropped"))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        ):
            self.sites.append((node, "constant", f"{node.value!r} -> {node.value + 1!r}"))
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in CALL_SWAPS:
                self.sites.append((node, "call", f"{name} -> {CALL_SWAPS[name]}"))
            for kw in node.keywords:
                if kw.arg in NEGATED_KEYWORDS:
                    self.sites.append((kw, "keyword", f"{kw.arg}= negated"))
        elif isinstance(node, ast.If):
            self.sites.append((node, "condition", "if test negated"))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.sites.append((node, "delete", "in-place call removed"))
        super().generic_visit(node)


def _mutate(tree: ast.Module, index: int) -> ast.Module:
    """A copy of ``tree`` with site ``index`` changed."""
    tree = copy.deepcopy(tree)
    finder = _Sites()
    finder.visit(tree)
    node, kind, _ = finder.sites[index]
    # each kind is recorded by _Sites.generic_visit for one node type only (asserted below)
    if kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = BINOP_SWAPS[type(node.op)]()
    elif kind == "unary":
        assert isinstance(node, ast.UnaryOp)
        _replace(tree, node, node.operand)
    elif kind == "constant":
        assert isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
        node.value = node.value + 1
    elif kind == "call":
        assert isinstance(node, ast.Call)
        if isinstance(node.func, ast.Attribute):
            node.func.attr = CALL_SWAPS[node.func.attr]
        else:
            assert isinstance(node.func, ast.Name)  # a call site's function has an ``id``: a name
            node.func.id = CALL_SWAPS[node.func.id]
    elif kind == "keyword":
        assert isinstance(node, ast.keyword)
        node.value = ast.UnaryOp(ast.USub(), node.value)
    elif kind == "condition":
        assert isinstance(node, ast.If)
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif kind == "delete":
        _replace(tree, node, ast.Pass())
    return ast.fix_missing_locations(tree)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                value[[i for i, v in enumerate(value) if v is old][0]] = new
                return
    raise ValueError("node not found")  # pragma: no cover


def module_mutants(backend: str, name: str, rule: R.UpdateRule) -> list[Mutant]:
    path = _package_dir() / backend / f"{name.rsplit('.', 1)[1]}.py"
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    finder = _Sites()
    finder.visit(tree)
    out = []
    for i, (node, kind, how) in enumerate(finder.sites):
        where = f"line {node.lineno}" if hasattr(node, "lineno") else f"site {i}"
        line = source.splitlines()[node.lineno - 1].strip() if hasattr(node, "lineno") else ""
        try:
            mutated_source = ast.unparse(_mutate(tree, i))
        except Exception:  # pragma: no cover
            continue
        out.append(
            Mutant(
                AREA,
                f"kernels/{backend}/{path.name}",
                f"{where} #{i}",
                f"{kind}: {how}",
                line,
                how,
                payload=(backend, name, rule, i, mutated_source),
            )
        )
    return out


def all_mutants() -> list[Mutant]:
    out: list[Mutant] = []
    for backend, name, rule in kernel_modules():
        out += module_mutants(backend, name, rule)
    return out


@contextlib.contextmanager
def installed(mutant: Mutant) -> Iterator[None]:
    backend, name, rule, _, source = mutant.payload
    from ..torch import functional

    try:
        module = module_from_source(name, source, like=importlib.import_module(name))
    except Exception as exc:
        raise Invalid(f"the mutated module does not import: {type(exc).__name__}: {exc}") from None
    with Patches() as p:
        p.module(name, module)
        short = name.rsplit(".", 1)[1]
        if backend == "torch" and hasattr(functional, f"_{short}"):
            p.setattr(functional, f"_{short}", module)
        yield


def checks(mutant: Mutant) -> list[tuple[str, Check]]:
    backend, name, rule, _, _ = mutant.payload
    family, dialect = rule.family, rule.dialect
    from ..verify.cases import VERIFIED

    out: list[tuple[str, Check]] = [("symbolic", oracles.symbolic_kernel(name, family, dialect))]
    if dialect == "torch" and family in VERIFIED:
        impls = ("numpy",) if backend == "numpy" else ("torch", "torch-foreach", "optim", "optim-foreach")
        dtypes = (
            (torch.float64, torch.float32)
            if backend == "numpy"
            else (torch.float64, torch.float32, torch.bfloat16, torch.float16)
        )
        out.append(("verify", oracles.verify_rows(family, impls, dtypes=dtypes, steps=20)))
        out.append(("verify sweep", oracles.verify_rows(family, impls, dtypes=dtypes, steps=100, sweep=8)))
    else:
        out.append(("post's formulas", oracles.pytest_modules("tests/test_textbook.py", "-k", f"{family}-{dialect}")))
    selection = ["tests/test_kernels.py", "-k", f"{family} or fresh_state"]
    if backend == "torch":
        selection = ["tests/test_kernels.py", "tests/test_torch_optim.py", "-k", f"{family} or fresh_state"]
    out.append(("test modules", oracles.pytest_modules(*selection)))
    if backend == "torch":  # the paths the checks above do not step: sparse, compiled, differentiable, x = 1 edges
        out.append(
            (
                "kernel paths",
                oracles.pytest_modules("tests/test_kernel_paths.py", "tests/test_differentiable.py", "-k", family),
            )
        )
    return out


def run(mutant: Mutant) -> Outcome:
    return evaluate(mutant, installed, checks(mutant))


__all__ = ["AREA", "all_mutants", "installed", "module_mutants", "run"]
