"""symopt installed from its wheel, with no source tree in sight: the wheel carries every file the
package reads at run time, declares every dependency it imports, and its fused C step, `symopt
derive --check` and a `symopt verify` case run from the installed copy.

The wheel is built from a clean copy of the project (``pip wheel --no-deps --no-build-isolation``,
offline) and installed with ``--no-deps`` into a fresh venv in a temporary directory. Its
dependencies come from this test's own venv, but only the ones the wheel declares: a folder of
links to exactly the distributions in the closure of the wheel's ``Requires-Dist`` (extras left
out, markers evaluated) is put on the new venv's ``sys.path`` by a path line in a ``.pth`` file. A
path line is added to ``sys.path`` without the ``.pth`` files inside it being run, and symopt's own
distribution is not linked, so this venv's editable install of symopt cannot load there: each
script asserts that ``symopt.__file__`` lies inside the new venv.
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "symopt"
#: What a build of the project reads besides the package itself.
PROJECT_FILES = ("pyproject.toml", "README.md", "MANIFEST.in")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _copy_project(target: Path) -> Path:
    """The project's build inputs copied to ``target`` (so the build writes nothing into the checkout)."""
    for name in PROJECT_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    shutil.copytree(PACKAGE, target / "src" / "symopt", ignore=IGNORED)
    return target


def _package_files() -> set[str]:
    """Every file of the package's source tree, as wheel member names (``symopt/...``)."""
    return {
        f"symopt/{p.relative_to(PACKAGE).as_posix()}"
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's own ``Requires-Dist`` (from its METADATA, not from this venv's install of symopt)."""
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(name).decode("utf-8"))
    return [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def _applies(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in (extras or {""}))


def runtime_closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions (of this venv) that ``requirements`` need, transitively, with
    the extras each requirement names and no others; each must satisfy its version specifier."""
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, frozenset()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        if not _applies(req, parent_extras):
            continue
        key = canonicalize_name(req.name)
        extras = frozenset(req.extras)
        if (key, extras) in done:
            continue
        done.add((key, extras))
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise AssertionError(
                f"{req} is required by the wheel (or a dependency) and not installed in {sys.prefix}"
            ) from None
        assert req.specifier.contains(dist.version, prereleases=True), (
            f"installed {req.name} {dist.version} does not satisfy {req}"
        )
        found[key] = dist
        todo += [(Requirement(r), extras) for r in dist.requires or []]
    return found


def link_distributions(dists: dict[str, metadata.Distribution], folder: Path) -> None:
    """``folder`` holding links to each distribution's top-level files and folders (from its RECORD)."""
    folder.mkdir()
    for name, dist in sorted(dists.items()):
        assert dist.files is not None, f"{name} has no RECORD; cannot tell which files are its own"
        for top in sorted({f.parts[0] for f in dist.files if f.parts[0] not in ("..", "__pycache__")}):
            link = folder / top
            if not link.exists():  # a namespace folder shared by two distributions is linked once
                link.symlink_to(Path(dist.locate_file(top)).resolve())


#: The warnings the test suite ignores (pyproject.toml's filterwarnings); every other one is an error
#: in the new venv too.
WARNINGS = (
    "error,ignore:Jupyter is migrating its paths:DeprecationWarning,"
    "ignore:Fail to import hypothesis in common_utils:ImportWarning"
)

#: Where ``import symopt`` resolves in the new venv, and whether the checkout's sources or this venv's
#: site-packages (with symopt's editable hook) are on its sys.path.
WHERE = textwrap.dedent("""
    import json, sys
    from importlib import resources
    from pathlib import Path
    import symopt
    venv = Path(sys.prefix).resolve()
    where = {"symopt": symopt.__file__, "prefix": str(venv),
             "inside": Path(symopt.__file__).resolve().is_relative_to(venv),
             "c_source": str(resources.files("symopt.kernels.c").joinpath("adagrad.c")),
             "forbidden_on_path": [p for p in sys.path if p and (Path(p).resolve() == Path(FORBIDDEN_SITE)
                                                                  or Path(p).resolve().is_relative_to(FORBIDDEN_SRC))]}
""")


def _script(body: str) -> str:
    """``body`` after :data:`WHERE` (which leaves ``where``, ``json``, ``sys`` and ``Path`` defined)."""
    forbidden = f"FORBIDDEN_SITE = {sysconfig.get_path('purelib')!r}\nFORBIDDEN_SRC = {str(ROOT / 'src')!r}\n"
    return forbidden + WHERE + textwrap.dedent(body)


def _assert_from_the_wheel(where: dict, venv: Path) -> None:
    assert where["inside"] and Path(where["prefix"]) == venv, where
    assert Path(where["c_source"]).resolve().is_relative_to(venv), where
    assert where["forbidden_on_path"] == [], where


