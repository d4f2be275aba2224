"""Generated kernels executed on symbols equal their models; a wrong kernel is caught."""

from __future__ import annotations

import inspect
import types

import pytest
import sympy as sp

from symopt import rules
from symopt.verify.symbolic import SymbolicArray, check_kernel, shipped_kernels, symbolic_numpy

SHIPPED = shipped_kernels()


@pytest.mark.parametrize("backend,module,rule", SHIPPED, ids=[f"{b}-{r.name}" for b, _, r in SHIPPED])
def test_every_shipped_kernel_computes_its_model(backend, module, rule):
    assert module is not None, f"{rule.name}: no generated {backend} kernel; run `make generate`"
    comparisons = check_kernel(module, rule)
    assert comparisons
    wrong = [c.describe() for c in comparisons if not c.identical]
    assert not wrong, "\n".join(wrong)


def _mutated(module, old, new):
    source = inspect.getsource(module)
    assert old in source, old
    clone = types.ModuleType(module.__name__)
    exec(compile(source.replace(old, new), module.__file__, "exec"), clone.__dict__)
    return clone


def test_a_wrong_torch_kernel_is_caught():
    import symopt.kernels.torch.rmsprop as kernel

    wrong = _mutated(kernel, "value=1 - alpha", "value=1 + alpha")
    differing = [c for c in check_kernel(wrong, rules.rmsprop()) if not c.identical]
    assert differing and all("v [" in c.quantity or "w [" in c.quantity or "b [" in c.quantity for c in differing)


def test_a_wrong_numpy_kernel_is_caught():
    import symopt.kernels.numpy.adagrad as kernel

    wrong = _mutated(kernel, "np.add(sigma, eps, out=sigma)", "np.add(sigma, 2 * eps, out=sigma)")
    differing = [c for c in check_kernel(wrong, rules.adagrad()) if not c.identical]
    assert differing
    eps = sp.Symbol("epsilon", nonnegative=True)
    assert all(c.difference.has(eps) for c in differing)


def test_the_stand_ins_compute_what_numpy_and_torch_would():
    a, b = sp.symbols("a b", positive=True)
    x = SymbolicArray(a)
    x.mul_(2).addcmul_(SymbolicArray(b), SymbolicArray(b), value=3)  # torch: x = 2a + 3b²
    assert sp.expand(x.expr - (2 * a + 3 * b**2)) == 0
    out = SymbolicArray(sp.nan)
    symbolic_numpy.divide(SymbolicArray(a), b, out=out)  # numpy: out = a / b
    assert out.expr == a / b
    y = SymbolicArray(a).lerp_(SymbolicArray(b), sp.Rational(1, 4))
    assert sp.simplify(y.expr - (a + (b - a) / 4)) == 0
