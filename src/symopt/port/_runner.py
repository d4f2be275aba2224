"""Run a real framework's optimizer on given gradients and print what it did, as JSON.

A standalone script (the standard library, NumPy and the framework only: no symopt), run by
:mod:`symopt.port.frameworks` with the Python of a frameworks environment
(``make frameworks``: ``.venv-frameworks/``). It reads one request on stdin::

    {"dialect": "keras", "family": "rmsprop", "lr_name": "learning_rate",
     "float64_hyper": true,
     "cases": [{"kwargs": {...}, "w0": [...], "grads": [[...], ...], "lrs": [...] | null}]}

and writes ``{"versions": {...}, "cases": [{"params": [[...] per step], "states": {name: [[...]
per step]}}]}``, states under the model's names (``square_avg``, ``sum``, ...). ``lrs`` gives the
learning rate of each step (a changing lr: a variable assigned before the step, a schedule for
optax and the JAX examples). ``float64_hyper``: hyperparameters as float64 tensors and the
framework's float type float64 (else Python floats and the framework's defaults, to measure what
its own conversions do).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np


# -- TensorFlow family ---------------------------------------------------------------------------
def _float64_kwargs(tf, fn, kwargs, skip=()):
    """``kwargs`` with every float argument of ``fn`` (given, or its signature default) as a
    float64 tensor: TF converts Python floats to float32 tensors first (the findings)."""
    import inspect

    out = {}
    for name, param in inspect.signature(fn).parameters.items():
        value = kwargs.get(name, param.default)
        if name in skip or value is inspect.Parameter.empty:
            continue
        if isinstance(value, float):
            out[name] = tf.constant(value, tf.float64)
        elif name in kwargs:
            out[name] = value
    out.update({k: v for k, v in kwargs.items() if k not in out and k not in skip})  # **kwargs (tf_keras's decay)
    return out


def _tf():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def run_keras(req, case):
    tf = _tf()
    import keras

    if req["float64_hyper"]:
        keras.config.set_floatx("float64")
    var = keras.Variable(np.array(case["w0"]), dtype="float64")
    kwargs = dict(case["kwargs"])
    cls = {"rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad}[req["family"]]
    if req["float64_hyper"]:
        kwargs = _float64_kwargs(tf, cls.__init__, kwargs, skip=("learning_rate", "ema_momentum"))
        kwargs.update({k: v for k, v in case["kwargs"].items() if k in ("learning_rate",)})
    opt = cls(**kwargs)
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for k, grad in enumerate(case["grads"]):
        if case["lrs"] is not None:
            opt.learning_rate = case["lrs"][k]
        opt.apply_gradients([(tf.constant(np.array(grad), tf.float64), var)])
        params.append(np.asarray(var.numpy()).tolist())
        slot = opt._velocities[0] if req["family"] == "rmsprop" else opt._accumulators[0]
        next(iter(states.values())).append(np.asarray(slot.numpy()).tolist())
    return {"params": params, "states": states}


def run_tf_keras_legacy(req, case):
    tf = _tf()
    import tf_keras

    if req["float64_hyper"]:
        tf_keras.backend.set_floatx("float64")
    var = tf.Variable(np.array(case["w0"]), dtype=tf.float64)
    cls = {"rmsprop": tf_keras.optimizers.legacy.RMSprop, "adagrad": tf_keras.optimizers.legacy.Adagrad}[req["family"]]
    kwargs = dict(case["kwargs"])
    if req["float64_hyper"]:
        kept = ("initial_accumulator_value", "epsilon")
        if kwargs.get("momentum", 0.0) == 0.0 and not case.get("tensor_momentum"):
            kept += ("momentum",)  # a tensor momentum takes the μ > 0 path, even at 0
        kwargs = _float64_kwargs(tf, cls.__init__, kwargs, skip=kept)
        kwargs.update({k: v for k, v in case["kwargs"].items() if k in kept})
        if "decay" in kwargs:
            kwargs["decay"] = tf.constant(kwargs["decay"], tf.float64)
    opt = cls(**kwargs)
    slot = "rms" if req["family"] == "rmsprop" else "accumulator"
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for k, grad in enumerate(case["grads"]):
        if case["lrs"] is not None:
            lr = case["lrs"][k]
            opt.learning_rate = tf.constant(lr, tf.float64) if req["float64_hyper"] else lr
        opt.apply_gradients([(tf.constant(np.array(grad), tf.float64), var)])
        params.append(var.numpy().tolist())
        next(iter(states.values())).append(opt.get_slot(var, slot).numpy().tolist())
    return {"params": params, "states": states}


def run_tf1(req, case):
    tf = _tf()
    var = tf.Variable(np.array(case["w0"]), dtype=tf.float64)
    kwargs = dict(case["kwargs"])
    lr_var = None
    cls = {"rmsprop": tf.compat.v1.train.RMSPropOptimizer, "adagrad": tf.compat.v1.train.AdagradOptimizer}[
        req["family"]
    ]
    if req["float64_hyper"]:
        kwargs = _float64_kwargs(tf, cls.__init__, kwargs, skip=("initial_accumulator_value",))
        kwargs.update({k: v for k, v in case["kwargs"].items() if k == "initial_accumulator_value"})
    if case["lrs"] is not None:
        lr_var = tf.Variable(case["lrs"][0], dtype=tf.float64)
        kwargs["learning_rate"] = lr_var
    opt = cls(**kwargs)
    slot = "rms" if req["family"] == "rmsprop" else "accumulator"
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for k, grad in enumerate(case["grads"]):
        if lr_var is not None:
            lr_var.assign(case["lrs"][k])
        opt.apply_gradients([(tf.constant(np.array(grad), tf.float64), var)])
        params.append(var.numpy().tolist())
        next(iter(states.values())).append(opt.get_slot(var, slot).numpy().tolist())
    return {"params": params, "states": states}


def run_tf_raw(req, case):
    tf = _tf()
    kw = dict(case["kwargs"])
    w0 = np.array(case["w0"])
    var = tf.Variable(w0, dtype=tf.float64)
    f64 = lambda x: tf.constant(x, tf.float64)  # noqa: E731
    params, states = [], {}
    if req["family"] == "rmsprop":
        ms = tf.Variable(np.full_like(w0, kw.get("ms", 0.0)), dtype=tf.float64)
        mom = tf.Variable(np.zeros_like(w0), dtype=tf.float64)
        mg = tf.Variable(np.zeros_like(w0), dtype=tf.float64)
        states["square_avg"] = []
        for k, grad in enumerate(case["grads"]):
            lr = case["lrs"][k] if case["lrs"] is not None else kw["lr"]
            common = dict(
                var=var.handle,
                ms=ms.handle,
                mom=mom.handle,
                lr=f64(lr),
                rho=f64(kw["rho"]),
                momentum=f64(kw["momentum"]),
                epsilon=f64(kw["epsilon"]),
                grad=f64(np.array(grad)),
            )
            if kw.get("centered"):
                tf.raw_ops.ResourceApplyCenteredRMSProp(mg=mg.handle, **common)
            else:
                tf.raw_ops.ResourceApplyRMSProp(**common)
            params.append(var.numpy().tolist())
            states["square_avg"].append(ms.numpy().tolist())
    else:
        accum = tf.Variable(np.full_like(w0, kw.get("accum", 0.0)), dtype=tf.float64)
        states["sum"] = []
        for k, grad in enumerate(case["grads"]):
            lr = case["lrs"][k] if case["lrs"] is not None else kw["lr"]
            tf.raw_ops.ResourceApplyAdagradV2(
                var=var.handle, accum=accum.handle, lr=f64(lr), epsilon=f64(kw["epsilon"]), grad=f64(np.array(grad))
            )
            params.append(var.numpy().tolist())
            states["sum"].append(accum.numpy().tolist())
    return {"params": params, "states": states}


def run_sonnet(req, case):
    tf = _tf()
    import sonnet as snt

    var = tf.Variable(np.array(case["w0"]), dtype=tf.float64)
    kwargs = dict(case["kwargs"])
    lr = kwargs.pop("learning_rate")
    lr_var = tf.Variable(lr if case["lrs"] is None else case["lrs"][0], dtype=tf.float64)
    if req["float64_hyper"]:
        kwargs = _float64_kwargs(tf, snt.optimizers.RMSProp.__init__, kwargs, skip=("learning_rate", "name"))
    opt = snt.optimizers.RMSProp(learning_rate=lr_var, **kwargs)
    params, states = [], {"square_avg": []}
    for k, grad in enumerate(case["grads"]):
        if case["lrs"] is not None:
            lr_var.assign(case["lrs"][k])
        opt.apply([tf.constant(np.array(grad), tf.float64)], [var])
        params.append(var.numpy().tolist())
        states["square_avg"].append(opt.ms[0].numpy().tolist())
    return {"params": params, "states": states}


# -- JAX family ------------------------------------------------------------------------------------
def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def run_optax(req, case):
    _jax()
    import jax.numpy as jnp
    import optax

    kwargs = dict(case["kwargs"])
    if case["lrs"] is not None:
        lrs = jnp.asarray(np.array(case["lrs"]), dtype=jnp.float64)
        kwargs["learning_rate"] = lambda count: lrs[count]
    if kwargs.get("momentum") == 0.0 and req["family"] == "rmsprop" and not case.get("keep_zero_momentum"):
        kwargs["momentum"] = None
    opt = {"rmsprop": optax.rmsprop, "adagrad": optax.adagrad}[req["family"]](**kwargs)
    w = jnp.asarray(np.array(case["w0"]), dtype=jnp.float64)
    state = opt.init(w)
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for grad in case["grads"]:
        updates, state = opt.update(jnp.asarray(np.array(grad), dtype=jnp.float64), state, w)
        w = optax.apply_updates(w, updates)
        params.append(np.asarray(w).tolist())
        inner = state[0]
        acc = inner.nu if req["family"] == "rmsprop" else inner.sum_of_squares
        next(iter(states.values())).append(np.asarray(acc).tolist())
    return {"params": params, "states": states}


def run_jax_example(req, case):
    _jax()
    import jax.numpy as jnp
    from jax.example_libraries import optimizers

    kwargs = dict(case["kwargs"])
    if case["lrs"] is not None:
        lrs = jnp.asarray(np.array(case["lrs"]), dtype=jnp.float64)
        kwargs["step_size"] = lambda i: lrs[i]
    if req["family"] == "rmsprop":
        make = optimizers.rmsprop_momentum if kwargs.get("momentum", 0.0) != 0.0 else optimizers.rmsprop
        if make is optimizers.rmsprop:
            kwargs.pop("momentum", None)
    else:
        make = optimizers.adagrad
    init, update, get_params = make(**kwargs)
    state = init(jnp.asarray(np.array(case["w0"]), dtype=jnp.float64))
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for i, grad in enumerate(case["grads"]):
        state = update(i, jnp.asarray(np.array(grad), dtype=jnp.float64), state)
        params.append(np.asarray(get_params(state)).tolist())
        next(iter(states.values())).append(np.asarray(state.packed_state[0][1]).tolist())
    return {"params": params, "states": states}


# -- PyTorch ports of TF's RMSProp -----------------------------------------------------------------
def _load_without_package(package: str, module: str):
    """Import ``package.module`` without running the package's ``__init__`` (timm's imports
    torchvision, stable-baselines3's gymnasium; their optimizer files need only torch)."""
    import importlib
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec(package.split(".")[0])
    if spec is None:
        raise ModuleNotFoundError(f"no module named {package.split('.')[0]!r}")
    root = Path(spec.origin).parent if spec.origin else Path(list(spec.submodule_search_locations or ())[0])
    parts = package.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if name not in sys.modules:
            path = str(root.joinpath(*parts[1 : i + 1]))
            mod = types.ModuleType(name)
            mod.__path__ = [path]
            mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
            mod.__spec__.submodule_search_locations = [path]
            sys.modules[name] = mod
    return importlib.import_module(f"{package}.{module}")


