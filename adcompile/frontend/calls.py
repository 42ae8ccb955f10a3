"""Calls: `math`/`numpy`/builtin functions by object identity, array methods, user functions.

`CALLS` maps a Python callable (e.g. `math.sin`, `np.sin`, `abs`) to a handler that emits IR.
Anything else that is a plain Python function is a user function and is inlined.
"""
from __future__ import annotations

import builtins
import functools
import math
import random
import types as pytypes
from typing import Any, Callable

import gast
import numpy as np

from ..callables import describe_callable
from .. import messages
from ..custom.functions import CustomFunction
from ..errors import AdError, TypeInferenceError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import BOOL, F32, F64, I64, ArrayType, ScalarType, scalar_of
from ..ir.walk import inline_function
from . import aliasing, elementwise, reductions, shapes
from . import closures, einsum
from .einsum import lower_einsum
from . import linalg, sorting
from ..numerics import linalg as numerics_linalg
from .inlining import inline_call_values, lower_custom_values
from .callargs import float_of, fname, nargs, val
from .env import Global, LocalFunction, Method, describe, unflatten
from .source import get_source

Handler = Callable[..., Any]
CALLS: dict[Any, Handler] = {}
NAMED: dict[str, Handler] = {}


def _reg(*objs, name: str | None = None):
    def deco(fn: Handler) -> Handler:
        for o in objs:
            CALLS[o] = fn
        if name:
            NAMED[name] = fn
        return fn
    return deco


_fname, _nargs, _val, _float_of = fname, nargs, val, float_of


# -- elementwise math -----------------------------------------------------------------------------
def _unary(prim: str, py_math: bool, to_int: bool = False) -> Handler:
    """math.f works on scalars and returns a Python float; np.f works elementwise."""
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, 1)
        v = _val(lw, args[0], node)
        if py_math and isinstance(v.type, ArrayType):
            short = _fname(node).split('.')[-1]
            raise lw.error(node, f"{_fname(node)}() takes a scalar, got an array",
                           f"use np.{short} for arrays" if getattr(np, short, None) in CALLS
                           else "apply it to each element in a loop (NumPy has no "
                           f"np.{short})", TypeInferenceError)
        dt = F64 if py_math else _float_of(v)
        out = lw.emit(prim, [lw.to_dtype(v, dt)], name=prim)
        if to_int:
            out = lw.emit("cast", [out], {"to": "i64"}, name=prim)
        if py_math:
            lw.ctx.weak.add(out.id)
        return out
    return h


_UNARY = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt",
          "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "sinh": "sinh",
          "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan", "asinh": "asinh",
          "acosh": "acosh", "atanh": "atanh", "log10": "log10", "log2": "log2"}
_NP_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
               "arccosh": "acosh", "arctanh": "atanh"}
for _py, _prim in _UNARY.items():
    _reg(getattr(math, _py))(_unary(_prim, True))
    if hasattr(np, _py):
        _reg(getattr(np, _py))(_unary(_prim, False))
for _np_name, _prim in _NP_ALIASES.items():
    _reg(getattr(np, _np_name))(_unary(_prim, False))
for _py in ("erf", "erfc", "lgamma"):
    _reg(getattr(math, _py))(_unary(_py, True))
for _py in ("floor", "ceil", "trunc"):
    _reg(getattr(math, _py))(_unary(_py, True, to_int=True))
    _reg(getattr(np, _py))(_unary(_py, False))


