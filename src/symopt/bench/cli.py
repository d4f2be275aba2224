"""``symopt bench [--quick]``: median optimizer step times of torch.optim and of every symopt
backend, against the memory-bandwidth bound measured in the same process.

An optimizer step is memory-bound: per element it reads the gradient and reads and writes the
parameter and every state buffer, ``(1 + 2·(1 + states))`` accesses of the element size (AdaGrad in
fp32: 20 bytes; RMSProp centered with momentum: 36), counted from the model's states. The bound is
those bytes over the bandwidth of an in-place ``a.add_(b)`` (2 reads, 1 write per element, the
access pattern of an in-place update) on a tensor of the same total size, timed the same way,
interleaved with the optimizers: every repeat runs each candidate once, in turn, and the median
over the repeats is reported. The printed ratios are "× the bound" (1.00 is the physical limit)
and the speed-up of symopt's fused backend over torch's best mode.

On CUDA (``--device cuda``) every timed call is bracketed by ``torch.cuda.synchronize()``, the
probe is a copy ``b.copy_(a)`` (1 read, 1 write per element: the issue's same-run copy
bandwidth), symopt's fused backend is the generated Triton kernel, and each row records how many
kernel launches one fused step took.

``torch compiled`` is ``torch.compile(opt.step)`` of torch.optim's default path, what a user
picks for speed: its steady-state step time is timed with the others, and its first call (the
compilation, from whatever inductor cache the machine has) is reported separately
(``first_call_seconds``), never in a median. ``--no-compile`` leaves it out.

``--contention N`` measures every configuration twice: quiet, then with N busy processes
(``while True: pass``, as a data loader's workers would be) running through the timings;
each mode's median and 95th percentile go to ``seconds`` / ``p95`` and ``contended`` /
``contended_p95``.

Results go to ``reports/bench.json`` and a vector figure ``reports/figures/bench.pdf``
(``bench-cuda.*`` on CUDA); the JSON is rewritten after every configuration with
``"complete": false`` until the run ends, so a long run that is stopped keeps what it measured.
``--size ELEMENTS/TENSORS`` (repeatable) picks sizes. ``--quick`` is a smoke run of a few seconds (small sizes, few
repeats): its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._io import output_path, write_text_atomic
from ..schemas import envelope

#: (label, rule family, hyperparameters): the variants the issue names
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("adagrad", "adagrad", {}),
    ("rmsprop", "rmsprop", {}),
    ("rmsprop-centered", "rmsprop", {"centered": True}),
    ("rmsprop-momentum", "rmsprop", {"momentum": 0.9}),
    ("rmsprop-centered-momentum", "rmsprop", {"centered": True, "momentum": 0.9}),
    ("sgd", "sgd", {"lr": 0.01}),
    ("sgd-momentum", "sgd", {"lr": 0.01, "momentum": 0.9}),
    ("adam", "adam", {}),
    ("adam-amsgrad", "adam", {"amsgrad": True}),
    ("adamw", "adamw", {}),
]
#: torch.optim's class of each family; the families torch fuses on the CPU
CLASSES = {"adagrad": "Adagrad", "rmsprop": "RMSprop", "sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}
TORCH_FUSES = ("adagrad", "sgd", "adam", "adamw")
#: (total elements, tensors)
SIZES = [(100_000, 100), (1_000_000, 1), (1_000_000, 100), (10_000_000, 1), (10_000_000, 100)]
QUICK_SIZES = [(10_000, 10), (100_000, 1)]
DTYPES = ("float32", "float64", "float16", "bfloat16")
MODES = (
    "torch for-loop",
    "torch foreach",
    "torch fused",
    "torch compiled",
    "symopt torch",
    "symopt fused",
    "symopt fused, new grads",
)
COMPILED = "torch compiled"
#: the mode the speed-up column compares with torch's best
FUSED = "symopt fused"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few seconds (small sizes; numbers mean nothing)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the results here (default reports/bench.json; reports/bench-cuda.json with --device cuda)",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        default=None,
        help="write the figure here (default reports/figures/bench.pdf, or bench-cuda.pdf); 'none' for no figure",
    )
    parser.add_argument(
        "--variant", action="append", choices=[v[0] for v in VARIANTS], help="only this variant (repeatable)"
    )
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="only this dtype (repeatable)")
    parser.add_argument(
        "--size",
        action="append",
        metavar="ELEMENTS/TENSORS",
        help="only this size, e.g. 1e6/1 or 100000/100 (repeatable; default: "
        + ", ".join(f"{n:.0e}/{t}" for n, t in SIZES)
        + ")",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per candidate (default by size)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where to run (default cpu); cuda times the Triton backend against a copy-bandwidth probe",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="leave out torch.compile(opt.step) (its first call compiles: seconds per configuration)",
    )
    parser.add_argument(
        "--contention",
        type=int,
        default=None,
        metavar="N",
        help="time every configuration again with N busy processes running (median and p95; "
        "default 2 on a full CPU run, 0 with --quick or on CUDA)",
    )


def _size(text: str) -> tuple[int, int]:
    """``ELEMENTS/TENSORS`` (``1e6/1``, ``100000/100``) as (total elements, tensors)."""
    try:
        total, tensors = text.split("/")
        total_n, tensors_n = float(total), int(tensors)
    except ValueError:
        raise ValueError(f"--size takes ELEMENTS/TENSORS, e.g. 1e6/1 or 100000/100; got {text!r}") from None
    if total_n != int(total_n) or not 1 <= tensors_n <= total_n:
        raise ValueError(f"--size needs a whole number of elements and 1 <= tensors <= elements; got {text!r}")
    return int(total_n), tensors_n


@dataclass
class Row:
    variant: str
    rule: str
    dtype: str
    elements: int
    tensors: int
    bytes_per_element: int
    repeats: int
    probe_seconds: float
    bandwidth_gb_s: float
    bound_seconds: float
    seconds: dict[str, float] = field(default_factory=dict)  # mode -> median step time
    times_bound: dict[str, float] = field(default_factory=dict)
    best_torch: str = ""
    speedup_fused_over_best_torch: float = float("nan")
    notes: list[str] = field(default_factory=list)
    device: str = "cpu"
    fused_launches_per_step: float = float("nan")  # CUDA: Triton launches one fused step took
    p95: dict[str, float] = field(default_factory=dict)  # mode -> 95th percentile of the step times
    first_call_seconds: dict[str, float] = field(default_factory=dict)  # torch compiled: its first call
    contention: int = 0  # busy processes of the contended timings (0: none taken)
    contended: dict[str, float] = field(default_factory=dict)  # mode -> median under contention
    contended_p95: dict[str, float] = field(default_factory=dict)


def bytes_per_element(rule_name: str, hyper: dict[str, Any], itemsize: int) -> int:
    """Grad read, param and every state read and written: from the model's states for ``hyper``."""
    from .. import rules

    rule = rules.get(rule_name)
    states = rule.active_states(rule.values(**hyper))
    return (1 + 2 * (1 + len(states))) * itemsize


