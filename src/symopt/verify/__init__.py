"""Verification against torch.optim: cases as data (:mod:`.cases`), ULP distances (:mod:`.ulp`),
the tolerance policy (:mod:`.tolerances`) and the generic runner (:mod:`.runner`)."""

from .cases import Case, optim_db_error_inputs, optim_db_inputs
from .runner import IMPLEMENTATIONS, Implementation, Row, run_matrix, verify_case
from .ulp import ulp_distance

__all__ = [
    "Case",
    "IMPLEMENTATIONS",
    "Implementation",
    "Row",
    "optim_db_error_inputs",
    "optim_db_inputs",
    "run_matrix",
    "ulp_distance",
    "verify_case",
]
