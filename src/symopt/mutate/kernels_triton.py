"""Mutants of the generated fused Triton kernels (``kernels/triton/adagrad.py``, ``rmsprop.py``):
each printed operation inside their ``@triton.jit`` functions changed once, through the syntax
tree (the operators of :mod:`.kernels` where they apply), and run under Triton's interpreter.

Operators (at every place they apply, in source order):

* ``binop``: ``+`` ↔ ``-``, ``*`` ↔ ``/``, ``**`` → ``*`` (:data:`.kernels.BINOP_SWAPS`);
* ``unary``: a unary minus dropped;
* ``constant``: a number n → n + 1;
* ``call``: ``_sqrt_rn(x)``, ``tl.sqrt_rn(x)``, ``tl.sqrt(x)``, ``tl.abs(x)`` dropped (→ ``x``);
  ``_div_rn(x, y)``, ``tl.div_rn(x, y)`` → ``x * y``; ``tl.where(c, a, b)`` → ``tl.where(c, b, a)``;
* ``condition``: an ``if`` test negated;
* ``delete``: a ``tl.store`` removed, or an assignment to a name that is already bound in its
  block (``grad = -grad``, the call of the element-wise update); an assignment that first binds
  a name is not deleted (the compiler would only refuse the undefined name).

Where. Every operation of the element-wise ``_update_<variant>`` functions and of the rounding
helpers ``_sqrt_rn``/``_div_rn``, and the per-program scalar lines of every kernel (``eta_t =
...``, ``cN = (...).to(ty)``): the computation, as in the C area. The rest of a kernel — the
chunk-table row, the scalar and offset loads, the tiles, the tail and its mask, the stores — is
the same template text in every variant: it is mutated in the ``plain`` kernel of each family
only. Not mutated: the fill value of a masked load (``other=0``): a masked-off lane is computed
but never stored (every store carries the same mask), so no input can tell the value.

Evaluation. Each mutant is first compiled by Triton's own front end (``ASTSource.make_ir`` and
the TTIR passes, for a CUDA target, no GPU needed) in float32 and float64, for every kernel it
reaches: a mutant the compiler refuses is ``invalid``. Then it runs under the interpreter
(``TRITON_INTERPRET=1``, which must be set before Triton builds the kernels, so in a
subprocess): installed in place of ``symopt.kernels.triton.<family>``, it goes through
tests/test_triton.py's ``_interpreter_worker`` — the launcher, against the test's independent
NumPy transcription (bitwise, each tensor at its own step) and torch.optim's for-loop (within
the test's normwise ULP bound) — restricted to the cases that launch the variant the mutant is
in (a helper reaches every variant: all cases). A case off its bound kills; so does an error.
Mutants are batched, one subprocess per batch (:func:`run_many`); a mutant of the ``plain``
template may address memory it should not, so each of those runs in a subprocess of its own,
and a worker that dies or exceeds :data:`TIMEOUT_S` on a mutant has been caught by it.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib.util
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._core import Mutant, Outcome
from .kernels import BINOP_SWAPS, _replace
from . import oracles

AREA = "kernel-triton"
FAMILIES = ("adagrad", "rmsprop")
HELPERS = ("_sqrt_rn", "_div_rn")
#: call → what the mutant makes of it
CALLS = {
    "_sqrt_rn": "dropped",
    "tl.sqrt_rn": "dropped",
    "tl.sqrt": "dropped",
    "tl.abs": "dropped",
    "_div_rn": "x * y",
    "tl.div_rn": "x * y",
    "tl.where": "branches swapped",
}
#: mutants per worker subprocess
BATCH = 40
#: seconds one mutant may take in a worker before it counts as caught (a hang)
TIMEOUT_S = 300.0
TEST_MODULE = oracles.TESTS / "test_triton.py"


def unavailable() -> str | None:
    """Why the area has no mutants here (None when Triton is importable)."""
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install triton): the Triton kernels cannot be run, not even interpreted"
    return None


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "kernels" / "triton"


# -- where the sites are -----------------------------------------------------------------------------
def _is_jit(fn: ast.FunctionDef) -> bool:
    return any(ast.unparse(d) in ("triton.jit", "jit") for d in fn.decorator_list)


def jit_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The ``@triton.jit`` functions of a generated module, in source order."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and _is_jit(n)]


def role(family: str, name: str) -> tuple[str, str | None]:
    """(``helper`` | ``update`` | ``kernel``, the variant or None for a helper)."""
    if name in HELPERS:
        return "helper", None
    if name.startswith(f"_update_{family}_"):
        return "update", name[len(f"_update_{family}_") :]
    if name.startswith(f"symopt_{family}_"):
        return "kernel", name[len(f"symopt_{family}_") :]
    raise ValueError(f"unknown @triton.jit function {name!r} in the {family} kernels")


def _call_name(node: ast.Call) -> str:
    return ast.unparse(node.func)


def _is_scalar_line(stmt: ast.stmt) -> bool:
    """``eta_t = ...`` and ``cN = (...).to(ty)``: the per-program scalar computation of a kernel."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return False
    name = stmt.targets[0].id
    return name == "eta_t" or (name[:1] == "c" and name[1:].isdigit())


