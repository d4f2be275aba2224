"""The framework dialects in the verify matrix (``symopt verify --impl port``): every dialect's
drop-in against its model run by the interpreter (and the real framework where it is installed:
tests/test_frameworks.py runs that tier). The expectations are the interpreter's float64 runs;
these tests show the rows pass on the real drop-ins and fail on wrong ones."""

from __future__ import annotations

import importlib
import json
import types

import torch

from symopt import rules
from symopt.cli import main
from symopt.schemas import validate
from symopt.verify import dialects as D
from symopt.verify.runner import Row

P = importlib.import_module("symopt.torch.port")  # the module (symopt.torch.port is also the function)

SOME = [("rmsprop", "keras"), ("rmsprop", "tf1"), ("adagrad", "optax"), ("adagrad", "tf-raw")]


def test_the_dropins_match_their_models():
    rows, not_run = D.rows(SOME, frameworks=False)
    per_dialect = {k: len(D.cases(rules.dialects.preset(*k))) for k in SOME}
    assert len(rows) == 2 * sum(per_dialect.values())  # float64 and float32 per case
    assert {r.impl for r in rows} == {"port"} and {(r.rule, r.dialect) for r in rows} == set(SOME)
    bad = [(r.dialect, r.case, r.dtype, r.max_abs) for r in rows if r.status != "pass"]
    assert not bad
    assert set(not_run) == set(SOME)  # frameworks=False: each says why


def test_a_dropin_a_millionth_off_fails(monkeypatch):
    """keras's RMSprop drop-in whose kernel sees each gradient shifted by 1e-6 of its size (far
    below what a plot shows, far above 1e-12; a shift, as RMSProp is blind to a gradient's scale
    where ε is negligible): every float64 row against the keras model fails."""
    real = P.kernel

    def off(rule):
        module = real(rule)
        if rule.dialect != "keras":
            return module
        wrong = types.ModuleType(module.__name__)
        wrong.__dict__.update(module.__dict__)
        wrong.update = lambda param, grad, *a, **k: module.update(param, grad + 1e-6 * grad.abs().max(), *a, **k)
        return wrong

    monkeypatch.setattr(P, "kernel", off)
    rows, _ = D.rows([("rmsprop", "keras")], frameworks=False)
    assert all(r.status == "FAIL" for r in rows if r.dtype == "float64")


def test_a_dropin_that_returns_nan_fails(monkeypatch):
    real = D.run_dropin
    monkeypatch.setattr(D, "run_dropin", lambda *a, **k: real(*a, **k) * float("nan"))
    rows, _ = D.rows([("adagrad", "optax")], frameworks=False)
    assert rows and all(r.status == "FAIL" for r in rows)


def test_the_tolerances_are_the_tiers():
    assert D.TOLERANCES == {torch.float64: 1e-12, torch.float32: 1e-5}


def test_cli_port_rows(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert (
        main(["verify", "--impl", "port", "--dialect", "keras", "--no-frameworks", "--no-progress", "--json", str(out)])
        == 0
    )
    doc = json.loads(out.read_text())
    assert validate(doc) == "verify"
    assert doc["rows"] and {(r["impl"], r["dialect"]) for r in doc["rows"]} == {("port", "keras")}
    assert {d["dialect"] for d in doc["dialects_not_run"]} == {"keras"}
    printed = capsys.readouterr().out
    assert "port" in printed and "keras" in printed
    assert "--dialect keras --case" in Row(**doc["rows"][0]).reproduce


def test_cli_rejects_an_unknown_dialect(capsys):
    assert main(["verify", "--dialect", "nope", "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert "--dialect must be one of" in err and "'nope'" in err


def test_every_case_calls_its_own_dialect():
    """The drop-in of each row is the dialect the row names: the call text written for every
    case of every dialect parses back to that dialect (MXNet's plain and centered RMSProp share
    one path; the centered rows stepped the plain one when ``centered=True`` was left out)."""
    from symopt.port.calls import parse

    wrong = []
    for key in D.keys():
        preset = rules.dialects.preset(*key)
        for label, case in D.cases(preset):
            text = D.call_text(preset, case.kwargs)
            parsed = parse(text.replace("(params, ", "(").replace("(params)", "()"))
            if parsed.dialect.key != key:
                wrong.append((key, label, text, parsed.dialect.name))
    assert not wrong
