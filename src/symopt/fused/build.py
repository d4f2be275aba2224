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

Faults (none of them crashes a training step; each warns once per process and cause, naming the
fix):

- a cached library that fails to load — ``dlopen`` refuses it, or it is an ELF file shorter than
  its own headers say (a truncated copy: mapping it would end the process with ``SIGBUS``) — is
  rebuilt once, replacing the entry atomically; if the rebuilt one fails to load as well,
  :func:`load` raises :class:`LoadError`;
- a cache directory that cannot be created or written: the library is built in a private
  :func:`tempfile.mkdtemp` directory of this process (removed at exit);
- no compiler (:class:`CompilerMissing`), a compiler that fails or rejects the source
  (:class:`BuildError`), a library that does not load (:class:`LoadError`): all are
  :class:`FusedUnavailable`, which the drop-in optimizers catch to step with the generated Torch
  kernels (:func:`warn_fallback`).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import platform
import shutil
import struct
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


#: what to do when the C compiler is missing or broken
FIX_COMPILER = "set CC to a working C compiler or pass fused=False"
#: what to do when a built library does not load
FIX_LOAD = (
    "set SYMOPT_CACHE_DIR to a writable directory on a local disk that allows executing "
    "files (not mounted noexec), or pass fused=False"
)


class FusedUnavailable(RuntimeError):
    """The fused CPU backend cannot be used in this process. ``reason`` is one line naming the
    cause, ``fix`` what to do about it, ``cause`` the key of one warning per process."""

    def __init__(
        self, message: str, *, reason: Optional[str] = None, fix: str = FIX_COMPILER, cause: Optional[tuple] = None
    ) -> None:
        super().__init__(message)
        self.reason = reason or message.splitlines()[0]
        self.fix = fix
        self.cause = cause or (type(self).__name__, self.reason)


class CompilerMissing(FusedUnavailable):
    """No working C compiler: the fused CPU backend is unavailable."""


class BuildError(FusedUnavailable):
    """The compiler failed on a generated source: a broken compiler, or a bug in the C printer
    (the compiler builds a trivial library; see ``reason``)."""


class LoadError(FusedUnavailable, OSError):
    """A built library that does not load (an ``OSError``, as :class:`ctypes.CDLL` raises), even
    after one rebuild."""


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
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompilerMissing(f"C compiler {cc} cannot run: {exc}", cause=("compiler", cc)) from None
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
        _OPENMP_MEMO[cc] = _probe(
            cc, OPENMP_FLAGS, "#include <omp.h>\nint symopt_probe(void) { return omp_get_max_threads(); }\n"
        )
    return _OPENMP_MEMO[cc]


_WORKS_MEMO: dict[str, bool] = {}


def compiler_works(cc: str) -> bool:
    """Whether ``cc`` builds a trivial shared library here (tells a broken compiler from one that
    rejects a generated source)."""
    if cc not in _WORKS_MEMO:
        _WORKS_MEMO[cc] = _probe(cc, (), "int symopt_probe(void) { return 0; }\n")
    return _WORKS_MEMO[cc]


_DEFINES_MEMO: dict[tuple[str, str], bool] = {}


def defines(macro: str, cc: Optional[str] = None) -> bool:
    """Whether ``cc`` (default :func:`find_compiler`) defines ``macro`` with the kernels' flags
    (``-march=native``): e.g. ``__F16C__``, which chooses the float16 kernels' F16C loops."""
    cc = cc or find_compiler()
    if cc is None:
        return False
    if (cc, macro) not in _DEFINES_MEMO:
        text = f"#ifndef {macro}\n#error {macro} is not defined\n#endif\nint symopt_probe(void) {{ return 0; }}\n"
        _DEFINES_MEMO[cc, macro] = _probe(cc, BASE_FLAGS, text)
    return _DEFINES_MEMO[cc, macro]


def _probe(cc: str, flags: tuple[str, ...], text: str) -> bool:
    """Whether ``cc`` builds ``text`` into a shared library with ``flags`` (False where it cannot
    even run, or no temporary directory can be written)."""
    try:
        with tempfile.TemporaryDirectory(prefix="symopt-probe-") as tmp:
            src = Path(tmp) / "probe.c"
            src.write_text(text)
            res = subprocess.run(
                [cc, *flags, "-fPIC", "-shared", str(src), "-o", str(Path(tmp) / "probe.so")],
                capture_output=True,
                text=True,
                check=False,
            )
            return res.returncode == 0
    except OSError:
        return False


_LOADED: dict[tuple[str, str], Library] = {}
_LOCK = threading.Lock()


