"""NumPy reductions and scans: `axis` (an int, negative, or a tuple) and `keepdims` on every
reduction, statistics (`var`, `std` with `ddof`), `argmax`/`argmin`, `any`/`all`,
`cumsum`/`cumprod` and `diff`.

Everything here is written with primitives the IR already has (the one-axis reductions,
`expand`, `full`, `select`, slices and a `for` loop for the scans), so derivative rules,
array lowering and both backends apply unchanged; an integer-valued result (argmax, any) is
built from comparisons and has no derivative by construction. Invariant: a handler returns
exactly NumPy's result type and shape (keepdims keeps size-1 axes, a full reduction without
keepdims is a scalar).
"""
from __future__ import annotations

from typing import Any

from ..errors import TypeInferenceError
from ..ir.builder import Builder
from ..ir.core import Block, Value
from ..ir.types import BOOL, I64, ArrayType, scalar_of
from .callargs import registrar, arg, array, axes_of, axis_of, const_bool, const_int, float_of, fname, \
    nargs, val

CALLS: dict[str, Any] = {}      # numpy attribute name -> handler
METHODS: dict[str, Any] = {}    # array method name -> handler (called with the array first)


_reg = registrar(CALLS, METHODS, method=True)


# -- building blocks -----------------------------------------------------------------------
def keep_dims(lw, r: Value, x: Value, axes: tuple[int, ...] | None) -> Value:
    """Put back the reduced axes of `x` as size-1 axes (keepdims=True)."""
    nd = x.type.ndim
    if axes is None or len(axes) == nd:
        if isinstance(r.type, ArrayType):
            r = lw.emit("sum", [r], {"axis": None}, name=r.name)   # all axes were 1-d
        ones = [lw.const(1, I64) for _ in range(nd)]
        return lw.emit("full", ones + [r], {"dtype": scalar_of(r.type).name}, name=r.name)
    for a in axes:
        r = lw.emit("expand", [r], {"axis": a}, name=r.name)
    return r


def reduce_axes(lw, prim: str, x: Value, axes: tuple[int, ...] | None, keepdims: bool,
                name: str | None = None) -> Value:
    """`prim` (sum, prod, max, min, mean) over `axes` (None: all), one axis at a time from
    the last, NumPy's result shape."""
    nd = x.type.ndim
    if axes is None or len(axes) == nd > 1:
        r = lw.emit(prim, [x], {"axis": None}, name=name or prim)
    else:
        r = x
        for a in reversed(axes):
            r = lw.emit(prim, [r], {"axis": a}, name=name or prim)
    return keep_dims(lw, r, x, axes) if keepdims else r


def count(lw, x: Value, axes: tuple[int, ...] | None, like: Value) -> Value:
    """The number of elements reduced over `axes`, as a scalar of `like`'s float dtype."""
    if axes is None:
        n = lw.emit("size", [x], name="n")
    else:
        n = lw.const(1, I64)
        for a in axes:
            n = lw.emit("mul", [n, lw.emit("dim", [x], {"axis": a}, name="n")], name="n")
    return lw.emit("cast", [n], {"to": scalar_of(like.type).name}, name="n")


def _reduction_args(lw, args, kw, node, extra=()):
    nargs(lw, args, kw, node, 1, 2, ("axis", "keepdims") + tuple(extra))
    x = val(lw, args[0], node)
    if not isinstance(x.type, ArrayType):
        return x, None, False
    axes = axes_of(lw, arg(args, kw, 1, "axis"), x.type.ndim, node)
    return x, axes, const_bool(lw, kw.get("keepdims"), node, "keepdims")


def reduction(prim: str):
    def h(lw, args, kw, node):
        x, axes, keep = _reduction_args(lw, args, kw, node)
        if not isinstance(x.type, ArrayType):
            return x if prim != "mean" else lw.to_dtype(x, float_of(x))
        if scalar_of(x.type) == BOOL:
            x = lw.to_dtype(x, I64)
        if prim == "mean":
            x = lw.to_dtype(x, float_of(x))
        return reduce_axes(lw, prim, x, axes, keep)
    return h


for _p in ("sum", "prod", "max", "min", "mean"):
    METHODS[_p] = reduction(_p)