def _timed(timings: dict, label: str, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    timings[label] = round(time.perf_counter() - start, 1)
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from a copy of the project and installed into a fresh venv; ``run(label,
    args)`` runs a command in that venv from an empty working directory."""
    timings: dict[str, float] = {}
    base = tmp_path_factory.mktemp("wheel").resolve()
    (base / "project").mkdir()
    src = _copy_project(base / "project")
    built = _timed(
        timings,
        "pip wheel",
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(base / "dist"),
            str(src),
        ],
        cwd=src,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("symopt-*.whl")

    venv = base / "venv"
    python = venv / "bin" / "python"
    made = _timed(timings, "venv", [sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    assert made.returncode == 0, made.stderr
    done = _timed(
        timings,
        "pip install --no-deps",
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    deps = base / "deps"
    link_distributions(runtime_closure(_wheel_requirements(wheel)), deps)
    (site / "symopt-test-deps.pth").write_text(f"{deps}\n", encoding="utf-8")

    work = base / "cwd"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONNOUSERSITE="1",
        PYTHONWARNINGS=WARNINGS,
        SYMOPT_CACHE_DIR=str(base / "cache"),
    )

    def run(label: str, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return _timed(timings, label, args, cwd=work, env=env, timeout=timeout)

    yield {
        "wheel": wheel,
        "venv": venv,
        "python": str(python),
        "symopt": venv / "bin" / "symopt",
        "deps": deps,
        "cwd": work,
        "cache": base / "cache",
        "run": run,
    }
    print(f"\ntest_wheel timings (s): {timings}")


def test_the_wheel_carries_the_whole_package(installed):
    """Every file of src/symopt (kernels/c/*.c, the codegen and report templates, the rest) is in the wheel."""
    with zipfile.ZipFile(installed["wheel"]) as z:
        members = set(z.namelist())
    missing = sorted(_package_files() - members)
    assert missing == [], f"not in the wheel: {missing}"


def test_the_links_are_only_the_declared_dependencies(installed):
    """The new venv sees symopt's declared runtime closure and nothing else of this venv: not pytest
    (a dev extra), not symopt's editable install."""
    linked = {p.name for p in installed["deps"].iterdir()}
    assert "symopt" not in linked and not any(n.startswith("__editable__") for n in linked)
    assert {"torch", "sympy", "expecttest"} <= linked
    assert "pytest" not in linked and "_pytest" not in linked
    done = installed["run"]("import pytest", [installed["python"], "-c", "import pytest"])
    assert done.returncode != 0 and "No module named 'pytest'" in done.stderr


def test_fused_adagrad_step_from_the_wheel_equals_torch_fused_bitwise(installed):
    """``import symopt`` resolves to the wheel's copy; symopt.torch.Adagrad(fused=True) builds the
    wheel's adagrad.c, and its params and state sums equal torch.optim.Adagrad(fused=True)'s bit
    for bit after several steps (float32 and float64, lr_decay and weight_decay on)."""
    script = _script("""
        import torch
        import symopt.torch
        from symopt.fused import launcher
        calls = []
        real = launcher.LaunchPlan.call
        def counted(plan, *a, **k):
            calls.append(len(plan.params))
            return real(plan, *a, **k)
        launcher.LaunchPlan.call = counted
        out = {"where": where, "rows": []}
        for dtype in (torch.float32, torch.float64):
            gen = torch.Generator().manual_seed(2024)
            start = [torch.randn(shape, generator=gen, dtype=dtype) for shape in ((1000,), (17, 3), ())]
            mine = [p.clone().requires_grad_(True) for p in start]
            ref = [p.clone().requires_grad_(True) for p in start]
            kw = dict(lr=0.05, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-10)
            opts = [symopt.torch.Adagrad(mine, fused=True, **kw), torch.optim.Adagrad(ref, fused=True, **kw)]
            before = len(calls)
            for step in range(5):
                grads = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in start]
                for params, opt in zip((mine, ref), opts):
                    for p, g in zip(params, grads):
                        p.grad = g.clone()
                    opt.step()
            out["rows"].append({
                "dtype": str(dtype), "launches": calls[before:],
                "params_equal": all(torch.equal(a, b) for a, b in zip(mine, ref)),
                "sums_equal": all(torch.equal(opts[0].state[a]["sum"], opts[1].state[b]["sum"]) for a, b in zip(mine, ref)),
                "finite": all(bool(torch.isfinite(p).all()) for p in mine),
                "moved": all(not torch.equal(a, s) for a, s in zip(mine, start))})
        print(json.dumps(out))
    """)
    done = installed["run"]("fused Adagrad step", [installed["python"], "-c", script])
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    _assert_from_the_wheel(out["where"], installed["venv"])
    assert [row["dtype"] for row in out["rows"]] == ["torch.float32", "torch.float64"]
    for row in out["rows"]:
        assert row["launches"] == [3] * 5, row  # the C kernel took all three params at every step
        assert row["params_equal"] and row["sums_equal"] and row["finite"] and row["moved"], row
    assert list(installed["cache"].glob("*.so")), "the fused library was not built from the wheel's source"


def test_symopt_derive_check_from_the_wheel(installed):
    assert installed["symopt"].read_text(encoding="utf-8").splitlines()[0] == f"#!{installed['python']}"
    done = installed["run"]("symopt derive adagrad --check", [str(installed["symopt"]), "derive", "adagrad", "--check"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed, " in done.stdout and " 0 FAILED" in done.stdout


def test_symopt_verify_case_from_the_wheel(installed):
    """One of torch's own optim_db inputs (torch.testing._internal.common_optimizers, which imports
    expecttest) against torch.optim, from the installed wheel's console script."""
    done = installed["run"](
        "symopt verify (one case)",
        [
            str(installed["symopt"]),
            "verify",
            "--rule",
            "adagrad",
            "--case",
            "default",
            "--impl",
            "torch",
            "--dtype",
            "float32",
            "--no-progress",
        ],
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed, 0 failed" in done.stdout
    rows = json.loads((installed["cwd"] / "reports" / "verify.json").read_text(encoding="utf-8"))["rows"]
    assert [(r["rule"], r["case"], r["dtype"], r["impl"], r["status"]) for r in rows] == [
        ("adagrad", "default", "float32", "torch", "pass")
    ]
