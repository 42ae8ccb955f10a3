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


_INT64 = (-2 ** 63, 2 ** 63 - 1)


def arg_spec(func, index: int, value) -> ArgSpec:
    """NumPy scalars are checked before Python ones: np.float64 is a subclass of float but
    not a weak scalar in NumPy 2's promotion."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return ArgSpec(BOOL, isinstance(value, bool))
    if isinstance(value, np.integer):
        if value.dtype == np.int64:
            return ArgSpec(I64, False)
        raise _arg_error(func, index, f"argument {_argname(func, index)} is a NumPy "
                         f"{value.dtype} scalar (wraps around at its own width; compiled "
                         "integers are int64)", "pass int(x) or np.int64(x)")
    if isinstance(value, np.floating):
        if from_numpy_dtype(value.dtype) is None:
            raise _arg_error(func, index, f"argument {_argname(func, index)} is a NumPy "
                             f"{value.dtype} scalar", "pass float(x), np.float64 or "
                             "np.float32")
        return ArgSpec(from_numpy_dtype(value.dtype), False)
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise _arg_error(func, index, f"argument {_argname(func, index)} = {value} does "
                             "not fit in int64", "compiled integers are 64-bit")
        return ArgSpec(I64, True)
    if isinstance(value, float):
        return ArgSpec(F64, True)
    if isinstance(value, (np.matrix, np.ma.MaskedArray)):
        raise _arg_error(func, index, f"argument {_argname(func, index)} is a "
                         f"{type(value).__module__}.{type(value).__name__} (its operators "
                         "differ from ndarray's: * is a matrix product, masks are ignored)",
                         "pass np.asarray(x) and use @ for matrix products")
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
    defaults = func.__defaults__ or ()
    nparams = func.__code__.co_argcount
    if len(args) < nparams and len(args) >= nparams - len(defaults):
        args = tuple(args) + tuple(defaults[len(args) - (nparams - len(defaults)):])
    return tuple(args)
