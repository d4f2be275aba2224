"""``symopt report [--output PATH] [--pdf/--no-pdf]``: write the LaTeX report and, when latexmk is
installed, compile it to PDF beside it."""

from __future__ import annotations

import argparse
import shutil

from .._io import output_path
from .latex import DEFAULT_PATH, build_pdf, write_report

INSTALL_HINT = "apt-get install texlive-latex-base texlive-latex-recommended latexmk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", default=str(DEFAULT_PATH), metavar="PATH", help=f"the .tex file (default {DEFAULT_PATH})"
    )
    parser.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compile the PDF with latexmk when it is installed (default: yes)",
    )


def run(args: argparse.Namespace) -> int:
    output_path(args.output, "--output")
    tex = write_report(args.output)
    print(f"wrote {tex}")
    if not args.pdf:
        return 0
    missing = [tool for tool in ("pdflatex", "latexmk") if shutil.which(tool) is None]
    if missing:
        print(
            f"{' and '.join(missing)} not found, so no PDF; to get one: `make tex` (as root: {INSTALL_HINT}), "
            "then `symopt report` again"
        )
        return 0
    try:
        pdf = build_pdf(tex)
    except RuntimeError as exc:
        print(f"symopt report: error: {exc}")
        return 1
    print(f"wrote {pdf}")
    return 0