def _names(target: ast.expr) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
        return [e.id for e in target.elts if isinstance(e, ast.Name)]  # every one (checked above)
    return None


class _Sites:
    """Every mutation site of a module's jit functions, in source order: (node, kind, how,
    function, statement)."""

    def __init__(self, family: str, tree: ast.Module) -> None:
        self.family = family
        self.sites: list[tuple[ast.AST, str, str, str, ast.stmt]] = []
        for fn in jit_functions(tree):
            kind, variant = role(family, fn.name)
            everything = kind != "kernel" or variant == "plain"
            bound = {a.arg for a in fn.args.args}
            self._block(fn.body, fn.name, everything, bound)

    def _block(self, body: list[ast.stmt], function: str, everything: bool, bound: set[str]) -> None:
        bound = set(bound)  # a name bound inside a block is not bound after it
        for stmt in body:
            if not (everything or _is_scalar_line(stmt)):
                if isinstance(stmt, ast.Assign):
                    for t in stmt.targets:
                        bound.update(_names(t) or [])
                continue
            self._statement(stmt, function, everything, bound)

    def _statement(self, stmt: ast.stmt, function: str, everything: bool, bound: set[str]) -> None:
        add = lambda node, kind, how: self.sites.append((node, kind, how, function, stmt))  # noqa: E731
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # a docstring
        if isinstance(stmt, ast.If):
            add(stmt, "condition", "if test negated")
            self._expression(stmt.test, add)
            self._block(stmt.body, function, everything, bound)
            self._block(stmt.orelse, function, everything, bound)
            return
        if isinstance(stmt, ast.For):
            self._expression(stmt.iter, add)
            self._block(stmt.body, function, everything, bound | set(_names(stmt.target) or []))
            return
        if isinstance(stmt, ast.Assign):
            self._expression(stmt.value, add)
            names = [n for t in stmt.targets for n in (_names(t) or ["?"])]
            if all(n in bound for n in names):
                add(stmt, "delete", f"assignment to {', '.join(names)} removed")
            bound.update(n for n in names if n != "?")
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._expression(stmt.value, add)
            if _call_name(stmt.value) == "tl.store":
                add(stmt, "delete", "tl.store removed")
            return
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            self._expression(stmt.value, add)

    def _expression(self, node: ast.AST, add) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            add(node, "binop", f"{type(node.op).__name__} -> {BINOP_SWAPS[type(node.op)].__name__}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            add(node, "unary", "unary minus dropped")
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        ):
            add(node, "constant", f"{node.value!r} -> {node.value + 1!r}")
        elif isinstance(node, ast.Call) and _call_name(node) in CALLS:
            add(node, "call", f"{_call_name(node)} {CALLS[_call_name(node)]}")
        if isinstance(node, ast.keyword) and node.arg == "other":
            return  # a masked load's fill value: never stored (see the module docstring)
        for _, value in ast.iter_fields(node):
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self._expression(child, add)


def _apply(root: ast.AST, position: int, kind: str) -> ast.AST:
    """Change the node at ``position`` (its index in ``ast.walk(root)``) of ``root`` in place by
    ``kind``; returns ``root``, or what replaces it when the node is ``root`` (a deletion)."""
    node = list(ast.walk(root))[position]
    # each kind is recorded by _Sites for one node type only (asserted below)
    if kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = BINOP_SWAPS[type(node.op)]()
    elif kind == "unary":
        assert isinstance(node, ast.UnaryOp)
        _replace(root, node, node.operand)
    elif kind == "constant":
        assert isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
        node.value = node.value + 1
    elif kind == "call":
        assert isinstance(node, ast.Call)
        how = CALLS[_call_name(node)]
        if how == "dropped":
            _replace(root, node, node.args[0])
        elif how == "x * y":
            _replace(root, node, ast.BinOp(node.args[0], ast.Mult(), node.args[1]))
        else:
            node.args[1], node.args[2] = node.args[2], node.args[1]
    elif kind == "condition":
        assert isinstance(node, ast.If)
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif kind == "delete":
        if node is root:
            return ast.Pass()
        _replace(root, node, ast.Pass())
    return ast.fix_missing_locations(root)


