"""``symopt bench --quick``: it runs, prints the table and writes the JSON and the figure (no timing
is asserted: performance is measured by the benchmark, not by tests)."""

from __future__ import annotations

import json

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
    code = main(["bench", "--quick", "--variant", "adagrad", "--variant", "rmsprop-centered-momentum",
                 "--dtype", "float32", "--json", str(out), "--figure", str(fig), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "symopt fused" in printed and "torch fused" in printed and "QUICK" in printed
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["machine"]["torch_threads"] >= 1
    rows = data["rows"]
    assert [(r["variant"], r["elements"], r["tensors"]) for r in rows] == [
        ("adagrad", 10_000, 10), ("adagrad", 100_000, 1),
        ("rmsprop-centered-momentum", 10_000, 10), ("rmsprop-centered-momentum", 100_000, 1),
    ]
    for r in rows:
        expected = {"torch for-loop", "torch foreach", "symopt torch", "symopt fused", "symopt fused, new grads"} | ({"torch fused"} if r["rule"] == "adagrad" else set())
        assert set(r["seconds"]) == expected and all(v > 0 for v in r["seconds"].values())
        assert r["bandwidth_gb_s"] > 0 and r["bound_seconds"] > 0
        assert r["best_torch"].startswith("torch ")
    assert fig.read_bytes().startswith(b"%PDF")
