"""Argument signatures: which compiled specialisation a call uses, and the IR types it implies.

A signature records, per argument, the IR type and whether it is a Python scalar ("weak" in
NumPy 2's promotion rules: a Python float meeting a float32 array stays float32).
"""
from __future__ import annotations

import inspect
import types
from dataclasses import dataclass

import numpy as np

from .callables import describe_callable
from .errors import TypeInferenceError, UnsupportedSyntax
from .frontend.source import get_source
from .ir.types import BOOL, F64, I64, ArrayType, Type, from_numpy_dtype


# integer arrays of these dtypes (index arrays from real data: int32, uint8, ...) are passed
# as int64 copies (`widened`): the same values, and arguments are never written back
# arguments and results: as many dimensions as arrays inside a function (frontend/shapes.py)
MAX_ARG_NDIM = 4
NARROW_INTS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.uint8, np.uint16,
                                          np.uint32))


def widened(args: tuple) -> tuple:
    """The call's arguments with narrow integer arrays as int64 arrays."""
    if not any(type(a) is np.ndarray and a.dtype in NARROW_INTS for a in args):
        return args
    return tuple(a.astype(np.int64) if type(a) is np.ndarray and a.dtype in NARROW_INTS
                 else a for a in args)


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
        if not -2 ** 63 <= value < 2 ** 63:
            raise _arg_error(func, index, f"argument {_argname(func, index)} is the int "
                             f"{value}, outside the 64-bit range of compiled ints",
                             "compiled ints are 64-bit: pass a smaller int, or a float")
        return ArgSpec(I64, True)
    if isinstance(value, float):
        return ArgSpec(F64, True)
    if isinstance(value, (np.matrix, np.ma.MaskedArray)):
        raise _arg_error(func, index, f"argument {_argname(func, index)} is a "
                         f"{type(value).__module__}.{type(value).__name__} (its operators "
                         "differ from ndarray's: * is a matrix product, masks are ignored)",
                         "pass np.asarray(x) and use @ for matrix products")
    if isinstance(value, np.ndarray):
        if value.dtype in NARROW_INTS and 0 <= value.ndim <= MAX_ARG_NDIM:
            return ArgSpec(ArrayType(I64, value.ndim), False)   # read as int64, see widened
        dt = from_numpy_dtype(value.dtype)
        if dt is not None and 0 <= value.ndim <= MAX_ARG_NDIM:
            return ArgSpec(ArrayType(dt, value.ndim), False)
        what = f"an array of dtype {value.dtype}" if dt is None else f"a {value.ndim}-d array"
        hint = ("convert it with .astype(np.float64) (supported: float64, float32, int64, bool; "
                "int8 to int32 and uint8 to uint32 arrays are read as int64)"
                if dt is None else f"arrays of 0 to {MAX_ARG_NDIM} dimensions are supported")
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


def check_backend(func, sig: tuple[ArgSpec, ...], backend: str, lowered: bool) -> None:
    """What a signature needs from the backend: backends that get lowered IR (LLVM) have no
    0-d arrays (their loops index every dimension), so such an argument is named here instead
    of failing inside the lowering or returning a wrong value."""
    if not lowered:
        return
    for i, spec in enumerate(sig):
        if isinstance(spec.type, ArrayType) and spec.type.ndim == 0:
            raise _arg_error(func, i, f"argument {_argname(func, i)} is a 0-d array, which "
                             f"the {backend} backend does not support"
                             + (" with lowered arrays" if backend == "numba" else ""),
                             "pass float(x) (or x.reshape(1)), or use the numba backend")


def signature_of(func, args) -> tuple[ArgSpec, ...]:
    if type(func) is not types.FunctionType:
        require_function(func)
    return tuple(arg_spec(func, i, a) for i, a in enumerate(args))


def user_function(func):
    """Through jit and derivative objects (which wrap one another) to the user's function;
    a custom_jvp/custom_vjp object is not unwrapped (its rules would be lost)."""
    return inspect.unwrap(func, stop=lambda f: not getattr(f, "__adcompile__", False))


