"""The real frameworks, run beside the models: where their environments are, how to run one on a
gradient sequence (:mod:`symopt.port._runner` in a subprocess of that environment), and the same
sequence through the dialect's model (the interpreter, float64).

``make frameworks`` installs four environments under ``.venv-frameworks/`` (TensorFlow with
Keras 3, tf_keras and Sonnet; JAX with optax; torch with timm's and SB3's optimizer files;
Chainer 7.8.1 on NumPy 1.26);
``SYMOPT_FRAMEWORKS`` names another root. A dialect whose environment is missing is reported with
the reason (:func:`unavailable`), never silently passed.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: dialect -> the environment (a folder under the frameworks root) that runs it
ENVIRONMENTS = {
    "keras": "tf",
    "tf-keras-legacy": "tf",
    "tf1": "tf",
    "tf-raw": "tf",
    "sonnet": "tf",
    "optax": "jax",
    "jax-example": "jax",
    "timm": "torch",
    "sb3": "torch",
    "torch": "torch",
    "chainer": "chainer",
    "chainer-graves": "chainer",
    "bitsandbytes": "torch",
}
RUNNER = Path(__file__).with_name("_runner.py")


def root() -> Path:
    """The folder holding the frameworks' environments."""
    env = os.environ.get("SYMOPT_FRAMEWORKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".venv-frameworks"


def python(dialect: str) -> Path | None:
    """The Python of ``dialect``'s environment, or None when it is not installed."""
    env = ENVIRONMENTS.get(dialect)
    if env is None:
        return None
    exe = root() / env / "bin" / "python"
    return exe if exe.exists() else None


def unavailable(dialect: str) -> str | None:
    """Why ``dialect``'s framework cannot run here, or None when it can."""
    if dialect not in ENVIRONMENTS:
        from ..rules import dialects

        reasons = {d.name: d.verified for d in dialects.table().values()}
        return reasons.get(dialect, f"no runner for {dialect!r}")
    if python(dialect) is None:
        return f"{root() / ENVIRONMENTS[dialect]} is missing: run `make frameworks`"
    return None


@dataclass(frozen=True)
class Case:
    """One run: the framework's keywords, w₀, the gradients, and the learning rate of each step
    (None: the constant one of ``kwargs``)."""

    kwargs: dict[str, Any]
    w0: np.ndarray
    grads: Sequence[np.ndarray]
    lrs: Sequence[float] | None = None

    def request(self) -> dict[str, Any]:
        return {
            "kwargs": self.kwargs,
            "w0": self.w0.tolist(),
            "grads": [g.tolist() for g in self.grads],
            "lrs": None if self.lrs is None else [float(x) for x in self.lrs],
        }


def request(family: str, dialect: str, cases: Sequence[Case], float64_hyper: bool = True) -> dict[str, Any]:
    """The runner's request for one dialect."""
    from ..rules import dialects

    preset = dialects.preset(family, dialect)
    lr_name = next(a.name for a in preset.arguments if a.generic == "lr")
    return {
        "dialect": dialect,
        "family": family,
        "lr_name": lr_name,
        "float64_hyper": float64_hyper,
        "cases": [c.request() for c in cases],
    }


class FrameworkMissing(RuntimeError):
    """The environment exists but the framework does not import there (a partial install)."""


def run_framework(
    family: str, dialect: str, cases: Sequence[Case], float64_hyper: bool = True, timeout: float = 600.0
) -> dict[str, Any]:
    """Run the real framework on every case (one subprocess); params and states per step."""
    out = run_requests([request(family, dialect, cases, float64_hyper)], timeout)[0]
    if "missing" in out:
        raise FrameworkMissing(f"{dialect}: {out['missing']}")
    return out


def run_requests(requests: Sequence[dict[str, Any]], timeout: float = 600.0) -> list[dict[str, Any]]:
    """Run many requests, one subprocess per environment; results in the order given."""
    by_env: dict[str, list[int]] = {}
    for i, req in enumerate(requests):
        reason = unavailable(req["dialect"])
        if reason:
            raise RuntimeError(reason)
        by_env.setdefault(ENVIRONMENTS[req["dialect"]], []).append(i)
    results: list[dict[str, Any]] = [{}] * len(requests)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    for name, indices in by_env.items():
        exe = root() / name / "bin" / "python"
        payload = json.dumps({"requests": [requests[i] for i in indices]})
        done = subprocess.run(
            [str(exe), str(RUNNER)], input=payload, capture_output=True, text=True, timeout=timeout, env=env
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            raise RuntimeError(f"the {name} frameworks runner failed: {tail}")
        for i, out in zip(indices, json.loads(done.stdout)["results"]):
            for case in out["cases"]:
                case["params"] = np.array(case["params"], dtype=np.float64)
                case["states"] = {k: np.array(v, dtype=np.float64) for k, v in case["states"].items()}
            results[i] = out
    return results


def run_model(rule, case: Case) -> dict[str, Any]:
    """The same case through the dialect's model (the interpreter, float64): params and states per
    step, a changing learning rate set before each step."""
    from ..interpret import Interpreter

    kwargs = {k: v for k, v in case.kwargs.items() if any(h.name == k for h in rule.hyperparameters)}
    run = Interpreter(rule, **kwargs)
    lr_symbol = next(h.symbol for h in rule.hyperparameters if str(h.symbol) == "eta")
    w = np.array(case.w0, dtype=np.float64)
    state = run.init_state(w)
    params: list[np.ndarray] = []
    states: dict[str, list[np.ndarray]] = {s.name: [] for s in rule.states if s.name in state}
    for k, grad in enumerate(case.grads):
        if case.lrs is not None:
            run.values[lr_symbol] = float(case.lrs[k])
        run.step(w, np.asarray(grad, dtype=np.float64), state)
        params.append(w.copy())
        for name in states:
            states[name].append(np.array(state[name], dtype=np.float64))
    return {"params": np.array(params), "states": {k: np.array(v) for k, v in states.items()}}


def relative_errors(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per step ‖other − reference‖ / ‖reference‖ (norm-wise over the elements); inf where
    either is not finite (NaN never passes)."""
    reference, other = np.atleast_2d(reference), np.atleast_2d(other)
    diff = np.linalg.norm(other - reference, axis=1)
    scale = np.linalg.norm(reference, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(scale > 0, diff / scale, diff)
    finite = np.isfinite(reference).all(axis=1) & np.isfinite(other).all(axis=1)
    return np.where(finite, err, np.inf)