def _split(total: int, tensors: int) -> list[int]:
    base = total // tensors
    return [base + (1 if i < total - base * tensors else 0) for i in range(tensors)]


def _candidates(
    rule: str, hyper: dict[str, Any], dtype, sizes: list[int], device: str = "cpu", compiled: bool = False
) -> tuple[dict[str, Callable[[], None]], dict[str, Callable[[], None]]]:
    """(mode -> a step function over its own params (same initial values) with grads in place,
    mode -> an untimed set-up run before each timed step). "symopt fused, new grads" gets new
    gradient objects before every step, as after ``zero_grad()`` (set_to_none): the launch
    re-validates them, which the steady-state "symopt fused" skips. ``compiled``: also
    ``torch.compile(opt.step)`` of torch.optim's default path (:data:`COMPILED`)."""
    import torch

    from ..torch import optim as symopt_optim

    gen = torch.Generator().manual_seed(0)
    init = [torch.randn(n, generator=gen).to(dtype).to(device) for n in sizes]
    grads = [torch.randn(n, generator=gen).to(dtype).to(device) for n in sizes]
    torch_cls = getattr(torch.optim, CLASSES[rule])
    symopt_cls = getattr(symopt_optim, CLASSES[rule])
    out: dict[str, Callable[[], None]] = {}
    setups: dict[str, Callable[[], None]] = {}

    def make(cls, group_options: dict[str, Any], **kw):
        params = [x.clone().requires_grad_(True) for x in init]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt = cls([{"params": params, **group_options}], **hyper, **kw)
        return opt.step, params

    # RMSprop takes fused=True as a group option (torch's has no fused keyword)
    fused = ({"fused": True}, {}) if rule == "rmsprop" else ({}, {"fused": True})
    out["torch for-loop"], _ = make(torch_cls, {}, foreach=False)
    out["torch foreach"], _ = make(torch_cls, {}, foreach=True)
    if rule in TORCH_FUSES:
        out["torch fused"], _ = make(torch_cls, {}, fused=True)
    if compiled:
        # dynamo keeps compiled code per code object, up to a cache limit (8 in torch 2.13), and
        # after that runs Optimizer.step eagerly without a word: every configuration of a run
        # compiles the same step function, so the cache is emptied first or the later rows'
        # "compiled" times would be the eager ones (they were: first calls of 0.0 s)
        torch._dynamo.reset()
        step, _ = make(torch_cls, {})
        out[COMPILED] = torch.compile(step)
    out["symopt torch"], _ = make(symopt_cls, {}, foreach=False)
    out[FUSED], _ = make(symopt_cls, fused[0], **fused[1])
    out["symopt fused, new grads"], params = make(symopt_cls, fused[0], **fused[1])
    pools = [[p.grad for p in params], [g.clone() for g in grads]]
    turn = [0]

    def new_grads() -> None:
        turn[0] ^= 1
        for p, g in zip(params, pools[turn[0]]):
            p.grad = g

    setups["symopt fused, new grads"] = new_grads
    return out, setups


