"""Torch kernels generated from the models: :mod:`symopt.torch.functional` has torch.optim's
functional API (``adagrad``, ``rmsprop``) over the generated single-tensor kernels."""

from __future__ import annotations

from . import functional

__all__ = ["functional"]
