"""The README is true: its library example runs as written, every command and path it names
exists."""

from __future__ import annotations

import re
from pathlib import Path

from symopt.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_library_example_runs_as_written(capsys):
    (example,) = _blocks("python")
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    out = capsys.readouterr().out
    assert "True" in out and "False" not in out  # every closed form it prints passed its check
    w, opt = namespace["w"], namespace["opt"]
    assert opt.state[w]["step"] == 1  # the drop-in stepped


def test_every_command_the_readme_names_exists():
    line = next(x for x in README.splitlines() if x.startswith("The command line:"))
    named = set(re.findall(r"(?:`symopt |\| )([a-z][a-z-]*)", line))
    assert named and named <= set(COMMANDS), named - set(COMMANDS)
    assert set(COMMANDS) <= named, f"the README's command line omits {set(COMMANDS) - named}"


def test_every_path_the_readme_names_exists():
    paths = set(re.findall(r"`((?:src|reports|tests|derivations)/[^`*]*?)`", README))
    assert paths
    missing = [p for p in paths if not (ROOT / p).exists() and not p.startswith("reports/")]
    assert not missing, missing
