"""Every command's JSON document: one object, ``schema`` and ``versions`` first, valid against the
JSON Schema that ships for it (symopt.schemas). The documents of derive, claims, verify, bench and
mutate are validated where their own tests produce them (test_derive, test_claims, test_verify,
test_bench, test_mutate); this module runs the cheap commands itself and shows that the schemas
refuse what a reader could not read."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from symopt import schemas
from symopt.cli import COMMANDS, build_parser, main


def _printed(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_every_command_with_json_output_has_a_schema_that_is_itself_valid():
    with_json = set()
    for command in COMMANDS:
        parser = build_parser(command)
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        if any("--json" in a.option_strings for a in sub._actions):
            with_json.add(command)
    assert with_json == set(schemas.COMMANDS)
    for name in (*schemas.COMMANDS, "envelope"):
        jsonschema.Draft202012Validator.check_schema(schemas.schema(name))


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--json"],
        ["derive", "adagrad", "--json"],
        ["derive", "rmsprop", "--json"],  # several cases: the same layout as one
        ["diff", "rmsprop", "--dialects", "torch", "keras", "--json"],
        ["port", "keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9)", "--to", "torch", "--json"],
        ["port-map", "adagrad", "--frameworks", "torch", "keras", "--json"],
    ],
)
def test_the_printed_document_is_valid(capsys, argv):
    document = _printed(capsys, argv)
    assert schemas.validate(document) == argv[0]
    assert list(document)[:2] == ["schema", "versions"]
    import sympy
    import torch

    assert document["versions"]["sympy"] == sympy.__version__
    assert document["versions"]["torch"] in (torch.__version__, torch.__version__.split("+")[0])


def test_derive_prints_the_same_layout_for_one_case_and_for_many(capsys):
    one = _printed(capsys, ["derive", "adagrad", "--json"])
    many = _printed(capsys, ["derive", "rmsprop", "--json"])
    assert len(one["cases"]) == 1 and len(many["cases"]) > 1
    assert set(one["cases"][0]) == set(many["cases"][0])


@pytest.mark.parametrize(
    "breakage",
    ["no schema", "other version", "unknown command", "no versions", "payload missing", "wrong type", "unknown status"],
)
def test_a_document_a_reader_could_not_read_is_refused(capsys, breakage):
    document = _printed(capsys, ["list", "--json"])
    broken = copy.deepcopy(document)
    if breakage == "no schema":
        del broken["schema"]
    elif breakage == "other version":
        broken["schema"] = "symopt.list/2"
    elif breakage == "unknown command":
        broken["schema"] = "symopt.nosuch/1"
    elif breakage == "no versions":
        del broken["versions"]
    elif breakage == "payload missing":
        del broken["rules"]
    elif breakage == "wrong type":
        broken["rules"][0]["states"] = "sum"
    elif breakage == "unknown status":  # a verify document whose row has a status no reader knows
        broken = schemas.envelope(
            "verify",
            {
                "torch": "2.13.0",
                "python": "3.11",
                "device_names": {},
                "seconds": 1.0,
                "equations": [],
                "kernel_equations": {"compared": 0, "identical": 0, "differences": []},
                "rows": [
                    {
                        "rule": "adagrad",
                        "dialect": "torch",
                        "case": "default",
                        "dtype": "float32",
                        "device": "cpu",
                        "impl": "numpy",
                        "reference": "torch.optim(foreach=False)",
                        "steps": 3,
                        "max_ulp": 0.0,
                        "max_abs": 0.0,
                        "tol_ulp": 2.0,
                        "status": "fine",
                        "note": "",
                    }
                ],
            },
        )
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        schemas.validate(broken)
    schemas.validate(document)  # the unbroken one passes


def test_the_envelope_refuses_an_unknown_command_and_a_clash():
    with pytest.raises(ValueError, match="command must be one of"):
        schemas.envelope("nosuch", {})
    with pytest.raises(ValueError, match="envelope's keys"):
        schemas.envelope("list", {"schema": "x"})
