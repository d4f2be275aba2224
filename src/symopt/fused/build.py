"""Build the generated C kernels (``symopt/kernels/c/*.c``) with the system C compiler, cache the
shared library on disk, and load it with :mod:`ctypes`.

The cache key is a hash of the source text, the compiler's identity (``cc --version``), the
flags and the CPU (model name and feature flags: ``-march=native`` code is only valid there).
A library is built into a temporary file in the cache directory and published with
:func:`os.replace`, so a concurrent process sees either no library or a complete one.

Flags: ``-O3 -march=native -fno-math-errno -ffp-contract=off -fopenmp`` — ``-fno-math-errno`` lets
``sqrt`` vectorise (it still rounds correctly), ``-ffp-contract=off`` keeps every multiply-add
that the source does not write as ``fma`` rounded twice, as torch's kernels round it; never
``-ffast-math``. Without OpenMP the same source is built serially (the pragmas are ignored).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

BASE_FLAGS = ("-std=c99", "-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-shared")
OPENMP_FLAGS = ("-fopenmp",)
SERIAL_FLAGS = ("-Wno-unknown-pragmas",)


class CompilerMissing(RuntimeError):
    """No working C compiler: the fused CPU backend is unavailable."""


class BuildError(RuntimeError):
    """The compiler rejected a generated source (a bug in the C printer)."""


@dataclass(frozen=True)
class Library:
    """A loaded kernel library and how it was obtained."""

    handle: ctypes.CDLL
    path: Path
    openmp: bool
    cached: bool  # True: loaded from the disk cache; False: built now
    seconds: float  # time to build (or just load) it


def cache_dir() -> Path:
    """``$SYMOPT_CACHE_DIR`` or ``~/.cache/symopt`` (``$XDG_CACHE_HOME/symopt``), then ``fused/``."""
    root = os.environ.get("SYMOPT_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "symopt" / "fused"


def find_compiler() -> Optional[str]:
    """``$CC``, else ``cc``, else ``gcc``: the first that exists on PATH (None when none does)."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


_VERSION_MEMO: dict[str, str] = {}


def compiler_version(cc: str) -> str:
    if cc not in _VERSION_MEMO:
        try:
            out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30, check=False)
        except OSError as exc:
            raise CompilerMissing(f"C compiler {cc} cannot run: {exc}") from None
        _VERSION_MEMO[cc] = out.stdout.strip() or out.stderr.strip()
    return _VERSION_MEMO[cc]


def cpu_identity() -> str:
    """The CPU model and its feature flags (what ``-march=native`` compiles for)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() + " " + platform.processor()
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "flags", "Features", "CPU part") and key not in fields:
            fields[key] = value.strip()
    return platform.machine() + "|" + "|".join(f"{k}={v}" for k, v in sorted(fields.items()))


def cache_key(source: str, cc: str, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (source, compiler_version(cc), " ".join(flags), cpu_identity()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


_OPENMP_MEMO: dict[str, bool] = {}


def openmp_works(cc: str) -> bool:
    """Whether ``cc -fopenmp`` builds and links a shared library here."""
    if cc not in _OPENMP_MEMO:
        with tempfile.TemporaryDirectory(prefix="symopt-omp-") as tmp:
            src = Path(tmp) / "probe.c"
            src.write_text("#include <omp.h>\nint symopt_probe(void) { return omp_get_max_threads(); }\n")
            res = subprocess.run([cc, *OPENMP_FLAGS, "-fPIC", "-shared", str(src), "-o", str(Path(tmp) / "probe.so")],
                                 capture_output=True, text=True, check=False)
            _OPENMP_MEMO[cc] = res.returncode == 0
    return _OPENMP_MEMO[cc]


_LOADED: dict[tuple[str, str], Library] = {}
_LOCK = threading.Lock()


def load(name: str, source: str, *, cc: Optional[str] = None, directory: Optional[Path] = None) -> Library:
    """The library built from ``source`` (``name`` names the file): from this process's memo, else
    from the disk cache, else compiled now and published atomically."""
    start = time.perf_counter()
    cc = cc or find_compiler()
    if cc is None:
        raise CompilerMissing("no C compiler found (looked for $CC, cc, gcc)")
    directory = Path(directory) if directory is not None else cache_dir()
    candidates = [(BASE_FLAGS + OPENMP_FLAGS, True), (BASE_FLAGS + SERIAL_FLAGS, False)]
    with _LOCK:
        # A library already on disk needs no probe of the compiler (a cached load stays cheap).
        for flags, openmp in candidates:
            key = cache_key(source, cc, flags)
            memo = _LOADED.get((name, key))
            if memo is not None:
                return memo
            path = directory / f"{name}-{key}.so"
            if path.exists():
                return _remember(name, key, Library(ctypes.CDLL(str(path)), path, openmp, True, time.perf_counter() - start))
        flags, openmp = candidates[0] if openmp_works(cc) else candidates[1]
        key = cache_key(source, cc, flags)
        path = directory / f"{name}-{key}.so"
        build(source, path, cc, flags)
        return _remember(name, key, Library(ctypes.CDLL(str(path)), path, openmp, False, time.perf_counter() - start))


def _remember(name: str, key: str, lib: Library) -> Library:
    _LOADED[(name, key)] = lib
    return lib


def build(source: str, path: Path, cc: str, flags: tuple[str, ...]) -> None:
    """Compile ``source`` into ``path``: into a temporary file beside it, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=path.parent) as tmp:
        src = Path(tmp) / (path.stem + ".c")
        src.write_text(source, encoding="utf-8")
        out = Path(tmp) / path.name
        res = subprocess.run([cc, *flags, str(src), "-o", str(out), "-lm"], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise BuildError(f"{cc} failed to build {path.name}:\n{res.stderr.strip()}")
        os.replace(out, path)


def forget_loaded() -> None:
    """Drop this process's memo (tests: force a load from the disk cache)."""
    with _LOCK:
        _LOADED.clear()


def warn_fallback(reason: str) -> None:
    """One line: the fused CPU backend is unavailable, the Torch backend is used instead."""
    warnings.warn(f"symopt fused CPU backend unavailable ({reason}); using the Torch backend", RuntimeWarning, stacklevel=3)
