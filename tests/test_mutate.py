"""The mutation harness (symopt.mutate): its operators, ids and bookkeeping, and the fast subset
of ``make mutate`` — a seeded sample of mutants of every area, each of which must be caught
(or explained as equivalent). conftest.py runs this module last: evaluating a model or kernel
mutant clears symopt's caches, which the other modules share."""

from __future__ import annotations

import contextlib

import pytest
import sympy as sp

from symopt import rules
from symopt.mutate import _core, expressions, kernels, models, statements, tolerances
from symopt.mutate.run import areas, judge, select, stale_explanations

SAMPLE = {"statement": 6, "tolerance": 3, "kernel": 6, "model": 6}


# -- the operators --------------------------------------------------------------------------------
def test_expression_mutants_are_distinct_and_change_the_expression():
    g, G, eps = sp.symbols("g G epsilon")
    expr = sp.sqrt(G + g**2) + eps
    found = expressions.mutants(expr)
    mutated = [m for _, _, m in found]
    assert len(set(mutated)) == len(mutated) and expr not in mutated
    assert G + g**2 + eps in mutated  # sqrt dropped
    assert sp.sqrt(G - g**2) + eps in mutated  # a sign flipped
    assert sp.sqrt(G + g**3) + eps in mutated  # a constant changed
    assert expressions.algebraically_equal(sp.sqrt(G) * sp.sqrt(G), G) and not expressions.algebraically_equal(
        expr, mutated[0]
    )


def test_ids_are_stable_and_name_the_change():
    a, b = models.all_mutants()[:2], models.all_mutants()[:2]
    assert [m.id for m in a] == [m.id for m in b] and a[0].id != a[1].id
    assert a[0].id.startswith("model-") and a[0].target == "adagrad[torch]"


def test_every_area_lists_mutants_of_what_it_names():
    targets = {m.target for m in models.all_mutants()}
    assert {r.name for r in rules.all_rules()} <= targets  # every rule in every dialect
    kinds = {m.operator.split(":")[0] for m in kernels.all_mutants()}
    assert {"binop", "call", "keyword", "condition", "delete", "constant"} <= kinds
    assert any("ROUNDINGS_PER_STEP" in m.original for m in tolerances.all_mutants())
    assert set(areas()) >= {"model", "kernel", "statement", "tolerance"}


def test_a_patch_is_undone():
    import symopt.kernels.torch.adagrad as original

    mutant = next(m for m in kernels.all_mutants() if m.target == "kernels/torch/adagrad.py")
    with kernels.installed(mutant):
        import sys

        assert sys.modules["symopt.kernels.torch.adagrad"] is not original
    import sys

    assert sys.modules["symopt.kernels.torch.adagrad"] is original
    from symopt.torch import functional

    assert functional._adagrad is original


def test_survivors_are_judged_by_the_equivalent_list(monkeypatch):
    m = models.all_mutants()[0]
    survived = _core.Outcome(m, "survived")
    assert judge(survived).status == "survived"
    monkeypatch.setitem(judge.__globals__["EXPLAINED"], m.id, "a reason")
    assert judge(survived).status == "equivalent" and "a reason" in judge(survived).by
    known = set(judge.__globals__["EXPLAINED"])
    assert stale_explanations(known) == [] and stale_explanations(known - {m.id}) == [m.id]


def test_select_samples_reproducibly():
    ms = models.all_mutants()
    assert select(ms, sample=5, seed=1) == select(ms, sample=5, seed=1) != select(ms, sample=5, seed=2)
    assert all("rmsprop" in m.target for m in select(ms, target="rmsprop"))


def test_a_check_that_crashes_on_a_mutant_kills_it_and_a_passing_one_lets_it_survive():
    m = models.all_mutants()[0]

    def crash():
        raise ZeroDivisionError("boom")

    assert _core.evaluate(m, lambda _: contextlib.nullcontext(), [("c", crash)], fresh=False).status == "killed"
    assert (
        _core.evaluate(m, lambda _: contextlib.nullcontext(), [("c", lambda: None)], fresh=False).status == "survived"
    )


# -- the fast subset of `make mutate` (a seeded sample per area) ---------------------------------
def _sampled(area: str):
    module = areas()[area]
    if area == "statement":  # listing every statement derives everything: sample from a few cheap ones
        from symopt.derive import derive, rates

        found = [rates.adagrad_constant_leading(), rates.rmsprop_first_step(), *derive("adagrad")]
        chosen = [m for d in found for m in statements.derivation_mutants(d)]
    else:
        chosen = module.all_mutants()
    return module, select(chosen, sample=SAMPLE[area], seed=11)


@pytest.mark.parametrize("area", list(SAMPLE))
def test_sampled_mutants_are_caught(area):
    module, chosen = _sampled(area)
    assert chosen
    outcomes = [judge(module.run(m)) for m in chosen]
    survivors = [o.mutant.describe() for o in outcomes if o.status == "survived"]
    assert not survivors, survivors
    assert sum(o.status == "killed" for o in outcomes) >= len(outcomes) // 2


