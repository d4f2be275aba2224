"""The documentation site (``make docs``): Sphinx builds it from ``docs/`` with warnings as errors,
and every internal link of the built pages (``href``/``src`` to a page, a file or an anchor of
the site) resolves. Built here without executing the notebooks (``make notebooks`` executes them;
``make docs`` does too)."""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip(
    "sphinx", reason="sphinx is not installed (make test installs the docs extra where the index has it)"
)
pytest.importorskip(
    "myst_nb", reason="myst-nb is not installed (make test installs the docs extra where the index has it)"
)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
            if name in ("id", "name") and value:
                self.ids.add(value)


def broken_links(site: Path) -> list[str]:
    """Every internal link of the HTML pages under ``site`` whose file or anchor does not exist."""
    pages = {p: _Links() for p in site.rglob("*.html")}
    for p, parser in pages.items():
        parser.feed(p.read_text(encoding="utf-8"))
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            if "://" in link or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            parts = urlsplit(link)
            target, anchor = parts.path, parts.fragment
            path = (page.parent / unquote(target)).resolve() if target else page
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {link} (no such file)")
            elif anchor and path.suffix == ".html" and unquote(anchor) not in pages.get(path, _Links()).ids:
                broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-b", "html", "-W", "--keep-going", "-q", str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, f"sphinx-build failed (warnings are errors):\n{done.stderr[-4000:]}"
    return out


def test_the_site_builds_without_warnings_and_has_every_page(site):
    for page in (
        "index.html",
        "api.html",
        "verification.html",
        "_generated/models.html",
        "_generated/dialects.html",
        "_generated/cli.html",
        "_generated/notebooks.html",
        "_generated/notebooks/03_adagrad.html",
    ):
        assert (site / page).is_file(), page


def test_every_internal_link_resolves(site):
    assert broken_links(site) == []


def test_the_link_check_can_fail(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html">b</a> <a href="#nowhere">x</a> <a id="here" href="#here">y</a>')
    assert broken_links(tmp_path) == ["a.html: b.html (no such file)", "a.html: #nowhere (no such anchor)"]


def test_the_pages_come_from_the_package(site):
    """The models page prints every model's equations from rule.latex(); the CLI page every command."""
    from symopt import rules
    from symopt.cli import COMMANDS

    models = (site / "_generated/models.html").read_text(encoding="utf-8")
    for rule in rules.all_rules():
        assert f"{rule.family} [{rule.dialect}]" in models
    cli = (site / "_generated/cli.html").read_text(encoding="utf-8")
    assert all(f"symopt {name}" in cli for name in COMMANDS)