@_reg(math.isnan, np.isnan)
def _isnan(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    return _predicate(lw, "isnan", args[0], node)


@_reg(math.isinf, np.isinf)
def _isinf(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    return _predicate(lw, "isinf", args[0], node)


@_reg(math.isfinite, np.isfinite)
def _isfinite(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    return _predicate(lw, "isfinite", args[0], node)


def _predicate(lw, prim, v, node):
    v = _val(lw, v, node)
    return lw.emit(prim, [lw.to_dtype(v, _float_of(v))], name=prim)


def _math_predicate(prim: str) -> Handler:
    """math.isnan and friends take scalars only, as every math function."""
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, 1)
        v = _val(lw, args[0], node)
        if isinstance(v.type, ArrayType):
            raise lw.error(node, f"{_fname(node)}() takes a scalar, got an array",
                           f"use np.{prim} for arrays", TypeInferenceError)
        return _predicate(lw, prim, v, node)
    return h


for _prim in ("isnan", "isinf", "isfinite"):
    _reg(getattr(math, _prim))(_math_predicate(_prim))


@_reg(builtins.abs, np.abs, np.absolute)
def _abs(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    if scalar_of(v.type) == BOOL:
        v = lw.to_dtype(v, I64)
    return lw._result(lw.emit("abs", [v], name="abs"), v)


@_reg(math.fabs, np.fabs)
def _fabs(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    return lw.emit("abs", [lw.to_dtype(v, _float_of(v))], name="abs")


@_reg(np.sign)
def _sign(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    return lw.emit("sign", [lw.to_dtype(v, I64) if scalar_of(v.type) == BOOL else v])


@_reg(np.square)
def _square(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    return lw.emit("square", [lw.to_dtype(v, I64) if scalar_of(v.type) == BOOL else v])


def _binary_float(prim: str, py_math: bool) -> Handler:
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 2, 2)
        a, b = (_val(lw, x, node) for x in args)
        if py_math and (isinstance(a.type, ArrayType) or isinstance(b.type, ArrayType)):
            raise lw.error(node, f"{_fname(node)}() takes scalars", "use the numpy function "
                           "for arrays", TypeInferenceError)
        dt = F64 if py_math else lw.arith_dtype(a, b)
        dt = dt if dt.is_float else F64
        out = lw.emit(prim, [lw.to_dtype(a, dt), lw.to_dtype(b, dt)], name=prim)
        if py_math:
            lw.ctx.weak.add(out.id)
        return out
    return h


_reg(math.atan2)(_binary_float("atan2", True))
_reg(np.arctan2)(_binary_float("atan2", False))
_reg(math.hypot)(_binary_float("hypot", True))
_reg(np.hypot)(_binary_float("hypot", False))
_reg(math.pow)(_binary_float("pow", True))


@_reg(np.power, builtins.pow)
def _pow(lw, args, kw, node):
    _nargs(lw, args, kw, node, 2, 2)
    a, b = (_val(lw, x, node) for x in args)
    return lw.power(a, b, lw.arith_dtype(a, b))


@_reg(math.log)
def _mlog(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 2)
    out = _unary("log", True)(lw, args[:1], {}, node)
    if len(args) == 2:
        base = _unary("log", True)(lw, args[1:], {}, node)
        out = lw.emit("div", [out, base], name="log")
        lw.ctx.weak.add(out.id)
    return out


@_reg(math.degrees, np.degrees)
def _degrees(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    return lw.binop(gast.Mult(), lw.to_dtype(v, _float_of(v)), lw.const(180 / math.pi, F64),
                    node)


@_reg(math.radians, np.radians)
def _radians(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    v = _val(lw, args[0], node)
    return lw.binop(gast.Mult(), lw.to_dtype(v, _float_of(v)), lw.const(math.pi / 180, F64),
                    node)


def _minmax(prim: str, reduce: str) -> Handler:
    def h(lw, args, kw, node):
        if len(args) == 1:
            v = _val(lw, args[0], node)
            if not isinstance(v.type, ArrayType) or v.type.ndim != 1:
                raise lw.error(node, f"{_fname(node)}() of one argument needs a 1-d array", "",
                               TypeInferenceError)
            return lw.emit(reduce, [v], {"axis": None}, name=reduce)
        _nargs(lw, args, kw, node, 2, 64)
        acc = _val(lw, args[0], node)
        for b in args[1:]:
            b = _val(lw, b, node)
            if isinstance(acc.type, ArrayType) or isinstance(b.type, ArrayType):
                raise lw.error(node, f"{_fname(node)}() of arrays is ambiguous",
                               f"use np.{prim}imum(a, b) for elementwise or np.{reduce}(x)",
                               TypeInferenceError)
            dt = lw.arith_dtype(acc, b)
            x, y = lw.to_dtype(acc, dt), lw.to_dtype(b, dt)
            if dt.is_float:   # CPython keeps x unless y is strictly better: NaN is not
                r = lw.emit("select", [lw.emit("gt" if prim == "max" else "lt", [y, x]), y, x],
                            name=prim)
            else:
                r = lw.emit(prim + "imum", [x, y], name=prim)
            acc = lw._result(r, acc, b)
        return acc
    return h


_reg(builtins.min)(_minmax("min", "min"))
_reg(builtins.max)(_minmax("max", "max"))


def _elementwise2(prim: str) -> Handler:
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 2, 2)
        a, b = (_val(lw, x, node) for x in args)
        dt = lw.arith_dtype(a, b)
        dt = I64 if dt == BOOL else dt
        return lw._result(lw.emit(prim, [lw.to_dtype(a, dt), lw.to_dtype(b, dt)], name=prim),
                          a, b)
    return h


_reg(np.minimum)(_elementwise2("minimum"))
_reg(np.maximum)(_elementwise2("maximum"))


def _nan_ignoring(prim: str) -> Handler:
    """np.fmin/np.fmax: like minimum/maximum, but a NaN loses to a number (NaN only where
    both are NaN)."""
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 2, 2)
        x, y = (_val(lw, v, node) for v in args)
        dt = lw.arith_dtype(x, y)
        dt = I64 if dt == BOOL else dt
        a, b = lw.to_dtype(x, dt), lw.to_dtype(y, dt)
        r = lw.emit(prim, [a, b], name=prim)
        if dt.is_float:
            r = lw.emit("select", [lw.emit("isnan", [b]), a, r], name=prim)
            r = lw.emit("select", [lw.emit("isnan", [a]), b, r], name=prim)
        return lw._result(r, x, y)
    return h


_reg(np.fmin)(_nan_ignoring("minimum"))
_reg(np.fmax)(_nan_ignoring("maximum"))


@_reg(np.clip)
def _clip(lw, args, kw, node):
    _nargs(lw, args, kw, node, 3, 3)
    lo = _elementwise2("maximum")(lw, [args[0], args[1]], {}, node)
    return _elementwise2("minimum")(lw, [lo, args[2]], {}, node)


@_reg(np.where, name="where")
def _where(lw, args, kw, node):
    _nargs(lw, args, kw, node, 3, 3)
    c, a, b = (_val(lw, x, node) for x in args)
    if scalar_of(c.type) != BOOL:
        c = lw.emit("ne", [c, lw.const(0, scalar_of(c.type))])
    dt = lw.arith_dtype(a, b)
    return lw.emit("select", [c, lw.to_dtype(a, dt), lw.to_dtype(b, dt)], name="where")


# -- casts ----------------------------------------------------------------------------------------
def _cast(dt: ScalarType, weak: bool) -> Handler:
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, 1)
        v = _val(lw, args[0], node)
        if isinstance(v.type, ArrayType):
            raise lw.error(node, f"{_fname(node)}() of an array", "use x.astype(...)",
                           TypeInferenceError)
        if dt == BOOL:
            return lw.to_bool(v, node)
        if dt == I64 and scalar_of(v.type).is_float:
            _check_int_range(lw, v)
        out = lw.to_dtype(v, dt)
        if out is v and not weak:
            if lw.known(v) is not None:     # np.float64(2.0): a NumPy scalar, not weak
                return lw.const(lw.known(v), dt, weak=False)
            if v.id in lw.ctx.weak:
                out = lw.emit("cast", [v], {"to": dt.name}, name=v.name)
            return out
        if weak:
            lw.ctx.weak.add(out.id)
        else:
            lw.ctx.weak.discard(out.id)
        return out
    return h


def _check_int_range(lw, v: Value) -> None:
    """int(x) of a float: CPython raises ValueError for NaN and OverflowError for infinity;
    an int64 cannot hold |x| >= 2**63 either (the conversion would give INT64_MIN)."""
    k = lw.known(v)
    if k is not None and math.isfinite(k) and -2.0 ** 63 <= k < 2.0 ** 63:
        return
    ft = scalar_of(v.type)
    lw.emit("check", [lw.emit("eq", [v, v], name="not_nan")],
            {"message": messages.INT_OF_NAN, "kind": "value"}, types=[])
    lo = lw.emit("ge", [v, lw.const(-2.0 ** 63, ft, weak=False)])
    hi = lw.emit("lt", [v, lw.const(2.0 ** 63, ft, weak=False)])
    lw.emit("check", [lw.emit("and", [lo, hi], name="fits")],
            {"message": messages.INT_OVERFLOW, "kind": "overflow"}, types=[])


_reg(builtins.float)(_cast(F64, True))
_reg(builtins.int)(_cast(I64, True))
_reg(builtins.bool, np.bool_)(_cast(BOOL, True))
_reg(np.float64)(_cast(F64, False))
_reg(np.float32)(_cast(F32, False))
_reg(np.int64)(_cast(I64, False))

_DTYPES = {float: F64, np.float64: F64, np.float32: F32, int: I64, np.int64: I64,
           bool: BOOL, np.bool_: BOOL}


def _dtype_arg(lw, v, node, default: ScalarType | None) -> ScalarType:
    if v is None:
        return default
    obj = v.obj if isinstance(v, Global) else None
    if obj is not None:
        try:
            return _DTYPES[np.dtype(obj).type]
        except (TypeError, KeyError):
            pass
    raise lw.error(node, f"unsupported dtype {describe(v)}",
                   "use float/np.float64, np.float32, int/np.int64 or bool", TypeInferenceError)


# -- array creation -------------------------------------------------------------------------------
def _shape_arg(lw, v, node) -> list[Value]:
    items = list(v) if isinstance(v, (tuple, list)) else [v]
    return [lw.to_int(x, node) for x in items]


def _alloc(prim: str) -> Handler:
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, 2, ("dtype",))
        dims = _shape_arg(lw, args[0], node)
        dt = _dtype_arg(lw, kw.get("dtype", args[1] if len(args) > 1 else None), node, F64)
        return lw.emit(prim, dims, {"dtype": dt.name}, name=prim)
    return h


_reg(np.zeros)(_alloc("zeros"))
_reg(np.ones)(_alloc("ones"))
_reg(np.empty)(_alloc("empty"))


def _like(prim: str) -> Handler:
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, 2, ("dtype",))
        x = _val(lw, args[0], node)
        if not isinstance(x.type, ArrayType):
            raise lw.error(node, f"{_fname(node)}() needs an array", "", TypeInferenceError)
        dims = [lw.emit("dim", [x], {"axis": k}, name="n") for k in range(x.type.ndim)]
        dt = _dtype_arg(lw, kw.get("dtype", args[1] if len(args) > 1 else None), node,
                        x.type.dtype)
        return lw.emit(prim, dims, {"dtype": dt.name}, name=prim)
    return h


_reg(np.zeros_like)(_like("zeros"))
_reg(np.ones_like)(_like("ones"))
_reg(np.empty_like)(_like("empty"))


def _matrix_of_ones(make, names: tuple[str, ...]) -> Handler:
    """np.eye(N, M=None, k=0, dtype=float), np.tri (the same arguments); np.identity(n)."""
    def h(lw, args, kw, node):
        _nargs(lw, args, kw, node, 1, len(names) + 1, names[len(args) - 1:] + ("dtype",))
        given = dict(zip(("N",) + names, args)) | {k: v for k, v in kw.items() if k != "dtype"}
        n = lw.to_int(given["N"], node)
        m = given.get("M")
        m = n if m is None else lw.to_int(m, node)
        k = given.get("k")
        k = lw.const(0, I64, weak=False) if k is None else lw.to_int(k, node)
        dt = _dtype_arg(lw, kw.get("dtype"), node, F64)
        return lw.to_dtype(inline_call_values(lw, make, node, [n, m, k]), dt)
    return h


_reg(np.eye)(_matrix_of_ones(numerics_linalg.eye, ("M", "k")))
_reg(np.tri)(_matrix_of_ones(numerics_linalg.tri, ("M", "k")))
_reg(np.identity)(_matrix_of_ones(numerics_linalg.eye, ()))


@_reg(np.full)
def _full(lw, args, kw, node):
    _nargs(lw, args, kw, node, 2, 3, ("dtype",))
    dims = _shape_arg(lw, args[0], node)
    fill = _val(lw, args[1], node)
    dt = _dtype_arg(lw, kw.get("dtype", args[2] if len(args) > 2 else None), node,
                    scalar_of(fill.type))
    return lw.emit("full", dims + [lw.to_dtype(fill, dt)], {"dtype": dt.name}, name="full")


@_reg(np.full_like)
def _full_like(lw, args, kw, node):
    _nargs(lw, args, kw, node, 2, 2)
    x = _val(lw, args[0], node)
    dims = [lw.emit("dim", [x], {"axis": k}, name="n") for k in range(x.type.ndim)]
    return lw.emit("full", dims + [lw.to_dtype(_val(lw, args[1], node), x.type.dtype)],
                   {"dtype": x.type.dtype.name}, name="full")


@_reg(np.arange)
def _arange(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 3, ("dtype",))
    vals = [_val(lw, a, node) for a in args]
    if any(isinstance(v.type, ArrayType) for v in vals):
        raise lw.error(node, f"{_fname(node)}() takes scalar bounds, got an array", "",
                       TypeInferenceError)
    if len(vals) == 1:
        vals = [lw.const(0, I64)] + vals
    if len(vals) == 2:
        vals.append(lw.const(1, I64))
    default = I64 if all(scalar_of(v.type) in (I64, BOOL) for v in vals) else F64
    dt = _dtype_arg(lw, kw.get("dtype"), node, default)
    return lw.emit("arange", [lw.to_dtype(v, dt) for v in vals], {"dtype": dt.name},
                   name="arange")


@_reg(np.copy, name="copy")
def _copy(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    x = _val(lw, args[0], node)
    return lw.emit("copy", [x], name=x.name) if isinstance(x.type, ArrayType) else x


@_reg(np.asarray)
def _asarray(lw, args, kw, node):
    """np.asarray of an array that already has the dtype is that array, not a copy: writes
    through the result change it, as in NumPy."""
    x = args[0] if args else None
    if isinstance(x, Value) and isinstance(x.type, ArrayType):
        _nargs(lw, args, kw, node, 1, 2, ("dtype",))
        want = kw.get("dtype", args[1] if len(args) > 1 else None)
        if _dtype_arg(lw, want, node, x.type.dtype) == x.type.dtype:
            return x
    return _array(lw, args, kw, node)


@_reg(np.array)
def _array(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 2, ("dtype",))
    data = args[0]
    if isinstance(data, Value) and isinstance(data.type, ArrayType):
        dt = _dtype_arg(lw, kw.get("dtype", args[1] if len(args) > 1 else None), node,
                        data.type.dtype)
        if dt != data.type.dtype:    # np.asarray(x, dtype=np.int64) converts, as astype
            return lw.emit("cast", [data], {"to": dt.name}, name=data.name)
        return lw.emit("copy", [data], name=data.name)
    if not isinstance(data, (list, tuple)) or not data:
        raise lw.error(node, f"{_fname(node)}() needs a non-empty list of numbers", "",
                       TypeInferenceError)
    rows = [list(r) if isinstance(r, (list, tuple)) else None for r in data]
    if all(r is not None for r in rows):
        if len({len(r) for r in rows}) != 1:
            raise lw.error(node, "ragged nested lists cannot become an array", "",
                           TypeInferenceError)
        items, dims = [x for r in rows for x in r], [len(rows), len(rows[0])]
    else:
        items, dims = list(data), [len(data)]
    vals = [_val(lw, x, node) for x in items]
    for v in vals:
        if isinstance(v.type, ArrayType):
            raise lw.error(node, "np.array() of arrays is not supported", "fill an array with "
                           "np.empty and slice assignment", TypeInferenceError)
    dt = vals[0].type
    for v in vals[1:]:
        dt = lw.arith_dtype(lw.const(0, dt, weak=False), v) if dt != v.type else dt
    dt = _dtype_arg(lw, kw.get("dtype", args[1] if len(args) > 1 else None), node, dt)
    arr = lw.emit("empty", [lw.const(d, I64) for d in dims], {"dtype": dt.name}, name="arr")
    for k, v in enumerate(vals):
        idx = [k] if len(dims) == 1 else [k // dims[1], k % dims[1]]
        arr = lw.emit("setitem", [arr, lw.to_dtype(v, dt)] + [lw.const(i, I64) for i in idx],
                      name="arr")
    return arr


# -- reductions and linear algebra ----------------------------------------------------------------
# -- breadth: reductions with axis tuples and keepdims, statistics, scans (reductions.py) -----
for _name, _h in reductions.CALLS.items():
    _reg(getattr(np, _name), name=_name if _name in reductions.METHODS else None)(_h)
_reduce = reductions.reduction


@_reg(builtins.sum)
def _builtin_sum(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    x = _val(lw, args[0], node)
    if not isinstance(x.type, ArrayType) or x.type.ndim != 1:
        raise lw.error(node, "sum() needs a 1-d array", "use np.sum(x, axis=...)",
                       TypeInferenceError)
    return _reduce("sum")(lw, [x], {}, node)


@_reg(np.dot, np.matmul, name="matmul")
def _matmul(lw, args, kw, node):
    _nargs(lw, args, kw, node, 2, 2)
    a, b = (_val(lw, x, node) for x in args)
    if not isinstance(a.type, ArrayType) or not isinstance(b.type, ArrayType):
        if _fname(node).endswith("dot"):
            return lw.binop(gast.Mult(), a, b, node)
        raise lw.error(node, "matmul needs two arrays", "use * for scalars", TypeInferenceError)
    if a.type.ndim > 2 or b.type.ndim > 2:
        raise lw.error(node, "matmul of arrays with more than 2 dims is not supported", "",
                       TypeInferenceError)
    dt = lw.arith_dtype(a, b)   # int @ int is int64 and bool @ bool is bool, as in NumPy
    out = lw.emit("matmul", [lw.to_dtype(a, I64 if dt == BOOL else dt),
                             lw.to_dtype(b, I64 if dt == BOOL else dt)], name="dot")
    if dt == BOOL:
        zero = lw.const(0, I64, weak=False)
        out = lw.emit("ne", [out, zero], name="dot")
    return out


@_reg(np.inner)
def _inner(lw, args, kw, node):
    _nargs(lw, args, kw, node, 2, 2)
    a, b = (_val(lw, x, node) for x in args)
    if not (isinstance(a.type, ArrayType) and a.type.ndim == 1 and
            isinstance(b.type, ArrayType) and b.type.ndim == 1):
        raise lw.error(node, "np.inner supports 1-d arrays", "", TypeInferenceError)
    return _matmul(lw, [a, b], {}, node)


@_reg(np.linalg.norm)
def _norm(lw, args, kw, node):
    """np.linalg.norm(x, ord=None, axis=None): vector norms (ord None/2, 1, inf, -inf, a
    number p >= 1) of a 1-d array or along `axis`; matrix norms of a 2-d array ('fro'/None,
    1, inf, -1, -inf: max/min column or row abs sums). The spectral and nuclear norms need an
    SVD and are rejected by name. Built from reductions, so both modes differentiate it."""
    what = "np.linalg.norm"
    if len(args) > 3:
        raise lw.error(node, f"{what}() takes 1 to 3 arguments, got {len(args)}", "",
                       TypeInferenceError)
    for k in kw:
        if k not in ("ord", "axis"):
            raise lw.error(node, f"{what}() does not support the keyword '{k}' in compiled "
                           "code", "supported: ord=, axis=", UnsupportedSyntax)
    x = _val(lw, args[0], node)
    if not isinstance(x.type, ArrayType):
        return _abs(lw, [x], {}, node)
    order = kw.get("ord", args[1] if len(args) > 1 else None)
    axis_v = kw.get("axis", args[2] if len(args) > 2 else None)
    if isinstance(order, Value):
        known = lw.known(order)
        if known is None or isinstance(known, bool):
            raise lw.error(node, f"{what}(): ord must be a constant (None, 1, 2, np.inf, "
                           "-np.inf, a number, or 'fro')", "write ord as a literal or "
                           "np.inf", TypeInferenceError)
        order = float(known)
    if order is not None and not isinstance(order, (float, str)):
        raise lw.error(node, f"{what}(): unsupported ord {describe(order)}",
                       "ord may be None, 1, 2, np.inf, -np.inf, a number, or 'fro'",
                       TypeInferenceError)
    nd = x.type.ndim
    axis = None
    if axis_v is not None:
        k = lw.known(axis_v) if isinstance(axis_v, Value) else None
        if not isinstance(k, int) or isinstance(k, bool) or not -nd <= k < nd:
            raise lw.error(node, f"{what}(): axis must be an integer constant in range for a "
                           f"{nd}-d array (a tuple of axes is not supported)", "e.g. axis=1",
                           TypeInferenceError)
        axis = k % nd
    x = lw.to_dtype(x, _float_of(x))
    dt = x.type.dtype

    def red(prim, v, ax):
        return lw.emit(prim, [v], {"axis": ax}, name="norm")

    def absx():
        return lw.emit("abs", [x], name="absx")
    if nd == 1 or axis is not None:     # vector norms
        if order == "fro" or isinstance(order, str):
            raise lw.error(node, f"{what}(): ord={order!r} is a matrix norm; this is a vector "
                           "norm (a 1-d array or axis=)", "use ord=None/1/2/np.inf",
                           TypeInferenceError)
        if order is None or order == 2.0:
            return lw.emit("sqrt", [red("sum", lw.emit("mul", [x, x], name="sq"), axis)],
                           name="norm")
        if order == 1.0:
            return red("sum", absx(), axis)
        if order == float("inf"):
            return red("max", absx(), axis)
        if order == float("-inf"):
            return red("min", absx(), axis)
        if order >= 1.0:
            p = lw.const(order, dt, weak=False, name="p")
            s = red("sum", lw.emit("pow", [absx(), p], name="absp"), axis)
            return lw.emit("pow", [s, lw.const(1.0 / order, dt, weak=False, name="inv_p")],
                           name="norm")
        raise lw.error(node, f"{what}(): ord={order:g} is not supported in compiled code "
                       "(not a norm for p < 1; ord=0 counts nonzeros and has no derivative)",
                       "use ord=1, 2, np.inf, -np.inf or p >= 1", UnsupportedSyntax)
    if nd != 2:
        raise lw.error(node, f"{what}() of a {nd}-d array needs axis= (NumPy: a vector norm "
                       "of a 1-d array, a matrix norm of a 2-d one)", "pass axis=k",
                       TypeInferenceError)
    if order is None or order == "fro":
        sq = lw.emit("mul", [x, x], name="sq")
        return lw.emit("sqrt", [red("sum", sq, None)], name="norm")
    if order in (1.0, -1.0, float("inf"), float("-inf")):
        sums = red("sum", absx(), 0 if abs(order) == 1.0 else 1)   # column / row sums
        return red("max" if order > 0 else "min", sums, None)
    if order == 2.0:
        return inline_call_values(lw, numerics_linalg.spectral_norm, node,
                                  [lw.to_dtype(x, dt)])
    shown = order if isinstance(order, str) else f"{order:g}"
    raise lw.error(node, f"{what}(): the matrix norm ord={shown!r} is not supported in "
                   "compiled code (ord=-2 and 'nuc' need all singular values)",
                   "use ord=2, 'fro', 1, -1, np.inf or -np.inf, or pass the norm in",
                   UnsupportedSyntax)


@_reg(np.einsum)
def _einsum(lw, args, kw, node):
    return lower_einsum(lw, args, kw, node)


@_reg(np.sort)
def _sort(lw, args, kw, node):
    return sorting.lower_sort(lw, args, kw, node, arg=False)


@_reg(np.argsort)
def _argsort(lw, args, kw, node):
    return sorting.lower_sort(lw, args, kw, node, arg=True)


@_reg(np.searchsorted)
def _searchsorted(lw, args, kw, node):
    return sorting.lower_searchsorted(lw, args, kw, node)


@_reg(np.interp)
def _interp(lw, args, kw, node):
    return sorting.lower_interp(lw, args, kw, node)


@_reg(np.vdot)
def _vdot(lw, args, kw, node):
    return einsum.lower_vdot(lw, args, kw, node)


@_reg(np.tensordot)
def _tensordot(lw, args, kw, node):
    return einsum.lower_tensordot(lw, args, kw, node)


@_reg(np.cross)
def _cross(lw, args, kw, node):
    return einsum.lower_cross(lw, args, kw, node)


@_reg(np.transpose)
def _transpose(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    x = _val(lw, args[0], node)
    if not isinstance(x.type, ArrayType) or x.type.ndim < 2:
        return x
    if x.type.ndim > 2:
        raise lw.error(node, "transpose of 3-d arrays is not supported", "",
                       TypeInferenceError)
    return aliasing.note_view(lw, x, lw.emit("transpose", [x], name=x.name + "T"), "transpose")


@_reg(builtins.len)
def _len(lw, args, kw, node):
    _nargs(lw, args, kw, node, 1, 1)
    x = args[0]
    if isinstance(x, tuple):
        return lw.const(len(x), I64)
    x = _val(lw, x, node)
    if not isinstance(x.type, ArrayType):
        raise lw.error(node, "len() of a scalar", "", TypeInferenceError)
    out = lw.emit("dim", [x], {"axis": 0}, name="n")
    lw.ctx.weak.add(out.id)   # a Python int, as in NumPy
    return out


@_reg(builtins.range)
def _range(lw, args, kw, node):
    raise lw.error(node, "range() can only be used as the iterable of a for loop",
                   "use np.arange(...) for an array of numbers")


# -- methods --------------------------------------------------------------------------------------
_METHODS = {"sum": "sum", "prod": "prod", "max": "max", "min": "min", "mean": "mean",
            "copy": "copy", "dot": "matmul"}


METHOD_NAMES = tuple(_METHODS) + ("astype", "transpose")


def _method(lw, m: Method, args, kw, node):
    extra = reductions.METHODS.get(m.name) or shapes.METHODS.get(m.name)
    if extra is not None:
        return extra(lw, [m.obj] + args, kw, node)
    if m.name in _METHODS:
        return NAMED[_METHODS[m.name]](lw, [m.obj] + args, kw, node)
    if m.name == "astype":
        _nargs(lw, args, kw, node, 1, 1)
        dt = _dtype_arg(lw, args[0], node, None)
        return lw.emit("cast", [m.obj], {"to": dt.name}, name=m.obj.name) \
            if dt != m.obj.type.dtype else lw.emit("copy", [m.obj], name=m.obj.name)
    if m.name == "transpose":
        return _transpose(lw, [m.obj], kw, node)
    raise lw.error(node, f"the array method '.{m.name}()' is not supported",
                   "supported: " + " ".join(f".{n}()" for n in sorted(
                       set(METHOD_NAMES) | set(reductions.METHODS) | set(shapes.METHODS))))


# -- entry ----------------------------------------------------------------------------------------
def _lower_arg(lw, node):
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        return node.value    # a string option (np.linalg.norm's ord='fro'); handlers check
    if isinstance(node, gast.List):
        return [_lower_arg(lw, e) for e in node.elts]
    if isinstance(node, gast.Tuple) and any(isinstance(e, gast.List) for e in node.elts):
        return tuple(_lower_arg(lw, e) for e in node.elts)   # tensordot's axes=([1], [0])
    if isinstance(node, gast.Starred):
        raise lw.error(node, "*args in calls are not supported", "pass arguments explicitly")
    return lw.lower_expr(node)


def _lower_option(lw, node):
    """A keyword option: string constants stay Python strings (method="lm")."""
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        return node.value
    return _lower_arg(lw, node)


def lower_call(lw, node) -> Any:
    f = lw.lower_expr(node.func)
    for k in node.keywords:
        if k.arg is None:
            raise lw.error(node, "**kwargs in calls are not supported",
                           "pass arguments explicitly")
    if isinstance(f, LocalFunction):
        return inline_call(lw, f, node)
    if isinstance(f, Method):
        args = [_lower_arg(lw, a) for a in node.args]
        kw = {k.arg: _lower_arg(lw, k.value) for k in node.keywords}
        return _method(lw, f, args, kw, node)
    if not isinstance(f, Global):
        raise lw.error(node.func, f"{describe(f)} is not callable", "", TypeInferenceError)
    obj = f.obj
    text = float_of_text(lw, f, node)
    if text is not None:
        return text
    try:
        handler = CALLS.get(obj)
    except TypeError:
        handler = None
    if handler is not None:
        args = [_lower_arg(lw, a) for a in node.args]
        kw = {k.arg: _lower_arg(lw, k.value) for k in node.keywords}
        return handler(lw, args, kw, node)
    if isinstance(obj, CustomFunction):
        return lower_custom(lw, obj, node)
    own = getattr(type(obj), "__adcompile_lower__", None)
    if own is not None:   # an adcompile object that lowers its own calls (diagnostics)
        args = [_lower_arg(lw, a) for a in node.args]
        return own(obj, lw, args, {k.arg: _lower_arg(lw, k.value) for k in node.keywords},
                   node)
    own = getattr(obj, "__adcompile_lower__", None) if isinstance(
        obj, pytypes.FunctionType) else None
    if own is not None:   # an adcompile function with a compiled form (solvers)
        args = [_lower_arg(lw, a) for a in node.args]
        return own(lw, args, {k.arg: _lower_option(lw, k.value) for k in node.keywords},
                   node)
    while getattr(obj, "__adcompile__", False) and not hasattr(obj, "__adcompile_call__"):
        obj = obj.py_func     # a jit object: what it compiles
    hook = getattr(obj, "__adcompile_call__", None)
    if hook is not None:
        return lower_program_call(lw, hook, node)
    if isinstance(obj, pytypes.FunctionType):
        if is_library_function(obj):
            raise lw.error(node, f"'{_fname(node)}' is not supported in compiled code: it is "
                           f"a {_library_of(obj)} function written in Python, not part of the "
                           "subset", _LIBRARY_HINTS.get(obj.__name__, _LIBRARY_HINT))
        return inline_call(lw, obj, node)
    library = (getattr(obj, "__module__", None) or "").split(".")[0] in ("builtins", "numpy",
                                                                         "math")
    if not library and not getattr(obj, "__adcompile__", False) and (isinstance(obj, (type, functools.partial, pytypes.MethodType)) or (
            callable(obj) and not isinstance(obj, (pytypes.BuiltinFunctionType, np.ufunc)))):
        what, hint = describe_callable(obj)
        raise lw.error(node, f"'{_fname(node)}' cannot be called in compiled code: {what}",
                       hint, UnsupportedSyntax)
    name = getattr(obj, "__name__", _fname(node))
    module = getattr(obj, "__module__", None) or ""
    shown = (f"{module}.{name}" if module and module not in ("builtins",) else
             name if module else _fname(node))
    if module.startswith(("numpy.random", "random")) or isinstance(
            getattr(obj, "__self__", None), (np.random.Generator, np.random.RandomState,
                                           random.Random)):
        raise lw.error(node, f"call to unsupported function '{shown}': random numbers are not "
                       "drawn in compiled code", "draw the samples in Python (rng = "
                       "np.random.default_rng(seed); z = rng.normal(size=n)) and pass them in "
                       "as an argument: the derivative is then the one for those samples")
    raise lw.error(node, f"call to unsupported function '{shown}'",
                   "compiled code can call math/numpy functions of the supported subset and "
                   "your own Python functions")


_LIBRARY_HINT = ("compiled code calls the math/NumPy functions listed in docs/subset.md and "
                 "your own functions; write this one with those")
_LIBRARY_HINTS = {
    "isscalar": "argument types are fixed per compiled signature: test it in Python before "
                "calling the compiled function",
    "broadcast_shapes": "use x.shape and arithmetic on the dimensions",
}


def _library_roots() -> tuple[str, ...]:
    import os
    import sysconfig
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.add(os.path.dirname(np.__file__))
    return tuple(os.path.realpath(r) + os.sep for r in roots)


_ROOTS: list[tuple[str, ...]] = []


def is_library_function(func: pytypes.FunctionType) -> bool:
    """Functions of NumPy, the standard library or installed packages (other than
    adcompile itself) are never inlined from their source: that source is outside the
    subset, and an error in it would point into site-packages instead of the user's line."""
    import os
    module = getattr(func, "__module__", "") or ""
    if module.split(".")[0] == "adcompile":
        return False
    if module.split(".")[0] in ("numpy", "scipy", "math"):
        return True
    if not _ROOTS:
        _ROOTS.append(_library_roots())
    path = os.path.realpath(func.__code__.co_filename)
    return path.startswith(_ROOTS[0])


def _library_of(func) -> str:
    root = (getattr(func, "__module__", "") or "").split(".")[0]
    return "NumPy" if root == "numpy" else f"'{root}'" if root else "library"


def lower_program_call(lw, hook, node) -> Any:
    """A call to a derivative object (or `adcompile.jvp`/`vjp`) from compiled code: the hook
    builds the derivative's program for these arguments, which is inlined here."""
    args = [_lower_arg(lw, a) for a in node.args]
    kw = {k.arg: _lower_arg(lw, k.value) for k in node.keywords}
    try:
        fn, operands, pack = hook(args, kw, lambda v: v.id in lw.ctx.weak, Global)
    except AdError as e:   # the derivative was built for this call: point at it
        raise e.located(lw.src.loc(node))
    return pack(inline_function(fn, lw.block, list(operands)))


def call_builtin(lw, name: str, args, kw, node) -> Any:
    return NAMED[name](lw, args, kw, node)


def inline_call(lw, func, node) -> Any:
    """Inline a user function (or a local function, `closures`): lower its body into the
    caller's current block."""
    local = isinstance(func, LocalFunction)
    fname_ = func.name if local else func.__name__
    if func in lw.ctx.stack:
        raise lw.error(node, f"recursive call to '{fname_}' is not supported",
                       "rewrite the recursion as a loop")
    src = func.src if local else get_source(func)
    params = [a.id for a in src.node.args.args]
    child = type(lw)(src, lw.ctx, lw.block, lw.depth + 1)
    child.closure = func if local else None
    child._check_signature(src.node)
    if len(node.args) > len(params):
        raise lw.error(node, f"{fname_}() takes {len(params)} arguments but "
                       f"{len(node.args)} were given", "", TypeInferenceError)
    bound: dict[str, Any] = {}
    for p, a in zip(params, node.args):
        bound[p] = _lower_arg(lw, a)
    for k in node.keywords:
        if k.arg not in params:
            raise lw.error(node, f"{fname_}() has no argument '{k.arg}'", "",
                           TypeInferenceError)
        if k.arg in bound:
            raise lw.error(node, f"{fname_}() got two values for '{k.arg}'", "",
                           TypeInferenceError)
        bound[k.arg] = _lower_arg(lw, k.value)
    defaults = func.defaults if local else (func.__defaults__ or ())
    for i, p in enumerate(params):
        if p not in bound:
            j = i - (len(params) - len(defaults))
            if j < 0:
                raise lw.error(node, f"{fname_}() is missing the argument '{p}'", "",
                               TypeInferenceError)
            # a local function's defaults were evaluated where it was defined
            bound[p] = defaults[j] if local else lw.from_python(defaults[j], node, p)
    # parameters reach the caller's objects: writes and returned arguments alias as in Python
    child.env.views, child.env.may = dict(lw.env.views), set(lw.env.may)
    entry: dict[int, Value] = {}
    for p in params:
        v = bound[p]
        if isinstance(v, list):
            raise lw.error(node, "lists cannot be passed to functions", "use a NumPy array",
                           TypeInferenceError)
        if isinstance(v, Value):
            key = aliasing.ensure_key(lw.env, v) if isinstance(v.type, ArrayType) else None
            child.env.bind(p, v, key=key)
            if key is not None and key not in entry:
                entry[key] = v
                child.env.bind(f"arg.{key}", v, key=key)   # reachable after a rebinding
        else:
            child.env.vars[p] = v
            for leaf in _array_leaves(v):   # arrays in a tuple argument are the caller's too
                key = aliasing.ensure_key(lw.env, leaf)
                if key not in entry:
                    entry[key] = leaf
                    child.env.bind(f"arg.{key}", leaf, key=key)
    for key in list(entry):   # the bases of view arguments: f(y[::2], y[1:]) share y
        rec = lw.env.views.get(key)
        while aliasing.is_lazy(rec) and rec.base not in entry:
            base = aliasing.current(lw, rec.base)
            if base is None:
                break
            entry[rec.base] = base
            child.env.bind(f"arg.{rec.base}", base, key=rec.base)
            rec = lw.env.views.get(rec.base)
    closures.enter(lw, child, func, bound, entry, node)
    lw.ctx.stack.append(func)
    child.env.bind("return", child.const(False, BOOL, name="returned"))
    child.lower_body(src.node.body)
    lw.ctx.stack.pop()
    results = child._final_results(src.node)
    # writes into array arguments are visible to the caller, as in Python; a returned
    # argument (or a choice of them) keeps its object
    for k, rec in child.env.views.items():
        lw.env.views.setdefault(k, rec)
    lw.env.may |= child.env.may
    for key, v in entry.items():
        new = aliasing.current(child, key)
        if isinstance(new, Value) and new is not v and new.type == v.type:
            aliasing.write(lw, key, new, lw.src.loc(node))
    if not results:
        return None
    if child.ret_tree is not None:
        return unflatten(child.ret_tree, results)
    return tuple(results) if child.ret_tuple else results[0]


def _array_leaves(v) -> list[Value]:
    if isinstance(v, tuple):
        return [leaf for x in v for leaf in _array_leaves(x)]
    return [v] if isinstance(v, Value) and isinstance(v.type, ArrayType) else []


def lower_custom(lw, cf, node) -> Any:
    """A call to a function with custom derivative rules: a `custom` op whose region holds
    the inlined primal body, so transforms can swap in the rules."""
    args = [_lower_arg(lw, a) for a in node.args]
    if node.keywords or not all(isinstance(a, Value) for a in args):
        raise lw.error(node, f"'{cf.__name__}' has custom derivative rules: call it with "
                       "positional number/array arguments", "", TypeInferenceError)
    return lower_custom_values(lw, cf, args, node)


# -- breadth (issue 16): shape functions (shapes.py), registered last: they replace the
# one-argument np.transpose above
for _name, _h in shapes.CALLS.items():
    if getattr(np, _name, None) is not None:
        _reg(getattr(np, _name), name=_name)(_h)
for _name, _h in elementwise.CALLS.items():
    if getattr(np, _name, None) is not None and getattr(np, _name) not in CALLS:
        _reg(getattr(np, _name))(_h)
_reg(builtins.round)(elementwise.builtin_round)
for _name, _h in linalg.HANDLERS.items():
    _reg(getattr(np.linalg, _name))(_h)
_FLOAT_WORDS = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
                "+infinity": math.inf, "-infinity": -math.inf, "nan": math.nan,
                "+nan": math.nan, "-nan": math.nan}


def float_of_text(lw, f, node):
    """float('inf'), float('nan'), np.float64('-inf'): the one use of a string in compiled
    code, a constant (None: not such a call)."""
    if f.obj not in (builtins.float, np.float64, np.float32) or len(node.args) != 1 or \
            node.keywords or not isinstance(node.args[0], gast.Constant) or \
            not isinstance(node.args[0].value, str):
        return None
    text = node.args[0].value.strip().lower()
    if text not in _FLOAT_WORDS:
        try:
            value = float(text)
        except ValueError:
            raise lw.error(node, f"could not convert string to float: {node.args[0].value!r}",
                           "", TypeInferenceError) from None
    else:
        value = _FLOAT_WORDS[text]
    dt = F32 if f.obj is np.float32 else F64
    return lw.const(value, dt, weak=f.obj is builtins.float)
