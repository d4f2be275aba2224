"""Move an optimizer configuration between frameworks: :func:`diff` (what exactly differs between
two dialects of a family) and :func:`port` (a user's call, parsed, and its nearest equivalent in
another framework), both from the models (``symopt.rules.dialects``) through ``symopt.derive``.
:mod:`symopt.port.frameworks` runs the real frameworks beside the models."""