#: a busy process: ``while True: pass``, killed by the kernel when the bench that started it dies
#: (Linux's PR_SET_PDEATHSIG; a bench stopped by a signal runs no ``finally``), and gone at once if
#: that bench is already gone
BUSY = """
import ctypes, os, sys
try:
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG = 1: SIGKILL (9) when the parent dies
except (AttributeError, OSError):  # not Linux: the bench's finally ends it
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit()
while True:
    pass
"""


@contextlib.contextmanager
def busy(n: int):
    """``n`` busy processes (``while True: pass``) for the duration, as a data loader's workers
    keep cores busy; each is ended by its own pid afterwards, or by the kernel when the bench is
    killed (:data:`BUSY`). Yields their pids."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY, str(os.getpid())]) for _ in range(n)]
    try:
        time.sleep(0.2 if n else 0.0)  # let them be scheduled
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def p95(values: list[float]) -> float:
    """The 95th percentile (linear interpolation between order statistics)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = 0.95 * (len(ordered) - 1)
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _probe(dtype, total: int, device: str = "cpu") -> tuple[Callable[[], None], int]:
    """(probe, element accesses per element): an in-place add on the CPU (2 reads, 1 write: the
    access pattern of an in-place update), a copy on CUDA (1 read, 1 write)."""
    import torch

    a = torch.randn(total, dtype=dtype).to(device)
    b = (torch.randn(total, dtype=dtype) * 1e-30).to(device)  # keeps a's values stable over many adds
    if device == "cuda":

        def copy() -> None:
            b.copy_(a)

        return copy, 2

    def probe() -> None:
        a.add_(b)

    return probe, 3


