"""What a Python name is bound to while lowering: an IR value, a compile-time tuple, a global
object (module, function, dtype), or a poison that raises when the name is used.

Arrays are values in the IR, so Python's reference semantics are kept by the `Env`: names that
alias one array share an identity key, and a write through one rebinds all of them to the new
version. Names bound to slice views are remembered so writes through them are rejected.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ..errors import Loc
from ..ir.core import Value

_keys = itertools.count(1)


def fresh_key() -> int:
    return next(_keys)


@dataclass(frozen=True)
class Global:
    """A compile-time Python object reached through a name: a module, function or dtype."""

    obj: Any


@dataclass(frozen=True)
class Poison:
    """A name whose binding is unusable (e.g. scalar on one path, array on another)."""

    message: str
    loc: Loc | None
    hint: str = ""


@dataclass
class Env:
    vars: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)

    def copy(self) -> "Env":
        return Env(dict(self.vars), dict(self.keys), dict(self.views))

    def bind(self, name: str, value: Any, key: int | None = None, view_of: str | None = None):
        self.vars[name] = value
        if isinstance(value, Value) and hasattr(value.type, "ndim"):
            self.keys[name] = key if key is not None else fresh_key()
        else:
            self.keys.pop(name, None)
        if view_of is not None:
            self.views[name] = view_of
        else:
            self.views.pop(name, None)

    def aliases(self, name: str) -> list[str]:
        key = self.keys.get(name)
        if key is None:
            return [name]
        return [n for n, k in self.keys.items() if k == key]


class Method:
    """A bound method of an array (`x.sum`), resolved when it is called."""

    def __init__(self, obj: Value, name: str):
        self.obj, self.name = obj, name


def describe(v: Any) -> str:
    """What a bound name holds, for error messages ("a f64[:] value", "'sin'")."""
    if isinstance(v, Value):
        return f"a {v.type} value"
    if isinstance(v, tuple):
        return "a tuple"
    if isinstance(v, Global):
        return f"'{getattr(v.obj, '__name__', type(v.obj).__name__)}'"
    if v is None:
        return "None"
    return type(v).__name__


def unflatten(tree, flat: list):
    """Rebuild a nested tuple of the shape `tree` (None marks a leaf) from its leaves."""
    it = iter(flat)

    def build(tr):
        return tuple(build(x) if x is not None else next(it) for x in tr)
    return build(tree)