CALLS.update(sum=METHODS["sum"], prod=METHODS["prod"], max=METHODS["max"],
             amax=METHODS["max"], min=METHODS["min"], amin=METHODS["min"],
             mean=METHODS["mean"])


def _variance(lw, args, kw, node, root: bool):
    ddof_v = kw.pop("ddof", None) if "ddof" in kw else None
    x, axes, keep = _reduction_args(lw, args, kw, node)
    ddof = 0 if ddof_v is None else const_int(lw, ddof_v, node, "ddof")
    x = lw.to_dtype(x, float_of(x))
    if not isinstance(x.type, ArrayType):
        raise lw.error(node, f"{fname(node)}() of a scalar", "it is 0 (or NaN with ddof)",
                       TypeInferenceError)
    m = reduce_axes(lw, "mean", x, axes, True, name="mean")
    d = lw.emit("sub", [x, m], name="dev")
    s = reduce_axes(lw, "sum", lw.emit("mul", [d, d], name="sq"), axes, keep, name="ss")
    n = count(lw, x, axes, x)
    if ddof:
        n = lw.emit("sub", [n, lw.const(ddof, scalar_of(x.type), weak=False)], name="n")
    out = lw.emit("div", [s, n], {"ieee": True}, name="var")
    return lw.emit("sqrt", [out], name="std") if root else out


@_reg("var")
def _var(lw, args, kw, node):
    return _variance(lw, args, dict(kw), node, False)


@_reg("std")
def _std(lw, args, kw, node):
    return _variance(lw, args, dict(kw), node, True)


def iota(lw, x: Value, axis: int | None) -> Value:
    """Indices of `x`'s elements broadcastable to x: along `axis` (size 1 elsewhere), or the
    C-order flat index of every element (axis None)."""
    nd = x.type.ndim
    axes = [axis] if axis is not None else list(range(nd))
    out = None
    for a in axes:
        r = lw.emit("arange", [lw.const(0, I64), lw.emit("dim", [x], {"axis": a}, name="n"),
                               lw.const(1, I64)], {"dtype": "i64"}, name="idx")
        for k in range(nd):
            if k != a:
                r = lw.emit("expand", [r], {"axis": k}, name="idx")
        if out is None:
            out = r
        else:   # flat index: out * n_a + r
            n = lw.emit("dim", [x], {"axis": a}, name="n")
            out = lw.emit("add", [lw.emit("mul", [out, n], name="idx"), r], name="idx")
    return out


def _arg_extremum(prim: str):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 1, 2, ("axis", "keepdims"))
        x = array(lw, args[0], node)
        ax = arg(args, kw, 1, "axis")
        axis = None if ax is None else axis_of(lw, ax, x.type.ndim, node)
        keep = const_bool(lw, kw.get("keepdims"), node, "keepdims")
        if scalar_of(x.type) == BOOL:
            x = lw.to_dtype(x, I64)
        axes = None if axis is None else (axis,)
        m = reduce_axes(lw, prim, x, axes, True, name=prim)
        at = lw.emit("eq", [x, m], name="at")
        if scalar_of(x.type).is_float:   # NumPy: the first NaN (max/min propagate it)
            at = lw.emit("or", [at, lw.emit("isnan", [x], name="nan")], name="at")
        big = lw.emit("size", [x], name="n") if axis is None else \
            lw.emit("dim", [x], {"axis": axis}, name="n")
        cand = lw.emit("select", [at, iota(lw, x, axis), big], name="cand")
        return reduce_axes(lw, "min", cand, axes, keep, name="arg" + prim)
    return h


_reg("argmax")(_arg_extremum("max"))
_reg("argmin")(_arg_extremum("min"))


def _truth(want_any: bool):
    def h(lw, args, kw, node):
        x, axes, keep = _reduction_args(lw, args, kw, node)
        dt = scalar_of(x.type)
        zero = lw.const(False if dt == BOOL else 0, dt, weak=False)
        flag = lw.emit("ne" if want_any else "eq", [x, zero], name="nz")
        if not isinstance(x.type, ArrayType):
            return flag if want_any else lw.emit("not", [flag], name="all")
        hits = reduce_axes(lw, "sum", lw.to_dtype(flag, I64), axes, keep, name="hits")
        return lw.emit("gt" if want_any else "eq", [hits, lw.const(0, I64, weak=False)],
                       name="any" if want_any else "all")
    return h


