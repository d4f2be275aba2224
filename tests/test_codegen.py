"""The code-generation stage: printers (text, then numbers), strictness, rendering, staleness."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from symopt import rules
from symopt.codegen import cli
from symopt.codegen.printers._common import CodegenError, ScalarPrinter, symbol_names
from symopt.codegen.printers.numpy import NumPyKernelPrinter
from symopt.codegen.printers.torch import TorchKernelPrinter
from symopt.codegen.render import BACKENDS, banner, generate_all, module_name, package_root, render_kernel, write_atomic
from symopt.rules import Assign, g, w
from symopt.rules import _primitives as P


def body_of(rule: rules.UpdateRule, *assigns: Assign) -> rules.UpdateRule:
    return dataclasses.replace(rule, body=tuple(assigns))


def statements(text: str) -> list[str]:
    """The statements of printed code, without comments and the complex-view prelude."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#") and "_real(" not in line
    ]


RMS = rules.rmsprop()
SMALL_CASES = [
    # (assignment, torch text, numpy text)
    (
        Assign(P.v, P.alpha * P.v + (1 - P.alpha) * g * g),
        ["square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)"],
        [
            "np.multiply(square_avg, alpha, out=square_avg)",
            "_s0 = np.empty_like(param)",
            "np.square(grad, out=_s0)",
            "np.multiply(_s0, 1 - alpha, out=_s0)",
            "np.add(square_avg, _s0, out=square_avg)",
        ],
    ),
    (
        Assign(P.m, P.m + (1 - P.alpha) * (g - P.m)),
        ["grad_avg.lerp_(grad, 1 - alpha)"],
        None,
    ),
    (
        Assign(w, w - P.eta * g / P.v),
        ["param.addcdiv_(grad, square_avg, value=-lr)"],
        [
            "_s0 = np.empty_like(param)",
            "np.multiply(grad, lr, out=_s0)",
            "np.divide(_s0, square_avg, out=_s0)",
            "np.subtract(param, _s0, out=param)",
        ],
    ),
    (
        Assign(P.b, P.mu * P.b + g / P.v),
        ["momentum_buffer.mul_(momentum).addcdiv_(grad, square_avg)"],
        None,
    ),
    (Assign(w, w - P.eta * P.b), ["param.add_(momentum_buffer, alpha=-lr)"], None),
    (Assign(g, g + P.lam * w), ["grad = grad.add(param, alpha=weight_decay)"], None),
    (
        Assign(P.sigma, sp.sqrt(P.v - P.m**2)),
        ["sigma = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()"],
        None,
    ),
    (Assign(P.sigma, sp.sqrt(P.v + P.epsilon)), ["sigma = square_avg.add(eps).sqrt_()"], None),
    (Assign(P.v, P.v + P.epsilon), ["square_avg.add_(eps)"], ["np.add(square_avg, eps, out=square_avg)"]),
    # no pattern matches: the generic out-of-place fallback
    (Assign(P.v, sp.exp(g) * P.v), ["square_avg.copy_(square_avg*torch.exp(grad))"], None),
    (Assign(g, -g), ["grad = -grad"], ["_s0 = np.empty_like(param)", "np.negative(grad, out=_s0)", "grad = _s0"]),
]


def run_printed(text: str, module, arrays: dict, scalars: dict) -> dict:
    real = lambda x: torch.view_as_real(x) if x is not None and torch.is_complex(x) else x  # noqa: E731
    env = {"np": np, "torch": torch, "_real": real, **arrays, **scalars}
    exec(compile(text, "<printed>", "exec"), env)  # noqa: S102 - the point of the test
    return env


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: f"{c[0].target}<-{c[0].expr}")
def test_small_expressions_print_and_compute(case):
    assign, torch_text, numpy_text = case
    rule = body_of(RMS, assign)
    printed_torch = TorchKernelPrinter().kernel_body(rule)
    printed_numpy = NumPyKernelPrinter().kernel_body(rule)
    assert statements(printed_torch) == torch_text
    if numpy_text is not None:
        assert statements(printed_numpy) == numpy_text
    # numbers: both printed programs against SymPy's own evaluation of the assignment
    names = symbol_names(RMS)
    rng = np.random.default_rng(0)
    tensor_values = {s: rng.uniform(0.5, 2.0, size=6) for s in (w, g, P.v, P.m, P.b, P.sigma)}
    tensor_values[P.m] = tensor_values[P.m] * 0.1
    scalar_values = {P.alpha: 0.9, P.eta: 0.1, P.mu: 0.5, P.lam: 0.01, P.epsilon: 1e-3}
    f = sp.lambdify(list(tensor_values) + list(scalar_values), assign.expr, "numpy")
    expected = np.broadcast_to(f(*tensor_values.values(), *scalar_values.values()), (6,))
    scalars = {names[k]: v for k, v in scalar_values.items()}
    env = run_printed(printed_numpy, np, {names[k]: v.copy() for k, v in tensor_values.items()}, scalars)
    np.testing.assert_allclose(env[names[assign.target]], expected, rtol=1e-13)
    env = run_printed(printed_torch, torch, {names[k]: torch.tensor(v) for k, v in tensor_values.items()}, scalars)
    np.testing.assert_allclose(env[names[assign.target]].numpy(), expected, rtol=1e-13)


