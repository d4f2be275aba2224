"""``symopt bench --quick``: it runs, prints the table and writes the JSON and the figure (no timing
is asserted: performance is measured by the benchmark, not by tests)."""

from __future__ import annotations

import json

import pytest

from symopt.bench.cli import bytes_per_element
from symopt.cli import main


def test_bytes_per_element_from_the_model():
    assert bytes_per_element("adagrad", {}, 4) == 20  # param, sum read and written; grad read
    assert bytes_per_element("rmsprop", {}, 4) == 20
    assert bytes_per_element("rmsprop", {"centered": True}, 4) == 28
    assert bytes_per_element("rmsprop", {"centered": True, "momentum": 0.9}, 4) == 36
    assert bytes_per_element("rmsprop", {"centered": True, "momentum": 0.9}, 8) == 72


def test_bench_quick_writes_json_and_figure(tmp_path, capsys):
    out, fig = tmp_path / "bench.json", tmp_path / "figures" / "bench.pdf"
    code = main(
        [
            "bench",
            "--quick",
            "--variant",
            "adagrad",
            "--variant",
            "rmsprop-centered-momentum",
            "--dtype",
            "float32",
            "--json",
            str(out),
            "--figure",
            str(fig),
            "--no-progress",
            "--no-compile",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "symopt fused" in printed and "torch fused" in printed and "QUICK" in printed
    data = json.loads(out.read_text())
    from symopt import schemas

    assert schemas.validate(data) == "bench"
    assert data["quick"] is True and data["machine"]["torch_threads"] >= 1
    rows = data["rows"]
    assert [(r["variant"], r["elements"], r["tensors"]) for r in rows] == [
        ("adagrad", 10_000, 10),
        ("adagrad", 100_000, 1),
        ("rmsprop-centered-momentum", 10_000, 10),
        ("rmsprop-centered-momentum", 100_000, 1),
    ]
    for r in rows:
        expected = {"torch for-loop", "torch foreach", "symopt torch", "symopt fused", "symopt fused, new grads"} | (
            {"torch fused"} if r["rule"] == "adagrad" else set()
        )
        assert set(r["seconds"]) == expected and all(v > 0 for v in r["seconds"].values())
        assert r["bandwidth_gb_s"] > 0 and r["bound_seconds"] > 0
        assert r["best_torch"].startswith("torch ")
    assert fig.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("variant,rule", [("sgd-momentum", "sgd"), ("adam-amsgrad", "adam"), ("adamw", "adamw")])
def test_bench_covers_every_fused_rule_in_low_precision_under_contention(tmp_path, capsys, variant, rule):
    """The rules torch fuses, in bfloat16, timed quiet and with one busy process: medians and
    p95 of every mode, torch's fused path among them; the table prints the contended columns."""
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--quick",
            "--variant",
            variant,
            "--dtype",
            "bfloat16",
            "--json",
            str(out),
            "--figure",
            "none",
            "--no-progress",
            "--no-compile",
            "--contention",
            "1",
        ]
    )
    assert code == 0
    assert "1 busy: median/p95" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(r["rule"] == rule and r["dtype"] == "bfloat16" and r["contention"] == 1 for r in rows)
    modes = {
        "torch for-loop",
        "torch foreach",
        "torch fused",
        "symopt torch",
        "symopt fused",
        "symopt fused, new grads",
    }
    for r in rows:
        assert set(r["seconds"]) == set(r["p95"]) == set(r["contended"]) == set(r["contended_p95"]) == modes
        assert all(r["p95"][m] >= r["seconds"][m] > 0 and r["contended_p95"][m] >= r["contended"][m] > 0 for m in modes)
        assert r["first_call_seconds"] == {}


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)  # torch.compile's import
def test_bench_times_torch_compile_with_its_first_call_apart(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--quick",
            "--variant",
            "adam",
            "--dtype",
            "float32",
            "--json",
            str(out),
            "--figure",
            "none",
            "--no-progress",
            "--repeats",
            "3",
        ]
    )
    assert code == 0
    assert "compiled 1st call" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    for r in rows:
        assert r["seconds"]["torch compiled"] > 0 and "torch compiled" in r["p95"]
        assert r["first_call_seconds"]["torch compiled"] > 0  # reported apart, never in a median


