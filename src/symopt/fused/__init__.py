"""The fused CPU backend: the generated C kernels of :mod:`symopt.kernels.c`, built with the system
compiler (:mod:`symopt.fused.build`, cached on disk) and called on whole param groups
(:mod:`symopt.fused.launcher`)."""

from __future__ import annotations

from .build import BuildError, CompilerMissing, FusedUnavailable, LoadError, cache_dir, load
from .launcher import CHUNK, FusedKernel, FusedLaunchError, kernel, source

__all__ = [
    "BuildError",
    "CHUNK",
    "CompilerMissing",
    "FusedKernel",
    "FusedLaunchError",
    "FusedUnavailable",
    "LoadError",
    "cache_dir",
    "kernel",
    "load",
    "source",
]
