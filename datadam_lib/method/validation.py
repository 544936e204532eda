"""Validation of the config dataclasses, field by field, where each is defined.

Every frozen config dataclass (``config.py``, ``models.EncoderSpec``,
``augment.DSAConfig``) calls :func:`check_fields` from its ``__post_init__``:
each field's value must match its type annotation, and may have to satisfy a
:class:`Rule` (a range or a set of choices). A bad value raises one
:class:`ConfigError` naming the field by its dotted path (``override`` and
``from_dict`` add the outer names), whether it came from a preset, the CLI's
``--set``, a sweep or a saved ``config.json``.

    check_fields(self, ipc=at_least(1), init=one_of(INIT_METHODS))
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable


class ConfigError(ValueError):
    """A config value of the wrong type or out of range. The message names
    the field (dotted path), the value and what is expected."""

    def __init__(self, path: str, value: Any, expected: str):
        self.path, self.value, self.expected = path, value, expected
        super().__init__(f"{path}={value!r} is invalid: expected {expected}")

    def under(self, prefix: str) -> "ConfigError":
        """The same error for the field seen from the enclosing config."""
        return ConfigError(f"{prefix}.{self.path}", self.value, self.expected)


@dataclass(frozen=True)
class Rule:
    """A condition on a field's (non-None) value and how to say it."""
    ok: Callable[[Any], bool]
    text: str
    full: bool = False        # ``text`` says the whole expectation (not appended to the type)


def at_least(n: float) -> Rule:
    return Rule(lambda v: v >= n, f">= {n}")


def positive() -> Rule:
    return Rule(lambda v: math.isfinite(v) and v > 0, "> 0")


def non_negative() -> Rule:
    return Rule(lambda v: math.isfinite(v) and v >= 0, ">= 0")


def between(lo: float, hi: float, hi_open: bool = False) -> Rule:
    return Rule(lambda v: lo <= v < hi if hi_open else lo <= v <= hi, f"in [{lo}, {hi}{')' if hi_open else ']'}")


def one_of(choices: Iterable[str]) -> Rule:
    choices = tuple(sorted(choices))
    return Rule(lambda v: v in choices, "one of " + ", ".join(map(repr, choices)), full=True)


def subset_of(choices: Iterable[str]) -> Rule:
    """A non-empty tuple of distinct names from ``choices``."""
    choices = tuple(sorted(choices))
    return Rule(lambda v: 0 < len(v) == len(set(v)) and set(v) <= set(choices),
                "a non-empty tuple of distinct names from " + ", ".join(map(repr, choices)), full=True)


# ---------------------------------------------------------------- types

def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
        return f"a tuple of {len(args)} " + "/".join(dict.fromkeys(_describe(a).split()[-1] for a in args)) + "s"
    name = getattr(hint, "__name__", str(hint))
    return {int: "an integer", float: "a number", str: "a string", bool: "True or False",
            type(None): "None"}.get(hint, f"{'an' if name[0] in 'AEIOU' else 'a'} {name}")


def _expected(hint, rule: Rule | None) -> str:
    """What a field accepts, in words: "an integer >= 1", "a number > 0 or None"."""
    args = typing.get_args(hint)
    if rule is None:
        return _describe(hint)
    if rule.full:
        return rule.text
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(_describe(a) for a in rest) + f" {rule.text} or None"
    return f"{_describe(hint)} {rule.text}"


def matches(value: Any, hint) -> bool:
    """Whether ``value`` has the annotated type (an int is a float; a bool is
    neither; tuples are checked element by element)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
    if hint is type(None):
        return value is None
    if hint in (int, float) and isinstance(value, bool):
        return False
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(value, hint)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_fields(obj, **rules: Rule) -> None:
    """Check every field of the dataclass ``obj`` against its annotation and
    ``rules[name]`` (applied when the value is not None); raise ConfigError."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value, hint, rule = getattr(obj, f.name), hints[f.name], rules.get(f.name)
        expected = _expected(hint, rule)
        if not matches(value, hint):
            raise ConfigError(f.name, value, expected)
        if rule is not None and value is not None and not rule.ok(value):
            raise ConfigError(f.name, value, expected)
