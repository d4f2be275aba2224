"""Shared fixtures and the clean skip of CUDA tests where no GPU is present."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    # The mutation subset last: evaluating a model or kernel mutant clears symopt's caches, which
    # every other module shares (they would recompute their derivations after it).
    items.sort(key=lambda item: item.module.__name__.endswith("test_mutate") if item.module else False)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; torch.cuda.is_available() is False")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