@functools.lru_cache(maxsize=None)
def _parsed(family: str) -> tuple[str, str, ast.Module]:
    """(module name, file name, syntax tree) of the committed generated module of ``family``."""
    from .. import rules
    from ..codegen.render import module_name

    name = module_name(rules.get(family))
    path = _package_dir() / f"{name}.py"
    return name, path.name, ast.parse(path.read_text(encoding="utf-8"))


def mutated_source(mutant: Mutant) -> str:
    """The whole module text of ``mutant`` (computed when it runs: listing stays cheap)."""
    _, _, tree = _parsed(mutant.payload["family"])
    return ast.unparse(_apply(copy.deepcopy(tree), mutant.payload["position"], mutant.payload["kind"]))


def _line(stmt: ast.AST) -> str:
    if isinstance(stmt, ast.If):
        return f"if {ast.unparse(stmt.test)}:"
    if isinstance(stmt, ast.For):
        return f"for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}:"
    return ast.unparse(stmt)


def module_mutants(family: str) -> list[Mutant]:
    """The mutants of one generated Triton module (payload: what the worker needs to rebuild it)."""
    name, file_name, tree = _parsed(family)
    positions = {id(n): k for k, n in enumerate(ast.walk(tree))}
    out = []
    seen: dict[tuple[str, str], int] = {}
    for node, kind, how, function, stmt in _Sites(family, tree).sites:
        fn_role, variant = role(family, function)
        inner = {id(n): k for k, n in enumerate(ast.walk(stmt))}[id(node)]
        shown = _apply(copy.deepcopy(stmt), inner, kind)
        original = _line(stmt)
        j = seen[(function, original)] = seen.get((function, original), -1) + 1
        payload = {
            "family": family,
            "module": f"symopt.kernels.triton.{name}",
            "position": positions[id(node)],
            "kind": kind,
            "variants": None if variant is None else [variant],
            "isolated": fn_role == "kernel" and not _is_scalar_line(stmt),
        }
        out.append(
            Mutant(
                AREA,
                f"kernels/triton/{file_name}",
                f"{function}: {original} #{j}",
                f"{kind}: {how}",
                original,
                _line(shown),
                payload=payload,
            )
        )
    return out


def all_mutants() -> list[Mutant]:
    if unavailable():
        return []
    out: list[Mutant] = []
    for family in FAMILIES:
        out += module_mutants(family)
    return out


# -- running: batches of mutants in interpreter subprocesses -------------------------------------------
def run(mutant: Mutant) -> Outcome:
    """One mutant, in a subprocess of its own (a few seconds: Torch and Triton import in it)."""
    return run_many([mutant])[0]


def run_many(mutants: Iterable[Mutant], progress=None) -> list[Outcome]:
    """Every mutant of ``mutants``, in worker subprocesses of :data:`BATCH` (the ``plain``
    template's mutants one per subprocess), in order."""
    mutants = list(mutants)
    reason = unavailable()
    if reason:
        return [Outcome(m, "invalid", reason) for m in mutants]
    batches: list[list[Mutant]] = []
    shared = [m for m in mutants if not m.payload["isolated"]]
    batches += [shared[i : i + BATCH] for i in range(0, len(shared), BATCH)]
    batches += [[m] for m in mutants if m.payload["isolated"]]
    outcomes: dict[str, Outcome] = {}
    for batch in batches:
        for outcome in _run_batch(batch):
            outcomes[outcome.mutant.id] = outcome
            if progress is not None:
                progress(outcome)
    return [outcomes[m.id] for m in mutants]