def load(name: str, source: str, *, cc: Optional[str] = None, directory: Optional[Path] = None) -> Library:
    """The library built from ``source`` (``name`` names the file): from this process's memo, else
    from the disk cache (rebuilt once if it fails to load), else compiled now and published
    atomically — in ``directory`` (default :func:`cache_dir`), or where that cannot be written in
    this process's private temporary directory. Raises :class:`FusedUnavailable`."""
    start = time.perf_counter()
    cc = cc or find_compiler()
    if cc is None:
        raise CompilerMissing(
            "no C compiler found (looked for $CC, cc, gcc)",
            cause=("no compiler",),
            fix="install a C compiler (cc or gcc), set CC to one, or pass fused=False",
        )
    directory = Path(directory) if directory is not None else cache_dir()
    candidates = [(BASE_FLAGS + OPENMP_FLAGS, True), (BASE_FLAGS + SERIAL_FLAGS, False)]
    with _LOCK:
        # A library already on disk needs no probe of the compiler (a cached load stays cheap).
        for flags, openmp in candidates:
            key = cache_key(source, cc, flags)
            memo = _LOADED.get((name, key))
            if memo is not None:
                return memo
            for folder in (directory, *([_PRIVATE[0]] if _PRIVATE else [])):
                path = folder / f"{name}-{key}.so"
                if _is_file(path):
                    handle, path, cached = _open_cached(path, source, directory, cc, flags)
                    return _remember(name, key, Library(handle, path, openmp, cached, time.perf_counter() - start))
        flags, openmp = candidates[0] if openmp_works(cc) else candidates[1]
        key = cache_key(source, cc, flags)
        path = _build_in(directory, f"{name}-{key}.so", source, cc, flags)
        return _remember(name, key, Library(_open(path), path, openmp, False, time.perf_counter() - start))


def _remember(name: str, key: str, lib: Library) -> Library:
    _LOADED[(name, key)] = lib
    return lib


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a directory that cannot be searched holds nothing this process can load
        return False


def _open_cached(
    path: Path, source: str, directory: Path, cc: str, flags: tuple[str, ...]
) -> tuple[ctypes.CDLL, Path, bool]:
    """(handle, path, whether it was cached) of the cached library at ``path``; one that fails to
    load is rebuilt once with the same flags (in ``directory``, replacing it atomically; in the
    private directory where ``directory`` cannot be written), and :class:`LoadError` raised if
    the rebuilt one fails too."""
    try:
        return _open(path), path, True
    except LoadError as damaged:
        rebuilt = _build_in(directory, path.name, source, cc, flags)
        try:
            handle = _open(rebuilt)
        except LoadError as again:
            raise LoadError(
                f"the fused kernel library {rebuilt} fails to load, rebuilt or not: {again.reason}",
                fix=FIX_LOAD,
                cause=("load", str(rebuilt.parent)),
            ) from None
        warn_once(
            ("rebuilt", str(path)),
            f"symopt: the cached fused kernel library {path} failed to load ({damaged.reason}); rebuilt it. "
            f"Fix: none needed; if it recurs, check the disk that holds {path.parent}",
        )
        return handle, rebuilt, False


def _open(path: Path) -> ctypes.CDLL:
    """``ctypes.CDLL(path)``, after checking that an ELF file is as long as its headers say (a
    truncated one could pass ``dlopen``'s checks and then fault on first touch); raises
    :class:`LoadError` with the loader's message."""
    problem = elf_truncation(path)
    if problem:
        raise LoadError(f"{path}: {problem}", reason=problem, fix=FIX_LOAD)
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        reason = str(exc).replace(f"{path}: ", "")
        raise LoadError(str(exc), reason=reason, fix=FIX_LOAD) from None


def elf_truncation(path: Path) -> Optional[str]:
    """None when ``path`` is not an ELF file (not even the start of one) or is one whose header
    tables and every program header's file bytes (p_offset + p_filesz) lie inside the file;
    otherwise what is missing."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            ident = f.read(64)
            if not (ident[:4] == b"\x7fELF" or b"\x7fELF".startswith(ident)):
                return None  # not ELF: dlopen tells
            if len(ident) < 16:
                return f"file too short for an ELF header ({size} bytes)"
            if ident[4] not in (1, 2) or ident[5] not in (1, 2):
                return "not a valid ELF header (class or byte order)"
            wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
            header = f"{order}HHIQQQIHHHHHH" if wide else f"{order}HHIIIIIHHHHHH"
            if len(ident) < 16 + struct.calcsize(header):
                return f"file too short for its ELF header ({size} bytes)"
            (_, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = struct.unpack_from(
                header, ident, 16
            )
            if phoff + phnum * phentsize > size or shoff + shnum * shentsize > size:
                return f"truncated: its ELF header tables end past the file's {size} bytes"
            f.seek(phoff)
            table = f.read(phnum * phentsize)
            entry = f"{order}IIQQQQQQ" if wide else f"{order}IIIIIIII"
            for i in range(phnum):
                fields = struct.unpack_from(entry, table, i * phentsize)
                offset, filesz = (fields[2], fields[5]) if wide else (fields[1], fields[4])
                if offset + filesz > size:
                    return f"truncated: segment {i} ends at byte {offset + filesz}, past the file's {size} bytes"
    except (OSError, struct.error) as exc:
        return f"unreadable: {exc}"
    return None


#: this process's private build directory (made when the cache directory cannot be written)
_PRIVATE: list[Path] = []


def _private_dir() -> Path:
    if not _PRIVATE:
        path = Path(tempfile.mkdtemp(prefix="symopt-fused-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _PRIVATE.append(path)
    return _PRIVATE[0]


def _build_in(directory: Path, filename: str, source: str, cc: str, flags: tuple[str, ...]) -> Path:
    """Build ``source`` into ``directory / filename``, or, where ``directory`` cannot be created
    or written, into this process's private temporary directory (one warning per directory)."""
    try:
        build(source, directory / filename, cc, flags)
        return directory / filename
    except OSError as exc:
        unwritable = exc
    try:
        private = _private_dir()
    except OSError as exc:
        raise _no_directory(directory, unwritable, exc) from None
    warn_once(
        ("cache dir", str(directory)),
        f"symopt: the fused kernel cache directory {directory} cannot be written ({_describe(unwritable)}); "
        f"building in the private temporary directory {private} instead (removed at exit, rebuilt by every "
        f"process). Fix: set SYMOPT_CACHE_DIR (or XDG_CACHE_HOME) to a writable directory",
    )
    try:
        build(source, private / filename, cc, flags)
    except OSError as exc:
        raise _no_directory(directory, unwritable, exc) from None
    return private / filename


