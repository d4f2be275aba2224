"""A user's optimizer call, parsed (``ast``, never evaluated) and resolved to its dialect.

>>> c = parse("keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.9)")
>>> c.dialect.name, c.keywords["momentum"], c.keywords["rho"]
('keras', 0.9, 0.9)

Every error is one line naming what is wrong and what is allowed: an unknown framework or
class, an unknown argument, a value that is not a literal, a value out of range.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ..rules import UpdateRule
from ..rules import dialects as D


@dataclass(frozen=True)
class ParsedCall:
    """The call as written (``text``), its dialect and call, and every keyword of the dialect's
    rule with its value (the user's, else the call's or the framework's default)."""

    text: str
    dialect: D.Dialect
    call: D.Call
    given: dict[str, Any]
    keywords: dict[str, Any]

    @property
    def rule(self) -> UpdateRule:
        return self.dialect.rule()

    def values(self) -> dict[str, Any]:
        """The keywords the rule takes (validated)."""
        names = {h.name for h in self.rule.hyperparameters}
        out = {k: v for k, v in self.keywords.items() if k in names}
        self.rule.values(**out)
        return out


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise ValueError(f"the optimizer must be a dotted name such as keras.optimizers.RMSprop; got {ast.unparse(node)!r}")


def _literal(node: ast.AST, name: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ValueError(
            f"argument {name} must be a literal number or True/False/None; got {ast.unparse(node)!r}"
        ) from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not (value is None or isinstance(value, (bool, float, str))):
        raise ValueError(f"argument {name} must be a number or True/False/None; got {value!r}")
    return value


def parse(text: str) -> ParsedCall:
    """Parse ``text`` (one call expression) into a :class:`ParsedCall`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a Python call: {exc.msg} in {text!r}") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise ValueError(f"expected a call such as keras.optimizers.RMSprop(learning_rate=1e-3); got {text!r}")
    path = _dotted(node.func)
    candidates = D.find_calls(path)
    skip_params = path.startswith(
        (
            "torch.",
            "optim.",
            "timm.",
            "stable_baselines3.",
            "RMSpropTF",
            "bnb.",
            "bitsandbytes.",
            "apex.",
            "deepspeed.",
            "DeepSpeed",
        )
    )
    args = list(node.args)
    if skip_params and args and not _is_literal(args[0]):
        args = args[1:]  # the params argument of a torch optimizer: not part of the configuration
    # Where dialects share the path (MXNet 2.0's RMSProp, plain and centered, and MXNet 1.x's), the
    # first whose signature takes the arguments as written and whose fixed keywords they agree with.
    for dialect, call in candidates:
        try:
            given = _arguments(path, dialect, call, args, node.keywords)
        except ValueError:
            continue
        if _accepts(dialect, call, given):
            _check_choice(path, candidates, given)
            return resolve(text, dialect, call, given)
    given = _arguments(path, *candidates[0], args, node.keywords)  # its errors name what is wrong
    _check_choice(path, candidates, given)
    return resolve(text, *D.select_call(candidates, given), given)


def _arguments(
    path: str, dialect: D.Dialect, call: D.Call, args: list[ast.expr], keywords: list[ast.keyword]
) -> dict[str, Any]:
    """The call's arguments by name, positional ones in the framework's order for this dialect."""
    positional = list(call.signature) or [a.name for a in dialect.arguments if a.name not in call.set]
    if len(args) > len(positional):
        raise ValueError(
            f"{path} takes at most {len(positional)} positional arguments ({', '.join(positional)}); got {len(args)}"
        )
    given: dict[str, Any] = {}
    for name, arg in zip(positional, args):
        given[name] = _literal(arg, name)
    for kw in keywords:
        if kw.arg is None:
            raise ValueError(f"{path}: **kwargs cannot be ported; write the arguments out")
        if kw.arg in given:
            raise ValueError(f"{path} got multiple values for argument {kw.arg!r}")
        given[kw.arg] = _literal(kw.value, kw.arg)
    return given


def _accepts(dialect: D.Dialect, call: D.Call, given: dict[str, Any]) -> bool:
    """Whether every keyword of ``given`` is one this call takes, and its fixed ones agree."""
    known = {a.name for a in dialect.arguments} | set(call.hidden) | set(call.set)
    return set(given) <= known and all(given.get(k, v) == v for k, v in call.set.items())


def _check_choice(path: str, candidates: list[tuple[D.Dialect, D.Call]], given: dict[str, Any]) -> None:
    """Where dialects share ``path`` (Caffe's ``regularization_type``, MXNet's ``centered``), a
    value of the keyword that chooses between them that no dialect takes is an error naming the
    values they take."""
    if len(candidates) < 2:
        return
    for key in dict.fromkeys(k for _, c in candidates for k in c.set):
        if key in given and all(c.set.get(key, given[key]) != given[key] for _, c in candidates):
            allowed = ", ".join(repr(c.set[key]) for _, c in candidates if key in c.set)
            raise ValueError(f"{path}: {key} must be one of {allowed}; got {given[key]!r}")


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except ValueError:
        return False


def resolve(text: str, dialect: D.Dialect, call: D.Call, given: dict[str, Any]) -> ParsedCall:
    """Check ``given`` against the dialect's arguments and the rule's ranges; fill the defaults."""
    path = call.path
    allowed = [a.name for a in dialect.arguments if a.name not in call.set]
    keywords: dict[str, Any] = {}
    for name, value in given.items():
        if name in call.hidden:
            continue
        if name in call.set:
            if value != call.set[name]:
                raise ValueError(
                    f"{path}: {name} must be {call.set[name]!r} here (it is fixed by this call); got {value!r}"
                )
            continue
        if name not in allowed:
            raise ValueError(
                f"{path} has no argument {name!r} symopt models; allowed: {', '.join(allowed + list(call.hidden))}"
            )
        arg = dialect.argument(name)
        if isinstance(value, str):
            raise ValueError(f"{path}: {name} must be a number or True/False; got {value!r}")
        if value is None:
            if arg.none is None:
                raise ValueError(f"{path}: {name}=None is not a value symopt models; give a number")
            value = arg.none
        keywords[name] = value
    missing = [a.name for a in dialect.arguments if a.required and a.name not in keywords and a.name not in call.set]
    if missing:
        raise ValueError(f"{path} requires {', '.join(missing)}")
    full = dialect.values(call, **keywords)
    rule = dialect.rule()
    for h in rule.hyperparameters:
        value = full[h.name]
        try:
            h.validate(value)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {h.name}={value!r} is out of range; allowed: {h.allowed}") from None
        if h.is_flag is False and isinstance(value, bool):
            raise ValueError(f"{path}: {h.name} must be a number; got {value!r}")
    return ParsedCall(text.strip(), dialect, call, dict(given), full)


def format_call(dialect: D.Dialect, values: dict[str, Any], call: D.Call | None = None) -> str:
    """A call string in the framework's syntax: required arguments and those not at their
    default, in its signature order (torch-style optimizers take ``params`` first)."""
    call = call or dialect.calls[0]
    defaults = dialect.values(call)
    shared = len(D.find_calls(call.path)) > 1
    for every in (False, True):
        parts = []
        for a in dialect.arguments:
            if a.name in call.set or values.get(a.name) is None:
                continue
            value = values[a.name]
            if every or a.required or value != defaults[a.name]:
                parts.append(f"{a.name}={_format_value(value)}")
        if shared:  # the keywords that choose between dialects sharing the path
            parts += [f"{k}={v!r}" for k, v in call.set.items()]
        if call.path.startswith(("torch.", "timm.", "stable_baselines3.", "bnb.", "apex.", "deepspeed.")):
            parts.insert(0, "params")
        text = f"{call.path}({', '.join(parts)})"
        # on a shared path the defaults left out may name another dialect (MXNet 1.x's gamma1 is
        # what tells it from 2.0's rho): then every argument is written
        if not shared or every or parse(text).dialect is dialect:
            return text
    raise AssertionError("unreachable")  # pragma: no cover


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return repr(value)
    return f"{float(value):.12g}"
