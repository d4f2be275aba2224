"""The LaTeX report: per rule, dialect and option set, the update rendered from the model, its
recurrences, and the derived closed forms with the numbers of their checks from this run.

>>> from symopt.report import write_report
>>> path = write_report("reports/symopt.tex")  # doctest: +SKIP
"""

from __future__ import annotations

from .latex import build_pdf, render_report, write_report

__all__ = ["build_pdf", "render_report", "write_report"]
