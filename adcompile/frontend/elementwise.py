"""NumPy elementwise functions beyond the primitive set, and the explicit ufunc calls:
logaddexp/logaddexp2, sinc, cbrt, exp2, round/rint/around, mod/remainder, isclose/allclose,
logical_*, and np.add/np.subtract/... as the operators they are.

Each is a composition of existing primitives chosen so that its derivative is right where
NumPy's function is smooth and its value right at the edges (infinities, zeros): the
expression a branch would divide by zero in is fed a safe input (`select` on the input, not
only on the result), so reverse mode never multiplies a zero adjoint by inf. Piecewise
constant functions (round) are built from floor and have derivative 0.
"""
from __future__ import annotations

import math
from typing import Any

import gast

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import BOOL, F64, I64, ArrayType, scalar_of
from .callargs import registrar, arg, const_int, fname, nargs, val

CALLS: dict[str, Any] = {}      # numpy attribute name -> handler


_reg = registrar(CALLS)


def _floats(lw, args, node):
    vals = [val(lw, a, node) for a in args]
    dt = vals[0].type if len(vals) == 1 else lw.arith_dtype(vals[0], vals[1])
    dt = scalar_of(dt)
    dt = dt if dt.is_float else F64
    return [lw.to_dtype(v, dt) for v in vals], dt


def _c(lw, x: float, dt) -> Value:
    return lw.const(x, dt)


def _e(lw, prim, *xs, **attrs):
    return lw.emit(prim, list(xs), attrs or None, name=prim)


# -- explicit ufunc calls ------------------------------------------------------------------------
_BIN = {"add": gast.Add, "subtract": gast.Sub, "multiply": gast.Mult, "divide": gast.Div,
        "true_divide": gast.Div, "floor_divide": gast.FloorDiv, "mod": gast.Mod,
        "remainder": gast.Mod}
_CMP = {"less": gast.Lt, "less_equal": gast.LtE, "greater": gast.Gt, "greater_equal": gast.GtE,
        "equal": gast.Eq, "not_equal": gast.NotEq}


def _binop(op):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 2, 2)
        return lw.binop(op(), val(lw, args[0], node), val(lw, args[1], node), node)
    return h


def _cmpop(op):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 2, 2)
        return lw.compare(op(), val(lw, args[0], node), val(lw, args[1], node), node)
    return h


for _n, _op in _BIN.items():
    CALLS[_n] = _binop(_op)
for _n, _op in _CMP.items():
    CALLS[_n] = _cmpop(_op)


