"""``diff``: what exactly differs between two dialects of one family, from their models.

* the symbolic difference of one step from the same state (both at their default flags, and with
  momentum where both offer it), per parameter and state;
* the closed forms of the effective learning rate under a constant gradient (``symopt.derive``)
  and their ratio;
* under a changing learning rate with momentum: the difference of w₂ after two steps with
  η₁ ≠ η₂ (zero when η₁ = η₂ if the only difference is where η enters the buffer);
* which hyperparameters the differences depend on;
* where the two effective learning rates differ by more than 1 %: the |g| intervals at t = 1,
  10, 100 and 10⁶, both at the first dialect's default values of the symbols they share.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import sympy as sp

from ..rules import g, t, w
from ..rules._primitives import mu
from . import compare as C


def _rule(family: str, name: str):
    from .. import rules

    return rules.get(family, name)


def _names(rule) -> dict[str, str]:
    return {str(h.symbol): h.name for h in rule.hyperparameters}


def _defaults(rule, momentum: bool) -> dict[str, Any]:
    values = {h.name: h.default for h in rule.hyperparameters}
    for h in rule.hyperparameters:
        if h.symbol == mu:
            values[h.name] = 0.9 if momentum else 0.0
    return values


def _symbolic_step(rule, values) -> dict[sp.Symbol, sp.Expr]:
    flags = {h.name: values[h.name] for h in rule.hyperparameters if h.is_flag or h.symbol == mu}
    return rule.step_map(**flags)


def diff(family: str, a: str, b: str) -> dict[str, Any]:
    """The differences of dialects ``a`` and ``b`` of ``family`` (a JSON-able dict)."""
    return copy.deepcopy(_diff(family, a, b))


@lru_cache(maxsize=None)
def _diff(family: str, a: str, b: str) -> dict[str, Any]:
    ra, rb = _rule(family, a), _rule(family, b)
    out: dict[str, Any] = {"family": family, "dialects": [a, b], "steps": {}}
    has_momentum = all(any(h.symbol == mu for h in r.hyperparameters) for r in (ra, rb))
    depends: set[str] = set()
    for label, momentum in (("plain", False), ("momentum", True)) if has_momentum else (("plain", False),):
        va, vb = _defaults(ra, momentum), _defaults(rb, momentum)
        sa, sb = _symbolic_step(ra, va), _symbolic_step(rb, vb)
        rows = {}
        for sym in [w] + [s for s in sa if s is not w]:
            if sym not in sb:
                rows[str(sym)] = {"difference": None, "note": f"{b} keeps no {sym}"}
                continue
            d = sp.simplify(sa[sym] - sb[sym])
            rows[str(sym)] = {"difference": sp.sstr(d), "latex": sp.latex(d)}
            depends |= {str(x) for x in d.free_symbols}
        for sym in sb:
            if sym not in sa:
                rows[str(sym)] = {"difference": None, "note": f"{a} keeps no {sym}"}
        ia, ib = C.initial_state(ra, va), C.initial_state(rb, vb)
        initial = {
            str(s): [sp.sstr(ia.get(s)), sp.sstr(ib.get(s))]
            for s in set(ia) | set(ib)
            if ia.get(s) is None or ib.get(s) is None or sp.simplify(ia[s] - ib[s]) != 0
        }
        out["steps"][label] = {"one_step": rows, "initial_states_differ": initial}
    # constant gradient: the effective learning rates, symbolic in the hyperparameters
    la, lb = (
        C.effective_lr(ra, _defaults(ra, False), keep=_all_symbols(ra)),
        C.effective_lr(rb, _defaults(rb, False), keep=_all_symbols(rb)),
    )
    if la is not None and lb is not None:
        ratio = sp.simplify(la / lb)
        out["constant_gradient"] = {
            "lr": [sp.sstr(la), sp.sstr(lb)],
            "lr_latex": [sp.latex(la), sp.latex(lb)],
            "ratio": sp.sstr(ratio),
            "ratio_latex": sp.latex(ratio),
            "depends_on": sorted(str(x) for x in ratio.free_symbols - {g, t}),
        }
        depends |= {str(x) for x in ratio.free_symbols - {g, t}}
        at = _shared_values(ra, rb)
        na, nb = C.effective_lr(ra, at[0]), C.effective_lr(rb, at[1])
        if na is not None and nb is not None:  # numbers in the symbolic forms above: a closed form too
            fn = C.ratio_function(na / nb)
            out["region_1_percent"] = {
                "values": {a: at[0], b: at[1]},
                "abs_g_intervals_by_t": C.region(fn),
                "worst_ratio": dict(zip(("ratio", "abs_g", "t"), C.worst_ratio(fn))),
            }
    # changing learning rate with momentum: two steps, η_1 then η_2
    if has_momentum:
        va, vb = _numbers_but_lr(ra, True), _numbers_but_lr(rb, True)
        wa = C.unroll(ra, va, 2, changing_lr=True, keep=_all_symbols(ra))[1]
        wb = C.unroll(rb, vb, 2, changing_lr=True, keep=_all_symbols(rb))[1]
        d = sp.simplify(wa - wb)
        e1, e2 = sp.Symbol("eta_1", positive=True), sp.Symbol("eta_2", positive=True)
        constant = sp.simplify(d.xreplace({e2: e1}))
        out["changing_lr"] = {
            "w2_difference": sp.sstr(d),
            "latex": sp.latex(d),
            "vanishes_for_constant_lr": constant == 0,
        }
    out["depends_on"] = {
        a: sorted({_names(ra).get(x, x) for x in depends if x in _names(ra)}),
        b: sorted({_names(rb).get(x, x) for x in depends if x in _names(rb)}),
    }
    return out


def _all_symbols(rule):
    return tuple(h.symbol for h in rule.hyperparameters if not h.is_flag)


def _shared_values(ra, rb) -> tuple[dict, dict]:
    """Both at ``ra``'s defaults for the symbols they share, each at its own for the others."""
    va = _defaults(ra, False)
    by_symbol = {h.symbol: va[h.name] for h in ra.hyperparameters}
    vb = {h.name: by_symbol.get(h.symbol, h.default) if not h.is_flag else h.default for h in rb.hyperparameters}
    return va, vb


