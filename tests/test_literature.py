"""Results from the literature (symopt.derive.literature, ``symopt papers``): each reproduced with
torch.optim, its derived statement against a computation typed here, and its checks shown to fail
on wrong statements."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

from symopt import rules, schemas
from symopt.cli import main
from symopt.derive import literature as L


@pytest.fixture(scope="module")
def reddi():
    return L.reddi2018_counterexample()


def _period_by_hand(c, beta2, eta=1.0):
    """One period's displacement of RMSProp (ε = 0) from the mean square it returns to, typed
    here: iterate v ← β v + (1 − β) g² over many periods until it repeats, then step w."""
    v = 0.0
    for _ in range(2000):
        for grad in (c, -1.0, -1.0):
            v = beta2 * v + (1 - beta2) * grad * grad
    w = 0.0
    for grad in (c, -1.0, -1.0):
        v = beta2 * v + (1 - beta2) * grad * grad
        w -= eta * grad / math.sqrt(v)
    return w


def test_the_derived_drift_is_the_period_typed_by_hand():
    _, drift, _ = L.reddi_period_drift()
    rule = rules.rmsprop()
    alpha, eta = rule.hyperparameter("alpha").symbol, rule.hyperparameter("lr").symbol
    for c, beta2 in ((3.0, 0.1), (2.5, 0.9), (10.0, 0.5)):
        assert float(drift.subs({L.C: c, alpha: beta2, eta: 1})) == pytest.approx(_period_by_hand(c, beta2), rel=1e-12)


def test_the_published_counterexample_is_reproduced_with_torch(reddi):
    assert reddi.passed, [c.summary() for c in reddi.checks if not c.passed]
    assert "Reddi" in reddi.citation and "ICLR 2018" in reddi.citation and "Section 3" in reddi.citation
    assert reddi.computed["x_T_rmsprop"] == 1.0 and reddi.computed["x_T_amsgrad"] < -0.9
    assert reddi.computed["regret_per_step_rmsprop"] == pytest.approx(2 * (L.C_VALUE - 2) / 3, rel=0.01)


@pytest.mark.parametrize("wrong", ["sign flipped", "the C-step alone", "one -1 step dropped"])
def test_a_wrong_statement_fails_its_checks(reddi, wrong):
    rhs = reddi.derivation.statement.rhs
    terms = sp.Add.make_args(rhs)
    c_term = next(t for t in terms if t.has(L.C) and t.could_extract_minus_sign())
    if wrong == "sign flipped":
        bad = -rhs
    elif wrong == "the C-step alone":
        bad = c_term
    else:
        bad = rhs - next(t for t in terms if t is not c_term)
    rechecked = reddi.derivation.recheck(sp.Eq(reddi.derivation.statement.lhs, bad))
    assert not rechecked.passed


def test_papers_cli_json_and_check(reddi, monkeypatch, capsys):
    monkeypatch.setitem(L.PAPERS, "reddi2018.counterexample", lambda: reddi)  # derived once, in the fixture
    assert main(["papers", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert schemas.validate(document) == "papers"
    assert [p["id"] for p in document["papers"]] == list(L.PAPERS)
    assert main(["papers", "--check"]) == 0
    assert "reddi2018.counterexample  [reproduced]" in capsys.readouterr().out
