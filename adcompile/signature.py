"""Argument signatures: which compiled specialisation a call uses, and the IR types it implies.

A signature records, per argument, the IR type and whether it is a Python scalar ("weak" in
NumPy 2's promotion rules: a Python float meeting a float32 array stays float32).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from .errors import TypeInferenceError
from .frontend.source import get_source
from .ir.types import BOOL, F64, I64, ArrayType, Type, from_numpy_dtype


@dataclass(frozen=True)
class ArgSpec:
    type: Type
    weak: bool


def arg_spec(func, index: int, value) -> ArgSpec:
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return ArgSpec(BOOL, isinstance(value, bool))
    if isinstance(value, int):
        return ArgSpec(I64, True)
    if isinstance(value, float):
        return ArgSpec(F64, True)
    if isinstance(value, np.integer):
        return ArgSpec(I64, False)
    if isinstance(value, np.floating) and from_numpy_dtype(value.dtype) is not None:
        return ArgSpec(from_numpy_dtype(value.dtype), False)
    if isinstance(value, np.ndarray):
        dt = from_numpy_dtype(value.dtype)
        if dt is not None and 0 <= value.ndim <= 3:
            return ArgSpec(ArrayType(dt, value.ndim), False)
        what = f"an array of dtype {value.dtype}" if dt is None else f"a {value.ndim}-d array"
        hint = ("convert it with .astype(np.float64) (supported: float64, float32, int64, bool)"
                if dt is None else "arrays of 0 to 3 dimensions are supported")
        raise _arg_error(func, index, f"argument {_argname(func, index)} is {what}", hint)
    if isinstance(value, (list, tuple)):
        raise _arg_error(func, index, f"argument {_argname(func, index)} is a "
                         f"{type(value).__name__}", "pass a NumPy array: np.asarray(...)")
    raise _arg_error(func, index, f"argument {_argname(func, index)} has unsupported type "
                     f"{type(value).__name__}",
                     "compiled functions take floats, ints, bools and NumPy arrays")


def _argname(func, index: int) -> str:
    try:
        params = list(inspect.signature(func).parameters)
        return f"'{params[index]}'"
    except (ValueError, TypeError, IndexError):
        return str(index)


def _arg_error(func, index: int, msg: str, hint: str) -> TypeInferenceError:
    try:
        src = get_source(func)
        arg = src.node.args.args[index] if index < len(src.node.args.args) else src.node
        loc = src.loc(arg)
    except Exception:
        loc = None
    return TypeInferenceError(msg, loc, hint)


def signature_of(func, args) -> tuple[ArgSpec, ...]:
    return tuple(arg_spec(func, i, a) for i, a in enumerate(args))


def bind_defaults(func, args: tuple) -> tuple:
    """Fill trailing arguments from the function's defaults (positional calls only)."""
    func = inspect.unwrap(func)   # through jit and derivative objects to the user's function
    if not hasattr(func, "__code__"):
        return tuple(args)
    defaults = func.__defaults__ or ()
    nparams = func.__code__.co_argcount
    if len(args) < nparams and len(args) >= nparams - len(defaults):
        args = tuple(args) + tuple(defaults[len(args) - (nparams - len(defaults)):])
    return tuple(args)
