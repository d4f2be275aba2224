"""Sphinx configuration of symopt's documentation (``make docs``: HTML in ``reports/docs/``).

The pages that are data — the models' update equations, the dialects' table, the command-line
reference, the tolerances — are written from the package at build time by :mod:`_pages` into
``docs/_generated/`` (never edited by hand); the derivation notebooks come from ``derivations/``,
executed when ``SYMOPT_DOCS_EXECUTE=1`` (``make docs``), shown unexecuted otherwise (``make test``
builds the site with warnings as errors and checks its links, and leaves execution to
``make notebooks``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import _pages  # noqa: E402  (needs the path above)

import symopt  # noqa: E402

_pages.write_all(HERE / "_generated")

project = "symopt"
author = "the symopt developers"
release = version = getattr(symopt, "__version__", "0")
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "force" if os.environ.get("SYMOPT_DOCS_EXECUTE") == "1" else "off"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
html_theme = "alabaster"
html_title = "symopt"
html_static_path: list[str] = []
suppress_warnings = ["myst.header"]