def measure(
    variant: str,
    rule: str,
    hyper: dict[str, Any],
    dtype_name: str,
    total: int,
    tensors: int,
    repeats: int,
    device: str = "cpu",
    compiled: bool = False,
    contention: int = 0,
) -> Row:
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else _nothing

    dtype = getattr(torch, dtype_name)
    itemsize = torch.empty((), dtype=dtype).element_size()
    bpe = bytes_per_element(rule, hyper, itemsize)
    sizes = _split(total, tensors)
    runs, setups = _candidates(rule, hyper, dtype, sizes, device, compiled and device == "cpu")
    runs["probe"], accesses = _probe(dtype, total, device)
    first: dict[str, float] = {}
    for name, fn in runs.items():  # warm-up: first-use costs (state creation, kernel load, JIT) stay out
        for k in range(_warmup_steps(name, device)):
            setups.get(name, _nothing)()
            start = time.perf_counter()
            fn()
            sync()
            if k == 0 and name == COMPILED:
                first[name] = time.perf_counter() - start
    sync()
    launches = _fused_launches(rule, runs[FUSED], sync) if device == "cuda" else float("nan")
    samples = _timings(runs, setups, repeats, sync)
    med = {k: statistics.median(v) for k, v in samples.items()}
    probe = med.pop("probe")
    bandwidth = accesses * itemsize * total / probe
    bound = bpe * total / bandwidth
    row = Row(
        variant,
        rule,
        dtype_name,
        total,
        tensors,
        bpe,
        repeats,
        probe,
        bandwidth / 1e9,
        bound,
        device=device,
        fused_launches_per_step=launches,
    )
    row.seconds = med
    row.p95 = {k: p95(v) for k, v in samples.items() if k != "probe"}
    row.first_call_seconds = first
    row.times_bound = {k: v / bound for k, v in med.items()}
    torch_modes = {k: v for k, v in med.items() if k.startswith("torch")}
    row.best_torch = min(torch_modes, key=torch_modes.__getitem__)
    if FUSED in med:
        row.speedup_fused_over_best_torch = torch_modes[row.best_torch] / med[FUSED]
    if contention:
        with busy(contention):
            contended = _timings(runs, setups, repeats, sync)
        row.contention = contention
        row.contended = {k: statistics.median(v) for k, v in contended.items() if k != "probe"}
        row.contended_p95 = {k: p95(v) for k, v in contended.items() if k != "probe"}
    del runs
    return row


def _warmup_steps(name: str, device: str) -> int:
    """Untimed steps before a mode's timings: two (state creation, kernel load, compilation), and
    for symopt's fused CPU modes also the launches in which the plan's :class:`ThreadChoice`
    measures both thread counts (``2 * WINDOW``), which otherwise fell among the timed steps: at
    1e7 elements, with 7 timed steps, half of them ran one thread (SGD float32 read 1.57x the bound
    with 7 repeats and 1.18x with 40 in two runs of the same configuration)."""
    if device == "cpu" and name.startswith(FUSED):
        from ..fused.launcher import ThreadChoice

        return 2 + 2 * ThreadChoice.WINDOW
    return 2


def _timings(
    runs: dict[str, Callable[[], None]], setups: dict[str, Callable[[], None]], repeats: int, sync: Callable[[], None]
) -> dict[str, list[float]]:
    """``repeats`` timed calls of every candidate, interleaved: each repeat runs each once, in an
    order rotated by one per repeat (no mode always first)."""
    samples: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = runs[name]
            setups.get(name, _nothing)()
            sync()
            start = time.perf_counter()
            fn()
            sync()
            samples[name].append(time.perf_counter() - start)
    return samples


def _nothing() -> None:
    pass


def _fused_launches(rule: str, step: Callable[[], None], sync: Callable[[], None]) -> float:
    """Triton kernel launches one step of symopt's fused optimizer takes (the launcher counts them)."""
    from ..fused import triton_launcher

    counter = triton_launcher.kernel(rule)
    before = counter.launches
    step()
    sync()
    return float(counter.launches - before)


