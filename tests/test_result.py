"""symopt.derive._result: what a derivation returns — worst_error (NaN wins), Check.passed (NaN
and ∞ never pass), hazard-labelled arms, JSON and one-line summaries, and Derivation.recheck."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

from symopt.derive._result import Assumption, Check, Derivation, restatable, without_order_terms, worst_error

nan, inf = float("nan"), float("inf")


def test_worst_error_is_the_max_and_nan_wins():
    assert worst_error([0.0, 3e-3, 1e-3]) == 3e-3
    assert worst_error(iter([2.0])) == 2.0
    assert math.isnan(worst_error([0.0, nan, 1.0])) and math.isnan(worst_error([nan]))
    assert math.isnan(worst_error([]))  # nothing checked
    assert worst_error([inf, 1.0]) == inf
    assert worst_error([-1.0]) == 0.0  # errors are magnitudes; the floor is 0


@pytest.mark.parametrize(
    "err,tol,passed",
    [
        (0.0, 0.0, True),
        (1e-11, 1e-10, True),
        (1e-10, 1e-10, True),
        (2e-10, 1e-10, False),
        (nan, 1e-10, False),
        (inf, inf, False),
        (inf, 1e-10, False),
    ],
)
def test_check_passes_only_within_its_tolerance_and_finite(err, tol, passed):
    assert Check("m", (1, 2), err, tol).passed is passed


def _derivation(*checks: Check) -> Derivation:
    return Derivation("x.y", "title", sp.Eq(sp.Symbol("a"), 1), (), (), checks[0], precision_checks=checks[1:])


def test_a_derivation_passes_when_every_authoritative_check_does():
    good, bad = Check("m", (1, 2), 0.0, 1.0), Check("m", (1, 2), 2.0, 1.0)
    assert _derivation(good, good).passed and not _derivation(good, bad).passed and not _derivation(bad, good).passed
    hazard = Check("float64", (1, 2), 2.0, 1.0, hazard="cancellation")
    assert _derivation(hazard, good).passed  # the hazard arm is reported failing, the other decides
    assert not _derivation(hazard).passed  # no authoritative arm: nothing certifies it
    assert _derivation(good, bad).checks == (good, bad)


def test_json_and_summary_say_what_was_checked():
    c = Check("interpreter-float64", (1, 10**7), nan, 1e-10, detail="d", hazard="h")
    data = json.loads(json.dumps(c.to_json()))
    assert data == {
        "method": "interpreter-float64",
        "t_range": [1, 10**7],
        "max_rel_err": "nan",
        "tolerance": 1e-10,
        "passed": False,
        "detail": "d",
        "hazard": "h",
    }
    line = c.summary()
    assert line.startswith(
        "interpreter-float64, t = 1..1e+07: max rel err nan <= 1e-10 (FAILED; d; KNOWN HAZARD, not authoritative: h)"
    )
    ok = Check("m", (1, 1000), 2.1e-16, 1e-10)
    assert ok.summary() == "m, t = 1..1000: max rel err 2.10e-16 <= 1e-10 (passed)"
    # a tolerance that is not a power of ten is printed as it is: 0.106 passes against 0.15, and the
    # line must not read "1.06e-01 <= 1e-01 (passed)" (it did, with the tolerance rounded to one digit)
    assert Check("m", (1, 2), 0.106, 0.15).summary() == "m, t = 1..2: max rel err 1.06e-01 <= 0.15 (passed)"
    assert Check("m", (1, 2), inf, 1.0).to_json()["max_rel_err"] == "inf"
    assert Assumption("x > 0", sp.Symbol("x") > 0).to_json() == {"text": "x > 0", "latex": "x > 0"}
    assert Assumption("words").to_json() == {"text": "words", "latex": ""}
    d = Derivation("x.y", "title", sp.Eq(sp.Symbol("a"), 1), (Assumption("words"),), ("step",), ok, explanation="why")
    assert d.to_json() == {
        "id": "x.y",
        "title": "title",
        "statement_latex": "a = 1",
        "expr": "Integer(1)",
        "assumptions": [{"text": "words", "latex": ""}],
        "steps": ["step"],
        "check": ok.to_json(),
        "checks": [ok.to_json()],
        "passed": True,
        "kind": "derived",
        "explanation": "why",
    }
    assert ok.to_json()["max_rel_err"] == 2.1e-16  # a finite error stays a number
    # t beyond 10^6 is printed in exponent form, 10^6 itself in full
    assert Check("m", (10**6, 1_500_000), 0.0, 1.0).summary().startswith("m, t = 1000000..2e+06:")


def test_restatable_rechecks_another_statement_with_the_same_arguments():
    calls = []

    @restatable
    def factory(scale, *, offset=0, statement=None):
        statement = statement if statement is not None else sp.Eq(sp.Symbol("y"), scale + offset)
        calls.append((scale, offset, statement))
        err = abs(float(statement.rhs) - scale - offset)
        return Derivation("f", "f", statement, (), (), Check("m", (1, 1), err, 0.0))

    d = factory(2, offset=1)
    assert d.passed and d.recheck is not None
    wrong = d.recheck(sp.Eq(sp.Symbol("y"), 4))
    assert not wrong.passed and calls[-1][:2] == (2, 1) and wrong.statement.rhs == 4  # the same keywords
    assert wrong.recheck is not None and wrong.recheck(d.statement).passed


def test_without_order_terms_drops_only_the_o_terms():
    t = sp.Symbol("t", positive=True)
    expr = 2 / t * (1 + sp.O(1 / t, (t, sp.oo))) + 1 + sp.O(t**-3, (t, sp.oo))
    assert sp.simplify(without_order_terms(expr) - (2 / t + 1)) == 0
    assert without_order_terms(sp.Integer(4)) == 4