def _run_torch_optimizer(cls, req, case):
    import torch

    p = torch.nn.Parameter(torch.tensor(case["w0"], dtype=torch.float64))
    opt = cls([p], **case["kwargs"])
    params, states = [], {"square_avg": []}
    for k, grad in enumerate(case["grads"]):
        if case["lrs"] is not None:
            for group in opt.param_groups:
                group["lr"] = case["lrs"][k]
        p.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
        params.append(p.detach().tolist())
        st = opt.state[p]
        buf = st[next(k for k in ("square_avg", "sum", "state1") if k in st)]
        states["square_avg"].append(buf.tolist())
    return {"params": params, "states": states, "state_dtype": str(buf.dtype)}


def run_timm(req, case):
    return _run_torch_optimizer(_load_without_package("timm.optim", "rmsprop_tf").RMSpropTF, req, case)


def run_sb3(req, case):
    mod = _load_without_package("stable_baselines3.common.sb2_compat", "rmsprop_tf_like")
    return _run_torch_optimizer(mod.RMSpropTFLike, req, case)


def run_chainer(req, case):
    import chainer
    from chainer import optimizers

    cls = {
        ("rmsprop", "chainer"): optimizers.RMSprop,
        ("rmsprop", "chainer-graves"): optimizers.RMSpropGraves,
        ("adagrad", "chainer"): optimizers.AdaGrad,
    }[(req["family"], req["dialect"])]
    link = chainer.Link()
    with link.init_scope():
        link.w = chainer.Parameter(np.array(case["w0"], dtype=np.float64))
    opt = cls(**case["kwargs"])
    opt.setup(link)
    slot = {"RMSprop": "ms", "RMSpropGraves": "n", "AdaGrad": "h"}[cls.__name__]
    params, states = [], {"square_avg" if req["family"] == "rmsprop" else "sum": []}
    for k, grad in enumerate(case["grads"]):
        if case["lrs"] is not None:
            opt.lr = case["lrs"][k]
        link.w.grad = np.array(grad, dtype=np.float64)
        opt.update()
        params.append(link.w.array.tolist())
        next(iter(states.values())).append(link.w.update_rule.state[slot].tolist())
    return {"params": params, "states": states}