def test_bench_size_picks_sizes_and_the_json_is_kept_after_every_configuration(tmp_path, capsys, monkeypatch):
    """``--size`` picks the sizes; the JSON is rewritten after every configuration ("complete":
    false) so a stopped run keeps its rows, and the last write says "complete": true."""
    from symopt.bench import cli as bench_cli

    out = tmp_path / "bench.json"
    seen = []
    real = bench_cli.write_text_atomic

    def record(path, text):
        seen.append(json.loads(text))
        return real(path, text)

    monkeypatch.setattr(bench_cli, "write_text_atomic", record)
    code = main(
        [
            "bench",
            "--variant",
            "sgd",
            "--dtype",
            "float32",
            "--size",
            "2e3/2",
            "--size",
            "1000/1",
            "--repeats",
            "2",
            "--json",
            str(out),
            "--figure",
            "none",
            "--no-progress",
            "--no-compile",
            "--contention",
            "0",
        ]
    )
    assert code == 0
    assert [(len(d["rows"]), d["complete"]) for d in seen] == [(1, False), (2, True)]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["elements"], r["tensors"]) for r in rows] == [(2000, 2), (1000, 1)]


@pytest.mark.parametrize("bad", ["1e6", "1e6/0", "10/20", "1.5/1", "x/1"])
def test_bench_rejects_a_malformed_size(capsys, bad):
    assert main(["bench", "--size", bad, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--size" in err and repr(bad) in err


def test_bench_rejects_a_negative_contention(capsys):
    assert main(["bench", "--quick", "--contention", "-1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--contention must be 0 or more" in err


def test_bench_on_cuda_without_a_gpu_is_a_one_line_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the error for its absence cannot arise (the next test runs bench on it)")
    assert main(["bench", "--device", "cuda", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a CUDA device" in err


@pytest.mark.cuda
def test_bench_on_cuda_times_the_triton_backend_in_one_launch_per_step(tmp_path, capsys):
    pytest.importorskip("triton")
    out = tmp_path / "bench-cuda.json"
    code = main(
        [
            "bench",
            "--device",
            "cuda",
            "--quick",
            "--variant",
            "rmsprop",
            "--dtype",
            "float32",
            "--json",
            str(out),
            "--figure",
            "none",
            "--no-progress",
        ]
    )
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(r["device"] == "cuda" and r["fused_launches_per_step"] == 1 for r in rows)
    assert "fused launches per step: 1" in capsys.readouterr().out


@pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)  # torch.compile's import
def test_every_configuration_compiles_its_own_step(monkeypatch):
    """dynamo keeps compiled code per code object up to a cache limit and then runs
    Optimizer.step eagerly without a word; every configuration of a bench compiles the same step
    function, so the bench empties the cache first. With the limit at 1, a second configuration
    is compiled too (a new graph), not run eagerly."""
    import torch
    import torch._dynamo

    from symopt.bench import cli as bench_cli

    monkeypatch.setattr(torch._dynamo.config, "cache_size_limit", 1)
    graphs = []
    for sizes in ([3], [2, 2]):
        runs, _ = bench_cli._candidates("sgd", {"lr": 0.01}, torch.float32, sizes, compiled=True)
        before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        with torch.no_grad():
            runs[bench_cli.COMPILED]()
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"] - before)
    assert graphs[0] >= 1 and graphs[1] >= 1, graphs


def test_busy_processes_die_with_a_bench_that_is_killed(tmp_path):
    """``symopt bench --contention N`` stopped by a signal (no ``finally`` runs) must not leave its
    busy processes spinning: they die with it (on the code before this test, a SIGTERM'd bench left
    two ``while True: pass`` processes holding both cores). Also ended normally on exit."""
    import os
    import pathlib
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids"
    script = (
        f"import os, pathlib, time\nfrom symopt.bench import cli\n"
        f"with cli.busy(2) as kids:\n"
        f"    pathlib.Path({str(pids)!r}).write_text(' '.join(map(str, kids)))\n"
        f"    time.sleep(60)\n"
    )
    bench = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    kids = [int(x) for x in pids.read_text().split()]
    assert len(kids) == 2
    bench.send_signal(signal.SIGTERM)
    bench.wait(timeout=30)

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = pathlib.Path(f"/proc/{pid}/stat")
        status = stat.read_text().split(")")[-1].split()[0] if stat.exists() else "X"
        return status not in ("Z", "X")  # a zombie waiting for init to reap it is dead

    deadline = time.monotonic() + 10
    while any(map(alive, kids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [k for k in kids if alive(k)]
    for k in left:
        os.kill(k, signal.SIGKILL)
    assert not left, f"busy processes {left} outlived the bench"
