"""np.sort, np.argsort, np.searchsorted and np.interp of 1-d arrays, lowered by the frontend
to loops of element reads and writes (no new primitive).

Sorting places each element at its rank (the number of elements before it in the stable
order), O(n^2) compares: meant for the short arrays of numeric code. The derivative of
np.sort is therefore the permutation (out[rank[i]] = x[i]); argsort and searchsorted are
integer-valued. NaN is rejected at run time (NumPy sorts it last). interp is piecewise
linear in x and in fp (xp must be increasing, as NumPy requires)."""
from __future__ import annotations

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import BOOL, F32, F64, I64, ArrayType, scalar_of
from .fancy import loop


def _vector(lw, v, node, what: str, name: str) -> Value:
    if not isinstance(v, Value) or not isinstance(v.type, ArrayType) or v.type.ndim != 1:
        raise lw.error(node, f"{what}(): {name} must be a 1-d array", "sort rows in a loop "
                       "over a 2-d array's rows", TypeInferenceError)
    return v


def _no_kw(lw, kw, node, what: str, allowed=()) -> None:
    for k in kw:
        if k not in allowed:
            raise lw.error(node, f"{what}() does not support the keyword '{k}' in compiled "
                           "code", "", UnsupportedSyntax)


def _ranks(lw, x: Value, node, what: str):
    """(b, n, rank(b, i)): the stable rank of x[i] (elements smaller, or equal and before)."""
    b = Builder(lw.block, lw.loc)
    n = b("dim", x, axis=0, name="n")
    if x.type.dtype.is_float:
        def no_nan(lb, i, cur):
            e = lb("getitem", x, i, name="e", inbounds=True)
            return [lb("and", cur[0], lb("eq", e, e, name="num"), name="ok")]
        ok = loop(b, n, [b.const(True, BOOL)], no_nan)[0]
        b.check(ok, f"{what}() of an array holding NaN is not supported in compiled code "
                    "(NumPy sorts NaN last)", "value")
    one, zero = b.const(1, I64), b.const(0, I64)

    def rank(lb: Builder, i: Value) -> Value:
        xi = lb("getitem", x, i, name="xi", inbounds=True)

        def count(cb, j, cur):
            xj = cb("getitem", x, j, name="xj", inbounds=True)
            before = cb("or", cb("lt", xj, xi, name="lt"),
                        cb("and", cb("eq", xj, xi, name="eq"), cb("lt", j, i, name="jl"),
                           name="tie"), name="before")
            return [cb("add", cur[0], cb("select", before, one, zero, name="c"), name="r")]
        return loop(lb, n, [zero], count)[0]
    return b, n, rank


def lower_sort(lw, args, kw, node, arg: bool) -> Value:
    what = "np.argsort" if arg else "np.sort"
    _no_kw(lw, kw, node, what, ("kind",))
    if len(args) != 1:
        raise lw.error(node, f"{what}() takes one array in compiled code (the last axis of "
                       "a 1-d array)", "", TypeInferenceError)
    x = _vector(lw, args[0], node, what, "the array")
    b, n, rank = _ranks(lw, x, node, what)
    out = b("empty", n, dtype="i64" if arg else x.type.dtype.name, name="sorted")

    def place(lb, i, cur):
        v = i if arg else lb("getitem", x, i, name="xi", inbounds=True)
        return [lb("setitem", cur[0], v, rank(lb, i), name=out.name, inbounds=True)]
    return loop(b, n, [out], place)[0]


def _count_before(b: Builder, a: Value, v: Value, right: bool) -> Value:
    """searchsorted of one value: the number of a's elements < v (<= v with right)."""
    n = b("dim", a, axis=0, name="n")
    one, zero = b.const(1, I64), b.const(0, I64)

    def count(cb, j, cur):
        aj = cb("getitem", a, j, name="aj", inbounds=True)
        hit = cb("le" if right else "lt", aj, v, name="hit")
        return [cb("add", cur[0], cb("select", hit, one, zero, name="c"), name="pos")]
    return loop(b, n, [zero], count)[0]


