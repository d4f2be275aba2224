"""The mutation harness: mechanical mutants of the models, the generated kernels, the derived
statements and the tolerance policy, each run against the checks that should catch it.

``symopt mutate`` (``make mutate``) runs them and reports the score per area and every survivor;
a survivor is either a gap to close with a check, or explained in :mod:`.equivalent` (it changes
no observable result). See :mod:`._core` for what a mutant is.
"""
