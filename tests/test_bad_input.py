"""Bad input, everywhere: every command and every public entry point fed the bad values a user
would try — unknown names, out-of-range and non-numeric values, wrong dtypes and devices, missing
files, unwritable output paths. Each gives one line on stderr (``symopt COMMAND: error: ...``)
that names the argument and what is allowed, exit code 2, and leaves no output file behind."""

from __future__ import annotations

import pytest
import torch

from symopt.cli import main

#: a folder that cannot be made (/proc takes no new entries, even for root)
MISSING_DIR = "/proc/symopt-nonexistent"
KERAS = "keras.optimizers.RMSprop(learning_rate=1e-3)"

#: (argv, words the one error line must contain, an output path that must not be left behind)
CLI = [
    (["list", "--bogus"], ["unrecognized arguments", "--bogus"], None),
    (["nosuchcommand"], ["invalid choice", "'nosuchcommand'", "derive"], None),
    (["derive", "nosuchrule"], ["nosuchrule", "adagrad", "rmsprop"], None),
    (["derive", "adagrad", "--dialect", "nope"], ["dialect", "nope", "torch"], None),
    (["derive", "adagrad", "-o", "lr=abc"], ["lr", "abc", "number"], None),
    (["derive", "adagrad", "-o", "nosuch=1"], ["nosuch", "lr"], None),
    (["derive", "adagrad", "-o", "lr"], ["NAME=VALUE", "lr"], None),
    (["derive", "adagrad", "--gradient", "nope"], ["--gradient", "invalid choice", "constant"], None),
    (["claims", "--bogus"], ["unrecognized arguments", "--bogus"], None),
    (["papers", "--check", "extra"], ["unrecognized arguments", "extra"], None),
    (["generate", "--check", "--root", MISSING_DIR], ["--root", MISSING_DIR, "no such directory"], None),
    (["verify", "--steps", "0"], ["--steps", ">= 1", "0"], None),
    (["verify", "--steps", "abc"], ["--steps", "invalid int value", "'abc'"], None),
    (["verify", "--jobs", "0"], ["--jobs", ">= 1"], None),
    (["verify", "--rule", "nope"], ["--rule", "invalid choice", "adagrad"], None),
    (["verify", "--dtype", "float8"], ["--dtype", "invalid choice", "float32"], None),
    (["verify", "--device", "tpu"], ["--device", "invalid choice", "cuda"], None),
    (["verify", "--dialect", "nope"], ["--dialect", "nope", "keras"], None),
    (
        ["verify", "--impl", "interpreter", "--rule", "adagrad", "--case", "no such case"],
        ["no case named", "no such case"],
        None,
    ),
    (
        ["verify", "--impl", "interpreter", "--rule", "adagrad", "--json", f"{MISSING_DIR}/v.json"],
        ["--json", MISSING_DIR],
        f"{MISSING_DIR}/v.json",
    ),
    (["report", "--output", f"{MISSING_DIR}/r.tex", "--no-pdf"], ["--output", MISSING_DIR], f"{MISSING_DIR}/r.tex"),
    (["bench", "--size", "abc"], ["--size", "abc", "ELEMENTS/TENSORS"], None),
    (["bench", "--size", "0/1"], ["--size", "0/1"], None),
    (["bench", "--variant", "nope"], ["--variant", "invalid choice", "adagrad"], None),
    (["bench", "--repeats", "0"], ["--repeats", ">= 1"], None),
    (["bench", "--contention", "-1"], ["--contention", "0 or more"], None),
    (["bench", "--quick", "--json", f"{MISSING_DIR}/b.json"], ["--json", MISSING_DIR], f"{MISSING_DIR}/b.json"),
    (["mutate", "--area", "nope"], ["--area", "invalid choice", "model"], None),
    (["mutate", "--sample", "0"], ["--sample", ">= 1"], None),
    (["mutate", "--jobs", "0"], ["--jobs", ">= 1"], None),
    (["mutate", "--resume", f"{MISSING_DIR}/m.json"], ["--resume", MISSING_DIR], None),
    (
        ["mutate", "--area", "tolerance", "--json", f"{MISSING_DIR}/m.json"],
        ["--json", MISSING_DIR],
        f"{MISSING_DIR}/m.json",
    ),
    (["diff", "adagrad", "--dialects", "torch", "nope"], ["nope", "keras"], None),
    (["diff", "nofamily", "--dialects", "torch", "keras"], ["nofamily", "adagrad", "rmsprop"], None),
    (
        ["port-map", "adagrad", "--frameworks", "torch", "keras", "--output", f"{MISSING_DIR}/p.json"],
        ["--output", MISSING_DIR],
        f"{MISSING_DIR}/p.json",
    ),
    (["port", KERAS, "--to", "nope"], ["nope", "torch"], None),
    (["port", "keras.optimizers.RMSprop(learning_rate=abc)", "--to", "torch"], ["learning_rate", "abc"], None),
    (["port", "keras.optimizers.RMSprop(rho=-0.5)", "--to", "torch"], ["rho=-0.5", "out of range", "allowed"], None),
    (["port", "keras.optimizers.RMSprop(nosuch=1)", "--to", "torch"], ["nosuch", "learning_rate"], None),
    (["port", "nosuchframework.Optimizer()", "--to", "torch"], ["nosuchframework.Optimizer"], None),
    (["port", "__import__('os').system('true')", "--to", "torch"], ["dotted name", "__import__"], None),
    (["port-map", "rmsprop", "--frameworks", "torch", "nope"], ["--frameworks", "nope", "keras"], None),
    (["port-map", "rmsprop", "--frameworks", "torch"], ["--frameworks", "two"], None),
    (["port-map", "adam"], ["family", "adam", "adagrad", "rmsprop"], None),
    (["port-map", "rmsprop", "--all", "--frameworks", "torch", "keras"], ["--all", "--frameworks"], None),
]