_reg("any")(_truth(True))
_reg("all")(_truth(False))


# -- scans and differences ------------------------------------------------------------------
def _slice_spec(axis: int, tail: str) -> str:
    return ",".join(["s000"] * axis + [tail])


def take(lw, x: Value, axis: int, i: Value) -> Value:
    """x[..., i, ...] with the index on `axis`."""
    if axis == 0:
        return lw.emit("getitem", [x, i], name=x.name + "_i")
    return lw.emit("getslice", [x, i], {"spec": _slice_spec(axis, "i")}, name=x.name + "_i")


def put(lw, x: Value, v: Value, axis: int, i: Value) -> Value:
    if axis == 0:
        return lw.emit("setitem", [x, v, i], name=x.name)
    return lw.emit("setslice", [x, v, i], {"spec": _slice_spec(axis, "i")}, name=x.name)


def scan(lw, prim: str, x: Value, axis: int, name: str) -> Value:
    """Running `prim` (add or mul) along `axis`: a loop over that axis carrying the running
    value (a scalar for 1-d arrays, a slice otherwise) and the result array."""
    dt = scalar_of(x.type)
    nd = x.type.ndim
    dims = [lw.emit("dim", [x], {"axis": k}, name="n") for k in range(nd)]
    out0 = lw.emit("empty", dims, {"dtype": dt.name}, name=name)
    unit = 0 if prim == "add" else 1
    if nd == 1:
        acc0 = lw.const(unit, dt, weak=False)
    else:
        acc0 = lw.emit("full", [d for k, d in enumerate(dims) if k != axis] +
                       [lw.const(unit, dt, weak=False)], {"dtype": dt.name}, name="acc")
    body = Block([Value("i", I64), Value("acc", acc0.type), Value(name, out0.type)])
    saved = lw.block
    lw.block = body
    try:
        i, acc, out = body.args
        acc = lw.emit(prim, [acc, take(lw, x, axis, i)], name="acc")
        out = put(lw, out, acc, axis, i)
        Builder(body, lw.loc).op("yield", [acc, out], [])
    finally:
        lw.block = saved
    op = Builder(lw.block, lw.loc).op("for", [lw.const(0, I64), dims[axis], lw.const(1, I64),
                                              acc0, out0], [acc0.type, out0.type], {}, [body],
                                      ["acc", name])
    return op.results[1]


def _scan(prim: str, name: str):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 1, 2, ("axis",))
        x = val(lw, args[0], node)
        if not isinstance(x.type, ArrayType):
            x = lw.emit("full", [lw.const(1, I64), x], {"dtype": scalar_of(x.type).name})
        ax = arg(args, kw, 1, "axis")
        if ax is None:
            if x.type.ndim != 1:
                x = lw.call_named("ravel", [x], node)
            axis = 0
        else:
            axis = axis_of(lw, ax, x.type.ndim, node)
        if scalar_of(x.type) == BOOL:
            x = lw.to_dtype(x, I64)
        return scan(lw, prim, x, axis, name)
    return h


_reg("cumsum")(_scan("add", "cumsum"))
_reg("cumprod")(_scan("mul", "cumprod"))


def shifted(lw, x: Value, axis: int, lo: bool) -> Value:
    """x[1:] (lo False) or x[:-1] (lo True) along `axis`."""
    spec = _slice_spec(axis, "s010" if lo else "s100")
    return lw.emit("getslice", [x, lw.const(-1 if lo else 1, I64)], {"spec": spec},
                   name=x.name)


@_reg("diff", method=False)
def _diff(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 3, ("n", "axis"))
    x = array(lw, args[0], node)
    n = const_int(lw, arg(args, kw, 1, "n", lw.const(1, I64)), node, "n")
    if n < 0:
        raise lw.error(node, f"{fname(node)}(): n must be non-negative, got {n}", "",
                       TypeInferenceError)
    axis = axis_of(lw, arg(args, kw, 2, "axis", lw.const(-1, I64)), x.type.ndim, node)
    for _ in range(n):
        hi, lo = shifted(lw, x, axis, False), shifted(lw, x, axis, True)
        x = lw.emit("ne" if scalar_of(x.type) == BOOL else "sub", [hi, lo], name="diff")
    return x