def test_an_oracle_that_fails_on_the_unmutated_code_stops_the_run(monkeypatch, tmp_path, capsys):
    """As the kernel area's symbolic verdict did for Adam/AdamW (it called the correct kernels
    different): such an oracle kills every mutant by construction. The baseline runs each
    target's checks once with nothing installed; `symopt mutate` refuses to score then."""
    import types

    from symopt.cli import main
    from symopt.mutate import run as mutate_run
    from symopt.mutate._core import Killed, Mutant, Outcome

    def failing():
        raise Killed("differs from its model")

    mutants = [Mutant("fake", "kernels/torch/x.py", f"line {i}", "binop", "a", "b") for i in range(3)]
    calls = []
    fake = types.SimpleNamespace(
        AREA="fake",
        all_mutants=lambda: mutants,
        checks=lambda m: [("passes", lambda: calls.append(m.target)), ("symbolic", failing)],
        run=lambda m: Outcome(m, "killed", "symbolic", 0.0),
    )
    assert mutate_run.baseline(fake, mutants) == [
        "fake kernels/torch/x.py: symbolic fails on the unmutated code: differs from its model"
    ]
    assert calls == ["kernels/torch/x.py"]  # once per target, not per mutant
    monkeypatch.setattr(mutate_run, "areas", lambda: {"fake": fake})
    from symopt.mutate import cli as mutate_cli

    monkeypatch.setattr(mutate_cli, "areas", lambda: {"fake": fake})
    monkeypatch.chdir(tmp_path)
    assert main(["mutate", "--no-progress", "--area", "fake"]) == 1
    out = capsys.readouterr().out
    assert "BASELINE FAILS: fake kernels/torch/x.py: symbolic" in out and "Mutation score" not in out
    assert not (tmp_path / "reports" / "mutate.json").exists()  # nothing scored, nothing written
    fake.checks = lambda m: [("passes", lambda: None)]
    assert main(["mutate", "--no-progress", "--area", "fake"]) == 0 and "Mutation score" in capsys.readouterr().out
    import json

    from symopt import schemas

    assert schemas.validate(json.loads((tmp_path / "reports" / "mutate.json").read_text())) == "mutate"


def test_the_pytest_oracle_passes_on_the_unmutated_tests():
    """The harness runs test modules with ``-W error``, which on the command line overrides the
    ini's filters: without hypothesis installed (a fresh `make setup`), torch.testing._internal's
    ImportWarning failed tests/test_tolerances.py there, so `make mutate`'s baseline refused the
    tolerance area on the unmutated code."""
    from symopt.mutate import oracles

    oracles.pytest_modules("tests/test_tolerances.py")()


def test_a_stopped_run_keeps_its_outcomes_and_resume_takes_them_up(monkeypatch, tmp_path, capsys):
    """A full ``make mutate`` takes hours: its outcomes are written as it goes ("complete": false),
    and ``--resume`` runs only the mutants that have none, on the same source tree."""
    import json
    import types

    from symopt.cli import main
    from symopt.mutate import cli as mutate_cli
    from symopt.mutate._core import Mutant, Outcome

    mutants = [Mutant("fake", "kernels/torch/x.py", f"line {i}", "binop", "a", "b") for i in range(3)]
    ran = []

    def run(m):
        if m.location == "line 2" and not ran.count("resumed"):
            raise KeyboardInterrupt  # the run is stopped at its third mutant
        ran.append(m.location)
        return Outcome(m, "killed", "a check", 0.0)

    fake = types.SimpleNamespace(AREA="fake", all_mutants=lambda: mutants, run=run)
    monkeypatch.setattr(mutate_cli, "areas", lambda: {"fake": fake})
    monkeypatch.setattr(mutate_cli, "WRITE_EVERY", 3600.0)  # the stop itself writes what ran
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run.json"
    assert main(["mutate", "--no-progress", "--area", "fake", "--json", str(out)]) == 130
    partial = json.loads(out.read_text())
    assert partial["complete"] is False and [r["location"] for r in partial["outcomes"]] == ["line 0", "line 1"]
    assert schemas_valid(partial)
    ran.append("resumed")
    capsys.readouterr()
    assert main(["mutate", "--no-progress", "--area", "fake", "--json", str(out), "--resume", str(out)]) == 0
    assert "resumed 2 outcomes" in capsys.readouterr().out
    assert ran[-1] == "line 2" and ran.count("line 0") == 1  # only the missing one ran again
    whole = json.loads(out.read_text())
    assert whole["complete"] is True and len(whole["outcomes"]) == 3 and whole["scores"][0]["killed"] == 3
    monkeypatch.setattr(mutate_cli, "source_hash", lambda: "another")
    assert main(["mutate", "--no-progress", "--area", "fake", "--resume", str(out)]) == 2
    assert "recorded on another source tree" in capsys.readouterr().err


def schemas_valid(document) -> bool:
    from symopt import schemas

    return schemas.validate(document) == "mutate"
