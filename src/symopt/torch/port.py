"""``symopt.torch.port(params, "<framework call>")``: a ``torch.optim.Optimizer`` that steps as that
framework does.

>>> import torch, symopt.torch
>>> p = torch.nn.Parameter(torch.ones(3))
>>> opt = symopt.torch.port([p], "tf.compat.v1.train.RMSPropOptimizer(learning_rate=0.016, decay=0.9, momentum=0.9, epsilon=1e-3)")
>>> opt.param_groups[0]["lr"], opt.param_groups[0]["decay"]
(0.016, 0.9)

The call is parsed with ``ast`` (never evaluated) into the dialect's model
(:mod:`symopt.rules.dialects`); the model is printed by symopt's Torch printer into a kernel module
in memory (the same printer as the committed ``symopt/kernels/torch/``; the framework dialects'
kernels are not committed, so they are generated here, once per model), and each step calls its
``update`` per parameter. Param groups carry the framework's keywords, except its learning rate,
which is ``lr`` so that ``torch.optim.lr_scheduler`` works on it; ``state_dict`` is torch's.
"""

from __future__ import annotations

import types
from typing import Any, Iterable

import torch

_KERNELS: dict[str, types.ModuleType] = {}


def kernel(rule) -> types.ModuleType:
    """The generated Torch kernel module of ``rule`` (rendered and executed in memory, cached by
    the model's hash)."""
    key = rule.fingerprint()
    if key not in _KERNELS:
        from ..codegen.render import BACKENDS, render_kernel

        text = render_kernel(rule, BACKENDS["torch"])
        module = types.ModuleType(f"symopt.kernels.torch._ported_{rule.family}_{rule.dialect.replace('-', '_')}")
        module.__file__ = f"<generated from symopt.rules.{rule.family} dialect {rule.dialect}>"
        exec(compile(text, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own printer's output
        _KERNELS[key] = module
    return _KERNELS[key]


class PortedOptimizer(torch.optim.Optimizer):
    """Steps as ``call`` (a framework's optimizer call) does; see :func:`port`."""

    def __init__(self, params: Iterable[Any], call: str):
        from ..port.calls import parse

        parsed = parse(call)
        self.call = parsed.text
        self.dialect = parsed.dialect
        self.rule = parsed.rule
        self.kernel = kernel(self.rule)
        self._lr_name = next(h.name for h in self.rule.hyperparameters if str(h.symbol) == "eta")
        defaults = {("lr" if k == self._lr_name else k): v for k, v in parsed.values().items()}
        super().__init__(params, defaults)

    def _hyper(self, group: dict, names: tuple[str, ...]) -> dict[str, Any]:
        return {n: group["lr" if n == self._lr_name else n] for n in names if n != "step"}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        k = self.kernel
        for group in self.param_groups:
            self.rule.values(**self._hyper(group, tuple(h.name for h in self.rule.hyperparameters)))
            hyper = self._hyper(group, k.UPDATE_ARGUMENTS)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{self.dialect.calls[0].path} (ported) does not support sparse gradients")
                state = self.state[p]
                if len(state) == 0:
                    state.update(k.init_state(p, **self._hyper(group, k.INIT_ARGUMENTS)))
                    state.setdefault("step", torch.tensor(0.0))
                state["step"] += 1
                step = {"step": int(state["step"].item())} if "step" in k.UPDATE_ARGUMENTS else {}
                buffers = [state.get(name) for name in k.STATES]
                made = k.update(p, p.grad, *buffers, **step, **hyper)
                if made:
                    state.update(made)
        return loss


def port(params: Iterable[Any], call: str) -> PortedOptimizer:
    """A ``torch.optim.Optimizer`` over ``params`` that steps exactly as the framework ``call``
    does, e.g. ``port(model.parameters(), "keras.optimizers.RMSprop(learning_rate=1e-3)")``;
    ``symopt list`` shows every framework call it takes."""
    return PortedOptimizer(params, call)


__all__ = ["PortedOptimizer", "kernel", "port"]
