"""What a Python name is bound to while lowering: an IR value, a compile-time tuple, a global
object (module, function, dtype), or a poison that raises when the name is used.

Arrays are values in the IR, so Python's reference semantics are kept by the `Env`: every array
object has an identity key, names that alias one array share it, `ident` maps each SSA value to
the object it is a version of (so `z = helper(y)` returning `y` aliases it), and `views` holds
the objects that are views of others (see `aliasing.py`, which does the writes).
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
    keys: dict[str, int] = field(default_factory=dict)    # array name -> object key
    views: dict[int, Any] = field(default_factory=dict)   # object key -> its view record
    may: set = field(default_factory=set)                 # frozensets of keys that may alias
    ident: dict[int, int] = field(default_factory=dict)   # value id -> object key (shared)

    def copy(self) -> "Env":
        return Env(dict(self.vars), dict(self.keys), dict(self.views), set(self.may),
                   self.ident)

    def bind(self, name: str, value: Any, key: int | None = None):
        """Bind `name`; an array gets the object `key`, else the object `value` is a version
        of, else a new object."""
        old, old_value = self.keys.get(name), self.vars.get(name)
        self.vars[name] = value
        if isinstance(value, Value) and hasattr(value.type, "ndim"):
            if key is None:
                key = self.ident.get(value.id)
            if key is None:
                key = fresh_key()
            self.keys[name] = key
            self.ident.setdefault(value.id, key)
        else:
            self.keys.pop(name, None)
        if old is not None and old != self.keys.get(name):
            self._keep_base(old, old_value)

    def holders(self, key: int) -> list[str]:
        return [n for n, k in self.keys.items() if k == key]

    def _keep_base(self, key: int, old_value: Any) -> None:
        """A view's base stays reachable (for writes through the view) after its last name is
        rebound: an internal name holds it."""
        if not isinstance(old_value, Value) or self.holders(key) or \
                not any(key in r.bases() for r in self.views.values()):
            return
        self.vars[f"obj.{key}"] = old_value
        self.keys[f"obj.{key}"] = key

    def aliases(self, name: str) -> list[str]:
        key = self.keys.get(name)
        if key is None:
            return [name]
        return [n for n, k in self.keys.items() if k == key]


@dataclass(eq=False)
class LocalFunction:
    """A function defined inside compiled code (a nested `def` or a lambda), inlined where
    it is called (`closures.py`). Compared by identity: each lowering of its definition is
    a new function object, as in Python."""

    name: str
    node: Any                  # gast.FunctionDef (a lambda as `def <lambda>(...): return e`)
    src: Any                   # the SourceInfo of the enclosing source, with `node` as node
    scope: int                 # `sid` of the lowering that defined it
    bound: frozenset           # its local names
    captures: tuple            # the enclosing names it reads, bound at each call
    defaults: tuple            # default argument values, evaluated at the definition
    where: Loc | None = None   # the definition


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
    if isinstance(v, LocalFunction):
        return f"the local function '{v.name}'"
    if v is None:
        return "None"
    return type(v).__name__


def unflatten(tree, flat: list):
    """Rebuild a nested tuple of the shape `tree` (None marks a leaf) from its leaves."""
    it = iter(flat)

    def build(tr):
        return tuple(build(x) if x is not None else next(it) for x in tr)
    return build(tree)