def require_function(func) -> None:
    """Only functions written with `def` are compiled (from their source): anything else is
    rejected here, naming what it is, before signature handling reads `__code__`. jit and
    derivative objects pass: transforms of them compose."""
    if isinstance(func, types.FunctionType) or getattr(func, "__adcompile__", False):
        return
    what, hint = describe_callable(func)
    raise UnsupportedSyntax(f"adcompile compiles Python functions written with 'def'; {what}",
                            hint=hint)


def check_arity(func, args: tuple) -> None:
    """The call's argument count fits the function: a missing or extra argument is named
    here (not later as an out-of-range argnums or a lowering error)."""
    code = func.__code__
    nparams = code.co_argcount
    if len(args) == nparams or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) \
            or code.co_kwonlyargcount:
        return   # the frontend rejects *args, **kwargs and keyword-only parameters
    params = list(code.co_varnames[:nparams])
    ndef = len(func.__defaults__ or ())
    if nparams - ndef <= len(args) <= nparams:
        return
    if len(args) > nparams:
        msg = (f"'{func.__name__}' takes {nparams} argument{'s' * (nparams != 1)} "
               f"({', '.join(params)}), but {len(args)} were given")
    else:
        missing = params[len(args):nparams - ndef]
        msg = (f"'{func.__name__}' is missing the argument{'s' * (len(missing) > 1)} "
               f"{', '.join(repr(m) for m in missing)} (it takes {', '.join(params)}; "
               f"{len(args)} given)")
    try:
        src = get_source(func)
        loc = src.loc(src.node)
    except Exception:   # noqa: BLE001 - the message names the function either way
        loc = None
    raise TypeInferenceError(msg, loc, "pass every argument of the function positionally")


def bind_defaults(func, args: tuple, kwargs: dict | None = None) -> tuple:
    """The call's arguments as one positional tuple, bound as Python binds them: keyword
    arguments go to their parameters, trailing parameters left out take their defaults.
    Checks first that `func` is a plain function and that the call fits its parameters."""
    func = user_function(func)
    if type(func) is not types.FunctionType:
        require_function(func)
    if kwargs:
        args = _bind_keywords(func, tuple(args), kwargs)
    check_arity(func, args)
    defaults = func.__defaults__ or ()
    nparams = func.__code__.co_argcount
    if len(args) < nparams and len(args) >= nparams - len(defaults):
        args = tuple(args) + tuple(defaults[len(args) - (nparams - len(defaults)):])
    return widened(tuple(args))


def _bind_keywords(func, args: tuple, kwargs: dict) -> tuple:
    """Positional arguments, then each parameter by name (its default where not given): the
    compiled code takes arguments by position. A mistake is named as Python would name it,
    as a TypeInferenceError at the function (not a raw TypeError from the call machinery)."""
    code = func.__code__
    params = list(code.co_varnames[:code.co_argcount])
    name = func.__name__

    def fail(msg: str):
        try:
            src = get_source(func)
            loc = src.loc(src.node)
        except Exception:   # noqa: BLE001 - the message names the function either way
            loc = None
        return TypeInferenceError(f"'{name}' {msg}", loc,
                                  f"'{name}' takes ({', '.join(params)}); pass each once, "
                                  "by position or by name")
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_kwonlyargcount:
        return args + tuple(kwargs.values())   # the frontend rejects such signatures by name
    if len(args) > len(params):
        raise fail(f"takes {len(params)} argument{'s' * (len(params) != 1)}, but "
                   f"{len(args)} were given positionally")
    for k in kwargs:
        if k not in params:
            raise fail(f"got an unexpected keyword argument '{k}'")
        if params.index(k) < len(args):
            raise fail(f"got multiple values for argument '{k}'")
    defaults = func.__defaults__ or ()
    first_default = len(params) - len(defaults)
    out = list(args)
    for j in range(len(args), len(params)):
        p = params[j]
        if p in kwargs:
            out.append(kwargs[p])
        elif j >= first_default:
            out.append(defaults[j - first_default])
        else:
            missing = [q for q in params[j:first_default] if q not in kwargs]
            raise fail(f"is missing the argument{'s' * (len(missing) > 1)} "
                       f"{', '.join(repr(m) for m in missing)}")
    return tuple(out)