def _run_batch(batch: list[Mutant]) -> Iterator[Outcome]:
    """Run ``batch`` in a worker; a mutant that kills the worker or hangs it is caught, and the
    rest of the batch goes to a fresh worker."""
    pending = list(batch)
    while pending:
        env = dict(os.environ, TRITON_INTERPRET="1")
        jobs = [dict(m.payload, id=m.id, source=mutated_source(m)) for m in pending]
        started = time.perf_counter()
        with tempfile.TemporaryFile(mode="w+") as errors:
            worker = subprocess.Popen(
                [sys.executable, "-W", "error", "-c", "from symopt.mutate.kernels_triton import _serve; _serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
                cwd=oracles.ROOT,
                text=True,
            )
            assert worker.stdin is not None and worker.stdout is not None  # both are pipes (PIPE above)
            worker.stdin.write(json.dumps(jobs))
            worker.stdin.close()
            by_id = {m.id: m for m in pending}
            done: list[str] = []
            deadline = time.monotonic() + TIMEOUT_S + 60  # the first mutant also waits for the imports
            stuck = None
            while True:
                ready, _, _ = select.select([worker.stdout], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    stuck = f"timed out: no result in {TIMEOUT_S:.0f} s"
                    worker.kill()
                    break
                line = worker.stdout.readline()
                if not line:
                    break
                if not line.startswith('{"id"'):
                    continue  # not an outcome (something in the worker printed)
                row = json.loads(line)
                if row["status"] == "error":
                    worker.kill()
                    worker.wait()
                    worker.stdout.close()
                    raise RuntimeError(f"the Triton mutant worker cannot check {row['id']}: {row['by']}")
                done.append(row["id"])
                yield Outcome(by_id[row["id"]], row["status"], row["by"], row["seconds"])
                deadline = time.monotonic() + TIMEOUT_S
            worker.wait()
            worker.stdout.close()
            errors.seek(0)
            tail = errors.read()[-300:].strip().replace("\n", " | ")
        pending = [m for m in pending if m.id not in done]
        if not pending:
            return
        if worker.returncode == 0 and stuck is None:  # pragma: no cover - the worker answers every job
            raise RuntimeError(f"the Triton mutant worker skipped {len(pending)} mutants: {tail}")
        first = pending.pop(0)  # the mutant it was running when it died
        why = stuck or f"the interpreter process died (exit {worker.returncode}): {tail}"
        yield Outcome(first, "killed", f"interpreter: {why}", time.perf_counter() - started)


# -- the worker (runs with TRITON_INTERPRET=1) ------------------------------------------------------
def _serve() -> None:
    """Read the jobs (JSON list on stdin), print one JSON outcome line per job as it finishes."""
    jobs = json.loads(sys.stdin.read())
    test = _test_module()
    for job in jobs:
        started = time.perf_counter()
        try:
            status, by = _evaluate(job, test)
        except Exception as exc:  # an error while checking the mutant: it caught it
            status, by = "killed", f"interpreter: {type(exc).__name__}: {str(exc)[:200]}"
        print(
            json.dumps(
                {"id": job["id"], "status": status, "by": by, "seconds": round(time.perf_counter() - started, 3)}
            ),
            flush=True,
        )


def _test_module() -> types.ModuleType:
    """tests/test_triton.py, imported under its own name (its worker, cases and references)."""
    if not TEST_MODULE.is_file():
        raise FileNotFoundError(f"no {TEST_MODULE}: run the harness from a source checkout")
    spec = importlib.util.spec_from_file_location("symopt_mutant_test_triton", TEST_MODULE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {TEST_MODULE}: no module spec or loader for it")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(job: dict[str, Any], directory: Path, interpret: bool) -> types.ModuleType:
    """The mutated module, exec'd from a file (Triton reads a kernel's source through inspect),
    with the interpreter on or off for its ``@triton.jit`` functions."""
    path = directory / f"{job['module'].rsplit('.', 1)[1]}_{job['id']}_{int(interpret)}.py"
    path.write_text(job["source"], encoding="utf-8")
    module = types.ModuleType(job["module"])
    module.__file__ = str(path)
    module.__package__ = job["module"].rpartition(".")[0]
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
    try:
        exec(compile(job["source"], str(path), "exec"), module.__dict__)
    finally:
        os.environ["TRITON_INTERPRET"] = old if old is not None else "0"
    return module


def _evaluate(job: dict[str, Any], test: types.ModuleType) -> tuple[str, str]:
    from ._core import Patches

    with tempfile.TemporaryDirectory(prefix="symopt-mutant-triton-") as tmp:
        try:
            compiled = _load(job, Path(tmp), interpret=False)
        except Exception as exc:
            return "invalid", f"the mutated module does not import: {type(exc).__name__}: {str(exc)[:200]}"
        variants = job["variants"] or list(compiled.VARIANTS)
        refused = compile_error(compiled, variants)
        if refused:
            return "invalid", f"Triton's compiler refuses it: {refused}"
        module = _load(job, Path(tmp), interpret=True)
        cases = [c for c in test._cases() if c[0] == job["family"] and _variant_of_case(c, test) in variants]
        if not cases:
            return "error", f"no case of tests/test_triton.py launches the variants {variants}"
        with Patches() as p:
            p.module(job["module"], module)
            p.setattr(test, "_cases", lambda: cases)
            results = test._interpreter_worker()
        for family, name, _, dtype_name, _ in cases:
            label = f"{family}:{name}:{dtype_name}"
            result = results[label]
            if not result["bitwise"]:
                return "killed", f"interpreter {label}: not bitwise equal to tests/test_triton.py's plain-op reference"
            bound = (
                64 if "alpha0.3" in label else test.ULP_BOUND
            )  # test_interpreter_bitwise_vs_reference_and_within_bound_of_torch
            if not result["ulp_vs_torch"] <= bound:  # NaN fails
                return (
                    "killed",
                    f"interpreter {label}: {result['ulp_vs_torch']} normwise ULPs from torch.optim > {bound}",
                )
        expected = {job["family"]: 2 * test.STEPS * len(cases)}
        if results["launches"].get(job["family"]) != expected[job["family"]]:
            return "killed", f"interpreter: {results['launches']} launches, expected {expected}"
        return "survived", ""


def _variant_of_case(case: tuple, test: types.ModuleType) -> str:
    """The structural variant a case of tests/test_triton.py's ``_cases`` launches (its
    hyperparameters as ``_interpreter_worker`` sets them)."""
    from .. import rules
    from ..codegen.printers.c import variant_of

    family, _, switch, _, extra = case
    hyper = dict(test.HYPER[family], **extra)
    hyper["weight_decay"] = hyper["weight_decay"] if switch.get("weight_decay") else 0.0
    hyper["maximize"] = bool(switch.get("maximize"))
    if family == "rmsprop":
        hyper["momentum"] = hyper["momentum"] if switch.get("momentum") else 0.0
        hyper["centered"] = bool(switch.get("centered"))
    return variant_of(rules.get(family), hyper).name


def _reason(exc: BaseException) -> str:
    """What a compiler error says, without the source excerpt: the innermost error message of
    the chain (a nested call's CompilationError wraps the callee's)."""
    found = f"{type(exc).__name__}"
    seen = 0
    link: BaseException | None = exc
    while link is not None and seen < 20:
        message = getattr(link, "error_message", None) if hasattr(link, "node") else str(link)
        if message:
            found = f"{type(link).__name__}: {' '.join(str(message).split())}"
        link, seen = link.__cause__ or link.__context__, seen + 1
    return found[:240]


def compile_error(module: types.ModuleType, variants: Iterable[str]) -> str | None:
    """Compile every kernel of ``variants`` with Triton's front end and TTIR passes (a CUDA
    target: no GPU is needed for these stages) for float32 and float64 params; the first error,
    or None when each compiles."""
    from triton._C.libtriton import ir
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.compiler.compiler import make_backend

    target = GPUTarget("cuda", 90, 32)
    backend = make_backend(target)
    options = backend.parse_options({"enable_fp_fusion": False})
    for variant in variants:
        name = module.VARIANTS[variant][0]
        fn = module.KERNELS[name]
        for ty, vec in (("fp32", 4), ("fp64", 2)):
            signature = {
                a: (
                    "*i64"
                    if a in ("chunks", "offsets")
                    else "*fp64"
                    if a == "scalars"
                    else "i32"
                    if a == "n_tensors"
                    else "constexpr"
                    if a in ("BLOCK", "VEC")
                    else f"*{ty}"
                )
                for a in fn.arg_names
            }
            source = ASTSource(fn=fn, signature=signature, constexprs={"BLOCK": module.BLOCK, "VEC": vec})
            try:
                context = ir.context()
                ir.load_dialects(context)
                backend.load_dialects(context)
                mod = source.make_ir(
                    target, options, backend.get_codegen_implementation(options), backend.get_module_map(), context
                )
                backend.make_ttir(mod, {}, options, 90)
            except Exception as exc:
                return f"{name} ({ty}): {_reason(exc)}"
    return None


__all__ = ["AREA", "all_mutants", "compile_error", "module_mutants", "run", "run_many", "unavailable"]