@_reg("negative")
def _negative(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    v = val(lw, args[0], node)
    if scalar_of(v.type) == BOOL:
        raise lw.error(node, "np.negative of booleans is not supported (NumPy raises)",
                       "use np.logical_not", TypeInferenceError)
    return lw._result(lw.emit("neg", [v], name="neg"), v)


@_reg("positive")
def _positive(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    v = val(lw, args[0], node)
    return lw.emit("copy", [v], name=v.name) if isinstance(v.type, ArrayType) else v


@_reg("reciprocal")
def _reciprocal(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    return lw.emit("div", [_c(lw, 1.0, dt), x], {"ieee": True}, name="reciprocal")


def _logical(prim: str):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 2, 2)
        a, b = (_truth(lw, val(lw, v, node)) for v in args)
        if prim == "xor":
            return lw.emit("ne", [a, b], name="xor")
        return lw.emit(prim, [a, b], name=prim)
    return h


def _truth(lw, v: Value) -> Value:
    if scalar_of(v.type) == BOOL:
        return v
    return lw.emit("ne", [v, lw.const(0, scalar_of(v.type))], name="nz")


_reg("logical_and")(_logical("and"))
_reg("logical_or")(_logical("or"))
_reg("logical_xor")(_logical("xor"))


@_reg("logical_not")
def _logical_not(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    return lw.emit("not", [_truth(lw, val(lw, args[0], node))], name="not")


# -- functions ------------------------------------------------------------------------------------
def logaddexp(lw, a: Value, b: Value, dt) -> Value:
    """log(exp(a) + exp(b)) as max(a, b) + log1p(exp(-|a - b|)), the max written
    (a + b) / 2 + |a - b| / 2 so that a tie splits the derivative 1/2, 1/2; infinite inputs
    take max(a, b) with the formula fed zeros."""
    inf = _e(lw, "or", _e(lw, "isinf", a), _e(lw, "isinf", b))
    zero = _c(lw, 0.0, dt)
    sa, sb = _e(lw, "select", inf, zero, a), _e(lw, "select", inf, zero, b)
    d = _e(lw, "abs", _e(lw, "sub", sa, sb))
    half = _c(lw, 0.5, dt)
    m = _e(lw, "add", _e(lw, "mul", half, _e(lw, "add", sa, sb)), _e(lw, "mul", half, d))
    r = _e(lw, "add", m, _e(lw, "log1p", _e(lw, "exp", _e(lw, "neg", d))))
    return lw.emit("select", [inf, _e(lw, "maximum", a, b), r], name="logaddexp")


@_reg("logaddexp")
def _logaddexp(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    (a, b), dt = _floats(lw, args, node)
    return logaddexp(lw, a, b, dt)


@_reg("logaddexp2")
def _logaddexp2(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    (a, b), dt = _floats(lw, args, node)
    ln2 = _c(lw, math.log(2.0), dt)
    r = logaddexp(lw, _e(lw, "mul", a, ln2), _e(lw, "mul", b, ln2), dt)
    return lw.emit("div", [r, ln2], name="logaddexp2")


@_reg("sinc")
def _sinc(lw, args, kw, node):
    """sin(pi x) / (pi x), 1 at 0 (the quotient is fed x = 1 there)."""
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    at0 = _e(lw, "eq", x, _c(lw, 0.0, dt))
    px = _e(lw, "mul", _c(lw, math.pi, dt), _e(lw, "select", at0, _c(lw, 1.0, dt), x))
    q = _e(lw, "div", _e(lw, "sin", px), px)
    return lw.emit("select", [at0, _c(lw, 1.0, dt), q], name="sinc")


@_reg("cbrt")
def _cbrt(lw, args, kw, node):
    """sign(x) |x|^(1/3) (a derivative of 0 at x = 0, where NumPy's is infinite)."""
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    r = _e(lw, "pow", _e(lw, "abs", x), _c(lw, 1.0 / 3.0, dt))
    return lw.emit("mul", [_e(lw, "sign", x), r], name="cbrt")


@_reg("exp2")
def _exp2(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    return lw.emit("pow", [_c(lw, 2.0, dt), x], name="exp2")


def rint(lw, x: Value, dt) -> Value:
    """Round half to even, from floor (derivative 0): floor(x) + 1 above the half,
    floor(x) below it, and at the half the even one of the two."""
    f = _e(lw, "floor", x)
    d = _e(lw, "sub", x, f)
    half = _c(lw, 0.5, dt)
    up = _e(lw, "add", f, _c(lw, 1.0, dt))
    even = _e(lw, "add", f, lw.emit("mod", [f, _c(lw, 2.0, dt)], {"ieee": True}, name="odd"))
    r = _e(lw, "select", _e(lw, "gt", d, half), up, _e(lw, "select", _e(lw, "lt", d, half), f,
                                                         even))
    return lw.emit("select", [_e(lw, "isfinite", x), r, x], name="round")


@_reg("rint")
def _rint(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    return rint(lw, x, dt)


def round_decimals(lw, x: Value, decimals: int, dt) -> Value:
    if decimals == 0:
        return rint(lw, x, dt)
    scale = _c(lw, 10.0 ** abs(decimals), dt)
    if decimals > 0:
        return lw.emit("div", [rint(lw, _e(lw, "mul", x, scale), dt), scale], name="round")
    return lw.emit("mul", [rint(lw, _e(lw, "div", x, scale), dt), scale], name="round")


@_reg("round", "around")
def _round(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("decimals",))
    x = val(lw, args[0], node)
    decimals = const_int(lw, arg(args, kw, 1, "decimals", lw.const(0, I64)), node,
                         "decimals")
    if not scalar_of(x.type).is_float:
        if decimals >= 0:
            return x
        raise lw.error(node, f"{fname(node)}() of integers with negative decimals is not "
                       "supported", "", UnsupportedSyntax)
    return round_decimals(lw, x, decimals, scalar_of(x.type))


def builtin_round(lw, args, kw, node):
    """Python's round(x): an int, half to even (round(x, n) of a float is refused)."""
    nargs(lw, args, kw, node, 1, 2, ("ndigits",))
    x = val(lw, args[0], node)
    if isinstance(x.type, ArrayType):
        raise lw.error(node, "round() of an array", "use np.round(x)", TypeInferenceError)
    nd = arg(args, kw, 1, "ndigits")
    if scalar_of(x.type) in (I64, BOOL):
        return lw.to_dtype(x, I64) if nd is None else x
    dt = scalar_of(x.type)
    if nd is None:
        r = rint(lw, x, dt)
        ok = _e(lw, "isfinite", x)
        lw.emit("check", [ok], {"message": "cannot convert float infinity or NaN to integer",
                                "kind": "overflow"}, types=[])
        out = lw.emit("cast", [r], {"to": "i64"}, name="round")
        lw.ctx.weak.add(out.id)
        return out
    raise lw.error(node, "round(x, ndigits) of a float is not supported (Python rounds the "
                   "exact decimal value: round(2.675, 2) == 2.67)",
                   "np.round(x, ndigits) rounds x * 10**ndigits, as NumPy does",
                   UnsupportedSyntax)


def isclose(lw, args, kw, node) -> Value:
    nargs(lw, args, kw, node, 2, 4, ("rtol", "atol", "equal_nan"))
    if "equal_nan" in kw:
        raise lw.error(node, f"{fname(node)}(): equal_nan= is not supported", "",
                       UnsupportedSyntax)
    (a, b), dt = _floats(lw, args[:2], node)
    rtol = lw.to_dtype(val(lw, arg(args, kw, 2, "rtol", lw.const(1e-5, F64)), node), dt)
    atol = lw.to_dtype(val(lw, arg(args, kw, 3, "atol", lw.const(1e-8, F64)), node), dt)
    tol = _e(lw, "add", atol, _e(lw, "mul", rtol, _e(lw, "abs", b)))
    close = _e(lw, "le", _e(lw, "abs", _e(lw, "sub", a, b)), tol)
    return lw.emit("or", [close, _e(lw, "eq", a, b)], name="isclose")   # inf == inf


@_reg("isclose")
def _isclose(lw, args, kw, node):
    return isclose(lw, args, kw, node)


@_reg("allclose")
def _allclose(lw, args, kw, node):
    c = isclose(lw, args, kw, node)
    if not isinstance(c.type, ArrayType):
        return c
    bad = lw.emit("sum", [lw.to_dtype(lw.emit("not", [c]), I64)], {"axis": None}, name="bad")
    return lw.emit("eq", [bad, lw.const(0, I64, weak=False)], name="allclose")


@_reg("deg2rad")
def _deg2rad(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    return lw.emit("mul", [x, _c(lw, math.pi / 180, dt)], name="rad")


@_reg("rad2deg")
def _rad2deg(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    (x,), dt = _floats(lw, args, node)
    return lw.emit("mul", [x, _c(lw, 180 / math.pi, dt)], name="deg")

