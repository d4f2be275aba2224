"""Mechanical mutants of a SymPy expression: SymPy expressions are data, so a mutant is the same
tree with one node changed.

Operators, each applied at every node where it makes sense:

* ``constant``: a number n → n + 1, 2n, −n (distinct results only; exponents included);
* ``sign``: one term of a sum negated (``a + b`` → ``a − b``);
* ``invert``: one non-numeric factor of a product inverted (``a·b`` → ``a/b``: × ↔ ÷);
* ``swap``: a two-argument sum becomes a product and back (+ ↔ ×);
* ``power``: an exponent negated; a square root dropped (√x → x);
* ``function``: a function dropped (|x| → x), ``Max`` ↔ ``Min``.

:func:`mutants` returns ``(location, operator, mutated)`` for every distinct mutant, in a fixed
order (depth-first, arguments in SymPy's order), so that ids are stable.
"""

from __future__ import annotations

from typing import Iterator

import sympy as sp

Path = tuple[int, ...]


def nodes(expr: sp.Basic, path: Path = ()) -> Iterator[tuple[Path, sp.Basic]]:
    """Every node of ``expr`` with its path (the argument indices from the root)."""
    yield path, expr
    if isinstance(expr, (sp.Order,)):
        return  # O(·) terms are not part of what a number is compared with
    for i, arg in enumerate(expr.args):
        if isinstance(arg, sp.Basic):
            yield from nodes(arg, path + (i,))


def replace_at(expr: sp.Basic, path: Path, new: sp.Basic) -> sp.Basic:
    """``expr`` with the node at ``path`` replaced by ``new`` (SymPy re-canonicalises)."""
    if not path:
        return new
    args = list(expr.args)
    args[path[0]] = replace_at(args[path[0]], path[1:], new)
    return expr.func(*args)


def _local(node: sp.Basic) -> list[tuple[str, sp.Basic]]:
    """The mutants of one node, as (operator, replacement)."""
    out: list[tuple[str, sp.Basic]] = []
    if isinstance(node, sp.Number) and node.is_finite:
        for new, how in ((node + 1, "n+1"), (2 * node, "2n"), (-node, "-n")):
            if new != node:
                out.append((f"constant {node} -> {new} ({how})", new))
    elif isinstance(node, sp.Add):
        for i, term in enumerate(node.args):
            out.append(
                (f"sign of term {i} ({term}) flipped", sp.Add(*(-a if j == i else a for j, a in enumerate(node.args))))
            )
        if len(node.args) == 2:
            out.append(("+ -> *", sp.Mul(*node.args)))
    elif isinstance(node, sp.Mul):
        factors = [a for a in node.args if not a.is_Number]
        for i, factor in enumerate(node.args):
            if factor.is_Number:
                continue
            out.append(
                (f"* -> / at factor {factor}", sp.Mul(*(1 / a if j == i else a for j, a in enumerate(node.args))))
            )
        if len(factors) == 2 and len(node.args) == 2:
            out.append(("* -> +", sp.Add(*node.args)))
    elif isinstance(node, sp.Pow):
        base, exp = node.args
        out.append((f"exponent {exp} -> {-exp}", sp.Pow(base, -exp)))
        if exp == sp.Rational(1, 2):
            out.append(("sqrt dropped", base))
        elif exp == sp.Rational(-1, 2):
            out.append(("1/sqrt -> 1/x", 1 / base))
    elif isinstance(node, sp.Abs):
        out.append(("Abs dropped", node.args[0]))
    elif isinstance(node, sp.Max):
        out.append(("Max -> Min", sp.Min(*node.args)))
    elif isinstance(node, sp.Min):
        out.append(("Min -> Max", sp.Max(*node.args)))
    elif isinstance(node, sp.Function) and len(node.args) == 1 and not isinstance(node, sp.Order):
        out.append((f"{node.func} dropped", node.args[0]))
    return out


def mutants(expr: sp.Expr) -> list[tuple[str, str, sp.Expr]]:
    """Every distinct mechanical mutant of ``expr``: (location, operator, mutated expression)."""
    expr = sp.sympify(expr)
    seen = {expr}
    out = []
    for path, node in nodes(expr):
        for operator, replacement in _local(node):
            try:
                mutated = replace_at(expr, path, replacement)
            except (TypeError, ValueError):  # pragma: no cover - a replacement SymPy refuses
                continue
            if mutated in seen:
                continue
            seen.add(mutated)
            out.append((f"node {'.'.join(map(str, path)) or 'root'} ({sp.sstr(node)})", operator, mutated))
    return out


def algebraically_equal(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether ``a − b`` simplifies to 0 (a mutant that only rewrites the expression)."""
    try:
        diff = sp.simplify(sp.sympify(a) - sp.sympify(b))
    except Exception:  # pragma: no cover - simplify is best effort
        return False
    return diff == 0


__all__ = ["algebraically_equal", "mutants", "nodes", "replace_at"]
