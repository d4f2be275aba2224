"""The command line: `symopt list` and `python -m symopt`."""

from __future__ import annotations

import json
import subprocess
import sys

from symopt import rules
from symopt.cli import main


def test_list_names_every_rule_dialect_and_hyperparameter(capsys):
    assert main(["list", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "symopt.list/1"
    listed = document["rules"]
    expected = {(family, d) for family, (_, dialects) in rules.FAMILIES.items() for d in dialects}
    expected |= {(family, d) for family in rules.FAMILIES for d in rules.framework_dialects(family)}
    assert {(r["rule"], r["dialect"]) for r in listed} == expected
    adagrad = next(r for r in listed if r["rule"] == "adagrad" and r["dialect"] == "torch")
    eps = next(h for h in adagrad["hyperparameters"] if h["name"] == "eps")
    assert eps["default"] == 1e-10 and eps["allowed"] == "[0, inf)"


def test_list_table(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "rmsprop [textbook]" in out and "initial_accumulator_value" in out


def test_python_dash_m_runs():
    done = subprocess.run([sys.executable, "-m", "symopt", "list"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "adagrad [torch]" in done.stdout


def test_unknown_command_is_a_usage_error():
    done = subprocess.run([sys.executable, "-m", "symopt", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice" in done.stderr