def run_bitsandbytes(req, case):
    import bitsandbytes as bnb

    cls = {"rmsprop": bnb.optim.RMSprop, "adagrad": bnb.optim.Adagrad}[req["family"]]
    out = _run_torch_optimizer(lambda params, **kw: cls(params, optim_bits=32, **kw), req, case)
    if req["family"] == "adagrad":
        out["states"] = {"sum": out["states"].pop("square_avg")}
    return out


def run_torch(req, case):
    import torch

    cls = {"rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[req["family"]]
    out = _run_torch_optimizer(cls, req, case)
    if req["family"] == "adagrad":
        out["states"] = {"sum": out["states"].pop("square_avg")}
    return out


RUNNERS = {
    "keras": run_keras,
    "tf-keras-legacy": run_tf_keras_legacy,
    "tf1": run_tf1,
    "tf-raw": run_tf_raw,
    "sonnet": run_sonnet,
    "optax": run_optax,
    "jax-example": run_jax_example,
    "timm": run_timm,
    "sb3": run_sb3,
    "torch": run_torch,
    "chainer": run_chainer,
    "chainer-graves": run_chainer,
    "bitsandbytes": run_bitsandbytes,
}


def versions(dialect: str) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in (
        "tensorflow-cpu",
        "keras",
        "tf-keras",
        "dm-sonnet",
        "jax",
        "jaxlib",
        "optax",
        "torch",
        "timm",
        "stable-baselines3",
        "chainer",
        "bitsandbytes",
        "numpy",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def main() -> int:
    """One request, or ``{"requests": [...]}`` (one process for many: the framework imports once)."""
    data = json.load(sys.stdin)
    requests = data["requests"] if "requests" in data else [data]
    out = []
    for req in requests:
        run = RUNNERS[req["dialect"]]
        try:
            out.append({"versions": versions(req["dialect"]), "cases": [run(req, case) for case in req["cases"]]})
        except ImportError as exc:  # this framework is not in the environment: the caller skips it
            out.append({"missing": f"{type(exc).__name__}: {exc}", "cases": []})
    json.dump({"results": out} if "requests" in data else out[0], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