@pytest.mark.parametrize("argv,words,leftover", CLI, ids=[" ".join(a)[:60] for a, _, _ in CLI])
def test_a_bad_command_line_is_one_line_naming_the_argument(argv, words, leftover, capsys):
    with pytest.raises(SystemExit) as raised:
        raise SystemExit(main(argv))
    assert raised.value.code == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"not one line:\n{err}"
    assert lines[0].startswith("symopt"), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    assert "Traceback" not in err
    if leftover:
        import os

        assert not os.path.exists(leftover)


#: (callable, exception type, words its message must contain)
def _params():
    return [torch.nn.Parameter(torch.ones(3))]


API = [
    (lambda: __import__("symopt.rules", fromlist=["get"]).get("nope"), ValueError, ["nope", "adagrad"]),
    (lambda: __import__("symopt.rules", fromlist=["get"]).get("adagrad", "nope"), ValueError, ["nope", "torch"]),
    (
        lambda: __import__("symopt.torch", fromlist=["Adagrad"]).Adagrad(_params(), lr=-1.0),
        ValueError,
        ["Invalid learning rate", "-1.0"],
    ),
    (
        lambda: __import__("symopt.torch", fromlist=["RMSprop"]).RMSprop(_params(), alpha=-0.5),
        ValueError,
        ["alpha", "-0.5"],
    ),
    (
        lambda: __import__("symopt.torch", fromlist=["Adagrad"]).Adagrad(_params(), fused=True, foreach=True),
        RuntimeError,
        ["fused", "foreach"],
    ),
    (
        lambda: __import__("symopt.torch", fromlist=["port"]).port(_params(), "keras.optimizers.RMSprop(rho=abc)"),
        ValueError,
        ["rho", "abc"],
    ),
    (lambda: __import__("symopt.torch", fromlist=["port"]).port(_params(), "nosuch.Opt()"), ValueError, ["nosuch.Opt"]),
    (
        lambda: __import__("symopt.numpy", fromlist=["init_state"]).init_state("nope", __import__("numpy").zeros(3)),
        ValueError,
        ["nope", "adagrad"],
    ),
    (
        lambda: __import__("symopt.interpret", fromlist=["Interpreter"]).Interpreter(
            __import__("symopt.rules", fromlist=["get"]).get("adagrad"), nosuch=1.0
        ),
        TypeError,
        ["nosuch", "lr"],
    ),
]


@pytest.mark.parametrize("call,kind,words", API, ids=[f"api-{i}" for i in range(len(API))])
def test_a_bad_call_raises_one_line_naming_the_argument(call, kind, words):
    with pytest.raises(kind) as raised:
        call()
    message = str(raised.value)
    assert "\n" not in message.strip(), message
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