def test_caller_grad_is_never_written():
    rule = rules.rmsprop()
    for printer in (NumPyKernelPrinter(), TorchKernelPrinter()):
        for line in statements(printer.kernel_body(rule)):
            assert not line.startswith("grad.") and "out=grad)" not in line, line


def test_torch_kernel_views_complex_as_real_where_torch_does():
    lines = [line.strip() for line in TorchKernelPrinter().kernel_body(rules.rmsprop()).splitlines()]
    view = lines.index(
        "param, grad, square_avg, grad_avg, momentum_buffer = "
        "_real(param), _real(grad), _real(square_avg), _real(grad_avg), _real(momentum_buffer)"
    )
    assert lines.index("grad = grad.add(param, alpha=weight_decay)") < view
    assert view < lines.index("square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)")
    assert not any("_real(" in line for line in NumPyKernelPrinter().kernel_body(rules.rmsprop()).splitlines())


def test_scalar_assignment_is_python_float_arithmetic():
    text = TorchKernelPrinter().kernel_body(rules.adagrad())
    assert "eta_t = lr/(lr_decay*(step - 1) + 1)" in text
    assert "param.addcdiv_(grad, sigma, value=-eta_t)" in text
    assert "sigma = state_sum.sqrt()" in text and "sigma.add_(eps)" in text


def test_guards_print_as_python_if_on_keywords():
    printer = ScalarPrinter(symbol_names(RMS))
    cond = sp.And(sp.Ne(P.lam, 0), sp.Not(P.centered), P.mu > 0)
    assert printer.doprint(cond) == "not centered and (momentum > 0) and (weight_decay != 0)"
    text = TorchKernelPrinter().kernel_body(RMS)
    assert "if weight_decay != 0:" in text and "if centered:" in text and "if momentum > 0:" in text


def test_decided_guards_are_specialised_away():
    rule = rules.rmsprop().specialize(maximize=False, weight_decay=0.0, centered=True, momentum=0.0)
    for printer in (NumPyKernelPrinter(), TorchKernelPrinter()):
        text = printer.kernel_body(rule)
        assert "if " not in text
    text = TorchKernelPrinter().kernel_body(rule)
    assert "grad_avg.lerp_(grad, 1 - alpha)" in text and "momentum_buffer" not in text


@pytest.mark.parametrize("printer", [NumPyKernelPrinter, TorchKernelPrinter])
def test_strict_printer_names_unsupported_construct(printer):
    foo = sp.Function("foo")
    rule = body_of(RMS, Assign(w, w - P.eta * foo(g)))
    with pytest.raises(CodegenError, match="foo"):
        printer().kernel_body(rule)
    assert issubclass(CodegenError, ValueError)


def test_numpy_printer_rejects_tensor_exponent():
    with pytest.raises(CodegenError, match="exponent"):
        NumPyKernelPrinter().kernel_body(body_of(RMS, Assign(P.v, P.v**g)))


def test_rendered_module_has_banner_math_and_is_deterministic():
    rule = rules.adagrad()
    text = render_kernel(rule, BACKENDS["torch"])
    assert banner(rule) in text
    assert f"model hash {rule.fingerprint()}" in text and f"SymPy {sp.__version__}" in text
    assert "do not edit" in text and "G ← G + g**2" in text and r"\leftarrow" in text
    assert render_kernel(rule, BACKENDS["torch"]) == text
    # deterministic: a fresh render equals generate_all's (which a process keeps, by its key)
    from symopt.codegen import render

    models = [build(d) for build, dialects in rules.FAMILIES.values() for d in dialects]
    assert render._generate_all(models) == generate_all()