def _numbers_but_lr(rule, momentum: bool) -> dict:
    return _defaults(rule, momentum)


def text(result: dict[str, Any]) -> str:
    """``symopt diff`` as lines a person reads."""
    a, b = result["dialects"]
    lines = [f"{result['family']}: {a} vs {b}"]
    for label, step in result["steps"].items():
        lines.append(f"  one step from the same state ({label}), {a} − {b}:")
        for sym, row in step["one_step"].items():
            lines.append(f"    {sym}: {row['difference'] if row['difference'] is not None else row['note']}")
        for sym, (x, y) in step["initial_states_differ"].items():
            lines.append(f"    initial {sym}: {x} vs {y}")
    if "constant_gradient" in result:
        cg = result["constant_gradient"]
        lines += [
            f"  constant gradient: η_t[{a}] = {cg['lr'][0]}",
            f"                     η_t[{b}] = {cg['lr'][1]}",
            f"    ratio = {cg['ratio']}",
        ]
        reg = result["region_1_percent"]
        lines.append(f"  effective learning rates differ by more than 1 % (at {a}'s defaults):")
        for tv, intervals in reg["abs_g_intervals_by_t"].items():
            shown = ", ".join(f"|g| in [{lo:.3g}, {hi:.3g}]" for lo, hi in intervals) or "nowhere in |g| in [1e-8, 1e3]"
            lines.append(f"    t = {tv}: {shown}")
        wr = reg["worst_ratio"]
        lines.append(f"    worst ratio {wr['ratio']:.6g} at |g| = {wr['abs_g']:.3g}, t = {wr['t']:g}")
    if "changing_lr" in result:
        ch = result["changing_lr"]
        lines.append(f"  momentum 0.9, η_1 then η_2: w_2[{a}] − w_2[{b}] = {ch['w2_difference']}")
        lines.append(f"    vanishes for a constant learning rate: {ch['vanishes_for_constant_lr']}")
    lines.append(
        f"  depends on: {a}: {', '.join(result['depends_on'][a]) or '-'}; {b}: {', '.join(result['depends_on'][b]) or '-'}"
    )
    return "\n".join(lines)


__all__ = ["diff", "text"]
