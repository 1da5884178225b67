"""The typed recipe field: a dataclass field that carries its help text and its own check.

Every section of a recipe (:mod:`ser_hf.recipe`) declares its keys with :func:`field`: the default, the help text
``--help`` prints, and the check that runs when the recipe is parsed (a range, a choice list read from where the
name is defined, a pattern). :func:`check_section` applies the declared type and check of every field of a
section, so a key's rule is written once, next to the key. Imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the key."""


Check = Callable[[str, Any], None]  # (key, value) -> None or RecipeError


def field(default: Any, help: str, check: Check | None = None) -> Any:
    """A recipe key: ``default``, its ``help`` text and its ``check`` (see :func:`positive` and friends)."""
    metadata = {"help": help, "check": check}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# ---------------------------------------------------------------- checks
def positive(key: str, value: Any) -> None:
    if not (math.isfinite(value) and value > 0):
        kind = "an integer" if isinstance(value, int) else "a finite number"
        raise RecipeError(f"{key}: must be {kind} > 0, got {value}")


def non_negative(key: str, value: Any) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise RecipeError(f"{key}: must be a finite number >= 0, got {value}")


def probability(key: str, value: Any) -> None:
    if not 0.0 <= value <= 1.0:
        raise RecipeError(f"{key}: must be a number in [0, 1], got {value}")


def choice(choices: Iterable[str] | Callable[[], Iterable[str]]) -> Check:
    """One of ``choices`` (or of what a callable returns, for lists that live in a module imported on demand)."""

    def check(key: str, value: Any) -> None:
        options = tuple(choices() if callable(choices) else choices)
        value = getattr(value, "value", value)  # transformers' str enums (IntervalStrategy.EPOCH -> "epoch")
        if value is not None and str(value) not in options:
            raise RecipeError(f"{key}: {value!r} is not one of {', '.join(options)}")

    return check


def pattern(regex: str, says: str) -> Check:
    compiled = re.compile(regex)

    def check(key: str, value: Any) -> None:
        if value is not None and not compiled.match(str(value)):
            raise RecipeError(f"{key}: {value!r} is not {says}")

    return check


def each(inner: Check) -> Check:
    """``inner`` on every item of a list."""

    def check(key: str, value: Any) -> None:
        for item in value or []:
            inner(key, item)

    return check


def not_empty(key: str, value: Any) -> None:
    if isinstance(value, str) and not value.strip():
        raise RecipeError(f"{key}: cannot be empty")
    if isinstance(value, list) and not value:
        raise RecipeError(f"{key}: give at least one value")


def seed_range(key: str, value: Any) -> None:
    if not 0 <= value < 2**32:  # numpy's seed range
        raise RecipeError(f"{key}: must be an integer in [0, 2**32), got {value}")


def all_of(*checks: Check) -> Check:
    def check(key: str, value: Any) -> None:
        for c in checks:
            c(key, value)

    return check


# ---------------------------------------------------------------- types
def split_optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether None is allowed)."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), type(None) in args
    return hint, False


def _scalar_type_error(value: Any, base: type) -> str | None:
    """Why ``value`` is not of the field's scalar type (bool is not a number, 3.5 is not an integer)."""
    if base is bool:
        return None if isinstance(value, bool) else f"{value!r} is not true or false"
    if base is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r} is not an integer"
    if base is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else f"{value!r} is not a number"
    if base is str:
        return None if isinstance(value, str) else f"{value!r} is not a string"
    return None


def check_value(name: str, value: Any, hint: Any, check: Check | None = None) -> Any:
    """``value`` checked against a field's type ``hint`` and its ``check``: the value to keep (ints become floats
    where a float is wanted), or a :class:`RecipeError` naming the key."""
    base, optional = split_optional(hint)
    if value is None:
        if not optional:
            raise RecipeError(f"{name} cannot be null")
        return None
    origin = typing.get_origin(base) or base
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{name}: {value!r} is not a list")
        item = (typing.get_args(base) or (str,))[0]
        for v in value:
            problem = _scalar_type_error(v, item)
            if problem:
                raise RecipeError(f"{name}: {problem}")
        value = [float(v) if item is float else v for v in value]
    elif origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{name}: {value!r} is not a mapping")
        for key, v in value.items():
            if v is None or (isinstance(v, str) and not v.strip()):
                raise RecipeError(f"{name}.{key}: give a folder or file, not {v!r}")
            if not isinstance(v, str):
                raise RecipeError(f"{name}.{key}: {v!r} is not a string")
    elif isinstance(origin, type):
        problem = _scalar_type_error(value, origin)
        if problem:
            raise RecipeError(f"{name}: {problem}")
        if origin is float:
            value = float(value)
    if check is not None:
        try:
            check(name, value)
        except RecipeError as err:
            if optional and "or null" not in str(err) and ", got" in str(err):  # say null is allowed too
                raise RecipeError(str(err).replace(", got", " or null, got", 1)) from None
            raise
    return value