def _repeats(total: int, quick: bool, override: int | None) -> int:
    if override:
        return override
    if quick:
        return 3
    return 41 if total <= 100_000 else (15 if total <= 1_000_000 else 7)


def _fmt_time(s: float) -> str:
    return f"{s * 1e6:8.0f}µs" if s < 1e-2 else f"{s * 1e3:8.2f}ms"


def table(rows: list[Row]) -> str:
    """The medians with their ratio to the bound; then the first call of ``torch compiled`` and,
    under ``--contention``, symopt fused's and the best torch mode's median and p95 there (with
    their ratio to symopt fused's quiet median)."""
    modes = [m for m in MODES if any(m in r.seconds for r in rows)]
    contended = any(r.contention for r in rows)
    head = f"{'variant':<26} {'dtype':<8} {'size':>12} {'bound':>10} " + " ".join(f"{m:>23}" for m in modes)
    head += f" {'fused vs best torch':>20}"
    if any(r.first_call_seconds for r in rows):
        head += f" {'compiled 1st call':>17}"
    if contended:
        n = max(r.contention for r in rows)
        head += f" {f'fused, {n} busy: median/p95':>32} {f'best torch, {n} busy':>24}"
    lines = [head, "-" * len(head)]
    for r in rows:
        size = f"{r.elements:.0e}/{r.tensors}"
        cells = []
        for m in modes:
            if m in r.seconds:
                cells.append(f"{_fmt_time(r.seconds[m])} ({r.times_bound[m]:5.2f}×)".rjust(23))
            else:
                cells.append(f"{'—':>23}")
        line = (
            f"{r.variant:<26} {r.dtype:<8} {size:>12} {_fmt_time(r.bound_seconds):>10} "
            + " ".join(cells)
            + f" {r.speedup_fused_over_best_torch:>6.2f}× ({r.best_torch.replace('torch ', '')})".rjust(21)
        )
        if any(x.first_call_seconds for x in rows):
            first = r.first_call_seconds.get(COMPILED)
            line += f" {(f'{first:.1f}s' if first is not None else '—'):>17}"
        if contended and r.contention:
            quiet = r.seconds[FUSED]
            med, tail = r.contended[FUSED], r.contended_p95[FUSED]
            best = min((k for k in r.contended if k.startswith("torch")), key=r.contended.__getitem__)
            fused_cell = (
                f"{_fmt_time(med).strip()} / {_fmt_time(tail).strip()} ({med / quiet:.2f}×/{tail / quiet:.2f}×)"
            )
            torch_cell = f"{_fmt_time(r.contended[best]).strip()} ({best.removeprefix('torch ')})"
            line += f" {fused_cell:>32} {torch_cell:>24}"
        lines.append(line)
    return "\n".join(lines)


def figure(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m in MODES if any(m in r.seconds for r in rows)]
    dtypes = [d for d in DTYPES if any(r.dtype == d for r in rows)]
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(11, 3.6 * len(dtypes)), squeeze=False)
    for ax, dtype in zip(axes[:, 0], dtypes):
        sub = [r for r in rows if r.dtype == dtype]
        width = 0.8 / len(modes)
        for j, mode in enumerate(modes):
            xs = [i + (j - (len(modes) - 1) / 2) * width for i, r in enumerate(sub) if mode in r.times_bound]
            ys = [r.times_bound[mode] for r in sub if mode in r.times_bound]
            ax.bar(xs, ys, width, label=mode)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("step time / bandwidth bound")
        ax.set_title(f"{dtype}: median step time in multiples of the memory-bandwidth bound (1 = the bound)")
        ax.set_xticks(range(len(sub)))
        ax.set_xticklabels([f"{r.variant}\n{r.elements:.0e}/{r.tensors}" for r in sub], rotation=90, fontsize=6)
        ax.legend(fontsize=7, ncol=len(modes))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="pdf", metadata={"CreationDate": None})
    plt.close(fig)