def test_generate_all_renders_afresh_when_a_model_changes(monkeypatch):
    """generate_all is kept per process by the models' fingerprints and the codegen text: a
    changed model must not get the kept text."""
    before = generate_all()
    changed = dataclasses.replace(
        rules.adagrad(),
        body=tuple(
            dataclasses.replace(a, expr=sp.sqrt(P.G + P.epsilon))
            if a.target == P.sigma and a.expr == sp.sqrt(P.G)
            else a
            for a in rules.adagrad().body
        ),
    )
    monkeypatch.setitem(
        rules.FAMILIES,
        "adagrad",
        (
            lambda dialect="torch", **kw: changed if dialect == "torch" else rules.adagrad(dialect, **kw),
            ("torch", "textbook"),
        ),
    )
    after = generate_all()
    assert after[Path("kernels/torch/adagrad.py")] != before[Path("kernels/torch/adagrad.py")]
    assert after[Path("kernels/torch/rmsprop.py")] == before[Path("kernels/torch/rmsprop.py")]
    assert module_name(rules.adagrad("textbook")) == "adagrad_textbook"


@pytest.mark.parametrize("rel", sorted(str(p) for p in generate_all() if p.suffix == ".py"))
def test_generated_modules_import_with_docstrings(rel):
    module = importlib.import_module("symopt." + rel[: -len(".py")].replace("/", ".").removesuffix(".__init__"))
    assert module.__doc__ and "GENERATED by `symopt generate`" in module.__doc__
    if not rel.endswith("__init__.py"):
        assert module.update.__doc__ and "←" in module.update.__doc__
        assert module.MODEL_HASH == rules.get(module.RULE, module.DIALECT).fingerprint()


def test_committed_kernels_are_fresh():
    assert cli.check(package_root()) == []


def test_write_atomic(tmp_path):
    path = tmp_path / "a" / "m.py"
    assert write_atomic(path, "x = 1\n") is True
    assert write_atomic(path, "x = 1\n") is False
    assert write_atomic(path, "x = 2\n") is True
    assert path.read_text() == "x = 2\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.py"]


def _check_args(root: Path) -> argparse.Namespace:
    return argparse.Namespace(check=True, root=root)


def test_check_reports_stale_missing_and_orphan_files(tmp_path, capsys):
    assert cli.run(argparse.Namespace(check=False, root=tmp_path)) == 0
    assert cli.run(_check_args(tmp_path)) == 0
    assert "OK" in capsys.readouterr().out
    stale = tmp_path / "kernels/torch/adagrad.py"
    stale.write_text(stale.read_text().replace("sigma.add_(eps)", "sigma.add_(2 * eps)"))
    (tmp_path / "kernels/numpy/rmsprop.py").unlink()
    (tmp_path / "kernels/numpy/old_rule.py").write_text("x = 1\n")
    assert cli.run(_check_args(tmp_path)) == 1
    err = capsys.readouterr().err
    assert f"stale: {stale}" in err
    assert "missing: " in err and "kernels/numpy/rmsprop.py" in err
    assert "orphan: " in err and "old_rule.py" in err
    assert "-    sigma.add_(2 * eps)" in err and "+    sigma.add_(eps)" in err
    assert "make generate" in err


def test_check_reports_a_changed_model(tmp_path, monkeypatch, capsys):
    cli.write(tmp_path)

    def changed_adagrad(dialect="torch", **conventions):
        rule = rules.adagrad(dialect, **conventions)
        body = tuple(
            dataclasses.replace(a, expr=sp.sqrt(P.G + P.epsilon))
            if a.target == P.sigma and a.expr == sp.sqrt(P.G)
            else a
            for a in rule.body
        )
        return dataclasses.replace(rule, body=body)

    monkeypatch.setitem(rules.FAMILIES, "adagrad", (changed_adagrad, ("torch", "textbook")))
    assert cli.run(_check_args(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "stale: " in err and "kernels/torch/adagrad.py" in err and "kernels/numpy/adagrad.py" in err
    assert "+    sigma = state_sum.add(eps).sqrt_()" in err
    assert "model hash" in err


def test_symopt_generate_check_through_the_main_cli(capsys):
    from symopt.cli import main

    assert main(["generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
