"""derivations/: thin notebooks, committed output-free, executed by symopt.report.notebooks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from symopt.report import notebooks as N

ROOT = Path(__file__).resolve().parents[1]


def test_committed_notebooks_match_the_generator_and_carry_no_outputs():
    assert N.stale(ROOT / "derivations") == [], "refresh with `python -m symopt.report.notebooks --generate`"
    for name in N.NOTEBOOKS:
        nb = json.loads((ROOT / "derivations" / name).read_text())
        for cell in nb["cells"]:
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


def test_notebooks_in_the_post_order_and_thin():
    assert list(N.NOTEBOOKS) == [
        "01_fixed_rate.ipynb",
        "02_inverse_time.ipynb",
        "03_adagrad.ipynb",
        "04_rmsprop.ipynb",
        "05_textbook_vs_torch.ipynb",
        "06_verification.ipynb",
        "07_frameworks.ipynb",
        "08_literature.ipynb",
    ]
    for _title, cells in N.NOTEBOOKS.values():
        for kind, source in cells:
            if kind == "code":  # no logic: imports, calls and a loop over exponents at most
                assert all(
                    line.startswith(("from ", "import ", "show.", "for ", "    show.")) for line in source.splitlines()
                ), source


def test_markdown_to_latex_without_pandoc():
    out = N.markdown_to_latex("## The $\\eta_t$ rate\n\nRun `make notebooks` & see 100%.")
    assert out == "\\subsection*{The $\\eta_t$ rate}\n\nRun \\texttt{make notebooks} \\& see 100\\%."


def _run(name: str, tmp_path: Path) -> list[Path]:
    (done,) = N.run_all([name], output=tmp_path, folder=ROOT / "derivations")
    return done[2]


def test_smoke_executes_one_notebook_to_html_and_pdf(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    written = _run("01_fixed_rate.ipynb", tmp_path)
    html = written[0].read_text()
    assert "fixed_rate_regimes" not in html or "image/png" in html or "<img" in html
    assert "<img" in html and "Traceback" not in html
    if shutil.which("pdflatex"):
        assert written[1].read_bytes().startswith(b"%PDF")


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in N.NOTEBOOKS if n != "01_fixed_rate.ipynb"])
def test_every_notebook_executes(tmp_path, monkeypatch, name):
    monkeypatch.chdir(ROOT)
    written = _run(name, tmp_path)
    assert all(p.exists() and p.stat().st_size > 0 for p in written)
    nb = nbformat.read(str(ROOT / "derivations" / name), as_version=4)
    assert nb.cells  # the committed copy is untouched by execution