def machine() -> dict[str, Any]:
    import torch

    from ..fused.build import cpu_identity

    cpu = next(
        (p.split("=", 1)[1] for p in cpu_identity().split("|") if p.startswith("model name=")), platform.processor()
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        **({"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {}),
    }


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from ..fused import kernel

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda needs a CUDA device, and torch sees none (torch.cuda.is_available() is False)")
    stem = "bench-cuda" if args.device == "cuda" else "bench"
    args.json = output_path(args.json or Path(f"reports/{stem}.json"), "--json")
    args.figure = args.figure or Path(f"reports/figures/{stem}.pdf")
    if str(args.figure) != "none":
        output_path(args.figure, "--figure")
    if args.repeats is not None and args.repeats < 1:
        raise ValueError(f"--repeats must be >= 1 timed steps; got {args.repeats}")
    if args.contention is not None and args.contention < 0:
        raise ValueError(f"--contention must be 0 or more busy processes; got {args.contention}")
    t0 = time.perf_counter()
    loads = {}
    if args.device == "cpu":
        from ..codegen.printers.c import C_FAMILIES

        for family in C_FAMILIES:
            lib = kernel(family).library
            loads[family] = {"cached": lib.cached, "seconds": lib.seconds, "openmp": lib.openmp}
    if args.contention is None:
        args.contention = 0 if args.quick or args.device == "cuda" else 2
    variants = [v for v in VARIANTS if not args.variant or v[0] in args.variant]
    dtypes = [d for d in DTYPES if not args.dtype or d in args.dtype]
    sizes = [_size(x) for x in args.size] if args.size else (QUICK_SIZES if args.quick else SIZES)
    jobs = [(v, d, s) for v in variants for d in dtypes for s in sizes]
    rows: list[Row] = []
    bar = tqdm(
        total=len(jobs),
        desc="bench",
        unit="config",
        file=sys.stderr,
        leave=False,
        disable=args.no_progress or not sys.stderr.isatty(),
    )

    def payload(complete: bool) -> dict[str, Any]:
        return envelope(
            "bench",
            {
                "machine": machine(),
                "quick": bool(args.quick),
                "complete": complete,
                "method": __doc__.split("\n\n")[1].replace("\n", " "),
                "fused_library": loads,
                "rows": [asdict(r) for r in rows],
                "seconds": time.perf_counter() - t0,
            },
        )

    with torch.no_grad():
        for (label, rule, hyper), dtype, (total, tensors) in jobs:
            bar.set_postfix_str(f"{label} {dtype} {total:.0e}/{tensors}")
            rows.append(
                measure(
                    label,
                    rule,
                    hyper,
                    dtype,
                    total,
                    tensors,
                    _repeats(total, args.quick, args.repeats),
                    args.device,
                    compiled=not args.no_compile,
                    contention=args.contention,
                )
            )
            bar.update()
            if len(rows) < len(jobs):  # a long run that is stopped keeps what it measured ("complete": false)
                write_text_atomic(args.json, json.dumps(payload(False), indent=2, allow_nan=True) + "\n")
    bar.close()
    print(table(rows))
    probe = "a copy on CUDA" if args.device == "cuda" else "an in-place add"
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"\nbound = bytes per element × elements ÷ bandwidth of {probe} at the same size; "
        f"{where}; {'QUICK (smoke run: numbers mean nothing)' if args.quick else 'full run'}"
    )
    if args.device == "cuda":
        print("fused launches per step: " + ", ".join(sorted({f"{r.fused_launches_per_step:g}" for r in rows})))
    write_text_atomic(args.json, json.dumps(payload(True), indent=2, allow_nan=True) + "\n")
    print(f"wrote {args.json}")
    if str(args.figure) != "none":
        figure(rows, args.figure)
        print(f"wrote {args.figure}")
    return 0
