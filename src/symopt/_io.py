"""Writing files so that nothing is ever left half-written: a temporary file in the target's
folder, then ``os.replace`` (atomic on POSIX). Used by generation, verification, reports and
benchmarks alike."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def output_path(path: str | os.PathLike[str], argument: str) -> Path:
    """``path`` checked as an output file before any work is done: its folder exists or can be
    made, and it can be written there; otherwise a one-line ValueError naming ``argument`` (so a
    long run never fails at its last step, and no partial file is left)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{argument} {path}: is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{argument} {path}: cannot create its folder {path.parent} ({exc.strerror or exc})") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{argument} {path}: not writable")
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> bool:
    """Write ``text`` to ``path`` atomically; returns whether the content changed (an unchanged
    file is not rewritten, so its timestamp stays)."""
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
