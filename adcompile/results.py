"""How compiled code hands scalar results back: the kinds NumPy 2 gives.

A scalar computed from arrays or NumPy scalars is a NumPy scalar of its dtype
(`np.sum(float32 array)` is `np.float32`, `x[0]` of a float64 array is `np.float64`); one
computed only from Python numbers (literals, Python-float arguments, `math` functions, shapes)
stays a Python `float`/`int`/`bool`. The frontend records which results are Python scalars
(`Function.python_scalars`); the backends return plain Python numbers, so every entry point
(`jit`, `interpret`, the derivatives) boxes its results through here and they agree.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .ir.core import Function
from .ir.types import ArrayType

_PY = {"f64": float, "f32": float, "i64": int, "bool": bool}
_NP = {"f64": np.float64, "f32": np.float32, "i64": np.int64, "bool": np.bool_}


def _keep(v: Any) -> Any:
    return v


def boxes(fn: Function) -> list[Callable[[Any], Any]]:
    """One converter per result of `fn` (the primal stage): arrays are kept as they are."""
    weak = fn.python_scalars or [False] * len(fn.result_types)
    return [_keep if isinstance(t, ArrayType) else (_PY if w else _NP)[t.name]
            for t, w in zip(fn.result_types, weak)]


def box(conv: list[Callable[[Any], Any]], vals) -> list:
    """The results `vals` through the converters `boxes(fn)` gave."""
    return [c(v) for c, v in zip(conv, vals)]


def box_call(fn: Function, conv: list[Callable[[Any], Any]], out: Any) -> Any:
    """A backend's return value (a tuple if `fn` returns one) with its scalars boxed."""
    if fn.returns_tuple:
        return tuple(box(conv, out))
    return conv[0](out) if conv else out