def check_section(section: Any) -> None:
    """Every field of a recipe section holds its declared type and passes its declared check; the first problem
    is a :class:`RecipeError` naming the key."""
    hints = typing.get_type_hints(type(section))
    for f in dataclasses.fields(section):
        if f.init:
            setattr(section, f.name, check_value(f.name, getattr(section, f.name), hints[f.name], f.metadata.get("check")))


def check_keys(cls: type, values: dict[str, Any]) -> None:
    """The given ``values`` checked against the fields of ``cls`` they name, one key at a time, without building
    the section: keys of another method's section are checked too, though that section is not used."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.init and f.name in values:
            check_value(f.name, coerce(f.name, values[f.name], hints[f.name]), hints[f.name], f.metadata.get("check"))


def coerce(name: str, value: Any, hint: Any) -> Any:
    """A command-line string (or a YAML value) converted to the field's type: ``null`` is None, ``[a, b]`` a list,
    ``{k: v}`` a mapping, ``true`` a bool; values that are already typed are left for the type check to judge."""
    base, optional = split_optional(hint)
    if value is None or (isinstance(value, str) and (value.lower() == "null" or (optional and value.lower() == "none"))):
        if not optional:
            raise RecipeError(f"{name} cannot be null")
        return None
    origin = typing.get_origin(base) or base
    try:
        if origin is list:
            import yaml

            if isinstance(value, str):
                value = yaml.safe_load(value) if value.startswith("[") else [v for v in value.split(",") if v]
            item = (typing.get_args(base) or (str,))[0]
            return [_coerce_scalar(v, item) for v in (value if isinstance(value, list) else [value])]
        if origin is dict:
            import yaml

            value = yaml.safe_load(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise TypeError("expected a mapping")
            return {str(k): v if v is None else str(v) for k, v in value.items()}  # null is named by the check
        if isinstance(origin, type):
            return _coerce_scalar(value, origin)
        return _coerce_union(value, base)
    except (TypeError, ValueError) as err:
        raise RecipeError(f"{name}: cannot use {value!r} ({err})") from None


def _coerce_union(value: Any, hint: Any) -> Any:
    """``bool | str``, ``dict | str``, ``str | list[str]``, an enum or str: a typed value stays, a command-line
    string becomes a bool, a mapping or a list where it reads as one, else stays a string."""
    if not isinstance(value, str):
        return value
    args = typing.get_args(hint)
    origins = {typing.get_origin(a) or a for a in args}
    if bool in origins and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if dict in origins and value.startswith("{"):
        import yaml

        return yaml.safe_load(value)
    if list in origins and value.startswith("["):
        import yaml

        return yaml.safe_load(value)
    for number in (int, float):
        if number in origins and str not in origins:
            return number(value)
    return value


def _coerce_scalar(value: Any, base: type) -> Any:
    """A command-line string to ``base``; YAML's typed values are left for the type check to judge."""
    if not isinstance(value, str):
        if isinstance(value, bool) and base is str:  # YAML reads `bf16: true` as a bool
            return str(value).lower()
        if isinstance(value, (int, float)) and base is str:  # `backbone: 19` means the name "19"
            return str(value)
        return value
    if base is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise TypeError(f"{value!r} is not a boolean")
        return value.lower() in ("true", "1", "yes")
    if base is int:
        try:
            return int(value)
        except ValueError:
            number = float(value)  # 1e3 is an integer written as a float; 3.5 is not, and the type check says so
            return int(number) if number.is_integer() else number
    if base is float:
        return float(value)
    return value
