"""symopt.derive.claims: a verdict for every statement S1–S13, backed by passing derivations;
statements about PyTorch checked against the installed torch, independently of the claims code."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from symopt.derive import Claim, claims
from symopt.derive import claims_cli
from symopt.derive.claims import VERDICTS


@pytest.fixture(scope="module")
def found() -> dict[str, Claim]:
    return {c.id: c for c in claims()}


def test_every_statement_has_a_supported_verdict(found):
    assert list(found) == [f"S{i}" for i in range(1, 14)]
    for c in found.values():
        assert c.verdict in VERDICTS and c.explanation and c.statement
        assert c.supported, (c.id, [e for e in c.evidence if not e.get("passed", True)])
        if c.verdict != "not-decidable-by-computation":
            assert c.derivations, c.id  # every computable verdict rests on derivations


def test_verdicts(found):
    expected = {
        "S1": "holds-under-conditions", "S3": "does-not-hold", "S8": "not-decidable-by-computation",
        "S10": "does-not-hold", "S11": "holds", "S12": "does-not-hold", "S13": "holds",
    }
    assert {k: found[k].verdict for k in expected} == expected


def test_torch_statements_against_torch_itself(found):
    # S13: read the default from a constructed optimizer (not inspect, which the claims use).
    w = torch.zeros(1, requires_grad=True)
    assert torch.optim.RMSprop([w]).defaults["alpha"] == 0.99
    assert "0.99" in found["S13"].explanation
    # S5: torch's Adagrad eps is 1e-10, not the post's 1e-8.
    assert torch.optim.Adagrad([w]).defaults["eps"] == 1e-10
    assert "1e-10" in found["S5"].explanation
    # S13's first RMSprop step from v_0 = 0 is lr/sqrt(1-alpha) = 10 lr (by hand: 1 - 0.01*0.5/(sqrt(0.01)*0.5 + 1e-8)).
    first = found["S13"].numbers["first steps (w0=1, g=0.5)"][0]
    assert first == pytest.approx(1 - 0.01 * 0.5 / (0.1 * 0.5 + 1e-8), rel=1e-12)


def test_claims_json(found, capsys):
    assert claims_cli.run(argparse.Namespace(json=True, check=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in data] == [f"S{i}" for i in range(1, 14)]
    for row in data:
        assert {"id", "statement", "verdict", "explanation", "evidence", "statement_latex"} <= set(row)


def test_claims_text(capsys):
    assert claims_cli.run(argparse.Namespace(json=False, check=False)) == 0
    out = capsys.readouterr().out
    assert "S12  [does-not-hold]" in out and "checks passed" in out


def test_a_bad_verdict_is_refused():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("S0", "x", "probably", "y")
