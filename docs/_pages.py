"""The documentation pages written from the package itself (run by ``conf.py`` at every build):
the models, the dialects, the command-line reference and the notebooks' index. Each is a pure
function of the package's data, so the site cannot drift from the code."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def models_page() -> str:
    """Every model's update, one equation per line, from ``rule.latex()``."""
    from symopt import rules

    out = ["# The models", "",
           "Each optimizer is a symbolic recurrence (``symopt.rules``): its hyperparameters, states and",
           "the assignments of one step, in order. The equations below are printed from the models by",
           "``rule.latex()``; the kernels, the derivations and the checks use the same objects.", ""]
    for rule in rules.all_rules():
        out += [f"## {rule.family} [{rule.dialect}]", "", f"``rules.get({rule.family!r}, {rule.dialect!r})``", "",
                "$$", "\\begin{aligned}", " \\\\\n".join(f"&{line}" for line in rule.latex()), "\\end{aligned}", "$$", "",
                "| hyperparameter | symbol | default |", "|---|---|---|"]
        for h in rule.hyperparameters:
            out.append(f"| ``{h.name}`` | ${_latex(h.symbol)}$ | ``{h.default!r}`` |")
        out.append("")
    return "\n".join(out)


def _latex(symbol) -> str:
    import sympy as sp

    return sp.latex(symbol)


def dialects_page() -> str:
    """The framework dialects: call, arguments and where each was checked."""
    from symopt.rules import dialects

    out = ["# The framework dialects", "",
           "Every framework's AdaGrad and RMSProp as a preset of one model (``symopt.rules.dialects``):",
           "its call, its argument names and defaults, and where it was checked. `symopt verify --impl port`",
           "steps each dialect's drop-in against its model and against the real framework where",
           "`make frameworks` installs it.", "",
           "| family | dialect | call | checked |", "|---|---|---|---|"]
    for (family, name), d in sorted(dialects.table().items()):
        call = d.calls[0].path if d.calls else ""
        checked = str(d.verified).replace("|", "\\|")
        out.append(f"| {family} | {name} | ``{call}`` | {checked} |")
    return "\n".join(out) + "\n"


def cli_page() -> str:
    """``symopt --help`` and every command's ``--help``, from the argparse parsers."""
    from symopt.cli import COMMANDS, build_parser

    out = ["# Command line", "", "Generated from the argparse parsers (``symopt COMMAND --help``).", "",
           "```text", build_parser().format_help().rstrip(), "```", ""]
    for name in COMMANDS:
        parser = build_parser(name)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        out += [f"## symopt {name}", "", "```text", sub.choices[name].format_help().rstrip(), "```", ""]
    return "\n".join(out)


def notebooks(folder: Path) -> list[str]:
    """The derivation notebooks copied into the documentation source (Sphinx reads only its own
    folder); their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for nb in sorted((ROOT / "derivations").glob("*.ipynb")):
        shutil.copyfile(nb, folder / nb.name)
        names.append(nb.stem)
    return names


def write_all(folder: Path) -> None:
    """Write every generated page into ``folder``."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "models.md").write_text(models_page(), encoding="utf-8")
    (folder / "dialects.md").write_text(dialects_page(), encoding="utf-8")
    (folder / "cli.md").write_text(cli_page(), encoding="utf-8")
    names = notebooks(folder / "notebooks")
    index = ["# The derivation notebooks", "",
             "The notebooks of ``derivations/`` (``make notebooks`` executes them into ``reports/notebooks/``).", "",
             "```{toctree}", ":maxdepth: 1", "", *[f"notebooks/{n}" for n in names], "```", ""]
    (folder / "notebooks.md").write_text("\n".join(index), encoding="utf-8")
