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


@pytest.fixture(scope="module")
def mukkamala():
    return L.mukkamala2017_rmsprop_is_adagrad()


def _adagrad_step_by_hand(w0, G0, g0, lr, eps):
    """torch's Adagrad step (eps outside the root, no decay), typed here."""
    return w0 - lr * g0 / (math.sqrt(G0 + g0 * g0) + eps)


def _rmsprop_scheduled_by_hand(grads, lr, eps):
    """RMSProp with beta_t = 1 - 1/t, eta_t = lr/sqrt(t), eps_t = eps/sqrt(t), typed here, one coordinate."""
    w, v = 0.0, 0.0
    for t, g0 in enumerate(grads, start=1):
        beta = 1 - 1 / t
        v = beta * v + (1 - beta) * g0 * g0
        w -= (lr / math.sqrt(t)) * g0 / (math.sqrt(v) + eps / math.sqrt(t))
    return w


def test_rmsprop_with_beta_1_minus_1_over_t_is_adagrad(mukkamala):
    assert mukkamala.passed, [c.summary() for c in mukkamala.checks if not c.passed]
    assert "Mukkamala" in mukkamala.citation and "ICML 2017" in mukkamala.citation
    # the typed recurrences agree (an independent transcription of both rules)
    grads = [math.sin(3.0 * k) + 0.1 * k % 2 for k in range(1, 300)]
    w_ada, G = 0.0, 0.0
    for g0 in grads:
        w_ada = _adagrad_step_by_hand(w_ada, G, g0, 0.1, 1e-3)
        G += g0 * g0
    assert _rmsprop_scheduled_by_hand(grads, 0.1, 1e-3) == pytest.approx(w_ada, rel=1e-12)
    # the stated step is AdaGrad's, typed here
    fn = sp.lambdify(list(mukkamala.derivation.statement.rhs.free_symbols), mukkamala.derivation.statement.rhs)
    names = {str(s): s for s in mukkamala.derivation.statement.rhs.free_symbols}
    values = {"w": 0.3, "G": 2.0, "g": -0.7, "t": 17, "a": 0.1, "e": 1e-3}
    got = fn(*(values[str(s)] for s in mukkamala.derivation.statement.rhs.free_symbols))
    assert got == pytest.approx(_adagrad_step_by_hand(0.3, 2.0, -0.7, 0.1, 1e-3), rel=1e-14)
    assert set(names) <= set(values)


@pytest.mark.parametrize("wrong", ["eps inside the root", "no 1/sqrt(t) on eps", "lr/t"])
def test_a_wrong_mukkamala_statement_fails(mukkamala, wrong):
    rhs = mukkamala.derivation.statement.rhs
    syms = {str(s): s for s in rhs.free_symbols}
    w_, G_, g_, a, e = (syms[k] for k in ("w", "G", "g", "a", "e"))
    t_ = L._T
    if wrong == "eps inside the root":
        bad = w_ - a * g_ / sp.sqrt(G_ + g_**2 + e)
    elif wrong == "no 1/sqrt(t) on eps":
        bad = w_ - a * g_ / (sp.sqrt(G_ + g_**2) + e * sp.sqrt(t_))
    else:
        bad = w_ - a * g_ / (sp.sqrt(t_) * (sp.sqrt(G_ + g_**2) + e))
    assert not mukkamala.derivation.recheck(sp.Eq(mukkamala.derivation.statement.lhs, bad)).passed


@pytest.fixture(scope="module")
def cohen():
    return L.cohen2022_aeos()


def _spectral_radius_by_hand(lam, p, eta, beta):
    """Heavy-ball on the preconditioned curvature, typed here: m' = b m + (1 - b) lam w, w' = w - eta m'/p."""
    import numpy as np

    J = np.array([[1 - eta * (1 - beta) * lam / p, -eta * beta / p], [(1 - beta) * lam, beta]])
    return max(abs(np.linalg.eigvals(J)))


def test_the_edge_of_stability_threshold(cohen):
    assert cohen.passed, [c.summary() for c in cohen.checks if not c.passed]
    assert cohen.computed["threshold_adam_beta1_0.9_eta_1"] == pytest.approx(38.0, rel=1e-14)
    stated = cohen.derivation.statement.rhs
    syms = {str(s): s for s in stated.free_symbols}
    for eta, beta in ((0.01, 0.9), (0.1, 0.5), (1.0, 0.0)):
        star = float(stated.subs({syms["eta"]: eta, syms["beta_1"]: beta}))
        assert _spectral_radius_by_hand(0.999 * star * 0.7, 0.7, eta, beta) < 1 < _spectral_radius_by_hand(1.001 * star * 0.7, 0.7, eta, beta)


@pytest.mark.parametrize("wrong", ["2/eta whatever beta1", "(2 + 2 beta1)/eta", "the sign of beta1 flipped"])
def test_a_wrong_threshold_fails(cohen, wrong):
    stated = cohen.derivation.statement.rhs
    syms = {str(s): s for s in stated.free_symbols}
    eta, b = syms["eta"], syms["beta_1"]
    bad = {"2/eta whatever beta1": 2 / eta, "(2 + 2 beta1)/eta": (2 + 2 * b) / eta,
           "the sign of beta1 flipped": (2 - 2 * b) / (eta * (1 + b))}[wrong]
    assert not cohen.derivation.recheck(sp.Eq(cohen.derivation.statement.lhs, bad)).passed


def test_papers_cli_json_and_check(reddi, mukkamala, cohen, monkeypatch, capsys):
    monkeypatch.setitem(L.PAPERS, "reddi2018.counterexample", lambda: reddi)  # derived once, in the fixture
    monkeypatch.setitem(L.PAPERS, "mukkamala2017.rmsprop_is_adagrad", lambda: mukkamala)
    monkeypatch.setitem(L.PAPERS, "cohen2022.aeos", lambda: cohen)
    assert main(["papers", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert schemas.validate(document) == "papers"
    assert [p["id"] for p in document["papers"]] == list(L.PAPERS)
    assert main(["papers", "--check"]) == 0
    assert "reddi2018.counterexample  [reproduced]" in capsys.readouterr().out