def _elementwise(lw, x: Value, one) -> Value:
    """one(b, scalar) for a scalar x, or per element of a 1-d x into a new array."""
    b = Builder(lw.block, lw.loc)
    if not isinstance(x.type, ArrayType):
        return one(b, x)
    if x.type.ndim != 1:
        raise lw.error(None, "a 1-d array or a scalar is expected", "", TypeInferenceError)
    n = b("dim", x, axis=0, name="n")
    probe = one(Builder([], lw.loc), Value("p", x.type.dtype))
    out = b("empty", n, dtype=probe.type.name, name="out")

    def body(lb, i, cur):
        xi = lb("getitem", x, i, name="xi", inbounds=True)
        return [lb("setitem", cur[0], one(lb, xi), i, name=out.name, inbounds=True)]
    return loop(b, n, [out], body)[0]


def lower_searchsorted(lw, args, kw, node) -> Value:
    what = "np.searchsorted"
    _no_kw(lw, kw, node, what, ("side",))
    if len(args) not in (2, 3):
        raise lw.error(node, f"{what}() takes (a, v[, side])", "", TypeInferenceError)
    side = kw.get("side", args[2] if len(args) > 2 else "left")
    if side not in ("left", "right"):
        raise lw.error(node, f"{what}(): side must be 'left' or 'right'", "",
                       TypeInferenceError)
    a = _vector(lw, args[0], node, what, "a")
    v = args[1]
    if not isinstance(v, Value):
        raise lw.error(node, f"{what}(): v must be a number or a 1-d array", "",
                       TypeInferenceError)
    dt = lw.arith_dtype(a, v)
    a, v = lw.to_dtype(a, dt), lw.to_dtype(v, dt)
    return _elementwise(lw, v, lambda b, s: _count_before(b, a, s, side == "right"))


def lower_interp(lw, args, kw, node) -> Value:
    what = "np.interp"
    _no_kw(lw, kw, node, what)
    if len(args) != 3:
        raise lw.error(node, f"{what}() takes (x, xp, fp) in compiled code (no left=, "
                       "right=, period=)", "", TypeInferenceError)
    x, xp, fp = args
    xp = _vector(lw, xp, node, what, "xp")
    fp = _vector(lw, fp, node, what, "fp")
    if not isinstance(x, Value):
        raise lw.error(node, f"{what}(): x must be a number or a 1-d array", "",
                       TypeInferenceError)
    kinds = [scalar_of(v.type) for v in (x, xp, fp)]
    dt = F32 if all(k == F32 for k in kinds) else F64
    x, xp, fp = (lw.to_dtype(v, dt) for v in (x, xp, fp))
    b0 = Builder(lw.block, lw.loc)
    n = b0("dim", xp, axis=0, name="n")
    b0.check(b0("eq", n, b0("dim", fp, axis=0, name="m"), name="fits"),
             "fp and xp are not of the same length (np.interp)")
    b0.check(b0("gt", n, b0.const(0, I64), name="some"),
             "array of sample points is empty (np.interp)", "value")

    def one(b: Builder, s: Value) -> Value:
        j = _count_before(b, xp, s, True)
        nn = b("dim", xp, axis=0, name="n")
        c1 = b.const(1, I64)
        last = b("sub", nn, c1, name="last")
        hi = b("maximum", b("minimum", j, last, name="j"), c1, name="hi")
        hi = b("minimum", hi, last, name="hi")
        lo = b("maximum", b("sub", hi, c1, name="lo"), b.const(0, I64), name="lo")
        x0 = b("getitem", xp, lo, name="x0", inbounds=True)
        x1 = b("getitem", xp, hi, name="x1", inbounds=True)
        f0 = b("getitem", fp, lo, name="f0", inbounds=True)
        f1 = b("getitem", fp, hi, name="f1", inbounds=True)
        t = b("div", b("sub", s, x0, name="dx"), b("sub", x1, x0, name="w"), name="t",
              ieee=True)
        lin = b("add", f0, b("mul", t, b("sub", f1, f0, name="df"), name="step"), name="lin")
        first = b("getitem", fp, b.const(0, I64), name="first", inbounds=True)
        final = b("getitem", fp, last, name="final", inbounds=True)
        out = b("select", b("eq", j, nn, name="after"), final, lin, name="interp")
        return b("select", b("eq", j, b.const(0, I64), name="before"), first, out,
                 name="interp")
    return _elementwise(lw, x, one)
