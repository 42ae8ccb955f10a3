"""Argument helpers shared by the call tables (`calls`, `reductions`, `shapes`,
`elementwise`): arity and keyword checks, the callee's name as written, constant arguments.

Every check raises the subset's error at the user's call site, naming the function as the
user wrote it (`np.linalg.norm`), so a table entry never needs its own message for these.
"""
from __future__ import annotations

from typing import Any

import gast

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import F64, ArrayType, ScalarType, scalar_of
from .env import describe


def fname(node) -> str:
    """The callee as the user wrote it (`np.linalg.norm`), for messages."""
    f = node.func if isinstance(node, gast.Call) else node
    parts = []
    while isinstance(f, gast.Attribute):
        parts.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name):
        return "function"
    return ".".join([f.id] + parts[::-1])


def nargs(lw, args, kw, node, lo: int, hi: int, allowed_kw=()) -> None:
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise lw.error(node, f"{fname(node)}() takes {want} arguments, got {len(args)}", "",
                       TypeInferenceError)
    for k in kw:
        if k not in allowed_kw:
            raise lw.error(node, f"{fname(node)}() does not support the keyword '{k}' in "
                           "compiled code", "", UnsupportedSyntax)


def val(lw, v, node) -> Value:
    if not isinstance(v, Value):
        raise lw.error(node, f"{fname(node)}() expects numbers or arrays, got {describe(v)}", "",
                       TypeInferenceError)
    return v


def array(lw, v, node, what: str = "an array") -> Value:
    v = val(lw, v, node)
    if not isinstance(v.type, ArrayType):
        raise lw.error(node, f"{fname(node)}() needs {what}, got {describe(v)}", "",
                       TypeInferenceError)
    return v


def float_of(v: Value) -> ScalarType:
    dt = scalar_of(v.type)
    return dt if dt.is_float else F64


def arg(args, kw, i: int, name: str, default: Any = None) -> Any:
    """Argument `name`, given positionally at `i` or as a keyword."""
    if name in kw:
        return kw[name]
    return args[i] if len(args) > i else default


def const_int(lw, v, node, what: str) -> int:
    """An int known at compile time (a literal, a constant global, x.ndim ...)."""
    k = lw.known(v) if isinstance(v, Value) else None
    if not isinstance(k, int) or isinstance(k, bool):
        raise lw.error(node, f"{fname(node)}(): {what} must be an integer constant",
                       "e.g. a literal such as 1", TypeInferenceError)
    return k


def const_bool(lw, v, node, what: str) -> bool:
    if v is None:
        return False
    k = lw.known(v) if isinstance(v, Value) else None
    if not isinstance(k, (bool, int)):
        raise lw.error(node, f"{fname(node)}(): {what} must be a constant True or False", "",
                       TypeInferenceError)
    return bool(k)


def axis_of(lw, v, ndim: int, node) -> int:
    """One axis constant, normalised (negative counts from the end), checked in range."""
    a = const_int(lw, v, node, "axis")
    if not -ndim <= a < ndim:
        raise lw.error(node, f"axis {a} is out of range for a {ndim}-d array", "",
                       TypeInferenceError)
    return a % ndim


def axes_of(lw, v, ndim: int, node) -> tuple[int, ...] | None:
    """`axis=` of a reduction: None (all axes), an int or a tuple of ints, normalised, sorted."""
    if v is None:
        return None
    items = list(v) if isinstance(v, (tuple, list)) else [v]
    axes = [axis_of(lw, a, ndim, node) for a in items]
    if len(set(axes)) != len(axes):
        raise lw.error(node, f"{fname(node)}(): repeated axis in {tuple(axes)}", "",
                       TypeInferenceError)
    return tuple(sorted(axes))


def registrar(calls: dict, methods: dict | None = None, method: bool = False):
    """A decorator factory filling a module's call table (and, with `method=True` per
    entry, its array-method table): `_reg("sum", "nansum")(handler)`."""
    default = method

    def reg(*names: str, method: bool = default):
        def deco(fn):
            for n in names:
                calls[n] = fn
                if method and methods is not None:
                    methods[n] = fn
            return fn
        return deco
    return reg