def _no_directory(directory: Path, unwritable: OSError, private: OSError) -> FusedUnavailable:
    return FusedUnavailable(
        f"no directory to build the fused kernels in: neither {directory} "
        f"({_describe(unwritable)}) nor a temporary one ({_describe(private)}) can be written",
        fix="set SYMOPT_CACHE_DIR to a writable directory, or pass fused=False",
        cause=("no directory", str(directory)),
    )


def _describe(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def build(source: str, path: Path, cc: str, flags: tuple[str, ...]) -> None:
    """Compile ``source`` into ``path``: into a temporary file beside it, then ``os.replace``.
    Raises ``OSError`` where ``path``'s directory cannot be written, :class:`BuildError` where
    the compiler fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=path.parent) as tmp:
        src = Path(tmp) / (path.stem + ".c")
        src.write_text(source, encoding="utf-8")
        out = Path(tmp) / path.name
        try:
            res = subprocess.run(
                [cc, *flags, str(src), "-o", str(out), "-lm"], capture_output=True, text=True, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise BuildError(
                f"{cc} failed to build {path.name}: it cannot run ({exc})",
                cause=("compiler", cc),
                reason=f"compiler {cc} cannot run: {exc}",
            ) from None
        if res.returncode != 0:
            raise _build_error(cc, path.name, res)
        os.replace(out, path)


def _build_error(cc: str, filename: str, res: subprocess.CompletedProcess) -> BuildError:
    """The :class:`BuildError` of a failed compile: its message ends with the compiler's output;
    its reason says whether the compiler is broken (it fails on a trivial library too) or
    rejected this source (a bug in symopt's C printer)."""
    output = res.stderr.strip() or res.stdout.strip()
    first = next(
        (line.strip() for line in output.splitlines() if "error" in line.lower()),
        output.splitlines()[0].strip() if output else f"exit status {res.returncode}, no output",
    )
    message = f"{cc} failed to build {filename}:\n{output}"
    if compiler_works(cc):
        return BuildError(
            message,
            reason=f"compiler {cc} rejected the generated source of {filename}: {first}",
            fix="this is a symopt bug, please report it; pass fused=False meanwhile",
            cause=("rejected", cc, filename.rsplit("-", 1)[0]),
        )
    return BuildError(message, reason=f"compiler {cc} failed: {first}", fix=FIX_COMPILER, cause=("compiler", cc))


def forget_loaded() -> None:
    """Drop this process's memo (tests: force a load from the disk cache)."""
    with _LOCK:
        _LOADED.clear()


#: the causes this process has warned about (one warning each)
_WARNED: set[tuple] = set()


def warn_once(cause: tuple, message: str, stacklevel: int = 4) -> None:
    """``RuntimeWarning(message)``, unless this process has already warned about ``cause``."""
    if cause not in _WARNED:
        _WARNED.add(cause)
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


def warn_fallback(reason: "str | FusedUnavailable") -> None:
    """One line, once per process and cause: the fused CPU backend is unavailable (why, and the
    fix), the generated Torch kernels step instead."""
    if isinstance(reason, FusedUnavailable):
        cause, fix, reason = reason.cause, reason.fix, reason.reason
    else:
        cause, fix = ("fallback", reason), FIX_COMPILER
    warn_once(
        cause,
        f"symopt fused CPU backend unavailable ({reason}); using the Torch backend (the generated Torch "
        f"kernels) instead. Fix: {fix}",
        stacklevel=4,
    )
